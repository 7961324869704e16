//! The JSON-RPC server (jsonrpsee, HTTP and WebSocket on one port). Every method is documented
//! with an example in `docs/rpc.md`; [`METHODS`] lists them and a test holds the two in step.
//! [`server`] is the front door (connection budgets, origins, `/health`), [`middleware`] what
//! every call passes through (method policy, metrics, batches).

mod errors;
pub mod json;
mod middleware;
mod server;

use std::str::FromStr;
use std::sync::Arc;

use aether_engine::types::{Action, Address, Hash, SignedTransaction};
use aether_storage::{EventFilter, StateKey};
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use parity_scale_codec::{Decode, Encode};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

pub use errors::{
    INTERNAL, INVALID_PARAMS, STATE_UNAVAILABLE, STORAGE_FAILURE, SUBSCRIPTION_OVER_HTTP,
    UNSAFE_METHOD,
};
pub use server::start;

use crate::chain::{Chain, ChainEvent};
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
    "state_getStorage",
    "chain_getHead",
    "chain_getFinalizedHeight",
    "chain_getBlockByHeight",
    "chain_getBlockByHash",
    "chain_getReceipt",
    "chain_getLogs",
    "contract_dryRun",
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
/// they reveal (peers' IP addresses) is for the node's operator.
pub const UNSAFE_METHODS: &[&str] = &["system_peers"];

/// A connected peer, as `system_peers` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerSummary {
    /// Its libp2p peer id (base58).
    pub peer_id: String,
    /// The address of the connection with it.
    pub address: String,
    /// The round trip of its last ping, in milliseconds (none before the first).
    pub latency_ms: Option<f64>,
    /// Its name, when the genesis lists it as a validator (it is a full node otherwise).
    pub validator: Option<String>,
    /// What it says it runs, with the name it gave itself (`aether/0.1.0 (v2)`), once it said.
    pub agent: Option<String>,
}

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

type RpcResult = Result<Value, ErrorObjectOwned>;

fn method<F>(
    m: &mut RpcModule<RpcContext>,
    name: &'static str,
    f: F,
) -> Result<(), jsonrpsee::core::RegisterMethodError>
where
    F: Fn(Params<'_>, &RpcContext) -> RpcResult + Clone + Send + Sync + 'static,
{
    m.register_blocking_method(name, move |params, ctx, _| f(params, &ctx))?;
    Ok(())
}

/// The RPC module with every method.
pub fn module(
    ctx: RpcContext,
    limits: &RpcLimits,
) -> Result<RpcModule<RpcContext>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(ctx);
    let dry_runs = Arc::new(Gate::new(limits.max_concurrent_dry_runs as usize));
    let max_dry_run_gas = limits.max_dry_run_gas;
    method(&mut m, "author_submitTransaction", |p, ctx| {
        let bytes = hex_param(&mut p.sequence(), "transaction")?;
        let tx = SignedTransaction::decode(&mut &bytes[..])
            .ok()
            .filter(|_| true)
            .ok_or_else(|| {
                errors::rejected(crate::mempool::Rejection::Malformed(
                    "not a SCALE-encoded signed transaction".into(),
                ))
            })?;
        if tx.encoded_size() != bytes.len() {
            return Err(errors::rejected(crate::mempool::Rejection::Malformed(
                "trailing bytes after the transaction".into(),
            )));
        }
        let admitted = ctx.chain.submit(tx, now_ms()).map_err(|why| {
            ctx.metrics.pool_rejection(why.name());
            errors::rejected(why)
        })?;
        (ctx.gossip_tx)(bytes);
        Ok(json!(admitted.hash.to_string()))
    })?;
    method(&mut m, "author_pendingCount", |_, ctx| {
        let (ready, future) = ctx.chain.pool_counts();
        Ok(json!({ "ready": ready, "future": future }))
    })?;
    method(&mut m, "author_nextNonce", |p, ctx| {
        let address: Address = parsed(&mut p.sequence(), "address")?;
        Ok(json!(
            ctx.chain.next_nonce(&address).map_err(errors::chain)?
        ))
    })?;
    method(&mut m, "state_getAccount", |p, ctx| {
        let mut seq = p.sequence();
        let address: Address = parsed(&mut seq, "address")?;
        let height: Option<u64> = seq.optional_next().map_err(bad)?;
        let view = view_at(ctx, height)?;
        let account = aether_engine::ports::StateReader::account(&view, &address)
            .map_err(|e| errors::chain(e.into()))?;
        Ok(account.as_ref().map_or(Value::Null, json::account))
    })?;
    method(&mut m, "state_getBalance", |p, ctx| {
        let address: Address = parsed(&mut p.sequence(), "address")?;
        let account = ctx.chain.account(&address).map_err(errors::chain)?;
        Ok(json!(account.map_or(0, |a| a.balance).to_string()))
    })?;
    method(&mut m, "state_getNonce", |p, ctx| {
        let address: Address = parsed(&mut p.sequence(), "address")?;
        let account = ctx.chain.account(&address).map_err(errors::chain)?;
        Ok(json!(account.map_or(0, |a| a.nonce)))
    })?;
    method(&mut m, "state_getStorage", |p, ctx| {
        let mut seq = p.sequence();
        let contract: Address = parsed(&mut seq, "contract")?;
        let key = hex_param(&mut seq, "key")?;
        if key.len() > aether_engine::vm::MAX_STORAGE_KEY {
            return Err(errors::invalid_params(format!(
                "key: {} bytes, a storage key has at most {}",
                key.len(),
                aether_engine::vm::MAX_STORAGE_KEY
            )));
        }
        let height: Option<u64> = seq.optional_next().map_err(bad)?;
        let height = height.unwrap_or_else(|| ctx.chain.head().height);
        let proof = ctx
            .chain
            .prove(&StateKey::Storage(contract, key), height)
            .map_err(errors::chain)?;
        let root = ctx
            .chain
            .header_at(height)
            .map_err(errors::chain)?
            .map(|h| h.state_root.to_string());
        Ok(json!({
            "height": height,
            "stateRoot": root,
            "value": proof.value.as_deref().map(json::hex0x),
            "proof": json::hex0x(&proof.encode()),
        }))
    })?;
    method(&mut m, "chain_getHead", |_, ctx| {
        Ok(json::header(&ctx.chain.head()))
    })?;
    method(&mut m, "chain_getFinalizedHeight", |_, ctx| {
        Ok(json!(ctx.chain.finalized_height()))
    })?;
    method(&mut m, "chain_getBlockByHeight", |p, ctx| {
        let mut seq = p.sequence();
        let height: u64 = seq.next().map_err(bad)?;
        let full: Option<bool> = seq.optional_next().map_err(bad)?;
        let block = ctx.chain.block_by_height(height).map_err(errors::chain)?;
        Ok(block.map_or(Value::Null, |b| json::block(&b, full.unwrap_or(false))))
    })?;
    method(&mut m, "chain_getBlockByHash", |p, ctx| {
        let mut seq = p.sequence();
        let hash: Hash = parsed(&mut seq, "block hash")?;
        let full: Option<bool> = seq.optional_next().map_err(bad)?;
        let block = ctx.chain.block_by_hash(&hash).map_err(errors::chain)?;
        Ok(block.map_or(Value::Null, |b| json::block(&b, full.unwrap_or(false))))
    })?;
    method(&mut m, "chain_getReceipt", |p, ctx| {
        let hash: Hash = parsed(&mut p.sequence(), "transaction hash")?;
        let found = ctx.chain.receipt(&hash).map_err(errors::chain)?;
        Ok(found.map_or(Value::Null, |(h, r)| json::receipt(&r, Some(h))))
    })?;
    method(&mut m, "chain_getLogs", |p, ctx| {
        let filter: Value = p.sequence().next().map_err(bad)?;
        let (filter, limit) = log_filter(&filter, ctx.chain.head().height)?;
        if filter.to_height.saturating_sub(filter.from_height) >= MAX_LOG_RANGE {
            return Err(errors::invalid_params(format!(
                "filter spans more than {MAX_LOG_RANGE} heights: narrow fromHeight..toHeight"
            )));
        }
        let records = ctx.chain.events(&filter, limit).map_err(errors::chain)?;
        Ok(Value::Array(
            records.iter().map(json::event_record).collect(),
        ))
    })?;
    method(&mut m, "contract_dryRun", move |p, ctx| {
        let mut seq = p.sequence();
        let from: Address = parsed(&mut seq, "from")?;
        let action_bytes = hex_param(&mut seq, "action")?;
        let gas_limit: Option<u64> = seq.optional_next().map_err(bad)?;
        let action = Action::decode(&mut &action_bytes[..]).map_err(|e| {
            errors::invalid_params(format!("action: not a SCALE-encoded action: {e}"))
        })?;
        let Some(_running) = dry_runs.enter() else {
            return Err(errors::busy(format!(
                "{} dry runs are running, the most at once: retry",
                dry_runs.max()
            )));
        };
        let gas = gas_limit
            .unwrap_or(ctx.chain.genesis().block_gas_limit)
            .min(max_dry_run_gas);
        let receipt = ctx
            .chain
            .dry_run(from, action, Some(gas))
            .map_err(errors::chain)?;
        Ok(json::receipt(&receipt, None))
    })?;
    method(&mut m, "system_health", |_, ctx| Ok(health(ctx)))?;
    method(&mut m, "system_info", |_, ctx| {
        Ok(json!({
            "name": "aether",
            "version": env!("CARGO_PKG_VERSION"),
            "chainId": ctx.chain.chain_id(),
            "genesisHash": ctx.chain.genesis_hash().to_string(),
            "consensus": ctx.consensus,
            "executionVersion": aether_engine::types::EXECUTION_VERSION,
        }))
    })?;
    method(&mut m, "system_peers", |_, ctx| {
        let peers: Vec<Value> = (ctx.peers)()
            .into_iter()
            .map(|p| {
                let role = if p.validator.is_some() {
                    "validator"
                } else {
                    "full"
                };
                let mut v = json!(p);
                v["role"] = json!(role);
                v
            })
            .collect();
        Ok(json!(peers))
    })?;

    m.register_subscription(
        "chain_subscribeNewHeads",
        "chain_newHead",
        "chain_unsubscribeNewHeads",
        |_, pending, ctx, _| async move {
            forward(pending, ctx, |e| match e {
                ChainEvent::NewHead(h) => vec![json::header(h)],
                _ => Vec::new(),
            })
            .await
        },
    )?;
    m.register_subscription(
        "chain_subscribeFinalizedHeads",
        "chain_finalizedHead",
        "chain_unsubscribeFinalizedHeads",
        |_, pending, ctx, _| async move {
            forward(pending, ctx, |e| match e {
                ChainEvent::Finalized(h) => vec![json::header(h)],
                _ => Vec::new(),
            })
            .await
        },
    )?;
    m.register_subscription(
        "chain_subscribeEvents",
        "chain_event",
        "chain_unsubscribeEvents",
        |params, pending, ctx, _| async move {
            let raw: Value = params
                .sequence()
                .optional_next()
                .ok()
                .flatten()
                .unwrap_or(json!({}));
            let filter = match log_filter(&raw, u64::MAX) {
                Ok((f, _)) => f,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            forward(pending, ctx, move |e| match e {
                ChainEvent::Events(records) => {
                    records
                        .iter()
                        .filter(|r| {
                            r.height >= filter.from_height
                                && r.height <= filter.to_height
                                && filter.contract.is_none_or(|c| c == r.event.contract)
                                && filter.topics.iter().enumerate().all(|(i, t)| {
                                    t.is_none_or(|t| r.event.topics.get(i) == Some(&t))
                                })
                        })
                        .map(json::event_record)
                        .collect()
                }
                _ => Vec::new(),
            })
            .await
        },
    )?;
    Ok(m)
}

/// The node's health, as `system_health` and `GET /health` report it.
pub fn health(ctx: &RpcContext) -> Value {
    let peers = (ctx.peers)().len();
    let ahead = ctx
        .chain
        .head()
        .timestamp_ms
        .saturating_sub(crate::chain::now_ms());
    json!({
        "peers": peers,
        "isSyncing": ctx.syncing.load(std::sync::atomic::Ordering::Acquire),
        "shouldHavePeers": ctx.networked,
        "bestHeight": ctx.chain.head().height,
        "finalizedHeight": ctx.chain.finalized_height(),
        "headAheadOfClockMs": ahead,
        "consensus": ctx
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map(|p| json!({
                "round": p.round,
                "highQcRound": p.high_qc_round,
                "highTcRound": p.high_tc_round,
                "committedRound": p.committed_round,
                "pendingBlocks": p.pending_blocks,
                "missingBlocks": p.missing_blocks,
            })),
    })
}

/// Accepts a subscription and forwards the chain events `select` turns into notifications
/// until the client goes away.
async fn forward(
    pending: PendingSubscriptionSink,
    ctx: Arc<RpcContext>,
    select: impl Fn(&ChainEvent) -> Vec<Value> + Send + 'static,
) -> jsonrpsee::core::SubscriptionResult {
    let mut events = ctx.chain.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            event = events.recv() => match event {
                Ok(event) => {
                    for item in select(&event) {
                        let msg = SubscriptionMessage::from(
                            serde_json::value::to_raw_value(&item)
                                .map_err(|e| jsonrpsee::core::SubscriptionError::from(e.to_string()))?,
                        );
                        if sink.send(msg).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    return Err(format!("subscriber fell {n} notifications behind; resubscribe").into());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}

fn bad(e: ErrorObjectOwned) -> ErrorObjectOwned {
    e
}

fn parsed<T: FromStr>(
    seq: &mut jsonrpsee::types::params::ParamsSequence<'_>,
    what: &str,
) -> Result<T, ErrorObjectOwned>
where
    T::Err: std::fmt::Display,
{
    let text: String = seq
        .next()
        .map_err(|e| errors::invalid_params(format!("{what}: {}", e.message())))?;
    text.parse()
        .map_err(|e| errors::invalid_params(format!("{what}: {e}")))
}

fn hex_param(
    seq: &mut jsonrpsee::types::params::ParamsSequence<'_>,
    what: &str,
) -> Result<Vec<u8>, ErrorObjectOwned> {
    let text: String = seq
        .next()
        .map_err(|e| errors::invalid_params(format!("{what}: {}", e.message())))?;
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| errors::invalid_params(format!("{what}: hex must start with 0x")))?;
    hex::decode(digits).map_err(|e| errors::invalid_params(format!("{what}: not hex: {e}")))
}

fn view_at(
    ctx: &RpcContext,
    height: Option<u64>,
) -> Result<aether_storage::StateView, ErrorObjectOwned> {
    ctx.chain.state_at(height).map_err(errors::chain)
}

/// Parses a log filter: `{contract?, topics?: [hash | null], fromHeight?, toHeight?, limit?}`.
fn log_filter(v: &Value, head: u64) -> Result<(EventFilter, usize), ErrorObjectOwned> {
    let obj = v
        .as_object()
        .ok_or_else(|| errors::invalid_params("filter must be an object"))?;
    for key in obj.keys() {
        if !["contract", "topics", "fromHeight", "toHeight", "limit"].contains(&key.as_str()) {
            return Err(errors::invalid_params(format!(
                "filter: unknown field `{key}`"
            )));
        }
    }
    let contract = match obj.get("contract") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<Address>()
                .map_err(|e| errors::invalid_params(format!("filter.contract: {e}")))?,
        ),
        Some(_) => return Err(errors::invalid_params("filter.contract must be a string")),
    };
    let topics = match obj.get("topics") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > aether_engine::vm::MAX_EVENT_TOPICS {
                return Err(errors::invalid_params("filter.topics: at most 4 positions"));
            }
            items
                .iter()
                .map(|t| match t {
                    Value::Null => Ok(None),
                    Value::String(s) => s
                        .parse::<Hash>()
                        .map(Some)
                        .map_err(|e| errors::invalid_params(format!("filter.topics: {e}"))),
                    _ => Err(errors::invalid_params(
                        "filter.topics: each entry is a hash or null",
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => return Err(errors::invalid_params("filter.topics must be an array")),
    };
    let number = |key: &str, default: u64| -> Result<u64, ErrorObjectOwned> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_u64().ok_or_else(|| {
                errors::invalid_params(format!("filter.{key} must be a non-negative integer"))
            }),
        }
    };
    let filter = EventFilter {
        contract,
        topics,
        from_height: number("fromHeight", 0)?,
        to_height: number("toHeight", head)?,
    };
    if filter.from_height > filter.to_height {
        return Err(errors::invalid_params(format!(
            "filter.fromHeight {} is above filter.toHeight {}",
            filter.from_height, filter.to_height
        )));
    }
    let limit = number("limit", 1_000)?;
    if limit > MAX_LOGS as u64 {
        return Err(errors::invalid_params(format!(
            "filter.limit is at most {MAX_LOGS}"
        )));
    }
    Ok((filter, limit as usize))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
