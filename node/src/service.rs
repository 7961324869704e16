//! The running node: store, chain, consensus loop, RPC server and metrics endpoint, with a
//! graceful stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aether_consensus::DevSealer;
use aether_consensus::hotstuff::HotStuffConfig;
use aether_engine::ports::{
    CommitFailure, Consensus, ConsensusInput, ConsensusOutput, Inbound, InboundSink, Network,
    Protocol, Topic, Verdict,
};
use aether_engine::types::Address;
use aether_net::LocalNetwork;
use aether_net::p2p::{Acceptance, GossipValidator, Libp2pNetwork, P2pConfig};
use aether_storage::{Store, StoreConfig};

use crate::chain::{Chain, ChainError, CommittedBlock, now_ms};
use crate::genesis::Genesis;
use crate::metrics::{BlockStep, Metrics};
use crate::rpc::{self, PeerSummary, RpcAccess, RpcContext, RpcLimits};

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Where the database lives (`<base_path>/db`).
    pub base_path: PathBuf,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// Where the RPC server listens.
    pub rpc_addr: SocketAddr,
    /// RPC limits.
    pub rpc_limits: RpcLimits,
    /// Which RPC methods are offered, and to which browser origins.
    pub rpc_access: RpcAccess,
    /// Where the metrics endpoint listens (none: off).
    pub metrics_addr: Option<SocketAddr>,
    /// Block time of the dev sealer.
    pub block_time_ms: u64,
    /// Heights of state kept for queries and proofs.
    pub state_history: u64,
    /// Bytes for the state tree's decoded upper levels ([`StoreConfig::node_cache_bytes`]).
    pub trie_cache_bytes: usize,
    /// The account that receives the fees of the blocks this node seals (dev sealer).
    pub proposer: Address,
    /// Which consensus runs.
    pub consensus: ConsensusMode,
    /// The peer-to-peer network (none: the node runs alone).
    pub network: Option<NetworkSettings>,
}

/// The node's peer-to-peer network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Addresses to listen on (multiaddrs, `/ip4/127.0.0.1/tcp/30333`).
    pub listen: Vec<String>,
    /// Peers to dial and keep dialing (multiaddrs with `/p2p/<peer id>`).
    pub bootnodes: Vec<String>,
    /// The validator whose network key this node uses; none: the key in
    /// `<base-path>/network/secret_ed25519`, created on first start.
    pub key: Option<ValidatorKeySource>,
    /// The name it gives itself to its peers (`--name`).
    pub name: String,
}

/// Where a validator's keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidatorKeySource {
    /// Derived from a dev name (`--validator NAME`): public, for dev and test chains only.
    Dev(String),
    /// A validator key file (`--validator-key FILE`, from `aether keys validator`).
    File(PathBuf),
}

impl ValidatorKeySource {
    fn file(path: &std::path::Path) -> Result<crate::validator_key::ValidatorKeyFile, NodeError> {
        crate::validator_key::ValidatorKeyFile::read(path)
            .map_err(|e| NodeError::Keys(e.to_string()))
    }

    fn consensus_keys(&self) -> Result<crate::validator::ValidatorKeys, NodeError> {
        match self {
            Self::Dev(name) => Ok(crate::validator::ValidatorKeys::dev(name)),
            Self::File(path) => Self::file(path)?
                .keys()
                .map_err(|e| NodeError::Keys(format!("{}: {e}", path.display()))),
        }
    }

    fn network_key(&self) -> Result<aether_net::p2p::NetworkKey, NodeError> {
        match self {
            Self::Dev(name) => Ok(crate::keys::dev_network_key(name)),
            Self::File(path) => Self::file(path)?
                .network_key()
                .map_err(|e| NodeError::Keys(format!("{}: {e}", path.display()))),
        }
    }
}

/// Which consensus a node runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsensusMode {
    /// The single-node dev sealer: one block every block time, final at once.
    DevSealer,
    /// 2-chain HotStuff over the genesis's validator set, one block per round at most every
    /// block time, final one round later.
    HotStuff {
        /// Run as the validator with these keys; none: follow the chain.
        validator: Option<ValidatorKeySource>,
        /// Start even though the safety record is missing past genesis.
        reset_safety_record: bool,
        /// Committed blocks consensus keeps to answer peers' block retrieval.
        recent_blocks: usize,
    },
}

/// A HotStuff node on a network whose consensus has committed nothing for this long while it
/// is fetching blocks it heard of syncs committed blocks from its peers' stores while it runs,
/// then restarts consensus on the new head: block retrieval reaches back only as far as peers
/// keep recent blocks (`--recent-blocks`).
const RESYNC_AFTER: Duration = Duration::from_secs(10);

/// A node failure.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The chain (storage, genesis, execution) failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A server could not start.
    #[error("{what} on {addr}")]
    Listen {
        /// Which server.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A background task failed.
    #[error("block production: {0}")]
    Task(String),
    /// Consensus cannot start.
    #[error(transparent)]
    Validator(#[from] crate::validator::ValidatorError),
    /// The network cannot start.
    #[error("network: {0}")]
    Network(String),
    /// The validator's keys cannot be loaded.
    #[error("validator keys: {0}")]
    Keys(String),
}

/// Where a started node listens.
#[derive(Clone, Copy, Debug)]
pub struct Listening {
    /// The RPC server.
    pub rpc: SocketAddr,
    /// The metrics endpoint.
    pub metrics: Option<SocketAddr>,
}

/// Runs a node until `shutdown` completes: then finishes the execution job in progress, stops the
/// servers and closes the database (which flushes everything committed). `on_listening` is
/// called once the servers are up.
pub async fn run(
    config: NodeConfig,
    shutdown: impl Future<Output = ()>,
    on_listening: impl FnOnce(Listening),
) -> Result<(), NodeError> {
    let db_path = config.base_path.join("db");
    let store = Store::open(
        &db_path,
        StoreConfig {
            state_history: config.state_history,
            node_cache_bytes: config.trie_cache_bytes,
            ..StoreConfig::default()
        },
    )
    .map_err(ChainError::from)?;
    let chain = Arc::new(Chain::open(store, config.genesis.clone())?);
    let metrics = Arc::new(Metrics::new());
    let (inbound_tx, mut inbound) = tokio::sync::mpsc::channel::<Inbound>(INBOUND_QUEUE);
    // HotStuff's configuration, made once: its verification cache is shared by consensus,
    // catching up and the checks of gossiped consensus messages.
    let hotstuff = match &config.consensus {
        ConsensusMode::HotStuff { recent_blocks, .. } => Some(HotStuffConfig {
            recent_committed: *recent_blocks,
            ..crate::validator::config(&config.genesis, config.block_time_ms)?
        }),
        ConsensusMode::DevSealer => None,
    };
    // A validator's safety record is opened (or, for a new validator, created) before the node
    // syncs: whether the chain was past genesis is judged on what this node had, not on blocks
    // it fetches from peers that went on without it.
    if let ConsensusMode::HotStuff {
        reset_safety_record: true,
        ..
    } = &config.consensus
    {
        tracing::warn!(
            "--reset-safety-record: if the safety record is missing, this validator starts \
             with a fresh one and may sign again in rounds it signed in before"
        );
    }
    let identity = match &hotstuff {
        Some(hs) => open_identity(&config, &chain, hs)?,
        None => None,
    };
    let p2p = match &config.network {
        None => None,
        Some(settings) => Some(Arc::new(start_network(
            settings,
            &config,
            &chain,
            hotstuff.as_ref(),
        )?)),
    };
    let network: Arc<dyn Network> = match &p2p {
        None => Arc::new(LocalNetwork::new()),
        Some(p2p) => p2p.clone(),
    };
    network.set_inbound(Arc::new(QueueSink(inbound_tx)));
    let head = chain.head();
    metrics.block(head.height, 0.0, head.gas_used, 0);
    metrics.finalized(chain.finalized_height());
    let consensus_name = match config.consensus {
        ConsensusMode::DevSealer => "dev-sealer",
        ConsensusMode::HotStuff { .. } => "hotstuff",
    };
    let syncing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let progress = Arc::new(std::sync::Mutex::new(None));
    let (rpc_addr, rpc_handle) = rpc::start(
        config.rpc_addr,
        config.rpc_limits,
        config.rpc_access.clone(),
        RpcContext {
            chain: chain.clone(),
            metrics: metrics.clone(),
            consensus: consensus_name,
            syncing: syncing.clone(),
            progress: progress.clone(),
            peers: {
                // Validators are known by the peer ids the genesis gives them.
                let validators: std::collections::HashMap<String, String> = config
                    .genesis
                    .validators
                    .iter()
                    .filter_map(|v| Some((v.peer_id.clone()?, v.name.clone())))
                    .collect();
                let p2p = p2p.clone();
                Arc::new(move || {
                    let Some(p2p) = &p2p else { return Vec::new() };
                    p2p.peer_info()
                        .into_iter()
                        .map(|p| {
                            let peer_id = p.peer_id.to_string();
                            let validator = validators.get(&peer_id).cloned();
                            PeerSummary {
                                role: if validator.is_some() {
                                    "validator"
                                } else {
                                    "full"
                                }
                                .to_string(),
                                validator,
                                peer_id,
                                address: p.address.to_string(),
                                latency_ms: p.rtt.map(|d| d.as_secs_f64() * 1000.0),
                                agent: p.agent,
                            }
                        })
                        .collect()
                })
            },
            // Gossiped in batches (see `tx_gossip`).
            gossip_tx: crate::tx_gossip::start(network.clone()),
            networked: config.network.is_some(),
        },
    )
    .await
    .map_err(|source| NodeError::Listen {
        what: "RPC server",
        addr: config.rpc_addr,
        source,
    })?;
    let metrics_task = match config.metrics_addr {
        None => None,
        Some(addr) => Some(crate::metrics::serve(addr, metrics.clone()).await.map_err(
            |source| NodeError::Listen {
                what: "metrics endpoint",
                addr,
                source,
            },
        )?),
    };
    tracing::info!(
        chain_id = chain.chain_id(),
        genesis = %chain.genesis_hash(),
        head = head.height,
        base_path = %config.base_path.display(),
        "chain opened"
    );
    tracing::info!("RPC listening on {rpc_addr}");
    if let Some((addr, _)) = &metrics_task {
        tracing::info!("metrics on http://{addr}/metrics");
    }
    on_listening(Listening {
        rpc: rpc_addr,
        metrics: metrics_task.as_ref().map(|(a, _)| *a),
    });

    // Ranges served at once, at most (each reads up to 16 MiB of blocks).
    let serving = Arc::new(tokio::sync::Semaphore::new(crate::sync::MAX_SERVING));
    tokio::pin!(shutdown);
    // A HotStuff node on a network catches up from its peers' stores: first, and whenever its
    // consensus is stuck behind them.
    let catching = match (&config.consensus, &p2p) {
        (ConsensusMode::HotStuff { .. }, Some(_)) => Some(Catching {
            network: &network,
            chain: &chain,
            serving: &serving,
            metrics: &metrics,
            syncing: &syncing,
        }),
        _ => None,
    };
    // Messages that came in while catching up, for the loop to take up.
    let mut kept: Vec<Inbound> = Vec::new();
    if let (Some(catching), Some(hs)) = (&catching, &hotstuff) {
        let verifier = hs.verifier();
        tokio::select! {
            _ = &mut shutdown => {
                tracing::info!("stopping during sync");
                let _ = rpc_handle.stop();
                rpc_handle.stopped().await;
                if let Some((_, task)) = metrics_task {
                    task.abort();
                }
                return Ok(());
            }
            _ = catching.run(&mut inbound, &verifier, &mut kept) => {}
        };
    }
    let head = chain.head();
    let mut consensus: Box<dyn Consensus> = match &config.consensus {
        ConsensusMode::DevSealer => {
            Box::new(DevSealer::new(config.block_time_ms, config.proposer, &head))
        }
        ConsensusMode::HotStuff { .. } => {
            let hs = hotstuff
                .clone()
                .expect("HotStuff's configuration is made for HotStuff");
            Box::new(crate::validator::open(&chain, hs, identity, now_ms())?)
        }
    };

    let (jobs, worker) = ExecutionWorker::start(chain.clone(), metrics.clone())?;
    let admission = crate::gossip_admission::GossipAdmission::start(chain.clone(), metrics.clone())
        .map_err(|e| NodeError::Task(format!("cannot start the gossip admission thread: {e}")))?;
    let ExecutionWorker {
        handle: worker_handle,
        mut done,
    } = worker;
    let tick = match config.consensus {
        ConsensusMode::DevSealer => Duration::from_millis((config.block_time_ms / 4).clamp(5, 50)),
        ConsensusMode::HotStuff { .. } => Duration::from_millis(20),
    };
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_expiry = now_ms();
    let mut last_future_warning = 0;
    // The committed round consensus last reported and since when, and the last resync.
    let mut watched = (0u64, std::time::Instant::now());
    let mut last_resync: Option<std::time::Instant> = None;
    let result = loop {
        let mut inputs = Vec::new();
        for message in kept.drain(..) {
            match message {
                Inbound::Message {
                    topic: Topic::Transactions,
                    payload,
                    ..
                } => admission.offer(payload),
                Inbound::Message {
                    from,
                    topic,
                    payload,
                } => inputs.push(ConsensusInput::Message {
                    from,
                    topic,
                    payload,
                }),
                _ => {}
            }
        }
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            _ = interval.tick() => {
                let now = now_ms();
                inputs.push(ConsensusInput::Tick { now_ms: now });
                let head = chain.head();
                if head.timestamp_ms > now && now.saturating_sub(last_future_warning) >= 60_000 {
                    last_future_warning = now;
                    tracing::warn!(
                        height = head.height,
                        ahead = %crate::genesis::human_ms(head.timestamp_ms - now),
                        "not sealing: the head's timestamp lies in the future, and no block can follow it before then"
                    );
                }
                if now.saturating_sub(last_expiry) >= 10_000 {
                    last_expiry = now;
                    chain.expire_pool(now);
                }
                let (ready, future) = chain.pool_counts();
                metrics.pool(ready, future);
                if let Some(p2p) = &p2p {
                    metrics.network(network.peers().len(), p2p.stats().snapshot());
                }
            }
            Some(message) = inbound.recv() => match message {
                Inbound::Message { topic: Topic::Transactions, payload, .. } => {
                    // Validated (decoded, signed) before it was delivered; the pool decides,
                    // on the admission thread.
                    admission.offer(payload);
                }
                Inbound::Message { from, topic, payload } => {
                    inputs.push(ConsensusInput::Message { from, topic, payload })
                }
                Inbound::Request { id, protocol: Protocol::CommittedRange, payload, .. } => {
                    crate::sync::serve_request(&chain, &network, &serving, id, payload)
                }
                // Blocks by id are served by consensus (block retrieval): answered empty.
                Inbound::Request { id, .. } => network.respond(id, Vec::new()),
                // Responses come only while syncing.
                Inbound::Response { .. } => {}
            },
            finished = done.recv() => match finished {
                None => break Err(NodeError::Task("the block execution thread died".into())),
                Some(Done::Failed(e)) => break Err(NodeError::Chain(e)),
                Some(Done::Input(input)) => inputs.push(input),
                Some(Done::Nothing) => {}
                Some(Done::Committed(blocks, failure)) => {
                    for b in blocks {
                        metrics.block(
                            b.header.height,
                            b.execution_seconds + b.commit_seconds,
                            b.header.gas_used,
                            b.transactions,
                        );
                        metrics.finalized(b.header.height);
                        tracing::info!(
                            height = b.header.height,
                            txs = b.transactions,
                            gas = b.header.gas_used,
                            ms = ((b.execution_seconds + b.commit_seconds) * 1000.0).round() as u64,
                            hash = %b.header.hash(),
                            "sealed block"
                        );
                        inputs.push(ConsensusInput::Committed { header: b.header });
                    }
                    if let Some(reason) = failure {
                        let block = match &reason {
                            CommitFailure::NotPending(id) => *id,
                            CommitFailure::NotOnHead { block, .. } => *block,
                        };
                        inputs.push(ConsensusInput::CommitFailed { block, reason });
                    }
                }
            },
        }
        for input in inputs {
            for output in consensus.handle(input) {
                match output {
                    ConsensusOutput::Broadcast { topic, payload } => {
                        network.broadcast(topic, payload)
                    }
                    ConsensusOutput::Send { to, topic, payload } => {
                        network.send(&to, topic, payload)
                    }
                    // Build, Verify, Commit and Prune: the execution thread's work.
                    job => jobs.send(job),
                }
            }
        }
        if let Some(now) = consensus.progress() {
            metrics.consensus(now);
            *progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(now);
            if now.committed_round != watched.0 {
                watched = (now.committed_round, std::time::Instant::now());
            }
            // Blocks it heard of and cannot fetch (a round without a quorum, where no peer is
            // ahead, is not a reason: it would only take the node away from the round).
            let behind = now.missing_blocks > 0;
            if let (Some(catching), Some(hs), true) = (&catching, &hotstuff, behind)
                && watched.1.elapsed() >= RESYNC_AFTER
                && last_resync.is_none_or(|at| at.elapsed() >= RESYNC_AFTER)
            {
                last_resync = Some(std::time::Instant::now());
                tracing::info!(
                    committed_round = now.committed_round,
                    high_qc_round = now.high_qc_round,
                    missing = now.missing_blocks,
                    "consensus is stuck behind its peers: syncing committed blocks from their stores"
                );
                if catching.run(&mut inbound, &hs.verifier(), &mut kept).await > 0 {
                    let head = chain.head();
                    // Consensus starts again on the new head, as after a restart: the old one
                    // (and its hold on the safety record) goes first.
                    drop(consensus);
                    let restarted = open_identity(&config, &chain, hs).and_then(|identity| {
                        Ok(crate::validator::open(
                            &chain,
                            hs.clone(),
                            identity,
                            now_ms(),
                        )?)
                    });
                    match restarted {
                        Ok(hotstuff) => consensus = Box::new(hotstuff),
                        Err(e) => break Err(e),
                    }
                    tracing::info!(height = head.height, "consensus restarted after the sync");
                }
                watched = (watched.0, std::time::Instant::now());
            }
        }
    };
    // The worker ends after its current job (a block being built or committed is finished;
    // one built and not yet committed is left: it was never final).
    drop(jobs);
    let _ = tokio::task::spawn_blocking(move || worker_handle.join()).await;
    let _ = tokio::task::spawn_blocking(move || drop(admission)).await;
    tracing::info!("stopping: closing the RPC server and the database");
    let _ = rpc_handle.stop();
    rpc_handle.stopped().await;
    if let Some((_, task)) = metrics_task {
        task.abort();
    }
    // The last reference to the chain closes the store; ParityDB flushes what was committed.
    drop(chain);
    result
}

/// Messages from the network queued for the service loop at most; beyond, they are dropped
/// (delivery is never guaranteed; consensus retries).
const INBOUND_QUEUE: usize = 16_384;

/// Hands the network's inbound messages to the service loop without blocking the network.
struct QueueSink(tokio::sync::mpsc::Sender<Inbound>);

impl InboundSink for QueueSink {
    fn deliver(&self, inbound: Inbound) {
        if self.0.try_send(inbound).is_err() {
            tracing::debug!("the inbound queue is full: a network message was dropped");
        }
    }
}

/// The node's verdict on gossip before it is forwarded: a transaction must decode (no
/// trailing bytes) and carry a valid signature; a consensus message must decode, within its
/// size, with a body of its topic. Signatures of consensus messages are checked by consensus.
struct NodeGossip {
    /// The chain's verified-signature cache: a gossiped transaction's signature is checked
    /// here once, and neither the pool's admission nor block execution checks it again.
    verified: Arc<aether_engine::signatures::VerifiedSignatures>,
    /// Under HotStuff: what checks consensus messages' signatures before they are forwarded.
    consensus: Option<ConsensusChecks>,
}

/// Checks a gossiped consensus message's signatures, certificates and VRF proof with the
/// verifier consensus itself uses (their verification cache is shared: what passes here is not
/// checked again there), so that a peer cannot have honest nodes forward forgeries.
struct ConsensusChecks {
    verifier: aether_consensus::certs::Verifier,
    schedule: aether_consensus::leader::LeaderSchedule,
    vrf_keys: Vec<[u8; 32]>,
    /// The first proposal seen of each author and round: any validator can sign proposals
    /// (whether it leads a round depends on the blocks it extends, which only consensus
    /// knows), so a second one of the same author and round is not forwarded.
    first_proposals: std::sync::Mutex<FirstProposals>,
}

/// The first proposal id seen per (round, author), for the last [`FirstProposals::KEPT`] pairs.
#[derive(Default)]
struct FirstProposals(std::collections::BTreeMap<(u64, u32), [u8; 32]>);

impl FirstProposals {
    const KEPT: usize = 1_024;

    /// Whether proposal `id` is the first seen of `author` in `round` (or that one again).
    fn first(&mut self, round: u64, author: u32, id: [u8; 32]) -> bool {
        let first = *self.0.entry((round, author)).or_insert(id) == id;
        while self.0.len() > Self::KEPT {
            self.0.pop_first();
        }
        first
    }
}

impl ConsensusChecks {
    fn new(config: &aether_consensus::hotstuff::HotStuffConfig) -> Self {
        Self {
            verifier: config.verifier(),
            schedule: aether_consensus::leader::LeaderSchedule::new(
                config.seed,
                config.validators.len(),
            ),
            vrf_keys: config.vrf_keys.clone(),
            first_proposals: Default::default(),
        }
    }

    fn judge(&self, message: &aether_consensus::hotstuff::Message) -> Acceptance {
        use aether_consensus::hotstuff::Body;
        use aether_consensus::proposal::{ProposalError, verify_proposal};
        let sync = &message.sync;
        let certificates_hold = self.verifier.qc(sync.high_qc.clone()).is_ok()
            && sync
                .high_commit_qc
                .as_ref()
                .is_none_or(|qc| self.verifier.qc(qc.clone()).is_ok())
            && sync
                .high_tc
                .as_ref()
                .is_none_or(|tc| self.verifier.tc(tc.clone()).is_ok());
        if !certificates_hold {
            return Acceptance::Reject;
        }
        match &message.body {
            Body::Proposal(p) => match verify_proposal(
                &self.verifier,
                &self.schedule,
                &self.vrf_keys,
                (**p).clone(),
            ) {
                Ok(v) => {
                    let first = self
                        .first_proposals
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .first(p.round, p.author, v.id());
                    if first {
                        Acceptance::Accept
                    } else {
                        // An equivocation, or a flood: consensus takes a second one only if
                        // a QC names it, and fetches it then.
                        Acceptance::Ignore
                    }
                }
                // Another epoch's: not this node's to judge.
                Err(ProposalError::WrongEpoch { .. }) => Acceptance::Ignore,
                Err(_) => Acceptance::Reject,
            },
            Body::Timeout(t) => match self.verifier.timeout((**t).clone()) {
                Ok(_) => Acceptance::Accept,
                Err(_) => Acceptance::Reject,
            },
            _ => Acceptance::Accept,
        }
    }
}

impl GossipValidator for NodeGossip {
    fn validate(&self, topic: Topic, payload: &[u8]) -> Acceptance {
        match topic {
            // A batch (see `tx_gossip`): every transaction in it must be signed; a peer
            // forwards only transactions it verified, so one bad signature condemns the batch.
            // A batch with no transaction this node has not seen is ignored (not delivered,
            // not forwarded, no penalty): honest nodes gossip what reaches them over RPC once,
            // so it is a batch seen in another grouping, and replaying or regrouping others'
            // transactions costs a hash each, no signature check and no pool work.
            Topic::Transactions => {
                let Ok(txs) = crate::tx_gossip::decode_batch(payload) else {
                    return Acceptance::Reject;
                };
                let mut new = false;
                for tx in &txs {
                    let hash = tx.hash();
                    if self.verified.contains(&hash) {
                        continue;
                    }
                    if !tx.verify_signature() {
                        return Acceptance::Reject;
                    }
                    self.verified.insert(hash);
                    new = true;
                }
                if new {
                    Acceptance::Accept
                } else {
                    Acceptance::Ignore
                }
            }
            Topic::Proposals | Topic::Timeouts => {
                use aether_consensus::hotstuff::{Body, Message};
                let Ok(message) =
                    Message::decode_bounded(payload, crate::validator::MAX_MESSAGE_BYTES)
                else {
                    return Acceptance::Reject;
                };
                let on_its_topic = match message.body {
                    Body::Proposal(_) => topic == Topic::Proposals,
                    Body::Timeout(_) | Body::Sync => topic == Topic::Timeouts,
                    _ => false,
                };
                if !on_its_topic {
                    return Acceptance::Reject;
                }
                match &self.consensus {
                    Some(checks) => checks.judge(&message),
                    None => Acceptance::Accept,
                }
            }
            // Votes go straight to the next leader, never by gossip.
            Topic::Votes => Acceptance::Reject,
        }
    }
}

/// What catching up from peers' stores uses and reports to.
struct Catching<'a> {
    network: &'a Arc<dyn Network>,
    chain: &'a Arc<Chain>,
    serving: &'a Arc<tokio::sync::Semaphore>,
    metrics: &'a Metrics,
    syncing: &'a std::sync::atomic::AtomicBool,
}

impl Catching<'_> {
    /// Syncs committed blocks from peers' stores ([`crate::sync::catch_up`]), reported as
    /// syncing meanwhile (`system_health`, metrics); returns the blocks committed.
    async fn run(
        &self,
        inbound: &mut tokio::sync::mpsc::Receiver<Inbound>,
        verifier: &aether_consensus::certs::Verifier,
        kept: &mut Vec<Inbound>,
    ) -> u64 {
        self.syncing
            .store(true, std::sync::atomic::Ordering::Release);
        self.metrics.syncing(true);
        let synced = crate::sync::catch_up(
            self.network,
            inbound,
            self.chain,
            verifier,
            self.serving,
            kept,
            |blocks, head| self.metrics.synced(blocks, head),
        )
        .await;
        self.syncing
            .store(false, std::sync::atomic::Ordering::Release);
        self.metrics.syncing(false);
        if synced > 0 {
            let head = self.chain.head();
            self.metrics.block(head.height, 0.0, head.gas_used, 0);
            self.metrics.finalized(self.chain.finalized_height());
        }
        synced
    }
}

/// The signing identity of the validator `config` runs as (none for a follower or the dev
/// sealer), its safety record opened from the base path.
fn open_identity(
    config: &NodeConfig,
    chain: &Chain,
    hs: &HotStuffConfig,
) -> Result<
    Option<aether_consensus::hotstuff::Identity<crate::safety_store::DurableSafety>>,
    NodeError,
> {
    let ConsensusMode::HotStuff {
        validator,
        reset_safety_record,
        ..
    } = &config.consensus
    else {
        return Ok(None);
    };
    let keys = validator
        .as_ref()
        .map(ValidatorKeySource::consensus_keys)
        .transpose()?;
    Ok(crate::validator::open_identity(
        chain,
        hs,
        keys,
        &config.base_path.join("consensus"),
        *reset_safety_record,
    )?)
}

/// Starts the libp2p network: the node's key (the dev validator's, or the one in the base
/// path), its chain's protocol version, the listen addresses and bootnodes.
fn start_network(
    settings: &NetworkSettings,
    config: &NodeConfig,
    chain: &Chain,
    hotstuff: Option<&aether_consensus::hotstuff::HotStuffConfig>,
) -> Result<Libp2pNetwork, NodeError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| NodeError::Network(format!("{what}: {e}"));
    let key = match &settings.key {
        Some(source) => source.network_key()?,
        None => aether_net::p2p::key::load_or_create(
            &config.base_path.join("network").join("secret_ed25519"),
        )
        .map_err(|e| NodeError::Network(e.to_string()))?,
    };
    let parse = |list: &[String], what: &str| -> Result<Vec<aether_net::p2p::Address>, NodeError> {
        list.iter()
            .map(|a| a.parse().map_err(|e| bad(&format!("{what} `{a}`"), &e)))
            .collect()
    };
    let bootnodes = parse(&settings.bootnodes, "bootnode")?;
    if let Some(b) = bootnodes.iter().find(|b| {
        !b.iter()
            .any(|p| matches!(p, aether_net::p2p::AddressPart::P2p(_)))
    }) {
        return Err(NodeError::Network(format!(
            "bootnode `{b}` does not say who it is: end it with /p2p/<peer id>"
        )));
    }
    let network = Libp2pNetwork::start(P2pConfig {
        key,
        listen: parse(&settings.listen, "listen address")?,
        bootnodes,
        peer_store: Some(config.base_path.join("network").join("peers")),
        discovery: true,
        protocol_version: format!("/aether/{}/{}", chain.chain_id(), chain.genesis_hash()),
        agent: format!("aether/{} ({})", env!("CARGO_PKG_VERSION"), settings.name),
        validator: Arc::new(NodeGossip {
            verified: chain.verified_signatures().clone(),
            consensus: hotstuff.map(ConsensusChecks::new),
        }),
        limits: aether_net::p2p::Limits {
            max_message_bytes: crate::validator::MAX_MESSAGE_BYTES,
            ..Default::default()
        },
    })
    .map_err(|e| NodeError::Network(e.to_string()))?;
    tracing::info!(peer_id = %network.local_peer_id(), name = %settings.name, "network started");
    Ok(network)
}

/// What the execution thread hands back.
enum Done {
    /// An answer for consensus.
    Input(ConsensusInput),
    /// Blocks committed (consensus hears of each), and why the next one of the list was
    /// not.
    Committed(Vec<CommittedBlock>, Option<CommitFailure>),
    /// A job without an answer.
    Nothing,
    /// The chain failed (storage, say): the node stops.
    Failed(ChainError),
}

/// Sends jobs (the execution outputs of consensus) to the execution thread.
struct Jobs(std::sync::mpsc::Sender<ConsensusOutput>);

impl Jobs {
    fn send(&self, job: ConsensusOutput) {
        // The thread only hangs up after it failed, which `Done` reports.
        let _ = self.0.send(job);
    }
}

/// The thread that builds, verifies and commits blocks, off the consensus loop: a thread of
/// its own, not the blocking pool RPC calls share, so a flood of RPC calls cannot delay blocks.
struct ExecutionWorker {
    handle: std::thread::JoinHandle<()>,
    done: tokio::sync::mpsc::UnboundedReceiver<Done>,
}

impl ExecutionWorker {
    fn start(chain: Arc<Chain>, metrics: Arc<Metrics>) -> Result<(Jobs, Self), NodeError> {
        let (jobs, inbox) = std::sync::mpsc::channel::<ConsensusOutput>();
        let (results, done) = tokio::sync::mpsc::unbounded_channel();
        let handle = std::thread::Builder::new()
            .name("block-execution".into())
            .spawn(move || {
                for job in inbox {
                    let finished = run_job(&chain, &metrics, job);
                    let failed = matches!(finished, Done::Failed(_));
                    if results.send(finished).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| NodeError::Task(e.to_string()))?;
        Ok((Jobs(jobs), Self { handle, done }))
    }
}

fn run_job(chain: &Chain, metrics: &Metrics, job: ConsensusOutput) -> Done {
    let started = std::time::Instant::now();
    let answer = match job {
        ConsensusOutput::Build {
            parent,
            height,
            timestamp_ms,
            proposer,
        } => chain
            .build(parent, height, timestamp_ms, proposer)
            .map(|built| match built {
                Ok(block) => {
                    metrics.block_step(BlockStep::Build, started.elapsed().as_secs_f64());
                    ConsensusInput::Built { block }
                }
                Err(reason) => {
                    tracing::warn!(%parent, %reason, "could not build a block");
                    ConsensusInput::BuildFailed { parent, reason }
                }
            }),
        ConsensusOutput::Verify { block } => {
            let id = block.header.hash();
            chain.verify(&block, now_ms()).map(|verdict| {
                match &verdict {
                    Verdict::Valid => {
                        metrics.block_step(BlockStep::Verify, started.elapsed().as_secs_f64())
                    }
                    Verdict::Invalid(reason) => {
                        tracing::warn!(block = %id, %reason, "refused an invalid block")
                    }
                    Verdict::NotYet(reason) => {
                        tracing::info!(block = %id, %reason, "cannot verify a block yet")
                    }
                }
                ConsensusInput::Verified { id, verdict }
            })
        }
        ConsensusOutput::Commit { blocks, proof } => {
            return match chain.commit(&blocks, &proof) {
                Ok((committed, failure)) => {
                    for b in &committed {
                        metrics.block_step(BlockStep::Commit, b.commit_seconds);
                    }
                    if let Some(reason) = &failure {
                        tracing::warn!(%reason, "could not commit a block");
                    }
                    Done::Committed(committed, failure)
                }
                Err(e) => Done::Failed(e),
            };
        }
        ConsensusOutput::Prune { keep } => {
            chain.prune(&keep);
            return Done::Nothing;
        }
        // Network outputs are the service loop's, never sent here.
        ConsensusOutput::Broadcast { .. } | ConsensusOutput::Send { .. } => return Done::Nothing,
    };
    match answer {
        Ok(input) => Done::Input(input),
        Err(e) => Done::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_consensus::certs::{Timeout, TimeoutData};
    use aether_consensus::hotstuff::{Body, Message, SyncInfo};
    use parity_scale_codec::Encode;

    #[test]
    fn a_gossiped_batch_is_forwarded_only_if_every_transaction_in_it_is_signed_and_one_is_new() {
        use aether_engine::types::SignedTransaction;
        let gossip = NodeGossip {
            verified: Arc::new(aether_engine::signatures::VerifiedSignatures::new(16)),
            consensus: None,
        };
        let signed = |nonce| crate::test_support::signed_transfer("bob", 7, nonce);
        let good: Vec<SignedTransaction> = (0..3).map(signed).collect();
        assert_eq!(
            gossip.validate(Topic::Transactions, &good.encode()),
            Acceptance::Accept
        );
        let mut forged = good.clone();
        forged[1].tx.nonce = 99;
        assert_eq!(
            gossip.validate(Topic::Transactions, &forged.encode()),
            Acceptance::Reject,
            "one transaction whose signature does not hold condemns the batch"
        );
        // One transaction alone, not in a list, is the old format: refused.
        assert_eq!(
            gossip.validate(Topic::Transactions, &good[0].encode()),
            Acceptance::Reject
        );
        // Seen already, as sent or regrouped: ignored (neither delivered nor forwarded, no
        // penalty); one new transaction in it makes it a batch to forward.
        assert_eq!(
            gossip.validate(Topic::Transactions, &good.encode()),
            Acceptance::Ignore
        );
        let regrouped = vec![good[2].clone(), good[0].clone()];
        assert_eq!(
            gossip.validate(Topic::Transactions, &regrouped.encode()),
            Acceptance::Ignore
        );
        let with_new = vec![good[1].clone(), signed(3)];
        assert_eq!(
            gossip.validate(Topic::Transactions, &with_new.encode()),
            Acceptance::Accept
        );
    }

    #[test]
    fn only_the_first_proposal_of_an_author_for_a_round_is_forwarded() {
        let mut seen = FirstProposals::default();
        assert!(seen.first(5, 1, [1; 32]));
        assert!(seen.first(5, 1, [1; 32]), "the same proposal again");
        assert!(
            !seen.first(5, 1, [2; 32]),
            "a second of author 1 in round 5"
        );
        assert!(seen.first(5, 2, [2; 32]), "another author");
        assert!(seen.first(6, 1, [2; 32]), "another round");
        for round in 0..2_000 {
            seen.first(1_000 + round, 0, [3; 32]);
        }
        assert_eq!(seen.0.len(), FirstProposals::KEPT, "bounded");
        assert!(seen.first(5, 1, [2; 32]), "old rounds are forgotten");
    }

    #[test]
    fn forged_consensus_messages_are_rejected_before_they_are_forwarded() {
        let genesis = crate::genesis::Genesis::dev();
        let hs = crate::validator::config(&genesis, 1000).unwrap();
        let gossip = NodeGossip {
            verified: Arc::new(aether_engine::signatures::VerifiedSignatures::new(16)),
            consensus: Some(ConsensusChecks::new(&hs)),
        };
        let genesis_qc = hs.verifier().genesis_qc().get().clone();
        let data = TimeoutData {
            epoch: hs.epoch,
            round: 1,
            hqc_round: 0,
        };
        // The dev chain's validator, alice, signs a timeout of round 1.
        let key = crate::validator::ValidatorKeys::dev("alice").bls;
        let timeout = Timeout {
            signature: key.sign(&data.signing_bytes()),
            data,
            high_qc: genesis_qc.clone(),
            signer: 0,
        };
        let message = |t: Timeout| {
            Message {
                sync: SyncInfo {
                    high_qc: genesis_qc.clone(),
                    high_commit_qc: None,
                    high_tc: None,
                },
                body: Body::Timeout(Box::new(t)),
            }
            .encode()
        };
        assert_eq!(
            gossip.validate(Topic::Timeouts, &message(timeout.clone())),
            Acceptance::Accept
        );
        // The same signature over another round: a forgery, neither delivered nor forwarded.
        let mut forged = timeout.clone();
        forged.data.round = 2;
        assert_eq!(
            gossip.validate(Topic::Timeouts, &message(forged)),
            Acceptance::Reject
        );
        // A genuine message on a topic it does not belong to is refused too.
        assert_eq!(
            gossip.validate(Topic::Proposals, &message(timeout)),
            Acceptance::Reject
        );
    }
}
