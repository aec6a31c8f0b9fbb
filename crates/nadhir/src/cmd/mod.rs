//! Subcommands. Each module exposes a clap `Args` struct and a `run` function.

pub mod admin;
pub mod alerts;
pub mod export;
pub mod federation;
pub mod import;
pub mod input;
pub mod match_cmd;
pub mod pattern;
pub mod sample;
pub mod serve;
pub mod stats;
pub mod taxii_cmd;
pub mod validate;
pub mod watch;

use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;

/// Options shared by every subcommand.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Directory holding the embedded store (SQLite) and node state.
    #[arg(
        long,
        global = true,
        env = "NADHIR_DATA_DIR",
        default_value = "./nadhir-data"
    )]
    pub data_dir: PathBuf,
    /// Database URL: postgres://user@host/db for PostgreSQL, sqlite://PATH for a
    /// specific SQLite file. Unset: SQLite inside --data-dir.
    #[arg(long, global = true, env = "NADHIR_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        env = "NADHIR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Sets up tracing on stderr; the level comes from `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The async runtime used by commands that talk to the store or the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens the store chosen by the global options (creating the data directory and
/// running migrations when needed).
pub async fn open_store(g: &GlobalArgs) -> anyhow::Result<Arc<dyn store::Store>> {
    store::open(&g.data_dir, g.database_url.as_deref())
        .await
        .with_context(|| match &g.database_url {
            Some(url) => format!("cannot open the store at {}", store::redact_url(url)),
            None => format!("cannot open the store in {}", g.data_dir.display()),
        })
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress_bar(len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let bar = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = if len.is_some() {
        "{spinner} {msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({per_sec}, eta {eta})"
    } else {
        "{spinner} {msg} [{elapsed_precise}] {pos} ({per_sec})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}
