//! Keys: account keys (ed25519, sr25519) and validator keys (BLS12-381 for votes, ECVRF on
//! edwards25519 for leader election), generated from 32 random bytes or inspected from a
//! secret seed.

use aether_consensus::bls::{BlsPublicKey, BlsSecretKey, BlsSignature};
use aether_consensus::vrf::VrfSecretKey;
use aether_engine::crypto::Keypair;
use serde_json::{Value, json};

/// A key scheme `aether keys` handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheme {
    /// Ed25519 account key.
    Ed25519,
    /// Sr25519 (Schnorr on Ristretto) account key.
    Sr25519,
    /// BLS12-381 validator key (public key in G1, 48 bytes; signatures in G2).
    Bls,
    /// ECVRF-EDWARDS25519-SHA512-TAI validator key (RFC 9381).
    Vrf,
}

/// A key derivation failure.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The secret is not 32 bytes of hex.
    #[error("secret seed: {0}")]
    BadSeed(String),
    /// The scheme refused the seed.
    #[error("{0}")]
    Scheme(String),
}

/// 32 bytes from the operating system's random source.
pub fn random_seed() -> Result<[u8; 32], KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Scheme(format!("no randomness: {e}")))?;
    Ok(seed)
}

/// Parses a 32-byte secret seed given as (0x-)hex.
pub fn parse_seed(text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|e| KeyError::BadSeed(format!("not hex: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| KeyError::BadSeed(format!("{} bytes, expected 32", bytes.len())))
}

/// Describes the key of `scheme` derived from `seed` as JSON: scheme, secret seed, public key,
/// and for account keys the address.
pub fn describe(scheme: Scheme, seed: &[u8; 32]) -> Result<Value, KeyError> {
    let secret = format!("0x{}", hex::encode(seed));
    Ok(match scheme {
        Scheme::Ed25519 | Scheme::Sr25519 => {
            let pair = if scheme == Scheme::Ed25519 {
                Keypair::ed25519_from_seed(seed)
            } else {
                Keypair::sr25519_from_seed(seed).map_err(|e| KeyError::Scheme(e.to_string()))?
            };
            let public = pair.public();
            let public_bytes = match public {
                aether_engine::crypto::PublicKey::Ed25519(b)
                | aether_engine::crypto::PublicKey::Sr25519(b) => b,
            };
            json!({
                "scheme": public.scheme(),
                "secret_seed": secret,
                "public_key": format!("0x{}", hex::encode(public_bytes)),
                "address": pair.address().to_string(),
            })
        }
        Scheme::Bls => {
            let (public, pop) = bls_public(seed)?;
            json!({
                "scheme": "bls12-381",
                "secret_seed": secret,
                "public_key": format!("0x{}", hex::encode(public.0)),
                "proof_of_possession": format!("0x{}", hex::encode(pop.0)),
            })
        }
        Scheme::Vrf => json!({
            "scheme": "ecvrf-edwards25519-sha512-tai",
            "secret_seed": secret,
            "public_key": format!("0x{}", hex::encode(vrf_public(seed))),
        }),
    })
}

/// The BLS12-381 key generated from `seed` with the IETF KeyGen of
/// draft-irtf-cfrg-bls-signature: its public key (compressed G1, 48 bytes) and its proof of
/// possession (which a validator set requires).
pub fn bls_public(seed: &[u8; 32]) -> Result<(BlsPublicKey, BlsSignature), KeyError> {
    let sk = BlsSecretKey::from_seed(seed).map_err(|e| KeyError::Scheme(e.to_string()))?;
    Ok((sk.public_key(), sk.proof_of_possession()))
}

/// The ECVRF-EDWARDS25519 public key of secret `seed`: as for Ed25519, the point of the
/// clamped first half of SHA-512(seed) (RFC 9381 section 5.5 uses RFC 8032 key generation).
pub fn vrf_public(seed: &[u8; 32]) -> [u8; 32] {
    VrfSecretKey::from_seed(seed).public_key()
}

/// The seed of dev key `name` for `purpose` (`bls`, `vrf`): public, so dev keys are for dev
/// chains only.
pub(crate) fn dev_seed(name: &str, purpose: &str) -> [u8; 32] {
    aether_engine::crypto::sha256(format!("{name}/{purpose}").as_bytes())
}

/// The dev validator `name`'s network key (its libp2p identity).
pub fn dev_network_key(name: &str) -> aether_net::p2p::NetworkKey {
    let mut seed = dev_seed(name, "net");
    aether_net::p2p::NetworkKey::ed25519_from_bytes(&mut seed)
        .expect("any 32 bytes are an Ed25519 secret key")
}

/// The dev validator `name`'s BLS public key, as 0x-hex.
pub fn dev_bls_public_hex(name: &str) -> String {
    let (public, _) = bls_public(&dev_seed(name, "bls")).expect("32-byte seeds are valid IKM");
    format!("0x{}", hex::encode(public.0))
}

/// The dev validator `name`'s BLS proof of possession, as 0x-hex.
pub fn dev_bls_pop_hex(name: &str) -> String {
    let (_, pop) = bls_public(&dev_seed(name, "bls")).expect("32-byte seeds are valid IKM");
    format!("0x{}", hex::encode(pop.0))
}

/// The dev validator `name`'s VRF public key, as 0x-hex.
pub fn dev_vrf_public_hex(name: &str) -> String {
    format!("0x{}", hex::encode(vrf_public(&dev_seed(name, "vrf"))))
}

/// Checks that `text` is 0x-hex of `len` bytes.
pub fn check_hex_len(text: &str, len: usize) -> Result<(), String> {
    let bytes = hex::decode(text.strip_prefix("0x").ok_or("must start with 0x")?)
        .map_err(|e| format!("not hex: {e}"))?;
    if bytes.len() != len {
        return Err(format!("{} bytes, expected {len}", bytes.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_match_the_engines_derivation() {
        let seed = aether_engine::crypto::sha256(b"alice");
        let d = describe(Scheme::Ed25519, &seed).unwrap();
        assert_eq!(
            d["address"],
            Keypair::dev("alice", false).address().to_string()
        );
        let d = describe(Scheme::Sr25519, &seed).unwrap();
        assert_eq!(
            d["address"],
            Keypair::dev("alice", true).address().to_string()
        );
    }

    #[test]
    fn bls_keys_are_deterministic_and_come_with_a_valid_proof_of_possession() {
        let (a, pop) = bls_public(&[7; 32]).unwrap();
        assert_eq!(a, bls_public(&[7; 32]).unwrap().0);
        assert_ne!(a, bls_public(&[8; 32]).unwrap().0);
        assert_eq!(aether_consensus::bls::verify_possession(&a, &pop), Ok(()));
        let d = describe(Scheme::Bls, &[7; 32]).unwrap();
        assert_eq!(
            d["proof_of_possession"],
            format!("0x{}", hex::encode(pop.0))
        );
    }

    #[test]
    fn vrf_public_key_of_rfc9381_example_16() {
        // RFC 9381 appendix B.3, example 16: SK and PK.
        let sk =
            parse_seed("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        assert_eq!(
            hex::encode(vrf_public(&sk)),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }

    #[test]
    fn bad_seeds_are_refused_with_the_reason() {
        assert!(
            parse_seed("0x1234")
                .unwrap_err()
                .to_string()
                .contains("2 bytes")
        );
        assert!(
            parse_seed("zz")
                .unwrap_err()
                .to_string()
                .contains("not hex")
        );
    }
}
