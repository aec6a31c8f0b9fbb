//! Generator of observed data and of patterns over the same vocabulary, for differential
//! evaluation tests and the benchmark.

use super::Rng;
use serde_json::{json, Value};

const NAMES: &[&str] = &["a.exe", "b.dll", "report.pdf", "é.txt", "e\u{301}.txt", "x"];
const IPS: &[&str] = &[
    "10.0.0.1",
    "10.1.2.3",
    "192.168.1.1",
    "8.8.8.8",
    "10.0.0.0/8",
    "1.2.3.4",
];
const MD5S: &[&str] = &[
    "79054025255fb1a26e4bc422aef54eb4",
    "cead3f77f6cda6ec00f57d76c9a6879f",
];

fn ts(r: &mut Rng) -> (String, String) {
    let start = r.below(600) as i64;
    let len = r.below(120) as i64;
    let fmt = |s: i64| {
        format!(
            "2020-01-01T{:02}:{:02}:{:02}Z",
            s / 3600,
            (s / 60) % 60,
            s % 60
        )
    };
    (fmt(start), fmt(start + len))
}

/// One bundle: an observed-data object and its SCOs.
pub fn gen_bundle(r: &mut Rng, n: usize) -> Value {
    let od_id = format!("observed-data--00000000-0000-4000-8000-{n:012}");
    let mut objects = Vec::new();
    let mut refs = Vec::new();
    let k = 1 + r.below(3);
    for j in 0..k {
        let id_of = |t: &str| format!("{t}--00000000-0000-4000-9000-{:06}{:06}", n, j);
        let obj = match r.below(4) {
            0 => {
                json!({"type": "file", "id": id_of("file"), "name": *r.pick(NAMES), "size": r.below(2000),
                        "hashes": {"MD5": *r.pick(MD5S)}})
            }
            1 => json!({"type": "ipv4-addr", "id": id_of("ipv4-addr"), "value": *r.pick(IPS)}),
            2 => {
                let ip_id = format!("ipv4-addr--00000000-0000-4000-a000-{:06}{:06}", n, j);
                objects.push(json!({"type": "ipv4-addr", "id": ip_id, "value": *r.pick(IPS)}));
                refs.push(json!(ip_id));
                json!({"type": "network-traffic", "id": id_of("network-traffic"), "src_ref": ip_id,
                       "dst_port": r.below(3) * 443, "protocols": ["tcp", "http"]})
            }
            _ => json!({"type": "x-thing", "id": id_of("x-thing"), "n": (r.below(7) as f64) / 2.0,
                        "flag": r.chance(50), "list": [r.below(5), r.below(5)], "payload_hex": "00ff"}),
        };
        refs.push(obj["id"].clone());
        objects.push(obj);
    }
    let (first, last) = ts(r);
    objects.insert(
        0,
        json!({"type": "observed-data", "id": od_id, "spec_version": "2.1",
        "first_observed": first, "last_observed": last, "number_observed": 1 + r.below(2),
        "object_refs": refs}),
    );
    json!({"type": "bundle", "id": format!("bundle--00000000-0000-4000-8000-{n:012}"), "objects": objects})
}

fn gen_test(r: &mut Rng) -> String {
    let not = if r.chance(10) { "NOT " } else { "" };
    if r.chance(4) {
        // Rarer shapes that make the reference raise (bad timestamps, bad IPs, bad refs).
        return match r.below(4) {
            0 => format!("file:name {not}= t'2020-01-01T00:00:00Z'"),
            1 => format!("file:name {not}ISSUBSET '10.0.0.0/8'"),
            2 => format!("network-traffic:dst_port_ref.value {not}= 'x'"),
            _ => format!("x-thing:n {not}< t'2020-01-01T00:00:00Z'"),
        };
    }
    match r.below(12) {
        0 => format!("file:name {not}= '{}'", r.pick(NAMES)),
        1 => format!(
            "file:name {not}LIKE '{}'",
            r.pick(&["%.exe", "_.txt", "%", "b%"])
        ),
        2 => format!(
            "file:name {not}MATCHES '{}'",
            r.pick(&["^a", "\\\\.d..$", "x$", "[0-9]"])
        ),
        3 => format!(
            "file:size {not}{} {}",
            r.pick(&["<", ">=", "=", "!="]),
            r.below(2000)
        ),
        4 => format!("file:hashes.MD5 {not}= '{}'", r.pick(MD5S)),
        5 => format!(
            "ipv4-addr:value {not}ISSUBSET '{}'",
            r.pick(&["10.0.0.0/8", "192.168.0.0/16"])
        ),
        6 => format!("ipv4-addr:value {not}IN ('10.0.0.1', '8.8.8.8')"),
        7 => format!("network-traffic:src_ref.value {not}= '{}'", r.pick(IPS)),
        8 => format!("network-traffic:dst_port {not}IN (0, 443, 886)"),
        9 => format!(
            "network-traffic:protocols[*] {not}= '{}'",
            r.pick(&["tcp", "udp", "http"])
        ),
        10 => format!(
            "x-thing:{} {not}{} {}",
            r.pick(&["n", "list[0]", "list[*]", "flag"]),
            r.pick(&["=", "<", ">"]),
            r.pick(&["1", "1.5", "true", "2"])
        ),
        _ => format!("x-thing:payload_hex {not}= h'{}'", r.pick(&["00ff", "00"])),
    }
}

fn gen_cmp(r: &mut Rng, depth: usize) -> String {
    if depth > 0 && r.chance(30) {
        let op = if r.chance(50) { "AND" } else { "OR" };
        return format!("({} {op} {})", gen_cmp(r, depth - 1), gen_cmp(r, depth - 1));
    }
    gen_test(r)
}

/// A valid pattern over the vocabulary of [`gen_bundle`].
pub fn gen_eval_pattern(r: &mut Rng, depth: usize) -> String {
    let mut s = if depth > 0 && r.chance(40) {
        let op = r.pick(&["AND", "OR", "FOLLOWEDBY"]);
        format!(
            "({} {op} {})",
            gen_eval_pattern(r, depth - 1),
            gen_eval_pattern(r, depth - 1)
        )
    } else {
        format!("[{}]", gen_cmp(r, 1))
    };
    if r.chance(15) {
        s = format!(
            "{s} {}",
            r.pick(&[
                "WITHIN 60 SECONDS",
                "WITHIN 1.5 SECONDS",
                "REPEATS 2 TIMES",
                "START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:05:00Z'"
            ])
        );
    }
    s
}
