//! For IOC-shaped patterns, the index's verdict on an observable equals the `pattern`
//! crate's evaluator's verdict on the same observable as a STIX SCO in observed-data
//! (values in canonical form, where the index's normalisation is the identity).

use matcher::compile::{compile_pattern, Compiled};
use matcher::{HashAlg, Index, IndexBuilder, LookupScratch, ValueKind};
use serde_json::{json, Value};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, Debug)]
enum Obs {
    V4,
    V6,
    Domain,
    Url,
    Email,
    Sha256,
}

fn observed(kind: Obs, value: &str) -> Vec<Value> {
    let (ty, sco) = match kind {
        Obs::V4 => ("ipv4-addr", json!({"type": "ipv4-addr", "value": value})),
        Obs::V6 => ("ipv6-addr", json!({"type": "ipv6-addr", "value": value})),
        Obs::Domain => (
            "domain-name",
            json!({"type": "domain-name", "value": value}),
        ),
        Obs::Url => ("url", json!({"type": "url", "value": value})),
        Obs::Email => ("email-addr", json!({"type": "email-addr", "value": value})),
        Obs::Sha256 => (
            "file",
            json!({"type": "file", "hashes": {"SHA-256": value}}),
        ),
    };
    let sco_id = format!("{ty}--00000000-0000-4000-8000-000000000001");
    let mut sco = sco;
    sco["id"] = json!(sco_id);
    sco["spec_version"] = json!("2.1");
    vec![
        json!({
            "type": "observed-data", "spec_version": "2.1",
            "id": "observed-data--00000000-0000-4000-8000-000000000002",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "first_observed": "2026-01-01T00:00:00Z", "last_observed": "2026-01-01T00:00:00Z",
            "number_observed": 1, "object_refs": [sco_id]
        }),
        sco,
    ]
}

fn value_kind(kind: Obs) -> ValueKind {
    match kind {
        Obs::V4 | Obs::V6 => ValueKind::Ip,
        Obs::Domain => ValueKind::Domain,
        Obs::Url => ValueKind::Url,
        Obs::Email => ValueKind::Email,
        Obs::Sha256 => ValueKind::Hash(HashAlg::Sha256),
    }
}

fn index_verdict(index: &Index, kind: Obs, value: &str) -> bool {
    let mut scratch = LookupScratch::default();
    let mut hit = false;
    index.lookup(value_kind(kind), value, &mut scratch, |m| {
        hit |= !m.indicators.is_empty()
    });
    hit
}

fn check(pattern: &str, cases: &[(Obs, String)]) -> usize {
    let parsed = pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let mut b = IndexBuilder::new();
    let no = b.add_indicator("indicator--t").expect("register");
    let compiled = compile_pattern(&mut b, no, pattern, &parsed).expect("compile");
    assert!(
        matches!(compiled, Compiled::Iocs(_)),
        "{pattern} should be IOC-shaped: {compiled:?}"
    );
    let index = b.build().expect("build");
    let mut positives = 0;
    for (kind, value) in cases {
        let want = pattern::match_pattern(pattern, &observed(*kind, value), Default::default())
            .unwrap_or_else(|e| panic!("{pattern} on {value}: {e}"))
            .matched;
        let got = index_verdict(&index, *kind, value);
        assert_eq!(got, want, "pattern {pattern} on {kind:?} {value:?}");
        positives += usize::from(want);
    }
    positives
}

fn sha(r: &mut Rng) -> String {
    (0..64)
        .map(|_| char::from(b"0123456789abcdef"[r.below(16) as usize]))
        .collect()
}

#[test]
fn hand_picked_edges() {
    let v4 = |s: &str| (Obs::V4, s.to_owned());
    let d = |s: &str| (Obs::Domain, s.to_owned());
    let mut pos = 0;
    pos += check(
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
        &[
            v4("10.0.0.0"),
            v4("10.255.255.255"),
            v4("9.255.255.255"),
            v4("11.0.0.0"),
        ],
    );
    pos += check(
        "[ipv4-addr:value ISSUBSET '0.0.0.0/1']",
        &[v4("0.0.0.0"), v4("127.255.255.255"), v4("128.0.0.0")],
    );
    pos += check(
        "[ipv4-addr:value = '192.0.2.1'] OR [ipv4-addr:value ISSUBSET '192.0.2.128/25']",
        &[
            v4("192.0.2.1"),
            v4("192.0.2.2"),
            v4("192.0.2.127"),
            v4("192.0.2.128"),
            v4("192.0.2.255"),
        ],
    );
    pos += check(
        "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
        &[
            (Obs::V6, "2001:db8::1".into()),
            (Obs::V6, "2001:db9::1".into()),
            (Obs::V6, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".into()),
        ],
    );
    pos += check(
        "[ipv6-addr:value ISSUBSET '2001:db8::1/128']",
        &[
            (Obs::V6, "2001:db8::1".into()),
            (Obs::V6, "2001:db8::2".into()),
        ],
    );
    pos += check(
        "[domain-name:value = 'example.com' OR domain-name:value LIKE '%.example.com']",
        &[
            d("example.com"),
            d("a.example.com"),
            d("a.b.example.com"),
            d("evilexample.com"),
            d("example.com.evil"),
            d("example.co"),
        ],
    );
    pos += check(
        "[domain-name:value LIKE 'login.%.example.net']",
        &[
            d("login.a.example.net"),
            d("login..example.net"),
            d("xlogin.a.example.net"),
        ],
    );
    pos += check(
        "[domain-name:value LIKE 'c_c%']",
        &[d("cnc.example"), d("cc.example"), d("c.c"), d("c")],
    );
    pos += check(
        "[domain-name:value MATCHES '^[a-z0-9]{16,}\\\\.(top|xyz)$']",
        &[
            d("abcdefghijklmnop.top"),
            d("abcdefghijklmno.top"),
            d("abcdefghijklmnopq.xyz.net"),
        ],
    );
    pos += check(
        "[url:value = 'http://evil.example/a?b=1'] OR [url:value LIKE '%/wp-admin/%']",
        &[
            (Obs::Url, "http://evil.example/a?b=1".into()),
            (Obs::Url, "http://evil.example/a?b=2".into()),
            (Obs::Url, "https://shop.example/wp-admin/x.php".into()),
            (Obs::Url, "https://shop.example/wp-admin".into()),
        ],
    );
    pos += check(
        "[email-addr:value IN ('ceo@example.com', 'billing@example.org')]",
        &[
            (Obs::Email, "ceo@example.com".into()),
            (Obs::Email, "billing@example.org".into()),
            (Obs::Email, "ceo@example.org".into()),
        ],
    );
    assert_eq!(pos, 2 + 2 + 3 + 2 + 1 + 3 + 2 + 2 + 1 + 2 + 2);
}

/// Generated patterns and observables (hits, near misses and random values): both engines
/// must give the same verdict on every pair.
#[test]
fn generated_agreement() {
    let mut r = Rng(0x5eed);
    let tlds = ["com", "net", "example", "org"];
    let labels = ["a", "mail", "cdn", "login", "x1", "evil", "evilx", "xevil"];
    let mut total_pos = 0;
    let mut total = 0;
    for round in 0..150 {
        let base = format!("{}.{}", r.pick(&labels), r.pick(&tlds));
        let (pattern, kind, mut values): (String, Obs, Vec<String>) = match round % 6 {
            0 => {
                let (a, b, len) = (r.below(256), r.below(256), 8 + r.below(25) as u8);
                (
                    format!("[ipv4-addr:value ISSUBSET '{a}.{b}.0.0/{len}']"),
                    Obs::V4,
                    (0..20)
                        .map(|_| {
                            let c = if r.below(2) == 0 { a } else { r.below(256) };
                            let d = if r.below(2) == 0 { b } else { r.below(256) };
                            format!("{c}.{d}.{}.{}", r.below(256), r.below(256))
                        })
                        .collect(),
                )
            }
            1 => {
                let hosts: Vec<String> = (0..3)
                    .map(|_| format!("2001:db8::{:x}", r.below(8)))
                    .collect();
                (
                    format!(
                        "[ipv6-addr:value = '{}' OR ipv6-addr:value = '{}'] OR [ipv6-addr:value ISSUBSET '2001:db8:1::/48']",
                        hosts[0], hosts[1]
                    ),
                    Obs::V6,
                    (0..16)
                        .map(|_| match r.below(3) {
                            0 => format!("2001:db8::{:x}", r.below(8)),
                            1 => format!("2001:db8:1:{:x}::1", r.below(4)),
                            _ => format!("2001:db8:2::{:x}", r.below(4)),
                        })
                        .collect(),
                )
            }
            2 => (
                format!("[domain-name:value = '{base}' OR domain-name:value LIKE '%.{base}']"),
                Obs::Domain,
                (0..16)
                    .map(|_| match r.below(4) {
                        0 => base.clone(),
                        1 => format!("{}.{base}", r.pick(&labels)),
                        2 => format!("{}{base}", r.pick(&labels)),
                        _ => format!("{}.{}", r.pick(&labels), r.pick(&tlds)),
                    })
                    .collect(),
            ),
            3 => {
                let lbl = r.pick(&labels);
                (
                    format!("[domain-name:value LIKE '%{lbl}%'] OR [domain-name:value MATCHES '^{lbl}[0-9]']"),
                    Obs::Domain,
                    (0..16)
                        .map(|_| format!("{}{}.{}", r.pick(&labels), r.below(3), r.pick(&tlds)))
                        .collect(),
                )
            }
            4 => {
                let h = sha(&mut r);
                let mut v: Vec<String> = (0..6).map(|_| sha(&mut r)).collect();
                v.push(h.clone());
                (format!("[file:hashes.'SHA-256' = '{h}']"), Obs::Sha256, v)
            }
            _ => {
                let u = format!("http://{base}/{}", r.pick(&labels));
                (
                    format!("[url:value = '{u}'] OR [url:value LIKE 'https://{base}/%']"),
                    Obs::Url,
                    (0..12)
                        .map(|_| match r.below(3) {
                            0 => u.clone(),
                            1 => format!("https://{base}/{}", r.pick(&labels)),
                            _ => format!(
                                "http://{}.{}/{}",
                                r.pick(&labels),
                                r.pick(&tlds),
                                r.pick(&labels)
                            ),
                        })
                        .collect(),
                )
            }
        };
        values.dedup();
        let cases: Vec<(Obs, String)> = values.into_iter().map(|v| (kind, v)).collect();
        total += cases.len();
        total_pos += check(&pattern, &cases);
    }
    // The generator must produce both verdicts in quantity, or the test proves little.
    assert!(
        total_pos > total / 5 && total_pos < total * 4 / 5,
        "{total_pos} of {total}"
    );
}
