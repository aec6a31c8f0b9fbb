//! `nadhir validate`: check files against STIX 2.1 without storing anything.

use super::input::{self, Item};
use super::GlobalArgs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Every error of every object is reported, one per line:
  FILE: object #N (ID): /json/pointer: what is wrong [error-code]

Exit status: 0 all objects valid, 1 some object is invalid, 2 a file is unreadable or not JSON.")]
pub struct ValidateArgs {
    /// Files to validate: bundles, JSON arrays or JSON lines. `-` reads stdin.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the errors as JSON lines ({"file","index","line","id","pointer","code","message"}).
    #[arg(long)]
    pub json: bool,
    /// Largest accepted object (or JSON line), in bytes.
    #[arg(long, default_value_t = input::DEFAULT_MAX_OBJECT_BYTES)]
    pub max_object_bytes: u64,
}

pub fn run(_g: &GlobalArgs, args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut objects, mut invalid, mut unreadable) = (0u64, 0u64, 0u64);
    for path in &args.files {
        let name = path.display().to_string();
        let reader: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            match std::fs::File::open(path) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    eprintln!("{name}: cannot open: {e}");
                    unreadable += 1;
                    continue;
                }
            }
        };
        let json = args.json;
        let result = input::read_items(reader, args.max_object_bytes, &mut |item| {
            objects += 1;
            match item {
                Item::Bad(loc, msg) => {
                    invalid += 1;
                    if json {
                        let line = serde_json::json!({"file": name, "index": loc.index, "line": loc.line, "id": null, "pointer": "", "code": "unreadable-object", "message": msg});
                        writeln!(out, "{line}")?;
                    } else {
                        writeln!(out, "{name}: {loc}: {msg} [unreadable-object]")?;
                    }
                }
                Item::Object(loc, value) => {
                    let errors = pattern::validate_object(&value);
                    if !errors.is_empty() {
                        invalid += 1;
                    }
                    for e in errors {
                        if json {
                            let line = serde_json::json!({"file": name, "index": loc.index, "line": loc.line, "id": e.object_id, "pointer": e.pointer, "code": e.code, "message": e.message});
                            writeln!(out, "{line}")?;
                        } else {
                            writeln!(out, "{name}: {loc}: {}", super::import::describe(&e))?;
                        }
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            out.flush()?;
            eprintln!("{name}: {e}");
            unreadable += 1;
        }
    }
    out.flush()?;
    eprintln!(
        "{objects} objects checked: {} valid, {invalid} invalid{}",
        objects - invalid,
        if unreadable > 0 {
            format!(", {unreadable} files unreadable")
        } else {
            String::new()
        }
    );
    Ok(if unreadable > 0 {
        ExitCode::from(2)
    } else if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
