//! Cheap RPC reads under concurrent load: the node's server (front door, method policy,
//! metrics, the chain behind it) against a bare jsonrpsee server answering the same methods
//! with constants, side by side in one run, through the same client. Each sample sends its
//! requests from 16 concurrent keep-alive clients; the time per request is the inverse of the
//! throughput. `cargo bench -p aether-node --bench rpc`; figures in `docs/benchmarks.md`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_engine::crypto::Keypair;
use aether_node::chain::Chain;
use aether_node::genesis::Genesis;
use aether_node::metrics::Metrics;
use aether_node::rpc::{self, RpcContext, RpcLimits};
use aether_storage::{Store, StoreConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonrpsee::RpcModule;
use jsonrpsee::server::Server;
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::params::ArrayParams;
use serde_json::{Value, json};

/// Concurrent clients.
const CLIENTS: usize = 16;

/// The node's RPC server over a dev chain.
async fn node_server(
    dir: &std::path::Path,
) -> (SocketAddr, jsonrpsee::server::ServerHandle, Arc<Chain>) {
    let store = Store::open(dir, StoreConfig::default()).expect("store");
    let chain = Arc::new(Chain::open(store, Genesis::dev()).expect("chain"));
    let (addr, handle) = rpc::start(
        "127.0.0.1:0".parse().unwrap(),
        RpcLimits::default(),
        Default::default(),
        RpcContext {
            chain: chain.clone(),
            metrics: Arc::new(Metrics::new()),
            consensus: "dev-sealer",
            peers: Arc::new(Vec::new),
            gossip_tx: Arc::new(|_| {}),
            networked: false,
            syncing: Default::default(),
            progress: Default::default(),
        },
    )
    .await
    .expect("the node's server");
    (addr, handle, chain)
}

/// A bare jsonrpsee server answering the same methods with constants of the same shape.
async fn bare_server(chain: Arc<Chain>) -> (SocketAddr, jsonrpsee::server::ServerHandle) {
    let server = Server::builder()
        .build("127.0.0.1:0")
        .await
        .expect("bare server");
    let addr = server.local_addr().expect("address");
    let mut module = RpcModule::new(chain);
    module
        .register_method("system_health", |_, _, _| {
            json!({"peers": 0, "isSyncing": false, "shouldHavePeers": false, "bestHeight": 0,
                   "finalizedHeight": 0, "headAheadOfClockMs": 0, "consensus": null})
        })
        .expect("register");
    module
        .register_method("state_getBalance", |params, _, _| {
            let address: String = params.one().unwrap_or_default();
            json!(format!("{}", address.len()))
        })
        .expect("register");
    // The same, reading the balance from the chain as the node does (a comparison that leaves
    // out the read's cost).
    module
        .register_method("bare_getBalanceRead", |params, chain, _| {
            let address: String = params.one().unwrap_or_default();
            let balance = address
                .parse::<aether_engine::types::Address>()
                .ok()
                .and_then(|a| chain.account(&a).ok().flatten())
                .map_or(0, |a| a.balance);
            json!(balance.to_string())
        })
        .expect("register");
    (addr, server.start(module))
}

/// Sends `total` calls of `method` from [`CLIENTS`] concurrent clients; the time it took.
async fn load(
    clients: &[jsonrpsee_http_client::HttpClient],
    method: &'static str,
    params: &[Value],
    total: u64,
) -> Duration {
    let each = total.div_ceil(CLIENTS as u64);
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            let params = params.to_vec();
            tokio::spawn(async move {
                for _ in 0..each {
                    let mut p = ArrayParams::new();
                    for v in &params {
                        p.insert(v).expect("param");
                    }
                    let _: Value = client.request(method, p).await.expect("answered");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    start
        .elapsed()
        .mul_f64(total as f64 / (each * CLIENTS as u64) as f64)
}

fn cheap_reads(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let (node, _node_handle, chain) = runtime.block_on(node_server(dir.path()));
    let (bare, _bare_handle) = runtime.block_on(bare_server(chain.clone()));
    let clients = |addr: SocketAddr| -> Vec<jsonrpsee_http_client::HttpClient> {
        (0..CLIENTS)
            .map(|_| {
                jsonrpsee_http_client::HttpClientBuilder::default()
                    .build(format!("http://{addr}"))
                    .expect("client")
            })
            .collect()
    };
    let (node_clients, bare_clients) = runtime.block_on(async { (clients(node), clients(bare)) });
    let alice_address = Keypair::dev("alice", false).address();
    let alice = alice_address.to_string();
    let mut group = c.benchmark_group("rpc");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    for (method, params) in [
        ("system_health", vec![]),
        ("state_getBalance", vec![json!(alice)]),
    ] {
        for (server, clients) in [("bare", &bare_clients), ("aether", &node_clients)] {
            group.bench_function(format!("{method}/{server}"), |b| {
                b.iter_custom(|iters| runtime.block_on(load(clients, method, &params, iters)))
            });
        }
    }
    // The same, alternating: rounds of 4,000 calls to each server in turn (the order swapped
    // every round), so that drift of the machine falls on both alike. The ratio is the node's
    // throughput over the bare server's; the median of 15 rounds is printed.
    for (bare_method, method, params) in [
        ("system_health", "system_health", vec![]),
        ("state_getBalance", "state_getBalance", vec![json!(alice)]),
        (
            "bare_getBalanceRead",
            "state_getBalance",
            vec![json!(alice)],
        ),
    ] {
        let mut ratios: Vec<f64> = (0..15)
            .map(|round| {
                let bare_time =
                    || runtime.block_on(load(&bare_clients, bare_method, &params, 4_000));
                let node_time = || runtime.block_on(load(&node_clients, method, &params, 4_000));
                let (bare, node) = if round % 2 == 0 {
                    let b = bare_time();
                    (b, node_time())
                } else {
                    let n = node_time();
                    (bare_time(), n)
                };
                bare.as_secs_f64() / node.as_secs_f64()
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "rpc/{method} against bare {bare_method}: aether/bare throughput, median of 15 \
             alternating rounds: {:.3} (range {:.3}..{:.3})",
            ratios[7], ratios[0], ratios[14]
        );
    }

    // What the balance read itself costs the node, without the RPC around it.
    group.bench_function("state_getBalance/read_alone", |b| {
        b.iter(|| chain.account(&alice_address).expect("read"))
    });
    group.finish();
}

criterion_group!(benches, cheap_reads);
criterion_main!(benches);
