//! HotStuff in the node: the validator's keys, the consensus configuration the genesis gives,
//! the proposals kept across restarts in the node's database, and opening consensus from the
//! committed head (with the commit proof stored beside it) and the validator's safety record.

use std::path::Path;
use std::sync::Arc;

use aether_consensus::HotStuff;
use aether_consensus::VerifyCache;
use aether_consensus::bls::BlsSecretKey;
use aether_consensus::hotstuff::{BlockStore, HotStuffConfig, Identity, Root};
use aether_consensus::pacemaker::PacemakerConfig;
use aether_consensus::signer::{SafetySigner, WhenMissing};
use aether_consensus::vrf::VrfSecretKey;
use aether_engine::ports::PeerId;
use aether_storage::Store;
use parity_scale_codec::{Decode, Encode};

use crate::chain::Chain;
use crate::genesis::Genesis;
use crate::safety_store::DurableSafety;

/// Largest consensus message a node accepts: a full block and its certificates.
pub const MAX_MESSAGE_BYTES: usize = 8 << 20;

/// Passed checks of votes, certificates and proposals remembered.
const VERIFY_CACHE: usize = 100_000;

/// A validator's consensus keys.
pub struct ValidatorKeys {
    /// Signs votes, timeouts and proposals.
    pub bls: BlsSecretKey,
    /// Proves the VRF of each round it leads.
    pub vrf: VrfSecretKey,
}

impl ValidatorKeys {
    /// The keys of dev validator `name` (as `aether keys` and the dev genesis derive them).
    pub fn dev(name: &str) -> Self {
        Self {
            bls: BlsSecretKey::from_seed(&crate::keys::dev_seed(name, "bls"))
                .expect("32-byte seeds are valid BLS key material"),
            vrf: VrfSecretKey::from_seed(&crate::keys::dev_seed(name, "vrf")),
        }
    }
}

/// Why consensus cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    /// The genesis's validators are unusable.
    #[error("the genesis's validators: {0}")]
    Genesis(String),
    /// The key is not one of the genesis's validators.
    #[error("this validator key is not in the genesis's validator set")]
    NotAValidator,
    /// The safety record cannot be opened or refuses to start.
    #[error("the safety record at {path}: {reason}")]
    Safety {
        /// Its directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The committed head has no usable commit proof.
    #[error(
        "the head (height {height}) has no HotStuff commit proof ({reason}): a chain sealed by \
         the dev sealer cannot continue under HotStuff; start from a new --base-path"
    )]
    NoCommitProof {
        /// The head's height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] aether_storage::StorageError),
}

/// The consensus configuration of the genesis's validator set: leader seed and genesis
/// certificate from the genesis hash, each validator's network identity its genesis peer id
/// (its BLS public key when it has none: a validator alone needs none).
pub fn config(genesis: &Genesis, block_time_ms: u64) -> Result<HotStuffConfig, ValidatorError> {
    let validators = genesis.validator_set().map_err(ValidatorError::Genesis)?;
    let vrf_keys = genesis
        .validators
        .iter()
        .map(|v| {
            let bytes = hex::decode(v.vrf_public_key.trim_start_matches("0x"))
                .map_err(|e| ValidatorError::Genesis(format!("{}: vrf key: {e}", v.name)))?;
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| ValidatorError::Genesis(format!("{}: vrf key length", v.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let genesis_hash = genesis.hash()?.0;
    let peers = genesis
        .validators
        .iter()
        .zip(validators.keys())
        .map(|(v, bls)| match &v.peer_id {
            Some(id) => id
                .parse::<aether_net::p2p::PeerIdOf>()
                .map(|id| PeerId(id.to_bytes()))
                .map_err(|e| ValidatorError::Genesis(format!("{}: peer_id: {e}", v.name))),
            // No network identity: only a validator that runs alone can do without one.
            None if genesis.validators.len() == 1 => Ok(PeerId(bls.0.to_vec())),
            None => Err(ValidatorError::Genesis(format!(
                "validator {} has no peer_id: validators of a network must give theirs (votes \
                 are sent there)",
                v.name
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HotStuffConfig {
        epoch: 1,
        peers,
        validators,
        vrf_keys,
        accounts: genesis.validators.iter().map(|v| v.account).collect(),
        seed: genesis_hash,
        genesis: genesis_hash,
        pacemaker: {
            // A leader waits out the block time before it builds: the round must outlast it.
            let base = block_time_ms.saturating_add(2_000);
            PacemakerConfig {
                base_timeout_ms: base,
                max_timeout_ms: base.saturating_mul(3),
                ..PacemakerConfig::default()
            }
        },
        min_block_interval_ms: block_time_ms,
        max_message_bytes: MAX_MESSAGE_BYTES,
        cache: Some(Arc::new(VerifyCache::new(VERIFY_CACHE))),
        recent_committed: aether_consensus::hotstuff::RECENT_COMMITTED,
        recent_committed_bytes: aether_consensus::hotstuff::RECENT_COMMITTED_BYTES,
    })
}

/// Opens the signing identity of the validator with `keys` (none for a follower), its safety
/// record in `consensus_dir`. Called when the node opens its database, before it syncs from
/// peers: a missing record while the chain is already past genesis refuses to start unless
/// `reset_safety_record` (the caller warns), and a new validator's fresh record is written
/// now, so blocks it then syncs do not make it look like a validator that lost its record.
pub fn open_identity(
    chain: &Chain,
    config: &HotStuffConfig,
    keys: Option<ValidatorKeys>,
    consensus_dir: &Path,
    reset_safety_record: bool,
) -> Result<Option<Identity<DurableSafety>>, ValidatorError> {
    // A chain HotStuff cannot continue (sealed by the dev sealer) is refused first.
    root(chain, config)?;
    let Some(keys) = keys else { return Ok(None) };
    let saved = StoreBlocks::new(chain.store().clone());
    // Past genesis: blocks were committed, or proposals it may have voted for are saved (a
    // chain that voted but committed nothing).
    let past_genesis = chain.head().height > 0 || !saved.load().unwrap_or_default().is_empty();
    let public = keys.bls.public_key();
    let index = config
        .validators
        .index_of(&public)
        .ok_or(ValidatorError::NotAValidator)?;
    let safety_err = |reason: String| ValidatorError::Safety {
        path: consensus_dir.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(consensus_dir).map_err(|e| safety_err(e.to_string()))?;
    let storage = DurableSafety::open(consensus_dir).map_err(|e| safety_err(e.to_string()))?;
    let when_missing = if reset_safety_record {
        WhenMissing::Reset
    } else {
        WhenMissing::FreshAtGenesis
    };
    let signer = SafetySigner::open(
        keys.bls,
        index as u32,
        config.epoch,
        storage,
        past_genesis,
        when_missing,
    )
    .map_err(|e| safety_err(e.to_string()))?;
    Ok(Some(Identity {
        index: index as u32,
        signer,
        vrf: keys.vrf,
    }))
}

/// Opens HotStuff on `chain` (after any sync) with the `identity` of [`open_identity`].
pub fn open(
    chain: &Chain,
    config: HotStuffConfig,
    identity: Option<Identity<DurableSafety>>,
    now_ms: u64,
) -> Result<HotStuff<DurableSafety>, ValidatorError> {
    let root = root(chain, &config)?;
    let saved = StoreBlocks::new(chain.store().clone());
    Ok(HotStuff::new(
        config,
        identity,
        root,
        Box::new(saved),
        now_ms,
    ))
}

/// Where HotStuff starts on `chain`: genesis, or the head with the commit proof stored beside
/// it, and the blocks below the head that the leader rule's window covers, from the proofs
/// stored beside them (see [`Root::with_ancestors`]; the walk down stops at a height without a
/// readable proof).
pub fn root(chain: &Chain, config: &HotStuffConfig) -> Result<Root, ValidatorError> {
    let head = chain.head();
    if head.height == 0 {
        return Ok(Root::genesis(head));
    }
    let verifier = config.verifier();
    let proof = chain.store().commit_proof(head.height)?.unwrap_or_default();
    let root = Root::from_commit_proof(head.clone(), &proof, &verifier).map_err(|e| {
        ValidatorError::NoCommitProof {
            height: head.height,
            reason: e.to_string(),
        }
    })?;
    let below = aether_consensus::leader::activity_window(config.validators.len()) as u64 - 1;
    let proofs = (head.height.saturating_sub(below).max(1)..head.height)
        .rev()
        .map_while(|height| chain.store().commit_proof(height).ok().flatten());
    Ok(root.with_ancestors(proofs, &verifier))
}

/// Key of the list of saved proposal ids.
const INDEX_KEY: &[u8] = b"hotstuff/proposals";

/// Proposals kept across restarts in the database's consensus column: each under
/// `hotstuff/proposal/<id>`, with the list of ids under `hotstuff/proposals`, written
/// together. (Not fsync'd on return: a crash may lose the last ones, which peers still have;
/// what safety needs is in the fsync'd safety record.)
pub struct StoreBlocks {
    store: Store,
}

impl StoreBlocks {
    /// The saved proposals of `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn key(id: &[u8; 32]) -> Vec<u8> {
        [&b"hotstuff/proposal/"[..], id].concat()
    }

    fn ids(&self) -> Result<Vec<[u8; 32]>, String> {
        match self
            .store
            .consensus_value(INDEX_KEY)
            .map_err(|e| e.to_string())?
        {
            None => Ok(Vec::new()),
            Some(bytes) => Vec::<[u8; 32]>::decode(&mut &bytes[..])
                .map_err(|e| format!("the list of saved proposals is damaged: {e}")),
        }
    }
}

impl BlockStore for StoreBlocks {
    fn load(&self) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        for id in self.ids()? {
            if let Some(p) = self
                .store
                .consensus_value(&Self::key(&id))
                .map_err(|e| e.to_string())?
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    fn save(&mut self, id: [u8; 32], proposal: Vec<u8>) -> Result<(), String> {
        let mut ids = self.ids()?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        self.store
            .set_consensus_values(vec![
                (INDEX_KEY.to_vec(), Some(ids.encode())),
                (Self::key(&id), Some(proposal)),
            ])
            .map_err(|e| e.to_string())
    }

    fn remove(&mut self, ids: &[[u8; 32]]) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut kept = self.ids()?;
        kept.retain(|id| !ids.contains(id));
        let mut values = vec![(INDEX_KEY.to_vec(), Some(kept.encode()))];
        values.extend(ids.iter().map(|id| (Self::key(id), None)));
        self.store
            .set_consensus_values(values)
            .map_err(|e| e.to_string())
    }
}
