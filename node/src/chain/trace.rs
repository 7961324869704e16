//! Traces of transactions, re-executed (`debug_traceTransaction`, `debug_traceCall`): the
//! engine records each frame and host call (`aether_engine::vm::trace`). Expensive by design:
//! a committed transaction is re-executed on its block's parent state after the block's earlier
//! transactions, so one trace costs up to one block's execution; callers bound how often.

use std::sync::Arc;

use aether_engine::Checked;
use aether_engine::state::Overlay;
use aether_engine::types::{Action, Address, BlockEnv, Hash, Receipt, Status};
use aether_engine::vm::trace::Trace;
use parity_scale_codec::Encode;

use super::{Chain, ChainError};

/// A committed transaction's trace.
pub struct TracedTransaction {
    /// Its block's height.
    pub height: u64,
    /// Its receipt (as stored, and as the re-execution gave it).
    pub receipt: Receipt,
    /// What it did.
    pub trace: Trace,
}

impl Chain {
    /// Re-executes the committed transaction `hash` with a trace; `None` if no committed
    /// block holds it. Its block's parent state must still be kept (the history window); a
    /// re-execution whose receipt differs from the stored one is an error, never a trace.
    pub fn trace_transaction(&self, hash: &Hash) -> Result<Option<TracedTransaction>, ChainError> {
        let Some((height, stored)) = self.receipt(hash)? else {
            return Ok(None);
        };
        let Some(block) = self.block_by_height(height)? else {
            return Ok(None);
        };
        let state = Arc::new(self.state_at(Some(height.saturating_sub(1)))?);
        let h = &block.header;
        let env = BlockEnv {
            chain_id: self.genesis.chain_id,
            height: h.height,
            timestamp_ms: h.timestamp_ms,
            proposer: h.proposer,
            gas_limit: h.gas_limit,
        };
        let mut overlay = Overlay::new(state);
        let mut gas_used = 0u64;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for stx in &block.transactions {
                let tx_hash = stx.hash();
                let checked = Checked {
                    sender: stx.sender(),
                    tx: &stx.tx,
                    hash: tx_hash,
                    encoded_len: stx.encoded_size(),
                };
                let left = env.gas_limit.saturating_sub(gas_used);
                if tx_hash == *hash {
                    return self
                        .dry_runs
                        .apply_traced(&mut overlay, &env, &checked, left)
                        .map(Some);
                }
                // Committed blocks hold no rejected transaction; a receipt that says
                // otherwise changed nothing and used no gas.
                if let Some((_, r)) = self.receipt(&tx_hash).ok().flatten()
                    && r.status == Status::Rejected
                {
                    continue;
                }
                let r = self.dry_runs.apply(&mut overlay, &env, &checked, left)?;
                gas_used += r.gas_used;
            }
            Ok(None)
        }));
        let traced = match run {
            Ok(r) => r.map_err(ChainError::State)?,
            Err(_) => {
                tracing::error!(tx_hash = %hash, "the engine faulted re-executing a transaction");
                return Err(ChainError::EngineFault);
            }
        };
        let Some((receipt, trace)) = traced else {
            return Ok(None);
        };
        if receipt.encode() != stored.encode() {
            tracing::error!(tx_hash = %hash, height, "re-executing a transaction gave another receipt");
            return Err(ChainError::TraceDiverged(*hash));
        }
        Ok(Some(TracedTransaction {
            height,
            receipt,
            trace,
        }))
    }

    /// A dry run ([`Chain::dry_run`]) with its trace.
    pub fn trace_call(
        &self,
        sender: Address,
        action: Action,
        gas_limit: Option<u64>,
    ) -> Result<(Receipt, Trace), ChainError> {
        self.run_dry(sender, action, gas_limit, true)
    }
}
