//! # aether-engine
//!
//! The centre of Aether: a deterministic WASM contract engine on wasmi, metered by gas, running
//! against transactional state through a documented host ABI (`docs/host-abi.md`), and the block
//! executor built on it. It owns the core types and the ports that storage, consensus and
//! networking plug into; it depends on none of them.
//!
//! ```
//! use std::sync::Arc;
//! use aether_engine::{Executor, Vm, GasSchedule, memory::MemoryState, types::*, crypto::Keypair};
//!
//! let alice = Keypair::dev("alice", false);
//! let bob = Keypair::dev("bob", true).address();
//! let state = Arc::new(MemoryState::with_balances([(alice.address(), 1_000_000_000)]));
//! let exec = Executor::new(Vm::new(GasSchedule::V1, 64));
//! let env = BlockEnv { chain_id: 7, height: 1, gas_limit: 10_000_000, ..BlockEnv::default() };
//! let tx = alice.sign_tx(Transaction {
//!     chain_id: 7, nonce: 0, gas_limit: 100_000, gas_price: 1,
//!     action: Action::Transfer { to: bob, amount: 500 },
//! });
//! let out = exec.execute_block(state, &env, &[tx]).unwrap();
//! assert_eq!(out.receipts[0].status, Status::Success);
//! assert_eq!(out.changes.accounts[&bob].balance, 500);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod crypto;
pub mod executor;
pub mod gas;
pub mod memory;
pub mod ports;
pub mod sandbox;
pub mod signatures;
pub mod state;
pub mod types;
pub mod vm;

pub use executor::{BlockOutcome, BlockTx, Checked, Executor};
pub use gas::GasSchedule;
pub use signatures::VerifiedSignatures;
pub use types::contract_address;
pub use vm::Vm;
