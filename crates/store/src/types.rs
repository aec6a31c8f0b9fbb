//! Plain data types exchanged with a [`crate::Store`].

use serde::{Deserialize, Serialize};

/// A collection id (a UUID string for TAXII collections).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CollectionId(pub String);

impl CollectionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl std::fmt::Display for CollectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object version ready to store; build it with [`NewObject::from_object`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewObject {
    pub id: String,
    pub type_name: String,
    /// `spec_version` as written, or "2.1" when absent.
    pub spec_version: String,
    /// Fixed-width sortable version key (`stix::Timestamp::sort_key` of `modified`,
    /// else `created`), or "" for unversioned objects (SCOs).
    pub version_key: String,
    /// The version timestamp as written in the object, or "" when unversioned.
    pub version_text: String,
    pub revoked: bool,
    /// The object's JSON in its original property order.
    pub json: String,
    /// SHA-256 (hex) of the object's RFC 8785 canonical JSON.
    pub content_hash: String,
}

impl NewObject {
    pub fn from_object(obj: &stix::Object) -> Self {
        let mut n = Self::without_hash(obj);
        n.content_hash = hex::encode(obj.content_hash());
        n
    }

    /// [`NewObject::from_object`] when the object's RFC 8785 canonical JSON
    /// (`stix::Object::canonical_json`) is already at hand (e.g. checked as signed bytes).
    pub fn from_object_canonical(obj: &stix::Object, canonical: &[u8]) -> Self {
        use sha2::Digest;
        let mut n = Self::without_hash(obj);
        n.content_hash = hex::encode(sha2::Sha256::digest(canonical));
        n
    }

    fn without_hash(obj: &stix::Object) -> Self {
        let version = obj.version();
        NewObject {
            id: obj.id().to_owned(),
            type_name: obj.type_name().to_owned(),
            spec_version: obj.spec_version().unwrap_or("2.1").to_owned(),
            version_key: version.map(|t| t.sort_key()).unwrap_or_default(),
            version_text: version.map(|t| t.to_string()).unwrap_or_default(),
            revoked: obj.is_revoked(),
            json: obj.to_json(),
            content_hash: String::new(),
        }
    }
}

/// What happened to one object of an insert batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum InsertOutcome {
    /// Stored as a new version (or newly added to a collection it was not in yet).
    /// `added` / `date_added` are the store-wide cursor and date of the new version;
    /// when the version was already stored and only added to a collection, they are
    /// that membership's (the first requested collection it was newly added to).
    Inserted { added: i64, date_added: i64 },
    /// This exact version with this exact content was already stored (and already in
    /// every requested collection): nothing changed.
    Duplicate,
    /// This (id, version) is stored with different content; nothing was written.
    Conflict { existing_hash: String },
}

/// Which versions of each object a query returns (TAXII `match[version]`).
/// Several selectors are ORed together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionFilter {
    pub all: bool,
    pub first: bool,
    pub last: bool,
    /// Specific versions, as `stix::Timestamp::sort_key` strings.
    pub exact: Vec<String>,
}

impl VersionFilter {
    pub fn all() -> Self {
        VersionFilter {
            all: true,
            ..Default::default()
        }
    }
    pub fn last() -> Self {
        VersionFilter {
            last: true,
            ..Default::default()
        }
    }
    pub fn first() -> Self {
        VersionFilter {
            first: true,
            ..Default::default()
        }
    }
    /// True when no selector is set (callers then apply their own default).
    pub fn is_empty(&self) -> bool {
        !self.all && !self.first && !self.last && self.exact.is_empty()
    }
}

/// A query over stored object versions. Empty lists mean "no restriction"; values
/// inside one list are ORed; different fields are ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Restrict to one collection; cursors and `date_added` are then the
    /// collection's own (when the version was added to that collection).
    pub collection: Option<CollectionId>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    /// Default when empty: `last` (the newest version of each object), as TAXII says.
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
    /// Only versions with `date_added` strictly after this (Unix microseconds).
    pub added_after: Option<i64>,
    /// Only versions with `date_added` at or before this (Unix microseconds).
    pub added_before_or_at: Option<i64>,
    /// Only versions with a cursor strictly greater than this (for paging).
    pub after_cursor: Option<i64>,
    /// Maximum number of rows in a page (a stream's total). `None`: no limit.
    pub limit: Option<usize>,
    /// When false, [`StoredObject::json`] is left empty (manifests, version lists).
    pub with_body: bool,
}

/// One stored object version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredObject {
    /// Cursor: strictly increasing in commit order (per collection when the query
    /// named one, otherwise store-wide).
    pub cursor: i64,
    /// Unix microseconds; strictly increasing with `cursor`.
    pub date_added: i64,
    pub id: String,
    pub type_name: String,
    pub spec_version: String,
    pub version_key: String,
    pub version_text: String,
    pub revoked: bool,
    /// The object's JSON (empty when the query asked for no body).
    pub json: String,
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub objects: Vec<StoredObject>,
    /// True when more rows match after the last one returned.
    pub more: bool,
}

/// The record that an object version was deleted (for propagation to peers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tombstone {
    pub seq: i64,
    pub id: String,
    pub version_key: String,
    pub collection: Option<CollectionId>,
    /// Unix microseconds.
    pub deleted_at: i64,
}

/// A TAXII collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    pub id: CollectionId,
    /// The API root this collection belongs to (its path segment, e.g. "api1").
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    /// A short, unique, human-friendly name (used by the CLI's `--collection`).
    pub alias: Option<String>,
    pub media_types: Vec<String>,
    /// Unix microseconds.
    pub created: i64,
}

/// Object counts and sizes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Stats {
    /// Object versions stored, by type, sorted by type.
    pub by_type: Vec<(String, u64)>,
    /// Object versions per collection (id, alias or title, count), sorted by id.
    pub by_collection: Vec<(CollectionId, String, u64)>,
    pub total_versions: u64,
    pub distinct_objects: u64,
    /// Bytes on disk (SQLite files) or the database's size (PostgreSQL).
    pub size_bytes: u64,
}

/// A TAXII status resource, kept as its JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub id: String,
    pub api_root: String,
    /// Who may read it (the organisation that posted).
    pub owner_org: Option<String>,
    /// Unix microseconds.
    pub created: i64,
    /// The TAXII status resource as JSON text.
    pub json: String,
    /// The server instance processing it (see [`crate::Store::heartbeat`]); `None` once
    /// it is final. Not part of the TAXII document.
    pub owner_instance: Option<String>,
    /// The collection the objects are written to, while it is being processed.
    pub collection: Option<String>,
}

/// An organisation. `kind`: national-centre, regional-hub, sector-regulator, constituent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub sector: Option<String>,
    pub country: Option<String>,
    /// For a constituent: the national centre whose client it is (TLP 2.0 "clients").
    pub parent: Option<String>,
    pub created: i64,
}

/// A user, belonging to an organisation. `role`: admin, analyst, reader, peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub role: String,
    pub created: i64,
}

/// An API token. The secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub org_id: String,
    pub user_id: Option<String>,
    pub role: String,
    pub label: Option<String>,
    pub sha256_hex: String,
    pub created: i64,
    pub revoked: bool,
}

/// An organisation's rights on a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub collection: CollectionId,
    pub org_id: String,
    pub can_read: bool,
    pub can_write: bool,
}

/// One hit to count into a sighting window with [`crate::Store::record_hits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitRow {
    /// The window's sighting id (deterministic per indicator and window).
    pub sighting_id: String,
    pub indicator_id: String,
    /// Window start, Unix seconds.
    pub window_start: i64,
    /// Identifies the event at its source; the same event delivered again has the same
    /// key and is not counted twice in a window.
    pub event_key: String,
    /// Event time, Unix microseconds.
    pub observed_micros: i64,
    /// The SCO observed (referenced by the window's observed-data, up to a bound).
    pub sco_id: Option<String>,
}

/// A sighting window after [`crate::Store::record_hits`] counted hits into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRow {
    pub sighting_id: String,
    pub indicator_id: String,
    /// Unix seconds.
    pub window_start: i64,
    pub count: i64,
    /// Unix microseconds.
    pub first_seen: i64,
    pub last_seen: i64,
    /// SCO ids referenced, in first-seen order.
    pub sco_ids: Vec<String>,
    /// `created` and `modified` of the version this call produced (Unix microseconds;
    /// `modified` strictly increases per window across every writer).
    pub created: i64,
    pub modified: i64,
    /// True when this call opened the window (its first version: raise an alert).
    pub first_version: bool,
    /// SCO ids this call added to `sco_ids`.
    pub new_sco_ids: Vec<String>,
    /// False when only redelivered (duplicate) hits touched the window: it is returned
    /// as it is, with nothing new to write (the early-warning engine writes a window's
    /// STIX objects and alert in the transaction that counts its hits).
    pub changed: bool,
}

/// What [`crate::Store::record_hits`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HitOutcome {
    /// Windows touched by this call, changed or not (one entry per window, see
    /// [`WindowRow::changed`]).
    pub windows: Vec<WindowRow>,
    /// Hits counted.
    pub counted: u64,
    /// Hits whose event was already counted in that window.
    pub duplicates: u64,
}

/// A small keyed JSON record (alerts, webhook subscriptions, dead letters, samples).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRow {
    /// What it is, e.g. "alert", "webhook", "dead-letter".
    pub kind: String,
    pub id: String,
    /// A filterable label, e.g. an alert's state.
    pub tag: String,
    /// JSON document.
    pub body: String,
    /// Unix microseconds.
    pub updated: i64,
}

/// One entry of the append-only feed (what the live stream replays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRow {
    /// Strictly increasing in commit order.
    pub seq: i64,
    pub kind: String,
    pub ref_id: String,
    /// JSON document.
    pub body: String,
    /// Unix microseconds.
    pub at: i64,
}

/// Sharing metadata of one object (all versions), kept as JSON the policy layer defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRow {
    pub id: String,
    /// JSON document (the policy layer's sharing metadata).
    pub json: String,
    /// Unix µs after which a received object must be deleted (retention); None = keep.
    pub expires: Option<i64>,
    /// Unix microseconds.
    pub updated: i64,
}

/// One object version leaving the node (or being recalled / deleted at a peer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressEntry {
    /// Partner node id (`identity--…`).
    pub peer: String,
    pub object_id: String,
    /// "" for unversioned objects.
    pub version_key: String,
    /// SHA-256 hex of what was sent ("" for recall / delete).
    pub content_hash: String,
    pub agreement_id: String,
    pub agreement_version: i64,
    /// "sent" | "recall" | "delete".
    pub action: String,
    /// Free JSON text (reason, redactions); may be "".
    pub detail: String,
}

/// One row of the hash-chained egress ledger, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressRow {
    /// 1, 2, … without gaps, in commit order.
    pub seq: i64,
    /// Unix microseconds; never decreases with `seq`.
    pub at: i64,
    #[serde(flatten)]
    pub entry: EgressEntry,
    /// The previous row's `hash` ([`GENESIS_HASH`] for seq 1).
    pub prev_hash: String,
    /// [`EgressRow::expected_hash`] when the row was appended.
    pub hash: String,
}

/// The `prev_hash` of the ledger's first row: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl EgressRow {
    /// The hash this row must carry: SHA-256 hex over `prev_hash`, `seq`, `at` and every
    /// entry field (in declaration order), each length-prefixed (decimal length, ':',
    /// bytes, '\n') so no two rows collide by shifting bytes between fields. Integers
    /// are written in decimal.
    pub fn expected_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        fn field(h: &mut Sha256, bytes: &[u8]) {
            h.update(bytes.len().to_string().as_bytes());
            h.update(b":");
            h.update(bytes);
            h.update(b"\n");
        }
        let e = &self.entry;
        let mut h = Sha256::new();
        field(&mut h, self.prev_hash.as_bytes());
        field(&mut h, self.seq.to_string().as_bytes());
        field(&mut h, self.at.to_string().as_bytes());
        field(&mut h, e.peer.as_bytes());
        field(&mut h, e.object_id.as_bytes());
        field(&mut h, e.version_key.as_bytes());
        field(&mut h, e.content_hash.as_bytes());
        field(&mut h, e.agreement_id.as_bytes());
        field(&mut h, e.agreement_version.to_string().as_bytes());
        field(&mut h, e.action.as_bytes());
        field(&mut h, e.detail.as_bytes());
        hex::encode(h.finalize())
    }
}

/// Why an egress ledger chain does not verify, at the first bad row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("egress ledger entry #{seq}: {reason}")]
pub struct ChainError {
    pub seq: i64,
    pub reason: String,
}

impl ChainError {
    /// Stable machine-readable code for the error table.
    pub fn code(&self) -> &'static str {
        "store.egress_chain"
    }
}

/// Checks a chain of ledger rows read in seq order: starting at seq 1 when `prev_hash`
/// is [`GENESIS_HASH`], otherwise continuing from the row whose hash is `prev_hash`.
/// Each row's `prev_hash` must equal the previous row's hash, each `hash` must equal
/// [`EgressRow::expected_hash`], and seqs must increase by exactly one. Returns the
/// last row's hash (`prev_hash` for no rows), to continue from; the error names the
/// first bad seq and why.
pub fn verify_egress_chain(prev_hash: &str, rows: &[EgressRow]) -> Result<String, ChainError> {
    let mut prev = prev_hash.to_owned();
    let mut prev_seq: Option<i64> = (prev_hash == GENESIS_HASH).then_some(0);
    for row in rows {
        let bad = |reason: String| ChainError {
            seq: row.seq,
            reason,
        };
        if let Some(p) = prev_seq {
            if p.checked_add(1) != Some(row.seq) {
                return Err(bad(format!(
                    "expected seq {} after {p} (a row is missing or out of order)",
                    p.saturating_add(1)
                )));
            }
        }
        if row.prev_hash != prev {
            return Err(bad(format!(
                "prev_hash {} is not the previous row's hash {prev}",
                row.prev_hash
            )));
        }
        let expected = row.expected_hash();
        if row.hash != expected {
            return Err(bad(format!(
                "hash {} does not match its contents (expected {expected})",
                row.hash
            )));
        }
        prev_seq = Some(row.seq);
        prev.clone_from(&row.hash);
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> EgressRow {
        EgressRow {
            seq: 1,
            at: 1_700_000_000_000_000,
            entry: EgressEntry {
                peer: "identity--p".into(),
                object_id: "indicator--x".into(),
                version_key: "20240101000000000000".into(),
                content_hash: "ab".repeat(32),
                agreement_id: "agreement--1".into(),
                agreement_version: 2,
                action: "sent".into(),
                detail: r#"{"reason":"r"}"#.into(),
            },
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    /// The preimage format is fixed (other nodes and auditors recompute it): this
    /// vector was computed independently with Python's hashlib.
    #[test]
    fn expected_hash_matches_the_documented_preimage() {
        assert_eq!(GENESIS_HASH.len(), 64);
        assert!(GENESIS_HASH.bytes().all(|b| b == b'0'));
        assert_eq!(
            row().expected_hash(),
            "87fc3998447d19ccd66adfe88e89b31ad740a07e490334e5582f0c522235a943"
        );
    }

    #[test]
    fn flattened_serialisation_round_trips() {
        let mut r = row();
        r.hash = r.expected_hash();
        let v = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(v["peer"], "identity--p");
        assert_eq!(v["seq"], 1);
        let back: EgressRow = serde_json::from_value(v).unwrap_or_else(|_| row());
        assert_eq!(back, r);
        assert_eq!(verify_egress_chain(GENESIS_HASH, &[back]), Ok(r.hash));
    }
}
