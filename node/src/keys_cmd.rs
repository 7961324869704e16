//! `aether keys generate|inspect`.

use anyhow::Context;
use clap::Subcommand;

use aether_node::keys::{self, Scheme};

/// Key commands.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate a key from 32 random bytes and print its secret seed, public key and address.
    #[command(after_help = "Examples:
  aether keys generate --scheme sr25519
  aether keys generate --scheme bls --json")]
    Generate {
        /// The scheme.
        #[arg(long, value_enum, default_value = "ed25519")]
        scheme: Scheme,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the public key (and address) of a secret seed.
    #[command(after_help = "Examples:
  aether keys inspect //alice --field address
  aether keys inspect 0x9d61…7f60 --scheme ed25519 --json")]
    Inspect {
        /// The secret seed, 32 bytes of 0x-hex, or `//NAME` for a dev key.
        seed: String,
        /// The scheme.
        #[arg(long, value_enum, default_value = "ed25519")]
        scheme: Scheme,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only this field (`address`, `public_key`, `secret_seed`).
        #[arg(long, conflicts_with = "json")]
        field: Option<String>,
    },
    /// Generate a validator's keys (BLS, VRF, network, fee account) into a new key file only
    /// its owner can read, and print its genesis entry (JSON, for `init-genesis
    /// --validator-entry`). Run the validator with `aether run --validator-key FILE`.
    #[command(after_help = "Example:
  aether keys validator --name v0 --out v0.key > v0.json
  aether init-genesis --validator-entry v0.json … && aether run --validator-key v0.key …")]
    Validator {
        /// The validator's name.
        #[arg(long)]
        name: String,
        /// The key file to create (never overwritten).
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

/// Parses a 32-byte seed, or `//NAME`: the seed of dev key NAME (SHA-256 of the name).
pub fn seed(text: &str) -> anyhow::Result<[u8; 32]> {
    if let Some(name) = text.strip_prefix("//") {
        return Ok(aether_engine::crypto::sha256(
            name.to_lowercase().as_bytes(),
        ));
    }
    keys::parse_seed(text).context("invalid secret seed")
}

/// Runs a key command.
pub fn run(cmd: KeysCommand) -> anyhow::Result<bool> {
    let (scheme, seed, json, field) = match cmd {
        KeysCommand::Validator { name, out } => {
            let file = aether_node::validator_key::ValidatorKeyFile::generate(&name)?;
            file.write(&out)?;
            eprintln!("wrote {} (keep it secret; mode 0600)", out.display());
            println!("{}", serde_json::to_string_pretty(&file.entry()?)?);
            return Ok(true);
        }
        KeysCommand::Generate { scheme, json } => (scheme, keys::random_seed()?, json, None),
        KeysCommand::Inspect {
            seed: s,
            scheme,
            json,
            field,
        } => (scheme, seed(&s)?, json, field),
    };
    let d = keys::describe(scheme, &seed)?;
    if let Some(f) = field {
        let v = d
            .get(&f)
            .and_then(|v| v.as_str())
            .with_context(|| format!("no field `{f}` for this scheme"))?;
        println!("{v}");
    } else if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        for (k, v) in d.as_object().into_iter().flatten() {
            println!("{k:12} {}", v.as_str().unwrap_or_default());
        }
    }
    Ok(true)
}
