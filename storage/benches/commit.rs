//! The store's block commit against raw ParityDB, in one run: a store of N accounts commits the
//! state changes of a block of 10,000 transfers (20,000 changed accounts, state root computed
//! inside) and a bare ParityDB 0.5 database holding the same N accounts commits the same 20,000
//! values, once into a hash column and once into a B-tree column. The report gives medians and
//! the ratios, the state root's cost per changed key, point read, prove and verify, and the
//! store's memory.
//!
//! ```sh
//! cargo bench -p aether-storage --bench commit                              # 100k and 1M
//! AETHER_BENCH_SIZES=10000000 cargo bench -p aether-storage --bench commit  # 10M (long mode)
//! AETHER_BENCH_ROUNDS=5 cargo bench -p aether-storage --bench commit        # fewer rounds
//! AETHER_BENCH_CACHE_MB=1024 cargo bench -p aether-storage --bench commit    # node cache size
//! ```
//!
//! Each round draws a fresh block (10,000 distinct senders and 10,000 distinct receivers among
//! the N accounts). The raw rounds come first, block after block: the values into the hash
//! column, then into the B-tree column. Then the store's rounds, block after block: the state
//! root (`root_after`, nothing written) and the write (`commit`, which reuses the tree update
//! `root_after` computed: the one atomic write with history and pruning); the commit of a block
//! is the sum. Commits follow each other as in a node: ParityDB's `commit` returns once the
//! change set is queued (a background thread writes its log), but waits when more than 16 MiB
//! are queued, on both sides. A first round of each kind warms up and is not counted.

mod common;

use common::{Rng, commit};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use aether_engine::ports::StateReader;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Hash};
use aether_storage::{StateKey, Store, StoreConfig};
use parity_db::{ColumnOptions, Db, Options};
use parity_scale_codec::Encode;

const TRANSFERS: u64 = 10_000;
const LOAD_BATCH: u64 = 100_000;
const RAW_HASH: u8 = 0;
const RAW_BTREE: u8 = 1;

fn address(i: u64) -> Address {
    Address(Hash::of(&i.to_le_bytes()).0)
}

fn account(i: u64, salt: u64) -> Account {
    Account {
        balance: 1_000_000_000 + u128::from(i ^ salt),
        nonce: salt & 0xffff,
        code_hash: None,
        admin: None,
    }
}

/// The state changes of a block of 10,000 transfers among `n` accounts: 20,000 distinct
/// accounts, each with a new balance (and the senders a new nonce).
fn transfer_block(rng: &mut Rng, n: u64) -> ChangeSet {
    let mut changes = ChangeSet::default();
    let salt = rng.next();
    while (changes.accounts.len() as u64) < 2 * TRANSFERS {
        let i = rng.next() % n;
        changes.accounts.insert(address(i), account(i, salt));
    }
    changes
}

fn raw_writes(changes: &ChangeSet, col: u8) -> Vec<(u8, Vec<u8>, Option<Vec<u8>>)> {
    changes
        .accounts
        .iter()
        .map(|(a, acc)| (col, a.0.to_vec(), Some(acc.encode())))
        .collect()
}

fn raw_db(dir: &Path, n: u64) -> Db {
    let mut options = Options::with_columns(dir, 2);
    options.columns = vec![
        ColumnOptions::default(),
        ColumnOptions {
            btree_index: true,
            ..ColumnOptions::default()
        },
    ];
    let db = Db::open_or_create(&options).unwrap();
    let mut i = 0;
    while i < n {
        let end = (i + LOAD_BATCH).min(n);
        let batch = (i..end).flat_map(|j| {
            let (a, v) = (address(j).0.to_vec(), account(j, 0).encode());
            [
                (RAW_HASH, a.clone(), Some(v.clone())),
                (RAW_BTREE, a, Some(v)),
            ]
        });
        db.commit(batch).unwrap();
        i = end;
    }
    // Reopened, like the store, once the load is written out.
    drop(db);
    Db::open(&options).unwrap()
}

/// A store holding `n` accounts, loaded in blocks of 100k.
/// A store of `n` accounts, reopened, and how long its tree-node cache took to warm.
fn loaded_store(dir: &Path, n: u64, config: StoreConfig) -> (Store, Duration) {
    let store = Store::open(dir, config).unwrap();
    let mut i = 0;
    while i < n {
        let end = (i + LOAD_BATCH).min(n);
        let mut changes = ChangeSet::default();
        for j in i..end {
            changes.accounts.insert(address(j), account(j, 0));
        }
        commit(&store, changes);
        i = end;
    }
    // Reopened, so that ParityDB has written out the load before anything is measured (closing
    // waits for its background writer); the tree-node cache is warmed from the head's tree
    // (up to its budget) before anything is measured.
    drop(store);
    let store = Store::open(dir, config).unwrap();
    let start = Instant::now();
    while store.node_cache_stats().warming && start.elapsed() < Duration::from_secs(3_600) {
        std::thread::sleep(Duration::from_millis(10));
    }
    (store, start.elapsed())
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn spread(v: &[Duration]) -> String {
    let min = v.iter().min().unwrap();
    let max = v.iter().max().unwrap();
    format!("{}–{}", ms(*min), ms(*max))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn env_u64s(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// Resident memory of this process, from /proc (Linux), in MiB.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter this harness ignores.
    let sizes = env_u64s("AETHER_BENCH_SIZES", &[100_000, 1_000_000]);
    let rounds = env_u64s("AETHER_BENCH_ROUNDS", &[10])[0].max(1) as usize;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("# store commit against raw ParityDB, {rounds} rounds, CPU: {cpu}");
    for n in sizes {
        let raw_dir = tempfile::tempdir().unwrap();
        let store_dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let raw = raw_db(raw_dir.path(), n);
        let raw_load = start.elapsed();
        let before = resident_mib();
        let start = Instant::now();
        let (store, warmed) = loaded_store(
            store_dir.path(),
            n,
            StoreConfig {
                state_history: 4,
                node_cache_bytes: env_u64s("AETHER_BENCH_CACHE_MB", &[])
                    .first()
                    .map_or(aether_storage::DEFAULT_NODE_CACHE_BYTES, |mb| {
                        (*mb as usize) << 20
                    }),
            },
        );
        let store_load = start.elapsed().saturating_sub(warmed);
        let after = resident_mib();
        println!(
            "\n## {n} accounts (loaded: raw {:.1} s, store {:.1} s; node cache warmed in {:.1} s: {} nodes, {} MiB)",
            raw_load.as_secs_f64(),
            store_load.as_secs_f64(),
            warmed.as_secs_f64(),
            store.node_cache_stats().nodes,
            store.node_cache_stats().bytes >> 20
        );
        let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ n);
        let (mut hash, mut btree, mut root, mut write, mut whole) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut sizes = vec![];
        for round in 0..=rounds {
            let block = transfer_block(&mut rng, n);
            let h = timed(|| raw.commit(raw_writes(&block, RAW_HASH)).unwrap());
            let b = timed(|| raw.commit(raw_writes(&block, RAW_BTREE)).unwrap());
            if round > 0 {
                hash.push(h);
                btree.push(b);
            }
        }
        for round in 0..=rounds {
            let block = transfer_block(&mut rng, n);
            let mut state_root = Hash::default();
            let r = timed(|| state_root = store.root_after(&block).unwrap());
            let executed = common::next_block(&store, block, state_root);
            let w = timed(|| store.commit(black_box(&executed)).unwrap());
            if round > 0 {
                root.push(r);
                write.push(w);
                sizes.push(store.last_commit_size());
                whole.push(r + w);
            }
        }
        let changed = (2 * TRANSFERS) as f64;
        let (mh, mb, mr, mwr, mw) = (
            median(hash.clone()),
            median(btree.clone()),
            median(root.clone()),
            median(write.clone()),
            median(whole.clone()),
        );
        println!("| measurement | median | min–max |");
        println!("|---|---:|---:|");
        println!(
            "| raw ParityDB, hash column, 20,000 values | {} | {} |",
            ms(mh),
            spread(&hash)
        );
        println!(
            "| raw ParityDB, B-tree column, 20,000 values | {} | {} |",
            ms(mb),
            spread(&btree)
        );
        println!(
            "| store: state root (`root_after`), 20,000 changed accounts | {} | {} |",
            ms(mr),
            spread(&root)
        );
        println!(
            "| store: write (`commit` after `root_after`) | {} | {} |",
            ms(mwr),
            spread(&write)
        );
        println!(
            "| store: block commit (root + write), 10,000 transfers | {} | {} |",
            ms(mw),
            spread(&whole)
        );
        let cache = store.node_cache_stats();
        let raw_bytes: usize = 2 * TRANSFERS as usize * (32 + Account::default().encode().len());
        let entries = sizes.iter().map(|s| s.entries).sum::<usize>() / sizes.len();
        let bytes = sizes.iter().map(|s| s.bytes).sum::<usize>() / sizes.len();
        println!(
            "written per block: store {entries} entries, {:.1} MB; raw {} entries, {:.1} MB",
            bytes as f64 / 1e6,
            2 * TRANSFERS,
            raw_bytes as f64 / 1e6
        );
        println!(
            "ratios: store commit / raw hash column = {:.1}×, / raw B-tree column = {:.1}×; \
             root per changed key = {:.2} µs; tree-node cache: {} nodes, {:.0} of {:.0} MiB",
            mw.as_secs_f64() / mh.as_secs_f64(),
            mw.as_secs_f64() / mb.as_secs_f64(),
            mr.as_secs_f64() * 1e6 / changed,
            cache.nodes,
            cache.bytes as f64 / (1 << 20) as f64,
            cache.budget as f64 / (1 << 20) as f64,
        );

        // The state root alone, with no write of ParityDB's in flight: the commits above overlap
        // the next block's root with the previous block's write-out, which shares the cores.
        std::thread::sleep(Duration::from_secs(3));
        let mut quiet = vec![];
        for _ in 0..rounds {
            let block = transfer_block(&mut rng, n);
            quiet.push(timed(|| {
                black_box(store.root_after(&block).unwrap());
            }));
        }
        let mq = median(quiet.clone());
        println!(
            "state root with no write in flight: {} ({}), {:.2} µs per changed key",
            ms(mq),
            spread(&quiet),
            mq.as_secs_f64() * 1e6 / changed,
        );

        let state = store.state();
        let head = store.head().unwrap();
        let reads = 20_000;
        let read = timed(|| {
            for _ in 0..reads {
                black_box(state.account(&address(rng.next() % n)).unwrap());
            }
        }) / reads;
        let proves = 5_000;
        let prove = timed(|| {
            for _ in 0..proves {
                let key = StateKey::Account(address(rng.next() % n));
                black_box(store.prove(&key, head.height).unwrap());
            }
        }) / proves;
        let proof = store
            .prove(&StateKey::Account(address(n / 2)), head.height)
            .unwrap();
        let verify = timed(|| {
            for _ in 0..proves {
                proof.verify(black_box(&head.state_root)).unwrap();
            }
        }) / proves;
        println!(
            "point read {}, prove {}, verify {}; resident memory: {} MiB before the store \
             loaded, {} MiB after ({} MiB now)",
            us(read),
            us(prove),
            us(verify),
            before.map_or("?".into(), |m| format!("{m:.0}")),
            after.map_or("?".into(), |m| format!("{m:.0}")),
            resident_mib().map_or("?".into(), |m| format!("{m:.0}")),
        );
        drop(state);
    }
}
