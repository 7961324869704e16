//! The state tree's view of the database: [`jmt::storage::TreeReader`] over ParityDB, and how a
//! change set becomes a tree update.

use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Version};
use parity_scale_codec::Decode;

use crate::db::Database;
use crate::error::{Result, StorageError};
use crate::layout::{TREE_NODES, TREE_VALUES, tree_value_key};

/// Reads tree nodes and leaf values from the database, for jmt.
///
/// jmt asks for a leaf's value right after reading the leaf (proofs, iteration), by the leaf's
/// key and a version: the tree's version for a proof, but the leaf node's own version when it
/// iterates, whose root may be pruned already. So the reader keeps the value of the last leaf
/// it read (or that it had none: a leaf written before layout 4, whose value is in
/// `tree_values`), and answers from it; any other key is looked up in the tree of the version
/// asked for.
pub struct NodeReader<'a> {
    db: &'a Database,
    last_leaf: std::sync::Mutex<Option<LastLeaf>>,
}

/// The key hash of the leaf read last, and its value if it carried one.
type LastLeaf = ([u8; 32], Option<Vec<u8>>);

impl<'a> NodeReader<'a> {
    pub fn new(db: &'a Database) -> Self {
        Self {
            db,
            last_leaf: std::sync::Mutex::new(None),
        }
    }
}

impl TreeReader for NodeReader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let Some((node, value)) = self.db.tree_node(node_key)? else {
            return Ok(None);
        };
        if let Node::Leaf(leaf) = &node {
            *crate::store::lock(&self.last_leaf) = Some((leaf.key_hash().0, value));
        }
        Ok(Some(node))
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let last = crate::store::lock(&self.last_leaf).take();
        match last {
            Some((key, Some(value))) if key == key_hash.0 => Ok(Some(value)),
            Some((key, None)) if key == key_hash.0 => {
                Ok(self.db.leaf_at(&key_hash, max_version)?)
            }
            _ => Ok(self.db.value_at(&key_hash, max_version)?),
        }
    }

    /// Only snapshot restores ask for this, and they restore into an empty database, whose
    /// rightmost leaf is none. A crashed restore is refused at open instead of resumed.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

impl Database {
    /// A tree node, as jmt reads it: a node the writer stored compact or a leaf stored with its
    /// value is turned into jmt's encoding first; the leaf's value comes beside it.
    pub fn tree_node(&self, node_key: &NodeKey) -> Result<Option<(Node, Option<Vec<u8>>)>> {
        let key = borsh::to_vec(node_key).map_err(|e| StorageError::Tree(e.to_string()))?;
        let Some(bytes) = self.get(TREE_NODES, &key)? else {
            return Ok(None);
        };
        let (bytes, value) = match bytes.first() {
            Some(3..=5) => {
                let Some((version, path)) = crate::merkle::Path::from_node_key(&key) else {
                    return Err(self.corrupt(format!("tree node {node_key:?}"), "not a node key"));
                };
                let node = self.decode_node(&bytes, version, &path)?;
                let jmt = node.encode_jmt();
                match node {
                    crate::merkle::Node::Leaf { value, .. } => (jmt, value),
                    _ => (jmt, None),
                }
            }
            _ => (bytes, None),
        };
        let node = borsh::from_slice(&bytes)
            .map_err(|e| self.corrupt(format!("tree node {node_key:?}"), e))?;
        Ok(Some((node, value)))
    }

    /// The tree node at `version` and `path`, decoded (a delta completed from its base).
    pub fn tree_node_at(
        &self,
        version: u64,
        path: &crate::merkle::Path,
    ) -> Result<Option<crate::merkle::Node>> {
        match self.get(TREE_NODES, &path.node_key(version))? {
            Some(bytes) => self.decode_node(&bytes, version, path).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes the stored bytes of the node at `version` and `path`, reading its base if it is
    /// a delta.
    fn decode_node(
        &self,
        bytes: &[u8],
        version: u64,
        path: &crate::merkle::Path,
    ) -> Result<crate::merkle::Node> {
        crate::merkle::decode_stored(bytes, version, |base| {
            self.get(TREE_NODES, &path.node_key(base))
        })?
        .ok_or_else(|| {
            self.corrupt(
                format!(
                    "the tree node at version {version}, path of {} nibbles",
                    path.len()
                ),
                "not a well-formed node (or a delta without its base)",
            )
        })
    }

    /// The leaf value of `key_hash` in the tree of `version` (whose root must be kept): from its
    /// leaf when the leaf carries it, else from `tree_values` (a leaf written before layout 4).
    pub fn value_at(&self, key_hash: &KeyHash, version: Version) -> Result<Option<Vec<u8>>> {
        let found = crate::merkle::find_leaf(&DbNodes(self), version, &key_hash.0)
            .map_err(|e| self.corrupt(format!("state tree at version {version}"), e))?;
        match found {
            None => Ok(None),
            Some(Some(value)) => Ok(Some(value)),
            Some(None) => self.leaf_at(key_hash, version),
        }
    }

    /// The newest leaf value of `key_hash` at or below `version` in `tree_values`, where leaf
    /// values were kept before layout 4.
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

/// The tree's nodes straight from the database, in either encoding.
pub(crate) struct DbNodes<'a>(pub &'a Database);

impl crate::merkle::NodeSource for DbNodes<'_> {
    fn node(
        &self,
        version: u64,
        path: &crate::merkle::Path,
    ) -> std::result::Result<Option<crate::merkle::Node>, crate::merkle::UpdateError> {
        self.0
            .tree_node_at(version, path)
            .map_err(|e| crate::merkle::UpdateError::Read(e.to_string()))
    }
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
