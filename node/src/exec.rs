//! `aether exec`: the local sandbox. Runs one call on the real engine against an in-memory
//! state, uploading and instantiating the contract on first use, and prints the receipt as JSON.
//!
//! Exit status: 0 success, 1 the contract failed or was rejected (the receipt is printed),
//! 2 bad usage or unreadable input.

use std::path::PathBuf;
use std::process::ExitCode;

use aether_contract_build::abi::{Abi, DecodeError};
use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::{Action, Address, Hash, Receipt, Status, contract_address};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

/// The account that deploys sandbox contracts, so one file always maps to one address.
pub const SANDBOX_DEPLOYER: Address = Address([0xDE; 32]);
/// The default caller.
pub const DEFAULT_CALLER: Address = Address([0x01; 32]);
/// Balance given to a caller or deployer the state does not know yet.
pub const STARTING_BALANCE: u128 = 1_000_000_000_000_000_000_000_000;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The contract: a `.wasm` binary or `.wat` text.
    #[arg(long)]
    wasm: PathBuf,
    /// Method to call (an exported `[] -> []` function).
    #[arg(long)]
    call: String,
    /// Call input: 0x-prefixed hex, or a JSON array of arguments encoded through the
    /// contract's ABI (`'["0x…", 100]'`).
    #[arg(long, default_value = "0x")]
    args: String,
    /// Constructor input when the contract is instantiated (first use): hex or JSON as --args.
    #[arg(long, default_value = "0x")]
    init_args: String,
    /// ABI metadata (`<name>.abi.json`); by default read from the module's `aether:abi`
    /// section, or from the `.abi.json` beside it.
    #[arg(long)]
    abi: Option<PathBuf>,
    /// Gas limit.
    #[arg(long, default_value_t = 10_000_000)]
    gas: u64,
    /// Caller address (32 bytes, hex; default 0x0101…01).
    #[arg(long)]
    caller: Option<Address>,
    /// The account that uploads and instantiates the contract on first use (and is its
    /// admin); the contract's address follows from it (default 0xdede…de, so one file always
    /// maps to one address).
    #[arg(long)]
    deployer: Option<Address>,
    /// Value sent with the call.
    #[arg(long, default_value_t = 0)]
    value: u128,
    /// State file: read before the call (if it exists) and written after it.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Trace the call: its frames and host calls (storage reads and writes with old and new
    /// values, transfers, events, nested calls), decoded through the ABIs at hand. The JSON
    /// output gains `trace`; a tree for people goes to standard error. Gas, receipt and state
    /// are those of an untraced run.
    #[arg(long)]
    trace: bool,
}

pub fn run(args: ExecArgs) -> ExitCode {
    let prepared = match prepare(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let prepared_abi = prepared.abi.clone();
    match execute(&args, prepared) {
        Ok(Executed {
            receipt,
            contract,
            deploy_failed,
            trace,
        }) => {
            let mut out = receipt_json(&receipt, contract);
            if let Some(abi) = &prepared_abi {
                let method = if deploy_failed { "init" } else { &args.call };
                decorate(&mut out, &receipt, abi, method);
            }
            if let Some(trace) = trace {
                eprint!("{}", aether_node::trace_view::tree(&trace));
                out["trace"] = trace;
            }
            println!("{out}");
            if receipt.status == Status::Success {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

struct Prepared {
    code: Vec<u8>,
    input: Vec<u8>,
    init_input: Vec<u8>,
    state: MemoryState,
    abi: Option<Abi>,
}

/// Reads a `.wasm` module, or a `.wat` one and assembles it.
pub(crate) fn read_module(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "wat") {
        Ok(wat::parse_bytes(&raw)
            .with_context(|| format!("{} is not valid WAT", path.display()))?
            .into_owned())
    } else {
        Ok(raw)
    }
}

fn prepare(args: &ExecArgs) -> anyhow::Result<Prepared> {
    let code = read_module(&args.wasm)?;
    let abi = load_abi(args.abi.as_deref(), &args.wasm, &code)?;
    let input = encode_input("--args", &args.args, &args.call, abi.as_ref())?;
    let init_input = encode_input("--init-args", &args.init_args, "init", abi.as_ref())?;
    let state = match &args.state {
        Some(p) => crate::state_file::load(p)?,
        None => MemoryState::new(),
    };
    Ok(Prepared {
        code,
        input,
        init_input,
        state,
        abi,
    })
}

/// The ABI from `--abi`, the module's custom section, or `<file>.abi.json` beside it.
pub(crate) fn load_abi(
    abi: Option<&std::path::Path>,
    wasm: &std::path::Path,
    code: &[u8],
) -> anyhow::Result<Option<Abi>> {
    let (bytes, source) = if let Some(path) = abi {
        let b = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        (b, path.display().to_string())
    } else if let Some(b) =
        aether_contract_build::custom_section(code, aether_contract_build::ABI_SECTION)
    {
        (
            b,
            format!(
                "the `{}` section of {}",
                aether_contract_build::ABI_SECTION,
                wasm.display()
            ),
        )
    } else {
        let beside = wasm.with_extension("abi.json");
        match std::fs::read(&beside) {
            Ok(b) => (b, beside.display().to_string()),
            Err(_) => return Ok(None),
        }
    };
    Abi::parse(&bytes)
        .map(Some)
        .with_context(|| format!("ABI metadata in {source}"))
}

/// Hex input, or a JSON array encoded through the ABI.
pub(crate) fn encode_input(
    flag: &str,
    text: &str,
    method: &str,
    abi: Option<&Abi>,
) -> anyhow::Result<Vec<u8>> {
    if let Some(hex_args) = text.strip_prefix("0x") {
        return hex::decode(hex_args).with_context(|| format!("{flag} is not valid hex: `{text}`"));
    }
    if text.trim_start().starts_with('[') {
        let Some(abi) = abi else {
            bail!(
                "{flag} is JSON, but the contract has no ABI metadata: pass --abi FILE or 0x hex"
            );
        };
        let json: Value =
            serde_json::from_str(text).with_context(|| format!("{flag} is not valid JSON"))?;
        return abi
            .encode_args(method, &json)
            .with_context(|| format!("{flag} does not match the ABI"));
    }
    bail!("{flag} must be 0x-prefixed hex or a JSON array, got `{text}`")
}

/// Adds ABI-decoded forms of the return data and events to the receipt JSON: `decoded` where
/// the data decodes, `decodeError` where the ABI describes the type but the data does not fit
/// it (truncated, trailing bytes, or beyond the decoder's bounds), nothing where the ABI does
/// not describe it.
pub(crate) fn decorate(out: &mut Value, r: &Receipt, abi: &Abi, method: &str) {
    let decoded = match r.status {
        Status::Success => Some(
            abi.decode_return(method, &r.return_data)
                .map(|v| json!({ "return": v })),
        ),
        Status::Revert => Some(abi.decode_revert(method, &r.return_data)),
        _ => None,
    };
    if let Some(d) = decoded {
        put_decoded(out, d);
    }
    if let Some(events) = out["events"].as_array_mut() {
        for (json, e) in events.iter_mut().zip(&r.events) {
            if let Some(t) = e.topics.first() {
                put_decoded(json, abi.decode_event(&t.0, &e.data));
            }
        }
    }
}

fn put_decoded(out: &mut Value, decoded: Result<Value, DecodeError>) {
    match decoded {
        Ok(v) => out["decoded"] = v,
        Err(DecodeError::NotDescribed) => {}
        Err(e) => out["decodeError"] = json!(e.to_string()),
    }
}

/// What [`execute`] did.
struct Executed {
    receipt: Receipt,
    /// The contract, if it exists.
    contract: Option<Address>,
    /// Whether the receipt is that of a failed deployment.
    deploy_failed: bool,
    /// The call's trace as JSON, with `--trace` (none for a failed deployment).
    trace: Option<Value>,
}

/// Runs the call (deploying first if needed).
fn execute(args: &ExecArgs, p: Prepared) -> anyhow::Result<Executed> {
    let caller = args.caller.unwrap_or(DEFAULT_CALLER);
    let deployer = args.deployer.unwrap_or(SANDBOX_DEPLOYER);
    let mut sb = Sandbox::new(p.state);
    for who in [caller, deployer] {
        if !sb.state().accounts.contains_key(&who) {
            sb.fund(who, STARTING_BALANCE);
        }
    }
    let code_hash = Hash::of(&p.code);
    let contract = contract_address(&deployer, &code_hash, &[]);
    let deployed = sb
        .state()
        .accounts
        .get(&contract)
        .is_some_and(|a| a.is_contract());
    let failed = if deployed {
        None
    } else {
        deploy(&mut sb, deployer, p.code, code_hash, p.init_input)?
    };
    let (receipt, deploy_failed, trace) = match failed {
        Some(failed) => (failed, true, None),
        None => {
            let action = Action::Call {
                contract,
                method: args.call.clone(),
                input: p.input,
                value: args.value,
            };
            if args.trace {
                let (receipt, trace) = sb.submit_traced(caller, action, args.gas)?;
                // The ABI given for the file, or the one each other code carries.
                let state = sb.state();
                let mut abis = aether_node::trace_view::Abis::new(|h: &Hash| match &p.abi {
                    Some(abi) if *h == code_hash => Some(abi.clone()),
                    _ => aether_node::trace_view::abi_of_code(state.code.get(h)?),
                });
                let json = aether_node::trace_view::to_json(&trace, &mut abis);
                (receipt, false, Some(json))
            } else {
                (sb.submit(caller, action, args.gas)?, false, None)
            }
        }
    };
    if let Some(path) = &args.state {
        crate::state_file::save(path, sb.state())?;
    }
    let exists = sb
        .state()
        .accounts
        .get(&contract)
        .is_some_and(|a| a.is_contract());
    Ok(Executed {
        receipt,
        contract: exists.then_some(contract),
        deploy_failed,
        trace,
    })
}

/// Uploads and instantiates; returns the failed receipt if either fails.
fn deploy(
    sb: &mut Sandbox,
    deployer: Address,
    code: Vec<u8>,
    code_hash: Hash,
    input: Vec<u8>,
) -> anyhow::Result<Option<Receipt>> {
    if !sb.state().code.contains_key(&code_hash) {
        let r = sb.submit(
            deployer,
            Action::UploadCode { code },
            aether_engine::sandbox::DEFAULT_GAS,
        )?;
        if r.status != Status::Success {
            return Ok(Some(r));
        }
    }
    let r = sb.submit(
        deployer,
        Action::Instantiate {
            code_hash,
            salt: Vec::new(),
            value: 0,
            input,
            admin: Some(deployer),
        },
        aether_engine::sandbox::DEFAULT_GAS,
    )?;
    Ok((r.status != Status::Success).then_some(r))
}

fn receipt_json(r: &Receipt, contract: Option<Address>) -> Value {
    let events: Vec<Value> = r
        .events
        .iter()
        .map(|e| {
            json!({
                "contract": e.contract.to_hex(),
                "topics": e.topics.iter().map(|t| t.to_hex()).collect::<Vec<_>>(),
                "data": format!("0x{}", hex::encode(&e.data)),
            })
        })
        .collect();
    let mut v = json!({
        "status": r.status.as_str(),
        "gas_used": r.gas_used,
        "return": format!("0x{}", hex::encode(&r.return_data)),
        "events": events,
    });
    if let Some(err) = &r.error {
        v["error"] = json!(err);
    }
    if let Some(c) = contract {
        v["contract"] = json!(c.to_hex());
    }
    v
}
