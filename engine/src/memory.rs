//! In-memory implementations of the ports, for tests, benchmarks and the `aether exec` sandbox.
//!
//! [`MemoryState`] is a plain snapshot of the whole state; its root is SHA-256 over its canonical
//! SCALE encoding (no Merkle tree, so no proofs: those belong to `aether-storage`).
//! [`MemoryChain`] keeps blocks and receipts and commits them with the state under one lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use parity_scale_codec::{Decode, Encode};

use crate::ports::{
    BlockCommitter, BlockReader, ExecutedBlock, StateReader, StateRoot, StoreError,
};
use crate::state::ChangeSet;
use crate::types::{Account, Address, Block, BlockHeader, Hash, Receipt};

/// The whole state in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct MemoryState {
    /// Accounts.
    pub accounts: BTreeMap<Address, Account>,
    /// Code by hash.
    pub code: BTreeMap<Hash, Vec<u8>>,
    /// Contract storage.
    pub storage: BTreeMap<(Address, Vec<u8>), Vec<u8>>,
    #[codec(skip)]
    code_cache: HashMap<Hash, Arc<[u8]>>,
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// A state with the given funded accounts.
    pub fn with_balances(balances: impl IntoIterator<Item = (Address, u128)>) -> Self {
        let mut s = Self::new();
        for (a, b) in balances {
            s.accounts.insert(a, Account::with_balance(b));
        }
        s
    }

    /// Applies a change set.
    pub fn apply(&mut self, changes: &ChangeSet) {
        for (a, acc) in &changes.accounts {
            self.accounts.insert(*a, acc.clone());
        }
        for (h, c) in &changes.code {
            self.code.insert(*h, c.clone());
            self.code_cache.insert(*h, Arc::from(c.as_slice()));
        }
        for (k, v) in &changes.storage {
            match v {
                Some(v) => {
                    self.storage.insert(k.clone(), v.clone());
                }
                None => {
                    self.storage.remove(k);
                }
            }
        }
    }

    /// SHA-256 of the canonical encoding of the whole state.
    pub fn root(&self) -> Hash {
        Hash::of(&self.encode())
    }

    /// Decodes a state written with `encode`, rebuilding the code cache.
    pub fn decode_all(mut bytes: &[u8]) -> Result<Self, StoreError> {
        let mut s = Self::decode(&mut bytes).map_err(|e| StoreError::Corrupt {
            what: "state",
            reason: e.to_string(),
        })?;
        if !bytes.is_empty() {
            return Err(StoreError::Corrupt {
                what: "state",
                reason: format!("{} trailing bytes", bytes.len()),
            });
        }
        s.code_cache = s
            .code
            .iter()
            .map(|(h, c)| (*h, Arc::from(c.as_slice())))
            .collect();
        Ok(s)
    }
}

impl StateReader for MemoryState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        Ok(self.accounts.get(address).cloned())
    }
    fn code(&self, hash: &Hash) -> Result<Option<Arc<[u8]>>, StoreError> {
        if let Some(c) = self.code_cache.get(hash) {
            return Ok(Some(c.clone()));
        }
        Ok(self.code.get(hash).map(|c| Arc::from(c.as_slice())))
    }
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.storage.get(&(*contract, key.to_vec())).cloned())
    }
}

impl StateRoot for MemoryState {
    fn root_after(&self, changes: &ChangeSet) -> Result<Hash, StoreError> {
        let mut next = self.clone();
        next.apply(changes);
        Ok(next.root())
    }
}

#[derive(Default)]
struct ChainInner {
    state: Arc<MemoryState>,
    blocks: Vec<Block>,
    by_hash: HashMap<Hash, u64>,
    receipts: HashMap<Hash, (u64, Receipt)>,
}

/// Blocks, receipts and state in memory, committed together.
#[derive(Default)]
pub struct MemoryChain {
    inner: RwLock<ChainInner>,
}

impl MemoryChain {
    /// A chain whose state starts as `genesis_state` and holds no blocks.
    pub fn new(genesis_state: MemoryState) -> Self {
        Self {
            inner: RwLock::new(ChainInner {
                state: Arc::new(genesis_state),
                ..ChainInner::default()
            }),
        }
    }

    /// A snapshot of the current state, unaffected by later commits.
    pub fn state(&self) -> Arc<MemoryState> {
        self.read().state.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ChainInner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl BlockCommitter for MemoryChain {
    fn commit_block(&self, executed: &ExecutedBlock) -> Result<(), StoreError> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let header = &executed.block.header;
        let expected_height = inner.blocks.len() as u64;
        if header.height != expected_height {
            return Err(StoreError::Backend(format!(
                "block height {} does not follow head (expected {expected_height})",
                header.height
            )));
        }
        if let Some(parent) = inner.blocks.last()
            && parent.header.hash() != header.parent_hash
        {
            return Err(StoreError::Backend(format!(
                "block {} has parent {} but head is {}",
                header.height,
                header.parent_hash,
                parent.header.hash()
            )));
        }
        let mut next = (*inner.state).clone();
        next.apply(&executed.changes);
        if next.root() != header.state_root {
            return Err(StoreError::Backend(format!(
                "block {} state root {} does not match executed state {}",
                header.height,
                header.state_root,
                next.root()
            )));
        }
        inner.state = Arc::new(next);
        inner.by_hash.insert(header.hash(), header.height);
        for r in &executed.receipts {
            inner.receipts.insert(r.tx_hash, (header.height, r.clone()));
        }
        inner.blocks.push(executed.block.clone());
        Ok(())
    }
}

impl BlockReader for MemoryChain {
    fn head(&self) -> Result<Option<BlockHeader>, StoreError> {
        Ok(self.read().blocks.last().map(|b| b.header.clone()))
    }
    fn block_by_height(&self, height: u64) -> Result<Option<Block>, StoreError> {
        Ok(usize::try_from(height)
            .ok()
            .and_then(|h| self.read().blocks.get(h).cloned()))
    }
    fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>, StoreError> {
        let inner = self.read();
        Ok(inner
            .by_hash
            .get(hash)
            .and_then(|h| inner.blocks.get(*h as usize).cloned()))
    }
    fn receipt(&self, tx_hash: &Hash) -> Result<Option<(u64, Receipt)>, StoreError> {
        Ok(self.read().receipts.get(tx_hash).cloned())
    }
}
