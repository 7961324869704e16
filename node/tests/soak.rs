//! Mempool soak on the dev chain: many senders submit transfers over RPC in batches (four in
//! flight), the node seals them, and every accepted transaction must end in exactly one final
//! block with a successful receipt, with memory bounded. The chain is followed by a
//! subscription to final heads (each final block read once), not by polling receipts, and the
//! accepted and the finalized rates are reported apart. 5,000 transactions by default; `AETHER_SOAK_TXS=50000` (in release:
//! `cargo test --release -p aether-node --test soak -- --nocapture`) for the full soak whose
//! figures are in `docs/benchmarks.md`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Address, Hash, Transaction};
use aether_node::genesis::{Genesis, GenesisAccount};
use aether_node::rpc::RpcLimits;
use aether_node::service::{self, NodeConfig};
use futures_util::StreamExt;
use jsonrpsee_core::client::{BatchResponse, ClientT, SubscriptionClientT};
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
        trie_cache_bytes: aether_storage::DEFAULT_NODE_CACHE_BYTES,
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
    // Follow the chain: every final block, its transactions counted as they become final.
    let ws = runtime
        .block_on(jsonrpsee_ws_client::WsClientBuilder::default().build(format!("ws://{rpc_addr}")))
        .unwrap();
    let mut finals = runtime
        .block_on(ws.subscribe::<Value, _>(
            "chain_subscribeFinalizedHeads",
            rpc_params![],
            "chain_unsubscribeFinalizedHeads",
        ))
        .unwrap();
    let (final_tx, final_rx) = std::sync::mpsc::channel::<(u64, Instant)>();
    let follower = runtime.spawn({
        let client = client.clone();
        async move {
            let mut in_blocks: HashMap<Hash, u64> = HashMap::new();
            let mut duplicates = 0usize;
            while let Some(Ok(head)) = finals.next().await {
                let height = head["height"].as_u64().expect("a height");
                let block: Value = client
                    .request("chain_getBlockByHeight", rpc_params![height])
                    .await
                    .expect("the final block");
                for h in block["transactions"].as_array().expect("transactions") {
                    let h: Hash = h.as_str().unwrap().parse().unwrap();
                    if in_blocks.insert(h, height).is_some() {
                        duplicates += 1;
                    }
                }
                if final_tx
                    .send((in_blocks.len() as u64, Instant::now()))
                    .is_err()
                {
                    break;
                }
            }
            (in_blocks, duplicates)
        }
    });

    let rss_start = rss_kib();
    let started = Instant::now();
    let mut accepted: Vec<Hash> = Vec::with_capacity(total);
    let mut refused = 0usize;
    runtime.block_on(async {
        let batches = futures_util::stream::iter(txs.chunks(50))
            .map(|chunk| {
                let client = client.clone();
                async move {
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
                    (chunk, res)
                }
            })
            .buffered(4);
        futures_util::pin_mut!(batches);
        while let Some((chunk, res)) = batches.next().await {
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

    // Wait until the subscription saw every accepted transaction in a final block.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak_rss = rss_kib();
    let mut last_report = Instant::now();
    let mut finalized_at = started;
    let mut seen = 0u64;
    while seen < total as u64 {
        match final_rx.recv_timeout(Duration::from_millis(200)) {
            Ok((count, at)) => (seen, finalized_at) = (count, at),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("the follower stopped: {e}"),
        }
        peak_rss = peak_rss.max(rss_kib());
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("soak: {seen} of {total} final");
            last_report = Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "not all final after 10 minutes: {seen} of {total}"
        );
    }
    drop(final_rx);
    drop(ws);
    let (in_blocks, duplicates) = runtime.block_on(follower).unwrap();
    assert_eq!(duplicates, 0, "a transaction was in two final blocks");
    let accepted_set: HashSet<Hash> = accepted.iter().copied().collect();
    let final_set: HashSet<Hash> = in_blocks.keys().copied().collect();
    assert_eq!(
        accepted_set, final_set,
        "exactly the accepted transactions are final"
    );

    // Each has a successful receipt (checked after the measurement).
    runtime.block_on(async {
        for chunk in accepted.chunks(50) {
            let mut batch = BatchRequestBuilder::new();
            for h in chunk {
                batch
                    .insert("chain_getReceipt", rpc_params![h.to_string()])
                    .unwrap();
            }
            let res: BatchResponse<Value> = client.batch_request(batch).await.unwrap();
            for r in res {
                let r = r.expect("chain_getReceipt");
                assert_eq!(r["status"], "success", "{r}");
                assert!(r["height"].is_u64(), "in a block: {r}");
            }
        }
    });
    let all_in = finalized_at.duration_since(started);
    let head: Value = runtime
        .block_on(client.request("chain_getHead", rpc_params![]))
        .unwrap();
    let pool: Value = runtime
        .block_on(client.request("author_pendingCount", rpc_params![]))
        .unwrap();
    assert_eq!(pool["ready"], 0);
    assert_eq!(pool["future"], 0);
    eprintln!(
        "soak: {total} transactions from {} senders accepted in {:.2?} ({:.0} tx/s accepted), all final after {:.2?} ({:.0} tx/s finalized, seen by subscription), head {}, RSS {} MiB at start, peak {} MiB",
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
