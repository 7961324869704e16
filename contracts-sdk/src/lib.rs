//! # aether-contracts-sdk
//!
//! Write Aether smart contracts in Rust. The crate wraps the host ABI (`docs/host-abi.md`) in
//! typed APIs and provides the [`contract`] macro that turns a module into a contract:
//!
//! - [`env`](mod@env): caller, own address, value, block, balances and transfers, input and exit;
//! - [`storage`]: raw storage plus [`Lazy`] single values and [`Mapping`]s keyed by any
//!   SCALE-encodable key, read only when accessed;
//! - [`collections`]: [`StorageVec`] and [`IterableMapping`] (length, iteration in insertion
//!   order);
//! - [`access`]: [`access::Ownable`] (two-step ownership transfer), [`access::Roles`], and
//!   [`access::SignedMessages`] (authorisation by a signed message, with a nonce per signer);
//! - [`event`]: typed events with indexed topics;
//! - [`call`]: typed calls to other contracts and instantiation;
//! - [`crypto`]: SHA-256, Keccak-256, ed25519 and sr25519 verification.
//! - [`Buf`]: the byte buffer the SDK encodes into (no `Vec`, no panicking path: see the
//!   README's section on size).
//!
//! On `wasm32` the crate also installs the global allocator (a bump allocator: every call runs
//! in a fresh instance, so nothing needs freeing) and a panic handler that reverts with the
//! panic message. See `contracts-sdk/README.md` for the tutorial and the revert-data format.

#![cfg_attr(target_arch = "wasm32", no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod access;
pub mod buf;
pub mod call;
pub mod collections;
pub mod crypto;
pub mod env;
pub mod event;
pub mod storage;
pub mod sys;
mod types;

#[cfg(target_arch = "wasm32")]
mod runtime;

#[doc(hidden)]
pub mod __private;

pub use aether_contracts_macros::{contract, contract_ref};
pub use buf::Buf;
pub use collections::{IterableMapping, StorageVec};
pub use event::Event;
pub use parity_scale_codec as codec;
pub use storage::{Lazy, Mapping};
pub use types::{Address, Hash};

/// Everything a contract module usually needs.
pub mod prelude {
    pub use crate::access::{AccessError, Ownable, Roles, SignedMessages};
    pub use crate::call::{Call, CallError};
    pub use crate::collections::{IterableMapping, StorageVec};
    pub use crate::env;
    pub use crate::event::{Event, emit};
    pub use crate::storage::{Lazy, Mapping};
    pub use crate::types::{Address, Hash};
    pub use alloc::{string::String, vec, vec::Vec};
    pub use parity_scale_codec::{Decode, Encode};
}

/// Revert-data tags of the SDK (the first byte of revert data).
pub mod revert_tag {
    /// A contract error: the SCALE-encoded error value follows.
    pub const ERROR: u8 = 0;
    /// A panic or an SDK check (undecodable input, value sent to a method that is not payable):
    /// a UTF-8 message follows.
    pub const PANIC: u8 = 1;
}
