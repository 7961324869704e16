//! The contract's environment: who called, with what value, in which block, and the ways to
//! end a call.

use alloc::vec::Vec;

use parity_scale_codec::{Encode, Output};

use crate::buf::Buf;
use crate::sys;
use crate::types::Address;

pub(crate) fn ptr<T: ?Sized>(p: *const T) -> i32 {
    p as *const u8 as usize as i32
}

fn read32(f: impl FnOnce(i32)) -> [u8; 32] {
    let mut out = [0u8; 32];
    f(ptr(out.as_mut_ptr()));
    out
}

fn read16(f: impl FnOnce(i32)) -> u128 {
    let mut out = [0u8; 16];
    f(ptr(out.as_mut_ptr()));
    u128::from_le_bytes(out)
}

/// The immediate caller: the transaction's sender, or the calling contract.
pub fn caller() -> Address {
    Address(read32(|p| unsafe { sys::caller(p) }))
}

/// This contract's address.
pub fn address() -> Address {
    Address(read32(|p| unsafe { sys::address(p) }))
}

/// The value transferred with this call (already in this contract's balance).
pub fn value() -> u128 {
    read16(|p| unsafe { sys::value(p) })
}

/// This contract's balance.
pub fn balance() -> u128 {
    read16(|p| unsafe { sys::balance(p) })
}

/// The balance of any account (0 if it does not exist).
pub fn balance_of(who: &Address) -> u128 {
    let mut out = [0u8; 16];
    // SAFETY: 32 bytes are read from `who`, 16 written to `out`.
    unsafe { sys::balance_of(ptr(who.0.as_ptr()), ptr(out.as_mut_ptr())) };
    u128::from_le_bytes(out)
}

/// This contract's balance is lower than the amount it tried to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsufficientBalance;

/// Sends `amount` from this contract to `to`. Does not run code at `to`.
pub fn transfer(to: &Address, amount: u128) -> Result<(), InsufficientBalance> {
    let amount = amount.to_le_bytes();
    // SAFETY: 32 and 16 bytes are read.
    match unsafe { sys::transfer(ptr(to.0.as_ptr()), ptr(amount.as_ptr())) } {
        0 => Ok(()),
        _ => Err(InsufficientBalance),
    }
}

/// Height of the current block.
pub fn block_height() -> u64 {
    // SAFETY: no memory is touched.
    unsafe { sys::block_height() as u64 }
}

/// Timestamp of the current block, in milliseconds since the Unix epoch.
pub fn block_timestamp() -> u64 {
    // SAFETY: no memory is touched.
    unsafe { sys::block_timestamp() as u64 }
}

/// The chain id.
pub fn chain_id() -> u64 {
    // SAFETY: no memory is touched.
    unsafe { sys::chain_id() as u64 }
}

/// Gas left in this call.
pub fn gas_left() -> u64 {
    // SAFETY: no memory is touched.
    unsafe { sys::gas_left() as u64 }
}

/// The raw call input.
pub fn input() -> Vec<u8> {
    Buf::input().as_slice().to_vec()
}

/// Ends the call successfully with `data` as return data.
pub fn return_bytes(data: &[u8]) -> ! {
    // SAFETY: `data` is a live slice.
    unsafe { sys::return_(ptr(data.as_ptr()), data.len() as i32) }
}

/// Ends the call with status `revert` and raw revert data. Every change of the call is undone.
pub fn revert_bytes(data: &[u8]) -> ! {
    // SAFETY: `data` is a live slice.
    unsafe { sys::revert(ptr(data.as_ptr()), data.len() as i32) }
}

/// Reverts with a contract error value (tag [`crate::revert_tag::ERROR`] + SCALE).
pub fn revert<E: Encode>(error: &E) -> ! {
    let mut data = Buf::with_capacity(error.size_hint().saturating_add(1));
    data.push_byte(crate::revert_tag::ERROR);
    error.encode_to(&mut data);
    revert_bytes(data.as_slice())
}

/// Reverts with a message (tag [`crate::revert_tag::PANIC`] + UTF-8), as a panic does.
pub fn revert_with_message(message: &str) -> ! {
    revert_with_message_parts(&[message])
}

/// Reverts with the concatenation of `parts` as the message.
pub fn revert_with_message_parts(parts: &[&str]) -> ! {
    let mut data = Buf::with_capacity(64);
    data.push_byte(crate::revert_tag::PANIC);
    for part in parts {
        data.write(part.as_bytes());
    }
    revert_bytes(data.as_slice())
}
