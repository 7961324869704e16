//! `aether contract build|deploy|call|query|bindings`: builds a contract crate to
//! `<name>.wasm` and `<name>.abi.json`; deploys and calls contracts over RPC; generates typed
//! clients from ABIs.

use std::path::PathBuf;
use std::process::ExitCode;

use aether_contract_build::{BuildOptions, build};
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum ContractCommand {
    /// Build a contract crate to validated Wasm and its ABI metadata.
    #[command(after_help = "Examples:
  aether contract build
  aether contract build contracts-sdk/examples/token --out-dir out")]
    Build(BuildArgs),
    /// Upload and instantiate a contract (over RPC).
    #[command(after_help = "Examples:
  aether contract deploy --wasm token.wasm --init-args '[1000000]' --from //alice
  aether contract deploy --wasm token.wasm --init-args '[5]' --salt 0x01 --from //alice")]
    Deploy(crate::client::DeployArgs),
    /// Call a contract in a transaction (over RPC).
    #[command(after_help = "Example:
  aether contract call --contract 0x91c2… --method transfer --args '[\"//bob\", 100]' --from //alice")]
    Call(crate::client::SendCallArgs),
    /// Dry-run a call at the head: return value, events and exact gas (over RPC).
    #[command(after_help = "Example:
  aether contract query --contract 0x91c2… --method balance_of --args '[\"//bob\"]'")]
    Query(crate::client::QueryArgs),
    /// Replace a contract's code, checking its storage layout first (over RPC; its admin only).
    #[command(after_help = "Examples:
  aether contract upgrade --contract 0x91c2… --wasm token_v2.wasm --from //alice
  aether contract upgrade --contract 0x91c2… --wasm token_v2.wasm --migrate v2 --args '[false]' --from //alice --dry-run --trace")]
    Upgrade(crate::upgrade_cmd::UpgradeArgs),
    /// Generate a typed client of a contract from its ABI.
    #[command(after_help = "Example:
  aether contract bindings --lang ts --wasm token.wasm --out clients/token")]
    Bindings(crate::bindings::BindingsArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The contract crate's directory.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Where to write the outputs (default: `<target dir>/aether`).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Do not run `wasm-opt` even when it is installed.
    #[arg(long)]
    no_wasm_opt: bool,
}

pub fn run(cmd: ContractCommand) -> ExitCode {
    let client = match cmd {
        ContractCommand::Deploy(a) => crate::client::deploy(a),
        ContractCommand::Call(a) => crate::client::call(a),
        ContractCommand::Query(a) => crate::client::query(a),
        ContractCommand::Upgrade(a) => crate::upgrade_cmd::run(a),
        ContractCommand::Build(args) => return build_command(args),
        ContractCommand::Bindings(args) => crate::bindings::run(args).map(|()| true),
    };
    match client {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn build_command(args: BuildArgs) -> ExitCode {
    match ContractCommand::Build(args) {
        ContractCommand::Build(args) => {
            let opts = BuildOptions {
                crate_dir: args.path,
                out_dir: args.out_dir,
                wasm_opt: !args.no_wasm_opt,
                quiet: false,
            };
            match build(&opts) {
                Ok(b) => {
                    println!(
                        "built {}: {} bytes{}",
                        b.name,
                        b.wasm.len(),
                        if b.optimised {
                            ", optimised by wasm-opt"
                        } else {
                            " (wasm-opt not found: install binaryen for smaller code)"
                        }
                    );
                    println!("  wasm: {}", b.wasm_path.display());
                    println!("  abi:  {}", b.abi_path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => ExitCode::from(2),
    }
}
