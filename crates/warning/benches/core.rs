//! Throughput of the pure core: `cargo bench -p warning --bench core`.
//! Prints the median of 5 runs for each case (these machines are noisy).

// Benchmark inputs are built here; a failed unwrap is a broken benchmark.
#![allow(clippy::unwrap_used)]

use std::time::Instant;
use stix::{Object, Timestamp};
use warning::aggregate::{AggregatorConfig, SightingAggregator};
use warning::hit::{Hit, SourceRef};
use warning::watchlist::Watchlist;
use warning::Criticality;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(name: &str, items: usize, mut f: impl FnMut()) {
    let runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            items as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    println!(
        "{name:<48} {:>12.0} /s (median of 5; {items} items per run)",
        median(runs)
    );
}

fn main() {
    let identity = "identity--0b9a5a4e-6b7b-4c61-9d0e-0c2c7e6a2f11";
    let indicators: Vec<String> = (0..1000)
        .map(|i| format!("indicator--00000000-0000-4000-8000-{i:012}"))
        .collect();
    let base = 1_772_323_200i64; // 2026-03-01T00:00:00Z
    let n = 200_000usize;
    let hits: Vec<Hit> = (0..n)
        .map(|i| Hit {
            event_id: format!("eve.json:{}", i * 400),
            indicator_id: indicators[i % indicators.len()].clone(),
            observable_type: "domain-name".into(),
            value: format!("Host{}.Evil.Example.", i % 5000),
            observed_at: Timestamp::from_unix_millis((base + (i as i64 * 7200 / n as i64)) * 1000),
            source: SourceRef {
                kind: "suricata-eve".into(),
                name: "eve.json".into(),
            },
            asset: None,
        })
        .collect();
    bench("aggregate: ingest (1 000 indicators, 2 windows)", n, || {
        let mut agg = SightingAggregator::new(AggregatorConfig::new(identity)).unwrap();
        for h in &hits {
            agg.ingest(h).unwrap();
        }
        std::hint::black_box(agg.drain(Timestamp::from_unix_millis((base + 7200) * 1000)));
    });
    bench("aggregate: redelivered duplicates", n, || {
        let mut agg = SightingAggregator::new(AggregatorConfig::new(identity)).unwrap();
        for h in &hits[..1000] {
            agg.ingest(h).unwrap();
        }
        for i in 0..n {
            std::hint::black_box(agg.ingest(&hits[i % 1000]).unwrap());
        }
    });

    let mut w = Watchlist::new();
    for i in 0..200 {
        w.add(
            &format!("d{i}"),
            "owner",
            Criticality::High,
            &format!("brand{i}bank.com"),
        )
        .unwrap();
        w.add(
            &format!("r{i}"),
            "owner",
            Criticality::High,
            &format!("10.{i}.0.0/16"),
        )
        .unwrap();
    }
    let objs: Vec<Object> = (0..2000)
        .map(|i| {
            Object::from_value(serde_json::json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--10000000-0000-4000-8000-{i:012}"),
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "pattern": format!("[domain-name:value = 'login-{i}.phish{i}.example'] OR [ipv4-addr:value = '203.0.{}.{}']", i % 250, i % 200),
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            }))
            .unwrap()
        })
        .collect();
    bench(
        "watchlist: check indicator (200 domains + 200 CIDRs)",
        objs.len(),
        || {
            for o in &objs {
                std::hint::black_box(w.check(o));
            }
        },
    );
}
