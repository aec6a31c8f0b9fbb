//! `nadhir serve`: the TAXII 2.1 server over the node's store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use taxii::server::{ApiRootConfig, AppState, ServerConfig};

use super::GlobalArgs;

/// Options of `nadhir serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the URL is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:9500")]
    pub listen: SocketAddr,
    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// API root to serve (repeatable; the first is the default). Default: `api`.
    #[arg(long = "api-root", value_name = "NAME")]
    pub api_roots: Vec<String>,
    /// Largest accepted request body in bytes (each API root's max_content_length).
    #[arg(long, default_value_t = 100 * 1024 * 1024)]
    pub max_content_length: u64,
    /// Seconds a request may take before it fails with 503.
    #[arg(long, default_value_t = 120)]
    pub request_timeout: u64,
    /// Page size when a request gives no `limit`.
    #[arg(long, default_value_t = 1000)]
    pub default_page_size: usize,
    /// Largest page served, whatever `limit` asks.
    #[arg(long, default_value_t = 10_000)]
    pub max_page_size: usize,
    /// Title shown by discovery.
    #[arg(long, default_value = "Nadhir TAXII 2.1 server")]
    pub title: String,
    /// Contact shown by discovery.
    #[arg(long)]
    pub contact: Option<String>,
    /// Follow these telemetry files (like tail -F) for early warning (repeatable).
    #[arg(long = "watch", value_name = "FILE")]
    pub watch: Vec<PathBuf>,
    /// Do not run the early-warning engine (TAXII only).
    #[arg(long)]
    pub no_warning: bool,
    #[command(flatten)]
    pub nats: super::watch::NatsArgs,
    #[command(flatten)]
    pub engine: super::watch::EngineArgs,
    /// Seconds a graceful shutdown waits for background ingestion (large POSTs) to
    /// finish; objects not processed by then are reported as failures in their status.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Milliseconds between two records of this server's liveness in the store; a
    /// server not seen for three periods is taken for stopped, and the statuses it left
    /// pending are finalised by the servers still running on the store.
    #[arg(long, default_value_t = 5000)]
    pub liveness_ms: u64,
    /// Milliseconds between federation rounds (pull from peers, recalls, deletions).
    #[arg(long, default_value_t = 1000)]
    pub sync_interval_ms: u64,
    /// Do not run the federation loops (peers can still pull from this node).
    #[arg(long)]
    pub no_sync: bool,
}

fn config(args: &ServeArgs) -> ServerConfig {
    let names: Vec<String> = if args.api_roots.is_empty() {
        vec![taxii::server::DEFAULT_API_ROOT.to_owned()]
    } else {
        args.api_roots.clone()
    };
    let mut c = ServerConfig::with_roots(names).with_max_content_length(args.max_content_length);
    c.title = args.title.clone();
    c.contact = args.contact.clone();
    c.tls = args.tls_cert.is_some();
    c.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    c.default_page_size = args.default_page_size.max(1);
    c.max_page_size = args.max_page_size.max(1);
    c.liveness_period = Duration::from_millis(args.liveness_ms.max(10));
    c.api_roots = c
        .api_roots
        .into_iter()
        .map(|r| ApiRootConfig {
            title: format!("Nadhir API root {}", r.name),
            ..r
        })
        .collect();
    c
}

/// Alerts are handed out (API, live stream, webhooks) through the same policy as TAXII:
/// a reader receives an alert only if it may read the object the alert is about.
#[derive(Debug)]
struct AlertPolicy(AppState);

#[async_trait::async_trait]
impl warning::engine::gate::AlertGate for AlertPolicy {
    async fn may_read(
        &self,
        reader: &warning::engine::gate::Reader,
        ids: &[String],
        purpose: warning::engine::gate::AlertPurpose,
    ) -> Result<Vec<bool>, String> {
        use taxii::server::gate::{self, LocalPurpose};
        use warning::engine::gate::AlertPurpose;
        let store = self.0.store.as_ref();
        let dir = self
            .0
            .directory
            .get(store)
            .await
            .map_err(|e| e.to_string())?;
        let org = if reader.org.is_empty() {
            dir.node_org.to_string()
        } else {
            reader.org.clone()
        };
        let p = taxii::server::Principal {
            key: String::new(),
            org_id: org,
            role: reader.role.clone(),
            user_id: reader.user.clone(),
        };
        let purpose = match purpose {
            AlertPurpose::Read => LocalPurpose::Read,
            AlertPurpose::Stream => LocalPurpose::Stream,
            AlertPurpose::Webhook => LocalPurpose::Webhook,
        };
        gate::objects_visible(store, &dir, &p, ids, purpose)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Installs the Ctrl-C and SIGTERM handlers now (so a signal that arrives before the
/// server starts serving is not lost) and returns a future that resolves on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    let ctrl_c = tokio::spawn(tokio::signal::ctrl_c());
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    Ok(async move {
        #[cfg(unix)]
        let term = term.recv();
        #[cfg(not(unix))]
        let term = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

pub fn run(g: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = super::open_store(g).await?;
        let cfg = config(&args);
        let default_root = cfg.default_root.clone().unwrap_or_default();
        let state = AppState::new(store.clone(), cfg)
            .await
            .context("cannot start the TAXII server")?;
        let expiry = taxii::server::spawn_status_expiry(state.clone(), Duration::from_secs(600));
        let liveness = taxii::server::spawn_liveness(state.clone());
        let node = federation::node::Node::open(store.clone(), &g.data_dir)
            .await
            .context("cannot load the node's identity")?;
        state.set_federation(std::sync::Arc::new(federation::node::NodeHook(node.clone())));
        state.set_publish_signer(std::sync::Arc::new(node.publication_signer()));
        let mut app = taxii::server::router(state.clone())
            .merge(federation::api::router(state.clone(), node.clone()));
        let (warn_stop, warn_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        if !args.no_sync {
            tasks.push(federation::runtime::spawn(
                node.clone(),
                Duration::from_millis(args.sync_interval_ms.max(50)),
                warn_rx.clone(),
            ));
        }
        if !args.no_warning {
            let wcfg = args.engine.config(&default_root)?;
            let engine = warning::engine::Engine::start(store.clone(), wcfg)
                .await
                .context("cannot start the early-warning engine")?;
            engine.set_gate(std::sync::Arc::new(AlertPolicy(state.clone())));
            tasks.push(engine.spawn_reloader(warn_rx.clone()));
            tasks.push(engine.spawn_webhooks(warn_rx.clone()));
            tasks.push(engine.spawn_watchlist(Duration::from_secs(2), warn_rx.clone()));
            for path in &args.watch {
                let e = engine.clone();
                let rx = warn_rx.clone();
                let src = warning::engine::source::FileSource::new(path.clone(), true);
                let name = path.display().to_string();
                tasks.push(tokio::spawn(async move {
                    if let Err(err) = e.run_file(src, rx, |_, _| {}).await {
                        tracing::error!(code = err.code(), source = %name, "telemetry source stopped: {err}");
                    }
                }));
            }
            if let Some(src) = args.nats.source(None) {
                let e = engine.clone();
                let rx = warn_rx.clone();
                tasks.push(tokio::spawn(async move {
                    if let Err(err) = e.run_nats(src, rx, |_| {}).await {
                        tracing::error!(code = err.code(), "NATS source stopped: {err}");
                    }
                }));
            }
            app = app.merge(warning::engine::http::router(engine, warn_rx.clone()));
        }
        let scheme = if args.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot load TLS certificate {} / key {}",
                            cert.display(),
                            key.display()
                        )
                    })?;
                let handle = axum_server::Handle::new();
                let h2 = handle.clone();
                let stop = shutdown_signal()?;
                let warn_stop = warn_stop.clone();
                tokio::spawn(async move {
                    stop.await;
                    // Live streams and sources end first, so in-flight requests can finish.
                    let _ = warn_stop.send(true);
                    h2.graceful_shutdown(Some(Duration::from_secs(30)));
                });
                let server = axum_server::bind_rustls(args.listen, tls).handle(handle.clone());
                let serving = tokio::spawn(server.serve(app.into_make_service()));
                let addr = handle
                    .listening()
                    .await
                    .context("the TLS listener did not start")?;
                announce(scheme, addr, &default_root);
                serving
                    .await
                    .context("server task failed")?
                    .context("server failed")?;
            }
            _ => {
                let listener = tokio::net::TcpListener::bind(args.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", args.listen))?;
                let addr = listener.local_addr()?;
                let stop = shutdown_signal()?;
                let stop = {
                    let warn_stop = warn_stop.clone();
                    async move {
                        stop.await;
                        // Live streams and sources end first, so in-flight requests can
                        // finish.
                        let _ = warn_stop.send(true);
                    }
                };
                announce(scheme, addr, &default_root);
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                    .context("server failed")?;
            }
        }
        let drained = state
            .drain_ingest(Duration::from_secs(args.shutdown_grace))
            .await;
        if drained.running_at_start > 0 {
            tracing::info!(
                running = drained.running_at_start,
                finished_in_grace = drained.finished_in_grace,
                still_running = drained.still_running,
                "background ingestion drained"
            );
        }
        expiry.abort();
        liveness.abort();
        if let Err(e) = state.leave().await {
            tracing::warn!(code = e.code(), error = %e, "cannot remove this server's liveness record");
        }
        let _ = warn_stop.send(true);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints the discovery and default API root URLs on stdout (scripts read the first line).
fn announce(scheme: &str, addr: SocketAddr, default_root: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{scheme}://{addr}/taxii2/");
    let _ = writeln!(out, "default API root: {scheme}://{addr}/{default_root}/");
    let _ = out.flush();
    tracing::info!(%addr, scheme, "TAXII server listening");
}
