//! The loops `nadhir serve` runs for federation:
//!
//! - **sync**: pull from every peer with an address, and push new objects to the peers
//!   marked for push, every interval;
//! - **outbox**: deletions here (store tombstones, whole-store or from a collection) become `delete` entries for the
//!   partners holding the object; a new version of an object a partner holds is
//!   re-checked against the terms, and recalled when it may no longer be held;
//! - **retention**: received objects past their agreement's retention are deleted.

use std::sync::Arc;
use std::time::Duration;

use store::{Query, VersionFilter};

use crate::error::FederationError;
use crate::node::Node;

const OUTBOX_TOMBSTONES: &str = "federation.outbox.tombstones";
const OUTBOX_CURSOR: &str = "federation.outbox.cursor";

/// One pass of the outbox; returns the ledger entries it recorded.
pub async fn outbox_once(node: &Node) -> Result<u64, FederationError> {
    let store = node.store.as_ref();
    let mut recorded = 0;
    let after: i64 = store
        .get_state(OUTBOX_TOMBSTONES)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tombs = store.tombstones(after, 1000).await?;
    if let Some(last) = tombs.last().map(|t| t.seq) {
        // A deletion from one collection counts too: a partner holds the object because
        // it was in one of this node's collections.
        let mut ids: Vec<String> = tombs.into_iter().map(|t| t.id).collect();
        ids.sort();
        ids.dedup();
        recorded += crate::recall::propagate_deletes(node, &ids, "deleted at this node").await?;
        store
            .set_state(OUTBOX_TOMBSTONES, &last.to_string())
            .await?;
    }
    let cursor: i64 = store
        .get_state(OUTBOX_CURSOR)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let page = store
        .query(&Query {
            versions: VersionFilter::all(),
            after_cursor: Some(cursor),
            limit: Some(5000),
            with_body: false,
            ..Query::default()
        })
        .await?;
    if let Some(last) = page.objects.last().map(|o| o.cursor) {
        // A node that never sent anything has nothing to recall: new versions need no
        // check against the ledger (one indexed read instead of one per page of them).
        if !store.egress_after(0, None, 1).await?.is_empty() {
            let ids: hashbrown::HashSet<String> = page.objects.into_iter().map(|o| o.id).collect();
            recorded += crate::recall::recheck_only(node, None, Some(&ids))
                .await?
                .len() as u64;
        }
        store.set_state(OUTBOX_CURSOR, &last.to_string()).await?;
    }
    Ok(recorded)
}

/// Deletes received objects whose retention ended; returns how many.
pub async fn retention_once(node: &Node) -> Result<u64, FederationError> {
    let store = node.store.as_ref();
    let expired = store.expired_meta(store::now_micros(), 1000).await?;
    for id in &expired {
        store
            .delete_object(None, id, &VersionFilter::all(), &[])
            .await?;
        store.delete_meta(id).await?;
    }
    crate::recall::propagate_deletes(node, &expired, "retention ended").await?;
    Ok(expired.len() as u64)
}

/// Runs the sync, outbox and retention loops until `stop` turns true.
pub fn spawn(
    node: Arc<Node>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut retention_at = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
            for (peer, r) in crate::sync::pull_all(&node).await {
                match r {
                    Ok(r) if r.stored > 0 || r.removed > 0 || !r.rejected.is_empty() => {
                        tracing::info!(peer = %peer, stored = r.stored, removed = r.removed, rejected = r.rejected.len(), "synced");
                        for why in &r.rejected {
                            tracing::warn!(peer = %peer, reason = %why, "object rejected");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(peer = %peer, code = e.code(), error = %e, "sync failed; retrying next round")
                    }
                }
            }
            match crate::directory::list_peers(node.store.as_ref()).await {
                Ok(peers) => {
                    for p in peers.iter().filter(|p| p.push && p.url.is_some()) {
                        match crate::sync::push_peer(&node, p).await {
                            Ok(r) if !r.refused.is_empty() => {
                                tracing::warn!(peer = %p.name, refused = ?r.refused, "the peer refused pushed objects");
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(peer = %p.name, code = e.code(), error = %e, "push failed; retrying next round")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(code = e.code(), error = %e, "cannot list peers"),
            }
            if let Err(e) = outbox_once(&node).await {
                tracing::warn!(code = e.code(), error = %e, "outbox pass failed");
            }
            if retention_at.elapsed() >= Duration::from_secs(60) {
                retention_at = tokio::time::Instant::now();
                match retention_once(&node).await {
                    Ok(n) if n > 0 => tracing::info!(
                        deleted = n,
                        "retention: deleted received objects past their retention"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(code = e.code(), error = %e, "retention pass failed"),
                }
            }
        }
    })
}
