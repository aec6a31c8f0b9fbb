//! Early warning from NATS JetStream with two `nadhir watch` workers sharing one
//! durable consumer over one PostgreSQL store: one worker is killed with SIGKILL
//! mid-stream, the other finishes, and every planted event is counted exactly once in
//! the aggregated sightings (at-least-once delivery, deduplicated in the store). A
//! worker that drains the stream while a dead consumer's messages are unacknowledged
//! waits for their redelivery before it exits on idle.
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
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgConnection};

mod common;
#[path = "../examples/support/mod.rs"]
mod support;
use common::{run_name, Scratch};
use support::{finish, fixture, read_fixture_file as read_test_file, windows, Nats};

const BIN: &str = env!("CARGO_BIN_EXE_nadhir");

fn nadhir(db: &str, args: &[&str]) -> Output {
    support::nadhir_db(Path::new(BIN), db, args)
}

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

async fn hit_keys(db: &str) -> i64 {
    let mut conn = PgConnection::connect(db).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM hit_keys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

/// The general (not IOC-shaped) indicators of the fixture. Each worker evaluates them
/// over the events it receives, so a FOLLOWEDBY whose two events went to different
/// workers is not seen: they are left out of the exactly-once comparison.
fn general_ids(dir: &Path) -> BTreeSet<String> {
    support::general_indicators(dir)
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
    // The import signs with the node key, which lives in this database's data
    // directory, never in the working directory.
    let node_dir = support::data_dir_for(&db.url);
    assert!(
        node_dir.join("node.key").is_file(),
        "{}",
        node_dir.display()
    );
    let nats = Nats::new(&nats_url, "nadhirtest", &run_name("nw").replace('_', ""));
    let published = nats.publish(Path::new(BIN), &db.url, &[&tel.join("eve.json")]);
    assert_eq!(published, 20_000);
    let want = support::expected_sightings(&tel, "eve.json");
    assert!(want.values().sum::<i64>() >= 10, "{want:?}");

    // Two workers share one durable consumer; small batches so the stream takes a
    // while and the kill lands mid-stream.
    let consumer = format!("c{}", nats.stream.to_lowercase());
    let mut a = nats.worker(Path::new(BIN), &db.url, &consumer, 50, 3);
    let b = nats.worker(Path::new(BIN), &db.url, &consumer, 50, 3);
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
    let _ = std::fs::remove_dir_all(node_dir);
}

/// A worker that has drained the stream while messages another consumer of the same
/// durable took are still unacknowledged (that consumer died) does not exit on idle
/// before they are redelivered to it: every event is processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_exit_waits_for_a_dead_workers_messages() {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    use futures::StreamExt;

    let Some((nats_url, pg)) = services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tel = fixture(dir.path(), 200);
    let db = Scratch::new(&pg).await;
    let nats = Nats::new(&nats_url, "nadhirtest", &run_name("ni").replace('_', ""));
    let published = nats.publish(Path::new(BIN), &db.url, &[&tel.join("eve.json")]);
    assert!(published > 20, "{published}");
    let consumer = format!("c{}", nats.stream.to_lowercase());
    // A consumer that takes 20 messages and goes away without acknowledging them. Its
    // acknowledgement wait (6 s) is the durable's, which the worker reuses: the worker
    // drains the rest long before the 20 come back.
    {
        let client = async_nats::connect(&nats.url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(&nats.stream).await.unwrap();
        let c = stream
            .create_consumer(pull::Config {
                durable_name: Some(consumer.clone()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(6),
                max_ack_pending: 100_000,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut batch = c.fetch().max_messages(20).messages().await.unwrap();
        let mut taken = 0;
        while let Some(m) = batch.next().await {
            m.unwrap();
            taken += 1;
        }
        assert_eq!(taken, 20);
    }
    let started = Instant::now();
    let worker = nats.worker(Path::new(BIN), &db.url, &consumer, 50, 1);
    let report = finish(worker, Duration::from_secs(120)).await;
    eprintln!(
        "worker: {report} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        report["report"]["events"].as_u64(),
        Some(published),
        "{report}"
    );
    let node_dir = support::data_dir_for(&db.url);
    nats.delete().await;
    db.drop_db().await;
    let _ = std::fs::remove_dir_all(node_dir);
}
