//! CIDR tables: one hash table per prefix length that occurs, keyed by the network bits.
//!
//! A lookup masks the address once per distinct prefix length present (at most 33 for
//! IPv4 and 129 for IPv6, in practice a handful) and probes that length's table, so it
//! finds every block that contains the address, from the longest prefix to the shortest.
//! Exact addresses are simply the `/32` or `/128` level.

use hashbrown::HashMap;
use std::hash::Hash;

const MULTI: u32 = 1 << 31;

/// An address family's key type.
pub trait Bits: Copy + Eq + Hash + std::fmt::Debug {
    /// Address width in bits.
    const WIDTH: u8;
    /// `self` with the host bits of a `len`-bit prefix cleared.
    fn masked(self, len: u8) -> Self;
    /// The top 16 bits.
    fn top16(self) -> usize;
    /// A well-mixed 64-bit hash (for the host filter).
    fn mix(self) -> u64;
}

impl Bits for u32 {
    const WIDTH: u8 = 32;
    fn masked(self, len: u8) -> Self {
        self & crate::normalize::mask4(len)
    }
    fn top16(self) -> usize {
        (self >> 16) as usize
    }
    fn mix(self) -> u64 {
        let h = u64::from(self).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Fold the well-mixed top bits into the low ones (the filter uses both ends).
        h ^ (h >> 31)
    }
}

impl Bits for u128 {
    const WIDTH: u8 = 128;
    fn masked(self, len: u8) -> Self {
        self & crate::normalize::mask6(len)
    }
    fn top16(self) -> usize {
        (self >> 112) as usize
    }
    fn mix(self) -> u64 {
        let folded = (self as u64) ^ ((self >> 64) as u64).rotate_left(29);
        let h = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 31)
    }
}

#[derive(Debug)]
struct Level<K> {
    len: u8,
    map: HashMap<K, u32>,
}

/// Blocks of one address family with the indicators that named them.
///
/// A 65,536-bit map of the top 16 bits of every block with a prefix of 16 bits or more
/// (other than single addresses) lets most lookups skip those levels' probes.
#[derive(Debug)]
pub struct IpTable<K: Bits> {
    /// Sorted by prefix length, longest first.
    levels: Vec<Level<K>>,
    gate: Vec<u64>,
    /// Frozen: a two-level bit filter of the single addresses (about 10 bits each); a
    /// clear bit skips the host-level probe.
    host_filter: crate::strset::BitFilter,
    /// Frozen: a 65,536-bit map of the top 16 bits of the single addresses (8 KiB, so it
    /// stays in cache): addresses of a /16 no indicator names (internal ranges, typically)
    /// skip the host filter's memory access.
    host_gate: Vec<u64>,
    multi: Vec<Vec<u32>>,
    count: usize,
    /// How many levels have a prefix of 16 bits or more, single addresses excluded
    /// (they follow the single addresses' level, if any, in `levels`).
    mid_levels: usize,
}

impl<K: Bits> Default for IpTable<K> {
    fn default() -> Self {
        IpTable {
            levels: Vec::new(),
            gate: Vec::new(),
            host_filter: crate::strset::BitFilter::default(),
            host_gate: Vec::new(),
            multi: Vec::new(),
            count: 0,
            mid_levels: 0,
        }
    }
}

impl<K: Bits> IpTable<K> {
    /// Number of distinct blocks.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no block.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds `indicator` for the block `net/len` (host bits are cleared here too).
    pub fn insert(&mut self, net: K, len: u8, indicator: u32) -> Result<(), crate::strset::Full> {
        let len = len.min(K::WIDTH);
        let net = net.masked(len);
        if (16..K::WIDTH).contains(&len) {
            if self.gate.is_empty() {
                self.gate = vec![0; 1024];
            }
            let t = net.top16();
            self.gate[t / 64] |= 1 << (t % 64);
        }
        let pos = match self.levels.iter().position(|l| l.len <= len) {
            Some(p) if self.levels[p].len == len => p,
            Some(p) => {
                self.levels.insert(
                    p,
                    Level {
                        len,
                        map: HashMap::new(),
                    },
                );
                p
            }
            None => {
                self.levels.push(Level {
                    len,
                    map: HashMap::new(),
                });
                self.levels.len() - 1
            }
        };
        self.mid_levels = self
            .levels
            .iter()
            .filter(|l| (16..K::WIDTH).contains(&l.len))
            .count();
        let map = &mut self.levels[pos].map;
        match map.get_mut(&net) {
            None => {
                map.insert(net, indicator);
                self.count += 1;
            }
            Some(v) if *v & MULTI == 0 => {
                if *v != indicator {
                    let no = u32::try_from(self.multi.len()).map_err(|_| crate::strset::Full)?;
                    if no >= MULTI {
                        return Err(crate::strset::Full);
                    }
                    self.multi.push(vec![*v, indicator]);
                    *v = no | MULTI;
                }
            }
            Some(v) => {
                if let Some(list) = self.multi.get_mut((*v & !MULTI) as usize) {
                    if list.last() != Some(&indicator) {
                        list.push(indicator);
                    }
                }
            }
        }
        Ok(())
    }

    /// Trims spare capacity after the build.
    pub fn freeze(&mut self) {
        for l in &mut self.levels {
            l.map.shrink_to_fit();
        }
        if let Some(host) = self.levels.first().filter(|l| l.len == K::WIDTH) {
            let mut filter = crate::strset::BitFilter::with_keys(host.map.len());
            let mut gate = vec![0u64; 1024];
            for k in host.map.keys() {
                filter.insert(k.mix());
                let t = k.top16();
                gate[t / 64] |= 1 << (t % 64);
            }
            self.host_filter = filter;
            self.host_gate = gate;
        }
        self.multi.shrink_to_fit();
    }

    /// Calls `f(prefix_len, indicators)` for every block containing `addr`, longest prefix
    /// first.
    pub fn lookup(&self, addr: K, mut f: impl FnMut(u8, &[u32])) {
        let t = addr.top16();
        let bit = |map: &[u64]| map.get(t / 64).is_some_and(|w| w & (1 << (t % 64)) != 0);
        let mut probe = |l: &Level<K>| {
            if let Some(v) = l.map.get(&addr.masked(l.len)) {
                if *v & MULTI == 0 {
                    f(l.len, std::slice::from_ref(v));
                } else if let Some(list) = self.multi.get((*v & !MULTI) as usize) {
                    f(l.len, list);
                }
            }
        };
        // Single addresses, then the blocks of 16 bits or more (only when the gate says
        // some block shares the address's top 16 bits), then the shorter ones.
        let mut levels = self.levels.as_slice();
        if let Some((host, rest)) = levels.split_first().filter(|(l, _)| l.len == K::WIDTH) {
            let filtered = !self.host_filter.is_empty()
                && (!bit(&self.host_gate) || !self.host_filter.may_contain(addr.mix()));
            if !filtered {
                probe(host);
            }
            levels = rest;
        }
        let (mid, low) = levels.split_at(self.mid_levels.min(levels.len()));
        if bit(&self.gate) {
            mid.iter().for_each(&mut probe);
        }
        low.iter().for_each(probe);
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.gate.capacity() * 8
            + self.host_filter.heap_bytes()
            + self.host_gate.capacity() * 8
            + self
                .levels
                .iter()
                .map(|l| l.map.capacity() * (std::mem::size_of::<K>() + 4 + 1))
                .sum::<usize>()
            + self
                .multi
                .iter()
                .map(|m| m.capacity() * 4 + 24)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }
    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }
    fn hits4(t: &IpTable<u32>, a: &str) -> Vec<(u8, Vec<u32>)> {
        let mut out = Vec::new();
        t.lookup(v4(a), |len, ids| out.push((len, ids.to_vec())));
        out
    }

    #[test]
    fn v4_edges() {
        let mut t = IpTable::<u32>::default();
        t.insert(v4("10.0.0.0"), 8, 1).unwrap();
        t.insert(v4("10.1.2.3"), 32, 2).unwrap();
        t.insert(v4("10.1.0.0"), 16, 3).unwrap();
        t.insert(v4("10.1.0.0"), 16, 4).unwrap();
        t.insert(v4("192.168.77.9"), 24, 5).unwrap(); // host bits cleared
        t.freeze();
        assert_eq!(t.len(), 4);
        assert_eq!(
            hits4(&t, "10.1.2.3"),
            vec![(32, vec![2]), (16, vec![3, 4]), (8, vec![1])]
        );
        assert_eq!(hits4(&t, "10.255.255.255"), vec![(8, vec![1])]);
        assert_eq!(hits4(&t, "11.0.0.0"), vec![]);
        assert_eq!(hits4(&t, "9.255.255.255"), vec![]);
        assert_eq!(hits4(&t, "192.168.77.0"), vec![(24, vec![5])]);
        assert_eq!(hits4(&t, "192.168.78.0"), vec![]);
    }

    #[test]
    fn host_filter_keeps_every_host() {
        let mut t = IpTable::<u32>::default();
        let mut t6 = IpTable::<u128>::default();
        for i in 0..20_000u32 {
            t.insert(i.wrapping_mul(2_654_435_761), 32, i).unwrap();
            t6.insert(u128::from(i) << 70 | 1, 128, i).unwrap();
        }
        t.freeze();
        t6.freeze();
        let mut found = 0;
        let mut absent_hits = 0;
        for i in 0..20_000u32 {
            t.lookup(i.wrapping_mul(2_654_435_761), |_, ids| found += ids.len());
            t6.lookup(u128::from(i) << 70 | 1, |_, ids| found += ids.len());
            t.lookup(i.wrapping_mul(2_654_435_761) ^ 1, |_, _| absent_hits += 1);
        }
        assert_eq!(found, 40_000);
        assert_eq!(absent_hits, 0);
    }

    #[test]
    fn v4_slash_zero_matches_everything() {
        let mut t = IpTable::<u32>::default();
        t.insert(v4("1.2.3.4"), 0, 7).unwrap();
        assert_eq!(hits4(&t, "0.0.0.0"), vec![(0, vec![7])]);
        assert_eq!(hits4(&t, "255.255.255.255"), vec![(0, vec![7])]);
    }

    #[test]
    fn v6_edges() {
        let mut t = IpTable::<u128>::default();
        t.insert(v6("2001:db8::"), 32, 1).unwrap();
        t.insert(v6("2001:db8::1"), 128, 2).unwrap();
        t.insert(v6("::"), 0, 3).unwrap();
        let mut got = Vec::new();
        t.lookup(v6("2001:db8::1"), |l, ids| got.push((l, ids.to_vec())));
        assert_eq!(got, vec![(128, vec![2]), (32, vec![1]), (0, vec![3])]);
        got.clear();
        t.lookup(v6("2001:db9::1"), |l, ids| got.push((l, ids.to_vec())));
        assert_eq!(got, vec![(0, vec![3])]);
    }

    /// Every lookup finds exactly the blocks that contain the address, longest first,
    /// with their indicators, before and after `freeze`: random blocks of every prefix
    /// length (a few sharing their top 16 bits), addresses inside, next to and far from
    /// them.
    #[test]
    fn lookups_agree_with_a_scan_of_every_block() {
        let mut x = 0x1A7_AB1E_u64;
        for round in 0..40 {
            let mut t = IpTable::<u32>::default();
            let mut blocks: Vec<(u32, u8, u32)> = Vec::new();
            let base = crate::xorshift(&mut x) as u32;
            for no in 0..1 + (crate::xorshift(&mut x) % 60) as u32 {
                let r = crate::xorshift(&mut x);
                let len = match r % 5 {
                    0 => 32,
                    1 => 16 + (r >> 8) as u8 % 16,
                    2 => (r >> 8) as u8 % 16,
                    3 => 16,
                    _ => 24 + (r >> 8) as u8 % 9,
                };
                // Half the blocks near one base address, so their top bits meet.
                let net = if r & 64 == 0 {
                    base ^ ((r >> 20) as u32 & 0xffff)
                } else {
                    (r >> 16) as u32
                };
                let net = net & crate::normalize::mask4(len);
                let no = if r & 128 == 0 { no } else { no / 2 };
                t.insert(net, len, no).unwrap();
                blocks.push((net, len, no));
            }
            if round % 2 == 0 {
                t.freeze();
            }
            for _ in 0..400 {
                let r = crate::xorshift(&mut x);
                let addr = match r % 3 {
                    0 => blocks[(r >> 8) as usize % blocks.len()].0 ^ ((r >> 40) as u32 & 0x3ff),
                    1 => base ^ ((r >> 20) as u32 & 0xffff),
                    _ => (r >> 24) as u32,
                };
                let mut want: Vec<(u8, Vec<u32>)> = Vec::new();
                let mut sorted = blocks.clone();
                sorted.sort_by_key(|b| std::cmp::Reverse(b.1));
                for (net, len, no) in sorted {
                    if addr & crate::normalize::mask4(len) != net {
                        continue;
                    }
                    match want.iter_mut().find(|w| w.0 == len) {
                        Some(w) if w.1.last() != Some(&no) => w.1.push(no),
                        Some(_) => {}
                        None => want.push((len, vec![no])),
                    }
                }
                let mut got: Vec<(u8, Vec<u32>)> = Vec::new();
                t.lookup(addr, |len, ids| got.push((len, ids.to_vec())));
                // Indicators of one block in insertion order; compare them as sets.
                for w in want.iter_mut().chain(got.iter_mut()) {
                    w.1.sort_unstable();
                    w.1.dedup();
                }
                assert_eq!(got, want, "round {round}, address {addr:#x}");
            }
        }
    }
}
