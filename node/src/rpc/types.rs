//! The RPC's types, shared by the server and its clients (the CLI among them): hashes,
//! addresses and bytes as 0x-hex strings, u128 amounts as decimal strings, field names in
//! camelCase. The server builds them from the chain's types; a client reads them back with
//! [`RpcReceipt::to_receipt`] and the like, which refuse what they do not know (a status this
//! client has never heard of is an error, not a guess).

use aether_engine::types::{Account, Block, BlockHeader, Event, Hash, Receipt, Status};
use aether_storage::EventRecord;
use serde::{Deserialize, Serialize};

/// 0x-hex of bytes.
pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Bytes from 0x-hex.
pub fn from_hex0x(text: &str) -> Result<Vec<u8>, String> {
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| format!("`{text}`: hex must start with 0x"))?;
    hex::decode(digits).map_err(|e| format!("`{text}`: not hex: {e}"))
}

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcHeader {
    /// The block's hash.
    pub hash: String,
    /// Its height.
    pub height: u64,
    /// Its timestamp, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The parent's hash.
    pub parent_hash: String,
    /// The proposer's fee account.
    pub proposer: String,
    /// The execution rules it was executed under.
    pub execution_version: u32,
    /// Root of its transactions.
    pub tx_root: String,
    /// Root of the state after it.
    pub state_root: String,
    /// Root of its receipts.
    pub receipts_root: String,
    /// Gas its transactions used.
    pub gas_used: u64,
    /// Its gas limit.
    pub gas_limit: u64,
}

impl From<&BlockHeader> for RpcHeader {
    fn from(h: &BlockHeader) -> Self {
        Self {
            hash: h.hash().to_string(),
            height: h.height,
            timestamp_ms: h.timestamp_ms,
            parent_hash: h.parent_hash.to_string(),
            proposer: h.proposer.to_string(),
            execution_version: h.execution_version,
            tx_root: h.tx_root.to_string(),
            state_root: h.state_root.to_string(),
            receipts_root: h.receipts_root.to_string(),
            gas_used: h.gas_used,
            gas_limit: h.gas_limit,
        }
    }
}

/// A transaction of a block: its hash, or (asked for in full) the transaction itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RpcBlockTx {
    /// The whole transaction.
    Full(RpcFullTx),
    /// Its hash.
    Hash(String),
}

/// A transaction in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcFullTx {
    /// Its hash.
    pub hash: String,
    /// The signer's address.
    pub sender: String,
    /// Its nonce.
    pub nonce: u64,
    /// The SCALE-encoded signed transaction.
    pub encoded: String,
}

/// A block: its header and its transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlock {
    /// The header.
    pub header: RpcHeader,
    /// Its transactions, as hashes or in full.
    pub transactions: Vec<RpcBlockTx>,
}

impl RpcBlock {
    /// `b`, with its transactions in full when `full`.
    pub fn new(b: &Block, full: bool) -> Self {
        let transactions = b
            .transactions
            .iter()
            .map(|t| {
                if full {
                    RpcBlockTx::Full(RpcFullTx {
                        hash: t.hash().to_string(),
                        sender: t.sender().to_string(),
                        nonce: t.tx.nonce,
                        encoded: hex0x(&parity_scale_codec::Encode::encode(t)),
                    })
                } else {
                    RpcBlockTx::Hash(t.hash().to_string())
                }
            })
            .collect();
        Self {
            header: RpcHeader::from(&b.header),
            transactions,
        }
    }
}

/// An event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcEvent {
    /// The contract that emitted it.
    pub contract: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// Its data.
    pub data: String,
}

impl From<&Event> for RpcEvent {
    fn from(e: &Event) -> Self {
        Self {
            contract: e.contract.to_string(),
            topics: e.topics.iter().map(Hash::to_string).collect(),
            data: hex0x(&e.data),
        }
    }
}

impl RpcEvent {
    /// The event it stands for.
    pub fn to_event(&self) -> Result<Event, String> {
        Ok(Event {
            contract: self
                .contract
                .parse()
                .map_err(|e| format!("event contract: {e}"))?,
            topics: self
                .topics
                .iter()
                .map(|t| t.parse().map_err(|e| format!("event topic: {e}")))
                .collect::<Result<_, _>>()?,
            data: from_hex0x(&self.data)?,
        })
    }
}

/// An event with where it was emitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcEventRecord {
    /// The event.
    #[serde(flatten)]
    pub event: RpcEvent,
    /// The height of its block.
    pub height: u64,
    /// Its transaction's index in the block.
    pub tx_index: u32,
    /// Its index among its transaction's events.
    pub event_index: u32,
    /// Its transaction's hash.
    pub tx_hash: String,
    /// The event decoded through the contract's ABI (`{name, fields}`), when the filter named
    /// the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<serde_json::Value>,
}

impl From<&EventRecord> for RpcEventRecord {
    fn from(r: &EventRecord) -> Self {
        Self {
            event: RpcEvent::from(&r.event),
            height: r.height,
            tx_index: r.tx_index,
            event_index: r.event_index,
            tx_hash: r.tx_hash.to_string(),
            decoded: None,
        }
    }
}

/// A receipt, with the height of its block when it is in one (a dry run's is not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    /// The transaction's hash.
    pub tx_hash: String,
    /// `success`, `revert`, `out_of_gas`, `trap`, `invalid_module` or `rejected`.
    pub status: String,
    /// Gas charged.
    pub gas_used: u64,
    /// What the call returned (or its revert data).
    #[serde(rename = "return")]
    pub return_data: String,
    /// Events emitted (none unless it succeeded).
    pub events: Vec<RpcEvent>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What it created (a contract address or a code hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The height of its block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
}

impl RpcReceipt {
    /// `r`, in the block at `height` if it is in one.
    pub fn new(r: &Receipt, height: Option<u64>) -> Self {
        Self {
            tx_hash: r.tx_hash.to_string(),
            status: r.status.as_str().to_string(),
            gas_used: r.gas_used,
            return_data: hex0x(&r.return_data),
            events: r.events.iter().map(RpcEvent::from).collect(),
            error: r.error.clone(),
            created: r.created.map(|c| hex0x(&c)),
            height,
        }
    }

    /// The status, refused if this client does not know it.
    pub fn status(&self) -> Result<Status, String> {
        Ok(match self.status.as_str() {
            "success" => Status::Success,
            "revert" => Status::Revert,
            "out_of_gas" => Status::OutOfGas,
            "trap" => Status::Trap,
            "invalid_module" => Status::InvalidModule,
            "rejected" => Status::Rejected,
            other => {
                return Err(format!(
                    "the node answered status `{other}`, which this client does not know: \
                     update aether"
                ));
            }
        })
    }

    /// The receipt it stands for.
    pub fn to_receipt(&self) -> Result<Receipt, String> {
        Ok(Receipt {
            tx_hash: self.tx_hash.parse().map_err(|e| format!("txHash: {e}"))?,
            status: self.status()?,
            gas_used: self.gas_used,
            return_data: from_hex0x(&self.return_data)?,
            events: self
                .events
                .iter()
                .map(RpcEvent::to_event)
                .collect::<Result<_, _>>()?,
            error: self.error.clone(),
            created: self
                .created
                .as_deref()
                .map(|c| {
                    from_hex0x(c)?
                        .try_into()
                        .map_err(|_| format!("created: `{c}` is not 32 bytes"))
                })
                .transpose()?,
        })
    }
}

/// An account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcAccount {
    /// Its balance, a decimal string.
    pub balance: String,
    /// Its nonce.
    pub nonce: u64,
    /// Its code's hash, for a contract.
    pub code_hash: Option<String>,
    /// Who may upgrade its code, for a contract.
    pub admin: Option<String>,
}

impl From<&Account> for RpcAccount {
    fn from(a: &Account) -> Self {
        Self {
            balance: a.balance.to_string(),
            nonce: a.nonce,
            code_hash: a.code_hash.map(|h| h.to_string()),
            admin: a.admin.map(|h| h.to_string()),
        }
    }
}

/// A storage value with its proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcStorageProof {
    /// The height it was read at.
    pub height: u64,
    /// The state root of that height's block (none if the block is not kept).
    pub state_root: Option<String>,
    /// The value (none: absent).
    pub value: Option<String>,
    /// The SCALE-encoded `StateProof`.
    pub proof: String,
}

/// The pool's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCount {
    /// Transactions next in their sender's nonce order.
    pub ready: usize,
    /// Transactions waiting behind a nonce gap.
    pub future: usize,
}

/// Where consensus stands, in `system_health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsensusHealth {
    /// The round this node is in.
    pub round: u64,
    /// The round of its highest quorum certificate.
    pub high_qc_round: u64,
    /// The round of its highest timeout certificate.
    pub high_tc_round: Option<u64>,
    /// The round of its last committed block.
    pub committed_round: u64,
    /// Proposals held, not yet committed.
    pub pending_blocks: usize,
    /// Blocks it misses and is fetching.
    pub missing_blocks: usize,
}

/// The node's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Connected peers.
    pub peers: usize,
    /// Whether it is catching up from its peers.
    pub is_syncing: bool,
    /// Whether it runs with a network (and so should have peers).
    pub should_have_peers: bool,
    /// The head's height.
    pub best_height: u64,
    /// The highest final height.
    pub finalized_height: u64,
    /// How far the head's timestamp lies ahead of this node's clock, ms.
    pub head_ahead_of_clock_ms: u64,
    /// Where consensus stands (none for the dev sealer).
    pub consensus: Option<ConsensusHealth>,
}

impl Health {
    /// Whether it is ready to serve: not catching up, and with peers if it should have some.
    pub fn ready(&self) -> bool {
        !self.is_syncing && (!self.should_have_peers || self.peers > 0)
    }
}

/// What the node is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// `aether`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The chain id.
    pub chain_id: u64,
    /// The genesis's hash.
    pub genesis_hash: String,
    /// The consensus it runs (`dev-sealer` or `hotstuff`).
    pub consensus: String,
    /// The execution rules it runs.
    pub execution_version: u32,
}

/// A connected peer, as `system_peers` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerSummary {
    /// Its libp2p peer id (base58).
    pub peer_id: String,
    /// The address of the connection with it.
    pub address: String,
    /// The round trip of its last ping, in milliseconds (none before the first).
    pub latency_ms: Option<f64>,
    /// Its name, when the genesis lists it as a validator (it is a full node otherwise).
    pub validator: Option<String>,
    /// What it says it runs, with the name it gave itself (`aether/0.1.0 (v2)`), once it said.
    pub agent: Option<String>,
    /// `validator` or `full`.
    #[serde(default)]
    pub role: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_reads_back_as_it_was_and_an_unknown_status_is_an_error() {
        let receipt = Receipt {
            tx_hash: Hash::of(b"tx"),
            status: Status::Revert,
            gas_used: 21_000,
            return_data: vec![1, 2],
            events: vec![Event {
                contract: Default::default(),
                topics: vec![Hash::of(b"t")],
                data: vec![9],
            }],
            error: Some("no".into()),
            created: None,
        };
        let rpc = RpcReceipt::new(&receipt, Some(7));
        let json = serde_json::to_value(&rpc).unwrap();
        assert_eq!(json["return"], "0x0102");
        assert!(json.get("created").is_none(), "absent fields are left out");
        let back: RpcReceipt = serde_json::from_value(json).unwrap();
        assert_eq!(back.to_receipt().unwrap(), receipt);
        let odd = RpcReceipt {
            status: "paused".into(),
            ..back
        };
        assert!(odd.to_receipt().unwrap_err().contains("paused"));
    }
}
