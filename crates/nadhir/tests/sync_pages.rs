//! A pull sync over many pages with a commit after every page: node A serves pages of
//! 7 objects (`--max-page-size 7`), node B runs `nadhir sync --commit-after-ms 1`, so
//! each commit runs while the next page is checked and later pages are fetched ahead.
//! B must end with every version A published (a second version of one object arrives
//! pages after the first), nothing twice, its cursor at the end (a second sync receives
//! nothing), and A's ledger must hold one entry per version sent and verify.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

mod common;

const TLP_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const OBJECTS: u32 = 60;

/// Runs `nadhir`, which must succeed; its standard output.
fn ok(data: &Path, args: &[&str]) -> String {
    let o = common::nadhir(data, args);
    assert!(
        o.status.success(),
        "nadhir {args:?} failed: {}{}",
        common::stdout(&o),
        common::stderr(&o)
    );
    common::stdout(&o)
}

fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-11-01T00:00:00.000Z", "modified": modified,
        "name": format!("indicator {n}"), "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", n % 250),
        "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
        "object_marking_refs": [TLP_AMBER]
    })
}

fn node_id_and_key(data: &Path) -> (String, String) {
    let v: Value = serde_json::from_str(&ok(data, &["node", "show"])).unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["x_nadhir_public_key"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn many_pages_committed_one_by_one_arrive_once_each() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    for d in [&a, &b] {
        for org in ["org-a", "org-b"] {
            ok(
                d,
                &[
                    "admin",
                    "org",
                    "add",
                    "--name",
                    org,
                    "--id",
                    org,
                    "--kind",
                    "national-centre",
                ],
            );
        }
    }
    ok(&a, &["node", "set", "--org", "org-a"]);
    ok(&b, &["node", "set", "--org", "org-b"]);
    ok(
        &a,
        &[
            "admin",
            "collection",
            "add",
            "--title",
            "intel",
            "--alias",
            "intel",
        ],
    );
    ok(&a, &["share", "intel", "--recipient", "org-b"]);

    // Version 1 of object 0 first, version 2 last: they travel in different pages
    // (and different transactions at B).
    let file = root.path().join("objects.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    for n in 0..OBJECTS {
        writeln!(f, "{}", indicator(n, "2026-11-01T00:00:00.000Z")).unwrap();
    }
    writeln!(f, "{}", indicator(0, "2026-11-02T00:00:00.000Z")).unwrap();
    drop(f);
    ok(
        &a,
        &["import", "--collection", "intel", file.to_str().unwrap()],
    );
    let versions = u64::from(OBJECTS) + 1;

    ok(
        &a,
        &[
            "admin",
            "grant",
            "--collection",
            "intel",
            "--org",
            "org-b",
            "--read",
        ],
    );
    let token = ok(
        &a,
        &[
            "admin", "token", "create", "--org", "org-b", "--role", "peer",
        ],
    )
    .trim()
    .to_owned();
    let (a_id, a_key) = node_id_and_key(&a);
    let (b_id, b_key) = node_id_and_key(&b);
    ok(
        &a,
        &[
            "peer", "add", "--name", "B", "--org", "org-b", "--node", &b_id, "--key", &b_key,
        ],
    );
    ok(
        &a,
        &[
            "agreement",
            "set",
            "--peer",
            "B",
            "--max-tlp",
            "amber+strict",
        ],
    );

    let server = common::serve(
        &a,
        None,
        &["--no-warning", "--no-sync", "--max-page-size", "7"],
    );
    let api = format!("{}/api/", server.base());
    // The peer's token is read from the environment (`--token-env`).
    let added = Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(&b)
        .args([
            "peer",
            "add",
            "--name",
            "A",
            "--org",
            "org-a",
            "--node",
            &a_id,
            "--key",
            &a_key,
            "--url",
            &api,
            "--token-env",
            "PEER_TOKEN",
        ])
        .env_remove("NADHIR_DATABASE_URL")
        .env_remove("NADHIR_DATA_DIR")
        .env("PEER_TOKEN", &token)
        .status()
        .unwrap();
    assert!(added.success(), "peer add at B failed");

    let first: Value = serde_json::from_str(&ok(
        &b,
        &["sync", "--peer", "A", "--commit-after-ms", "1", "--json"],
    ))
    .unwrap();
    let r = &first[0];
    assert_eq!(r["received"], json!(versions), "first sync: {first}");
    assert_eq!(r["stored"], json!(versions), "first sync: {first}");
    assert_eq!(r["duplicates"], json!(0), "first sync: {first}");
    assert_eq!(r["rejected"], json!([]), "first sync: {first}");
    // Pages of 7: every page was its own transaction.
    assert_eq!(
        r["pages"],
        json!(versions.div_ceil(7)),
        "first sync: {first}"
    );
    let stats: Value = serde_json::from_str(&ok(&b, &["stats", "--json"])).unwrap();
    assert_eq!(stats["total_versions"], json!(versions), "{stats}");
    assert_eq!(stats["distinct_objects"], json!(OBJECTS), "{stats}");

    // The cursor was saved with the last commit: nothing is asked for again.
    let second: Value = serde_json::from_str(&ok(
        &b,
        &["sync", "--peer", "A", "--commit-after-ms", "1", "--json"],
    ))
    .unwrap();
    assert_eq!(second[0]["received"], json!(0), "second sync: {second}");
    assert_eq!(second[0]["stored"], json!(0), "second sync: {second}");

    let verify = ok(&a, &["audit", "verify"]);
    assert!(
        verify.contains(&format!("egress ledger intact: {versions} entries")),
        "{verify}"
    );
}
