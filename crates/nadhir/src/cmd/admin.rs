//! `nadhir admin`: non-interactive management of organisations, users, API tokens,
//! collections and collection permissions. Each command prints what scripts need
//! (the new id, or the token secret, once) on stdout; `--json` prints one JSON object.

use std::io::{BufRead, Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::json;
use store::{Collection, CollectionId, Org, Permission, Store, TokenRecord, User};
use taxii::server::auth;

use super::GlobalArgs;

/// Options of `nadhir admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Print results as JSON (one object per command) instead of plain text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Users (HTTP Basic credentials, Argon2id-hashed).
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens (Bearer); the secret is printed once and stored only as SHA-256.
    #[command(subcommand)]
    Token(TokenCommand),
    /// TAXII collections.
    #[command(subcommand)]
    Collection(CollectionCommand),
    /// Sets an organisation's rights on a collection (replacing earlier rights).
    Grant(GrantArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum OrgCommand {
    /// Creates an organisation and prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// The id to give it (default: a new UUID). Nodes that share agreements about
        /// an organisation may give it the same id everywhere (e.g. its node's identity id).
        #[arg(long)]
        id: Option<String>,
        /// national-centre, regional-hub, sector-regulator or constituent.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        sector: Option<String>,
        /// ISO 3166-1 alpha-2 country code.
        #[arg(long)]
        country: Option<String>,
        /// The national centre (id or name) a constituent belongs to.
        #[arg(long)]
        parent: Option<String>,
    },
    /// Lists organisations.
    List,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Creates a user and prints its id. The password comes from stdin or a variable.
    Add {
        /// Organisation id or name.
        #[arg(long)]
        org: String,
        #[arg(long)]
        username: String,
        /// admin, analyst, reader, peer or sensor.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of stdin.
        #[arg(long, conflicts_with = "password_env")]
        password_stdin: bool,
        /// Read the password from this environment variable.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Lists users.
    List {
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Creates an API token and prints its secret (shown only this once).
    Create {
        /// Organisation id or name.
        #[arg(long)]
        org: String,
        /// admin, analyst, reader, peer or sensor (sensor: posts telemetry to the
        /// early-warning ingest endpoint only).
        #[arg(long)]
        role: String,
        #[arg(long)]
        label: Option<String>,
        /// Username the token acts for (must belong to --org).
        #[arg(long)]
        user: Option<String>,
    },
    /// Lists tokens (never their secrets).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Revokes a token by id.
    Revoke { id: String },
}

#[derive(Debug, clap::Subcommand)]
pub enum CollectionCommand {
    /// Creates a collection and prints its id.
    Add {
        #[arg(long)]
        title: String,
        /// Short unique name, usable instead of the id.
        #[arg(long)]
        alias: Option<String>,
        /// API root the collection belongs to.
        #[arg(long, default_value = taxii::server::DEFAULT_API_ROOT)]
        api_root: String,
        #[arg(long)]
        description: Option<String>,
        /// Use this UUID as the id instead of a random one.
        #[arg(long)]
        id: Option<uuid::Uuid>,
    },
    /// Lists collections.
    List {
        #[arg(long)]
        api_root: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    /// Collection id or alias.
    #[arg(long)]
    pub collection: String,
    /// Organisation id or name.
    #[arg(long)]
    pub org: String,
    /// May read (GET objects, manifest, versions).
    #[arg(long)]
    pub read: bool,
    /// May write (POST objects; DELETE for admin/analyst roles).
    #[arg(long)]
    pub write: bool,
}

const KINDS: [&str; 4] = [
    "national-centre",
    "regional-hub",
    "sector-regulator",
    "constituent",
];

fn check_role(role: &str) -> anyhow::Result<()> {
    if auth::ROLES.contains(&role) {
        Ok(())
    } else {
        bail!(
            "unknown role {role:?}; expected one of {}",
            auth::ROLES.join(", ")
        )
    }
}

pub(crate) async fn org_of(store: &dyn Store, id_or_name: &str) -> anyhow::Result<Org> {
    store.get_org(id_or_name).await?.with_context(|| {
        format!("no organisation with id or name {id_or_name:?} (see `nadhir admin org list`)")
    })
}

fn now() -> i64 {
    stix::Timestamp::now_unix_micros()
}

fn read_password(stdin: bool, env: Option<&str>) -> anyhow::Result<String> {
    let pw = if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(4096)
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if let Some(var) = env {
        std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?
    } else {
        bail!("give the password with --password-stdin or --password-env VAR");
    };
    if pw.len() < 8 {
        bail!("the password must be at least 8 characters");
    }
    Ok(pw)
}

/// Prints a result: the JSON object with --json, else `plain`.
fn emit(json_out: bool, value: serde_json::Value, plain: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json_out {
        writeln!(out, "{value}")?;
    } else if !plain.is_empty() {
        writeln!(out, "{plain}")?;
    }
    Ok(())
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

pub fn run(g: &GlobalArgs, args: AdminArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = super::open_store(g).await?;
        let s = store.as_ref();
        let js = args.json;
        match args.command {
            AdminCommand::Org(OrgCommand::Add { name, id, kind, sector, country, parent }) => {
                if !KINDS.contains(&kind.as_str()) {
                    bail!("unknown organisation kind {kind:?}; expected one of {}", KINDS.join(", "));
                }
                if let Some(c) = &country {
                    if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                        bail!("--country {c:?} is not a two-letter ISO 3166-1 code");
                    }
                }
                let parent = match parent {
                    Some(p) => Some(org_of(s, &p).await?.id),
                    None => None,
                };
                let org = Org {
                    id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    name,
                    kind,
                    sector,
                    country: country.map(|c| c.to_ascii_uppercase()),
                    parent,
                    created: now(),
                };
                s.create_org(&org).await?;
                emit(js, serde_json::to_value(&org)?, &org.id)?;
            }
            AdminCommand::Org(OrgCommand::List) => {
                let orgs = s.list_orgs().await?;
                if js {
                    emit(true, json!({ "orgs": orgs }), "")?;
                } else {
                    let mut out = std::io::stdout().lock();
                    for o in orgs {
                        writeln!(out, "{}\t{}\t{}\t{}\t{}", o.id, o.name, o.kind, opt(&o.sector), opt(&o.country))?;
                    }
                }
            }
            AdminCommand::User(UserCommand::Add { org, username, role, password_stdin, password_env }) => {
                check_role(&role)?;
                let org = org_of(s, &org).await?;
                let pw = read_password(password_stdin, password_env.as_deref())?;
                let hash = auth::hash_password(&pw).map_err(|e| anyhow::anyhow!("{e}"))?;
                let user = User {
                    id: uuid::Uuid::new_v4().to_string(),
                    org_id: org.id,
                    username,
                    password_hash: hash,
                    role,
                    created: now(),
                };
                s.create_user(&user).await?;
                let v = json!({"id": user.id, "org_id": user.org_id, "username": user.username, "role": user.role});
                emit(js, v, &user.id)?;
            }
            AdminCommand::User(UserCommand::List { org }) => {
                let org_id = match org {
                    Some(o) => Some(org_of(s, &o).await?.id),
                    None => None,
                };
                let users = s.list_users(org_id.as_deref()).await?;
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| json!({"id": u.id, "org_id": u.org_id, "username": u.username, "role": u.role}))
                    .collect();
                if js {
                    emit(true, json!({ "users": rows }), "")?;
                } else {
                    let mut out = std::io::stdout().lock();
                    for u in users {
                        writeln!(out, "{}\t{}\t{}\t{}", u.id, u.username, u.org_id, u.role)?;
                    }
                }
            }
            AdminCommand::Token(TokenCommand::Create { org, role, label, user }) => {
                check_role(&role)?;
                let org = org_of(s, &org).await?;
                let user_id = match user {
                    Some(u) => {
                        let rec = s.get_user_by_name(&u).await?.with_context(|| format!("no user {u:?}"))?;
                        if rec.org_id != org.id {
                            bail!("user {u:?} does not belong to organisation {}", org.name);
                        }
                        Some(rec.id)
                    }
                    None => None,
                };
                let (secret, hash) = auth::new_token_secret();
                let rec = TokenRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    org_id: org.id,
                    user_id,
                    role,
                    label,
                    sha256_hex: hash,
                    created: now(),
                    revoked: false,
                };
                s.create_token(&rec).await?;
                let v = json!({"id": rec.id, "token": secret, "org_id": rec.org_id, "role": rec.role, "label": rec.label});
                emit(js, v, &secret)?;
            }
            AdminCommand::Token(TokenCommand::List { org }) => {
                let org_id = match org {
                    Some(o) => Some(org_of(s, &o).await?.id),
                    None => None,
                };
                let tokens = s.list_tokens(org_id.as_deref()).await?;
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({"id": t.id, "org_id": t.org_id, "user_id": t.user_id, "role": t.role,
                               "label": t.label, "created": stix::Timestamp::from_unix_micros(t.created).to_string(),
                               "revoked": t.revoked})
                    })
                    .collect();
                if js {
                    emit(true, json!({ "tokens": rows }), "")?;
                } else {
                    let mut out = std::io::stdout().lock();
                    for t in tokens {
                        let state = if t.revoked { "revoked" } else { "active" };
                        writeln!(out, "{}\t{}\t{}\t{}\t{}", t.id, t.org_id, t.role, opt(&t.label), state)?;
                    }
                }
            }
            AdminCommand::Token(TokenCommand::Revoke { id }) => {
                s.revoke_token(&id).await?;
                emit(js, json!({"id": id, "revoked": true}), &format!("revoked {id}"))?;
            }
            AdminCommand::Collection(CollectionCommand::Add { title, alias, api_root, description, id }) => {
                let c = Collection {
                    id: CollectionId(id.unwrap_or_else(uuid::Uuid::new_v4).to_string()),
                    api_root,
                    title,
                    description,
                    alias,
                    media_types: vec![taxii::server::media::STIX_MEDIA_TYPE.to_owned()],
                    created: now(),
                };
                s.create_collection(&c).await?;
                emit(js, serde_json::to_value(&c)?, &c.id.0)?;
            }
            AdminCommand::Collection(CollectionCommand::List { api_root }) => {
                let cs = s.list_collections(api_root.as_deref()).await?;
                if js {
                    emit(true, json!({ "collections": cs }), "")?;
                } else {
                    let mut out = std::io::stdout().lock();
                    for c in cs {
                        writeln!(out, "{}\t{}\t{}\t{}", c.id, c.api_root, opt(&c.alias), c.title)?;
                    }
                }
            }
            AdminCommand::Grant(GrantArgs { collection, org, read, write }) => {
                let c = s
                    .find_collection(&collection)
                    .await?
                    .with_context(|| format!("no collection with id or alias {collection:?}"))?;
                let org = org_of(s, &org).await?;
                let p = Permission { collection: c.id.clone(), org_id: org.id.clone(), can_read: read, can_write: write };
                s.set_permission(&p).await?;
                let plain = format!("{} on {}: read={read} write={write}", org.name, c.id);
                emit(js, serde_json::to_value(&p)?, &plain)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
