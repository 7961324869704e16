//! The event index: filters by contract, by positional topic and by height range.

mod common;

use aether_engine::types::{Event, Hash};
use aether_storage::{EventFilter, Store, StoreConfig};
use common::*;

fn ev(contract: u8, topics: &[u8], data: u8) -> Event {
    Event {
        contract: addr(contract),
        topics: topics.iter().map(|t| Hash([*t; 32])).collect(),
        data: vec![data],
    }
}

fn data(records: &[aether_storage::EventRecord]) -> Vec<u8> {
    records.iter().map(|r| r.event.data[0]).collect()
}

#[test]
fn events_are_found_by_contract_topic_and_height() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    commit(&store, Default::default());
    // Height 1: two transactions; height 2: one; height 3: none.
    commit_with(
        &store,
        fund([addr(1)], 1),
        vec![
            receipt(1, vec![ev(10, &[1, 2], 0), ev(11, &[1], 1)]),
            receipt(2, vec![ev(10, &[3, 1], 2)]),
        ],
    );
    commit_with(
        &store,
        fund([addr(2)], 1),
        vec![receipt(3, vec![ev(10, &[1, 2], 3)])],
    );
    commit(&store, fund([addr(3)], 1));

    let all = |f: EventFilter| store.events(&f, 100).unwrap();
    let range = EventFilter {
        from_height: 0,
        to_height: 10,
        ..EventFilter::default()
    };
    assert_eq!(data(&all(range.clone())), vec![0, 1, 2, 3]);
    let of_10 = EventFilter {
        contract: Some(addr(10)),
        ..range.clone()
    };
    assert_eq!(data(&all(of_10.clone())), vec![0, 2, 3]);
    let topic0_is_1 = EventFilter {
        topics: vec![Some(Hash([1; 32]))],
        ..range.clone()
    };
    assert_eq!(data(&all(topic0_is_1.clone())), vec![0, 1, 3]);
    let topic1_is_1 = EventFilter {
        topics: vec![None, Some(Hash([1; 32]))],
        ..range.clone()
    };
    assert_eq!(data(&all(topic1_is_1)), vec![2]);
    let both = EventFilter {
        contract: Some(addr(10)),
        topics: vec![Some(Hash([1; 32])), Some(Hash([2; 32]))],
        ..range.clone()
    };
    assert_eq!(data(&all(both)), vec![0, 3]);
    let only_2 = EventFilter {
        from_height: 2,
        to_height: 2,
        ..of_10.clone()
    };
    let found = all(only_2);
    assert_eq!(data(&found), vec![3]);
    assert_eq!(
        (
            found[0].height,
            found[0].tx_index,
            found[0].event_index,
            found[0].tx_hash
        ),
        (2, 0, 0, Hash([3; 32]))
    );
    assert_eq!(
        data(&store.events(&topic0_is_1, 2).unwrap()),
        vec![0, 1],
        "limit"
    );
    assert_eq!(data(&store.events(&range, 0).unwrap()), Vec::<u8>::new());
    let nothing = EventFilter {
        contract: Some(addr(99)),
        ..range.clone()
    };
    assert!(all(nothing).is_empty());
    let inverted = EventFilter {
        from_height: 3,
        to_height: 1,
        ..range
    };
    assert!(all(inverted).is_empty());
}
