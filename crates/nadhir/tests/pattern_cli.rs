//! Runs the built `nadhir` binary: `pattern check` and `pattern match`.

use std::process::Command;

fn nadhir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nadhir"))
}

#[test]
fn check_accepts_valid_and_rejects_invalid_with_a_caret() {
    let ok = nadhir()
        .args([
            "pattern",
            "check",
            "--canonical",
            "[file:name == 'a.exe'] WITHIN 5 SECONDS",
        ])
        .output()
        .expect("run");
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "[file:name = 'a.exe'] WITHIN 5.0 SECONDS"
    );

    let bad = nadhir()
        .args(["pattern", "check", "[file:name = ]"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("pattern.syntax"), "{err}");
    assert!(err.contains("  [file:name = ]\n               ^"), "{err}");
}

#[test]
fn match_prints_one_line_per_pattern_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let patterns = dir.path().join("patterns.txt");
    let observed = dir.path().join("observed.jsonl");
    std::fs::write(
        &patterns,
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']\n\n# a comment\n[file:name = 'nope']\n[file:name = \n",
    )
    .expect("write");
    let bundle = serde_json::json!({
        "type": "bundle", "id": "bundle--6f0e4b3e-9a55-4a8e-8b8e-0d1b1b1b1b1b",
        "objects": [
            {"type": "observed-data", "id": "observed-data--6f0e4b3e-9a55-4a8e-8b8e-0d1b1b1b1b1c",
             "spec_version": "2.1", "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
             "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z",
             "number_observed": 1, "object_refs": ["ipv4-addr--6f0e4b3e-9a55-4a8e-8b8e-0d1b1b1b1b1d"]},
            {"type": "ipv4-addr", "id": "ipv4-addr--6f0e4b3e-9a55-4a8e-8b8e-0d1b1b1b1b1d", "value": "10.1.2.3"}
        ]
    });
    std::fs::write(&observed, format!("{bundle}\n")).expect("write");
    let out = nadhir()
        .args(["pattern", "match", "--patterns"])
        .arg(&patterns)
        .arg("--observed")
        .arg(&observed)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "one invalid pattern: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["matched"], true);
    assert_eq!(
        lines[0]["observed_data_refs"][0],
        "observed-data--6f0e4b3e-9a55-4a8e-8b8e-0d1b1b1b1b1c"
    );
    assert_eq!(lines[1]["matched"], false);
    assert_eq!(lines[2]["pattern"], "[file:name =");
    assert!(lines[2]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("pattern.syntax"));

    let missing = nadhir()
        .args(["pattern", "match", "--patterns"])
        .arg(&patterns)
        .arg("--observed")
        .arg(dir.path().join("nope.json"))
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
}
