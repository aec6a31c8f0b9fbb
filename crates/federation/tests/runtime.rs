//! The serve loops' passes on a real store: retention deletes received objects past
//! their agreement's retention and tells the partners that hold them; a deletion here
//! becomes a `delete` ledger entry for each partner holding the object, once.
#![allow(clippy::unwrap_used)]

use policy::{MetaDoc, NodeId, ObjectMeta, OrgId};
use serde_json::json;
use store::{CollectionId, EgressEntry, MetaRow, NewObject, Query, Store, VersionFilter};

fn object(n: u32) -> stix::Object {
    stix::Object::from_value(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[domain-name:value = 'example.org']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"
    }))
    .unwrap()
}

async fn held(store: &dyn Store, id: &str) -> bool {
    let q = Query {
        ids: vec![id.to_owned()],
        versions: VersionFilter::all(),
        ..Query::default()
    };
    !store.query(&q).await.unwrap().objects.is_empty()
}

fn sent(peer: &str, id: &str) -> EgressEntry {
    EgressEntry {
        peer: peer.into(),
        object_id: id.into(),
        version_key: String::new(),
        content_hash: "h".into(),
        agreement_id: "agreement:x".into(),
        agreement_version: 1,
        action: "sent".into(),
        detail: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_deletions_reach_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), None).await.unwrap();
    let node = federation::node::Node::open(store.clone(), dir.path())
        .await
        .unwrap();
    let coll = federation::sync::inbox(store.as_ref(), "inbox")
        .await
        .unwrap();
    let (old, fresh, local) = (object(1), object(2), object(3));
    let now = store::now_micros();
    let received = |expires: i64| MetaRow {
        id: String::new(),
        json: serde_json::to_string(&MetaDoc {
            meta: ObjectMeta {
                owner: OrgId::new("node:x"),
                originator: Some(NodeId::new(
                    "identity--00000000-0000-4000-8000-0000000000aa",
                )),
                ..ObjectMeta::default()
            },
            received_at: Some(now - 10),
            ..MetaDoc::default()
        })
        .unwrap(),
        expires: Some(expires),
        updated: now,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert(
        &[&old, &fresh, &local].map(NewObject::from_object),
        &[CollectionId(coll.0.clone())],
    )
    .await
    .unwrap();
    tx.put_meta(&[
        MetaRow {
            id: old.id().into(),
            ..received(now - 1)
        },
        MetaRow {
            id: fresh.id().into(),
            ..received(now + 86_400_000_000)
        },
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A relayed the expired one to partner P; the local one went to P and Q.
    let p = "identity--00000000-0000-4000-8000-0000000000b1";
    let q = "identity--00000000-0000-4000-8000-0000000000b2";
    node.record_egress(&[sent(p, old.id()), sent(p, local.id()), sent(q, local.id())])
        .await
        .unwrap();

    // Retention: only the expired object goes, and P is told.
    assert_eq!(federation::runtime::retention_once(&node).await.unwrap(), 1);
    assert!(!held(store.as_ref(), old.id()).await);
    assert!(held(store.as_ref(), fresh.id()).await);
    assert!(store
        .get_meta(&[old.id().to_owned()])
        .await
        .unwrap()
        .is_empty());
    let to_p = store.egress_after(0, Some(p), 100).await.unwrap();
    assert!(to_p
        .iter()
        .any(|r| r.entry.object_id == old.id() && r.entry.action == "delete"));

    // A deletion here: both holders get one `delete` entry, and a second pass adds none.
    let n = store
        .delete_object(None, local.id(), &VersionFilter::all(), &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    federation::runtime::outbox_once(&node).await.unwrap();
    federation::runtime::outbox_once(&node).await.unwrap();
    for peer in [p, q] {
        let deletes: Vec<_> = store
            .egress_after(0, Some(peer), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.entry.object_id == local.id() && r.entry.action == "delete")
            .collect();
        assert_eq!(deletes.len(), 1, "{peer}: {deletes:?}");
    }
    // The retention pass's own deletion of `old` was already told to P: not twice.
    let old_deletes = store
        .egress_after(0, Some(p), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.object_id == old.id() && r.entry.action == "delete")
        .count();
    assert_eq!(old_deletes, 1);
    let report = federation::ledger::verify(store.as_ref(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.entries, 3 + 1 + 2);
}

/// A sync stores several pages in one transaction: a later version of an object whose
/// earlier version is still uncommitted must keep that version's signature (and first
/// path), which only the pending metadata knows; the store's readers do not see it yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_version_in_an_open_transaction_keeps_the_earlier_signature() {
    use federation::node::Node;
    use policy::sharing::{stamp, SharingInfo};

    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), None).await.unwrap();
    let node = Node::open(store.clone(), dir.path()).await.unwrap();
    let a = NodeId::new("identity--00000000-0000-4000-8000-0000000000aa");
    let a_key = federation::identity::NodeKey::from_seed(&[7u8; 32]);
    federation::directory::put_peer(
        store.as_ref(),
        &federation::directory::Peer {
            node: a.clone(),
            name: "A".into(),
            org: OrgId::new("org-a"),
            public_key: a_key.public_b64(),
            url: None,
            token: None,
            collections: Vec::new(),
            inbox: "inbox".into(),
            push: false,
            push_collection: "inbox".into(),
        },
    )
    .await
    .unwrap();
    let dir_ = taxii::server::gate::load_directory(store.as_ref())
        .await
        .unwrap();
    let sealed = |modified: &str| {
        let mut o = object(9);
        o.as_map_mut().insert("modified".into(), json!(modified));
        stamp(&mut o, &SharingInfo::outgoing(None, &a, true));
        let sig = federation::signature::sign(&o, &a_key, &a);
        federation::wire::seal(o, sig).unwrap()
    };
    let v1 = sealed("2026-01-01T00:00:00.000Z");
    let v2 = sealed("2026-02-01T00:00:00.000Z");
    let accepted = |r: Vec<Result<taxii::server::gate::Accepted, String>>| {
        r.into_iter().next().unwrap().unwrap()
    };

    let first = accepted(node.accept_from(&dir_, &a, vec![v1]).await.unwrap());
    assert_eq!(first.doc.signatures.len(), 1);
    // v1 written but not committed: the store does not know it, the pending map does.
    let mut pending = hashbrown::HashMap::new();
    pending.insert(first.object.id().to_owned(), first.doc.clone());
    let second = accepted(
        node.accept_from_over(&dir_, &a, vec![v2.clone()], &pending)
            .await
            .unwrap(),
    );
    assert_eq!(
        second.doc.signatures.len(),
        2,
        "{:?}",
        second.doc.signatures
    );
    assert!(second
        .doc
        .signatures
        .keys()
        .any(|k| first.doc.signatures.contains_key(k)));
    assert_eq!(second.doc.meta.provenance, first.doc.meta.provenance);
    // Without it (what the store alone says), v1's signature would be lost.
    let alone = accepted(node.accept_from(&dir_, &a, vec![v2]).await.unwrap());
    assert_eq!(alone.doc.signatures.len(), 1);
}

/// A version published here is signed once, when it is stored (TAXII POST, import):
/// every partner's unchanged copy carries that very signature, which verifies against
/// the node's key; a copy the agreement rewrites (PII redacted) is signed afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_published_here_is_signed_once_for_every_partner() {
    use federation::node::Node;
    use policy::{Agreement, RedactionRules, Tlp};
    use taxii::server::gate::{self, PublishSigner};

    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), None).await.unwrap();
    let node = Node::open(store.clone(), dir.path()).await.unwrap();
    let coll = CollectionId("published".into());
    store
        .create_collection(&store::Collection {
            id: coll.clone(),
            api_root: "api".into(),
            title: "published".into(),
            description: None,
            alias: None,
            media_types: vec![],
            created: 0,
        })
        .await
        .unwrap();
    // Two TLP:CLEAR indicators, one with an e-mail address in its description.
    let clear = |n: u32, description: &str| {
        let mut o = object(n);
        let m = o.as_map_mut();
        m.insert(
            "object_marking_refs".into(),
            json!([stix::markings::TLP2_CLEAR]),
        );
        m.insert("description".into(), json!(description));
        o
    };
    let plain = clear(21, "beacon");
    let personal = clear(22, "reported by analyst@bank.example");
    let signer = node.publication_signer();
    let news: Vec<NewObject> = [&plain, &personal]
        .iter()
        .map(|o| NewObject::from_object(o))
        .collect();
    let published: Vec<gate::Published<'_>> = news
        .iter()
        .zip([&plain, &personal])
        .map(|(n, o)| gate::Published {
            id: &n.id,
            version_key: &n.version_key,
            signature: Some(signer.sign(o)),
        })
        .collect();
    let org = gate::node_org(store.as_ref()).await.unwrap();
    let rows = gate::publish_meta(store.as_ref(), &org, &coll.0, &published)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let mut tx = store.begin().await.unwrap();
    tx.insert(&news, std::slice::from_ref(&coll)).await.unwrap();
    tx.put_meta(&rows).await.unwrap();
    tx.commit().await.unwrap();
    // Two partners; the second's agreement redacts e-mail addresses.
    for (i, redaction) in [RedactionRules::keep_all(), RedactionRules::redact_all()]
        .into_iter()
        .enumerate()
    {
        federation::directory::set_agreement(
            store.as_ref(),
            Agreement {
                id: String::new(),
                version: 0,
                partner_node: NodeId::new(format!(
                    "identity--00000000-0000-4000-8000-00000000000{i}"
                )),
                partner_org: OrgId::new(format!("org-{i}")),
                max_tlp: Tlp::Amber,
                allowed_types: vec![],
                allowed_sectors: vec![],
                allowed_collections: vec![],
                sightings_back: true,
                may_reshare: false,
                retention_days: 30,
                purpose: "test".into(),
                active: true,
                anonymise_sightings: false,
                redaction,
            },
        )
        .await
        .unwrap();
    }
    let dir_ = gate::load_directory(store.as_ref()).await.unwrap();
    let stored = store
        .query(&Query {
            collection: Some(coll.clone()),
            with_body: true,
            ..Query::default()
        })
        .await
        .unwrap()
        .objects;
    let ids: Vec<&str> = stored.iter().map(|o| o.id.as_str()).collect();
    let docs = gate::load_meta(store.as_ref(), &dir_, &ids, &coll.0)
        .await
        .unwrap();
    let mut keys = federation::identity::PeerKeys::new();
    keys.insert(node.id.clone(), &node.key.public_b64())
        .unwrap();
    let signature_of = |copy: &str| {
        let o = stix::Object::from_json_str(copy).unwrap();
        let info = policy::sharing::read_sharing(&o).unwrap().unwrap();
        let sig = info.signature.unwrap();
        federation::signature::verify(&o, &sig, &keys).unwrap();
        sig.value
    };
    let stored_sig = |id: &str| {
        let d = &docs[ids.iter().position(|i| *i == id).unwrap()];
        d.signatures.values().next().unwrap().value.clone()
    };
    for i in 0..2 {
        let items: Vec<gate::EgressItem> = stored
            .iter()
            .zip(&docs)
            .map(|(o, doc)| gate::EgressItem {
                json: o.json.clone(),
                doc: doc.clone(),
                version_key: o.version_key.clone(),
            })
            .collect();
        let requester = gate::requester(
            &dir_,
            &taxii::server::Principal {
                key: format!("peer:{i}"),
                org_id: format!("org-{i}"),
                role: "peer".into(),
                user_id: None,
            },
        );
        let copies = node
            .egress_for(&dir_, &requester, items.clone())
            .await
            .unwrap();
        for (o, copy) in stored.iter().zip(&copies) {
            let copy = copy.as_deref().expect("TLP:CLEAR is sent");
            let sent = signature_of(copy);
            let redacted = i == 1 && o.id == personal.id();
            if redacted {
                assert!(!copy.contains("analyst@bank.example"));
                assert_ne!(sent, stored_sig(&o.id), "a rewritten copy is signed afresh");
            } else {
                assert_eq!(sent, stored_sig(&o.id), "partner {i}, {}", o.id);
            }
        }
        // The unchanged copy carries the stored signature as it is, without signing
        // again (Ed25519 is deterministic, so a stand-in value shows which happened);
        // the rewritten one does not use it.
        // (well-formed base64 of 64 bytes, not a signature of anything here)
        let stand_in = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==";
        let marked: Vec<gate::EgressItem> = items
            .into_iter()
            .map(|mut it| {
                for s in it.doc.signatures.values_mut() {
                    s.value = stand_in.into();
                }
                it
            })
            .collect();
        let copies = node.egress_for(&dir_, &requester, marked).await.unwrap();
        for (o, copy) in stored.iter().zip(&copies) {
            let c = stix::Object::from_json_str(copy.as_deref().unwrap()).unwrap();
            let sent = policy::sharing::read_sharing(&c)
                .unwrap()
                .unwrap()
                .signature
                .unwrap()
                .value;
            let redacted = i == 1 && o.id == personal.id();
            assert_eq!(sent == stand_in, !redacted, "partner {i}, {}", o.id);
        }
    }
    // What publication stored is this node's signature of each version.
    assert_eq!(stored_sig(plain.id()), signer.sign(&plain).value);
    assert_eq!(stored_sig(personal.id()), signer.sign(&personal).value);
}
