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
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

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

/// A domain indicator `[domain-name:value = 'hit-<i>.alert.example']`.
fn indicator(i: usize) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator_id(i),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("bench indicator {i}"),
        "indicator_types": ["malicious-activity"],
        "pattern": format!("[domain-name:value = 'hit-{i}.alert.example']"),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": "2026-01-01T00:00:00Z",
        "confidence": 80
    })
}

fn indicator_id(i: usize) -> String {
    format!("indicator--6b1d0c3e-0000-4000-8000-{i:012}")
}

/// An EVE DNS query for `name` (no timestamp: the engine uses the arrival time).
fn dns_event(name: &str) -> String {
    json!({
        "event_type": "dns",
        "src_ip": "10.1.2.3",
        "src_port": 53000,
        "dest_ip": "10.1.2.53",
        "dest_port": 53,
        "proto": "UDP",
        "dns": {"type": "query", "id": 7, "rrname": name, "rrtype": "A"}
    })
    .to_string()
}

struct Node {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    data: PathBuf,
    child: Option<Child>,
    base: String,
    tokens: BTreeMap<&'static str, String>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn run_ok(bin: &Path, data: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nadhir {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Node {
    fn new(bin: &Path, indicators: usize) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let bundle = json!({
            "type": "bundle",
            "id": "bundle--6b1d0c3e-0000-4000-8000-000000000000",
            "objects": (0..indicators).map(indicator).collect::<Vec<_>>(),
        });
        let f = dir.path().join("indicators.json");
        std::fs::write(&f, bundle.to_string()).unwrap();
        let org = [
            "admin",
            "org",
            "add",
            "--name",
            "bank",
            "--kind",
            "constituent",
        ];
        run_ok(bin, &data, &org);
        // The bank runs this node: what it imports is its own, and its accounts read the
        // alerts about it.
        run_ok(bin, &data, &["node", "set", "--org", "bank"]);
        run_ok(bin, &data, &["import", f.to_str().unwrap()]);
        let mut tokens = BTreeMap::new();
        for role in ["sensor", "reader"] {
            let out = run_ok(
                bin,
                &data,
                &["admin", "token", "create", "--org", "bank", "--role", role],
            );
            let t = out.trim().to_owned();
            assert!(t.starts_with("ndr_"), "{t}");
            tokens.insert(role, t);
        }
        Node {
            _dir: dir,
            bin: bin.to_owned(),
            data,
            child: None,
            base: String::new(),
            tokens,
        }
    }

    fn start(&mut self, extra: &[&str]) {
        let mut child = Command::new(&self.bin)
            .arg("--data-dir")
            .arg(&self.data)
            .args(["serve", "--listen", "127.0.0.1:0", "--reload-ms", "100"])
            .args(extra)
            .env_remove("NADHIR_DATABASE_URL")
            .env_remove("NADHIR_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        self.child = Some(child);
        // The discovery URL: http://127.0.0.1:PORT/taxii2/
        let url = url.trim();
        let rest = url.strip_prefix("http://").expect(url);
        let host = rest.split('/').next().unwrap();
        self.base = format!("http://{host}");
    }

    fn token(&self, role: &str) -> &str {
        self.tokens.get(role).unwrap()
    }
}

/// A Server-Sent Events reader over a reqwest response.
struct Sse {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

struct SseEvent {
    event: String,
    data: String,
}

impl Sse {
    async fn open(client: &reqwest::Client, base: &str, token: &str) -> Sse {
        let resp = client
            .get(format!("{base}/warning/stream"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        Sse {
            body: resp.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped), or `None` after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().to_owned();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !ev.data.is_empty() {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(ev);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return None,
                Ok(None) => panic!("the event stream ended"),
                Ok(Some(chunk)) => self
                    .buf
                    .push_str(&String::from_utf8_lossy(&chunk.unwrap()).replace("\r\n", "\n")),
            }
        }
    }
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
    let mut sse = Sse::open(&client, &node.base, node.token("reader")).await;
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
