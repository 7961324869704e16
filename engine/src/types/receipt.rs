//! Receipts and events: the outcome of one transaction.

use parity_scale_codec::{Decode, Encode};

use super::{Address, Hash};

/// Outcome class of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub enum Status {
    /// Executed; state changes kept.
    Success,
    /// The contract reverted (or a transfer could not be paid); changes rolled back, fee paid.
    Revert,
    /// Ran out of gas; changes rolled back, the whole gas limit paid.
    OutOfGas,
    /// The contract trapped (or broke a host rule); changes rolled back, fee paid.
    Trap,
    /// The code was rejected by validation; fee paid.
    InvalidModule,
    /// The transaction could not be executed at all (bad signature, chain id, nonce, or cannot
    /// pay its fee, or it exceeds the block gas left). Nothing changed, no fee, nonce unchanged.
    Rejected,
}

impl Status {
    /// The name used in JSON output (`success`, `revert`, `out_of_gas`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Revert => "revert",
            Status::OutOfGas => "out_of_gas",
            Status::Trap => "trap",
            Status::InvalidModule => "invalid_module",
            Status::Rejected => "rejected",
        }
    }
}

/// An event emitted by a contract.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Event {
    /// The emitting contract.
    pub contract: Address,
    /// Indexed topics (at most [`crate::vm::MAX_EVENT_TOPICS`]).
    pub topics: Vec<Hash>,
    /// Unindexed payload.
    pub data: Vec<u8>,
}

/// The receipt of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Receipt {
    /// Hash of the transaction.
    pub tx_hash: Hash,
    /// Outcome.
    pub status: Status,
    /// Gas charged (the fee is `gas_used * gas_price`).
    pub gas_used: u64,
    /// Return data (on success) or revert data.
    pub return_data: Vec<u8>,
    /// Events emitted, in order; empty unless the transaction succeeded.
    pub events: Vec<Event>,
    /// Why it failed; `None` on success.
    pub error: Option<String>,
    /// The contract created by an `Instantiate`, or the code hash stored by an `UploadCode`,
    /// as 32 bytes.
    pub created: Option<[u8; 32]>,
}
