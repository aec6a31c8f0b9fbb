//! Benchmark of the compiled index: build time and memory for N mixed IOC indicators, and
//! single-thread lookups per second on realistic Suricata EVE events and Zeek conn/dns/http
//! lines, each side by side with its floor (just parsing the same events), and the peak RSS.
//!
//! Run: `cargo run --release -p matcher --example bench -- [INDICATORS] [EVENTS] [RUNS] [TEXT]`
//! (defaults 1000000, 200000, 5, 100 `LIKE`/`MATCHES` patterns). Prints one line per
//! measurement, medians last. With `BENCH_PROFILE=1` only the full EVE scan is repeated
//! RUNS times (for `perf record`).

use matcher::compile::compile_indicator;
use matcher::fields::FieldMap;
use matcher::scan::{Hit, Scanner};
use matcher::{Index, IndexBuilder};
use std::sync::Arc;
use std::time::Instant;

/// A small deterministic generator (xorshift64*).
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
    fn word(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

const TLDS: [&str; 8] = ["com", "net", "org", "info", "ru", "xyz", "top", "io"];

/// The IOC value of number `i` (deterministic, so events can plant hits).
fn ioc(i: u64) -> (String, String) {
    let mut r = Rng(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let dom = |r: &mut Rng| format!("{}{}.{}", r.word(6), i, TLDS[r.below(8) as usize]);
    match i % 20 {
        0..=5 => {
            let d = dom(&mut r);
            (format!("[domain-name:value = '{d}']"), d)
        }
        6 => {
            let d = dom(&mut r);
            (
                format!("[domain-name:value = '{d}' OR domain-name:value LIKE '%.{d}']"),
                format!("cdn.{d}"),
            )
        }
        7..=10 => {
            let a = format!(
                "{}.{}.{}.{}",
                11 + r.below(200),
                r.below(256),
                r.below(256),
                1 + r.below(254)
            );
            (format!("[ipv4-addr:value = '{a}']"), a)
        }
        11 => {
            let a = format!(
                "2001:db8:{:x}:{:x}::{:x}",
                r.below(65536),
                r.below(65536),
                1 + r.below(65535)
            );
            (format!("[ipv6-addr:value = '{a}']"), a)
        }
        12..=14 => {
            let d = dom(&mut r);
            let p = format!("/{}/{}.php?id={}", r.word(5), r.word(8), r.below(100_000));
            (
                format!("[url:value = 'http://{d}{p}']"),
                format!("{d}\u{0}{p}"),
            )
        }
        15 => {
            let h = r.hex(32);
            (format!("[file:hashes.MD5 = '{h}']"), h)
        }
        16 => {
            let h = r.hex(40);
            (format!("[file:hashes.'SHA-1' = '{h}']"), h)
        }
        17 | 18 => {
            let h = r.hex(64);
            (format!("[file:hashes.'SHA-256' = '{h}']"), h)
        }
        _ => {
            let e = format!("{}@{}", r.word(7), dom(&mut r));
            (format!("[email-addr:value = '{e}']"), e)
        }
    }
}

/// CPU time this thread has run, in seconds (from the scheduler's own accounting), so the
/// events/s figures are per core even when the machine is shared.
fn thread_cpu_s() -> f64 {
    let mut f = std::fs::File::open("/proc/thread-self/schedstat").expect("procfs");
    let mut buf = [0u8; 256];
    let n = std::io::Read::read(&mut f, &mut buf).expect("read schedstat");
    let text = String::from_utf8_lossy(&buf[..n]);
    let ns: u64 = text
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("schedstat run time");
    ns as f64 / 1e9
}

/// Runs `f` and returns (wall seconds, CPU seconds).
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (w, c) = (Instant::now(), thread_cpu_s());
    f();
    (w.elapsed().as_secs_f64(), thread_cpu_s() - c)
}

fn peak_rss_kib() -> (u64, u64) {
    let mut f = std::fs::File::open("/proc/self/status").expect("procfs");
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0;
    while len < buf.len() {
        match std::io::Read::read(&mut f, &mut buf[len..]).expect("read status") {
            0 => break,
            k => len += k,
        }
    }
    let s = String::from_utf8_lossy(&buf[..len]);
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn build(n: u64, cidrs: u64, text: u64) -> Index {
    let mut b = IndexBuilder::new();
    let mut obj =
        serde_json::json!({"type": "indicator", "id": "", "pattern_type": "stix", "pattern": ""});
    let mut add = |b: &mut IndexBuilder, id: String, p: String| {
        obj["id"] = serde_json::Value::String(id);
        obj["pattern"] = serde_json::Value::String(p);
        compile_indicator(b, &obj, "/").expect("generated indicator compiles");
    };
    for i in 0..n {
        let (p, _) = ioc(i);
        add(
            &mut b,
            format!("indicator--{:08x}-0000-4000-8000-{:012x}", i >> 16, i),
            p,
        );
    }
    for i in 0..cidrs {
        let p = format!(
            "[ipv4-addr:value ISSUBSET '{}.{}.0.0/{}']",
            100 + i % 50,
            i % 256,
            16 + i % 9
        );
        add(&mut b, format!("indicator--cidr-{i}"), p);
    }
    for i in 0..text {
        let p = if i % 2 == 0 {
            format!("[domain-name:value LIKE '%paypa{i}-login%']")
        } else {
            format!("[url:value MATCHES '^http://[^/]+/wp-{i}/[a-z]+\\\\.php']")
        };
        add(&mut b, format!("indicator--text-{i}"), p);
    }
    b.build().expect("index builds")
}

fn eve_events(count: usize, hit_every: usize, iocs: u64) -> Vec<u8> {
    let mut r = Rng(42);
    let mut out = Vec::with_capacity(count * 700);
    for e in 0..count {
        let src = format!("10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254));
        let mut dst = format!(
            "{}.{}.{}.{}",
            11 + r.below(200),
            r.below(256),
            r.below(256),
            1 + r.below(254)
        );
        let mut domain = format!("{}.{}.{}", r.word(4), r.word(8), TLDS[r.below(8) as usize]);
        let mut url_host = domain.clone();
        let mut url_path = format!("/{}/{}.html", r.word(6), r.word(5));
        let mut sha256 = r.hex(64);
        let mut md5 = r.hex(32);
        if hit_every > 0 && e % hit_every == 0 {
            let k = r.below(iocs.max(1));
            let (_, v) = ioc(k);
            match k % 20 {
                0..=6 => domain = v.to_uppercase(),
                7..=10 => dst = v,
                12..=14 => {
                    let (h, p) = v.split_once('\u{0}').unwrap_or((&v, "/"));
                    url_host = h.to_owned();
                    domain = h.to_owned();
                    url_path = p.to_owned();
                }
                15 => md5 = v,
                17 | 18 => sha256 = v,
                _ => {}
            }
        }
        let ts = format!(
            "2026-11-22T10:{:02}:{:02}.{:06}+0000",
            r.below(60),
            r.below(60),
            r.below(1_000_000)
        );
        let flow = r.below(1 << 50);
        let head =
            format!(r#"{{"timestamp":"{ts}","flow_id":{flow},"in_iface":"ens192","event_type":"#);
        let line = match e % 10 {
            0..=3 => format!(
                r#"{head}"dns","src_ip":"{src}","src_port":{},"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","community_id":"1:{}=","dns":{{"version":2,"type":"answer","id":{},"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"{domain}","rrtype":"A","rcode":"NOERROR","answers":[{{"rrname":"{domain}","rrtype":"A","ttl":300,"rdata":"{dst}"}}],"grouped":{{"A":["{dst}"]}}}}}}"#,
                1024 + r.below(60000),
                r.word(27),
                r.below(65536)
            ),
            4 | 5 => format!(
                r#"{head}"http","src_ip":"{src}","src_port":{},"dest_ip":"{dst}","dest_port":80,"proto":"TCP","tx_id":0,"community_id":"1:{}=","http":{{"hostname":"{url_host}","url":"{url_path}","http_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36","http_content_type":"text/html","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":{}}}}}"#,
                1024 + r.below(60000),
                r.word(27),
                r.below(100_000)
            ),
            6 | 7 => format!(
                r#"{head}"tls","src_ip":"{src}","src_port":{},"dest_ip":"{dst}","dest_port":443,"proto":"TCP","community_id":"1:{}=","tls":{{"subject":"CN={domain}","issuerdn":"C=US, O=Let's Encrypt, CN=R3","serial":"04:{}","fingerprint":"{}","sni":"{domain}","version":"TLS 1.3","notbefore":"2026-09-01T00:00:00","notafter":"2026-12-01T00:00:00","ja3":{{"hash":"{}","string":"771,4865-4866-4867,0-23-65281,29-23-24,0"}},"ja3s":{{"hash":"{}"}}}}}}"#,
                1024 + r.below(60000),
                r.word(27),
                r.hex(30),
                r.hex(40),
                r.hex(32),
                r.hex(32)
            ),
            8 => format!(
                r#"{head}"fileinfo","src_ip":"{dst}","src_port":80,"dest_ip":"{src}","dest_port":{},"proto":"TCP","http":{{"hostname":"{url_host}","url":"{url_path}","http_method":"GET","status":200}},"app_proto":"http","fileinfo":{{"filename":"{url_path}","magic":"PE32 executable (GUI) Intel 80386, for MS Windows","gaps":false,"state":"CLOSED","md5":"{md5}","sha1":"{}","sha256":"{sha256}","stored":false,"size":{},"tx_id":0}}}}"#,
                1024 + r.below(60000),
                r.hex(40),
                r.below(10_000_000)
            ),
            _ => format!(
                r#"{head}"flow","src_ip":"{src}","src_port":{},"dest_ip":"{dst}","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{{"pkts_toserver":{},"pkts_toclient":{},"bytes_toserver":{},"bytes_toclient":{},"start":"{ts}","end":"{ts}","age":{},"state":"closed","reason":"timeout","alerted":false}},"tcp":{{"tcp_flags":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}}}"#,
                1024 + r.below(60000),
                r.below(100),
                r.below(100),
                r.below(100_000),
                r.below(1_000_000),
                r.below(120)
            ),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Zeek JSON lines: conn (50 %), dns (30 %) and http (20 %), 1 % with a planted value.
fn zeek_events(count: usize, hit_every: usize, iocs: u64) -> Vec<u8> {
    let mut r = Rng(7);
    let mut out = Vec::with_capacity(count * 400);
    for e in 0..count {
        let src = format!("10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254));
        let mut dst = format!(
            "{}.{}.{}.{}",
            11 + r.below(200),
            r.below(256),
            r.below(256),
            1 + r.below(254)
        );
        let mut domain = format!("{}.{}.{}", r.word(4), r.word(8), TLDS[r.below(8) as usize]);
        let mut host = domain.clone();
        let mut uri = format!("/{}/{}.html", r.word(6), r.word(5));
        if hit_every > 0 && e % hit_every == 0 {
            let k = r.below(iocs.max(1));
            let (_, v) = ioc(k);
            match k % 20 {
                0..=6 => domain = v.to_uppercase(),
                7..=10 => dst = v,
                12..=14 => {
                    let (h, p) = v.split_once('\u{0}').unwrap_or((&v, "/"));
                    host = h.to_owned();
                    uri = p.to_owned();
                }
                _ => {}
            }
        }
        let ts = format!(
            "{}.{:06}",
            1_763_805_600 + r.below(86_400),
            r.below(1_000_000)
        );
        let uid = format!("C{}", r.word(17));
        let sport = 1024 + r.below(60000);
        let line = match e % 10 {
            0..=4 => format!(
                r#"{{"ts":{ts},"uid":"{uid}","id.orig_h":"{src}","id.orig_p":{sport},"id.resp_h":"{dst}","id.resp_p":443,"proto":"tcp","service":"ssl","duration":{}.{:06},"orig_bytes":{},"resp_bytes":{},"conn_state":"SF","local_orig":true,"local_resp":false,"missed_bytes":0,"history":"ShADadFf","orig_pkts":{},"orig_ip_bytes":{},"resp_pkts":{},"resp_ip_bytes":{}}}"#,
                r.below(100),
                r.below(1_000_000),
                r.below(100_000),
                r.below(1_000_000),
                r.below(100),
                r.below(100_000),
                r.below(100),
                r.below(1_000_000)
            ),
            5..=7 => format!(
                r#"{{"ts":{ts},"uid":"{uid}","id.orig_h":"{src}","id.orig_p":{sport},"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","trans_id":{},"rtt":0.0{},"query":"{domain}","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["{dst}"],"TTLs":[300.0],"rejected":false}}"#,
                r.below(65536),
                r.below(100_000)
            ),
            _ => format!(
                r#"{{"ts":{ts},"uid":"{uid}","id.orig_h":"{src}","id.orig_p":{sport},"id.resp_h":"{dst}","id.resp_p":80,"trans_depth":1,"method":"GET","host":"{host}","uri":"{uri}","version":"1.1","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36","request_body_len":0,"response_body_len":{},"status_code":200,"status_msg":"OK","tags":[],"resp_fuids":["F{}"],"resp_mime_types":["text/html"]}}"#,
                r.below(100_000),
                r.word(17)
            ),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let text: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);

    let (rss0, _) = peak_rss_kib();
    let t = Instant::now();
    let index = build(n, 1000, text);
    let build_s = t.elapsed().as_secs_f64();
    let (rss1, hwm1) = peak_rss_kib();
    let st = index.stats();
    println!(
        "build: {} indicators (+1000 CIDR, +{text} LIKE/MATCHES) in {build_s:.2} s ({:.0} indicators/s); RSS +{} MiB (VmRSS {} MiB, VmHWM {} MiB); structures ~{} MiB",
        n,
        st.indicators as f64 / build_s,
        (rss1.saturating_sub(rss0)) / 1024,
        rss1 / 1024,
        hwm1 / 1024,
        st.heap_bytes >> 20
    );
    println!("stats: {st:?}");

    let data = eve_events(events, 100, n);
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mb = data.len() as f64 / 1e6;
    println!(
        "events: {} EVE lines, {:.1} MB, {:.0} bytes/event",
        lines.len(),
        mb,
        data.len() as f64 / lines.len() as f64
    );

    let map = Arc::new(FieldMap::suricata_eve());
    let empty = Index::default();
    let mut floor = Vec::new();
    let mut scan_only = Vec::new();
    let mut full = Vec::new();
    let mut hits_total = 0u64;
    let mut walls = Vec::new();
    // For profiling: `BENCH_PROFILE=1` only repeats the full scan.
    if std::env::var_os("BENCH_PROFILE").is_some() {
        let mut scanner = Scanner::new(map.clone());
        let mut hits = 0u64;
        for _ in 0..runs {
            for l in &lines {
                scanner
                    .scan(&index, l, &mut |h: &Hit<'_>| {
                        hits += h.indicators.len() as u64
                    })
                    .expect("generated event scans");
            }
        }
        println!("profile: {hits} hits");
        return;
    }
    for run in 0..runs {
        let n_ev = lines.len() as f64;
        let (fw, fc) = timed(|| {
            for l in &lines {
                let _: serde::de::IgnoredAny =
                    serde_json::from_slice(l).expect("generated event parses");
            }
        });
        floor.push(n_ev / fc);

        let mut scanner = Scanner::new(map.clone());
        let mut n_hits = 0u64;
        let (sw, sc) = timed(|| {
            for l in &lines {
                scanner
                    .scan(&empty, l, &mut |_: &Hit<'_>| n_hits += 1)
                    .expect("generated event scans");
            }
        });
        scan_only.push(n_ev / sc);

        let mut hits = 0u64;
        let (xw, xc) = timed(|| {
            for l in &lines {
                scanner
                    .scan(&index, l, &mut |h: &Hit<'_>| {
                        hits += h.indicators.len() as u64
                    })
                    .expect("generated event scans");
            }
        });
        full.push(n_ev / xc);
        walls.push((n_ev / fw, n_ev / sw, n_ev / xw));
        hits_total = hits;
        println!(
            "run {run}: per CPU-second: floor serde_json IgnoredAny {:.0} ev/s | scanner, empty index {:.0} ev/s | scanner + index {:.0} ev/s ({hits} indicator hits); wall: {:.0} / {:.0} / {:.0} ev/s",
            floor[run], scan_only[run], full[run], walls[run].0, walls[run].1, walls[run].2
        );
    }
    let (f, s, x) = (
        median(&mut floor),
        median(&mut scan_only),
        median(&mut full),
    );
    println!(
        "median of {runs} (events per CPU-second of one thread): floor {f:.0} ev/s ({:.0} MB/s) | scanner only {s:.0} ev/s | scanner + {n}-indicator index {x:.0} ev/s ({:.0} MB/s), {:.2}x the floor; {hits_total} hits",
        f * mb / lines.len() as f64,
        x * mb / lines.len() as f64,
        x / f
    );

    // Zeek conn/dns/http with the Zeek field map, same index, floor measured alongside.
    let zdata = zeek_events(events, 100, n);
    let zlines: Vec<&[u8]> = zdata
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let zmb = zdata.len() as f64 / 1e6;
    let zmap = Arc::new(FieldMap::zeek());
    let (mut zfloor, mut zfull) = (Vec::new(), Vec::new());
    let mut zhits = 0u64;
    for run in 0..runs {
        let n_ev = zlines.len() as f64;
        let (_, fc) = timed(|| {
            for l in &zlines {
                let _: serde::de::IgnoredAny =
                    serde_json::from_slice(l).expect("generated event parses");
            }
        });
        zfloor.push(n_ev / fc);
        let mut scanner = Scanner::new(zmap.clone());
        let mut hits = 0u64;
        let (_, xc) = timed(|| {
            for l in &zlines {
                scanner
                    .scan(&index, l, &mut |h: &Hit<'_>| {
                        hits += h.indicators.len() as u64
                    })
                    .expect("generated event scans");
            }
        });
        zfull.push(n_ev / xc);
        zhits = hits;
        println!(
            "zeek run {run}: per CPU-second: floor {:.0} ev/s | scanner + index {:.0} ev/s ({hits} indicator hits)",
            zfloor[run], zfull[run]
        );
    }
    let (zf, zx) = (median(&mut zfloor), median(&mut zfull));
    println!(
        "zeek median of {runs}: {} lines, {:.0} bytes/event: floor {zf:.0} ev/s ({:.0} MB/s) | scanner + {n}-indicator index {zx:.0} ev/s ({:.0} MB/s), {:.2}x the floor; {zhits} hits",
        zlines.len(),
        zdata.len() as f64 / zlines.len() as f64,
        zf * zmb / zlines.len() as f64,
        zx * zmb / zlines.len() as f64,
        zx / zf
    );
    let (rss, hwm) = peak_rss_kib();
    println!(
        "memory at the end: VmRSS {} MiB, peak VmHWM {} MiB (index + both event sets)",
        rss / 1024,
        hwm / 1024
    );
}
