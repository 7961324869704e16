//! Typed calls to other contracts and instantiation of new ones.
//!
//! Arguments are SCALE-encoded as a tuple (what the [`crate::contract`] macro decodes), and the
//! return value decoded as the type asked for.

use alloc::vec::Vec;

use parity_scale_codec::{Decode, Encode};

use crate::buf::Buf;
use crate::env::ptr;
use crate::sys;
use crate::types::{Address, Hash};

/// Why a call or instantiation failed. Whatever the callee changed has been undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The callee reverted with this data (see [`CallError::contract_error`]).
    Reverted(Vec<u8>),
    /// The callee trapped.
    Trapped,
    /// The callee ran out of gas.
    OutOfGas,
    /// No contract at the address, no such method, or unknown code (instantiate: or the address
    /// is taken).
    NotFound,
    /// The callee is already running and does not accept reentrant calls.
    ReentrancyRefused,
    /// Too many nested calls.
    DepthExceeded,
    /// This contract cannot pay the value sent.
    InsufficientBalance,
    /// The callee succeeded but its return data does not decode as the expected type.
    Decode,
}

impl CallError {
    fn from_code(code: i32) -> Self {
        match code {
            1 => CallError::Reverted(return_data()),
            3 => CallError::OutOfGas,
            4 => CallError::NotFound,
            5 => CallError::ReentrancyRefused,
            6 => CallError::DepthExceeded,
            7 => CallError::InsufficientBalance,
            _ => CallError::Trapped,
        }
    }

    /// The callee's contract error, if it reverted with one of type `E`.
    pub fn contract_error<E: Decode>(&self) -> Option<E> {
        match self {
            CallError::Reverted(data) => match data.split_first() {
                Some((&crate::revert_tag::ERROR, rest)) => E::decode(&mut &rest[..]).ok(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Return data of the last call or instantiation.
pub fn return_data() -> Vec<u8> {
    Buf::return_data().as_slice().to_vec()
}

/// A call being built: `Call::new(&token, "transfer").value(0).gas(100_000).invoke(&(to, 5u128))`.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    to: &'a Address,
    method: &'a str,
    value: u128,
    gas: u64,
}

impl<'a> Call<'a> {
    /// A call of `method` on `to`, with no value and all the gas left.
    pub fn new(to: &'a Address, method: &'a str) -> Self {
        Self {
            to,
            method,
            value: 0,
            gas: 0,
        }
    }

    /// Sends `value` with the call.
    pub fn value(self, value: u128) -> Self {
        Self { value, ..self }
    }

    /// Caps the gas the callee may use (0: all that is left).
    pub fn gas(self, gas: u64) -> Self {
        Self { gas, ..self }
    }

    /// Calls with `args` (a tuple of the method's arguments) and decodes the result as `R`.
    pub fn invoke<A: Encode, R: Decode>(self, args: &A) -> Result<R, CallError> {
        self.run(Buf::encode(args).as_slice())?;
        let data = Buf::return_data();
        let mut rest = data.as_slice();
        match R::decode(&mut rest) {
            Ok(value) if rest.is_empty() => Ok(value),
            _ => Err(CallError::Decode),
        }
    }

    /// Calls with raw input; returns the raw return data.
    pub fn invoke_raw(self, input: &[u8]) -> Result<Vec<u8>, CallError> {
        self.run(input)?;
        Ok(return_data())
    }

    fn run(self, input: &[u8]) -> Result<(), CallError> {
        let value = self.value.to_le_bytes();
        // SAFETY: every buffer is live for the call; sizes are passed alongside.
        let code = unsafe {
            sys::call(
                ptr(self.to.0.as_ptr()),
                ptr(self.method.as_ptr()),
                self.method.len() as i32,
                ptr(input.as_ptr()),
                input.len() as i32,
                ptr(value.as_ptr()),
                self.gas as i64,
            )
        };
        match code {
            0 => Ok(()),
            c => Err(CallError::from_code(c)),
        }
    }
}

/// Calls `method` of `to` with `args`, decoding the result as `R`.
pub fn call<A: Encode, R: Decode>(to: &Address, method: &str, args: &A) -> Result<R, CallError> {
    Call::new(to, method).invoke(args)
}

/// Creates a contract from uploaded code `code_hash`, endowed with `value`, running its
/// constructor with `args`. The address is derived from this contract, the code hash and
/// `salt` (at most 64 bytes).
pub fn instantiate<A: Encode>(
    code_hash: &Hash,
    salt: &[u8],
    args: &A,
    value: u128,
) -> Result<Address, CallError> {
    let input = Buf::encode(args);
    let input = input.as_slice();
    let value = value.to_le_bytes();
    let mut out = [0u8; 32];
    // SAFETY: every buffer is live; 32 bytes are written to `out`.
    let code = unsafe {
        sys::instantiate(
            ptr(code_hash.0.as_ptr()),
            ptr(salt.as_ptr()),
            salt.len() as i32,
            ptr(input.as_ptr()),
            input.len() as i32,
            ptr(value.as_ptr()),
            0,
            ptr(out.as_mut_ptr()),
        )
    };
    match code {
        0 => Ok(Address(out)),
        c => Err(CallError::from_code(c)),
    }
}
