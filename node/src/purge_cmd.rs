//! `aether purge-chain`: deletes a stopped node's chain database (blocks, state, receipts) so
//! that it starts again from the genesis and catches up. The node's identity
//! (`network/secret_ed25519`) and a validator's safety record (`consensus/safety`, which keeps
//! it from signing twice in a round it already signed in) stay.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

/// Arguments of `aether purge-chain`.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  aether purge-chain --base-path /var/lib/aether -y")]
pub struct PurgeArgs {
    /// The node's base path.
    #[arg(long)]
    base_path: PathBuf,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes")]
    yes: bool,
}

/// Runs `aether purge-chain`.
pub fn run(args: PurgeArgs) -> anyhow::Result<bool> {
    let db = args.base_path.join("db");
    if !db.exists() {
        println!(
            "{} holds no chain database: nothing to purge",
            args.base_path.display()
        );
        return Ok(true);
    }
    if let Some(lock) = held_lock(&db)? {
        bail!(
            "the database at {} is in use ({} is locked): stop the node first",
            db.display(),
            lock.display()
        );
    }
    if !args.yes {
        print!("Delete the chain database {}? [y/N] ", db.display());
        std::io::stdout().flush().ok();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("cannot read the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("aborted: nothing deleted");
            return Ok(false);
        }
    }
    std::fs::remove_dir_all(&db).with_context(|| format!("cannot delete {}", db.display()))?;
    println!(
        "deleted {} (the node key and the safety record stay)",
        db.display()
    );
    Ok(true)
}

/// The first database lock file a running node holds under `dir`, if any (ParityDB keeps an
/// exclusive `flock` on `<column dir>/lock` while it is open).
fn held_lock(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            if let Some(held) = held_lock(&path)? {
                return Ok(Some(held));
            }
        } else if path.file_name().is_some_and(|n| n == "lock") {
            let file = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
                return Ok(Some(path));
            }
        }
    }
    Ok(None)
}
