//! The server over PostgreSQL: POST, version filters, paging with `next`, delete, in a
//! scratch database of its own. Needs NADHIR_TEST_POSTGRES_URL (e.g.
//! postgres://postgres@127.0.0.1:5432/test); skipped without it unless CI is set.

// Fixture helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

mod server_support;

use std::sync::atomic::{AtomicU32, Ordering};

use axum::http::Method;
use serde_json::json;
use server_support::*;
use sqlx::{Connection, Executor, PgConnection};

fn base_url() -> Option<String> {
    match std::env::var("NADHIR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but NADHIR_TEST_POSTGRES_URL is not: the PostgreSQL tests must run"
            );
            eprintln!("skipping: NADHIR_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Creates a fresh database and returns its URL and name.
async fn scratch(base: &str) -> (String, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "nadhir_taxii_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        stix::Timestamp::now_unix_micros() % 1_000_000
    );
    let mut conn = PgConnection::connect(base).await.unwrap();
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (prefix, _) = base.split('?').next().unwrap().rsplit_once('/').unwrap();
    (format!("{prefix}/{name}"), name)
}

async fn drop_db(base: &str, name: &str) {
    let mut conn = PgConnection::connect(base).await.unwrap();
    conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_over_postgres() {
    let Some(base) = base_url() else { return };
    let (url, name) = scratch(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), Some(&url)).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    let n = node_on(
        dir,
        store,
        taxii::server::ServerConfig::with_roots(["api", "api2"]),
    )
    .await;

    const V: [&str; 3] = [
        "2024-01-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z",
    ];
    for v in V {
        let objs: Vec<_> = (0..300).map(|i| indicator(i, v)).collect();
        let st = n.post_objects(SHARED, &objs).await.json();
        assert_eq!(st["success_count"], 300, "{st}");
    }
    let st = n.post_objects(SHARED, &[indicator(0, V[0])]).await.json();
    assert_eq!(st["success_count"], 1, "duplicate is a success: {st}");

    let objects = format!("/api/collections/{SHARED}/objects/");
    let id0 = indicator(0, V[0])["id"].as_str().unwrap().to_owned();
    assert_eq!(ids(&n.get(&objects).await.json()).len(), 300);
    let j = n
        .get(&format!("{objects}?match[version]=first&match[id]={id0}"))
        .await
        .json();
    assert_eq!(j["objects"][0]["modified"], V[0]);
    let j = n.get(&format!("{objects}{id0}/versions/")).await.json();
    assert_eq!(j["versions"], json!(V));

    // Walk all 900 versions in pages of 128: each exactly once, in date_added order.
    let mut url = format!("{objects}?match[version]=all&limit=128");
    let mut seen = hashbrown::HashSet::new();
    let mut last = String::new();
    loop {
        let r = n.get(&url).await;
        let j = r.json();
        for o in j["objects"].as_array().unwrap() {
            assert!(seen.insert(format!("{}{}", o["id"], o["modified"])));
        }
        let first = r.header("x-taxii-date-added-first").unwrap();
        assert!(first > last);
        last = r.header("x-taxii-date-added-last").unwrap();
        if j["more"] != true {
            break;
        }
        url = format!(
            "{objects}?match[version]=all&limit=128&next={}",
            j["next"].as_str().unwrap()
        );
    }
    assert_eq!(seen.len(), 900);

    let r = n
        .send(
            Method::DELETE,
            &format!("{objects}{id0}/"),
            Some(&bearer(&n.centre_token)),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    n.get(&format!("{objects}{id0}/")).await.assert_error(404);
    n.get(&format!("{objects}?limit=0")).await.assert_error(400);
    drop(n);
    drop_db(&base, &name).await;
}
