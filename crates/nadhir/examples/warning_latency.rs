//! Benchmark: latency from writing a telemetry event to its alert on the live stream
//! (`GET /warning/stream`, Server-Sent Events) of a running `nadhir serve --watch FILE`.
//!
//! ```text
//! bench/warning/latency.sh [--quick] [--events N] [--rate R] [--runs K]
//! cargo build --release -p nadhir --bins --examples && target/release/examples/warning_latency
//! ```
//!
//! A fresh SQLite data directory gets `2 · events · runs` domain indicators, an
//! organisation and a token per role; `nadhir serve --listen 127.0.0.1:0 --watch FILE`
//! is started on it and the stream opened with a reader token. Per run and per path,
//! `events` EVE DNS events are written at `rate` per second, each hitting a new
//! indicator so each raises one alert; the clock starts just before the event is
//! written and stops when its `event: alert` arrives. Two paths in: `POST
//! /warning/ingest` (one event per request, sensor token) and appending the line to the
//! followed file. Prints p50 / p99 / max per run and path, then the medians over runs.
//!
//! Checks (exit status non-zero when one fails): every alert arrives, and arrives once.
//! `--quick` (20 events at 50/s, one run) is the smoke run CI affords; debug builds work
//! for it but measure nothing useful. The `nadhir` binary is `--bin PATH`, else
//! `NADHIR_BIN`, else the one next to this example's directory (`target/<profile>/nadhir`).

// A benchmark harness: a failed setup step or check panics, which exits non-zero.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/warning_node.rs"]
mod warning_node;
use warning_node::{dns_event, indicator_id, Node, Sse};

struct Args {
    bin: PathBuf,
    events: usize,
    rate: f64,
    runs: usize,
}

fn default_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("NADHIR_BIN") {
        return b.into();
    }
    // target/<profile>/examples/warning_latency → target/<profile>/nadhir
    let exe = std::env::current_exe().expect("own path");
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("nadhir"))
        .expect("target directory")
}

fn parse_args() -> Args {
    let mut a = Args {
        bin: default_bin(),
        events: 300,
        rate: 50.0,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--quick" => {
                a.events = 20;
                a.runs = 1;
            }
            "--events" => a.events = val().parse().expect("--events N"),
            "--rate" => a.rate = val().parse().expect("--rate R"),
            "--runs" => a.runs = val().parse().expect("--runs K"),
            "--bin" => a.bin = val().into(),
            other => panic!(
                "unknown argument {other}; usage: warning_latency [--quick] [--events N] [--rate R] [--runs K] [--bin PATH]"
            ),
        }
    }
    assert!(
        a.events > 0 && a.runs > 0 && a.rate > 0.0,
        "sizes must be positive"
    );
    assert!(
        a.bin.is_file(),
        "no nadhir binary at {} (build it: cargo build --release -p nadhir --bins, or pass --bin)",
        a.bin.display()
    );
    a
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One path, one run: `n` events from indicator `offset` on. Returns sorted latencies (ms).
async fn measure(
    node: &Node,
    watched: &Path,
    mode: &'static str,
    offset: usize,
    a: &Args,
) -> Vec<f64> {
    let n = a.events;
    let client = reqwest::Client::new();
    let mut sse = Sse::open(&client, &node.base, node.token("reader"), None).await;
    let sent: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let sender = {
        let sent = sent.clone();
        let client = client.clone();
        let base = node.base.clone();
        let token = node.token("sensor").to_owned();
        let watched = watched.to_owned();
        let rate = a.rate;
        tokio::spawn(async move {
            let gap = Duration::from_secs_f64(1.0 / rate);
            let mut next = tokio::time::Instant::now();
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&watched)
                .unwrap();
            for i in offset..offset + n {
                tokio::time::sleep_until(next).await;
                next += gap;
                let line = dns_event(&format!("hit-{i}.alert.example")) + "\n";
                sent.lock().unwrap().insert(indicator_id(i), Instant::now());
                if mode == "http" {
                    let r = client
                        .post(format!("{base}/warning/ingest"))
                        .bearer_auth(&token)
                        .body(line)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                } else {
                    use std::io::Write;
                    file.write_all(line.as_bytes()).unwrap();
                    file.flush().unwrap();
                }
            }
        })
    };
    let mut lat: Vec<f64> = Vec::with_capacity(n);
    let mut got = BTreeSet::new();
    while got.len() < n {
        let Some(ev) = sse.next(Duration::from_secs(30)).await else {
            panic!(
                "check failed ({mode}): {} of {n} alerts arrived, then none for 30 s",
                got.len()
            );
        };
        if ev.event != "alert" {
            continue;
        }
        let at = Instant::now();
        let v: Value = serde_json::from_str(&ev.data).unwrap();
        let ind = v["alert"]["indicator_id"].as_str().unwrap().to_owned();
        assert!(
            got.insert(ind.clone()),
            "check failed ({mode}): alert for {ind} twice"
        );
        let t0 = sent.lock().unwrap().get(&ind).copied();
        let t0 = t0.unwrap_or_else(|| panic!("check failed ({mode}): alert for {ind}, never sent"));
        lat.push((at - t0).as_secs_f64() * 1000.0);
    }
    sender.await.unwrap();
    // Nothing more may arrive: a late duplicate would break "exactly once".
    while let Some(ev) = sse.next(Duration::from_millis(500)).await {
        assert!(
            ev.event != "alert",
            "check failed ({mode}): an alert after all {n} arrived: {}",
            ev.data
        );
    }
    lat.sort_by(f64::total_cmp);
    lat
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = parse_args();
    let n = a.events;
    eprintln!(
        "warning_latency: {} runs of {n} events at {}/s per path, binary {}",
        a.runs,
        a.rate,
        a.bin.display()
    );
    let mut node = Node::new(&a.bin, 2 * n * a.runs);
    let watched = node.data.parent().unwrap().join("live-eve.json");
    std::fs::write(&watched, "").unwrap();
    node.start(&["--watch", watched.to_str().unwrap()]);
    let mut per_mode: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for run in 0..a.runs {
        for (k, mode) in ["http", "file"].into_iter().enumerate() {
            let offset = (2 * run + k) * n;
            let lat = measure(&node, &watched, mode, offset, &a).await;
            let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
            println!(
                "run {run}: latency {mode}: {n} events at {}/s: p50 {p50:.1} ms, p99 {p99:.1} ms, max {:.1} ms",
                a.rate,
                lat[lat.len() - 1]
            );
            let e = per_mode.entry(mode).or_default();
            e.0.push(p50);
            e.1.push(p99);
        }
    }
    for (mode, (p50s, p99s)) in per_mode {
        println!(
            "{mode}: median over {} runs: p50 {:.1} ms, p99 {:.1} ms (every alert arrived exactly once)",
            p50s.len(),
            median(p50s),
            median(p99s)
        );
    }
}
