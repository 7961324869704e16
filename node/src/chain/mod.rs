//! [`Chain`]: the node's state machine around the store: genesis, the pool, the pending blocks
//! (built or verified, not yet committed; `blocks.rs`), committing them, dry runs, and
//! notifications of new heads and events.

mod blocks;
mod head_accounts;
mod pending;
mod trace;

pub use trace::TracedTransaction;

pub use blocks::{CommittedBlock, MAX_DRIFT_MS};
pub use pending::DEFAULT_MAX_PENDING;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aether_engine::ports::{ExecutedBlock, StateReader};
use aether_engine::state::Overlay;
use aether_engine::types::{
    Account, Action, Address, Block, BlockEnv, BlockHeader, Hash, Receipt, SignedTransaction,
    Transaction,
};
use aether_engine::{Checked, Executor, GasSchedule, VerifiedSignatures, Vm};
use aether_storage::{EventFilter, EventRecord, StateKey, StateView, StorageError, Store};
use parity_scale_codec::Encode;
use tokio::sync::broadcast;

use crate::genesis::Genesis;
use crate::mempool::{Admitted, Mempool, PoolConfig, Rejection};

/// Consensus-metadata key under which the chain records its genesis hash.
const GENESIS_KEY: &[u8] = b"genesis_hash";

/// Compiled modules kept in the VM's cache.
const MODULE_CACHE: usize = 256;

/// Transaction hashes kept by the verified-signature cache: twice the pool's default size.
const SIGNATURE_CACHE: usize = 200_000;

/// Compiled modules kept by the VM of dry runs. Dry runs are free to whoever asks, so they
/// get a VM of their own: a stream of dry-run uploads cannot evict the modules blocks use.
/// (Gas does not depend on the cache, so dry runs still charge what blocks charge.)
const DRY_RUN_MODULE_CACHE: usize = 32;

/// What the chain announces.
#[derive(Clone, Debug)]
pub enum ChainEvent {
    /// A block was committed.
    NewHead(BlockHeader),
    /// Blocks up to this one are final.
    Finalized(BlockHeader),
    /// Events of a committed block, in order.
    Events(Arc<Vec<EventRecord>>),
}

/// A chain failure (storage, or a block that could not be built).
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The state backend failed under execution.
    #[error(transparent)]
    State(#[from] aether_engine::ports::StoreError),
    /// A block could not be built or verified (`Chain::produce`).
    #[error("block production: {0}")]
    Build(String),
    /// The engine failed (panicked) outside a contract frame while serving a request; the
    /// fault is logged. A fault inside a frame is a receipt instead (`trap`, "engine fault").
    #[error("engine fault: the engine failed on this request (logged by the node)")]
    EngineFault,
    /// A committed transaction re-executed for a trace did not give its stored receipt: the
    /// node's engine no longer executes that block as it did (logged).
    #[error("re-executing transaction {0} did not give its stored receipt")]
    TraceDiverged(Hash),
    /// The database belongs to another chain.
    #[error(
        "the database holds chain {found} but the genesis gives {expected}: use another --base-path"
    )]
    GenesisMismatch {
        /// Hash of the genesis block in the database.
        found: Hash,
        /// Hash of the genesis block of the given genesis.
        expected: Hash,
    },
}

/// The node's chain: store, executor, pool.
pub struct Chain {
    store: Store,
    executor: Executor,
    dry_runs: Executor,
    pool: Mutex<Mempool>,
    pool_config: PoolConfig,
    pending: Mutex<pending::PendingTree>,
    verified: Arc<VerifiedSignatures>,
    genesis: Genesis,
    genesis_hash: Hash,
    finalized: AtomicU64,
    events: broadcast::Sender<ChainEvent>,
    head_accounts: head_accounts::HeadAccounts,
}

impl Chain {
    /// Opens the chain on `store`: commits the genesis block if the store is empty, otherwise
    /// checks that the store's genesis is this one.
    pub fn open(store: Store, genesis: Genesis) -> Result<Self, ChainError> {
        Self::open_with_pool(store, genesis, |pool| pool)
    }

    /// As [`Chain::open`], with the pool's limits as `pool` sets them (from the defaults the
    /// genesis gives).
    pub fn open_with_pool(
        store: Store,
        genesis: Genesis,
        pool: impl FnOnce(PoolConfig) -> PoolConfig,
    ) -> Result<Self, ChainError> {
        let changes = genesis.changes();
        let identity = genesis.hash()?;
        if let Some(stored) = store.consensus_value(GENESIS_KEY)?
            && stored != identity.0
        {
            let mut found = [0u8; 32];
            if stored.len() == 32 {
                found.copy_from_slice(&stored);
            }
            return Err(ChainError::GenesisMismatch {
                found: Hash(found),
                expected: identity,
            });
        }
        let expected = if store.head().is_none() {
            let root = store.root_after(&changes)?;
            let block = genesis.block(root);
            let hash = block.header.hash();
            store.commit(&ExecutedBlock {
                block,
                receipts: Vec::new(),
                changes,
            })?;
            hash
        } else {
            match store.block_hash(0)? {
                Some(found) if found != identity => {
                    return Err(ChainError::GenesisMismatch {
                        found,
                        expected: identity,
                    });
                }
                Some(_) => {}
                None => tracing::warn!(
                    "the database starts at a snapshot, without block 0: its genesis cannot be \
                     checked the first time; it is recorded now and checked from then on"
                ),
            }
            identity
        };
        store.set_consensus_values(vec![(GENESIS_KEY.to_vec(), Some(expected.0.to_vec()))])?;
        let pool_config = pool(PoolConfig {
            min_gas_price: genesis.min_gas_price,
            ..PoolConfig::new(genesis.chain_id, genesis.block_gas_limit)
        });
        let pool = Mempool::new(pool_config.clone());
        let head = store.head().map_or(0, |h| h.height);
        let (events, _) = broadcast::channel(1024);
        let verified = Arc::new(VerifiedSignatures::new(SIGNATURE_CACHE));
        Ok(Self {
            store,
            executor: Executor::with_verified_signatures(
                Vm::new(GasSchedule::V1, MODULE_CACHE),
                verified.clone(),
            ),
            dry_runs: Executor::new(Vm::new(GasSchedule::V1, DRY_RUN_MODULE_CACHE)),
            pool: Mutex::new(pool),
            pool_config,
            pending: Mutex::new(pending::PendingTree::new(DEFAULT_MAX_PENDING)),
            verified,
            genesis,
            genesis_hash: expected,
            finalized: AtomicU64::new(head),
            events,
            head_accounts: Default::default(),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// Hash of the genesis block.
    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.genesis.chain_id
    }

    /// Header of the head block.
    pub fn head(&self) -> BlockHeader {
        self.store
            .head()
            .expect("the genesis block is committed at open")
    }

    /// The highest final height.
    pub fn finalized_height(&self) -> u64 {
        self.finalized.load(Ordering::Acquire)
    }

    /// Subscribes to new heads, finality and events.
    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// The account at the head (cached until the head moves: see [`head_accounts`]).
    pub fn account(&self, address: &Address) -> Result<Option<Account>, ChainError> {
        let view = self.store.state();
        let height = view.height();
        if let Some(cached) = self.head_accounts.get(height, address) {
            return Ok(cached);
        }
        let account = view.account(address).map_err(ChainError::State)?;
        self.head_accounts.insert(height, *address, account.clone());
        Ok(account)
    }

    /// Pool size: (ready, future).
    pub fn pool_counts(&self) -> (usize, usize) {
        self.pool().counts()
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Mempool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, pending::PendingTree> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of pending (executed, uncommitted) blocks.
    pub fn pending_blocks(&self) -> usize {
        self.pending().len()
    }

    /// The verified-signature cache the pool fills and block execution reads.
    pub fn verified_signatures(&self) -> &Arc<VerifiedSignatures> {
        &self.verified
    }

    /// Checks a transaction and admits it to the pool.
    pub fn submit(&self, tx: SignedTransaction, now_ms: u64) -> Result<Admitted, Rejection> {
        let sender = tx.sender();
        // Signatures are checked outside the pool's lock, in parallel across RPC workers.
        let checked = Mempool::precheck_cached(&self.pool_config, tx, &self.verified)?;
        // The account is read under the lock: a block's pool update (which follows its commit)
        // then never lands between the read and the admission.
        let mut pool = self.pool();
        let account = self
            .account(&sender)
            .map_err(|e| Rejection::StateUnreadable(e.to_string()))?;
        pool.admit(checked, account.as_ref(), now_ms)
    }

    /// Checks a transaction without the pool's lock: size, chain, gas and signature (the part
    /// of a submission that can run in parallel).
    pub fn precheck(&self, tx: SignedTransaction) -> Result<crate::mempool::Prechecked, Rejection> {
        Mempool::precheck_cached(&self.pool_config, tx, &self.verified)
    }

    /// Admits prechecked transactions in order under one take of the pool's lock (a batch of
    /// submissions): each answer as [`Chain::submit`] would give it.
    pub fn admit_all(
        &self,
        checked: Vec<crate::mempool::Prechecked>,
        now_ms: u64,
    ) -> Vec<Result<Admitted, Rejection>> {
        let mut pool = self.pool();
        checked
            .into_iter()
            .map(|c| {
                let account = self
                    .account(&c.sender())
                    .map_err(|e| Rejection::StateUnreadable(e.to_string()))?;
                pool.admit(c, account.as_ref(), now_ms)
            })
            .collect()
    }

    /// Offers a transaction again (from a dropped fork): the same checks as a submission.
    fn readmit(&self, tx: SignedTransaction, now_ms: u64) -> Result<Admitted, Rejection> {
        self.submit(tx, now_ms)
    }

    /// The nonce `sender`'s next transaction should carry: its account nonce, plus the
    /// pending transactions that follow it without a gap.
    pub fn next_nonce(&self, sender: &Address) -> Result<u64, ChainError> {
        let pool = self.pool();
        let account_nonce = self.account(sender)?.map_or(0, |a| a.nonce);
        Ok(pool.next_nonce(sender, account_nonce))
    }

    /// Whether the pool holds `hash`.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.pool().get(hash).is_some()
    }

    /// Compiled modules the block VM keeps (dry runs use a VM of their own).
    pub fn cached_modules(&self) -> usize {
        self.executor.vm().cached_modules()
    }

    /// Runs `action` as `sender` against the head without committing: the receipt carries the
    /// exact gas a transaction with this action would be charged in the next block (its
    /// intrinsic gas counts a signed transaction's size).
    pub fn dry_run(
        &self,
        sender: Address,
        action: Action,
        gas_limit: Option<u64>,
    ) -> Result<Receipt, ChainError> {
        self.run_dry(sender, action, gas_limit, false)
            .map(|(receipt, _)| receipt)
    }

    /// A dry run, traced when `traced`.
    fn run_dry(
        &self,
        sender: Address,
        action: Action,
        gas_limit: Option<u64>,
        traced: bool,
    ) -> Result<(Receipt, aether_engine::vm::trace::Trace), ChainError> {
        let head = self.head();
        let state: Arc<StateView> = Arc::new(self.store.state());
        let nonce = state
            .account(&sender)
            .map_err(ChainError::State)?
            .map_or(0, |a| a.nonce);
        let gas_limit = gas_limit.unwrap_or(self.genesis.block_gas_limit);
        let tx = Transaction {
            chain_id: self.genesis.chain_id,
            nonce,
            gas_limit,
            // Price 0: the run does not depend on the sender's means to pay; gas does not
            // depend on the price.
            gas_price: 0,
            action,
        };
        // As if signed: a tagged 32-byte public key and a 64-byte signature.
        let encoded_len = tx.encoded_size() + 33 + 64;
        let checked = Checked {
            sender,
            hash: Hash::of(&tx.encode()),
            tx: &tx,
            encoded_len,
        };
        let env = BlockEnv {
            chain_id: self.genesis.chain_id,
            height: head.height + 1,
            timestamp_ms: head.timestamp_ms + 1,
            proposer: Address::default(),
            gas_limit: self.genesis.block_gas_limit,
        };
        let mut overlay = Overlay::new(state);
        // Frames catch their own faults; this guard is for the rest of the engine, so that no
        // request can take an RPC worker with it. The overlay is dropped either way.
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let gas = self.genesis.block_gas_limit;
            if traced {
                self.dry_runs
                    .apply_traced(&mut overlay, &env, &checked, gas)
            } else {
                self.dry_runs
                    .apply(&mut overlay, &env, &checked, gas)
                    .map(|r| (r, Default::default()))
            }
        }));
        match applied {
            Ok(receipt) => receipt.map_err(ChainError::State),
            Err(_) => {
                tracing::error!(%sender, tx_hash = %checked.hash, "the engine faulted in a dry run");
                Err(ChainError::EngineFault)
            }
        }
    }

    /// The committed state at `height` (the head's with `None`), a stable snapshot.
    pub fn state_at(&self, height: Option<u64>) -> Result<StateView, ChainError> {
        Ok(match height {
            None => self.store.state(),
            Some(h) => self.store.state_at(h)?,
        })
    }

    /// A proof of `key`'s value (or absence) at `height` against that block's state root.
    pub fn prove(
        &self,
        key: &StateKey,
        height: u64,
    ) -> Result<aether_storage::StateProof, ChainError> {
        Ok(self.store.prove(key, height)?)
    }

    /// The header of the committed block at `height`.
    pub fn header_at(&self, height: u64) -> Result<Option<BlockHeader>, ChainError> {
        Ok(match self.store.block_hash(height)? {
            Some(h) => self.store.header(&h)?,
            None => None,
        })
    }

    /// The committed block at `height`.
    pub fn block_by_height(&self, height: u64) -> Result<Option<Block>, ChainError> {
        Ok(aether_engine::ports::BlockReader::block_by_height(
            &self.store,
            height,
        )?)
    }

    /// The committed block whose header hash is `hash`.
    pub fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>, ChainError> {
        Ok(aether_engine::ports::BlockReader::block_by_hash(
            &self.store,
            hash,
        )?)
    }

    /// The receipt of the committed transaction `tx_hash`, with its block's height.
    pub fn receipt(&self, tx_hash: &Hash) -> Result<Option<(u64, Receipt)>, ChainError> {
        Ok(aether_engine::ports::BlockReader::receipt(
            &self.store,
            tx_hash,
        )?)
    }

    /// Events matching `filter`.
    pub fn events(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<EventRecord>, ChainError> {
        Ok(self.store.events(filter, limit)?)
    }
}

/// The events of an executed block as records.
fn block_events(executed: &ExecutedBlock) -> Vec<EventRecord> {
    let height = executed.block.header.height;
    let mut out = Vec::new();
    for (tx_index, receipt) in executed.receipts.iter().enumerate() {
        for (event_index, event) in receipt.events.iter().enumerate() {
            out.push(EventRecord {
                height,
                tx_index: tx_index as u32,
                event_index: event_index as u32,
                tx_hash: receipt.tx_hash,
                event: event.clone(),
            });
        }
    }
    out
}

impl Chain {
    /// Drops pool transactions older than the pool's expiry.
    pub fn expire_pool(&self, now_ms: u64) -> usize {
        self.pool().expire(now_ms)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
