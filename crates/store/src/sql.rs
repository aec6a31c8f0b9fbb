//! SQL shared by both dialects, grouped here so the statements can be read in one
//! place. Placeholders are written `$N`, which both PostgreSQL and SQLite (through
//! sqlx) understand; the few dialect differences are named constants.

use crate::{Query, VersionFilter};

/// Which SQL dialect a statement is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bind value of a dynamically built statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// A dynamically built statement and its bind values, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Built {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Built {
    fn new() -> Self {
        Built {
            sql: String::with_capacity(512),
            args: Vec::new(),
        }
    }

    /// Appends a placeholder bound to `arg`.
    fn bind(&mut self, arg: Arg) {
        self.args.push(arg);
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
    }

    /// Appends `(p1, p2, …)` bound to `values`.
    fn bind_list(&mut self, values: &[String]) {
        self.sql.push('(');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(Arg::Text(v.clone()));
        }
        self.sql.push(')');
    }
}

/// Allocates cursors and `date_added` values for one write; see the migration's
/// comment on the `clock` table. Binds: $1 object cursors, $2 membership cursors,
/// $3 now (Unix microseconds), $4 how many `date_added` values (at least 1).
/// Returns the last allocated value of each counter.
pub(crate) fn alloc_clock(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "UPDATE clock SET object_cursor = object_cursor + $1, \
             member_cursor = member_cursor + $2, \
             date_added = MAX($3 + $4 - 1, date_added + $4) \
             WHERE singleton = 1 \
             RETURNING object_cursor, member_cursor, date_added"
        }
        Dialect::Postgres => {
            "UPDATE clock SET object_cursor = object_cursor + $1, \
             member_cursor = member_cursor + $2, \
             date_added = GREATEST($3 + $4 - 1, date_added + $4) \
             WHERE singleton = 1 \
             RETURNING object_cursor, member_cursor, date_added"
        }
    }
}

/// Allocates `$1` tombstone sequence numbers; returns the last one.
pub(crate) const ALLOC_TOMBSTONES: &str =
    "UPDATE clock SET tombstone_seq = tombstone_seq + $1 WHERE singleton = 1 RETURNING tombstone_seq";

pub(crate) const INSERT_TOMBSTONE: &str =
    "INSERT INTO tombstones (seq, id, version_key, collection_id, deleted_at) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const SELECT_TOMBSTONES: &str =
    "SELECT seq, id, version_key, collection_id, deleted_at \
     FROM tombstones WHERE seq > $1 ORDER BY seq LIMIT $2";

pub(crate) const DELETE_OBJECT_VERSION: &str = "DELETE FROM objects WHERE cursor = $1";
/// Memberships go explicitly with their object version or collection (the PostgreSQL
/// schema has no foreign keys on the membership table, see its migration 0007).
pub(crate) const DELETE_MEMBERSHIPS_OF_OBJECT: &str =
    "DELETE FROM collection_objects WHERE object_cursor = $1";
pub(crate) const DELETE_MEMBERSHIPS_OF_COLLECTION: &str =
    "DELETE FROM collection_objects WHERE collection_id = $1";
pub(crate) const DELETE_MEMBERSHIP: &str = "DELETE FROM collection_objects WHERE cursor = $1";

// ----- collections -----

pub(crate) const INSERT_COLLECTION: &str = "INSERT INTO collections \
     (id, api_root, title, description, alias, media_types, created) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const SELECT_COLLECTION: &str =
    "SELECT id, api_root, title, description, alias, media_types, created \
     FROM collections WHERE id = $1";
pub(crate) const FIND_COLLECTION: &str =
    "SELECT id, api_root, title, description, alias, media_types, created \
     FROM collections WHERE id = $1 OR alias = $1 \
     ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1";
pub(crate) const LIST_COLLECTIONS: &str =
    "SELECT id, api_root, title, description, alias, media_types, created \
     FROM collections ORDER BY created, id";
pub(crate) const LIST_COLLECTIONS_IN_ROOT: &str =
    "SELECT id, api_root, title, description, alias, media_types, created \
     FROM collections WHERE api_root = $1 ORDER BY created, id";
pub(crate) const DELETE_COLLECTION: &str = "DELETE FROM collections WHERE id = $1";
pub(crate) const COLLECTION_EXISTS: &str = "SELECT 1 AS one FROM collections WHERE id = $1";

// ----- statistics -----

pub(crate) const STATS_BY_TYPE: &str =
    "SELECT type, COUNT(*) AS n FROM objects GROUP BY type ORDER BY type";
pub(crate) const STATS_BY_COLLECTION: &str = "SELECT c.id, COALESCE(c.alias, c.title) AS name, \
     (SELECT COUNT(*) FROM collection_objects m WHERE m.collection_id = c.id) AS n \
     FROM collections c ORDER BY c.id";
pub(crate) const STATS_TOTALS: &str =
    "SELECT COUNT(*) AS total, COUNT(DISTINCT id) AS distinct_ids FROM objects";

// ----- statuses -----

pub(crate) const PUT_STATUS: &str =
    "INSERT INTO statuses (id, api_root, owner_org, created, json, owner_instance, collection_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET api_root = excluded.api_root, \
     owner_org = excluded.owner_org, created = excluded.created, json = excluded.json, \
     owner_instance = excluded.owner_instance, collection_id = excluded.collection_id";
pub(crate) const GET_STATUS: &str =
    "SELECT id, api_root, owner_org, created, json, owner_instance, collection_id \
     FROM statuses WHERE id = $1";
/// Binds: $1 id, $2 expected owner, $3 json, $4 new owner, $5 collection.
pub(crate) const PUT_STATUS_IF_OWNER: &str = "UPDATE statuses SET json = $3, owner_instance = $4, \
     collection_id = $5 WHERE id = $1 AND owner_instance = $2";
/// Statuses owned by an instance other than $1 that has not been seen since $2 (or has
/// no liveness row), oldest first, at most $3.
pub(crate) const ORPHAN_CANDIDATES: &str = "SELECT s.id, s.owner_instance FROM statuses s \
     LEFT JOIN server_instances i ON i.id = s.owner_instance \
     WHERE s.owner_instance IS NOT NULL AND s.owner_instance <> $1 \
     AND (i.last_seen IS NULL OR i.last_seen < $2) ORDER BY s.created, s.id LIMIT $3";
/// The claim: moves status $2 from owner $3 to $1 only if $3 still owns it and has
/// still not been seen since $4. Conditional on the previous owner, so of two sweepers
/// racing for the same status exactly one updates it.
pub(crate) const CLAIM_STATUS: &str =
    "UPDATE statuses SET owner_instance = $1 WHERE id = $2 AND owner_instance = $3 \
     AND NOT EXISTS (SELECT 1 FROM server_instances i WHERE i.id = $3 AND i.last_seen >= $4) \
     RETURNING id, api_root, owner_org, created, json, owner_instance, collection_id";
pub(crate) const HEARTBEAT: &str = "INSERT INTO server_instances (id, last_seen) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen";
pub(crate) const FORGET_INSTANCE: &str = "DELETE FROM server_instances WHERE id = $1";

/// Ids per statement of [`versions_in_collection`].
pub(crate) const IDS_PER_STATEMENT: usize = 500;

/// (id, version_key) of the versions of `n` ids ($2 … $n+1) in collection $1.
pub(crate) fn versions_in_collection(n: usize) -> String {
    let mut s = String::from(
        "SELECT o.id, o.version_key FROM objects o WHERE EXISTS (SELECT 1 FROM \
         collection_objects m WHERE m.collection_id = $1 AND m.object_cursor = o.cursor) \
         AND o.id IN (",
    );
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(i + 2).to_string());
    }
    s.push(')');
    s
}
pub(crate) const EXPIRE_STATUSES: &str = "DELETE FROM statuses WHERE created < $1";

// ----- organisations, users, tokens, permissions -----

pub(crate) const INSERT_ORG: &str =
    "INSERT INTO orgs (id, name, kind, sector, country, parent, created) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const GET_ORG: &str = "SELECT id, name, kind, sector, country, parent, created \
     FROM orgs WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1";
pub(crate) const LIST_ORGS: &str =
    "SELECT id, name, kind, sector, country, parent, created FROM orgs ORDER BY name";

pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (id, org_id, username, password_hash, role, created) \
     VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const GET_USER_BY_NAME: &str =
    "SELECT id, org_id, username, password_hash, role, created FROM users WHERE username = $1";
pub(crate) const LIST_USERS: &str =
    "SELECT id, org_id, username, password_hash, role, created FROM users ORDER BY username";
pub(crate) const LIST_USERS_OF_ORG: &str = "SELECT id, org_id, username, password_hash, role, \
     created FROM users WHERE org_id = $1 ORDER BY username";

pub(crate) const INSERT_TOKEN: &str =
    "INSERT INTO tokens (id, org_id, user_id, role, label, sha256_hex, created, revoked) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub(crate) const GET_TOKEN_BY_HASH: &str = "SELECT id, org_id, user_id, role, label, sha256_hex, \
     created, revoked FROM tokens WHERE sha256_hex = $1";
pub(crate) const LIST_TOKENS: &str = "SELECT id, org_id, user_id, role, label, sha256_hex, \
     created, revoked FROM tokens ORDER BY created, id";
pub(crate) const LIST_TOKENS_OF_ORG: &str = "SELECT id, org_id, user_id, role, label, sha256_hex, \
     created, revoked FROM tokens WHERE org_id = $1 ORDER BY created, id";
pub(crate) const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked = $2 WHERE id = $1";

pub(crate) const SET_PERMISSION: &str =
    "INSERT INTO permissions (collection_id, org_id, can_read, can_write) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (collection_id, org_id) DO UPDATE SET can_read = excluded.can_read, \
     can_write = excluded.can_write";
pub(crate) const GET_PERMISSION: &str = "SELECT collection_id, org_id, can_read, can_write \
     FROM permissions WHERE collection_id = $1 AND org_id = $2";
pub(crate) const LIST_PERMISSIONS: &str = "SELECT collection_id, org_id, can_read, can_write \
     FROM permissions WHERE collection_id = $1 ORDER BY org_id";

// ----- key/value state -----

pub(crate) const GET_STATE: &str = "SELECT value FROM state WHERE key = $1";
pub(crate) const SET_STATE: &str = "INSERT INTO state (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
pub(crate) const INIT_STATE: &str = "INSERT INTO state (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO NOTHING";

/// Builds the statement for one page of `q`. Returns the columns
/// `cursor, date_added, id, type, spec_version, version_key, version_text, revoked, json`
/// ordered by cursor; `fetch` caps the rows (callers ask one more than the page to
/// learn whether more rows follow). `versions` overrides `q.versions` when given.
pub(crate) fn select_objects(q: &Query, versions: &VersionFilter, fetch: Option<usize>) -> Built {
    let mut b = Built::new();
    let json = if q.with_body { "o.json" } else { "''" };
    match &q.collection {
        Some(c) => {
            b.sql.push_str(
                "SELECT m.cursor AS cursor, m.date_added AS date_added, o.id AS id, \
                 o.type AS type, o.spec_version AS spec_version, o.version_key AS version_key, \
                 o.version_text AS version_text, o.revoked AS revoked, ",
            );
            b.sql.push_str(json);
            b.sql.push_str(
                " AS json FROM collection_objects m JOIN objects o ON o.cursor = m.object_cursor \
                 WHERE m.collection_id = ",
            );
            b.bind(Arg::Text(c.0.clone()));
        }
        None => {
            b.sql.push_str(
                "SELECT o.cursor AS cursor, o.date_added AS date_added, o.id AS id, \
                 o.type AS type, o.spec_version AS spec_version, o.version_key AS version_key, \
                 o.version_text AS version_text, o.revoked AS revoked, ",
            );
            b.sql.push_str(json);
            b.sql.push_str(" AS json FROM objects o WHERE 1 = 1");
        }
    }
    let alias = if q.collection.is_some() { "m" } else { "o" };
    if let Some(after) = q.after_cursor {
        b.sql.push_str(&format!(" AND {alias}.cursor > "));
        b.bind(Arg::Int(after));
    }
    if let Some(after) = q.added_after {
        b.sql.push_str(&format!(" AND {alias}.date_added > "));
        b.bind(Arg::Int(after));
    }
    if let Some(until) = q.added_before_or_at {
        b.sql.push_str(&format!(" AND {alias}.date_added <= "));
        b.bind(Arg::Int(until));
    }
    if !q.ids.is_empty() {
        b.sql.push_str(" AND o.id IN ");
        b.bind_list(&q.ids);
    }
    if !q.types.is_empty() {
        b.sql.push_str(" AND o.type IN ");
        b.bind_list(&q.types);
    }
    if !q.spec_versions.is_empty() {
        b.sql.push_str(" AND o.spec_version IN ");
        b.bind_list(&q.spec_versions);
    }
    push_version_filter(&mut b, versions, q.collection.is_some());
    b.sql.push_str(&format!(" ORDER BY {alias}.cursor"));
    if let Some(n) = fetch {
        b.sql.push_str(" LIMIT ");
        b.bind(Arg::Int(i64::try_from(n).unwrap_or(i64::MAX)));
    }
    b
}

/// `versions` empty means `last`; `all` disables the filter.
fn push_version_filter(b: &mut Built, versions: &VersionFilter, in_collection: bool) {
    let last_only = VersionFilter::last();
    let v = if versions.is_empty() {
        &last_only
    } else {
        versions
    };
    if v.all {
        return;
    }
    // The newest / oldest version of the object among the versions present in scope
    // (the collection when one is named, else the whole store).
    let scope = if in_collection {
        "FROM objects v JOIN collection_objects w ON w.object_cursor = v.cursor \
         WHERE v.id = o.id AND w.collection_id = m.collection_id"
    } else {
        "FROM objects v WHERE v.id = o.id"
    };
    // Written as "no newer (older) version exists in scope" rather than
    // "= (SELECT MAX(...))": the meaning is the same, but PostgreSQL estimates the
    // anti-join well and walks the cursor index page by page, while it took the MAX
    // form for a highly selective filter and sorted the whole collection for every page
    // (minutes per page at 200,000 objects; 24 ms with this form).
    let mut parts: Vec<String> = Vec::new();
    if v.last {
        parts.push(format!(
            "NOT EXISTS (SELECT 1 {scope} AND v.version_key > o.version_key)"
        ));
    }
    if v.first {
        parts.push(format!(
            "NOT EXISTS (SELECT 1 {scope} AND v.version_key < o.version_key)"
        ));
    }
    b.sql.push_str(" AND (");
    b.sql.push_str(&parts.join(" OR "));
    if !v.exact.is_empty() {
        if !parts.is_empty() {
            b.sql.push_str(" OR ");
        }
        b.sql.push_str("o.version_key IN ");
        b.bind_list(&v.exact);
    }
    b.sql.push(')');
}

// ----- early warning -----

pub(crate) const PRUNE_HIT_KEYS: &str = "DELETE FROM hit_keys WHERE window_start < $1";
pub(crate) const PUT_RECORD: &str =
    "INSERT INTO records (kind, id, tag, body, updated) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (kind, id) DO UPDATE SET tag = excluded.tag, body = excluded.body, \
     updated = excluded.updated";
pub(crate) const GET_RECORD: &str =
    "SELECT kind, id, tag, body, updated FROM records WHERE kind = $1 AND id = $2";
pub(crate) const LIST_RECORDS: &str = "SELECT kind, id, tag, body, updated FROM records \
     WHERE kind = $1 ORDER BY updated DESC, id LIMIT $2";
pub(crate) const LIST_RECORDS_TAG: &str = "SELECT kind, id, tag, body, updated FROM records \
     WHERE kind = $1 AND tag = $2 ORDER BY updated DESC, id LIMIT $3";
pub(crate) const DELETE_RECORD: &str = "DELETE FROM records WHERE kind = $1 AND id = $2";
pub(crate) const APPEND_FEED: &str =
    "INSERT INTO feed (kind, ref_id, body, at) VALUES ($1, $2, $3, $4) RETURNING seq";
pub(crate) const FEED_AFTER: &str =
    "SELECT seq, kind, ref_id, body, at FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2";

// ----- federation -----

/// Rows per multi-row `put_meta` statement (4 binds each). Kept small for PostgreSQL's
/// sake; SQLite gets anonymous `?` parameters (see [`Params`]).
pub(crate) const META_ROWS_PER_STATEMENT: usize = 50;

/// How a backend's generated multi-row statements write their bind parameters.
/// SQLite looks each numbered (`$N`) parameter up by name in a list, so binding a
/// statement costs the square of its parameter count; anonymous `?` parameters are
/// bound by position without that lookup. PostgreSQL only knows `$N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Params {
    /// `$1, $2, …` (PostgreSQL).
    Numbered,
    /// `?, ?, …` bound in order (SQLite).
    Anonymous,
}

impl Params {
    /// The style of the backend named `backend` (`Store::backend`).
    pub(crate) fn of(backend: &str) -> Self {
        if backend == "sqlite" {
            Params::Anonymous
        } else {
            Params::Numbered
        }
    }

    /// Writes parameter number `n` (from 1; parameters must be written in order).
    fn push(self, sql: &mut String, n: usize) {
        match self {
            Params::Numbered => {
                sql.push('$');
                sql.push_str(&n.to_string());
            }
            Params::Anonymous => sql.push('?'),
        }
    }

    /// Writes ` VALUES`-style tuples: `rows` tuples of `cols` parameters.
    fn push_tuples(self, sql: &mut String, rows: usize, cols: usize) {
        self.push_tuples_from(sql, rows, cols, 1);
    }

    /// [`Params::push_tuples`] with the first parameter numbered `first`.
    fn push_tuples_from(self, sql: &mut String, rows: usize, cols: usize, first: usize) {
        for i in 0..rows {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for k in 0..cols {
                if k > 0 {
                    sql.push_str(", ");
                }
                self.push(sql, first + i * cols + k);
            }
            sql.push(')');
        }
    }
}

/// Rows per multi-row statement of the early-warning tables (at most 9 binds each).
pub(crate) const HIT_ROWS_PER_STATEMENT: usize = 200;

/// Inserts `n` hit keys; returns the (sighting_id, event_key) of those not already
/// there (a redelivered event's key conflicts and is not returned).
pub(crate) fn insert_hit_keys(n: usize, params: Params) -> String {
    let mut sql = String::with_capacity(160 + n * 16);
    sql.push_str("INSERT INTO hit_keys (sighting_id, event_key, window_start) VALUES ");
    params.push_tuples(&mut sql, n, 3);
    sql.push_str(
        " ON CONFLICT (sighting_id, event_key) DO NOTHING RETURNING sighting_id, event_key",
    );
    sql
}

/// The windows of `n` sighting ids.
pub(crate) fn get_windows(n: usize, params: Params) -> String {
    let mut sql = String::with_capacity(160 + n * 6);
    sql.push_str(
        "SELECT sighting_id, indicator_id, window_start, count, first_seen, last_seen, \
         sco_ids, created, modified FROM sighting_windows WHERE sighting_id IN ",
    );
    params.push_tuples(&mut sql, 1, n);
    sql
}

/// Inserts or updates `n` windows.
pub(crate) fn put_windows(n: usize, params: Params) -> String {
    let mut sql = String::with_capacity(320 + n * 48);
    sql.push_str(
        "INSERT INTO sighting_windows (sighting_id, indicator_id, window_start, count, \
         first_seen, last_seen, sco_ids, created, modified) VALUES ",
    );
    params.push_tuples(&mut sql, n, 9);
    sql.push_str(
        " ON CONFLICT (sighting_id) DO UPDATE SET count = excluded.count, \
         first_seen = excluded.first_seen, last_seen = excluded.last_seen, \
         sco_ids = excluded.sco_ids, modified = excluded.modified",
    );
    sql
}

/// The records of one kind with `n` ids (the kind is the first parameter).
pub(crate) fn get_records(n: usize, params: Params) -> String {
    let mut sql = String::from("SELECT kind, id, tag, body, updated FROM records WHERE kind = ");
    params.push(&mut sql, 1);
    sql.push_str(" AND id IN ");
    params.push_tuples_from(&mut sql, 1, n, 2);
    sql
}

/// Inserts or replaces `n` records.
pub(crate) fn put_records(n: usize, params: Params) -> String {
    let mut sql = String::with_capacity(200 + n * 24);
    sql.push_str("INSERT INTO records (kind, id, tag, body, updated) VALUES ");
    params.push_tuples(&mut sql, n, 5);
    sql.push_str(
        " ON CONFLICT (kind, id) DO UPDATE SET tag = excluded.tag, body = excluded.body, \
         updated = excluded.updated",
    );
    sql
}

/// Appends `n` feed entries (sequence numbers in row order); returns their numbers.
pub(crate) fn append_feed_rows(n: usize, params: Params) -> String {
    let mut sql = String::with_capacity(80 + n * 20);
    sql.push_str("INSERT INTO feed (kind, ref_id, body, at) VALUES ");
    params.push_tuples(&mut sql, n, 4);
    sql.push_str(" RETURNING seq");
    sql
}

/// Inserts or replaces `n` metadata rows in one statement.
pub(crate) fn put_meta_rows(n: usize, params: Params) -> String {
    let mut sql = String::with_capacity(64 + n * 24);
    sql.push_str("INSERT INTO object_meta (id, json, expires, updated) VALUES ");
    params.push_tuples(&mut sql, n, 4);
    sql.push_str(
        " ON CONFLICT (id) DO UPDATE SET json = excluded.json, expires = excluded.expires, \
         updated = excluded.updated",
    );
    sql
}

/// Rows per multi-row ledger insert (12 binds each).
pub(crate) const EGRESS_ROWS_PER_STATEMENT: usize = 20;

/// Appends `n` ledger rows in one statement.
pub(crate) fn insert_egress_rows(n: usize, params: Params) -> String {
    let mut sql = String::with_capacity(160 + n * 64);
    sql.push_str(
        "INSERT INTO egress_ledger (seq, at, peer, object_id, version_key, content_hash, \
         agreement_id, agreement_version, action, detail, prev_hash, hash) VALUES ",
    );
    params.push_tuples(&mut sql, n, 12);
    sql
}

pub(crate) const DELETE_META: &str = "DELETE FROM object_meta WHERE id = $1";
pub(crate) const EXPIRED_META: &str = "SELECT id FROM object_meta \
     WHERE expires IS NOT NULL AND expires <= $1 ORDER BY expires, id LIMIT $2";
/// Ids per `get_meta` statement (far below either backend's bind limit).
pub(crate) const META_IDS_PER_STATEMENT: usize = 100;

/// `SELECT … FROM object_meta WHERE id IN (…)` for `ids`.
pub(crate) fn select_meta(ids: &[String]) -> Built {
    let mut b = Built::new();
    b.sql
        .push_str("SELECT id, json, expires, updated FROM object_meta WHERE id IN ");
    b.bind_list(ids);
    b
}

pub(crate) const LAST_EGRESS: &str =
    "SELECT seq, at, hash FROM egress_ledger ORDER BY seq DESC LIMIT 1";
pub(crate) const EGRESS_AFTER: &str = "SELECT seq, at, peer, object_id, version_key, \
     content_hash, agreement_id, agreement_version, action, detail, prev_hash, hash \
     FROM egress_ledger WHERE seq > $1 ORDER BY seq LIMIT $2";
pub(crate) const EGRESS_AFTER_PEER: &str = "SELECT seq, at, peer, object_id, version_key, \
     content_hash, agreement_id, agreement_version, action, detail, prev_hash, hash \
     FROM egress_ledger WHERE peer = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// Ledger rows are added to `egress_by_object` (which rows concern which object) once
/// this many are not in it yet, in one statement, in object id order: one pass over
/// that table's pages per batch instead of a random insert per row in every append's
/// commit (`docs/PERFORMANCE.md`: serving a sync of a million objects, the node wrote a
/// third as much to disk and spent 8-19 % less CPU).
pub(crate) const EGRESS_BY_OBJECT_BATCH: i64 = 100_000;
/// The last ledger seq in `egress_by_object`.
pub(crate) const EGRESS_BY_OBJECT_THROUGH: &str = "SELECT seq FROM egress_by_object_through";
/// Adds the ledger rows after $1 to `egress_by_object`.
pub(crate) const INDEX_EGRESS_BY_OBJECT: &str = "INSERT INTO egress_by_object (object_id, seq) \
     SELECT object_id, seq FROM egress_ledger WHERE seq > $1 ORDER BY object_id, seq";
pub(crate) const SET_EGRESS_BY_OBJECT_THROUGH: &str =
    "UPDATE egress_by_object_through SET seq = $1";

/// `SELECT … FROM egress_ledger` of the rows about `ids`: those in `egress_by_object`,
/// and those after it (`seq` above `egress_by_object_through`), read from the ledger
/// by seq. One statement, one snapshot: no row is missed or read twice. The caller
/// orders the rows of several statements by seq.
pub(crate) fn select_egress_of(ids: &[String]) -> Built {
    const COLUMNS: &str = "SELECT seq, at, peer, object_id, version_key, content_hash, \
         agreement_id, agreement_version, action, detail, prev_hash, hash FROM egress_ledger ";
    let mut b = Built::new();
    b.sql.push_str(COLUMNS);
    b.sql
        .push_str("WHERE seq IN (SELECT seq FROM egress_by_object WHERE object_id IN ");
    b.bind_list(ids);
    b.sql.push_str(") UNION ALL ");
    b.sql.push_str(COLUMNS);
    b.sql
        .push_str("WHERE seq > (SELECT seq FROM egress_by_object_through) AND object_id IN ");
    b.bind_list(ids);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CollectionId;

    #[test]
    fn default_version_filter_is_last_and_placeholders_are_numbered() {
        let q = Query {
            ids: vec!["a".into(), "b".into()],
            after_cursor: Some(7),
            with_body: true,
            ..Default::default()
        };
        let b = select_objects(&q, &q.versions, Some(11));
        assert!(b.sql.contains("o.cursor > $1"), "{}", b.sql);
        assert!(b.sql.contains("o.id IN ($2, $3)"), "{}", b.sql);
        assert!(
            b.sql.contains(
                "NOT EXISTS (SELECT 1 FROM objects v WHERE v.id = o.id \
                 AND v.version_key > o.version_key)"
            ),
            "{}",
            b.sql
        );
        assert!(b.sql.ends_with("ORDER BY o.cursor LIMIT $4"), "{}", b.sql);
        assert_eq!(
            b.args,
            vec![
                Arg::Int(7),
                Arg::Text("a".into()),
                Arg::Text("b".into()),
                Arg::Int(11)
            ]
        );
    }

    #[test]
    fn collection_scope_and_combined_selectors() {
        let q = Query {
            collection: Some(CollectionId("c1".into())),
            versions: VersionFilter {
                first: true,
                exact: vec!["k1".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let b = select_objects(&q, &q.versions, None);
        assert!(b.sql.contains("m.collection_id = $1"), "{}", b.sql);
        assert!(
            b.sql.contains(
                "NOT EXISTS (SELECT 1 FROM objects v JOIN collection_objects w \
                 ON w.object_cursor = v.cursor WHERE v.id = o.id \
                 AND w.collection_id = m.collection_id AND v.version_key < o.version_key)"
            ),
            "{}",
            b.sql
        );
        assert!(b.sql.contains(" OR o.version_key IN ($2)"), "{}", b.sql);
        assert!(!b.sql.contains("v.version_key > o"), "{}", b.sql);
        assert!(b.sql.contains("'' AS json"), "no body requested: {}", b.sql);
    }

    #[test]
    fn all_versions_adds_no_filter() {
        let q = Query {
            versions: VersionFilter::all(),
            ..Default::default()
        };
        let b = select_objects(&q, &q.versions, None);
        assert!(!b.sql.contains("version_key ="), "{}", b.sql);
    }

    #[test]
    fn multi_row_statements_number_or_anonymise_their_parameters() {
        assert_eq!(Params::of("sqlite"), Params::Anonymous);
        assert_eq!(Params::of("postgres"), Params::Numbered);
        let pg = put_meta_rows(2, Params::Numbered);
        assert!(
            pg.contains("VALUES ($1, $2, $3, $4),($5, $6, $7, $8) ON CONFLICT"),
            "{pg}"
        );
        let lite = put_meta_rows(2, Params::Anonymous);
        assert!(
            lite.contains("VALUES (?, ?, ?, ?),(?, ?, ?, ?) ON CONFLICT"),
            "{lite}"
        );
        let pg = insert_egress_rows(2, Params::Numbered);
        assert!(pg.contains("$11, $12),($13, $14, "), "{pg}");
        assert!(pg.ends_with("$23, $24)"), "{pg}");
        let lite = insert_egress_rows(3, Params::Anonymous);
        assert_eq!(lite.matches('?').count(), 36, "{lite}");
        assert!(!lite.contains('$'), "{lite}");
    }
}
