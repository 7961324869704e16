use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Transaction};

use super::*;

const CHAIN: u64 = 7;

fn config() -> PoolConfig {
    PoolConfig::new(CHAIN, 10_000_000)
}

fn rich() -> Account {
    Account::with_balance(u128::MAX / 2)
}

fn tx(key: &Keypair, nonce: u64, price: u128) -> SignedTransaction {
    key.sign_tx(Transaction {
        chain_id: CHAIN,
        nonce,
        gas_limit: 50_000,
        gas_price: price,
        action: Action::Transfer {
            to: Address([9; 32]),
            amount: 1,
        },
    })
}

fn key(name: &str) -> Keypair {
    Keypair::dev(name, false)
}

#[test]
fn every_static_rule_is_enforced_with_its_reason() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    let acc = rich();
    let mut wrong_chain = tx(&k, 0, 1).tx;
    wrong_chain.chain_id = 8;
    assert_eq!(
        pool.submit(k.sign_tx(wrong_chain), Some(&acc), 0),
        Err(Rejection::WrongChain {
            expected: 7,
            got: 8
        })
    );
    let mut low_gas = tx(&k, 0, 1).tx;
    low_gas.gas_limit = 10;
    assert!(matches!(
        pool.submit(k.sign_tx(low_gas), Some(&acc), 0),
        Err(Rejection::GasLimitBelowIntrinsic { gas_limit: 10, .. })
    ));
    let mut high_gas = tx(&k, 0, 1).tx;
    high_gas.gas_limit = 10_000_001;
    assert!(matches!(
        pool.submit(k.sign_tx(high_gas), Some(&acc), 0),
        Err(Rejection::GasLimitAboveBlockLimit { .. })
    ));
    assert_eq!(
        pool.submit(tx(&k, 0, 0), Some(&acc), 0),
        Err(Rejection::Underpriced { offered: 0, min: 1 })
    );
    let mut forged = tx(&k, 0, 1);
    forged.tx.nonce = 1;
    assert_eq!(
        pool.submit(forged, Some(&acc), 0),
        Err(Rejection::BadSignature)
    );
    let mut big = tx(&k, 0, 1).tx;
    big.action = Action::UploadCode {
        code: vec![0; 300_000],
    };
    assert!(matches!(
        pool.submit(k.sign_tx(big), Some(&acc), 0),
        Err(Rejection::TooLarge { .. })
    ));
    assert!(pool.is_empty(), "nothing was admitted");
}

#[test]
fn nonces_below_the_account_or_too_far_ahead_are_refused() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    let acc = Account { nonce: 5, ..rich() };
    assert_eq!(
        pool.submit(tx(&k, 4, 1), Some(&acc), 0),
        Err(Rejection::NonceTooLow {
            nonce: 4,
            expected: 5
        })
    );
    assert!(matches!(
        pool.submit(tx(&k, 5 + 65, 1), Some(&acc), 0),
        Err(Rejection::NonceTooFarAhead { .. })
    ));
    assert!(pool.submit(tx(&k, 5 + 64, 1), Some(&acc), 0).is_ok());
}

#[test]
fn duplicates_are_refused() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    let t = tx(&k, 0, 1);
    pool.submit(t.clone(), Some(&rich()), 0).unwrap();
    assert_eq!(
        pool.submit(t, Some(&rich()), 0),
        Err(Rejection::AlreadyKnown)
    );
    assert_eq!(pool.len(), 1);
}

#[test]
fn a_gap_makes_later_nonces_future_until_it_is_filled() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    let a = pool.submit(tx(&k, 1, 1), Some(&rich()), 0).unwrap();
    assert!(!a.ready);
    assert_eq!(pool.counts(), (0, 1));
    assert!(pool.ready(u64::MAX, 100).is_empty());
    let b = pool.submit(tx(&k, 0, 1), Some(&rich()), 0).unwrap();
    assert!(b.ready);
    assert_eq!(pool.counts(), (2, 0));
    let nonces: Vec<u64> = pool
        .ready(u64::MAX, 100)
        .iter()
        .map(|t| t.tx.nonce)
        .collect();
    assert_eq!(nonces, vec![0, 1]);
}

#[test]
fn blocks_take_the_best_price_first_and_each_sender_in_nonce_order() {
    let mut pool = Mempool::new(config());
    let (a, b, c) = (key("alice"), key("bob"), key("charlie"));
    pool.submit(tx(&a, 0, 5), Some(&rich()), 0).unwrap();
    pool.submit(tx(&a, 1, 50), Some(&rich()), 0).unwrap();
    pool.submit(tx(&b, 0, 10), Some(&rich()), 0).unwrap();
    pool.submit(tx(&c, 0, 10), Some(&rich()), 0).unwrap();
    let order: Vec<(Address, u64)> = pool
        .ready(u64::MAX, 100)
        .iter()
        .map(|t| (t.sender(), t.tx.nonce))
        .collect();
    // bob and charlie pay 10 (bob arrived first); alice's 5 comes before her 50.
    assert_eq!(
        order,
        vec![
            (b.address(), 0),
            (c.address(), 0),
            (a.address(), 0),
            (a.address(), 1)
        ]
    );
    // Gas and count limits.
    assert_eq!(pool.ready(100_000, 100).len(), 2);
    assert_eq!(pool.ready(u64::MAX, 3).len(), 3);
}

#[test]
fn replace_by_fee_needs_the_bump() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    let first = pool.submit(tx(&k, 0, 100), Some(&rich()), 0).unwrap();
    let mut cheap = tx(&k, 0, 109).tx;
    cheap.gas_limit = 50_001;
    assert_eq!(
        pool.submit(k.sign_tx(cheap), Some(&rich()), 0),
        Err(Rejection::ReplacementUnderpriced {
            offered: 109,
            needed: 110
        })
    );
    let better = pool.submit(tx(&k, 0, 110), Some(&rich()), 0).unwrap();
    assert_eq!(better.replaced, Some(first.hash));
    assert_eq!(pool.len(), 1);
    assert!(pool.get(&first.hash).is_none());
}

#[test]
fn the_sender_must_afford_all_its_pending_transactions() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    // Each costs 50,000 gas × 1 + 1 moved.
    let acc = Account::with_balance(100_002);
    pool.submit(tx(&k, 0, 1), Some(&acc), 0).unwrap();
    pool.submit(tx(&k, 1, 1), Some(&acc), 0).unwrap();
    assert_eq!(
        pool.submit(tx(&k, 2, 1), Some(&acc), 0),
        Err(Rejection::CannotPay {
            need: 150_003,
            balance: 100_002
        })
    );
    assert!(matches!(
        pool.submit(tx(&key("nobody"), 0, 1), None, 0),
        Err(Rejection::CannotPay { balance: 0, .. })
    ));
}

#[test]
fn an_account_read_after_a_block_the_pool_has_not_seen_does_not_charge_its_transactions_twice() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    // Each costs 50,000 gas × 1 + 1 moved: enough for three.
    pool.submit(tx(&k, 0, 1), Some(&Account::with_balance(150_003)), 0)
        .unwrap();
    pool.submit(tx(&k, 1, 1), Some(&Account::with_balance(150_003)), 0)
        .unwrap();
    // A block included nonces 0 and 1 and was committed; the pool's update for it has not
    // run yet. The account now shows them paid: nonce 2 and one transaction's worth left.
    let after = Account {
        nonce: 2,
        balance: 50_001,
        ..Account::default()
    };
    pool.submit(tx(&k, 2, 1), Some(&after), 0).unwrap();
    // Nothing more than that: the next one is still refused.
    assert_eq!(
        pool.submit(tx(&k, 3, 1), Some(&after), 0),
        Err(Rejection::CannotPay {
            need: 100_002,
            balance: 50_001
        })
    );
}

#[test]
fn per_sender_and_global_limits_hold_and_better_prices_evict_the_worst() {
    let mut cfg = config();
    cfg.max_per_sender = 2;
    cfg.max_txs = 3;
    let mut pool = Mempool::new(cfg);
    let (a, b) = (key("alice"), key("bob"));
    pool.submit(tx(&a, 0, 5), Some(&rich()), 0).unwrap();
    let a1 = pool.submit(tx(&a, 1, 3), Some(&rich()), 0).unwrap();
    assert_eq!(
        pool.submit(tx(&a, 2, 9), Some(&rich()), 0),
        Err(Rejection::SenderFull { limit: 2 })
    );
    pool.submit(tx(&b, 0, 4), Some(&rich()), 0).unwrap();
    // Full: a price at or below the worst evictable one (3) is refused.
    assert_eq!(
        pool.submit(tx(&key("charlie"), 0, 3), Some(&rich()), 0),
        Err(Rejection::PoolFull { limit: 3 })
    );
    // A better one evicts alice's nonce 1 (the cheapest that is last in its queue).
    let c = pool
        .submit(tx(&key("charlie"), 0, 6), Some(&rich()), 0)
        .unwrap();
    assert_eq!(c.evicted, Some(a1.hash));
    assert_eq!(pool.len(), 3);
}

#[test]
fn included_and_outdated_transactions_leave_after_a_block() {
    let mut pool = Mempool::new(config());
    let (a, b) = (key("alice"), key("bob"));
    let t0 = tx(&a, 0, 1);
    pool.submit(t0.clone(), Some(&rich()), 0).unwrap();
    pool.submit(tx(&a, 1, 1), Some(&rich()), 0).unwrap();
    pool.submit(tx(&a, 2, 1), Some(&rich()), 0).unwrap();
    pool.submit(tx(&b, 0, 1), Some(&rich()), 0).unwrap();
    // The block included alice's nonce 0, and her nonce 1 arrived by another route.
    let removed = pool.on_block(
        included(&[t0]),
        |addr| if *addr == a.address() { 2 } else { 0 },
    );
    assert_eq!(removed, 2);
    assert_eq!(pool.len(), 2);
    let ready: Vec<u64> = pool
        .ready(u64::MAX, 10)
        .iter()
        .map(|t| t.tx.nonce)
        .collect();
    assert_eq!(
        ready.len(),
        2,
        "alice's nonce 2 and bob's nonce 0 are ready: {ready:?}"
    );
}

#[test]
fn old_transactions_expire() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    pool.submit(tx(&k, 0, 1), Some(&rich()), 1_000).unwrap();
    pool.submit(tx(&k, 1, 1), Some(&rich()), 500_000).unwrap();
    assert_eq!(pool.expire(1_000 + 600_000), 0);
    assert_eq!(pool.expire(1_001 + 600_000), 1);
    assert_eq!(pool.len(), 1);
    assert_eq!(pool.bytes(), pool.get(&tx(&k, 1, 1).hash()).unwrap().bytes);
}

#[test]
fn an_account_read_before_the_last_block_does_not_take_the_queue_back() {
    // A submitter read the account (nonce 0), then a block included nonces 0 and 1, then the
    // submission reached the pool with the stale account.
    let mut pool = Mempool::new(config());
    let k = key("alice");
    let (t0, t1) = (tx(&k, 0, 1), tx(&k, 1, 1));
    pool.submit(t0.clone(), Some(&rich()), 0).unwrap();
    pool.submit(t1.clone(), Some(&rich()), 0).unwrap();
    pool.submit(tx(&k, 2, 1), Some(&rich()), 0).unwrap();
    pool.on_block(included(&[t0.clone(), t1]), |_| 2);
    let stale = rich();
    assert_eq!(
        pool.submit(t0, Some(&stale), 0),
        Err(Rejection::NonceTooLow {
            nonce: 0,
            expected: 2
        })
    );
    let late = pool.submit(tx(&k, 3, 1), Some(&stale), 0).unwrap();
    assert!(late.ready, "nonce 3 follows the pending nonce 2");
    let nonces: Vec<u64> = pool
        .ready(u64::MAX, 10)
        .iter()
        .map(|t| t.tx.nonce)
        .collect();
    assert_eq!(nonces, vec![2, 3]);
}

#[test]
fn a_full_pool_of_gapped_queues_still_evicts_their_cheap_tails() {
    // Senders fill the pool with future transactions (nonce 0 missing) whose cheap middle
    // entries are the cheapest of the pool: their tails are still evictable.
    let mut cfg = config();
    cfg.max_txs = 40;
    let mut pool = Mempool::new(cfg);
    for s in 0..4 {
        let k = key(&format!("spammer-{s}"));
        for nonce in 1..=10 {
            let price = if nonce == 10 { 2 } else { 1 };
            pool.submit(tx(&k, nonce, price), Some(&rich()), 0).unwrap();
        }
    }
    assert_eq!(pool.counts(), (0, 40));
    let honest = pool
        .submit(tx(&key("honest"), 0, 3), Some(&rich()), 0)
        .unwrap();
    assert!(honest.ready);
    assert!(honest.evicted.is_some(), "a spammer's tail made room");
    assert_eq!(pool.len(), 40);
}

#[test]
fn a_sender_never_evicts_its_own_last_transaction() {
    let mut cfg = config();
    cfg.max_txs = 2;
    let mut pool = Mempool::new(cfg);
    let (a, b) = (key("alice"), key("bob"));
    pool.submit(tx(&a, 0, 1), Some(&rich()), 0).unwrap();
    let b0 = pool.submit(tx(&b, 0, 5), Some(&rich()), 0).unwrap();
    // Alice's nonce 0 is the cheapest tail, but evicting it would strand her nonce 1; bob's
    // pays more than she offers, so nothing can go.
    assert_eq!(
        pool.submit(tx(&a, 1, 2), Some(&rich()), 0),
        Err(Rejection::PoolFull { limit: 2 })
    );
    let a1 = pool.submit(tx(&a, 1, 9), Some(&rich()), 0).unwrap();
    assert_eq!(a1.evicted, Some(b0.hash));
    assert!(a1.ready);
}

#[test]
fn the_next_nonce_counts_pending_transactions_without_a_gap() {
    let mut pool = Mempool::new(config());
    let k = key("alice");
    assert_eq!(pool.next_nonce(&k.address(), 3), 3);
    pool.submit(tx(&k, 3, 1), Some(&Account { nonce: 3, ..rich() }), 0)
        .unwrap();
    pool.submit(tx(&k, 4, 1), Some(&Account { nonce: 3, ..rich() }), 0)
        .unwrap();
    pool.submit(tx(&k, 6, 1), Some(&Account { nonce: 3, ..rich() }), 0)
        .unwrap();
    assert_eq!(pool.next_nonce(&k.address(), 3), 5);
}

#[test]
fn future_transactions_beyond_their_share_are_refused_or_replace_cheaper_ones() {
    let mut cfg = config();
    cfg.max_future = 3;
    let mut pool = Mempool::new(cfg);
    let (a, b, c) = (key("alice"), key("bob"), key("charlie"));
    // Nonce 0 missing: all future.
    pool.submit(tx(&a, 1, 5), Some(&rich()), 0).unwrap();
    let a2 = pool.submit(tx(&a, 2, 2), Some(&rich()), 0).unwrap();
    pool.submit(tx(&b, 1, 4), Some(&rich()), 0).unwrap();
    assert_eq!(pool.counts(), (0, 3));
    assert_eq!(
        pool.submit(tx(&c, 1, 2), Some(&rich()), 0),
        Err(Rejection::FutureFull { limit: 3 })
    );
    // Paying more than the cheapest future tail of another sender (alice's nonce 2) replaces
    // it.
    let c1 = pool.submit(tx(&c, 1, 3), Some(&rich()), 0).unwrap();
    assert_eq!(c1.evicted, Some(a2.hash));
    assert_eq!(pool.counts(), (0, 3));
    // Ready transactions are not limited by the share.
    assert!(pool.submit(tx(&c, 0, 1), Some(&rich()), 0).unwrap().ready);
    assert_eq!(pool.counts(), (2, 2), "charlie's nonce 1 became ready");
}

#[test]
fn a_ready_transaction_evicts_a_future_one_whatever_it_pays() {
    let mut cfg = config();
    cfg.max_txs = 3;
    let mut pool = Mempool::new(cfg);
    let (a, b) = (key("alice"), key("bob"));
    pool.submit(tx(&a, 0, 1), Some(&rich()), 0).unwrap();
    let b5 = pool.submit(tx(&b, 5, 100), Some(&rich()), 0).unwrap();
    pool.submit(tx(&a, 1, 1), Some(&rich()), 0).unwrap();
    // Bob's transaction pays most but cannot be mined before his nonces 0 to 4.
    let c = pool
        .submit(tx(&key("charlie"), 0, 1), Some(&rich()), 0)
        .unwrap();
    assert_eq!(c.evicted, Some(b5.hash));
    assert_eq!(pool.counts(), (3, 0));
}

#[test]
fn a_future_transaction_never_evicts_a_ready_one() {
    let mut cfg = config();
    cfg.max_txs = 2;
    let mut pool = Mempool::new(cfg);
    pool.submit(tx(&key("alice"), 0, 1), Some(&rich()), 0)
        .unwrap();
    pool.submit(tx(&key("bob"), 0, 1), Some(&rich()), 0)
        .unwrap();
    assert_eq!(
        pool.submit(tx(&key("charlie"), 3, 1_000), Some(&rich()), 0),
        Err(Rejection::PoolFull { limit: 2 })
    );
}

/// The future count and the future tails, recomputed from the queues.
fn brute_force_future(pool: &Mempool) -> (usize, BTreeSet<TailKey>) {
    let mut total = 0;
    let mut tails = BTreeSet::new();
    for q in pool.senders.values() {
        let future = q.by_nonce.range(q.account_nonce..).count() - ready_run(q);
        total += future;
        if future > 0 {
            let (_, tail) = q.by_nonce.last_key_value().unwrap();
            tails.insert(pool.txs[tail].tail_key());
        }
    }
    (total, tails)
}

/// Steps of the pool's random sequences: 3,000 (one sequence) unless `AETHER_FUZZ_CASES` says
/// more (the long mode runs 1,000,000: 334 sequences from different seeds).
fn sequence_steps() -> u64 {
    std::env::var("AETHER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

#[test]
fn the_future_bookkeeping_matches_the_queues_through_any_sequence() {
    let sequences = sequence_steps().div_ceil(3_000).max(1);
    for sequence in 0..sequences {
        let seed = 0x2545_f491_4f6c_dd1du64 ^ sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let (refused_future, steps_with_future) = future_bookkeeping_sequence(seed | 1);
        // The first sequence did reach the cases under test (the others may differ).
        if sequence == 0 {
            assert!(
                refused_future > 0 && steps_with_future > 1_000,
                "{refused_future} {steps_with_future}"
            );
        }
    }
}

/// 3,000 random steps from `seed` (submissions, blocks, expiry), the future bookkeeping checked
/// against a brute-force count after each; the refusals for a full future queue, and the steps
/// that had future transactions.
fn future_bookkeeping_sequence(seed: u64) -> (usize, usize) {
    let mut cfg = config();
    cfg.max_txs = 60;
    cfg.max_future = 20;
    cfg.max_per_sender = 8;
    cfg.expiry_ms = 200;
    let mut pool = Mempool::new(cfg);
    let keys: Vec<Keypair> = (0..6).map(|i| key(&format!("s{i}"))).collect();
    let mut nonces = vec![0u64; keys.len()];
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut refused_future, mut steps_with_future) = (0, 0);
    for step in 0..3_000u64 {
        match next() % 10 {
            // Submit a nonce at or somewhat after the account's.
            0..=6 => {
                let s = (next() % keys.len() as u64) as usize;
                let nonce = nonces[s] + next() % 6;
                let price = 1 + next() % 20;
                let account = Account {
                    nonce: nonces[s],
                    ..rich()
                };
                let r = pool.submit(tx(&keys[s], nonce, price as u128), Some(&account), step);
                refused_future += usize::from(matches!(r, Err(Rejection::FutureFull { .. })));
            }
            // A block includes what is ready.
            7 | 8 => {
                let included: Vec<SignedTransaction> = pool
                    .ready(u64::MAX, (next() % 10) as usize)
                    .iter()
                    .map(|t| t.signed().clone())
                    .collect();
                for t in &included {
                    let s = keys.iter().position(|k| k.address() == t.sender()).unwrap();
                    nonces[s] = nonces[s].max(t.tx.nonce + 1);
                }
                let current = nonces.clone();
                let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
                pool.on_block(self::included(&included), |a| {
                    current[addrs.iter().position(|x| x == a).unwrap()]
                });
            }
            // Old ones expire (arrival time is the step).
            _ => {
                pool.expire(step);
            }
        }
        let (total, tails) = brute_force_future(&pool);
        assert_eq!(
            pool.future_total, total,
            "future count at step {step} (seed {seed:#x})"
        );
        assert_eq!(
            pool.future_tails, tails,
            "future tails at step {step} (seed {seed:#x})"
        );
        assert_eq!(pool.counts().0 + pool.counts().1, pool.len());
        steps_with_future += usize::from(total > 0);
    }
    (refused_future, steps_with_future)
}

/// What a block's commit tells the pool: each transaction's hash and sender.
fn included(txs: &[SignedTransaction]) -> Vec<(Hash, Address)> {
    txs.iter().map(|t| (t.hash(), t.sender())).collect()
}
