//! Accounts read at the head, kept until the head moves: the RPC's balance and nonce reads
//! (wallets and dapps ask for the same few accounts again and again) are answered without a
//! ParityDB read. Bounded: when full, the cache starts again empty.

use std::collections::HashMap;
use std::sync::RwLock;

use aether_engine::types::{Account, Address};

/// Accounts cached at most (about 100 bytes each).
pub const MAX_HEAD_ACCOUNTS: usize = 4_096;

/// The accounts read at one height.
#[derive(Default)]
pub struct HeadAccounts {
    at: RwLock<Cached>,
}

#[derive(Default)]
struct Cached {
    /// The height the accounts were read at.
    height: Option<u64>,
    accounts: HashMap<Address, Option<Account>>,
}

impl HeadAccounts {
    /// The account `address` as read at `height` (`Some(None)`: read, and absent), if cached.
    pub fn get(&self, height: Option<u64>, address: &Address) -> Option<Option<Account>> {
        let cached = self.at.read().unwrap_or_else(|p| p.into_inner());
        if cached.height != height {
            return None;
        }
        cached.accounts.get(address).cloned()
    }

    /// Keeps `account`, read at `height`. A read at an older height than the cache's is not
    /// kept; one at a newer height starts the cache again.
    pub fn insert(&self, height: Option<u64>, address: Address, account: Option<Account>) {
        let mut cached = self.at.write().unwrap_or_else(|p| p.into_inner());
        if cached.height != height {
            if cached.height > height {
                return;
            }
            cached.height = height;
            cached.accounts.clear();
        }
        if cached.accounts.len() >= MAX_HEAD_ACCOUNTS {
            cached.accounts.clear();
        }
        cached.accounts.insert(address, account);
    }

    /// Accounts cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.at
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .accounts
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(balance: u128) -> Option<Account> {
        Some(Account::with_balance(balance))
    }

    #[test]
    fn an_account_is_answered_only_at_the_height_it_was_read_at() {
        let cache = HeadAccounts::default();
        let a = Address([1; 32]);
        cache.insert(Some(5), a, account(10));
        assert_eq!(cache.get(Some(5), &a), Some(account(10)));
        assert_eq!(cache.get(Some(6), &a), None, "a newer head reads again");
        assert_eq!(cache.get(Some(4), &a), None);
        assert_eq!(cache.get(Some(5), &Address([2; 32])), None);
        cache.insert(Some(5), Address([2; 32]), None);
        assert_eq!(
            cache.get(Some(5), &Address([2; 32])),
            Some(None),
            "absence is kept too"
        );
    }

    #[test]
    fn a_newer_head_starts_the_cache_again_and_an_older_read_is_not_kept() {
        let cache = HeadAccounts::default();
        let a = Address([1; 32]);
        cache.insert(Some(5), a, account(10));
        cache.insert(Some(6), Address([2; 32]), account(20));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(Some(6), &a), None);
        cache.insert(Some(5), a, account(10));
        assert_eq!(
            cache.get(Some(5), &a),
            None,
            "a read from before the head moved"
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_holds_at_most_its_bound() {
        let cache = HeadAccounts::default();
        for i in 0..(MAX_HEAD_ACCOUNTS as u32 * 2 + 7) {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            cache.insert(Some(1), Address(bytes), None);
            assert!(cache.len() <= MAX_HEAD_ACCOUNTS);
        }
    }
}
