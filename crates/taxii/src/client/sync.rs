//! Pull a remote TAXII collection into a local [`Store`], and push stored objects to
//! a remote collection. Used by `nadhir taxii pull|push`, and meant for federation.
//!
//! *Cursor*: after each page is committed, a pull records the page's
//! `X-TAXII-Date-Added-Last` under [`cursor_key`] with [`Store::set_state`]; the next
//! pull starts with `added_after` = that instant. `added_after` is *exclusive* (TAXII
//! 2.1 §3.4.2), so nothing already pulled is fetched again. The edge: a server that
//! gives several objects the same `date_added` and splits them across two pages, with
//! the pull interrupted between those two pages, would skip the rest of that instant
//! on resume. Servers date a whole POST (medallion) or every object (Nadhir) with
//! one instant that later writes never reuse, so a completed pull never misses
//! anything. A pull with an explicit `added_after` neither reads nor lowers the
//! cursor (it only moves it forward).
//!
//! *Validation*: every pulled object is checked with [`pattern::validate_object`] (the STIX
//! MUSTs and the pattern grammar); invalid ones
//! are reported (object id, JSON pointer, reason) and not stored.

use super::{Client, ClientError, EnvelopeBuilder, ObjectQuery, PollOptions, StatusDetail};
use futures::{StreamExt, TryStreamExt};
use reqwest::Url;
use std::pin::pin;
use stix::Timestamp;
use store::{CollectionId, InsertOutcome, NewObject, Query, Store, StoreError};

/// Errors of a pull or a push.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("local store: {0}")]
    Store(#[from] StoreError),
    /// The remembered cursor is not a timestamp (the state was edited by hand?).
    #[error("stored cursor {key:?} = {value:?} is not a STIX timestamp: {reason}")]
    BadCursor {
        key: String,
        value: String,
        reason: String,
    },
}

impl SyncError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Client(e) => e.code(),
            SyncError::Store(e) => e.code(),
            SyncError::BadCursor { .. } => "taxii.sync.bad_cursor",
        }
    }
}

/// The state key under which the pull cursor of (API root, collection) is kept.
pub fn cursor_key(api_root: &Url, collection_id: &str) -> String {
    format!("taxii.pull.cursor {api_root} {collection_id}")
}

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Start after this instant instead of the remembered cursor.
    pub added_after: Option<Timestamp>,
    /// Page size to ask for (default [`super::DEFAULT_PAGE_LIMIT`]).
    pub page_limit: Option<u32>,
    /// Local collection to add the objects to; `None` stores them outside any collection.
    pub into: Option<CollectionId>,
    /// Extra remote filters (`match[type]`, ...). Its paging fields are ignored.
    pub filter: ObjectQuery,
}

/// One object that failed validation and was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub id: Option<String>,
    /// JSON pointer inside the object.
    pub pointer: String,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ptr = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{} at {ptr}: {} [{}]",
            self.id.as_deref().unwrap_or("<no id>"),
            self.message,
            self.code
        )
    }
}

/// The outcome of a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    pub pages: u64,
    pub received: u64,
    /// New versions stored.
    pub inserted: u64,
    /// Versions already stored with the same content.
    pub duplicates: u64,
    /// Versions stored with different content under the same (id, version).
    pub conflicts: Vec<String>,
    pub rejected: Vec<Rejected>,
    /// `added_after` the pull started from.
    pub started_after: Option<Timestamp>,
    /// The cursor remembered at the end (`None`: the server sent no date headers).
    pub cursor: Option<Timestamp>,
}

/// Pulls `collection_id` from the API root into `store`, page by page, resuming
/// from the remembered cursor. `progress` is called after every page with the
/// report so far.
pub async fn pull(
    client: &Client,
    api_root: &Url,
    collection_id: &str,
    store: &dyn Store,
    options: &PullOptions,
    progress: &mut (dyn FnMut(&PullReport) + Send),
) -> Result<PullReport, SyncError> {
    let key = cursor_key(api_root, collection_id);
    let remembered = match store.get_state(&key).await? {
        Some(v) => Some(Timestamp::parse(&v).map_err(|e| SyncError::BadCursor {
            key: key.clone(),
            value: v.clone(),
            reason: e.reason.to_owned(),
        })?),
        None => None,
    };
    let start = options.added_after.or(remembered);
    let mut query = options.filter.clone();
    query.added_after = start;
    query.next = None;
    query.limit = options.page_limit.or(query.limit);

    let mut report = PullReport {
        started_after: start,
        cursor: remembered,
        ..Default::default()
    };
    let collections: Vec<CollectionId> = options.into.iter().cloned().collect();
    let mut pages = pin!(client.pages(api_root, collection_id, query));
    while let Some(page) = pages.try_next().await? {
        report.pages += 1;
        report.received += page.objects.len() as u64;
        let mut batch = Vec::with_capacity(page.objects.len());
        for raw in &page.objects {
            match check(raw.get()) {
                Ok(obj) => batch.push(obj),
                Err(r) => report.rejected.push(r),
            }
        }
        if !batch.is_empty() {
            let outcomes = store.insert(&batch, &collections).await?;
            for (obj, outcome) in batch.iter().zip(outcomes) {
                match outcome {
                    InsertOutcome::Inserted { .. } => report.inserted += 1,
                    InsertOutcome::Duplicate => report.duplicates += 1,
                    InsertOutcome::Conflict { .. } => {
                        report
                            .conflicts
                            .push(format!("{} {}", obj.id, obj.version_text));
                    }
                }
            }
        }
        if let Some(last) = page.date_added.last {
            if report.cursor.is_none_or(|c| last > c) {
                store.set_state(&key, &last.to_string()).await?;
                report.cursor = Some(last);
            }
        }
        progress(&report);
    }
    Ok(report)
}

/// Parses and validates one pulled object.
fn check(json: &str) -> Result<NewObject, Rejected> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| Rejected {
        id: None,
        pointer: String::new(),
        code: "invalid-json".into(),
        message: e.to_string(),
    })?;
    let id = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(e) = pattern::validate_object(&value).into_iter().next() {
        return Err(Rejected {
            id: e.object_id.or(id),
            pointer: e.pointer,
            code: e.code.to_owned(),
            message: e.message,
        });
    }
    let obj = stix::Object::from_value(value).map_err(|e| Rejected {
        id,
        pointer: e.pointer(),
        code: "invalid-shape".into(),
        message: e.to_string(),
    })?;
    Ok(NewObject::from_object(&obj))
}

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Largest envelope in bytes; it is further capped by the API root's
    /// `max_content_length`.
    pub max_envelope_bytes: usize,
    pub max_envelope_objects: usize,
    pub poll: PollOptions,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            max_envelope_bytes: 8 * 1024 * 1024,
            max_envelope_objects: 1000,
            poll: PollOptions::default(),
        }
    }
}

/// The outcome of a push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    pub envelopes: u64,
    pub sent: u64,
    pub succeeded: u64,
    /// Objects the server refused (with its message) or that were too large to send.
    pub failed: Vec<StatusDetail>,
    /// Objects still pending when polling ended.
    pub pending: u64,
}

/// Sends every object version `query` selects from `store` to the remote
/// collection, in envelopes bounded by size and count, waiting for each status.
pub async fn push(
    client: &Client,
    api_root: &Url,
    collection_id: &str,
    store: &dyn Store,
    mut query: Query,
    options: &PushOptions,
    progress: &mut (dyn FnMut(&PushReport) + Send),
) -> Result<PushReport, SyncError> {
    let info = client.api_root(api_root).await?;
    let server_max = usize::try_from(info.max_content_length).unwrap_or(usize::MAX);
    let max_bytes = options.max_envelope_bytes.min(server_max);
    query.with_body = true;
    let mut report = PushReport::default();
    let mut envelope = EnvelopeBuilder::new(max_bytes, options.max_envelope_objects);
    let mut stream = store.stream(query);
    while let Some(obj) = stream.next().await {
        let obj = obj?;
        if obj.json.len() + 16 > max_bytes {
            report.failed.push(StatusDetail {
                id: obj.id,
                version: obj.version_text,
                message: Some(format!(
                    "not sent: {} bytes exceed the envelope limit of {max_bytes} bytes",
                    obj.json.len()
                )),
            });
            continue;
        }
        if !envelope.fits(obj.json.len()) {
            send(
                client,
                api_root,
                collection_id,
                &mut envelope,
                options,
                &mut report,
            )
            .await?;
            progress(&report);
        }
        envelope.push(&obj.json);
    }
    if !envelope.is_empty() {
        send(
            client,
            api_root,
            collection_id,
            &mut envelope,
            options,
            &mut report,
        )
        .await?;
        progress(&report);
    }
    Ok(report)
}

async fn send(
    client: &Client,
    api_root: &Url,
    collection_id: &str,
    envelope: &mut EnvelopeBuilder,
    options: &PushOptions,
    report: &mut PushReport,
) -> Result<(), SyncError> {
    let n = envelope.len() as u64;
    let body = envelope.take();
    let status = client.post_envelope(api_root, collection_id, body).await?;
    let status = if status.is_complete() {
        status
    } else {
        match client
            .wait_for_status(api_root, &status.id, &options.poll)
            .await
        {
            Ok(s) => s,
            Err(ClientError::StatusTimeout { pending, .. }) => {
                report.envelopes += 1;
                report.sent += n;
                report.pending += pending;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    };
    report.envelopes += 1;
    report.sent += n;
    report.succeeded += status.success_count;
    report.pending += status.pending_count;
    report.failed.extend(status.failures);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_reports_id_pointer_and_reason() {
        let bad = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}"#;
        let r = check(bad).unwrap_err();
        assert_eq!(
            r.id.as_deref(),
            Some("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
        );
        assert_eq!(r.pointer, "/pattern");
        assert!(r.to_string().contains("at /pattern"), "{r}");

        let r = check("{not json").unwrap_err();
        assert_eq!(r.code, "invalid-json");

        let good = bad.replace(
            r#""pattern_type""#,
            r#""pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type""#,
        );
        let o = check(&good).unwrap();
        assert_eq!(o.type_name, "indicator");
        assert_eq!(o.version_text, "2024-01-01T00:00:00.000Z");
    }

    #[test]
    fn cursor_keys_separate_servers_and_collections() {
        let a: Url = "http://127.0.0.1:1/api1/".parse().unwrap();
        let b: Url = "http://127.0.0.1:2/api1/".parse().unwrap();
        assert_ne!(cursor_key(&a, "c"), cursor_key(&b, "c"));
        assert_ne!(cursor_key(&a, "c"), cursor_key(&a, "d"));
    }
}
