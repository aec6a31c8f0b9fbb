//! HTTP endpoints of the early-warning engine (mounted by `nadhir serve`):
//!
//! | method and path | role | what |
//! |---|---|---|
//! | `POST /warning/ingest` | sensor, analyst, admin | newline-delimited JSON events; `Idempotency-Key` makes a retried batch count nothing twice |
//! | `GET /warning/stream` | any | Server-Sent Events of the feed; resumes after `Last-Event-ID` (or `?after=`) |
//! | `GET /warning/alerts` | any | alerts, newest change first; `?state=new\|acknowledged\|closed&limit=` |
//! | `GET /warning/alerts/{id}` | any | one alert |
//! | `POST /warning/alerts/{id}/{ack\|close\|reopen\|false-positive}` | analyst, admin | state change; false positive takes `{"reason": "…"}` |
//! | `GET /warning/status` | any | counters, index status, samples of undecodable events |
//! | `GET/POST /warning/webhooks`, `DELETE /warning/webhooks/{id}`, `GET /warning/dead-letters` | admin | webhooks |
//! | `GET/POST /warning/assets`, `DELETE /warning/assets/{id}` | analyst, admin | asset watchlist (`{"owner", "criticality", "target"}`) |
//!
//! Authentication: `Authorization: Bearer <token>` with a token made by
//! `nadhir admin token create` (stored hashed). Errors are JSON
//! `{"code": "...", "message": "..."}` with the status of [`EngineError::http_status`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::alerts::{parse_state, AlertOp};
use super::deliver::{add_webhook, dead_letters, feed_stream, list_webhooks, remove_webhook};
use super::pipeline::{Batch, EventIds};
use super::{Engine, EngineError};
use crate::hit::SourceRef;

/// Largest ingest body accepted.
pub const MAX_INGEST_BYTES: usize = 64 << 20;

/// The caller, from its token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub org_id: String,
    pub role: String,
    pub user_id: Option<String>,
}

impl Caller {
    fn reader(&self) -> super::gate::Reader {
        super::gate::Reader {
            org: self.org_id.clone(),
            user: self.user_id.clone(),
            role: self.role.clone(),
        }
    }
}

/// The roles that read alerts: every local account (a partner's peer account reads
/// only through sync).
const READERS: &[&str] = &["admin", "analyst", "reader", "sensor"];

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError::new(e.http_status(), e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"nadhir\""),
            );
        }
        r
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

async fn caller(engine: &Engine, headers: &HeaderMap, roles: &[&str]) -> ApiResult<Caller> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::new(401, "auth.missing", "a Bearer token is required"))?;
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let rec = engine
        .store
        .get_token_by_hash(&hash)
        .await
        .map_err(EngineError::from)?
        .filter(|t| !t.revoked)
        .ok_or_else(|| ApiError::new(401, "auth.invalid", "unknown or revoked token"))?;
    if !roles.is_empty() && !roles.contains(&rec.role.as_str()) {
        return Err(ApiError::new(
            403,
            "auth.forbidden",
            format!(
                "role {} may not do this (needs one of {})",
                rec.role,
                roles.join(", ")
            ),
        ));
    }
    Ok(Caller {
        token_id: rec.id,
        org_id: rec.org_id,
        role: rec.role,
        user_id: rec.user_id,
    })
}

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct WarningState {
    engine: Arc<Engine>,
    /// Turns true when the server shuts down: live streams end.
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl axum::extract::FromRef<WarningState> for Arc<Engine> {
    fn from_ref(s: &WarningState) -> Arc<Engine> {
        s.engine.clone()
    }
}

/// The routes. Live streams end when `shutdown` turns true.
pub fn router(engine: Arc<Engine>, shutdown: tokio::sync::watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/warning/ingest", post(ingest))
        .route("/warning/stream", get(stream))
        .route("/warning/alerts", get(alerts))
        .route("/warning/alerts/{id}", get(alert))
        .route("/warning/alerts/{id}/{action}", post(act))
        .route("/warning/status", get(status))
        .route("/warning/webhooks", get(webhooks).post(create_webhook))
        .route("/warning/webhooks/{id}", delete(drop_webhook))
        .route("/warning/dead-letters", get(dead))
        .route("/warning/assets", get(assets).post(create_asset))
        .route("/warning/assets/{id}", delete(drop_asset))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_INGEST_BYTES))
        .with_state(WarningState { engine, shutdown })
}

async fn ingest(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&engine, &headers, &["sensor", "analyst", "admin"]).await?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200);
    let prefix = match key {
        Some(k) => format!("http:{}:{k}", who.org_id),
        None => format!("http:{}:{}", who.org_id, uuid::Uuid::now_v7()),
    };
    let report = engine
        .process(Batch {
            source: SourceRef {
                kind: "http".into(),
                name: format!("http:{}", who.org_id),
            },
            data: body.to_vec(),
            ids: EventIds::Offsets { prefix, base: 0 },
        })
        .await?;
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
struct StreamParams {
    after: Option<i64>,
}

async fn stream(
    State(engine): State<Arc<Engine>>,
    State(state): State<WarningState>,
    headers: HeaderMap,
    Query(p): Query<StreamParams>,
) -> ApiResult<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>> {
    let who = caller(&engine, &headers, READERS).await?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = match last.or(p.after) {
        Some(a) => a,
        // A new subscriber starts with what happens next.
        None => super::deliver::feed_end(engine.store.as_ref()).await?,
    };
    let reader = who.reader();
    let gate = engine.gate.get().cloned();
    let s = feed_stream(engine, after, state.shutdown.clone()).filter_map(move |row| {
        let reader = reader.clone();
        let gate = gate.clone();
        async move {
            Some(Ok(match row {
                Ok(r) => {
                    let ok = super::gate::visible(
                        gate.as_ref(),
                        &reader,
                        &[r.body.as_str()],
                        super::gate::AlertPurpose::Stream,
                    )
                    .await;
                    if ok.first() != Some(&true) {
                        return None;
                    }
                    Event::default()
                        .id(r.seq.to_string())
                        .event(r.kind)
                        .data(r.body)
                }
                Err(e) => Event::default()
                    .event("error")
                    .data(json!({"code": e.code(), "message": e.to_string()}).to_string()),
            }))
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}

#[derive(Deserialize)]
struct ListParams {
    state: Option<String>,
    limit: Option<usize>,
}

async fn alerts(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> ApiResult<Response> {
    let who = caller(&engine, &headers, READERS).await?;
    let state = match p.state.as_deref() {
        None => None,
        Some(s) => Some(parse_state(s).ok_or_else(|| {
            ApiError::new(
                400,
                "warning.bad_parameter",
                format!("state={s:?}: expected new, acknowledged or closed"),
            )
        })?),
    };
    let list = engine
        .list_alerts(state, p.limit.unwrap_or(100).min(10_000))
        .await?;
    let bodies: Vec<String> = list
        .iter()
        .map(|a| serde_json::to_string(a).unwrap_or_default())
        .collect();
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let allowed = super::gate::visible(
        engine.gate.get(),
        &who.reader(),
        &refs,
        super::gate::AlertPurpose::Read,
    )
    .await;
    let list: Vec<_> = list
        .into_iter()
        .zip(allowed)
        .filter_map(|(a, ok)| ok.then_some(a))
        .collect();
    Ok(Json(json!({ "alerts": list })).into_response())
}

async fn alert(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let who = caller(&engine, &headers, READERS).await?;
    let rec = engine.get_alert(&id).await?;
    let body = serde_json::to_string(&rec).unwrap_or_default();
    let ok = super::gate::visible(
        engine.gate.get(),
        &who.reader(),
        &[body.as_str()],
        super::gate::AlertPurpose::Read,
    )
    .await;
    if ok.first() != Some(&true) {
        // Withheld exactly like an absent alert.
        return Err(EngineError::AlertNotFound(id).into());
    }
    Ok(Json(rec).into_response())
}

#[derive(Deserialize, Default)]
struct ActBody {
    reason: Option<String>,
}

async fn act(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&engine, &headers, &["analyst", "admin"]).await?;
    let b: ActBody = if body.is_empty() {
        ActBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(400, "warning.bad_body", format!("body: {e}")))?
    };
    let op = match action.as_str() {
        "ack" | "acknowledge" => AlertOp::Acknowledge,
        "close" => AlertOp::Close,
        "reopen" => AlertOp::Reopen,
        "false-positive" => AlertOp::FalsePositive {
            reason: b.reason.unwrap_or_default(),
        },
        other => {
            return Err(ApiError::new(
                404,
                "warning.unknown_action",
                format!("unknown action {other:?}: ack, close, reopen or false-positive"),
            ))
        }
    };
    let by = format!("token:{}", who.token_id);
    Ok(Json(engine.act_on_alert(&id, op, &by).await?).into_response())
}

async fn status(State(engine): State<Arc<Engine>>, headers: HeaderMap) -> ApiResult<Response> {
    caller(&engine, &headers, &[]).await?;
    Ok(Json(engine.status()).into_response())
}

async fn webhooks(State(engine): State<Arc<Engine>>, headers: HeaderMap) -> ApiResult<Response> {
    caller(&engine, &headers, &["admin"]).await?;
    let hooks: Vec<serde_json::Value> = list_webhooks(engine.store.as_ref())
        .await?
        .into_iter()
        .map(|h| json!({"id": h.id, "url": h.url, "kinds": h.kinds, "max_attempts": h.max_attempts, "created": h.created}))
        .collect();
    Ok(Json(json!({ "webhooks": hooks })).into_response())
}

#[derive(Deserialize)]
struct NewHook {
    url: String,
    secret: String,
    #[serde(default)]
    kinds: Vec<String>,
    max_attempts: Option<u32>,
}

async fn create_webhook(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&engine, &headers, &["admin"]).await?;
    let h: NewHook = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(400, "warning.bad_body", format!("body: {e}")))?;
    let hook = add_webhook(
        engine.store.as_ref(),
        &h.url,
        &h.secret,
        h.kinds,
        h.max_attempts.unwrap_or(6),
        &who.org_id,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": hook.id, "url": hook.url, "kinds": hook.kinds, "max_attempts": hook.max_attempts})),
    )
        .into_response())
}

async fn drop_webhook(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller(&engine, &headers, &["admin"]).await?;
    remove_webhook(engine.store.as_ref(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn dead(State(engine): State<Arc<Engine>>, headers: HeaderMap) -> ApiResult<Response> {
    caller(&engine, &headers, &["admin"]).await?;
    Ok(
        Json(json!({ "dead_letters": dead_letters(engine.store.as_ref(), 1000).await? }))
            .into_response(),
    )
}

async fn assets(State(engine): State<Arc<Engine>>, headers: HeaderMap) -> ApiResult<Response> {
    caller(&engine, &headers, &["analyst", "admin"]).await?;
    let list = super::assets::list_assets(engine.store.as_ref()).await?;
    Ok(Json(json!({ "assets": list })).into_response())
}

#[derive(Deserialize)]
struct NewAsset {
    owner: String,
    criticality: crate::hit::Criticality,
    target: String,
}

async fn create_asset(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    caller(&engine, &headers, &["analyst", "admin"]).await?;
    let a: NewAsset = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(400, "warning.bad_body", format!("body: {e}")))?;
    let rec =
        super::assets::add_asset(engine.store.as_ref(), &a.owner, a.criticality, &a.target).await?;
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}

async fn drop_asset(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller(&engine, &headers, &["analyst", "admin"]).await?;
    super::assets::remove_asset(engine.store.as_ref(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
