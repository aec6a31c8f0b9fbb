//! Versioned STIX object storage behind one trait, with two implementations:
//! SQLite (embedded, the default, in a data directory) and PostgreSQL (by URL).
//!
//! *Invariant*: every stored object version has a unique, strictly increasing `added`
//! cursor and a strictly increasing `date_added` (Unix microseconds) assigned in
//! commit order, so paging by cursor (or by `date_added`) never skips or repeats a
//! row, even while other writers commit.
//!
//! *Invariant*: (id, version) identifies a version. Inserting the same version with the
//! same content is a no-op; with different content it is a [`InsertOutcome::Conflict`].
//!
//! *Invariant*: the egress ledger ([`Store::append_egress`]) is append-only and
//! hash-chained: seq 1, 2, … without gaps, each row's hash covering its predecessor's,
//! all assigned in the single writer transaction; [`verify_egress_chain`] checks it.
//!
//! *Boundary*: the store makes no policy decisions; callers filter what they read.

pub mod types;
pub use types::*;

mod common;
#[doc(hidden)]
pub mod conformance;
mod insert;
mod postgres;
mod sql;
mod sqlite;

pub use postgres::{redact as redact_url, PostgresStore};
pub use sqlite::SqliteStore;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;

/// File name of the embedded database inside the data directory.
pub const SQLITE_FILE_NAME: &str = "nadhir.db";

/// Opens the store: a `postgres://` / `postgresql://` URL selects PostgreSQL,
/// `sqlite://PATH` (or `sqlite:PATH`) SQLite at that path, and no URL the embedded
/// SQLite database `nadhir.db` in `data_dir` (created, with the directory, if missing).
/// Migrations are applied before the store is returned.
pub async fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Arc<dyn Store>> {
    match database_url.map(str::trim) {
        None | Some("") => {
            let store = SqliteStore::open(&data_dir.join(SQLITE_FILE_NAME)).await?;
            Ok(Arc::new(store))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect(url).await?))
        }
        Some(url) => match url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Some(path) if !path.is_empty() => {
                let path = path.split('?').next().unwrap_or(path);
                Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
            }
            _ => Err(StoreError::UnsupportedUrl(url.to_owned())),
        },
    }
}

/// Maps a failed write: a unique violation becomes [`StoreError::AlreadyExists`] for
/// (`kind`, `id`), a foreign-key violation [`StoreError::NotFound`] for the referenced
/// (`ref_kind`, `ref_id`).
pub(crate) fn map_write_error(
    e: sqlx::Error,
    kind: &'static str,
    id: String,
    ref_kind: &'static str,
    ref_id: &str,
) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::AlreadyExists { kind, id };
        }
        if d.is_foreign_key_violation() {
            return StoreError::NotFound {
                kind: ref_kind,
                id: ref_id.to_owned(),
            };
        }
    }
    StoreError::Database(e)
}

/// A database count as `u64`.
pub(crate) fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

/// Rows per chunk when [`Store::stream`] pages through a result.
pub const STREAM_CHUNK: usize = 1000;

/// [`Store::stream`] for any store: pages by cursor in chunks of [`STREAM_CHUNK`].
pub(crate) fn paged_stream<'a, S: Store + ?Sized>(
    store: &'a S,
    query: Query,
) -> BoxStream<'a, Result<StoredObject>> {
    use futures::StreamExt;
    struct State {
        query: Query,
        remaining: Option<usize>,
        buf: std::collections::VecDeque<StoredObject>,
        done: bool,
    }
    let state = State {
        remaining: query.limit,
        query,
        buf: std::collections::VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, move |mut st| async move {
        loop {
            if let Some(o) = st.buf.pop_front() {
                return Some((Ok(o), st));
            }
            if st.done {
                return None;
            }
            let chunk = st.remaining.map_or(STREAM_CHUNK, |r| r.min(STREAM_CHUNK));
            if chunk == 0 {
                return None;
            }
            let mut q = st.query.clone();
            q.limit = Some(chunk);
            match store.query(&q).await {
                Ok(page) => {
                    if let Some(last) = page.objects.last() {
                        st.query.after_cursor = Some(last.cursor);
                    }
                    if let Some(r) = st.remaining.as_mut() {
                        *r = r.saturating_sub(page.objects.len());
                    }
                    st.done = !page.more || page.objects.is_empty();
                    st.buf = page.objects.into();
                }
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            }
        }
    })
    .boxed()
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot open store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("{kind} {id:?} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} {id:?} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    #[error("invalid stored data: {0}")]
    Corrupt(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl StoreError {
    /// Stable machine-readable code for the error table.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Database(_) => "store.database",
            StoreError::Migration(_) => "store.migration",
            StoreError::Open { .. } => "store.open",
            StoreError::UnsupportedUrl(_) => "store.unsupported_url",
            StoreError::NotFound { .. } => "store.not_found",
            StoreError::AlreadyExists { .. } => "store.already_exists",
            StoreError::Corrupt(_) => "store.corrupt",
            StoreError::InvalidArgument(_) => "store.invalid_argument",
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Versioned object storage. Implemented by `SqliteStore` and `PostgresStore`;
/// both are checked by the same conformance suite (`conformance` module).
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend this is ("sqlite" or "postgres").
    fn backend(&self) -> &'static str;

    // ----- objects -----

    /// Starts a write transaction for a stream of batches. Nothing is visible to
    /// readers until [`WriteTx::commit`]; dropping the transaction rolls it back.
    async fn begin(&self) -> Result<Box<dyn WriteTx + '_>>;

    /// Convenience: one batch in its own transaction.
    async fn insert(
        &self,
        objects: &[NewObject],
        collections: &[CollectionId],
    ) -> Result<Vec<InsertOutcome>> {
        let mut tx = self.begin().await?;
        let out = tx.insert(objects, collections).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// One page of object versions matching `query`, ordered by the cursor.
    async fn query(&self, query: &Query) -> Result<Page>;

    /// Every object version matching `query` (its `limit` caps the total), as a stream
    /// read in bounded chunks: memory stays flat however large the result.
    fn stream<'a>(&'a self, query: Query) -> BoxStream<'a, Result<StoredObject>>;

    /// Deletes versions of one object from a collection (or from the whole store when
    /// `collection` is `None`), records a tombstone for each, and returns how many
    /// versions were removed. `versions` selects which (see [`VersionFilter`]; empty
    /// selects every version); `spec_versions`, when not empty, restricts further.
    async fn delete_object(
        &self,
        collection: Option<&CollectionId>,
        id: &str,
        versions: &VersionFilter,
        spec_versions: &[String],
    ) -> Result<u64>;

    /// Tombstones recorded after `after_seq`, oldest first.
    async fn tombstones(&self, after_seq: i64, limit: usize) -> Result<Vec<Tombstone>>;

    // ----- collections -----

    async fn create_collection(&self, c: &Collection) -> Result<()>;
    async fn get_collection(&self, id: &CollectionId) -> Result<Option<Collection>>;
    /// Finds a collection by id or by alias.
    async fn find_collection(&self, id_or_alias: &str) -> Result<Option<Collection>>;
    async fn list_collections(&self, api_root: Option<&str>) -> Result<Vec<Collection>>;
    async fn delete_collection(&self, id: &CollectionId) -> Result<()>;

    // ----- statistics -----

    async fn stats(&self) -> Result<Stats>;

    // ----- TAXII status resources -----

    async fn put_status(&self, status: &StatusRecord) -> Result<()>;
    async fn get_status(&self, id: &str) -> Result<Option<StatusRecord>>;
    /// Removes status resources created before `before_unix_micros`; returns how many.
    async fn expire_statuses(&self, before_unix_micros: i64) -> Result<u64>;
    /// Saves `status` only while `expected_owner` is its owner instance (the status
    /// then takes `status.owner_instance` and `status.collection`); returns whether it
    /// was saved. A background ingestion saves its progress this way, so once another
    /// instance has claimed the status ([`Store::claim_orphaned_statuses`]) the former
    /// owner can no longer overwrite it.
    async fn put_status_if_owner(
        &self,
        status: &StatusRecord,
        expected_owner: &str,
    ) -> Result<bool>;

    // ----- liveness of server processes, recovery of orphaned statuses -----

    /// Records that server instance `instance` is alive at `now_micros`.
    async fn heartbeat(&self, instance: &str, now_micros: i64) -> Result<()>;
    /// Removes an instance's liveness row (at shutdown); returns whether it existed.
    /// Statuses it still owns are orphans from then on.
    async fn forget_instance(&self, instance: &str) -> Result<bool>;
    /// Claims for `claimer` at most `limit` statuses whose owner instance has not been
    /// seen since `seen_since` (Unix microseconds) or has no liveness row, and returns
    /// them (their `owner_instance` is now `claimer`). Each claim is a conditional update
    /// on the previous owner and its staleness, so two claimers never both get a status
    /// and a status whose owner is alive is never returned. The claimer finalises them
    /// with [`Store::put_status_if_owner`]; if it dies first, they become orphans of
    /// the claimer and are claimed again later.
    async fn claim_orphaned_statuses(
        &self,
        claimer: &str,
        seen_since: i64,
        limit: usize,
    ) -> Result<Vec<StatusRecord>>;
    /// The (id, version_key) of every version of `ids` in `collection`, in no order.
    async fn versions_in_collection(
        &self,
        collection: &CollectionId,
        ids: &[String],
    ) -> Result<Vec<(String, String)>>;

    // ----- organisations, users, tokens, permissions -----

    async fn create_org(&self, org: &Org) -> Result<()>;
    async fn get_org(&self, id_or_name: &str) -> Result<Option<Org>>;
    async fn list_orgs(&self) -> Result<Vec<Org>>;
    async fn create_user(&self, user: &User) -> Result<()>;
    async fn get_user_by_name(&self, username: &str) -> Result<Option<User>>;
    async fn list_users(&self, org: Option<&str>) -> Result<Vec<User>>;
    async fn create_token(&self, token: &TokenRecord) -> Result<()>;
    /// Looks a token up by the SHA-256 of its secret (the secret is never stored).
    async fn get_token_by_hash(&self, sha256_hex: &str) -> Result<Option<TokenRecord>>;
    async fn list_tokens(&self, org: Option<&str>) -> Result<Vec<TokenRecord>>;
    async fn revoke_token(&self, token_id: &str) -> Result<()>;
    /// Sets (or replaces) an organisation's rights on a collection.
    async fn set_permission(&self, p: &Permission) -> Result<()>;
    async fn get_permission(
        &self,
        collection: &CollectionId,
        org_id: &str,
    ) -> Result<Option<Permission>>;
    async fn list_permissions(&self, collection: &CollectionId) -> Result<Vec<Permission>>;

    // ----- small durable key/value state (cursors, checkpoints) -----

    async fn get_state(&self, key: &str) -> Result<Option<String>>;
    async fn set_state(&self, key: &str, value: &str) -> Result<()>;
    /// Sets `key` to `value` only if it has no value yet, atomically (also across
    /// processes sharing the database); returns the value stored, this one or the
    /// one that was there first.
    async fn init_state(&self, key: &str, value: &str) -> Result<String>;

    // ----- early warning -----

    /// Counts hits into their sighting windows, exactly once per (window, event key),
    /// in one transaction that is the only writer: every worker sharing the store sees
    /// the same counts. A window's `modified` is `now_micros`, or one microsecond after
    /// its previous `modified` when that is not earlier. At most `max_scos` SCO ids are
    /// kept per window. Windows touched only by duplicates are returned unchanged
    /// (`changed: false`).
    async fn record_hits(
        &self,
        hits: &[HitRow],
        now_micros: i64,
        max_scos: usize,
    ) -> Result<HitOutcome>;
    /// Forgets the dedup keys of windows that started before `before_window_start`
    /// (Unix seconds); returns how many keys went.
    async fn prune_hit_keys(&self, before_window_start: i64) -> Result<u64>;
    /// Inserts or replaces a record; with `feed`, also appends a feed entry of that kind
    /// holding the record's body, in the same transaction, and returns its sequence.
    async fn put_record(&self, record: &RecordRow, feed: Option<&str>) -> Result<Option<i64>>;
    async fn get_record(&self, kind: &str, id: &str) -> Result<Option<RecordRow>>;
    /// Records of a kind (optionally with one tag), most recently updated first.
    async fn list_records(
        &self,
        kind: &str,
        tag: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RecordRow>>;
    /// Deletes a record; returns whether it existed.
    async fn delete_record(&self, kind: &str, id: &str) -> Result<bool>;
    /// Appends a feed entry; returns its sequence.
    async fn append_feed(&self, kind: &str, ref_id: &str, body: &str) -> Result<i64>;
    /// Feed entries with a sequence after `after_seq`, oldest first.
    async fn feed_after(&self, after_seq: i64, limit: usize) -> Result<Vec<FeedRow>>;

    // ----- federation -----

    /// Inserts or replaces metadata rows (keyed by object id) in one transaction.
    async fn put_meta(&self, rows: &[MetaRow]) -> Result<()>;
    /// Metadata of the given ids that have one (any order).
    async fn get_meta(&self, ids: &[String]) -> Result<Vec<MetaRow>>;
    /// Deletes an object's metadata; returns whether it existed.
    async fn delete_meta(&self, id: &str) -> Result<bool>;
    /// Ids whose `expires` is at or before `now_micros`, at most `limit`, soonest
    /// expired first.
    async fn expired_meta(&self, now_micros: i64, limit: usize) -> Result<Vec<String>>;
    /// Appends entries to the hash-chained egress ledger in one writer transaction:
    /// reads the last row's hash ([`GENESIS_HASH`] when empty), assigns seq (1, 2, …,
    /// no gaps) and `at` (`now_micros`, or the last row's `at` when that is later, so
    /// `at` never decreases), and computes each hash ([`EgressRow::expected_hash`]).
    /// The transaction is the store's only writer (also across processes sharing the
    /// database), so concurrent callers never fork the chain. There is no update or
    /// delete: the ledger is append-only (the migrations also refuse both in SQL).
    async fn append_egress(
        &self,
        entries: &[EgressEntry],
        now_micros: i64,
    ) -> Result<Vec<EgressRow>>;
    /// Ledger rows with seq > `after_seq` (only `peer`'s when given), oldest first, at
    /// most `limit`.
    async fn egress_after(
        &self,
        after_seq: i64,
        peer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EgressRow>>;
    /// Every ledger row about one of `object_ids` (any peer, any action), oldest first.
    /// Read through `egress_by_object` (object id, seq), which `append_egress` fills in
    /// batches, and the ledger's rows after the last batch (fewer than a batch, read by
    /// seq), so a recall or a deletion costs in proportion to what it concerns and to a
    /// batch, not to the size of the ledger.
    async fn egress_of_objects(&self, object_ids: &[String]) -> Result<Vec<EgressRow>>;
}

/// A write transaction. See [`Store::begin`].
#[async_trait]
pub trait WriteTx: Send {
    /// Inserts a batch, returning one outcome per input object, in order. A conflict
    /// on one object does not abort the others.
    async fn insert(
        &mut self,
        objects: &[NewObject],
        collections: &[CollectionId],
    ) -> Result<Vec<InsertOutcome>>;
    /// Inserts or replaces metadata rows (keyed by object id) in this transaction, so
    /// metadata commits (or rolls back) with the objects it describes.
    async fn put_meta(&mut self, rows: &[MetaRow]) -> Result<()>;
    /// Saves a status resource in this transaction ([`Store::put_status`]), so it
    /// commits with the objects it reports on, in one commit.
    async fn put_status(&mut self, status: &StatusRecord) -> Result<()>;
    /// Whether `instance` owns status `id`; the status row stays locked against
    /// claims until this transaction ends, so objects written in it are committed
    /// before any other instance can claim (and finalise) the status.
    async fn holds_status(&mut self, id: &str, instance: &str) -> Result<bool>;
    /// Counts hits into their sighting windows in this transaction
    /// ([`Store::record_hits`]): the counts, the windows and the STIX objects written
    /// beside them commit or roll back together.
    async fn record_hits(
        &mut self,
        hits: &[HitRow],
        now_micros: i64,
        max_scos: usize,
    ) -> Result<HitOutcome>;
    /// Upserts a record in this transaction ([`Store::put_record`]); with `feed`, also
    /// appends it to the feed and returns its sequence number (readers see it once the
    /// transaction commits).
    async fn put_record(&mut self, record: &RecordRow, feed: Option<&str>) -> Result<Option<i64>>;
    /// Reads a record, seeing this transaction's own writes.
    async fn get_record(&mut self, kind: &str, id: &str) -> Result<Option<RecordRow>>;
    /// Reads the records of one kind with these ids (those that exist, in no
    /// particular order), seeing this transaction's own writes.
    async fn get_records(&mut self, kind: &str, ids: &[&str]) -> Result<Vec<RecordRow>>;
    /// Upserts records in this transaction (a repeated kind and id keeps its last
    /// row); with `feed`, also appends each to the feed in order and returns the last
    /// sequence number.
    async fn put_records(
        &mut self,
        records: &[RecordRow],
        feed: Option<&str>,
    ) -> Result<Option<i64>>;
    /// Sets a state value in this transaction ([`Store::set_state`]), e.g. a source's
    /// read position committed with what was read.
    async fn set_state(&mut self, key: &str, value: &str) -> Result<()>;
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// The current time, Unix microseconds.
pub fn now_micros() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
