//! Hostile patterns: every bound gives a clear error, quickly, never a hang or a crash.

use pattern::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn bundle(n: usize) -> serde_json::Value {
    let mut objects = Vec::new();
    for i in 0..n {
        let sco = format!("x-t--00000000-0000-4000-8000-{i:012}");
        objects.push(json!({"type": "observed-data", "id": format!("observed-data--00000000-0000-4000-8000-{i:012}"),
            "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z",
            "number_observed": 1, "object_refs": [sco]}));
        objects.push(json!({"type": "x-t", "id": sco, "v": 1}));
    }
    json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects})
}

#[test]
fn combinatorial_search_hits_the_budget() {
    let data = [bundle(60)];
    let obs = Observations::new(&data).unwrap();
    // Six disjoint observations out of 60, but the last operand never matches: the
    // reference would enumerate ~60^5 partial bindings.
    let p = parse("[x-t:v = 1] AND [x-t:v = 1] AND [x-t:v = 1] AND [x-t:v = 1] AND [x-t:v = 1] AND ([x-t:v = 1] FOLLOWEDBY [x-t:v = 1]) WITHIN 1 SECONDS REPEATS 3 TIMES").unwrap();
    let c = CompiledPattern::new(
        &p,
        EvalOptions {
            max_work: 200_000,
            ..EvalOptions::default()
        },
    )
    .unwrap();
    let t = Instant::now();
    let r = c.matches(&obs);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    match r {
        Err(e) => assert_eq!(e.code(), "eval.budget", "{e}"),
        Ok(m) => assert!(m.matched, "a result within budget must be a real match"),
    }
    let p = parse("[x-t:v = 1] REPEATS 61 TIMES").unwrap();
    let c = CompiledPattern::new(
        &p,
        EvalOptions {
            max_work: 100_000,
            ..EvalOptions::default()
        },
    )
    .unwrap();
    let r = c.matches(&obs);
    assert!(
        matches!(r, Ok(MatchResult { matched: false, .. }))
            || matches!(r, Err(EvalError::Budget(_))),
        "{r:?}"
    );
}

#[test]
fn regex_size_is_bounded() {
    let p = parse(r"[x-t:v MATCHES '(a{1000}){1000}']").unwrap();
    let e = CompiledPattern::new(&p, EvalOptions::default()).unwrap_err();
    assert_eq!(e.code(), "eval.regex");
}

#[test]
fn unsupported_regex_constructs_are_errors_not_panics() {
    for re in [r"(?<=a)b", r"(a)\\1", "(?=a)", "(?P<n>a)(?P=n)"] {
        let p = parse(&format!("[x-t:v MATCHES '{re}']")).unwrap();
        let e = CompiledPattern::new(&p, EvalOptions::default()).unwrap_err();
        assert_eq!(e.code(), "eval.regex", "{re}");
    }
}

#[test]
fn size_depth_and_count_limits() {
    let long = format!("[x-t:v = '{}']", "a".repeat(70_000));
    assert_eq!(parse(&long).unwrap_err().code(), "pattern.limit.length");
    let deep = format!("{}[x-t:v = 1]{}", "(".repeat(65), ")".repeat(65));
    assert_eq!(parse(&deep).unwrap_err().code(), "pattern.limit.depth");
    let ok = format!("{}[x-t:v = 1]{}", "(".repeat(60), ")".repeat(60));
    assert!(parse(&ok).is_ok());
    let many = vec!["x-t:v = 1"; 5000].join(" OR ");
    assert_eq!(
        parse(&format!("[{many}]")).unwrap_err().code(),
        "pattern.limit.comparisons"
    );
    assert_eq!(
        parse("[x-t:v = 1] REPEATS 1001 TIMES").unwrap_err().code(),
        "pattern.limit.repeats"
    );
}

#[test]
fn invalid_patterns_never_match() {
    let data = [bundle(2)];
    for p in [
        "[x-t:v = 1",
        "x-t:v = 1",
        "[x-t:v = 1] WITHIN 0 SECONDS",
        "[x-t:v = t'2020-02-30T00:00:00Z']",
    ] {
        let r = match_pattern(p, &data, EvalOptions::default());
        assert!(r.is_err(), "{p}: {r:?}");
    }
    assert!(
        match_pattern("[x-t:v = 1]", &data, EvalOptions::default())
            .unwrap()
            .matched
    );
}
