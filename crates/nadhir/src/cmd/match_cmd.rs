//! `nadhir match`: build the compiled indicator index from a bundle and match raw
//! JSON-lines telemetry (Suricata EVE, Zeek JSON, or any JSON with a mapping file).

use super::input::{read_items, Item};
use super::GlobalArgs;
use anyhow::Context;
use matcher::compile::{compile_indicator, Compiled};
use matcher::fields::FieldMap;
use matcher::lines::{BoundedLines, Line};
use matcher::scan::{Hit, Scanner};
use matcher::IndexBuilder;
use serde::Serialize;
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

#[derive(Debug, clap::Args)]
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
    bad: u64,
    too_long: u64,
    invalid_utf8: u64,
}

fn report_bad(counts: &Counts, msg: std::fmt::Arguments<'_>) {
    if counts.bad <= MAX_REPORTED {
        eprintln!("{msg}");
    } else if counts.bad == MAX_REPORTED + 1 {
        eprintln!("(more undecodable lines are counted but not shown)");
    }
}

pub fn run(_g: &GlobalArgs, args: MatchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut map = match args.format {
        EventFormat::Auto => FieldMap::auto(),
        EventFormat::Eve => FieldMap::suricata_eve(),
        EventFormat::Zeek => FieldMap::zeek(),
        EventFormat::None => FieldMap::new(),
    };
    if let Some(path) = &args.mapping {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let value: serde_json::Value =
            serde_json::from_reader(BufReader::new(file.take(MAX_OBJECT_BYTES)))
                .with_context(|| format!("{}: not JSON", path.display()))?;
        map.add_mapping_json(&value)
            .with_context(|| format!("{}", path.display()))?;
    }
    if map.is_empty() {
        anyhow::bail!("no fields to extract: use --format eve|zeek|auto or --mapping FILE");
    }

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
    if general > 0 {
        eprintln!(
            "note: {general} patterns are not IOC-shaped (AND, FOLLOWEDBY, qualifiers, ...); `nadhir match` reports only IOC hits, the early-warning pipeline evaluates those patterns"
        );
    }

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
                    let mut sink = |h: &Hit<'_>| {
                        for id in h.indicator_ids() {
                            counts.hits += 1;
                            let line = HitLine {
                                file: &name,
                                line: no,
                                indicator: id,
                                value: h.value,
                                kind: h.kind.name(),
                                field: h.field,
                                via: h.via.name(),
                            };
                            let res = serde_json::to_writer(&mut out, &line)
                                .map_err(std::io::Error::from)
                                .and_then(|()| out.write_all(b"\n"));
                            if let Err(e) = res {
                                write_err.get_or_insert(e);
                            }
                        }
                    };
                    match scanner.scan(&index, bytes, &mut sink) {
                        Ok(summary) => counts.invalid_utf8 += u64::from(summary.invalid_utf8),
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
        "summary: {} events, {} hits, {} undecodable lines ({} over the length limit), {} values with invalid UTF-8, {:.3} s, {:.0} events/s",
        counts.events,
        counts.hits,
        counts.bad,
        counts.too_long,
        counts.invalid_utf8,
        elapsed,
        counts.events as f64 / elapsed.max(1e-9)
    );
    Ok(if failed_files > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
