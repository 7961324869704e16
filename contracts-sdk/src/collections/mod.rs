//! Storage-backed collections: [`StorageVec`] (push, pop, get, set, swap-remove, iterate) and
//! [`IterableMapping`] (a map with a length that iterates in insertion order).
//!
//! Like [`crate::Lazy`] and [`crate::Mapping`], the handles are zero-sized: the `#[storage]`
//! macro gives each field its own 8-byte prefix, and every element is a storage slot of its
//! own, so an operation costs the same gas whatever the collection's size. Their layouts are
//! documented on each type (and in `contracts-sdk/README.md`); gas per operation is in
//! `docs/benchmarks.md`.

mod map;
mod vec;

pub use map::{IterableMapping, Keys};
pub use vec::{Iter, OutOfBounds, StorageVec};
