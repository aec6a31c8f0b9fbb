//! Pull sync: this node reads each peer's TAXII collections with its peer account, by
//! `added_after` cursor, and stores what passes the checks of [`Node::accept_from`]
//! (signature, loops) with its metadata. Pages are committed together, one transaction
//! per [`COMMIT_OBJECTS`] objects or `commit_after` ([`COMMIT_AFTER`] for `nadhir sync`,
//! [`SERVE_COMMIT_AFTER`] in the serve loops), and at the end of each
//! collection: a catch-up of many pages writes each index page touched by random
//! object ids once per transaction, not once per page. The cursor of (peer,
//! collection) is saved after the transaction is committed, so a sync interrupted at
//! any point resumes where its last commit ended; a page fetched twice is stored once
//! (idempotent by (id, version)). Pages are fetched ahead by a task of their own (up to
//! [`FETCH_AHEAD`] waiting), and each checked page is written (and a commit that fell
//! due is run) while the next page is checked, so the peer keeps serving and this
//! node's checks go on while its store writes and commits. Before
//! pulling it applies the peer's recalls and deletions. Push (`push_peer`) sends new
//! local versions to peers marked for it.

use std::pin::pin;
use std::sync::Arc;

use futures::TryStreamExt;
use store::{Collection, CollectionId, NewObject, Permission, Store, VersionFilter};
use taxii::client::{Auth, Client, ObjectQuery, VersionSelector};
use taxii::server::gate;

use crate::directory::{self, Peer};
use crate::error::FederationError;
use crate::node::Node;

/// Objects asked for per page.
const PAGE: u32 = 10_000;
/// A sync's write transaction is committed once it holds this many objects...
pub const COMMIT_OBJECTS: usize = 100_000;
/// ...or once it has been open this long: the default of a one-shot `nadhir sync`.
/// Other writers of the node wait for the transaction.
pub const COMMIT_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest a sync run by the serve loops keeps its transaction open, so that the
/// early-warning path's writes (sightings and alerts, due within a second of a hit)
/// never wait longer than this for a catch-up.
pub const SERVE_COMMIT_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// The write transaction pages are stored in until it is committed, with what
/// committing it completes.
struct OpenBatch<'a> {
    tx: Option<Box<dyn store::WriteTx + 'a>>,
    opened: std::time::Instant,
    /// How long the transaction may stay open.
    commit_after: std::time::Duration,
    objects: usize,
    /// The cursor to save once committed.
    cursor: Option<String>,
}

impl<'a> OpenBatch<'a> {
    fn new(commit_after: std::time::Duration) -> Self {
        OpenBatch {
            tx: None,
            opened: std::time::Instant::now(),
            commit_after,
            objects: 0,
            cursor: None,
        }
    }

    fn due(&self) -> bool {
        self.objects >= COMMIT_OBJECTS || self.opened.elapsed() >= self.commit_after
    }

    /// Commits what is open, then saves the cursor under `key`; the batch starts over
    /// empty. Returns whether anything was committed.
    async fn commit(&mut self, store: &'a dyn Store, key: &str) -> Result<bool, FederationError> {
        let tx = self.tx.take();
        let cursor = self.cursor.take();
        self.objects = 0;
        if tx.is_none() && cursor.is_none() {
            return Ok(false);
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        if let Some(cursor) = cursor {
            store.set_state(key, &cursor).await?;
        }
        Ok(true)
    }
}

/// Pages fetched ahead of the one being stored.
const FETCH_AHEAD: usize = 2;

/// The pages of one collection, fetched by a task of their own into a bounded queue;
/// the task stops at the last page, at the first error (passed on), or when this is
/// dropped.
struct FetchAhead {
    rx: tokio::sync::mpsc::Receiver<Result<taxii::client::ObjectsPage, taxii::client::ClientError>>,
    task: tokio::task::JoinHandle<()>,
}

impl FetchAhead {
    fn start(client: Client, api_root: reqwest::Url, coll: String, query: ObjectQuery) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(FETCH_AHEAD);
        let task = tokio::spawn(async move {
            let mut pages = pin!(client.pages(&api_root, &coll, query));
            loop {
                let page = pages.as_mut().try_next().await.transpose();
                let Some(page) = page else { break };
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    break;
                }
            }
        });
        FetchAhead { rx, task }
    }

    /// The next page; `None` after the last.
    async fn next(&mut self) -> Result<Option<taxii::client::ObjectsPage>, FederationError> {
        match self.rx.recv().await {
            Some(page) => Ok(Some(page?)),
            None => Ok(None),
        }
    }
}

impl Drop for FetchAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one sync with one peer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub peer: String,
    pub collections: usize,
    pub pages: u64,
    pub received: u64,
    /// New versions stored.
    pub stored: u64,
    /// Versions already held (idempotency by id and version).
    pub duplicates: u64,
    /// Objects refused (bad signature, loop, invalid), with the reason.
    pub rejected: Vec<String>,
    /// Objects deleted here because the peer recalled or deleted them.
    pub removed: u64,
}

/// The state key of the pull cursor of (peer, remote collection).
pub fn cursor_key(peer: &Peer, collection: &str) -> String {
    format!("federation.pull {} {collection}", peer.node)
}

/// The state key of the last recall sequence applied from a peer.
pub fn recall_key(peer: &Peer) -> String {
    format!("federation.recalls {}", peer.node)
}

/// The local collection received objects go into, created (readable by the node's own
/// organisation) when missing.
pub async fn inbox(store: &dyn Store, alias: &str) -> Result<CollectionId, FederationError> {
    if let Some(c) = store.find_collection(alias).await? {
        return Ok(c.id);
    }
    let c = Collection {
        id: CollectionId(uuid::Uuid::new_v4().to_string()),
        api_root: taxii::server::DEFAULT_API_ROOT.to_owned(),
        title: format!("Received from partner nodes ({alias})"),
        description: Some("Objects received from partner nodes under sharing agreements".into()),
        alias: Some(alias.to_owned()),
        media_types: Vec::new(),
        created: store::now_micros(),
    };
    store.create_collection(&c).await?;
    if let Some(org) = store.get_state(policy::stored::NODE_ORG_STATE_KEY).await? {
        store
            .set_permission(&Permission {
                collection: c.id.clone(),
                org_id: org,
                can_read: true,
                can_write: false,
            })
            .await?;
    }
    Ok(c.id)
}

fn client_for(peer: &Peer) -> Result<(Client, reqwest::Url), FederationError> {
    let url = peer.url.as_deref().ok_or_else(|| {
        FederationError::Invalid(format!(
            "peer {} has no TAXII address to pull from",
            peer.name
        ))
    })?;
    let mut url = reqwest::Url::parse(url).map_err(|e| {
        FederationError::Invalid(format!("peer {} address {url:?}: {e}", peer.name))
    })?;
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    let auth = match &peer.token {
        Some(t) => Auth::Bearer(t.clone()),
        None => Auth::None,
    };
    Ok((Client::new(auth)?, url))
}

/// Applies one peer's recalls, then pulls everything new from it (from the start again
/// when its agreement with this node changed). Pages are committed together for at
/// most `commit_after` ([`COMMIT_AFTER`] for a one-shot sync, [`SERVE_COMMIT_AFTER`]
/// beside the early-warning path) or [`COMMIT_OBJECTS`].
pub async fn pull_peer(
    node: &Node,
    peer: &Peer,
    commit_after: std::time::Duration,
    progress: &mut (dyn FnMut(&SyncReport) + Send),
) -> Result<SyncReport, FederationError> {
    let store = node.store.as_ref();
    let (client, api_root) = client_for(peer)?;
    let mut report = SyncReport {
        peer: peer.name.clone(),
        ..SyncReport::default()
    };
    let remote: Vec<String> = if peer.collections.is_empty() {
        client
            .collections(&api_root)
            .await?
            .into_iter()
            .filter(|c| c.can_read)
            .map(|c| c.id)
            .collect()
    } else {
        peer.collections.clone()
    };
    report.collections = remote.len();
    let into = inbox(store, &peer.inbox).await?;
    // Recalls first (what must go goes before anything new arrives); when the peer's
    // terms with this node changed, everything is asked for again from the start, so
    // what a widened agreement now allows arrives too (what is already held is
    // recognised by id and version and not stored twice).
    let (removed, terms) = apply_recalls(node, peer, &client, &api_root).await?;
    report.removed += removed;
    let terms_key = format!("federation.terms {}", peer.node);
    let terms_now = terms.map(|v| v.to_string()).unwrap_or_default();
    if store.get_state(&terms_key).await?.unwrap_or_default() != terms_now {
        for coll in &remote {
            store.set_state(&cursor_key(peer, coll), "").await?;
        }
        store.set_state(&terms_key, &terms_now).await?;
    }
    let dir = gate::load_directory(store)
        .await
        .map_err(|e| FederationError::Invalid(e.to_string()))?;
    for coll in &remote {
        let key = cursor_key(peer, coll);
        let start = match store.get_state(&key).await?.filter(|v| !v.is_empty()) {
            Some(v) => Some(stix::Timestamp::parse(&v).map_err(|e| {
                FederationError::Invalid(format!("stored cursor {key:?} = {v:?}: {}", e.reason))
            })?),
            None => None,
        };
        let query = ObjectQuery {
            added_after: start,
            limit: Some(PAGE),
            versions: vec![VersionSelector::All],
            ..ObjectQuery::default()
        };
        // Pages are fetched ahead by their own task (at most [`FETCH_AHEAD`] waiting),
        // so the peer goes on serving while this node checks, writes and commits. Each
        // checked page is written (and the transaction committed when due) while the
        // next page is checked: the store's writer and the checks run side by side.
        let mut pages = FetchAhead::start(client.clone(), api_root.clone(), coll.clone(), query);
        let mut batch = OpenBatch::new(commit_after);
        // The metadata of the pages written or being written since the last commit
        // (readers of the store do not see it before), for the checks of later pages.
        let mut pending: hashbrown::HashMap<String, policy::MetaDoc> = hashbrown::HashMap::new();
        // A checked page waiting to be written.
        let mut ready: Option<CheckedPage> = None;
        loop {
            // A failed fetch ends the collection like its last page: what was checked
            // is written and committed, then the error is returned.
            let (page, failed) = match pages.next().await {
                Ok(page) => (page, None),
                Err(e) => (None, Some(e)),
            };
            let last = page.is_none();
            let mut to_write = ready.take();
            if let Some(r) = &mut to_write {
                pending.extend(r.docs.drain(..));
            }
            let (checked, written) = tokio::join!(
                async {
                    match page {
                        Some(p) => check_page(node, &dir, peer, p, &mut report, &pending)
                            .await
                            .map(Some),
                        None => Ok(None),
                    }
                },
                async {
                    let w = match to_write {
                        Some(r) => Some(write_page(store, &into, r, &mut batch).await?),
                        None => None,
                    };
                    let committed = if last || batch.due() {
                        batch.commit(store, &key).await?
                    } else {
                        false
                    };
                    Ok::<_, FederationError>((w, committed))
                }
            );
            let (w, committed) = written?;
            if let Some(w) = w {
                report.add_written(w);
            }
            if committed {
                // Everything written so far is committed: readers see its metadata.
                pending.clear();
            }
            ready = checked?;
            progress(&report);
            if let Some(e) = failed {
                return Err(e);
            }
            if last {
                break;
            }
        }
    }
    progress(&report);
    Ok(report)
}

/// A page checked and ready to write: the objects, their metadata rows and documents,
/// and the page's last `date_added`.
struct CheckedPage {
    news: Vec<NewObject>,
    rows: Vec<store::MetaRow>,
    docs: Vec<(String, policy::MetaDoc)>,
    cursor: Option<String>,
}

/// Checks one page (parse, validation, [`Node::accept_from_over`] with the metadata of
/// the open transaction in `pending`); writes nothing.
async fn check_page(
    node: &Node,
    dir: &gate::Directory,
    peer: &Peer,
    page: taxii::client::ObjectsPage,
    report: &mut SyncReport,
    pending: &hashbrown::HashMap<String, policy::MetaDoc>,
) -> Result<CheckedPage, FederationError> {
    report.pages += 1;
    report.received += page.objects.len() as u64;
    let checked = crate::par::par_map(page.objects, |raw| {
        serde_json::from_str::<serde_json::Value>(raw.get())
            .map_err(|e| e.to_string())
            .and_then(|v| taxii::server::validate::check(v).map_err(|e| e.to_string()))
    })
    .await?;
    let mut objects = Vec::with_capacity(checked.len());
    for c in checked {
        match c {
            Ok(o) => objects.push(o),
            Err(e) => report.rejected.push(e),
        }
    }
    let verdicts = node
        .accept_from_over(dir, &peer.node, objects, pending)
        .await?;
    let now = store::now_micros();
    let mut accepted = Vec::new();
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    for v in verdicts {
        match v {
            Ok(a) => {
                rows.push(store::MetaRow {
                    id: a.object.id().to_owned(),
                    json: gate::meta_json(&a.doc)
                        .map_err(|e| FederationError::Invalid(e.to_string()))?,
                    expires: a.expires,
                    updated: now,
                });
                docs.push((a.object.id().to_owned(), a.doc));
                accepted.push((a.object, a.canonical));
            }
            Err(reason) => report.rejected.push(reason),
        }
    }
    let news = crate::par::par_map(accepted, |(o, canonical)| {
        NewObject::from_object_canonical(&o, &canonical)
    })
    .await?;
    Ok(CheckedPage {
        news,
        rows,
        docs,
        cursor: page.date_added.last.map(|t| t.to_string()),
    })
}

/// What writing one page did.
#[derive(Debug, Default)]
struct Written {
    stored: u64,
    duplicates: u64,
    rejected: Vec<String>,
}

impl SyncReport {
    fn add_written(&mut self, w: Written) {
        self.stored += w.stored;
        self.duplicates += w.duplicates;
        self.rejected.extend(w.rejected);
    }
}

/// Stores a checked page (objects and metadata) in the open transaction of `batch`
/// (opened here when there is none), whose cursor becomes the page's.
async fn write_page<'a>(
    store: &'a dyn Store,
    into: &CollectionId,
    page: CheckedPage,
    batch: &mut OpenBatch<'a>,
) -> Result<Written, FederationError> {
    let CheckedPage {
        mut news,
        mut rows,
        docs: _,
        cursor,
    } = page;
    let mut written = Written::default();
    if !news.is_empty() {
        let tx = match &mut batch.tx {
            Some(tx) => tx,
            empty => {
                batch.opened = std::time::Instant::now();
                empty.insert(store.begin().await?)
            }
        };
        news.sort_by(|a, b| a.id.cmp(&b.id));
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let outcomes = tx.insert(&news, std::slice::from_ref(into)).await?;
        tx.put_meta(&rows).await?;
        batch.objects += news.len();
        for o in outcomes {
            match o {
                store::InsertOutcome::Inserted { .. } => written.stored += 1,
                store::InsertOutcome::Duplicate => written.duplicates += 1,
                store::InsertOutcome::Conflict { existing_hash } => written.rejected.push(format!(
                    "version conflict with stored content {existing_hash}"
                )),
            }
        }
    }
    if cursor.is_some() {
        batch.cursor = cursor;
    }
    Ok(written)
}

/// One recall or deletion a peer asks this node to apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecallEntry {
    pub seq: i64,
    pub object_id: String,
    pub action: String,
    pub detail: String,
}

/// The recalls a peer serves: `entries` after the asked sequence, and `through`, the
/// ledger sequence read up to (the next `after`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecallPage {
    pub through: i64,
    pub entries: Vec<RecallEntry>,
    /// The version of the serving node's agreement with the reader's node (`None`:
    /// none in force).
    #[serde(default)]
    pub agreement_version: Option<u64>,
}

/// Fetches the peer's recalls and deletions addressed to this node and deletes those
/// objects here (only objects received from, or originated by, that peer). The
/// deletion's tombstone is passed on by the outbox (`runtime::outbox_once`).
pub async fn apply_recalls(
    node: &Node,
    peer: &Peer,
    client: &Client,
    api_root: &reqwest::Url,
) -> Result<(u64, Option<u64>), FederationError> {
    let store = node.store.as_ref();
    let key = recall_key(peer);
    let after: i64 = store
        .get_state(&key)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut url = api_root.clone();
    url.set_path("/federation/v1/recalls");
    url.set_query(Some(&format!("after={after}")));
    let page: RecallPage = client.get_json(url).await?;
    let mut removed = 0;
    let last = page.through.max(after);
    for e in page.entries {
        let held = store.get_meta(std::slice::from_ref(&e.object_id)).await?;
        let Some(row) = held.first() else { continue };
        let Ok(doc) = serde_json::from_str::<policy::MetaDoc>(&row.json) else {
            continue;
        };
        let from_peer = doc.received_from.as_ref() == Some(&peer.node)
            || doc.meta.originator.as_ref() == Some(&peer.node);
        if !from_peer {
            continue;
        }
        let n = store
            .delete_object(None, &e.object_id, &VersionFilter::all(), &[])
            .await?;
        store.delete_meta(&e.object_id).await?;
        if n > 0 {
            removed += 1;
            // The store's tombstone makes the outbox pass the deletion on to the
            // partners this node sent the object to.
            tracing::info!(object = %e.object_id, peer = %peer.name, action = %e.action, "removed an object the peer recalled");
        }
    }
    if last > after {
        store.set_state(&key, &last.to_string()).await?;
    }
    Ok((removed, page.agreement_version))
}

/// Pulls from every peer that has an address (as the serve loops do: transactions open
/// at most [`SERVE_COMMIT_AFTER`]); one failing peer does not stop the others.
pub async fn pull_all(node: &Node) -> Vec<(String, Result<SyncReport, FederationError>)> {
    let peers = match directory::list_peers(node.store.as_ref()).await {
        Ok(p) => p,
        Err(e) => return vec![("*".to_owned(), Err(e))],
    };
    let mut out = Vec::new();
    for p in peers.into_iter().filter(|p| p.url.is_some()) {
        let r = pull_peer(node, &p, SERVE_COMMIT_AFTER, &mut |_| {}).await;
        out.push((p.name.clone(), r));
    }
    out
}

/// What one push round to one peer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub peer: String,
    /// New local versions looked at.
    pub scanned: u64,
    /// Copies the agreement let out (and the ledger recorded).
    pub sent: u64,
    /// Copies the peer refused (with its reasons).
    pub refused: Vec<String>,
}

/// The state key of the store cursor up to which versions were pushed to a peer.
pub fn push_key(peer: &Peer) -> String {
    format!("federation.push {}", peer.node)
}

/// Pushes to a peer what was stored here since the last push: every new version goes
/// through the same decision as the peer's own pull (the agreement, signature, ledger)
/// and is POSTed to the peer's `push_collection` with this node's peer account there.
/// The cursor advances only after the peer answered, so a failed push is retried.
pub async fn push_peer(node: &Node, peer: &Peer) -> Result<PushReport, FederationError> {
    let store = node.store.as_ref();
    let (client, api_root) = client_for(peer)?;
    let key = push_key(peer);
    let mut report = PushReport {
        peer: peer.name.clone(),
        ..PushReport::default()
    };
    // The first push starts at the beginning: a peer that is only pushed to gets
    // everything the agreement allows, like a first pull.
    let cursor: i64 = store
        .get_state(&key)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let page = store
        .query(&store::Query {
            versions: VersionFilter::all(),
            after_cursor: Some(cursor),
            limit: Some(1000),
            with_body: true,
            ..store::Query::default()
        })
        .await?;
    let Some(last) = page.objects.last().map(|o| o.cursor) else {
        return Ok(report);
    };
    report.scanned = page.objects.len() as u64;
    let dir = Arc::new(
        gate::load_directory(store)
            .await
            .map_err(|e| FederationError::Invalid(e.to_string()))?,
    );
    let ids: Vec<&str> = page.objects.iter().map(|o| o.id.as_str()).collect();
    let docs = gate::load_meta(store, &dir, &ids, "")
        .await
        .map_err(|e| FederationError::Invalid(e.to_string()))?;
    let mut items = Vec::with_capacity(page.objects.len());
    for (o, doc) in page.objects.iter().zip(docs) {
        items.push(gate::EgressItem {
            json: o.json.clone(),
            doc,
            version_key: o.version_key.clone(),
        });
    }
    let requester = gate::requester(
        &dir,
        &taxii::server::Principal {
            key: format!("push:{}", peer.node),
            org_id: peer.org.to_string(),
            role: "peer".into(),
            user_id: None,
        },
    );
    let copies: Vec<String> = node
        .egress_for(&dir, &requester, items)
        .await?
        .into_iter()
        .flatten()
        .collect();
    if !copies.is_empty() {
        let raws: Vec<Box<serde_json::value::RawValue>> = copies
            .into_iter()
            .filter_map(|c| serde_json::value::RawValue::from_string(c).ok())
            .collect();
        let refs: Vec<&serde_json::value::RawValue> = raws.iter().map(|r| r.as_ref()).collect();
        let st = client
            .post_objects(&api_root, &peer.push_collection, &refs)
            .await?;
        report.sent = st.success_count;
        report.refused = st
            .failures
            .iter()
            .map(|f| format!("{}: {}", f.id, f.message.clone().unwrap_or_default()))
            .collect();
    }
    store.set_state(&key, &last.to_string()).await?;
    Ok(report)
}
