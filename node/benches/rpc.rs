//! Cheap RPC reads under concurrent load: the node's server (front door, method policy,
//! metrics, the chain behind it) against a bare jsonrpsee server answering the same methods
//! with constants, side by side in one run, through the same client. Each sample sends its
//! requests from 16 concurrent keep-alive clients; the time per request is the inverse of the
//! throughput. `cargo bench -p aether-node --bench rpc`; figures in `docs/benchmarks.md`.

use std::net::SocketAddr;
use std::time::Duration;

use aether_engine::crypto::Keypair;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// The `aether` binary's allocator, so that the node's server is measured as it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concurrent clients.
const CLIENTS: usize = aether_node::bench_workloads::RPC_CLIENTS;

async fn load(
    clients: &[jsonrpsee_http_client::HttpClient],
    method: &'static str,
    params: &[Value],
    total: u64,
) -> Duration {
    aether_node::bench_workloads::load(clients, method, params, total)
        .await
        .expect("answered")
}

fn cheap_reads(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let (node, _node_handle, chain) = runtime
        .block_on(aether_node::bench_workloads::node_rpc_server(dir.path()))
        .expect("the node's server");
    let (bare, _bare_handle) = runtime
        .block_on(aether_node::bench_workloads::bare_rpc_server(chain.clone()))
        .expect("the bare server");
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
    // The same, alternating: rounds of 6,000 calls to each server in turn (the order swapped
    // every round), so that drift of the machine falls on both alike. The ratio is the node's
    // throughput over the bare server's; the median of 21 rounds is printed.
    for (bare_method, method, params) in [
        ("system_health", "system_health", vec![]),
        ("state_getBalance", "state_getBalance", vec![json!(alice)]),
        (
            "bare_getBalanceRead",
            "state_getBalance",
            vec![json!(alice)],
        ),
    ] {
        let mut ratios: Vec<f64> = (0..21)
            .map(|round| {
                let bare_time =
                    || runtime.block_on(load(&bare_clients, bare_method, &params, 6_000));
                let node_time = || runtime.block_on(load(&node_clients, method, &params, 6_000));
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
            "rpc/{method} against bare {bare_method}: aether/bare throughput, median of 21 \
             alternating rounds: {:.3} (range {:.3}..{:.3})",
            ratios[10], ratios[0], ratios[20]
        );
    }

    // What the balance read itself costs the node, without the RPC around it: answered from
    // the accounts cached at the head, and read from the store.
    group.bench_function("state_getBalance/read_alone", |b| {
        b.iter(|| chain.account(&alice_address).expect("read"))
    });
    let head = chain.state_at(None).expect("the head's state");
    group.bench_function("state_getBalance/store_read", |b| {
        b.iter(|| aether_engine::ports::StateReader::account(&head, &alice_address).expect("read"))
    });
    group.finish();
}

criterion_group!(benches, cheap_reads);
criterion_main!(benches);
