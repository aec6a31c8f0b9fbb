//! Sighting aggregation: hits in, STIX 2.1 `sighting` + `observed-data` + SCOs out.
//!
//! Hits are grouped per **(indicator, window)**. Windows are aligned on the Unix epoch
//! (`start = floor(observed_at / length) * length`), so every worker and every restart
//! puts an event in the same window, and the sighting and observed-data ids are
//! UUIDv5 of (node identity, indicator, window start): the same window always has the
//! same ids.
//!
//! [`SightingAggregator::ingest`] only updates state; [`SightingAggregator::drain`]
//! writes one new version of each window that changed since the previous drain (same
//! id, later `modified`, larger `count`), so a burst of a million hits becomes one
//! version per drain, not a million objects. The caller drains on a timer (e.g. every
//! 250 ms) to keep the hit-to-alert latency under a second.
//!
//! **Time and bounded state.** The *watermark* is the latest event time seen. A window
//! closes when `watermark >= start + length + allowed_lateness`; its last version is
//! written by the next drain and its state is dropped. Hits for a closed window are
//! refused as [`IngestOutcome::Late`] (never counted twice, never silently lost: the
//! caller sees the outcome and the counter). At most `max_open_windows` windows are
//! open; when a new one is needed and the limit is reached, every window of the
//! *oldest* open start is closed early (its state written and dropped) and hits for
//! windows that old become `Late`; if the oldest open start is not older than the new
//! hit's window (more distinct indicators hit inside one window than the limit), the
//! hit is refused as [`IngestOutcome::Overloaded`] and the caller still raises the
//! alert from the hit itself.
//!
//! **Exactly-once under at-least-once delivery.** Each window keeps the 64-bit keys
//! (SHA-256 of the event id, truncated) of the events it counted. A redelivered event
//! has the same event id and the same event time, hence the same window, and is
//! refused as [`IngestOutcome::Duplicate`]. The guarantee holds for redeliveries that
//! arrive while the window is open and while it holds at most `max_events_per_window`
//! distinct events (the bound: 8 bytes per event, plus hash-set overhead); past that
//! bound further hits are still counted but reported `verified: false`. A redelivery
//! after the window closed is refused as `Late`, so it cannot be counted twice. The
//! probability that two distinct events in one window share a 64-bit key is below
//! n²/2⁶⁵ (≈ 3·10⁻¹⁰ for n = 100 000). The guarantee is per aggregator; workers that
//! share a stream keep it by persisting window state with the acknowledgement:
//! [`SightingAggregator::snapshot`] gives it (serde), [`SightingAggregator::restore`]
//! resumes from it with the same counts, dedup keys and ids.

use crate::hit::{is_stix_id, sco_for, Hit, HitError};
use crate::ids;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use stix::{Object, Timestamp};

/// STIX's upper bound for `count` and `number_observed`.
pub const MAX_COUNT: u64 = 999_999_999;

/// Aggregator settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatorConfig {
    /// The node's own `identity--…` id: `where_sighted_refs` and `created_by_ref`.
    pub identity_id: String,
    /// Window length in seconds (e.g. 3600), aligned on the Unix epoch.
    pub window_secs: u32,
    /// How long after a window's end (in event time) hits for it are still accepted.
    pub allowed_lateness_secs: u32,
    /// Upper bound on open windows.
    pub max_open_windows: usize,
    /// Upper bound on event ids remembered per window for deduplication.
    pub max_events_per_window: usize,
    /// Upper bound on distinct SCOs referenced by one window's observed-data.
    pub max_scos_per_window: usize,
}

impl AggregatorConfig {
    /// Defaults: one-hour windows, 5 minutes lateness, 100 000 open windows,
    /// 100 000 events and 1 000 SCOs per window.
    pub fn new(identity_id: impl Into<String>) -> Self {
        AggregatorConfig {
            identity_id: identity_id.into(),
            window_secs: 3600,
            allowed_lateness_secs: 300,
            max_open_windows: 100_000,
            max_events_per_window: 100_000,
            max_scos_per_window: 1_000,
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("identity_id {0:?} is not an identity id (identity--<uuid>)")]
    BadIdentity(String),
    #[error("{field} must be at least 1")]
    Zero { field: &'static str },
}

impl ConfigError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::BadIdentity(_) => "warning.config.bad_identity",
            ConfigError::Zero { .. } => "warning.config.zero_bound",
        }
    }
}

/// What happened to one hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The first hit of its window: a new sighting will be written by the next drain.
    NewWindow { sighting_id: String },
    /// Counted into an existing window. `verified` is false when the window's dedup
    /// set was full, so a redelivery of this event could not have been recognised.
    Counted { sighting_id: String, verified: bool },
    /// The same event was already counted in this window.
    Duplicate { sighting_id: String },
    /// The hit's window has closed (event time too old); not counted.
    Late,
    /// No room for a new window within the bounds; not counted.
    Overloaded,
}

/// Counters since the aggregator was created.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AggregatorStats {
    pub counted: u64,
    pub duplicates: u64,
    pub late: u64,
    pub overloaded: u64,
    pub unverified: u64,
    pub windows_opened: u64,
    pub windows_closed: u64,
    pub windows_closed_early: u64,
    pub scos_not_referenced: u64,
}

/// Objects written by one drain for one window. Store/share them in this order:
/// SCOs, observed-data, sighting.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowUpdate {
    pub indicator_id: String,
    pub window_start: Timestamp,
    /// SCOs first referenced by this version (earlier versions wrote the others).
    pub new_scos: Vec<Object>,
    pub observed_data: Object,
    pub sighting: Object,
    /// True for the first version of this sighting: raise an alert.
    pub first_version: bool,
    /// True when the window is closed and this is its last version.
    pub final_version: bool,
}

/// The persistent state of one open window: what a worker stores together with the
/// acknowledgement of the events it counted, so that a restarted (or another) worker
/// resumes with the same counts and the same dedup set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowSnapshot {
    pub indicator_id: String,
    /// Window start, Unix seconds.
    pub window_start: i64,
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Dedup keys of the events counted (see the module docs).
    pub event_keys: Vec<u64>,
    /// SCO ids referenced by the observed-data, in order.
    pub sco_ids: Vec<String>,
    /// `created` / `modified` of the last written version, if any was written.
    pub created: Option<Timestamp>,
    pub modified: Option<Timestamp>,
}

/// The persistent state of an aggregator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AggregatorSnapshot {
    pub windows: Vec<WindowSnapshot>,
    /// Windows starting before this (Unix seconds) were closed early.
    pub floor: i64,
    /// Latest event time seen (Unix seconds).
    pub watermark: Option<i64>,
}

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot window {index} ({indicator_id}): {reason}")]
pub struct SnapshotError {
    pub index: usize,
    pub indicator_id: String,
    pub reason: &'static str,
}

impl SnapshotError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "warning.aggregate.bad_snapshot"
    }
}

/// Why an aggregator cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Snapshot(SnapshotError),
}

impl RestoreError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            RestoreError::Config(e) => e.code(),
            RestoreError::Snapshot(e) => e.code(),
        }
    }
}

#[derive(Debug)]
struct Window {
    indicator_id: String,
    start: i64,
    sighting_id: String,
    observed_data_id: String,
    count: u64,
    first_seen: Timestamp,
    last_seen: Timestamp,
    seen_events: hashbrown::HashSet<u64>,
    sco_ids: Vec<String>,
    sco_index: hashbrown::HashSet<String>,
    pending_scos: Vec<Object>,
    created: Option<Timestamp>,
    modified: Option<Timestamp>,
    dirty: bool,
}

/// Groups hits into per-(indicator, window) sightings. See the module docs.
#[derive(Debug)]
pub struct SightingAggregator {
    config: AggregatorConfig,
    /// Open windows, ordered by (start, indicator).
    open: BTreeMap<(i64, String), Window>,
    /// Closed windows whose last version is not written yet.
    closing: Vec<Window>,
    /// Windows starting before this (Unix seconds) are closed.
    floor: i64,
    watermark: Option<i64>,
    stats: AggregatorStats,
}

fn event_key(event_id: &str) -> u64 {
    let digest = Sha256::digest(event_id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

/// `t` (millisecond precision) or, when not later than `prev`, `prev` + 1 ms.
fn next_version(now: Timestamp, prev: Option<Timestamp>) -> Timestamp {
    let now_ms = now.unix_micros().div_euclid(1000);
    match prev {
        Some(p) if p.unix_micros().div_euclid(1000) >= now_ms => {
            Timestamp::from_unix_millis(p.unix_micros().div_euclid(1000) + 1)
        }
        _ => Timestamp::from_unix_millis(now_ms),
    }
}

impl SightingAggregator {
    pub fn new(config: AggregatorConfig) -> Result<Self, ConfigError> {
        if !is_stix_id(&config.identity_id, "identity") {
            return Err(ConfigError::BadIdentity(config.identity_id));
        }
        for (field, v) in [
            ("window_secs", config.window_secs as usize),
            ("max_open_windows", config.max_open_windows),
            ("max_events_per_window", config.max_events_per_window),
            ("max_scos_per_window", config.max_scos_per_window),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero { field });
            }
        }
        Ok(SightingAggregator {
            config,
            open: BTreeMap::new(),
            closing: Vec::new(),
            floor: i64::MIN,
            watermark: None,
            stats: AggregatorStats::default(),
        })
    }

    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    pub fn stats(&self) -> &AggregatorStats {
        &self.stats
    }

    /// Number of open windows.
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }

    /// The window start (Unix seconds) of an event time.
    pub fn window_start(&self, t: Timestamp) -> i64 {
        t.unix_seconds()
            .div_euclid(i64::from(self.config.window_secs))
            * i64::from(self.config.window_secs)
    }

    /// The deterministic sighting id of (indicator, window start).
    pub fn sighting_id(&self, indicator_id: &str, window_start: i64) -> String {
        window_ids(&self.config.identity_id, indicator_id, window_start).0
    }

    fn observed_data_id(&self, indicator_id: &str, window_start: i64) -> String {
        window_ids(&self.config.identity_id, indicator_id, window_start).1
    }

    fn is_closed(&self, start: i64) -> bool {
        if start < self.floor {
            return true;
        }
        let end = start + i64::from(self.config.window_secs);
        self.watermark
            .is_some_and(|w| w >= end + i64::from(self.config.allowed_lateness_secs))
    }

    /// The state to persist (open windows only; closed windows are final). Pending
    /// changes not yet drained are included: call [`Self::drain`] first if the
    /// written versions must match the snapshot.
    pub fn snapshot(&self) -> AggregatorSnapshot {
        let windows = self
            .open
            .values()
            .chain(self.closing.iter())
            .map(|w| {
                let mut event_keys: Vec<u64> = w.seen_events.iter().copied().collect();
                event_keys.sort_unstable();
                WindowSnapshot {
                    indicator_id: w.indicator_id.clone(),
                    window_start: w.start,
                    count: w.count,
                    first_seen: w.first_seen,
                    last_seen: w.last_seen,
                    event_keys,
                    sco_ids: w.sco_ids.clone(),
                    created: w.created,
                    modified: w.modified,
                }
            })
            .collect();
        AggregatorSnapshot {
            windows,
            floor: self.floor,
            watermark: self.watermark,
        }
    }

    /// Rebuilds an aggregator from a snapshot taken with the same configuration.
    /// Windows that the snapshot's watermark has closed are dropped.
    pub fn restore(
        config: AggregatorConfig,
        snapshot: AggregatorSnapshot,
    ) -> Result<Self, RestoreError> {
        let mut agg = SightingAggregator::new(config).map_err(RestoreError::Config)?;
        agg.floor = snapshot.floor;
        agg.watermark = snapshot.watermark;
        for (index, w) in snapshot.windows.into_iter().enumerate() {
            let bad = |reason| {
                RestoreError::Snapshot(SnapshotError {
                    index,
                    indicator_id: w.indicator_id.clone(),
                    reason,
                })
            };
            if !is_stix_id(&w.indicator_id, "indicator") {
                return Err(bad("not an indicator id"));
            }
            if w.window_start != agg.window_start(w.first_seen)
                || w.window_start != agg.window_start(w.last_seen)
            {
                return Err(bad(
                    "first_seen/last_seen outside the window (other window length?)",
                ));
            }
            if w.count == 0 || (w.event_keys.len() as u64) > w.count {
                return Err(bad("count is smaller than the number of events"));
            }
            if w.event_keys.len() > agg.config.max_events_per_window
                || w.sco_ids.len() > agg.config.max_scos_per_window
            {
                return Err(bad("more events or SCOs than this configuration allows"));
            }
            if agg.is_closed(w.window_start) {
                continue;
            }
            let key = (w.window_start, w.indicator_id.clone());
            if agg.open.contains_key(&key) {
                return Err(bad("the same window appears twice"));
            }
            if agg.open.len() >= agg.config.max_open_windows {
                return Err(bad("more open windows than max_open_windows"));
            }
            let window = Window {
                sighting_id: agg.sighting_id(&w.indicator_id, w.window_start),
                observed_data_id: agg.observed_data_id(&w.indicator_id, w.window_start),
                indicator_id: w.indicator_id,
                start: w.window_start,
                count: w.count,
                first_seen: w.first_seen,
                last_seen: w.last_seen,
                seen_events: w.event_keys.into_iter().collect(),
                sco_index: w.sco_ids.iter().cloned().collect(),
                sco_ids: w.sco_ids,
                pending_scos: Vec::new(),
                dirty: w.created.is_none(),
                created: w.created,
                modified: w.modified,
            };
            agg.open.insert(key, window);
        }
        Ok(agg)
    }

    /// Counts one hit. Errors are for hits that cannot become STIX (bad ids or
    /// values); they change no state.
    pub fn ingest(&mut self, hit: &Hit) -> Result<IngestOutcome, HitError> {
        if !is_stix_id(&hit.indicator_id, "indicator") {
            return Err(HitError::BadIndicatorId {
                event_id: hit.event_id.clone(),
                value: hit.indicator_id.clone(),
            });
        }
        if hit.event_id.is_empty() {
            return Err(HitError::EmptyEventId {
                event_id: String::new(),
            });
        }
        let start = self.window_start(hit.observed_at);
        if self.is_closed(start) {
            self.stats.late += 1;
            return Ok(IngestOutcome::Late);
        }
        let key = (start, hit.indicator_id.clone());
        let ev = event_key(&hit.event_id);
        // A duplicate was validated when first counted: refuse it before building STIX.
        if let Some(w) = self.open.get(&key) {
            if w.seen_events.contains(&ev) {
                self.stats.duplicates += 1;
                return Ok(IngestOutcome::Duplicate {
                    sighting_id: w.sighting_id.clone(),
                });
            }
        }
        let sco = sco_for(hit)?;
        if !self.open.contains_key(&key) && self.open.len() >= self.config.max_open_windows {
            let oldest = self.open.keys().next().map(|k| k.0);
            match oldest {
                Some(oldest) if oldest < start => self.close_before(oldest + 1, true),
                _ => {
                    self.stats.overloaded += 1;
                    return Ok(IngestOutcome::Overloaded);
                }
            }
        }
        let outcome = match self.open.get_mut(&key) {
            Some(w) => {
                let verified = w.seen_events.len() < self.config.max_events_per_window;
                if verified {
                    w.seen_events.insert(ev);
                } else {
                    self.stats.unverified += 1;
                }
                w.count = w.count.saturating_add(1);
                w.first_seen = w.first_seen.min(hit.observed_at);
                w.last_seen = w.last_seen.max(hit.observed_at);
                IngestOutcome::Counted {
                    sighting_id: w.sighting_id.clone(),
                    verified,
                }
            }
            None => {
                let sighting_id = self.sighting_id(&hit.indicator_id, start);
                let observed_data_id = self.observed_data_id(&hit.indicator_id, start);
                let mut seen_events = hashbrown::HashSet::new();
                seen_events.insert(ev);
                self.open.insert(
                    key.clone(),
                    Window {
                        indicator_id: hit.indicator_id.clone(),
                        start,
                        sighting_id: sighting_id.clone(),
                        observed_data_id,
                        count: 1,
                        first_seen: hit.observed_at,
                        last_seen: hit.observed_at,
                        seen_events,
                        sco_ids: Vec::new(),
                        sco_index: hashbrown::HashSet::new(),
                        pending_scos: Vec::new(),
                        created: None,
                        modified: None,
                        dirty: true,
                    },
                );
                self.stats.windows_opened += 1;
                IngestOutcome::NewWindow { sighting_id }
            }
        };
        self.stats.counted += 1;
        if let Some(w) = self.open.get_mut(&key) {
            w.dirty = true;
            if !w.sco_index.contains(sco.id()) {
                if w.sco_ids.len() < self.config.max_scos_per_window {
                    w.sco_index.insert(sco.id().to_owned());
                    w.sco_ids.push(sco.id().to_owned());
                    w.pending_scos.push(sco);
                } else {
                    self.stats.scos_not_referenced += 1;
                }
            }
        }
        let t = hit.observed_at.unix_seconds();
        if self.watermark.is_none_or(|w| t > w) {
            self.watermark = Some(t);
            self.close_expired();
        }
        Ok(outcome)
    }

    /// Advances the watermark without a hit (e.g. the source is idle but its clock
    /// moved on), closing windows that ended.
    pub fn advance_watermark(&mut self, event_time: Timestamp) {
        let t = event_time.unix_seconds();
        if self.watermark.is_none_or(|w| t > w) {
            self.watermark = Some(t);
            self.close_expired();
        }
    }

    fn close_expired(&mut self) {
        let Some(w) = self.watermark else { return };
        let span =
            i64::from(self.config.window_secs) + i64::from(self.config.allowed_lateness_secs);
        // windows with start + span <= w are closed: start <= w - span
        self.close_before(w - span + 1, false);
    }

    /// Closes every open window with start < `before`.
    fn close_before(&mut self, before: i64, early: bool) {
        while let Some(entry) = self.open.first_entry() {
            if entry.key().0 >= before {
                break;
            }
            let w = entry.remove();
            self.stats.windows_closed += 1;
            if early {
                self.stats.windows_closed_early += 1;
            }
            self.closing.push(w);
        }
        if early {
            self.floor = self.floor.max(before);
        }
    }

    /// Writes a new version of each window changed since the last drain, and the
    /// last version of windows that closed. `now` is the processing time used for
    /// `created`/`modified` (bumped by 1 ms when not later than the previous version).
    pub fn drain(&mut self, now: Timestamp) -> Vec<WindowUpdate> {
        let mut out = Vec::new();
        let closing = std::mem::take(&mut self.closing);
        for mut w in closing {
            if w.dirty || w.created.is_none() {
                out.push(self.version(&mut w, now, true));
            }
        }
        let keys: Vec<(i64, String)> = self
            .open
            .iter()
            .filter(|(_, w)| w.dirty)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(mut w) = self.open.remove(&k) {
                out.push(self.version(&mut w, now, false));
                self.open.insert(k, w);
            }
        }
        out
    }

    fn version(&self, w: &mut Window, now: Timestamp, final_version: bool) -> WindowUpdate {
        let modified = next_version(now, w.modified);
        let first_version = w.created.is_none();
        let created = *w.created.get_or_insert(modified);
        w.modified = Some(modified);
        w.dirty = false;
        let (observed_data, sighting) = window_objects(&WindowVersion {
            identity_id: &self.config.identity_id,
            indicator_id: &w.indicator_id,
            sighting_id: &w.sighting_id,
            observed_data_id: &w.observed_data_id,
            count: w.count,
            first_seen: w.first_seen,
            last_seen: w.last_seen,
            sco_ids: &w.sco_ids,
            created,
            modified,
        });
        WindowUpdate {
            indicator_id: w.indicator_id.clone(),
            window_start: Timestamp::from_unix_millis(w.start * 1000).with_precision(0),
            new_scos: std::mem::take(&mut w.pending_scos),
            observed_data,
            sighting,
            first_version,
            final_version,
        }
    }
}

/// The deterministic (sighting id, observed-data id) of the window of `indicator_id`
/// starting at `window_start` (Unix seconds) on the node `identity_id`: UUIDv5 of
/// (node, indicator, window start), the same on every worker and after every restart.
pub fn window_ids(identity_id: &str, indicator_id: &str, window_start: i64) -> (String, String) {
    let ns = ids::node_namespace(identity_id);
    let start = window_start.to_string();
    (
        ids::derived_id("sighting", &ns, &[indicator_id, &start]),
        ids::derived_id("observed-data", &ns, &[indicator_id, &start]),
    )
}

/// One version of a window, to turn into STIX with [`window_objects`].
#[derive(Debug, Clone, Copy)]
pub struct WindowVersion<'a> {
    pub identity_id: &'a str,
    pub indicator_id: &'a str,
    pub sighting_id: &'a str,
    pub observed_data_id: &'a str,
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub sco_ids: &'a [String],
    pub created: Timestamp,
    pub modified: Timestamp,
}

/// The `observed-data` and the `sighting` of one window version (`count` is capped at
/// STIX's [`MAX_COUNT`]).
pub fn window_objects(v: &WindowVersion<'_>) -> (Object, Object) {
    let count = v.count.min(MAX_COUNT);
    let identity = Value::String(v.identity_id.to_owned());

    let mut od = Map::new();
    od.insert("type".into(), "observed-data".into());
    od.insert("spec_version".into(), "2.1".into());
    od.insert("id".into(), Value::String(v.observed_data_id.to_owned()));
    od.insert("created_by_ref".into(), identity.clone());
    od.insert("created".into(), Value::String(v.created.to_string()));
    od.insert("modified".into(), Value::String(v.modified.to_string()));
    od.insert(
        "first_observed".into(),
        Value::String(v.first_seen.to_string()),
    );
    od.insert(
        "last_observed".into(),
        Value::String(v.last_seen.to_string()),
    );
    od.insert("number_observed".into(), Value::from(count));
    od.insert(
        "object_refs".into(),
        Value::Array(v.sco_ids.iter().map(|s| Value::String(s.clone())).collect()),
    );

    let mut s = Map::new();
    s.insert("type".into(), "sighting".into());
    s.insert("spec_version".into(), "2.1".into());
    s.insert("id".into(), Value::String(v.sighting_id.to_owned()));
    s.insert("created_by_ref".into(), identity.clone());
    s.insert("created".into(), Value::String(v.created.to_string()));
    s.insert("modified".into(), Value::String(v.modified.to_string()));
    s.insert("first_seen".into(), Value::String(v.first_seen.to_string()));
    s.insert("last_seen".into(), Value::String(v.last_seen.to_string()));
    s.insert("count".into(), Value::from(count));
    s.insert(
        "sighting_of_ref".into(),
        Value::String(v.indicator_id.to_owned()),
    );
    s.insert(
        "observed_data_refs".into(),
        Value::Array(vec![Value::String(v.observed_data_id.to_owned())]),
    );
    s.insert("where_sighted_refs".into(), Value::Array(vec![identity]));
    (map_object(od), map_object(s))
}

/// Wraps a map this module built (always with string `type` and `id`).
pub(crate) fn map_object(map: Map<String, Value>) -> Object {
    match Object::from_map(map) {
        Ok(o) => o,
        // `type` and `id` are inserted as strings by every caller in this crate.
        Err(e) => unreachable!("internal object without type/id: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hit::tests::hit;

    const ID: &str = "identity--0b9a5a4e-6b7b-4c61-9d0e-0c2c7e6a2f11";
    const IND: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    const IND2: &str = "indicator--1f2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

    fn agg() -> SightingAggregator {
        SightingAggregator::new(AggregatorConfig::new(ID)).unwrap()
    }
    fn now(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn repeated_hits_update_one_sighting() {
        let mut a = agg();
        let o1 = a
            .ingest(&hit(
                "e1",
                IND,
                "2026-03-01T10:05:00Z",
                "ipv4-addr",
                "203.0.113.9",
            ))
            .unwrap();
        assert!(matches!(o1, IngestOutcome::NewWindow { .. }));
        let o2 = a
            .ingest(&hit(
                "e2",
                IND,
                "2026-03-01T10:59:59Z",
                "ipv4-addr",
                "203.0.113.9",
            ))
            .unwrap();
        assert!(matches!(o2, IngestOutcome::Counted { verified: true, .. }));
        let out = a.drain(now("2026-03-01T11:00:00.5Z"));
        assert_eq!(out.len(), 1);
        let s = &out[0].sighting;
        assert_eq!(s.get("count").unwrap(), 2);
        assert_eq!(s.get("first_seen").unwrap(), "2026-03-01T10:05:00Z");
        assert_eq!(s.get("last_seen").unwrap(), "2026-03-01T10:59:59Z");
        assert_eq!(out[0].new_scos.len(), 1);
        assert!(out[0].first_version);
        let first_id = s.id().to_owned();
        let first_modified = s.modified().unwrap();

        a.ingest(&hit(
            "e3",
            IND,
            "2026-03-01T10:30:00Z",
            "ipv4-addr",
            "203.0.113.10",
        ))
        .unwrap();
        // the same processing time again: modified still increases
        let out = a.drain(now("2026-03-01T11:00:00.5Z"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].sighting.id(), first_id);
        assert_eq!(out[0].sighting.get("count").unwrap(), 3);
        assert!(out[0].sighting.modified().unwrap() > first_modified);
        assert_eq!(out[0].sighting.created(), Some(first_modified));
        assert!(!out[0].first_version);
        assert_eq!(out[0].new_scos.len(), 1);
        assert_eq!(
            out[0]
                .observed_data
                .get("object_refs")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            2
        );
        // nothing changed: nothing written
        assert!(a.drain(now("2026-03-01T11:00:01Z")).is_empty());
    }

    #[test]
    fn windows_are_aligned_and_separate_per_indicator() {
        let mut a = agg();
        a.ingest(&hit(
            "e1",
            IND,
            "2026-03-01T10:59:59.999Z",
            "domain-name",
            "evil.example",
        ))
        .unwrap();
        a.ingest(&hit(
            "e2",
            IND,
            "2026-03-01T11:00:00Z",
            "domain-name",
            "evil.example",
        ))
        .unwrap();
        a.ingest(&hit(
            "e3",
            IND2,
            "2026-03-01T11:00:01Z",
            "domain-name",
            "evil.example",
        ))
        .unwrap();
        let out = a.drain(now("2026-03-01T11:00:02Z"));
        assert_eq!(out.len(), 3);
        let ids: hashbrown::HashSet<&str> = out.iter().map(|u| u.sighting.id()).collect();
        assert_eq!(ids.len(), 3);
        let want = a.sighting_id(IND, a.window_start(now("2026-03-01T11:30:00Z")));
        let found = out.iter().find(|u| u.sighting.id() == want).unwrap();
        assert_eq!(found.window_start, now("2026-03-01T11:00:00Z"));
        assert_eq!(
            found.sighting.get("first_seen").unwrap(),
            "2026-03-01T11:00:00Z"
        );
    }

    #[test]
    fn redelivered_events_are_not_counted_twice() {
        let mut a = agg();
        let h = hit(
            "nats:EVE:41",
            IND,
            "2026-03-01T10:05:00Z",
            "ipv4-addr",
            "203.0.113.9",
        );
        a.ingest(&h).unwrap();
        assert!(matches!(
            a.ingest(&h).unwrap(),
            IngestOutcome::Duplicate { .. }
        ));
        a.ingest(&hit(
            "nats:EVE:42",
            IND,
            "2026-03-01T10:06:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        assert!(matches!(
            a.ingest(&h).unwrap(),
            IngestOutcome::Duplicate { .. }
        ));
        let out = a.drain(now("2026-03-01T10:10:00Z"));
        assert_eq!(out[0].sighting.get("count").unwrap(), 2);
        assert_eq!(a.stats().duplicates, 2);
    }

    #[test]
    fn closed_windows_refuse_late_hits_and_drop_state() {
        let mut a = agg();
        a.ingest(&hit(
            "e1",
            IND,
            "2026-03-01T10:05:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        a.drain(now("2026-03-01T10:05:01Z"));
        a.ingest(&hit(
            "e1b",
            IND,
            "2026-03-01T10:20:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        // 11:05:00 = end (11:00) + lateness (5 min): the 10:00 window closes
        a.ingest(&hit(
            "e2",
            IND2,
            "2026-03-01T11:05:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        assert_eq!(a.open_windows(), 1);
        let out = a.drain(now("2026-03-01T11:05:01Z"));
        assert_eq!(out.len(), 2);
        let last = out.iter().find(|u| u.indicator_id == IND).unwrap();
        assert!(last.final_version);
        assert_eq!(last.sighting.get("count").unwrap(), 2);
        // a closed window with nothing new is not written again
        assert!(a.drain(now("2026-03-01T11:05:02Z")).is_empty());
        assert_eq!(
            a.ingest(&hit(
                "e1",
                IND,
                "2026-03-01T10:05:00Z",
                "ipv4-addr",
                "203.0.113.9"
            ))
            .unwrap(),
            IngestOutcome::Late
        );
        // within lateness: still accepted
        let mut b = agg();
        b.ingest(&hit(
            "e1",
            IND,
            "2026-03-01T11:04:59Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        assert!(matches!(
            b.ingest(&hit(
                "e2",
                IND,
                "2026-03-01T10:59:00Z",
                "ipv4-addr",
                "203.0.113.9"
            ))
            .unwrap(),
            IngestOutcome::NewWindow { .. }
        ));
    }

    #[test]
    fn max_open_windows_closes_the_oldest_or_refuses() {
        let mut cfg = AggregatorConfig::new(ID);
        cfg.max_open_windows = 2;
        cfg.allowed_lateness_secs = 100_000;
        let mut a = SightingAggregator::new(cfg).unwrap();
        a.ingest(&hit(
            "e1",
            IND,
            "2026-03-01T08:00:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        a.ingest(&hit(
            "e2",
            IND,
            "2026-03-01T09:00:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        // a third window: the 08:00 one is closed early
        assert!(matches!(
            a.ingest(&hit(
                "e3",
                IND2,
                "2026-03-01T09:10:00Z",
                "ipv4-addr",
                "203.0.113.9"
            ))
            .unwrap(),
            IngestOutcome::NewWindow { .. }
        ));
        assert_eq!(a.stats().windows_closed_early, 1);
        assert_eq!(
            a.ingest(&hit(
                "e4",
                IND,
                "2026-03-01T08:30:00Z",
                "ipv4-addr",
                "203.0.113.9"
            ))
            .unwrap(),
            IngestOutcome::Late
        );
        // both open windows start at 09:00; a third at 09:00 cannot be opened
        let ind3 = "indicator--2f2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        assert_eq!(
            a.ingest(&hit(
                "e5",
                ind3,
                "2026-03-01T09:20:00Z",
                "ipv4-addr",
                "203.0.113.9"
            ))
            .unwrap(),
            IngestOutcome::Overloaded
        );
        assert_eq!(a.open_windows(), 2);
        let out = a.drain(now("2026-03-01T09:30:00Z"));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn dedup_bound_is_reported() {
        let mut cfg = AggregatorConfig::new(ID);
        cfg.max_events_per_window = 2;
        let mut a = SightingAggregator::new(cfg).unwrap();
        for i in 0..2 {
            a.ingest(&hit(
                &format!("e{i}"),
                IND,
                "2026-03-01T10:00:00Z",
                "ipv4-addr",
                "203.0.113.9",
            ))
            .unwrap();
        }
        assert!(matches!(
            a.ingest(&hit(
                "e9",
                IND,
                "2026-03-01T10:00:00Z",
                "ipv4-addr",
                "203.0.113.9"
            ))
            .unwrap(),
            IngestOutcome::Counted {
                verified: false,
                ..
            }
        ));
        assert_eq!(a.stats().unverified, 1);
    }

    #[test]
    fn sco_bound_keeps_counting() {
        let mut cfg = AggregatorConfig::new(ID);
        cfg.max_scos_per_window = 1;
        let mut a = SightingAggregator::new(cfg).unwrap();
        a.ingest(&hit(
            "e1",
            IND,
            "2026-03-01T10:00:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        a.ingest(&hit(
            "e2",
            IND,
            "2026-03-01T10:00:00Z",
            "ipv4-addr",
            "203.0.113.8",
        ))
        .unwrap();
        let out = a.drain(now("2026-03-01T10:00:01Z"));
        assert_eq!(out[0].observed_data.get("number_observed").unwrap(), 2);
        assert_eq!(
            out[0]
                .observed_data
                .get("object_refs")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(a.stats().scos_not_referenced, 1);
    }

    #[test]
    fn bad_input_is_refused_without_state_change() {
        let mut a = agg();
        let mut h = hit(
            "e1",
            "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "2026-03-01T10:00:00Z",
            "ipv4-addr",
            "203.0.113.9",
        );
        assert_eq!(
            a.ingest(&h).unwrap_err().code(),
            "warning.hit.bad_indicator_id"
        );
        h.indicator_id = IND.into();
        h.event_id.clear();
        assert_eq!(
            a.ingest(&h).unwrap_err().code(),
            "warning.hit.empty_event_id"
        );
        h.event_id = "e1".into();
        h.value = "not-an-ip".into();
        assert_eq!(a.ingest(&h).unwrap_err().code(), "warning.hit.bad_value");
        assert_eq!(a.open_windows(), 0);
        assert_eq!(
            SightingAggregator::new(AggregatorConfig::new("identity--x"))
                .unwrap_err()
                .code(),
            "warning.config.bad_identity"
        );
        let mut cfg = AggregatorConfig::new(ID);
        cfg.window_secs = 0;
        assert_eq!(
            SightingAggregator::new(cfg).unwrap_err().code(),
            "warning.config.zero_bound"
        );
    }

    #[test]
    fn snapshot_restore_resumes_counts_and_dedup() {
        let mut a = agg();
        a.ingest(&hit(
            "nats:S:1",
            IND,
            "2026-03-01T10:05:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        a.ingest(&hit(
            "nats:S:2",
            IND,
            "2026-03-01T10:06:00Z",
            "ipv4-addr",
            "203.0.113.8",
        ))
        .unwrap();
        let first = a.drain(now("2026-03-01T10:06:01Z"));
        let snap = a.snapshot();
        let text = serde_json::to_string(&snap).unwrap();
        let back: AggregatorSnapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, snap);
        // a worker dies; another resumes from the snapshot, and the stream
        // redelivers event 2 (not acknowledged) plus new event 3
        let mut b = SightingAggregator::restore(AggregatorConfig::new(ID), back).unwrap();
        assert!(matches!(
            b.ingest(&hit(
                "nats:S:2",
                IND,
                "2026-03-01T10:06:00Z",
                "ipv4-addr",
                "203.0.113.8"
            ))
            .unwrap(),
            IngestOutcome::Duplicate { .. }
        ));
        b.ingest(&hit(
            "nats:S:3",
            IND,
            "2026-03-01T10:07:00Z",
            "ipv4-addr",
            "203.0.113.9",
        ))
        .unwrap();
        let out = b.drain(now("2026-03-01T10:06:01Z"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].sighting.id(), first[0].sighting.id());
        assert_eq!(out[0].sighting.get("count").unwrap(), 3);
        assert!(!out[0].first_version);
        assert!(out[0].new_scos.is_empty());
        assert!(out[0].sighting.modified().unwrap() > first[0].sighting.modified().unwrap());
        assert_eq!(out[0].sighting.created(), first[0].sighting.created());

        let mut broken = a.snapshot();
        broken.windows[0].count = 1;
        let e = SightingAggregator::restore(AggregatorConfig::new(ID), broken).unwrap_err();
        assert_eq!(e.code(), "warning.aggregate.bad_snapshot");
        let mut cfg = AggregatorConfig::new(ID);
        cfg.window_secs = 60;
        assert!(SightingAggregator::restore(cfg, a.snapshot()).is_err());
    }

    proptest::proptest! {
        /// Any delivery order with any number of redeliveries gives the same counts
        /// as delivering each event once.
        #[test]
        fn exactly_once_under_redelivery(
            events in proptest::collection::vec((0u8..3, 0u32..7200), 1..60),
            redeliver in proptest::collection::vec(0usize..60, 0..60),
        ) {
            let inds = [IND, IND2, "indicator--2f2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"];
            let mk = |i: usize| {
                let (ind, secs) = events[i];
                let t = Timestamp::from_unix_millis((1_772_000_000 + i64::from(secs)) * 1000);
                Hit { observed_at: t, ..hit(&format!("ev{i}"), inds[ind as usize], "2026-01-01T00:00:00Z", "ipv4-addr", "198.51.100.1") }
            };
            let mut cfg = AggregatorConfig::new(ID);
            cfg.allowed_lateness_secs = 100_000;
            let mut once = SightingAggregator::new(cfg.clone()).unwrap();
            for i in 0..events.len() { once.ingest(&mk(i)).unwrap(); }
            let mut many = SightingAggregator::new(cfg).unwrap();
            for i in 0..events.len() {
                many.ingest(&mk(i)).unwrap();
                for r in &redeliver { if *r <= i { many.ingest(&mk(*r)).unwrap(); } }
            }
            let t = Timestamp::parse("2026-03-01T00:00:00Z").unwrap();
            let count = |a: &mut SightingAggregator| {
                let mut v: Vec<(String, u64)> = a.drain(t).into_iter()
                    .map(|u| (u.sighting.id().to_owned(), u.sighting.get("count").and_then(Value::as_u64).unwrap_or(0)))
                    .collect();
                v.sort();
                v
            };
            let expected = count(&mut once);
            proptest::prop_assert_eq!(expected.iter().map(|x| x.1).sum::<u64>(), events.len() as u64);
            proptest::prop_assert_eq!(count(&mut many), expected);
        }
    }
}
