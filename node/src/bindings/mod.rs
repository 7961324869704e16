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

    /// Names a contract may well use that the generated code has for itself: the clients
    /// leave out or rename what would clash, so they still compile or load.
    #[test]
    fn names_the_clients_use_themselves_do_not_clash() {
        let method = |name: &str, args: serde_json::Value, returns: &str| {
            json!({"name": name, "args": args, "returns": returns, "error": null,
                   "mutates": false, "payable": false})
        };
        let abi = json!({
            "abi_version": 1,
            "contract": "Reader",
            "constructor": null,
            "methods": [
                method("create", json!([{"name": "e", "type": "Event"}]), "()"),
                method("wrap", json!([{"name": "w", "type": "Wrapper"}]), "()"),
                method("then", json!([]), "u8"),
                method("get", json!([{"name": "opts", "type": "u8"}]), "u8"),
            ],
            "events": [],
            "errors": [],
            "types": [
                {"name": "Event", "fields": [{"name": "id", "type": "u8"}]},
                {"name": "Wrapper", "fields": [{"name": "e", "type": "Event"}]},
                {"name": "Receipt", "fields": [{"name": "id", "type": "u8"}]},
            ],
        });
        let abi = Abi::parse(abi.to_string().as_bytes()).unwrap();
        let (_, rust) = super::rust::generate(&abi).remove(0);
        // `Event` is the module's own enum: the registry's `Event`, what uses it, and the
        // methods taking them are left out.
        assert!(!rust.contains("pub struct Event"), "{rust}");
        assert!(!rust.contains("pub struct Wrapper"), "{rust}");
        assert!(!rust.contains("pub fn create"), "{rust}");
        assert!(!rust.contains("pub fn wrap"), "{rust}");
        assert!(rust.contains("pub fn get(opts: u8)"), "{rust}");
        let ts = super::ts::generate(&abi);
        let (js, dts) = (&ts[0].1, &ts[1].1);
        assert!(
            js.contains("export class Reader_ extends ContractBase"),
            "{js}"
        );
        assert!(!js.contains("  then("), "{js}");
        assert!(
            dts.contains("get(_opts: number, opts?: QueryOptions)"),
            "{dts}"
        );
        // A registered `Receipt` would redeclare the runtime's: it is not declared.
        assert!(!dts.contains("export type Receipt ="), "{dts}");
    }
}
