//! [`SharedIndex`]: the current index behind an atomic pointer, swapped whole.

use crate::Index;
use arc_swap::{ArcSwap, Guard};
use std::sync::Arc;

/// Holds the current [`Index`]. Readers take a cheap snapshot with
/// [`SharedIndex::load`] (no lock, no allocation); a writer builds a new index on another
/// thread and publishes it with [`SharedIndex::store`]. Readers that hold an old snapshot
/// keep using it until they drop it, so a swap never pauses lookups.
#[derive(Debug)]
pub struct SharedIndex {
    current: ArcSwap<Index>,
}

impl Default for SharedIndex {
    fn default() -> Self {
        SharedIndex::new(Index::default())
    }
}

impl SharedIndex {
    /// Starts with `index`.
    pub fn new(index: Index) -> Self {
        SharedIndex {
            current: ArcSwap::from_pointee(index),
        }
    }

    /// A snapshot for one batch of lookups (cheap; do not hold it for long).
    pub fn load(&self) -> Guard<Arc<Index>> {
        self.current.load()
    }

    /// A snapshot that may be kept.
    pub fn load_full(&self) -> Arc<Index> {
        self.current.load_full()
    }

    /// Publishes a new index and returns the one it replaces.
    pub fn store(&self, index: Index) -> Arc<Index> {
        self.current.swap(Arc::new(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IndexBuilder, Ioc, LookupScratch, ValueKind};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    fn build(generation: u64, domain: &str) -> Index {
        let mut b = IndexBuilder::new().generation(generation);
        let no = b.add_indicator("indicator--swap").unwrap();
        b.add_ioc(no, Ioc::Domain(domain)).unwrap();
        b.build().unwrap()
    }

    #[test]
    fn swap_while_reading() {
        let shared = Arc::new(SharedIndex::new(build(1, "old.example")));
        let stop = Arc::new(AtomicBool::new(false));
        let seen_new = Arc::new(AtomicU64::new(0));
        let reader = {
            let (shared, stop, seen_new) = (shared.clone(), stop.clone(), seen_new.clone());
            std::thread::spawn(move || {
                let mut scratch = LookupScratch::default();
                let mut lookups = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ix = shared.load();
                    let mut hit_old = false;
                    let mut hit_new = false;
                    ix.lookup(ValueKind::Domain, "old.example", &mut scratch, |_| {
                        hit_old = true
                    });
                    ix.lookup(ValueKind::Domain, "new.example", &mut scratch, |_| {
                        hit_new = true
                    });
                    // A snapshot is always one whole index: exactly one of the two hits.
                    assert!(hit_old ^ hit_new, "generation {}", ix.generation());
                    assert_eq!(hit_new, ix.generation() == 2);
                    if hit_new {
                        seen_new.fetch_add(1, Ordering::Relaxed);
                    }
                    lookups += 1;
                }
                lookups
            })
        };
        let next = std::thread::spawn(|| build(2, "new.example"))
            .join()
            .unwrap();
        let old = shared.store(next);
        assert_eq!(old.generation(), 1);
        while seen_new.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        assert_eq!(shared.load_full().generation(), 2);
    }
}
