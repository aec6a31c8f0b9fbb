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
    /// Export what this user (username) may read: their organisation's TLP audience,
    /// and TLP:RED where they are named. Default: the node's organisation, no user
    /// (so no TLP:RED object is exported).
    #[arg(long, value_name = "USERNAME")]
    pub as_user: Option<String>,
    /// An export for blocking devices (firewalls, DNS filters): PAP:RED data stays out.
    #[arg(long)]
    pub blocking: bool,
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
        // Every exported object is what the policy lets the requester have.
        let dir = std::sync::Arc::new(
            taxii::server::gate::load_directory(store.as_ref())
                .await
                .context("cannot load the policy directory")?,
        );
        let who = match &args.as_user {
            Some(u) => {
                let user = store
                    .get_user_by_name(u)
                    .await?
                    .with_context(|| format!("no user {u:?}"))?;
                let p = taxii::server::Principal {
                    key: format!("user:{}", user.id),
                    org_id: user.org_id,
                    role: user.role,
                    user_id: Some(user.id),
                };
                taxii::server::gate::requester(&dir, &p)
            }
            None => {
                let p = taxii::server::Principal {
                    key: "export".into(),
                    org_id: dir.node_org.to_string(),
                    role: "admin".into(),
                    user_id: None,
                };
                taxii::server::gate::requester(&dir, &p)
            }
        };
        let purpose = taxii::server::gate::LocalPurpose::Export {
            blocking: args.blocking,
        };
        let coll_name = query
            .collection
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        let mut stream = store.stream(query);
        let mut n = 0u64;
        let mut withheld = 0u64;
        let mut batch: Vec<store::StoredObject> = Vec::with_capacity(1000);
        let mut done = false;
        while !done {
            match stream.next().await {
                Some(row) => batch.push(row.context("reading from the store failed")?),
                None => done = true,
            }
            if batch.len() < 1000 && !done {
                continue;
            }
            if batch.is_empty() {
                break;
            }
            let ids: Vec<&str> = batch.iter().map(|o| o.id.as_str()).collect();
            let docs =
                taxii::server::gate::load_meta(store.as_ref(), &dir, &ids, &coll_name).await?;
            let json: Vec<String> = batch.drain(..).map(|o| o.json).collect();
            for copy in
                taxii::server::gate::decide_page(&dir, who.clone(), json, docs, purpose).await?
            {
                let Some(copy) = copy else {
                    withheld += 1;
                    continue;
                };
                if n > 0 {
                    out.write_all(b",\n")?;
                } else {
                    out.write_all(b"\n")?;
                }
                out.write_all(copy.as_bytes())?;
                n += 1;
                if n.is_multiple_of(4096) {
                    bar.set_position(n);
                }
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
        eprintln!("exported {n} objects ({withheld} withheld by policy)");
        Ok(ExitCode::SUCCESS)
    })
}
