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

/// Whether `s` is an ASCII identifier: the only names from an ABI (which the contract's author
/// wrote, and may have crafted) that go into generated code as code.
pub(crate) fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `s` made safe inside a one-line comment of JavaScript or Rust: on one line, printable, no
/// comment terminator.
pub(crate) fn comment(s: &str) -> String {
    s.escape_debug().to_string().replace("*/", "*\\/")
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

#[cfg(test)]
mod tests {
    use aether_contract_build::abi::Abi;
    use serde_json::json;

    /// Names and docs an author could craft to put code into a client generated from their
    /// ABI: a line break, a comment terminator and a statement in every place a name goes.
    #[test]
    fn names_from_a_hostile_abi_never_become_code() {
        let evil = "x\n*/ evil(); /*";
        let field = |name: &str, ty: &str| json!({"name": name, "type": ty});
        let abi = json!({
            "abi_version": 1,
            "contract": evil,
            "constructor": {"name": "init", "args": [field(evil, "u8")], "returns": "()",
                            "error": null, "mutates": true, "payable": false},
            "methods": [
                {"name": evil, "args": [], "returns": "()", "error": null, "mutates": true, "payable": false},
                {"name": "ok", "args": [field(evil, "Pick")], "returns": "Pick", "error": evil,
                 "mutates": false, "payable": false},
            ],
            "events": [{"name": evil, "signature_topic": format!("0x{}", "11".repeat(32)),
                        "fields": [field(evil, "u8")]}],
            "errors": [{"name": evil, "variants": [{"name": evil, "fields": []}]}],
            "types": [{"name": "Pick", "docs": evil, "variants": [
                {"name": evil, "index": 0, "fields": [field(evil, "u8")], "docs": evil},
            ]}],
        });
        let abi = Abi::parse(abi.to_string().as_bytes()).unwrap();
        let files = super::ts::generate(&abi)
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .chain(super::rust::generate(&abi));
        for (name, text) in files {
            for line in text.lines() {
                assert!(
                    !line.trim_start().starts_with("*/ evil()"),
                    "{name}: a name became code: {line}"
                );
            }
            assert!(!text.contains("\n*/ evil"), "{name}");
        }
    }
}
