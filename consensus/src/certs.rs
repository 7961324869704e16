//! Votes, timeouts and the certificates they make in 2-chain HotStuff, and the checks that
//! turn bytes from the network into values consensus may act on.
//!
//! Only verified values reach vote counting: [`VerifiedVote`], [`VerifiedQc`],
//! [`VerifiedTimeout`] and [`VerifiedTc`] can be built only by a [`Verifier`] (which checks
//! epoch, signer and signature) or by the collectors from verified parts. A quorum certificate
//! (QC) is a quorum's aggregated votes for one block of one round; a timeout certificate (TC)
//! is a quorum's aggregated timeouts for one round, each carrying the round of the highest QC
//! its signer held, so the next leader cannot be made to skip a block that may have committed.
//!
//! Signed bytes are domain-separated (`aether/vote/v1`, `aether/timeout/v1`) and SCALE.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parity_scale_codec::{Decode, Encode};
use sha2::{Digest, Sha256};

use crate::cache::VerifyCache;

use crate::bls::{AggregateSignature, BlsError, BlsSecretKey, BlsSignature, ValidatorSet};

/// A consensus round.
pub type Round = u64;

/// Why a vote, timeout or certificate is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// From another epoch (another validator set).
    #[error("epoch {got}, this validator set is epoch {expected}")]
    WrongEpoch {
        /// This set's epoch.
        expected: u64,
        /// The message's.
        got: u64,
    },
    /// A signature or signer set does not check out.
    #[error(transparent)]
    Bls(#[from] BlsError),
    /// A round-0 certificate that is not this chain's genesis certificate.
    #[error("a certificate of round 0 must be the genesis certificate")]
    NotGenesis,
    /// A timeout claims a highest QC that is not the QC it carries, or not below its round.
    #[error(
        "timeout for round {round} claims a highest QC of round {claimed}, carries one of round {carried}"
    )]
    HighQcMismatch {
        /// The timeout's round.
        round: Round,
        /// The QC round it claims.
        claimed: Round,
        /// The round of the QC it carries.
        carried: Round,
    },
    /// A TC's list of QC rounds does not match its signers, or names a round not below its own.
    #[error("timeout certificate for round {round}: {reason}")]
    BadTimeoutCert {
        /// The TC's round.
        round: Round,
        /// What is wrong.
        reason: String,
    },
}

/// What a vote signs: a block of a round, in an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct VoteData {
    /// The epoch (validator set).
    pub epoch: u64,
    /// The block's round.
    pub round: Round,
    /// The block's consensus id: its proposal's id (which covers the engine header's hash).
    pub block_id: [u8; 32],
}

impl VoteData {
    /// The bytes signed.
    pub fn signing_bytes(&self) -> Vec<u8> {
        (b"aether/vote/v1", self).encode()
    }
}

/// What a timeout signs: a round given up on, and the round of the highest QC the signer
/// holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct TimeoutData {
    /// The epoch.
    pub epoch: u64,
    /// The round that timed out.
    pub round: Round,
    /// The round of the signer's highest QC.
    pub hqc_round: Round,
}

impl TimeoutData {
    /// The bytes signed.
    pub fn signing_bytes(&self) -> Vec<u8> {
        (b"aether/timeout/v1", self).encode()
    }
}

/// A validator's vote, as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Vote {
    /// What it votes for.
    pub data: VoteData,
    /// The voter's index in the validator set.
    pub signer: u32,
    /// Its signature of [`VoteData::signing_bytes`].
    pub signature: BlsSignature,
}

impl Vote {
    /// Signs `data` as validator `signer`. Only [`crate::signer::SafetySigner`] calls it (after
    /// the rules allowed the vote and its record was stored), and the crate's tests.
    pub(crate) fn sign(data: VoteData, signer: u32, key: &BlsSecretKey) -> Self {
        Self {
            signature: key.sign(&data.signing_bytes()),
            data,
            signer,
        }
    }
}

/// A quorum's votes for one block, as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct QuorumCert {
    /// What was voted for.
    pub data: VoteData,
    /// The voters and their aggregated signature (empty for the genesis certificate).
    pub signatures: AggregateSignature,
}

/// A validator's timeout, as it travels: it carries the highest QC its signer holds.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Timeout {
    /// What it signs.
    pub data: TimeoutData,
    /// The QC of round `data.hqc_round`.
    pub high_qc: QuorumCert,
    /// The signer's index.
    pub signer: u32,
    /// Its signature of [`TimeoutData::signing_bytes`].
    pub signature: BlsSignature,
}

impl Timeout {
    /// Signs `data` as validator `signer`, carrying `high_qc`. Only
    /// [`crate::signer::SafetySigner`] calls it, and the crate's tests.
    pub(crate) fn sign(
        data: TimeoutData,
        high_qc: &VerifiedQc,
        signer: u32,
        key: &BlsSecretKey,
    ) -> Self {
        Self {
            signature: key.sign(&data.signing_bytes()),
            data,
            high_qc: high_qc.get().clone(),
            signer,
        }
    }
}

/// A quorum's timeouts for one round, as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TimeoutCert {
    /// The epoch.
    pub epoch: u64,
    /// The round that timed out.
    pub round: Round,
    /// Each signer's highest QC round, in the order of the bitmap (ascending index).
    pub hqc_rounds: Vec<Round>,
    /// The signers and their aggregated signature (each signed its own [`TimeoutData`]).
    pub signatures: AggregateSignature,
    /// The QC of the highest round any signer reported: a TC must carry it, so that a signer
    /// cannot claim a round no QC has and freeze voting (a block after the TC must carry a QC
    /// at least this high, which must then exist).
    pub high_qc: QuorumCert,
}

impl TimeoutCert {
    /// The highest QC round any signer reported: a block after this TC must carry a QC at
    /// least this high.
    pub fn highest_qc_round(&self) -> Round {
        self.hqc_rounds.iter().copied().max().unwrap_or(0)
    }
}

macro_rules! verified {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name($inner);

        impl $name {
            /// The verified value.
            pub fn get(&self) -> &$inner {
                &self.0
            }

            /// The value, to send on.
            pub fn into_inner(self) -> $inner {
                self.0
            }
        }
    };
}

verified!(
    /// A vote whose signer and signature were checked.
    VerifiedVote(Vote)
);
verified!(
    /// A quorum certificate that was checked (or built from verified votes, or the genesis one).
    VerifiedQc(QuorumCert)
);
verified!(
    /// A timeout whose signature and carried QC were checked.
    VerifiedTimeout(Timeout)
);
verified!(
    /// A timeout certificate that was checked (or built from verified timeouts).
    VerifiedTc(TimeoutCert)
);

impl VerifiedQc {
    /// The certified round.
    pub fn round(&self) -> Round {
        self.0.data.round
    }

    /// The certified block.
    pub fn block_id(&self) -> [u8; 32] {
        self.0.data.block_id
    }
}

#[cfg(test)]
impl VerifiedQc {
    /// A certificate for tests of the structures that take verified ones (no signatures).
    pub(crate) fn unchecked_for_tests(round: Round, block_id: [u8; 32]) -> Self {
        VerifiedQc(QuorumCert {
            data: VoteData {
                epoch: 0,
                round,
                block_id,
            },
            signatures: AggregateSignature {
                signers: crate::bls::SignerBitmap(Vec::new()),
                signature: BlsSignature([0; 96]),
            },
        })
    }
}

impl VerifiedTimeout {
    /// The QC the timeout carries, verified with it.
    pub fn high_qc(&self) -> VerifiedQc {
        VerifiedQc(self.0.high_qc.clone())
    }
}

impl VerifiedTc {
    /// The round that timed out.
    pub fn round(&self) -> Round {
        self.0.round
    }

    /// See [`TimeoutCert::highest_qc_round`].
    pub fn highest_qc_round(&self) -> Round {
        self.0.highest_qc_round()
    }

    /// The QC of [`VerifiedTc::highest_qc_round`], verified with the TC.
    pub fn high_qc(&self) -> VerifiedQc {
        VerifiedQc(self.0.high_qc.clone())
    }
}

/// Checks messages of one epoch against its validator set.
#[derive(Clone, Debug)]
pub struct Verifier {
    epoch: u64,
    set: ValidatorSet,
    genesis: QuorumCert,
    /// Hash of the epoch, the genesis certificate and the keys: what a cached check was
    /// checked against.
    context: [u8; 32],
    cache: Option<Arc<VerifyCache>>,
}

impl Verifier {
    /// The verifier of `epoch`, whose chain starts at block `genesis_block` (certified by
    /// the genesis certificate: round 0, no signatures, taken on trust by every validator).
    pub fn new(epoch: u64, set: ValidatorSet, genesis_block: [u8; 32]) -> Self {
        let genesis = QuorumCert {
            data: VoteData {
                epoch,
                round: 0,
                block_id: genesis_block,
            },
            signatures: AggregateSignature {
                signers: crate::bls::SignerBitmap::new(set.len()),
                signature: BlsSignature([0; 96]),
            },
        };
        let mut context = Sha256::new()
            .chain_update(b"aether/verifier/v1")
            .chain_update(genesis.encode());
        for key in set.keys() {
            context.update(key.0);
        }
        Self {
            epoch,
            set,
            genesis,
            context: context.finalize().into(),
            cache: None,
        }
    }

    /// The same verifier, remembering the checks that pass in `cache` (shared with others,
    /// possibly of other sets: keys include what was checked against).
    pub fn with_cache(mut self, cache: Arc<VerifyCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// What `check` produced for `encoded` (a message of `kind`) when it passed before, else
    /// runs it and remembers a success.
    pub(crate) fn cached<T>(
        &self,
        kind: &[u8],
        encoded: impl FnOnce() -> Vec<u8>,
        check: impl FnOnce() -> Result<Vec<u8>, T>,
    ) -> Result<Vec<u8>, T> {
        let Some(cache) = &self.cache else {
            return check();
        };
        let key = VerifyCache::key(&self.context, kind, &encoded());
        if let Some(hit) = cache.get(&key) {
            return Ok(hit);
        }
        let value = check()?;
        cache.insert(key, value.clone());
        Ok(value)
    }

    /// The validator set.
    pub fn validators(&self) -> &ValidatorSet {
        &self.set
    }

    /// The epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The genesis certificate.
    pub fn genesis_qc(&self) -> VerifiedQc {
        VerifiedQc(self.genesis.clone())
    }

    fn epoch_is(&self, got: u64) -> Result<(), CertError> {
        if got == self.epoch {
            Ok(())
        } else {
            Err(CertError::WrongEpoch {
                expected: self.epoch,
                got,
            })
        }
    }

    /// Checks a vote's epoch, signer and signature.
    pub fn vote(&self, vote: Vote) -> Result<VerifiedVote, CertError> {
        self.epoch_is(vote.data.epoch)?;
        self.cached(
            b"vote",
            || vote.encode(),
            || {
                self.set
                    .verify(
                        vote.signer as usize,
                        &vote.data.signing_bytes(),
                        &vote.signature,
                    )
                    .map(|()| Vec::new())
            },
        )?;
        Ok(VerifiedVote(vote))
    }

    /// Checks a QC: the genesis certificate, or a quorum's aggregated votes.
    pub fn qc(&self, qc: QuorumCert) -> Result<VerifiedQc, CertError> {
        self.epoch_is(qc.data.epoch)?;
        if qc.data.round == 0 {
            return if qc == self.genesis {
                Ok(VerifiedQc(qc))
            } else {
                Err(CertError::NotGenesis)
            };
        }
        self.cached(
            b"qc",
            || qc.encode(),
            || {
                self.set
                    .verify_quorum(&qc.data.signing_bytes(), &qc.signatures)
                    .map(|()| Vec::new())
            },
        )?;
        Ok(VerifiedQc(qc))
    }

    /// Checks a timeout: epoch, signer, signature, and that the QC it carries is valid and of
    /// the round it claims, below the timeout's round.
    pub fn timeout(&self, timeout: Timeout) -> Result<VerifiedTimeout, CertError> {
        self.epoch_is(timeout.data.epoch)?;
        let carried = timeout.high_qc.data.round;
        if carried != timeout.data.hqc_round || carried >= timeout.data.round {
            return Err(CertError::HighQcMismatch {
                round: timeout.data.round,
                claimed: timeout.data.hqc_round,
                carried,
            });
        }
        self.cached(
            b"timeout",
            || timeout.encode(),
            || {
                self.set.verify(
                    timeout.signer as usize,
                    &timeout.data.signing_bytes(),
                    &timeout.signature,
                )?;
                self.qc(timeout.high_qc.clone()).map(|_| Vec::new())
            },
        )?;
        Ok(VerifiedTimeout(timeout))
    }

    /// Checks a TC: one QC round per signer, each below the TC's round, and the aggregate of
    /// a quorum's timeouts, each over its own QC round.
    pub fn tc(&self, tc: TimeoutCert) -> Result<VerifiedTc, CertError> {
        self.epoch_is(tc.epoch)?;
        let bad = |reason: String| CertError::BadTimeoutCert {
            round: tc.round,
            reason,
        };
        // The bitmap's size first: a hostile TC's bitmap may be megabytes of ones.
        let expected = crate::bls::SignerBitmap::bytes_for(self.set.len());
        if tc.signatures.signers.0.len() != expected {
            return Err(CertError::Bls(BlsError::BitmapSize {
                got: tc.signatures.signers.0.len(),
                expected,
                validators: self.set.len(),
            }));
        }
        let signers: Vec<usize> = tc.signatures.signers.iter().collect();
        if signers.len() != tc.hqc_rounds.len() {
            return Err(bad(format!(
                "{} QC rounds for {} signers",
                tc.hqc_rounds.len(),
                signers.len()
            )));
        }
        if let Some(r) = tc.hqc_rounds.iter().find(|&&r| r >= tc.round) {
            return Err(bad(format!("a QC round {r} is not below the TC's round")));
        }
        // The highest round a signer claims must be a QC that exists: the TC carries it.
        let claimed = tc.highest_qc_round();
        if tc.high_qc.data.round != claimed {
            return Err(bad(format!(
                "its signers claim a highest QC of round {claimed}, it carries one of round {}",
                tc.high_qc.data.round
            )));
        }
        self.cached(
            b"tc",
            || tc.encode(),
            || {
                self.qc(tc.high_qc.clone())?;
                let position: HashMap<usize, usize> =
                    signers.iter().enumerate().map(|(p, &i)| (i, p)).collect();
                self.set.verify_quorum_each(&tc.signatures, |i| {
                    TimeoutData {
                        epoch: tc.epoch,
                        round: tc.round,
                        hqc_round: position.get(&i).map_or(0, |&p| tc.hqc_rounds[p]),
                    }
                    .signing_bytes()
                })?;
                Ok::<_, CertError>(Vec::new())
            },
        )?;
        Ok(VerifiedTc(tc))
    }
}

/// What adding a vote did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Counted; no quorum yet (or a QC was already formed for this block).
    Counted,
    /// The same vote again: ignored.
    Duplicate,
    /// This vote completed a quorum: the new certificate.
    Certified(VerifiedQc),
    /// The vote's round is below the collector's window or [`ROUND_WINDOW`] rounds or more
    /// above it: not kept.
    OutOfWindow,
    /// The signer voted for two blocks in one round: evidence of equivocation (the vote is
    /// not counted).
    Equivocation {
        /// The first vote.
        first: Box<Vote>,
        /// The conflicting one.
        second: Box<Vote>,
    },
}

/// How many rounds from the lowest one still kept (see `prune_below`) the collectors accept:
/// votes and timeouts for rounds beyond are refused, so a flood of messages for far-future
/// rounds cannot grow them without bound.
pub const ROUND_WINDOW: Round = 64;

/// Collects verified votes into quorum certificates, for a window of [`ROUND_WINDOW`] rounds.
#[derive(Debug)]
pub struct VoteCollector {
    quorum: usize,
    /// The lowest round kept.
    floor: Round,
    /// Votes per (round, block), by signer.
    votes: BTreeMap<(Round, [u8; 32]), BTreeMap<usize, BlsSignature>>,
    /// Each signer's vote per round.
    by_signer: HashMap<(Round, usize), Vote>,
}

impl VoteCollector {
    /// A collector for `set`.
    pub fn new(set: &ValidatorSet) -> Self {
        Self {
            quorum: set.quorum(),
            floor: 0,
            votes: BTreeMap::new(),
            by_signer: HashMap::new(),
        }
    }

    /// Adds a verified vote.
    pub fn add(&mut self, set: &ValidatorSet, vote: VerifiedVote) -> VoteOutcome {
        let vote = vote.0;
        let signer = vote.signer as usize;
        let round = vote.data.round;
        if !in_window(round, self.floor) {
            return VoteOutcome::OutOfWindow;
        }
        if let Some(first) = self.by_signer.get(&(round, signer)) {
            return if first.data == vote.data {
                VoteOutcome::Duplicate
            } else {
                VoteOutcome::Equivocation {
                    first: Box::new(first.clone()),
                    second: Box::new(vote),
                }
            };
        }
        self.by_signer.insert((round, signer), vote.clone());
        let entry = self.votes.entry((round, vote.data.block_id)).or_default();
        entry.insert(signer, vote.signature);
        if entry.len() != self.quorum {
            return VoteOutcome::Counted;
        }
        let parts: Vec<(usize, BlsSignature)> = entry.iter().map(|(&i, s)| (i, *s)).collect();
        match set.aggregate(&parts) {
            Ok(signatures) => VoteOutcome::Certified(VerifiedQc(QuorumCert {
                data: vote.data,
                signatures,
            })),
            // Verified votes always aggregate; a failure means the set changed under us.
            Err(_) => VoteOutcome::Counted,
        }
    }

    /// Forgets everything below `round` (rounds that can no longer matter), and moves the
    /// window of accepted rounds to start there.
    pub fn prune_below(&mut self, round: Round) {
        self.floor = self.floor.max(round);
        self.votes.retain(|(r, _), _| *r >= round);
        self.by_signer.retain(|(r, _), _| *r >= round);
    }
}

/// What adding a timeout did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeoutOutcome {
    /// Counted; no quorum yet (or the TC was already formed).
    Counted,
    /// This signer already timed out in this round: ignored.
    Duplicate,
    /// The timeout's round is outside the collector's window: not kept.
    OutOfWindow,
    /// This timeout completed a quorum: the TC, and the highest QC the timeouts carried
    /// (which the next leader's proposal must extend).
    Certified {
        /// The timeout certificate.
        tc: Box<VerifiedTc>,
        /// The highest QC among the quorum's timeouts.
        high_qc: Box<VerifiedQc>,
    },
}

/// Collects verified timeouts into timeout certificates, for a window of [`ROUND_WINDOW`]
/// rounds.
#[derive(Debug)]
pub struct TimeoutCollector {
    quorum: usize,
    /// The lowest round kept.
    floor: Round,
    /// Timeouts per round, by signer.
    rounds: BTreeMap<Round, BTreeMap<usize, Timeout>>,
}

impl TimeoutCollector {
    /// A collector for `set`.
    pub fn new(set: &ValidatorSet) -> Self {
        Self {
            quorum: set.quorum(),
            floor: 0,
            rounds: BTreeMap::new(),
        }
    }

    /// Adds a verified timeout.
    pub fn add(&mut self, set: &ValidatorSet, timeout: VerifiedTimeout) -> TimeoutOutcome {
        let timeout = timeout.0;
        let round = timeout.data.round;
        if !in_window(round, self.floor) {
            return TimeoutOutcome::OutOfWindow;
        }
        let entry = self.rounds.entry(round).or_default();
        let signer = timeout.signer as usize;
        if entry.contains_key(&signer) {
            return TimeoutOutcome::Duplicate;
        }
        entry.insert(signer, timeout.clone());
        if entry.len() != self.quorum {
            return TimeoutOutcome::Counted;
        }
        let parts: Vec<(usize, BlsSignature)> =
            entry.iter().map(|(&i, t)| (i, t.signature)).collect();
        let Ok(signatures) = set.aggregate(&parts) else {
            return TimeoutOutcome::Counted;
        };
        let hqc_rounds = entry.values().map(|t| t.data.hqc_round).collect();
        let high_qc = entry
            .values()
            .max_by_key(|t| t.high_qc.data.round)
            .map(|t| t.high_qc.clone())
            .unwrap_or_else(|| timeout.high_qc.clone());
        TimeoutOutcome::Certified {
            tc: Box::new(VerifiedTc(TimeoutCert {
                epoch: timeout.data.epoch,
                round,
                hqc_rounds,
                signatures,
                high_qc: high_qc.clone(),
            })),
            high_qc: Box::new(VerifiedQc(high_qc)),
        }
    }

    /// How many validators timed out in `round` (so far as this collector heard).
    pub fn signers(&self, round: Round) -> usize {
        self.rounds.get(&round).map_or(0, BTreeMap::len)
    }

    /// Forgets everything below `round`, and moves the window of accepted rounds to start
    /// there.
    pub fn prune_below(&mut self, round: Round) {
        self.floor = self.floor.max(round);
        self.rounds.retain(|r, _| *r >= round);
    }
}

fn in_window(round: Round, floor: Round) -> bool {
    round >= floor && round - floor < ROUND_WINDOW
}

#[cfg(test)]
mod tests;
