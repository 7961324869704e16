//! # aether-node
//!
//! The node behind the `aether` binary, as a library so that it is tested and benchmarked
//! directly: the transaction pool ([`mempool`]), the chain around the store ([`chain`]), the
//! genesis ([`genesis`]), keys ([`keys`]), the validator's safety record ([`safety_store`]) and
//! HotStuff wiring ([`validator`]), catching up from peers ([`sync`]), the
//! JSON-RPC server ([`rpc`]), metrics
//! ([`metrics`], with the process figures of [`process_stats`]) and the running service ([`service`]) that wires them to the consensus and
//! network ports. The binary (`src/main.rs`) adds the command line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench_workloads;
pub mod chain;
pub mod genesis;
pub mod gossip_admission;
pub mod keys;
pub mod mempool;
pub mod metrics;
pub mod process_stats;
pub mod rpc;
pub mod safety_store;
pub mod service;
pub mod sync;
pub mod trace_view;
pub mod tx_gossip;
pub mod validator;
pub mod validator_key;

/// Helpers shared by the crate's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use aether_engine::crypto::Keypair;
    use aether_engine::types::{Action, Address, SignedTransaction, Transaction};

    /// A transfer of 1 to `0x0202…` from dev account `who`, signed for `chain_id`.
    pub fn signed_transfer(who: &str, chain_id: u64, nonce: u64) -> SignedTransaction {
        Keypair::dev(who, false).sign_tx(Transaction {
            chain_id,
            nonce,
            gas_limit: 30_000,
            gas_price: 1,
            action: Action::Transfer {
                to: Address([2; 32]),
                amount: 1,
            },
        })
    }
}
