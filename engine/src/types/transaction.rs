//! Transactions: what an account asks the chain to do, and its signed envelope.
//!
//! The signed payload is `b"aether/tx/v1" ++ SCALE(Transaction)`; the transaction carries the
//! chain id and the sender's nonce, so a signature is valid on one chain, once.

use parity_scale_codec::{Decode, Encode};

use super::{Address, Hash};
use crate::crypto::{self, PublicKey, Signature};

/// Domain separator prepended to the SCALE-encoded transaction before signing.
pub const TX_SIGNING_DOMAIN: &[u8] = b"aether/tx/v1";

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Action {
    /// Move `amount` to `to`. Sending to a contract does not run its code.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount.
        amount: u128,
    },
    /// Validate and store `code`; it becomes addressable by its SHA-256 hash.
    UploadCode {
        /// The WASM module.
        code: Vec<u8>,
    },
    /// Create a contract from uploaded code, at
    /// [`crate::contract_address`]`(sender, code_hash, salt)`, and run its `init` export (if any)
    /// with `input`.
    Instantiate {
        /// Hash of uploaded code.
        code_hash: Hash,
        /// Salt that makes the address unique.
        salt: Vec<u8>,
        /// Value endowed to the new contract.
        value: u128,
        /// Constructor input.
        input: Vec<u8>,
        /// Account that may upgrade the code later; `None` for an immutable contract.
        admin: Option<Address>,
    },
    /// Call `method` (an export of type `[] -> []`) of `contract`.
    Call {
        /// Contract to call.
        contract: Address,
        /// Exported method name.
        method: String,
        /// Call input, read by the contract with `input_read`.
        input: Vec<u8>,
        /// Value transferred to the contract with the call.
        value: u128,
    },
    /// Replace the code of `contract`; the sender must be the contract's admin. If `migrate` is
    /// given, the new code's export of that name runs with `input` in the same transaction,
    /// and the upgrade is undone if it fails.
    UpgradeCode {
        /// Contract to upgrade.
        contract: Address,
        /// Hash of uploaded code to switch to.
        code_hash: Hash,
        /// Optional migration method of the new code.
        migrate: Option<String>,
        /// Input for the migration method.
        input: Vec<u8>,
    },
}

/// The unsigned transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Transaction {
    /// Chain the transaction is for.
    pub chain_id: u64,
    /// The sender's nonce; must equal the account's nonce when executed.
    pub nonce: u64,
    /// Most gas the transaction may use; the sender pays at most `gas_limit * gas_price`.
    pub gas_limit: u64,
    /// Price per unit of gas.
    pub gas_price: u128,
    /// What to do.
    pub action: Action,
}

impl Transaction {
    /// The bytes that are signed.
    pub fn signing_payload(&self) -> Vec<u8> {
        let mut payload = TX_SIGNING_DOMAIN.to_vec();
        self.encode_to(&mut payload);
        payload
    }
}

/// A transaction with its signer and signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The signer's public key; its bytes are the sender's address.
    pub signer: PublicKey,
    /// Signature over [`Transaction::signing_payload`].
    pub signature: Signature,
}

impl SignedTransaction {
    /// The sender's address.
    pub fn sender(&self) -> Address {
        self.signer.address()
    }

    /// The transaction hash: SHA-256 of the whole SCALE-encoded signed transaction.
    pub fn hash(&self) -> Hash {
        Hash::of(&self.encode())
    }

    /// Checks the signature alone (not nonce, balance or chain id).
    pub fn verify_signature(&self) -> bool {
        crypto::verify(&self.signer, &self.tx.signing_payload(), &self.signature)
    }
}

/// A signed transaction with what its bytes give, computed once: its hash and the length of its
/// encoding. The pool keeps transactions in this form and block execution takes it, so a
/// transaction is encoded and hashed once on its way from admission to a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedTransaction {
    signed: SignedTransaction,
    hash: Hash,
    encoded_len: usize,
}

impl SealedTransaction {
    /// Encodes and hashes `signed`.
    pub fn seal(signed: SignedTransaction) -> Self {
        let encoded = signed.encode();
        Self {
            hash: Hash::of(&encoded),
            encoded_len: encoded.len(),
            signed,
        }
    }

    /// The transaction hash (as [`SignedTransaction::hash`]).
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The length of its SCALE encoding, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// The signed transaction.
    pub fn signed(&self) -> &SignedTransaction {
        &self.signed
    }

    /// The signed transaction, unwrapped.
    pub fn into_signed(self) -> SignedTransaction {
        self.signed
    }
}

impl std::ops::Deref for SealedTransaction {
    type Target = SignedTransaction;

    fn deref(&self) -> &SignedTransaction {
        &self.signed
    }
}

impl From<SignedTransaction> for SealedTransaction {
    fn from(signed: SignedTransaction) -> Self {
        Self::seal(signed)
    }
}
