//! Access control: who may call what.
//!
//! - [`Ownable`]: one owner, transferred in two steps (the owner proposes, the new owner
//!   accepts, as cw-ownable and OpenZeppelin's `Ownable2Step`), or renounced.
//! - [`Roles`]: accounts holding roles of a type the contract chooses. Who may grant and
//!   revoke is the contract's decision (usually the owner, through [`Ownable`]).
//! - [`SignedMessages`]: authorisation by a message an account signed off-chain, relayed by
//!   anyone: the signature is checked by the host (ed25519 or sr25519, as transactions), over
//!   [`signed_message`] (a domain tag, the chain id, this contract's address, the field's
//!   scope, a nonce, the payload), and each signer's nonce must come in order, so a signed
//!   message works once, on one chain, for one contract and one `SignedMessages` field.
//!
//! The handles are zero-sized storage fields like [`crate::Lazy`]: in a `#[storage]` struct
//! write `Ownable`, `Roles<R>` or `SignedMessages`, and the macro gives each its own key.
//! Each check returns `Result<(), AccessError>`; `AccessError` is SCALE-encodable, so a
//! contract can carry it in its own error type (`Error::Access(AccessError)`).

use alloc::vec::Vec;
use core::marker::PhantomData;

use parity_scale_codec::{Decode, Encode};

use crate::env;
use crate::storage::{self, StorageField, map_key};
use crate::types::Address;

/// Why an access check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum AccessError {
    /// The caller is not the owner (or the contract has none).
    NotOwner,
    /// The caller is not the proposed owner (or no transfer is proposed).
    NotProposedOwner,
    /// The caller does not hold the role.
    MissingRole,
    /// The signed message's nonce is not the signer's next one.
    WrongNonce {
        /// The nonce the signer's next message must carry.
        expected: u64,
    },
    /// The signature does not verify for this signer, chain, contract, nonce and payload.
    BadSignature,
}

/// The owner and the proposed next owner, at one key.
#[derive(Clone, Copy, Default, Encode, Decode)]
struct Owners {
    owner: Option<Address>,
    proposed: Option<Address>,
}

/// A contract's owner, stored under the 8-byte key `KEY.to_le_bytes()` as SCALE
/// `(owner: Option<Address>, proposed: Option<Address>)`.
pub struct Ownable<const KEY: u64>;

impl<const KEY: u64> Ownable<KEY> {
    /// The handle.
    pub const fn new() -> Self {
        Self
    }

    fn load(&self) -> Owners {
        storage::get(&KEY.to_le_bytes()).unwrap_or_default()
    }

    fn store(&mut self, o: &Owners) {
        storage::set(&KEY.to_le_bytes(), o)
    }

    /// Makes `owner` the owner (usually in the constructor), dropping any proposed transfer.
    /// The contract decides who may call this: it checks nothing.
    pub fn init(&mut self, owner: Address) {
        self.store(&Owners {
            owner: Some(owner),
            proposed: None,
        })
    }

    /// The owner, if there is one.
    pub fn owner(&self) -> Option<Address> {
        self.load().owner
    }

    /// The account a transfer was proposed to, if any.
    pub fn proposed_owner(&self) -> Option<Address> {
        self.load().proposed
    }

    /// `Ok` if the caller is the owner.
    pub fn ensure_owner(&self) -> Result<(), AccessError> {
        match self.load().owner {
            Some(o) if o == env::caller() => Ok(()),
            _ => Err(AccessError::NotOwner),
        }
    }

    /// Proposes `to` as the next owner (owner only); `to` becomes owner when it accepts. A new
    /// proposal replaces the previous one.
    pub fn propose_transfer(&mut self, to: Address) -> Result<(), AccessError> {
        let mut o = self.load();
        if o.owner != Some(env::caller()) {
            return Err(AccessError::NotOwner);
        }
        o.proposed = Some(to);
        self.store(&o);
        Ok(())
    }

    /// The proposed owner (the caller) takes ownership; returns the previous owner.
    pub fn accept_transfer(&mut self) -> Result<Option<Address>, AccessError> {
        let o = self.load();
        let caller = env::caller();
        if o.proposed != Some(caller) {
            return Err(AccessError::NotProposedOwner);
        }
        self.store(&Owners {
            owner: Some(caller),
            proposed: None,
        });
        Ok(o.owner)
    }

    /// Leaves the contract without an owner for good (owner only): every `ensure_owner` fails
    /// from then on.
    pub fn renounce(&mut self) -> Result<(), AccessError> {
        self.ensure_owner()?;
        self.store(&Owners::default());
        Ok(())
    }
}

impl<const KEY: u64> Default for Ownable<KEY> {
    fn default() -> Self {
        Self
    }
}

impl<const KEY: u64> StorageField for Ownable<KEY> {
    const KEY: Option<u64> = Some(KEY);

    fn at(_prefix: [u8; 8]) -> Self {
        Self
    }
}

/// Roles held by accounts. `R` is the contract's role type (an enum deriving `Encode`, or a
/// `[u8; 32]` name hash). Layout as a `Mapping<(R, Address), bool>` at `PREFIX`: one slot per
/// role held, `PREFIX ‖ 0x00 ‖ SCALE((role, account))` → `true`.
pub struct Roles<R, const PREFIX: u64> {
    _role: PhantomData<R>,
}

impl<R: Encode, const PREFIX: u64> Roles<R, PREFIX> {
    /// The handle.
    pub const fn new() -> Self {
        Self { _role: PhantomData }
    }

    /// Whether `who` holds `role`.
    pub fn has(&self, role: &R, who: &Address) -> bool {
        storage::contains(map_key(PREFIX, &(role, who)).as_slice())
    }

    /// `Ok` if the caller holds `role`.
    pub fn ensure(&self, role: &R) -> Result<(), AccessError> {
        if self.has(role, &env::caller()) {
            Ok(())
        } else {
            Err(AccessError::MissingRole)
        }
    }

    /// Gives `role` to `who`; returns whether it is new. The contract checks who may grant.
    pub fn grant(&mut self, role: &R, who: &Address) -> bool {
        let key = map_key(PREFIX, &(role, who));
        if storage::contains(key.as_slice()) {
            return false;
        }
        storage::set(key.as_slice(), &true);
        true
    }

    /// Takes `role` from `who`; returns whether `who` held it. The contract checks who may
    /// revoke.
    pub fn revoke(&mut self, role: &R, who: &Address) -> bool {
        storage::remove(map_key(PREFIX, &(role, who)).as_slice())
    }

    /// The caller gives up `role`; returns whether it held it.
    pub fn renounce(&mut self, role: &R) -> bool {
        self.revoke(role, &env::caller())
    }
}

impl<R: Encode, const PREFIX: u64> Default for Roles<R, PREFIX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R, const PREFIX: u64> StorageField for Roles<R, PREFIX> {
    const KEY: Option<u64> = Some(PREFIX);

    fn at(_prefix: [u8; 8]) -> Self {
        Self { _role: PhantomData }
    }
}

/// The first bytes of every [`signed_message`]: no transaction's signing payload and no other
/// use of a key starts with them.
pub const SIGNED_MESSAGE_DOMAIN: &[u8] = b"aether/signed-message/v1";

/// The signature scheme of a signer's key (an account's address is its public key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Scheme {
    /// ed25519 (strict verification).
    Ed25519,
    /// sr25519 (signing context `b"aether"`).
    Sr25519,
}

/// What the signer of a message for [`SignedMessages::authorize`] signs:
/// [`SIGNED_MESSAGE_DOMAIN`] ‖ chain id (u64 LE) ‖ contract address (32 bytes) ‖ scope (8
/// bytes) ‖ nonce (u64 LE) ‖ payload. The scope is the `SignedMessages` field's storage
/// prefix ([`SignedMessages::SCOPE`]: the first 8 bytes of SHA-256 of `"Struct::field"`), so a
/// message signed for one such field of a contract is not accepted by another. Everything
/// before the payload has a fixed length, so no two inputs give one message. Off-chain signers
/// build it with this same function.
pub fn signed_message(
    chain_id: u64,
    contract: &Address,
    scope: [u8; 8],
    nonce: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_MESSAGE_DOMAIN.len() + 56 + payload.len());
    m.extend_from_slice(SIGNED_MESSAGE_DOMAIN);
    m.extend_from_slice(&chain_id.to_le_bytes());
    m.extend_from_slice(&contract.0);
    m.extend_from_slice(&scope);
    m.extend_from_slice(&nonce.to_le_bytes());
    m.extend_from_slice(payload);
    m
}

/// Each signer's next nonce, for messages signed off-chain and relayed by anyone. Layout as a
/// `Mapping<Address, u64>` at `PREFIX` (absent = 0).
pub struct SignedMessages<const PREFIX: u64>;

impl<const PREFIX: u64> SignedMessages<PREFIX> {
    /// The scope of this field's messages (see [`signed_message`]): its storage prefix.
    pub const SCOPE: [u8; 8] = PREFIX.to_le_bytes();

    /// The handle.
    pub const fn new() -> Self {
        Self
    }

    /// The nonce `signer`'s next message must carry (0 for the first).
    pub fn next_nonce(&self, signer: &Address) -> u64 {
        storage::get(map_key(PREFIX, signer).as_slice()).unwrap_or(0)
    }

    /// Checks that `signer` (an account: its address is its public key) signed `payload` for
    /// this chain and contract with its next nonce, and uses the nonce up. Nothing is stored
    /// when a check fails, so the call may go on (the nonce is spent only by a valid message).
    pub fn authorize(
        &mut self,
        scheme: Scheme,
        signer: &Address,
        nonce: u64,
        payload: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), AccessError> {
        let key = map_key(PREFIX, signer);
        let expected: u64 = storage::get(key.as_slice()).unwrap_or(0);
        if nonce != expected {
            return Err(AccessError::WrongNonce { expected });
        }
        let message = signed_message(
            env::chain_id(),
            &env::address(),
            Self::SCOPE,
            nonce,
            payload,
        );
        let valid = match scheme {
            Scheme::Ed25519 => crate::crypto::ed25519_verify(&signer.0, &message, signature),
            Scheme::Sr25519 => crate::crypto::sr25519_verify(&signer.0, &message, signature),
        };
        if !valid {
            return Err(AccessError::BadSignature);
        }
        // A signer cannot sign 2^64 messages; saturating keeps the slot valid regardless.
        storage::set(key.as_slice(), &expected.saturating_add(1));
        Ok(())
    }
}

impl<const PREFIX: u64> Default for SignedMessages<PREFIX> {
    fn default() -> Self {
        Self
    }
}

impl<const PREFIX: u64> StorageField for SignedMessages<PREFIX> {
    const KEY: Option<u64> = Some(PREFIX);

    fn at(_prefix: [u8; 8]) -> Self {
        Self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_message_binds_chain_contract_nonce_and_payload_at_fixed_offsets() {
        let c = Address([7; 32]);
        let m = signed_message(9, &c, [5; 8], 3, b"pay");
        let d = SIGNED_MESSAGE_DOMAIN.len();
        assert_eq!(&m[..d], SIGNED_MESSAGE_DOMAIN);
        assert_eq!(&m[d..d + 8], &9u64.to_le_bytes());
        assert_eq!(&m[d + 8..d + 40], &[7; 32]);
        assert_eq!(&m[d + 40..d + 48], &[5; 8]);
        assert_eq!(&m[d + 48..d + 56], &3u64.to_le_bytes());
        assert_eq!(&m[d + 56..], b"pay");
        assert_ne!(m, signed_message(9, &c, [5; 8], 4, b"pay"));
        assert_ne!(m, signed_message(10, &c, [5; 8], 3, b"pay"));
        assert_ne!(m, signed_message(9, &c, [6; 8], 3, b"pay"));
        assert_eq!(
            SignedMessages::<0x0807_0605_0403_0201>::SCOPE,
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
    }
}
