//! `aether load`: a bounded load generator for a running chain. It funds its sender accounts
//! (`//load-<i>`, from `--funder`), signs every transfer before it starts the clock, submits
//! them in batches at a set rate spread over the given RPC endpoints, follows the finalized
//! blocks, and reports accepted and finalized transactions per second and the latency from
//! submission to finality (p50, p90, p99, max). It checks that every accepted transaction is
//! finalized exactly once, and exits non-zero when one is lost, finalized twice, or refused.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Address, Hash, SignedTransaction, Transaction};
use anyhow::{Context, anyhow, bail};
use jsonrpsee_core::client::{BatchResponse, ClientT};
use jsonrpsee_core::params::BatchRequestBuilder;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

/// Transactions one sender has pending at most (the pool's per-sender limit is 64).
const PER_SENDER: usize = 50;
/// Transactions per RPC batch (the node's default batch limit).
const BATCH: usize = 50;
/// Batches in flight at once.
const IN_FLIGHT: usize = 16;

/// `aether load` flags.
#[derive(clap::Args)]
pub struct LoadArgs {
    /// RPC endpoint to submit to (repeat the flag for several: batches go round robin); the
    /// first one is also followed for finalized blocks.
    #[arg(long = "rpc", required = true)]
    rpc: Vec<String>,
    /// Transactions to send.
    #[arg(long, default_value_t = 10_000)]
    txs: usize,
    /// Submission rate in transactions per second (0: as fast as the nodes accept them).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// The account that funds the senders.
    #[arg(long, default_value = "//alice")]
    funder: String,
    /// Give up when nothing new is finalized for this many seconds.
    #[arg(long, default_value_t = 60)]
    stall_secs: u64,
    /// A node's metrics address (HOST:PORT, repeatable): the time its block steps (build,
    /// verify, commit) took during the run is reported beside the figures.
    #[arg(long = "metrics")]
    metrics: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Seconds spent in each block step (`aether_block_step_seconds_sum`) and blocks counted
/// (`_count`) by a node, from its metrics endpoint.
fn block_steps(addr: &str) -> anyhow::Result<HashMap<String, (f64, f64)>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)
        .with_context(|| format!("cannot reach the metrics endpoint {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let mut steps: HashMap<String, (f64, f64)> = HashMap::new();
    for line in text.lines() {
        for (suffix, sum) in [("_sum{step=\"", true), ("_count{step=\"", false)] {
            let Some(rest) = line.strip_prefix(&format!("aether_block_step_seconds{suffix}"))
            else {
                continue;
            };
            let Some((step, value)) = rest.split_once("\"} ") else {
                continue;
            };
            let value: f64 = value.trim().parse().unwrap_or(0.0);
            let entry = steps.entry(step.to_string()).or_default();
            if sum {
                entry.0 = value;
            } else {
                entry.1 = value;
            }
        }
    }
    Ok(steps)
}

/// What happened to the submitted transactions.
#[derive(Default)]
struct Tally {
    /// Accepted, not yet finalized: when each was sent.
    pending: HashMap<Hash, Instant>,
    /// Submission-to-finality latencies of the finalized ones.
    latencies: Vec<Duration>,
    /// Finalized so far.
    finalized: HashSet<Hash>,
    /// Finalized again after being finalized once.
    duplicated: usize,
    /// Refusals, by the node's message.
    refused: HashMap<String, usize>,
    /// When the first transaction was sent and the last one finalized.
    first_sent: Option<Instant>,
    last_final: Option<Instant>,
    /// Blocks that held load transactions, and the most in one.
    blocks: usize,
    most_in_block: usize,
}

async fn call(client: &HttpClient, method: &str, params: Vec<Value>) -> anyhow::Result<Value> {
    let mut p = jsonrpsee_core::params::ArrayParams::new();
    for v in params {
        p.insert(v)?;
    }
    client
        .request::<Value, _>(method, p)
        .await
        .map_err(|e| anyhow!("{method}: {e}"))
}

fn encoded(tx: &SignedTransaction) -> String {
    format!("0x{}", hex::encode(tx.encode()))
}

/// Runs `aether load`.
pub fn run(args: LoadArgs) -> anyhow::Result<bool> {
    if args.txs == 0 {
        bail!("--txs must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(load(args))
}

async fn load(args: LoadArgs) -> anyhow::Result<bool> {
    let clients: Vec<HttpClient> = args
        .rpc
        .iter()
        .map(|url| {
            HttpClientBuilder::default()
                .request_timeout(Duration::from_secs(120))
                .max_request_size(64 * 1024 * 1024)
                .max_response_size(64 * 1024 * 1024)
                .build(url)
                .with_context(|| format!("bad RPC URL `{url}`"))
        })
        .collect::<anyhow::Result<_>>()?;
    let follow = &clients[0];
    let chain_id = call(follow, "system_info", vec![]).await?["chainId"]
        .as_u64()
        .ok_or_else(|| anyhow!("system_info has no chainId"))?;
    let funder = crate::client::signer(&args.funder)?;
    let senders: Vec<Keypair> = (0..args.txs.div_ceil(PER_SENDER))
        .map(|i| Keypair::dev(&format!("load-{i}"), false))
        .collect();
    let sink = Address([0x10; 32]);

    // A transfer's exact gas, from a dry run.
    let dry = call(
        follow,
        "contract_dryRun",
        vec![
            funder.address().to_string().into(),
            format!(
                "0x{}",
                hex::encode(
                    Action::Transfer {
                        to: sink,
                        amount: 1
                    }
                    .encode()
                )
            )
            .into(),
        ],
    )
    .await?;
    let gas_limit = dry["gasUsed"]
        .as_u64()
        .filter(|_| dry["status"] == "success")
        .ok_or_else(|| anyhow!("a dry-run transfer from the funder fails: {dry}"))?;

    eprintln!(
        "load: funding {} senders from {} ({} transfers of gas {gas_limit} each)",
        senders.len(),
        args.funder,
        args.txs
    );
    let per_tx = u128::from(gas_limit) + 1;
    let need = (PER_SENDER as u128) * per_tx;
    if let Some(last) = fund(follow, chain_id, &funder, &senders, need, per_tx).await? {
        // Every endpoint must see the senders funded, or it refuses their transfers.
        for client in &clients {
            wait_for_receipt(client, &last).await?;
        }
    }

    // Sign everything first: signing is not what is measured. Nonce-major order, so that
    // each sender's transactions arrive in nonce order.
    let mut nonces = Vec::with_capacity(senders.len());
    for chunk in senders.chunks(BATCH) {
        let mut batch = BatchRequestBuilder::new();
        for s in chunk {
            batch.insert("author_nextNonce", rpc_params![s.address().to_string()])?;
        }
        let res: BatchResponse<Value> = follow.batch_request(batch).await?;
        for r in res {
            nonces.push(
                r.map_err(|e| anyhow!("author_nextNonce: {e:?}"))?
                    .as_u64()
                    .ok_or_else(|| anyhow!("author_nextNonce did not return a number"))?,
            );
        }
    }
    let mut txs = Vec::with_capacity(args.txs);
    'sign: for k in 0..PER_SENDER as u64 {
        for (s, base) in senders.iter().zip(&nonces) {
            if txs.len() == args.txs {
                break 'sign;
            }
            txs.push(s.sign_tx(Transaction {
                chain_id,
                nonce: base + k,
                gas_limit,
                gas_price: 1,
                action: Action::Transfer {
                    to: sink,
                    amount: 1,
                },
            }));
        }
    }

    let start_height = call(follow, "chain_getFinalizedHeight", vec![])
        .await?
        .as_u64()
        .ok_or_else(|| anyhow!("chain_getFinalizedHeight did not return a number"))?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let watcher = tokio::spawn(watch(
        follow.clone(),
        start_height,
        tally.clone(),
        Duration::from_secs(args.stall_secs),
        args.txs,
    ));

    // Submit: batches at the set rate, round robin over the endpoints, a few in flight.
    eprintln!(
        "load: submitting {} transactions to {} endpoint(s){}",
        txs.len(),
        clients.len(),
        if args.rate > 0 {
            format!(" at {} tx/s", args.rate)
        } else {
            String::new()
        }
    );
    let steps_before: Vec<_> = args
        .metrics
        .iter()
        .map(|m| block_steps(m))
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut sending = Vec::new();
    for (i, chunk) in txs.chunks(BATCH).enumerate() {
        if args.rate > 0 {
            let due = started + Duration::from_secs_f64((i * BATCH) as f64 / args.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = slots.clone().acquire_owned().await?;
        let client = clients[i % clients.len()].clone();
        let chunk: Vec<(Hash, String)> = chunk.iter().map(|t| (t.hash(), encoded(t))).collect();
        let tally = tally.clone();
        sending.push(tokio::spawn(async move {
            let mut batch = BatchRequestBuilder::new();
            for (_, tx) in &chunk {
                batch.insert("author_submitTransaction", rpc_params![tx])?;
            }
            let sent = Instant::now();
            {
                // Pending before it is sent: a fast block may finalize it before the answer.
                let mut t = tally.lock().await;
                t.first_sent.get_or_insert(sent);
                t.pending.extend(chunk.iter().map(|(h, _)| (*h, sent)));
            }
            let res: BatchResponse<Value> = client.batch_request(batch).await?;
            let mut t = tally.lock().await;
            for ((hash, _), r) in chunk.iter().zip(res) {
                if let Err(e) = r {
                    t.pending.remove(hash);
                    *t.refused.entry(e.message().to_string()).or_default() += 1;
                }
            }
            drop(permit);
            anyhow::Ok(())
        }));
    }
    for s in sending {
        s.await??;
    }
    let submitted_in = started.elapsed();
    let (lost, end_height) = watcher.await??;

    let mut steps = serde_json::Map::new();
    for (addr, before) in args.metrics.iter().zip(&steps_before) {
        let after = block_steps(addr)?;
        let mut node = serde_json::Map::new();
        for (step, (sum, count)) in &after {
            let (sum0, count0) = before.get(step).copied().unwrap_or_default();
            let (secs, blocks) = (sum - sum0, count - count0);
            node.insert(
                step.clone(),
                json!({ "seconds": secs, "blocks": blocks, "msPerBlock": if blocks > 0.0 { secs * 1000.0 / blocks } else { 0.0 } }),
            );
        }
        steps.insert(addr.clone(), Value::Object(node));
    }
    let t = tally.lock().await;
    let finalized = t.latencies.len();
    let refused: usize = t.refused.values().sum();
    let accepted = args.txs - refused;
    let mut lat = t.latencies.clone();
    lat.sort();
    let pct = |p: f64| -> f64 {
        lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let span = match (t.first_sent, t.last_final) {
        (Some(a), Some(b)) => b.duration_since(a),
        _ => Duration::ZERO,
    };
    let report = json!({
        "endpoints": args.rpc.len(),
        "senders": senders.len(),
        "transactions": args.txs,
        "rate": args.rate,
        "accepted": accepted,
        "refused": t.refused,
        "submittedSeconds": submitted_in.as_secs_f64(),
        "acceptedPerSecond": accepted as f64 / submitted_in.as_secs_f64(),
        "finalized": finalized,
        "finalizedSeconds": span.as_secs_f64(),
        "finalizedPerSecond": if span.is_zero() { 0.0 } else { finalized as f64 / span.as_secs_f64() },
        "latencyMs": { "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0) },
        "blocks": t.blocks,
        "heights": [start_height + 1, end_height],
        "mostInBlock": t.most_in_block,
        "lost": lost,
        "duplicated": t.duplicated,
        "blockSteps": steps,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} transactions from {} senders to {} endpoint(s)",
            args.txs,
            senders.len(),
            args.rpc.len()
        );
        println!(
            "  accepted  {accepted} in {:.2} s ({:.0} tx/s), refused {refused}{}",
            submitted_in.as_secs_f64(),
            report["acceptedPerSecond"].as_f64().unwrap_or(0.0),
            if refused > 0 {
                format!(" {:?}", t.refused)
            } else {
                String::new()
            }
        );
        println!(
            "  finalized {finalized} in {:.2} s from the first submission ({:.0} tx/s), in {} blocks (heights {}–{end_height}, at most {} in one)",
            span.as_secs_f64(),
            report["finalizedPerSecond"].as_f64().unwrap_or(0.0),
            t.blocks,
            start_height + 1,
            t.most_in_block
        );
        println!(
            "  submission to finality: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0)
        );
        for (addr, node) in &steps {
            let mut parts: Vec<String> = node
                .as_object()
                .into_iter()
                .flatten()
                .map(|(step, v)| {
                    format!(
                        "{step} {:.2} s over {} blocks ({:.1} ms each)",
                        v["seconds"].as_f64().unwrap_or(0.0),
                        v["blocks"],
                        v["msPerBlock"].as_f64().unwrap_or(0.0)
                    )
                })
                .collect();
            parts.sort();
            println!("  block steps at {addr}: {}", parts.join(", "));
        }
        println!(
            "  every accepted transaction finalized once: {} (lost {lost}, finalized twice {})",
            if lost == 0 && t.duplicated == 0 {
                "yes"
            } else {
                "NO"
            },
            t.duplicated
        );
    }
    Ok(lost == 0 && t.duplicated == 0 && refused == 0)
}

/// Follows finalized blocks from `from + 1`, recording when each load transaction is
/// finalized, until `expected` are in or nothing new is finalized for `stall`; returns the
/// accepted transactions never finalized and the last height read.
async fn watch(
    client: HttpClient,
    from: u64,
    tally: Arc<Mutex<Tally>>,
    stall: Duration,
    expected: usize,
) -> anyhow::Result<(usize, u64)> {
    // Progress is a load transaction submitted or finalized: empty blocks are not.
    let (mut height, mut progress, mut seen) = (from, Instant::now(), (0, 0));
    loop {
        let top = call(&client, "chain_getFinalizedHeight", vec![])
            .await?
            .as_u64()
            .unwrap_or(height);
        while height < top {
            height += 1;
            let block = call(&client, "chain_getBlockByHeight", vec![height.into()]).await?;
            let now = Instant::now();
            let hashes: Vec<Hash> = block["transactions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str()?.parse().ok())
                .collect();
            let mut t = tally.lock().await;
            let mut ours = 0;
            for h in hashes {
                if let Some(sent) = t.pending.remove(&h) {
                    t.latencies.push(now.duration_since(sent));
                    t.finalized.insert(h);
                    t.last_final = Some(now);
                    ours += 1;
                } else if t.finalized.contains(&h) {
                    t.duplicated += 1;
                }
            }
            if ours > 0 {
                t.blocks += 1;
                t.most_in_block = t.most_in_block.max(ours);
            }
        }
        {
            let t = tally.lock().await;
            let refused: usize = t.refused.values().sum();
            let now_seen = (
                t.pending.len() + t.latencies.len() + refused,
                t.latencies.len(),
            );
            if now_seen != seen {
                (seen, progress) = (now_seen, Instant::now());
            }
            if t.latencies.len() + refused >= expected && t.pending.is_empty() {
                return Ok((0, height));
            }
            if progress.elapsed() > stall {
                return Ok((t.pending.len(), height));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a sender must receive to pay `need` for its new transfers: its balance, less what its
/// transfers still in the pool (`pending`, at most `per_tx` each: a run before this one, cut
/// short, leaves some) will take from it once they are in a block.
fn top_up(balance: u128, pending: u64, per_tx: u128, need: u128) -> u128 {
    need.saturating_add(per_tx.saturating_mul(u128::from(pending)))
        .saturating_sub(balance)
}

/// One call per sender, as a batch, each answer converted by `parse`.
async fn per_sender<T>(
    client: &HttpClient,
    method: &str,
    senders: &[Keypair],
    parse: impl Fn(&Value) -> Option<T>,
) -> anyhow::Result<Vec<T>> {
    let mut batch = BatchRequestBuilder::new();
    for s in senders {
        batch.insert(method, rpc_params![s.address().to_string()])?;
    }
    let res: BatchResponse<Value> = client.batch_request(batch).await?;
    res.into_iter()
        .map(|r| {
            let value = r.map_err(|e| anyhow!("{method}: {e:?}"))?;
            parse(&value).ok_or_else(|| anyhow!("{method} answered {value}"))
        })
        .collect()
}

/// Sends each sender that has less than `need` (besides what its pending transfers will take,
/// at most `per_tx` each) enough to reach it, from `funder`, in waves the pool takes (64
/// pending per sender), each wave waited for until it is in a block; the hash of the last
/// funding transfer, if any was needed.
async fn fund(
    client: &HttpClient,
    chain_id: u64,
    funder: &Keypair,
    senders: &[Keypair],
    need: u128,
    per_tx: u128,
) -> anyhow::Result<Option<String>> {
    let mut short = Vec::new();
    for chunk in senders.chunks(BATCH) {
        // In this order, a block committed between the reads can only make the pending count
        // larger than it is (an older state nonce) or the balance smaller: never fund short.
        let state_nonces = per_sender(client, "state_getNonce", chunk, Value::as_u64).await?;
        let next_nonces = per_sender(client, "author_nextNonce", chunk, Value::as_u64).await?;
        let balances = per_sender(client, "state_getBalance", chunk, |v| {
            v.as_str().and_then(|b| b.parse::<u128>().ok())
        })
        .await?;
        for (k, s) in chunk.iter().enumerate() {
            let pending = next_nonces[k].saturating_sub(state_nonces[k]);
            let amount = top_up(balances[k], pending, per_tx, need);
            if amount > 0 {
                short.push((s.address(), amount));
            }
        }
    }
    let mut last_sent = None;
    for wave in short.chunks(PER_SENDER) {
        let nonce = call(
            client,
            "author_nextNonce",
            vec![funder.address().to_string().into()],
        )
        .await?
        .as_u64()
        .ok_or_else(|| anyhow!("author_nextNonce did not return a number"))?;
        let mut batch = BatchRequestBuilder::new();
        let mut hashes = Vec::new();
        for (k, (to, amount)) in wave.iter().enumerate() {
            let tx = funder.sign_tx(Transaction {
                chain_id,
                nonce: nonce + k as u64,
                gas_limit: 100_000,
                gas_price: 1,
                action: Action::Transfer {
                    to: *to,
                    amount: *amount,
                },
            });
            hashes.push(tx.hash());
            batch.insert("author_submitTransaction", rpc_params![encoded(&tx)])?;
        }
        let res: BatchResponse<Value> = client.batch_request(batch).await?;
        for r in res {
            r.map_err(|e| anyhow!("funding transfer refused: {}", e.message()))?;
        }
        let last = hashes.last().expect("a wave is never empty").to_string();
        wait_for_receipt(client, &last).await?;
        last_sent = Some(last);
    }
    Ok(last_sent)
}

/// Waits until `hash` has a receipt at `client`.
async fn wait_for_receipt(client: &HttpClient, hash: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while call(client, "chain_getReceipt", vec![hash.into()])
        .await?
        .is_null()
    {
        if Instant::now() > deadline {
            bail!("transaction {hash} is not in a block after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::top_up;

    #[test]
    fn funding_counts_what_transfers_still_in_the_pool_will_take() {
        let per_tx = 7_861;
        let need = 50 * per_tx;
        // Twelve transfers of an earlier run still pending against a balance that pays just
        // them: the new fifty need the whole amount, not 38 transfers' worth.
        assert_eq!(top_up(12 * per_tx, 12, per_tx, need), need);
        assert_eq!(top_up(0, 0, per_tx, need), need);
        assert_eq!(top_up(need / 2, 0, per_tx, need), need - need / 2);
        assert_eq!(top_up(need + 5, 0, per_tx, need), 0);
        assert_eq!(top_up(u128::MAX, u64::MAX, u128::MAX, u128::MAX), 0);
    }
}
