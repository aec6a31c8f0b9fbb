//! `nadhir match`: build the compiled indicator index from a bundle and match raw
//! JSON-lines telemetry (Suricata EVE, Zeek JSON, or any JSON with a mapping file).
//!
//! IOC-shaped patterns hit through the index. The other patterns are evaluated per event
//! with the pattern evaluator: the event's looked-up values become SCOs of one
//! observed-data object (first = last observed = the event's time), candidates come from
//! `Index::general_candidates`, and each is matched with `pattern::CompiledPattern`.
//! Qualifiers and `FOLLOWEDBY` relate observations across events; over a single event they
//! are evaluated as written (so `[a] FOLLOWEDBY [b]` never matches one event). The
//! early-warning pipeline evaluates them over a window of events.

use super::input::{read_items, Item};
use super::GlobalArgs;
use anyhow::Context;
use matcher::compile::{compile_indicator, Compiled};
use matcher::fields::FieldMap;
use matcher::lines::{BoundedLines, Line};
use matcher::scan::{Hit, Observed, Scanner, Sink};
use matcher::{GeneralPattern, IndexBuilder, KindMask, ObservableKind};
use pattern::{
    CompOp, ComparisonExpr, CompiledPattern, EvalOptions, ObservationExpr, Observations, PathStep,
    Pattern,
};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Largest indicator bundle object and mapping file read.
const MAX_OBJECT_BYTES: u64 = 64 << 20;
/// Bad lines reported one by one before only counting.
const MAX_REPORTED: u64 = 100;

/// Field names of the built-in maps.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EventFormat {
    /// Suricata EVE and Zeek field names together (their keys do not collide).
    Auto,
    /// Suricata EVE JSON.
    Eve,
    /// Zeek JSON logs (conn, dns, http, ssl, files, x509, smtp).
    Zeek,
    /// No built-in names: only the --mapping file.
    None,
}

/// Matches JSON-lines telemetry against the indicators of a bundle. IOC-shaped patterns
/// (addresses, CIDRs, domains, URLs, hashes, emails) go through the compiled index; every
/// other STIX pattern is evaluated per event over the event's extracted values, as one
/// observed-data object timed at the event's time (single-event semantics: WITHIN,
/// REPEATS, FOLLOWEDBY and START/STOP across events are the early-warning pipeline's
/// job; here they are evaluated over the one event). Hits of those patterns carry
/// "via": "pattern".
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Patterns that are not IOC-shaped (AND across objects, qualifiers, \
FOLLOWEDBY, ...) are evaluated per event: the event's extracted values become the SCOs of one \
observed-data object timed at the event's time (EVE `timestamp`, Zeek `ts`; the Unix epoch \
when absent). Single-event semantics: WITHIN, REPEATS, FOLLOWEDBY and START/STOP are \
evaluated over that one event; relating observations across events is the early-warning \
pipeline's job. Their hits carry \"via\": \"pattern\"."
)]
pub struct MatchArgs {
    /// STIX bundle (or JSON array / JSON lines) holding the indicators; only
    /// pattern_type "stix" is compiled, others are reported and skipped.
    #[arg(long)]
    pub indicators: PathBuf,
    /// JSON-lines event files to match.
    #[arg(required = true)]
    pub events: Vec<PathBuf>,
    /// Extra field mapping: a JSON object from field path to observable type, e.g.
    /// {"client.ip": "ip", "query.name": "domain-name", "file.sha256": "hash:SHA-256"}.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Built-in field names to use.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: EventFormat,
    /// Longest event line read; longer lines are skipped and counted.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line_bytes: usize,
}

#[derive(Serialize)]
struct HitLine<'a> {
    file: &'a str,
    line: u64,
    indicator: &'a str,
    value: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    field: &'a str,
    via: &'static str,
}

#[derive(Default)]
struct Counts {
    events: u64,
    hits: u64,
    pattern_hits: u64,
    eval_errors: u64,
    bad: u64,
    too_long: u64,
    invalid_utf8: u64,
}

/// A pattern that is not IOC-shaped, compiled for per-event evaluation.
struct General {
    id: String,
    kinds: KindMask,
    compiled: CompiledPattern,
    /// One single-comparison pattern per non-negated test of the pattern, to name the
    /// value that made it match.
    probes: Vec<(CompiledPattern, ObjectKey)>,
}

/// What a probe's path reads in an SCO built here: `value`, or a hash of a file.
#[derive(Clone)]
enum ObjectKey {
    Value,
    Hash(String),
}

fn collect_tests<'p>(e: &'p ObservationExpr, out: &mut Vec<&'p pattern::Comparison>) {
    fn cmp<'p>(c: &'p ComparisonExpr, out: &mut Vec<&'p pattern::Comparison>) {
        match c {
            ComparisonExpr::And(v) | ComparisonExpr::Or(v) => v.iter().for_each(|c| cmp(c, out)),
            ComparisonExpr::Test(t) if !t.negated && t.op != CompOp::Ne => out.push(t),
            ComparisonExpr::Test(_) | ComparisonExpr::Exists(_) => {}
        }
    }
    match e {
        ObservationExpr::Comparison(c) => cmp(c, out),
        ObservationExpr::And(v) | ObservationExpr::Or(v) | ObservationExpr::FollowedBy(v) => {
            v.iter().for_each(|e| collect_tests(e, out))
        }
        ObservationExpr::Qualified { expr, .. } => collect_tests(expr, out),
    }
}

fn compile_general(g: &GeneralPattern, id: &str) -> Result<General, pattern::EvalError> {
    let compiled = CompiledPattern::new(&g.ast, EvalOptions::default())?;
    let mut tests = Vec::new();
    collect_tests(&g.ast.root, &mut tests);
    let mut probes = Vec::new();
    for t in tests {
        let key = match (t.path.object_type.as_str(), t.path.steps.as_slice()) {
            ("file", [PathStep::Key(h), PathStep::Key(alg)]) if h == "hashes" => {
                ObjectKey::Hash(alg.clone())
            }
            (_, [PathStep::Key(v)]) if v == "value" => ObjectKey::Value,
            _ => continue,
        };
        let single = Pattern {
            root: ObservationExpr::Comparison(ComparisonExpr::Test(t.clone())),
        };
        if let Ok(c) = CompiledPattern::new(&single, EvalOptions::default()) {
            probes.push((c, key));
        }
    }
    Ok(General {
        id: id.to_owned(),
        kinds: g.kinds,
        compiled,
        probes,
    })
}

/// One looked-up value of the current event.
struct Seen {
    kind: ObservableKind,
    value: (usize, usize),
    normalized: (usize, usize),
    field: (usize, usize),
}

/// The current event's values, in reused buffers.
#[derive(Default)]
struct EventValues {
    seen: Vec<Seen>,
    text: String,
}

impl EventValues {
    fn clear(&mut self) {
        self.seen.clear();
        self.text.clear();
    }
    fn push(&mut self, s: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }
    fn get(&self, r: (usize, usize)) -> &str {
        self.text.get(r.0..r.1).unwrap_or("")
    }

    /// The event as one observed-data object with its values as embedded SCOs, and for
    /// each SCO the index of the value it came from. The hashes of an event describe one
    /// file (a second value of the same algorithm starts another file).
    fn observed_data(&self, time_micros: i64) -> (Value, Vec<usize>) {
        let mut objects = Map::new();
        let mut origin = Vec::new();
        let mut files: Vec<(String, Map<String, Value>)> = Vec::new();
        let mut seen_plain: Vec<(&'static str, &str)> = Vec::new();
        for (i, s) in self.seen.iter().enumerate() {
            let norm = self.get(s.normalized);
            match s.kind {
                ObservableKind::FileHash(alg) => {
                    let alg = alg.stix_name();
                    let slot = files.iter_mut().find(|(_, h)| !h.contains_key(alg));
                    match slot {
                        Some((_, h)) => {
                            h.insert(alg.to_owned(), Value::from(norm));
                        }
                        None => {
                            let key = objects.len().to_string();
                            objects.insert(key.clone(), Value::Null);
                            origin.push(i);
                            let mut h = Map::new();
                            h.insert(alg.to_owned(), Value::from(norm));
                            files.push((key, h));
                        }
                    }
                }
                kind => {
                    let t = kind.sco_type();
                    if seen_plain.contains(&(t, norm)) {
                        continue;
                    }
                    seen_plain.push((t, norm));
                    objects.insert(objects.len().to_string(), json!({"type": t, "value": norm}));
                    origin.push(i);
                }
            }
        }
        for (key, hashes) in files {
            objects.insert(key, json!({"type": "file", "hashes": hashes}));
        }
        let t = stix::Timestamp::from_unix_micros(time_micros).to_string();
        let od = json!({
            "type": "observed-data",
            "id": "observed-data--00000000-0000-4000-8000-000000000000",
            "first_observed": t,
            "last_observed": t,
            "number_observed": 1,
            "objects": objects,
        });
        (od, origin)
    }
}

/// Writes IOC hits as they come and keeps the event's values for general patterns.
struct LineSink<'a, W: Write> {
    name: &'a str,
    no: u64,
    out: &'a mut W,
    counts: &'a mut Counts,
    write_err: &'a mut Option<std::io::Error>,
    values: Option<&'a mut EventValues>,
}

impl<W: Write> LineSink<'_, W> {
    fn write(&mut self, line: &HitLine<'_>) {
        let res = serde_json::to_writer(&mut *self.out, line)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = res {
            self.write_err.get_or_insert(e);
        }
    }
}

impl<W: Write> Sink for LineSink<'_, W> {
    fn hit(&mut self, h: &Hit<'_>) {
        for id in h.indicator_ids() {
            self.counts.hits += 1;
            self.write(&HitLine {
                file: self.name,
                line: self.no,
                indicator: id,
                value: h.value,
                kind: h.kind.name(),
                field: h.field,
                via: h.via.name(),
            });
        }
    }

    fn observed(&mut self, o: &Observed<'_>) {
        if let Some(v) = self.values.as_deref_mut() {
            let value = v.push(o.value);
            let normalized = v.push(o.normalized);
            let field = v.push(o.field);
            v.seen.push(Seen {
                kind: o.kind,
                value,
                normalized,
                field,
            });
        }
    }
}

fn report_bad(counts: &Counts, msg: std::fmt::Arguments<'_>) {
    if counts.bad <= MAX_REPORTED {
        eprintln!("{msg}");
    } else if counts.bad == MAX_REPORTED + 1 {
        eprintln!("(more undecodable lines are counted but not shown)");
    }
}

/// The field map for `format` plus an optional user mapping file (read up to
/// `max_bytes`); shared by `nadhir match`, `watch` and `serve`.
pub fn field_map(
    format: EventFormat,
    mapping: Option<&std::path::Path>,
    max_bytes: u64,
) -> anyhow::Result<FieldMap> {
    let mut map = match format {
        EventFormat::Auto => FieldMap::auto(),
        EventFormat::Eve => FieldMap::suricata_eve(),
        EventFormat::Zeek => FieldMap::zeek(),
        EventFormat::None => FieldMap::new(),
    };
    if let Some(path) = mapping {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let value: serde_json::Value =
            serde_json::from_reader(BufReader::new(file.take(max_bytes))).with_context(|| {
                format!("{}: not JSON (or over {max_bytes} bytes)", path.display())
            })?;
        map.add_mapping_json(&value)
            .with_context(|| format!("{}", path.display()))?;
    }
    if map.is_empty() {
        anyhow::bail!("no fields to extract: use --format eve|zeek|auto or --mapping FILE");
    }
    Ok(map)
}

pub fn run(_g: &GlobalArgs, args: MatchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let map = field_map(args.format, args.mapping.as_deref(), MAX_OBJECT_BYTES)?;

    // Build the index.
    let ind_name = args.indicators.display().to_string();
    let file = File::open(&args.indicators).with_context(|| format!("cannot open {ind_name}"))?;
    let mut builder = IndexBuilder::new();
    let (mut iocs, mut general, mut skipped, mut others) = (0usize, 0usize, 0u64, 0u64);
    read_items(file, MAX_OBJECT_BYTES, &mut |item| {
        match item {
            Item::Object(loc, obj) => {
                if obj.get("type").and_then(|t| t.as_str()) != Some("indicator") {
                    others += 1;
                    return Ok(());
                }
                let at = format!("{ind_name}: {loc}");
                match compile_indicator(&mut builder, &obj, &at) {
                    Ok(Compiled::Iocs(n)) => iocs += n,
                    Ok(Compiled::General(_)) => general += 1,
                    Err(e) => {
                        skipped += 1;
                        eprintln!("skipped [{}] {e}", e.code());
                    }
                }
            }
            Item::Bad(loc, why) => {
                skipped += 1;
                eprintln!("skipped {ind_name}: {loc}: {why}");
            }
        }
        Ok(())
    })
    .with_context(|| format!("cannot read indicators from {ind_name}"))?;
    let index = builder.build().context("cannot build the index")?;
    let st = index.stats();
    eprintln!(
        "index: {} indicators ({iocs} IOCs, {general} not IOC-shaped), {skipped} skipped, {others} other objects; built in {:.2} s",
        st.indicators,
        started.elapsed().as_secs_f64()
    );
    // Patterns that are not IOC-shaped: compiled once for per-event evaluation.
    let mut generals: BTreeMap<u32, General> = BTreeMap::new();
    for g in index.general() {
        let id = index.indicator_id(g.indicator).unwrap_or_default();
        match compile_general(g, id) {
            Ok(c) => {
                generals.insert(g.indicator, c);
            }
            Err(e) => eprintln!(
                "skipped [{}] {id}: pattern cannot be evaluated: {e}",
                e.code()
            ),
        }
    }
    if general > 0 {
        eprintln!(
            "note: {general} patterns are not IOC-shaped (AND, FOLLOWEDBY, qualifiers, ...); they are evaluated per event (WITHIN, REPEATS, FOLLOWEDBY and START/STOP over the one event; across events is the early-warning pipeline's job)"
        );
    }
    let mut event_values = EventValues::default();

    // Scan.
    let map = Arc::new(map);
    let mut scanner = Scanner::new(map);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut counts = Counts::default();
    let mut failed_files = 0u32;
    let scan_started = Instant::now();
    let total_bytes: u64 = args
        .events
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = super::progress_bar(Some(total_bytes), "matching");
    let mut write_err: Option<std::io::Error> = None;
    for path in &args.events {
        let name = path.display().to_string();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{name}: cannot open: {e}");
                failed_files += 1;
                continue;
            }
        };
        let mut lines =
            BoundedLines::new(BufReader::with_capacity(1 << 20, file), args.max_line_bytes);
        let mut since_tick = 0u64;
        loop {
            let line = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("{name}: read error: {e}");
                    failed_files += 1;
                    break;
                }
            };
            match line {
                Line::TooLong { no, len } => {
                    counts.events += 1;
                    counts.bad += 1;
                    counts.too_long += 1;
                    since_tick += len + 1;
                    report_bad(
                        &counts,
                        format_args!(
                            "{name}:{no}: line of {len} bytes is over --max-line-bytes {}; skipped",
                            args.max_line_bytes
                        ),
                    );
                }
                Line::Text { no, bytes } => {
                    since_tick += bytes.len() as u64 + 1;
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    counts.events += 1;
                    event_values.clear();
                    let mut sink = LineSink {
                        name: &name,
                        no,
                        out: &mut out,
                        counts: &mut counts,
                        write_err: &mut write_err,
                        values: (!generals.is_empty()).then_some(&mut event_values),
                    };
                    match scanner.scan(&index, bytes, &mut sink) {
                        Ok(summary) => {
                            sink.counts.invalid_utf8 += u64::from(summary.invalid_utf8);
                            if let Some(values) = sink.values.take() {
                                let candidates = index
                                    .general_candidates(summary.kinds)
                                    .filter_map(|g| generals.get(&g.indicator));
                                // An event without a time is timed at the Unix epoch.
                                evaluate_general(
                                    &mut sink,
                                    candidates,
                                    values,
                                    summary.time_micros.unwrap_or(0),
                                );
                            }
                        }
                        Err(e) => {
                            counts.bad += 1;
                            report_bad(
                                &counts,
                                format_args!(
                                    "{name}:{no}:{}: undecodable event: {}",
                                    e.offset + 1,
                                    e.reason
                                ),
                            );
                        }
                    }
                }
            }
            if since_tick > 1 << 22 {
                bar.inc(since_tick);
                since_tick = 0;
            }
            if let Some(e) = write_err.take() {
                return Err(e).context("cannot write hits to stdout");
            }
        }
        bar.inc(since_tick);
    }
    bar.finish_and_clear();
    out.flush().context("cannot write hits to stdout")?;
    let elapsed = scan_started.elapsed().as_secs_f64();
    eprintln!(
        "summary: {} events, {} hits, {} undecodable lines ({} over the length limit), {} values with invalid UTF-8, {:.3} s, {:.0} events/s; general patterns: {} hits, {} evaluation errors",
        counts.events,
        counts.hits,
        counts.bad,
        counts.too_long,
        counts.invalid_utf8,
        elapsed,
        counts.events as f64 / elapsed.max(1e-9),
        counts.pattern_hits,
        counts.eval_errors,
    );
    Ok(if failed_files > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Evaluates the candidate general patterns over one event's values and writes a hit
/// line for each that matches.
fn evaluate_general<'g, W: Write>(
    sink: &mut LineSink<'_, W>,
    candidates: impl Iterator<Item = &'g General>,
    values: &EventValues,
    time_micros: i64,
) {
    let mut candidates = candidates.peekable();
    if candidates.peek().is_none() || values.seen.is_empty() {
        return;
    }
    let (od, origin) = values.observed_data(time_micros);
    let data = [od];
    let obs = match Observations::new(&data) {
        Ok(o) => o,
        Err(e) => {
            sink.counts.eval_errors += 1;
            eprintln!(
                "{}:{}: event values cannot be evaluated: {e}",
                sink.name, sink.no
            );
            return;
        }
    };
    // Single-SCO observations, built on the first match, to name the matched value.
    let mut singles: Option<Vec<Value>> = None;
    for g in candidates {
        match g.compiled.matches(&obs) {
            Ok(r) if r.matched => {}
            Ok(_) => continue,
            Err(e) => {
                sink.counts.eval_errors += 1;
                eprintln!("{}:{}: {}: [{}] {e}", sink.name, sink.no, g.id, e.code());
                continue;
            }
        }
        let singles = singles.get_or_insert_with(|| single_objects(&data[0]));
        let (value, seen) = matched_value(g, singles, &origin, values);
        sink.counts.hits += 1;
        sink.counts.pattern_hits += 1;
        let (kind, field) = match seen {
            Some(s) => (s.kind.sco_type(), values.get(s.field)),
            None => ("", ""),
        };
        let line = HitLine {
            file: sink.name,
            line: sink.no,
            indicator: &g.id,
            value: &value,
            kind,
            field,
            via: "pattern",
        };
        sink.write(&line);
    }
}

/// One observed-data per SCO of `od` (same times), in the SCOs' order.
fn single_objects(od: &Value) -> Vec<Value> {
    let Some(Value::Object(objects)) = od.get("objects") else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(objects.len());
    for i in 0..objects.len() {
        let mut one = od.clone();
        if let (Some(o), Some(slot)) = (objects.get(&i.to_string()), one.get_mut("objects")) {
            *slot = json!({ "0": o });
        }
        out.push(one);
    }
    out
}

/// The value that made `g` match: the first SCO (in event order) that satisfies one of
/// the pattern's own comparisons, read at that comparison's path; else the first value
/// whose type the pattern names (patterns of only negations or `EXISTS`).
fn matched_value<'v>(
    g: &General,
    singles: &[Value],
    origin: &[usize],
    values: &'v EventValues,
) -> (String, Option<&'v Seen>) {
    for (k, one) in singles.iter().enumerate() {
        let data = std::slice::from_ref(one);
        let Ok(obs) = Observations::new(data) else {
            continue;
        };
        for (probe, key) in &g.probes {
            if !matches!(probe.matches(&obs), Ok(r) if r.matched) {
                continue;
            }
            let sco = one.get("objects").and_then(|o| o.get("0"));
            let text = match key {
                ObjectKey::Value => sco.and_then(|o| o.get("value")),
                ObjectKey::Hash(alg) => sco.and_then(|o| o.get("hashes")).and_then(|h| h.get(alg)),
            };
            if let Some(text) = text.and_then(Value::as_str) {
                let seen = match key {
                    ObjectKey::Value => origin.get(k).and_then(|&i| values.seen.get(i)),
                    ObjectKey::Hash(alg) => values.seen.iter().find(|s| {
                        matches!(s.kind, ObservableKind::FileHash(a) if a.stix_name() == alg)
                            && values.get(s.normalized) == text
                    }),
                };
                // The value as it appeared in the event.
                let shown = seen.map_or(text, |s| values.get(s.value)).to_owned();
                return (shown, seen);
            }
        }
    }
    let first = values
        .seen
        .iter()
        .find(|s| s.kind.bit().intersects(g.kinds))
        .or(values.seen.first());
    (
        first
            .map(|s| values.get(s.value).to_owned())
            .unwrap_or_default(),
        first,
    )
}
