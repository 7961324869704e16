//! Model-based property test: random sequences of commits, reopenings, reads at kept heights
//! and proofs against a real ParityDB, checked against an in-memory model of every height.

mod common;

use aether_engine::memory::MemoryState;
use aether_engine::ports::StateReader;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Hash};
use aether_storage::{StateKey, StorageError, Store, StoreConfig};
use common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Write {
    Account(u8, u128),
    Code(u8, Vec<u8>),
    Storage(u8, u8, Option<Vec<u8>>),
}

#[derive(Clone, Debug)]
enum Op {
    Commit(Vec<Write>),
    Reopen,
    /// Read every key at `head - back`.
    ReadBack(u8),
    /// Prove one key at the head.
    Prove(u8, u8),
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        (0..6u8, any::<u128>()).prop_map(|(a, b)| Write::Account(a, b)),
        (0..3u8, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(h, c)| Write::Code(h, c)),
        (
            0..3u8,
            0..12u8,
            proptest::option::weighted(0.7, proptest::collection::vec(any::<u8>(), 0..24))
        )
            .prop_map(|(c, k, v)| Write::Storage(c, k, v)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(write(), 0..12).prop_map(Op::Commit),
        1 => Just(Op::Reopen),
        2 => (0..6u8).prop_map(Op::ReadBack),
        2 => (0..3u8, 0..12u8).prop_map(|(c, k)| Op::Prove(c, k)),
    ]
}

fn contract(c: u8) -> Address {
    Address([100 + c; 32])
}

fn changes_of(writes: &[Write]) -> ChangeSet {
    let mut c = ChangeSet::default();
    for w in writes {
        match w {
            Write::Account(a, b) => {
                c.accounts.insert(addr(*a), Account::with_balance(*b));
            }
            Write::Code(h, code) => {
                // Code is content-addressed and never changes under its hash.
                let mut hash = Hash::of(code);
                hash.0[0] = *h;
                c.code.insert(hash, code.clone());
            }
            Write::Storage(ct, k, v) => {
                c.storage.insert((contract(*ct), vec![*k]), v.clone());
            }
        }
    }
    c
}

fn check_all(view: &dyn StateReader, model: &MemoryState) {
    for a in 0..6 {
        assert_eq!(
            view.account(&addr(a)).unwrap(),
            model.accounts.get(&addr(a)).cloned()
        );
    }
    for ct in 0..3 {
        for k in 0..12u8 {
            assert_eq!(
                view.storage(&contract(ct), &[k]).unwrap(),
                model.storage.get(&(contract(ct), vec![k])).cloned()
            );
        }
    }
    for (hash, code) in &model.code {
        assert_eq!(view.code(hash).unwrap().as_deref(), Some(code.as_slice()));
    }
}

proptest! {
    // 48 cases in CI; AETHER_MODEL_CASES=1000 for a longer run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("AETHER_MODEL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48)
    ))]

    /// Also: twins of the store, one without the tree-node cache and one whose cache holds
    /// three nodes, commit the same blocks and reopen with it, and always have the same root
    /// (the cache starts empty after a reopen, as after a crash).
    #[test]
    fn the_store_behaves_like_the_model(
        history in prop_oneof![Just(1u64), Just(2), Just(4), Just(u64::MAX)],
        ops in proptest::collection::vec(op(), 1..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            state_history: history,
            ..StoreConfig::default()
        };
        let mut store = Store::open(dir.path(), config).unwrap();
        let twin_configs = [
            StoreConfig { node_cache_bytes: 0, ..config },
            StoreConfig { node_cache_bytes: 3_000, ..config },
        ];
        let twin_dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut twins: Vec<Store> = twin_dirs
            .iter()
            .zip(twin_configs)
            .map(|(d, c)| Store::open(d.path(), c).unwrap())
            .collect();
        // models[h]: the state after height h.
        let mut models: Vec<MemoryState> = Vec::new();
        for op in ops {
            match op {
                Op::Commit(writes) => {
                    let changes = changes_of(&writes);
                    let mut next = models.last().cloned().unwrap_or_default();
                    next.apply(&changes);
                    for twin in &twins {
                        commit(twin, changes.clone());
                    }
                    commit(&store, changes);
                    models.push(next);
                }
                Op::Reopen => {
                    drop(store);
                    store = Store::open(dir.path(), config).unwrap();
                    twins.clear();
                    for (d, c) in twin_dirs.iter().zip(twin_configs) {
                        twins.push(Store::open(d.path(), c).unwrap());
                    }
                }
                Op::ReadBack(back) => {
                    let Some(head) = store.head().map(|h| h.height) else { continue };
                    let Some(height) = head.checked_sub(back as u64) else { continue };
                    let kept = history == u64::MAX || head - height < history;
                    match store.state_at(height) {
                        Ok(view) => {
                            prop_assert!(kept, "height {height} readable beyond the window");
                            check_all(&view, &models[height as usize]);
                        }
                        Err(StorageError::Unavailable(h)) => {
                            prop_assert!(!kept, "kept height {h} unavailable");
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                Op::Prove(ct, k) => {
                    let Some(head) = store.head() else { continue };
                    let key = StateKey::Storage(contract(ct), vec![k]);
                    let proof = store.prove(&key, head.height).unwrap();
                    prop_assert_eq!(
                        &proof.value,
                        &models[head.height as usize].storage.get(&(contract(ct), vec![k])).cloned()
                    );
                    proof.verify(&head.state_root).unwrap();
                }
            }
            for twin in &twins {
                prop_assert_eq!(
                    twin.head().map(|h| h.state_root),
                    store.head().map(|h| h.state_root),
                    "a store with another tree-node cache has another root"
                );
            }
            if let Some(model) = models.last() {
                prop_assert_eq!(store.head().map(|h| h.height), Some(models.len() as u64 - 1));
                check_all(&store.state(), model);
            }
        }
        // The root depends only on the content: the final state written in one block of a
        // fresh store has the same root.
        if let Some(model) = models.last() {
            let fresh_dir = tempfile::tempdir().unwrap();
            let fresh = Store::open(fresh_dir.path(), StoreConfig::default()).unwrap();
            let all = ChangeSet {
                accounts: model.accounts.clone(),
                code: model.code.clone(),
                storage: model.storage.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(),
            };
            let header = commit(&fresh, all);
            prop_assert_eq!(header.state_root, store.head().unwrap().state_root);
        }
    }
}
