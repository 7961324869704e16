//! [`Database`]: the ParityDB handle with the path attached to every error.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use parity_db::{BTreeIterator, ColId, Db, Options};

use crate::error::{Result, StorageError};
use crate::layout::{COLUMN_NAMES, COLUMNS, column_options};

/// One write of a commit: `Some(value)` sets, `None` removes.
pub type Write = (ColId, Vec<u8>, Option<Vec<u8>>);

/// The ParityDB database of a store.
pub struct Database {
    db: Db,
    path: PathBuf,
}

impl Database {
    /// Opens the database at `path`, creating it when `create` is set.
    pub fn open(path: &Path, create: bool) -> Result<Self> {
        check_index_files(path)?;
        let mut options = Options::with_columns(path, COLUMNS);
        options.columns = column_options();
        let opened = if create {
            std::fs::create_dir_all(path).map_err(|source| StorageError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Db::open_or_create(&options)
        } else {
            Db::open(&options)
        };
        let db = opened.map_err(|source| StorageError::Db {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads one value.
    pub fn get(&self, col: ColId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get(col, key).map_err(|e| self.db_error(e))
    }

    /// An ordered iterator over a B-tree column.
    pub fn iter(&self, col: ColId) -> Result<BTreeIterator<'_>> {
        self.db.iter(col).map_err(|e| self.db_error(e))
    }

    /// Commits `writes` atomically: after a crash either all of them or none are found.
    pub fn commit(&self, writes: Vec<Write>) -> Result<()> {
        self.db.commit(writes).map_err(|e| self.db_error(e))
    }

    /// Wraps a ParityDB error.
    pub fn db_error(&self, source: parity_db::Error) -> StorageError {
        StorageError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// A corruption error naming the record.
    pub fn corrupt(&self, what: impl Into<String>, reason: impl Display) -> StorageError {
        StorageError::Corrupt {
            path: self.path.clone(),
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// The name of a column, for messages.
pub fn column_name(col: ColId) -> &'static str {
    COLUMN_NAMES.get(col as usize).copied().unwrap_or("unknown")
}

/// ParityDB silently re-extends a truncated index file on open, losing the entries it held.
/// Its size is fixed by its name (`index_CC_BB`: 2^BB chunks of 512 bytes after 16 KiB of
/// metadata), so check it before ParityDB gets to it.
fn check_index_files(path: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(bits) = name
            .to_str()
            .and_then(|n| n.strip_prefix("index_"))
            .and_then(|n| n.split_once('_'))
            .and_then(|(_, bits)| bits.parse::<u32>().ok())
            .filter(|b| *b < 48)
        else {
            continue;
        };
        let expected = (1u64 << bits) * 512 + 16 * 1024;
        let found = entry
            .metadata()
            .map_err(|source| StorageError::Io {
                path: entry.path(),
                source,
            })?
            .len();
        if found != expected {
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                what: format!("index file {}", name.to_string_lossy()),
                reason: format!("{found} bytes, expected {expected}: truncated or damaged"),
            });
        }
    }
    Ok(())
}
