//! The batched tree update: one descent from the root over the sorted changed keys, each touched
//! node read once, rebuilt once and hashed once; the two halves of a large batch on two threads.
//!
//! The result is exactly what jmt's key-by-key update (`put_value_set`) gives for the same keys
//! at the same version (a property test compares them): the tree's shape is canonical (a key's
//! leaf sits at the shallowest path no other key shares; an internal node has at least two leaves
//! below it), every node on the path of a changed key and every leaf that moved is written at
//! the new version, and every node of the parent tree that is not in the new one is stale.
//! An internal node rebuilt with few slots changed is stored as a delta on a node its path held
//! before (its base, see [`Base`]): the base is needed as long as that delta is, so it becomes
//! stale only with the last delta on it, when its path gets a node stored whole or none.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use super::new_nodes::NewNodes;
use super::node::{Base, Child, Internal, Node, Path, leaf_hash, nibble, value_hash};

/// Why an update could not be computed: the tree it reads is damaged or incomplete.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A node the tree refers to is not there.
    #[error("tree node at version {version}, path of {depth} nibbles, is missing")]
    Missing { version: u64, depth: usize },
    /// A node could not be read.
    #[error("{0}")]
    Read(String),
    /// A node is not what its parent says it is.
    #[error("{0}")]
    Inconsistent(&'static str),
}

/// Where the update reads the parent tree's nodes.
pub trait NodeSource: Sync {
    /// The node at `path` written at `version`.
    fn node(&self, version: u64, path: &Path) -> Result<Option<Node>, UpdateError>;

    /// The nodes at the `(version, path)` of each request, into the same places of `found`
    /// (as long as `requests`, all `None` on entry): the children of one node that an update
    /// descends into, asked for together so that a source can overlap their reads. One
    /// [`NodeSource::node`] each unless a source does better.
    fn nodes(
        &self,
        requests: &[(u64, Path)],
        found: &mut [Option<Node>],
    ) -> Result<(), UpdateError> {
        for ((version, path), slot) in requests.iter().zip(found) {
            *slot = self.node(*version, path)?;
        }
        Ok(())
    }
}

/// The nodes an update writes and those it makes stale.
#[derive(Clone, Debug, Default)]
pub struct TreeUpdate {
    /// The version every new node carries.
    pub version: u64,
    /// The new root's hash.
    pub root: [u8; 32],
    /// New nodes with their paths, all at `version`, in the order written. A new leaf carries
    /// its value: the written value, or for a leaf that moved, the value of the leaf it was read
    /// from (none if that one had none: a leaf written before layout 4, whose value is in
    /// `tree_values`).
    pub nodes: NewNodes,
    /// Nodes of earlier versions that the new tree no longer needs (reaches, or holds as the
    /// base of a delta it reaches): version and path.
    pub stale: Vec<(u64, Path)>,
    /// The internal nodes among `stale` whose path holds no internal node in the new tree
    /// (their subtree lost all its keys but one, or all): every other stale internal node is
    /// replaced by a new internal node at its path.
    pub vacated: Vec<(u64, Path)>,
}

/// Below this many keys the update runs on one thread.
const PARALLEL_KEYS: usize = 2_048;

/// What a subtree became.
enum Sub {
    Unchanged,
    Removed,
    /// A single leaf, not written yet: its parent places it (or, collapsing, passes it up).
    Leaf {
        key: [u8; 32],
        value_hash: [u8; 32],
    },
    /// An internal node, written at the path it was computed for.
    Internal {
        hash: [u8; 32],
        leaves: u64,
    },
}

#[derive(Default)]
struct Out {
    nodes: NewNodes,
    stale: Vec<(u64, Path)>,
    vacated: Vec<(u64, Path)>,
    /// The values of leaves read from the parent tree that move to a new path.
    carried: Vec<([u8; 32], Vec<u8>)>,
}

struct Ctx<'a, S> {
    source: &'a S,
    version: u64,
}

/// A change: key hash, the new value's hash (`None`: removal), and whether the key is known to
/// be in the parent tree.
type Change = ([u8; 32], Option<[u8; 32]>, bool);

/// One write of an update.
#[derive(Clone, Debug)]
pub struct Write {
    /// The key hash.
    pub key: [u8; 32],
    /// The leaf value (`None`: removal).
    pub value: Option<Vec<u8>>,
    /// The key is known to be in the parent tree (`false`: absent, or not known). When it is,
    /// the update does not read the key's leaf to learn whose it is.
    pub exists: bool,
}

/// Computes the update of `writes` (each key at most once) at `version` on the tree of
/// `version - 1` (at version 0, on the empty tree).
pub fn update<S: NodeSource>(
    source: &S,
    writes: Vec<Write>,
    version: u64,
) -> Result<TreeUpdate, UpdateError> {
    let mut changes = changes_of(&writes)?;
    changes.sort_unstable_by_key(|c| c.0);
    changes.dedup_by(|a, b| a.0 == b.0);
    let ctx = Ctx { source, version };
    // The parent tree's root (none at version 0: the empty tree, not stored).
    let old_root =
        match version.checked_sub(1) {
            None => None,
            Some(parent) => Some(source.node(parent, &Path::ROOT)?.ok_or(
                UpdateError::Missing {
                    version: parent,
                    depth: 0,
                },
            )?),
        };
    let leaves = match &old_root {
        Some(Node::Internal(root)) => root.leaf_count(),
        Some(Node::Leaf { .. }) => 1,
        None | Some(Node::Null) => 0,
    };
    let expected = expected_nodes(changes.len(), leaves);
    let mut out = Out {
        nodes: NewNodes::with_capacity(expected),
        stale: Vec::with_capacity(expected),
        vacated: Vec::new(),
        carried: Vec::new(),
    };
    let sub = match &old_root {
        None | Some(Node::Null) => build_or_unchanged(&ctx, Path::ROOT, &changes, &mut out),
        Some(node) => at(
            &ctx,
            version - 1,
            Path::ROOT,
            node.clone(),
            &changes,
            &mut out,
        )?,
    };
    // Every version has its own root node, so the parent's is always stale: `at` marked it when
    // it rebuilt it; a null root, or a root nothing changed under, is marked here. (jmt does
    // not mark those two stale, leaving them to no pruning.)
    if let Some(old) = &old_root
        && (matches!(old, Node::Null) || matches!(sub, Sub::Unchanged))
    {
        // (An internal root nothing changed under is copied to the new version: replaced.)
        out.stale.push((version - 1, Path::ROOT));
    }
    let root = match sub {
        Sub::Unchanged => {
            // Nothing changed: the parent's root is copied to this version.
            let node = old_root.unwrap_or(Node::Null);
            let hash = node.hash();
            out.nodes.push(Path::ROOT, node);
            hash
        }
        Sub::Removed => {
            out.nodes.push(Path::ROOT, Node::Null);
            Node::Null.hash()
        }
        Sub::Leaf { key, value_hash } => {
            out.nodes.push(Path::ROOT, leaf(key, value_hash));
            leaf_hash(&key, &value_hash)
        }
        Sub::Internal { hash, .. } => hash,
    };
    // The new leaves take their values: written ones, or carried from where they moved from.
    let mut values: HashMap<[u8; 32], Vec<u8>> =
        HashMap::with_capacity_and_hasher(writes.len() + out.carried.len(), Default::default());
    values.extend(out.carried);
    values.extend(writes.into_iter().filter_map(|w| Some((w.key, w.value?))));
    for node in out.nodes.nodes_mut() {
        if let Node::Leaf {
            key,
            value: slot @ None,
            ..
        } = node
        {
            *slot = values.remove(key);
        }
    }
    Ok(TreeUpdate {
        version,
        root,
        nodes: out.nodes,
        stale: out.stale,
        vacated: out.vacated,
    })
}

/// The changes of `writes`, their values hashed: a large batch's in two parts, the second on a
/// thread of its own (SHA-256 of 20,000 values took 3–4 ms on one).
fn changes_of(writes: &[Write]) -> Result<Vec<Change>, UpdateError> {
    let part = |part: &[Write]| -> Vec<Change> {
        part.iter()
            .map(|w| (w.key, w.value.as_deref().map(value_hash), w.exists))
            .collect()
    };
    if writes.len() < PARALLEL_KEYS {
        return Ok(part(writes));
    }
    crate::parallel::try_in_parts(
        writes,
        2,
        "aether-hash",
        |p| Ok(part(p)),
        || UpdateError::Inconsistent("a hashing thread panicked"),
    )
}

/// About how many nodes an update of `changes` keys writes in a tree of `leaves`, a little more
/// so that its lists need not grow: changes × (2 + log₁₆(leaves per change)) + 16 — each key's
/// leaf, the levels above where the keys' paths part, and about one internal node per key on
/// each level below. 20,000 changes write about 54,600 nodes at 1M keys (68,000 estimated) and
/// 71,000 at 10M (85,000): sized for twice the changes, the map of new nodes this replaced grew
/// at 10M, rehashing its entries into new memory (5% of the update).
fn expected_nodes(changes: usize, leaves: u64) -> usize {
    let changes = changes as f64;
    let spread = (leaves as f64 / changes.max(1.0)).max(1.0).log(16.0);
    (changes * (2.0 + spread) + 16.0) as usize
}

/// A new leaf, its value filled in at the end of the update.
fn leaf(key: [u8; 32], value_hash: [u8; 32]) -> Node {
    Node::Leaf {
        key,
        value_hash,
        value: None,
    }
}

/// Inserts into an empty slot: a new subtree of the inserted keys, or nothing when there are
/// only removals.
fn build_or_unchanged<S>(ctx: &Ctx<S>, path: Path, changes: &[Change], out: &mut Out) -> Sub {
    let inserts: Vec<([u8; 32], [u8; 32])> = changes
        .iter()
        .filter_map(|(k, v, _)| v.map(|v| (*k, v)))
        .collect();
    if inserts.is_empty() {
        Sub::Unchanged
    } else {
        build(ctx, path, &inserts, out)
    }
}

/// The subtree of `keys` (sorted, at least one, all under `path`), all new.
fn build<S>(ctx: &Ctx<S>, path: Path, keys: &[([u8; 32], [u8; 32])], out: &mut Out) -> Sub {
    if let [(key, value_hash)] = keys {
        return Sub::Leaf {
            key: *key,
            value_hash: *value_hash,
        };
    }
    let depth = path.len();
    let mut slots = [None; 16];
    for group in keys.chunk_by(|a, b| nibble(&a.0, depth) == nibble(&b.0, depth)) {
        let n = nibble(&group[0].0, depth);
        let child_path = path.child(n);
        let sub = build(ctx, child_path, group, out);
        slots[usize::from(n)] = place(ctx, child_path, sub, out);
    }
    emit_internal(path, Internal::new(slots), None, out)
}

/// Writes a child's result at its path, returning its slot.
fn place<S>(ctx: &Ctx<S>, path: Path, sub: Sub, out: &mut Out) -> Option<Child> {
    match sub {
        Sub::Leaf { key, value_hash } => {
            out.nodes.push(path, leaf(key, value_hash));
            Some(Child::new(leaf_hash(&key, &value_hash), ctx.version, 0))
        }
        Sub::Internal { hash, leaves } => Some(Child::new(hash, ctx.version, leaves)),
        Sub::Removed | Sub::Unchanged => None,
    }
}

/// Writes a new internal node at `path`, hashed with the inner hashes of `old` (the node it was
/// rebuilt from, and the slots changed since) where they still hold.
fn emit_internal(
    path: Path,
    internal: Arc<Internal>,
    old: Option<(&Internal, u16)>,
    out: &mut Out,
) -> Sub {
    let hash = internal.hash_from(old);
    let leaves = internal.leaf_count();
    out.nodes.push(path, Node::Internal(internal));
    Sub::Internal { hash, leaves }
}

/// Applies `changes` (sorted, at least one, all under `path`) to the node `node`, stored at
/// `(version, path)`.
fn at<S: NodeSource>(
    ctx: &Ctx<S>,
    version: u64,
    path: Path,
    node: Node,
    changes: &[Change],
    out: &mut Out,
) -> Result<Sub, UpdateError> {
    match node {
        Node::Null => Err(UpdateError::Inconsistent(
            "a null node below the root of the state tree",
        )),
        Node::Leaf {
            key,
            value_hash,
            value,
        } => {
            let touched = changes.iter().any(|(k, v, _)| v.is_some() || *k == key);
            if !touched {
                return Ok(Sub::Unchanged);
            }
            out.stale.push((version, path));
            let mut keys: Vec<([u8; 32], [u8; 32])> = changes
                .iter()
                .filter_map(|(k, v, _)| v.map(|v| (*k, v)))
                .collect();
            if !changes.iter().any(|(k, _, _)| *k == key) {
                // The leaf moves below the keys inserted beside it, with its value.
                let at = keys.partition_point(|(k, _)| *k < key);
                keys.insert(at, (key, value_hash));
                out.carried.extend(value.map(|v| (key, v)));
            }
            Ok(if keys.is_empty() {
                Sub::Removed
            } else {
                build(ctx, path, &keys, out)
            })
        }
        Node::Internal(internal) => {
            let depth = path.len();
            let groups: Vec<&[Change]> = changes
                .chunk_by(|a, b| nibble(&a.0, depth) == nibble(&b.0, depth))
                .collect();
            let mut subs: Vec<(u8, Sub)> = Vec::with_capacity(groups.len());
            if changes.len() >= PARALLEL_KEYS && groups.len() > 1 {
                // The groups in two halves of about equal key counts, one on another thread.
                let mut split = 0;
                let mut seen = 0;
                while split < groups.len() && seen * 2 < changes.len() {
                    seen += groups[split].len();
                    split += 1;
                }
                let (left, right) = groups.split_at(split.clamp(1, groups.len() - 1));
                // The right half writes about half the nodes, a little more to spare a regrowth.
                let capacity = out.nodes.capacity() * 5 / 8;
                let shared: &Internal = &internal;
                let right_half = move || {
                    let mut right_out = Out {
                        nodes: NewNodes::with_capacity(capacity),
                        stale: Vec::with_capacity(capacity),
                        ..Out::default()
                    };
                    let subs = children(ctx, &path, shared, right, &mut right_out);
                    (subs, right_out)
                };
                let (l, (r, mut right_out)) = std::thread::scope(|s| {
                    // A thread that cannot be started leaves the right half to this one.
                    let job = std::thread::Builder::new()
                        .name("aether-tree".into())
                        .spawn_scoped(s, right_half);
                    let l = children(ctx, &path, &internal, left, out);
                    let r = match job {
                        Ok(job) => job.join().unwrap_or_else(|_| {
                            let failed = Err(UpdateError::Inconsistent("a tree thread panicked"));
                            (failed, Out::default())
                        }),
                        Err(_) => right_half(),
                    };
                    (l, r)
                });
                subs.extend(l?);
                subs.extend(r?);
                out.nodes.append(&mut right_out.nodes);
                out.stale.extend(right_out.stale);
                out.vacated.extend(right_out.vacated);
                out.carried.extend(right_out.carried);
            } else {
                subs.extend(children(ctx, &path, &internal, &groups, out)?);
            }
            if subs.iter().all(|(_, s)| matches!(s, Sub::Unchanged)) {
                return Ok(Sub::Unchanged);
            }
            // The new slots; leaves computed below wait to know whether this node collapses.
            let mut slots: [Option<Child>; 16] = internal.slots();
            let mut pending: [Option<([u8; 32], [u8; 32])>; 16] = [None; 16];
            let mut changed = 0u16;
            for (n, sub) in subs {
                let i = usize::from(n);
                if !matches!(sub, Sub::Unchanged) {
                    changed |= 1 << i;
                }
                match sub {
                    Sub::Unchanged => {}
                    Sub::Removed => slots[i] = None,
                    Sub::Leaf { key, value_hash } => {
                        slots[i] = Some(Child::new(leaf_hash(&key, &value_hash), ctx.version, 0));
                        pending[i] = Some((key, value_hash));
                    }
                    Sub::Internal { hash, leaves } => {
                        slots[i] = Some(Child::new(hash, ctx.version, leaves))
                    }
                }
            }
            let present = slots
                .iter()
                .enumerate()
                .fold(0u16, |bits, (i, s)| bits | (u16::from(s.is_some()) << i));
            let only = present.trailing_zeros() as usize;
            match present.count_ones() {
                0 => {
                    vacate(version, path, &internal, out);
                    Ok(Sub::Removed)
                }
                1 if slots[only].is_some_and(|c| c.is_leaf()) => {
                    // One leaf left: it moves up to this path.
                    vacate(version, path, &internal, out);
                    if let Some((key, value_hash)) = pending[only] {
                        return Ok(Sub::Leaf { key, value_hash });
                    }
                    let child = slots[only].ok_or(UpdateError::Inconsistent("a vanished slot"))?;
                    let child_path = path.child(only as u8);
                    match ctx.source.node(child.version, &child_path)? {
                        Some(Node::Leaf {
                            key,
                            value_hash,
                            value,
                        }) => {
                            out.stale.push((child.version, child_path));
                            out.carried.extend(value.map(|v| (key, v)));
                            Ok(Sub::Leaf { key, value_hash })
                        }
                        Some(_) => Err(UpdateError::Inconsistent(
                            "a child marked as a leaf is not a leaf",
                        )),
                        None => Err(UpdateError::Missing {
                            version: child.version,
                            depth: child_path.len(),
                        }),
                    }
                }
                _ => {
                    for (i, pending) in pending.iter().enumerate() {
                        if let Some((key, value_hash)) = *pending {
                            out.nodes.push(path.child(i as u8), leaf(key, value_hash));
                        }
                    }
                    let base = stored_base(&path, &internal, version, changed, present);
                    match base {
                        // The node replaced is the new one's base: kept while the delta is.
                        Some(base) if base.version == version => {}
                        // A delta replaced by a delta on the same base.
                        Some(_) => out.stale.push((version, path)),
                        // Stored whole: the node replaced goes, and with it its base.
                        None => {
                            out.stale.push((version, path));
                            out.stale.extend(internal.base().map(|b| (b.version, path)));
                        }
                    }
                    Ok(emit_internal(
                        path,
                        Internal::stored_on(slots, base),
                        Some((&internal, changed)),
                        out,
                    ))
                }
            }
        }
    }
}

/// An internal node is stored as a delta on its path's base while at most one slot in this many
/// differs from the base's: a node of 16 children changed in up to four slots takes 150–190
/// bytes instead of about 600.
const DELTA_SLOTS: u32 = 4;

/// How the node rebuilt from `old` (stored at `old_version`) with the slots `changed` changed
/// and the slots `present` present is stored: as a delta on old's base, or on old if that is
/// stored whole, if it differs from that in few enough slots ([`DELTA_SLOTS`]); else whole.
/// The root is stored whole: a version nothing changed under copies its parent's root.
fn stored_base(
    path: &Path,
    old: &Internal,
    old_version: u64,
    changed: u16,
    present: u16,
) -> Option<Base> {
    let base = match old.base() {
        Some(base) => Base {
            version: base.version,
            changed: base.changed | changed,
        },
        None => Base {
            version: old_version,
            changed,
        },
    };
    (path.len() > 0 && base.changed.count_ones() * DELTA_SLOTS <= present.count_ones())
        .then_some(base)
}

/// Marks the internal node `old` at `(version, path)` stale and its path vacated, with its
/// base if it is stored as a delta.
fn vacate(version: u64, path: Path, old: &Internal, out: &mut Out) {
    let gone = std::iter::once(version).chain(old.base().map(|b| b.version));
    for version in gone {
        out.stale.push((version, path));
        out.vacated.push((version, path));
    }
}

/// The results of the child groups of one internal node (at most 16 groups, one a slot). The
/// children it descends into are read first, together ([`NodeSource::nodes`]).
fn children<S: NodeSource>(
    ctx: &Ctx<S>,
    path: &Path,
    internal: &Internal,
    groups: &[&[Change]],
    out: &mut Out,
) -> Result<Vec<(u8, Sub)>, UpdateError> {
    let depth = path.len();
    // The children to read, asked for together when there are two or more (a single one is
    // read where it is needed).
    let wanted = |group: &&[Change]| {
        let n = nibble(&group[0].0, depth);
        let child = internal.child(usize::from(n))?;
        (!known_leaf(&child, group)).then(|| (child.version, path.child(n)))
    };
    let mut read = Vec::new();
    if groups.iter().filter_map(wanted).nth(1).is_some() {
        let reads: Vec<(u64, Path)> = groups.iter().filter_map(wanted).collect();
        read.resize(reads.len(), None);
        ctx.source.nodes(&reads, &mut read)?;
    }
    // In the order of the groups that asked.
    let mut read = read.into_iter();
    let mut subs = Vec::with_capacity(groups.len());
    for group in groups {
        let n = nibble(&group[0].0, depth);
        let child_path = path.child(n);
        let sub = match internal.child(usize::from(n)) {
            None => build_or_unchanged(ctx, child_path, group, out),
            Some(child) if known_leaf(&child, group) => {
                out.stale.push((child.version, child_path));
                match group[0] {
                    (key, Some(value_hash), _) => Sub::Leaf { key, value_hash },
                    (_, None, _) => Sub::Removed,
                }
            }
            Some(child) => {
                let node = match read.next() {
                    Some(node) => node,
                    None => ctx.source.node(child.version, &child_path)?,
                }
                .ok_or(UpdateError::Missing {
                    version: child.version,
                    depth: child_path.len(),
                })?;
                if child.is_leaf() != matches!(node, Node::Leaf { .. }) {
                    return Err(UpdateError::Inconsistent(
                        "a child's node type differs from its parent's record",
                    ));
                }
                at(ctx, child.version, child_path, node, group, out)?
            }
        };
        subs.push((n, sub));
    }
    Ok(subs)
}

/// A leaf slot that only a key known to be in the tree goes to: the leaf is that key's (no
/// other key shares the slot's path), so it need not be read.
fn known_leaf(child: &Child, group: &[Change]) -> bool {
    child.is_leaf() && matches!(group, [(_, _, true)])
}
