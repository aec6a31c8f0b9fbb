//! Observable normalisation where telemetry becomes observables, with validation.
//!
//! The canonical forms are the matcher's (`matcher::normalize`, the rules in
//! `crates/matcher/README.md`), which the index applies to indicator values when it is
//! built and the scanner to telemetry: a value seen on the wire, a value in an indicator,
//! an SCO written into a sighting and an asset on a watchlist are the same text exactly
//! when the protocol says they name the same thing. This module adds what a value must
//! satisfy to become an observable at all, and refuses the rest with a reason:
//!
//! | observable | canonical form | refused |
//! |---|---|---|
//! | `domain-name` | ASCII lowercased (RFC 4343: DNS 0x20 case randomisation cannot hide a hit), one trailing dot removed, a label with non-ASCII characters lowercased, NFC and written as its A-label (`xn--`, RFC 5891) | empty labels, labels over 63 octets or names over 253 (A-label form), whitespace, control characters, `/`, `@` |
//! | `url` | scheme lowercased, host as a domain name (or an IPv6 literal as RFC 5952 text), default port removed (80, 443, 21), empty `http(s)` path made `/`; user-info, path, query and fragment kept byte for byte (they are case-sensitive) | no `scheme://`, a bad scheme, an empty host, a port that is not a number, a host that is not a valid name |
//! | `ipv4-addr` | dotted quad; a `/32` suffix removed; other CIDR suffixes kept | leading zeros, out-of-range octets, bad prefixes |
//! | `ipv6-addr` | RFC 5952 text (lowercase hex, longest zero run compressed); `/128` removed | anything `Ipv6Addr` does not parse |
//! | `email-addr` | surrounding whitespace and one pair of angle brackets removed, local part kept (RFC 5321 §2.4: it may be case-sensitive), domain as a domain name | no `@`, an empty local part, a bad domain |
//! | `mac-addr` | lowercase, colon-separated (STIX 2.1 §6.8) | anything but six hex octets |
//!
//! An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) in telemetry is matched as the IPv4
//! address (the scanner reports it as an `ipv4-addr`); given here as an `ipv6-addr` it
//! keeps its RFC 5952 text. The STIX pattern evaluator over stored observed-data keeps
//! STIX's exact string semantics; normalisation happens only at the telemetry boundary.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a value cannot be normalised as the observable type it was given as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {observable_type} value {value:?}: {reason}")]
pub struct NormalizeError {
    /// The STIX observable type the value was presented as.
    pub observable_type: String,
    /// The value as received (truncated to 256 characters).
    pub value: String,
    /// Why it was refused.
    pub reason: &'static str,
}

impl NormalizeError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "warning.normalize.invalid_value"
    }

    fn new(observable_type: &str, value: &str, reason: &'static str) -> Self {
        NormalizeError {
            observable_type: observable_type.to_owned(),
            value: value.chars().take(256).collect(),
            reason,
        }
    }
}

/// Normalises `value` as an observable of STIX type `observable_type`. Types without a
/// rule are returned unchanged.
pub fn observable(observable_type: &str, value: &str) -> Result<String, NormalizeError> {
    match observable_type {
        "domain-name" => domain(value),
        "url" => url(value),
        "ipv4-addr" => ipv4(value),
        "ipv6-addr" => ipv6(value),
        "email-addr" => email(value),
        "mac-addr" => mac(value),
        _ => Ok(value.to_owned()),
    }
}

/// Normalises a DNS name (RFC 4343, RFC 5891): the matcher's canonical form, checked.
pub fn domain(value: &str) -> Result<String, NormalizeError> {
    let err = |reason| NormalizeError::new("domain-name", value, reason);
    let name = value.strip_suffix('.').unwrap_or(value);
    if name.is_empty() {
        return Err(err("empty name"));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '@')
    {
        return Err(err("contains whitespace, a control character, '/' or '@'"));
    }
    let mut out = String::with_capacity(name.len());
    if !matcher::normalize::domain(name, &mut out) {
        return Err(err("empty name"));
    }
    if out.split('.').any(str::is_empty) {
        return Err(err("empty label (two dots in a row or a leading dot)"));
    }
    if out.split('.').any(|l| l.len() > 63) {
        return Err(err("a label is longer than 63 octets"));
    }
    if out.len() > 253 {
        return Err(err("longer than 253 octets"));
    }
    Ok(out)
}

/// Normalises an IPv4 address (optionally with a CIDR suffix).
pub fn ipv4(value: &str) -> Result<String, NormalizeError> {
    let err = |reason| NormalizeError::new("ipv4-addr", value, reason);
    let (addr, prefix) = split_prefix(value, 32).map_err(err)?;
    let ip: Ipv4Addr = addr
        .parse()
        .map_err(|_| err("not a dotted-quad IPv4 address"))?;
    match prefix {
        None | Some(32) => Ok(ip.to_string()),
        Some(p) => Ok(format!("{ip}/{p}")),
    }
}

/// Normalises an IPv6 address to RFC 5952 text (optionally with a CIDR suffix).
pub fn ipv6(value: &str) -> Result<String, NormalizeError> {
    let err = |reason| NormalizeError::new("ipv6-addr", value, reason);
    let (addr, prefix) = split_prefix(value, 128).map_err(err)?;
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let ip: Ipv6Addr = addr.parse().map_err(|_| err("not an IPv6 address"))?;
    match prefix {
        None | Some(128) => Ok(ip.to_string()),
        Some(p) => Ok(format!("{ip}/{p}")),
    }
}

fn split_prefix(value: &str, max: u8) -> Result<(&str, Option<u8>), &'static str> {
    match value.split_once('/') {
        None => Ok((value, None)),
        Some((addr, p)) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err("the CIDR prefix length is not a number");
            }
            let n: u8 = p
                .parse()
                .map_err(|_| "the CIDR prefix length is not a number")?;
            if n > max {
                return Err("the CIDR prefix length is too large");
            }
            Ok((addr, Some(n)))
        }
    }
}

/// Normalises an e-mail address: the matcher's canonical form (angle brackets and
/// whitespace removed, the local part kept, the domain normalised), checked.
pub fn email(value: &str) -> Result<String, NormalizeError> {
    let err = |reason| NormalizeError::new("email-addr", value, reason);
    let mut out = String::with_capacity(value.len());
    if !matcher::normalize::email(value, &mut out) {
        return Err(err(if value.contains('@') {
            "empty local part or domain"
        } else {
            "no '@'"
        }));
    }
    let Some((local, dom)) = out.rsplit_once('@') else {
        return Err(err("no '@'"));
    };
    if local.is_empty() {
        return Err(err("empty local part"));
    }
    domain(dom).map_err(|e| err(e.reason))?;
    Ok(out)
}

/// Normalises a MAC address to lowercase colon-separated octets.
pub fn mac(value: &str) -> Result<String, NormalizeError> {
    let err = || NormalizeError::new("mac-addr", value, "expected six hex octets");
    let hex: String = value
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err());
    }
    let hex = hex.to_ascii_lowercase();
    let mut out = String::with_capacity(17);
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(pair[0]));
        out.push(char::from(pair[1]));
    }
    Ok(out)
}

/// A URL split into the parts normalisation cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    /// `user:pass@` including the `@`, or empty.
    pub userinfo: &'a str,
    /// Host as written (IPv6 literals keep their brackets).
    pub host: &'a str,
    /// `:port` including the colon, or empty.
    pub port: &'a str,
    /// Path, query and fragment as written.
    pub rest: &'a str,
}

/// Splits an absolute URL `scheme://authority/rest`.
pub fn split_url(value: &str) -> Result<UrlParts<'_>, NormalizeError> {
    let err = |reason| NormalizeError::new("url", value, reason);
    let (scheme, after) = value
        .split_once("://")
        .ok_or_else(|| err("no '://' after a scheme"))?;
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(err("invalid scheme"));
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => authority.split_at(i + 1),
        None => ("", authority),
    };
    let (host, port) = if hostport.starts_with('[') {
        let close = hostport
            .find(']')
            .ok_or_else(|| err("unclosed '[' in an IPv6 host"))?;
        hostport.split_at(close + 1)
    } else {
        match hostport.rfind(':') {
            Some(i) => hostport.split_at(i),
            None => (hostport, ""),
        }
    };
    if !port.is_empty()
        && (!port.starts_with(':') || !port[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(err("the port is not a number"));
    }
    if host.is_empty() {
        return Err(err("empty host"));
    }
    Ok(UrlParts {
        scheme,
        userinfo,
        host,
        port,
        rest,
    })
}

/// Normalises a URL: the matcher's canonical form (scheme lowercased, host as a domain
/// name or IPv6 literal, default port removed, the rest kept), checked.
pub fn url(value: &str) -> Result<String, NormalizeError> {
    let parts = split_url(value)?;
    url_host_of(&parts).map_err(|e| NormalizeError::new("url", value, e.reason))?;
    let mut out = String::with_capacity(value.len() + 1);
    matcher::normalize::url(value, &mut out);
    Ok(out)
}

/// The host of a URL, normalised (without brackets for IPv6).
pub fn url_host(value: &str) -> Result<String, NormalizeError> {
    url_host_of(&split_url(value)?)
}

fn url_host_of(parts: &UrlParts<'_>) -> Result<String, NormalizeError> {
    if parts.host.starts_with('[') {
        ipv6(parts.host)
    } else {
        domain(parts.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_0x20_randomisation_does_not_hide_a_name() {
        assert_eq!(domain("eXaMpLe.CoM.").unwrap(), "example.com");
        assert_eq!(
            domain("EXAMPLE.com").unwrap(),
            domain("example.COM").unwrap()
        );
        assert_eq!(domain("BÜCHER.example.").unwrap(), "xn--bcher-kva.example");
        assert_eq!(
            domain("XN--BCHER-KVA.example").unwrap(),
            "xn--bcher-kva.example"
        );
    }

    /// Where a value is accepted, its form is the matcher's, so an SCO, an asset and an
    /// index key of the same observable are the same text.
    #[test]
    fn accepted_values_take_the_matchers_form() {
        let m = |f: fn(&str, &mut String) -> bool, v: &str| {
            let mut out = String::new();
            f(v, &mut out);
            out
        };
        for v in [
            "Example.COM.",
            "bücher.example",
            "Ｅxample.com",
            "a.\u{212A}.example",
            "مصرف.بنك.example",
        ] {
            assert_eq!(domain(v).unwrap(), m(matcher::normalize::domain, v), "{v}");
        }
        for v in [
            "HTTP://Example.COM:80/A?B#C",
            "https://user@BÜCHER.example:8443",
            "http://[2001:DB8:0::1]:80",
            "ftp://files.example:21/x",
        ] {
            assert_eq!(url(v).unwrap(), m(matcher::normalize::url, v), "{v}");
        }
        for v in ["Alice@Example.ORG.", " <ops@BÜCHER.example> "] {
            assert_eq!(email(v).unwrap(), m(matcher::normalize::email, v), "{v}");
        }
    }

    #[test]
    fn bad_domains_are_refused_with_a_reason() {
        assert_eq!(
            domain("a..b").unwrap_err().reason,
            "empty label (two dots in a row or a leading dot)"
        );
        assert!(domain(".").is_err());
        assert!(domain(&"a".repeat(64)).is_err());
        assert!(domain("a b.com").is_err());
        assert_eq!(
            domain("a..b").unwrap_err().code(),
            "warning.normalize.invalid_value"
        );
    }

    #[test]
    fn ipv6_is_canonical_per_rfc_5952() {
        assert_eq!(
            ipv6("2001:0DB8:0000:0000:0000:0000:0000:0001").unwrap(),
            "2001:db8::1"
        );
        assert_eq!(ipv6("2001:db8:0:0:1:0:0:1").unwrap(), "2001:db8::1:0:0:1");
        assert_eq!(ipv6("2001:db8::1/128").unwrap(), "2001:db8::1");
        assert_eq!(ipv6("2001:db8::/32").unwrap(), "2001:db8::/32");
        assert!(ipv6("2001:db8::g").is_err());
        assert!(ipv6("::1/129").is_err());
    }

    #[test]
    fn ipv4_rules() {
        assert_eq!(ipv4("198.51.100.7/32").unwrap(), "198.51.100.7");
        assert_eq!(ipv4("198.51.100.0/24").unwrap(), "198.51.100.0/24");
        assert!(ipv4("198.051.100.7").is_err());
        assert!(ipv4("300.1.1.1").is_err());
        assert!(ipv4("1.2.3.4/").is_err());
    }

    #[test]
    fn url_scheme_and_host_lowercased_rest_kept() {
        assert_eq!(
            url("HTTPS://User@Login.ExampleBank.COM.:8443/Path/A?Q=X#F").unwrap(),
            "https://User@login.examplebank.com:8443/Path/A?Q=X#F"
        );
        assert_eq!(
            url("http://[2001:DB8::0001]:80/x").unwrap(),
            "http://[2001:db8::1]/x"
        );
        assert_eq!(
            url("HTTPS://BÜCHER.example:443").unwrap(),
            "https://xn--bcher-kva.example/"
        );
        assert_eq!(url_host("http://[2001:DB8::0001]/").unwrap(), "2001:db8::1");
        assert!(url("no-scheme.example").is_err());
        assert!(url("http://host:port/").is_err());
        assert!(url("http:///path").is_err());
    }

    #[test]
    fn email_and_mac() {
        assert_eq!(
            email("Alice.Ops@Mail.Example.ORG").unwrap(),
            "Alice.Ops@mail.example.org"
        );
        assert!(email("nobody").is_err());
        assert_eq!(
            email("Ops Desk <Ops@Bücher.Example>").unwrap(),
            "Ops@xn--bcher-kva.example"
        );
        assert!(email("@example.com").is_err());
        assert!(email("a@b..c").is_err());
        assert_eq!(mac("00-1A-2B-3C-4D-5E").unwrap(), "00:1a:2b:3c:4d:5e");
        assert!(mac("00:1a:2b").is_err());
        assert_eq!(observable("mutex", "AbC").unwrap(), "AbC");
    }
}
