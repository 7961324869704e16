//! # aether
//!
//! The Aether command-line binary. Today it carries the local contract sandbox
//! (`aether exec`) and contract tooling (`aether contract build`); the node commands (`run`, `init-genesis`, `keys`, ...) arrive with the node.

mod contract;
mod exec;
mod state_file;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aether",
    version,
    about = "Aether: a deterministic WASM smart-contract engine and node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one contract call against an in-memory state and print the receipt as JSON.
    Exec(exec::ExecArgs),
    /// Contract tooling.
    #[command(subcommand)]
    Contract(contract::ContractCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Exec(args) => exec::run(args),
        Command::Contract(cmd) => contract::run(cmd),
    }
}
