//! Child of the storage crash test: opens the store at the given directory and commits the
//! crash workload's blocks from its head on, printing `HEIGHT ROOT` after each commit, until it
//! is killed or has committed `MAX` blocks.
//!
//! Usage: `aether-storage-crash DB_DIR [MAX]`

use std::io::Write;
use std::process::ExitCode;

use aether_engine::ports::ExecutedBlock;
use aether_engine::types::{Block, BlockHeader};
use aether_storage::{Store, StoreConfig};
use aether_tests::crash_load::block_changes;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: aether-storage-crash DB_DIR [MAX]");
        return ExitCode::from(2);
    };
    let max: u64 = args
        .next()
        .and_then(|m| m.to_str()?.parse().ok())
        .unwrap_or(100_000);
    let store = match Store::open(
        dir.as_ref(),
        StoreConfig {
            state_history: 16,
            ..StoreConfig::default()
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("open: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    for _ in 0..max {
        let (height, parent_hash) = match store.head() {
            None => (0, Default::default()),
            Some(h) => (h.height + 1, h.hash()),
        };
        let changes = block_changes(height);
        let state_root = match store.root_after(&changes) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("root: {e}");
                return ExitCode::FAILURE;
            }
        };
        let block = Block {
            header: BlockHeader {
                height,
                parent_hash,
                state_root,
                ..BlockHeader::default()
            },
            transactions: Vec::new(),
        };
        if let Err(e) = store.commit(&ExecutedBlock {
            block,
            receipts: Vec::new(),
            changes,
        }) {
            eprintln!("commit {height}: {e}");
            return ExitCode::FAILURE;
        }
        if writeln!(out, "{height} {state_root}")
            .and_then(|_| out.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
