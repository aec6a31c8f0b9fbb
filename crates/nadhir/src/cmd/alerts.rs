//! `nadhir alerts` and `nadhir webhook`: alerts and their delivery, from the store.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use warning::engine::alerts::{
    act_on_alert, get_alert, list_alerts, parse_state, save_acted, AlertOp, AlertRecord,
};
use warning::engine::deliver::{add_webhook, dead_letters, list_webhooks, remove_webhook};

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Only alerts in this state: new, acknowledged, closed.
    #[arg(long)]
    pub state: Option<String>,
    /// At most this many (most recently changed first).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// JSON output.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// Show one alert in full.
    Show { id: String },
    /// new → acknowledged.
    Ack {
        id: String,
        /// Who acts (recorded in the alert's history).
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
    /// new | acknowledged → closed (a confirmed true positive).
    Close {
        id: String,
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
    /// closed → new.
    Reopen {
        id: String,
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
    /// Mark a false positive: closes the alert, halves the indicator's weight, and
    /// stores a shareable `opinion` and the revoked sighting.
    FalsePositive {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
}

fn line(a: &AlertRecord) -> String {
    format!(
        "{}\t{:?}\t{:?}\t{}\t{}\t{}",
        a.alert.id,
        a.alert.state,
        a.alert.severity,
        a.count,
        a.last_seen.as_deref().unwrap_or("-"),
        a.title
    )
}

pub fn run(g: &GlobalArgs, args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = super::open_store(g).await?;
        let mut out = std::io::stdout().lock();
        let (id, op, by) = match args.command {
            None => {
                let state = match args.state.as_deref() {
                    None => None,
                    Some(s) => Some(parse_state(s).with_context(|| {
                        format!("--state {s:?}: expected new, acknowledged or closed")
                    })?),
                };
                let list = list_alerts(store.as_ref(), state, args.limit).await?;
                if args.json {
                    writeln!(out, "{}", serde_json::to_string(&list)?)?;
                } else if list.is_empty() {
                    eprintln!("no alerts");
                } else {
                    writeln!(out, "ID\tSTATE\tSEVERITY\tCOUNT\tLAST SEEN\tTITLE")?;
                    for a in &list {
                        writeln!(out, "{}", line(a))?;
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            Some(AlertsCommand::Show { id }) => {
                let a = get_alert(store.as_ref(), &id).await?;
                writeln!(out, "{}", serde_json::to_string_pretty(&a)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            Some(AlertsCommand::Ack { id, by }) => (id, AlertOp::Acknowledge, by),
            Some(AlertsCommand::Close { id, by }) => (id, AlertOp::Close, by),
            Some(AlertsCommand::Reopen { id, by }) => (id, AlertOp::Reopen, by),
            Some(AlertsCommand::FalsePositive { id, reason, by }) => {
                (id, AlertOp::FalsePositive { reason }, by)
            }
        };
        let identity = warning::engine::ensure_identity(store.as_ref(), "Nadhir node").await?;
        let (rec, objects) = match act_on_alert(store.as_ref(), &identity, &id, op, &by).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: [{}] {e}", e.code());
                return Ok(ExitCode::from(1));
            }
        };
        save_acted(store.as_ref(), &rec, &objects).await?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string(&rec)?)?;
        } else {
            writeln!(out, "{}", line(&rec))?;
            for o in &objects {
                writeln!(out, "stored {} for sharing", o.id())?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    pub command: WebhookCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum WebhookCommand {
    /// Register a webhook: every new feed entry of the chosen kinds is POSTed, signed
    /// with HMAC-SHA256 (header X-Nadhir-Signature: t=<unix>,v1=<hex>).
    Add {
        url: String,
        /// HMAC secret (at least 16 characters); read from this environment variable.
        #[arg(long, default_value = "NADHIR_WEBHOOK_SECRET")]
        secret_env: String,
        /// Feed kinds to deliver (default: alert).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Attempts before a dead letter.
        #[arg(long, default_value_t = 6)]
        max_attempts: u32,
    },
    /// List webhooks.
    List,
    /// Remove a webhook.
    Remove { id: String },
    /// Posts that could not be delivered.
    DeadLetters {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

pub fn webhook(g: &GlobalArgs, args: WebhookArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = super::open_store(g).await?;
        let mut out = std::io::stdout().lock();
        match args.command {
            WebhookCommand::Add {
                url,
                secret_env,
                kinds,
                max_attempts,
            } => {
                let secret = std::env::var(&secret_env)
                    .with_context(|| format!("set the webhook secret in ${secret_env}"))?;
                let h = add_webhook(store.as_ref(), &url, &secret, kinds, max_attempts, "").await?;
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"id": h.id, "url": h.url, "kinds": h.kinds})
                )?;
            }
            WebhookCommand::List => {
                for h in list_webhooks(store.as_ref()).await? {
                    writeln!(out, "{}\t{}\t{}", h.id, h.url, h.kinds.join(","))?;
                }
            }
            WebhookCommand::Remove { id } => {
                remove_webhook(store.as_ref(), &id).await?;
                writeln!(out, "removed {id}")?;
            }
            WebhookCommand::DeadLetters { limit } => {
                for d in dead_letters(store.as_ref(), limit).await? {
                    writeln!(out, "{}", serde_json::to_string(&d)?)?;
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, clap::Args)]
pub struct WatchlistArgs {
    #[command(subcommand)]
    pub command: WatchlistCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum WatchlistCommand {
    /// Register an asset: a CIDR, an address, an AS number (AS64500) or a domain name
    /// (its subdomains and lookalikes count too).
    Add {
        target: String,
        /// The organisation that owns it (alerts name it).
        #[arg(long)]
        owner: String,
        /// low, medium, high or critical (raises alert severity).
        #[arg(long, default_value = "medium")]
        criticality: String,
    },
    /// List assets.
    List,
    /// Remove an asset.
    Remove { id: String },
    /// Check the intelligence that arrived since the last check now, and print the
    /// asset alerts raised (`nadhir serve` does this every two seconds).
    Check,
}

pub fn watchlist(g: &GlobalArgs, args: WatchlistArgs) -> anyhow::Result<ExitCode> {
    use warning::engine::assets::{add_asset, list_assets, remove_asset};
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = super::open_store(g).await?;
        let mut out = std::io::stdout().lock();
        match args.command {
            WatchlistCommand::Add {
                target,
                owner,
                criticality,
            } => {
                let crit: warning::Criticality = serde_json::from_value(serde_json::Value::String(
                    criticality.clone(),
                ))
                .with_context(|| {
                    format!("--criticality {criticality:?}: expected low, medium, high or critical")
                })?;
                let a = add_asset(store.as_ref(), &owner, crit, &target).await?;
                writeln!(out, "{}", serde_json::to_string(&a)?)?;
            }
            WatchlistCommand::List => {
                for a in list_assets(store.as_ref()).await? {
                    writeln!(
                        out,
                        "{}\t{}\t{:?}\t{}",
                        a.id, a.owner, a.criticality, a.target
                    )?;
                }
            }
            WatchlistCommand::Remove { id } => {
                remove_asset(store.as_ref(), &id).await?;
                writeln!(out, "removed {id}")?;
            }
            WatchlistCommand::Check => {
                let cfg = warning::engine::EngineConfig::new(
                    "Nadhir node",
                    taxii::server::DEFAULT_API_ROOT,
                );
                let engine = warning::engine::Engine::start(store, cfg).await?;
                let n = engine.check_new_intelligence().await?;
                writeln!(out, "{n} new asset alerts")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
