//! Graceful shutdown and background ingestion: a POST answered 202 `pending` is never
//! left pending by `AppState::drain_ingest`: it finishes within the grace period, or
//! its unprocessed objects are reported as failures and the status completes.
#![allow(clippy::unwrap_used)]

mod server_support;

use std::collections::HashSet;
use std::time::Duration;

use server_support::*;
use store::{CollectionId, Stats};
use taxii::server::{ServerConfig, ABANDONED_AT_SHUTDOWN};

/// A node that sends envelopes of more than 10 objects to the background.
async fn background_node() -> Node {
    let mut cfg = ServerConfig::with_roots(["api", "api2"]).with_max_content_length(64 << 20);
    cfg.inline_ingest_max = 10;
    node_with(cfg).await
}

fn stored_in(stats: &Stats, collection: &str) -> u64 {
    stats
        .by_collection
        .iter()
        .find(|(c, _, _)| *c == CollectionId(collection.into()))
        .map_or(0, |(_, _, n)| *n)
}

fn objects(n: u32) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| indicator(i, "2024-01-01T00:00:00.000Z"))
        .collect()
}

async fn post_pending(n: &Node, objs: &[serde_json::Value]) -> String {
    let r = n.post_objects(SHARED, objs).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let st = r.json();
    assert_eq!(st["status"], "pending", "{st}");
    st["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn shutdown_past_the_grace_period_reports_unprocessed_objects_as_failures() {
    let n = background_node().await;
    let total = 40_000u32;
    let objs = objects(total);
    let sid = post_pending(&n, &objs).await;

    // No grace at all: the ingestion has only just started.
    let report = n.state.drain_ingest(Duration::ZERO).await;
    assert_eq!(report.running_at_start, 1, "{report:?}");
    assert!(!report.finished_in_grace, "{report:?}");
    assert_eq!(report.still_running, 0, "{report:?}");

    let st = n.get(&format!("/api/status/{sid}/")).await.json();
    assert_eq!(st["status"], "complete", "{st}");
    assert_eq!(st["pending_count"], 0);
    assert!(st.get("pendings").is_none());
    let ok = st["success_count"].as_u64().unwrap();
    let failed = st["failure_count"].as_u64().unwrap();
    assert_eq!(ok + failed, u64::from(total));
    assert!(
        failed > 0,
        "stopped before the end: {ok} stored, {failed} failed"
    );
    let failures = st["failures"].as_array().unwrap();
    assert_eq!(failures.len() as u64, failed);
    assert!(failures
        .iter()
        .all(|f| f["message"] == ABANDONED_AT_SHUTDOWN));
    assert_eq!(st["successes"].as_array().map_or(0, Vec::len) as u64, ok);

    // Every object is accounted for exactly once, and what is reported stored is stored.
    let mut seen = HashSet::new();
    for d in failures
        .iter()
        .chain(st["successes"].as_array().into_iter().flatten())
    {
        assert!(seen.insert(d["id"].as_str().unwrap().to_owned()), "{d}");
    }
    assert_eq!(seen.len(), total as usize);
    assert_eq!(stored_in(&n.store.stats().await.unwrap(), SHARED), ok);

    // A second drain finds nothing running.
    let again = n.state.drain_ingest(Duration::from_secs(1)).await;
    assert_eq!(again.running_at_start, 0);
    assert!(again.finished_in_grace);
}

#[tokio::test]
async fn shutdown_within_the_grace_period_finishes_the_ingestion() {
    let n = background_node().await;
    let objs = objects(3_000);
    let sid = post_pending(&n, &objs).await;

    let report = n.state.drain_ingest(Duration::from_secs(120)).await;
    assert_eq!(report.running_at_start, 1, "{report:?}");
    assert!(report.finished_in_grace, "{report:?}");
    assert_eq!(report.still_running, 0);

    let st = n.get(&format!("/api/status/{sid}/")).await.json();
    assert_eq!(st["status"], "complete", "{st}");
    assert_eq!(st["success_count"], 3_000);
    assert_eq!(st["failure_count"], 0);
    assert_eq!(stored_in(&n.store.stats().await.unwrap(), SHARED), 3_000);
}

#[tokio::test]
async fn a_background_post_after_the_stop_completes_with_every_object_failed() {
    let n = background_node().await;
    // Stop first (nothing running), then a late POST arrives on a kept-alive connection.
    let sid = post_pending(&n, &objects(2_000)).await;
    let report = n.state.drain_ingest(Duration::ZERO).await;
    assert_eq!(report.still_running, 0, "{report:?}");
    let late = post_pending(&n, &objects(50)).await;
    let report = n.state.drain_ingest(Duration::from_secs(30)).await;
    assert!(report.finished_in_grace, "{report:?}");
    let st = n.get(&format!("/api/status/{late}/")).await.json();
    assert_eq!(st["status"], "complete", "{st}");
    assert_eq!(st["pending_count"], 0);
    assert_eq!(st["success_count"], 0, "{st}");
    assert_eq!(st["failure_count"], 50, "{st}");
    assert!(st["failures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["message"] == ABANDONED_AT_SHUTDOWN));
    let first = n.get(&format!("/api/status/{sid}/")).await.json();
    assert_eq!(first["status"], "complete", "{first}");
}
