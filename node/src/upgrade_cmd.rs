//! `aether contract upgrade`: replaces a contract's code (its admin's `UpgradeCode`), after
//! checking that the new code reads what the old one stored. The old layout comes from the ABI
//! the contract's code carries, the new one from the new module's; conflicts (a key reused with
//! another type, a field removed while it may hold data, a map's key type changed) refuse the
//! upgrade unless a migration of the new code (`#[migrate]`) is named to convert the data, or
//! `--force` is given. The upgrade is dry-run first (its migration's gas and effects shown; a
//! failing one refuses the upgrade, nothing changed), then sent.

use std::path::PathBuf;

use aether_contract_build::abi::layout::{self, Presence, Report};
use aether_contract_build::abi::migration_export;
use aether_engine::types::{Action, Hash, Status};
use aether_node::rpc::api::AetherApiClient;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::client::{Rpc, RpcArgs, TxArgs, json_of, parse_address, print, receipt_summary, signer};

/// `aether contract upgrade`.
#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// The contract to upgrade (you must be its admin: the account that instantiated it).
    #[arg(long)]
    contract: String,
    /// The new code: `.wasm` (from `aether contract build`) or `.wat`.
    #[arg(long)]
    wasm: PathBuf,
    /// The new code's ABI (default: the module's section or `<file>.abi.json`).
    #[arg(long)]
    abi: Option<PathBuf>,
    /// A migration of the new code (`#[migrate] fn NAME`) to run in the upgrade, converting
    /// the stored data; the upgrade is undone if it fails.
    #[arg(long, value_name = "NAME")]
    migrate: Option<String>,
    /// The migration's arguments: a JSON array (through the ABI) or 0x-hex.
    #[arg(long, default_value = "0x", requires = "migrate")]
    args: String,
    /// Upgrade even if the storage layouts conflict (or cannot be compared).
    #[arg(long)]
    force: bool,
    /// Only dry-run the upgrade: show the layout check and the migration's gas and effects.
    /// (The new code is uploaded if the chain lacks it: code is stored by hash and changes
    /// nothing else.)
    #[arg(long)]
    dry_run: bool,
    /// Show the trace of the upgrade's dry run (the migration's frames, writes and events).
    #[arg(long)]
    trace: bool,
    #[command(flatten)]
    tx: TxArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

pub fn run(args: UpgradeArgs) -> anyhow::Result<bool> {
    let key = signer(&args.tx.from)?;
    let contract = parse_address(&args.contract, "--contract")?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let old_abi = rpc.embedded_abi(&contract)?;
    let code = crate::exec::read_module(&args.wasm)?;
    let new_abi = crate::exec::load_abi(args.abi.as_deref(), &args.wasm, &code)?;

    // The layout check.
    let report = match (&old_abi, &new_abi) {
        (Some(old), Some(new)) => layout::check(old, new, |k| presence(&rpc, &contract, k)),
        (None, _) => Err(layout::LayoutError::Unknown("old")),
        (_, None) => Err(layout::LayoutError::Unknown("new")),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) if args.force => {
            eprintln!("warning: {e}; upgrading anyway (--force)");
            Report::default()
        }
        Err(e) => bail!("{e}; pass --force to upgrade without the check"),
    };
    for n in &report.notes {
        eprintln!("layout: {n}");
    }
    if !report.conflicts.is_empty() {
        let list: String = report
            .conflicts
            .iter()
            .map(|c| format!("\n  - {c}"))
            .collect();
        match (&args.migrate, args.force) {
            (None, false) => bail!(
                "refused: the new code's storage layout conflicts with the old one's:{list}\n\
                 name a migration of the new code that converts the data (--migrate NAME), or \
                 pass --force"
            ),
            (Some(m), _) => eprintln!("the migration `{m}` must handle:{list}"),
            (None, true) => eprintln!("warning: upgrading despite (--force):{list}"),
        }
    }

    // The migration, through the new code's ABI.
    let export = args.migrate.as_ref().map(|m| {
        if m.starts_with(aether_engine::vm::abi::MIGRATION_PREFIX) {
            m.clone()
        } else {
            migration_export(m)
        }
    });
    if let (Some(export), Some(abi)) = (&export, &new_abi)
        && abi.method(export).is_none()
    {
        let known: Vec<&str> = abi.migrations.iter().map(|m| m.name.as_str()).collect();
        bail!(
            "the new code has no migration `{}` (its migrations: {})",
            args.migrate.as_deref().unwrap_or_default(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let input = match &export {
        Some(e) => crate::exec::encode_input("--args", &args.args, e, new_abi.as_ref())?,
        None => Vec::new(),
    };
    let code_hash = Hash::of(&code);
    let action = Action::UpgradeCode {
        contract,
        code_hash,
        migrate: export.clone(),
        input,
    };
    let with_abi = match (&new_abi, &export) {
        (Some(abi), Some(e)) => Some((abi, e.as_str())),
        _ => None,
    };

    // Dry run, uploading the code first if the chain lacks it.
    let mut dry = rpc.dry_run(&key.address(), &action, None)?;
    if dry
        .error
        .as_deref()
        .is_some_and(|e| e.contains("is not uploaded"))
    {
        let upload = rpc.upload(&key, code, &args.tx)?;
        if upload.failed() {
            let r = upload.json(None);
            bail!("uploading the new code failed: {}", receipt_summary(&r));
        }
        dry = rpc.dry_run(&key.address(), &action, None)?;
    }
    if args.trace {
        let traced = rpc.run(
            "debug_traceCall",
            rpc.api().trace_call(
                key.address().to_string(),
                format!(
                    "0x{}",
                    hex::encode(parity_scale_codec::Encode::encode(&action))
                ),
                None,
            ),
        )?;
        eprint!("{}", aether_node::trace_view::tree(&traced["trace"]));
    }
    let dry_json = json_of(&dry, with_abi);
    if dry.status().map_err(|e| anyhow!(e))? != Status::Success {
        let mut why = dry.error.clone().unwrap_or_else(|| "no message".into());
        if let Some(d) = dry_json.get("decoded") {
            why.push_str(&format!(" ({d})"));
        }
        if args.tx.gas_limit.is_none() || args.dry_run {
            bail!(
                "the upgrade's dry run fails ({}): {why}; nothing was changed (pass \
                 --gas-limit to send it anyway)",
                dry.status
            );
        }
        eprintln!(
            "warning: the upgrade's dry run fails ({}): {why}; sending it anyway (--gas-limit)",
            dry.status
        );
    }
    let layout_json = json!({
        "conflicts": report.conflicts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "notes": report.notes,
    });
    if args.dry_run {
        let mut r = dry_json;
        r["codeHash"] = json!(code_hash.to_string());
        r["layout"] = layout_json;
        r["dryRun"] = json!(true);
        print(&args.rpc, &r, || {
            format!(
                "dry run: the upgrade succeeds, gas {}{}",
                r["gasUsed"],
                events_summary(&r)
            )
        });
        return Ok(true);
    }
    let sent = rpc
        .send_with_abi(&key, action, &args.tx, with_abi)
        .context("sending the upgrade")?;
    let mut r = sent.json(with_abi);
    r["codeHash"] = json!(code_hash.to_string());
    r["layout"] = layout_json;
    print(&args.rpc, &r, || {
        format!("upgraded to code {code_hash}\n{}", receipt_summary(&r))
    });
    Ok(!sent.failed())
}

/// Whether `key` of `contract` holds a value at the head (asked for fields the upgrade
/// removes or retypes). A failed read counts as holding data: the check errs on refusing.
fn presence(rpc: &Rpc, contract: &aether_engine::types::Address, key: &[u8]) -> Presence {
    let answer = rpc.run(
        "state_getStorage",
        rpc.api().storage(
            contract.to_string(),
            format!("0x{}", hex::encode(key)),
            None,
        ),
    );
    match answer {
        Ok(p) if p.value.is_none() => Presence::Absent,
        _ => Presence::Present,
    }
}

fn events_summary(r: &Value) -> String {
    r["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("\nevent: {}", e.get("decoded").unwrap_or(e)))
        .collect()
}
