//! The core end to end, without I/O: indicators → activity filter → hits (with
//! DNS 0x20 casing and redeliveries) → sightings → alerts → a false positive that
//! deactivates its indicator; and a partner feed checked against a bank's watchlist
//! with planted hits and near-misses.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use hashbrown::HashMap;
use serde_json::json;
use stix::{Object, Timestamp};
use warning::active::{activity, ActivePolicy, Activity, WeightBook};
use warning::aggregate::{AggregatorConfig, IngestOutcome, SightingAggregator};
use warning::alert::{Alert, AlertState, Severity};
use warning::hit::{AssetRef, Criticality, Hit, SourceRef};
use warning::normalize;
use warning::watchlist::{MatchReason, Watchlist};

const IDENTITY: &str = "identity--0b9a5a4e-6b7b-4c61-9d0e-0c2c7e6a2f11";

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn indicator(n: u8, domain: &str, extra: serde_json::Value) -> Object {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-0000000000{n:02}"),
        "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
        "pattern": format!("[domain-name:value = '{domain}']"), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    });
    if let (Some(m), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    Object::from_value(v).unwrap()
}

/// Randomises letter case as a resolver doing DNS 0x20 would.
fn dns0x20(name: &str, seed: usize) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if (i * 7 + seed).is_multiple_of(3) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

#[test]
fn telemetry_to_sightings_and_alerts() {
    let now = t("2026-03-01T12:00:00Z");
    let indicators = vec![
        indicator(
            1,
            "c2.evil.example",
            json!({"confidence": 90, "indicator_types": ["malicious-activity"],
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}]}),
        ),
        indicator(
            2,
            "revoked.example",
            json!({"confidence": 90, "revoked": true}),
        ),
        indicator(
            3,
            "expired.example",
            json!({"confidence": 90, "valid_until": "2026-02-01T00:00:00Z"}),
        ),
        indicator(4, "weak.example", json!({"confidence": 30})),
        indicator(
            5,
            "unscored.example",
            json!({"indicator_types": ["anomalous-activity"]}),
        ),
        indicator(
            6,
            "phish.example",
            json!({"confidence": 80, "labels": ["phishing"]}),
        ),
    ];
    let policy = ActivePolicy {
        min_confidence: 50,
        default_confidence: 50,
    };
    let mut weights = WeightBook::new();

    // the index: normalised domain -> (indicator, effective confidence), active only
    let build_index = |weights: &WeightBook| {
        let mut index: HashMap<String, (Object, u8)> = HashMap::new();
        for i in &indicators {
            if let Activity::Active {
                effective_confidence,
            } = activity(i, now, &policy, weights).unwrap()
            {
                let p = i.get("pattern").unwrap().as_str().unwrap();
                let v = warning::watchlist::extract_pattern_values(p);
                index.insert(
                    normalize::domain(&v[0].value).unwrap(),
                    (i.clone(), effective_confidence),
                );
            }
        }
        index
    };
    let index = build_index(&weights);
    assert_eq!(index.len(), 3, "only indicators 1, 5 and 6 are active");

    // telemetry: 2 000 DNS queries in one hour; planted hits with 0x20 casing and a
    // trailing dot, near-misses that must not match
    let names = [
        "c2.evil.example",
        "revoked.example",
        "expired.example",
        "weak.example",
        "unscored.example",
        "phish.example",
        "c2.evil.example.net",
        "evil.example",
        "phish.example.org",
        "www.benign.example",
    ];
    let mut events = Vec::new();
    for i in 0..2000usize {
        let name = names[i % names.len()];
        let wire = if i % 2 == 0 {
            format!("{}.", dns0x20(name, i))
        } else {
            dns0x20(name, i)
        };
        let secs = 36_000 + (i as i64 * 1800 / 2000); // 10:00:00 .. 10:30:00
        events.push((format!("dns.log:{}", i * 120), wire, secs));
    }
    let asset = AssetRef {
        id: "host-42".into(),
        name: "payments gateway".into(),
        criticality: Criticality::Critical,
    };
    let mut agg = SightingAggregator::new(AggregatorConfig::new(IDENTITY)).unwrap();
    let mut expected: HashMap<String, u64> = HashMap::new();
    let deliver = |agg: &mut SightingAggregator,
                   index: &HashMap<String, (Object, u8)>,
                   k: usize,
                   count: bool,
                   expected: &mut HashMap<String, u64>| {
        let (event_id, wire, secs) = &events[k];
        let Ok(name) = normalize::domain(wire) else {
            return None;
        };
        let (ind, _) = index.get(&name)?;
        let hit = Hit {
            event_id: event_id.clone(),
            indicator_id: ind.id().to_owned(),
            observable_type: "domain-name".into(),
            value: wire.clone(),
            observed_at: Timestamp::from_unix_millis((1_772_323_200 + secs) * 1000),
            source: SourceRef {
                kind: "zeek-dns".into(),
                name: "dns.log".into(),
            },
            asset: Some(asset.clone()),
        };
        if count {
            *expected.entry(ind.id().to_owned()).or_default() += 1;
        }
        Some(agg.ingest(&hit).unwrap())
    };
    for k in 0..events.len() {
        deliver(&mut agg, &index, k, true, &mut expected);
        // at-least-once: every 5th event is delivered again, some much later
        if k % 5 == 0 {
            let o = deliver(&mut agg, &index, k, false, &mut expected);
            assert!(matches!(o, None | Some(IngestOutcome::Duplicate { .. })));
        }
        if k >= 500 && k % 50 == 0 {
            deliver(&mut agg, &index, k - 500, false, &mut expected);
        }
    }
    assert_eq!(expected.len(), 3);
    assert_eq!(
        expected.values().sum::<u64>(),
        600,
        "200 planted hits for each active indicator"
    );

    let updates = agg.drain(now);
    assert_eq!(
        updates.len(),
        3,
        "one sighting per (indicator, window), not one per hit"
    );
    let mut alerts = Vec::new();
    for u in &updates {
        assert!(u.first_version);
        assert_eq!(
            u.sighting.get("count").unwrap().as_u64().unwrap(),
            expected[&u.indicator_id]
        );
        assert_eq!(
            u.new_scos.len(),
            1,
            "one normalised domain-name per indicator"
        );
        let (ind, conf) = index
            .values()
            .find(|(i, _)| i.id() == u.indicator_id)
            .unwrap();
        alerts.push(Alert::raise(ind, u.sighting.id(), *conf, Some(asset.clone()), now).unwrap());
    }
    let sev: HashMap<String, Severity> = alerts
        .iter()
        .map(|a| (a.indicator_id.clone(), a.severity))
        .collect();
    // 1: 0.4*0.9 + 0.2*1 + 0.2*0.85 + 0.2*1 = 0.93
    assert_eq!(
        sev["indicator--00000000-0000-4000-8000-000000000001"],
        Severity::Critical
    );
    // 5: 0.4*0.5 + 0.2*0.5 + 0.2*0.5 + 0.2*1 = 0.60
    assert_eq!(
        sev["indicator--00000000-0000-4000-8000-000000000005"],
        Severity::High
    );
    // 6: 0.4*0.8 + 0.2*0.8 + 0.2*0.5 + 0.2*1 = 0.78
    assert_eq!(
        sev["indicator--00000000-0000-4000-8000-000000000006"],
        Severity::High
    );

    // the analyst marks the phishing alert a false positive: its indicator drops out
    let fp = alerts
        .iter_mut()
        .find(|a| a.indicator_id.ends_with("06"))
        .unwrap();
    let sighting = updates
        .iter()
        .find(|u| u.indicator_id.ends_with("06"))
        .unwrap()
        .sighting
        .clone();
    let report = fp
        .mark_false_positive(
            "analyst",
            "sinkholed by our own DNS firewall",
            now,
            IDENTITY,
            Some(&sighting),
            &mut weights,
        )
        .unwrap();
    assert_eq!(fp.state, AlertState::Closed);
    assert_eq!(report.opinion.get("opinion").unwrap(), "strongly-disagree");
    let index = build_index(&weights);
    assert_eq!(index.len(), 2);
    assert!(index.values().all(|(i, _)| !i.id().ends_with("06")));

    // a later replay of the whole hour counts nothing new
    for k in 0..events.len() {
        if let Some(o) = deliver(&mut agg, &index, k, false, &mut expected) {
            assert!(matches!(o, IngestOutcome::Duplicate { .. }), "{o:?}");
        }
    }
    assert!(agg.drain(t("2026-03-01T12:00:01Z")).is_empty());
}

#[test]
fn partner_feed_against_a_banks_watchlist() {
    let mut w = Watchlist::new();
    let bank = "identity--7d5a9c1e-8c1b-4f57-9c6a-0e2f6a1b3c44";
    w.add("dc-range", bank, Criticality::Critical, "198.51.100.0/24")
        .unwrap();
    w.add("brand", bank, Criticality::High, "examplebank.com.sa")
        .unwrap();
    w.add("upstream", bank, Criticality::Medium, "AS64500")
        .unwrap();

    let feed = json!([
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--10000000-0000-4000-8000-000000000001",
         "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
         "pattern": "[network-traffic:src_ref.value = '198.51.100.77' AND network-traffic:dst_port = 4444]",
         "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--10000000-0000-4000-8000-000000000002",
         "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
         "pattern": "[domain-name:value = 'examplebank-sa.com'] OR [domain-name:value = 'examp1ebank.com.sa'] OR [domain-name:value = 'examplebank.com']",
         "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--10000000-0000-4000-8000-000000000003",
         "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
         "pattern": "[ipv4-addr:value = '198.51.10.7'] OR [domain-name:value = 'example.com.sa'] OR [domain-name:value = 'bank.sa']",
         "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
        {"type": "autonomous-system", "spec_version": "2.1", "id": "autonomous-system--10000000-0000-5000-8000-000000000004", "number": 64500},
        {"type": "report", "spec_version": "2.1", "id": "report--10000000-0000-4000-8000-000000000005",
         "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "published": "2026-01-01T00:00:00Z",
         "name": "Smishing wave", "object_refs": ["indicator--10000000-0000-4000-8000-000000000002"],
         "description": "SMS lures point to hxxps://online.examplebank.com.sa.verify-id[.]info and to a customer portal at portal.examplebank.com.sa (legitimate)."},
        {"type": "malware", "spec_version": "2.1", "id": "malware--10000000-0000-4000-8000-000000000006",
         "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "is_family": true,
         "name": "Unrelated loader", "description": "Talks to cdn.example.net and 203.0.113.50."}
    ]);
    let mut got: Vec<(String, String, String)> = Vec::new();
    for o in feed.as_array().unwrap() {
        let o = Object::from_value(o.clone()).unwrap();
        for m in w.check(&o).matches {
            let why = match &m.reason {
                MatchReason::Lookalike(l) => l.method.as_str().to_owned(),
                MatchReason::InRange => "in-range".into(),
                MatchReason::RangeOverlap => "range-overlap".into(),
                MatchReason::DomainEqual => "domain-equal".into(),
                MatchReason::Subdomain => "subdomain".into(),
                MatchReason::Asn => "asn".into(),
            };
            got.push((o.id()[o.id().len() - 12..].to_owned(), m.asset_id, why));
        }
    }
    let want: Vec<(String, String, String)> = [
        ("000000000001", "dc-range", "in-range"),
        ("000000000002", "brand", "combosquatting"),
        ("000000000002", "brand", "digit-substitution"),
        ("000000000002", "brand", "tld-swap"),
        ("000000000004", "upstream", "asn"),
        ("000000000005", "brand", "subdomain-embedding"),
        ("000000000005", "brand", "subdomain"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(got, want);
}
