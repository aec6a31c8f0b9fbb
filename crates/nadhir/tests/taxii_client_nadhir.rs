//! `nadhir taxii push|pull` against `nadhir serve` itself (Bearer token auth):
//! one node pushes, another pulls, and a resumed pull fetches only what is new.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const TOKEN_VAR: &str = "NADHIR_TEST_TAXII_TOKEN";
const COLLECTION: &str = "0b6b5a52-8f43-4d8e-9f11-6a3f3c6f2a10";

fn nadhir(data_dir: &Path, args: &[&str], token: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env(TOKEN_VAR, token)
        .env_remove("NADHIR_DATABASE_URL")
        .output()
        .expect("run nadhir")
}

fn ok_json(out: Output, what: &str) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.trim().lines().last().unwrap_or_default().to_owned();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {stdout}"))
}

struct Serve(Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn indicator(i: u32) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--0000000a-0000-4000-8000-{i:012x}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'host{i}.example']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}}"#
    )
}

fn write_lines(path: &Path, range: std::ops::Range<u32>) {
    let text: String = range.map(|i| indicator(i) + "\n").collect();
    std::fs::write(path, text).expect("write");
}

#[test]
fn push_to_and_pull_from_a_nadhir_server() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server_dir = tmp.path().join("server");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");

    // Server node: an organisation with a token and read/write on one collection.
    let admin = |args: &[&str]| ok_json(nadhir(&server_dir, args, ""), &args.join(" "));
    admin(&[
        "admin",
        "--json",
        "org",
        "add",
        "--name",
        "peer",
        "--kind",
        "national-centre",
    ]);
    admin(&[
        "admin",
        "--json",
        "collection",
        "add",
        "--title",
        "shared",
        "--alias",
        "shared",
        "--api-root",
        "api1",
        "--id",
        COLLECTION,
    ]);
    admin(&[
        "admin",
        "--json",
        "grant",
        "--org",
        "peer",
        "--collection",
        COLLECTION,
        "--read",
        "--write",
    ]);
    let token = admin(&[
        "admin", "--json", "token", "create", "--org", "peer", "--role", "analyst",
    ]);
    let token = token["token"].as_str().expect("token").to_owned();

    let mut child = Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .arg("--data-dir")
        .arg(&server_dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--api-root", "api1"])
        .env_remove("NADHIR_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let _serve = Serve(child);
    let mut discovery = String::new();
    BufReader::new(stdout)
        .read_line(&mut discovery)
        .expect("read the URL line");
    let discovery = discovery.trim().to_owned();
    assert!(discovery.starts_with("http://127.0.0.1:"), "{discovery}");

    // Node A imports 300 indicators and pushes them.
    let file = tmp.path().join("first.jsonl");
    write_lines(&file, 0..300);
    let out = nadhir(&a, &["import", file.to_str().expect("utf-8")], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let auth = ["--token-env", TOKEN_VAR, "--json"];
    let push = [
        &[
            "taxii",
            "push",
            &discovery,
            "--collection",
            COLLECTION,
            "--max-objects",
            "64",
        ][..],
        &auth,
    ]
    .concat();
    let pushed = ok_json(nadhir(&a, &push, &token), "push");
    assert_eq!(pushed["sent"], 300);
    assert_eq!(pushed["succeeded"], 300);

    // Node B pulls in pages of 50, then resumes with nothing new.
    let pull = [
        &[
            "taxii",
            "pull",
            &discovery,
            "--collection",
            COLLECTION,
            "--limit",
            "50",
            "--into",
            "from-peer",
        ][..],
        &auth,
    ]
    .concat();
    let pulled = ok_json(nadhir(&b, &pull, &token), "pull");
    assert_eq!(pulled["received"], 300);
    assert_eq!(pulled["inserted"], 300);
    assert!(pulled["pages"].as_u64().expect("pages") >= 6);
    let again = ok_json(nadhir(&b, &pull, &token), "pull again");
    assert_eq!(again["received"], 0);

    // 40 more on A; pushing everything again sends duplicates (successes on Nadhir),
    // and B's resumed pull receives exactly the 40 new ones.
    let file = tmp.path().join("second.jsonl");
    write_lines(&file, 300..340);
    let out = nadhir(&a, &["import", file.to_str().expect("utf-8")], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pushed = ok_json(nadhir(&a, &push, &token), "push again");
    assert_eq!(pushed["sent"], 340);
    assert_eq!(pushed["succeeded"], 340, "exact duplicates are successes");
    let third = ok_json(nadhir(&b, &pull, &token), "pull third");
    assert_eq!(third["received"], 40);
    assert_eq!(third["inserted"], 40);

    // A wrong token is refused with 401.
    let out = nadhir(&b, &pull, "ndr_not-a-real-token");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 401"), "{err}");
}
