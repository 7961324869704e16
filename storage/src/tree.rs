//! The state tree's view of the database: [`jmt::storage::TreeReader`] over ParityDB, and how a
//! change set becomes a tree update.

use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Version};
use parity_scale_codec::Decode;

use crate::db::Database;
use crate::error::{Result, StorageError};
use crate::layout::{TREE_NODES, TREE_VALUES, tree_value_key};

/// Reads tree nodes and leaf values from the database.
pub struct NodeReader<'a>(pub &'a Database);

impl TreeReader for NodeReader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.0.tree_node(node_key)?)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.0.leaf_at(&key_hash, max_version)?)
    }

    /// Only snapshot restores ask for this, and they restore into an empty database, whose
    /// rightmost leaf is none. A crashed restore is refused at open instead of resumed.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

impl Database {
    /// A tree node, as jmt reads it: a node the writer stored compact is turned into jmt's
    /// encoding first.
    pub fn tree_node(&self, node_key: &NodeKey) -> Result<Option<Node>> {
        let key = borsh::to_vec(node_key).map_err(|e| StorageError::Tree(e.to_string()))?;
        let Some(bytes) = self.get(TREE_NODES, &key)? else {
            return Ok(None);
        };
        let bytes = match bytes.first() {
            Some(3) => crate::merkle::Node::decode(&bytes)
                .ok_or_else(|| {
                    self.corrupt(format!("tree node {node_key:?}"), "not a compact node")
                })?
                .encode_jmt(),
            _ => bytes,
        };
        borsh::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.corrupt(format!("tree node {node_key:?}"), e))
    }

    /// The newest leaf value of `key_hash` at or below `version`.
    pub fn leaf_at(&self, key_hash: &KeyHash, version: Version) -> Result<Option<Vec<u8>>> {
        let seek = tree_value_key(&key_hash.0, version);
        let mut iter = self.iter(TREE_VALUES)?;
        iter.seek(&seek).map_err(|e| self.db_error(e))?;
        match iter.next().map_err(|e| self.db_error(e))? {
            Some((key, value)) if key.len() == 40 && key[..32] == key_hash.0 => {
                <Option<Vec<u8>>>::decode(&mut &value[..])
                    .map_err(|e| self.corrupt(format!("tree value {}", hex(&key)), e))
            }
            _ => Ok(None),
        }
    }
}

/// Runs a jmt operation on the tree at `version`: jmt panics on some missing or damaged nodes
/// (`unwrap`s and `assert!`s inside it), so a panic or an error becomes a corruption error that
/// names the database.
pub fn guarded<T>(
    db: &Database,
    version: Version,
    op: impl FnOnce() -> anyhow::Result<T>,
) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(op)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(db.corrupt(format!("state tree at version {version}"), format!("{e:#}"))),
        Err(_) => Err(db.corrupt(
            format!("state tree at version {version}"),
            "a node is missing or damaged (the tree code panicked)",
        )),
    }
}

/// Lower-case hex, for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An empty tree: reads find nothing.
struct EmptyTree;

impl crate::merkle::NodeSource for EmptyTree {
    fn node(
        &self,
        _: u64,
        _: &crate::merkle::Path,
    ) -> std::result::Result<Option<crate::merkle::Node>, crate::merkle::UpdateError> {
        Ok(None)
    }
}

/// The state root of a state made of `changes` alone (a genesis, say), computed in memory.
pub fn root_of(changes: &aether_engine::state::ChangeSet) -> Result<aether_engine::types::Hash> {
    let writes: Vec<_> = crate::state_key::writes_of(changes)
        .into_iter()
        .filter_map(|(k, v)| {
            v.map(|v| crate::merkle::Write {
                key: k.key_hash().0,
                value: Some(k.leaf_value(&v)),
                exists: false,
            })
        })
        .collect();
    let update = crate::merkle::update(&EmptyTree, writes, 0)
        .map_err(|e| StorageError::Tree(e.to_string()))?;
    Ok(aether_engine::types::Hash(update.root))
}
