//! Early warning from NATS JetStream with two `nadhir watch` workers sharing one
//! durable consumer over one PostgreSQL store: one worker is killed with SIGKILL
//! mid-stream, the other finishes, and every planted event is counted exactly once in
//! the aggregated sightings (at-least-once delivery, deduplicated in the store).
//!
//! Needs NADHIR_TEST_NATS_URL (e.g. nats://127.0.0.1:4222) and NADHIR_TEST_POSTGRES_URL
//! (e.g. postgres://postgres@127.0.0.1:5432/test); skipped without them unless CI is
//! set. Each test uses a fresh database and a stream, subject and consumer of its own.
//!
//! Events per second of one and of two workers are measured by a benchmark, not here:
//! `crates/nadhir/examples/warning_nats_bench.rs` (docs/PERFORMANCE.md, "Early warning:
//! NATS workers").

// Helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgConnection};

mod common;
use common::{run_name, Scratch};

const BIN: &str = env!("CARGO_BIN_EXE_nadhir");

fn services() -> Option<(String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (get("NADHIR_TEST_NATS_URL"), get("NADHIR_TEST_POSTGRES_URL")) {
        (Some(n), Some(p)) => Some((n, p)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but NADHIR_TEST_NATS_URL or NADHIR_TEST_POSTGRES_URL is not: the NATS worker tests must run"
            );
            eprintln!(
                "skipping: NADHIR_TEST_NATS_URL and NADHIR_TEST_POSTGRES_URL must both be set"
            );
            None
        }
    }
}

/// Reads a file this test wrote (the fixture, an export).
#[allow(clippy::disallowed_methods)]
fn read_test_file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn nadhir(db: &str, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("--database-url")
        .arg(db)
        .args(args)
        .env_remove("NADHIR_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nadhir {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Generates the telemetry fixture (`scripts/make_telemetry.py`).
fn fixture(dir: &Path, events: u64) -> PathBuf {
    let out = dir.join("telemetry");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make_telemetry.py");
    let st = Command::new("python3")
        .arg(script)
        .arg(&out)
        .args(["--events", &events.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("python3 runs the fixture generator");
    assert!(st.success());
    out
}

/// Names of one run's JetStream stream, subjects and consumer.
struct Nats {
    url: String,
    stream: String,
    subjects: String,
    subject: String,
}

impl Nats {
    fn new(url: &str) -> Nats {
        let run = run_name("nw").replace('_', "");
        Nats {
            url: url.to_owned(),
            stream: format!("NADHIRTEST{run}"),
            subjects: format!("nadhirtest.{run}.>"),
            subject: format!("nadhirtest.{run}.events"),
        }
    }

    fn publish(&self, db: &str, files: &[&Path]) -> u64 {
        let mut args = vec![
            "publish",
            "--nats",
            &self.url,
            "--subject",
            &self.subject,
            "--stream",
            &self.stream,
            "--stream-subject",
            &self.subjects,
        ];
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        args.extend(files.iter().map(String::as_str));
        let out = nadhir(db, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        err.split_whitespace()
            .skip_while(|w| *w != "published")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("publish summary: {err}"))
    }

    fn worker(&self, db: &str, consumer: &str, batch: u32, idle_exit: u32) -> Child {
        Command::new(BIN)
            .arg("--database-url")
            .arg(db)
            .args(["watch", "--json", "--min-confidence", "50"])
            .args(["--nats", &self.url, "--nats-stream", &self.stream])
            .args([
                "--nats-subject",
                &self.subjects,
                "--nats-consumer",
                consumer,
            ])
            .args(["--nats-batch", &batch.to_string(), "--nats-ack-wait", "2"])
            .args(["--idle-exit", &idle_exit.to_string()])
            .env_remove("NADHIR_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Deletes the stream (best effort, through the NATS client the engine uses).
    async fn delete(&self) {
        if let Ok(c) = async_nats_connect(&self.url).await {
            let js = async_nats::jetstream::new(c);
            let _ = js.delete_stream(&self.stream).await;
        }
    }
}

async fn async_nats_connect(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::connect(url).await
}

/// Waits for a worker and returns its `--json` report.
async fn finish(child: Child, within: Duration) -> Value {
    let started = Instant::now();
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("worker did not finish within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "worker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "worker output: {e}: {text} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// (indicator, window start in Unix seconds) → count, from the store's windows.
async fn windows(db: &str) -> BTreeMap<(String, i64), i64> {
    let mut conn = PgConnection::connect(db).await.unwrap();
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT indicator_id, window_start, count FROM sighting_windows")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    rows.into_iter().map(|(i, w, c)| ((i, w), c)).collect()
}

async fn hit_keys(db: &str) -> i64 {
    let mut conn = PgConnection::connect(db).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM hit_keys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

/// The expected sightings of one file of the fixture: (indicator, window) → count.
fn expected(dir: &Path, file: &str) -> BTreeMap<(String, i64), i64> {
    let e: Value = serde_json::from_str(&read_test_file(&dir.join("expected.json"))).unwrap();
    assert_eq!(e["window_seconds"], 3600);
    e["files"][file]["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                (
                    s["indicator"].as_str().unwrap().to_owned(),
                    s["window_start_epoch"].as_i64().unwrap(),
                ),
                s["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The general (not IOC-shaped) indicators of the fixture. Each worker evaluates them
/// over the events it receives, so a FOLLOWEDBY whose two events went to different
/// workers is not seen: they are left out of the exactly-once comparison.
fn general_ids(dir: &Path) -> BTreeSet<String> {
    let e: Value = serde_json::from_str(&read_test_file(&dir.join("expected.json"))).unwrap();
    e["files"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|f| f["general"].as_array().cloned().unwrap_or_default())
        .map(|g| g["indicator"].as_str().unwrap().to_owned())
        .collect()
}

fn without(
    mut m: BTreeMap<(String, i64), i64>,
    ids: &BTreeSet<String>,
) -> BTreeMap<(String, i64), i64> {
    m.retain(|(i, _), _| !ids.contains(i));
    m
}

/// The exported STIX sightings: (indicator, window start) → count.
fn exported(db: &str, dir: &Path) -> BTreeMap<(String, i64), i64> {
    let f = dir.join("sightings.json");
    nadhir(
        db,
        &[
            "export",
            "--collection",
            "sightings",
            "-o",
            f.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_str(&read_test_file(&f)).unwrap();
    let mut m = BTreeMap::new();
    for o in v["objects"].as_array().unwrap() {
        if o["type"] != "sighting" {
            continue;
        }
        let first = stix::Timestamp::parse(o["first_seen"].as_str().unwrap()).unwrap();
        let start = first.unix_micros().div_euclid(1_000_000).div_euclid(3600) * 3600;
        let key = (o["sighting_of_ref"].as_str().unwrap().to_owned(), start);
        assert!(
            m.insert(key.clone(), o["count"].as_i64().unwrap())
                .is_none(),
            "two sightings for {key:?}"
        );
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_one_killed_every_event_counted_once() {
    let Some((nats_url, pg)) = services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tel = fixture(dir.path(), 20_000);
    let db = Scratch::new(&pg).await;
    nadhir(
        &db.url,
        &["import", tel.join("indicators.json").to_str().unwrap()],
    );
    let nats = Nats::new(&nats_url);
    let published = nats.publish(&db.url, &[&tel.join("eve.json")]);
    assert_eq!(published, 20_000);
    let want = expected(&tel, "eve.json");
    assert!(want.values().sum::<i64>() >= 10, "{want:?}");

    // Two workers share one durable consumer; small batches so the stream takes a
    // while and the kill lands mid-stream.
    let consumer = format!("c{}", nats.stream.to_lowercase());
    let mut a = nats.worker(&db.url, &consumer, 50, 3);
    let b = nats.worker(&db.url, &consumer, 50, 3);
    // Kill `a` once some hits are counted (it has processed batches by then, or `b`
    // has: either way the stream is under way).
    let deadline = Instant::now() + Duration::from_secs(120);
    while hit_keys(&db.url).await < 4 {
        assert!(
            Instant::now() < deadline,
            "no progress: {}",
            hit_keys(&db.url).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        a.try_wait().unwrap().is_none(),
        "worker a finished before it could be killed"
    );
    a.kill().unwrap(); // SIGKILL
    let killed = a.wait().unwrap();
    assert!(!killed.success());
    let counted_at_kill = hit_keys(&db.url).await;
    let report = finish(b, Duration::from_secs(300)).await;
    eprintln!("survivor: {report}; hit keys at the kill: {counted_at_kill}");
    assert!(
        hit_keys(&db.url).await > counted_at_kill,
        "the survivor went on counting after the kill"
    );
    assert_eq!(report["report"]["late"], 0, "{report}");

    // Every planted event counted exactly once, in the store's windows and in the
    // exported STIX sightings (IOC indicators; see `general_ids`).
    let general = general_ids(&tel);
    assert_eq!(without(windows(&db.url).await, &general), want);
    assert_eq!(without(exported(&db.url, dir.path()), &general), want);
    nats.delete().await;
    db.drop_db().await;
}
