//! An escrow of tokens held by the contract until the deal settles. The buyer deploys it naming
//! the token contract, the seller, an arbiter and the amount; approves the escrow on the token
//! and calls `deposit`, which pulls the tokens in with the token's `transfer_from`. Then either
//! the buyer or the arbiter `release`s them to the seller, or the seller or the arbiter
//! `refund`s them to the buyer. Every token movement is a cross-contract call; a failed one
//! reverts the escrow's own changes too.

#![cfg_attr(target_arch = "wasm32", no_std)]

#[aether_contracts_sdk::contract]
pub mod escrow {
    use aether_contracts_sdk::prelude::*;
    // The token's typed client: the token crate is a dependency with its `as-dependency`
    // feature, so none of its exports end up in this contract.
    use token::token::TokenRef;

    #[storage]
    pub struct Escrow {
        deal: Lazy<Deal>,
        state: Lazy<State>,
    }

    /// The parties and the amount.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
    #[codec(crate = aether_contracts_sdk::codec)]
    pub struct Deal {
        /// The token contract.
        pub token: Address,
        /// Who pays (the deployer).
        pub buyer: Address,
        /// Who is paid.
        pub seller: Address,
        /// Who settles disputes.
        pub arbiter: Address,
        /// Tokens held.
        pub amount: u128,
    }

    /// Where the deal stands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
    #[codec(crate = aether_contracts_sdk::codec)]
    pub enum State {
        /// Waiting for the buyer's deposit.
        Created,
        /// The tokens are held.
        Funded,
        /// Paid to the seller.
        Released,
        /// Returned to the buyer.
        Refunded,
    }

    /// The deal changed state.
    #[event]
    pub struct Settled {
        #[topic]
        pub by: Address,
        pub state: State,
    }

    #[error]
    pub enum Error {
        /// The caller may not do this.
        NotAllowed,
        /// Not possible in the current state.
        WrongState,
        /// The token contract refused the transfer (balance or allowance too low).
        TokenRejected,
        /// The token contract could not be called.
        TokenUnreachable,
    }

    impl Escrow {
        /// The caller is the buyer.
        #[constructor]
        pub fn new(&mut self, token: Address, seller: Address, arbiter: Address, amount: u128) {
            self.deal.set(&Deal {
                token,
                buyer: env::caller(),
                seller,
                arbiter,
                amount,
            });
            self.state.set(&State::Created);
        }

        /// The deal.
        #[message]
        pub fn deal(&self) -> Deal {
            self.load()
        }

        /// Where the deal stands.
        #[message]
        pub fn state(&self) -> State {
            self.state.get().unwrap_or(State::Created)
        }

        /// Pulls `amount` tokens from the buyer (who must have approved this contract).
        #[message]
        pub fn deposit(&mut self) -> Result<(), Error> {
            let deal = self.load();
            self.transition(deal.buyer == env::caller(), State::Created, State::Funded)?;
            token_result(TokenRef::at(deal.token).transfer_from(
                deal.buyer,
                env::address(),
                deal.amount,
            ))
        }

        /// Pays the seller (buyer or arbiter).
        #[message]
        pub fn release(&mut self) -> Result<(), Error> {
            let deal = self.load();
            let caller = env::caller();
            let allowed = caller == deal.buyer || caller == deal.arbiter;
            self.transition(allowed, State::Funded, State::Released)?;
            token_result(TokenRef::at(deal.token).transfer(deal.seller, deal.amount))
        }

        /// Returns the tokens to the buyer (seller or arbiter).
        #[message]
        pub fn refund(&mut self) -> Result<(), Error> {
            let deal = self.load();
            let caller = env::caller();
            let allowed = caller == deal.seller || caller == deal.arbiter;
            self.transition(allowed, State::Funded, State::Refunded)?;
            token_result(TokenRef::at(deal.token).transfer(deal.buyer, deal.amount))
        }

        fn load(&self) -> Deal {
            self.deal
                .get()
                .unwrap_or_else(|| env::revert_with_message("escrow has no deal"))
        }

        /// Checks who and when, then records the new state (before any external call).
        fn transition(&mut self, allowed: bool, from: State, to: State) -> Result<(), Error> {
            if !allowed {
                return Err(Error::NotAllowed);
            }
            if self.state() != from {
                return Err(Error::WrongState);
            }
            self.state.set(&to);
            emit(&Settled {
                by: env::caller(),
                state: to,
            });
            Ok(())
        }
    }

    /// A call to the token: its own errors become [`Error::TokenRejected`].
    fn token_result(r: Result<(), CallError>) -> Result<(), Error> {
        match r {
            Ok(()) => Ok(()),
            Err(CallError::Reverted(_)) => Err(Error::TokenRejected),
            Err(_) => Err(Error::TokenUnreachable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escrow::{Error, Settled, State};
    use aether_contracts_testing::*;

    const DIR: &str = env!("CARGO_MANIFEST_DIR");
    const TOKEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../token");
    const AMOUNT: u128 = 500;

    struct Deal {
        env: TestEnv,
        token: Address,
        escrow: Address,
    }

    /// ALICE buys from BOB, CHARLIE arbitrates; ALICE holds `minted` tokens.
    fn setup(minted: u128) -> Deal {
        let mut env = TestEnv::new();
        let token = env.deploy(ALICE, TOKEN_DIR, &(minted,)).unwrap();
        let escrow = env
            .deploy(ALICE, DIR, &(token, BOB, CHARLIE, AMOUNT))
            .unwrap();
        let r = env.call(ALICE, token, "approve", &(escrow, AMOUNT));
        assert!(r.is_success(), "{r:?}");
        Deal { env, token, escrow }
    }

    impl Deal {
        fn balance(&self, who: Address) -> u128 {
            self.env
                .query(ALICE, self.token, "balance_of", &(who,))
                .decode()
        }
        fn state(&self) -> State {
            self.env.query(ALICE, self.escrow, "state", &()).decode()
        }
    }

    #[test]
    fn the_module_carries_no_path_of_the_building_machine() {
        // The escrow keeps formatted panics, so its module may name source files (panic
        // locations): those of registry crates must be remapped, not this machine's paths.
        // (How the remapping is built is tested in aether-contract-build.)
        let wasm = &TestEnv::build(DIR).wasm;
        let contains = |needle: &[u8]| wasm.windows(needle.len()).any(|w| w == needle);
        if contains(b"/registry/src/") {
            assert!(
                contains(b"/cargo/registry/src/"),
                "a registry path is not remapped"
            );
        }
        let home = std::env::var("CARGO_HOME")
            .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
        assert!(!contains(home.as_bytes()), "the module names {home}");
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let root = std::path::Path::new(root).canonicalize().unwrap();
        assert!(!contains(root.to_str().unwrap().as_bytes()));
    }

    #[test]
    fn deposit_then_release_pays_the_seller_through_the_token() {
        let mut d = setup(AMOUNT);
        let r = d.env.call(ALICE, d.escrow, "deposit", &());
        assert!(r.is_success(), "{r:?}");
        assert_eq!(d.balance(d.escrow), AMOUNT);
        assert_eq!(d.balance(ALICE), 0);
        // Both contracts' events are in the receipt, in order.
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.events[0].contract, d.escrow);
        assert_eq!(r.events[1].contract, d.token);
        assert_eq!(
            r.events_of::<Settled>(),
            vec![Settled {
                by: ALICE,
                state: State::Funded
            }]
        );

        let r = d.env.call(BOB, d.escrow, "release", &());
        assert_eq!(r.contract_error::<Error>(), Some(Error::NotAllowed));
        assert!(d.env.call(CHARLIE, d.escrow, "release", &()).is_success());
        assert_eq!(d.balance(BOB), AMOUNT);
        assert_eq!(d.balance(d.escrow), 0);
        assert_eq!(d.state(), State::Released);
    }

    #[test]
    fn refund_returns_the_tokens_to_the_buyer() {
        let mut d = setup(AMOUNT);
        assert!(d.env.call(ALICE, d.escrow, "deposit", &()).is_success());
        let r = d.env.call(ALICE, d.escrow, "refund", &());
        assert_eq!(r.contract_error::<Error>(), Some(Error::NotAllowed));
        assert!(d.env.call(BOB, d.escrow, "refund", &()).is_success());
        assert_eq!(d.balance(ALICE), AMOUNT);
        assert_eq!(d.state(), State::Refunded);
        let r = d.env.call(CHARLIE, d.escrow, "release", &());
        assert_eq!(r.contract_error::<Error>(), Some(Error::WrongState));
    }

    #[test]
    fn failed_token_transfer_rolls_back_the_escrow_and_the_token() {
        // ALICE approved AMOUNT but holds less: the token's transfer_from reverts.
        let mut d = setup(AMOUNT - 1);
        let r = d.env.call(ALICE, d.escrow, "deposit", &());
        assert_eq!(r.status, Status::Revert);
        assert_eq!(r.contract_error::<Error>(), Some(Error::TokenRejected));
        assert!(r.events.is_empty());
        // The escrow's state change and the token's allowance spend are both undone.
        assert_eq!(d.state(), State::Created);
        let allowance: u128 = d
            .env
            .query(ALICE, d.token, "allowance", &(ALICE, d.escrow))
            .decode();
        assert_eq!(allowance, AMOUNT);
        assert_eq!(d.balance(ALICE), AMOUNT - 1);
        assert_eq!(d.balance(d.escrow), 0);
    }
}
