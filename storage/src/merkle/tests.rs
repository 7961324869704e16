//! The writer against jmt: same roots, and a tree that jmt's readers walk and prove from, with
//! exactly the unreachable nodes marked stale.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jmt::storage::{LeafNode, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, SimpleHasher, Version};
use proptest::prelude::*;

use super::node::{Node, Path, decode_stored, nibble, value_hash};
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
        let Some(bytes) = self.nodes.get(&path.node_key(version)) else {
            return Ok(None);
        };
        let base = |base| Ok::<_, UpdateError>(self.nodes.get(&path.node_key(base)).cloned());
        Ok(Some(
            decode_stored(bytes, version, base)?.expect("a stored node decodes"),
        ))
    }
}

impl TreeReader for Memory {
    fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<jmt::storage::Node>> {
        let (version, path) = Path::from_node_key(&borsh::to_vec(key)?).expect("a node key");
        Ok(match self.node(version, &path)? {
            Some(node) => Some(borsh::from_slice(&node.encode_jmt())?),
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

/// Nodes the tree needs (version, path: those reached, and the bases of the deltas among them)
/// and leaves found (key → value hash).
type Walked = (BTreeSet<(u64, Path)>, BTreeMap<[u8; 32], [u8; 32]>);

/// Walks the tree of `version` from its root, checking each child's recorded hash and type.
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
                if let Some(base) = internal.base() {
                    assert!(base.version < v && path != Path::ROOT, "a delta's base");
                    nodes.insert((base.version, path));
                }
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
            // What the old tree needed and the new one does not: what it reached, or held as a
            // delta's base.
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

/// Writes `writes` at `version` into `memory`, returning the update.
fn apply(memory: &mut Memory, writes: &[(u32, u8)], version: u64) -> super::TreeUpdate {
    let writes = writes
        .iter()
        .map(|&(k, v)| Write {
            key: Sha256::hash(k.to_le_bytes()),
            value: Some(vec![v; 3]),
            exists: false,
        })
        .collect();
    let got = update(&*memory, writes, version).unwrap();
    for (path, node) in got.nodes.iter() {
        memory.nodes.insert(path.node_key(version), node.encode());
    }
    got
}

/// The first-level node of the path of key `k` (the keys are SHA-256 of `k`).
fn first_level(k: u32) -> Path {
    Path::ROOT.child(nibble(&Sha256::hash(k.to_le_bytes()), 0))
}

/// Keys below the first-level node `under` whose second nibbles differ, `n` of them.
fn keys_apart(under: Path, n: usize) -> Vec<u32> {
    let mut seen = BTreeSet::new();
    (0..300u32)
        .filter(|&k| {
            first_level(k) == under && seen.insert(nibble(&Sha256::hash(k.to_le_bytes()), 1))
        })
        .take(n)
        .collect()
}

#[test]
fn a_node_changed_in_few_slots_is_a_delta_whose_base_stays_until_its_path_is_stored_whole() {
    let mut memory = Memory::default();
    apply(
        &mut memory,
        &(0..300).map(|k| (k, 0)).collect::<Vec<_>>(),
        0,
    );
    let under = first_level(0);
    let keys = keys_apart(under, 16);
    let stored = |memory: &Memory, version: u64| memory.nodes[&under.node_key(version)][0];
    let children = match memory.node(0, &under).unwrap() {
        Some(Node::Internal(node)) => node.len() as u32,
        other => panic!("not an internal node: {other:?}"),
    };
    // Each block changes one more slot of the node, which is stored as a delta on version 0
    // while at most a quarter of its slots differ from it; the base is not stale meanwhile.
    let deltas = (children / 4) as u64;
    assert!(
        deltas >= 2 && keys.len() as u64 > deltas,
        "{children} children"
    );
    for version in 1..=deltas {
        let got = apply(&mut memory, &[(keys[version as usize - 1], 1)], version);
        assert_eq!(stored(&memory, version), 5, "a delta at version {version}");
        assert!(
            !got.stale.contains(&(0, under)),
            "the base kept at {version}"
        );
        if version > 1 {
            assert!(
                got.stale.contains(&(version - 1, under)),
                "the delta replaced"
            );
        }
        let Some(Node::Internal(node)) = memory.node(version, &under).unwrap() else {
            panic!("no node at {version}");
        };
        assert_eq!(
            node.base().map(|b| (b.version, b.changed.count_ones())),
            Some((0, version as u32))
        );
        assert!(
            memory.nodes[&under.node_key(version)].len()
                < memory.nodes[&under.node_key(0)].len() / 2
        );
    }
    // One more changed slot: stored whole again; the last delta and its base are stale now.
    let version = deltas + 1;
    let got = apply(&mut memory, &[(keys[version as usize - 1], 1)], version);
    assert_eq!(stored(&memory, version), 3);
    assert!(got.stale.contains(&(version - 1, under)) && got.stale.contains(&(0, under)));
    // The root is stored whole, always.
    assert_eq!(memory.nodes[&Path::ROOT.node_key(version)][0], 3);
    // A delta whose base is missing is refused, not completed from nothing.
    let delta = memory.nodes[&under.node_key(1)].clone();
    let none = |_| Ok::<_, UpdateError>(None);
    assert_eq!(decode_stored(&delta, 1, none).unwrap(), None);
    // Nor is one that names a base not older than itself.
    let base = |_| Ok::<_, UpdateError>(memory.nodes.get(&under.node_key(0)).cloned());
    assert_eq!(decode_stored(&delta, 0, base).unwrap(), None);
    // Nor one that changes no slot (it would read as its base).
    let whole = &memory.nodes[&under.node_key(0)];
    let unchanged = [&[5, 0][..], &whole[1..5], &[0, 0]].concat();
    assert_eq!(decode_stored(&unchanged, 1, base).unwrap(), None);
    let one = [&[5, 0][..], &whole[1..5], &[1, 0]].concat();
    assert_eq!(
        decode_stored(&one, 1, base).unwrap(),
        None,
        "a changed slot without its child"
    );
}
