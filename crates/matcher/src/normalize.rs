//! Normalisation of observable values.
//!
//! The same functions run on indicator values when the index is built and on telemetry
//! values when an event is looked up, so that a value written two equivalent ways still
//! hits. Every function writes into a caller-supplied buffer (cleared first) so that the
//! lookup path reuses one buffer per scanner and allocates nothing once it is warm.
//!
//! The rules (also in the crate's README):
//!
//! * **Domain names** — ASCII letters are lowercased and one trailing dot is removed
//!   (RFC 4343: DNS names compare case-insensitively, so DNS 0x20 case randomisation must
//!   not hide a hit). Surrounding ASCII whitespace is trimmed. A label with non-ASCII
//!   characters (a U-label) is lowercased, put in Unicode normalisation form C and
//!   written as its A-label, `xn--` and Punycode (the mapping of UTS 46 reduced to case
//!   and NFC; RFC 5891 compares IDNs as A-labels): `BÜCHER.example` and
//!   `xn--bcher-kva.example` are the same name, in indicators and in telemetry.
//! * **URLs** — when the value has the form `scheme://authority/rest`, the scheme is
//!   ASCII-lowercased and the host normalised as a domain name (an IPv6 literal
//!   `[…]` as its RFC 5952 text), a trailing dot on the host is removed, the default port of
//!   `http`/`ws` (80), `https`/`wss` (443) and `ftp` (21) is removed, and an empty path of an
//!   `http`/`https` URL becomes `/`. The user-info, path, query and fragment stay exact
//!   (no percent-decoding). A value without `://` is kept exact apart from trimming.
//! * **File hashes** — hexadecimal digits are lowercased; a value that is not hexadecimal
//!   of the algorithm's length is rejected (indicator) or never hits (telemetry).
//! * **IP addresses** — parsed and compared as numbers, so every textual form of one
//!   address is equal (IPv6 `2001:DB8:0::1` equals `2001:db8::1`). An IPv4-mapped IPv6
//!   address (`::ffff:a.b.c.d`) is treated as the IPv4 address `a.b.c.d`, in telemetry and
//!   in indicators (an IPv6 CIDR of prefix 96 or longer inside `::ffff:0:0/96` becomes
//!   the matching IPv4 CIDR). A zone index (`fe80::1%eth0`) is dropped.
//! * **Email addresses** — surrounding whitespace and one pair of angle brackets are
//!   removed (`Name <user@example.com>` gives `user@example.com`); the domain part (after
//!   the last `@`) is normalised as a domain name (A-labels included); the local part
//!   stays exact.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use unicode_normalization::UnicodeNormalization;

/// Hash algorithms the index compares as lowercase hexadecimal strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlg {
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Sha3_256,
    Sha3_512,
}

impl HashAlg {
    /// All algorithms, in a fixed order (used to lay out per-algorithm tables).
    pub const ALL: [HashAlg; 6] = [
        HashAlg::Md5,
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha512,
        HashAlg::Sha3_256,
        HashAlg::Sha3_512,
    ];

    /// Position in [`HashAlg::ALL`].
    pub fn slot(self) -> usize {
        self as usize
    }

    /// Number of hexadecimal digits of a digest.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlg::Md5 => 32,
            HashAlg::Sha1 => 40,
            HashAlg::Sha256 | HashAlg::Sha3_256 => 64,
            HashAlg::Sha512 | HashAlg::Sha3_512 => 128,
        }
    }

    /// The STIX hashing-algorithm-ov name (`MD5`, `SHA-1`, ...).
    pub fn stix_name(self) -> &'static str {
        match self {
            HashAlg::Md5 => "MD5",
            HashAlg::Sha1 => "SHA-1",
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha512 => "SHA-512",
            HashAlg::Sha3_256 => "SHA3-256",
            HashAlg::Sha3_512 => "SHA3-512",
        }
    }

    /// Parses a STIX hash key or a common spelling of it, case-insensitively
    /// (`SHA-256`, `sha256`, `SHA256`).
    pub fn from_name(name: &str) -> Option<HashAlg> {
        let mut buf = [0u8; 8];
        let mut n = 0;
        for b in name.bytes() {
            if b == b'-' || b == b'_' {
                continue;
            }
            if n == buf.len() {
                return None;
            }
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
        match &buf[..n] {
            b"md5" => Some(HashAlg::Md5),
            b"sha1" => Some(HashAlg::Sha1),
            b"sha256" => Some(HashAlg::Sha256),
            b"sha512" => Some(HashAlg::Sha512),
            b"sha3256" => Some(HashAlg::Sha3_256),
            b"sha3512" => Some(HashAlg::Sha3_512),
            _ => None,
        }
    }
}

/// Normalises a domain name into `out`. Returns `false` when nothing is left.
pub fn domain(input: &str, out: &mut String) -> bool {
    out.clear();
    let mut s = input.trim_ascii();
    if let Some(stripped) = s.strip_suffix('.') {
        s = stripped;
    }
    push_domain(s, out);
    !out.is_empty()
}

/// Appends the normal form of the name `s` (no trailing dot to remove) to `out`: ASCII
/// lowercased, each non-ASCII label as its A-label.
fn push_domain(s: &str, out: &mut String) {
    if s.is_ascii() {
        push_ascii_lower(s, out);
        return;
    }
    for (i, label) in s.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if label.is_ascii() {
            push_ascii_lower(label, out);
            continue;
        }
        let folded: String = label.chars().flat_map(char::to_lowercase).nfc().collect();
        match crate::punycode::encode(&folded) {
            Ok(code) if !folded.is_ascii() => {
                out.push_str("xn--");
                out.push_str(&code);
            }
            // Folding made it ASCII (the Kelvin sign is `k`), or it is too long to encode.
            _ => out.push_str(&folded),
        }
    }
}

/// Whether `s` is already in normalised domain form (ASCII, no uppercase, no trailing
/// dot, no surrounding whitespace). Lets the hot path skip the copy.
pub fn domain_is_normal(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    last != b'.'
        && !first.is_ascii_whitespace()
        && !last.is_ascii_whitespace()
        && !has_upper_or_non_ascii(b)
}

/// Whether some byte of `b` is an ASCII capital or not ASCII: 8 bytes at a time, the last
/// word overlapping the one before it (the test is per byte, so bytes read twice do no
/// harm).
#[inline]
fn has_upper_or_non_ascii(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // For a word of ASCII bytes, the high bit of each byte that lies in `A..=Z`: adding
    // 0x80 - 'A' sets the high bit from 'A' up, adding 0x80 - 'Z' - 1 from 'Z' + 1 up
    // (no carry crosses a byte, each byte being under 0x80).
    let flagged = |w: u64| {
        let low = w & !HIGHS;
        let upper =
            (low + ONES * u64::from(0x80 - b'A')) & !(low + ONES * u64::from(0x80 - b'Z' - 1));
        (w | upper) & HIGHS != 0
    };
    if b.len() < 8 {
        return b.iter().any(|&c| c.is_ascii_uppercase() || !c.is_ascii());
    }
    let word = |i: usize| {
        b.get(i..)
            .and_then(|r| r.first_chunk::<8>())
            .map_or(0, |c| u64::from_le_bytes(*c))
    };
    let mut i = 0;
    while i + 8 < b.len() {
        if flagged(word(i)) {
            return true;
        }
        i += 8;
    }
    flagged(word(b.len() - 8))
}

fn push_ascii_lower(s: &str, out: &mut String) {
    let start = out.len();
    out.push_str(s);
    out[start..].make_ascii_lowercase();
}

/// Normalises a hexadecimal digest into `out`; `false` if `input` is not `alg`'s length
/// of hexadecimal digits.
pub fn hash(alg: HashAlg, input: &str, out: &mut String) -> bool {
    out.clear();
    let s = input.trim_ascii();
    if s.len() != alg.hex_len() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    push_ascii_lower(s, out);
    true
}

/// Whether `s` is already a normalised digest of `alg` (lowercase hex of its length), so
/// the lookup can use it without a copy.
pub fn hash_is_normal(alg: HashAlg, s: &str) -> bool {
    s.len() == alg.hex_len()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses an IP address (either family), dropping a zone index and mapping an
/// IPv4-mapped IPv6 address to IPv4.
pub fn ip(input: &str) -> Option<IpAddr> {
    let s = input.trim_ascii();
    let first = *s.as_bytes().first()?;
    if first.is_ascii_digit() {
        if let Some(v4) = fast_v4(s.as_bytes()) {
            return Some(IpAddr::V4(v4));
        }
    }
    // Every other form accepted is IPv6 text, which always has a colon: a domain name
    // (the usual value of a host field) is turned away without the IPv6 parser.
    if !s.as_bytes().contains(&b':') {
        return None;
    }
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    let s = match s.find('%') {
        Some(i) => &s[..i],
        None => s,
    };
    let v6 = s.parse::<Ipv6Addr>().ok()?;
    Some(canonical_v6(v6))
}

/// Dotted-quad IPv4 as the standard library accepts it (four decimal octets <= 255, no
/// leading zeros), without its general-purpose parser.
pub(crate) fn fast_v4(b: &[u8]) -> Option<Ipv4Addr> {
    if !(7..=15).contains(&b.len()) {
        return None;
    }
    let digit = |i: usize| match b.get(i) {
        Some(&c) if c.is_ascii_digit() => Some(u32::from(c - b'0')),
        _ => None,
    };
    // Octet by octet: one to three digits, no leading zero, at most 255, then a dot.
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, o) in octets.iter_mut().enumerate() {
        let mut v = digit(i)?;
        i += 1;
        if let Some(d) = digit(i) {
            if v == 0 {
                return None;
            }
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + d;
                i += 1;
            }
        }
        *o = u8::try_from(v).ok()?;
        if k < 3 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    (i == b.len()).then(|| Ipv4Addr::from(octets))
}

/// Appends an address as `Display` writes it (IPv6 as RFC 5952 recommends: lowercase
/// hex, the first longest run of two or more zero groups as `::`, an IPv4-mapped
/// address as `::ffff:a.b.c.d`), without the formatting machinery.
pub fn push_ip(out: &mut String, ip: IpAddr) {
    fn push_dec(out: &mut String, n: u8) {
        if n >= 100 {
            out.push(char::from(b'0' + n / 100));
        }
        if n >= 10 {
            out.push(char::from(b'0' + n / 10 % 10));
        }
        out.push(char::from(b'0' + n % 10));
    }
    fn push_v4(out: &mut String, a: Ipv4Addr) {
        let [a, b, c, d] = a.octets();
        push_dec(out, a);
        for o in [b, c, d] {
            out.push('.');
            push_dec(out, o);
        }
    }
    fn push_groups(out: &mut String, groups: &[u16]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, &g) in groups.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            let mut shift = 12;
            while shift > 0 && g >> shift == 0 {
                shift -= 4;
            }
            loop {
                out.push(char::from(HEX[usize::from((g >> shift) & 0xf)]));
                if shift == 0 {
                    break;
                }
                shift -= 4;
            }
        }
    }
    match ip {
        IpAddr::V4(a) => push_v4(out, a),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                out.push_str("::ffff:");
                push_v4(out, v4);
                return;
            }
            let groups = a.segments();
            // The first longest run of zero groups.
            let (mut best, mut best_len, mut run) = (0, 0, 0);
            for (i, &g) in groups.iter().enumerate() {
                run = if g == 0 { run + 1 } else { 0 };
                if run > best_len {
                    best_len = run;
                    best = i + 1 - run;
                }
            }
            if best_len > 1 {
                push_groups(out, &groups[..best]);
                out.push_str("::");
                push_groups(out, &groups[best + best_len..]);
            } else {
                push_groups(out, &groups);
            }
        }
    }
}

/// Maps `::ffff:a.b.c.d` to `a.b.c.d`; other addresses are returned unchanged.
pub fn canonical_v6(v6: Ipv6Addr) -> IpAddr {
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// A parsed CIDR block (address family, network bits, prefix length), normalised: host
/// bits are cleared and IPv4-mapped IPv6 blocks of prefix >= 96 become IPv4 blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cidr {
    V4 { net: u32, len: u8 },
    V6 { net: u128, len: u8 },
}

impl Cidr {
    /// Parses `addr` or `addr/len`. Errors are plain reasons for the caller to wrap.
    pub fn parse(input: &str) -> Result<Cidr, &'static str> {
        let s = input.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => {
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("prefix length is not a decimal number");
                }
                let n: u8 = l.parse().map_err(|_| "prefix length out of range")?;
                (a, Some(n))
            }
            None => (s, None),
        };
        if let Ok(v4) = addr.parse::<Ipv4Addr>() {
            let len = len.unwrap_or(32);
            if len > 32 {
                return Err("IPv4 prefix length above 32");
            }
            return Ok(Cidr::v4(u32::from(v4), len));
        }
        let v6 = addr
            .parse::<Ipv6Addr>()
            .map_err(|_| "not an IPv4 or IPv6 address")?;
        let len = len.unwrap_or(128);
        if len > 128 {
            return Err("IPv6 prefix length above 128");
        }
        if len >= 96 && v6.to_ipv4_mapped().is_some() {
            let bits = u128::from(v6) as u32;
            return Ok(Cidr::v4(bits, len - 96));
        }
        Ok(Cidr::v6(u128::from(v6), len))
    }

    /// A v4 block with host bits cleared.
    pub fn v4(addr: u32, len: u8) -> Cidr {
        Cidr::V4 {
            net: addr & mask4(len),
            len,
        }
    }

    /// A v6 block with host bits cleared.
    pub fn v6(addr: u128, len: u8) -> Cidr {
        Cidr::V6 {
            net: addr & mask6(len),
            len,
        }
    }

    /// Whether the block holds exactly one address.
    pub fn is_host(&self) -> bool {
        matches!(self, Cidr::V4 { len: 32, .. } | Cidr::V6 { len: 128, .. })
    }
}

/// Netmask for an IPv4 prefix length (0..=32).
pub fn mask4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// Netmask for an IPv6 prefix length (0..=128).
pub fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// Normalises an email address into `out`; `false` if there is no `@` with text on both
/// sides.
pub fn email(input: &str, out: &mut String) -> bool {
    out.clear();
    let mut s = input.trim_ascii();
    if let Some(open) = s.rfind('<') {
        if let Some(close_rel) = s[open..].find('>') {
            s = &s[open + 1..open + close_rel];
        }
    }
    let s = s.trim_ascii();
    let Some(at) = s.rfind('@') else {
        return false;
    };
    let (local, dom) = (&s[..at], &s[at + 1..]);
    let dom = dom.strip_suffix('.').unwrap_or(dom);
    if local.is_empty() || dom.is_empty() {
        return false;
    }
    out.push_str(local);
    out.push('@');
    push_domain(dom, out);
    true
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        "ftp" => Some("21"),
        _ => None,
    }
}

/// Normalises a URL into `out`; `false` when nothing is left.
pub fn url(input: &str, out: &mut String) -> bool {
    out.clear();
    let s = input.trim_ascii();
    // The first `://` (a search for each `:`, as most URLs' first colon is that one).
    let b = s.as_bytes();
    let mut from = 0;
    let found = loop {
        match memchr::memchr(b':', b.get(from..).unwrap_or(&[])) {
            Some(k) if b.get(from + k + 1..from + k + 3) == Some(b"//") => break Some(from + k),
            Some(k) => from += k + 1,
            None => break None,
        }
    };
    let Some(sep) = found else {
        out.push_str(s);
        return !out.is_empty();
    };
    let scheme = &s[..sep];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        out.push_str(s);
        return !out.is_empty();
    }
    push_ascii_lower(scheme, out);
    let scheme_lower_len = out.len();
    out.push_str("://");
    let rest = &s[sep + 3..];
    let auth_end = memchr::memchr3(b'/', b'?', b'#', rest.as_bytes()).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (userinfo, hostport) = match memchr::memrchr(b'@', authority.as_bytes()) {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport);
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Some(ui) = userinfo {
        out.push_str(ui);
        out.push('@');
    }
    match host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<Ipv6Addr>().ok())
    {
        Some(v6) => {
            use std::fmt::Write;
            let _ = write!(out, "[{v6}]");
        }
        None => push_domain(host, out),
    }
    let scheme_lower = &out[..scheme_lower_len];
    let default = default_port(scheme_lower);
    let is_http = scheme_lower == "http" || scheme_lower == "https";
    if let Some(p) = port {
        if Some(p) != default && !p.is_empty() {
            out.push(':');
            out.push_str(p);
        }
    }
    if tail.is_empty() && is_http {
        out.push('/');
    } else {
        out.push_str(tail);
    }
    true
}

fn split_host_port(hostport: &str) -> (&str, Option<&str>) {
    if hostport.starts_with('[') {
        if let Some(close) = hostport.find(']') {
            let host = &hostport[..=close];
            let after = &hostport[close + 1..];
            return (host, after.strip_prefix(':'));
        }
        return (hostport, None);
    }
    // A port is the digits after the only colon: `host:8080:` or `a:b:80` have no port
    // and are kept as they are (not read as `host:8080` with an empty port).
    match hostport.rfind(':') {
        Some(i)
            if hostport[i + 1..].bytes().all(|b| b.is_ascii_digit())
                && !hostport[..i].contains(':') =>
        {
            (&hostport[..i], Some(&hostport[i + 1..]))
        }
        _ => (hostport, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        let mut out = String::new();
        domain(s, &mut out);
        out
    }
    fn u(s: &str) -> String {
        let mut out = String::new();
        url(s, &mut out);
        out
    }

    #[test]
    fn domain_case_and_trailing_dot() {
        assert_eq!(d("ExAmPle.COM."), "example.com");
        assert_eq!(d("  example.com "), "example.com");
        // Internationalised names: one A-label form, whatever case and form they come in.
        for name in [
            "bücher.example",
            "BÜCHER.example.",
            "Bu\u{308}cher.EXAMPLE",
            "xn--bcher-kva.example",
            "XN--BCHER-KVA.example",
        ] {
            assert_eq!(d(name), "xn--bcher-kva.example", "{name}");
        }
        assert_eq!(d("مصرف.example"), "xn--wgbh1bn.example");
        assert_eq!(
            d("\u{212A}.example"),
            "k.example",
            "the Kelvin sign folds to ASCII"
        );
        assert!(!domain_is_normal("bücher.example"));
        assert!(domain_is_normal("a.example.com"));
        assert!(!domain_is_normal("A.example.com"));
        assert!(!domain_is_normal("example.com."));
        let mut out = String::new();
        assert!(!domain(".", &mut out));
    }

    #[test]
    fn url_rules() {
        assert_eq!(
            u("HTTP://Example.COM:80/A/B?Q=1"),
            "http://example.com/A/B?Q=1"
        );
        assert_eq!(u("https://example.com:443"), "https://example.com/");
        assert_eq!(
            u("https://example.com:8443/x"),
            "https://example.com:8443/x"
        );
        assert_eq!(
            u("http://User:Pw@Example.com./p"),
            "http://User:Pw@example.com/p"
        );
        assert_eq!(u("http://[2001:DB8::1]:80/p"), "http://[2001:db8::1]/p");
        assert_eq!(
            u("http://[2001:0DB8:0:0::0001]:8080/p"),
            "http://[2001:db8::1]:8080/p"
        );
        assert_eq!(
            u("https://BÜCHER.example/Pfad"),
            "https://xn--bcher-kva.example/Pfad"
        );
        assert_eq!(u("ftp://Files.example.org:21"), "ftp://files.example.org");
        assert_eq!(u("example.com/Path"), "example.com/Path");
        assert_eq!(u("http://example.com?q"), "http://example.com?q");
        assert_eq!(u("http://example.com#Frag"), "http://example.com#Frag");
        // The scheme ends at the first `://`, wherever the first colon is.
        assert_eq!(u("a:b://X.com/"), "a:b://X.com/");
        assert_eq!(u("x+y.z-1://H.example/P"), "x+y.z-1://h.example/P");
        assert_eq!(u("Mailto:X@Y.example"), "Mailto:X@Y.example");
        assert_eq!(u("http:/X.example"), "http:/X.example");
        assert_eq!(u("://X.example"), "://X.example");
        assert_eq!(u("http://u@v@H.example/p"), "http://u@v@h.example/p");
        // An empty port is the default; a second colon makes the authority no host and
        // port, and it stays as it was (lowercased), never the valid URL it resembles.
        assert_eq!(u("http://H.example:/p"), "http://h.example/p");
        assert_eq!(u("http://H.example:8080:/p"), "http://h.example:8080:/p");
        assert_eq!(u("http://a:B:80/p"), "http://a:b:80/p");
    }

    #[test]
    fn hash_rules() {
        let mut out = String::new();
        assert!(hash(
            HashAlg::Md5,
            "D41D8CD98F00B204E9800998ECF8427E",
            &mut out
        ));
        assert_eq!(out, "d41d8cd98f00b204e9800998ecf8427e");
        assert!(!hash(
            HashAlg::Sha1,
            "D41D8CD98F00B204E9800998ECF8427E",
            &mut out
        ));
        assert!(!hash(
            HashAlg::Md5,
            "z41d8cd98f00b204e9800998ecf8427e",
            &mut out
        ));
        assert_eq!(HashAlg::from_name("SHA-256"), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_name("sha3-512"), Some(HashAlg::Sha3_512));
        assert_eq!(HashAlg::from_name("SSDEEP"), None);
    }

    #[test]
    fn ip_rules() {
        assert_eq!(ip("10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(ip("::ffff:10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(ip("2001:DB8:0::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(ip("fe80::1%eth0"), Some("fe80::1".parse().unwrap()));
        assert_eq!(ip("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(
            ip("010.0.0.1"),
            None,
            "leading zeros are ambiguous (octal) and rejected"
        );
        assert_eq!(ip("example.com"), None);
        for bad in [
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.4x",
            "1..2.3",
            "1.2.3.1234",
            "01.2.3.4",
        ] {
            assert_eq!(ip(bad), None, "{bad}");
            assert!(bad.parse::<Ipv4Addr>().is_err());
        }
        for good in ["0.0.0.0", "255.255.255.255", "10.0.0.1", "192.168.100.200"] {
            assert_eq!(ip(good), Some(IpAddr::V4(good.parse().unwrap())));
        }
        assert_eq!(ip(""), None);
    }

    /// `ip` reads exactly what the standard library's parsers read (after trimming, a
    /// bracket pair and a zone index): random strings over the characters addresses and
    /// names are made of, and the usual forms.
    #[test]
    fn ip_agrees_with_the_standard_parsers() {
        fn reference(input: &str) -> Option<IpAddr> {
            let s = input.trim_ascii();
            if let Ok(v4) = s.parse::<Ipv4Addr>() {
                return Some(IpAddr::V4(v4));
            }
            let s = s
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(s);
            let s = s.split('%').next().unwrap_or(s);
            s.parse::<Ipv6Addr>().ok().map(canonical_v6)
        }
        let mut inputs: Vec<String> = [
            "evil.example",
            "10.0.0.1",
            " 10.0.0.1 ",
            "[::1]",
            "[10.0.0.1]",
            "::ffff:10.0.0.1",
            "fe80::1%eth0",
            "2001:db8::1",
            "a:b",
            "1:2:3:4:5:6:7:8",
            "x.1.2.3",
            "::",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let alphabet = b"0123456789abcdef:.[]% gx";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..50_000 {
            crate::xorshift(&mut x);
            let len = (x % 18) as usize;
            let mut y = x >> 5;
            let mut t = String::new();
            for _ in 0..len {
                t.push(char::from(alphabet[(y % alphabet.len() as u64) as usize]));
                y = y
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
            inputs.push(t);
            // An address-shaped string: IPv4, or IPv6 groups with or without `::`, an
            // IPv4 tail, brackets, a zone, spaces; sometimes one byte changed.
            let mut a = String::new();
            let groups = 1 + (x >> 20) % 9;
            if (x >> 24).is_multiple_of(3) {
                for g in 0..4 {
                    if g > 0 {
                        a.push('.');
                    }
                    a.push_str(&((x >> (28 + 8 * g)) % 300).to_string());
                }
            } else {
                for g in 0..groups {
                    if g > 0 {
                        a.push(':');
                    }
                    if g == (x >> 30) % groups && (x >> 34).is_multiple_of(2) {
                        a.push(':');
                    }
                    a.push_str(&format!("{:x}", (x >> (g * 3)) % 0x1_0000));
                }
                if (x >> 36).is_multiple_of(4) {
                    a.push_str(":10.0.0.1");
                }
                if (x >> 38).is_multiple_of(4) {
                    a = format!("[{a}]");
                }
                if (x >> 40).is_multiple_of(5) {
                    a.push_str("%eth0");
                }
            }
            if (x >> 42).is_multiple_of(6) {
                a = format!(" {a} ");
            }
            if (x >> 44).is_multiple_of(5) && !a.is_empty() {
                let at = ((x >> 46) as usize) % a.len();
                let c = alphabet[((x >> 52) as usize) % alphabet.len()];
                let mut b = a.into_bytes();
                b[at] = c;
                a = String::from_utf8(b).unwrap_or_default();
            }
            inputs.push(a);
        }
        let mut some = 0;
        for s in &inputs {
            let got = ip(s);
            assert_eq!(got, reference(s), "{s:?}");
            some += usize::from(got.is_some());
        }
        assert!(some > 100, "{some}");
    }

    /// `push_ip` writes what `Display` writes: every address of groups drawn from zero,
    /// small and large values (so that zero runs of every length and place occur, ties
    /// included), IPv4-mapped and IPv4 addresses.
    #[test]
    fn push_ip_writes_what_display_writes() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut out = String::new();
        let mut compressed = 0;
        for k in 0..200_000u32 {
            let ip = if k % 10 == 0 {
                IpAddr::V4(Ipv4Addr::from(crate::xorshift(&mut x) as u32))
            } else {
                let mut g = [0u16; 8];
                for v in &mut g {
                    let r = crate::xorshift(&mut x);
                    *v = match r % 4 {
                        0 | 1 => 0,
                        2 => (r >> 8) as u16 & 0xf,
                        _ => (r >> 8) as u16,
                    };
                }
                if k % 97 == 0 {
                    g = [0, 0, 0, 0, 0, 0xffff, g[6], g[7]];
                }
                IpAddr::V6(Ipv6Addr::from(g))
            };
            out.clear();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string(), "{ip:?}");
            compressed += usize::from(out.contains("::"));
        }
        assert!(compressed > 100_000, "{compressed}");
        for s in [
            "::",
            "::1",
            "1::",
            "1:0:0:2:0:0:0:3",
            "1:0:0:2:0:0:3:4",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = s.parse().unwrap();
            out.clear();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    /// `domain_is_normal` (8 bytes at a time) answers as a byte-by-byte check does.
    #[test]
    fn domain_is_normal_agrees_with_a_byte_by_byte_check() {
        fn by_bytes(s: &str) -> bool {
            let b = s.as_bytes();
            !b.is_empty()
                && !b.iter().any(|&c| c.is_ascii_uppercase() || !c.is_ascii())
                && b[b.len() - 1] != b'.'
                && !b[0].is_ascii_whitespace()
                && !b[b.len() - 1].is_ascii_whitespace()
        }
        // The bytes on either side of the capitals, digits, dots, whitespace and a
        // two-byte character, at every length up to 40 (every offset of the 8-byte words
        // and of the overlapping last one).
        let alphabet = [
            'a', 'z', 'm', '-', '.', '0', '9', '@', 'A', 'Z', 'M', '[', '`', '{', ' ', '\t', 'é',
            '\u{7f}',
        ];
        let mut x: u64 = 0x00D0_3A14_CA5E;
        let (mut normal, mut checked) = (0, 0);
        for len in 0..=40 {
            for _ in 0..3_000 {
                let mut t = String::new();
                for _ in 0..len {
                    let r = crate::xorshift(&mut x);
                    // Mostly lowercase, so that the one odd byte lands anywhere.
                    let c = if r.is_multiple_of(8) {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    } else {
                        alphabet[(r >> 8) as usize % 3]
                    };
                    t.push(c);
                }
                assert_eq!(domain_is_normal(&t), by_bytes(&t), "{t:?}");
                normal += usize::from(by_bytes(&t));
                checked += 1;
            }
        }
        assert!(
            normal > 10_000 && checked - normal > 10_000,
            "{normal} of {checked}"
        );
    }

    /// `fast_v4` accepts exactly what the standard library's IPv4 parser accepts, with
    /// the same address: every dotted form of octets 0-999 with leading zeros, and
    /// random strings of digits, dots and the characters next to them.
    #[test]
    fn fast_v4_agrees_with_the_standard_parser() {
        let mut inputs = Vec::new();
        for o in [
            "0", "00", "1", "01", "10", "99", "100", "255", "256", "999", "0255", "",
        ] {
            for p in [
                format!("{o}.1.2.3"),
                format!("1.{o}.2.3"),
                format!("1.2.{o}.3"),
                format!("1.2.3.{o}"),
                format!("{o}.{o}.{o}.{o}"),
            ] {
                inputs.push(p);
            }
        }
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..100_000 {
            crate::xorshift(&mut x);
            let len = 1 + (x % 17) as usize;
            let mut y = x >> 5;
            let mut t = String::new();
            for _ in 0..len {
                // Digits, dots, and the bytes just outside the digits, a letter and a
                // two-byte character.
                let alphabet = [
                    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '.', '.', '.', 'x', '/', ':',
                    'é',
                ];
                t.push(alphabet[(y % 17) as usize]);
                y /= 17;
                if y == 0 {
                    y = x.rotate_left(17);
                }
            }
            inputs.push(t);
        }
        let mut accepted = 0;
        for s in &inputs {
            let got = fast_v4(s.as_bytes());
            assert_eq!(got, s.parse::<Ipv4Addr>().ok(), "{s:?}");
            accepted += usize::from(got.is_some());
        }
        assert!(accepted > 50, "{accepted}");
    }

    #[test]
    fn cidr_rules() {
        assert_eq!(
            Cidr::parse("10.1.2.3/8"),
            Ok(Cidr::V4 {
                net: 0x0a00_0000,
                len: 8
            })
        );
        assert_eq!(Cidr::parse("0.0.0.0/0"), Ok(Cidr::V4 { net: 0, len: 0 }));
        assert_eq!(Cidr::parse("::/0"), Ok(Cidr::V6 { net: 0, len: 0 }));
        assert_eq!(
            Cidr::parse("::ffff:10.0.0.0/104"),
            Ok(Cidr::V4 {
                net: 0x0a00_0000,
                len: 8
            })
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("::/129").is_err());
        assert!(Cidr::parse("10.0.0.0/").is_err());
        assert!(Cidr::parse("10.0.0.0/+8").is_err());
        assert!(Cidr::parse("1.2.3.4").unwrap().is_host());
        assert_eq!(mask4(0), 0);
        assert_eq!(mask4(32), u32::MAX);
        assert_eq!(mask6(128), u128::MAX);
    }

    #[test]
    fn email_rules() {
        let mut out = String::new();
        assert!(email("SOC Desk <Soc.Desk@Example.COM.>", &mut out));
        assert_eq!(out, "Soc.Desk@example.com");
        assert!(email("<a@b.example>", &mut out));
        assert_eq!(out, "a@b.example");
        assert!(!email("no-at-sign", &mut out));
        assert!(!email("@example.com", &mut out));
    }
}
