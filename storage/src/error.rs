//! Storage errors. Every error names the database or file it concerns and what is wrong.

use std::path::PathBuf;

use aether_engine::ports::StoreError;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// ParityDB failed (I/O, corruption it detected, a lock held by another process).
    #[error("database {path}: {source}")]
    Db {
        /// The database directory.
        path: PathBuf,
        /// The ParityDB error.
        #[source]
        source: parity_db::Error,
    },
    /// A stored record does not decode or contradicts another record.
    #[error("database {path}: corrupt {what}: {reason}")]
    Corrupt {
        /// The database directory.
        path: PathBuf,
        /// Which record (column and key).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database directory holds an interrupted snapshot restore.
    #[error(
        "database {0} holds an interrupted snapshot restore; delete the directory and restore again"
    )]
    IncompleteRestore(PathBuf),
    /// The database was written by an incompatible version of this crate.
    #[error("database {path}: layout version {found}, this build reads version {expected}")]
    Version {
        /// The database directory.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version this build understands.
        expected: u32,
    },
    /// A block was refused: it does not extend the head or its state root is wrong.
    #[error("block {height} refused: {reason}")]
    InvalidBlock {
        /// The block's height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// A pending state no longer extends the committed chain: a block at one of its heights
    /// was committed that is not its ancestor (the head moved on another branch), so neither
    /// its root nor its reads mean anything for this chain any more. Drop it.
    #[error(
        "pending state at height {version} no longer extends the committed chain (head: {})",
        head.map_or_else(|| "none".to_string(), |h| format!("height {h}"))
    )]
    StalePending {
        /// The pending state's version (its block's height).
        version: u64,
        /// The committed head's height.
        head: Option<u64>,
    },
    /// A pending state computed by another store handle (another open of this database, or
    /// another database) was passed to this one.
    #[error("database {0}: the pending state was computed by another store handle")]
    ForeignPending(PathBuf),
    /// The state at this height is not kept (pruned, or above the head).
    #[error("state at height {0} is not available (pruned, or not committed yet)")]
    Unavailable(u64),
    /// A query would scan more than its budget; narrow it.
    #[error("query too broad: {0}")]
    TooBroad(String),
    /// The state tree failed.
    #[error("state tree: {0}")]
    Tree(String),
    /// The node file (the state tree's nodes) failed or is damaged.
    #[error("tree nodes: {0}")]
    NodeFile(#[from] crate::node_file::NodeFileError),
    /// A snapshot file is unreadable, corrupt, or does not match its root.
    #[error("snapshot {path}: {reason}")]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl From<StorageError> for StoreError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(h) => StoreError::Unavailable(h),
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
