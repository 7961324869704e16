//! Who proposes in a round, and the randomness that decides it.
//!
//! Within an epoch the leader of round r is drawn from a seed that every validator knows:
//! `SHA-256("aether/leader/v1" ‖ seed ‖ r)` reduced modulo the number of validators (the
//! round's *first draw*). Everyone computes the same schedule, so nobody waits for a leader
//! that does not know it leads.
//!
//! **Leaders the chain shows absent are passed over** ([`LeaderSchedule::leader_given`]): a
//! validator that neither proposed nor signed a certificate in the blocks a proposal extends
//! (its last [`activity_window`] blocks: their authors, the voters of the QCs they carry and
//! the signers of their TCs) is down or withholding; a round whose first draw names it goes to
//! a validator drawn from the active ones with `SHA-256("aether/leader/active/v1" ‖ seed ‖ r)`,
//! except one round in [`PROBATION`], so that a validator wrongly taken for absent (one
//! whose votes always arrive after a quorum, say) gets rounds to show itself. Without this, a
//! validator that is down leads one round in n, and the round before it fails too (its votes go
//! to the absent leader): with one of four down, 7 rounds in 16 time out. With it, 1 in 120
//! leads and 1 in 60 fail. When every validator is active the leader is the first draw, so the
//! schedule is what it was before. Every validator derives the activity from the same blocks
//! (the proposal's parent and its ancestors), so all that hold them agree on the leader; one
//! that lacks some of them (after a restart that kept fewer committed blocks, or a sync that
//! skipped them) may disagree until it holds the window again, which costs rounds, not safety.
//!
//! The seed comes from the validators' VRF (RFC 9381, [`crate::vrf`]): a proposer includes its
//! VRF proof over [`vrf_input`] (epoch, round and the current seed), which nobody can predict
//! before it is revealed nor choose (the output is fixed by key and input); the next epoch's
//! seed is [`next_seed`] of the current one and the VRF output of the epoch's last committed
//! block. A proposer can only withhold its block, which costs it the proposal: the last
//! proposer of an epoch can so choose between two next seeds (the known limit of VRF beacons),
//! no more. The first epoch's seed is the genesis hash. (HotStuff carries and verifies the
//! proofs in every proposal; there is one epoch so far, so no seed is renewed yet.)

use sha2::{Digest, Sha256};

use crate::certs::Round;

/// The leaders of one epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderSchedule {
    seed: [u8; 32],
    validators: usize,
}

impl LeaderSchedule {
    /// The schedule of an epoch with `validators` validators (at least one) and `seed`.
    pub fn new(seed: [u8; 32], validators: usize) -> Self {
        Self {
            seed,
            validators: validators.max(1),
        }
    }

    /// The epoch's seed.
    pub fn seed(&self) -> [u8; 32] {
        self.seed
    }

    /// The number of validators.
    pub fn validators(&self) -> usize {
        self.validators
    }

    /// The index of round `round`'s leader by the first draw alone (every validator active).
    pub fn leader(&self, round: Round) -> usize {
        (draw(b"aether/leader/v1", &self.seed, round) % self.validators as u128) as usize
    }

    /// The index of round `round`'s leader on a chain whose recent blocks show `active`
    /// validators at work (see the module docs): the first draw if it is active, if nobody is
    /// (no blocks to judge by), or in a probation round; otherwise one drawn from the active.
    pub fn leader_given(&self, round: Round, active: &[bool]) -> usize {
        let first = self.leader(round);
        if active.get(first).is_none_or(|a| *a) {
            return first;
        }
        let present: Vec<usize> = (0..self.validators)
            .filter(|v| active.get(*v).is_some_and(|a| *a))
            .collect();
        let probation =
            draw(b"aether/leader/probation/v1", &self.seed, round).is_multiple_of(PROBATION);
        if present.is_empty() || probation {
            return first;
        }
        let pick = draw(b"aether/leader/active/v1", &self.seed, round) % present.len() as u128;
        present[pick as usize]
    }
}

/// One round in this many keeps a first draw the chain shows absent (probation).
pub const PROBATION: u128 = 30;

/// The blocks whose authors and signers count as active for a proposal (its parent and that
/// block's ancestors): as many as validators, at least 4, at most 64. A validator down is
/// passed over once this many blocks were certified without it; a live one is taken for
/// absent only if every QC of the window left its vote out and it proposed none of them
/// (at four validators with all up, about (1/4)^4 of windows), which costs it its first draws
/// until it shows up again, not the network's pace.
pub fn activity_window(validators: usize) -> usize {
    validators.clamp(4, MAX_ACTIVITY_WINDOW)
}

/// The largest [`activity_window`].
pub const MAX_ACTIVITY_WINDOW: usize = 64;

/// 128 bits of `SHA-256(domain ‖ seed ‖ round)`; modulo a validator count the bias is below
/// 2^-100.
fn draw(domain: &[u8], seed: &[u8; 32], round: Round) -> u128 {
    let digest = Sha256::new()
        .chain_update(domain)
        .chain_update(seed)
        .chain_update(round.to_le_bytes())
        .finalize();
    let mut word = [0u8; 16];
    word.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(word)
}

/// What a proposer's VRF proof covers for a block of `round` in `epoch` under `seed`.
pub fn vrf_input(epoch: u64, round: Round, seed: &[u8; 32]) -> Vec<u8> {
    let mut alpha = b"aether/vrf/v1".to_vec();
    alpha.extend_from_slice(&epoch.to_le_bytes());
    alpha.extend_from_slice(&round.to_le_bytes());
    alpha.extend_from_slice(seed);
    alpha
}

/// The next epoch's seed: the current one mixed with a verified VRF output (`beta`).
pub fn next_seed(seed: &[u8; 32], beta: &crate::vrf::VrfOutput) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"aether/seed/v1")
        .chain_update(seed)
        .chain_update(beta.as_bytes())
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrf::{self, VrfSecretKey};

    #[test]
    fn every_validator_computes_the_same_leaders() {
        let a = LeaderSchedule::new([1; 32], 7);
        let b = LeaderSchedule::new([1; 32], 7);
        assert!((0..1_000).all(|r| a.leader(r) == b.leader(r) && a.leader(r) < 7));
        let other = LeaderSchedule::new([2; 32], 7);
        assert!(
            (0..100).any(|r| a.leader(r) != other.leader(r)),
            "the seed matters"
        );
    }

    #[test]
    fn leadership_is_shared_evenly() {
        let s = LeaderSchedule::new([9; 32], 4);
        let mut counts = [0u32; 4];
        for r in 0..40_000 {
            counts[s.leader(r)] += 1;
        }
        // Expected 10,000 each; 3 standard deviations is about 260.
        assert!(
            counts.iter().all(|&c| (9_700..=10_300).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn validators_the_chain_shows_absent_are_passed_over_but_for_probation_rounds() {
        let s = LeaderSchedule::new([9; 32], 4);
        let all = [true; 4];
        let none = [false; 4];
        let without_3 = [true, true, true, false];
        let mut counts = [0u32; 4];
        for r in 0..40_000 {
            // All active, or nothing to judge by: the first draw, as before.
            assert_eq!(s.leader_given(r, &all), s.leader(r));
            assert_eq!(s.leader_given(r, &none), s.leader(r));
            assert_eq!(s.leader_given(r, &[]), s.leader(r), "a short activity list");
            let leader = s.leader_given(r, &without_3);
            if s.leader(r) != 3 {
                assert_eq!(leader, s.leader(r), "an active first draw stays");
            }
            counts[leader] += 1;
        }
        // Validator 3 keeps a thirtieth of its quarter (333 of 40,000); the other three share
        // the rest evenly (13,222 each; 3 standard deviations ≈ 300).
        assert!((270..=400).contains(&counts[3]), "{counts:?}");
        assert!(
            counts[..3].iter().all(|&c| (12_900..=13_550).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn the_activity_window_grows_with_the_validators_within_bounds() {
        assert_eq!(activity_window(1), 4);
        assert_eq!(activity_window(4), 4);
        assert_eq!(activity_window(7), 7);
        assert_eq!(activity_window(100), 64);
    }

    #[test]
    fn the_next_seed_follows_a_verified_vrf_output() {
        let key = VrfSecretKey::from_seed(&[3; 32]);
        let seed = [5; 32];
        let alpha = vrf_input(1, 42, &seed);
        let proof = key.prove(&alpha).unwrap();
        let beta = vrf::verify(&key.public_key(), &alpha, &proof).unwrap();
        let next = next_seed(&seed, &beta);
        assert_ne!(next, seed);
        assert_eq!(next, next_seed(&seed, &beta), "deterministic");
        // Another round's proof gives another seed: the proposer cannot pick the output.
        let other = key.prove(&vrf_input(1, 43, &seed)).unwrap();
        let beta2 = vrf::verify(&key.public_key(), &vrf_input(1, 43, &seed), &other).unwrap();
        assert_ne!(next_seed(&seed, &beta2), next);
    }
}
