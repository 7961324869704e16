//! Helpers shared by the storage tests: building blocks on top of a store.
#![allow(dead_code)]

use aether_engine::ports::ExecutedBlock;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Block, BlockHeader, Event, Hash, Receipt, Status};
use aether_storage::{Store, StoreConfig};

/// Commits a block with `changes` and the given receipts (no transactions are needed by the
/// store beyond their count matching the receipts, so bodies carry none and receipts none
/// unless given).
pub fn commit(store: &Store, changes: ChangeSet) -> BlockHeader {
    commit_with(store, changes, Vec::new())
}

/// The block that would follow the head with `changes`, its state root computed.
pub fn next_block(store: &Store, changes: ChangeSet, receipts: Vec<Receipt>) -> ExecutedBlock {
    let (height, parent_hash) = match store.head() {
        None => (0, Hash::default()),
        Some(h) => (h.height + 1, h.hash()),
    };
    let state_root = store.root_after(&changes).expect("root_after");
    let transactions = receipts
        .iter()
        .map(|_| aether_engine::crypto::Keypair::dev("alice", false))
        .enumerate()
        .map(|(i, k)| {
            k.sign_tx(aether_engine::types::Transaction {
                chain_id: 1,
                nonce: i as u64,
                gas_limit: 1,
                gas_price: 1,
                action: aether_engine::types::Action::Transfer {
                    to: Address([9; 32]),
                    amount: 1,
                },
            })
        })
        .collect();
    ExecutedBlock {
        block: Block {
            header: BlockHeader {
                height,
                parent_hash,
                timestamp_ms: 1_000 * height,
                state_root,
                ..BlockHeader::default()
            },
            transactions,
        },
        receipts,
        changes,
    }
}

/// Commits a block with `changes` and `receipts`.
pub fn commit_with(store: &Store, changes: ChangeSet, receipts: Vec<Receipt>) -> BlockHeader {
    let executed = next_block(store, changes, receipts);
    store.commit(&executed).expect("commit");
    executed.block.header
}

/// A change set funding `addresses` with `balance` each.
pub fn fund(addresses: impl IntoIterator<Item = Address>, balance: u128) -> ChangeSet {
    let mut c = ChangeSet::default();
    for a in addresses {
        c.accounts.insert(a, Account::with_balance(balance));
    }
    c
}

/// A change set setting one storage entry.
pub fn set(contract: Address, key: &[u8], value: Option<&[u8]>) -> ChangeSet {
    let mut c = ChangeSet::default();
    c.storage
        .insert((contract, key.to_vec()), value.map(<[u8]>::to_vec));
    c
}

/// An address made of one repeated byte.
pub fn addr(b: u8) -> Address {
    Address([b; 32])
}

/// A successful receipt with the given events.
pub fn receipt(tx: u8, events: Vec<Event>) -> Receipt {
    Receipt {
        tx_hash: Hash([tx; 32]),
        status: Status::Success,
        gas_used: 21,
        return_data: Vec::new(),
        events,
        error: None,
        created: None,
    }
}

/// The default store configuration with a history window of `heights`.
pub fn with_history(heights: u64) -> StoreConfig {
    StoreConfig {
        state_history: heights,
        ..StoreConfig::default()
    }
}
pub mod legacy;
