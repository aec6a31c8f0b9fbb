//! Early warning through `nadhir serve`: real processes, real HTTP.
//!
//! - `POST /warning/ingest`: authentication (401 with `WWW-Authenticate`, 403 for a
//!   reader), the batch report, and `Idempotency-Key` counting a retried body once;
//! - `GET /warning/stream`: `event: alert` with `id: <seq>`, and `Last-Event-ID`
//!   replaying exactly the entries after the cursor;
//! - alerts over HTTP and the CLI: list, ack (state and history), false positive (the
//!   `opinion` and the revoked sighting in the `sightings` collection), 409 on an
//!   invalid transition, 404 on an unknown alert;
//! - webhooks: HMAC signatures checked with `warning::engine::deliver::verify_signature`,
//!   retries with backoff after 5xx, and a dead letter after a 4xx.
//!
//! Latency from ingest to the SSE alert is a benchmark, not a test:
//! `crates/nadhir/examples/warning_latency.rs` (docs/PERFORMANCE.md, "Early warning: latency").

// Helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

#[path = "../examples/support/warning_node.rs"]
mod warning_node;
use warning_node::{dns_event, indicator_id, Node, Sse};

const BIN: &str = env!("CARGO_BIN_EXE_nadhir");
const HOOK_SECRET: &str = "webhook secret of the test 0123456789";

/// Reads a file this test wrote (bounded by the test's own data).
#[allow(clippy::disallowed_methods)]
fn read_test_file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// A node of this test: the shared set-up (`examples/support/warning_node.rs`), with the
/// webhook secret in every CLI command's environment.
fn new_node(indicators: usize) -> Node {
    let mut n = Node::new(Path::new(BIN), indicators);
    n.env
        .push(("NADHIR_TEST_HOOK_SECRET".into(), HOOK_SECRET.into()));
    n
}

async fn ingest(
    client: &reqwest::Client,
    node: &Node,
    token: Option<&str>,
    key: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut req = client
        .post(format!("{}/warning/ingest", node.base))
        .header("content-type", "application/x-ndjson")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

async fn post_action(
    client: &reqwest::Client,
    node: &Node,
    token: &str,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client
        .post(format!("{}/warning/alerts/{id}/{action}", node.base))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_stream_alerts_and_cli() {
    let mut node = new_node(5);
    node.start(&[]);
    let client = reqwest::Client::new();
    let mut live = Sse::open(&client, &node.base, node.token("reader"), None).await;

    // 401 without a token, with a challenge; 403 for a reader.
    let body = [
        dns_event("HIT-1.alert.EXAMPLE."),
        dns_event("hit-2.alert.example"),
        dns_event("no-hit.alert.example"),
        "{not json".to_owned(),
    ]
    .join("\n")
        + "\n";
    let r = ingest(&client, &node, None, None, body.clone()).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = ingest(&client, &node, Some("not-a-token"), None, body.clone()).await;
    assert_eq!(r.status(), 401);
    let r = ingest(
        &client,
        &node,
        Some(node.token("reader")),
        None,
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "auth.forbidden", "{v}");

    // 200 for a sensor, with the report.
    let r = ingest(
        &client,
        &node,
        Some(node.token("sensor")),
        Some("batch-1"),
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let rep: Value = r.json().await.unwrap();
    assert_eq!(rep["events"], 4, "{rep}");
    assert_eq!(rep["bad"], 1, "{rep}");
    assert_eq!(rep["hits"], 2, "{rep}");
    assert_eq!(rep["counted"], 2, "{rep}");
    assert_eq!(rep["alerts"], 2, "{rep}");
    // The same body with the same key counts nothing new.
    let r = ingest(
        &client,
        &node,
        Some(node.token("sensor")),
        Some("batch-1"),
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let rep: Value = r.json().await.unwrap();
    assert_eq!(rep["counted"], 0, "{rep}");
    assert_eq!(rep["duplicates"], 2, "{rep}");
    assert_eq!(rep["alerts"], 0, "{rep}");
    // An analyst may ingest too.
    let r = ingest(
        &client,
        &node,
        Some(node.token("analyst")),
        Some("batch-2"),
        dns_event("hit-3.alert.example"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let rep: Value = r.json().await.unwrap();
    assert_eq!(rep["alerts"], 1, "{rep}");

    // The live stream delivered the three alerts, in feed order.
    let mut seen: Vec<(i64, Value)> = Vec::new();
    while seen.len() < 3 {
        let ev = live
            .next(Duration::from_secs(20))
            .await
            .expect("alert on the live stream");
        if ev.event != "alert" {
            continue;
        }
        let seq = ev.id.expect("alert events carry an id");
        if let Some((last, _)) = seen.last() {
            assert!(seq > *last, "ids increase: {seq} after {last}");
        }
        seen.push((seq, serde_json::from_str(&ev.data).unwrap()));
    }
    let indicators: Vec<&str> = seen
        .iter()
        .map(|(_, a)| a["alert"]["indicator_id"].as_str().unwrap())
        .collect();
    let mut sorted = indicators.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        vec![indicator_id(1), indicator_id(2), indicator_id(3)]
    );
    assert_eq!(indicators[2], indicator_id(3));
    let alert_ids: Vec<String> = seen
        .iter()
        .map(|(_, a)| a["alert"]["id"].as_str().unwrap().to_owned())
        .collect();

    // Reconnecting after the first entry replays exactly the entries after it.
    let cursor = seen[0].0;
    let mut replay = Sse::open(&client, &node.base, node.token("reader"), Some(cursor)).await;
    for (seq, _) in &seen[1..] {
        let ev = replay.next(Duration::from_secs(10)).await.expect("replay");
        assert_eq!(ev.id, Some(*seq), "{ev:?}");
        assert_eq!(ev.event, "alert");
    }
    // … and then what happens next (an acknowledgement), nothing older.
    let (st, acked) = post_action(
        &client,
        &node,
        node.token("analyst"),
        &alert_ids[0],
        "ack",
        None,
    )
    .await;
    assert_eq!(st, 200, "{acked}");
    assert_eq!(acked["alert"]["state"], "acknowledged");
    assert_eq!(acked["alert"]["history"].as_array().unwrap().len(), 1);
    assert_eq!(acked["alert"]["history"][0]["to"], "acknowledged");
    let ev = replay
        .next(Duration::from_secs(10))
        .await
        .expect("the ack on the stream");
    assert!(ev.id.unwrap() > seen[2].0, "{ev:?}");
    let v: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(v["alert"]["id"], alert_ids[0].as_str());
    assert_eq!(v["alert"]["state"], "acknowledged");
    // The ?after= form replays from the same cursor.
    let r = client
        .get(format!("{}/warning/stream?after={}", node.base, seen[1].0))
        .bearer_auth(node.token("reader"))
        .send()
        .await
        .unwrap();
    let mut after = Sse {
        body: r.bytes_stream().boxed(),
        buf: String::new(),
    };
    let ev = after.next(Duration::from_secs(10)).await.expect("after");
    assert_eq!(ev.id, Some(seen[2].0));

    // Alerts API: list, 409 on an invalid transition, 404 on an unknown id, 403 for a
    // reader.
    let r = client
        .get(format!("{}/warning/alerts", node.base))
        .bearer_auth(node.token("reader"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["alerts"].as_array().unwrap().len(), 3, "{list}");
    // Another organisation's account is outside the indicators' TLP:AMBER audience: it
    // receives none of these alerts (list, one alert, live stream replay).
    node.cli(&[
        "admin",
        "org",
        "add",
        "--name",
        "outsider",
        "--kind",
        "constituent",
    ]);
    let outsider = String::from_utf8(
        node.cli(&[
            "admin", "token", "create", "--org", "outsider", "--role", "analyst",
        ])
        .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let r = client
        .get(format!("{}/warning/alerts", node.base))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["alerts"], json!([]), "{list}");
    let r = client
        .get(format!("{}/warning/alerts/{}", node.base, alert_ids[0]))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let mut theirs = Sse::open(&client, &node.base, &outsider, Some(0)).await;
    while let Some(ev) = theirs.next(Duration::from_secs(2)).await {
        assert_ne!(
            ev.event, "alert",
            "an alert leaked to another organisation: {}",
            ev.data
        );
    }
    let r = client
        .get(format!("{}/warning/alerts?state=acknowledged", node.base))
        .bearer_auth(node.token("reader"))
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    let acked: Vec<&str> = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(acked, vec![alert_ids[0].as_str()]);
    let (st, v) = post_action(
        &client,
        &node,
        node.token("analyst"),
        &alert_ids[0],
        "ack",
        None,
    )
    .await;
    assert_eq!(st, 409, "{v}");
    let (st, v) = post_action(
        &client,
        &node,
        node.token("analyst"),
        "00000000-0000-4000-8000-000000000000",
        "ack",
        None,
    )
    .await;
    assert_eq!(st, 404, "{v}");
    let (st, _) = post_action(
        &client,
        &node,
        node.token("reader"),
        &alert_ids[1],
        "ack",
        None,
    )
    .await;
    assert_eq!(st, 403);

    // CLI: list, ack (state and history), and an invalid transition.
    let out = node.cli(&["alerts", "--json"]);
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    let out = node.cli(&["alerts", "ack", &alert_ids[1], "--by", "duty-analyst"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = node.cli(&["alerts", "show", &alert_ids[1]]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["alert"]["state"], "acknowledged");
    assert_eq!(shown["alert"]["history"][0]["by"], "duty-analyst");
    let out = node.cli(&["alerts", "ack", &alert_ids[1]]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: ["));
    let out = node.cli(&["alerts", "show", "00000000-0000-4000-8000-000000000000"]);
    assert!(!out.status.success());

    // False positive: opinion and revoked sighting in the sightings collection.
    let (st, fp) = post_action(
        &client,
        &node,
        node.token("analyst"),
        &alert_ids[2],
        "false-positive",
        Some(json!({"reason": "sinkholed by the registry"})),
    )
    .await;
    assert_eq!(st, 200, "{fp}");
    assert_eq!(fp["alert"]["state"], "closed");
    assert_eq!(fp["alert"]["false_positive"], true);
    let (st, _) = post_action(
        &client,
        &node,
        node.token("analyst"),
        &alert_ids[2],
        "false-positive",
        Some(json!({"reason": "again"})),
    )
    .await;
    assert_eq!(st, 409);
    let sighting_id = fp["alert"]["sighting_id"].as_str().unwrap().to_owned();
    let out_file = node.data.parent().unwrap().join("sightings.json");
    let out = node.cli(&[
        "export",
        "--collection",
        "sightings",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = read_test_file(&out_file);
    let objects: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(v) if v["objects"].is_array() => v["objects"].as_array().unwrap().clone(),
        Ok(Value::Array(a)) => a,
        _ => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    };
    let opinion = objects
        .iter()
        .find(|o| o["type"] == "opinion")
        .expect("an opinion in the sightings collection");
    assert_eq!(opinion["opinion"], "strongly-disagree");
    let refs: Vec<&str> = opinion["object_refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(refs.contains(&sighting_id.as_str()), "{opinion}");
    assert!(
        objects
            .iter()
            .any(|o| o["id"] == sighting_id.as_str() && o["revoked"] == true),
        "the revoked sighting {sighting_id} is exported"
    );
    // The other two windows' sightings are there and not revoked.
    let live_sightings = objects
        .iter()
        .filter(|o| o["type"] == "sighting" && o["revoked"] != true)
        .count();
    assert_eq!(live_sightings, 2);
}

/// What a test webhook receiver saw.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    delivery: i64,
    signed: bool,
    tampered_rejected: bool,
    status: u16,
}

/// Receives webhook posts: `/flaky` answers 500 twice, then 200; `/broken` always 400.
async fn receiver() -> (String, Arc<Mutex<BTreeMap<String, Vec<Received>>>>) {
    let seen: Arc<Mutex<BTreeMap<String, Vec<Received>>>> = Arc::default();
    let s2 = seen.clone();
    let handler = move |axum::extract::Path(name): axum::extract::Path<String>,
                        headers: axum::http::HeaderMap,
                        body: axum::body::Bytes| {
        let seen = s2.clone();
        async move {
            let sig = headers
                .get("x-nadhir-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let delivery = headers
                .get("x-nadhir-delivery")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            let signed = warning::engine::deliver::verify_signature(HOOK_SECRET, &sig, &body);
            let mut tampered = body.to_vec();
            tampered.push(b' ');
            let tampered_rejected =
                !warning::engine::deliver::verify_signature(HOOK_SECRET, &sig, &tampered);
            let mut m = seen.lock().unwrap();
            let list = m.entry(name.clone()).or_default();
            let status = match name.as_str() {
                "flaky" if list.len() < 2 => 500,
                "flaky" => 200,
                _ => 400,
            };
            list.push(Received {
                at: Instant::now(),
                delivery,
                signed,
                tampered_rejected,
                status,
            });
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    };
    let app = axum::Router::new().route("/hook/{name}", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_dead_lettered() {
    let (url, seen) = receiver().await;
    let mut node = new_node(2);
    let flaky = format!("{url}/flaky");
    let broken = format!("{url}/broken");
    for u in [&flaky, &broken] {
        let out = node.ok(&[
            "webhook",
            "add",
            u,
            "--secret-env",
            "NADHIR_TEST_HOOK_SECRET",
            "--max-attempts",
            "4",
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["url"], u.as_str());
    }
    node.start(&[]);
    let client = reqwest::Client::new();
    let r = ingest(
        &client,
        &node,
        Some(node.token("sensor")),
        None,
        dns_event("hit-0.alert.example"),
    )
    .await;
    assert_eq!(r.status(), 200);

    // Wait for the flaky hook to succeed (third attempt: 0.5 s + 1 s of backoff) and
    // for the broken hook's single attempt.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        {
            let m = seen.lock().unwrap();
            let ok = m.get("flaky").is_some_and(|l| l.len() >= 3)
                && m.get("broken").is_some_and(|l| !l.is_empty());
            if ok {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "webhooks not delivered: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give a wrong retry of the 400 the time to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = seen.lock().unwrap().clone();
    let f = &m["flaky"];
    assert_eq!(f.len(), 3, "{f:?}");
    assert_eq!(
        f.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 500, 200]
    );
    assert!(f.iter().all(|r| r.signed && r.tampered_rejected), "{f:?}");
    assert!(f
        .iter()
        .all(|r| r.delivery == f[0].delivery && r.delivery > 0));
    // Backoff: 0.5 s, then 1 s (lower bounds only).
    assert!(f[1].at - f[0].at >= Duration::from_millis(450), "{f:?}");
    assert!(f[2].at - f[1].at >= Duration::from_millis(900), "{f:?}");
    assert!(f[2].at - f[1].at > f[1].at - f[0].at, "{f:?}");
    let b = &m["broken"];
    assert_eq!(b.len(), 1, "a 400 is not retried: {b:?}");
    assert!(b[0].signed);

    // The 400 left a dead letter.
    let out = node.cli(&["webhook", "dead-letters"]);
    assert!(out.status.success());
    let letters: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["url"], broken.as_str());
    assert_eq!(letters[0]["seq"], b[0].delivery);
    assert_eq!(letters[0]["attempts"], 1);
    assert_eq!(letters[0]["last_error"], "HTTP 400");
    let body: Value = serde_json::from_str(letters[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["alert"]["indicator_id"], indicator_id(0).as_str());
    // And over HTTP, for an admin only.
    let r = client
        .get(format!("{}/warning/dead-letters", node.base))
        .bearer_auth(node.token("analyst"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .get(format!("{}/warning/dead-letters", node.base))
        .bearer_auth(node.token("admin"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["dead_letters"].as_array().unwrap().len(), 1);
}
