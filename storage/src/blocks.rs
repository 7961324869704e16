//! Blocks, receipts, the transaction index and the event index: how a block is written and how
//! it is read back.

use aether_engine::ports::{BlockReader, ExecutedBlock, StoreError};
use aether_engine::types::{Address, Block, BlockHeader, Event, Hash, Receipt, SignedTransaction};
use parity_scale_codec::{Decode, Encode};

use crate::db::Write;
use crate::error::{Result, StorageError};
use crate::layout::{self, EVENT_BY_CONTRACT, EVENT_BY_TOPIC, event_key, meta, receipt_key};
use crate::store::Store;

/// Adds the writes of a block's header, body, height, receipts and indexes to `out`.
pub(crate) fn block_writes(executed: &ExecutedBlock, hash: Hash, out: &mut Vec<Write>) {
    let block = &executed.block;
    let height = block.header.height;
    out.push((
        layout::HEADERS,
        hash.0.to_vec(),
        Some(block.header.encode()),
    ));
    out.push((
        layout::BODIES,
        hash.0.to_vec(),
        Some(block.transactions.encode()),
    ));
    out.push((
        layout::HEIGHTS,
        height.to_be_bytes().to_vec(),
        Some(hash.0.to_vec()),
    ));
    for (i, receipt) in executed.receipts.iter().enumerate() {
        let tx = i as u32;
        out.push((
            layout::RECEIPTS,
            receipt_key(height, tx).to_vec(),
            Some(receipt.encode()),
        ));
        out.push((
            layout::TX_INDEX,
            receipt.tx_hash.0.to_vec(),
            Some((height, tx).encode()),
        ));
        for (e, event) in receipt.events.iter().enumerate() {
            let e = e as u32;
            out.push((
                layout::EVENTS,
                event_key(&contract_prefix(&event.contract), height, tx, e),
                Some(Vec::new()),
            ));
            for (position, topic) in event.topics.iter().enumerate() {
                out.push((
                    layout::EVENTS,
                    event_key(&topic_prefix(position as u8, topic), height, tx, e),
                    Some(Vec::new()),
                ));
            }
        }
    }
}

fn contract_prefix(contract: &Address) -> Vec<u8> {
    let mut p = vec![EVENT_BY_CONTRACT];
    p.extend_from_slice(&contract.0);
    p
}

fn topic_prefix(position: u8, topic: &Hash) -> Vec<u8> {
    let mut p = vec![EVENT_BY_TOPIC, position];
    p.extend_from_slice(&topic.0);
    p
}

/// Most index entries or receipts one [`Store::events`] query looks at.
pub const MAX_EVENTS_SCANNED: usize = 100_000;

/// Which events to return: all conditions must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this contract.
    pub contract: Option<Address>,
    /// Positional topics: `Some(t)` at position `i` requires topic `i` to be `t`.
    pub topics: Vec<Option<Hash>>,
    /// Lowest height, inclusive.
    pub from_height: u64,
    /// Highest height, inclusive.
    pub to_height: u64,
}

impl EventFilter {
    fn matches(&self, event: &Event) -> bool {
        self.contract.is_none_or(|c| c == event.contract)
            && self
                .topics
                .iter()
                .enumerate()
                .all(|(i, t)| t.is_none_or(|t| event.topics.get(i) == Some(&t)))
    }
}

/// An event found by [`Store::events`], with where it was emitted.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EventRecord {
    /// Height of the block.
    pub height: u64,
    /// Index of the transaction in the block.
    pub tx_index: u32,
    /// Index of the event in the transaction's receipt.
    pub event_index: u32,
    /// Hash of the transaction.
    pub tx_hash: Hash,
    /// The event.
    pub event: Event,
}

impl Store {
    /// Hash of the block at `height`.
    pub fn block_hash(&self, height: u64) -> Result<Option<Hash>> {
        let db = &self.inner.db;
        match db.get(layout::HEIGHTS, &height.to_be_bytes())? {
            None => Ok(None),
            Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
                .map(|h| Some(Hash(h)))
                .map_err(|_| db.corrupt(format!("heights/{height}"), "not a 32-byte hash")),
        }
    }

    /// The header of the block with hash `hash`.
    pub fn header(&self, hash: &Hash) -> Result<Option<BlockHeader>> {
        self.decoded(layout::HEADERS, &hash.0, || format!("headers/{hash}"))
    }

    /// The receipt of the transaction at `tx_index` of the block at `height`.
    pub fn receipt_at(&self, height: u64, tx_index: u32) -> Result<Option<Receipt>> {
        let db = &self.inner.db;
        db.get(layout::RECEIPTS, &receipt_key(height, tx_index))?
            .map(|bytes| {
                Receipt::decode(&mut &bytes[..])
                    .map_err(|e| db.corrupt(format!("receipts/{height}/{tx_index}"), e))
            })
            .transpose()
    }

    /// Events matching `filter`, in chain order, at most `limit`. Uses the contract index when
    /// a contract is given, else the index of the first topic given, else scans receipts. A
    /// query that would look at more than [`MAX_EVENTS_SCANNED`] index entries or receipts
    /// fails with [`StorageError::TooBroad`].
    pub fn events(&self, filter: &EventFilter, limit: usize) -> Result<Vec<EventRecord>> {
        let mut out = Vec::new();
        let mut scanned = 0usize;
        let mut scan = || {
            scanned += 1;
            if scanned > MAX_EVENTS_SCANNED {
                Err(StorageError::TooBroad(format!(
                    "more than {MAX_EVENTS_SCANNED} candidate events; narrow the height range or add a contract or topic"
                )))
            } else {
                Ok(())
            }
        };
        if limit == 0 || filter.from_height > filter.to_height {
            return Ok(out);
        }
        let prefix = match (
            &filter.contract,
            filter.topics.iter().position(Option::is_some),
        ) {
            (Some(c), _) => Some(contract_prefix(c)),
            (None, Some(i)) => filter.topics[i].map(|t| topic_prefix(i as u8, &t)),
            (None, None) => None,
        };
        let db = &self.inner.db;
        let mut cached: Option<((u64, u32), Receipt)> = None;
        match prefix {
            Some(prefix) => {
                let mut iter = db.iter(layout::EVENTS)?;
                let mut start = prefix.clone();
                start.extend_from_slice(&filter.from_height.to_be_bytes());
                iter.seek(&start).map_err(|e| db.db_error(e))?;
                while let Some((key, _)) = iter.next().map_err(|e| db.db_error(e))? {
                    if !key.starts_with(&prefix) || key.len() != prefix.len() + 16 {
                        break;
                    }
                    scan()?;
                    let rest = &key[prefix.len()..];
                    let height = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
                    if height > filter.to_height {
                        break;
                    }
                    let tx = u32::from_be_bytes(rest[8..12].try_into().expect("4 bytes"));
                    let ev = u32::from_be_bytes(rest[12..].try_into().expect("4 bytes"));
                    if cached.as_ref().is_none_or(|(at, _)| *at != (height, tx)) {
                        let receipt = self.receipt_at(height, tx)?.ok_or_else(|| {
                            db.corrupt(
                                format!("events/{}", crate::tree::hex(&key)),
                                "indexes a receipt that does not exist",
                            )
                        })?;
                        cached = Some(((height, tx), receipt));
                    }
                    let (_, receipt) = cached.as_ref().expect("just set");
                    let event = receipt.events.get(ev as usize).ok_or_else(|| {
                        db.corrupt(
                            format!("events/{}", crate::tree::hex(&key)),
                            "indexes an event the receipt does not have",
                        )
                    })?;
                    if filter.matches(event) {
                        out.push(EventRecord {
                            height,
                            tx_index: tx,
                            event_index: ev,
                            tx_hash: receipt.tx_hash,
                            event: event.clone(),
                        });
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
            }
            None => {
                let mut iter = db.iter(layout::RECEIPTS)?;
                iter.seek(&receipt_key(filter.from_height, 0))
                    .map_err(|e| db.db_error(e))?;
                'scan: while let Some((key, bytes)) = iter.next().map_err(|e| db.db_error(e))? {
                    scan()?;
                    let what = || format!("receipts/{}", crate::tree::hex(&key));
                    if key.len() != 12 {
                        return Err(db.corrupt(what(), "key is not 12 bytes"));
                    }
                    let height = u64::from_be_bytes(key[..8].try_into().expect("8 bytes"));
                    if height > filter.to_height {
                        break;
                    }
                    let tx = u32::from_be_bytes(key[8..].try_into().expect("4 bytes"));
                    let receipt =
                        Receipt::decode(&mut &bytes[..]).map_err(|e| db.corrupt(what(), e))?;
                    for (ev, event) in receipt.events.iter().enumerate() {
                        out.push(EventRecord {
                            height,
                            tx_index: tx,
                            event_index: ev as u32,
                            tx_hash: receipt.tx_hash,
                            event: event.clone(),
                        });
                        if out.len() >= limit {
                            break 'scan;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// A consensus-metadata value. The consensus adapter owns these keys; they are committed
    /// like everything else, so they are not durable before ParityDB syncs (keep vote-safety
    /// data in its own synced file).
    pub fn consensus_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.db.get(layout::CONSENSUS, key)
    }

    /// Sets (or with `None` removes) consensus-metadata values in one atomic commit.
    pub fn set_consensus_values(&self, values: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
        self.inner.db.commit(
            values
                .into_iter()
                .map(|(k, v)| (layout::CONSENSUS, k, v))
                .collect(),
        )
    }

    fn decoded<T: Decode>(
        &self,
        col: u8,
        key: &[u8],
        what: impl FnOnce() -> String,
    ) -> Result<Option<T>> {
        let db = &self.inner.db;
        match db.get(col, key)? {
            None => Ok(None),
            Some(bytes) => T::decode(&mut &bytes[..])
                .map(Some)
                .map_err(|e| db.corrupt(what(), e)),
        }
    }

    fn block(&self, hash: &Hash) -> Result<Option<Block>> {
        let Some(header) = self.header(hash)? else {
            return Ok(None);
        };
        let Some(transactions) =
            self.decoded::<Vec<SignedTransaction>>(layout::BODIES, &hash.0, || {
                format!("bodies/{hash}")
            })?
        else {
            // The block a snapshot restored the database at has its header only.
            let restored_at: Option<u64> = self.decoded(layout::META, meta::RESTORED_AT, || {
                "meta/restored_at".into()
            })?;
            if restored_at == Some(header.height) {
                return Ok(None);
            }
            return Err(self.inner.db.corrupt(
                format!("bodies/{hash}"),
                "the block has a header but no body",
            ));
        };
        Ok(Some(Block {
            header,
            transactions,
        }))
    }
}

impl BlockReader for Store {
    fn head(&self) -> Result<Option<BlockHeader>, StoreError> {
        Ok(Store::head(self))
    }

    fn block_by_height(&self, height: u64) -> Result<Option<Block>, StoreError> {
        match self.block_hash(height)? {
            None => Ok(None),
            Some(hash) => Ok(self.block(&hash)?),
        }
    }

    fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>, StoreError> {
        Ok(self.block(hash)?)
    }

    fn receipt(&self, tx_hash: &Hash) -> Result<Option<(u64, Receipt)>, StoreError> {
        let Some((height, tx)) =
            self.decoded::<(u64, u32)>(layout::TX_INDEX, &tx_hash.0, || {
                format!("tx_index/{tx_hash}")
            })?
        else {
            return Ok(None);
        };
        let receipt = self.receipt_at(height, tx)?.ok_or_else(|| {
            self.inner.db.corrupt(
                format!("tx_index/{tx_hash}"),
                format!("points at receipt {height}/{tx}, which does not exist"),
            )
        })?;
        Ok(Some((height, receipt)))
    }
}
