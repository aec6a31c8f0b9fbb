//! `nadhir node|community|share|peer|agreement|sync|audit`: the node's identity and
//! directory, sharing defaults, partners and agreements, sync, and the egress ledger.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use federation::directory::{self, Peer};
use federation::node::Node;
use policy::stored::{
    COLLECTION_SHARING_RECORD, COMMUNITY_RECORD, NODE_ORG_STATE_KEY, POLICY_CONFIG_STATE_KEY,
};
use policy::{
    Agreement, CollectionSharing, Community, CommunityId, NodeId, OrgId, PolicyConfig, Tlp, UserId,
};
use serde_json::json;
use store::RecordRow;

use super::GlobalArgs;

fn tlp(s: &str) -> anyhow::Result<Tlp> {
    let norm = s.trim().to_ascii_lowercase();
    let norm = norm.strip_prefix("tlp:").unwrap_or(&norm);
    serde_json::from_value(json!(norm)).map_err(|_| {
        anyhow::anyhow!(
            "unknown TLP level {s:?}; expected clear, green, amber, amber+strict or red"
        )
    })
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

// ----- node -----

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub command: NodeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Prints the node's STIX identity with its Ed25519 public key (creating the key on
    /// first use): what partners pass to `nadhir peer add`.
    Show,
    /// Sets the organisation that runs the node and the node-wide policy settings.
    Set {
        /// The organisation (id or name) that runs this node.
        #[arg(long)]
        org: Option<String>,
        /// The TLP of objects that carry none (default amber).
        #[arg(long)]
        default_tlp: Option<String>,
        /// Let unauthenticated readers receive TLP:CLEAR objects.
        #[arg(long)]
        anonymous_clear: Option<bool>,
    },
}

pub fn node(g: &GlobalArgs, args: NodeArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = super::open_store(g).await?;
        match args.command {
            NodeCommand::Show => {
                let node = Node::open(store.clone(), &g.data_dir).await?;
                print_json(&node.identity().await?)?;
            }
            NodeCommand::Set {
                org,
                default_tlp,
                anonymous_clear,
            } => {
                if let Some(org) = org {
                    let o = super::admin::org_of(store.as_ref(), &org).await?;
                    store.set_state(NODE_ORG_STATE_KEY, &o.id).await?;
                }
                let mut cfg: PolicyConfig = match store.get_state(POLICY_CONFIG_STATE_KEY).await? {
                    Some(s) => serde_json::from_str(&s).context("stored policy configuration")?,
                    None => PolicyConfig::default(),
                };
                if let Some(t) = default_tlp {
                    cfg.default_tlp = tlp(&t)?;
                }
                if let Some(a) = anonymous_clear {
                    cfg.allow_anonymous_clear = a;
                }
                store
                    .set_state(POLICY_CONFIG_STATE_KEY, &serde_json::to_string(&cfg)?)
                    .await?;
                let org = store.get_state(NODE_ORG_STATE_KEY).await?;
                print_json(&json!({"org": org, "policy": cfg}))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

// ----- communities and collection sharing -----

#[derive(Debug, clap::Args)]
pub struct CommunityArgs {
    #[command(subcommand)]
    pub command: CommunityCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CommunityCommand {
    /// Creates or replaces a community (the TLP:GREEN audience of what is shared into it).
    Set {
        /// Community id (a short name, the same on every node that shares into it).
        id: String,
        /// Member organisations (id or name; repeatable).
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// Lists communities.
    List,
}

pub fn community(g: &GlobalArgs, args: CommunityArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = super::open_store(g).await?;
        match args.command {
            CommunityCommand::Set { id, members } => {
                let mut c = Community {
                    id: CommunityId::new(id.clone()),
                    members: Default::default(),
                };
                for m in members {
                    c.members.insert(OrgId::new(
                        super::admin::org_of(store.as_ref(), &m).await?.id,
                    ));
                }
                store
                    .put_record(
                        &RecordRow {
                            kind: COMMUNITY_RECORD.into(),
                            id,
                            tag: String::new(),
                            body: serde_json::to_string(&c)?,
                            updated: store::now_micros(),
                        },
                        None,
                    )
                    .await?;
                print_json(&serde_json::to_value(&c)?)?;
            }
            CommunityCommand::List => {
                let rows = store.list_records(COMMUNITY_RECORD, None, 100_000).await?;
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| serde_json::from_str(&r.body))
                    .collect::<Result<_, _>>()?;
                print_json(&json!(list))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `nadhir share COLLECTION …`: the audience given to what is published into a collection.
#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    /// Collection id or alias.
    pub collection: String,
    /// Organisations the objects are shared to (TLP AMBER / AMBER+STRICT recipients).
    #[arg(long = "recipient")]
    pub recipients: Vec<String>,
    /// Communities the objects are shared into (the TLP:GREEN audience).
    #[arg(long = "community")]
    pub communities: Vec<String>,
    /// Users (username) who may read its TLP:RED objects.
    #[arg(long = "named")]
    pub named: Vec<String>,
    /// Sectors the objects concern (agreements can restrict by sector).
    #[arg(long = "sector")]
    pub sectors: Vec<String>,
}

pub fn share(g: &GlobalArgs, args: ShareArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = super::open_store(g).await?;
        let c = store
            .find_collection(&args.collection)
            .await?
            .with_context(|| format!("no collection {:?}", args.collection))?;
        let mut sharing = CollectionSharing {
            sectors: args.sectors,
            ..Default::default()
        };
        for r in args.recipients {
            sharing.recipients.push(OrgId::new(
                super::admin::org_of(store.as_ref(), &r).await?.id,
            ));
        }
        sharing.communities = args.communities.into_iter().map(CommunityId::new).collect();
        for u in args.named {
            let user = store
                .get_user_by_name(&u)
                .await?
                .with_context(|| format!("no user {u:?}"))?;
            sharing.named_individuals.push(UserId::new(user.id));
        }
        store
            .put_record(
                &RecordRow {
                    kind: COLLECTION_SHARING_RECORD.into(),
                    id: c.id.0.clone(),
                    tag: String::new(),
                    body: serde_json::to_string(&sharing)?,
                    updated: store::now_micros(),
                },
                None,
            )
            .await?;
        print_json(&json!({"collection": c.id.0, "sharing": sharing}))?;
        Ok(ExitCode::SUCCESS)
    })
}

// ----- peers -----

#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    #[command(subcommand)]
    pub command: PeerCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PeerCommand {
    /// Adds (or replaces) a partner node.
    Add {
        /// Short name for --peer.
        #[arg(long)]
        name: String,
        /// Its identity id (`nadhir node show` there); with --from-url, read from there.
        #[arg(long)]
        node: Option<String>,
        /// Its Ed25519 public key (base64); with --from-url, read from there.
        #[arg(long)]
        key: Option<String>,
        /// The organisation (id or name, in this node's directory) that runs it.
        #[arg(long)]
        org: String,
        /// Its TAXII API root URL to pull from (e.g. http://10.0.0.2:9500/api/).
        #[arg(long)]
        url: Option<String>,
        /// Read the Bearer token this node presents there from this environment variable.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// Remote collections to pull (repeatable; default every readable one).
        #[arg(long = "collection")]
        collections: Vec<String>,
        /// Local collection alias for what it sends (default `inbox`).
        #[arg(long)]
        inbox: Option<String>,
        /// Fetch node id and key from the peer's /federation/v1/identity (over --url's host).
        #[arg(long)]
        from_url: bool,
        /// Also push new objects to it as they are stored here (`serve` does it every round).
        #[arg(long)]
        push: bool,
        /// The collection at the peer pushes go to (id or alias; default `inbox`).
        #[arg(long)]
        push_collection: Option<String>,
    },
    /// Lists partner nodes.
    List,
    /// Removes a partner node (its agreement stays until ended).
    Remove { peer: String },
}

pub fn peer(g: &GlobalArgs, args: PeerArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = super::open_store(g).await?;
        match args.command {
            PeerCommand::Add {
                name,
                node,
                key,
                org,
                url,
                token_env,
                collections,
                inbox,
                from_url,
                push,
                push_collection,
            } => {
                let (node, key) = if from_url {
                    let url = url.as_deref().context("--from-url needs --url")?;
                    let mut u = reqwest::Url::parse(url).context("--url")?;
                    u.set_path("/federation/v1/identity");
                    let v: serde_json::Value = reqwest::get(u.clone())
                        .await
                        .with_context(|| format!("GET {u}"))?
                        .error_for_status()?
                        .json()
                        .await?;
                    (
                        v["id"].as_str().context("identity without id")?.to_owned(),
                        v["x_nadhir_public_key"]
                            .as_str()
                            .context("identity without x_nadhir_public_key")?
                            .to_owned(),
                    )
                } else {
                    (
                        node.context("--node (or --from-url)")?,
                        key.context("--key (or --from-url)")?,
                    )
                };
                let token = match token_env {
                    Some(var) => Some(
                        std::env::var(&var)
                            .with_context(|| format!("environment variable {var} is not set"))?,
                    ),
                    None => None,
                };
                let org = super::admin::org_of(store.as_ref(), &org).await?;
                let p = Peer {
                    node: NodeId::new(node),
                    name,
                    org: OrgId::new(org.id),
                    public_key: key,
                    url,
                    token,
                    collections,
                    inbox: inbox.unwrap_or_else(directory::inbox_alias),
                    push,
                    push_collection: push_collection.unwrap_or_else(directory::inbox_alias),
                };
                directory::put_peer(store.as_ref(), &p).await?;
                print_json(&peer_json(&p))?;
            }
            PeerCommand::List => {
                let list: Vec<_> = directory::list_peers(store.as_ref())
                    .await?
                    .iter()
                    .map(peer_json)
                    .collect();
                print_json(&json!(list))?;
            }
            PeerCommand::Remove { peer } => {
                let p = directory::find_peer(store.as_ref(), &peer)
                    .await?
                    .with_context(|| format!("no peer {peer:?}"))?;
                directory::remove_peer(store.as_ref(), &p.node).await?;
                print_json(&json!({"removed": p.node}))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn peer_json(p: &Peer) -> serde_json::Value {
    json!({"name": p.name, "node": p.node, "org": p.org, "url": p.url, "public_key": p.public_key,
           "collections": p.collections, "inbox": p.inbox, "has_token": p.token.is_some(),
           "push": p.push, "push_collection": p.push_collection})
}

// ----- agreements -----

#[derive(Debug, clap::Args)]
pub struct AgreementArgs {
    #[command(subcommand)]
    pub command: AgreementCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgreementCommand {
    /// Sets the terms with a partner (a new version); what the partner may no longer
    /// hold under the new terms is recalled.
    Set {
        /// Peer name or node id.
        #[arg(long)]
        peer: String,
        /// Highest TLP sent (TLP:RED is never sent).
        #[arg(long, default_value = "amber")]
        max_tlp: String,
        /// Object types allowed (repeatable; default all).
        #[arg(long = "type")]
        types: Vec<String>,
        /// Sectors allowed (repeatable; default all).
        #[arg(long = "sector")]
        sectors: Vec<String>,
        /// Collections (id or alias) whose objects may be sent (repeatable; default all).
        #[arg(long = "collection")]
        collections: Vec<String>,
        /// Send sightings to the partner.
        #[arg(long)]
        sightings_back: bool,
        /// Sightings leave anonymised (no where_sighted_refs, counts rounded).
        #[arg(long)]
        anonymise_sightings: bool,
        /// The partner may relay what it receives.
        #[arg(long)]
        may_reshare: bool,
        /// Days the partner may keep what it receives.
        #[arg(long, default_value_t = 365)]
        retention_days: u32,
        #[arg(long, default_value = "threat intelligence sharing")]
        purpose: String,
        /// Keep personal data (default: redact e-mails, phones, national ids, IBANs, names).
        #[arg(long)]
        keep_pii: bool,
        /// Ends the agreement: nothing more is sent, and everything sent is recalled.
        #[arg(long)]
        end: bool,
    },
    /// Shows the agreements in force (or one partner's).
    Show {
        #[arg(long)]
        peer: Option<String>,
    },
}

pub fn agreement(g: &GlobalArgs, args: AgreementArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = super::open_store(g).await?;
        match args.command {
            AgreementCommand::Set {
                peer,
                max_tlp,
                types,
                sectors,
                collections,
                sightings_back,
                anonymise_sightings,
                may_reshare,
                retention_days,
                purpose,
                keep_pii,
                end,
            } => {
                let p = directory::find_peer(store.as_ref(), &peer)
                    .await?
                    .with_context(|| format!("no peer {peer:?} (nadhir peer add)"))?;
                let mut colls = Vec::new();
                for c in collections {
                    colls.push(
                        store
                            .find_collection(&c)
                            .await?
                            .with_context(|| format!("no collection {c:?}"))?
                            .id
                            .0,
                    );
                }
                let a = Agreement {
                    id: String::new(),
                    version: 0,
                    partner_node: p.node.clone(),
                    partner_org: p.org.clone(),
                    max_tlp: tlp(&max_tlp)?,
                    allowed_types: types,
                    allowed_sectors: sectors,
                    allowed_collections: colls,
                    sightings_back,
                    may_reshare,
                    retention_days,
                    purpose,
                    active: !end,
                    anonymise_sightings,
                    redaction: if keep_pii {
                        policy::RedactionRules::keep_all()
                    } else {
                        policy::RedactionRules::redact_all()
                    },
                };
                let node = Node::open(store.clone(), &g.data_dir).await?;
                let (a, recalled) = federation::recall::change_agreement(&node, a).await?;
                print_json(&json!({"agreement": a, "recalled": recalled.len()}))?;
            }
            AgreementCommand::Show { peer } => {
                let mut list = directory::agreements(store.as_ref()).await?;
                if let Some(peer) = peer {
                    let p = directory::find_peer(store.as_ref(), &peer)
                        .await?
                        .with_context(|| format!("no peer {peer:?}"))?;
                    list.retain(|a| a.partner_node == p.node);
                }
                print_json(&serde_json::to_value(&list)?)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

// ----- sync -----

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Only this peer (name or node id); default every peer with an address.
    #[arg(long)]
    pub peer: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Commit what was received at least this often (milliseconds), and every 100,000
    /// objects. Other writers of this node (a `nadhir serve` on the same data, its
    /// early-warning path) wait for an open transaction; `nadhir serve`'s own sync
    /// loop commits at least every 500 ms.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub commit_after_ms: u64,
}

pub fn sync(g: &GlobalArgs, args: SyncArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = super::open_store(g).await?;
        let node = Node::open(store.clone(), &g.data_dir).await?;
        let peers: Vec<Peer> = match &args.peer {
            Some(p) => vec![directory::find_peer(store.as_ref(), p).await?.with_context(|| format!("no peer {p:?}"))?],
            None => directory::list_peers(store.as_ref()).await?.into_iter().filter(|p| p.url.is_some()).collect(),
        };
        let mut failed = false;
        let mut reports = Vec::new();
        for p in peers {
            let bar = super::progress_bar(None, &format!("sync {}", p.name));
            let commit_after = std::time::Duration::from_millis(args.commit_after_ms.max(1));
            let r = federation::sync::pull_peer(&node, &p, commit_after, &mut |r| bar.set_position(r.received)).await;
            bar.finish_and_clear();
            match r {
                Ok(r) => reports.push(serde_json::to_value(&r)?),
                Err(e) => {
                    failed = true;
                    eprintln!("sync with {} failed: {e} [{}]", p.name, e.code());
                }
            }
        }
        if args.json {
            print_json(&json!(reports))?;
        } else {
            let mut out = std::io::stdout().lock();
            for r in &reports {
                writeln!(out, "{}: {} received, {} stored, {} already held, {} rejected, {} removed by recall",
                    r["peer"].as_str().unwrap_or_default(), r["received"], r["stored"], r["duplicates"],
                    r["rejected"].as_array().map_or(0, Vec::len), r["removed"])?;
                for why in r["rejected"].as_array().into_iter().flatten() {
                    writeln!(out, "  rejected: {}", why.as_str().unwrap_or_default())?;
                }
            }
        }
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}

// ----- audit -----

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Checks the egress ledger's hash chain from the first entry to the last.
    Verify,
    /// What a partner has received (and what was recalled from it), oldest first.
    Egress {
        /// Peer name or node id.
        #[arg(long)]
        peer: String,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn audit(g: &GlobalArgs, args: AuditArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = super::open_store(g).await?;
        match args.command {
            AuditCommand::Verify => {
                let bar = super::progress_bar(None, "verifying the egress ledger");
                let r =
                    federation::ledger::verify(store.as_ref(), &mut |n| bar.set_position(n)).await;
                bar.finish_and_clear();
                match r {
                    Ok(r) => {
                        println!(
                            "egress ledger intact: {} entries, head {}",
                            r.entries, r.head
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => {
                        eprintln!("egress ledger BROKEN: {e}");
                        Ok(ExitCode::from(1))
                    }
                }
            }
            AuditCommand::Egress { peer, json } => {
                let node = match directory::find_peer(store.as_ref(), &peer).await? {
                    Some(p) => p.node.to_string(),
                    None if peer.starts_with("identity--") => peer.clone(),
                    None => bail!("no peer {peer:?}"),
                };
                let mut out = std::io::stdout().lock();
                let mut after = 0;
                loop {
                    let rows =
                        federation::ledger::for_peer(store.as_ref(), &node, after, 10_000).await?;
                    let Some(last) = rows.last() else { break };
                    after = last.seq;
                    for r in rows {
                        if json {
                            writeln!(out, "{}", serde_json::to_string(&r)?)?;
                        } else {
                            writeln!(
                                out,
                                "#{}\t{}\t{}\t{}\t{}\t{}@{}",
                                r.seq,
                                stix::Timestamp::from_unix_micros(r.at),
                                r.entry.action,
                                r.entry.object_id,
                                r.entry.version_key,
                                r.entry.agreement_id,
                                r.entry.agreement_version
                            )?;
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
