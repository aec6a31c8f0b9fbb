//! The PostgreSQL store. Every write transaction that allocates cursors first takes a
//! transaction-scoped advisory lock, so writers are serialised and allocation order is
//! commit order: a reader paging by cursor never skips a row committed later.

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};

use crate::insert::{
    AnalyzeState, ClockTop, Existing, InsertOps, MemberRow, ObjectRow, ANALYZE_AFTER_ROWS,
};
use crate::sql::{self, Dialect};
use crate::{CollectionId, Result, StoreError};

/// The advisory lock key every writer takes ("nadhir" in ASCII), as written in
/// [`BEGIN_WRITER`].
#[cfg_attr(not(test), allow(dead_code))]
const WRITER_LOCK_KEY: i64 = 0x6e61_6468_6972;
/// Starts a writer transaction: `BEGIN` and the advisory lock [`WRITER_LOCK_KEY`] in
/// one simple-protocol message.
const BEGIN_WRITER: &str = "BEGIN; SELECT pg_advisory_xact_lock(121364575447410)";
/// Rows per UNNEST statement.
const ROWS_PER_STATEMENT: usize = 5000;
const MAX_CONNECTIONS: u32 = 8;
/// How long a write may wait for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(600);

/// The PostgreSQL implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    analyze: Arc<AnalyzeState>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Open {
            path: redact(url),
            reason: e.to_string(),
        })?;
        Self::connect_with(options).await
    }

    /// Connects with explicit options and applies the migrations.
    ///
    /// Parallel query is switched off for the store's sessions: its queries read one
    /// page (an index range of about a thousand rows) at a time, for which starting a
    /// parallel worker costs more than the scan (measured: a 1,001-row page of a
    /// 100,000-object collection in 35 ms with a worker, 7.4 ms without).
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let database = options.get_database().unwrap_or("").to_owned();
        let options = options.options([("max_parallel_workers_per_gather", "0")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open {
                path: format!("postgres database {database:?}"),
                reason: e.to_string(),
            })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore {
            pool,
            analyze: Arc::default(),
        })
    }

    /// Closes the pool (waiting for open connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn reader(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction holding the writer lock until it ends. `BEGIN` and the lock go
    /// to the server in one message (one round trip per write transaction, not two).
    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin_with(BEGIN_WRITER).await?)
    }

    pub(crate) async fn size_bytes(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await?;
        crate::count(n)
    }
}

/// A database URL with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A write transaction of a [`PostgresStore`].
pub struct PgWriteTx {
    tx: Transaction<'static, Postgres>,
    pool: PgPool,
    analyze: Arc<AnalyzeState>,
    /// Object rows written by this transaction (for the statistics refresh on commit).
    written: u64,
}

impl PgWriteTx {
    fn new(tx: Transaction<'static, Postgres>, store: &PostgresStore) -> Self {
        PgWriteTx {
            tx,
            pool: store.pool.clone(),
            analyze: store.analyze.clone(),
            written: 0,
        }
    }
}

impl std::fmt::Debug for PgWriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgWriteTx")
    }
}

const INSERT_OBJECTS: &str = "INSERT INTO objects (cursor, id, type, spec_version, version_key, \
     version_text, revoked, content_hash, json, date_added) \
     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::bool[], $8::text[], $9::text[], $10::int8[]) \
     ON CONFLICT (id, version_key) DO NOTHING";
const LOOKUP_OBJECTS: &str = "SELECT o.id, o.version_key, o.cursor, o.content_hash \
     FROM objects o JOIN unnest($1::text[], $2::text[]) AS k(id, version_key) \
     ON o.id = k.id AND o.version_key = k.version_key COLLATE \"C\"";
const LOOKUP_MEMBERS: &str = "SELECT collection_id, object_cursor FROM collection_objects \
     WHERE object_cursor = ANY($1)";
const INSERT_MEMBERS: &str =
    "INSERT INTO collection_objects (cursor, collection_id, object_cursor, date_added) \
     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[]) \
     ON CONFLICT (collection_id, object_cursor) DO NOTHING";

#[async_trait]
impl InsertOps for PgWriteTx {
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
            sqlx::query_as(sql::alloc_clock(Dialect::Postgres))
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
        fn col<'a, 'b: 'a>(
            rows: &'a [ObjectRow<'b>],
            f: fn(&'a ObjectRow<'b>) -> &'a str,
        ) -> Vec<&'a str> {
            rows.iter().map(f).collect()
        }
        let done = sqlx::query(INSERT_OBJECTS)
            .bind(rows.iter().map(|r| r.cursor).collect::<Vec<i64>>())
            .bind(col(rows, |r| r.obj.id.as_str()))
            .bind(col(rows, |r| r.obj.type_name.as_str()))
            .bind(col(rows, |r| r.obj.spec_version.as_str()))
            .bind(col(rows, |r| r.obj.version_key.as_str()))
            .bind(col(rows, |r| r.obj.version_text.as_str()))
            .bind(rows.iter().map(|r| r.obj.revoked).collect::<Vec<bool>>())
            .bind(col(rows, |r| r.obj.content_hash.as_str()))
            .bind(col(rows, |r| r.obj.json.as_str()))
            .bind(rows.iter().map(|r| r.date_added).collect::<Vec<i64>>())
            .execute(&mut *self.tx)
            .await?;
        self.written += done.rows_affected();
        Ok(done.rows_affected())
    }

    async fn lookup_objects(&mut self, keys: &[(&str, &str)]) -> Result<Vec<Existing>> {
        let ids: Vec<&str> = keys.iter().map(|k| k.0).collect();
        let version_keys: Vec<&str> = keys.iter().map(|k| k.1).collect();
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(LOOKUP_OBJECTS)
            .bind(ids)
            .bind(version_keys)
            .fetch_all(&mut *self.tx)
            .await?;
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
        Ok(sqlx::query_as(LOOKUP_MEMBERS)
            .bind(object_cursors)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    async fn insert_members(&mut self, rows: &[MemberRow<'_>]) -> Result<u64> {
        let done = sqlx::query(INSERT_MEMBERS)
            .bind(rows.iter().map(|r| r.cursor).collect::<Vec<i64>>())
            .bind(rows.iter().map(|r| r.collection).collect::<Vec<&str>>())
            .bind(rows.iter().map(|r| r.object_cursor).collect::<Vec<i64>>())
            .bind(rows.iter().map(|r| r.date_added).collect::<Vec<i64>>())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }
}

crate::common::impl_write_tx!(PgWriteTx, rows_per_statement: ROWS_PER_STATEMENT, {
    async fn holds_status(&mut self, id: &str, instance: &str) -> Result<bool> {
        // FOR UPDATE: a concurrent claim of this status waits for this transaction,
        // then sees the objects it committed.
        let found = sqlx::query(
            "SELECT 1 AS one FROM statuses WHERE id = $1 AND owner_instance = $2 FOR UPDATE",
        )
        .bind(id)
        .bind(instance)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(found.is_some())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let PgWriteTx {
            tx,
            pool,
            analyze,
            written,
        } = *self;
        tx.commit().await?;
        if written > 0 && analyze.after_commit(written) {
            // An optimisation only: the data is committed, so a failure here (e.g. the
            // role may not ANALYZE) must not turn a successful commit into an error.
            let refresh = async move {
                let _ = sqlx::query("ANALYZE objects, collection_objects")
                    .execute(&pool)
                    .await;
                analyze.running.store(false, Ordering::Release);
            };
            if written >= ANALYZE_AFTER_ROWS {
                // A bulk load: its caller gets fresh statistics when the commit returns.
                refresh.await;
            } else {
                // Small transactions (TAXII POSTs): the refresh runs beside the writers
                // (ANALYZE does not block inserts), so no request waits for it.
                tokio::spawn(refresh);
            }
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }
});

crate::common::impl_store!(PostgresStore, Postgres, PgRow, PgWriteTx, "postgres");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_transaction_takes_the_writer_lock() {
        assert_eq!(WRITER_LOCK_KEY, 121_364_575_447_410);
        assert!(BEGIN_WRITER.ends_with(&format!("pg_advisory_xact_lock({WRITER_LOCK_KEY})")));
    }

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
