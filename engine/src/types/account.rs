//! Account records as kept in state.

use parity_scale_codec::{Decode, Encode};

use super::{Address, Hash};

/// An account: a key account (no code) or a contract (with a code hash).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Account {
    /// Spendable balance in the smallest unit.
    pub balance: u128,
    /// Number of transactions this account has had included; the next one must carry it.
    pub nonce: u64,
    /// Hash of the contract code, for contracts.
    pub code_hash: Option<Hash>,
    /// For contracts: the account allowed to replace the code with an `UpgradeCode` transaction.
    /// `None` makes the contract immutable.
    pub admin: Option<Address>,
}

impl Account {
    /// A key account holding `balance`.
    pub fn with_balance(balance: u128) -> Self {
        Self {
            balance,
            ..Self::default()
        }
    }

    /// Whether this account holds code.
    pub fn is_contract(&self) -> bool {
        self.code_hash.is_some()
    }
}
