//! THE policy function. Every read path (TAXII, REST, export, SSE, webhooks, sync, UI)
//! asks [`decide`] and sends only what it returns.

use crate::agreement::{egress_allowed, Agreement};
use crate::error::DenyReason;
use crate::granular::{parse_selector, prune, Path};
use crate::marking::{effective_marking, Pap, Tlp};
use crate::model::{CommunityId, Context, NodeId, OrgId, Requester, Role, UserId};
use crate::pii::PiiFinding;
use crate::sharing::{read_sharing, stamp, SharingInfo};
use crate::sighting::anonymise_sighting;
use serde_json::Value;

/// What the store knows about an object besides its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    /// The organisation that published the object at this node (or on whose behalf it
    /// was received). It is always part of the object's AMBER / AMBER+STRICT audience.
    pub owner: OrgId,
    /// The organisations the object was shared to (the TLP "recipients").
    pub recipients: Vec<OrgId>,
    /// The communities the object is shared into (the TLP:GREEN audience).
    pub communities: Vec<CommunityId>,
    /// The only users who may receive it when it is TLP:RED.
    pub named_individuals: Vec<UserId>,
    /// The node the object was first published at; `None` when published here.
    pub originator: Option<NodeId>,
    /// The nodes the object came through before arriving here (originator first).
    pub provenance: Vec<NodeId>,
    /// The collections the object is stored in.
    pub collections: Vec<String>,
    /// The sectors the object concerns.
    pub sectors: Vec<String>,
}

/// Why the object is being read: each read path names itself.
#[derive(Debug, Clone, Copy)]
pub enum ReadPurpose<'a> {
    /// TAXII, REST API, UI.
    Read,
    /// Sending to a partner node under an agreement (push or the partner's pull).
    Sync(&'a Agreement),
    /// File export; `blocking` is an export meant for blocking devices (firewalls, DNS
    /// filters), which PAP:RED data never enters.
    Export { blocking: bool },
    /// Live stream (SSE).
    Stream,
    /// Webhook delivery.
    Webhook,
}

/// What was changed in the requester's copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    pub object: stix::Object,
    /// Properties removed because of granular markings (selector syntax).
    pub removed: Vec<String>,
    /// Personal data redacted or generalised (sync only).
    pub pii: Vec<PiiFinding>,
    /// Whether a sighting was anonymised (sync only).
    pub sighting_anonymised: bool,
}

/// The verdict for one requester, object and purpose.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The requester may receive this copy, identical to the stored object except, over
    /// sync, for the sharing extension stamped on it.
    Allow(stix::Object),
    /// The requester may receive this copy, from which content was removed or rewritten.
    Redacted(Redacted),
    /// Nothing is sent.
    Deny(DenyReason),
}

impl Decision {
    /// The copy to send, if any.
    pub fn object(&self) -> Option<&stix::Object> {
        match self {
            Decision::Allow(o) => Some(o),
            Decision::Redacted(r) => Some(&r.object),
            Decision::Deny(_) => None,
        }
    }
}

/// Whether `requester` is in the audience of `tlp` for an object with `meta`:
///
/// | level | audience |
/// |---|---|
/// | CLEAR | anyone; anonymous readers only if the node allows them |
/// | GREEN | members of a community the object is shared into, and the AMBER audience |
/// | AMBER | the owner and recipient organisations and their clients (child orgs), and the AMBER+STRICT audience |
/// | AMBER+STRICT | the owner and recipient organisations, and the RED audience |
/// | RED | the named individuals only |
///
/// Anonymous requesters match no organisation, community or individual.
pub fn in_audience(ctx: &Context, requester: &Requester, meta: &ObjectMeta, tlp: Tlp) -> bool {
    if requester.anonymous {
        return tlp == Tlp::Clear && ctx.config.allow_anonymous_clear;
    }
    let named = meta.named_individuals.contains(&requester.user_id);
    let is_recipient = |org: &OrgId| meta.owner == *org || meta.recipients.contains(org);
    let strict = named || is_recipient(&requester.org);
    let amber = strict || ctx.parent_of(&requester.org).is_some_and(is_recipient);
    let green = amber
        || requester
            .communities
            .iter()
            .any(|c| meta.communities.contains(c) && ctx.is_member(&requester.org, c));
    match tlp {
        Tlp::Clear => true,
        Tlp::Green => green,
        Tlp::Amber => amber,
        Tlp::AmberStrict => strict,
        Tlp::Red => named,
    }
}

/// A granular marking's level.
enum Level {
    Tlp(Tlp),
    Pap(Pap),
}

/// The granular markings of an object: (level, selectors as written).
fn granular_markings(object: &stix::Object) -> Vec<(Level, Vec<&str>)> {
    let mut out = Vec::new();
    let Some(Value::Array(list)) = object.get("granular_markings") else {
        return out;
    };
    for gm in list {
        let Some(mref) = gm.get("marking_ref").and_then(Value::as_str) else {
            continue;
        };
        let level = if let Some(t) = Tlp::from_marking_id(mref) {
            Level::Tlp(t)
        } else if let Some(p) = Pap::from_marking_id(mref) {
            Level::Pap(p)
        } else {
            continue;
        };
        let selectors = gm
            .get("selectors")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push((level, selectors));
    }
    out
}

/// Decides what `requester` may receive of `object` for `purpose`.
///
/// Order: purpose and role gate; anonymous rule; sync rules (never RED, the agreement's
/// partner, [`egress_allowed`]); the TLP audience of the object-level marking; PAP:RED
/// out of blocking exports; granular markings (remove what the requester may not see,
/// or withhold the object when that is a required property); over sync, PII
/// minimisation and sighting anonymisation per the agreement, then the sharing
/// extension stamp.
pub fn decide(
    ctx: &Context,
    requester: &Requester,
    object: &stix::Object,
    meta: &ObjectMeta,
    purpose: ReadPurpose<'_>,
) -> Decision {
    match decide_inner(ctx, requester, object, meta, purpose) {
        Ok(d) => d,
        Err(reason) => Decision::Deny(reason),
    }
}

fn decide_inner(
    ctx: &Context,
    requester: &Requester,
    object: &stix::Object,
    meta: &ObjectMeta,
    purpose: ReadPurpose<'_>,
) -> Result<Decision, DenyReason> {
    let marking = effective_marking(object, ctx.config.default_tlp);
    let agreement = match purpose {
        ReadPurpose::Sync(a) => Some(a),
        _ => None,
    };
    match (requester.role, agreement) {
        (Role::Peer, None) => return Err(DenyReason::PeerOutsideSync),
        (Role::Peer, Some(_)) if requester.anonymous => return Err(DenyReason::SyncRequiresPeer),
        (Role::Peer, Some(_)) => {}
        (_, Some(_)) => return Err(DenyReason::SyncRequiresPeer),
        (_, None) => {}
    }
    if requester.anonymous && !in_audience(ctx, requester, meta, marking.tlp) {
        return Err(DenyReason::Anonymous { tlp: marking.tlp });
    }
    if let Some(a) = agreement {
        if marking.tlp == Tlp::Red {
            return Err(DenyReason::RedOverSync);
        }
        if a.partner_org != requester.org {
            return Err(DenyReason::AgreementPartnerMismatch {
                agreement_partner: a.partner_node.clone(),
            });
        }
        egress_allowed(ctx, a, object, meta)?;
    }
    if !in_audience(ctx, requester, meta, marking.tlp) {
        return Err(DenyReason::TlpAudience { tlp: marking.tlp });
    }
    let blocking = matches!(purpose, ReadPurpose::Export { blocking: true });
    if blocking && marking.pap == Some(Pap::Red) {
        return Err(DenyReason::PapRedBlockingExport);
    }

    // Granular markings.
    let mut targets: Vec<Path> = Vec::new();
    let mut target_marking: Vec<String> = Vec::new();
    for (level, selectors) in granular_markings(object) {
        let (restricted, label) = match level {
            Level::Tlp(t) => {
                let over_sync = agreement.is_some_and(|a| t == Tlp::Red || t > a.max_tlp);
                (
                    over_sync || !in_audience(ctx, requester, meta, t),
                    t.label(),
                )
            }
            Level::Pap(p) => (blocking && p == Pap::Red, p.label()),
        };
        if !restricted {
            continue;
        }
        for sel in selectors {
            match parse_selector(sel) {
                Some(path) => {
                    targets.push(path);
                    target_marking.push(label.to_owned());
                }
                // What a malformed selector protects is unknown: withhold everything.
                None => {
                    return Err(DenyReason::RequiredPropertyWithheld {
                        object_type: object.type_name().to_owned(),
                        property: sel.to_owned(),
                        marking: label.to_owned(),
                    })
                }
            }
        }
    }
    let (mut copy, removed) = if targets.is_empty() {
        (object.clone(), Vec::new())
    } else {
        let pruned = prune(object.as_map(), object.type_name(), &targets).map_err(|r| {
            DenyReason::RequiredPropertyWithheld {
                object_type: object.type_name().to_owned(),
                property: r.property,
                marking: target_marking.get(r.target).cloned().unwrap_or_default(),
            }
        })?;
        let copy = stix::Object::from_map(pruned.map).map_err(|_| {
            DenyReason::RequiredPropertyWithheld {
                object_type: object.type_name().to_owned(),
                property: "id".to_owned(),
                marking: String::new(),
            }
        })?;
        (copy, pruned.removed)
    };

    let mut pii = Vec::new();
    let mut sighting_anonymised = false;
    if let Some(a) = agreement {
        if a.anonymise_sightings && copy.type_name() == "sighting" {
            anonymise_sighting(&mut copy);
            sighting_anonymised = true;
        }
        let (minimised, findings) = ctx.minimiser.minimise_object(&copy, &a.redaction);
        copy = minimised;
        pii = findings;
        let current = read_sharing(object)?;
        let info = SharingInfo::outgoing(current.as_ref(), &ctx.local_node, a.may_reshare);
        stamp(&mut copy, &info);
    }
    if removed.is_empty() && pii.is_empty() && !sighting_anonymised {
        Ok(Decision::Allow(copy))
    } else {
        Ok(Decision::Redacted(Redacted {
            object: copy,
            removed,
            pii,
            sighting_anonymised,
        }))
    }
}
