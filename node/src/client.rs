//! Client commands over RPC: `aether account`, `aether transfer`, `aether peers` and
//! `aether contract deploy|call|query`. Each prints a human summary, or JSON with `--json`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aether_contract_build::abi::Abi;
use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Address, Hash, Receipt, Status, Transaction, contract_address};
use anyhow::{Context, anyhow, bail};
use clap::Args;
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use serde_json::{Value, json};

/// Where the node is.
#[derive(Args, Debug, Clone)]
pub struct RpcArgs {
    /// The node's RPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9944", global = true)]
    pub rpc: String,
    /// Print JSON (for scripts) instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
}

/// How a transaction is signed and paid.
#[derive(Args, Debug, Clone)]
pub struct TxArgs {
    /// The signer: `//Name` for a dev key (`//alice`), or `ed25519:0xSEED` / `sr25519:0xSEED`.
    #[arg(long)]
    pub from: String,
    /// Gas limit (default: what a dry run uses, plus 20%).
    #[arg(long)]
    pub gas_limit: Option<u64>,
    /// Gas price.
    #[arg(long, default_value_t = 1)]
    pub gas_price: u128,
    /// Return once the node accepted the transaction, without waiting for its receipt.
    #[arg(long)]
    pub no_wait: bool,
}

/// Parses a signer.
pub fn signer(text: &str) -> anyhow::Result<Keypair> {
    if let Some(name) = text.strip_prefix("//") {
        if name.is_empty() {
            bail!("--from //NAME needs a name, like //alice");
        }
        return Ok(Keypair::dev(&name.to_lowercase(), false));
    }
    let (scheme, seed) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("--from must be //NAME, ed25519:0xSEED or sr25519:0xSEED"))?;
    let seed = crate::keys_cmd::seed(seed)?;
    match scheme {
        "ed25519" => Ok(Keypair::ed25519_from_seed(&seed)),
        "sr25519" => Ok(Keypair::sr25519_from_seed(&seed)?),
        other => bail!("unknown key scheme `{other}`: use ed25519 or sr25519"),
    }
}

/// An RPC connection.
pub struct Rpc {
    client: HttpClient,
    url: String,
    runtime: tokio::runtime::Runtime,
}

impl Rpc {
    /// Connects to `url`.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(60))
            .build(url)
            .with_context(|| format!("bad RPC URL `{url}`"))?;
        Ok(Self {
            client,
            url: url.to_string(),
            runtime,
        })
    }

    /// Calls `method`.
    pub fn call(
        &self,
        method: &str,
        params: jsonrpsee_core::params::ArrayParams,
    ) -> anyhow::Result<Value> {
        self.runtime
            .block_on(self.client.request::<Value, _>(method, params))
            .map_err(|e| match e {
                jsonrpsee_core::ClientError::Call(err) => {
                    anyhow!("{method}: {} (code {})", err.message(), err.code())
                }
                other => anyhow!("{method} at {}: {other}", self.url),
            })
    }

    fn chain_id(&self) -> anyhow::Result<u64> {
        self.call("system_info", rpc_params![])?["chainId"]
            .as_u64()
            .ok_or_else(|| anyhow!("system_info has no chainId"))
    }

    /// The next nonce, counting the sender's pending transactions.
    fn nonce(&self, who: &Address) -> anyhow::Result<u64> {
        self.call("author_nextNonce", rpc_params![who.to_string()])?
            .as_u64()
            .ok_or_else(|| anyhow!("author_nextNonce did not return a number"))
    }

    /// Dry-runs `action` as `from`; the receipt as JSON.
    pub fn dry_run(
        &self,
        from: &Address,
        action: &Action,
        gas: Option<u64>,
    ) -> anyhow::Result<Value> {
        let action = format!("0x{}", hex::encode(action.encode()));
        match gas {
            Some(g) => self.call("contract_dryRun", rpc_params![from.to_string(), action, g]),
            None => self.call("contract_dryRun", rpc_params![from.to_string(), action]),
        }
    }

    /// Signs and submits `action`, and (unless `no_wait`) waits for its receipt.
    pub fn send(&self, key: &Keypair, action: Action, tx: &TxArgs) -> anyhow::Result<Value> {
        self.send_with_abi(key, action, tx, None)
    }

    /// As [`Rpc::send`]; a failing dry run is decoded through `abi` for `method` (the
    /// contract's error, or its panic message), so the refusal says why.
    pub fn send_with_abi(
        &self,
        key: &Keypair,
        action: Action,
        tx: &TxArgs,
        abi: Option<(&Abi, &str)>,
    ) -> anyhow::Result<Value> {
        let sender = key.address();
        let gas_limit = match tx.gas_limit {
            Some(g) => g,
            None => {
                let mut dry = self.dry_run(&sender, &action, None)?;
                let used = dry["gasUsed"].as_u64().unwrap_or(0);
                if dry["status"] != "success" {
                    if let Some((abi, method)) = abi {
                        decorate_json(&mut dry, abi, method);
                    }
                    let mut error = dry["error"].as_str().unwrap_or("no message").to_string();
                    if let Some(decoded) = dry.get("decoded") {
                        error.push_str(&format!(" ({decoded})"));
                    }
                    let hint = if error.contains("already exists") {
                        "deploy it again under another address with --salt"
                    } else {
                        "pass --gas-limit to send it anyway"
                    };
                    bail!(
                        "a dry run of this transaction fails ({}): {error}; {hint}",
                        dry["status"].as_str().unwrap_or("?"),
                    );
                }
                used + used / 5 + 1_000
            }
        };
        let signed = key.sign_tx(Transaction {
            chain_id: self.chain_id()?,
            nonce: self.nonce(&sender)?,
            gas_limit,
            gas_price: tx.gas_price,
            action,
        });
        let hash: Hash = self
            .call(
                "author_submitTransaction",
                rpc_params![format!("0x{}", hex::encode(signed.encode()))],
            )?
            .as_str()
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| anyhow!("author_submitTransaction did not return a hash"))?;
        if tx.no_wait {
            return Ok(json!({ "txHash": hash.to_string(), "status": "submitted" }));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let receipt = self.call("chain_getReceipt", rpc_params![hash.to_string()])?;
            if !receipt.is_null() {
                return Ok(receipt);
            }
            if Instant::now() > deadline {
                bail!("transaction {hash} was accepted but is not in a block after 120 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `aether account ADDR`.
#[derive(Args, Debug)]
pub struct AccountArgs {
    /// The account address (0x-hex).
    pub address: String,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// `aether transfer`.
#[derive(Args, Debug)]
pub struct TransferArgs {
    /// The recipient (0x-hex address).
    #[arg(long)]
    pub to: String,
    /// The amount, in the smallest unit.
    #[arg(long)]
    pub amount: u128,
    #[command(flatten)]
    pub tx: TxArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// `aether contract deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The contract: `.wasm` (from `aether contract build`) or `.wat`.
    #[arg(long)]
    pub wasm: PathBuf,
    /// ABI metadata (default: the module's section or `<file>.abi.json`).
    #[arg(long)]
    pub abi: Option<PathBuf>,
    /// Constructor arguments: a JSON array (through the ABI) or 0x-hex.
    #[arg(long, default_value = "0x")]
    pub init_args: String,
    /// Value sent to the constructor.
    #[arg(long, default_value_t = 0)]
    pub value: u128,
    /// Salt of the contract address (0x-hex), to deploy the same code more than once.
    #[arg(long, default_value = "0x")]
    pub salt: String,
    #[command(flatten)]
    pub tx: TxArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// `aether contract call` and `aether contract query`.
#[derive(Args, Debug)]
pub struct CallArgs {
    /// The contract address.
    #[arg(long)]
    pub contract: String,
    /// The method.
    #[arg(long)]
    pub method: String,
    /// Arguments: a JSON array (through the ABI) or 0x-hex.
    #[arg(long, default_value = "0x")]
    pub args: String,
    /// ABI metadata (needed for JSON arguments and decoded output).
    #[arg(long)]
    pub abi: Option<PathBuf>,
    /// Value sent with the call.
    #[arg(long, default_value_t = 0)]
    pub value: u128,
}

/// `aether contract call`.
#[derive(Args, Debug)]
pub struct SendCallArgs {
    #[command(flatten)]
    pub call: CallArgs,
    #[command(flatten)]
    pub tx: TxArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// `aether contract query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    pub call: CallArgs,
    /// Who calls (an address, or a signer like //alice); default: the zero address.
    #[arg(long)]
    pub from: Option<String>,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// An address: `0x` hex, or `//Name` for a dev account's (as `--from` takes).
fn parse_address(text: &str, what: &str) -> anyhow::Result<Address> {
    if text.starts_with("//") {
        return signer(text)
            .map(|k| k.address())
            .map_err(|e| anyhow!("{what} `{text}`: {e}"));
    }
    text.parse().map_err(|e| {
        anyhow!("{what} `{text}` is not an address (0x and 64 hex digits, or //Name): {e}")
    })
}

fn print(json_out: bool, value: &Value, summary: impl FnOnce() -> String) {
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", summary());
    }
}

fn receipt_summary(r: &Value) -> String {
    if r["status"] == "submitted" {
        return format!("submitted {}", r["txHash"].as_str().unwrap_or("?"));
    }
    let mut s = format!(
        "{} in block {}: gas used {}",
        r["status"].as_str().unwrap_or("?"),
        r["height"],
        r["gasUsed"]
    );
    if let Some(hash) = r["txHash"].as_str() {
        s.push_str(&format!("\ntransaction {hash}"));
    }
    if let Some(e) = r["error"].as_str() {
        s.push_str(&format!("\nerror: {e}"));
    }
    if let Some(d) = r.get("decoded") {
        s.push_str(&format!("\ndecoded: {d}"));
    }
    for e in r["events"].as_array().into_iter().flatten() {
        s.push_str(&format!("\nevent: {}", e.get("decoded").unwrap_or(e)));
    }
    s
}

fn failed(r: &Value) -> bool {
    r["status"] != "success" && r["status"] != "submitted"
}

/// `aether account`.
pub fn account(args: AccountArgs) -> anyhow::Result<bool> {
    let address = parse_address(&args.address, "account")?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let account = rpc.call("state_getAccount", rpc_params![address.to_string()])?;
    let out = if account.is_null() {
        json!({ "address": address.to_string(), "exists": false, "balance": "0", "nonce": 0 })
    } else {
        let mut a = account;
        a["address"] = json!(address.to_string());
        a["exists"] = json!(true);
        a
    };
    print(args.rpc.json, &out, || {
        format!(
            "account {}\nbalance {}\nnonce   {}{}",
            address,
            out["balance"].as_str().unwrap_or("0"),
            out["nonce"],
            out["codeHash"]
                .as_str()
                .map(|h| format!("\ncode    {h}"))
                .unwrap_or_default()
        )
    });
    Ok(true)
}

/// `aether transfer`.
pub fn transfer(args: TransferArgs) -> anyhow::Result<bool> {
    let key = signer(&args.tx.from)?;
    let to = parse_address(&args.to, "--to")?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let r = rpc.send(
        &key,
        Action::Transfer {
            to,
            amount: args.amount,
        },
        &args.tx,
    )?;
    print(args.rpc.json, &r, || receipt_summary(&r));
    Ok(!failed(&r))
}

/// `aether contract deploy`: uploads the code (unless the chain has it) and instantiates it.
pub fn deploy(args: DeployArgs) -> anyhow::Result<bool> {
    let key = signer(&args.tx.from)?;
    let code = crate::exec::read_module(&args.wasm)?;
    let abi = crate::exec::load_abi(args.abi.as_deref(), &args.wasm, &code)?;
    let input = crate::exec::encode_input("--init-args", &args.init_args, "init", abi.as_ref())?;
    let salt = hex::decode(args.salt.trim_start_matches("0x")).context("--salt is not hex")?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let code_hash = Hash::of(&code);
    let upload = rpc.send(
        &key,
        Action::UploadCode { code },
        &TxArgs {
            no_wait: false,
            ..args.tx.clone()
        },
    )?;
    if failed(&upload) {
        print(args.rpc.json, &upload, || {
            format!("upload {}", receipt_summary(&upload))
        });
        return Ok(false);
    }
    let contract = contract_address(&key.address(), &code_hash, &salt);
    let mut r = rpc.send(
        &key,
        Action::Instantiate {
            code_hash,
            salt,
            value: args.value,
            input,
            admin: Some(key.address()),
        },
        &args.tx,
    )?;
    if let Some(abi) = &abi {
        decorate_json(&mut r, abi, "init");
    }
    r["contract"] = json!(contract.to_string());
    r["codeHash"] = json!(code_hash.to_string());
    print(args.rpc.json, &r, || {
        format!("contract {contract}\n{}", receipt_summary(&r))
    });
    Ok(!failed(&r))
}

fn call_action(c: &CallArgs, abi: Option<&Abi>) -> anyhow::Result<Action> {
    Ok(Action::Call {
        contract: parse_address(&c.contract, "--contract")?,
        method: c.method.clone(),
        input: crate::exec::encode_input("--args", &c.args, &c.method, abi)?,
        value: c.value,
    })
}

fn load_abi_file(path: Option<&PathBuf>) -> anyhow::Result<Option<Abi>> {
    match path {
        None => Ok(None),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Ok(Some(Abi::parse(&bytes).with_context(|| {
                format!("ABI metadata in {}", p.display())
            })?))
        }
    }
}

/// Adds decoded forms to a receipt given as JSON.
fn decorate_json(r: &mut Value, abi: &Abi, method: &str) {
    let Ok(receipt) = receipt_from_json(r) else {
        return;
    };
    crate::exec::decorate(r, &receipt, abi, method);
}

fn receipt_from_json(v: &Value) -> anyhow::Result<Receipt> {
    let hex_of = |v: &Value| -> anyhow::Result<Vec<u8>> {
        Ok(hex::decode(
            v.as_str().unwrap_or("0x").trim_start_matches("0x"),
        )?)
    };
    let status = match v["status"].as_str() {
        Some("success") => Status::Success,
        Some("revert") => Status::Revert,
        Some("out_of_gas") => Status::OutOfGas,
        Some("trap") => Status::Trap,
        Some("invalid_module") => Status::InvalidModule,
        _ => Status::Rejected,
    };
    let events = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| -> anyhow::Result<aether_engine::types::Event> {
            Ok(aether_engine::types::Event {
                contract: parse_address(e["contract"].as_str().unwrap_or(""), "event contract")?,
                topics: e["topics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| t.as_str().unwrap_or("").parse().map_err(|e| anyhow!("{e}")))
                    .collect::<anyhow::Result<_>>()?,
                data: hex_of(&e["data"])?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Receipt {
        tx_hash: Hash::default(),
        status,
        gas_used: v["gasUsed"].as_u64().unwrap_or(0),
        return_data: hex_of(&v["return"])?,
        events,
        error: v["error"].as_str().map(str::to_string),
        created: None,
    })
}

/// `aether contract call`.
pub fn call(args: SendCallArgs) -> anyhow::Result<bool> {
    let key = signer(&args.tx.from)?;
    let abi = load_abi_file(args.call.abi.as_ref())?;
    let action = call_action(&args.call, abi.as_ref())?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let mut r = rpc.send_with_abi(
        &key,
        action,
        &args.tx,
        abi.as_ref().map(|a| (a, args.call.method.as_str())),
    )?;
    if let Some(abi) = &abi {
        decorate_json(&mut r, abi, &args.call.method);
    }
    print(args.rpc.json, &r, || receipt_summary(&r));
    Ok(!failed(&r))
}

/// `aether contract query`: a dry run at the head; prints the return value, events and the
/// exact gas a real call would be charged.
pub fn query(args: QueryArgs) -> anyhow::Result<bool> {
    let from = match &args.from {
        None => Address::default(),
        Some(f) if f.starts_with("//") || f.contains(':') => signer(f)?.address(),
        Some(f) => parse_address(f, "--from")?,
    };
    let abi = load_abi_file(args.call.abi.as_ref())?;
    let action = call_action(&args.call, abi.as_ref())?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let mut r = rpc.dry_run(&from, &action, None)?;
    if let Some(abi) = &abi {
        decorate_json(&mut r, abi, &args.call.method);
    }
    print(args.rpc.json, &r, || {
        format!(
            "{}: gas {}, return {}{}",
            r["status"].as_str().unwrap_or("?"),
            r["gasUsed"],
            r.get("decoded").unwrap_or(&r["return"]),
            r["error"]
                .as_str()
                .map(|e| format!("\nerror: {e}"))
                .unwrap_or_default()
        )
    });
    Ok(!failed(&r))
}

/// `aether peers`.
pub fn peers(args: RpcArgs) -> anyhow::Result<bool> {
    let rpc = Rpc::connect(&args.rpc)?;
    let peers = rpc.call("system_peers", rpc_params![])?;
    print(args.json, &peers, || {
        let list = peers.as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            "no peers".to_string()
        } else {
            list.iter()
                .map(|p| {
                    let role = match p["validator"].as_str() {
                        Some(name) => format!("validator {name}"),
                        None => "full node".to_string(),
                    };
                    let latency = p["latencyMs"]
                        .as_f64()
                        .map_or("-".to_string(), |ms| format!("{ms:.1} ms"));
                    format!(
                        "{}  {role:14} {latency:>9}  {}  {}",
                        p["peerId"].as_str().unwrap_or("?"),
                        p["address"].as_str().unwrap_or("?"),
                        p["agent"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    });
    Ok(true)
}
