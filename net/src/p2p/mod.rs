//! The libp2p adapter of the network port: [`Libp2pNetwork`] is the handle the node holds
//! (it implements [`Network`]); a task owns the libp2p swarm and talks to the handle through a
//! bounded channel, delivering what peers send to the [`InboundSink`].
//!
//! - **Gossip** (`broadcast`): gossipsub on `aether/<topic>/1` for transactions, proposals and
//!   timeouts. Each message is held until the node's [`GossipValidator`] judged it: accepted
//!   messages are delivered and forwarded, rejected ones are dropped and cost their
//!   propagator a penalty, ignored ones are dropped.
//! - **Direct** (`send`): a request on `/aether/direct/2` carrying a topic tag and the payload,
//!   acknowledged empty; a message to a peer not connected is dropped (delivery is never
//!   guaranteed).
//! - **Requests** (`request`/`respond`): `/aether/block-by-id/2` and
//!   `/aether/committed-range/2`; every request gets exactly one answer at the sink (the
//!   response, or why there is none).
//! - **Limits and penalties**: message and request sizes, connections in all and per peer,
//!   messages per peer per second; a peer that sends undecodable or rejected messages or
//!   floods loses score, and at [`BAN_SCORE`] it is disconnected and refused for
//!   [`BAN_SECONDS`].

mod behaviour;
mod codec;
pub mod key;
pub mod peer_store;
mod task;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aether_engine::ports::{
    Inbound, InboundSink, Network, PeerId, Protocol, RequestFailure, RequestId, Topic,
};
use libp2p::Multiaddr;
use libp2p::identity::Keypair;
use tokio::sync::mpsc;

pub use behaviour::BuildError;
/// A network address.
pub use libp2p::Multiaddr as Address;
/// A libp2p peer id (base58 in text), re-exported for the genesis.
pub use libp2p::PeerId as PeerIdOf;
/// A node's network key (Ed25519), re-exported so the node needs no libp2p of its own.
pub use libp2p::identity::Keypair as NetworkKey;
/// A part of a network address.
pub use libp2p::multiaddr::Protocol as AddressPart;

/// Score at which a peer is disconnected and refused.
pub const BAN_SCORE: i64 = -100;

/// How long a banned peer is refused, in seconds.
pub const BAN_SECONDS: u64 = 600;

/// The node's verdict on a gossiped message, given before it is forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// Valid: deliver and forward.
    Accept,
    /// Invalid: drop, and penalise the peer it came from.
    Reject,
    /// Not wanted (a duplicate, say): drop without penalty.
    Ignore,
}

/// Judges gossiped messages before they are forwarded. Consensus messages are judged on the
/// network task, in order: that must be cheap (decoding, sizes), not a consensus verification.
/// Transactions are judged in batches on a blocking thread (a signature each), so the network
/// task never waits for them; up to 32,768 wait, more are ignored.
pub trait GossipValidator: Send + Sync {
    /// The verdict on `payload`, gossiped on `topic`.
    fn validate(&self, topic: Topic, payload: &[u8]) -> Acceptance;
}

/// Accepts everything (for tests of the transport, and a node that validates later).
pub struct AcceptAll;

impl GossipValidator for AcceptAll {
    fn validate(&self, _: Topic, _: &[u8]) -> Acceptance {
        Acceptance::Accept
    }
}

/// Transactions in one gossip message on the transactions topic, at most: its payload is a
/// SCALE list (a compact count, then the transactions); the count is read here to bound the
/// work one peer can cause, the rest is the node's to check.
pub const MAX_GOSSIPED_TXS: u32 = 1_024;

/// Limits of the adapter.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest gossiped or direct message, bytes.
    pub max_message_bytes: usize,
    /// Largest request, bytes.
    pub max_request_bytes: usize,
    /// Largest committed-range response, bytes.
    pub max_response_bytes: usize,
    /// Established connections in all.
    pub max_connections: u32,
    /// Established connections per peer.
    pub max_connections_per_peer: u32,
    /// Incoming connections being set up.
    pub max_pending_incoming: u32,
    /// Messages (gossip and direct) and requests one peer may send per second; beyond, they
    /// are dropped (and the peer penalised once for that second).
    pub max_messages_per_second: u32,
    /// Bytes of messages and requests one peer may send per second, likewise.
    pub max_bytes_per_second: u64,
    /// Transactions one peer may gossip per second (counted inside messages on the
    /// transactions topic, each a SCALE list of up to 1,024), likewise.
    pub max_gossiped_txs_per_second: u32,
    /// Concurrent request-response streams per connection.
    pub max_streams: usize,
    /// How long a request waits for its answer.
    pub request_timeout: Duration,
    /// Gossipsub heartbeat.
    pub heartbeat: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 8 << 20,
            max_request_bytes: 1 << 10,
            max_response_bytes: 64 << 20,
            max_connections: 128,
            max_connections_per_peer: 2,
            max_pending_incoming: 32,
            max_messages_per_second: 1_000,
            max_bytes_per_second: 64 << 20,
            max_gossiped_txs_per_second: 50_000,
            max_streams: 64,
            request_timeout: Duration::from_secs(10),
            heartbeat: Duration::from_secs(1),
        }
    }
}

/// How to start the network.
pub struct P2pConfig {
    /// The node's key (its peer id).
    pub key: Keypair,
    /// Addresses to listen on (`/ip4/127.0.0.1/tcp/0` picks a free port).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start and to keep dialing while disconnected (with `/p2p/<id>`).
    pub bootnodes: Vec<Multiaddr>,
    /// The peer store file ([`peer_store`]): peers found are saved there and dialed at the
    /// next start. None keeps them in memory only.
    pub peer_store: Option<std::path::PathBuf>,
    /// Find peers beyond the bootnodes (Kademlia, among this chain's nodes only). Off, the node
    /// dials its bootnodes and the peers of its peer store, and takes who dials in.
    pub discovery: bool,
    /// What this node says it runs (`/aether/<chain id>/<genesis hash>`): peers that say
    /// otherwise are of another chain, and are disconnected.
    pub protocol_version: String,
    /// Judges gossip.
    pub validator: Arc<dyn GossipValidator>,
    /// Limits.
    pub limits: Limits,
    /// What this node tells its peers it is (identify's agent version), such as
    /// `aether/0.1.0 (v2)`: peers show it in their peer lists.
    pub agent: String,
}

/// Counters of the adapter.
#[derive(Debug, Default)]
pub struct NetStats {
    /// Messages received, by topic index ([`Topic::ALL`]).
    pub messages_in: [AtomicU64; 4],
    /// Messages sent, by topic index.
    pub messages_out: [AtomicU64; 4],
    /// Bytes received (payloads).
    pub bytes_in: AtomicU64,
    /// Bytes sent (payloads).
    pub bytes_out: AtomicU64,
    /// Penalties given.
    pub penalties: AtomicU64,
    /// Peers banned.
    pub bans: AtomicU64,
    /// Messages dropped (no peer, queue full, over a limit).
    pub dropped: AtomicU64,
}

/// The counters of [`NetStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// Messages received, by topic index ([`Topic::ALL`]).
    pub messages_in: [u64; 4],
    /// Messages sent, by topic index.
    pub messages_out: [u64; 4],
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes sent.
    pub bytes_out: u64,
    /// Penalties given.
    pub penalties: u64,
    /// Peers banned.
    pub bans: u64,
    /// Messages dropped.
    pub dropped: u64,
}

impl NetStats {
    /// The counters now.
    pub fn snapshot(&self) -> NetCounters {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NetCounters {
            messages_in: std::array::from_fn(|i| load(&self.messages_in[i])),
            messages_out: std::array::from_fn(|i| load(&self.messages_out[i])),
            bytes_in: load(&self.bytes_in),
            bytes_out: load(&self.bytes_out),
            penalties: load(&self.penalties),
            bans: load(&self.bans),
            dropped: load(&self.dropped),
        }
    }
}

/// What the handle and the task share.
/// What is known of a connected peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its libp2p identity.
    pub peer_id: libp2p::PeerId,
    /// The address of the first connection with it (its listen address when this node
    /// dialed, its ephemeral port when it dialed in).
    pub address: Multiaddr,
    /// The round trip of the last ping answered, if one was.
    pub rtt: Option<Duration>,
    /// What it says it is (identify's agent version), once it said.
    pub agent: Option<String>,
}

struct Shared {
    sink: Mutex<Option<Arc<dyn InboundSink>>>,
    peers: Mutex<BTreeMap<libp2p::PeerId, PeerInfo>>,
    listening: Mutex<Vec<Multiaddr>>,
    next_request: AtomicU64,
    stats: NetStats,
}

impl Shared {
    fn deliver(&self, inbound: Inbound) {
        let sink = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(sink) = sink {
            sink.deliver(inbound);
        }
    }

    /// The connected peers, locked.
    fn peer_table(&self) -> std::sync::MutexGuard<'_, BTreeMap<libp2p::PeerId, PeerInfo>> {
        self.peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request_id(&self) -> RequestId {
        RequestId(self.next_request.fetch_add(1, Ordering::Relaxed))
    }
}

/// What the handle asks of the task.
enum Command {
    Broadcast(Topic, Vec<u8>),
    Send(libp2p::PeerId, Topic, Vec<u8>),
    Request(libp2p::PeerId, Protocol, Vec<u8>, RequestId),
    Respond(RequestId, Vec<u8>),
    Dial(Multiaddr),
}

/// Commands queued for the task at most; beyond, they are dropped (and requests answered).
const QUEUE: usize = 8_192;

/// The node's handle on the libp2p network.
pub struct Libp2pNetwork {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    local: libp2p::PeerId,
}

impl Libp2pNetwork {
    /// Starts the network on the current tokio runtime: listens, dials the bootnodes, and
    /// runs until the handle is dropped.
    pub fn start(config: P2pConfig) -> Result<Self, BuildError> {
        let local = config.key.public().to_peer_id();
        let mut swarm = behaviour::build(
            config.key.clone(),
            config.protocol_version.clone(),
            config.agent.clone(),
            &config.limits,
            config.discovery,
        )?;
        for topic in behaviour::GOSSIPED {
            swarm
                .behaviour_mut()
                .gossip
                .subscribe(&behaviour::gossip_topic(topic))
                .map_err(|e| BuildError(e.to_string()))?;
        }
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| BuildError(format!("listen on {addr}: {e}")))?;
        }
        let shared = Arc::new(Shared {
            sink: Mutex::new(None),
            peers: Mutex::new(BTreeMap::new()),
            listening: Mutex::new(Vec::new()),
            next_request: AtomicU64::new(1),
            stats: NetStats::default(),
        });
        let (commands, inbox) = mpsc::channel(QUEUE);
        let task = task::Task::new(swarm, inbox, shared.clone(), config);
        tokio::spawn(task.run());
        Ok(Self {
            commands,
            shared,
            local,
        })
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> libp2p::PeerId {
        self.local
    }

    /// The connected peers: address and last ping round trip.
    pub fn peer_info(&self) -> Vec<PeerInfo> {
        self.shared.peer_table().values().cloned().collect()
    }

    /// The addresses it listens on (known once the listeners are up).
    pub fn listening(&self) -> Vec<Multiaddr> {
        self.shared
            .listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Dials `addr` (with `/p2p/<id>` to check who answers).
    pub fn dial(&self, addr: Multiaddr) {
        self.queue(Command::Dial(addr));
    }

    /// The counters.
    pub fn stats(&self) -> &NetStats {
        &self.shared.stats
    }

    fn queue(&self, command: Command) -> bool {
        if self.commands.try_send(command).is_err() {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// The libp2p peer id of a port peer id, if it is one.
pub fn libp2p_peer(peer: &PeerId) -> Option<libp2p::PeerId> {
    libp2p::PeerId::from_bytes(&peer.0).ok()
}

/// The port peer id of a libp2p peer id.
pub fn port_peer(peer: &libp2p::PeerId) -> PeerId {
    PeerId(peer.to_bytes())
}

impl Network for Libp2pNetwork {
    fn broadcast(&self, topic: Topic, payload: Vec<u8>) {
        if topic == Topic::Votes {
            // Votes go to one peer: never gossiped.
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.queue(Command::Broadcast(topic, payload));
    }

    fn send(&self, peer: &PeerId, topic: Topic, payload: Vec<u8>) {
        match libp2p_peer(peer) {
            Some(p) => {
                self.queue(Command::Send(p, topic, payload));
            }
            None => {
                self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn request(&self, peer: &PeerId, protocol: Protocol, payload: Vec<u8>) -> RequestId {
        let id = self.shared.request_id();
        let failed = |why: RequestFailure| {
            self.shared.deliver(Inbound::Response {
                from: peer.clone(),
                id,
                result: Err(why),
            })
        };
        match libp2p_peer(peer) {
            None => failed(RequestFailure::NotConnected),
            Some(p) => {
                if !self.queue(Command::Request(p, protocol, payload, id)) {
                    failed(RequestFailure::Refused(
                        "the network's queue is full".into(),
                    ));
                }
            }
        }
        id
    }

    fn respond(&self, id: RequestId, payload: Vec<u8>) {
        self.queue(Command::Respond(id, payload));
    }

    fn peers(&self) -> Vec<PeerId> {
        self.shared.peer_table().keys().map(port_peer).collect()
    }

    fn set_inbound(&self, sink: Arc<dyn InboundSink>) {
        *self
            .shared
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sink);
    }
}

#[cfg(test)]
mod tests;
