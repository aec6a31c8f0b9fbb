//! The domain model: organisations, communities, requesters, node configuration, and
//! the `Context` (the directory a decision is taken against).

use crate::marking::Tlp;
use crate::pii::Minimiser;
use indexmap::{IndexMap, IndexSet};

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);
        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

id_type!(
    /// An organisation (typically its STIX `identity` id).
    OrgId
);
id_type!(
    /// A node of the federation (its STIX `identity` id).
    NodeId
);
id_type!(
    /// A sharing community.
    CommunityId
);
id_type!(
    /// A user account.
    UserId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    NationalCentre,
    RegionalHub,
    SectorRegulator,
    Constituent,
}

/// An organisation. A constituent's `parent` is its national centre: the constituent is
/// one of that centre's clients in the TLP 2.0 sense.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Org {
    pub id: OrgId,
    pub kind: OrgKind,
    pub sector: String,
    pub country: String,
    pub parent: Option<OrgId>,
}

/// A sharing community: the audience of TLP:GREEN objects shared into it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Community {
    pub id: CommunityId,
    pub members: IndexSet<OrgId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Analyst,
    Reader,
    /// A partner node's sync account: may only read through `ReadPurpose::Sync`.
    Peer,
}

/// Who is asking. `communities` are the communities the caller's credentials claim; a
/// claim counts only when the directory confirms the organisation is a member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Requester {
    pub org: OrgId,
    pub user_id: UserId,
    pub role: Role,
    /// An unauthenticated reader: sees TLP:CLEAR only, and only when the node allows it.
    pub anonymous: bool,
    pub communities: Vec<CommunityId>,
}

impl Requester {
    /// An anonymous reader (no organisation, no user).
    pub fn anonymous() -> Self {
        Requester {
            org: OrgId::new(""),
            user_id: UserId::new(""),
            role: Role::Reader,
            anonymous: true,
            communities: Vec::new(),
        }
    }
}

/// Node-wide policy settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyConfig {
    /// The TLP of objects that carry none (TLP:AMBER unless configured).
    pub default_tlp: Tlp,
    /// Whether anonymous readers may receive TLP:CLEAR objects.
    pub allow_anonymous_clear: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            default_tlp: Tlp::Amber,
            allow_anonymous_clear: false,
        }
    }
}

/// Everything a decision depends on besides the requester, the object and its metadata:
/// the node's configuration and directory, and the compiled PII minimiser.
#[derive(Debug, Clone)]
pub struct Context {
    pub local_node: NodeId,
    pub config: PolicyConfig,
    pub orgs: IndexMap<OrgId, Org>,
    pub communities: IndexMap<CommunityId, Community>,
    pub minimiser: Minimiser,
}

impl Context {
    /// A context with the default configuration, an empty directory and the default
    /// PII detectors.
    pub fn new(local_node: NodeId) -> Self {
        Context {
            local_node,
            config: PolicyConfig::default(),
            orgs: IndexMap::new(),
            communities: IndexMap::new(),
            minimiser: Minimiser::default(),
        }
    }

    pub fn add_org(&mut self, org: Org) {
        self.orgs.insert(org.id.clone(), org);
    }

    pub fn add_community(&mut self, community: Community) {
        self.communities.insert(community.id.clone(), community);
    }

    /// The organisation's parent (its national centre), as recorded in the directory.
    pub fn parent_of(&self, org: &OrgId) -> Option<&OrgId> {
        self.orgs.get(org).and_then(|o| o.parent.as_ref())
    }

    /// Whether the directory lists `org` as a member of `community`.
    pub fn is_member(&self, org: &OrgId, community: &CommunityId) -> bool {
        self.communities
            .get(community)
            .is_some_and(|c| c.members.contains(org))
    }

    /// The sector recorded for an organisation.
    pub fn sector_of(&self, org: &OrgId) -> Option<&str> {
        self.orgs.get(org).map(|o| o.sector.as_str())
    }
}
