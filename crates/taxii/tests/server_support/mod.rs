//! Shared fixture of the server integration tests: a node with an SQLite store in a
//! temporary directory, three organisations, users, tokens, collections and grants,
//! and a helper that sends one request through the router in-process.
// Test fixture: each test binary uses a different part of it, and a failed setup
// step should panic with its error.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use store::{Collection, CollectionId, NewObject, Org, Permission, Store, TokenRecord, User};
use taxii::server::{auth, router, AppState, ServerConfig};
use tower::ServiceExt;

pub const TAXII: &str = "application/taxii+json;version=2.1";

/// Collections of the fixture.
pub const SHARED: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
pub const SECRET: &str = "52892447-4d7e-4f70-b94d-d7f22742ff63";
pub const DROPBOX: &str = "64993447-4d7e-4f70-b94d-d7f22742ff63";
pub const OTHER_ROOT: &str = "2b5e3bc0-6a1f-4e2e-9d6c-3bd2a8f3a001";

pub struct Node {
    pub _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub state: AppState,
    pub app: Router,
    /// Org "centre": read+write on SHARED and SECRET, write-only on DROPBOX.
    pub centre_token: String,
    /// Same org, role reader.
    pub reader_token: String,
    /// Org "bank": read-only on SHARED, nothing else.
    pub bank_token: String,
    /// A reader of the bank (read on the shared collection; not the centre's client).
    pub bank_reader: String,
    /// Org "outsider": no grant at all.
    pub outsider_token: String,
    /// Basic credentials of user "analyst1" (org centre, role analyst).
    pub basic: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
    /// Asserts a TAXII error message with this status.
    pub fn assert_error(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.header("content-type").as_deref(), Some(TAXII));
        let j = self.json();
        assert_eq!(j["http_status"], status.to_string(), "{j}");
        assert!(j["title"].is_string() && j["error_code"].is_string(), "{j}");
        j
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub async fn node() -> Node {
    node_with(ServerConfig::with_roots(["api", "api2"])).await
}

pub async fn node_with(config: ServerConfig) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), None).await.unwrap();
    node_on(dir, store, config).await
}

/// The fixture over a given (empty) store.
pub async fn node_on(dir: tempfile::TempDir, store: Arc<dyn Store>, config: ServerConfig) -> Node {
    let now = stix::Timestamp::now_unix_micros();
    let mut orgs = Vec::new();
    for (name, kind) in [
        ("centre", "national-centre"),
        ("bank", "constituent"),
        ("outsider", "constituent"),
    ] {
        let o = Org {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            kind: kind.into(),
            sector: None,
            country: Some("JO".into()),
            parent: None,
            created: now,
        };
        store.create_org(&o).await.unwrap();
        orgs.push(o.id);
    }
    for (id, root, alias) in [
        (SHARED, "api", "shared"),
        (SECRET, "api", "secret"),
        (DROPBOX, "api", "dropbox"),
        (OTHER_ROOT, "api2", "other"),
    ] {
        store
            .create_collection(&Collection {
                id: CollectionId(id.into()),
                api_root: root.into(),
                title: format!("{alias} collection"),
                description: Some(format!("the {alias} collection")),
                alias: Some(alias.into()),
                media_types: vec![],
                created: now,
            })
            .await
            .unwrap();
    }
    let grant = |c: &str, org: &str, r: bool, w: bool| Permission {
        collection: CollectionId(c.into()),
        org_id: org.to_owned(),
        can_read: r,
        can_write: w,
    };
    for p in [
        grant(SHARED, &orgs[0], true, true),
        grant(SECRET, &orgs[0], true, true),
        grant(DROPBOX, &orgs[0], false, true),
        grant(OTHER_ROOT, &orgs[0], true, true),
        grant(SHARED, &orgs[1], true, false),
    ] {
        store.set_permission(&p).await.unwrap();
    }
    let token = |org: &str, role: &str| {
        let (secret, hash) = auth::new_token_secret();
        let rec = TokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            org_id: org.to_owned(),
            user_id: None,
            role: role.into(),
            label: Some(format!("{role} test token")),
            sha256_hex: hash,
            created: now,
            revoked: false,
        };
        (secret, rec)
    };
    let mut tokens = Vec::new();
    for (org, role) in [
        (&orgs[0], "analyst"),
        (&orgs[0], "reader"),
        (&orgs[1], "peer"),
        (&orgs[2], "analyst"),
        (&orgs[1], "reader"),
    ] {
        let (secret, rec) = token(org, role);
        store.create_token(&rec).await.unwrap();
        tokens.push(secret);
    }
    store
        .create_user(&User {
            id: uuid::Uuid::new_v4().to_string(),
            org_id: orgs[0].clone(),
            username: "analyst1".into(),
            password_hash: auth::hash_password("correct horse battery").unwrap(),
            role: "analyst".into(),
            created: now,
        })
        .await
        .unwrap();
    // The centre runs this node: objects stored without a publisher (the tests'
    // `store_objects`, like `nadhir import`) are the centre's.
    store
        .set_state(policy::stored::NODE_ORG_STATE_KEY, &orgs[0])
        .await
        .unwrap();
    let state = AppState::new(store.clone(), config).await.unwrap();
    let app = router(state.clone());
    Node {
        _dir: dir,
        store,
        state,
        app,
        centre_token: tokens[0].clone(),
        reader_token: tokens[1].clone(),
        bank_token: tokens[2].clone(),
        outsider_token: tokens[3].clone(),
        bank_reader: tokens[4].clone(),
        basic: basic("analyst1", "correct horse battery"),
    }
}

impl Node {
    /// Sends one request; `auth` is the full Authorization header value.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        extra: &[(&str, &str)],
        body: Option<String>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let mut has_accept = false;
        let mut has_ct = false;
        for (k, v) in extra {
            has_accept |= k.eq_ignore_ascii_case("accept");
            has_ct |= k.eq_ignore_ascii_case("content-type");
            b = b.header(*k, *v);
        }
        if !has_accept {
            b = b.header("accept", TAXII);
        }
        if body.is_some() && !has_ct {
            b = b.header("content-type", TAXII);
        }
        let req = b
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Resp {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(&self, uri: &str) -> Resp {
        let auth = bearer(&self.centre_token);
        self.send(Method::GET, uri, Some(&auth), &[], None).await
    }

    pub async fn get_as(&self, token: &str, uri: &str) -> Resp {
        self.send(Method::GET, uri, Some(&bearer(token)), &[], None)
            .await
    }

    pub async fn post_objects(&self, collection: &str, objects: &[Value]) -> Resp {
        let auth = bearer(&self.centre_token);
        let body = json!({ "objects": objects }).to_string();
        self.send(
            Method::POST,
            &format!("/api/collections/{collection}/objects/"),
            Some(&auth),
            &[],
            Some(body),
        )
        .await
    }

    /// Stores objects straight into the store (fast fixture setup).
    pub async fn store_objects(&self, collection: &str, objects: &[Value]) {
        let news: Vec<NewObject> = objects
            .iter()
            .map(|v| NewObject::from_object(&stix::Object::from_value(v.clone()).unwrap()))
            .collect();
        self.store
            .insert(&news, &[CollectionId(collection.into())])
            .await
            .unwrap();
    }
}

/// A valid indicator with a deterministic id from `n`.
pub fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": format!("indicator {n}"),
        "pattern": format!("[ipv4-addr:value = '10.0.{}.{}']", n / 256 % 256, n % 256),
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

pub fn malware(n: u32) -> Value {
    json!({
        "type": "malware",
        "spec_version": "2.1",
        "id": format!("malware--00000000-0000-4000-9000-{n:012}"),
        "created": "2024-02-01T00:00:00.000Z",
        "modified": "2024-02-01T00:00:00.000Z",
        "name": format!("malware {n}"),
        "is_family": true
    })
}

/// Ids of an objects envelope, in order.
pub fn ids(envelope: &Value) -> Vec<String> {
    envelope["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
