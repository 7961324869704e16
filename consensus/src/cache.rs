//! A cache of signature checks that passed, so that a certificate, vote or proposal seen in
//! many messages (a QC travels in every proposal, timeout and sync message of its round) is
//! checked once. Verification is a pure function of the bytes and the validator set, so a hit
//! answers exactly what checking again would: caching changes cost, never outcomes.
//!
//! Keys are SHA-256 of the verifier's context (epoch, genesis certificate, validator keys, and
//! for proposals the leader seed), a kind and the message's encoding, so one cache may be
//! shared by several verifiers (the simulator shares one among all its validators). Only
//! successes are cached: a forged message is checked, and refused, every time it comes.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Checks that passed, with what they produced (a VRF output for proposals).
#[derive(Debug)]
pub struct VerifyCache {
    entries: Mutex<HashMap<[u8; 32], Vec<u8>>>,
    capacity: usize,
}

impl VerifyCache {
    /// A cache of at most `capacity` entries (it is emptied when full: entries are cheap to
    /// recompute and old rounds do not come back).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Vec<u8>>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key of `encoded`, a message of `kind`, checked in `context`.
    pub(crate) fn key(context: &[u8; 32], kind: &[u8], encoded: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update(context)
            .chain_update((kind.len() as u32).to_le_bytes())
            .chain_update(kind)
            .chain_update(encoded)
            .finalize()
            .into()
    }

    /// What a passed check of `key` produced, if it passed before.
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        self.lock().get(key).cloned()
    }

    /// Records that the check of `key` passed, producing `value`.
    pub(crate) fn insert(&self, key: [u8; 32], value: Vec<u8>) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, value);
    }
}
