//! The state tree's writer: a batched update of the Jellyfish Merkle tree that reads, rebuilds
//! and hashes each touched node once, on two threads for large blocks.
//!
//! It writes jmt's tree: the same shape and hashes (so the same roots), so proofs, snapshots and
//! restores, which still go through the `jmt` crate's readers, are unchanged; the stored
//! encoding differs (compact internal nodes, some stored as deltas on an older node of their
//! path, leaves that carry their values), and the store
//! turns a node into jmt's encoding when jmt reads it. Only which unchanged leaves get rewritten at the new version may differ (jmt's
//! key-by-key update rewrites a leaf that an intermediate step moved, depending on the order of
//! the keys); a property test checks the roots against jmt, the tree's structure, the stale set
//! and jmt's proofs from it. jmt's writer is slow for whole blocks: it walks and rehashes the full path of every key one by one
//! and clones each node it touches several times (about 15 µs per changed key at 100k entries
//! on the benchmark machine).

mod new_nodes;
pub mod node;
mod read;
#[cfg(test)]
mod tests;
pub mod update;

pub use node::{Node, Path, decode_stored};
pub use read::find_leaf;
pub use update::{NodeSource, TreeUpdate, UpdateError, Write, update};
