//! The writer against jmt: same roots, and a tree that jmt's readers walk and prove from, with
//! exactly the unreachable nodes marked stale.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jmt::storage::{LeafNode, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, SimpleHasher, Version};
use proptest::prelude::*;

use super::node::{Node, Path, nibble, value_hash};
use super::update::{NodeSource, UpdateError, Write, update};
use crate::hasher::{Sha256, StateTree};

/// Nodes in their stored encoding under their stored keys, as in the database (leaves with
/// their values).
#[derive(Default)]
struct Memory {
    nodes: HashMap<Vec<u8>, Vec<u8>>,
}

impl NodeSource for Memory {
    fn node(&self, version: u64, path: &Path) -> Result<Option<Node>, UpdateError> {
        Ok(self
            .nodes
            .get(&path.node_key(version))
            .map(|bytes| Node::decode(bytes).expect("a stored node decodes")))
    }
}

impl TreeReader for Memory {
    fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<jmt::storage::Node>> {
        let key = borsh::to_vec(key)?;
        Ok(match self.nodes.get(&key) {
            Some(bytes) => Some(borsh::from_slice(
                &Node::decode(bytes)
                    .expect("a stored node decodes")
                    .encode_jmt(),
            )?),
            None => None,
        })
    }
    fn get_value_option(&self, max: Version, key: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        Ok(super::find_leaf(self, max, &key.0)?
            .map(|value| value.expect("every leaf written carries its value")))
    }
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

/// Every node reachable from the root of `version`, checking each child's recorded hash and
/// type, and the leaves found (key → value hash).
/// Nodes reached (version, path) and leaves found (key → value hash).
type Walked = (BTreeSet<(u64, Path)>, BTreeMap<[u8; 32], [u8; 32]>);

fn walk(memory: &Memory, version: u64) -> Walked {
    let mut nodes = BTreeSet::new();
    let mut leaves = BTreeMap::new();
    let mut stack = vec![(version, Path::ROOT, None::<[u8; 32]>, None::<bool>)];
    while let Some((v, path, hash, leaf)) = stack.pop() {
        let node = memory
            .node(v, &path)
            .unwrap()
            .unwrap_or_else(|| panic!("node at version {v}, {} nibbles, missing", path.len()));
        if let Some(hash) = hash {
            assert_eq!(node.hash(), hash, "a child's recorded hash");
        }
        if let Some(leaf) = leaf {
            assert_eq!(
                leaf,
                matches!(node, Node::Leaf { .. }),
                "a child's recorded type"
            );
        }
        nodes.insert((v, path));
        match node {
            Node::Null => assert_eq!(path, Path::ROOT, "a null node below the root"),
            Node::Leaf {
                key,
                value_hash,
                value,
            } => {
                let value = value.expect("a leaf without its value");
                assert_eq!(
                    super::node::value_hash(&value),
                    value_hash,
                    "a leaf's value"
                );
                let mut expected = Path::ROOT;
                for d in 0..path.len() {
                    expected = expected.child(nibble(&key, d));
                }
                assert_eq!(expected, path, "a leaf off its key's path");
                leaves.insert(key, value_hash);
            }
            Node::Internal(internal) => {
                let count = internal.slots().iter().flatten().count();
                assert!(count >= 1);
                assert_eq!(count, internal.len());
                if count == 1 {
                    assert!(
                        internal.iter().all(|(_, c)| !c.is_leaf()),
                        "an internal node whose only child is a leaf"
                    );
                }
                for (i, c) in internal.iter() {
                    assert_eq!(internal.child(i), Some(*c));
                    stack.push((
                        c.version,
                        path.child(i as u8),
                        Some(c.hash),
                        Some(c.is_leaf()),
                    ));
                }
            }
        }
    }
    (nodes, leaves)
}

/// Key hashes that share long prefixes: the first byte from four values, the second from eight,
/// so updates split leaves deep and removals collapse chains of internal nodes.
fn key(k: u8) -> [u8; 32] {
    let mut hash = Sha256::hash([k]);
    hash[0] = k % 4;
    hash[1] = (k / 4) % 8;
    hash
}

/// Keys with new values (`None`: removal) and whether the writer is told that a key it has is
/// in the tree.
fn block() -> impl Strategy<Value = BTreeMap<u8, (Option<u8>, bool)>> {
    proptest::collection::btree_map(
        0..64u8,
        (proptest::option::weighted(0.7, any::<u8>()), any::<bool>()),
        0..24,
    )
}

fn cases() -> u32 {
    std::env::var("AETHER_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Block after block (inserts, overwrites, removals, removals of absent keys, empty blocks),
    /// the writer's root is jmt's root for the same writes; its tree holds exactly the model's
    /// keys, with every child where its parent says and with the hash it records; every new
    /// node is reachable; exactly the nodes of the previous tree that the new one no longer
    /// reaches are stale; and jmt proves every key from it.
    #[test]
    fn the_writer_builds_the_tree_jmt_builds(blocks in proptest::collection::vec(block(), 1..14)) {
        let mut reference: HashMap<NodeKey, jmt::storage::Node> = HashMap::new();
        struct Reference<'a>(&'a HashMap<NodeKey, jmt::storage::Node>);
        impl TreeReader for Reference<'_> {
            fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<jmt::storage::Node>> {
                Ok(self.0.get(key).cloned())
            }
            fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
                Ok(None)
            }
            fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
                Ok(None)
            }
        }
        let mut memory = Memory::default();
        let mut model: BTreeMap<[u8; 32], Vec<u8>> = BTreeMap::new();
        for (version, block) in blocks.iter().enumerate() {
            let version = version as Version;
            let writes: Vec<([u8; 32], Option<Vec<u8>>)> = block
                .iter()
                .map(|(k, (v, _))| (key(*k), v.map(|v| vec![v; 3])))
                .collect();
            let told: Vec<Write> = block
                .iter()
                .map(|(k, (v, tell))| Write {
                    key: key(*k),
                    value: v.map(|v| vec![v; 3]),
                    exists: *tell && model.contains_key(&key(*k)),
                })
                .collect();
            let (expected_root, batch) = StateTree::new(&Reference(&reference))
                .put_value_set(writes.iter().map(|(k, v)| (KeyHash(*k), v.clone())), version)
                .unwrap();
            for (k, n) in batch.node_batch.nodes() {
                reference.insert(k.clone(), n.clone());
            }

            let got = update(&memory, told, version).unwrap();
            prop_assert_eq!(got.root, expected_root.0);
            let before = version.checked_sub(1).map(|v| walk(&memory, v).0).unwrap_or_default();
            for (path, node) in got.nodes.iter() {
                prop_assert!(memory.nodes.insert(path.node_key(version), node.encode()).is_none(), "a node written twice");
            }
            for (k, v) in &writes {
                match v {
                    Some(v) => { model.insert(*k, v.clone()); }
                    None => { model.remove(k); }
                }
            }
            let (after, leaves) = walk(&memory, version);
            let expected_leaves: BTreeMap<[u8; 32], [u8; 32]> = model.iter().map(|(k, v)| (*k, value_hash(v))).collect();
            prop_assert_eq!(leaves, expected_leaves);
            let new: BTreeSet<(u64, Path)> = got.nodes.iter().map(|(p, _)| (version, *p)).collect();
            let reached_new: BTreeSet<(u64, Path)> = after.iter().filter(|(v, _)| *v == version).copied().collect();
            prop_assert_eq!(new, reached_new, "new nodes that the tree does not reach");
            let stale: BTreeSet<(u64, Path)> = got.stale.iter().copied().collect();
            prop_assert_eq!(stale.len(), got.stale.len(), "a node made stale twice");
            // Vacated: the stale internal nodes whose path holds no new internal node.
            let new_internal: BTreeSet<Path> = got.nodes.iter()
                .filter(|(_, n)| matches!(n, Node::Internal(_)))
                .map(|(p, _)| *p)
                .collect();
            let vacated: BTreeSet<(u64, Path)> = got.stale.iter()
                .filter(|(v, p)| matches!(memory.node(*v, p), Ok(Some(Node::Internal(_)))) && !new_internal.contains(p))
                .copied()
                .collect();
            prop_assert_eq!(got.vacated.iter().copied().collect::<BTreeSet<_>>(), vacated);
            prop_assert_eq!(got.vacated.len(), got.vacated.iter().collect::<BTreeSet<_>>().len());
            let unreachable: BTreeSet<(u64, Path)> = before.difference(&after).copied().collect();
            prop_assert_eq!(stale, unreachable);
            for k in 0..64u8 {
                let (value, proof) = StateTree::new(&memory).get_with_proof(KeyHash(key(k)), version).unwrap();
                prop_assert_eq!(value.clone(), model.get(&key(k)).cloned());
                proof.verify(jmt::RootHash(got.root), KeyHash(key(k)), value).unwrap();
            }
        }
    }
}
