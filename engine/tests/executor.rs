//! Block executor properties: validation of transactions, limits, fees, backend failures.

mod common;

use std::sync::Arc;

use aether_engine::crypto::Keypair;
use aether_engine::memory::MemoryState;
use aether_engine::ports::{StateReader, StoreError};
use aether_engine::types::{Account, Action, Address, BlockEnv, Hash, Status, Transaction};
use aether_engine::{Executor, GasSchedule, Vm};

fn env() -> BlockEnv {
    BlockEnv {
        chain_id: 9,
        height: 3,
        timestamp_ms: 5,
        proposer: Address([0xEE; 32]),
        gas_limit: 1_000_000,
    }
}

fn transfer(k: &Keypair, nonce: u64, amount: u128) -> aether_engine::types::SignedTransaction {
    k.sign_tx(Transaction {
        chain_id: 9,
        nonce,
        gas_limit: 100_000,
        gas_price: 2,
        action: Action::Transfer {
            to: Address([0xB0; 32]),
            amount,
        },
    })
}

#[test]
fn invalid_transactions_are_rejected_without_any_state_change() {
    let alice = Keypair::dev("alice", false);
    let poor = Keypair::dev("poor", true);
    let state = Arc::new(MemoryState::with_balances([
        (alice.address(), 1_000_000),
        (poor.address(), 10),
    ]));
    let mut bad_sig = transfer(&alice, 0, 1);
    bad_sig.signature.0[0] ^= 1;
    let mut wrong_chain = transfer(&alice, 0, 1);
    wrong_chain.tx.chain_id = 8;
    let wrong_chain = alice.sign_tx(wrong_chain.tx);
    let txs = vec![
        bad_sig,
        wrong_chain,
        transfer(&alice, 5, 1), // future nonce
        transfer(&poor, 0, 1),  // cannot pay the maximum fee
        alice.sign_tx(Transaction {
            gas_limit: 10,
            ..transfer(&alice, 0, 1).tx
        }), // below intrinsic gas
        alice.sign_tx(Transaction {
            gas_limit: 2_000_000,
            ..transfer(&alice, 0, 1).tx
        }), // over block gas
    ];
    let exec = Executor::new(Vm::new(GasSchedule::V1, 8));
    let out = exec.execute_block(state, &env(), &txs).unwrap();
    for r in &out.receipts {
        assert_eq!(r.status, Status::Rejected, "{:?}", r.error);
        assert_eq!(r.gas_used, 0);
        assert!(r.error.is_some());
    }
    assert!(out.changes.is_empty(), "{:?}", out.changes);
    assert_eq!(out.gas_used, 0);
}

#[test]
fn nonces_sequence_within_a_block_and_fees_go_to_the_proposer() {
    let alice = Keypair::dev("alice", true);
    let state = Arc::new(MemoryState::with_balances([(alice.address(), 1_000_000)]));
    let txs: Vec<_> = (0..3).map(|n| transfer(&alice, n, 10)).collect();
    let exec = Executor::new(Vm::new(GasSchedule::V1, 8));
    let out = exec.execute_block(state, &env(), &txs).unwrap();
    assert!(out.receipts.iter().all(|r| r.status == Status::Success));
    let fees: u128 = out
        .receipts
        .iter()
        .map(|r| u128::from(r.gas_used) * 2)
        .sum();
    let a = &out.changes.accounts[&alice.address()];
    assert_eq!(a.nonce, 3);
    assert_eq!(a.balance, 1_000_000 - 30 - fees);
    assert_eq!(out.changes.accounts[&Address([0xEE; 32])].balance, fees);
    assert_eq!(out.changes.accounts[&Address([0xB0; 32])].balance, 30);
}

#[test]
fn block_gas_limit_bounds_the_block() {
    let alice = Keypair::dev("alice", false);
    let state = Arc::new(MemoryState::with_balances([(alice.address(), 1 << 60)]));
    // Each transfer reserves its 100k gas limit; the block has 1M, so it spends about 6k each
    // and many fit; a transaction whose limit exceeds what is left is rejected.
    let txs: Vec<_> = (0..200).map(|n| transfer(&alice, n, 1)).collect();
    let exec = Executor::new(Vm::new(GasSchedule::V1, 8));
    let out = exec.execute_block(state, &env(), &txs).unwrap();
    assert!(out.gas_used <= env().gas_limit);
    let rejected = out
        .receipts
        .iter()
        .filter(|r| r.status == Status::Rejected)
        .count();
    assert!(rejected > 0, "the block filled up");
    let first_rejected = out
        .receipts
        .iter()
        .position(|r| r.status == Status::Rejected)
        .unwrap();
    assert!(
        out.receipts[first_rejected]
            .error
            .as_deref()
            .unwrap()
            .contains("block gas")
    );
}

/// A backend that fails every storage read, as a corrupt database would.
struct Failing(MemoryState);

impl StateReader for Failing {
    fn account(&self, a: &Address) -> Result<Option<Account>, StoreError> {
        self.0.account(a)
    }
    fn code(&self, h: &Hash) -> Result<Option<Arc<[u8]>>, StoreError> {
        self.0.code(h)
    }
    fn storage(&self, _: &Address, _: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
}

#[test]
fn backend_failure_aborts_the_block_with_an_error_instead_of_charging_the_sender() {
    let alice = Keypair::dev("alice", false);
    let mut sb = aether_engine::sandbox::Sandbox::new(MemoryState::with_balances([(
        alice.address(),
        1 << 60,
    )]));
    sb.env_mut().chain_id = 9;
    let token = sb
        .deploy(
            alice.address(),
            common::wasm(&common::token()),
            100u128.to_le_bytes().to_vec(),
        )
        .unwrap();
    let nonce = sb.state().accounts[&alice.address()].nonce;
    let state = Arc::new(Failing(sb.into_state()));
    let tx = alice.sign_tx(Transaction {
        chain_id: 9,
        nonce,
        gas_limit: 500_000,
        gas_price: 1,
        action: Action::Call {
            contract: token,
            method: "transfer".into(),
            input: common::transfer_input(&Address([2; 32]), 1),
            value: 0,
        },
    });
    let exec = Executor::new(Vm::new(GasSchedule::V1, 8));
    let err = exec.execute_block(state, &env(), &[tx]).unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
}

/// Verification stops at the first transaction execution rejects, and skips the signature
/// checks of the chunks after it; with the verified-signature cache, a transaction checked
/// once is not checked again, and outcomes are the same with or without the cache.
#[test]
fn verification_stops_at_the_first_rejected_transaction_and_the_cache_changes_no_outcome() {
    use aether_engine::VerifiedSignatures;
    use aether_engine::types::SealedTransaction;
    let keys: Vec<Keypair> = (0..4_000)
        .map(|i| Keypair::dev(&format!("v{i}"), false))
        .collect();
    let state = Arc::new(MemoryState::with_balances(
        keys.iter().map(|k| (k.address(), 1_000_000_000)),
    ));
    let env = BlockEnv {
        gas_limit: u64::MAX,
        ..env()
    };
    let mut txs: Vec<SealedTransaction> = keys
        .iter()
        .map(|k| SealedTransaction::seal(transfer(k, 0, 1)))
        .collect();
    let plain = Executor::new(Vm::new(GasSchedule::V1, 4));
    let cache = Arc::new(VerifiedSignatures::new(100_000));
    let cached = Executor::with_verified_signatures(Vm::new(GasSchedule::V1, 4), cache.clone());

    // A valid block: the same outcome with and without the cache, and again from the cache.
    let expected = plain.execute_sealed(state.clone(), &env, &txs).unwrap();
    assert_eq!(
        cached.execute_sealed(state.clone(), &env, &txs).unwrap(),
        expected
    );
    assert_eq!(
        cache.len(),
        txs.len(),
        "every checked signature is remembered"
    );
    assert_eq!(
        cached.verify_sealed(state.clone(), &env, &txs).unwrap(),
        Ok(expected)
    );

    // A bad signature first: verification stops there, and most later chunks go unchecked.
    let mut bad = txs[0].signed().clone();
    bad.signature.0[0] ^= 1;
    txs[0] = SealedTransaction::seal(bad);
    let fresh = Arc::new(VerifiedSignatures::new(100_000));
    let verifier = Executor::with_verified_signatures(Vm::new(GasSchedule::V1, 4), fresh.clone());
    match verifier.verify_sealed(state.clone(), &env, &txs).unwrap() {
        Err((index, receipt)) => {
            assert_eq!(index, 0);
            assert_eq!(receipt.status, Status::Rejected);
            assert_eq!(receipt.error.as_deref(), Some("invalid signature"));
        }
        Ok(_) => panic!("a block with a bad signature verified"),
    }
    assert!(
        fresh.len() < txs.len() / 2,
        "{} of {} signatures were checked after the stop",
        fresh.len(),
        txs.len()
    );
    // Executing (not verifying) it runs every transaction, the bad one rejected.
    let out = plain.execute_sealed(state, &env, &txs).unwrap();
    assert_eq!(out.receipts.len(), txs.len());
    assert_eq!(out.receipts[0].status, Status::Rejected);
}
