//! Fuzz the pattern parser: never panic, and every accepted pattern's canonical form must
//! parse back to the same AST (and be stable when printed again). Accepted patterns are
//! also compiled and evaluated on a small fixed observation set under a small budget.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(ast) = pattern::parse(text) else { return };
    let printed = ast.to_string();
    let again = pattern::parse(&printed).expect("canonical form must parse");
    assert_eq!(again, ast, "round trip changed the AST: {printed}");
    assert_eq!(again.to_string(), printed);
    let observed = serde_json::json!([{"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "observed-data", "id": "observed-data--1", "first_observed": "2020-01-01T00:00:00Z",
         "last_observed": "2020-01-01T00:00:01Z", "number_observed": 2, "object_refs": ["file--1", "ipv4-addr--1"]},
        {"type": "file", "id": "file--1", "name": "a.exe", "size": 5, "hashes": {"MD5": "79054025255fb1a26e4bc422aef54eb4"}},
        {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "10.0.0.1"}
    ]}]);
    let observed = observed.as_array().expect("array").clone();
    let opts = pattern::EvalOptions { max_work: 20_000, ..pattern::EvalOptions::default() };
    if let Ok(c) = pattern::CompiledPattern::new(&ast, opts) {
        if let Ok(data) = pattern::Observations::new(&observed) {
            let _ = c.matches(&data);
        }
    }
});
