//! # aether
//!
//! The Aether command-line binary: the node (`run`, `init-genesis`, `keys`, `snapshots`,
//! `purge-chain`, `devnet`), its
//! RPC client commands (`account`, `transfer`, `peers`, `contract deploy|call|query`), the local
//! contract sandbox (`exec`), contract tooling (`contract build`) and the benchmarking
//! harness (`bench`).
//!
//! Exit status: 0 success; 1 the node or a transaction failed; 2 bad usage or input.

mod bench_cmd;
mod bindings;
mod client;
mod contract;
mod devnet_cmd;
mod events_cmd;
mod exec;
mod genesis_cmd;
mod keys_cmd;
mod load_cmd;
mod purge_cmd;
mod run_cmd;
mod snapshots_cmd;
mod state_file;
mod upgrade_cmd;

use std::process::ExitCode;

/// mimalloc: glibc's malloc serialises threads that free each other's memory (the RPC server's
/// workers, measured in `cargo bench -p aether-node --bench rpc`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aether",
    version,
    about = "Aether: a deterministic WASM smart-contract engine and node",
    after_help = "Examples:
  aether run --dev                                   a dev chain on 127.0.0.1:9944
  aether account //alice                             an account over RPC
  aether transfer --from //alice --to //bob --amount 1000
  aether contract build contracts-sdk/examples/token
  aether exec --wasm token.wasm --call total_supply  a call in a sandbox, no node
  aether devnet up --validators 4                    four HotStuff validators on loopback

Each command shows its own examples: aether help COMMAND"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one contract call against an in-memory state and print the receipt as JSON.
    #[command(after_help = "Examples:
  aether exec --wasm token.wasm --init-args '[1000000]' --call total_supply
  aether exec --wasm token.wasm --state s.json --call transfer --args '[\"0x…\", 10]' --caller 0x…")]
    Exec(exec::ExecArgs),
    /// Benchmark the engine and node (the standard suite) or a contract of your own.
    #[command(after_help = "Examples:
  aether bench                                    the full suite (about 17 minutes)
  aether bench --quick                            small sizes, short sampling (CI)
  aether bench --filter call/,anchor/ --baseline bench-results/results.json
  aether bench --update-doc docs/benchmarks.md    rewrite the generated figures
  aether bench call --wasm token.wasm --call transfer --args '[\"0x02…\", 5]'")]
    Bench(bench_cmd::BenchArgs),
    /// Contract tooling and contract transactions.
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// Run a node.
    #[command(after_help = "Examples:
  aether run --dev                                  dev chain, temporary data, RPC on 127.0.0.1:9944
  aether run --dev --base-path ./chain --rpc-port 9955
  aether run --genesis genesis.json --base-path /var/lib/aether --consensus hotstuff \\
      --validator-key v0.key --port 30333 --bootnodes /ip4/10.0.0.2/tcp/30333/p2p/12D3KooW…
  aether run --genesis genesis.json --base-path d --rpc-external --rpc-methods safe \\
      --rpc-cors https://app.example")]
    Run(run_cmd::RunArgs),
    /// Delete a stopped node's chain database (it keeps its node key and safety record).
    PurgeChain(purge_cmd::PurgeArgs),
    /// Write a genesis file and print its hash.
    #[command(after_help = "Examples:
  aether init-genesis --dev --out genesis.json
  aether init-genesis --dev --dev-validators 4 --out genesis.json
  aether init-genesis --chain-id 7 --validator-entry v0.json --validator-entry v1.json \\
      --balance 0x…=1000000000 --out genesis.json")]
    InitGenesis(genesis_cmd::InitGenesisArgs),
    /// Generate or inspect keys.
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
    /// Snapshots of a stopped node's state.
    #[command(subcommand)]
    Snapshots(snapshots_cmd::SnapshotsCommand),
    /// Show an account (over RPC).
    #[command(after_help = "Examples:
  aether account //alice
  aether account 0x6a8b… --rpc http://10.0.0.2:9944 --json")]
    Account(client::AccountArgs),
    /// A contract's events, selected and decoded through its ABI (over RPC).
    #[command(after_help = "Examples:
  aether events --contract 0x2f0c… --event Transfer --where to=//bob
  aether events --contract 0x2f0c… --event Transfer --where value=10 --from-height 100 --json
  aether events --contract 0x2f0c… --abi token.abi.json --limit 20")]
    Events(events_cmd::EventsArgs),
    /// Transfer funds (over RPC).
    #[command(after_help = "Examples:
  aether transfer --from //alice --to //bob --amount 1000
  aether transfer --from ed25519:0xSEED --to 0x6a8b… --amount 5 --no-wait")]
    Transfer(client::TransferArgs),
    /// The peers of a running node (over RPC; an operator's method, see --rpc-methods).
    #[command(after_help = "Example:\n  aether peers --rpc http://127.0.0.1:9944")]
    Peers(client::RpcArgs),
    /// A local network of HotStuff validators as separate processes.
    #[command(subcommand)]
    Devnet(devnet_cmd::DevnetCommand),
    /// Load a running chain with signed transfers and report finalized tx/s and latency.
    #[command(after_help = "Examples:
  aether load --rpc http://127.0.0.1:9944 --txs 10000 --rate 2000
  aether load --rpc http://127.0.0.1:9940 --rpc http://127.0.0.1:9941 --txs 50000 --json")]
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
        Command::Bench(args) => return bench_cmd::run(args),
        Command::Contract(cmd) => return contract::run(cmd),
        Command::Run(args) => run_cmd::run(args),
        Command::InitGenesis(args) => genesis_cmd::run(args),
        Command::PurgeChain(args) => purge_cmd::run(args),
        Command::Keys(cmd) => keys_cmd::run(cmd),
        Command::Snapshots(cmd) => snapshots_cmd::run(cmd),
        Command::Account(args) => client::account(args),
        Command::Events(args) => events_cmd::run(args),
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

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    /// The `aether …` lines of every command's help (its examples), with the command's path.
    fn examples(command: &clap::Command, out: &mut Vec<String>) {
        for text in [command.get_after_help(), command.get_after_long_help()]
            .into_iter()
            .flatten()
        {
            for line in text.to_string().lines() {
                let line = line.trim();
                if line.starts_with("aether ") {
                    // A comment may follow the command after two spaces.
                    let command = line.split("  ").next().unwrap_or(line);
                    out.push(command.trim().to_string());
                }
            }
        }
        for sub in command.get_subcommands() {
            examples(sub, out);
        }
    }

    #[test]
    fn every_example_in_the_help_parses() {
        let mut lines = Vec::new();
        examples(&Cli::command(), &mut lines);
        assert!(lines.len() > 20, "examples found: {lines:?}");
        let mut checked = 0;
        for line in &lines {
            // Lines that need a shell (substitutions, pipes, variables, quoting) or that elide
            // arguments (…) are skipped.
            if line.contains(['$', '|', '\'', '"', '<', '>', '#', '`', '\\', '…', '&']) {
                continue;
            }
            let args: Vec<&str> = line.split_whitespace().collect();
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!("the help's example `{line}` does not parse: {e}");
            }
            checked += 1;
        }
        assert!(
            checked > 20,
            "{checked} of {} examples checked",
            lines.len()
        );
    }
}
