//! Pending blocks (the consensus port's build / verify / commit): a second node verifies what
//! the first built and refuses each tampered block with its reason; a random tree of pending
//! blocks with forks, committed along one branch, ends exactly where executing that branch
//! alone from genesis ends, leaving nothing of the losing forks in the database and their
//! still-valid transactions in the pool.

use std::collections::{BTreeMap, BTreeSet};

use aether_engine::crypto::Keypair;
use aether_engine::ports::{BlockId, BuildFailure, CommitFailure, InvalidBlock, NotYet, Verdict};
use aether_engine::types::{
    Action, Address, Block, BlockHeader, SignedTransaction, Transaction, list_root,
};
use aether_node::chain::{Chain, MAX_DRIFT_MS};
use aether_node::genesis::Genesis;
use aether_storage::{Store, StoreConfig};
use proptest::prelude::*;

const PROPOSER: Address = Address([0xfe; 32]);
const SENDERS: [&str; 3] = ["alice", "bob", "charlie"];

fn open(dir: &std::path::Path) -> Chain {
    Chain::open(
        Store::open(dir, StoreConfig::default()).unwrap(),
        Genesis::dev(),
    )
    .unwrap()
}

fn key(name: &str) -> Keypair {
    Keypair::dev(name, false)
}

fn transfer(from: &Keypair, nonce: u64, amount: u128, price: u128) -> SignedTransaction {
    from.sign_tx(Transaction {
        chain_id: Genesis::dev().chain_id,
        nonce,
        gas_limit: 50_000,
        gas_price: price,
        action: Action::Transfer {
            to: Address([9; 32]),
            amount,
        },
    })
}

fn build(chain: &Chain, parent: &BlockHeader, timestamp_ms: u64) -> Block {
    chain
        .build(parent.hash(), parent.height + 1, timestamp_ms, PROPOSER)
        .unwrap()
        .unwrap()
}

fn refused(chain: &Chain, block: &Block) -> InvalidBlock {
    match chain.verify(block, block.header.timestamp_ms).unwrap() {
        Verdict::Invalid(why) => why,
        other => panic!("the block must be refused as invalid, got {other:?}"),
    }
}

/// Re-signs nothing: recomputes the header's transaction root after the transactions changed.
fn with_txs(block: &Block, transactions: Vec<SignedTransaction>) -> Block {
    let mut b = block.clone();
    b.header.tx_root = list_root(&transactions);
    b.transactions = transactions;
    b
}

#[test]
fn a_second_node_verifies_what_the_first_built_and_refuses_each_tampered_block() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (builder, verifier) = (open(a_dir.path()), open(b_dir.path()));
    let alice = key("alice");
    for nonce in 0..3 {
        builder.submit(transfer(&alice, nonce, 10, 1), 0).unwrap();
    }
    let genesis = builder.head();
    let block = build(&builder, &genesis, 10_000);
    assert_eq!(block.transactions.len(), 3);

    // Each tampering, with what the verifier must say.
    let mut b = block.clone();
    b.header.state_root.0[0] ^= 1;
    assert!(matches!(
        refused(&verifier, &b),
        InvalidBlock::StateRoot { .. }
    ));
    let mut b = block.clone();
    b.header.tx_root.0[0] ^= 1;
    assert!(matches!(
        refused(&verifier, &b),
        InvalidBlock::TxRoot { .. }
    ));
    let mut b = block.clone();
    b.header.receipts_root.0[0] ^= 1;
    assert!(matches!(
        refused(&verifier, &b),
        InvalidBlock::ReceiptsRoot { .. }
    ));
    let mut b = block.clone();
    b.header.gas_used += 1;
    assert!(matches!(
        refused(&verifier, &b),
        InvalidBlock::GasUsed { .. }
    ));
    let mut b = block.clone();
    b.header.gas_limit -= 1;
    assert!(matches!(
        refused(&verifier, &b),
        InvalidBlock::GasLimit { .. }
    ));
    let mut b = block.clone();
    b.header.timestamp_ms = genesis.timestamp_ms;
    assert!(matches!(
        refused(&verifier, &b),
        InvalidBlock::TimestampNotAfterParent { .. }
    ));
    let mut b = block.clone();
    b.header.height = 2;
    assert!(matches!(
        refused(&verifier, &b),
        InvalidBlock::Height { .. }
    ));
    // Not decidable yet (not invalid): an unknown parent, a timestamp ahead of the clock.
    let mut b = block.clone();
    b.header.parent_hash.0[0] ^= 1;
    assert!(matches!(
        verifier.verify(&b, 10_000).unwrap(),
        Verdict::NotYet(NotYet::UnknownParent(_))
    ));
    let ahead = verifier
        .verify(&block, block.header.timestamp_ms - MAX_DRIFT_MS - 1)
        .unwrap();
    assert!(matches!(
        ahead,
        Verdict::NotYet(NotYet::TimestampAhead { .. })
    ));
    // More transactions than the gas limit can pay for, refused before anything runs.
    let many = vec![block.transactions[0].clone(); builder.max_block_txs() + 1];
    assert!(matches!(
        refused(&verifier, &with_txs(&block, many)),
        InvalidBlock::TooManyTransactions { .. }
    ));

    // A bad signature.
    let mut txs = block.transactions.clone();
    txs[1].signature.0[3] ^= 1;
    match refused(&verifier, &with_txs(&block, txs)) {
        InvalidBlock::Inadmissible { index, reason, .. } => {
            assert_eq!(index, 1);
            assert_eq!(reason, "invalid signature");
        }
        other => panic!("{other}"),
    }
    // A transaction over the block's gas limit.
    let greedy = alice.sign_tx(Transaction {
        chain_id: Genesis::dev().chain_id,
        nonce: 0,
        gas_limit: Genesis::dev().block_gas_limit + 1,
        gas_price: 1,
        action: Action::Transfer {
            to: Address([9; 32]),
            amount: 1,
        },
    });
    match refused(&verifier, &with_txs(&block, vec![greedy])) {
        InvalidBlock::Inadmissible {
            index: 0, reason, ..
        } => {
            assert!(reason.contains("exceeds the block gas left"), "{reason}")
        }
        other => panic!("{other}"),
    }

    // The block itself is valid, and verifying it again is known at once.
    assert_eq!(verifier.verify(&block, 10_000).unwrap(), Verdict::Valid);
    assert_eq!(verifier.verify(&block, 10_000).unwrap(), Verdict::Valid);
    assert_eq!(verifier.pending_blocks(), 1);

    // A nonce replayed from a pending ancestor: a child on the pending block that carries one
    // of its transactions again.
    let mut child = build(&builder, &block.header, 20_000);
    assert!(
        child.transactions.is_empty(),
        "the parent's transactions are skipped"
    );
    child = with_txs(&child, vec![block.transactions[0].clone()]);
    match refused(&verifier, &child) {
        InvalidBlock::Inadmissible {
            index: 0, reason, ..
        } => {
            assert!(
                reason.contains("nonce 0 does not match account nonce 3"),
                "{reason}"
            )
        }
        other => panic!("{other}"),
    }

    // Both commit the block to the same state.
    builder.commit(&[block.header.hash()], b"proof").unwrap();
    verifier.commit(&[block.header.hash()], b"proof").unwrap();
    assert_eq!(builder.head(), verifier.head());
    // A certificate that overlaps what is committed reports it again; an unknown block is a
    // failure for consensus to hear, not an error of the node.
    let (again, failure) = verifier.commit(&[block.header.hash()], b"proof").unwrap();
    assert_eq!((again.len(), failure), (1, None));
    let unknown = BlockId::of(b"never seen");
    let (none, failure) = verifier.commit(&[unknown], b"proof").unwrap();
    assert!(none.is_empty());
    assert_eq!(failure, Some(CommitFailure::NotPending(unknown)));
    assert_eq!(
        verifier.store().commit_proof(1).unwrap().as_deref(),
        Some(&b"proof"[..])
    );
}

#[test]
fn building_refuses_unknown_parents_bad_heights_and_a_full_tree() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let genesis = chain.head();
    let unknown = BlockId::of(b"nowhere");
    assert_eq!(
        chain.build(unknown, 1, 1_000, PROPOSER).unwrap(),
        Err(BuildFailure::UnknownParent(unknown))
    );
    assert!(matches!(
        chain.build(genesis.hash(), 2, 1_000, PROPOSER).unwrap(),
        Err(BuildFailure::WrongHeight { .. })
    ));
    assert!(matches!(
        chain
            .build(genesis.hash(), 1, genesis.timestamp_ms, PROPOSER)
            .unwrap(),
        Err(BuildFailure::Timestamp { .. })
    ));
    // Fill the tree with a chain of empty pending blocks; the next one is refused.
    let mut parent = genesis;
    for i in 0..aether_node::chain::DEFAULT_MAX_PENDING as u64 {
        parent = build(&chain, &parent, 1_000 + i).header;
    }
    assert!(matches!(
        chain
            .build(parent.hash(), parent.height + 1, 5_000, PROPOSER)
            .unwrap(),
        Err(BuildFailure::TooManyPending(_))
    ));
}

/// One step of the random scenario.
#[derive(Clone, Debug)]
enum Step {
    /// Submit a transfer from sender `s` at its next nonce (plus `skip`), with `price`.
    Submit { s: usize, skip: u64, price: u128 },
    /// Replace sender `s`'s lowest pending transaction by one paying more.
    Replace { s: usize },
    /// Build on the pending block (or the head) chosen by `at`.
    Build { at: prop::sample::Index },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..SENDERS.len(), 0u64..2, 1u128..4).prop_map(|(s, skip, price)| Step::Submit { s, skip, price }),
        1 => (0..SENDERS.len()).prop_map(|s| Step::Replace { s }),
        2 => any::<prop::sample::Index>().prop_map(|at| Step::Build { at }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn committing_one_branch_of_a_pending_tree_equals_executing_that_branch_alone(
        steps in prop::collection::vec(step(), 4..60),
        leaf in any::<prop::sample::Index>(),
    ) {
        let (x_dir, y_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let x = open(x_dir.path());
        let keys: Vec<Keypair> = SENDERS.iter().map(|n| key(n)).collect();
        let mut next_nonce = [0u64; 3];
        let mut submitted: BTreeMap<(usize, u64), SignedTransaction> = BTreeMap::new();
        let mut blocks: Vec<Block> = Vec::new();
        let mut clock = 1_000;
        for step in steps {
            match step {
                Step::Submit { s, skip, price } => {
                    let nonce = next_nonce[s] + skip;
                    let tx = transfer(&keys[s], nonce, 1 + nonce as u128, price);
                    if x.submit(tx.clone(), 0).is_ok() {
                        submitted.insert((s, nonce), tx);
                        next_nonce[s] = next_nonce[s].max(nonce + 1);
                    }
                }
                Step::Replace { s } => {
                    if let Some((&(_, nonce), old)) = submitted.range((s, 0)..(s, u64::MAX)).next() {
                        let tx = transfer(&keys[s], nonce, 7, old.tx.gas_price * 2 + 10);
                        if x.submit(tx.clone(), 0).is_ok() {
                            submitted.insert((s, nonce), tx);
                        }
                    }
                }
                Step::Build { at } => {
                    let parent = if blocks.is_empty() {
                        x.head()
                    } else {
                        let i = at.index(blocks.len() + 1);
                        if i == blocks.len() { x.head() } else { blocks[i].header.clone() }
                    };
                    clock += 10;
                    if let Ok(block) = x.build(parent.hash(), parent.height + 1, clock, PROPOSER).unwrap() {
                        blocks.push(block);
                    }
                }
            }
        }
        prop_assume!(!blocks.is_empty());
        // The branch from genesis to the chosen block.
        let by_id: BTreeMap<BlockId, &Block> = blocks.iter().map(|b| (b.header.hash(), b)).collect();
        let mut branch = vec![blocks[leaf.index(blocks.len())].clone()];
        while let Some(parent) = by_id.get(&branch[0].header.parent_hash) {
            branch.insert(0, (*parent).clone());
        }
        let ids: Vec<BlockId> = branch.iter().map(|b| b.header.hash()).collect();
        let on_branch: BTreeSet<BlockId> = ids.iter().copied().collect();
        let (committed, failure) = x.commit(&ids, b"qc").unwrap();
        prop_assert_eq!((committed.len(), failure), (ids.len(), None));

        // A fresh node that only ever sees the branch: verify and commit it block by block.
        let y = open(y_dir.path());
        for b in &branch {
            prop_assert_eq!(y.verify(b, b.header.timestamp_ms).unwrap(), Verdict::Valid);
            y.commit(&[b.header.hash()], b"qc").unwrap();
        }
        prop_assert_eq!(x.head(), y.head());
        for b in &branch {
            for tx in &b.transactions {
                prop_assert_eq!(x.receipt(&tx.hash()).unwrap(), y.receipt(&tx.hash()).unwrap());
            }
        }
        for k in &keys {
            prop_assert_eq!(x.account(&k.address()).unwrap(), y.account(&k.address()).unwrap());
        }
        // What stays pending is exactly what descends from the new head; the losing forks left
        // nothing in the database.
        let head = x.head().hash();
        let descends = |b: &Block| {
            let mut at = b.header.parent_hash;
            loop {
                if at == head {
                    return true;
                }
                match by_id.get(&at) {
                    Some(p) if !on_branch.contains(&at) => at = p.header.parent_hash,
                    _ => return false,
                }
            }
        };
        let kept = blocks.iter().filter(|b| !on_branch.contains(&b.header.hash()) && descends(b)).count();
        prop_assert_eq!(x.pending_blocks(), kept);
        let committed_txs: BTreeSet<_> = branch.iter().flat_map(|b| b.transactions.iter().map(|t| t.hash())).collect();
        for b in blocks.iter().filter(|b| !on_branch.contains(&b.header.hash()) && !descends(b)) {
            prop_assert_eq!(x.block_by_hash(&b.header.hash()).unwrap(), None);
            // Their transactions that are still valid are in the pool: those not committed
            // whose nonce the sender has not passed, unless another transaction with the same
            // nonce took their place.
            for tx in b.transactions.iter().filter(|t| !committed_txs.contains(&t.hash())) {
                let nonce = x.account(&tx.sender()).unwrap().map_or(0, |a| a.nonce);
                if tx.tx.nonce >= nonce {
                    let s = keys.iter().position(|k| k.address() == tx.sender()).unwrap();
                    let current = &submitted[&(s, tx.tx.nonce)];
                    prop_assert!(
                        x.is_pending(&tx.hash()) || x.is_pending(&current.hash()),
                        "a still-valid transaction of a dropped fork is not in the pool"
                    );
                }
            }
        }
    }
}

/// A peer's block whose transactions this node never had in its pool, on a fork that loses:
/// its transactions that are still valid come back to the pool; pruning to a locked branch
/// drops the other forks the same way.
#[test]
fn a_losing_forks_transactions_return_to_the_pool_and_pruning_keeps_one_branch() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (peer, local) = (open(a_dir.path()), open(b_dir.path()));
    let (alice, bob) = (key("alice"), key("bob"));
    let genesis = local.head();
    // The peer's block: alice 0 and 1, which the local pool never saw.
    for nonce in 0..2 {
        peer.submit(transfer(&alice, nonce, 5, 1), 0).unwrap();
    }
    let theirs = build(&peer, &genesis, 1_000);
    assert_eq!(local.verify(&theirs, 1_000).unwrap(), Verdict::Valid);
    // The local fork: bob 0.
    local.submit(transfer(&bob, 0, 5, 1), 0).unwrap();
    let ours = build(&local, &genesis, 1_001);
    let on_ours = build(&local, &ours.header, 1_002);
    assert_eq!(local.pending_blocks(), 3);
    // Consensus locks our fork: the peer's block is pruned, its transactions come back.
    local.prune(&ours.header.hash());
    assert_eq!(local.pending_blocks(), 2, "our fork and its child stay");
    for tx in &theirs.transactions {
        assert!(
            local.is_pending(&tx.hash()),
            "a dropped fork's transaction is back"
        );
    }
    // Our fork commits; the peer's transactions are still valid and still in the pool.
    let (committed, failure) = local.commit(&[ours.header.hash()], b"qc").unwrap();
    assert_eq!((committed.len(), failure), (1, None));
    assert_eq!(
        local.pending_blocks(),
        1,
        "the child of the new head stays pending"
    );
    for tx in &theirs.transactions {
        assert!(local.is_pending(&tx.hash()));
    }
    // And the next block on the new head takes them.
    let next = build(&local, &on_ours.header, 1_003);
    assert_eq!(next.transactions.len(), 2);
}
