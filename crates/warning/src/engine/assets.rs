//! Asset watchlists at run time: constituents' assets are records of kind `asset`; the
//! engine checks every object that arrives in the store (imported, posted over TAXII,
//! pulled from a peer) against them with [`crate::watchlist::Watchlist::check`] and
//! raises an asset alert for the owner when intelligence names an asset (an address in
//! an owned range, an owned domain or a subdomain, the owned AS, or a lookalike domain).
//!
//! The check runs on a poll of the store (objects added after a cursor kept in the
//! store as `watchlist.cursor`), so it follows every ingest path without hooks in them.
//! Objects this node produced (its sightings) are skipped.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use store::{Query, RecordRow, Store, VersionFilter};

use super::alerts::{AlertKind, AlertRecord};
use super::{Engine, EngineError, Result};
use crate::alert::{alert_id, severity, Alert, AlertState};
use crate::hit::{AssetRef, Criticality};
use crate::watchlist::Watchlist;

/// Record kind of registered assets.
pub const ASSET_KIND: &str = "asset";
/// State key of the object cursor up to which intelligence was checked (object cursors
/// increase in commit order; the check pages by cursor, reading the objects from where
/// it left off). The key before it, `watchlist.cursor`, held a `date_added`.
const CURSOR: &str = "watchlist.object_cursor";

/// A registered asset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AssetRecord {
    pub id: String,
    /// The organisation (or identity id) that owns it.
    pub owner: String,
    pub criticality: Criticality,
    /// CIDR, address, `AS64500` or domain name.
    pub target: String,
    pub created: i64,
}

/// Registers an asset (checked for shape first).
pub async fn add_asset(
    store: &dyn Store,
    owner: &str,
    criticality: Criticality,
    target: &str,
) -> Result<AssetRecord> {
    let id = format!("asset-{}", uuid::Uuid::now_v7());
    // Validates the target the same way the checker will read it.
    Watchlist::new().add(&id, owner, criticality, target)?;
    let rec = AssetRecord {
        id: id.clone(),
        owner: owner.to_owned(),
        criticality,
        target: target.trim().to_owned(),
        created: store::now_micros(),
    };
    let body = serde_json::to_string(&rec).map_err(|e| EngineError::Corrupt {
        kind: "asset",
        id: id.clone(),
        reason: e.to_string(),
    })?;
    store
        .put_record(
            &RecordRow {
                kind: ASSET_KIND.into(),
                id,
                tag: owner.to_owned(),
                body,
                updated: rec.created,
            },
            None,
        )
        .await?;
    Ok(rec)
}

/// Registered assets.
pub async fn list_assets(store: &dyn Store) -> Result<Vec<AssetRecord>> {
    let rows = store.list_records(ASSET_KIND, None, 100_000).await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.body).map_err(|e| EngineError::Corrupt {
                kind: "asset",
                id: r.id.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Removes an asset.
pub async fn remove_asset(store: &dyn Store, id: &str) -> Result<()> {
    if !store.delete_record(ASSET_KIND, id).await? {
        return Err(EngineError::AssetNotFound(id.to_owned()));
    }
    Ok(())
}

/// The watchlist of the registered assets.
pub async fn watchlist(store: &dyn Store) -> Result<Watchlist> {
    let mut w = Watchlist::new();
    for a in list_assets(store).await? {
        w.add(&a.id, &a.owner, a.criticality, &a.target)?;
    }
    Ok(w)
}

impl Engine {
    /// Checks objects added since the last pass against the watchlist; returns the
    /// number of asset alerts raised.
    pub async fn check_new_intelligence(&self) -> Result<u64> {
        let list = watchlist(self.store.as_ref()).await?;
        let mut cursor: i64 = match self.store.get_state(CURSOR).await? {
            Some(t) => t.parse().unwrap_or(0),
            None => 0,
        };
        let before = cursor;
        let mut raised = 0;
        loop {
            // Without assets nothing is read but the cursor moves on (an asset added
            // later is checked against intelligence from then on, as with any asset).
            let page = self
                .store
                .query(&Query {
                    versions: VersionFilter::all(),
                    after_cursor: Some(cursor),
                    limit: Some(1000),
                    with_body: !list.assets().is_empty(),
                    ..Default::default()
                })
                .await?;
            if page.objects.is_empty() {
                break;
            }
            for row in &page.objects {
                cursor = cursor.max(row.cursor);
                if list.assets().is_empty() {
                    continue;
                }
                let Ok(obj) = stix::Object::from_json_str(&row.json) else {
                    continue;
                };
                if obj.get("created_by_ref").and_then(|v| v.as_str()) == Some(&self.identity_id) {
                    continue;
                }
                let report = list.check(&obj);
                if report.matches.is_empty() {
                    continue;
                }
                // One alert per (object version, owner).
                let mut owners: Vec<&str> =
                    report.matches.iter().map(|m| m.owner.as_str()).collect();
                owners.sort_unstable();
                owners.dedup();
                for owner in owners {
                    let findings: Vec<_> = report
                        .matches
                        .iter()
                        .filter(|m| m.owner == owner)
                        .cloned()
                        .collect();
                    let id = alert_id(&format!("asset:{owner}:{}:{}", obj.id(), row.version_key));
                    if self
                        .store
                        .get_record(super::alerts::ALERT_KIND, &id)
                        .await?
                        .is_some()
                    {
                        continue;
                    }
                    let crit = findings
                        .iter()
                        .map(|m| m.criticality)
                        .max()
                        .unwrap_or(Criticality::Medium);
                    let now = stix::Timestamp::from_unix_micros(store::now_micros());
                    let confidence = obj
                        .get("confidence")
                        .and_then(|v| v.as_u64())
                        .map_or(self.cfg.default_confidence, |c| c.min(100) as u8);
                    let breakdown = severity(&obj, confidence, Some(crit));
                    let first = &findings[0];
                    let alert = Alert {
                        id,
                        indicator_id: obj.id().to_owned(),
                        sighting_id: String::new(),
                        severity: breakdown.severity,
                        breakdown,
                        state: AlertState::New,
                        false_positive: false,
                        asset: Some(AssetRef {
                            id: first.asset_id.clone(),
                            name: first.asset.clone(),
                            criticality: crit,
                        }),
                        created: now,
                        updated: now,
                        history: Vec::new(),
                    };
                    let rec = AlertRecord {
                        alert,
                        kind: AlertKind::Asset,
                        title: format!(
                            "{} names {}'s asset {} ({} finding{})",
                            obj.id(),
                            owner,
                            first.asset,
                            findings.len(),
                            if findings.len() == 1 { "" } else { "s" }
                        ),
                        indicator_name: obj.get("name").and_then(|v| v.as_str()).map(str::to_owned),
                        indicator_created_by: obj
                            .get("created_by_ref")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned),
                        pattern: obj
                            .get("pattern")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned),
                        count: findings.len() as i64,
                        first_seen: None,
                        last_seen: None,
                        observed: findings
                            .iter()
                            .take(10)
                            .map(|m| m.observed.clone())
                            .collect(),
                        source: Some("intelligence".into()),
                        findings,
                    };
                    self.save_alert(&rec, true).await?;
                    raised += 1;
                }
            }
            if !page.more {
                break;
            }
        }
        if cursor != before {
            self.store.set_state(CURSOR, &cursor.to_string()).await?;
        }
        Ok(raised)
    }

    /// Checks new intelligence against the watchlist every `every` until shutdown.
    pub fn spawn_watchlist(
        self: &Arc<Self>,
        every: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.check_new_intelligence().await {
                    tracing::warn!(code = e.code(), "watchlist check failed: {e}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        })
    }
}
