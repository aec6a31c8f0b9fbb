//! Starts the real `nadhir serve` on an ephemeral 127.0.0.1 port, provisions it with
//! `nadhir admin`, and drives it with the OASIS `taxii2-client` library through every
//! endpoint and filter (crates/taxii/tests/oracle/server_taxii2client.py).

// Helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::serve;

const BIN: &str = env!("CARGO_BIN_EXE_nadhir");

/// The oracle interpreter, or `None` (after printing why) when the test must skip.
fn python() -> Option<PathBuf> {
    let p = std::env::var_os("NADHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the oracle interpreter {} is missing",
        p.display()
    );
    eprintln!(
        "skipping: no Python interpreter with taxii2-client at {} (set NADHIR_PYTHON)",
        p.display()
    );
    None
}

fn admin(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).arg("admin").args(args);
    cmd.env_remove("NADHIR_DATABASE_URL");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn taxii2_client_drives_every_endpoint() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let org = admin(
        data,
        &[
            "org",
            "add",
            "--name",
            "centre",
            "--kind",
            "national-centre",
            "--country",
            "jo",
        ],
        None,
    );
    assert_eq!(org.len(), 36, "org add prints the id: {org}");
    let coll = admin(
        data,
        &[
            "collection",
            "add",
            "--title",
            "Shared indicators",
            "--alias",
            "shared",
        ],
        None,
    );
    assert_eq!(coll.len(), 36, "collection add prints the id: {coll}");
    admin(
        data,
        &[
            "grant",
            "--collection",
            "shared",
            "--org",
            "centre",
            "--read",
            "--write",
        ],
        None,
    );
    admin(
        data,
        &[
            "user",
            "add",
            "--org",
            "centre",
            "--username",
            "analyst1",
            "--role",
            "analyst",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    let token = admin(
        data,
        &[
            "token", "create", "--org", "centre", "--role", "analyst", "--label", "oracle",
        ],
        None,
    );
    assert!(
        token.starts_with("ndr_"),
        "token create prints the secret: {token}"
    );
    let listed = admin(data, &["--json", "token", "list"], None);
    assert!(
        !listed.contains(&token),
        "token list never shows the secret"
    );

    let server = serve(data, None, &["--max-content-length", "200000"]);
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../taxii/tests/oracle/server_taxii2client.py");
    let out = Command::new(&py)
        .arg(&script)
        .args([
            &server.url,
            "analyst1",
            "a long enough password",
            &coll,
            &token,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "oracle failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(summary["checks"].as_u64().unwrap() >= 40, "{summary}");
}

#[test]
// A plain (non-async) test: sleeping blocks no executor here.
#[allow(clippy::disallowed_methods)]
fn serve_shuts_down_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), None, &[]);
    let pid = server.child.id().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(st.success());
    let mut waited = 0;
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        waited += 1;
        assert!(waited < 100, "server did not stop within 10 s of SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn admin_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("admin")
            .args(args)
            .env_remove("NADHIR_DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["org", "add", "--name", "x", "--kind", "club"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown organisation kind"));
    let out = run(&["token", "create", "--org", "nobody", "--role", "analyst"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no organisation"));
    let out = run(&["org", "add", "--name", "x", "--kind", "constituent"]);
    assert!(out.status.success());
    let out = run(&["token", "create", "--org", "x", "--role", "overlord"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));
    let out = run(&["--json", "org", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["orgs"][0]["name"], "x");
}
