//! The read gate: every object the TAXII server sends, on every read endpoint, is what
//! [`policy::decide`] returned for the requester. There is no other way out.
//!
//! - Accounts of this node's users (admin, analyst, reader, sensor) are decided with
//!   `ReadPurpose::Read`: TLP audience per requester, granular markings honoured.
//! - Peer accounts (role `peer`, a partner node syncing) are handed to the
//!   [`FederationHook`], which decides under the agreement with that partner
//!   (`ReadPurpose::Sync`), signs and records every object in the egress ledger. Without
//!   a hook a peer receives nothing.
//!
//! The directory (organisations, communities, policy configuration, node identity) is
//! loaded from the store and reused for [`super::auth::CACHE_TTL`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use policy::stored::{
    SignedBy, COLLECTION_SHARING_RECORD, COMMUNITY_RECORD, NODE_ID_STATE_KEY, NODE_ORG_STATE_KEY,
    POLICY_CONFIG_STATE_KEY,
};
use policy::{
    CollectionSharing, Community, Context, JsonDecision, MetaDoc, NodeId, OrgId, OrgKind,
    ReadPurpose, Requester, Role, UserId,
};
use store::{MetaRow, Store, StoredObject};

use super::auth::{Principal, CACHE_TTL};
use super::error::ServerError;

/// The node's directory, as the policy sees it.
#[derive(Debug, Clone)]
pub struct Directory {
    pub ctx: Context,
    /// The organisation that runs this node.
    pub node_org: OrgId,
}

/// Maps a stored organisation kind (`national-centre`, …) to the policy's.
pub fn org_kind(kind: &str) -> Option<OrgKind> {
    match kind.replace('_', "-").as_str() {
        "national-centre" => Some(OrgKind::NationalCentre),
        "regional-hub" => Some(OrgKind::RegionalHub),
        "sector-regulator" => Some(OrgKind::SectorRegulator),
        "constituent" => Some(OrgKind::Constituent),
        _ => None,
    }
}

/// The node's identity id, created on first use (`identity--<uuid v4>`).
pub async fn node_id(store: &dyn Store) -> Result<NodeId, ServerError> {
    let fresh = format!("identity--{}", uuid::Uuid::new_v4());
    Ok(NodeId::new(
        store.init_state(NODE_ID_STATE_KEY, &fresh).await?,
    ))
}

/// Loads the directory from the store.
pub async fn load_directory(store: &dyn Store) -> Result<Directory, ServerError> {
    let mut ctx = Context::new(node_id(store).await?);
    if let Some(cfg) = store.get_state(POLICY_CONFIG_STATE_KEY).await? {
        ctx.config = serde_json::from_str(&cfg).map_err(|e| {
            ServerError::Internal(format!(
                "stored {POLICY_CONFIG_STATE_KEY} is not valid: {e}"
            ))
        })?;
    }
    for o in store.list_orgs().await? {
        // An organisation of an unknown kind is still an organisation; only its kind is
        // unknown, and the audience rules do not depend on the kind.
        let kind = org_kind(&o.kind).unwrap_or(OrgKind::Constituent);
        ctx.add_org(policy::Org {
            id: OrgId::new(o.id),
            kind,
            sector: o.sector.unwrap_or_default(),
            country: o.country.unwrap_or_default(),
            parent: o.parent.map(OrgId::new),
        });
    }
    for r in store
        .list_records(COMMUNITY_RECORD, None, 1_000_000)
        .await?
    {
        let c: Community = serde_json::from_str(&r.body).map_err(|e| {
            ServerError::Internal(format!("stored community {} is not valid: {e}", r.id))
        })?;
        ctx.add_community(c);
    }
    let node_org = node_org(store).await?;
    if !ctx.orgs.contains_key(&node_org) {
        // Created just now by `node_org`: the directory read above predates it.
        ctx.add_org(policy::Org {
            id: node_org.clone(),
            kind: OrgKind::NationalCentre,
            sector: String::new(),
            country: String::new(),
            parent: None,
        });
    }
    Ok(Directory { ctx, node_org })
}

/// Id and name of the organisation a node creates for itself on first use, until
/// `nadhir node set --org` names the real one.
pub const DEFAULT_NODE_ORG: &str = "local";

/// The organisation that runs the node: the one set with `nadhir node set --org`, or,
/// on a node where none was set, [`DEFAULT_NODE_ORG`] (created on first use), so a
/// fresh node works with zero set-up.
pub async fn node_org(store: &dyn Store) -> Result<OrgId, ServerError> {
    let id = store
        .init_state(NODE_ORG_STATE_KEY, DEFAULT_NODE_ORG)
        .await?;
    if id == DEFAULT_NODE_ORG && store.get_org(DEFAULT_NODE_ORG).await?.is_none() {
        let org = store::Org {
            id: DEFAULT_NODE_ORG.to_owned(),
            name: DEFAULT_NODE_ORG.to_owned(),
            kind: "national-centre".to_owned(),
            sector: None,
            country: None,
            parent: None,
            created: store::now_micros(),
        };
        if let Err(e) = store.create_org(&org).await {
            // Another process created it first.
            if store.get_org(DEFAULT_NODE_ORG).await?.is_none() {
                return Err(e.into());
            }
        }
    }
    Ok(OrgId::new(id))
}

/// The directory, reloaded at most every [`CACHE_TTL`].
#[derive(Debug, Default)]
pub struct DirectoryCache {
    slot: Mutex<Option<(Instant, Arc<Directory>)>>,
}

impl DirectoryCache {
    pub async fn get(&self, store: &dyn Store) -> Result<Arc<Directory>, ServerError> {
        if let Ok(slot) = self.slot.lock() {
            if let Some((at, d)) = slot.as_ref() {
                if at.elapsed() < CACHE_TTL {
                    return Ok(d.clone());
                }
            }
        }
        let d = Arc::new(load_directory(store).await?);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Instant::now(), d.clone()));
        }
        Ok(d)
    }

    /// Forgets the cached directory (after an administrative change in this process).
    pub fn invalidate(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
    }
}

/// The policy's view of an authenticated principal.
pub fn requester(dir: &Directory, p: &Principal) -> Requester {
    if p.role == super::auth::ANONYMOUS_ROLE {
        return Requester::anonymous();
    }
    let org = OrgId::new(p.org_id.clone());
    let communities = dir
        .ctx
        .communities
        .values()
        .filter(|c| c.members.contains(&org))
        .map(|c| c.id.clone())
        .collect();
    let role = match p.role.as_str() {
        "admin" => Role::Admin,
        "analyst" => Role::Analyst,
        "peer" => Role::Peer,
        _ => Role::Reader,
    };
    Requester {
        org,
        user_id: UserId::new(p.user_id.clone().unwrap_or_default()),
        role,
        anonymous: false,
        communities,
    }
}

/// The stored metadata of each object (in order), or the local default for objects
/// without a row.
pub async fn load_meta(
    store: &dyn Store,
    dir: &Directory,
    objects: &[&str],
    collection: &str,
) -> Result<Vec<MetaDoc>, ServerError> {
    let mut ids: Vec<String> = objects.iter().map(|s| (*s).to_owned()).collect();
    ids.sort();
    ids.dedup();
    let rows = store.get_meta(&ids).await?;
    let mut by_id: hashbrown::HashMap<String, MetaDoc> = hashbrown::HashMap::new();
    for r in rows {
        let doc: MetaDoc = serde_json::from_str(&r.json).map_err(|e| {
            ServerError::Internal(format!("stored metadata of {} is not valid: {e}", r.id))
        })?;
        by_id.insert(r.id, doc);
    }
    Ok(objects
        .iter()
        .map(|id| {
            by_id.get(*id).cloned().unwrap_or_else(|| {
                MetaDoc::local_default(&dir.node_org, vec![collection.to_owned()])
            })
        })
        .collect())
}

/// A collection's sharing defaults (none recorded: no recipients, communities or named
/// individuals; the publisher's organisation is the audience).
pub async fn collection_sharing(
    store: &dyn Store,
    collection: &str,
) -> Result<CollectionSharing, ServerError> {
    match store
        .get_record(COLLECTION_SHARING_RECORD, collection)
        .await?
    {
        Some(r) => serde_json::from_str(&r.body).map_err(|e| {
            ServerError::Internal(format!(
                "stored sharing defaults of collection {collection} are not valid: {e}"
            ))
        }),
        None => Ok(CollectionSharing::default()),
    }
}

/// One object a partner node is about to receive: its stored JSON (parsed by the hook,
/// on as many cores as it uses), metadata and version key.
#[derive(Debug, Clone)]
pub struct EgressItem {
    pub json: String,
    pub doc: MetaDoc,
    pub version_key: String,
}

/// Signs what this node publishes, once, when it is stored (implemented by the
/// federation layer with the node's key): every partner's unchanged copy then carries
/// that signature instead of one made per copy.
pub trait PublishSigner: Send + Sync + std::fmt::Debug {
    /// This node's signature of `object` (over its signed content: the canonical JSON
    /// without the sharing extension).
    fn sign(&self, object: &stix::Object) -> SignedBy;
}

/// One published version for [`publish_meta`]: the object id, its version key and, when
/// the node signs at publication, its signature.
#[derive(Debug, Clone)]
pub struct Published<'a> {
    pub id: &'a str,
    pub version_key: &'a str,
    pub signature: Option<SignedBy>,
}

/// What crosses to and from partner nodes (implemented by the federation layer).
#[async_trait::async_trait]
pub trait FederationHook: Send + Sync + std::fmt::Debug {
    /// The copies a peer account receives (in order; `None` = withheld), decided under
    /// the agreement with the peer's node, signed, and recorded in the egress ledger.
    async fn egress(
        &self,
        dir: &Directory,
        peer: &Principal,
        items: Vec<EgressItem>,
    ) -> Result<Vec<Option<String>>, ServerError>;

    /// Checks objects a peer account pushes (signature, sharing extension) and returns,
    /// per object in order, what to store, or why it is refused.
    async fn accept(
        &self,
        dir: &Directory,
        peer: &Principal,
        collection: &str,
        objects: Vec<stix::Object>,
    ) -> Vec<Result<Accepted, String>>;
}

/// An object received from a partner, ready to store.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The object without the sharing extension (its signed content).
    pub object: stix::Object,
    pub doc: MetaDoc,
    /// When retention under the agreement ends (Unix microseconds).
    pub expires: Option<i64>,
    /// The object's RFC 8785 canonical JSON (computed for the signature check; the
    /// store's content hash is its SHA-256).
    pub canonical: Vec<u8>,
}

/// Decides a page of stored objects for `p`: per object (in order) the JSON to send, or
/// `None` when it is withheld.
pub async fn admit(
    store: &dyn Store,
    dir: &Arc<Directory>,
    hook: Option<&Arc<dyn FederationHook>>,
    p: &Principal,
    collection: &str,
    objects: &[StoredObject],
) -> Result<Vec<Option<String>>, ServerError> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
    let docs = load_meta(store, dir, &ids, collection).await?;
    let parsed: Vec<(String, String)> = objects
        .iter()
        .map(|o| (o.json.clone(), o.version_key.clone()))
        .collect();
    if p.role == "peer" {
        let Some(hook) = hook else {
            return Ok(vec![None; objects.len()]);
        };
        let items = parsed
            .into_iter()
            .zip(docs)
            .map(|((json, version_key), doc)| EgressItem {
                json,
                doc,
                version_key,
            })
            .collect();
        return hook.egress(dir, p, items).await;
    }
    let who = requester(dir, p);
    decide_page(
        dir,
        who,
        parsed.into_iter().map(|(j, _)| j).collect(),
        docs,
        LocalPurpose::Read,
    )
    .await
}

/// A read purpose of this node's own accounts (what [`policy::ReadPurpose`] names
/// besides sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalPurpose {
    Read,
    Export { blocking: bool },
    Stream,
    Webhook,
}

/// Decides stored objects (JSON, with their metadata) for a local requester: per
/// object the copy to send, or `None`.
pub async fn decide_page(
    dir: &Arc<Directory>,
    who: Requester,
    objects: Vec<String>,
    docs: Vec<MetaDoc>,
    purpose: LocalPurpose,
) -> Result<Vec<Option<String>>, ServerError> {
    let dir = dir.clone();
    tokio::task::spawn_blocking(move || {
        let purpose = match purpose {
            LocalPurpose::Read => ReadPurpose::Read,
            LocalPurpose::Export { blocking } => ReadPurpose::Export { blocking },
            LocalPurpose::Stream => ReadPurpose::Stream,
            LocalPurpose::Webhook => ReadPurpose::Webhook,
        };
        objects
            .into_iter()
            .zip(docs)
            .map(|(json, doc)| {
                Ok(
                    match policy::decide_json(&dir.ctx, &who, &json, &doc.meta, purpose) {
                        JsonDecision::Same => Some(json),
                        JsonDecision::Rewritten(copy) => Some(copy),
                        JsonDecision::Deny(policy::DenyReason::Unreadable { reason }) => {
                            return Err(ServerError::Internal(format!(
                                "a stored object does not parse: {reason}"
                            )))
                        }
                        JsonDecision::Deny(_) => None,
                    },
                )
            })
            .collect()
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?
}

/// Whether `p` may read each object (newest stored version) for `purpose`; an object
/// not stored is not readable.
pub async fn objects_visible(
    store: &dyn Store,
    dir: &Arc<Directory>,
    p: &Principal,
    ids: &[String],
    purpose: LocalPurpose,
) -> Result<Vec<bool>, ServerError> {
    let mut wanted: Vec<String> = ids.to_vec();
    wanted.sort();
    wanted.dedup();
    let page = store
        .query(&store::Query {
            ids: wanted,
            versions: store::VersionFilter::last(),
            with_body: true,
            ..store::Query::default()
        })
        .await?;
    let refs: Vec<&str> = page.objects.iter().map(|o| o.id.as_str()).collect();
    let docs = load_meta(store, dir, &refs, "").await?;
    let json = page.objects.iter().map(|o| o.json.clone()).collect();
    let copies = decide_page(dir, requester(dir, p), json, docs, purpose).await?;
    let ok: hashbrown::HashSet<&str> = page
        .objects
        .iter()
        .zip(&copies)
        .filter(|(_, c)| c.is_some())
        .map(|(o, _)| o.id.as_str())
        .collect();
    Ok(ids.iter().map(|i| ok.contains(i.as_str())).collect())
}

/// The metadata rows of objects a local account publishes into `collection`: an object
/// already known keeps its metadata (its owner does not change when someone else adds
/// a version), with the collection added; a new one gets the publisher's organisation
/// as owner and the collection's sharing defaults. A version given with this node's
/// signature keeps it in the metadata (unless the object came from a partner). Only rows
/// that change are returned.
pub async fn publish_meta(
    store: &dyn Store,
    owner: &OrgId,
    collection: &str,
    published: &[Published<'_>],
) -> Result<Vec<MetaRow>, ServerError> {
    let sharing = collection_sharing(store, collection).await?;
    let mut want: Vec<String> = published.iter().map(|p| p.id.to_owned()).collect();
    want.sort();
    want.dedup();
    let existing = store.get_meta(&want).await?;
    let mut docs: hashbrown::HashMap<String, (MetaDoc, Option<i64>, bool)> = existing
        .into_iter()
        .map(|r| {
            let doc: MetaDoc = serde_json::from_str(&r.json).map_err(|e| {
                ServerError::Internal(format!("stored metadata of {} is not valid: {e}", r.id))
            })?;
            Ok((r.id, (doc, r.expires, false)))
        })
        .collect::<Result<_, ServerError>>()?;
    for p in published {
        let (doc, _, changed) = docs.entry(p.id.to_owned()).or_insert_with(|| {
            (
                MetaDoc {
                    meta: sharing.meta_for(owner, collection),
                    ..MetaDoc::default()
                },
                None,
                true,
            )
        });
        if !doc.meta.collections.iter().any(|c| c == collection) {
            doc.meta.collections.push(collection.to_owned());
            *changed = true;
        }
        // A version published here is signed by this node; a version received from a
        // partner keeps the signature it came with.
        if let Some(sig) = &p.signature {
            if doc.meta.originator.is_none() && !doc.signatures.contains_key(p.version_key) {
                doc.signatures.insert(p.version_key.to_owned(), sig.clone());
                *changed = true;
            }
        }
    }
    let now = store::now_micros();
    let mut out = Vec::new();
    for id in want {
        if let Some((doc, expires, true)) = docs.remove(&id) {
            out.push(MetaRow {
                json: meta_json(&doc)?,
                id,
                expires,
                updated: now,
            });
        }
    }
    Ok(out)
}

/// A metadata document as stored.
pub fn meta_json(doc: &MetaDoc) -> Result<String, ServerError> {
    serde_json::to_string(doc).map_err(|e| ServerError::Internal(e.to_string()))
}
