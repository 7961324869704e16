//! `aether contract bindings`: a typed client of a contract generated from its ABI.
//!
//! `--lang rust` writes `<contract>.rs`: the contract's structs, enums, errors and events as
//! Rust types deriving SCALE's `Encode`/`Decode`, and one function per message giving the
//! call's method and input with the types that decode its return value and revert data.
//!
//! `--lang ts` writes `index.js` (an ES module without dependencies: the contract's class,
//! SCALE codecs of every type its ABI names, JSON-RPC, ed25519 signing through WebCrypto)
//! and `index.d.ts` (its TypeScript declarations: the contract's structs and enums as
//! interfaces and unions, each message as a typed method). Node.js ≥ 20 and browsers run it
//! as it is; TypeScript projects get the types.

mod rust;
mod ts;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

/// Languages a client can be generated in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// TypeScript: an ES module (`index.js`) with its declarations (`index.d.ts`).
    Ts,
    /// Rust: one module (`<contract>.rs`) needing only `parity-scale-codec`.
    Rust,
}

/// `aether contract bindings`.
#[derive(Args, Debug)]
pub struct BindingsArgs {
    /// The language of the client: `ts` or `rust`.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The contract: a `.wasm` with its ABI section (or a `.abi.json` beside it).
    #[arg(long, required_unless_present = "abi")]
    pub wasm: Option<PathBuf>,
    /// ABI metadata (`<name>.abi.json`), instead of the one in `--wasm`.
    #[arg(long)]
    pub abi: Option<PathBuf>,
    /// The directory to write the client into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

/// Writes the client; prints what it wrote.
pub fn run(args: BindingsArgs) -> anyhow::Result<()> {
    let abi = match (&args.abi, &args.wasm) {
        (Some(path), _) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            aether_contract_build::abi::Abi::parse(&bytes)
                .with_context(|| format!("ABI metadata in {}", path.display()))?
        }
        (None, Some(wasm)) => {
            let code =
                std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            crate::exec::load_abi(None, wasm, &code)?.with_context(|| {
                format!(
                    "{} has no ABI section and no .abi.json beside it: pass --abi",
                    wasm.display()
                )
            })?
        }
        (None, None) => anyhow::bail!("pass --wasm or --abi"),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let files: Vec<(String, String)> = match args.lang {
        Lang::Ts => ts::generate(&abi)
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect(),
        Lang::Rust => rust::generate(&abi),
    };
    for (name, text) in files {
        let path = args.out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
