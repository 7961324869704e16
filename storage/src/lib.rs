//! # aether-storage
//!
//! Reserved for the ParityDB adapter of the engine's state and block ports
//! ([`aether_engine::ports::StateReader`], [`aether_engine::ports::BlockCommitter`], ...).
//! Nothing is implemented here yet; [`aether_engine::memory`] is the in-memory implementation.
