//! Helpers shared by the storage benchmarks.

use aether_engine::ports::ExecutedBlock;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Block, BlockHeader, Hash};
use aether_storage::Store;

/// The block with `changes` and `state_root` that extends the store's head (no transactions).
pub fn next_block(store: &Store, changes: ChangeSet, state_root: Hash) -> ExecutedBlock {
    let (height, parent_hash) = store
        .head()
        .map_or((0, Hash::default()), |h| (h.height + 1, h.hash()));
    ExecutedBlock {
        block: Block {
            header: BlockHeader {
                height,
                parent_hash,
                state_root,
                ..BlockHeader::default()
            },
            transactions: vec![],
        },
        receipts: vec![],
        changes,
    }
}

/// Computes the root of `changes` on the head and commits them as the next block.
pub fn commit(store: &Store, changes: ChangeSet) {
    let state_root = store.root_after(&changes).unwrap();
    store
        .commit(&next_block(store, changes, state_root))
        .unwrap();
}

/// Cheap deterministic pseudo-random numbers (xorshift64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
