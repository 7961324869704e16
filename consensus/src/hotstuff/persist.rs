//! Proposals that must survive a restart. The blocks between the committed head and the
//! highest QC exist only as pending blocks; if every validator restarted and none kept them,
//! no leader could extend the highest QC (a TC's proposal must carry a QC at least that high)
//! and the chain would stop for good. So each proposal that enters the tree is saved, and
//! removed once committed or dropped; a restarted node puts the saved ones back in its tree and
//! has the node execute them again.
//!
//! Losing a save costs liveness at worst (peers can still send the block), never safety: what
//! safety needs is in the signer's fsync'd record.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Where proposals are kept across restarts.
pub trait BlockStore: Send {
    /// Every saved proposal (SCALE bytes, in any order).
    fn load(&self) -> Result<Vec<Vec<u8>>, String>;
    /// Saves the proposal with id `id`.
    fn save(&mut self, id: [u8; 32], proposal: Vec<u8>) -> Result<(), String>;
    /// Removes proposals (unknown ids are ignored).
    fn remove(&mut self, ids: &[[u8; 32]]) -> Result<(), String>;
}

/// Proposals kept in memory, shared by clones: a node's saved blocks that outlive its
/// consensus state machine (the simulator's crash and restart), or a follower's that need not
/// outlive the process.
#[derive(Clone, Debug, Default)]
pub struct MemoryBlocks(Arc<Mutex<BTreeMap<[u8; 32], Vec<u8>>>>);

impl MemoryBlocks {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<[u8; 32], Vec<u8>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Number of proposals kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl BlockStore for MemoryBlocks {
    fn load(&self) -> Result<Vec<Vec<u8>>, String> {
        Ok(self.lock().values().cloned().collect())
    }

    fn save(&mut self, id: [u8; 32], proposal: Vec<u8>) -> Result<(), String> {
        self.lock().insert(id, proposal);
        Ok(())
    }

    fn remove(&mut self, ids: &[[u8; 32]]) -> Result<(), String> {
        let mut map = self.lock();
        for id in ids {
            map.remove(id);
        }
        Ok(())
    }
}
