//! Inclusion and non-inclusion proofs, checked against header roots the way a light client
//! would, and refused when anything is tampered with.

mod common;

use aether_engine::types::{Account, Hash};
use aether_storage::{ProofError, StateKey, StateProof, Store, StoreConfig};
use common::*;
use parity_scale_codec::{Decode, Encode};

fn store_with_state() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let mut c = fund((1..=50).map(addr), 10);
    for i in 0..200u32 {
        c.merge(set(addr(100), &i.to_le_bytes(), Some(&i.to_be_bytes())));
    }
    c.code.insert(Hash([5; 32]), b"\0asm code".to_vec());
    commit(&store, c);
    commit(
        &store,
        set(addr(100), &7u32.to_le_bytes(), Some(b"changed")),
    );
    (dir, store)
}

#[test]
fn inclusion_proofs_verify_against_the_header_root() {
    let (_d, store) = store_with_state();
    let root = store.head().unwrap().state_root;
    let key = StateKey::Storage(addr(100), 7u32.to_le_bytes().to_vec());
    let proof = store.prove(&key, 1).unwrap();
    assert_eq!(proof.value.as_deref(), Some(&b"changed"[..]));
    proof.verify(&root).unwrap();

    let account = store.prove(&StateKey::Account(addr(3)), 1).unwrap();
    assert_eq!(
        Account::decode(&mut &account.value.clone().unwrap()[..]).unwrap(),
        Account::with_balance(10)
    );
    account.verify(&root).unwrap();
    store
        .prove(&StateKey::Code(Hash([5; 32])), 1)
        .unwrap()
        .verify(&root)
        .unwrap();

    // Proofs survive the wire.
    let decoded = StateProof::decode(&mut &proof.encode()[..]).unwrap();
    decoded.verify(&root).unwrap();
}

#[test]
fn proofs_at_an_earlier_height_verify_against_that_heights_root() {
    let (_d, store) = store_with_state();
    let root0 = store
        .header(&store.block_hash(0).unwrap().unwrap())
        .unwrap()
        .unwrap()
        .state_root;
    let key = StateKey::Storage(addr(100), 7u32.to_le_bytes().to_vec());
    let old = store.prove(&key, 0).unwrap();
    assert_eq!(old.value, Some(7u32.to_be_bytes().to_vec()));
    old.verify(&root0).unwrap();
    assert!(old.verify(&store.head().unwrap().state_root).is_err());
}

#[test]
fn non_inclusion_proofs_verify_for_absent_keys() {
    let (_d, store) = store_with_state();
    let root = store.head().unwrap().state_root;
    for key in [
        StateKey::Account(addr(200)),
        StateKey::Storage(addr(100), b"absent".to_vec()),
        StateKey::Code(Hash([6; 32])),
    ] {
        let proof = store.prove(&key, 1).unwrap();
        assert_eq!(proof.value, None);
        proof.verify(&root).unwrap();
    }
}

#[test]
fn tampered_proofs_are_refused() {
    let (_d, store) = store_with_state();
    let root = store.head().unwrap().state_root;
    let key = StateKey::Storage(addr(100), 9u32.to_le_bytes().to_vec());
    let proof = store.prove(&key, 1).unwrap();
    proof.verify(&root).unwrap();

    let mut other_value = proof.clone();
    other_value.value = Some(b"forged".to_vec());
    assert!(matches!(
        other_value.verify(&root),
        Err(ProofError::Mismatch { .. })
    ));

    let mut claims_absent = proof.clone();
    claims_absent.value = None;
    assert!(claims_absent.verify(&root).is_err());

    let mut other_key = proof.clone();
    other_key.key = StateKey::Storage(addr(100), 10u32.to_le_bytes().to_vec());
    assert!(other_key.verify(&root).is_err());

    assert!(proof.verify(&Hash([1; 32])).is_err(), "wrong root");

    // Every single-byte corruption of the proof bytes is refused (or fails to decode).
    for i in 0..proof.proof.len() {
        let mut bad = proof.clone();
        bad.proof[i] ^= 0x55;
        assert!(bad.verify(&root).is_err(), "flipped byte {i} accepted");
    }
    let mut truncated = proof.clone();
    truncated.proof.truncate(proof.proof.len() / 2);
    assert!(matches!(
        truncated.verify(&root),
        Err(ProofError::Malformed(_))
    ));

    // An absent key cannot be proven present.
    let absent = store.prove(&StateKey::Account(addr(201)), 1).unwrap();
    let mut forged = absent.clone();
    forged.value = Some(Account::with_balance(1).encode());
    assert!(forged.verify(&root).is_err());
}
