//! `nadhir` runs itself again at start with mimalloc's settings in its environment
//! (`crates/nadhir/src/allocator.rs`): the process that serves is the one started (same
//! process id and arguments) and has them, and a value the operator set is kept.

#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

mod common;

const VAR: &str = "MIMALLOC_PURGE_DELAY";
const ARGS: [&str; 2] = ["--no-warning", "--no-sync"];

/// Starts `nadhir serve` (with `VAR` set to `preset`, or removed), waits for its URL and
/// returns the value of `VAR` in its environment and its arguments, read from /proc.
fn started_with(preset: Option<&str>) -> (Option<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve_with_env(dir.path(), None, &ARGS, &[(VAR, preset)]);
    let proc = format!("/proc/{}", server.child.id());
    let environ = std::fs::read(format!("{proc}/environ")).unwrap();
    let cmdline = std::fs::read(format!("{proc}/cmdline")).unwrap();
    drop(server);
    let value = environ
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix(&format!("{VAR}=")).map(str::to_owned));
    let args = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (value, args)
}

#[test]
fn the_serving_process_runs_with_the_allocator_settings() {
    let (value, args) = started_with(None);
    assert_eq!(value.as_deref(), Some("10000"));
    // The same process (the id the parent knows), with the arguments it was given.
    assert_eq!(args[0], env!("CARGO_BIN_EXE_nadhir"));
    assert_eq!(
        &args[3..],
        [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-warning",
            "--no-sync"
        ]
    );
}

#[test]
fn a_value_the_operator_set_is_kept() {
    let (value, _) = started_with(Some("250"));
    assert_eq!(value.as_deref(), Some("250"));
}
