//! The database layout: columns, their options and how keys are encoded. `docs/storage.md`
//! describes the same layout for operators; a test keeps the two in step.

use parity_db::{ColId, ColumnOptions, CompressionType};

/// Version of this layout, stored under [`meta::LAYOUT`]. Bumped on any incompatible change.
///
/// - 1: columns 0 to 13.
/// - 2: adds [`PROOFS`]. A layout-1 database is upgraded in place when opened (the column is
///   added to ParityDB's metadata, then the layout record is set to the current version); a
///   build that reads layout 1 cannot open it afterwards.
/// - 3: internal tree nodes may be stored compact (tag 3, see `merkle::node`) besides jmt's
///   encoding. A layout-2 database is upgraded in place by setting the layout record: its nodes
///   stay readable as they are.
/// - 4: a leaf written since carries its leaf value (tag 4), and [`TREE_VALUES`] gets no new
///   entries. A database of an earlier layout is upgraded in place: [`meta::LEAF_VALUES_FROM`]
///   is set to the height after its head, and the values of older leaves stay where they are
///   (read through their leaves' key hash and version, removed by pruning as before).
/// - 5: tree nodes written since are in the node file (`nodes/`, [`crate::node_store`]), not
///   in [`TREE_NODES`]. A database of an earlier layout is upgraded in place:
///   [`meta::NODES_FROM`] is set to the height after its head, and the nodes of earlier
///   versions stay in [`TREE_NODES`] (read there, removed there by pruning).
/// - 6: the nodes a block makes stale are listed in the node file (a stale record), not in
///   the [`STALE`] column's lists, and the node file's trailers name removals by packed id. A
///   layout-5 database is upgraded in place by setting the layout record: its trailers stay
///   readable, and the nodes its stale lists name are removed by pruning as before.
/// - 7: the latest values of every kind of state key are in [`LATEST`], keyed by the key hash,
///   not in [`ACCOUNTS`], [`CODE`] and [`STORAGE`] under the key itself: ParityDB hashes a
///   key of a `uniform` column with salted SipHash-1-3 instead of BLAKE2 (its salt keeps keys
///   from being ground into one index chunk), and the key hash is at hand for the tree anyway.
///   A database of an earlier layout is upgraded in place: the column is added,
///   [`meta::LATEST_FROM`] is set, and a key's entry in its old column stays there until the
///   key is written again (a read that finds nothing in [`LATEST`] looks there; a write
///   removes it).
/// - 8: an internal node rebuilt with few slots changed may be stored as a delta on an older
///   node of its path stored whole (tag 5, see `merkle::node`), which stays until its last
///   delta is pruned. A layout-7 database is upgraded in place by setting the layout record:
///   its nodes, all stored whole, stay readable as they are.
pub const LAYOUT_VERSION: u32 = 8;

/// The first layout with the node file ([`meta::NODES_FROM`] is meaningful from it on).
pub const NODE_FILE_LAYOUT: u32 = 5;

/// The layout versions that [`LAYOUT_VERSION`] upgrades in place on open.
pub const UPGRADABLE_LAYOUT_VERSIONS: [u32; 7] = [1, 2, 3, 4, 5, 6, 7];

/// The first layout with [`LATEST`].
pub const LATEST_LAYOUT: u32 = 7;

/// Small records: layout version, head, oldest kept state, pruning progress, restore marker.
pub const META: ColId = 0;
/// Latest account values before layout 7: address → (version, `Option<SCALE(Account)>`).
pub const ACCOUNTS: ColId = 1;
/// Latest contract code before layout 7: code hash → (version, `Option<wasm>`).
pub const CODE: ColId = 2;
/// Latest contract storage before layout 7: address ‖ key → (version, `Option<value>`).
pub const STORAGE: ColId = 3;
/// State-tree nodes: borsh(NodeKey) → a node (compact internal node, leaf with its value, or
/// jmt's borsh encoding; see `merkle::node`). Since layout 5 only the nodes of versions below
/// [`meta::NODES_FROM`]; the others are in the node file under the same keys.
pub const TREE_NODES: ColId = 4;
/// State-tree leaf values by version (B-tree): key hash ‖ BE(!version) → `SCALE(Option<leaf>)`,
/// for the versions before [`meta::LEAF_VALUES_FROM`] (since layout 4 leaves carry their values).
pub const TREE_VALUES: ColId = 5;
/// What became unreachable at each version besides tree nodes (since layout 6 the node file
/// lists those): BE(version) → SCALE(stale list).
pub const STALE: ColId = 6;
/// Block headers: block hash → SCALE(BlockHeader).
pub const HEADERS: ColId = 7;
/// Block bodies: block hash → `SCALE(Vec<SignedTransaction>)`.
pub const BODIES: ColId = 8;
/// Canonical chain: BE(height) → block hash.
pub const HEIGHTS: ColId = 9;
/// Receipts (B-tree): BE(height) ‖ BE(tx index) → SCALE(Receipt).
pub const RECEIPTS: ColId = 10;
/// Transaction index: tx hash → SCALE((height, tx index)).
pub const TX_INDEX: ColId = 11;
/// Event index (B-tree): by contract and by topic; see [`event_key`].
pub const EVENTS: ColId = 12;
/// Consensus metadata: opaque keys and values owned by the consensus adapter.
pub const CONSENSUS: ColId = 13;
/// Commit proofs (layout 2): BE(height) → the opaque proof the block was committed with.
pub const PROOFS: ColId = 14;
/// Latest state values (layout 7, a `uniform` column): key hash (SHA-256 of the SCALE-encoded
/// state key) → (version, `Option<value>`).
pub const LATEST: ColId = 15;
/// Number of columns.
pub const COLUMNS: u8 = 16;
/// Number of columns of layout 1 (all but [`PROOFS`] and [`LATEST`]).
pub const COLUMNS_LAYOUT_1: u8 = 14;
/// Number of columns of layouts 2 to 6 (all but [`LATEST`]).
pub const COLUMNS_LAYOUT_2: u8 = 15;

/// Names of the columns, by id, for error messages and docs.
pub const COLUMN_NAMES: [&str; COLUMNS as usize] = [
    "meta",
    "accounts",
    "code",
    "storage",
    "tree_nodes",
    "tree_values",
    "stale",
    "headers",
    "bodies",
    "heights",
    "receipts",
    "tx_index",
    "events",
    "consensus",
    "proofs",
    "latest",
];

/// Keys in [`META`].
pub mod meta {
    /// u32 layout version.
    pub const LAYOUT: &[u8] = b"layout";
    /// SCALE((height, block hash)) of the head.
    pub const HEAD: &[u8] = b"head";
    /// u64: the oldest height whose state is kept.
    pub const OLDEST: &[u8] = b"oldest";
    /// u64: the next version whose stale list is to be pruned.
    pub const PRUNED_BELOW: &[u8] = b"pruned_below";
    /// u64: the height a snapshot restored this database at (its block has no body here).
    pub const RESTORED_AT: &[u8] = b"restored_at";
    /// Present while a snapshot restore is in progress.
    pub const RESTORING: &[u8] = b"restoring";
    /// u64 (layout 4): the first version whose leaves carry their values; the leaf values of
    /// earlier versions are in `tree_values`. 0 in a database created with layout 4; the height
    /// after the head in one upgraded from an earlier layout, or after the restored height.
    pub const LEAF_VALUES_FROM: &[u8] = b"leaf_values_from";
    /// u64 (layout 5): the first version whose tree nodes are all in the node file; those of
    /// earlier versions are in `tree_nodes`. Absent (0) in a database created with layout 5;
    /// the height after the head in one upgraded from an earlier layout.
    pub const NODES_FROM: &[u8] = b"nodes_from";
    /// u64 (layout 7): in a database upgraded from an earlier layout, the height after its
    /// head then: keys not written since have their latest value in `accounts`, `code` or
    /// `storage`. Absent in a database created with layout 7 (those columns stay empty).
    pub const LATEST_FROM: &[u8] = b"latest_from";
}

/// Options of every column.
pub fn column_options() -> Vec<ColumnOptions> {
    (0..COLUMNS)
        .map(|col| {
            let btree = matches!(col, TREE_VALUES | RECEIPTS | EVENTS);
            let compress = matches!(col, CODE | BODIES | RECEIPTS);
            ColumnOptions {
                btree_index: btree,
                uniform: col == LATEST,
                compression: if compress {
                    CompressionType::Lz4
                } else {
                    CompressionType::NoCompression
                },
                ..ColumnOptions::default()
            }
        })
        .collect()
}

/// Key of a leaf value in [`TREE_VALUES`]: newer versions sort first, so a seek to
/// `key_hash ‖ BE(!v)` lands on the newest value at or below `v`.
pub fn tree_value_key(key_hash: &[u8; 32], version: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(key_hash);
    k[32..].copy_from_slice(&(!version).to_be_bytes());
    k
}

/// Key of a receipt in [`RECEIPTS`].
pub fn receipt_key(height: u64, tx_index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&tx_index.to_be_bytes());
    k
}

/// Event-index prefix: events of one contract.
pub const EVENT_BY_CONTRACT: u8 = 0;
/// Event-index prefix: events with a topic at a position.
pub const EVENT_BY_TOPIC: u8 = 1;

/// Key of an entry in [`EVENTS`]: `prefix ‖ BE(height) ‖ BE(tx index) ‖ BE(event index)`, where
/// `prefix` is `0 ‖ contract` or `1 ‖ position ‖ topic`.
pub fn event_key(prefix: &[u8], height: u64, tx_index: u32, event_index: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 16);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(&tx_index.to_be_bytes());
    k.extend_from_slice(&event_index.to_be_bytes());
    k
}

/// The [`TREE_NODES`] key of the root node at `version`: borsh of jmt's `NodeKey` with an empty
/// nibble path (version as u64, 0 nibbles as u64, no path bytes as a u32 length), which the
/// crate only builds internally.
pub fn tree_root_key(version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(20);
    key.extend_from_slice(&version.to_le_bytes());
    key.extend_from_slice(&0u64.to_le_bytes());
    key.extend_from_slice(&0u32.to_le_bytes());
    key
}
