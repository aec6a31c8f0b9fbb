//! Sharing agreements and the egress rule: nothing leaves a node unless an agreement
//! allows it.

use crate::decide::ObjectMeta;
use crate::error::DenyReason;
use crate::marking::{effective_marking, Tlp};
use crate::model::{Context, NodeId, OrgId};
use crate::pii::RedactionRules;
use crate::sharing::read_sharing;

/// A sharing agreement with one partner node. Agreements are versioned records: a change
/// is a new record with the same `id` and a higher `version`; the egress ledger names the
/// version each object left under.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Agreement {
    pub id: String,
    pub version: u64,
    /// The partner node.
    pub partner_node: NodeId,
    /// The organisation that runs the partner node (the TLP recipient of what is sent).
    pub partner_org: OrgId,
    /// The highest TLP that may be sent (TLP:RED is never sent, whatever this says).
    pub max_tlp: Tlp,
    /// Object types that may be sent; empty means all.
    pub allowed_types: Vec<String>,
    /// Sectors the objects may concern; empty means all.
    pub allowed_sectors: Vec<String>,
    /// Collections whose objects may be sent; empty means all.
    pub allowed_collections: Vec<String>,
    /// Whether sightings are sent to the partner (back to the originator).
    pub sightings_back: bool,
    /// Whether the partner may relay what it receives (written into the sharing
    /// extension, and only ever narrowing the originator's permission).
    pub may_reshare: bool,
    /// How long the partner may keep what it receives.
    pub retention_days: u32,
    /// The stated purpose of the sharing.
    pub purpose: String,
    pub active: bool,
    /// Sightings leave without `where_sighted_refs`, `created_by_ref`,
    /// `observed_data_refs`, and with the count rounded (see `sighting`).
    pub anonymise_sightings: bool,
    /// PII minimisation applied to what leaves.
    pub redaction: RedactionRules,
}

/// Whether `object` (with its stored metadata) may leave this node to the agreement's
/// partner. Checks, in order: active; TLP (never RED, at most `max_tlp`); type; sectors;
/// collections; sightings; the sharing extension (valid; relaying only where the
/// originator allowed; never back to a node already on the path).
pub fn egress_allowed(
    ctx: &Context,
    agreement: &Agreement,
    object: &stix::Object,
    meta: &ObjectMeta,
) -> Result<(), DenyReason> {
    if !agreement.active {
        return Err(DenyReason::AgreementInactive {
            version: agreement.version,
        });
    }
    let tlp = effective_marking(object, ctx.config.default_tlp).tlp;
    if tlp == Tlp::Red {
        return Err(DenyReason::RedOverSync);
    }
    if tlp > agreement.max_tlp {
        return Err(DenyReason::AgreementTlp {
            tlp,
            max: agreement.max_tlp,
        });
    }
    let object_type = object.type_name();
    if !agreement.allowed_types.is_empty()
        && !agreement.allowed_types.iter().any(|t| t == object_type)
    {
        return Err(DenyReason::AgreementType {
            object_type: object_type.to_owned(),
        });
    }
    if !agreement.allowed_sectors.is_empty() {
        let outside: Vec<String> = meta
            .sectors
            .iter()
            .filter(|s| !agreement.allowed_sectors.contains(s))
            .cloned()
            .collect();
        if !outside.is_empty() {
            return Err(DenyReason::AgreementSector { sectors: outside });
        }
    }
    if !agreement.allowed_collections.is_empty()
        && !meta
            .collections
            .iter()
            .any(|c| agreement.allowed_collections.contains(c))
    {
        return Err(DenyReason::AgreementCollection {
            collections: meta.collections.clone(),
        });
    }
    if object_type == "sighting" && !agreement.sightings_back {
        return Err(DenyReason::SightingsNotAllowed);
    }
    let sharing = read_sharing(object)?;
    let partner = &agreement.partner_node;
    if meta.provenance.contains(partner) || meta.originator.as_ref() == Some(partner) {
        return Err(DenyReason::Loop {
            node: partner.clone(),
        });
    }
    match (&meta.originator, &sharing) {
        (None, None) => Ok(()),
        (None, Some(info)) | (Some(_), Some(info)) => {
            if let Some(orig) = &meta.originator {
                if *orig != info.originator {
                    return Err(DenyReason::InvalidSharingExtension(
                        crate::error::ExtensionError {
                            object_id: object.id().to_owned(),
                            pointer: format!(
                                "/extensions/{}/originator",
                                crate::sharing::SHARING_EXTENSION_ID
                            ),
                            message: format!(
                                "the extension names {} but the object was recorded as originating at {orig}",
                                info.originator
                            ),
                        },
                    ));
                }
            }
            if info.has_visited(partner) {
                return Err(DenyReason::Loop {
                    node: partner.clone(),
                });
            }
            // An object published here may carry a stale stamp from an earlier send:
            // only received objects need the originator's permission.
            if info.originator != ctx.local_node && !info.may_relay {
                return Err(DenyReason::RelayNotPermitted {
                    originator: info.originator.clone(),
                });
            }
            Ok(())
        }
        (Some(orig), None) => Err(DenyReason::RelayWithoutExtension {
            originator: orig.clone(),
        }),
    }
}
