//! Building, verifying and committing blocks over speculative state: what the node does for
//! the consensus port's `Build`, `Verify` and `Commit` (see `aether_engine::ports`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use aether_engine::ports::{
    BlockId, BuildFailure, CommitFailure, ExecutedBlock, InvalidBlock, NotYet, StateReader, Verdict,
};
use aether_engine::types::{
    Address, Block, BlockEnv, BlockHeader, EXECUTION_VERSION, Hash, SealedTransaction, Status,
    list_root,
};
use aether_storage::PendingState;

use super::pending::PendingBlock;
use super::{Chain, ChainError, ChainEvent, block_events};

/// How far ahead of the verifier's clock a block's timestamp may be.
pub const MAX_DRIFT_MS: u64 = 5_000;

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

    /// The post-state of `parent`, for execution.
    fn view_of(&self, parent: &Parent) -> Result<Arc<dyn StateReader>, ChainError> {
        Ok(Arc::new(self.store.pending_view(parent.state.as_ref())?))
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
        // Taken from the pool as shared handles: nothing is copied under its lock.
        let candidates: Vec<Arc<SealedTransaction>> =
            self.pool()
                .ready_skipping(env.gas_limit, self.max_block_txs(), |h| {
                    base.txs.contains(h)
                });
        let outcome = self
            .executor
            .execute_sealed(self.view_of(&base)?, &env, &candidates)?;
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
                transactions.push(tx.signed().clone());
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
    /// valid. `now_ms` is the local clock, for the timestamp drift. A block with more
    /// transactions or bytes than its gas limit can pay for is refused before anything runs,
    /// and execution stops at the first transaction that may not be in a block.
    pub fn verify(&self, block: &Block, now_ms: u64) -> Result<Verdict, ChainError> {
        let started = Instant::now();
        let header = &block.header;
        let id = header.hash();
        if self.pending().get(&id).is_some() {
            return Ok(Verdict::Valid);
        }
        let Some(base) = self.parent(&header.parent_hash) else {
            return Ok(Verdict::NotYet(NotYet::UnknownParent(header.parent_hash)));
        };
        if let Err(invalid) = self.check_header(header, &base.header) {
            return Ok(Verdict::Invalid(invalid));
        }
        if header.timestamp_ms > now_ms.saturating_add(MAX_DRIFT_MS) {
            return Ok(Verdict::NotYet(NotYet::TimestampAhead {
                now: now_ms,
                found: header.timestamp_ms,
                max_drift_ms: MAX_DRIFT_MS,
            }));
        }
        let max_txs = self.max_block_txs();
        if block.transactions.len() > max_txs {
            return Ok(Verdict::Invalid(InvalidBlock::TooManyTransactions {
                max: max_txs,
                found: block.transactions.len(),
            }));
        }
        let sealed: Vec<SealedTransaction> = block
            .transactions
            .iter()
            .cloned()
            .map(SealedTransaction::seal)
            .collect();
        let bytes: usize = sealed.iter().map(|t| t.encoded_len()).sum();
        let max_bytes = self.max_block_bytes();
        if bytes > max_bytes {
            return Ok(Verdict::Invalid(InvalidBlock::TooLarge {
                max: max_bytes,
                found: bytes,
            }));
        }
        let computed = list_root(&block.transactions);
        if computed != header.tx_root {
            return Ok(Verdict::Invalid(InvalidBlock::TxRoot {
                computed,
                found: header.tx_root,
            }));
        }
        let limit = self.pending().limit();
        if self.pending().is_full() {
            return Ok(Verdict::NotYet(NotYet::TooManyPending(limit)));
        }
        let env = self.env(header.height, header.timestamp_ms, header.proposer);
        let outcome = match self
            .executor
            .verify_sealed(self.view_of(&base)?, &env, &sealed)?
        {
            Ok(outcome) => outcome,
            Err((index, r)) => {
                return Ok(Verdict::Invalid(InvalidBlock::Inadmissible {
                    index,
                    tx: r.tx_hash,
                    reason: r.error.unwrap_or_default(),
                }));
            }
        };
        if outcome.gas_used != header.gas_used {
            return Ok(Verdict::Invalid(InvalidBlock::GasUsed {
                computed: outcome.gas_used,
                found: header.gas_used,
            }));
        }
        let computed = list_root(&outcome.receipts);
        if computed != header.receipts_root {
            return Ok(Verdict::Invalid(InvalidBlock::ReceiptsRoot {
                computed,
                found: header.receipts_root,
            }));
        }
        let state = self
            .store
            .speculate(base.state.as_ref(), &outcome.changes)?;
        if state.root() != header.state_root {
            return Ok(Verdict::Invalid(InvalidBlock::StateRoot {
                computed: state.root(),
                found: header.state_root,
            }));
        }
        let tx_hashes = outcome.receipts.iter().map(|r| r.tx_hash).collect();
        let senders = block.transactions.iter().map(|t| t.sender()).collect();
        let mut pending = self.pending();
        if pending.is_full() {
            return Ok(Verdict::NotYet(NotYet::TooManyPending(limit)));
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
        Ok(Verdict::Valid)
    }

    /// Most transactions a block can hold: each pays at least the base intrinsic gas out of
    /// the block's gas limit, so a block over it is invalid whatever its transactions.
    pub fn max_block_txs(&self) -> usize {
        let base = self.executor.vm().schedule().tx_base.max(1);
        usize::try_from(self.genesis.block_gas_limit / base).unwrap_or(usize::MAX)
    }

    /// Most bytes of transactions a block can hold: each byte pays intrinsic gas.
    pub fn max_block_bytes(&self) -> usize {
        let per_byte = self.executor.vm().schedule().tx_per_byte.max(1);
        usize::try_from(self.genesis.block_gas_limit / per_byte).unwrap_or(usize::MAX)
    }

    /// The checks of a header against its parent.
    fn check_header(&self, header: &BlockHeader, parent: &BlockHeader) -> Result<(), InvalidBlock> {
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
    /// `proof` beside it; committed blocks are final. A block already committed is reported
    /// again (certificates can overlap). Stops at the first block that is neither committed
    /// nor pending on the head, and says why beside what it did commit. Then drops the pending
    /// blocks that do not descend from the new head and offers their transactions back to the
    /// pool. A storage failure is the only error.
    pub fn commit(
        &self,
        ids: &[BlockId],
        proof: &[u8],
    ) -> Result<(Vec<CommittedBlock>, Option<CommitFailure>), ChainError> {
        let mut committed = Vec::with_capacity(ids.len());
        let mut failure = None;
        for id in ids {
            let started = Instant::now();
            let head = self.head();
            if let Some(done) = self.already_committed(id, &head)? {
                committed.push(done);
                continue;
            }
            let found = match self.pending().get(id) {
                None => Err(CommitFailure::NotPending(*id)),
                Some(b) if b.header().parent_hash != head.hash() => Err(CommitFailure::NotOnHead {
                    block: *id,
                    parent: b.header().parent_hash,
                    head: head.hash(),
                }),
                Some(b) => Ok((b.state.clone(), b.executed.clone(), b.seconds)),
            };
            let (state, executed, seconds) = match found {
                Ok(found) => found,
                Err(why) => {
                    failure = Some(why);
                    break;
                }
            };
            // Out of the tree only once it is in the store: a failed write loses nothing.
            self.store.commit_pending(&executed, &state, proof)?;
            self.pending().remove(id);
            self.after_commit(&executed);
            committed.push(CommittedBlock {
                header: executed.block.header.clone(),
                transactions: executed.block.transactions.len(),
                execution_seconds: seconds,
                commit_seconds: started.elapsed().as_secs_f64(),
            });
        }
        if !committed.is_empty() {
            let head = self.head().hash();
            let dropped = self.pending().retain_descendants_of(&head);
            self.return_to_pool(dropped);
        }
        Ok((committed, failure))
    }

    /// The block `id` as committed, if it is committed at or below `head`.
    fn already_committed(
        &self,
        id: &BlockId,
        head: &BlockHeader,
    ) -> Result<Option<CommittedBlock>, ChainError> {
        if self.pending().get(id).is_some() {
            return Ok(None);
        }
        let Some(block) = self.block_by_hash(id)? else {
            return Ok(None);
        };
        if block.header.height > head.height {
            return Ok(None);
        }
        Ok(Some(CommittedBlock {
            transactions: block.transactions.len(),
            header: block.header,
            execution_seconds: 0.0,
            commit_seconds: 0.0,
        }))
    }

    /// Drops the pending blocks that are neither `keep`, nor its ancestors, nor its
    /// descendants (forks that can no longer commit once consensus locked `keep`), and offers
    /// their transactions back to the pool.
    pub fn prune(&self, keep: &BlockId) {
        let dropped = self.pending().retain_branch_of(keep);
        self.return_to_pool(dropped);
    }

    /// The pool, finality and notifications after `executed` committed.
    fn after_commit(&self, executed: &ExecutedBlock) {
        let header = &executed.block.header;
        {
            let included: Vec<(Hash, Address)> = executed
                .receipts
                .iter()
                .zip(&executed.block.transactions)
                .map(|(r, t)| (r.tx_hash, t.sender()))
                .collect();
            // Read before the pool's lock is taken.
            let state = self.store.state();
            let nonces: std::collections::HashMap<Address, u64> = included
                .iter()
                .map(|(_, sender)| {
                    let nonce = state.account(sender).ok().flatten().map_or(0, |a| a.nonce);
                    (*sender, nonce)
                })
                .collect();
            self.pool()
                .on_block(included, |a| nonces.get(a).copied().unwrap_or(0));
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
    fn return_to_pool(&self, mut dropped: Vec<PendingBlock>) {
        // Oldest first, so each sender's transactions come back in nonce order.
        dropped.sort_by_key(|b| b.header().height);
        let now = super::now_ms();
        for block in &dropped {
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
        match self.verify(&block, block.header.timestamp_ms)? {
            Verdict::Valid => {}
            other => return Err(ChainError::Build(format!("{other:?}"))),
        }
        let (mut committed, failure) = self.commit(&[block.header.hash()], &[])?;
        if let Some(why) = failure {
            return Err(ChainError::Build(why.to_string()));
        }
        committed
            .pop()
            .ok_or_else(|| ChainError::Build("nothing committed".into()))
    }
}
