//! Zero leaks over every read path that serves stored objects: random organisations
//! (constituents under national centres), communities, users, agreements, markings
//! (object-level and granular on `description`) and sharing metadata, stored in a real
//! store; then every requester reads through
//!
//! - the TAXII gate (`gate::admit`, what every TAXII GET endpoint sends),
//! - export (`gate::decide_page` with `Export`, blocking and not),
//! - sync (`gate::admit` for a peer account, through the federation hook: what a
//!   partner's node receives),
//!
//! and an independent oracle (the TLP 2.0 audience table written out again here) checks
//! that no requester ever receives an object, or a granular-marked property, outside its
//! audience; over sync also never TLP:RED and never above the agreement's ceiling.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use policy::stored::{COMMUNITY_RECORD, NODE_ORG_STATE_KEY};
use policy::{
    Agreement, CommunityId, MetaDoc, NodeId, ObjectMeta, OrgId, RedactionRules, Tlp, UserId,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use store::{CollectionId, MetaRow, NewObject, Org, RecordRow, Store, StoredObject};
use taxii::server::gate::{self, LocalPurpose};
use taxii::server::Principal;

const COLL: &str = "c0ffee00-0000-4000-8000-000000000000";
const TLPS: [(Tlp, &str); 5] = [
    (
        Tlp::Clear,
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    ),
    (
        Tlp::Green,
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    ),
    (
        Tlp::Amber,
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    ),
    (
        Tlp::AmberStrict,
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    ),
    (
        Tlp::Red,
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    ),
];

#[derive(Debug, Clone)]
struct World {
    /// Per organisation: its parent (a national centre: org 0 or 1), if a constituent.
    parents: Vec<Option<usize>>,
    /// Per community: its member organisations.
    communities: Vec<Vec<usize>>,
    objects: Vec<Obj>,
    /// Per organisation: the TLP ceiling of the agreement with its node (None: none).
    agreements: Vec<Option<usize>>,
    default_tlp: usize,
}

/// One stored object: object-level TLP (None: unmarked), granular TLP on
/// `description`, and its sharing metadata (user u belongs to org u % orgs).
#[derive(Debug, Clone)]
struct Obj {
    tlp: Option<usize>,
    granular: Option<usize>,
    owner: usize,
    recipients: Vec<usize>,
    communities: Vec<usize>,
    named: Vec<usize>,
    /// Also marked PAP:RED (never in a blocking export).
    pap_red: bool,
}

fn world() -> impl Strategy<Value = World> {
    (3usize..6).prop_flat_map(|n_orgs| {
        let parents = proptest::collection::vec(proptest::option::of(0usize..2), n_orgs);
        let communities =
            proptest::collection::vec(proptest::collection::vec(0..n_orgs, 0..n_orgs), 1..3);
        let obj = (
            proptest::option::of(0usize..5),
            proptest::option::of(0usize..5),
            0..n_orgs,
            proptest::collection::vec(0..n_orgs, 0..2),
            proptest::collection::vec(0usize..2, 0..2),
            proptest::collection::vec(0..2 * n_orgs, 0..2),
            any::<bool>(),
        )
            .prop_map(
                |(tlp, granular, owner, recipients, communities, named, pap_red)| Obj {
                    tlp,
                    granular,
                    owner,
                    recipients,
                    communities,
                    named,
                    pap_red,
                },
            );
        let objects = proptest::collection::vec(obj, 1..12);
        let agreements = proptest::collection::vec(proptest::option::of(0usize..5), n_orgs);
        (parents, communities, objects, agreements, 1usize..4).prop_map(
            |(parents, communities, objects, agreements, default_tlp)| World {
                parents: parents
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| if i < 2 { None } else { p })
                    .collect(),
                communities,
                objects,
                agreements,
                default_tlp,
            },
        )
    })
}

fn org(i: usize) -> String {
    format!("org-{i}")
}
fn user(i: usize) -> String {
    format!("user-{i}")
}
fn node_of(i: usize) -> String {
    format!("identity--00000000-0000-4000-8000-{i:012}")
}

/// The TLP 2.0 audience table, independent of `policy::decide`.
fn may_see(w: &World, o: &Obj, req_org: usize, req_user: Option<usize>, tlp: Tlp) -> bool {
    let named = req_user.is_some_and(|u| o.named.contains(&u));
    let recipient = |x: usize| o.owner == x || o.recipients.contains(&x);
    let strict = named || recipient(req_org);
    let amber = strict || w.parents[req_org].is_some_and(recipient);
    let green = amber
        || o.communities
            .iter()
            .any(|c| w.communities.get(*c).is_some_and(|m| m.contains(&req_org)));
    match tlp {
        Tlp::Clear => true,
        Tlp::Green => green,
        Tlp::Amber => amber,
        Tlp::AmberStrict => strict,
        Tlp::Red => named,
    }
}

fn object_json(i: usize, o: &Obj) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{i:012}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("i{i}"), "description": "secret details",
        "pattern": "[domain-name:value = 'example.com']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"
    });
    let mut refs: Vec<&str> = o.tlp.map(|t| TLPS[t].1).into_iter().collect();
    if o.pap_red {
        refs.push(policy::marking::PAP_RED);
    }
    if !refs.is_empty() {
        v["object_marking_refs"] = json!(refs);
    }
    if let Some(g) = o.granular {
        v["granular_markings"] = json!([{"marking_ref": TLPS[g].1, "selectors": ["description"]}]);
    }
    v
}

async fn build(w: &World, dir: &std::path::Path) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = store::open(dir, None).await.unwrap();
    for (i, p) in w.parents.iter().enumerate() {
        store
            .create_org(&Org {
                id: org(i),
                name: org(i),
                kind: if p.is_some() {
                    "constituent"
                } else {
                    "national-centre"
                }
                .into(),
                sector: None,
                country: None,
                parent: p.map(org),
                created: 0,
            })
            .await
            .unwrap();
    }
    store.set_state(NODE_ORG_STATE_KEY, &org(0)).await.unwrap();
    let cfg = json!({
        "default_tlp": serde_json::to_value(TLPS[w.default_tlp].0).unwrap(),
        "allow_anonymous_clear": false
    });
    store
        .set_state(policy::stored::POLICY_CONFIG_STATE_KEY, &cfg.to_string())
        .await
        .unwrap();
    for (c, members) in w.communities.iter().enumerate() {
        let body = json!({"id": format!("c{c}"), "members": members.iter().map(|m| org(*m)).collect::<Vec<_>>()});
        let rec = RecordRow {
            kind: COMMUNITY_RECORD.into(),
            id: format!("c{c}"),
            tag: String::new(),
            body: body.to_string(),
            updated: 0,
        };
        store.put_record(&rec, None).await.unwrap();
    }
    let mut news = Vec::new();
    let mut rows = Vec::new();
    for (i, o) in w.objects.iter().enumerate() {
        let obj = stix::Object::from_value(object_json(i, o)).unwrap();
        news.push(NewObject::from_object(&obj));
        let doc = MetaDoc {
            meta: ObjectMeta {
                owner: OrgId::new(org(o.owner)),
                recipients: o.recipients.iter().map(|r| OrgId::new(org(*r))).collect(),
                communities: o
                    .communities
                    .iter()
                    .map(|c| CommunityId::new(format!("c{c}")))
                    .collect(),
                named_individuals: o.named.iter().map(|u| UserId::new(user(*u))).collect(),
                collections: vec![COLL.to_owned()],
                ..ObjectMeta::default()
            },
            ..MetaDoc::default()
        };
        rows.push(MetaRow {
            id: obj.id().to_owned(),
            json: serde_json::to_string(&doc).unwrap(),
            expires: None,
            updated: 0,
        });
    }
    store
        .create_collection(&store::Collection {
            id: CollectionId(COLL.into()),
            api_root: "api".into(),
            title: "shared".into(),
            description: None,
            alias: None,
            media_types: vec![],
            created: 0,
        })
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert(&news, &[CollectionId(COLL.into())])
        .await
        .unwrap();
    tx.put_meta(&rows).await.unwrap();
    tx.commit().await.unwrap();
    for (i, a) in w.agreements.iter().enumerate() {
        let Some(max) = a else { continue };
        let agreement = Agreement {
            id: String::new(),
            version: 0,
            partner_node: NodeId::new(node_of(i)),
            partner_org: OrgId::new(org(i)),
            max_tlp: TLPS[*max].0,
            allowed_types: vec![],
            allowed_sectors: vec![],
            allowed_collections: vec![],
            sightings_back: true,
            may_reshare: false,
            retention_days: 30,
            purpose: "test".into(),
            active: true,
            anonymise_sightings: false,
            redaction: RedactionRules::keep_all(),
        };
        federation::directory::set_agreement(store.as_ref(), agreement)
            .await
            .unwrap();
    }
    store
}

/// Checks one served copy of object `i`.
fn check_copy(
    w: &World,
    i: usize,
    copy: &str,
    req_org: usize,
    req_user: Option<usize>,
    ceiling: Option<Tlp>,
    path: &str,
) {
    let o = &w.objects[i];
    let tlp = TLPS[o.tlp.unwrap_or(w.default_tlp)].0;
    assert!(
        may_see(w, o, req_org, req_user, tlp),
        "{path}: object {i} ({tlp:?}) leaked to org {req_org} user {req_user:?}: {o:?}"
    );
    if let Some(max) = ceiling {
        assert!(
            tlp != Tlp::Red && tlp <= max,
            "{path}: object {i} ({tlp:?}) sent over a {max:?} agreement"
        );
    }
    let v: Value = serde_json::from_str(copy).unwrap();
    if let Some(g) = o.granular {
        let gt = TLPS[g].0;
        let allowed = may_see(w, o, req_org, req_user, gt)
            && ceiling.is_none_or(|max| gt != Tlp::Red && gt <= max);
        if !allowed {
            assert!(
                v.get("description").is_none(),
                "{path}: {gt:?} description of object {i} leaked to org {req_org}: {v}"
            );
        }
    }
}

fn index(o: &StoredObject) -> usize {
    o.id.rsplit('-').next().unwrap().parse().unwrap()
}

async fn check_world(w: &World) {
    let dir = tempfile::tempdir().unwrap();
    let store = build(w, dir.path()).await;
    let node = federation::node::Node::open(store.clone(), dir.path())
        .await
        .unwrap();
    let hook: Arc<dyn gate::FederationHook> = Arc::new(federation::node::NodeHook(node));
    let d = Arc::new(gate::load_directory(store.as_ref()).await.unwrap());
    let query = store::Query {
        with_body: true,
        limit: Some(1000),
        ..store::Query::default()
    };
    let rows = store.query(&query).await.unwrap().objects;
    assert_eq!(rows.len(), w.objects.len(), "every object is stored");
    let n_orgs = w.parents.len();
    for req_org in 0..n_orgs {
        for req_user in [None, Some(req_org), Some(req_org + n_orgs)] {
            let p = Principal {
                key: format!("k{req_org}"),
                org_id: org(req_org),
                role: "analyst".into(),
                user_id: req_user.map(user),
            };
            // TAXII (every GET endpoint sends gate::admit's copies).
            let out = gate::admit(store.as_ref(), &d, Some(&hook), &p, COLL, &rows)
                .await
                .unwrap();
            for (row, copy) in rows.iter().zip(&out) {
                if let Some(c) = copy {
                    check_copy(w, index(row), c, req_org, req_user, None, "taxii");
                }
            }
            // Export.
            for blocking in [false, true] {
                let ids: Vec<&str> = rows.iter().map(|o| o.id.as_str()).collect();
                let docs = gate::load_meta(store.as_ref(), &d, &ids, "").await.unwrap();
                let json = rows.iter().map(|o| o.json.clone()).collect();
                let purpose = LocalPurpose::Export { blocking };
                let out = gate::decide_page(&d, gate::requester(&d, &p), json, docs, purpose)
                    .await
                    .unwrap();
                for (row, copy) in rows.iter().zip(&out) {
                    if let Some(c) = copy {
                        check_copy(w, index(row), c, req_org, req_user, None, "export");
                        assert!(
                            !(blocking && w.objects[index(row)].pap_red),
                            "a PAP:RED object in a blocking export: {}",
                            row.id
                        );
                    }
                }
            }
        }
        // Sync: the organisation's node pulls with its peer account.
        let peer = Principal {
            key: format!("peer{req_org}"),
            org_id: org(req_org),
            role: "peer".into(),
            user_id: None,
        };
        let out = gate::admit(store.as_ref(), &d, Some(&hook), &peer, COLL, &rows)
            .await
            .unwrap();
        let ceiling = w.agreements[req_org].map(|t| TLPS[t].0);
        for (row, copy) in rows.iter().zip(&out) {
            if let Some(c) = copy {
                let Some(max) = ceiling else {
                    panic!("sync without an agreement sent {}", row.id)
                };
                check_copy(w, index(row), c, req_org, None, Some(max), "sync");
            }
        }
        // Without the hook a peer account receives nothing.
        let none = gate::admit(store.as_ref(), &d, None, &peer, COLL, &rows)
            .await
            .unwrap();
        assert!(none.iter().all(Option::is_none));
    }
    // Everything sync sent is in the ledger, and the chain holds.
    let report = federation::ledger::verify(store.as_ref(), &mut |_| {})
        .await
        .unwrap();
    let sent = store.egress_after(0, None, 100_000).await.unwrap();
    assert_eq!(report.entries, sent.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]
    #[test]
    fn no_read_path_leaks(w in world()) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(check_world(&w));
    }
}
