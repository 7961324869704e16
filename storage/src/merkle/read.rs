//! One key's leaf in the tree of a version, found by walking down from that version's root.

use super::node::{Node, Path, nibble};
use super::update::{NodeSource, UpdateError};

/// The leaf of `key` in the tree of `version`: `None` when the tree holds no leaf for it,
/// `Some(value)` with the leaf's value when the leaf carries it (`Some(None)`: a leaf written
/// before layout 4, whose value is kept apart).
pub fn find_leaf<S: NodeSource + ?Sized>(
    source: &S,
    version: u64,
    key: &[u8; 32],
) -> Result<Option<Option<Vec<u8>>>, UpdateError> {
    let (mut at, mut path) = (version, Path::ROOT);
    loop {
        let node = source.node(at, &path)?.ok_or(UpdateError::Missing {
            version: at,
            depth: path.len(),
        })?;
        match node {
            Node::Null => return Ok(None),
            Node::Leaf { key: k, value, .. } => return Ok((k == *key).then_some(value)),
            Node::Internal(internal) => {
                if path.len() >= 64 {
                    return Err(UpdateError::Inconsistent(
                        "an internal node at the full depth of a key",
                    ));
                }
                let n = nibble(key, path.len());
                let Some(child) = internal.child(usize::from(n)) else {
                    return Ok(None);
                };
                (at, path) = (child.version, path.child(n));
            }
        }
    }
}
