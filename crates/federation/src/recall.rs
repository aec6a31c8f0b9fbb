//! Taking back what partners may no longer hold: after an agreement changes or ends,
//! after an object's marking or audience changes, and when an object is deleted here
//! (or recalled by the node it came from). Each recall is an egress-ledger entry
//! addressed to the partner (action `recall` or `delete`), which the partner reads from
//! `GET /federation/v1/recalls` on its next sync and applies.

use policy::{Agreement, Decision, MetaDoc, NodeId, ReadPurpose};
use sha2::{Digest, Sha256};

use crate::signature::signing_bytes;
use store::{EgressEntry, EgressRow, Query, VersionFilter};

use crate::directory;
use crate::error::FederationError;
use crate::node::Node;

/// The ledger's deliveries: per (partner, object) the latest row, `sent` or not. With
/// `only`, just those objects' rows are read (through the ledger's object index);
/// without, the whole ledger (or the partner's part of it).
async fn deliveries(
    node: &Node,
    partner: Option<&NodeId>,
    only: Option<&[String]>,
) -> Result<Vec<EgressRow>, FederationError> {
    let mut latest: indexmap::IndexMap<(String, String), EgressRow> = indexmap::IndexMap::new();
    let mut keep = |rows: Vec<EgressRow>| {
        for r in rows {
            if partner.is_none_or(|p| p.as_str() == r.entry.peer) {
                latest.insert((r.entry.peer.clone(), r.entry.object_id.clone()), r);
            }
        }
    };
    if let Some(ids) = only {
        keep(node.store.egress_of_objects(ids).await?);
    } else {
        let mut after = 0;
        loop {
            let rows = node
                .store
                .egress_after(after, partner.map(NodeId::as_str), 10_000)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            keep(rows);
        }
    }
    Ok(latest.into_values().collect())
}

/// Records a deletion for every partner that holds one of `object_ids` (its latest
/// ledger row for that partner is `sent`); only those objects' ledger rows are read.
/// Returns the entries recorded.
pub async fn propagate_deletes(
    node: &Node,
    object_ids: &[String],
    why: &str,
) -> Result<u64, FederationError> {
    if object_ids.is_empty() {
        return Ok(0);
    }
    let detail = serde_json::json!({ "reason": why }).to_string();
    let entries: Vec<EgressEntry> = deliveries(node, None, Some(object_ids))
        .await?
        .into_iter()
        .filter(|r| r.entry.action == "sent")
        .map(|r| EgressEntry {
            peer: r.entry.peer,
            object_id: r.entry.object_id,
            version_key: String::new(),
            content_hash: String::new(),
            agreement_id: r.entry.agreement_id,
            agreement_version: r.entry.agreement_version,
            action: "delete".to_owned(),
            detail: detail.clone(),
        })
        .collect();
    let n = entries.len() as u64;
    node.record_egress(&entries).await?;
    Ok(n)
}

/// The newest stored version of an object, with its metadata.
async fn current(
    node: &Node,
    dir: &taxii::server::gate::Directory,
    id: &str,
) -> Result<Option<(stix::Object, MetaDoc, String)>, FederationError> {
    let page = node
        .store
        .query(&Query {
            ids: vec![id.to_owned()],
            versions: VersionFilter::last(),
            limit: Some(1),
            with_body: true,
            ..Query::default()
        })
        .await?;
    let Some(o) = page.objects.into_iter().next() else {
        return Ok(None);
    };
    let object = stix::Object::from_json_str(&o.json)
        .map_err(|e| FederationError::Invalid(format!("stored {id} does not parse: {e}")))?;
    let doc = taxii::server::gate::load_meta(node.store.as_ref(), dir, &[id], "")
        .await
        .map_err(|e| FederationError::Invalid(e.to_string()))?
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(Some((object, doc, o.version_key)))
}

/// Re-checks what partners hold against the terms in force (for one partner, or all)
/// and records a recall for every object a partner may no longer hold. Returns the
/// recalls recorded.
pub async fn recheck(
    node: &Node,
    partner: Option<&NodeId>,
) -> Result<Vec<EgressEntry>, FederationError> {
    recheck_only(node, partner, None).await
}

/// Changes the terms with a partner: what the partner may no longer hold under `new`
/// is recalled first, then the new terms are saved. In this order a partner that syncs
/// in between still sees the old terms, and when it next sees the new version it has
/// already been told what to give back (so it never keeps content the new terms would
/// have taken back). Returns the terms saved and the recalls recorded.
pub async fn change_agreement(
    node: &Node,
    new: Agreement,
) -> Result<(Agreement, Vec<EgressEntry>), FederationError> {
    let (new, _previous) = directory::prepare_agreement(node.store.as_ref(), new).await?;
    let mut terms: Vec<Agreement> = directory::agreements(node.store.as_ref())
        .await?
        .into_iter()
        .filter(|a| a.partner_node != new.partner_node)
        .collect();
    terms.push(new.clone());
    let recalled = recheck_terms(node, Some(&new.partner_node), None, &terms).await?;
    directory::save_agreement(node.store.as_ref(), &new).await?;
    Ok((new, recalled))
}

/// [`recheck`] restricted to some objects (those that just got a new version).
pub async fn recheck_only(
    node: &Node,
    partner: Option<&NodeId>,
    only: Option<&hashbrown::HashSet<String>>,
) -> Result<Vec<EgressEntry>, FederationError> {
    let agreements: Vec<Agreement> = directory::agreements(node.store.as_ref()).await?;
    recheck_terms(node, partner, only, &agreements).await
}

async fn recheck_terms(
    node: &Node,
    partner: Option<&NodeId>,
    only: Option<&hashbrown::HashSet<String>>,
    agreements: &[Agreement],
) -> Result<Vec<EgressEntry>, FederationError> {
    let dir = taxii::server::gate::load_directory(node.store.as_ref())
        .await
        .map_err(|e| FederationError::Invalid(e.to_string()))?;
    let only_ids: Option<Vec<String>> = only.map(|o| o.iter().cloned().collect());
    let mut out = Vec::new();
    for r in deliveries(node, partner, only_ids.as_deref()).await? {
        if r.entry.action != "sent" {
            continue;
        }
        let agreement = agreements
            .iter()
            .find(|a| a.partner_node.as_str() == r.entry.peer);
        let reason = match (agreement, current(node, &dir, &r.entry.object_id).await?) {
            (_, None) => continue, // deleted: the deletion itself is propagated
            (None, Some(_)) => "no agreement with the partner any more".to_owned(),
            (Some(a), Some((object, doc, version_key))) => {
                let mut object = object;
                if let Some(orig) = &doc.meta.originator {
                    policy::sharing::stamp(
                        &mut object,
                        &policy::sharing::SharingInfo {
                            originator: orig.clone(),
                            may_relay: doc.may_relay,
                            provenance: doc.meta.provenance.clone(),
                            recipients: Vec::new(),
                            communities: Vec::new(),
                            signature: None,
                        },
                    );
                }
                let peer = taxii::server::gate::requester(
                    &dir,
                    &taxii::server::Principal {
                        key: String::new(),
                        org_id: a.partner_org.to_string(),
                        role: "peer".into(),
                        user_id: None,
                    },
                );
                match policy::decide(&dir.ctx, &peer, &object, &doc.meta, ReadPurpose::Sync(a)) {
                    Decision::Deny(reason) => format!("{reason} [{}]", reason.code()),
                    Decision::Allow(copy)
                    | Decision::Redacted(policy::Redacted { object: copy, .. }) => {
                        // The same version, but what the partner may receive of it now
                        // differs from what it holds (a granular marking or PII rule
                        // narrowed): it gives its copy back and pulls the new one.
                        let now = hex::encode(Sha256::digest(signing_bytes(&copy)));
                        if r.entry.version_key == version_key && r.entry.content_hash != now {
                            "the partner holds content of this version it may no longer receive"
                                .to_owned()
                        } else {
                            continue;
                        }
                    }
                }
            }
        };
        out.push(EgressEntry {
            peer: r.entry.peer.clone(),
            object_id: r.entry.object_id.clone(),
            version_key: String::new(),
            content_hash: String::new(),
            agreement_id: agreement
                .map(|a| a.id.clone())
                .unwrap_or(r.entry.agreement_id.clone()),
            agreement_version: agreement
                .map(|a| i64::try_from(a.version).unwrap_or(i64::MAX))
                .unwrap_or(r.entry.agreement_version),
            action: "recall".to_owned(),
            detail: serde_json::json!({ "reason": reason }).to_string(),
        });
    }
    node.record_egress(&out).await?;
    Ok(out)
}
