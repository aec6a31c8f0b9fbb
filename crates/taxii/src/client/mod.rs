//! An async TAXII 2.1 client (reqwest + rustls), usable against any conformant server
//! (Nadhir, the OASIS `medallion`, commercial feeds).
//!
//! ```no_run
//! # async fn demo() -> Result<(), taxii::client::ClientError> {
//! use futures::TryStreamExt;
//! use taxii::client::{Auth, Client, ObjectQuery};
//! let client = Client::new(Auth::Basic { user: "u".into(), password: "p".into() })?;
//! let url = "http://127.0.0.1:9000/taxii2/".parse().map_err(|e| {
//!     taxii::client::ClientError::InvalidUrl { url: "x".into(), reason: format!("{e}") }
//! })?;
//! let (root, _info) = client.resolve_api_root(&url).await?;
//! let mut pages = std::pin::pin!(client.pages(&root, "collection-id", ObjectQuery::new()));
//! while let Some(page) = pages.try_next().await? {
//!     println!("{} objects", page.objects.len());
//! }
//! # Ok(()) }
//! ```
//!
//! *Paging*: [`Client::pages`] follows the server's `next` token when it sends one
//! (medallion only supports this), and otherwise continues with `added_after` set to
//! the page's `X-TAXII-Date-Added-Last` (servers that page by time only). Because
//! `added_after` is exclusive, a server that gives several objects the same
//! `date_added` and splits them across pages would lose the rest of that instant
//! under time-only paging; servers that send `next` never have this problem.
//!
//! *Boundary*: response bodies are read with a size limit ([`ClientOptions`]), and
//! objects are handed out as raw JSON text, unmodified.

mod error;
mod query;
pub mod sync;
mod types;

pub use error::ClientError;
pub use query::{ObjectQuery, VersionSelector};
pub use types::{
    ApiRootInfo, CollectionInfo, DateAddedRange, Discovery, ErrorBody, ManifestPage,
    ManifestRecord, ObjectsPage, Status, StatusDetail, VersionsPage,
};

use futures::Stream;
use query::Endpoint;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
/// URLs as the client takes them.
pub use reqwest::Url;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::time::{Duration, Instant};
use stix::Timestamp;
use types::{CollectionsResource, EnvelopeResource, ManifestResource, VersionsResource};

/// `application/taxii+json;version=2.1`: TAXII resources and envelopes.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// `application/stix+json;version=2.1`: STIX content.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// Header with the `date_added` of the first object of a response.
pub const HEADER_DATE_ADDED_FIRST: &str = "X-TAXII-Date-Added-First";
/// Header with the `date_added` of the last object of a response.
pub const HEADER_DATE_ADDED_LAST: &str = "X-TAXII-Date-Added-Last";
/// Page size [`Client::pages`] asks for when the query sets none.
pub const DEFAULT_PAGE_LIMIT: u32 = 1000;

type Result<T, E = ClientError> = std::result::Result<T, E>;

/// How the client authenticates.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// HTTP Basic.
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { user, .. } => {
                write!(f, "Auth::Basic {{ user: {user:?}, password: *** }}")
            }
            Auth::Bearer(_) => f.write_str("Auth::Bearer(***)"),
        }
    }
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: usize,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 256 * 1024 * 1024,
            user_agent: format!("nadhir-taxii-client/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// How [`Client::wait_for_status`] polls a pending status resource: the delay starts
/// at `initial_delay` and doubles up to `max_delay`, until `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct PollOptions {
    pub timeout: Duration,
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions {
            timeout: Duration::from_secs(300),
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// A TAXII 2.1 client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    auth: Auth,
    max_response_bytes: usize,
}

/// A successful response: headers and the (bounded) body.
struct Reply {
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Client {
    /// A client with default [`ClientOptions`].
    pub fn new(auth: Auth) -> Result<Self> {
        Self::with_options(auth, ClientOptions::default())
    }

    pub fn with_options(auth: Auth, options: ClientOptions) -> Result<Self> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(options.user_agent)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Client {
            http,
            auth,
            max_response_bytes: options.max_response_bytes,
        })
    }

    // ----- discovery and API roots -----

    /// `GET` the discovery resource at `url` (usually `https://host/taxii2/`).
    pub async fn discovery(&self, url: &Url) -> Result<Discovery> {
        let reply = self.get(url.clone(), &[]).await?;
        decode(&reply, "discovery resource")
    }

    /// `GET` an API root's information.
    pub async fn api_root(&self, api_root: &Url) -> Result<ApiRootInfo> {
        let url = dir_url(api_root)?;
        let reply = self.get(url, &[]).await?;
        decode(&reply, "API root resource")
    }

    /// Accepts either an API root URL or a discovery URL; for a discovery URL the
    /// `default` API root is used, else the first one listed. Returns the API root's
    /// URL (with a trailing slash) and its information.
    pub async fn resolve_api_root(&self, url: &Url) -> Result<(Url, ApiRootInfo)> {
        let url = dir_url(url)?;
        let reply = self.get(url.clone(), &[]).await?;
        let value: serde_json::Value = decode(&reply, "TAXII resource")?;
        let is_discovery = value.get("api_roots").is_some()
            || (value.get("max_content_length").is_none() && value.get("title").is_some());
        if !is_discovery {
            let info = decode(&reply, "API root resource")?;
            return Ok((url, info));
        }
        let disc: Discovery = decode(&reply, "discovery resource")?;
        let chosen = disc
            .default
            .as_deref()
            .or_else(|| disc.api_roots.first().map(String::as_str))
            .ok_or_else(|| ClientError::NoApiRoot {
                url: url.to_string(),
            })?;
        let root = url.join(chosen).map_err(|e| ClientError::InvalidUrl {
            url: chosen.to_owned(),
            reason: format!("API root listed by {url} is not a URL: {e}"),
        })?;
        let root = dir_url(&root)?;
        let info = self.api_root(&root).await?;
        Ok((root, info))
    }

    // ----- collections -----

    /// `GET {api_root}/collections/`.
    pub async fn collections(&self, api_root: &Url) -> Result<Vec<CollectionInfo>> {
        let url = endpoint(api_root, &["collections"])?;
        let reply = self.get(url, &[]).await?;
        let res: CollectionsResource = decode(&reply, "collections resource")?;
        Ok(res.collections)
    }

    /// `GET {api_root}/collections/{id}/`.
    pub async fn collection(&self, api_root: &Url, collection_id: &str) -> Result<CollectionInfo> {
        let url = endpoint(api_root, &["collections", collection_id])?;
        let reply = self.get(url, &[]).await?;
        decode(&reply, "collection resource")
    }

    // ----- objects -----

    /// One page of `GET {api_root}/collections/{id}/objects/`.
    pub async fn get_objects(
        &self,
        api_root: &Url,
        collection_id: &str,
        query: &ObjectQuery,
    ) -> Result<ObjectsPage> {
        let url = endpoint(api_root, &["collections", collection_id, "objects"])?;
        let reply = self.get(url, &query.pairs(Endpoint::Objects)).await?;
        envelope_page(&reply)
    }

    /// Every page of `GET .../objects/` for `query`, following `next` (or
    /// `X-TAXII-Date-Added-Last` when the server sends no `next`; see the module
    /// documentation). Sets `limit` to [`DEFAULT_PAGE_LIMIT`] when the query has none.
    pub fn pages<'a>(
        &'a self,
        api_root: &'a Url,
        collection_id: &'a str,
        query: ObjectQuery,
    ) -> impl Stream<Item = Result<ObjectsPage>> + 'a {
        let mut first = query;
        first.limit = Some(first.limit.unwrap_or(DEFAULT_PAGE_LIMIT));
        let base = first.clone();
        futures::stream::try_unfold(Some(first), move |state| {
            let base = base.clone();
            async move {
                let Some(q) = state else { return Ok(None) };
                let page = self.get_objects(api_root, collection_id, &q).await?;
                let following = follow_up(api_root.as_str(), &base, &q, &page)?;
                Ok(Some((page, following)))
            }
        })
    }

    /// One page of `GET {api_root}/collections/{id}/objects/{object_id}/` (the
    /// versions of one object selected by `match[version]`, default last).
    pub async fn get_object(
        &self,
        api_root: &Url,
        collection_id: &str,
        object_id: &str,
        query: &ObjectQuery,
    ) -> Result<ObjectsPage> {
        let url = endpoint(
            api_root,
            &["collections", collection_id, "objects", object_id],
        )?;
        let reply = self.get(url, &query.pairs(Endpoint::Object)).await?;
        envelope_page(&reply)
    }

    /// One page of `GET .../objects/{object_id}/versions/`.
    pub async fn versions(
        &self,
        api_root: &Url,
        collection_id: &str,
        object_id: &str,
        query: &ObjectQuery,
    ) -> Result<VersionsPage> {
        let url = endpoint(
            api_root,
            &[
                "collections",
                collection_id,
                "objects",
                object_id,
                "versions",
            ],
        )?;
        let reply = self.get(url, &query.pairs(Endpoint::Versions)).await?;
        let res: VersionsResource = decode(&reply, "versions resource")?;
        Ok(VersionsPage {
            versions: res.versions,
            more: res.more,
            next: res.next,
            date_added: date_added_range(&reply)?,
        })
    }

    /// One page of `GET {api_root}/collections/{id}/manifest/`.
    pub async fn manifest(
        &self,
        api_root: &Url,
        collection_id: &str,
        query: &ObjectQuery,
    ) -> Result<ManifestPage> {
        let url = endpoint(api_root, &["collections", collection_id, "manifest"])?;
        let reply = self.get(url, &query.pairs(Endpoint::Objects)).await?;
        let res: ManifestResource = decode(&reply, "manifest resource")?;
        Ok(ManifestPage {
            objects: res.objects,
            more: res.more,
            next: res.next,
            date_added: date_added_range(&reply)?,
        })
    }

    /// `POST {api_root}/collections/{id}/objects/` with an envelope holding
    /// `objects` (raw JSON, sent as written). Returns the status resource; it may
    /// still be pending (see [`Client::wait_for_status`]).
    pub async fn post_objects(
        &self,
        api_root: &Url,
        collection_id: &str,
        objects: &[&RawValue],
    ) -> Result<Status> {
        if objects.is_empty() {
            return Err(ClientError::InvalidArgument(
                "an envelope needs at least one object".into(),
            ));
        }
        let mut envelope = EnvelopeBuilder::new(usize::MAX, usize::MAX);
        for o in objects {
            envelope.push(o.get());
        }
        self.post_envelope(api_root, collection_id, envelope.finish())
            .await
    }

    /// `POST` an envelope body already serialised (e.g. by [`EnvelopeBuilder`]).
    pub async fn post_envelope(
        &self,
        api_root: &Url,
        collection_id: &str,
        envelope_json: Vec<u8>,
    ) -> Result<Status> {
        let url = endpoint(api_root, &["collections", collection_id, "objects"])?;
        let reply = self
            .send(
                Method::POST,
                url,
                &[],
                Some((envelope_json, TAXII_MEDIA_TYPE)),
            )
            .await?;
        decode(&reply, "status resource")
    }

    /// `GET {api_root}/status/{status_id}/`.
    pub async fn status(&self, api_root: &Url, status_id: &str) -> Result<Status> {
        let url = endpoint(api_root, &["status", status_id])?;
        let reply = self.get(url, &[]).await?;
        decode(&reply, "status resource")
    }

    /// Polls the status resource until it is complete, backing off exponentially.
    pub async fn wait_for_status(
        &self,
        api_root: &Url,
        status_id: &str,
        poll: &PollOptions,
    ) -> Result<Status> {
        let start = Instant::now();
        let mut delay = poll.initial_delay;
        loop {
            let status = self.status(api_root, status_id).await?;
            if status.is_complete() {
                return Ok(status);
            }
            let waited = start.elapsed();
            if waited >= poll.timeout {
                return Err(ClientError::StatusTimeout {
                    status_id: status_id.to_owned(),
                    waited_ms: waited.as_millis(),
                    pending: status.pending_count,
                });
            }
            tokio::time::sleep(delay.min(poll.timeout - waited)).await;
            delay = (delay * 2).min(poll.max_delay);
        }
    }

    /// [`Client::post_envelope`], then [`Client::wait_for_status`] when the status
    /// is still pending.
    pub async fn post_and_wait(
        &self,
        api_root: &Url,
        collection_id: &str,
        envelope_json: Vec<u8>,
        poll: &PollOptions,
    ) -> Result<Status> {
        let status = self
            .post_envelope(api_root, collection_id, envelope_json)
            .await?;
        if status.is_complete() {
            return Ok(status);
        }
        self.wait_for_status(api_root, &status.id, poll).await
    }

    /// `DELETE {api_root}/collections/{id}/objects/{object_id}/` (honours
    /// `match[version]` and `match[spec_version]` of `query`).
    pub async fn delete_object(
        &self,
        api_root: &Url,
        collection_id: &str,
        object_id: &str,
        query: &ObjectQuery,
    ) -> Result<()> {
        let url = endpoint(
            api_root,
            &["collections", collection_id, "objects", object_id],
        )?;
        self.send(Method::DELETE, url, &query.pairs(Endpoint::Delete), None)
            .await?;
        Ok(())
    }

    /// GETs a JSON resource outside TAXII (a Nadhir node's federation endpoints) with
    /// this client's credentials and response limit.
    pub async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        let reply = self.get(url, &[]).await?;
        serde_json::from_slice(&reply.body).map_err(|e| ClientError::Decode {
            url: reply.url.to_string(),
            resource: "JSON resource",
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })
    }

    // ----- transport -----

    async fn get(&self, url: Url, params: &[(&'static str, String)]) -> Result<Reply> {
        self.send(Method::GET, url, params, None).await
    }

    async fn send(
        &self,
        method: Method,
        mut url: Url,
        params: &[(&'static str, String)],
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<Reply> {
        if !params.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let method_name = method_name(&method);
        let mut req = self
            .http
            .request(method, url.clone())
            .header(ACCEPT, TAXII_MEDIA_TYPE);
        req = match &self.auth {
            Auth::None => req,
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::Bearer(token) => req.bearer_auth(token),
        };
        if let Some((bytes, content_type)) = body {
            req = req.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let transport = |source| ClientError::Transport {
            method: method_name,
            url: url.to_string(),
            source,
        };
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let limit = self.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(ClientError::ResponseTooLarge {
                url: url.to_string(),
                limit,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(ClientError::ResponseTooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(server_error(method_name, &url, status, &body));
        }
        Ok(Reply { url, headers, body })
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::HEAD => "HEAD",
        _ => "request",
    }
}

fn server_error(method: &'static str, url: &Url, status: StatusCode, body: &[u8]) -> ClientError {
    let error = serde_json::from_slice::<ErrorBody>(body).ok().map(Box::new);
    let body_excerpt = if error.is_some() {
        String::new()
    } else {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim();
        match trimmed.char_indices().nth(200) {
            Some((i, _)) => format!("{}…", &trimmed[..i]),
            None => trimmed.to_owned(),
        }
    };
    ClientError::Server {
        method,
        url: url.to_string(),
        status: status.as_u16(),
        error,
        body_excerpt,
    }
}

/// Decides the query for the page after `page` (or `None` when done).
fn follow_up(
    url: &str,
    base: &ObjectQuery,
    current: &ObjectQuery,
    page: &ObjectsPage,
) -> Result<Option<ObjectQuery>> {
    if !page.more {
        return Ok(None);
    }
    if let Some(token) = page.next.as_deref() {
        if page.objects.is_empty() && current.next.as_deref() == Some(token) {
            return Err(ClientError::Paging {
                url: url.to_owned(),
                reason: format!("the server repeats next={token:?} with an empty page"),
            });
        }
        let mut q = base.clone();
        q.next = Some(token.to_owned());
        return Ok(Some(q));
    }
    match page.date_added.last {
        Some(last) => {
            if current.added_after.is_some_and(|a| a >= last) {
                return Err(ClientError::Paging {
                    url: url.to_owned(),
                    reason: format!(
                        "more=true but {HEADER_DATE_ADDED_LAST} ({last}) does not advance past added_after"
                    ),
                });
            }
            let mut q = base.clone();
            q.next = None;
            q.added_after = Some(last);
            Ok(Some(q))
        }
        None => Err(ClientError::Paging {
            url: url.to_owned(),
            reason: format!(
                "more=true but the response has neither next nor {HEADER_DATE_ADDED_LAST}"
            ),
        }),
    }
}

/// `url` with a trailing slash on its path (TAXII URLs end with `/`).
fn dir_url(url: &Url) -> Result<Url> {
    let mut u = url.clone();
    if u.cannot_be_a_base() || !matches!(u.scheme(), "http" | "https") {
        return Err(ClientError::InvalidUrl {
            url: url.to_string(),
            reason: "expected an http:// or https:// URL".into(),
        });
    }
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

/// `api_root` + percent-encoded `segments` + trailing slash.
fn endpoint(api_root: &Url, segments: &[&str]) -> Result<Url> {
    let mut u = dir_url(api_root)?;
    u.set_query(None);
    u.set_fragment(None);
    {
        let mut path = u
            .path_segments_mut()
            .map_err(|()| ClientError::InvalidUrl {
                url: api_root.to_string(),
                reason: "cannot be a base URL".into(),
            })?;
        path.pop_if_empty();
        path.extend(segments);
        path.push("");
    }
    Ok(u)
}

fn check_json_media_type(reply: &Reply) -> Result<()> {
    if let Some(ct) = reply.headers.get(CONTENT_TYPE) {
        let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
        if !ct.contains("json") {
            return Err(ClientError::UnexpectedMediaType {
                url: reply.url.to_string(),
                content_type: ct,
            });
        }
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(reply: &Reply, resource: &'static str) -> Result<T> {
    check_json_media_type(reply)?;
    serde_json::from_slice(&reply.body).map_err(|e| ClientError::Decode {
        url: reply.url.to_string(),
        resource,
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })
}

fn envelope_page(reply: &Reply) -> Result<ObjectsPage> {
    // An empty body is an empty envelope (some servers send nothing for "no objects").
    let env: EnvelopeResource = if reply.body.iter().all(u8::is_ascii_whitespace) {
        EnvelopeResource {
            more: false,
            next: None,
            objects: Vec::new(),
        }
    } else {
        decode(reply, "envelope")?
    };
    Ok(ObjectsPage {
        objects: env.objects,
        more: env.more,
        next: env.next.filter(|n| !n.is_empty()),
        date_added: date_added_range(reply)?,
    })
}

fn date_added_range(reply: &Reply) -> Result<DateAddedRange> {
    let header = |name: &'static str| -> Result<Option<Timestamp>> {
        let Some(v) = reply.headers.get(name) else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(v.as_bytes()).trim().to_owned();
        if text.is_empty() {
            return Ok(None);
        }
        Timestamp::parse(&text)
            .map(Some)
            .map_err(|e| ClientError::InvalidHeader {
                url: reply.url.to_string(),
                name,
                value: text.clone(),
                reason: e.reason.to_owned(),
            })
    };
    Ok(DateAddedRange {
        first: header(HEADER_DATE_ADDED_FIRST)?,
        last: header(HEADER_DATE_ADDED_LAST)?,
    })
}

/// Builds envelope bodies (`{"objects":[...]}`) from raw object JSON, bounded by a
/// byte size and an object count, so a push never exceeds a server's
/// `max_content_length`.
#[derive(Debug)]
pub struct EnvelopeBuilder {
    buf: Vec<u8>,
    count: usize,
    max_bytes: usize,
    max_count: usize,
}

const ENVELOPE_HEAD: &[u8] = b"{\"objects\":[";
const ENVELOPE_TAIL: &[u8] = b"]}";

impl EnvelopeBuilder {
    pub fn new(max_bytes: usize, max_count: usize) -> Self {
        let mut buf = Vec::with_capacity(max_bytes.min(1 << 20));
        buf.extend_from_slice(ENVELOPE_HEAD);
        EnvelopeBuilder {
            buf,
            count: 0,
            max_bytes,
            max_count: max_count.max(1),
        }
    }

    /// Whether an object of `len` bytes fits without exceeding the limits. An empty
    /// envelope accepts any single object (the server will judge its size).
    pub fn fits(&self, len: usize) -> bool {
        if self.count == 0 {
            return true;
        }
        self.count < self.max_count
            && self.buf.len() + 1 + len + ENVELOPE_TAIL.len() <= self.max_bytes
    }

    /// Appends one object's JSON (call [`EnvelopeBuilder::fits`] first).
    pub fn push(&mut self, object_json: &str) {
        if self.count > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(object_json.as_bytes());
        self.count += 1;
    }

    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Size of the finished envelope in bytes.
    pub fn byte_len(&self) -> usize {
        self.buf.len() + ENVELOPE_TAIL.len()
    }

    /// The envelope body; the builder is left empty for the next envelope.
    pub fn take(&mut self) -> Vec<u8> {
        let mut out = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.max_bytes.min(1 << 20)),
        );
        out.extend_from_slice(ENVELOPE_TAIL);
        self.buf.extend_from_slice(ENVELOPE_HEAD);
        self.count = 0;
        out
    }

    /// The envelope body.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(ENVELOPE_TAIL);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn endpoint_urls_end_with_slash_and_encode_segments() {
        let root = url("http://127.0.0.1:9/api1");
        assert_eq!(
            endpoint(&root, &["collections", "c 1", "objects"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/api1/collections/c%201/objects/"
        );
        let root = url("http://127.0.0.1:9/api1/?x=1");
        assert_eq!(
            endpoint(&root, &["status", "s"]).unwrap().as_str(),
            "http://127.0.0.1:9/api1/status/s/"
        );
        assert!(matches!(
            dir_url(&url("mailto:a@b")),
            Err(ClientError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn envelope_builder_respects_bytes_and_count() {
        let mut b = EnvelopeBuilder::new(40, 2);
        assert!(b.fits(1000), "an empty envelope takes any object");
        b.push(r#"{"id":"a"}"#);
        assert!(b.fits(10));
        assert!(!b.fits(30), "would exceed 40 bytes");
        b.push(r#"{"id":"b"}"#);
        assert!(!b.fits(1), "count limit");
        let body = b.take();
        assert_eq!(body, br#"{"objects":[{"id":"a"},{"id":"b"}]}"#);
        assert!(b.is_empty());
        b.push(r#"{"id":"c"}"#);
        assert_eq!(b.finish(), br#"{"objects":[{"id":"c"}]}"#);
    }

    fn page(more: bool, next: Option<&str>, last: Option<&str>, n: usize) -> ObjectsPage {
        ObjectsPage {
            objects: (0..n)
                .map(|_| RawValue::from_string("{}".into()).unwrap())
                .collect(),
            more,
            next: next.map(str::to_owned),
            date_added: DateAddedRange {
                first: None,
                last: last.map(|s| Timestamp::parse(s).unwrap()),
            },
        }
    }

    #[test]
    fn follow_up_prefers_next_then_date_added_last() {
        let base = ObjectQuery::new().limit(2).type_name("indicator");
        let p = page(true, Some("tok"), Some("2024-01-01T00:00:00Z"), 2);
        let q = follow_up("u", &base, &base, &p).unwrap().unwrap();
        assert_eq!(q.next.as_deref(), Some("tok"));
        assert_eq!(q.types, ["indicator"]);
        assert_eq!(q.added_after, None);

        let p = page(true, None, Some("2024-01-01T00:00:00Z"), 2);
        let q = follow_up("u", &base, &base, &p).unwrap().unwrap();
        assert_eq!(q.added_after.unwrap().to_string(), "2024-01-01T00:00:00Z");
        assert_eq!(q.next, None);

        // No progress: the same added_after again is an error, not a loop.
        let err = follow_up("u", &base, &q, &p).unwrap_err();
        assert_eq!(err.code(), "taxii.client.paging");

        let p = page(true, None, None, 1);
        assert_eq!(
            follow_up("u", &base, &base, &p).unwrap_err().code(),
            "taxii.client.paging"
        );

        let p = page(false, Some("ignored"), None, 1);
        assert!(follow_up("u", &base, &base, &p).unwrap().is_none());
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = Auth::Basic {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Bearer("tok123".into())).contains("tok123"));
    }
}
