//! `nadhir export`: write stored objects as one STIX 2.1 bundle, streamed.

use super::GlobalArgs;
use anyhow::Context;
use futures::StreamExt;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use store::{Query, VersionFilter};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  nadhir export -o all.json
  nadhir export --type indicator --type malware --collection osint
  nadhir export --added-after 2026-01-01T00:00:00Z --all-versions > recent.json")]
pub struct ExportArgs {
    /// Only objects of this type (repeatable; values are ORed).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only objects in this collection (alias or id).
    #[arg(long)]
    pub collection: Option<String>,
    /// Only objects added after this timestamp (RFC 3339, e.g. 2026-01-31T00:00:00Z).
    #[arg(long, value_parser = parse_timestamp)]
    pub added_after: Option<stix::Timestamp>,
    /// Export every stored version of each object, not only the newest.
    #[arg(long)]
    pub all_versions: bool,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

fn parse_timestamp(s: &str) -> Result<stix::Timestamp, String> {
    stix::Timestamp::parse(s).map_err(|e| e.to_string())
}

pub fn run(g: &GlobalArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = super::open_store(g).await?;
        let collection = match &args.collection {
            Some(name) => Some(
                store
                    .find_collection(name)
                    .await?
                    .with_context(|| format!("no collection with alias or id {name:?}"))?
                    .id,
            ),
            None => None,
        };
        let query = Query {
            collection,
            types: args.types.clone(),
            versions: if args.all_versions {
                VersionFilter::all()
            } else {
                VersionFilter::last()
            },
            added_after: args.added_after.map(|t| t.unix_micros()),
            with_body: true,
            ..Query::default()
        };
        let (mut out, tmp_path): (Box<dyn Write>, Option<(tempfile::NamedTempFile, PathBuf)>) =
            match &args.output {
                Some(path) => {
                    // Write next to the target and rename at the end: no half-written file.
                    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
                    let tmp =
                        tempfile::NamedTempFile::new_in(dir.unwrap_or(std::path::Path::new(".")))
                            .with_context(|| {
                            format!("cannot create a file next to {}", path.display())
                        })?;
                    let file = tmp.reopen()?;
                    (
                        Box::new(std::io::BufWriter::with_capacity(1 << 20, file)),
                        Some((tmp, path.clone())),
                    )
                }
                None => (
                    Box::new(std::io::BufWriter::with_capacity(
                        1 << 20,
                        std::io::stdout().lock(),
                    )),
                    None,
                ),
            };
        let bar = super::progress_bar(None, "exporting");
        let bundle_id = format!("bundle--{}", uuid::Uuid::new_v4());
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"{bundle_id}\",\"objects\":["
        )?;
        let mut stream = store.stream(query);
        let mut n = 0u64;
        while let Some(row) = stream.next().await {
            let row = row.context("reading from the store failed")?;
            if n > 0 {
                out.write_all(b",\n")?;
            } else {
                out.write_all(b"\n")?;
            }
            out.write_all(row.json.as_bytes())?;
            n += 1;
            if n.is_multiple_of(4096) {
                bar.set_position(n);
            }
        }
        out.write_all(b"\n]}\n")?;
        out.flush()?;
        drop(out);
        bar.finish_and_clear();
        if let Some((tmp, path)) = tmp_path {
            // The temporary file is created private (0600); an export is an ordinary file.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))
                    .with_context(|| format!("cannot set permissions on {}", path.display()))?;
            }
            tmp.persist(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        eprintln!("exported {n} objects");
        Ok(ExitCode::SUCCESS)
    })
}
