//! The one place a validator's consensus key signs: [`SafetySigner`] owns the BLS key, the
//! safety rules and their durable record, and signs a vote, a timeout or a proposal only after
//! the rules allowed it and the new safety data is stored (persist, then sign, then send; as
//! Aptos's `safety-rules` and commonware's voter do). A failed store stops the signer for good:
//! a validator that cannot remember what it signed must not sign again.
//!
//! Storage is a port ([`SafetyStorage`]): the node keeps the record in an fsync'd
//! `DurableRecord` (ParityDB's commit is not durable on return), the simulator in memory.

use parity_scale_codec::{Decode, Encode};

use crate::bls::{BlsSecretKey, BlsSignature};
use crate::certs::{
    QuorumCert, Round, Timeout, TimeoutCert, TimeoutData, VerifiedQc, VerifiedTc, Vote, VoteData,
};
use crate::safety::{SafetyData, SafetyError, SafetyRules};

/// Where the safety record lives. `store` must return only once the record would survive a
/// crash; `load` must tell a missing record (`None`) from a damaged one (an error).
pub trait SafetyStorage {
    /// Reads the record: `None` if there is none.
    fn load(&self) -> Result<Option<Vec<u8>>, String>;
    /// Writes the record durably.
    fn store(&mut self, record: &[u8]) -> Result<(), String>;
}

/// The persisted record: the epoch, the rules' data, the last proposal signed, and the
/// highest certificates held (so that a restarted validator resumes in a round it may time
/// out in: the timeout rule needs a QC or TC of the round before).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
struct Record {
    epoch: u64,
    data: SafetyData,
    /// (round, proposal id): one proposal per round, across crashes.
    last_proposal: Option<(Round, [u8; 32])>,
    /// The highest QC observed.
    high_qc: Option<QuorumCert>,
    /// The highest TC observed.
    high_tc: Option<TimeoutCert>,
    /// The last timeout signed, sent again when asked for its round again (with another QC,
    /// say, after a restart): one timeout per round.
    last_timeout: Option<Timeout>,
}

/// What a stored safety record says a validator last signed, for tools and tests that audit
/// a validator through its record (every vote, timeout and proposal is recorded before it is
/// signed, so a sequence of records shows everything signed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordSummary {
    /// The epoch.
    pub epoch: u64,
    /// The last vote: (round, block id).
    pub last_vote: Option<(Round, [u8; 32])>,
    /// The last timeout: (round, round of the QC it carried).
    pub last_timeout: Option<(Round, Round)>,
    /// The last proposal: (round, proposal id).
    pub last_proposal: Option<(Round, [u8; 32])>,
}

/// Reads a stored record's summary (`None` if the bytes are not a record).
pub fn record_summary(bytes: &[u8]) -> Option<RecordSummary> {
    let record = Record::decode(&mut &bytes[..]).ok()?;
    Some(RecordSummary {
        epoch: record.epoch,
        last_vote: record.data.last_vote,
        last_timeout: record.data.last_timeout,
        last_proposal: record.last_proposal,
    })
}

/// Why the signer did not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The safety rules refuse it.
    #[error(transparent)]
    Refused(#[from] SafetyError),
    /// A proposal for a round not above the last one this validator voted or timed out in.
    #[error(
        "a proposal for round {round} is not above the last round voted in ({last_voted_round})"
    )]
    ProposalRound {
        /// The round asked for.
        round: Round,
        /// The last round voted in.
        last_voted_round: Round,
    },
    /// Already signed another proposal for this round.
    #[error("already signed another proposal for round {round}")]
    OtherProposalSigned {
        /// The round.
        round: Round,
    },
    /// A message or certificate of another epoch than the signer's.
    #[error("epoch {got}, the signer is in epoch {epoch}")]
    WrongEpoch {
        /// The signer's epoch.
        epoch: u64,
        /// The message's.
        got: u64,
    },
    /// The record could not be stored: the signer has stopped and signs nothing more.
    #[error("the safety record could not be stored, so this validator stops signing: {0}")]
    Storage(String),
    /// A store failed earlier: nothing is signed any more.
    #[error("stopped after a failed store of the safety record")]
    Stopped,
}

/// Why the signer cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The record exists but cannot be read.
    #[error("the safety record cannot be read: {0}")]
    Damaged(String),
    /// No record, though the chain shows this validator's network made progress: a fresh
    /// record could let it sign again in rounds it already signed in (restored from a backup
    /// without its record, say).
    #[error(
        "no safety record, but the chain is past genesis: this validator may have signed in \
         rounds it no longer remembers; restore the record, or reset it knowingly"
    )]
    Missing,
    /// The record could not be written at start.
    #[error("the safety record cannot be written: {0}")]
    Storage(String),
    /// The record is of a later epoch than the one asked for.
    #[error("the safety record is of epoch {stored}, later than epoch {epoch}")]
    FutureEpoch {
        /// The epoch asked for.
        epoch: u64,
        /// The record's.
        stored: u64,
    },
}

/// What to do when no safety record exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenMissing {
    /// Start fresh only if the chain has not moved past genesis (a new validator).
    FreshAtGenesis,
    /// Start fresh anyway: the operator said so, knowing the risk (logged by the caller).
    Reset,
}

/// A validator's signer: key, rules and record.
pub struct SafetySigner<S: SafetyStorage> {
    key: BlsSecretKey,
    index: u32,
    epoch: u64,
    rules: SafetyRules,
    last_proposal: Option<(Round, [u8; 32])>,
    high_qc: Option<QuorumCert>,
    high_tc: Option<TimeoutCert>,
    last_timeout: Option<Timeout>,
    storage: S,
    stopped: bool,
}

impl<S: SafetyStorage> SafetySigner<S> {
    /// Opens the signer of validator `index` in `epoch` with its record from `storage`. A
    /// record of an earlier epoch starts the rules afresh for this one (rounds restart with an
    /// epoch). `past_genesis` says whether the chain shows progress, for a missing record.
    pub fn open(
        key: BlsSecretKey,
        index: u32,
        epoch: u64,
        mut storage: S,
        past_genesis: bool,
        when_missing: WhenMissing,
    ) -> Result<Self, OpenError> {
        let record = match storage.load().map_err(OpenError::Damaged)? {
            Some(bytes) => Some(
                Record::decode(&mut &bytes[..])
                    .map_err(|e| OpenError::Damaged(format!("not a safety record: {e}")))?,
            ),
            None => None,
        };
        let fresh = Record {
            epoch,
            data: SafetyData::default(),
            last_proposal: None,
            high_qc: None,
            high_tc: None,
            last_timeout: None,
        };
        let record = match record {
            Some(r) if r.epoch > epoch => {
                return Err(OpenError::FutureEpoch {
                    epoch,
                    stored: r.epoch,
                });
            }
            Some(r) if r.epoch == epoch => r,
            Some(_) => fresh,
            None if past_genesis && when_missing == WhenMissing::FreshAtGenesis => {
                return Err(OpenError::Missing);
            }
            None => fresh,
        };
        // The record says which epoch it is for from the start.
        storage
            .store(&record.encode())
            .map_err(OpenError::Storage)?;
        Ok(Self {
            key,
            index,
            epoch,
            rules: SafetyRules::new(record.data),
            last_proposal: record.last_proposal,
            high_qc: record.high_qc,
            high_tc: record.high_tc,
            last_timeout: record.last_timeout,
            storage,
            stopped: false,
        })
    }

    /// The rules' current data.
    pub fn data(&self) -> &SafetyData {
        self.rules.data()
    }

    /// The epoch signed in.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn persist(&mut self, data: SafetyData) -> Result<(), SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        let record = Record {
            epoch: self.epoch,
            data,
            last_proposal: self.last_proposal,
            high_qc: self.high_qc.clone(),
            high_tc: self.high_tc.clone(),
            last_timeout: self.last_timeout.clone(),
        };
        self.storage.store(&record.encode()).map_err(|e| {
            self.stopped = true;
            SignerError::Storage(e)
        })
    }

    fn epoch_is(&self, got: u64) -> Result<(), SignerError> {
        if got == self.epoch {
            Ok(())
        } else {
            Err(SignerError::WrongEpoch {
                epoch: self.epoch,
                got,
            })
        }
    }

    /// Certificates of another epoch must not move this epoch's rules (an old epoch's high
    /// QC round would refuse every timeout of this one).
    fn certificates_of_this_epoch(
        &self,
        qc: &VerifiedQc,
        tc: Option<&VerifiedTc>,
    ) -> Result<(), SignerError> {
        self.epoch_is(qc.get().data.epoch)?;
        if let Some(tc) = tc {
            self.epoch_is(tc.get().epoch)?;
        }
        Ok(())
    }

    /// Votes for `data`'s block, which carries `qc` (and `tc` after a timed-out round), if the
    /// rules allow: the record is stored before the vote exists.
    pub fn vote(
        &mut self,
        data: VoteData,
        qc: &VerifiedQc,
        tc: Option<&VerifiedTc>,
    ) -> Result<Vote, SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        self.epoch_is(data.epoch)?;
        self.certificates_of_this_epoch(qc, tc)?;
        let new = self.rules.sign_vote(&data, qc, tc)?;
        self.persist(new)?;
        Ok(Vote::sign(data, self.index, &self.key))
    }

    /// Times out in `round`, carrying `high_qc` (this validator's highest QC) and holding
    /// `tc`, if the rules allow: the record is stored before the timeout exists.
    pub fn timeout(
        &mut self,
        round: Round,
        high_qc: &VerifiedQc,
        tc: Option<&VerifiedTc>,
    ) -> Result<Timeout, SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        self.certificates_of_this_epoch(high_qc, tc)?;
        // The timeout of this round signed before (perhaps with a lower QC, before a restart):
        // the same one again, never a second one.
        if let Some(t) = &self.last_timeout
            && t.data.round == round
        {
            return Ok(t.clone());
        }
        let new = self.rules.sign_timeout(round, high_qc, tc)?;
        let data = TimeoutData {
            epoch: self.epoch,
            round,
            hqc_round: high_qc.round(),
        };
        let timeout = Timeout::sign(data, high_qc, self.index, &self.key);
        self.last_timeout = Some(timeout.clone());
        self.persist(new)?;
        Ok(timeout)
    }

    /// Notes a verified QC this validator now holds; stored when it is the highest yet (it
    /// raises what later timeouts must carry, and a restart resumes after it).
    pub fn observe(&mut self, qc: &VerifiedQc) -> Result<(), SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        self.certificates_of_this_epoch(qc, None)?;
        let higher = self
            .high_qc
            .as_ref()
            .is_none_or(|h| qc.round() > h.data.round);
        if higher {
            self.high_qc = Some(qc.get().clone());
        }
        match self.rules.observe(qc) {
            Some(new) => self.persist(new),
            None if higher => self.persist(*self.rules.data()),
            None => Ok(()),
        }
    }

    /// Notes a verified TC this validator now holds; stored when it is the highest yet.
    pub fn observe_tc(&mut self, tc: &VerifiedTc) -> Result<(), SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        self.epoch_is(tc.get().epoch)?;
        if self.high_tc.as_ref().is_none_or(|h| tc.round() > h.round) {
            self.high_tc = Some(tc.get().clone());
            return self.persist(*self.rules.data());
        }
        Ok(())
    }

    /// The highest QC and TC stored (unverified: check them before use).
    pub fn certificates(&self) -> (Option<&QuorumCert>, Option<&TimeoutCert>) {
        (self.high_qc.as_ref(), self.high_tc.as_ref())
    }

    /// Signs the proposal `proposal_id` (the hash of everything the proposal carries) for
    /// `round`, once per round (the same proposal again is a retransmission; the record of it
    /// is stored first), and only if the round is above the last one this validator voted or
    /// timed out in
    /// (a leader proposes before it votes in its round; a proposal for a round it already left
    /// would be a second message for that round). The signed bytes are domain-separated
    /// ([`proposal_signing_bytes`]), so a proposal signature is never a vote or a timeout.
    pub fn sign_proposal(
        &mut self,
        round: Round,
        proposal_id: [u8; 32],
    ) -> Result<BlsSignature, SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        match self.last_proposal {
            // The same proposal again: a retransmission.
            Some((r, id)) if r == round && id == proposal_id => {}
            Some((r, _)) if r == round => return Err(SignerError::OtherProposalSigned { round }),
            _ => {
                let last_voted_round = self.rules.data().last_voted_round;
                if round <= last_voted_round {
                    return Err(SignerError::ProposalRound {
                        round,
                        last_voted_round,
                    });
                }
                self.last_proposal = Some((round, proposal_id));
                let data = *self.rules.data();
                self.persist(data)?;
            }
        }
        Ok(self
            .key
            .sign(&proposal_signing_bytes(self.epoch, round, &proposal_id)))
    }
}

/// The bytes a proposal's author signs: `aether/proposal/v1`, epoch, round and the proposal's
/// id, SCALE-encoded.
pub fn proposal_signing_bytes(epoch: u64, round: Round, proposal_id: &[u8; 32]) -> Vec<u8> {
    (b"aether/proposal/v1", epoch, round, proposal_id).encode()
}

/// A record kept in memory, for tests of the structures that need a signer.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct InMemory(Option<Vec<u8>>);

#[cfg(test)]
impl SafetyStorage for InMemory {
    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.clone())
    }
    fn store(&mut self, record: &[u8]) -> Result<(), String> {
        self.0 = Some(record.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
