//! `nadhir import`: stream STIX files into the store.

use super::input::{self, Item, Location};
use super::GlobalArgs;
use anyhow::Context;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use store::{CollectionId, InsertOutcome, NewObject, Store};
use taxii::server::gate::PublishSigner;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  nadhir import --sample                       load the bundled sample (MITRE ATT&CK for ICS + IOCs)
  nadhir import feed.json --collection osint   import a bundle into the 'osint' collection
  zcat big.jsonl.gz | nadhir import -          import JSON lines from stdin
  nadhir import --strict a.json b.json         all or nothing

Exit status: 0 all objects stored (or already present), 1 some objects were invalid or
conflicted (the valid ones are stored; with --strict nothing is), 2 a file was unreadable
or not JSON.")]
pub struct ImportArgs {
    /// Files to import: STIX bundles, JSON arrays of objects, or JSON lines. `-` reads stdin.
    #[arg(required_unless_present = "sample")]
    pub files: Vec<PathBuf>,
    /// All or nothing: if any object is invalid or conflicts, store nothing.
    #[arg(long)]
    pub strict: bool,
    /// Collection (alias or id) to put the objects in; created if it does not exist.
    #[arg(long, default_value = "default")]
    pub collection: String,
    /// Load the bundled sample data set instead of files.
    #[arg(long)]
    pub sample: bool,
    /// Convert STIX 2.0 objects (no spec_version) to 2.1 on the way in.
    #[arg(long)]
    pub upgrade_stix20: bool,
    /// Objects per database batch.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub batch_size: u32,
    /// Largest accepted object (or JSON line), in bytes.
    #[arg(long, default_value_t = input::DEFAULT_MAX_OBJECT_BYTES)]
    pub max_object_bytes: u64,
    /// Without --strict, commit after this many objects (and at the end of each file):
    /// what is committed stays even if a later part of the run fails.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub commit_every: u64,
    /// Print at most this many problems per file (all are counted).
    #[arg(long, default_value_t = 1000)]
    pub max_reported: u64,
    /// Do not sign what is imported. By default each version is signed with the node's
    /// key as it is published (about 20 µs of CPU per object), and every partner's
    /// unchanged copy carries that signature; without, each copy is signed as it leaves.
    #[arg(long)]
    pub no_sign: bool,
}

/// What an import did, per run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub read: u64,
    pub inserted: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub conflicts: u64,
    pub unreadable_files: u64,
}

enum Msg {
    /// Checked objects: source name, location, stored form, this node's signature.
    Batch(
        Vec<(
            String,
            Location,
            NewObject,
            Option<policy::stored::SignedBy>,
        )>,
    ),
    /// The reader finished a file: commit what it produced.
    FileDone,
}

pub fn run(g: &GlobalArgs, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = super::open_store(g).await?;
        let collection = ensure_collection(store.as_ref(), &args.collection).await?;
        let sources: Vec<Source> = if args.sample {
            super::sample::sources()
        } else {
            args.files.iter().map(|p| Source::Path(p.clone())).collect()
        };
        let upgrade = args.upgrade_stix20 || args.sample;
        let signer = if args.no_sign {
            None
        } else {
            let node = federation::node::Node::open(store.clone(), &g.data_dir)
                .await
                .context("cannot open the node's key to sign what is imported (--no-sign skips signing)")?;
            Some(node.publication_signer())
        };
        let summary =
            import_sources(store, &collection, sources, &args, upgrade, signer).await?;
        eprintln!(
            "imported into collection {}: {} read, {} stored, {} already present, {} invalid, {} conflicting{}",
            args.collection,
            summary.read,
            summary.inserted,
            summary.duplicates,
            summary.invalid,
            summary.conflicts,
            if args.strict && (summary.invalid + summary.conflicts + summary.unreadable_files) > 0 {
                " — --strict: nothing was stored"
            } else {
                ""
            }
        );
        Ok(if summary.unreadable_files > 0 {
            ExitCode::from(2)
        } else if summary.invalid + summary.conflicts > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// An input: a file, stdin, or bundled bytes.
#[derive(Debug)]
pub enum Source {
    Path(PathBuf),
    Bytes(String, &'static [u8]),
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Path(p) if p == Path::new("-") => "<stdin>".into(),
            Source::Path(p) => p.display().to_string(),
            Source::Bytes(name, _) => name.clone(),
        }
    }
    fn open(&self) -> std::io::Result<(Box<dyn Read + Send>, Option<u64>)> {
        match self {
            Source::Path(p) if p == Path::new("-") => Ok((Box::new(std::io::stdin()), None)),
            Source::Path(p) => {
                let f = std::fs::File::open(p)?;
                let len = f.metadata().ok().map(|m| m.len());
                Ok((Box::new(f), len))
            }
            Source::Bytes(_, b) => Ok((Box::new(*b), Some(b.len() as u64))),
        }
    }
}

/// Finds a collection by alias or id, creating it (with that alias) when missing.
pub async fn ensure_collection(store: &dyn Store, name: &str) -> anyhow::Result<CollectionId> {
    if let Some(c) = store.find_collection(name).await? {
        return Ok(c.id);
    }
    let c = store::Collection {
        id: CollectionId(uuid::Uuid::new_v4().to_string()),
        api_root: taxii::server::DEFAULT_API_ROOT.to_owned(),
        title: name.to_owned(),
        description: Some(format!("Created by `nadhir import --collection {name}`")),
        alias: Some(name.to_owned()),
        media_types: vec!["application/stix+json;version=2.1".into()],
        created: stix::Timestamp::now_unix_micros(),
    };
    store.create_collection(&c).await?;
    tracing::info!(collection = %c.id, alias = name, "created collection");
    Ok(c.id)
}

async fn import_sources(
    store: Arc<dyn Store>,
    collection: &CollectionId,
    sources: Vec<Source>,
    args: &ImportArgs,
    upgrade: bool,
    signer: Option<federation::node::PublicationSigner>,
) -> anyhow::Result<Summary> {
    let total_bytes: Option<u64> = sources
        .iter()
        .map(|s| match s {
            Source::Path(p) if p != Path::new("-") => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Bytes(_, b) => Some(b.len() as u64),
            Source::Path(_) => None,
        })
        .sum();
    let bar = super::progress_bar(total_bytes, "importing");
    // The reader thread takes the signer; the writer only needs to know there is one.
    let signing = signer.is_some();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4);
    let batch_size = args.batch_size as usize;
    let max_object_bytes = args.max_object_bytes;
    let max_reported = args.max_reported;
    let reader_bar = bar.clone();
    // The reader thread parses, validates and hashes; the async side only writes.
    let reader = std::thread::spawn(move || -> Summary {
        let mut summary = Summary::default();
        for source in sources {
            let name = source.name();
            let mut reported = 0u64;
            let mut report = |summary_line: String| {
                if reported < max_reported {
                    reader_bar.suspend(|| eprintln!("{summary_line}"));
                } else if reported == max_reported {
                    reader_bar.suspend(|| {
                        eprintln!(
                            "{name}: more problems follow; only the first {max_reported} are shown"
                        )
                    });
                }
                reported += 1;
            };
            let (read, _len) = match source.open() {
                Ok(r) => r,
                Err(e) => {
                    report(format!("{name}: cannot open: {e}"));
                    summary.unreadable_files += 1;
                    continue;
                }
            };
            let counting = CountingReader {
                inner: read,
                bar: reader_bar.clone(),
            };
            let mut batch = Vec::with_capacity(batch_size);
            let result = input::read_items(counting, max_object_bytes, &mut |item| {
                summary.read += 1;
                match item {
                    Item::Bad(loc, msg) => {
                        summary.invalid += 1;
                        report(format!("{name}: {loc}: {msg}"));
                    }
                    Item::Object(loc, mut value) => {
                        if upgrade {
                            super::sample::upgrade_stix20(&mut value);
                        }
                        let errors = pattern::validate_object(&value);
                        if !errors.is_empty() {
                            summary.invalid += 1;
                            for e in &errors {
                                report(format!("{name}: {loc}: {}", describe(e)));
                            }
                        } else {
                            match stix::Object::from_value(value) {
                                Ok(obj) => {
                                    let signature = signer.as_ref().map(|s| s.sign(&obj));
                                    batch.push((
                                        name.clone(),
                                        loc,
                                        NewObject::from_object(&obj),
                                        signature,
                                    ))
                                }
                                Err(e) => {
                                    summary.invalid += 1;
                                    report(format!("{name}: {loc}: {e}"));
                                }
                            }
                        }
                    }
                }
                if batch.len() >= batch_size {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                    tx.blocking_send(Msg::Batch(full)).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the writer stopped")
                    })?;
                }
                Ok(())
            });
            if !batch.is_empty() {
                let _ = tx.blocking_send(Msg::Batch(std::mem::take(&mut batch)));
            }
            if let Err(e) = result {
                report(format!("{name}: {e}"));
                summary.unreadable_files += 1;
            }
            let _ = tx.blocking_send(Msg::FileDone);
        }
        summary
    });

    // The writer: one transaction for --strict; otherwise a transaction per group of
    // `commit_every` objects, committed at the end of each file too.
    let mut written = Summary::default();
    let node_org = taxii::server::gate::node_org(store.as_ref()).await?;
    let plain_collection = taxii::server::gate::collection_sharing(store.as_ref(), &collection.0)
        .await?
        == policy::CollectionSharing::default();
    let mut tx = if args.strict {
        Some(store.begin().await?)
    } else {
        None
    };
    let mut pending = 0u64;
    let mut write_error: Option<anyhow::Error> = None;
    while let Some(msg) = rx.recv().await {
        if write_error.is_some() {
            continue; // drain so the reader can finish
        }
        let batch = match msg {
            Msg::Batch(batch) => batch,
            Msg::FileDone => {
                if !args.strict {
                    if let Some(open) = tx.take() {
                        if let Err(e) = open.commit().await {
                            write_error = Some(
                                anyhow::Error::new(e).context("committing to the store failed"),
                            );
                        }
                    }
                    pending = 0;
                }
                continue;
            }
        };
        if tx.is_none() {
            match store.begin().await {
                Ok(t) => tx = Some(t),
                Err(e) => {
                    write_error =
                        Some(anyhow::Error::new(e).context("starting a transaction failed"));
                    continue;
                }
            }
        }
        let Some(open) = tx.as_mut() else { continue };
        let objects: Vec<NewObject> = batch.iter().map(|(_, _, o, _)| o.clone()).collect();
        // What is imported is published by the node's organisation, with the
        // collection's sharing defaults (`nadhir share`) and this node's signatures, in
        // the same transaction. Unsigned into a collection without defaults it needs no
        // row: an object without metadata is the node organisation's, which is exactly
        // what it would say.
        let meta = if plain_collection && !signing {
            Vec::new()
        } else {
            let published: Vec<taxii::server::gate::Published<'_>> = batch
                .iter()
                .map(|(_, _, o, signature)| taxii::server::gate::Published {
                    id: &o.id,
                    version_key: &o.version_key,
                    signature: signature.clone(),
                })
                .collect();
            match taxii::server::gate::publish_meta(
                store.as_ref(),
                &node_org,
                &collection.0,
                &published,
            )
            .await
            {
                Ok(m) => m,
                Err(e) => {
                    write_error =
                        Some(anyhow::Error::new(e).context("reading sharing metadata failed"));
                    continue;
                }
            }
        };
        let outcomes = match open
            .insert(&objects, std::slice::from_ref(collection))
            .await
        {
            Ok(o) => open.put_meta(&meta).await.map(|()| o),
            Err(e) => Err(e),
        };
        pending += objects.len() as u64;
        if !args.strict && pending >= args.commit_every && outcomes.is_ok() {
            if let Some(open) = tx.take() {
                if let Err(e) = open.commit().await {
                    write_error =
                        Some(anyhow::Error::new(e).context("committing to the store failed"));
                    continue;
                }
            }
            pending = 0;
        }
        match outcomes {
            Ok(outcomes) => {
                for ((name, loc, obj, _), outcome) in batch.iter().zip(outcomes) {
                    match outcome {
                        InsertOutcome::Inserted { .. } => written.inserted += 1,
                        InsertOutcome::Duplicate => written.duplicates += 1,
                        InsertOutcome::Conflict { .. } => {
                            written.conflicts += 1;
                            bar.suspend(|| {
                                eprintln!(
                                    "{name}: {loc} ({}): version {} is already stored with different content [version-conflict]",
                                    obj.id,
                                    if obj.version_text.is_empty() { "(unversioned)" } else { &obj.version_text }
                                )
                            });
                        }
                    }
                }
            }
            Err(e) => {
                write_error = Some(anyhow::Error::new(e).context("writing to the store failed"))
            }
        }
    }
    let read_summary = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the import reader thread panicked"))?;
    bar.finish_and_clear();
    if let Some(e) = write_error {
        if let Some(open) = tx {
            open.rollback().await.ok();
        }
        return Err(e);
    }
    let mut summary = read_summary;
    summary.inserted = written.inserted;
    summary.duplicates = written.duplicates;
    summary.conflicts = written.conflicts;
    if let Some(open) = tx {
        if args.strict && summary.invalid + summary.conflicts + summary.unreadable_files > 0 {
            open.rollback().await.context("rolling back the import")?;
            summary.inserted = 0;
        } else {
            open.commit().await.context("committing the import")?;
        }
    } else if args.strict && summary.invalid + summary.conflicts + summary.unreadable_files > 0 {
        summary.inserted = 0;
    }
    Ok(summary)
}

/// One line for a validation error: `<id>: <pointer>: <message> [<code>]`.
pub fn describe(e: &stix::ValidationError) -> String {
    let id = e.object_id.as_deref().unwrap_or("(no id)");
    let pointer = if e.pointer.is_empty() {
        "/"
    } else {
        e.pointer.as_str()
    };
    format!("{id}: {pointer}: {} [{}]", e.message, e.code)
}

struct CountingReader {
    inner: Box<dyn Read + Send>,
    bar: indicatif::ProgressBar,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
