//! The validator's safety record on disk: the consensus signer's storage port
//! ([`aether_consensus::signer::SafetyStorage`]) over an fsync'd
//! [`aether_storage::durable::DurableRecord`] in its own file, not in ParityDB (whose commit is
//! not durable on return). A store returns only once the record would survive a crash.

use std::path::Path;

use aether_consensus::signer::SafetyStorage;
use aether_storage::durable::{DurableError, DurableRecord};

/// The safety record of a validator, at `<base path>/consensus/safety`.
pub struct DurableSafety(DurableRecord);

impl DurableSafety {
    /// Opens (or prepares) the record in `dir`, taking its single-writer lock.
    pub fn open(dir: &Path) -> Result<Self, DurableError> {
        Ok(Self(DurableRecord::open(dir.join("safety"))?))
    }
}

impl SafetyStorage for DurableSafety {
    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        self.0.load().map_err(|e| e.to_string())
    }

    fn store(&mut self, record: &[u8]) -> Result<(), String> {
        self.0.store(record).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use aether_consensus::bls::BlsSecretKey;
    use aether_consensus::signer::{OpenError, SafetySigner, WhenMissing};

    use super::*;

    fn signer(dir: &Path, past_genesis: bool) -> Result<SafetySigner<DurableSafety>, OpenError> {
        SafetySigner::open(
            BlsSecretKey::from_seed(&[1; 32]).unwrap(),
            0,
            1,
            DurableSafety::open(dir).unwrap(),
            past_genesis,
            WhenMissing::FreshAtGenesis,
        )
    }

    #[test]
    fn the_signer_resumes_from_its_file_and_refuses_a_damaged_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = signer(dir.path(), false).unwrap();
        s.sign_proposal(3, [7; 32]).unwrap();
        drop(s);
        // Reopened past genesis: the record exists, so it starts.
        assert!(signer(dir.path(), true).is_ok());
        // A damaged file is an error naming what is wrong, never a fresh start.
        let file = dir.path().join("safety");
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&file, bytes).unwrap();
        assert!(matches!(
            signer(dir.path(), true),
            Err(OpenError::Damaged(_))
        ));
        // A validator whose record is gone while the chain moved on does not start.
        std::fs::remove_file(&file).unwrap();
        assert_eq!(signer(dir.path(), true).err(), Some(OpenError::Missing));
    }
}
