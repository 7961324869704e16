//! Snapshots: round trip verified by root, listing, and every kind of damaged file refused
//! without leaving a partial database behind.

mod common;

use std::path::{Path, PathBuf};

use aether_engine::ports::StateReader;
use aether_engine::types::{Account, Hash};
use aether_storage::{
    StateKey, StorageError, Store, StoreConfig, file_name, list_snapshots, read_info,
    restore_snapshot,
};
use common::*;
use indicatif::ProgressBar;

/// A store with enough entries for several chunks (some large), and its snapshot at the head.
fn snapshot_fixture(dir: &Path) -> (Store, PathBuf) {
    let store = Store::open(&dir.join("db"), StoreConfig::default()).unwrap();
    let mut c = fund((0..=255).map(addr), 1_000);
    for i in 0..10_000u32 {
        c.merge(set(addr(1), &i.to_le_bytes(), Some(&i.to_be_bytes())));
    }
    c.code.insert(Hash([7; 32]), vec![0xab; 300_000]);
    commit(&store, c);
    commit(&store, set(addr(1), b"late", Some(b"value")));
    let path = dir.join(file_name(1));
    let info = store
        .create_snapshot(1, &path, &ProgressBar::hidden())
        .unwrap();
    assert_eq!(info.header.height, 1);
    assert_eq!(info.header.entries, 256 + 10_000 + 1 + 1);
    (store, path)
}

#[test]
fn a_restored_snapshot_has_the_same_root_state_and_future() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = snapshot_fixture(dir.path());
    let restored_dir = dir.path().join("restored");
    let restored = restore_snapshot(
        &path,
        &restored_dir,
        StoreConfig::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(restored.head(), store.head());
    // The block at the snapshot's height has no body in the restored store: not found, not
    // corrupt.
    use aether_engine::ports::BlockReader;
    assert_eq!(restored.block_by_height(1).unwrap(), None);
    let (a, b) = (store.state(), restored.state());
    for i in (0..10_000u32).step_by(97) {
        assert_eq!(
            b.storage(&addr(1), &i.to_le_bytes()).unwrap(),
            Some(i.to_be_bytes().to_vec())
        );
    }
    assert_eq!(
        b.storage(&addr(1), b"late").unwrap(),
        Some(b"value".to_vec())
    );
    assert_eq!(
        b.account(&addr(200)).unwrap(),
        Some(Account::with_balance(1_000))
    );
    assert_eq!(
        a.code(&Hash([7; 32])).unwrap(),
        b.code(&Hash([7; 32])).unwrap()
    );
    // Proofs from the restored store verify against the original root.
    let root = store.head().unwrap().state_root;
    restored
        .prove(&StateKey::Storage(addr(1), 5u32.to_le_bytes().to_vec()), 1)
        .unwrap()
        .verify(&root)
        .unwrap();
    // Both go on identically, also after reopening the restored one.
    drop((a, b, restored));
    let restored = Store::open_existing(&restored_dir, StoreConfig::default()).unwrap();
    let next = set(addr(1), &3u32.to_le_bytes(), None);
    let ha = commit(&store, next.clone());
    let hb = commit(&restored, next);
    assert_eq!(ha, hb);
    assert_eq!(
        restored
            .state()
            .storage(&addr(1), &3u32.to_le_bytes())
            .unwrap(),
        None
    );
}

#[test]
fn an_empty_state_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), StoreConfig::default()).unwrap();
    commit(&store, Default::default());
    let path = dir.path().join("empty.snapshot");
    store
        .create_snapshot(0, &path, &ProgressBar::hidden())
        .unwrap();
    let restored = restore_snapshot(
        &path,
        &dir.path().join("r"),
        StoreConfig::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(restored.head(), store.head());
    let h = commit(&restored, fund([addr(1)], 1));
    assert_eq!(h, commit(&store, fund([addr(1)], 1)));
}

#[test]
fn snapshots_are_listed_by_height_with_damaged_files_named() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = snapshot_fixture(dir.path());
    store
        .create_snapshot(0, &dir.path().join(file_name(0)), &ProgressBar::hidden())
        .unwrap();
    std::fs::write(dir.path().join("junk.snapshot"), b"not a snapshot").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
    let listed = list_snapshots(dir.path()).unwrap();
    let heights: Vec<_> = listed
        .iter()
        .map(|l| l.info.as_ref().map(|i| i.header.height).ok())
        .collect();
    assert_eq!(heights, vec![Some(0), Some(1), None]);
    let err = listed[2].info.as_ref().unwrap_err().to_string();
    assert!(
        err.contains("junk.snapshot") && err.contains("bad magic"),
        "{err}"
    );
}

fn restore_fails(snapshot: &Path, dir: &Path) -> String {
    let target = dir.join("restored");
    let err = restore_snapshot(
        snapshot,
        &target,
        StoreConfig::default(),
        &ProgressBar::hidden(),
    )
    .err()
    .expect("restore must fail");
    assert!(
        !target.exists(),
        "a failed restore leaves no directory behind ({err})"
    );
    err.to_string()
}

#[test]
fn corrupt_or_truncated_snapshots_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, path) = snapshot_fixture(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.path().join("bad.snapshot");
    let path_str = bad.display().to_string();

    // A flipped byte anywhere: header, chunk data, proof, checksum.
    for at in [
        10,
        100,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 40,
        bytes.len() - 1,
    ] {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        std::fs::write(&bad, &b).unwrap();
        let err = restore_fails(&bad, dir.path());
        assert!(err.contains(&path_str), "error names the file: {err}");
    }
    // Truncated at several points.
    for len in [0, 5, 20, bytes.len() / 2, bytes.len() - 33, bytes.len() - 1] {
        std::fs::write(&bad, &bytes[..len]).unwrap();
        let err = restore_fails(&bad, dir.path());
        assert!(
            err.contains("truncated") || err.contains("checksum"),
            "{err}"
        );
    }
    // Extra bytes after the checksum.
    let mut longer = bytes.clone();
    longer.push(0);
    std::fs::write(&bad, &longer).unwrap();
    assert!(restore_fails(&bad, dir.path()).contains("after the checksum"));
    // Not a snapshot at all, or missing.
    std::fs::write(&bad, b"garbage garbage garbage").unwrap();
    assert!(restore_fails(&bad, dir.path()).contains("bad magic"));
    let missing = dir.path().join("missing.snapshot");
    assert!(matches!(
        restore_snapshot(
            &missing,
            &dir.path().join("x"),
            StoreConfig::default(),
            &ProgressBar::hidden()
        ),
        Err(StorageError::Io { .. })
    ));
    assert!(read_info(&missing).is_err());
}

#[test]
fn a_snapshot_is_not_restored_over_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = snapshot_fixture(dir.path());
    let head = store.head();
    drop(store);
    let err = restore_snapshot(
        &path,
        &dir.path().join("db"),
        StoreConfig::default(),
        &ProgressBar::hidden(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("not empty"), "{err}");
    let store = Store::open_existing(&dir.path().join("db"), StoreConfig::default()).unwrap();
    assert_eq!(store.head(), head, "the existing database is untouched");
}

#[test]
fn a_database_left_by_an_interrupted_restore_is_refused_at_open() {
    // What a restore killed half-way leaves: a database with the restore marker set.
    let dir = tempfile::tempdir().unwrap();
    let db = aether_storage::db::Database::open(dir.path(), true, Default::default()).unwrap();
    db.commit(vec![(
        aether_storage::layout::META,
        aether_storage::layout::meta::RESTORING.to_vec(),
        Some(Vec::new()),
    )])
    .unwrap();
    drop(db);
    let err = Store::open(dir.path(), StoreConfig::default())
        .err()
        .unwrap();
    assert!(matches!(err, StorageError::IncompleteRestore(_)), "{err}");
    assert!(err.to_string().contains("interrupted snapshot restore"));
}

/// A snapshot carries the commit proof stored with its block, and the restored store has it
/// at its head (consensus starts from it); a format-1 file (no proof record) is still read.
#[test]
fn the_commit_proof_of_the_snapshot_block_is_restored_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), StoreConfig::default()).unwrap();
    commit(&store, fund((0..8).map(addr), 5));
    let changes = fund([addr(9)], 7);
    let pending = store.speculate(None, &changes).unwrap();
    let head = store.head().unwrap();
    let executed = aether_engine::ports::ExecutedBlock {
        block: aether_engine::types::Block {
            header: aether_engine::types::BlockHeader {
                height: pending.version(),
                parent_hash: head.hash(),
                timestamp_ms: 2_000,
                state_root: pending.root(),
                ..Default::default()
            },
            transactions: vec![],
        },
        receipts: vec![],
        changes,
    };
    let proof = b"a commit certificate, opaque to storage".to_vec();
    store.commit_pending(&executed, &pending, &proof).unwrap();
    let height = store.head().unwrap().height;

    let path = dir.path().join(file_name(height));
    store
        .create_snapshot(height, &path, &ProgressBar::hidden())
        .unwrap();
    let restored = restore_snapshot(
        &path,
        &dir.path().join("r"),
        StoreConfig::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(restored.head(), store.head());
    assert_eq!(restored.commit_proof(height).unwrap(), Some(proof.clone()));

    // The same file as format 1 wrote it: no proof record, its own checksum.
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let proof_at = 16 + header_len;
    let proof_len = u32::from_le_bytes(bytes[proof_at..proof_at + 4].try_into().unwrap());
    assert_eq!(proof_len as usize, proof.len());
    let mut old = bytes[..proof_at].to_vec();
    old[8..12].copy_from_slice(&1u32.to_le_bytes());
    old.extend_from_slice(&bytes[proof_at + 4 + proof.len()..bytes.len() - 32]);
    let digest: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        &old,
    ))
    .into();
    old.extend_from_slice(&digest);
    let old_path = dir.path().join("old.snapshot");
    std::fs::write(&old_path, &old).unwrap();
    assert_eq!(read_info(&old_path).unwrap().header.height, height);
    let restored_old = restore_snapshot(
        &old_path,
        &dir.path().join("r-old"),
        StoreConfig::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(restored_old.head(), store.head());
    assert_eq!(restored_old.commit_proof(height).unwrap(), None);
    // A format this build does not know is refused by number.
    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&3u32.to_le_bytes());
    std::fs::write(&old_path, &future).unwrap();
    assert!(restore_fails(&old_path, dir.path()).contains("snapshot format 3"));
}
