//! End-to-end early-warning throughput: the engine reading telemetry files through the
//! file source (framing, scanning against the live index, counting hits, writing
//! sightings and alerts into a SQLite store) with N active indicators, side by side with
//! the floor: just parsing the same lines (`serde_json` into `IgnoredAny`), once over
//! the file already in memory and once reading it in the timed region as the engine
//! does. The floor reading the file is timed again right after each engine run; the
//! summary gives the median of its readings and the median of each run's own ratio, and
//! the first pass (run 0, the only one that counts hits and writes first versions) on
//! its own, since later runs re-read the same file and only meet duplicates.
//!
//! ```text
//! cargo run --release -p warning --example watch_bench -- INDICATORS RUNS EXTRA_BUNDLE FILE...
//! ```
//!
//! INDICATORS generated IOC indicators (domains, IPv4, URLs, SHA-256) are stored first,
//! plus the indicators of EXTRA_BUNDLE (e.g. the fixture's `indicators.json`, whose values
//! are planted in the telemetry). Rates are per CPU-second of the whole process (all
//! threads) for the engine, and of the measuring thread for the floor, so they are "per
//! core" whatever else the machine runs; wall times are printed too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use store::{NewObject, Store};
use warning::engine::source::FileSource;
use warning::engine::{Engine, EngineConfig};

/// The allocator `nadhir` itself runs with, so the engine is measured as it ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn proc_cpu_seconds() -> f64 {
    // CPU time of every thread of the process, in nanoseconds (the first field of each
    // thread's schedstat), rather than /proc/self/stat's 10 ms clock ticks: runs take
    // about a second, so ticks would round them by 1 %. A thread that ended during a run
    // is not counted; the engine's threads live for the whole run.
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").expect("procfs") {
        let path = task.expect("task").path().join("schedstat");
        if let Ok(s) = std::fs::read_to_string(path) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 / 1e9
}

fn thread_cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("procfs");
    s.split_whitespace().next().unwrap().parse::<f64>().unwrap() / 1e9
}

fn vm_hwm_mib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("procfs");
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

fn indicator(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let word: String = (0..7)
        .map(|_| char::from(b'a' + (next() % 26) as u8))
        .collect();
    let pattern = match i % 10 {
        0..=4 => format!("[domain-name:value = '{word}{i}.example.com']"),
        5..=7 => format!(
            "[ipv4-addr:value = '{}.{}.{}.{}']",
            11 + next() % 200,
            next() % 256,
            next() % 256,
            1 + next() % 254
        ),
        8 => format!(
            "[url:value = 'http://{word}{i}.example.net/p/{}']",
            next() % 100_000
        ),
        _ => format!(
            "[file:hashes.'SHA-256' = '{:016x}{:016x}{:016x}{:016x}']",
            next(),
            next(),
            next(),
            next()
        ),
    };
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--{:08x}-0000-4000-8000-{:012x}","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"{pattern}","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}}"#,
        (i >> 48) as u32,
        i & 0xffff_ffff_ffff
    )
}

/// The lines of `data` (found with `memchr`, as the engine's framing does).
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0usize;
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        start = end + 1;
        Some(line)
    })
}

fn floor(path: &str) -> (u64, f64, f64) {
    let mut f = std::fs::File::open(path).expect("events file");
    let mut data = Vec::new();
    f.read_to_end(&mut data).expect("read");
    let (t0, w0) = (thread_cpu_seconds(), Instant::now());
    let mut n = 0u64;
    for line in lines(&data) {
        if line.is_empty() {
            continue;
        }
        let _ = std::hint::black_box(serde_json::from_slice::<serde::de::IgnoredAny>(line));
        n += 1;
    }
    (n, thread_cpu_seconds() - t0, w0.elapsed().as_secs_f64())
}

/// The floor with the file read inside the timed region, as the engine reads it: 16 MiB
/// reads into one reused buffer, lines framed with `memchr` (a line cut by the end of a
/// read is completed by the next), each line parsed into `IgnoredAny`. The engine's
/// rate includes reading the file from the page cache; this floor is its like for like.
fn floor_reading(path: &str) -> (u64, f64) {
    let mut f = std::fs::File::open(path).expect("events file");
    let t0 = thread_cpu_seconds();
    let mut buf = vec![0u8; 16 << 20];
    let (mut filled, mut n) = (0usize, 0u64);
    loop {
        let got = f.read(&mut buf[filled..]).expect("read");
        filled += got;
        let eof = got == 0;
        let mut start = 0usize;
        while let Some(i) = memchr::memchr(b'\n', &buf[start..filled]) {
            let line = &buf[start..start + i];
            if !line.is_empty() {
                let _ = std::hint::black_box(serde_json::from_slice::<serde::de::IgnoredAny>(line));
                n += 1;
            }
            start += i + 1;
        }
        if eof {
            if start < filled {
                let _ = std::hint::black_box(serde_json::from_slice::<serde::de::IgnoredAny>(
                    &buf[start..filled],
                ));
                n += 1;
            }
            break;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    (n, thread_cpu_seconds() - t0)
}

/// The scanner alone over the same lines, with the engine's live index and field map
/// (no framing, no general patterns, no store): what the pipeline adds is the engine's
/// cost minus this.
fn scanner_only(path: &str, engine: &Engine) -> (u64, u64, f64) {
    let mut f = std::fs::File::open(path).expect("events file");
    let mut data = Vec::new();
    f.read_to_end(&mut data).expect("read");
    let live = engine.live();
    let mut scanner = matcher::scan::Scanner::new(engine.config().field_map.clone());
    let t0 = thread_cpu_seconds();
    let (mut n, mut hits) = (0u64, 0u64);
    for line in lines(&data) {
        if line.is_empty() {
            continue;
        }
        let mut sink = |_: &matcher::scan::Hit<'_>| hits += 1;
        let _ = std::hint::black_box(scanner.scan(&live.layers, line, &mut sink));
        n += 1;
    }
    (n, hits, thread_cpu_seconds() - t0)
}

fn scan_only_mode(n: u64, runs: usize, extra: &str, files: &[String]) {
    let t = Instant::now();
    let mut b = matcher::IndexBuilder::new();
    let mut add = |o: &serde_json::Value| {
        let _ = matcher::compile::compile_indicator(&mut b, o, "/");
    };
    for i in 0..n {
        add(&serde_json::from_str(&indicator(i)).expect("generated indicator"));
    }
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(extra).expect("bundle")).expect("json");
    for o in bundle["objects"].as_array().expect("objects") {
        if o["type"] == "indicator" {
            add(o);
        }
    }
    let index = b.build().expect("index");
    println!(
        "index of {n} + extra built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let map = Arc::new(matcher::fields::FieldMap::auto());
    for path in files {
        let mut data = Vec::new();
        std::fs::File::open(path)
            .expect("events file")
            .read_to_end(&mut data)
            .expect("read");
        let mut scanner = matcher::scan::Scanner::new(map.clone());
        let mut rates = Vec::new();
        for _ in 0..runs {
            let t0 = thread_cpu_seconds();
            let (mut n, mut hits) = (0u64, 0u64);
            for line in lines(&data) {
                if line.is_empty() {
                    continue;
                }
                let mut sink = |_: &matcher::scan::Hit<'_>| hits += 1;
                let _ = std::hint::black_box(scanner.scan(&index, line, &mut sink));
                n += 1;
            }
            let cpu = thread_cpu_seconds() - t0;
            println!(
                "{path} scanner alone: {n} events, {hits} hits, {cpu:.3} CPU-s: {:.0} events/CPU-s",
                n as f64 / cpu
            );
            rates.push(n as f64 / cpu);
        }
        let (lines, fcpu, _) = floor(path);
        println!(
            "SCAN {path}: scanner median {:.0} events/CPU-s; floor {:.0} lines/CPU-s",
            median(rates),
            lines as f64 / fcpu
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: watch_bench INDICATORS RUNS EXTRA_BUNDLE FILE...");
        std::process::exit(2);
    }
    let n: u64 = args[1].parse().expect("INDICATORS");
    let runs: usize = args[2]
        .parse()
        .ok()
        .filter(|&r| r >= 1)
        .expect("RUNS (at least 1)");
    let extra = &args[3];
    let files = &args[4..];

    // `WATCH_BENCH_SCAN_ONLY=1`: no store and no engine; the same indicators compiled
    // straight into an index, then the floor and the scanner alone over each file, RUNS
    // times (a quick loop for work on the scanner, and for `perf record`).
    if std::env::var_os("WATCH_BENCH_SCAN_ONLY").is_some() {
        scan_only_mode(n, runs, extra, files);
        return;
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = store::open(dir.path(), None).await.expect("store");
    let t = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n {
        batch.push(NewObject::from_object(
            &stix::Object::from_json_str(&indicator(i)).expect("generated indicator"),
        ));
        if batch.len() == 10_000 {
            store.insert(&batch, &[]).await.expect("insert");
            batch.clear();
        }
    }
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(extra).expect("bundle")).expect("json");
    for o in bundle["objects"].as_array().expect("objects") {
        if o["type"] == "indicator" {
            batch.push(NewObject::from_object(
                &stix::Object::from_json_str(&o.to_string()).expect("indicator"),
            ));
        }
    }
    store.insert(&batch, &[]).await.expect("insert");
    println!(
        "stored {} indicators in {:.1} s",
        n,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut cfg = EngineConfig::new("Bench node", "api");
    cfg.min_confidence = 50;
    let engine = Engine::start(store.clone(), cfg).await.expect("engine");
    let st = engine.live().status.clone();
    println!(
        "index: {} IOC + {} general indicators live in {:.1} s (build {} ms); VmHWM {} MiB",
        st.ioc_indicators,
        st.general_indicators,
        t.elapsed().as_secs_f64(),
        st.build_ms,
        vm_hwm_mib()
    );

    for path in files {
        let (lines, fcpu, fwall) = floor(path);
        let (rlines, rcpu) = floor_reading(path);
        assert_eq!(rlines, lines, "both floors parse every line");
        let (sn, shits, scpu) = scanner_only(path, &engine);
        println!(
            "{path} scanner alone: {sn} events, {shits} hits, {:.2} CPU-s: {:.0} events/CPU-s",
            scpu,
            sn as f64 / scpu.max(1e-9)
        );
        let mut rates = Vec::new();
        let mut walls = Vec::new();
        // The floor reading the file is timed again right after each engine run: this
        // machine's speed drifts within seconds, and a ratio of two readings taken
        // apart measures the drift as much as the engine.
        let mut beside = vec![rlines as f64 / rcpu.max(1e-9)];
        let mut pair_ratios = Vec::new();
        for run in 0..runs {
            // Start the file from the beginning each run.
            let key =
                warning::engine::source::checkpoint_key(&std::path::absolute(path).expect("path"));
            store.set_state(&key, "null").await.expect("state");
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let (c0, w0) = (proc_cpu_seconds(), Instant::now());
            let r = engine
                .run_file(FileSource::new(path, false), rx, |_, _| {})
                .await
                .expect("run");
            let (cpu, wall) = (proc_cpu_seconds() - c0, w0.elapsed().as_secs_f64());
            let rate = r.events as f64 / cpu.max(0.01);
            println!(
                "{path} run {run}: {} events, {} hits ({} counted, {} duplicates), {} pattern matches, {} undecodable; {:.3} s wall, {:.3} CPU-s: {:.0} events/CPU-s ({:.0}/s wall)",
                r.events,
                r.hits,
                r.counted,
                r.duplicates,
                r.pattern_matches,
                r.bad,
                wall,
                cpu,
                rate,
                r.events as f64 / wall
            );
            let (blines, bcpu) = floor_reading(path);
            assert_eq!(blines, lines, "the floor parses every line");
            let floor_beside = blines as f64 / bcpu.max(1e-9);
            println!(
                "{path} run {run}: floor reading the file right after: {floor_beside:.0} lines/CPU-s; engine/floor {:.2}",
                rate / floor_beside
            );
            rates.push(rate);
            walls.push(r.events as f64 / wall);
            beside.push(floor_beside);
            pair_ratios.push(rate / floor_beside);
        }
        let floor_rate = lines as f64 / fcpu.max(1e-9);
        let reading_rate = median(beside);
        // Run 0 is the first pass (every hit counted, every window's first versions and
        // alerts written); later runs re-read the file, so every hit is a duplicate.
        let (first, first_ratio) = (rates[0], pair_ratios[0]);
        let m = median(rates);
        println!(
            "SUMMARY {path}: engine median {:.0} events/CPU-s ({:.0}/s wall); floor {:.0} lines/CPU-s ({:.0}/s wall); ratio engine/floor {:.2}; floor reading the file {:.0} lines/CPU-s (median of {} readings), ratio {:.2}; median of the runs' ratios to the floor read right after each {:.2}; first pass {:.0} events/CPU-s, ratio {:.2}",
            m,
            median(walls),
            floor_rate,
            lines as f64 / fwall,
            m / floor_rate,
            reading_rate,
            runs + 1,
            m / reading_rate,
            median(pair_ratios),
            first,
            first_ratio
        );
    }
    // Time to effect: a new indicator arrives; the next poll rebuilds and swaps the
    // index while ingest could go on with the old one.
    let new = indicator(n + 1_000_000_007);
    store
        .insert(
            &[NewObject::from_object(
                &stix::Object::from_json_str(&new).expect("indicator"),
            )],
            &[],
        )
        .await
        .expect("insert");
    let t = Instant::now();
    assert!(engine.reload(false).await.expect("reload"), "change seen");
    let st = engine.live().status.clone();
    println!(
        "new indicator live after {:.2} s (build {} ms; time from its date_added to live {:?} ms; add the poll interval, 1 s by default)",
        t.elapsed().as_secs_f64(),
        st.build_ms,
        st.time_to_effect_ms
    );
    println!("VmHWM {} MiB", vm_hwm_mib());
}
