//! Benchmark: events per second of `nadhir watch --nats` workers sharing one JetStream
//! durable consumer, one worker and two workers, on the same published stream, over a
//! PostgreSQL store.
//!
//! ```text
//! bench/warning/nats_workers.sh [--quick] [--events N] [--runs K]
//! cargo build --release -p nadhir --bins --examples && target/release/examples/warning_nats_bench
//! ```
//!
//! Needs a NATS server with JetStream (`--nats URL`, else `NADHIR_BENCH_NATS_URL` or
//! `NADHIR_TEST_NATS_URL`) and PostgreSQL (`--postgres URL` of a database it may connect
//! to, else `NADHIR_BENCH_POSTGRES_URL` or `NADHIR_TEST_POSTGRES_URL`); every run gets a
//! scratch database of its own, dropped after it. The fixture
//! (`scripts/make_telemetry.py --events N`) is generated in a temporary directory, its
//! `eve.json` published once (one message per line); then per run and per worker count:
//! a fresh database with the fixture's 213 indicators, a new consumer on the stream, and
//! 1 or 2 workers with `--nats-batch 500 --nats-ack-wait 2 --idle-exit 2
//! --min-confidence 50`. Time is from starting the workers to the last one exiting,
//! minus the 2 s idle exit.
//!
//! Checks (exit status non-zero when one fails): the workers together processed every
//! published event, and the store's sighting windows equal the fixture's
//! `expected.json` for `eve.json` (every planted event counted exactly once; general
//! patterns, which each worker evaluates over its own events, are left out).
//! `--quick` (2,000 events, one run) is the smoke run CI affords.

// A benchmark harness: a failed setup step or check panics, which exits non-zero.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

mod support;
use support::{finish, fixture, nadhir_db as nadhir, windows, Nats, Windows};

struct Args {
    bin: PathBuf,
    events: u64,
    runs: usize,
    nats: String,
    postgres: String,
}

fn env_first(keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

fn parse_args() -> Args {
    let bin = env_first(&["NADHIR_BIN"])
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // target/<profile>/examples/warning_nats_bench → target/<profile>/nadhir
            let exe = std::env::current_exe().expect("own path");
            exe.parent()
                .and_then(Path::parent)
                .map(|d| d.join("nadhir"))
                .expect("target directory")
        });
    let mut a = Args {
        bin,
        events: 200_000,
        runs: 3,
        nats: env_first(&["NADHIR_BENCH_NATS_URL", "NADHIR_TEST_NATS_URL"]).unwrap_or_default(),
        postgres: env_first(&["NADHIR_BENCH_POSTGRES_URL", "NADHIR_TEST_POSTGRES_URL"])
            .unwrap_or_default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--quick" => {
                a.events = 2_000;
                a.runs = 1;
            }
            "--events" => a.events = val().parse().expect("--events N"),
            "--runs" => a.runs = val().parse().expect("--runs K"),
            "--bin" => a.bin = val().into(),
            "--nats" => a.nats = val(),
            "--postgres" => a.postgres = val(),
            other => panic!(
                "unknown argument {other}; usage: warning_nats_bench [--quick] [--events N] [--runs K] [--nats URL] [--postgres URL] [--bin PATH]"
            ),
        }
    }
    assert!(a.events > 0 && a.runs > 0, "sizes must be positive");
    assert!(
        !a.nats.is_empty() && !a.postgres.is_empty(),
        "a NATS URL and a PostgreSQL URL are needed (--nats, --postgres or the environment)"
    );
    assert!(
        a.bin.is_file(),
        "no nadhir binary at {} (build it: cargo build --release -p nadhir --bins, or pass --bin)",
        a.bin.display()
    );
    a
}

/// A unique name for this run (database, stream, subject, consumer).
fn run_name(what: &str, n: usize) -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!(
        "{what}_{}_{n}_{}",
        std::process::id(),
        micros % 1_000_000_000
    )
}

/// A scratch database.
struct Scratch {
    base: String,
    name: String,
    url: String,
}

impl Scratch {
    async fn new(base: &str, n: usize) -> Scratch {
        let name = run_name("nadhir_nats_bench", n);
        let mut conn = PgConnection::connect(base).await.unwrap();
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
        let (prefix, _) = base.split('?').next().unwrap().rsplit_once('/').unwrap();
        Scratch {
            base: base.to_owned(),
            url: format!("{prefix}/{name}"),
            name,
        }
    }

    async fn drop_db(self) {
        let mut conn = PgConnection::connect(&self.base).await.unwrap();
        conn.execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

/// The expected IOC sightings of `eve.json` (general patterns left out, see above).
fn expected(dir: &Path) -> (Windows, BTreeSet<String>) {
    let general = support::general_indicators(dir);
    let want = support::expected_sightings(dir, "eve.json")
        .into_iter()
        .filter(|((i, _), _)| !general.contains(i))
        .collect();
    (want, general)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = parse_args();
    let events = a.events;
    eprintln!(
        "warning_nats_bench: {events} EVE events, {} runs of 1 and 2 workers, binary {}",
        a.runs,
        a.bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let tel = fixture(dir.path(), events);
    let (want, general) = expected(&tel);
    let nats = Nats::new(&a.nats, "nadhirbench", &run_name("nb", 0).replace('_', ""));
    {
        let db = Scratch::new(&a.postgres, 0).await;
        let published = nats.publish(&a.bin, &db.url, &[&tel.join("eve.json")]);
        assert_eq!(published, events, "published events");
        db.drop_db().await;
    }
    const IDLE: u32 = 2;
    let mut results: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for run in 0..a.runs {
        for workers in [1usize, 2] {
            let db = Scratch::new(&a.postgres, 1 + 2 * run + workers).await;
            nadhir(
                &a.bin,
                &db.url,
                &["import", tel.join("indicators.json").to_str().unwrap()],
            );
            let consumer = format!("bench{run}w{workers}{}", nats.stream.to_lowercase());
            let started = Instant::now();
            let children: Vec<Child> = (0..workers)
                .map(|_| nats.worker(&a.bin, &db.url, &consumer, 500, IDLE))
                .collect();
            let mut total = 0u64;
            for c in children {
                let r = finish(c, Duration::from_secs(1800)).await;
                eprintln!("  worker: {}", r["report"]);
                total += r["report"]["events"].as_u64().unwrap();
            }
            // Each worker exits after IDLE seconds without messages.
            let secs = started.elapsed().as_secs_f64() - f64::from(IDLE);
            assert!(
                total >= events,
                "check failed: the workers processed {total} of {events} events"
            );
            let mut got = windows(&db.url).await;
            got.retain(|(i, _), _| !general.contains(i));
            assert_eq!(
                got, want,
                "check failed: the sighting windows differ from expected.json (exactly once)"
            );
            let rate = events as f64 / secs;
            println!(
                "run {run}: {workers} worker(s): {events} events in {secs:.2} s = {rate:.0} events/s"
            );
            results.entry(workers).or_default().push(rate);
            db.drop_db().await;
        }
    }
    let mut medians = BTreeMap::new();
    for (w, mut r) in results {
        r.sort_by(f64::total_cmp);
        let m = r[r.len() / 2];
        medians.insert(w, m);
        println!(
            "{w} worker(s): median {m:.0} events/s over {} runs ({:?})",
            r.len(),
            r.iter().map(|x| x.round()).collect::<Vec<_>>()
        );
    }
    if let (Some(one), Some(two)) = (medians.get(&1), medians.get(&2)) {
        println!(
            "two workers / one worker: {:.2}x (every event counted exactly once in every run)",
            two / one
        );
    }
    nats.delete().await;
}
