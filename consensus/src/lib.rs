//! # aether-consensus
//!
//! Consensus engines for Aether, each a pure state machine behind the engine's
//! [`aether_engine::ports::Consensus`] port: no clock, no I/O, no threads. The node feeds them
//! ticks, commits and peer messages and carries out what they return.
//!
//! Today: [`DevSealer`], the single-node sealer of dev chains. HotStuff (BLS quorum
//! certificates, RFC 9381 ECVRF leader election) comes next behind the same port.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dev;

pub use dev::DevSealer;
