//! THE policy function. Every read path (TAXII, REST, export, SSE, webhooks, sync, UI)
//! asks [`decide`] and sends only what it returns.

use crate::agreement::{egress_allowed, Agreement};
use crate::error::DenyReason;
use crate::granular::{parse_selector, prune, Path};
use crate::marking::{effective_marking, EffectiveMarking, Pap, Tlp};
use crate::model::{CommunityId, Context, NodeId, OrgId, Requester, Role, UserId};
use crate::pii::PiiFinding;
use crate::sharing::{read_sharing, stamp, SharingInfo};
use crate::sighting::anonymise_sighting;
use serde_json::Value;
use std::borrow::Cow;

/// What the store knows about an object besides its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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
    // Empty ids never match anything (a misconfigured account is nobody).
    let named = !requester.user_id.as_str().is_empty()
        && meta.named_individuals.contains(&requester.user_id);
    let is_recipient = |org: &OrgId| {
        !org.as_str().is_empty() && (meta.owner == *org || meta.recipients.contains(org))
    };
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
    match decide_inner(ctx, requester, Cow::Borrowed(object), meta, purpose) {
        Ok(d) => d,
        Err(reason) => Decision::Deny(reason),
    }
}

/// [`decide`] of an object the caller has no further use for: the copy it returns is
/// made from `object` itself instead of from a clone of it. Same decision.
pub fn decide_owned(
    ctx: &Context,
    requester: &Requester,
    object: stix::Object,
    meta: &ObjectMeta,
    purpose: ReadPurpose<'_>,
) -> Decision {
    match decide_inner(ctx, requester, Cow::Owned(object), meta, purpose) {
        Ok(d) => d,
        Err(reason) => Decision::Deny(reason),
    }
}

/// The checks of a read by this node's own readers (every purpose but sync) that depend
/// only on the object-level marking: the role gate (a peer account reads only through
/// sync), the anonymous rule, the TLP audience, PAP:RED out of blocking exports.
fn local_checks(
    ctx: &Context,
    requester: &Requester,
    marking: &EffectiveMarking,
    meta: &ObjectMeta,
    purpose: ReadPurpose<'_>,
) -> Result<(), DenyReason> {
    if requester.role == Role::Peer {
        return Err(DenyReason::PeerOutsideSync);
    }
    if requester.anonymous && !in_audience(ctx, requester, meta, marking.tlp) {
        return Err(DenyReason::Anonymous { tlp: marking.tlp });
    }
    if !in_audience(ctx, requester, meta, marking.tlp) {
        return Err(DenyReason::TlpAudience { tlp: marking.tlp });
    }
    if matches!(purpose, ReadPurpose::Export { blocking: true }) && marking.pap == Some(Pap::Red) {
        return Err(DenyReason::PapRedBlockingExport);
    }
    Ok(())
}

/// What [`decide_json`] returns.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonDecision {
    /// Send the stored text as it is.
    Same,
    /// Send this copy instead (content was removed or rewritten).
    Rewritten(String),
    Deny(DenyReason),
}

/// The marking-relevant parts of an object, read from its JSON text without building it.
#[derive(serde::Deserialize)]
struct MarkingView {
    #[serde(rename = "type")]
    type_name: String,
    id: String,
    #[serde(default)]
    object_marking_refs: Option<Vec<Value>>,
    #[serde(default)]
    granular_markings: Option<serde::de::IgnoredAny>,
}

/// [`decide`] for stored JSON text. For this node's own readers (every purpose but sync)
/// an object without granular markings is decided on its object-level marking alone,
/// read without building the object, by the same checks `decide` runs; anything else
/// (sync, granular markings, text that is not a plain object) is parsed and `decide`d.
pub fn decide_json(
    ctx: &Context,
    requester: &Requester,
    json: &str,
    meta: &ObjectMeta,
    purpose: ReadPurpose<'_>,
) -> JsonDecision {
    if !matches!(purpose, ReadPurpose::Sync(_)) {
        if let Ok(view) = serde_json::from_str::<MarkingView>(json) {
            if view.granular_markings.is_none() {
                let refs: Vec<&str> = view
                    .object_marking_refs
                    .iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let marking = crate::marking::effective_marking_of(
                    &view.type_name,
                    &view.id,
                    refs.iter().copied(),
                    ctx.config.default_tlp,
                );
                return match local_checks(ctx, requester, &marking, meta, purpose) {
                    Ok(()) => JsonDecision::Same,
                    Err(reason) => JsonDecision::Deny(reason),
                };
            }
        }
    }
    let object = match stix::Object::from_json_str(json) {
        Ok(o) => o,
        Err(e) => {
            return JsonDecision::Deny(DenyReason::Unreadable {
                reason: e.to_string(),
            })
        }
    };
    match decide_owned(ctx, requester, object, meta, purpose) {
        Decision::Allow(copy) if !matches!(purpose, ReadPurpose::Sync(_)) => {
            // Local reads never change an allowed copy.
            let _ = copy;
            JsonDecision::Same
        }
        Decision::Allow(copy) => JsonDecision::Rewritten(copy.to_json()),
        Decision::Redacted(r) => JsonDecision::Rewritten(r.object.to_json()),
        Decision::Deny(reason) => JsonDecision::Deny(reason),
    }
}

fn decide_inner(
    ctx: &Context,
    requester: &Requester,
    object: Cow<'_, stix::Object>,
    meta: &ObjectMeta,
    purpose: ReadPurpose<'_>,
) -> Result<Decision, DenyReason> {
    let marking = effective_marking(&object, ctx.config.default_tlp);
    let agreement = match purpose {
        ReadPurpose::Sync(a) => Some(a),
        _ => None,
    };
    match agreement {
        None => local_checks(ctx, requester, &marking, meta, purpose)?,
        Some(a) => {
            match requester.role {
                Role::Peer if requester.anonymous => return Err(DenyReason::SyncRequiresPeer),
                Role::Peer => {}
                _ => return Err(DenyReason::SyncRequiresPeer),
            }
            if requester.anonymous && !in_audience(ctx, requester, meta, marking.tlp) {
                return Err(DenyReason::Anonymous { tlp: marking.tlp });
            }
            if marking.tlp == Tlp::Red {
                return Err(DenyReason::RedOverSync);
            }
            if a.partner_org != requester.org {
                return Err(DenyReason::AgreementPartnerMismatch {
                    agreement_partner: a.partner_node.clone(),
                });
            }
            egress_allowed(ctx, a, &object, meta)?;
            if !in_audience(ctx, requester, meta, marking.tlp) {
                return Err(DenyReason::TlpAudience { tlp: marking.tlp });
            }
        }
    }
    let blocking = matches!(purpose, ReadPurpose::Export { blocking: true });

    // Granular markings.
    let mut targets: Vec<Path> = Vec::new();
    let mut target_marking: Vec<String> = Vec::new();
    for (level, selectors) in granular_markings(&object) {
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
    // The sharing extension the object came with (read before `object` becomes the
    // copy; its error, if any, is reported where it always was, below).
    let current = agreement.map(|_| read_sharing(&object));
    let (mut copy, removed) = if targets.is_empty() {
        (object.into_owned(), Vec::new())
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
        pii = ctx.minimiser.minimise_in_place(&mut copy, &a.redaction);
        let current = current.transpose()?.flatten();
        // The TLP audience travels with the copy: the recipients known here plus the
        // partner it is sent to, and the communities it is shared into.
        let recipients = meta
            .recipients
            .iter()
            .chain(std::iter::once(&a.partner_org))
            .cloned();
        let info = SharingInfo::outgoing(current.as_ref(), &ctx.local_node, a.may_reshare)
            .with_audience(recipients, meta.communities.iter().cloned());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marking::*;
    use crate::model::{Community, Org, OrgKind};
    use crate::pii::RedactionRules;
    use indexmap::IndexSet;
    use serde_json::json;

    const NODE_A: &str = "identity--00000000-0000-4000-8000-00000000000a";
    const NODE_B: &str = "identity--00000000-0000-4000-8000-00000000000b";
    const NODE_H: &str = "identity--00000000-0000-4000-8000-0000000000f0";

    fn ctx() -> Context {
        let mut c = Context::new(NodeId::new(NODE_A));
        for (id, kind, parent) in [
            ("ncA", OrgKind::NationalCentre, None),
            ("bankA1", OrgKind::Constituent, Some("ncA")),
            ("ncB", OrgKind::NationalCentre, None),
            ("bankB1", OrgKind::Constituent, Some("ncB")),
            ("hub", OrgKind::RegionalHub, None),
        ] {
            c.add_org(Org {
                id: id.into(),
                kind,
                sector: "finance".into(),
                country: "XX".into(),
                parent: parent.map(OrgId::from),
            });
        }
        c.add_community(Community {
            id: "gulf-fin".into(),
            members: IndexSet::from(["ncA".into(), "ncB".into()]),
        });
        c
    }

    fn user(org: &str, user: &str, role: Role, communities: &[&str]) -> Requester {
        Requester {
            org: org.into(),
            user_id: user.into(),
            role,
            anonymous: false,
            communities: communities.iter().map(|c| CommunityId::from(*c)).collect(),
        }
    }

    fn indicator(markings: &[&str]) -> stix::Object {
        let mut v = json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": "C2 domain", "pattern": "[domain-name:value = 'evil.example']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
        });
        if !markings.is_empty() {
            v["object_marking_refs"] = json!(markings);
        }
        stix::Object::from_value(v).unwrap()
    }

    fn meta() -> ObjectMeta {
        ObjectMeta {
            owner: "ncA".into(),
            recipients: vec!["ncB".into()],
            communities: vec!["gulf-fin".into()],
            named_individuals: vec!["alice-at-ncB".into()],
            ..ObjectMeta::default()
        }
    }

    fn agreement(partner_node: &str, partner_org: &str, max: Tlp) -> Agreement {
        Agreement {
            id: "agr-1".into(),
            version: 1,
            partner_node: partner_node.into(),
            partner_org: partner_org.into(),
            max_tlp: max,
            allowed_types: vec![],
            allowed_sectors: vec![],
            allowed_collections: vec![],
            sightings_back: true,
            may_reshare: false,
            retention_days: 90,
            purpose: "early warning".into(),
            active: true,
            anonymise_sightings: true,
            redaction: RedactionRules::redact_all(),
        }
    }

    fn allowed(d: &Decision) -> bool {
        d.object().is_some()
    }

    fn code(d: &Decision) -> &'static str {
        match d {
            Decision::Deny(r) => r.code(),
            _ => "allowed",
        }
    }

    #[test]
    fn clear_is_for_everyone_and_anonymous_only_when_enabled() {
        let mut c = ctx();
        let o = indicator(&[TLP2_CLEAR]);
        let anon = Requester::anonymous();
        let d = decide(&c, &anon, &o, &meta(), ReadPurpose::Read);
        assert_eq!(code(&d), "policy.anonymous");
        c.config.allow_anonymous_clear = true;
        assert!(matches!(
            decide(&c, &anon, &o, &meta(), ReadPurpose::Read),
            Decision::Allow(_)
        ));
        // Anonymous never sees more than CLEAR, even if allowed.
        let g = indicator(&[TLP2_GREEN]);
        assert_eq!(
            code(&decide(&c, &anon, &g, &meta(), ReadPurpose::Read)),
            "policy.anonymous"
        );
        let stranger = user("unknown-org", "u", Role::Reader, &[]);
        assert!(allowed(&decide(
            &c,
            &stranger,
            &o,
            &meta(),
            ReadPurpose::Stream
        )));
    }

    #[test]
    fn green_is_for_confirmed_community_members() {
        let c = ctx();
        let o = indicator(&[TLP2_GREEN]);
        let member = user("ncB", "u", Role::Reader, &["gulf-fin"]);
        assert!(allowed(&decide(
            &c,
            &member,
            &o,
            &meta(),
            ReadPurpose::Read
        )));
        // The claim must be confirmed by the directory: the hub is not a member.
        let claimant = user("hub", "u", Role::Reader, &["gulf-fin"]);
        assert_eq!(
            code(&decide(&c, &claimant, &o, &meta(), ReadPurpose::Read)),
            "policy.tlp_audience"
        );
        // A member of the community who does not claim it in this session.
        let no_claim = user("ncB", "u", Role::Reader, &[]);
        // ... is still a recipient (ncB is in recipients) so sees GREEN via AMBER audience.
        assert!(allowed(&decide(
            &c,
            &no_claim,
            &o,
            &meta(),
            ReadPurpose::Read
        )));
        let mut m = meta();
        m.recipients.clear();
        assert!(!allowed(&decide(&c, &no_claim, &o, &m, ReadPurpose::Read)));
        // An object shared into no community is not GREEN-visible to community members.
        m.communities.clear();
        assert!(!allowed(&decide(&c, &member, &o, &m, ReadPurpose::Read)));
    }

    #[test]
    fn amber_is_recipient_and_clients_strict_is_recipient_only() {
        let c = ctx();
        let amber = indicator(&[TLP2_AMBER]);
        let strict = indicator(&[TLP2_AMBER_STRICT]);
        let nc_b = user("ncB", "u", Role::Analyst, &[]);
        let bank_b1 = user("bankB1", "u", Role::Analyst, &[]);
        let bank_a1 = user("bankA1", "u", Role::Analyst, &[]);
        let hub = user("hub", "u", Role::Analyst, &["gulf-fin"]);
        let m = meta();
        assert!(allowed(&decide(&c, &nc_b, &amber, &m, ReadPurpose::Read)));
        assert!(allowed(&decide(
            &c,
            &bank_b1,
            &amber,
            &m,
            ReadPurpose::Read
        )));
        // The owner's clients too.
        assert!(allowed(&decide(
            &c,
            &bank_a1,
            &amber,
            &m,
            ReadPurpose::Read
        )));
        assert!(!allowed(&decide(&c, &hub, &amber, &m, ReadPurpose::Read)));
        assert!(allowed(&decide(&c, &nc_b, &strict, &m, ReadPurpose::Read)));
        assert_eq!(
            code(&decide(&c, &bank_b1, &strict, &m, ReadPurpose::Read)),
            "policy.tlp_audience"
        );
        assert!(!allowed(&decide(
            &c,
            &bank_a1,
            &strict,
            &m,
            ReadPurpose::Read
        )));
        // TLP 1.0 AMBER behaves as 2.0 AMBER.
        assert!(allowed(&decide(
            &c,
            &bank_b1,
            &indicator(&[TLP1_AMBER]),
            &m,
            ReadPurpose::Read
        )));
    }

    #[test]
    fn unmarked_gets_the_node_default() {
        let mut c = ctx();
        let o = indicator(&[]);
        let bank_b1 = user("bankB1", "u", Role::Reader, &[]);
        let member = user("ncB", "u", Role::Reader, &["gulf-fin"]);
        let mut m = meta();
        m.recipients.clear();
        // Default AMBER: the community member who is no recipient is out.
        assert!(!allowed(&decide(&c, &member, &o, &m, ReadPurpose::Read)));
        c.config.default_tlp = Tlp::Green;
        assert!(allowed(&decide(&c, &member, &o, &m, ReadPurpose::Read)));
        assert!(!allowed(&decide(&c, &bank_b1, &o, &m, ReadPurpose::Read)));
    }

    #[test]
    fn red_is_named_individuals_only_and_never_synced() {
        let c = ctx();
        let o = indicator(&[TLP2_RED]);
        let alice = user("ncB", "alice-at-ncB", Role::Analyst, &[]);
        let colleague = user("ncB", "bob-at-ncB", Role::Admin, &[]);
        let owner_admin = user("ncA", "root", Role::Admin, &[]);
        assert!(allowed(&decide(&c, &alice, &o, &meta(), ReadPurpose::Read)));
        assert!(!allowed(&decide(
            &c,
            &colleague,
            &o,
            &meta(),
            ReadPurpose::Read
        )));
        assert!(!allowed(&decide(
            &c,
            &owner_admin,
            &o,
            &meta(),
            ReadPurpose::Export { blocking: false }
        )));
        let a = agreement(NODE_B, "ncB", Tlp::Red);
        let peer = user("ncB", "alice-at-ncB", Role::Peer, &[]);
        assert_eq!(
            code(&decide(&c, &peer, &o, &meta(), ReadPurpose::Sync(&a))),
            "policy.red_over_sync"
        );
        // TLP 1.0 RED too.
        let o1 = indicator(&[TLP1_RED]);
        assert_eq!(
            code(&decide(&c, &peer, &o1, &meta(), ReadPurpose::Sync(&a))),
            "policy.red_over_sync"
        );
    }

    #[test]
    fn roles_and_purposes() {
        let c = ctx();
        let o = indicator(&[TLP2_CLEAR]);
        let a = agreement(NODE_B, "ncB", Tlp::Amber);
        let peer = user("ncB", "p", Role::Peer, &[]);
        let analyst = user("ncB", "u", Role::Analyst, &[]);
        assert_eq!(
            code(&decide(&c, &peer, &o, &meta(), ReadPurpose::Read)),
            "policy.peer_outside_sync"
        );
        assert_eq!(
            code(&decide(&c, &analyst, &o, &meta(), ReadPurpose::Sync(&a))),
            "policy.sync_requires_peer"
        );
        // An account with an empty organisation id is nobody, even against default meta.
        let nobody = user("", "", Role::Reader, &[]);
        let amber = indicator(&[TLP2_AMBER]);
        assert!(!allowed(&decide(
            &c,
            &nobody,
            &amber,
            &ObjectMeta::default(),
            ReadPurpose::Read
        )));
        let other_peer = user("hub", "p", Role::Peer, &[]);
        assert_eq!(
            code(&decide(&c, &other_peer, &o, &meta(), ReadPurpose::Sync(&a))),
            "agreement.partner_mismatch"
        );
        assert!(allowed(&decide(
            &c,
            &peer,
            &o,
            &meta(),
            ReadPurpose::Sync(&a)
        )));
        for p in [
            ReadPurpose::Stream,
            ReadPurpose::Webhook,
            ReadPurpose::Export { blocking: true },
        ] {
            assert!(allowed(&decide(&c, &analyst, &o, &meta(), p)));
        }
    }

    #[test]
    fn pap_red_never_in_blocking_exports() {
        let c = ctx();
        let o = indicator(&[TLP2_AMBER, PAP_RED]);
        let r = user("ncB", "u", Role::Analyst, &[]);
        assert_eq!(
            code(&decide(
                &c,
                &r,
                &o,
                &meta(),
                ReadPurpose::Export { blocking: true }
            )),
            "policy.pap_red_blocking_export"
        );
        assert!(allowed(&decide(
            &c,
            &r,
            &o,
            &meta(),
            ReadPurpose::Export { blocking: false }
        )));
        assert!(allowed(&decide(&c, &r, &o, &meta(), ReadPurpose::Read)));
        let amber_pap = indicator(&[TLP2_AMBER, PAP_AMBER]);
        assert!(allowed(&decide(
            &c,
            &r,
            &amber_pap,
            &meta(),
            ReadPurpose::Export { blocking: true }
        )));
        // Granular PAP:RED on a property: removed from blocking exports only.
        let mut g = indicator(&[TLP2_GREEN]);
        g.as_map_mut()
            .insert("description".into(), json!("internal sinkhole"));
        g.as_map_mut().insert(
            "granular_markings".into(),
            json!([{"marking_ref": PAP_RED, "selectors": ["description"]}]),
        );
        match decide(&c, &r, &g, &meta(), ReadPurpose::Export { blocking: true }) {
            Decision::Redacted(red) => {
                assert!(red.object.get("description").is_none());
                assert!(red.object.get("granular_markings").is_none());
                assert_eq!(red.removed, vec!["description"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decide(&c, &r, &g, &meta(), ReadPurpose::Read),
            Decision::Allow(_)
        ));
    }

    #[test]
    fn granular_markings_remove_or_withhold() {
        let c = ctx();
        let mut o = indicator(&[TLP2_GREEN]);
        let m = o.as_map_mut();
        m.insert(
            "description".into(),
            json!("seen at the central bank's SWIFT gateway"),
        );
        m.insert(
            "external_references".into(),
            json!([{"source_name": "ncA", "url": "https://portal.ncA.example/case/77"}]),
        );
        m.insert(
            "granular_markings".into(),
            json!([
                {"marking_ref": TLP2_AMBER_STRICT, "selectors": ["description"]},
                {"marking_ref": TLP2_AMBER, "selectors": ["external_references.[0].url"]},
                {"marking_ref": TLP2_CLEAR, "selectors": ["name"]}
            ]),
        );
        let member_only = ObjectMeta {
            recipients: vec![],
            ..meta()
        };
        let hub_member = {
            let mut c2 = c.clone();
            c2.communities
                .get_mut(&CommunityId::from("gulf-fin"))
                .unwrap()
                .members
                .insert("hub".into());
            c2
        };
        let hub = user("hub", "u", Role::Reader, &["gulf-fin"]);
        match decide(&hub_member, &hub, &o, &member_only, ReadPurpose::Read) {
            Decision::Redacted(r) => {
                assert_eq!(
                    r.removed,
                    vec!["description", "external_references.[0].url"]
                );
                assert_eq!(
                    r.object.get("external_references"),
                    Some(&json!([{"source_name": "ncA"}]))
                );
                assert_eq!(
                    r.object.get("granular_markings"),
                    Some(&json!([{"marking_ref": TLP2_CLEAR, "selectors": ["name"]}]))
                );
            }
            other => panic!("{other:?}"),
        }
        // A client of a recipient sees AMBER but not AMBER+STRICT.
        let bank_b1 = user("bankB1", "u", Role::Reader, &[]);
        match decide(&c, &bank_b1, &o, &meta(), ReadPurpose::Read) {
            Decision::Redacted(r) => assert_eq!(r.removed, vec!["description"]),
            other => panic!("{other:?}"),
        }
        // The recipient sees everything.
        let nc_b = user("ncB", "u", Role::Reader, &[]);
        assert_eq!(
            decide(&c, &nc_b, &o, &meta(), ReadPurpose::Read),
            Decision::Allow(o.clone())
        );
        // A required property marked beyond reach withholds the object.
        let mut p = indicator(&[TLP2_GREEN]);
        p.as_map_mut().insert(
            "granular_markings".into(),
            json!([{"marking_ref": TLP2_RED, "selectors": ["pattern"]}]),
        );
        assert_eq!(
            code(&decide(&c, &nc_b, &p, &meta(), ReadPurpose::Read)),
            "policy.required_property_withheld"
        );
        // A malformed selector on a restrictive marking withholds too.
        let mut q = indicator(&[TLP2_GREEN]);
        q.as_map_mut().insert(
            "granular_markings".into(),
            json!([{"marking_ref": TLP2_RED, "selectors": ["description.[x]"]}]),
        );
        assert_eq!(
            code(&decide(&c, &nc_b, &q, &meta(), ReadPurpose::Read)),
            "policy.required_property_withheld"
        );
    }

    #[test]
    fn sync_applies_agreement_redaction_and_stamps_the_extension() {
        let c = ctx();
        let mut o = indicator(&[TLP2_AMBER]);
        o.as_map_mut().insert(
            "description".into(),
            json!("Reported by Dr. Layla Haddad (layla@bank.example) +966 50 123 4567"),
        );
        let a = agreement(NODE_B, "ncB", Tlp::Amber);
        let peer = user("ncB", "p", Role::Peer, &[]);
        match decide(&c, &peer, &o, &meta(), ReadPurpose::Sync(&a)) {
            Decision::Redacted(r) => {
                assert_eq!(
                    r.object.get("description"),
                    Some(&json!(
                        "Reported by Dr. [REDACTED:person] ([REDACTED:email]) [REDACTED:phone]"
                    ))
                );
                assert_eq!(r.pii.len(), 3);
                assert!(r.pii.iter().all(|f| f.pointer == "/description"));
                let info = crate::sharing::read_sharing(&r.object).unwrap().unwrap();
                assert_eq!(info.originator, NodeId::new(NODE_A));
                assert!(!info.may_relay);
                // The audience travels: meta.recipients ∪ {partner}, no repeat.
                assert_eq!(info.recipients, vec![OrgId::new("ncB")]);
                assert_eq!(info.communities, vec![CommunityId::new("gulf-fin")]);
                assert_eq!(info.signature, None);
                // Nothing else changed.
                assert_eq!(r.object.get("pattern"), o.get("pattern"));
                assert_eq!(r.object.id(), o.id());
            }
            other => panic!("{other:?}"),
        }
        // Over max_tlp: denied.
        let green_only = agreement(NODE_B, "ncB", Tlp::Green);
        assert_eq!(
            code(&decide(
                &c,
                &peer,
                &o,
                &meta(),
                ReadPurpose::Sync(&green_only)
            )),
            "agreement.tlp_exceeded"
        );
    }

    #[test]
    fn sync_stamps_the_audience_with_the_partner_and_no_stale_signature() {
        let c = ctx();
        let a = agreement(NODE_B, "ncB", Tlp::Amber);
        let peer = user("ncB", "p", Role::Peer, &[]);
        // CLEAR: the audience lists below do not gate the decision.
        let mut o = indicator(&[TLP2_CLEAR]);
        // A stamp left from an earlier send, signed: the new copy is unsigned.
        let earlier = SharingInfo {
            signature: Some(crate::sharing::Signature {
                signer: NodeId::new(NODE_A),
                value: format!("{}==", "A".repeat(86)),
            }),
            ..SharingInfo::outgoing(None, &NodeId::new(NODE_A), true)
        };
        stamp(&mut o, &earlier);
        let cases = [
            (vec![], vec![], vec!["ncB"], vec![]),
            (
                vec!["hub", "ncB", "hub"],
                vec!["gulf-fin", "gulf-fin"],
                vec!["hub", "ncB"],
                vec!["gulf-fin"],
            ),
            (vec!["bankA1"], vec![], vec!["bankA1", "ncB"], vec![]),
        ];
        for (recipients, communities, want_r, want_c) in cases {
            let m = ObjectMeta {
                recipients: recipients.into_iter().map(OrgId::from).collect(),
                communities: communities.into_iter().map(CommunityId::from).collect(),
                ..meta()
            };
            let d = decide(&c, &peer, &o, &m, ReadPurpose::Sync(&a));
            let copy = d.object().unwrap();
            let info = crate::sharing::read_sharing(copy).unwrap().unwrap();
            let want_r: Vec<OrgId> = want_r.into_iter().map(OrgId::from).collect();
            let want_c: Vec<CommunityId> = want_c.into_iter().map(CommunityId::from).collect();
            assert_eq!(info.recipients, want_r);
            assert_eq!(info.communities, want_c);
            assert_eq!(info.signature, None);
            let ext = &copy.get("extensions").unwrap()[crate::sharing::SHARING_EXTENSION_ID];
            assert!(ext.get("signer").is_none() && ext.get("signature").is_none());
            assert_eq!(
                ext.get("communities").is_some(),
                !info.communities.is_empty()
            );
        }
    }

    /// `decide_owned` reaches the same verdict and copy as `decide` on every path:
    /// allowed, PII-redacted, granular removal, denied, and a malformed extension.
    #[test]
    fn decide_owned_decides_like_decide() {
        let c = ctx();
        let a = agreement(NODE_B, "ncB", Tlp::Amber);
        let peer = user("ncB", "p", Role::Peer, &[]);
        let analyst = user("ncA", "u", Role::Analyst, &[]);
        let mut objects = vec![
            indicator(&[TLP2_CLEAR]),
            indicator(&[TLP2_AMBER]),
            indicator(&[TLP2_RED]),
        ];
        let mut pii = indicator(&[TLP2_GREEN]);
        pii.as_map_mut().insert(
            "description".into(),
            json!("Reported by Dr. Layla Haddad (layla@bank.example)"),
        );
        objects.push(pii);
        let mut granular = indicator(&[TLP2_GREEN]);
        granular.as_map_mut().insert(
            "granular_markings".into(),
            json!([{"marking_ref": TLP2_RED, "selectors": ["description"]}]),
        );
        granular
            .as_map_mut()
            .insert("description".into(), json!("for red eyes only"));
        objects.push(granular);
        let mut stamped = indicator(&[TLP2_CLEAR]);
        stamp(
            &mut stamped,
            &SharingInfo::outgoing(None, &NodeId::new(NODE_A), true),
        );
        objects.push(stamped.clone());
        let mut broken = stamped;
        broken.as_map_mut()["extensions"][crate::sharing::SHARING_EXTENSION_ID]["originator"] =
            json!("node-a");
        objects.push(broken);
        let mut verdicts = std::collections::BTreeSet::new();
        for o in &objects {
            for (who, purpose) in [
                (&peer, ReadPurpose::Sync(&a)),
                (&analyst, ReadPurpose::Read),
                (&analyst, ReadPurpose::Export { blocking: true }),
            ] {
                let by_ref = decide(&c, who, o, &meta(), purpose);
                let owned = decide_owned(&c, who, o.clone(), &meta(), purpose);
                assert_eq!(owned, by_ref, "{o:?} {purpose:?}");
                verdicts.insert(match &owned {
                    Decision::Allow(_) => "allow".to_owned(),
                    Decision::Redacted(_) => "redacted".to_owned(),
                    Decision::Deny(r) => r.code().to_owned(),
                });
            }
        }
        // The cases above do cover allowed, redacted and several refusals.
        assert!(
            verdicts.contains("allow") && verdicts.contains("redacted"),
            "{verdicts:?}"
        );
        assert!(verdicts.len() >= 4, "{verdicts:?}");
    }

    #[test]
    fn relays_need_the_originators_permission() {
        let mut c = ctx();
        c.local_node = NodeId::new(NODE_H);
        let a = agreement(NODE_B, "ncB", Tlp::Amber);
        let peer = user("ncB", "p", Role::Peer, &[]);
        let received = ObjectMeta {
            originator: Some(NODE_A.into()),
            provenance: vec![NODE_A.into()],
            ..meta()
        };
        let mut o = indicator(&[TLP2_GREEN]);
        // No extension: not relayed.
        assert_eq!(
            code(&decide(&c, &peer, &o, &received, ReadPurpose::Sync(&a))),
            "sharing.relay_without_extension"
        );
        let deny = SharingInfo::outgoing(None, &NodeId::new(NODE_A), false);
        stamp(&mut o, &deny);
        assert_eq!(
            code(&decide(&c, &peer, &o, &received, ReadPurpose::Sync(&a))),
            "sharing.relay_not_permitted"
        );
        let allow = SharingInfo::outgoing(None, &NodeId::new(NODE_A), true);
        stamp(&mut o, &allow);
        let d = decide(&c, &peer, &o, &received, ReadPurpose::Sync(&a));
        let info = crate::sharing::read_sharing(d.object().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            info.provenance,
            vec![NodeId::new(NODE_A), NodeId::new(NODE_H)]
        );
        assert!(
            !info.may_relay,
            "B's agreement with H does not allow re-sharing"
        );
        // Never back to the originator.
        let back = agreement(NODE_A, "ncA", Tlp::Amber);
        let peer_a = user("ncA", "p", Role::Peer, &[]);
        assert_eq!(
            code(&decide(
                &c,
                &peer_a,
                &o,
                &received,
                ReadPurpose::Sync(&back)
            )),
            "sharing.loop"
        );
    }

    /// `decide_json` answers exactly as `decide` for every local purpose, marking,
    /// requester and object shape (granular markings and marking definitions included).
    #[test]
    fn decide_json_agrees_with_decide() {
        use crate::marking::*;
        let c = ctx();
        let mut objects: Vec<stix::Object> = Vec::new();
        let sets: [&[&str]; 9] = [
            &[],
            &[TLP2_CLEAR],
            &[TLP2_GREEN],
            &[TLP2_AMBER],
            &[TLP2_AMBER_STRICT],
            &[TLP2_RED],
            &[TLP1_WHITE, PAP_RED],
            &[TLP2_GREEN, PAP_RED],
            &[TLP1_AMBER, TLP2_CLEAR],
        ];
        for m in sets {
            objects.push(indicator(m));
            let mut g = indicator(m);
            g.as_map_mut().insert(
                "granular_markings".into(),
                json!([{"marking_ref": TLP2_RED, "selectors": ["name"]}]),
            );
            objects.push(g);
        }
        objects.push(
            stix::Object::from_value(json!({
                "type": "marking-definition", "spec_version": "2.1", "id": TLP2_RED,
                "created": "2022-10-01T00:00:00.000Z", "name": "TLP:RED",
                "extensions": {}
            }))
            .unwrap(),
        );
        let readers = [
            user("ncA", "u1", Role::Analyst, &[]),
            user("ncB", "u2", Role::Reader, &["gulf-fin"]),
            user("bankA", "u3", Role::Reader, &[]),
            user("other", "u4", Role::Admin, &[]),
            user("ncB", "u5", Role::Peer, &[]),
            Requester::anonymous(),
        ];
        let mut anon_ctx = c.clone();
        anon_ctx.config.allow_anonymous_clear = true;
        for cx in [&c, &anon_ctx] {
            for o in &objects {
                let text = o.to_json();
                for r in &readers {
                    for purpose in [
                        ReadPurpose::Read,
                        ReadPurpose::Export { blocking: false },
                        ReadPurpose::Export { blocking: true },
                        ReadPurpose::Stream,
                        ReadPurpose::Webhook,
                    ] {
                        let want = match decide(cx, r, o, &meta(), purpose) {
                            Decision::Allow(_) => JsonDecision::Same,
                            Decision::Redacted(x) => JsonDecision::Rewritten(x.object.to_json()),
                            Decision::Deny(d) => JsonDecision::Deny(d),
                        };
                        let got = decide_json(cx, r, &text, &meta(), purpose);
                        assert_eq!(got, want, "{} for {r:?} {purpose:?}", o.id());
                    }
                }
            }
        }
    }
}
