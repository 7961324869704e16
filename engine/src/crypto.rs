//! Hashing and account signatures (ed25519 via ed25519-dalek, sr25519 via schnorrkel).
//!
//! Verification rules are consensus rules:
//! - ed25519 uses `verify_strict` (no small-order keys or `R`). Its batch verifier is
//!   cofactorless with random weights, so on keys with torsion it could accept what the single
//!   check rejects, differently on each node; ed25519 is therefore verified one by one (in
//!   parallel across cores), never batched.
//! - sr25519 (Ristretto, no torsion) is batch-verified; a failing batch is re-checked one by one.

use parity_scale_codec::{Decode, Encode};
use sha2::Digest as _;

use crate::types::Address;

/// Signing context used for sr25519 signatures (transactions and the `sr25519_verify` host call).
pub const SR25519_CONTEXT: &[u8] = b"aether";

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// Keccak-256 (the original Keccak padding, as Ethereum uses).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    sha3::Keccak256::digest(data).into()
}

/// An account public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub enum PublicKey {
    /// Ed25519 public key.
    Ed25519([u8; 32]),
    /// Sr25519 (Schnorr over Ristretto255) public key.
    Sr25519([u8; 32]),
}

impl PublicKey {
    /// The account address of this key: its 32 bytes.
    pub fn address(&self) -> Address {
        match self {
            PublicKey::Ed25519(b) | PublicKey::Sr25519(b) => Address(*b),
        }
    }

    /// Name of the scheme.
    pub fn scheme(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => "ed25519",
            PublicKey::Sr25519(_) => "sr25519",
        }
    }
}

/// A 64-byte signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Signature(pub [u8; 64]);

/// Verifies an ed25519 signature with the strict rules.
pub fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(pk) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(sig);
    key.verify_strict(msg, &sig).is_ok()
}

/// Verifies an sr25519 signature made in context [`SR25519_CONTEXT`].
pub fn sr25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(key) = schnorrkel::PublicKey::from_bytes(pk) else {
        return false;
    };
    let Ok(sig) = schnorrkel::Signature::from_bytes(sig) else {
        return false;
    };
    key.verify_simple(SR25519_CONTEXT, msg, &sig).is_ok()
}

/// Verifies `sig` by `pk` over `msg`.
pub fn verify(pk: &PublicKey, msg: &[u8], sig: &Signature) -> bool {
    match pk {
        PublicKey::Ed25519(k) => ed25519_verify(k, msg, &sig.0),
        PublicKey::Sr25519(k) => sr25519_verify(k, msg, &sig.0),
    }
}

/// Verifies many signatures, returning one verdict per item, identical to calling [`verify`] on
/// each. sr25519 items are batch-verified; work is spread over the rayon pool.
pub fn verify_many(items: &[(PublicKey, Vec<u8>, Signature)]) -> Vec<bool> {
    use rayon::prelude::*;
    items
        .par_chunks(BATCH)
        .flat_map_iter(verify_chunk)
        .collect()
}

/// Largest sr25519 batch.
const BATCH: usize = 64;

/// [`verify_many`] on the current thread.
pub fn verify_many_sequential(items: &[(PublicKey, Vec<u8>, Signature)]) -> Vec<bool> {
    items.chunks(BATCH).flat_map(verify_chunk).collect()
}

fn verify_chunk(chunk: &[(PublicKey, Vec<u8>, Signature)]) -> Vec<bool> {
    let all_sr = chunk
        .iter()
        .all(|(pk, _, _)| matches!(pk, PublicKey::Sr25519(_)));
    if all_sr && sr25519_batch(chunk) {
        vec![true; chunk.len()]
    } else {
        chunk
            .iter()
            .map(|(pk, msg, sig)| verify(pk, msg, sig))
            .collect()
    }
}

fn sr25519_batch(chunk: &[(PublicKey, Vec<u8>, Signature)]) -> bool {
    let mut keys = Vec::with_capacity(chunk.len());
    let mut sigs = Vec::with_capacity(chunk.len());
    for (pk, _, sig) in chunk {
        let PublicKey::Sr25519(k) = pk else {
            return false;
        };
        let (Ok(k), Ok(s)) = (
            schnorrkel::PublicKey::from_bytes(k),
            schnorrkel::Signature::from_bytes(&sig.0),
        ) else {
            return false;
        };
        keys.push(k);
        sigs.push(s);
    }
    let ctx = schnorrkel::signing_context(SR25519_CONTEXT);
    let transcripts = chunk.iter().map(|(_, msg, _)| ctx.bytes(msg));
    schnorrkel::verify_batch(transcripts, &sigs, &keys, false).is_ok()
}

/// A signing key pair, derived from a 32-byte seed (so no RNG crate versions need to agree).
#[derive(Clone)]
pub enum Keypair {
    /// Ed25519 key.
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// Sr25519 key (mini secret key expanded with Ed25519-style expansion).
    Sr25519(Box<schnorrkel::Keypair>),
}

impl core::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Keypair({:?})", self.public())
    }
}

/// Error creating a key pair.
#[derive(Debug, thiserror::Error)]
#[error("invalid {scheme} seed: {reason}")]
pub struct KeyError {
    /// Scheme name.
    pub scheme: &'static str,
    /// What was wrong.
    pub reason: String,
}

impl Keypair {
    /// Ed25519 key pair from a seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Self {
        Keypair::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(seed)))
    }

    /// Sr25519 key pair from a mini secret key (seed).
    pub fn sr25519_from_seed(seed: &[u8; 32]) -> Result<Self, KeyError> {
        let mini = schnorrkel::MiniSecretKey::from_bytes(seed).map_err(|e| KeyError {
            scheme: "sr25519",
            reason: e.to_string(),
        })?;
        Ok(Keypair::Sr25519(Box::new(
            mini.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519),
        )))
    }

    /// Deterministic development key: the seed is SHA-256 of `name`.
    pub fn dev(name: &str, sr25519: bool) -> Self {
        let seed = sha256(name.as_bytes());
        if sr25519 {
            // Any 32 bytes are a valid mini secret key.
            Self::sr25519_from_seed(&seed).unwrap_or_else(|_| Self::ed25519_from_seed(&seed))
        } else {
            Self::ed25519_from_seed(&seed)
        }
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        match self {
            Keypair::Ed25519(k) => PublicKey::Ed25519(k.verifying_key().to_bytes()),
            Keypair::Sr25519(k) => PublicKey::Sr25519(k.public.to_bytes()),
        }
    }

    /// The account address.
    pub fn address(&self) -> Address {
        self.public().address()
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        match self {
            Keypair::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                Signature(k.sign(msg).to_bytes())
            }
            Keypair::Sr25519(k) => Signature(
                k.sign(schnorrkel::signing_context(SR25519_CONTEXT).bytes(msg))
                    .to_bytes(),
            ),
        }
    }

    /// Signs a transaction.
    pub fn sign_tx(&self, tx: crate::types::Transaction) -> crate::types::SignedTransaction {
        let signature = self.sign(&tx.signing_payload());
        crate::types::SignedTransaction {
            tx,
            signer: self.public(),
            signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_and_keccak_match_known_vectors() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn signatures_verify_and_tampering_is_detected_for_both_schemes() {
        for sr in [false, true] {
            let k = Keypair::dev("alice", sr);
            let sig = k.sign(b"hello");
            assert!(verify(&k.public(), b"hello", &sig));
            assert!(!verify(&k.public(), b"hellp", &sig));
            let mut bad = sig;
            bad.0[3] ^= 1;
            assert!(!verify(&k.public(), b"hello", &bad));
        }
    }

    #[test]
    fn verify_many_agrees_with_single_verification() {
        let mut items = Vec::new();
        for i in 0..300u32 {
            let k = Keypair::dev(&format!("k{i}"), i % 3 != 0);
            let msg = i.to_le_bytes().to_vec();
            let mut sig = k.sign(&msg);
            if i % 17 == 0 {
                sig.0[0] ^= 0x55;
            }
            items.push((k.public(), msg, sig));
        }
        let single: Vec<bool> = items.iter().map(|(p, m, s)| verify(p, m, s)).collect();
        assert_eq!(verify_many(&items), single);
        assert_eq!(verify_many_sequential(&items), single);
        assert!(single.iter().filter(|ok| !**ok).count() >= 17);
    }
}
