//! `nadhir match` end to end: generated Suricata EVE and Zeek files with planted hits,
//! near-misses and broken lines.

use serde_json::{json, Value};
use std::io::Write;
use std::process::Command;

fn indicator(n: u32, pattern: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
    })
}

fn id(n: u32) -> String {
    format!("indicator--00000000-0000-4000-8000-{n:012}")
}

const MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

fn bundle() -> Value {
    let mut objects = vec![
        indicator(1, "[domain-name:value = 'evil.example']"),
        indicator(
            2,
            "[domain-name:value = 'bank-login.example' OR domain-name:value LIKE '%.bank-login.example']",
        ),
        indicator(3, "[ipv4-addr:value = '203.0.113.66']"),
        indicator(4, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
        indicator(5, "[ipv6-addr:value = '2001:db8::bad']"),
        indicator(6, "[url:value = 'http://evil.example/dropper/stage2.bin']"),
        indicator(7, &format!("[file:hashes.MD5 = '{}']", MD5.to_uppercase())),
        indicator(8, &format!("[file:hashes.'SHA-256' = '{SHA256}']")),
        indicator(9, "[email-addr:value = 'invoice@phish.example']"),
        // Not IOC-shaped: kept for the evaluator, never reported by `nadhir match`.
        indicator(10, "[ipv4-addr:value = '203.0.113.66'] FOLLOWEDBY [domain-name:value = 'x.example']"),
    ];
    let mut sigma = indicator(11, "title: x");
    sigma["pattern_type"] = json!("sigma");
    objects.push(sigma);
    objects.push(json!({"type": "identity", "spec_version": "2.1", "id": "identity--00000000-0000-4000-8000-000000000001", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "CERT"}));
    objects.push(indicator(12, "[ipv4-addr:value = ]"));
    json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects})
}

/// EVE lines; `(line, expected indicators)` for lines with planted hits.
fn eve() -> (String, Vec<(u64, Vec<u32>)>) {
    let ts = "2026-11-22T10:00:00.000000+0000";
    let lines = [
        // 1: DNS answer with 0x20 case randomisation and a trailing dot, answer in the CIDR.
        json!({"timestamp": ts, "event_type": "dns", "src_ip": "10.0.0.5", "dest_ip": "10.0.0.53",
               "dns": {"type": "answer", "rrname": "eVIl.ExAmple.", "rrtype": "A",
                       "answers": [{"rrname": "evil.example", "rrtype": "A", "rdata": "198.51.100.23"}]}})
        .to_string(),
        // 2: near misses: lookalike domain, neighbouring address, subdomain of an exact-only domain.
        json!({"timestamp": ts, "event_type": "dns", "src_ip": "203.0.113.67", "dest_ip": "198.51.101.1",
               "dns": {"rrname": "evilexample.com", "answers": [{"rrname": "www.evil.example", "rdata": "192.0.2.1"}]}})
        .to_string(),
        // 3: TLS to a subdomain of the bank lookalike, from the bad IPv6 address.
        json!({"timestamp": ts, "event_type": "tls", "src_ip": "2001:DB8::BAD", "dest_ip": "192.0.2.10",
               "tls": {"sni": "secure.Bank-Login.example", "version": "TLS 1.3"}})
        .to_string(),
        // 4: HTTP request: URL composed from hostname and path; host itself also hits.
        json!({"timestamp": ts, "event_type": "http", "src_ip": "10.0.0.5", "dest_ip": "192.0.2.99", "dest_port": 80,
               "http": {"hostname": "EVIL.example", "url": "/dropper/stage2.bin", "http_method": "GET", "status": 200}})
        .to_string(),
        // 5: not JSON.
        "this is not json".to_owned(),
        // 6: fileinfo with both hashes, upper-case MD5 in telemetry.
        json!({"timestamp": ts, "event_type": "fileinfo", "src_ip": "192.0.2.99", "dest_ip": "10.0.0.5",
               "fileinfo": {"filename": "/x", "md5": MD5.to_uppercase(), "sha256": SHA256, "size": 10}})
        .to_string(),
        // 7: truncated JSON.
        r#"{"timestamp":"x","src_ip":"203.0.113.66""#.to_owned(),
        // 8: SMTP with display-name address.
        json!({"timestamp": ts, "event_type": "smtp", "src_ip": "10.0.0.9", "dest_ip": "192.0.2.25",
               "smtp": {"mail_from": "<invoice@PHISH.example>", "rcpt_to": ["<ap@corp.example>"]}})
        .to_string(),
        // 9: way over the line cap (set to 4096 bytes in the test).
        format!(r#"{{"src_ip":"203.0.113.66","pad":"{}"}}"#, "a".repeat(10_000)),
        // 10: the same domain with a different path is not the URL indicator.
        json!({"event_type": "http", "src_ip": "10.0.0.5", "dest_ip": "192.0.2.99",
               "http": {"hostname": "evil.example.net", "url": "/dropper/stage2.bin"}})
        .to_string(),
    ];
    let expected = vec![
        (1, vec![1, 1, 4]),
        (3, vec![2, 5]),
        (4, vec![1, 6]),
        (6, vec![7, 8]),
        (8, vec![9]),
    ];
    (lines.join("\n") + "\n", expected)
}

fn zeek() -> (String, Vec<(u64, Vec<u32>)>) {
    let lines = [
        // conn.log
        r#"{"ts":1763805600.1,"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":51000,"id.resp_h":"203.0.113.66","id.resp_p":443,"proto":"tcp"}"#,
        // dns.log: answers hold both names and addresses.
        r#"{"ts":1763805600.2,"uid":"C2","id.orig_h":"10.0.0.5","id.orig_p":5353,"id.resp_h":"10.0.0.53","id.resp_p":53,"query":"login.BANK-LOGIN.example","answers":["cdn.example.net","198.51.100.200"],"TTLs":[60.0,60.0]}"#,
        // near miss: lookalike query.
        r#"{"ts":1763805600.3,"uid":"C3","id.orig_h":"10.0.0.5","id.resp_h":"10.0.0.53","query":"bank-login.example.org","answers":["203.0.113.65"]}"#,
        // http.log
        r#"{"ts":1763805600.4,"uid":"C4","id.orig_h":"10.0.0.5","id.resp_h":"192.0.2.99","id.resp_p":80,"method":"GET","host":"evil.example","uri":"/dropper/stage2.bin"}"#,
        // files.log
        r#"{"ts":1763805600.5,"fuid":"F1","tx_hosts":["192.0.2.99"],"rx_hosts":["10.0.0.5"],"md5":"44d88612fea8a8f36de82e1278abb02f","sha1":"3395856ce81f2b7382dee72602f798b642f14140"}"#,
        // ssl.log
        r#"{"ts":1763805600.6,"uid":"C5","id.orig_h":"10.0.0.5","id.resp_h":"192.0.2.10","server_name":"bank-login.example."}"#,
    ];
    let expected = vec![
        (1, vec![3]),
        (2, vec![2, 4]),
        (4, vec![1, 6]),
        (5, vec![7]),
        (6, vec![2]),
    ];
    (lines.join("\n") + "\n", expected)
}

fn run(dir: &std::path::Path, args: &[&str]) -> (Vec<Value>, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .args(args)
        .env("NADHIR_DATA_DIR", dir.join("data"))
        .current_dir(dir)
        .output()
        .expect("run nadhir");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let hits = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each hit is one JSON line"))
        .collect();
    (
        hits,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn by_line(hits: &[Value], file: &str) -> Vec<(u64, Vec<u32>)> {
    let mut map: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
    for h in hits.iter().filter(|h| h["file"] == file) {
        let ind = h["indicator"].as_str().expect("indicator id");
        let n: u32 = ind
            .rsplit('-')
            .next()
            .and_then(|t| t.parse().ok())
            .expect("numbered test indicator");
        map.entry(h["line"].as_u64().expect("line number"))
            .or_default()
            .push(n);
    }
    map.into_iter()
        .map(|(l, mut v)| {
            v.sort();
            (l, v)
        })
        .collect()
}

#[test]
fn match_eve_and_zeek_with_planted_hits_and_near_misses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bundle.json"), bundle().to_string()).unwrap();
    let (eve_text, eve_expected) = eve();
    let (zeek_text, zeek_expected) = zeek();
    std::fs::write(dir.path().join("eve.json"), eve_text).unwrap();
    std::fs::write(dir.path().join("zeek.json"), zeek_text).unwrap();

    let (hits, stderr, code) = run(
        dir.path(),
        &[
            "match",
            "--indicators",
            "bundle.json",
            "eve.json",
            "zeek.json",
            "--max-line-bytes",
            "4096",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(by_line(&hits, "eve.json"), eve_expected, "{stderr}");
    assert_eq!(by_line(&hits, "zeek.json"), zeek_expected, "{stderr}");

    // Hit lines carry the documented fields.
    let url_hit = hits
        .iter()
        .find(|h| h["indicator"] == id(6) && h["file"] == "eve.json")
        .unwrap();
    assert_eq!(url_hit["type"], "url");
    assert_eq!(url_hit["field"], "http.hostname+http.url");
    assert_eq!(url_hit["value"], "http://EVIL.example/dropper/stage2.bin");
    assert_eq!(url_hit["line"], 4);
    let dns_hit = hits
        .iter()
        .find(|h| h["indicator"] == id(1) && h["field"] == "dns.rrname")
        .unwrap();
    assert_eq!(dns_hit["value"], "eVIl.ExAmple.");
    assert_eq!(dns_hit["type"], "domain-name");

    // Bad lines are reported with file:line and counted; the run goes on.
    assert!(
        stderr.contains("eve.json:5:1: undecodable event"),
        "{stderr}"
    );
    assert!(stderr.contains("eve.json:7:"), "{stderr}");
    assert!(
        stderr.contains("eve.json:9: line of 10034 bytes"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("summary: 16 events, 17 hits, 3 undecodable lines (1 over the length limit)"),
        "{stderr}"
    );
    // Indicator problems are reported, not fatal.
    assert!(stderr.contains("pattern_type \"sigma\""), "{stderr}");
    assert!(stderr.contains("[matcher.indicator.parse]"), "{stderr}");
    assert!(
        stderr.contains("10 indicators (10 IOCs, 1 not IOC-shaped), 2 skipped"),
        "{stderr}"
    );
}

#[test]
fn match_with_a_user_mapping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bundle.json"), bundle().to_string()).unwrap();
    std::fs::write(
        dir.path().join("map.json"),
        r#"{"client.address": "ip", "request.name": "domain-name", "payload.digest": "hash:SHA-256"}"#,
    )
    .unwrap();
    let mut f = std::fs::File::create(dir.path().join("proxy.json")).unwrap();
    writeln!(f, r#"{{"client":{{"address":"198.51.100.9"}},"request":{{"name":"EVIL.example"}},"src_ip":"203.0.113.66"}}"#).unwrap();
    writeln!(f, r#"{{"payload":{{"digest":"{SHA256}"}}}}"#).unwrap();
    drop(f);
    let (hits, stderr, code) = run(
        dir.path(),
        &[
            "match",
            "--indicators",
            "bundle.json",
            "--format",
            "none",
            "--mapping",
            "map.json",
            "proxy.json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        by_line(&hits, "proxy.json"),
        vec![(1, vec![1, 4]), (2, vec![8])],
        "{stderr}"
    );

    // A bad mapping is a clear error naming the entry.
    std::fs::write(dir.path().join("bad.json"), r#"{"a.b": "hostname"}"#).unwrap();
    let (_, stderr, code) = run(
        dir.path(),
        &[
            "match",
            "--indicators",
            "bundle.json",
            "--mapping",
            "bad.json",
            "proxy.json",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("/a.b") && stderr.contains("unknown type \"hostname\""),
        "{stderr}"
    );
}

/// Patterns that are not IOC-shaped are evaluated per event over the event's values,
/// timed at the event's time; hits carry "via": "pattern".
#[test]
fn match_evaluates_general_patterns_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let objects = vec![
        // AND inside one observation, over the URL composed from host and path.
        indicator(
            20,
            "[url:value LIKE 'http://evil.example/%' AND url:value NOT LIKE '%.txt']",
        ),
        // Two hashes of the same file.
        indicator(
            21,
            &format!("[file:hashes.MD5 = '{MD5}' AND file:hashes.'SHA-256' = '{SHA256}']"),
        ),
        // A qualifier: evaluated over the one event.
        indicator(22, "[domain-name:value = 'evil.example'] WITHIN 60 SECONDS"),
        // START/STOP uses the event's time (EVE `timestamp`, Zeek `ts`).
        indicator(
            23,
            "[ipv4-addr:value = '10.0.0.5'] START t'2026-11-22T09:00:00Z' STOP t'2026-11-22T11:00:00Z'",
        ),
        // Both tests must hold for one address object: never in these events.
        indicator(
            24,
            "[ipv4-addr:value = '10.0.0.5' AND ipv4-addr:value = '192.0.2.99']",
        ),
        // Across observations: needs two events, so never over one event.
        indicator(
            25,
            "[domain-name:value = 'evil.example'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.99']",
        ),
        // An IOC-shaped one still hits through the index.
        indicator(3, "[ipv4-addr:value = '203.0.113.66']"),
    ];
    let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000002", "objects": objects});
    std::fs::write(dir.path().join("bundle.json"), bundle.to_string()).unwrap();
    let (eve_text, _) = eve();
    let (zeek_text, _) = zeek();
    std::fs::write(dir.path().join("eve.json"), eve_text).unwrap();
    std::fs::write(dir.path().join("zeek.json"), zeek_text).unwrap();
    let (hits, stderr, code) = run(
        dir.path(),
        &[
            "match",
            "--indicators",
            "bundle.json",
            "eve.json",
            "zeek.json",
            "--max-line-bytes",
            "4096",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        by_line(&hits, "eve.json"),
        // Line 10 has src_ip 10.0.0.5 but no timestamp: timed at the epoch, outside STOP.
        vec![(1, vec![22, 23]), (4, vec![20, 22, 23]), (6, vec![21, 23])],
        "{stderr}{hits:#?}"
    );
    // Zeek times are 2025-11-22: outside the START/STOP window.
    assert_eq!(
        by_line(&hits, "zeek.json"),
        vec![(1, vec![3]), (4, vec![20, 22])],
        "{stderr}"
    );
    let find = |n: u32, file: &str, line: u64| {
        hits.iter()
            .find(|h| h["indicator"] == id(n) && h["file"] == file && h["line"] == line)
            .unwrap_or_else(|| panic!("no hit of {n} at {file}:{line}: {hits:?}"))
    };
    let url = find(20, "eve.json", 4);
    assert_eq!(url["via"], "pattern");
    assert_eq!(url["value"], "http://EVIL.example/dropper/stage2.bin");
    assert_eq!(url["field"], "http.hostname+http.url");
    assert_eq!(url["type"], "url");
    let file = find(21, "eve.json", 6);
    assert_eq!(file["value"], MD5.to_uppercase());
    assert_eq!(file["field"], "fileinfo.md5");
    assert_eq!(file["type"], "file");
    let dom = find(22, "eve.json", 1);
    assert_eq!(dom["value"], "eVIl.ExAmple.");
    assert_eq!(dom["field"], "dns.rrname");
    assert_eq!(find(23, "eve.json", 1)["value"], "10.0.0.5");
    assert_eq!(find(3, "zeek.json", 1)["via"], "exact");
    assert!(
        stderr.contains("general patterns: 9 hits, 0 evaluation errors"),
        "{stderr}"
    );
    // --help says what "per event" means.
    let help = Command::new(env!("CARGO_BIN_EXE_nadhir"))
        .args(["match", "--help"])
        .output()
        .expect("run nadhir");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Single-event semantics"), "{help}");
}
