//! The block executor: applies ordered signed transactions to a state snapshot and returns
//! receipts and the change set. The same block on the same state always gives byte-identical
//! receipts and change set.
//!
//! Per transaction: signature (checked for the whole block up front, in parallel), chain id,
//! nonce, block gas left, intrinsic gas, and the ability to pay `gas_limit * gas_price`. A
//! transaction failing these is `Rejected` and changes nothing. Otherwise the nonce is bumped and
//! the fee charged whatever happens next; the action runs inside a checkpoint that a failure
//! reverts.

use std::sync::Arc;

use parity_scale_codec::Encode;

use crate::crypto;
use crate::gas::mul;
use crate::ports::{StateReader, StoreError};
use crate::signatures::VerifiedSignatures;
use crate::state::{ChangeSet, Overlay};
use crate::types::{
    Account, Action, Address, BlockEnv, Hash, Receipt, SealedTransaction, SignedTransaction,
    Status, Transaction, contract_address,
};
use crate::vm::trace::{Recorder, Trace};
use crate::vm::{self, CompileError, Entry, FrameRequest, FrameResult, LoadError, TxContext, Vm};

/// The outcome of executing a block's transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// All state writes.
    pub changes: ChangeSet,
    /// Total gas charged.
    pub gas_used: u64,
}

/// Executes transactions with a shared [`Vm`].
#[derive(Clone)]
pub struct Executor {
    vm: Arc<Vm>,
    verified: Option<Arc<VerifiedSignatures>>,
}

/// A transaction whose sender has been established (by signature, or by the caller of a dry run).
pub struct Checked<'a> {
    /// The sender.
    pub sender: Address,
    /// The transaction.
    pub tx: &'a Transaction,
    /// Its hash (goes into the receipt).
    pub hash: Hash,
    /// Length of its signed encoding (intrinsic gas is charged per byte).
    pub encoded_len: usize,
}

impl Executor {
    /// An executor over `vm`.
    pub fn new(vm: Arc<Vm>) -> Self {
        Self { vm, verified: None }
    }

    /// An executor over `vm` that skips the signature check of transactions whose hash is in
    /// `verified` (checked on admission to the pool, or in an earlier block), and records there
    /// the ones it checks itself. Outcomes are the same with or without it.
    pub fn with_verified_signatures(vm: Arc<Vm>, verified: Arc<VerifiedSignatures>) -> Self {
        Self {
            vm,
            verified: Some(verified),
        }
    }

    /// The VM.
    pub fn vm(&self) -> &Arc<Vm> {
        &self.vm
    }

    /// Executes `txs` in order on top of `state`.
    ///
    /// Signatures are checked (and transactions hashed) in chunks on the rayon pool while this
    /// thread executes the chunks already checked, in order.
    pub fn execute_block(
        &self,
        state: Arc<dyn StateReader>,
        env: &BlockEnv,
        txs: &[SignedTransaction],
    ) -> Result<BlockOutcome, StoreError> {
        self.execute_sealed(state, env, txs)
    }

    /// As [`Executor::execute_block`], for transactions already hashed (the pool's
    /// [`SealedTransaction`]s, owned or shared).
    pub fn execute_sealed<T: BlockTx>(
        &self,
        state: Arc<dyn StateReader>,
        env: &BlockEnv,
        txs: &[T],
    ) -> Result<BlockOutcome, StoreError> {
        match self.execute(state, env, txs, false)? {
            Ok(outcome) => Ok(outcome),
            // Not asked to stop: every transaction ran.
            Err((_, receipt)) => Err(StoreError::Backend(format!(
                "block execution stopped at {} unasked",
                receipt.tx_hash
            ))),
        }
    }

    /// Executes a block to verify it: as [`Executor::execute_sealed`], but a block with a
    /// transaction execution rejects (bad signature, nonce, chain id, fee, gas left) is invalid,
    /// so execution stops at the first one, whose index and receipt are returned, and the
    /// signature checks of later chunks are skipped: a block of bad signatures costs its
    /// verifier one chunk of checks, not the whole block.
    pub fn verify_sealed<T: BlockTx>(
        &self,
        state: Arc<dyn StateReader>,
        env: &BlockEnv,
        txs: &[T],
    ) -> Result<Result<BlockOutcome, (usize, Receipt)>, StoreError> {
        self.execute(state, env, txs, true)
    }

    fn execute<T: BlockTx>(
        &self,
        state: Arc<dyn StateReader>,
        env: &BlockEnv,
        txs: &[T],
        stop_at_rejected: bool,
    ) -> Result<Result<BlockOutcome, (usize, Receipt)>, StoreError> {
        let mut run = BlockRun::new(state, txs.len(), stop_at_rejected);
        if rayon::current_thread_index().is_some() {
            // Called from inside the pool: waiting here for pool work could deadlock.
            for (i, chunk) in txs.chunks(PIPELINE_CHUNK).enumerate() {
                let prepared = prepare(chunk, self.verified.as_deref());
                if let Some(stop) = run.execute(self, env, i * PIPELINE_CHUNK, chunk, prepared)? {
                    return Ok(Err(stop));
                }
            }
            return Ok(Ok(run.finish()));
        }
        let (send, recv) = std::sync::mpsc::channel::<(usize, Vec<Prepared>)>();
        let verified = self.verified.as_deref();
        let cancelled = std::sync::atomic::AtomicBool::new(false);
        let cancelled = &cancelled;
        let stopped = std::thread::scope(|scope| {
            scope.spawn(move || {
                use rayon::prelude::*;
                txs.par_chunks(PIPELINE_CHUNK).enumerate().for_each_with(
                    send,
                    |send, (i, chunk)| {
                        if cancelled.load(std::sync::atomic::Ordering::Relaxed) {
                            return;
                        }
                        // The receiver only hangs up after an error or a stop; nothing is lost
                        // then.
                        let _ = send.send((i, prepare(chunk, verified)));
                    },
                );
            });
            let chunks = txs.len().div_ceil(PIPELINE_CHUNK);
            let mut ready = std::collections::BTreeMap::new();
            let mut next = 0;
            let stop_pipeline = || cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
            while next < chunks {
                let Ok((i, prepared)) = recv.recv() else {
                    return Err(StoreError::Backend(
                        "signature verification stopped early".into(),
                    ));
                };
                ready.insert(i, prepared);
                while let Some(prepared) = ready.remove(&next) {
                    let start = next * PIPELINE_CHUNK;
                    let chunk = &txs[start..(start + PIPELINE_CHUNK).min(txs.len())];
                    let outcome = run.execute(self, env, start, chunk, prepared);
                    if !matches!(outcome, Ok(None)) {
                        stop_pipeline();
                    }
                    if let Some(stop) = outcome? {
                        return Ok(Some(stop));
                    }
                    next += 1;
                }
            }
            Ok(None)
        })?;
        Ok(match stopped {
            Some(stop) => Err(stop),
            None => Ok(run.finish()),
        })
    }

    /// Applies one transaction whose sender is established. Used by block execution, dry runs
    /// and the sandbox. Only a backend failure is an error.
    pub fn apply(
        &self,
        overlay: &mut Overlay,
        env: &BlockEnv,
        c: &Checked<'_>,
        block_gas_left: u64,
    ) -> Result<Receipt, StoreError> {
        self.apply_with(overlay, env, c, block_gas_left, &mut None)
    }

    /// As [`Executor::apply`], recording the transaction's [`Trace`]: its frames and their
    /// host calls. The receipt, gas and changes are those [`Executor::apply`] gives.
    pub fn apply_traced(
        &self,
        overlay: &mut Overlay,
        env: &BlockEnv,
        c: &Checked<'_>,
        block_gas_left: u64,
    ) -> Result<(Receipt, Trace), StoreError> {
        let mut recorder = Some(Box::default());
        let receipt = self.apply_with(overlay, env, c, block_gas_left, &mut recorder)?;
        let trace = recorder.map(|r| r.finish()).unwrap_or_default();
        Ok((receipt, trace))
    }

    fn apply_with(
        &self,
        overlay: &mut Overlay,
        env: &BlockEnv,
        c: &Checked<'_>,
        block_gas_left: u64,
        trace: &mut Option<Box<Recorder>>,
    ) -> Result<Receipt, StoreError> {
        let s = *self.vm.schedule();
        let tx = c.tx;
        if tx.chain_id != env.chain_id {
            return Ok(rejected(
                c.hash,
                format!(
                    "chain id {} is not this chain's ({})",
                    tx.chain_id, env.chain_id
                ),
            ));
        }
        let mut sender = overlay.account_or_default(&c.sender)?;
        if tx.nonce != sender.nonce {
            return Ok(rejected(
                c.hash,
                format!(
                    "nonce {} does not match account nonce {}",
                    tx.nonce, sender.nonce
                ),
            ));
        }
        if tx.gas_limit > block_gas_left {
            return Ok(rejected(
                c.hash,
                format!(
                    "gas limit {} exceeds the block gas left ({block_gas_left})",
                    tx.gas_limit
                ),
            ));
        }
        let intrinsic = s.intrinsic(c.encoded_len);
        if tx.gas_limit < intrinsic {
            return Ok(rejected(
                c.hash,
                format!(
                    "gas limit {} is below the intrinsic cost {intrinsic}",
                    tx.gas_limit
                ),
            ));
        }
        let Some(max_fee) = u128::from(tx.gas_limit).checked_mul(tx.gas_price) else {
            return Ok(rejected(c.hash, "gas_limit * gas_price overflows".into()));
        };
        if sender.balance < max_fee {
            return Ok(rejected(
                c.hash,
                format!(
                    "balance {} cannot pay the maximum fee {max_fee}",
                    sender.balance
                ),
            ));
        }
        sender.balance -= max_fee;
        sender.nonce += 1;
        overlay.set_account(c.sender, sender);

        let cp = overlay.checkpoint();
        let avail = tx.gas_limit - intrinsic;
        let (mut receipt, frame_gas) = self.run_action(overlay, env, c, avail, trace)?;
        if receipt.status != Status::Success {
            overlay.revert_to(cp);
        }
        let gas_used = if receipt.status == Status::OutOfGas {
            tx.gas_limit
        } else {
            intrinsic.saturating_add(frame_gas).min(tx.gas_limit)
        };
        receipt.gas_used = gas_used;
        receipt.events = overlay.take_events();
        // Refund what was not used; the proposer earns the fee.
        let refund = u128::from(tx.gas_limit - gas_used) * tx.gas_price;
        let fee = u128::from(gas_used) * tx.gas_price;
        let mut sender = overlay.account_or_default(&c.sender)?;
        sender.balance = sender.balance.saturating_add(refund);
        overlay.set_account(c.sender, sender);
        if fee > 0 {
            let mut proposer = overlay.account_or_default(&env.proposer)?;
            proposer.balance = proposer.balance.saturating_add(fee);
            overlay.set_account(env.proposer, proposer);
        }
        overlay.seal();
        Ok(receipt)
    }

    fn run_action(
        &self,
        overlay: &mut Overlay,
        env: &BlockEnv,
        c: &Checked<'_>,
        avail: u64,
        trace: &mut Option<Box<Recorder>>,
    ) -> Result<(Receipt, u64), StoreError> {
        let s = *self.vm.schedule();
        let done = |status, data: Vec<u8>, error: Option<String>, created| Receipt {
            tx_hash: c.hash,
            status,
            gas_used: 0,
            return_data: data,
            events: Vec::new(),
            error,
            created,
        };
        let fail = |status, msg: String| done(status, Vec::new(), Some(msg), None);
        match &c.tx.action {
            Action::Transfer { to, amount } => {
                if s.transfer > avail {
                    return Ok((fail(Status::OutOfGas, "out of gas".into()), avail));
                }
                if overlay.transfer(&c.sender, to, *amount)? {
                    Ok((done(Status::Success, Vec::new(), None, None), s.transfer))
                } else {
                    Ok((
                        fail(
                            Status::Revert,
                            format!("insufficient balance to transfer {amount}"),
                        ),
                        s.transfer,
                    ))
                }
            }
            Action::UploadCode { code } => {
                let cost = s
                    .upload_base
                    .saturating_add(mul(code.len() as u64, s.upload_per_byte));
                if cost > avail {
                    return Ok((
                        fail(Status::OutOfGas, "out of gas uploading code".into()),
                        avail,
                    ));
                }
                let hash = Hash::of(code);
                match self.vm.compile_and_cache(hash, code) {
                    Ok(_) => {
                        overlay.put_code(hash, Arc::from(code.as_slice()));
                        Ok((done(Status::Success, Vec::new(), None, Some(hash.0)), cost))
                    }
                    Err(CompileError::Invalid(e)) => {
                        Ok((fail(Status::InvalidModule, e.to_string()), cost))
                    }
                    Err(e @ CompileError::Engine(_)) => Err(StoreError::Backend(e.to_string())),
                }
            }
            Action::Instantiate {
                code_hash,
                salt,
                value,
                input,
                admin,
            } => {
                if salt.len() > vm::MAX_SALT {
                    return Ok((
                        fail(
                            Status::Revert,
                            format!("salt longer than {} bytes", vm::MAX_SALT),
                        ),
                        0,
                    ));
                }
                let address = contract_address(&c.sender, code_hash, salt);
                let existing = overlay.account(&address)?;
                if existing.as_ref().is_some_and(Account::is_contract) {
                    return Ok((
                        fail(Status::Revert, format!("contract {address} already exists")),
                        0,
                    ));
                }
                let compiled = match self.load(overlay, code_hash)? {
                    Ok(c) => c,
                    Err(r) => return Ok((fail(r.0, r.1), 0)),
                };
                let mut account = existing.unwrap_or_default();
                account.code_hash = Some(*code_hash);
                account.admin = *admin;
                overlay.set_account(address, account);
                let req = FrameRequest {
                    contract: address,
                    caller: c.sender,
                    value: *value,
                    input: input.clone(),
                    entry: Entry::Constructor,
                    gas_limit: avail,
                    compiled,
                };
                let r = self.frame(overlay, env, req, trace)?;
                Ok(frame_receipt(r, c.hash, Some(address.0)))
            }
            Action::Call {
                contract,
                method,
                input,
                value,
            } => {
                let compiled = match self.contract_code(overlay, contract, method)? {
                    Ok(c) => c,
                    Err(r) => return Ok((fail(r.0, r.1), 0)),
                };
                let req = FrameRequest {
                    contract: *contract,
                    caller: c.sender,
                    value: *value,
                    input: input.clone(),
                    entry: Entry::Method(method.clone()),
                    gas_limit: avail,
                    compiled,
                };
                let r = self.frame(overlay, env, req, trace)?;
                Ok(frame_receipt(r, c.hash, None))
            }
            Action::UpgradeCode {
                contract,
                code_hash,
                migrate,
                input,
            } => {
                let Some(mut account) = overlay.account(contract)?.filter(Account::is_contract)
                else {
                    return Ok((
                        fail(Status::Revert, format!("{contract} is not a contract")),
                        0,
                    ));
                };
                if account.admin != Some(c.sender) {
                    return Ok((
                        fail(
                            Status::Revert,
                            format!("{} is not the admin of {contract}", c.sender),
                        ),
                        0,
                    ));
                }
                let compiled = match self.load(overlay, code_hash)? {
                    Ok(c) => c,
                    Err(r) => return Ok((fail(r.0, r.1), 0)),
                };
                account.code_hash = Some(*code_hash);
                overlay.set_account(*contract, account);
                let Some(method) = migrate else {
                    return Ok((done(Status::Success, Vec::new(), None, None), 0));
                };
                if !compiled.info.methods.contains(method) {
                    return Ok((
                        fail(Status::Trap, format!("new code has no method `{method}`")),
                        0,
                    ));
                }
                let req = FrameRequest {
                    contract: *contract,
                    caller: c.sender,
                    value: 0,
                    input: input.clone(),
                    entry: Entry::Method(method.clone()),
                    gas_limit: avail,
                    compiled,
                };
                let r = self.frame(overlay, env, req, trace)?;
                Ok(frame_receipt(r, c.hash, None))
            }
        }
    }

    /// Loads code by hash, mapping failures to a receipt status.
    fn load(
        &self,
        overlay: &Overlay,
        code_hash: &Hash,
    ) -> Result<Result<Arc<vm::Compiled>, (Status, String)>, StoreError> {
        match self.vm.load(code_hash, overlay) {
            Ok(c) => Ok(Ok(c)),
            Err(LoadError::Store(e)) => Err(e),
            Err(LoadError::Missing(h)) => {
                Ok(Err((Status::Revert, format!("code {h} is not uploaded"))))
            }
            Err(LoadError::Compile(CompileError::Invalid(e))) => {
                Ok(Err((Status::InvalidModule, e.to_string())))
            }
            // This node's engine failed, not the code: the block cannot be executed here.
            Err(LoadError::Compile(e @ CompileError::Engine(_))) => {
                Err(StoreError::Backend(e.to_string()))
            }
        }
    }

    /// The compiled code of `contract`, checking that `method` may be called.
    fn contract_code(
        &self,
        overlay: &Overlay,
        contract: &Address,
        method: &str,
    ) -> Result<Result<Arc<vm::Compiled>, (Status, String)>, StoreError> {
        let Some(code_hash) = overlay.account(contract)?.and_then(|a| a.code_hash) else {
            return Ok(Err((
                Status::Revert,
                format!("{contract} is not a contract"),
            )));
        };
        let compiled = match self.load(overlay, &code_hash)? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if !compiled.info.methods.contains(method) {
            return Ok(Err((
                Status::Trap,
                format!("contract has no callable method `{method}`"),
            )));
        }
        if method.starts_with(vm::abi::MIGRATION_PREFIX) {
            return Ok(Err((
                Status::Trap,
                format!("`{method}` is a migration: it runs only in an upgrade of the contract"),
            )));
        }
        Ok(Ok(compiled))
    }

    fn frame(
        &self,
        overlay: &mut Overlay,
        env: &BlockEnv,
        req: FrameRequest,
        trace: &mut Option<Box<Recorder>>,
    ) -> Result<FrameResult, StoreError> {
        let backend = overlay.backend().clone();
        let mut tx = TxContext::new(
            std::mem::replace(overlay, Overlay::new(backend)),
            *env,
            self.vm.clone(),
        );
        tx.trace = trace.take();
        // A frame always gives the context back; a hollow one comes with an error, and the
        // caller then drops this overlay with the block.
        let (mut tx, result) = vm::run_frame(tx, req);
        *trace = tx.trace.take();
        *overlay = tx.overlay;
        result
    }
}

/// Transactions per unit of pipelined verification.
const PIPELINE_CHUNK: usize = 256;

/// A transaction's signature verdict, hash and signed length.
struct Prepared {
    signature_ok: bool,
    hash: Hash,
    encoded_len: usize,
}

/// A transaction as block execution takes it: signed, with its hash and encoded length (given,
/// or computed here).
pub trait BlockTx: Sync {
    /// The signed transaction.
    fn signed(&self) -> &SignedTransaction;
    /// Its hash and the length of its encoding.
    fn hash_and_len(&self) -> (Hash, usize);
}

impl BlockTx for SignedTransaction {
    fn signed(&self) -> &SignedTransaction {
        self
    }
    fn hash_and_len(&self) -> (Hash, usize) {
        let encoded = self.encode();
        (Hash::of(&encoded), encoded.len())
    }
}

impl BlockTx for SealedTransaction {
    fn signed(&self) -> &SignedTransaction {
        SealedTransaction::signed(self)
    }
    fn hash_and_len(&self) -> (Hash, usize) {
        (self.hash(), self.encoded_len())
    }
}

impl BlockTx for Arc<SealedTransaction> {
    fn signed(&self) -> &SignedTransaction {
        SealedTransaction::signed(self)
    }
    fn hash_and_len(&self) -> (Hash, usize) {
        (self.hash(), self.encoded_len())
    }
}

fn prepare<T: BlockTx>(chunk: &[T], verified: Option<&VerifiedSignatures>) -> Vec<Prepared> {
    let mut out: Vec<Prepared> = chunk
        .iter()
        .map(|t| {
            let (hash, encoded_len) = t.hash_and_len();
            Prepared {
                signature_ok: verified.is_some_and(|v| v.contains(&hash)),
                hash,
                encoded_len,
            }
        })
        .collect();
    let unchecked: Vec<usize> = (0..out.len()).filter(|&i| !out[i].signature_ok).collect();
    let items: Vec<_> = unchecked
        .iter()
        .map(|&i| {
            let t = chunk[i].signed();
            (t.signer, t.tx.signing_payload(), t.signature)
        })
        .collect();
    for (i, ok) in unchecked
        .into_iter()
        .zip(crypto::verify_many_sequential(&items))
    {
        out[i].signature_ok = ok;
        if ok && let Some(v) = verified {
            v.insert(out[i].hash);
        }
    }
    out
}

/// The state of a block's execution between chunks.
struct BlockRun {
    overlay: Overlay,
    receipts: Vec<Receipt>,
    gas_used: u64,
    stop_at_rejected: bool,
}

impl BlockRun {
    fn new(state: Arc<dyn StateReader>, n: usize, stop_at_rejected: bool) -> Self {
        Self {
            overlay: Overlay::new(state),
            receipts: Vec::with_capacity(n),
            gas_used: 0,
            stop_at_rejected,
        }
    }

    /// Executes the transactions of one prepared chunk, which starts at index `start` of the
    /// block. Answers the first rejected transaction (its index and receipt) when asked to
    /// stop there.
    fn execute<T: BlockTx>(
        &mut self,
        exec: &Executor,
        env: &BlockEnv,
        start: usize,
        txs: &[T],
        prepared: Vec<Prepared>,
    ) -> Result<Option<(usize, Receipt)>, StoreError> {
        for (offset, (stx, p)) in txs.iter().zip(prepared).enumerate() {
            let stx = stx.signed();
            let checked = Checked {
                sender: stx.sender(),
                tx: &stx.tx,
                hash: p.hash,
                encoded_len: p.encoded_len,
            };
            let receipt = if p.signature_ok {
                let left = env.gas_limit.saturating_sub(self.gas_used);
                exec.apply(&mut self.overlay, env, &checked, left)?
            } else {
                rejected(checked.hash, "invalid signature".into())
            };
            if self.stop_at_rejected && receipt.status == Status::Rejected {
                return Ok(Some((start + offset, receipt)));
            }
            self.gas_used += receipt.gas_used;
            self.receipts.push(receipt);
        }
        Ok(None)
    }

    fn finish(self) -> BlockOutcome {
        BlockOutcome {
            changes: self.overlay.changes(),
            receipts: self.receipts,
            gas_used: self.gas_used,
        }
    }
}

fn frame_receipt(r: FrameResult, tx_hash: Hash, created: Option<[u8; 32]>) -> (Receipt, u64) {
    let ok = r.status == Status::Success;
    (
        Receipt {
            tx_hash,
            status: r.status,
            gas_used: 0,
            return_data: r.data,
            events: Vec::new(),
            error: r.error,
            created: if ok { created } else { None },
        },
        r.gas_used,
    )
}

fn rejected(tx_hash: Hash, error: String) -> Receipt {
    Receipt {
        tx_hash,
        status: Status::Rejected,
        gas_used: 0,
        return_data: Vec::new(),
        events: Vec::new(),
        error: Some(error),
        created: None,
    }
}
