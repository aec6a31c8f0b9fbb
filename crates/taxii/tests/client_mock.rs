//! The TAXII client against a tiny in-process axum server that answers exactly what
//! each test scripts: parsing of pages, headers and errors, paging modes, polling,
//! request shapes (media types, auth, parameters).

// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use futures::TryStreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use taxii::client::{
    Auth, Client, ClientError, ClientOptions, EnvelopeBuilder, ObjectQuery, PollOptions,
    VersionSelector, TAXII_MEDIA_TYPE,
};

/// One request as the mock server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn header(&self, key: &str) -> &str {
        self.headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// What the mock answers: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);
type Responder = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

struct Mock {
    base: reqwest::Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    fn url(&self, path: &str) -> reqwest::Url {
        self.base.join(path).unwrap()
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn mock(responder: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Mock {
    let responder: Responder = Arc::new(responder);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let responder = responder.clone();
            let seen = seen2.clone();
            async move {
                let full: reqwest::Url = format!("http://mock{uri}").parse().unwrap();
                let req = Seen {
                    method: method.to_string(),
                    path: full.path().to_owned(),
                    query: full
                        .query_pairs()
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect(),
                    headers,
                    body: body.to_vec(),
                };
                let (status, hdrs, body) = responder(&req);
                seen.lock().unwrap().push(req);
                let mut out = HeaderMap::new();
                let mut has_ct = false;
                for (k, v) in hdrs {
                    has_ct |= k.eq_ignore_ascii_case("content-type");
                    out.insert(
                        HeaderName::from_static(k),
                        HeaderValue::from_str(&v).unwrap(),
                    );
                }
                if !has_ct {
                    out.insert("content-type", HeaderValue::from_static(TAXII_MEDIA_TYPE));
                }
                (StatusCode::from_u16(status).unwrap(), out, body)
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Mock {
        base: format!("http://{addr}/").parse().unwrap(),
        seen,
    }
}

fn ok(body: &str) -> Answer {
    (200, vec![], body.to_owned())
}

fn client() -> Client {
    Client::new(Auth::None).unwrap()
}

/// Objects `indicator--0..n` with date_added one second apart.
fn object(i: usize) -> String {
    format!(r#"{{"type":"indicator","id":"indicator--{i:08}","n":{i}}}"#)
}
fn date(i: usize) -> String {
    format!("2024-01-01T00:00:{i:02}.000000Z")
}

#[tokio::test]
async fn resolves_discovery_default_root_and_accepts_an_api_root_url() {
    let m = mock(|r| match r.path.as_str() {
        "/taxii2/" => ok(r#"{"title":"t","default":"/api2/","api_roots":["/api1/","/api2/"]}"#),
        "/api1/" | "/api2/" => ok(r#"{"title":"root","versions":["application/taxii+json;version=2.1"],"max_content_length":1000}"#),
        _ => (404, vec![], String::new()),
    })
    .await;
    let c = client();
    let (root, info) = c.resolve_api_root(&m.url("taxii2")).await.unwrap();
    assert_eq!(root, m.url("api2/"));
    assert_eq!(info.max_content_length, 1000);
    let (root, _) = c.resolve_api_root(&m.url("api1")).await.unwrap();
    assert_eq!(root, m.url("api1/"));
    let disc = c.discovery(&m.url("taxii2/")).await.unwrap();
    assert_eq!(disc.api_roots.len(), 2);
    for s in m.seen() {
        assert_eq!(s.header("accept"), TAXII_MEDIA_TYPE);
    }
}

#[tokio::test]
async fn discovery_without_roots_is_a_typed_error() {
    let m = mock(|_| ok(r#"{"title":"empty server"}"#)).await;
    let err = client()
        .resolve_api_root(&m.url("taxii2/"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "taxii.client.no_api_root", "{err}");
}

#[tokio::test]
async fn collections_parse_and_an_omitted_list_is_empty() {
    let m = mock(|r| match r.path.as_str() {
        "/api1/collections/" => ok(r#"{"collections":[{"id":"c1","title":"One","can_read":true,"can_write":false,"media_types":["application/stix+json;version=2.1"]}]}"#),
        "/api2/collections/" => ok("{}"),
        "/api1/collections/c1/" => ok(r#"{"id":"c1","title":"One","alias":"one","can_read":true,"can_write":false}"#),
        _ => (404, vec![], String::new()),
    })
    .await;
    let c = client();
    let cols = c.collections(&m.url("api1/")).await.unwrap();
    assert_eq!(cols.len(), 1);
    assert_eq!(cols[0].id, "c1");
    assert!(cols[0].can_read && !cols[0].can_write);
    assert!(c.collections(&m.url("api2/")).await.unwrap().is_empty());
    let one = c.collection(&m.url("api1/"), "c1").await.unwrap();
    assert_eq!(one.alias.as_deref(), Some("one"));
}

/// A server with 5 objects that pages with `next` tokens ("p2", "p4").
fn next_paging_server(r: &Seen) -> Answer {
    let limit: usize = r.param("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let start = match r.param("next") {
        None => 0,
        Some(t) => t.trim_start_matches('p').parse().unwrap(),
    };
    let end = (start + limit).min(5);
    let objs: Vec<String> = (start..end).map(object).collect();
    let more = end < 5;
    let next = if more {
        format!(r#","next":"p{end}""#)
    } else {
        String::new()
    };
    let body = format!(r#"{{"more":{more}{next},"objects":[{}]}}"#, objs.join(","));
    let headers = vec![
        ("x-taxii-date-added-first", date(start)),
        ("x-taxii-date-added-last", date(end - 1)),
    ];
    (200, headers, body)
}

#[tokio::test]
async fn pages_follow_next_tokens_and_keep_the_filters() {
    let m = mock(next_paging_server).await;
    let c = client();
    let root = m.url("api1/");
    let q = ObjectQuery::new().limit(2).type_name("indicator");
    let pages: Vec<_> = c.pages(&root, "c1", q).try_collect().await.unwrap();
    assert_eq!(pages.len(), 3);
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.values().unwrap())
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        (0..5)
            .map(|i| format!("indicator--{i:08}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(pages[0].date_added.first.unwrap().to_string(), date(0));
    assert_eq!(pages[1].date_added.last.unwrap().to_string(), date(3));
    assert!(pages[0].more && pages[1].more && !pages[2].more);
    // Raw objects are passed through byte for byte.
    assert_eq!(pages[2].objects[0].get(), object(4));

    let seen = m.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].path, "/api1/collections/c1/objects/");
    assert_eq!(seen[0].param("next"), None);
    assert_eq!(seen[1].param("next"), Some("p2"));
    assert_eq!(seen[2].param("next"), Some("p4"));
    for s in &seen {
        assert_eq!(s.param("match[type]"), Some("indicator"));
        assert_eq!(s.param("limit"), Some("2"));
        assert_eq!(s.param("added_after"), None);
    }
}

#[tokio::test]
async fn pages_fall_back_to_added_after_when_the_server_sends_no_next() {
    // 5 objects; the server ignores `next` and filters by added_after only.
    let m = mock(|r| {
        let limit: usize = r.param("limit").unwrap().parse().unwrap();
        let start = match r.param("added_after") {
            None => 0,
            Some(t) => (0..5).find(|i| date(*i).as_str() > t).unwrap_or(5),
        };
        let end = (start + limit).min(5);
        let objs: Vec<String> = (start..end).map(object).collect();
        let mut headers = vec![];
        if end > start {
            headers.push(("x-taxii-date-added-first", date(start)));
            headers.push(("x-taxii-date-added-last", date(end - 1)));
        }
        let body = format!(r#"{{"more":{},"objects":[{}]}}"#, end < 5, objs.join(","));
        (200, headers, body)
    })
    .await;
    let c = client();
    let root = m.url("api1/");
    let pages: Vec<_> = c
        .pages(&root, "c1", ObjectQuery::new().limit(2))
        .try_collect()
        .await
        .unwrap();
    let n: usize = pages.iter().map(|p| p.objects.len()).sum();
    assert_eq!(n, 5);
    let seen = m.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].param("added_after"), Some(date(1).as_str()));
    assert_eq!(seen[2].param("added_after"), Some(date(3).as_str()));
}

#[tokio::test]
async fn more_without_any_continuation_is_a_paging_error() {
    let m = mock(|_| ok(&format!(r#"{{"more":true,"objects":[{}]}}"#, object(0)))).await;
    let c = client();
    let root = m.url("api1/");
    let err = c
        .pages(&root, "c1", ObjectQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.code(), "taxii.client.paging", "{err}");
    // The default page limit is sent when the query has none (medallion needs it with next).
    assert_eq!(m.seen()[0].param("limit"), Some("1000"));
}

#[tokio::test]
async fn empty_envelope_bodies_and_omitted_objects_are_empty_pages() {
    let m = mock(|r| match r.path.as_str() {
        "/api1/collections/a/objects/" => (200, vec![], String::new()),
        _ => ok("{}"),
    })
    .await;
    let c = client();
    let root = m.url("api1/");
    for col in ["a", "b"] {
        let p = c
            .get_objects(&root, col, &ObjectQuery::new())
            .await
            .unwrap();
        assert!(p.objects.is_empty() && !p.more && p.next.is_none());
        assert_eq!(p.date_added.first, None);
    }
}

#[tokio::test]
async fn server_errors_carry_the_taxii_error_body_or_an_excerpt() {
    let m = mock(|r| match r.path.as_str() {
        "/api1/collections/missing/" => (
            404,
            vec![],
            r#"{"title":"Collection not found","description":"no collection 'missing'","error_code":"taxii.not_found","http_status":"404"}"#.into(),
        ),
        _ => (502, vec![("content-type", "text/html".into())], "<html>bad gateway</html>".into()),
    })
    .await;
    let c = client();
    let err = c.collection(&m.url("api1/"), "missing").await.unwrap_err();
    assert_eq!(err.code(), "taxii.client.server_error");
    assert_eq!(err.http_status(), Some(404));
    let body = err.taxii_error().unwrap();
    assert_eq!(body.title, "Collection not found");
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 404 Collection not found: no collection 'missing'"),
        "{msg}"
    );
    assert!(msg.contains("/api1/collections/missing/"), "{msg}");

    let err = c.collections(&m.url("api1/")).await.unwrap_err();
    assert_eq!(err.http_status(), Some(502));
    assert!(err.taxii_error().is_none());
    assert!(
        err.to_string().contains("<html>bad gateway</html>"),
        "{err}"
    );
}

#[tokio::test]
async fn non_json_success_and_bad_json_and_bad_headers_are_typed_errors() {
    let m = mock(|r| match r.path.as_str() {
        "/html/collections/" => (
            200,
            vec![("content-type", "text/html".into())],
            "<p>hi</p>".into(),
        ),
        "/bad/collections/" => ok("{\"collections\": [\n {\"id\": 5}]}"),
        _ => (
            200,
            vec![("x-taxii-date-added-first", "yesterday".into())],
            r#"{"objects":[]}"#.into(),
        ),
    })
    .await;
    let c = client();
    let err = c.collections(&m.url("html/")).await.unwrap_err();
    assert_eq!(err.code(), "taxii.client.media_type", "{err}");
    let err = c.collections(&m.url("bad/")).await.unwrap_err();
    match &err {
        ClientError::Decode { line, resource, .. } => {
            assert_eq!(*line, 2);
            assert_eq!(*resource, "collections resource");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    let err = c
        .get_objects(&m.url("hdr/"), "c", &ObjectQuery::new())
        .await
        .unwrap_err();
    match &err {
        ClientError::InvalidHeader { name, value, .. } => {
            assert_eq!(*name, "X-TAXII-Date-Added-First");
            assert_eq!(value, "yesterday");
        }
        other => panic!("expected InvalidHeader, got {other:?}"),
    }
}

#[tokio::test]
async fn response_bodies_over_the_limit_are_refused() {
    let big = format!(r#"{{"objects":[{}]}}"#, vec![object(1); 200].join(","));
    let m = mock(move |_| ok(&big)).await;
    let opts = ClientOptions {
        max_response_bytes: 1024,
        ..ClientOptions::default()
    };
    let c = Client::with_options(Auth::None, opts).unwrap();
    let err = c
        .get_objects(&m.url("api1/"), "c", &ObjectQuery::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "taxii.client.response_too_large", "{err}");
}

#[tokio::test]
async fn post_sends_an_envelope_then_polls_status_until_complete() {
    let polls = Arc::new(Mutex::new(0u32));
    let polls2 = polls.clone();
    let m = mock(move |r| {
        let status = |state: &str, ok: u64, pending: u64| {
            format!(
                r#"{{"id":"s1","status":"{state}","total_count":2,"success_count":{ok},"successes":[{{"id":"indicator--00000001","version":"2024-01-01T00:00:00Z"}}],"failure_count":0,"pending_count":{pending}}}"#
            )
        };
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/api1/collections/c1/objects/") => (202, vec![], status("pending", 0, 2)),
            ("GET", "/api1/status/s1/") => {
                let mut n = polls2.lock().unwrap();
                *n += 1;
                if *n < 3 {
                    ok(&status("pending", 1, 1))
                } else {
                    ok(&status("complete", 2, 0))
                }
            }
            _ => (404, vec![], String::new()),
        }
    })
    .await;
    let c = Client::new(Auth::Basic {
        user: "alice".into(),
        password: "s3cret".into(),
    })
    .unwrap();
    let root = m.url("api1/");
    let mut env = EnvelopeBuilder::new(1 << 20, 100);
    env.push(&object(1));
    env.push(&object(2));
    let poll = PollOptions {
        timeout: Duration::from_secs(10),
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let status = c
        .post_and_wait(&root, "c1", env.finish(), &poll)
        .await
        .unwrap();
    assert!(status.is_complete());
    assert_eq!(status.success_count, 2);
    assert_eq!(status.successes[0].id, "indicator--00000001");
    assert_eq!(*polls.lock().unwrap(), 3);

    let seen = m.seen();
    let post = &seen[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.header("content-type"), TAXII_MEDIA_TYPE);
    assert_eq!(post.header("accept"), TAXII_MEDIA_TYPE);
    // Basic alice:s3cret
    assert_eq!(post.header("authorization"), "Basic YWxpY2U6czNjcmV0");
    let sent: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(sent["objects"][1]["id"], "indicator--00000002");
}

#[tokio::test]
async fn a_status_that_stays_pending_times_out() {
    let m = mock(|_| {
        ok(r#"{"id":"s9","status":"pending","total_count":1,"success_count":0,"failure_count":0,"pending_count":1}"#)
    })
    .await;
    let c = Client::new(Auth::Bearer("tok-abc".into())).unwrap();
    let poll = PollOptions {
        timeout: Duration::from_millis(60),
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    let err = c
        .wait_for_status(&m.url("api1/"), "s9", &poll)
        .await
        .unwrap_err();
    match err {
        ClientError::StatusTimeout {
            status_id, pending, ..
        } => {
            assert_eq!(status_id, "s9");
            assert_eq!(pending, 1);
        }
        other => panic!("expected StatusTimeout, got {other:?}"),
    }
    let seen = m.seen();
    assert!(seen.len() >= 2, "polled more than once");
    assert_eq!(seen[0].header("authorization"), "Bearer tok-abc");
}

#[tokio::test]
async fn post_objects_refuses_an_empty_envelope() {
    let c = client();
    let root: reqwest::Url = "http://127.0.0.1:9/api1/".parse().unwrap();
    let err = c.post_objects(&root, "c", &[]).await.unwrap_err();
    assert_eq!(err.code(), "taxii.client.invalid_argument");
}

#[tokio::test]
async fn object_versions_manifest_and_delete_use_their_endpoints_and_filters() {
    let m = mock(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/api1/collections/c1/objects/indicator--00000001/") => (
            200,
            vec![("x-taxii-date-added-first", date(1)), ("x-taxii-date-added-last", date(1))],
            format!(r#"{{"objects":[{}]}}"#, object(1)),
        ),
        ("GET", "/api1/collections/c1/objects/indicator--00000001/versions/") => ok(
            r#"{"more":false,"versions":["2024-01-01T00:00:00Z","2024-02-01T00:00:00Z"]}"#,
        ),
        ("GET", "/api1/collections/c1/manifest/") => ok(
            r#"{"more":true,"next":"n1","objects":[{"id":"indicator--00000001","date_added":"2024-01-01T00:00:01.000000Z","version":"2024-01-01T00:00:00Z","media_type":"application/stix+json;version=2.1"}]}"#,
        ),
        ("DELETE", "/api1/collections/c1/objects/indicator--00000001/") => (200, vec![], String::new()),
        _ => (404, vec![], String::new()),
    })
    .await;
    let c = client();
    let root = m.url("api1/");
    let id = "indicator--00000001";
    let q = ObjectQuery::new()
        .version(VersionSelector::All)
        .spec_version("2.1");
    let p = c.get_object(&root, "c1", id, &q).await.unwrap();
    assert_eq!(p.objects.len(), 1);
    assert_eq!(p.date_added.last.unwrap().to_string(), date(1));
    let v = c
        .versions(&root, "c1", id, &ObjectQuery::new())
        .await
        .unwrap();
    assert_eq!(v.versions.len(), 2);
    let man = c
        .manifest(&root, "c1", &ObjectQuery::new().type_name("indicator"))
        .await
        .unwrap();
    assert!(man.more);
    assert_eq!(man.next.as_deref(), Some("n1"));
    assert_eq!(
        man.objects[0].date_added.to_string(),
        "2024-01-01T00:00:01.000000Z"
    );
    c.delete_object(
        &root,
        "c1",
        id,
        &ObjectQuery::new().version(VersionSelector::First),
    )
    .await
    .unwrap();

    let seen = m.seen();
    assert_eq!(seen[0].param("match[version]"), Some("all"));
    assert_eq!(seen[0].param("match[spec_version]"), Some("2.1"));
    assert_eq!(seen[2].param("match[type]"), Some("indicator"));
    assert_eq!(seen[3].method, "DELETE");
    assert_eq!(seen[3].param("match[version]"), Some("first"));
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_naming_the_url() {
    // Bind then drop a listener to get a port nobody listens on.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let url: reqwest::Url = format!("http://{addr}/taxii2/").parse().unwrap();
    let err = client().discovery(&url).await.unwrap_err();
    assert_eq!(err.code(), "taxii.client.transport");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
