//! [`Database`]: the ParityDB handle with the path attached to every error.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use parity_db::{BTreeIterator, ColId, Db, Options};

use crate::error::{Result, StorageError};
use crate::layout::{COLUMN_NAMES, COLUMNS, COLUMNS_LAYOUT_1, column_options};

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
        add_missing_columns(path)?;
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

/// Upgrades ParityDB's metadata of a layout-1 database (columns 0 to 13, exactly as this build
/// configures them) to the current columns: the added column ([`crate::layout::PROOFS`]) starts
/// empty. Any other column configuration is left for ParityDB to refuse. The database is opened
/// with its old columns first, so that ParityDB replays its log, and the new metadata is written
/// to a temporary file, synced and renamed over the old: a crash leaves the old metadata or the
/// new, and the upgrade runs again on the next open if it did not finish.
fn add_missing_columns(path: &Path) -> Result<()> {
    let db_error = |source| StorageError::Db {
        path: path.to_path_buf(),
        source,
    };
    let io_error = |file: &Path| {
        let file = file.to_path_buf();
        move |source| StorageError::Io { path: file, source }
    };
    let Some(meta) = Options::load_metadata(path).map_err(db_error)? else {
        return Ok(());
    };
    let all = column_options();
    let old = COLUMNS_LAYOUT_1 as usize;
    if meta.columns.len() != old || meta.columns[..] != all[..old] {
        return Ok(());
    }
    let mut options = Options::with_columns(path, COLUMNS_LAYOUT_1);
    options.columns = all[..old].to_vec();
    drop(Db::open(&options).map_err(db_error)?);
    options.columns = all;
    options.salt = Some(meta.salt);
    let tmp = path.join("metadata.upgrade");
    options
        .write_metadata_file_with_version(&tmp, &meta.salt, Some(meta.version))
        .map_err(db_error)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_error(&tmp))?;
    let target = path.join("metadata");
    std::fs::rename(&tmp, &target).map_err(io_error(&target))?;
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_error(path))?;
    tracing::info!(path = %path.display(), "added the commit-proof column (layout 1 to 2)");
    Ok(())
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
