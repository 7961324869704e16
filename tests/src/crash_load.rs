//! The workload of the storage crash test: block `h`'s state changes are a pure function of
//! `h`, so a process killed at any point and a checker that never saw it agree on what the
//! state after any height must be.

use aether_engine::memory::MemoryState;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Hash};

/// Contracts whose storage the workload writes.
pub const CONTRACTS: u8 = 3;
/// Storage keys per contract.
pub const KEYS: u16 = 2000;
/// Accounts the workload writes.
pub const ACCOUNTS: u8 = 16;

/// A contract of the workload.
pub fn contract(i: u8) -> Address {
    Address([0xc0 + i; 32])
}

/// An account of the workload.
pub fn account(i: u8) -> Address {
    Address([i + 1; 32])
}

/// The state changes of block `height`: about 60 storage writes and removals, a few account
/// updates and now and then new code.
pub fn block_changes(height: u64) -> ChangeSet {
    let mut bytes = Vec::new();
    let mut counter = 0u64;
    let mut next = || {
        if bytes.is_empty() {
            bytes = Hash::of(&[height.to_le_bytes(), counter.to_le_bytes()].concat())
                .0
                .to_vec();
            counter += 1;
        }
        bytes.pop().expect("refilled")
    };
    let mut c = ChangeSet::default();
    for _ in 0..60 {
        let contract = contract(next() % CONTRACTS);
        let key = (u16::from(next()) << 8 | u16::from(next())) % KEYS;
        let value = match next() % 5 {
            0 => None,
            _ => {
                let len = next() % 64;
                Some((0..len).map(|_| next()).collect())
            }
        };
        c.storage
            .insert((contract, key.to_be_bytes().to_vec()), value);
    }
    for _ in 0..4 {
        let a = account(next() % ACCOUNTS);
        c.accounts.insert(
            a,
            Account {
                balance: u128::from(next()) << 64 | u128::from(height),
                nonce: height,
                ..Account::default()
            },
        );
    }
    if height.is_multiple_of(10) {
        let code: Vec<u8> = (0..1000).map(|i| (i as u64 ^ height) as u8).collect();
        c.code.insert(Hash::of(&code), code);
    }
    c
}

/// The state after applying blocks `0..=height`.
pub fn state_after(height: u64) -> MemoryState {
    let mut s = MemoryState::new();
    for h in 0..=height {
        s.apply(&block_changes(h));
    }
    s
}
