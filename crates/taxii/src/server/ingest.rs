//! POST …/objects/ (§5.5 Add Objects): envelope checks, body limits, per-object
//! validation and storage, and the status resource (§4.3.1).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stix::Timestamp;
use store::{CollectionId, InsertOutcome, MetaRow, NewObject, StatusRecord, StoreError};

use super::error::ServerError;
use super::gate;
use super::handlers::{begin, collection_for, root, taxii_response, ts, Need, Result};
use super::media;
use super::validate;
use super::AppState;

/// Objects are validated and written in batches of this many.
const BATCH: usize = 1000;

/// One entry of a status resource's successes / failures / pendings (the client's type:
/// the server writes what the client reads).
pub use crate::client::StatusDetail;

/// The TAXII status resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusResource {
    pub id: String,
    pub status: String,
    pub request_timestamp: String,
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

/// Reads the body, refusing more than `limit` bytes (declared or streamed).
async fn read_limited(headers: &HeaderMap, body: Body, limit: u64) -> Result<Vec<u8>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ServerError::TooLarge { limit });
    }
    // Sized from Content-Length (already checked against the limit): one allocation
    // instead of a chain of reallocations for a multi-megabyte envelope.
    let mut out = Vec::with_capacity(declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ServerError::BadJson {
            line: 0,
            column: 0,
            reason: format!("cannot read the request body: {e}"),
        })?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(ServerError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Parses the envelope and returns its objects.
fn parse_envelope(bytes: &[u8]) -> Result<Vec<Value>> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ServerError::BadJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    let Value::Object(mut map) = v else {
        return Err(ServerError::BadEnvelope {
            pointer: "/".into(),
            reason: format!(
                "expected a JSON object, found {}",
                stix::object::json_kind(&v)
            ),
        });
    };
    match map.remove("objects") {
        Some(Value::Array(objects)) if !objects.is_empty() => Ok(objects),
        Some(Value::Array(_)) => Err(ServerError::BadEnvelope {
            pointer: "/objects".into(),
            reason: "the envelope holds no objects".into(),
        }),
        Some(other) => Err(ServerError::BadEnvelope {
            pointer: "/objects".into(),
            reason: format!(
                "expected an array, found {}",
                stix::object::json_kind(&other)
            ),
        }),
        None => Err(ServerError::BadEnvelope {
            pointer: "/objects".into(),
            reason: "required property 'objects' is missing".into(),
        }),
    }
}

fn detail_of(v: &Value, fallback_version: &str) -> StatusDetail {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    StatusDetail {
        id: s("id").unwrap_or_default().to_owned(),
        version: s("modified")
            .or_else(|| s("created"))
            .unwrap_or(fallback_version)
            .to_owned(),
        message: None,
    }
}

/// A validated object: its status entry, its stored form, (for a peer's push, whose
/// objects the federation layer still checks and rewrites) the object itself, and (for
/// a local publication on a node that signs) this node's signature.
type Checked = Result<
    (
        StatusDetail,
        NewObject,
        Option<stix::Object>,
        Option<policy::stored::SignedBy>,
    ),
    StatusDetail,
>;

/// Who is publishing: one of this node's accounts, or a partner node pushing.
#[derive(Debug, Clone)]
pub(crate) enum Publisher {
    Local(policy::OrgId),
    Peer(super::auth::Principal),
}

/// Validates one batch and prepares the valid objects for storage (signing them when
/// `signer` is given).
fn check_batch(
    chunk: Vec<Value>,
    req_ts: &str,
    keep: bool,
    signer: Option<&dyn gate::PublishSigner>,
) -> Vec<Checked> {
    chunk
        .into_iter()
        .map(|v| {
            let detail = detail_of(&v, req_ts);
            match validate::check(v) {
                Ok(obj) => {
                    let new = NewObject::from_object(&obj);
                    let signature = signer.map(|s| s.sign(&obj));
                    Ok((detail, new, keep.then_some(obj), signature))
                }
                Err(e) => Err(StatusDetail {
                    message: Some(format!("invalid object: {e}")),
                    ..detail
                }),
            }
        })
        .collect()
}

/// Where a background ingestion saves its progress, and what it owns: the status is
/// owned by this server instance until it is final (see [`super::recovery`]).
struct Progress {
    root: String,
    org: String,
    created: i64,
    collection: CollectionId,
}

/// How a batch's status is kept: an inline POST saves the final status in the
/// transaction of its last batch; a background one checks in each batch's
/// transaction that this instance still owns the status.
#[derive(Clone, Copy)]
enum BatchMode<'a> {
    /// An inline POST's last batch: the final status is saved in its transaction.
    InlineLast(&'a Progress),
    /// An inline POST's batch that is not its last.
    Inline,
    /// A background ingestion's batch.
    Background,
}

/// What [`store_batch`] did with the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchEnd {
    /// The batch is recorded in `st`; the status is saved later.
    Recorded,
    /// The batch is recorded and the final status saved with it, in one commit.
    SavedFinal,
    /// Another instance claimed the status (this one was taken for gone): stop.
    Lost,
}

/// Saves the status every this many batches while a background ingestion runs.
const PROGRESS_EVERY: usize = 10;

/// Failure message of an object a background ingestion did not reach before the
/// server shut down (see [`super::AppState::drain_ingest`]).
pub const ABANDONED_AT_SHUTDOWN: &str = "not stored: the server shut down before this object \
     was processed; POST it again (an object already stored is reported as a success)";

/// Validates and stores objects, filling `st`; returns whether the final status is
/// already saved (an inline POST's, in its last batch's transaction) and whether the
/// status was lost to another instance (errors are per object).
/// With `progress` (a background ingestion), the status is saved every
/// [`PROGRESS_EVERY`] batches with its counts, successes, failures and the objects still
/// pending; and when the server asks background work to stop (graceful shutdown past
/// its grace period), the batch being written is finished and every object not yet
/// processed is recorded as a failure ([`ABANDONED_AT_SHUTDOWN`]).
async fn process(
    state: &AppState,
    coll: &CollectionId,
    objects: Vec<Value>,
    st: &mut StatusResource,
    progress: Option<&Progress>,
    inline: Option<&Progress>,
    publisher: &Publisher,
) -> BatchEnd {
    let keep = matches!(publisher, Publisher::Peer(_));
    // What this node publishes is signed once, here (a partner's push keeps the
    // signature it came with).
    let signer = match publisher {
        Publisher::Local(_) => state.publish_signer.get().cloned(),
        Publisher::Peer(_) => None,
    };
    let mut batches_done = 0usize;
    let req_ts = st.request_timestamp.clone();
    let mut chunks: std::collections::VecDeque<Vec<Value>> = std::collections::VecDeque::new();
    let mut iter = objects.into_iter();
    loop {
        let chunk: Vec<Value> = iter.by_ref().take(BATCH).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push_back(chunk);
    }
    // CPU work (validation, canonical JSON, hashing) runs off the async threads, one
    // batch ahead of the database writes, so both cores stay busy.
    let spawn = |chunk: Vec<Value>| {
        let req_ts = req_ts.clone();
        let fallback: Vec<StatusDetail> = chunk.iter().map(|v| detail_of(v, &req_ts)).collect();
        let signer = signer.clone();
        let task = tokio::task::spawn_blocking(move || {
            check_batch(chunk, &req_ts, keep, signer.as_deref())
        });
        (task, fallback)
    };
    let mut next = chunks.pop_front().map(spawn);
    let mut end = BatchEnd::Recorded;
    while let Some((task, fallback)) = next.take() {
        if progress.is_some() && state.background.stop_requested() {
            // Shutdown: what is committed stays; the rest is reported, not left pending.
            task.abort();
            let rest = fallback.into_iter().chain(
                chunks
                    .drain(..)
                    .flat_map(|c| c.iter().map(|v| detail_of(v, &req_ts)).collect::<Vec<_>>()),
            );
            for mut d in rest {
                d.message = Some(ABANDONED_AT_SHUTDOWN.to_owned());
                st.failure_count += 1;
                st.failures.push(d);
            }
            tracing::warn!(status = %st.id, failed = st.failure_count, "background ingestion stopped at shutdown");
            break;
        }
        next = chunks.pop_front().map(spawn);
        let checked = task.await;
        batches_done += 1;
        if let Some(p) = progress.filter(|_| batches_done.is_multiple_of(PROGRESS_EVERY)) {
            st.pending_count = st.total_count - st.success_count - st.failure_count;
            st.pendings = fallback
                .iter()
                .cloned()
                .chain(next.iter().flat_map(|(_, f)| f.iter().cloned()))
                .chain(
                    chunks
                        .iter()
                        .flat_map(|c| c.iter().map(|v| detail_of(v, &req_ts))),
                )
                .collect();
            let saved = save_owned(state, p, st, true).await;
            st.pendings = Vec::new();
            match saved {
                Ok(true) => {}
                Ok(false) => {
                    task_lost(st, &mut next, &mut chunks);
                    return BatchEnd::Lost;
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), error = %e, "cannot save ingestion progress")
                }
            }
        }
        let checked = match checked {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "validation task failed");
                for mut d in fallback {
                    d.message = Some("internal error while validating".into());
                    st.failure_count += 1;
                    st.failures.push(d);
                }
                continue;
            }
        };
        let mode = match (progress, inline) {
            (Some(_), _) => BatchMode::Background,
            (None, Some(p)) if next.is_none() => BatchMode::InlineLast(p),
            (None, _) => BatchMode::Inline,
        };
        end = store_batch(state, coll, checked, st, publisher, mode).await;
        if end == BatchEnd::Lost {
            task_lost(st, &mut next, &mut chunks);
            return end;
        }
    }
    finish(st);
    state
        .metrics
        .observe_ingest(st.success_count, st.failure_count);
    end
}

/// Marks a status final: nothing pending, `complete`.
fn finish(st: &mut StatusResource) {
    st.pending_count = 0;
    st.pendings.clear();
    st.status = "complete".into();
}

/// Stops a background ingestion whose status another instance claimed: the work still
/// queued is dropped (that instance reports it from what is stored).
fn task_lost(
    st: &StatusResource,
    next: &mut Option<(tokio::task::JoinHandle<Vec<Checked>>, Vec<StatusDetail>)>,
    chunks: &mut std::collections::VecDeque<Vec<Value>>,
) {
    if let Some((task, _)) = next.take() {
        task.abort();
    }
    chunks.clear();
    tracing::warn!(status = %st.id, "status claimed by another server instance: this one was taken for stopped; ingestion abandoned");
}

/// A partner's pushed objects, as the federation layer accepts them: the stored form
/// and metadata of each accepted one; refused ones go to the failures.
async fn accept_pushed(
    state: &AppState,
    peer: &super::auth::Principal,
    coll: &CollectionId,
    details: Vec<StatusDetail>,
    objects: Vec<stix::Object>,
    st: &mut StatusResource,
) -> Result<(Vec<StatusDetail>, Vec<NewObject>, Vec<MetaRow>)> {
    let Some(hook) = state.federation.get() else {
        for mut d in details {
            d.message = Some("this node does not accept objects from partner nodes".into());
            st.failure_count += 1;
            st.failures.push(d);
        }
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    };
    let dir = state.directory.get(state.store.as_ref()).await?;
    let verdicts = hook.accept(&dir, peer, &coll.0, objects).await;
    let now = store::now_micros();
    let mut keep_details = Vec::new();
    let mut accepted = Vec::new();
    let mut rows = Vec::new();
    for (mut d, v) in details.into_iter().zip(verdicts) {
        match v {
            Ok(a) => {
                rows.push(MetaRow {
                    id: a.object.id().to_owned(),
                    json: gate::meta_json(&a.doc)?,
                    expires: a.expires,
                    updated: now,
                });
                accepted.push((a.object, a.canonical));
                keep_details.push(d);
            }
            Err(reason) => {
                d.message = Some(reason);
                st.failure_count += 1;
                st.failures.push(d);
            }
        }
    }
    let news = tokio::task::spawn_blocking(move || {
        accepted
            .iter()
            .map(|(o, canonical)| NewObject::from_object_canonical(o, canonical))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok((keep_details, news, rows))
}

/// Writes one validated batch in its own transaction, with the objects' sharing
/// metadata, and records each outcome in `st`.
async fn store_batch(
    state: &AppState,
    coll: &CollectionId,
    checked: Vec<Checked>,
    st: &mut StatusResource,
    publisher: &Publisher,
    mode: BatchMode<'_>,
) -> BatchEnd {
    let mut good = Vec::with_capacity(checked.len());
    let mut details = Vec::with_capacity(checked.len());
    let mut objects = Vec::new();
    let mut signatures = Vec::with_capacity(checked.len());
    for c in checked {
        match c {
            Ok((d, n, o, sig)) => {
                details.push(d);
                good.push(n);
                objects.extend(o);
                signatures.push(sig);
            }
            Err(d) => {
                st.failure_count += 1;
                st.failures.push(d);
            }
        }
    }
    if good.is_empty() {
        return BatchEnd::Recorded;
    }
    let prepared = match publisher {
        Publisher::Local(owner) => {
            let published: Vec<gate::Published<'_>> = good
                .iter()
                .zip(signatures)
                .map(|(n, signature)| gate::Published {
                    id: &n.id,
                    version_key: &n.version_key,
                    signature,
                })
                .collect();
            let rows = gate::publish_meta(state.store.as_ref(), owner, &coll.0, &published).await;
            drop(published);
            rows.map(|rows| (details, good, rows))
        }
        Publisher::Peer(peer) => accept_pushed(state, peer, coll, details, objects, st).await,
    };
    let (details, good, rows) = match prepared {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "preparing a batch failed");
            return BatchEnd::Recorded;
        }
    };
    if good.is_empty() {
        return BatchEnd::Recorded;
    }
    // What `st` held before this batch, to undo a recording whose commit failed.
    let before = (
        st.success_count,
        st.failure_count,
        st.successes.len(),
        st.failures.len(),
    );
    let result = async {
        let mut tx = state.store.begin().await?;
        if matches!(mode, BatchMode::Background)
            && !tx.holds_status(&st.id, &state.instance).await?
        {
            tx.rollback().await?;
            return Ok(BatchEnd::Lost);
        }
        let out = tx.insert(&good, std::slice::from_ref(coll)).await?;
        tx.put_meta(&rows).await?;
        record(st, details.iter().cloned(), out);
        let end = if let BatchMode::InlineLast(p) = mode {
            finish(st);
            tx.put_status(&status_record(p, st, None)?).await?;
            BatchEnd::SavedFinal
        } else {
            BatchEnd::Recorded
        };
        tx.commit().await?;
        Ok::<_, StoreError>(end)
    }
    .await;
    match result {
        Ok(end) => end,
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "storing a batch failed");
            st.success_count = before.0;
            st.failure_count = before.1;
            st.successes.truncate(before.2);
            st.failures.truncate(before.3);
            st.status = "pending".into();
            for mut d in details {
                d.message = Some(format!("storage error ({})", e.code()));
                st.failure_count += 1;
                st.failures.push(d);
            }
            BatchEnd::Recorded
        }
    }
}

/// Records one committed batch's outcomes in `st`.
fn record(
    st: &mut StatusResource,
    details: impl Iterator<Item = StatusDetail>,
    outcomes: Vec<InsertOutcome>,
) {
    for (mut d, o) in details.zip(outcomes) {
        match o {
            InsertOutcome::Inserted { date_added, .. } => {
                if d.version.is_empty() || d.version == st.request_timestamp {
                    d.version = ts(date_added);
                }
                st.success_count += 1;
                st.successes.push(d);
            }
            InsertOutcome::Duplicate => {
                d.message = Some("identical version already stored".into());
                st.success_count += 1;
                st.successes.push(d);
            }
            InsertOutcome::Conflict { existing_hash } => {
                d.message = Some(format!(
                            "version conflict: this id and version are already stored with different content (sha256 {existing_hash})"
                        ));
                st.failure_count += 1;
                st.failures.push(d);
            }
        }
    }
}

/// The stored form of `st`; `owner`: the instance processing it (with the collection
/// it writes to), `None` once final.
fn status_record(
    p: &Progress,
    st: &StatusResource,
    owner: Option<&str>,
) -> std::result::Result<StatusRecord, StoreError> {
    let json = serde_json::to_string(st)
        .map_err(|e| StoreError::InvalidArgument(format!("status resource: {e}")))?;
    Ok(StatusRecord {
        id: st.id.clone(),
        api_root: p.root.clone(),
        owner_org: Some(p.org.clone()),
        created: p.created,
        json,
        owner_instance: owner.map(str::to_owned),
        collection: owner.map(|_| p.collection.0.clone()),
    })
}

/// Saves a status (unconditionally: a new one, or an inline POST's); returns its JSON.
async fn save(state: &AppState, p: &Progress, st: &StatusResource, owned: bool) -> Result<String> {
    let owner = owned.then_some(state.instance.as_str());
    let rec = status_record(p, st, owner)?;
    state.store.put_status(&rec).await?;
    Ok(rec.json)
}

/// Saves a background ingestion's status while this instance still owns it (`keep`:
/// it stays owned, i.e. progress; otherwise this is the final save). Returns false when
/// another instance has claimed it.
async fn save_owned(
    state: &AppState,
    p: &Progress,
    st: &StatusResource,
    keep: bool,
) -> std::result::Result<bool, StoreError> {
    let owner = keep.then_some(state.instance.as_str());
    let rec = status_record(p, st, owner)?;
    state.store.put_status_if_owner(&rec, &state.instance).await
}

/// POST …/objects/.
pub(super) async fn add_objects(
    State(state): State<AppState>,
    Path((name, cid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    media::check_content_type(&headers)?;
    let (c, _) = collection_for(&state, &p, r, &cid, Need::Write).await?;
    let bytes = read_limited(&headers, body, r.max_content_length).await?;
    let objects = tokio::task::spawn_blocking(move || parse_envelope(&bytes))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    let publisher = if p.role == "peer" {
        Publisher::Peer(p.clone())
    } else {
        Publisher::Local(policy::OrgId::new(p.org_id.clone()))
    };
    let created = Timestamp::now_unix_micros();
    let mut st = StatusResource {
        id: uuid::Uuid::new_v4().to_string(),
        status: "pending".into(),
        request_timestamp: ts(created),
        total_count: objects.len() as u64,
        success_count: 0,
        successes: Vec::new(),
        failure_count: 0,
        failures: Vec::new(),
        pending_count: objects.len() as u64,
        pendings: Vec::new(),
    };
    let progress = Progress {
        root: r.name.clone(),
        org: p.org_id.clone(),
        created,
        collection: c.id.clone(),
    };
    if objects.len() <= state.config.inline_ingest_max {
        let end = process(
            &state,
            &c.id,
            objects,
            &mut st,
            None,
            Some(&progress),
            &publisher,
        )
        .await;
        let json = if end == BatchEnd::SavedFinal {
            serde_json::to_string(&st).map_err(|e| ServerError::Internal(e.to_string()))?
        } else {
            save(&state, &progress, &st, false).await?
        };
        return Ok(taxii_response(StatusCode::ACCEPTED, json));
    }
    st.pendings = objects
        .iter()
        .map(|v| detail_of(v, &st.request_timestamp))
        .collect();
    let json = save(&state, &progress, &st, true).await?;
    let state2 = state.clone();
    // Counted from before the 202 is sent, so a shutdown that starts right after the
    // response still waits for (or finalises) this ingestion.
    let running = state.enter_background();
    tokio::spawn(async move {
        let _running = running;
        let mut st = st;
        st.pendings.clear();
        let end = process(
            &state2,
            &c.id,
            objects,
            &mut st,
            Some(&progress),
            None,
            &publisher,
        )
        .await;
        if end == BatchEnd::Lost {
            return;
        }
        match save_owned(&state2, &progress, &st, false).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(status = %st.id, "status claimed by another server instance before the final save");
            }
            Err(e) => {
                tracing::error!(code = e.code(), error = %e, status = %st.id, "cannot save the final status");
            }
        }
    });
    Ok(taxii_response(StatusCode::ACCEPTED, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_errors() {
        assert_eq!(parse_envelope(b"{").unwrap_err().code(), "taxii.bad_json");
        assert_eq!(parse_envelope(b"[]").unwrap_err().status(), 422);
        assert_eq!(parse_envelope(b"{}").unwrap_err().to_string(), "request body is not a TAXII envelope at /objects: required property 'objects' is missing");
        assert_eq!(
            parse_envelope(br#"{"objects":{}}"#).unwrap_err().status(),
            422
        );
        assert_eq!(
            parse_envelope(br#"{"objects":[]}"#).unwrap_err().status(),
            422
        );
        assert_eq!(
            parse_envelope(br#"{"objects":[{"a":1}]}"#).unwrap().len(),
            1
        );
        let e = parse_envelope(b"{\n \"objects\": [,]}").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[tokio::test]
    async fn body_limit_counts_streamed_bytes() {
        let h = HeaderMap::new();
        let e = read_limited(&h, Body::from(vec![b'x'; 11]), 10)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 413);
        assert_eq!(
            read_limited(&h, Body::from(vec![b'x'; 10]), 10)
                .await
                .unwrap()
                .len(),
            10
        );
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "999".parse().unwrap());
        assert_eq!(
            read_limited(&h, Body::from("x"), 10)
                .await
                .unwrap_err()
                .status(),
            413
        );
    }
}
