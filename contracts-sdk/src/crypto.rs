//! Hashes and signature checks, computed by the host.

use crate::env::ptr;
use crate::sys;

fn hash(f: impl FnOnce(i32, i32, i32), data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    f(ptr(data.as_ptr()), data.len() as i32, ptr(out.as_mut_ptr()));
    out
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    // SAFETY: the closure passes a live input range and a 32-byte output buffer.
    hash(|p, l, d| unsafe { sys::sha256(p, l, d) }, data)
}

/// Keccak-256 of `data` (Ethereum's hash).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    // SAFETY: the closure passes a live input range and a 32-byte output buffer.
    hash(|p, l, d| unsafe { sys::keccak256(p, l, d) }, data)
}

/// Whether `signature` is a valid (strict) ed25519 signature by `public_key` over `message`.
pub fn ed25519_verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    // SAFETY: all three are live buffers of the stated sizes.
    unsafe {
        sys::ed25519_verify(
            ptr(public_key.as_ptr()),
            ptr(message.as_ptr()),
            message.len() as i32,
            ptr(signature.as_ptr()),
        ) == 1
    }
}

/// Whether `signature` is a valid sr25519 signature (context `b"aether"`) by `public_key`.
pub fn sr25519_verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    // SAFETY: all three are live buffers of the stated sizes.
    unsafe {
        sys::sr25519_verify(
            ptr(public_key.as_ptr()),
            ptr(message.as_ptr()),
            message.len() as i32,
            ptr(signature.as_ptr()),
        ) == 1
    }
}
