//! Early warning end to end, with real processes: the built `nadhir` binary on a
//! temporary data directory, fed the generated telemetry fixture
//! (`scripts/make_telemetry.py`) or lines written by the test.
//!
//! - `fixture_end_to_end`: indicators imported, `watch` over EVE + Zeek + bad lines;
//!   the exported `sightings` collection equals `expected.json`'s combined sightings,
//!   one alert per sighting window, every object passes the OASIS oracles; a second
//!   run counts nothing (checkpoints); a copy of the EVE file at another path is a
//!   different source (its event ids differ) and is counted again. (Windows of general
//!   patterns are set aside there; `general_patterns` checks them.)
//! - `general_patterns`: FOLLOWEDBY, REPEATS and AND patterns over the EVE stream fire
//!   once each, at the completing event; their near misses never fire.
//! - `bad_input_keeps_going`: a 100 MB line, invalid UTF-8, malformed and wrongly typed
//!   events are counted and sampled, the planted hits after them are counted, and the
//!   peak RSS stays far below the line's size.
//! - `follow_rotation_and_restart`: `watch --follow` across growth, rotation,
//!   truncation, SIGINT and restart counts every planted event exactly once.
//! - `stdin_source`: `cat eve.json | nadhir watch -` counts what the file counts.
//!
//! Tests that need the fixture take the Python interpreter from `NADHIR_PYTHON`, else
//! `<workspace>/.venv/bin/python`; without one they are skipped with a printed reason,
//! and fail when `CI` is set (`common::oracle_python`).

// A test process with no async runtime: blocking sleeps and small whole-file reads
// (the fixture's outputs, /proc) are what it should do.
#![allow(clippy::disallowed_methods)]

mod common;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn read_json(path: &Path) -> Value {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_reader(std::io::BufReader::new(file))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Runs `nadhir` on `data` and requires exit status 0.
fn nadhir_ok(data: &Path, args: &[&str]) -> Output {
    let out = common::nadhir(data, args);
    assert!(
        out.status.success(),
        "nadhir {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        common::stdout(&out),
        common::stderr(&out)
    );
    out
}

fn import(data: &Path, file: &Path) {
    nadhir_ok(data, &["import", path_str(file)]);
}

/// The `--json` line of a `watch` run.
fn watch_json(out: &Output) -> Value {
    let stdout = common::stdout(out);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON report on stdout:\n{stdout}\nstderr:\n{}",
                common::stderr(out)
            )
        });
    serde_json::from_str(line).expect("the watch report is JSON")
}

/// `watch --min-confidence 50 FILES... --json`, exit status 0 required.
fn watch(data: &Path, files: &[&Path], extra: &[&str]) -> Value {
    let mut args = vec!["watch", "--min-confidence", "50", "--json"];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(|p| path_str(p)));
    watch_json(&nadhir_ok(data, &args))
}

fn u64_at(v: &Value, ptr: &str) -> u64 {
    v.pointer(ptr)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{ptr} is not a number in {v}"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array in {v}"))
}

fn micros(ts: &str) -> i64 {
    stix::Timestamp::parse(ts)
        .unwrap_or_else(|e| panic!("{ts:?}: {e:?}"))
        .unix_micros()
}

/// An observable as comparable text: `type:value`, or `file:ALG=hex` per hash.
fn observable_text(sco: &Value) -> Vec<String> {
    let t = str_of(sco, "type");
    match sco.get("hashes").and_then(Value::as_object) {
        Some(h) => h
            .iter()
            .map(|(alg, v)| format!("{t}:{alg}={}", v.as_str().unwrap_or("?")))
            .collect(),
        None => vec![format!("{t}:{}", str_of(sco, "value"))],
    }
}

/// What a sighting window says, comparable with `expected.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    count: u64,
    first_seen: i64,
    last_seen: i64,
    observables: BTreeSet<String>,
}

/// (indicator, window start in Unix seconds) → window.
type Windows = BTreeMap<(String, i64), Window>;

fn expected_windows(sightings: &[Value]) -> Windows {
    sightings
        .iter()
        .map(|s| {
            let key = (
                str_of(s, "indicator").to_owned(),
                s["window_start_epoch"].as_i64().expect("window start"),
            );
            let w = Window {
                count: s["count"].as_u64().expect("count"),
                first_seen: micros(str_of(s, "first_seen")),
                last_seen: micros(str_of(s, "last_seen")),
                observables: arr(s, "observables")
                    .iter()
                    .flat_map(observable_text)
                    .collect(),
            };
            (key, w)
        })
        .collect()
}

/// Exports the `sightings` collection to `dir/name`; returns its objects.
fn export_sightings(data: &Path, dir: &Path, name: &str) -> (PathBuf, Vec<Value>) {
    let path = dir.join(name);
    nadhir_ok(
        data,
        &["export", "--collection", "sightings", "-o", path_str(&path)],
    );
    let doc = read_json(&path);
    let objects = match &doc {
        Value::Array(a) => a.clone(),
        _ => arr(&doc, "objects").clone(),
    };
    (path, objects)
}

fn by_id(objects: &[Value]) -> BTreeMap<&str, &Value> {
    objects.iter().map(|o| (str_of(o, "id"), o)).collect()
}

/// The sighting windows of exported objects, each observable resolved through the
/// sighting's observed-data.
fn exported_windows(objects: &[Value], window_secs: i64) -> Windows {
    let ids = by_id(objects);
    let mut out = Windows::new();
    for s in objects.iter().filter(|o| o["type"] == "sighting") {
        let first_seen = micros(str_of(s, "first_seen"));
        let mut observables = BTreeSet::new();
        for od in arr(s, "observed_data_refs") {
            let od = ids
                .get(od.as_str().expect("ref"))
                .unwrap_or_else(|| panic!("{od} is not in the export"));
            for r in arr(od, "object_refs") {
                let sco = ids
                    .get(r.as_str().expect("ref"))
                    .unwrap_or_else(|| panic!("{r} is not in the export"));
                observables.extend(observable_text(sco));
            }
        }
        let key = (
            str_of(s, "sighting_of_ref").to_owned(),
            first_seen
                .div_euclid(1_000_000)
                .div_euclid(window_secs)
                .checked_mul(window_secs)
                .expect("window"),
        );
        let w = Window {
            count: s["count"].as_u64().expect("count"),
            first_seen,
            last_seen: micros(str_of(s, "last_seen")),
            observables,
        };
        assert!(
            out.insert(key.clone(), w).is_none(),
            "two sightings for {key:?}"
        );
    }
    out
}

fn assert_same_windows(got: &Windows, want: &Windows, what: &str) {
    let mut problems = Vec::new();
    for (k, w) in want {
        match got.get(k) {
            None => problems.push(format!("missing {k:?}: {w:?}")),
            Some(g) if g != w => problems.push(format!("{k:?}: got {g:?}, want {w:?}")),
            Some(_) => {}
        }
    }
    for (k, g) in got {
        if !want.contains_key(k) {
            problems.push(format!("unexpected {k:?}: {g:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: sightings differ:\n{}",
        problems.join("\n")
    );
}

/// `alerts --json` (all of them).
fn alerts(data: &Path) -> Vec<Value> {
    let out = nadhir_ok(data, &["alerts", "--json", "--limit", "100000"]);
    let v: Value = serde_json::from_str(common::stdout(&out).trim()).expect("alerts JSON");
    v.as_array().expect("alerts array").clone()
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fixture's general (not IOC-shaped) patterns: those that must fire, with their
/// pattern and the time of the event completing them, and those that must not.
struct GeneralCases {
    fire: BTreeMap<String, (String, i64)>,
    quiet: BTreeSet<String>,
}

fn general_cases(expected: &Value) -> GeneralCases {
    let mut g = GeneralCases {
        fire: BTreeMap::new(),
        quiet: BTreeSet::new(),
    };
    for (_, f) in expected["files"].as_object().expect("files") {
        for case in arr(f, "general") {
            let id = str_of(case, "indicator").to_owned();
            if case["must_fire"] == true {
                let last = arr(case, "events")
                    .iter()
                    .map(|e| micros(str_of(e, "time")))
                    .max()
                    .expect("a general case has events");
                g.fire
                    .insert(id, (str_of(case, "pattern").to_owned(), last));
            } else {
                g.quiet.insert(id);
            }
        }
    }
    g
}

/// Splits windows into those of IOC-shaped indicators and those of general patterns.
fn split_general(got: &Windows, g: &GeneralCases) -> (Windows, Windows) {
    got.iter()
        .map(|(k, w)| (k.clone(), w.clone()))
        .partition(|((indicator, _), _)| {
            !g.fire.contains_key(indicator) && !g.quiet.contains(indicator)
        })
}

// ---------------------------------------------------------------------------------------
// 1. The fixture end to end
// ---------------------------------------------------------------------------------------

#[test]
fn fixture_end_to_end() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let data = dir.join("data");
    let expected = common::generate_telemetry(&python, dir, &[]);
    let window_secs = expected["window_seconds"].as_i64().expect("window");
    assert_eq!(expected["min_confidence"], 50);
    import(&data, &dir.join("indicators.json"));

    let eve = dir.join("eve.json");
    let zeek = dir.join("zeek_dns.log");
    let bad = dir.join("bad.jsonl");
    let combined = arr(&expected["combined"], "files");
    assert_eq!(
        combined,
        &vec![json!("eve.json"), json!("zeek_dns.log"), json!("bad.jsonl")]
    );
    let run = watch(&data, &[&eve, &zeek, &bad], &[]);
    let report = &run["report"];
    let status = &run["status"];

    // The sightings collection: exactly the expected IOC windows (`combined`), plus
    // windows of general patterns (which ones, and what they hold, is
    // `general_patterns`' business; here: only patterns that must fire).
    let want = expected_windows(arr(&expected["combined"], "sightings"));
    let want_count: u64 = want.values().map(|w| w.count).sum();
    let general = general_cases(&expected);
    let (export, objects) = export_sightings(&data, dir, "sightings.json");
    let got = exported_windows(&objects, window_secs);
    let (got_ioc, got_general) = split_general(&got, &general);
    assert_same_windows(&got_ioc, &want, "combined");
    for (indicator, _) in got_general.keys() {
        assert!(general.fire.contains_key(indicator), "{indicator} fired");
    }
    let general_count: u64 = got_general.values().map(|w| w.count).sum();
    let windows = got.len() as u64;

    // The report: every non-blank line is an event, bad.jsonl's undecodable lines are
    // the only bad ones, every counted hit is in a sighting, one alert per window.
    let events: u64 = ["eve.json", "zeek_dns.log", "bad.jsonl"]
        .iter()
        .map(|f| u64_at(&expected["files"][*f], "/nonblank_lines"))
        .sum();
    let nm = &expected["files"]["bad.jsonl"]["nadhir_match"];
    assert_eq!(u64_at(report, "/events"), events, "{run}");
    assert_eq!(
        u64_at(report, "/bad"),
        u64_at(nm, "/undecodable"),
        "undecodable: {run}"
    );
    assert_eq!(u64_at(status, "/too_long"), 0, "{run}");
    assert_eq!(
        u64_at(status, "/invalid_utf8"),
        u64_at(nm, "/invalid_utf8_values"),
        "{run}"
    );
    // A hit is one (event, indicator, field); an event naming an indicator in two
    // fields (a DNS answer repeating the query name) is counted once, its second hit
    // reported as a duplicate.
    assert_eq!(
        u64_at(report, "/counted"),
        want_count + general_count,
        "{run}"
    );
    assert_eq!(u64_at(report, "/pattern_matches"), general_count, "{run}");
    assert_eq!(u64_at(report, "/late"), 0, "{run}");
    assert_eq!(
        u64_at(report, "/counted") + u64_at(report, "/duplicates"),
        u64_at(report, "/hits"),
        "{run}"
    );
    assert_eq!(u64_at(report, "/alerts"), windows, "{run}");

    // Neither an inactive indicator nor one only near-missed has a sighting.
    let mut never: BTreeSet<&str> = arr(&expected, "inactive")
        .iter()
        .map(|v| v.as_str().expect("id"))
        .collect();
    for f in combined {
        let f = f.as_str().expect("file");
        never.extend(
            arr(&expected["files"][f], "must_not_appear")
                .iter()
                .map(|v| v.as_str().expect("id")),
        );
    }
    assert!(never.len() >= 4, "{never:?}");
    for (indicator, window) in got.keys() {
        assert!(
            !never.contains(indicator.as_str()),
            "{indicator} must not be sighted (window {window})"
        );
    }

    // Sightings are the node's: where_sighted_refs is its identity, which is exported.
    let identity = str_of(status, "identity_id");
    let ids = by_id(&objects);
    assert_eq!(
        ids.get(identity).map(|o| &o["type"]),
        Some(&json!("identity")),
        "the node identity {identity} is not in the export"
    );
    for s in objects.iter().filter(|o| o["type"] == "sighting") {
        assert_eq!(s["where_sighted_refs"], json!([identity]), "{s}");
        assert_eq!(s["created_by_ref"], json!(identity), "{s}");
    }

    // One alert per sighting window, for that sighting, with its count.
    let list = alerts(&data);
    assert_eq!(list.len() as u64, windows, "{list:#?}");
    let sightings: BTreeMap<&str, &Value> = objects
        .iter()
        .filter(|o| o["type"] == "sighting")
        .map(|o| (str_of(o, "id"), o))
        .collect();
    let mut alerted = BTreeSet::new();
    for a in &list {
        let sid = str_of(&a["alert"], "sighting_id");
        let s = sightings
            .get(sid)
            .unwrap_or_else(|| panic!("alert for {sid}, which is not exported: {a}"));
        assert_eq!(a["alert"]["indicator_id"], s["sighting_of_ref"], "{a}");
        assert_eq!(a["count"], s["count"], "{a}");
        assert_eq!(a["alert"]["state"], "new", "{a}");
        assert!(alerted.insert(sid), "two alerts for {sid}");
    }

    // The OASIS oracles: SCO ids equal stix2's, every object passes stix2-validator,
    // references resolve.
    let out = Command::new(&python)
        .arg(common::check_emitted_script())
        .arg(&export)
        .output()
        .expect("run check_emitted.py");
    let summary: Value = common::stdout(&out)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert_eq!(
        out.status.code(),
        Some(0),
        "check_emitted.py: {summary}\n{}",
        common::stderr(&out)
    );
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(u64_at(&summary, "/sightings"), windows);

    // Again, same files: the checkpoints say everything was read; nothing is counted.
    let again = watch(&data, &[&eve, &zeek, &bad], &[]);
    for k in [
        "events",
        "hits",
        "counted",
        "duplicates",
        "sightings",
        "alerts",
    ] {
        assert_eq!(again["report"][k], 0, "second run, {k}: {again}");
    }
    let (_, objects2) = export_sightings(&data, dir, "sightings2.json");
    assert_same_windows(&exported_windows(&objects2, window_secs), &got, "rerun");

    // A copy of eve.json at another path: counting is exactly-once per event *id*
    // (`file:<path>:<inode>:<offset>`), and the copy is another source, so each of its
    // hits is a new event: every EVE window grows by its EVE count, no new alert (same
    // windows), Zeek and bad.jsonl windows unchanged. The general patterns (EVE only)
    // fire again over the copy's events: their windows count twice.
    let copy = dir.join("copy-of-eve.json");
    std::fs::copy(&eve, &copy).expect("copy eve.json");
    let eve_windows = expected_windows(arr(&expected["files"]["eve.json"], "sightings"));
    let run3 = watch(&data, &[&copy], &[]);
    let eve_count: u64 = eve_windows.values().map(|w| w.count).sum();
    assert_eq!(
        u64_at(&run3, "/report/counted"),
        eve_count + general_count,
        "{run3}"
    );
    assert_eq!(
        u64_at(&run3, "/report/counted") + u64_at(&run3, "/report/duplicates"),
        u64_at(&run3, "/report/hits"),
        "{run3}"
    );
    assert_eq!(u64_at(&run3, "/report/alerts"), 0, "{run3}");
    let mut want3 = got.clone();
    for (k, w) in eve_windows.iter().chain(&got_general) {
        let c = want3
            .get_mut(k)
            .expect("an EVE window is a combined window");
        c.count += w.count;
    }
    let (_, objects3) = export_sightings(&data, dir, "sightings3.json");
    assert_same_windows(
        &exported_windows(&objects3, window_secs),
        &want3,
        "after the copy",
    );
    assert_eq!(alerts(&data).len() as u64, windows);
}

// ---------------------------------------------------------------------------------------
// 2. General patterns over the event stream
// ---------------------------------------------------------------------------------------

#[test]
fn general_patterns() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let data = dir.join("data");
    let expected = common::generate_telemetry(&python, dir, &["--events", "4000"]);
    let window_secs = expected["window_seconds"].as_i64().expect("window");
    let general = general_cases(&expected);
    assert_eq!(general.fire.len(), 3, "G_FB, G_REP, G_AND");
    assert!(general.quiet.len() >= 5, "near misses: {:?}", general.quiet);
    import(&data, &dir.join("indicators.json"));
    let run = watch(&data, &[&dir.join("eve.json")], &[]);

    let (_, objects) = export_sightings(&data, dir, "sightings.json");
    let got = exported_windows(&objects, window_secs);
    let (ioc, fired) = split_general(&got, &general);
    assert_same_windows(
        &ioc,
        &expected_windows(arr(&expected["files"]["eve.json"], "sightings")),
        "IOC windows beside the general patterns",
    );
    // Each pattern that must fire: one window, counted once, at the time of the event
    // that completed it, holding an observable of a type the pattern names.
    for (id, (pattern, last)) in &general.fire {
        let windows: Vec<_> = fired.iter().filter(|((i, _), _)| i == id).collect();
        assert_eq!(windows.len(), 1, "{pattern}: {windows:?}");
        let ((_, start), w) = windows[0];
        assert_eq!(w.count, 1, "{pattern}: {w:?}");
        assert_eq!((w.first_seen, w.last_seen), (*last, *last), "{pattern}");
        assert_eq!(
            *start,
            last.div_euclid(1_000_000) / window_secs * window_secs
        );
        assert!(!w.observables.is_empty(), "{pattern}");
        for o in &w.observables {
            let t = o.split(':').next().unwrap_or(o);
            assert!(pattern.contains(&format!("{t}:")), "{o} for {pattern}");
        }
    }
    // Near misses (wrong order, too far apart, too few repeats, conditions split over
    // two events) never fire.
    for id in &general.quiet {
        assert!(
            !fired.keys().any(|(i, _)| i == id),
            "{id} must not fire: {fired:?}"
        );
    }
    assert_eq!(
        u64_at(&run, "/report/pattern_matches"),
        general.fire.len() as u64,
        "{run}"
    );
    // Each raised one alert for its sighting.
    let list = alerts(&data);
    for id in general.fire.keys() {
        let n = list
            .iter()
            .filter(|a| a["alert"]["indicator_id"] == json!(id))
            .count();
        assert_eq!(n, 1, "alerts for {id}");
    }
    assert_eq!(list.len(), got.len());
}

// ---------------------------------------------------------------------------------------
// 3. Bad input
// ---------------------------------------------------------------------------------------

/// Byte offset of each line (1-based line number → offset).
fn line_offsets(bytes: &[u8]) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    let mut start = 0usize;
    let mut n = 1u64;
    while start < bytes.len() {
        out.insert(n, start as u64);
        match memchr::memchr(b'\n', &bytes[start..]) {
            Some(i) => start += i + 1,
            None => break,
        }
        n += 1;
    }
    out
}

/// Peak resident set size of `cmd` in KiB: from GNU time when installed, otherwise
/// the highest `VmHWM` read from /proc while it runs.
fn run_measuring_rss(mut cmd: Command, dir: &Path) -> (Output, u64) {
    let time = Path::new("/usr/bin/time");
    if time.exists() {
        let rss_file = dir.join("rss.txt");
        let mut timed = Command::new(time);
        timed
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_file)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => timed.env(k, v),
                None => timed.env_remove(k),
            };
        }
        let out = timed.output().expect("run under /usr/bin/time");
        let text = std::fs::read_to_string(&rss_file).expect("rss file");
        let kib = text
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no RSS in {text:?}"));
        return (out, kib);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().expect("output"), peak)
}

#[test]
fn bad_input_keeps_going() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let data = dir.join("data");
    let expected = common::generate_telemetry(&python, dir, &["--events", "200", "--huge-line"]);
    import(&data, &dir.join("indicators.json"));
    let bad = dir.join("bad.jsonl");
    let exp = &expected["files"]["bad.jsonl"];
    let over: Vec<u64> = arr(exp, "over_length_lines")
        .iter()
        .map(|v| v.as_u64().expect("line"))
        .collect();
    assert_eq!(over.len(), 1, "--huge-line plants one line: {exp}");
    let bytes = std::fs::read(&bad).expect("bad.jsonl");
    assert!(bytes.len() > 100_000_000, "{} bytes", bytes.len());
    let offsets = line_offsets(&bytes);
    drop(bytes);

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nadhir"));
    cmd.arg("--data-dir")
        .arg(&data)
        .args(["watch", "--min-confidence", "50", "--json"])
        .arg(&bad)
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR");
    let (out, rss_kib) = run_measuring_rss(cmd, dir);
    println!("nadhir watch over bad.jsonl with a 100 MB line: peak RSS {rss_kib} KiB");
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        rss_kib < 200 * 1024,
        "peak RSS {rss_kib} KiB: the 100 MB line was buffered"
    );
    let run = watch_json(&out);
    let (report, status) = (&run["report"], &run["status"]);

    // Every problem counted: undecodable lines (the 100 MB one among them) are bad,
    // the invalid UTF-8 value is counted as such, the rest are events without hits.
    let mut undecodable: BTreeSet<u64> = arr(exp, "undecodable_lines")
        .iter()
        .map(|v| v.as_u64().expect("line"))
        .collect();
    undecodable.extend(&over);
    let nm = &exp["nadhir_match"];
    assert_eq!(u64_at(nm, "/undecodable"), undecodable.len() as u64, "{nm}");
    assert_eq!(
        u64_at(report, "/events"),
        u64_at(exp, "/nonblank_lines"),
        "{run}"
    );
    assert_eq!(u64_at(report, "/bad"), undecodable.len() as u64, "{run}");
    assert_eq!(u64_at(status, "/too_long"), 1, "{run}");
    assert_eq!(
        u64_at(status, "/invalid_utf8"),
        u64_at(nm, "/invalid_utf8_values"),
        "{run}"
    );

    // ... and sampled: one sample per undecodable line, named by its event id (the
    // file's path, inode and the line's byte offset), with a reason.
    let samples = arr(status, "bad_samples");
    let path = std::path::absolute(&bad).expect("absolute");
    let prefix = format!("file:{}:", path.display());
    let mut sampled = BTreeSet::new();
    for s in samples {
        let id = str_of(s, "event_id");
        let offset: u64 = id
            .strip_prefix(&prefix)
            .and_then(|rest| rest.rsplit(':').next())
            .and_then(|o| o.parse().ok())
            .unwrap_or_else(|| panic!("sample id {id:?} is not {prefix}<inode>:<offset>"));
        let line = offsets
            .iter()
            .find(|(_, o)| **o == offset)
            .map(|(l, _)| *l)
            .unwrap_or_else(|| panic!("sample {id} is at no line start"));
        assert!(!str_of(s, "reason").is_empty(), "{s}");
        if over.contains(&line) {
            assert!(str_of(s, "reason").contains("limit"), "{s}");
            assert!(u64_at(s, "/len") > 1 << 20, "{s}");
        }
        sampled.insert(line);
    }
    assert_eq!(sampled, undecodable, "sampled lines: {samples:#?}");

    // The planted hits, those after the bad lines and the 100 MB line included, are
    // counted: the sightings are exactly bad.jsonl's.
    let want = expected_windows(arr(exp, "sightings"));
    let last = u64_at(exp, "/lines");
    assert!(
        arr(exp, "planted")
            .iter()
            .any(|p| u64_at(p, "/line") == last && over[0] < last),
        "the last line is a planted hit after the huge line: {exp}"
    );
    assert_eq!(
        u64_at(report, "/counted"),
        want.values().map(|w| w.count).sum::<u64>(),
        "{run}"
    );
    let (_, objects) = export_sightings(&data, dir, "sightings.json");
    assert_same_windows(
        &exported_windows(&objects, expected["window_seconds"].as_i64().expect("w")),
        &want,
        "bad.jsonl",
    );
}

// ---------------------------------------------------------------------------------------
// 4. Following a file across growth, rotation, truncation and a restart
// ---------------------------------------------------------------------------------------

const FOLLOW_INDICATOR: &str = "indicator--4f1d0c6e-8a3b-4c52-9e7f-2b6d1a0c9e31";
/// The planted value, and a near miss of the same length (so every line is as long as
/// every other: event ids are byte offsets, and equal offsets across truncation are
/// what a restart must not confuse).
const FOLLOW_HIT: &str = "follow-test.example";
const FOLLOW_MISS: &str = "follow-best.example";

fn follow_indicators(dir: &Path) -> PathBuf {
    let path = dir.join("follow-indicators.json");
    let t = "2026-10-01T00:00:00.000Z";
    let bundle = json!({
        "type": "bundle",
        "id": "bundle--7d3c1f0a-5b2e-4a9d-8c6f-1e0b2a3c4d5e",
        "objects": [{
            "type": "indicator", "spec_version": "2.1", "id": FOLLOW_INDICATOR,
            "created": t, "modified": t, "name": "Followed-file test domain",
            "indicator_types": ["malicious-activity"],
            "pattern": format!("[domain-name:value = '{FOLLOW_HIT}']"),
            "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": t, "confidence": 80
        }]
    });
    std::fs::write(&path, bundle.to_string()).expect("write indicators");
    path
}

/// `n` pairs of EVE DNS lines (a planted hit, then a near miss), numbered from `seq`,
/// all in the 10:00 window; every line has the same length.
fn follow_lines(seq: &mut u32, n: u32) -> String {
    let mut s = String::new();
    for _ in 0..n {
        for name in [FOLLOW_HIT, FOLLOW_MISS] {
            *seq += 1;
            let line = format!(
                r#"{{"timestamp":"2026-11-20T10:{:02}:{:02}.000000+0000","flow_id":{:010},"event_type":"dns","src_ip":"10.1.2.3","src_port":53000,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":1,"rrname":"{name}","rrtype":"A"}}}}"#,
                *seq / 60,
                *seq % 60,
                *seq
            );
            s.push_str(&line);
            s.push('\n');
        }
    }
    s
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

fn spawn_follow(data: &Path, file: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(data)
        .args(["watch", "--json", "--follow"])
        .arg(file)
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nadhir watch --follow")
}

/// SIGINT, then the exit status and output (within 30 s).
fn interrupt(mut child: Child) -> Output {
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -INT failed");
    let exited = wait_for(Duration::from_secs(30), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("watch output");
    assert!(
        exited,
        "watch did not stop on SIGINT: {}",
        common::stderr(&out)
    );
    out
}

/// The followed indicator's alert count (0 before its first hit).
fn follow_count(data: &Path) -> i64 {
    let list = alerts(data);
    assert!(list.len() <= 1, "{list:#?}");
    list.first()
        .map(|a| {
            assert_eq!(a["alert"]["indicator_id"], FOLLOW_INDICATOR);
            a["count"].as_i64().expect("count")
        })
        .unwrap_or(0)
}

fn expect_count(data: &Path, want: i64, child: &mut Child, step: &str) {
    let ok = wait_for(Duration::from_secs(30), || follow_count(data) >= want);
    if !ok {
        let _ = child.kill();
    }
    let got = follow_count(data);
    assert!(ok, "{step}: count {got}, want {want}");
    assert_eq!(got, want, "{step}: counted more than planted");
}

#[test]
fn follow_rotation_and_restart() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let data = dir.join("data");
    import(&data, &follow_indicators(dir));
    let file = dir.join("eve.json");
    let mut seq = 0u32;
    let mut planted = 0i64;
    let mut lines = 0u64;
    let mut write = |path: &Path, pairs: u32, truncate: bool| {
        let text = follow_lines(&mut seq, pairs);
        if truncate {
            std::fs::write(path, text).expect("rewrite");
        } else {
            append(path, &text);
        }
        planted += i64::from(pairs);
        lines += u64::from(pairs) * 2;
        (planted, lines)
    };

    // Already there when the watch starts.
    write(&file, 4, false);
    let mut child = spawn_follow(&data, &file);
    expect_count(&data, 4, &mut child, "initial content");
    // Growth.
    let (want, _) = write(&file, 3, false);
    expect_count(&data, want, &mut child, "appended");
    // Rotation: renamed away, a new file at the path.
    std::fs::rename(&file, dir.join("eve.json.1")).expect("rotate");
    let (want, _) = write(&file, 4, false);
    expect_count(&data, want, &mut child, "rotated");
    // Truncation (copytruncate): rewritten shorter than what was read.
    let (want, lines_before_stop) = write(&file, 1, true);
    expect_count(&data, want, &mut child, "truncated");

    // SIGINT: exits 0 with its report.
    let out = interrupt(child);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let first = watch_json(&out);
    assert_eq!(
        u64_at(&first, "/report/events"),
        lines_before_stop,
        "{first}"
    );
    assert_eq!(u64_at(&first, "/report/counted"), want as u64, "{first}");
    assert_eq!(u64_at(&first, "/report/duplicates"), 0, "{first}");

    // Restart and append: the new lines sit at byte offsets that held other planted
    // events before the truncation; they are new events all the same.
    let mut child = spawn_follow(&data, &file);
    let (want, lines_total) = write(&file, 3, false);
    expect_count(&data, want, &mut child, "after restart");
    let out = interrupt(child);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let second = watch_json(&out);
    // Nothing re-read: the restarted watch saw only the appended lines.
    assert_eq!(
        u64_at(&second, "/report/events"),
        lines_total - lines_before_stop,
        "{second}"
    );
    assert_eq!(u64_at(&second, "/report/counted"), 3, "{second}");
    assert_eq!(u64_at(&second, "/report/duplicates"), 0, "{second}");

    // One sighting, every planted event once, the near misses never.
    let (_, objects) = export_sightings(&data, dir, "sightings.json");
    let got = exported_windows(&objects, 3600);
    let keys: Vec<_> = got.keys().cloned().collect();
    assert_eq!(keys, vec![(FOLLOW_INDICATOR.to_owned(), 1_795_168_800)]);
    let w = &got[&keys[0]];
    assert_eq!(w.count, want as u64);
    assert_eq!(
        w.observables,
        BTreeSet::from([format!("domain-name:{FOLLOW_HIT}")])
    );
    assert_eq!(follow_count(&data), want);
}

// ---------------------------------------------------------------------------------------
// 5. stdin
// ---------------------------------------------------------------------------------------

#[test]
fn stdin_source() {
    let Some(python) = common::oracle_python() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let expected = common::generate_telemetry(&python, dir, &["--events", "2000"]);
    let eve = dir.join("eve.json");
    let window_secs = expected["window_seconds"].as_i64().expect("window");
    let want = expected_windows(arr(&expected["files"]["eve.json"], "sightings"));

    // The file.
    let file_data = dir.join("data-file");
    import(&file_data, &dir.join("indicators.json"));
    let from_file = watch(&file_data, &[&eve], &[]);

    // The same bytes through a pipe.
    let pipe_data = dir.join("data-pipe");
    import(&pipe_data, &dir.join("indicators.json"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(&pipe_data)
        .args(["watch", "--min-confidence", "50", "--json", "-"])
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nadhir watch -");
    let mut stdin = child.stdin.take().expect("stdin");
    let bytes = std::fs::read(&eve).expect("eve.json");
    let writer = std::thread::spawn(move || {
        // Small writes, as `cat` into a pipe.
        for part in bytes.chunks(64 << 10) {
            stdin.write_all(part).expect("write to the pipe");
        }
    });
    let out = child.wait_with_output().expect("watch -");
    writer.join().expect("writer");
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let from_pipe = watch_json(&out);

    for k in [
        "events",
        "pattern_matches",
        "bad",
        "hits",
        "counted",
        "duplicates",
        "sightings",
        "alerts",
    ] {
        assert_eq!(
            from_pipe["report"][k], from_file["report"][k],
            "{k}: stdin {from_pipe}\nfile {from_file}"
        );
    }
    assert_eq!(
        u64_at(&from_pipe, "/report/events"),
        u64_at(&expected["files"]["eve.json"], "/nonblank_lines")
    );
    let general = general_cases(&expected);
    let mut all = Vec::new();
    for data in [&file_data, &pipe_data] {
        let (_, objects) = export_sightings(data, dir, "sightings.json");
        let got = exported_windows(&objects, window_secs);
        let (ioc, _) = split_general(&got, &general);
        assert_same_windows(&ioc, &want, &data.display().to_string());
        all.push(got);
    }
    // General patterns included, the pipe gives what the file gives.
    assert_same_windows(&all[1], &all[0], "stdin against the file");
}
