//! A status left `pending` by a server killed mid-ingestion (SIGKILL) is finalised by
//! the next server on the same store: the real `nadhir serve` takes a large envelope
//! in the background, is killed once its status shows both successes and pending
//! objects, and is restarted; the status then completes with every object either a
//! success that is stored or a failure saying it was not stored, and the counts add up.
//!
//! Runs on SQLite, and on PostgreSQL when NADHIR_TEST_POSTGRES_URL is set (skipped
//! with a printed reason otherwise, unless CI is set).

// Helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{nadhir_on, serve, stderr, stdout, Scratch, Server};
use serde_json::{json, Value};

const TAXII: &str = "application/taxii+json;version=2.1";
/// Objects posted: enough for the ingestion to take several seconds in a debug build.
const TOTAL: usize = 60_000;
/// From `taxii::server::ORPHANED_BY_STOP`.
const NOT_STORED: &str =
    "not stored: the server stopped before this object was processed; POST it again";

fn indicator(i: usize) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--5a1e0c3e-0000-4000-8000-{i:012}"),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("recovery {i}"),
        "pattern": format!("[ipv4-addr:value = '10.{}.{}.{}']", i >> 16, (i >> 8) & 255, i & 255),
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"
    })
}

fn admin(data: &Path, db: Option<&str>, args: &[&str]) -> String {
    let mut full = vec!["admin"];
    full.extend_from_slice(args);
    let out = nadhir_on(data, db, &full);
    assert!(out.status.success(), "admin {args:?}: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// The node's organisation, a collection `shared` it may write, and an analyst token.
fn provision(data: &Path, db: Option<&str>) -> String {
    admin(
        data,
        db,
        &[
            "org",
            "add",
            "--name",
            "centre",
            "--kind",
            "national-centre",
        ],
    );
    admin(
        data,
        db,
        &[
            "collection",
            "add",
            "--title",
            "Shared",
            "--alias",
            "shared",
        ],
    );
    admin(
        data,
        db,
        &[
            "grant",
            "--collection",
            "shared",
            "--org",
            "centre",
            "--read",
            "--write",
        ],
    );
    admin(
        data,
        db,
        &["token", "create", "--org", "centre", "--role", "analyst"],
    )
}

fn start(data: &Path, db: Option<&str>) -> Server {
    serve(
        data,
        db,
        &["--no-warning", "--no-sync", "--liveness-ms", "200"],
    )
}

async fn get_json(http: &reqwest::Client, token: &str, url: &str) -> Value {
    let r = http
        .get(url)
        .bearer_auth(token)
        .header("accept", TAXII)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.json().await.unwrap()
}

/// Every object id the collection holds, read page by page.
async fn stored_ids(http: &reqwest::Client, token: &str, base: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut next: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/collections/shared/objects/?limit=10000");
        if let Some(n) = &next {
            url.push_str(&format!("&next={n}"));
        }
        let page = get_json(http, token, &url).await;
        for o in page["objects"].as_array().into_iter().flatten() {
            ids.insert(o["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) if page["more"] == true => next = Some(n.to_owned()),
            _ => return ids,
        }
    }
}

async fn killed_mid_ingestion_then_recovered(data: &Path, db: Option<&str>) {
    let token = provision(data, db);
    let mut server = start(data, db);
    let base = server.base();
    let http = reqwest::Client::new();
    let objects: Vec<Value> = (0..TOTAL).map(indicator).collect();
    let body = json!({ "objects": objects }).to_string();
    let r = http
        .post(format!("{base}/api/collections/shared/objects/"))
        .bearer_auth(&token)
        .header("accept", TAXII)
        .header("content-type", TAXII)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["status"], "pending", "{st}");
    let sid = st["id"].as_str().unwrap().to_owned();
    let status_url = format!("{base}/api/status/{sid}/");

    // Wait for a saved progress with both successes and pending objects, then kill.
    let deadline = Instant::now() + Duration::from_secs(120);
    let seen = loop {
        let st = get_json(&http, &token, &status_url).await;
        assert_eq!(
            st["status"], "pending",
            "finished before the kill: {st:.200}"
        );
        if st["success_count"].as_u64().unwrap() > 0 && st["pending_count"].as_u64().unwrap() > 0 {
            break st;
        }
        assert!(Instant::now() < deadline, "no progress saved in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Objects are stored in order, in batches of 1,000: once the object 1,000 after the
    // saved successes can be read, a batch beyond the saved progress is committed (it is
    // pending in the saved status and must be found stored); the next progress save is
    // 10 batches later.
    let probe = indicator(seen["success_count"].as_u64().unwrap() as usize + 1000);
    let probe = format!(
        "{base}/api/collections/shared/objects/{}/",
        probe["id"].as_str().unwrap()
    );
    loop {
        let r = http
            .get(&probe)
            .bearer_auth(&token)
            .header("accept", TAXII)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no batch after the saved progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap(); // SIGKILL: no graceful shutdown
    server.child.wait().unwrap();
    drop(server);
    let seen_ok = seen["success_count"].as_u64().unwrap();
    eprintln!(
        "killed with {seen_ok} successes and {} pending saved",
        seen["pending_count"]
    );

    // A new server on the same store finalises the status.
    let server = start(data, db);
    let base = server.base();
    let status_url = format!("{base}/api/status/{sid}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    let st = loop {
        let st = get_json(&http, &token, &status_url).await;
        if st["status"] == "complete" {
            break st;
        }
        assert!(Instant::now() < deadline, "still pending: {st:.300}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ok = st["success_count"].as_u64().unwrap();
    let failed = st["failure_count"].as_u64().unwrap();
    assert_eq!(st["total_count"], TOTAL as u64);
    assert_eq!(st["pending_count"], 0);
    assert!(st.get("pendings").is_none());
    assert_eq!(ok + failed, TOTAL as u64, "counts add up");
    assert!(
        ok > seen_ok,
        "objects committed after the last progress save are successes: {ok} vs {seen_ok}"
    );
    assert!(failed > 0, "the kill left objects unprocessed");
    let successes = st["successes"].as_array().unwrap();
    let failures = st["failures"].as_array().unwrap();
    assert_eq!(successes.len() as u64, ok);
    assert_eq!(failures.len() as u64, failed);
    assert!(
        failures.iter().all(|f| f["message"] == NOT_STORED),
        "{:.300}",
        failures
            .iter()
            .find(|f| f["message"] != NOT_STORED)
            .unwrap()
    );

    // Every object is reported exactly once; successes are stored, failures are not.
    let stored = stored_ids(&http, &token, &base).await;
    let mut reported = HashSet::new();
    for d in successes {
        let id = d["id"].as_str().unwrap();
        assert!(reported.insert(id.to_owned()), "{id} reported twice");
        assert!(stored.contains(id), "success {id} is not stored");
    }
    for d in failures {
        let id = d["id"].as_str().unwrap();
        assert!(reported.insert(id.to_owned()), "{id} reported twice");
        assert!(!stored.contains(id), "failure {id} is stored");
    }
    let posted: HashSet<String> = (0..TOTAL)
        .map(|i| indicator(i)["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reported, posted);
    assert_eq!(stored.len() as u64, ok);
    // One success and one failure read back by id.
    let one = successes[0]["id"].as_str().unwrap();
    let got = get_json(
        &http,
        &token,
        &format!("{base}/api/collections/shared/objects/{one}/"),
    )
    .await;
    assert_eq!(got["objects"][0]["id"], one);
    let gone = failures[0]["id"].as_str().unwrap();
    let r = http
        .get(format!("{base}/api/collections/shared/objects/{gone}/"))
        .bearer_auth(&token)
        .header("accept", TAXII)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_status_is_recovered_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    killed_mid_ingestion_then_recovered(dir.path(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_status_is_recovered_on_postgres() {
    let base = match std::env::var("NADHIR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but NADHIR_TEST_POSTGRES_URL is not: the PostgreSQL test must run"
            );
            eprintln!("skipping: NADHIR_TEST_POSTGRES_URL is not set");
            return;
        }
    };
    let db = Scratch::new(&base).await;
    let dir = tempfile::tempdir().unwrap();
    killed_mid_ingestion_then_recovered(dir.path(), Some(&db.url)).await;
    db.drop_db().await;
}
