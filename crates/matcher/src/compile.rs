//! The pattern → IOC compiler.
//!
//! A pattern is *IOC-shaped* when it is one observation `[...]`, or an `OR` of such
//! observations, without qualifiers, whose comparison expressions are `OR`s of
//! non-negated tests of these forms:
//!
//! | path | operators |
//! |---|---|
//! | `ipv4-addr:value`, `ipv6-addr:value` | `=` and `IN` with plain addresses, `ISSUBSET` with an address or CIDR |
//! | `domain-name:value` | `=`, `IN`, `LIKE`, `MATCHES` |
//! | `url:value`, `email-addr:value` | `=`, `IN`, `LIKE`, `MATCHES` |
//! | `file:hashes.<ALG>` for MD5, SHA-1, SHA-256, SHA-512, SHA3-256, SHA3-512 | `=`, `IN` |
//!
//! Such a pattern matches an event exactly when one of its tests matches one observable of
//! the event, which is what the index computes. Everything else (`AND`, `FOLLOWEDBY`,
//! qualifiers, `NOT`, `!=`, ordering operators, `EXISTS`, other paths, values the index
//! cannot normalise, regexes beyond the index's limits) becomes a [`GeneralPattern`] for
//! the evaluator, with the SCO types it names as its prefilter.

use crate::index::{GeneralPattern, Ioc, KindMask, TextKind};
use crate::normalize::{Cidr, HashAlg};
use crate::{BuildError, IndexBuilder};
use pattern::{CompOp, Comparison, ComparisonExpr, Constant, ObservationExpr, PathStep, Pattern};
use serde_json::Value;

/// What became of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    /// Compiled into this many IOCs.
    Iocs(usize),
    /// Kept for the evaluator, for this reason.
    General(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Ip,
    Domain,
    Url,
    Email,
    Hash(HashAlg),
}

enum Leaf {
    Ip(Cidr),
    Str(Target, String),
    Like(TextKind, String),
    Matches(TextKind, String),
}

fn target(c: &Comparison) -> Option<Target> {
    let p = &c.path;
    let key = |i: usize| match p.steps.get(i) {
        Some(PathStep::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    let t = match (p.object_type.as_str(), p.steps.len(), key(0)) {
        ("ipv4-addr" | "ipv6-addr", 1, Some("value")) => Target::Ip,
        ("domain-name", 1, Some("value")) => Target::Domain,
        ("url", 1, Some("value")) => Target::Url,
        ("email-addr", 1, Some("value")) => Target::Email,
        ("file", 2, Some("hashes")) => Target::Hash(HashAlg::from_name(key(1)?)?),
        _ => return None,
    };
    // Only the exact STIX spelling of a hash key selects the hash: the evaluator compares
    // dictionary keys exactly.
    if let Target::Hash(alg) = t {
        if key(1) != Some(alg.stix_name()) {
            return None;
        }
    }
    Some(t)
}

fn text_kind(t: Target) -> Option<TextKind> {
    match t {
        Target::Domain => Some(TextKind::DomainName),
        Target::Url => Some(TextKind::Url),
        Target::Email => Some(TextKind::EmailAddr),
        Target::Ip | Target::Hash(_) => None,
    }
}

fn leaf_values(c: &Comparison, out: &mut Vec<Leaf>) -> Result<(), &'static str> {
    if c.negated {
        return Err("negated comparison");
    }
    let t = target(c).ok_or("object path outside the index's kinds")?;
    let exact = |v: &Constant, out: &mut Vec<Leaf>| -> Result<(), &'static str> {
        let Constant::Str(s) = v else {
            return Err("non-string constant");
        };
        if t == Target::Ip {
            if s.contains('/') {
                // `=` compares the text: an address never equals a CIDR string.
                return Err("equality with a CIDR string");
            }
            out.push(Leaf::Ip(Cidr::parse(s).map_err(|_| "not an IP address")?));
        } else {
            out.push(Leaf::Str(t, s.clone()));
        }
        Ok(())
    };
    match (c.op, &c.value) {
        (CompOp::Eq, v) => exact(v, out),
        (CompOp::In, Constant::Set(items)) => items.iter().try_for_each(|v| exact(v, out)),
        (CompOp::Like, Constant::Str(s)) => {
            let k = text_kind(t).ok_or("LIKE on an address or hash")?;
            out.push(Leaf::Like(k, s.clone()));
            Ok(())
        }
        (CompOp::Matches, Constant::Str(s)) => {
            let k = text_kind(t).ok_or("MATCHES on an address or hash")?;
            out.push(Leaf::Matches(k, s.clone()));
            Ok(())
        }
        (CompOp::IsSubset, Constant::Str(s)) if t == Target::Ip => {
            // Like the reference matcher, the operand must be `addr/len` with len >= 1;
            // anything else is an evaluation error there, so it never matches.
            let len_ok = s
                .split_once('/')
                .and_then(|(_, l)| l.parse::<u8>().ok())
                .is_some_and(|l| l >= 1);
            if !len_ok {
                return Err("CIDR operand the evaluator rejects");
            }
            out.push(Leaf::Ip(Cidr::parse(s).map_err(|_| "not a CIDR block")?));
            Ok(())
        }
        _ => Err("operator the index does not compile"),
    }
}

fn comparison_leaves(e: &ComparisonExpr, out: &mut Vec<Leaf>) -> Result<(), &'static str> {
    match e {
        ComparisonExpr::Or(list) => list.iter().try_for_each(|x| comparison_leaves(x, out)),
        ComparisonExpr::Test(c) => leaf_values(c, out),
        ComparisonExpr::And(_) => Err("AND inside an observation"),
        ComparisonExpr::Exists(_) => Err("EXISTS"),
    }
}

fn observation_leaves(e: &ObservationExpr, out: &mut Vec<Leaf>) -> Result<(), &'static str> {
    match e {
        ObservationExpr::Comparison(c) => comparison_leaves(c, out),
        ObservationExpr::Or(list) => list.iter().try_for_each(|x| observation_leaves(x, out)),
        ObservationExpr::And(_) => Err("AND between observations"),
        ObservationExpr::FollowedBy(_) => Err("FOLLOWEDBY"),
        ObservationExpr::Qualified { .. } => Err("qualifier"),
    }
}

fn collect_kinds_cmp(e: &ComparisonExpr, mask: &mut KindMask) {
    match e {
        ComparisonExpr::Or(l) | ComparisonExpr::And(l) => {
            l.iter().for_each(|x| collect_kinds_cmp(x, mask))
        }
        ComparisonExpr::Test(c) => *mask = mask.with(KindMask::of_sco_type(&c.path.object_type)),
        ComparisonExpr::Exists(p) => *mask = mask.with(KindMask::of_sco_type(&p.object_type)),
    }
}

/// The SCO types a pattern names, as a prefilter mask.
pub fn pattern_kinds(p: &ObservationExpr) -> KindMask {
    fn walk(e: &ObservationExpr, mask: &mut KindMask) {
        match e {
            ObservationExpr::Comparison(c) => collect_kinds_cmp(c, mask),
            ObservationExpr::And(l) | ObservationExpr::Or(l) | ObservationExpr::FollowedBy(l) => {
                l.iter().for_each(|x| walk(x, mask))
            }
            ObservationExpr::Qualified { expr, .. } => walk(expr, mask),
        }
    }
    let mut m = KindMask::default();
    walk(p, &mut m);
    m
}

/// Compiles `pattern` (whose text is `source`) for indicator number `no`: IOC-shaped
/// patterns go into the index's structures, the others into its general list.
pub fn compile_pattern(
    b: &mut IndexBuilder,
    no: u32,
    source: &str,
    pattern: &Pattern,
) -> Result<Compiled, BuildError> {
    let mut leaves = Vec::new();
    let general = |b: &mut IndexBuilder, reason: &'static str| {
        b.add_general(GeneralPattern {
            indicator: no,
            pattern: source.to_owned(),
            ast: std::sync::Arc::new(pattern.clone()),
            kinds: pattern_kinds(&pattern.root),
            reason,
        })
        .map(|()| Compiled::General(reason))
    };
    if let Err(reason) = observation_leaves(&pattern.root, &mut leaves) {
        return general(b, reason);
    }
    // Check every value first so a pattern is either wholly in the index or wholly general.
    let mut probe = IndexBuilder::new();
    let pno = probe.add_indicator("probe")?;
    for leaf in &leaves {
        if let Err(e) = probe.add_ioc(pno, as_ioc(leaf)) {
            return match e {
                BuildError::BadValue { .. } => general(b, "value the index cannot normalise"),
                BuildError::Regex { .. } => general(b, "regex beyond the index's limits"),
                other => Err(other),
            };
        }
    }
    for leaf in &leaves {
        b.add_ioc(no, as_ioc(leaf))?;
    }
    Ok(Compiled::Iocs(leaves.len()))
}

fn as_ioc(leaf: &Leaf) -> Ioc<'_> {
    match leaf {
        Leaf::Ip(c) => Ioc::Ip(*c),
        Leaf::Str(Target::Domain, s) => Ioc::Domain(s),
        Leaf::Str(Target::Url, s) => Ioc::Url(s),
        Leaf::Str(Target::Email, s) => Ioc::Email(s),
        Leaf::Str(Target::Hash(alg), s) => Ioc::Hash(*alg, s),
        // `leaf_values` turns IP targets into `Leaf::Ip`.
        Leaf::Str(Target::Ip, s) => Ioc::Domain(s),
        Leaf::Like(k, s) => Ioc::Like(*k, s),
        Leaf::Matches(k, s) => Ioc::Matches(*k, s),
    }
}

/// Why an indicator object was not compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    /// The object is not an indicator.
    #[error("{pointer}: not an indicator (type {found:?})")]
    NotIndicator { pointer: String, found: String },
    /// A required property is missing or not a string.
    #[error("{pointer}: indicator {id:?} has no string property {property:?}")]
    Missing {
        pointer: String,
        id: String,
        property: &'static str,
    },
    /// The pattern language is not STIX.
    #[error(
        "{pointer}: indicator {id} has pattern_type {pattern_type:?}; only \"stix\" is compiled"
    )]
    PatternType {
        pointer: String,
        id: String,
        pattern_type: String,
    },
    /// The pattern does not parse.
    #[error("{pointer}/pattern: indicator {id}: {error}")]
    Parse {
        pointer: String,
        id: String,
        error: pattern::ParseError,
    },
    /// Building failed.
    #[error("{pointer}: indicator {id}: {error}")]
    Build {
        pointer: String,
        id: String,
        error: BuildError,
    },
}

impl IndicatorError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            IndicatorError::NotIndicator { .. } => "matcher.indicator.not_indicator",
            IndicatorError::Missing { .. } => "matcher.indicator.missing",
            IndicatorError::PatternType { .. } => "matcher.indicator.pattern_type",
            IndicatorError::Parse { .. } => "matcher.indicator.parse",
            IndicatorError::Build { .. } => "matcher.indicator.build",
        }
    }
}

/// Compiles one indicator object (a STIX 2.1 `indicator` as JSON) found at JSON pointer
/// `pointer`. Registers the indicator only when its pattern parses.
pub fn compile_indicator(
    b: &mut IndexBuilder,
    obj: &Value,
    pointer: &str,
) -> Result<Compiled, IndicatorError> {
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    if ty != "indicator" {
        return Err(IndicatorError::NotIndicator {
            pointer: pointer.to_owned(),
            found: ty.to_owned(),
        });
    }
    let get = |property: &'static str, id: &str| {
        obj.get(property)
            .and_then(Value::as_str)
            .ok_or_else(|| IndicatorError::Missing {
                pointer: pointer.to_owned(),
                id: id.to_owned(),
                property,
            })
    };
    let id = get("id", "")?;
    let pattern_type = get("pattern_type", id)?;
    if pattern_type != "stix" {
        return Err(IndicatorError::PatternType {
            pointer: pointer.to_owned(),
            id: id.to_owned(),
            pattern_type: pattern_type.to_owned(),
        });
    }
    let source = get("pattern", id)?;
    let parsed = pattern::parse(source).map_err(|error| IndicatorError::Parse {
        pointer: pointer.to_owned(),
        id: id.to_owned(),
        error,
    })?;
    let build = |error| IndicatorError::Build {
        pointer: pointer.to_owned(),
        id: id.to_owned(),
        error,
    };
    let no = b.add_indicator(id).map_err(build)?;
    compile_pattern(b, no, source, &parsed).map_err(build)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Index, LookupScratch, ValueKind};

    fn compile(p: &str) -> (Compiled, Index) {
        let mut b = IndexBuilder::new();
        let no = b.add_indicator("indicator--t").unwrap();
        let parsed = pattern::parse(p).unwrap();
        let c = compile_pattern(&mut b, no, p, &parsed).unwrap();
        (c, b.build().unwrap())
    }

    fn hit(ix: &Index, vk: ValueKind, v: &str) -> bool {
        let mut s = LookupScratch::default();
        let mut hit = false;
        ix.lookup(vk, v, &mut s, |_| hit = true);
        hit
    }

    #[test]
    fn ioc_shapes() {
        let (c, ix) = compile(
            "[ipv4-addr:value = '198.51.100.1'] OR [ipv4-addr:value ISSUBSET '10.0.0.0/8']",
        );
        assert_eq!(c, Compiled::Iocs(2));
        assert!(hit(&ix, ValueKind::Ip, "10.9.9.9"));
        assert!(hit(&ix, ValueKind::Ip, "198.51.100.1"));
        let (c, ix) = compile(
            "[domain-name:value = 'example.com' OR domain-name:value LIKE '%.example.com']",
        );
        assert_eq!(c, Compiled::Iocs(2));
        assert!(hit(&ix, ValueKind::Domain, "a.EXAMPLE.com"));
        assert!(!hit(&ix, ValueKind::Domain, "evilexample.com"));
        let (c, ix) = compile("[file:hashes.'SHA-256' = 'AA00000000000000000000000000000000000000000000000000000000000000' OR file:hashes.'SHA-256' = 'bb00000000000000000000000000000000000000000000000000000000000000']");
        assert_eq!(c, Compiled::Iocs(2));
        assert!(hit(
            &ix,
            ValueKind::Hash(HashAlg::Sha256),
            "aa00000000000000000000000000000000000000000000000000000000000000"
        ));
        let (c, _) = compile("[url:value MATCHES '^https?://[^/]+/wp-admin/']");
        assert_eq!(c, Compiled::Iocs(1));
    }

    #[test]
    fn general_shapes() {
        for (p, reason) in [
            ("[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '1.2.3.5']", "AND inside an observation"),
            ("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']", "AND between observations"),
            ("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a.example']", "FOLLOWEDBY"),
            ("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "qualifier"),
            ("[ipv4-addr:value NOT = '1.2.3.4']", "negated comparison"),
            ("[ipv4-addr:value != '1.2.3.4']", "operator the index does not compile"),
            ("[ipv4-addr:value = '1.2.3.0/24']", "equality with a CIDR string"),
            ("[network-traffic:dst_port = 443]", "object path outside the index's kinds"),
            (
                "[file:hashes.'sha-256' = 'aa00000000000000000000000000000000000000000000000000000000000000']",
                "object path outside the index's kinds",
            ),
            ("[email-addr:value = 'no-at-sign']", "value the index cannot normalise"),
            ("[ipv4-addr:value = 'not-an-ip']", "not an IP address"),
            ("[url:value MATCHES '(a)\\\\1']", "regex beyond the index's limits"),
            ("[ipv4-addr:value LIKE '10.%']", "LIKE on an address or hash"),
            ("[ipv4-addr:value ISSUBSET '10.0.0.1']", "CIDR operand the evaluator rejects"),
            ("[ipv4-addr:value ISSUBSET '0.0.0.0/0']", "CIDR operand the evaluator rejects"),
        ] {
            let (c, ix) = compile(p);
            assert_eq!(c, Compiled::General(reason), "{p}");
            assert_eq!(ix.general().len(), 1);
            assert_eq!(ix.stats().ipv4_blocks + ix.stats().domains, 0, "{p}: nothing half-compiled");
        }
        let (_, ix) =
            compile("[network-traffic:dst_port = 22] FOLLOWEDBY [ipv4-addr:value = '1.2.3.4']");
        let g = &ix.general()[0];
        assert!(g.kinds.intersects(KindMask::OTHER));
        assert!(g.kinds.intersects(crate::ObservableKind::Ipv4Addr.bit()));
        assert!(pattern::CompiledPattern::new(&g.ast, Default::default()).is_ok());
    }

    #[test]
    fn indicator_objects() {
        let mut b = IndexBuilder::new();
        let ok = serde_json::json!({"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": "[domain-name:value = 'x.example']"});
        assert_eq!(
            compile_indicator(&mut b, &ok, "/objects/0"),
            Ok(Compiled::Iocs(1))
        );
        let sigma = serde_json::json!({"type": "indicator", "id": "indicator--2", "pattern_type": "sigma", "pattern": "x"});
        let e = compile_indicator(&mut b, &sigma, "/objects/1").unwrap_err();
        assert_eq!(e.code(), "matcher.indicator.pattern_type");
        let bad = serde_json::json!({"type": "indicator", "id": "indicator--3", "pattern_type": "stix", "pattern": "[x:y = ]"});
        let e = compile_indicator(&mut b, &bad, "/objects/2").unwrap_err();
        assert_eq!(e.code(), "matcher.indicator.parse");
        assert!(
            e.to_string()
                .starts_with("/objects/2/pattern: indicator indicator--3"),
            "{e}"
        );
        let e = compile_indicator(
            &mut b,
            &serde_json::json!({"type": "malware"}),
            "/objects/3",
        )
        .unwrap_err();
        assert_eq!(e.code(), "matcher.indicator.not_indicator");
        let e = compile_indicator(
            &mut b,
            &serde_json::json!({"type": "indicator", "id": "indicator--4"}),
            "/objects/4",
        )
        .unwrap_err();
        assert_eq!(e.code(), "matcher.indicator.missing");
        let ix = b.build().unwrap();
        assert_eq!(ix.indicator_count(), 1);
    }
}
