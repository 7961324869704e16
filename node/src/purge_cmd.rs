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
///
/// The database's lock files stay locked from the check to the end of the delete, and the
/// database is first renamed aside: a node started meanwhile either finds it locked (before the
/// rename) and refuses to open it, or finds no database (after) and starts a new one. Neither
/// can open a half-deleted one.
pub fn run(args: PurgeArgs) -> anyhow::Result<bool> {
    let db = args.base_path.join("db");
    remove_leftovers(&args.base_path)?;
    if !db.exists() {
        println!(
            "{} holds no chain database: nothing to purge",
            args.base_path.display()
        );
        return Ok(true);
    }
    let locks = match lock_all(&db)? {
        Locked::All(locks) => locks,
        Locked::InUse(lock) => bail!(
            "the database at {} is in use ({} is locked): stop the node first",
            db.display(),
            lock.display()
        ),
    };
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
    let aside = args
        .base_path
        .join(format!("{PURGING}{}", std::process::id()));
    std::fs::rename(&db, &aside)
        .with_context(|| format!("cannot move {} aside to delete it", db.display()))?;
    std::fs::remove_dir_all(&aside).with_context(|| {
        format!(
            "cannot delete {} (moved from {})",
            aside.display(),
            db.display()
        )
    })?;
    drop(locks);
    println!(
        "deleted {} (the node key and the safety record stay)",
        db.display()
    );
    Ok(true)
}

/// The prefix of a database moved aside to be deleted (`db.purging-<pid>`).
const PURGING: &str = "db.purging-";

/// Deletes databases an interrupted purge moved aside.
fn remove_leftovers(base: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PURGING))
        {
            // One another purge is deleting (it holds the locks) is left to it.
            let Locked::All(locks) = lock_all(&path)? else {
                continue;
            };
            std::fs::remove_dir_all(&path).with_context(|| {
                format!(
                    "cannot delete {}, left by an interrupted purge",
                    path.display()
                )
            })?;
            drop(locks);
        }
    }
    Ok(())
}

/// The database's lock files, each held, or the first one a running node holds.
enum Locked {
    All(Vec<std::fs::File>),
    InUse(PathBuf),
}

/// Locks every database lock file under `dir` (ParityDB keeps an exclusive `flock` on
/// `<column dir>/lock` while it is open, and refuses to open one locked).
fn lock_all(dir: &Path) -> anyhow::Result<Locked> {
    let mut held = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            // Not through symbolic links: a loop would never end, and what a link points to is
            // not this database.
            if entry.file_type()?.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "lock") {
                let file = std::fs::File::open(&path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                match file.try_lock() {
                    Ok(()) => held.push(file),
                    Err(std::fs::TryLockError::WouldBlock) => return Ok(Locked::InUse(path)),
                    Err(std::fs::TryLockError::Error(e)) => {
                        return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                    }
                }
            }
        }
    }
    Ok(Locked::All(held))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_storage::{Store, StoreConfig};

    #[test]
    fn a_node_started_while_the_purge_holds_the_locks_cannot_open_the_database() {
        let base = tempfile::tempdir().unwrap();
        let db = base.path().join("db");
        drop(Store::open(&db, StoreConfig::default()).unwrap());
        let Locked::All(locks) = lock_all(&db).unwrap() else {
            panic!("a closed database is not in use");
        };
        assert!(!locks.is_empty(), "the store has lock files");
        assert!(
            Store::open(&db, StoreConfig::default()).is_err(),
            "the store opened a database the purge holds"
        );
        drop(locks);
        let open = Store::open(&db, StoreConfig::default()).unwrap();
        assert!(
            matches!(lock_all(&db).unwrap(), Locked::InUse(_)),
            "an open store is in use"
        );
        drop(open);
    }

    #[test]
    fn a_database_left_aside_by_an_interrupted_purge_is_deleted_by_the_next() {
        let base = tempfile::tempdir().unwrap();
        let aside = base.path().join(format!("{PURGING}1234"));
        std::fs::create_dir_all(aside.join("col0")).unwrap();
        std::fs::write(aside.join("col0/lock"), b"").unwrap();
        // One another purge is still deleting (it holds the locks) is left to it.
        let busy = base.path().join(format!("{PURGING}99"));
        std::fs::create_dir_all(busy.join("col0")).unwrap();
        std::fs::write(busy.join("col0/lock"), b"").unwrap();
        let Locked::All(held) = lock_all(&busy).unwrap() else {
            panic!("nobody holds it yet");
        };
        let purge = || {
            run(PurgeArgs {
                base_path: base.path().to_path_buf(),
                yes: true,
            })
            .unwrap()
        };
        assert!(purge());
        assert!(!aside.exists(), "the leftover is gone");
        assert!(busy.exists(), "the one being deleted is left to its purge");
        drop(held);
        assert!(purge());
        assert!(!busy.exists());
    }
}
