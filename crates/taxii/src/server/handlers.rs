//! GET / DELETE handlers of the TAXII 2.1 endpoints.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stix::Timestamp;
use store::{Collection, CollectionId, Page, Query, StoredObject, VersionFilter};

use super::auth::{Principal, Rights};
use super::error::ServerError;
use super::filters::{self, Endpoint, Filters};
use super::gate;
use super::media::{self, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};
use super::next::Position;
use super::{ApiRootConfig, AppState};

pub(super) type Result<T, E = ServerError> = std::result::Result<T, E>;

/// A 200 response with a TAXII body.
pub(super) fn taxii_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    r
}

fn json_response(v: &serde_json::Value) -> Response {
    taxii_response(StatusCode::OK, v.to_string())
}

/// Formats Unix microseconds as a TAXII timestamp (6 fractional digits).
pub(super) fn ts(micros: i64) -> String {
    Timestamp::from_unix_micros(micros).to_string()
}

/// Authenticates and checks `Accept` (every TAXII GET does both).
pub(super) async fn begin(state: &AppState, headers: &HeaderMap) -> Result<Principal> {
    if !headers.contains_key(header::AUTHORIZATION) {
        let dir = state.directory.get(state.store.as_ref()).await?;
        if dir.ctx.config.allow_anonymous_clear {
            media::check_accept(headers)?;
            return Ok(Principal::anonymous());
        }
    }
    let p = state
        .auth
        .authenticate(state.store.as_ref(), headers)
        .await?;
    media::check_accept(headers)?;
    Ok(p)
}

pub(super) fn root<'a>(state: &'a AppState, name: &str) -> Result<&'a ApiRootConfig> {
    state
        .config
        .root(name)
        .ok_or_else(|| ServerError::not_found(format!("API root {name:?}")))
}

/// What a handler needs from a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Read,
    Write,
}

/// Finds a collection (by id or alias) in an API root and checks the principal's rights.
/// A collection the principal has no right on at all is reported as absent (404), so
/// its existence does not leak; one it may see but not use as asked is a 403.
pub(super) async fn collection_for(
    state: &AppState,
    p: &Principal,
    root: &ApiRootConfig,
    id: &str,
    need: Need,
) -> Result<(Collection, Rights)> {
    let absent =
        || ServerError::not_found(format!("collection {id:?} in API root {:?}", root.name));
    let c = match state.collections.get(id) {
        Some(c) => c,
        None => {
            let c = state.store.find_collection(id).await?.ok_or_else(absent)?;
            state.collections.put(id.to_owned(), c.clone());
            c
        }
    };
    if c.api_root != root.name {
        return Err(absent());
    }
    let rights = state.auth.rights(state.store.as_ref(), p, &c.id).await?;
    if !rights.read && !rights.write {
        return Err(absent());
    }
    match need {
        Need::Read if !rights.read => Err(ServerError::Forbidden(format!(
            "organisation {} may not read collection {}",
            p.org_id, c.id
        ))),
        Need::Write if !rights.write => Err(ServerError::Forbidden(format!(
            "organisation {} with role {} may not write to collection {}",
            p.org_id, p.role, c.id
        ))),
        _ => Ok((c, rights)),
    }
}

fn collection_json(c: &Collection, r: Rights) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(c.id.0));
    m.insert("title".into(), json!(c.title));
    if let Some(d) = &c.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(a) = &c.alias {
        m.insert("alias".into(), json!(a));
    }
    m.insert("can_read".into(), json!(r.read));
    m.insert("can_write".into(), json!(r.write));
    let media: Vec<&str> = if c.media_types.is_empty() {
        vec![STIX_MEDIA_TYPE]
    } else {
        c.media_types.iter().map(String::as_str).collect()
    };
    m.insert("media_types".into(), json!(media));
    serde_json::Value::Object(m)
}

pub(super) async fn not_found(uri: axum::http::Uri) -> ServerError {
    ServerError::not_found(format!("resource {}", uri.path()))
}

pub(super) async fn method_not_allowed(method: Method) -> ServerError {
    ServerError::MethodNotAllowed {
        method: method.to_string(),
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// GET /taxii2/ (§4.1).
pub(super) async fn discovery(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response> {
    begin(&state, &headers).await?;
    let base = match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() && !host.contains(['/', ' ']) => {
            format!(
                "{}://{host}",
                if state.config.tls { "https" } else { "http" }
            )
        }
        _ => String::new(),
    };
    let url = |name: &str| format!("{base}/{name}/");
    let mut m = serde_json::Map::new();
    m.insert("title".into(), json!(state.config.title));
    if let Some(d) = &state.config.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(c) = &state.config.contact {
        m.insert("contact".into(), json!(c));
    }
    if let Some(d) = &state.config.default_root {
        m.insert("default".into(), json!(url(d)));
    }
    let roots: Vec<String> = state
        .config
        .api_roots
        .iter()
        .map(|r| url(&r.name))
        .collect();
    if !roots.is_empty() {
        m.insert("api_roots".into(), json!(roots));
    }
    Ok(json_response(&serde_json::Value::Object(m)))
}

/// GET /{api-root}/ (§4.2).
pub(super) async fn api_root(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let mut m = serde_json::Map::new();
    m.insert("title".into(), json!(r.title));
    if let Some(d) = &r.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("versions".into(), json!(r.versions));
    m.insert("max_content_length".into(), json!(r.max_content_length));
    Ok(json_response(&serde_json::Value::Object(m)))
}

/// GET /{api-root}/status/{status-id}/ (§4.3). Only the organisation that posted
/// may read a status; others get 404.
pub(super) async fn status(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let absent = || ServerError::not_found(format!("status {id:?}"));
    let rec = state.store.get_status(&id).await?.ok_or_else(absent)?;
    if rec.api_root != r.name || rec.owner_org.as_deref() != Some(p.org_id.as_str()) {
        return Err(absent());
    }
    Ok(taxii_response(StatusCode::OK, rec.json))
}

/// GET /{api-root}/collections/ (§5.1): only collections the requester can read or write.
pub(super) async fn collections(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let mut out = Vec::new();
    for c in state.store.list_collections(Some(&r.name)).await? {
        let rights = state.auth.rights(state.store.as_ref(), &p, &c.id).await?;
        if rights.read || rights.write {
            out.push(collection_json(&c, rights));
        }
    }
    let body = if out.is_empty() {
        json!({})
    } else {
        json!({ "collections": out })
    };
    Ok(json_response(&body))
}

/// GET /{api-root}/collections/{id}/ (§5.2).
pub(super) async fn collection(
    State(state): State<AppState>,
    Path((name, cid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let (c, rights) = collection_for(&state, &p, r, &cid, Need::Read).await?;
    Ok(json_response(&collection_json(&c, rights)))
}

/// One page of a paged endpoint, with what the response headers need.
struct Paged {
    /// What the requester may receive of the page (the policy gate's copies).
    page: Page,
    next: Option<String>,
    /// `date_added` to report when the page is empty (the query's lower bound).
    lower_bound: i64,
    /// `date_added` of the first and last row the page covered, withheld ones
    /// included, so a poller resuming from the last header moves past them.
    span: Option<(i64, i64)>,
    /// Rows the policy withheld from this requester.
    withheld: usize,
}

async fn run_paged(
    state: &AppState,
    p: &Principal,
    root: &ApiRootConfig,
    coll: &CollectionId,
    object: Option<&str>,
    endpoint: Endpoint,
    f: &Filters,
) -> Result<Paged> {
    let binding = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        p.key,
        root.name,
        coll.0,
        object.unwrap_or_default(),
        f.normalized(endpoint)
    );
    let pos = match &f.next {
        Some(t) => Some(state.signer.verify(&binding, t)?),
        None => None,
    };
    let limit = f
        .limit
        .unwrap_or(state.config.default_page_size)
        .min(state.config.max_page_size);
    let versions = match endpoint {
        Endpoint::Versions => VersionFilter::all(),
        _ if f.versions.is_empty() => VersionFilter::last(),
        _ => f.versions.clone(),
    };
    let q = Query {
        collection: Some(coll.clone()),
        ids: match object {
            Some(id) => vec![id.to_owned()],
            None => f.ids.clone(),
        },
        types: f.types.clone(),
        versions,
        spec_versions: f.spec_versions.clone(),
        added_after: f.added_after,
        added_before_or_at: None,
        after_cursor: pos.map(|p| p.cursor),
        limit: Some(limit),
        // The policy decides on content, so every endpoint reads the bodies.
        with_body: true,
    };
    let mut page = state.store.query(&q).await?;
    let next = match (page.more, page.objects.last()) {
        (true, Some(last)) => Some(state.signer.issue(
            &binding,
            Position {
                cursor: last.cursor,
                date_added: last.date_added,
            },
        )),
        _ => None,
    };
    let lower_bound = pos.map(|p| p.date_added).or(f.added_after).unwrap_or(0);
    let span = match (page.objects.first(), page.objects.last()) {
        (Some(a), Some(b)) => Some((a.date_added, b.date_added)),
        _ => None,
    };
    let dir = state.directory.get(state.store.as_ref()).await?;
    let admitted = gate::admit(
        state.store.as_ref(),
        &dir,
        state.federation.get(),
        p,
        &coll.0,
        &page.objects,
    )
    .await?;
    let before = page.objects.len();
    page.objects = page
        .objects
        .into_iter()
        .zip(admitted)
        .filter_map(|(mut o, copy)| {
            copy.map(|json| {
                o.json = json;
                o
            })
        })
        .collect();
    let withheld = before - page.objects.len();
    Ok(Paged {
        page,
        next,
        lower_bound,
        span,
        withheld,
    })
}

/// Adds X-TAXII-Date-Added-First / -Last. On an empty page both carry the query's
/// lower bound (the `date_added` the `next` token continues from, else `added_after`,
/// else the epoch): a client that polls with `added_after` = the last header value
/// then neither misses nor repeats anything.
fn with_date_headers(mut r: Response, paged: &Paged) -> Response {
    let (first, last) = paged.span.unwrap_or((paged.lower_bound, paged.lower_bound));
    let h = r.headers_mut();
    for (name, v) in [
        ("x-taxii-date-added-first", first),
        ("x-taxii-date-added-last", last),
    ] {
        if let Ok(v) = HeaderValue::from_str(&ts(v)) {
            h.insert(name, v);
        }
    }
    r
}

/// `{"more":…,"next":…,"objects":[…]}` built from stored JSON text, without re-parsing.
fn objects_envelope(paged: &Paged) -> String {
    let size: usize = paged.page.objects.iter().map(|o| o.json.len() + 1).sum();
    let mut body = String::with_capacity(size + 128);
    body.push_str(if paged.page.more {
        "{\"more\":true"
    } else {
        "{\"more\":false"
    });
    if let Some(n) = &paged.next {
        body.push_str(",\"next\":\"");
        body.push_str(n); // base64url: no escaping needed
        body.push('"');
    }
    if !paged.page.objects.is_empty() {
        body.push_str(",\"objects\":[");
        for (i, o) in paged.page.objects.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&o.json);
        }
        body.push(']');
    }
    body.push('}');
    body
}

fn version_of(o: &StoredObject) -> String {
    if o.version_text.is_empty() {
        ts(o.date_added)
    } else {
        o.version_text.clone()
    }
}

fn list_envelope(paged: &Paged, key: &str, items: Vec<serde_json::Value>) -> String {
    let mut m = serde_json::Map::new();
    m.insert("more".into(), json!(paged.page.more));
    if let Some(n) = &paged.next {
        m.insert("next".into(), json!(n));
    }
    if !items.is_empty() {
        m.insert(key.into(), serde_json::Value::Array(items));
    }
    serde_json::Value::Object(m).to_string()
}

/// GET …/objects/ (§5.3).
pub(super) async fn get_objects(
    State(state): State<AppState>,
    Path((name, cid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let f = filters::parse(query.as_deref(), Endpoint::Objects)?;
    let (c, _) = collection_for(&state, &p, r, &cid, Need::Read).await?;
    let paged = run_paged(&state, &p, r, &c.id, None, Endpoint::Objects, &f).await?;
    Ok(with_date_headers(
        taxii_response(StatusCode::OK, objects_envelope(&paged)),
        &paged,
    ))
}

/// GET …/manifest/ (§5.4).
pub(super) async fn manifest(
    State(state): State<AppState>,
    Path((name, cid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let f = filters::parse(query.as_deref(), Endpoint::Manifest)?;
    let (c, _) = collection_for(&state, &p, r, &cid, Need::Read).await?;
    let paged = run_paged(&state, &p, r, &c.id, None, Endpoint::Manifest, &f).await?;
    let items = paged
        .page
        .objects
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "date_added": ts(o.date_added),
                "version": version_of(o),
                "media_type": format!("application/stix+json;version={}", o.spec_version),
            })
        })
        .collect();
    let body = list_envelope(&paged, "objects", items);
    Ok(with_date_headers(
        taxii_response(StatusCode::OK, body),
        &paged,
    ))
}

/// 404 unless the object has at least one version in the collection.
async fn ensure_object_exists(state: &AppState, coll: &CollectionId, id: &str) -> Result<()> {
    let q = Query {
        collection: Some(coll.clone()),
        ids: vec![id.to_owned()],
        versions: VersionFilter::all(),
        limit: Some(1),
        with_body: false,
        ..Query::default()
    };
    if state.store.query(&q).await?.objects.is_empty() {
        return Err(ServerError::not_found(format!(
            "object {id:?} in collection {}",
            coll.0
        )));
    }
    Ok(())
}

/// GET …/objects/{object-id}/ (§5.5).
pub(super) async fn get_object(
    State(state): State<AppState>,
    Path((name, cid, oid)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let f = filters::parse(query.as_deref(), Endpoint::Object)?;
    let (c, _) = collection_for(&state, &p, r, &cid, Need::Read).await?;
    let paged = run_paged(&state, &p, r, &c.id, Some(&oid), Endpoint::Object, &f).await?;
    if paged.page.objects.is_empty() && f.next.is_none() {
        ensure_object_exists(&state, &c.id, &oid).await?;
        if paged.withheld > 0 && !paged.page.more {
            // Withheld by policy: answered exactly like an absent object.
            return Err(ServerError::not_found(format!(
                "object {oid:?} in collection {}",
                c.id
            )));
        }
    }
    Ok(with_date_headers(
        taxii_response(StatusCode::OK, objects_envelope(&paged)),
        &paged,
    ))
}

/// GET …/objects/{object-id}/versions/ (§5.7).
pub(super) async fn versions(
    State(state): State<AppState>,
    Path((name, cid, oid)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let f = filters::parse(query.as_deref(), Endpoint::Versions)?;
    let (c, _) = collection_for(&state, &p, r, &cid, Need::Read).await?;
    let paged = run_paged(&state, &p, r, &c.id, Some(&oid), Endpoint::Versions, &f).await?;
    if paged.page.objects.is_empty() && f.next.is_none() {
        ensure_object_exists(&state, &c.id, &oid).await?;
        if paged.withheld > 0 && !paged.page.more {
            // Withheld by policy: answered exactly like an absent object.
            return Err(ServerError::not_found(format!(
                "object {oid:?} in collection {}",
                c.id
            )));
        }
    }
    let items = paged
        .page
        .objects
        .iter()
        .map(|o| json!(version_of(o)))
        .collect();
    let body = list_envelope(&paged, "versions", items);
    Ok(with_date_headers(
        taxii_response(StatusCode::OK, body),
        &paged,
    ))
}

/// DELETE …/objects/{object-id}/ (§5.6): needs write rights and an admin or analyst
/// role. Without `match[version]` every version is deleted.
pub(super) async fn delete_object(
    State(state): State<AppState>,
    Path((name, cid, oid)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let p = begin(&state, &headers).await?;
    let r = root(&state, &name)?;
    let f = filters::parse(query.as_deref(), Endpoint::Delete)?;
    let (c, _) = collection_for(&state, &p, r, &cid, Need::Write).await?;
    if !p.role_can_delete() {
        return Err(ServerError::Forbidden(format!(
            "role {} may not delete objects",
            p.role
        )));
    }
    let versions = if f.versions.is_empty() {
        VersionFilter::all()
    } else {
        f.versions.clone()
    };
    let n = state
        .store
        .delete_object(Some(&c.id), &oid, &versions, &f.spec_versions)
        .await?;
    if n == 0 {
        return Err(ServerError::not_found(format!(
            "object {oid:?} in collection {}",
            c.id
        )));
    }
    let mut resp = Response::new(Body::empty());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    Ok(resp)
}
