//! Peers and sharing agreements, kept as records in the node's store.
//!
//! - A peer (record kind [`PEER_RECORD`], id = its node id) is a partner node: its
//!   organisation, its public key, and, when this node pulls from it, its TAXII address
//!   and the token this node uses there. A peer without an address only lends its key
//!   to the directory (a node whose objects arrive through a hub).
//! - An agreement (kind [`AGREEMENT_RECORD`], id = the partner node id) is the terms in
//!   force with one partner; every version is also kept under
//!   [`AGREEMENT_HISTORY_RECORD`] (id `<partner>@<version>`), so the egress ledger's
//!   agreement versions stay readable.

use policy::{Agreement, NodeId, OrgId};
use store::{RecordRow, Store};

use crate::error::FederationError;
use crate::identity::PeerKeys;

pub const PEER_RECORD: &str = "peer";
pub const AGREEMENT_RECORD: &str = "agreement";
pub const AGREEMENT_HISTORY_RECORD: &str = "agreement-version";

/// A partner node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peer {
    /// Its identity id (`identity--…`).
    pub node: NodeId,
    /// A short name for the CLI (`--peer NAME`).
    pub name: String,
    /// The organisation that runs it (its peer account here belongs to this organisation).
    pub org: OrgId,
    /// Its Ed25519 public key (standard base64).
    pub public_key: String,
    /// Its TAXII API root URL (e.g. `http://10.0.0.2:8443/api/`); `None`: never pulled.
    #[serde(default)]
    pub url: Option<String>,
    /// The Bearer token this node presents there.
    #[serde(default)]
    pub token: Option<String>,
    /// Remote collections to pull (ids or aliases); empty: every readable one.
    #[serde(default)]
    pub collections: Vec<String>,
    /// The local collection (alias) what is received from it goes into.
    #[serde(default = "default_inbox")]
    pub inbox: String,
    /// Push new objects to it as they are stored here (besides its pulls).
    #[serde(default)]
    pub push: bool,
    /// The collection (id or alias) at the peer pushes go to.
    #[serde(default = "default_inbox")]
    pub push_collection: String,
}

fn default_inbox() -> String {
    "inbox".to_owned()
}

/// The default local collection alias for received objects.
pub fn inbox_alias() -> String {
    default_inbox()
}

fn bad_record(kind: &str, id: &str, e: serde_json::Error) -> FederationError {
    FederationError::Record {
        kind: kind.to_owned(),
        id: id.to_owned(),
        reason: e.to_string(),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Plain data structs of strings, numbers and lists always serialise.
    serde_json::to_string(v).unwrap_or_default()
}

/// Every peer, by name.
pub async fn list_peers(store: &dyn Store) -> Result<Vec<Peer>, FederationError> {
    let mut out = Vec::new();
    for r in store.list_records(PEER_RECORD, None, 100_000).await? {
        out.push(
            serde_json::from_str::<Peer>(&r.body).map_err(|e| bad_record(PEER_RECORD, &r.id, e))?,
        );
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A peer by name or node id.
pub async fn find_peer(
    store: &dyn Store,
    name_or_id: &str,
) -> Result<Option<Peer>, FederationError> {
    Ok(list_peers(store)
        .await?
        .into_iter()
        .find(|p| p.name == name_or_id || p.node.as_str() == name_or_id))
}

/// Adds or replaces a peer (checks its key).
pub async fn put_peer(store: &dyn Store, peer: &Peer) -> Result<(), FederationError> {
    let mut keys = PeerKeys::new();
    keys.insert(peer.node.clone(), &peer.public_key)?;
    if let Some(other) = list_peers(store)
        .await?
        .into_iter()
        .find(|p| p.name == peer.name && p.node != peer.node)
    {
        return Err(FederationError::Invalid(format!(
            "peer name {:?} is already used by {}",
            peer.name, other.node
        )));
    }
    store
        .put_record(
            &RecordRow {
                kind: PEER_RECORD.to_owned(),
                id: peer.node.to_string(),
                tag: peer.name.clone(),
                body: to_json(peer),
                updated: store::now_micros(),
            },
            None,
        )
        .await?;
    Ok(())
}

/// Removes a peer; returns whether it existed.
pub async fn remove_peer(store: &dyn Store, node: &NodeId) -> Result<bool, FederationError> {
    Ok(store.delete_record(PEER_RECORD, node.as_str()).await?)
}

/// The public keys of every peer (and of this node itself).
pub async fn peer_keys(
    store: &dyn Store,
    own: Option<(&NodeId, &str)>,
) -> Result<PeerKeys, FederationError> {
    let mut keys = PeerKeys::new();
    for p in list_peers(store).await? {
        keys.insert(p.node.clone(), &p.public_key)?;
    }
    if let Some((id, key)) = own {
        keys.insert(id.clone(), key)?;
    }
    Ok(keys)
}

/// The agreement in force with a partner node.
pub async fn agreement_with(
    store: &dyn Store,
    partner: &NodeId,
) -> Result<Option<Agreement>, FederationError> {
    match store.get_record(AGREEMENT_RECORD, partner.as_str()).await? {
        Some(r) => Ok(Some(
            serde_json::from_str(&r.body).map_err(|e| bad_record(AGREEMENT_RECORD, &r.id, e))?,
        )),
        None => Ok(None),
    }
}

/// Every agreement in force.
pub async fn agreements(store: &dyn Store) -> Result<Vec<Agreement>, FederationError> {
    let mut out = Vec::new();
    for r in store.list_records(AGREEMENT_RECORD, None, 100_000).await? {
        out.push(
            serde_json::from_str::<Agreement>(&r.body)
                .map_err(|e| bad_record(AGREEMENT_RECORD, &r.id, e))?,
        );
    }
    Ok(out)
}

/// The active agreement whose partner organisation is `org` (the peer account's).
pub async fn agreement_for_org(
    store: &dyn Store,
    org: &OrgId,
) -> Result<Option<Agreement>, FederationError> {
    Ok(agreements(store)
        .await?
        .into_iter()
        .find(|a| a.active && a.partner_org == *org))
}

/// Records new terms with a partner: the version becomes the previous one plus one
/// (1 for the first), and the previous terms are returned (for recall).
pub async fn set_agreement(
    store: &dyn Store,
    agreement: Agreement,
) -> Result<(Agreement, Option<Agreement>), FederationError> {
    let (agreement, previous) = prepare_agreement(store, agreement).await?;
    save_agreement(store, &agreement).await?;
    Ok((agreement, previous))
}

/// The next version of the terms with a partner (id and version assigned), with the
/// terms in force, without saving anything: what recall is computed against before
/// the new terms take effect.
pub async fn prepare_agreement(
    store: &dyn Store,
    mut agreement: Agreement,
) -> Result<(Agreement, Option<Agreement>), FederationError> {
    let previous = agreement_with(store, &agreement.partner_node).await?;
    agreement.version = previous.as_ref().map_or(1, |p| p.version + 1);
    if agreement.id.is_empty() {
        agreement.id = format!("agreement:{}", agreement.partner_node);
    }
    Ok((agreement, previous))
}

/// Saves prepared terms (see [`prepare_agreement`]) as the ones in force.
pub async fn save_agreement(
    store: &dyn Store,
    agreement: &Agreement,
) -> Result<(), FederationError> {
    let now = store::now_micros();
    let body = to_json(&agreement);
    store
        .put_record(
            &RecordRow {
                kind: AGREEMENT_HISTORY_RECORD.to_owned(),
                id: format!("{}@{}", agreement.partner_node, agreement.version),
                tag: agreement.partner_node.to_string(),
                body: body.clone(),
                updated: now,
            },
            None,
        )
        .await?;
    store
        .put_record(
            &RecordRow {
                kind: AGREEMENT_RECORD.to_owned(),
                id: agreement.partner_node.to_string(),
                tag: if agreement.active { "active" } else { "ended" }.to_owned(),
                body,
                updated: now,
            },
            None,
        )
        .await?;
    Ok(())
}
