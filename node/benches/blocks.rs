//! A 10,000-transfer block through the consensus port's path on real ParityDB stores: built by
//! one node (its pool admitted the transactions, so their signatures are cached), verified by a
//! second node that never saw them (every signature checked) and by a third whose pool admitted
//! them (cached), then committed.
//!
//! `cargo bench -p aether-node --bench blocks` (100k and 1M accounts);
//! `AETHER_BENCH_ACCOUNTS=100000 AETHER_BENCH_ROUNDS=5 cargo bench -p aether-node --bench blocks`.
//! Prints the median, minimum and maximum of each phase over the rounds; figures in
//! `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use aether_engine::ports::Verdict;
use aether_engine::types::Address;
use aether_node::bench_workloads::{genesis, open_chain, senders, transfers};

const TXS: usize = 10_000;
const PROPOSER: Address = Address([0xfe; 32]);

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

struct Phases {
    build: Vec<Duration>,
    verify_uncached: Vec<Duration>,
    verify_cached: Vec<Duration>,
    commit: Vec<Duration>,
}

fn show(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!(
        "  {name:<28} median {:>8.1} ms   min {:>8.1}   max {:>8.1}   ({:.0} tx/s at the median)",
        ms(d[d.len() / 2]),
        ms(d[0]),
        ms(d[d.len() - 1]),
        TXS as f64 / d[d.len() / 2].as_secs_f64()
    );
}

fn main() {
    let rounds = env_list("AETHER_BENCH_ROUNDS", &[5])[0].max(1);
    let senders = senders(TXS);
    for accounts in env_list("AETHER_BENCH_ACCOUNTS", &[100_000, 1_000_000]) {
        let accounts = accounts.max(TXS as u64);
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let loading = Instant::now();
        let g = genesis(accounts, &senders);
        let open = |dir: &std::path::Path, g| open_chain(dir, g).expect("open the chain");
        let builder = open(dirs[0].path(), g.clone());
        let uncached = open(dirs[1].path(), g.clone());
        let cached = open(dirs[2].path(), g);
        println!(
            "{accounts} accounts, {TXS} transfers per block, {rounds} rounds (3 stores loaded in {:.1} s)",
            loading.elapsed().as_secs_f64()
        );
        let mut p = Phases {
            build: Vec::new(),
            verify_uncached: Vec::new(),
            verify_cached: Vec::new(),
            commit: Vec::new(),
        };
        for round in 0..rounds {
            let txs = transfers(&senders, round, accounts);
            for tx in &txs {
                builder.submit(tx.clone(), 0).expect("admitted");
                cached.submit(tx.clone(), 0).expect("admitted");
            }
            let head = builder.head();
            let t = Instant::now();
            let block = builder
                .build(
                    head.hash(),
                    head.height + 1,
                    head.timestamp_ms + 1_000,
                    PROPOSER,
                )
                .unwrap()
                .unwrap();
            p.build.push(t.elapsed());
            assert_eq!(
                block.transactions.len(),
                TXS,
                "every transfer is in the block"
            );
            let now = block.header.timestamp_ms;
            let t = Instant::now();
            assert_eq!(uncached.verify(&block, now).unwrap(), Verdict::Valid);
            p.verify_uncached.push(t.elapsed());
            let t = Instant::now();
            assert_eq!(cached.verify(&block, now).unwrap(), Verdict::Valid);
            p.verify_cached.push(t.elapsed());
            let id = [block.header.hash()];
            let t = Instant::now();
            builder.commit(&id, b"proof").unwrap();
            p.commit.push(t.elapsed());
            uncached.commit(&id, b"proof").unwrap();
            cached.commit(&id, b"proof").unwrap();
        }
        show("build (signatures cached)", p.build);
        show("verify, signatures checked", p.verify_uncached);
        show("verify, signatures cached", p.verify_cached);
        show("commit", p.commit);
    }
}
