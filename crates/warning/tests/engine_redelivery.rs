//! An event delivered again long after the source moved on in event time (a NATS
//! message redelivered after the worker that held it died) is counted exactly once,
//! not dropped as late; only windows whose dedup keys were pruned refuse hits.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;
use warning::engine::pipeline::{Batch, EventIds};
use warning::engine::{ensure_sightings_collection, Engine, EngineConfig};
use warning::hit::SourceRef;

fn dns(ts: &str) -> String {
    json!({"timestamp": ts, "event_type": "dns", "src_ip": "10.0.0.1", "dest_ip": "10.0.0.53",
           "dns": {"type": "query", "rrname": "c2.redelivery.example", "rrtype": "A"}})
    .to_string()
}

fn batch(seq: u64, ts: &str) -> Batch {
    Batch {
        source: SourceRef {
            kind: "nats".into(),
            name: "TELEMETRY/workers".into(),
        },
        data: (dns(ts) + "\n").into_bytes(),
        ids: EventIds::PerLine(vec![format!("nats:TELEMETRY:{seq}")]),
    }
}

#[tokio::test]
async fn redelivered_old_event_counts_once_until_its_window_is_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), None).await.unwrap();
    let coll = ensure_sightings_collection(store.as_ref(), "api")
        .await
        .unwrap();
    let ind = stix::Object::from_value(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--00000000-0000-4000-8000-0000000000aa",
        "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
        "pattern": "[domain-name:value = 'c2.redelivery.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "confidence": 80
    }))
    .unwrap();
    store
        .insert(&[store::NewObject::from_object(&ind)], &[coll])
        .await
        .unwrap();
    let engine: Arc<Engine> = Engine::start(store.clone(), EngineConfig::new("node", "api"))
        .await
        .unwrap();

    // The source is at 12:00; the event of 10:10 (seq 1) arrives now, twice.
    let r = engine
        .process(batch(2, "2026-11-20T12:00:00.000000+0000"))
        .await
        .unwrap();
    assert_eq!(r.counted, 1);
    let old = "2026-11-20T10:10:00.000000+0000";
    let r = engine.process(batch(1, old)).await.unwrap();
    assert_eq!((r.counted, r.late), (1, 0), "{r:?}");
    let r = engine.process(batch(1, old)).await.unwrap();
    assert_eq!((r.counted, r.duplicates, r.late), (0, 1, 0), "{r:?}");

    // Once the 10:00 window's keys are pruned (the source is past 11:05), its hits are
    // late (they could otherwise be counted twice).
    let r = engine
        .process(batch(4, "2026-11-20T12:06:00.000000+0000"))
        .await
        .unwrap();
    assert_eq!(r.counted, 1);
    assert!(engine.prune().await.unwrap() >= 1);
    let r = engine.process(batch(1, old)).await.unwrap();
    assert_eq!((r.counted, r.late), (0, 1), "{r:?}");
    // The current window still counts.
    let r = engine
        .process(batch(3, "2026-11-20T12:00:01.000000+0000"))
        .await
        .unwrap();
    assert_eq!((r.counted, r.late), (1, 0), "{r:?}");
}
