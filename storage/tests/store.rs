//! The store against a real ParityDB in a temporary directory: commits, reopening, blocks,
//! receipts, history and pruning, refusals.

mod common;

use aether_engine::ports::{BlockReader, StateReader};
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Hash};
use aether_storage::{StateKey, StorageError, Store, StoreConfig};
use common::*;

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, StoreConfig::default()).expect("open")
}

#[test]
fn committed_blocks_and_state_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let genesis = commit(&store, fund([addr(1), addr(2)], 1_000));
    let mut changes = set(addr(7), b"k", Some(b"v1"));
    changes.code.insert(Hash([3; 32]), vec![0, 97, 115, 109]);
    let one = commit_with(&store, changes, vec![receipt(1, vec![])]);
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.head(), Some(one.clone()));
    let state = store.state();
    assert_eq!(
        state.account(&addr(1)).unwrap(),
        Some(Account::with_balance(1_000))
    );
    assert_eq!(state.storage(&addr(7), b"k").unwrap(), Some(b"v1".to_vec()));
    assert_eq!(state.storage(&addr(7), b"missing").unwrap(), None);
    assert_eq!(
        &*state.code(&Hash([3; 32])).unwrap().unwrap(),
        &[0, 97, 115, 109]
    );
    assert_eq!(store.block_by_height(0).unwrap().unwrap().header, genesis);
    let block = store.block_by_hash(&one.hash()).unwrap().unwrap();
    assert_eq!(block.header, one);
    assert_eq!(block.transactions.len(), 1);
    let (height, r) = store.receipt(&Hash([1; 32])).unwrap().unwrap();
    assert_eq!((height, r), (1, receipt(1, vec![])));
    assert_eq!(store.receipt(&Hash([2; 32])).unwrap(), None);
    assert_eq!(store.block_by_height(2).unwrap(), None);
}

#[test]
fn the_root_computed_ahead_is_the_root_committed_and_depends_only_on_content() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (sa, sb) = (open(a.path()), open(b.path()));
    // Same final content reached through different histories.
    commit(&sa, fund([addr(1)], 5));
    commit(&sa, set(addr(9), b"x", Some(b"1")));
    commit(&sa, set(addr(9), b"y", Some(b"2")));
    let ha = commit(&sa, set(addr(9), b"y", None));
    let mut all = fund([addr(1)], 5);
    all.merge(set(addr(9), b"x", Some(b"1")));
    let in_memory = aether_storage::root_of(&all).unwrap();
    let hb = commit(&sb, all);
    assert_eq!(ha.state_root, hb.state_root);
    assert_eq!(in_memory, hb.state_root, "root_of agrees with the store");
    assert_ne!(ha.state_root, Hash::default());
}

#[test]
fn a_block_that_does_not_extend_the_head_or_lies_about_its_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    commit(&store, fund([addr(1)], 5));
    let good = next_block(&store, fund([addr(2)], 6), vec![]);

    let mut wrong_height = good.clone();
    wrong_height.block.header.height = 5;
    let mut wrong_parent = good.clone();
    wrong_parent.block.header.parent_hash = Hash([1; 32]);
    let mut wrong_root = good.clone();
    wrong_root.block.header.state_root = Hash([2; 32]);
    let mut missing_receipt = good.clone();
    missing_receipt.block.transactions =
        next_block(&store, ChangeSet::default(), vec![receipt(1, vec![])])
            .block
            .transactions;
    for (bad, needle) in [
        (wrong_height, "height"),
        (wrong_parent, "parent"),
        (wrong_root, "state root"),
        (missing_receipt, "receipts"),
    ] {
        let err = store.commit(&bad).unwrap_err();
        assert!(
            matches!(&err, StorageError::InvalidBlock { height, reason } if *height == bad.block.header.height && reason.contains(needle)),
            "{err}"
        );
        assert_eq!(store.head().unwrap().height, 0, "nothing was committed");
        assert_eq!(store.state().account(&addr(2)).unwrap(), None);
    }
    store.commit(&good).unwrap();
    assert_eq!(
        store.state().account(&addr(2)).unwrap(),
        Some(Account::with_balance(6))
    );
}

#[test]
fn recent_heights_stay_readable_and_older_ones_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), with_history(3)).unwrap();
    for h in 0..10u8 {
        let mut c = set(addr(7), b"k", Some(&[h]));
        if h % 2 == 0 {
            c.merge(set(addr(7), b"even", Some(&[h])));
        } else {
            c.merge(set(addr(7), b"even", None));
        }
        commit(&store, c);
    }
    // Heights 7, 8 and 9 are kept; each sees its own values.
    assert_eq!(store.oldest_state_height(), 7);
    for h in 7..10u8 {
        let view = store.state_at(h as u64).unwrap();
        assert_eq!(view.storage(&addr(7), b"k").unwrap(), Some(vec![h]));
        let even = view.storage(&addr(7), b"even").unwrap();
        assert_eq!(even, (h % 2 == 0).then(|| vec![h]), "height {h}");
        store
            .prove(&StateKey::Storage(addr(7), b"k".to_vec()), h as u64)
            .unwrap();
    }
    for h in [0, 6, 10] {
        assert!(matches!(store.state_at(h), Err(StorageError::Unavailable(x)) if x == h));
    }
    // A view taken earlier becomes unavailable once its height is pruned, instead of reading
    // later values.
    let view = store.state_at(7).unwrap();
    commit(&store, set(addr(7), b"k", Some(b"new")));
    assert!(view.storage(&addr(7), b"k").is_err());
    // Pruning kept what the kept heights need and dropped the rest; reopening keeps the window.
    drop(view);
    drop(store);
    let store = Store::open(dir.path(), with_history(3)).unwrap();
    assert_eq!(store.oldest_state_height(), 8);
    assert_eq!(
        store.state_at(8).unwrap().storage(&addr(7), b"k").unwrap(),
        Some(vec![8])
    );
}

#[test]
fn pruning_removes_superseded_tree_nodes_and_values() {
    // With a window of 1 the database keeps about one version of each entry: writing the same
    // keys over and over must not grow the tree columns.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), with_history(1)).unwrap();
    let keys: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i]).collect();
    let round = |n: u8| {
        let mut c = ChangeSet::default();
        for k in &keys {
            c.storage.insert((addr(1), k.clone()), Some(vec![n; 8]));
        }
        c
    };
    commit(&store, round(0));
    commit(&store, round(1));
    let count = |s: &Store| s.debug_entry_counts().unwrap();
    let after_two = count(&store);
    for n in 2..20 {
        commit(&store, round(n));
    }
    let after_twenty = count(&store);
    assert_eq!(
        after_twenty.tree_values, after_two.tree_values,
        "leaf values of superseded versions are pruned"
    );
    assert_eq!(
        after_twenty.stale, after_two.stale,
        "prune entries are consumed"
    );
    // What the head's commit made stale is pruned by the next commit: the head's root and
    // its predecessor's remain.
    assert_eq!(after_twenty.tree_roots, 2, "older trees are pruned");
    assert_eq!(
        store.state().storage(&addr(1), &[3]).unwrap(),
        Some(vec![19; 8])
    );
}

#[test]
fn removing_an_absent_entry_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = commit(&store, fund([addr(1)], 1));
    let b = commit(&store, set(addr(1), b"never", None));
    assert_eq!(a.state_root, b.state_root);
}

#[test]
fn consensus_metadata_is_stored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .set_consensus_values(vec![(b"locked".to_vec(), Some(vec![1, 2]))])
        .unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.consensus_value(b"locked").unwrap(), Some(vec![1, 2]));
    store
        .set_consensus_values(vec![(b"locked".to_vec(), None)])
        .unwrap();
    assert_eq!(store.consensus_value(b"locked").unwrap(), None);
}

#[test]
fn the_empty_store_reads_as_empty_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.head(), None);
    assert_eq!(store.state().account(&addr(1)).unwrap(), None);
    assert!(matches!(
        store.state_at(0),
        Err(StorageError::Unavailable(0))
    ));
    let err = store
        .commit(&{
            let mut b = next_block(&store, fund([addr(1)], 1), vec![]);
            b.block.header.height = 3;
            b
        })
        .unwrap_err();
    assert!(err.to_string().contains("height 0"), "{err}");
}

#[test]
fn empty_blocks_do_not_leave_tree_roots_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), with_history(2)).unwrap();
    commit(&store, fund([addr(1)], 1));
    for _ in 0..30 {
        commit(&store, ChangeSet::default());
    }
    let counts = store.debug_entry_counts().unwrap();
    assert!(
        counts.tree_roots <= 3,
        "roots of pruned empty blocks remain: {counts:?}"
    );
    assert_eq!(
        store.state().account(&addr(1)).unwrap(),
        Some(Account::with_balance(1))
    );
}
