//! Round timing for 2-chain HotStuff: which round this validator is in, when it gives up on
//! it, and how long the next round gets. Pure: time comes in as `now_ms` with every input.
//!
//! A validator enters round r + 1 on a QC or a TC of round r. If round r produces neither
//! before its deadline, the pacemaker reports a local timeout (the validator then signs a
//! timeout, if its safety rules allow, and sends it), and reports it again every timeout
//! interval until the round ends, so lost timeout messages are resent. Each round without a
//! commit beyond the two a 2-chain commit takes gets a longer timeout (exponential backoff,
//! capped), so rounds outlast a slow network; a commit resets it (a QC alone does not: rounds
//! can certify without committing). After a restart it starts at max(highest QC, highest TC)
//! + 1.

use crate::certs::Round;

/// Timing parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacemakerConfig {
    /// Timeout of a round right after a QC, in milliseconds.
    pub base_timeout_ms: u64,
    /// Each further round without a QC multiplies the timeout by this many percent.
    pub backoff_percent: u64,
    /// Longest timeout.
    pub max_timeout_ms: u64,
}

impl Default for PacemakerConfig {
    /// 1 s, ×1.2 per failed round, at most 3 s (Aptos's `round_initial_timeout_ms` 1,000,
    /// exponent base 1.2, max exponent 6: about 3 s). A steeper or longer backoff made rounds
    /// led by silent validators cost up to the cap each, and the simulator's 7-validator
    /// clusters with two silent validators on a slow link committed 6 blocks in a minute.
    fn default() -> Self {
        Self {
            base_timeout_ms: 1_000,
            backoff_percent: 120,
            max_timeout_ms: 3_000,
        }
    }
}

/// Why a round began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundCause {
    /// A QC of the previous round (or a later one).
    Qc,
    /// A TC of the previous round (or a later one).
    Tc,
}

/// What the pacemaker reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacemakerEvent {
    /// This validator is now in `round`.
    NewRound {
        /// The round entered.
        round: Round,
        /// What ended the previous one.
        cause: RoundCause,
        /// How long this round has.
        timeout_ms: u64,
    },
    /// `round` passed its deadline without a QC or TC: time out (again).
    LocalTimeout {
        /// The round.
        round: Round,
    },
}

/// The round clock.
#[derive(Clone, Debug)]
pub struct Pacemaker {
    config: PacemakerConfig,
    round: Round,
    highest_qc_round: Round,
    /// The round of the last committed block: the timeout backs off by rounds since it.
    last_commit_round: Round,
    deadline_ms: u64,
}

/// What a validator knows of the chain when its pacemaker starts (at genesis all zero; after a
/// restart, from its stored certificates and committed head).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundStart {
    /// The round of the highest QC it holds.
    pub highest_qc_round: Round,
    /// The round of the highest TC it holds (0 if none).
    pub highest_tc_round: Round,
    /// The round of the last committed block.
    pub last_commit_round: Round,
}

impl Pacemaker {
    /// A pacemaker starting in round max(highest QC, highest TC) + 1 (round 1 at genesis):
    /// a restarted validator resumes where its certificates say the network is, not before.
    pub fn new(config: PacemakerConfig, start: RoundStart, now_ms: u64) -> Self {
        let mut p = Self {
            config,
            round: start
                .highest_qc_round
                .max(start.highest_tc_round)
                .saturating_add(1),
            highest_qc_round: start.highest_qc_round,
            last_commit_round: start.last_commit_round,
            deadline_ms: 0,
        };
        p.deadline_ms = now_ms.saturating_add(p.timeout_ms());
        p
    }

    /// The current round.
    pub fn round(&self) -> Round {
        self.round
    }

    /// When the current round times out (milliseconds, the caller's clock).
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// The current round's timeout: the base, times the backoff once per round since the
    /// last commit beyond the two a 2-chain commit takes (a block of round r commits in round
    /// r + 2 when all goes well), capped. QCs alone do not reset it: rounds that certify but
    /// never commit (forks, a leader withholding) keep backing off.
    pub fn timeout_ms(&self) -> u64 {
        let failed = self
            .round
            .saturating_sub(self.last_commit_round.saturating_add(2));
        let mut t = self.config.base_timeout_ms;
        for _ in 0..failed {
            let next = t.saturating_mul(self.config.backoff_percent) / 100;
            // Stop once capped, or if the backoff does not grow the timeout (a round can be
            // far ahead of the last QC: this loop must not run that many times).
            if t >= self.config.max_timeout_ms || next <= t {
                break;
            }
            t = next;
        }
        t.min(self.config.max_timeout_ms)
    }

    /// A verified QC of `qc_round`: enter the next round if it is ahead.
    pub fn on_qc(&mut self, qc_round: Round, now_ms: u64) -> Option<PacemakerEvent> {
        self.highest_qc_round = self.highest_qc_round.max(qc_round);
        self.advance(qc_round, RoundCause::Qc, now_ms)
    }

    /// A block of `round` committed: later rounds' timeouts back off from here.
    pub fn on_commit(&mut self, round: Round) {
        self.last_commit_round = self.last_commit_round.max(round);
    }

    /// A verified TC of `tc_round`: enter the next round if it is ahead.
    pub fn on_tc(&mut self, tc_round: Round, now_ms: u64) -> Option<PacemakerEvent> {
        self.advance(tc_round, RoundCause::Tc, now_ms)
    }

    fn advance(&mut self, ended: Round, cause: RoundCause, now_ms: u64) -> Option<PacemakerEvent> {
        let next = ended.checked_add(1)?;
        if next <= self.round {
            return None;
        }
        self.round = next;
        let timeout_ms = self.timeout_ms();
        self.deadline_ms = now_ms.saturating_add(timeout_ms);
        Some(PacemakerEvent::NewRound {
            round: next,
            cause,
            timeout_ms,
        })
    }

    /// Time passed: reports a local timeout when the deadline is reached, and again one
    /// timeout later while the round lasts.
    pub fn on_tick(&mut self, now_ms: u64) -> Option<PacemakerEvent> {
        if now_ms < self.deadline_ms {
            return None;
        }
        self.deadline_ms = now_ms.saturating_add(self.timeout_ms());
        Some(PacemakerEvent::LocalTimeout { round: self.round })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm() -> Pacemaker {
        Pacemaker::new(PacemakerConfig::default(), RoundStart::default(), 10_000)
    }

    #[test]
    fn a_round_times_out_at_its_deadline_and_again_while_it_lasts() {
        let mut p = pm();
        assert_eq!(p.round(), 1);
        assert_eq!(p.on_tick(10_999), None);
        assert_eq!(
            p.on_tick(11_000),
            Some(PacemakerEvent::LocalTimeout { round: 1 })
        );
        assert_eq!(p.on_tick(11_500), None);
        assert_eq!(
            p.on_tick(12_000),
            Some(PacemakerEvent::LocalTimeout { round: 1 }),
            "resent one timeout later"
        );
    }

    #[test]
    fn a_qc_or_tc_moves_to_the_next_round_and_stale_ones_do_not() {
        let mut p = pm();
        assert_eq!(
            p.on_qc(1, 10_200),
            Some(PacemakerEvent::NewRound {
                round: 2,
                cause: RoundCause::Qc,
                timeout_ms: 1_000
            })
        );
        assert_eq!(p.deadline_ms(), 11_200);
        assert_eq!(p.on_qc(1, 10_300), None);
        assert_eq!(p.on_tc(0, 10_300), None);
        // A QC of a later round (a validator that fell behind catches up).
        assert!(matches!(
            p.on_qc(5, 10_400),
            Some(PacemakerEvent::NewRound { round: 6, .. })
        ));
    }

    #[test]
    fn rounds_without_a_commit_get_longer_until_a_commit_resets_them() {
        let mut p = pm();
        // Rounds 1, 2, 3 time out: from round 3 on (two rounds after the last commit, the
        // genesis) the timeouts grow ×1.2.
        let mut timeouts = Vec::new();
        for r in 1..=3 {
            if let Some(PacemakerEvent::NewRound { timeout_ms, .. }) = p.on_tc(r, 20_000) {
                timeouts.push(timeout_ms);
            }
        }
        assert_eq!(timeouts, vec![1_000, 1_200, 1_440]);
        // A QC without a commit does not reset the backoff.
        assert!(matches!(
            p.on_qc(4, 30_000),
            Some(PacemakerEvent::NewRound {
                round: 5,
                timeout_ms: 1_728,
                ..
            })
        ));
        // A commit does: the block of round 4 committed, the next round is back to the base.
        p.on_commit(4);
        assert!(matches!(
            p.on_qc(5, 31_000),
            Some(PacemakerEvent::NewRound {
                round: 6,
                timeout_ms: 1_000,
                ..
            })
        ));
    }

    #[test]
    fn a_restarted_pacemaker_resumes_after_its_highest_certificate() {
        let start = RoundStart {
            highest_qc_round: 5,
            highest_tc_round: 7,
            last_commit_round: 4,
        };
        let p = Pacemaker::new(PacemakerConfig::default(), start, 0);
        assert_eq!(p.round(), 8, "max(QC 5, TC 7) + 1");
        // Rounds 7 and 8 have passed without a commit since round 4: backed off twice.
        assert_eq!(p.timeout_ms(), 1_440);
        let start = RoundStart {
            highest_qc_round: 9,
            ..start
        };
        assert_eq!(
            Pacemaker::new(PacemakerConfig::default(), start, 0).round(),
            10
        );
    }

    #[test]
    fn the_timeout_is_capped_and_a_clock_going_back_is_harmless() {
        let mut p = pm();
        for r in 1..200 {
            p.on_tc(r, 0);
        }
        assert_eq!(p.timeout_ms(), 3_000);
        assert_eq!(
            p.on_tick(0),
            None,
            "the deadline is ahead of a clock that went back"
        );
        assert_eq!(p.on_tc(u64::MAX, 5), None, "no round after the last one");
    }

    #[test]
    fn extreme_rounds_and_settings_neither_overflow_nor_hang() {
        let flat = PacemakerConfig {
            base_timeout_ms: 0,
            backoff_percent: 100,
            max_timeout_ms: 10,
        };
        let top = RoundStart {
            highest_qc_round: u64::MAX,
            highest_tc_round: u64::MAX,
            last_commit_round: 0,
        };
        let mut p = Pacemaker::new(flat, top, 0);
        assert_eq!(p.round(), u64::MAX);
        let mut p2 = Pacemaker::new(flat, RoundStart::default(), 0);
        p2.on_tc(u64::MAX - 1, 0);
        assert_eq!(p2.timeout_ms(), 0);
        assert!(p.on_tick(0).is_some());
    }
}
