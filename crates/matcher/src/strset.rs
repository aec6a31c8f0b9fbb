//! An interned string set with postings: every distinct key is stored once in one byte
//! arena, the hash table holds only 4-byte entry numbers, and each entry points at the
//! indicators that named the key.
//!
//! Memory per distinct key: the key bytes, a 12-byte entry and about 4.6 bytes of table
//! (4 bytes per slot at hashbrown's 7/8 load factor, plus one control byte), and 4 bytes
//! per extra indicator when a key is shared.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

const MULTI: u32 = 1 << 31;

#[derive(Debug, Clone, Copy)]
struct Entry {
    off: u32,
    /// Key length; the top bit says `post` indexes `ranges` rather than being the only
    /// indicator.
    len: u32,
    post: u32,
}

impl Entry {
    fn key_len(&self) -> usize {
        (self.len & !MULTI) as usize
    }
}

/// The shared hasher of one index: every set of an index uses it so a hash computed once
/// can probe several sets.
pub type Hasher = DefaultHashBuilder;

/// Hashes a key with the index's hasher.
pub fn hash_key(hasher: &Hasher, key: &[u8]) -> u64 {
    hasher.hash_one(key)
}

/// A two-level bit filter in front of a big set: clear bits answer "absent" without
/// touching the set's table.
///
/// - The first level is a plain bitmap of 2 bits per key, one bit per key (about 39 % of
///   absent keys pass it). It is a quarter of the second level's size, so that it stays in
///   the core's L2 cache while events stream through: an absent key usually costs one
///   cache hit instead of a memory access.
/// - The second level is a blocked filter of 8 bits per key (not rounded up to a power of
///   two, so the filters of a big index stay as small as they can), two bits per key in
///   one 64-bit word (the word from the hash's top 32 bits by multiply-shift, the two bits
///   from its low 12 bits); about 5 % of absent keys pass it.
///
/// Together about 2 % of absent keys reach the table. The first level's bit comes from a
/// remix of the hash, so the two levels' answers are close to independent.
#[derive(Debug, Default, Clone)]
pub(crate) struct BitFilter {
    small: Vec<u64>,
    words: Vec<u64>,
}

/// Asks the core to start loading the cache line that holds `v`, so that a read of it soon
/// after does not wait for memory on its own (a hint; no effect on other architectures).
#[inline(always)]
fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    safe_arch::prefetch_t0(v);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

#[inline(always)]
fn filter_mask(hash: u64) -> u64 {
    (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63))
}

#[inline(always)]
fn filter_word(words: usize, hash: u64) -> usize {
    (((hash >> 32) * words as u64) >> 32) as usize
}

/// The first level's bit of a hash (a remix, then multiply-shift over the bit count).
#[inline(always)]
fn small_bit(bits: u64, hash: u64) -> u64 {
    let r = (hash ^ (hash >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    ((r >> 32) * bits) >> 32
}

impl BitFilter {
    /// An empty filter sized for `keys` keys.
    pub(crate) fn with_keys(keys: usize) -> Self {
        BitFilter {
            small: vec![0; (keys * 2).div_ceil(64).max(1)],
            words: vec![0; keys.div_ceil(8).max(1)],
        }
    }

    /// Whether the filter was never sized (every key may be present).
    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Adds a key's hash.
    pub(crate) fn insert(&mut self, hash: u64) {
        let b = small_bit(self.small.len() as u64 * 64, hash);
        if let Some(w) = self.small.get_mut((b / 64) as usize) {
            *w |= 1 << (b % 64);
        }
        let i = filter_word(self.words.len(), hash);
        if let Some(w) = self.words.get_mut(i) {
            *w |= filter_mask(hash);
        }
    }

    /// Starts loading both levels' words of a hash ([`prefetch`]).
    #[inline(always)]
    pub(crate) fn prefetch(&self, hash: u64) {
        let b = small_bit(self.small.len() as u64 * 64, hash);
        if let Some(w) = self.small.get((b / 64) as usize) {
            prefetch(w);
        }
        if let Some(w) = self.words.get(filter_word(self.words.len(), hash)) {
            prefetch(w);
        }
    }

    /// Whether a key with this hash may be present (never `false` for an added key, and
    /// `true` for an empty filter).
    #[inline(always)]
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        let b = small_bit(self.small.len() as u64 * 64, hash);
        // The second level's word starts loading beside the first's: when the first level
        // passes (about 39 % of absent keys), its cache miss overlaps the first one's
        // instead of following it.
        let second = self.words.get(filter_word(self.words.len(), hash));
        if let Some(w) = second {
            prefetch(w);
        }
        if self
            .small
            .get((b / 64) as usize)
            .is_some_and(|w| w & (1 << (b % 64)) == 0)
        {
            return false;
        }
        let m = filter_mask(hash);
        second.is_none_or(|w| w & m == m)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.small.capacity() + self.words.capacity()) * 8
    }
}

/// An interned string set mapping each key to a list of indicator numbers.
#[derive(Debug, Default)]
pub struct StrSet {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    table: HashTable<u32>,
    /// Build phase: lists for keys named by more than one indicator.
    multi: Vec<Vec<u32>>,
    /// Frozen: postings of shared keys, `ranges[i] = (start, len)` into `postings`.
    ranges: Vec<(u32, u32)>,
    postings: Vec<u32>,
    /// Frozen: a two-level bit filter of about 10 bits per key ([`BitFilter`]); clear
    /// bits answer "absent" from small, cache-friendly arrays.
    filter: BitFilter,
}

/// The arena or an entry count passed 2^31: the index is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl StrSet {
    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn key_of<'a>(arena: &'a [u8], e: &Entry) -> &'a [u8] {
        let start = e.off as usize;
        &arena[start..start + e.key_len()]
    }

    /// Adds `indicator` to `key`'s postings (a repeat of the last one is ignored).
    pub fn insert(&mut self, hasher: &Hasher, key: &[u8], indicator: u32) -> Result<(), Full> {
        let hash = hash_key(hasher, key);
        let arena = &self.arena;
        let entries = &self.entries;
        let found = self
            .table
            .find(hash, |&i| Self::key_of(arena, &entries[i as usize]) == key)
            .copied();
        match found {
            Some(i) => {
                let e = &mut self.entries[i as usize];
                if e.len & MULTI == 0 {
                    if e.post == indicator {
                        return Ok(());
                    }
                    let list_no = u32::try_from(self.multi.len()).map_err(|_| Full)?;
                    if list_no >= MULTI {
                        return Err(Full);
                    }
                    self.multi.push(vec![e.post, indicator]);
                    e.post = list_no;
                    e.len |= MULTI;
                } else if let Some(list) = self.multi.get_mut(e.post as usize) {
                    if list.last() != Some(&indicator) {
                        list.push(indicator);
                    }
                }
                Ok(())
            }
            None => {
                let off = u32::try_from(self.arena.len()).map_err(|_| Full)?;
                let len = u32::try_from(key.len()).map_err(|_| Full)?;
                let no = u32::try_from(self.entries.len()).map_err(|_| Full)?;
                if len >= MULTI || no >= MULTI || self.arena.len() + key.len() > u32::MAX as usize {
                    return Err(Full);
                }
                self.arena.extend_from_slice(key);
                self.entries.push(Entry {
                    off,
                    len,
                    post: indicator,
                });
                let arena = &self.arena;
                let entries = &self.entries;
                self.table.insert_unique(hash, no, |&i| {
                    hash_key(hasher, Self::key_of(arena, &entries[i as usize]))
                });
                Ok(())
            }
        }
    }

    /// Ends the build phase: flattens shared postings and trims spare capacity.
    pub fn freeze(&mut self, hasher: &Hasher) {
        let multi = std::mem::take(&mut self.multi);
        self.ranges = Vec::with_capacity(multi.len());
        self.postings = Vec::with_capacity(multi.iter().map(Vec::len).sum());
        for list in multi {
            // Sizes were bounded by `insert`, so these conversions cannot truncate.
            let start = self.postings.len() as u32;
            self.ranges.push((start, list.len() as u32));
            self.postings.extend_from_slice(&list);
        }
        self.arena.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.filter = BitFilter::with_keys(self.entries.len());
        for e in &self.entries {
            let h = hash_key(hasher, Self::key_of(&self.arena, e));
            self.filter.insert(h);
        }
        let arena = &self.arena;
        let entries = &self.entries;
        self.table
            .shrink_to_fit(|&i| hash_key(hasher, Self::key_of(arena, &entries[i as usize])));
    }

    /// Starts loading the filter words a lookup of this hash reads first ([`prefetch`]).
    #[inline(always)]
    pub fn prefetch_hashed(&self, hash: u64) {
        self.filter.prefetch(hash);
    }

    /// The indicators of `key`, given its hash from [`hash_key`].
    pub fn get_hashed(&self, hash: u64, key: &[u8]) -> Option<&[u32]> {
        if !self.filter.may_contain(hash) {
            return None;
        }
        let i = *self.table.find(hash, |&i| {
            Self::key_of(&self.arena, &self.entries[i as usize]) == key
        })?;
        let e = &self.entries[i as usize];
        if e.len & MULTI == 0 {
            Some(std::slice::from_ref(&e.post))
        } else if let Some(list) = self.multi.get(e.post as usize) {
            // Lookups during the build phase (tests) see the unflattened lists.
            Some(list.as_slice())
        } else {
            let (start, len) = *self.ranges.get(e.post as usize)?;
            self.postings.get(start as usize..(start + len) as usize)
        }
    }

    /// The indicators of `key`.
    pub fn get(&self, hasher: &Hasher, key: &[u8]) -> Option<&[u32]> {
        if self.entries.is_empty() {
            return None;
        }
        self.get_hashed(hash_key(hasher, key), key)
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.ranges.capacity() * 8
            + self.postings.capacity() * 4
            + self.filter.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_shared_postings() {
        let h = Hasher::default();
        let mut s = StrSet::default();
        s.insert(&h, b"example.com", 1).unwrap();
        s.insert(&h, b"example.com", 1).unwrap();
        s.insert(&h, b"example.org", 2).unwrap();
        s.insert(&h, b"example.com", 3).unwrap();
        assert_eq!(s.get(&h, b"example.com"), Some(&[1, 3][..]));
        s.freeze(&h);
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(&h, b"example.com"), Some(&[1, 3][..]));
        assert_eq!(s.get(&h, b"example.org"), Some(&[2][..]));
        assert_eq!(s.get(&h, b"example.net"), None);
        assert_eq!(s.get(&h, b"example.co"), None);
        assert!(s.heap_bytes() > 0);
    }

    #[test]
    fn bit_filter_keeps_every_key_and_rejects_most_others() {
        let h = Hasher::default();
        let keys = 100_000usize;
        let mut f = BitFilter::with_keys(keys);
        assert!(BitFilter::default().may_contain(hash_key(&h, b"anything")));
        for i in 0..keys {
            f.insert(hash_key(&h, format!("present{i}").as_bytes()));
        }
        for i in 0..keys {
            assert!(f.may_contain(hash_key(&h, format!("present{i}").as_bytes())));
        }
        let passed = (0..keys)
            .filter(|i| f.may_contain(hash_key(&h, format!("absent{i}").as_bytes())))
            .count();
        // About 39 % pass the first level and 5 % the second: ~2 % together. Either level
        // alone (a broken level passes everything) would let through at least 5 %.
        assert!(
            passed < keys * 4 / 100,
            "{passed} of {keys} absent keys passed"
        );
    }

    #[test]
    fn many_keys() {
        let h = Hasher::default();
        let mut s = StrSet::default();
        for i in 0..10_000u32 {
            s.insert(&h, format!("host{i}.example").as_bytes(), i)
                .unwrap();
        }
        s.freeze(&h);
        for i in (0..10_000u32).step_by(97) {
            assert_eq!(
                s.get(&h, format!("host{i}.example").as_bytes()),
                Some(&[i][..])
            );
        }
        assert_eq!(s.get(&h, b"host10000.example"), None);
    }
}
