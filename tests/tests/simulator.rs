//! The consensus simulator's campaigns: random fault mixes over 4 and 7 validators, the
//! determinism of a seed, Twins, and the negative control that shows the checker can fail.
//!
//! `AETHER_SIM_SEEDS=N` sets the seeds per validator count of the random campaign (default
//! 500 each in release, so 1,000 in all; 10 in debug builds, which CI runs as well, and where
//! the Twins campaign runs 4 cases per link instead of 20); the long mode is
//! `AETHER_SIM_SEEDS=50000 cargo test --release -p aether-tests --test simulator`.
//! `AETHER_SIM_SKIP=K` starts each campaign K seeds further, so a long campaign can run in
//! parts (seeds 0..K, then K..): a failing seed is printed as soon as it fails, and progress
//! every 1,000 seeds names the last seed done.

use aether_consensus::bls::BlsSignature;
use aether_consensus::certs::{QuorumCert, Vote, VoteData};
use aether_consensus::hotstuff::{Body, Message, SyncInfo};
use aether_consensus::signer::RecordSummary;
use aether_tests::sim::check::Checker;
use aether_tests::sim::{self, Scenario};
use parity_scale_codec::Encode;

#[test]
fn a_calm_cluster_of_four_commits() {
    let out = sim::run(&Scenario::calm(1, 4, 20));
    assert!(out.violations.is_empty(), "{:?}", out.violations);
    assert!(out.live, "{out:?}");
    eprintln!("{out:?}");
}

/// A validator that is down is passed over as leader once the blocks show it absent (DiemBFT
/// v4's leader reputation, its LeaderElection module; here the first draw is kept whenever it
/// is active): with one of four silent, the first draw names it in a quarter of the rounds and
/// its votes' rounds fail too, 7 rounds in 16, and the cluster committed 1.2 blocks per
/// simulated second on a 20 ms link against 12.8 with all four; passed over, it commits
/// 12.0. The bound leaves room for the probation rounds and the window it takes to notice.
#[test]
fn with_one_of_four_validators_down_the_cluster_commits_near_full_pace() {
    let mut s = Scenario::calm(7, 4, 20);
    s.byzantine = vec![(3, sim::Behaviour::Silent)];
    s.commits_after_heal = 100;
    let out = sim::run(&s);
    assert!(out.violations.is_empty(), "{:?}", out.violations);
    assert!(out.live, "{out:?}");
    let commits = out.heights.iter().copied().min().unwrap_or(0) as f64;
    let per_second = commits * 1_000.0 / out.end_ms as f64;
    assert!(
        per_second >= 6.0,
        "{per_second:.1} commits per simulated second with one of four validators down"
    );
}

fn seeds(default_release: u64) -> u64 {
    std::env::var("AETHER_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            10
        } else {
            default_release
        })
}

fn campaign(validators: usize, first: u64, count: u64) {
    let skip: u64 = std::env::var("AETHER_SIM_SKIP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let first = first + skip;
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    for seed in first..first + count {
        let done = seed - first;
        if done > 0 && done.is_multiple_of(1_000) {
            eprintln!(
                "{validators} validators: {done} of {count} seeds (to seed {}) in {:.0} s, {} failing",
                seed - 1,
                started.elapsed().as_secs_f64(),
                failures.len()
            );
        }
        let scenario = Scenario::random(seed, validators);
        let out = sim::run(&scenario);
        if !out.violations.is_empty() || !out.live {
            let failure = format!(
                "seed {seed} ({validators} validators): violations {:?}, live {}, heights {:?} at {} ms (heal {} ms, height then {}), {:?}",
                out.violations,
                out.live,
                out.heights,
                out.end_ms,
                scenario.heal_ms,
                out.height_at_heal,
                scenario
            );
            eprintln!("FAILED {failure}");
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing seeds:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn random_faults_over_four_validators_never_fork_and_recover() {
    campaign(4, 0, seeds(500));
}

#[test]
fn random_faults_over_seven_validators_never_fork_and_recover() {
    campaign(7, 1_000_000, seeds(500));
}

/// Runs one seed and prints what happened: `AETHER_SIM_SEED=N AETHER_SIM_VALIDATORS=7 cargo
/// test -p aether-tests --test simulator one_seed -- --ignored --nocapture`.
#[test]
#[ignore = "a tool: runs the seed named by AETHER_SIM_SEED"]
fn one_seed() {
    let seed = std::env::var("AETHER_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let validators = std::env::var("AETHER_SIM_VALIDATORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let scenario = Scenario::random(seed, validators);
    eprintln!("{scenario:#?}");
    let out = sim::run(&scenario);
    eprintln!("{out:#?}");
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for seed in [3, 17, 29, 1_000_003, 1_000_011] {
        let validators = if seed < 1_000_000 { 4 } else { 7 };
        let scenario = Scenario::random(seed, validators);
        let a = sim::run(&scenario);
        let b = sim::run(&scenario);
        assert_eq!(a.trace, b.trace, "seed {seed}: two runs differ");
        assert_eq!(a.heights, b.heights, "seed {seed}");
        assert!(
            a.messages > 0 && a.heights.iter().any(|h| *h > 0),
            "seed {seed} did nothing"
        );
    }
}

fn link(fast: bool) -> sim::Link {
    if fast {
        sim::Link {
            delay_ms: 5,
            jitter_ms: 3,
            loss: 0.0,
            duplicate: 0.0,
        }
    } else {
        sim::Link {
            delay_ms: 60,
            jitter_ms: 60,
            loss: 0.0,
            duplicate: 0.05,
        }
    }
}

/// Twins (commonware's campaign size or more): 5 validators, one run twice (f = 1), 3
/// adversarial rounds of random partitions that split the twins, 20 cases on a fast link and
/// 20 on a slow one. Safety (Jolteon, section 4, Theorem 1) must hold; after the adversarial
/// rounds the chain must go on (section 5, liveness after GST).
#[test]
fn twins_campaign_keeps_honest_validators_safe_and_live() {
    let mut failures = Vec::new();
    let cases = if cfg!(debug_assertions) { 4 } else { 20 };
    for fast in [true, false] {
        for case in 0..cases {
            let scenario = Scenario::twins(case, 5, &[0], 3, link(fast));
            let out = sim::run(&scenario);
            if !out.violations.is_empty() || !out.live {
                failures.push(format!(
                    "case {case} (fast {fast}): {:?} live {} heights {:?}",
                    out.violations, out.live, out.heights
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The negative control: with f + 1 twins (4 validators, two of them run twice) and each
/// group holding a quorum of keys for 30 rounds, honest validators in the two groups commit
/// different blocks, and the checker must say so (it can fail).
#[test]
fn with_f_plus_one_twins_the_checker_reports_a_fork() {
    let mut forked = 0;
    for case in 0..3 {
        let mut scenario = Scenario::twins(case, 4, &[0, 1], 0, link(true));
        scenario.round_partitions = vec![vec![0, 0, 0, 1, 1, 1]; 30];
        scenario.commits_after_heal = 1_000;
        scenario.liveness_budget_ms = 5_000;
        let out = sim::run(&scenario);
        if out
            .violations
            .iter()
            .any(|v| v.starts_with("fork at height"))
        {
            forked += 1;
        }
    }
    assert_eq!(forked, 3, "every case must fork with f + 1 twins");
}

#[test]
#[ignore = "a tool: runs the Twins case named by AETHER_SIM_SEED"]
fn one_twins_case() {
    let seed = std::env::var("AETHER_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let scenario = Scenario::twins(seed, 5, &[0], 3, link(true));
    eprintln!("{:?}", scenario.round_partitions);
    let out = sim::run(&scenario);
    eprintln!("{:?} {:?} {:?}", out.heights, out.stats, out.messages);
    for s in out.status {
        eprintln!("{s:?}");
    }
}

/// The figures of docs/benchmarks.md: commits per simulated second and messages per commit of
/// healthy clusters and of clusters with silent validators (down, or withholding everything),
/// `cargo test --release -p aether-tests --test simulator figures -- --ignored --nocapture`.
#[test]
#[ignore = "a tool: prints the simulator's figures"]
fn figures() {
    println!(
        "| validators | silent | link (delay + jitter) | commits per simulated s | messages per commit | wall ms per commit |"
    );
    println!("|---|---|---|---|---|---|");
    let healthy = [4, 7]
        .into_iter()
        .flat_map(|v| [5, 20, 50].map(|delay| (v, 0, delay)));
    for (validators, silent, delay) in healthy.chain([(4, 1, 20), (7, 1, 20), (7, 2, 20)]) {
        let mut s = Scenario::calm(7, validators, delay);
        s.byzantine = (validators - silent..validators)
            .map(|v| (v, sim::Behaviour::Silent))
            .collect();
        s.liveness_budget_ms = 1_200_000;
        s.commits_after_heal = 200;
        let started = std::time::Instant::now();
        let out = sim::run(&s);
        let wall = started.elapsed().as_secs_f64() * 1_000.0;
        assert!(out.live && out.violations.is_empty(), "{out:?}");
        let commits = out.heights.iter().copied().min().unwrap_or(0) as f64;
        println!(
            "| {validators} | {silent} | {delay} + 0..{} ms | {:.1} | {:.1} | {:.1} |",
            delay / 2,
            commits * 1_000.0 / out.end_ms as f64,
            out.messages as f64 / commits,
            wall / commits,
        );
    }
}

/// The checker's own negative controls: it reports a fork, a double vote and a double timeout
/// (DiemBFT v4, section 5: the first voting rule and one timeout per round), so a campaign that
/// reports nothing has checked something.
#[test]
fn the_checker_reports_forks_and_double_signatures() {
    let mut c = Checker::default();
    c.on_commit(0, 5, [1; 32]);
    c.on_commit(1, 5, [1; 32]);
    assert!(
        c.violations.is_empty(),
        "the same block at one height is no fork"
    );
    c.on_commit(2, 5, [2; 32]);
    assert!(
        c.violations[0].starts_with("fork at height 5"),
        "{:?}",
        c.violations
    );

    let qc = QuorumCert {
        data: VoteData {
            epoch: 1,
            round: 0,
            block_id: [0; 32],
        },
        signatures: aether_consensus::bls::AggregateSignature {
            signers: aether_consensus::bls::SignerBitmap(vec![0]),
            signature: BlsSignature([0; 96]),
        },
    };
    let vote = |block: u8| {
        Message {
            sync: SyncInfo {
                high_qc: qc.clone(),
                high_commit_qc: None,
                high_tc: None,
            },
            body: Body::Vote(Vote {
                data: VoteData {
                    epoch: 1,
                    round: 9,
                    block_id: [block; 32],
                },
                signer: 3,
                signature: BlsSignature([0; 96]),
            }),
        }
        .encode()
    };
    let mut c = Checker::default();
    c.on_honest_send(3, &vote(7));
    c.on_honest_send(3, &vote(7));
    assert!(
        c.violations.is_empty(),
        "a retransmission is no double vote"
    );
    c.on_honest_send(3, &vote(8));
    assert_eq!(c.violations.len(), 1, "{:?}", c.violations);
    assert!(c.violations[0].contains("voted for two blocks in round 9"));

    // Through the safety record: a vote the next leader gives itself is seen there too.
    let record = |vote: Option<(u64, [u8; 32])>, timeout: Option<(u64, u64)>| RecordSummary {
        epoch: 1,
        last_vote: vote,
        last_timeout: timeout,
        last_proposal: None,
    };
    let mut c = Checker::default();
    c.on_honest_record(2, &record(Some((4, [1; 32])), None));
    c.on_honest_record(2, &record(Some((4, [1; 32])), Some((4, 3))));
    assert!(c.violations.is_empty(), "{:?}", c.violations);
    c.on_honest_record(2, &record(Some((4, [1; 32])), Some((4, 2))));
    c.on_honest_record(2, &record(Some((4, [9; 32])), Some((4, 2))));
    assert!(
        c.violations
            .iter()
            .any(|v| v.contains("two timeouts in round 4"))
            && c.violations
                .iter()
                .any(|v| v.contains("votes for two blocks in round 4")),
        "{:?}",
        c.violations
    );
}

/// A validator that lost its safety record after the chain moved on must refuse to start
/// (DiemBFT v4, section 5: the safety data persists across crashes); the simulator counts the
/// refusal (and reports a start without the record as a violation in every campaign).
#[test]
fn a_lost_safety_record_is_detected_at_restart() {
    let mut s = Scenario::calm(5, 4, 10);
    s.crashes.push(sim::Crash {
        node: 2,
        at_ms: 1_500,
        restart_ms: 2_000,
        lose_safety_record: true,
    });
    s.heal_ms = 2_500;
    let out = sim::run(&s);
    assert!(out.violations.is_empty(), "{:?}", out.violations);
    assert_eq!(out.refused_starts, 1, "{out:?}");
    assert!(out.live, "{out:?}");
}
