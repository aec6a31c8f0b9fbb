//! Statuses left `pending` by a server that stopped without a graceful shutdown
//! (killed, power loss) are finalised by another server process, or by the next one on
//! the same store.
//!
//! Every server process has a random instance id ([`super::ServerState::instance`]) and
//! records that it is alive every [`super::ServerConfig::liveness_period`]
//! ([`store::Store::heartbeat`]). A background ingestion's status names its owner
//! instance and the collection it writes to. An instance not seen for
//! [`ORPHAN_AFTER_PERIODS`] periods (or without a liveness row: it left) is taken for
//! stopped; the statuses it owns are claimed ([`store::Store::claim_orphaned_statuses`],
//! a conditional update: one claimer wins, a live owner's status is never taken) and
//! finalised: each object still pending is looked up by (id, version) in the collection;
//! stored → success, absent → failure with [`ORPHANED_BY_STOP`].
//!
//! *Invariant*: a status never stays `pending` longer than [`ORPHAN_AFTER_PERIODS`]
//! liveness periods (plus one sweep) after its owner is gone, while any server runs on
//! the store. An owner that was only stalled (not stopped) finds at its next batch that
//! it no longer holds the status ([`store::WriteTx::holds_status`], checked in the
//! batch's transaction, which a claim waits for) and stops, so the finalised status
//! stays true.

use std::time::Duration;

use stix::Timestamp;
use store::StatusRecord;

use super::error::ServerError;
use super::{AppState, StatusDetail, StatusResource};

/// An instance not seen for this many liveness periods is taken for stopped.
pub const ORPHAN_AFTER_PERIODS: u32 = 3;

/// Statuses claimed per round of a sweep.
const CLAIM_BATCH: usize = 16;

/// Failure message of an object a server did not process before it stopped without
/// a graceful shutdown (see the module documentation).
pub const ORPHANED_BY_STOP: &str =
    "not stored: the server stopped before this object was processed; POST it again";

/// Claims and finalises every status whose owner is gone; returns how many.
pub async fn recover_orphaned_statuses(state: &AppState) -> Result<usize, ServerError> {
    let bound = state.config.liveness_period * ORPHAN_AFTER_PERIODS;
    let seen_since = store::now_micros() - i64::try_from(bound.as_micros()).unwrap_or(i64::MAX);
    let mut done = 0;
    loop {
        let claimed = state
            .store
            .claim_orphaned_statuses(&state.instance, seen_since, CLAIM_BATCH)
            .await?;
        if claimed.is_empty() {
            return Ok(done);
        }
        for rec in claimed {
            finalise(state, rec).await?;
            done += 1;
        }
    }
}

/// Completes one claimed status from what its collection holds.
async fn finalise(state: &AppState, mut rec: StatusRecord) -> Result<(), ServerError> {
    let mut st: StatusResource = match serde_json::from_str(&rec.json) {
        Ok(st) => st,
        Err(e) => {
            // Nothing to count from: released as it is (not claimed again and again).
            tracing::error!(status = %rec.id, error = %e, "orphaned status is not a status resource");
            rec.owner_instance = None;
            rec.collection = None;
            state
                .store
                .put_status_if_owner(&rec, &state.instance)
                .await?;
            return Ok(());
        }
    };
    let pendings = std::mem::take(&mut st.pendings);
    let present: hashbrown::HashSet<(String, String)> = match &rec.collection {
        Some(c) => {
            let mut ids: Vec<String> = pendings.iter().map(|d| d.id.clone()).collect();
            ids.sort_unstable();
            ids.dedup();
            state
                .store
                .versions_in_collection(&store::CollectionId(c.clone()), &ids)
                .await?
                .into_iter()
                .collect()
        }
        None => hashbrown::HashSet::new(),
    };
    let (stored, lost) = split_pendings(pendings, &present, &st.request_timestamp);
    st.success_count += stored.len() as u64;
    st.successes.extend(stored);
    st.failure_count += lost.len() as u64;
    st.failures.extend(lost);
    st.pending_count = 0;
    st.status = "complete".into();
    rec.json = serde_json::to_string(&st).map_err(|e| ServerError::Internal(e.to_string()))?;
    rec.owner_instance = None;
    rec.collection = None;
    if state
        .store
        .put_status_if_owner(&rec, &state.instance)
        .await?
    {
        tracing::warn!(
            status = %rec.id,
            succeeded = st.success_count,
            failed = st.failure_count,
            "finalised a status left pending by a server that stopped"
        );
    }
    Ok(())
}

/// Splits pending entries into stored (found by id and version) and not stored (with
/// [`ORPHANED_BY_STOP`]). An entry whose version is the request's timestamp stands for
/// an object without `modified` / `created`, stored without a version.
fn split_pendings(
    pendings: Vec<StatusDetail>,
    present: &hashbrown::HashSet<(String, String)>,
    request_timestamp: &str,
) -> (Vec<StatusDetail>, Vec<StatusDetail>) {
    let mut stored = Vec::new();
    let mut lost = Vec::new();
    for mut d in pendings {
        let key = Timestamp::parse(&d.version)
            .map(|t| t.sort_key())
            .unwrap_or_default();
        let found = present.contains(&(d.id.clone(), key))
            || (d.version == request_timestamp && present.contains(&(d.id.clone(), String::new())));
        if found {
            d.message = None;
            stored.push(d);
        } else {
            d.message = Some(ORPHANED_BY_STOP.to_owned());
            lost.push(d);
        }
    }
    (stored, lost)
}

/// Records this instance's liveness every [`super::ServerConfig::liveness_period`] and
/// runs [`recover_orphaned_statuses`] at start and after every period, until aborted.
/// The two loops run side by side, so a long recovery never delays a heartbeat.
pub fn spawn_liveness(state: AppState) -> tokio::task::JoinHandle<()> {
    let period = state.config.liveness_period.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let beat = async {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = state
                    .store
                    .heartbeat(&state.instance, store::now_micros())
                    .await
                {
                    tracing::warn!(code = e.code(), error = %e, "cannot record liveness");
                }
            }
        };
        let sweep = async {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = recover_orphaned_statuses(&state).await {
                    tracing::warn!(code = e.code(), error = %e, "status recovery failed");
                }
            }
        };
        tokio::join!(beat, sweep);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(id: &str, version: &str) -> StatusDetail {
        StatusDetail {
            id: id.into(),
            version: version.into(),
            message: None,
        }
    }

    #[test]
    fn pendings_are_split_by_id_and_version() {
        let req = "2026-01-01T00:00:00.000000Z";
        let v1 = "2024-01-01T00:00:00.1Z";
        let key1 = Timestamp::parse(v1).unwrap().sort_key();
        let present: hashbrown::HashSet<(String, String)> = [
            ("indicator--a".to_owned(), key1.clone()),
            ("ipv4-addr--b".to_owned(), String::new()),
        ]
        .into_iter()
        .collect();
        let (stored, lost) = split_pendings(
            vec![
                // The same instant written with another precision is the same version.
                detail("indicator--a", "2024-01-01T00:00:00.100Z"),
                detail("indicator--a", "2024-02-01T00:00:00.000Z"),
                detail("ipv4-addr--b", req),
                detail("ipv4-addr--c", req),
                detail("indicator--d", "not a timestamp"),
            ],
            &present,
            req,
        );
        let ids = |v: &[StatusDetail]| {
            v.iter()
                .map(|d| format!("{} {}", d.id, d.version))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&stored),
            [
                "indicator--a 2024-01-01T00:00:00.100Z",
                &format!("ipv4-addr--b {req}")
            ]
        );
        assert_eq!(lost.len(), 3);
        assert!(lost
            .iter()
            .all(|d| d.message.as_deref() == Some(ORPHANED_BY_STOP)));
        assert!(stored.iter().all(|d| d.message.is_none()));
    }
}
