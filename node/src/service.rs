//! The running node: store, chain, consensus loop, RPC server and metrics endpoint, with a
//! graceful stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aether_consensus::DevSealer;
use aether_engine::ports::{Consensus, ConsensusInput, ConsensusOutput, Network};
use aether_engine::types::Address;
use aether_net::LocalNetwork;
use aether_storage::{Store, StoreConfig};

use crate::chain::{Chain, ChainError};
use crate::genesis::Genesis;
use crate::metrics::Metrics;
use crate::rpc::{self, RpcContext, RpcLimits};

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
    /// Where the metrics endpoint listens (none: off).
    pub metrics_addr: Option<SocketAddr>,
    /// Block time of the dev sealer.
    pub block_time_ms: u64,
    /// Heights of state kept for queries and proofs.
    pub state_history: u64,
    /// The account that receives the fees of the blocks this node seals.
    pub proposer: Address,
}

/// A node failure.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The chain (storage, genesis, execution) failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A server could not start.
    #[error("{what} on {addr}: {source}")]
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
}

/// Where a started node listens.
#[derive(Clone, Copy, Debug)]
pub struct Listening {
    /// The RPC server.
    pub rpc: SocketAddr,
    /// The metrics endpoint.
    pub metrics: Option<SocketAddr>,
}

/// Runs a node until `shutdown` completes: then finishes the block in progress, stops the
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
        },
    )
    .map_err(ChainError::from)?;
    let chain = Arc::new(Chain::open(store, config.genesis.clone())?);
    let metrics = Arc::new(Metrics::new());
    let network = Arc::new(LocalNetwork::new());
    let head = chain.head();
    metrics.block(head.height, 0.0, head.gas_used, 0);
    metrics.finalized(chain.finalized_height());
    let mut consensus =
        DevSealer::new(config.block_time_ms, Some((head.height, head.timestamp_ms)));

    let peers_network = network.clone();
    let (rpc_addr, rpc_handle) = rpc::start(
        config.rpc_addr,
        config.rpc_limits,
        RpcContext {
            chain: chain.clone(),
            metrics: metrics.clone(),
            consensus: consensus.name(),
            peers: Arc::new(move || {
                peers_network
                    .peers()
                    .into_iter()
                    .map(|p| format!("0x{}", hex::encode(p.0)))
                    .collect()
            }),
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

    let tick = Duration::from_millis((config.block_time_ms / 4).clamp(5, 50));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_expiry = now_ms();
    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            _ = interval.tick() => {}
        }
        let now = now_ms();
        let mut inputs = vec![ConsensusInput::Tick { now_ms: now }];
        let mut failed = None;
        while let Some(input) = inputs.pop() {
            for output in consensus.handle(input) {
                match output {
                    ConsensusOutput::Propose { timestamp_ms, .. } => {
                        // A thread of its own, not the blocking pool RPC calls share, so a
                        // flood of RPC calls cannot delay blocks.
                        let producing = chain.clone();
                        let proposer = config.proposer;
                        let (done, produced) = tokio::sync::oneshot::channel();
                        std::thread::Builder::new()
                            .name("block-production".into())
                            .spawn(move || {
                                let _ = done.send(producing.produce(timestamp_ms, proposer));
                            })
                            .map_err(|e| NodeError::Task(e.to_string()))?;
                        let produced = produced.await;
                        match produced {
                            Ok(Ok(p)) => {
                                metrics.block(
                                    p.header.height,
                                    p.seconds,
                                    p.header.gas_used,
                                    p.transactions,
                                );
                                tracing::info!(
                                    height = p.header.height,
                                    txs = p.transactions,
                                    gas = p.header.gas_used,
                                    ms = (p.seconds * 1000.0).round() as u64,
                                    hash = %p.header.hash(),
                                    "sealed block"
                                );
                                inputs.push(ConsensusInput::Committed { header: p.header });
                            }
                            Ok(Err(e)) => failed = Some(NodeError::Chain(e)),
                            Err(_) => {
                                failed =
                                    Some(NodeError::Task("the block production thread died".into()))
                            }
                        }
                    }
                    ConsensusOutput::Finalized { height } => {
                        if let Err(e) = chain.finalize(height) {
                            failed = Some(NodeError::Chain(e));
                        }
                        metrics.finalized(height);
                    }
                    ConsensusOutput::Broadcast { payload } => {
                        network.broadcast("consensus", payload);
                    }
                    ConsensusOutput::Send { to, payload } => network.send(&to, payload),
                }
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        if now.saturating_sub(last_expiry) >= 10_000 {
            last_expiry = now;
            chain.expire_pool(now);
        }
        let (ready, future) = chain.pool_counts();
        metrics.pool(ready, future);
    };
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

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
