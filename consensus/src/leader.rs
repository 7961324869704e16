//! Who proposes in a round, and the randomness that decides it.
//!
//! Within an epoch the leader of round r is drawn from a seed that every validator knows:
//! `SHA-256("aether/leader/v1" ‖ seed ‖ r)` reduced modulo the number of validators. Everyone
//! computes the same schedule, so nobody waits for a leader that does not know it leads, and
//! a missing leader costs one round timeout.
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

    /// The index of round `round`'s leader.
    pub fn leader(&self, round: Round) -> usize {
        let digest = Sha256::new()
            .chain_update(b"aether/leader/v1")
            .chain_update(self.seed)
            .chain_update(round.to_le_bytes())
            .finalize();
        let mut word = [0u8; 16];
        word.copy_from_slice(&digest[..16]);
        // 128 bits modulo a validator count: the bias is below 2^-100.
        (u128::from_le_bytes(word) % self.validators as u128) as usize
    }
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
