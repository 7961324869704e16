//! ECVRF-EDWARDS25519-SHA512-TAI, the verifiable random function of RFC 9381 (section 5 with
//! the ciphersuite of section 5.5): a validator's proof over an input (`alpha`) yields an
//! output (`beta`) that only its key could produce and anyone can check: leader election and
//! randomness that no one can bias or predict without the key.
//!
//! Keys are RFC 8032 Ed25519 keys (section 5.5: the secret scalar and public key of RFC 8032
//! section 5.1.5). Checked against the RFC's Appendix B.3 examples. Built on
//! `curve25519-dalek` and `sha2`; the steps follow the RFC's numbering.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use sha2::{Digest, Sha512};

/// `suite_string` of ECVRF-EDWARDS25519-SHA512-TAI.
const SUITE: u8 = 0x03;
/// Challenge length in bytes (`cLen`).
const C_LEN: usize = 16;
/// Proof length: Gamma (32) ‖ c (16) ‖ s (32).
pub const PROOF_LEN: usize = 80;
/// Output length (SHA-512).
pub const OUTPUT_LEN: usize = 64;

/// Why a proof is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VrfError {
    /// The public key is not a canonical encoding of a curve point.
    #[error("the VRF public key is not a valid point")]
    BadPublicKey,
    /// The public key has small order (section 5.4.5): it would let one input have many outputs.
    #[error("the VRF public key has small order")]
    WeakPublicKey,
    /// The proof does not decode (section 5.4.4): Gamma not a point, or s not below the group order.
    #[error("the VRF proof is malformed")]
    BadProof,
    /// The proof does not verify for this key and input.
    #[error("the VRF proof does not verify")]
    Invalid,
    /// No try-and-increment counter gave a point (probability 2^-256).
    #[error("no curve point found for the input")]
    NoPoint,
}

/// A VRF secret key: the 32-byte RFC 8032 seed.
pub struct VrfSecretKey {
    scalar: Scalar,
    /// The second half of SHA-512(seed), for nonces (section 5.4.2.2).
    nonce_key: [u8; 32],
    public: [u8; 32],
}

/// The 80-byte proof `pi`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode,
)]
pub struct VrfProof(pub [u8; PROOF_LEN]);

/// A VRF output `beta`. Only [`verify`] makes one, from a proof that verified for a key and an
/// input, so no code path can take an output from a proof nobody checked: the output of a
/// forged proof (whose Gamma its maker chose) never reaches leader election or a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrfOutput([u8; OUTPUT_LEN]);

impl VrfOutput {
    /// The 64 output bytes.
    pub fn as_bytes(&self) -> &[u8; OUTPUT_LEN] {
        &self.0
    }

    /// An output [`verify`] gave before (kept by the verification cache).
    pub(crate) fn from_verified(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl VrfSecretKey {
    /// The key of RFC 8032 seed `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let h: [u8; 64] = Sha512::digest(seed).into();
        let mut low = [0u8; 32];
        low.copy_from_slice(&h[..32]);
        let mut nonce_key = [0u8; 32];
        nonce_key.copy_from_slice(&h[32..]);
        let scalar = Scalar::from_bytes_mod_order(clamp_integer(low));
        let public = (scalar * ED25519_BASEPOINT_POINT).compress().to_bytes();
        Self {
            scalar,
            nonce_key,
            public,
        }
    }

    /// The public key (`PK_string`).
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// `ECVRF_prove` (section 5.1): the proof for `alpha`.
    pub fn prove(&self, alpha: &[u8]) -> Result<VrfProof, VrfError> {
        // 2. H = ECVRF_encode_to_curve(encode_to_curve_salt = PK_string, alpha_string).
        let h = encode_to_curve(&self.public, alpha)?;
        // 3. h_string = point_to_string(H).
        let h_string = h.compress().to_bytes();
        // 4. Gamma = x*H.
        let gamma = self.scalar * h;
        // 5. k = ECVRF_nonce_generation(SK, h_string) (section 5.4.2.2).
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(self.nonce_key)
                .chain_update(h_string)
                .finalize()
                .into(),
        );
        // 6. c = ECVRF_challenge_generation(Y, H, Gamma, k*B, k*H).
        let y = CompressedEdwardsY(self.public);
        let c = challenge([
            y,
            h.compress(),
            gamma.compress(),
            (k * ED25519_BASEPOINT_POINT).compress(),
            (k * h).compress(),
        ]);
        // 7. s = (k + c*x) mod q.
        let s = k + challenge_scalar(&c) * self.scalar;
        // 8. pi_string = point_to_string(Gamma) || int_to_string(c, cLen) || int_to_string(s, qLen).
        let mut pi = [0u8; PROOF_LEN];
        pi[..32].copy_from_slice(gamma.compress().as_bytes());
        pi[32..48].copy_from_slice(&c);
        pi[48..].copy_from_slice(s.as_bytes());
        Ok(VrfProof(pi))
    }
}

/// `ECVRF_verify` (section 5.3) with `validate_key` on: the output `beta` if `proof` is `public`'s
/// proof for `alpha`.
pub fn verify(public: &[u8; 32], alpha: &[u8], proof: &VrfProof) -> Result<VrfOutput, VrfError> {
    // 1-3. Y = string_to_point(PK_string); ECVRF_validate_key (section 5.4.5).
    validate_public_key(public)?;
    let y = string_to_point(public).ok_or(VrfError::BadPublicKey)?;
    // 4-5. D = ECVRF_decode_proof(pi_string).
    let (gamma, c, s) = decode_proof(proof)?;
    // 6. H = ECVRF_encode_to_curve(encode_to_curve_salt = PK_string, alpha_string).
    let h = encode_to_curve(public, alpha)?;
    // 7. U = s*B - c*Y; 8. V = s*H - c*Gamma.
    let c_scalar = challenge_scalar(&c);
    let u = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-c_scalar, &y, &s);
    let v = s * h - c_scalar * gamma;
    // 9. c' = ECVRF_challenge_generation(Y, H, Gamma, U, V).
    let c_prime = challenge([
        CompressedEdwardsY(*public),
        h.compress(),
        gamma.compress(),
        u.compress(),
        v.compress(),
    ]);
    // 10. If c and c' are equal, output ("VALID", ECVRF_proof_to_hash(pi_string)).
    if c_prime == c {
        Ok(VrfOutput(gamma_to_hash(&gamma)))
    } else {
        Err(VrfError::Invalid)
    }
}

/// `ECVRF_validate_key` (section 5.4.5) on an encoded key: a canonical point that is not of
/// small order. [`verify`] applies it; registries of keys (a genesis) check with it up front.
pub fn validate_public_key(public: &[u8; 32]) -> Result<(), VrfError> {
    let y = string_to_point(public).ok_or(VrfError::BadPublicKey)?;
    if y.is_small_order() {
        return Err(VrfError::WeakPublicKey);
    }
    Ok(())
}

/// `ECVRF_proof_to_hash` (section 5.2) of any decodable proof, verified or not: for the
/// tests that compare it with what [`verify`] returns. Not public: see [`VrfOutput`].
#[cfg(test)]
fn proof_to_hash(proof: &VrfProof) -> Result<[u8; OUTPUT_LEN], VrfError> {
    let (gamma, _, _) = decode_proof(proof)?;
    Ok(gamma_to_hash(&gamma))
}

/// beta = Hash(suite_string || 0x03 || point_to_string(cofactor * Gamma) || 0x00).
fn gamma_to_hash(gamma: &EdwardsPoint) -> [u8; OUTPUT_LEN] {
    Sha512::new()
        .chain_update([SUITE, 0x03])
        .chain_update(gamma.mul_by_cofactor().compress().as_bytes())
        .chain_update([0x00])
        .finalize()
        .into()
}

/// RFC 8032 section 5.1.3 decoding, which refuses non-canonical encodings (y ≥ p, or x = 0
/// with the sign bit set); curve25519-dalek's `decompress` alone accepts some of those.
fn string_to_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = CompressedEdwardsY(*bytes).decompress()?;
    (point.compress().as_bytes() == bytes).then_some(point)
}

/// `ECVRF_decode_proof` (section 5.4.4).
fn decode_proof(proof: &VrfProof) -> Result<(EdwardsPoint, [u8; C_LEN], Scalar), VrfError> {
    let pi = &proof.0;
    let mut gamma = [0u8; 32];
    gamma.copy_from_slice(&pi[..32]);
    let gamma = string_to_point(&gamma).ok_or(VrfError::BadProof)?;
    let mut c = [0u8; C_LEN];
    c.copy_from_slice(&pi[32..48]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&pi[48..]);
    // s must be below the group order q.
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)).ok_or(VrfError::BadProof)?;
    Ok((gamma, c, s))
}

/// `ECVRF_encode_to_curve_try_and_increment` (section 5.4.1.1).
fn encode_to_curve(salt: &[u8; 32], alpha: &[u8]) -> Result<EdwardsPoint, VrfError> {
    for ctr in 0..=255u8 {
        let hash: [u8; 64] = Sha512::new()
            .chain_update([SUITE, 0x01])
            .chain_update(salt)
            .chain_update(alpha)
            .chain_update([ctr, 0x00])
            .finalize()
            .into();
        let mut candidate = [0u8; 32];
        candidate.copy_from_slice(&hash[..32]);
        // interpret_hash_value_as_a_point, then H = cofactor * H.
        if let Some(point) = string_to_point(&candidate) {
            return Ok(point.mul_by_cofactor());
        }
    }
    Err(VrfError::NoPoint)
}

/// `ECVRF_challenge_generation` (section 5.4.3): the first cLen bytes of
/// Hash(suite_string || 0x02 || P1 || … || P5 || 0x00).
fn challenge(points: [CompressedEdwardsY; 5]) -> [u8; C_LEN] {
    let mut hasher = Sha512::new().chain_update([SUITE, 0x02]);
    for p in &points {
        hasher.update(p.as_bytes());
    }
    let hash: [u8; 64] = hasher.chain_update([0x00]).finalize().into();
    let mut c = [0u8; C_LEN];
    c.copy_from_slice(&hash[..C_LEN]);
    c
}

/// The challenge as a scalar (`string_to_int`, little-endian; 16 bytes are below q).
fn challenge_scalar(c: &[u8; C_LEN]) -> Scalar {
    let mut wide = [0u8; 32];
    wide[..C_LEN].copy_from_slice(c);
    Scalar::from_bytes_mod_order(wide)
}

#[cfg(test)]
mod tests;
