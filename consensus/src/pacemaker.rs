//! Round timing for 2-chain HotStuff: which round this validator is in, when it gives up on
//! it, and how long the next round gets. Pure: time comes in as `now_ms` with every input.
//!
//! A validator enters round r + 1 on a QC or a TC of round r. If round r produces neither
//! before its deadline, the pacemaker reports a local timeout (the validator then signs a
//! timeout, if its safety rules allow, and sends it), and reports it again every timeout
//! interval until the round ends, so lost timeout messages are resent. Each round without a
//! QC since the last one gets a longer timeout (exponential backoff, capped), so rounds outlast
//! a slow network; a QC resets it.

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
    /// 1 s, ×1.5 per failed round, at most 60 s.
    fn default() -> Self {
        Self {
            base_timeout_ms: 1_000,
            backoff_percent: 150,
            max_timeout_ms: 60_000,
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
    deadline_ms: u64,
}

impl Pacemaker {
    /// A pacemaker starting in round `highest_qc_round + 1` (round 1 after the genesis QC).
    pub fn new(config: PacemakerConfig, highest_qc_round: Round, now_ms: u64) -> Self {
        let mut p = Self {
            config,
            round: highest_qc_round.saturating_add(1),
            highest_qc_round,
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
    /// last QC, capped.
    pub fn timeout_ms(&self) -> u64 {
        let failed = self
            .round
            .saturating_sub(self.highest_qc_round.saturating_add(1));
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
        Pacemaker::new(PacemakerConfig::default(), 0, 10_000)
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
    fn rounds_without_a_qc_get_longer_until_a_qc_resets_them() {
        let mut p = pm();
        // Rounds 1, 2, 3 time out: the timeouts grow ×1.5.
        let mut timeouts = Vec::new();
        for r in 1..=3 {
            if let Some(PacemakerEvent::NewRound { timeout_ms, .. }) = p.on_tc(r, 20_000) {
                timeouts.push(timeout_ms);
            }
        }
        assert_eq!(timeouts, vec![1_500, 2_250, 3_375]);
        assert!(matches!(
            p.on_qc(4, 30_000),
            Some(PacemakerEvent::NewRound {
                round: 5,
                timeout_ms: 1_000,
                ..
            })
        ));
    }

    #[test]
    fn the_timeout_is_capped_and_a_clock_going_back_is_harmless() {
        let mut p = pm();
        for r in 1..200 {
            p.on_tc(r, 0);
        }
        assert_eq!(p.timeout_ms(), 60_000);
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
        let mut p = Pacemaker::new(flat, u64::MAX, 0);
        assert_eq!(p.round(), u64::MAX);
        let mut p2 = Pacemaker::new(flat, 0, 0);
        p2.on_tc(u64::MAX - 1, 0);
        assert_eq!(p2.timeout_ms(), 0);
        assert!(p.on_tick(0).is_some());
    }
}
