//! What ParityDB 0.5 charges for each kind of write the store makes, measured on a bare hash
//! column: the floor under any layout that keeps tree nodes as ParityDB entries.
//!
//! ```sh
//! cargo bench -p aether-storage --bench parity_costs
//! AETHER_BENCH_BLOCKS=20 cargo bench -p aether-storage --bench parity_costs   # fewer blocks
//! AETHER_BENCH_ONLY="node file" cargo bench -p aether-storage --bench parity_costs  # some cases
//! ```
//!
//! Each case opens a fresh database in the system's temporary directory, loads 1.5M entries (a
//! store of 1M accounts holds about that many tree nodes per version), reopens it, and commits
//! `AETHER_BENCH_BLOCKS` blocks (default 40) of one kind of write. The figure is the wall time
//! from the first block's commit to the database closed (everything written out, the log
//! included) divided by the blocks: ParityDB's `commit` only queues, so timing the calls alone
//! would leave the write-out out.
//!
//! The last cases measure the layout that can meet the target: tree nodes appended to a
//! [`NodeFile`] (one synced sequential write per block, no index) while ParityDB takes the
//! latest values, the block's list of dead nodes and its end record; once with a block's nodes
//! alone, once with as many again copied forward by compaction (a log-structured file kept at
//! half live pays that much at most).

#[path = "common/cpu.rs"]
mod cpu;

use std::path::Path;
use std::time::Instant;

use aether_storage::node_file::{NodeFile, NodeFileOptions};
use parity_db::{ColumnOptions, Db, Options};

/// The `aether` binary's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LOADED: u64 = 1_500_000;

/// A key shaped like a tree node's (version, then a path), 24 bytes.
fn key(version: u64, i: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(24);
    k.extend_from_slice(&version.to_le_bytes());
    k.extend_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    k.extend_from_slice(&[7; 8]);
    k
}

fn open(dir: &Path) -> Db {
    let mut options = Options::with_columns(dir, 1);
    options.columns = vec![ColumnOptions::default()];
    Db::open_or_create(&options).expect("open the bench database")
}

#[derive(Clone, Copy)]
enum Kind {
    /// Existing keys rewritten with values of the same size.
    Overwrite,
    /// Existing keys rewritten with values of 130 to 600 bytes (sizes change tier).
    OverwriteResized,
    /// New keys (the block's version in the key), nothing removed.
    Insert,
    /// New keys, and the keys the block four before inserted removed: the store's tree nodes
    /// with a history of four heights.
    InsertAndPrune,
    /// Existing keys rewritten with values of the same size (the latest values), one list of
    /// dead node addresses set and the one of four blocks before removed, one end record; and
    /// `records` node-file records of `record_bytes` appended and synced before the commit.
    NodeFile { records: u64, record_bytes: usize },
}

struct Case {
    name: &'static str,
    kind: Kind,
    entries: u64,
    size: usize,
}

fn case(name: &'static str, kind: Kind, entries: u64, size: usize) -> Case {
    Case {
        name,
        kind,
        entries,
        size,
    }
}

fn writes(case: &Case, block: u64) -> Vec<(u8, Vec<u8>, Option<Vec<u8>>)> {
    let n = case.entries;
    let value = |len: usize| Some(vec![block as u8; len]);
    match case.kind {
        Kind::Overwrite | Kind::OverwriteResized => {
            let start = (block * n) % (LOADED - n);
            (start..start + n)
                .map(|j| {
                    let len = match case.kind {
                        Kind::Overwrite => case.size,
                        _ => 130 + ((j * 7 + block * 13) % 471) as usize,
                    };
                    (0, key(0, j), value(len))
                })
                .collect()
        }
        Kind::Insert => (0..n)
            .map(|j| (0, key(block, j), value(case.size)))
            .collect(),
        Kind::NodeFile { records, .. } => {
            let start = (block * n) % (LOADED - n);
            let mut w: Vec<_> = (start..start + n)
                .map(|j| (0, key(0, j), value(case.size)))
                .collect();
            // The dead nodes' addresses and lengths, 12 bytes each.
            w.push((0, key(block, u64::MAX), value(records as usize * 12)));
            if block > 4 {
                w.push((0, key(block - 4, u64::MAX), None));
            }
            w.push((0, key(u64::MAX, 0), value(16)));
            w
        }
        Kind::InsertAndPrune => {
            let mut w: Vec<_> = (0..n)
                .map(|j| (0, key(block, j), value(case.size)))
                .collect();
            if block > 4 {
                w.extend((0..n).map(|j| (0, key(block - 4, j), None)));
            }
            w
        }
    }
}

/// Milliseconds per block, everything written out.
fn run(case: &Case, blocks: u64) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = open(dir.path());
    for start in (0..LOADED).step_by(100_000) {
        let end = (start + 100_000).min(LOADED);
        db.commit((start..end).map(|j| (0u8, key(0, j), Some(vec![j as u8; case.size]))))
            .expect("load");
    }
    drop(db);
    let db = open(dir.path());
    let nodes = match case.kind {
        Kind::NodeFile {
            records,
            record_bytes,
        } => Some((
            NodeFile::open(dir.path().join("nodes"), None, NodeFileOptions::default())
                .expect("open the node file"),
            records,
            record_bytes,
        )),
        _ => None,
    };
    let batches: Vec<_> = (1..=blocks).map(|b| writes(case, b)).collect();
    let start = Instant::now();
    for (b, batch) in batches.into_iter().enumerate() {
        if let Some((file, records, record_bytes)) = &nodes {
            let mut append = file.append().expect("append");
            let mut record = vec![b as u8; *record_bytes];
            for i in 0..*records {
                record[..8].copy_from_slice(&i.to_le_bytes());
                append.push(&record).expect("push");
            }
            append.commit().expect("node file commit");
        }
        db.commit(batch).expect("commit");
    }
    drop(db);
    drop(nodes);
    start.elapsed().as_secs_f64() * 1e3 / blocks as f64
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let blocks = std::env::var("AETHER_BENCH_BLOCKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let cpu = cpu::model();
    println!(
        "# ParityDB write costs, hash column of {LOADED} entries, {blocks} blocks per case, CPU: {cpu}"
    );
    println!("| case | entries per block | value bytes | ms per block | µs per entry |");
    println!("|---|---:|---:|---:|---:|");
    let prune = "insert new keys + remove those of 4 blocks before (the store's nodes)";
    let cases = [
        case(
            "overwrite (raw side of the commit bench)",
            Kind::Overwrite,
            20_000,
            68,
        ),
        case("overwrite, same size", Kind::Overwrite, 55_000, 263),
        case(
            "overwrite, sizes changing tier",
            Kind::OverwriteResized,
            55_000,
            365,
        ),
        case("insert new keys", Kind::Insert, 55_000, 263),
        case(prune, Kind::InsertAndPrune, 55_000, 130),
        case(prune, Kind::InsertAndPrune, 55_000, 263),
        case(prune, Kind::InsertAndPrune, 55_000, 520),
        case(
            "node file: 55,000 nodes of 320 bytes appended + the latest values overwritten",
            Kind::NodeFile {
                records: 55_000,
                record_bytes: 320,
            },
            20_000,
            68,
        ),
        case(
            "node file, as much again copied by compaction",
            Kind::NodeFile {
                records: 110_000,
                record_bytes: 320,
            },
            20_000,
            68,
        ),
    ];
    // `AETHER_BENCH_ONLY=node` runs the cases whose name holds the text.
    let only = std::env::var("AETHER_BENCH_ONLY").unwrap_or_default();
    for case in cases.iter().filter(|c| c.name.contains(only.as_str())) {
        let ms = run(case, blocks);
        let (entries, all) = match case.kind {
            Kind::NodeFile { records, .. } => (
                format!("{} + {records} records", case.entries),
                case.entries + records,
            ),
            _ => (case.entries.to_string(), case.entries),
        };
        println!(
            "| {} | {entries} | {} | {ms:.1} | {:.2} |",
            case.name,
            case.size,
            ms * 1e3 / all as f64
        );
    }
}
