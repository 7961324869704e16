//! RPC error codes. Standard JSON-RPC codes for malformed requests and parameters; application
//! codes (documented in `docs/rpc.md`) for what the chain refuses.

use jsonrpsee::types::ErrorObjectOwned;

use crate::chain::ChainError;
use crate::mempool::Rejection;

/// Invalid method parameters (JSON-RPC standard).
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error (JSON-RPC standard).
pub const INTERNAL: i32 = -32603;
/// The state at the requested height is not kept (pruned or in the future).
pub const STATE_UNAVAILABLE: i32 = -32030;
/// The node's storage failed.
pub const STORAGE_FAILURE: i32 = -32031;
/// The engine failed on the request (a fault of the node, logged; not of the caller).
pub const ENGINE_FAULT: i32 = -32032;
/// As many of this kind of call are running as the node allows at once: retry.
pub const BUSY: i32 = -32033;

/// A method of [`super::UNSAFE_METHODS`] called where the node serves only safe ones.
pub const UNSAFE_METHOD: i32 = -32034;
/// A subscription asked for over HTTP (it needs a WebSocket).
pub const SUBSCRIPTION_OVER_HTTP: i32 = -32035;

/// A busy refusal with a reason.
pub fn busy(reason: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(BUSY, reason.into(), None::<()>)
}

/// An internal error with a reason (a fault of the node, not of the caller).
pub fn internal(reason: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, reason.into(), None::<()>)
}

/// An invalid-parameters error with a reason.
pub fn invalid_params(reason: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, reason.into(), None::<()>)
}

/// The pool's refusal, with its code.
pub fn rejected(r: Rejection) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(r.code(), r.to_string(), None::<()>)
}

/// A chain failure.
pub fn chain(e: ChainError) -> ErrorObjectOwned {
    match e {
        ChainError::Storage(aether_storage::StorageError::Unavailable(h)) => {
            ErrorObjectOwned::owned(
                STATE_UNAVAILABLE,
                format!("state at height {h} is not available (pruned, or not committed yet)"),
                None::<()>,
            )
        }
        ChainError::Storage(e @ aether_storage::StorageError::TooBroad(_)) => {
            ErrorObjectOwned::owned(INVALID_PARAMS, e.to_string(), None::<()>)
        }
        ChainError::Storage(e) => {
            ErrorObjectOwned::owned(STORAGE_FAILURE, e.to_string(), None::<()>)
        }
        ChainError::State(aether_engine::ports::StoreError::Unavailable(h)) => {
            ErrorObjectOwned::owned(
                STATE_UNAVAILABLE,
                format!("state at height {h} is not available (pruned, or not committed yet)"),
                None::<()>,
            )
        }
        e @ ChainError::State(_) => {
            ErrorObjectOwned::owned(STORAGE_FAILURE, e.to_string(), None::<()>)
        }
        e @ ChainError::EngineFault => {
            ErrorObjectOwned::owned(ENGINE_FAULT, e.to_string(), None::<()>)
        }
        other => ErrorObjectOwned::owned(INTERNAL, other.to_string(), None::<()>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_no_request_can_cause_keep_their_documented_codes() {
        let doc = include_str!("../../../docs/rpc.md");
        let storage = chain(ChainError::Storage(aether_storage::StorageError::Corrupt {
            path: "db".into(),
            what: "account".into(),
            reason: "a torn page".into(),
        }));
        assert_eq!(storage.code(), STORAGE_FAILURE);
        assert!(doc.contains("| -32031 | storage failure"));
        let internal = chain(ChainError::GenesisMismatch {
            found: Default::default(),
            expected: Default::default(),
        });
        assert_eq!(internal.code(), INTERNAL);
        assert!(doc.contains("`-32603` internal error"));
    }

    #[test]
    fn an_engine_fault_has_its_own_documented_code() {
        let e = chain(ChainError::EngineFault);
        assert_eq!(e.code(), ENGINE_FAULT);
        assert!(e.message().starts_with("engine fault"), "{}", e.message());
        let doc = include_str!("../../../docs/rpc.md");
        assert!(
            doc.contains("| -32032 | engine fault"),
            "docs/rpc.md lists -32032"
        );
    }
}
