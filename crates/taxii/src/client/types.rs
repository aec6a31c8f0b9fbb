//! TAXII 2.1 resources as the client receives them (TAXII 2.1 §4–§5).
//!
//! *Boundary*: these are wire types. Objects inside envelopes are kept as raw JSON
//! text ([`RawValue`]) so nothing is lost or reordered between the server and the
//! caller; parse them with `stix::Object::from_json_str` when needed.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use stix::Timestamp;

/// The discovery resource (`GET /taxii2/`, TAXII 2.1 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The default API root (a URL, possibly relative to the discovery URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_roots: Vec<String>,
}

/// The API root information resource (TAXII 2.1 §4.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRootInfo {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub versions: Vec<String>,
    /// Largest request body the API root accepts, in bytes.
    pub max_content_length: u64,
}

/// A collection resource (TAXII 2.1 §5.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_types: Vec<String>,
}

/// The collections resource (TAXII 2.1 §5.1.1); an empty list may be omitted.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CollectionsResource {
    #[serde(default)]
    pub collections: Vec<CollectionInfo>,
}

/// The `X-TAXII-Date-Added-First` / `-Last` headers of a response (TAXII 2.1 §3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateAddedRange {
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

/// One page of objects (an envelope, TAXII 2.1 §3.7) plus its headers.
#[derive(Debug)]
pub struct ObjectsPage {
    /// The objects, in the order the server sent them, as raw JSON.
    pub objects: Vec<Box<RawValue>>,
    /// True when the server has more objects for this query.
    pub more: bool,
    /// The opaque paging token, if the server uses one.
    pub next: Option<String>,
    pub date_added: DateAddedRange,
}

impl ObjectsPage {
    /// The objects parsed as JSON values.
    pub fn values(&self) -> Result<Vec<serde_json::Value>, serde_json::Error> {
        self.objects
            .iter()
            .map(|o| serde_json::from_str(o.get()))
            .collect()
    }
}

/// The envelope as sent on the wire.
#[derive(Debug, Deserialize)]
pub(crate) struct EnvelopeResource {
    #[serde(default)]
    pub more: bool,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub objects: Vec<Box<RawValue>>,
}

/// One manifest record (TAXII 2.1 §5.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub id: String,
    pub date_added: Timestamp,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// One page of the manifest plus its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPage {
    pub objects: Vec<ManifestRecord>,
    pub more: bool,
    pub next: Option<String>,
    pub date_added: DateAddedRange,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ManifestResource {
    #[serde(default)]
    pub more: bool,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub objects: Vec<ManifestRecord>,
}

/// One page of an object's versions (TAXII 2.1 §5.8.1) plus its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsPage {
    pub versions: Vec<String>,
    pub more: bool,
    pub next: Option<String>,
    pub date_added: DateAddedRange,
}

#[derive(Debug, Deserialize)]
pub(crate) struct VersionsResource {
    #[serde(default)]
    pub more: bool,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub versions: Vec<String>,
}

/// A status resource (TAXII 2.1 §4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    /// "complete" or "pending".
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timestamp: Option<String>,
    pub total_count: u64,
    pub success_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub successes: Vec<StatusDetail>,
    pub failure_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<StatusDetail>,
    pub pending_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pendings: Vec<StatusDetail>,
}

impl Status {
    /// True once the server has finished processing the request.
    pub fn is_complete(&self) -> bool {
        self.status == "complete"
    }
}

/// One object's outcome inside a status resource (TAXII 2.1 §4.3.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The TAXII error message body (TAXII 2.1 §3.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Servers send it as a string or as a number; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}
