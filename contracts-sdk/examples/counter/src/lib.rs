//! A counter: the smallest useful contract. Anyone may increment it by a step; the owner set at
//! construction may reset it. Shows storage, a constructor, read-only and mutating messages,
//! an error and an event.

#![cfg_attr(target_arch = "wasm32", no_std)]

#[aether_contracts_sdk::contract]
pub mod counter {
    use aether_contracts_sdk::prelude::*;

    #[storage]
    pub struct Counter {
        value: Lazy<u64>,
        owner: Lazy<Address>,
    }

    /// The counter changed.
    #[event]
    pub struct Changed {
        #[topic]
        pub by: Address,
        pub value: u64,
    }

    #[error]
    pub enum Error {
        /// Incrementing would overflow u64.
        Overflow,
        /// Only the owner may reset.
        NotOwner,
    }

    impl Counter {
        /// Starts at `start`, owned by the deployer.
        #[constructor]
        pub fn new(&mut self, start: u64) {
            self.value.set(&start);
            self.owner.set(&env::caller());
        }

        /// Adds `step`; returns the new value.
        #[message]
        pub fn increment(&mut self, step: u64) -> Result<u64, Error> {
            let value = self
                .value
                .get_or_default()
                .checked_add(step)
                .ok_or(Error::Overflow)?;
            self.value.set(&value);
            emit(&Changed {
                by: env::caller(),
                value,
            });
            Ok(value)
        }

        /// The current value.
        #[message]
        pub fn get(&self) -> u64 {
            self.value.get_or_default()
        }

        /// Sets the value back to 0 (owner only).
        #[message]
        pub fn reset(&mut self) -> Result<(), Error> {
            if self.owner.get() != Some(env::caller()) {
                return Err(Error::NotOwner);
            }
            self.value.set(&0);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::counter::{Changed, Error};
    use aether_contracts_testing::*;

    const DIR: &str = env!("CARGO_MANIFEST_DIR");

    #[test]
    fn increments_from_the_constructor_value_and_emits_changed() {
        let mut env = TestEnv::new();
        let c = env.deploy(ALICE, DIR, &(40u64,)).unwrap();
        let r = env.call(BOB, c, "increment", &(2u64,));
        assert_eq!(r.decode::<u64>(), 42);
        assert_eq!(
            r.events_of::<Changed>(),
            vec![Changed { by: BOB, value: 42 }]
        );
        assert_eq!(env.query(ALICE, c, "get", &()).decode::<u64>(), 42);
    }

    #[test]
    fn overflow_reverts_with_the_error_and_keeps_the_value() {
        let mut env = TestEnv::new();
        let c = env.deploy(ALICE, DIR, &(u64::MAX - 1,)).unwrap();
        let r = env.call(BOB, c, "increment", &(2u64,));
        assert_eq!(r.status, Status::Revert);
        assert_eq!(r.contract_error::<Error>(), Some(Error::Overflow));
        assert!(r.events.is_empty());
        assert_eq!(
            env.query(ALICE, c, "get", &()).decode::<u64>(),
            u64::MAX - 1
        );
    }

    #[test]
    fn only_the_owner_resets() {
        let mut env = TestEnv::new();
        let c = env.deploy(ALICE, DIR, &(5u64,)).unwrap();
        let r = env.call(BOB, c, "reset", &());
        assert_eq!(r.contract_error::<Error>(), Some(Error::NotOwner));
        assert!(env.call(ALICE, c, "reset", &()).is_success());
        assert_eq!(env.query(BOB, c, "get", &()).decode::<u64>(), 0);
    }

    #[test]
    fn value_sent_to_a_method_that_is_not_payable_reverts() {
        let mut env = TestEnv::new();
        let c = env.deploy(ALICE, DIR, &(0u64,)).unwrap();
        let r = env.call_with_value(BOB, c, "increment", &(1u64,), 5);
        assert_eq!(
            r.panic_message().as_deref(),
            Some("method `increment` does not accept value")
        );
        assert_eq!(env.balance(c), 0);
    }

    #[test]
    fn malformed_input_reverts_with_a_message() {
        let mut env = TestEnv::new();
        let c = env.deploy(ALICE, DIR, &(0u64,)).unwrap();
        let r = env.call(BOB, c, "increment", &(1u8,));
        assert_eq!(
            r.panic_message().as_deref(),
            Some("input of `increment` does not decode as its arguments")
        );
    }
}
