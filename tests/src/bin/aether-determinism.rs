//! Executes a block and prints the hashes of its receipts and change set, so that separate
//! processes can be compared.
//!
//! Usage: `aether-determinism FILE` runs the workload encoded in FILE (see
//! `aether_tests::Workload::encode`); `aether-determinism --write FILE [TXS] [SENDERS]` writes a
//! fresh mixed workload there first.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, write) = match args.as_slice() {
        [flag, path, ..] if flag == "--write" => (path.clone(), true),
        [path] => (path.clone(), false),
        _ => {
            eprintln!("usage: aether-determinism [--write] FILE [TXS] [SENDERS]");
            return ExitCode::from(2);
        }
    };
    if write {
        let n = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(500);
        let senders = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(50);
        if let Err(e) = std::fs::write(&path, aether_tests::mixed_block(n, senders).encode()) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::from(2);
        }
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    match aether_tests::Workload::decode(&bytes) {
        Ok(w) => {
            println!("{}", aether_tests::run(&w));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path} is not a workload: {e}");
            ExitCode::from(2)
        }
    }
}
