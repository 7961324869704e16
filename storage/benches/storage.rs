//! Storage benchmarks on a real ParityDB: block commit, point read, proofs, and the cost of the
//! state-root update per changed key as the state grows. `cargo bench -p aether-storage --bench
//! storage`; figures in `docs/benchmarks.md`. The state sizes default to 100k and 1M entries;
//! `AETHER_BENCH_SIZES=100000,1000000,10000000` adds 10M (about half an hour to build).

mod common;

use common::{Rng, commit};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use aether_engine::ports::StateReader;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Address, Hash};
use aether_storage::{StateKey, Store, StoreConfig};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const CONTRACT: Address = Address([0xC0; 32]);
const LOAD_BATCH: u64 = 100_000;

fn key(i: u64) -> Vec<u8> {
    Hash::of(&i.to_le_bytes()).0.to_vec()
}

fn changes(keys: impl Iterator<Item = u64>, salt: u64) -> ChangeSet {
    let mut c = ChangeSet::default();
    for i in keys {
        c.storage
            .insert((CONTRACT, key(i)), Some((i ^ salt).to_le_bytes().repeat(4)));
    }
    c
}

/// A store holding `n` storage entries, loaded in blocks of 100k.
fn loaded(dir: &Path, n: u64) -> Store {
    let store = Store::open(
        dir,
        StoreConfig {
            state_history: 4,
            ..StoreConfig::default()
        },
    )
    .unwrap();
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + LOAD_BATCH).min(n);
        commit(&store, changes(i..end, 0));
        i = end;
    }
    eprintln!("loaded {n} entries in {:.1?}", start.elapsed());
    store
}

fn sizes() -> Vec<u64> {
    std::env::var("AETHER_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

fn storage(c: &mut Criterion) {
    for n in sizes() {
        let dir = tempfile::tempdir().unwrap();
        let store = loaded(dir.path(), n);
        let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ n);
        let mut group = c.benchmark_group(format!("state_{n}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(10));

        // Root update: 1,000 changed keys (half overwrites, half new) per measured call; the
        // figure divided by 1,000 is the cost per changed key.
        let mut next_new = n;
        group.bench_function(BenchmarkId::new("root_after", "1k_changes"), |b| {
            b.iter_batched(
                || {
                    let mut keys: Vec<u64> = (0..500).map(|_| rng.next() % n).collect();
                    keys.extend(next_new..next_new + 500);
                    next_new += 500;
                    changes(keys.into_iter(), rng.next())
                },
                |c| black_box(store.root_after(&c).unwrap()),
                criterion::BatchSize::PerIteration,
            )
        });

        // A whole block: root, then the atomic commit of 10k changes with pruning.
        group.bench_function(BenchmarkId::new("commit", "10k_changes"), |b| {
            b.iter_batched(
                || {
                    let keys: Vec<u64> = (0..10_000).map(|_| rng.next() % n).collect();
                    changes(keys.into_iter(), rng.next())
                },
                |c| commit(&store, c),
                criterion::BatchSize::PerIteration,
            )
        });

        let state = store.state();
        group
            .sample_size(50)
            .measurement_time(Duration::from_secs(5));
        group.bench_function("point_read", |b| {
            b.iter(|| {
                let i = rng.next() % n;
                black_box(state.storage(&CONTRACT, &key(i)).unwrap())
            })
        });
        let head = store.head().unwrap();
        group.bench_function("prove", |b| {
            b.iter(|| {
                let i = rng.next() % n;
                black_box(
                    store
                        .prove(&StateKey::Storage(CONTRACT, key(i)), head.height)
                        .unwrap(),
                )
            })
        });
        let proof = store
            .prove(&StateKey::Storage(CONTRACT, key(n / 2)), head.height)
            .unwrap();
        group.bench_function("verify_proof", |b| {
            b.iter(|| proof.verify(black_box(&head.state_root)).unwrap())
        });
        group.finish();
        drop(state);
    }
}

criterion_group!(benches, storage);
criterion_main!(benches);
