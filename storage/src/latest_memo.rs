//! What the latest columns held, for the keys read since the last commit.
//!
//! A block's execution reads every key it changes (a transfer reads both accounts) through a
//! [`crate::PendingView`], and its state root then needs each changed key's previous version
//! (the version that wrote it and whether it was a removal): for the stale list, and to know
//! that a key's leaf is its own without reading it. Both come from the same latest-column entry,
//! so a read records `(version, present)` here and [`crate::Store::speculate`] finds it without
//! a second database read (at 10M accounts a point read that misses the page cache costs more
//! than the rest of the key's share of the root).
//!
//! Only commits change the latest columns. A commit clears the memo after its write is visible
//! and moves the memo's epoch; a read records its entry only if the epoch it started in is
//! still the current one, checked under the shard's lock (as the node cache does), so an entry
//! read before a commit is never recorded after it. The memo is bounded
//! ([`LATEST_MEMO_BYTES`]); when a shard is full, reads stop recording in it until the next
//! commit.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::state_key::StateKey;
use crate::store::lock;

/// A key's latest-column entry, reduced to what a root needs: `None` for no entry, else the
/// version that wrote it and whether it holds a value (`false`: a removal not yet pruned).
pub(crate) type LatestEntry = Option<(u64, bool)>;

/// The memo's memory bound (keys counted with their heap bytes): about 270,000 account keys,
/// a block of 100,000 transfers' reads.
pub(crate) const LATEST_MEMO_BYTES: usize = 32 << 20;

const SHARDS: usize = 16;

/// What one entry takes beside a storage key's bytes: the key and entry inline, the hash map's
/// control byte and spare capacity.
const ENTRY_BYTES: usize = size_of::<StateKey>() + size_of::<LatestEntry>() + 48;

pub(crate) struct LatestMemo {
    epoch: AtomicU64,
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    shard_budget: usize,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<StateKey, LatestEntry>,
    bytes: usize,
}

impl LatestMemo {
    pub fn new(budget: usize) -> Self {
        Self {
            epoch: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            shard_budget: budget / SHARDS,
        }
    }

    /// The epoch a read starts in: pass it to [`LatestMemo::record`] with what it read.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The entry recorded for `key`, if any.
    pub fn get(&self, key: &StateKey) -> Option<LatestEntry> {
        lock(self.shard(key)).entries.get(key).copied()
    }

    /// Records what a read that started in epoch `read_at` found for `key`, unless a commit
    /// came in between or the shard is full.
    pub fn record(&self, key: &StateKey, entry: LatestEntry, read_at: u64) {
        let mut shard = lock(self.shard(key));
        if self.epoch.load(Ordering::SeqCst) != read_at || shard.entries.contains_key(key) {
            return;
        }
        let bytes = ENTRY_BYTES + heap_bytes(key);
        if shard.bytes + bytes > self.shard_budget {
            return;
        }
        shard.bytes += bytes;
        shard.entries.insert(key.clone(), entry);
    }

    /// Forgets everything: called by a commit once its writes are visible to reads.
    pub fn clear(&self) {
        // First the epoch, then each shard under its lock: a read that started before this
        // either records before its shard is cleared or sees the new epoch.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            shard.entries = HashMap::new();
            shard.bytes = 0;
        }
    }

    /// Entries recorded, and the bytes they count for.
    #[cfg(test)]
    pub fn len_and_bytes(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(n, b), shard| {
            let shard = lock(shard);
            (n + shard.entries.len(), b + shard.bytes)
        })
    }

    fn shard(&self, key: &StateKey) -> &Mutex<Shard> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }
}

fn heap_bytes(key: &StateKey) -> usize {
    match key {
        StateKey::Storage(_, k) => k.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_engine::types::{Address, Hash};

    fn account(i: u8) -> StateKey {
        StateKey::Account(Address([i; 32]))
    }

    #[test]
    fn a_read_that_started_before_a_commit_is_not_recorded() {
        let memo = LatestMemo::new(LATEST_MEMO_BYTES);
        let read_at = memo.epoch();
        memo.record(&account(1), Some((3, true)), read_at);
        assert_eq!(memo.get(&account(1)), Some(Some((3, true))));
        let before_commit = memo.epoch();
        memo.clear();
        assert_eq!(
            memo.get(&account(1)),
            None,
            "a commit forgets what was read"
        );
        memo.record(&account(2), None, before_commit);
        assert_eq!(
            memo.get(&account(2)),
            None,
            "read before the commit, recorded after"
        );
        memo.record(&account(2), None, memo.epoch());
        assert_eq!(memo.get(&account(2)), Some(None));
    }

    #[test]
    fn the_memo_stays_within_its_budget_and_is_empty_after_a_commit() {
        let budget = SHARDS * 10 * ENTRY_BYTES;
        let memo = LatestMemo::new(budget);
        for i in 0..=255u8 {
            memo.record(&account(i), Some((u64::from(i), true)), memo.epoch());
            memo.record(&StateKey::Code(Hash([i; 32])), None, memo.epoch());
        }
        let (entries, bytes) = memo.len_and_bytes();
        assert!(bytes <= budget, "{bytes} bytes recorded, budget {budget}");
        assert!(
            entries >= SHARDS * 5,
            "{entries} entries: shards filled far below their budget"
        );
        memo.clear();
        assert_eq!(memo.len_and_bytes(), (0, 0));
        // A key already recorded keeps its entry (a second read finds the same one).
        memo.record(&account(7), Some((1, true)), memo.epoch());
        memo.record(&account(7), Some((9, false)), memo.epoch());
        assert_eq!(memo.get(&account(7)), Some(Some((1, true))));
        assert_eq!(memo.len_and_bytes(), (1, ENTRY_BYTES));
        // A storage key counts with its bytes.
        let long = StateKey::Storage(Address([1; 32]), vec![1; 500]);
        memo.record(&long, None, memo.epoch());
        assert_eq!(memo.get(&long), Some(None));
        assert_eq!(memo.len_and_bytes(), (2, 2 * ENTRY_BYTES + 500));
    }
}
