//! The SDK's access control, run on the engine through the `sdk-library` fixture: ownership
//! moves only in two steps and only by the owner and the proposed owner; roles guard what
//! they guard; a signed message authorises once, for its signer, chain, contract, field
//! (scope), nonce and payload, and every failed check leaves state unchanged.

use aether_contracts_sdk::access::{AccessError, Scheme, signed_message};
use aether_contracts_testing::*;
use aether_engine::crypto::Keypair;
use parity_scale_codec::Encode;
use sdk_library::library::{Error, Role};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/library");

fn setup() -> (TestEnv, Address) {
    let mut env = TestEnv::new();
    let contract = env.deploy(ALICE, DIR, &()).unwrap();
    (env, contract)
}

fn refused(o: &Outcome) -> AccessError {
    assert_eq!(o.status, Status::Revert, "{o:?}");
    match o.contract_error::<Error>() {
        Some(Error::Access(e)) => e,
        other => panic!("not an access error: {other:?} ({o:?})"),
    }
}

fn owner(env: &mut TestEnv, c: Address) -> Option<Address> {
    env.query(BOB, c, "owner", &()).decode()
}

#[test]
fn ownership_moves_only_when_the_owner_proposes_and_the_proposed_account_accepts() {
    let (mut env, c) = setup();
    assert_eq!(owner(&mut env, c), Some(ALICE));
    // Only the owner proposes.
    assert_eq!(
        refused(&env.call(BOB, c, "propose_owner", &(BOB,))),
        AccessError::NotOwner
    );
    // Nobody accepts what was not proposed to them.
    assert_eq!(
        refused(&env.call(BOB, c, "accept_ownership", &())),
        AccessError::NotProposedOwner
    );
    assert!(env.call(ALICE, c, "propose_owner", &(BOB,)).is_success());
    // Proposed is not owner yet, and a third account cannot take the proposal.
    assert_eq!(owner(&mut env, c), Some(ALICE));
    assert_eq!(
        refused(&env.call(CHARLIE, c, "accept_ownership", &())),
        AccessError::NotProposedOwner
    );
    // A message's `Ok` value is its return data (an `Err` reverts).
    let previous: Option<Address> = env.call(BOB, c, "accept_ownership", &()).decode();
    assert_eq!(previous, Some(ALICE));
    assert_eq!(owner(&mut env, c), Some(BOB));
    assert_eq!(
        env.query(BOB, c, "proposed_owner", &())
            .decode::<Option<Address>>(),
        None
    );
    // The old owner lost its rights.
    assert_eq!(
        refused(&env.call(ALICE, c, "grant", &(Role::Writer, ALICE))),
        AccessError::NotOwner
    );
}

#[test]
fn a_renounced_contract_has_no_owner_for_good() {
    let (mut env, c) = setup();
    assert_eq!(
        refused(&env.call(BOB, c, "renounce_ownership", &())),
        AccessError::NotOwner
    );
    assert!(env.call(ALICE, c, "propose_owner", &(BOB,)).is_success());
    assert!(env.call(ALICE, c, "renounce_ownership", &()).is_success());
    assert_eq!(owner(&mut env, c), None);
    // The proposal died with the ownership.
    assert_eq!(
        refused(&env.call(BOB, c, "accept_ownership", &())),
        AccessError::NotProposedOwner
    );
    assert_eq!(
        refused(&env.call(ALICE, c, "grant", &(Role::Writer, ALICE))),
        AccessError::NotOwner
    );
}

#[test]
fn roles_guard_their_messages_and_only_the_owner_grants_and_revokes() {
    let (mut env, c) = setup();
    assert_eq!(
        refused(&env.call(BOB, c, "write", &(1u64,))),
        AccessError::MissingRole
    );
    assert_eq!(
        refused(&env.call(BOB, c, "grant", &(Role::Writer, BOB))),
        AccessError::NotOwner
    );
    let granted: bool = env.call(ALICE, c, "grant", &(Role::Writer, BOB)).decode();
    assert!(granted);
    let again: bool = env.call(ALICE, c, "grant", &(Role::Writer, BOB)).decode();
    assert!(!again, "granted twice");
    assert!(env.call(BOB, c, "write", &(7u64,)).is_success());
    // One role is not the other.
    assert_eq!(
        refused(&env.call(BOB, c, "wipe", &())),
        AccessError::MissingRole
    );
    assert!(
        env.query(BOB, c, "has_role", &(Role::Writer, BOB))
            .decode::<bool>()
    );
    assert!(
        !env.query(BOB, c, "has_role", &(Role::Admin, BOB))
            .decode::<bool>()
    );
    assert!(
        !env.query(BOB, c, "has_role", &(Role::Writer, CHARLIE))
            .decode::<bool>()
    );
    // Revoked by the owner only; then the message is refused again.
    assert_eq!(
        refused(&env.call(CHARLIE, c, "revoke", &(Role::Writer, BOB))),
        AccessError::NotOwner
    );
    let revoked: bool = env.call(ALICE, c, "revoke", &(Role::Writer, BOB)).decode();
    assert!(revoked);
    assert_eq!(
        refused(&env.call(BOB, c, "write", &(8u64,))),
        AccessError::MissingRole
    );
    assert_eq!(
        env.query(BOB, c, "vec_all", &()).decode::<Vec<u64>>(),
        vec![7]
    );
    // A holder can give its own role up.
    assert!(
        env.call(ALICE, c, "grant", &(Role::Admin, CHARLIE))
            .is_success()
    );
    assert!(
        env.call(CHARLIE, c, "renounce_role", &(Role::Admin,))
            .decode::<bool>()
    );
    assert_eq!(
        refused(&env.call(CHARLIE, c, "wipe", &())),
        AccessError::MissingRole
    );
}

struct Signer {
    key: Keypair,
    scheme: Scheme,
}

impl Signer {
    fn new(scheme: Scheme, seed: u8) -> Self {
        let key = match scheme {
            Scheme::Ed25519 => Keypair::ed25519_from_seed(&[seed; 32]),
            Scheme::Sr25519 => Keypair::sr25519_from_seed(&[seed; 32]).unwrap(),
        };
        Self { key, scheme }
    }

    fn address(&self) -> Address {
        Address(self.key.address().0)
    }

    /// The relay call's arguments for `amount` signed with `nonce` for `chain` and `contract`.
    fn relay(&self, chain: u64, contract: Address, nonce: u64, amount: u64) -> impl Encode {
        let message = signed_message(chain, &contract, scope(), nonce, &amount.encode());
        let signature: [u8; 64] = self.key.sign(&message).0;
        (self.scheme, self.address(), nonce, amount, signature)
    }
}

/// The scope of the fixture's `signed` field: its storage prefix, as an off-chain signer
/// computes it.
fn scope() -> [u8; 8] {
    use sha2::Digest;
    sha2::Sha256::digest(b"Library::signed")[..8]
        .try_into()
        .unwrap()
}

fn relayed(env: &mut TestEnv, c: Address, who: Address) -> (u64, u64) {
    (
        env.query(BOB, c, "relayed", &(who,)).decode(),
        env.query(BOB, c, "next_nonce", &(who,)).decode(),
    )
}

#[test]
fn a_signed_message_authorises_once_and_only_its_signer_chain_contract_scope_nonce_and_payload() {
    for scheme in [Scheme::Ed25519, Scheme::Sr25519] {
        let (mut env, c) = setup();
        let chain = env.chain_id();
        let s = Signer::new(scheme, 3);
        // Relayed by anyone (BOB pays the gas).
        let r = env.call(BOB, c, "relay", &s.relay(chain, c, 0, 40));
        assert_eq!(r.decode::<u64>(), 40, "{scheme:?}");
        assert_eq!(relayed(&mut env, c, s.address()), (40, 1));

        // The same message again: its nonce is used.
        let replay = env.call(CHARLIE, c, "relay", &s.relay(chain, c, 0, 40));
        assert_eq!(refused(&replay), AccessError::WrongNonce { expected: 1 });
        // A nonce from the future is refused too: messages come in order.
        let ahead = env.call(CHARLIE, c, "relay", &s.relay(chain, c, 2, 1));
        assert_eq!(refused(&ahead), AccessError::WrongNonce { expected: 1 });
        // Signed for another chain, or another contract.
        let other_chain = env.call(BOB, c, "relay", &s.relay(chain + 1, c, 1, 5));
        assert_eq!(refused(&other_chain), AccessError::BadSignature);
        let other_contract = env.call(BOB, c, "relay", &s.relay(chain, BOB, 1, 5));
        assert_eq!(refused(&other_contract), AccessError::BadSignature);
        // Signed for another `SignedMessages` field (another scope) of this contract.
        let message = signed_message(chain, &c, [0; 8], 1, &5u64.encode());
        let other_scope = (scheme, s.address(), 1u64, 5u64, s.key.sign(&message).0);
        assert_eq!(
            refused(&env.call(BOB, c, "relay", &other_scope)),
            AccessError::BadSignature
        );
        // A payload other than the one signed.
        let message = signed_message(chain, &c, scope(), 1, &5u64.encode());
        let signature: [u8; 64] = s.key.sign(&message).0;
        let changed = env.call(
            BOB,
            c,
            "relay",
            &(scheme, s.address(), 1u64, 6u64, signature),
        );
        assert_eq!(refused(&changed), AccessError::BadSignature);
        // Someone else's signature under this signer's name.
        let mallory = Signer::new(scheme, 9);
        let mut forged = mallory.key.sign(&message).0;
        let by_other = env.call(BOB, c, "relay", &(scheme, s.address(), 1u64, 5u64, forged));
        assert_eq!(refused(&by_other), AccessError::BadSignature);
        // A corrupted signature; the other scheme's verification of this signature.
        forged = signature;
        forged[10] ^= 1;
        let corrupt = env.call(BOB, c, "relay", &(scheme, s.address(), 1u64, 5u64, forged));
        assert_eq!(refused(&corrupt), AccessError::BadSignature);
        let other_scheme = match scheme {
            Scheme::Ed25519 => Scheme::Sr25519,
            Scheme::Sr25519 => Scheme::Ed25519,
        };
        let wrong_scheme = env.call(
            BOB,
            c,
            "relay",
            &(other_scheme, s.address(), 1u64, 5u64, signature),
        );
        assert_eq!(refused(&wrong_scheme), AccessError::BadSignature);
        // None of the refusals spent the nonce or changed the total; the next one in order
        // still works.
        assert_eq!(relayed(&mut env, c, s.address()), (40, 1));
        let r = env.call(CHARLIE, c, "relay", &s.relay(chain, c, 1, 5));
        assert_eq!(r.decode::<u64>(), 45);
        // Nonces are per signer.
        let r = env.call(BOB, c, "relay", &mallory.relay(chain, c, 0, 1));
        assert_eq!(r.decode::<u64>(), 1);
        assert_eq!(relayed(&mut env, c, s.address()), (45, 2));
        assert_eq!(relayed(&mut env, c, mallory.address()), (1, 1));
    }
}
