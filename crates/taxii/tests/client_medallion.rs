//! The client against a live medallion (the OASIS reference TAXII 2.1 server):
//! push N objects from a local store, pull them into a fresh store, compare, then
//! check that resuming from the cursor pulls nothing, then exactly what was added.

mod common;

use common::medallion::{self, indicator, COLLECTION, PASSWORD, USER};
use futures::TryStreamExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use store::{NewObject, Query, Store};
use taxii::client::sync::{self, PullOptions, PushOptions};
use taxii::client::{Auth, Client, ObjectQuery, VersionSelector};

async fn open_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    store::open(dir.path(), None).await.expect("open store")
}

async fn contents(s: &dyn Store) -> BTreeMap<String, Value> {
    let q = Query {
        with_body: true,
        ..Query::default()
    };
    let rows: Vec<_> = s.stream(q).try_collect().await.expect("stream");
    rows.into_iter()
        .map(|r| {
            (
                r.id.clone(),
                serde_json::from_str(&r.json).expect("stored JSON"),
            )
        })
        .collect()
}

fn client() -> Client {
    Client::new(Auth::Basic {
        user: USER.into(),
        password: PASSWORD.into(),
    })
    .expect("client")
}

#[tokio::test]
async fn push_pull_and_resume_against_medallion() {
    let Some(server) = medallion::start(40).await else {
        return;
    };
    let c = client();
    // The discovery URL resolves to the default API root.
    let (root, info) = c
        .resolve_api_root(&server.discovery_url().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(root.as_str(), server.api_root_url());
    assert_eq!(info.title, "api1");
    let cols = c.collections(&root).await.unwrap();
    assert_eq!(cols.len(), 1);
    assert_eq!(cols[0].id, COLLECTION);

    // Push N objects from a local store.
    const N: u32 = 150;
    let src_dir = tempfile::tempdir().unwrap();
    let src = open_store(&src_dir).await;
    let objects: Vec<NewObject> = (0..N)
        .map(|i| NewObject::from_object(&stix::Object::from_json_str(&indicator(1, i)).unwrap()))
        .collect();
    src.insert(&objects, &[]).await.unwrap();
    let opts = PushOptions {
        max_envelope_objects: 32,
        ..PushOptions::default()
    };
    let pushed = sync::push(
        &c,
        &root,
        COLLECTION,
        &*src,
        Query::default(),
        &opts,
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(pushed.sent, u64::from(N));
    assert_eq!(pushed.succeeded, u64::from(N), "{pushed:?}");
    assert!(pushed.failed.is_empty(), "{:?}", pushed.failed);
    assert_eq!(pushed.envelopes, u64::from(N.div_ceil(32)));

    // Pushing again: medallion reports exact duplicates as failures, nothing new.
    let again = sync::push(
        &c,
        &root,
        COLLECTION,
        &*src,
        Query::default(),
        &opts,
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(again.succeeded, 0);
    assert_eq!(again.failed.len(), N as usize);

    // Pull into a fresh store: medallion pages with `next` (max_page_size 40).
    let dst_dir = tempfile::tempdir().unwrap();
    let dst = open_store(&dst_dir).await;
    let mut calls = 0;
    let first = sync::pull(
        &c,
        &root,
        COLLECTION,
        &*dst,
        &PullOptions::default(),
        &mut |_| calls += 1,
    )
    .await
    .unwrap();
    assert_eq!(first.received, u64::from(N));
    assert_eq!(first.inserted, u64::from(N));
    assert!(first.pages >= 4, "paged: {first:?}");
    assert_eq!(calls, first.pages);
    assert!(first.rejected.is_empty() && first.conflicts.is_empty());
    assert!(first.cursor.is_some());
    assert_eq!(contents(&*dst).await, contents(&*src).await);

    // Resume: nothing new.
    let second = sync::pull(
        &c,
        &root,
        COLLECTION,
        &*dst,
        &PullOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(second.started_after, first.cursor);
    assert_eq!((second.received, second.inserted), (0, 0));
    assert_eq!(second.cursor, first.cursor);

    // Add M valid objects and one invalid one (no pattern), then resume.
    const M: u32 = 7;
    let mut raw: Vec<String> = (0..M).map(|i| indicator(2, i)).collect();
    let mut bad: Value = serde_json::from_str(&indicator(3, 0)).unwrap();
    bad.as_object_mut().unwrap().remove("pattern");
    raw.push(bad.to_string());
    let boxed: Vec<Box<serde_json::value::RawValue>> = raw
        .iter()
        .map(|s| serde_json::value::RawValue::from_string(s.clone()).unwrap())
        .collect();
    let refs: Vec<&serde_json::value::RawValue> = boxed.iter().map(|b| &**b).collect();
    let status = c.post_objects(&root, COLLECTION, &refs).await.unwrap();
    assert_eq!(status.success_count, u64::from(M) + 1);

    let third = sync::pull(
        &c,
        &root,
        COLLECTION,
        &*dst,
        &PullOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(third.received, u64::from(M) + 1);
    assert_eq!(third.inserted, u64::from(M));
    assert_eq!(third.rejected.len(), 1);
    let r = &third.rejected[0];
    assert_eq!(r.id.as_deref(), bad["id"].as_str());
    assert_eq!(r.pointer, "/pattern");
    assert!(third.cursor > first.cursor);
    assert_eq!(contents(&*dst).await.len(), (N + M) as usize);

    let fourth = sync::pull(
        &c,
        &root,
        COLLECTION,
        &*dst,
        &PullOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(fourth.received, 0);

    // An explicit added_after before everything re-reads all; duplicates are not new.
    let everything = PullOptions {
        added_after: Some(stix::Timestamp::parse("2000-01-01T00:00:00Z").unwrap()),
        ..PullOptions::default()
    };
    let redo = sync::pull(&c, &root, COLLECTION, &*dst, &everything, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(redo.received, u64::from(N + M) + 1);
    assert_eq!(redo.inserted, 0);
    assert_eq!(redo.duplicates, u64::from(N + M));
    assert_eq!(
        redo.cursor, third.cursor,
        "an explicit start never lowers the cursor"
    );
}

#[tokio::test]
async fn object_endpoints_filters_and_errors_against_medallion() {
    let Some(server) = medallion::start(100).await else {
        return;
    };
    let c = client();
    let root: reqwest::Url = server.api_root_url().parse().unwrap();
    // Two versions of one object, plus a malware.
    let v1 = indicator(5, 1);
    let v2 = v1.replace(
        r#""modified":"2024-01-01T00:00:00.000Z""#,
        r#""modified":"2024-02-01T00:00:00.000Z""#,
    );
    let malware = r#"{"type":"malware","spec_version":"2.1","id":"malware--00000005-0000-4000-8000-000000000001","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"m","is_family":false}"#;
    for body in [&v1, &v2, &malware.to_owned()] {
        let raw = serde_json::value::RawValue::from_string(body.clone()).unwrap();
        let st = c.post_objects(&root, COLLECTION, &[&*raw]).await.unwrap();
        assert!(st.is_complete());
        // The wait is a no-op for a complete status; check it resolves the same id.
        let polled = c.status(&root, &st.id).await.unwrap();
        assert_eq!(polled.id, st.id);
    }
    let id = "indicator--00000005-0000-4000-8000-000000000001";

    let only_malware = c
        .get_objects(&root, COLLECTION, &ObjectQuery::new().type_name("malware"))
        .await
        .unwrap();
    assert_eq!(only_malware.objects.len(), 1);
    assert!(only_malware.date_added.first.is_some() && only_malware.date_added.last.is_some());

    let all = c
        .get_object(
            &root,
            COLLECTION,
            id,
            &ObjectQuery::new().version(VersionSelector::All),
        )
        .await
        .unwrap();
    assert_eq!(all.objects.len(), 2);
    let first = c
        .get_object(
            &root,
            COLLECTION,
            id,
            &ObjectQuery::new().version(VersionSelector::First),
        )
        .await
        .unwrap();
    assert_eq!(
        first.values().unwrap()[0]["modified"],
        "2024-01-01T00:00:00.000Z"
    );

    let versions = c
        .versions(&root, COLLECTION, id, &ObjectQuery::new())
        .await
        .unwrap();
    assert_eq!(versions.versions.len(), 2);

    let manifest = c
        .manifest(&root, COLLECTION, &ObjectQuery::new().limit(1))
        .await
        .unwrap();
    assert_eq!(manifest.objects.len(), 1);
    assert!(manifest.more);
    assert!(manifest.next.is_some(), "medallion pages with next");

    // Without match[version] medallion deletes only the latest version; ask for all.
    c.delete_object(
        &root,
        COLLECTION,
        id,
        &ObjectQuery::new().version(VersionSelector::All),
    )
    .await
    .unwrap();
    let err = c
        .get_object(&root, COLLECTION, id, &ObjectQuery::new())
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(404), "{err}");
    assert!(
        err.taxii_error().is_some(),
        "medallion sends a TAXII error body: {err}"
    );

    // Wrong password: 401 with a typed error.
    let wrong = Client::new(Auth::Basic {
        user: USER.into(),
        password: "nope".into(),
    })
    .unwrap();
    let err = wrong.collections(&root).await.unwrap_err();
    assert_eq!(err.http_status(), Some(401), "{err}");
    // Unknown collection: 404.
    let err = c.collection(&root, "no-such-collection").await.unwrap_err();
    assert_eq!(err.http_status(), Some(404), "{err}");
}
