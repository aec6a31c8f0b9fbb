//! What the NATS-worker benchmark (`examples/warning_nats_bench.rs`) and the NATS test
//! (`tests/warning_nats.rs`) share: running `nadhir` on a database, the telemetry
//! fixture, a run's JetStream stream and its workers, and the store's sighting windows.
//! Both include this file (`#[path]` from the test); every function takes the binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgConnection};

/// Reads a file of the generated fixture (bounded: written by the generator here).
#[allow(clippy::disallowed_methods)]
pub fn read_fixture_file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// The data directory (node key) of the node whose store is the database `db`: one per
/// database, under the temporary directory, so no run writes into the working directory.
pub fn data_dir_for(db: &str) -> PathBuf {
    let name: String = db
        .rsplit('/')
        .next()
        .unwrap_or("db")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::env::temp_dir().join(format!("nadhir-node-{name}"))
}

/// Runs `bin` on the database `db`; panics with its stderr when it fails.
pub fn nadhir_db(bin: &Path, db: &str, args: &[&str]) -> Output {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data_dir_for(db))
        .arg("--database-url")
        .arg(db)
        .args(args)
        .env_remove("NADHIR_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nadhir {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Generates the telemetry fixture (`scripts/make_telemetry.py`) under `dir`.
pub fn fixture(dir: &Path, events: u64) -> PathBuf {
    let out = dir.join("telemetry");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make_telemetry.py");
    let st = Command::new("python3")
        .arg(script)
        .arg(&out)
        .args(["--events", &events.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("python3 runs the fixture generator");
    assert!(st.success());
    out
}

/// Names of one run's JetStream stream, subjects and consumer.
pub struct Nats {
    pub url: String,
    pub stream: String,
    pub subjects: String,
    pub subject: String,
}

impl Nats {
    /// Names under `prefix` (e.g. `nadhirtest`) for the run `run` (letters and digits).
    pub fn new(url: &str, prefix: &str, run: &str) -> Nats {
        Nats {
            url: url.to_owned(),
            stream: format!("{}{run}", prefix.to_uppercase()),
            subjects: format!("{prefix}.{run}.>"),
            subject: format!("{prefix}.{run}.events"),
        }
    }

    /// Publishes every line of `files` (`nadhir publish`); returns how many it published.
    pub fn publish(&self, bin: &Path, db: &str, files: &[&Path]) -> u64 {
        let mut args = vec![
            "publish",
            "--nats",
            &self.url,
            "--subject",
            &self.subject,
            "--stream",
            &self.stream,
            "--stream-subject",
            &self.subjects,
        ];
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        args.extend(files.iter().map(String::as_str));
        let out = nadhir_db(bin, db, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        err.split_whitespace()
            .skip_while(|w| *w != "published")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("publish summary: {err}"))
    }

    /// Starts a `nadhir watch --nats` worker on the durable consumer `consumer`.
    pub fn worker(
        &self,
        bin: &Path,
        db: &str,
        consumer: &str,
        batch: u32,
        idle_exit: u32,
    ) -> Child {
        Command::new(bin)
            .arg("--data-dir")
            .arg(data_dir_for(db))
            .arg("--database-url")
            .arg(db)
            .args(["watch", "--json", "--min-confidence", "50"])
            .args(["--nats", &self.url, "--nats-stream", &self.stream])
            .args([
                "--nats-subject",
                &self.subjects,
                "--nats-consumer",
                consumer,
            ])
            .args(["--nats-batch", &batch.to_string(), "--nats-ack-wait", "2"])
            .args(["--idle-exit", &idle_exit.to_string()])
            .env_remove("NADHIR_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Deletes the stream (best effort).
    pub async fn delete(&self) {
        if let Ok(c) = async_nats::connect(&self.url).await {
            let js = async_nats::jetstream::new(c);
            let _ = js.delete_stream(&self.stream).await;
        }
    }
}

/// Waits for a worker and returns its `--json` report.
pub async fn finish(child: Child, within: Duration) -> Value {
    let started = Instant::now();
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("worker did not finish within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "worker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "worker output: {e}: {text} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// (indicator, window start in Unix seconds) → count.
pub type Windows = BTreeMap<(String, i64), i64>;

/// The store's sighting windows.
pub async fn windows(db: &str) -> Windows {
    let mut conn = PgConnection::connect(db).await.unwrap();
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT indicator_id, window_start, count FROM sighting_windows")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    rows.into_iter().map(|(i, w, c)| ((i, w), c)).collect()
}

/// The fixture's expected sightings of `file` (`expected.json`, written by
/// `scripts/make_telemetry.py`): (indicator, window start) → count.
pub fn expected_sightings(dir: &Path, file: &str) -> Windows {
    let e: Value = serde_json::from_str(&read_fixture_file(&dir.join("expected.json"))).unwrap();
    assert_eq!(e["window_seconds"], 3600);
    e["files"][file]["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                (
                    s["indicator"].as_str().unwrap().to_owned(),
                    s["window_start_epoch"].as_i64().unwrap(),
                ),
                s["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The fixture's general (not IOC-shaped) indicators, of every file.
pub fn general_indicators(dir: &Path) -> std::collections::BTreeSet<String> {
    let e: Value = serde_json::from_str(&read_fixture_file(&dir.join("expected.json"))).unwrap();
    e["files"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|f| f["general"].as_array().cloned().unwrap_or_default())
        .map(|g| g["indicator"].as_str().unwrap().to_owned())
        .collect()
}
