//! The chain in process: blocks built from the pool, the pool emptied by them, dry runs that
//! charge what real transactions are charged, and genesis checks on reopening.

use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Address, Status, Transaction};
use aether_node::chain::{Chain, ChainError};
use aether_node::genesis::Genesis;
use aether_storage::{Store, StoreConfig};

fn open(dir: &std::path::Path, genesis: Genesis) -> Result<Chain, ChainError> {
    Chain::open(Store::open(dir, StoreConfig::default())?, genesis)
}

fn transfer(key: &Keypair, nonce: u64, amount: u128) -> aether_engine::types::SignedTransaction {
    key.sign_tx(Transaction {
        chain_id: 1337,
        nonce,
        gas_limit: 50_000,
        gas_price: 1,
        action: Action::Transfer {
            to: Address([9; 32]),
            amount,
        },
    })
}

#[test]
fn blocks_take_the_pool_and_dry_runs_charge_what_blocks_charge() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path(), Genesis::dev()).unwrap();
    let alice = Keypair::dev("alice", false);
    let dry = chain
        .dry_run(
            alice.address(),
            Action::Transfer {
                to: Address([9; 32]),
                amount: 10,
            },
            None,
        )
        .unwrap();
    assert_eq!(dry.status, Status::Success);
    for nonce in 0..3 {
        chain.submit(transfer(&alice, nonce, 10), 0).unwrap();
    }
    let produced = chain.produce(1_000, Address([0xfe; 32])).unwrap();
    assert_eq!(produced.transactions, 3);
    assert_eq!(produced.header.height, 1);
    assert_eq!(chain.pool_counts(), (0, 0));
    let block = aether_engine::ports::BlockReader::block_by_height(chain.store(), 1)
        .unwrap()
        .unwrap();
    let (_, receipt) =
        aether_engine::ports::BlockReader::receipt(chain.store(), &block.transactions[0].hash())
            .unwrap()
            .unwrap();
    assert_eq!(
        receipt.gas_used, dry.gas_used,
        "dry-run gas is the charged gas"
    );
    assert_eq!(chain.account(&alice.address()).unwrap().unwrap().nonce, 3);
}

#[test]
fn a_transaction_execution_rejects_leaves_block_and_pool() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path(), Genesis::dev()).unwrap();
    let bob = Keypair::dev("bob", false);
    // Admitted while bob can pay for it...
    let balance = chain.account(&bob.address()).unwrap().unwrap().balance;
    chain
        .submit(transfer(&bob, 0, balance - 50_000), 0)
        .unwrap();
    let spend = transfer(&bob, 1, 1);
    // ...the pool refuses the second, which bob could not pay for together with the first.
    assert!(chain.submit(spend, 0).is_err());
    let produced = chain.produce(1_000, Address([0xfe; 32])).unwrap();
    assert_eq!(produced.transactions, 1);
    assert_eq!(chain.pool_counts(), (0, 0));
}

#[test]
fn a_database_of_another_genesis_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), Genesis::dev()).unwrap());
    let mut other = Genesis::dev();
    other.chain_id = 9;
    let err = open(dir.path(), other).err().expect("refused");
    assert!(matches!(err, ChainError::GenesisMismatch { .. }), "{err}");
    // The same genesis reopens.
    let chain = open(dir.path(), Genesis::dev()).unwrap();
    assert_eq!(chain.head().height, 0);
}

#[test]
fn dry_runs_do_not_fill_the_module_cache_blocks_use() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path(), Genesis::dev()).unwrap();
    let alice = Keypair::dev("alice", false);
    let before = chain.cached_modules();
    let token = wat::parse_str(include_str!("../../examples/wat/token.wat")).unwrap();
    for i in 0..5u8 {
        // Distinct modules: the token with a different custom section each time.
        let mut code = token.clone();
        code.extend_from_slice(&[0, 3, 1, b'a' + i, 0]);
        let r = chain
            .dry_run(alice.address(), Action::UploadCode { code }, None)
            .unwrap();
        assert_eq!(r.status, Status::Success, "{r:?}");
    }
    assert_eq!(chain.cached_modules(), before);
}

/// An upload the engine would refuse for its size is refused at the pool (-32025), before it
/// could pay for its bytes in a block and fail there.
#[test]
fn an_upload_over_the_code_size_limit_is_refused_at_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path(), Genesis::dev()).unwrap();
    let alice = Keypair::dev("alice", false);
    let upload = |len: usize| {
        alice.sign_tx(Transaction {
            chain_id: 1337,
            nonce: 0,
            gas_limit: 20_000_000,
            gas_price: 1,
            action: Action::UploadCode { code: vec![0; len] },
        })
    };
    let max = aether_engine::vm::MAX_CODE_SIZE;
    let refused = chain.submit(upload(max + 1), 0).unwrap_err();
    assert_eq!(refused.code(), -32025);
    assert!(refused.to_string().contains("code-size"), "{refused}");
    // At the limit it is admitted (and the engine judges the bytes).
    assert!(chain.submit(upload(max), 0).is_ok());
}

/// An account read at the head (cached per head height) is never older than the head the
/// reader saw before it asked, while blocks commit beside it: the receiving account's balance
/// read after seeing height h is at least its balance at h, and reads never go back.
#[test]
fn account_reads_are_never_older_than_the_head_seen_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let chain = std::sync::Arc::new(open(dir.path(), Genesis::dev()).unwrap());
    let alice = Keypair::dev("alice", false);
    let sink = Address([9; 32]);
    let blocks = 150u64;
    let start = chain.head().height;
    let reader = {
        let chain = chain.clone();
        std::thread::spawn(move || {
            let mut last = 0u128;
            let mut reads = 0u64;
            loop {
                let seen = chain.head().height;
                let balance = chain.account(&sink).unwrap().map_or(0, |a| a.balance);
                // One transfer of 1 per block since `start`.
                let floor = u128::from(seen - start);
                assert!(
                    balance >= floor,
                    "read {balance} after seeing height {seen} (at least {floor} by then)"
                );
                assert!(balance >= last, "a read went back: {last} then {balance}");
                last = balance;
                reads += 1;
                if seen >= start + blocks {
                    return reads;
                }
            }
        })
    };
    for nonce in 0..blocks {
        chain.submit(transfer(&alice, nonce, 1), 1_000).unwrap();
        let block = chain
            .produce(1_000 * (nonce + 1), Genesis::dev().validators[0].account)
            .unwrap();
        assert_eq!(block.transactions, 1);
    }
    let reads = reader.join().expect("no stale read");
    assert!(
        reads > blocks,
        "the reader ran beside the blocks ({reads} reads)"
    );
}
