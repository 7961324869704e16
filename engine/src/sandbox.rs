//! A single-node, in-memory chain for contract authors and tests: transactions are applied one
//! at a time by a given sender, without signatures, through the real executor.

use std::sync::Arc;

use crate::GasSchedule;
use crate::executor::{Checked, Executor};
use crate::memory::MemoryState;
use crate::ports::StoreError;
use crate::state::Overlay;
use crate::types::{Action, Address, BlockEnv, Hash, Receipt, Status, Transaction};
use crate::vm::Vm;
use crate::vm::trace::Trace;

/// Default gas limit of sandbox transactions.
pub const DEFAULT_GAS: u64 = 10_000_000;

/// An in-memory chain that applies each transaction as its own block.
pub struct Sandbox {
    state: Arc<MemoryState>,
    exec: Executor,
    env: BlockEnv,
    gas_price: u128,
}

impl Sandbox {
    /// A sandbox over `state` with chain id 1, height 1 and gas price 0.
    pub fn new(state: MemoryState) -> Self {
        Self::with_vm(
            state,
            Vm::new(GasSchedule::V1, crate::vm::DEFAULT_CACHE_MODULES),
        )
    }

    /// A sandbox sharing a VM (and its module cache).
    pub fn with_vm(state: MemoryState, vm: Arc<Vm>) -> Self {
        Self {
            state: Arc::new(state),
            exec: Executor::new(vm),
            env: BlockEnv {
                chain_id: 1,
                height: 1,
                timestamp_ms: 1_700_000_000_000,
                proposer: Address([0xEE; 32]),
                gas_limit: u64::MAX,
            },
            gas_price: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// Consumes the sandbox, returning its state.
    pub fn into_state(self) -> MemoryState {
        Arc::try_unwrap(self.state).unwrap_or_else(|s| (*s).clone())
    }

    /// The block environment transactions run in.
    pub fn env(&self) -> &BlockEnv {
        &self.env
    }

    /// The block environment transactions see.
    pub fn env_mut(&mut self) -> &mut BlockEnv {
        &mut self.env
    }

    /// Sets the gas price of later transactions.
    pub fn set_gas_price(&mut self, price: u128) {
        self.gas_price = price;
    }

    /// Credits `amount` to `who`.
    pub fn fund(&mut self, who: Address, amount: u128) {
        let st = Arc::make_mut(&mut self.state);
        let acc = st.accounts.entry(who).or_default();
        acc.balance = acc.balance.saturating_add(amount);
    }

    /// Balance of `who`.
    pub fn balance(&self, who: &Address) -> u128 {
        self.state.accounts.get(who).map_or(0, |a| a.balance)
    }

    /// A storage value of `contract`.
    pub fn storage(&self, contract: &Address, key: &[u8]) -> Option<&Vec<u8>> {
        self.state.storage.get(&(*contract, key.to_vec()))
    }

    /// Applies `action` from `sender` with `gas_limit`, committing its changes.
    pub fn submit(
        &mut self,
        sender: Address,
        action: Action,
        gas_limit: u64,
    ) -> Result<Receipt, StoreError> {
        let (receipt, changes, _) = self.run(sender, action, gas_limit, false)?;
        Arc::make_mut(&mut self.state).apply(&changes);
        Ok(receipt)
    }

    /// As [`Sandbox::submit`], with the transaction's trace (see [`crate::vm::trace`]);
    /// receipt, gas and changes are those an untraced submit gives.
    pub fn submit_traced(
        &mut self,
        sender: Address,
        action: Action,
        gas_limit: u64,
    ) -> Result<(Receipt, Trace), StoreError> {
        let (receipt, changes, trace) = self.run(sender, action, gas_limit, true)?;
        Arc::make_mut(&mut self.state).apply(&changes);
        Ok((receipt, trace))
    }

    /// Runs `action` from `sender` exactly as [`Sandbox::submit`] would, gas included, and
    /// discards its changes.
    pub fn dry_run(
        &self,
        sender: Address,
        action: Action,
        gas_limit: u64,
    ) -> Result<Receipt, StoreError> {
        self.run(sender, action, gas_limit, false)
            .map(|(r, _, _)| r)
    }

    fn run(
        &self,
        sender: Address,
        action: Action,
        gas_limit: u64,
        traced: bool,
    ) -> Result<(Receipt, crate::state::ChangeSet, Trace), StoreError> {
        let nonce = self.state.accounts.get(&sender).map_or(0, |a| a.nonce);
        let tx = Transaction {
            chain_id: self.env.chain_id,
            nonce,
            gas_limit,
            gas_price: self.gas_price,
            action,
        };
        // As if signed: a tagged 33-byte public key and a 64-byte signature.
        let encoded_len = parity_scale_codec::Encode::encoded_size(&tx) + 33 + 64;
        let checked = Checked {
            sender,
            hash: Hash::of(&parity_scale_codec::Encode::encode(&tx)),
            tx: &tx,
            encoded_len,
        };
        let mut overlay = Overlay::new(self.state.clone());
        let (receipt, trace) = if traced {
            self.exec
                .apply_traced(&mut overlay, &self.env, &checked, gas_limit)?
        } else {
            let receipt = self
                .exec
                .apply(&mut overlay, &self.env, &checked, gas_limit)?;
            (receipt, Trace::default())
        };
        Ok((receipt, overlay.changes(), trace))
    }

    /// Uploads code; returns its hash, or the failed receipt.
    pub fn upload(&mut self, sender: Address, code: Vec<u8>) -> Result<Hash, Box<Receipt>> {
        let r = self
            .submit(sender, Action::UploadCode { code }, DEFAULT_GAS)
            .map_err(store_receipt)?;
        match (r.status, r.created) {
            (Status::Success, Some(h)) => Ok(Hash(h)),
            _ => Err(Box::new(r)),
        }
    }

    /// Uploads and instantiates code; returns the contract address, or the failed receipt.
    pub fn deploy(
        &mut self,
        sender: Address,
        code: Vec<u8>,
        input: Vec<u8>,
    ) -> Result<Address, Box<Receipt>> {
        let code_hash = self.upload(sender, code)?;
        let action = Action::Instantiate {
            code_hash,
            salt: Vec::new(),
            value: 0,
            input,
            admin: Some(sender),
        };
        let r = self
            .submit(sender, action, DEFAULT_GAS)
            .map_err(store_receipt)?;
        match (r.status, r.created) {
            (Status::Success, Some(a)) => Ok(Address(a)),
            _ => Err(Box::new(r)),
        }
    }

    /// Calls `method` of `contract`.
    pub fn call(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        input: Vec<u8>,
        value: u128,
        gas_limit: u64,
    ) -> Result<Receipt, StoreError> {
        let action = Action::Call {
            contract,
            method: method.to_string(),
            input,
            value,
        };
        self.submit(sender, action, gas_limit)
    }
}

fn store_receipt(e: StoreError) -> Box<Receipt> {
    Box::new(Receipt {
        tx_hash: Hash::default(),
        status: Status::Rejected,
        gas_used: 0,
        return_data: Vec::new(),
        events: Vec::new(),
        error: Some(e.to_string()),
        created: None,
    })
}
