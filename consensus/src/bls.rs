//! BLS12-381 signatures of validators (blst, `min_pk`: 48-byte public keys in G1, 96-byte
//! signatures in G2), in the proof-of-possession scheme of draft-irtf-cfrg-bls-signature:
//! every validator proves possession of its key when it joins the set, so the signatures of
//! one message aggregate safely (no rogue-key attack) and a quorum's votes verify as one
//! pairing check against the sum of their public keys.
//!
//! [`ValidatorSet`] holds keys whose possession was checked; an [`AggregateSignature`] names
//! its signers with a bitmap over that set and is accepted only with a quorum of them.

use blst::BLST_ERROR;
use blst::min_pk::{
    AggregatePublicKey, AggregateSignature as BlstAggregate, PublicKey, SecretKey, Signature,
};
use parity_scale_codec::{Decode, Encode};

/// Domain separation tag of signatures (the standard ciphersuite of the PoP scheme, min_pk).
pub const SIGNATURE_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Domain separation tag of proofs of possession.
pub const POP_DST: &[u8] = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Why a key, signature or aggregate is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlsError {
    /// Fewer than 32 bytes of key material.
    #[error("BLS key material must be at least 32 bytes")]
    ShortSeed,
    /// The bytes are not a valid public key (not a point, not in the group, or the identity).
    #[error("not a valid BLS12-381 G1 public key")]
    BadPublicKey,
    /// The bytes are not a valid signature (not a point or not in the group).
    #[error("not a valid BLS12-381 G2 signature")]
    BadSignature,
    /// A validator's proof of possession does not verify.
    #[error("validator {index}: the proof of possession does not verify")]
    BadPossession {
        /// Position in the set.
        index: usize,
    },
    /// The same public key appears twice in a set.
    #[error("validator {index}: the public key is already in the set")]
    DuplicateKey {
        /// Position of the second occurrence.
        index: usize,
    },
    /// A set needs at least one validator.
    #[error("a validator set needs at least one validator")]
    EmptySet,
    /// The signer bitmap does not fit the set.
    #[error("the signer bitmap has {got} bytes, the set of {validators} needs {expected}")]
    BitmapSize {
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        expected: usize,
        /// Validators in the set.
        validators: usize,
    },
    /// No such validator.
    #[error("validator {index} is not in the set of {validators}")]
    UnknownSigner {
        /// The index.
        index: usize,
        /// Validators in the set.
        validators: usize,
    },
    /// Too few signers for a quorum.
    #[error("{signers} signers, a quorum needs {quorum}")]
    NoQuorum {
        /// Signers named.
        signers: usize,
        /// Signers needed.
        quorum: usize,
    },
    /// The signature does not verify for the message and key(s).
    #[error("the signature does not verify")]
    Invalid,
}

/// A validator's secret key.
pub struct BlsSecretKey(SecretKey);

impl BlsSecretKey {
    /// The key derived from `seed` (at least 32 bytes of secret randomness) by the IETF KeyGen.
    pub fn from_seed(seed: &[u8]) -> Result<Self, BlsError> {
        SecretKey::key_gen(seed, &[])
            .map(Self)
            .map_err(|_| BlsError::ShortSeed)
    }

    /// The public key.
    pub fn public_key(&self) -> BlsPublicKey {
        BlsPublicKey(self.0.sk_to_pk().compress())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> BlsSignature {
        BlsSignature(self.0.sign(message, SIGNATURE_DST, &[]).compress())
    }

    /// The proof of possession: the key's signature of its own public key, under [`POP_DST`].
    pub fn proof_of_possession(&self) -> BlsSignature {
        let public = self.public_key();
        BlsSignature(self.0.sign(&public.0, POP_DST, &[]).compress())
    }
}

/// A compressed G1 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct BlsPublicKey(pub [u8; 48]);

/// A compressed G2 signature (one validator's, or an aggregate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BlsSignature(pub [u8; 96]);

fn public_key(key: &BlsPublicKey) -> Result<PublicKey, BlsError> {
    // `key_validate` decompresses, checks the subgroup and refuses the identity.
    PublicKey::key_validate(&key.0).map_err(|_| BlsError::BadPublicKey)
}

/// Decompresses a signature, checking that it is in the G2 subgroup and not the identity
/// (so the pairing checks below need no group check of their own).
fn signature(sig: &BlsSignature) -> Result<Signature, BlsError> {
    Signature::sig_validate(&sig.0, true).map_err(|_| BlsError::BadSignature)
}

fn check(result: BLST_ERROR) -> Result<(), BlsError> {
    match result {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(BlsError::Invalid),
    }
}

/// Verifies one signature of `message` by `key`.
pub fn verify(key: &BlsPublicKey, message: &[u8], sig: &BlsSignature) -> Result<(), BlsError> {
    let key = public_key(key)?;
    let sig = signature(sig)?;
    check(sig.verify(false, message, SIGNATURE_DST, &[], &key, false))
}

/// Verifies a proof of possession of `key`.
pub fn verify_possession(key: &BlsPublicKey, pop: &BlsSignature) -> Result<(), BlsError> {
    let pk = public_key(key)?;
    let pop = signature(pop)?;
    check(pop.verify(false, &key.0, POP_DST, &[], &pk, false))
}

/// The validators, in order (a validator's index is its position), with keys whose
/// possession was proven. Every validator has one vote.
#[derive(Clone, Debug)]
pub struct ValidatorSet {
    keys: Vec<BlsPublicKey>,
    points: Vec<PublicKey>,
}

impl ValidatorSet {
    /// A set of validators given as (public key, proof of possession), checking every proof.
    pub fn new(validators: &[(BlsPublicKey, BlsSignature)]) -> Result<Self, BlsError> {
        if validators.is_empty() {
            return Err(BlsError::EmptySet);
        }
        let mut points = Vec::with_capacity(validators.len());
        for (index, (key, pop)) in validators.iter().enumerate() {
            if validators[..index].iter().any(|(k, _)| k == key) {
                return Err(BlsError::DuplicateKey { index });
            }
            verify_possession(key, pop).map_err(|e| match e {
                BlsError::Invalid => BlsError::BadPossession { index },
                other => other,
            })?;
            points.push(public_key(key)?);
        }
        Ok(Self {
            keys: validators.iter().map(|(k, _)| *k).collect(),
            points,
        })
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty (never: [`ValidatorSet::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The public keys, by index.
    pub fn keys(&self) -> &[BlsPublicKey] {
        &self.keys
    }

    /// The index of `key`, if it is a validator.
    pub fn index_of(&self, key: &BlsPublicKey) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    /// Most validators that may be faulty: f, with n ≥ 3f + 1.
    pub fn max_faulty(&self) -> usize {
        (self.len() - 1) / 3
    }

    /// Signers a quorum needs: n − f (2f + 1 when n = 3f + 1). Any two quorums share at least
    /// f + 1 validators, so at least one honest one.
    pub fn quorum(&self) -> usize {
        self.len() - self.max_faulty()
    }

    /// Verifies validator `index`'s signature of `message`.
    pub fn verify(&self, index: usize, message: &[u8], sig: &BlsSignature) -> Result<(), BlsError> {
        let key = self.points.get(index).ok_or(BlsError::UnknownSigner {
            index,
            validators: self.len(),
        })?;
        let sig = signature(sig)?;
        check(sig.verify(false, message, SIGNATURE_DST, &[], key, false))
    }

    /// Aggregates signatures of one message by distinct validators. The signatures must have
    /// been verified by the caller (with [`ValidatorSet::verify`] as votes arrive): this only
    /// adds them up. Later duplicates of an index are ignored.
    pub fn aggregate(
        &self,
        signatures: &[(usize, BlsSignature)],
    ) -> Result<AggregateSignature, BlsError> {
        let mut signers = SignerBitmap::new(self.len());
        let mut parts = Vec::with_capacity(signatures.len());
        for (index, sig) in signatures {
            if *index >= self.len() {
                return Err(BlsError::UnknownSigner {
                    index: *index,
                    validators: self.len(),
                });
            }
            if signers.contains(*index) {
                continue;
            }
            signers.insert(*index);
            // Decompression only: the caller verified each signature (group check included)
            // as it arrived, and `verify_quorum` checks the aggregate. The subgroup check here
            // would cost ~57 µs a signature.
            parts.push(Signature::uncompress(&sig.0).map_err(|_| BlsError::BadSignature)?);
        }
        if parts.is_empty() {
            return Err(BlsError::NoQuorum {
                signers: 0,
                quorum: self.quorum(),
            });
        }
        let refs: Vec<&Signature> = parts.iter().collect();
        let aggregate =
            BlstAggregate::aggregate(&refs, false).map_err(|_| BlsError::BadSignature)?;
        Ok(AggregateSignature {
            signers,
            signature: BlsSignature(aggregate.to_signature().compress()),
        })
    }

    /// Verifies that a quorum of this set signed `message`: the bitmap fits the set, names at
    /// least [`ValidatorSet::quorum`] validators, and the aggregate verifies against the sum of
    /// their keys (one pairing check).
    pub fn verify_quorum(&self, message: &[u8], agg: &AggregateSignature) -> Result<(), BlsError> {
        let indices = self.quorum_signers(agg)?;
        let keys: Vec<&PublicKey> = indices.iter().map(|&i| &self.points[i]).collect();
        // The keys were validated when the set was built.
        let key = AggregatePublicKey::aggregate(&keys, false)
            .map_err(|_| BlsError::BadPublicKey)?
            .to_public_key();
        let sig = signature(&agg.signature)?;
        check(sig.verify(false, message, SIGNATURE_DST, &[], &key, false))
    }
}

impl ValidatorSet {
    /// The signers an aggregate names, checked against this set: the bitmap's size, every
    /// index, and the quorum.
    fn quorum_signers(&self, agg: &AggregateSignature) -> Result<Vec<usize>, BlsError> {
        let expected = SignerBitmap::bytes_for(self.len());
        if agg.signers.0.len() != expected {
            return Err(BlsError::BitmapSize {
                got: agg.signers.0.len(),
                expected,
                validators: self.len(),
            });
        }
        let indices: Vec<usize> = agg.signers.iter().collect();
        if let Some(&index) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(BlsError::UnknownSigner {
                index,
                validators: self.len(),
            });
        }
        if indices.len() < self.quorum() {
            return Err(BlsError::NoQuorum {
                signers: indices.len(),
                quorum: self.quorum(),
            });
        }
        Ok(indices)
    }

    /// Verifies that a quorum of this set signed, each signer its own message: `message_of(i)`
    /// is what validator `i` signed (timeouts, which carry each signer's highest QC round).
    /// One multi-pairing over the signers.
    pub fn verify_quorum_each(
        &self,
        agg: &AggregateSignature,
        message_of: impl Fn(usize) -> Vec<u8>,
    ) -> Result<(), BlsError> {
        let indices = self.quorum_signers(agg)?;
        let messages: Vec<Vec<u8>> = indices.iter().map(|&i| message_of(i)).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let keys: Vec<&PublicKey> = indices.iter().map(|&i| &self.points[i]).collect();
        let sig = signature(&agg.signature)?;
        check(sig.aggregate_verify(false, &refs, SIGNATURE_DST, &keys, false))
    }
}

/// Which validators signed: bit `i % 8` of byte `i / 8` for validator `i`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SignerBitmap(pub Vec<u8>);

impl SignerBitmap {
    /// Bytes for `n` validators.
    pub fn bytes_for(n: usize) -> usize {
        n.div_ceil(8)
    }

    /// An empty bitmap for `n` validators.
    pub fn new(n: usize) -> Self {
        Self(vec![0; Self::bytes_for(n)])
    }

    /// Marks validator `index` (ignored past the end).
    pub fn insert(&mut self, index: usize) {
        if let Some(byte) = self.0.get_mut(index / 8) {
            *byte |= 1 << (index % 8);
        }
    }

    /// Whether validator `index` is marked.
    pub fn contains(&self, index: usize) -> bool {
        self.0
            .get(index / 8)
            .is_some_and(|b| b & (1 << (index % 8)) != 0)
    }

    /// The marked indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.0.len() * 8).filter(|&i| self.contains(i))
    }

    /// Number of marked validators.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }
}

/// One signature standing for the signers its bitmap names, all over the same message.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct AggregateSignature {
    /// Who signed.
    pub signers: SignerBitmap,
    /// The sum of their signatures.
    pub signature: BlsSignature,
}

#[cfg(test)]
mod tests;
