//! JSON forms of the chain's types, as the RPC returns them: hashes, addresses and bytes as
//! 0x-hex, u128 amounts as decimal strings, field names in camelCase.

use aether_engine::types::{Account, Block, BlockHeader, Event, Hash, Receipt};
use aether_storage::EventRecord;
use serde_json::{Value, json};

/// 0x-hex of bytes.
pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A header.
pub fn header(h: &BlockHeader) -> Value {
    json!({
        "hash": h.hash().to_string(),
        "height": h.height,
        "timestampMs": h.timestamp_ms,
        "parentHash": h.parent_hash.to_string(),
        "proposer": h.proposer.to_string(),
        "executionVersion": h.execution_version,
        "txRoot": h.tx_root.to_string(),
        "stateRoot": h.state_root.to_string(),
        "receiptsRoot": h.receipts_root.to_string(),
        "gasUsed": h.gas_used,
        "gasLimit": h.gas_limit,
    })
}

/// A block: its header and its transactions' hashes, with the full SCALE-encoded transactions
/// when `full`.
pub fn block(b: &Block, full: bool) -> Value {
    let txs: Vec<Value> = b
        .transactions
        .iter()
        .map(|t| {
            if full {
                json!({
                    "hash": t.hash().to_string(),
                    "sender": t.sender().to_string(),
                    "nonce": t.tx.nonce,
                    "encoded": hex0x(&parity_scale_codec::Encode::encode(t)),
                })
            } else {
                Value::String(t.hash().to_string())
            }
        })
        .collect();
    json!({ "header": header(&b.header), "transactions": txs })
}

/// An event.
pub fn event(e: &Event) -> Value {
    json!({
        "contract": e.contract.to_string(),
        "topics": e.topics.iter().map(Hash::to_string).collect::<Vec<_>>(),
        "data": hex0x(&e.data),
    })
}

/// An event with where it was emitted.
pub fn event_record(r: &EventRecord) -> Value {
    let mut v = event(&r.event);
    v["height"] = json!(r.height);
    v["txIndex"] = json!(r.tx_index);
    v["eventIndex"] = json!(r.event_index);
    v["txHash"] = json!(r.tx_hash.to_string());
    v
}

/// A receipt, with the height of its block when known.
pub fn receipt(r: &Receipt, height: Option<u64>) -> Value {
    let mut v = json!({
        "txHash": r.tx_hash.to_string(),
        "status": r.status.as_str(),
        "gasUsed": r.gas_used,
        "return": hex0x(&r.return_data),
        "events": r.events.iter().map(event).collect::<Vec<_>>(),
    });
    if let Some(e) = &r.error {
        v["error"] = json!(e);
    }
    if let Some(c) = &r.created {
        v["created"] = json!(hex0x(c));
    }
    if let Some(h) = height {
        v["height"] = json!(h);
    }
    v
}

/// An account.
pub fn account(a: &Account) -> Value {
    json!({
        "balance": a.balance.to_string(),
        "nonce": a.nonce,
        "codeHash": a.code_hash.map(|h| h.to_string()),
        "admin": a.admin.map(|h| h.to_string()),
    })
}
