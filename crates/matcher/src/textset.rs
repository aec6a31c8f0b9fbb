//! `LIKE` and `MATCHES` sets for one observable kind.
//!
//! `LIKE` patterns of the shapes `%lit%`, `lit%` and `%lit` (no other wildcard) become
//! literals in one Aho-Corasick automaton, searched with overlapping semantics and
//! checked for their anchor; every other `LIKE` is translated to an anchored regex the
//! way the OASIS matcher does (`%` → `.*`, `_` → `.`, everything else literal), and
//! `MATCHES` regexes are searched unanchored. Regexes are compiled in chunks of
//! [`REGEX_CHUNK`] with a size limit per chunk; a regex that does not compile within the
//! limits is rejected and its pattern stays with the evaluator.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use hashbrown::HashMap;
use regex_automata::{meta, Input, PatternSet};
use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Regexes per compiled regex set.
pub const REGEX_CHUNK: usize = 256;
/// NFA size limit of one regex, and of one chunk of regexes (bytes).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// NFA size limit of one chunk of regexes (bytes).
pub const REGEX_CHUNK_SIZE_LIMIT: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Anchor {
    Anywhere,
    Start,
    End,
}

/// How a literal or regex in a text set matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextMatch {
    /// A `LIKE` pattern.
    Like,
    /// A `MATCHES` regex.
    Regex,
}

/// Why a `LIKE` or `MATCHES` operand cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexRejected(pub String);

#[derive(Debug, Default)]
pub(crate) struct TextSetBuilder {
    literals: HashMap<(String, Anchor), Vec<u32>>,
    regexes: HashMap<(String, TextMatch), Vec<u32>>,
}

/// Translates a `LIKE` operand to a regex the way the OASIS matcher does.
pub fn like_to_regex(like: &str) -> String {
    let mut out = String::with_capacity(like.len() + 8);
    out.push('^');
    for c in like.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c if c.is_alphanumeric() => out.push(c),
            c => {
                if r"\.+*?()|[]{}^$#&-~".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
    out.push('$');
    out
}

/// Compiles one regex with the crate's limits, to check it before it joins a set.
pub fn check_regex(re: &str) -> Result<(), RegexRejected> {
    meta::Regex::builder()
        .configure(meta::Config::new().nfa_size_limit(Some(REGEX_SIZE_LIMIT)))
        .build(re)
        .map(|_| ())
        .map_err(|e| RegexRejected(e.to_string()))
}

impl TextSetBuilder {
    pub(crate) fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.regexes.is_empty()
    }

    /// Adds a `LIKE` operand (already normalised for its kind).
    pub(crate) fn add_like(&mut self, like: &str, indicator: u32) -> Result<(), RegexRejected> {
        let inner = |s: &str| !s.is_empty() && !s.contains(['%', '_']);
        let shape = if let Some(mid) = like.strip_prefix('%').and_then(|r| r.strip_suffix('%')) {
            inner(mid).then_some((mid, Anchor::Anywhere))
        } else if let Some(head) = like.strip_suffix('%') {
            inner(head).then_some((head, Anchor::Start))
        } else if let Some(tail) = like.strip_prefix('%') {
            inner(tail).then_some((tail, Anchor::End))
        } else {
            None
        };
        match shape {
            Some((lit, anchor)) => push_unique(
                self.literals.entry((lit.to_owned(), anchor)).or_default(),
                indicator,
            ),
            None => {
                let re = like_to_regex(like);
                check_regex(&re)?;
                push_unique(
                    self.regexes.entry((re, TextMatch::Like)).or_default(),
                    indicator,
                );
            }
        }
        Ok(())
    }

    /// Adds a `MATCHES` regex.
    pub(crate) fn add_regex(&mut self, re: &str, indicator: u32) -> Result<(), RegexRejected> {
        check_regex(re)?;
        push_unique(
            self.regexes
                .entry((re.to_owned(), TextMatch::Regex))
                .or_default(),
            indicator,
        );
        Ok(())
    }

    pub(crate) fn build(self) -> Result<TextSet, RegexRejected> {
        let mut lits: Vec<((String, Anchor), Vec<u32>)> = self.literals.into_iter().collect();
        lits.sort_by(|a, b| {
            a.0 .0
                .cmp(&b.0 .0)
                .then((a.0 .1 as u8).cmp(&(b.0 .1 as u8)))
        });
        let ac = if lits.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(lits.iter().map(|l| l.0 .0.as_bytes()))
                    .map_err(|e| RegexRejected(e.to_string()))?,
            )
        };
        let literals = lits
            .into_iter()
            .map(|((_, anchor), ids)| (anchor, ids))
            .collect();
        let mut res: Vec<((String, TextMatch), Vec<u32>)> = self.regexes.into_iter().collect();
        res.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
        let mut chunks = Vec::new();
        for chunk in res.chunks(REGEX_CHUNK) {
            let pats: Vec<&str> = chunk.iter().map(|r| r.0 .0.as_str()).collect();
            let re = meta::Regex::builder()
                .configure(meta::Config::new().nfa_size_limit(Some(REGEX_CHUNK_SIZE_LIMIT)))
                .build_many(&pats)
                .map_err(|e| RegexRejected(e.to_string()))?;
            let posts = chunk.iter().map(|r| (r.0 .1, r.1.clone())).collect();
            chunks.push((re, posts));
        }
        Ok(TextSet {
            ac,
            literals,
            chunks,
        })
    }
}

fn push_unique(list: &mut Vec<u32>, id: u32) {
    if list.last() != Some(&id) {
        list.push(id);
    }
}

/// One compiled regex set and the postings of its patterns.
type RegexChunk = (meta::Regex, Vec<(TextMatch, Vec<u32>)>);

/// A compiled text set.
#[derive(Debug, Default)]
pub struct TextSet {
    ac: Option<AhoCorasick>,
    literals: Vec<(Anchor, Vec<u32>)>,
    chunks: Vec<RegexChunk>,
}

/// Reusable buffers for text-set searches, one per scanner.
#[derive(Debug)]
pub struct TextScratch {
    seen: Vec<u32>,
    patset: PatternSet,
    nfc: String,
}

impl Default for TextScratch {
    fn default() -> Self {
        TextScratch {
            seen: Vec::with_capacity(16),
            patset: PatternSet::new(REGEX_CHUNK),
            nfc: String::new(),
        }
    }
}

impl TextSet {
    /// Whether the set holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ac.is_none() && self.chunks.is_empty()
    }

    /// Number of literals and regexes.
    pub fn len(&self) -> usize {
        self.literals.len() + self.chunks.iter().map(|c| c.1.len()).sum::<usize>()
    }

    /// Calls `f(how, indicators)` once for each literal or regex that matches `value`.
    pub fn lookup(
        &self,
        value: &str,
        scratch: &mut TextScratch,
        mut f: impl FnMut(TextMatch, &[u32]),
    ) {
        // `LIKE` and `MATCHES` compare NFC-normalised strings (as the evaluator does); ASCII
        // and already-NFC values are used as they are.
        let mut nfc = std::mem::take(&mut scratch.nfc);
        let value: &str = if value.is_ascii()
            || unicode_normalization::is_nfc_quick(value.chars()) == IsNormalized::Yes
        {
            value
        } else {
            nfc.clear();
            nfc.extend(value.nfc());
            &nfc
        };
        if let Some(ac) = &self.ac {
            scratch.seen.clear();
            for m in ac.find_overlapping_iter(value) {
                let pid = m.pattern().as_u32();
                let Some((anchor, ids)) = self.literals.get(pid as usize) else {
                    continue;
                };
                let ok = match anchor {
                    Anchor::Anywhere => true,
                    Anchor::Start => m.start() == 0,
                    Anchor::End => m.end() == value.len(),
                };
                if ok && !scratch.seen.contains(&pid) {
                    scratch.seen.push(pid);
                    f(TextMatch::Like, ids);
                }
            }
        }
        for (re, posts) in &self.chunks {
            scratch.patset.clear();
            re.which_overlapping_matches(&Input::new(value), &mut scratch.patset);
            if scratch.patset.is_empty() {
                // Iterating an empty set still walks its whole capacity.
                continue;
            }
            for pid in scratch.patset.iter() {
                if let Some((how, ids)) = posts.get(pid.as_usize()) {
                    f(*how, ids);
                }
            }
        }
        scratch.nfc = nfc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(set: &TextSet, v: &str) -> Vec<(TextMatch, Vec<u32>)> {
        let mut out = Vec::new();
        let mut s = TextScratch::default();
        set.lookup(v, &mut s, |h, ids| out.push((h, ids.to_vec())));
        out.sort_by_key(|h| h.1.clone());
        out
    }

    #[test]
    fn like_shapes() {
        let mut b = TextSetBuilder::default();
        b.add_like("%evil%", 1).unwrap();
        b.add_like("login.%", 2).unwrap();
        b.add_like("%.example.com", 3).unwrap();
        b.add_like("a_c%", 4).unwrap();
        b.add_like("%evil%", 5).unwrap();
        let set = b.build().unwrap();
        assert_eq!(
            hits(&set, "xxevilxxevil"),
            vec![(TextMatch::Like, vec![1, 5])]
        );
        assert_eq!(
            hits(&set, "login.example.com"),
            vec![(TextMatch::Like, vec![2]), (TextMatch::Like, vec![3])]
        );
        assert_eq!(hits(&set, "www.login.example.org"), vec![]);
        assert_eq!(hits(&set, "abcdef"), vec![(TextMatch::Like, vec![4])]);
        assert_eq!(hits(&set, "ac"), vec![]);
        assert_eq!(hits(&set, "example.com"), vec![]);
    }

    #[test]
    fn like_and_regex_compare_nfc() {
        let mut b = TextSetBuilder::default();
        b.add_like("caf\u{e9}%", 1).unwrap();
        b.add_regex("^caf\u{e9}$", 2).unwrap();
        let set = b.build().unwrap();
        // "cafe" + combining acute accent is the same text in NFC.
        assert_eq!(
            hits(&set, "cafe\u{301}"),
            vec![(TextMatch::Like, vec![1]), (TextMatch::Regex, vec![2])]
        );
    }

    #[test]
    fn like_escapes_regex_metacharacters() {
        assert_eq!(like_to_regex("a.b%"), "^a\\.b.*$");
        let mut b = TextSetBuilder::default();
        b.add_like("a.b_", 1).unwrap();
        let set = b.build().unwrap();
        assert_eq!(hits(&set, "a.bc"), vec![(TextMatch::Like, vec![1])]);
        assert_eq!(hits(&set, "axbc"), vec![]);
    }

    #[test]
    fn regex_unanchored_and_rejects() {
        let mut b = TextSetBuilder::default();
        b.add_regex("^[a-z0-9]{20,}\\.example\\.net$", 1).unwrap();
        b.add_regex("dga", 2).unwrap();
        assert!(b.add_regex("(", 3).is_err());
        assert!(
            b.add_regex("(a)\\1", 3).is_err(),
            "backreferences are not supported"
        );
        assert!(b.add_regex("\\w{1000}{1000}", 3).is_err(), "size limit");
        let set = b.build().unwrap();
        assert_eq!(
            hits(&set, "abcdefghijklmnopqrstuvwxyz.example.net"),
            vec![(TextMatch::Regex, vec![1])]
        );
        assert_eq!(hits(&set, "my-dga-host"), vec![(TextMatch::Regex, vec![2])]);
        assert_eq!(hits(&set, "short.example.net"), vec![]);
    }
}
