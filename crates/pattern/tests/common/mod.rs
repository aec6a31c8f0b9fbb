//! Shared helpers for the pattern crate's integration tests: the oracle interpreter and a
//! deterministic generator of valid and broken patterns.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The Python interpreter with the OASIS oracles installed, or `None` (with the reason
/// printed) when it is missing. Panics instead when `CI` is set.
pub fn python() -> Option<PathBuf> {
    let path = match std::env::var_os("NADHIR_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "oracle interpreter {} not found (set NADHIR_PYTHON)",
        path.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIP: {why}");
    None
}

/// Runs an oracle script (in tests/oracle/) feeding it JSON lines, returning its JSON lines.
pub fn run_oracle(
    python: &PathBuf,
    script: &str,
    input: &[serde_json::Value],
) -> Vec<serde_json::Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracle")
        .join(script);
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn oracle");
    let mut stdin = child.stdin.take().expect("stdin");
    let body: String = input.iter().map(|v| format!("{v}\n")).collect();
    let writer = std::thread::spawn(move || {
        stdin
            .write_all(body.as_bytes())
            .expect("write oracle input");
    });
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut res = Vec::new();
    for line in out.split(b'\n') {
        let line = line.expect("read oracle");
        if !line.is_empty() {
            res.push(serde_json::from_slice(&line).expect("oracle json"));
        }
    }
    writer.join().expect("writer");
    assert!(
        child.wait().expect("wait").success(),
        "oracle {} failed",
        script.display()
    );
    res
}

/// A small deterministic PRNG (xorshift64*), so the corpus is the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

const TYPES: &[&str] = &[
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "x-custom",
    "network-traffic",
    "email-message",
    "_t",
];
const PROPS: &[&str] = &[
    "name",
    "value",
    "size",
    "hashes",
    "src_ref",
    "dst_refs",
    "extensions",
    "x",
    "resolves_to_refs",
    "protocols",
];
const SUBPROPS: &[&str] = &[
    "MD5",
    "'SHA-256'",
    "value",
    "'a b'",
    "name",
    "SHA1",
    "'x\\'y'",
    "ssdeep",
    "md6",
];

pub fn gen_literal(r: &mut Rng, allow_bool: bool) -> String {
    match r.below(if allow_bool { 10 } else { 9 }) {
        0 => format!("{}", r.below(1000) as i64 - 500),
        1 => format!("+{}", r.below(100)),
        2 => format!("{}.{}", r.below(100), r.below(100)),
        3 => format!("-.{}", r.below(10)),
        4 => r
            .pick(&[
                "'abc'",
                "'a\\'b'",
                "'x\\\\y'",
                "''",
                "'é'",
                "'1.2.3.4'",
                "'10.0.0.0/8'",
                "'%a_'",
                "'79054025255fb1a26e4bc422aef54eb4'",
            ])
            .to_string(),
        5 => r
            .pick(&["b'AAAA'", "b'AAA='", "b'AA=='", "b'aGVsbG8='", "b'AB=='"])
            .to_string(),
        6 => r.pick(&["h'00ff'", "h''", "h'AbCd'"]).to_string(),
        7 => r
            .pick(&[
                "t'2016-06-01T01:30:00Z'",
                "t'2020-02-29T23:59:60.123456Z'",
                "t'1999-12-31T00:00:00.1Z'",
            ])
            .to_string(),
        8 => "'plain'".to_string(),
        _ => r.pick(&["true", "false"]).to_string(),
    }
}

pub fn gen_path(r: &mut Rng) -> String {
    let mut s = format!(
        "{}:{}",
        r.pick(TYPES),
        if r.chance(10) { "'q k'" } else { r.pick(PROPS) }
    );
    for _ in 0..r.below(3) {
        match r.below(4) {
            0 => s.push_str("[*]"),
            1 => s.push_str(&format!("[{}]", r.below(3))),
            _ => {
                s.push('.');
                let sub: &&str = r.pick(SUBPROPS);
                s.push_str(sub.as_ref());
            }
        }
    }
    s
}

pub fn gen_comparison(r: &mut Rng, depth: usize) -> String {
    if depth > 0 && r.chance(25) {
        let a = gen_comparison(r, depth - 1);
        let b = gen_comparison(r, depth - 1);
        let op = if r.chance(50) { "AND" } else { "OR" };
        return if r.chance(30) {
            format!("({a} {op} {b})")
        } else {
            format!("{a} {op} {b}")
        };
    }
    if r.chance(5) {
        return format!("EXISTS {}", gen_path(r));
    }
    let path = gen_path(r);
    let not = if r.chance(15) { "NOT " } else { "" };
    match r.below(8) {
        0 => format!("{path} {not}= {}", gen_literal(r, true)),
        1 => format!("{path} {not}!= {}", gen_literal(r, true)),
        2 => format!(
            "{path} {not}{} {}",
            r.pick(&["<", "<=", ">", ">="]),
            gen_literal(r, false)
        ),
        3 => {
            let n = r.below(4);
            let items: Vec<String> = (0..n).map(|_| gen_literal(r, true)).collect();
            format!("{path} {not}IN ({})", items.join(", "))
        }
        4 => format!("{path} {not}LIKE {}", r.pick(&["'a%'", "'_b'", "'%.exe'"])),
        5 => format!(
            "{path} {not}MATCHES {}",
            r.pick(&["'^a.*$'", "'[0-9]+'", "'\\\\d'"])
        ),
        6 => format!(
            "{path} {not}ISSUBSET {}",
            r.pick(&["'10.0.0.0/8'", "'::1/128'"])
        ),
        _ => format!(
            "{path} {not}ISSUPERSET {}",
            r.pick(&["'10.1.0.0/16'", "'1.2.3.4'"])
        ),
    }
}

pub fn gen_qualifier(r: &mut Rng) -> String {
    match r.below(3) {
        0 => format!(
            "WITHIN {} SECONDS",
            r.pick(&["5", "0", "+3", "1.5", ".5", "300"])
        ),
        1 => format!("REPEATS {} TIMES", r.pick(&["2", "0", "+1", "5"])),
        _ => "START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'".to_string(),
    }
}

pub fn gen_observation(r: &mut Rng, depth: usize) -> String {
    let mut s = if depth > 0 && r.chance(35) {
        let a = gen_observation(r, depth - 1);
        let b = gen_observation(r, depth - 1);
        let op = r.pick(&["AND", "OR", "FOLLOWEDBY"]);
        if r.chance(50) {
            format!("({a} {op} {b})")
        } else {
            format!("{a} {op} {b}")
        }
    } else {
        format!("[{}]", gen_comparison(r, 2))
    };
    while r.chance(20) {
        s = format!("{s} {}", gen_qualifier(r));
    }
    s
}

/// A pattern that is usually valid.
pub fn gen_pattern(r: &mut Rng) -> String {
    gen_observation(r, 3)
}

const JUNK: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    "'",
    ":",
    ".",
    "AND",
    "OR",
    "NOT",
    "=",
    "WITHIN",
    "-",
    "*",
    "[*]",
    "[-1]",
    "b'",
    "h'0'",
    "t'",
    " ",
    "/*",
    "//",
    "\\",
    "é",
    "FOLLOWEDBY",
    "true",
    "1",
    "-1.5",
    "within",
];

/// Mutates a pattern: deletes, inserts, duplicates or replaces a piece.
pub fn mutate(r: &mut Rng, p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let at = r.below(chars.len() + 1);
    let head: String = chars[..at].iter().collect();
    let tail: String = chars[at..].iter().collect();
    match r.below(4) {
        0 => {
            let n = 1 + r.below(3);
            let tail: String = chars[at..].iter().skip(n).collect();
            format!("{head}{tail}")
        }
        1 => format!("{head}{}{tail}", r.pick(JUNK)),
        2 => format!("{head} {}{tail}", r.pick(JUNK)),
        _ => format!("{p} {}", gen_qualifier(r)),
    }
}

pub mod evalgen;
