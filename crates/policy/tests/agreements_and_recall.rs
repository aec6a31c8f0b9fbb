//! Agreements (egress filters), the hub relay rule, and recall after a marking change
//! or an agreement change — with national centres A and B, constituent bank A1, and
//! regional hub H.

mod common;

use common::*;
use indexmap::IndexSet;
use policy::marking::{TLP2_AMBER, TLP2_AMBER_STRICT, TLP2_CLEAR, TLP2_GREEN, TLP2_RED};
use policy::{
    egress_allowed, recall_after_agreement_change, recall_after_object_change, Agreement,
    Community, Context, Delivery, NodeId, ObjectMeta, Org, OrgId, OrgKind, RedactionRules, Tlp,
};
use serde_json::json;

fn ctx() -> Context {
    let mut c = Context::new(NodeId::new(NODE_A));
    for (id, kind, parent, sector) in [
        ("ncA", OrgKind::NationalCentre, None, "government"),
        ("bankA1", OrgKind::Constituent, Some("ncA"), "finance"),
        ("ncB", OrgKind::NationalCentre, None, "government"),
        ("hub", OrgKind::RegionalHub, None, "government"),
    ] {
        c.add_org(Org {
            id: id.into(),
            kind,
            sector: sector.into(),
            country: "XX".into(),
            parent: parent.map(OrgId::from),
        });
    }
    c.add_community(Community {
        id: "region".into(),
        members: IndexSet::from(["ncA".into(), "ncB".into(), "hub".into()]),
    });
    c
}

fn agreement(node: &str, org: &str) -> Agreement {
    Agreement {
        id: format!("agr-{org}"),
        version: 1,
        partner_node: node.into(),
        partner_org: org.into(),
        max_tlp: Tlp::Amber,
        allowed_types: vec![],
        allowed_sectors: vec![],
        allowed_collections: vec![],
        sightings_back: false,
        may_reshare: false,
        retention_days: 365,
        purpose: "regional early warning".into(),
        active: true,
        anonymise_sightings: true,
        redaction: RedactionRules::redact_all(),
    }
}

fn marked(tlp: &str) -> stix::Object {
    let mut o = indicator_with_email();
    o.as_map_mut()
        .insert("object_marking_refs".into(), json!([tlp]));
    o
}

fn meta() -> ObjectMeta {
    ObjectMeta {
        owner: "ncA".into(),
        recipients: vec!["ncB".into(), "hub".into()],
        communities: vec!["region".into()],
        collections: vec!["intel".into()],
        sectors: vec!["finance".into()],
        ..ObjectMeta::default()
    }
}

fn code(r: Result<(), policy::DenyReason>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn egress_filters() {
    let c = ctx();
    let o = marked(TLP2_GREEN);
    let base = agreement(NODE_B, "ncB");
    assert_eq!(code(egress_allowed(&c, &base, &o, &meta())), "ok");
    let inactive = Agreement {
        active: false,
        ..base.clone()
    };
    assert_eq!(
        code(egress_allowed(&c, &inactive, &o, &meta())),
        "agreement.inactive"
    );
    let only_malware = Agreement {
        allowed_types: vec!["malware".into()],
        ..base.clone()
    };
    assert_eq!(
        code(egress_allowed(&c, &only_malware, &o, &meta())),
        "agreement.type_not_allowed"
    );
    let energy = Agreement {
        allowed_sectors: vec!["energy".into()],
        ..base.clone()
    };
    assert_eq!(
        code(egress_allowed(&c, &energy, &o, &meta())),
        "agreement.sector_not_allowed"
    );
    let ops = Agreement {
        allowed_collections: vec!["ops".into()],
        ..base.clone()
    };
    assert_eq!(
        code(egress_allowed(&c, &ops, &o, &meta())),
        "agreement.collection_not_allowed"
    );
    let clear_only = Agreement {
        max_tlp: Tlp::Clear,
        ..base.clone()
    };
    assert_eq!(
        code(egress_allowed(&c, &clear_only, &o, &meta())),
        "agreement.tlp_exceeded"
    );
    let red_ok = Agreement {
        max_tlp: Tlp::Red,
        ..base.clone()
    };
    assert_eq!(
        code(egress_allowed(&c, &red_ok, &marked(TLP2_RED), &meta())),
        "policy.red_over_sync"
    );
    assert_eq!(
        code(egress_allowed(&c, &base, &sighting(), &meta())),
        "agreement.sightings_not_allowed"
    );
    let back = Agreement {
        sightings_back: true,
        ..base.clone()
    };
    assert_eq!(code(egress_allowed(&c, &back, &sighting(), &meta())), "ok");
    // Unmarked objects take the node default (AMBER) against max_tlp.
    let green_max = Agreement {
        max_tlp: Tlp::Green,
        ..base
    };
    assert_eq!(
        code(egress_allowed(
            &c,
            &green_max,
            &indicator_with_email(),
            &meta()
        )),
        "agreement.tlp_exceeded"
    );
}

#[test]
fn hub_relays_only_what_the_originator_allowed() {
    // At the hub: an object received from A.
    let mut hub = ctx();
    hub.local_node = NodeId::new(NODE_H);
    let received = ObjectMeta {
        originator: Some(NODE_A.into()),
        provenance: vec![NODE_A.into()],
        ..meta()
    };
    let to_b = agreement(NODE_B, "ncB");
    let mut o = marked(TLP2_GREEN);
    assert_eq!(
        code(egress_allowed(&hub, &to_b, &o, &received)),
        "sharing.relay_without_extension"
    );
    for (may_relay, want) in [(false, "sharing.relay_not_permitted"), (true, "ok")] {
        policy::sharing::stamp(
            &mut o,
            &policy::sharing::SharingInfo {
                originator: NODE_A.into(),
                may_relay,
                provenance: vec![NODE_A.into()],
                recipients: vec![],
                communities: vec![],
                signature: None,
            },
        );
        assert_eq!(code(egress_allowed(&hub, &to_b, &o, &received)), want);
    }
    // The extension must agree with what the store recorded.
    let lying = ObjectMeta {
        originator: Some("identity--5f1d2c9e-8a52-4f6e-9a3b-0c7e4d2b1a0c".into()),
        ..received.clone()
    };
    assert_eq!(
        code(egress_allowed(&hub, &to_b, &o, &lying)),
        "sharing.invalid_extension"
    );
    // Never back to the originator.
    let to_a = agreement(NODE_A, "ncA");
    assert_eq!(
        code(egress_allowed(&hub, &to_a, &o, &received)),
        "sharing.loop"
    );
}

#[test]
fn raising_a_marking_recalls_what_partners_may_no_longer_hold() {
    let c = ctx();
    let agreements = [agreement(NODE_B, "ncB"), agreement(NODE_H, "hub")];
    let id = indicator_with_email().id().to_owned();
    let deliveries: Vec<Delivery> = [NODE_B, NODE_H]
        .iter()
        .map(|n| Delivery {
            object_id: id.clone(),
            partner: NodeId::new(*n),
            agreement_id: "x".into(),
            agreement_version: 1,
        })
        .collect();
    // Still GREEN: nothing to recall.
    assert!(
        recall_after_object_change(&c, &marked(TLP2_GREEN), &meta(), &deliveries, &agreements)
            .is_empty()
    );
    // Now AMBER+STRICT for B only: the hub must delete it; B keeps it... but the
    // agreement's max is AMBER, so B loses it too.
    let strict_meta = ObjectMeta {
        recipients: vec!["ncB".into()],
        ..meta()
    };
    let r = recall_after_object_change(
        &c,
        &marked(TLP2_AMBER_STRICT),
        &strict_meta,
        &deliveries,
        &agreements,
    );
    let got: Vec<(&str, &str)> = r
        .iter()
        .map(|x| (x.partner.as_str(), x.reason.code()))
        .collect();
    assert_eq!(
        got,
        vec![
            (NODE_B, "agreement.tlp_exceeded"),
            (NODE_H, "agreement.tlp_exceeded")
        ]
    );
    // AMBER shared to B only: the hub loses it on audience grounds, B keeps it.
    let r = recall_after_object_change(
        &c,
        &marked(TLP2_AMBER),
        &strict_meta,
        &deliveries,
        &agreements,
    );
    let got: Vec<(&str, &str)> = r
        .iter()
        .map(|x| (x.partner.as_str(), x.reason.code()))
        .collect();
    assert_eq!(got, vec![(NODE_H, "policy.tlp_audience")]);
    // RED: everyone loses it.
    let r = recall_after_object_change(&c, &marked(TLP2_RED), &meta(), &deliveries, &agreements);
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|x| x.reason.code() == "policy.red_over_sync"));
    // A partner with no agreement in force loses it.
    let r = recall_after_object_change(
        &c,
        &marked(TLP2_CLEAR),
        &meta(),
        &deliveries,
        &agreements[..1],
    );
    let got: Vec<(&str, &str)> = r
        .iter()
        .map(|x| (x.partner.as_str(), x.reason.code()))
        .collect();
    assert_eq!(got, vec![(NODE_H, "agreement.inactive")]);
}

#[test]
fn ending_or_narrowing_an_agreement_recalls() {
    let c = ctx();
    let old = agreement(NODE_B, "ncB");
    let mut green = marked(TLP2_GREEN);
    green.as_map_mut().insert(
        "id".into(),
        json!("indicator--11111111-1111-4111-8111-111111111111"),
    );
    let amber = marked(TLP2_AMBER);
    let held = vec![(green.clone(), meta()), (amber.clone(), meta())];
    let ended = recall_after_agreement_change(&c, &old, None, &held);
    assert_eq!(ended.len(), 2);
    assert!(ended
        .iter()
        .all(|r| r.reason.code() == "agreement.inactive" && r.partner.as_str() == NODE_B));
    let deactivated = Agreement {
        active: false,
        version: 2,
        ..old.clone()
    };
    assert_eq!(
        recall_after_agreement_change(&c, &old, Some(&deactivated), &held).len(),
        2
    );
    let narrowed = Agreement {
        max_tlp: Tlp::Green,
        version: 2,
        ..old.clone()
    };
    let r = recall_after_agreement_change(&c, &old, Some(&narrowed), &held);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].object_id, amber.id());
    assert_eq!(r[0].reason.code(), "agreement.tlp_exceeded");
    let same = Agreement {
        version: 2,
        purpose: "changed wording".into(),
        ..old.clone()
    };
    assert!(recall_after_agreement_change(&c, &old, Some(&same), &held).is_empty());
}
