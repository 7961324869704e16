//! `aether events`: a contract's events from the chain (`chain_getLogs`), selected by event
//! name and indexed field values and decoded, both through the contract's ABI (the one its code
//! carries, or `--abi`). The topics are computed here, so any ABI works with any node.

use std::path::PathBuf;

use aether_contract_build::abi::Abi;
use aether_node::rpc::api::AetherApiClient;
use aether_node::rpc::types::RpcEventRecord;
use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Map, Value, json};

use crate::client::{Rpc, RpcArgs, parse_address, print};

/// `aether events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// The contract whose events to list.
    #[arg(long)]
    contract: String,
    /// ABI metadata (default: the one embedded in the contract's code on chain).
    #[arg(long)]
    abi: Option<PathBuf>,
    /// Only this event (its name in the ABI: `Transfer`).
    #[arg(long)]
    event: Option<String>,
    /// Only events whose indexed (`#[topic]`) field has this value: `FIELD=VALUE`, repeatable.
    /// VALUE is JSON (`value=10`, `to="0x…"`) or else taken as a string (`to=0x…`,
    /// `to=//bob`).
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    wheres: Vec<String>,
    /// First height searched (default 0).
    #[arg(long)]
    from_height: Option<u64>,
    /// Last height searched (default: the head).
    #[arg(long)]
    to_height: Option<u64>,
    /// Most events listed.
    #[arg(long, default_value_t = 100)]
    limit: u64,
    #[command(flatten)]
    rpc: RpcArgs,
}

/// `FIELD=VALUE` pairs as a JSON object.
fn where_values(wheres: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for w in wheres {
        let Some((field, value)) = w.split_once('=') else {
            bail!("--where `{w}`: expected FIELD=VALUE");
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        if out.insert(field.trim().to_string(), value).is_some() {
            bail!("--where names `{field}` twice");
        }
    }
    Ok(out)
}

pub fn run(args: EventsArgs) -> anyhow::Result<bool> {
    let contract = parse_address(&args.contract, "--contract")?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let abi: Option<Abi> = match &args.abi {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Some(Abi::parse(&bytes).with_context(|| format!("ABI metadata in {}", p.display()))?)
        }
        None => rpc.embedded_abi(&contract)?,
    };
    let mut filter = json!({ "contract": contract.to_string(), "limit": args.limit });
    if let Some(h) = args.from_height {
        filter["fromHeight"] = json!(h);
    }
    if let Some(h) = args.to_height {
        filter["toHeight"] = json!(h);
    }
    match (&args.event, args.wheres.is_empty()) {
        (None, false) => bail!("--where selects fields of an event: name it with --event"),
        (None, true) => {}
        (Some(name), _) => {
            let Some(abi) = &abi else {
                bail!("--event needs the contract's ABI: its code carries none; pass --abi FILE");
            };
            let topics: Vec<Value> = abi
                .event_topics(name, &where_values(&args.wheres)?)?
                .into_iter()
                .map(|t| t.map_or(Value::Null, |t| json!(format!("0x{}", hex::encode(t)))))
                .collect();
            filter["topics"] = json!(topics);
        }
    }
    let records: Vec<RpcEventRecord> = rpc.run("chain_getLogs", rpc.api().logs(filter))?;
    let list: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            let decoded = abi.as_ref().and_then(|abi| {
                let t = r
                    .event
                    .topics
                    .first()?
                    .parse::<aether_engine::types::Hash>()
                    .ok()?;
                let data = aether_node::rpc::types::from_hex0x(&r.event.data).ok()?;
                abi.decode_event(&t.0, &data).ok()
            });
            if let Some(d) = decoded {
                v["decoded"] = d;
            }
            v
        })
        .collect();
    let out = Value::Array(list);
    print(&args.rpc, &out, || summary(&out));
    Ok(true)
}

fn summary(list: &Value) -> String {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        return "no events".into();
    }
    items
        .iter()
        .map(|e| {
            let what = match e.get("decoded") {
                Some(d) => {
                    let fields = match &d["fields"] {
                        Value::Object(m) => m
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other.to_string(),
                    };
                    format!("{} {{{fields}}}", d["name"].as_str().unwrap_or("?"))
                }
                None => format!("topics {} data {}", e["topics"], e["data"]),
            };
            format!(
                "height {} tx {}  {what}",
                e["height"],
                e["txHash"].as_str().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
