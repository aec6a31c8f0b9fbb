//! Parser accept/reject agreement with the OASIS `stix2-patterns` validator
//! (`run_validator(pattern, stix_version='2.1')`).

mod common;

use std::io::BufRead;

#[test]
fn shipped_test_suites_and_spec_examples_agree() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/parser_cases.jsonl");
    let file = std::fs::File::open(path).expect("parser_cases.jsonl");
    let mut n = 0;
    let mut disagreements = Vec::new();
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line.expect("read");
        if line.is_empty() {
            continue;
        }
        let case: serde_json::Value = serde_json::from_slice(&line).expect("json");
        let pattern = case["pattern"].as_str().expect("pattern");
        let expected = case["valid"].as_bool().expect("valid");
        let got = pattern::parse(pattern);
        n += 1;
        if got.is_ok() != expected {
            disagreements.push(format!(
                "{}: {pattern:?} reference valid={expected}, nadhir={:?}",
                case["source"],
                got.err().map(|e| e.to_string())
            ));
        }
    }
    assert!(n > 400, "only {n} cases");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn generated_corpus_agrees_with_stix2patterns() {
    let Some(py) = common::python() else { return };
    let mut r = common::Rng::new(0x5717);
    let mut patterns = Vec::new();
    while patterns.len() < 2000 {
        let p = common::gen_pattern(&mut r);
        if r.chance(50) {
            let mut m = common::mutate(&mut r, &p);
            if r.chance(30) {
                m = common::mutate(&mut r, &m);
            }
            patterns.push(m);
        } else {
            patterns.push(p);
        }
    }
    let input: Vec<serde_json::Value> = patterns
        .iter()
        .map(|p| serde_json::json!({ "pattern": p }))
        .collect();
    let verdicts = common::run_oracle(&py, "validate.py", &input);
    assert_eq!(verdicts.len(), patterns.len());
    let mut valid = 0;
    let mut disagreements = Vec::new();
    for (p, v) in patterns.iter().zip(&verdicts) {
        let expected = v["valid"].as_bool().expect("verdict");
        valid += usize::from(expected);
        let got = pattern::parse(p);
        if got.is_ok() != expected {
            disagreements.push(format!(
                "{p:?} reference valid={expected}, nadhir={:?}",
                got.err().map(|e| e.to_string())
            ));
        }
    }
    eprintln!(
        "generated corpus: {} patterns, {valid} valid per the reference",
        patterns.len()
    );
    assert!(
        valid > 400 && valid < 1800,
        "corpus not mixed enough: {valid} valid"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
