//! [`DurableRecord`]: one small record that must survive a crash or power loss the moment a
//! write returns: consensus safety data (the last round voted in, the locked round), which has
//! to be on disk before a vote leaves the node, or a restarted validator could vote twice in a
//! round. ParityDB's commit does not give that (its log is synced by a background thread), so
//! the record lives in its own file.
//!
//! A write goes to `<file>.tmp`, is fsync'd, renamed over the file, and the directory is
//! fsync'd: a crash at any point leaves either the old record or the new one, whole. The file
//! carries a magic, the length and a SHA-256 of the payload; a damaged file is an error naming
//! it, never an empty record (forgetting safety data is how a validator equivocates).
//!
//! One writer only: [`DurableRecord::open`] takes an exclusive lock on `<file>.lock` for as
//! long as the handle lives (a second node on the same directory is refused), and
//! [`DurableRecord::store`] takes `&mut self`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"AETHREC1";
/// Largest payload accepted (a safety record is tens of bytes; this bounds what a damaged
/// length field can make the reader expect).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file exists but is not a whole record.
    #[error("{path}: damaged record ({reason}); restore it from a backup, do not delete it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The payload is larger than [`MAX_RECORD_BYTES`].
    #[error("record of {0} bytes is larger than the {MAX_RECORD_BYTES} allowed")]
    TooLarge(usize),
    /// Another handle (in this process or another one) holds the record.
    #[error("{path} is in use by another process (its lock file is held)")]
    InUse {
        /// The record.
        path: PathBuf,
    },
}

/// A record in one file, replaced atomically and durably; the only writer while it lives.
#[derive(Debug)]
pub struct DurableRecord {
    path: PathBuf,
    /// Held open (and locked) for the handle's lifetime.
    _lock: File,
}

impl DurableRecord {
    /// The record at `path` (the file need not exist yet; its directory must), locked for this
    /// handle: another open of the same record fails with [`DurableError::InUse`] until this
    /// one is dropped (or its process dies).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, DurableError> {
        let path = path.into();
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = path.with_file_name(name);
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|source| DurableError::Io {
                path: lock_path.clone(),
                source,
            })?;
        match lock.try_lock() {
            Ok(()) => Ok(Self { path, _lock: lock }),
            Err(std::fs::TryLockError::WouldBlock) => Err(DurableError::InUse { path }),
            Err(std::fs::TryLockError::Error(source)) => Err(DurableError::Io {
                path: lock_path,
                source,
            }),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tmp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        self.path.with_file_name(name)
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> DurableError {
        let path = path.to_path_buf();
        move |source| DurableError::Io { path, source }
    }

    /// The stored payload, or `None` if nothing was ever stored. A leftover `.tmp` file (a
    /// write cut short) is ignored: the record is the last write that completed.
    pub fn load(&self) -> Result<Option<Vec<u8>>, DurableError> {
        // The size first: a damaged or foreign file must not make us read gigabytes.
        match fs::metadata(&self.path) {
            Ok(m) if m.len() > (MAX_RECORD_BYTES + MAGIC.len() + 4 + 32) as u64 => {
                return Err(DurableError::Corrupt {
                    path: self.path.clone(),
                    reason: format!("{} bytes, larger than any record", m.len()),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&self.path)(e)),
        }
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&self.path)(e)),
        };
        let corrupt = |reason: String| DurableError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let header = MAGIC.len() + 4;
        if bytes.len() < header + 32 {
            return Err(corrupt(format!(
                "{} bytes, shorter than any record",
                bytes.len()
            )));
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt("not a record file (bad magic)".into()));
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&bytes[MAGIC.len()..header]);
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_RECORD_BYTES || bytes.len() != header + len + 32 {
            return Err(corrupt(format!(
                "length field says {len} bytes, the file holds {}",
                bytes.len().saturating_sub(header + 32)
            )));
        }
        let payload = &bytes[header..header + len];
        if Sha256::digest(payload).as_slice() != &bytes[header + len..] {
            return Err(corrupt("checksum mismatch".into()));
        }
        Ok(Some(payload.to_vec()))
    }

    /// Replaces the record with `payload`; when this returns, it survives a crash.
    pub fn store(&mut self, payload: &[u8]) -> Result<(), DurableError> {
        if payload.len() > MAX_RECORD_BYTES {
            return Err(DurableError::TooLarge(payload.len()));
        }
        let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + payload.len() + 32);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(&Sha256::digest(payload));

        let tmp = self.tmp_path();
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(self.io(&tmp))?;
        file.write_all(&bytes).map_err(self.io(&tmp))?;
        file.sync_all().map_err(self.io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(self.io(&self.path))?;
        self.sync_dir()
    }

    /// Makes the rename durable: on Unix a directory entry is durable only once the directory
    /// is fsync'd. (Elsewhere a directory cannot be opened for that; the rename is what the
    /// platform offers.)
    fn sync_dir(&self) -> Result<(), DurableError> {
        #[cfg(unix)]
        {
            let dir = match self.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(self.io(dir))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_record_reads_back_and_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = DurableRecord::open(dir.path().join("safety")).unwrap();
        assert_eq!(record.load().unwrap(), None);
        record.store(b"round 7").unwrap();
        assert_eq!(record.load().unwrap().as_deref(), Some(&b"round 7"[..]));
        record.store(b"round 8, locked 6").unwrap();
        assert_eq!(
            record.load().unwrap().as_deref(),
            Some(&b"round 8, locked 6"[..])
        );
        record.store(b"").unwrap();
        assert_eq!(record.load().unwrap().as_deref(), Some(&b""[..]));
        assert!(!record.tmp_path().exists());
    }

    #[test]
    fn a_write_cut_short_leaves_the_previous_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = DurableRecord::open(dir.path().join("safety")).unwrap();
        record.store(b"round 7").unwrap();
        // A crash between writing the temporary file and the rename.
        fs::write(record.tmp_path(), b"AETHREC1 half a rec").unwrap();
        assert_eq!(record.load().unwrap().as_deref(), Some(&b"round 7"[..]));
        record.store(b"round 8").unwrap();
        assert_eq!(record.load().unwrap().as_deref(), Some(&b"round 8"[..]));
    }

    #[test]
    fn any_damage_is_an_error_naming_the_file_never_an_empty_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safety");
        let mut record = DurableRecord::open(&path).unwrap();
        record.store(b"last voted round 42").unwrap();
        let good = fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            fs::write(&path, &bad).unwrap();
            let err = record.load().unwrap_err();
            assert!(
                matches!(err, DurableError::Corrupt { .. }),
                "byte {i}: {err}"
            );
            assert!(err.to_string().contains("safety"), "{err}");
        }
        for len in [0, 5, good.len() - 1] {
            fs::write(&path, &good[..len]).unwrap();
            assert!(matches!(record.load(), Err(DurableError::Corrupt { .. })));
        }
        let mut longer = good.clone();
        longer.push(0);
        fs::write(&path, &longer).unwrap();
        assert!(matches!(record.load(), Err(DurableError::Corrupt { .. })));
    }

    #[test]
    fn a_second_handle_on_the_same_record_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safety");
        let first = DurableRecord::open(&path).unwrap();
        assert!(matches!(
            DurableRecord::open(&path),
            Err(DurableError::InUse { .. })
        ));
        drop(first);
        DurableRecord::open(&path).unwrap();
    }

    #[test]
    fn a_file_too_large_to_be_a_record_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safety");
        let record = DurableRecord::open(&path).unwrap();
        let f = File::create(&path).unwrap();
        f.set_len(64 << 20).unwrap();
        assert!(matches!(record.load(), Err(DurableError::Corrupt { .. })));
    }

    #[test]
    fn oversized_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = DurableRecord::open(dir.path().join("safety")).unwrap();
        assert!(matches!(
            record.store(&vec![0; MAX_RECORD_BYTES + 1]),
            Err(DurableError::TooLarge(_))
        ));
    }
}
