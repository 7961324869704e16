//! [`Database`]: the ParityDB handle with the path attached to every error.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use parity_db::{BTreeIterator, ColId, Db, Options};
use parity_scale_codec::Decode;

use crate::error::{Result, StorageError};
use crate::layout::{
    COLUMN_NAMES, COLUMNS, COLUMNS_LAYOUT_1, COLUMNS_LAYOUT_2, LATEST, META, NODE_FILE_LAYOUT,
    TREE_NODES, column_options, meta,
};
use crate::merkle::Path as NodePath;
use crate::node_store::{
    NodeRecords, NodeStore, NodeStoreOptions, NodeStoreStats, NodeWrites, NodesCommitted,
};

/// One write of a commit: `Some(value)` sets, `None` removes.
pub type Write = (ColId, Vec<u8>, Option<Vec<u8>>);

/// The directory of the node file inside the database directory.
pub const NODES_DIR: &str = "nodes";

/// The database of a store: ParityDB, and the state tree's nodes in the node file
/// ([`NodeStore`]) under the [`TREE_NODES`] column's name: reads and writes of that column go
/// to the node file (and, for nodes written before layout 5, to the column itself).
pub struct Database {
    db: Db,
    path: PathBuf,
    nodes: Arc<NodeStore>,
    /// The compaction a block's commit left to be done after it, on a thread of its own
    /// (joined before the next commit and when the database is dropped).
    compacting: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Nodes of versions below this may be in the [`TREE_NODES`] column (written before the
    /// database was upgraded to layout 5); `u64::MAX` until an older layout is upgraded.
    nodes_from: AtomicU64,
}

impl Database {
    /// Opens the database at `path`, creating it when `create` is set, with the node file laid
    /// out and compacted as `nodes` says.
    pub fn open(path: &Path, create: bool, nodes: NodeStoreOptions) -> Result<Self> {
        let db = Self::open_parity(path, create)?;
        let error = |source| StorageError::Db {
            path: path.to_path_buf(),
            source,
        };
        let get_u64 = |key: &[u8]| -> Result<Option<u64>> {
            match db.get(META, key).map_err(error)? {
                None => Ok(None),
                Some(bytes) => u64::decode(&mut &bytes[..]).map(Some).map_err(|e| {
                    corrupt_at(path, format!("meta/{}", String::from_utf8_lossy(key)), e)
                }),
            }
        };
        let layout = match db.get(META, meta::LAYOUT).map_err(error)? {
            None => None,
            Some(bytes) => {
                Some(u32::decode(&mut &bytes[..]).map_err(|e| corrupt_at(path, "meta/layout", e))?)
            }
        };
        let nodes_from = match layout {
            Some(found) if found < NODE_FILE_LAYOUT => u64::MAX,
            _ => get_u64(meta::NODES_FROM)?.unwrap_or(0),
        };
        // The head's height is the first field of the head record.
        let head = get_u64(meta::HEAD)?;
        let nodes = NodeStore::open(
            &path.join(NODES_DIR),
            head,
            head.is_some_and(|h| h >= nodes_from),
            nodes,
        )?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
            nodes: Arc::new(nodes),
            compacting: Mutex::new(None),
            nodes_from: AtomicU64::new(nodes_from),
        })
    }

    /// The version from which every node is in the node file (0 unless the database was
    /// upgraded from a layout before it); older nodes are in ParityDB's `tree_nodes`.
    pub fn nodes_from(&self) -> u64 {
        self.nodes_from.load(Ordering::Acquire)
    }

    /// Sets the version from which every node is in the node file (a layout upgrade).
    pub fn set_nodes_from(&self, version: u64) {
        self.nodes_from.store(version, Ordering::Release);
    }

    /// What the node file holds.
    pub fn node_stats(&self) -> NodeStoreStats {
        self.nodes.stats()
    }

    fn open_parity(path: &Path, create: bool) -> Result<Db> {
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
        opened.map_err(|source| StorageError::Db {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads one value.
    pub fn get(&self, col: ColId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_key(col, key)?;
        if col == TREE_NODES {
            if let Some(node) = self.nodes.get(key)? {
                return Ok(Some(node));
            }
            if node_version(key) >= self.nodes_from.load(Ordering::Acquire) {
                return Ok(None);
            }
        }
        self.db.get(col, key).map_err(|e| self.db_error(e))
    }

    /// An ordered iterator over a B-tree column.
    pub fn iter(&self, col: ColId) -> Result<BTreeIterator<'_>> {
        self.db.iter(col).map_err(|e| self.db_error(e))
    }

    /// A buffer an earlier block's node records were framed in, to frame the next block's.
    pub fn node_buffer(&self) -> Vec<u8> {
        self.nodes.spare_buffer()
    }

    /// Whether the node file holds the stale record of `version` (not pruned yet).
    pub fn has_stale_nodes(&self, version: u64) -> bool {
        self.nodes.has_stale(version)
    }

    /// Commits `writes` atomically: after a crash either all of them or none are found. Tree
    /// nodes go to the node file first, synced; the rest to ParityDB (see
    /// [`crate::node_store`] for why the file may be ahead).
    pub fn commit(&self, writes: Vec<Write>) -> Result<()> {
        self.commit_block(writes, BlockNodes::default()).map(|_| ())
    }

    /// [`Database::commit`] of a block's writes with its tree nodes framed already, the nodes
    /// it made stale (kept in the node file until their version is pruned) and the versions
    /// whose stale nodes it prunes.
    pub fn commit_block(
        &self,
        writes: Vec<Write>,
        block: BlockNodes<'_>,
    ) -> Result<NodesCommitted> {
        let BlockNodes {
            records,
            stale,
            prune,
        } = block;
        for (col, key, _) in &writes {
            self.check_key(*col, key)?;
        }
        let mut nodes = NodesCommitted::default();
        let writes = if !stale.is_empty()
            || !prune.is_empty()
            || !records.is_empty()
            || writes.iter().any(|(col, ..)| *col == TREE_NODES)
        {
            let from = self.nodes_from.load(Ordering::Acquire);
            let (mut sets, mut removes, mut version) = (vec![], vec![], None);
            let mut rest = Vec::with_capacity(writes.len());
            for (col, key, value) in writes {
                match (col, value) {
                    (TREE_NODES, Some(node)) => sets.push((key, node)),
                    (TREE_NODES, None) => {
                        if node_version(&key) < from {
                            rest.push((TREE_NODES, key.clone(), None));
                        }
                        removes.push(key);
                    }
                    (col, value) => {
                        if col == META && key == meta::HEAD {
                            version = value.as_deref().and_then(|v| u64::decode(&mut &v[..]).ok());
                        }
                        rest.push((col, key, value));
                    }
                }
            }
            let db_bytes = rest
                .iter()
                .map(|(_, k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
                .sum::<usize>();
            self.wait_for_compaction();
            // A block's compaction runs after its commit, beside the rest of the block's work
            // (the ParityDB commit, the next block's root), not inside it.
            let defer_compaction = version.is_some();
            nodes = self.nodes.commit(NodeWrites {
                defer_compaction,
                version,
                sets: &sets,
                records,
                removes: &removes,
                stale,
                prune,
                db_bytes: db_bytes as u64,
            })?;
            if defer_compaction {
                self.compact_in_background();
            }
            rest
        } else {
            writes
        };
        self.db.commit(writes).map_err(|e| self.db_error(e))?;
        Ok(nodes)
    }

    /// Refuses a key ParityDB cannot take in `col`: a `uniform` column's keys are 32 bytes (it
    /// panics on others), and only a damaged record (a stale list) could name another.
    fn check_key(&self, col: ColId, key: &[u8]) -> Result<()> {
        if col == LATEST && key.len() != 32 {
            return Err(self.corrupt(
                format!("a key of {} bytes for column `latest`", key.len()),
                "its keys are 32-byte key hashes",
            ));
        }
        Ok(())
    }

    /// Compacts a node segment, if one qualifies, on a thread of its own.
    fn compact_in_background(&self) {
        let nodes = self.nodes.clone();
        let spawned = std::thread::Builder::new()
            .name("aether-compact".into())
            .spawn(move || {
                if let Err(e) = nodes.compact() {
                    tracing::warn!(error = %e, "compacting the node file failed; retried later");
                }
            });
        match spawned {
            Ok(thread) => *crate::store::lock(&self.compacting) = Some(thread),
            Err(e) => tracing::warn!(error = %e, "no thread to compact the node file"),
        }
    }

    /// Waits for the compaction under way, if any.
    fn wait_for_compaction(&self) {
        if let Some(thread) = crate::store::lock(&self.compacting).take()
            && thread.join().is_err()
        {
            tracing::warn!("compacting the node file panicked");
        }
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

/// A block's tree-node writes besides those in its [`Write`]s ([`Database::commit_block`]).
#[derive(Default)]
pub struct BlockNodes<'a> {
    /// Its new nodes, framed.
    pub records: Vec<NodeRecords>,
    /// The nodes it made stale: version and path.
    pub stale: &'a [(u64, NodePath)],
    /// The versions whose stale nodes it prunes.
    pub prune: std::ops::Range<u64>,
}

impl Drop for Database {
    fn drop(&mut self) {
        self.wait_for_compaction();
    }
}

/// The version of a stored tree-node key (its first 8 bytes, little-endian); 0 for bytes too
/// short to be one.
fn node_version(key: &[u8]) -> u64 {
    key.get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn corrupt_at(path: &Path, what: impl Into<String>, reason: impl Display) -> StorageError {
    StorageError::Corrupt {
        path: path.to_path_buf(),
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// The name of a column, for messages.
pub fn column_name(col: ColId) -> &'static str {
    COLUMN_NAMES.get(col as usize).copied().unwrap_or("unknown")
}

/// Upgrades ParityDB's metadata of a database of an earlier layout (columns 0 to 13 of layout
/// 1, or 0 to 14 of layouts 2 to 6, exactly as this build configures them) to the current
/// columns: the added ones ([`crate::layout::PROOFS`], [`crate::layout::LATEST`]) start empty.
/// Any other column configuration is left for ParityDB to refuse. The database is opened
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
    let old = meta.columns.len();
    if ![COLUMNS_LAYOUT_1, COLUMNS_LAYOUT_2].contains(&(old as u8))
        || meta.columns[..] != all[..old]
    {
        return Ok(());
    }
    let mut options = Options::with_columns(path, old as u8);
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
    tracing::info!(
        path = %path.display(),
        columns = old,
        "added the columns of later layouts (commit proofs since 2, latest values since 7)"
    );
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
