//! SHA-256 for the Jellyfish Merkle tree, from the workspace's `sha2` (the tree's own `sha2`
//! feature would pull a second version of the crate).

use jmt::SimpleHasher;
use sha2::Digest;

/// SHA-256 as a [`SimpleHasher`]. Every node hash, key hash and value hash of the state tree uses
/// it, so it is part of the state-root definition.
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl SimpleHasher for Sha256 {
    fn new() -> Self {
        Self(sha2::Sha256::new())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// The state tree, hashed with [`Sha256`].
pub type StateTree<'a, R> = jmt::JellyfishMerkleTree<'a, R, Sha256>;
