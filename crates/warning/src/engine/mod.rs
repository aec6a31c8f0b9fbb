//! The early-warning runtime: telemetry in, sightings and alerts out.
//!
//! ```text
//!  sources (file / tail -F, stdin, HTTP NDJSON, NATS JetStream)
//!        │ Batch: newline-delimited events + how to name each event
//!        ▼
//!  Engine::process ── scan every line against the live index (blocking pool)
//!        │            (matcher::Scanner; hits for IOC-shaped indicators)
//!        ▼
//!  Store::record_hits ── counts each (window, event) once, across every worker
//!        ▼
//!  sighting + observed-data + SCOs (STIX, in the `sightings` collection)
//!        ▼
//!  alerts (records + the feed) ──► live stream (SSE, Last-Event-ID), webhooks (HMAC)
//! ```
//!
//! A source acknowledges (checkpoints, or acks its NATS messages) only after
//! [`Engine::process`] returned: at-least-once delivery, and the store's dedup keys make
//! the counts exactly-once.
//!
//! *Boundary*: this module does the I/O the pure modules of this crate avoid; the
//! decisions (severity, windows, activity) stay in those modules.

pub mod alerts;
pub mod assets;
pub mod deliver;
pub mod gate;
pub mod http;
pub mod indicators;
pub mod nats;
pub mod pipeline;
pub mod source;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use matcher::fields::FieldMap;
use serde::Serialize;
use store::{Collection, CollectionId, NewObject, Store, StoreError};

pub use indicators::LiveIndicators;
pub use pipeline::{Batch, BatchReport, EventIds};

/// Errors of the runtime. [`EngineError::code`] and [`EngineError::http_status`] are
/// the error table (also in the crate README).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("alert {0:?} not found")]
    AlertNotFound(String),
    #[error(transparent)]
    Alert(#[from] crate::alert::AlertError),
    #[error("webhook {0:?} not found")]
    WebhookNotFound(String),
    #[error("invalid webhook: {0}")]
    BadWebhook(String),
    #[error(transparent)]
    Asset(#[from] crate::watchlist::AssetError),
    #[error("asset {0:?} not found")]
    AssetNotFound(String),
    #[error("stored {kind} {id:?} is corrupt: {reason}")]
    Corrupt {
        kind: &'static str,
        id: String,
        reason: String,
    },
    #[error("cannot build the indicator index: {0}")]
    Index(String),
    #[error("nats: {0}")]
    Nats(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl EngineError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Store(e) => e.code(),
            EngineError::Io { .. } => "warning.io",
            EngineError::AlertNotFound(_) => "warning.alert.not_found",
            EngineError::Alert(e) => e.code(),
            EngineError::WebhookNotFound(_) => "warning.webhook.not_found",
            EngineError::BadWebhook(_) => "warning.webhook.invalid",
            EngineError::Asset(e) => e.code(),
            EngineError::AssetNotFound(_) => "warning.watchlist.not_found",
            EngineError::Corrupt { .. } => "warning.corrupt_record",
            EngineError::Index(_) => "warning.index",
            EngineError::Nats(_) => "warning.nats",
            EngineError::Config(_) => "warning.config",
        }
    }

    /// HTTP status for the API.
    pub fn http_status(&self) -> u16 {
        match self {
            EngineError::AlertNotFound(_)
            | EngineError::WebhookNotFound(_)
            | EngineError::AssetNotFound(_) => 404,
            EngineError::Alert(crate::alert::AlertError::InvalidTransition { .. })
            | EngineError::Alert(crate::alert::AlertError::AlreadyFalsePositive { .. }) => 409,
            EngineError::Alert(_)
            | EngineError::BadWebhook(_)
            | EngineError::Asset(_)
            | EngineError::Config(_) => 422,
            EngineError::Nats(_) => 502,
            _ => 500,
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Locks `m`, also after a panic on another thread (the data guarded here stays
/// consistent at every await-free step: counters, samples, the stream evaluator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Alias of the collection sightings are written to.
pub const SIGHTINGS_ALIAS: &str = "sightings";
/// State key holding this node's identity object (JSON).
pub const IDENTITY_STATE: &str = "node.identity";

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Name of this node's organisation (its STIX identity), used when the node has no
    /// identity yet.
    pub node_name: String,
    /// API root of the `sightings` collection when it has to be created.
    pub api_root: String,
    /// Sighting window length, seconds (aligned on the Unix epoch).
    pub window_secs: u32,
    /// [`Engine::prune`] forgets the dedup keys of windows that ended longer ago than
    /// this before the slowest source's latest event time. Hits in windows whose keys
    /// were pruned are late (not counted: they might be counted twice); until then a
    /// hit of any age, such as an event redelivered after a worker died, is counted
    /// exactly once.
    pub allowed_lateness_secs: u32,
    /// SCOs referenced per observed-data, at most.
    pub max_scos: usize,
    /// Minimum effective confidence of an active indicator.
    pub min_confidence: u8,
    /// Confidence assumed for indicators without one.
    pub default_confidence: u8,
    /// Field extraction.
    pub field_map: Arc<FieldMap>,
    /// Longest event accepted; longer lines are counted and sampled, not scanned.
    pub max_line_bytes: usize,
    /// How often the store is checked for changed indicators.
    pub reload_interval: Duration,
    /// Undecodable events kept for inspection (the most recent ones).
    pub bad_sample_size: usize,
    /// How the live index takes changes in layers before a full rebuild.
    pub layer_limits: indicators::LayerLimits,
}

impl EngineConfig {
    /// Defaults: hourly windows, 5 minutes of lateness, 100 SCOs per window, minimum
    /// confidence 0 (unset counts as 50), the EVE + Zeek field maps, 1 MiB lines,
    /// reload every second, 50 samples.
    pub fn new(node_name: impl Into<String>, api_root: impl Into<String>) -> Self {
        EngineConfig {
            node_name: node_name.into(),
            api_root: api_root.into(),
            window_secs: 3600,
            allowed_lateness_secs: 300,
            max_scos: 100,
            min_confidence: 0,
            default_confidence: 50,
            field_map: Arc::new(FieldMap::auto()),
            max_line_bytes: 1 << 20,
            reload_interval: Duration::from_secs(1),
            bad_sample_size: 50,
            layer_limits: indicators::LayerLimits::default(),
        }
    }
}

/// An event that could not be decoded, kept for inspection.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct BadSample {
    /// The event's id at its source (`file:<path>:<offset>`, …).
    pub event_id: String,
    /// Why it was refused (with the byte column where known).
    pub reason: String,
    /// The first 256 bytes, lossily decoded.
    pub head: String,
    /// Its length in bytes.
    pub len: u64,
    /// Unix microseconds when it was seen.
    pub at: i64,
}

/// Counters since the engine started.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub events: AtomicU64,
    pub bytes: AtomicU64,
    pub hits: AtomicU64,
    pub counted: AtomicU64,
    pub duplicates: AtomicU64,
    pub late: AtomicU64,
    pub bad: AtomicU64,
    pub too_long: AtomicU64,
    pub invalid_utf8: AtomicU64,
    pub no_time: AtomicU64,
    pub alerts: AtomicU64,
    pub sightings_written: AtomicU64,
    pub pattern_matches: AtomicU64,
}

/// A snapshot of [`EngineStats`] and the index, for `/warning/status` and the CLI.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub identity_id: String,
    pub events: u64,
    pub bytes: u64,
    pub hits: u64,
    pub counted: u64,
    pub duplicates: u64,
    pub late: u64,
    pub bad: u64,
    pub too_long: u64,
    pub invalid_utf8: u64,
    pub no_time: u64,
    pub alerts: u64,
    pub sightings_written: u64,
    pub pattern_matches: u64,
    pub index: indicators::IndexStatus,
    pub bad_samples: Vec<BadSample>,
}

/// The running early-warning engine of one node (or one worker process).
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) cfg: EngineConfig,
    pub(crate) identity_id: String,
    pub(crate) collection: CollectionId,
    pub(crate) live: ArcSwap<LiveIndicators>,
    pub(crate) stats: EngineStats,
    /// Latest event time seen per source (Unix microseconds), for late hits: event
    /// time is ordered within a source, not across sources.
    pub(crate) watermarks: Mutex<hashbrown::HashMap<String, i64>>,
    pub(crate) bad_samples: Mutex<VecDeque<BadSample>>,
    /// Wakes live streams and webhook dispatchers when the feed grew.
    pub(crate) feed_tx: tokio::sync::watch::Sender<i64>,
    pub(crate) reload: tokio::sync::Mutex<indicators::ReloadState>,
    /// Evaluates general patterns (FOLLOWEDBY, WITHIN, REPEATS, …) over the stream.
    pub(crate) stream_eval: Arc<Mutex<crate::stream::StreamEvaluator>>,
    /// The (indicator, pattern) pairs the stream evaluator holds.
    pub(crate) stream_ids: Mutex<hashbrown::HashMap<String, String>>,
    /// The node's policy for handing alerts out (installed by the server).
    pub(crate) gate: std::sync::OnceLock<Arc<dyn gate::AlertGate>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("identity_id", &self.identity_id)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Installs the policy gate alerts are handed out through (first call wins).
    pub fn set_gate(&self, gate: Arc<dyn gate::AlertGate>) -> bool {
        self.gate.set(gate).is_ok()
    }

    /// Starts the engine on `store`: makes sure the node has an identity and a
    /// `sightings` collection, and builds the index from the active indicators.
    pub async fn start(store: Arc<dyn Store>, cfg: EngineConfig) -> Result<Arc<Engine>> {
        if cfg.window_secs == 0 || cfg.max_scos == 0 || cfg.max_line_bytes == 0 {
            return Err(EngineError::Config(
                "window, max SCOs and max line bytes must be at least 1".into(),
            ));
        }
        let identity_id = ensure_identity(store.as_ref(), &cfg.node_name).await?;
        let collection = ensure_sightings_collection(store.as_ref(), &cfg.api_root).await?;
        // The identity is referenced by every sighting: keep it in the collection.
        let identity = load_identity(store.as_ref()).await?;
        store
            .insert(
                &[NewObject::from_object(&identity)],
                std::slice::from_ref(&collection),
            )
            .await?;
        let (feed_tx, _) = tokio::sync::watch::channel(0);
        let engine = Arc::new(Engine {
            store,
            cfg,
            identity_id,
            collection,
            live: ArcSwap::from_pointee(LiveIndicators::empty()),
            stats: EngineStats::default(),
            watermarks: Mutex::new(hashbrown::HashMap::new()),
            bad_samples: Mutex::new(VecDeque::new()),
            feed_tx,
            reload: tokio::sync::Mutex::new(indicators::ReloadState::default()),
            stream_ids: Mutex::new(hashbrown::HashMap::new()),
            gate: std::sync::OnceLock::new(),
            stream_eval: Arc::new(Mutex::new(
                crate::stream::StreamEvaluator::new(crate::stream::StreamConfig::default())
                    .map_err(|e| EngineError::Config(e.to_string()))?,
            )),
        });
        engine.reload(true).await?;
        Ok(engine)
    }

    /// This node's identity id.
    pub fn identity_id(&self) -> &str {
        &self.identity_id
    }

    /// The collection sightings are written to.
    pub fn sightings_collection(&self) -> &CollectionId {
        &self.collection
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The live indicators (a snapshot).
    pub fn live(&self) -> Arc<LiveIndicators> {
        self.live.load_full()
    }

    /// Wakes up when the feed may have grown (the value is the latest known sequence).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.feed_tx.subscribe()
    }

    pub(crate) fn notify_feed(&self, seq: i64) {
        self.feed_tx.send_if_modified(|v| {
            if seq > *v {
                *v = seq;
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn sample_bad(&self, sample: BadSample) {
        if self.cfg.bad_sample_size == 0 {
            return;
        }
        let mut q = lock(&self.bad_samples);
        if q.len() >= self.cfg.bad_sample_size {
            q.pop_front();
        }
        q.push_back(sample);
    }

    /// Counters, index status and the kept samples of undecodable events.
    pub fn status(&self) -> StatusReport {
        let s = &self.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let samples = lock(&self.bad_samples).iter().cloned().collect();
        StatusReport {
            identity_id: self.identity_id.clone(),
            events: l(&s.events),
            bytes: l(&s.bytes),
            hits: l(&s.hits),
            counted: l(&s.counted),
            duplicates: l(&s.duplicates),
            late: l(&s.late),
            bad: l(&s.bad),
            too_long: l(&s.too_long),
            invalid_utf8: l(&s.invalid_utf8),
            no_time: l(&s.no_time),
            alerts: l(&s.alerts),
            sightings_written: l(&s.sightings_written),
            pattern_matches: l(&s.pattern_matches),
            index: self.live.load().status.clone(),
            bad_samples: samples,
        }
    }
}

/// The node's identity id, creating the identity (an `organization`) on first use.
/// Workers starting together on one database agree on one identity (the first one
/// stored), so their sighting ids agree.
pub async fn ensure_identity(store: &dyn Store, name: &str) -> Result<String> {
    let parse = |text: &str| -> Result<String> {
        let obj = stix::Object::from_json_str(text).map_err(|e| EngineError::Corrupt {
            kind: "identity",
            id: IDENTITY_STATE.into(),
            reason: e.to_string(),
        })?;
        Ok(obj.id().to_owned())
    };
    if let Some(text) = store.get_state(IDENTITY_STATE).await? {
        return parse(&text);
    }
    let now = stix::Timestamp::from_unix_millis(store::now_micros().div_euclid(1000));
    let id = format!("identity--{}", uuid::Uuid::new_v4());
    let json = serde_json::json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": id,
        "created": now.to_string(),
        "modified": now.to_string(),
        "name": name,
        "identity_class": "organization",
    });
    parse(&store.init_state(IDENTITY_STATE, &json.to_string()).await?)
}

/// The node's identity object.
pub async fn load_identity(store: &dyn Store) -> Result<stix::Object> {
    let text = store
        .get_state(IDENTITY_STATE)
        .await?
        .ok_or_else(|| EngineError::Corrupt {
            kind: "identity",
            id: IDENTITY_STATE.into(),
            reason: "missing".into(),
        })?;
    stix::Object::from_json_str(&text).map_err(|e| EngineError::Corrupt {
        kind: "identity",
        id: IDENTITY_STATE.into(),
        reason: e.to_string(),
    })
}

/// The `sightings` collection, created in `api_root` when missing.
pub async fn ensure_sightings_collection(
    store: &dyn Store,
    api_root: &str,
) -> Result<CollectionId> {
    if let Some(c) = store.find_collection(SIGHTINGS_ALIAS).await? {
        return Ok(c.id);
    }
    let id = CollectionId(
        uuid::Uuid::new_v5(&crate::ids::SCO_NAMESPACE, b"nadhir:sightings").to_string(),
    );
    let c = Collection {
        id: id.clone(),
        api_root: api_root.to_owned(),
        title: "Sightings".into(),
        description: Some(
            "Sightings, observed data and observables produced by this node's early warning".into(),
        ),
        alias: Some(SIGHTINGS_ALIAS.into()),
        media_types: vec!["application/stix+json;version=2.1".into()],
        created: store::now_micros(),
    };
    match store.create_collection(&c).await {
        Ok(()) => Ok(id),
        // Another worker created it meanwhile.
        Err(StoreError::AlreadyExists { .. }) => Ok(id),
        Err(e) => Err(e.into()),
    }
}
