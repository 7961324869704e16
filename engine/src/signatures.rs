//! The verified-signature cache: hashes of signed transactions whose signatures were checked
//! (on admission to the pool, or in an earlier block execution), so that building or verifying
//! a block does not check them again. A transaction's hash covers its signer and signature, so
//! a hit means these exact bytes were verified: block validity never depends on the cache, only
//! the time it takes.
//!
//! Bounded by two generations of hashes: when the current one is full it becomes the old one
//! and the previous old one is dropped, so a hash stays at least `capacity / 2` insertions.

use std::collections::HashSet;
use std::sync::RwLock;

use crate::types::Hash;

type Set = HashSet<Hash, foldhash::fast::RandomState>;

/// Hashes of signed transactions whose signatures verified. Shared by the pool (which inserts
/// on admission) and block execution (which looks up, and inserts what it verified itself).
pub struct VerifiedSignatures {
    generations: RwLock<(Set, Set)>,
    per_generation: usize,
}

impl VerifiedSignatures {
    /// A cache holding at least `capacity / 2` and at most `capacity` hashes.
    pub fn new(capacity: usize) -> Self {
        Self {
            generations: RwLock::new((Set::default(), Set::default())),
            per_generation: (capacity / 2).max(1),
        }
    }

    /// Records that the signature of the transaction with hash `tx_hash` verified.
    pub fn insert(&self, tx_hash: Hash) {
        let mut g = self.generations.write().unwrap_or_else(|p| p.into_inner());
        if g.0.len() >= self.per_generation {
            let full = std::mem::take(&mut g.0);
            g.1 = full;
        }
        g.0.insert(tx_hash);
    }

    /// Whether the signature of the transaction with hash `tx_hash` is known to verify.
    pub fn contains(&self, tx_hash: &Hash) -> bool {
        let g = self.generations.read().unwrap_or_else(|p| p.into_inner());
        g.0.contains(tx_hash) || g.1.contains(tx_hash)
    }

    /// Number of hashes held.
    pub fn len(&self) -> usize {
        let g = self.generations.read().unwrap_or_else(|p| p.into_inner());
        g.0.len() + g.1.len()
    }

    /// Whether no hash is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> Hash {
        Hash::of(&i.to_le_bytes())
    }

    #[test]
    fn holds_what_was_inserted_and_stays_bounded() {
        let cache = VerifiedSignatures::new(100);
        for i in 0..1_000 {
            cache.insert(h(i));
            assert!(cache.contains(&h(i)));
            assert!(cache.len() <= 100);
        }
        // The last half-capacity insertions are always kept.
        for i in 950..1_000 {
            assert!(cache.contains(&h(i)), "{i}");
        }
        assert!(!cache.contains(&h(0)));
        assert!(!cache.contains(&h(5_000)));
    }
}
