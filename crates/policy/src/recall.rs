//! Recall: which (object, partner) pairs must be taken back after an object's marking
//! (or other metadata) changed, or after an agreement changed or ended.
//!
//! Both functions re-run [`decide`] for the partner's peer account under the terms now in
//! force, so recall uses exactly the rules that govern sending: a pair is recalled
//! exactly when the partner holds the object and would not be sent it today.

use crate::agreement::Agreement;
use crate::decide::{decide, Decision, ObjectMeta, ReadPurpose};
use crate::error::DenyReason;
use crate::model::{Context, NodeId, Requester, Role, UserId};

/// One object version a partner received (from the egress ledger).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    pub object_id: String,
    pub partner: NodeId,
    pub agreement_id: String,
    pub agreement_version: u64,
}

/// A pair the partner must delete, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recall {
    pub object_id: String,
    pub partner: NodeId,
    pub reason: DenyReason,
}

fn peer_of(agreement: &Agreement) -> Requester {
    Requester {
        org: agreement.partner_org.clone(),
        user_id: UserId::new(format!("peer:{}", agreement.partner_node)),
        role: Role::Peer,
        anonymous: false,
        communities: Vec::new(),
    }
}

/// Peer requester with the communities the directory lists its organisation in.
fn peer_with_communities(ctx: &Context, agreement: &Agreement) -> Requester {
    let mut r = peer_of(agreement);
    r.communities = ctx
        .communities
        .values()
        .filter(|c| c.members.contains(&agreement.partner_org))
        .map(|c| c.id.clone())
        .collect();
    r
}

/// Whether the partner of `agreement` may still hold `object`; `Err` with the reason
/// when not.
pub fn may_hold(
    ctx: &Context,
    agreement: &Agreement,
    object: &stix::Object,
    meta: &ObjectMeta,
) -> Result<(), DenyReason> {
    let peer = peer_with_communities(ctx, agreement);
    match decide(ctx, &peer, object, meta, ReadPurpose::Sync(agreement)) {
        Decision::Deny(reason) => Err(reason),
        Decision::Allow(_) | Decision::Redacted(_) => Ok(()),
    }
}

/// After `object` changed (new marking, new communities or recipients…): the partners
/// among `deliveries` that hold it and may no longer. `agreements` are the agreements
/// now in force; a partner with none loses the object.
pub fn recall_after_object_change(
    ctx: &Context,
    object: &stix::Object,
    meta: &ObjectMeta,
    deliveries: &[Delivery],
    agreements: &[Agreement],
) -> Vec<Recall> {
    let mut out: Vec<Recall> = Vec::new();
    for d in deliveries.iter().filter(|d| d.object_id == object.id()) {
        if out.iter().any(|r| r.partner == d.partner) {
            continue;
        }
        let current = agreements
            .iter()
            .filter(|a| a.partner_node == d.partner && a.active)
            .max_by_key(|a| a.version);
        let verdict = match current {
            Some(a) => may_hold(ctx, a, object, meta),
            None => Err(DenyReason::AgreementInactive {
                version: d.agreement_version,
            }),
        };
        if let Err(reason) = verdict {
            out.push(Recall {
                object_id: d.object_id.clone(),
                partner: d.partner.clone(),
                reason,
            });
        }
    }
    out
}

/// After an agreement changed (`new` is its next version) or ended (`new` is `None`, or
/// not active): the objects the partner received under `old` and may no longer hold.
/// `held` are those objects, as stored now, with their metadata.
pub fn recall_after_agreement_change(
    ctx: &Context,
    old: &Agreement,
    new: Option<&Agreement>,
    held: &[(stix::Object, ObjectMeta)],
) -> Vec<Recall> {
    held.iter()
        .filter_map(|(object, meta)| {
            let verdict = match new {
                Some(a) if a.active && a.partner_node == old.partner_node => {
                    may_hold(ctx, a, object, meta)
                }
                Some(a) => Err(DenyReason::AgreementInactive { version: a.version }),
                None => Err(DenyReason::AgreementInactive {
                    version: old.version,
                }),
            };
            verdict.err().map(|reason| Recall {
                object_id: object.id().to_owned(),
                partner: old.partner_node.clone(),
                reason,
            })
        })
        .collect()
}
