//! [`ChangeSet`]: the state writes of a block, in canonical order.

use std::collections::BTreeMap;

use parity_scale_codec::{Decode, Encode};

use crate::types::{Account, Address, Hash};

/// All state writes of one or more transactions, sorted by key, so that the same execution
/// always gives the same bytes. Storage entries map to `None` when removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct ChangeSet {
    /// Accounts written (accounts are never deleted).
    pub accounts: BTreeMap<Address, Account>,
    /// Code stored, by hash (code is never deleted).
    pub code: BTreeMap<Hash, Vec<u8>>,
    /// Contract storage writes: `Some(value)` set, `None` removed.
    pub storage: BTreeMap<(Address, Vec<u8>), Option<Vec<u8>>>,
}

impl ChangeSet {
    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.code.is_empty() && self.storage.is_empty()
    }

    /// Number of keys written.
    pub fn len(&self) -> usize {
        self.accounts.len() + self.code.len() + self.storage.len()
    }

    /// SHA-256 of the SCALE encoding: equal hashes mean byte-identical change sets.
    pub fn hash(&self) -> Hash {
        Hash::of(&self.encode())
    }

    /// Folds `later` on top of `self` (later writes win).
    pub fn merge(&mut self, later: ChangeSet) {
        self.accounts.extend(later.accounts);
        self.code.extend(later.code);
        self.storage.extend(later.storage);
    }
}
