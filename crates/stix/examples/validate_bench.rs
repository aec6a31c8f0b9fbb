//! Measures `stix::validate` throughput on a realistic mix of objects.
//!
//! `cargo run --release -p stix --example validate_bench -- [COUNT]`
//! (default 1,000,000). Prints parse and validate rates separately.

use serde_json::{json, Value};
use std::time::Instant;

fn template(i: u64) -> Value {
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        i as u32,
        (i >> 32) as u16,
        i % 4096,
        (i / 7) % 4096,
        i
    );
    let ts = "2024-03-01T10:00:00.000Z";
    match i % 6 {
        0 => json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--{uuid}"),
            "created": ts, "modified": ts, "name": "C2 address", "indicator_types": ["malicious-activity"],
            "pattern": format!("[ipv4-addr:value = '198.51.{}.{}']", i % 256, (i / 256) % 256),
            "pattern_type": "stix", "valid_from": ts,
            "created_by_ref": "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
            "external_references": [{"source_name": "nadhir", "url": "https://example.org/ioc"}]}),
        1 => {
            json!({"type": "file", "spec_version": "2.1", "id": format!("file--{uuid}"), "name": "dropper.exe",
            "size": 4096, "hashes": {"SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "MD5": "d41d8cd98f00b204e9800998ecf8427e"}})
        }
        2 => {
            json!({"type": "network-traffic", "spec_version": "2.1", "id": format!("network-traffic--{uuid}"),
            "src_ref": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "dst_port": 443,
            "protocols": ["ipv4", "tcp"], "start": ts, "is_active": true})
        }
        3 => {
            json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{uuid}"),
            "created": ts, "modified": ts, "relationship_type": "indicates",
            "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "target_ref": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})
        }
        4 => {
            json!({"type": "malware", "spec_version": "2.1", "id": format!("malware--{uuid}"), "created": ts,
            "modified": ts, "name": "Wiper", "is_family": true, "malware_types": ["wiper"],
            "granular_markings": [{"marking_ref": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "selectors": ["name"]}]})
        }
        _ => {
            json!({"type": "domain-name", "spec_version": "2.1", "id": format!("domain-name--{uuid}"),
            "value": format!("host{i}.example.net")})
        }
    }
}

fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let texts: Vec<String> = (0..count).map(|i| template(i).to_string()).collect();
    let bytes: usize = texts.iter().map(String::len).sum();

    let t = Instant::now();
    let values: Vec<Value> = texts
        .iter()
        .filter_map(|s| serde_json::from_str(s).ok())
        .collect();
    let parse = t.elapsed();

    let t = Instant::now();
    let mut invalid = 0usize;
    for v in &values {
        if !stix::validate(v).is_empty() {
            invalid += 1;
        }
    }
    let validate = t.elapsed();
    println!(
        "{count} objects ({:.1} MB): parse {:.2}s ({:.0}/s), validate {:.2}s ({:.0}/s, {:.2} µs/object), invalid {invalid}",
        bytes as f64 / 1e6,
        parse.as_secs_f64(),
        count as f64 / parse.as_secs_f64(),
        validate.as_secs_f64(),
        count as f64 / validate.as_secs_f64(),
        validate.as_secs_f64() * 1e6 / count as f64,
    );
}
