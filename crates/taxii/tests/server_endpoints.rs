//! Every TAXII 2.1 endpoint and filter of the server, in-process through the router.

// The helpers below the tests panic on broken fixtures, like the tests themselves.
#![allow(clippy::unwrap_used)]

mod server_support;

use axum::http::Method;
use serde_json::json;
use server_support::*;

#[tokio::test]
async fn discovery_api_roots_and_collections() {
    let n = node().await;
    let r = n
        .send(
            Method::GET,
            "/taxii2/",
            Some(&n.basic),
            &[("host", "127.0.0.1:9")],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type").as_deref(), Some(TAXII));
    let j = r.json();
    assert_eq!(j["default"], "http://127.0.0.1:9/api/");
    assert_eq!(
        j["api_roots"],
        json!(["http://127.0.0.1:9/api/", "http://127.0.0.1:9/api2/"])
    );

    let j = n.get("/api/").await.json();
    assert_eq!(j["versions"], json!([TAXII]));
    assert!(j["max_content_length"].as_u64().unwrap() > 0);
    n.get("/nope/").await.assert_error(404);

    // Centre sees its three collections in api, bank only the shared one.
    let j = n.get("/api/collections/").await.json();
    let mut ids: Vec<&str> = j["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![SHARED, SECRET, DROPBOX];
    want.sort();
    assert_eq!(ids, want);
    let drop = j["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == DROPBOX)
        .unwrap();
    assert_eq!(
        (drop["can_read"].as_bool(), drop["can_write"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(
        drop["media_types"],
        json!(["application/stix+json;version=2.1"])
    );
    let j = n.get_as(&n.bank_token, "/api/collections/").await.json();
    assert_eq!(j["collections"].as_array().unwrap().len(), 1);
    assert_eq!(j["collections"][0]["can_write"], false);
    // No visible collection: the list is omitted, not [].
    let r = n.get_as(&n.outsider_token, "/api/collections/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({}));

    // One collection, by id or alias; hidden ones are 404; other root's are 404 here.
    let j = n.get(&format!("/api/collections/{SHARED}/")).await.json();
    assert_eq!(j["title"], "shared collection");
    assert_eq!(j["alias"], "shared");
    assert_eq!(n.get("/api/collections/shared/").await.json()["id"], SHARED);
    n.get_as(&n.bank_token, &format!("/api/collections/{SECRET}/"))
        .await
        .assert_error(404);
    n.get(&format!("/api/collections/{OTHER_ROOT}/"))
        .await
        .assert_error(404);
    assert_eq!(
        n.get(&format!("/api2/collections/{OTHER_ROOT}/"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn authentication_and_authorisation() {
    let n = node().await;
    let r = n.send(Method::GET, "/taxii2/", None, &[], None).await;
    r.assert_error(401);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("Basic realm=") && challenge.contains("Bearer"),
        "{challenge}"
    );
    n.send(Method::GET, "/taxii2/", Some("Bearer nope"), &[], None)
        .await
        .assert_error(401);
    n.send(
        Method::GET,
        "/taxii2/",
        Some(&basic("analyst1", "wrong password")),
        &[],
        None,
    )
    .await
    .assert_error(401);
    n.send(
        Method::GET,
        "/taxii2/",
        Some(&basic("ghost", "x")),
        &[],
        None,
    )
    .await
    .assert_error(401);
    n.send(Method::GET, "/taxii2/", Some("Digest abc"), &[], None)
        .await
        .assert_error(401);
    assert_eq!(
        n.send(Method::GET, "/taxii2/", Some(&n.basic), &[], None)
            .await
            .status,
        200
    );

    // Revoked tokens stop working (after the short credential cache).
    let tokens = n.store.list_tokens(None).await.unwrap();
    let outsider = tokens
        .iter()
        .find(|t| t.sha256_hex == taxii::server::auth::token_hash(&n.outsider_token))
        .unwrap();
    n.store.revoke_token(&outsider.id).await.unwrap();
    let fresh = node_reusing(&n).await;
    fresh
        .get_as(&n.outsider_token, "/taxii2/")
        .await
        .assert_error(401);

    let obj = indicator(1, "2024-01-01T00:00:00.000Z");
    let body = json!({ "objects": [obj] }).to_string();
    // Bank may read SHARED but not write: 403.
    let r = n
        .send(
            Method::POST,
            &format!("/api/collections/{SHARED}/objects/"),
            Some(&bearer(&n.bank_token)),
            &[],
            Some(body.clone()),
        )
        .await;
    r.assert_error(403);
    // Reader role of a writing org: 403.
    n.send(
        Method::POST,
        &format!("/api/collections/{SHARED}/objects/"),
        Some(&bearer(&n.reader_token)),
        &[],
        Some(body.clone()),
    )
    .await
    .assert_error(403);
    // Write-only collection: POST works, GET objects is 403.
    let r = n
        .send(
            Method::POST,
            &format!("/api/collections/{DROPBOX}/objects/"),
            Some(&n.basic),
            &[],
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    n.get(&format!("/api/collections/{DROPBOX}/objects/"))
        .await
        .assert_error(403);
    n.get(&format!("/api/collections/{DROPBOX}/manifest/"))
        .await
        .assert_error(403);
    // No right at all: 404 everywhere (existence is not revealed).
    n.get_as(
        &n.outsider_token,
        &format!("/api/collections/{SECRET}/objects/"),
    )
    .await
    .assert_error(401);
    n.get_as(
        &n.bank_token,
        &format!("/api/collections/{SECRET}/objects/"),
    )
    .await
    .assert_error(404);
    n.send(
        Method::POST,
        &format!("/api/collections/{SECRET}/objects/"),
        Some(&bearer(&n.bank_token)),
        &[],
        Some(body),
    )
    .await
    .assert_error(404);
    // Delete needs write and an admin/analyst role.
    n.get_as(
        &n.bank_token,
        &format!("/api/collections/{SHARED}/objects/{}/", obj_id(1)),
    )
    .await
    .assert_error(404);
    let r = n
        .send(
            Method::DELETE,
            &format!("/api/collections/{SHARED}/objects/{}/", obj_id(1)),
            Some(&bearer(&n.reader_token)),
            &[],
            None,
        )
        .await;
    r.assert_error(403);
    // A reader of a write-only collection has no right left on it: 404.
    n.get_as(&n.reader_token, &format!("/api/collections/{DROPBOX}/"))
        .await
        .assert_error(404);
}

/// A second router over the same store (fresh credential cache).
async fn node_reusing(n: &Node) -> Node {
    let state = taxii::server::AppState::new(n.store.clone(), n.state.config.clone())
        .await
        .unwrap();
    Node {
        _dir: tempfile::tempdir().unwrap(),
        store: n.store.clone(),
        app: taxii::server::router(state.clone()),
        state,
        centre_token: n.centre_token.clone(),
        reader_token: n.reader_token.clone(),
        bank_token: n.bank_token.clone(),
        outsider_token: n.outsider_token.clone(),
        bank_reader: n.bank_reader.clone(),
        basic: n.basic.clone(),
    }
}

fn obj_id(n: u32) -> String {
    indicator(n, "2024-01-01T00:00:00.000Z")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn media_types_limits_and_protocol_errors() {
    let mut cfg =
        taxii::server::ServerConfig::with_roots(["api", "api2"]).with_max_content_length(2000);
    cfg.title = "limits".into();
    let n = node_with(cfg).await;
    let auth = bearer(&n.centre_token);
    let objects = format!("/api/collections/{SHARED}/objects/");
    // 406
    for accept in [
        "application/json",
        "application/taxii+json;version=2.0",
        "text/html",
    ] {
        n.send(
            Method::GET,
            &objects,
            Some(&auth),
            &[("accept", accept)],
            None,
        )
        .await
        .assert_error(406);
    }
    assert_eq!(
        n.send(
            Method::GET,
            &objects,
            Some(&auth),
            &[("accept", "*/*")],
            None
        )
        .await
        .status,
        200
    );
    // 415
    let body = json!({"objects": [indicator(1, "2024-01-01T00:00:00.000Z")]}).to_string();
    for ct in [
        "application/json",
        "application/stix+json;version=2.1",
        "text/plain",
    ] {
        n.send(
            Method::POST,
            &objects,
            Some(&auth),
            &[("content-type", ct)],
            Some(body.clone()),
        )
        .await
        .assert_error(415);
    }
    // 413, by declared length and by streamed length.
    let big = json!({"objects": (0..40).map(|i| indicator(i, "2024-01-01T00:00:00.000Z")).collect::<Vec<_>>()}).to_string();
    assert!(big.len() > 2000);
    n.send(Method::POST, &objects, Some(&auth), &[], Some(big.clone()))
        .await
        .assert_error(413);
    // 400 / 422 on bodies.
    let j = n
        .send(
            Method::POST,
            &objects,
            Some(&auth),
            &[],
            Some("{\"objects\": [".into()),
        )
        .await
        .assert_error(400);
    assert_eq!(j["error_code"], "taxii.bad_json");
    let j = n
        .send(
            Method::POST,
            &objects,
            Some(&auth),
            &[],
            Some("{\"objects\": 5}".into()),
        )
        .await
        .assert_error(422);
    assert!(
        j["description"].as_str().unwrap().contains("/objects"),
        "{j}"
    );
    n.send(
        Method::POST,
        &objects,
        Some(&auth),
        &[],
        Some("[1,2]".into()),
    )
    .await
    .assert_error(422);
    n.send(Method::POST, &objects, Some(&auth), &[], Some("{}".into()))
        .await
        .assert_error(422);
    // 400 on malformed parameters.
    for q in [
        "added_after=garbage",
        "limit=0",
        "limit=abc",
        "added_after=2024-01-01T00:00:00Z&added_after=2024-01-02T00:00:00Z",
        "match[version]=newest",
        "next=not-a-token",
    ] {
        let j = n.get(&format!("{objects}?{q}")).await.assert_error(400);
        assert!(j["description"].as_str().unwrap().len() > 10, "{q}: {j}");
    }
    // 404 for unknown routes and 405 for unknown methods, with TAXII bodies.
    n.get("/no/such/route").await.assert_error(404);
    n.get("/taxii2").await.assert_error(404);
    n.send(Method::PUT, &objects, Some(&auth), &[], Some(body.clone()))
        .await
        .assert_error(405);
    n.send(Method::DELETE, "/taxii2/", Some(&auth), &[], None)
        .await
        .assert_error(405);
    // metrics
    let r = n.send(Method::GET, "/metrics", None, &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("nadhir_taxii_requests_total{method=\"GET\",route=\"/{api_root}/collections/{collection}/objects/\",status=\"406\"} 3"), "{}", r.text);
    assert!(r.text.contains("status=\"413\"} 1"));
}

#[tokio::test]
async fn post_status_partial_success_duplicates_and_conflicts() {
    let n = node().await;
    let good = indicator(1, "2024-01-01T00:00:00.000Z");
    let mut bad = indicator(2, "2024-01-01T00:00:00.000Z");
    bad["created"] = json!("not a time");
    let r = n
        .post_objects(SHARED, &[good.clone(), bad, malware(1)])
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.header("content-type").as_deref(), Some(TAXII));
    let st = r.json();
    assert_eq!(st["status"], "complete");
    assert_eq!(
        (
            st["total_count"].as_u64(),
            st["success_count"].as_u64(),
            st["failure_count"].as_u64(),
            st["pending_count"].as_u64()
        ),
        (Some(3), Some(2), Some(1), Some(0))
    );
    let msg = st["failures"][0]["message"].as_str().unwrap();
    assert!(msg.contains("/created"), "{msg}");
    assert_eq!(st["failures"][0]["id"], obj_id(2));
    assert!(st.get("pendings").is_none());
    // The status resource is readable by the posting org only.
    let sid = st["id"].as_str().unwrap();
    let again = n.get(&format!("/api/status/{sid}/")).await;
    assert_eq!(again.json(), st);
    n.get_as(&n.bank_token, &format!("/api/status/{sid}/"))
        .await
        .assert_error(404);
    n.get("/api/status/00000000-0000-4000-8000-000000000000/")
        .await
        .assert_error(404);
    n.get(&format!("/api2/status/{sid}/"))
        .await
        .assert_error(404);

    // Exact duplicate: success. Same version, other content: failure (conflict).
    let mut changed = good.clone();
    changed["name"] = json!("changed");
    let st = n
        .post_objects(SHARED, &[good.clone(), changed])
        .await
        .json();
    assert_eq!(st["success_count"], 1);
    assert_eq!(st["failure_count"], 1);
    assert!(
        st["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("conflict"),
        "{st}"
    );
    // The valid ones are stored.
    let j = n
        .get(&format!("/api/collections/{SHARED}/objects/"))
        .await
        .json();
    let mut got = ids(&j);
    got.sort();
    assert_eq!(
        got,
        vec![obj_id(1), malware(1)["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        j["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == obj_id(1))
            .unwrap(),
        &good
    );
}

#[tokio::test]
async fn large_envelope_is_processed_in_the_background() {
    let mut cfg = taxii::server::ServerConfig::with_roots(["api", "api2"]);
    cfg.inline_ingest_max = 10;
    let n = node_with(cfg).await;
    let objs: Vec<_> = (0..12_000)
        .map(|i| indicator(i, "2024-01-01T00:00:00.000Z"))
        .collect();
    let r = n.post_objects(SHARED, &objs).await;
    assert_eq!(r.status, 202);
    let st = r.json();
    assert_eq!(st["status"], "pending");
    assert_eq!(st["total_count"], 12_000);
    assert_eq!(st["pending_count"], 12_000);
    assert_eq!(st["pendings"].as_array().unwrap().len(), 12_000);
    let sid = st["id"].as_str().unwrap().to_owned();
    let mut done = None;
    let mut saw_progress = false;
    for _ in 0..1200 {
        let st = n.get(&format!("/api/status/{sid}/")).await.json();
        let (ok, failed, pending) = (
            st["success_count"].as_u64().unwrap(),
            st["failure_count"].as_u64().unwrap(),
            st["pending_count"].as_u64().unwrap(),
        );
        assert_eq!(
            ok + failed + pending,
            12_000,
            "counts add up: {ok} {failed} {pending}"
        );
        if st["status"] == "pending" {
            // Progress saves list the objects still pending.
            assert_eq!(
                st["pendings"].as_array().map_or(0, Vec::len) as u64,
                pending,
                "pendings listed while pending"
            );
        }
        saw_progress |= st["status"] == "pending" && ok > 0;
        if st["status"] == "complete" {
            done = Some(st);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let st = done.expect("status never completed");
    assert_eq!(st["success_count"], 12_000);
    assert_eq!(st["pending_count"], 0);
    assert_eq!(st["successes"].as_array().unwrap().len(), 12_000);
    assert!(st.get("pendings").is_none());
    eprintln!("progress observed while pending: {saw_progress}");
    let m = n
        .get(&format!("/api/collections/{SHARED}/manifest/?limit=10000"))
        .await
        .json();
    assert_eq!(
        m["objects"].as_array().unwrap().len(),
        10_000,
        "max page size"
    );
    assert_eq!(m["more"], true);
    let r = n.send(Method::GET, "/metrics", None, &[], None).await;
    assert!(
        r.text.contains("nadhir_taxii_objects_ingested_total 12000"),
        "{}",
        r.text
    );
}

const V1: &str = "2024-01-01T00:00:00.000Z";
const V2: &str = "2024-02-01T00:00:00.000Z";
const V3: &str = "2024-03-01T00:00:00.000Z";

/// Objects 1..=3 with three versions each, plus two malware objects.
async fn versioned_node() -> Node {
    let n = node().await;
    for v in [V1, V2, V3] {
        let objs: Vec<_> = (1..=3).map(|i| indicator(i, v)).collect();
        assert_eq!(
            n.post_objects(SHARED, &objs).await.json()["success_count"],
            3
        );
    }
    assert_eq!(
        n.post_objects(SHARED, &[malware(1), malware(2)])
            .await
            .json()["success_count"],
        2
    );
    n
}

fn versions_of(envelope: &serde_json::Value, id: &str) -> Vec<String> {
    envelope["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|o| o["id"] == id)
                .map(|o| o["modified"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn version_filters_over_three_versions() {
    let n = versioned_node().await;
    let base = format!("/api/collections/{SHARED}/objects/");
    let id1 = obj_id(1);
    // Default: last.
    let j = n.get(&base).await.json();
    assert_eq!(ids(&j).len(), 5);
    assert_eq!(versions_of(&j, &id1), [V3]);
    let j = n.get(&format!("{base}?match[version]=first")).await.json();
    assert_eq!(versions_of(&j, &id1), [V1]);
    let j = n.get(&format!("{base}?match[version]=all")).await.json();
    assert_eq!(ids(&j).len(), 11);
    let mut vs = versions_of(&j, &id1);
    vs.sort();
    assert_eq!(vs, [V1, V2, V3]);
    let j = n
        .get(&format!("{base}?match[version]=first,last&match[id]={id1}"))
        .await
        .json();
    let mut vs = versions_of(&j, &id1);
    vs.sort();
    assert_eq!(vs, [V1, V3]);
    let j = n
        .get(&format!("{base}?match[version]=2024-02-01T00:00:00Z"))
        .await
        .json();
    // Three indicators at V2 and both malware objects (whose only version is V2).
    assert_eq!(ids(&j).len(), 5, "timestamps compare as instants");
    assert_eq!(versions_of(&j, &id1), [V2]);

    // One object: same filters.
    let one = format!("{base}{id1}/");
    assert_eq!(versions_of(&n.get(&one).await.json(), &id1), [V3]);
    assert_eq!(
        versions_of(
            &n.get(&format!("{one}?match[version]=all")).await.json(),
            &id1
        )
        .len(),
        3
    );
    assert_eq!(
        versions_of(
            &n.get(&format!("{one}?match[version]={V2}")).await.json(),
            &id1
        ),
        [V2]
    );
    // A filter that matches nothing on an existing object: 200 with no objects.
    let r = n
        .get(&format!("{one}?match[version]=2020-01-01T00:00:00Z"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("objects").is_none());

    // Versions endpoint.
    let j = n.get(&format!("{one}versions/")).await.json();
    assert_eq!(j["versions"], json!([V1, V2, V3]));
    assert_eq!(j["more"], false);
    let j = n.get(&format!("{one}versions/?limit=2")).await.json();
    assert_eq!(j["versions"], json!([V1, V2]));
    assert_eq!(j["more"], true);
    let next = j["next"].as_str().unwrap();
    let j = n
        .get(&format!("{one}versions/?limit=2&next={next}"))
        .await
        .json();
    assert_eq!(j["versions"], json!([V3]));
    n.get(&format!(
        "{base}indicator--00000000-0000-4000-8000-999999999999/versions/"
    ))
    .await
    .assert_error(404);
}

#[tokio::test]
async fn type_id_spec_version_and_added_after_filters_and_manifest() {
    let n = versioned_node().await;
    let base = format!("/api/collections/{SHARED}/objects/");
    let j = n.get(&format!("{base}?match[type]=malware")).await.json();
    assert_eq!(ids(&j).len(), 2);
    let j = n
        .get(&format!("{base}?match[type]=malware,indicator"))
        .await
        .json();
    assert_eq!(ids(&j).len(), 5);
    let j = n
        .get(&format!(
            "{base}?match[type]=malware&match[id]={}",
            obj_id(1)
        ))
        .await
        .json();
    assert!(j.get("objects").is_none(), "fields are ANDed: {j}");
    let j = n
        .get(&format!("{base}?match[id]={},{}", obj_id(1), obj_id(2)))
        .await
        .json();
    assert_eq!(ids(&j).len(), 2);
    let j = n
        .get(&format!("{base}?match[spec_version]=2.1"))
        .await
        .json();
    assert_eq!(ids(&j).len(), 5);
    let j = n
        .get(&format!("{base}?match[spec_version]=2.0"))
        .await
        .json();
    assert!(j.get("objects").is_none());
    // Unknown match fields are ignored.
    assert_eq!(
        ids(&n.get(&format!("{base}?match[colour]=red")).await.json()).len(),
        5
    );

    // Manifest with all versions: sorted by date_added, headers are first/last.
    let r = n
        .get(&format!(
            "/api/collections/{SHARED}/manifest/?match[version]=all"
        ))
        .await;
    let m = r.json();
    let rows = m["objects"].as_array().unwrap();
    assert_eq!(rows.len(), 11);
    let dates: Vec<&str> = rows
        .iter()
        .map(|o| o["date_added"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    assert_eq!(r.header("x-taxii-date-added-first").unwrap(), dates[0]);
    assert_eq!(r.header("x-taxii-date-added-last").unwrap(), dates[10]);
    assert_eq!(rows[0]["media_type"], "application/stix+json;version=2.1");
    assert_eq!(rows[0]["version"], V1);
    // added_after is exclusive and filters by date_added.
    let cut = dates[5];
    let j = n
        .get(&format!(
            "/api/collections/{SHARED}/manifest/?match[version]=all&added_after={cut}"
        ))
        .await
        .json();
    assert_eq!(j["objects"].as_array().unwrap().len(), 5);
    let r = n
        .get(&format!(
            "{base}?match[version]=all&added_after={cut}&limit=2"
        ))
        .await;
    assert_eq!(ids(&r.json()).len(), 2);
    assert!(r.header("x-taxii-date-added-first").unwrap().as_str() > cut);
    // Empty page: both headers carry the lower bound (added_after).
    let last = dates[10];
    let r = n.get(&format!("{base}?added_after={last}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"more": false}));
    assert_eq!(r.header("x-taxii-date-added-first").unwrap(), last);
    assert_eq!(r.header("x-taxii-date-added-last").unwrap(), last);
    // Collection without objects: the epoch.
    let r = n.get(&format!("/api/collections/{SECRET}/objects/")).await;
    assert_eq!(
        r.header("x-taxii-date-added-last").unwrap(),
        "1970-01-01T00:00:00.000000Z"
    );
}

#[tokio::test]
async fn next_tokens_page_and_are_bound_to_requester_and_query() {
    let n = versioned_node().await;
    let base = format!("/api/collections/{SHARED}/objects/");
    let q = "match[version]=all&match[type]=indicator";
    let mut seen = Vec::new();
    let mut url = format!("{base}?{q}&limit=4");
    let mut pages = 0;
    loop {
        let j = n.get(&url).await.json();
        pages += 1;
        for o in j["objects"].as_array().unwrap() {
            seen.push(format!(
                "{}@{}",
                o["id"].as_str().unwrap(),
                o["modified"].as_str().unwrap()
            ));
        }
        if j["more"] == true {
            url = format!("{base}?{q}&limit=4&next={}", j["next"].as_str().unwrap());
        } else {
            assert!(j.get("next").is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 9);
    assert_eq!(seen.len(), 9);

    let first = n.get(&format!("{base}?{q}&limit=4")).await.json();
    let next = first["next"].as_str().unwrap().to_owned();
    // Same requester, same query: fine (limit may change).
    assert_eq!(
        n.get(&format!("{base}?{q}&limit=100&next={next}"))
            .await
            .status,
        200
    );
    // Another principal (even of the same organisation) cannot replay it.
    n.send(
        Method::GET,
        &format!("{base}?{q}&next={next}"),
        Some(&n.basic),
        &[],
        None,
    )
    .await
    .assert_error(400);
    n.get_as(&n.bank_token, &format!("{base}?{q}&next={next}"))
        .await
        .assert_error(400);
    // Another query or endpoint cannot use it.
    n.get(&format!("{base}?match[version]=all&next={next}"))
        .await
        .assert_error(400);
    n.get(&format!(
        "/api/collections/{SHARED}/manifest/?{q}&next={next}"
    ))
    .await
    .assert_error(400);
    // A tampered token is refused.
    let mut t = next.into_bytes();
    t[3] = if t[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(t).unwrap();
    let j = n
        .get(&format!("{base}?{q}&next={tampered}"))
        .await
        .assert_error(400);
    assert_eq!(j["error_code"], "taxii.bad_next");
    n.get(&format!("{base}?{q}&next=a&next=b"))
        .await
        .assert_error(400);
}

#[tokio::test]
async fn delete_then_404() {
    let n = versioned_node().await;
    let base = format!("/api/collections/{SHARED}/objects/");
    let id1 = obj_id(1);
    let auth = bearer(&n.centre_token);
    // Delete one version.
    let r = n
        .send(
            Method::DELETE,
            &format!("{base}{id1}/?match[version]={V2}"),
            Some(&auth),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = n.get(&format!("{base}{id1}/versions/")).await.json();
    assert_eq!(j["versions"], json!([V1, V3]));
    // Delete the rest (no match[version]: all versions).
    let r = n
        .send(
            Method::DELETE,
            &format!("{base}{id1}/"),
            Some(&auth),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    n.get(&format!("{base}{id1}/")).await.assert_error(404);
    n.get(&format!("{base}{id1}/versions/"))
        .await
        .assert_error(404);
    n.send(
        Method::DELETE,
        &format!("{base}{id1}/"),
        Some(&auth),
        &[],
        None,
    )
    .await
    .assert_error(404);
    assert_eq!(ids(&n.get(&base).await.json()).len(), 4);
    // Other objects are intact.
    assert_eq!(
        n.get(&format!("{base}{}/versions/", obj_id(2)))
            .await
            .json()["versions"],
        json!([V1, V2, V3])
    );
}

/// With a publication signer installed (the node's key, in `nadhir serve`), what a local
/// account POSTs is signed once as it is stored: each new version's signature goes into
/// the object's sharing metadata, a later version adds its own, and a duplicate POST adds
/// nothing.
#[tokio::test]
async fn posted_versions_are_signed_as_they_are_stored() {
    #[derive(Debug)]
    struct TestSigner;
    impl taxii::server::gate::PublishSigner for TestSigner {
        fn sign(&self, object: &stix::Object) -> policy::stored::SignedBy {
            policy::stored::SignedBy {
                signer: policy::NodeId::new("identity--00000000-0000-4000-8000-0000000000ee"),
                value: format!("signed:{}:{}", object.id(), object.version().unwrap()),
            }
        }
    }
    let n = node().await;
    assert!(n.state.set_publish_signer(std::sync::Arc::new(TestSigner)));
    let v1 = indicator(77, "2026-01-01T00:00:00.000Z");
    let v2 = indicator(77, "2026-02-01T00:00:00.000Z");
    let meta = || async {
        let id = v1["id"].as_str().unwrap().to_owned();
        let rows = n.store.get_meta(&[id]).await.unwrap();
        let doc: policy::MetaDoc = serde_json::from_str(&rows[0].json).unwrap();
        doc.signatures
            .values()
            .map(|s| s.value.clone())
            .collect::<Vec<String>>()
    };
    let r = n.post_objects(SHARED, std::slice::from_ref(&v1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        meta().await,
        vec![format!(
            "signed:{}:2026-01-01T00:00:00.000Z",
            v1["id"].as_str().unwrap()
        )]
    );
    n.post_objects(SHARED, &[v1.clone(), v2.clone()]).await;
    let mut got = meta().await;
    got.sort();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].ends_with("2026-02-01T00:00:00.000Z"));
}
