//! `aether init-genesis`: writes a genesis file and prints its hash.

use std::path::PathBuf;

use aether_engine::types::Address;
use aether_node::genesis::{Genesis, GenesisAccount, Validator};
use anyhow::{Context, anyhow, bail};
use clap::Args;

/// Arguments of `aether init-genesis`.
#[derive(Args, Debug)]
pub struct InitGenesisArgs {
    /// Where to write the genesis file.
    #[arg(long, default_value = "genesis.json")]
    out: PathBuf,
    /// Start from the dev genesis (funded dev accounts, validator alice) and apply the other
    /// flags on top.
    #[arg(long)]
    dev: bool,
    /// The chain id.
    #[arg(long)]
    chain_id: Option<u64>,
    /// Block gas limit.
    #[arg(long)]
    block_gas_limit: Option<u64>,
    /// Lowest gas price the pool accepts.
    #[arg(long)]
    min_gas_price: Option<u128>,
    /// The genesis timestamp, milliseconds since the Unix epoch (default: 0). At most a day
    /// ahead of this machine's clock.
    #[arg(long)]
    timestamp_ms: Option<u64>,
    /// An initial balance, `ADDRESS=AMOUNT` (repeatable).
    #[arg(long = "balance", value_name = "ADDRESS=AMOUNT")]
    balances: Vec<String>,
    /// A validator, `NAME:ACCOUNT:BLS_PUBLIC_KEY:BLS_PROOF_OF_POSSESSION:VRF_PUBLIC_KEY`
    /// (repeatable; keys and proof from `aether keys generate --scheme bls|vrf`). Replaces the
    /// dev validator.
    #[arg(long = "validator", value_name = "NAME:ACCOUNT:BLS:POP:VRF")]
    validators: Vec<String>,
    /// Dev validators `v0`, `v1`, … (this many) instead of the dev validator: every key
    /// derived from the name (public: dev and test chains only), network identities included;
    /// run each with `aether run --consensus hotstuff --validator vN`.
    #[arg(long, conflicts_with = "validators")]
    dev_validators: Option<usize>,
    /// A validator's genesis entry, a JSON file as `aether keys validator` prints it
    /// (repeatable). Replaces the dev validator.
    #[arg(long = "validator-entry", value_name = "FILE", conflicts_with_all = ["validators", "dev_validators"])]
    validator_entries: Vec<PathBuf>,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
}

/// Writes the genesis file.
pub fn run(args: InitGenesisArgs) -> anyhow::Result<bool> {
    let mut g = if args.dev {
        Genesis::dev()
    } else {
        Genesis {
            chain_id: 1,
            timestamp_ms: 0,
            block_gas_limit: 30_000_000,
            min_gas_price: 1,
            accounts: Vec::new(),
            validators: Vec::new(),
        }
    };
    if let Some(c) = args.chain_id {
        g.chain_id = c;
    }
    if let Some(l) = args.block_gas_limit {
        g.block_gas_limit = l;
    }
    if let Some(p) = args.min_gas_price {
        g.min_gas_price = p;
    }
    if let Some(t) = args.timestamp_ms {
        g.timestamp_ms = t;
    }
    g.check_clock(aether_node::chain::now_ms())
        .map_err(|e| anyhow!("--timestamp-ms: {e}"))?;
    for b in &args.balances {
        let (addr, amount) = b
            .split_once('=')
            .ok_or_else(|| anyhow!("--balance `{b}` must be ADDRESS=AMOUNT"))?;
        let address: Address = addr
            .parse()
            .map_err(|e| anyhow!("--balance `{b}`: bad address: {e}"))?;
        let balance: u128 = amount
            .parse()
            .map_err(|e| anyhow!("--balance `{b}`: bad amount: {e}"))?;
        g.accounts.retain(|a| a.address != address);
        g.accounts.push(GenesisAccount { address, balance });
    }
    if !args.validators.is_empty() {
        g.validators = args
            .validators
            .iter()
            .map(|v| {
                let parts: Vec<&str> = v.split(':').collect();
                let [name, account, bls, pop, vrf] = parts[..] else {
                    bail!(
                        "--validator `{v}` must be NAME:ACCOUNT:BLS_PUBLIC_KEY:BLS_PROOF_OF_POSSESSION:VRF_PUBLIC_KEY"
                    );
                };
                Ok(Validator {
                    name: name.to_string(),
                    account: account
                        .parse()
                        .map_err(|e| anyhow!("--validator `{v}`: bad account: {e}"))?,
                    bls_public_key: bls.to_string(),
                    bls_proof_of_possession: pop.to_string(),
                    vrf_public_key: vrf.to_string(),
                    peer_id: None,
                })
            })
            .collect::<anyhow::Result<_>>()?;
    }
    if !args.validator_entries.is_empty() {
        g.validators = args
            .validator_entries
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                serde_json::from_str::<Validator>(&text)
                    .with_context(|| format!("{}: not a validator entry", path.display()))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    if let Some(n) = args.dev_validators {
        if n == 0 {
            bail!("--dev-validators needs at least one");
        }
        g.validators = (0..n).map(|i| Validator::dev(&format!("v{i}"))).collect();
    }
    g.check()
        .map_err(|e| anyhow!("the genesis is not valid: {e}"))?;
    if args.out.exists() && !args.force {
        bail!(
            "{} exists; pass --force to overwrite it",
            args.out.display()
        );
    }
    let text = serde_json::to_string_pretty(&g)?;
    std::fs::write(&args.out, text + "\n")
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    println!("genesis hash {}", g.hash()?);
    Ok(true)
}
