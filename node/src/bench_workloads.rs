//! The node's workloads for `aether bench` (blocks of transfers verified and committed through
//! ParityDB, mempool admission, RPC reads beside a bare jsonrpsee server), and the helpers the
//! node's criterion benches share with them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_bench::workloads::{Prepared, Size, Workload};
use aether_engine::crypto::Keypair;
use aether_engine::ports::Verdict;
use aether_engine::types::{Account, Action, Address, Hash, SignedTransaction, Transaction};
use aether_storage::{Store, StoreConfig};
use jsonrpsee::RpcModule;
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::params::ArrayParams;
use serde_json::{Value, json};

use crate::chain::Chain;
use crate::genesis::{Genesis, GenesisAccount};
use crate::mempool::{Mempool, PoolConfig};
use crate::rpc::{self, RpcContext, RpcLimits};

/// Who proposes the benchmark blocks.
const PROPOSER: Address = Address([0xfe; 32]);

/// `n` senders with deterministic ed25519 keys.
pub fn senders(n: usize) -> Vec<Keypair> {
    (0..n)
        .map(|i| Keypair::dev(&format!("bench-sender-{i}"), false))
        .collect()
}

/// The address of filler account `i`.
fn filler(i: u64) -> Address {
    Address(Hash::of(&i.to_le_bytes()).0)
}

/// A dev genesis with `accounts` funded accounts: the senders' and fillers that receive the
/// transfers.
pub fn genesis(accounts: u64, senders: &[Keypair]) -> Genesis {
    let mut g = Genesis::dev();
    g.block_gas_limit = 1_000_000_000;
    g.accounts = senders
        .iter()
        .map(|k| GenesisAccount {
            address: k.address(),
            balance: 1 << 100,
        })
        .chain((senders.len() as u64..accounts).map(|i| GenesisAccount {
            address: filler(i),
            balance: 1,
        }))
        .collect();
    g
}

/// One transfer from each sender (nonce `round`) to a filler account.
pub fn transfers(senders: &[Keypair], round: u64, accounts: u64) -> Vec<SignedTransaction> {
    senders
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let to = (i as u64 * 7_919 + round * 104_729) % accounts.max(1);
            k.sign_tx(Transaction {
                chain_id: Genesis::dev().chain_id,
                nonce: round,
                gas_limit: 30_000,
                gas_price: 1,
                action: Action::Transfer {
                    to: filler(to),
                    amount: 1,
                },
            })
        })
        .collect()
}

/// A chain on a new store in `dir`.
pub fn open_chain(dir: &std::path::Path, genesis: Genesis) -> Result<Chain, String> {
    let store = Store::open(dir, StoreConfig::default()).map_err(|e| e.to_string())?;
    Chain::open(store, genesis).map_err(|e| e.to_string())
}

/// A block of `size` transfers into a state of `accounts` accounts: one node builds it from
/// its pool; the timed part is what a validator that never saw the transactions does with it:
/// verify (every signature checked, every transaction executed, the state root computed) and
/// commit.
fn block(size: usize, accounts: u64) -> Workload {
    Workload::new(
        format!("block/{size}_transfers_at_{accounts}_accounts"),
        format!(
            "a block of {size} signed transfers verified (signatures, execution, state root) and committed through ParityDB by a validator that never saw them, {accounts} accounts"
        ),
        move |_| {
            let keys = senders(size);
            let accounts = accounts.max(size as u64);
            let g = genesis(accounts, &keys);
            let (b_dir, v_dir) = (
                tempfile::tempdir().map_err(|e| e.to_string())?,
                tempfile::tempdir().map_err(|e| e.to_string())?,
            );
            let builder = open_chain(b_dir.path(), g.clone())?;
            let verifier = open_chain(v_dir.path(), g)?;
            let mut round = 0u64;
            let mut step = move || -> Result<(Duration, u64), String> {
                let _dirs = (&b_dir, &v_dir);
                for tx in transfers(&keys, round, accounts) {
                    builder.submit(tx, 0).map_err(|e| format!("{e:?}"))?;
                }
                round += 1;
                let head = builder.head();
                let block = builder
                    .build(
                        head.hash(),
                        head.height + 1,
                        head.timestamp_ms + 1_000,
                        PROPOSER,
                    )
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("the builder made no block: {e:?}"))?;
                if block.transactions.len() != size {
                    return Err(format!(
                        "the block holds {} of {size} transfers",
                        block.transactions.len()
                    ));
                }
                let id = [block.header.hash()];
                let t = Instant::now();
                let verdict = verifier
                    .verify(&block, block.header.timestamp_ms)
                    .map_err(|e| e.to_string())?;
                if verdict != Verdict::Valid {
                    return Err(format!("the block was found {verdict:?}"));
                }
                verifier.commit(&id, b"bench").map_err(|e| e.to_string())?;
                let elapsed = t.elapsed();
                builder.commit(&id, b"bench").map_err(|e| e.to_string())?;
                Ok((elapsed, block.header.gas_used))
            };
            // One block first: it checks the path and gives the gas of a block.
            let (_, block_gas) = step()?;
            let gas = Some(block_gas);
            Ok(Prepared {
                routine: Box::new(move |iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += step()?.0;
                    }
                    Ok(total)
                }),
                gas,
                elements: Some(size as u64),
                breakdown: None,
            })
        },
    )
}

/// `senders` × `per_sender` signed transfers (ed25519 or sr25519).
pub fn signed_transfers(senders: usize, per_sender: u64, sr25519: bool) -> Vec<SignedTransaction> {
    let mut out = Vec::new();
    for s in 0..senders {
        let key = Keypair::dev(&format!("sender-{s}"), sr25519);
        for nonce in 0..per_sender {
            out.push(key.sign_tx(Transaction {
                chain_id: Genesis::dev().chain_id,
                nonce,
                gas_limit: 30_000,
                gas_price: 1 + (s as u128 % 7),
                action: Action::Transfer {
                    to: Address([7; 32]),
                    amount: 1,
                },
            }));
        }
    }
    out
}

/// Admission of one transaction into the pool (its signature checked).
fn mempool(sr25519: bool) -> Workload {
    let scheme = if sr25519 { "sr25519" } else { "ed25519" };
    Workload::new(
        format!("mempool/admit_{scheme}"),
        format!("admission of one {scheme}-signed transfer into the pool (signature checked)"),
        move |_| {
            let txs = signed_transfers(100, 50, sr25519);
            let rich = Account::with_balance(u128::MAX / 4);
            let chain_id = Genesis::dev().chain_id;
            let new_pool = move || Mempool::new(PoolConfig::new(chain_id, 30_000_000));
            let mut pool = new_pool();
            let mut next = 0usize;
            Ok(Prepared {
                routine: Box::new(move |iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        if next == txs.len() {
                            pool = new_pool();
                            next = 0;
                        }
                        let tx = txs[next].clone();
                        next += 1;
                        let t = Instant::now();
                        pool.submit(tx, Some(&rich), 0)
                            .map_err(|e| format!("{e:?}"))?;
                        total += t.elapsed();
                    }
                    Ok(total)
                }),
                gas: None,
                elements: Some(1),
                breakdown: None,
            })
        },
    )
}

/// The node's RPC server over a dev chain in `dir`, on a free loopback port.
pub async fn node_rpc_server(
    dir: &std::path::Path,
) -> Result<(SocketAddr, ServerHandle, Arc<Chain>), String> {
    let chain = Arc::new(open_chain(dir, Genesis::dev())?);
    let (addr, handle) = rpc::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        RpcLimits::default(),
        Default::default(),
        RpcContext::single_node(chain.clone()),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok((addr, handle, chain))
}

/// A bare jsonrpsee server answering the same methods with constants of the same shape (and
/// `bare_getBalanceRead` reading the balance from the chain as the node does).
pub async fn bare_rpc_server(chain: Arc<Chain>) -> Result<(SocketAddr, ServerHandle), String> {
    let server = Server::builder()
        .build(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| e.to_string())?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let mut module = RpcModule::new(chain);
    module
        .register_method("system_health", |_, _, _| {
            json!({"peers": 0, "isSyncing": false, "shouldHavePeers": false, "bestHeight": 0,
               "finalizedHeight": 0, "headAheadOfClockMs": 0, "consensus": null})
        })
        .map_err(|e| e.to_string())?;
    module
        .register_method("state_getBalance", |params, _, _| {
            let address: String = params.one().unwrap_or_default();
            json!(format!("{}", address.len()))
        })
        .map_err(|e| e.to_string())?;
    module
        .register_method("bare_getBalanceRead", |params, chain, _| {
            let address: String = params.one().unwrap_or_default();
            let balance = address
                .parse::<Address>()
                .ok()
                .and_then(|a| chain.account(&a).ok().flatten())
                .map_or(0, |a| a.balance);
            json!(balance.to_string())
        })
        .map_err(|e| e.to_string())?;
    Ok((addr, server.start(module)))
}

/// Sends `total` calls of `method` spread over `clients` concurrent clients; the time it took.
pub async fn load(
    clients: &[jsonrpsee_http_client::HttpClient],
    method: &'static str,
    params: &[Value],
    total: u64,
) -> Result<Duration, String> {
    let n = clients.len().max(1) as u64;
    let each = total.div_ceil(n);
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
                        p.insert(v).map_err(|e| e.to_string())?;
                    }
                    let _: Value = client.request(method, p).await.map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(start.elapsed().mul_f64(total as f64 / (each * n) as f64))
}

/// Concurrent RPC clients of the RPC workloads.
pub const RPC_CLIENTS: usize = 16;

/// Cheap RPC reads from [`RPC_CLIENTS`] concurrent keep-alive HTTP clients, against the node's
/// server and against a bare jsonrpsee server in the same process: the time per request is
/// the inverse of the throughput.
fn rpc(method: &'static str, bare: bool) -> Workload {
    let server = if bare { "bare_jsonrpsee" } else { "node" };
    let name = if bare {
        format!("anchor/rpc_{method}_bare_jsonrpsee")
    } else {
        format!("rpc/{method}")
    };
    Workload::new(
        name,
        format!(
            "one `{method}` request answered by the {server} server, {RPC_CLIENTS} concurrent keep-alive HTTP clients"
        ),
        move |_| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let (addr, node_handle, chain) = runtime.block_on(node_rpc_server(dir.path()))?;
            let (addr, bare_handle) = if bare {
                let (a, h) = runtime.block_on(bare_rpc_server(chain))?;
                (a, Some(h))
            } else {
                (addr, None)
            };
            let clients = runtime.block_on(async {
                (0..RPC_CLIENTS)
                    .map(|_| {
                        jsonrpsee_http_client::HttpClientBuilder::default()
                            .build(format!("http://{addr}"))
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, String>>()
            })?;
            let params = match method {
                "state_getBalance" => {
                    vec![json!(Keypair::dev("alice", false).address().to_string())]
                }
                _ => Vec::new(),
            };
            Ok(Prepared {
                routine: Box::new(move |iters| {
                    let _keep = (&dir, &node_handle, &bare_handle);
                    runtime.block_on(load(&clients, method, &params, iters))
                }),
                gas: None,
                elements: Some(1),
                breakdown: None,
            })
        },
    )
}

/// The node's workloads for `size`.
pub fn node_suite(size: Size) -> Vec<Workload> {
    let mut out = Vec::new();
    match size {
        Size::Quick => {
            for n in [100, 400] {
                out.push(block(n, 5_000));
            }
        }
        Size::Full => {
            for n in [1_000, 2_500, 5_000, 10_000] {
                out.push(block(n, 100_000));
            }
            out.push(block(10_000, 1_000_000));
        }
    }
    out.push(mempool(false));
    out.push(mempool(true));
    for method in ["system_health", "state_getBalance"] {
        out.push(rpc(method, false));
        out.push(rpc(method, true));
    }
    out
}

/// The ratios of the node's workloads.
pub fn node_ratios(report: &mut aether_bench::report::Report) {
    for method in ["system_health", "state_getBalance"] {
        report.add_ratio(
            &format!("{method}: node over bare jsonrpsee"),
            &format!("rpc/{method}"),
            &format!("anchor/rpc_{method}_bare_jsonrpsee"),
            None,
        );
    }
}
