//! Pending blocks: speculative roots and reads over uncommitted ancestors, forks, stale chains,
//! committing a pending block, and commit proofs.

mod common;

use std::path::Path;
use std::sync::Arc;

use aether_engine::memory::MemoryState;
use aether_engine::ports::{BlockReader, ExecutedBlock, StateReader};
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Block, BlockHeader, Hash};
use aether_storage::{PendingState, StateKey, StorageError, Store, StoreConfig};
use common::*;
use proptest::prelude::*;

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, StoreConfig::default()).expect("open")
}

/// The block a pending state was computed for, on top of the block with hash `parent_hash`.
fn block_of(pending: &PendingState, parent_hash: Hash, changes: &ChangeSet) -> ExecutedBlock {
    ExecutedBlock {
        block: Block {
            header: BlockHeader {
                height: pending.version(),
                parent_hash,
                timestamp_ms: 1_000 * pending.version(),
                state_root: pending.root(),
                ..BlockHeader::default()
            },
            transactions: vec![],
        },
        receipts: vec![],
        changes: changes.clone(),
    }
}

/// Commits `pending` on the head with `proof`.
fn commit_on_head(store: &Store, pending: &PendingState, changes: &ChangeSet, proof: &[u8]) {
    let parent = store.head().map_or(Hash::default(), |h| h.hash());
    store
        .commit_pending(&block_of(pending, parent, changes), pending, proof)
        .expect("commit_pending");
}

fn contract(c: u8) -> Address {
    Address([100 + c; 32])
}

fn code_hash(h: u8) -> Hash {
    Hash([h; 32])
}

/// Every key the tests write: 4 accounts, 3 code hashes, 3 × 8 storage entries.
fn all_keys() -> Vec<StateKey> {
    let mut keys: Vec<_> = (0..4).map(|a| StateKey::Account(addr(a))).collect();
    keys.extend((0..3).map(|h| StateKey::Code(code_hash(h))));
    for c in 0..3 {
        keys.extend((0..8u8).map(|k| StateKey::Storage(contract(c), vec![k])));
    }
    keys
}

fn check_reads(view: &dyn StateReader, model: &MemoryState) {
    for key in all_keys() {
        match key {
            StateKey::Account(a) => {
                assert_eq!(view.account(&a).unwrap(), model.accounts.get(&a).cloned())
            }
            StateKey::Code(h) => assert_eq!(
                view.code(&h).unwrap().as_deref(),
                model.code.get(&h).map(Vec::as_slice)
            ),
            StateKey::Storage(c, k) => assert_eq!(
                view.storage(&c, &k).unwrap(),
                model.storage.get(&(c, k.clone())).cloned()
            ),
        }
    }
}

fn changes() -> impl Strategy<Value = ChangeSet> {
    use proptest::collection::{btree_map, vec};
    (
        btree_map(
            (0..4u8).prop_map(addr),
            any::<u16>().prop_map(|b| Account::with_balance(b.into())),
            0..3,
        ),
        btree_map((0..3u8).prop_map(code_hash), vec(any::<u8>(), 0..16), 0..2),
        btree_map(
            (0..3u8, 0..8u8).prop_map(|(c, k)| (contract(c), vec![k])),
            proptest::option::weighted(0.6, vec(any::<u8>(), 0..8)),
            0..8,
        ),
    )
        .prop_map(|(accounts, code, storage)| ChangeSet {
            accounts,
            code,
            storage,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A chain speculated block by block gives the roots of committing the same blocks one at
    /// a time; committing it from its pending states (some, then a block speculated on the
    /// rest, then the rest) leaves the same database: head root, proofs, entry counts.
    #[test]
    fn speculative_roots_are_the_roots_of_committing_one_block_at_a_time(
        genesis_pending in any::<bool>(),
        blocks in proptest::collection::vec(changes(), 2..6),
        extra in changes(),
        committed_first in 0..5usize,
        history in prop_oneof![Just(2u64), Just(3), Just(u64::MAX)],
    ) {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let config = with_history(history);
        let (s1, s2) = (
            Store::open(d1.path(), config).unwrap(),
            Store::open(d2.path(), config).unwrap(),
        );
        let mut blocks = blocks;
        let mut state = MemoryState::default();
        if !genesis_pending {
            let genesis = blocks.remove(0);
            commit(&s1, genesis.clone());
            commit(&s2, genesis.clone());
            state.apply(&genesis);
            check_reads(&s1.pending_view(None).unwrap(), &state);
        }
        // Speculate the whole chain on s1; commit it block by block on s2.
        let mut pending: Vec<Arc<PendingState>> = Vec::new();
        let mut models = Vec::new();
        for changes in &blocks {
            let p = s1.speculate(pending.last(), changes).unwrap();
            let header = commit(&s2, changes.clone());
            prop_assert_eq!(p.version(), header.height);
            prop_assert_eq!(p.root(), header.state_root);
            state.apply(changes);
            models.push(state.clone());
            pending.push(p);
        }
        for (p, m) in pending.iter().zip(&models) {
            check_reads(&s1.pending_view(Some(p)).unwrap(), m);
        }
        prop_assert!(s1.head().is_none_or(|h| h.height + 1 == pending[0].version()));

        // Commit some, speculate one more on the rest, then commit everything.
        let first = committed_first.min(pending.len());
        for (i, p) in pending[..first].iter().enumerate() {
            commit_on_head(&s1, p, &blocks[i], &[i as u8]);
        }
        let e = s1.speculate(pending.last(), &extra).unwrap();
        let header = commit(&s2, extra.clone());
        prop_assert_eq!(e.root(), header.state_root);
        state.apply(&extra);
        check_reads(&s1.pending_view(Some(&e)).unwrap(), &state);
        for (i, p) in pending.iter().enumerate().skip(first) {
            commit_on_head(&s1, p, &blocks[i], &[i as u8]);
        }
        commit_on_head(&s1, &e, &extra, b"last");

        let (h1, h2) = (s1.head().unwrap(), s2.head().unwrap());
        prop_assert_eq!(&h1.state_root, &h2.state_root);
        prop_assert_eq!(h1.height, h2.height);
        check_reads(&s1.state(), &state);
        prop_assert_eq!(s1.oldest_state_height(), s2.oldest_state_height());
        for height in s1.oldest_state_height()..=h1.height {
            let root = s1.block_by_height(height).unwrap().unwrap().header.state_root;
            for key in all_keys() {
                let (p1, p2) = (s1.prove(&key, height).unwrap(), s2.prove(&key, height).unwrap());
                prop_assert_eq!(&p1, &p2);
                p1.verify(&root).unwrap();
            }
        }
        prop_assert_eq!(s1.debug_entry_counts().unwrap(), s2.debug_entry_counts().unwrap());
    }
}

/// Genesis: alice with 100, code 1, storage k1 = "base" and k2 = "two".
fn genesis(store: &Store) -> BlockHeader {
    let mut g = fund([addr(1)], 100);
    g.code.insert(code_hash(1), b"code one".to_vec());
    g.merge(set(contract(0), b"k1", Some(b"base")));
    g.merge(set(contract(0), b"k2", Some(b"two")));
    commit(store, g)
}

#[test]
fn sibling_forks_get_their_own_roots_and_reads_and_the_loser_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    genesis(&store);
    let before = store.debug_entry_counts().unwrap();
    let p_changes = set(contract(0), b"k1", Some(b"p"));
    let p = store.speculate(None, &p_changes).unwrap();
    let mut x_changes = set(contract(0), b"k1", Some(b"x"));
    x_changes.merge(fund([addr(1)], 1));
    let mut y_changes = set(contract(0), b"k1", None);
    y_changes.merge(fund([addr(2)], 7));
    y_changes.code.insert(code_hash(2), b"code two".to_vec());
    let x = store.speculate(Some(&p), &x_changes).unwrap();
    let y = store.speculate(Some(&p), &y_changes).unwrap();
    assert_eq!((x.version(), y.version()), (2, 2));
    assert_ne!(x.root(), y.root());

    // Each fork reads its own writes over the shared parent.
    let (vp, vx, vy) = (
        store.pending_view(Some(&p)).unwrap(),
        store.pending_view(Some(&x)).unwrap(),
        store.pending_view(Some(&y)).unwrap(),
    );
    assert_eq!(
        vp.storage(&contract(0), b"k1").unwrap(),
        Some(b"p".to_vec())
    );
    assert_eq!(
        vx.storage(&contract(0), b"k1").unwrap(),
        Some(b"x".to_vec())
    );
    assert_eq!(vy.storage(&contract(0), b"k1").unwrap(), None);
    assert_eq!(
        vx.account(&addr(1)).unwrap(),
        Some(Account::with_balance(1))
    );
    assert_eq!(
        vy.account(&addr(1)).unwrap(),
        Some(Account::with_balance(100))
    );
    assert_eq!(vx.account(&addr(2)).unwrap(), None);
    assert_eq!(
        vy.account(&addr(2)).unwrap(),
        Some(Account::with_balance(7))
    );
    assert_eq!(vx.code(&code_hash(2)).unwrap(), None);
    assert_eq!(&*vy.code(&code_hash(2)).unwrap().unwrap(), b"code two");
    assert_eq!(
        vy.storage(&contract(0), b"k2").unwrap(),
        Some(b"two".to_vec())
    );
    assert_eq!((vx.height(), vy.height()), (Some(2), Some(2)));

    // Each root is the root of committing its branch one block at a time.
    for (fork, changes) in [(&x, &x_changes), (&y, &y_changes)] {
        let other = tempfile::tempdir().unwrap();
        let other = open(other.path());
        genesis(&other);
        commit(&other, p_changes.clone());
        assert_eq!(commit(&other, changes.clone()).state_root, fork.root());
    }
    // Speculating wrote nothing.
    assert_eq!(store.debug_entry_counts().unwrap(), before);
    assert_eq!(store.head().unwrap().height, 0);

    commit_on_head(&store, &p, &p_changes, b"qc p");
    commit_on_head(&store, &x, &x_changes, b"qc x");
    assert_eq!(store.head().unwrap().state_root, x.root());
    // The loser's writes are nowhere; its view is still its own snapshot.
    let head = store.state();
    assert_eq!(head.account(&addr(2)).unwrap(), None);
    assert_eq!(head.code(&code_hash(2)).unwrap(), None);
    assert_eq!(
        head.storage(&contract(0), b"k1").unwrap(),
        Some(b"x".to_vec())
    );
    assert_eq!(
        vy.account(&addr(2)).unwrap(),
        Some(Account::with_balance(7))
    );
    assert!(matches!(
        store.pending_view(Some(&y)),
        Err(StorageError::StalePending {
            version: 2,
            head: Some(2)
        })
    ));
    // Same database as a store that never saw the loser.
    let other = tempfile::tempdir().unwrap();
    let other = open(other.path());
    genesis(&other);
    commit(&other, p_changes);
    commit(&other, x_changes);
    assert_eq!(
        store.debug_entry_counts().unwrap(),
        other.debug_entry_counts().unwrap()
    );
    for key in all_keys().into_iter().chain([
        StateKey::Storage(contract(0), b"k1".to_vec()),
        StateKey::Storage(contract(0), b"k2".to_vec()),
    ]) {
        for height in 0..=2 {
            assert_eq!(
                store.prove(&key, height).unwrap(),
                other.prove(&key, height).unwrap()
            );
        }
    }
}

#[test]
fn a_removal_in_a_child_hides_the_parent_value_and_every_kind_of_entry_is_layered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    genesis(&store);
    let mut a_changes = fund([addr(1)], 2);
    a_changes.code.insert(code_hash(2), b"code two".to_vec());
    a_changes.merge(set(contract(0), b"k1", Some(b"a")));
    a_changes.merge(set(contract(0), b"k3", Some(b"three")));
    let a = store.speculate(None, &a_changes).unwrap();
    let mut b_changes = set(contract(0), b"k1", None);
    b_changes.merge(set(contract(0), b"k3", None));
    b_changes.merge(set(contract(0), b"k2", Some(b"b")));
    b_changes.merge(fund([addr(3)], 3));
    let b = store.speculate(Some(&a), &b_changes).unwrap();

    let check_b = |view: &dyn StateReader| {
        assert_eq!(
            view.account(&addr(1)).unwrap(),
            Some(Account::with_balance(2))
        );
        assert_eq!(
            view.account(&addr(3)).unwrap(),
            Some(Account::with_balance(3))
        );
        assert_eq!(&*view.code(&code_hash(1)).unwrap().unwrap(), b"code one");
        assert_eq!(&*view.code(&code_hash(2)).unwrap().unwrap(), b"code two");
        assert_eq!(
            view.storage(&contract(0), b"k1").unwrap(),
            None,
            "removal over a layer"
        );
        assert_eq!(
            view.storage(&contract(0), b"k3").unwrap(),
            None,
            "removal of a layer's key"
        );
        assert_eq!(
            view.storage(&contract(0), b"k2").unwrap(),
            Some(b"b".to_vec())
        );
    };
    let vb = store.pending_view(Some(&b)).unwrap();
    check_b(&vb);
    let va = store.pending_view(Some(&a)).unwrap();
    assert_eq!(
        va.storage(&contract(0), b"k1").unwrap(),
        Some(b"a".to_vec())
    );
    assert_eq!(
        va.storage(&contract(0), b"k2").unwrap(),
        Some(b"two".to_vec())
    );
    assert_eq!(va.account(&addr(3)).unwrap(), None);
    let head = store.pending_view(None).unwrap();
    assert_eq!(
        head.storage(&contract(0), b"k1").unwrap(),
        Some(b"base".to_vec())
    );
    assert_eq!(head.code(&code_hash(2)).unwrap(), None);
    assert_eq!(head.height(), Some(0));

    // Removing what the parent's state no longer holds changes nothing, as on commit.
    let c = store
        .speculate(Some(&b), &set(contract(0), b"k1", None))
        .unwrap();
    assert_eq!(c.root(), b.root());

    // The views are snapshots: committing underneath (and beyond) changes nothing they read.
    commit_on_head(&store, &a, &a_changes, &[]);
    commit_on_head(&store, &b, &b_changes, &[]);
    commit(&store, set(contract(0), b"k2", Some(b"later")));
    check_b(&vb);
    assert_eq!(
        va.storage(&contract(0), b"k1").unwrap(),
        Some(b"a".to_vec())
    );
    assert_eq!(
        head.storage(&contract(0), b"k1").unwrap(),
        Some(b"base".to_vec())
    );
    // A view of a committed pending state reads the state at its height.
    check_b(&store.pending_view(Some(&b)).unwrap());
    check_b(&store.state_at(2).unwrap());
}

#[test]
fn speculating_or_committing_on_a_chain_that_no_longer_extends_the_head_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    genesis(&store);
    let c1 = set(contract(0), b"k1", Some(b"one"));
    let c2 = set(contract(0), b"k1", Some(b"two"));
    let p1 = store.speculate(None, &c1).unwrap();
    let p2 = store.speculate(None, &c2).unwrap();
    let q2 = store.speculate(Some(&p2), &c1).unwrap();
    let r2 = store.speculate(Some(&q2), &c2).unwrap();
    commit_on_head(&store, &p1, &c1, &[]);
    let head = store.head().unwrap();
    let stale = |e: StorageError, version: u64| {
        assert!(
            matches!(e, StorageError::StalePending { version: v, head: Some(1) } if v == version),
            "{e}"
        );
    };
    stale(store.speculate(Some(&p2), &c1).unwrap_err(), 1);
    stale(store.speculate(Some(&r2), &c1).unwrap_err(), 3);
    stale(store.pending_view(Some(&q2)).unwrap_err(), 2);
    // A block that extends the head on paper, with the root of a pending state computed on
    // the losing branch: refused as stale, nothing written.
    let block = block_of(&q2, head.hash(), &c1);
    stale(store.commit_pending(&block, &q2, b"qc").unwrap_err(), 2);
    assert_eq!(store.commit_proof(2).unwrap(), None);
    assert_eq!(store.head().unwrap(), head);
    // The loser itself: its height is taken.
    let err = store
        .commit_pending(&block_of(&p2, Hash::default(), &c2), &p2, &[])
        .unwrap_err();
    assert!(
        matches!(err, StorageError::InvalidBlock { height: 1, .. }),
        "{err}"
    );
    // A child of the winner still works, and committing a pending block twice is refused.
    let next = store.speculate(Some(&p1), &c2).unwrap();
    let err = store
        .commit_pending(&block_of(&p1, head.parent_hash, &c1), &p1, &[])
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidBlock { .. }), "{err}");
    commit_on_head(&store, &next, &c2, &[]);
    assert_eq!(
        store.state().storage(&contract(0), b"k1").unwrap(),
        Some(b"two".to_vec())
    );
}

#[test]
fn a_block_that_does_not_match_its_pending_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let head = genesis(&store);
    let c = set(contract(0), b"k1", Some(b"one"));
    let p = store.speculate(None, &c).unwrap();
    let child = store.speculate(Some(&p), &c).unwrap();
    let good = block_of(&p, head.hash(), &c);
    let mut other_changes = good.clone();
    other_changes.changes = set(contract(0), b"k1", Some(b"other"));
    let mut wrong_root = good.clone();
    wrong_root.block.header.state_root = Hash([9; 32]);
    for (bad, pending, needle) in [
        (&other_changes, &p, "changes"),
        (&wrong_root, &p, "state root"),
        (&good, &child, "pending state is for height 2"),
    ] {
        let err = store.commit_pending(bad, pending, &[]).unwrap_err();
        assert!(
            matches!(&err, StorageError::InvalidBlock { reason, .. } if reason.contains(needle)),
            "{err}"
        );
    }
    // A child committed before its parent: the height is wrong.
    let err = store
        .commit_pending(&block_of(&child, head.hash(), &c), &child, &[])
        .unwrap_err();
    assert!(
        matches!(err, StorageError::InvalidBlock { height: 2, .. }),
        "{err}"
    );
    assert_eq!(store.head().unwrap(), head);
    store.commit_pending(&good, &p, &[]).unwrap();
}

#[test]
fn a_pending_state_of_another_store_handle_is_refused() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (s1, s2) = (open(d1.path()), open(d2.path()));
    let c = set(contract(0), b"k1", Some(b"one"));
    let p = s1.speculate(None, &c).unwrap();
    assert!(matches!(
        s2.speculate(Some(&p), &c),
        Err(StorageError::ForeignPending(_))
    ));
    assert!(matches!(
        s2.pending_view(Some(&p)),
        Err(StorageError::ForeignPending(_))
    ));
    let err = s2
        .commit_pending(&block_of(&p, Hash::default(), &c), &p, &[])
        .unwrap_err();
    assert!(matches!(err, StorageError::ForeignPending(_)), "{err}");
    // Clones share the handle.
    let clone = s1.clone();
    commit_on_head(&clone, &p, &c, &[]);
}

#[test]
fn speculation_racing_commits_of_a_competing_branch_gives_the_right_root_or_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), with_history(2)).unwrap();
    genesis(&store);
    // The expected roots of the losing branch, from a store that commits it.
    let expect_dir = tempfile::tempdir().unwrap();
    let expect = open(expect_dir.path());
    genesis(&expect);
    let lose = |i: u8| set(contract(1), &[i], Some(&[i; 40]));
    let win = |i: u8| set(contract(2), &[i], Some(&[i; 40]));
    let roots: Vec<Hash> = (0..20u8)
        .map(|i| commit(&expect, lose(i)).state_root)
        .collect();
    let loser = store.speculate(None, &lose(0)).unwrap();
    let tip = std::thread::scope(|s| {
        let store = &store;
        s.spawn(move || {
            for i in 0..20u8 {
                commit(store, win(i));
            }
        });
        let mut tip = loser;
        for (i, root) in roots.iter().enumerate().skip(1) {
            match store.speculate(Some(&tip), &lose(i as u8)) {
                Ok(next) => {
                    assert_eq!(next.root(), *root);
                    tip = next;
                }
                Err(StorageError::StalePending { .. }) => break,
                Err(e) => panic!("{e}"),
            }
        }
        tip
    });
    // Whatever the interleaving, once the competing branch has committed, the losing chain is
    // stale: no root, no view, no commit.
    assert!(matches!(
        store.speculate(Some(&tip), &lose(99)),
        Err(StorageError::StalePending { .. })
    ));
    assert!(matches!(
        store.pending_view(Some(&tip)),
        Err(StorageError::StalePending { .. })
    ));
}

#[test]
fn commit_proofs_round_trip_with_their_blocks_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    genesis(&store);
    let c1 = set(contract(0), b"k1", Some(b"one"));
    let c2 = set(contract(0), b"k1", Some(b"two"));
    let p1 = store.speculate(None, &c1).unwrap();
    let p2 = store.speculate(Some(&p1), &c2).unwrap();
    let certificate: Vec<u8> = (0..=255u8).cycle().take(3_000).collect();
    commit_on_head(&store, &p1, &c1, &certificate);
    commit_on_head(&store, &p2, &c2, &[]);
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store.commit_proof(0).unwrap(),
        None,
        "committed without a proof"
    );
    assert_eq!(store.commit_proof(1).unwrap(), Some(certificate));
    assert_eq!(store.commit_proof(2).unwrap(), Some(vec![]));
    assert_eq!(store.commit_proof(3).unwrap(), None);
    assert_eq!(store.head().unwrap().state_root, p2.root());
}

/// Turns the database at `dir` into one of `layout` (1: columns 0 to 13; 2 to 6: 0 to 14): the
/// latest entries of `keys` move from the `latest` column to the columns where layouts before 7
/// keep them, under the keys themselves (replacing what those held), and the `latest` column
/// is gone.
fn older_layout(dir: &Path, layout: u32, keys: &[StateKey]) {
    use aether_storage::layout::{self, COLUMNS, column_options};
    let mut options = parity_db::Options::with_columns(dir, COLUMNS);
    options.columns = column_options();
    let mut moved = vec![(
        layout::META,
        layout::meta::LAYOUT.to_vec(),
        Some(layout.to_le_bytes().to_vec()),
    )];
    {
        let db = parity_db::Db::open(&options).unwrap();
        for key in keys {
            // A key not in `latest` (not written since an earlier upgrade) stays where it is.
            let Some(entry) = db.get(layout::LATEST, &key.key_hash().0).unwrap() else {
                continue;
            };
            let (col, key) = match key {
                StateKey::Account(a) => (layout::ACCOUNTS, a.0.to_vec()),
                StateKey::Code(h) => (layout::CODE, h.0.to_vec()),
                StateKey::Storage(c, k) => (layout::STORAGE, [&c.0[..], k].concat()),
            };
            moved.push((col, key, Some(entry)));
        }
    }
    parity_db::Db::drop_last_column(&mut options).unwrap();
    if layout == 1 {
        parity_db::Db::drop_last_column(&mut options).unwrap();
    }
    parity_db::Db::open(&options)
        .unwrap()
        .commit(moved)
        .unwrap();
}

/// The keys [`genesis`] writes, and what they hold then, but for `k1`.
fn check_genesis_keys(store: &Store) {
    let state = store.state();
    assert_eq!(state.account(&addr(1)).unwrap().unwrap().balance, 100);
    assert_eq!(
        state.code(&code_hash(1)).unwrap().as_deref(),
        Some(&b"code one"[..])
    );
    assert_eq!(
        state.storage(&contract(0), b"k2").unwrap(),
        Some(b"two".to_vec())
    );
}

#[test]
fn databases_of_layouts_1_and_6_are_upgraded_in_place_and_a_newer_one_is_refused() {
    use aether_storage::layout::{self, COLUMNS, column_options};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    genesis(&store);
    let one = commit(&store, set(contract(0), b"k1", Some(b"one")));
    drop(store);
    // Turn it into a layout-1 database: no proof column, no latest column, layout record 1.
    let keys = [
        StateKey::Account(addr(1)),
        StateKey::Code(code_hash(1)),
        StateKey::Storage(contract(0), b"k1".to_vec()),
        StateKey::Storage(contract(0), b"k2".to_vec()),
    ];
    older_layout(dir.path(), 1, &keys);
    assert!(
        parity_db::Db::open(&{
            let mut o = parity_db::Options::with_columns(dir.path(), COLUMNS);
            o.columns = column_options();
            o
        })
        .is_err()
    );

    let store = open(dir.path());
    assert_eq!(store.head(), Some(one.clone()));
    assert_eq!(store.commit_proof(1).unwrap(), None);
    // Values written before the upgrade are read from their old columns.
    assert_eq!(
        store.state().storage(&contract(0), b"k1").unwrap(),
        Some(b"one".to_vec())
    );
    check_genesis_keys(&store);
    let c = set(contract(0), b"k1", Some(b"two"));
    let p = store.speculate(None, &c).unwrap();
    commit_on_head(&store, &p, &c, b"qc");
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.commit_proof(2).unwrap(), Some(b"qc".to_vec()));
    assert_eq!(
        store.state().storage(&contract(0), b"k1").unwrap(),
        Some(b"two".to_vec())
    );
    drop(store);

    // A layout-6 database (no latest column) gets its column too.
    older_layout(dir.path(), 6, &keys);
    let store = open(dir.path());
    assert_eq!(
        store.state().storage(&contract(0), b"k1").unwrap(),
        Some(b"two".to_vec())
    );
    check_genesis_keys(&store);
    drop(store);

    // A layout-2 database (tree nodes in jmt's encoding only) is upgraded by its record alone.
    let layout_record = |version: u32| {
        let mut options = parity_db::Options::with_columns(dir.path(), COLUMNS);
        options.columns = column_options();
        let db = parity_db::Db::open(&options).unwrap();
        let before = db.get(layout::META, layout::meta::LAYOUT).unwrap();
        db.commit(vec![(
            layout::META,
            layout::meta::LAYOUT.to_vec(),
            Some(version.to_le_bytes().to_vec()),
        )])
        .unwrap();
        before
    };
    assert_eq!(
        layout_record(2),
        Some(layout::LAYOUT_VERSION.to_le_bytes().to_vec())
    );
    let store = open(dir.path());
    assert_eq!(
        store.state().storage(&contract(0), b"k1").unwrap(),
        Some(b"two".to_vec())
    );
    drop(store);

    // A key removed after the upgrade stays removed once its tombstone is pruned: its entry
    // in the old column went with the removal.
    let store = Store::open(dir.path(), with_history(2)).unwrap();
    commit(&store, set(contract(0), b"k1", None));
    for i in 0..4u8 {
        commit(&store, set(contract(1), &[i], Some(b"x")));
    }
    assert_eq!(
        store.oldest_state_height(),
        store.head().unwrap().height - 1
    );
    assert_eq!(store.state().storage(&contract(0), b"k1").unwrap(), None);
    drop(store);

    // A layout this build does not know is refused by name.
    assert_eq!(
        layout_record(layout::LAYOUT_VERSION + 1),
        Some(layout::LAYOUT_VERSION.to_le_bytes().to_vec()),
        "the layout-2 record was upgraded"
    );
    let err = Store::open(dir.path(), StoreConfig::default())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            StorageError::Version { found, expected, .. }
                if found == layout::LAYOUT_VERSION + 1 && expected == layout::LAYOUT_VERSION
        ),
        "{err}"
    );
}

/// Execution reads the keys a block changes before the block's root is computed, and the store
/// keeps what those reads found for the root's previous versions. A store whose every key is
/// read before each block (through the head's view and through a pending parent's view) gives
/// the roots, reads and pruning of a twin that never reads: a read made before a commit never
/// stands in for what the commit wrote (removals, re-inserts, overwrites, pruned tombstones).
#[test]
fn keys_read_before_a_block_give_its_root_the_previous_versions_of_a_store_that_did_not_read() {
    let (dir, twin_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = with_history(2);
    let reader = Store::open(dir.path(), config).unwrap();
    let twin = Store::open(twin_dir.path(), config).unwrap();
    let keys: Vec<StateKey> = (0..6u8)
        .map(|k| StateKey::Storage(contract(0), vec![k]))
        .collect();
    let read_all = |view: &dyn StateReader| {
        for key in &keys {
            let StateKey::Storage(c, k) = key else {
                unreachable!()
            };
            view.storage(c, k).unwrap();
        }
    };
    let mut model = MemoryState::default();
    // Block h sets, removes or re-inserts key (h + k) % 3 == 0, 1, 2 in turn: every key goes
    // through removals, re-inserts after a removal and after a pruned tombstone, overwrites.
    for h in 0..24u8 {
        let mut changes = ChangeSet::default();
        for (k, _) in keys.iter().enumerate() {
            let value = match (usize::from(h) + k) % 3 {
                0 => Some(vec![h, k as u8]),
                1 => None,
                _ if h % 2 == 0 => Some(vec![h]),
                _ => continue,
            };
            changes.storage.insert((contract(0), vec![k as u8]), value);
        }
        // Read as execution does, through the head's view; at odd heights also through the
        // view of a pending parent that overwrites one key and is then committed, so that the
        // block's previous versions are looked up after a commit that followed the reads.
        read_all(&reader.pending_view(None).unwrap());
        if h % 2 == 1 {
            let parent = set(contract(0), &[h % 6], Some(&[200, h]));
            let pending = reader.speculate(None, &parent).unwrap();
            read_all(&reader.pending_view(Some(&pending)).unwrap());
            commit_on_head(&reader, &pending, &parent, b"");
            commit(&twin, parent.clone());
            model.apply(&parent);
        }
        let header = commit(&reader, changes.clone());
        let twin_header = commit(&twin, changes.clone());
        model.apply(&changes);
        assert_eq!(
            header.state_root, twin_header.state_root,
            "root at {}",
            header.height
        );
        check_reads(&reader.state(), &model);
    }
    assert_eq!(
        reader.debug_entry_counts().unwrap(),
        twin.debug_entry_counts().unwrap(),
        "the reading store prunes other entries than the twin"
    );
}
