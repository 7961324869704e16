use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn cases(default: u32) -> u32 {
    std::env::var("AETHER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Segments of a few hundred bytes: every few blocks a new one, and compaction at half live.
fn small(durable_lag_bytes: u64) -> NodeStoreOptions {
    NodeStoreOptions {
        segment_bytes: 600,
        compact_below_percent: 50,
        durable_lag_bytes,
    }
}

fn key(version: u64, nibbles: &[u8]) -> Vec<u8> {
    nibbles
        .iter()
        .fold(Path::ROOT, |p, n| p.child(*n))
        .node_key(version)
}

fn node_of(key: &[u8]) -> Vec<u8> {
    // Content that says which node it is, of a few sizes.
    let mut node = key.to_vec();
    node.extend(std::iter::repeat_n(
        key[0] ^ key[key.len() - 1],
        key.len() % 7 * 5,
    ));
    node
}

/// A block's nodes and removals by key, nothing stale or pruned.
fn commit(
    store: &NodeStore,
    version: u64,
    sets: &[(Vec<u8>, Vec<u8>)],
    removes: &[Vec<u8>],
    db_bytes: u64,
) -> NodesCommitted {
    store
        .commit(NodeWrites {
            version: Some(version),
            sets,
            removes,
            db_bytes,
            ..NodeWrites::default()
        })
        .unwrap()
}

/// The version and path of a node key.
fn node_path(key: &[u8]) -> (u64, Path) {
    Path::from_node_key(key).unwrap()
}

/// The last segment's path.
fn last_segment(dir: &FsPath) -> PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nodes"))
        .collect();
    files.sort();
    files.pop().unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    /// A block: new nodes (paths, some deeper than a packed path), removals by key and nodes
    /// made stale (indexes into the live nodes no stale record names), and how many more
    /// versions' stale records it prunes.
    Block {
        paths: Vec<Vec<u8>>,
        removals: Vec<prop::sample::Index>,
        stale: Vec<prop::sample::Index>,
        prune: u64,
        /// Compaction left to a later [`NodeStore::compact`].
        defer: bool,
    },
    /// A compaction in an append of its own.
    Compact,
    /// A reopen with ParityDB `lost` blocks behind the file (at most the lag allows), and
    /// maybe bytes of an interrupted append at the file's end.
    Reopen { lost: u64, torn: Option<Vec<u8>> },
}

fn op() -> impl Strategy<Value = Op> {
    let path = prop_oneof![
        4 => proptest::collection::vec(0u8..16, 1..6),
        1 => proptest::collection::vec(0u8..16, 16..20),
    ];
    prop_oneof![
        5 => (
            proptest::collection::vec(path, 0..6),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
            0u64..4,
            any::<bool>(),
        )
            .prop_map(|(paths, removals, stale, prune, defer)| Op::Block {
                paths,
                removals,
                stale,
                prune,
                defer,
            }),
        1 => Just(Op::Compact),
        1 => (0u64..8, proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)))
            .prop_map(|(lost, torn)| Op::Reopen { lost, torn }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    /// Blocks of nodes, removals, stale records and their pruning, compaction of tiny
    /// segments, reopens with ParityDB some blocks behind the file (up to what the lag covers)
    /// and interrupted appends: every node of the state ParityDB holds reads back, every other
    /// reads as absent, and exactly the stale records of the versions not pruned are there.
    #[test]
    fn the_store_holds_exactly_the_nodes_of_the_blocks_the_database_kept(
        lag in 0u64..4,
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("nodes");
        // What ParityDB holds after each block, by height; the head is the last.
        let mut states: Vec<Model> = vec![];
        let mut ever: std::collections::BTreeSet<Vec<u8>> = Default::default();
        let mut store = NodeStore::open(&dir, None, true, small(lag)).unwrap();
        // Blocks committed since the last open: a reopen may lose as many as the lag covers.
        let mut since_open = 0u64;
        for op in ops {
            match op {
                Op::Block { paths, removals, stale, prune, defer } => {
                    let version = states.len() as u64;
                    let mut model = states.last().cloned().unwrap_or_default();
                    // Nodes no stale record names: a node is made stale once.
                    let free: Vec<Vec<u8>> = model
                        .nodes
                        .keys()
                        .filter(|k| !model.stale.values().any(|l| l.contains(k)))
                        .cloned()
                        .collect();
                    let pick = |picks: &[prop::sample::Index]| -> Vec<Vec<u8>> {
                        let mut out: Vec<Vec<u8>> = picks
                            .iter()
                            .filter(|_| !free.is_empty())
                            .map(|i| free[i.index(free.len())].clone())
                            .collect();
                        out.sort();
                        out.dedup();
                        out
                    };
                    let mut removes = pick(&removals);
                    let made_stale: Vec<Vec<u8>> = pick(&stale)
                        .into_iter()
                        .filter(|k| !removes.contains(k))
                        .collect();
                    // A key that is not there is skipped.
                    removes.push(key(version + 1000, &[1]));
                    let mut sets: Vec<(Vec<u8>, Vec<u8>)> = paths
                        .iter()
                        .map(|p| key(version, p))
                        .chain([key(version, &[])])
                        .map(|k| (k.clone(), node_of(&k)))
                        .collect();
                    sets.sort();
                    sets.dedup();
                    for k in &removes {
                        model.nodes.remove(k);
                    }
                    let pruned = model.pruned_below..(model.pruned_below + prune).min(version);
                    for u in pruned.clone() {
                        for k in model.stale.remove(&u).unwrap_or_default() {
                            model.nodes.remove(&k);
                        }
                    }
                    model.pruned_below = model.pruned_below.max(pruned.end);
                    if !made_stale.is_empty() {
                        model.stale.insert(version, made_stale.clone());
                    }
                    for (k, n) in &sets {
                        model.nodes.insert(k.clone(), n.clone());
                        ever.insert(k.clone());
                    }
                    let stale_paths: Vec<(u64, Path)> =
                        made_stale.iter().map(|k| node_path(k)).collect();
                    // Some nodes by key, the others framed, in two batches.
                    let mut by_key = vec![];
                    let mut records = vec![NodeRecords::default(), NodeRecords::default()];
                    for (i, (k, n)) in sets.iter().enumerate() {
                        match i % 3 {
                            0 => by_key.push((k.clone(), n.clone())),
                            b => {
                                let (v, path) = node_path(k);
                                records[b - 1].push(v, &path, |out| out.extend_from_slice(n));
                            }
                        }
                    }
                    store
                        .commit(NodeWrites {
                            version: Some(version),
                            sets: &by_key,
                            records,
                            removes: &removes,
                            stale: &stale_paths,
                            prune: pruned,
                            db_bytes: 1,
                            defer_compaction: defer,
                        })
                        .unwrap();
                    states.push(model);
                    since_open += 1;
                }
                Op::Compact => {
                    store.compact().unwrap();
                }
                Op::Reopen { lost, torn } => {
                    // Each block commits 1 byte to "ParityDB": removals wait `lag` bytes and
                    // twice the largest commit, and a compaction right after the block that
                    // released them may drop them, so as many blocks and 2 more can be lost.
                    let lost = lost.min(lag + 2).min(since_open).min(states.len() as u64);
                    drop(store);
                    states.truncate(states.len() - lost as usize);
                    if let Some(bytes) = torn
                        && std::fs::exists(&dir).unwrap()
                        && std::fs::read_dir(&dir).unwrap().any(|e| {
                            e.unwrap().path().extension().is_some_and(|x| x == "nodes")
                        })
                    {
                        use std::io::Write as _;
                        let mut f = std::fs::OpenOptions::new()
                            .append(true)
                            .open(last_segment(&dir))
                            .unwrap();
                        f.write_all(&bytes).unwrap();
                    }
                    let head = (states.len() as u64).checked_sub(1);
                    store = NodeStore::open(&dir, head, true, small(lag)).unwrap();
                    since_open = 0;
                }
            }
            let model = states.last().cloned().unwrap_or_default();
            for k in &ever {
                prop_assert_eq!(
                    store.get(k).unwrap(),
                    model.nodes.get(k).cloned(),
                    "node {:?}", Path::from_node_key(k)
                );
            }
            for version in 0..states.len() as u64 + 2 {
                prop_assert_eq!(
                    store.has_stale(version),
                    model.stale.contains_key(&version),
                    "stale record of {}", version
                );
            }
            let stats = store.stats();
            prop_assert_eq!(stats.live, model.nodes.len() as u64);
            prop_assert_eq!(stats.stale_records, model.stale.len() as u64);
        }
    }
}

/// What the database holds at one height, for the model test.
#[derive(Clone, Default)]
struct Model {
    nodes: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Stale lists not pruned, by version.
    stale: BTreeMap<u64, Vec<Vec<u8>>>,
    pruned_below: u64,
}

#[test]
fn compaction_keeps_the_file_near_the_live_nodes() {
    // A block rewrites the same 40 nodes each time (and removes the previous ones): the file
    // would grow by a block's records forever; compaction keeps it to a few blocks' worth.
    let dir = tempfile::tempdir().unwrap();
    let options = NodeStoreOptions {
        segment_bytes: 4096,
        compact_below_percent: 30,
        durable_lag_bytes: 0,
    };
    let store = NodeStore::open(dir.path(), None, true, options).unwrap();
    let paths: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i % 16, i / 16]).collect();
    let mut previous: Vec<Vec<u8>> = vec![];
    for version in 0..300u64 {
        let sets: Vec<_> = paths
            .iter()
            .map(|p| key(version, p))
            .chain([key(version, &[])])
            .map(|k| (k.clone(), node_of(&k)))
            .collect();
        commit(&store, version, &sets, &previous, 1);
        previous = sets.into_iter().map(|(k, _)| k).collect();
    }
    let stats = store.stats();
    assert_eq!(stats.live, 41);
    assert!(stats.compacted > 50, "{stats:?}");
    let block_bytes: u64 = previous.iter().map(|k| 2 * k.len() as u64 + 20).sum();
    assert!(
        stats.file_bytes < 12 * block_bytes,
        "the file holds {} bytes for a live set of about {block_bytes}: {stats:?}",
        stats.file_bytes
    );
    drop(store);
    let store = NodeStore::open(dir.path(), Some(299), true, options).unwrap();
    for k in &previous {
        assert_eq!(store.get(k).unwrap(), Some(node_of(k)));
    }
    assert_eq!(store.stats().live, 41);
}

#[test]
fn a_large_commit_holds_removals_only_while_it_may_be_lost() {
    // A block removes nodes after a commit of 1,000 bytes (a genesis, a bulk load): those
    // removals wait for the lag and twice that commit; the removals of the small blocks that
    // follow wait only for the lag and twice their own commits.
    let dir = tempfile::tempdir().unwrap();
    let lag = 10;
    let store = NodeStore::open(dir.path(), None, true, small(lag)).unwrap();
    let block = |version: u64, removes: &[Vec<u8>], db_bytes: u64| {
        let sets = vec![(key(version, &[]), node_of(&key(version, &[])))];
        commit(&store, version, &sets, removes, db_bytes);
        sets[0].0.clone()
    };
    let mut root = block(0, &[], 1);
    root = block(1, &[root], 1_000);
    // The large block's removal waits 10 + 2,000 bytes.
    for version in 2..4 {
        root = block(version, &[root], 1);
    }
    assert_eq!(store.stats().waiting, 3);
    // Released with the block that brings 2,010 bytes after it, and every small block's
    // removal before the last 12 with it.
    let mut version = 4;
    while store.stats().waiting == version - 1 && version < 10_000 {
        root = block(version, &[root], 1);
        version += 1;
    }
    assert_eq!(version - 1, 1 + lag + 2_000, "{:?}", store.stats());
    assert_eq!(store.stats().waiting, lag + 2);
    // From then on every removal waits 10 + 2 bytes: 12 blocks of one removal each.
    for _ in 0..40 {
        root = block(version, &[root], 1);
        version += 1;
    }
    assert_eq!(store.stats().waiting, lag + 2);
}

#[test]
fn a_file_without_the_heads_root_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path(), None, true, small(0)).unwrap();
    let k = key(0, &[]);
    commit(&store, 0, &[(k.clone(), node_of(&k))], &[], 1);
    drop(store);
    let before = std::fs::read(last_segment(dir.path())).unwrap();
    // The database says its head is at height 3: the file lost blocks.
    let err = NodeStore::open(dir.path(), Some(3), true, small(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("lacks the root node of the head"), "{err}");
    assert_eq!(std::fs::read(last_segment(dir.path())).unwrap(), before);
    let store = NodeStore::open(dir.path(), Some(0), true, small(0)).unwrap();
    assert_eq!(store.get(&k).unwrap(), Some(node_of(&k)));
}

#[test]
fn damage_inside_a_sealed_segment_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path(), None, true, small(0)).unwrap();
    for version in 0..6u64 {
        let sets: Vec<_> = (0..8u8)
            .map(|i| key(version, &[i]))
            .chain([key(version, &[])])
            .map(|k| (k.clone(), node_of(&k)))
            .collect();
        commit(&store, version, &sets, &[], 1);
    }
    drop(store);
    let first = dir.path().join("00000000.nodes");
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&first, &bytes).unwrap();
    let err = NodeStore::open(dir.path(), Some(5), true, small(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("00000000.nodes"), "{err}");
}

#[test]
fn bytes_that_are_not_a_node_key_find_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path(), None, true, small(0)).unwrap();
    assert_eq!(store.get(b"not a key").unwrap(), None);
    assert!(!store.contains(&[0; 7]));
    let sets = [(b"nope".to_vec(), vec![1])];
    let err = store
        .commit(NodeWrites {
            version: Some(0),
            sets: &sets,
            ..NodeWrites::default()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a node key"), "{err}");
}

#[test]
fn a_node_file_written_by_layout_5_opens_with_its_removals_applied() {
    // Layout 5's records by hand: node records, and trailers naming removals by node key.
    let dir = tempfile::tempdir().unwrap();
    type RemovedLayout5 = (Option<u64>, u32, Vec<(Vec<u8>, u64)>);
    let (k0, k0a, k1) = (key(0, &[]), key(0, &[3]), key(1, &[]));
    {
        let file =
            NodeFile::open(dir.path(), None, NodeFileOptions { segment_bytes: 600 }).unwrap();
        let mut append = file.append().unwrap();
        let at0 = append.push_parts(&[&[NODE], &k0, &node_of(&k0)]).unwrap();
        append.push_parts(&[&[NODE], &k0a, &node_of(&k0a)]).unwrap();
        let trailer = (0u32, Some(0u64), Vec::<RemovedLayout5>::new());
        append
            .push_parts(&[&[TRAILER_LAYOUT_5], &trailer.encode()])
            .unwrap();
        append.commit().unwrap();
        let mut append = file.append().unwrap();
        append.push_parts(&[&[NODE], &k1, &node_of(&k1)]).unwrap();
        let removed: Vec<RemovedLayout5> = vec![(Some(1), 0, vec![(k0.clone(), at0.to_u64())])];
        let trailer = (0u32, Some(1u64), removed);
        append
            .push_parts(&[&[TRAILER_LAYOUT_5], &trailer.encode()])
            .unwrap();
        append.commit().unwrap();
    }
    let store = NodeStore::open(dir.path(), Some(1), true, small(0)).unwrap();
    assert_eq!(store.get(&k0).unwrap(), None);
    assert_eq!(store.get(&k0a).unwrap(), Some(node_of(&k0a)));
    assert_eq!(store.get(&k1).unwrap(), Some(node_of(&k1)));
    // Blocks of this layout on top, until compaction has gone through the old segment: the
    // old trailer's removal carried or applied, and the same after a reopen.
    let mut root = k1.clone();
    for version in 2..40u64 {
        let k = key(version, &[]);
        commit(&store, version, &[(k.clone(), node_of(&k))], &[root], 1);
        root = k;
    }
    assert!(store.stats().compacted > 0, "{:?}", store.stats());
    // Dropped: the deletion of the last compacted segment is done.
    drop(store);
    assert!(!dir.path().join("00000000.nodes").exists());
    let store = NodeStore::open(dir.path(), Some(39), true, small(0)).unwrap();
    assert_eq!(store.get(&k0).unwrap(), None);
    assert_eq!(store.get(&k0a).unwrap(), Some(node_of(&k0a)));
    assert_eq!(store.get(&root).unwrap(), Some(node_of(&root)));
    assert_eq!(store.stats().live, 2);
}

#[test]
fn a_removal_carried_from_compaction_to_compaction_still_applies_at_the_next_open() {
    // Block 0's nodes fill a segment and stay live (it never qualifies) but one, which block
    // 1 removes in the next segment. The blocks after churn through short-lived nodes,
    // compacting in their commits (or after them, in appends of their own): the segment with
    // block 1's trailer is compacted, then the one its removal was carried into, and so on.
    // The removed node must stay removed at an open.
    for deferred in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path(), None, true, small(0)).unwrap();
        let with_nodes = |keys: Vec<Vec<u8>>| -> Vec<(Vec<u8>, Vec<u8>)> {
            keys.into_iter().map(|k| (k.clone(), node_of(&k))).collect()
        };
        let kept = with_nodes(
            (0..12u8)
                .map(|i| key(0, &[i]))
                .chain([key(0, &[])])
                .collect(),
        );
        commit(&store, 0, &kept, &[], 1);
        assert_eq!(store.stats().segments, 1);
        let removed = kept[0].0.clone();
        commit(
            &store,
            1,
            &with_nodes(vec![key(1, &[])]),
            std::slice::from_ref(&removed),
            1,
        );
        assert_eq!(store.stats().segments, 2, "block 1 in a segment of its own");
        let mut previous = vec![key(1, &[])];
        for version in 2..200u64 {
            let churn = with_nodes(
                (0..4u8)
                    .map(|i| key(version, &[9, i]))
                    .chain([key(version, &[])])
                    .collect(),
            );
            store
                .commit(NodeWrites {
                    version: Some(version),
                    sets: &churn,
                    removes: &previous,
                    db_bytes: 1,
                    defer_compaction: deferred,
                    ..NodeWrites::default()
                })
                .unwrap();
            if deferred {
                store.compact().unwrap();
            }
            previous = churn.into_iter().map(|(k, _)| k).collect();
        }
        assert!(store.stats().compacted > 50, "{:?}", store.stats());
        assert_eq!(store.get(&removed).unwrap(), None);
        drop(store);
        let store = NodeStore::open(dir.path(), Some(199), true, small(0)).unwrap();
        assert_eq!(store.get(&removed).unwrap(), None, "deferred: {deferred}");
        for (k, node) in kept[1..].iter() {
            assert_eq!(store.get(k).unwrap().as_ref(), Some(node));
        }
        for k in &previous {
            assert_eq!(store.get(k).unwrap(), Some(node_of(k)));
        }
    }
}

#[test]
fn a_compaction_with_nothing_to_compact_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path(), None, true, small(0)).unwrap();
    // Blocks of nodes that all stay live: no segment ever qualifies, and every other block
    // fills the active segment.
    for version in 0..12u64 {
        let sets: Vec<_> = (0..6u8)
            .map(|i| key(version, &[i]))
            .map(|k| (k.clone(), node_of(&k)))
            .collect();
        commit(&store, version, &sets, &[], 1);
        assert!(!store.compact().unwrap());
        let files = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "nodes")
            })
            .count();
        assert_eq!(files, store.stats().segments, "after block {version}");
    }
}

#[test]
fn an_index_batch_takes_each_id_once_grouped_by_shard_in_order() {
    let ids: Vec<Id> = (0..5_000u64)
        .map(|i| match i % 7 {
            0 => Id::Deep(key(i, &[1; 17]).into_boxed_slice()),
            _ => Id::Packed {
                version: i / 3,
                path: i.wrapping_mul(0x9e37_79b9),
            },
        })
        .collect();
    let order = Index::runs(ids.iter());
    let mut expected: Vec<(usize, usize)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| match id {
            Id::Packed { version, path } => (shard_of(*version, *path), i),
            Id::Deep(_) => (SHARDS, i),
        })
        .collect();
    expected.sort_unstable();
    assert_eq!(order, expected);
}
