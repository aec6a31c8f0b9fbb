//! A bounded random-input loop equivalent to the cargo-fuzz target (fuzz/): arbitrary
//! strings and mutated valid patterns must never panic, and accepted ones round-trip.

mod common;

use proptest::prelude::*;

fn check(text: &str) {
    if let Ok(ast) = pattern::parse(text) {
        let printed = ast.to_string();
        let again = pattern::parse(&printed).expect("canonical form parses");
        assert_eq!(again, ast, "{printed}");
        let opts = pattern::EvalOptions {
            max_work: 20_000,
            ..pattern::EvalOptions::default()
        };
        let _ = pattern::CompiledPattern::new(&ast, opts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check(&s);
    }

    #[test]
    fn grammar_shaped_noise_never_panics(s in "[\\[\\]()':.,=<>!*a-z0-9_ -]{0,80}") {
        check(&s);
    }
}

#[test]
fn mutated_patterns_never_panic() {
    let mut r = common::Rng::new(0xF022);
    for _ in 0..20_000 {
        let mut p = common::gen_pattern(&mut r);
        for _ in 0..r.below(4) {
            p = common::mutate(&mut r, &p);
        }
        check(&p);
    }
}
