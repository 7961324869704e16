//! The network port: best-effort gossip by topic, direct messages, request/response for
//! retrieval and sync, and an inbound side through which the adapter hands the node what peers
//! send. Delivery is never guaranteed: protocols must tolerate loss, delay, duplication and
//! hostile peers, and every inbound payload is untrusted bytes.

use std::sync::Arc;

/// An opaque network peer identity (the libp2p `PeerId` bytes in `aether-net`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub Vec<u8>);

/// What a gossiped or direct message is about. Each topic has its own size limit and
/// validation in the adapter, and its own handler in the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Signed transactions, gossiped to every validator's pool.
    Transactions,
    /// Block proposals (consensus), gossiped.
    Proposals,
    /// Votes (consensus), sent directly to the next leader.
    Votes,
    /// Timeouts (consensus), gossiped.
    Timeouts,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 4] = [
        Topic::Transactions,
        Topic::Proposals,
        Topic::Votes,
        Topic::Timeouts,
    ];

    /// The topic's wire name (`aether/<name>/<version>`).
    pub fn name(self) -> &'static str {
        match self {
            // 2: a message is a batch of transactions (SCALE `Vec<SignedTransaction>`).
            Topic::Transactions => "aether/transactions/2",
            Topic::Proposals => "aether/proposals/1",
            Topic::Votes => "aether/votes/1",
            Topic::Timeouts => "aether/timeouts/1",
        }
    }
}

/// A request/response protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// One block (pending or committed) by id, for a validator missing a proposal's parent.
    BlockById,
    /// A range of committed blocks with their commit proofs, for a node catching up.
    CommittedRange,
}

impl Protocol {
    /// The protocol's wire name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::BlockById => "/aether/block-by-id/2",
            Protocol::CommittedRange => "/aether/committed-range/2",
        }
    }
}

/// Identifies one outbound request (unique per adapter) or one inbound request to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestFailure {
    /// The peer is not connected (or never was).
    #[error("peer not connected")]
    NotConnected,
    /// The peer did not answer in time.
    #[error("request timed out")]
    Timeout,
    /// The peer refused or could not serve the request.
    #[error("peer refused: {0}")]
    Refused(String),
}

/// What the adapter hands the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A message gossiped on a topic, or sent directly.
    Message {
        /// The peer it came from (the one that relayed it, for gossip).
        from: PeerId,
        /// Its topic.
        topic: Topic,
        /// The message, undecoded.
        payload: Vec<u8>,
    },
    /// A peer asks something; answer with [`Network::respond`] and this `id`.
    Request {
        /// The asking peer.
        from: PeerId,
        /// The request to answer.
        id: RequestId,
        /// Its protocol.
        protocol: Protocol,
        /// The request, undecoded.
        payload: Vec<u8>,
    },
    /// The answer to a request this node made with [`Network::request`].
    Response {
        /// The peer asked.
        from: PeerId,
        /// The id [`Network::request`] returned.
        id: RequestId,
        /// The answer, undecoded, or why there is none.
        result: Result<Vec<u8>, RequestFailure>,
    },
}

/// Where an adapter delivers what arrives. Called from the adapter's own threads or tasks:
/// implementations hand the message on (to a channel, say) and return at once.
pub trait InboundSink: Send + Sync {
    /// One inbound message, request or response.
    fn deliver(&self, inbound: Inbound);
}

/// What consensus and the node need from the network.
pub trait Network: Send + Sync {
    /// Gossips `payload` on `topic` to all interested peers.
    fn broadcast(&self, topic: Topic, payload: Vec<u8>);
    /// Sends `payload` on `topic` to one peer.
    fn send(&self, peer: &PeerId, topic: Topic, payload: Vec<u8>);
    /// Asks `peer` over `protocol`; the answer (or its failure) comes back to the sink as an
    /// [`Inbound::Response`] with the returned id, exactly once.
    fn request(&self, peer: &PeerId, protocol: Protocol, payload: Vec<u8>) -> RequestId;
    /// Answers the inbound request `id` (once; a second answer or an unknown id is ignored).
    fn respond(&self, id: RequestId, payload: Vec<u8>);
    /// Currently connected peers.
    fn peers(&self) -> Vec<PeerId>;
    /// Sets where inbound messages, requests and responses go (replacing any earlier sink).
    fn set_inbound(&self, sink: Arc<dyn InboundSink>);
}
