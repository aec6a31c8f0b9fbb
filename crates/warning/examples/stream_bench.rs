//! Throughput of streaming pattern evaluation (`warning::stream`):
//! `cargo run --release -p warning --example stream_bench [-- RUNS [PLANTED_PERCENT]]`.
//!
//! 1 000 general (non-IOC-shaped) patterns — sequences, repeats, joins across
//! observations, and `LIKE` repeats that no exact-string prefilter can skip — over 200 000
//! events (one `ipv4-addr` + one `domain-name` each, 100 events per second of event
//! time, PLANTED_PERCENT (default 2) % of them carrying an indicator value, 1 % arriving
//! up to 30 s out of order). Events are built in batches outside the timed section; only
//! `StreamEvaluator::observe` is timed, with the default `StreamConfig`. Prints the
//! median of RUNS (default 3) runs.

// Benchmark inputs are built here; a failed unwrap is a broken benchmark.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use matcher::{KindMask, ObservableKind};
use serde_json::json;
use stix::Timestamp;
use warning::stream::{Observation, StreamConfig, StreamEvaluator};

const PATTERNS: usize = 1_000;
const EVENTS: usize = 200_000;
const BATCH: usize = 10_000;
/// 2026-03-01T00:00:00Z in microseconds.
const BASE: i64 = 1_772_323_200_000_000;

/// xorshift64*: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn ioc_ip(i: usize) -> String {
    format!("198.51.{}.{}", i / 250, i % 250)
}

fn ioc_domain(i: usize) -> String {
    format!("d{i}.example")
}

fn pattern(i: usize) -> String {
    let (ip, dom) = (ioc_ip(i), ioc_domain(i));
    match i % 10 {
        0..=3 => format!(
            "([domain-name:value = '{dom}'] FOLLOWEDBY [ipv4-addr:value = '{ip}']) WITHIN 60 SECONDS"
        ),
        4..=6 => format!("[ipv4-addr:value = '{ip}'] REPEATS 5 TIMES WITHIN 300 SECONDS"),
        7 | 8 => format!(
            "([ipv4-addr:value = '{ip}'] AND [domain-name:value = '{dom}']) WITHIN 120 SECONDS"
        ),
        _ => format!("[domain-name:value LIKE '%.bad{i}.example'] REPEATS 2 TIMES WITHIN 60 SECONDS"),
    }
}

fn event(rng: &mut Rng, n: usize, planted_percent: u64) -> Observation {
    let mut micros = BASE + n as i64 * 10_000;
    if rng.below(100) == 0 {
        micros -= rng.below(30_000_000) as i64; // up to 30 s late
    }
    let planted = rng.below(100) < planted_percent;
    let i = rng.below(PATTERNS as u64) as usize;
    let ip = if planted && rng.below(2) == 0 {
        ioc_ip(i)
    } else {
        format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.below(254) + 1
        )
    };
    let domain = if planted {
        if i % 10 == 9 {
            format!("x{}.bad{i}.example", rng.below(1000))
        } else {
            ioc_domain(i)
        }
    } else {
        format!("host{}.example.net", rng.below(1_000_000))
    };
    Observation {
        event_id: format!("bench:{n}"),
        time: Timestamp::from_unix_micros(micros),
        scos: vec![
            json!({"type": "ipv4-addr", "value": ip}),
            json!({"type": "domain-name", "value": domain}),
        ],
    }
}

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`), to report rates per
/// CPU-second on a shared machine; `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let mut f = std::fs::File::open("/proc/thread-self/schedstat").ok()?;
    let mut buf = [0u8; 256];
    let n = std::io::Read::read(&mut f, &mut buf).ok()?;
    let text = std::str::from_utf8(buf.get(..n)?).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(3);
    let planted: u64 = std::env::args()
        .nth(2)
        .map(|a| a.parse().unwrap())
        .unwrap_or(2);
    let kinds = KindMask::default()
        .with(ObservableKind::Ipv4Addr.bit())
        .with(ObservableKind::DomainName.bit());
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    for run in 0..runs {
        let mut s = StreamEvaluator::new(StreamConfig::default()).unwrap();
        let t = Instant::now();
        for i in 0..PATTERNS {
            s.add_pattern(&format!("indicator--{i}"), &pattern(i))
                .unwrap();
        }
        let compile = t.elapsed();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut out = Vec::new();
        let mut matches = 0usize;
        let mut timed = Duration::ZERO;
        let mut cpu_ns = 0u64;
        let mut peak = 0usize;
        let mut peak_bytes = 0usize;
        let mut n = 0;
        while n < EVENTS {
            let batch: Vec<Observation> = (n..n + BATCH)
                .map(|k| event(&mut rng, k, planted))
                .collect();
            n += BATCH;
            let cpu = thread_cpu_ns();
            let t = Instant::now();
            for e in batch {
                s.observe(e, kinds, &mut out).unwrap();
                matches += out.len();
                out.clear();
            }
            timed += t.elapsed();
            if let (Some(a), Some(b)) = (cpu, thread_cpu_ns()) {
                cpu_ns += b.saturating_sub(a);
            }
            peak = peak.max(s.len());
            peak_bytes = peak_bytes.max(s.buffered_bytes());
        }
        let rate = EVENTS as f64 / timed.as_secs_f64();
        let cpu_rate = EVENTS as f64 / (cpu_ns.max(1) as f64 / 1e9);
        let st = s.stats();
        println!(
            "run {run}: {rate:>9.0} events/s wall, {cpu_rate:>9.0} per CPU-second ({EVENTS} events in {:.2} s; {PATTERNS} patterns compiled in {:.1} ms); \
             matches {matches}; buffered {} (peak {peak}, {:.1} MiB), unrelated {}, late {}, expired {}, \
             evaluations {}, budget {}, errors {}",
            timed.as_secs_f64(),
            compile.as_secs_f64() * 1e3,
            st.buffered,
            peak_bytes as f64 / (1 << 20) as f64,
            st.unrelated,
            st.late,
            st.expired,
            st.evaluations,
            st.budget_exhausted,
            st.eval_errors,
        );
        rates.push(rate);
        cpu_rates.push(cpu_rate);
    }
    rates.sort_by(f64::total_cmp);
    cpu_rates.sort_by(f64::total_cmp);
    println!(
        "median of {runs}: {:.0} events/s wall, {:.0} events per CPU-second ({planted} % planted)",
        rates[rates.len() / 2],
        cpu_rates[cpu_rates.len() / 2]
    );
}
