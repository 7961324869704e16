//! # aether-consensus
//!
//! Reserved for Aether's consensus adapters: the single-node dev sealer and HotStuff (BLS quorum
//! certificates, RFC 9381 ECVRF), driven as pure state machines behind the engine's ports
//! ([`aether_engine::ports`]). Nothing is implemented here yet.
