//! The node's federation runtime: its identity and key, the decisions on what leaves
//! to a partner (with the egress ledger), and the checks on what arrives from one.

use std::path::Path;
use std::sync::Arc;

use policy::sharing::{stamp, SharingInfo, Signature};
use policy::stored::SignedBy;
use policy::{decide_owned, Decision, MetaDoc, NodeId, OrgId, ReadPurpose};
use sha2::{Digest, Sha256};
use store::{EgressEntry, Store};
use taxii::server::gate::{self, Accepted, Directory, EgressItem, FederationHook};
use taxii::server::{Principal, ServerError};

use crate::directory;
use crate::error::FederationError;
use crate::identity::NodeKey;
use crate::signature::{sign_canonical, signing_bytes, BATCH};
use crate::wire::{open_many, seal};

/// The file (in the data directory) holding the node's private key seed.
pub const KEY_FILE: &str = "node.key";

/// A node of the federation.
#[derive(Debug)]
pub struct Node {
    pub store: Arc<dyn Store>,
    pub id: NodeId,
    pub key: NodeKey,
    /// Serialises ledger appends of this process (the store serialises across processes).
    ledger: tokio::sync::Mutex<()>,
}

impl Node {
    /// The signer of what this node publishes (its key and identity).
    pub fn publication_signer(&self) -> PublicationSigner {
        PublicationSigner::new(self.key.clone(), self.id.clone())
    }

    /// Loads (or creates, on first start) the node's identity and key.
    pub async fn open(
        store: Arc<dyn Store>,
        data_dir: &Path,
    ) -> Result<Arc<Node>, FederationError> {
        let id = gate::node_id(store.as_ref())
            .await
            .map_err(|e| FederationError::Invalid(e.to_string()))?;
        let (key, created) = NodeKey::load_or_create(&data_dir.join(KEY_FILE))?;
        if created {
            tracing::info!(node = %id, public_key = %key.public_b64(), "created the node's Ed25519 key");
        }
        Ok(Arc::new(Node {
            store,
            id,
            key,
            ledger: tokio::sync::Mutex::new(()),
        }))
    }

    /// The node's STIX identity object (what partners add with `nadhir peer add`).
    pub async fn identity(&self) -> Result<serde_json::Value, FederationError> {
        let org = self
            .store
            .get_state(policy::stored::NODE_ORG_STATE_KEY)
            .await?
            .unwrap_or_default();
        let org_row = if org.is_empty() {
            None
        } else {
            self.store.get_org(&org).await?
        };
        Ok(serde_json::json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": self.id.as_str(),
            "created": "2026-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z",
            "name": org_row.as_ref().map(|o| o.name.clone()).unwrap_or_else(|| "Nadhir node".to_owned()),
            "identity_class": "organization",
            "sectors": org_row.as_ref().and_then(|o| o.sector.clone()).map(|s| vec![s]).unwrap_or_default(),
            "x_nadhir_org": org,
            "x_nadhir_public_key": self.key.public_b64(),
        }))
    }

    /// Appends ledger entries, one writer at a time.
    pub async fn record_egress(&self, entries: &[EgressEntry]) -> Result<(), FederationError> {
        if entries.is_empty() {
            return Ok(());
        }
        let _g = self.ledger.lock().await;
        self.store
            .append_egress(entries, store::now_micros())
            .await?;
        Ok(())
    }

    /// The copies `peer_org`'s node may receive of `items` under the agreement in
    /// force, sealed (signed); every copy is recorded in the egress ledger before it is
    /// returned.
    pub async fn egress_for(
        &self,
        dir: &Directory,
        requester: &policy::Requester,
        items: Vec<EgressItem>,
    ) -> Result<Vec<Option<String>>, FederationError> {
        let Some(agreement) =
            directory::agreement_for_org(self.store.as_ref(), &requester.org).await?
        else {
            return Ok(vec![None; items.len()]);
        };
        let ctx = Arc::new(dir.ctx.clone());
        let requester = requester.clone();
        let key = self.key.clone();
        let local = self.id.clone();
        let a = agreement.clone();
        let results = crate::par::par_map(items, move |item| {
            egress_one(&ctx, &requester, &a, &key, &local, item)
        })
        .await?;
        let mut out = Vec::with_capacity(results.len());
        let mut entries = Vec::new();
        for r in results {
            match r {
                Some((json, entry)) => {
                    out.push(Some(json));
                    entries.push(entry);
                }
                None => out.push(None),
            }
        }
        self.record_egress(&entries).await?;
        Ok(out)
    }

    /// Checks objects received from the peer node `from` (whose organisation is
    /// `from_org`): signature against the directory of peer keys, no loop back here,
    /// and builds their metadata. Retention follows this node's agreement with `from`.
    pub async fn accept_from(
        &self,
        dir: &Directory,
        from: &NodeId,
        objects: Vec<stix::Object>,
    ) -> Result<Vec<Result<Accepted, String>>, FederationError> {
        self.accept_from_over(dir, from, objects, &hashbrown::HashMap::new())
            .await
    }

    /// [`Node::accept_from`] where `pending` holds metadata written in a transaction
    /// that is still open (a sync committing several pages at once): an object there is
    /// known already, as if its metadata were committed.
    pub async fn accept_from_over(
        &self,
        dir: &Directory,
        from: &NodeId,
        objects: Vec<stix::Object>,
        pending: &hashbrown::HashMap<String, MetaDoc>,
    ) -> Result<Vec<Result<Accepted, String>>, FederationError> {
        let keys = directory::peer_keys(
            self.store.as_ref(),
            Some((&self.id, &self.key.public_b64())),
        )
        .await?;
        let retention = directory::agreement_with(self.store.as_ref(), from)
            .await?
            .map(|a| a.retention_days);
        let ids: Vec<String> = objects
            .iter()
            .map(|o| o.id())
            .filter(|id| !pending.contains_key(*id))
            .map(str::to_owned)
            .collect();
        let mut existing: hashbrown::HashMap<String, MetaDoc> = self
            .store
            .get_meta(&ids)
            .await?
            .into_iter()
            .filter_map(|r| {
                serde_json::from_str::<MetaDoc>(&r.json)
                    .ok()
                    .map(|d| (r.id, d))
            })
            .collect();
        for o in &objects {
            if let Some(doc) = pending.get(o.id()) {
                existing.insert(o.id().to_owned(), doc.clone());
            }
        }
        let now = store::now_micros();
        let node_org = dir.node_org.clone();
        let local = self.id.clone();
        let from = from.clone();
        let out = crate::par::par_map_batches(objects, BATCH, move |batch| {
            open_many(batch, &keys)
                .into_iter()
                .map(|incoming| {
                    let incoming = incoming.map_err(|e| {
                        tracing::warn!(code = e.code(), error = %e, peer = %from, "rejected an object from a peer");
                        format!("{e} [{}]", e.code())
                    })?;
                    let id = incoming.object.id().to_owned();
                    let s = incoming.sharing;
                    if s.has_visited(&local) {
                        return Err(format!("{id}: this node is already on the object's path (a loop) [federation.loop]"));
                    }
                    let version_key = incoming
                        .object
                        .version()
                        .map(|t| t.sort_key())
                        .unwrap_or_default();
                    let signed = s.signature.clone().map(|g| SignedBy {
                        signer: g.signer,
                        value: g.value,
                    });
                    let expires = retention.map(|days| now.saturating_add(i64::from(days) * 86_400_000_000));
                    if let Some(prev) = existing.get(&id) {
                        if prev.meta.originator.is_none() {
                            return Err(format!("{id}: the object was published at this node; a copy from a peer cannot replace its metadata [federation.local_object]"));
                        }
                        // Known already: the first path stays; this version's signature is added.
                        let mut doc = prev.clone();
                        if let Some(by) = signed {
                            doc.signatures.insert(version_key, by);
                        }
                        return Ok(Accepted {
                            object: incoming.object,
                            doc,
                            expires,
                            canonical: incoming.canonical,
                        });
                    }
                    let mut recipients: Vec<OrgId> = s.recipients.clone();
                    if !node_org.as_str().is_empty() && !recipients.contains(&node_org) {
                        recipients.push(node_org.clone());
                    }
                    let doc = MetaDoc {
                        meta: policy::ObjectMeta {
                            owner: existing
                                .get(&id)
                                .map(|d| d.meta.owner.clone())
                                .unwrap_or_else(|| OrgId::new(format!("node:{}", s.originator))),
                            recipients,
                            communities: s.communities.clone(),
                            named_individuals: Vec::new(),
                            originator: Some(s.originator.clone()),
                            provenance: s.provenance.clone(),
                            collections: Vec::new(),
                            sectors: existing.get(&id).map(|d| d.meta.sectors.clone()).unwrap_or_default(),
                        },
                        signatures: signed.map(|by| (version_key, by)).into_iter().collect(),
                        may_relay: s.may_relay,
                        received_from: Some(from.clone()),
                        received_at: Some(now),
                    };
                    Ok(Accepted {
                        object: incoming.object,
                        doc,
                        expires,
                        canonical: incoming.canonical,
                    })
                })
                .collect()
        })
        .await?;
        Ok(out)
    }
}

/// One object for one partner: the sealed copy and its ledger entry, or `None` when
/// the policy withholds it.
fn egress_one(
    ctx: &policy::Context,
    requester: &policy::Requester,
    a: &policy::Agreement,
    key: &NodeKey,
    local: &NodeId,
    item: EgressItem,
) -> Option<(String, EgressEntry)> {
    let mut object = match stix::Object::from_json_str(&item.json) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "a stored object does not parse; not sent");
            return None;
        }
    };
    // A received object goes on with the path it came by.
    if let Some(orig) = &item.doc.meta.originator {
        stamp(
            &mut object,
            &SharingInfo {
                originator: orig.clone(),
                may_relay: item.doc.may_relay,
                provenance: item.doc.meta.provenance.clone(),
                recipients: Vec::new(),
                communities: Vec::new(),
                signature: None,
            },
        );
    }
    let (copy, changed, detail) =
        match decide_owned(ctx, requester, object, &item.doc.meta, ReadPurpose::Sync(a)) {
            Decision::Allow(c) => (c, false, String::new()),
            Decision::Redacted(r) => {
                let detail = serde_json::json!({
                    "removed": r.removed,
                    "pii": r.pii.iter().map(|p| p.kind.as_str()).collect::<Vec<_>>(),
                    "sighting_anonymised": r.sighting_anonymised,
                })
                .to_string();
                (r.object, true, detail)
            }
            Decision::Deny(_) => return None,
        };
    // The content is what was stored: pass on the signature it arrived with; otherwise
    // (published here, or rewritten here) this node signs.
    let bytes = signing_bytes(&copy);
    let signature = match (item.doc.signatures.get(&item.version_key), changed) {
        (Some(by), false) => Signature {
            signer: by.signer.clone(),
            value: by.value.clone(),
        },
        _ => sign_canonical(&bytes, key, local),
    };
    let hash = hex::encode(Sha256::digest(&bytes));
    match seal(copy, signature) {
        Ok(sealed) => {
            let entry = EgressEntry {
                peer: a.partner_node.to_string(),
                object_id: sealed.id().to_owned(),
                version_key: item.version_key,
                content_hash: hash,
                agreement_id: a.id.clone(),
                agreement_version: i64::try_from(a.version).unwrap_or(i64::MAX),
                action: "sent".to_owned(),
                detail,
            };
            Some((sealed.to_json(), entry))
        }
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "cannot seal an outgoing copy");
            None
        }
    }
}

fn server_error(e: FederationError) -> ServerError {
    match e.http_status() {
        422 => ServerError::Forbidden(e.to_string()),
        _ => ServerError::Internal(format!("{e} [{}]", e.code())),
    }
}

/// Signs what this node publishes, once, when it is stored (TAXII POST, `nadhir
/// import`): [`egress_one`] passes the signature on with every unchanged copy, so a
/// version is signed once whatever the number of partners and syncs.
#[derive(Debug, Clone)]
pub struct PublicationSigner {
    key: NodeKey,
    id: NodeId,
}

impl PublicationSigner {
    /// A signer with the node's key and identity.
    pub fn new(key: NodeKey, id: NodeId) -> Self {
        PublicationSigner { key, id }
    }
}

impl taxii::server::gate::PublishSigner for PublicationSigner {
    /// This node's signature over `object`'s signed content.
    fn sign(&self, object: &stix::Object) -> SignedBy {
        let s = sign_canonical(&signing_bytes(object), &self.key, &self.id);
        SignedBy {
            signer: s.signer,
            value: s.value,
        }
    }
}

/// The TAXII server's hook: peer accounts read through [`Node::egress_for`] and push
/// through [`Node::accept_from`].
#[derive(Debug, Clone)]
pub struct NodeHook(pub Arc<Node>);

#[async_trait::async_trait]
impl FederationHook for NodeHook {
    async fn egress(
        &self,
        dir: &Directory,
        peer: &Principal,
        items: Vec<EgressItem>,
    ) -> Result<Vec<Option<String>>, ServerError> {
        let requester = gate::requester(dir, peer);
        self.0
            .egress_for(dir, &requester, items)
            .await
            .map_err(server_error)
    }

    async fn accept(
        &self,
        dir: &Directory,
        peer: &Principal,
        _collection: &str,
        objects: Vec<stix::Object>,
    ) -> Vec<Result<Accepted, String>> {
        let n = objects.len();
        let from = match directory::list_peers(self.0.store.as_ref()).await {
            Ok(peers) => peers.into_iter().find(|p| p.org.as_str() == peer.org_id),
            Err(e) => return vec![Err(e.to_string()); n],
        };
        let Some(from) = from else {
            return vec![
                Err(format!(
                    "organisation {} has a peer account but no peer node is registered for it (nadhir peer add) [federation.unknown_peer]",
                    peer.org_id
                ));
                n
            ];
        };
        match self.0.accept_from(dir, &from.node, objects).await {
            Ok(v) => v,
            Err(e) => vec![Err(e.to_string()); n],
        }
    }
}
