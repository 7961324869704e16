//! [`StateView`]: the state at one height, as the engine reads it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aether_engine::ports::{BlockCommitter, ExecutedBlock, StateReader, StateRoot, StoreError};
use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address, Hash};

use crate::error::{Result, StorageError};
use crate::state_key::{StateKey, decode_account, decode_leaf};
use crate::store::{Inner, Store};

/// The state after the block at `height` (or the empty state before the first block). Reads
/// do not change while later blocks commit, as long as the height stays within the history
/// window; once pruned, reads fail with [`StorageError::Unavailable`].
#[derive(Clone)]
pub struct StateView {
    inner: Arc<Inner>,
    height: Option<u64>,
}

impl Store {
    /// The state at the head (the empty state if nothing is committed).
    pub fn state(&self) -> StateView {
        StateView {
            inner: self.inner.clone(),
            height: self.inner.head_height(),
        }
    }

    /// The state after the block at `height`, if it is kept.
    pub fn state_at(&self, height: u64) -> Result<StateView> {
        let view = StateView {
            inner: self.inner.clone(),
            height: Some(height),
        };
        view.check()?;
        Ok(view)
    }
}

impl StateView {
    /// A view at `height`, unchecked (reads check it).
    pub(crate) fn pinned(inner: Arc<Inner>, height: Option<u64>) -> Self {
        Self { inner, height }
    }

    /// The height this view reads at (`None`: before the first block).
    pub fn height(&self) -> Option<u64> {
        self.height
    }

    /// The value of a state entry (account encoding, code, or storage bytes).
    pub fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>> {
        let Some(height) = self.height else {
            return Ok(None);
        };
        self.check()?;
        let value = match self.inner.latest(key)? {
            None => None,
            Some((version, value)) if version <= height => value,
            Some(_) => {
                let found = self.inner.db.value_at(&key.key_hash(), height);
                // A prune that overtook the walk may have removed a node it needed.
                self.check()?;
                match found? {
                    None => None,
                    Some(leaf) => Some(
                        decode_leaf(&leaf)
                            .map_err(|e| self.inner.db.corrupt(format!("tree leaf of {key:?}"), e))?
                            .1,
                    ),
                }
            }
        };
        // A prune that overtook this read may have removed what it looked at.
        self.check()?;
        Ok(value)
    }

    /// The version and presence of `key`'s latest-column entry (see `Inner::latest_entry`).
    pub(crate) fn latest_entry(&self, key: &StateKey) -> Result<crate::latest_memo::LatestEntry> {
        self.inner.latest_entry(key)
    }

    /// [`StateView::latest_entry`] if a read since the last commit recorded it (no database
    /// read).
    pub(crate) fn recorded_latest_entry(
        &self,
        key: &StateKey,
    ) -> Option<crate::latest_memo::LatestEntry> {
        self.inner.recorded_latest_entry(key)
    }

    fn check(&self) -> Result<()> {
        let Some(height) = self.height else {
            return Ok(());
        };
        let head = self.inner.head_height();
        if head.is_none_or(|head| height > head)
            || height < self.inner.oldest.load(Ordering::Acquire)
        {
            return Err(StorageError::Unavailable(height));
        }
        Ok(())
    }
}

/// An account's stored bytes, decoded.
pub(crate) fn account_from(bytes: Option<Vec<u8>>) -> Result<Option<Account>, StoreError> {
    match bytes {
        None => Ok(None),
        Some(bytes) => decode_account(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                what: "account",
                reason: e.to_string(),
            }),
    }
}

impl StateReader for StateView {
    fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        account_from(self.get(&StateKey::Account(*address))?)
    }

    fn code(&self, hash: &Hash) -> Result<Option<Arc<[u8]>>, StoreError> {
        Ok(self.get(&StateKey::Code(*hash))?.map(Arc::from))
    }

    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(&StateKey::Storage(*contract, key.to_vec()))?)
    }
}

impl StateRoot for StateView {
    /// Only the head view can say what the next root is.
    fn root_after(&self, changes: &ChangeSet) -> Result<Hash, StoreError> {
        let head = self.inner.head_height();
        if head != self.height {
            return Err(StoreError::Backend(format!(
                "the state root after a block can only be computed on the head (head {head:?}, view {:?})",
                self.height
            )));
        }
        Ok(Store {
            inner: self.inner.clone(),
        }
        .root_after(changes)?)
    }
}

impl BlockCommitter for Store {
    fn commit_block(&self, executed: &ExecutedBlock) -> Result<(), StoreError> {
        Ok(self.commit(executed)?)
    }
}
