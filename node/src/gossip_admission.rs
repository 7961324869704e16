//! Gossiped transactions admitted off the service loop: a batch from a peer (up to 1,024
//! transactions) was admitted on the loop that also runs consensus, one transaction at a
//! time, so a proposal or a vote could wait behind a few milliseconds of pool work per batch.
//! Now batches go to a thread of their own, in arrival order (nonces from one sender stay in
//! order), each admitted under one take of the pool's lock (`Chain::admit_all`, as the RPC's
//! batch submission does). The queue is bounded: beyond it a batch is dropped and counted
//! (peers still hold those transactions; their senders' next batch or block brings them).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use crate::chain::{Chain, now_ms};
use crate::metrics::Metrics;

/// Batches waiting for admission, at most (each up to 1,024 transactions).
pub const QUEUE_BATCHES: usize = 256;

/// The admission thread and its queue.
pub struct GossipAdmission {
    queue: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<Metrics>,
}

impl GossipAdmission {
    /// Starts the thread, admitting into `chain`'s pool.
    pub fn start(chain: Arc<Chain>, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let (queue, batches) = sync_channel(QUEUE_BATCHES);
        let counted = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("aether-gossip-admission".into())
            .spawn(move || admit(&chain, &counted, batches))?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            metrics,
        })
    }

    /// Queues a gossip message of transactions (validated by the network already: decoded,
    /// every signature checked); a full queue drops it, counted as `admission_queue_full`.
    pub fn offer(&self, payload: Vec<u8>) {
        let Some(queue) = &self.queue else { return };
        match queue.try_send(payload) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.metrics.pool_rejection("admission_queue_full");
                tracing::debug!("the gossip admission queue is full: a batch was dropped");
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Drop for GossipAdmission {
    /// Closes the queue and waits for the thread to admit what is queued and stop, so that it
    /// holds no reference to the chain afterwards.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn admit(chain: &Chain, metrics: &Metrics, batches: Receiver<Vec<u8>>) {
    while let Ok(payload) = batches.recv() {
        let txs = crate::tx_gossip::decode_batch(&payload).unwrap_or_default();
        let mut checked = Vec::with_capacity(txs.len());
        for tx in txs {
            match chain.precheck(tx) {
                Ok(c) => checked.push(c),
                Err(why) => {
                    metrics.pool_rejection(why.name());
                    tracing::trace!(%why, "a gossiped transaction was not admitted");
                }
            }
        }
        for result in chain.admit_all(checked, now_ms()) {
            if let Err(why) = result {
                metrics.pool_rejection(why.name());
                tracing::trace!(%why, "a gossiped transaction was not admitted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::Encode;

    #[test]
    fn gossiped_batches_are_admitted_in_arrival_order_and_garbage_admits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = aether_storage::Store::open(dir.path(), aether_storage::StoreConfig::default())
            .unwrap();
        let chain = Arc::new(Chain::open(store, crate::genesis::Genesis::dev()).unwrap());
        let metrics = Arc::new(Metrics::new());
        let admission = GossipAdmission::start(chain.clone(), metrics).unwrap();
        let signed = |who: &str, nonce| {
            crate::test_support::signed_transfer(who, crate::genesis::DEV_CHAIN_ID, nonce).encode()
        };
        // Two senders' transactions over two batches, each sender's nonces in order across
        // them: all of them ready (none waiting for a gap) only if the batches kept order.
        for nonces in [0..15u64, 15..30] {
            let txs: Vec<Vec<u8>> = nonces
                .clone()
                .map(|n| signed("alice", n))
                .chain(nonces.map(|n| signed("bob", n)))
                .collect();
            admission.offer(crate::tx_gossip::encode_batch(&txs));
        }
        admission.offer(vec![0xff; 10]);
        // Dropping it waits until what was queued is admitted.
        drop(admission);
        assert_eq!(chain.pool_counts(), (60, 0));
    }
}
