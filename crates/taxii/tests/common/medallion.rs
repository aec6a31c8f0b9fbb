//! Starts the OASIS reference TAXII server `medallion` (from the Python venv) on a
//! free loopback port with its memory backend, one API root (`api1`) and one
//! writable collection, for client tests. Shared by the taxii and nadhir test suites.
//!
//! The interpreter comes from `NADHIR_PYTHON`, else `<workspace>/.venv/bin/python`.
//! When it (or medallion) is missing the test is skipped with a printed reason,
//! unless `CI` is set, in which case it fails.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "Password0";
pub const COLLECTION: &str = "365fed99-08fa-fdcd-a1b3-fb247eb41d01";

/// A running medallion; killed on drop.
pub struct Medallion {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Medallion {
    pub fn discovery_url(&self) -> String {
        format!("http://127.0.0.1:{}/taxii2/", self.port)
    }
    pub fn api_root_url(&self) -> String {
        format!("http://127.0.0.1:{}/api1/", self.port)
    }
}

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn skip_or_fail(reason: &str) -> Option<Medallion> {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but medallion is unavailable: {reason}");
    }
    eprintln!("SKIP: medallion unavailable: {reason}");
    None
}

/// The Python interpreter of the oracle venv, if present.
pub fn python() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("NADHIR_PYTHON") {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(format!("NADHIR_PYTHON={} does not exist", p.display()))
        };
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if p.exists() {
        Ok(p)
    } else {
        Err(format!("{} not found (set NADHIR_PYTHON)", p.display()))
    }
}

/// Starts medallion with the given `max_page_size`; `None` means skip the test.
pub async fn start(max_page_size: u32) -> Option<Medallion> {
    let python = match python() {
        Ok(p) => p,
        Err(reason) => return skip_or_fail(&reason),
    };
    let probe = Command::new(&python)
        .args(["-c", "import medallion"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return skip_or_fail(&format!(
                "`import medallion` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Err(e) => return skip_or_fail(&format!("cannot run {}: {e}", python.display())),
    }
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        l.local_addr().expect("local addr").port()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let root = format!("http://127.0.0.1:{port}/api1/");
    let data = serde_json::json!({
        "/discovery": {
            "title": "medallion test server",
            "description": "oracle for the Nadhir TAXII client tests",
            "default": root,
            "api_roots": [root]
        },
        "api1": {
            "information": {
                "title": "api1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 104857600
            },
            "status": [],
            "collections": [{
                "id": COLLECTION,
                "title": "client test collection",
                "can_read": true,
                "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": [],
                "manifest": []
            }]
        }
    });
    let data_path = dir.path().join("data.json");
    std::fs::write(&data_path, data.to_string()).expect("write data file");
    let config = serde_json::json!({
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": data_path,
        },
        "users": { USER: PASSWORD },
        "taxii": { "max_page_size": max_page_size }
    });
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config.to_string()).expect("write config");
    let log = std::fs::File::create(dir.path().join("medallion.log")).expect("log file");
    let child = Command::new(&python)
        .args([
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn medallion");
    let m = Medallion {
        child,
        _dir: dir,
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "medallion did not start listening on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(m)
}

/// A valid STIX 2.1 indicator numbered `i` (`tag` keeps batches apart).
pub fn indicator(tag: u32, i: u32) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--{tag:08x}-0000-4000-8000-{i:012x}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"test indicator {tag}/{i}","pattern":"[ipv4-addr:value = '10.{}.{}.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","labels":["nadhir-test"]}}"#,
        tag % 256,
        (i / 256) % 256,
        i % 256
    )
}
