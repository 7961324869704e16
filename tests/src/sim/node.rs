//! One simulated node: the real chain (ParityDB store, pool, executor, pending blocks) and the
//! real HotStuff state machine, with its safety record and saved proposals in memory that
//! survive a crash (as the node's fsync'd record and its database do).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aether_consensus::HotStuff;
use aether_consensus::bls::BlsSecretKey;
use aether_consensus::hotstuff::{HotStuffConfig, Identity, MemoryBlocks};
use aether_consensus::signer::{
    OpenError, RecordSummary, SafetySigner, SafetyStorage, WhenMissing, record_summary,
};
use aether_consensus::vrf::VrfSecretKey;
use aether_node::chain::Chain;
use aether_node::genesis::Genesis;
use aether_storage::{Store, StoreConfig};

/// A safety record that outlives the node's crash, and the summary of every record stored
/// (what the validator was about to sign), for the checker: every vote, timeout and proposal,
/// including a vote a leader gives itself, which never leaves the state machine.
#[derive(Clone, Default)]
pub struct SharedRecord(
    pub Arc<Mutex<Option<Vec<u8>>>>,
    pub Arc<Mutex<Vec<RecordSummary>>>,
);

impl SafetyStorage for SharedRecord {
    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.clone())
    }
    fn store(&mut self, record: &[u8]) -> Result<(), String> {
        *self.0.lock().map_err(|e| e.to_string())? = Some(record.to_vec());
        let summary = record_summary(record).ok_or("the signer stored something else")?;
        self.1.lock().map_err(|e| e.to_string())?.push(summary);
        Ok(())
    }
}

impl SharedRecord {
    /// The summaries stored since the last call.
    pub fn take_stored(&self) -> Vec<RecordSummary> {
        std::mem::take(&mut *self.1.lock().expect("the record log"))
    }
}

/// The BLS key of validator `index`: keys derive from the index only, the same in every run.
pub fn bls_key(index: usize) -> BlsSecretKey {
    let mut seed = [0x5a; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    BlsSecretKey::from_seed(&seed).expect("32 bytes are a BLS seed")
}

/// The VRF key of validator `index`.
pub fn vrf_key(index: usize) -> VrfSecretKey {
    let mut seed = [0xa5; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    VrfSecretKey::from_seed(&seed)
}

/// A running node.
pub struct Running {
    /// The chain.
    pub chain: Chain,
    /// Consensus.
    pub hs: HotStuff<SharedRecord>,
}

/// A node of the simulation.
pub struct SimNode {
    /// Its validator key's index.
    pub key: usize,
    /// Where its database lives.
    pub dir: PathBuf,
    /// Its safety record.
    pub record: SharedRecord,
    /// Its saved proposals.
    pub saved: MemoryBlocks,
    /// Its clock's offset from simulated time, ms.
    pub skew_ms: u64,
    /// Running, or crashed (`None`).
    pub running: Option<Running>,
    /// Why it refused to start, the last time it did.
    pub refused: Option<String>,
    /// Counts crashes: jobs queued before one are dropped.
    pub incarnation: u64,
    /// When its execution thread finishes the jobs queued (simulated ms).
    pub busy_until: u64,
}

impl SimNode {
    /// Starts the node at `now_ms` (its own clock): opens its database (the genesis on the
    /// first start), its signer with the safety record, and consensus from the committed head
    /// and the proof stored beside it. With `reset`, a missing record is started afresh.
    pub fn start(
        &mut self,
        genesis: &Genesis,
        config: &HotStuffConfig,
        now_ms: u64,
        reset: bool,
    ) -> Result<(), String> {
        let store = Store::open(&self.dir, StoreConfig::default()).map_err(|e| e.to_string())?;
        let chain = Chain::open(store, genesis.clone()).map_err(|e| e.to_string())?;
        let head = chain.head();
        let root = aether_node::validator::root(&chain, config).map_err(|e| e.to_string())?;
        let when_missing = if reset {
            WhenMissing::Reset
        } else {
            WhenMissing::FreshAtGenesis
        };
        let signer = SafetySigner::open(
            bls_key(self.key),
            self.key as u32,
            config.epoch,
            self.record.clone(),
            // Past genesis: it committed blocks, or holds proposals it may have voted for.
            head.height > 0 || !self.saved.is_empty(),
            when_missing,
        );
        let signer = match signer {
            Ok(s) => s,
            Err(e @ OpenError::Missing) => {
                self.refused = Some(e.to_string());
                return Err(e.to_string());
            }
            Err(e) => return Err(e.to_string()),
        };
        let hs = HotStuff::new(
            config.clone(),
            Some(Identity {
                index: self.key as u32,
                signer,
                vrf: vrf_key(self.key),
            }),
            root,
            Box::new(self.saved.clone()),
            now_ms,
        );
        self.running = Some(Running { chain, hs });
        Ok(())
    }
}
