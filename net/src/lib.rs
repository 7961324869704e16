//! # aether-net
//!
//! Reserved for the libp2p adapter of the engine's network port
//! ([`aether_engine::ports::Network`]). Nothing is implemented here yet.
