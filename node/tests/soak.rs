//! Mempool soak on the dev chain: many senders submit transfers over RPC in batches, the node
//! seals them, and every accepted transaction must end in a block with a receipt, with memory
//! bounded. 5,000 transactions by default; `AETHER_SOAK_TXS=50000` (in release:
//! `cargo test --release -p aether-node --test soak -- --nocapture`) for the full soak whose
//! figures are in `docs/benchmarks.md`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Address, Hash, Transaction};
use aether_node::genesis::{Genesis, GenesisAccount};
use aether_node::rpc::RpcLimits;
use aether_node::service::{self, NodeConfig};
use jsonrpsee_core::client::{BatchResponse, ClientT};
use jsonrpsee_core::params::BatchRequestBuilder;
use jsonrpsee_core::rpc_params;
use parity_scale_codec::Encode;
use serde_json::Value;

const PER_SENDER: usize = 50;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn every_accepted_transaction_ends_in_a_block_with_a_receipt() {
    let total: usize = std::env::var("AETHER_SOAK_TXS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let senders: Vec<Keypair> = (0..total.div_ceil(PER_SENDER))
        .map(|i| Keypair::dev(&format!("soak-{i}"), i % 2 == 1))
        .collect();
    let mut genesis = Genesis::dev();
    genesis
        .accounts
        .extend(senders.iter().map(|k| GenesisAccount {
            address: k.address(),
            balance: 1_000_000_000_000,
        }));
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig {
        base_path: dir.path().to_path_buf(),
        genesis,
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        rpc_limits: RpcLimits::default(),
        rpc_access: Default::default(),
        metrics_addr: None,
        block_time_ms: 100,
        state_history: 64,
        proposer: Address([0xfe; 32]),
        consensus: aether_node::service::ConsensusMode::DevSealer,
        network: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let node = runtime.spawn(service::run(
        config,
        async {
            let _ = stop_rx.await;
        },
        move |l| {
            let _ = addr_tx.send(l.rpc);
        },
    ));
    let rpc_addr = addr_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    let url = format!("http://{rpc_addr}");
    let client = jsonrpsee_http_client::HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(120))
        .build(&url)
        .unwrap();

    // Sign everything up front (the signing is not what is measured).
    let mut txs = Vec::with_capacity(total);
    for nonce in 0..PER_SENDER as u64 {
        for key in &senders {
            if txs.len() == total {
                break;
            }
            txs.push(key.sign_tx(Transaction {
                chain_id: 1337,
                nonce,
                gas_limit: 30_000,
                gas_price: 1 + (nonce % 3) as u128,
                action: Action::Transfer {
                    to: Address([7; 32]),
                    amount: 1,
                },
            }));
        }
    }
    let rss_start = rss_kib();
    let started = Instant::now();
    let mut accepted: Vec<Hash> = Vec::with_capacity(total);
    let mut refused = 0usize;
    runtime.block_on(async {
        for chunk in txs.chunks(50) {
            let mut batch = BatchRequestBuilder::new();
            for tx in chunk {
                batch
                    .insert(
                        "author_submitTransaction",
                        rpc_params![format!("0x{}", hex::encode(tx.encode()))],
                    )
                    .unwrap();
            }
            let res: BatchResponse<Value> = client.batch_request(batch).await.unwrap();
            for (tx, r) in chunk.iter().zip(res) {
                match r {
                    Ok(v) => {
                        assert_eq!(v.as_str(), Some(tx.hash().to_string().as_str()));
                        accepted.push(tx.hash());
                    }
                    Err(e) => {
                        refused += 1;
                        eprintln!("refused: {e:?}");
                    }
                }
            }
        }
    });
    let submitted_in = started.elapsed();
    assert_eq!(refused, 0, "valid transactions were refused");

    // Wait until every accepted transaction has a receipt.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut pending: HashSet<Hash> = accepted.iter().copied().collect();
    let mut peak_rss = rss_kib();
    let mut last_report = Instant::now();
    while !pending.is_empty() {
        let status = || {
            let head: Value = runtime
                .block_on(client.request("chain_getHead", rpc_params![]))
                .unwrap_or_default();
            let pool: Value = runtime
                .block_on(client.request("author_pendingCount", rpc_params![]))
                .unwrap_or_default();
            format!(
                "{} without receipt, head {}, pool {}",
                pending.len(),
                head["height"],
                pool
            )
        };
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("soak: {}", status());
            last_report = Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "no receipt after 10 minutes: {}",
            status()
        );
        std::thread::sleep(Duration::from_millis(200));
        peak_rss = peak_rss.max(rss_kib());
        let check: Vec<Hash> = pending.iter().take(5_000).copied().collect();
        runtime.block_on(async {
            for chunk in check.chunks(50) {
                let mut batch = BatchRequestBuilder::new();
                for h in chunk {
                    batch
                        .insert("chain_getReceipt", rpc_params![h.to_string()])
                        .unwrap();
                }
                let res: BatchResponse<Value> = client.batch_request(batch).await.unwrap();
                for (h, r) in chunk.iter().zip(res) {
                    let r = r.expect("chain_getReceipt");
                    if !r.is_null() {
                        assert_eq!(r["status"], "success", "{r}");
                        pending.remove(h);
                    }
                }
            }
        });
    }
    let all_in = started.elapsed();
    let head: Value = runtime
        .block_on(client.request("chain_getHead", rpc_params![]))
        .unwrap();
    let pool: Value = runtime
        .block_on(client.request("author_pendingCount", rpc_params![]))
        .unwrap();
    assert_eq!(pool["ready"], 0);
    assert_eq!(pool["future"], 0);
    eprintln!(
        "soak: {total} transactions from {} senders accepted in {:.2?} ({:.0} tx/s), all in blocks after {:.2?} ({:.0} tx/s), head {}, RSS {} MiB at start, peak {} MiB",
        senders.len(),
        submitted_in,
        total as f64 / submitted_in.as_secs_f64(),
        all_in,
        total as f64 / all_in.as_secs_f64(),
        head["height"],
        rss_start / 1024,
        peak_rss / 1024,
    );
    // Bounded: the pool and caches do not grow with the chain beyond a fixed budget.
    assert!(
        peak_rss < rss_start + 2 * 1024 * 1024,
        "memory grew by more than 2 GiB: {rss_start} KiB -> {peak_rss} KiB"
    );
    let _ = stop_tx.send(());
    runtime.block_on(node).unwrap().unwrap();
}
