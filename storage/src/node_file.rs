//! [`NodeFile`]: records appended to segment files, one synced append per block, each record
//! read back by its address — the store for state-tree nodes outside ParityDB's per-entry
//! index (issue 13: a block's new nodes written as one sequential append instead of 55,000
//! index inserts and as many removals).
//!
//! A directory of segments `00000000.nodes`, `00000001.nodes`, …; a block's records go whole
//! into the active segment, which is sealed (a new one started) at the first block that finds
//! it past [`NodeFileOptions::segment_bytes`]. A record is an 8-byte header — the payload's
//! length and a CRC-32 of the record's address and payload — followed by the payload; its
//! address ([`RecordAddr`]) is its segment and offset, so a reader needs no index: whoever
//! holds the address (a parent node) reads the record in one `pread`.
//!
//! Crash consistency is the caller's to keep with one rule: [`Append::commit`] returns the new
//! committed [`End`] once the records are written and synced, and the caller records that end
//! atomically with whatever refers to the records (the block's root, in ParityDB) **after**
//! the commit returned. [`NodeFile::open`] takes the last end so recorded: bytes past it (a
//! block appended but never recorded, or recorded by a commit a crash took back) are cut, so
//! the file never holds records the rest of the store does not know, and never lacks one it
//! does (a file shorter than the recorded end is an error naming the segment, not an empty
//! store). A damaged record (wrong checksum, length past the segment's end) or an address past
//! the committed end is an error naming the segment and offset, never other data.
//!
//! One writer: the directory is locked (`LOCK`) for the handle's lifetime, and one [`Append`]
//! at a time (it holds the writer's lock). Reads run concurrently with an append; they see
//! records once their block is committed.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use parity_scale_codec::{Decode, Encode};

/// Bytes before a record's payload: its length (u32) and CRC-32 (u32), little-endian.
pub const RECORD_HEADER_BYTES: u64 = 8;
/// Offsets within a segment are below 2⁴⁰ (1 TiB).
pub const MAX_SEGMENT_BYTES: u64 = 1 << 40;
/// Segment indexes are below 2²⁴.
pub const MAX_SEGMENTS: u32 = 1 << 24;
/// The default size past which the active segment is sealed.
pub const DEFAULT_SEGMENT_BYTES: u64 = 256 << 20;
/// An append writes its buffer out once it holds this much (the records stay invisible until
/// the commit).
const FLUSH_BYTES: usize = 4 << 20;
/// Buffers of written batches kept for the next ones (a block's two encoding threads each
/// frame one).
const SPARE_BUFFERS: usize = 4;
/// A read fetches this much in its first `pread`: the header and any payload up to here.
const FIRST_READ_BYTES: u64 = 1024;
/// A scan reads a segment this much at a time.
const SCAN_BYTES: u64 = 1 << 20;
const LOCK_FILE: &str = "LOCK";
const SUFFIX: &str = ".nodes";

/// Why the node file could not be opened, read or appended to.
#[derive(Debug, thiserror::Error)]
pub enum NodeFileError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A record or segment is damaged, missing or shorter than what the store recorded.
    #[error("{path}: damaged node file at offset {offset}: {reason}")]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Where in it.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record or a segment would be larger than an address can reach.
    #[error("node file: {0}")]
    TooLarge(String),
    /// Another handle (in this process or another one) holds the directory.
    #[error("{0} is in use by another process (its lock file is held)")]
    InUse(PathBuf),
    /// The segment appends go to cannot be removed.
    #[error("node file: segment {0} is the active one")]
    Active(u32),
}

/// Where a record is: its segment and the offset of its header. Packed in a `u64` (segment in
/// the top 24 bits) to be stored in a parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordAddr {
    /// The segment's index.
    pub segment: u32,
    /// The header's offset in the segment.
    pub offset: u64,
}

impl RecordAddr {
    /// The address in one word.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.segment) << 40) | self.offset
    }

    /// The address a word holds.
    pub fn from_u64(word: u64) -> Self {
        Self {
            segment: (word >> 40) as u32,
            offset: word & (MAX_SEGMENT_BYTES - 1),
        }
    }
}

/// The committed end of the file: the active segment and its length. The caller records it
/// with the records' referrers and passes the last one recorded to [`NodeFile::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct End {
    /// The active segment's index.
    pub segment: u32,
    /// Its committed length in bytes.
    pub len: u64,
}

/// How the file is laid out.
#[derive(Clone, Copy, Debug)]
pub struct NodeFileOptions {
    /// A block that finds the active segment this long or longer starts a new one.
    pub segment_bytes: u64,
}

impl Default for NodeFileOptions {
    fn default() -> Self {
        Self {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    file: File,
    /// Bytes readers may read: the committed length.
    committed: AtomicU64,
}

/// Segment files holding records appended block by block; see the module documentation.
#[derive(Debug)]
pub struct NodeFile {
    /// Buffers of framed batches written out, kept for the next ones: a block's 15 MB of
    /// records then lands in memory already mapped, not in pages the system must fault in and
    /// zero again each block.
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
    dir: PathBuf,
    options: NodeFileOptions,
    segments: RwLock<BTreeMap<u32, Arc<Segment>>>,
    /// The committed end, and the lock an [`Append`] holds.
    writer: Mutex<Option<End>>,
    _lock: File,
}

impl NodeFile {
    /// Opens (creating) the node file in `dir`, cut back to `end`, the last end the caller
    /// recorded (`None`: nothing was ever recorded; every segment found is an unrecorded
    /// append and is removed).
    pub fn open(
        dir: impl Into<PathBuf>,
        end: Option<End>,
        options: NodeFileOptions,
    ) -> Result<Self, NodeFileError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(NodeFileError::InUse(dir)),
            Err(fs::TryLockError::Error(source)) => {
                return Err(NodeFileError::Io {
                    path: lock_path,
                    source,
                });
            }
        }
        let files = segment_files(&dir)?;
        // The recorded end checked before anything is cut or removed: a file that lost data is
        // left as it was found.
        if let Some(end) = end {
            let path = segment_path(&dir, end.segment);
            let Some(found) = files.get(&end.segment) else {
                return Err(NodeFileError::Corrupt {
                    path,
                    offset: 0,
                    reason: format!(
                        "the segment the store recorded its end in ({} bytes) is missing",
                        end.len
                    ),
                });
            };
            let len = fs::metadata(found).map_err(io(found))?.len();
            if len < end.len {
                return Err(NodeFileError::Corrupt {
                    path,
                    offset: len,
                    reason: format!(
                        "the segment ends at {len} bytes, the store recorded {} (the file lost data)",
                        end.len
                    ),
                });
            }
        }
        let mut segments = BTreeMap::new();
        let mut removed = false;
        for (index, path) in files {
            if end.is_none_or(|end| index > end.segment) {
                let len = fs::metadata(&path).map_or(0, |m| m.len());
                tracing::warn!(path = %path.display(), len, "removing an unrecorded node segment");
                fs::remove_file(&path).map_err(io(&path))?;
                removed = true;
                continue;
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            let mut len = file.metadata().map_err(io(&path))?.len();
            if let Some(end) = end
                && index == end.segment
                && len > end.len
            {
                tracing::warn!(
                    path = %path.display(),
                    bytes = len - end.len,
                    "cutting an unrecorded append off the node file"
                );
                file.set_len(end.len).map_err(io(&path))?;
                file.sync_all().map_err(io(&path))?;
                len = end.len;
            }
            let segment = Segment {
                path,
                file,
                committed: AtomicU64::new(len),
            };
            segments.insert(index, Arc::new(segment));
        }
        if removed {
            sync_dir(&dir)?;
        }
        Ok(Self {
            dir,
            options,
            segments: RwLock::new(segments),
            writer: Mutex::new(end),
            spare: Arc::default(),
            _lock: lock,
        })
    }

    /// Opens (creating) the node file in `dir` with every byte its segments hold, for a caller
    /// that finds the end to keep by scanning ([`NodeFile::scan`]) and then reopens the file at
    /// that end with [`NodeFile::open`]. Nothing is cut or removed.
    pub fn open_as_found(
        dir: impl Into<PathBuf>,
        options: NodeFileOptions,
    ) -> Result<Self, NodeFileError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let end = match segment_files(&dir)?.last_key_value() {
            Some((&segment, path)) => Some(End {
                segment,
                len: fs::metadata(path).map_err(io(path))?.len(),
            }),
            None => None,
        };
        Self::open(dir, end, options)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committed end (`None`: nothing committed yet).
    pub fn end(&self) -> Option<End> {
        *self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The segments and their committed lengths.
    pub fn segments(&self) -> Vec<(u32, u64)> {
        self.segments_read()
            .iter()
            .map(|(i, s)| (*i, s.committed.load(Ordering::Acquire)))
            .collect()
    }

    fn segments_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u32, Arc<Segment>>> {
        self.segments.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the next block's append (waiting for one in progress to end); a new segment if
    /// the active one is full. Nothing is visible, or kept after a reopen, until
    /// [`Append::commit`].
    pub fn append(&self) -> Result<Append<'_>, NodeFileError> {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (segment, start, new) = match *writer {
            Some(end) if end.len < self.options.segment_bytes => (end.segment, end.len, false),
            Some(end) => (end.segment + 1, 0, true),
            None => (0, 0, true),
        };
        if segment >= MAX_SEGMENTS {
            return Err(NodeFileError::TooLarge(format!(
                "segment {segment} is past the last an address can name"
            )));
        }
        let file = if new {
            let path = segment_path(&self.dir, segment);
            // A leftover of an append dropped uncommitted is overwritten.
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(io(&path))?;
            Arc::new(Segment {
                path,
                file,
                committed: AtomicU64::new(0),
            })
        } else {
            self.segments_read()
                .get(&segment)
                .cloned()
                .ok_or_else(|| NodeFileError::Corrupt {
                    path: segment_path(&self.dir, segment),
                    offset: start,
                    reason: "the active segment is not open".into(),
                })?
        };
        Ok(Append {
            file: self,
            _writer: writer,
            segment,
            target: file,
            new,
            start,
            written: start,
            buf: Vec::with_capacity(FLUSH_BYTES + FIRST_READ_BYTES as usize),
            early_sync: None,
            placing: vec![],
        })
    }

    /// A buffer a written batch left, for the next [`Framed::in_buffer`] (empty if none).
    pub fn spare_buffer(&self) -> Vec<u8> {
        self.spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    /// The payload of the record at `addr`.
    pub fn read(&self, addr: RecordAddr) -> Result<Vec<u8>, NodeFileError> {
        let segment = self.segments_read().get(&addr.segment).cloned();
        let Some(segment) = segment else {
            return Err(NodeFileError::Corrupt {
                path: segment_path(&self.dir, addr.segment),
                offset: addr.offset,
                reason: "a record in a segment that is not there".into(),
            });
        };
        let corrupt = |reason: String| NodeFileError::Corrupt {
            path: segment.path.clone(),
            offset: addr.offset,
            reason,
        };
        let committed = segment.committed.load(Ordering::Acquire);
        let available = committed.saturating_sub(addr.offset);
        if available < RECORD_HEADER_BYTES {
            return Err(corrupt(format!(
                "a record past the segment's committed end ({committed} bytes)"
            )));
        }
        let mut buf = vec![0; available.min(FIRST_READ_BYTES) as usize];
        read_exact_at(&segment.file, &mut buf, addr.offset).map_err(io(&segment.path))?;
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let total = RECORD_HEADER_BYTES + u64::from(len);
        if total > available {
            return Err(corrupt(format!(
                "a record of {len} bytes runs past the segment's committed end ({committed} bytes)"
            )));
        }
        let have = buf.len();
        buf.resize(total as usize, 0);
        if (have as u64) < total {
            read_exact_at(&segment.file, &mut buf[have..], addr.offset + have as u64)
                .map_err(io(&segment.path))?;
        }
        let payload = buf.split_off(RECORD_HEADER_BYTES as usize);
        if checksum(addr, &payload) != crc {
            return Err(corrupt(format!(
                "the record's checksum does not match its {len} bytes"
            )));
        }
        Ok(payload)
    }
}

impl NodeFile {
    /// The committed records of `segment`, in order, each checked; a damaged record ends the
    /// scan with its error (past a bad length nothing can be found again). For compaction,
    /// which moves a segment's live records before [`NodeFile::remove_segment`].
    pub fn scan(&self, segment: u32) -> Result<Scan, NodeFileError> {
        let Some(file) = self.segments_read().get(&segment).cloned() else {
            return Err(NodeFileError::Corrupt {
                path: segment_path(&self.dir, segment),
                offset: 0,
                reason: "a scan of a segment that is not there".into(),
            });
        };
        let end = file.committed.load(Ordering::Acquire);
        Ok(Scan {
            file,
            segment,
            offset: 0,
            end,
            buf: Vec::new(),
            buf_start: 0,
            failed: false,
        })
    }

    /// Deletes a segment no recorded state refers to any more (its live records moved, the
    /// history that read them pruned). Reads of its records are errors after. The active
    /// segment cannot be removed.
    pub fn remove_segment(&self, segment: u32) -> Result<(), NodeFileError> {
        self.detach_segment(segment)?.delete()
    }

    /// The first half of [`NodeFile::remove_segment`]: the segment is no longer read (reads of
    /// its records are errors); its file is deleted by [`Detached::delete`], which may run on
    /// another thread. A crash before the deletion leaves the file to the next open.
    pub fn detach_segment(&self, segment: u32) -> Result<Detached, NodeFileError> {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if writer.is_some_and(|end| end.segment == segment) {
            return Err(NodeFileError::Active(segment));
        }
        let removed = self
            .segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&segment);
        let path = removed.map_or_else(|| segment_path(&self.dir, segment), |s| s.path.clone());
        Ok(Detached {
            path,
            dir: self.dir.clone(),
        })
    }
}

/// A segment no longer read, whose file is still to be deleted ([`NodeFile::detach_segment`]).
#[derive(Debug)]
pub struct Detached {
    path: PathBuf,
    dir: PathBuf,
}

impl Detached {
    /// Deletes the segment's file and syncs the directory.
    pub fn delete(self) -> Result<(), NodeFileError> {
        match fs::remove_file(&self.path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(NodeFileError::Io {
                path: self.path,
                source,
            }),
        }
    }
}

/// The records of one segment in order: see [`NodeFile::scan`].
pub struct Scan {
    file: Arc<Segment>,
    segment: u32,
    offset: u64,
    end: u64,
    /// Bytes of the segment from `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
    failed: bool,
}

impl Scan {
    /// The `len` bytes at `at`, read in (with more after them) unless the buffer holds them.
    fn bytes(&mut self, at: u64, len: u64) -> Result<&[u8], NodeFileError> {
        let held = self.buf_start + self.buf.len() as u64;
        if at < self.buf_start || at + len > held {
            let want = len.max(SCAN_BYTES).min(self.end - at);
            self.buf.resize(want as usize, 0);
            read_exact_at(&self.file.file, &mut self.buf, at).map_err(io(&self.file.path))?;
            self.buf_start = at;
        }
        let from = (at - self.buf_start) as usize;
        Ok(&self.buf[from..from + len as usize])
    }

    /// The next record, its payload borrowed from the scan's buffer (no copy); `None` at the
    /// end or after a damaged record.
    pub fn next_record(&mut self) -> Option<Result<(RecordAddr, &[u8]), NodeFileError>> {
        if self.failed || self.offset >= self.end {
            return None;
        }
        match self.record() {
            Ok((addr, from, len)) => {
                let at = (from - self.buf_start) as usize;
                Some(Ok((addr, &self.buf[at..at + len])))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    /// The payload of the record at `offset` (where a record starts, as an index says),
    /// checked; reads ahead as [`Scan::next_record`] does, so offsets in increasing order read
    /// the segment once.
    pub fn record_at(&mut self, offset: u64) -> Result<&[u8], NodeFileError> {
        self.offset = offset;
        let (_, from, len) = self.record()?;
        let at = (from - self.buf_start) as usize;
        Ok(&self.buf[at..at + len])
    }

    /// Reads the next record in, checked: its address, and where its payload is in the
    /// segment and how long (the buffer holds it).
    fn record(&mut self) -> Result<(RecordAddr, u64, usize), NodeFileError> {
        let addr = RecordAddr {
            segment: self.segment,
            offset: self.offset,
        };
        let corrupt = |path: &Path, reason: String| NodeFileError::Corrupt {
            path: path.to_path_buf(),
            offset: addr.offset,
            reason,
        };
        if self.end - self.offset < RECORD_HEADER_BYTES {
            return Err(corrupt(&self.file.path, "a record header cut short".into()));
        }
        let header = self.bytes(self.offset, RECORD_HEADER_BYTES)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if u64::from(len) > self.end - self.offset - RECORD_HEADER_BYTES {
            let reason = format!("a record of {len} bytes runs past the committed end");
            return Err(corrupt(&self.file.path, reason));
        }
        let from = self.offset + RECORD_HEADER_BYTES;
        let payload = self.bytes(from, u64::from(len))?;
        if checksum(addr, payload) != crc {
            let reason = format!("the record's checksum does not match its {len} bytes");
            return Err(corrupt(&self.file.path, reason));
        }
        self.offset += RECORD_HEADER_BYTES + u64::from(len);
        Ok((addr, from, len as usize))
    }
}

impl Iterator for Scan {
    type Item = Result<(RecordAddr, Vec<u8>), NodeFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
            .map(|r| r.map(|(addr, payload)| (addr, payload.to_vec())))
    }
}

/// Records framed in a buffer of their own, on any thread, before an append places them
/// ([`Append::push_framed`]): their checksums, which cover their addresses, are filled in then.
#[derive(Debug, Default)]
pub struct Framed {
    buf: Vec<u8>,
    /// Where each record's header starts in `buf`.
    starts: Vec<usize>,
}

impl Framed {
    /// An empty batch with room for `records` records of `bytes` bytes in all.
    pub fn with_capacity(records: usize, bytes: usize) -> Self {
        Self::in_buffer(Vec::new(), records, bytes)
    }

    /// [`Framed::with_capacity`] in `buf` (emptied first): a buffer of an earlier batch
    /// ([`NodeFile::spare_buffer`]).
    pub fn in_buffer(mut buf: Vec<u8>, records: usize, bytes: usize) -> Self {
        buf.clear();
        buf.reserve(bytes);
        Self {
            buf,
            starts: Vec::with_capacity(records),
        }
    }

    /// Adds a record whose payload `write` appends to the buffer it is given.
    pub fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), NodeFileError> {
        let start = self.buf.len();
        self.buf
            .extend_from_slice(&[0; RECORD_HEADER_BYTES as usize]);
        write(&mut self.buf);
        let total = self.buf.len() - start - RECORD_HEADER_BYTES as usize;
        let Ok(len) = u32::try_from(total) else {
            self.buf.truncate(start);
            return Err(NodeFileError::TooLarge(format!(
                "a record of {total} bytes"
            )));
        };
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.starts.push(start);
        Ok(())
    }

    /// The records held.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Bytes of the records, headers included.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The records' addresses for the batch placed at `base` in `segment`.
    fn addresses(&self, segment: u32, base: u64) -> Vec<RecordAddr> {
        self.starts
            .iter()
            .map(|&start| RecordAddr {
                segment,
                offset: base + start as u64,
            })
            .collect()
    }

    /// Fills in each record's checksum for the batch placed at `base` in `segment`.
    fn fill_checksums(&mut self, segment: u32, base: u64) {
        let header = RECORD_HEADER_BYTES as usize;
        for &start in &self.starts {
            let addr = RecordAddr {
                segment,
                offset: base + start as u64,
            };
            let len = u32::from_le_bytes([
                self.buf[start],
                self.buf[start + 1],
                self.buf[start + 2],
                self.buf[start + 3],
            ]) as usize;
            let crc = checksum(addr, &self.buf[start + header..start + header + len]);
            self.buf[start + 4..start + header].copy_from_slice(&crc.to_le_bytes());
        }
    }
}

/// One block's records being appended; nothing is visible or kept until [`Append::commit`].
/// Holds the writer's lock: one append at a time.
pub struct Append<'a> {
    file: &'a NodeFile,
    _writer: MutexGuard<'a, Option<End>>,
    segment: u32,
    target: Arc<Segment>,
    /// The segment is created by this append.
    new: bool,
    /// Where this append's records begin.
    start: u64,
    /// Bytes of the segment written so far (committed ones and this append's flushed ones).
    written: u64,
    buf: Vec<u8>,
    /// A sync started before the commit ([`Append::start_sync`]).
    early_sync: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    /// The writes of framed batches under way ([`Append::push_framed`]).
    placing: Vec<std::thread::JoinHandle<Result<(), NodeFileError>>>,
}

impl Drop for Append<'_> {
    /// An append dropped uncommitted still waits for its writes: the next append writes where
    /// this one did.
    fn drop(&mut self) {
        let _ = self.finish_placing();
    }
}

impl Append<'_> {
    /// Appends a record, returning its address (valid once committed).
    pub fn push(&mut self, payload: &[u8]) -> Result<RecordAddr, NodeFileError> {
        self.push_parts(&[payload])
    }

    /// Appends a record whose payload is `parts` one after the other (no copy into one buffer
    /// first), returning its address (valid once committed).
    pub fn push_parts(&mut self, parts: &[&[u8]]) -> Result<RecordAddr, NodeFileError> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(total)
            .map_err(|_| NodeFileError::TooLarge(format!("a record of {total} bytes")))?;
        let offset = self.written + self.buf.len() as u64;
        if offset + RECORD_HEADER_BYTES + u64::from(len) > MAX_SEGMENT_BYTES {
            return Err(NodeFileError::TooLarge(format!(
                "a block's records past the {MAX_SEGMENT_BYTES} bytes a segment can hold"
            )));
        }
        let addr = RecordAddr {
            segment: self.segment,
            offset,
        };
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&addr.to_u64().to_le_bytes());
        for part in parts {
            hasher.update(part);
        }
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(&hasher.finalize().to_le_bytes());
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        if self.buf.len() >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(addr)
    }

    /// Appends the records of `batches` in order and returns their addresses, batch by batch.
    /// Each batch's checksums are filled in and its bytes written on a thread of its own while
    /// the caller goes on pushing (after them); [`Append::start_sync`] and the commit wait for
    /// those writes and fail if one failed.
    pub fn push_framed(
        &mut self,
        batches: Vec<Framed>,
    ) -> Result<Vec<Vec<RecordAddr>>, NodeFileError> {
        // What was pushed before goes first, so the batches' addresses are where they land.
        self.flush()?;
        let mut end = self.written;
        let mut placed = Vec::with_capacity(batches.len());
        for batch in batches {
            let base = end;
            end += batch.bytes() as u64;
            if end > MAX_SEGMENT_BYTES {
                return Err(NodeFileError::TooLarge(format!(
                    "a block's records past the {MAX_SEGMENT_BYTES} bytes a segment can hold"
                )));
            }
            placed.push((batch, base));
        }
        let mut addrs = Vec::with_capacity(placed.len());
        for (mut batch, base) in placed {
            addrs.push(batch.addresses(self.segment, base));
            let (segment, target) = (self.segment, self.target.clone());
            let spare = self.file.spare.clone();
            let writer = std::thread::Builder::new()
                .name("aether-node-append".into())
                .spawn(move || {
                    batch.fill_checksums(segment, base);
                    let written =
                        write_all_at(&target.file, &batch.buf, base).map_err(io(&target.path));
                    let mut spare = spare.lock().unwrap_or_else(|e| e.into_inner());
                    if spare.len() < SPARE_BUFFERS {
                        spare.push(std::mem::take(&mut batch.buf));
                    }
                    written
                })
                .map_err(|e| io_error(&format!("no thread for a node append: {e}")))?;
            self.placing.push(writer);
        }
        self.written = end;
        Ok(addrs)
    }

    /// Waits for the framed batches' writes.
    fn finish_placing(&mut self) -> Result<(), NodeFileError> {
        let mut out = Ok(());
        for writer in self.placing.drain(..) {
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(io_error("a node append thread panicked")));
            if out.is_ok() {
                out = written;
            }
        }
        out
    }

    /// Starts syncing what was pushed so far on another thread, so that the commit's sync has
    /// less left to wait for (the bulk of a block's records, while the caller goes on with the
    /// rest of its append). The commit waits for it and fails if it failed.
    pub fn start_sync(&mut self) -> Result<(), NodeFileError> {
        self.finish_placing()?;
        self.flush()?;
        let target = self.target.clone();
        if self.early_sync.is_none() {
            self.early_sync = std::thread::Builder::new()
                .name("aether-node-sync".into())
                .spawn(move || target.file.sync_data())
                .ok();
        }
        Ok(())
    }

    /// The segment this append writes to.
    pub fn segment(&self) -> u32 {
        self.segment
    }

    /// Bytes this append holds so far, headers included.
    pub fn len(&self) -> u64 {
        self.written + self.buf.len() as u64 - self.start
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn flush(&mut self) -> Result<(), NodeFileError> {
        write_all_at(&self.target.file, &self.buf, self.written).map_err(io(&self.target.path))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes and syncs the records, makes them readable, and returns the end to record.
    pub fn commit(self) -> Result<End, NodeFileError> {
        self.commit_with(|| ()).map(|(end, ())| end)
    }

    /// [`Append::commit`], running `work` on this thread while another waits for the sync:
    /// `work` must not read this append's records (they are readable once this returns).
    pub fn commit_with<R>(mut self, work: impl FnOnce() -> R) -> Result<(End, R), NodeFileError> {
        self.finish_placing()?;
        self.flush()?;
        let file = &self.target.file;
        let early = self.early_sync.take();
        // The sync started early finishes first: an error there fails the commit.
        let sync = move || {
            if let Some(early) = early {
                early
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("the sync thread panicked")))?;
            }
            file.sync_data()
        };
        let (synced, out) = std::thread::scope(|s| {
            match std::thread::Builder::new()
                .name("aether-node-sync".into())
                .spawn_scoped(s, sync)
            {
                Ok(sync) => {
                    let out = work();
                    let synced = sync
                        .join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("the sync thread panicked")));
                    (synced, out)
                }
                // The early sync's handle went with the closure: its result is not to be had.
                Err(e) => (
                    Err(std::io::Error::other(format!(
                        "no thread to sync the node file: {e}"
                    ))),
                    work(),
                ),
            }
        });
        synced.map_err(io(&self.target.path))?;
        if self.new {
            // The new segment's directory entry, before anything refers to its records.
            sync_dir(&self.file.dir)?;
            self.file
                .segments
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(self.segment, self.target.clone());
        }
        self.target.committed.store(self.written, Ordering::Release);
        let end = End {
            segment: self.segment,
            len: self.written,
        };
        *self._writer = Some(end);
        Ok((end, out))
    }
}

/// CRC-32 of the record's address and payload: a record read at another address (a damaged
/// parent's pointer landing on a valid record) does not check.
fn checksum(addr: RecordAddr, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&addr.to_u64().to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

fn io_error(what: &str) -> NodeFileError {
    NodeFileError::Io {
        path: PathBuf::new(),
        source: std::io::Error::other(what.to_string()),
    }
}

fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:08}{SUFFIX}"))
}

/// The segment files in `dir`, by index.
fn segment_files(dir: &Path) -> Result<BTreeMap<u32, PathBuf>, NodeFileError> {
    let mut found = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
            continue;
        };
        if stem.len() == 8
            && stem.bytes().all(|b| b.is_ascii_digit())
            && let Ok(index) = stem.parse::<u32>()
        {
            found.insert(index, entry.path());
        }
    }
    Ok(found)
}

fn sync_dir(dir: &Path) -> Result<(), NodeFileError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NodeFileError {
    let path = path.to_path_buf();
    move |source| NodeFileError::Io { path, source }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => {
                buf = &buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
