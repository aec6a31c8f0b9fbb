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
use matcher::{Index, IndexBuilder, Layers};
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

/// Why an indicator's latest version takes no part in matching. The live set keeps it per
/// indicator, so that a change takes the indicator's old count back exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotLive {
    Revoked,
    NotYetValid,
    Expired,
    LowConfidence,
    OtherPatternType,
    Malformed,
    Unusable,
}

/// The key an indicator id is kept under in [`ReloadState::not_live`]: 8 bytes instead
/// of the id, for sets where most indicators have expired.
fn id_key(id: &str) -> u64 {
    use std::hash::BuildHasher;
    static KEYS: std::sync::LazyLock<hashbrown::DefaultHashBuilder> =
        std::sync::LazyLock::new(hashbrown::DefaultHashBuilder::default);
    KEYS.hash_one(id)
}

impl IndexStatus {
    /// The counter of indicators not live for `why`.
    fn not_live(&mut self, why: NotLive) -> &mut u64 {
        let c = &mut self.inactive;
        match why {
            NotLive::Revoked => &mut c.revoked,
            NotLive::NotYetValid => &mut c.not_yet_valid,
            NotLive::Expired => &mut c.expired,
            NotLive::LowConfidence => &mut c.low_confidence,
            NotLive::OtherPatternType => &mut c.other_pattern_type,
            NotLive::Malformed => &mut c.malformed,
            NotLive::Unusable => &mut self.unusable,
        }
    }

    /// Adds the counts of `other` (what a layer compiled) to these.
    fn add_counts(&mut self, other: &IndexStatus) {
        self.indicators_read += other.indicators_read;
        self.ioc_indicators += other.ioc_indicators;
        self.general_indicators += other.general_indicators;
        self.unusable += other.unusable;
        let (a, b) = (&mut self.inactive, &other.inactive);
        a.revoked += b.revoked;
        a.not_yet_valid += b.not_yet_valid;
        a.expired += b.expired;
        a.low_confidence += b.low_confidence;
        a.other_pattern_type += b.other_pattern_type;
        a.malformed += b.malformed;
    }
}

/// One snapshot of the indicators taking part in matching.
#[derive(Debug)]
pub struct LiveIndicators {
    /// The compiled IOC index: a base built from every active indicator, and newer
    /// layers for what changed since (see [`Engine::reload`]).
    pub layers: Layers,
    /// General (non IOC-shaped) patterns: (indicator id, pattern).
    pub general: Vec<(String, String)>,
    pub status: IndexStatus,
}

impl LiveIndicators {
    pub(crate) fn empty() -> Self {
        LiveIndicators {
            layers: Layers::default(),
            general: Vec::new(),
            status: IndexStatus::default(),
        }
    }
}

/// Where the change detection is up to.
#[derive(Debug, Default)]
pub(crate) struct ReloadState {
    /// The object cursor of the newest indicator version taken in (cursors increase in
    /// commit order; paging by cursor reads the type index from where it left off).
    last_cursor: i64,
    last_tombstone: i64,
    built_once: bool,
    /// Upcoming validity transitions (an indicator's `valid_from` or `valid_until`)
    /// within [`TRANSITION_HORIZON`] of the last full build: time → indicator ids.
    transitions: std::collections::BTreeMap<i64, Vec<String>>,
    /// The first transition past the horizon (a full build collects the next ones).
    far_transition: Option<i64>,
    /// When the live set last changed (for folding the layers when idle).
    last_change: Option<Instant>,
    /// Indicators whose latest version is read but not live, and why ([`id_key`] →
    /// reason): with the layers' and the general patterns' ids, what each indicator
    /// counts for in [`IndexStatus`].
    not_live: hashbrown::HashMap<u64, NotLive>,
}

impl ReloadState {
    /// Keeps the validity transitions of what was compiled: those within the horizon
    /// by time, and the earliest one past it.
    fn add_transitions(&mut self, near: Vec<(i64, String)>, far: Option<i64>) {
        for (t, id) in near {
            self.transitions.entry(t).or_default().push(id);
        }
        if let Some(f) = far {
            self.far_transition = Some(earliest(self.far_transition, f));
        }
    }

    /// The next transition kept (within the horizon or past it).
    fn next_transition(&self) -> Option<i64> {
        let near = self.transitions.keys().next().copied();
        near.into_iter().chain(self.far_transition).min()
    }
}

/// The earlier of `t` and `current` (when there is one).
fn earliest(current: Option<i64>, t: i64) -> i64 {
    current.map_or(t, |c| c.min(t))
}

/// Pages of 1,000 new indicator versions taken by one reload at most.
const CHANGE_PAGES: usize = 25;

/// Validity transitions within this much of a full build are kept and applied as
/// changes; later ones wait for the next full build.
const TRANSITION_HORIZON: i64 = 3_600 * 1_000_000;

/// How the live index grows layers before it is rebuilt whole ([`Engine::reload`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerLimits {
    /// More layers than this on top of the base are merged into one.
    pub max_layers: usize,
    /// Layers above the base holding more than a quarter of the base's indicators, and
    /// at least this many, start a full build (so full builds get rarer as the set
    /// grows: each costs at most a constant factor of what arrived since the last).
    pub rebuild_min: usize,
    /// After this long without changes, layers above the base are folded into it by a
    /// full build, so steady-state lookups ask one index.
    pub fold_after_idle: std::time::Duration,
}

impl Default for LayerLimits {
    /// 4 layers, 10,000 indicators, one minute.
    fn default() -> Self {
        LayerLimits {
            max_layers: 4,
            rebuild_min: 10_000,
            fold_after_idle: std::time::Duration::from_secs(60),
        }
    }
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

/// Compiles indicator versions into one index: what a full build or a layer holds.
struct Compiler {
    builder: IndexBuilder,
    general: Vec<(String, String)>,
    status: IndexStatus,
    not_live: hashbrown::HashMap<u64, NotLive>,
    max_cursor: i64,
    /// Validity transitions of what was compiled (time → id), within the horizon.
    transitions: Vec<(i64, String)>,
    far_transition: Option<i64>,
    policy: ActivePolicy,
    weights: WeightBook,
    now: stix::Timestamp,
}

impl Compiler {
    fn new(policy: ActivePolicy, weights: WeightBook) -> Self {
        Compiler {
            builder: IndexBuilder::new(),
            general: Vec::new(),
            status: IndexStatus::default(),
            not_live: hashbrown::HashMap::new(),
            max_cursor: 0,
            transitions: Vec::new(),
            far_transition: None,
            policy,
            weights,
            now: stix::Timestamp::from_unix_millis(store::now_micros().div_euclid(1000)),
        }
    }

    fn transition(&mut self, t: i64, id: &str) {
        let now = self.now.unix_micros();
        if t <= now {
            return;
        }
        if t <= now + TRANSITION_HORIZON {
            self.transitions.push((t, id.to_owned()));
        } else {
            self.far_transition = Some(earliest(self.far_transition, t));
        }
    }

    /// Counts an indicator that takes no part in matching, and remembers why.
    fn skip(&mut self, id: &str, why: NotLive) {
        *self.status.not_live(why) += 1;
        self.not_live.insert(id_key(id), why);
    }

    /// Compiles one stored indicator version (counted, and left out when not active);
    /// `id` is its id as stored and `cursor` its object cursor.
    fn add(&mut self, id: &str, cursor: i64, json: &str) {
        self.max_cursor = self.max_cursor.max(cursor);
        self.status.indicators_read += 1;
        let Ok(obj) = stix::Object::from_json_str(json) else {
            self.skip(id, NotLive::Malformed);
            return;
        };
        let ts = |p: &str| {
            obj.get(p)
                .and_then(Value::as_str)
                .and_then(|s| stix::Timestamp::parse(s).ok())
                .map(|t| t.unix_micros())
        };
        match activity(&obj, self.now, &self.policy, &self.weights) {
            Ok(Activity::Active { .. }) => {
                if let Some(t) = ts("valid_until") {
                    self.transition(t, obj.id());
                }
            }
            Ok(Activity::Inactive(why)) => {
                let why = match why {
                    Inactive::Revoked => NotLive::Revoked,
                    Inactive::NotYetValid { .. } => {
                        if let Some(t) = ts("valid_from") {
                            self.transition(t, obj.id());
                        }
                        NotLive::NotYetValid
                    }
                    Inactive::Expired { .. } => NotLive::Expired,
                    Inactive::LowConfidence { .. } => NotLive::LowConfidence,
                    Inactive::UnsupportedPatternType { .. } => NotLive::OtherPatternType,
                    Inactive::NotAnIndicator { .. } => NotLive::Malformed,
                };
                self.skip(id, why);
                return;
            }
            Err(_) => {
                self.skip(id, NotLive::Malformed);
                return;
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
        match compile_indicator(&mut self.builder, &small, obj.id()) {
            Ok(Compiled::Iocs(_)) => self.status.ioc_indicators += 1,
            Ok(Compiled::General(_)) => {
                self.status.general_indicators += 1;
                if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
                    self.general.push((obj.id().to_owned(), p.to_owned()));
                }
            }
            Err(e) => {
                self.skip(id, NotLive::Unusable);
                tracing::warn!(code = e.code(), "indicator not usable: {e}");
            }
        }
    }

    fn finish(self) -> Result<CompiledSet> {
        let index = self
            .builder
            .build()
            .map_err(|e| EngineError::Index(e.to_string()))?;
        Ok(CompiledSet {
            index,
            general: self.general,
            status: self.status,
            not_live: self.not_live,
            max_cursor: self.max_cursor,
            transitions: self.transitions,
            far_transition: self.far_transition,
        })
    }
}

/// What a [`Compiler`] produced.
struct CompiledSet {
    index: Index,
    general: Vec<(String, String)>,
    status: IndexStatus,
    not_live: hashbrown::HashMap<u64, NotLive>,
    max_cursor: i64,
    transitions: Vec<(i64, String)>,
    far_transition: Option<i64>,
}

/// What changed since the live set was last updated.
#[derive(Default)]
struct Changes {
    /// Indicators with a new version, deleted, or at a validity transition.
    ids: hashbrown::HashSet<String>,
    /// The current versions read with the change (id, object cursor, JSON): those whose
    /// newest version arrived; the other changed ids are read when the change is applied.
    rows: Vec<(String, i64, String)>,
    /// The newest `date_added` among new versions (for the time to effect).
    newest: Option<i64>,
    /// A transition past the kept horizon is due: only a full build finds what it is.
    far_due: bool,
    /// Where the change detection will be up to once these are applied.
    last_cursor: i64,
    last_tombstone: i64,
    /// Transition times (keys of [`ReloadState::transitions`]) these include.
    due: Vec<i64>,
}

impl Changes {
    /// Records in `st` that these changes are live.
    fn commit(&self, st: &mut ReloadState) {
        st.last_cursor = st.last_cursor.max(self.last_cursor);
        st.last_tombstone = st.last_tombstone.max(self.last_tombstone);
        for t in &self.due {
            st.transitions.remove(t);
        }
    }
}

impl Engine {
    fn active_policy(&self) -> ActivePolicy {
        ActivePolicy {
            min_confidence: self.cfg.min_confidence,
            default_confidence: self.cfg.default_confidence,
        }
    }

    /// Brings the live indicators up to date with the store. Returns whether a new
    /// snapshot went live.
    ///
    /// The first call, `force` (after a false positive changed an indicator's weight),
    /// and a validity transition past the kept horizon build the whole index from every
    /// indicator. Otherwise only what changed is compiled: indicators with a new
    /// version since the last call, deleted ones, and those at a `valid_from` /
    /// `valid_until` transition are masked in the live layers, and their current
    /// versions, when active, go into a new layer. A change to a million-indicator set
    /// then costs what changed, not a million. Layers are merged, folded into a new
    /// base, or folded when idle as [`LayerLimits`] says.
    pub async fn reload(&self, force: bool) -> Result<bool> {
        let mut st = self.reload.lock().await;
        if force || !st.built_once {
            self.full_build(&mut st, None).await?;
            return Ok(true);
        }
        let changes = self.changes(&st).await?;
        if changes.far_due {
            // Every indicator is read again; the watermarks move past what was seen.
            changes.commit(&mut st);
            self.full_build(&mut st, changes.newest).await?;
            return Ok(true);
        }
        if changes.ids.is_empty() {
            changes.commit(&mut st);
            let current = self.live.load_full();
            let idle = st
                .last_change
                .is_some_and(|t| t.elapsed() >= self.cfg.layer_limits.fold_after_idle);
            if current.layers.len() > 1 && idle {
                self.full_build(&mut st, None).await?;
                return Ok(true);
            }
            return Ok(false);
        }
        self.apply_changes(&mut st, changes).await?;
        Ok(true)
    }

    /// New versions (every one since the last call), tombstones and due transitions;
    /// `st` is left as it is until the changes are live ([`Changes::commit`]).
    async fn changes(&self, st: &ReloadState) -> Result<Changes> {
        let mut c = Changes {
            last_cursor: st.last_cursor,
            last_tombstone: st.last_tombstone,
            ..Changes::default()
        };
        // Versions that arrived and are their indicator's newest (an older version
        // arriving late changes nothing that matches), read whole: they are compiled.
        // At most CHANGE_PAGES pages per call: under a sustained load the rest goes
        // into the next layer instead of this call chasing the writers.
        for _ in 0..CHANGE_PAGES {
            let page = self
                .store
                .query(&Query {
                    types: vec!["indicator".into()],
                    versions: VersionFilter::last(),
                    after_cursor: Some(c.last_cursor),
                    limit: Some(1000),
                    with_body: true,
                    ..Default::default()
                })
                .await?;
            let Some(last) = page.objects.iter().map(|o| o.cursor).max() else {
                break;
            };
            let max = page.objects.iter().map(|o| o.date_added).max().unwrap_or(0);
            c.newest = Some(c.newest.map_or(max, |n| n.max(max)));
            c.last_cursor = c.last_cursor.max(last);
            for o in page.objects {
                c.ids.insert(o.id.clone());
                c.rows.push((o.id, o.cursor, o.json));
            }
        }
        loop {
            let tombs = self.store.tombstones(c.last_tombstone, 1000).await?;
            let Some(last) = tombs.last() else { break };
            c.last_tombstone = last.seq;
            c.ids.extend(
                tombs
                    .into_iter()
                    .filter(|t| t.id.starts_with("indicator--"))
                    .map(|t| t.id),
            );
        }
        let now = store::now_micros();
        for (t, ids) in st.transitions.range(..=now) {
            c.due.push(*t);
            c.ids.extend(ids.iter().cloned());
        }
        c.far_due = st.far_transition.is_some_and(|t| t <= now);
        Ok(c)
    }

    /// Masks the changed indicators in the live layers and compiles their current
    /// versions into a new layer (merging or rebuilding when the layers grow).
    async fn apply_changes(&self, st: &mut ReloadState, changes: Changes) -> Result<()> {
        let started = Instant::now();
        let current = self.live.load_full();
        let mut layers = current.layers.clone();
        let mut status = current.status.clone();
        // What the changed indicators counted for until now.
        let general_ids: hashbrown::HashSet<&str> =
            current.general.iter().map(|(i, _)| i.as_str()).collect();
        for id in &changes.ids {
            let counted = if general_ids.contains(id.as_str()) {
                Some(&mut status.general_indicators)
            } else if layers.holds(id) {
                Some(&mut status.ioc_indicators)
            } else {
                st.not_live
                    .remove(&id_key(id))
                    .map(|why| status.not_live(why))
            };
            if let Some(n) = counted {
                *n = n.saturating_sub(1);
                status.indicators_read = status.indicators_read.saturating_sub(1);
            }
            layers.mask_id(id);
        }
        let mut general: Vec<(String, String)> = current
            .general
            .iter()
            .filter(|(i, _)| !changes.ids.contains(i))
            .cloned()
            .collect();
        drop(general_ids);
        let layer = self.compile_changes(&changes).await?;
        st.add_transitions(layer.transitions, layer.far_transition);
        status.add_counts(&layer.status);
        st.not_live.extend(layer.not_live);
        general.extend(layer.general);
        if layer.index.indicator_count() > 0 {
            layers.push(Arc::new(layer.index));
        }
        // Too many layers: merge those above the base.
        let limits = self.cfg.layer_limits;
        if layers.len() > limits.max_layers + 1 {
            let ids = layers.live_ids(1);
            let base = layers.layers().first().map_or(0, |l| l.live_indicators());
            if ids.len() * 4 > base && ids.len() >= limits.rebuild_min {
                drop(current);
                changes.commit(st);
                return self.full_build(st, changes.newest).await;
            }
            let merged = self.compile_rows(Vec::new(), &ids).await?;
            layers.replace_from(1, Arc::new(merged.index));
            // An indicator that stopped being active since its layer was compiled (its
            // transition not yet applied) is left out of the merged layer: it counts as
            // what it is now.
            for (key, why) in merged.not_live {
                status.ioc_indicators = status.ioc_indicators.saturating_sub(1);
                *status.not_live(why) += 1;
                st.not_live.insert(key, why);
            }
        }
        changes.commit(st);
        status.generation = current.status.generation + 1;
        status.build_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        status.live_since = store::now_micros();
        status.time_to_effect_ms = changes
            .newest
            .map(|t| u64::try_from((status.live_since - t).max(0) / 1000).unwrap_or(0));
        status.next_transition = st.next_transition();
        st.last_change = Some(Instant::now());
        tracing::info!(
            generation = status.generation,
            layers = layers.len(),
            ioc_indicators = status.ioc_indicators,
            general = status.general_indicators,
            build_ms = status.build_ms,
            time_to_effect_ms = ?status.time_to_effect_ms,
            "indicator changes live"
        );
        self.sync_stream_patterns(&general);
        self.live.store(Arc::new(LiveIndicators {
            layers,
            general,
            status,
        }));
        Ok(())
    }

    /// Compiles the current versions of the changed indicators (those still stored).
    async fn compile_changes(&self, changes: &Changes) -> Result<CompiledSet> {
        let read: hashbrown::HashSet<&str> =
            changes.rows.iter().map(|(id, _, _)| id.as_str()).collect();
        let rest: Vec<String> = changes
            .ids
            .iter()
            .filter(|id| !read.contains(id.as_str()))
            .cloned()
            .collect();
        self.compile_rows(changes.rows.clone(), &rest).await
    }

    /// Compiles `rows` and the current versions of `ids` (read here) into one index.
    async fn compile_rows(
        &self,
        mut rows: Vec<(String, i64, String)>,
        ids: &[String],
    ) -> Result<CompiledSet> {
        let weights = load_weights(self.store.as_ref()).await?;
        for chunk in ids.chunks(500) {
            let page = self
                .store
                .query(&Query {
                    ids: chunk.to_vec(),
                    types: vec!["indicator".into()],
                    versions: VersionFilter::last(),
                    with_body: true,
                    ..Default::default()
                })
                .await?;
            rows.extend(page.objects.into_iter().map(|o| (o.id, o.cursor, o.json)));
        }
        let policy = self.active_policy();
        tokio::task::spawn_blocking(move || {
            let mut c = Compiler::new(policy, weights);
            for (id, cursor, json) in &rows {
                c.add(id, *cursor, json);
            }
            c.finish()
        })
        .await
        .map_err(|e| EngineError::Index(format!("index build thread failed: {e}")))?
    }

    /// Builds the index from every indicator, as one layer.
    async fn full_build(&self, st: &mut ReloadState, newest_change: Option<i64>) -> Result<()> {
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
        st.last_cursor = st.last_cursor.max(built.max_cursor);
        // Tombstones older than the build are in it; transitions start afresh.
        st.transitions.clear();
        st.far_transition = None;
        st.add_transitions(built.transitions, built.far_transition);
        status.next_transition = st.next_transition();
        st.not_live = built.not_live;
        st.built_once = true;
        st.last_change = None;
        tracing::info!(
            generation,
            ioc_indicators = status.ioc_indicators,
            general = status.general_indicators,
            build_ms = status.build_ms,
            time_to_effect_ms = ?status.time_to_effect_ms,
            "indicator index live"
        );
        let layers = Layers::single(built.index);
        // The read may have seen two versions of an indicator changed while it ran:
        // such an indicator is applied again as a change, from its current version.
        let twice = layers.duplicate_ids();
        self.sync_stream_patterns(&built.general);
        self.live.store(Arc::new(LiveIndicators {
            layers,
            general: built.general,
            status,
        }));
        if !twice.is_empty() {
            let changes = Changes {
                ids: twice.into_iter().collect(),
                last_cursor: st.last_cursor,
                last_tombstone: st.last_tombstone,
                ..Changes::default()
            };
            Box::pin(self.apply_changes(st, changes)).await?;
        }
        Ok(())
    }

    /// Reads the latest version of every indicator and compiles the active ones on a
    /// blocking thread (rows flow through a bounded channel: memory stays flat).
    async fn build(&self, weights: WeightBook) -> Result<CompiledSet> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, i64, String)>(1024);
        let policy = self.active_policy();
        let compile = tokio::task::spawn_blocking(move || -> Result<CompiledSet> {
            let mut c = Compiler::new(policy, weights);
            while let Some((id, cursor, json)) = rx.blocking_recv() {
                c.add(&id, cursor, &json);
            }
            c.finish()
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
                    if tx.send((o.id, o.cursor, o.json)).await.is_err() {
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
