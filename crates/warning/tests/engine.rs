//! The engine over a real (temporary SQLite) store: batches in, sightings, alerts,
//! exactly-once counting under redelivery, live index updates, analyst actions and
//! asset watchlists.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use store::{NewObject, Query, Store};
use warning::engine::alerts::AlertOp;
use warning::engine::assets::add_asset;
use warning::engine::{Batch, Engine, EngineConfig, EventIds};
use warning::hit::SourceRef;
use warning::{AlertState, Criticality};

const PARTNER: &str = "identity--6a1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

fn indicator(n: u32, pattern: &str, extra: &str) -> NewObject {
    let text = format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{n:012x}","created_by_ref":"{PARTNER}","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"test {n}","pattern":"{pattern}","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","indicator_types":["malicious-activity"]{extra}}}"#
    );
    NewObject::from_object(&stix::Object::from_json_str(&text).expect("indicator JSON"))
}

async fn engine_with(indicators: &[NewObject]) -> (tempfile::TempDir, Arc<dyn Store>, Arc<Engine>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store::open(dir.path(), None).await.expect("store");
    store.insert(indicators, &[]).await.expect("insert");
    let engine = Engine::start(store.clone(), EngineConfig::new("Test node", "api"))
        .await
        .expect("engine");
    (dir, store, engine)
}

fn batch(lines: &[&str], prefix: &str) -> Batch {
    let mut data = Vec::new();
    for l in lines {
        data.extend_from_slice(l.as_bytes());
        data.push(b'\n');
    }
    Batch {
        source: SourceRef {
            kind: "test".into(),
            name: "test".into(),
        },
        data,
        ids: EventIds::Offsets {
            prefix: prefix.into(),
            base: 0,
        },
    }
}

fn dns(t: &str, name: &str) -> String {
    format!(
        r#"{{"timestamp":"{t}","event_type":"dns","src_ip":"10.0.0.5","dest_ip":"10.0.0.53","dns":{{"type":"query","rrname":"{name}"}}}}"#
    )
}

async fn sightings(store: &dyn Store) -> Vec<serde_json::Value> {
    let page = store
        .query(&Query {
            types: vec!["sighting".into()],
            with_body: true,
            ..Default::default()
        })
        .await
        .expect("query");
    page.objects
        .iter()
        .map(|o| serde_json::from_str(&o.json).expect("json"))
        .collect()
}

#[tokio::test]
async fn hits_become_one_sighting_per_window_and_redelivery_counts_nothing() {
    let (_d, store, engine) =
        engine_with(&[indicator(1, "[domain-name:value = 'evil.example']", "")]).await;
    let lines = [
        dns("2026-03-01T10:05:00.000000+0000", "EvIl.ExAmPlE."),
        dns("2026-03-01T10:06:00.000000+0000", "good.example"),
        dns("2026-03-01T10:07:00.000000+0000", "evil.example"),
        dns("2026-03-01T11:01:00.000000+0000", "evil.example"),
        "{not json".to_owned(),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let r = engine
        .process(batch(&refs, "file:a:1"))
        .await
        .expect("process");
    assert_eq!((r.events, r.bad, r.hits, r.counted), (5, 1, 3, 3));
    assert_eq!(r.sightings, 2, "two hourly windows");
    assert_eq!(r.alerts, 2);

    // The same events again (a redelivery): nothing is counted twice.
    let again = engine
        .process(batch(&refs, "file:a:1"))
        .await
        .expect("process");
    assert_eq!((again.counted, again.duplicates, again.alerts), (0, 3, 0));

    let s = sightings(store.as_ref()).await;
    assert_eq!(s.len(), 2);
    let ten = s
        .iter()
        .find(|x| {
            x["first_seen"]
                .as_str()
                .unwrap()
                .starts_with("2026-03-01T10")
        })
        .expect("10:00 window");
    assert_eq!(ten["count"], 2);
    assert_eq!(ten["last_seen"], "2026-03-01T10:07:00.000000Z");
    assert_eq!(ten["where_sighted_refs"][0], engine.identity_id());
    // The status keeps a sample of the undecodable line.
    let st = engine.status();
    assert_eq!(st.bad, 2);
    assert!(st.bad_samples[0].event_id.starts_with("file:a:1:"));
}

#[tokio::test]
async fn new_indicators_take_effect_without_restart() {
    let (_d, store, engine) =
        engine_with(&[indicator(1, "[domain-name:value = 'evil.example']", "")]).await;
    let line = dns("2026-03-01T10:05:00.000000+0000", "later.example");
    let r = engine.process(batch(&[&line], "x")).await.unwrap();
    assert_eq!(r.hits, 0);
    store
        .insert(
            &[indicator(2, "[domain-name:value = 'later.example']", "")],
            &[],
        )
        .await
        .unwrap();
    assert!(
        engine.reload(false).await.unwrap(),
        "a new indicator is seen"
    );
    let st = engine.live().status.clone();
    assert_eq!((st.generation, st.ioc_indicators), (2, 2));
    assert!(st.time_to_effect_ms.is_some());
    let r = engine.process(batch(&[&line], "y")).await.unwrap();
    assert_eq!(r.hits, 1);
    // Revoking it takes it out again.
    store
        .insert(
            &[indicator(
                2,
                "[domain-name:value = 'later.example']",
                r#","revoked":true"#,
            )
            .with_modified("2026-02-01T00:00:00.000Z")],
            &[],
        )
        .await
        .unwrap();
    assert!(engine.reload(false).await.unwrap());
    assert_eq!(engine.live().status.inactive.revoked, 1);
    let r = engine.process(batch(&[&line], "z")).await.unwrap();
    assert_eq!(r.hits, 0);
    // Nothing changed: no rebuild.
    assert!(!engine.reload(false).await.unwrap());
}

trait WithModified {
    fn with_modified(self, m: &str) -> NewObject;
}
impl WithModified for NewObject {
    fn with_modified(self, m: &str) -> NewObject {
        let mut v: serde_json::Value = serde_json::from_str(&self.json).unwrap();
        v["modified"] = serde_json::Value::String(m.into());
        NewObject::from_object(&stix::Object::from_json_str(&v.to_string()).unwrap())
    }
}

#[tokio::test]
async fn analysts_move_alerts_and_false_positives_are_shared() {
    let (_d, store, engine) = engine_with(&[indicator(
        1,
        "[domain-name:value = 'evil.example']",
        r#","confidence":80"#,
    )])
    .await;
    let line = dns("2026-03-01T10:05:00.000000+0000", "evil.example");
    engine.process(batch(&[&line], "a")).await.unwrap();
    let alerts = engine.list_alerts(None, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    let id = alerts[0].alert.id.clone();
    assert_eq!(alerts[0].indicator_created_by.as_deref(), Some(PARTNER));

    let a = engine
        .act_on_alert(&id, AlertOp::Acknowledge, "analyst")
        .await
        .unwrap();
    assert_eq!(a.alert.state, AlertState::Acknowledged);
    // Acknowledging twice is an invalid transition (409 over HTTP).
    let err = engine
        .act_on_alert(&id, AlertOp::Acknowledge, "analyst")
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 409);

    let a = engine
        .act_on_alert(
            &id,
            AlertOp::FalsePositive {
                reason: "internal test domain".into(),
            },
            "analyst",
        )
        .await
        .unwrap();
    assert!(a.alert.false_positive);
    assert_eq!(a.alert.state, AlertState::Closed);
    // The opinion and the revoked sighting are stored for sharing.
    let page = store
        .query(&Query {
            types: vec!["opinion".into()],
            with_body: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 1);
    let s = sightings(store.as_ref()).await;
    assert_eq!(s[0]["revoked"], true);
    // The weight halved: confidence 80 → 40.
    let w = warning::engine::indicators::load_weights(store.as_ref())
        .await
        .unwrap();
    assert_eq!(
        w.effective_confidence(&alerts[0].alert.indicator_id, 80),
        40
    );
    assert!(engine.get_alert("nope").await.unwrap_err().http_status() == 404);
}

#[tokio::test]
async fn intelligence_naming_an_asset_alerts_its_owner() {
    let (_d, store, engine) = engine_with(&[]).await;
    add_asset(
        store.as_ref(),
        "Gulf Bank",
        Criticality::Critical,
        "198.51.100.0/24",
    )
    .await
    .unwrap();
    assert!(
        add_asset(store.as_ref(), "x", Criticality::Low, "not a target!")
            .await
            .is_err()
    );
    store
        .insert(
            &[indicator(7, "[ipv4-addr:value = '198.51.100.77']", "")],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(engine.check_new_intelligence().await.unwrap(), 1);
    // Checked once: a second pass raises nothing new.
    assert_eq!(engine.check_new_intelligence().await.unwrap(), 0);
    let a = &engine.list_alerts(None, 10).await.unwrap()[0];
    assert_eq!(a.findings[0].owner, "Gulf Bank");
    assert_eq!(
        a.alert.asset.as_ref().unwrap().criticality,
        Criticality::Critical
    );
}

#[tokio::test]
async fn general_patterns_fire_across_events() {
    let (_d, _store, engine) = engine_with(&[indicator(
        3,
        "([domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']) WITHIN 60 SECONDS",
        "",
    )])
    .await;
    assert_eq!(engine.live().status.general_indicators, 1);
    let near = [
        dns("2026-03-01T10:00:00.000000+0000", "b.example"),
        dns("2026-03-01T10:00:10.000000+0000", "a.example"),
    ];
    let r = engine
        .process(batch(&[&near[0], &near[1]], "n"))
        .await
        .unwrap();
    assert_eq!(r.pattern_matches, 0, "wrong order");
    let hit = dns("2026-03-01T10:00:30.000000+0000", "b.example");
    let r = engine.process(batch(&[&hit], "h")).await.unwrap();
    assert_eq!((r.pattern_matches, r.alerts), (1, 1));
}

/// Events counted before (a re-read, a redelivery) write nothing: the transaction that
/// counted them wrote their window's sighting and alert. A sighting deleted since is not
/// brought back, and no second alert is raised; a new event in the window writes its
/// next version.
#[tokio::test]
async fn redelivered_events_write_nothing() {
    let (_d, store, engine) =
        engine_with(&[indicator(1, "[domain-name:value = 'evil.example']", "")]).await;
    let line = dns("2026-03-01T10:05:00.000000+0000", "evil.example");
    let r = engine.process(batch(&[&line], "p")).await.unwrap();
    assert_eq!((r.counted, r.sightings, r.alerts), (1, 1, 1));
    let s = sightings(store.as_ref()).await;
    assert_eq!(s.len(), 1);
    let sighting_id = s[0]["id"].as_str().unwrap().to_owned();
    let deleted = store
        .delete_object(None, &sighting_id, &store::VersionFilter::all(), &[])
        .await
        .unwrap();
    assert_eq!(deleted, 1);

    let r = engine.process(batch(&[&line], "p")).await.unwrap();
    assert_eq!(
        (r.counted, r.duplicates, r.sightings, r.alerts),
        (0, 1, 0, 0)
    );
    assert!(sightings(store.as_ref()).await.is_empty());
    assert_eq!(engine.list_alerts(None, 10).await.unwrap().len(), 1);

    // A new event in the same window: its next version, counting both.
    let later = dns("2026-03-01T10:06:00.000000+0000", "evil.example");
    let r = engine.process(batch(&[&line, &later], "p")).await.unwrap();
    assert_eq!(
        (r.counted, r.duplicates, r.sightings, r.alerts),
        (1, 1, 1, 0)
    );
    let s = sightings(store.as_ref()).await;
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0]["id"].as_str(), &s[0]["count"]),
        (Some(sighting_id.as_str()), &serde_json::json!(2))
    );
    assert_eq!(engine.list_alerts(None, 10).await.unwrap().len(), 1);
}

/// An indicator written with an internationalised name (U-label) hits DNS telemetry,
/// which carries the A-label, in any case and with the root's dot; the SCO the sighting
/// refers to holds the A-label, and every form of the name is one window and one alert.
#[tokio::test]
async fn internationalised_names_hit_in_their_a_label_form() {
    let (_d, store, engine) = engine_with(&[indicator(
        7,
        "[domain-name:value = 'البنك-الأهلي.example']",
        "",
    )])
    .await;
    let lines = [
        dns(
            "2026-03-01T10:05:00.000000+0000",
            "xn----rmckbd6nfeboq1b.example",
        ),
        dns(
            "2026-03-01T10:06:00.000000+0000",
            "XN----RMCKBD6NFEBOQ1B.EXAMPLE.",
        ),
        dns("2026-03-01T10:07:00.000000+0000", "البنك-الأهلي.Example"),
        dns(
            "2026-03-01T10:08:00.000000+0000",
            "xn----rmckbd6nfeboq1c.example",
        ),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let r = engine
        .process(batch(&refs, "file:idn:1"))
        .await
        .expect("process");
    assert_eq!((r.events, r.hits, r.counted), (4, 3, 3));
    assert_eq!((r.sightings, r.alerts), (1, 1));
    let s = sightings(store.as_ref()).await;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["count"], 3);
    let page = store
        .query(&Query {
            types: vec!["domain-name".into()],
            with_body: true,
            ..Default::default()
        })
        .await
        .expect("query");
    let values: Vec<String> = page
        .objects
        .iter()
        .map(|o| {
            let v: serde_json::Value = serde_json::from_str(&o.json).expect("json");
            v["value"].as_str().expect("value").to_owned()
        })
        .collect();
    assert_eq!(values, ["xn----rmckbd6nfeboq1b.example"]);
}
