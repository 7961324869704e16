//! Transactions gossiped in batches: one gossip message carries the transactions a node
//! admitted within a few milliseconds (SCALE `Vec<SignedTransaction>`), instead of one message
//! each. At thousands of transactions a second, a message each filled gossipsub's per-peer
//! send queue (5,000 messages): proposals and timeouts queued behind them or were dropped, and
//! rounds timed out (measured on the devnet at 5,000 tx/s, docs/benchmarks.md).

use std::sync::Arc;
use std::time::Duration;

use aether_engine::ports::{Network, Topic};
use aether_engine::types::SignedTransaction;
use parity_scale_codec::{Compact, Decode, Encode};
use tokio::sync::mpsc;

/// Transactions in one gossip message, at most (the network refuses more).
pub const MAX_BATCH_TXS: usize = aether_net::p2p::MAX_GOSSIPED_TXS as usize;
/// Bytes of the transactions in one gossip message, at most (one larger transaction goes
/// alone).
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// How long a transaction waits for others to go with it, at most.
pub const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// A gossip message of transactions, from their SCALE encodings.
pub fn encode_batch(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Compact(txs.len() as u32).encode();
    out.reserve(txs.iter().map(Vec::len).sum());
    for tx in txs {
        out.extend_from_slice(tx);
    }
    out
}

/// Why a gossip message of transactions is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Not a count followed by that many SCALE-encoded signed transactions.
    #[error("not a SCALE list of transactions: {0}")]
    Undecodable(String),
    /// More transactions than a message may carry.
    #[error("{0} transactions in one message, more than {MAX_BATCH_TXS}")]
    TooMany(u32),
    /// No transaction.
    #[error("an empty message")]
    Empty,
    /// Bytes after the last transaction.
    #[error("bytes after the last transaction")]
    TrailingBytes,
}

/// The transactions of a gossip message: at least one, at most [`MAX_BATCH_TXS`], each a whole
/// SCALE-encoded signed transaction, nothing after the last. The count is checked before
/// anything is decoded or allocated for it.
pub fn decode_batch(payload: &[u8]) -> Result<Vec<SignedTransaction>, BatchError> {
    let mut rest = payload;
    let count = Compact::<u32>::decode(&mut rest)
        .map_err(|e| BatchError::Undecodable(e.to_string()))?
        .0;
    if count == 0 {
        return Err(BatchError::Empty);
    }
    if count as usize > MAX_BATCH_TXS {
        return Err(BatchError::TooMany(count));
    }
    let mut txs = Vec::with_capacity(count as usize);
    for _ in 0..count {
        txs.push(
            SignedTransaction::decode(&mut rest)
                .map_err(|e| BatchError::Undecodable(e.to_string()))?,
        );
    }
    if !rest.is_empty() {
        return Err(BatchError::TrailingBytes);
    }
    Ok(txs)
}

/// Starts the batcher: what it returns takes each admitted transaction (its SCALE encoding);
/// the batcher gossips them on [`Topic::Transactions`], together, at most [`BATCH_WINDOW`]
/// after the first of a batch arrived. It stops when what it returned is dropped (after
/// gossiping what it holds).
pub fn start(network: Arc<dyn Network>) -> Arc<dyn Fn(Vec<u8>) + Send + Sync> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut bytes = 0usize;
        while let Some(first) = rx.recv().await {
            bytes += first.len();
            batch.push(first);
            let until = tokio::time::Instant::now() + BATCH_WINDOW;
            loop {
                let next = match rx.try_recv() {
                    Ok(next) => Some(next),
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        tokio::time::timeout_at(until, rx.recv())
                            .await
                            .ok()
                            .flatten()
                    }
                };
                let Some(next) = next else { break };
                if batch.len() == MAX_BATCH_TXS || bytes + next.len() > MAX_BATCH_BYTES {
                    network.broadcast(Topic::Transactions, encode_batch(&batch));
                    batch.clear();
                    bytes = 0;
                }
                bytes += next.len();
                batch.push(next);
            }
            network.broadcast(Topic::Transactions, encode_batch(&batch));
            batch.clear();
            bytes = 0;
        }
    });
    Arc::new(move |bytes| {
        // The batcher ends only when this closure is dropped: a send cannot fail before.
        let _ = tx.send(bytes);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn signed(nonce: u64) -> SignedTransaction {
        crate::test_support::signed_transfer("alice", 7, nonce)
    }

    #[test]
    fn a_batch_decodes_to_the_transactions_encoded_and_is_a_scale_list() {
        let txs: Vec<SignedTransaction> = (0..3).map(signed).collect();
        let encoded: Vec<Vec<u8>> = txs.iter().map(Encode::encode).collect();
        let payload = encode_batch(&encoded);
        assert_eq!(payload, txs.encode(), "the same bytes as SCALE's Vec");
        assert_eq!(decode_batch(&payload).unwrap(), txs);
    }

    #[test]
    fn malformed_batches_are_refused_before_anything_is_allocated_for_them() {
        let one = signed(0).encode();
        let mut trailing = encode_batch(std::slice::from_ref(&one));
        trailing.push(0);
        assert_eq!(decode_batch(&trailing), Err(BatchError::TrailingBytes));
        assert_eq!(decode_batch(&encode_batch(&[])), Err(BatchError::Empty));
        assert!(matches!(decode_batch(&[]), Err(BatchError::Undecodable(_))));
        // A count claiming four billion transactions, and none behind it.
        let huge = Compact(u32::MAX).encode();
        assert_eq!(decode_batch(&huge), Err(BatchError::TooMany(u32::MAX)));
        // A count the transactions behind it do not fill.
        let mut short = Compact(2u32).encode();
        short.extend_from_slice(&one);
        assert!(matches!(
            decode_batch(&short),
            Err(BatchError::Undecodable(_))
        ));
        let mut cut = encode_batch(std::slice::from_ref(&one));
        cut.pop();
        assert!(matches!(
            decode_batch(&cut),
            Err(BatchError::Undecodable(_))
        ));
    }

    /// A network that records what it is asked to gossip.
    #[derive(Default)]
    struct Recording(Mutex<Vec<(Topic, Vec<u8>)>>);

    impl Network for Recording {
        fn broadcast(&self, topic: Topic, payload: Vec<u8>) {
            self.0.lock().unwrap().push((topic, payload));
        }
        fn send(&self, _: &aether_engine::ports::PeerId, _: Topic, _: Vec<u8>) {}
        fn request(
            &self,
            _: &aether_engine::ports::PeerId,
            _: aether_engine::ports::Protocol,
            _: Vec<u8>,
        ) -> aether_engine::ports::RequestId {
            aether_engine::ports::RequestId(0)
        }
        fn respond(&self, _: aether_engine::ports::RequestId, _: Vec<u8>) {}
        fn peers(&self) -> Vec<aether_engine::ports::PeerId> {
            Vec::new()
        }
        fn set_inbound(&self, _: Arc<dyn aether_engine::ports::InboundSink>) {}
    }

    #[tokio::test]
    async fn transactions_admitted_together_go_in_one_message_and_a_full_batch_goes_at_once() {
        let network = Arc::new(Recording::default());
        let gossip = start(network.clone());
        let txs: Vec<Vec<u8>> = (0..MAX_BATCH_TXS as u64 + 10)
            .map(|n| signed(n).encode())
            .collect();
        for tx in &txs {
            gossip(tx.clone());
        }
        tokio::time::sleep(BATCH_WINDOW * 20).await;
        gossip(txs[0].clone());
        drop(gossip);
        tokio::time::sleep(BATCH_WINDOW * 20).await;
        let sent = network.0.lock().unwrap().clone();
        assert!(sent.iter().all(|(topic, _)| *topic == Topic::Transactions));
        let sizes: Vec<usize> = sent
            .iter()
            .map(|(_, p)| decode_batch(p).unwrap().len())
            .collect();
        assert_eq!(sizes, vec![MAX_BATCH_TXS, 10, 1], "{sizes:?}");
        let gossiped: Vec<Vec<u8>> = sent
            .iter()
            .flat_map(|(_, p)| decode_batch(p).unwrap())
            .map(|t| t.encode())
            .collect();
        assert_eq!(gossiped[..txs.len()], txs[..], "in order, none lost");
    }
}
