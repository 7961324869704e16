//! Transactional state: the [`Overlay`] journal with nested checkpoints, and the [`ChangeSet`]
//! it produces.

mod changeset;
mod overlay;

pub use changeset::ChangeSet;
pub use overlay::{Checkpoint, Overlay};
