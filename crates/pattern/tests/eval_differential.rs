//! Generated differential test: the same patterns over the same observed data, judged by
//! Nadhir and by the OASIS `stix2-matcher` (tests/oracle/match.py).

mod common;

use pattern::{parse, CompiledPattern, EvalOptions, Observations};

fn outcome(pattern: &str, observed: &[serde_json::Value]) -> (String, Vec<String>) {
    let Ok(p) = parse(pattern) else {
        return ("parse_error".into(), vec![]);
    };
    let res = CompiledPattern::new(&p, EvalOptions::default())
        .and_then(|c| c.matches(&Observations::new(observed)?));
    match res {
        Ok(r) if r.matched => ("match".into(), r.observed_data_refs),
        Ok(_) => ("nomatch".into(), vec![]),
        Err(_) => ("error".into(), vec![]),
    }
}

#[test]
fn generated_patterns_and_observations_agree_with_stix2_matcher() {
    let Some(py) = common::python() else { return };
    let mut r = common::Rng::new(0xD1FF);
    let mut cases = Vec::new();
    let mut serial = 0;
    for _ in 0..1500 {
        let n = 1 + r.below(5);
        let observed: Vec<serde_json::Value> = (0..n)
            .map(|_| {
                serial += 1;
                common::evalgen::gen_bundle(&mut r, serial)
            })
            .collect();
        let pattern = common::evalgen::gen_eval_pattern(&mut r, 2);
        cases.push(serde_json::json!({ "pattern": pattern, "observed": observed }));
    }
    let verdicts = common::run_oracle(&py, "match.py", &cases);
    assert_eq!(verdicts.len(), cases.len());
    let mut counts = std::collections::BTreeMap::new();
    let mut bad = Vec::new();
    for (case, v) in cases.iter().zip(&verdicts) {
        let pattern = case["pattern"].as_str().expect("pattern");
        let observed = case["observed"].as_array().expect("observed");
        let want = v["outcome"].as_str().expect("outcome");
        *counts.entry(want.to_string()).or_insert(0) += 1;
        let want_refs: Vec<String> = v["observed_data_refs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let (got, refs) = outcome(pattern, observed);
        if got != want || refs != want_refs {
            bad.push(format!(
                "{pattern:?} on {}: reference {want} {want_refs:?} ({}), nadhir {got} {refs:?}",
                serde_json::to_string(observed)
                    .unwrap_or_default()
                    .chars()
                    .take(3000)
                    .collect::<String>(),
                v["error"]
            ));
        }
    }
    eprintln!("reference verdicts: {counts:?}");
    assert!(
        counts.get("match").copied().unwrap_or(0) > 200,
        "too few matches: {counts:?}"
    );
    assert!(
        counts.get("nomatch").copied().unwrap_or(0) > 200,
        "too few non-matches: {counts:?}"
    );
    assert!(
        bad.is_empty(),
        "{} of {} disagree:\n{}",
        bad.len(),
        cases.len(),
        bad.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Observations cache selections across patterns; results must equal a fresh evaluation.
#[test]
fn shared_observations_give_the_same_results_as_fresh_ones() {
    let mut r = common::Rng::new(0xCAC4E);
    let observed: Vec<serde_json::Value> = (0..200)
        .map(|n| common::evalgen::gen_bundle(&mut r, n + 1))
        .collect();
    let shared = Observations::new(&observed).expect("observations");
    for _ in 0..400 {
        let p = common::evalgen::gen_eval_pattern(&mut r, 2);
        let Ok(ast) = parse(&p) else { continue };
        let Ok(c) = CompiledPattern::new(&ast, EvalOptions::default()) else {
            continue;
        };
        let fresh = Observations::new(&observed).expect("observations");
        assert_eq!(c.matches(&shared), c.matches(&fresh), "{p}");
    }
}
