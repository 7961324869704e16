//! The store's block commit against raw ParityDB, in one run: a store of N accounts commits the
//! state changes of a block of 10,000 transfers (20,000 changed accounts, state root computed
//! inside) and a bare ParityDB 0.5 database holding the same N accounts commits the same 20,000
//! values, once into a hash column and once into a B-tree column. The report gives medians, the
//! sustained cost per block and the ratios, what the store writes per column, the state root's
//! cost per changed key, point read, prove and verify, and the store's memory.
//!
//! ```sh
//! cargo bench -p aether-storage --bench commit                              # 100k and 1M
//! AETHER_BENCH_SIZES=10000000 cargo bench -p aether-storage --bench commit  # 10M (long mode)
//! AETHER_BENCH_ROUNDS=5 cargo bench -p aether-storage --bench commit        # fewer rounds
//! AETHER_BENCH_CACHE_MB=1024 cargo bench -p aether-storage --bench commit    # node cache size
//! AETHER_BENCH_DIR=/some/dir cargo bench -p aether-storage --bench commit    # keep the loads
//! AETHER_BENCH_ROOTS_ONLY=40 cargo bench -p aether-storage --bench commit    # roots only
//! AETHER_BENCH_REPEATS=5 cargo bench -p aether-storage --bench commit       # 5 paired ratios
//! ```
//!
//! Each round draws a fresh block (10,000 distinct senders and 10,000 distinct receivers among
//! the N accounts). The raw rounds come first, block after block: the values into the hash
//! column, then into the B-tree column. Then the store's rounds, block after block: the state
//! root (`root_after`, nothing written) and the write (`commit`, which reuses the tree update
//! `root_after` computed: the one atomic write with history and pruning); the commit of a block
//! is the sum. Before its root, each block's 20,000 accounts are read through a view of the head
//! (untimed), as the block's execution reads them in a node: the store keeps what those reads
//! found for the root's previous versions instead of reading each key again.
//! Then as many blocks **pipelined**, as a validator can run them through the pending-state
//! API: block N+1's root computed over block N's pending state (`speculate`) while N is
//! committed on another thread (`commit_pending`); the round is timed from the start of both to
//! the end of both. Each side starts once the process is idle (ParityDB has finished whatever it did
//! after opening).
//!
//! ParityDB's `commit` returns once the change set is queued: background threads write it to
//! the log and then into the tables, and `commit` waits only while more than 16 MiB of commits
//! (or 128 MiB of log) are queued. A raw block (1.2 MB) is queued in a few milliseconds and
//! its cost is paid later, in the background; a store block (20–30 MB) waits for the previous
//! ones. So the figure compared is the **sustained** cost, on both sides: the mean call once the
//! queues are full (the blocks that fill them, 130 raw and 8 store blocks, are committed but
//! not timed), when each call waits for the write-out of earlier blocks. The medians of the
//! calls are printed too.
//!
//! With `AETHER_BENCH_DIR` the loaded databases are kept in `<dir>/raw-N` and `<dir>/store-N`
//! and reused by the next run (a 10M load takes a quarter of an hour); each run adds its blocks.
//!
//! `AETHER_BENCH_ROOTS_ONLY=N` times N state roots in steady state instead (each block
//! committed and written out before the next), every other block's accounts read first and
//! the others not, with the major page faults of each root: on a
//! machine that evicts idle file pages, a reopened 10M store reads part of its working set back
//! from the disk (docs/benchmarks.md). The stores of all `AETHER_BENCH_SIZES` are open at once
//! and their blocks interleaved, so the growth of the root from one size to the next is
//! measured under the same state of the machine (per round and as a ratio of medians). With
//! `AETHER_BENCH_PERF_CTL` naming `perf record`'s control fifo, the profiler runs only during
//! the timed roots (the command is in docs/benchmarks.md); in the default mode, only during
//! the store's timed roots and commits.

mod common;
#[path = "common/cpu.rs"]
mod cpu;

use common::{Rng, commit};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use aether_engine::ports::StateReader;
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Hash};
use aether_storage::{PendingState, StateKey, Store, StoreConfig};
use parity_db::{ColumnOptions, Db, Options};
use parity_scale_codec::Encode;
use std::sync::Arc;

/// The `aether` binary's allocator, so that the store is measured as the node runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// What the block's execution reads before its state root is computed: each account it
/// changes, through a view of the head (untimed; the store keeps what the reads found for the
/// root's previous versions).
/// `rounds` blocks committed one after another after [`STORE_FILL`] untimed ones, each
/// block's accounts read first (untimed): the state root (`root_after`) and the write
/// (`commit`) of each, their sums, and what each wrote.
fn sequential_rounds(
    store: &Store,
    rounds: usize,
    rng: &mut Rng,
    n: u64,
    perf: &mut PerfControl,
) -> (
    Vec<Duration>,
    Vec<Duration>,
    Rounds,
    Vec<aether_storage::CommitSize>,
) {
    let (mut root, mut write, mut whole) = (vec![], vec![], vec![]);
    let mut sizes = vec![];
    for round in 0..STORE_FILL + rounds {
        let block = transfer_block(rng, n);
        execution_reads(store, &block);
        let mut state_root = Hash::default();
        perf.set(round >= STORE_FILL);
        let r = timed(|| state_root = store.root_after(&block).unwrap());
        perf.set(false);
        let executed = common::next_block(store, block, state_root);
        perf.set(round >= STORE_FILL);
        let w = timed(|| store.commit(black_box(&executed)).unwrap());
        perf.set(false);
        if round >= STORE_FILL {
            root.push(r);
            write.push(w);
            sizes.push(store.last_commit_size());
            whole.push(r + w);
        }
    }
    (root, write, Rounds { each: whole }, sizes)
}

/// `rounds` blocks committed as a validator can run them, after [`STORE_FILL`] untimed ones:
/// block N+1's root computed over block N's pending state ([`Store::speculate`]) while N is
/// committed on another thread ([`Store::commit_pending`]); a round is timed from the start of
/// both to the end of both. Each block's accounts are read first through its parent's pending
/// state (untimed), as the block's execution reads them. The last block is committed after the
/// rounds, untimed.
fn pipelined_rounds(store: &Store, rounds: usize, rng: &mut Rng, n: u64) -> Rounds {
    let first = transfer_block(rng, n);
    execution_reads(store, &first);
    let mut pending = store.speculate(None, &first).unwrap();
    let mut executed = common::next_block(store, first, pending.root());
    let mut each = vec![];
    for round in 0..STORE_FILL + rounds {
        let next = transfer_block(rng, n);
        execution_reads_over(store, Some(&pending), &next);
        let mut child = None;
        let t = timed(|| {
            std::thread::scope(|s| {
                let committed = std::thread::Builder::new()
                    .name("bench-commit".into())
                    .spawn_scoped(s, || store.commit_pending(&executed, &pending, &[]))
                    .unwrap();
                child = Some(store.speculate(Some(&pending), &next).unwrap());
                committed.join().unwrap().unwrap();
            });
        });
        if round >= STORE_FILL {
            each.push(t);
        }
        pending = child.unwrap();
        executed = common::next_block(store, next, pending.root());
    }
    store.commit_pending(&executed, &pending, &[]).unwrap();
    Rounds { each }
}

fn execution_reads(store: &Store, changes: &ChangeSet) {
    execution_reads_over(store, None, changes);
}

/// [`execution_reads`] through the post-state of a pending block.
fn execution_reads_over(store: &Store, parent: Option<&Arc<PendingState>>, changes: &ChangeSet) {
    let view = store.pending_view(parent).unwrap();
    for address in changes.accounts.keys() {
        black_box(view.account(address).unwrap());
    }
}

fn raw_writes(changes: &ChangeSet, col: u8) -> Vec<(u8, Vec<u8>, Option<Vec<u8>>)> {
    changes
        .accounts
        .iter()
        .map(|(a, acc)| (col, a.0.to_vec(), Some(acc.encode())))
        .collect()
}

fn raw_options(dir: &Path) -> Options {
    let mut options = Options::with_columns(dir, 2);
    options.columns = vec![
        ColumnOptions::default(),
        ColumnOptions {
            btree_index: true,
            ..ColumnOptions::default()
        },
    ];
    options
}

fn raw_db(dir: &Path, n: u64) -> Db {
    let options = raw_options(dir);
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
    // waits for its background writer).
    drop(store);
    reopened_store(dir, config)
}

/// The store in `dir` opened, and how long its tree-node cache took to warm from the head's
/// tree (up to its budget): nothing is measured before it is warm.
fn reopened_store(dir: &Path, config: StoreConfig) -> (Store, Duration) {
    let store = Store::open(dir, config).unwrap();
    let start = Instant::now();
    while store.node_cache_stats().warming && start.elapsed() < Duration::from_secs(3_600) {
        std::thread::sleep(Duration::from_millis(10));
    }
    (store, start.elapsed())
}

/// ParityDB queues up to 16 MiB of commits and 128 MiB of log before a `commit` waits: the
/// blocks that fill the queues are committed but not timed, so that the timed calls are paid at
/// the rate the database writes out. This many raw blocks (1.2 MB each) fill them.
const RAW_FILL: usize = 130;
/// And this many store blocks (20–30 MB each).
const STORE_FILL: usize = 8;

/// Timed commit calls of consecutive blocks, once the queues are full.
struct Rounds {
    each: Vec<Duration>,
}

impl Rounds {
    fn median(&self) -> Duration {
        median(self.each.clone())
    }

    /// What a block costs when blocks are committed one after another: the mean call once the
    /// queues are full (a call then waits for the write-out of earlier blocks).
    fn sustained(&self) -> Duration {
        self.each.iter().sum::<Duration>() / self.each.len().max(1) as u32
    }
}

/// `rounds` timed blocks of values committed into the raw database's column `col` after
/// [`RAW_FILL`] untimed ones; then waits until the database has written them out.
fn raw_rounds(raw: &Db, col: u8, rounds: usize, rng: &mut Rng, n: u64) -> Rounds {
    // Whatever the database still does after opening (ParityDB may be reindexing a column that
    // grew) is not part of these blocks' cost.
    wait_until_idle();
    let mut each = vec![];
    for round in 0..RAW_FILL + rounds {
        let writes = raw_writes(&transfer_block(rng, n), col);
        let t = timed(|| raw.commit(writes).unwrap());
        if round >= RAW_FILL {
            each.push(t);
        }
    }
    wait_until_idle();
    Rounds { each }
}

/// Counters of this process from `/proc/self/stat` (0 where there is none), by their place
/// after the command name (which ends with the last ')').
fn stat_fields<const N: usize>(at: [usize; N]) -> [u64; N] {
    let fields = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let mut out = [0; N];
            for (o, i) in out.iter_mut().zip(at) {
                *o = f.get(i)?.parse().ok()?;
            }
            Some(out)
        });
    fields.unwrap_or([0; N])
}

/// CPU time this process has used, in clock ticks (utime + stime).
fn cpu_ticks() -> u64 {
    let [user, system] = stat_fields([11, 12]);
    user + system
}

/// Page faults of this process that had to read from the disk (`majflt`): a mapped page of a
/// database file that was not in the page cache.
fn major_faults() -> u64 {
    stat_fields([9])[0]
}

/// Waits until ParityDB's background threads are done with what was committed: the process
/// uses less than a tenth of a core over 200 ms (at most 60 s).
fn wait_until_idle() {
    let start = Instant::now();
    let mut last = cpu_ticks();
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
        let now = cpu_ticks();
        if now.saturating_sub(last) < 2 {
            return;
        }
        last = now;
    }
}

/// `perf record --control fifo:CTL -D -1 …` with `AETHER_BENCH_PERF_CTL=CTL`: the roots-only
/// mode turns the profiler on for each timed root and off after it, so that a profile holds the
/// state roots alone (not the load, the cache warming or the commits between roots); the
/// default mode for each of the store's timed roots and commits (not the raw side's).
struct PerfControl(Option<std::fs::File>);

impl PerfControl {
    fn from_env() -> Self {
        Self(std::env::var_os("AETHER_BENCH_PERF_CTL").map(|path| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .expect("AETHER_BENCH_PERF_CTL names perf's control fifo")
        }))
    }

    fn set(&mut self, on: bool) {
        use std::io::Write;
        if let Some(ctl) = &mut self.0 {
            let command: &[u8] = if on { b"enable\n" } else { b"disable\n" };
            ctl.write_all(command)
                .expect("perf's control fifo takes a command");
        }
    }
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

/// The store of `n` accounts in `kept` (loaded there if it is not yet), or a temporary one.
fn store_of(
    n: u64,
    config: StoreConfig,
    kept: Option<&Path>,
) -> (Store, Option<tempfile::TempDir>) {
    let temp = kept.is_none().then(|| tempfile::tempdir().unwrap());
    let dir = match (kept, &temp) {
        (Some(dir), _) => dir.join(format!("store-{n}")),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory when none is kept"),
    };
    let (store, _) = if dir.join("metadata").exists() {
        reopened_store(&dir, config)
    } else {
        loaded_store(&dir, n, config)
    };
    (store, temp)
}

/// `AETHER_BENCH_ROOTS_ONLY=N`: N state roots per size in steady state, every size's store open
/// at once and their blocks interleaved in groups (`AETHER_BENCH_ROOTS_GROUP` consecutive
/// blocks on one store, default 10, then as many on the next, and round again), so that the
/// sizes are compared under the same state of the machine: on a guest whose speed drifts by a
/// quarter in an hour, sizes measured one after the other can differ by more than the tree
/// does. Within a group a store runs block after block as a node does, its own working set in
/// the processor's caches and TLB; a block on each store in turn (a group of 1) would charge
/// each store for the other's. Each block's root is timed, then the block is committed and
/// written out (untimed) before the next. Blocks alternate: the block's accounts read first
/// (untimed), as its execution does in a node, or not (the root then reads each key's previous
/// version itself). At least two blocks per size, one each way.
fn roots_only(sizes: &[u64], blocks: u64, config: StoreConfig, kept: Option<&Path>) {
    let blocks = blocks.max(2);
    let stores: Vec<_> = sizes.iter().map(|&n| store_of(n, config, kept)).collect();
    for (&n, (store, _)) in sizes.iter().zip(&stores) {
        let cache = store.node_cache_stats();
        println!(
            "\n{n} accounts: node cache {} nodes, {} MiB",
            cache.nodes,
            cache.bytes >> 20
        );
    }
    wait_until_idle();
    // Per size: [nothing read first, accounts read first] roots and major faults.
    let mut roots = vec![[vec![], vec![]]; sizes.len()];
    let mut faults = vec![[vec![], vec![]]; sizes.len()];
    let mut rngs: Vec<Rng> = sizes
        .iter()
        .map(|n| Rng(0x2545_f491_4f6c_dd1d ^ n))
        .collect();
    let group = env_u64s("AETHER_BENCH_ROOTS_GROUP", &[10])[0].max(1);
    let mut perf = PerfControl::from_env();
    for first in (0..blocks).step_by(group as usize) {
        for (s, (store, _)) in stores.iter().enumerate() {
            for i in first..(first + group).min(blocks) {
                let read_first = (i % 2 == 0) as usize;
                let block = transfer_block(&mut rngs[s], sizes[s]);
                if read_first == 1 {
                    execution_reads(store, &block);
                }
                let mut state_root = Hash::default();
                let before = major_faults();
                perf.set(true);
                let t = timed(|| state_root = store.root_after(&block).unwrap());
                perf.set(false);
                roots[s][read_first].push(t);
                faults[s][read_first].push(major_faults() - before);
                let executed = common::next_block(store, block, state_root);
                store.commit(&executed).unwrap();
                wait_until_idle();
            }
        }
    }
    let per_key = |d: Duration| d.as_secs_f64() * 1e6 / (2.0 * TRANSFERS as f64);
    for (read_first, what) in [(1, "accounts read first"), (0, "nothing read first")] {
        println!(
            "\n{what}, {} roots per size, in groups of {group} blocks per store, interleaved:",
            roots[0][read_first].len()
        );
        println!(
            "| accounts | median root | µs per changed key | major page faults per root: median, most |"
        );
        println!("|---:|---:|---:|---:|");
        for (s, n) in sizes.iter().enumerate() {
            let f = &mut faults[s][read_first];
            f.sort_unstable();
            let m = median(roots[s][read_first].clone());
            println!(
                "| {n} | {} | {:.2} | {}, {} |",
                ms(m),
                per_key(m),
                f[f.len() / 2],
                f[f.len() - 1]
            );
        }
        for s in 1..sizes.len() {
            // The k-th root of each size compared (same group, same place in it), so that drift
            // between groups cancels out.
            let mut pairs: Vec<f64> = roots[s][read_first]
                .iter()
                .zip(&roots[0][read_first])
                .map(|(big, small)| big.as_secs_f64() / small.as_secs_f64())
                .collect();
            pairs.sort_by(f64::total_cmp);
            let ratio_of_medians = median(roots[s][read_first].clone()).as_secs_f64()
                / median(roots[0][read_first].clone()).as_secs_f64();
            println!(
                "{} / {}: ratio of the medians {ratio_of_medians:.2}×; per round: median \
                 {:.2}×, middle half {:.2}–{:.2}×",
                sizes[s],
                sizes[0],
                pairs[pairs.len() / 2],
                pairs[pairs.len() / 4],
                pairs[pairs.len() * 3 / 4]
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter this harness ignores.
    let sizes = env_u64s("AETHER_BENCH_SIZES", &[100_000, 1_000_000]);
    let rounds = env_u64s("AETHER_BENCH_ROUNDS", &[10])[0].max(1) as usize;
    let repeats = env_u64s("AETHER_BENCH_REPEATS", &[1])[0].max(1) as usize;
    let cpu = cpu::model();
    println!("# store commit against raw ParityDB, {rounds} rounds, CPU: {cpu}");
    let config = StoreConfig {
        state_history: 4,
        node_cache_bytes: env_u64s("AETHER_BENCH_CACHE_MB", &[])
            .first()
            .map_or(aether_storage::DEFAULT_NODE_CACHE_BYTES, |mb| {
                (*mb as usize) << 20
            }),
        ..StoreConfig::default()
    };
    let kept = std::env::var_os("AETHER_BENCH_DIR").map(std::path::PathBuf::from);
    if let Some(&blocks) = env_u64s("AETHER_BENCH_ROOTS_ONLY", &[]).first() {
        roots_only(&sizes, blocks, config, kept.as_deref());
        return;
    }
    for n in sizes {
        // Temporary directories, or the kept ones of `AETHER_BENCH_DIR` (loaded once, reused).
        let temp = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (raw_dir, store_dir) = match &kept {
            Some(dir) => (dir.join(format!("raw-{n}")), dir.join(format!("store-{n}"))),
            None => (temp.0.path().to_path_buf(), temp.1.path().to_path_buf()),
        };
        let start = Instant::now();
        let raw = if raw_dir.join("metadata").exists() {
            Db::open(&raw_options(&raw_dir)).unwrap()
        } else {
            raw_db(&raw_dir, n)
        };
        let raw_load = start.elapsed();
        let before = resident_mib();
        let start = Instant::now();
        let (store, warmed) = if store_dir.join("metadata").exists() {
            reopened_store(&store_dir, config)
        } else {
            loaded_store(&store_dir, n, config)
        };
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
        let hash = raw_rounds(&raw, RAW_HASH, rounds, &mut rng, n);
        let btree = raw_rounds(&raw, RAW_BTREE, rounds, &mut rng, n);
        drop(raw);
        wait_until_idle();
        let mut perf = PerfControl::from_env();
        let (root, write, whole, sizes) = sequential_rounds(&store, rounds, &mut rng, n, &mut perf);
        // More pairs of the raw hash column's rounds and the store's, each pair run back to
        // back, so that the machine's slower and faster spells fall on both sides of a ratio.
        let mut paired = vec![(hash.sustained(), whole.sustained())];
        for _ in 1..repeats {
            let raw = Db::open(&raw_options(&raw_dir)).unwrap();
            let raw_side = raw_rounds(&raw, RAW_HASH, rounds, &mut rng, n);
            drop(raw);
            wait_until_idle();
            let (_, _, store_side, _) =
                sequential_rounds(&store, rounds, &mut rng, n, &mut PerfControl(None));
            wait_until_idle();
            paired.push((raw_side.sustained(), store_side.sustained()));
        }
        let cache = store.node_cache_stats();
        let nodes = store.node_file_stats();
        let pipelined = pipelined_rounds(&store, rounds, &mut rng, n);
        drop(store);
        let store_rounds = whole;
        let changed = (2 * TRANSFERS) as f64;
        let (mr, mwr, mw) = (
            median(root.clone()),
            median(write.clone()),
            store_rounds.median(),
        );
        println!("| measurement | median | min–max | sustained (mean, queues full) |");
        println!("|---|---:|---:|---:|");
        println!(
            "| raw ParityDB, hash column, 20,000 values | {} | {} | {} |",
            ms(hash.median()),
            spread(&hash.each),
            ms(hash.sustained())
        );
        println!(
            "| raw ParityDB, B-tree column, 20,000 values | {} | {} | {} |",
            ms(btree.median()),
            spread(&btree.each),
            ms(btree.sustained())
        );
        println!(
            "| store: state root (`root_after`), 20,000 changed accounts read first | {} | {} | |",
            ms(mr),
            spread(&root)
        );
        println!(
            "| store: write (`commit` after `root_after`) | {} | {} | |",
            ms(mwr),
            spread(&write)
        );
        println!(
            "| store: block commit (root + write), 10,000 transfers | {} | {} | {} |",
            ms(mw),
            spread(&store_rounds.each),
            ms(store_rounds.sustained())
        );
        println!(
            "| store: block commit pipelined (root of N+1 over pending N while N commits) | {} | {} \
             | {} |",
            ms(pipelined.median()),
            spread(&pipelined.each),
            ms(pipelined.sustained())
        );
        let raw_bytes: usize = 2 * TRANSFERS as usize * (32 + Account::default().encode().len());
        let entries = sizes.iter().map(|s| s.entries).sum::<usize>() / sizes.len();
        let bytes = sizes.iter().map(|s| s.bytes).sum::<usize>() / sizes.len();
        println!(
            "written per block: store {entries} entries, {:.1} MB; raw {} entries, {:.1} MB",
            bytes as f64 / 1e6,
            2 * TRANSFERS,
            raw_bytes as f64 / 1e6
        );
        for (col, name) in aether_storage::layout::COLUMN_NAMES.iter().enumerate() {
            let sum = |f: fn(&aether_storage::ColumnWrites) -> usize| {
                sizes.iter().map(|s| f(&s.columns[col])).sum::<usize>() / sizes.len()
            };
            let (set, removed, bytes) = (sum(|c| c.set), sum(|c| c.removed), sum(|c| c.bytes));
            if set + removed > 0 {
                println!(
                    "  {name}: {set} set, {removed} removed, {:.2} MB",
                    bytes as f64 / 1e6
                );
            }
        }
        println!(
            "ratios, sustained: store commit / raw hash column = {:.1}×, / raw B-tree column = \
             {:.1}×; medians of the calls (raw's returns once queued): {:.1}× and {:.1}×",
            store_rounds.sustained().as_secs_f64() / hash.sustained().as_secs_f64(),
            store_rounds.sustained().as_secs_f64() / btree.sustained().as_secs_f64(),
            mw.as_secs_f64() / hash.median().as_secs_f64(),
            mw.as_secs_f64() / btree.median().as_secs_f64(),
        );
        if paired.len() > 1 {
            let ratio =
                |(raw, store): &(Duration, Duration)| store.as_secs_f64() / raw.as_secs_f64();
            let list: Vec<String> = paired
                .iter()
                .map(|p| format!("{:.1}× ({} / {})", ratio(p), ms(p.1), ms(p.0)))
                .collect();
            let mut sorted: Vec<f64> = paired.iter().map(ratio).collect();
            sorted.sort_by(f64::total_cmp);
            println!(
                "paired repeats (the raw hash column's rounds, then the store's), sustained: \
                 ratio (store / raw) {}; median {:.1}×, {} of {} at or under 5×",
                list.join(", "),
                sorted[sorted.len() / 2],
                sorted.iter().filter(|r| **r <= 5.0).count(),
                sorted.len()
            );
        }
        println!(
            "pipelined, sustained: store / raw hash column = {:.1}×, / raw B-tree column = {:.1}×",
            pipelined.sustained().as_secs_f64() / hash.sustained().as_secs_f64(),
            pipelined.sustained().as_secs_f64() / btree.sustained().as_secs_f64(),
        );
        println!(
            "root per changed key = {:.2} µs; tree-node cache at the end of the rounds: {} nodes, \
             {:.0} of {:.0} MiB",
            mr.as_secs_f64() * 1e6 / changed,
            cache.nodes,
            cache.bytes as f64 / (1 << 20) as f64,
            cache.budget as f64 / (1 << 20) as f64,
        );
        println!(
            "node file: {} segments, {:.0} MiB; {} live nodes and {} stale records (index in \
             memory: {:.0} MiB), {} removed ones kept until their block is safe, {} records; {} \
             segments compacted since the store opened",
            nodes.segments,
            nodes.file_bytes as f64 / (1 << 20) as f64,
            nodes.live,
            nodes.stale_records,
            nodes.index_bytes as f64 / (1 << 20) as f64,
            nodes.waiting,
            nodes.records,
            nodes.compacted
        );
        let start = Instant::now();
        let (store, warmed) = reopened_store(&store_dir, config);
        println!(
            "reopened after the rounds in {:.1} s (the node file read and its index rebuilt), \
             node cache warmed in {:.1} s more",
            start.elapsed().saturating_sub(warmed).as_secs_f64(),
            warmed.as_secs_f64()
        );

        // The state root alone, with no write of ParityDB's in flight: the commits above overlap
        // the next block's root with the previous block's write-out, which shares the cores.
        wait_until_idle();
        let mut quiet = vec![];
        for _ in 0..rounds {
            let block = transfer_block(&mut rng, n);
            execution_reads(&store, &block);
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
