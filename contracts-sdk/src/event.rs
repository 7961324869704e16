//! Typed events. Declare them with `#[event]` inside a [`crate::contract`] module; emit them
//! with [`emit`].
//!
//! An event's first topic is the SHA-256 of its name; each field marked `#[topic]` adds one
//! topic: its SCALE encoding, zero-padded to 32 bytes, or its SHA-256 if longer. The data is the
//! SCALE encoding of the whole event (every field, in order), so a client decodes it without
//! the topics.

use alloc::vec::Vec;

use parity_scale_codec::Encode;

use crate::env::ptr;
use crate::sys;

/// An event type (implemented by `#[event]`).
pub trait Event: Encode {
    /// Its name, as in the ABI.
    const NAME: &'static str;
    /// The first topic: SHA-256 of [`Event::NAME`].
    const SIGNATURE_TOPIC: [u8; 32];
    /// All topics, the signature topic first (at most 4).
    fn topics(&self) -> Vec<[u8; 32]>;
}

/// The topic of a field value: its SCALE encoding zero-padded to 32 bytes, or its SHA-256 if
/// the encoding is longer.
pub fn topic_of<T: Encode + ?Sized>(value: &T) -> [u8; 32] {
    value.using_encoded(|bytes| {
        if bytes.len() <= 32 {
            let mut t = [0u8; 32];
            t[..bytes.len()].copy_from_slice(bytes);
            t
        } else {
            crate::crypto::sha256(bytes)
        }
    })
}

/// Emits `event`. It reaches the receipt only if the transaction succeeds.
pub fn emit<E: Event>(event: &E) {
    let topics: Vec<u8> = event.topics().concat();
    let data = event.encode();
    // SAFETY: both buffers are live; topics is a whole number of 32-byte topics.
    unsafe {
        sys::emit_event(
            ptr(topics.as_ptr()),
            (topics.len() / 32) as i32,
            ptr(data.as_ptr()),
            data.len() as i32,
        )
    }
}
