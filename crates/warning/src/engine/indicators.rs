//! The live indicator set: the compiled index over every *active* indicator in the
//! store, rebuilt and swapped whole (never paused) when indicators arrive, change, are
//! revoked or deleted, when one's `valid_from` / `valid_until` passes, and when a false
//! positive changes an indicator's weight.
//!
//! Changes are found by polling the store every [`super::EngineConfig::reload_interval`]
//! for indicator versions added after the last build and for new tombstones. A rebuild
//! reads the latest version of every indicator, keeps the active ones
//! ([`crate::active::activity`]) and compiles them on a blocking thread while ingest
//! goes on with the previous index. [`IndexStatus::time_to_effect_ms`] measures, for
//! the last rebuild triggered by new indicators, the time from the newest indicator's
//! `date_added` to the moment the new index was live.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use matcher::compile::{compile_indicator, Compiled};
use matcher::{Index, IndexBuilder};
use serde::Serialize;
use serde_json::{Map, Value};
use store::{Query, VersionFilter};

use super::{Engine, EngineError, Result};
use crate::active::{activity, ActivePolicy, Activity, Inactive, WeightBook};

/// State key of the false-positive penalties.
pub const WEIGHTS_STATE: &str = "warning.weights";

/// What the live index holds and how it was built.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IndexStatus {
    /// Increases with every swap.
    pub generation: u64,
    /// Indicators read from the store (latest versions).
    pub indicators_read: u64,
    /// Active indicators compiled into IOCs.
    pub ioc_indicators: u64,
    /// Active indicators kept as general patterns (evaluated over the event stream).
    pub general_indicators: u64,
    /// Indicators not active, by reason.
    pub inactive: InactiveCounts,
    /// Indicators whose pattern could not be compiled.
    pub unusable: u64,
    /// Wall time of the last build.
    pub build_ms: u64,
    /// Unix microseconds when the index went live.
    pub live_since: i64,
    /// Milliseconds from the newest new indicator's `date_added` to going live (for
    /// rebuilds triggered by new or changed indicators).
    pub time_to_effect_ms: Option<u64>,
    /// Next time (Unix microseconds) an indicator becomes valid or expires.
    pub next_transition: Option<i64>,
}

/// Inactive indicators by reason.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct InactiveCounts {
    pub revoked: u64,
    pub not_yet_valid: u64,
    pub expired: u64,
    pub low_confidence: u64,
    pub other_pattern_type: u64,
    pub malformed: u64,
}

/// One snapshot of the indicators taking part in matching.
#[derive(Debug)]
pub struct LiveIndicators {
    pub index: Index,
    /// General (non IOC-shaped) patterns: (indicator id, pattern).
    pub general: Vec<(String, String)>,
    pub status: IndexStatus,
}

impl LiveIndicators {
    pub(crate) fn empty() -> Self {
        LiveIndicators {
            index: Index::default(),
            general: Vec::new(),
            status: IndexStatus::default(),
        }
    }
}

/// Where the change detection is up to.
#[derive(Debug, Default)]
pub(crate) struct ReloadState {
    last_date_added: i64,
    last_tombstone: i64,
    built_once: bool,
}

/// The false-positive penalties kept in the store.
pub async fn load_weights(store: &dyn store::Store) -> Result<WeightBook> {
    let Some(text) = store.get_state(WEIGHTS_STATE).await? else {
        return Ok(WeightBook::new());
    };
    let entries: Vec<(String, u32)> =
        serde_json::from_str(&text).map_err(|e| EngineError::Corrupt {
            kind: "state",
            id: WEIGHTS_STATE.into(),
            reason: e.to_string(),
        })?;
    Ok(WeightBook::from_entries(entries))
}

/// Saves the false-positive penalties.
pub async fn save_weights(store: &dyn store::Store, weights: &WeightBook) -> Result<()> {
    let text = serde_json::to_string(&weights.entries()).map_err(|e| EngineError::Corrupt {
        kind: "state",
        id: WEIGHTS_STATE.into(),
        reason: e.to_string(),
    })?;
    store.set_state(WEIGHTS_STATE, &text).await?;
    Ok(())
}

struct Built {
    index: Index,
    general: Vec<(String, String)>,
    status: IndexStatus,
    max_date_added: i64,
}

impl Engine {
    /// Rebuilds the index when indicators changed (or always with `force`). Returns
    /// whether a new index went live.
    pub async fn reload(&self, force: bool) -> Result<bool> {
        let mut st = self.reload.lock().await;
        let now = store::now_micros();
        let mut newest_change: Option<i64> = None;
        let mut changed = force || !st.built_once;
        // New or changed indicator versions.
        let page = self
            .store
            .query(&Query {
                types: vec!["indicator".into()],
                versions: VersionFilter::all(),
                added_after: Some(st.last_date_added),
                limit: Some(1000),
                with_body: false,
                ..Default::default()
            })
            .await?;
        if let Some(max) = page.objects.iter().map(|o| o.date_added).max() {
            changed = true;
            newest_change = Some(max);
        }
        // Deletions.
        let tombs = self.store.tombstones(st.last_tombstone, 1000).await?;
        if let Some(last) = tombs.last() {
            st.last_tombstone = last.seq;
            changed = true;
        }
        // Validity transitions.
        let current = self.live.load();
        if current.status.next_transition.is_some_and(|t| t <= now) {
            changed = true;
        }
        drop(current);
        if !changed {
            return Ok(false);
        }
        let started = Instant::now();
        let weights = load_weights(self.store.as_ref()).await?;
        let built = self.build(weights).await?;
        let generation = self.live.load().status.generation + 1;
        let mut status = built.status;
        status.generation = generation;
        status.build_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        status.live_since = store::now_micros();
        status.time_to_effect_ms = newest_change
            .map(|t| u64::try_from((status.live_since - t).max(0) / 1000).unwrap_or(0));
        st.last_date_added = st
            .last_date_added
            .max(built.max_date_added)
            .max(newest_change.unwrap_or(i64::MIN));
        st.built_once = true;
        tracing::info!(
            generation,
            ioc_indicators = status.ioc_indicators,
            general = status.general_indicators,
            build_ms = status.build_ms,
            time_to_effect_ms = ?status.time_to_effect_ms,
            "indicator index live"
        );
        self.sync_stream_patterns(&built.general);
        self.live.store(Arc::new(LiveIndicators {
            index: built.index,
            general: built.general,
            status,
        }));
        Ok(true)
    }

    /// Reads the latest version of every indicator and compiles the active ones on a
    /// blocking thread (rows flow through a bounded channel: memory stays flat).
    async fn build(&self, weights: WeightBook) -> Result<Built> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(i64, String)>(1024);
        let policy = ActivePolicy {
            min_confidence: self.cfg.min_confidence,
            default_confidence: self.cfg.default_confidence,
        };
        let now = stix::Timestamp::from_unix_millis(store::now_micros().div_euclid(1000));
        let compile = tokio::task::spawn_blocking(move || -> Result<Built> {
            let mut builder = IndexBuilder::new();
            let mut general = Vec::new();
            let mut status = IndexStatus::default();
            let mut max_date_added = i64::MIN;
            let mut next: Option<i64> = None;
            let mut soonest = |t: i64| {
                if t > now.unix_micros() {
                    next = Some(next.map_or(t, |n: i64| n.min(t)));
                }
            };
            while let Some((date_added, json)) = rx.blocking_recv() {
                max_date_added = max_date_added.max(date_added);
                status.indicators_read += 1;
                let Ok(obj) = stix::Object::from_json_str(&json) else {
                    status.inactive.malformed += 1;
                    continue;
                };
                let ts = |p: &str| {
                    obj.get(p)
                        .and_then(Value::as_str)
                        .and_then(|s| stix::Timestamp::parse(s).ok())
                        .map(|t| t.unix_micros())
                };
                match activity(&obj, now, &policy, &weights) {
                    Ok(Activity::Active { .. }) => {
                        if let Some(t) = ts("valid_until") {
                            soonest(t);
                        }
                    }
                    Ok(Activity::Inactive(why)) => {
                        let c = &mut status.inactive;
                        match why {
                            Inactive::Revoked => c.revoked += 1,
                            Inactive::NotYetValid { .. } => {
                                c.not_yet_valid += 1;
                                if let Some(t) = ts("valid_from") {
                                    soonest(t);
                                }
                            }
                            Inactive::Expired { .. } => c.expired += 1,
                            Inactive::LowConfidence { .. } => c.low_confidence += 1,
                            Inactive::UnsupportedPatternType { .. } => c.other_pattern_type += 1,
                            Inactive::NotAnIndicator { .. } => c.malformed += 1,
                        }
                        continue;
                    }
                    Err(_) => {
                        status.inactive.malformed += 1;
                        continue;
                    }
                }
                // Only what compiling needs.
                let mut small = Map::new();
                for k in ["type", "id", "pattern_type", "pattern"] {
                    if let Some(v) = obj.get(k) {
                        small.insert(k.to_owned(), v.clone());
                    }
                }
                let small = Value::Object(small);
                match compile_indicator(&mut builder, &small, obj.id()) {
                    Ok(Compiled::Iocs(_)) => status.ioc_indicators += 1,
                    Ok(Compiled::General(_)) => {
                        status.general_indicators += 1;
                        if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
                            general.push((obj.id().to_owned(), p.to_owned()));
                        }
                    }
                    Err(e) => {
                        status.unusable += 1;
                        tracing::warn!(code = e.code(), "indicator not usable: {e}");
                    }
                }
            }
            status.next_transition = next;
            let index = builder
                .build()
                .map_err(|e| EngineError::Index(e.to_string()))?;
            Ok(Built {
                index,
                general,
                status,
                max_date_added,
            })
        });
        let mut rows = self.store.stream(Query {
            types: vec!["indicator".into()],
            with_body: true,
            ..Default::default()
        });
        let mut read_error = None;
        while let Some(row) = rows.next().await {
            match row {
                Ok(o) => {
                    if tx.send((o.date_added, o.json)).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let built = compile
            .await
            .map_err(|e| EngineError::Index(format!("index build thread failed: {e}")))??;
        if let Some(e) = read_error {
            return Err(e.into());
        }
        Ok(built)
    }

    /// Makes the stream evaluator hold exactly `general` (adding new patterns, removing
    /// gone ones; its buffered events stay).
    fn sync_stream_patterns(&self, general: &[(String, String)]) {
        let mut ev = super::lock(&self.stream_eval);
        let mut held = std::mem::take(&mut *super::lock(&self.stream_ids));
        let wanted: hashbrown::HashMap<&str, &str> = general
            .iter()
            .map(|(i, p)| (i.as_str(), p.as_str()))
            .collect();
        held.retain(|id, pat| {
            let keep = wanted.get(id.as_str()) == Some(&pat.as_str());
            if !keep {
                ev.remove_pattern(id);
            }
            keep
        });
        for (id, pat) in general {
            if held.contains_key(id) {
                continue;
            }
            match ev.add_pattern(id, pat) {
                Ok(()) => {
                    held.insert(id.clone(), pat.clone());
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), indicator = %id, "pattern not evaluated over the stream: {e}")
                }
            }
        }
        *super::lock(&self.stream_ids) = held;
    }

    /// Polls for indicator changes until `shutdown` turns true, and once a minute prunes
    /// the dedup keys of windows that can no longer receive hits ([`Engine::prune`]).
    pub fn spawn_reloader(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(engine.cfg.reload_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_prune = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
                if let Err(e) = engine.reload(false).await {
                    tracing::warn!(code = e.code(), "indicator reload failed: {e}");
                }
                // Dedup keys of windows that can no longer receive hits go, once a minute.
                if last_prune.elapsed() >= std::time::Duration::from_secs(60) {
                    last_prune = tokio::time::Instant::now();
                    match engine.prune().await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(keys = n, "pruned hit keys of closed windows"),
                        Err(e) => tracing::warn!(code = e.code(), "pruning hit keys failed: {e}"),
                    }
                }
            }
        })
    }
}
