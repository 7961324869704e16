//! The deterministic consensus simulator: validators running the real HotStuff state machine
//! (real BLS signatures and RFC 9381 VRF proofs, through a verification cache they share) over
//! the real chain (ParityDB stores, pools, the executor; blocks of signed transfers built,
//! executed and verified through the consensus port), on a simulated network and clock.
//!
//! One seed drives everything random: link delays, jitter, loss, duplication, the faults of a
//! [`Scenario`], the transactions submitted. Events run in (time, sequence) order on one
//! thread, so the same seed gives the same run, which [`Outcome::trace`] hashes (every
//! message sent and every commit). The [`check::Checker`] watches every step.

pub mod adversary;
pub mod check;
pub mod node;
pub mod scenario;

use std::collections::BTreeMap;
use std::sync::Arc;

use aether_consensus::VerifyCache;
use aether_consensus::bls::ValidatorSet;
use aether_consensus::hotstuff::{Body, HotStuffConfig, Message, Stats};
use aether_consensus::pacemaker::PacemakerConfig;
use aether_engine::crypto::Keypair;
use aether_engine::ports::{
    CommitFailure, Consensus, ConsensusInput, ConsensusOutput, PeerId, Topic,
};
use aether_engine::types::{Action, Address, Hash, Transaction};
use aether_node::genesis::{Genesis, GenesisAccount, Validator};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

use adversary::{Adversary, Dest};
use check::Checker;
use node::{SharedRecord, SimNode, bls_key, vrf_key};
pub use scenario::{Behaviour, Crash, Link, Partition, Scenario};

/// The genesis time of simulated chains; simulated time 0 is one second after it.
pub const GENESIS_MS: u64 = 1_750_000_000_000;

/// How often each node's clock ticks, ms.
const TICK_MS: u64 = 20;

/// How often a transfer is submitted, ms.
const SUBMIT_MS: u64 = 40;

/// Accounts sending transfers.
const SENDERS: usize = 8;

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    /// Safety violations (forks, double signatures by honest keys) and node errors.
    pub violations: Vec<String>,
    /// Whether every honest node reached the commits required after the heal in time.
    pub live: bool,
    /// SHA-256 over every message sent (time, from, to, payload hash) and every commit.
    pub trace: [u8; 32],
    /// The highest height committed at the heal.
    pub height_at_heal: u64,
    /// Each node's committed height at the end (0 for a node not running).
    pub heights: Vec<u64>,
    /// Simulated time at the end, ms.
    pub end_ms: u64,
    /// When the honest nodes all reached the target, ms (if they did).
    pub live_at_ms: Option<u64>,
    /// Messages sent (before loss).
    pub messages: u64,
    /// Nodes that refused to start because their safety record was missing.
    pub refused_starts: usize,
    /// Consensus counters summed over the nodes running at the end.
    pub stats: Stats,
    /// Transactions committed (by the highest node).
    pub transactions: u64,
    /// Each running node's consensus status at the end.
    pub status: Vec<Option<aether_consensus::hotstuff::Status>>,
}

enum Event {
    Deliver {
        to: usize,
        from: usize,
        topic: Topic,
        payload: Vec<u8>,
    },
    Tick(usize),
    Crash(usize),
    Restart {
        node: usize,
        reset: bool,
    },
    LoseRecord(usize),
    Submit,
    Job {
        node: usize,
        incarnation: u64,
        job: ConsensusOutput,
    },
}

struct Sim {
    scenario: Scenario,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<SimNode>,
    adversaries: Vec<Option<Adversary>>,
    checker: Checker,
    trace: Sha256,
    genesis: Genesis,
    config: HotStuffConfig,
    senders: Vec<Keypair>,
    heights: Vec<u64>,
    messages: u64,
    refused_starts: usize,
    /// Transactions of each committed height (as the first honest node committed it).
    transactions: BTreeMap<u64, u64>,
    _dir: tempfile::TempDir,
}

/// Runs a scenario to its end: every honest node `commits_after_heal` blocks past the height
/// at the heal, or the liveness budget spent.
pub fn run(scenario: &Scenario) -> Outcome {
    Sim::new(scenario.clone()).run()
}

fn peer(key: usize) -> PeerId {
    PeerId(vec![key as u8])
}

impl Sim {
    fn new(scenario: Scenario) -> Self {
        let n = scenario.validators;
        let senders: Vec<Keypair> = (0..SENDERS)
            .map(|i| Keypair::ed25519_from_seed(&[i as u8 + 1; 32]))
            .collect();
        let accounts: Vec<Address> = (0..n)
            .map(|i| Address(Hash::of(&(i as u64).to_le_bytes()).0))
            .collect();
        let mut genesis = Genesis::dev();
        genesis.timestamp_ms = GENESIS_MS;
        genesis.accounts = senders
            .iter()
            .map(|k| GenesisAccount {
                address: k.address(),
                balance: 1 << 100,
            })
            .collect();
        genesis.validators = (0..n)
            .map(|i| {
                let key = bls_key(i);
                Validator {
                    name: format!("v{i}"),
                    account: accounts[i],
                    bls_public_key: format!("0x{}", hex::encode(key.public_key().0)),
                    bls_proof_of_possession: format!(
                        "0x{}",
                        hex::encode(key.proof_of_possession().0)
                    ),
                    vrf_public_key: format!("0x{}", hex::encode(vrf_key(i).public_key())),
                    // The simulator's network addresses validators by index.
                    peer_id: None,
                }
            })
            .collect();
        let set = ValidatorSet::new(
            &(0..n)
                .map(|i| (bls_key(i).public_key(), bls_key(i).proof_of_possession()))
                .collect::<Vec<_>>(),
        )
        .expect("a validator set");
        let genesis_hash = genesis.hash().expect("the genesis hashes").0;
        let config = HotStuffConfig {
            epoch: 1,
            validators: set,
            vrf_keys: (0..n).map(|i| vrf_key(i).public_key()).collect(),
            peers: (0..n).map(peer).collect(),
            accounts,
            seed: genesis_hash,
            genesis: genesis_hash,
            pacemaker: PacemakerConfig {
                base_timeout_ms: scenario.base_timeout_ms,
                max_timeout_ms: scenario.base_timeout_ms * 3,
                ..PacemakerConfig::default()
            },
            min_block_interval_ms: 0,
            max_message_bytes: 4 << 20,
            cache: Some(shared_cache()),
            recent_committed: aether_consensus::hotstuff::RECENT_COMMITTED,
            recent_committed_bytes: aether_consensus::hotstuff::RECENT_COMMITTED_BYTES,
        };
        let dir = scratch_dir();
        let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed ^ 0x51u64.rotate_left(56));
        let nodes = (0..scenario.nodes())
            .map(|i| SimNode {
                key: scenario.key_of(i),
                dir: dir.path().join(format!("node{i}")),
                record: SharedRecord::default(),
                saved: Default::default(),
                skew_ms: rng.random_range(0..30),
                running: None,
                refused: None,
                incarnation: 0,
                busy_until: 0,
            })
            .collect();
        let adversaries = (0..scenario.nodes())
            .map(|i| {
                let key = scenario.key_of(i);
                scenario
                    .byzantine
                    .iter()
                    .find(|(v, _)| *v == key && i < scenario.validators)
                    .map(|(_, b)| Adversary::new(*b, bls_key(key), key))
            })
            .collect();
        Self {
            heights: vec![0; scenario.nodes()],
            scenario,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            adversaries,
            checker: Checker::default(),
            trace: Sha256::new(),
            genesis,
            config,
            senders,
            messages: 0,
            refused_starts: 0,
            transactions: BTreeMap::new(),
            _dir: dir,
        }
    }

    fn at(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((time, self.seq), event);
    }

    fn local(&self, node: usize) -> u64 {
        GENESIS_MS + 1_000 + self.now + self.nodes[node].skew_ms
    }

    fn run(mut self) -> Outcome {
        for node in 0..self.nodes.len() {
            self.start(node, false);
            self.at(node as u64, Event::Tick(node));
        }
        self.at(0, Event::Submit);
        for c in self.scenario.crashes.clone() {
            self.at(c.at_ms, Event::Crash(c.node));
            if c.lose_safety_record {
                // Lost with the crash: the restart must notice.
                self.at(c.at_ms, Event::LoseRecord(c.node));
            }
            self.at(
                c.restart_ms,
                Event::Restart {
                    node: c.node,
                    reset: false,
                },
            );
        }
        if let Some((at, back)) = self.scenario.cluster_restart {
            for node in 0..self.nodes.len() {
                self.at(at, Event::Crash(node));
                self.at(back, Event::Restart { node, reset: false });
            }
        }
        let heal = self.scenario.heal_ms;
        let deadline = heal + self.scenario.liveness_budget_ms;
        let mut height_at_heal = None;
        let mut live_at = None;
        while let Some(((time, _), event)) = self.queue.pop_first() {
            if time > deadline {
                break;
            }
            self.now = time;
            if height_at_heal.is_none() && time >= heal {
                height_at_heal = Some(self.checker.highest());
            }
            self.handle(event);
            if let Some(h) = height_at_heal
                && self.all_honest_reached(h + self.scenario.commits_after_heal)
            {
                live_at = Some(self.now);
                break;
            }
        }
        let stats = self.sum_stats();
        let heights = (0..self.nodes.len())
            .map(|i| {
                self.nodes[i]
                    .running
                    .as_ref()
                    .map_or(0, |r| r.chain.head().height)
            })
            .collect();
        Outcome {
            violations: std::mem::take(&mut self.checker.violations),
            live: live_at.is_some(),
            trace: self.trace.clone().finalize().into(),
            height_at_heal: height_at_heal.unwrap_or(0),
            heights,
            end_ms: self.now,
            live_at_ms: live_at,
            messages: self.messages,
            refused_starts: self.refused_starts,
            stats,
            transactions: self.transactions.values().sum(),
            status: self
                .nodes
                .iter()
                .map(|n| n.running.as_ref().map(|r| r.hs.status()))
                .collect(),
        }
    }

    fn sum_stats(&self) -> Stats {
        let mut s = Stats::default();
        for n in &self.nodes {
            if let Some(r) = &n.running {
                let x = r.hs.stats();
                s.proposals += x.proposals;
                s.votes += x.votes;
                s.timeouts += x.timeouts;
                s.qcs_formed += x.qcs_formed;
                s.tcs_formed += x.tcs_formed;
                s.blocks_committed += x.blocks_committed;
                s.refused += x.refused;
                s.equivocations += x.equivocations;
                s.fetches += x.fetches;
            }
        }
        s
    }

    fn all_honest_reached(&self, target: u64) -> bool {
        (0..self.nodes.len())
            .filter(|&i| self.scenario.honest(i))
            .all(|i| self.heights[i] >= target)
    }

    fn start(&mut self, node: usize, reset: bool) {
        let local = self.local(node);
        let genesis = self.genesis.clone();
        let config = self.config.clone();
        let record_missing = self.nodes[node]
            .record
            .0
            .lock()
            .expect("the record")
            .is_none();
        match self.nodes[node].start(&genesis, &config, local, reset) {
            Ok(()) => {
                let height = self.nodes[node]
                    .running
                    .as_ref()
                    .map_or(0, |r| r.chain.head().height);
                if record_missing && !reset && height > 0 {
                    self.checker.violations.push(format!(
                        "node {node} started at height {height} without its safety record"
                    ));
                }
                self.heights[node] = self.nodes[node]
                    .running
                    .as_ref()
                    .map_or(0, |r| r.chain.head().height);
            }
            Err(_) if self.nodes[node].refused.is_some() => {
                self.refused_starts += 1;
                self.nodes[node].refused = None;
                self.trace.update(format!("refused {node} {}", self.now));
                // The operator resets the record knowingly (this node is faulty from now).
                self.at(self.now + 100, Event::Restart { node, reset: true });
            }
            Err(e) => self
                .checker
                .violations
                .push(format!("node {node} cannot start: {e}")),
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Tick(node) => {
                if self.nodes[node].running.is_some() {
                    let now_ms = self.local(node);
                    self.feed(node, ConsensusInput::Tick { now_ms });
                }
                self.at(self.now + TICK_MS, Event::Tick(node));
            }
            Event::Deliver {
                to,
                from,
                topic,
                payload,
            } => {
                if self.nodes[to].running.is_none() {
                    return;
                }
                if let Some(adv) = &mut self.adversaries[to] {
                    adv.heard(topic, &payload);
                }
                let from = peer(self.nodes[from].key);
                self.feed(
                    to,
                    ConsensusInput::Message {
                        from,
                        topic,
                        payload,
                    },
                );
            }
            Event::Crash(node) => {
                // Its queued jobs die with it.
                self.nodes[node].running = None;
                self.nodes[node].incarnation += 1;
                self.nodes[node].busy_until = 0;
                self.trace.update(format!("crash {node} {}", self.now));
            }
            Event::LoseRecord(node) => {
                *self.nodes[node].record.0.lock().expect("the record") = None;
                self.nodes[node].record.take_stored();
            }
            Event::Restart { node, reset } => {
                if self.nodes[node].running.is_none() {
                    self.start(node, reset);
                    self.trace.update(format!("restart {node} {}", self.now));
                }
            }
            Event::Job {
                node,
                incarnation,
                job,
            } => self.run_job(node, incarnation, job),
            Event::Submit => {
                self.submit();
                self.at(self.now + SUBMIT_MS, Event::Submit);
            }
        }
    }

    /// A transfer from one of the senders, with the next nonce the nodes know of, gossiped to
    /// every running node's pool.
    fn submit(&mut self) {
        let k = self.rng.random_range(0..self.senders.len());
        let sender = self.senders[k].address();
        let nonce = self
            .nodes
            .iter()
            .filter_map(|n| n.running.as_ref())
            .filter_map(|r| r.chain.next_nonce(&sender).ok())
            .max()
            .unwrap_or(0);
        let to = Address(Hash::of(&self.rng.random::<u64>().to_le_bytes()).0);
        let tx = self.senders[k].sign_tx(Transaction {
            chain_id: self.genesis.chain_id,
            nonce,
            gas_limit: 30_000,
            gas_price: 1,
            action: Action::Transfer { to, amount: 1 },
        });
        // The nodes share what they verified (as they share the BLS cache): the first pool that
        // admits the transfer checks its signature, the others find it checked.
        let hash = tx.hash();
        let mut checked = false;
        for i in 0..self.nodes.len() {
            let now = self.local(i);
            if let Some(r) = &self.nodes[i].running {
                if checked {
                    r.chain.verified_signatures().insert(hash);
                }
                checked |= r.chain.submit(tx.clone(), now).is_ok();
            }
        }
    }

    /// Hands `input` to node `node`: its network outputs are sent at once; its execution
    /// outputs (build, verify, commit, prune) queue on the node's execution thread, which
    /// answers each after a delay, in order (a commit block by block, so a crash can fall
    /// between two blocks of one commit).
    fn feed(&mut self, node: usize, input: ConsensusInput) {
        let honest = self.scenario.honest(node);
        let Some(run) = self.nodes[node].running.as_mut() else {
            return;
        };
        let outputs = run.hs.handle(input);
        let stored = self.nodes[node].record.take_stored();
        if honest {
            let key = self.nodes[node].key as u32;
            for record in &stored {
                self.checker.on_honest_record(key, record);
            }
        }
        let incarnation = self.nodes[node].incarnation;
        for output in outputs {
            match output {
                ConsensusOutput::Broadcast { topic, payload } => {
                    self.send(node, Dest::All, topic, payload, honest)
                }
                ConsensusOutput::Send { to, topic, payload } => {
                    let key = to.0.first().copied().unwrap_or(0) as usize;
                    self.send(node, Dest::Key(key), topic, payload, honest)
                }
                ConsensusOutput::Commit { blocks, proof } => {
                    for block in blocks {
                        self.queue_job(
                            node,
                            incarnation,
                            ConsensusOutput::Commit {
                                blocks: vec![block],
                                proof: proof.clone(),
                            },
                        );
                    }
                }
                job => self.queue_job(node, incarnation, job),
            }
        }
    }

    /// Queues a job on node `node`'s execution thread: done after the jobs before it, each
    /// taking 1 to 15 ms.
    fn queue_job(&mut self, node: usize, incarnation: u64, job: ConsensusOutput) {
        let took = self.rng.random_range(1..=15);
        let at = self.nodes[node].busy_until.max(self.now) + took;
        self.nodes[node].busy_until = at;
        self.at(
            at,
            Event::Job {
                node,
                incarnation,
                job,
            },
        );
    }

    /// The execution thread of node `node` does `job` (unless the node crashed since it was
    /// queued) and hands the answer to consensus.
    fn run_job(&mut self, node: usize, incarnation: u64, job: ConsensusOutput) {
        if self.nodes[node].incarnation != incarnation {
            return;
        }
        let honest = self.scenario.honest(node);
        let now = self.local(node);
        let Some(run) = self.nodes[node].running.as_mut() else {
            return;
        };
        let mut answers = Vec::new();
        match job {
            ConsensusOutput::Build {
                parent,
                height,
                timestamp_ms,
                proposer,
            } => match run.chain.build(parent, height, timestamp_ms, proposer) {
                Ok(Ok(block)) => answers.push(ConsensusInput::Built { block }),
                Ok(Err(reason)) => answers.push(ConsensusInput::BuildFailed { parent, reason }),
                Err(e) => self
                    .checker
                    .violations
                    .push(format!("node {node}: build failed: {e}")),
            },
            ConsensusOutput::Verify { block } => match run.chain.verify(&block, now) {
                Ok(verdict) => answers.push(ConsensusInput::Verified {
                    id: block.header.hash(),
                    verdict,
                }),
                Err(e) => self
                    .checker
                    .violations
                    .push(format!("node {node}: verify failed: {e}")),
            },
            ConsensusOutput::Commit { blocks, proof } => match run.chain.commit(&blocks, &proof) {
                Ok((committed, failure)) => {
                    for c in committed {
                        let h = c.header.height;
                        let hash = c.header.hash().0;
                        self.trace.update(
                            [&(node as u64).to_le_bytes()[..], &h.to_le_bytes(), &hash].concat(),
                        );
                        if honest {
                            self.checker.on_commit(node, h, hash);
                            self.transactions.entry(h).or_insert(c.transactions as u64);
                        }
                        self.heights[node] = self.heights[node].max(h);
                        answers.push(ConsensusInput::Committed { header: c.header });
                    }
                    if let Some(reason) = failure {
                        let block = match &reason {
                            CommitFailure::NotPending(b) => *b,
                            CommitFailure::NotOnHead { block, .. } => *block,
                        };
                        answers.push(ConsensusInput::CommitFailed { block, reason });
                    }
                }
                Err(e) => self
                    .checker
                    .violations
                    .push(format!("node {node}: commit failed: {e}")),
            },
            ConsensusOutput::Prune { keep } => run.chain.prune(&keep),
            ConsensusOutput::Broadcast { .. } | ConsensusOutput::Send { .. } => {}
        }
        for answer in answers {
            self.feed(node, answer);
        }
    }

    fn send(&mut self, from: usize, dest: Dest, topic: Topic, payload: Vec<u8>, honest: bool) {
        if honest {
            self.checker.on_honest_send(from, &payload);
        }
        let outs = match &mut self.adversaries[from] {
            Some(adv) => adv.outgoing(
                dest,
                topic,
                payload,
                &self.config.validators,
                self.nodes.len(),
                &mut self.rng,
            ),
            None => vec![adversary::Out {
                dest,
                topic,
                payload,
            }],
        };
        for out in outs {
            let targets: Vec<usize> = match out.dest {
                Dest::All => (0..self.nodes.len()).filter(|&n| n != from).collect(),
                Dest::Key(k) => (0..self.nodes.len())
                    .filter(|&n| n != from && self.nodes[n].key == k)
                    .collect(),
                Dest::Node(n) if n != from && n < self.nodes.len() => vec![n],
                Dest::Node(_) => Vec::new(),
            };
            let round = self.round_of(from, &out.payload);
            for to in targets {
                self.transmit(from, to, out.topic, out.payload.clone(), round);
            }
        }
    }

    /// The round a message belongs to, for partitions by round: its body's, or the sender's.
    fn round_of(&self, from: usize, payload: &[u8]) -> u64 {
        if self.scenario.round_partitions.is_empty() {
            return 0;
        }
        let sender = self.nodes[from]
            .running
            .as_ref()
            .map_or(0, |r| r.hs.round());
        match Message::decode_bounded(payload, usize::MAX).map(|m| m.body) {
            Ok(Body::Proposal(p)) => p.round,
            Ok(Body::Vote(v)) => v.data.round,
            Ok(Body::Timeout(t)) => t.data.round,
            _ => sender,
        }
    }

    fn connected(&self, from: usize, to: usize, round: u64) -> bool {
        for p in &self.scenario.partitions {
            if self.now >= p.from_ms
                && self.now < p.to_ms
                && p.group_of.get(from) != p.group_of.get(to)
            {
                return false;
            }
        }
        if round >= 1
            && self.now < self.scenario.heal_ms
            && let Some(groups) = self.scenario.round_partitions.get(round as usize - 1)
            && groups.get(from) != groups.get(to)
        {
            return false;
        }
        true
    }

    fn transmit(&mut self, from: usize, to: usize, topic: Topic, payload: Vec<u8>, round: u64) {
        self.messages += 1;
        self.trace.update(
            [
                &self.now.to_le_bytes()[..],
                &(from as u64).to_le_bytes(),
                &(to as u64).to_le_bytes(),
                &Sha256::digest(&payload)[..],
            ]
            .concat(),
        );
        if !self.connected(from, to, round) {
            return;
        }
        let link = self.scenario.link;
        if self.now < self.scenario.heal_ms && self.rng.random_bool(link.loss) {
            return;
        }
        let copies = if self.rng.random_bool(link.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = link.delay_ms + self.rng.random_range(0..=link.jitter_ms);
            self.at(
                self.now + delay.max(1),
                Event::Deliver {
                    to,
                    from,
                    topic,
                    payload: payload.clone(),
                },
            );
        }
    }
}

/// Where the nodes' databases go: memory-backed `/dev/shm` where there is one (a run creates
/// and deletes a database per node; on a disk that is most of its time), else the system's
/// temporary directory.
fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// One verification cache for every simulated validator of every run in this process (keys
/// include the validator set, so runs cannot confuse each other's checks).
fn shared_cache() -> Arc<VerifyCache> {
    static CACHE: std::sync::OnceLock<Arc<VerifyCache>> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| Arc::new(VerifyCache::new(200_000)))
        .clone()
}
