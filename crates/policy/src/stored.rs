//! The documents a node keeps about sharing, as stored (JSON in the store's metadata
//! rows, records and state), so every crate reads them the same way.

use crate::decide::ObjectMeta;
use crate::model::{CommunityId, NodeId, OrgId, UserId};

/// State key of the node's identity id (`identity--<uuid>`), created on first start.
pub const NODE_ID_STATE_KEY: &str = "node.id";
/// State key of the organisation that runs the node (the owner of what is published
/// here without a known publisher, e.g. `nadhir import`).
pub const NODE_ORG_STATE_KEY: &str = "node.org";
/// State key of the node's [`crate::PolicyConfig`] (JSON).
pub const POLICY_CONFIG_STATE_KEY: &str = "policy.config";
/// Record kind of communities (body: [`crate::Community`]).
pub const COMMUNITY_RECORD: &str = "community";
/// Record kind of a collection's sharing defaults (body: [`CollectionSharing`], id: the
/// collection id).
pub const COLLECTION_SHARING_RECORD: &str = "collection-sharing";

/// An object's stored metadata: the policy metadata, and where a received object came
/// from with the signature it arrived with (so relays pass the originator's signature on).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetaDoc {
    pub meta: ObjectMeta,
    /// For a received object: per stored version (its `stix::Timestamp::sort_key`, ""
    /// for unversioned objects), the node that signed that content and the Ed25519
    /// signature (base64), passed on unchanged when the version is relayed.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub signatures: std::collections::BTreeMap<String, SignedBy>,
    /// Whether the originator allowed relaying (narrowed along the path).
    #[serde(default)]
    pub may_relay: bool,
    /// The peer the object was received from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_from: Option<NodeId>,
    /// When it was received (Unix microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<i64>,
}

impl MetaDoc {
    /// The metadata of an object without a stored row: published here by the node's own
    /// organisation, in the collection it is read from.
    pub fn local_default(node_org: &OrgId, collections: Vec<String>) -> Self {
        MetaDoc {
            meta: ObjectMeta {
                owner: node_org.clone(),
                collections,
                ..ObjectMeta::default()
            },
            ..MetaDoc::default()
        }
    }
}

/// Who signed one stored version, and the signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignedBy {
    pub signer: NodeId,
    pub value: String,
}

/// A collection's sharing defaults: the audience given to what is published into it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CollectionSharing {
    /// Organisations the objects are shared to (TLP AMBER / AMBER+STRICT recipients).
    #[serde(default)]
    pub recipients: Vec<OrgId>,
    /// Communities the objects are shared into (the TLP:GREEN audience).
    #[serde(default)]
    pub communities: Vec<CommunityId>,
    /// Users who may read TLP:RED objects.
    #[serde(default)]
    pub named_individuals: Vec<UserId>,
    /// Sectors the objects concern.
    #[serde(default)]
    pub sectors: Vec<String>,
}

impl CollectionSharing {
    /// The metadata of an object `owner` publishes into `collection`.
    pub fn meta_for(&self, owner: &OrgId, collection: &str) -> ObjectMeta {
        ObjectMeta {
            owner: owner.clone(),
            recipients: self.recipients.clone(),
            communities: self.communities.clone(),
            named_individuals: self.named_individuals.clone(),
            originator: None,
            provenance: Vec::new(),
            collections: vec![collection.to_owned()],
            sectors: self.sectors.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_doc_round_trips_and_tolerates_missing_fields() {
        let d = MetaDoc {
            meta: CollectionSharing {
                recipients: vec![OrgId::new("org-b")],
                ..Default::default()
            }
            .meta_for(&OrgId::new("org-a"), "c1"),
            signatures: [(
                "k".to_owned(),
                SignedBy {
                    signer: NodeId::new("identity--x"),
                    value: "c2ln".into(),
                },
            )]
            .into_iter()
            .collect(),
            may_relay: true,
            received_from: None,
            received_at: Some(5),
        };
        let s = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<MetaDoc>(&s).unwrap(), d);
        let min: MetaDoc = serde_json::from_str(r#"{"meta":{"owner":"o","recipients":[],"communities":[],"named_individuals":[],"originator":null,"provenance":[],"collections":[],"sectors":[]}}"#).unwrap();
        assert_eq!(min.meta.owner, OrgId::new("o"));
        assert!(!min.may_relay);
    }
}
