//! What one simulated run does: the cluster, the links, and the faults with their times. A
//! scenario is data; [`Scenario::random`] draws one from a seed, mixing every kind of fault.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// What a Byzantine validator does (it runs the honest protocol underneath, with its own key,
/// and changes what it sends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// As leader, sends one proposal to half the validators and a conflicting one (another
    /// block of the same round, signed) to the others.
    Equivocate,
    /// Signs and sends a second vote, for another block, with each vote.
    DoubleVote,
    /// Corrupts the signature of everything it sends, and sends undecodable bytes.
    BadSignatures,
    /// Replays old messages it heard (stale certificates, old proposals, old votes) to
    /// random validators.
    Replay,
    /// Forges timeout certificates whose signers claim a QC round no QC has (the attack that
    /// froze voting before TCs carried their highest QC).
    InflatedTc,
    /// Sends nothing.
    Silent,
}

impl Behaviour {
    /// Every behaviour.
    pub const ALL: [Behaviour; 6] = [
        Behaviour::Equivocate,
        Behaviour::DoubleVote,
        Behaviour::BadSignatures,
        Behaviour::Replay,
        Behaviour::InflatedTc,
        Behaviour::Silent,
    ];
}

/// Delay, jitter, loss and duplication of every link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Least delay, ms.
    pub delay_ms: u64,
    /// Extra delay drawn uniformly from 0 to this, ms.
    pub jitter_ms: u64,
    /// Probability a message is lost (before the network heals).
    pub loss: f64,
    /// Probability a message is delivered twice.
    pub duplicate: f64,
}

/// The nodes split into groups that cannot talk to each other, for a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// From, ms.
    pub from_ms: u64,
    /// Until (healed), ms.
    pub to_ms: u64,
    /// The group of each node.
    pub group_of: Vec<u8>,
}

/// A node crashes and restarts with its database and safety record (or without the record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crash {
    /// The node.
    pub node: usize,
    /// When it crashes, ms.
    pub at_ms: u64,
    /// When it restarts, ms.
    pub restart_ms: u64,
    /// Its safety record is lost: it must refuse to start (then it is restarted with the record
    /// reset, knowingly, as an operator would, and counts as faulty).
    pub lose_safety_record: bool,
}

/// One simulated run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Drives the links and the transactions.
    pub seed: u64,
    /// Distinct validator keys.
    pub validators: usize,
    /// Validators run twice (a second node with the same key: Twins).
    pub twins: Vec<usize>,
    /// Byzantine validators and what they do.
    pub byzantine: Vec<(usize, Behaviour)>,
    /// The links.
    pub link: Link,
    /// Partitions by time.
    pub partitions: Vec<Partition>,
    /// Partitions by round (Twins): before the heal, a message of round r goes only between
    /// nodes of the same group in `round_partitions[r - 1]`.
    pub round_partitions: Vec<Vec<u8>>,
    /// Crashes and restarts.
    pub crashes: Vec<Crash>,
    /// The whole cluster crashes then restarts, (at, restart) ms.
    pub cluster_restart: Option<(u64, u64)>,
    /// The network heals: no loss, no partitions after this (ms).
    pub heal_ms: u64,
    /// Commits every honest node must reach after the heal.
    pub commits_after_heal: u64,
    /// Simulated time allowed after the heal for them, ms.
    pub liveness_budget_ms: u64,
    /// Round timeout at the start, ms.
    pub base_timeout_ms: u64,
}

impl Scenario {
    /// A healthy cluster of `validators` on a `delay_ms` link.
    pub fn calm(seed: u64, validators: usize, delay_ms: u64) -> Self {
        Self {
            seed,
            validators,
            twins: Vec::new(),
            byzantine: Vec::new(),
            link: Link {
                delay_ms,
                jitter_ms: delay_ms / 2,
                loss: 0.0,
                duplicate: 0.0,
            },
            partitions: Vec::new(),
            round_partitions: Vec::new(),
            crashes: Vec::new(),
            cluster_restart: None,
            heal_ms: 0,
            commits_after_heal: 10,
            liveness_budget_ms: 60_000,
            base_timeout_ms: 400,
        }
    }

    /// The number of nodes (validators and their twins).
    pub fn nodes(&self) -> usize {
        self.validators + self.twins.len()
    }

    /// The validator key node `node` runs.
    pub fn key_of(&self, node: usize) -> usize {
        if node < self.validators {
            node
        } else {
            self.twins[node - self.validators]
        }
    }

    /// Whether node `node` is honest: not Byzantine, not a twin's key, and its safety record
    /// is never lost.
    pub fn honest(&self, node: usize) -> bool {
        let key = self.key_of(node);
        !self.twins.contains(&key)
            && !self.byzantine.iter().any(|(v, _)| *v == key)
            && !self
                .crashes
                .iter()
                .any(|c| c.lose_safety_record && self.key_of(c.node) == key)
    }

    /// A Twins case (Bano et al., "Twins: BFT Systems Made Robust", 2021; commonware's
    /// campaign): `validators` validators, each of `twins` run by two nodes with one key; for
    /// each of the first `rounds` rounds the nodes are split in two groups drawn from `seed`,
    /// with every twin pair split and a quorum of keys on one side, and a message of such a
    /// round reaches only its group; later rounds are connected. The partitions hold until the
    /// heal after 5 s (validators stuck in different rounds may never meet otherwise: a
    /// round's timeouts are partitioned too). The twins are the adversary: honest nodes must never fork.
    pub fn twins(seed: u64, validators: usize, twins: &[usize], rounds: usize, link: Link) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut s = Scenario::calm(seed, validators, link.delay_ms);
        s.link = link;
        s.twins = twins.to_vec();
        s.heal_ms = 5_000;
        let nodes = s.nodes();
        let quorum = validators - (validators - 1) / 3;
        s.round_partitions = (0..rounds)
            .map(|_| {
                loop {
                    let mut groups: Vec<u8> = (0..nodes).map(|_| rng.random_range(0..2)).collect();
                    for (k, &v) in twins.iter().enumerate() {
                        groups[validators + k] = 1 - groups[v];
                    }
                    // One side must hold a quorum of keys, or no certificate of the round could
                    // ever form (its timeouts are partitioned too) and nothing could move on.
                    let keys_in = |g: u8| {
                        (0..validators)
                            .filter(|&v| (0..nodes).any(|n| groups[n] == g && s.key_of(n) == v))
                            .count()
                    };
                    if keys_in(0) >= quorum || keys_in(1) >= quorum {
                        break groups;
                    }
                }
            })
            .collect();
        s
    }

    /// A scenario drawn from `seed` for `validators` validators: random links (loss up to
    /// 50%, duplication), and a random mix of partitions that heal, crash-restarts of single
    /// validators, a whole-cluster restart, a lost safety record, and up to f Byzantine
    /// validators with random behaviours. Faults happen in the first 2–5 s; then the network
    /// heals.
    pub fn random(seed: u64, validators: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let f = (validators - 1) / 3;
        let chaos = rng.random_range(2_000..5_000u64);
        let mut s = Scenario::calm(seed, validators, rng.random_range(5..60));
        s.link.jitter_ms = rng.random_range(0..60);
        s.link.loss = if rng.random_bool(0.5) {
            rng.random_range(0.0..0.1)
        } else {
            rng.random_range(0.1..0.5)
        };
        s.link.duplicate = rng.random_range(0.0..0.2);
        s.heal_ms = chaos;
        let mut faulty = 0;
        if rng.random_bool(0.05) {
            let node = rng.random_range(0..validators);
            let at = rng.random_range(0..chaos / 2);
            s.crashes.push(Crash {
                node,
                at_ms: at,
                restart_ms: at + rng.random_range(200..chaos / 2),
                lose_safety_record: true,
            });
            faulty += 1;
        }
        let mut keys: Vec<usize> = (0..validators)
            .filter(|v| s.crashes.iter().all(|c| c.node != *v))
            .collect();
        keys.shuffle(&mut rng);
        if rng.random_bool(0.6) {
            let count = rng.random_range(1..=f.saturating_sub(faulty).max(1));
            for &v in keys.iter().take(count) {
                if faulty >= f {
                    break;
                }
                let b = Behaviour::ALL[rng.random_range(0..Behaviour::ALL.len())];
                s.byzantine.push((v, b));
                faulty += 1;
            }
        }
        if rng.random_bool(0.5) {
            let from = rng.random_range(0..chaos / 2);
            let to = rng.random_range(from + 200..chaos);
            s.partitions.push(Partition {
                from_ms: from,
                to_ms: to,
                group_of: (0..validators).map(|_| rng.random_range(0..2)).collect(),
            });
        }
        if rng.random_bool(0.4) {
            let node = rng.random_range(0..validators);
            let at = rng.random_range(0..chaos / 2);
            s.crashes.push(Crash {
                node,
                at_ms: at,
                restart_ms: at + rng.random_range(200..chaos / 2),
                lose_safety_record: false,
            });
        }
        if rng.random_bool(0.15) {
            let at = rng.random_range(0..chaos / 2);
            s.cluster_restart = Some((at, at + rng.random_range(100..1_000)));
        }
        s
    }
}
