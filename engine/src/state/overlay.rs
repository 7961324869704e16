//! [`Overlay`]: a journaled, checkpointed write layer over a read-only [`StateReader`].
//!
//! Every write records the previous value in a journal. A [`Checkpoint`] is a position in the
//! journal; reverting to it undoes exactly the writes (accounts, storage, code, events) made
//! since, which is how a failed call frame rolls back its own changes and only those.

use std::sync::Arc;

use crate::ports::{StateReader, StoreError};
use crate::state::ChangeSet;
use crate::types::{Account, Address, Event, Hash};

type StorageKey = (Address, Vec<u8>);
/// Fast non-cryptographic hashing: keys are addresses and contract-chosen bytes, and iteration
/// order never reaches a result ([`Overlay::changes`] sorts).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

enum Entry {
    /// The account's overlay entry before the write (`None`: not in the overlay).
    Account(Address, Option<Account>),
    /// The storage overlay entry before the write (`None`: not in the overlay).
    Storage(StorageKey, Option<Option<Vec<u8>>>),
    /// Code added to the overlay.
    Code(Hash),
}

/// A position to which the overlay can be rolled back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    journal: usize,
    events: usize,
}

/// Journaled state over a committed snapshot.
pub struct Overlay {
    backend: Arc<dyn StateReader>,
    accounts: HashMap<Address, Account>,
    storage: HashMap<StorageKey, Option<Vec<u8>>>,
    code: HashMap<Hash, Arc<[u8]>>,
    journal: Vec<Entry>,
    events: Vec<Event>,
}

impl Overlay {
    /// An empty overlay over `backend`.
    pub fn new(backend: Arc<dyn StateReader>) -> Self {
        Self {
            backend,
            accounts: HashMap::default(),
            storage: HashMap::default(),
            code: HashMap::default(),
            journal: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The committed state under the overlay.
    pub fn backend(&self) -> &Arc<dyn StateReader> {
        &self.backend
    }

    /// The account at `address` (`None` if it does not exist).
    pub fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        match self.accounts.get(address) {
            Some(a) => Ok(Some(a.clone())),
            None => self.backend.account(address),
        }
    }

    /// The account at `address`, or an empty one.
    pub fn account_or_default(&self, address: &Address) -> Result<Account, StoreError> {
        Ok(self.account(address)?.unwrap_or_default())
    }

    /// Balance of `address` (0 if absent).
    pub fn balance(&self, address: &Address) -> Result<u128, StoreError> {
        Ok(self.account(address)?.map_or(0, |a| a.balance))
    }

    /// Writes an account.
    pub fn set_account(&mut self, address: Address, account: Account) {
        let prev = self.accounts.insert(address, account);
        self.journal.push(Entry::Account(address, prev));
    }

    /// Moves `amount` from `from` to `to`. Returns `Ok(false)` (and changes nothing) if `from`
    /// cannot pay.
    pub fn transfer(
        &mut self,
        from: &Address,
        to: &Address,
        amount: u128,
    ) -> Result<bool, StoreError> {
        if amount == 0 {
            return Ok(true);
        }
        let mut src = self.account_or_default(from)?;
        if src.balance < amount {
            return Ok(false);
        }
        if from == to {
            return Ok(true);
        }
        let mut dst = self.account_or_default(to)?;
        let Some(new_dst) = dst.balance.checked_add(amount) else {
            return Ok(false);
        };
        src.balance -= amount;
        dst.balance = new_dst;
        self.set_account(*from, src);
        self.set_account(*to, dst);
        Ok(true)
    }

    /// The code with hash `hash`.
    pub fn code(&self, hash: &Hash) -> Result<Option<Arc<[u8]>>, StoreError> {
        match self.code.get(hash) {
            Some(c) => Ok(Some(c.clone())),
            None => self.backend.code(hash),
        }
    }

    /// Stores code under its hash (a no-op if already present in the overlay).
    pub fn put_code(&mut self, hash: Hash, code: Arc<[u8]>) {
        if self.code.insert(hash, code).is_none() {
            self.journal.push(Entry::Code(hash));
        }
    }

    /// A storage value of `contract`.
    pub fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        // Avoid building an owned key for the common miss path of a small overlay.
        match self.storage.get(&(*contract, key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => self.backend.storage(contract, key),
        }
    }

    /// Length of a storage value, without cloning it.
    pub fn storage_len(&self, contract: &Address, key: &[u8]) -> Result<Option<usize>, StoreError> {
        match self.storage.get(&(*contract, key.to_vec())) {
            Some(v) => Ok(v.as_ref().map(Vec::len)),
            None => Ok(self.backend.storage(contract, key)?.map(|v| v.len())),
        }
    }

    /// Sets (`Some`) or removes (`None`) a storage value.
    pub fn set_storage(&mut self, contract: Address, key: Vec<u8>, value: Option<Vec<u8>>) {
        let k = (contract, key);
        let prev = self.storage.insert(k.clone(), value);
        self.journal.push(Entry::Storage(k, prev));
    }

    /// Records an event.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Events recorded since the last [`Overlay::take_events`].
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the recorded events.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The current position.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            journal: self.journal.len(),
            events: self.events.len(),
        }
    }

    /// Undoes every change made after `cp`.
    pub fn revert_to(&mut self, cp: Checkpoint) {
        while self.journal.len() > cp.journal {
            match self.journal.pop() {
                Some(Entry::Account(addr, prev)) => match prev {
                    Some(a) => {
                        self.accounts.insert(addr, a);
                    }
                    None => {
                        self.accounts.remove(&addr);
                    }
                },
                Some(Entry::Storage(key, prev)) => match prev {
                    Some(v) => {
                        self.storage.insert(key, v);
                    }
                    None => {
                        self.storage.remove(&key);
                    }
                },
                Some(Entry::Code(hash)) => {
                    self.code.remove(&hash);
                }
                None => break,
            }
        }
        self.events.truncate(cp.events);
    }

    /// Forgets the journal: changes so far can no longer be reverted (end of a transaction).
    pub fn seal(&mut self) {
        self.journal.clear();
    }

    /// All writes, in canonical order.
    pub fn changes(&self) -> ChangeSet {
        ChangeSet {
            accounts: self.accounts.iter().map(|(k, v)| (*k, v.clone())).collect(),
            code: self.code.iter().map(|(k, v)| (*k, v.to_vec())).collect(),
            storage: self
                .storage
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}
