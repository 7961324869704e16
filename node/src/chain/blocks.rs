//! Building, verifying and committing blocks over speculative state: what the node does for
//! the consensus port's `Build`, `Verify` and `Commit` (see `aether_engine::ports`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use aether_engine::BlockOutcome;
use aether_engine::ports::{BlockId, BuildFailure, ExecutedBlock, InvalidBlock, StateReader};
use aether_engine::types::{
    Address, Block, BlockEnv, BlockHeader, EXECUTION_VERSION, Hash, SignedTransaction, Status,
    list_root,
};
use aether_storage::PendingState;

use super::pending::PendingBlock;
use super::{Chain, ChainError, ChainEvent, block_events};

/// How far ahead of the verifier's clock a block's timestamp may be.
pub const MAX_DRIFT_MS: u64 = 5_000;

/// Most transactions a built block takes from the pool.
const MAX_BLOCK_TXS: usize = 20_000;

/// The parent a block builds on: the committed head, or a pending block.
struct Parent {
    header: BlockHeader,
    state: Option<Arc<PendingState>>,
    /// Transactions in the pending ancestors (the parent included).
    txs: HashSet<Hash>,
    /// Their senders.
    senders: HashSet<Address>,
}

/// A block committed by [`Chain::commit`], with what it took.
#[derive(Clone, Debug)]
pub struct CommittedBlock {
    /// Its header.
    pub header: BlockHeader,
    /// Number of transactions.
    pub transactions: usize,
    /// Seconds its execution took (when it was built or verified).
    pub execution_seconds: f64,
    /// Seconds its commit took.
    pub commit_seconds: f64,
}

impl Chain {
    fn parent(&self, id: &BlockId) -> Option<Parent> {
        let head = self.head();
        if *id == head.hash() {
            return Some(Parent {
                header: head,
                state: None,
                txs: HashSet::new(),
                senders: HashSet::new(),
            });
        }
        let pending = self.pending();
        let block = pending.get(id)?;
        let (txs, senders) = pending.txs_up_to(id);
        Some(Parent {
            header: block.header().clone(),
            state: Some(block.state.clone()),
            txs,
            senders,
        })
    }

    /// Executes `txs` on `parent`'s post-state.
    fn execute_on(
        &self,
        parent: &Parent,
        env: &BlockEnv,
        txs: &[SignedTransaction],
    ) -> Result<BlockOutcome, ChainError> {
        let view: Arc<dyn StateReader> = Arc::new(self.store.pending_view(parent.state.as_ref())?);
        Ok(self.executor.execute_block(view, env, txs)?)
    }

    fn env(&self, height: u64, timestamp_ms: u64, proposer: Address) -> BlockEnv {
        BlockEnv {
            chain_id: self.genesis.chain_id,
            height,
            timestamp_ms,
            proposer,
            gas_limit: self.genesis.block_gas_limit,
        }
    }

    /// Builds the block at `height` on `parent` from the pool (transactions not in pending
    /// ancestors, nonces after theirs), executes it on the parent's speculative state and keeps
    /// it pending. Transactions execution rejects leave the block and the pool.
    pub fn build(
        &self,
        parent: BlockId,
        height: u64,
        timestamp_ms: u64,
        proposer: Address,
    ) -> Result<Result<Block, BuildFailure>, ChainError> {
        let started = Instant::now();
        let Some(base) = self.parent(&parent) else {
            return Ok(Err(BuildFailure::UnknownParent(parent)));
        };
        if height != base.header.height + 1 {
            return Ok(Err(BuildFailure::WrongHeight {
                parent: base.header.height,
                requested: height,
            }));
        }
        if timestamp_ms <= base.header.timestamp_ms {
            return Ok(Err(BuildFailure::Timestamp {
                parent: base.header.timestamp_ms,
                requested: timestamp_ms,
            }));
        }
        let limit = self.pending().limit();
        if self.pending().is_full() {
            return Ok(Err(BuildFailure::TooManyPending(limit)));
        }
        let env = self.env(height, timestamp_ms, proposer);
        let candidates: Vec<SignedTransaction> = self
            .pool()
            .ready_skipping(env.gas_limit, MAX_BLOCK_TXS, |h| base.txs.contains(h))
            .into_iter()
            .map(|t| (*t).clone())
            .collect();
        let outcome = self.execute_on(&base, &env, &candidates)?;
        // A transaction execution rejects changed nothing and paid nothing: it leaves the
        // block, and the pool, instead of taking space in it; unless its sender has
        // transactions in the pending ancestors, whose fork may be what made it fail (it stays
        // for other forks, and leaves at commit if the committed chain passed its nonce).
        let mut transactions = Vec::with_capacity(candidates.len());
        let mut receipts = Vec::with_capacity(candidates.len());
        let mut tx_hashes = HashSet::with_capacity(candidates.len());
        let mut senders = HashSet::new();
        let mut rejected = Vec::new();
        for (tx, receipt) in candidates.into_iter().zip(outcome.receipts) {
            if receipt.status == Status::Rejected {
                tracing::debug!(tx = %receipt.tx_hash, error = ?receipt.error, "leaving out a transaction execution rejected");
                if !base.senders.contains(&tx.sender()) {
                    rejected.push(receipt.tx_hash);
                }
            } else {
                tx_hashes.insert(receipt.tx_hash);
                senders.insert(tx.sender());
                transactions.push(tx);
                receipts.push(receipt);
            }
        }
        if !rejected.is_empty() {
            let mut pool = self.pool();
            for h in &rejected {
                pool.drop_tx(h);
            }
        }
        let state = self
            .store
            .speculate(base.state.as_ref(), &outcome.changes)?;
        let header = BlockHeader {
            height,
            timestamp_ms,
            parent_hash: parent,
            proposer,
            execution_version: EXECUTION_VERSION,
            tx_root: list_root(&transactions),
            state_root: state.root(),
            receipts_root: list_root(&receipts),
            gas_used: outcome.gas_used,
            gas_limit: env.gas_limit,
        };
        let block = Block {
            header,
            transactions,
        };
        let mut pending = self.pending();
        if pending.is_full() {
            return Ok(Err(BuildFailure::TooManyPending(limit)));
        }
        pending.insert(PendingBlock {
            executed: ExecutedBlock {
                block: block.clone(),
                receipts,
                changes: outcome.changes,
            },
            state,
            tx_hashes,
            senders,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(Ok(block))
    }

    /// Verifies a block (a peer's proposal, or one built here, which is known at once): checks
    /// it against its parent (the head or a pending block), executes it on the parent's
    /// speculative state, compares what the header commits to, and keeps it pending when
    /// valid. `now_ms` is the local clock, for the timestamp drift.
    pub fn verify(
        &self,
        block: &Block,
        now_ms: u64,
    ) -> Result<Result<(), InvalidBlock>, ChainError> {
        let started = Instant::now();
        let header = &block.header;
        let id = header.hash();
        if self.pending().get(&id).is_some() {
            return Ok(Ok(()));
        }
        let Some(base) = self.parent(&header.parent_hash) else {
            return Ok(Err(InvalidBlock::UnknownParent(header.parent_hash)));
        };
        if let Err(invalid) = self.check_header(header, &base.header, now_ms) {
            return Ok(Err(invalid));
        }
        let computed = list_root(&block.transactions);
        if computed != header.tx_root {
            return Ok(Err(InvalidBlock::TxRoot {
                computed,
                found: header.tx_root,
            }));
        }
        let limit = self.pending().limit();
        if self.pending().is_full() {
            return Ok(Err(InvalidBlock::TooManyPending(limit)));
        }
        let env = self.env(header.height, header.timestamp_ms, header.proposer);
        let outcome = self.execute_on(&base, &env, &block.transactions)?;
        if let Some((index, r)) = outcome
            .receipts
            .iter()
            .enumerate()
            .find(|(_, r)| r.status == Status::Rejected)
        {
            return Ok(Err(InvalidBlock::Inadmissible {
                index,
                tx: r.tx_hash,
                reason: r.error.clone().unwrap_or_default(),
            }));
        }
        if outcome.gas_used != header.gas_used {
            return Ok(Err(InvalidBlock::GasUsed {
                computed: outcome.gas_used,
                found: header.gas_used,
            }));
        }
        let computed = list_root(&outcome.receipts);
        if computed != header.receipts_root {
            return Ok(Err(InvalidBlock::ReceiptsRoot {
                computed,
                found: header.receipts_root,
            }));
        }
        let state = self
            .store
            .speculate(base.state.as_ref(), &outcome.changes)?;
        if state.root() != header.state_root {
            return Ok(Err(InvalidBlock::StateRoot {
                computed: state.root(),
                found: header.state_root,
            }));
        }
        let tx_hashes = outcome.receipts.iter().map(|r| r.tx_hash).collect();
        let senders = block.transactions.iter().map(|t| t.sender()).collect();
        let mut pending = self.pending();
        if pending.is_full() {
            return Ok(Err(InvalidBlock::TooManyPending(limit)));
        }
        pending.insert(PendingBlock {
            executed: ExecutedBlock {
                block: block.clone(),
                receipts: outcome.receipts,
                changes: outcome.changes,
            },
            state,
            tx_hashes,
            senders,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(Ok(()))
    }

    /// The checks of a header against its parent and the local clock.
    fn check_header(
        &self,
        header: &BlockHeader,
        parent: &BlockHeader,
        now_ms: u64,
    ) -> Result<(), InvalidBlock> {
        if header.height != parent.height + 1 {
            return Err(InvalidBlock::Height {
                parent: parent.height,
                found: header.height,
            });
        }
        if header.timestamp_ms <= parent.timestamp_ms {
            return Err(InvalidBlock::TimestampNotAfterParent {
                parent: parent.timestamp_ms,
                found: header.timestamp_ms,
            });
        }
        if header.timestamp_ms > now_ms.saturating_add(MAX_DRIFT_MS) {
            return Err(InvalidBlock::TimestampTooFarAhead {
                now: now_ms,
                found: header.timestamp_ms,
                max_drift_ms: MAX_DRIFT_MS,
            });
        }
        if header.execution_version != EXECUTION_VERSION {
            return Err(InvalidBlock::ExecutionVersion {
                expected: EXECUTION_VERSION,
                found: header.execution_version,
            });
        }
        if header.gas_limit != self.genesis.block_gas_limit {
            return Err(InvalidBlock::GasLimit {
                expected: self.genesis.block_gas_limit,
                found: header.gas_limit,
            });
        }
        Ok(())
    }

    /// Commits pending blocks in order (the first extends the committed head), each with
    /// `proof` beside it; committed blocks are final. Then drops the pending blocks that do not
    /// descend from the new head and returns their transactions that are still valid to the
    /// pool.
    pub fn commit(&self, ids: &[BlockId], proof: &[u8]) -> Result<Vec<CommittedBlock>, ChainError> {
        let mut committed = Vec::with_capacity(ids.len());
        for id in ids {
            let started = Instant::now();
            let head = self.head().hash();
            let block = {
                let mut pending = self.pending();
                match pending.get(id) {
                    None => return Err(ChainError::NotPending(*id)),
                    Some(b) if b.header().parent_hash != head => {
                        return Err(ChainError::NotOnHead {
                            block: *id,
                            parent: b.header().parent_hash,
                            head,
                        });
                    }
                    Some(_) => {}
                }
                pending.remove(id).ok_or(ChainError::NotPending(*id))?
            };
            self.store
                .commit_pending(&block.executed, &block.state, proof)?;
            self.after_commit(&block.executed);
            committed.push(CommittedBlock {
                header: block.header().clone(),
                transactions: block.executed.block.transactions.len(),
                execution_seconds: block.seconds,
                commit_seconds: started.elapsed().as_secs_f64(),
            });
        }
        if !committed.is_empty() {
            let head = self.head().hash();
            let dropped = self.pending().retain_descendants_of(&head);
            self.return_to_pool(&dropped);
        }
        Ok(committed)
    }

    /// The pool, finality and notifications after `executed` committed.
    fn after_commit(&self, executed: &ExecutedBlock) {
        let header = &executed.block.header;
        {
            let state = self.store.state();
            let mut pool = self.pool();
            pool.on_block(&executed.block.transactions, |a| {
                state.account(a).ok().flatten().map_or(0, |acc| acc.nonce)
            });
        }
        self.finalized
            .fetch_max(header.height, std::sync::atomic::Ordering::AcqRel);
        let records = block_events(executed);
        let _ = self.events.send(ChainEvent::NewHead(header.clone()));
        let _ = self.events.send(ChainEvent::Finalized(header.clone()));
        if !records.is_empty() {
            let _ = self.events.send(ChainEvent::Events(Arc::new(records)));
        }
    }

    /// Offers the transactions of dropped forks to the pool again; those no longer valid (their
    /// nonce was used on the committed chain, say) are refused by it, as any submission is.
    fn return_to_pool(&self, dropped: &[PendingBlock]) {
        let now = super::now_ms();
        for block in dropped {
            for tx in &block.executed.block.transactions {
                if let Err(refused) = self.readmit(tx.clone(), now) {
                    tracing::trace!(tx = %tx.hash(), %refused, "a dropped fork's transaction did not return to the pool");
                }
            }
        }
    }

    /// Builds a block on the head, verifies and commits it: the whole path a one-validator
    /// chain runs, in one call (for tests and tools).
    pub fn produce(
        &self,
        timestamp_ms: u64,
        proposer: Address,
    ) -> Result<CommittedBlock, ChainError> {
        let head = self.head();
        let block = self
            .build(
                head.hash(),
                head.height + 1,
                timestamp_ms.max(head.timestamp_ms + 1),
                proposer,
            )?
            .map_err(|e| ChainError::Build(e.to_string()))?;
        self.verify(&block, block.header.timestamp_ms)?
            .map_err(|e| ChainError::Build(e.to_string()))?;
        let mut committed = self.commit(&[block.header.hash()], &[])?;
        committed
            .pop()
            .ok_or_else(|| ChainError::Build("nothing committed".into()))
    }
}
