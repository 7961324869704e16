//! # aether-node
//!
//! The parts of the `aether` binary that are more than argument handling, as a library so that
//! they are tested and benchmarked directly. Today: the transaction pool ([`mempool`]). The
//! binary (`src/main.rs`) adds the contract sandbox (`aether exec`) and contract tooling.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod mempool;
