//! Helpers shared by the binary's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR")
        .output()
        .expect("run nadhir")
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
