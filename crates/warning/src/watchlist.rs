//! Asset watchlists: constituents register what they own (IP ranges, domains, AS
//! numbers); [`Watchlist::check`] reports when incoming intelligence names one.
//!
//! What is inspected in an object:
//!
//! - `indicator` with `pattern_type: stix`: the comparisons of its pattern, read by a
//!   tiny extractor ([`extract_pattern_values`]): `=` and `ISSUBSET` with a literal and
//!   `IN (…)` lists, on `ipv4-addr:value`, `ipv6-addr:value`, `domain-name:value`,
//!   `url:value`, `email-addr:value`, `autonomous-system:number` and any `…_ref.value`
//!   / `…_refs[*].value` path. Negated comparisons (`NOT`, `!=`) and `LIKE`/`MATCHES`
//!   never count as naming an asset;
//! - SCOs (`ipv4-addr`, `ipv6-addr`, `domain-name`, `url`, `email-addr`,
//!   `autonomous-system`) and the SCOs embedded in `observed-data` `objects`;
//! - the `name`, `description` (and a `note`'s `abstract` / `content`) of every other
//!   object — infrastructure, reports, malware, notes, … — and `url`s in
//!   `external_references`: IPs, CIDRs and domain names in free text are found,
//!   including defanged ones (`evil[.]example`, `hxxp://`).
//!
//! What is reported: an IP inside an owned range, a range overlapping an owned range,
//! a domain equal to or under an owned domain, an equal AS number, and lookalike domains
//! (see [`crate::lookalike`] for the methods). Each match names the asset, its owner and
//! criticality, the object, a JSON pointer and the reason. Lookups are linear in the
//! number of registered ranges and domains: watchlists hold hundreds of assets, not
//! millions.

use crate::hit::Criticality;
use crate::lookalike::{self, Lookalike, PreparedDomain};
use crate::normalize;
use serde_json::Value;
use std::net::IpAddr;
use stix::Object;

/// An IP network (v4 or v6), host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// Address as a 128-bit number (IPv4 in the low 32 bits).
    addr: u128,
    prefix: u8,
    v6: bool,
}

impl IpNet {
    /// Parses `a.b.c.d/n`, `x::y/n` or a single address (host route).
    pub fn parse(text: &str) -> Result<IpNet, &'static str> {
        let (a, p) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = a.parse().map_err(|_| "not an IP address")?;
        let (addr, v6, max) = match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), false, 32u8),
            IpAddr::V6(v6) => (u128::from(v6), true, 128u8),
        };
        let prefix = match p {
            None => max,
            Some(p) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
                    return Err("prefix length is not a number");
                }
                let n: u8 = p.parse().map_err(|_| "prefix length is not a number")?;
                if n > max {
                    return Err("prefix length too large");
                }
                n
            }
        };
        let net = IpNet { addr, prefix, v6 };
        if net.addr & !net.mask() != 0 {
            return Err("host bits are set after the prefix");
        }
        Ok(net)
    }

    fn bits(&self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    fn mask(&self) -> u128 {
        let host = u32::from(self.bits() - self.prefix);
        let all: u128 = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        if host >= 128 {
            0
        } else {
            (all >> host) << host
        }
    }

    /// Does this network contain `other` entirely?
    pub fn contains(&self, other: &IpNet) -> bool {
        self.v6 == other.v6 && self.prefix <= other.prefix && other.addr & self.mask() == self.addr
    }

    /// Do the two networks share an address?
    pub fn overlaps(&self, other: &IpNet) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// Is this a single address?
    pub fn is_host(&self) -> bool {
        self.prefix == self.bits()
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.v6 {
            write!(f, "{}/{}", std::net::Ipv6Addr::from(self.addr), self.prefix)
        } else {
            write!(
                f,
                "{}/{}",
                std::net::Ipv4Addr::from(self.addr as u32),
                self.prefix
            )
        }
    }
}

/// What an asset is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetTarget {
    Range(IpNet),
    Domain(PreparedDomain),
    Asn(u32),
}

/// A registered asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: String,
    /// The constituent that owns it (e.g. its identity id).
    pub owner: String,
    pub criticality: Criticality,
    pub target: AssetTarget,
    /// The target as registered.
    pub text: String,
}

/// Why an asset cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("asset {id:?}: {text:?} is not a CIDR, an IP address, an AS number (AS64500) or a domain name: {reason}")]
pub struct AssetError {
    pub id: String,
    pub text: String,
    pub reason: &'static str,
}

impl AssetError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "warning.watchlist.bad_asset"
    }
}

/// Why an observable names an asset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MatchReason {
    /// An address inside an owned range.
    InRange,
    /// A range overlapping an owned range.
    RangeOverlap,
    /// The owned domain itself.
    DomainEqual,
    /// A subdomain of the owned domain.
    Subdomain,
    /// The owned AS number.
    Asn,
    /// A domain imitating the owned one.
    Lookalike(Lookalike),
}

/// One finding: `object_id` names asset `asset_id` at `pointer`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatchMatch {
    pub asset_id: String,
    pub owner: String,
    pub criticality: Criticality,
    pub asset: String,
    pub object_id: String,
    /// JSON pointer of the property in the object.
    pub pointer: String,
    /// The value found (for patterns: the literal, with its column in the pattern).
    pub observed: String,
    pub reason: MatchReason,
}

/// Something in the object that looked like an observable but could not be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckProblem {
    pub object_id: String,
    pub pointer: String,
    pub reason: String,
}

/// The result of checking one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    pub matches: Vec<WatchMatch>,
    pub problems: Vec<CheckProblem>,
}

/// An observable found in intelligence.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Net(IpNet),
    Domain(String),
    Asn(u32),
}

/// A registry of assets.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    assets: Vec<Asset>,
}

impl Watchlist {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// Registers an asset. `target` is a CIDR (`198.51.100.0/24`, `2001:db8::/32`), a
    /// single address, an AS number (`AS64500`) or a domain name (everything under it
    /// is owned too).
    pub fn add(
        &mut self,
        id: &str,
        owner: &str,
        criticality: Criticality,
        target: &str,
    ) -> Result<(), AssetError> {
        let err = |reason| AssetError {
            id: id.to_owned(),
            text: target.to_owned(),
            reason,
        };
        let t = target.trim();
        let parsed = if let Some(n) = t.strip_prefix("AS").or_else(|| t.strip_prefix("as")) {
            AssetTarget::Asn(
                n.parse()
                    .map_err(|_| err("AS number out of range or not a number"))?,
            )
        } else if t.contains(':') || t.contains('/') || t.parse::<IpAddr>().is_ok() {
            AssetTarget::Range(IpNet::parse(t).map_err(err)?)
        } else {
            let d = PreparedDomain::new(t).ok_or_else(|| err("invalid domain name"))?;
            if !d.normalized.contains('.') {
                return Err(err("a single-label name is not a registrable domain"));
            }
            AssetTarget::Domain(d)
        };
        self.assets.push(Asset {
            id: id.to_owned(),
            owner: owner.to_owned(),
            criticality,
            target: parsed,
            text: t.to_owned(),
        });
        Ok(())
    }

    /// Checks one STIX object (see the module docs).
    pub fn check(&self, object: &Object) -> CheckReport {
        let mut found: Vec<(String, String, Found)> = Vec::new();
        let mut report = CheckReport::default();
        let problem = |report: &mut CheckReport, pointer: String, reason: String| {
            report.problems.push(CheckProblem {
                object_id: object.id().to_owned(),
                pointer,
                reason,
            })
        };
        match object.type_name() {
            "indicator" => {
                let is_stix = object.get("pattern_type").and_then(Value::as_str) == Some("stix");
                match object.get("pattern").and_then(Value::as_str) {
                    Some(p) if is_stix => {
                        for pv in extract_pattern_values(p) {
                            let observed = format!("{} (column {})", pv.value, pv.column);
                            match found_from_path(&pv.object_type, &pv.path, &pv.value) {
                                Ok(Some(f)) => found.push(("/pattern".into(), observed, f)),
                                Ok(None) => {}
                                Err(reason) => problem(
                                    &mut report,
                                    "/pattern".into(),
                                    format!("column {}: {}: {reason}", pv.column, pv.value),
                                ),
                            }
                        }
                    }
                    _ => {}
                }
                text_fields(object, &mut found);
            }
            "observed-data" => {
                if let Some(Value::Object(objs)) = object.get("objects") {
                    for (k, sco) in objs {
                        let base = format!("/objects/{}", escape_pointer(k));
                        sco_values(sco, &base, &mut found, &mut |p, r| {
                            problem(&mut report, p, r)
                        });
                    }
                }
            }
            t if is_sco_type(t) => {
                sco_values(&object.to_value(), "", &mut found, &mut |p, r| {
                    problem(&mut report, p, r)
                });
            }
            _ => text_fields(object, &mut found),
        }
        for (pointer, observed, f) in found {
            let prepared = match &f {
                Found::Domain(d) => PreparedDomain::new(d),
                _ => None,
            };
            for asset in &self.assets {
                if let Some(reason) = compare(&f, prepared.as_ref(), &asset.target) {
                    report.matches.push(WatchMatch {
                        asset_id: asset.id.clone(),
                        owner: asset.owner.clone(),
                        criticality: asset.criticality,
                        asset: asset.text.clone(),
                        object_id: object.id().to_owned(),
                        pointer: pointer.clone(),
                        observed: observed.clone(),
                        reason,
                    });
                }
            }
        }
        report.matches.dedup();
        report
    }
}

fn compare(
    found: &Found,
    prepared: Option<&PreparedDomain>,
    target: &AssetTarget,
) -> Option<MatchReason> {
    match (found, target) {
        (Found::Net(n), AssetTarget::Range(owned)) => {
            if owned.contains(n) {
                Some(if n.is_host() {
                    MatchReason::InRange
                } else {
                    MatchReason::RangeOverlap
                })
            } else if n.contains(owned) {
                Some(MatchReason::RangeOverlap)
            } else {
                None
            }
        }
        (Found::Domain(_), AssetTarget::Domain(owned)) => {
            let c = prepared?;
            if c.displayed == owned.displayed {
                Some(MatchReason::DomainEqual)
            } else if c.is_within(owned) {
                Some(MatchReason::Subdomain)
            } else {
                lookalike::check(c, owned).map(MatchReason::Lookalike)
            }
        }
        (Found::Asn(a), AssetTarget::Asn(b)) if a == b => Some(MatchReason::Asn),
        _ => None,
    }
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn is_sco_type(t: &str) -> bool {
    matches!(
        t,
        "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "email-addr" | "autonomous-system"
    )
}

/// Reads an IP/CIDR, domain, URL host or e-mail domain from a value.
fn found_from_value(kind: &str, value: &str) -> Result<Found, String> {
    match kind {
        "ipv4-addr" | "ipv6-addr" => IpNet::parse(value).map(Found::Net).map_err(str::to_owned),
        "domain-name" => normalize::domain(value)
            .map(Found::Domain)
            .map_err(|e| e.reason.into()),
        "url" => {
            let host = normalize::url_host(value).map_err(|e| e.reason.to_owned())?;
            Ok(match IpNet::parse(&host) {
                Ok(n) => Found::Net(n),
                Err(_) => Found::Domain(host),
            })
        }
        "email-addr" => {
            let e = normalize::email(value).map_err(|e| e.reason.to_owned())?;
            let dom = e
                .rsplit_once('@')
                .map(|(_, d)| d.to_owned())
                .unwrap_or_default();
            Ok(Found::Domain(dom))
        }
        "autonomous-system" => value
            .trim_start_matches("AS")
            .parse()
            .map(Found::Asn)
            .map_err(|_| "not an AS number".to_owned()),
        _ => Err(format!(
            "{kind} is not an observable type the watchlist reads"
        )),
    }
}

/// Maps a pattern comparison to an observable (`Ok(None)` for paths that name none).
fn found_from_path(object_type: &str, path: &str, value: &str) -> Result<Option<Found>, String> {
    match (object_type, path) {
        ("ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "email-addr", "value")
        | ("autonomous-system", "number") => found_from_value(object_type, value).map(Some),
        (_, p) if p.ends_with("_ref.value") || p.ends_with("_refs[*].value") => {
            if let Ok(n) = IpNet::parse(value) {
                Ok(Some(Found::Net(n)))
            } else if value.contains('@') {
                found_from_value("email-addr", value).map(Some)
            } else {
                found_from_value("domain-name", value).map(Some)
            }
        }
        _ => Ok(None),
    }
}

fn sco_values(
    sco: &Value,
    base: &str,
    found: &mut Vec<(String, String, Found)>,
    problem: &mut dyn FnMut(String, String),
) {
    let Some(t) = sco.get("type").and_then(Value::as_str) else {
        return;
    };
    let (prop, v) = if t == "autonomous-system" {
        match sco.get("number").and_then(Value::as_u64) {
            Some(n) => ("number", n.to_string()),
            None => return problem(format!("{base}/number"), "missing or not an integer".into()),
        }
    } else if is_sco_type(t) {
        match sco.get("value").and_then(Value::as_str) {
            Some(s) => ("value", s.to_owned()),
            None => return problem(format!("{base}/value"), "missing or not a string".into()),
        }
    } else {
        return;
    };
    let pointer = format!("{base}/{prop}");
    match found_from_value(t, &v) {
        Ok(f) => found.push((pointer, v, f)),
        Err(reason) => problem(pointer, reason),
    }
}

/// Free-text fields and external reference URLs of any object.
fn text_fields(object: &Object, found: &mut Vec<(String, String, Found)>) {
    for prop in ["name", "description", "abstract", "content"] {
        if let Some(Value::String(text)) = object.get(prop) {
            for token in text_tokens(text) {
                if let Some(f) = token_observable(&token) {
                    found.push((format!("/{prop}"), token, f));
                }
            }
        }
    }
    if let Some(Value::Array(refs)) = object.get("external_references") {
        for (i, r) in refs.iter().enumerate() {
            if let Some(u) = r.get("url").and_then(Value::as_str) {
                if let Ok(f) = found_from_value("url", u) {
                    found.push((format!("/external_references/{i}/url"), u.to_owned(), f));
                }
            }
        }
    }
}

/// Splits free text into candidate tokens, refanging `[.]`, `(.)`, `[dot]` and `hxxp`.
fn text_tokens(text: &str) -> Vec<String> {
    let refanged = text
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[dot]", ".")
        .replace("hxxp", "http")
        .replace("[:]", ":");
    refanged
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '"' | '(' | ')' | '<' | '>' | '\'' | '`')
        })
        .map(|t| {
            t.trim_matches(|c: char| matches!(c, '.' | ':' | '!' | '?' | '[' | ']'))
                .to_owned()
        })
        .filter(|t| !t.is_empty() && t.len() <= 2048)
        .collect()
}

fn token_observable(token: &str) -> Option<Found> {
    if token.contains("://") {
        return found_from_value("url", token).ok();
    }
    if let Ok(n) = IpNet::parse(token) {
        return Some(Found::Net(n));
    }
    if token.contains('@') {
        return found_from_value("email-addr", token).ok();
    }
    // A hostname: at least two labels of letters, digits and hyphens (or non-ASCII
    // letters), the last alphabetic and at least two characters long.
    let labels: Vec<&str> = token.split('.').collect();
    let tld = labels.last()?;
    let plausible = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && tld.chars().count() >= 2
        && (tld.chars().all(char::is_alphabetic) || tld.starts_with("xn--"));
    if plausible {
        normalize::domain(token).ok().map(Found::Domain)
    } else {
        None
    }
}

/// A literal compared with an object path in a STIX pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternValue {
    pub object_type: String,
    pub path: String,
    pub value: String,
    /// 1-based column (in characters) where the literal starts in the pattern.
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Path(String),
    Word(String),
    Str(String, usize),
    Num(String, usize),
    Op(String),
    Punct(char),
}

fn lex(pattern: &str) -> Vec<Tok> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let col = i + 1;
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s, col));
        } else if c.is_ascii_alphabetic() || c == '_' {
            // typed literals b'..', h'..', t'..' are single tokens we skip
            if matches!(c, 'b' | 'h' | 't') && chars.get(i + 1) == Some(&'\'') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push(Tok::Word("<typed-literal>".into()));
                continue;
            }
            let start = i;
            while i < chars.len() {
                let ch = chars[i];
                if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | ':' | '.' | '*') {
                    i += 1;
                } else if ch == '[' && chars[start..i].contains(&':') {
                    // list index inside a path: [0] or [*]
                    let close = chars[i..].iter().position(|&x| x == ']').map(|p| i + p);
                    match close {
                        Some(j)
                            if chars[i + 1..j]
                                .iter()
                                .all(|x| x.is_ascii_digit() || *x == '*') =>
                        {
                            i = j + 1
                        }
                        _ => break,
                    }
                } else if ch == '\'' && i > start && chars[i - 1] == '.' {
                    // quoted path segment: hashes.'SHA-256'
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    break;
                }
            }
            let word: String = chars[start..i.min(chars.len())].iter().collect();
            if word.contains(':') {
                out.push(Tok::Path(word));
            } else {
                out.push(Tok::Word(word.to_ascii_uppercase()));
            }
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect(), start + 1));
        } else if matches!(c, '=' | '!' | '<' | '>') {
            let two = chars.get(i + 1) == Some(&'=');
            let op: String = if two {
                [c, '='].iter().collect()
            } else {
                c.to_string()
            };
            i += if two { 2 } else { 1 };
            out.push(Tok::Op(op));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// Extracts `path = literal`, `path ISSUBSET literal` and `path IN (literals)`
/// comparisons from a STIX pattern, skipping negated ones. A tiny extractor, not a
/// parser: it never fails, and what it cannot read it skips.
pub fn extract_pattern_values(pattern: &str) -> Vec<PatternValue> {
    let toks = lex(pattern);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let Tok::Path(p) = &toks[i] else {
            i += 1;
            continue;
        };
        let Some((object_type, path)) = p.split_once(':') else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        let negated = toks.get(j) == Some(&Tok::Word("NOT".into()));
        if negated {
            j += 1;
        }
        let mut push = |t: Option<&Tok>| match t {
            Some(Tok::Str(v, col)) | Some(Tok::Num(v, col)) => out.push(PatternValue {
                object_type: object_type.to_owned(),
                path: path.to_owned(),
                value: v.clone(),
                column: *col,
            }),
            _ => {}
        };
        match toks.get(j) {
            Some(Tok::Op(op)) if op == "=" && !negated => push(toks.get(j + 1)),
            Some(Tok::Word(w)) if w == "ISSUBSET" && !negated => push(toks.get(j + 1)),
            Some(Tok::Word(w))
                if w == "IN" && !negated && toks.get(j + 1) == Some(&Tok::Punct('(')) =>
            {
                let mut k = j + 2;
                while let Some(t) = toks.get(k) {
                    match t {
                        Tok::Punct(')') => break,
                        Tok::Str(..) | Tok::Num(..) => push(Some(t)),
                        _ => {}
                    }
                    k += 1;
                }
            }
            _ => {}
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bank() -> Watchlist {
        let mut w = Watchlist::new();
        let owner = "identity--7d5a9c1e-8c1b-4f57-9c6a-0e2f6a1b3c44";
        w.add("range-v4", owner, Criticality::Critical, "198.51.100.0/24")
            .unwrap();
        w.add("range-v6", owner, Criticality::High, "2001:db8:bank::/48")
            .unwrap_err();
        w.add("range-v6", owner, Criticality::High, "2001:db8:ba00::/40")
            .unwrap();
        w.add("web", owner, Criticality::High, "examplebank.com")
            .unwrap();
        w.add("asn", owner, Criticality::Medium, "AS64500").unwrap();
        w
    }

    fn obj(v: serde_json::Value) -> Object {
        Object::from_value(v).unwrap()
    }

    fn reasons(r: &CheckReport) -> Vec<(String, String)> {
        r.matches
            .iter()
            .map(|m| {
                let k = match &m.reason {
                    MatchReason::Lookalike(l) => format!("lookalike:{}", l.method.as_str()),
                    other => serde_json::to_value(other).unwrap()["kind"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                };
                (m.asset_id.clone(), k)
            })
            .collect()
    }

    #[test]
    fn cidr_arithmetic() {
        let n = IpNet::parse("198.51.100.0/24").unwrap();
        assert!(n.contains(&IpNet::parse("198.51.100.77").unwrap()));
        assert!(!n.contains(&IpNet::parse("198.51.101.1").unwrap()));
        assert!(n.overlaps(&IpNet::parse("198.51.0.0/16").unwrap()));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(&n));
        assert_eq!(
            IpNet::parse("198.51.100.1/24").unwrap_err(),
            "host bits are set after the prefix"
        );
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(&IpNet::parse("2001:db8:ffff::1").unwrap()));
        assert!(!v6.contains(&n));
        assert_eq!(v6.to_string(), "2001:db8::/32");
    }

    #[test]
    fn pattern_extractor() {
        let p = "[ipv4-addr:value = '198.51.100.7' OR domain-name:value IN ('a.example', 'b.example')] \
                 AND [network-traffic:dst_ref.value ISSUBSET '198.51.100.0/28'] \
                 AND [ipv4-addr:value != '198.51.100.9'] AND [domain-name:value NOT = 'x.example'] \
                 AND [file:hashes.'SHA-256' = 'aa'] AND [autonomous-system:number = 64500] \
                 AND [url:value LIKE '%examplebank%'] WITHIN 300 SECONDS";
        let v: Vec<(String, String)> = extract_pattern_values(p)
            .into_iter()
            .map(|v| (format!("{}:{}", v.object_type, v.path), v.value))
            .collect();
        assert_eq!(
            v,
            vec![
                ("ipv4-addr:value".into(), "198.51.100.7".into()),
                ("domain-name:value".into(), "a.example".into()),
                ("domain-name:value".into(), "b.example".into()),
                (
                    "network-traffic:dst_ref.value".into(),
                    "198.51.100.0/28".into()
                ),
                ("file:hashes.'SHA-256'".into(), "aa".into()),
                ("autonomous-system:number".into(), "64500".into()),
            ]
        );
        assert_eq!(
            extract_pattern_values("[ipv4-addr:value = '1.2.3.4']")[0].column,
            20
        );
        assert_eq!(
            extract_pattern_values("[email-message:to_refs[*].value = 'a\\'b@x.example']")[0].value,
            "a'b@x.example"
        );
        assert!(extract_pattern_values("[[[ '''").is_empty());
    }

    #[test]
    fn partner_reports_a_compromised_host_in_the_banks_range() {
        let w = bank();
        let i = obj(json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "name": "Compromised host beaconing to C2",
            "pattern": "[ipv4-addr:value = '198.51.100.23'] OR [ipv4-addr:value = '203.0.113.5']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
        }));
        let r = w.check(&i);
        assert_eq!(reasons(&r), vec![("range-v4".into(), "in-range".into())]);
        assert_eq!(r.matches[0].pointer, "/pattern");
        assert_eq!(r.matches[0].observed, "198.51.100.23 (column 20)");
        assert_eq!(r.matches[0].criticality, Criticality::Critical);
    }

    #[test]
    fn scos_observed_data_and_text() {
        let w = bank();
        let r = w.check(&obj(json!({"type": "ipv6-addr", "spec_version": "2.1", "id": "ipv6-addr--1f3b4e2c-5e7d-5a0b-9e8f-0c1d2e3f4a5b", "value": "2001:db8:ba12::7"})));
        assert_eq!(reasons(&r), vec![("range-v6".into(), "in-range".into())]);
        let r = w.check(&obj(json!({"type": "autonomous-system", "spec_version": "2.1", "id": "autonomous-system--1f3b4e2c-5e7d-5a0b-9e8f-0c1d2e3f4a5b", "number": 64500})));
        assert_eq!(reasons(&r), vec![("asn".into(), "asn".into())]);
        let od = obj(json!({
            "type": "observed-data", "spec_version": "2.1", "id": "observed-data--1f3b4e2c-5e7d-4a0b-9e8f-0c1d2e3f4a5b",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "first_observed": "2026-01-01T00:00:00Z", "last_observed": "2026-01-01T00:00:00Z", "number_observed": 1,
            "objects": {"0": {"type": "domain-name", "value": "vpn.ExampleBank.com."}, "1": {"type": "ipv4-addr", "value": "nope"}}
        }));
        let r = w.check(&od);
        assert_eq!(reasons(&r), vec![("web".into(), "subdomain".into())]);
        assert_eq!(r.matches[0].pointer, "/objects/0/value");
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].pointer, "/objects/1/value");
        let infra = obj(json!({
            "type": "infrastructure", "spec_version": "2.1", "id": "infrastructure--1f3b4e2c-5e7d-4a0b-9e8f-0c1d2e3f4a5b",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "name": "Phishing kit hosting",
            "description": "Credential phishing at hxxps://examplebank-login[.]com/auth and secure.exarnplebank[.]net, also 203.0.113.0/24."
        }));
        let r = w.check(&infra);
        assert_eq!(
            reasons(&r),
            vec![
                ("web".into(), "lookalike:combosquatting".into()),
                ("web".into(), "lookalike:digit-substitution".into())
            ]
        );
        assert_eq!(r.matches[0].pointer, "/description");
    }

    #[test]
    fn phishing_domain_indicators_and_near_misses() {
        let w = bank();
        let ind = |pattern: &str| {
            obj(json!({
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            }))
        };
        let r = w.check(&ind("[domain-name:value = 'xn--exmplebank-0qi.com']"));
        assert_eq!(
            reasons(&r),
            vec![("web".into(), "lookalike:homoglyph".into())]
        );
        let r = w.check(&ind(
            "[url:value = 'https://examplebank.com.account-verify.net/login']",
        ));
        assert_eq!(
            reasons(&r),
            vec![("web".into(), "lookalike:subdomain-embedding".into())]
        );
        let r = w.check(&ind("[email-addr:value = 'alerts@examplebank.co']"));
        assert_eq!(
            reasons(&r),
            vec![("web".into(), "lookalike:tld-swap".into())]
        );
        for innocent in [
            "[domain-name:value = 'example.com']",
            "[domain-name:value = 'exampleshop.net']",
            "[domain-name:value != 'examp1ebank.com']",
            "[domain-name:value NOT = 'examplebank-login.com']",
            "[ipv4-addr:value = '198.51.101.1']",
            "[autonomous-system:number = 64501]",
            "[url:value = 'https://news.example.org/examplebank']",
        ] {
            let r = w.check(&ind(innocent));
            assert!(r.matches.is_empty(), "{innocent}: {:?}", r.matches);
        }
        // pattern_type other than stix is not read
        let mut o = ind("[domain-name:value = 'examp1ebank.com']");
        o.as_map_mut().insert("pattern_type".into(), json!("snort"));
        assert!(w.check(&o).matches.is_empty());
    }

    #[test]
    fn bad_assets_are_refused() {
        let mut w = Watchlist::new();
        let e = w
            .add("a", "o", Criticality::Low, "198.51.100.0/33")
            .unwrap_err();
        assert_eq!(e.code(), "warning.watchlist.bad_asset");
        assert!(w.add("a", "o", Criticality::Low, "ASx").is_err());
        assert!(w.add("a", "o", Criticality::Low, "localhost").is_err());
        assert!(w.add("a", "o", Criticality::Low, "bad..domain").is_err());
        assert!(w.assets().is_empty());
    }

    proptest::proptest! {
        /// Hostile or garbled text never panics the extractor or the check.
        #[test]
        fn never_panics_on_arbitrary_patterns_and_text(p in "\\PC{0,80}", q in "[\\[\\]'a-z:=.\\\\ ()*0-9-]{0,60}") {
            let _ = extract_pattern_values(&p);
            let _ = extract_pattern_values(&q);
            let w = bank();
            for text in [&p, &q] {
                let o = obj(json!({
                    "type": "indicator", "spec_version": "2.1",
                    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                    "pattern": text, "pattern_type": "stix", "description": text
                }));
                let _ = w.check(&o);
            }
        }
    }
}
