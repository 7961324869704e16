//! A database written by the layout-3 build (leaf values in `tree_values`) opens upgraded to
//! layout 4 (values in their leaves): its history reads, proves, snapshots and prunes as before,
//! and blocks committed on top give the roots of a store that never had layout 3.

mod common;

use std::path::Path;

use aether_engine::memory::MemoryState;
use aether_engine::ports::StateReader;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address};
use aether_storage::layout::{COLUMNS, column_options};
use aether_storage::{StateKey, Store, StoreConfig, restore_snapshot};
use common::legacy::{CONTRACT, legacy_block};
use common::*;
use indicatif::ProgressBar;
use parity_scale_codec::Decode;

/// The commits the layout-3 build made writing the fixture's blocks 0 to 7 (its `Database::commit`
/// calls, each a SCALE `Vec<(column, key, Option<value>)>`), replayed into a new database.
fn layout_3_database(dir: &Path) {
    let mut bytes: &[u8] = include_bytes!("fixtures/layout-3.writes");
    let mut options = parity_db::Options::with_columns(dir, COLUMNS);
    options.columns = column_options();
    let db = parity_db::Db::open_or_create(&options).unwrap();
    while !bytes.is_empty() {
        let writes = Vec::<(u8, Vec<u8>, Option<Vec<u8>>)>::decode(&mut bytes).unwrap();
        db.commit(writes).unwrap();
    }
}

/// Every key the fixture's blocks (and the blocks after them here) write.
fn keys() -> Vec<StateKey> {
    let mut keys: Vec<StateKey> = (0..40u8)
        .map(|i| StateKey::Account(Address([i; 32])))
        .collect();
    keys.extend((0..120u8).map(|k| StateKey::Storage(CONTRACT, vec![k])));
    keys
}

fn check(view: &dyn StateReader, model: &MemoryState, height: u64) {
    for key in keys() {
        match key {
            StateKey::Account(a) => assert_eq!(
                view.account(&a).unwrap(),
                model.accounts.get(&a).cloned(),
                "account {} at height {height}",
                a.0[0]
            ),
            StateKey::Storage(c, k) => assert_eq!(
                view.storage(&c, &k).unwrap(),
                model.storage.get(&(c, k.clone())).cloned(),
                "storage key {k:?} at height {height}"
            ),
            StateKey::Code(_) => unreachable!(),
        }
    }
}

/// The blocks after the fixture's: new storage keys beside the old ones (so that leaves written
/// by layout 3 move down under new internal nodes, carrying no value), overwrites, removals.
fn later_block(h: u8) -> ChangeSet {
    let mut c = legacy_block(h);
    if h == 8 {
        for k in 60..120u8 {
            c.storage.insert((CONTRACT, vec![k]), Some(vec![h, k]));
        }
    }
    c
}

/// Everything written at height `h`, the last blocks: every key overwritten.
fn overwrite_all(h: u8) -> ChangeSet {
    let mut c = ChangeSet::default();
    for i in 0..40u8 {
        c.accounts
            .insert(Address([i; 32]), Account::with_balance(u128::from(h)));
    }
    for k in 0..120u8 {
        c.storage.insert((CONTRACT, vec![k]), Some(vec![h]));
    }
    c
}

#[test]
fn a_layout_3_database_is_upgraded_and_keeps_its_history_proofs_snapshots_and_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let (db_dir, fresh_dir) = (dir.path().join("db"), dir.path().join("fresh"));
    layout_3_database(&db_dir);
    let archive = StoreConfig {
        state_history: u64::MAX,
        ..StoreConfig::default()
    };
    let store = Store::open(&db_dir, archive).unwrap();
    let fresh = Store::open(&fresh_dir, archive).unwrap();

    // The fixture's history, read and proved through the values layout 3 kept apart.
    let mut models = vec![];
    let mut model = MemoryState::default();
    for h in 0..8u8 {
        let changes = legacy_block(h);
        model.apply(&changes);
        models.push(model.clone());
        commit(&fresh, changes);
    }
    assert_eq!(store.head(), fresh.head(), "the fixture's head and roots");
    for (h, model) in models.iter().enumerate() {
        check(&store.state_at(h as u64).unwrap(), model, h as u64);
    }

    // Blocks on top: the roots of a store that never had layout 3; every height reads right.
    for h in 8..16u8 {
        let changes = later_block(h);
        model.apply(&changes);
        models.push(model.clone());
        let header = commit(&store, changes.clone());
        assert_eq!(header, commit(&fresh, changes), "block {h}");
    }
    for (h, model) in models.iter().enumerate() {
        check(&store.state_at(h as u64).unwrap(), model, h as u64);
        let hash = store.block_hash(h as u64).unwrap().unwrap();
        let header_root = store.header(&hash).unwrap().unwrap().state_root;
        for key in [
            StateKey::Storage(CONTRACT, vec![5]),
            StateKey::Account(Address([3; 32])),
        ] {
            store
                .prove(&key, h as u64)
                .unwrap()
                .verify(&header_root)
                .unwrap();
        }
    }

    // A snapshot walks leaves of both kinds; restored, it is the same state.
    let snapshot = dir.path().join("state.snapshot");
    store
        .create_snapshot(15, &snapshot, &ProgressBar::hidden())
        .unwrap();
    let restored = restore_snapshot(
        &snapshot,
        &dir.path().join("restored"),
        StoreConfig::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    check(&restored.state(), &model, 15);
    drop(restored);

    // With a window of two heights and every key overwritten, pruning removes every value
    // layout 3 wrote: nothing is left in `tree_values`.
    drop(store);
    let store = Store::open(&db_dir, with_history(2)).unwrap();
    for h in 16..20u8 {
        let changes = overwrite_all(h);
        model.apply(&changes);
        commit(&store, changes);
    }
    check(&store.state(), &model, 19);
    check(
        &store.state_at(18).unwrap(),
        &{
            let mut m = models[15].clone();
            for h in 16..19 {
                m.apply(&overwrite_all(h));
            }
            m
        },
        18,
    );
    let counts = store.debug_entry_counts().unwrap();
    assert_eq!(counts.tree_values, 0, "{counts:?}");
    // Nor is any root left but the window's: the fixture's last (height 7, in `tree_nodes`),
    // made stale by the first block after the upgrade, is removed there too.
    assert_eq!(counts.tree_roots, 2, "{counts:?}");
    assert_eq!(
        store.state().storage(&CONTRACT, &[0]).unwrap(),
        Some(vec![19])
    );
}
