//! Keys of the state tree and the bytes its leaves hold.
//!
//! Every piece of state is one leaf of the tree. Its key hash is SHA-256 of the SCALE-encoded
//! [`StateKey`]; its value is the SCALE encoding of `(StateKey, Vec<u8>)`, so that a leaf carries
//! its own preimage (snapshots and restores need it) and a proof binds key and value together.

use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Hash};
use jmt::{KeyHash, SimpleHasher};
use parity_scale_codec::{Decode, Encode};

use crate::hasher::Sha256;

/// What a state entry is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum StateKey {
    /// An account (value: the SCALE-encoded [`Account`]).
    Account(Address),
    /// Contract code (value: the WASM bytes).
    Code(Hash),
    /// One entry of a contract's storage (value: the stored bytes).
    Storage(Address, Vec<u8>),
}

impl StateKey {
    /// The key hash that places this entry in the tree.
    pub fn key_hash(&self) -> KeyHash {
        KeyHash(Sha256::hash(self.encode()))
    }

    /// The bytes a leaf holds for this key with `value`.
    pub fn leaf_value(&self, value: &[u8]) -> Vec<u8> {
        (self, value).encode()
    }
}

/// Splits leaf bytes into key and value.
pub fn decode_leaf(bytes: &[u8]) -> Result<(StateKey, Vec<u8>), parity_scale_codec::Error> {
    let mut input = bytes;
    let out = <(StateKey, Vec<u8>)>::decode(&mut input)?;
    if !input.is_empty() {
        return Err("trailing bytes after a state leaf".into());
    }
    Ok(out)
}

/// A change set as state-tree writes: each key with its new value, `None` for a removal.
pub fn writes_of(changes: &ChangeSet) -> Vec<(StateKey, Option<Vec<u8>>)> {
    let mut out = Vec::with_capacity(changes.len());
    for (address, account) in &changes.accounts {
        out.push((StateKey::Account(*address), Some(account.encode())));
    }
    for (hash, code) in &changes.code {
        out.push((StateKey::Code(*hash), Some(code.clone())));
    }
    for ((contract, key), value) in &changes.storage {
        out.push((StateKey::Storage(*contract, key.clone()), value.clone()));
    }
    out
}

/// Decodes an account value.
pub fn decode_account(bytes: &[u8]) -> Result<Account, parity_scale_codec::Error> {
    Account::decode(&mut &bytes[..])
}
