//! The live index taken up to date by layers (`Engine::reload` without `force`) gives
//! the verdicts a full build over the same store gives: after any sequence of new
//! indicators, new versions with other patterns, revocations, deletions and validity
//! transitions, the same indicators match the same values, the same general patterns
//! are live, and the counts agree.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use matcher::{LookupScratch, ValueKind};
use proptest::prelude::*;
use store::{NewObject, Store, VersionFilter};
use warning::engine::indicators::{InactiveCounts, LayerLimits};
use warning::engine::{Engine, EngineConfig};

/// Values that patterns of the pool name, and some they do not.
const PROBES: &[(ValueKind, &str)] = &[
    (ValueKind::Domain, "a.example"),
    (ValueKind::Domain, "b.example"),
    (ValueKind::Domain, "www.c.example"),
    (ValueKind::Domain, "c.example"),
    (ValueKind::Domain, "none.example"),
    (ValueKind::Ip, "198.51.100.7"),
    (ValueKind::Ip, "198.51.100.200"),
    (ValueKind::Ip, "203.0.113.9"),
    (ValueKind::Url, "http://a.example/x"),
];

/// IOC-shaped and general patterns.
const PATTERNS: &[&str] = &[
    "[domain-name:value = 'a.example']",
    "[domain-name:value = 'b.example']",
    "[domain-name:value = 'c.example' OR domain-name:value LIKE '%.c.example']",
    "[ipv4-addr:value = '198.51.100.7']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[url:value = 'http://a.example/x']",
    "([domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.200']) WITHIN 60 SECONDS",
    "[ipv4-addr:value = '203.0.113.9'] REPEATS 3 TIMES WITHIN 60 SECONDS",
];

#[derive(Debug, Clone)]
enum Op {
    /// Indicator `n` gets a new version (created when new) with pattern `p`.
    Version {
        n: u8,
        p: usize,
    },
    Revoke {
        n: u8,
    },
    Delete {
        n: u8,
    },
    /// A new version expiring in the past (expired) or valid only later.
    Expire {
        n: u8,
    },
    NotYet {
        n: u8,
    },
    /// An older version (earlier `modified`) with pattern `p` arrives late: the newest
    /// version stays what counts.
    Late {
        n: u8,
        p: usize,
    },
    /// A false positive changes a weight: the engine rebuilds whole.
    Force,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..12, 0..PATTERNS.len()).prop_map(|(n, p)| Op::Version { n, p }),
        1 => (0u8..12).prop_map(|n| Op::Revoke { n }),
        1 => (0u8..12).prop_map(|n| Op::Delete { n }),
        1 => (0u8..12).prop_map(|n| Op::Expire { n }),
        1 => (0u8..12).prop_map(|n| Op::NotYet { n }),
        1 => (0u8..12, 0..PATTERNS.len()).prop_map(|(n, p)| Op::Late { n, p }),
        1 => Just(Op::Force),
    ]
}

fn id(n: u8) -> String {
    format!("indicator--00000000-0000-4000-8000-{n:012x}")
}

fn version(n: u8, seq: u32, pattern: &str, extra: &str) -> NewObject {
    let text = format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{}","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:{:02}:{:02}.{:03}Z","pattern":"{pattern}","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"{extra}}}"#,
        id(n),
        seq / 3600 % 60,
        seq / 60 % 60,
        seq % 1000
    );
    NewObject::from_object(&stix::Object::from_json_str(&text).unwrap())
}

/// What the live indicators say: matching ids per probe, general patterns, and the
/// status counts (indicators read, IOC, general, unusable, inactive by reason).
type Verdicts = (
    Vec<BTreeSet<String>>,
    BTreeSet<(String, String)>,
    (u64, u64, u64, u64, InactiveCounts),
);

fn verdicts(engine: &Engine) -> Verdicts {
    let live = engine.live();
    let mut scratch = LookupScratch::default();
    let hits = PROBES
        .iter()
        .map(|(vk, v)| {
            let mut ids = BTreeSet::new();
            live.layers
                .lookup_normalized(*vk, v, &mut scratch, |layer, m| {
                    let ix = live.layers.layers()[layer].index();
                    for &no in m.indicators {
                        ids.insert(ix.indicator_id(no).unwrap().to_owned());
                    }
                });
            ids
        })
        .collect();
    let general = live.general.iter().cloned().collect();
    (
        hits,
        general,
        (
            live.status.indicators_read,
            live.status.ioc_indicators,
            live.status.general_indicators,
            live.status.unusable,
            live.status.inactive.clone(),
        ),
    )
}

fn limits() -> LayerLimits {
    LayerLimits {
        max_layers: 2,
        rebuild_min: 4,
        fold_after_idle: Duration::from_secs(3600),
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = store::open(dir.path(), None).await.unwrap();
    let mut cfg = EngineConfig::new("Test node", "api");
    cfg.layer_limits = limits();
    let engine = Engine::start(store.clone(), cfg).await.unwrap();
    let now = stix::Timestamp::from_unix_micros(store::now_micros());
    let past = stix::Timestamp::from_unix_micros(now.unix_micros() - 3_600_000_000);
    let later = stix::Timestamp::from_unix_micros(now.unix_micros() + 3_600_000_000);
    let mut seq = 0u32;
    let mut pattern_of = std::collections::BTreeMap::new();
    for (step, op) in ops.into_iter().enumerate() {
        seq += 1;
        let obj = match op {
            Op::Version { n, p } => {
                pattern_of.insert(n, p);
                Some(version(n, seq, PATTERNS[p], ""))
            }
            Op::Revoke { n } => pattern_of
                .get(&n)
                .map(|&p| version(n, seq, PATTERNS[p], r#","revoked":true"#)),
            Op::Expire { n } => pattern_of
                .get(&n)
                .map(|&p| version(n, seq, PATTERNS[p], &format!(r#","valid_until":"{past}""#))),
            Op::NotYet { n } => pattern_of.get(&n).map(|&p| {
                let text = version(n, seq, PATTERNS[p], "").json.replace(
                    r#""valid_from":"2026-01-01T00:00:00Z""#,
                    &format!(r#""valid_from":"{later}""#),
                );
                NewObject::from_object(&stix::Object::from_json_str(&text).unwrap())
            }),
            Op::Delete { n } => {
                store
                    .delete_object(None, &id(n), &VersionFilter::all(), &[])
                    .await
                    .unwrap();
                pattern_of.remove(&n);
                None
            }
            Op::Late { n, p } => pattern_of.contains_key(&n).then(|| {
                let text = version(n, seq, PATTERNS[p], "")
                    .json
                    .replace(r#""modified":"2026-"#, r#""modified":"2025-"#);
                NewObject::from_object(&stix::Object::from_json_str(&text).unwrap())
            }),
            Op::Force => None,
        };
        if let Some(o) = obj {
            store.insert(&[o], &[]).await.unwrap();
        }
        engine.reload(matches!(op, Op::Force)).await.unwrap();
        let layered = verdicts(&engine);
        let mut cfg = EngineConfig::new("Test node", "api");
        cfg.layer_limits = limits();
        let fresh = Engine::start(store.clone(), cfg).await.unwrap();
        let full = verdicts(&fresh);
        prop_assert_eq!(&layered.0, &full.0, "hits after step {} ({:?})", step, op);
        prop_assert_eq!(&layered.1, &full.1, "general patterns after step {}", step);
        prop_assert_eq!(&layered.2, &full.2, "counts after step {} ({:?})", step, op);
        prop_assert!(engine.live().layers.len() <= limits().max_layers + 1);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn layered_reloads_agree_with_a_full_build(ops in prop::collection::vec(op(), 1..=16)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}

/// A new indicator takes effect through a small layer: the time it takes does not
/// grow with the indicators already live.
#[tokio::test]
async fn a_new_indicator_goes_live_in_a_layer() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = store::open(dir.path(), None).await.unwrap();
    let base: Vec<NewObject> = (0..2_000u32)
        .map(|i| {
            let text = format!(
                r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-9000-{i:012x}","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'd{i}.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}}"#
            );
            NewObject::from_object(&stix::Object::from_json_str(&text).unwrap())
        })
        .collect();
    store.insert(&base, &[]).await.unwrap();
    let engine = Engine::start(store.clone(), EngineConfig::new("Test node", "api"))
        .await
        .unwrap();
    assert_eq!(engine.live().layers.len(), 1);
    store
        .insert(
            &[version(1, 1, "[domain-name:value = 'fresh.example']", "")],
            &[],
        )
        .await
        .unwrap();
    assert!(engine.reload(false).await.unwrap());
    let live = engine.live();
    assert_eq!(live.layers.len(), 2, "the change is a layer of its own");
    assert_eq!(live.layers.layers()[1].index().indicator_count(), 1);
    assert_eq!(live.status.ioc_indicators, 2_001);
    assert!(live.status.time_to_effect_ms.is_some());
    // Nothing new: no new snapshot.
    assert!(!engine.reload(false).await.unwrap());
}

/// An indicator whose `valid_until` passes drops out at the next reload, and one whose
/// `valid_from` arrives comes in, without a full build.
#[tokio::test]
async fn validity_transitions_apply_as_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = store::open(dir.path(), None).await.unwrap();
    let now = store::now_micros();
    let soon = stix::Timestamp::from_unix_micros(now + 1_500_000);
    let expiring = version(
        1,
        1,
        "[domain-name:value = 'a.example']",
        &format!(r#","valid_until":"{soon}""#),
    );
    let starting = NewObject::from_object(
        &stix::Object::from_json_str(
            &version(2, 1, "[domain-name:value = 'b.example']", "")
                .json
                .replace(
                    r#""valid_from":"2026-01-01T00:00:00Z""#,
                    &format!(r#""valid_from":"{soon}""#),
                ),
        )
        .unwrap(),
    );
    store.insert(&[expiring, starting], &[]).await.unwrap();
    let engine = Engine::start(store.clone(), EngineConfig::new("Test node", "api"))
        .await
        .unwrap();
    let (hits, _, _) = verdicts(&engine);
    assert_eq!(hits[0].len(), 1, "a.example matches before it expires");
    assert!(hits[1].is_empty(), "b.example is not yet valid");
    assert!(engine.live().status.next_transition.is_some());
    assert!(!engine.reload(false).await.unwrap(), "nothing due yet");
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert!(engine.reload(false).await.unwrap());
    let (hits, _, _) = verdicts(&engine);
    assert!(hits[0].is_empty(), "a.example expired");
    assert_eq!(hits[1].len(), 1, "b.example became valid");
    assert_eq!(engine.live().layers.len(), 2);
    assert!(engine.live().status.next_transition.is_none());
}
