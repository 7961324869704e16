//! Validator key files: the secrets one validator runs with — its BLS key (votes, timeouts,
//! proposals), its VRF key (leader election), its network key (its libp2p identity, where
//! votes are sent) and its fee account's key — as JSON that only its owner can read, and the
//! genesis entry (public keys, proof of possession, peer id) they make.
//!
//! `aether keys validator --name v0 --out v0.key` writes one from fresh randomness and prints
//! the entry; `aether init-genesis --validator-entry v0.json …` puts entries in a genesis;
//! `aether run --validator-key v0.key` runs the validator.

use std::io::Write;
use std::path::Path;

use aether_consensus::bls::BlsSecretKey;
use aether_consensus::vrf::VrfSecretKey;
use aether_engine::crypto::Keypair;
use serde::{Deserialize, Serialize};

use crate::genesis::Validator;
use crate::keys::{self, KeyError};
use crate::validator::ValidatorKeys;

/// A validator key file's contents: 32-byte secret seeds as 0x-hex.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorKeyFile {
    /// The validator's name (its genesis entry's, and the node's default `--name`).
    pub name: String,
    /// Seed of the BLS12-381 key (IETF KeyGen).
    pub bls_secret_seed: String,
    /// Seed of the ECVRF-EDWARDS25519 key.
    pub vrf_secret_seed: String,
    /// Seed of the Ed25519 network key (the libp2p peer id).
    pub network_secret_seed: String,
    /// Seed of the Ed25519 key of the account that receives its fees.
    pub account_secret_seed: String,
}

impl std::fmt::Debug for ValidatorKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorKeyFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a validator key file cannot be written, read or used.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorKeyError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a validator key file, or a seed in it is unusable.
    #[error("{path}: not a usable validator key file: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Others than its owner may read it.
    #[error("{path}: readable by others than its owner (mode {mode:o}): `chmod 600 {path}` first")]
    Exposed {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

fn seed_hex(seed: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(seed))
}

impl ValidatorKeyFile {
    /// Fresh keys for validator `name`, from the operating system's randomness.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        Ok(Self {
            name: name.to_string(),
            bls_secret_seed: seed_hex(&keys::random_seed()?),
            vrf_secret_seed: seed_hex(&keys::random_seed()?),
            network_secret_seed: seed_hex(&keys::random_seed()?),
            account_secret_seed: seed_hex(&keys::random_seed()?),
        })
    }

    /// Writes it to `path`, a new file readable and writable by its owner only; an existing
    /// file is never replaced.
    pub fn write(&self, path: &Path) -> Result<(), ValidatorKeyError> {
        let io = |source| ValidatorKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        let text = serde_json::to_string_pretty(self).expect("plain strings serialize");
        file.write_all(text.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads and checks the file at `path`: its seeds must make keys, and (on Unix) nobody
    /// but its owner may read it.
    pub fn read(path: &Path) -> Result<Self, ValidatorKeyError> {
        let shown = path.display().to_string();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|source| ValidatorKeyError::Io {
                    path: shown.clone(),
                    source,
                })?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(ValidatorKeyError::Exposed {
                    path: shown,
                    mode: mode & 0o777,
                });
            }
        }
        let text = std::fs::read_to_string(path).map_err(|source| ValidatorKeyError::Io {
            path: shown.clone(),
            source,
        })?;
        let file: Self = serde_json::from_str(&text).map_err(|e| ValidatorKeyError::Invalid {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        file.entry().map_err(|e| ValidatorKeyError::Invalid {
            path: shown,
            reason: e.to_string(),
        })?;
        Ok(file)
    }

    fn seeds(&self) -> Result<[[u8; 32]; 4], KeyError> {
        Ok([
            keys::parse_seed(&self.bls_secret_seed)?,
            keys::parse_seed(&self.vrf_secret_seed)?,
            keys::parse_seed(&self.network_secret_seed)?,
            keys::parse_seed(&self.account_secret_seed)?,
        ])
    }

    /// The consensus keys.
    pub fn keys(&self) -> Result<ValidatorKeys, KeyError> {
        let [bls, vrf, ..] = self.seeds()?;
        Ok(ValidatorKeys {
            bls: BlsSecretKey::from_seed(&bls).map_err(|e| KeyError::Scheme(e.to_string()))?,
            vrf: VrfSecretKey::from_seed(&vrf),
        })
    }

    /// The network key (its libp2p identity).
    pub fn network_key(&self) -> Result<aether_net::p2p::NetworkKey, KeyError> {
        let [_, _, mut net, _] = self.seeds()?;
        aether_net::p2p::NetworkKey::ed25519_from_bytes(&mut net)
            .map_err(|e| KeyError::Scheme(e.to_string()))
    }

    /// The genesis entry: name, fee account, public keys, proof of possession and peer id.
    pub fn entry(&self) -> Result<Validator, KeyError> {
        let [bls, vrf, _, account] = self.seeds()?;
        let (bls_public, pop) = keys::bls_public(&bls)?;
        Ok(Validator {
            name: self.name.clone(),
            account: Keypair::ed25519_from_seed(&account).address(),
            bls_public_key: format!("0x{}", hex::encode(bls_public.0)),
            bls_proof_of_possession: format!("0x{}", hex::encode(pop.0)),
            vrf_public_key: format!("0x{}", hex::encode(keys::vrf_public(&vrf))),
            peer_id: Some(self.network_key()?.public().to_peer_id().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_key_file_reads_back_to_the_same_validator() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v0.key");
        let file = ValidatorKeyFile::generate("v0").unwrap();
        file.write(&path).unwrap();
        let again = ValidatorKeyFile::read(&path).unwrap();
        let (a, b) = (file.entry().unwrap(), again.entry().unwrap());
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::to_value(&b).unwrap()
        );
        assert!(a.peer_id.is_some());
        // Two generated files share no key.
        let other = ValidatorKeyFile::generate("v1").unwrap().entry().unwrap();
        assert_ne!(other.bls_public_key, a.bls_public_key);
        assert_ne!(other.peer_id, a.peer_id);
        // An existing file is never replaced.
        assert!(file.write(&path).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v0.key");
        ValidatorKeyFile::generate("v0")
            .unwrap()
            .write(&path)
            .unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            ValidatorKeyFile::read(&path),
            Err(ValidatorKeyError::Exposed { mode: 0o644, .. })
        ));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        let mut file = ValidatorKeyFile::generate("v0").unwrap();
        file.bls_secret_seed = "0x1234".into();
        file.write(&path).unwrap();
        let e = ValidatorKeyFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("bad.key") && e.contains("2 bytes"), "{e}");
    }
}
