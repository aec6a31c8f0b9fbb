//! The embedded SQLite store: one writer connection (so allocation order is commit
//! order) and a pool of read-only connections, in WAL mode.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::insert::{AnalyzeState, ClockTop, Existing, InsertOps, MemberRow, ObjectRow};
use crate::sql::{self, Dialect};
use crate::{CollectionId, Result, StoreError};

/// Rows per multi-row INSERT: 10 binds per object row keeps a statement far below
/// SQLite's 32766 bind limit while amortising the per-statement cost.
const ROWS_PER_STATEMENT: usize = 500;
/// How long a connection waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a write waits for the single writer connection (a long streamed import
/// holds it until it commits).
const WRITER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3600);
const READERS: u32 = 4;
/// Rows a reader connection's thread may hand over before the query's consumer has
/// taken them (sqlx's default is 50). `sqlx` sends each row as a message of its own;
/// with a full channel, each row taken wakes SQLite's thread for the next one, two
/// context switches a row. Every read here collects all its rows (`fetch_all`, pages
/// of at most 10,001 rows), so a channel larger than a page holds no more than the
/// result holds anyway. Serving a sync: a third fewer context switches at the serving
/// node, 3-5 % less of its CPU (`docs/PERFORMANCE.md`).
const READER_ROW_BUFFER: usize = 16_384;
/// Page cache of the writer connection, in KiB (negative: KiB rather than pages).
/// 192 MiB measured no faster than 64 MiB for 1 M objects and raised peak RSS by
/// 140 MB, so it stays at 64 MiB.
const WRITER_CACHE_KIB: &str = "-65536";
/// Page cache of each reader connection, in KiB.
const READER_CACHE_KIB: &str = "-16384";
/// WAL pages after which a commit checkpoints (SQLite's default is 1,000, a 4 MiB WAL).
/// A checkpoint copies every page changed since the last one into the database file
/// and syncs it; index pages of random keys (object ids) change in almost every
/// transaction, so fewer, larger checkpoints write each of them fewer times. 16,384
/// pages (a 64 MiB WAL) measured 10-13 % less CPU on both nodes of a 200,000-object
/// initial sync (`bench/federation/initial_sync.sh`), see `docs/PERFORMANCE.md`.
const WAL_AUTOCHECKPOINT_PAGES: &str = "16384";

/// The SQLite implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: SqlitePool,
    reader: SqlitePool,
    analyze: Arc<AnalyzeState>,
}

impl SqliteStore {
    /// Opens (creating if missing, with its directory) the database file at `path`
    /// and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let base = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| open_err(e.to_string()))?
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(WRITER_ACQUIRE_TIMEOUT)
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .pragma("cache_size", WRITER_CACHE_KIB)
                    .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES),
            )
            .await
            .map_err(|e| open_err(e.to_string()))?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(
                base.read_only(true)
                    .pragma("cache_size", READER_CACHE_KIB)
                    .row_buffer_size(READER_ROW_BUFFER),
            )
            .await
            .map_err(|e| open_err(e.to_string()))?;
        Ok(SqliteStore {
            path: path.to_owned(),
            writer,
            reader,
            analyze: Arc::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes both pools (waiting for open connections to be returned).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// A write transaction on the single writer connection, holding SQLite's write
    /// lock from the start.
    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Bytes of the database file and its WAL / shared-memory files.
    pub(crate) async fn size_bytes(&self) -> Result<u64> {
        let mut total = 0;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            if let Ok(meta) = tokio::fs::metadata(&p).await {
                total += meta.len();
            }
        }
        Ok(total)
    }
}

/// A write transaction of a [`SqliteStore`].
pub struct SqliteWriteTx {
    tx: Transaction<'static, Sqlite>,
    writer: SqlitePool,
    analyze: Arc<AnalyzeState>,
    /// Object rows written by this transaction (for the statistics refresh on commit).
    written: u64,
}

impl SqliteWriteTx {
    fn new(tx: Transaction<'static, Sqlite>, store: &SqliteStore) -> Self {
        SqliteWriteTx {
            tx,
            writer: store.writer.clone(),
            analyze: store.analyze.clone(),
            written: 0,
        }
    }
}

/// Refreshes the planner statistics of the object tables from a sample (about 1,000
/// rows per index: milliseconds, whatever the table size). See
/// [`crate::insert::ANALYZE_AFTER_ROWS`] for why and when.
const ANALYZE_OBJECT_TABLES: &str =
    "PRAGMA analysis_limit = 1000; ANALYZE objects; ANALYZE collection_objects;";

impl std::fmt::Debug for SqliteWriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWriteTx")
    }
}

/// `(?, ?, …)`: anonymous placeholders. SQLite looks a parameter's name up by a
/// linear scan, so numbered placeholders make binding a 5000-parameter statement
/// quadratic; anonymous ones have no name to look up.
fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3 + 2);
    s.push('(');
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s.push(')');
    s
}

/// `VALUES (…), (…)` with `rows` tuples of `cols` anonymous placeholders.
fn values(rows: usize, cols: usize) -> String {
    let tuple = placeholders(cols);
    let mut s = String::with_capacity(rows * (tuple.len() + 2) + 8);
    s.push_str("VALUES ");
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push_str(&tuple);
    }
    s
}

#[async_trait]
impl InsertOps for SqliteWriteTx {
    async fn missing_collection(&mut self, ids: &[CollectionId]) -> Result<Option<String>> {
        for id in ids {
            let found = sqlx::query(sql::COLLECTION_EXISTS)
                .bind(id.as_str())
                .fetch_optional(&mut *self.tx)
                .await?;
            if found.is_none() {
                return Ok(Some(id.0.clone()));
            }
        }
        Ok(None)
    }

    async fn alloc(
        &mut self,
        objects: i64,
        members: i64,
        dates: i64,
        now: i64,
    ) -> Result<ClockTop> {
        let (object_cursor, member_cursor, date_added): (i64, i64, i64) =
            sqlx::query_as(sql::alloc_clock(Dialect::Sqlite))
                .bind(objects)
                .bind(members)
                .bind(now)
                .bind(dates.max(1))
                .fetch_one(&mut *self.tx)
                .await?;
        Ok(ClockTop {
            object_cursor,
            member_cursor,
            date_added,
        })
    }

    async fn insert_objects(&mut self, rows: &[ObjectRow<'_>]) -> Result<u64> {
        let text = format!(
            "INSERT INTO objects (cursor, id, type, spec_version, version_key, version_text, \
             revoked, content_hash, json, date_added) {} ON CONFLICT (id, version_key) DO NOTHING",
            values(rows.len(), 10)
        );
        let mut q = sqlx::query(&text);
        for r in rows {
            q = q
                .bind(r.cursor)
                .bind(r.obj.id.as_str())
                .bind(r.obj.type_name.as_str())
                .bind(r.obj.spec_version.as_str())
                .bind(r.obj.version_key.as_str())
                .bind(r.obj.version_text.as_str())
                .bind(r.obj.revoked)
                .bind(r.obj.content_hash.as_str())
                .bind(r.obj.json.as_str())
                .bind(r.date_added);
        }
        let written = q.execute(&mut *self.tx).await?.rows_affected();
        self.written += written;
        Ok(written)
    }

    async fn lookup_objects(&mut self, keys: &[(&str, &str)]) -> Result<Vec<Existing>> {
        let text = format!(
            "SELECT id, version_key, cursor, content_hash FROM objects \
             WHERE (id, version_key) IN ({})",
            values(keys.len(), 2)
        );
        let mut q = sqlx::query_as::<_, (String, String, i64, String)>(&text);
        for (id, version_key) in keys {
            q = q.bind(*id).bind(*version_key);
        }
        let rows = q.fetch_all(&mut *self.tx).await?;
        Ok(rows
            .into_iter()
            .map(|(id, version_key, cursor, content_hash)| Existing {
                id,
                version_key,
                cursor,
                content_hash,
            })
            .collect())
    }

    async fn lookup_members(&mut self, object_cursors: &[i64]) -> Result<Vec<(String, i64)>> {
        let text = format!(
            "SELECT collection_id, object_cursor FROM collection_objects WHERE object_cursor IN {}",
            placeholders(object_cursors.len())
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(&text);
        for c in object_cursors {
            q = q.bind(*c);
        }
        Ok(q.fetch_all(&mut *self.tx).await?)
    }

    async fn insert_members(&mut self, rows: &[MemberRow<'_>]) -> Result<u64> {
        let text = format!(
            "INSERT INTO collection_objects (cursor, collection_id, object_cursor, date_added) {} \
             ON CONFLICT (collection_id, object_cursor) DO NOTHING",
            values(rows.len(), 4)
        );
        let mut q = sqlx::query(&text);
        for r in rows {
            q = q
                .bind(r.cursor)
                .bind(r.collection)
                .bind(r.object_cursor)
                .bind(r.date_added);
        }
        Ok(q.execute(&mut *self.tx).await?.rows_affected())
    }
}

crate::common::impl_write_tx!(SqliteWriteTx, rows_per_statement: ROWS_PER_STATEMENT, {
    async fn holds_status(&mut self, id: &str, instance: &str) -> Result<bool> {
        // The transaction holds SQLite's write lock from its start (BEGIN IMMEDIATE),
        // so no claim can run until it ends.
        let found =
            sqlx::query("SELECT 1 AS one FROM statuses WHERE id = $1 AND owner_instance = $2")
                .bind(id)
                .bind(instance)
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(found.is_some())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let SqliteWriteTx {
            tx,
            writer,
            analyze,
            written,
        } = *self;
        tx.commit().await?;
        if written > 0 && analyze.after_commit(written) {
            // An optimisation only: the data is committed, so a failure here must not
            // turn a successful commit into an error. The first refresh creates
            // `sqlite_stat1`, a schema change every reader connection picks up.
            let _ = sqlx::raw_sql(ANALYZE_OBJECT_TABLES).execute(&writer).await;
            analyze.running.store(false, Ordering::Release);
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }
});

crate::common::impl_store!(SqliteStore, Sqlite, SqliteRow, SqliteWriteTx, "sqlite");

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn statistics_are_refreshed_as_small_commits_add_up() {
        use crate::{Collection, CollectionId, NewObject, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        let coll = CollectionId("c".into());
        store
            .create_collection(&Collection {
                id: coll.clone(),
                api_root: "api".into(),
                title: "c".into(),
                description: None,
                alias: None,
                media_types: vec![],
                created: 0,
            })
            .await
            .unwrap();
        let stat_rows = || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
            )
            .fetch_one(store.reader())
            .await
            .unwrap();
            if n == 0 {
                return 0;
            }
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl IN ('objects', 'collection_objects')",
            )
            .fetch_one(store.reader())
            .await
            .unwrap();
            n
        };
        for batch in 0..10 {
            assert_eq!(stat_rows().await, 0, "no refresh before 10,000 rows");
            let objects: Vec<NewObject> = (0..1000)
                .map(|i| {
                    let n = batch * 1000 + i;
                    let v = serde_json::json!({"type": "ipv4-addr", "spec_version": "2.1",
                        "id": format!("ipv4-addr--00000000-0000-4000-8000-{n:012}"),
                        "value": format!("10.0.{}.{}", n / 256, n % 256)});
                    NewObject::from_object(&stix::Object::from_value(v).unwrap())
                })
                .collect();
            store
                .insert(&objects, std::slice::from_ref(&coll))
                .await
                .unwrap();
        }
        assert!(stat_rows().await > 0, "refreshed after 10 commits of 1,000");
    }

    #[test]
    fn values_lists_use_anonymous_placeholders() {
        assert_eq!(values(2, 3), "VALUES (?, ?, ?), (?, ?, ?)");
        assert_eq!(placeholders(1), "(?)");
    }
}
