//! A fungible token with allowances (the ERC-20 shape): `transfer`, `approve`,
//! `transfer_from`, `balance_of`, `allowance`, `total_supply`, with `Transfer` and `Approval`
//! events. The whole supply is minted to the deployer by the constructor.

#![cfg_attr(target_arch = "wasm32", no_std)]

#[aether_contracts_sdk::contract]
pub mod token {
    use aether_contracts_sdk::prelude::*;

    #[storage]
    pub struct Token {
        total_supply: Lazy<u128>,
        balances: Mapping<Address, u128>,
        allowances: Mapping<(Address, Address), u128>,
    }

    /// `value` moved from `from` to `to` (from the zero address when minted).
    #[event]
    pub struct Transfer {
        #[topic]
        pub from: Address,
        #[topic]
        pub to: Address,
        pub value: u128,
    }

    /// `owner` allowed `spender` to move up to `value` of its tokens.
    #[event]
    pub struct Approval {
        #[topic]
        pub owner: Address,
        #[topic]
        pub spender: Address,
        pub value: u128,
    }

    #[error]
    pub enum Error {
        /// The sender's balance is lower than the amount.
        InsufficientBalance,
        /// The spender's allowance is lower than the amount.
        InsufficientAllowance,
    }

    impl Token {
        /// Mints `supply` to the deployer.
        #[constructor]
        pub fn new(&mut self, supply: u128) {
            let owner = env::caller();
            self.total_supply.set(&supply);
            self.balances.insert(&owner, &supply);
            emit(&Transfer {
                from: Address::default(),
                to: owner,
                value: supply,
            });
        }

        /// All tokens in existence.
        #[message]
        pub fn total_supply(&self) -> u128 {
            self.total_supply.get_or_default()
        }

        /// The balance of `owner`.
        #[message]
        pub fn balance_of(&self, owner: Address) -> u128 {
            self.balances.get_or_default(&owner)
        }

        /// How much `spender` may still move from `owner`.
        #[message]
        pub fn allowance(&self, owner: Address, spender: Address) -> u128 {
            self.allowances.get_or_default(&(owner, spender))
        }

        /// Moves `value` from the caller to `to`.
        #[message]
        pub fn transfer(&mut self, to: Address, value: u128) -> Result<(), Error> {
            self.move_tokens(env::caller(), to, value)
        }

        /// Lets `spender` move up to `value` of the caller's tokens (replacing any earlier
        /// allowance).
        #[message]
        pub fn approve(&mut self, spender: Address, value: u128) {
            let owner = env::caller();
            self.allowances.insert(&(owner, spender), &value);
            emit(&Approval {
                owner,
                spender,
                value,
            });
        }

        /// Moves `value` from `from` to `to` using the caller's allowance from `from`.
        #[message]
        pub fn transfer_from(
            &mut self,
            from: Address,
            to: Address,
            value: u128,
        ) -> Result<(), Error> {
            let key = (from, env::caller());
            let allowed = self.allowances.get_or_default(&key);
            let left = allowed
                .checked_sub(value)
                .ok_or(Error::InsufficientAllowance)?;
            self.allowances.insert(&key, &left);
            self.move_tokens(from, to, value)
        }

        fn move_tokens(&mut self, from: Address, to: Address, value: u128) -> Result<(), Error> {
            let from_balance = self.balances.get_or_default(&from);
            let left = from_balance
                .checked_sub(value)
                .ok_or(Error::InsufficientBalance)?;
            self.balances.insert(&from, &left);
            // Cannot overflow: the sum of all balances is the total supply, a u128.
            let to_balance = self.balances.get_or_default(&to);
            self.balances.insert(&to, &to_balance.wrapping_add(value));
            emit(&Transfer { from, to, value });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token::{Approval, Error, Transfer};
    use aether_contracts_testing::*;

    const DIR: &str = env!("CARGO_MANIFEST_DIR");
    const SUPPLY: u128 = 1_000_000;

    fn setup() -> (TestEnv, Address) {
        let mut env = TestEnv::new();
        let token = env.deploy(ALICE, DIR, &(SUPPLY,)).unwrap();
        (env, token)
    }

    fn balance(env: &TestEnv, token: Address, who: Address) -> u128 {
        env.query(ALICE, token, "balance_of", &(who,)).decode()
    }

    #[test]
    fn the_built_module_fits_in_10_kib() {
        let size = TestEnv::build(DIR).wasm.len();
        assert!(size <= 10 * 1024, "token.wasm is {size} bytes");
    }

    #[test]
    fn constructor_mints_the_supply_to_the_deployer() {
        let (env, token) = setup();
        assert_eq!(balance(&env, token, ALICE), SUPPLY);
        assert_eq!(
            env.query(BOB, token, "total_supply", &()).decode::<u128>(),
            SUPPLY
        );
    }

    #[test]
    fn transfer_moves_balance_and_emits_transfer() {
        let (mut env, token) = setup();
        let r = env.call(ALICE, token, "transfer", &(BOB, 250u128));
        assert!(r.is_success(), "{r:?}");
        assert_eq!(
            r.events_of::<Transfer>(),
            vec![Transfer {
                from: ALICE,
                to: BOB,
                value: 250
            }]
        );
        // Topics: the signature, then `from` and `to`.
        assert_eq!(r.events[0].topics[1], ALICE.0);
        assert_eq!(r.events[0].topics[2], BOB.0);
        assert_eq!(balance(&env, token, ALICE), SUPPLY - 250);
        assert_eq!(balance(&env, token, BOB), 250);
    }

    #[test]
    fn insufficient_balance_reverts_and_changes_nothing() {
        let (mut env, token) = setup();
        let r = env.call(BOB, token, "transfer", &(CHARLIE, 1u128));
        assert_eq!(r.status, Status::Revert);
        assert_eq!(
            r.contract_error::<Error>(),
            Some(Error::InsufficientBalance)
        );
        assert!(r.events.is_empty());
        assert_eq!(balance(&env, token, BOB), 0);
        assert_eq!(balance(&env, token, CHARLIE), 0);
    }

    #[test]
    fn transfer_from_spends_the_allowance() {
        let (mut env, token) = setup();
        let r = env.call(ALICE, token, "approve", &(BOB, 100u128));
        assert_eq!(
            r.events_of::<Approval>(),
            vec![Approval {
                owner: ALICE,
                spender: BOB,
                value: 100
            }]
        );
        let r = env.call(BOB, token, "transfer_from", &(ALICE, CHARLIE, 60u128));
        assert!(r.is_success(), "{r:?}");
        assert_eq!(balance(&env, token, CHARLIE), 60);
        let left: u128 = env.query(BOB, token, "allowance", &(ALICE, BOB)).decode();
        assert_eq!(left, 40);
        let r = env.call(BOB, token, "transfer_from", &(ALICE, CHARLIE, 41u128));
        assert_eq!(
            r.contract_error::<Error>(),
            Some(Error::InsufficientAllowance)
        );
        assert_eq!(balance(&env, token, CHARLIE), 60);
    }

    #[test]
    fn query_gas_equals_the_gas_a_call_is_charged() {
        let (mut env, token) = setup();
        let q = env.query(ALICE, token, "transfer", &(BOB, 5u128));
        let r = env.call(ALICE, token, "transfer", &(BOB, 5u128));
        assert!(r.is_success());
        assert_eq!(q.gas_used, r.gas_used);
        assert_eq!(q.events, r.events);
    }
}
