//! Core types, SCALE-encoded. Their encodings are part of the protocol: fields are only ever
//! appended in a new version, never reordered.

mod account;
mod block;
mod primitives;
mod receipt;
mod transaction;

pub use account::Account;
pub use block::{Block, BlockEnv, BlockHeader, EXECUTION_VERSION, list_root};
pub use primitives::{Address, Hash, ParseIdError};
pub use receipt::{Event, Receipt, Status};
pub use transaction::{
    Action, SealedTransaction, SignedTransaction, TX_SIGNING_DOMAIN, Transaction,
};

/// Address of a contract created by `deployer` from `code_hash` with `salt`:
/// `SHA-256(b"aether/contract" ++ deployer ++ code_hash ++ SCALE(salt))`.
pub fn contract_address(deployer: &Address, code_hash: &Hash, salt: &[u8]) -> Address {
    use parity_scale_codec::Encode;
    let mut buf = b"aether/contract".to_vec();
    buf.extend_from_slice(deployer.as_bytes());
    buf.extend_from_slice(code_hash.as_bytes());
    salt.encode_to(&mut buf);
    Address(crate::crypto::sha256(&buf))
}
