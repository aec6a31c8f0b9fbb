//! One batch of telemetry through the engine: scan, count, write STIX, raise alerts.

use hashbrown::HashMap;
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use matcher::fields::FieldMap;
use matcher::scan::{Hit as ScanHit, Observed, Scanner, Sink};
use matcher::ObservableKind;
use serde::Serialize;
use store::{HitRow, InsertOutcome, NewObject, Query};

use super::alerts::AlertRecord;
use super::indicators::load_weights;
use super::{BadSample, Engine, EngineError, LiveIndicators, Result};
use crate::aggregate::{window_ids, window_objects, WindowVersion};
use crate::hit::{sco_for, Hit, SourceRef};
use crate::stream::{Observation, StreamEvaluator, StreamMatch, StreamPrefilter};

/// How the events of a batch are named. An event's id must be the same every time the
/// same event is delivered: it is the key that makes counting exactly-once.
#[derive(Debug, Clone)]
pub enum EventIds {
    /// `{prefix}:{base + byte offset of the line in the batch}` (files, stdin, HTTP).
    Offsets { prefix: String, base: u64 },
    /// One id per line (`\n`-separated, blank lines included), e.g. NATS
    /// `nats:{stream}:{sequence}`.
    PerLine(Vec<String>),
}

/// Newline-delimited JSON events from one source.
#[derive(Debug, Clone)]
pub struct Batch {
    pub source: SourceRef,
    pub data: Vec<u8>,
    pub ids: EventIds,
}

impl Batch {
    fn event_id(&self, line_no: usize, offset: usize) -> String {
        match &self.ids {
            EventIds::Offsets { prefix, base } => format!("{prefix}:{}", base + offset as u64),
            EventIds::PerLine(ids) => ids
                .get(line_no)
                .cloned()
                .unwrap_or_else(|| format!("{}:line:{line_no}", self.source.name)),
        }
    }
}

/// What one batch did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BatchReport {
    pub events: u64,
    /// General (non IOC-shaped) patterns that fired over the event stream.
    pub pattern_matches: u64,
    pub bad: u64,
    pub hits: u64,
    pub counted: u64,
    pub duplicates: u64,
    pub late: u64,
    pub sightings: u64,
    pub alerts: u64,
}

/// A hit found by the scanner, owned.
#[derive(Debug, Clone)]
struct Found {
    event_id: String,
    indicator_id: String,
    kind: ObservableKind,
    normalized: String,
    time_micros: Option<i64>,
}

/// What scanning one batch found.
#[derive(Debug, Default)]
pub(crate) struct ScanOutput {
    found: Vec<Found>,
    events: u64,
    bad: u64,
    too_long: u64,
    invalid_utf8: u64,
    no_time: u64,
    max_time: Option<i64>,
    samples: Vec<BadSample>,
    pattern_matches: u64,
}

thread_local! {
    /// One scanner per blocking thread and field map (its buffers are reused).
    static SCANNER: RefCell<Option<(usize, Scanner)>> = const { RefCell::new(None) };
}

fn with_scanner<R>(map: &Arc<FieldMap>, f: impl FnOnce(&mut Scanner) -> R) -> R {
    SCANNER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let key = Arc::as_ptr(map) as usize;
        if slot.as_ref().is_none_or(|(k, _)| *k != key) {
            *slot = Some((key, Scanner::new(map.clone())));
        }
        match slot.as_mut() {
            Some((_, s)) => f(s),
            None => unreachable!("scanner slot was just filled"),
        }
    })
}

fn sample(event_id: String, reason: String, line: &[u8]) -> BadSample {
    let head = &line[..line.len().min(256)];
    BadSample {
        event_id,
        reason,
        head: String::from_utf8_lossy(head).into_owned(),
        len: line.len() as u64,
        at: store::now_micros(),
    }
}

/// Collects one event's hits, and checks its values against the general patterns'
/// pre-check as the scanner delivers them; its observables are read from the scanner
/// afterwards, only for events a general pattern could involve
/// ([`EventSink::collect_observed`]).
struct EventSink<'p> {
    hits: Vec<(String, ObservableKind, String)>,
    /// The general patterns' pre-check, when there are general patterns.
    prefilter: Option<&'p StreamPrefilter>,
    /// Some value of the event passed [`StreamPrefilter::value_may_involve`] (reset
    /// before each event).
    value_may_involve: bool,
    /// Distinct observables of the event: kind and a range of `text`.
    observed: Vec<(ObservableKind, std::ops::Range<usize>)>,
    /// The observables' normalised text, reused across events (no allocation per event).
    text: String,
}

impl<'p> EventSink<'p> {
    fn new(prefilter: Option<&'p StreamPrefilter>) -> Self {
        EventSink {
            hits: Vec::new(),
            prefilter,
            value_may_involve: false,
            observed: Vec::new(),
            text: String::new(),
        }
    }

    /// Forgets the previous event's hits and pre-check before the next is scanned.
    fn start_event(&mut self) {
        self.hits.clear();
        self.value_may_involve = false;
    }

    /// Whether a general pattern could involve the event the scanner last accepted,
    /// with these kinds of observables: [`StreamPrefilter::may_involve`] over the values
    /// this sink was given (each value passes when some pattern needs no particular
    /// string, and an event has kinds only from its values).
    fn may_involve(&self, kinds: matcher::KindMask) -> bool {
        self.value_may_involve && self.prefilter.is_some_and(|p| p.kinds_may_involve(kinds))
    }

    fn value(&self, r: &std::ops::Range<usize>) -> &str {
        self.text.get(r.clone()).unwrap_or("")
    }

    /// Keeps the distinct (kind, normalised value) observables of the event the
    /// scanner last accepted (at most 256).
    fn collect_observed(&mut self, scanner: &Scanner) {
        self.observed.clear();
        self.text.clear();
        for o in scanner.observed() {
            if self.observed.len() >= 256 {
                break;
            }
            if self
                .observed
                .iter()
                .any(|(k, r)| *k == o.kind && self.text.get(r.clone()) == Some(o.normalized))
            {
                continue;
            }
            let start = self.text.len();
            self.text.push_str(o.normalized);
            self.observed.push((o.kind, start..self.text.len()));
        }
    }
}

impl Sink for EventSink<'_> {
    fn hit(&mut self, h: &ScanHit<'_>) {
        for id in h.indicator_ids() {
            self.hits
                .push((id.to_owned(), h.kind, h.normalized.to_owned()));
        }
    }

    fn observed(&mut self, o: &Observed<'_>) {
        if !self.value_may_involve {
            if let Some(p) = self.prefilter {
                self.value_may_involve = p.value_may_involve(o.kind.bit(), o.normalized);
            }
        }
    }
}

/// The STIX SCO (without id) of an observable, for the pattern evaluator.
fn sco_value(kind: ObservableKind, normalized: &str) -> serde_json::Value {
    match kind {
        ObservableKind::FileHash(alg) => {
            serde_json::json!({"type": "file", "hashes": {alg.stix_name(): normalized}})
        }
        other => serde_json::json!({"type": other.sco_type(), "value": normalized}),
    }
}

/// A stable key for a pattern match: the same bound events give the same key.
fn match_key(event_ids: &[String]) -> String {
    let mut ids: Vec<&str> = event_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update([0]);
    }
    format!("pattern:{}", hex::encode(&h.finalize()[..16]))
}

fn scan_batch(
    live: &LiveIndicators,
    map: &Arc<FieldMap>,
    max_line: usize,
    batch: &Batch,
    stream: &Mutex<StreamEvaluator>,
) -> ScanOutput {
    let mut out = ScanOutput::default();
    let data = &batch.data;
    let general = !live.general.is_empty();
    // The general patterns' pre-check, taken once for the batch: most events concern no
    // pattern and are decided without the evaluator's lock.
    let prefilter = general.then(|| super::lock(stream).prefilter());
    let mut matches: Vec<StreamMatch> = Vec::new();
    with_scanner(map, |scanner| {
        let mut start = 0usize;
        let mut line_no = 0usize;
        let mut sink = EventSink::new(prefilter.as_ref());
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            let mut line = &data[start..end];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            let (this_start, this_no) = (start, line_no);
            start = end + 1;
            line_no += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            out.events += 1;
            if line.len() > max_line {
                out.bad += 1;
                out.too_long += 1;
                out.samples.push(sample(
                    batch.event_id(this_no, this_start),
                    format!(
                        "event of {} bytes is over the {max_line}-byte limit",
                        line.len()
                    ),
                    line,
                ));
                continue;
            }
            sink.start_event();
            match scanner.scan(&live.layers, line, &mut sink) {
                Ok(summary) => {
                    out.invalid_utf8 += u64::from(summary.invalid_utf8);
                    let time = event_time(&summary);
                    match time {
                        Some(t) => out.max_time = Some(out.max_time.map_or(t, |m| m.max(t))),
                        None => out.no_time += 1,
                    }
                    // Only events some general pattern could involve go to the stream
                    // evaluator (building their SCOs is the expensive part).
                    let involved = sink.may_involve(summary.kinds);
                    if involved {
                        sink.collect_observed(scanner);
                    }
                    let ev = involved.then(|| super::lock(stream));
                    let to_stream = ev.is_some();
                    if sink.hits.is_empty() && !to_stream {
                        continue;
                    }
                    let event_id = batch.event_id(this_no, this_start);
                    for (indicator_id, kind, normalized) in sink.hits.drain(..) {
                        out.found.push(Found {
                            event_id: event_id.clone(),
                            indicator_id,
                            kind,
                            normalized,
                            time_micros: time,
                        });
                    }
                    if let Some(mut ev) = ev {
                        let obs = Observation {
                            event_id: event_id.clone(),
                            time: stix::Timestamp::from_unix_micros(
                                time.unwrap_or_else(store::now_micros),
                            ),
                            scos: sink
                                .observed
                                .iter()
                                .map(|(k, r)| sco_value(*k, sink.value(r)))
                                .collect(),
                        };
                        matches.clear();
                        if let Err(e) = ev.observe(obs, summary.kinds, &mut matches) {
                            out.samples
                                .push(sample(event_id.clone(), e.to_string(), line));
                            continue;
                        }
                        drop(ev);
                        for m in matches.drain(..) {
                            // The sighting references the completing event's observable
                            // that the pattern names as a literal, else one of a type the
                            // pattern names, else its first one.
                            let pattern = live
                                .general
                                .iter()
                                .find(|(id, _)| *id == m.indicator_id)
                                .map_or("", |(_, p)| p.as_str());
                            let named = |v: &str| pattern.contains(&format!("'{v}'"));
                            let pick = sink
                                .observed
                                .iter()
                                .find(|(_, r)| named(sink.value(r)))
                                .or_else(|| {
                                    sink.observed.iter().find(|(k, _)| {
                                        pattern.contains(&format!("{}:", k.sco_type()))
                                    })
                                })
                                .or(sink.observed.first());
                            if let Some((kind, r)) = pick {
                                out.found.push(Found {
                                    event_id: match_key(&m.event_ids),
                                    indicator_id: m.indicator_id,
                                    kind: *kind,
                                    normalized: sink.value(r).to_owned(),
                                    time_micros: Some(m.last.unix_micros()),
                                });
                                out.pattern_matches += 1;
                            }
                        }
                    }
                }
                Err(e) => {
                    out.bad += 1;
                    out.samples.push(sample(
                        batch.event_id(this_no, this_start),
                        format!("column {}: {}", e.offset + 1, e.reason),
                        line,
                    ));
                }
            }
        }
    });
    out
}

/// The event time the scanner read from the event's time field, if any.
fn event_time(summary: &matcher::scan::EventSummary) -> Option<i64> {
    summary.time_micros
}

/// The SCO type and value of a hit, in the form [`crate::hit::Hit`] expects.
fn observable(kind: ObservableKind, normalized: &str) -> (String, String) {
    match kind {
        ObservableKind::FileHash(alg) => {
            ("file".into(), format!("{}:{normalized}", alg.stix_name()))
        }
        other => (other.sco_type().into(), normalized.to_owned()),
    }
}

impl Engine {
    /// Runs one batch through the engine. When this returns `Ok`, every hit in the
    /// batch is counted in the store and its sighting and alert are written: the
    /// source may acknowledge the batch. On `Err` nothing needs undoing: delivering
    /// the batch again counts nothing twice.
    pub async fn process(self: &Arc<Self>, batch: Batch) -> Result<BatchReport> {
        self.process_checkpointed(batch, None).await
    }

    /// [`Engine::process`], also saving a source's read position (`(state key,
    /// value)`) in the transaction that writes the batch's counts, sightings and
    /// alerts: after a crash the source resumes exactly after what was recorded.
    pub async fn process_checkpointed(
        self: &Arc<Self>,
        batch: Batch,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<BatchReport> {
        let source = batch.source.clone();
        let bytes = batch.data.len() as u64;
        let engine = self.clone();
        let scanned = tokio::task::spawn_blocking(move || engine.scan(&batch))
            .await
            .map_err(|e| EngineError::Index(format!("scan thread failed: {e}")))?;
        self.record(scanned, bytes, &source, checkpoint).await
    }

    /// Scans a batch against the live index and the general patterns (blocking: call
    /// it from a blocking thread).
    pub(crate) fn scan(&self, batch: &Batch) -> ScanOutput {
        let live = self.live.load_full();
        scan_batch(
            &live,
            &self.cfg.field_map,
            self.cfg.max_line_bytes,
            batch,
            &self.stream_eval,
        )
    }

    /// Counts what a scan found and writes its sightings and alerts, with the
    /// source's checkpoint, in one store transaction.
    pub(crate) async fn record(
        &self,
        scanned: ScanOutput,
        bytes: u64,
        source: &SourceRef,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<BatchReport> {
        let s = &self.stats;
        s.events.fetch_add(scanned.events, Ordering::Relaxed);
        s.bytes.fetch_add(bytes, Ordering::Relaxed);
        s.bad.fetch_add(scanned.bad, Ordering::Relaxed);
        s.too_long.fetch_add(scanned.too_long, Ordering::Relaxed);
        s.invalid_utf8
            .fetch_add(scanned.invalid_utf8, Ordering::Relaxed);
        s.no_time.fetch_add(scanned.no_time, Ordering::Relaxed);
        s.hits
            .fetch_add(scanned.found.len() as u64, Ordering::Relaxed);
        for sample in scanned.samples {
            tracing::debug!(event = %sample.event_id, reason = %sample.reason, "undecodable event");
            self.sample_bad(sample);
        }
        s.pattern_matches
            .fetch_add(scanned.pattern_matches, Ordering::Relaxed);
        let mut report = BatchReport {
            pattern_matches: scanned.pattern_matches,
            events: scanned.events,
            bad: scanned.bad,
            hits: scanned.found.len() as u64,
            ..Default::default()
        };
        // The source's latest event time, for pruning.
        if let Some(t) = scanned.max_time {
            let mut marks = super::lock(&self.watermarks);
            let w = marks.get(&source.name).copied().unwrap_or(i64::MIN);
            marks.insert(source.name.clone(), w.max(t));
        }
        if scanned.found.is_empty() {
            if let Some((key, value)) = checkpoint {
                self.store.set_state(key, value).await?;
            }
            return Ok(report);
        }

        let now = store::now_micros();
        let window = i64::from(self.cfg.window_secs);
        // Late means: the window's dedup keys may have been pruned, so counting the
        // hit could count an event twice. This process's own watermark is not the
        // test: an event redelivered after another worker died is older than what
        // this worker has seen, and must still be counted (its key is still there).
        let closed_before = pruned_before(self.store.as_ref()).await?;
        let mut rows = Vec::with_capacity(scanned.found.len());
        let mut scos: HashMap<String, stix::Object> = HashMap::new();
        let mut od_ids: HashMap<String, String> = HashMap::new();
        let mut observed: HashMap<String, Vec<String>> = HashMap::new();
        for f in &scanned.found {
            let t = f.time_micros.unwrap_or(now);
            let start = t.div_euclid(1_000_000).div_euclid(window) * window;
            if start < closed_before {
                report.late += 1;
                continue;
            }
            let (observable_type, value) = observable(f.kind, &f.normalized);
            let hit = Hit {
                event_id: f.event_id.clone(),
                indicator_id: f.indicator_id.clone(),
                observable_type,
                value,
                observed_at: stix::Timestamp::from_unix_micros(t),
                source: source.clone(),
                asset: None,
            };
            let sco_id = match sco_for(&hit) {
                Ok(o) => {
                    let id = o.id().to_owned();
                    scos.entry(id.clone()).or_insert(o);
                    Some(id)
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), "hit without an SCO: {e}");
                    None
                }
            };
            let (sighting_id, od_id) = window_ids(&self.identity_id, &f.indicator_id, start);
            let seen = observed.entry(sighting_id.clone()).or_default();
            let label = format!("{}:{}", hit.observable_type, hit.value);
            if seen.len() < 10 && !seen.contains(&label) {
                seen.push(label);
            }
            od_ids.insert(sighting_id.clone(), od_id);
            rows.push(HitRow {
                sighting_id,
                indicator_id: f.indicator_id.clone(),
                window_start: start,
                event_key: f.event_id.clone(),
                observed_micros: t,
                sco_id,
            });
        }
        s.late.fetch_add(report.late, Ordering::Relaxed);

        // One transaction: the counts, the windows' STIX objects, their alerts and the
        // source's checkpoint commit together (or not at all: a redelivery then counts
        // the same hits again, exactly once).
        let mut tx = self.store.begin().await?;
        let outcome = tx.record_hits(&rows, now, self.cfg.max_scos).await?;
        report.counted = outcome.counted;
        report.duplicates = outcome.duplicates;

        // A window touched only by events counted before (a re-read, a redelivery)
        // did not change, and has nothing to write: whoever counted those events wrote
        // the window's objects and alert in the same transaction as the counts.
        // (Writing it again would also bring back a sighting or an alert deleted since.)
        let changed: Vec<&store::WindowRow> =
            outcome.windows.iter().filter(|w| w.changed).collect();
        let mut objects = Vec::new();
        for w in &changed {
            for id in &w.new_sco_ids {
                if let Some(o) = scos.get(id) {
                    objects.push(NewObject::from_object(o));
                }
            }
            let od_id = match od_ids.get(&w.sighting_id) {
                Some(id) => id.clone(),
                None => window_ids(&self.identity_id, &w.indicator_id, w.window_start).1,
            };
            let (od, sighting) = window_objects(&WindowVersion {
                identity_id: &self.identity_id,
                indicator_id: &w.indicator_id,
                sighting_id: &w.sighting_id,
                observed_data_id: &od_id,
                count: u64::try_from(w.count).unwrap_or(0),
                first_seen: stix::Timestamp::from_unix_micros(w.first_seen),
                last_seen: stix::Timestamp::from_unix_micros(w.last_seen),
                sco_ids: &w.sco_ids,
                created: stix::Timestamp::from_unix_micros(w.created),
                modified: stix::Timestamp::from_unix_micros(w.modified),
            });
            objects.push(NewObject::from_object(&od));
            objects.push(NewObject::from_object(&sighting));
        }
        let outcomes = tx
            .insert(&objects, std::slice::from_ref(&self.collection))
            .await?;
        for (o, out) in objects.iter().zip(&outcomes) {
            if let InsertOutcome::Conflict { .. } = out {
                tracing::warn!(id = %o.id, version = %o.version_text, "sighting version conflict");
            }
        }
        let sightings = changed.len() as u64;

        // Alerts: a window's first version raises one; a later version updates its
        // count. One read and one write of the alert records per batch.
        let alert_ids: Vec<String> = changed
            .iter()
            .map(|w| crate::alert::alert_id(&w.sighting_id))
            .collect();
        let wanted: Vec<&str> = changed
            .iter()
            .zip(&alert_ids)
            .filter(|(w, _)| !w.first_version)
            .map(|(_, id)| id.as_str())
            .collect();
        let mut existing: HashMap<String, store::RecordRow> = HashMap::new();
        if !wanted.is_empty() {
            for row in tx.get_records(super::alerts::ALERT_KIND, &wanted).await? {
                existing.insert(row.id.clone(), row);
            }
        }
        let mut raise = Vec::new();
        let mut updates = Vec::new();
        for (w, id) in changed.iter().zip(&alert_ids) {
            let seen = observed.get(&w.sighting_id).cloned().unwrap_or_default();
            match existing.remove(id) {
                Some(row) => updates.push(AlertRecord::follow_window(&row, w, seen)?),
                None => raise.push((*w, seen)),
            }
        }
        if !updates.is_empty() {
            tx.put_records(&updates, None).await?;
        }
        let mut last_seq = None;
        if !raise.is_empty() {
            // What the new alerts say comes from their indicators (one read for the
            // batch, on a reader: the transaction does not write indicators).
            let mut ids: Vec<String> = raise.iter().map(|(w, _)| w.indicator_id.clone()).collect();
            ids.sort_unstable();
            ids.dedup();
            let page = self
                .store
                .query(&Query {
                    ids,
                    types: vec!["indicator".into()],
                    with_body: true,
                    ..Default::default()
                })
                .await?;
            let mut indicators: HashMap<String, stix::Object> = HashMap::new();
            for o in &page.objects {
                let obj =
                    stix::Object::from_json_str(&o.json).map_err(|e| EngineError::Corrupt {
                        kind: "indicator",
                        id: o.id.clone(),
                        reason: e.to_string(),
                    })?;
                indicators.insert(o.id.clone(), obj);
            }
            let weights = load_weights(self.store.as_ref()).await?;
            let mut rows = Vec::with_capacity(raise.len());
            for (w, seen) in raise {
                let rec = AlertRecord::for_window(
                    self,
                    w,
                    seen,
                    &source.name,
                    indicators.get(&w.indicator_id),
                    &weights,
                )?;
                rows.push(rec.to_row()?);
            }
            report.alerts = rows.len() as u64;
            last_seq = tx
                .put_records(&rows, Some(super::alerts::ALERT_KIND))
                .await?;
        }
        if let Some((key, value)) = checkpoint {
            tx.set_state(key, value).await?;
        }
        tx.commit().await?;
        if let Some(seq) = last_seq {
            self.notify_feed(seq);
        }
        report.sightings = sightings;
        s.counted.fetch_add(outcome.counted, Ordering::Relaxed);
        s.duplicates
            .fetch_add(outcome.duplicates, Ordering::Relaxed);
        s.sightings_written.fetch_add(sightings, Ordering::Relaxed);
        s.alerts.fetch_add(report.alerts, Ordering::Relaxed);
        Ok(report)
    }

    /// Forgets dedup keys of windows that can no longer receive hits (older than the
    /// slowest source's watermark minus window and lateness).
    pub async fn prune(&self) -> Result<u64> {
        let w = {
            let marks = super::lock(&self.watermarks);
            // The slowest source decides.
            marks.values().copied().min()
        };
        let Some(w) = w else {
            return Ok(0);
        };
        let window = i64::from(self.cfg.window_secs);
        let before = w.div_euclid(1_000_000) - window - i64::from(self.cfg.allowed_lateness_secs);
        let before = before.div_euclid(window) * window;
        // Record the horizon first: from now on hits before it are late everywhere.
        if before > pruned_before(self.store.as_ref()).await? {
            self.store
                .set_state(PRUNED_BEFORE_KEY, &before.to_string())
                .await?;
        }
        Ok(self.store.prune_hit_keys(before).await?)
    }
}

/// Store state key of the window start before which hit keys may have been pruned.
pub const PRUNED_BEFORE_KEY: &str = "warning.hit_keys.pruned_before";

/// The window start (Unix seconds) before which dedup keys may have been pruned
/// ([`Engine::prune`]); `i64::MIN` when nothing was pruned.
async fn pruned_before(store: &dyn store::Store) -> Result<i64> {
    Ok(store
        .get_state(PRUNED_BEFORE_KEY)
        .await?
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(i64::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::StreamConfig;

    /// The pre-check made as the scanner delivers an event's values decides as the
    /// evaluator's own check over the event's observables does, event by event, with
    /// exact strings, `LIKE` runs and patterns without literals.
    #[test]
    fn the_sink_pre_check_agrees_with_the_evaluator() {
        let sets: [&[(&str, &str)]; 3] = [
            &[
                (
                    "indicator--a",
                    "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']",
                ),
                ("indicator--b", "[domain-name:value LIKE '%.relay.example']"),
            ],
            &[("indicator--c", "[url:value = 'http://a.example/x']")],
            &[("indicator--d", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']")],
        ];
        let events = [
            r#"{"src_ip":"10.0.0.1","dest_ip":"198.51.100.7"}"#,
            r#"{"src_ip":"10.0.0.1","dns":{"rrname":"A.Example."}}"#,
            r#"{"dns":{"rrname":"c2.relay.example"}}"#,
            r#"{"dns":{"rrname":"relay.example.org"},"src_ip":"10.0.0.2"}"#,
            r#"{"http":{"hostname":"a.example","url":"/x"}}"#,
            r#"{"tls":{"sni":"b.example"}}"#,
            r#"{"id.orig_h":"198.51.100.9","query":"x.example"}"#,
            r#"{"flow_id":1}"#,
        ];
        let index = matcher::Index::default();
        let map = Arc::new(FieldMap::auto());
        let (mut agreed, mut involved) = (0, 0);
        for patterns in sets {
            let mut ev = StreamEvaluator::new(StreamConfig::default()).unwrap();
            for (id, p) in patterns {
                ev.add_pattern(id, p).unwrap();
            }
            let pre = ev.prefilter();
            let mut scanner = Scanner::new(map.clone());
            // One sink for all the events, reset before each as the engine does.
            let mut sink = EventSink::new(Some(&pre));
            for e in events {
                sink.start_event();
                let summary = scanner.scan(&index, e.as_bytes(), &mut sink).unwrap();
                let want = pre.may_involve(
                    summary.kinds,
                    scanner.observed().map(|o| (o.kind.bit(), o.normalized)),
                );
                assert_eq!(sink.may_involve(summary.kinds), want, "{e}");
                agreed += 1;
                involved += usize::from(want);
            }
        }
        assert_eq!(agreed, 24);
        assert!((6..agreed).contains(&involved), "{involved}");
    }
}
