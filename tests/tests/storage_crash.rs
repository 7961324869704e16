//! Crash safety of the store: a child process commits blocks in a loop and is killed with
//! SIGKILL at pseudo-random points. After every kill the database must reopen at a committed
//! block at or after the last one seen, with the state root every run agrees on for that
//! height and exactly the state the workload defines. 20 kills by default;
//! `AETHER_CRASH_KILLS=200` for a longer run.

use std::collections::HashMap;

use aether_engine::ports::StateReader;
use aether_engine::types::Hash;
use aether_storage::{Store, StoreConfig};
use aether_tests::crash_load::{ACCOUNTS, CONTRACTS, KEYS, account, contract, state_after};
use aether_tests::kill::{KillClock, kills, run_then_kill};

#[test]
fn a_killed_writer_leaves_a_committed_prefix_with_the_matching_root() {
    let kills = kills(20);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut roots: HashMap<u64, Hash> = HashMap::new();
    let mut reopened_at: Option<u64> = None;
    let mut clock = KillClock::new(0x9e37_79b9_7f4a_7c15, 150, 400);
    for kill in 0..kills {
        let (_, lines) = run_then_kill(
            env!("CARGO_BIN_EXE_aether-storage-crash"),
            &db,
            clock.next_delay(),
        );
        let mut printed = 0;
        for line in &lines {
            let Some((h, r)) = line.split_once(' ') else {
                continue;
            };
            let (Ok(h), Ok(r)) = (h.parse::<u64>(), r.parse::<Hash>()) else {
                continue;
            };
            if let Some(seen) = roots.insert(h, r) {
                assert_eq!(seen, r, "two runs disagree on the root at height {h}");
            }
            printed += 1;
        }

        let store = Store::open(
            &db,
            StoreConfig {
                state_history: 16,
                ..StoreConfig::default()
            },
        )
        .unwrap_or_else(|e| panic!("reopen after kill {kill}: {e}"));
        let head = store.head().expect("a head after the first run");
        if let Some(before) = reopened_at {
            assert!(
                head.height >= before,
                "kill {kill}: head went back from {before} to {}",
                head.height
            );
        }
        if let Some(r) = roots.get(&head.height) {
            assert_eq!(*r, head.state_root, "kill {kill}: root at {}", head.height);
        }
        let model = state_after(head.height);
        let state = store.state();
        for c in 0..CONTRACTS {
            for k in 0..KEYS {
                let key = k.to_be_bytes();
                assert_eq!(
                    state.storage(&contract(c), &key).unwrap(),
                    model.storage.get(&(contract(c), key.to_vec())).cloned(),
                    "kill {kill}: contract {c} key {k} at height {}",
                    head.height
                );
            }
        }
        for a in 0..ACCOUNTS {
            assert_eq!(
                state.account(&account(a)).unwrap(),
                model.accounts.get(&account(a)).cloned()
            );
        }
        for (hash, code) in &model.code {
            assert_eq!(state.code(hash).unwrap().as_deref(), Some(code.as_slice()));
        }
        eprintln!(
            "kill {kill}: child printed {printed} commits, reopened at height {}",
            head.height
        );
        reopened_at = Some(head.height);
    }
    assert!(
        reopened_at.unwrap_or(0) >= u64::from(kills),
        "the writer made progress between kills"
    );
}
