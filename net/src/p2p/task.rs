//! The task that owns the swarm: carries out the handle's commands, turns swarm events into
//! inbound messages, requests and responses, keeps peers' scores, bans and limits, and finds
//! peers beyond the bootnodes (Kademlia, the peer store).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aether_engine::ports::{Inbound, Protocol, RequestFailure, RequestId, Topic};
use futures::StreamExt;
use libp2p::request_response as rr;
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, kad, ping};
use tokio::sync::mpsc;

use super::behaviour::{
    Behaviour, BehaviourEvent, GOSSIPED, gossip_topic, message_id, tag, topic_of_tag,
};
use super::{
    Acceptance, BAN_SCORE, BAN_SECONDS, Command, GossipValidator, Limits, MAX_GOSSIPED_TXS,
    P2pConfig, PeerInfo, Shared, peer_store, port_peer,
};

/// Inbound requests awaiting the node's answer, at most, and per peer.
const MAX_INBOUND: usize = 1_024;
const MAX_INBOUND_PER_PEER: usize = 16;

/// Penalties.
const INVALID_GOSSIP: i64 = 50;
const UNDECODABLE: i64 = 100;
const FLOOD: i64 = 10;
const WRONG_CHAIN: i64 = 1_000;
/// Gossiped transactions validated per batch, off the network task (whole messages, at least
/// one, until their transactions reach this).
const VALIDATION_BATCH_TXS: u64 = 4_096;
/// Gossiped transaction messages waiting for validation at most (beyond: ignored, counted
/// dropped); each carries up to [`MAX_GOSSIPED_TXS`] transactions.
const VALIDATION_QUEUE: usize = 1_024;
/// Of those, from one peer at most: a peer flooding the queue crowds out only itself.
const VALIDATION_QUEUE_PER_PEER: usize = 64;
/// How long gossipsub remembers a message id (its `duplicate_cache_time`, left at the default).
const GOSSIP_DUPLICATE_WINDOW: Duration = Duration::from_secs(60);
/// Peers found (Kademlia, the peer store) are dialed while fewer than this many are connected.
const TARGET_PEERS: usize = 32;
/// Found peers dialed per housekeeping tick, at most.
const DIALS_PER_TICK: usize = 8;
/// Housekeeping ticks (5 s each) between saves of the peer store.
const SAVE_EVERY_TICKS: u64 = 6;

/// A batch of gossiped messages with the validator's verdict on each.
type Verdicts = Vec<(Gossiped, Acceptance)>;

/// A gossiped message waiting for its verdict.
pub(super) struct Gossiped {
    id: gossipsub::MessageId,
    source: PeerId,
    topic: Topic,
    data: Vec<u8>,
    /// Transactions it says it carries (0 off the transactions topic).
    txs: u32,
}

/// The count a transactions message starts with, if it is within [`MAX_GOSSIPED_TXS`] and not
/// zero (the rest is the node's to check).
fn gossiped_txs(payload: &[u8]) -> Option<u32> {
    use parity_scale_codec::{Compact, Decode};
    let count = Compact::<u32>::decode(&mut &payload[..]).ok()?.0;
    (1..=MAX_GOSSIPED_TXS).contains(&count).then_some(count)
}

/// A peer's standing.
struct Standing {
    score: i64,
    window: Instant,
    messages: u32,
    bytes: u64,
    /// Transactions gossiped in this window.
    txs: u64,
    penalised: bool,
}

impl Standing {
    /// A peer with a clean record, its rate window opening at `now`.
    fn new(now: Instant) -> Standing {
        Standing {
            score: 0,
            window: now,
            messages: 0,
            bytes: 0,
            txs: 0,
            penalised: false,
        }
    }
}

pub(super) struct Task {
    swarm: Swarm<Behaviour>,
    inbox: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    validator: Arc<dyn GossipValidator>,
    limits: Limits,
    protocol_version: String,
    bootnodes: Vec<Multiaddr>,
    outbound: HashMap<(Protocol, rr::OutboundRequestId), (RequestId, PeerId)>,
    inbound: HashMap<RequestId, (PeerId, Protocol, rr::ResponseChannel<Vec<u8>>)>,
    topics: HashMap<gossipsub::TopicHash, Topic>,
    standing: HashMap<PeerId, Standing>,
    /// Consensus messages published, by gossip id, and when.
    published: HashMap<gossipsub::MessageId, Instant>,
    /// Gossiped transactions waiting for the validator, which checks them in batches on a
    /// blocking thread (a signature each) so that the swarm, and consensus messages with it,
    /// never wait behind them.
    to_validate: std::collections::VecDeque<Gossiped>,
    /// Messages in `to_validate`, by the peer they came from.
    queued: HashMap<PeerId, usize>,
    validating: bool,
    verdicts: (
        mpsc::UnboundedSender<Verdicts>,
        mpsc::UnboundedReceiver<Verdicts>,
    ),
    banned: HashMap<PeerId, Instant>,
    /// Where found peers are kept across restarts, and what was last written there.
    peer_store: Option<std::path::PathBuf>,
    saved_peers: String,
    ticks: u64,
}

fn index(topic: Topic) -> usize {
    Topic::ALL.iter().position(|t| *t == topic).unwrap_or(0)
}

impl Task {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        inbox: mpsc::Receiver<Command>,
        shared: Arc<Shared>,
        config: P2pConfig,
    ) -> Self {
        Self {
            swarm,
            inbox,
            shared,
            validator: config.validator,
            limits: config.limits,
            protocol_version: config.protocol_version,
            bootnodes: config.bootnodes,
            outbound: HashMap::new(),
            inbound: HashMap::new(),
            topics: GOSSIPED
                .into_iter()
                .map(|t| (gossip_topic(t).hash(), t))
                .collect(),
            standing: HashMap::new(),
            published: HashMap::new(),
            to_validate: Default::default(),
            queued: HashMap::new(),
            validating: false,
            verdicts: mpsc::unbounded_channel(),
            banned: HashMap::new(),
            peer_store: config.peer_store,
            saved_peers: String::new(),
            ticks: 0,
        }
    }

    pub(super) async fn run(mut self) {
        for addr in self.bootnodes.clone() {
            if let Some((peer, addr)) = peer_store::split(addr.clone())
                && let Some(kad) = self.swarm.behaviour_mut().kad.as_mut()
            {
                kad.add_address(&peer, addr);
            }
            self.dial(addr);
        }
        self.load_peer_store();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                command = self.inbox.recv() => match command {
                    // The handle is gone: the node is stopping.
                    None => break,
                    Some(c) => self.command(c),
                },
                event = self.swarm.select_next_some() => self.event(event),
                Some(verdicts) = self.verdicts.1.recv() => {
                    self.validating = false;
                    for (message, verdict) in verdicts {
                        self.judged(message, verdict);
                    }
                    self.validate_next();
                }
                _ = tick.tick() => self.housekeeping(),
            }
        }
        self.save_peer_store();
    }

    fn dial(&mut self, addr: Multiaddr) {
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::debug!(%addr, %e, "cannot dial");
        }
    }

    /// Dials a peer found by Kademlia or kept in the peer store (at the addresses the
    /// behaviours know), unless it is connected, being dialed or banned, or enough peers are.
    fn dial_found(&mut self, peer: PeerId) {
        if peer == *self.swarm.local_peer_id()
            || self.banned.contains_key(&peer)
            || self.swarm.is_connected(&peer)
            || self.swarm.connected_peers().count() >= TARGET_PEERS
        {
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, %e, "cannot dial a found peer");
        }
    }

    /// Puts the peers of the peer store in Kademlia's table and dials them.
    fn load_peer_store(&mut self) {
        let Some(path) = self.peer_store.clone() else {
            return;
        };
        match peer_store::load(&path) {
            Ok((peers, skipped)) => {
                if skipped > 0 {
                    tracing::warn!(path = %path.display(), skipped, "peer store lines skipped");
                }
                if !peers.is_empty() {
                    tracing::info!(peers = peers.len(), "dialing the peers of the peer store");
                }
                for (peer, addrs) in peers {
                    for addr in addrs {
                        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                            kad.add_address(&peer, addr);
                        }
                    }
                    self.dial_found(peer);
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), %e, "the peer store is unreadable: starting without it")
            }
        }
    }

    /// Writes Kademlia's table to the peer store, if it changed.
    fn save_peer_store(&mut self) {
        let Some(path) = self.peer_store.clone() else {
            return;
        };
        let mut peers: Vec<(PeerId, Vec<Multiaddr>)> = Vec::new();
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            for bucket in kad.kbuckets() {
                for entry in bucket.iter() {
                    peers.push((
                        *entry.node.key.preimage(),
                        entry.node.value.iter().cloned().collect(),
                    ));
                }
            }
        }
        let text = peer_store::render(&peers);
        if text == self.saved_peers {
            return;
        }
        match peer_store::save(&path, &text) {
            Ok(()) => self.saved_peers = text,
            Err(e) => tracing::warn!(path = %path.display(), %e, "cannot save the peer store"),
        }
    }

    fn command(&mut self, command: Command) {
        let stats = &self.shared.stats;
        match command {
            Command::Broadcast(topic, payload) => {
                // Consensus resends what may have been lost; gossipsub refuses (and warns of)
                // a message it published within its duplicate window: skip those here.
                if topic != Topic::Transactions {
                    let id = message_id(&gossip_topic(topic).hash(), &payload);
                    let now = Instant::now();
                    if let Some(at) = self.published.get(&id)
                        && now.duration_since(*at) < GOSSIP_DUPLICATE_WINDOW
                    {
                        return;
                    }
                    self.published.insert(id, now);
                }
                stats.messages_out[index(topic)].fetch_add(1, Ordering::Relaxed);
                stats
                    .bytes_out
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                match self
                    .swarm
                    .behaviour_mut()
                    .gossip
                    .publish(gossip_topic(topic), payload)
                {
                    Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
                    Err(e) => {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(?topic, %e, "gossip not sent");
                    }
                }
            }
            Command::Send(peer, topic, payload) => {
                if !self.swarm.is_connected(&peer) {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                stats.messages_out[index(topic)].fetch_add(1, Ordering::Relaxed);
                stats
                    .bytes_out
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                let mut message = Vec::with_capacity(payload.len() + 1);
                message.push(tag(topic));
                message.extend_from_slice(&payload);
                self.swarm
                    .behaviour_mut()
                    .direct
                    .send_request(&peer, message);
            }
            Command::Request(peer, protocol, payload, id) => {
                if !self.swarm.is_connected(&peer) {
                    self.shared.deliver(Inbound::Response {
                        from: port_peer(&peer),
                        id,
                        result: Err(RequestFailure::NotConnected),
                    });
                    return;
                }
                let behaviour = self.swarm.behaviour_mut();
                let sent = match protocol {
                    Protocol::BlockById => behaviour.block_by_id.send_request(&peer, payload),
                    Protocol::CommittedRange => {
                        behaviour.committed_range.send_request(&peer, payload)
                    }
                };
                self.outbound.insert((protocol, sent), (id, peer));
            }
            Command::Respond(id, payload) => {
                if let Some((_, protocol, channel)) = self.inbound.remove(&id) {
                    stats
                        .bytes_out
                        .fetch_add(payload.len() as u64, Ordering::Relaxed);
                    let behaviour = self.swarm.behaviour_mut();
                    let _ = match protocol {
                        Protocol::BlockById => {
                            behaviour.block_by_id.send_response(channel, payload)
                        }
                        Protocol::CommittedRange => {
                            behaviour.committed_range.send_response(channel, payload)
                        }
                    };
                }
            }
            Command::Dial(addr) => self.dial(addr),
        }
    }

    /// Counts a message of `bytes` from `peer`; false beyond the per-second limits on
    /// messages and bytes (one penalty per second over, not one per message: a burst relayed
    /// by an honest peer must not get it banned).
    fn within_rate(&mut self, peer: &PeerId, bytes: usize) -> bool {
        self.within_rates(peer, bytes, 0)
    }

    /// As [`Task::within_rate`], also counting `txs` gossiped transactions against
    /// `max_gossiped_txs_per_second` (a message may carry many: the work a peer can cause is
    /// bounded by transactions, not messages).
    fn within_rates(&mut self, peer: &PeerId, bytes: usize, txs: u32) -> bool {
        let now = Instant::now();
        let (max, max_bytes, max_txs) = (
            self.limits.max_messages_per_second,
            self.limits.max_bytes_per_second,
            self.limits.max_gossiped_txs_per_second,
        );
        let s = self
            .standing
            .entry(*peer)
            .or_insert_with(|| Standing::new(now));
        if now.duration_since(s.window) >= Duration::from_secs(1) {
            s.window = now;
            s.messages = 0;
            s.bytes = 0;
            s.txs = 0;
            s.penalised = false;
        }
        s.messages += 1;
        s.bytes = s.bytes.saturating_add(bytes as u64);
        s.txs = s.txs.saturating_add(u64::from(txs));
        // Over its transaction rate, a peer's consensus messages still count only as messages.
        if s.messages > max || s.bytes > max_bytes || (txs > 0 && s.txs > u64::from(max_txs)) {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            if !s.penalised {
                s.penalised = true;
                self.penalise(peer, FLOOD, "over the message or byte rate");
            }
            return false;
        }
        true
    }

    fn penalise(&mut self, peer: &PeerId, amount: i64, why: &str) {
        self.shared.stats.penalties.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let s = self
            .standing
            .entry(*peer)
            .or_insert_with(|| Standing::new(now));
        s.score -= amount;
        tracing::debug!(%peer, why, score = s.score, "penalised a peer");
        if s.score <= BAN_SCORE && !self.banned.contains_key(peer) {
            tracing::info!(%peer, why, "banning a peer for {BAN_SECONDS} s");
            self.shared.stats.bans.fetch_add(1, Ordering::Relaxed);
            self.banned.insert(*peer, now);
            self.swarm.behaviour_mut().blocked.block_peer(*peer);
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                kad.remove_peer(peer);
            }
            let _ = self.swarm.disconnect_peer_id(*peer);
            // What it queued for validation is not checked.
            let (theirs, rest): (std::collections::VecDeque<Gossiped>, _) =
                std::mem::take(&mut self.to_validate)
                    .into_iter()
                    .partition(|g| g.source == *peer);
            self.to_validate = rest;
            self.queued.remove(peer);
            for g in theirs {
                self.report(&g.id, &g.source, Acceptance::Ignore);
            }
        }
    }

    fn received(&self, topic: Topic, bytes: usize) {
        let stats = &self.shared.stats;
        stats.messages_in[index(topic)].fetch_add(1, Ordering::Relaxed);
        stats.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "network listening");
                self.shared
                    .listening
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                self.shared.peer_table().entry(peer_id).or_insert_with(|| {
                    // Without the `/p2p/<id>` a dialed address ends with.
                    let mut address = endpoint.get_remote_address().clone();
                    if let Some(libp2p::multiaddr::Protocol::P2p(_)) = address.iter().last() {
                        address.pop();
                    }
                    PeerInfo {
                        peer_id,
                        address,
                        rtt: None,
                        agent: None,
                    }
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.shared.peer_table().remove(&peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Direct(rr::Event::Message {
                peer,
                message:
                    rr::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => {
                // Acknowledged at once: the sender waits for nothing more.
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .direct
                    .send_response(channel, Vec::new());
                let tagged = request
                    .split_first()
                    .and_then(|(t, rest)| Some((topic_of_tag(*t)?, rest)));
                // Transactions are only gossiped (checked before they are delivered).
                if let Some((Topic::Transactions, _)) = tagged {
                    return self.penalise(&peer, UNDECODABLE, "transactions in a direct message");
                }
                if !self.within_rate(&peer, request.len()) {
                    return;
                }
                match tagged {
                    Some((topic, payload)) if !payload.is_empty() => {
                        self.received(topic, payload.len());
                        self.shared.deliver(Inbound::Message {
                            from: port_peer(&peer),
                            topic,
                            payload: payload.to_vec(),
                        });
                    }
                    _ => self.penalise(&peer, UNDECODABLE, "an undecodable direct message"),
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Direct(rr::Event::InboundFailure {
                peer,
                error: rr::InboundFailure::Io(e),
                ..
            })) if e.kind() == std::io::ErrorKind::InvalidData => {
                self.penalise(&peer, UNDECODABLE, "an oversized direct message")
            }
            SwarmEvent::Behaviour(BehaviourEvent::BlockById(event)) => {
                self.request_event(Protocol::BlockById, event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::CommittedRange(event)) => {
                self.request_event(Protocol::CommittedRange, event)
            }
            // A connection whose pings go unanswered is dead (the peer's host is gone or the
            // network between is cut), though TCP may not say so for many minutes: close it,
            // so that the bootnodes are dialed again and a healed link is used at once.
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => {
                if let Some(info) = self.shared.peer_table().get_mut(&peer) {
                    info.rtt = Some(rtt);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(e),
            })) => {
                tracing::debug!(%peer, %e, "ping failed: closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if info.protocol_version != self.protocol_version {
                    tracing::info!(peer = %peer_id, theirs = %info.protocol_version, "a peer of another chain");
                    self.penalise(&peer_id, WRONG_CHAIN, "another chain");
                    return;
                }
                if let Some(peer) = self.shared.peer_table().get_mut(&peer_id) {
                    // Shown to people: bounded, and no control characters (terminal escapes).
                    peer.agent = Some(
                        info.agent_version
                            .chars()
                            .filter(|c| !c.is_control())
                            .take(128)
                            .collect(),
                    );
                }
                // Where it listens: for dialing it again, and (Kademlia) for others to find it.
                for addr in info
                    .listen_addrs
                    .into_iter()
                    .take(peer_store::MAX_ADDRESSES)
                {
                    self.swarm.add_peer_address(peer_id, addr.clone());
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        kad.add_address(&peer_id, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer,
                is_new_peer: true,
                ..
            })) => self.dial_found(peer),
            _ => {}
        }
    }

    fn gossip(&mut self, source: PeerId, id: gossipsub::MessageId, message: gossipsub::Message) {
        let Some(topic) = self.topics.get(&message.topic).copied() else {
            self.report(&id, &source, Acceptance::Reject);
            self.penalise(&source, INVALID_GOSSIP, "gossip on an unknown topic");
            return;
        };
        let txs = if topic == Topic::Transactions {
            let Some(txs) = gossiped_txs(&message.data) else {
                self.report(&id, &source, Acceptance::Reject);
                self.penalise(
                    &source,
                    UNDECODABLE,
                    "a transactions message without a count",
                );
                return;
            };
            txs
        } else {
            0
        };
        if !self.within_rates(&source, message.data.len(), txs) {
            self.report(&id, &source, Acceptance::Ignore);
            return;
        }
        let gossiped = Gossiped {
            id,
            source,
            topic,
            data: message.data,
            txs,
        };
        if topic != Topic::Transactions {
            // Consensus messages are only decoded here: judged at once, in order.
            let verdict = self.validator.validate(topic, &gossiped.data);
            return self.judged(gossiped, verdict);
        }
        let theirs = self.queued.get(&source).copied().unwrap_or(0);
        if self.to_validate.len() >= VALIDATION_QUEUE || theirs >= VALIDATION_QUEUE_PER_PEER {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.report(&gossiped.id, &gossiped.source, Acceptance::Ignore);
            return;
        }
        *self.queued.entry(source).or_default() += 1;
        self.to_validate.push_back(gossiped);
        self.validate_next();
    }

    /// Hands the next batch of gossiped transactions to the validator on a blocking thread,
    /// unless a batch is being validated.
    fn validate_next(&mut self) {
        if self.validating || self.to_validate.is_empty() {
            return;
        }
        self.validating = true;
        let mut batch: Vec<Gossiped> = Vec::new();
        let mut txs = 0u64;
        while txs < VALIDATION_BATCH_TXS
            && let Some(g) = self.to_validate.pop_front()
        {
            txs += u64::from(g.txs.max(1));
            if let Some(n) = self.queued.get_mut(&g.source) {
                *n -= 1;
                if *n == 0 {
                    self.queued.remove(&g.source);
                }
            }
            batch.push(g);
        }
        let (validator, verdicts) = (self.validator.clone(), self.verdicts.0.clone());
        tokio::task::spawn_blocking(move || {
            let judged = batch
                .into_iter()
                .map(|g| {
                    let verdict = validator.validate(g.topic, &g.data);
                    (g, verdict)
                })
                .collect();
            let _ = verdicts.send(judged);
        });
    }

    /// Tells gossipsub the verdict on a message (forward it or not) and acts on it: an
    /// accepted one goes to the node, a rejected one costs its sender.
    fn judged(&mut self, message: Gossiped, verdict: Acceptance) {
        self.report(&message.id, &message.source, verdict);
        match verdict {
            Acceptance::Accept => {
                self.received(message.topic, message.data.len());
                self.shared.deliver(Inbound::Message {
                    from: port_peer(&message.source),
                    topic: message.topic,
                    payload: message.data,
                });
            }
            Acceptance::Reject => self.penalise(&message.source, INVALID_GOSSIP, "invalid gossip"),
            Acceptance::Ignore => {}
        }
    }

    fn report(&mut self, id: &gossipsub::MessageId, source: &PeerId, verdict: Acceptance) {
        let acceptance = match verdict {
            Acceptance::Accept => gossipsub::MessageAcceptance::Accept,
            Acceptance::Reject => gossipsub::MessageAcceptance::Reject,
            Acceptance::Ignore => gossipsub::MessageAcceptance::Ignore,
        };
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(id, source, acceptance);
    }

    fn request_event(&mut self, protocol: Protocol, event: rr::Event<Vec<u8>, Vec<u8>>) {
        match event {
            rr::Event::Message {
                peer,
                message:
                    rr::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // A dropped channel answers the asker "no answer" (it sees `Refused`).
                let of_peer = self.inbound.values().filter(|(p, _, _)| *p == peer).count();
                if !self.within_rate(&peer, request.len())
                    || self.inbound.len() >= MAX_INBOUND
                    || of_peer >= MAX_INBOUND_PER_PEER
                {
                    return;
                }
                let id = self.shared.request_id();
                self.shared
                    .stats
                    .bytes_in
                    .fetch_add(request.len() as u64, Ordering::Relaxed);
                self.inbound.insert(id, (peer, protocol, channel));
                self.shared.deliver(Inbound::Request {
                    from: port_peer(&peer),
                    id,
                    protocol,
                    payload: request,
                });
            }
            rr::Event::Message {
                peer,
                message:
                    rr::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some((id, _)) = self.outbound.remove(&(protocol, request_id)) {
                    self.shared
                        .stats
                        .bytes_in
                        .fetch_add(response.len() as u64, Ordering::Relaxed);
                    self.shared.deliver(Inbound::Response {
                        from: port_peer(&peer),
                        id,
                        result: Ok(response),
                    });
                }
            }
            rr::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some((id, _)) = self.outbound.remove(&(protocol, request_id)) {
                    let why = match &error {
                        rr::OutboundFailure::Timeout => RequestFailure::Timeout,
                        rr::OutboundFailure::DialFailure
                        | rr::OutboundFailure::ConnectionClosed => RequestFailure::NotConnected,
                        other => RequestFailure::Refused(other.to_string()),
                    };
                    if let rr::OutboundFailure::Io(e) = &error
                        && e.kind() == std::io::ErrorKind::InvalidData
                    {
                        self.penalise(&peer, UNDECODABLE, "an oversized or malformed answer");
                    }
                    self.shared.deliver(Inbound::Response {
                        from: port_peer(&peer),
                        id,
                        result: Err(why),
                    });
                }
            }
            // Only what our codec refused (too large); a reset stream may be the asker's
            // timeout, not hostility.
            rr::Event::InboundFailure {
                peer,
                error: rr::InboundFailure::Io(e),
                ..
            } if e.kind() == std::io::ErrorKind::InvalidData => {
                self.penalise(&peer, UNDECODABLE, "an oversized request")
            }
            _ => {}
        }
    }

    /// Every few seconds: scores recover, bans expire, bootnodes are dialed again, answers
    /// nobody waits for any more are forgotten.
    fn housekeeping(&mut self) {
        for s in self.standing.values_mut() {
            s.score = (s.score + 5).min(0);
        }
        self.standing.retain(|_, s| s.score < 0);
        let expired: Vec<PeerId> = self
            .banned
            .iter()
            .filter(|(_, at)| at.elapsed() >= Duration::from_secs(BAN_SECONDS))
            .map(|(p, _)| *p)
            .collect();
        for peer in expired {
            self.banned.remove(&peer);
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }
        self.inbound.retain(|_, (_, _, channel)| channel.is_open());
        self.published
            .retain(|_, at| at.elapsed() < GOSSIP_DUPLICATE_WINDOW);
        for addr in self.bootnodes.clone() {
            let connected = addr.iter().any(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => self.swarm.is_connected(&id),
                _ => false,
            });
            if !connected {
                self.dial(addr);
            }
        }
        // Too few peers: look for more (a Kademlia walk towards this node's own id: the peers
        // it meets answer with the peers they know) and dial some of those found.
        let wanting = self.swarm.connected_peers().count() < TARGET_PEERS;
        if let (true, Some(kad)) = (wanting, self.swarm.behaviour_mut().kad.as_mut()) {
            // Fails only when the table is empty (no peer to ask yet).
            let _ = kad.bootstrap();
            let mut found = Vec::new();
            for bucket in kad.kbuckets() {
                found.extend(bucket.iter().map(|e| *e.node.key.preimage()));
            }
            let local = *self.swarm.local_peer_id();
            found.retain(|p| *p != local && !self.swarm.is_connected(p));
            for peer in found.into_iter().take(DIALS_PER_TICK) {
                self.dial_found(peer);
            }
        }
        self.ticks += 1;
        if self.ticks.is_multiple_of(SAVE_EVERY_TICKS) {
            self.save_peer_store();
        }
    }
}
