//! Streaming evaluation of full STIX patterns over telemetry events.
//!
//! The compiled index (`matcher`) answers IOC-shaped indicators per event. Everything
//! else — `AND` across observations, `OR`, `FOLLOWEDBY`, `WITHIN`, `REPEATS`,
//! `START`/`STOP` — needs several events at once. [`StreamEvaluator`] keeps a bounded
//! buffer of recent events and, for each new event, runs the pattern evaluator
//! (`pattern::CompiledPattern`) over the buffered events that can take part.
//!
//! # Semantics
//!
//! * Each event is one STIX `observed-data` with `first_observed = last_observed = time`
//!   and `number_observed = 1`, holding the event's SCOs. SCO ids are replaced by ids
//!   unique to the event (references between the event's SCOs are rewritten alike), so
//!   two events never share an object.
//! * A pattern **fires** on event *n* when the buffered events (see below) satisfy it with
//!   a binding that **includes *n***: exactly `CompiledPattern::matches_involving(buffer,
//!   n)`, the batch evaluator restricted to bindings through the newest event. A
//!   combination is therefore reported once, by the event that completes it, not again
//!   on every later event. The [`StreamMatch`] lists the bound events in time order.
//! * `REPEATS k TIMES` needs k distinct events; `FOLLOWEDBY` compares event times (equal
//!   times count as "followed by"), not arrival order; `WITHIN d` bounds the time span of
//!   the binding (inclusive); `START`/`STOP` bound each bound event's time to
//!   `[start, stop)`. These are the evaluator's rules, unchanged.
//! * An event whose `event_id` is already buffered is a redelivery (at-least-once
//!   sources): counted (`duplicates`) and ignored, so it neither counts twice towards
//!   `REPEATS` nor reports a combination again.
//! * **Horizon** of a pattern: the longest time span one of its bindings can have,
//!   computed from its qualifiers (`([a] FOLLOWEDBY [b]) WITHIN 60 SECONDS` → 60 s;
//!   `START`/`STOP` → the interval's length). A pattern with an unbounded part (e.g.
//!   `[a] AND [b]`, or `[a] AND [b] WITHIN 60 SECONDS`, where `WITHIN` binds to `[b]`
//!   only) uses [`StreamConfig::default_horizon`] instead: for those patterns, only events
//!   within that distance of *n* are considered — the one place where the streaming
//!   verdict is narrower than the batch evaluator over everything ever seen.
//! * **Watermark**: the latest event time seen. **Retention**: the largest horizon of the
//!   registered patterns, at least `default_horizon`. The buffer holds events whose time
//!   is at least `watermark − retention`. An event older than that is **late**: it is
//!   counted (`late`), evaluated against a buffer holding only itself, and not buffered.
//! * Only events that satisfy at least one comparison expression (`[...]`) of at least
//!   one pattern are buffered (others can never be part of a binding); a pattern is
//!   evaluated on event *n* only when *n* satisfies one of its own `[...]`.
//!   Patterns added later see only the events that arrive after them;
//!   [`StreamEvaluator::remove_pattern`] takes one out (revoked, expired, replaced).
//!
//! # Candidate selection
//!
//! A binding through the newest event binds it to one of the pattern's `[...]`, so only
//! the newest event's content decides which patterns to evaluate. A pattern is a
//! candidate only if its `KindMask` (the SCO types it names,
//! `matcher::compile::pattern_kinds`) intersects the event's kinds (the caller's mask
//! plus the event's SCO types), and — when every `[...]` of the pattern needs a
//! particular string — one of those strings occurs in the event: an exact string value
//! for `=` / `IN` on strings (not negated), or a substring of a string value (after NFC,
//! as the evaluator compares) for `LIKE`, whose longest run of literal characters must
//! occur (one Aho-Corasick automaton over all such runs). These filters only skip
//! patterns that cannot involve the event; an event with no candidate is never converted
//! to observed-data. Candidates are then checked exactly (one evaluation of "any `[...]`
//! of the pattern" over the event alone), and a pattern is evaluated over the buffer only
//! when its window holds at least as many events as one binding needs.
//!
//! # Bounds (all in [`StreamConfig`], every bound hit counted in [`StreamStats`])
//!
//! * `max_events` buffered events and `max_bytes` of estimated memory (the heap the
//!   event's JSON tree takes in `serde_json`, plus its bookkeeping, 24 bytes per pattern
//!   it concerns): the oldest-arrived events are evicted first
//!   (`evicted_by_count`, `evicted_by_bytes`). An event larger than `max_bytes` on its own
//!   is evaluated alone and not buffered (`evicted_by_bytes`).
//! * Time: events older than `watermark − retention` are dropped (`expired`).
//! * `max_window_events`: at most this many buffered events (the most recently arrived)
//!   are handed to the evaluator for one pattern and event (`truncated_windows`).
//! * `max_work`: the evaluator's work budget per evaluation; an evaluation over budget
//!   does not fire (`budget_exhausted`). An evaluation error (e.g. a reference property
//!   that is not a string) does not fire either (`eval_errors`).
//! * `max_scos_per_event` and a nesting depth of 64: larger events are refused with
//!   [`StreamError::BadEvent`] before any state changes.
//!
//! Pure logic: no I/O, no async, no clock of its own.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use aho_corasick::AhoCorasick;
use hashbrown::HashMap;
use matcher::KindMask;
use pattern::{
    CompOp, ComparisonExpr, CompiledPattern, Constant, EvalError, EvalOptions, ObservationExpr,
    Observations, PathStep, Pattern, Qualifier,
};
use serde_json::{Map, Value};
use stix::Timestamp;
use unicode_normalization::UnicodeNormalization;

/// One telemetry event: its id at the source, its event time and the SCOs it holds
/// (STIX 2.1 shaped objects, each with a string `type`; `id` optional).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The event's id at its source (reported back in [`StreamMatch::event_ids`]).
    pub event_id: String,
    /// When the event happened.
    pub time: Timestamp,
    /// The SCOs the event holds.
    pub scos: Vec<Value>,
}

/// A pattern fired: the events bound to it, completed by the newest event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMatch {
    /// The indicator whose pattern fired.
    pub indicator_id: String,
    /// The bound events, in event-time order (arrival order among equal times).
    pub event_ids: Vec<String>,
    /// The earliest bound event time.
    pub first: Timestamp,
    /// The latest bound event time.
    pub last: Timestamp,
}

/// Bounds and defaults of a [`StreamEvaluator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Horizon of patterns whose bindings have no time bound (default 15 minutes).
    pub default_horizon: Duration,
    /// Most events kept in the buffer (default 100 000).
    pub max_events: usize,
    /// Most estimated bytes kept in the buffer (default 256 MiB).
    pub max_bytes: usize,
    /// Most buffered events handed to the evaluator for one pattern and event
    /// (default 1 000).
    pub max_window_events: usize,
    /// Evaluator work budget per evaluation (default 200 000 steps).
    pub max_work: u64,
    /// Most SCOs in one event (default 1 000).
    pub max_scos_per_event: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            default_horizon: Duration::from_secs(15 * 60),
            max_events: 100_000,
            max_bytes: 256 << 20,
            max_window_events: 1_000,
            max_work: 200_000,
            max_scos_per_event: 1_000,
        }
    }
}

/// Counters of what the evaluator did; every bound that drops data is counted here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Events accepted by [`StreamEvaluator::observe`].
    pub events: u64,
    /// Events refused as malformed ([`StreamError::BadEvent`]).
    pub rejected: u64,
    /// Events whose id is already buffered (a redelivery): ignored.
    pub duplicates: u64,
    /// Events buffered (they satisfy a `[...]` of some pattern).
    pub buffered: u64,
    /// Events that concern no pattern (not buffered).
    pub unrelated: u64,
    /// Events older than `watermark − retention` (evaluated alone, not buffered).
    pub late: u64,
    /// Buffered events dropped because they fell out of the retention.
    pub expired: u64,
    /// Buffered events evicted by `max_events`.
    pub evicted_by_count: u64,
    /// Buffered events evicted (or never buffered) because of `max_bytes`.
    pub evicted_by_bytes: u64,
    /// Evaluations where `max_window_events` left events out.
    pub truncated_windows: u64,
    /// Pattern evaluations over a buffer.
    pub evaluations: u64,
    /// Matches reported.
    pub matches: u64,
    /// Evaluations that went over `max_work` (no match reported).
    pub budget_exhausted: u64,
    /// Evaluations that failed on the data (no match reported).
    pub eval_errors: u64,
}

/// Why a pattern or an event was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    /// The pattern is not valid STIX patterning.
    #[error("pattern of {indicator_id}: {source}")]
    BadPattern {
        indicator_id: String,
        #[source]
        source: pattern::ParseError,
    },
    /// The pattern parses but cannot be evaluated (e.g. an impossible timestamp literal).
    #[error("pattern of {indicator_id} cannot be evaluated: {source}")]
    Uncompilable {
        indicator_id: String,
        #[source]
        source: EvalError,
    },
    /// The indicator already has a pattern in this evaluator.
    #[error("indicator {0} already has a pattern in this evaluator")]
    DuplicateIndicator(String),
    /// The event cannot be evaluated (what, where as a JSON pointer into the event, why).
    #[error("event {event_id:?}: {pointer}: {reason}")]
    BadEvent {
        event_id: String,
        pointer: String,
        reason: String,
    },
    /// A configuration bound is zero.
    #[error("stream configuration: {0} must be at least 1")]
    ZeroBound(&'static str),
}

impl StreamError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::BadPattern { .. } => "warning.stream.bad_pattern",
            StreamError::Uncompilable { .. } => "warning.stream.uncompilable_pattern",
            StreamError::DuplicateIndicator(_) => "warning.stream.duplicate_indicator",
            StreamError::BadEvent { .. } => "warning.stream.bad_event",
            StreamError::ZeroBound(_) => "warning.stream.zero_bound",
        }
    }
}

/// Microseconds since the Unix epoch.
type Micros = i64;

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the evaluator's time range.
const MIN_MICROS: Micros = -62_135_596_800_000_000;
const MAX_MICROS: Micros = 253_402_300_799_999_999;
/// Deepest JSON nesting accepted in an SCO.
const MAX_DEPTH: usize = 64;

#[derive(Debug)]
struct Registered {
    indicator_id: String,
    compiled: CompiledPattern,
    /// "Any `[...]` of the pattern": decides whether an event can take part.
    relevance: CompiledPattern,
    kinds: KindMask,
    /// The exact strings / substrings it is indexed under (`None`: unkeyed).
    keys: Option<Vec<Key>>,
    horizon: Micros,
    /// Fewest distinct events one binding needs (fewer in the window: no evaluation).
    min_events: u64,
    /// Slots of the buffered events relevant to this pattern, in arrival order.
    recent: VecDeque<u64>,
}

#[derive(Debug)]
enum Substrings {
    /// The automaton and, per needle, its patterns.
    Automaton(AhoCorasick, Vec<Vec<u32>>),
    /// The automaton could not be built: these patterns are candidates for every event.
    Always(Vec<u32>),
}

#[derive(Debug)]
struct Buffered {
    event_id: String,
    ts: Timestamp,
    time: Micros,
    od_id: String,
    bundle: Value,
    patterns: Vec<u32>,
    bytes: usize,
}

/// A validated event before its observed-data is built (most events concern no pattern
/// and are never built).
#[derive(Debug)]
struct Checked {
    event_id: String,
    ts: Timestamp,
    time: Micros,
    scos: Vec<Value>,
    /// Per SCO, its id in this event; and the caller's ids mapped to them.
    new_ids: Vec<String>,
    ids: HashMap<String, String>,
    od_id: String,
    /// `time` as the observed-data's `first_observed` / `last_observed`.
    at: String,
    kinds: KindMask,
}

#[derive(Debug)]
struct Prepared {
    event_id: String,
    ts: Timestamp,
    od_id: String,
    bundle: Value,
    bytes: usize,
}

/// Whether an event could concern a registered pattern, from its observable kinds and
/// string values alone: [`StreamEvaluator::may_involve`] as an immutable snapshot
/// ([`StreamEvaluator::prefilter`]). False means no pattern could bind the event, so it
/// need not be converted to SCOs nor passed to [`StreamEvaluator::observe`].
#[derive(Debug, Clone, Default)]
pub struct StreamPrefilter {
    /// Union of the registered patterns' kinds.
    kinds: KindMask,
    /// Some pattern is a candidate whatever strings the event holds.
    always: bool,
    /// Exact strings some pattern needs, with the kinds of values that could hold them.
    keys: Arc<HashMap<String, KindMask>>,
    /// Bit `n` set when some key is `n` bytes long (bit 63: 63 or more), so most values
    /// are turned away without hashing them.
    key_lengths: u64,
    /// Over the literal runs of `LIKE` operands (NFC) that are not suffixes.
    automaton: Option<AhoCorasick>,
    /// Runs of `LIKE '%run'` operands: a value that matches ends with one.
    suffixes: Arc<Vec<String>>,
    /// The kinds of values the `LIKE` runs could be in.
    substring_kinds: KindMask,
}

impl StreamPrefilter {
    /// False when no registered pattern concerns these kinds (then no value can help).
    pub fn kinds_may_involve(&self, kinds: KindMask) -> bool {
        self.kinds.intersects(kinds)
    }

    /// Whether some pattern could need this string value, read as an observable of
    /// `kind`, of an event whose kinds passed [`Self::kinds_may_involve`]: an exact
    /// string of a comparison on that kind's objects, or a `LIKE` literal run in it.
    pub fn value_may_involve(&self, kind: KindMask, v: &str) -> bool {
        self.always
            || (self.key_lengths & (1u64 << v.len().min(63)) != 0
                && self.keys.get(v).is_some_and(|k| k.intersects(kind)))
            || (self.substring_kinds.intersects(kind) && self.run_may_involve(v))
    }

    /// Whether the NFC form of `v` ends with a suffix run or contains another run.
    fn run_may_involve(&self, v: &str) -> bool {
        let v = nfc(v);
        self.suffixes.iter().any(|s| v.ends_with(s.as_str()))
            || self
                .automaton
                .as_ref()
                .is_some_and(|ac| ac.is_match(v.as_ref()))
    }

    /// Both checks over an event's kinds and its string values with their kinds.
    pub fn may_involve<'v>(
        &self,
        kinds: KindMask,
        values: impl IntoIterator<Item = (KindMask, &'v str)>,
    ) -> bool {
        self.kinds_may_involve(kinds)
            && (self.always
                || values
                    .into_iter()
                    .any(|(k, v)| self.value_may_involve(k, v)))
    }
}

/// Evaluates full STIX patterns over a stream of events with bounded state (see the
/// module documentation for the semantics and bounds).
#[derive(Debug)]
pub struct StreamEvaluator {
    config: StreamConfig,
    /// By pattern number; `None` after [`StreamEvaluator::remove_pattern`] (the number is
    /// reused by a later pattern).
    patterns: Vec<Option<Registered>>,
    free: Vec<u32>,
    by_indicator: HashMap<String, u32>,
    /// Exact strings → patterns all of whose `[...]` need one of them.
    by_key: HashMap<String, Vec<u32>>,
    /// Literal runs of `LIKE` operands → patterns all of whose `[...]` need an exact
    /// string or one of these substrings.
    by_substring: HashMap<String, Vec<u32>>,
    /// The automaton over `by_substring`'s keys, rebuilt before the next event when
    /// patterns were added.
    substrings: Option<Substrings>,
    /// Patterns with a `[...]` that needs no particular string.
    unkeyed: Vec<u32>,
    /// [`Self::prefilter`]'s snapshot; dropped when a pattern is added or removed.
    prefilter: Option<StreamPrefilter>,
    /// Per pattern: the last candidate pass that picked it (dedup without clearing).
    picked: Vec<u64>,
    pass: u64,
    ring: VecDeque<Buffered>,
    /// Event id → slot of the buffered event with that id (redeliveries are ignored).
    buffered_ids: HashMap<String, u64>,
    /// Slot number of `ring[0]`.
    front_slot: u64,
    bytes: usize,
    watermark: Option<Micros>,
    retention: Micros,
    /// Numbers the events for their observed-data and SCO ids.
    next_event: u64,
    stats: StreamStats,
}

fn duration_micros(d: Duration) -> Micros {
    Micros::try_from(d.as_micros()).unwrap_or(Micros::MAX / 4)
}

impl StreamEvaluator {
    /// An evaluator without patterns. Fails when a bound is zero.
    pub fn new(config: StreamConfig) -> Result<Self, StreamError> {
        for (value, name) in [
            (config.max_events, "max_events"),
            (config.max_bytes, "max_bytes"),
            (config.max_window_events, "max_window_events"),
            (config.max_scos_per_event, "max_scos_per_event"),
        ] {
            if value == 0 {
                return Err(StreamError::ZeroBound(name));
            }
        }
        if config.max_work == 0 {
            return Err(StreamError::ZeroBound("max_work"));
        }
        if config.default_horizon.is_zero() {
            return Err(StreamError::ZeroBound("default_horizon"));
        }
        let retention = duration_micros(config.default_horizon);
        Ok(StreamEvaluator {
            config,
            patterns: Vec::new(),
            free: Vec::new(),
            by_indicator: HashMap::new(),
            by_key: HashMap::new(),
            by_substring: HashMap::new(),
            prefilter: None,
            substrings: None,
            unkeyed: Vec::new(),
            picked: Vec::new(),
            pass: 0,
            ring: VecDeque::new(),
            buffered_ids: HashMap::new(),
            front_slot: 0,
            bytes: 0,
            watermark: None,
            retention,
            next_event: 0,
            stats: StreamStats::default(),
        })
    }

    /// Registers the STIX pattern of an indicator. Nothing is registered on error.
    pub fn add_pattern(&mut self, indicator_id: &str, pattern: &str) -> Result<(), StreamError> {
        let ast = pattern::parse(pattern).map_err(|source| StreamError::BadPattern {
            indicator_id: indicator_id.to_owned(),
            source,
        })?;
        self.add_parsed(indicator_id, &ast)
    }

    /// Registers an already parsed pattern (e.g. `matcher::GeneralPattern::ast`).
    pub fn add_parsed(&mut self, indicator_id: &str, ast: &Pattern) -> Result<(), StreamError> {
        if self.by_indicator.contains_key(indicator_id) {
            return Err(StreamError::DuplicateIndicator(indicator_id.to_owned()));
        }
        self.prefilter = None;
        let opts = EvalOptions {
            max_work: self.config.max_work,
            ..EvalOptions::default()
        };
        let uncompilable = |source| StreamError::Uncompilable {
            indicator_id: indicator_id.to_owned(),
            source,
        };
        let compiled = CompiledPattern::new(ast, opts).map_err(uncompilable)?;
        let mut leaves: Vec<&ComparisonExpr> = Vec::new();
        collect_leaves(&ast.root, &mut leaves);
        let mut distinct: Vec<&ComparisonExpr> = Vec::new();
        for l in leaves {
            if !distinct.contains(&l) {
                distinct.push(l);
            }
        }
        let root = match distinct.as_slice() {
            [one] => ObservationExpr::Comparison((*one).clone()),
            many => ObservationExpr::Or(
                many.iter()
                    .map(|c| ObservationExpr::Comparison((*c).clone()))
                    .collect(),
            ),
        };
        let relevance = CompiledPattern::new(&Pattern { root }, opts).map_err(uncompilable)?;
        let keys: Option<Vec<Key>> = distinct.iter().try_fold(Vec::new(), |mut acc, c| {
            acc.extend(comparison_keys(c)?);
            Some(acc)
        });
        let bound = bound_of(&ast.root);
        let horizon = bound
            .span
            .unwrap_or_else(|| duration_micros(self.config.default_horizon));
        let no = match self.free.pop() {
            Some(no) => no,
            None => {
                let no = u32::try_from(self.patterns.len())
                    .map_err(|_| uncompilable(EvalError::Input("too many patterns".into())))?;
                self.patterns.push(None);
                self.picked.push(0);
                no
            }
        };
        let keys = keys.map(|mut keys| {
            keys.sort_unstable();
            keys.dedup();
            keys
        });
        match &keys {
            Some(keys) => {
                for k in keys {
                    match k {
                        Key::Exact(k, _) => self.by_key.entry(k.clone()).or_default().push(no),
                        Key::Contains(k, _, _) => {
                            self.by_substring.entry(k.clone()).or_default().push(no);
                            self.substrings = None;
                        }
                    }
                }
            }
            None => self.unkeyed.push(no),
        }
        self.patterns[no as usize] = Some(Registered {
            indicator_id: indicator_id.to_owned(),
            compiled,
            relevance,
            kinds: matcher::compile::pattern_kinds(&ast.root),
            keys,
            horizon,
            min_events: min_events(&ast.root),
            recent: VecDeque::new(),
        });
        self.by_indicator.insert(indicator_id.to_owned(), no);
        self.retention = self.retention.max(horizon);
        Ok(())
    }

    /// Removes an indicator's pattern (revoked, expired, replaced); returns whether it was
    /// registered. It takes part in no evaluation from now on; buffered events stay for the
    /// other patterns, and the retention does not shrink.
    pub fn remove_pattern(&mut self, indicator_id: &str) -> bool {
        let Some(no) = self.by_indicator.remove(indicator_id) else {
            return false;
        };
        self.prefilter = None;
        let Some(reg) = self.patterns.get_mut(no as usize).and_then(Option::take) else {
            return false;
        };
        match reg.keys {
            Some(keys) => {
                for k in keys {
                    let (map, k) = match k {
                        Key::Exact(k, _) => (&mut self.by_key, k),
                        Key::Contains(k, _, _) => {
                            self.substrings = None;
                            (&mut self.by_substring, k)
                        }
                    };
                    if let Some(list) = map.get_mut(&k) {
                        list.retain(|&p| p != no);
                        if list.is_empty() {
                            map.remove(&k);
                        }
                    }
                }
            }
            None => self.unkeyed.retain(|&p| p != no),
        }
        self.free.push(no);
        true
    }

    /// Takes the next event (in arrival order) with the observable kinds the caller
    /// already knows (the kinds of its SCO types are added here, so a missing bit never
    /// hides a match) and appends the patterns it completes to `out`. A malformed event is
    /// refused before any state changes.
    pub fn observe(
        &mut self,
        event: Observation,
        kinds: KindMask,
        out: &mut Vec<StreamMatch>,
    ) -> Result<(), StreamError> {
        let checked = match self.check(event, kinds) {
            Ok(c) => c,
            Err(e) => {
                self.stats.rejected += 1;
                return Err(e);
            }
        };
        if self.buffered_ids.contains_key(checked.event_id.as_str()) {
            self.stats.events += 1;
            self.stats.duplicates += 1;
            return Ok(());
        }
        let t = checked.time;
        let candidates = self.candidates(&checked);
        let (prepared, relevant) = if candidates.is_empty() {
            (None, Vec::new())
        } else {
            let prepared = Self::build(checked);
            match self.relevant_patterns(&prepared, candidates) {
                Ok(r) => (Some(prepared), r),
                Err(e) => {
                    self.stats.rejected += 1;
                    return Err(e);
                }
            }
        };
        self.next_event += 1;
        self.stats.events += 1;
        let late = self
            .watermark
            .is_some_and(|w| t < w.saturating_sub(self.retention));
        if late {
            self.stats.late += 1;
            if let Some(prepared) = &prepared {
                self.evaluate_alone(prepared, &relevant, out);
            }
            return Ok(());
        }
        let watermark = self.watermark.map_or(t, |w| w.max(t));
        self.watermark = Some(watermark);
        let floor = watermark.saturating_sub(self.retention);
        while self.ring.front().is_some_and(|b| b.time < floor) {
            self.pop_front();
            self.stats.expired += 1;
        }
        let Some(prepared) = prepared.filter(|_| !relevant.is_empty()) else {
            self.stats.unrelated += 1;
            return Ok(());
        };
        let bytes = prepared.bytes + 24 * relevant.len();
        if bytes > self.config.max_bytes {
            self.stats.evicted_by_bytes += 1;
            self.evaluate_alone(&prepared, &relevant, out);
            return Ok(());
        }
        while self.ring.len() >= self.config.max_events {
            self.pop_front();
            self.stats.evicted_by_count += 1;
        }
        while self.bytes + bytes > self.config.max_bytes && !self.ring.is_empty() {
            self.pop_front();
            self.stats.evicted_by_bytes += 1;
        }
        let slot = self.front_slot + self.ring.len() as u64;
        for &p in &relevant {
            if let Some(reg) = &mut self.patterns[p as usize] {
                reg.recent.push_back(slot);
            }
        }
        self.bytes += bytes;
        self.stats.buffered += 1;
        self.buffered_ids.insert(prepared.event_id.clone(), slot);
        self.ring.push_back(Buffered {
            event_id: prepared.event_id,
            ts: prepared.ts,
            time: t,
            od_id: prepared.od_id,
            bundle: prepared.bundle,
            patterns: relevant,
            bytes,
        });
        let newest = self.ring.len() - 1;
        for i in 0..self.ring[newest].patterns.len() {
            let p = self.ring[newest].patterns[i];
            self.evaluate(p, newest, floor, out);
        }
        Ok(())
    }

    /// The counters so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Number of buffered events.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no event is buffered.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Number of registered patterns.
    pub fn pattern_count(&self) -> usize {
        self.by_indicator.len()
    }

    /// Estimated bytes held by the buffer (what `max_bytes` bounds).
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// The horizon used for an indicator's pattern, if registered.
    pub fn horizon(&self, indicator_id: &str) -> Option<Duration> {
        let p = self.patterns[*self.by_indicator.get(indicator_id)? as usize].as_ref()?;
        Some(Duration::from_micros(p.horizon.max(0) as u64))
    }

    fn pop_front(&mut self) {
        let Some(b) = self.ring.pop_front() else {
            return;
        };
        let slot = self.front_slot;
        self.front_slot += 1;
        self.bytes -= b.bytes;
        if self.buffered_ids.get(b.event_id.as_str()) == Some(&slot) {
            self.buffered_ids.remove(b.event_id.as_str());
        }
        for &p in &b.patterns {
            // A pattern number reused after a removal only holds newer slots.
            if let Some(reg) = &mut self.patterns[p as usize] {
                if reg.recent.front() == Some(&slot) {
                    reg.recent.pop_front();
                }
            }
        }
    }

    /// Checks an event and names its objects (ids unique to the event).
    fn check(&self, event: Observation, kinds: KindMask) -> Result<Checked, StreamError> {
        let Observation {
            event_id,
            time: ts,
            scos,
        } = event;
        let bad = |pointer: String, reason: String| StreamError::BadEvent {
            event_id: event_id.clone(),
            pointer,
            reason,
        };
        let time = ts.unix_micros();
        if !(MIN_MICROS..=MAX_MICROS).contains(&time) {
            return Err(bad(
                "/time".into(),
                format!("{ts} is outside the years 1 to 9999"),
            ));
        }
        if scos.len() > self.config.max_scos_per_event {
            return Err(bad(
                "/scos".into(),
                format!(
                    "{} SCOs, more than the limit of {}",
                    scos.len(),
                    self.config.max_scos_per_event
                ),
            ));
        }
        let no = self.next_event;
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut new_ids = Vec::with_capacity(scos.len());
        let mut kinds = kinds;
        for (i, sco) in scos.iter().enumerate() {
            let Some(obj) = sco.as_object() else {
                return Err(bad(
                    format!("/scos/{i}"),
                    "an SCO must be a JSON object".into(),
                ));
            };
            let ty = match obj.get("type") {
                Some(Value::String(t)) if !t.is_empty() => t.as_str(),
                _ => {
                    return Err(bad(
                        format!("/scos/{i}/type"),
                        "an SCO needs a non-empty string type".into(),
                    ))
                }
            };
            if ty == "observed-data" || ty == "bundle" {
                return Err(bad(
                    format!("/scos/{i}/type"),
                    format!("{ty:?} is not an observable"),
                ));
            }
            kinds = kinds.with(KindMask::of_sco_type(ty));
            let new_id = format!(
                "{ty}--{i:08x}-0000-4000-8000-{:012x}",
                no & 0xffff_ffff_ffff
            );
            match obj.get("id") {
                None => {}
                Some(Value::String(old)) => {
                    ids.insert(old.clone(), new_id.clone());
                }
                Some(_) => {
                    return Err(bad(
                        format!("/scos/{i}/id"),
                        "an SCO id must be a string".into(),
                    ))
                }
            }
            new_ids.push(new_id);
            if too_deep(sco) {
                return Err(bad(
                    format!("/scos/{i}"),
                    format!("nested deeper than {MAX_DEPTH} levels"),
                ));
            }
        }
        let od_id = format!(
            "observed-data--00000000-0000-4000-8000-{:012x}",
            no & 0xffff_ffff_ffff
        );
        let at = Timestamp::from_unix_micros(time).to_string();
        Ok(Checked {
            event_id,
            ts,
            time,
            scos,
            new_ids,
            ids,
            od_id,
            at,
            kinds,
        })
    }

    /// Builds the event's observed-data and SCOs as the evaluator reads them.
    fn build(c: Checked) -> Prepared {
        let Checked {
            event_id,
            ts,
            scos,
            new_ids,
            ids,
            od_id,
            at,
            ..
        } = c;
        let mut objects = Vec::with_capacity(scos.len() + 1);
        let mut od = Map::new();
        od.insert("type".into(), "observed-data".into());
        od.insert("id".into(), od_id.clone().into());
        od.insert("first_observed".into(), at.clone().into());
        od.insert("last_observed".into(), at.into());
        od.insert("number_observed".into(), 1.into());
        od.insert(
            "object_refs".into(),
            Value::Array(new_ids.iter().cloned().map(Value::from).collect()),
        );
        objects.push(Value::Object(od));
        for (mut sco, new_id) in scos.into_iter().zip(new_ids) {
            rewrite(&mut sco, &ids);
            if let Value::Object(m) = &mut sco {
                m.insert("id".into(), Value::String(new_id));
            }
            objects.push(sco);
        }
        let mut bundle = Map::new();
        bundle.insert("type".into(), "bundle".into());
        bundle.insert("objects".into(), Value::Array(objects));
        let bundle = Value::Object(bundle);
        // The event id is held twice (the event and the redelivery map).
        let bytes = heap_estimate(&bundle)
            + std::mem::size_of::<Buffered>()
            + 2 * event_id.len()
            + od_id.len()
            + 96;
        Prepared {
            event_id,
            ts,
            od_id,
            bundle,
            bytes,
        }
    }

    /// A cheap pre-check for callers that hold an event's observable values before
    /// building its SCOs: false when no registered pattern could involve an event with
    /// these `kinds` and string `values` (the same exact-string and substring index that
    /// picks candidates in [`Self::observe`]). Such an event would only be counted as
    /// unrelated; skipping it changes no verdict. [`Self::prefilter`] is the same check
    /// without borrowing the evaluator.
    pub fn may_involve<'v>(
        &mut self,
        kinds: KindMask,
        values: impl IntoIterator<Item = (KindMask, &'v str)>,
    ) -> bool {
        self.ensure_prefilter()
            .is_some_and(|p| p.may_involve(kinds, values))
    }

    /// [`Self::may_involve`] as a snapshot of the registered patterns, cheap to clone,
    /// to check events without holding the evaluator (e.g. taken once per batch under
    /// its lock). Take it again after patterns are added or removed.
    pub fn prefilter(&mut self) -> StreamPrefilter {
        self.ensure_prefilter().cloned().unwrap_or_default()
    }

    fn ensure_prefilter(&mut self) -> Option<&StreamPrefilter> {
        if self.prefilter.is_none() {
            self.ensure_substrings();
            let kinds = self
                .patterns
                .iter()
                .flatten()
                .fold(KindMask::default(), |m, r| m.with(r.kinds));
            let mut always = !self.unkeyed.is_empty()
                || ["observed-data", "bundle"]
                    .iter()
                    .any(|k| self.by_key.contains_key(*k));
            if let Some(Substrings::Always(list)) = &self.substrings {
                always |= !list.is_empty();
            }
            let mut keys: HashMap<String, KindMask> = HashMap::new();
            let mut substring_kinds = KindMask::default();
            // A run that only ever came from `%run` operands is checked as a suffix;
            // the others by an automaton of their own.
            let mut runs: HashMap<&str, bool> = HashMap::new();
            for reg in self.patterns.iter().flatten() {
                for k in reg.keys.iter().flatten() {
                    match k {
                        Key::Exact(v, kinds) => {
                            let e = keys.entry(v.clone()).or_default();
                            *e = e.with(KindMask(*kinds));
                        }
                        Key::Contains(run, kinds, suffix) => {
                            substring_kinds = substring_kinds.with(KindMask(*kinds));
                            let e = runs.entry(run.as_str()).or_insert(true);
                            *e &= *suffix;
                        }
                    }
                }
            }
            let suffixes: Vec<String> = runs
                .iter()
                .filter(|(_, s)| **s)
                .map(|(r, _)| (*r).to_owned())
                .collect();
            let inner: Vec<&str> = runs.iter().filter(|(_, s)| !**s).map(|(r, _)| *r).collect();
            let automaton = if inner.is_empty() {
                None
            } else {
                match AhoCorasick::new(&inner) {
                    Ok(ac) => Some(ac),
                    Err(_) => {
                        always = true;
                        None
                    }
                }
            };
            let key_lengths = keys.keys().fold(0u64, |m, k| m | (1u64 << k.len().min(63)));
            self.prefilter = Some(StreamPrefilter {
                kinds,
                always,
                key_lengths,
                keys: Arc::new(keys),
                automaton,
                suffixes: Arc::new(suffixes),
                substring_kinds,
            });
        }
        self.prefilter.as_ref()
    }

    fn ensure_substrings(&mut self) {
        if self.substrings.is_none() && !self.by_substring.is_empty() {
            let (needles, lists): (Vec<&String>, Vec<Vec<u32>>) = self
                .by_substring
                .iter()
                .map(|(k, v)| (k, v.clone()))
                .unzip();
            self.substrings = Some(match AhoCorasick::new(needles) {
                Ok(ac) => Substrings::Automaton(ac, lists),
                Err(_) => Substrings::Always(lists.into_iter().flatten().collect()),
            });
        }
    }

    fn candidates(&mut self, ev: &Checked) -> Vec<u32> {
        self.ensure_substrings();
        self.pass += 1;
        let pass = self.pass;
        let mut candidates: Vec<u32> = Vec::new();
        let (picked, patterns) = (&mut self.picked, &self.patterns);
        let mut pick = |p: u32| {
            let slot = &mut picked[p as usize];
            let kinds = patterns[p as usize].as_ref().map(|r| r.kinds);
            if *slot != pass && kinds.is_some_and(|k| k.intersects(ev.kinds)) {
                *slot = pass;
                candidates.push(p);
            }
        };
        let automaton = match &self.substrings {
            Some(Substrings::Automaton(ac, lists)) => Some((ac, lists)),
            Some(Substrings::Always(always)) => {
                always.iter().for_each(|&p| pick(p));
                None
            }
            None => None,
        };
        if !self.by_key.is_empty() || automaton.is_some() {
            let by_key = &self.by_key;
            let mut visit = |s: &str| {
                if let Some(list) = by_key.get(s) {
                    list.iter().for_each(|&p| pick(p));
                }
                if let Some((ac, lists)) = automaton {
                    for m in ac.find_overlapping_iter(nfc(s).as_ref()) {
                        lists[m.pattern().as_usize()].iter().for_each(|&p| pick(p));
                    }
                }
            };
            for s in ["observed-data", "bundle", ev.od_id.as_str(), ev.at.as_str()] {
                visit(s);
            }
            ev.new_ids.iter().for_each(|s| visit(s));
            let mut stack: Vec<&Value> = ev.scos.iter().collect();
            while let Some(v) = stack.pop() {
                match v {
                    Value::String(s) => visit(s),
                    Value::Array(a) => stack.extend(a.iter()),
                    Value::Object(m) => stack.extend(m.values()),
                    _ => {}
                }
            }
        }
        self.unkeyed.iter().for_each(|&p| pick(p));
        candidates.sort_unstable();
        candidates
    }

    /// The candidates one of whose `[...]` the event satisfies (exactly, by the evaluator).
    fn relevant_patterns(
        &mut self,
        ev: &Prepared,
        candidates: Vec<u32>,
    ) -> Result<Vec<u32>, StreamError> {
        let one = std::slice::from_ref(&ev.bundle);
        let obs = Observations::new(one).map_err(|e| StreamError::BadEvent {
            event_id: ev.event_id.clone(),
            pointer: String::new(),
            reason: e.to_string(),
        })?;
        let mut relevant = Vec::with_capacity(candidates.len());
        for p in candidates {
            let Some(reg) = &self.patterns[p as usize] else {
                continue;
            };
            match reg.relevance.matches(&obs) {
                Ok(r) if r.matched => relevant.push(p),
                Ok(_) => {}
                Err(_) => self.stats.eval_errors += 1,
            }
        }
        Ok(relevant)
    }

    /// Evaluates the relevant patterns on a buffer holding only this event.
    fn evaluate_alone(&mut self, ev: &Prepared, relevant: &[u32], out: &mut Vec<StreamMatch>) {
        if relevant.is_empty() {
            return;
        }
        let one = std::slice::from_ref(&ev.bundle);
        let Ok(obs) = Observations::new(one) else {
            self.stats.eval_errors += 1;
            return;
        };
        for &p in relevant {
            let Some(reg) = &self.patterns[p as usize] else {
                continue;
            };
            if reg.min_events > 1 {
                continue;
            }
            self.stats.evaluations += 1;
            match reg.compiled.matches_involving(&obs, &ev.od_id) {
                Ok(r) if r.matched => {
                    self.stats.matches += 1;
                    out.push(StreamMatch {
                        indicator_id: reg.indicator_id.clone(),
                        event_ids: vec![ev.event_id.clone()],
                        first: ev.ts,
                        last: ev.ts,
                    });
                }
                Ok(_) => {}
                Err(EvalError::Budget(_)) => self.stats.budget_exhausted += 1,
                Err(_) => self.stats.eval_errors += 1,
            }
        }
    }

    /// Evaluates pattern `p` over its buffered events around `ring[newest]`.
    fn evaluate(&mut self, p: u32, newest: usize, floor: Micros, out: &mut Vec<StreamMatch>) {
        let Some(reg) = &self.patterns[p as usize] else {
            return;
        };
        let n = &self.ring[newest];
        let (lo, hi) = (
            n.time.saturating_sub(reg.horizon),
            n.time.saturating_add(reg.horizon),
        );
        let newest_slot = self.front_slot + newest as u64;
        let mut window: Vec<usize> = vec![newest];
        let mut truncated = false;
        for &slot in reg.recent.iter().rev() {
            if slot == newest_slot {
                continue;
            }
            let Some(i) = slot.checked_sub(self.front_slot) else {
                continue;
            };
            let i = i as usize;
            let Some(b) = self.ring.get(i) else {
                continue;
            };
            if b.time < floor || b.time < lo || b.time > hi {
                continue;
            }
            if window.len() >= self.config.max_window_events {
                truncated = true;
                break;
            }
            window.push(i);
        }
        if truncated {
            self.stats.truncated_windows += 1;
        }
        if (window.len() as u64) < reg.min_events {
            return;
        }
        self.stats.evaluations += 1;
        let values = window.iter().map(|&i| &self.ring[i].bundle);
        let result = Observations::from_values(values)
            .and_then(|obs| reg.compiled.matches_involving(&obs, &n.od_id));
        match result {
            Ok(r) if r.matched => {
                let mut bound: Vec<usize> = r
                    .observed_data_refs
                    .iter()
                    .filter_map(|id| window.iter().copied().find(|&i| self.ring[i].od_id == *id))
                    .collect();
                bound.sort_by_key(|&i| (self.ring[i].time, i));
                let (Some(&f), Some(&l)) = (bound.first(), bound.last()) else {
                    return;
                };
                self.stats.matches += 1;
                out.push(StreamMatch {
                    indicator_id: reg.indicator_id.clone(),
                    event_ids: bound
                        .iter()
                        .map(|&i| self.ring[i].event_id.clone())
                        .collect(),
                    first: self.ring[f].ts,
                    last: self.ring[l].ts,
                });
            }
            Ok(_) => {}
            Err(EvalError::Budget(_)) => self.stats.budget_exhausted += 1,
            Err(_) => self.stats.eval_errors += 1,
        }
    }
}

/// Approximate heap bytes of a JSON tree as `serde_json` holds it (ordered maps, numbers
/// kept as text): per string its bytes plus allocator overhead, per array element a
/// `Value`, per map entry a bucket, index slot, key and `Value`.
fn heap_estimate(v: &Value) -> usize {
    let mut total = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += match v {
            Value::String(s) => s.len() + 32,
            Value::Number(n) => n.as_str().len() + 32,
            Value::Array(a) => {
                stack.extend(a.iter());
                48 + 32 * a.len()
            }
            Value::Object(m) => {
                stack.extend(m.values());
                96 + m.keys().map(|k| 80 + k.len() + 32).sum::<usize>()
            }
            Value::Bool(_) | Value::Null => 0,
        };
    }
    total
}

/// Whether a JSON value nests deeper than [`MAX_DEPTH`] (checked without recursion).
fn too_deep(v: &Value) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return true;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(m) => stack.extend(m.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Rewrites `*_ref` / `*_refs` values that name one of the event's SCOs to its new id
/// (the value's depth was checked by [`too_deep`]).
fn rewrite(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::Array(a) => {
            for x in a {
                rewrite(x, ids);
            }
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.ends_with("_ref") {
                    if let Value::String(r) = x {
                        if let Some(new) = ids.get(r.as_str()) {
                            r.clone_from(new);
                        }
                    }
                } else if k.ends_with("_refs") {
                    if let Value::Array(list) = x {
                        for r in list.iter_mut() {
                            if let Value::String(r) = r {
                                if let Some(new) = ids.get(r.as_str()) {
                                    r.clone_from(new);
                                }
                            }
                        }
                    }
                }
                rewrite(x, ids);
            }
        }
        _ => {}
    }
}

fn collect_leaves<'p>(e: &'p ObservationExpr, out: &mut Vec<&'p ComparisonExpr>) {
    match e {
        ObservationExpr::Comparison(c) => out.push(c),
        ObservationExpr::And(v) | ObservationExpr::Or(v) | ObservationExpr::FollowedBy(v) => {
            v.iter().for_each(|x| collect_leaves(x, out))
        }
        ObservationExpr::Qualified { expr, .. } => collect_leaves(expr, out),
    }
}

/// A string an observation must hold for a comparison to be true, with the kinds
/// (bits of [`KindMask`]) of the event values that could hold it: the comparison's
/// object type, or every kind for a type events never produce.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// A string value equal to this.
    Exact(String, u32),
    /// A string value whose NFC form contains this; `true` when the operand was
    /// `%` followed by this run alone, so a matching value also ends with it.
    Contains(String, u32, bool),
}

/// The kinds of event values a comparison on objects of type `object_type` can test.
fn key_kinds(object_type: &str) -> u32 {
    let k = KindMask::of_sco_type(object_type);
    if k == KindMask::OTHER {
        u32::MAX
    } else {
        k.0
    }
}

/// NFC form of `s`, borrowing when it already is (the evaluator's normalisation).
fn nfc(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        // ASCII text is in NFC.
        return std::borrow::Cow::Borrowed(s);
    }
    match unicode_normalization::is_nfc_quick(s.chars()) {
        unicode_normalization::IsNormalized::Yes => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(s.nfc().collect()),
    }
}

/// Keys one of which any observation satisfying `c` holds (`None`: no such set). Mirrors
/// the evaluator: a non-negated `=` / `IN` on string literals, outside `_hex` / `_bin`
/// properties, only matches equal string values; a non-negated `LIKE` there only matches
/// string values whose NFC form contains each literal run of the (NFC) operand.
fn comparison_keys(c: &ComparisonExpr) -> Option<Vec<Key>> {
    match c {
        ComparisonExpr::Test(t) => {
            let binary = t.path.steps.iter().any(
                |s| matches!(s, PathStep::Key(k) if k.ends_with("_hex") || k.ends_with("_bin")),
            );
            if t.negated || binary {
                return None;
            }
            let kinds = key_kinds(&t.path.object_type);
            match (t.op, &t.value) {
                (CompOp::Eq, Constant::Str(s)) => Some(vec![Key::Exact(s.clone(), kinds)]),
                (CompOp::In, Constant::Set(items)) if !items.is_empty() => items
                    .iter()
                    .map(|i| match i {
                        Constant::Str(s) => Some(Key::Exact(s.clone(), kinds)),
                        _ => None,
                    })
                    .collect(),
                (CompOp::Like, Constant::Str(s)) => {
                    let operand: String = s.nfc().collect();
                    let run = operand
                        .split(['%', '_'])
                        .max_by_key(|r| r.len())
                        .filter(|r| !r.is_empty())?;
                    let suffix = operand.strip_prefix('%') == Some(run);
                    Some(vec![Key::Contains(run.to_owned(), kinds, suffix)])
                }
                _ => None,
            }
        }
        ComparisonExpr::Exists(_) => None,
        ComparisonExpr::Or(v) => v.iter().try_fold(Vec::new(), |mut acc, x| {
            acc.extend(comparison_keys(x)?);
            Some(acc)
        }),
        ComparisonExpr::And(v) => v.iter().filter_map(comparison_keys).min_by_key(Vec::len),
    }
}

/// The fewest distinct events a binding of `e` binds: `AND` / `FOLLOWEDBY` bind disjoint
/// observations, `REPEATS k` k disjoint bindings.
fn min_events(e: &ObservationExpr) -> u64 {
    match e {
        ObservationExpr::Comparison(_) => 1,
        ObservationExpr::And(v) | ObservationExpr::FollowedBy(v) => {
            v.iter().map(min_events).fold(0, u64::saturating_add)
        }
        ObservationExpr::Or(v) => v.iter().map(min_events).min().unwrap_or(1),
        ObservationExpr::Qualified { expr, qualifier } => match qualifier {
            Qualifier::Repeats { times } => min_events(expr).saturating_mul((*times).max(1)),
            Qualifier::Within { .. } | Qualifier::StartStop { .. } => min_events(expr),
        },
    }
}

/// Time bounds of an observation expression's bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound {
    /// Longest time span of one binding (`None`: unbounded).
    span: Option<Micros>,
    /// An interval every bound event lies in (`START`/`STOP`).
    abs: Option<(Micros, Micros)>,
}

fn hull(bounds: &[Bound]) -> Option<(Micros, Micros)> {
    bounds
        .iter()
        .try_fold(None, |acc: Option<(Micros, Micros)>, b| {
            let (s, e) = b.abs?;
            Some(Some(acc.map_or((s, e), |(a, z)| (a.min(s), z.max(e)))))
        })?
}

/// `WITHIN` seconds as the evaluator converts them.
fn within_micros(seconds: f64) -> Micros {
    let m = (seconds * 1e6).round_ties_even();
    if !m.is_finite() || m >= (Micros::MAX / 4) as f64 {
        Micros::MAX / 4
    } else {
        (m as Micros).max(0)
    }
}

fn bound_of(e: &ObservationExpr) -> Bound {
    match e {
        ObservationExpr::Comparison(_) => Bound {
            span: Some(0),
            abs: None,
        },
        ObservationExpr::Or(v) => {
            let bs: Vec<Bound> = v.iter().map(bound_of).collect();
            Bound {
                span: bs
                    .iter()
                    .try_fold(0, |acc: Micros, b| b.span.map(|s| acc.max(s))),
                abs: hull(&bs),
            }
        }
        ObservationExpr::And(v) | ObservationExpr::FollowedBy(v) => {
            if let [one] = v.as_slice() {
                return bound_of(one);
            }
            let bs: Vec<Bound> = v.iter().map(bound_of).collect();
            let abs = hull(&bs);
            Bound {
                span: abs.map(|(s, e)| e.saturating_sub(s).max(0)),
                abs,
            }
        }
        ObservationExpr::Qualified { expr, qualifier } => {
            let inner = bound_of(expr);
            match qualifier {
                Qualifier::Within { seconds } => {
                    let d = within_micros(*seconds);
                    Bound {
                        span: Some(inner.span.map_or(d, |s| s.min(d))),
                        abs: inner.abs,
                    }
                }
                Qualifier::Repeats { times } if *times > 1 => Bound {
                    span: inner.abs.map(|(s, e)| e.saturating_sub(s).max(0)),
                    abs: inner.abs,
                },
                Qualifier::Repeats { .. } => inner,
                Qualifier::StartStop { start, stop } => {
                    let t = |s: &str| Timestamp::parse(s).ok().map(|t| t.unix_micros());
                    let (Some(a), Some(b)) = (t(start), t(stop)) else {
                        return inner;
                    };
                    let (a, b) = inner.abs.map_or((a, b), |(x, y)| (x.max(a), y.min(b)));
                    let len = b.saturating_sub(a).max(0);
                    Bound {
                        span: Some(inner.span.map_or(len, |s| s.min(len))),
                        abs: Some((a, b)),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-01-01T00:00:00Z.
    const BASE: i64 = 1_767_225_600;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_micros((BASE + secs) * 1_000_000)
    }

    fn ip(v: &str) -> Value {
        json!({"type": "ipv4-addr", "value": v})
    }

    fn dom(v: &str) -> Value {
        json!({"type": "domain-name", "value": v})
    }

    fn ev(id: &str, secs: i64, scos: Vec<Value>) -> Observation {
        Observation {
            event_id: id.into(),
            time: at(secs),
            scos,
        }
    }

    fn evaluator(patterns: &[(&str, &str)]) -> StreamEvaluator {
        evaluator_with(StreamConfig::default(), patterns)
    }

    #[test]
    fn may_involve_is_a_cheap_exact_precheck() {
        let dom = KindMask::of_sco_type("domain-name");
        let ip = KindMask::of_sco_type("ipv4-addr");
        let url = KindMask::of_sco_type("url");
        let mut s = evaluator(&[
            (
                "indicator--a",
                "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']",
            ),
            ("indicator--b", "[domain-name:value LIKE '%.relay.example']"),
        ]);
        assert!(s.may_involve(dom, [(dom, "a.example")]));
        assert!(s.may_involve(ip, [(ip, "10.0.0.1"), (ip, "198.51.100.7")]));
        assert!(s.may_involve(dom, [(dom, "c2.relay.example")]));
        assert!(!s.may_involve(dom, [(dom, "b.example"), (dom, "relay.example.org")]));
        // The right value under a kind no pattern names is not a candidate.
        assert!(!s.may_involve(url, [(url, "a.example")]));
        // Nor is the right string read as another kind than its comparison's: an
        // exact string or a LIKE run of a domain-name comparison in a URL value, or
        // the IP literal as a domain.
        assert!(!s.may_involve(dom.with(url), [(url, "a.example")]));
        assert!(!s.may_involve(dom.with(url), [(url, "http://c2.relay.example/")]));
        assert!(!s.may_involve(dom.with(ip), [(dom, "198.51.100.7")]));
        assert!(s.may_involve(dom.with(url), [(url, "x"), (dom, "c2.relay.example")]));
        // A pattern without literals (unkeyed) makes every event of its kinds a candidate.
        let mut u = evaluator(&[(
            "indicator--c",
            "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
        )]);
        assert!(u.may_involve(ip, [(ip, "203.0.113.1")]));
        assert!(!u.may_involve(dom, [(dom, "x.example")]));
        // A comparison on a type events never produce keeps its strings for every kind.
        let mut o = evaluator(&[(
            "indicator--d",
            "[x-custom:value = 'odd.example'] AND [domain-name:value = 'odd.example']",
        )]);
        assert!(o.may_involve(dom, [(dom, "odd.example")]));
    }

    #[test]
    fn prefilter_snapshot_agrees_and_follows_pattern_changes() {
        let dom = KindMask::of_sco_type("domain-name");
        let ip = KindMask::of_sco_type("ipv4-addr");
        let mut s = evaluator(&[(
            "indicator--a",
            "[domain-name:value LIKE '%.caf\u{e9}.example'] REPEATS 2 TIMES",
        )]);
        let p = s.prefilter();
        // NFC: the decomposed e + U+0301 matches the composed literal run.
        assert!(p.may_involve(dom, [(dom, "x.cafe\u{301}.example")]));
        assert!(p.may_involve(dom, [(dom, "x.caf\u{e9}.example")]));
        assert!(!p.may_involve(dom, [(dom, "x.cafe.example")]));
        assert!(!p.may_involve(ip, [(ip, "x.caf\u{e9}.example")]));
        // A snapshot is not changed by later registrations; a new one sees them.
        s.add_pattern(
            "indicator--b",
            "[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES",
        )
        .unwrap();
        assert!(!p.may_involve(ip, [(ip, "198.51.100.7")]));
        let p = s.prefilter();
        assert!(p.may_involve(ip, [(ip, "198.51.100.7")]));
        assert!(s.may_involve(ip, [(ip, "198.51.100.7")]));
        assert!(s.remove_pattern("indicator--b"));
        assert!(!s.prefilter().may_involve(ip, [(ip, "198.51.100.7")]));
        assert!(!s.may_involve(ip, [(ip, "198.51.100.7")]));
        // No patterns: nothing is a candidate.
        assert!(s.remove_pattern("indicator--a"));
        assert!(!s
            .prefilter()
            .may_involve(dom, [(dom, "x.caf\u{e9}.example")]));
    }

    fn evaluator_with(config: StreamConfig, patterns: &[(&str, &str)]) -> StreamEvaluator {
        let mut s = StreamEvaluator::new(config).unwrap();
        for (id, p) in patterns {
            s.add_pattern(id, p).unwrap();
        }
        s
    }

    /// Feeds events; returns, per event, the (indicator, event ids) that fired.
    fn feed(s: &mut StreamEvaluator, events: Vec<Observation>) -> Vec<Vec<(String, Vec<String>)>> {
        events
            .into_iter()
            .map(|e| {
                let mut out = Vec::new();
                s.observe(e, KindMask::default(), &mut out).unwrap();
                out.into_iter()
                    .map(|m| (m.indicator_id, m.event_ids))
                    .collect()
            })
            .collect()
    }

    fn fired(id: &str, events: &[&str]) -> Vec<(String, Vec<String>)> {
        vec![(id.into(), events.iter().map(|e| e.to_string()).collect())]
    }

    const FB: &str = "([domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']) WITHIN 60 SECONDS";

    #[test]
    fn followed_by_within_fires_once_on_the_completing_event() {
        let mut s = evaluator(&[("indicator--fb", FB)]);
        let r = feed(
            &mut s,
            vec![
                ev("e1", 0, vec![dom("a.example")]),
                ev("e2", 10, vec![ip("203.0.113.1")]),
                ev("e3", 30, vec![ip("198.51.100.7")]),
                ev("e4", 40, vec![dom("b.example")]),
            ],
        );
        assert_eq!(r[0], vec![]);
        assert_eq!(r[1], vec![]);
        assert_eq!(r[2], fired("indicator--fb", &["e1", "e3"]));
        // Later events that are not part of a new combination do not re-report it.
        assert_eq!(r[3], vec![]);
        // Unrelated events are not buffered.
        assert_eq!(s.len(), 2);
        assert_eq!(s.stats().unrelated, 2);
        assert_eq!(s.stats().matches, 1);
    }

    #[test]
    fn followed_by_does_not_fire_too_far_apart_or_in_the_wrong_order() {
        let mut s = evaluator(&[("indicator--fb", FB)]);
        let r = feed(
            &mut s,
            vec![
                ev("e1", 0, vec![dom("a.example")]),
                ev("e2", 61, vec![ip("198.51.100.7")]),
                // Wrong order: the address before the domain.
                ev("e3", 200, vec![ip("198.51.100.7")]),
                ev("e4", 210, vec![dom("a.example")]),
            ],
        );
        assert!(r.iter().all(Vec::is_empty), "{r:?}");
    }

    #[test]
    fn followed_by_uses_event_time_not_arrival_order() {
        let mut s = evaluator(&[("indicator--fb", FB)]);
        let r = feed(
            &mut s,
            vec![
                ev("e1", 50, vec![ip("198.51.100.7")]),
                // Arrives later, happened earlier: completes the sequence.
                ev("e2", 20, vec![dom("a.example")]),
            ],
        );
        assert_eq!(r[1], fired("indicator--fb", &["e2", "e1"]));
    }

    #[test]
    fn within_binds_to_the_last_observation_without_parentheses() {
        // STIX grammar: a qualifier applies to the observation expression before it, so
        // here `WITHIN` bounds `[ipv4-addr ...]` alone and the sequence has no time
        // bound: the default horizon applies.
        let p = "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7'] WITHIN 60 SECONDS";
        let config = StreamConfig {
            default_horizon: Duration::from_secs(900),
            ..StreamConfig::default()
        };
        let mut s = evaluator_with(config, &[("indicator--a", p), ("indicator--b", FB)]);
        assert_eq!(s.horizon("indicator--a"), Some(Duration::from_secs(900)));
        assert_eq!(s.horizon("indicator--b"), Some(Duration::from_secs(60)));
        let r = feed(
            &mut s,
            vec![
                ev("e1", 0, vec![dom("a.example")]),
                ev("e2", 600, vec![ip("198.51.100.7")]),
                ev("e3", 2000, vec![ip("198.51.100.7")]),
            ],
        );
        assert_eq!(r[1], fired("indicator--a", &["e1", "e2"]));
        assert_eq!(r[2], vec![]);
    }

    const REP: &str = "[ipv4-addr:value = '203.0.113.5'] REPEATS 3 TIMES WITHIN 300 SECONDS";

    #[test]
    fn repeats_counts_distinct_events_within_the_window() {
        let mut s = evaluator(&[("indicator--rep", REP)]);
        let r = feed(
            &mut s,
            vec![
                ev("e1", 0, vec![ip("203.0.113.5")]),
                ev("e2", 100, vec![ip("203.0.113.5"), dom("x.example")]),
                ev("e3", 200, vec![ip("203.0.113.5")]),
                ev("e4", 250, vec![ip("203.0.113.5")]),
            ],
        );
        assert_eq!(r[0], vec![]);
        assert_eq!(r[1], vec![]);
        assert_eq!(r[2], fired("indicator--rep", &["e1", "e2", "e3"]));
        // A fourth hit completes new combinations, each including it.
        assert_eq!(r[3].len(), 1);
        assert!(r[3][0].1.contains(&"e4".to_string()));
        assert_eq!(r[3][0].1.len(), 3);
    }

    #[test]
    fn repeats_does_not_fire_with_fewer_events_or_spread_too_far() {
        let mut s = evaluator(&[("indicator--rep", REP)]);
        let r = feed(
            &mut s,
            vec![
                // One event holding the address twice is still one event.
                ev("e1", 0, vec![ip("203.0.113.5"), ip("203.0.113.5")]),
                ev("e2", 200, vec![ip("203.0.113.5")]),
                ev("e3", 301, vec![ip("203.0.113.5")]),
                ev("e4", 650, vec![ip("203.0.113.5")]),
            ],
        );
        assert!(r.iter().all(Vec::is_empty), "{r:?}");
    }

    #[test]
    fn and_across_two_observations_needs_two_events() {
        let p = "([ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'c2.example']) WITHIN 120 SECONDS";
        let mut s = evaluator(&[("indicator--and", p)]);
        let r = feed(
            &mut s,
            vec![
                // Both observables in one event: one observation, not two.
                ev("e1", 0, vec![ip("198.51.100.1"), dom("c2.example")]),
                ev("e2", 500, vec![dom("c2.example")]),
                ev("e3", 530, vec![ip("198.51.100.1")]),
            ],
        );
        assert_eq!(r[0], vec![]);
        assert_eq!(r[1], vec![]);
        assert_eq!(r[2], fired("indicator--and", &["e2", "e3"]));
    }

    #[test]
    fn start_stop_bounds_each_event() {
        let p = "[ipv4-addr:value = '192.0.2.9'] REPEATS 2 TIMES START t'2026-01-01T00:00:00Z' STOP t'2026-01-01T01:00:00Z'";
        let mut s = evaluator(&[("indicator--ss", p)]);
        assert_eq!(s.horizon("indicator--ss"), Some(Duration::from_secs(3600)));
        let r = feed(
            &mut s,
            vec![
                ev("e0", -10, vec![ip("192.0.2.9")]),
                ev("e1", 100, vec![ip("192.0.2.9")]),
                ev("e2", 3000, vec![ip("192.0.2.9")]),
                ev("e3", 3600, vec![ip("192.0.2.9")]),
            ],
        );
        assert_eq!(r[0], vec![]);
        assert_eq!(r[1], vec![]);
        assert_eq!(r[2], fired("indicator--ss", &["e1", "e2"]));
        // STOP is exclusive.
        assert_eq!(r[3], vec![]);
    }

    #[test]
    fn redelivered_events_count_once() {
        let mut s = evaluator(&[("indicator--rep", REP)]);
        let r = feed(
            &mut s,
            vec![
                ev("e1", 0, vec![ip("203.0.113.5")]),
                ev("e1", 0, vec![ip("203.0.113.5")]),
                ev("e2", 1, vec![ip("203.0.113.5")]),
                ev("e2", 1, vec![ip("203.0.113.5")]),
                ev("e3", 2, vec![ip("203.0.113.5")]),
                // A redelivery of the completing event is not reported again.
                ev("e3", 2, vec![ip("203.0.113.5")]),
            ],
        );
        assert_eq!(r[3], vec![]);
        assert_eq!(r[4], fired("indicator--rep", &["e1", "e2", "e3"]));
        assert_eq!(r[5], vec![]);
        assert_eq!((s.len(), s.stats().duplicates, s.stats().events), (3, 3, 6));
    }

    #[test]
    fn removed_patterns_take_no_part_and_their_number_is_reused() {
        let mut s = evaluator(&[("indicator--rep", REP), ("indicator--fb", FB)]);
        let r = feed(
            &mut s,
            vec![
                ev("e1", 0, vec![ip("203.0.113.5")]),
                ev("e2", 1, vec![ip("203.0.113.5")]),
                ev("e3", 2, vec![dom("a.example")]),
            ],
        );
        assert!(r.iter().all(Vec::is_empty));
        assert!(s.remove_pattern("indicator--rep"));
        assert!(!s.remove_pattern("indicator--rep"));
        assert_eq!(s.pattern_count(), 1);
        // The third hit would have completed REPEATS 3: the pattern is gone, and the
        // address no longer makes an event relevant.
        let r = feed(&mut s, vec![ev("e4", 3, vec![ip("203.0.113.5")])]);
        assert_eq!(r[0], vec![]);
        assert_eq!(s.stats().unrelated, 1);
        // Re-registered: it sees only events from now on (e1, e2, e4 are not its).
        s.add_pattern("indicator--rep", REP).unwrap();
        assert_eq!(s.patterns.len(), 2);
        let r = feed(
            &mut s,
            vec![
                ev("e5", 4, vec![ip("203.0.113.5")]),
                ev("e6", 5, vec![ip("203.0.113.5")]),
                // The other pattern still works across the removal.
                ev("e7", 6, vec![ip("198.51.100.7")]),
                ev("e8", 7, vec![ip("203.0.113.5")]),
            ],
        );
        assert_eq!(r[1], vec![]);
        assert_eq!(r[2], fired("indicator--fb", &["e3", "e7"]));
        assert_eq!(r[3], fired("indicator--rep", &["e5", "e6", "e8"]));
        // Removing every pattern empties the indexes.
        let like = "[domain-name:value LIKE '%.x.example'] REPEATS 2 TIMES WITHIN 9 SECONDS";
        s.add_pattern("indicator--like", like).unwrap();
        feed(&mut s, vec![ev("e9", 8, vec![dom("a.x.example")])]);
        assert!(s.remove_pattern("indicator--like"));
        assert!(s.remove_pattern("indicator--rep") && s.remove_pattern("indicator--fb"));
        let r = feed(&mut s, vec![ev("e10", 9, vec![dom("b.x.example")])]);
        assert_eq!(r[0], vec![]);
        assert!(s.by_key.is_empty() && s.by_substring.is_empty() && s.unkeyed.is_empty());
    }

    #[test]
    fn fewest_events_per_binding() {
        let m = |p: &str| min_events(&pattern::parse(p).unwrap().root);
        assert_eq!(m("[a:b = 1]"), 1);
        assert_eq!(m("[a:b = 1] AND [a:b = 2] AND [a:b = 3]"), 3);
        assert_eq!(m("[a:b = 1] OR ([a:b = 2] FOLLOWEDBY [a:b = 3])"), 1);
        assert_eq!(
            m("([a:b = 1] FOLLOWEDBY [a:b = 2]) REPEATS 3 TIMES WITHIN 5 SECONDS"),
            6
        );
        assert_eq!(
            m("([a:b = 1] AND [a:b = 2]) OR ([a:b = 3] REPEATS 4 TIMES)"),
            2
        );
    }

    #[test]
    fn horizons_follow_the_qualifiers() {
        let s = evaluator(&[
            ("a", "[ipv4-addr:value = '1.2.3.4']"),
            ("b", "[ipv4-addr:value = '1.2.3.4'] OR [domain-name:value = 'x.example']"),
            ("c", "([ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'x.example']) WITHIN 30 SECONDS"),
            ("d", "[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'x.example']"),
            ("e", "([ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS) REPEATS 2 TIMES"),
            ("f", "(([ipv4-addr:value = '1.2.3.4'] REPEATS 2 TIMES) WITHIN 10 SECONDS) WITHIN 20 SECONDS"),
            ("g", "([ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS) OR ([domain-name:value = 'x.example'] REPEATS 2 TIMES WITHIN 7.5 SECONDS)"),
        ]);
        let h = |id| s.horizon(id).unwrap();
        assert_eq!(h("a"), Duration::ZERO);
        assert_eq!(h("b"), Duration::ZERO);
        assert_eq!(h("c"), Duration::from_secs(30));
        assert_eq!(h("d"), Duration::from_secs(900));
        assert_eq!(h("e"), Duration::from_secs(900));
        assert_eq!(h("f"), Duration::from_secs(10));
        assert_eq!(h("g"), Duration::from_millis(7500));
    }

    #[test]
    fn eviction_by_count_is_counted_and_bounds_the_buffer() {
        let config = StreamConfig {
            max_events: 2,
            ..StreamConfig::default()
        };
        let mut s = evaluator_with(config, &[("indicator--rep", REP)]);
        let r = feed(
            &mut s,
            (0..5)
                .map(|i| ev(&format!("e{i}"), i * 10, vec![ip("203.0.113.5")]))
                .collect(),
        );
        // Three hits within 300 s, but only two fit in the buffer: never fires.
        assert!(r.iter().all(Vec::is_empty), "{r:?}");
        assert_eq!(s.len(), 2);
        assert_eq!(s.stats().evicted_by_count, 3);
        assert_eq!(s.stats().buffered, 5);
    }

    #[test]
    fn eviction_by_bytes_is_counted_and_bounds_the_buffer() {
        let mut s = evaluator(&[("indicator--rep", REP)]);
        feed(&mut s, vec![ev("e0", 0, vec![ip("203.0.113.5")])]);
        let one = s.buffered_bytes();
        assert!(one > 0);
        let config = StreamConfig {
            max_bytes: 2 * one + one / 2,
            ..StreamConfig::default()
        };
        let mut s = evaluator_with(config, &[("indicator--rep", REP)]);
        let r = feed(
            &mut s,
            (0..4)
                .map(|i| ev(&format!("e{i}"), i * 10, vec![ip("203.0.113.5")]))
                .collect(),
        );
        assert!(r.iter().all(Vec::is_empty), "{r:?}");
        assert_eq!(s.len(), 2);
        assert!(s.buffered_bytes() <= 2 * one + one / 2);
        assert_eq!(s.stats().evicted_by_bytes, 2);
        // An event larger than the whole bound is evaluated alone, never buffered.
        let config = StreamConfig {
            max_bytes: one / 2,
            ..StreamConfig::default()
        };
        let mut s = evaluator_with(
            config,
            &[("indicator--one", "[ipv4-addr:value = '203.0.113.5']")],
        );
        let r = feed(&mut s, vec![ev("e0", 0, vec![ip("203.0.113.5")])]);
        assert_eq!(r[0], fired("indicator--one", &["e0"]));
        assert_eq!((s.len(), s.stats().evicted_by_bytes), (0, 1));
    }

    #[test]
    fn time_expiry_and_late_events() {
        let config = StreamConfig {
            default_horizon: Duration::from_secs(60),
            ..StreamConfig::default()
        };
        let one = "[ipv4-addr:value = '203.0.113.5']";
        let mut s = evaluator_with(config, &[("indicator--rep", REP), ("indicator--one", one)]);
        let r = feed(
            &mut s,
            vec![
                ev("e0", 0, vec![ip("203.0.113.5")]),
                ev("e1", 100, vec![ip("203.0.113.5")]),
                // Retention is 300 s (the largest horizon): e0 expires here.
                ev("e2", 301, vec![dom("x.example")]),
                // Older than watermark − retention: late, evaluated alone.
                ev("e3", 0, vec![ip("203.0.113.5")]),
            ],
        );
        assert_eq!(s.stats().expired, 1);
        assert_eq!(s.stats().late, 1);
        assert_eq!(s.len(), 1);
        assert_eq!(r[3], fired("indicator--one", &["e3"]));
    }

    #[test]
    fn references_between_an_events_scos_resolve_within_that_event() {
        let p = "([network-traffic:src_ref.value = '10.1.1.1' AND network-traffic:dst_port = 443] FOLLOWEDBY [domain-name:value = 'x.example']) WITHIN 60 SECONDS";
        let mut s = evaluator(&[("indicator--nt", p)]);
        let flow = |addr: &str, port: u16| {
            vec![
                json!({"type": "ipv4-addr", "id": "ipv4-addr--same", "value": addr}),
                json!({"type": "network-traffic", "id": "network-traffic--same",
                       "src_ref": "ipv4-addr--same", "dst_port": port, "protocols": ["tcp"]}),
            ]
        };
        let r = feed(
            &mut s,
            vec![
                // Same SCO ids in every event; each event's reference is its own.
                ev("e1", 0, flow("10.1.1.1", 80)),
                ev("e2", 1, flow("10.2.2.2", 443)),
                ev("e3", 2, vec![dom("x.example")]),
                ev("e4", 3, flow("10.1.1.1", 443)),
                ev("e5", 4, vec![dom("x.example")]),
            ],
        );
        assert_eq!(r[2], vec![]);
        assert_eq!(r[4], fired("indicator--nt", &["e4", "e5"]));
    }

    #[test]
    fn bad_events_are_refused_without_changing_state() {
        let mut s = evaluator(&[("indicator--one", "[ipv4-addr:value = '203.0.113.5']")]);
        let mut out = Vec::new();
        let cases = [
            (vec![json!("203.0.113.5")], "/scos/0"),
            (
                vec![ip("203.0.113.5"), json!({"value": "x"})],
                "/scos/1/type",
            ),
            (vec![json!({"type": "observed-data"})], "/scos/0/type"),
            (
                vec![json!({"type": "ipv4-addr", "id": 7, "value": "1.2.3.4"})],
                "/scos/0/id",
            ),
        ];
        for (scos, pointer) in cases {
            let e = s
                .observe(ev("bad", 0, scos), KindMask::default(), &mut out)
                .unwrap_err();
            assert_eq!(e.code(), "warning.stream.bad_event");
            assert!(e.to_string().contains(pointer), "{e}");
        }
        let mut deep = json!("x");
        for _ in 0..80 {
            deep = json!({ "k": deep });
        }
        let e = s
            .observe(
                ev("deep", 0, vec![json!({"type": "x-deep", "nested": deep})]),
                KindMask::default(),
                &mut out,
            )
            .unwrap_err();
        assert!(e.to_string().contains("deeper than 64"), "{e}");
        let ancient = Observation {
            event_id: "old".into(),
            time: Timestamp::parse("0000-06-01T00:00:00Z").unwrap(),
            scos: vec![ip("203.0.113.5")],
        };
        let e = s
            .observe(ancient, KindMask::default(), &mut out)
            .unwrap_err();
        assert!(e.to_string().contains("/time"), "{e}");
        assert!(out.is_empty());
        assert_eq!((s.len(), s.stats().events, s.stats().rejected), (0, 0, 6));
    }

    #[test]
    fn bad_patterns_and_configs_have_stable_codes() {
        let mut s = evaluator(&[("indicator--one", "[ipv4-addr:value = '203.0.113.5']")]);
        let code = |r: Result<(), StreamError>| r.unwrap_err().code();
        assert_eq!(
            code(s.add_pattern("i", "[ipv4-addr:value = ")),
            "warning.stream.bad_pattern"
        );
        assert_eq!(
            code(s.add_pattern("i", "[file:created = t'2016-02-30T00:00:00Z']")),
            "warning.stream.uncompilable_pattern"
        );
        assert_eq!(
            code(s.add_pattern("indicator--one", "[ipv4-addr:value = '1.1.1.1']")),
            "warning.stream.duplicate_indicator"
        );
        assert_eq!(s.pattern_count(), 1);
        let zero = StreamConfig {
            max_events: 0,
            ..StreamConfig::default()
        };
        assert_eq!(
            StreamEvaluator::new(zero).unwrap_err().code(),
            "warning.stream.zero_bound"
        );
    }

    #[test]
    fn only_patterns_that_can_involve_the_event_are_evaluated() {
        let mut s = evaluator(&[
            ("indicator--rep", REP),
            ("indicator--fb", FB),
            ("indicator--cidr", "([ipv4-addr:value ISSUBSET '10.0.0.0/8'] AND [url:value = 'http://x.example/']) WITHIN 10 SECONDS"),
        ]);
        feed(
            &mut s,
            vec![
                ev("e1", 0, vec![ip("192.0.2.1")]),
                ev("e2", 1, vec![dom("b.example")]),
                ev(
                    "e3",
                    2,
                    vec![json!({"type": "x-custom", "name": "a.example"})],
                ),
            ],
        );
        let st = s.stats();
        assert_eq!((st.evaluations, st.buffered, st.unrelated), (0, 0, 3));
        feed(&mut s, vec![ev("e4", 3, vec![ip("10.1.2.3")])]);
        // Buffered, but one event cannot bind `[a] AND [b]`: no evaluation yet.
        assert_eq!((s.stats().evaluations, s.stats().buffered), (0, 1));
        feed(
            &mut s,
            vec![ev(
                "e5",
                4,
                vec![json!({"type": "url", "value": "http://x.example/"})],
            )],
        );
        assert_eq!((s.stats().evaluations, s.stats().buffered), (1, 2));
    }

    #[test]
    fn like_operands_prefilter_on_their_literal_run_after_nfc() {
        let p = "[domain-name:value LIKE '%.caf\u{e9}.example'] REPEATS 2 TIMES WITHIN 60 SECONDS";
        let mut s = evaluator(&[("indicator--like", p)]);
        let r = feed(
            &mut s,
            vec![
                ev("e1", 0, vec![dom("www.cafe.example")]),
                // Decomposed e + combining acute: NFC makes it the literal's é.
                ev("e2", 1, vec![dom("a.cafe\u{301}.example")]),
                ev("e3", 2, vec![dom("b.caf\u{e9}.example")]),
            ],
        );
        assert_eq!(r[2], fired("indicator--like", &["e2", "e3"]));
        assert_eq!((s.stats().unrelated, s.stats().evaluations), (1, 1));
    }

    #[test]
    fn the_work_budget_bounds_an_evaluation() {
        let config = StreamConfig {
            max_work: 50,
            ..StreamConfig::default()
        };
        let p = "[ipv4-addr:value ISSUBSET '10.0.0.0/8'] REPEATS 20 TIMES WITHIN 600 SECONDS";
        let mut s = evaluator_with(config, &[("indicator--many", p)]);
        let r = feed(
            &mut s,
            (0..40)
                .map(|i| ev(&format!("e{i}"), i, vec![ip(&format!("10.0.0.{i}"))]))
                .collect(),
        );
        assert!(r.iter().all(Vec::is_empty));
        assert!(s.stats().budget_exhausted > 0);
    }

    #[test]
    fn window_truncation_is_counted() {
        let config = StreamConfig {
            max_window_events: 3,
            ..StreamConfig::default()
        };
        let p = "[ipv4-addr:value = '203.0.113.5'] REPEATS 5 TIMES WITHIN 300 SECONDS";
        let mut s = evaluator_with(config, &[("indicator--five", p)]);
        let r = feed(
            &mut s,
            (0..6)
                .map(|i| ev(&format!("e{i}"), i, vec![ip("203.0.113.5")]))
                .collect(),
        );
        assert!(r.iter().all(Vec::is_empty));
        assert_eq!(s.stats().truncated_windows, 3);
    }

    mod prefilter_soundness {
        use super::*;
        use proptest::prelude::*;

        /// Comparisons on several kinds over strings that also occur as other kinds'
        /// values, so a per-kind prefilter that dropped the wrong kind would show.
        const POOL: &[&str] = &[
            "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']",
            "[url:value = 'a.example'] REPEATS 2 TIMES",
            "[domain-name:value LIKE '%.relay.example'] REPEATS 2 TIMES WITHIN 60 SECONDS",
            "[url:value LIKE 'http://c2.%'] AND [domain-name:value = '10.0.0.1']",
            "[ipv4-addr:value IN ('10.0.0.2', 'b.example')] REPEATS 3 TIMES",
            "[x-custom:name = 'z.relay.example'] OR [ipv6-addr:value = 'b.example']",
            "[url:value LIKE '%.relay.example/%'] REPEATS 2 TIMES",
            "[domain-name:value LIKE '%.lab'] REPEATS 2 TIMES",
        ];
        const STRINGS: &[&str] = &[
            "a.example",
            "b.example",
            "10.0.0.1",
            "10.0.0.2",
            "x.relay.example",
            "z.relay.example",
            "http://c2.relay.example/",
            "x.relay.example.org",
            "http://a.relay.example/x",
            "ci.lab",
            "ci.lab.example",
            "other",
        ];
        const TYPES: &[&str] = &["domain-name", "ipv4-addr", "ipv6-addr", "url"];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whenever the prefilter (by kind) turns an event away, the evaluator
            /// itself finds it concerns no pattern: skipping it changes no verdict.
            #[test]
            fn a_refused_event_is_unrelated_to_every_pattern(
                events in prop::collection::vec(
                    prop::collection::vec((0..TYPES.len(), 0..STRINGS.len()), 1..=3),
                    1..=12,
                )
            ) {
                let mut s = StreamEvaluator::new(StreamConfig::default()).unwrap();
                for (i, p) in POOL.iter().enumerate() {
                    s.add_pattern(&format!("indicator--p{i}"), p).unwrap();
                }
                let prefilter = s.prefilter();
                for (k, values) in events.iter().enumerate() {
                    let typed: Vec<(KindMask, &str)> = values
                        .iter()
                        .map(|&(t, v)| (KindMask::of_sco_type(TYPES[t]), STRINGS[v]))
                        .collect();
                    let kinds = typed.iter().fold(KindMask::default(), |m, (k, _)| m.with(*k));
                    let admitted = prefilter.may_involve(kinds, typed.iter().copied());
                    let scos = values
                        .iter()
                        .map(|&(t, v)| json!({"type": TYPES[t], "value": STRINGS[v]}))
                        .collect();
                    let before = s.stats().unrelated;
                    let mut out = Vec::new();
                    s.observe(ev(&format!("e{k}"), k as i64, scos), kinds, &mut out).unwrap();
                    if !admitted {
                        prop_assert_eq!(s.stats().unrelated, before + 1, "event {:?}", typed);
                        prop_assert!(out.is_empty());
                    }
                }
            }
        }
    }

    mod differential {
        use super::*;
        use proptest::prelude::*;

        /// (pattern, whether every binding has a time bound).
        const POOL: &[(&str, bool)] = &[
            ("[ipv4-addr:value = '10.0.0.1']", true),
            ("([domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.2']) WITHIN 60 SECONDS", true),
            ("[ipv4-addr:value = '10.0.0.3'] REPEATS 3 TIMES WITHIN 120 SECONDS", true),
            ("([ipv4-addr:value = '10.0.0.1'] AND [domain-name:value = 'b.example']) WITHIN 30 SECONDS", true),
            ("[ipv4-addr:value = '10.0.0.2' OR domain-name:value = 'b.example'] REPEATS 2 TIMES WITHIN 45 SECONDS", true),
            ("[ipv4-addr:value = '10.0.0.1'] AND [ipv4-addr:value = '10.0.0.2']", false),
            ("([ipv4-addr:value = '10.0.0.3'] OR [domain-name:value = 'a.example']) FOLLOWEDBY [ipv4-addr:value = '10.0.0.1'] WITHIN 90 SECONDS", false),
            ("[ipv4-addr:value ISSUBSET '10.0.0.0/31'] REPEATS 2 TIMES WITHIN 20 SECONDS", true),
            ("([domain-name:value LIKE '%.example'] FOLLOWEDBY [domain-name:value = 'a.example']) WITHIN 50 SECONDS", true),
            ("([ipv4-addr:value = '10.0.0.2'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.3']) WITHIN 100 SECONDS START t'2026-01-01T00:00:00Z' STOP t'2026-01-01T00:05:00Z'", true),
            ("[ipv4-addr:value = '10.0.0.1'] START t'2026-01-01T00:01:00Z' STOP t'2026-01-01T00:03:00Z'", true),
            ("[x-other:name = 'k'] AND [ipv4-addr:value = '10.0.0.3'] WITHIN 40 SECONDS", false),
            ("(([ipv4-addr:value IN ('10.0.0.1', '10.0.0.3')] REPEATS 2 TIMES) FOLLOWEDBY [domain-name:value = 'b.example']) WITHIN 70 SECONDS", true),
            ("[ipv4-addr:value NOT = '10.0.0.1' AND ipv4-addr:value != '10.0.0.2'] FOLLOWEDBY [x-other:name = 'z']", false),
            ("([domain-name:value = 'a.example'] AND [domain-name:value = 'b.example'] AND [ipv4-addr:value = '10.0.0.2']) WITHIN 80 SECONDS", true),
            ("[ipv4-addr:value = '10.0.0.2'] OR ([domain-name:value = 'a.example'] REPEATS 2 TIMES WITHIN 25 SECONDS)", true),
            ("([network-traffic:src_ref.value = '10.0.0.3' AND network-traffic:dst_port = 443] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']) WITHIN 60 SECONDS", true),
        ];

        const DEFAULT_HORIZON: i64 = 100;

        /// The SCOs of an observable code; `ids` gives each its id (and the flow's reference).
        fn scos(code: u8, ids: &mut dyn FnMut() -> String) -> Vec<Value> {
            let ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
            match code {
                0..=2 => {
                    vec![json!({"type": "ipv4-addr", "id": ids(), "value": ips[code as usize]})]
                }
                3 => vec![json!({"type": "domain-name", "id": ids(), "value": "a.example"})],
                4 => vec![json!({"type": "domain-name", "id": ids(), "value": "b.example"})],
                5 => vec![json!({"type": "x-other", "id": ids(), "name": "k"})],
                6 => vec![json!({"type": "x-other", "id": ids(), "name": "z"})],
                _ => {
                    let addr = ids();
                    vec![
                        json!({"type": "ipv4-addr", "id": addr, "value": "10.0.0.3"}),
                        json!({"type": "network-traffic", "id": ids(), "src_ref": addr, "dst_port": 443}),
                    ]
                }
            }
        }

        /// The batch evaluator's input for events `idx` (its own ids, independent of the
        /// stream's).
        fn batch_input(events: &[(i64, Vec<u8>)], idx: &[usize]) -> Vec<Value> {
            let mut out = Vec::new();
            for &i in idx {
                let mut n = 0;
                let mut ids = || {
                    n += 1;
                    format!("x--{i}-{n}")
                };
                let mut objs: Vec<Value> = events[i]
                    .1
                    .iter()
                    .flat_map(|&c| scos(c, &mut ids))
                    .collect();
                for o in &mut objs {
                    let ty = o["type"].as_str().unwrap().to_string();
                    let id = o["id"].as_str().unwrap().replace("x--", &format!("{ty}--"));
                    o["id"] = Value::from(id);
                    if let Some(r) = o.get("src_ref").and_then(Value::as_str) {
                        let r = r.replace("x--", "ipv4-addr--");
                        o["src_ref"] = Value::from(r);
                    }
                }
                let t = at(events[i].0).to_string();
                let refs: Vec<Value> = objs.iter().map(|o| o["id"].clone()).collect();
                out.push(
                    json!({"type": "observed-data", "id": format!("observed-data--{i}"),
                    "first_observed": t, "last_observed": t, "number_observed": 1,
                    "object_refs": refs}),
                );
                out.extend(objs);
            }
            out
        }

        fn batch(
            p: &CompiledPattern,
            events: &[(i64, Vec<u8>)],
            idx: &[usize],
            newest: Option<usize>,
        ) -> bool {
            let input = batch_input(events, idx);
            let obs = Observations::new(&input).unwrap();
            match newest {
                Some(n) => {
                    p.matches_involving(&obs, &format!("observed-data--{n}"))
                        .unwrap()
                        .matched
                }
                None => p.matches(&obs).unwrap().matched,
            }
        }

        fn stream_of() -> impl Strategy<Value = Vec<(i64, Vec<u8>)>> {
            // Mostly small steps either way; sometimes a jump back past the retention
            // (late events).
            let step = prop_oneof![12 => -30i64..=45, 1 => Just(-400i64)];
            prop::collection::vec((step, prop::collection::vec(0u8..8, 1..=2)), 1..=22).prop_map(
                |steps| {
                    let mut t = 0;
                    steps
                        .into_iter()
                        .map(|(dt, codes)| {
                            t += dt;
                            (t, codes)
                        })
                        .collect()
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            /// After each event, a pattern fires exactly when the batch evaluator finds a
            /// binding through that event over the buffered events; and every reported
            /// binding is one the batch evaluator accepts on its own.
            #[test]
            fn streaming_verdicts_equal_the_batch_evaluator(events in stream_of()) {
                let config = StreamConfig {
                    default_horizon: Duration::from_secs(DEFAULT_HORIZON as u64),
                    ..StreamConfig::default()
                };
                let mut s = StreamEvaluator::new(config).unwrap();
                let mut compiled = Vec::new();
                for (i, (p, _)) in POOL.iter().enumerate() {
                    s.add_pattern(&format!("p{i}"), p).unwrap();
                    compiled.push(CompiledPattern::new(&pattern::parse(p).unwrap(), EvalOptions::default()).unwrap());
                }
                let retention = s.retention / 1_000_000;
                let mut watermark: Option<i64> = None;
                let mut kept: Vec<usize> = Vec::new();
                let mut late_seen = 0;
                for (k, (t, codes)) in events.iter().enumerate() {
                    let mut n = 0;
                    // The stream gets the same original ids in every event.
                    let mut ids = || { n += 1; format!("x-same--{n}") };
                    let mut objs: Vec<Value> = codes.iter().flat_map(|&c| scos(c, &mut ids)).collect();
                    for o in &mut objs {
                        let ty = o["type"].as_str().unwrap().to_string();
                        o["id"] = Value::from(o["id"].as_str().unwrap().replace("x-same", &ty));
                        if let Some(r) = o.get("src_ref").and_then(Value::as_str) {
                            o["src_ref"] = Value::from(r.replace("x-same", "ipv4-addr"));
                        }
                    }
                    let mut out = Vec::new();
                    s.observe(ev(&format!("e{k}"), *t, objs), KindMask::default(), &mut out).unwrap();
                    let late = watermark.is_some_and(|w| *t < w - retention);
                    let buffer: Vec<usize> = if late {
                        late_seen += 1;
                        vec![k]
                    } else {
                        let w = watermark.map_or(*t, |w| w.max(*t));
                        watermark = Some(w);
                        kept.push(k);
                        kept.iter().copied().filter(|&i| events[i].0 >= w - retention).collect()
                    };
                    for (pi, (p, bounded)) in POOL.iter().enumerate() {
                        let data: Vec<usize> = if *bounded {
                            buffer.clone()
                        } else {
                            buffer.iter().copied().filter(|&i| (events[i].0 - t).abs() <= DEFAULT_HORIZON).collect()
                        };
                        let expected = batch(&compiled[pi], &events, &data, Some(k));
                        let got: Vec<&StreamMatch> = out.iter().filter(|m| m.indicator_id == format!("p{pi}")).collect();
                        prop_assert!(got.len() <= 1);
                        prop_assert_eq!(expected, got.len() == 1, "pattern {} after event {}", p, k);
                        // Checks that use only `matches`.
                        let all = batch(&compiled[pi], &events, &data, None);
                        let without: Vec<usize> = data.iter().copied().filter(|&i| i != k).collect();
                        let before = batch(&compiled[pi], &events, &without, None);
                        if !all { prop_assert!(got.is_empty()); }
                        if all && !before { prop_assert_eq!(got.len(), 1); }
                        if let Some(m) = got.first() {
                            let bound: Vec<usize> = m.event_ids.iter().map(|e| e[1..].parse().unwrap()).collect();
                            prop_assert!(bound.contains(&k));
                            prop_assert!(bound.iter().all(|i| data.contains(i)));
                            prop_assert!(bound.windows(2).all(|w| events[w[0]].0 <= events[w[1]].0));
                            prop_assert!(batch(&compiled[pi], &events, &bound, Some(k)));
                        }
                    }
                }
                prop_assert_eq!(s.stats().budget_exhausted, 0);
                prop_assert_eq!(s.stats().eval_errors, 0);
                prop_assert_eq!(s.stats().late, late_seen);
            }
        }
    }
}
