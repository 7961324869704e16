//! Fixed-size identifiers: [`Address`] and [`Hash`].

use core::fmt;
use core::str::FromStr;

use parity_scale_codec::{Decode, Encode};

/// Error parsing a hex identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    /// The text is not hex.
    #[error("not valid hex: {0}")]
    Hex(String),
    /// The decoded bytes have the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Length the identifier needs.
        expected: usize,
        /// Length that was given.
        got: usize,
    },
}

fn parse_hex32(s: &str) -> Result<[u8; 32], ParseIdError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(s).map_err(|e| ParseIdError::Hex(e.to_string()))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| ParseIdError::Length {
        expected: 32,
        got: bytes.len(),
    })
}

macro_rules! id32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = 32;

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// `0x`-prefixed lowercase hex.
            pub fn to_hex(&self) -> String {
                format!("0x{}", hex::encode(self.0))
            }
        }

        impl From<[u8; 32]> for $name {
            fn from(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex32(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }
    };
}

id32!(
    /// A 32-byte account address. For key accounts it is the signer's public key (ed25519 or
    /// sr25519); for contracts it is derived by [`crate::contract_address`].
    Address
);

id32!(
    /// A 32-byte SHA-256 digest: code hashes, block hashes, transaction hashes, state roots.
    Hash
);

impl Hash {
    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(crate::crypto::sha256(data))
    }
}
