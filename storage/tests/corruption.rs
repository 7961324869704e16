//! A damaged database gives an error naming it, never a panic and never a silently wrong state.

mod common;

use std::path::Path;

use aether_storage::{StorageError, Store, StoreConfig};
use common::*;

fn populated(dir: &Path) {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    for i in 0..20u8 {
        commit(&store, set(addr(1), &[i], Some(&[i; 100])));
    }
}

/// The files of the database, the node file's among them, relative to `dir`.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = vec![];
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                v.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    v.sort();
    v
}

/// A copy of the database in `template`.
fn copy_of(template: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in files(template) {
        let to = dir.path().join(&f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(template.join(&f), to).unwrap();
    }
    dir
}

#[test]
fn a_missing_database_is_an_error_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere");
    let err = Store::open_existing(&path, StoreConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[test]
fn garbage_in_the_metadata_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    std::fs::write(dir.path().join("metadata"), b"\xff\xfe garbage").unwrap();
    let err = Store::open(dir.path(), StoreConfig::default())
        .err()
        .unwrap();
    assert!(matches!(err, StorageError::Db { .. }), "{err}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn every_database_file_truncated_or_scrambled_gives_an_error_or_the_committed_state() {
    // For each file of the database: truncate it, or overwrite its middle with garbage. Opening
    // either fails with an error, or succeeds and then must read back exactly what was
    // committed (ParityDB recovers some damage from its log) or fail a read with an error.
    let template = tempfile::tempdir().unwrap();
    populated(template.path());
    let names = files(template.path());
    assert!(names.len() > 3, "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.extension().is_some_and(|e| e == "nodes")),
        "the node file is among them: {names:?}"
    );
    // An undamaged copy reads back.
    check_reads(copy_of(template.path()).path()).unwrap();
    let mut failures = Vec::new();
    for name in &names {
        for mode in ["truncate", "scramble"] {
            let dir = copy_of(template.path());
            let target = dir.path().join(name);
            let mut bytes = std::fs::read(&target).unwrap();
            if mode == "truncate" {
                bytes.truncate(bytes.len() / 2);
            } else {
                let mid = bytes.len() / 2;
                for b in bytes.iter_mut().skip(mid).take(64) {
                    *b ^= 0xa5;
                }
            }
            std::fs::write(&target, &bytes).unwrap();
            let outcome = std::panic::catch_unwind(|| check_reads(dir.path()));
            if outcome.is_err() {
                failures.push(format!("{mode} of {name:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "wrong values or panics after: {failures:?}"
    );
}

/// A store of three funded accounts and two storage entries at height 1 in `dir`.
fn small_store(dir: &Path) {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    let mut changes = fund([addr(1), addr(2), addr(3)], 500);
    changes
        .storage
        .insert((addr(7), vec![1]), vec![1; 40].into());
    changes
        .storage
        .insert((addr(7), vec![2]), vec![2; 40].into());
    commit(&store, changes);
    commit(&store, fund([addr(2)], 700));
}

#[test]
fn entries_a_damaged_index_lost_are_errors_to_read_and_to_remove_and_are_rewritten_by_a_set() {
    // ParityDB's index has no checksum: damage to it can drop an entry without any error from
    // ParityDB (the scramble test above hits this when an entry lands in the scrambled bytes).
    // Removing entries through ParityDB itself is that damage, made deterministic. `twin` is
    // the same store undamaged.
    use aether_engine::ports::StateReader;
    use aether_storage::StateKey;
    use aether_storage::layout::{COLUMNS, LATEST, column_options};
    let (dir, twin) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    small_store(dir.path());
    small_store(twin.path());
    {
        let mut options = parity_db::Options::with_columns(dir.path(), COLUMNS);
        options.columns = column_options();
        let db = parity_db::Db::open(&options).unwrap();
        // The latest column's key: the state key's hash (docs/storage.md).
        let account_2 = StateKey::Account(addr(2)).key_hash().0.to_vec();
        let slot_2 = StateKey::Storage(addr(7), vec![2]).key_hash().0.to_vec();
        assert!(db.get(LATEST, &account_2).unwrap().is_some());
        assert!(db.get(LATEST, &slot_2).unwrap().is_some());
        db.commit([(LATEST, account_2, None), (LATEST, slot_2, None)])
            .unwrap();
    }
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let twin = Store::open(twin.path(), StoreConfig::default()).unwrap();
    let state = store.state();
    assert_eq!(state.account(&addr(1)).unwrap().unwrap().balance, 500);
    assert_eq!(
        state.account(&addr(9)).unwrap(),
        None,
        "a key never written"
    );
    assert_eq!(state.storage(&addr(7), &[1]).unwrap(), Some(vec![1; 40]));
    for err in [
        state.account(&addr(2)).unwrap_err(),
        state.storage(&addr(7), &[2]).unwrap_err(),
    ] {
        let err = err.to_string();
        assert!(err.contains("missing"), "{err}");
        assert!(
            err.contains(&dir.path().display().to_string()),
            "names the database: {err}"
        );
    }
    // Removing a key the latest column says is absent is checked against the tree: skipped as
    // a no-op, the key would stay in this store's tree alone (a wrong root).
    let mut removal = aether_engine::state::ChangeSet::default();
    removal.storage.insert((addr(7), vec![2]), None);
    assert!(
        store.root_after(&removal).is_err(),
        "a removal over a lost entry computed a root"
    );
    // Setting it again: the tree update finds the key in the tree by itself, so the root is
    // the undamaged store's, and the commit writes the entry again.
    let set = fund([addr(2)], 1);
    assert_eq!(
        store.root_after(&set).unwrap(),
        twin.root_after(&set).unwrap()
    );
    commit(&store, set.clone());
    commit(&twin, set);
    assert_eq!(store.head().unwrap(), twin.head().unwrap());
    assert_eq!(store.state().account(&addr(2)).unwrap().unwrap().balance, 1);
}

#[test]
fn a_stale_list_naming_a_latest_key_of_the_wrong_length_is_an_error_not_a_panic() {
    // The `latest` column's keys are 32-byte key hashes, and ParityDB panics on another length
    // in a uniform column. A damaged stale list could name one; pruning it must refuse it.
    use aether_storage::layout::{COLUMNS, LATEST, STALE, column_options};
    use parity_scale_codec::Encode;
    let dir = tempfile::tempdir().unwrap();
    small_store(dir.path());
    {
        let mut options = parity_db::Options::with_columns(dir.path(), COLUMNS);
        options.columns = column_options();
        let db = parity_db::Db::open(&options).unwrap();
        // A stale list as the store encodes it: nodes, values, tombstones (key hash, column,
        // key there).
        type Tombstone = ([u8; 32], u8, Vec<u8>);
        let list: (Vec<Vec<u8>>, Vec<[u8; 40]>, Vec<Tombstone>) =
            (vec![], vec![], vec![([0; 32], LATEST, vec![1, 2, 3, 4, 5])]);
        db.commit([(STALE, 1u64.to_be_bytes().to_vec(), Some(list.encode()))])
            .unwrap();
    }
    let store = Store::open(dir.path(), with_history(1)).unwrap();
    let mut errors = vec![];
    for i in 0..3u8 {
        let block = next_block(&store, fund([addr(10 + i)], 1), vec![]);
        if let Err(e) = store.commit(&block) {
            errors.push(e.to_string());
            break;
        }
    }
    let [err] = &errors[..] else {
        panic!("pruning the damaged list was not refused: {errors:?}");
    };
    assert!(err.contains("latest"), "{err}");
}

/// Opens and reads everything; Ok if all reads are right, Err if an error was reported.
/// Panics (failing the test) if a read returns a wrong value.
fn check_reads(dir: &Path) -> Result<(), StorageError> {
    use aether_engine::ports::StateReader;
    let store = Store::open(dir, StoreConfig::default())?;
    let head = store.head().map(|h| h.height);
    if let Some(head) = head {
        let state = store.state();
        for i in 0..=head as u8 {
            let got = state
                .storage(&addr(1), &[i])
                .map_err(|e| StorageError::Tree(e.to_string()))?;
            assert_eq!(
                got,
                Some(vec![i; 100]),
                "wrong value for key {i} after damage"
            );
        }
    }
    Ok(())
}
