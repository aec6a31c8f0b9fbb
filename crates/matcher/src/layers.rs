//! [`Layers`]: an index kept up to date by adding small layers instead of rebuilding.
//!
//! A live index changes all the time (a feed delivers new indicators every few
//! seconds, some are revoked or replaced). Rebuilding the whole [`Index`] for each change
//! costs time in the number of indicators (seconds at a million). Layers keep the
//! large index built once (the base) and put what changed since into newer, small
//! layers: a changed or removed indicator is *masked* in every older layer that holds
//! it, and its current version (if still active) goes into the newest layer. A lookup asks
//! every layer and drops the matches of masked indicator numbers, so the verdict is the
//! one a fresh index over the current indicators would give.
//!
//! Layers are immutable values shared behind `Arc`s; masks are copied on write, so a
//! snapshot taken for a batch of lookups never changes under the reader.

use std::sync::Arc;

use crate::index::{normalize_value, Index, LookupScratch, Match, Normalized, ObservableKind};
use crate::ValueKind;

/// Indicator numbers of one layer that no longer count (a bit per number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mask {
    bits: Vec<u64>,
    count: usize,
}

impl Mask {
    /// Whether number `no` is masked.
    #[inline]
    pub fn contains(&self, no: u32) -> bool {
        self.bits
            .get((no / 64) as usize)
            .is_some_and(|w| w & (1 << (no % 64)) != 0)
    }

    /// Masks `no`; returns whether it was not masked before.
    pub fn insert(&mut self, no: u32) -> bool {
        let (w, b) = ((no / 64) as usize, no % 64);
        if self.bits.len() <= w {
            self.bits.resize(w + 1, 0);
        }
        let fresh = self.bits[w] & (1 << b) == 0;
        self.bits[w] |= 1 << b;
        self.count += usize::from(fresh);
        fresh
    }

    /// Numbers masked.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is masked.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One layer: an index and the numbers of it that newer layers replaced.
#[derive(Debug, Clone)]
pub struct Layer {
    index: Arc<Index>,
    mask: Arc<Mask>,
    ids: Arc<IdLookup>,
}

impl Layer {
    /// The layer's index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Its masked numbers.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// Indicators of this layer that still count.
    pub fn live_indicators(&self) -> usize {
        self.index.indicator_count() - self.mask.len()
    }
}

/// Indicator id → number in one index (sorted hashes, 12 bytes per indicator; the id
/// is checked on a hash hit).
#[derive(Debug, Default)]
struct IdLookup {
    hasher: hashbrown::DefaultHashBuilder,
    by_hash: Vec<(u64, u32)>,
}

impl IdLookup {
    fn of(index: &Index) -> Self {
        use std::hash::BuildHasher;
        let hasher = hashbrown::DefaultHashBuilder::default();
        let n = u32::try_from(index.indicator_count()).unwrap_or(u32::MAX);
        let mut by_hash: Vec<(u64, u32)> = (0..n)
            .filter_map(|no| index.indicator_id(no).map(|id| (hasher.hash_one(id), no)))
            .collect();
        by_hash.sort_unstable();
        IdLookup { hasher, by_hash }
    }

    /// Every number of `id` (one, unless the index was given the id twice).
    fn find<'a>(&'a self, index: &'a Index, id: &'a str) -> impl Iterator<Item = u32> + 'a {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(id);
        let start = self.by_hash.partition_point(|&(k, _)| k < h);
        self.by_hash[start..]
            .iter()
            .take_while(move |&&(k, _)| k == h)
            .map(|&(_, no)| no)
            .filter(move |&no| index.indicator_id(no) == Some(id))
    }

    /// Ids given to the index more than once.
    fn duplicates(&self, index: &Index) -> Vec<String> {
        let mut out = Vec::new();
        for run in self
            .by_hash
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|r| r.len() > 1)
        {
            let mut ids: Vec<&str> = run
                .iter()
                .filter_map(|&(_, no)| index.indicator_id(no))
                .collect();
            ids.sort_unstable();
            for w in ids.windows(2) {
                if w[0] == w[1] && out.last().map(String::as_str) != Some(w[0]) {
                    out.push(w[0].to_owned());
                }
            }
        }
        out
    }
}

/// An index in layers, oldest (the base) first. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    layers: Vec<Layer>,
}

/// Up to this many matching numbers are filtered on the stack.
const STACK_IDS: usize = 16;

impl Layers {
    /// One layer.
    pub fn single(index: Index) -> Self {
        let mut l = Layers::default();
        l.push(Arc::new(index));
        l
    }

    /// The layers, oldest first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there is no layer.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Indicators that count, over all layers.
    pub fn live_indicators(&self) -> usize {
        self.layers.iter().map(Layer::live_indicators).sum()
    }

    /// Adds a newest layer (mask its indicators in the older layers first, with
    /// [`Layers::mask_id`]).
    pub fn push(&mut self, index: Arc<Index>) {
        let ids = Arc::new(IdLookup::of(&index));
        self.layers.push(Layer {
            index,
            mask: Arc::default(),
            ids,
        });
    }

    /// Masks indicator `id` in every layer that holds it; returns how many numbers were
    /// newly masked.
    pub fn mask_id(&mut self, id: &str) -> usize {
        let mut n = 0;
        for l in &mut self.layers {
            let fresh: Vec<u32> = l
                .ids
                .find(&l.index, id)
                .filter(|&no| !l.mask.contains(no))
                .collect();
            if !fresh.is_empty() {
                let mask = Arc::make_mut(&mut l.mask);
                for no in fresh {
                    n += usize::from(mask.insert(no));
                }
            }
        }
        n
    }

    /// Whether indicator `id` counts in some layer (is held there and not masked).
    pub fn holds(&self, id: &str) -> bool {
        self.layers
            .iter()
            .any(|l| l.ids.find(&l.index, id).any(|no| !l.mask.contains(no)))
    }

    /// Ids held more than once by one layer (an index built from a read that saw two
    /// versions of an indicator): the caller masks them and adds their current version.
    pub fn duplicate_ids(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .layers
            .iter()
            .flat_map(|l| l.ids.duplicates(&l.index))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The ids that count in layers `from..` (e.g. to merge the newer layers into one).
    pub fn live_ids(&self, from: usize) -> Vec<String> {
        let mut out = Vec::new();
        for l in self.layers.iter().skip(from) {
            let n = u32::try_from(l.index.indicator_count()).unwrap_or(u32::MAX);
            for no in 0..n {
                if !l.mask.contains(no) {
                    if let Some(id) = l.index.indicator_id(no) {
                        out.push(id.to_owned());
                    }
                }
            }
        }
        out
    }

    /// Replaces layers `from..` with `index` (their indicators merged into it).
    pub fn replace_from(&mut self, from: usize, index: Arc<Index>) {
        self.layers.truncate(from);
        self.push(index);
    }

    /// Normalises `raw` as a value of kind `vk` once and looks it up in every layer;
    /// `f` gets each match with its layer number, masked numbers left out (a match left
    /// with none is not reported). Returns what [`Index::lookup_normalized`] returns.
    #[inline]
    pub fn lookup_normalized<'s>(
        &self,
        vk: ValueKind,
        raw: &'s str,
        scratch: &'s mut LookupScratch,
        mut f: impl FnMut(usize, Match<'_>),
    ) -> Option<(ObservableKind, &'s str)> {
        // One layer with nothing masked (the steady state): the index alone.
        if let [only] = self.layers.as_slice() {
            if only.mask.is_empty() {
                return only.index.lookup_normalized(vk, raw, scratch, |m| f(0, m));
            }
        }
        let (norm, text) = scratch.parts();
        let value: Normalized<'s> = normalize_value(vk, raw, norm)?;
        for (i, l) in self.layers.iter().enumerate() {
            if l.mask.is_empty() {
                l.index.lookup_prepared(&value, text, &mut |m| f(i, m));
                continue;
            }
            let mask = &l.mask;
            l.index.lookup_prepared(&value, text, &mut |m: Match<'_>| {
                if !m.indicators.iter().any(|&no| mask.contains(no)) {
                    f(i, m);
                    return;
                }
                let mut stack = [0u32; STACK_IDS];
                let mut heap = Vec::new();
                let mut n = 0;
                for &no in m.indicators.iter().filter(|&&no| !mask.contains(no)) {
                    if n < STACK_IDS {
                        stack[n] = no;
                    } else {
                        if heap.is_empty() {
                            heap.extend_from_slice(&stack);
                        }
                        heap.push(no);
                    }
                    n += 1;
                }
                if n == 0 {
                    return;
                }
                let kept: &[u32] = if n <= STACK_IDS { &stack[..n] } else { &heap };
                f(
                    i,
                    Match {
                        indicators: kept,
                        ..m
                    },
                );
            });
        }
        Some((value.kind(), value.text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cidr, IndexBuilder, Ioc};

    fn index(entries: &[(&str, Ioc<'_>)]) -> Index {
        let mut b = IndexBuilder::new();
        for (id, ioc) in entries {
            let no = b.add_indicator(id).unwrap();
            b.add_ioc(no, *ioc).unwrap();
        }
        b.build().unwrap()
    }

    fn hits(l: &Layers, vk: ValueKind, v: &str) -> Vec<String> {
        let mut s = LookupScratch::default();
        let mut out = Vec::new();
        l.lookup_normalized(vk, v, &mut s, |layer, m| {
            let ix = l.layers()[layer].index();
            for &no in m.indicators {
                out.push(ix.indicator_id(no).unwrap().to_owned());
            }
        });
        out.sort();
        out
    }

    #[test]
    fn newer_layers_replace_masked_indicators() {
        let cidr = Cidr::parse("198.51.100.0/24").unwrap();
        let mut l = Layers::single(index(&[
            ("indicator--a", Ioc::Domain("evil.example")),
            ("indicator--b", Ioc::Domain("evil.example")),
            ("indicator--c", Ioc::Ip(cidr)),
        ]));
        assert_eq!(
            hits(&l, ValueKind::Domain, "EVIL.example."),
            vec!["indicator--a", "indicator--b"]
        );
        // b changes its pattern: masked in the base, its new version in a new layer.
        assert_eq!(l.mask_id("indicator--b"), 1);
        assert_eq!(
            l.mask_id("indicator--b"),
            0,
            "masking twice changes nothing"
        );
        l.push(Arc::new(index(&[(
            "indicator--b",
            Ioc::Domain("other.example"),
        )])));
        assert_eq!(
            hits(&l, ValueKind::Domain, "evil.example"),
            vec!["indicator--a"]
        );
        assert_eq!(
            hits(&l, ValueKind::Domain, "other.example"),
            vec!["indicator--b"]
        );
        // c is revoked: masked, nothing replaces it.
        l.mask_id("indicator--c");
        assert!(hits(&l, ValueKind::Ip, "198.51.100.7").is_empty());
        assert!(!l.holds("indicator--c"));
        assert!(l.holds("indicator--b") && l.holds("indicator--a"));
        assert_eq!(l.live_indicators(), 2);
        let mut ids = l.live_ids(0);
        ids.sort();
        assert_eq!(ids, vec!["indicator--a", "indicator--b"]);
        // Merging the newer layers keeps the verdicts.
        let merged = index(&[("indicator--b", Ioc::Domain("other.example"))]);
        l.replace_from(1, Arc::new(merged));
        assert_eq!(l.len(), 2);
        assert_eq!(
            hits(&l, ValueKind::Domain, "other.example"),
            vec!["indicator--b"]
        );
    }

    #[test]
    fn a_snapshot_does_not_see_later_masks() {
        let mut l = Layers::single(index(&[("indicator--a", Ioc::Domain("x.example"))]));
        let snapshot = l.clone();
        l.mask_id("indicator--a");
        assert!(hits(&l, ValueKind::Domain, "x.example").is_empty());
        assert_eq!(
            hits(&snapshot, ValueKind::Domain, "x.example"),
            vec!["indicator--a"]
        );
    }

    #[test]
    fn many_numbers_in_one_match_are_filtered() {
        let entries: Vec<(String, Ioc<'_>)> = (0..40)
            .map(|i| (format!("indicator--{i:02}"), Ioc::Domain("shared.example")))
            .collect();
        let refs: Vec<(&str, Ioc<'_>)> = entries.iter().map(|(i, o)| (i.as_str(), *o)).collect();
        let mut l = Layers::single(index(&refs));
        for i in (0..40).step_by(3) {
            l.mask_id(&format!("indicator--{i:02}"));
        }
        let got = hits(&l, ValueKind::Domain, "shared.example");
        let want: Vec<String> = (0..40)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("indicator--{i:02}"))
            .collect();
        assert_eq!(got, want);
        for i in (0..40).filter(|i| i % 3 != 0) {
            l.mask_id(&format!("indicator--{i:02}"));
        }
        assert!(hits(&l, ValueKind::Domain, "shared.example").is_empty());
    }

    #[test]
    fn ids_are_found_by_hash_and_checked() {
        let ix = index(&[
            ("indicator--1", Ioc::Domain("a.example")),
            ("indicator--2", Ioc::Domain("b.example")),
        ]);
        let ids = IdLookup::of(&ix);
        assert_eq!(ids.find(&ix, "indicator--2").collect::<Vec<_>>(), vec![1]);
        assert_eq!(ids.find(&ix, "indicator--3").count(), 0);
        assert!(ids.duplicates(&ix).is_empty());
    }

    #[test]
    fn an_id_given_twice_is_reported_and_masked_whole() {
        let mut l = Layers::single(index(&[
            ("indicator--x", Ioc::Domain("old.example")),
            ("indicator--y", Ioc::Domain("y.example")),
            ("indicator--x", Ioc::Domain("new.example")),
        ]));
        assert_eq!(l.duplicate_ids(), vec!["indicator--x"]);
        assert_eq!(l.mask_id("indicator--x"), 2);
        assert!(!l.holds("indicator--x"));
        assert!(hits(&l, ValueKind::Domain, "old.example").is_empty());
        assert!(hits(&l, ValueKind::Domain, "new.example").is_empty());
        assert_eq!(
            hits(&l, ValueKind::Domain, "y.example"),
            vec!["indicator--y"]
        );
    }
}
