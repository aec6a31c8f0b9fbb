//! The realistic telemetry fixture (`scripts/make_telemetry.py`) through `nadhir match`,
//! and the emitted-objects oracle (`tests/oracle/check_emitted.py`) tested on a valid
//! object set and on tampered ones.
//!
//! The Python interpreter comes from `NADHIR_PYTHON`, else `<workspace>/.venv/bin/python`;
//! without one the tests are skipped with a printed reason, and fail when `CI` is set
//! (`common::oracle_python`).

mod common;

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

/// `(file, line, indicator)` of one IOC hit.
type HitKey = (String, u64, String);

/// Runs `nadhir match` in `dir` (relative file names, so hits name them as given).
fn nadhir_match(dir: &Path, files: &[&str]) -> (Vec<Value>, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("match")
        .arg("--indicators")
        .arg("indicators.json")
        .args(files)
        .env("NADHIR_DATA_DIR", dir.join("data"))
        .env_remove("NADHIR_DATABASE_URL")
        .current_dir(dir)
        .output()
        .expect("run nadhir match");
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8 stdout");
    let hits = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each hit is one JSON line"))
        .collect();
    (hits, common::stderr(&out), out.status.code())
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array in {v}"))
}

/// The expected IOC hits of `files`, inactive indicators included (`nadhir match`
/// does not know about activity).
fn expected_hits(expected: &Value, files: &[&str]) -> BTreeSet<HitKey> {
    let mut set = BTreeSet::new();
    for f in files {
        for h in arr(&expected["files"][*f], "ioc_hits") {
            set.insert((
                (*f).to_owned(),
                u64_of(h, "line"),
                str_of(h, "indicator").to_owned(),
            ));
        }
    }
    set
}

fn got_hits(hits: &[Value]) -> BTreeSet<HitKey> {
    hits.iter()
        .map(|h| {
            (
                str_of(h, "file").to_owned(),
                u64_of(h, "line"),
                str_of(h, "indicator").to_owned(),
            )
        })
        .collect()
}

fn assert_same_hits(got: &BTreeSet<HitKey>, want: &BTreeSet<HitKey>, stderr: &str) {
    let missing: Vec<_> = want.difference(got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "planted hits not reported: {missing:#?}\nhits that are not planted: {extra:#?}\nstderr:\n{stderr}"
    );
}

/// The SCO type a `nadhir match` hit type stands for (`file:hashes.MD5` → `file`).
fn sco_type(match_type: &str) -> &str {
    if match_type.starts_with("file:") {
        "file"
    } else {
        match_type
    }
}

#[test]
fn nadhir_match_reports_exactly_the_planted_ioc_hits() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let expected = common::generate_telemetry(&python, dir.path(), &[]);
    let files = ["eve.json", "zeek_dns.log", "bad.jsonl"];

    // The fixture itself: realistic sizes, valid STIX, every kind of bait present.
    assert_eq!(u64_of(&expected["files"]["eve.json"], "lines"), 20_000);
    assert_eq!(u64_of(&expected["files"]["zeek_dns.log"], "lines"), 5_000);
    let invalid = common::oracle_invalid_objects(&python, &dir.path().join("indicators.json"));
    assert!(
        invalid.is_empty(),
        "indicators.json fails stix2-validator: {invalid:?}"
    );
    let indicators = expected["indicators"].as_object().expect("indicators map");
    let iocs = indicators.values().filter(|m| m["kind"] == "ioc").count();
    assert!(
        (190..=230).contains(&iocs),
        "{iocs} IOC indicators, expected about 200"
    );
    let reasons: BTreeSet<&str> = indicators
        .values()
        .filter_map(|m| m["inactive_reason"].as_str())
        .map(|r| r.split(' ').next().unwrap_or(r))
        .collect();
    assert_eq!(
        reasons,
        BTreeSet::from(["confidence", "revoked", "valid_from", "valid_until"]),
        "one inactive indicator of each kind"
    );
    let want = expected_hits(&expected, &files);
    for inactive in arr(&expected, "inactive") {
        let id = inactive.as_str().expect("id");
        assert!(
            want.iter().any(|(_, _, i)| i == id),
            "inactive indicator {id} has no planted occurrence"
        );
    }
    for f in ["eve.json", "zeek_dns.log"] {
        assert!(
            arr(&expected["files"][f], "near_misses").len() >= 5,
            "{f}: near misses"
        );
        let windows: BTreeSet<u64> = arr(&expected["files"][f], "sightings")
            .iter()
            .map(|s| u64_of(s, "window_start_epoch"))
            .collect();
        assert_eq!(windows.len(), 2, "{f}: sightings fall in two windows");
    }

    // `nadhir match` over all three files. It also evaluates the general patterns per
    // event (`"via": "pattern"`): only a single-event pattern (the AND one) can fire
    // there; those hits are checked apart from the IOC hits.
    let (all_hits, stderr, code) = nadhir_match(dir.path(), &files);
    assert_eq!(code, Some(0), "{stderr}");
    let (pattern_hits, hits): (Vec<Value>, Vec<Value>) =
        all_hits.into_iter().partition(|h| h["via"] == "pattern");
    let single_event: BTreeSet<&str> = files
        .iter()
        .flat_map(|f| arr(&expected["files"][*f], "general"))
        .filter(|g| {
            g["must_fire"] == true
                && !str_of(g, "pattern").contains("FOLLOWEDBY")
                && !str_of(g, "pattern").contains("REPEATS")
        })
        .map(|g| str_of(g, "indicator"))
        .collect();
    assert!(
        !pattern_hits.is_empty(),
        "the single-event general pattern fires"
    );
    for h in &pattern_hits {
        assert!(
            single_event.contains(str_of(h, "indicator")),
            "only single-event general patterns fire per event: {h}"
        );
    }
    let got = got_hits(&hits);
    assert_same_hits(&got, &want, &stderr);

    // No near miss hits anything, and no line of a general pattern gives an IOC hit.
    for f in files {
        for nm in arr(&expected["files"][f], "near_misses") {
            let line = u64_of(nm, "line");
            assert!(
                !got.iter().any(|(gf, gl, _)| gf == f && *gl == line),
                "{f}:{line}: near miss {} hit",
                nm["case"]
            );
        }
        for g in arr(&expected["files"][f], "general") {
            let id = str_of(g, "indicator");
            assert!(
                !got.iter().any(|(_, _, i)| i == id),
                "general pattern {id} reported as an IOC hit"
            );
        }
    }
    assert_eq!(
        arr(&expected["files"]["eve.json"], "general")
            .iter()
            .filter(|g| g["must_fire"] == true)
            .count(),
        3,
        "three general patterns must fire"
    );

    // Each hit's type is the type of an expected observable of that line and indicator.
    let mut observed: BTreeMap<HitKey, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        for h in arr(&expected["files"][f], "ioc_hits") {
            let key = (
                f.to_owned(),
                u64_of(h, "line"),
                str_of(h, "indicator").to_owned(),
            );
            let types = observed.entry(key).or_default();
            for o in arr(h, "observables") {
                types.insert(str_of(o, "type").to_owned());
            }
        }
    }
    for h in &hits {
        let key = (
            str_of(h, "file").to_owned(),
            u64_of(h, "line"),
            str_of(h, "indicator").to_owned(),
        );
        let t = sco_type(str_of(h, "type"));
        assert!(
            observed.get(&key).is_some_and(|ts| ts.contains(t)),
            "hit {h} has type {t}, expected one of {:?}",
            observed.get(&key)
        );
    }

    // bad.jsonl: every undecodable line reported with its line, the run goes on to the
    // valid events after them.
    let bad = &expected["files"]["bad.jsonl"];
    for l in arr(bad, "undecodable_lines") {
        let l = l.as_u64().expect("line");
        assert!(
            stderr
                .lines()
                .any(|s| s.starts_with(&format!("bad.jsonl:{l}:")) && s.contains("undecodable")),
            "bad.jsonl:{l} not reported as undecodable:\n{stderr}"
        );
    }
    let last = u64_of(bad, "lines");
    assert!(
        got.iter().any(|(f, l, _)| f == "bad.jsonl" && *l == last),
        "the valid event on the last line of bad.jsonl was not matched"
    );
    let events: u64 = files
        .iter()
        .map(|f| u64_of(&expected["files"][*f], "nonblank_lines"))
        .sum();
    let nm = &bad["nadhir_match"];
    let summary = format!(
        "summary: {events} events, {} hits, {} undecodable lines ({} over the length limit), {} values with invalid UTF-8",
        hits.len() + pattern_hits.len(),
        u64_of(nm, "undecodable"),
        u64_of(nm, "over_length"),
        u64_of(nm, "invalid_utf8_values")
    );
    assert!(stderr.contains(&summary), "want {summary:?} in:\n{stderr}");
}

#[test]
fn huge_line_is_skipped_and_matching_goes_on() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let expected =
        common::generate_telemetry(&python, dir.path(), &["--events", "200", "--huge-line"]);
    let bad = &expected["files"]["bad.jsonl"];
    let over = arr(bad, "over_length_lines");
    assert_eq!(over.len(), 1);
    let over = over[0].as_u64().expect("line");
    let size = std::fs::metadata(dir.path().join("bad.jsonl"))
        .expect("bad.jsonl")
        .len();
    assert!(size > 100_000_000, "bad.jsonl is {size} bytes");

    let (hits, stderr, code) = nadhir_match(dir.path(), &["bad.jsonl"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_same_hits(
        &got_hits(&hits),
        &expected_hits(&expected, &["bad.jsonl"]),
        &stderr,
    );
    assert!(
        stderr.contains(&format!("bad.jsonl:{over}: line of 100000000 bytes")),
        "{stderr}"
    );
    assert!(
        got_hits(&hits).iter().any(|(_, l, _)| *l > over),
        "no hit after the huge line"
    );
    let nm = &bad["nadhir_match"];
    assert_eq!(u64_of(nm, "undecodable"), 5);
    assert!(
        stderr.contains(&format!(
            "{} undecodable lines (1 over the length limit)",
            u64_of(nm, "undecodable")
        )),
        "{stderr}"
    );
}

#[test]
fn generator_is_deterministic() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let c = tempfile::tempdir().expect("temp dir");
    common::generate_telemetry(&python, a.path(), &["--events", "500", "--seed", "7"]);
    common::generate_telemetry(&python, b.path(), &["--events", "500", "--seed", "7"]);
    common::generate_telemetry(&python, c.path(), &["--events", "500", "--seed", "8"]);
    for f in [
        "indicators.json",
        "eve.json",
        "zeek_dns.log",
        "bad.jsonl",
        "expected.json",
    ] {
        let read = |d: &Path| std::fs::read(d.join(f)).expect("fixture file");
        assert!(read(a.path()) == read(b.path()), "{f} differs between runs");
        assert!(read(a.path()) != read(c.path()), "{f} ignores the seed");
    }
}

// ---------------------------------------------------------------------------------------
// The emitted-objects oracle
// ---------------------------------------------------------------------------------------

fn sco(t: &str, props: Value) -> Value {
    let mut obj: Map<String, Value> = props.as_object().expect("props").clone();
    let id = stix::sco::deterministic_id(t, &obj).expect("deterministic id");
    obj.insert("type".into(), json!(t));
    obj.insert("spec_version".into(), json!("2.1"));
    obj.insert("id".into(), json!(id));
    Value::Object(obj)
}

const NODE: &str = "identity--5f0f7e02-3d1c-4c9e-9a43-2b7d1c8e6a10";
const OBSERVED: &str = "observed-data--0d6f43a3-2f0c-4b8e-8f61-3c1d8e0a9b21";
const INDICATOR: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

/// A valid set of emitted objects: SCOs, observed-data, sighting, node identity.
fn emitted() -> Vec<Value> {
    let scos = vec![
        sco("domain-name", json!({"value": "update-check.example.net"})),
        sco("ipv4-addr", json!({"value": "203.0.113.10"})),
        sco("ipv6-addr", json!({"value": "2001:db8:5::17"})),
        sco(
            "url",
            json!({"value": "http://cdn-patch.example.net/upd/kb5031.exe"}),
        ),
        sco(
            "file",
            json!({"hashes": {"SHA-256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}}),
        ),
        sco(
            "email-addr",
            json!({"value": "invoice@billing-notice.example"}),
        ),
    ];
    let refs: Vec<Value> = scos.iter().map(|s| s["id"].clone()).collect();
    let t = "2026-11-20T10:00:00.000Z";
    let mut objects = vec![json!({
        "type": "identity", "spec_version": "2.1", "id": NODE, "created": t, "modified": t,
        "name": "Example constituent node", "identity_class": "organization"
    })];
    objects.extend(scos);
    objects.push(json!({
        "type": "observed-data", "spec_version": "2.1", "id": OBSERVED,
        "created": "2026-11-20T11:05:00.000Z", "modified": "2026-11-20T11:05:00.000Z",
        "created_by_ref": NODE, "first_observed": "2026-11-20T10:04:12.500000Z",
        "last_observed": "2026-11-20T10:59:59.999000Z", "number_observed": 6, "object_refs": refs
    }));
    objects.push(json!({
        "type": "sighting", "spec_version": "2.1",
        "id": "sighting--6b0f3d4e-95a1-4c8a-b1e2-7f3a9c0d5e14",
        "created": "2026-11-20T11:05:00.000Z", "modified": "2026-11-20T11:05:00.000Z",
        "created_by_ref": NODE, "sighting_of_ref": INDICATOR, "observed_data_refs": [OBSERVED],
        "where_sighted_refs": [NODE], "count": 6,
        "first_seen": "2026-11-20T10:04:12.500000Z", "last_seen": "2026-11-20T10:59:59.999000Z"
    }));
    objects
}

/// Runs check_emitted.py on `doc`; returns (exit code, summary line as JSON, stderr).
fn run_check(python: &Path, dir: &Path, name: &str, doc: &Value) -> (Option<i32>, Value, String) {
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).expect("write objects");
    let out: Output = Command::new(python)
        .arg(common::check_emitted_script())
        .arg(&path)
        .output()
        .expect("run check_emitted.py");
    let stdout = common::stdout(&out);
    let summary = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON summary line: {stdout}\n{}", common::stderr(&out)));
    (out.status.code(), summary, common::stderr(&out))
}

fn index_of(objects: &[Value], t: &str) -> usize {
    objects
        .iter()
        .position(|o| o["type"] == t)
        .unwrap_or_else(|| panic!("no {t}"))
}

#[test]
fn check_emitted_accepts_valid_objects_and_rejects_tampered_ones() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");

    // Valid, as a JSON array and as a bundle.
    let good = emitted();
    let (code, summary, stderr) = run_check(&python, dir.path(), "good.json", &json!(good));
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    assert_eq!(summary["ok"], true);
    assert_eq!(
        (summary["scos"].as_u64(), summary["sightings"].as_u64()),
        (Some(6), Some(1))
    );
    let bundle = json!({"type": "bundle", "id": "bundle--1c7e0f6a-2d3b-4e5f-8a9b-0c1d2e3f4a5b", "objects": good});
    let (code, summary, _) = run_check(&python, dir.path(), "bundle.json", &bundle);
    assert_eq!((code, summary["objects"].as_u64()), (Some(0), Some(9)));

    // Each tampering fails exactly its check.
    type Tamper = fn(&mut Vec<Value>);
    let cases: [(&str, &str, Tamper); 5] = [
        ("wrong SCO id", "sco-id", |objs| {
            // A well-formed UUIDv5 id, but of another value; references follow it.
            let wrong =
                sco("domain-name", json!({"value": "update-check.example.org"}))["id"].clone();
            let i = index_of(objs, "domain-name");
            let old = objs[i]["id"].clone();
            objs[i]["id"] = wrong.clone();
            let od = index_of(objs, "observed-data");
            for r in objs[od]["object_refs"].as_array_mut().into_iter().flatten() {
                if *r == old {
                    *r = wrong.clone();
                }
            }
        }),
        ("SCO id of a different hash", "sco-id", |objs| {
            let i = index_of(objs, "file");
            objs[i]["hashes"]["SHA-256"] =
                json!("375a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f");
        }),
        ("validator error", "validator", |objs| {
            let i = index_of(objs, "sighting");
            objs[i]["count"] = json!(-1);
        }),
        (
            "observed_data_refs names an observed-data not in the file",
            "sighting",
            |objs| {
                let i = index_of(objs, "sighting");
                objs[i]["observed_data_refs"] = json!([
                    OBSERVED,
                    "observed-data--9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
                ]);
            },
        ),
        ("object_refs does not resolve", "object-refs", |objs| {
            let i = index_of(objs, "ipv4-addr");
            objs.remove(i);
        }),
    ];
    for (what, check, tamper) in cases {
        let mut objs = emitted();
        tamper(&mut objs);
        let (code, summary, stderr) = run_check(&python, dir.path(), "tampered.json", &json!(objs));
        assert_eq!(code, Some(1), "{what}: {summary}\n{stderr}");
        assert_eq!(summary["ok"], false, "{what}");
        for (name, n) in summary["checks"].as_object().expect("checks") {
            let n = n.as_u64().expect("count");
            if name == check {
                assert!(n >= 1, "{what}: {check} did not fail: {summary}");
            } else {
                assert_eq!(n, 0, "{what}: {name} failed too: {summary}");
            }
        }
        assert!(stderr.contains(&format!("[{check}]")), "{what}: {stderr}");
    }

    // Not a JSON array of objects: exit 2.
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "[{\"type\": ").expect("write");
    let out = Command::new(&python)
        .arg(common::check_emitted_script())
        .arg(&path)
        .output()
        .expect("run check_emitted.py");
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
}
