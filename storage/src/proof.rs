//! Proofs that a state entry has (or has not) a value under a state root, checkable by anyone
//! who trusts a block header and has nothing else.

use aether_engine::types::Hash;
use jmt::RootHash;
use jmt::proof::SparseMerkleProof;
use parity_scale_codec::{Decode, Encode};

use crate::error::{Result, StorageError};
use crate::hasher::{Sha256, StateTree};
use crate::state_key::{StateKey, decode_leaf};
use crate::store::Store;
use crate::tree::NodeReader;

/// A state entry's value at a height and the Merkle proof binding it to that height's state root
/// (inclusion when `value` is `Some`, non-inclusion when `None`). SCALE-encoded for the wire;
/// the proof itself is the Jellyfish Merkle tree's borsh encoding of its sparse Merkle proof.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StateProof {
    /// The height whose state root the proof is against.
    pub height: u64,
    /// The entry.
    pub key: StateKey,
    /// Its value there, if any.
    pub value: Option<Vec<u8>>,
    /// The sparse Merkle proof.
    pub proof: Vec<u8>,
}

/// Why a proof does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof bytes are not a proof.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The proof does not lead to the root for this key and value.
    #[error("proof does not verify against root {root}: {reason}")]
    Mismatch {
        /// The root checked against.
        root: Hash,
        /// What failed.
        reason: String,
    },
}

impl StateProof {
    /// Checks the proof against `state_root` (from a trusted header at [`Self::height`]).
    pub fn verify(&self, state_root: &Hash) -> Result<(), ProofError> {
        let proof: SparseMerkleProof<Sha256> =
            borsh::from_slice(&self.proof).map_err(|e| ProofError::Malformed(e.to_string()))?;
        let leaf = self.value.as_ref().map(|v| self.key.leaf_value(v));
        let key_hash = self.key.key_hash();
        let root = RootHash(state_root.0);
        // The verifier is not ours: a panic inside it on hostile bytes is a failed proof.
        std::panic::catch_unwind(move || proof.verify(root, key_hash, leaf))
            .map_err(|_| ProofError::Malformed("the proof made the verifier panic".into()))?
            .map_err(|e| ProofError::Mismatch {
                root: *state_root,
                reason: format!("{e:#}"),
            })
    }
}

impl Store {
    /// The value of `key` after the block at `height`, with its proof against that block's
    /// state root.
    pub fn prove(&self, key: &StateKey, height: u64) -> Result<StateProof> {
        let view = self.state_at(height)?;
        let reader = NodeReader::new(&self.inner.db);
        let tree = StateTree::new(&reader);
        let proved = crate::tree::guarded(&self.inner.db, height, || {
            tree.get_with_proof(key.key_hash(), height)
        });
        // A prune that overtook the walk shows as missing nodes: that is "not kept".
        view.get(key)?;
        let (leaf, proof) = proved?;
        let value = match leaf {
            None => None,
            Some(leaf) => {
                let (leaf_key, value) = decode_leaf(&leaf)
                    .map_err(|e| self.inner.db.corrupt(format!("tree leaf of {key:?}"), e))?;
                if &leaf_key != key {
                    return Err(self.inner.db.corrupt(
                        format!("tree leaf of {key:?}"),
                        format!("holds the entry of {leaf_key:?}"),
                    ));
                }
                Some(value)
            }
        };
        Ok(StateProof {
            height,
            key: key.clone(),
            value,
            proof: borsh::to_vec(&proof).map_err(|e| StorageError::Tree(e.to_string()))?,
        })
    }
}
