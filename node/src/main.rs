//! # aether
//!
//! The Aether command-line binary: the node (`run`, `init-genesis`, `keys`, `snapshots`,
//! `devnet`), its
//! RPC client commands (`account`, `transfer`, `peers`, `contract deploy|call|query`), the local
//! contract sandbox (`exec`) and contract tooling (`contract build`).
//!
//! Exit status: 0 success; 1 the node or a transaction failed; 2 bad usage or input.

mod client;
mod contract;
mod devnet_cmd;
mod exec;
mod genesis_cmd;
mod keys_cmd;
mod load_cmd;
mod run_cmd;
mod snapshots_cmd;
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
    /// Contract tooling and contract transactions.
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// Run a node.
    Run(run_cmd::RunArgs),
    /// Write a genesis file and print its hash.
    InitGenesis(genesis_cmd::InitGenesisArgs),
    /// Generate or inspect keys.
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
    /// Snapshots of a stopped node's state.
    #[command(subcommand)]
    Snapshots(snapshots_cmd::SnapshotsCommand),
    /// Show an account (over RPC).
    Account(client::AccountArgs),
    /// Transfer funds (over RPC).
    Transfer(client::TransferArgs),
    /// The peers of a running node (over RPC).
    Peers(client::RpcArgs),
    /// A local network of HotStuff validators as separate processes.
    #[command(subcommand)]
    Devnet(devnet_cmd::DevnetCommand),
    /// Load a running chain with signed transfers and report finalized tx/s and latency.
    Load(load_cmd::LoadArgs),
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
    let outcome = match cli.command {
        Command::Exec(args) => return exec::run(args),
        Command::Contract(cmd) => return contract::run(cmd),
        Command::Run(args) => run_cmd::run(args),
        Command::InitGenesis(args) => genesis_cmd::run(args),
        Command::Keys(cmd) => keys_cmd::run(cmd),
        Command::Snapshots(cmd) => snapshots_cmd::run(cmd),
        Command::Account(args) => client::account(args),
        Command::Transfer(args) => client::transfer(args),
        Command::Peers(args) => client::peers(args),
        Command::Devnet(cmd) => devnet_cmd::run(cmd),
        Command::Load(args) => load_cmd::run(args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
