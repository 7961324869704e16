//! [`NewNodes`]: the nodes one tree update writes, in the order it wrote them.
//!
//! An update writes tens of thousands of nodes (about 54,600 for 20,000 changed keys at 1M
//! keys, 71,000 at 10M) and most of its readers only go through them once: the commit encodes
//! each, the node cache adds the internal ones. A list costs a push per node; a map keyed by
//! path cost a hash, a random write into a table twice the list's size (memory the kernel
//! zeroes page by page) and, when it grew, a rehash. Lookups by path, which only a block
//! computed on top of this one (still pending) makes, go through an index built on the first.

use std::sync::OnceLock;

use rustc_hash::FxHashMap as HashMap;

use super::node::{Node, Path};

/// The nodes an update writes, each at a path of its own (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct NewNodes {
    list: Vec<(Path, Node)>,
    /// Position in `list` by path, built by the first [`NewNodes::get`].
    index: OnceLock<HashMap<Path, usize>>,
}

impl NewNodes {
    /// An empty list with room for `capacity` nodes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            list: Vec::with_capacity(capacity),
            index: OnceLock::new(),
        }
    }

    /// Adds the node written at `path` (no other node of this update may be at that path).
    pub fn push(&mut self, path: Path, node: Node) {
        self.list.push((path, node));
        self.index.take();
    }

    /// Adds all of `other`'s nodes.
    pub fn append(&mut self, other: &mut NewNodes) {
        self.list.append(&mut other.list);
        self.index.take();
        other.index.take();
    }

    /// The node written at `path`, if there is one.
    pub fn get(&self, path: &Path) -> Option<&Node> {
        let index = self.index.get_or_init(|| {
            let mut index = HashMap::with_capacity_and_hasher(self.list.len(), Default::default());
            index.extend(
                self.list
                    .iter()
                    .enumerate()
                    .map(|(i, (path, _))| (*path, i)),
            );
            index
        });
        index.get(path).map(|&i| &self.list[i].1)
    }

    /// The nodes with their paths, in the order they were written.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Node)> {
        self.list.iter().map(|(path, node)| (path, node))
    }

    /// The nodes, to fill in what they lack.
    pub fn nodes_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        self.list.iter_mut().map(|(_, node)| node)
    }

    /// How many nodes it has room for without growing.
    pub fn capacity(&self) -> usize {
        self.list.capacity()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The nodes, children before parents, as a slice.
    pub fn as_slice(&self) -> &[(Path, Node)] {
        &self.list
    }
}

impl FromIterator<(Path, Node)> for NewNodes {
    fn from_iter<I: IntoIterator<Item = (Path, Node)>>(nodes: I) -> Self {
        Self {
            list: nodes.into_iter().collect(),
            index: OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(tag: u8) -> Node {
        Node::Leaf {
            key: [tag; 32],
            value_hash: [tag; 32],
            value: None,
        }
    }

    #[test]
    fn a_node_is_found_by_its_path_after_any_push_or_append() {
        let (a, b, c) = (
            Path::ROOT.child(1),
            Path::ROOT.child(2),
            Path::ROOT.child(3),
        );
        let mut nodes = NewNodes::with_capacity(2);
        nodes.push(a, leaf(1));
        assert_eq!(nodes.get(&a), Some(&leaf(1)));
        assert_eq!(nodes.get(&b), None);
        // The index built by the lookups above must not hide what comes after.
        nodes.push(b, leaf(2));
        assert_eq!(nodes.get(&b), Some(&leaf(2)));
        let mut more: NewNodes = [(c, leaf(3))].into_iter().collect();
        assert_eq!(more.get(&c), Some(&leaf(3)));
        nodes.append(&mut more);
        assert_eq!(nodes.get(&c), Some(&leaf(3)));
        assert_eq!(more.get(&c), None, "appended nodes leave the other list");
        assert_eq!(more.len(), 0);
        let paths: Vec<_> = nodes.iter().map(|(path, _)| *path).collect();
        assert_eq!(paths, vec![a, b, c], "in the order written");
        assert_eq!(nodes.len(), 3);
    }
}
