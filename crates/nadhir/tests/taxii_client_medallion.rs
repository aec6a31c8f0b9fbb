//! `nadhir taxii push|pull|collections` (the built binary) against a live medallion.

#[path = "../../taxii/tests/common/medallion.rs"]
mod medallion;

use medallion::{indicator, COLLECTION, PASSWORD, USER};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const PW_VAR: &str = "NADHIR_TEST_MEDALLION_PASSWORD";

fn nadhir(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env(PW_VAR, PASSWORD)
        .env_remove("NADHIR_DATABASE_URL")
        .output()
        .expect("run nadhir")
}

/// Runs a `taxii` subcommand with `--json` and returns its summary.
fn summary(data_dir: &Path, args: &[&str], expect_code: i32) -> Value {
    let out = nadhir(data_dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(expect_code),
        "{args:?}\nstderr: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("summary of {args:?} is not JSON ({e}): {stdout}"))
}

fn write_bundle(path: &Path, objects: &[String]) {
    let bundle = format!(
        r#"{{"type":"bundle","id":"bundle--6e4b7c2a-2f5e-4f5a-9d1e-000000000001","objects":[{}]}}"#,
        objects.join(",")
    );
    std::fs::write(path, bundle).expect("write bundle");
}

fn malware(i: u32) -> String {
    format!(
        r#"{{"type":"malware","spec_version":"2.1","id":"malware--00000009-0000-4000-8000-{i:012x}","created":"2024-03-01T00:00:00.000Z","modified":"2024-03-01T00:00:00.000Z","name":"family {i}","is_family":true}}"#
    )
}

#[tokio::test]
async fn push_then_pull_then_resume_through_the_cli() {
    let Some(server) = medallion::start(25).await else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let src = tmp.path().join("src");
    let dst = tmp.path().join("dst");
    let root = server.api_root_url();
    let discovery = server.discovery_url();
    let auth = ["--user", USER, "--password-env", PW_VAR, "--json"];

    // The remote collection is listed.
    let cols = summary(
        &src,
        &[&["taxii", "collections", &discovery][..], &auth].concat(),
        0,
    );
    assert_eq!(cols[0]["id"], COLLECTION);

    // Import N indicators locally, push them.
    const N: u32 = 60;
    let file = tmp.path().join("indicators.json");
    write_bundle(&file, &(0..N).map(|i| indicator(7, i)).collect::<Vec<_>>());
    let out = nadhir(
        &src,
        &[
            "import",
            file.to_str().expect("utf-8"),
            "--collection",
            "outbox",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let push_args = [
        "taxii",
        "push",
        &root,
        "--collection",
        COLLECTION,
        "--max-objects",
        "16",
    ];
    let pushed = summary(&src, &[&push_args[..], &auth].concat(), 0);
    assert_eq!(pushed["sent"], N);
    assert_eq!(pushed["succeeded"], N);
    assert_eq!(pushed["envelopes"], N.div_ceil(16));

    // Pull into a fresh store (through the discovery URL); medallion pages by 25.
    let pull_args = [
        "taxii",
        "pull",
        &discovery,
        "--collection",
        COLLECTION,
        "--into",
        "mirror",
    ];
    let pulled = summary(&dst, &[&pull_args[..], &auth].concat(), 0);
    assert_eq!(pulled["received"], N);
    assert_eq!(pulled["inserted"], N);
    assert_eq!(pulled["pages"], N.div_ceil(25));
    assert!(pulled["cursor"].is_string());

    // Resume: nothing new.
    let again = summary(&dst, &[&pull_args[..], &auth].concat(), 0);
    assert_eq!(again["received"], 0);
    assert_eq!(again["started_after"], pulled["cursor"]);

    // Add M malware locally, push only that type, then the pull gets exactly those.
    const M: u32 = 5;
    let file = tmp.path().join("malware.json");
    write_bundle(&file, &(0..M).map(malware).collect::<Vec<_>>());
    let out = nadhir(
        &src,
        &[
            "import",
            file.to_str().expect("utf-8"),
            "--collection",
            "outbox",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let typed = [&push_args[..], &["--type", "malware"], &auth].concat();
    let pushed = summary(&src, &typed, 0);
    assert_eq!(pushed["sent"], M);
    assert_eq!(pushed["succeeded"], M);
    let third = summary(&dst, &[&pull_args[..], &auth].concat(), 0);
    assert_eq!(third["received"], M);
    assert_eq!(third["inserted"], M);

    // The mirror collection now holds N + M objects: export and count.
    let out = nadhir(&dst, &["stats"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = String::from_utf8_lossy(&out.stdout);
    assert!(stats.contains("mirror"), "{stats}");
    assert!(stats.contains(&(N + M).to_string()), "{stats}");
}

#[tokio::test]
async fn bad_credentials_and_bad_arguments_fail_clearly() {
    let Some(server) = medallion::start(25).await else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let root = server.api_root_url();
    let out = Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["taxii", "pull", &root, "--collection", COLLECTION])
        .args(["--user", USER, "--password-env", PW_VAR])
        .env(PW_VAR, "wrong")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 401"), "{err}");

    let out = nadhir(
        tmp.path(),
        &[
            "taxii",
            "pull",
            &root,
            "--collection",
            COLLECTION,
            "--added-after",
            "yesterday",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--added-after \"yesterday\""), "{err}");

    let out = nadhir(
        tmp.path(),
        &[
            "taxii",
            "pull",
            &root,
            "--collection",
            COLLECTION,
            "--token-env",
            "NADHIR_NO_SUCH_VAR",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NADHIR_NO_SUCH_VAR is not set"), "{err}");
}
