//! # aether-storage
//!
//! Aether's persistent store on ParityDB: the engine's state and block ports
//! ([`aether_engine::ports::StateReader`], [`aether_engine::ports::StateRoot`],
//! [`aether_engine::ports::BlockCommitter`], [`aether_engine::ports::BlockReader`]) over one
//! database that holds
//!
//! - the state: accounts, contract code and contract storage, each in its own column, under a
//!   Jellyfish Merkle tree (the `jmt` crate) whose root every block header carries;
//! - inclusion and non-inclusion proofs ([`StateProof`]) that a client checks against a root;
//! - the state of a window of recent heights ([`StoreConfig::state_history`]), older versions
//!   pruned as blocks commit;
//! - blocks, a height index, receipts, a transaction index, an event index by contract and
//!   topic ([`Store::events`]) and consensus metadata;
//! - [`durable::DurableRecord`]: a small record in its own file, fsync'd before a write
//!   returns (consensus safety data, which ParityDB's delayed sync cannot hold);
//! - pending blocks: the state update of an executed, uncommitted block computed over its
//!   uncommitted ancestors ([`Store::speculate`]), read ([`Store::pending_view`]) and committed
//!   later without hashing again ([`Store::commit_pending`], with the consensus commit proof);
//! - snapshots: the state at a height in one file, restored onto an empty directory with the
//!   root checked chunk by chunk ([`restore_snapshot`]).
//!
//! Each block is one atomic ParityDB commit: block, state changes, receipts and indexes
//! together, after the block's new tree nodes were appended and synced to the node file
//! ([`node_store`]), which ParityDB's keys never index. ParityDB makes a commit visible at once
//! and durable shortly after (its log is written by a background thread): a crash loses at
//! most the last blocks, never part of one, and the store reopens at a committed block whose
//! state root matches (the node file, which may hold more, voids the blocks ParityDB lost).
//! `docs/storage.md` describes the layout.
//!
//! ```
//! use aether_engine::ports::ExecutedBlock;
//! use aether_engine::state::ChangeSet;
//! use aether_engine::types::*;
//! use aether_storage::{StateKey, Store, StoreConfig};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
//! let alice = Address([1; 32]);
//! let mut changes = ChangeSet::default();
//! changes.accounts.insert(alice, Account::with_balance(100));
//! let mut header = BlockHeader::default();
//! header.state_root = store.root_after(&changes).unwrap();
//! let block = Block { header, transactions: vec![] };
//! store.commit(&ExecutedBlock { block, receipts: vec![], changes }).unwrap();
//!
//! let proof = store.prove(&StateKey::Account(alice), 0).unwrap();
//! proof.verify(&store.head().unwrap().state_root).unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod blocks;
pub mod db;
pub mod durable;
mod error;
mod hasher;
mod latest_memo;
pub mod layout;
mod merkle;
mod node_cache;
pub mod node_file;
pub mod node_store;
mod parallel;
mod pending;
mod proof;
mod snapshot;
mod state_key;
mod store;
mod tree;
mod view;
mod warm;

pub use blocks::{EventFilter, EventRecord, MAX_EVENTS_SCANNED};
pub use error::{Result, StorageError};
pub use node_cache::NodeCacheStats;
pub use pending::{PendingState, PendingView};
pub use proof::{ProofError, StateProof};
pub use snapshot::{
    CHUNK_BYTES, CHUNK_ENTRIES, SnapshotHeader, SnapshotInfo, SnapshotListing, file_name,
    list_snapshots, read_info, restore_snapshot,
};
pub use state_key::StateKey;
pub use store::{
    ColumnWrites, CommitSize, DEFAULT_NODE_CACHE_BYTES, EntryCounts, PRUNE_VERSIONS_PER_COMMIT,
    Store, StoreConfig,
};
pub use tree::root_of;
pub use view::StateView;
