//! The JSON-RPC server (jsonrpsee, HTTP and WebSocket on one port). Every method is documented
//! with an example in `docs/rpc.md`; [`METHODS`] lists them and a test holds the two in step.
//! [`server`] is the front door (connection budgets, origins, `/health`), [`middleware`] what
//! every call passes through (method policy, metrics, batches).

pub mod api;
mod errors;
mod methods;
mod middleware;
mod server;
pub mod types;

use std::sync::Arc;

use jsonrpsee::server::RpcModule;

pub use api::{AetherApiClient, AetherApiServer};
pub use errors::{
    INTERNAL, INVALID_PARAMS, STATE_UNAVAILABLE, STORAGE_FAILURE, SUBSCRIPTION_OVER_HTTP,
    UNSAFE_METHOD,
};
pub use methods::RpcServer;
pub use server::start;
pub use types::PeerSummary;

use crate::chain::Chain;
use crate::metrics::Metrics;

/// Limits of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcLimits {
    /// Largest request body, bytes.
    pub max_request_bytes: u32,
    /// Largest response body, bytes.
    pub max_response_bytes: u32,
    /// Most WebSocket connections open at once (HTTP requests have a budget of their own).
    pub max_connections: u32,
    /// Most HTTP requests being served at once.
    pub max_http_requests: u32,
    /// Most HTTP requests being served at once for one IP address (an IPv6 /64).
    pub max_http_per_ip: u32,
    /// Most TCP connections open at once from one IP address (HTTP and WebSocket).
    pub max_connections_per_ip: u32,
    /// Most WebSocket connections open at once from one IP address.
    pub max_ws_per_ip: u32,
    /// A WebSocket that neither answers a ping nor sends anything for this long is closed.
    pub ws_idle_timeout: std::time::Duration,
    /// Most calls in one batch.
    pub max_batch: u32,
    /// Most subscriptions per WebSocket connection.
    pub max_subscriptions: u32,
    /// Most gas one `contract_dryRun` may use: dry runs are free to whoever asks.
    pub max_dry_run_gas: u64,
    /// Most `contract_dryRun` calls running at once (beyond: `-32033`, retry later).
    pub max_concurrent_dry_runs: u32,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 2 << 20,
            max_response_bytes: 16 << 20,
            max_connections: 100,
            max_http_requests: 256,
            max_http_per_ip: 64,
            max_connections_per_ip: 64,
            max_ws_per_ip: 32,
            ws_idle_timeout: std::time::Duration::from_secs(60),
            max_batch: 50,
            max_subscriptions: 64,
            max_dry_run_gas: 10_000_000,
            max_concurrent_dry_runs: 2,
        }
    }
}

/// Which methods the server offers (as Substrate's `--rpc-methods`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RpcMethods {
    /// Every method when the server listens on a loopback address, the safe ones otherwise.
    #[default]
    Auto,
    /// Only the safe methods: the [`UNSAFE_METHODS`] are refused (`-32034`).
    Safe,
    /// Every method.
    Unsafe,
}

/// Which browser origins may call the server (as Substrate's `--rpc-cors`). A request without
/// an `Origin` header (curl, the CLI, any non-browser client) is always served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcCors {
    /// Any origin.
    All,
    /// These origins (`http://localhost:3000`; `:*` at the end stands for any port).
    Origins(Vec<String>),
}

impl Default for RpcCors {
    /// Pages served from this machine: `http(s)://localhost:*` and `http(s)://127.0.0.1:*`.
    fn default() -> Self {
        RpcCors::Origins(
            [
                "http://localhost:*",
                "http://127.0.0.1:*",
                "https://localhost:*",
                "https://127.0.0.1:*",
            ]
            .map(String::from)
            .to_vec(),
        )
    }
}

impl RpcCors {
    /// Whether a page from `origin` may call the server.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            RpcCors::All => true,
            RpcCors::Origins(list) => list.iter().any(|allowed| match allowed.strip_suffix(":*") {
                Some(prefix) => {
                    origin == prefix
                        || origin.strip_prefix(prefix).is_some_and(|rest| {
                            rest.strip_prefix(':').is_some_and(|port| {
                                !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                            })
                        })
                }
                None => origin == allowed,
            }),
        }
    }
}

/// Who may call what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcAccess {
    /// Which methods are offered.
    pub methods: RpcMethods,
    /// Which browser origins are served.
    pub cors: RpcCors,
}

/// Most events one `chain_getLogs` call returns.
pub const MAX_LOGS: usize = 10_000;
/// Most heights one `chain_getLogs` call spans.
pub const MAX_LOG_RANGE: u64 = 10_000;

/// Every method and subscription the server offers.
pub const METHODS: &[&str] = &[
    "author_submitTransaction",
    "author_pendingCount",
    "author_nextNonce",
    "state_getAccount",
    "state_getBalance",
    "state_getNonce",
    "state_getCode",
    "state_getStorage",
    "chain_getHead",
    "chain_getFinalizedHeight",
    "chain_getBlockByHeight",
    "chain_getBlockByHash",
    "chain_getReceipt",
    "chain_getLogs",
    "contract_dryRun",
    "debug_traceTransaction",
    "debug_traceCall",
    "system_health",
    "system_info",
    "system_peers",
    "chain_subscribeNewHeads",
    "chain_subscribeFinalizedHeads",
    "chain_subscribeEvents",
];

/// Subscriptions, with their unsubscribe methods: they need a WebSocket connection.
pub const SUBSCRIPTIONS: &[(&str, &str)] = &[
    ("chain_subscribeNewHeads", "chain_unsubscribeNewHeads"),
    (
        "chain_subscribeFinalizedHeads",
        "chain_unsubscribeFinalizedHeads",
    ),
    ("chain_subscribeEvents", "chain_unsubscribeEvents"),
];

/// Methods served only with `--rpc-methods unsafe` (or `auto` on a loopback address): what
/// they reveal (peers' IP addresses) or cost (re-executing a block for a trace) is for the
/// node's operator.
pub const UNSAFE_METHODS: &[&str] = &["system_peers", "debug_traceTransaction", "debug_traceCall"];

/// What the methods work with.
#[derive(Clone)]
pub struct RpcContext {
    /// The chain.
    pub chain: Arc<Chain>,
    /// Metrics (requests are counted by method).
    pub metrics: Arc<Metrics>,
    /// Name of the consensus in use.
    pub consensus: &'static str,
    /// The node's network peers (none for a single node).
    pub peers: Arc<dyn Fn() -> Vec<PeerSummary> + Send + Sync>,
    /// Gossips a transaction the pool admitted (SCALE bytes) to the network.
    pub gossip_tx: Arc<dyn Fn(Vec<u8>) + Send + Sync>,
    /// Whether the node runs with a network (so `system_health` expects peers).
    pub networked: bool,
    /// Whether the node is catching up with its peers.
    pub syncing: Arc<std::sync::atomic::AtomicBool>,
    /// Where consensus stands (none for the dev sealer, or before consensus starts).
    pub progress: Arc<std::sync::Mutex<Option<aether_engine::ports::ConsensusProgress>>>,
}

impl RpcContext {
    /// The context of a node without a network under the dev sealer: no peers, nothing to
    /// gossip, never syncing (benchmarks and tests serve a chain this way).
    pub fn single_node(chain: Arc<Chain>) -> Self {
        RpcContext {
            chain,
            metrics: Arc::new(Metrics::new()),
            consensus: "dev-sealer",
            peers: Arc::new(Vec::new),
            gossip_tx: Arc::new(|_| {}),
            networked: false,
            syncing: Default::default(),
            progress: Default::default(),
        }
    }
}

/// The RPC module with every method.
pub fn module(ctx: RpcContext, limits: &RpcLimits) -> RpcModule<RpcServer> {
    RpcServer {
        ctx,
        dry_runs: Gate::new(limits.max_concurrent_dry_runs as usize),
        max_dry_run_gas: limits.max_dry_run_gas,
    }
    .into_rpc()
}

/// The node's health, as `system_health` and `GET /health` report it.
pub fn health(ctx: &RpcContext) -> types::Health {
    let head = ctx.chain.head();
    types::Health {
        peers: (ctx.peers)().len(),
        is_syncing: ctx.syncing.load(std::sync::atomic::Ordering::Acquire),
        should_have_peers: ctx.networked,
        best_height: head.height,
        finalized_height: ctx.chain.finalized_height(),
        head_ahead_of_clock_ms: head.timestamp_ms.saturating_sub(crate::chain::now_ms()),
        consensus: ctx
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map(|p| types::ConsensusHealth {
                round: p.round,
                high_qc_round: p.high_qc_round,
                high_tc_round: p.high_tc_round,
                committed_round: p.committed_round,
                pending_blocks: p.pending_blocks,
                missing_blocks: p.missing_blocks,
            }),
    }
}

/// A counted admission: at most `max` holders at once.
struct Gate {
    max: usize,
    inside: std::sync::atomic::AtomicUsize,
}

/// Holding a place in a [`Gate`]; leaving on drop.
struct Inside<'a>(&'a Gate);

impl Gate {
    fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            inside: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn max(&self) -> usize {
        self.max
    }

    /// A place, if one is free.
    fn enter(&self) -> Option<Inside<'_>> {
        use std::sync::atomic::Ordering;
        self.inside
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Inside(self))
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0
            .inside
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

#[cfg(test)]
mod cors_tests {
    use super::RpcCors;

    #[test]
    fn the_default_origins_are_this_machines_pages_on_any_port() {
        let cors = RpcCors::default();
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "https://localhost",
        ] {
            assert!(cors.allows(ok), "{ok}");
        }
        for refused in [
            "http://localhost.evil.com",
            "http://localhost:3000.evil.com",
            "http://evil.com",
            "null",
            "http://localhost:",
        ] {
            assert!(!cors.allows(refused), "{refused}");
        }
        assert!(RpcCors::All.allows("https://example.org"));
        let listed = RpcCors::Origins(vec!["https://app.example".into()]);
        assert!(listed.allows("https://app.example"));
        assert!(!listed.allows("https://app.example:444"));
    }
}

#[cfg(test)]
mod gate_tests {
    use super::Gate;

    #[test]
    fn a_gate_admits_at_most_its_maximum_and_frees_a_place_on_leaving() {
        let gate = Gate::new(2);
        let a = gate.enter().expect("first");
        let b = gate.enter().expect("second");
        assert!(gate.enter().is_none(), "a third waits");
        drop(a);
        let c = gate.enter().expect("a place was freed");
        drop((b, c));
        assert!(gate.enter().is_some());
    }
}
