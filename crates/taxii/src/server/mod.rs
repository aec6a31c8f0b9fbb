//! The TAXII 2.1 server: [`router`] builds the axum application over a [`store::Store`].
//!
//! *Boundary*: this module speaks TAXII on the wire (envelopes, manifests, status
//! resources, error messages) and reads stored objects as JSON text; it never
//! re-parses stored objects on the read path.

pub mod auth;
pub mod error;
pub mod filters;
pub mod gate;
mod handlers;
mod ingest;
pub mod media;
pub mod metrics;
pub mod next;
pub mod recovery;
pub mod validate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::RngCore;
use store::Store;

pub use auth::{Authenticator, Principal};
pub use error::ServerError;
pub use ingest::{StatusDetail, StatusResource, ABANDONED_AT_SHUTDOWN};
pub use metrics::Metrics;
pub use next::NextSigner;
pub use recovery::{recover_orphaned_statuses, spawn_liveness, ORPHANED_BY_STOP};

/// The store key under which the node's `next`-token secret is kept.
pub const NEXT_SECRET_STATE_KEY: &str = "taxii.next_secret";

/// Status resources are kept at least this long (the spec asks for 24 hours).
pub const STATUS_RETENTION: Duration = Duration::from_secs(25 * 3600);

/// One API root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRootConfig {
    /// The URL path segment (e.g. `api1`).
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    /// TAXII versions served (always includes `application/taxii+json;version=2.1`).
    pub versions: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_content_length: u64,
}

impl ApiRootConfig {
    /// An API root with the usual defaults (10 MiB bodies).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        ApiRootConfig {
            title: format!("Nadhir API root {name}"),
            name,
            description: None,
            versions: vec![media::TAXII_MEDIA_TYPE.to_owned()],
            max_content_length: 10 * 1024 * 1024,
        }
    }
}

/// Server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Discovery title, description and contact.
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// The default API root's name (must be one of `api_roots`).
    pub default_root: Option<String>,
    pub api_roots: Vec<ApiRootConfig>,
    /// Page size when the request gives no `limit`.
    pub default_page_size: usize,
    /// Largest page served, whatever `limit` asks.
    pub max_page_size: usize,
    /// Envelopes with at most this many objects are processed before the 202 is sent
    /// (status `complete`); larger ones are processed in the background (`pending`).
    pub inline_ingest_max: usize,
    /// Whether the server is reached over TLS (for absolute URLs in discovery).
    pub tls: bool,
    /// Longest a request may take before it fails with 503.
    pub request_timeout: Duration,
    /// How often this server records that it is alive and looks for statuses left
    /// pending by a server that stopped; one that has not been seen for
    /// [`recovery::ORPHAN_AFTER_PERIODS`] periods is taken for stopped.
    pub liveness_period: Duration,
}

/// The API root a node serves when none is configured; `nadhir import` and
/// `nadhir admin collection add` put new collections there by default.
pub const DEFAULT_API_ROOT: &str = "api";

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            title: "Nadhir TAXII 2.1 server".to_owned(),
            description: Some("Federated cyber-threat-intelligence sharing".to_owned()),
            contact: None,
            default_root: Some(DEFAULT_API_ROOT.to_owned()),
            api_roots: vec![ApiRootConfig::new(DEFAULT_API_ROOT)],
            default_page_size: 1000,
            max_page_size: 10_000,
            inline_ingest_max: 1000,
            tls: false,
            request_timeout: Duration::from_secs(120),
            liveness_period: Duration::from_secs(5),
        }
    }
}

impl ServerConfig {
    /// A configuration serving the named API roots (the first is the default).
    pub fn with_roots<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let api_roots: Vec<ApiRootConfig> = names.into_iter().map(ApiRootConfig::new).collect();
        ServerConfig {
            default_root: api_roots.first().map(|r| r.name.clone()),
            api_roots,
            ..ServerConfig::default()
        }
    }

    /// Sets every API root's `max_content_length`.
    pub fn with_max_content_length(mut self, bytes: u64) -> Self {
        for r in &mut self.api_roots {
            r.max_content_length = bytes;
        }
        self
    }

    pub fn root(&self, name: &str) -> Option<&ApiRootConfig> {
        self.api_roots.iter().find(|r| r.name == name)
    }

    /// Checks names are usable path segments and the default root exists.
    pub fn check(&self) -> Result<(), ServerError> {
        for r in &self.api_roots {
            let ok = !r.name.is_empty()
                && r.name
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
                && r.name != "taxii2"
                && r.name != "metrics";
            if !ok {
                return Err(ServerError::Internal(format!(
                    "API root name {:?} must be a non-empty path segment of letters, digits, '-', '_' or '.', and not 'taxii2' or 'metrics'",
                    r.name
                )));
            }
        }
        if let Some(d) = &self.default_root {
            if self.root(d).is_none() {
                return Err(ServerError::Internal(format!(
                    "default API root {d:?} is not configured"
                )));
            }
        }
        Ok(())
    }
}

/// Everything a request handler needs.
#[derive(Debug)]
pub struct ServerState {
    pub store: Arc<dyn Store>,
    pub config: ServerConfig,
    pub signer: NextSigner,
    pub auth: Authenticator,
    pub metrics: Metrics,
    /// Collections found recently (by id or alias), reused for [`auth::CACHE_TTL`].
    pub(crate) collections: auth::TtlCache<store::Collection>,
    /// Background ingestions in flight (large POSTs answered with a pending status).
    pub(crate) background: Background,
    /// The policy directory every read decision is taken against.
    pub directory: gate::DirectoryCache,
    /// What crosses to partner nodes (set once by the federation layer).
    pub federation: std::sync::OnceLock<Arc<dyn gate::FederationHook>>,
    /// Signs what local accounts publish, once, when it is stored (installed by the
    /// server with the node's key; without it, copies are signed as they leave).
    pub publish_signer: std::sync::OnceLock<Arc<dyn gate::PublishSigner>>,
    /// This server process's random instance id: the owner of the statuses it is
    /// processing, and the key of its liveness row in the store.
    pub instance: String,
}

/// Counts the background ingestions in flight and carries the request to stop them
/// (see [`AppState::drain_ingest`]).
#[derive(Debug)]
pub(crate) struct Background {
    running: tokio::sync::watch::Sender<usize>,
    stop: std::sync::atomic::AtomicBool,
}

/// Held by one background ingestion while it runs; dropping it (normally or on a
/// panic) counts the ingestion as finished.
#[derive(Debug)]
pub(crate) struct RunningGuard(AppState);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0
            .background
            .running
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Background {
    fn new() -> Self {
        Background {
            running: tokio::sync::watch::Sender::new(0),
            stop: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether background ingestions must stop after the batch they are writing.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How many background ingestions are running.
    pub(crate) fn running(&self) -> usize {
        *self.running.borrow()
    }

    /// Waits until no background ingestion runs, or `limit` passes; true when none runs.
    async fn idle_within(&self, limit: Duration) -> bool {
        let mut rx = self.running.subscribe();
        let idle = tokio::time::timeout(limit, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok());
        idle
    }
}

/// What [`AppState::drain_ingest`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Background ingestions running when the drain began.
    pub running_at_start: usize,
    /// Whether they all finished within the grace period (otherwise the ones still
    /// running were stopped and their unprocessed objects reported as failures).
    pub finished_in_grace: bool,
    /// Background ingestions still running when the drain gave up (0 unless a batch
    /// write hung past the second wait).
    pub still_running: usize,
}

/// Shared handle on the server state.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<ServerState>);

impl std::ops::Deref for AppState {
    type Target = ServerState;
    fn deref(&self) -> &ServerState {
        &self.0
    }
}

/// After a stop request, how long at least a graceful shutdown waits for background
/// ingestions to finish their batch and save their status (a status of tens of
/// thousands of entries takes about a second to serialise and write on a loaded
/// machine).
pub const STOP_FINISH_WAIT: Duration = Duration::from_secs(5);

impl AppState {
    /// Builds the state, loading the node's `next`-token secret from the store (or
    /// creating and saving one), so tokens survive restarts.
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self, ServerError> {
        config.check()?;
        let key = match store.get_state(NEXT_SECRET_STATE_KEY).await? {
            Some(hexkey) => {
                let raw = hex::decode(hexkey.trim()).map_err(|_| {
                    ServerError::Internal(format!("stored {NEXT_SECRET_STATE_KEY} is not hex"))
                })?;
                <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| {
                    ServerError::Internal(format!("stored {NEXT_SECRET_STATE_KEY} is not 32 bytes"))
                })?
            }
            None => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                store
                    .set_state(NEXT_SECRET_STATE_KEY, &hex::encode(key))
                    .await?;
                key
            }
        };
        let state = Self::with_secret(store, config, key);
        // Alive before the first status it could own is saved.
        state
            .store
            .heartbeat(&state.instance, store::now_micros())
            .await?;
        Ok(state)
    }

    /// Builds the state with a given `next`-token secret.
    pub fn with_secret(store: Arc<dyn Store>, config: ServerConfig, key: [u8; 32]) -> Self {
        AppState(Arc::new(ServerState {
            store,
            config,
            signer: NextSigner::new(key),
            auth: Authenticator::new(),
            metrics: Metrics::new(),
            collections: auth::TtlCache::new(),
            background: Background::new(),
            directory: gate::DirectoryCache::default(),
            federation: std::sync::OnceLock::new(),
            publish_signer: std::sync::OnceLock::new(),
            instance: uuid::Uuid::new_v4().to_string(),
        }))
    }

    /// Removes this instance's liveness row (after [`AppState::drain_ingest`], at
    /// shutdown): any status it still owns is at once an orphan for other servers.
    pub async fn leave(&self) -> Result<(), ServerError> {
        self.store.forget_instance(&self.instance).await?;
        Ok(())
    }

    /// Installs the federation hook (peer reads and pushes); only the first call counts.
    pub fn set_federation(&self, hook: Arc<dyn gate::FederationHook>) -> bool {
        self.federation.set(hook).is_ok()
    }

    /// Installs the signer of local publications; only the first call counts.
    pub fn set_publish_signer(&self, signer: Arc<dyn gate::PublishSigner>) -> bool {
        self.publish_signer.set(signer).is_ok()
    }

    /// Registers one background ingestion (see [`Background`]).
    pub(crate) fn enter_background(&self) -> RunningGuard {
        self.background.running.send_modify(|n| *n += 1);
        RunningGuard(self.clone())
    }

    /// Graceful shutdown of background ingestion; call it after the HTTP server has
    /// stopped accepting requests and finished the ones in flight.
    ///
    /// Waits up to `grace` for every background ingestion (a POST answered with a
    /// `pending` status) to finish. Any still running then is asked to stop: it
    /// finishes the batch it is writing (so what is committed is reported as committed),
    /// records every object it has not processed as a failure with the message
    /// [`ABANDONED_AT_SHUTDOWN`], and saves its status as `complete`. A status
    /// is therefore never left `pending` by a graceful shutdown. The second wait, for
    /// that last batch and the final save, lasts `grace` but at least
    /// [`STOP_FINISH_WAIT`]; a status whose save does not finish by then is left to
    /// the crash recovery of the next server on the store ([`recovery`]).
    pub async fn drain_ingest(&self, grace: Duration) -> DrainReport {
        let running_at_start = self.background.running();
        let finished_in_grace = self.background.idle_within(grace).await;
        if !finished_in_grace {
            tracing::warn!(
                running = self.background.running(),
                "background ingestion still running after the grace period: stopping it"
            );
            self.background
                .stop
                .store(true, std::sync::atomic::Ordering::Release);
            self.background
                .idle_within(grace.max(STOP_FINISH_WAIT))
                .await;
        }
        DrainReport {
            running_at_start,
            finished_in_grace,
            still_running: self.background.running(),
        }
    }
}

/// The TAXII 2.1 application: every endpoint of §4, `/metrics`, and TAXII error
/// messages for unknown routes (404) and methods (405).
pub fn router(state: AppState) -> Router {
    use handlers as h;
    Router::new()
        .route("/taxii2/", get(h::discovery))
        .route("/metrics", get(h::metrics))
        .route("/{api_root}/", get(h::api_root))
        .route("/{api_root}/status/{status_id}/", get(h::status))
        // taxii2-client builds status URLs without the trailing slash.
        .route("/{api_root}/status/{status_id}", get(h::status))
        .route("/{api_root}/collections/", get(h::collections))
        .route("/{api_root}/collections/{collection}/", get(h::collection))
        .route(
            "/{api_root}/collections/{collection}/objects/",
            get(h::get_objects).post(ingest::add_objects),
        )
        .route(
            "/{api_root}/collections/{collection}/objects/{object}/",
            get(h::get_object).delete(h::delete_object),
        )
        .route(
            "/{api_root}/collections/{collection}/objects/{object}/versions/",
            get(h::versions),
        )
        .route(
            "/{api_root}/collections/{collection}/manifest/",
            get(h::manifest),
        )
        .fallback(h::not_found)
        .method_not_allowed_fallback(h::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Times out slow requests, records metrics and logs each request.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ServerError::Timeout(state.config.request_timeout).into_response(),
    };
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state
        .metrics
        .observe_request(&method, &route, status, elapsed);
    tracing::debug!(%method, %route, status, micros = elapsed.as_micros() as u64, "request");
    resp
}

/// Removes status resources older than [`STATUS_RETENTION`] once; returns how many.
pub async fn expire_statuses(state: &AppState) -> Result<u64, ServerError> {
    let cutoff = stix::Timestamp::now_unix_micros() - STATUS_RETENTION.as_micros() as i64;
    Ok(state.store.expire_statuses(cutoff).await?)
}

/// Runs [`expire_statuses`] every `every` until the task is aborted.
pub fn spawn_status_expiry(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match expire_statuses(&state).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired old status resources"),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code(), error = %e, "status expiry failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks_root_names() {
        assert!(ServerConfig::default().check().is_ok());
        assert!(ServerConfig::with_roots(["a", "b-2"]).check().is_ok());
        assert!(ServerConfig::with_roots(["taxii2"]).check().is_err());
        assert!(ServerConfig::with_roots(["a/b"]).check().is_err());
        let mut c = ServerConfig::with_roots(["a"]);
        c.default_root = Some("zzz".into());
        assert!(c.check().is_err());
        let c = ServerConfig::with_roots(["a", "b"]).with_max_content_length(5);
        assert!(c.api_roots.iter().all(|r| r.max_content_length == 5));
        assert_eq!(c.default_root.as_deref(), Some("a"));
    }
}
