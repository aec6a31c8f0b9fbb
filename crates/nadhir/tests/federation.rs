//! Federation across real `nadhir serve` processes on 127.0.0.x addresses.
//!
//! - national centre A (127.0.0.2) with its constituent bank A1 (127.0.0.3);
//! - national centre B (127.0.0.4);
//! - regional hub H (127.0.0.5);
//! - B's constituent, an energy company B1 (127.0.0.6), pulling from B.
//!
//! A pulls from A1, H and B; A1 pulls from A; H pulls from A and B; B pulls from A and
//! H. Each node holds its own agreements (see `setup`). Objects at every TLP level are
//! published at A; the test asserts exactly what each node holds, the redaction, the
//! relay rule, the egress ledger, signatures, sightings back (with their latency),
//! revocation, deletion, agreement recall, and B catching up after a stop.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_nadhir");
const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const TLP_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const TLP_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const TLP_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

fn run(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(data).args(args);
    c.env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(data: &Path, args: &[&str]) -> String {
    ok_env(data, args, &[])
}

fn ok_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let o = run(data, args, env);
    assert!(
        o.status.success(),
        "nadhir {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Node {
    name: &'static str,
    ip: &'static str,
    data: PathBuf,
    child: Option<Child>,
    base: String,
    id: String,
    key: String,
    /// Local analyst token (publishes and reads here).
    analyst: String,
}

const ORGS: [(&str, &str, &str, Option<&str>); 5] = [
    ("org-a", "national-centre", "government", None),
    ("org-a1", "constituent", "finance", Some("org-a")),
    ("org-b", "national-centre", "government", None),
    ("org-b1", "constituent", "energy", Some("org-b")),
    ("org-h", "regional-hub", "government", None),
];

impl Node {
    fn new(root: &Path, name: &'static str, ip: &'static str, org: &str) -> Node {
        let data = root.join(name);
        for (id, kind, sector, parent) in ORGS {
            let mut args = vec![
                "admin", "org", "add", "--name", id, "--id", id, "--kind", kind, "--sector", sector,
            ];
            if let Some(p) = parent {
                args.extend(["--parent", p]);
            }
            ok(&data, &args);
        }
        ok(&data, &["node", "set", "--org", org]);
        ok(
            &data,
            &[
                "community",
                "set",
                "region",
                "--member",
                "org-a",
                "--member",
                "org-a1",
                "--member",
                "org-b",
                "--member",
                "org-h",
            ],
        );
        let ident: Value = serde_json::from_str(&ok(&data, &["node", "show"])).unwrap();
        let analyst = ok(
            &data,
            &[
                "admin", "token", "create", "--org", org, "--role", "analyst",
            ],
        )
        .trim()
        .to_owned();
        // `inbox` receives from partners (sync creates it when missing; created here so
        // partners can be granted reading it, which relaying through this node needs).
        for alias in ["intel", "strict", "inbox"] {
            ok(
                &data,
                &[
                    "admin",
                    "collection",
                    "add",
                    "--title",
                    alias,
                    "--alias",
                    alias,
                ],
            );
            ok(
                &data,
                &[
                    "admin",
                    "grant",
                    "--collection",
                    alias,
                    "--org",
                    org,
                    "--read",
                    "--write",
                ],
            );
        }
        ok(&data, &["share", "intel", "--community", "region"]);
        Node {
            name,
            ip,
            data,
            child: None,
            base: String::new(),
            id: ident["id"].as_str().unwrap().to_owned(),
            key: ident["x_nadhir_public_key"].as_str().unwrap().to_owned(),
            analyst,
        }
    }

    fn start(&mut self) {
        // A restart keeps the address partners know.
        let listen = match self.base.strip_prefix("http://") {
            Some(host) => host.to_owned(),
            None => format!("{}:0", self.ip),
        };
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(&self.data)
            .args([
                "serve",
                "--listen",
                &listen,
                "--no-warning",
                "--sync-interval-ms",
                "150",
            ])
            .env_remove("NADHIR_DATABASE_URL")
            .env_remove("NADHIR_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        let host = url
            .trim()
            .strip_prefix("http://")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        self.base = format!("http://{host}");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        ok(&self.data, args)
    }

    /// A token for `org`'s peer account here, readable on every collection.
    fn peer_token(&self, org: &str) -> String {
        for alias in ["intel", "strict", "inbox"] {
            ok(
                &self.data,
                &[
                    "admin",
                    "grant",
                    "--collection",
                    alias,
                    "--org",
                    org,
                    "--read",
                ],
            );
        }
        ok(
            &self.data,
            &["admin", "token", "create", "--org", org, "--role", "peer"],
        )
        .trim()
        .to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `from` pulls from `to`, whose node is run by `to_org` (and pushes to it with `push`).
fn link_with(from: &Node, to: &Node, to_org: &str, token: &str, push: bool) {
    let url = format!("{}/api/", to.base);
    let mut args = vec![
        "peer",
        "add",
        "--name",
        to.name,
        "--node",
        &to.id,
        "--key",
        &to.key,
        "--org",
        to_org,
        "--url",
        &url,
        "--token-env",
        "PEER_TOKEN",
    ];
    if push {
        args.push("--push");
    }
    ok_env(&from.data, &args, &[("PEER_TOKEN", token)]);
}

fn link(from: &Node, to: &Node, to_org: &str, token: &str) {
    link_with(from, to, to_org, token, false);
}

fn agree(n: &Node, peer: &str, extra: &[&str]) {
    let mut args = vec!["agreement", "set", "--peer", peer];
    args.extend_from_slice(extra);
    n.cli(&args);
}

fn indicator(id: &str, marking: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "name": id, "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z", "object_marking_refs": [marking]
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn uuid_id(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

async fn post(client: &reqwest::Client, n: &Node, coll: &str, objects: Vec<Value>) -> Value {
    let r = client
        .post(format!("{}/api/collections/{coll}/objects/", n.base))
        .bearer_auth(&n.analyst)
        .header("content-type", "application/taxii+json;version=2.1")
        .header("accept", "application/taxii+json;version=2.1")
        .body(json!({ "objects": objects }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["failure_count"], 0, "{st}");
    st
}

/// Ids (and objects) node `n` holds, read through its own TAXII server as its analyst.
async fn held(client: &reqwest::Client, n: &Node) -> Vec<Value> {
    let mut out = Vec::new();
    for coll in ["intel", "strict", "inbox"] {
        let r = client
            .get(format!(
                "{}/api/collections/{coll}/objects/?limit=10000",
                n.base
            ))
            .bearer_auth(&n.analyst)
            .header("accept", "application/taxii+json;version=2.1")
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            continue; // no inbox yet
        }
        assert_eq!(r.status(), 200, "{} {coll}", n.name);
        let v: Value = r.json().await.unwrap();
        out.extend(v["objects"].as_array().cloned().unwrap_or_default());
    }
    out
}

fn ids(objects: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v.dedup();
    v
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits until `n` holds exactly `want` (sorted), showing what it holds on timeout.
async fn wait_for_ids(client: &reqwest::Client, what: &str, n: &Node, want: &[String]) {
    let start = Instant::now();
    let mut last = Vec::new();
    while start.elapsed() < Duration::from_secs(30) {
        last = ids(&held(client, n).await);
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {what}: {} holds {last:?}, expected {want:?}",
        n.name
    );
}

fn ledger(n: &Node, peer: &str) -> Vec<Value> {
    n.cli(&["audit", "egress", "--peer", peer, "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sighting(id: &str, of: &str, count: u32, marking: &str) -> Value {
    json!({
        "type": "sighting", "spec_version": "2.1", "id": id,
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "sighting_of_ref": of, "count": count, "object_marking_refs": [marking]
    })
}

/// Whether `id` is in node `n`'s inbox, read over TAXII as its analyst.
async fn in_inbox(client: &reqwest::Client, n: &Node, id: &str) -> bool {
    let r = client
        .get(format!(
            "{}/api/collections/inbox/objects/?match[id]={id}",
            n.base
        ))
        .bearer_auth(&n.analyst)
        .header("accept", "application/taxii+json;version=2.1")
        .send()
        .await
        .unwrap();
    r.status() == 200 && r.json::<Value>().await.unwrap()["objects"].is_array()
}

fn report_latency(path: &str, ms: &mut [f64]) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{path}: n={} p50={:.0} ms p99={:.0} ms (sync interval 150 ms)",
        ms.len(),
        percentile(ms, 0.5),
        percentile(ms, 0.99)
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_of_five_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Node::new(dir.path(), "A", "127.0.0.2", "org-a");
    let mut a1 = Node::new(dir.path(), "A1", "127.0.0.3", "org-a1");
    let mut b = Node::new(dir.path(), "B", "127.0.0.4", "org-b");
    let mut h = Node::new(dir.path(), "H", "127.0.0.5", "org-h");
    let mut b1 = Node::new(dir.path(), "B1", "127.0.0.6", "org-b1");
    // A's "forb" collection is shared to B's organisation (AMBER recipients).
    a.cli(&[
        "admin",
        "collection",
        "add",
        "--title",
        "forb",
        "--alias",
        "forb",
    ]);
    a.cli(&[
        "admin",
        "grant",
        "--collection",
        "forb",
        "--org",
        "org-a",
        "--read",
        "--write",
    ]);
    a.cli(&["share", "forb", "--recipient", "org-b"]);
    // A's "strict" collection is shared to the bank A1 by name.
    a.cli(&["share", "strict", "--recipient", "org-a1"]);
    // The bank reports to its national centre: what it publishes is shared to A.
    a1.cli(&[
        "share",
        "intel",
        "--community",
        "region",
        "--recipient",
        "org-a",
    ]);
    // Only analyst users are named for RED: nobody here.
    for n in [&mut a, &mut a1, &mut b, &mut h, &mut b1] {
        n.start();
    }
    // Peer accounts and links.
    let t = a.peer_token("org-a1");
    // The bank also pushes to its centre as soon as it stores something.
    ok(
        &a.data,
        &[
            "admin",
            "grant",
            "--collection",
            "inbox",
            "--org",
            "org-a1",
            "--read",
            "--write",
        ],
    );
    link_with(&a1, &a, "org-a", &t, true);
    let t = a.peer_token("org-h");
    link(&h, &a, "org-a", &t);
    let t = a.peer_token("org-b");
    a.cli(&[
        "admin",
        "grant",
        "--collection",
        "forb",
        "--org",
        "org-b",
        "--read",
    ]);
    link(&b, &a, "org-a", &t);
    let t = b.peer_token("org-b1");
    link(&b1, &b, "org-b", &t);
    // B1 verifies what B relays from A against A's key: it knows A's key (no link).
    b1.cli(&[
        "peer", "add", "--name", "A", "--node", &a.id, "--key", &a.key, "--org", "org-a",
    ]);
    // B does not pull from B1 but knows its key and organisation (agreement partner).
    b.cli(&[
        "peer", "add", "--name", "B1", "--node", &b1.id, "--key", &b1.key, "--org", "org-b1",
    ]);
    let t = a1.peer_token("org-a");
    link(&a, &a1, "org-a1", &t);
    let t = h.peer_token("org-a");
    link(&a, &h, "org-h", &t);
    let t = h.peer_token("org-b");
    link(&b, &h, "org-h", &t);
    let t = b.peer_token("org-h");
    link(&h, &b, "org-b", &t);
    let t = b.peer_token("org-a");
    link(&a, &b, "org-b", &t);
    // Agreements (what each node lets out, to whom).
    agree(&a, "A1", &["--max-tlp", "amber+strict"]);
    agree(&a, "H", &["--max-tlp", "green"]); // no re-sharing: H must not relay A's objects
                                             // B may pass what A sends it on (to its constituents, as its own agreements say).
    agree(&a, "B", &["--max-tlp", "amber", "--may-reshare"]);
    // B's constituent B1 starts with GREEN only.
    agree(&b, "B1", &["--max-tlp", "green"]);
    agree(&a1, "A", &["--max-tlp", "amber", "--sightings-back"]);
    agree(&h, "A", &["--max-tlp", "green", "--sightings-back"]);
    agree(&h, "B", &["--max-tlp", "green", "--sightings-back"]);
    agree(
        &b,
        "H",
        &["--max-tlp", "green", "--sightings-back", "--may-reshare"],
    );
    // B sends A nothing directly but its own published objects (no sightings): sightings
    // reach A through the hub.
    agree(&b, "A", &["--max-tlp", "green"]);

    let client = reqwest::Client::new();
    let clear = uuid_id("indicator", 1);
    let green = uuid_id("indicator", 2);
    let amber = uuid_id("indicator", 3);
    let strict = uuid_id("indicator", 4);
    let red = uuid_id("indicator", 5);
    let pii = uuid_id("note", 6);
    let gran = uuid_id("indicator", 7);
    post(
        &client,
        &a,
        "intel",
        vec![
            indicator(&clear, TLP_CLEAR, json!({})),
            indicator(&green, TLP_GREEN, json!({})),
            indicator(&amber, TLP_AMBER, json!({})),
            indicator(&red, TLP_RED, json!({})),
            json!({"type": "note", "spec_version": "2.1", "id": pii,
               "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
               "content": "Phishing reported by analyst.one@bank.example, call +971 50 123 4567",
               "object_refs": [green], "object_marking_refs": [TLP_GREEN]}),
            indicator(
                &gran,
                TLP_GREEN,
                json!({
            "description": "internal case notes",
            "granular_markings": [{"marking_ref": TLP_AMBER, "selectors": ["description"]}]}),
            ),
        ],
    )
    .await;
    post(
        &client,
        &a,
        "strict",
        vec![indicator(&strict, TLP_STRICT, json!({}))],
    )
    .await;
    // B publishes its own GREEN indicator.
    let amber_b = uuid_id("indicator", 8);
    post(
        &client,
        &a,
        "forb",
        vec![indicator(&amber_b, TLP_AMBER, json!({}))],
    )
    .await;
    let b_own = uuid_id("indicator", 20);
    post(
        &client,
        &b,
        "intel",
        vec![indicator(&b_own, TLP_GREEN, json!({}))],
    )
    .await;

    // Expected holdings.
    let want_a1 = {
        let mut v = vec![
            clear.clone(),
            green.clone(),
            amber.clone(),
            strict.clone(),
            pii.clone(),
            gran.clone(),
        ];
        v.sort();
        v
    };
    wait_for_ids(&client, "A1 to hold what A allows it", &a1, &want_a1).await;
    let want_h = {
        let mut v = vec![
            clear.clone(),
            green.clone(),
            pii.clone(),
            gran.clone(),
            b_own.clone(),
        ];
        v.sort();
        v
    };
    wait_for_ids(
        &client,
        "H to hold A's shareable objects and B's",
        &h,
        &want_h,
    )
    .await;
    let want_b = {
        let mut v = vec![
            clear.clone(),
            green.clone(),
            pii.clone(),
            gran.clone(),
            b_own.clone(),
            amber_b.clone(),
        ];
        v.sort();
        v
    };
    wait_for_ids(&client, "B to hold what A allows it", &b, &want_b).await;
    // B's object reached A through the hub (B allowed re-sharing) or directly.
    wait_until("A to hold B's object", Duration::from_secs(30), || async {
        ids(&held(&client, &a).await).contains(&b_own)
    })
    .await;

    // AMBER reaches B's constituent only where B's agreement with it allows: B1 gets
    // A's GREEN through B, not the AMBER object shared to B, until B's terms with B1
    // allow AMBER (and then B1 asks again from the start).
    wait_until(
        "B1 to hold A's GREEN object through B",
        Duration::from_secs(30),
        || async { ids(&held(&client, &b1).await).contains(&green) },
    )
    .await;
    assert!(!ids(&held(&client, &b1).await).contains(&amber_b));
    agree(&b, "B1", &["--max-tlp", "amber"]);
    wait_until(
        "B1 to hold the AMBER object once allowed",
        Duration::from_secs(30),
        || async { ids(&held(&client, &b1).await).contains(&amber_b) },
    )
    .await;
    for never in [&red, &strict, &amber] {
        assert!(
            !ids(&held(&client, &b1).await).contains(never),
            "B1 holds {never}"
        );
    }

    // RED never left A; AMBER+STRICT only reached the named recipient; AMBER only A's client.
    for (n, objs) in [(&h, held(&client, &h).await), (&b, held(&client, &b).await)] {
        let i = ids(&objs);
        for never in [&red, &strict, &amber] {
            assert!(!i.contains(never), "{} holds {never}", n.name);
        }
    }
    assert!(!ids(&held(&client, &a1).await).contains(&red));
    // Redaction: personal data minimised in every partner's copy.
    for n in [&a1, &h, &b] {
        let objs = held(&client, n).await;
        let note = objs.iter().find(|o| o["id"] == pii.as_str()).unwrap();
        let content = note["content"].as_str().unwrap();
        assert!(
            !content.contains("analyst.one@bank.example"),
            "{}: {content}",
            n.name
        );
        assert!(!content.contains("123 4567"), "{}: {content}", n.name);
        // The granular AMBER description is not in the hub's or B's copy.
        let g = objs.iter().find(|o| o["id"] == gran.as_str()).unwrap();
        if n.name != "A1" {
            assert!(g.get("description").is_none(), "{}: {g}", n.name);
        } else {
            assert_eq!(g["description"], "internal case notes");
        }
    }
    // The hub relayed nothing of A's (A did not allow it): its ledger to B has only B-
    // unrelated entries, none for objects originated at A.
    let h_to_b = ledger(&h, "B");
    let a_objects = [&clear, &green, &pii, &gran];
    assert!(
        h_to_b
            .iter()
            .all(|e| !a_objects.contains(&&e["object_id"].as_str().unwrap().to_owned())),
        "H relayed A's objects to B: {h_to_b:?}"
    );
    // Every object that left A is in A's ledger, to the right partner, and the chain holds.
    let sent_to = |peer: &str| -> Vec<String> {
        let mut v: Vec<String> = ledger(&a, peer)
            .into_iter()
            .filter(|e| e["action"] == "sent")
            .map(|e| e["object_id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(sent_to("A1"), want_a1);
    assert_eq!(
        sent_to("H"),
        vec![clear.clone(), green.clone(), pii.clone(), gran.clone()]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    let a_out = a.cli(&["audit", "verify"]);
    assert!(a_out.contains("egress ledger intact"), "{a_out}");

    // A tampered object fails signature verification: B's peer account at H pushes a
    // copy of a signed object whose content was changed.
    let b_token_at_h = h.peer_token("org-b");
    ok(
        &h.data,
        &[
            "admin",
            "grant",
            "--collection",
            "intel",
            "--org",
            "org-b",
            "--read",
            "--write",
        ],
    );
    // H's server caches rights for taxii::server::auth::CACHE_TTL (5 s).
    tokio::time::sleep(Duration::from_millis(5200)).await;
    let signed: Value = {
        let r = client
            .get(format!(
                "{}/api/collections/intel/objects/?match[id]={b_own}",
                b.base
            ))
            .bearer_auth(b.peer_token("org-h"))
            .header("accept", "application/taxii+json;version=2.1")
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v["objects"][0].clone()
    };
    assert!(signed.to_string().contains("signature"), "{signed}");
    let mut forged = signed.clone();
    forged["modified"] = json!("2026-11-02T00:00:00.000Z");
    forged["pattern"] = json!("[ipv4-addr:value = '198.51.100.1']");
    let r = client
        .post(format!("{}/api/collections/intel/objects/", h.base))
        .bearer_auth(&b_token_at_h)
        .header("content-type", "application/taxii+json;version=2.1")
        .header("accept", "application/taxii+json;version=2.1")
        .body(json!({ "objects": [forged] }).to_string())
        .send()
        .await
        .unwrap();
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["failure_count"], 1, "{st}");
    assert!(st.to_string().contains("federation.bad_signature"), "{st}");

    // Sightings: a sighting at B of A's indicator reaches A through the hub.
    let mut lat = Vec::new();
    for i in 0..12u32 {
        let sid = uuid_id("sighting", 100 + i);
        let t0 = Instant::now();
        post(
            &client,
            &b,
            "intel",
            vec![sighting(&sid, &green, 1 + i, TLP_GREEN)],
        )
        .await;
        wait_until(
            "the sighting to reach H",
            Duration::from_secs(20),
            || async { ids(&held(&client, &h).await).contains(&sid) },
        )
        .await;
        wait_until("the sighting to reach A", Duration::from_secs(20), || {
            in_inbox(&client, &a, &sid)
        })
        .await;
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    report_latency("sighting B -> H -> A", &mut lat);
    // Directly: a sighting at the bank A1 reaches A (A1 pushes it; A also pulls A1).
    let mut direct = Vec::new();
    for i in 0..12u32 {
        let sid = uuid_id("sighting", 200 + i);
        let t0 = Instant::now();
        post(
            &client,
            &a1,
            "intel",
            vec![sighting(&sid, &amber, 1, TLP_AMBER)],
        )
        .await;
        wait_until(
            "the sighting to reach A directly",
            Duration::from_secs(20),
            || in_inbox(&client, &a, &sid),
        )
        .await;
        direct.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    report_latency("sighting A1 -> A (direct, pushed)", &mut direct);
    // It went through the hub: H's ledger shows it sent to A.
    assert!(ledger(&h, "A")
        .iter()
        .any(|e| e["object_id"] == uuid_id("sighting", 100).as_str()));

    // Revocation propagates (a new version), deletion propagates (a tombstone).
    let mut revoked = indicator(&green, TLP_GREEN, json!({"revoked": true}));
    revoked["modified"] = json!("2026-11-03T00:00:00.000Z");
    post(&client, &a, "intel", vec![revoked]).await;
    for n in [&a1, &h, &b] {
        wait_until(
            "the revocation to reach every partner",
            Duration::from_secs(30),
            || async {
                held(&client, n)
                    .await
                    .iter()
                    .any(|o| o["id"] == green.as_str() && o["revoked"] == true)
            },
        )
        .await;
    }
    let r = client
        .delete(format!("{}/api/collections/intel/objects/{clear}/", a.base))
        .bearer_auth(&a.analyst)
        .header("accept", "application/taxii+json;version=2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for n in [&a1, &h, &b] {
        wait_until(
            "the deletion to reach every partner",
            Duration::from_secs(30),
            || async { !ids(&held(&client, n).await).contains(&clear) },
        )
        .await;
    }

    // Agreement recall: A narrows A1's terms to GREEN; A1 loses AMBER and AMBER+STRICT.
    agree(&a, "A1", &["--max-tlp", "green"]);
    wait_until(
        "the recall to reach A1",
        Duration::from_secs(30),
        || async {
            let i = ids(&held(&client, &a1).await);
            !i.contains(&amber) && !i.contains(&strict) && i.contains(&pii)
        },
    )
    .await;
    let recalls: Vec<Value> = ledger(&a, "A1")
        .into_iter()
        .filter(|e| e["action"] == "recall")
        .collect();
    let mut recalled = ids(&recalls
        .iter()
        .map(|e| json!({"id": e["object_id"]}))
        .collect::<Vec<_>>());
    recalled.sort();
    // The granular-marked object stays allowed, but no longer its AMBER description:
    // A1 gives its copy back and pulls the one it may now hold.
    let mut expect = vec![amber.clone(), strict.clone(), gran.clone()];
    expect.sort();
    assert_eq!(recalled, expect);
    wait_until(
        "A1 to hold the narrowed copy",
        Duration::from_secs(30),
        || async {
            held(&client, &a1)
                .await
                .iter()
                .any(|o| o["id"] == gran.as_str() && o.get("description").is_none())
        },
    )
    .await;

    // B stops; A publishes; B comes back and catches up, nothing lost or duplicated.
    b.stop();
    let later: Vec<String> = (0..50).map(|i| uuid_id("indicator", 1000 + i)).collect();
    post(
        &client,
        &a,
        "intel",
        later
            .iter()
            .map(|id| indicator(id, TLP_GREEN, json!({})))
            .collect(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.start();
    wait_until("B to catch up", Duration::from_secs(30), || async {
        let i = ids(&held(&client, &b).await);
        later.iter().all(|id| i.contains(id))
    })
    .await;
    let objs = held(&client, &b).await;
    for id in &later {
        assert_eq!(
            objs.iter().filter(|o| o["id"] == id.as_str()).count(),
            1,
            "{id} twice at B"
        );
    }
    for n in [&a, &a1, &b, &h] {
        let out = n.cli(&["audit", "verify"]);
        assert!(out.contains("egress ledger intact"), "{}: {out}", n.name);
    }
}
