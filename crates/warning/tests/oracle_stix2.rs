//! Differential tests against the OASIS reference software:
//! every object the warning core writes passes `stix2-validator` and parses in
//! `stix2`; SCO ids equal the `stix2` library's; punycode decoding agrees with
//! Python's RFC 3492 codec.
//!
//! The interpreter comes from `NADHIR_PYTHON`, else `<workspace>/.venv/bin/python`.
//! Missing: the test is skipped with a reason, or fails when `CI` is set.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use stix::{Object, Timestamp};
use warning::aggregate::{AggregatorConfig, SightingAggregator};
use warning::alert::Alert;
use warning::hit::{AssetRef, Criticality, Hit, SourceRef};
use warning::WeightBook;

const IDENTITY: &str = "identity--0b9a5a4e-6b7b-4c61-9d0e-0c2c7e6a2f11";

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("NADHIR_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but the oracle interpreter {} is missing",
            p.display()
        );
    }
    eprintln!(
        "skipped: no Python oracle at {} (set NADHIR_PYTHON)",
        p.display()
    );
    None
}

fn oracle_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracle")
        .join(name)
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("nadhir-warning-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn hit(event: &str, indicator: &str, t: &str, ty: &str, value: &str) -> Hit {
    Hit {
        event_id: event.into(),
        indicator_id: indicator.into(),
        observable_type: ty.into(),
        value: value.into(),
        observed_at: Timestamp::parse(t).unwrap(),
        source: SourceRef {
            kind: "zeek-dns".into(),
            name: "dns.log".into(),
        },
        asset: Some(AssetRef {
            id: "asset-core-banking".into(),
            name: "core banking".into(),
            criticality: Criticality::Critical,
        }),
    }
}

fn indicator(id: &str) -> Object {
    Object::from_value(json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "C2 infrastructure", "indicator_types": ["malicious-activity"],
        "pattern": "[domain-name:value = 'c2.evil.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "confidence": 85,
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}]
    }))
    .unwrap()
}

/// Everything the core writes in a realistic run: SCOs of every supported type,
/// observed-data and sighting versions, an opinion and a revoked sighting.
fn emitted_objects() -> Vec<Object> {
    let ind_a = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let ind_b = "indicator--1f2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let mut agg = SightingAggregator::new(AggregatorConfig::new(IDENTITY)).unwrap();
    let hits = [
        hit(
            "dns.log:100",
            ind_a,
            "2026-03-01T10:00:01.123Z",
            "domain-name",
            "C2.Evil.Example.",
        ),
        hit(
            "dns.log:220",
            ind_a,
            "2026-03-01T10:00:02Z",
            "domain-name",
            "c2.evil.example",
        ),
        hit(
            "dns.log:220",
            ind_a,
            "2026-03-01T10:00:02Z",
            "domain-name",
            "c2.evil.example",
        ),
        hit(
            "eve:1",
            ind_b,
            "2026-03-01T10:10:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ),
        hit(
            "eve:2",
            ind_b,
            "2026-03-01T10:11:00Z",
            "ipv6-addr",
            "2001:DB8:0:0::7",
        ),
        hit(
            "eve:3",
            ind_b,
            "2026-03-01T10:12:00Z",
            "url",
            "HTTP://Evil.Example/Path?q=1",
        ),
        hit(
            "eve:4",
            ind_b,
            "2026-03-01T10:13:00Z",
            "email-addr",
            "ceo@Evil.Example",
        ),
        hit(
            "eve:5",
            ind_b,
            "2026-03-01T10:14:00Z",
            "mac-addr",
            "00-1A-2B-3C-4D-5E",
        ),
        hit(
            "eve:6",
            ind_b,
            "2026-03-01T10:15:00Z",
            "autonomous-system",
            "AS64511",
        ),
        hit(
            "eve:7",
            ind_b,
            "2026-03-01T10:16:00Z",
            "file",
            &format!("SHA-256:{}", "9F".repeat(32)),
        ),
        hit(
            "eve:8",
            ind_b,
            "2026-03-01T11:16:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ),
    ];
    let mut out = Vec::new();
    let mut first_sighting = None;
    for (i, h) in hits.iter().enumerate() {
        agg.ingest(h).unwrap();
        if i % 3 == 2 {
            for u in agg.drain(Timestamp::parse("2026-03-01T12:00:00Z").unwrap()) {
                out.extend(u.new_scos);
                out.push(u.observed_data);
                if first_sighting.is_none() {
                    first_sighting = Some(u.sighting.clone());
                }
                out.push(u.sighting);
            }
        }
    }
    for u in agg.drain(Timestamp::parse("2026-03-01T12:00:00Z").unwrap()) {
        out.extend(u.new_scos);
        out.push(u.observed_data);
        out.push(u.sighting);
    }
    let sighting = first_sighting.unwrap();
    let mut alert = Alert::raise(
        &indicator(ind_a),
        sighting.id(),
        85,
        None,
        Timestamp::parse("2026-03-01T12:00:00Z").unwrap(),
    )
    .unwrap();
    let report = alert
        .mark_false_positive(
            "analyst",
            "the resolver's own health check",
            Timestamp::parse("2026-03-01T12:30:00Z").unwrap(),
            IDENTITY,
            Some(&sighting),
            &mut WeightBook::new(),
        )
        .unwrap();
    out.push(report.opinion);
    out.push(report.revoked_sighting.unwrap());
    out
}

#[test]
fn every_emitted_object_passes_the_oasis_validator_and_sco_ids_match_stix2() {
    let objects = emitted_objects();
    // the scenario exercises every SCO type the aggregator writes
    let types: std::collections::BTreeSet<&str> = objects.iter().map(|o| o.type_name()).collect();
    for t in [
        "domain-name",
        "ipv4-addr",
        "ipv6-addr",
        "url",
        "email-addr",
        "mac-addr",
        "autonomous-system",
        "file",
        "observed-data",
        "sighting",
        "opinion",
    ] {
        assert!(types.contains(t), "scenario lacks {t}");
    }
    let Some(py) = python() else { return };
    let array = Value::Array(objects.iter().map(Object::to_value).collect());
    let path = temp_file("objects.json", &array.to_string());
    let output = Command::new(py)
        .arg(oracle_script("check_objects.py"))
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let results: Vec<Value> = stdout
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), objects.len());
    let mut scos = 0;
    for (obj, r) in objects.iter().zip(&results) {
        assert_eq!(r["id"], obj.id());
        assert_eq!(
            r["valid"],
            true,
            "{} rejected by stix2-validator: {}\n{}",
            obj.id(),
            r["errors"],
            obj.to_json()
        );
        assert_eq!(
            r["warnings"],
            json!([]),
            "{} has validator warnings\n{}",
            obj.id(),
            obj.to_json()
        );
        assert_eq!(
            r["parse_error"],
            Value::Null,
            "{} refused by stix2\n{}",
            obj.id(),
            obj.to_json()
        );
        if !r["stix2_id"].is_null() {
            scos += 1;
            assert_eq!(
                r["stix2_id"],
                obj.id(),
                "SCO id differs from the stix2 library's\n{}",
                obj.to_json()
            );
        }
    }
    assert_eq!(scos, 9);
}

/// Our Punycode encoder and decoder against Python's RFC 3492 codec, label by label.
#[test]
fn punycode_agrees_with_pythons_rfc_3492_codec_both_ways() {
    let labels = [
        "exаmplebank", // Cyrillic а
        "аррӏе",       // all Cyrillic
        "bücher",
        "مصرف", // Arabic
        "البنك-الأهلي",
        "παράδειγμα",
        "例え",
        "ex\u{0661}mple", // Arabic-Indic digit one
        "a\u{10FFFF}z",
        "ÿ-ÿ",
    ];
    let Some(py) = python() else { return };
    let mut child = Command::new(py)
        .arg(oracle_script("punycode_encode.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(labels.join("\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut n = 0;
    for line in stdout.split('\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let label = v["label"].as_str().unwrap();
        let encoded = v["punycode"].as_str().unwrap();
        assert_eq!(
            warning::punycode::decode(encoded).unwrap(),
            label,
            "decoding {encoded}"
        );
        assert_eq!(
            warning::punycode::encode(label).unwrap(),
            encoded,
            "encoding {label}"
        );
        n += 1;
    }
    assert_eq!(n, labels.len());
}

/// Negative control: the oracle does reject what it should, so the test above can fail.
#[test]
fn the_oracle_rejects_a_broken_sighting_and_a_wrong_sco_id() {
    let Some(py) = python() else { return };
    let bad = json!([
        {"type": "sighting", "spec_version": "2.1", "id": "sighting--5b5c6e3e-2b9a-4f0e-8a55-1b0b2a9c8d11",
         "created": "2026-03-01T12:00:00.000Z", "modified": "2026-03-01T12:00:00.000Z",
         "count": 1000000000, "sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--5b5c6e3e-2b9a-5f0e-8a55-1b0b2a9c8d11", "value": "203.0.113.9"}
    ]);
    let path = temp_file("bad.json", &bad.to_string());
    let output = Command::new(py)
        .arg(oracle_script("check_objects.py"))
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let results: Vec<Value> = stdout
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        results[0]["valid"], false,
        "count over 999,999,999 must be refused"
    );
    assert_ne!(results[1]["stix2_id"], bad[1]["id"]);
}
