//! Mempool admission throughput: `cargo bench -p aether-node --bench mempool`; figures in
//! `docs/benchmarks.md`.

use std::hint::black_box;

use aether_engine::types::{Account, SignedTransaction};
use aether_node::mempool::{Mempool, PoolConfig};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// The chain id the transactions are signed for.
fn chain() -> u64 {
    aether_node::genesis::Genesis::dev().chain_id
}

/// `senders` × `per_sender` signed transfers.
fn transactions(senders: usize, per_sender: u64, sr25519: bool) -> Vec<SignedTransaction> {
    aether_node::bench_workloads::signed_transfers(senders, per_sender, sr25519)
}

fn admission(c: &mut Criterion) {
    let rich = Account::with_balance(u128::MAX / 4);
    let mut group = c.benchmark_group("mempool");
    group.sample_size(10);
    for (name, sr) in [("ed25519", false), ("sr25519", true)] {
        let txs = transactions(100, 50, sr);
        group.throughput(Throughput::Elements(txs.len() as u64));
        group.bench_function(format!("admit_5000_{name}"), |b| {
            b.iter_batched(
                || {
                    (
                        Mempool::new(PoolConfig::new(chain(), 30_000_000)),
                        txs.clone(),
                    )
                },
                |(mut pool, txs)| {
                    for tx in txs {
                        pool.submit(tx, Some(&rich), 0).unwrap();
                    }
                    pool
                },
                BatchSize::PerIteration,
            )
        });
    }
    // Admission without the signature check's share: the pool's own bookkeeping, measured as
    // taking a 5,000-transaction block out of a full pool.
    let txs = transactions(100, 50, false);
    let mut pool = Mempool::new(PoolConfig::new(chain(), u64::MAX));
    for tx in txs {
        pool.submit(tx, Some(&rich), 0).unwrap();
    }
    group.throughput(Throughput::Elements(5_000));
    group.bench_function("ready_5000", |b| {
        b.iter(|| black_box(pool.ready(u64::MAX, 5_000)))
    });
    group.finish();
}

criterion_group!(benches, admission);
criterion_main!(benches);
