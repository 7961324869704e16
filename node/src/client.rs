//! Client commands over RPC: `aether account`, `aether transfer`, `aether peers` and
//! `aether contract deploy|call|query`. Each prints a human summary, or JSON with `--json`.
//! They call the node through the typed interface the server implements
//! ([`aether_node::rpc::AetherApiClient`]), reading its answers as the server's own types.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aether_contract_build::abi::Abi;
use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Address, Hash, Status, Transaction, contract_address};
use aether_node::rpc::AetherApiClient;
use aether_node::rpc::types::{RpcReceipt, from_hex0x};
use anyhow::{Context, anyhow, bail};
use clap::Args;
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
    /// Print only this field of the JSON answer (`contract`, `txHash`, `status`, `balance`…),
    /// for shell scripts: `TOKEN=$(aether contract deploy … --field contract)`.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "json")]
    pub field: Option<String>,
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

    /// Runs one call of the typed client (`method` names it in errors).
    pub fn run<T>(
        &self,
        method: &str,
        call: impl std::future::Future<Output = Result<T, jsonrpsee_core::ClientError>>,
    ) -> anyhow::Result<T> {
        self.runtime.block_on(call).map_err(|e| match e {
            jsonrpsee_core::ClientError::Call(err) => {
                anyhow!("{method}: {} (code {})", err.message(), err.code())
            }
            other => anyhow!("{method} at {}: {other}", self.url),
        })
    }

    /// The typed client.
    pub fn api(&self) -> &HttpClient {
        &self.client
    }

    fn chain_id(&self) -> anyhow::Result<u64> {
        Ok(self.run("system_info", self.client.info())?.chain_id)
    }

    /// The next nonce, counting the sender's pending transactions.
    fn nonce(&self, who: &Address) -> anyhow::Result<u64> {
        self.run("author_nextNonce", self.client.next_nonce(who.to_string()))
    }

    /// Dry-runs `action` as `from`.
    pub fn dry_run(
        &self,
        from: &Address,
        action: &Action,
        gas: Option<u64>,
    ) -> anyhow::Result<RpcReceipt> {
        let action = format!("0x{}", hex::encode(action.encode()));
        self.run(
            "contract_dryRun",
            self.client.dry_run(from.to_string(), action, gas),
        )
    }

    /// A traced dry run of `action` as `from` (`debug_traceCall`): `{receipt, trace}`.
    pub fn trace_call(&self, from: &Address, action: &Action) -> anyhow::Result<Value> {
        let action = format!("0x{}", hex::encode(action.encode()));
        self.run(
            "debug_traceCall",
            self.client.trace_call(from.to_string(), action, None),
        )
    }

    /// The ABI embedded in the code of the contract at `contract`, if it has one.
    pub fn embedded_abi(&self, contract: &Address) -> anyhow::Result<Option<Abi>> {
        let Some(code) = self.run(
            "state_getCode",
            self.client.code(contract.to_string(), None),
        )?
        else {
            bail!("{contract} holds no contract");
        };
        let code = from_hex0x(&code).map_err(|e| anyhow!("state_getCode: {e}"))?;
        match aether_contract_build::custom_section(&code, aether_contract_build::ABI_SECTION) {
            None => Ok(None),
            Some(bytes) => {
                Ok(Some(Abi::parse(&bytes).with_context(|| {
                    format!("the ABI embedded in the code of {contract}")
                })?))
            }
        }
    }

    /// Uploads `code` and waits for its receipt (whatever `tx.no_wait` says: what follows an
    /// upload needs the code on chain).
    pub fn upload(&self, key: &Keypair, code: Vec<u8>, tx: &TxArgs) -> anyhow::Result<Sent> {
        let tx = TxArgs {
            no_wait: false,
            ..tx.clone()
        };
        self.send(key, Action::UploadCode { code }, &tx)
    }

    /// Signs and submits `action`, and (unless `no_wait`) waits for its receipt.
    pub fn send(&self, key: &Keypair, action: Action, tx: &TxArgs) -> anyhow::Result<Sent> {
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
    ) -> anyhow::Result<Sent> {
        let sender = key.address();
        let gas_limit = match tx.gas_limit {
            Some(g) => g,
            None => {
                let receipt = self.dry_run(&sender, &action, None)?;
                let used = receipt.gas_used;
                if receipt.status().map_err(|e| anyhow!(e))? != Status::Success {
                    let dry = json_of(&receipt, abi);
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
                        receipt.status,
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
            .run(
                "author_submitTransaction",
                self.client
                    .submit_transaction(format!("0x{}", hex::encode(signed.encode()))),
            )?
            .parse()
            .map_err(|e| anyhow!("author_submitTransaction returned no hash: {e}"))?;
        if tx.no_wait {
            return Ok(Sent::Submitted(hash));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let receipt = self.run("chain_getReceipt", self.client.receipt(hash.to_string()))?;
            if let Some(receipt) = receipt {
                receipt.status().map_err(|e| anyhow!(e))?;
                return Ok(Sent::Included(receipt));
            }
            if Instant::now() > deadline {
                bail!("transaction {hash} was accepted but is not in a block after 120 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// What became of a sent transaction.
pub enum Sent {
    /// Accepted by the node (`--no-wait`).
    Submitted(Hash),
    /// In a block, with its receipt.
    Included(RpcReceipt),
}

impl Sent {
    /// As JSON, decoded through `abi` for its method when one is given.
    pub(crate) fn json(&self, abi: Option<(&Abi, &str)>) -> Value {
        match self {
            Sent::Submitted(hash) => json!({ "txHash": hash.to_string(), "status": "submitted" }),
            Sent::Included(r) => json_of(r, abi),
        }
    }

    /// Whether it failed (a submitted one has not, yet).
    pub(crate) fn failed(&self) -> bool {
        match self {
            Sent::Submitted(_) => false,
            Sent::Included(r) => r.status() != Ok(Status::Success),
        }
    }
}

/// A receipt as JSON, with its return value, error and events decoded through `abi` for
/// `method` when one is given.
pub(crate) fn json_of(r: &RpcReceipt, abi: Option<(&Abi, &str)>) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let (Some((abi, method)), Ok(receipt)) = (abi, r.to_receipt()) {
        crate::exec::decorate(&mut v, &receipt, abi, method);
    }
    v
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
    /// Trace the call (the node's `debug_traceTransaction` or `debug_traceCall`): its frames
    /// and host calls as a tree on standard error, and under `trace` with `--json`. A call
    /// whose dry run fails is traced as that dry run.
    #[arg(long)]
    pub trace: bool,
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
pub(crate) fn parse_address(text: &str, what: &str) -> anyhow::Result<Address> {
    if text.starts_with("//") {
        return signer(text)
            .map(|k| k.address())
            .map_err(|e| anyhow!("{what} `{text}`: {e}"));
    }
    text.parse().map_err(|e| {
        anyhow!("{what} `{text}` is not an address (0x and 64 hex digits, or //Name): {e}")
    })
}

pub(crate) fn print(out: &RpcArgs, value: &Value, summary: impl FnOnce() -> String) {
    if let Some(field) = &out.field {
        match value.get(field) {
            Some(Value::String(text)) => println!("{text}"),
            Some(other) => println!("{other}"),
            None => {
                eprintln!("error: the answer has no field `{field}`: {value}");
                std::process::exit(1);
            }
        }
    } else if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", summary());
    }
}

pub(crate) fn receipt_summary(r: &Value) -> String {
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

/// `aether account`.
pub fn account(args: AccountArgs) -> anyhow::Result<bool> {
    let address = parse_address(&args.address, "account")?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let account = rpc.run(
        "state_getAccount",
        rpc.api().account(address.to_string(), None),
    )?;
    let out = match account {
        None => {
            json!({ "address": address.to_string(), "exists": false, "balance": "0", "nonce": 0 })
        }
        Some(a) => {
            let mut a = serde_json::to_value(a)?;
            a["address"] = json!(address.to_string());
            a["exists"] = json!(true);
            a
        }
    };
    print(&args.rpc, &out, || {
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
    let sent = rpc.send(
        &key,
        Action::Transfer {
            to,
            amount: args.amount,
        },
        &args.tx,
    )?;
    let r = sent.json(None);
    print(&args.rpc, &r, || receipt_summary(&r));
    Ok(!sent.failed())
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
    let upload = rpc.upload(&key, code, &args.tx)?;
    if upload.failed() {
        let upload = upload.json(None);
        print(&args.rpc, &upload, || {
            format!("upload {}", receipt_summary(&upload))
        });
        return Ok(false);
    }
    let contract = contract_address(&key.address(), &code_hash, &salt);
    let sent = rpc.send(
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
    let mut r = sent.json(abi.as_ref().map(|a| (a, "init")));
    r["contract"] = json!(contract.to_string());
    r["codeHash"] = json!(code_hash.to_string());
    print(&args.rpc, &r, || {
        format!("contract {contract}\n{}", receipt_summary(&r))
    });
    Ok(!sent.failed())
}

fn call_action(c: &CallArgs, abi: Option<&Abi>) -> anyhow::Result<Action> {
    Ok(Action::Call {
        contract: parse_address(&c.contract, "--contract")?,
        method: c.method.clone(),
        input: crate::exec::encode_input("--args", &c.args, &c.method, abi)?,
        value: c.value,
    })
}

/// The ABI of a call: `--abi FILE`, else the one embedded in the contract's code on chain.
fn abi_for(rpc: &Rpc, call: &CallArgs) -> anyhow::Result<Option<Abi>> {
    match &call.abi {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Ok(Some(Abi::parse(&bytes).with_context(|| {
                format!("ABI metadata in {}", p.display())
            })?))
        }
        None => rpc.embedded_abi(&parse_address(&call.contract, "--contract")?),
    }
}

/// `aether contract call`.
pub fn call(args: SendCallArgs) -> anyhow::Result<bool> {
    let key = signer(&args.tx.from)?;
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let abi = abi_for(&rpc, &args.call)?;
    let action = call_action(&args.call, abi.as_ref())?;
    let with_abi = abi.as_ref().map(|a| (a, args.call.method.as_str()));
    let sent = match rpc.send_with_abi(&key, action.clone(), &args.tx, with_abi) {
        Ok(sent) => sent,
        Err(e) => {
            // Refused before sending (its dry run fails): the trace of that dry run says why.
            if args.call.trace
                && args.tx.gas_limit.is_none()
                && let Ok(traced) = rpc.trace_call(&key.address(), &action)
            {
                eprint!("{}", aether_node::trace_view::tree(&traced["trace"]));
            }
            return Err(e);
        }
    };
    let mut r = sent.json(with_abi);
    if args.call.trace {
        match r["txHash"].as_str() {
            Some(hash) if !matches!(sent, Sent::Submitted(_)) => {
                // The transaction is in a block whatever the trace does: a trace the node will
                // not give is a warning, never a failure that invites sending it again.
                match rpc.run(
                    "debug_traceTransaction",
                    rpc.api().trace_transaction(hash.to_string()),
                ) {
                    Ok(traced) => {
                        let trace = traced.map(|t| t["trace"].clone()).unwrap_or_default();
                        eprint!("{}", aether_node::trace_view::tree(&trace));
                        r["trace"] = trace;
                    }
                    Err(e) => eprintln!("warning: the transaction was sent, but not traced: {e}"),
                }
            }
            _ => eprintln!("(not traced: the transaction is not in a block yet)"),
        }
    }
    print(&args.rpc, &r, || receipt_summary(&r));
    Ok(!sent.failed())
}

/// `aether contract query`: a dry run at the head; prints the return value, events and the
/// exact gas a real call would be charged.
pub fn query(args: QueryArgs) -> anyhow::Result<bool> {
    let from = match &args.from {
        None => Address::default(),
        Some(f) if f.starts_with("//") || f.contains(':') => signer(f)?.address(),
        Some(f) => parse_address(f, "--from")?,
    };
    let rpc = Rpc::connect(&args.rpc.rpc)?;
    let abi = abi_for(&rpc, &args.call)?;
    let action = call_action(&args.call, abi.as_ref())?;
    let (receipt, trace) = if args.call.trace {
        let mut traced = rpc.trace_call(&from, &action)?;
        let receipt: RpcReceipt = serde_json::from_value(traced["receipt"].take())
            .context("debug_traceCall answered no receipt")?;
        eprint!("{}", aether_node::trace_view::tree(&traced["trace"]));
        (receipt, Some(traced["trace"].take()))
    } else {
        (rpc.dry_run(&from, &action, None)?, None)
    };
    let failed = receipt.status().map_err(|e| anyhow!(e))? != Status::Success;
    let mut r = json_of(
        &receipt,
        abi.as_ref().map(|a| (a, args.call.method.as_str())),
    );
    if let Some(trace) = trace {
        r["trace"] = trace;
    }
    print(&args.rpc, &r, || {
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
    Ok(!failed)
}

/// `aether peers`.
pub fn peers(args: RpcArgs) -> anyhow::Result<bool> {
    let rpc = Rpc::connect(&args.rpc)?;
    let list = rpc.run("system_peers", rpc.api().peers())?;
    let peers = serde_json::to_value(&list)?;
    print(&args, &peers, || {
        if list.is_empty() {
            "no peers".to_string()
        } else {
            list.iter()
                .map(|p| {
                    let role = match &p.validator {
                        Some(name) => format!("validator {name}"),
                        None => "full node".to_string(),
                    };
                    let latency = p
                        .latency_ms
                        .map_or("-".to_string(), |ms| format!("{ms:.1} ms"));
                    format!(
                        "{}  {role:14} {latency:>9}  {}  {}",
                        p.peer_id,
                        p.address,
                        p.agent.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    });
    Ok(true)
}
