//! Typed errors and deny reasons, each with a stable code.

use crate::marking::Tlp;
use crate::model::NodeId;

/// Why an object is withheld from a requester or a partner. `code()` is stable (logs,
/// API error bodies, the egress ledger); the message says what and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DenyReason {
    #[error("anonymous readers may only receive TLP:CLEAR objects, and only when the node allows anonymous access (object is {tlp:?})")]
    Anonymous { tlp: Tlp },
    #[error("the requester is outside the audience of {}", tlp.label())]
    TlpAudience { tlp: Tlp },
    #[error("TLP:RED objects are never sent over sync")]
    RedOverSync,
    #[error("PAP:RED objects never appear in blocking exports")]
    PapRedBlockingExport,
    #[error("required property '{property}' of a {object_type} is marked {marking} beyond the requester's reach; the whole object is withheld")]
    RequiredPropertyWithheld {
        object_type: String,
        property: String,
        marking: String,
    },
    #[error("a peer account may only read through sync under an agreement")]
    PeerOutsideSync,
    #[error("sync is only for peer accounts")]
    SyncRequiresPeer,
    #[error(
        "the agreement is with node {agreement_partner}, not with the requester's organisation"
    )]
    AgreementPartnerMismatch { agreement_partner: NodeId },
    #[error("the agreement (version {version}) is not active")]
    AgreementInactive { version: u64 },
    #[error("the object is {} but the agreement allows at most {}", tlp.label(), max.label())]
    AgreementTlp { tlp: Tlp, max: Tlp },
    #[error("the agreement does not allow objects of type '{object_type}'")]
    AgreementType { object_type: String },
    #[error("the agreement does not allow the sector(s) {sectors:?}")]
    AgreementSector { sectors: Vec<String> },
    #[error("the agreement does not allow the collection(s) {collections:?}")]
    AgreementCollection { collections: Vec<String> },
    #[error("the agreement does not send sightings back")]
    SightingsNotAllowed,
    #[error("the object came from {originator} whose sharing extension does not permit relaying")]
    RelayNotPermitted { originator: NodeId },
    #[error("the object came from {originator} and carries no sharing extension, so relaying is not permitted")]
    RelayWithoutExtension { originator: NodeId },
    #[error("node {node} is already on the object's path (originator or provenance); sending it there would loop")]
    Loop { node: NodeId },
    #[error("invalid sharing extension: {0}")]
    InvalidSharingExtension(#[from] ExtensionError),
    #[error("the stored object cannot be read: {reason}")]
    Unreadable { reason: String },
}

impl DenyReason {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::Anonymous { .. } => "policy.anonymous",
            DenyReason::TlpAudience { .. } => "policy.tlp_audience",
            DenyReason::RedOverSync => "policy.red_over_sync",
            DenyReason::PapRedBlockingExport => "policy.pap_red_blocking_export",
            DenyReason::RequiredPropertyWithheld { .. } => "policy.required_property_withheld",
            DenyReason::PeerOutsideSync => "policy.peer_outside_sync",
            DenyReason::SyncRequiresPeer => "policy.sync_requires_peer",
            DenyReason::AgreementPartnerMismatch { .. } => "agreement.partner_mismatch",
            DenyReason::AgreementInactive { .. } => "agreement.inactive",
            DenyReason::AgreementTlp { .. } => "agreement.tlp_exceeded",
            DenyReason::AgreementType { .. } => "agreement.type_not_allowed",
            DenyReason::AgreementSector { .. } => "agreement.sector_not_allowed",
            DenyReason::AgreementCollection { .. } => "agreement.collection_not_allowed",
            DenyReason::SightingsNotAllowed => "agreement.sightings_not_allowed",
            DenyReason::RelayNotPermitted { .. } => "sharing.relay_not_permitted",
            DenyReason::RelayWithoutExtension { .. } => "sharing.relay_without_extension",
            DenyReason::Loop { .. } => "sharing.loop",
            DenyReason::InvalidSharingExtension(_) => "sharing.invalid_extension",
            DenyReason::Unreadable { .. } => "policy.unreadable",
        }
    }
}

/// A malformed Nadhir sharing extension on an object: where (object id and JSON pointer
/// into the object) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object_id} at {pointer}: {message}")]
pub struct ExtensionError {
    pub object_id: String,
    pub pointer: String,
    pub message: String,
}

/// Errors building policy configuration (PII detectors, agreements).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("PII detector '{name}': invalid regular expression: {message}")]
    InvalidPattern { name: String, message: String },
    #[error("PII detector '{name}': {message}")]
    InvalidDetector { name: String, message: String },
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::InvalidPattern { .. } => "pii.invalid_pattern",
            PolicyError::InvalidDetector { .. } => "pii.invalid_detector",
        }
    }
}
