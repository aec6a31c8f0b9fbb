//! The policy gate on every TAXII read endpoint: TLP 2.0 audience per requester, the
//! same answer on objects, manifest, one object and versions, and anonymous readers
//! (TLP:CLEAR only, and only when the node enables them).
#![allow(clippy::unwrap_used)]

mod server_support;

use serde_json::{json, Value};
use server_support::*;

const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

fn marked(n: u32, marking: Option<&str>) -> Value {
    let mut v = indicator(n, "2024-01-01T00:00:00.000Z");
    if let Some(m) = marking {
        v["object_marking_refs"] = json!([m]);
    }
    v
}

fn ids_of(v: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o.get("id").unwrap_or(o).as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn id(n: u32) -> String {
    format!("indicator--00000000-0000-4000-8000-{n:012}")
}

#[tokio::test]
async fn every_read_endpoint_answers_by_tlp_audience() {
    let n = node().await;
    let r = n
        .post_objects(
            SHARED,
            &[
                marked(1, Some(CLEAR)),
                marked(2, Some(GREEN)),
                marked(3, Some(AMBER)),
                marked(4, Some(RED)),
                marked(5, None), // unmarked: the node default, TLP:AMBER
            ],
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let objects = format!("/api/collections/{SHARED}/objects/");
    let manifest = format!("/api/collections/{SHARED}/manifest/");

    // The centre published them: its AMBER audience; TLP:RED names no one.
    let v = n.get(&objects).await.json();
    assert_eq!(ids_of(&v, "objects"), vec![id(1), id(2), id(3), id(5)]);

    // The bank may read the collection but is in none of the audiences beyond CLEAR
    // (not a recipient, not the centre's client, no community).
    let v = n.get_as(&n.bank_reader, &objects).await.json();
    assert_eq!(ids_of(&v, "objects"), vec![id(1)]);
    let v = n.get_as(&n.bank_reader, &manifest).await.json();
    assert_eq!(ids_of(&v, "objects"), vec![id(1)]);
    for hidden in [3, 4, 5] {
        let r = n
            .get_as(&n.bank_reader, &format!("{objects}{}/", id(hidden)))
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        let r = n
            .get_as(
                &n.bank_reader,
                &format!("{objects}{}/versions/", id(hidden)),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
    let r = n
        .get_as(&n.bank_reader, &format!("{objects}{}/", id(1)))
        .await;
    assert_eq!(r.status, 200);

    // Anonymous readers: refused until the node enables them, then TLP:CLEAR only.
    let anon = n
        .send(axum::http::Method::GET, &objects, None, &[], None)
        .await;
    assert_eq!(anon.status, 401);
    n.store
        .set_state(
            policy::stored::POLICY_CONFIG_STATE_KEY,
            &json!({"default_tlp": "amber", "allow_anonymous_clear": true}).to_string(),
        )
        .await
        .unwrap();
    n.state.directory.invalidate();
    let anon = n
        .send(axum::http::Method::GET, &objects, None, &[], None)
        .await;
    assert_eq!(anon.status, 200, "{}", anon.text);
    assert_eq!(ids_of(&anon.json(), "objects"), vec![id(1)]);
    // ... and never write.
    let body = json!({ "objects": [marked(9, Some(CLEAR))] }).to_string();
    let r = n
        .send(axum::http::Method::POST, &objects, None, &[], Some(body))
        .await;
    assert!(
        r.status == 403 || r.status == 404,
        "{} {}",
        r.status,
        r.text
    );

    // A default of TLP:CLEAR opens the unmarked object to everyone.
    n.store
        .set_state(
            policy::stored::POLICY_CONFIG_STATE_KEY,
            &json!({"default_tlp": "clear", "allow_anonymous_clear": true}).to_string(),
        )
        .await
        .unwrap();
    n.state.directory.invalidate();
    let v = n.get_as(&n.bank_reader, &objects).await.json();
    assert_eq!(ids_of(&v, "objects"), vec![id(1), id(5)]);
}
