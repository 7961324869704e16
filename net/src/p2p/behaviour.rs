//! The libp2p behaviours a node runs, and building its swarm: TCP with Noise and Yamux,
//! identify, ping, gossipsub for the gossiped topics (each message validated before it is
//! forwarded), request-response for direct messages and for the two request protocols,
//! Kademlia for finding the chain's other nodes, connection limits and a block list for
//! penalised peers.

use std::time::Duration;

use aether_engine::ports::{Protocol, Topic};
use libp2p::request_response::{self as rr, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{
    StreamProtocol, Swarm, SwarmBuilder, allow_block_list, connection_limits, gossipsub, identify,
    identity::Keypair, kad, noise, ping, tcp, yamux,
};
use sha2::{Digest, Sha256};

use super::Limits;
use super::codec::BytesCodec;

/// The protocol of direct messages: one topic tag byte, then the payload; acknowledged empty.
pub const DIRECT: StreamProtocol = StreamProtocol::new("/aether/direct/2");

/// The behaviours, composed.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Peers refused (penalised).
    pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// Connection limits.
    pub limits: connection_limits::Behaviour,
    /// Who the peer is, its addresses, its chain.
    pub identify: identify::Behaviour,
    /// Liveness and latency.
    pub ping: ping::Behaviour,
    /// Transactions, proposals, timeouts.
    pub gossip: gossipsub::Behaviour,
    /// Direct messages (votes, block retrieval and sync replies of consensus).
    pub direct: rr::Behaviour<BytesCodec>,
    /// One block by id.
    pub block_by_id: rr::Behaviour<BytesCodec>,
    /// A range of committed blocks.
    pub committed_range: rr::Behaviour<BytesCodec>,
    /// Finding peers: a Kademlia DHT of this chain's nodes only (its protocol name carries the
    /// chain's), used for its routing table; it stores no records.
    /// Off when the node dials only its bootnodes.
    pub kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
}

/// Kademlia's protocol name for nodes that identify as `protocol_version`.
pub fn kad_protocol(protocol_version: &str) -> Result<StreamProtocol, BuildError> {
    StreamProtocol::try_from_owned(format!("{protocol_version}/kad/1"))
        .map_err(|e| BuildError(format!("kademlia protocol of `{protocol_version}`: {e}")))
}

/// The gossiped topics.
pub const GOSSIPED: [Topic; 3] = [Topic::Transactions, Topic::Proposals, Topic::Timeouts];

/// The gossipsub topic of `topic`.
pub fn gossip_topic(topic: Topic) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(topic.name())
}

/// A gossip message's id: by content, so one message is one message whoever relays it;
/// timeouts also by the 10-second window they are sent in, so that consensus resending an
/// unchanged timeout (to make up for a lost one) is not a duplicate.
pub fn message_id(topic: &gossipsub::TopicHash, data: &[u8]) -> gossipsub::MessageId {
    let mut id = Sha256::new().chain_update(data);
    if *topic == gossip_topic(Topic::Timeouts).hash() {
        let window = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 10);
        id.update(window.to_le_bytes());
    }
    gossipsub::MessageId::from(id.finalize().to_vec())
}

/// The tag byte of `topic` in direct messages.
pub fn tag(topic: Topic) -> u8 {
    match topic {
        Topic::Transactions => 0,
        Topic::Proposals => 1,
        Topic::Votes => 2,
        Topic::Timeouts => 3,
    }
}

/// The topic of a direct message's tag byte.
pub fn topic_of_tag(tag: u8) -> Option<Topic> {
    Topic::ALL.into_iter().find(|t| self::tag(*t) == tag)
}

/// The stream protocol of a request protocol.
pub fn stream_protocol(protocol: Protocol) -> StreamProtocol {
    StreamProtocol::new(protocol.name())
}

/// Why the swarm could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the network cannot start: {0}")]
pub struct BuildError(pub String);

/// Builds the swarm of a node with `key`, identifying itself as `protocol_version` (peers of
/// another chain say another one), finding peers with Kademlia if `discovery`.
pub fn build(
    key: Keypair,
    protocol_version: String,
    agent: String,
    limits: &Limits,
    discovery: bool,
) -> Result<Swarm<Behaviour>, BuildError> {
    let err = |e: &dyn std::fmt::Display| BuildError(e.to_string());
    let kad_protocol = kad_protocol(&protocol_version)?;
    let builder = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| err(&e))?;
    // QUIC beside TCP: its own encryption (TLS 1.3 with the same key) and multiplexing.
    #[cfg(feature = "quic")]
    let builder = builder.with_quic();
    let swarm = builder
        .with_behaviour(|key| {
            let mut gossip = gossipsub::ConfigBuilder::default();
            gossip
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                // Nothing is forwarded before the node's verdict on it.
                .validate_messages()
                .message_id_fn(|m: &gossipsub::Message| message_id(&m.topic, &m.data))
                .max_transmit_size(limits.max_message_bytes + 1024)
                .heartbeat_interval(limits.heartbeat);
            let gossip = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Anonymous,
                gossip.build().map_err(|e| BuildError(e.to_string()))?,
            )
            .map_err(|e| BuildError(e.to_string()))?;
            let rr_config = rr::Config::default()
                .with_request_timeout(limits.request_timeout)
                .with_max_concurrent_streams(limits.max_streams);
            let make = |max_request: usize, max_response: usize, protocol: StreamProtocol| {
                rr::Behaviour::with_codec(
                    BytesCodec {
                        max_request: max_request as u64,
                        max_response: max_response as u64,
                    },
                    [(protocol, ProtocolSupport::Full)],
                    rr_config.clone(),
                )
            };
            let local = key.public().to_peer_id();
            let mut kad_config = kad::Config::new(kad_protocol);
            kad_config
                // Nothing a peer puts is stored: the DHT is for finding peers.
                .set_record_filtering(kad::StoreInserts::FilterBoth)
                .set_periodic_bootstrap_interval(Some(Duration::from_secs(60)));
            let mut kad =
                kad::Behaviour::with_config(local, kad::store::MemoryStore::new(local), kad_config);
            // Nodes on private or loopback networks confirm no external address, which would
            // leave them in client mode, answering nobody's lookups.
            kad.set_mode(Some(kad::Mode::Server));
            Ok(Behaviour {
                blocked: Default::default(),
                limits: connection_limits::Behaviour::new(
                    connection_limits::ConnectionLimits::default()
                        .with_max_established(Some(limits.max_connections))
                        .with_max_established_per_peer(Some(limits.max_connections_per_peer))
                        .with_max_pending_incoming(Some(limits.max_pending_incoming)),
                ),
                identify: identify::Behaviour::new(
                    identify::Config::new(protocol_version, key.public()).with_agent_version(agent),
                ),
                // A ping every 5 s, answered within 10 s, or the connection is closed (see the task).
                ping: ping::Behaviour::new(
                    ping::Config::new()
                        .with_interval(Duration::from_secs(5))
                        .with_timeout(Duration::from_secs(10)),
                ),
                gossip,
                direct: make(limits.max_message_bytes + 1, 0, DIRECT),
                block_by_id: make(
                    limits.max_request_bytes,
                    limits.max_message_bytes,
                    stream_protocol(Protocol::BlockById),
                ),
                committed_range: make(
                    limits.max_request_bytes,
                    limits.max_response_bytes,
                    stream_protocol(Protocol::CommittedRange),
                ),
                kad: Toggle::from(discovery.then_some(kad)),
            })
        })
        .map_err(|e| err(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3_600)))
        .build();
    Ok(swarm)
}
