//! `nadhir taxii pull|push|collections`: exchange objects with any TAXII 2.1 server.
//! Glue only: the work is in `taxii::client` and `taxii::client::sync`.

use super::GlobalArgs;
use anyhow::{bail, Context};
use std::process::ExitCode;
use std::time::Duration;
use store::{Query, VersionFilter};
use taxii::client::sync::{self, PullOptions, PushOptions};
use taxii::client::{Auth, Client, ClientOptions, ObjectQuery, PollOptions, Url};

#[derive(Debug, clap::Args)]
pub struct TaxiiArgs {
    #[command(subcommand)]
    pub command: TaxiiCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TaxiiCommand {
    /// Import a remote collection into the local store, resuming from the last pull.
    Pull(PullArgs),
    /// Send local objects to a remote collection.
    Push(PushArgs),
    /// List the collections of a remote API root.
    Collections(ConnArgs),
}

/// Where the server is and how to log in.
#[derive(Debug, clap::Args)]
pub struct ConnArgs {
    /// API root URL (e.g. http://127.0.0.1:9000/api1/), or the discovery URL
    /// (…/taxii2/), in which case the default API root is used.
    pub url: String,
    /// User name for HTTP Basic authentication.
    #[arg(long, requires = "password_env", conflicts_with = "token_env")]
    pub user: Option<String>,
    /// Name of the environment variable holding the Basic password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Name of the environment variable holding a Bearer API token.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The cursor: after every page the pull remembers the page's \
X-TAXII-Date-Added-Last for (API root URL, collection) in the store; the next pull asks for \
added_after = that instant. added_after is exclusive, so nothing is fetched twice. \
--added-after overrides the cursor for one run (and never moves it backwards).

Exit status: 0 every object stored (or already present), 1 some objects were invalid or \
conflicting (the others are stored), 2 the server or the store failed."
)]
pub struct PullArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Remote collection id.
    #[arg(long)]
    pub collection: String,
    /// Start after this instant (RFC 3339, e.g. 2024-01-01T00:00:00Z) instead of the cursor.
    #[arg(long, value_name = "TS")]
    pub added_after: Option<String>,
    /// Only these types (match[type]); repeatable.
    #[arg(long = "type", value_name = "T")]
    pub types: Vec<String>,
    /// Local collection (alias or id) to add the objects to; created if missing.
    /// Without it, objects are stored outside any collection.
    #[arg(long, value_name = "COLLECTION_ALIAS_OR_ID")]
    pub into: Option<String>,
    /// Page size to ask the server for.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Print at most this many rejected objects (all are counted).
    #[arg(long, default_value_t = 100)]
    pub max_reported: usize,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Every stored version of the selected objects is sent, in envelopes \
of at most --max-objects objects and --max-bytes bytes (capped by the API root's \
max_content_length). Each envelope's status is polled until complete.

Exit status: 0 every object accepted, 1 some were refused or still pending, 2 the server \
or the store failed."
)]
pub struct PushArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Remote collection id.
    #[arg(long)]
    pub collection: String,
    /// Only objects of these types; repeatable.
    #[arg(long = "type", value_name = "T")]
    pub types: Vec<String>,
    /// Only objects of this local collection (alias or id).
    #[arg(long, value_name = "C")]
    pub from_collection: Option<String>,
    /// Only objects added locally after this instant (RFC 3339).
    #[arg(long, value_name = "TS")]
    pub added_after: Option<String>,
    /// Objects per envelope.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_objects: u32,
    /// Bytes per envelope.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_bytes: usize,
    /// Seconds to wait for each envelope's status to complete.
    #[arg(long, default_value_t = 300)]
    pub status_timeout_secs: u64,
    /// Print at most this many failures (all are counted).
    #[arg(long, default_value_t = 100)]
    pub max_reported: usize,
}

pub fn run(g: &GlobalArgs, args: TaxiiArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async {
        match args.command {
            TaxiiCommand::Pull(a) => pull(g, a).await,
            TaxiiCommand::Push(a) => push(g, a).await,
            TaxiiCommand::Collections(a) => collections(a).await,
        }
    })
}

fn client(conn: &ConnArgs) -> anyhow::Result<Client> {
    let env = |var: &str| {
        std::env::var(var).with_context(|| format!("environment variable {var} is not set"))
    };
    let auth = match (&conn.user, &conn.password_env, &conn.token_env) {
        (Some(user), Some(var), None) => Auth::Basic {
            user: user.clone(),
            password: env(var)?,
        },
        (None, None, Some(var)) => Auth::Bearer(env(var)?),
        (None, None, None) => Auth::None,
        (None, Some(_), _) => bail!("--password-env needs --user"),
        _ => bail!("use either --user with --password-env, or --token-env"),
    };
    let options = ClientOptions {
        timeout: Duration::from_secs(conn.timeout_secs),
        ..Default::default()
    };
    Ok(Client::with_options(auth, options)?)
}

async fn resolve(client: &Client, conn: &ConnArgs) -> anyhow::Result<Url> {
    let url: Url = conn
        .url
        .parse()
        .with_context(|| format!("{:?} is not a URL", conn.url))?;
    let (root, _) = client
        .resolve_api_root(&url)
        .await
        .with_context(|| format!("cannot reach a TAXII 2.1 API root at {url}"))?;
    Ok(root)
}

fn timestamp(flag: &str, text: &str) -> anyhow::Result<stix::Timestamp> {
    stix::Timestamp::parse(text).with_context(|| format!("{flag} {text:?}"))
}

async fn collections(conn: ConnArgs) -> anyhow::Result<ExitCode> {
    let c = client(&conn)?;
    let root = resolve(&c, &conn).await?;
    let cols = c.collections(&root).await?;
    if conn.json {
        println!("{}", serde_json::to_string(&cols)?);
    } else {
        println!("{:<38} {:<5} {:<5} title", "id", "read", "write");
        for col in cols {
            println!(
                "{:<38} {:<5} {:<5} {}",
                col.id, col.can_read, col.can_write, col.title
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn pull(g: &GlobalArgs, a: PullArgs) -> anyhow::Result<ExitCode> {
    let added_after = a
        .added_after
        .as_deref()
        .map(|t| timestamp("--added-after", t))
        .transpose()?;
    let c = client(&a.conn)?;
    let root = resolve(&c, &a.conn).await?;
    let store = super::open_store(g).await?;
    let into = match &a.into {
        Some(name) => Some(super::import::ensure_collection(store.as_ref(), name).await?),
        None => None,
    };
    let mut filter = ObjectQuery::new();
    filter.types = a.types.clone();
    let options = PullOptions {
        added_after,
        page_limit: Some(a.limit),
        into,
        filter,
    };
    let bar = super::progress_bar(None, "pulling objects");
    let report = sync::pull(
        &c,
        &root,
        &a.collection,
        store.as_ref(),
        &options,
        &mut |r| bar.set_position(r.received),
    )
    .await
    .with_context(|| format!("pull from {root} collection {}", a.collection))?;
    bar.finish_and_clear();

    for r in report.rejected.iter().take(a.max_reported) {
        eprintln!("invalid, skipped: {r}");
    }
    for conflict in report.conflicts.iter().take(a.max_reported) {
        eprintln!("conflict, not stored (same id and version, different content): {conflict}");
    }
    let fmt_ts = |t: Option<stix::Timestamp>| t.map(|t| t.to_string());
    if a.conn.json {
        let summary = serde_json::json!({
            "api_root": root.as_str(),
            "collection": a.collection,
            "pages": report.pages,
            "received": report.received,
            "inserted": report.inserted,
            "duplicates": report.duplicates,
            "invalid": report.rejected.len(),
            "conflicts": report.conflicts.len(),
            "started_after": fmt_ts(report.started_after),
            "cursor": fmt_ts(report.cursor),
        });
        println!("{summary}");
    } else {
        println!(
            "pulled {} objects in {} pages from {root} collection {}: {} stored, {} already present, {} invalid, {} conflicting; cursor {}",
            report.received,
            report.pages,
            a.collection,
            report.inserted,
            report.duplicates,
            report.rejected.len(),
            report.conflicts.len(),
            fmt_ts(report.cursor).unwrap_or_else(|| "unset (the server sent no X-TAXII-Date-Added-Last)".into()),
        );
    }
    let clean = report.rejected.is_empty() && report.conflicts.is_empty();
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn push(g: &GlobalArgs, a: PushArgs) -> anyhow::Result<ExitCode> {
    let added_after = a
        .added_after
        .as_deref()
        .map(|t| timestamp("--added-after", t).map(|t| t.unix_micros()))
        .transpose()?;
    let c = client(&a.conn)?;
    let root = resolve(&c, &a.conn).await?;
    let store = super::open_store(g).await?;
    let collection = match &a.from_collection {
        Some(name) => Some(
            store
                .find_collection(name)
                .await?
                .with_context(|| format!("no local collection {name:?}"))?
                .id,
        ),
        None => None,
    };
    let query = Query {
        collection,
        types: a.types.clone(),
        versions: VersionFilter::all(),
        added_after,
        with_body: true,
        ..Query::default()
    };
    let options = PushOptions {
        max_envelope_bytes: a.max_bytes,
        max_envelope_objects: a.max_objects as usize,
        poll: PollOptions {
            timeout: Duration::from_secs(a.status_timeout_secs),
            ..PollOptions::default()
        },
    };
    let bar = super::progress_bar(None, "pushing objects");
    let report = sync::push(
        &c,
        &root,
        &a.collection,
        store.as_ref(),
        query,
        &options,
        &mut |r| bar.set_position(r.sent),
    )
    .await
    .with_context(|| format!("push to {root} collection {}", a.collection))?;
    bar.finish_and_clear();

    for f in report.failed.iter().take(a.max_reported) {
        eprintln!(
            "refused: {} version {}: {}",
            f.id,
            f.version,
            f.message.as_deref().unwrap_or("(no reason given)")
        );
    }
    if a.conn.json {
        let summary = serde_json::json!({
            "api_root": root.as_str(),
            "collection": a.collection,
            "envelopes": report.envelopes,
            "sent": report.sent,
            "succeeded": report.succeeded,
            "failed": report.failed.len(),
            "pending": report.pending,
        });
        println!("{summary}");
    } else {
        println!(
            "pushed {} objects in {} envelopes to {root} collection {}: {} accepted, {} refused, {} still pending",
            report.sent,
            report.envelopes,
            a.collection,
            report.succeeded,
            report.failed.len(),
            report.pending
        );
    }
    let clean = report.failed.is_empty() && report.pending == 0;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
