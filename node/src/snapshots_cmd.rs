//! `aether snapshots create|list|restore`: offline, on a stopped node's base path.

use std::path::{Path, PathBuf};

use aether_storage::{Store, StoreConfig, file_name, list_snapshots, restore_snapshot};
use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

/// Snapshot commands.
#[derive(Subcommand, Debug)]
pub enum SnapshotsCommand {
    /// Write the state at a height (default: the head) of a stopped node to a file.
    #[command(after_help = "Example:
  aether snapshots create --base-path /var/lib/aether --out snapshots")]
    Create {
        /// The node's base path.
        #[arg(long)]
        base_path: PathBuf,
        /// The height (must be within the node's state history).
        #[arg(long)]
        height: Option<u64>,
        /// Directory to write `state-<height>.snapshot` to.
        #[arg(long, default_value = "snapshots")]
        out: PathBuf,
    },
    /// List the snapshots in a directory.
    #[command(after_help = "Example:\n  aether snapshots list snapshots")]
    List {
        /// The directory.
        #[arg(default_value = "snapshots")]
        dir: PathBuf,
    },
    /// Restore a snapshot onto an empty base path, checking its state root.
    #[command(after_help = "Example:
  aether snapshots restore snapshots/state-1200.snapshot --base-path /var/lib/aether-new")]
    Restore {
        /// The snapshot file.
        file: PathBuf,
        /// The new node's base path (must not hold a database).
        #[arg(long)]
        base_path: PathBuf,
    },
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} entries ({eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

fn db(base_path: &Path) -> PathBuf {
    base_path.join("db")
}

/// Runs a snapshot command.
pub fn run(cmd: SnapshotsCommand) -> anyhow::Result<bool> {
    match cmd {
        SnapshotsCommand::Create {
            base_path,
            height,
            out,
        } => {
            let store = Store::open_existing(&db(&base_path), StoreConfig::default())
                .context("cannot open the node's database (is the node still running?)")?;
            let height = match height {
                Some(h) => h,
                None => store.head().context("the database holds no blocks")?.height,
            };
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let path = out.join(file_name(height));
            let info = store.create_snapshot(height, &path, &bar())?;
            println!(
                "wrote {} ({} entries, {} bytes) at height {}, state root {}",
                info.path.display(),
                info.header.entries,
                info.bytes,
                info.header.height,
                info.header.state_root
            );
        }
        SnapshotsCommand::List { dir } => {
            for l in list_snapshots(&dir)? {
                match l.info {
                    Ok(i) => println!(
                        "{}  height {}  root {}  {} entries  {} bytes",
                        l.path.display(),
                        i.header.height,
                        i.header.state_root,
                        i.header.entries,
                        i.bytes
                    ),
                    Err(e) => println!("{}  unreadable: {e}", l.path.display()),
                }
            }
        }
        SnapshotsCommand::Restore { file, base_path } => {
            let store = restore_snapshot(&file, &db(&base_path), StoreConfig::default(), &bar())?;
            let head = store.head().context("the restored database has no head")?;
            println!(
                "restored height {} (state root {}) into {}",
                head.height,
                head.state_root,
                base_path.display()
            );
        }
    }
    Ok(true)
}
