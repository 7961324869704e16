//! Typed events. Declare them with `#[event]` inside a [`crate::contract`] module; emit them
//! with [`emit`].
//!
//! An event's first topic is the SHA-256 of its name; each field marked `#[topic]` adds one
//! topic: its SCALE encoding, zero-padded to 32 bytes, or its SHA-256 if longer. The data is the
//! SCALE encoding of the whole event (every field, in order), so a client decodes it without
//! the topics.

use parity_scale_codec::{Encode, Output};

use crate::buf::Buf;
use crate::env::ptr;
use crate::sys;

/// An event type (implemented by `#[event]`).
pub trait Event: Encode {
    /// Its name, as in the ABI.
    const NAME: &'static str;
    /// The first topic: SHA-256 of [`Event::NAME`].
    const SIGNATURE_TOPIC: [u8; 32];
    /// Appends all topics to `out`, 32 bytes each, the signature topic first (at most
    /// [`MAX_TOPICS`]).
    fn write_topics(&self, out: &mut Buf);
}

/// Most topics an event carries (the engine's limit).
pub const MAX_TOPICS: usize = 4;

/// Appends the topic of a field value to `out`: its SCALE encoding zero-padded to 32 bytes, or
/// its SHA-256 if the encoding is longer. (As in ink!, a topic does not say which: a search by
/// topic can match a value whose hash equals another's padded encoding. Topics narrow a
/// search; the event data is what a client checks.)
pub fn write_topic<T: Encode + ?Sized>(value: &T, out: &mut Buf) {
    let start = out.len();
    value.encode_to(out);
    finish_topic(out, start);
}

/// Pads or hashes what was encoded into `out` from `start` into one 32-byte topic.
fn finish_topic(out: &mut Buf, start: usize) {
    let len = out.len().wrapping_sub(start);
    if len <= 32 {
        out.extend_zeroed(32 - len);
    } else {
        let digest = crate::crypto::sha256(out.as_slice().get(start..).unwrap_or_default());
        out.truncate(start);
        out.write(&digest);
    }
}

/// The topic of a field value (see [`write_topic`]).
pub fn topic_of<T: Encode + ?Sized>(value: &T) -> [u8; 32] {
    let mut out = Buf::with_capacity(32);
    write_topic(value, &mut out);
    let mut topic = [0u8; 32];
    for (dst, src) in topic.iter_mut().zip(out.as_slice()) {
        *dst = *src;
    }
    topic
}

/// Emits `event`. It reaches the receipt only if the transaction succeeds.
pub fn emit<E: Event>(event: &E) {
    let mut topics = Buf::with_capacity(MAX_TOPICS * 32);
    event.write_topics(&mut topics);
    let data = Buf::encode(event);
    emit_raw(topics.as_slice(), data.as_slice())
}

/// Emits an event from raw parts: `topics` is up to [`MAX_TOPICS`] 32-byte topics, back to
/// back (the host traps the contract on more; a trailing partial topic is not sent); `data` is
/// the payload.
pub fn emit_raw(topics: &[u8], data: &[u8]) {
    // SAFETY: both buffers are live; the host reads `topics.len() / 32` whole topics.
    unsafe {
        sys::emit_event(
            ptr(topics.as_ptr()),
            (topics.len() / 32) as i32,
            ptr(data.as_ptr()),
            data.len() as i32,
        )
    }
}
