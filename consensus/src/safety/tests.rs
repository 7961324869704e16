//! The 2-chain (Jolteon) voting and timeout rules, each test named for the rule it checks.

use std::collections::HashMap;

use parity_scale_codec::{Decode, Encode};
use proptest::prelude::*;

use super::*;

const A: [u8; 32] = [0xa; 32];
const B: [u8; 32] = [0xb; 32];

fn tc(round: u64, highest_qc_round: u64) -> Option<TimeoutCertRounds> {
    Some(TimeoutCertRounds {
        round,
        highest_qc_round,
    })
}

#[test]
fn a_validator_votes_once_per_round_and_only_forward() {
    let mut rules = SafetyRules::default();
    rules.vote(1, A, 0, None).unwrap();
    // The same vote again is a retransmission, not a second vote.
    assert_eq!(rules.vote(1, A, 0, None).unwrap().last_vote, Some((1, A)));
    assert_eq!(
        rules.vote(1, B, 0, None),
        Err(SafetyError::OtherBlockVoted { round: 1 })
    );
    rules.vote(2, B, 1, None).unwrap();
    assert!(matches!(
        rules.vote(1, A, 0, None),
        Err(SafetyError::RoundAlreadyVoted { .. })
    ));
}

#[test]
fn a_block_must_extend_the_previous_rounds_qc_or_follow_its_tc() {
    let mut rules = SafetyRules::default();
    // Round 5 with a QC of round 3 and no TC for round 4: refused.
    assert!(matches!(
        rules.vote(5, A, 3, None),
        Err(SafetyError::NotSafeToVote { .. })
    ));
    // With a TC for round 4 whose signers saw at most a QC of round 3: allowed.
    rules.vote(5, A, 3, tc(4, 3)).unwrap();
    // A TC whose signers reported a higher QC than the block carries: refused (the block
    // could skip a block that was committed).
    assert!(matches!(
        rules.vote(7, B, 5, tc(6, 6)),
        Err(SafetyError::NotSafeToVote { .. })
    ));
    // A TC of another round does not help.
    assert!(matches!(
        rules.vote(8, B, 5, tc(6, 5)),
        Err(SafetyError::NotSafeToVote { .. })
    ));
}

#[test]
fn a_timeout_carries_a_qc_at_least_as_high_as_any_seen() {
    let mut rules = SafetyRules::default();
    rules.vote(4, A, 3, None).unwrap();
    assert_eq!(rules.data().one_chain_round, 3);
    // Round 5 timed out; the highest QC known is round 4 (observed in a later proposal).
    assert_eq!(rules.observe_qc(4).map(|d| d.one_chain_round), Some(4));
    assert_eq!(rules.observe_qc(2), None);
    assert_eq!(
        rules.timeout(5, 3, Some(4)),
        Err(SafetyError::StaleTimeoutQc {
            round: 5,
            qc_round: 3,
            needed: 4
        })
    );
    rules.timeout(5, 4, None).unwrap();
}

#[test]
fn a_validator_signs_one_timeout_per_round_and_no_vote_after_it() {
    let mut rules = SafetyRules::default();
    rules.vote(1, A, 0, None).unwrap();
    // Voting in a round does not forbid timing out in it (the vote may make no QC).
    rules.timeout(1, 0, None).unwrap();
    assert!(rules.timeout(1, 0, None).is_ok(), "the same timeout again");
    assert_eq!(
        rules.timeout(1, 0, Some(0)).map(|d| d.last_timeout),
        Ok(Some((1, 0))),
        "the same timeout with a TC it does not need"
    );
    rules.observe_qc(0);
    // After timing out in round 2, no vote in round 2 and no other timeout for it.
    rules.timeout(2, 0, Some(1)).unwrap();
    assert!(matches!(
        rules.vote(2, A, 1, None),
        Err(SafetyError::RoundAlreadyVoted { .. })
    ));
    assert_eq!(
        rules.timeout(2, 1, None),
        Err(SafetyError::OtherTimeoutSigned { round: 2 })
    );
    // Nor a timeout for a round it already passed.
    assert!(matches!(
        rules.timeout(1, 0, None),
        Err(SafetyError::RoundAlreadyVoted { .. })
    ));
    // A timeout needs to be in the round after its QC or TC.
    assert!(matches!(
        rules.timeout(9, 1, Some(2)),
        Err(SafetyError::NotSafeToTimeout { .. })
    ));
}

#[test]
fn safety_data_round_trips_through_scale() {
    let data = SafetyData {
        last_voted_round: 9,
        one_chain_round: 7,
        last_vote: Some((8, A)),
        last_timeout: Some((9, 7)),
    };
    let bytes = data.encode();
    assert_eq!(SafetyData::decode(&mut &bytes[..]).unwrap(), data);
}

#[derive(Clone, Debug)]
enum Request {
    Vote {
        round: u64,
        block: u8,
        qc_round: u64,
        tc: Option<(u64, u64)>,
    },
    Timeout {
        round: u64,
        qc_round: u64,
        tc_round: Option<u64>,
    },
    Observe(u64),
    Restart,
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (
            1..12u64,
            0..3u8,
            0..12u64,
            proptest::option::of((0..12u64, 0..12u64))
        )
            .prop_map(|(round, block, qc_round, tc)| Request::Vote {
                round,
                block,
                qc_round,
                tc
            }),
        (1..12u64, 0..12u64, proptest::option::of(0..12u64)).prop_map(
            |(round, qc_round, tc_round)| Request::Timeout {
                round,
                qc_round,
                tc_round
            }
        ),
        (0..12u64).prop_map(Request::Observe),
        Just(Request::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever a (possibly Byzantine) leader or network asks, and whenever the validator
    /// restarts from the last persisted data: at most one vote and one timeout per round,
    /// no vote in a round after timing out in it, and rounds signed never go backwards.
    #[test]
    fn no_sequence_of_requests_makes_a_validator_equivocate(
        requests in proptest::collection::vec(request(), 1..60)
    ) {
        let mut persisted = SafetyData::default();
        let mut rules = SafetyRules::new(persisted);
        let mut votes: HashMap<u64, [u8; 32]> = HashMap::new();
        let mut timeouts: HashMap<u64, u64> = HashMap::new();
        for r in requests {
            match r {
                Request::Vote { round, block, qc_round, tc } => {
                    let id = [block; 32];
                    let tc = tc.map(|(round, highest_qc_round)| TimeoutCertRounds { round, highest_qc_round });
                    if let Ok(data) = rules.vote(round, id, qc_round, tc) {
                        persisted = data;
                        // Signing the same vote again is a retransmission of a message that
                        // already exists; a new vote after a timeout is not allowed.
                        let new = !votes.contains_key(&round);
                        prop_assert_eq!(*votes.entry(round).or_insert(id), id, "two votes in round {}", round);
                        prop_assert!(!(new && timeouts.contains_key(&round)), "a vote after a timeout in round {}", round);
                        prop_assert!(votes.keys().all(|&r| r <= round));
                    }
                }
                Request::Timeout { round, qc_round, tc_round } => {
                    if let Ok(data) = rules.timeout(round, qc_round, tc_round) {
                        persisted = data;
                        prop_assert_eq!(*timeouts.entry(round).or_insert(qc_round), qc_round, "two timeouts in round {}", round);
                        prop_assert!(timeouts.keys().all(|&r| r <= round));
                    }
                }
                Request::Observe(qc) => {
                    if let Some(data) = rules.observe_qc(qc) {
                        persisted = data;
                    }
                }
                Request::Restart => {
                    rules = SafetyRules::new(SafetyData::decode(&mut &persisted.encode()[..]).unwrap());
                }
            }
        }
    }
}
