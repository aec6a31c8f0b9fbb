//! The conformance suite every [`Store`] implementation must pass. Each case is an
//! async function taking a fresh, empty store; `tests/conformance_sqlite.rs` and
//! `tests/conformance_postgres.rs` run all of them through [`crate::conformance_cases!`].
//!
//! This is test code compiled into the library so both backends' test files share it;
//! it panics on failure like any test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;

use crate::{
    Collection, CollectionId, InsertOutcome, NewObject, Org, Page, Permission, Query, StatusRecord,
    Store, StoreError, StoredObject, TokenRecord, User, VersionFilter,
};

/// Calls `$m!(case, case, …)` with the name of every conformance case.
#[macro_export]
macro_rules! conformance_cases {
    ($m:ident) => {
        $m!(
            insert_outcomes,
            json_is_byte_identical,
            version_selectors,
            version_selectors_in_collections,
            filters,
            collections_crud,
            collection_membership,
            pagination,
            concurrent_writers_never_skip_or_repeat,
            streamed_transaction,
            rollback_leaves_nothing,
            delete_and_tombstones,
            stats,
            statuses,
            status_claims_spare_live_owners,
            status_claim_race_has_one_winner,
            status_in_write_tx,
            status_claim_waits_for_owner_tx,
            versions_in_collection,
            orgs_users_tokens_permissions,
            state,
            stream_large,
            hits_counted_once,
            hits_concurrent_workers,
            hits_records_state_in_write_tx,
            records_and_feed,
            meta_crud_and_expiry,
            meta_in_rolled_back_tx,
            egress_chain_across_batches,
            egress_tampering_detected,
            egress_concurrent_appenders,
            egress_after_by_peer,
            egress_of_objects_reads_only_theirs,
        );
    };
}

// ----- builders -----

fn id_of(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012x}")
}

/// An indicator version `n` with `modified` and `name`.
pub fn indicator(n: u32, modified: &str, name: &str) -> NewObject {
    sdo("indicator", n, modified, name)
}

fn sdo(kind: &str, n: u32, modified: &str, name: &str) -> NewObject {
    let text = format!(
        r#"{{"type":"{kind}","spec_version":"2.1","id":"{}","created":"2024-01-01T00:00:00.000Z","modified":"{modified}","name":"{name}","pattern":"[ipv4-addr:value = '198.51.100.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}}"#,
        id_of(kind, n),
        n % 250
    );
    let obj = stix::Object::from_json_str(&text).expect("builder JSON parses");
    NewObject::from_object(&obj)
}

fn sco(n: u32) -> NewObject {
    let text = format!(
        r#"{{"type":"ipv4-addr","spec_version":"2.1","id":"{}","value":"203.0.113.{}"}}"#,
        id_of("ipv4-addr", n),
        n % 250
    );
    NewObject::from_object(&stix::Object::from_json_str(&text).expect("builder JSON parses"))
}

fn coll(id: &str, alias: Option<&str>) -> Collection {
    Collection {
        id: CollectionId(id.to_owned()),
        api_root: "api1".into(),
        title: format!("Collection {id}"),
        description: Some("for the conformance suite".into()),
        alias: alias.map(str::to_owned),
        media_types: vec!["application/stix+json;version=2.1".into()],
        created: 1_700_000_000_000_000,
    }
}

fn cid(s: &str) -> CollectionId {
    CollectionId(s.to_owned())
}

fn all_versions() -> Query {
    Query {
        versions: VersionFilter::all(),
        with_body: true,
        ..Default::default()
    }
}

async fn q(s: &dyn Store, query: Query) -> Page {
    s.query(&query).await.expect("query")
}

/// (id, version_key) of each row, in order.
fn keys(p: &Page) -> Vec<(String, String)> {
    p.objects
        .iter()
        .map(|o| (o.id.clone(), o.version_key.clone()))
        .collect()
}

fn key(o: &NewObject) -> (String, String) {
    (o.id.clone(), o.version_key.clone())
}

fn assert_increasing(rows: &[StoredObject]) {
    for w in rows.windows(2) {
        assert!(w[0].cursor < w[1].cursor, "cursors not increasing: {w:?}");
        assert!(
            w[0].date_added < w[1].date_added,
            "date_added not increasing: {w:?}"
        );
    }
}

fn inserted(o: &InsertOutcome) -> (i64, i64) {
    match o {
        InsertOutcome::Inserted { added, date_added } => (*added, *date_added),
        other => panic!("expected Inserted, got {other:?}"),
    }
}

// ----- cases -----

/// Inserted / Duplicate / Conflict, inside and across batches.
pub async fn insert_outcomes(s: &dyn Store) {
    assert!(s.insert(&[], &[]).await.unwrap().is_empty());
    let a1 = indicator(1, "2024-01-01T00:00:00.000Z", "a");
    let b1 = indicator(2, "2024-01-01T00:00:00.000Z", "b");
    let out = s.insert(&[a1.clone(), b1.clone()], &[]).await.unwrap();
    let (ca, da) = inserted(&out[0]);
    let (cb, db) = inserted(&out[1]);
    assert!(ca < cb && da < db, "{out:?}");

    assert_eq!(
        s.insert(&[a1.clone()], &[]).await.unwrap(),
        vec![InsertOutcome::Duplicate]
    );

    let a1_changed = indicator(1, "2024-01-01T00:00:00.000Z", "a, edited");
    assert_ne!(a1_changed.content_hash, a1.content_hash);
    let a2 = indicator(1, "2024-02-01T00:00:00.000Z", "a");
    let out = s
        .insert(&[a1_changed.clone(), a2.clone()], &[])
        .await
        .unwrap();
    assert_eq!(
        out[0],
        InsertOutcome::Conflict {
            existing_hash: a1.content_hash.clone()
        }
    );
    let (c2, _) = inserted(&out[1]);
    assert!(c2 > cb, "a later commit gets a larger cursor");

    // Repeats inside one batch compare with the first occurrence.
    let c = indicator(3, "2024-01-01T00:00:00.000Z", "c");
    let c_changed = indicator(3, "2024-01-01T00:00:00.000Z", "c, edited");
    let out = s
        .insert(&[c.clone(), c.clone(), c_changed.clone()], &[])
        .await
        .unwrap();
    inserted(&out[0]);
    assert_eq!(out[1], InsertOutcome::Duplicate);
    assert_eq!(
        out[2],
        InsertOutcome::Conflict {
            existing_hash: c.content_hash.clone()
        }
    );
    // ... and with a stored version when there is one.
    let out = s
        .insert(&[a1_changed.clone(), a1.clone()], &[])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            InsertOutcome::Conflict {
                existing_hash: a1.content_hash.clone()
            },
            InsertOutcome::Duplicate
        ]
    );

    // Unversioned objects have a single version.
    let x = sco(9);
    assert_eq!(x.version_key, "");
    inserted(&s.insert(&[x.clone()], &[]).await.unwrap()[0]);
    assert_eq!(
        s.insert(&[x.clone()], &[]).await.unwrap(),
        vec![InsertOutcome::Duplicate]
    );

    // The stored content is the first one, never the conflicting one.
    let page = q(
        s,
        Query {
            ids: vec![a1.id.clone()],
            ..all_versions()
        },
    )
    .await;
    assert_eq!(keys(&page), vec![key(&a1), key(&a2)]);
    assert_eq!(page.objects[0].json, a1.json);

    // Unknown collection: a clear error, nothing written.
    let d = indicator(4, "2024-01-01T00:00:00.000Z", "d");
    let err = s
        .insert(&[d.clone()], &[cid("no-such-collection")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { kind: "collection", id } if id == "no-such-collection"),
        "{err:?}"
    );
    assert_eq!(err.code(), "store.not_found");
    assert!(q(
        s,
        Query {
            ids: vec![d.id.clone()],
            ..all_versions()
        }
    )
    .await
    .objects
    .is_empty());

    // Invalid input is refused.
    let mut bad = d.clone();
    bad.id.clear();
    let err = s.insert(&[bad], &[]).await.unwrap_err();
    assert_eq!(err.code(), "store.invalid_argument", "{err}");
}

/// The JSON text comes back byte for byte, whatever its spacing, order or numbers.
pub async fn json_is_byte_identical(s: &dyn Store) {
    let raw =
        "{ \"type\" : \"indicator\",\"id\":\"indicator--00000000-0000-4000-8000-0000000000aa\",\
               \"spec_version\":\"2.1\", \"modified\":\"2024-01-01T00:00:00.000Z\",\
               \"created\":\"2024-01-01T00:00:00.000Z\",\"name\":\"نذير — \\u00e9 ✓\",\
               \"x_big\": 1.000000000000000000000001, \"x_int\": 18446744073709551616,\
               \"pattern\":\"[domain-name:value = 'example.com']\",\"pattern_type\":\"stix\",\
               \"valid_from\":\"2024-01-01T00:00:00Z\" }";
    let obj = stix::Object::from_json_str(raw).unwrap();
    let mut o = NewObject::from_object(&obj);
    o.json = raw.to_owned();
    inserted(&s.insert(&[o.clone()], &[]).await.unwrap()[0]);
    let page = q(s, all_versions()).await;
    assert_eq!(page.objects.len(), 1);
    assert_eq!(page.objects[0].json.as_bytes(), raw.as_bytes());
    assert_eq!(page.objects[0].version_text, "2024-01-01T00:00:00.000Z");
    let bare = q(
        s,
        Query {
            with_body: false,
            ..all_versions()
        },
    )
    .await;
    assert_eq!(bare.objects[0].json, "", "with_body=false returns no body");
    assert_eq!(bare.objects[0].id, o.id);
}

/// first / last / all / exact and their combinations, store-wide.
pub async fn version_selectors(s: &dyn Store) {
    let v1 = indicator(1, "2024-01-01T00:00:00.000Z", "v1");
    let v2 = indicator(1, "2024-02-01T00:00:00.000Z", "v2");
    let v3 = indicator(1, "2024-03-01T00:00:00.123456Z", "v3");
    let b = indicator(2, "2024-01-15T00:00:00.000Z", "b");
    let x = sco(7);
    // Inserted out of version order: "last" follows the version, not the insert.
    s.insert(&[v2.clone(), v3.clone()], &[]).await.unwrap();
    s.insert(&[b.clone(), v1.clone(), x.clone()], &[])
        .await
        .unwrap();

    let with = |versions: VersionFilter| Query {
        versions,
        with_body: true,
        ..Default::default()
    };
    let default = q(s, with(VersionFilter::default())).await;
    assert_eq!(keys(&default), vec![key(&v3), key(&b), key(&x)]);
    assert_eq!(
        keys(&q(s, with(VersionFilter::last())).await),
        keys(&default)
    );
    assert_eq!(
        keys(&q(s, with(VersionFilter::first())).await),
        vec![key(&b), key(&v1), key(&x)]
    );
    let all = q(s, with(VersionFilter::all())).await;
    assert_eq!(
        keys(&all),
        vec![key(&v2), key(&v3), key(&b), key(&v1), key(&x)]
    );
    assert_increasing(&all.objects);
    let exact = VersionFilter {
        exact: vec![v2.version_key.clone()],
        ..Default::default()
    };
    assert_eq!(keys(&q(s, with(exact)).await), vec![key(&v2)]);
    let first_last = VersionFilter {
        first: true,
        last: true,
        ..Default::default()
    };
    assert_eq!(
        keys(&q(s, with(first_last)).await),
        vec![key(&v3), key(&b), key(&v1), key(&x)],
        "an object whose first and last version coincide appears once"
    );
    let exact_last = VersionFilter {
        last: true,
        exact: vec![v2.version_key.clone()],
        ..Default::default()
    };
    assert_eq!(
        keys(&q(s, with(exact_last)).await),
        vec![key(&v2), key(&v3), key(&b), key(&x)]
    );
    let exact_missing = VersionFilter {
        exact: vec!["1999".into()],
        ..Default::default()
    };
    assert!(q(s, with(exact_missing)).await.objects.is_empty());
    // The body is the version's own.
    let last_a = q(
        s,
        Query {
            ids: vec![v1.id.clone()],
            ..with(VersionFilter::last())
        },
    )
    .await;
    assert_eq!(last_a.objects[0].json, v3.json);
    assert_eq!(
        last_a.objects[0].version_text,
        "2024-03-01T00:00:00.123456Z"
    );
}

/// first / last are computed among the versions present in the queried collection.
pub async fn version_selectors_in_collections(s: &dyn Store) {
    s.create_collection(&coll("c1", None)).await.unwrap();
    s.create_collection(&coll("c2", None)).await.unwrap();
    let v1 = indicator(1, "2024-01-01T00:00:00.000Z", "v1");
    let v2 = indicator(1, "2024-02-01T00:00:00.000Z", "v2");
    let v3 = indicator(1, "2024-03-01T00:00:00.000Z", "v3");
    s.insert(&[v1.clone(), v2.clone()], &[cid("c1")])
        .await
        .unwrap();
    s.insert(&[v3.clone()], &[cid("c2")]).await.unwrap();
    let in_c = |c: &str, versions: VersionFilter| Query {
        collection: Some(cid(c)),
        versions,
        with_body: true,
        ..Default::default()
    };
    assert_eq!(
        keys(&q(s, in_c("c1", VersionFilter::last())).await),
        vec![key(&v2)]
    );
    assert_eq!(
        keys(&q(s, in_c("c1", VersionFilter::first())).await),
        vec![key(&v1)]
    );
    assert_eq!(
        keys(&q(s, in_c("c2", VersionFilter::first())).await),
        vec![key(&v3)]
    );
    assert_eq!(
        keys(&q(s, in_c("c2", VersionFilter::default())).await),
        vec![key(&v3)]
    );
    assert_eq!(
        keys(&q(s, in_c("c1", VersionFilter::all())).await),
        vec![key(&v1), key(&v2)]
    );
    // Store-wide, the last is v3.
    assert_eq!(keys(&q(s, Query::default()).await), vec![key(&v3)]);
}

/// ids / types / spec_versions (ORed inside, ANDed across) and added_after / before.
pub async fn filters(s: &dyn Store) {
    let a = indicator(1, "2024-01-01T00:00:00.000Z", "a");
    let m = sdo("malware", 2, "2024-01-01T00:00:00.000Z", "m");
    let t = sdo("tool", 3, "2024-01-01T00:00:00.000Z", "t");
    let mut old = indicator(4, "2024-01-01T00:00:00.000Z", "old");
    old.spec_version = "2.0".into();
    let out = s
        .insert(&[a.clone(), m.clone(), t.clone(), old.clone()], &[])
        .await
        .unwrap();
    let dates: Vec<i64> = out.iter().map(|o| inserted(o).1).collect();

    let by_ids = Query {
        ids: vec![m.id.clone(), t.id.clone(), id_of("x", 99)],
        ..all_versions()
    };
    assert_eq!(keys(&q(s, by_ids).await), vec![key(&m), key(&t)]);
    let by_types = Query {
        types: vec!["indicator".into(), "tool".into()],
        ..all_versions()
    };
    assert_eq!(
        keys(&q(s, by_types).await),
        vec![key(&a), key(&t), key(&old)]
    );
    let anded = Query {
        types: vec!["indicator".into()],
        ids: vec![m.id.clone()],
        ..all_versions()
    };
    assert!(q(s, anded).await.objects.is_empty());
    let spec = Query {
        spec_versions: vec!["2.0".into()],
        ..all_versions()
    };
    assert_eq!(keys(&q(s, spec).await), vec![key(&old)]);
    let spec_both = Query {
        spec_versions: vec!["2.0".into(), "2.1".into()],
        ..all_versions()
    };
    assert_eq!(q(s, spec_both).await.objects.len(), 4);
    let after = Query {
        added_after: Some(dates[1]),
        ..all_versions()
    };
    assert_eq!(keys(&q(s, after).await), vec![key(&t), key(&old)]);
    let window = Query {
        added_after: Some(dates[0]),
        added_before_or_at: Some(dates[2]),
        ..all_versions()
    };
    assert_eq!(keys(&q(s, window).await), vec![key(&m), key(&t)]);
    let none = Query {
        added_after: Some(dates[3]),
        ..all_versions()
    };
    assert!(q(s, none).await.objects.is_empty());
    let stored = q(
        s,
        Query {
            ids: vec![old.id.clone()],
            ..all_versions()
        },
    )
    .await;
    assert_eq!(stored.objects[0].spec_version, "2.0");
    assert_eq!(stored.objects[0].type_name, "indicator");
    assert!(!stored.objects[0].revoked);
}

/// Create / get / find / list / delete collections, with clear errors.
pub async fn collections_crud(s: &dyn Store) {
    let c1 = coll("11111111-1111-4111-8111-111111111111", Some("feeds"));
    let mut c2 = coll("22222222-2222-4222-8222-222222222222", None);
    c2.api_root = "api2".into();
    c2.description = None;
    c2.created += 1;
    s.create_collection(&c1).await.unwrap();
    s.create_collection(&c2).await.unwrap();
    let err = s.create_collection(&c1).await.unwrap_err();
    assert_eq!(err.code(), "store.already_exists", "{err}");
    let mut same_alias = coll("33333333-3333-4333-8333-333333333333", Some("feeds"));
    same_alias.created += 2;
    let err = s.create_collection(&same_alias).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::AlreadyExists {
                kind: "collection",
                ..
            }
        ),
        "{err:?}"
    );

    assert_eq!(s.get_collection(&c1.id).await.unwrap().as_ref(), Some(&c1));
    assert_eq!(s.get_collection(&c2.id).await.unwrap().as_ref(), Some(&c2));
    assert_eq!(s.get_collection(&cid("nope")).await.unwrap(), None);
    assert_eq!(
        s.find_collection("feeds").await.unwrap().as_ref(),
        Some(&c1)
    );
    assert_eq!(
        s.find_collection(c2.id.as_str()).await.unwrap().as_ref(),
        Some(&c2)
    );
    assert_eq!(s.find_collection("nope").await.unwrap(), None);
    assert_eq!(
        s.list_collections(None).await.unwrap(),
        vec![c1.clone(), c2.clone()]
    );
    assert_eq!(
        s.list_collections(Some("api2")).await.unwrap(),
        vec![c2.clone()]
    );
    assert!(s.list_collections(Some("api9")).await.unwrap().is_empty());

    s.insert(
        &[indicator(1, "2024-01-01T00:00:00.000Z", "a")],
        &[c2.id.clone()],
    )
    .await
    .unwrap();
    s.delete_collection(&c2.id).await.unwrap();
    assert_eq!(s.get_collection(&c2.id).await.unwrap(), None);
    let err = s.delete_collection(&c2.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                kind: "collection",
                ..
            }
        ),
        "{err:?}"
    );
    // The object stays in the store.
    assert_eq!(q(s, all_versions()).await.objects.len(), 1);
    // Its membership went with the collection: a new collection with the same id
    // starts empty.
    s.create_collection(&c2).await.unwrap();
    let in_c2 = Query {
        collection: Some(c2.id.clone()),
        ..all_versions()
    };
    assert!(q(s, in_c2).await.objects.is_empty());
    assert!(s
        .stats()
        .await
        .unwrap()
        .by_collection
        .iter()
        .all(|(c, _, n)| *c != c2.id || *n == 0));
}

/// An object version can be in several collections, each with its own cursor and
/// date_added; adding it to a new collection is `Inserted`.
pub async fn collection_membership(s: &dyn Store) {
    for c in ["c1", "c2", "c3"] {
        s.create_collection(&coll(c, None)).await.unwrap();
    }
    let a = indicator(1, "2024-01-01T00:00:00.000Z", "a");
    let b = indicator(2, "2024-01-01T00:00:00.000Z", "b");
    let (a_cursor, _) = inserted(
        &s.insert(&[a.clone()], &[cid("c1"), cid("c2")])
            .await
            .unwrap()[0],
    );
    let in_c = |c: &str| Query {
        collection: Some(cid(c)),
        ..all_versions()
    };
    assert_eq!(keys(&q(s, in_c("c1")).await), vec![key(&a)]);
    assert_eq!(keys(&q(s, in_c("c2")).await), vec![key(&a)]);
    assert!(q(s, in_c("c3")).await.objects.is_empty());

    assert_eq!(
        s.insert(&[a.clone()], &[cid("c1")]).await.unwrap(),
        vec![InsertOutcome::Duplicate]
    );
    assert_eq!(
        s.insert(&[a.clone()], &[]).await.unwrap(),
        vec![InsertOutcome::Duplicate]
    );
    let (added, _) = inserted(
        &s.insert(&[a.clone()], &[cid("c1"), cid("c3")])
            .await
            .unwrap()[0],
    );
    assert_eq!(keys(&q(s, in_c("c3")).await), vec![key(&a)]);
    assert_eq!(q(s, in_c("c3")).await.objects[0].cursor, added);
    // Listing a collection twice never repeats the version.
    assert_eq!(q(s, in_c("c1")).await.objects.len(), 1);
    // Store-wide, the version is still stored once.
    let store_wide = q(s, all_versions()).await;
    assert_eq!(store_wide.objects.len(), 1);
    assert_eq!(store_wide.objects[0].cursor, a_cursor);

    // b first goes to the store only, later to c1: its c1 membership is newer than a's.
    let (_, b_store_date) = inserted(&s.insert(&[b.clone()], &[]).await.unwrap()[0]);
    assert!(q(
        s,
        Query {
            ids: vec![b.id.clone()],
            ..in_c("c1")
        }
    )
    .await
    .objects
    .is_empty());
    inserted(&s.insert(&[b.clone()], &[cid("c1")]).await.unwrap()[0]);
    let c1 = q(s, in_c("c1")).await;
    assert_eq!(keys(&c1), vec![key(&a), key(&b)]);
    assert_increasing(&c1.objects);
    assert!(
        c1.objects[1].date_added > b_store_date,
        "membership date is the collection's"
    );
    let since = q(
        s,
        Query {
            added_after: Some(b_store_date),
            ..in_c("c1")
        },
    )
    .await;
    assert_eq!(keys(&since), vec![key(&b)]);
    let page = q(
        s,
        Query {
            after_cursor: Some(c1.objects[0].cursor),
            ..in_c("c1")
        },
    )
    .await;
    assert_eq!(keys(&page), vec![key(&b)]);
    // A conflicting version is added nowhere.
    let b_changed = indicator(2, "2024-01-01T00:00:00.000Z", "b, edited");
    let out = s.insert(&[b_changed], &[cid("c2")]).await.unwrap();
    assert!(matches!(out[0], InsertOutcome::Conflict { .. }), "{out:?}");
    assert_eq!(keys(&q(s, in_c("c2")).await), vec![key(&a)]);
}

/// `limit` / `more` / `after_cursor` paging visits every row once, in order.
pub async fn pagination(s: &dyn Store) {
    let objs: Vec<NewObject> = (0..25)
        .map(|n| indicator(n, "2024-01-01T00:00:00.000Z", "p"))
        .collect();
    s.insert(&objs, &[]).await.unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = q(
            s,
            Query {
                after_cursor: after,
                limit: Some(10),
                ..all_versions()
            },
        )
        .await;
        pages += 1;
        assert!(page.objects.len() <= 10);
        after = page.objects.last().map(|o| o.cursor).or(after);
        seen.extend(page.objects.iter().cloned());
        if !page.more {
            assert_eq!(page.objects.len(), 5);
            break;
        }
        assert_eq!(page.objects.len(), 10);
    }
    assert_eq!(pages, 3);
    assert_increasing(&seen);
    let ids: Vec<String> = seen.iter().map(|o| o.id.clone()).collect();
    let expected: Vec<String> = objs.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids, expected);
    let exact = q(
        s,
        Query {
            limit: Some(25),
            ..all_versions()
        },
    )
    .await;
    assert!(
        !exact.more,
        "a page holding the last row says there is no more"
    );
    let zero = q(
        s,
        Query {
            limit: Some(0),
            ..all_versions()
        },
    )
    .await;
    assert!(zero.objects.is_empty() && zero.more);
    // Paging by date_added sees the same rows.
    let tenth = seen[9].date_added;
    let rest = q(
        s,
        Query {
            added_after: Some(tenth),
            ..all_versions()
        },
    )
    .await;
    assert_eq!(rest.objects, seen[10..].to_vec());
}

/// Readers paging by cursor while writers commit batches see every committed row
/// exactly once, in cursor order, with no gaps left behind.
pub async fn concurrent_writers_never_skip_or_repeat(s: &dyn Store) {
    const WRITERS: u32 = 4;
    const BATCHES: u32 = 8;
    const PER_BATCH: u32 = 15;
    s.create_collection(&coll("live", None)).await.unwrap();
    let done = AtomicBool::new(false);
    let writers = async {
        let one = |w: u32| async move {
            for b in 0..BATCHES {
                let objs: Vec<NewObject> = (0..PER_BATCH)
                    .map(|i| {
                        let n = (w * BATCHES + b) * PER_BATCH + i;
                        indicator(n, "2024-01-01T00:00:00.000Z", "live")
                    })
                    .collect();
                let mut tx = s.begin().await.unwrap();
                let half = objs.len() / 2;
                tx.insert(&objs[..half], &[cid("live")]).await.unwrap();
                tokio::task::yield_now().await;
                tx.insert(&objs[half..], &[cid("live")]).await.unwrap();
                tx.commit().await.unwrap();
                tokio::task::yield_now().await;
            }
        };
        futures::future::join_all((0..WRITERS).map(one)).await;
        done.store(true, Ordering::SeqCst);
    };
    let reader = |collection: Option<CollectionId>| {
        let done = &done;
        async move {
            let mut seen: Vec<StoredObject> = Vec::new();
            let mut after = None;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = q(
                    s,
                    Query {
                        collection: collection.clone(),
                        after_cursor: after,
                        limit: Some(7),
                        with_body: false,
                        ..all_versions()
                    },
                )
                .await;
                if let Some(last) = page.objects.last() {
                    after = Some(last.cursor);
                }
                let empty = page.objects.is_empty();
                seen.extend(page.objects);
                if empty {
                    if finished {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            seen
        }
    };
    let (_, store_wide, in_coll) = tokio::join!(writers, reader(None), reader(Some(cid("live"))));
    let total = (WRITERS * BATCHES * PER_BATCH) as usize;
    for seen in [&store_wide, &in_coll] {
        assert_increasing(seen);
        let mut ids: Vec<&str> = seen.iter().map(|o| o.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), seen.len(), "a row was seen twice");
        assert_eq!(seen.len(), total, "a committed row was skipped");
    }
}

/// Several batches in one transaction: invisible until commit, then all visible.
pub async fn streamed_transaction(s: &dyn Store) {
    let mut tx = s.begin().await.unwrap();
    let mut all = Vec::new();
    for b in 0..5u32 {
        let objs: Vec<NewObject> = (0..100)
            .map(|i| indicator(b * 100 + i, "2024-01-01T00:00:00.000Z", "tx"))
            .collect();
        let out = tx.insert(&objs, &[]).await.unwrap();
        assert!(out
            .iter()
            .all(|o| matches!(o, InsertOutcome::Inserted { .. })));
        all.extend(out.iter().map(inserted));
        assert!(
            q(s, all_versions()).await.objects.is_empty(),
            "uncommitted rows are invisible"
        );
    }
    // A repeat of an earlier batch in the same transaction is a duplicate.
    let again = tx
        .insert(&[indicator(0, "2024-01-01T00:00:00.000Z", "tx")], &[])
        .await
        .unwrap();
    assert_eq!(again, vec![InsertOutcome::Duplicate]);
    tx.commit().await.unwrap();
    let page = q(s, all_versions()).await;
    assert_eq!(page.objects.len(), 500);
    let got: Vec<(i64, i64)> = page
        .objects
        .iter()
        .map(|o| (o.cursor, o.date_added))
        .collect();
    assert_eq!(got, all, "outcomes report the stored cursor and date_added");
}

/// A rolled-back or dropped transaction leaves nothing behind.
pub async fn rollback_leaves_nothing(s: &dyn Store) {
    s.create_collection(&coll("c1", None)).await.unwrap();
    let objs: Vec<NewObject> = (0..3)
        .map(|n| indicator(n, "2024-01-01T00:00:00.000Z", "r"))
        .collect();
    let mut tx = s.begin().await.unwrap();
    tx.insert(&objs, &[cid("c1")]).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(q(s, all_versions()).await.objects.is_empty());
    {
        let mut tx = s.begin().await.unwrap();
        tx.insert(&objs, &[cid("c1")]).await.unwrap();
        // dropped without commit
    }
    assert!(q(s, all_versions()).await.objects.is_empty());
    let in_c1 = Query {
        collection: Some(cid("c1")),
        ..all_versions()
    };
    assert!(q(s, in_c1.clone()).await.objects.is_empty());
    let out = s.insert(&objs, &[cid("c1")]).await.unwrap();
    assert!(
        out.iter()
            .all(|o| matches!(o, InsertOutcome::Inserted { .. })),
        "{out:?}"
    );
    assert_eq!(q(s, in_c1).await.objects.len(), 3);
    assert_eq!(s.stats().await.unwrap().total_versions, 3);
}

/// delete_object from a collection or the store records tombstones in order.
pub async fn delete_and_tombstones(s: &dyn Store) {
    s.create_collection(&coll("c1", None)).await.unwrap();
    s.create_collection(&coll("c2", None)).await.unwrap();
    let v: Vec<NewObject> = [
        "2024-01-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z",
    ]
    .iter()
    .map(|m| indicator(1, m, "d"))
    .collect();
    let other = indicator(2, "2024-01-01T00:00:00.000Z", "other");
    s.insert(&v, &[cid("c1"), cid("c2")]).await.unwrap();
    s.insert(&[other.clone()], &[cid("c1")]).await.unwrap();
    assert!(s.tombstones(0, 10).await.unwrap().is_empty());

    let n = s
        .delete_object(Some(&cid("c1")), &v[0].id, &VersionFilter::last(), &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let in_c = |c: &str| Query {
        collection: Some(cid(c)),
        ids: vec![v[0].id.clone()],
        ..all_versions()
    };
    assert_eq!(keys(&q(s, in_c("c1")).await), vec![key(&v[0]), key(&v[1])]);
    assert_eq!(q(s, in_c("c2")).await.objects.len(), 3);
    let t = s.tombstones(0, 10).await.unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].id.as_str(), t[0].version_key.as_str()),
        (v[0].id.as_str(), v[2].version_key.as_str())
    );
    assert_eq!(t[0].collection, Some(cid("c1")));
    assert!(t[0].deleted_at > 0);

    // spec_version filter that matches nothing deletes nothing.
    let n = s
        .delete_object(None, &v[0].id, &VersionFilter::default(), &["2.0".into()])
        .await
        .unwrap();
    assert_eq!(n, 0);
    // No selector deletes every version, everywhere.
    let n = s
        .delete_object(None, &v[0].id, &VersionFilter::default(), &[])
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(q(
        s,
        Query {
            ids: vec![v[0].id.clone()],
            ..all_versions()
        }
    )
    .await
    .objects
    .is_empty());
    assert!(q(s, in_c("c2")).await.objects.is_empty());
    assert_eq!(keys(&q(s, all_versions()).await), vec![key(&other)]);
    let t = s.tombstones(0, 10).await.unwrap();
    assert_eq!(t.len(), 4);
    assert!(t.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(t[1..]
        .iter()
        .all(|x| x.collection.is_none() && x.id == v[0].id));
    assert_eq!(s.tombstones(t[0].seq, 2).await.unwrap(), t[1..3].to_vec());
    assert_eq!(
        s.delete_object(None, &id_of("indicator", 77), &VersionFilter::all(), &[])
            .await
            .unwrap(),
        0
    );
    let err = s
        .delete_object(Some(&cid("nope")), &v[0].id, &VersionFilter::all(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                kind: "collection",
                ..
            }
        ),
        "{err:?}"
    );

    // The deleted versions' memberships went with them.
    let by_coll = s.stats().await.unwrap().by_collection;
    let count = |c: &str| {
        by_coll
            .iter()
            .find(|(k, _, _)| k.as_str() == c)
            .map_or(0, |(_, _, n)| *n)
    };
    assert_eq!((count("c1"), count("c2")), (1, 0), "{by_coll:?}");

    // A deleted version can be stored again; it gets a new, larger cursor.
    let before = q(s, all_versions()).await.objects[0].cursor;
    let (again, _) = inserted(&s.insert(&[v[0].clone()], &[]).await.unwrap()[0]);
    assert!(again > before);
}

/// Counts by type and collection, totals and size.
pub async fn stats(s: &dyn Store) {
    let empty = s.stats().await.unwrap();
    assert_eq!((empty.total_versions, empty.distinct_objects), (0, 0));
    assert!(empty.by_type.is_empty());
    s.create_collection(&coll("c1", Some("main")))
        .await
        .unwrap();
    s.create_collection(&coll("c2", None)).await.unwrap();
    let objs = [
        indicator(1, "2024-01-01T00:00:00.000Z", "a"),
        indicator(1, "2024-02-01T00:00:00.000Z", "a"),
        indicator(2, "2024-01-01T00:00:00.000Z", "b"),
        sdo("malware", 3, "2024-01-01T00:00:00.000Z", "m"),
    ];
    s.insert(&objs, &[cid("c1")]).await.unwrap();
    let st = s.stats().await.unwrap();
    assert_eq!(
        st.by_type,
        vec![("indicator".to_owned(), 3), ("malware".to_owned(), 1)]
    );
    assert_eq!(st.total_versions, 4);
    assert_eq!(st.distinct_objects, 3);
    assert_eq!(
        st.by_collection,
        vec![
            (cid("c1"), "main".to_owned(), 4),
            (cid("c2"), "Collection c2".to_owned(), 0)
        ]
    );
    assert!(st.size_bytes > 0);
}

/// TAXII status resources: put (replace), get, expire.
pub async fn statuses(s: &dyn Store) {
    let mut st = StatusRecord {
        id: "2d086da7-4bdc-4f91-900e-d77486753710".into(),
        api_root: "api1".into(),
        owner_org: Some("org-1".into()),
        created: 1_000,
        json: r#"{"id":"2d086da7-4bdc-4f91-900e-d77486753710","status":"pending"}"#.into(),
        owner_instance: Some("instance-a".into()),
        collection: Some("c1".into()),
    };
    assert_eq!(s.get_status(&st.id).await.unwrap(), None);
    s.put_status(&st).await.unwrap();
    assert_eq!(s.get_status(&st.id).await.unwrap().as_ref(), Some(&st));
    st.json = r#"{"id":"2d086da7-4bdc-4f91-900e-d77486753710","status":"complete"}"#.into();
    st.owner_instance = None;
    st.collection = None;
    s.put_status(&st).await.unwrap();
    assert_eq!(s.get_status(&st.id).await.unwrap().as_ref(), Some(&st));
    let newer = StatusRecord {
        id: "s2".into(),
        owner_org: None,
        created: 5_000,
        ..st.clone()
    };
    s.put_status(&newer).await.unwrap();
    assert_eq!(
        s.expire_statuses(1_000).await.unwrap(),
        0,
        "strictly before"
    );
    assert_eq!(s.expire_statuses(1_001).await.unwrap(), 1);
    assert_eq!(s.get_status(&st.id).await.unwrap(), None);
    assert_eq!(s.get_status("s2").await.unwrap().as_ref(), Some(&newer));
}

fn owned_status(id: &str, owner: Option<&str>, created: i64) -> StatusRecord {
    StatusRecord {
        id: id.into(),
        api_root: "api1".into(),
        owner_org: Some("org-1".into()),
        created,
        json: format!(r#"{{"id":"{id}","status":"pending"}}"#),
        owner_instance: owner.map(str::to_owned),
        collection: owner.map(|_| "c1".to_owned()),
    }
}

const NOW: i64 = 1_700_000_000_000_000;
/// Instances not seen since this are gone (30 s before [`NOW`]).
const SEEN_SINCE: i64 = NOW - 30_000_000;

/// Claims of orphaned statuses: only those whose owner is stale or has no liveness
/// row; a live owner's status is untouched; the former owner can no longer save.
pub async fn status_claims_spare_live_owners(s: &dyn Store) {
    s.heartbeat("alive", NOW).await.unwrap();
    s.heartbeat("stale", NOW - 60_000_000).await.unwrap();
    s.heartbeat("sweeper", NOW).await.unwrap();
    s.heartbeat("stale", SEEN_SINCE - 1).await.unwrap();
    for st in [
        owned_status("s-alive", Some("alive"), 1),
        owned_status("s-stale", Some("stale"), 2),
        owned_status("s-gone", Some("gone"), 3),
        owned_status("s-final", None, 4),
        owned_status("s-mine", Some("sweeper"), 5),
    ] {
        s.put_status(&st).await.unwrap();
    }
    let claimed = s
        .claim_orphaned_statuses("sweeper", SEEN_SINCE, 100)
        .await
        .unwrap();
    let ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["s-stale", "s-gone"], "oldest first");
    for c in &claimed {
        assert_eq!(c.owner_instance.as_deref(), Some("sweeper"));
        assert_eq!(c.collection.as_deref(), Some("c1"));
        assert_eq!(c.json, owned_status(&c.id, None, 0).json);
    }
    assert_eq!(
        s.get_status("s-alive").await.unwrap(),
        Some(owned_status("s-alive", Some("alive"), 1)),
        "a live owner's status is not touched"
    );
    // The sweeper is alive too: nobody else may take what it claimed.
    assert!(s
        .claim_orphaned_statuses("other", SEEN_SINCE, 100)
        .await
        .unwrap()
        .is_empty());
    // A limit is honoured.
    s.forget_instance("sweeper").await.unwrap();
    assert_eq!(
        s.claim_orphaned_statuses("other", SEEN_SINCE, 1)
            .await
            .unwrap()
            .len(),
        1
    );

    // Saving is conditional on ownership: the stale owner lost it.
    let mut done = owned_status("s-stale", None, 2);
    done.json = r#"{"id":"s-stale","status":"complete"}"#.into();
    assert!(!s.put_status_if_owner(&done, "stale").await.unwrap());
    let now_owner = s.get_status("s-stale").await.unwrap().unwrap();
    assert_eq!(now_owner.json, owned_status("s-stale", None, 2).json);
    let owner = now_owner.owner_instance.unwrap();
    assert!(s.put_status_if_owner(&done, &owner).await.unwrap());
    let saved = s.get_status("s-stale").await.unwrap().unwrap();
    assert_eq!(saved.json, done.json);
    assert_eq!(saved.owner_instance, None);
    assert_eq!(saved.collection, None);
    assert!(!s.put_status_if_owner(&done, &owner).await.unwrap());

    // An instance that leaves (graceful shutdown) orphans what it still owns at once.
    assert!(s.forget_instance("alive").await.unwrap());
    assert!(!s.forget_instance("alive").await.unwrap());
    s.heartbeat("sweeper", NOW).await.unwrap();
    let claimed = s
        .claim_orphaned_statuses("sweeper", SEEN_SINCE, 100)
        .await
        .unwrap();
    assert!(claimed.iter().any(|c| c.id == "s-alive"), "{claimed:?}");

    assert_eq!(
        s.heartbeat("", NOW).await.unwrap_err().code(),
        "store.invalid_argument"
    );
    assert_eq!(
        s.claim_orphaned_statuses("", NOW, 1)
            .await
            .unwrap_err()
            .code(),
        "store.invalid_argument"
    );
}

/// Two sweepers racing over the same orphans: each status goes to exactly one.
pub async fn status_claim_race_has_one_winner(s: &dyn Store) {
    s.heartbeat("a", NOW).await.unwrap();
    s.heartbeat("b", NOW).await.unwrap();
    for n in 0..60 {
        s.put_status(&owned_status(&format!("s-{n:02}"), Some("dead"), n))
            .await
            .unwrap();
    }
    let (a, b) = tokio::join!(
        s.claim_orphaned_statuses("a", SEEN_SINCE, 1000),
        s.claim_orphaned_statuses("b", SEEN_SINCE, 1000)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all: Vec<&str> = a.iter().chain(&b).map(|c| c.id.as_str()).collect();
    all.sort_unstable();
    let expected: Vec<String> = (0..60).map(|n| format!("s-{n:02}")).collect();
    assert_eq!(all, expected, "each orphan claimed exactly once");
    for (claimed, owner) in [(&a, "a"), (&b, "b")] {
        for c in claimed {
            let st = s.get_status(&c.id).await.unwrap().unwrap();
            assert_eq!(st.owner_instance.as_deref(), Some(owner));
        }
    }
}

/// A status written in a write transaction commits or rolls back with its objects.
pub async fn status_in_write_tx(s: &dyn Store) {
    s.create_collection(&coll("c1", None)).await.unwrap();
    let obj = indicator(1, "2024-01-01T00:00:00.000Z", "st");
    let st = owned_status("s-tx", None, 1);
    let mut tx = s.begin().await.unwrap();
    tx.insert(std::slice::from_ref(&obj), &[cid("c1")])
        .await
        .unwrap();
    tx.put_status(&st).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(s.get_status("s-tx").await.unwrap(), None);
    assert!(q(s, all_versions()).await.objects.is_empty());

    let mut tx = s.begin().await.unwrap();
    tx.insert(std::slice::from_ref(&obj), &[cid("c1")])
        .await
        .unwrap();
    tx.put_status(&st).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.get_status("s-tx").await.unwrap(), Some(st));
    assert_eq!(q(s, all_versions()).await.objects.len(), 1);

    // holds_status names the owner only.
    s.put_status(&owned_status("s-own", Some("me"), 2))
        .await
        .unwrap();
    let mut tx = s.begin().await.unwrap();
    assert!(tx.holds_status("s-own", "me").await.unwrap());
    assert!(!tx.holds_status("s-own", "someone-else").await.unwrap());
    assert!(!tx.holds_status("s-tx", "me").await.unwrap());
    assert!(!tx.holds_status("absent", "me").await.unwrap());
    tx.rollback().await.unwrap();
}

/// A claim racing with the owner's write transaction (the owner already declared gone)
/// waits for it: the claimer then sees the objects the transaction committed. And a
/// transaction starting after the claim learns that it no longer holds the status.
pub async fn status_claim_waits_for_owner_tx(s: &dyn Store) {
    s.create_collection(&coll("c1", None)).await.unwrap();
    s.heartbeat("sweeper", NOW).await.unwrap();
    s.put_status(&owned_status("s-race", Some("owner"), 1))
        .await
        .unwrap();
    let obj = indicator(7, "2024-01-01T00:00:00.000Z", "race");
    let (claimed, seen) = tokio::join!(
        async {
            let mut tx = s.begin().await.unwrap();
            assert!(tx.holds_status("s-race", "owner").await.unwrap());
            tx.insert(std::slice::from_ref(&obj), &[cid("c1")])
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            tx.commit().await.unwrap();
        },
        async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let claimed = s
                .claim_orphaned_statuses("sweeper", SEEN_SINCE, 10)
                .await
                .unwrap();
            let seen = s
                .versions_in_collection(&cid("c1"), std::slice::from_ref(&obj.id))
                .await
                .unwrap();
            (claimed, seen)
        }
    )
    .1;
    assert_eq!(claimed.len(), 1);
    assert_eq!(seen, vec![key(&obj)], "the claim came after the commit");
    let mut tx = s.begin().await.unwrap();
    assert!(!tx.holds_status("s-race", "owner").await.unwrap());
    tx.rollback().await.unwrap();
}

/// (id, version_key) of the versions in one collection, for ids in any number.
pub async fn versions_in_collection(s: &dyn Store) {
    s.create_collection(&coll("c1", None)).await.unwrap();
    s.create_collection(&coll("c2", None)).await.unwrap();
    let objs: Vec<NewObject> = (0..1200)
        .map(|n| indicator(n, "2024-01-01T00:00:00.000Z", "v"))
        .collect();
    let later = indicator(5, "2024-03-01T00:00:00.000Z", "v");
    s.insert(&objs[..1100], &[cid("c1")]).await.unwrap();
    s.insert(std::slice::from_ref(&later), &[cid("c1")])
        .await
        .unwrap();
    s.insert(&objs[1100..], &[cid("c2")]).await.unwrap();
    s.insert(&[sco(1)], &[cid("c1")]).await.unwrap();
    let mut ids: Vec<String> = objs.iter().map(|o| o.id.clone()).collect();
    ids.push(sco(1).id);
    ids.push("indicator--absent".into());
    let mut got = s.versions_in_collection(&cid("c1"), &ids).await.unwrap();
    got.sort();
    let mut expected: Vec<(String, String)> = objs[..1100].iter().map(key).collect();
    expected.push(key(&later));
    expected.push((sco(1).id, String::new()));
    expected.sort();
    assert_eq!(got, expected);
    assert!(s
        .versions_in_collection(&cid("c3"), &ids)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .versions_in_collection(&cid("c1"), &[])
        .await
        .unwrap()
        .is_empty());
}

/// Organisations, users, tokens and permissions, with their unique and reference rules.
pub async fn orgs_users_tokens_permissions(s: &dyn Store) {
    let ncsc = Org {
        id: "org-ncsc".into(),
        name: "National Centre".into(),
        kind: "national-centre".into(),
        sector: None,
        country: Some("JO".into()),
        parent: None,
        created: 1,
    };
    let bank = Org {
        id: "org-bank".into(),
        name: "Bank".into(),
        kind: "constituent".into(),
        sector: Some("finance".into()),
        country: Some("JO".into()),
        parent: Some("org-ncsc".into()),
        created: 2,
    };
    s.create_org(&ncsc).await.unwrap();
    s.create_org(&bank).await.unwrap();
    let err = s.create_org(&ncsc).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::AlreadyExists {
                kind: "organisation",
                ..
            }
        ),
        "{err:?}"
    );
    let err = s
        .create_org(&Org {
            id: "org-x".into(),
            ..ncsc.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "store.already_exists", "same name: {err}");
    let orphan = Org {
        id: "org-y".into(),
        name: "Y".into(),
        parent: Some("nope".into()),
        ..bank.clone()
    };
    let err = s.create_org(&orphan).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(s.get_org("org-bank").await.unwrap().as_ref(), Some(&bank));
    assert_eq!(
        s.get_org("National Centre").await.unwrap().as_ref(),
        Some(&ncsc)
    );
    assert_eq!(s.get_org("nope").await.unwrap(), None);
    assert_eq!(
        s.list_orgs().await.unwrap(),
        vec![bank.clone(), ncsc.clone()]
    );

    let analyst = User {
        id: "u-1".into(),
        org_id: "org-bank".into(),
        username: "soc-analyst".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: "analyst".into(),
        created: 3,
    };
    let admin = User {
        id: "u-2".into(),
        org_id: "org-ncsc".into(),
        username: "admin".into(),
        role: "admin".into(),
        ..analyst.clone()
    };
    s.create_user(&analyst).await.unwrap();
    s.create_user(&admin).await.unwrap();
    let err = s
        .create_user(&User {
            id: "u-3".into(),
            ..analyst.clone()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { kind: "user", .. }),
        "{err:?}"
    );
    let err = s
        .create_user(&User {
            id: "u-4".into(),
            username: "x".into(),
            org_id: "nope".into(),
            ..analyst.clone()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                kind: "organisation",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        s.get_user_by_name("soc-analyst").await.unwrap().as_ref(),
        Some(&analyst)
    );
    assert_eq!(s.get_user_by_name("nobody").await.unwrap(), None);
    assert_eq!(
        s.list_users(None).await.unwrap(),
        vec![admin.clone(), analyst.clone()]
    );
    assert_eq!(
        s.list_users(Some("org-bank")).await.unwrap(),
        vec![analyst.clone()]
    );

    let tok = TokenRecord {
        id: "t-1".into(),
        org_id: "org-bank".into(),
        user_id: Some("u-1".into()),
        role: "analyst".into(),
        label: Some("siem".into()),
        sha256_hex: "ab".repeat(32),
        created: 10,
        revoked: false,
    };
    let peer = TokenRecord {
        id: "t-2".into(),
        org_id: "org-ncsc".into(),
        user_id: None,
        label: None,
        role: "peer".into(),
        sha256_hex: "cd".repeat(32),
        created: 11,
        ..tok.clone()
    };
    s.create_token(&tok).await.unwrap();
    s.create_token(&peer).await.unwrap();
    let err = s
        .create_token(&TokenRecord {
            id: "t-3".into(),
            ..tok.clone()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { kind: "token", .. }),
        "same hash: {err:?}"
    );
    let err = s
        .create_token(&TokenRecord {
            id: "t-4".into(),
            org_id: "nope".into(),
            sha256_hex: "ef".repeat(32),
            ..tok.clone()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(
        s.get_token_by_hash(&"ab".repeat(32))
            .await
            .unwrap()
            .as_ref(),
        Some(&tok)
    );
    assert_eq!(s.get_token_by_hash(&"00".repeat(32)).await.unwrap(), None);
    assert_eq!(
        s.list_tokens(None).await.unwrap(),
        vec![tok.clone(), peer.clone()]
    );
    assert_eq!(
        s.list_tokens(Some("org-ncsc")).await.unwrap(),
        vec![peer.clone()]
    );
    s.revoke_token("t-1").await.unwrap();
    assert!(
        s.get_token_by_hash(&"ab".repeat(32))
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    let err = s.revoke_token("t-9").await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "token", .. }),
        "{err:?}"
    );

    s.create_collection(&coll("c1", None)).await.unwrap();
    let p = Permission {
        collection: cid("c1"),
        org_id: "org-bank".into(),
        can_read: true,
        can_write: false,
    };
    s.set_permission(&p).await.unwrap();
    assert_eq!(
        s.get_permission(&cid("c1"), "org-bank")
            .await
            .unwrap()
            .as_ref(),
        Some(&p)
    );
    let p2 = Permission {
        can_write: true,
        ..p.clone()
    };
    s.set_permission(&p2).await.unwrap();
    let p3 = Permission {
        org_id: "org-ncsc".into(),
        can_read: false,
        ..p.clone()
    };
    s.set_permission(&p3).await.unwrap();
    assert_eq!(
        s.list_permissions(&cid("c1")).await.unwrap(),
        vec![p2.clone(), p3.clone()]
    );
    assert_eq!(s.get_permission(&cid("c1"), "org-x").await.unwrap(), None);
    let err = s
        .set_permission(&Permission {
            org_id: "nope".into(),
            ..p.clone()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = s
        .set_permission(&Permission {
            collection: cid("nope"),
            ..p.clone()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

/// The small key/value state.
pub async fn state(s: &dyn Store) {
    assert_eq!(s.get_state("peer.a.cursor").await.unwrap(), None);
    s.set_state("peer.a.cursor", "41").await.unwrap();
    s.set_state("peer.b.cursor", "7").await.unwrap();
    s.set_state("peer.a.cursor", "42").await.unwrap();
    assert_eq!(
        s.get_state("peer.a.cursor").await.unwrap().as_deref(),
        Some("42")
    );
    assert_eq!(
        s.get_state("peer.b.cursor").await.unwrap().as_deref(),
        Some("7")
    );
    // init_state: the first value stays, concurrent callers all see it.
    assert_eq!(s.init_state("peer.a.cursor", "1").await.unwrap(), "42");
    let (a, b) = tokio::join!(
        s.init_state("node.identity", "first"),
        s.init_state("node.identity", "second")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a == "first" || a == "second");
    assert_eq!(s.get_state("node.identity").await.unwrap(), Some(a));
}

fn hit(sighting: &str, window_start: i64, event: &str, t: i64, sco: &str) -> crate::HitRow {
    crate::HitRow {
        sighting_id: sighting.to_owned(),
        indicator_id: id_of("indicator", 1),
        window_start,
        event_key: event.to_owned(),
        observed_micros: t,
        sco_id: Some(sco.to_owned()),
    }
}

/// Hits are counted once per (window, event); windows keep first/last seen, a bounded
/// list of SCO ids, and a `modified` that strictly increases.
pub async fn hits_counted_once(s: &dyn Store) {
    let (w1, w2) = (id_of("sighting", 1), id_of("sighting", 2));
    let out = s
        .record_hits(
            &[
                hit(&w1, 3600, "file:a:0", 3_700_000_000, "ipv4-addr--1"),
                hit(&w1, 3600, "file:a:10", 3_650_000_000, "ipv4-addr--2"),
                hit(&w1, 3600, "file:a:0", 3_700_000_000, "ipv4-addr--1"),
                hit(&w2, 7200, "file:a:20", 7_300_000_000, "ipv4-addr--1"),
            ],
            1_000,
            2,
        )
        .await
        .unwrap();
    assert_eq!((out.counted, out.duplicates), (3, 1));
    assert_eq!(out.windows.len(), 2);
    let a = &out.windows[0];
    assert_eq!((a.sighting_id.as_str(), a.count), (w1.as_str(), 2));
    assert_eq!((a.first_seen, a.last_seen), (3_650_000_000, 3_700_000_000));
    assert_eq!(a.sco_ids, vec!["ipv4-addr--1", "ipv4-addr--2"]);
    assert_eq!(a.new_sco_ids, a.sco_ids);
    assert!(a.first_version && a.changed);
    assert_eq!((a.created, a.modified), (1_000, 1_000));

    // Redelivery of the same events: nothing changes, no window is returned.
    let again = s
        .record_hits(
            &[hit(&w1, 3600, "file:a:10", 3_650_000_000, "ipv4-addr--2")],
            2_000,
            2,
        )
        .await
        .unwrap();
    assert_eq!((again.counted, again.duplicates), (0, 1));
    // The window comes back unchanged (for a caller that must rewrite its objects).
    assert_eq!(again.windows.len(), 1);
    assert!(!again.windows[0].changed);
    assert_eq!(
        (again.windows[0].count, again.windows[0].modified),
        (2, 1_000)
    );

    // A new event: count grows, the SCO bound holds, modified moves on even when the
    // clock did not (now earlier than the previous modified).
    let more = s
        .record_hits(
            &[hit(&w1, 3600, "file:a:30", 3_600_000_000, "ipv4-addr--3")],
            500,
            2,
        )
        .await
        .unwrap();
    let a = &more.windows[0];
    assert_eq!(a.count, 3);
    assert_eq!(a.first_seen, 3_600_000_000);
    assert_eq!(a.sco_ids.len(), 2);
    assert!(a.new_sco_ids.is_empty());
    assert!(!a.first_version);
    assert_eq!((a.created, a.modified), (1_000, 1_001));

    // Pruning keys of old windows forgets them (only those).
    assert_eq!(s.prune_hit_keys(7200).await.unwrap(), 3);
    let after = s
        .record_hits(
            &[hit(&w2, 7200, "file:a:20", 7_300_000_000, "ipv4-addr--1")],
            3_000,
            2,
        )
        .await
        .unwrap();
    assert_eq!(after.duplicates, 1);
    assert!(s.record_hits(&[], 1, 1).await.unwrap().windows.is_empty());
}

/// Two writers counting overlapping redeliveries concurrently count each event once.
pub async fn hits_concurrent_workers(s: &dyn Store) {
    let w = id_of("sighting", 3);
    let batch = |from: u32, to: u32| -> Vec<crate::HitRow> {
        (from..to)
            .map(|n| hit(&w, 0, &format!("nats:s:{n}"), i64::from(n), "ipv4-addr--1"))
            .collect()
    };
    let (b1, b2) = (batch(0, 300), batch(200, 500));
    let (r1, r2) = tokio::join!(s.record_hits(&b1, 10, 10), s.record_hits(&b2, 10, 10));
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1.counted + r2.counted, 500);
    assert_eq!(r1.duplicates + r2.duplicates, 100);
    let last = s
        .record_hits(&[hit(&w, 0, "nats:s:999", 999, "ipv4-addr--1")], 10, 10)
        .await
        .unwrap();
    assert_eq!(last.windows[0].count, 501);
}

/// Records are upserted and listed by kind and tag, newest first; the feed is
/// append-only with increasing sequences.
/// A batch of telemetry commits as one write transaction: its hit counts, windows,
/// alert record (with its feed entry), objects and the source's read position commit
/// together, or (rolled back, or dropped) leave nothing, so a redelivery counts again.
pub async fn hits_records_state_in_write_tx(s: &dyn Store) {
    let w = id_of("sighting", 7);
    let hits = [
        hit(&w, 3600, "file:x:0", 3_700_000_000, "ipv4-addr--1"),
        hit(&w, 3600, "file:x:40", 3_700_000_001, "ipv4-addr--2"),
    ];
    let rec = crate::RecordRow {
        kind: "alert".into(),
        id: "alert-7".into(),
        tag: "new".into(),
        body: r#"{"count":2}"#.into(),
        updated: 5,
    };
    let obj = indicator(7, "2024-01-01T00:00:00.000Z", "in tx");
    let feed_before = s.feed_after(0, 100).await.unwrap().len();
    for commit in [false, true] {
        let mut tx = s.begin().await.unwrap();
        let out = tx.record_hits(&hits, 1_000, 10).await.unwrap();
        assert_eq!((out.counted, out.duplicates), (2, 0), "commit={commit}");
        assert!(out.windows[0].first_version);
        assert!(tx.get_record("alert", "alert-7").await.unwrap().is_none());
        let seq = tx.put_record(&rec, Some("alert")).await.unwrap();
        assert!(seq.is_some());
        // The transaction reads its own write.
        assert_eq!(
            tx.get_record("alert", "alert-7").await.unwrap(),
            Some(rec.clone())
        );
        tx.insert(std::slice::from_ref(&obj), &[]).await.unwrap();
        tx.set_state("source.file:x", r#"{"offset":80}"#)
            .await
            .unwrap();
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
            assert!(s.get_record("alert", "alert-7").await.unwrap().is_none());
            assert_eq!(s.get_state("source.file:x").await.unwrap(), None);
            assert_eq!(s.feed_after(0, 100).await.unwrap().len(), feed_before);
            assert!(q(s, all_versions()).await.objects.is_empty());
        }
    }
    assert_eq!(s.get_record("alert", "alert-7").await.unwrap(), Some(rec));
    assert_eq!(
        s.get_state("source.file:x").await.unwrap().as_deref(),
        Some(r#"{"offset":80}"#)
    );
    assert_eq!(s.feed_after(0, 100).await.unwrap().len(), feed_before + 1);
    assert_eq!(q(s, all_versions()).await.objects.len(), 1);
    // Committed: the same events again are duplicates, in a transaction or not.
    let mut tx = s.begin().await.unwrap();
    let again = tx.record_hits(&hits, 2_000, 10).await.unwrap();
    assert_eq!((again.counted, again.duplicates), (0, 2));
    assert!(!again.windows[0].changed);
    drop(tx);
    let again = s.record_hits(&hits, 2_000, 10).await.unwrap();
    assert_eq!((again.counted, again.duplicates), (0, 2));

    // Many hits in one call (more than one statement's worth): every key counted
    // once, repeats inside the batch are duplicates, each window once in order.
    let windows: Vec<String> = (0..3).map(|i| id_of("sighting", 100 + i)).collect();
    let mut many = Vec::new();
    for i in 0..450u32 {
        let w = &windows[(i % 3) as usize];
        many.push(hit(
            w,
            7200,
            &format!("nats:s:{i}"),
            7_300_000_000 + i64::from(i),
            &format!("ipv4-addr--{}", i % 7),
        ));
    }
    for i in 0..50u32 {
        let w = &windows[(i % 3) as usize];
        many.push(hit(
            w,
            7200,
            &format!("nats:s:{i}"),
            7_300_000_000,
            "ipv4-addr--0",
        ));
    }
    let mut tx = s.begin().await.unwrap();
    let out = tx.record_hits(&many, 3_000, 5).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((out.counted, out.duplicates), (450, 50));
    let got: Vec<(&str, i64, usize)> = out
        .windows
        .iter()
        .map(|w| (w.sighting_id.as_str(), w.count, w.sco_ids.len()))
        .collect();
    assert_eq!(
        got,
        vec![
            (windows[0].as_str(), 150, 5),
            (windows[1].as_str(), 150, 5),
            (windows[2].as_str(), 150, 5)
        ]
    );

    // Records by the batch: a repeated id keeps its last row, each row is fed in
    // order, and the transaction reads them back.
    let row = |id: &str, tag: &str| crate::RecordRow {
        kind: "alert".into(),
        id: id.into(),
        tag: tag.into(),
        body: format!(r#"{{"id":"{id}","tag":"{tag}"}}"#),
        updated: 9,
    };
    let before = s.feed_after(0, 1000).await.unwrap();
    let mut tx = s.begin().await.unwrap();
    let last = tx
        .put_records(
            &[row("b1", "new"), row("b2", "new"), row("b1", "closed")],
            Some("alert"),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(tx
        .put_records(&[row("b3", "new")], None)
        .await
        .unwrap()
        .is_none());
    let mut read = tx
        .get_records("alert", &["b1", "b2", "b3", "nope"])
        .await
        .unwrap();
    read.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        read,
        vec![row("b1", "closed"), row("b2", "new"), row("b3", "new")]
    );
    tx.commit().await.unwrap();
    let after = s.feed_after(0, 1000).await.unwrap();
    let fed: Vec<&str> = after[before.len()..]
        .iter()
        .map(|f| f.ref_id.as_str())
        .collect();
    assert_eq!(fed, vec!["b1", "b2", "b1"]);
    assert_eq!(after.last().unwrap().seq, last);
}

pub async fn records_and_feed(s: &dyn Store) {
    let rec = |id: &str, tag: &str, updated: i64| crate::RecordRow {
        kind: "alert".into(),
        id: id.into(),
        tag: tag.into(),
        body: format!(r#"{{"id":"{id}","state":"{tag}"}}"#),
        updated,
    };
    let s1 = s
        .put_record(&rec("a1", "new", 10), Some("alert"))
        .await
        .unwrap();
    let s2 = s
        .put_record(&rec("a2", "new", 20), Some("alert"))
        .await
        .unwrap();
    assert!(s
        .put_record(&rec("a3", "closed", 30), None)
        .await
        .unwrap()
        .is_none());
    let s3 = s
        .put_record(&rec("a1", "acknowledged", 40), Some("alert"))
        .await
        .unwrap();
    let (s1, s2, s3) = (s1.unwrap(), s2.unwrap(), s3.unwrap());
    assert!(s1 < s2 && s2 < s3);

    let all = s.list_records("alert", None, 10).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a3", "a2"]);
    let new = s.list_records("alert", Some("new"), 10).await.unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].id, "a2");
    assert_eq!(s.list_records("alert", None, 1).await.unwrap().len(), 1);
    assert!(s
        .list_records("webhook", None, 10)
        .await
        .unwrap()
        .is_empty());
    let a1 = s.get_record("alert", "a1").await.unwrap().unwrap();
    assert_eq!(a1.tag, "acknowledged");
    assert!(s.get_record("alert", "nope").await.unwrap().is_none());
    assert!(s.delete_record("alert", "a3").await.unwrap());
    assert!(!s.delete_record("alert", "a3").await.unwrap());

    let s4 = s.append_feed("delivery", "a2", "{}").await.unwrap();
    assert!(s4 > s3);
    let feed = s.feed_after(s1, 10).await.unwrap();
    let seqs: Vec<i64> = feed.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [s2, s3, s4]);
    assert_eq!(feed[1].ref_id, "a1");
    assert!(feed[1].body.contains("acknowledged"));
    assert_eq!(s.feed_after(s1, 1).await.unwrap().len(), 1);
    assert!(s.feed_after(s4, 10).await.unwrap().is_empty());
}

/// stream() over 10,000 rows returns them all in cursor order; `limit` caps it.
pub async fn stream_large(s: &dyn Store) {
    const N: u32 = 10_000;
    let mut tx = s.begin().await.unwrap();
    for b in 0..(N / 1000) {
        let objs: Vec<NewObject> = (0..1000)
            .map(|i| {
                let n = b * 1000 + i;
                if n % 10 == 0 {
                    sdo("malware", n, "2024-01-01T00:00:00.000Z", "s")
                } else {
                    indicator(n, "2024-01-01T00:00:00.000Z", "s")
                }
            })
            .collect();
        tx.insert(&objs, &[]).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut stream = s.stream(all_versions());
    let mut n = 0usize;
    let mut last = i64::MIN;
    while let Some(o) = stream.next().await {
        let o = o.unwrap();
        assert!(o.cursor > last, "stream order");
        assert!(!o.json.is_empty());
        last = o.cursor;
        n += 1;
    }
    assert_eq!(n, N as usize);
    let capped: Vec<_> = s
        .stream(Query {
            limit: Some(2_500),
            ..all_versions()
        })
        .collect()
        .await;
    assert_eq!(capped.len(), 2_500);
    let malware: Vec<_> = s
        .stream(Query {
            types: vec!["malware".into()],
            with_body: false,
            ..all_versions()
        })
        .collect()
        .await;
    assert_eq!(malware.len(), (N / 10) as usize);
    assert!(malware.iter().all(|r| r
        .as_ref()
        .is_ok_and(|o| o.type_name == "malware" && o.json.is_empty())));
}

// ----- federation -----

fn meta(id: &str, json: &str, expires: Option<i64>, updated: i64) -> crate::MetaRow {
    crate::MetaRow {
        id: id.into(),
        json: json.into(),
        expires,
        updated,
    }
}

fn sorted_meta(mut rows: Vec<crate::MetaRow>) -> Vec<crate::MetaRow> {
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

/// Metadata is upserted by id, read by ids (missing ones left out), deleted, and
/// listed by expiry (at or before `now`, soonest first, capped).
pub async fn meta_crud_and_expiry(s: &dyn Store) {
    let a = meta("indicator--a", r#"{"tlp":"green"}"#, Some(100), 1);
    let b = meta("indicator--b", r#"{"tlp":"amber"}"#, None, 1);
    let c = meta("indicator--c", "{}", Some(50), 1);
    s.put_meta(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    s.put_meta(&[]).await.unwrap();
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let got = s
        .get_meta(&ids(&["indicator--a", "indicator--b", "indicator--x"]))
        .await
        .unwrap();
    assert_eq!(sorted_meta(got), vec![a.clone(), b.clone()]);
    assert!(s.get_meta(&[]).await.unwrap().is_empty());

    // Replace: new JSON, expiry removed.
    let a2 = meta("indicator--a", r#"{"tlp":"red"}"#, None, 2);
    s.put_meta(std::slice::from_ref(&a2)).await.unwrap();
    let got = s.get_meta(&ids(&["indicator--a"])).await.unwrap();
    assert_eq!(got, vec![a2]);

    // Expiry: at or before now; soonest first; limit honoured.
    let d = meta("indicator--d", "{}", Some(10), 1);
    s.put_meta(std::slice::from_ref(&d)).await.unwrap();
    assert_eq!(s.expired_meta(9, 10).await.unwrap(), Vec::<String>::new());
    assert_eq!(
        s.expired_meta(10, 10).await.unwrap(),
        ids(&["indicator--d"])
    );
    assert_eq!(
        s.expired_meta(1_000, 10).await.unwrap(),
        ids(&["indicator--d", "indicator--c"])
    );
    assert_eq!(
        s.expired_meta(1_000, 1).await.unwrap(),
        ids(&["indicator--d"])
    );

    assert!(s.delete_meta("indicator--d").await.unwrap());
    assert!(!s.delete_meta("indicator--d").await.unwrap());
    assert_eq!(
        s.expired_meta(1_000, 10).await.unwrap(),
        ids(&["indicator--c"])
    );

    // More ids than one statement takes.
    let many: Vec<crate::MetaRow> = (0..1_200)
        .map(|n| meta(&format!("indicator--m{n:05}"), "{}", None, 3))
        .collect();
    s.put_meta(&many).await.unwrap();
    let wanted: Vec<String> = many.iter().map(|m| m.id.clone()).collect();
    assert_eq!(sorted_meta(s.get_meta(&wanted).await.unwrap()), many);
}

/// Metadata written in a write transaction commits with it, and vanishes with it on
/// rollback or drop.
pub async fn meta_in_rolled_back_tx(s: &dyn Store) {
    let obj = indicator(1, "2024-01-01T00:00:00.000Z", "m");
    let m = meta(&obj.id, r#"{"tlp":"amber"}"#, Some(5), 1);
    let mut tx = s.begin().await.unwrap();
    tx.insert(std::slice::from_ref(&obj), &[]).await.unwrap();
    tx.put_meta(std::slice::from_ref(&m)).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(s
        .get_meta(std::slice::from_ref(&obj.id))
        .await
        .unwrap()
        .is_empty());
    assert!(s.expired_meta(i64::MAX, 10).await.unwrap().is_empty());
    assert!(q(s, all_versions()).await.objects.is_empty());
    {
        let mut tx = s.begin().await.unwrap();
        tx.put_meta(std::slice::from_ref(&m)).await.unwrap();
        // dropped without commit
    }
    assert!(s
        .get_meta(std::slice::from_ref(&obj.id))
        .await
        .unwrap()
        .is_empty());

    let mut tx = s.begin().await.unwrap();
    tx.insert(std::slice::from_ref(&obj), &[]).await.unwrap();
    tx.put_meta(std::slice::from_ref(&m)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.get_meta(std::slice::from_ref(&obj.id)).await.unwrap(),
        vec![m]
    );
    assert_eq!(q(s, all_versions()).await.objects.len(), 1);
}

fn egress(peer: &str, n: u32, action: &str) -> crate::EgressEntry {
    crate::EgressEntry {
        peer: peer.into(),
        object_id: id_of("indicator", n),
        version_key: if action == "sent" {
            format!("2024-01-01T00:00:00.{n:06}Z")
        } else {
            String::new()
        },
        content_hash: if action == "sent" {
            format!("{n:064x}")
        } else {
            String::new()
        },
        agreement_id: "agreement--1".into(),
        agreement_version: i64::from(n % 3),
        action: action.into(),
        detail: if n.is_multiple_of(2) {
            String::new()
        } else {
            format!(r#"{{"reason":"r{n}"}}"#)
        },
    }
}

/// Every row of the ledger, read in pages.
async fn whole_ledger(s: &dyn Store) -> Vec<crate::EgressRow> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |r: &crate::EgressRow| r.seq);
        let page = s.egress_after(after, None, 7).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Batches appended one after another form one chain from seq 1 that verifies; the
/// returned rows are the stored ones; `at` never decreases even when the clock does.
pub async fn egress_chain_across_batches(s: &dyn Store) {
    use crate::{verify_egress_chain, GENESIS_HASH};
    assert!(s.append_egress(&[], 5).await.unwrap().is_empty());
    assert!(whole_ledger(s).await.is_empty());
    let b1: Vec<_> = (0..3).map(|n| egress("identity--p1", n, "sent")).collect();
    let b2 = vec![egress("identity--p2", 3, "recall")];
    let b3: Vec<_> = (4..9)
        .map(|n| egress("identity--p1", n, "delete"))
        .collect();
    let r1 = s.append_egress(&b1, 1_000).await.unwrap();
    let r2 = s.append_egress(&b2, 2_000).await.unwrap();
    // The clock went backwards: `at` stays at the last row's.
    let r3 = s.append_egress(&b3, 1_500).await.unwrap();
    assert_eq!(r1.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(r2[0].seq, 4);
    assert_eq!(
        r3.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [5, 6, 7, 8, 9]
    );
    assert_eq!(r1[0].prev_hash, GENESIS_HASH);
    assert!(r1.iter().all(|r| r.at == 1_000));
    assert_eq!(r2[0].at, 2_000);
    assert!(r3.iter().all(|r| r.at == 2_000));
    assert_eq!(r1[1].entry, b1[1]);
    assert_eq!(r2[0].prev_hash, r1[2].hash);

    let all = whole_ledger(s).await;
    let returned: Vec<_> = r1.iter().chain(&r2).chain(&r3).cloned().collect();
    assert_eq!(all, returned, "stored rows are the rows returned");
    let last = verify_egress_chain(GENESIS_HASH, &all).unwrap();
    assert_eq!(last, all[8].hash);
    // Verifying continues from a checkpoint.
    let tail = s.egress_after(4, None, 100).await.unwrap();
    assert_eq!(verify_egress_chain(&all[3].hash, &tail).unwrap(), last);
    assert_eq!(verify_egress_chain(&last, &[]).unwrap(), last);
    // A later batch continues the same chain.
    let r4 = s
        .append_egress(&[egress("identity--p3", 9, "sent")], 3_000)
        .await
        .unwrap();
    assert_eq!((r4[0].seq, r4[0].prev_hash.as_str()), (10, last.as_str()));
    verify_egress_chain(GENESIS_HASH, &whole_ledger(s).await).unwrap();
}

/// Edits, a recomputed hash, a removed row, reordered rows and a wrong starting point
/// are each reported at the first bad seq.
pub async fn egress_tampering_detected(s: &dyn Store) {
    use crate::{verify_egress_chain, GENESIS_HASH};
    let entries: Vec<_> = (0..6).map(|n| egress("identity--p1", n, "sent")).collect();
    s.append_egress(&entries, 42).await.unwrap();
    let rows = whole_ledger(s).await;
    verify_egress_chain(GENESIS_HASH, &rows).unwrap();

    let seq_of = |rows: &[crate::EgressRow]| verify_egress_chain(GENESIS_HASH, rows).unwrap_err();

    // A field edited in place: its own hash no longer matches.
    for edit in [
        |r: &mut crate::EgressRow| r.entry.peer = "identity--other".into(),
        |r: &mut crate::EgressRow| r.entry.content_hash = "00".repeat(32),
        |r: &mut crate::EgressRow| r.entry.action = "recall".into(),
        |r: &mut crate::EgressRow| r.entry.agreement_version += 1,
        |r: &mut crate::EgressRow| r.entry.detail.push(' '),
        |r: &mut crate::EgressRow| r.at += 1,
    ] {
        let mut t = rows.clone();
        edit(&mut t[2]);
        let err = seq_of(&t);
        assert_eq!(err.seq, 3, "{err}");
        assert!(err.reason.contains("hash"), "{err}");
        assert!(
            err.to_string().starts_with("egress ledger entry #3: "),
            "{err}"
        );
        assert_eq!(err.code(), "store.egress_chain");
    }
    // Bytes shifted between two fields change the hash (length prefixes).
    let mut t = rows.clone();
    let shifted = format!("{}{}", t[1].entry.object_id, t[1].entry.version_key);
    t[1].entry.object_id = shifted;
    t[1].entry.version_key = String::new();
    assert_eq!(seq_of(&t).seq, 2);
    // The edited row's hash recomputed: the next row's link breaks.
    let mut t = rows.clone();
    t[2].entry.object_id = "indicator--forged".into();
    t[2].hash = t[2].expected_hash();
    let err = seq_of(&t);
    assert_eq!(err.seq, 4, "{err}");
    assert!(err.reason.contains("prev_hash"), "{err}");
    // A row removed: the gap is reported at the row after it.
    let mut t = rows.clone();
    t.remove(3);
    assert_eq!(seq_of(&t).seq, 5);
    // The first row removed: the chain no longer starts at seq 1.
    assert_eq!(seq_of(&rows[1..]).seq, 2);
    // Two rows swapped.
    let mut t = rows.clone();
    t.swap(1, 2);
    assert_eq!(seq_of(&t).seq, 3);
    // Renumbered after a removal, hashes recomputed from there on except the link.
    let mut t = rows.clone();
    t.remove(1);
    for (i, r) in t.iter_mut().enumerate().skip(1) {
        r.seq = i as i64 + 1;
        r.hash = r.expected_hash();
    }
    assert_eq!(seq_of(&t).seq, 2);
    // Continuing from the wrong checkpoint.
    let err = verify_egress_chain(&rows[1].hash, &rows[3..]).unwrap_err();
    assert_eq!(err.seq, 4);
}

/// Two appenders, each making 50 single-entry appends at once, build one unbroken
/// chain of 100 rows.
pub async fn egress_concurrent_appenders(s: &dyn Store) {
    use crate::{verify_egress_chain, GENESIS_HASH};
    let appender = |peer: &'static str| async move {
        let mut seqs = Vec::new();
        for n in 0..50 {
            let rows = s
                .append_egress(&[egress(peer, n, "sent")], 7)
                .await
                .unwrap();
            seqs.push(rows[0].seq);
            tokio::task::yield_now().await;
        }
        seqs
    };
    let (a, b) = tokio::join!(appender("identity--a"), appender("identity--b"));
    let mut seqs: Vec<i64> = a.iter().chain(&b).copied().collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<i64>>());
    let all = whole_ledger(s).await;
    assert_eq!(all.len(), 100);
    verify_egress_chain(GENESIS_HASH, &all).unwrap();
}

/// egress_after pages after a seq, over all peers or one peer's rows only.
pub async fn egress_after_by_peer(s: &dyn Store) {
    let entries: Vec<_> = (0..10u32)
        .map(|n| {
            egress(
                if n.is_multiple_of(3) {
                    "identity--p1"
                } else {
                    "identity--p2"
                },
                n,
                "sent",
            )
        })
        .collect();
    s.append_egress(&entries, 1).await.unwrap();
    let seqs = |rows: Vec<crate::EgressRow>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(s.egress_after(0, None, 100).await.unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(s.egress_after(7, None, 100).await.unwrap()),
        [8, 9, 10]
    );
    assert_eq!(seqs(s.egress_after(2, None, 3).await.unwrap()), [3, 4, 5]);
    let p1 = s.egress_after(0, Some("identity--p1"), 100).await.unwrap();
    assert_eq!(seqs(p1.clone()), [1, 4, 7, 10]);
    assert!(p1.iter().all(|r| r.entry.peer == "identity--p1"));
    assert_eq!(
        seqs(s.egress_after(4, Some("identity--p1"), 100).await.unwrap()),
        [7, 10]
    );
    assert_eq!(
        seqs(s.egress_after(0, Some("identity--p2"), 2).await.unwrap()),
        [2, 3]
    );
    assert!(s
        .egress_after(0, Some("identity--none"), 100)
        .await
        .unwrap()
        .is_empty());
    assert!(s.egress_after(10, None, 100).await.unwrap().is_empty());
    assert!(s.egress_after(0, None, 0).await.unwrap().is_empty());
}

pub async fn egress_of_objects_reads_only_theirs(s: &dyn Store) {
    // 250 objects (more than one statement's worth of ids), two peers, sent then
    // recalled: every row of the asked objects, oldest first, and nothing else.
    let mut entries = Vec::new();
    for n in 0..250u32 {
        let mut e = egress("identity--p1", n, "sent");
        e.object_id = format!("indicator--obj-{n}");
        entries.push(e);
    }
    s.append_egress(&entries, 1).await.unwrap();
    let mut later = Vec::new();
    for n in [3u32, 120, 249] {
        let mut e = egress("identity--p2", n, "sent");
        e.object_id = format!("indicator--obj-{n}");
        later.push(e);
        let mut r = egress("identity--p1", n, "recall");
        r.object_id = format!("indicator--obj-{n}");
        later.push(r);
    }
    s.append_egress(&later, 2).await.unwrap();
    let mut ask: Vec<String> = (0..250u32)
        .filter(|n| n % 5 == 0)
        .map(|n| format!("indicator--obj-{n}"))
        .collect();
    ask.extend(["indicator--obj-3", "indicator--obj-249", "indicator--obj-3"].map(String::from));
    ask.push("indicator--never-sent".into());
    let rows = s.egress_of_objects(&ask).await.unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "oldest first, each row once");
    // 50 multiples of 5 (one row each, obj-120 has 3) + obj-3 (3 rows) + obj-249 (3 rows).
    assert_eq!(rows.len(), 50 + 2 + 3 + 3);
    assert!(rows.iter().all(|r| ask.contains(&r.entry.object_id)));
    fn of<'a>(rows: &'a [crate::EgressRow], id: &str) -> Vec<(&'a str, &'a str)> {
        rows.iter()
            .filter(|r| r.entry.object_id == id)
            .map(|r| (r.entry.peer.as_str(), r.entry.action.as_str()))
            .collect()
    }
    assert_eq!(
        of(&rows, "indicator--obj-3"),
        [
            ("identity--p1", "sent"),
            ("identity--p2", "sent"),
            ("identity--p1", "recall")
        ]
    );
    assert!(s.egress_of_objects(&[]).await.unwrap().is_empty());

    // Enough further rows for a batch of `egress_by_object` (rows before it are looked
    // up there, rows after it in the ledger's tail), then more rows about obj-3: the
    // same answers, every row once, oldest first.
    let filler: Vec<crate::EgressEntry> = (0..crate::sql::EGRESS_BY_OBJECT_BATCH)
        .map(|n| {
            let mut e = egress("identity--p1", 7, "sent");
            e.object_id = format!("indicator--filler-{n}");
            e
        })
        .collect();
    for chunk in filler.chunks(20_000) {
        s.append_egress(chunk, 3).await.unwrap();
    }
    let mut last = egress("identity--p2", 3, "recall");
    last.object_id = "indicator--obj-3".into();
    s.append_egress(&[last], 4).await.unwrap();
    let again = s.egress_of_objects(&ask).await.unwrap();
    assert_eq!(again.len(), rows.len() + 1);
    assert_eq!(&again[..rows.len()], &rows[..]);
    assert_eq!(
        of(&again, "indicator--obj-3"),
        [
            ("identity--p1", "sent"),
            ("identity--p2", "sent"),
            ("identity--p1", "recall"),
            ("identity--p2", "recall")
        ]
    );
    let some_filler = s
        .egress_of_objects(&[
            "indicator--filler-0".into(),
            "indicator--filler-99999".into(),
        ])
        .await
        .unwrap();
    assert_eq!(
        some_filler
            .iter()
            .map(|r| r.entry.object_id.as_str())
            .collect::<Vec<_>>(),
        ["indicator--filler-0", "indicator--filler-99999"]
    );
}
