//! The compiled index and its builder.

use crate::iptable::IpTable;
use crate::normalize::{self, Cidr, HashAlg};
use crate::strset::{hash_key, Hasher, StrSet};
use crate::textset::{TextMatch, TextScratch, TextSet, TextSetBuilder};
use crate::BuildError;
use std::net::IpAddr;
use unicode_normalization::UnicodeNormalization;

/// The observable an index entry (and a hit) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObservableKind {
    Ipv4Addr,
    Ipv6Addr,
    DomainName,
    Url,
    EmailAddr,
    FileHash(HashAlg),
}

impl ObservableKind {
    /// The STIX name: the SCO type, or for hashes the object path
    /// (`file:hashes.'SHA-256'`).
    pub fn name(self) -> &'static str {
        match self {
            ObservableKind::Ipv4Addr => "ipv4-addr",
            ObservableKind::Ipv6Addr => "ipv6-addr",
            ObservableKind::DomainName => "domain-name",
            ObservableKind::Url => "url",
            ObservableKind::EmailAddr => "email-addr",
            ObservableKind::FileHash(HashAlg::Md5) => "file:hashes.MD5",
            ObservableKind::FileHash(HashAlg::Sha1) => "file:hashes.'SHA-1'",
            ObservableKind::FileHash(HashAlg::Sha256) => "file:hashes.'SHA-256'",
            ObservableKind::FileHash(HashAlg::Sha512) => "file:hashes.'SHA-512'",
            ObservableKind::FileHash(HashAlg::Sha3_256) => "file:hashes.'SHA3-256'",
            ObservableKind::FileHash(HashAlg::Sha3_512) => "file:hashes.'SHA3-512'",
        }
    }

    /// The SCO type (`file` for hashes).
    pub fn sco_type(self) -> &'static str {
        match self {
            ObservableKind::FileHash(_) => "file",
            other => other.name(),
        }
    }

    /// This kind's bit in a [`KindMask`].
    pub fn bit(self) -> KindMask {
        KindMask(match self {
            ObservableKind::Ipv4Addr => 1,
            ObservableKind::Ipv6Addr => 2,
            ObservableKind::DomainName => 4,
            ObservableKind::Url => 8,
            ObservableKind::EmailAddr => 16,
            ObservableKind::FileHash(_) => 32,
        })
    }
}

/// A set of observable kinds (SCO types), for the general-pattern prefilter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindMask(pub u32);

impl KindMask {
    /// Bit for SCO types that event extraction never produces.
    pub const OTHER: KindMask = KindMask(1 << 31);

    /// The bit of a STIX SCO type name.
    pub fn of_sco_type(t: &str) -> KindMask {
        match t {
            "ipv4-addr" => ObservableKind::Ipv4Addr.bit(),
            "ipv6-addr" => ObservableKind::Ipv6Addr.bit(),
            "domain-name" => ObservableKind::DomainName.bit(),
            "url" => ObservableKind::Url.bit(),
            "email-addr" => ObservableKind::EmailAddr.bit(),
            "file" => ObservableKind::FileHash(HashAlg::Md5).bit(),
            _ => KindMask::OTHER,
        }
    }
    /// Union.
    pub fn with(self, other: KindMask) -> KindMask {
        KindMask(self.0 | other.0)
    }
    /// Whether the sets share a kind.
    pub fn intersects(self, other: KindMask) -> bool {
        self.0 & other.0 != 0
    }
    /// Whether no kind is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// How a value hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchVia {
    /// Equal to an indicator value (after normalisation).
    Exact,
    /// Inside an indicator's CIDR block of this prefix length (shorter than the address).
    Cidr(u8),
    /// A strict subdomain of an indicator's domain (`LIKE '%.example.com'`).
    Subdomain,
    /// A `LIKE` pattern.
    Like,
    /// A `MATCHES` regex.
    Regex,
}

impl MatchVia {
    /// Stable name for output.
    pub fn name(self) -> &'static str {
        match self {
            MatchVia::Exact => "exact",
            MatchVia::Cidr(_) => "cidr",
            MatchVia::Subdomain => "subdomain",
            MatchVia::Like => "like",
            MatchVia::Regex => "matches",
        }
    }
}

/// Kinds whose strings `LIKE` and `MATCHES` can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    DomainName,
    Url,
    EmailAddr,
}

impl TextKind {
    fn slot(self) -> usize {
        self as usize
    }
    /// The observable kind.
    pub fn kind(self) -> ObservableKind {
        match self {
            TextKind::DomainName => ObservableKind::DomainName,
            TextKind::Url => ObservableKind::Url,
            TextKind::EmailAddr => ObservableKind::EmailAddr,
        }
    }
}

/// One IOC-shaped condition of an indicator, with the indicator's value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ioc<'a> {
    /// An address or a CIDR block (`ISSUBSET`), either family.
    Ip(Cidr),
    /// A domain name, exactly.
    Domain(&'a str),
    /// Strict subdomains of a domain name.
    DomainSuffix(&'a str),
    /// A URL, exactly.
    Url(&'a str),
    /// An email address, exactly.
    Email(&'a str),
    /// A file hash.
    Hash(HashAlg, &'a str),
    /// A `LIKE` operand on a string kind.
    Like(TextKind, &'a str),
    /// A `MATCHES` regex on a string kind.
    Matches(TextKind, &'a str),
}

/// The role a telemetry field plays: which observable its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// An IP address of either family (detected from the text).
    Ip,
    /// A domain name.
    Domain,
    /// An IP address if it parses as one, else a domain name (DNS answers, HTTP hosts).
    IpOrDomain,
    /// A URL.
    Url,
    /// An email address.
    Email,
    /// A file hash.
    Hash(HashAlg),
}

/// One match of a looked-up value.
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    /// The observable kind.
    pub kind: ObservableKind,
    /// How it hit.
    pub via: MatchVia,
    /// The value after normalisation (for IP addresses, as given, trimmed).
    pub normalized: &'a str,
    /// Numbers of the indicators that hit; resolve with [`Index::indicator_id`].
    pub indicators: &'a [u32],
}

/// Reusable buffers for lookups; keep one per thread or scanner.
#[derive(Debug, Default)]
pub struct LookupScratch {
    norm: String,
    text: TextScratch,
}

impl LookupScratch {
    /// The normalisation buffer and the text-pattern scratch, borrowed apart.
    pub(crate) fn parts(&mut self) -> (&mut String, &mut TextScratch) {
        (&mut self.norm, &mut self.text)
    }
}

/// A pattern that is not IOC-shaped, kept for evaluation by the pattern evaluator.
#[derive(Debug, Clone)]
pub struct GeneralPattern {
    /// Indicator number.
    pub indicator: u32,
    /// The pattern text.
    pub pattern: String,
    /// The parsed pattern, for `pattern::CompiledPattern::new`.
    pub ast: std::sync::Arc<pattern::Pattern>,
    /// SCO types the pattern refers to.
    pub kinds: KindMask,
    /// Why the pattern is not IOC-shaped.
    pub reason: &'static str,
}

/// Counts of what an index holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub indicators: usize,
    pub ipv4_blocks: usize,
    pub ipv6_blocks: usize,
    pub domains: usize,
    pub domain_suffixes: usize,
    pub urls: usize,
    pub emails: usize,
    pub hashes: usize,
    pub text_patterns: usize,
    pub general: usize,
    /// Approximate heap bytes of the lookup structures.
    pub heap_bytes: usize,
}

/// Builds an [`Index`].
#[derive(Debug, Default)]
pub struct IndexBuilder {
    hasher: Hasher,
    ids_arena: String,
    ids: Vec<(u32, u32)>,
    v4: IpTable<u32>,
    v6: IpTable<u128>,
    domains: StrSet,
    suffixes: StrSet,
    urls: StrSet,
    emails: StrSet,
    hashes: [StrSet; 6],
    text: [TextSetBuilder; 3],
    general: Vec<GeneralPattern>,
    norm: String,
    generation: u64,
}

impl IndexBuilder {
    /// A new, empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the generation number the built index reports (e.g. a change-stream cursor).
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }

    /// Registers an indicator id and returns its number. Call once per indicator.
    pub fn add_indicator(&mut self, id: &str) -> Result<u32, BuildError> {
        let no = u32::try_from(self.ids.len()).map_err(|_| BuildError::Full)?;
        let off = u32::try_from(self.ids_arena.len()).map_err(|_| BuildError::Full)?;
        let len = u32::try_from(id.len()).map_err(|_| BuildError::Full)?;
        self.ids_arena.push_str(id);
        self.ids.push((off, len));
        Ok(no)
    }

    /// The id of an indicator registered with [`IndexBuilder::add_indicator`].
    pub fn indicator_id(&self, no: u32) -> Option<&str> {
        let (off, len) = *self.ids.get(no as usize)?;
        self.ids_arena.get(off as usize..(off + len) as usize)
    }

    /// Adds one IOC of indicator `no`, normalising its value.
    pub fn add_ioc(&mut self, no: u32, ioc: Ioc<'_>) -> Result<(), BuildError> {
        if no as usize >= self.ids.len() {
            return Err(BuildError::UnknownIndicator(no));
        }
        let full = |_| BuildError::Full;
        let bad = |kind: &'static str, value: &str, reason: &'static str| BuildError::BadValue {
            kind,
            value: value.to_owned(),
            reason,
        };
        match ioc {
            Ioc::Ip(Cidr::V4 { net, len }) => self.v4.insert(net, len, no).map_err(full)?,
            Ioc::Ip(Cidr::V6 { net, len }) => self.v6.insert(net, len, no).map_err(full)?,
            Ioc::Domain(v) => {
                if !normalize::domain(v, &mut self.norm) {
                    return Err(bad("domain-name", v, "empty domain name"));
                }
                self.domains
                    .insert(&self.hasher, self.norm.as_bytes(), no)
                    .map_err(full)?;
            }
            Ioc::DomainSuffix(v) => {
                if !normalize::domain(v, &mut self.norm) {
                    return Err(bad("domain-name", v, "empty domain suffix"));
                }
                self.suffixes
                    .insert(&self.hasher, self.norm.as_bytes(), no)
                    .map_err(full)?;
            }
            Ioc::Url(v) => {
                if !normalize::url(v, &mut self.norm) {
                    return Err(bad("url", v, "empty URL"));
                }
                self.urls
                    .insert(&self.hasher, self.norm.as_bytes(), no)
                    .map_err(full)?;
            }
            Ioc::Email(v) => {
                if !normalize::email(v, &mut self.norm) {
                    return Err(bad("email-addr", v, "not an email address (local@domain)"));
                }
                self.emails
                    .insert(&self.hasher, self.norm.as_bytes(), no)
                    .map_err(full)?;
            }
            Ioc::Hash(alg, v) => {
                if !normalize::hash(alg, v, &mut self.norm) {
                    return Err(bad(
                        "file hash",
                        v,
                        "not hexadecimal of the algorithm's digest length",
                    ));
                }
                self.hashes[alg.slot()]
                    .insert(&self.hasher, self.norm.as_bytes(), no)
                    .map_err(full)?;
            }
            Ioc::Like(kind, v) => {
                // The evaluator compares NFC forms; telemetry values are NFC-normalised at
                // lookup too.
                let v: String = v.nfc().collect();
                let like = match kind {
                    // Domain names compare case-insensitively: lowercase the operand the
                    // way telemetry values are lowercased.
                    TextKind::DomainName => v.to_ascii_lowercase(),
                    _ => v.clone(),
                };
                if !like.contains(['%', '_']) {
                    return self.add_ioc(
                        no,
                        match kind {
                            TextKind::DomainName => Ioc::Domain(&like),
                            TextKind::Url => Ioc::Url(&like),
                            TextKind::EmailAddr => Ioc::Email(&like),
                        },
                    );
                }
                if kind == TextKind::DomainName {
                    if let Some(rest) = like.strip_prefix("%.") {
                        if !rest.is_empty() && !rest.contains(['%', '_']) {
                            return self.add_ioc(no, Ioc::DomainSuffix(rest));
                        }
                    }
                }
                self.text[kind.slot()]
                    .add_like(&like, no)
                    .map_err(|e| BuildError::Regex {
                        pattern: v.to_owned(),
                        reason: e.0,
                    })?;
            }
            Ioc::Matches(kind, v) => {
                let v: String = v.nfc().collect();
                let re = match kind {
                    TextKind::DomainName => format!("(?i:{v})"),
                    _ => v.to_owned(),
                };
                self.text[kind.slot()]
                    .add_regex(&re, no)
                    .map_err(|e| BuildError::Regex {
                        pattern: v.to_owned(),
                        reason: e.0,
                    })?;
            }
        }
        Ok(())
    }

    /// Keeps a pattern that is not IOC-shaped for the evaluator.
    pub fn add_general(&mut self, general: GeneralPattern) -> Result<(), BuildError> {
        if general.indicator as usize >= self.ids.len() {
            return Err(BuildError::UnknownIndicator(general.indicator));
        }
        self.general.push(general);
        Ok(())
    }

    /// Freezes the structures into an index.
    pub fn build(mut self) -> Result<Index, BuildError> {
        let h = &self.hasher;
        self.v4.freeze();
        self.v6.freeze();
        for s in [
            &mut self.domains,
            &mut self.suffixes,
            &mut self.urls,
            &mut self.emails,
        ] {
            s.freeze(h);
        }
        for s in &mut self.hashes {
            s.freeze(h);
        }
        let [d, u, e] = self.text;
        let build = |b: TextSetBuilder| {
            if b.is_empty() {
                Ok(TextSet::default())
            } else {
                b.build().map_err(|e| BuildError::Regex {
                    pattern: String::from("(regex set)"),
                    reason: e.0,
                })
            }
        };
        let text = [build(d)?, build(u)?, build(e)?];
        self.ids_arena.shrink_to_fit();
        self.ids.shrink_to_fit();
        Ok(Index {
            hasher: self.hasher,
            ids_arena: self.ids_arena,
            ids: self.ids,
            v4: self.v4,
            v6: self.v6,
            domains: self.domains,
            suffixes: self.suffixes,
            urls: self.urls,
            emails: self.emails,
            hashes: self.hashes,
            text,
            general: self.general,
            generation: self.generation,
        })
    }
}

/// Canonical text of a parsed address: a dotted quad that parsed is already canonical
/// (leading zeros are rejected); other forms are formatted into the reused buffer.
fn ip_text<'s>(ip: IpAddr, shown: &'s str, norm: &'s mut String) -> &'s str {
    if matches!(ip, IpAddr::V4(_)) && !shown.contains(':') {
        shown
    } else {
        norm.clear();
        normalize::push_ip(norm, ip);
        norm
    }
}

/// A compiled, immutable indicator index. Share it behind an `Arc` (see
/// [`crate::SharedIndex`]); lookups take `&self`. The default index is empty.
#[derive(Debug, Default)]
pub struct Index {
    hasher: Hasher,
    ids_arena: String,
    ids: Vec<(u32, u32)>,
    v4: IpTable<u32>,
    v6: IpTable<u128>,
    domains: StrSet,
    suffixes: StrSet,
    urls: StrSet,
    emails: StrSet,
    hashes: [StrSet; 6],
    text: [TextSet; 3],
    general: Vec<GeneralPattern>,
    generation: u64,
}

impl Index {
    /// The generation number given to the builder.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of indicators.
    pub fn indicator_count(&self) -> usize {
        self.ids.len()
    }

    /// The id of indicator number `no`.
    pub fn indicator_id(&self, no: u32) -> Option<&str> {
        let (off, len) = *self.ids.get(no as usize)?;
        self.ids_arena.get(off as usize..(off + len) as usize)
    }

    /// Patterns left to the evaluator.
    pub fn general(&self) -> &[GeneralPattern] {
        &self.general
    }

    /// General patterns that could concern an event whose observables have `seen` kinds:
    /// the cheap prefilter before running the evaluator.
    pub fn general_candidates(&self, seen: KindMask) -> impl Iterator<Item = &GeneralPattern> {
        self.general
            .iter()
            .filter(move |g| g.kinds.intersects(seen))
    }

    /// What the index holds.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            indicators: self.ids.len(),
            ipv4_blocks: self.v4.len(),
            ipv6_blocks: self.v6.len(),
            domains: self.domains.len(),
            domain_suffixes: self.suffixes.len(),
            urls: self.urls.len(),
            emails: self.emails.len(),
            hashes: self.hashes.iter().map(StrSet::len).sum(),
            text_patterns: self.text.iter().map(TextSet::len).sum(),
            general: self.general.len(),
            heap_bytes: self.ids_arena.capacity()
                + self.ids.capacity() * 8
                + self.v4.heap_bytes()
                + self.v6.heap_bytes()
                + self.domains.heap_bytes()
                + self.suffixes.heap_bytes()
                + self.urls.heap_bytes()
                + self.emails.heap_bytes()
                + self.hashes.iter().map(StrSet::heap_bytes).sum::<usize>(),
        }
    }

    /// Looks up an IP address (already parsed and canonicalised with
    /// [`normalize::ip`]).
    pub fn lookup_ip(&self, ip: IpAddr, shown: &str, mut f: impl FnMut(Match<'_>)) {
        match ip {
            IpAddr::V4(_) if self.v4.is_empty() => {}
            IpAddr::V6(_) if self.v6.is_empty() => {}
            IpAddr::V4(a) => self.v4.lookup(u32::from(a), |len, ids| {
                f(Match {
                    kind: ObservableKind::Ipv4Addr,
                    via: if len == 32 {
                        MatchVia::Exact
                    } else {
                        MatchVia::Cidr(len)
                    },
                    normalized: shown,
                    indicators: ids,
                })
            }),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a), |len, ids| {
                f(Match {
                    kind: ObservableKind::Ipv6Addr,
                    via: if len == 128 {
                        MatchVia::Exact
                    } else {
                        MatchVia::Cidr(len)
                    },
                    normalized: shown,
                    indicators: ids,
                })
            }),
        }
    }

    fn lookup_domain_normal(&self, d: &str, text: &mut TextScratch, f: &mut impl FnMut(Match<'_>)) {
        let kind = ObservableKind::DomainName;
        // The name's probes (the name, then each parent in the suffix set) are hashed
        // first, each starting the load of its filter words, so that their cache misses
        // overlap instead of following one another.
        let exact = (!self.domains.is_empty()).then(|| {
            let h = hash_key(&self.hasher, d.as_bytes());
            self.domains.prefetch_hashed(h);
            h
        });
        // Each parent starts after a dot (a byte loop: names are short, and a `.` byte is
        // always a whole character); none when there is no suffix set to probe.
        let probed = if self.suffixes.is_empty() {
            0
        } else {
            usize::MAX
        };
        let mut parent_starts = d
            .bytes()
            .enumerate()
            .filter(|&(_, c)| c == b'.')
            .map(|(i, _)| i + 1)
            .take(probed);
        let mut parents = [(0usize, 0u64); PREFETCHED_PARENTS];
        let mut n = 0;
        for start in parent_starts.by_ref().take(PREFETCHED_PARENTS) {
            let h = hash_key(&self.hasher, &d.as_bytes()[start..]);
            self.suffixes.prefetch_hashed(h);
            parents[n] = (start, h);
            n += 1;
        }
        if let Some(ids) = exact.and_then(|h| self.domains.get_hashed(h, d.as_bytes())) {
            f(Match {
                kind,
                via: MatchVia::Exact,
                normalized: d,
                indicators: ids,
            });
        }
        // Names with more labels than that probe their remaining parents one by one.
        let rest =
            parent_starts.map(|start| (start, hash_key(&self.hasher, &d.as_bytes()[start..])));
        for (start, h) in parents[..n].iter().copied().chain(rest) {
            let suffix = &d.as_bytes()[start..];
            if let Some(ids) = self.suffixes.get_hashed(h, suffix) {
                f(Match {
                    kind,
                    via: MatchVia::Subdomain,
                    normalized: d,
                    indicators: ids,
                });
            }
        }
        self.lookup_text(TextKind::DomainName, d, text, f);
    }

    fn lookup_text(
        &self,
        kind: TextKind,
        v: &str,
        text: &mut TextScratch,
        f: &mut impl FnMut(Match<'_>),
    ) {
        let set = &self.text[kind.slot()];
        if set.is_empty() {
            return;
        }
        set.lookup(v, text, |how, ids| {
            f(Match {
                kind: kind.kind(),
                via: match how {
                    TextMatch::Like => MatchVia::Like,
                    TextMatch::Regex => MatchVia::Regex,
                },
                normalized: v,
                indicators: ids,
            })
        });
    }

    /// Normalises `raw` as a value of kind `vk` and calls `f` for every match. Returns the
    /// kind of observable the value was read as, or `None` when it does not normalise
    /// (e.g. an `Ip` field holding something that is not an address).
    pub fn lookup(
        &self,
        vk: ValueKind,
        raw: &str,
        scratch: &mut LookupScratch,
        f: impl FnMut(Match<'_>),
    ) -> Option<ObservableKind> {
        self.lookup_normalized(vk, raw, scratch, f).map(|(k, _)| k)
    }

    /// [`Index::lookup`], also returning the value's normalised text (for IP addresses the
    /// canonical text of the address: `::FFFF:1.2.3.4` gives `1.2.3.4`). The text borrows
    /// `raw` or `scratch`.
    pub fn lookup_normalized<'s>(
        &self,
        vk: ValueKind,
        raw: &'s str,
        scratch: &'s mut LookupScratch,
        mut f: impl FnMut(Match<'_>),
    ) -> Option<(ObservableKind, &'s str)> {
        let LookupScratch { norm, text } = scratch;
        let value = normalize_value(vk, raw, norm)?;
        self.lookup_prepared(&value, text, &mut f);
        Some((value.kind(), value.text()))
    }

    /// Looks up a value already normalised with [`normalize_value`] (so several indexes
    /// can be asked about one value without normalising it again).
    pub fn lookup_prepared(
        &self,
        value: &Normalized<'_>,
        text: &mut TextScratch,
        f: &mut impl FnMut(Match<'_>),
    ) {
        match *value {
            Normalized::Ip { ip, shown, .. } => self.lookup_ip(ip, shown, f),
            Normalized::Domain(d) => self.lookup_domain_normal(d, text, f),
            Normalized::Url(u) => {
                if let Some(ids) = self.urls.get(&self.hasher, u.as_bytes()) {
                    f(Match {
                        kind: ObservableKind::Url,
                        via: MatchVia::Exact,
                        normalized: u,
                        indicators: ids,
                    });
                }
                self.lookup_text(TextKind::Url, u, text, f);
            }
            Normalized::Email(e) => {
                if let Some(ids) = self.emails.get(&self.hasher, e.as_bytes()) {
                    f(Match {
                        kind: ObservableKind::EmailAddr,
                        via: MatchVia::Exact,
                        normalized: e,
                        indicators: ids,
                    });
                }
                self.lookup_text(TextKind::EmailAddr, e, text, f);
            }
            Normalized::Hash(alg, key) => {
                if let Some(ids) = self.hashes[alg.slot()].get(&self.hasher, key.as_bytes()) {
                    f(Match {
                        kind: ObservableKind::FileHash(alg),
                        via: MatchVia::Exact,
                        normalized: key,
                        indicators: ids,
                    });
                }
            }
        }
    }
}

/// Parents of a looked-up domain name whose suffix-set probes are prefetched together.
const PREFETCHED_PARENTS: usize = 8;

/// A telemetry value in the form the index compares ([`normalize_value`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalized<'s> {
    /// An address: parsed, as it was shown (trimmed), and its canonical text.
    Ip {
        ip: IpAddr,
        shown: &'s str,
        text: &'s str,
    },
    Domain(&'s str),
    Url(&'s str),
    Email(&'s str),
    Hash(crate::normalize::HashAlg, &'s str),
}

impl<'s> Normalized<'s> {
    /// The kind of observable the value was read as.
    pub fn kind(&self) -> ObservableKind {
        match self {
            Normalized::Ip { ip, .. } => match ip {
                IpAddr::V4(_) => ObservableKind::Ipv4Addr,
                IpAddr::V6(_) => ObservableKind::Ipv6Addr,
            },
            Normalized::Domain(_) => ObservableKind::DomainName,
            Normalized::Url(_) => ObservableKind::Url,
            Normalized::Email(_) => ObservableKind::EmailAddr,
            Normalized::Hash(alg, _) => ObservableKind::FileHash(*alg),
        }
    }

    /// The normalised text (for addresses, the canonical text).
    pub fn text(&self) -> &'s str {
        match *self {
            Normalized::Ip { text, .. } => text,
            Normalized::Domain(t) | Normalized::Url(t) | Normalized::Email(t) => t,
            Normalized::Hash(_, t) => t,
        }
    }
}

/// Normalises `raw` as a value of kind `vk` (the crate README's rules), borrowing `raw`
/// when it already is in normal form and writing into `norm` otherwise; `None` when it
/// does not read as that kind (an `Ip` field holding a word).
pub fn normalize_value<'s>(
    vk: ValueKind,
    raw: &'s str,
    norm: &'s mut String,
) -> Option<Normalized<'s>> {
    // A plain dotted quad (what sensors write) is its own canonical text.
    let plain_v4 = || {
        normalize::fast_v4(raw.as_bytes()).map(|v4| Normalized::Ip {
            ip: IpAddr::V4(v4),
            shown: raw,
            text: raw,
        })
    };
    let ip_value = |ip: IpAddr, norm: &'s mut String| {
        let shown = raw.trim();
        Normalized::Ip {
            ip,
            shown,
            text: ip_text(ip, shown, norm),
        }
    };
    match vk {
        ValueKind::Ip => plain_v4().or_else(|| normalize::ip(raw).map(|ip| ip_value(ip, norm))),
        ValueKind::IpOrDomain => match plain_v4() {
            Some(v) => Some(v),
            None => match normalize::ip(raw) {
                Some(ip) => Some(ip_value(ip, norm)),
                None => domain_value(raw, norm).map(Normalized::Domain),
            },
        },
        ValueKind::Domain => domain_value(raw, norm).map(Normalized::Domain),
        ValueKind::Url => normalize::url(raw, norm).then_some(Normalized::Url(norm)),
        ValueKind::Email => normalize::email(raw, norm).then_some(Normalized::Email(norm)),
        ValueKind::Hash(alg) => {
            if normalize::hash_is_normal(alg, raw) {
                Some(Normalized::Hash(alg, raw))
            } else if normalize::hash(alg, raw, norm) {
                Some(Normalized::Hash(alg, norm))
            } else {
                None
            }
        }
    }
}

/// A domain value in normal form (borrowing `raw` when it already is).
fn domain_value<'s>(raw: &'s str, norm: &'s mut String) -> Option<&'s str> {
    if normalize::domain_is_normal(raw) {
        Some(raw)
    } else if normalize::domain(raw, norm) {
        Some(norm)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(iocs: &[(&str, Ioc<'_>)]) -> Index {
        let mut b = IndexBuilder::new();
        for (id, ioc) in iocs {
            let no = match (0..b.ids.len() as u32).find(|n| b.indicator_id(*n) == Some(id)) {
                Some(n) => n,
                None => b.add_indicator(id).unwrap(),
            };
            b.add_ioc(no, *ioc).unwrap();
        }
        b.build().unwrap()
    }

    fn hits(ix: &Index, vk: ValueKind, v: &str) -> Vec<(String, &'static str, String)> {
        let mut s = LookupScratch::default();
        let mut out = Vec::new();
        ix.lookup(vk, v, &mut s, |m| {
            for &no in m.indicators {
                out.push((
                    ix.indicator_id(no).unwrap().to_owned(),
                    m.via.name(),
                    m.normalized.to_owned(),
                ));
            }
        });
        out.sort();
        out
    }

    fn ids(ix: &Index, vk: ValueKind, v: &str) -> Vec<String> {
        hits(ix, vk, v).into_iter().map(|h| h.0).collect()
    }

    #[test]
    fn subdomain_not_lookalike() {
        let ix = index(&[
            ("i-exact", Ioc::Domain("Example.com.")),
            ("i-sub", Ioc::DomainSuffix("example.com")),
        ]);
        assert_eq!(ids(&ix, ValueKind::Domain, "example.com"), ["i-exact"]);
        assert_eq!(ids(&ix, ValueKind::Domain, "EXAMPLE.com."), ["i-exact"]);
        assert_eq!(ids(&ix, ValueKind::Domain, "wWw.ExAmPlE.cOm"), ["i-sub"]);
        assert_eq!(ids(&ix, ValueKind::Domain, "a.b.example.com."), ["i-sub"]);
        assert!(ids(&ix, ValueKind::Domain, "evilexample.com").is_empty());
        assert!(ids(&ix, ValueKind::Domain, "example.com.evil.net").is_empty());
        assert!(ids(&ix, ValueKind::Domain, "example.co").is_empty());
    }

    /// Parents are probed for every label of a deep name: the first eight together (their
    /// filter words prefetched), the rest one by one.
    #[test]
    fn subdomains_of_deep_names_hit_at_every_depth() {
        let labels: Vec<String> = (0..12).map(|i| format!("l{i}")).collect();
        let name = labels.join(".");
        // Parents of `l0.l1.…l11`: `l1.…` (depth 1) to `l11` (depth 11).
        let parent = |depth: usize| labels[depth..].join(".");
        let entries: Vec<(String, String)> = [1, 8, 9, 11]
            .iter()
            .map(|&d| (format!("i-depth{d}"), parent(d)))
            .collect();
        let iocs: Vec<(&str, Ioc<'_>)> = entries
            .iter()
            .map(|(id, v)| (id.as_str(), Ioc::DomainSuffix(v)))
            .collect();
        let ix = index(&iocs);
        let mut got = ids(&ix, ValueKind::Domain, &name);
        got.sort();
        assert_eq!(got, ["i-depth1", "i-depth11", "i-depth8", "i-depth9"]);
        // The parent itself is not its own strict subdomain.
        assert_eq!(ids(&ix, ValueKind::Domain, &parent(9)), ["i-depth11"]);
    }

    /// An internationalised name hits in either form: the indicator's U-label and the
    /// A-label DNS telemetry logs (and the reverse), in any case.
    #[test]
    fn internationalised_names_hit_as_a_labels() {
        let ix = index(&[
            ("i-exact", Ioc::Domain("BÜCHER.example")),
            ("i-sub", Ioc::DomainSuffix("xn--bcher-kva.example")),
            (
                "i-like",
                Ioc::Like(TextKind::DomainName, "%.Bücher.Example"),
            ),
        ]);
        for wire in [
            "xn--bcher-kva.example",
            "XN--BCHER-KVA.EXAMPLE.",
            "bücher.example",
        ] {
            assert_eq!(
                hits(&ix, ValueKind::Domain, wire),
                [(
                    "i-exact".to_owned(),
                    "exact",
                    "xn--bcher-kva.example".to_owned()
                )],
                "{wire}"
            );
        }
        assert_eq!(
            ids(&ix, ValueKind::Domain, "www.XN--bcher-kva.example"),
            ["i-like", "i-sub"]
        );
        assert_eq!(
            ids(&ix, ValueKind::Domain, "www.bücher.example"),
            ["i-like", "i-sub"]
        );
        assert!(ids(&ix, ValueKind::Domain, "bucher.example").is_empty());
    }

    #[test]
    fn like_on_domains_compiles_to_the_right_structure() {
        let ix = index(&[
            ("i-suffix", Ioc::Like(TextKind::DomainName, "%.Example.ORG")),
            (
                "i-plain",
                Ioc::Like(TextKind::DomainName, "exact.example.net"),
            ),
            ("i-contains", Ioc::Like(TextKind::DomainName, "%paypa1%")),
        ]);
        let st = ix.stats();
        assert_eq!(
            (st.domain_suffixes, st.domains, st.text_patterns),
            (1, 1, 1)
        );
        assert_eq!(ids(&ix, ValueKind::Domain, "a.example.org"), ["i-suffix"]);
        assert_eq!(
            ids(&ix, ValueKind::Domain, "EXACT.example.net"),
            ["i-plain"]
        );
        assert_eq!(
            ids(&ix, ValueKind::Domain, "login-PAYPA1.example"),
            ["i-contains"]
        );
    }

    #[test]
    fn ip_exact_and_cidr_with_mapped() {
        let ix = index(&[
            ("i-host", Ioc::Ip(Cidr::parse("198.51.100.7").unwrap())),
            ("i-net", Ioc::Ip(Cidr::parse("198.51.100.0/24").unwrap())),
            ("i-v6", Ioc::Ip(Cidr::parse("2001:db8::/32").unwrap())),
            (
                "i-mapped",
                Ioc::Ip(Cidr::parse("::ffff:203.0.113.9").unwrap()),
            ),
        ]);
        assert_eq!(
            hits(&ix, ValueKind::Ip, "198.51.100.7"),
            vec![
                ("i-host".into(), "exact", "198.51.100.7".into()),
                ("i-net".into(), "cidr", "198.51.100.7".into())
            ]
        );
        assert_eq!(ids(&ix, ValueKind::Ip, "::ffff:198.51.100.8"), ["i-net"]);
        assert_eq!(ids(&ix, ValueKind::Ip, "203.0.113.9"), ["i-mapped"]);
        assert_eq!(ids(&ix, ValueKind::Ip, "2001:DB8:ffff::1"), ["i-v6"]);
        assert!(ids(&ix, ValueKind::Ip, "198.51.101.7").is_empty());
        assert!(ids(&ix, ValueKind::Ip, "2001:db9::1").is_empty());
        assert_eq!(ids(&ix, ValueKind::IpOrDomain, "198.51.100.9"), ["i-net"]);
    }

    #[test]
    fn url_email_hash() {
        let ix = index(&[
            ("i-url", Ioc::Url("HTTP://Evil.Example:80/Payload.exe")),
            ("i-mail", Ioc::Email("Phish@Evil.Example")),
            (
                "i-md5",
                Ioc::Hash(HashAlg::Md5, "44D88612FEA8A8F36DE82E1278ABB02F"),
            ),
        ]);
        assert_eq!(
            ids(&ix, ValueKind::Url, "http://evil.example/Payload.exe"),
            ["i-url"]
        );
        assert!(ids(&ix, ValueKind::Url, "http://evil.example/payload.exe").is_empty());
        assert_eq!(
            ids(&ix, ValueKind::Email, "<Phish@EVIL.example>"),
            ["i-mail"]
        );
        assert!(ids(&ix, ValueKind::Email, "phish@evil.example").is_empty());
        assert_eq!(
            ids(
                &ix,
                ValueKind::Hash(HashAlg::Md5),
                "44d88612fea8a8f36de82e1278abb02f"
            ),
            ["i-md5"]
        );
        assert!(ids(
            &ix,
            ValueKind::Hash(HashAlg::Sha1),
            "44d88612fea8a8f36de82e1278abb02f"
        )
        .is_empty());
    }

    #[test]
    fn bad_values_are_rejected_with_reason() {
        let mut b = IndexBuilder::new();
        let no = b.add_indicator("indicator--x").unwrap();
        let e = b
            .add_ioc(no, Ioc::Hash(HashAlg::Sha256, "abc"))
            .unwrap_err();
        assert_eq!(e.code(), "matcher.bad_value");
        assert!(e.to_string().contains("abc"));
        let e = b.add_ioc(no, Ioc::Matches(TextKind::Url, "(")).unwrap_err();
        assert_eq!(e.code(), "matcher.regex");
        let e = b.add_ioc(7, Ioc::Domain("x")).unwrap_err();
        assert_eq!(e.code(), "matcher.unknown_indicator");
    }

    #[test]
    fn general_prefilter() {
        let mut b = IndexBuilder::new();
        let no = b.add_indicator("indicator--g").unwrap();
        let text = "[network-traffic:dst_port = 22 AND ipv4-addr:value = '1.2.3.4']";
        b.add_general(GeneralPattern {
            indicator: no,
            pattern: text.into(),
            ast: std::sync::Arc::new(pattern::parse(text).unwrap()),
            kinds: KindMask::of_sco_type("network-traffic")
                .with(KindMask::of_sco_type("ipv4-addr")),
            reason: "AND",
        })
        .unwrap();
        let ix = b.build().unwrap();
        assert_eq!(
            ix.general_candidates(ObservableKind::Ipv4Addr.bit())
                .count(),
            1
        );
        assert_eq!(ix.general_candidates(ObservableKind::Url.bit()).count(), 0);
    }
}
