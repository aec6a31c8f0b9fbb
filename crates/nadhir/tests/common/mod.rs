//! Helpers shared by the binary's integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The Python interpreter with the OASIS oracles, or `None` (with a printed reason) when
/// it is not available. Under CI (`CI` set) a missing oracle is a failure, not a skip.
pub fn oracle_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("NADHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import stix2, stix2validator"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(candidate);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but the oracle interpreter {} cannot import stix2/stix2validator",
            candidate.display()
        );
    }
    eprintln!(
        "SKIPPED: no Python with the OASIS oracles at {} (set NADHIR_PYTHON; see requirements-oracles.txt)",
        candidate.display()
    );
    None
}

/// Runs `nadhir` with a data directory, returning its output.
pub fn nadhir(data_dir: &Path, args: &[&str]) -> Output {
    nadhir_on(data_dir, None, args)
}

/// Runs `nadhir` with a data directory and, when given, a database URL.
pub fn nadhir_on(data_dir: &Path, db: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nadhir"));
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(url) = db {
        cmd.arg("--database-url").arg(url);
    }
    cmd.args(args)
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run nadhir")
}

/// A running `nadhir serve`, killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    /// The discovery URL it printed (`http://127.0.0.1:PORT/taxii2/`).
    pub url: String,
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        self.url.trim_end_matches("/taxii2/").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nadhir serve` on an ephemeral 127.0.0.1 port over `data` (and the database
/// `db` when given) and waits until it prints its URL.
pub fn serve(data: &Path, db: Option<&str>, extra: &[&str]) -> Server {
    serve_with_env(data, db, extra, &[])
}

/// [`serve`] with environment variables set (`Some`) or removed (`None`).
pub fn serve_with_env(
    data: &Path,
    db: Option<&str>,
    extra: &[&str],
    env: &[(&str, Option<&str>)],
) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nadhir"));
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.arg("--data-dir").arg(data);
    if let Some(url) = db {
        cmd.arg("--database-url").arg(url);
    }
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nadhir serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the server's first line");
    let url = line.trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/taxii2/"),
        "unexpected first line {url:?}"
    );
    Server { child, url }
}

/// A unique name for this run (database, stream, subject, consumer).
pub fn run_name(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros();
    format!(
        "{what}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        micros % 1_000_000_000
    )
}

/// A fresh PostgreSQL database; removed by [`Scratch::drop_db`].
pub struct Scratch {
    base: String,
    pub name: String,
    pub url: String,
}

impl Scratch {
    pub async fn new(base: &str) -> Scratch {
        let name = run_name("nadhir_test");
        let mut conn = PgConnection::connect(base).await.expect("connect");
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create database");
        conn.close().await.expect("close");
        let (prefix, _) = base
            .split('?')
            .next()
            .and_then(|b| b.rsplit_once('/'))
            .expect("a database URL");
        Scratch {
            base: base.to_owned(),
            url: format!("{prefix}/{name}"),
            name,
        }
    }

    pub async fn drop_db(self) {
        let mut conn = PgConnection::connect(&self.base).await.expect("connect");
        conn.execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .expect("drop database");
        conn.close().await.expect("close");
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Validates every object of a bundle file with `stix2-validator`; returns
/// `(id, [error messages])` for every object it finds invalid.
pub fn oracle_invalid_objects(python: &Path, bundle: &Path) -> Vec<(String, Vec<String>)> {
    let script = workspace_root().join("crates/nadhir/tests/oracle/validate_objects.py");
    let out = Command::new(python)
        .arg(script)
        .arg(bundle)
        .output()
        .expect("run oracle");
    assert!(out.status.success(), "oracle failed: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("oracle output is JSON");
    v.as_array()
        .expect("array")
        .iter()
        .filter(|r| r["valid"] == false)
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("?").to_owned(),
                r["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e.to_string())
                    .collect(),
            )
        })
        .collect()
}

/// The telemetry fixture generator (`scripts/make_telemetry.py`).
pub fn telemetry_generator() -> PathBuf {
    workspace_root().join("scripts/make_telemetry.py")
}

/// The emitted-objects oracle (`tests/oracle/check_emitted.py`).
pub fn check_emitted_script() -> PathBuf {
    workspace_root().join("crates/nadhir/tests/oracle/check_emitted.py")
}

/// Runs the telemetry fixture generator into `dir` with `python` (extra `args`, e.g.
/// `--events N`) and returns its `expected.json`.
pub fn generate_telemetry(python: &Path, dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python)
        .arg(telemetry_generator())
        .arg(dir)
        .args(args)
        .output()
        .expect("run the generator");
    assert!(
        out.status.success(),
        "make_telemetry.py failed: {}",
        stderr(&out)
    );
    let path = dir.join("expected.json");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_reader(std::io::BufReader::new(file))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}
