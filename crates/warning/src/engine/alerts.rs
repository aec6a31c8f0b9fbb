//! Alerts as stored records: raised per sighting window (or per watchlist finding),
//! moved through new → acknowledged → closed by analysts, and pushed to the feed that
//! the live stream and the webhooks read.

use serde::{Deserialize, Serialize};
use store::{Query, RecordRow, WindowRow};

use super::indicators::{load_weights, save_weights};
use super::{Engine, EngineError, Result};
use crate::active::{activity, ActivePolicy, Activity};
use crate::alert::{Alert, AlertState};

/// Record kind of alerts.
pub const ALERT_KIND: &str = "alert";

/// What raised the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// Telemetry matched an indicator.
    Sighting,
    /// Incoming intelligence names a registered asset.
    Asset,
}

/// An alert with what an analyst needs to act on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertRecord {
    /// State, severity, history (nested, not flattened: flattening loses number types
    /// under serde_json's arbitrary precision).
    pub alert: Alert,
    pub kind: AlertKind,
    /// One line for humans.
    pub title: String,
    pub indicator_name: Option<String>,
    /// Who shared the indicator (its `created_by_ref`).
    pub indicator_created_by: Option<String>,
    pub pattern: Option<String>,
    /// Hits in the window so far, and their event times.
    pub count: i64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Observables seen (`type:value`, at most 10).
    pub observed: Vec<String>,
    /// Source of the first hit (file path, subject, …).
    pub source: Option<String>,
    /// For asset alerts: the findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::watchlist::WatchMatch>,
}

fn state_tag(s: AlertState) -> &'static str {
    match s {
        AlertState::New => "new",
        AlertState::Acknowledged => "acknowledged",
        AlertState::Closed => "closed",
    }
}

/// Parses `new`, `acknowledged` / `ack`, `closed`.
pub fn parse_state(s: &str) -> Option<AlertState> {
    match s {
        "new" => Some(AlertState::New),
        "acknowledged" | "ack" => Some(AlertState::Acknowledged),
        "closed" => Some(AlertState::Closed),
        _ => None,
    }
}

fn micros_text(t: i64) -> String {
    stix::Timestamp::from_unix_micros(t).to_string()
}

impl AlertRecord {
    /// The alert for a window's first version. `indicator` is the window's indicator
    /// as stored (`None` when it was deleted meanwhile: the alert says what is known);
    /// `weights` are the false-positive penalties that lower its confidence.
    pub(crate) fn for_window(
        engine: &Engine,
        w: &WindowRow,
        observed: Vec<String>,
        source: &str,
        indicator: Option<&stix::Object>,
        weights: &crate::active::WeightBook,
    ) -> Result<AlertRecord> {
        let unknown;
        let indicator = match indicator {
            Some(o) => o,
            None => {
                unknown = stix::Object::from_map(
                    serde_json::json!({"type": "indicator", "id": w.indicator_id})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )
                .map_err(|e| EngineError::Corrupt {
                    kind: "indicator",
                    id: w.indicator_id.clone(),
                    reason: e.to_string(),
                })?;
                &unknown
            }
        };
        let now = stix::Timestamp::from_unix_micros(store::now_micros());
        let policy = ActivePolicy {
            min_confidence: 0,
            default_confidence: engine.cfg.default_confidence,
        };
        let confidence = match activity(indicator, now, &policy, weights) {
            Ok(Activity::Active {
                effective_confidence,
            }) => effective_confidence,
            _ => engine.cfg.default_confidence,
        };
        let alert = Alert::raise(indicator, &w.sighting_id, confidence, None, now)?;
        let name = indicator
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let what = observed.first().cloned().unwrap_or_default();
        let title = match &name {
            Some(n) => format!("{what} matched indicator \"{n}\""),
            None => format!("{what} matched {}", w.indicator_id),
        };
        Ok(AlertRecord {
            alert,
            kind: AlertKind::Sighting,
            title,
            indicator_name: name,
            indicator_created_by: indicator
                .get("created_by_ref")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            pattern: indicator
                .get("pattern")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            count: w.count,
            first_seen: Some(micros_text(w.first_seen)),
            last_seen: Some(micros_text(w.last_seen)),
            observed,
            source: Some(source.to_owned()),
            findings: Vec::new(),
        })
    }

    /// The stored alert `row` of a window that has a later version: its count and
    /// times follow, new observables are added (at most 10). The alert's own update
    /// time stays: a new hit is not an analyst's change, and there is no new
    /// announcement (one window, one alert).
    pub(crate) fn follow_window(
        row: &RecordRow,
        w: &WindowRow,
        observed: Vec<String>,
    ) -> Result<RecordRow> {
        let mut rec = AlertRecord::from_row(row)?;
        rec.count = w.count;
        rec.first_seen = Some(micros_text(w.first_seen));
        rec.last_seen = Some(micros_text(w.last_seen));
        for o in observed {
            if rec.observed.len() < 10 && !rec.observed.contains(&o) {
                rec.observed.push(o);
            }
        }
        rec.to_row()
    }

    pub(crate) fn to_row(&self) -> Result<RecordRow> {
        let body = serde_json::to_string(self).map_err(|e| EngineError::Corrupt {
            kind: "alert",
            id: self.alert.id.clone(),
            reason: e.to_string(),
        })?;
        Ok(RecordRow {
            kind: ALERT_KIND.into(),
            id: self.alert.id.clone(),
            tag: state_tag(self.alert.state).into(),
            body,
            updated: self.alert.updated.unix_micros(),
        })
    }

    fn from_row(row: &RecordRow) -> Result<AlertRecord> {
        serde_json::from_str(&row.body).map_err(|e| EngineError::Corrupt {
            kind: "alert",
            id: row.id.clone(),
            reason: e.to_string(),
        })
    }
}

impl Engine {
    /// Stores an alert; with `announce`, also appends it to the feed (live stream and
    /// webhooks) and wakes the readers.
    pub async fn save_alert(&self, rec: &AlertRecord, announce: bool) -> Result<()> {
        let row = rec.to_row()?;
        let seq = self
            .store
            .put_record(&row, announce.then_some(ALERT_KIND))
            .await?;
        if let Some(seq) = seq {
            self.notify_feed(seq);
        }
        Ok(())
    }

    /// Alerts, most recently changed first, optionally in one state.
    pub async fn list_alerts(
        &self,
        state: Option<AlertState>,
        limit: usize,
    ) -> Result<Vec<AlertRecord>> {
        list_alerts(self.store.as_ref(), state, limit).await
    }

    /// One alert.
    pub async fn get_alert(&self, id: &str) -> Result<AlertRecord> {
        get_alert(self.store.as_ref(), id).await
    }

    /// Applies an analyst's action and announces the change.
    pub async fn act_on_alert(&self, id: &str, action: AlertOp, by: &str) -> Result<AlertRecord> {
        let weights_change = !matches!(action, AlertOp::Acknowledge);
        let (rec, objects) =
            act_on_alert(self.store.as_ref(), &self.identity_id, id, action, by).await?;
        if !objects.is_empty() {
            let news: Vec<store::NewObject> =
                objects.iter().map(store::NewObject::from_object).collect();
            self.store
                .insert(&news, std::slice::from_ref(&self.collection))
                .await?;
        }
        let row = rec.to_row()?;
        if let Some(seq) = self.store.put_record(&row, Some(ALERT_KIND)).await? {
            self.notify_feed(seq);
        }
        if weights_change {
            // Weights changed: the index follows.
            self.reload(true).await?;
        }
        Ok(rec)
    }
}

/// What an analyst does to an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertOp {
    Acknowledge,
    Close,
    Reopen,
    FalsePositive { reason: String },
}

/// Alerts in a store, most recently changed first (for the CLI without a running engine).
pub async fn list_alerts(
    store: &dyn store::Store,
    state: Option<AlertState>,
    limit: usize,
) -> Result<Vec<AlertRecord>> {
    let rows = store
        .list_records(ALERT_KIND, state.map(state_tag), limit)
        .await?;
    rows.iter().map(AlertRecord::from_row).collect()
}

/// One alert from a store.
pub async fn get_alert(store: &dyn store::Store, id: &str) -> Result<AlertRecord> {
    let row = store
        .get_record(ALERT_KIND, id)
        .await?
        .ok_or_else(|| EngineError::AlertNotFound(id.to_owned()))?;
    AlertRecord::from_row(&row)
}

/// Applies an action to a stored alert (without an engine: the CLI). Returns the
/// updated alert (not yet saved) and the STIX objects to store (for a false positive:
/// the `opinion` and the revoked sighting). Weights are saved.
pub async fn act_on_alert(
    store: &dyn store::Store,
    identity_id: &str,
    id: &str,
    action: AlertOp,
    by: &str,
) -> Result<(AlertRecord, Vec<stix::Object>)> {
    let mut rec = get_alert(store, id).await?;
    let now = stix::Timestamp::from_unix_micros(store::now_micros());
    let mut weights = load_weights(store).await?;
    let mut objects = Vec::new();
    match action {
        AlertOp::Acknowledge => rec.alert.acknowledge(by, now)?,
        AlertOp::Close => rec.alert.close(by, now, &mut weights)?,
        AlertOp::Reopen => rec.alert.reopen(by, now, &mut weights)?,
        AlertOp::FalsePositive { reason } => {
            let sighting = if rec.kind == AlertKind::Sighting {
                let page = store
                    .query(&Query {
                        ids: vec![rec.alert.sighting_id.clone()],
                        limit: Some(1),
                        with_body: true,
                        ..Default::default()
                    })
                    .await?;
                page.objects
                    .first()
                    .and_then(|o| stix::Object::from_json_str(&o.json).ok())
            } else {
                None
            };
            let report = rec.alert.mark_false_positive(
                by,
                &reason,
                now,
                identity_id,
                sighting.as_ref(),
                &mut weights,
            )?;
            objects.push(report.opinion);
            if let Some(s) = report.revoked_sighting {
                objects.push(s);
            }
        }
    }
    save_weights(store, &weights).await?;
    Ok((rec, objects))
}

/// Saves an alert changed by [`act_on_alert`] (announcing it on the feed) and its
/// STIX objects into the `sightings` collection.
pub async fn save_acted(
    store: &dyn store::Store,
    rec: &AlertRecord,
    objects: &[stix::Object],
) -> Result<Option<i64>> {
    if !objects.is_empty() {
        let coll = store
            .find_collection(super::SIGHTINGS_ALIAS)
            .await?
            .map(|c| vec![c.id])
            .unwrap_or_default();
        let news: Vec<store::NewObject> =
            objects.iter().map(store::NewObject::from_object).collect();
        store.insert(&news, &coll).await?;
    }
    Ok(store.put_record(&rec.to_row()?, Some(ALERT_KIND)).await?)
}
