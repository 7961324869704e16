//! Prometheus metrics (prometheus-client) and the HTTP endpoint that serves them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabel {
    method: &'static str,
    outcome: &'static str,
}

/// The error codes the RPC answers, as the `outcome` label (static: no allocation per call).
const ERROR_CODES: &[&str] = &[
    "-32700", "-32600", "-32601", "-32602", "-32603", "-32010", "-32011", "-32012", "-32013",
    "-32014", "-32015", "-32016", "-32017", "-32018", "-32019", "-32020", "-32021", "-32022",
    "-32023", "-32024", "-32025", "-32026", "-32030", "-32031", "-32032", "-32033", "-32034",
    "-32035",
];

/// The `outcome` label of an answer: `ok`, its error code, or `other` for a code not listed.
fn outcome(error: Option<i32>) -> &'static str {
    let Some(code) = error else { return "ok" };
    ERROR_CODES
        .iter()
        .copied()
        .find(|c| c.parse() == Ok(code))
        .unwrap_or("other")
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabel {
    step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TrafficLabel {
    topic: &'static str,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

/// The network's metrics, and the counters last exported (they grow by the difference).
struct NetMetrics {
    peers: Gauge,
    messages: Family<TrafficLabel, Counter>,
    bytes: Family<DirectionLabel, Counter>,
    penalties: Counter,
    bans: Counter,
    dropped: Counter,
    last: std::sync::Mutex<aether_net::p2p::NetCounters>,
}

/// Consensus progress: rounds as gauges, the engine's counters as counters (they grow by the
/// difference from the last export).
struct ConsensusMetrics {
    round: Gauge,
    high_qc_round: Gauge,
    committed_round: Gauge,
    pending_blocks: Gauge,
    timeouts: Counter,
    tcs: Counter,
    refused: Counter,
    last: std::sync::Mutex<aether_engine::ports::ConsensusProgress>,
}

/// A step of a block's life on this node, timed separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockStep {
    /// Building a block from the pool (execution and state root included).
    Build,
    /// Verifying a block (execution and state root included).
    Verify,
    /// Committing a block to the store.
    Commit,
}

/// The node's metrics, all prefixed `aether_`.
pub struct Metrics {
    registry: Registry,
    best_height: Gauge,
    finalized_height: Gauge,
    pool: Family<QueueLabel, Gauge>,
    block_seconds: Histogram,
    block_gas: Histogram,
    block_txs: Histogram,
    block_steps: Family<StepLabel, Histogram>,
    rpc_requests: Family<RequestLabel, Counter>,
    rpc_connections: Family<TransportLabel, Gauge>,
    rpc_limit_hits: Family<LimitLabel, Counter>,
    pool_rejections: Family<ReasonLabel, Counter>,
    process_cpu: prometheus_client::metrics::gauge::Gauge<f64, std::sync::atomic::AtomicU64>,
    process_memory: Gauge,
    net: NetMetrics,
    consensus: ConsensusMetrics,
    syncing: Gauge,
    synced_blocks: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("aether");
        let best_height = Gauge::default();
        let finalized_height = Gauge::default();
        let pool = Family::<QueueLabel, Gauge>::default();
        let block_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 16));
        let block_gas = Histogram::new(exponential_buckets(10_000.0, 4.0, 10));
        let block_txs = Histogram::new(exponential_buckets(1.0, 4.0, 9));
        let rpc_requests = Family::<RequestLabel, Counter>::default();
        let rpc_connections = Family::<TransportLabel, Gauge>::default();
        let rpc_limit_hits = Family::<LimitLabel, Counter>::default();
        let pool_rejections = Family::<ReasonLabel, Counter>::default();
        let process_cpu = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let process_memory = Gauge::default();
        let block_steps = Family::<StepLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
        });
        registry.register(
            "best_height",
            "Height of the best (head) block",
            best_height.clone(),
        );
        registry.register(
            "finalized_height",
            "Height of the highest final block",
            finalized_height.clone(),
        );
        registry.register(
            "pool_transactions",
            "Transactions in the pool, by queue (ready, future)",
            pool.clone(),
        );
        registry.register(
            "block_execution_seconds",
            "Time to build, execute and commit a block",
            block_seconds.clone(),
        );
        registry.register("block_gas_used", "Gas used per block", block_gas.clone());
        registry.register(
            "block_transactions",
            "Transactions per block",
            block_txs.clone(),
        );
        registry.register(
            "rpc_requests",
            "RPC calls, by method (`unknown` for a name the node does not serve) and outcome \
             (`ok`, or the JSON-RPC error code)",
            rpc_requests.clone(),
        );
        registry.register(
            "rpc_connections",
            "Open RPC connections, by transport (http: requests being served, ws: WebSockets)",
            rpc_connections.clone(),
        );
        registry.register(
            "rpc_limit_hits",
            "Connections and requests the RPC server refused at a limit, by limit",
            rpc_limit_hits.clone(),
        );
        registry.register(
            "pool_rejections",
            "Transactions the pool refused, by reason",
            pool_rejections.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "CPU time the node used (user and system, all threads)",
            process_cpu.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "The node's resident memory",
            process_memory.clone(),
        );
        registry.register(
            "block_step_seconds",
            "Time of each step of a block on this node, by step (build, verify, commit)",
            block_steps.clone(),
        );
        let net = NetMetrics {
            peers: Gauge::default(),
            messages: Family::default(),
            bytes: Family::default(),
            penalties: Counter::default(),
            bans: Counter::default(),
            dropped: Counter::default(),
            last: Default::default(),
        };
        registry.register("net_peers", "Connected peers", net.peers.clone());
        registry.register(
            "net_messages",
            "Network messages, by topic and direction (in, out)",
            net.messages.clone(),
        );
        registry.register(
            "net_bytes",
            "Network payload bytes, by direction (in, out)",
            net.bytes.clone(),
        );
        registry.register(
            "net_penalties",
            "Penalties given to peers (invalid, undecodable, flooding, another chain)",
            net.penalties.clone(),
        );
        registry.register("net_bans", "Peers banned", net.bans.clone());
        registry.register(
            "net_dropped",
            "Network messages dropped (no peer, queue full, over a limit)",
            net.dropped.clone(),
        );
        let consensus = ConsensusMetrics {
            round: Gauge::default(),
            high_qc_round: Gauge::default(),
            committed_round: Gauge::default(),
            pending_blocks: Gauge::default(),
            timeouts: Counter::default(),
            tcs: Counter::default(),
            refused: Counter::default(),
            last: Default::default(),
        };
        for (name, help, gauge) in [
            (
                "consensus_round",
                "The consensus round this node is in",
                &consensus.round,
            ),
            (
                "consensus_high_qc_round",
                "The round of the highest quorum certificate held",
                &consensus.high_qc_round,
            ),
            (
                "consensus_committed_round",
                "The round of the last committed block",
                &consensus.committed_round,
            ),
            (
                "consensus_pending_blocks",
                "Proposals held and not yet committed",
                &consensus.pending_blocks,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        for (name, help, counter) in [
            (
                "consensus_timeouts_signed",
                "Timeouts this validator signed (rounds it gave up on)",
                &consensus.timeouts,
            ),
            (
                "consensus_tcs_formed",
                "Timeout certificates formed here",
                &consensus.tcs,
            ),
            (
                "consensus_refused",
                "Consensus messages, proposals and certificates refused",
                &consensus.refused,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        let syncing = Gauge::default();
        let synced_blocks = Counter::default();
        registry.register(
            "syncing",
            "1 while the node catches up from its peers' stores at start, else 0",
            syncing.clone(),
        );
        registry.register(
            "sync_blocks",
            "Committed blocks fetched from peers, checked and committed by catching up",
            synced_blocks.clone(),
        );
        Self {
            net,
            consensus,
            syncing,
            synced_blocks,
            registry,
            best_height,
            finalized_height,
            pool,
            block_seconds,
            block_gas,
            block_txs,
            block_steps,
            rpc_requests,
            rpc_connections,
            rpc_limit_hits,
            pool_rejections,
            process_cpu,
            process_memory,
        }
    }

    /// Records whether the node is catching up from its peers.
    pub fn syncing(&self, on: bool) {
        self.syncing.set(i64::from(on));
    }

    /// Records blocks catching up committed, and the head they reached.
    pub fn synced(&self, blocks: u64, head: u64) {
        self.synced_blocks.inc_by(blocks);
        self.best_height.set(head as i64);
        self.finalized_height.set(head as i64);
    }

    /// Records where consensus stands.
    pub fn consensus(&self, now: aether_engine::ports::ConsensusProgress) {
        let c = &self.consensus;
        c.round.set(now.round as i64);
        c.high_qc_round.set(now.high_qc_round as i64);
        c.committed_round.set(now.committed_round as i64);
        c.pending_blocks.set(now.pending_blocks as i64);
        let mut last = c
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        c.timeouts
            .inc_by(now.timeouts_signed.saturating_sub(last.timeouts_signed));
        c.tcs.inc_by(now.tcs_formed.saturating_sub(last.tcs_formed));
        c.refused.inc_by(now.refused.saturating_sub(last.refused));
        *last = now;
    }

    /// Records how long one step of a block took.
    pub fn block_step(&self, step: BlockStep, seconds: f64) {
        let step = match step {
            BlockStep::Build => "build",
            BlockStep::Verify => "verify",
            BlockStep::Commit => "commit",
        };
        self.block_steps
            .get_or_create(&StepLabel { step })
            .observe(seconds);
    }

    /// Counts one RPC call of `method` (a name the server offers, or `unknown`) and its outcome:
    /// none for success, else the error code it answered.
    pub fn rpc_request(&self, method: &'static str, error: Option<i32>) {
        self.rpc_requests
            .get_or_create(&RequestLabel {
                method,
                outcome: outcome(error),
            })
            .inc();
    }

    /// The counter of `method`'s successful calls, to keep (it counts in the family).
    pub fn rpc_ok_counter(&self, method: &'static str) -> Counter {
        self.rpc_requests
            .get_or_create(&RequestLabel {
                method,
                outcome: "ok",
            })
            .clone()
    }

    /// The gauge of open RPC connections of `transport` (`http` or `ws`), to keep and move.
    pub fn rpc_connections(&self, transport: &'static str) -> Gauge {
        self.rpc_connections
            .get_or_create(&TransportLabel { transport })
            .clone()
    }

    /// Counts a refusal at the RPC server's `limit`.
    pub fn rpc_limit_hit(&self, limit: &'static str) {
        self.rpc_limit_hits
            .get_or_create(&LimitLabel { limit })
            .inc();
    }

    /// Counts a transaction the pool refused, by `reason` (the rejection's name).
    pub fn pool_rejection(&self, reason: &'static str) {
        self.pool_rejections
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Records a produced block.
    pub fn block(&self, height: u64, seconds: f64, gas: u64, txs: usize) {
        self.best_height.set(height as i64);
        self.block_seconds.observe(seconds);
        self.block_gas.observe(gas as f64);
        self.block_txs.observe(txs as f64);
    }

    /// Records the network's counters and peers.
    pub fn network(&self, peers: usize, now: aether_net::p2p::NetCounters) {
        let net = &self.net;
        net.peers.set(peers as i64);
        let mut last = net
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, topic) in aether_engine::ports::Topic::ALL.iter().enumerate() {
            let name = topic.name();
            for (direction, now, before) in [
                ("in", now.messages_in[i], last.messages_in[i]),
                ("out", now.messages_out[i], last.messages_out[i]),
            ] {
                net.messages
                    .get_or_create(&TrafficLabel {
                        topic: name,
                        direction,
                    })
                    .inc_by(now.saturating_sub(before));
            }
        }
        for (direction, now, before) in [
            ("in", now.bytes_in, last.bytes_in),
            ("out", now.bytes_out, last.bytes_out),
        ] {
            net.bytes
                .get_or_create(&DirectionLabel { direction })
                .inc_by(now.saturating_sub(before));
        }
        net.penalties
            .inc_by(now.penalties.saturating_sub(last.penalties));
        net.bans.inc_by(now.bans.saturating_sub(last.bans));
        net.dropped.inc_by(now.dropped.saturating_sub(last.dropped));
        *last = now;
    }

    /// Records the final height.
    pub fn finalized(&self, height: u64) {
        self.finalized_height.set(height as i64);
    }

    /// Records the pool's size.
    pub fn pool(&self, ready: usize, future: usize) {
        self.pool
            .get_or_create(&QueueLabel { queue: "ready" })
            .set(ready as i64);
        self.pool
            .get_or_create(&QueueLabel { queue: "future" })
            .set(future as i64);
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        if let Some(cpu) = crate::process_stats::cpu_seconds("self") {
            self.process_cpu.set(cpu);
        }
        if let Some(kib) = crate::process_stats::memory_kib("self", "VmRSS") {
            self.process_memory.set((kib * 1024) as i64);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Serves `GET /metrics` on `addr` until the task is dropped. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors, say: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        let response = if req.uri().path() == "/metrics" {
                            Response::builder()
                                .header(
                                    "content-type",
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )
                                .body(Full::new(Bytes::from(metrics.render())))
                        } else {
                            Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from_static(b"not found; try /metrics\n")))
                        };
                        Ok::<_, Infallible>(response.unwrap_or_default())
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_outcomes_are_labelled_by_code_and_unknown_codes_share_one_label() {
        assert_eq!(outcome(None), "ok");
        assert_eq!(outcome(Some(-32602)), "-32602");
        assert_eq!(outcome(Some(-32035)), "-32035");
        assert_eq!(outcome(Some(12345)), "other");
        let m = Metrics::new();
        m.rpc_request("system_health", Some(-32034));
        assert!(
            m.render().contains(
                "aether_rpc_requests_total{method=\"system_health\",outcome=\"-32034\"} 1"
            )
        );
    }
}
