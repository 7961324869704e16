//! The RPC interface, one trait for the server and its clients: jsonrpsee generates
//! [`AetherApiServer`] (implemented by the node) and [`AetherApiClient`] (implemented for any
//! jsonrpsee client: the CLI calls the node through it). `docs/rpc.md` documents each method
//! with an example; a test holds the documentation and this trait in step.
//!
//! Addresses, hashes and byte strings are passed as `0x`-hex strings and parsed by the server,
//! so that a bad one is refused with a message naming the parameter. Cheap reads run on the
//! server's async workers; methods marked `blocking` (signature checks, proofs, block and log
//! reads, dry runs, and what takes the pool's lock) run on its blocking pool.

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use serde_json::Value;

use super::types::{
    Health, Info, PeerSummary, PendingCount, RpcAccount, RpcBlock, RpcEventRecord, RpcHeader,
    RpcReceipt, RpcStorageProof,
};

/// The node's JSON-RPC methods and subscriptions.
#[rpc(server, client)]
pub trait AetherApi {
    /// Checks a SCALE-encoded signed transaction (`0x`-hex) and admits it to the pool; its hash.
    #[method(name = "author_submitTransaction", blocking)]
    fn submit_transaction(&self, transaction: String) -> RpcResult<String>;

    /// The pool's ready and future transactions.
    #[method(name = "author_pendingCount", blocking)]
    fn pending_count(&self) -> RpcResult<PendingCount>;

    /// The nonce `address`'s next transaction should carry, counting its pending ones.
    #[method(name = "author_nextNonce", blocking)]
    fn next_nonce(&self, address: String) -> RpcResult<u64>;

    /// An account at the head or at a kept height.
    #[method(name = "state_getAccount", blocking)]
    fn account(&self, address: String, height: Option<u64>) -> RpcResult<Option<RpcAccount>>;

    /// A balance at the head, a decimal string.
    #[method(name = "state_getBalance")]
    fn balance(&self, address: String) -> RpcResult<String>;

    /// An account's nonce at the head.
    #[method(name = "state_getNonce")]
    fn nonce(&self, address: String) -> RpcResult<u64>;

    /// A contract's code (`0x`-hex Wasm) at the head or at a kept height; null for an account
    /// without code.
    #[method(name = "state_getCode", blocking)]
    fn code(&self, address: String, height: Option<u64>) -> RpcResult<Option<String>>;

    /// A contract storage value with its Merkle proof.
    #[method(name = "state_getStorage", blocking)]
    fn storage(
        &self,
        contract: String,
        key: String,
        height: Option<u64>,
    ) -> RpcResult<RpcStorageProof>;

    /// The head block's header.
    #[method(name = "chain_getHead")]
    fn head(&self) -> RpcResult<RpcHeader>;

    /// The highest final height.
    #[method(name = "chain_getFinalizedHeight")]
    fn finalized_height(&self) -> RpcResult<u64>;

    /// A block by height, its transactions in full when `full`.
    #[method(name = "chain_getBlockByHeight", blocking)]
    fn block_by_height(&self, height: u64, full: Option<bool>) -> RpcResult<Option<RpcBlock>>;

    /// A block by hash, its transactions in full when `full`.
    #[method(name = "chain_getBlockByHash", blocking)]
    fn block_by_hash(&self, hash: String, full: Option<bool>) -> RpcResult<Option<RpcBlock>>;

    /// A transaction's receipt with its block's height.
    #[method(name = "chain_getReceipt", blocking)]
    fn receipt(&self, hash: String) -> RpcResult<Option<RpcReceipt>>;

    /// Events matching a filter (`{contract?, topics?, fromHeight?, toHeight?, limit?}`).
    #[method(name = "chain_getLogs", blocking)]
    fn logs(&self, filter: Value) -> RpcResult<Vec<RpcEventRecord>>;

    /// Runs a SCALE-encoded action as `from` against the head, committing nothing.
    #[method(name = "contract_dryRun", blocking)]
    fn dry_run(
        &self,
        from: String,
        action: String,
        gas_limit: Option<u64>,
    ) -> RpcResult<RpcReceipt>;

    /// Re-executes a committed transaction on its block's parent state (after the block's
    /// earlier transactions) and returns `{height, receipt, trace}`: its frames and host calls,
    /// decoded through the ABIs the code carries. Expensive (up to one block's execution) and
    /// an operator's method; the parent state must still be kept. Null if no block holds it.
    #[method(name = "debug_traceTransaction", blocking)]
    fn trace_transaction(&self, hash: String) -> RpcResult<Option<Value>>;

    /// As `contract_dryRun`, with the trace: `{receipt, trace}`.
    #[method(name = "debug_traceCall", blocking)]
    fn trace_call(&self, from: String, action: String, gas_limit: Option<u64>) -> RpcResult<Value>;

    /// The node's health.
    #[method(name = "system_health")]
    fn health(&self) -> RpcResult<Health>;

    /// What the node is and which chain it follows.
    #[method(name = "system_info")]
    fn info(&self) -> RpcResult<Info>;

    /// The connected peers (an operator's method: see `--rpc-methods`).
    #[method(name = "system_peers")]
    fn peers(&self) -> RpcResult<Vec<PeerSummary>>;

    /// Each committed header.
    #[subscription(
        name = "chain_subscribeNewHeads" => "chain_newHead",
        unsubscribe = "chain_unsubscribeNewHeads",
        item = RpcHeader
    )]
    async fn subscribe_new_heads(&self) -> SubscriptionResult;

    /// Each final header.
    #[subscription(
        name = "chain_subscribeFinalizedHeads" => "chain_finalizedHead",
        unsubscribe = "chain_unsubscribeFinalizedHeads",
        item = RpcHeader
    )]
    async fn subscribe_finalized_heads(&self) -> SubscriptionResult;

    /// Each event of a new block matching the filter (as `chain_getLogs`, without `limit`).
    #[subscription(
        name = "chain_subscribeEvents" => "chain_event",
        unsubscribe = "chain_unsubscribeEvents",
        item = RpcEventRecord
    )]
    async fn subscribe_events(&self, filter: Option<Value>) -> SubscriptionResult;
}
