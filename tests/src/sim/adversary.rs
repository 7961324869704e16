//! Byzantine validators: they run the honest state machine with their own keys, and change
//! what leaves them. They sign with the raw key (a Byzantine validator has it; it skips the
//! safety signer), so what they send is validly signed where the attack needs it.

use aether_consensus::bls::{BlsSecretKey, BlsSignature, ValidatorSet};
use aether_consensus::certs::{Timeout, TimeoutCert, TimeoutData, Vote, VoteData};
use aether_consensus::hotstuff::{Body, Message};
use aether_consensus::signer::proposal_signing_bytes;
use aether_engine::ports::Topic;
use parity_scale_codec::Encode;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::scenario::Behaviour;

/// Where an adversary sends a message.
pub enum Dest {
    /// Every other node.
    All,
    /// Nodes of this validator index.
    Key(usize),
    /// One node.
    Node(usize),
}

/// A message to send.
pub struct Out {
    /// To whom.
    pub dest: Dest,
    /// Its topic.
    pub topic: Topic,
    /// Its bytes.
    pub payload: Vec<u8>,
}

/// One Byzantine validator's state.
pub struct Adversary {
    /// What it does.
    pub behaviour: Behaviour,
    key: BlsSecretKey,
    index: usize,
    /// Messages heard, for replay.
    heard: Vec<(Topic, Vec<u8>)>,
    /// Honest timeouts heard, by round, for forged TCs.
    timeouts: std::collections::BTreeMap<u64, Vec<Timeout>>,
    /// Rounds a forged TC was sent for.
    forged: std::collections::BTreeSet<u64>,
}

impl Adversary {
    /// Validator `index` with `key`, doing `behaviour`.
    pub fn new(behaviour: Behaviour, key: BlsSecretKey, index: usize) -> Self {
        Self {
            behaviour,
            key,
            index,
            heard: Vec::new(),
            timeouts: Default::default(),
            forged: Default::default(),
        }
    }

    /// Notes a message the Byzantine node received.
    pub fn heard(&mut self, topic: Topic, payload: &[u8]) {
        if self.behaviour == Behaviour::Replay && self.heard.len() < 512 {
            self.heard.push((topic, payload.to_vec()));
        }
        if self.behaviour == Behaviour::InflatedTc
            && let Ok(m) = Message::decode_bounded(payload, usize::MAX)
            && let Body::Timeout(t) = m.body
        {
            let list = self.timeouts.entry(t.data.round).or_default();
            if list.len() < 64 && list.iter().all(|x| x.signer != t.signer) {
                list.push(*t);
            }
        }
    }

    /// What the Byzantine node sends instead of `payload` (which its honest core wanted to
    /// send to `dest`).
    pub fn outgoing(
        &mut self,
        dest: Dest,
        topic: Topic,
        payload: Vec<u8>,
        set: &ValidatorSet,
        nodes: usize,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Out> {
        let Ok(message) = Message::decode_bounded(&payload, usize::MAX) else {
            return Vec::new();
        };
        match self.behaviour {
            Behaviour::Silent => Vec::new(),
            Behaviour::Equivocate => match &message.body {
                Body::Proposal(p) => {
                    let mut other = (**p).clone();
                    other.block.header.timestamp_ms += 1;
                    let id = other.id();
                    other.signature =
                        self.key
                            .sign(&proposal_signing_bytes(other.epoch, other.round, &id));
                    let second = Message {
                        sync: message.sync.clone(),
                        body: Body::Proposal(Box::new(other)),
                    }
                    .encode();
                    (0..nodes)
                        .map(|n| Out {
                            dest: Dest::Node(n),
                            topic,
                            payload: if n % 2 == 0 {
                                payload.clone()
                            } else {
                                second.clone()
                            },
                        })
                        .collect()
                }
                _ => vec![Out {
                    dest,
                    topic,
                    payload,
                }],
            },
            Behaviour::DoubleVote => {
                let mut out = Vec::new();
                if let Body::Vote(v) = &message.body {
                    let mut block_id = v.data.block_id;
                    block_id[0] ^= 0xff;
                    let data = VoteData { block_id, ..v.data };
                    let vote = Vote {
                        data,
                        signer: self.index as u32,
                        signature: self.key.sign(&data.signing_bytes()),
                    };
                    out.push(Out {
                        dest: Dest::Key(self.index_of_dest(&dest)),
                        topic,
                        payload: Message {
                            sync: message.sync.clone(),
                            body: Body::Vote(vote),
                        }
                        .encode(),
                    });
                }
                out.push(Out {
                    dest,
                    topic,
                    payload,
                });
                out
            }
            Behaviour::BadSignatures => {
                let mut m = message;
                match &mut m.body {
                    Body::Proposal(p) => p.signature.0[5] ^= 1,
                    Body::Vote(v) => v.signature.0[5] ^= 1,
                    Body::Timeout(t) => t.signature.0[5] ^= 1,
                    _ => {}
                }
                let garbage: Vec<u8> = (0..rng.random_range(0..200))
                    .map(|_| rng.random())
                    .collect();
                vec![
                    Out {
                        dest,
                        topic,
                        payload: m.encode(),
                    },
                    Out {
                        dest: Dest::All,
                        topic: Topic::ALL[rng.random_range(0..4)],
                        payload: garbage,
                    },
                ]
            }
            Behaviour::Replay => {
                let mut out = vec![Out {
                    dest,
                    topic,
                    payload,
                }];
                for _ in 0..2 {
                    if self.heard.is_empty() {
                        break;
                    }
                    let (t, p) = self.heard[rng.random_range(0..self.heard.len())].clone();
                    out.push(Out {
                        dest: Dest::Node(rng.random_range(0..nodes)),
                        topic: t,
                        payload: p,
                    });
                }
                out
            }
            Behaviour::InflatedTc => {
                let mut out = vec![Out {
                    dest,
                    topic,
                    payload,
                }];
                if let Some(forged) = self.forge_tc(set, &message) {
                    out.push(Out {
                        dest: Dest::All,
                        topic: Topic::Timeouts,
                        payload: forged,
                    });
                }
                out
            }
        }
    }

    fn index_of_dest(&self, dest: &Dest) -> usize {
        match dest {
            Dest::Key(k) => *k,
            _ => self.index,
        }
    }

    /// A TC of a round whose honest timeouts it heard (a quorum with its own), in which its
    /// own timeout claims a QC of the round just before, which no QC has; it carries the real
    /// highest QC. Sent as sync info.
    fn forge_tc(&mut self, set: &ValidatorSet, message: &Message) -> Option<Vec<u8>> {
        let (&round, honest) = self
            .timeouts
            .iter()
            .rev()
            .find(|(r, list)| !self.forged.contains(*r) && list.len() + 1 >= set.quorum())?;
        let claimed = round.checked_sub(1)?;
        let mut parts: Vec<(usize, BlsSignature, u64)> = honest
            .iter()
            .filter(|t| t.signer as usize != self.index)
            .take(set.quorum() - 1)
            .map(|t| (t.signer as usize, t.signature, t.data.hqc_round))
            .collect();
        let data = TimeoutData {
            epoch: honest[0].data.epoch,
            round,
            hqc_round: claimed,
        };
        parts.push((self.index, self.key.sign(&data.signing_bytes()), claimed));
        parts.sort_by_key(|p| p.0);
        let signatures = set
            .aggregate(&parts.iter().map(|(i, s, _)| (*i, *s)).collect::<Vec<_>>())
            .ok()?;
        let high_qc = honest
            .iter()
            .max_by_key(|t| t.high_qc.data.round)?
            .high_qc
            .clone();
        let tc = TimeoutCert {
            epoch: data.epoch,
            round,
            hqc_rounds: parts.iter().map(|p| p.2).collect(),
            signatures,
            high_qc,
        };
        self.forged.insert(round);
        let mut sync = message.sync.clone();
        sync.high_tc = Some(tc);
        Some(
            Message {
                sync,
                body: Body::Sync,
            }
            .encode(),
        )
    }
}
