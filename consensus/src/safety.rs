//! The safety rules of 2-chain HotStuff (Jolteon: Gelashvili, Kokoris-Kogias, Sonnino,
//! Spiegelman and Xiang, "Jolteon and Ditto: Network-Adaptive Efficient Consensus with
//! Asynchronous Fallback", FC 2022; the rules Aptos runs as `safety_rules_2chain`): what a
//! validator may sign, and the little state that must survive a crash so that it never signs
//! two conflicting messages.
//!
//! [`SafetyRules`] is pure: it answers whether a vote or timeout may be signed and returns the
//! [`SafetyData`] to persist. [`crate::signer::SafetySigner`] is the one user: it writes that
//! data durably, with the epoch, *before* it signs, and loads it at start. Losing it lets a
//! restarted validator vote twice in a round.
//!
//! The public methods take certificates only as [`VerifiedQc`] and [`VerifiedTc`], which only
//! verification builds: a forged round would be persisted (a huge `one_chain_round` refuses
//! every later timeout, a huge vote round every later vote). The rules key retransmissions
//! on (round, block id) and (round, QC round), which is right while those (with the epoch,
//! which the signer's record carries) fix the signed bytes.

use parity_scale_codec::{Decode, Encode};

use crate::certs::{Round, VerifiedQc, VerifiedTc, VoteData};

/// The state safety depends on. SCALE-encoded into the durable record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct SafetyData {
    /// The highest round this validator voted or timed out in. It never votes in this round
    /// or an earlier one again (first voting rule).
    pub last_voted_round: u64,
    /// The highest round of a quorum certificate it has seen in a block it voted for or in a
    /// certificate it observed: a timeout it signs must carry a QC at least this high, so a
    /// timeout certificate can never skip a block that may have been committed.
    pub one_chain_round: u64,
    /// The vote it last signed: (round, block id). Asking again for the same vote gets the
    /// same answer (a retransmission), never a vote for another block of that round.
    pub last_vote: Option<(u64, [u8; 32])>,
    /// The timeout it last signed: (round, round of the QC it carried). Only that exact
    /// timeout may be signed again for that round.
    pub last_timeout: Option<(u64, u64)>,
}

/// A timeout certificate as the rules need it: its round and the highest QC round among the
/// timeouts it aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutCertRounds {
    /// The round that timed out.
    pub round: u64,
    /// The highest QC round any of its signers reported.
    pub highest_qc_round: u64,
}

/// A signing request the rules refuse, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetyError {
    /// Already voted or timed out in this round or a later one.
    #[error("round {round} is not after the last round voted in ({last_voted_round})")]
    RoundAlreadyVoted {
        /// The round asked for.
        round: u64,
        /// The last round voted in.
        last_voted_round: u64,
    },
    /// Already voted for another block in this round.
    #[error("already voted for another block in round {round}")]
    OtherBlockVoted {
        /// The round.
        round: u64,
    },
    /// The block neither extends the previous round's QC nor follows a TC that allows it.
    #[error(
        "block of round {round} with a QC of round {qc_round} does not follow that QC{tc} directly"
    )]
    NotSafeToVote {
        /// The block's round.
        round: u64,
        /// Its QC's round.
        qc_round: u64,
        /// What the TC said, for the message.
        tc: String,
    },
    /// The timeout's QC is older than one this validator has seen.
    #[error(
        "a timeout for round {round} must carry a QC of round {needed} or later, not {qc_round}"
    )]
    StaleTimeoutQc {
        /// The round.
        round: u64,
        /// The QC carried.
        qc_round: u64,
        /// The least acceptable.
        needed: u64,
    },
    /// A timeout for a round this validator's certificates do not reach.
    #[error("round {round} does not follow the QC (round {qc_round}) or TC ({tc_round:?}) held")]
    NotSafeToTimeout {
        /// The round.
        round: u64,
        /// The QC round held.
        qc_round: u64,
        /// The TC round held.
        tc_round: Option<u64>,
    },
    /// Already signed a different timeout for this round.
    #[error("already signed another timeout for round {round}")]
    OtherTimeoutSigned {
        /// The round.
        round: u64,
    },
}

/// The rules, over the persisted [`SafetyData`].
#[derive(Clone, Debug, Default)]
pub struct SafetyRules {
    data: SafetyData,
}

impl SafetyRules {
    /// The rules resuming from persisted `data` (`SafetyData::default()` for a new validator).
    pub fn new(data: SafetyData) -> Self {
        Self { data }
    }

    /// The current data.
    pub fn data(&self) -> &SafetyData {
        &self.data
    }

    /// Notes a verified QC this validator now holds (from a proposal or a sync): later
    /// timeouts must carry a QC at least as high, so the validator must also make it the
    /// highest QC it reports. Returns the data to persist if it changed.
    pub fn observe(&mut self, qc: &VerifiedQc) -> Option<SafetyData> {
        self.observe_qc(qc.round())
    }

    /// May this validator sign the vote `data` for a block carrying `qc` (and `tc`, when the
    /// previous round timed out)?
    ///
    /// The 2-chain voting rule: the round is after every round voted in, and the block
    /// extends the QC of the round just before it, or follows a TC of the round just before
    /// it and carries a QC at least as high as every QC that TC's signers reported (so it
    /// cannot skip a block that may have been committed). On success, persist the returned
    /// data, then sign and send.
    pub fn sign_vote(
        &mut self,
        data: &VoteData,
        qc: &VerifiedQc,
        tc: Option<&VerifiedTc>,
    ) -> Result<SafetyData, SafetyError> {
        let tc = tc.map(|tc| TimeoutCertRounds {
            round: tc.round(),
            highest_qc_round: tc.highest_qc_round(),
        });
        self.vote(data.round, data.block_id, qc.round(), tc)
    }

    /// May this validator time out in `round`, reporting `high_qc` (its highest QC) and
    /// holding `tc` (the last TC it has, if any)?
    ///
    /// The timeout rule: the round follows the QC or the TC it holds (it is in that round),
    /// the QC is at least as high as any it has seen, and it has not voted or timed out in a
    /// later round. A validator that voted in a round may still time out in it (the vote may
    /// not make a QC), but it signs one timeout per round. On success, persist the returned
    /// data, then sign and send.
    pub fn sign_timeout(
        &mut self,
        round: Round,
        high_qc: &VerifiedQc,
        tc: Option<&VerifiedTc>,
    ) -> Result<SafetyData, SafetyError> {
        self.timeout(round, high_qc.round(), tc.map(VerifiedTc::round))
    }

    /// `observe` on a round.
    pub(crate) fn observe_qc(&mut self, qc_round: u64) -> Option<SafetyData> {
        if qc_round > self.data.one_chain_round {
            self.data.one_chain_round = qc_round;
            Some(self.data)
        } else {
            None
        }
    }

    /// May this validator vote for block `block_id` of round `round`, whose QC certifies
    /// round `qc_round`, carrying timeout certificate `tc` if the previous round timed out?
    ///
    /// The 2-chain voting rule: the round is after every round voted in, and the block
    /// extends the QC of the round just before it, or follows a TC of the round just before
    /// it and carries a QC at least as high as every QC that TC's signers reported (so it
    /// cannot skip a block that may have been committed). On success, returns the data to
    /// persist before the vote is sent.
    pub(crate) fn vote(
        &mut self,
        round: u64,
        block_id: [u8; 32],
        qc_round: u64,
        tc: Option<TimeoutCertRounds>,
    ) -> Result<SafetyData, SafetyError> {
        match self.data.last_vote {
            Some((r, id)) if r == round && id == block_id => return Ok(self.data),
            Some((r, _)) if r == round => return Err(SafetyError::OtherBlockVoted { round }),
            _ => {}
        }
        if round <= self.data.last_voted_round {
            return Err(SafetyError::RoundAlreadyVoted {
                round,
                last_voted_round: self.data.last_voted_round,
            });
        }
        let extends_qc = qc_round.checked_add(1) == Some(round);
        let follows_tc = tc.is_some_and(|tc| {
            tc.round.checked_add(1) == Some(round) && qc_round >= tc.highest_qc_round
        });
        if !(extends_qc || follows_tc) {
            return Err(SafetyError::NotSafeToVote {
                round,
                qc_round,
                tc: tc.map_or(String::new(), |tc| {
                    format!(
                        " nor a TC of round {} (highest QC {})",
                        tc.round, tc.highest_qc_round
                    )
                }),
            });
        }
        self.data.last_voted_round = round;
        self.data.one_chain_round = self.data.one_chain_round.max(qc_round);
        self.data.last_vote = Some((round, block_id));
        Ok(self.data)
    }

    /// May this validator time out in `round`, reporting its highest QC (round `qc_round`)
    /// and holding TC round `tc_round` (the last round that timed out, if any)?
    ///
    /// The timeout rule: the round follows the QC or the TC it holds (it is in that round),
    /// the QC is at least as high as any it has seen, and it has not voted or timed out in a
    /// later round. A validator that voted in a round may still time out in it (the vote may
    /// not make a QC), but it signs one timeout per round. On success, returns the data to
    /// persist before the timeout is sent.
    pub(crate) fn timeout(
        &mut self,
        round: u64,
        qc_round: u64,
        tc_round: Option<u64>,
    ) -> Result<SafetyData, SafetyError> {
        match self.data.last_timeout {
            Some((r, q)) if r == round && q == qc_round => return Ok(self.data),
            Some((r, _)) if r == round => return Err(SafetyError::OtherTimeoutSigned { round }),
            _ => {}
        }
        if round < self.data.last_voted_round {
            return Err(SafetyError::RoundAlreadyVoted {
                round,
                last_voted_round: self.data.last_voted_round,
            });
        }
        let after_qc = qc_round.checked_add(1) == Some(round);
        let after_tc = tc_round.is_some_and(|t| t.checked_add(1) == Some(round));
        if !(after_qc || after_tc) {
            return Err(SafetyError::NotSafeToTimeout {
                round,
                qc_round,
                tc_round,
            });
        }
        if qc_round < self.data.one_chain_round {
            return Err(SafetyError::StaleTimeoutQc {
                round,
                qc_round,
                needed: self.data.one_chain_round,
            });
        }
        self.data.last_voted_round = round;
        self.data.last_timeout = Some((round, qc_round));
        Ok(self.data)
    }
}

#[cfg(test)]
mod tests;
