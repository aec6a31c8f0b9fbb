//! `nadhir pattern`: check STIX 2.1 patterns, and match them against observed data.
//! Only glue: the language lives in the `pattern` crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pattern::{CompiledPattern, EvalOptions, Observations};

use super::{input, GlobalArgs};

/// Longest pattern line accepted from a patterns file (bytes).
const MAX_PATTERN_LINE: u64 = 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct PatternArgs {
    #[command(subcommand)]
    command: PatternCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PatternCommand {
    /// Check one STIX 2.1 pattern: exit 0 if valid, 1 if not (the error is shown with a
    /// caret under the offending columns).
    Check {
        /// The pattern, e.g. "[ipv4-addr:value ISSUBSET '10.0.0.0/8']".
        pattern: String,
        /// On success, print the canonical form of the pattern.
        #[arg(long)]
        canonical: bool,
    },
    /// Match patterns (one per line) against observed data; prints one JSON line per
    /// pattern, in input order. Exit 0 if all went well, 1 if any pattern was invalid or
    /// could not be evaluated, 2 if an input could not be read.
    Match {
        /// File with one pattern per line (blank lines and lines starting with '#' skipped).
        #[arg(long)]
        patterns: PathBuf,
        /// File with observed data: bundles or objects, as a JSON array, one JSON document
        /// or JSON lines (observed-data with `object_refs` plus the referenced SCOs).
        #[arg(long)]
        observed: PathBuf,
        /// Evaluation work budget per pattern (binding-search steps).
        #[arg(long, default_value_t = EvalOptions::default().max_work)]
        max_work: u64,
    },
}

pub fn run(_g: &GlobalArgs, args: PatternArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PatternCommand::Check { pattern, canonical } => Ok(check(&pattern, canonical)),
        PatternCommand::Match {
            patterns,
            observed,
            max_work,
        } => match_files(&patterns, &observed, max_work),
    }
}

/// The pattern on one line (control characters shown as spaces) and a caret line under
/// the code-point span.
pub fn caret(pattern: &str, span: std::ops::Range<usize>) -> String {
    let shown: String = pattern
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let n = pattern.chars().count();
    let start = span.start.min(n);
    let len = span.end.saturating_sub(span.start).clamp(1, 200);
    format!("  {shown}\n  {}{}", " ".repeat(start), "^".repeat(len))
}

fn check(p: &str, canonical: bool) -> ExitCode {
    match pattern::parse(p) {
        Ok(ast) => {
            if canonical {
                println!("{ast}");
            } else {
                println!("valid");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("invalid pattern: {e}");
            eprintln!("{}", caret(p, e.span.clone()));
            ExitCode::from(1)
        }
    }
}

/// Reads one line of at most `MAX_PATTERN_LINE` bytes; `Ok(None)` at end of input,
/// `Ok(Some(Err(len)))` for an over-long line (skipped).
fn read_line<R: BufRead>(r: &mut R) -> std::io::Result<Option<Result<String, u64>>> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_PATTERN_LINE + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && n as u64 > MAX_PATTERN_LINE {
        // Skip the rest of the over-long line without buffering it.
        let mut total = n as u64;
        loop {
            let chunk = r.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            match chunk.iter().position(|b| *b == b'\n') {
                Some(pos) => {
                    r.consume(pos + 1);
                    total += pos as u64;
                    break;
                }
                None => {
                    let len = chunk.len();
                    total += len as u64;
                    r.consume(len);
                }
            }
        }
        return Ok(Some(Err(total)));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(Ok(String::from_utf8_lossy(&buf).into_owned())))
}

fn match_files(patterns: &PathBuf, observed: &PathBuf, max_work: u64) -> anyhow::Result<ExitCode> {
    let mut unreadable = false;
    let file = std::fs::File::open(observed)
        .with_context(|| format!("cannot open {}", observed.display()))?;
    let mut objects = Vec::new();
    let read = input::read_items(file, input::DEFAULT_MAX_OBJECT_BYTES, &mut |item| {
        match item {
            input::Item::Object(_, v) => objects.push(v),
            input::Item::Bad(loc, why) => {
                eprintln!("{}: {loc}: {why}", observed.display());
                unreadable = true;
            }
        }
        Ok(())
    });
    if let Err(e) = read {
        eprintln!("{}: {e}", observed.display());
        return Ok(ExitCode::from(2));
    }
    let data = match Observations::new(&objects) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}: {e}", observed.display());
            return Ok(ExitCode::from(2));
        }
    };
    let pfile = std::fs::File::open(patterns)
        .with_context(|| format!("cannot open {}", patterns.display()))?;
    let total = pfile.metadata().map(|m| m.len()).ok();
    let bar = super::progress_bar(total, "matching patterns");
    let mut reader = BufReader::new(bar.wrap_read(pfile));
    let opts = EvalOptions {
        max_work,
        ..EvalOptions::default()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut invalid = 0u64;
    let mut line_no = 0u64;
    loop {
        let line = match read_line(&mut reader) {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                eprintln!("{}: {e}", patterns.display());
                unreadable = true;
                break;
            }
        };
        line_no += 1;
        let text = match line {
            Ok(t) => t,
            Err(len) => {
                eprintln!(
                    "{}:{line_no}: pattern line of {len} bytes is longer than {MAX_PATTERN_LINE}",
                    patterns.display()
                );
                invalid += 1;
                continue;
            }
        };
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let result = pattern::parse(trimmed)
            .map_err(|e| {
                let c = caret(trimmed, e.span.clone());
                format!("{e}\n{c}")
            })
            .and_then(|p| {
                CompiledPattern::new(&p, opts)
                    .and_then(|c| c.matches(&data))
                    .map_err(|e| e.to_string())
            });
        let line = match result {
            Ok(r) => serde_json::json!({
                "pattern": trimmed,
                "matched": r.matched,
                "observed_data_refs": r.observed_data_refs,
            }),
            Err(msg) => {
                eprintln!("{}:{line_no}: {msg}", patterns.display());
                invalid += 1;
                serde_json::json!({
                    "pattern": trimmed,
                    "matched": false,
                    "observed_data_refs": [],
                    "error": msg.lines().next().unwrap_or_default(),
                })
            }
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(if unreadable {
        ExitCode::from(2)
    } else if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_points_at_span() {
        assert_eq!(caret("[a:b = ]", 7..8), "  [a:b = ]\n         ^");
    }

    #[test]
    fn over_long_lines_are_skipped() {
        let mut text = vec![b'x'; (MAX_PATTERN_LINE + 10) as usize];
        text.extend_from_slice(b"\n[a:b = 1]\n");
        let mut r = BufReader::new(&text[..]);
        assert!(matches!(read_line(&mut r), Ok(Some(Err(_)))));
        assert_eq!(
            read_line(&mut r).unwrap(),
            Some(Ok("[a:b = 1]".to_string()))
        );
        assert_eq!(read_line(&mut r).unwrap(), None);
    }
}
