//! End-to-end tests of `nadhir import / export / validate / stats` on the embedded store.
// Test helpers outside #[test] functions: a panic is the failure report we want, and the
// files read are the test's own small outputs.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{:08x}-1111-4111-8111-111111111111", n),
        "created": "2026-01-01T00:00:00.000Z", "modified": modified,
        "name": format!("ioc {n}"), "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", n % 250),
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z",
        "x_custom": {"keep": ["me", n]},
    })
}

fn export_objects(data: &Path, extra: &[&str]) -> Vec<Value> {
    let out_file = data.join("export.json");
    let mut args = vec!["export", "-o", out_file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = nadhir(data, &args);
    assert!(o.status.success(), "export failed: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(v["type"], "bundle");
    v["objects"].as_array().cloned().unwrap_or_default()
}

fn by_version(objs: &[Value]) -> BTreeMap<(String, String), Value> {
    objs.iter()
        .map(|o| {
            let id = o["id"].as_str().unwrap().to_owned();
            let v = o
                .get("modified")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            ((id, v), o.clone())
        })
        .collect()
}

#[test]
fn round_trip_keeps_every_object_and_custom_property() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut objs: Vec<Value> = (0..300)
        .map(|n| indicator(n, "2026-01-01T00:00:00.000Z"))
        .collect();
    objs.push(indicator(1, "2026-02-01T00:00:00.000Z")); // a second version
    objs.push(json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3", "x_note": "custom on an SCO"}));
    objs.push(json!({"type": "x-acme-thing", "spec_version": "2.1", "id": "x-acme-thing--6f1d0b6b-5b7e-4c3a-9d8b-0e2b8f6a1c2d", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "extensions": {"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {"extension_type": "new-sdo", "rank": 1.50}}}));
    let jsonl: String = objs.iter().map(|o| format!("{o}\n")).collect();
    let f = write(dir.path(), "in.jsonl", &jsonl);
    let o = nadhir(&data, &["import", f.to_str().unwrap()]);
    assert!(o.status.success(), "import failed: {}", stderr(&o));

    let exported = export_objects(&data, &["--all-versions"]);
    assert_eq!(by_version(&exported), by_version(&objs));
    // Property order is kept too: the exported text of an object equals its input text.
    let text = std::fs::read_to_string(data.join("export.json")).unwrap();
    assert!(
        text.contains(&objs[7].to_string()),
        "property order changed"
    );
    // Without --all-versions only the newest version of each object is exported.
    let latest = export_objects(&data, &[]);
    assert_eq!(latest.len(), objs.len() - 1);

    // Importing the same file again is a no-op.
    let o = nadhir(&data, &["import", f.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("0 stored, 303 already present"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sample_loads_and_every_exported_object_passes_stix2_validator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = nadhir(&data, &["import", "--sample"]);
    assert!(o.status.success(), "sample import failed: {}", stderr(&o));
    let o = nadhir(&data, &["stats", "--json"]);
    assert!(o.status.success());
    let stats: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(stats["total_versions"], 680 + 47);
    assert_eq!(stats["distinct_objects"], 680 + 45);
    let exported = export_objects(&data, &["--all-versions"]);
    // The export goes through the policy as the node's organisation: the sample's
    // TLP:RED advisory (two versions) names no individual, so it stays out.
    assert_eq!(exported.len(), 727 - 2);
    let red = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
    assert!(exported
        .iter()
        .all(|o| !o.to_string().contains(red) || o["type"] == "marking-definition"));
    let Some(py) = oracle_python() else { return };
    let bad = oracle_invalid_objects(&py, &data.join("export.json"));
    assert!(
        bad.is_empty(),
        "stix2-validator rejects exported objects: {bad:#?}"
    );
}

#[test]
fn generated_corpus_exports_pass_stix2_validator() {
    let Some(py) = oracle_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let corpus = dir.path().join("corpus.json");
    let gen = workspace_root().join("crates/nadhir/tests/oracle/generate_corpus.py");
    let o = std::process::Command::new(&py)
        .arg(gen)
        .arg(&corpus)
        .arg("8")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // What the oracle calls valid must be accepted; what it rejects must be rejected.
    let oracle_bad = oracle_invalid_objects(&py, &corpus);
    let o = nadhir(&data, &["import", corpus.to_str().unwrap()]);
    let err = stderr(&o);
    let input: Value = serde_json::from_slice(&std::fs::read(&corpus).unwrap()).unwrap();
    let total = input["objects"].as_array().unwrap().len();
    let exported = export_objects(&data, &["--all-versions"]);
    let exported_ids: std::collections::BTreeSet<&str> =
        exported.iter().filter_map(|o| o["id"].as_str()).collect();
    let mut disagreements = Vec::new();
    for obj in input["objects"].as_array().unwrap() {
        let id = obj["id"].as_str().unwrap();
        let oracle = oracle_bad.iter().find(|(b, _)| b == id);
        if let Some((_, errors)) = oracle {
            if exported_ids.contains(id) && errors.iter().all(|e| validator_over_strict(obj, e)) {
                continue;
            }
        }
        if exported_ids.contains(id) == oracle.is_some() {
            let ours: Vec<&str> = err.lines().filter(|l| l.contains(id)).collect();
            disagreements.push(format!(
                "{id}\n  stix2-validator: {}\n  nadhir: {}",
                oracle.map_or("valid".to_owned(), |(_, e)| e.join("; ")),
                if ours.is_empty() {
                    "valid".to_owned()
                } else {
                    ours.join("; ")
                }
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} verdicts differ:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(
        exported.len() > total / 2,
        "too few generated objects are valid to be a useful test"
    );
    // Every exported object passes stix2-validator, but for the named cases where the
    // validator is stricter than the specification.
    let bad: Vec<_> = oracle_invalid_objects(&py, &data.join("export.json"))
        .into_iter()
        .filter(|(id, errors)| {
            let obj = exported.iter().find(|o| o["id"] == id.as_str()).unwrap();
            !errors.iter().all(|e| validator_over_strict(obj, e))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "stix2-validator rejects exported objects: {bad:#?}"
    );
}

/// The cases where stix2-validator is stricter than the STIX 2.1 specification, named and
/// explained in `crates/stix/README.md` ("The validator is stricter than the spec").
fn validator_over_strict(obj: &Value, oracle_error: &str) -> bool {
    // artifact-mime-type-not-iana-registered: the spec says SHOULD, the validator errors.
    let mime = oracle_error.contains("must be an IANA registered MIME Type");
    // schema-at-least-one-uses-2.0-names: its process / windows-registry-key schemas ask
    // for `created`/`modified` where 2.1 names them `created_time`/`modified_time`.
    let schema_names = matches!(
        obj["type"].as_str(),
        Some("process" | "windows-registry-key")
    ) && oracle_error.contains("is not valid under any of the given schemas")
        && (obj.get("created_time").is_some() || obj.get("modified_time").is_some());
    mime || schema_names
}

#[test]
fn bad_input_is_reported_precisely_and_nothing_accepted_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Wrong type, missing required property, bad timestamp, beside valid objects.
    let mut wrong_type = indicator(1, "2026-01-01T00:00:00.000Z");
    wrong_type["confidence"] = json!("high");
    let mut missing = indicator(2, "2026-01-01T00:00:00.000Z");
    missing.as_object_mut().unwrap().remove("pattern");
    let mut bad_ts = indicator(3, "2026-01-01T00:00:00.000Z");
    bad_ts["valid_from"] = json!("yesterday");
    let good = indicator(4, "2026-01-01T00:00:00.000Z");
    let mut bad_pattern = indicator(7, "2026-01-01T00:00:00.000Z");
    bad_pattern["pattern"] = json!("[ipv4-addr:value = '198.51.100.7'");
    let bundle = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [good, wrong_type, missing, bad_ts, bad_pattern]});
    let f = write(
        dir.path(),
        "mixed.json",
        &serde_json::to_string_pretty(&bundle).unwrap(),
    );
    let o = nadhir(&data, &["import", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for needle in [
        "mixed.json: object #1: indicator--00000001-1111-4111-8111-111111111111: /confidence:",
        "mixed.json: object #2: indicator--00000002-1111-4111-8111-111111111111: /pattern:",
        "mixed.json: object #3: indicator--00000003-1111-4111-8111-111111111111: /valid_from:",
        "mixed.json: object #4: indicator--00000007-1111-4111-8111-111111111111: /pattern: the STIX pattern is invalid",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert_eq!(
        export_objects(&data, &[]).len(),
        1,
        "the valid object is stored"
    );

    // Same version, different content: a conflict naming the object; the original stays.
    let mut changed = indicator(4, "2026-01-01T00:00:00.000Z");
    changed["name"] = json!("tampered");
    let f = write(dir.path(), "conflict.jsonl", &format!("{changed}\n"));
    let o = nadhir(&data, &["import", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("conflict.jsonl: line 1, object #0 (indicator--00000004-1111-4111-8111-111111111111): version 2026-01-01T00:00:00.000Z is already stored with different content [version-conflict]"), "{}", stderr(&o));
    assert_eq!(export_objects(&data, &[])[0]["name"], "ioc 4");

    // Truncated JSON: what came before the break is kept, the file is reported unreadable.
    let text = format!(
        "[{},\n{}",
        indicator(5, "2026-01-01T00:00:00.000Z"),
        &indicator(6, "2026-01-01T00:00:00.000Z").to_string()[..40]
    );
    let f = write(dir.path(), "truncated.json", &text);
    let o = nadhir(&data, &["import", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "truncated.json: not JSON: the input ends early (truncated JSON) after object #0"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(export_objects(&data, &[]).len(), 2);
}

#[test]
fn strict_import_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut objs: Vec<Value> = (0..2500)
        .map(|n| indicator(n, "2026-01-01T00:00:00.000Z"))
        .collect();
    objs[2400]["created"] = json!("2026-13-01T00:00:00.000Z");
    let jsonl: String = objs.iter().map(|o| format!("{o}\n")).collect();
    let f = write(dir.path(), "batchy.jsonl", &jsonl);
    let o = nadhir(
        &data,
        &[
            "import",
            "--strict",
            "--batch-size",
            "500",
            f.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing was stored"), "{}", stderr(&o));
    assert!(
        export_objects(&data, &[]).is_empty(),
        "--strict half-wrote the store"
    );
    // Without --strict the 2499 valid ones are stored.
    let o = nadhir(
        &data,
        &["import", "--batch-size", "500", f.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(export_objects(&data, &[]).len(), 2499);
}

#[test]
fn a_two_gigabyte_line_is_skipped_without_buffering_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = dir.path().join("huge.jsonl");
    let first = format!("{}\n", indicator(1, "2026-01-01T00:00:00.000Z"));
    let last = format!("\n{}\n", indicator(2, "2026-01-01T00:00:00.000Z"));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(first.as_bytes()).unwrap();
    // A sparse 2 GiB hole: a single line of 2^31 NUL bytes, cheap on disk.
    let hole: u64 = 1 << 31;
    f.set_len(first.len() as u64 + hole).unwrap();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::End(0)).unwrap();
    f.write_all(last.as_bytes()).unwrap();
    drop(f);
    let o = nadhir(&data, &["import", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "huge.jsonl: line 2, object #1: the line is {hole} bytes long, over the limit"
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        export_objects(&data, &[]).len(),
        2,
        "objects on both sides of the huge line are kept"
    );
}

#[test]
fn validate_exit_codes_and_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = write(
        dir.path(),
        "good.json",
        &json!([indicator(1, "2026-01-01T00:00:00.000Z")]).to_string(),
    );
    let o = nadhir(&data, &["validate", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let mut two_errors = indicator(2, "2026-01-01T00:00:00.000Z");
    two_errors["confidence"] = json!(101);
    two_errors["valid_from"] = json!("2026-01-01");
    let bad = write(dir.path(), "bad.json", &json!([two_errors]).to_string());
    let o = nadhir(&data, &["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("/confidence") && out.contains("/valid_from"),
        "{out}"
    );
    let o = nadhir(&data, &["validate", "--json", bad.to_str().unwrap()]);
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l["id"] == "indicator--00000002-1111-4111-8111-111111111111"));
    let notjson = write(dir.path(), "x.json", "this is not json");
    assert_eq!(
        nadhir(&data, &["validate", notjson.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    let missing = dir.path().join("nope.json");
    assert_eq!(
        nadhir(&data, &["validate", missing.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

/// `nadhir import` signs each version it stores with the node's key (the signature goes
/// into the object's sharing metadata, and verifies); `--no-sign` stores none.
#[test]
fn import_signs_each_version_once_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let objs = [
        indicator(1, "2026-01-01T00:00:00.000Z"),
        indicator(1, "2026-02-01T00:00:00.000Z"),
        indicator(2, "2026-01-01T00:00:00.000Z"),
    ];
    let text: String = objs.iter().map(|o| format!("{o}\n")).collect();
    let file = write(dir.path(), "in.jsonl", &text);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for sign in [true, false] {
        let data = dir.path().join(if sign { "signed" } else { "unsigned" });
        let mut args = vec!["import", file.to_str().unwrap()];
        if !sign {
            args.push("--no-sign");
        }
        let o = nadhir(&data, &args);
        assert!(o.status.success(), "import failed: {}", stderr(&o));
        let ids: Vec<String> = ["1", "2"]
            .iter()
            .map(|n| format!("indicator--0000000{n}-1111-4111-8111-111111111111"))
            .collect();
        let rows = rt.block_on(async {
            let store = store::open(&data, None).await.unwrap();
            store.get_meta(&ids).await.unwrap()
        });
        if !sign {
            assert!(
                rows.is_empty(),
                "unsigned into a plain collection: no metadata rows"
            );
            continue;
        }
        let key = federation::identity::NodeKey::load_or_create(&data.join("node.key"))
            .unwrap()
            .0;
        assert_eq!(rows.len(), 2);
        let mut signed = 0;
        for row in &rows {
            let doc: policy::MetaDoc = serde_json::from_str(&row.json).unwrap();
            for (version_key, by) in &doc.signatures {
                let obj = objs
                    .iter()
                    .map(|v| stix::Object::from_value(v.clone()).unwrap())
                    .find(|o| {
                        o.id() == row.id
                            && o.version().map(|t| t.sort_key()).as_deref() == Some(version_key)
                    })
                    .expect("a signature for a stored version");
                let mut keys = federation::identity::PeerKeys::new();
                keys.insert(by.signer.clone(), &key.public_b64()).unwrap();
                let sig = policy::sharing::Signature {
                    signer: by.signer.clone(),
                    value: by.value.clone(),
                };
                federation::signature::verify(&obj, &sig, &keys).unwrap();
                signed += 1;
            }
        }
        assert_eq!(signed, 3, "each of the three versions is signed");
    }
}
