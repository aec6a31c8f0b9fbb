//! Shared helpers for tests that call the OASIS Python oracles.
//!
//! The interpreter comes from `NADHIR_PYTHON`, else `<workspace>/.venv/bin/python`.
//! When it is missing the test is skipped with a printed reason, unless `CI` is
//! set, in which case the test fails.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The Python interpreter with the oracles, or `None` (after printing why) when
/// the test should be skipped.
pub fn python(test: &str) -> Option<PathBuf> {
    let path = match std::env::var_os("NADHIR_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    if path.exists() {
        return Some(path);
    }
    let reason = format!(
        "{test}: skipped: no Python oracle interpreter at {} (set NADHIR_PYTHON or create the venv with .ci/run)",
        path.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{reason}; CI is set, so this is a failure");
    }
    eprintln!("{reason}");
    None
}

/// Runs `tests/oracle/<script>` with `input` on stdin and returns stdout.
pub fn run_oracle(python: &PathBuf, script: &str, input: &str) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracle")
        .join(script);
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to oracle");
    let out = child.wait_with_output().expect("oracle output");
    assert!(
        out.status.success(),
        "oracle {} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("oracle prints UTF-8")
}

/// Runs `tests/oracle/<script> ARGS...` with `input` on stdin and returns stdout.
pub fn run_oracle_args(python: &PathBuf, script: &str, args: &[&str], input: &str) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracle")
        .join(script);
    let mut child = Command::new(python)
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to oracle");
    let out = child.wait_with_output().expect("oracle output");
    assert!(
        out.status.success(),
        "oracle {} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("oracle prints UTF-8")
}
