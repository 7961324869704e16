//! The blocks of the layout-3 fixture (`storage/tests/fixtures/layout-3`), written by the build
//! of commit 31538c5 (the last that wrote leaf values into `tree_values`).

use aether_engine::state::ChangeSet;
use aether_engine::types::{Account, Address};

/// The fixture's contract.
pub const CONTRACT: Address = Address([0xc0; 32]);

/// The state changes of fixture block `h` (0 to 7): 40 accounts and 60 storage entries funded
/// or set at 0, then some accounts changed, entries set and removed (some removed entries set
/// again later) in each block.
pub fn legacy_block(h: u8) -> ChangeSet {
    let mut c = ChangeSet::default();
    if h == 0 {
        for i in 0..40u8 {
            c.accounts.insert(
                Address([i; 32]),
                Account::with_balance(1_000 + u128::from(i)),
            );
        }
        for k in 0..60u8 {
            c.storage.insert((CONTRACT, vec![k]), Some(vec![0, k]));
        }
        return c;
    }
    for j in 0..10u8 {
        let i = (h * 5 + j) % 40;
        c.accounts.insert(
            Address([i; 32]),
            Account::with_balance(u128::from(h) * 100 + u128::from(j)),
        );
    }
    for j in 0..3u8 {
        c.storage.insert((CONTRACT, vec![(h * 11 + j) % 60]), None);
    }
    for j in 0..8u8 {
        c.storage
            .insert((CONTRACT, vec![(h * 7 + j) % 60]), Some(vec![h, j]));
    }
    c
}
