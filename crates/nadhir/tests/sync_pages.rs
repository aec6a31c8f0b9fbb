//! A pull sync over many pages with a commit after every page: node A serves pages of
//! 7 objects (`--max-page-size 7`), node B runs `nadhir sync --commit-after-ms 1`, so
//! each commit runs while the next page is checked and later pages are fetched ahead.
//! B must end with every version A published (a second version of one object arrives
//! pages after the first), nothing twice, its cursor at the end (a second sync receives
//! nothing), and A's ledger must hold one entry per version sent and verify.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// Nodes A (serving pages of 7, `--max-page-size 7`) and B, under `root`: A has
/// imported `objects` (in this order) into a collection shared to B's organisation, with
/// an agreement up to AMBER+STRICT; B knows A as peer "A". Returns A's and B's data
/// directories and A's server.
fn two_nodes(root: &Path, objects: &[Value]) -> (PathBuf, PathBuf, common::Server) {
    let (a, b) = (root.join("a"), root.join("b"));
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

    let file = root.join("objects.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    for o in objects {
        writeln!(f, "{o}").unwrap();
    }
    drop(f);
    ok(
        &a,
        &["import", "--collection", "intel", file.to_str().unwrap()],
    );
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
    (a, b, server)
}

#[test]
fn many_pages_committed_one_by_one_arrive_once_each() {
    let root = tempfile::tempdir().unwrap();
    // Version 1 of object 0 first, version 2 last: they travel in different pages
    // (and different transactions at B).
    let mut objects: Vec<Value> = (0..OBJECTS)
        .map(|n| indicator(n, "2026-11-01T00:00:00.000Z"))
        .collect();
    objects.push(indicator(0, "2026-11-02T00:00:00.000Z"));
    let versions = objects.len() as u64;
    let (a, b, _server) = two_nodes(root.path(), &objects);

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

/// Two versions of one object in consecutive pages of one transaction: B checks the
/// second page while it writes the first, so the second version's metadata must come
/// from what the open transaction holds (not yet visible to the store's readers) and
/// keep the first version's signature beside its own.
#[test]
fn a_later_version_in_the_next_page_keeps_the_first_versions_signature() {
    let root = tempfile::tempdir().unwrap();
    // Pages of 7: version 1 of object 0 opens the first page, version 2 opens the second.
    let mut objects: Vec<Value> = (0..7)
        .map(|n| indicator(n, "2026-11-01T00:00:00.000Z"))
        .collect();
    objects.push(indicator(0, "2026-11-02T00:00:00.000Z"));
    objects.extend((7..20).map(|n| indicator(n, "2026-11-01T00:00:00.000Z")));
    let versions = objects.len() as u64;
    let (_a, b, _server) = two_nodes(root.path(), &objects);

    // The default commit (10 s or 100,000 objects): every page in one transaction.
    let report: Value = serde_json::from_str(&ok(&b, &["sync", "--peer", "A", "--json"])).unwrap();
    let r = &report[0];
    assert_eq!(r["stored"], json!(versions), "{report}");
    assert_eq!(r["pages"], json!(versions.div_ceil(7)), "{report}");
    assert_eq!(r["rejected"], json!([]), "{report}");

    let id = indicator(0, "2026-11-01T00:00:00.000Z")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let st = store::open(&b, None).await.unwrap();
        st.get_meta(std::slice::from_ref(&id)).await.unwrap()
    });
    assert_eq!(rows.len(), 1, "{rows:?}");
    let doc: Value = serde_json::from_str(&rows[0].json).unwrap();
    let signatures = doc["signatures"].as_object().unwrap();
    assert_eq!(signatures.len(), 2, "both versions' signatures: {doc}");
}
