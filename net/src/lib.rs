//! # aether-net
//!
//! Networking for Aether behind the engine's [`aether_engine::ports::Network`] port. Today:
//! [`LocalNetwork`], the network of a single node, which has no peers. The libp2p adapter
//! (gossip and request-response over QUIC and TCP) comes next behind the same port.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use aether_engine::ports::{Network, PeerId};

/// The network of a node that runs alone: no peers, so nothing is sent anywhere and
/// [`Network::peers`] is empty. A broadcast reaches every peer there is, which is none.
#[derive(Clone, Debug, Default)]
pub struct LocalNetwork;

impl LocalNetwork {
    /// The network of one.
    pub fn new() -> Self {
        Self
    }
}

impl Network for LocalNetwork {
    fn broadcast(&self, _topic: &'static str, _payload: Vec<u8>) {}

    fn send(&self, _peer: &PeerId, _payload: Vec<u8>) {}

    fn peers(&self) -> Vec<PeerId> {
        Vec::new()
    }
}
