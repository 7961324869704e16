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
    /// A block: new nodes (paths, some deeper than a packed path) and removals (indexes into
    /// the live nodes).
    Block {
        paths: Vec<Vec<u8>>,
        removals: Vec<prop::sample::Index>,
    },
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
            proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
        )
            .prop_map(|(paths, removals)| Op::Block { paths, removals }),
        1 => (0u64..8, proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)))
            .prop_map(|(lost, torn)| Op::Reopen { lost, torn }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    /// Blocks of nodes and removals, compaction of tiny segments, reopens with ParityDB some
    /// blocks behind the file (up to what the lag covers) and interrupted appends: every node
    /// of the state ParityDB holds reads back, every other reads as absent.
    #[test]
    fn the_store_holds_exactly_the_nodes_of_the_blocks_the_database_kept(
        lag in 0u64..4,
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("nodes");
        // The state after each block, by height; the head is the last.
        let mut states: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![];
        let mut ever: std::collections::BTreeSet<Vec<u8>> = Default::default();
        let mut store = NodeStore::open(&dir, None, true, small(lag)).unwrap();
        // Blocks committed since the last open: a reopen may lose as many as the lag covers.
        let mut since_open = 0u64;
        for op in ops {
            match op {
                Op::Block { paths, removals } => {
                    let version = states.len() as u64;
                    let mut state = states.last().cloned().unwrap_or_default();
                    let live: Vec<Vec<u8>> = state.keys().cloned().collect();
                    let mut removes: Vec<Vec<u8>> = removals
                        .iter()
                        .filter(|_| !live.is_empty())
                        .map(|i| live[i.index(live.len())].clone())
                        .collect();
                    removes.sort();
                    removes.dedup();
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
                        state.remove(k);
                    }
                    for (k, n) in &sets {
                        state.insert(k.clone(), n.clone());
                        ever.insert(k.clone());
                    }
                    store.commit(&sets, &removes, Some(version), 1).unwrap();
                    states.push(state);
                    since_open += 1;
                }
                Op::Reopen { lost, torn } => {
                    // Each block commits 1 byte to "ParityDB": removals wait `lag` bytes and
                    // twice the largest commit, and a record released is dropped by the next
                    // block's compaction at the earliest, so as many blocks and 3 more can be
                    // lost.
                    let lost = lost.min(lag + 3).min(since_open).min(states.len() as u64);
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
            let state = states.last().cloned().unwrap_or_default();
            for k in &ever {
                prop_assert_eq!(
                    store.get(k).unwrap(),
                    state.get(k).cloned(),
                    "node {:?}", Path::from_node_key(k)
                );
            }
            let stats = store.stats();
            prop_assert_eq!(stats.live, state.len() as u64);
        }
    }
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
        store.commit(&sets, &previous, Some(version), 1).unwrap();
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
        store
            .commit(&sets, removes, Some(version), db_bytes)
            .unwrap();
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
    store
        .commit(&[(k.clone(), node_of(&k))], &[], Some(0), 1)
        .unwrap();
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
        store.commit(&sets, &[], Some(version), 1).unwrap();
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
    let err = store
        .commit(&[(b"nope".to_vec(), vec![1])], &[], Some(0), 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a node key"), "{err}");
}
