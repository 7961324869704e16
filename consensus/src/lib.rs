//! # aether-consensus
//!
//! Consensus engines for Aether, each a pure state machine behind the engine's
//! [`aether_engine::ports::Consensus`] port: no clock, no I/O, no threads. The node feeds them
//! ticks, commits and peer messages and carries out what they return.
//!
//! Today: [`DevSealer`], the single-node sealer of dev chains, and the cryptography HotStuff
//! builds on: [`bls`] (validator sets with proofs of possession, signatures aggregated into
//! quorum signatures with a signer bitmap) and [`vrf`] (ECVRF-EDWARDS25519-SHA512-TAI of RFC
//! 9381, for leader election and randomness), [`block_tree`] (pending blocks and the 2-chain
//! commit rule), [`certs`] (votes, timeouts, quorum and timeout
//! certificates, the [`certs::Verifier`] that alone builds their verified forms, and the
//! collectors that turn verified votes and timeouts into certificates), [`leader`] (the leader
//! of each round from an epoch seed that VRF outputs renew), [`pacemaker`] (rounds,
//! timeouts and their backoff), and [`safety`] (the
//! 2-chain voting and timeout rules over verified certificates, with the data a validator must
//! persist before it signs). [`hotstuff`] ties them into the 2-chain protocol behind the same
//! port ([`HotStuff`]), with a [`VerifyCache`] so a certificate seen in many messages is
//! checked once.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod block_tree;
pub mod bls;
mod cache;
pub mod certs;
mod dev;
pub mod hotstuff;
pub mod leader;
pub mod pacemaker;
pub mod proposal;
pub mod safety;
pub mod signer;
pub mod vrf;

pub use cache::VerifyCache;
pub use dev::DevSealer;
pub use hotstuff::HotStuff;
