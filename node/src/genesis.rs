//! The genesis file: chain id, gas parameters, initial balances and validators; and the
//! genesis block built from it.

use std::path::Path;

use aether_consensus::bls::{BlsError, BlsPublicKey, BlsSignature, ValidatorSet};
use aether_engine::crypto::Keypair;
use aether_engine::state::ChangeSet;
use aether_engine::types::{
    Account, Address, Block, BlockHeader, EXECUTION_VERSION, Hash, list_root,
};
use serde::{Deserialize, Serialize};

/// Names of the well-known development accounts: their keys are derived from the name
/// (`Keypair::dev`), so everyone knows them. Never fund them on a real chain.
pub const DEV_ACCOUNTS: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];

/// Chain id of `aether run --dev`.
pub const DEV_CHAIN_ID: u64 = 1337;

/// A chain's genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id every transaction must carry.
    pub chain_id: u64,
    /// Timestamp of the genesis block, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Most gas a block may use.
    pub block_gas_limit: u64,
    /// Lowest gas price the pool accepts.
    pub min_gas_price: u128,
    /// Initial balances.
    pub accounts: Vec<GenesisAccount>,
    /// The validators.
    pub validators: Vec<Validator>,
}

/// An initial balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// The account (0x-hex).
    #[serde(with = "display_string")]
    pub address: Address,
    /// Its balance, as a decimal string (u128 does not fit JSON numbers).
    #[serde(with = "u128_string")]
    pub balance: u128,
}

/// A validator's identity and keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validator {
    /// A name for logs.
    pub name: String,
    /// The account that receives its fees (0x-hex).
    #[serde(with = "display_string")]
    pub account: Address,
    /// Its BLS12-381 public key (48 bytes, 0x-hex), for consensus votes.
    pub bls_public_key: String,
    /// Its proof of possession of that key (96 bytes, 0x-hex; `aether keys generate --scheme
    /// bls` prints it): without it, one validator could choose a key that cancels the others'
    /// in an aggregate signature.
    pub bls_proof_of_possession: String,
    /// Its ECVRF-EDWARDS25519 public key (32 bytes, 0x-hex), for leader election.
    pub vrf_public_key: String,
    /// Its network identity (a libp2p peer id, base58, from its network key): consensus sends
    /// its votes there. Without it the validator can validate only a chain it runs alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
}

impl Validator {
    /// The dev validator `name`: every key derived from the name (public: dev and test chains
    /// only), its account the dev account of that name.
    pub fn dev(name: &str) -> Self {
        Self {
            name: name.to_string(),
            account: Keypair::dev(name, false).address(),
            bls_public_key: crate::keys::dev_bls_public_hex(name),
            bls_proof_of_possession: crate::keys::dev_bls_pop_hex(name),
            vrf_public_key: crate::keys::dev_vrf_public_hex(name),
            peer_id: Some(
                crate::keys::dev_network_key(name)
                    .public()
                    .to_peer_id()
                    .to_string(),
            ),
        }
    }
}

/// Why a genesis file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a genesis.
    #[error("{path}: not a valid genesis file: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// How far ahead of the local clock a genesis timestamp may lie: a day.
pub const MAX_GENESIS_AHEAD_MS: u64 = 24 * 60 * 60 * 1000;

/// A duration for messages: `36 h`, `12 min`, `3 s`, `250 ms`.
pub fn human_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{} s", ms / 1_000),
        120_000..7_200_000 => format!("{} min", ms / 60_000),
        7_200_000..172_800_000 => format!("{} h", ms / 3_600_000),
        _ => format!("{} days", ms / 86_400_000),
    }
}

impl Genesis {
    /// The dev chain's genesis: the dev accounts funded, one validator (alice).
    pub fn dev() -> Self {
        let balance = 1_000_000_000_000_000_000_000_000u128;
        let alice = Keypair::dev("alice", false).address();
        Self {
            chain_id: DEV_CHAIN_ID,
            timestamp_ms: 0,
            block_gas_limit: 30_000_000,
            min_gas_price: 1,
            accounts: DEV_ACCOUNTS
                .iter()
                .map(|n| GenesisAccount {
                    address: Keypair::dev(n, false).address(),
                    balance,
                })
                .collect(),
            validators: vec![Validator {
                name: "alice".into(),
                account: alice,
                bls_public_key: crate::keys::dev_bls_public_hex("alice"),
                bls_proof_of_possession: crate::keys::dev_bls_pop_hex("alice"),
                vrf_public_key: crate::keys::dev_vrf_public_hex("alice"),
                peer_id: None,
            }],
        }
    }

    /// Reads and checks a genesis file.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Io {
            path: shown.clone(),
            source,
        })?;
        let genesis: Genesis = serde_json::from_str(&text).map_err(|e| GenesisError::Invalid {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        genesis.check().map_err(|reason| GenesisError::Invalid {
            path: shown,
            reason,
        })?;
        Ok(genesis)
    }

    /// Refuses a genesis whose timestamp lies more than [`MAX_GENESIS_AHEAD_MS`] after `now_ms`:
    /// no block can follow it until the clock passes it, so a chain built on it would sit
    /// silent (a chain may be prepared up to a day before it starts).
    pub fn check_clock(&self, now_ms: u64) -> Result<(), String> {
        let ahead = self.timestamp_ms.saturating_sub(now_ms);
        if ahead > MAX_GENESIS_AHEAD_MS {
            return Err(format!(
                "timestamp_ms {} is {} ahead of this machine's clock ({now_ms}); at most {} is allowed, \
                 as no block can follow the genesis before its time",
                self.timestamp_ms,
                human_ms(ahead),
                human_ms(MAX_GENESIS_AHEAD_MS)
            ));
        }
        Ok(())
    }

    /// The rules a genesis must follow.
    pub fn check(&self) -> Result<(), String> {
        if self.block_gas_limit < 100_000 {
            return Err(format!(
                "block_gas_limit {} is too small to hold a transaction",
                self.block_gas_limit
            ));
        }
        if self.min_gas_price == 0 {
            return Err(
                "min_gas_price 0 would let accounts without funds fill the pool and blocks for free"
                    .into(),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.accounts {
            if !seen.insert(a.address) {
                return Err(format!("account {} is listed twice", a.address));
            }
        }
        if self.validators.is_empty() {
            return Err("no validators".into());
        }
        let mut names = std::collections::BTreeSet::new();
        let mut vrf_keys = std::collections::BTreeSet::new();
        let mut peer_ids = std::collections::BTreeSet::new();
        for v in &self.validators {
            if !names.insert(v.name.as_str()) {
                return Err(format!("validator name {} is used twice", v.name));
            }
            crate::keys::check_hex_len(&v.bls_public_key, 48)
                .map_err(|e| format!("validator {}: bls_public_key: {e}", v.name))?;
            crate::keys::check_hex_len(&v.bls_proof_of_possession, 96)
                .map_err(|e| format!("validator {}: bls_proof_of_possession: {e}", v.name))?;
            crate::keys::check_hex_len(&v.vrf_public_key, 32)
                .map_err(|e| format!("validator {}: vrf_public_key: {e}", v.name))?;
            let vrf_key: [u8; 32] = hex_array(&v.vrf_public_key);
            aether_consensus::vrf::validate_public_key(&vrf_key)
                .map_err(|e| format!("validator {}: vrf_public_key: {e}", v.name))?;
            // Another validator's VRF key would let it replay that validator's proofs.
            if !vrf_keys.insert(vrf_key) {
                return Err(format!(
                    "validator {}: the VRF key is already another validator's",
                    v.name
                ));
            }
            if let Some(id) = &v.peer_id {
                let id: aether_net::p2p::PeerIdOf = id
                    .parse()
                    .map_err(|e| format!("validator {}: peer_id: {e}", v.name))?;
                if !peer_ids.insert(id) {
                    return Err(format!(
                        "validator {}: the peer id is already another validator's",
                        v.name
                    ));
                }
            }
        }
        self.validator_set()?;
        Ok(())
    }

    /// The validators' BLS keys as a set, every proof of possession checked.
    pub fn validator_set(&self) -> Result<ValidatorSet, String> {
        let entries: Vec<(BlsPublicKey, BlsSignature)> = self
            .validators
            .iter()
            .map(|v| {
                (
                    BlsPublicKey(hex_array(&v.bls_public_key)),
                    BlsSignature(hex_array(&v.bls_proof_of_possession)),
                )
            })
            .collect();
        ValidatorSet::new(&entries).map_err(|e| {
            let name = |i: usize| self.validators.get(i).map_or("?", |v| v.name.as_str());
            match e {
                BlsError::BadPossession { index } => format!(
                    "validator {}: the BLS proof of possession does not verify for its key",
                    name(index)
                ),
                BlsError::DuplicateKey { index } => format!(
                    "validator {}: the BLS key is already another validator's",
                    name(index)
                ),
                other => format!("validators: {other}"),
            }
        })
    }

    /// The state the chain starts from.
    pub fn changes(&self) -> ChangeSet {
        let mut c = ChangeSet::default();
        for a in &self.accounts {
            c.accounts
                .insert(a.address, Account::with_balance(a.balance));
        }
        c
    }

    /// Hash of the genesis block: the chain's identity.
    pub fn hash(&self) -> Result<Hash, aether_storage::StorageError> {
        Ok(self
            .block(aether_storage::root_of(&self.changes())?)
            .header
            .hash())
    }

    /// SHA-256 of the parameters that are not state (chain id, gas parameters, validators):
    /// the genesis block carries it as its parent hash, so the genesis hash commits to them.
    pub fn params_hash(&self) -> Hash {
        use parity_scale_codec::Encode;
        // The keys' bytes, not their spelling: `0xAB…` and `0xab…` are one genesis.
        type ValidatorBytes<'a> = (&'a str, Address, [u8; 48], [u8; 96], [u8; 32]);
        let validators: Vec<ValidatorBytes> = self
            .validators
            .iter()
            .map(|v| {
                (
                    v.name.as_str(),
                    v.account,
                    hex_array(&v.bls_public_key),
                    hex_array(&v.bls_proof_of_possession),
                    hex_array(&v.vrf_public_key),
                )
            })
            .collect();
        let mut bytes = (
            b"aether/genesis".as_slice(),
            self.chain_id,
            self.timestamp_ms,
            self.block_gas_limit,
            self.min_gas_price,
            validators,
        )
            .encode();
        // Network identities, when the genesis gives them (a genesis without them hashes as
        // before they existed).
        if self.validators.iter().any(|v| v.peer_id.is_some()) {
            let ids: Vec<Option<&str>> = self
                .validators
                .iter()
                .map(|v| v.peer_id.as_deref())
                .collect();
            bytes.extend(ids.encode());
        }
        Hash::of(&bytes)
    }

    /// The genesis block (height 0, no transactions) for state root `state_root`. Its parent
    /// hash is [`Self::params_hash`].
    pub fn block(&self, state_root: Hash) -> Block {
        Block {
            header: BlockHeader {
                height: 0,
                timestamp_ms: self.timestamp_ms,
                parent_hash: self.params_hash(),
                proposer: Address::default(),
                execution_version: EXECUTION_VERSION,
                tx_root: list_root::<aether_engine::types::SignedTransaction>(&[]),
                state_root,
                receipts_root: list_root::<aether_engine::types::Receipt>(&[]),
                gas_used: 0,
                gas_limit: self.block_gas_limit,
            },
            transactions: Vec::new(),
        }
    }
}

/// The bytes of 0x-hex already checked by [`crate::keys::check_hex_len`] (zeros otherwise,
/// which every later check refuses).
fn hex_array<const N: usize>(text: &str) -> [u8; N] {
    hex::decode(text.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; N])
}

/// Serde through `Display` and `FromStr` (addresses and hashes as 0x-hex).
mod display_string {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_second_validator(edit: impl FnOnce(&mut Validator)) -> Genesis {
        let mut g = Genesis::dev();
        let mut v = g.validators[0].clone();
        v.name = "bob".into();
        v.bls_public_key = crate::keys::dev_bls_public_hex("bob");
        v.bls_proof_of_possession = crate::keys::dev_bls_pop_hex("bob");
        v.vrf_public_key = crate::keys::dev_vrf_public_hex("bob");
        edit(&mut v);
        g.validators.push(v);
        g
    }

    #[test]
    fn validators_must_have_distinct_names_and_keys() {
        assert_eq!(with_second_validator(|_| {}).check(), Ok(()));
        let g = with_second_validator(|v| v.name = "alice".into());
        assert_eq!(
            g.check(),
            Err("validator name alice is used twice".to_string())
        );
        let g =
            with_second_validator(|v| v.vrf_public_key = crate::keys::dev_vrf_public_hex("alice"));
        assert_eq!(
            g.check(),
            Err("validator bob: the VRF key is already another validator's".to_string())
        );
        let g = with_second_validator(|v| {
            v.bls_public_key = crate::keys::dev_bls_public_hex("alice");
            v.bls_proof_of_possession = crate::keys::dev_bls_pop_hex("alice");
        });
        assert_eq!(
            g.check(),
            Err("validator bob: the BLS key is already another validator's".to_string())
        );
    }

    #[test]
    fn the_genesis_hash_depends_on_key_bytes_not_their_spelling() {
        let g = Genesis::dev();
        let mut upper = g.clone();
        upper.validators[0].bls_public_key =
            format!("0x{}", g.validators[0].bls_public_key[2..].to_uppercase());
        assert_eq!(upper.check(), Ok(()));
        assert_eq!(upper.params_hash(), g.params_hash());
        let mut other = g.clone();
        other.validators[0].name = "alice2".into();
        assert_ne!(other.params_hash(), g.params_hash());
    }
}
