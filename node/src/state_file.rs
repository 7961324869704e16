//! The sandbox state file: `AETHSTATE1` followed by the SCALE-encoded [`MemoryState`].
//! Written to a temporary file and renamed, so a crash never leaves a half-written state.

use std::path::Path;

use aether_engine::memory::MemoryState;
use anyhow::{Context, bail};
use parity_scale_codec::Encode;

const MAGIC: &[u8] = b"AETHSTATE1";

/// Loads the state at `path`, or an empty state if the file does not exist.
pub fn load(path: &Path) -> anyhow::Result<MemoryState> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(MemoryState::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read state file {}", path.display()));
        }
    };
    let Some(body) = bytes.strip_prefix(MAGIC) else {
        bail!(
            "{} is not an aether state file (bad header)",
            path.display()
        );
    };
    MemoryState::decode_all(body)
        .with_context(|| format!("state file {} is corrupt", path.display()))
}

/// Writes `state` to `path` atomically.
pub fn save(path: &Path, state: &MemoryState) -> anyhow::Result<()> {
    let mut bytes = MAGIC.to_vec();
    state.encode_to(&mut bytes);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
