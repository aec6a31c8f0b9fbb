//! The `nadhir` binary: configuration, wiring and the command line. Business rules
//! live in the library crates; this file only parses arguments and dispatches.

mod allocator;
mod cmd;

/// Parsing STIX allocates many small maps and strings; mimalloc measurably beats the
/// system allocator on import and on the TAXII server (see docs/PERFORMANCE.md). Its
/// settings: [`allocator`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Nadhir (نذير): federated cyber-threat-intelligence sharing and early warning.
///
/// Each organisation runs its own node. Nodes exchange STIX 2.1 over TAXII 2.1,
/// match what they receive against their own telemetry, and warn each other.
#[derive(Debug, Parser)]
#[command(
    name = "nadhir",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: cmd::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import STIX objects (bundles, JSON arrays or JSON lines) into the store.
    Import(cmd::import::ImportArgs),
    /// Export stored objects as one STIX 2.1 bundle.
    Export(cmd::export::ExportArgs),
    /// Validate STIX files against the STIX 2.1 specification without storing anything.
    Validate(cmd::validate::ValidateArgs),
    /// Show object counts by type and collection, and the store's size.
    Stats(cmd::stats::StatsArgs),
    /// Serve TAXII 2.1 (discovery, API roots, collections, objects, manifest, status) over the store.
    Serve(cmd::serve::ServeArgs),
    /// Manage organisations, users, API tokens, collections and grants (non-interactive).
    Admin(cmd::admin::AdminArgs),
    /// TAXII 2.1 client: pull a remote collection into the store (resuming from a
    /// remembered cursor), push local objects to a remote collection, list collections.
    Taxii(cmd::taxii_cmd::TaxiiArgs),
    /// STIX 2.1 patterns: check one (`pattern check`) or match patterns against observed
    /// data (`pattern match --patterns FILE --observed FILE`).
    Pattern(cmd::pattern::PatternArgs),
    /// Match raw JSON-lines telemetry (Suricata EVE, Zeek JSON, or mapped JSON) against the
    /// indicators of a bundle with the compiled index; one JSON line per hit on stdout.
    Match(cmd::match_cmd::MatchArgs),
    /// Early warning: match telemetry (files, `-` for stdin, --follow like tail -F, or
    /// --nats JetStream) against the store's active indicators; write sightings and alerts.
    Watch(cmd::watch::WatchArgs),
    /// Put JSON-lines telemetry on a NATS JetStream subject (one message per line).
    Publish(cmd::watch::PublishArgs),
    /// List alerts, show one, and move them: ack, close, reopen, false-positive.
    Alerts(cmd::alerts::AlertsArgs),
    /// Webhooks for alerts (HMAC-signed, retried, dead letters).
    Webhook(cmd::alerts::WebhookArgs),
    /// Asset watchlist: constituents' ranges, domains and AS numbers; intelligence that
    /// names one (or a lookalike domain) raises an alert for its owner.
    Watchlist(cmd::alerts::WatchlistArgs),
    /// This node's identity and key (`node show`), its organisation and policy settings.
    Node(cmd::federation::NodeArgs),
    /// Sharing communities (the TLP:GREEN audiences).
    Community(cmd::federation::CommunityArgs),
    /// Sets the audience (recipients, communities, named individuals) of what is
    /// published into a collection.
    Share(cmd::federation::ShareArgs),
    /// Partner nodes: add, list, remove.
    Peer(cmd::federation::PeerArgs),
    /// Sharing agreements with partners: set (versioned; recalls what is no longer
    /// allowed), show.
    Agreement(cmd::federation::AgreementArgs),
    /// Pull from partner nodes now (and apply their recalls).
    Sync(cmd::federation::SyncArgs),
    /// The egress ledger: verify its hash chain, list what a partner received.
    Audit(cmd::federation::AuditArgs),
}

fn main() -> ExitCode {
    allocator::apply();
    let cli = Cli::parse();
    cmd::init_logging(cli.global.log_format);
    let result = match cli.command {
        Command::Import(args) => cmd::import::run(&cli.global, args),
        Command::Export(args) => cmd::export::run(&cli.global, args),
        Command::Validate(args) => cmd::validate::run(&cli.global, args),
        Command::Stats(args) => cmd::stats::run(&cli.global, args),
        Command::Serve(args) => cmd::serve::run(&cli.global, args),
        Command::Admin(args) => cmd::admin::run(&cli.global, args),
        Command::Taxii(args) => cmd::taxii_cmd::run(&cli.global, args),
        Command::Pattern(args) => cmd::pattern::run(&cli.global, args),
        Command::Match(args) => cmd::match_cmd::run(&cli.global, args),
        Command::Watch(args) => cmd::watch::run(&cli.global, args),
        Command::Publish(args) => cmd::watch::publish(&cli.global, args),
        Command::Alerts(args) => cmd::alerts::run(&cli.global, args),
        Command::Webhook(args) => cmd::alerts::webhook(&cli.global, args),
        Command::Watchlist(args) => cmd::alerts::watchlist(&cli.global, args),
        Command::Node(args) => cmd::federation::node(&cli.global, args),
        Command::Community(args) => cmd::federation::community(&cli.global, args),
        Command::Share(args) => cmd::federation::share(&cli.global, args),
        Command::Peer(args) => cmd::federation::peer(&cli.global, args),
        Command::Agreement(args) => cmd::federation::agreement(&cli.global, args),
        Command::Sync(args) => cmd::federation::sync(&cli.global, args),
        Command::Audit(args) => cmd::federation::audit(&cli.global, args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // The reader went away (`nadhir alerts | head`): not an error of ours.
            let broken_pipe = err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
