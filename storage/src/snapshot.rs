//! Snapshots: the whole state at one height in one file, restorable onto an empty data directory
//! with the root verified chunk by chunk before anything is used.
//!
//! File format (all integers little-endian):
//!
//! ```text
//! "AETHSNAP" | u32 format (2) | u32 n | SCALE(SnapshotHeader) (n bytes)
//! then u32 m | the commit proof stored with the block at that height (m bytes, m may be 0)
//! then chunks: u32 n (n > 0) | SCALE(Chunk) (n bytes)
//! then u32 0 | SHA-256 of every byte before it (32 bytes)
//! ```
//!
//! Entries come in key-hash order, in chunks of at most [`CHUNK_ENTRIES`] entries or about
//! [`CHUNK_BYTES`]; each chunk carries the range proof of its last key, so a restore checks every
//! chunk against the state root as it arrives and memory stays bounded by one chunk.
//!
//! Format 1 (no commit proof record) is still read; its restored store has no proof at its head.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aether_engine::types::{BlockHeader, Hash};
use indicatif::ProgressBar;
use jmt::proof::SparseMerkleRangeProof;
use jmt::restore::{JellyfishMerkleRestore, StateSnapshotReceiver};
use jmt::storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader, TreeWriter};
use jmt::{JellyfishMerkleIterator, KeyHash, OwnedValue, RootHash, Version};
use parity_scale_codec::{Decode, Encode};
use sha2::Digest;

use crate::db::{Database, Write as DbWrite};
use crate::error::{Result, StorageError};
use crate::hasher::{Sha256, StateTree};
use crate::layout::{self, meta};
use crate::state_key::{StateKey, decode_leaf};
use crate::store::{Store, StoreConfig};
use crate::tree::NodeReader;

const MAGIC: &[u8; 8] = b"AETHSNAP";
const FORMAT: u32 = 2;
/// The format before the commit proof record.
const FORMAT_WITHOUT_PROOF: u32 = 1;
/// Most entries in one chunk.
pub const CHUNK_ENTRIES: usize = 4096;
/// A chunk is closed once its entries reach this many bytes.
pub const CHUNK_BYTES: usize = 4 << 20;
/// Largest chunk or header a restore accepts.
const MAX_RECORD: u32 = 64 << 20;
/// File extension of snapshots.
pub const EXTENSION: &str = "snapshot";

/// What a snapshot holds, from its header.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SnapshotHeader {
    /// The height of the state.
    pub height: u64,
    /// Its state root.
    pub state_root: Hash,
    /// The header of the block at that height (the restored store's head).
    pub block: BlockHeader,
    /// Number of state entries.
    pub entries: u64,
}

/// What a snapshot's head carries besides its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotHead {
    /// The header.
    pub header: SnapshotHeader,
    /// The commit proof stored with the block at that height (opaque to storage: consensus
    /// checks it when it starts from the restored store); empty when the block had none.
    pub commit_proof: Vec<u8>,
}

#[derive(Encode, Decode)]
struct Chunk {
    entries: Vec<(StateKey, Vec<u8>)>,
    /// borsh(SparseMerkleRangeProof) of the chunk's last key.
    proof: Vec<u8>,
}

/// A snapshot file and its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its header.
    pub header: SnapshotHeader,
}

/// A file in a snapshot directory: its header, or why it could not be read.
#[derive(Debug)]
pub struct SnapshotListing {
    /// The file.
    pub path: PathBuf,
    /// What it holds.
    pub info: Result<SnapshotInfo>,
}

/// The default file name of a snapshot at `height`.
pub fn file_name(height: u64) -> String {
    format!("state-{height:012}.{EXTENSION}")
}

impl Store {
    /// Writes the state after the block at `height` to `path` (through a temporary file renamed
    /// into place, so a crash leaves no half snapshot under that name).
    pub fn create_snapshot(
        &self,
        height: u64,
        path: &Path,
        progress: &ProgressBar,
    ) -> Result<SnapshotInfo> {
        let view = self.state_at(height)?;
        let snap_err = |reason: String| StorageError::Snapshot {
            path: path.to_path_buf(),
            reason,
        };
        let block_hash = self
            .block_hash(height)?
            .ok_or_else(|| snap_err(format!("no block at height {height}")))?;
        let block = self
            .header(&block_hash)?
            .ok_or_else(|| snap_err(format!("no header for block {block_hash}")))?;
        let db = &self.inner.db;
        let reader = NodeReader::new(db);
        let tree = StateTree::new(&reader);
        let entries = crate::tree::guarded(db, height, || tree.get_leaf_count(height))? as u64;
        let header = SnapshotHeader {
            height,
            state_root: block.state_root,
            block,
            entries,
        };

        let commit_proof = self.commit_proof(height)?.unwrap_or_default();
        let tmp = path.with_extension("partial");
        let written = self.write_snapshot(&header, &commit_proof, &tmp, progress);
        // Whatever went wrong, a prune that overtook the walk is the real reason.
        let pruned = view.get(&StateKey::Code(Hash::default())).err();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(pruned.unwrap_or(e));
        }
        if let Some(e) = pruned {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, path).map_err(|source| StorageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        progress.finish();
        read_info(path)
    }

    /// Writes the snapshot file `tmp` (synced) for `header`.
    fn write_snapshot(
        &self,
        header: &SnapshotHeader,
        commit_proof: &[u8],
        tmp: &Path,
        progress: &ProgressBar,
    ) -> Result<()> {
        let db = &self.inner.db;
        let height = header.height;
        let entries = header.entries;
        let reader = Arc::new(NodeReader::new(db));
        let tree = StateTree::new(reader.as_ref());
        let tmp = tmp.to_path_buf();
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| StorageError::Io { path: p, source }
        };
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let mut out = HashingWriter::new(BufWriter::new(file));
        out.write_all(MAGIC).map_err(io(&tmp))?;
        out.write_all(&FORMAT.to_le_bytes()).map_err(io(&tmp))?;
        write_record(&mut out, &header.encode()).map_err(io(&tmp))?;
        write_record(&mut out, commit_proof).map_err(io(&tmp))?;

        progress.set_length(entries);
        let mut iter = crate::tree::guarded(db, height, || {
            JellyfishMerkleIterator::new(reader.clone(), height, KeyHash([0; 32]))
        })?;
        let mut chunk: Vec<(StateKey, Vec<u8>)> = Vec::new();
        let mut chunk_bytes = 0;
        let mut last = KeyHash([0; 32]);
        let mut written = 0u64;
        // jmt's iterator asserts on malformed nodes: each step runs guarded.
        while let Some((key_hash, leaf)) =
            crate::tree::guarded(db, height, || iter.next().transpose())?
        {
            let (key, value) = decode_leaf(&leaf).map_err(|e| db.corrupt("state tree leaf", e))?;
            if key.key_hash() != key_hash {
                return Err(db.corrupt(
                    format!("state tree leaf of {key:?}"),
                    "is stored under another key hash",
                ));
            }
            chunk_bytes += leaf.len();
            chunk.push((key, value));
            last = key_hash;
            if chunk.len() >= CHUNK_ENTRIES || chunk_bytes >= CHUNK_BYTES {
                written += chunk.len() as u64;
                flush_chunk(db, &tree, &mut out, &mut chunk, last, height, &tmp)?;
                chunk_bytes = 0;
                progress.set_position(written);
            }
        }
        if !chunk.is_empty() {
            written += chunk.len() as u64;
            flush_chunk(db, &tree, &mut out, &mut chunk, last, height, &tmp)?;
        }
        if written != entries {
            return Err(db.corrupt(
                format!("state tree at height {height}"),
                format!("its root counts {entries} leaves but {written} were found"),
            ));
        }
        out.write_all(&0u32.to_le_bytes()).map_err(io(&tmp))?;
        let (mut file, digest) = out.finish();
        file.write_all(&digest).map_err(io(&tmp))?;
        let file = file.into_inner().map_err(|e| StorageError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        Ok(())
    }
}

/// Writes `chunk` (whose last key is `last`) with its range proof, and empties it.
fn flush_chunk<W: Write>(
    db: &Database,
    tree: &StateTree<'_, NodeReader<'_>>,
    out: &mut W,
    chunk: &mut Vec<(StateKey, Vec<u8>)>,
    last: KeyHash,
    height: u64,
    path: &Path,
) -> Result<()> {
    let proof = crate::tree::guarded(db, height, || tree.get_range_proof(last, height))?;
    let proof = borsh::to_vec(&proof).map_err(|e| StorageError::Tree(e.to_string()))?;
    let record = Chunk {
        entries: std::mem::take(chunk),
        proof,
    };
    write_record(out, &record.encode()).map_err(|source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_record<W: Write>(out: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|n| *n <= MAX_RECORD)
        .ok_or_else(|| std::io::Error::other("record larger than 64 MiB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

/// Reads the header of a snapshot file (without checking the rest).
pub fn read_info(path: &Path) -> Result<SnapshotInfo> {
    let mut input = SnapshotReader::open(path)?;
    let bytes = input.len;
    let header = input.head()?.header;
    Ok(SnapshotInfo {
        path: path.to_path_buf(),
        bytes,
        header,
    })
}

/// The snapshot files (`*.snapshot`) in `dir`, by height; unreadable ones with their error.
pub fn list_snapshots(dir: &Path) -> Result<Vec<SnapshotListing>> {
    let entries = fs::read_dir(dir).map_err(|source| StorageError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| StorageError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == EXTENSION) {
            out.push(SnapshotListing {
                info: read_info(&path),
                path,
            });
        }
    }
    out.sort_by_key(|l| {
        (
            l.info.as_ref().map_or(u64::MAX, |i| i.header.height),
            l.path.clone(),
        )
    });
    Ok(out)
}

/// Restores the snapshot at `snapshot` into `data_dir`, which must not exist or be empty, and
/// opens it. Every chunk is checked against the snapshot's state root before it is written and
/// the whole file against its checksum before the store is marked usable; on any failure the
/// directory is removed again, so a failed restore leaves nothing behind.
pub fn restore_snapshot(
    snapshot: &Path,
    data_dir: &Path,
    config: StoreConfig,
    progress: &ProgressBar,
) -> Result<Store> {
    if let Ok(mut entries) = fs::read_dir(data_dir)
        && entries.next().is_some()
    {
        return Err(StorageError::Snapshot {
            path: snapshot.to_path_buf(),
            reason: format!(
                "the data directory {} is not empty; restore onto a new directory",
                data_dir.display()
            ),
        });
    }
    let result = restore_into(snapshot, data_dir, progress);
    if result.is_err() {
        let _ = fs::remove_dir_all(data_dir);
    }
    result?;
    Store::open_existing(data_dir, config)
}

fn restore_into(snapshot: &Path, data_dir: &Path, progress: &ProgressBar) -> Result<()> {
    let mut input = SnapshotReader::open(snapshot)?;
    let SnapshotHead {
        header,
        commit_proof,
    } = input.head()?;
    let bad = |reason: String| StorageError::Snapshot {
        path: snapshot.to_path_buf(),
        reason,
    };
    if header.height == u64::MAX {
        return Err(bad("height u64::MAX is not a block height".into()));
    }
    if header.block.height != header.height || header.block.state_root != header.state_root {
        return Err(bad(
            "its block header does not match its height and state root".into(),
        ));
    }
    let db = Arc::new(Database::open(
        data_dir,
        true,
        crate::node_store::NodeStoreOptions::default(),
    )?);
    db.commit(vec![(
        layout::META,
        meta::RESTORING.to_vec(),
        Some(Vec::new()),
    )])?;
    let version = header.height;
    let target = Arc::new(RestoreTarget(db.clone()));
    let mut restore: JellyfishMerkleRestore<Sha256> =
        JellyfishMerkleRestore::new(target, version, RootHash(header.state_root.0))
            .map_err(|e| StorageError::Tree(format!("{e:#}")))?;
    progress.set_length(header.entries);
    let mut count = 0u64;
    while let Some(chunk) = input.chunk()? {
        if chunk.entries.is_empty() {
            return Err(bad(format!("empty chunk after {count} entries")));
        }
        let proof: SparseMerkleRangeProof<Sha256> = borsh::from_slice(&chunk.proof)
            .map_err(|e| bad(format!("chunk after {count} entries: malformed proof: {e}")))?;
        let mut leaves = Vec::with_capacity(chunk.entries.len());
        let mut writes: Vec<DbWrite> = Vec::with_capacity(chunk.entries.len());
        for (key, value) in &chunk.entries {
            let key_hash = key.key_hash();
            writes.push((
                crate::layout::LATEST,
                key_hash.0.to_vec(),
                Some((version, Some(value)).encode()),
            ));
            leaves.push((key_hash, key.leaf_value(value)));
        }
        let n = leaves.len() as u64;
        // Keys out of order or a chunk that does not prove against the root are refused here,
        // before anything of the chunk is written.
        let added = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            restore.add_chunk(leaves, proof)
        }))
        .map_err(|_| {
            bad(format!(
                "chunk after {count} entries made the tree restore panic"
            ))
        })?;
        added.map_err(|e| {
            bad(format!(
                "chunk after {count} entries does not prove against state root {}: {e:#}",
                header.state_root
            ))
        })?;
        db.commit(writes)?;
        count += n;
        progress.set_position(count);
    }
    input.trailer()?;
    if count != header.entries {
        return Err(bad(format!(
            "holds {count} entries, its header says {}",
            header.entries
        )));
    }
    if count == 0 {
        // The empty tree's root is a null node.
        let key = layout::tree_root_key(version);
        let null = borsh::to_vec(&Node::Null).map_err(|e| StorageError::Tree(e.to_string()))?;
        db.commit(vec![(layout::TREE_NODES, key, Some(null))])?;
    } else {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| restore.finish()))
            .map_err(|_| bad("the tree restore panicked while finishing".into()))?
            .map_err(|e| StorageError::Tree(format!("{e:#}")))?;
    }
    let reader = NodeReader::new(&db);
    let root = StateTree::new(&reader)
        .get_root_hash(version)
        .map_err(|e| StorageError::Tree(format!("{e:#}")))?;
    if root.0 != header.state_root.0 {
        return Err(bad(format!(
            "restored state has root {}, the snapshot says {}",
            Hash(root.0),
            header.state_root
        )));
    }
    let hash = header.block.hash();
    let mut head_writes = vec![
        (
            layout::HEADERS,
            hash.0.to_vec(),
            Some(header.block.encode()),
        ),
        (
            layout::HEIGHTS,
            version.to_be_bytes().to_vec(),
            Some(hash.0.to_vec()),
        ),
        (
            layout::META,
            meta::HEAD.to_vec(),
            Some((version, hash).encode()),
        ),
        (layout::META, meta::OLDEST.to_vec(), Some(version.encode())),
        (
            layout::META,
            meta::PRUNED_BELOW.to_vec(),
            Some(version.encode()),
        ),
        (
            layout::META,
            meta::RESTORED_AT.to_vec(),
            Some(version.encode()),
        ),
        (layout::META, meta::RESTORING.to_vec(), None),
        // jmt's restore wrote the leaves without their values, and the values into
        // `tree_values`.
        (
            layout::META,
            meta::LEAF_VALUES_FROM.to_vec(),
            Some((version + 1).encode()),
        ),
    ];
    if !commit_proof.is_empty() {
        head_writes.push((
            layout::PROOFS,
            version.to_be_bytes().to_vec(),
            Some(commit_proof),
        ));
    }
    db.commit(head_writes)?;
    progress.finish();
    Ok(())
}

/// The restore's view of the new database: it writes node batches as they freeze.
struct RestoreTarget(Arc<Database>);

impl TreeReader for RestoreTarget {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        NodeReader::new(&self.0).get_node_option(node_key)
    }
    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        NodeReader::new(&self.0).get_value_option(max_version, key_hash)
    }
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        NodeReader::new(&self.0).get_rightmost_leaf()
    }
}

impl TreeWriter for RestoreTarget {
    fn write_node_batch(&self, batch: &NodeBatch) -> anyhow::Result<()> {
        let mut writes: Vec<DbWrite> =
            Vec::with_capacity(batch.nodes().len() + batch.values().len());
        for (key, node) in batch.nodes() {
            writes.push((
                layout::TREE_NODES,
                borsh::to_vec(key)?,
                Some(borsh::to_vec(node)?),
            ));
        }
        for ((version, key_hash), leaf) in batch.values() {
            writes.push((
                layout::TREE_VALUES,
                layout::tree_value_key(&key_hash.0, *version).to_vec(),
                Some(leaf.encode()),
            ));
        }
        Ok(self.0.commit(writes)?)
    }
}

/// Reads a snapshot, hashing every byte, with errors that name the file and the offset.
struct SnapshotReader<R> {
    path: PathBuf,
    input: R,
    hasher: sha2::Sha256,
    offset: u64,
    /// The file's length: no record may claim more than what is left.
    len: u64,
}

impl SnapshotReader<BufReader<File>> {
    /// Opens a snapshot file for reading.
    fn open(path: &Path) -> Result<Self> {
        let io = |source| StorageError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Self::new(path, BufReader::new(file), len))
    }
}

impl<R: Read> SnapshotReader<R> {
    fn new(path: &Path, input: R, len: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            input,
            hasher: sha2::Sha256::new(),
            offset: 0,
            len,
        }
    }

    fn bad(&self, reason: impl Into<String>) -> StorageError {
        StorageError::Snapshot {
            path: self.path.clone(),
            reason: format!("at byte {}: {}", self.offset, reason.into()),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.bad(format!("truncated: the file ends inside the {what}"))
            } else {
                StorageError::Io {
                    path: self.path.clone(),
                    source: e,
                }
            }
        })?;
        self.hasher.update(&buf[..]);
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn record(&mut self, len: u32, what: &str) -> Result<Vec<u8>> {
        if len > MAX_RECORD {
            return Err(self.bad(format!(
                "{what} claims {len} bytes, more than the 64 MiB limit"
            )));
        }
        if u64::from(len) > self.len.saturating_sub(self.offset) {
            return Err(self.bad(format!(
                "truncated: the {what} claims {len} bytes, more than the file has left"
            )));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, what)?;
        Ok(buf)
    }

    /// The header and (format 2) the commit proof after it.
    fn head(&mut self) -> Result<SnapshotHead> {
        let mut magic = [0u8; 8];
        self.read_exact(&mut magic, "magic")?;
        if &magic != MAGIC {
            return Err(self.bad("not an Aether snapshot (bad magic)"));
        }
        let format = self.u32("format version")?;
        if format != FORMAT && format != FORMAT_WITHOUT_PROOF {
            return Err(self.bad(format!(
                "snapshot format {format}; this build reads formats {FORMAT_WITHOUT_PROOF} and \
                 {FORMAT}"
            )));
        }
        let len = self.u32("header length")?;
        let bytes = self.record(len, "header")?;
        let mut input = &bytes[..];
        let header = SnapshotHeader::decode(&mut input)
            .map_err(|e| self.bad(format!("undecodable header: {e}")))?;
        if !input.is_empty() {
            return Err(self.bad("trailing bytes in the header"));
        }
        let commit_proof = if format == FORMAT {
            let len = self.u32("commit proof length")?;
            self.record(len, "commit proof")?
        } else {
            Vec::new()
        };
        Ok(SnapshotHead {
            header,
            commit_proof,
        })
    }

    fn chunk(&mut self) -> Result<Option<Chunk>> {
        let len = self.u32("chunk length")?;
        if len == 0 {
            return Ok(None);
        }
        let bytes = self.record(len, "chunk")?;
        let mut input = &bytes[..];
        let chunk =
            Chunk::decode(&mut input).map_err(|e| self.bad(format!("undecodable chunk: {e}")))?;
        if !input.is_empty() {
            return Err(self.bad("trailing bytes in a chunk"));
        }
        Ok(Some(chunk))
    }

    fn trailer(&mut self) -> Result<()> {
        let expected: [u8; 32] = self.hasher.clone().finalize().into();
        let mut found = [0u8; 32];
        if let Err(e) = self.input.read_exact(&mut found) {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.bad("truncated: no checksum")
            } else {
                StorageError::Io {
                    path: self.path.clone(),
                    source: e,
                }
            });
        }
        if found != expected {
            return Err(self.bad("checksum mismatch: the file is corrupt"));
        }
        let mut rest = [0u8; 1];
        match self.input.read(&mut rest) {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.bad("data after the checksum")),
            Err(source) => Err(StorageError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
        }
    }

    fn finish(self) -> (W, [u8; 32]) {
        (self.inner, self.hasher.finalize().into())
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
