//! `nadhir watch`: early warning from the command line. Reads telemetry from files
//! (once, or followed like `tail -F`), stdin (`-`) or a NATS JetStream consumer, matches
//! it against the store's active indicators, and writes sightings and alerts into the
//! store. `nadhir publish` puts JSON-lines telemetry on a JetStream subject.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use warning::engine::nats::NatsSource;
use warning::engine::source::{add, FileSource};
use warning::engine::{BatchReport, Engine, EngineConfig};
use warning::hit::SourceRef;

use super::match_cmd::{field_map, EventFormat};
use super::GlobalArgs;

/// Options shared by the commands that run the early-warning engine.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Built-in field names of the telemetry.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: EventFormat,
    /// Extra field mapping: a JSON object from field path to observable type, e.g.
    /// {"client.ip": "ip", "query.name": "domain-name", "ts": "event-time"}.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Name of this node's organisation (its STIX identity, created on first use).
    #[arg(long, env = "NADHIR_NODE_NAME", default_value = "Nadhir node")]
    pub node_name: String,
    /// Indicators below this effective confidence do not take part (0-100; unset
    /// confidence counts as 50).
    #[arg(long, default_value_t = 0)]
    pub min_confidence: u8,
    /// Sighting window length in seconds (windows are aligned on the Unix epoch).
    #[arg(long, default_value_t = 3600)]
    pub window_secs: u32,
    /// Longest event accepted, in bytes; longer lines are counted, sampled and skipped.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line_bytes: usize,
    /// How often the store is checked for new, changed or revoked indicators (ms).
    #[arg(long, default_value_t = 1000)]
    pub reload_ms: u64,
}

impl EngineArgs {
    pub fn config(&self, api_root: &str) -> anyhow::Result<EngineConfig> {
        let mut c = EngineConfig::new(&self.node_name, api_root);
        c.field_map = Arc::new(field_map(self.format, self.mapping.as_deref(), 16 << 20)?);
        c.min_confidence = self.min_confidence.min(100);
        c.window_secs = self.window_secs.max(1);
        c.max_line_bytes = self.max_line_bytes.max(1);
        c.reload_interval = Duration::from_millis(self.reload_ms.max(10));
        Ok(c)
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// Consume a NATS JetStream stream (several workers may share its consumer).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// JetStream stream name.
    #[arg(long, default_value = "TELEMETRY")]
    pub nats_stream: String,
    /// Subject the stream captures (used when creating the stream).
    #[arg(long, default_value = "telemetry.>")]
    pub nats_subject: String,
    /// Durable consumer shared by the workers.
    #[arg(long, default_value = "nadhir")]
    pub nats_consumer: String,
    /// Messages per batch.
    #[arg(long, default_value_t = 500)]
    pub nats_batch: usize,
    /// Seconds before an unacknowledged message is redelivered.
    #[arg(long, default_value_t = 10)]
    pub nats_ack_wait: u64,
}

impl NatsArgs {
    /// The source, when --nats was given.
    pub fn source(&self, idle_exit: Option<u64>) -> Option<NatsSource> {
        let url = self.nats.as_ref()?;
        let mut src = NatsSource::new(
            url,
            &self.nats_stream,
            &self.nats_subject,
            &self.nats_consumer,
        );
        src.batch = self.nats_batch.max(1);
        src.ack_wait = Duration::from_secs(self.nats_ack_wait.max(1));
        src.idle_exit = idle_exit.map(Duration::from_secs);
        Some(src)
    }
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Telemetry files (JSON lines), or `-` for stdin.
    pub sources: Vec<PathBuf>,
    /// Keep reading the files as they grow and across rotation, until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Stop after the NATS stream has been idle this many seconds, once no message is
    /// left waiting or unacknowledged (another worker's unacknowledged messages are
    /// redelivered after the ack wait and processed first).
    #[arg(long)]
    pub idle_exit: Option<u64>,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

fn shutdown_channel() -> (
    tokio::sync::watch::Sender<bool>,
    tokio::sync::watch::Receiver<bool>,
) {
    tokio::sync::watch::channel(false)
}

pub fn run(g: &GlobalArgs, args: WatchArgs) -> anyhow::Result<ExitCode> {
    if args.sources.is_empty() && args.nats.nats.is_none() {
        anyhow::bail!("nothing to watch: give files, `-` for stdin, or --nats URL");
    }
    if args.follow && args.sources.iter().any(|p| p.as_os_str() == "-") {
        anyhow::bail!("--follow applies to files, not to stdin");
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = super::open_store(g).await?;
        let cfg = args.engine.config(taxii::server::DEFAULT_API_ROOT)?;
        let engine = Engine::start(store, cfg)
            .await
            .context("cannot start the early-warning engine")?;
        let st = engine.live().status.clone();
        eprintln!(
            "index: {} IOC indicators, {} general patterns, {} inactive, built in {} ms",
            st.ioc_indicators,
            st.general_indicators,
            st.inactive.revoked
                + st.inactive.expired
                + st.inactive.not_yet_valid
                + st.inactive.low_confidence
                + st.inactive.other_pattern_type
                + st.inactive.malformed,
            st.build_ms
        );
        let (stop_tx, stop_rx) = shutdown_channel();
        {
            let stop_tx = stop_tx.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    let _ = stop_tx.send(true);
                }
            });
        }
        match engine.check_new_intelligence().await {
            Ok(0) => {}
            Ok(n) => eprintln!("watchlist: {n} new asset alerts from incoming intelligence"),
            Err(e) => eprintln!("watchlist: [{}] {e}", e.code()),
        }
        let reloader = engine.spawn_reloader(stop_rx.clone());
        let hooks = engine.spawn_webhooks(stop_rx.clone());
        let started = Instant::now();
        let mut total = BatchReport::default();
        let mut failed = 0u32;

        for path in &args.sources {
            if path.as_os_str() == "-" {
                let bar = super::progress_bar(None, "stdin");
                let r = engine
                    .run_reader(
                        tokio::io::stdin(),
                        SourceRef {
                            kind: "stdin".into(),
                            name: "stdin".into(),
                        },
                        stop_rx.clone(),
                        |t, _| bar.set_position(t.events),
                    )
                    .await;
                bar.finish_and_clear();
                match r {
                    Ok(r) => add(&mut total, &r),
                    Err(e) => {
                        failed += 1;
                        eprintln!("stdin: [{}] {e}", e.code());
                    }
                }
                continue;
            }
            let len = if args.follow {
                None
            } else {
                std::fs::metadata(path).ok().map(|m| m.len())
            };
            let bar = super::progress_bar(len, &path.display().to_string());
            let src = FileSource::new(path.clone(), args.follow);
            let r = engine
                .run_file(src, stop_rx.clone(), |t, pos| {
                    if len.is_some() {
                        bar.set_position(pos);
                    } else {
                        bar.set_position(t.events);
                    }
                })
                .await;
            bar.finish_and_clear();
            match r {
                Ok(r) => add(&mut total, &r),
                Err(e) => {
                    failed += 1;
                    eprintln!("{}: [{}] {e}", path.display(), e.code());
                }
            }
        }
        if let Some(src) = args.nats.source(args.idle_exit) {
            let bar = super::progress_bar(None, "nats");
            let r = engine
                .run_nats(src, stop_rx.clone(), |t| bar.set_position(t.events))
                .await;
            bar.finish_and_clear();
            match r {
                Ok(r) => add(&mut total, &r),
                Err(e) => {
                    failed += 1;
                    eprintln!("nats: [{}] {e}", e.code());
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        // Let pending webhook deliveries of this run go out before stopping.
        engine.deliver_now().await;
        let _ = stop_tx.send(true);
        let _ = reloader.await;
        let _ = hooks.await;
        let status = engine.status();
        if args.json {
            let v = serde_json::json!({ "report": total, "status": status, "seconds": elapsed });
            println!("{v}");
        }
        eprintln!(
            "{} events in {elapsed:.2} s ({:.0}/s): {} hits, {} counted, {} duplicates, {} late; {} sightings written, {} new alerts; {} undecodable ({} over the length limit)",
            total.events,
            total.events as f64 / elapsed.max(1e-9),
            total.hits,
            total.counted,
            total.duplicates,
            total.late,
            total.sightings,
            total.alerts,
            total.bad,
            status.too_long
        );
        for s in status.bad_samples.iter().take(5) {
            eprintln!("  undecodable {}: {} ({} bytes)", s.event_id, s.reason, s.len);
        }
        let _ = std::io::stdout().flush();
        Ok(if failed > 0 {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        })
    })
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// NATS server URL.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// Subject to publish on (the stream must capture it; `nadhir watch --nats` creates
    /// the stream with --nats-subject).
    #[arg(long, default_value = "telemetry.events")]
    pub subject: String,
    /// Create the stream capturing --stream-subject first, if missing.
    #[arg(long, default_value = "TELEMETRY")]
    pub stream: String,
    #[arg(long, default_value = "telemetry.>")]
    pub stream_subject: String,
    /// JSON-lines files; one message per line.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

// `read_to_end` below reads through `take(MAX + 1)`: bounded.
#[allow(clippy::disallowed_methods)]
pub fn publish(_g: &GlobalArgs, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        // Make sure the stream exists so the messages are kept.
        let probe = NatsSource::new(&args.nats, &args.stream, &args.stream_subject, "nadhir");
        warning::engine::nats::ensure_stream(&probe)
            .await
            .context("cannot create the stream")?;
        let mut n = 0u64;
        for f in &args.files {
            use std::io::Read;
            const MAX: u64 = 1 << 30;
            let mut data = Vec::new();
            std::fs::File::open(f)
                .with_context(|| format!("cannot open {}", f.display()))?
                .take(MAX + 1)
                .read_to_end(&mut data)
                .with_context(|| format!("cannot read {}", f.display()))?;
            if data.len() as u64 > MAX {
                anyhow::bail!("{}: over 1 GiB; split it", f.display());
            }
            n += warning::engine::nats::publish_lines(&args.nats, &args.subject, &data)
                .await
                .with_context(|| format!("cannot publish {}", f.display()))?;
        }
        eprintln!("published {n} messages to {}", args.subject);
        Ok(ExitCode::SUCCESS)
    })
}
