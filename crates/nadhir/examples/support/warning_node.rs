//! What the early-warning latency benchmark (`examples/warning_latency.rs`) and the
//! `nadhir serve` early-warning test (`tests/warning_serve.rs`) share: a node on a fresh
//! SQLite data directory with domain indicators, an organisation and a token per role;
//! the EVE events that hit them; and a reader of the live stream (Server-Sent Events).
//! Both include this file (`#[path]`); the node takes the binary to run.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

/// A domain indicator `[domain-name:value = 'hit-<i>.alert.example']`.
pub fn indicator(i: usize) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator_id(i),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("indicator {i}"),
        "indicator_types": ["malicious-activity"],
        "pattern": format!("[domain-name:value = 'hit-{i}.alert.example']"),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": "2026-01-01T00:00:00Z",
        "confidence": 80
    })
}

pub fn indicator_id(i: usize) -> String {
    format!("indicator--6b1d0c3e-0000-4000-8000-{i:012}")
}

/// An EVE DNS query for `name` (no timestamp: the engine uses the arrival time).
pub fn dns_event(name: &str) -> String {
    json!({
        "event_type": "dns",
        "src_ip": "10.1.2.3",
        "src_port": 53000,
        "dest_ip": "10.1.2.53",
        "dest_port": 53,
        "proto": "UDP",
        "dns": {"type": "query", "id": 7, "rrname": name, "rrtype": "A"}
    })
    .to_string()
}

/// A node on its own SQLite data directory; the server runs once [`Node::start`]ed
/// and is killed when the node is dropped.
pub struct Node {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    pub data: PathBuf,
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` once started.
    pub base: String,
    tokens: BTreeMap<&'static str, String>,
    /// Environment variables set for every CLI command (not for the server).
    pub env: Vec<(String, String)>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Node {
    /// A data directory with `indicators` indicators imported, the organisation `bank`
    /// running the node, and a token per role (sensor, analyst, reader, admin). The
    /// server is not started yet.
    pub fn new(bin: &Path, indicators: usize) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let bundle = json!({
            "type": "bundle",
            "id": "bundle--6b1d0c3e-0000-4000-8000-000000000000",
            "objects": (0..indicators).map(indicator).collect::<Vec<_>>(),
        });
        let f = dir.path().join("indicators.json");
        std::fs::write(&f, bundle.to_string()).unwrap();
        let mut node = Node {
            _dir: dir,
            bin: bin.to_owned(),
            data,
            child: None,
            base: String::new(),
            tokens: BTreeMap::new(),
            env: Vec::new(),
        };
        let org = [
            "admin",
            "org",
            "add",
            "--name",
            "bank",
            "--kind",
            "constituent",
        ];
        node.ok(&org);
        // The bank runs this node: what it imports is its own, and its accounts read the
        // alerts about it (alerts are handed out through the TLP policy).
        node.ok(&["node", "set", "--org", "bank"]);
        node.ok(&["import", f.to_str().unwrap()]);
        for role in ["sensor", "analyst", "reader", "admin"] {
            let out = node.ok(&["admin", "token", "create", "--org", "bank", "--role", role]);
            // Plain output: the secret, shown this once.
            let t = out.trim().to_owned();
            assert!(t.starts_with("ndr_"), "{t}");
            node.tokens.insert(role, t);
        }
        node
    }

    /// Runs a CLI command on the node's data directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .env_remove("NADHIR_DATABASE_URL")
            .env_remove("NADHIR_DATA_DIR")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// [`Node::cli`] that must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "nadhir {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `nadhir serve` on a free port (with `extra` arguments) and waits for its
    /// address.
    pub fn start(&mut self, extra: &[&str]) {
        let mut child = Command::new(&self.bin)
            .arg("--data-dir")
            .arg(&self.data)
            .args(["serve", "--listen", "127.0.0.1:0", "--reload-ms", "100"])
            .args(extra)
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
        self.child = Some(child);
        // The discovery URL: http://127.0.0.1:PORT/taxii2/
        let url = url.trim();
        let rest = url.strip_prefix("http://").expect(url);
        let host = rest.split('/').next().unwrap();
        self.base = format!("http://{host}");
    }

    pub fn token(&self, role: &str) -> &str {
        self.tokens.get(role).unwrap()
    }
}

/// A Server-Sent Events reader over a reqwest response.
pub struct Sse {
    pub body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    pub buf: String,
}

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<i64>,
    pub event: String,
    pub data: String,
}

impl Sse {
    /// Opens `GET /warning/stream` with `token`, from the cursor `last` if given.
    pub async fn open(client: &reqwest::Client, base: &str, token: &str, last: Option<i64>) -> Sse {
        let mut req = client
            .get(format!("{base}/warning/stream"))
            .bearer_auth(token);
        if let Some(l) = last {
            req = req.header("Last-Event-ID", l.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Sse {
            body: resp.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped), or `None` after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent {
                    id: None,
                    event: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim().parse().unwrap());
                        any = true;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().to_owned();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !ev.data.is_empty() {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(ev);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return None,
                Ok(None) => panic!("the event stream ended"),
                Ok(Some(chunk)) => self
                    .buf
                    .push_str(&String::from_utf8_lossy(&chunk.unwrap()).replace("\r\n", "\n")),
            }
        }
    }
}
