//! Catching up with the network at start: a node that was down, is new, or was restored from a
//! snapshot asks peers for the committed blocks after its head, with the commit proof stored
//! beside each (`/aether/committed-range/2`), checks each proof against the validator set (a
//! quorum's QC over a 2-chain from the block), executes each block on its head (the header's
//! state, receipts and transaction roots must match what execution gives) and commits it; then
//! consensus starts from the new head. Peers serve the same ranges from their stores.

use std::sync::Arc;
use std::time::Duration;

use aether_consensus::certs::Verifier;
use aether_consensus::hotstuff::CommitProof;
use aether_engine::ports::{Inbound, Network, PeerId, Protocol, Verdict};
use aether_engine::types::Block;
use parity_scale_codec::{Decode, DecodeLimit, Encode};
use tokio::sync::mpsc;

use crate::chain::{Chain, now_ms};

/// Most blocks one answer carries.
pub const RANGE_MAX_BLOCKS: u32 = 64;

/// Most bytes of blocks one answer carries (one block more may take it past).
pub const RANGE_MAX_BYTES: usize = 16 << 20;

/// How long a peer has to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a starting node waits for its first peer before it starts without syncing.
const FIRST_PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a catch-up lasts: then consensus starts from wherever the node got (its peers'
/// recent blocks come through consensus; a node still far behind syncs again at its next
/// start). Bounds what peers that drip blocks slowly can cost.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Peers that must say they have nothing newer before a catch-up ends (fewer if fewer are
/// connected): one peer that is behind, or lies, does not end it.
const DONE_WHEN_EMPTY_FROM: usize = 2;

/// Ranges served at once, at most; beyond, a request is answered empty at once.
pub const MAX_SERVING: usize = 4;

/// Messages (consensus, gossiped transactions) kept while catching up, at most, for the node to
/// take up afterwards; beyond, they are dropped.
pub const MAX_KEPT: usize = 4_096;

/// Answers a range request off the async runtime, if fewer than [`MAX_SERVING`] are being
/// served; otherwise at once with nothing (the asker turns to another peer).
pub fn serve_request(
    chain: &Arc<Chain>,
    network: &Arc<dyn Network>,
    serving: &Arc<tokio::sync::Semaphore>,
    id: aether_engine::ports::RequestId,
    payload: Vec<u8>,
) {
    match serving.clone().try_acquire_owned() {
        Ok(permit) => {
            let (chain, network) = (chain.clone(), network.clone());
            tokio::task::spawn_blocking(move || {
                network.respond(id, serve(&chain, &payload));
                drop(permit);
            });
        }
        Err(_) => network.respond(id, Vec::<RangeEntry>::new().encode()),
    }
}

/// A request: committed blocks from height `from`, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RangeRequest {
    /// The first height asked for.
    pub from: u64,
    /// How many, at most.
    pub max: u32,
}

/// One committed block and the proof stored beside it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RangeEntry {
    /// The block.
    pub block: Block,
    /// Its commit proof.
    pub proof: Vec<u8>,
}

/// Why a range was not applied.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The answer is not a range.
    #[error("undecodable range: {0}")]
    Undecodable(String),
    /// A block's proof does not prove it committed.
    #[error("block {height}: {reason}")]
    BadProof {
        /// The block's height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// A block is not valid on the head (execution disagrees with its header).
    #[error("block {height} is not valid here: {verdict:?}")]
    Invalid {
        /// The block's height.
        height: u64,
        /// The node's verdict.
        verdict: Verdict,
    },
    /// The chain failed (storage).
    #[error(transparent)]
    Chain(#[from] crate::chain::ChainError),
}

/// Answers a range request from the store: the committed blocks from the asked height with
/// their proofs, up to the limits (none past the head, none without a proof).
pub fn serve(chain: &Chain, request: &[u8]) -> Vec<u8> {
    let Ok(request) = RangeRequest::decode(&mut &request[..]) else {
        return Vec::<RangeEntry>::new().encode();
    };
    let mut entries = Vec::new();
    let mut bytes = 0;
    let last = request
        .from
        .saturating_add(u64::from(request.max.min(RANGE_MAX_BLOCKS)));
    for height in request.from.max(1)..last {
        let (Ok(Some(block)), Ok(Some(proof))) = (
            chain.block_by_height(height),
            chain.store().commit_proof(height),
        ) else {
            break;
        };
        if proof.is_empty() {
            // Sealed by the dev sealer: nothing proves it to another node.
            break;
        }
        bytes += block.encoded_size() + proof.len();
        entries.push(RangeEntry { block, proof });
        if bytes >= RANGE_MAX_BYTES {
            break;
        }
    }
    entries.encode()
}

/// Decodes an answer (bounded: at most the size the network lets through).
pub fn decode(bytes: &[u8]) -> Result<Vec<RangeEntry>, SyncError> {
    Vec::<RangeEntry>::decode_all_with_depth_limit(32, &mut &bytes[..])
        .map_err(|e| SyncError::Undecodable(e.to_string()))
}

/// Checks and commits the entries that extend the head, in order; returns how many were
/// committed. Stops at the first entry that does not extend the head.
pub fn apply(
    chain: &Chain,
    verifier: &Verifier,
    entries: Vec<RangeEntry>,
) -> Result<usize, SyncError> {
    let mut applied = 0;
    for entry in entries {
        let head = chain.head();
        let header = &entry.block.header;
        if header.height <= head.height {
            continue;
        }
        if header.height != head.height + 1 || header.parent_hash != head.hash() {
            break;
        }
        let proved =
            CommitProof::verify(&entry.proof, verifier).map_err(|e| SyncError::BadProof {
                height: header.height,
                reason: e.to_string(),
            })?;
        let hash = header.hash();
        if proved.header != hash.0 {
            return Err(SyncError::BadProof {
                height: header.height,
                reason: "the proof is of another block".into(),
            });
        }
        match chain.verify(&entry.block, now_ms())? {
            Verdict::Valid => {}
            verdict => {
                return Err(SyncError::Invalid {
                    height: header.height,
                    verdict,
                });
            }
        }
        let (_, failure) = chain.commit(&[hash], &entry.proof)?;
        if let Some(failure) = failure {
            return Err(SyncError::BadProof {
                height: header.height,
                reason: failure.to_string(),
            });
        }
        applied += 1;
    }
    Ok(applied)
}

/// Catches up before consensus starts: waits for a first peer (a while), then asks peers in
/// turn for the blocks after the head until two of them (or every one, if fewer) answer that
/// they have none, or none of them helps, or [`CATCH_UP_LIMIT`] passes. Returns the blocks
/// committed. Range requests from peers are served meanwhile; their consensus messages and
/// gossiped transactions go to `kept` (at most [`MAX_KEPT`]; beyond, dropped) for the node to
/// take up afterwards.
pub async fn catch_up(
    shared: &Arc<dyn Network>,
    inbound: &mut mpsc::Receiver<Inbound>,
    chain: &Arc<Chain>,
    verifier: &Verifier,
    serving: &Arc<tokio::sync::Semaphore>,
    kept: &mut Vec<Inbound>,
    on_progress: impl Fn(u64, u64),
) -> u64 {
    let network = shared.as_ref();
    let started = tokio::time::Instant::now();
    let mut peers: Vec<PeerId> = network.peers();
    while peers.is_empty() {
        if started.elapsed() >= FIRST_PEER_TIMEOUT {
            tracing::info!("no peer to sync from: starting from the local head");
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        peers = network.peers();
    }
    let mut total = 0u64;
    let mut unhelpful = 0;
    let mut empty_from = std::collections::BTreeSet::new();
    let mut turn = 0usize;
    while unhelpful < peers.len().max(1) && started.elapsed() < CATCH_UP_LIMIT {
        if empty_from.len() >= DONE_WHEN_EMPTY_FROM.min(peers.len()) {
            break;
        }
        let peer = peers[turn % peers.len()].clone();
        turn += 1;
        let from = chain.head().height + 1;
        let request = RangeRequest {
            from,
            max: RANGE_MAX_BLOCKS,
        }
        .encode();
        let id = network.request(&peer, Protocol::CommittedRange, request);
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, async {
            while let Some(message) = inbound.recv().await {
                match message {
                    Inbound::Response {
                        id: got, result, ..
                    } if got == id => {
                        return Some(result);
                    }
                    Inbound::Request {
                        id,
                        protocol: Protocol::CommittedRange,
                        payload,
                        ..
                    } => serve_request(chain, shared, serving, id, payload),
                    Inbound::Request { id, .. } => network.respond(id, Vec::new()),
                    message @ Inbound::Message { .. } if kept.len() < MAX_KEPT => {
                        kept.push(message)
                    }
                    _ => {}
                }
            }
            None
        })
        .await;
        let refreshed = network.peers();
        if !refreshed.is_empty() {
            peers = refreshed;
        }
        let entries = match answer {
            Ok(Some(Ok(bytes))) => match decode(&bytes) {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::info!(%e, "a peer's range is undecodable");
                    unhelpful += 1;
                    continue;
                }
            },
            _ => {
                unhelpful += 1;
                continue;
            }
        };
        if entries.is_empty() {
            // This peer has nothing after our head.
            empty_from.insert(peer);
            continue;
        }
        let (applying, verifier) = (chain.clone(), verifier.clone());
        let applied = tokio::task::spawn_blocking(move || apply(&applying, &verifier, entries))
            .await
            .unwrap_or_else(|e| Err(SyncError::Undecodable(e.to_string())));
        match applied {
            Ok(0) => unhelpful += 1,
            Ok(n) => {
                unhelpful = 0;
                empty_from.clear();
                total += n as u64;
                on_progress(n as u64, chain.head().height);
                tracing::info!(height = from + n as u64 - 1, blocks = total, "syncing");
            }
            Err(e) => {
                tracing::warn!(%e, "a peer's range was refused");
                unhelpful += 1;
            }
        }
    }
    if total > 0 {
        tracing::info!(height = chain.head().height, blocks = total, "synced");
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::Genesis;
    use aether_storage::{Store, StoreConfig};

    fn chain(dir: &std::path::Path) -> Chain {
        let store = Store::open(dir, StoreConfig::default()).unwrap();
        Chain::open(store, Genesis::dev()).unwrap()
    }

    /// A range is applied only with proofs that prove each block committed; ranges that do not
    /// extend the head change nothing; garbage is an error, never a panic.
    #[test]
    fn a_range_without_valid_proofs_or_off_the_head_commits_nothing() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let source = chain(a.path());
        let target = chain(b.path());
        for t in 1..=3 {
            source
                .produce(t * 1_000, Genesis::dev().validators[0].account)
                .unwrap();
        }
        let verifier = crate::validator::config(&Genesis::dev(), 1_000)
            .unwrap()
            .verifier();
        // The dev sealer's blocks carry no proof: a server does not offer them...
        let served = decode(&serve(&source, &RangeRequest { from: 1, max: 10 }.encode())).unwrap();
        assert!(served.is_empty());
        // ...and a client refuses them with a forged one.
        let entries: Vec<RangeEntry> = (1..=3)
            .map(|h| RangeEntry {
                block: source.block_by_height(h).unwrap().unwrap(),
                proof: vec![1, 2, 3],
            })
            .collect();
        assert!(matches!(
            apply(&target, &verifier, entries.clone()),
            Err(SyncError::BadProof { height: 1, .. })
        ));
        assert_eq!(target.head().height, 0);
        // Blocks that do not extend the head are skipped.
        assert_eq!(apply(&target, &verifier, entries[1..].to_vec()).unwrap(), 0);
        assert!(matches!(decode(&[0xff; 7]), Err(SyncError::Undecodable(_))));
        assert!(decode(&serve(&source, &[0xff]).clone()).unwrap().is_empty());
    }
}
