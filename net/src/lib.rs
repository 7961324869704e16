//! # aether-net
//!
//! Networking for Aether behind the engine's [`aether_engine::ports::Network`] port:
//! [`LocalNetwork`], the network of a single node, which has no peers; and [`p2p`], the libp2p
//! adapter ([`Libp2pNetwork`]: gossipsub, request-response for direct messages and requests,
//! identify, ping, connection limits, penalties and bans, over TCP with Noise and Yamux, and
//! over QUIC with the `quic` feature, on by default).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod p2p;

pub use p2p::Libp2pNetwork;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aether_engine::ports::{
    Inbound, InboundSink, Network, PeerId, Protocol, RequestFailure, RequestId, Topic,
};

/// The network of a node that runs alone: no peers, so nothing is sent anywhere and
/// [`Network::peers`] is empty. A broadcast reaches every peer there is, which is none; a
/// request is answered at once with [`RequestFailure::NotConnected`], as the port promises an
/// answer to every request.
#[derive(Default)]
pub struct LocalNetwork {
    next_request: AtomicU64,
    sink: Mutex<Option<Arc<dyn InboundSink>>>,
}

impl LocalNetwork {
    /// The network of one.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Network for LocalNetwork {
    fn broadcast(&self, _topic: Topic, _payload: Vec<u8>) {}

    fn send(&self, _peer: &PeerId, _topic: Topic, _payload: Vec<u8>) {}

    fn request(&self, peer: &PeerId, _protocol: Protocol, _payload: Vec<u8>) -> RequestId {
        let id = RequestId(self.next_request.fetch_add(1, Ordering::Relaxed));
        let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink {
            sink.deliver(Inbound::Response {
                from: peer.clone(),
                id,
                result: Err(RequestFailure::NotConnected),
            });
        }
        id
    }

    fn respond(&self, _id: RequestId, _payload: Vec<u8>) {}

    fn peers(&self) -> Vec<PeerId> {
        Vec::new()
    }

    fn set_inbound(&self, sink: Arc<dyn InboundSink>) {
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Mutex<Vec<Inbound>>);

    impl InboundSink for Collect {
        fn deliver(&self, inbound: Inbound) {
            self.0.lock().unwrap().push(inbound);
        }
    }

    #[test]
    fn every_request_gets_an_answer_and_ids_are_unique() {
        let net = LocalNetwork::new();
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        net.set_inbound(sink.clone());
        let peer = PeerId(vec![9]);
        let a = net.request(&peer, Protocol::BlockById, vec![1]);
        let b = net.request(&peer, Protocol::CommittedRange, vec![2]);
        assert_ne!(a, b);
        net.broadcast(Topic::Transactions, vec![3]);
        assert!(net.peers().is_empty());
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(
            got,
            vec![
                Inbound::Response {
                    from: peer.clone(),
                    id: a,
                    result: Err(RequestFailure::NotConnected)
                },
                Inbound::Response {
                    from: peer,
                    id: b,
                    result: Err(RequestFailure::NotConnected)
                },
            ]
        );
    }
}
