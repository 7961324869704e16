//! The transaction pool: what the node accepts from users and hands to block production.
//!
//! Admission checks, in order: size, decode (by the caller), chain id, gas limit (at least the
//! intrinsic gas, at most the block gas limit), gas price floor, duplicate, signature, nonce
//! (not below the account's, not too far ahead), replace-by-fee for a nonce already pending,
//! and that the sender can pay for all its pending transactions. Every rejection is a
//! [`Rejection`] with a reason fit to show the submitter.
//!
//! Each sender has one queue ordered by nonce: the transactions from the account's nonce up
//! without a gap are **ready**, the rest **future**. Block production takes ready transactions
//! by gas price (best first, ties by arrival), always in nonce order per sender. Limits: a
//! per-sender count, a global count (a better-paying transaction evicts the worst-paying
//! last-in-queue one), and an age after which transactions expire.
//!
//! The pool is a plain data structure (no clock, no I/O): callers pass the time and the
//! accounts, so it is tested and benchmarked directly.

mod rejection;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;

use aether_engine::types::{Account, Action, Address, Hash, SealedTransaction, SignedTransaction};
use aether_engine::{GasSchedule, VerifiedSignatures};

pub use rejection::Rejection;

/// Pool limits and rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// The chain's id: other chains' transactions are refused.
    pub chain_id: u64,
    /// Most transactions in the pool.
    pub max_txs: usize,
    /// Most transactions of one sender.
    pub max_per_sender: usize,
    /// Most future transactions (behind a nonce gap) in the pool. They cannot go into a block
    /// until the gap is filled, so they cost their sender nothing while they wait: without a
    /// cap, funded accounts could fill the pool with them for free.
    pub max_future: usize,
    /// Most a nonce may run ahead of the account's.
    pub max_nonce_gap: u64,
    /// Largest encoded transaction, in bytes.
    pub max_tx_bytes: usize,
    /// Lowest gas price accepted.
    pub min_gas_price: u128,
    /// A replacement must pay at least this many percent more gas price.
    pub replace_bump_percent: u128,
    /// Milliseconds after which a pending transaction is dropped.
    pub expiry_ms: u64,
    /// The block gas limit: no transaction may ask for more.
    pub block_gas_limit: u64,
    /// The gas schedule (for the intrinsic gas).
    pub gas: GasSchedule,
}

impl PoolConfig {
    /// Defaults for a chain: 100k transactions (at most a quarter of them future), 64 per
    /// sender, nonces up to 64 ahead, 256 KiB transactions, price floor 1, 10% replacement bump,
    /// 10 minutes expiry.
    pub fn new(chain_id: u64, block_gas_limit: u64) -> Self {
        Self {
            chain_id,
            max_txs: 100_000,
            max_per_sender: 64,
            max_future: 25_000,
            max_nonce_gap: 64,
            max_tx_bytes: 256 * 1024,
            min_gas_price: 1,
            replace_bump_percent: 10,
            expiry_ms: 10 * 60 * 1000,
            block_gas_limit,
            gas: GasSchedule::V1,
        }
    }
}

/// A pending transaction.
#[derive(Clone, Debug)]
pub struct PoolTx {
    /// The transaction, with its hash and encoded length.
    pub tx: Arc<SealedTransaction>,
    /// Its hash.
    pub hash: Hash,
    /// Its sender.
    pub sender: Address,
    /// Arrival time, milliseconds.
    pub arrived_ms: u64,
    /// Arrival order (breaks price ties, oldest first).
    seq: u64,
    /// Most the sender can pay for it: fee at its gas limit plus value moved.
    cost: u128,
    /// Encoded size.
    pub bytes: usize,
}

impl PoolTx {
    fn nonce(&self) -> u64 {
        self.tx.tx.nonce
    }
    /// Its key in the price-ordered sets.
    fn tail_key(&self) -> TailKey {
        (self.price(), Reverse(self.seq), self.hash)
    }
    fn price(&self) -> u128 {
        self.tx.tx.gas_price
    }
}

/// A transaction that passed [`Mempool::precheck`].
#[derive(Clone, Debug)]
pub struct Prechecked {
    tx: SealedTransaction,
}

impl Prechecked {
    /// Who signed it.
    pub fn sender(&self) -> Address {
        self.tx.sender()
    }
}

/// What the pool did with a submitted transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// Its hash.
    pub hash: Hash,
    /// Whether it can go into the next block (no nonce gap before it).
    pub ready: bool,
    /// The transaction it replaced (same sender and nonce, lower price).
    pub replaced: Option<Hash>,
    /// A transaction evicted to make room.
    pub evicted: Option<Hash>,
}

#[derive(Default)]
struct SenderQueue {
    /// Pending transactions by nonce.
    by_nonce: BTreeMap<u64, Hash>,
    /// The account's nonce as last seen.
    account_nonce: u64,
    /// Sum of the costs of the pending transactions.
    committed_cost: u128,
    /// How many of them are future (behind a gap), as of the last [`Mempool::resync`].
    future: usize,
    /// The tail's key in `Mempool::future_tails`, when the queue has future transactions.
    future_tail: Option<TailKey>,
}

/// A transaction's key in the price-ordered sets: (price, newest first, hash).
type TailKey = (u128, Reverse<u64>, Hash);

/// The pool. Not thread-safe by itself; the node keeps it behind a lock.
pub struct Mempool {
    config: PoolConfig,
    txs: HashMap<Hash, PoolTx>,
    senders: HashMap<Address, SenderQueue>,
    /// Every pending transaction by (price, newest first).
    by_price: BTreeSet<TailKey>,
    /// The last (highest-nonce) transaction of each sender, by (price, newest first): the only
    /// ones that can be evicted without stranding later nonces; the first is the candidate.
    tails: BTreeSet<TailKey>,
    /// The tails of the senders whose queues have a gap (those tails are future
    /// transactions): evicted first.
    future_tails: BTreeSet<TailKey>,
    /// Number of future transactions in the pool.
    future_total: usize,
    /// Arrival order, for expiry.
    by_arrival: BTreeSet<(u64, Hash)>,
    next_seq: u64,
    bytes: usize,
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            txs: HashMap::new(),
            senders: HashMap::new(),
            by_price: BTreeSet::new(),
            tails: BTreeSet::new(),
            future_tails: BTreeSet::new(),
            future_total: 0,
            by_arrival: BTreeSet::new(),
            next_seq: 0,
            bytes: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Total encoded size of the pending transactions.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The pending transaction with hash `hash`.
    pub fn get(&self, hash: &Hash) -> Option<&PoolTx> {
        self.txs.get(hash)
    }

    /// Number of ready and future transactions.
    pub fn counts(&self) -> (usize, usize) {
        (self.txs.len() - self.future_total, self.future_total)
    }

    /// Checks and admits `tx`. `account` is the sender's account at the head (`None` if it
    /// does not exist), `now_ms` the current time.
    pub fn submit(
        &mut self,
        tx: SignedTransaction,
        account: Option<&Account>,
        now_ms: u64,
    ) -> Result<Admitted, Rejection> {
        let checked = Self::precheck(&self.config, tx)?;
        self.admit(checked, account, now_ms)
    }

    /// The checks that need neither the pool nor state: size, chain id, gas, price and the
    /// signature. Callers run it before taking the pool's lock, so signatures are checked in
    /// parallel.
    pub fn precheck(config: &PoolConfig, tx: SignedTransaction) -> Result<Prechecked, Rejection> {
        let tx = SealedTransaction::seal(tx);
        check_static(config, &tx, tx.encoded_len())?;
        if !tx.verify_signature() {
            return Err(Rejection::BadSignature);
        }
        Ok(Prechecked { tx })
    }

    /// As [`Mempool::precheck`], skipping the signature check of a transaction whose hash is
    /// in `verified` and recording there the ones it checks.
    pub fn precheck_cached(
        config: &PoolConfig,
        tx: SignedTransaction,
        verified: &VerifiedSignatures,
    ) -> Result<Prechecked, Rejection> {
        let tx = SealedTransaction::seal(tx);
        check_static(config, &tx, tx.encoded_len())?;
        if !verified.contains(&tx.hash()) {
            if !tx.verify_signature() {
                return Err(Rejection::BadSignature);
            }
            verified.insert(tx.hash());
        }
        Ok(Prechecked { tx })
    }

    /// Admits a prechecked transaction: duplicate, nonce, replacement, funds and limits.
    pub fn admit(
        &mut self,
        checked: Prechecked,
        account: Option<&Account>,
        now_ms: u64,
    ) -> Result<Admitted, Rejection> {
        let Prechecked { tx } = checked;
        let (hash, bytes) = (tx.hash(), tx.encoded_len());
        if self.txs.contains_key(&hash) {
            return Err(Rejection::AlreadyKnown);
        }
        let sender = tx.sender();
        // The account may have been read before a block the pool already saw: never go back
        // below the nonce the pool knows.
        let known = self.senders.get(&sender).map_or(0, |q| q.account_nonce);
        let account_nonce = account.map_or(0, |a| a.nonce).max(known);
        let balance = account.map_or(0, |a| a.balance);
        let nonce = tx.tx.nonce;
        if nonce < account_nonce {
            return Err(Rejection::NonceTooLow {
                nonce,
                expected: account_nonce,
            });
        }
        if nonce - account_nonce > self.config.max_nonce_gap {
            return Err(Rejection::NonceTooFarAhead {
                nonce,
                expected: account_nonce,
                max_gap: self.config.max_nonce_gap,
            });
        }
        let cost = cost_of(&tx);
        let queue = self.senders.get(&sender);
        let replacing = queue.and_then(|q| q.by_nonce.get(&nonce)).copied();
        let (mut pending_cost, mut pending_count) =
            queue.map_or((0, 0), |q| (q.committed_cost, q.by_nonce.len()));
        // The account may have been read after a block the pool has not seen yet (its update
        // follows the commit): the transactions that block included are paid for already.
        if let Some(q) = queue {
            for hash in q.by_nonce.range(..account_nonce).map(|(_, h)| h) {
                pending_cost = pending_cost.saturating_sub(self.txs[hash].cost);
                pending_count -= 1;
            }
        }
        let replaced_cost = replacing.map_or(0, |h| self.txs[&h].cost);
        if let Some(old) = replacing {
            let old_price = self.txs[&old].price();
            let needed = old_price
                .saturating_mul(100 + self.config.replace_bump_percent)
                .div_ceil(100)
                .max(old_price + 1);
            if tx.tx.gas_price < needed {
                return Err(Rejection::ReplacementUnderpriced {
                    offered: tx.tx.gas_price,
                    needed,
                });
            }
        } else if pending_count >= self.config.max_per_sender {
            return Err(Rejection::SenderFull {
                limit: self.config.max_per_sender,
            });
        }
        let need = pending_cost
            .saturating_sub(replaced_cost)
            .saturating_add(cost);
        if need > balance {
            return Err(Rejection::CannotPay { need, balance });
        }
        // Ready: no gap before it once admitted (it extends or replaces the sender's run).
        let will_be_ready = nonce <= self.next_nonce(&sender, account_nonce);
        let mut evicted = None;
        if replacing.is_none() {
            let price = tx.tx.gas_price;
            if !will_be_ready && self.future_total >= self.config.max_future {
                // Only another future transaction can make room for a future one.
                let victim =
                    self.future_victim(price, &sender, false)
                        .ok_or(Rejection::FutureFull {
                            limit: self.config.max_future,
                        })?;
                self.remove(&victim);
                evicted = Some(victim);
            } else if self.txs.len() >= self.config.max_txs {
                let victim = self
                    .eviction_candidate(price, &sender, will_be_ready)
                    .ok_or(Rejection::PoolFull {
                        limit: self.config.max_txs,
                    })?;
                self.remove(&victim);
                evicted = Some(victim);
            }
        }
        if let Some(old) = replacing {
            self.remove(&old);
        }

        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = PoolTx {
            tx: Arc::new(tx),
            hash,
            sender,
            arrived_ms: now_ms,
            seq,
            cost,
            bytes,
        };
        self.by_price.insert((entry.price(), Reverse(seq), hash));
        self.by_arrival.insert((now_ms, hash));
        self.bytes += bytes;
        let tail_entry = (entry.price(), Reverse(seq), hash);
        let queue = self.senders.entry(sender).or_default();
        let old_tail = queue.by_nonce.last_key_value().map(|(n, h)| (*n, *h));
        queue.account_nonce = account_nonce;
        queue.by_nonce.insert(nonce, hash);
        queue.committed_cost = queue.committed_cost.saturating_add(cost);
        let ready = nonce < account_nonce + ready_run(queue) as u64;
        match old_tail {
            Some((last, _)) if last > nonce => {}
            Some((_, old)) => {
                let old = self.txs[&old].tail_key();
                self.tails.remove(&old);
                self.tails.insert(tail_entry);
            }
            None => {
                self.tails.insert(tail_entry);
            }
        }
        self.txs.insert(hash, entry);
        self.resync(&sender);
        Ok(Admitted {
            hash,
            ready,
            replaced: replacing,
            evicted,
        })
    }
}

/// Checks that need neither state nor the pool.
fn check_static(c: &PoolConfig, tx: &SignedTransaction, bytes: usize) -> Result<(), Rejection> {
    if bytes > c.max_tx_bytes {
        return Err(Rejection::TooLarge {
            bytes,
            max: c.max_tx_bytes,
        });
    }
    if let Action::UploadCode { code } = &tx.tx.action
        && code.len() > aether_engine::vm::MAX_CODE_SIZE
    {
        return Err(Rejection::CodeTooLarge {
            size: code.len(),
            max: aether_engine::vm::MAX_CODE_SIZE,
        });
    }
    if tx.tx.chain_id != c.chain_id {
        return Err(Rejection::WrongChain {
            expected: c.chain_id,
            got: tx.tx.chain_id,
        });
    }
    let intrinsic = c.gas.intrinsic(bytes);
    if tx.tx.gas_limit < intrinsic {
        return Err(Rejection::GasLimitBelowIntrinsic {
            gas_limit: tx.tx.gas_limit,
            intrinsic,
        });
    }
    if tx.tx.gas_limit > c.block_gas_limit {
        return Err(Rejection::GasLimitAboveBlockLimit {
            gas_limit: tx.tx.gas_limit,
            block_gas_limit: c.block_gas_limit,
        });
    }
    if tx.tx.gas_price < c.min_gas_price {
        return Err(Rejection::Underpriced {
            offered: tx.tx.gas_price,
            min: c.min_gas_price,
        });
    }
    Ok(())
}

impl Mempool {
    /// What to evict from a full pool for a transaction paying `price`: a future transaction
    /// first (the tail of a queue with a gap; for a ready newcomer whatever it pays, since it
    /// cannot be mined before its gap is filled), then, for a ready newcomer only, the cheapest
    /// transaction paying less that is last in its sender's queue. Only tails are evicted
    /// (evicting a middle one would strand the later ones), and never the submitter's own
    /// (that would strand the new one).
    fn eviction_candidate(&self, price: u128, submitter: &Address, ready: bool) -> Option<Hash> {
        self.future_victim(price, submitter, ready).or_else(|| {
            if !ready {
                return None;
            }
            self.tails
                .iter()
                .take_while(|(p, _, _)| *p < price)
                .map(|(_, _, h)| *h)
                .find(|h| self.txs[h].sender != *submitter)
        })
    }

    /// The cheapest future tail of another sender than `submitter`: paying less than `price`,
    /// or any if `any_price`.
    fn future_victim(&self, price: u128, submitter: &Address, any_price: bool) -> Option<Hash> {
        self.future_tails
            .iter()
            .take_while(|(p, _, _)| any_price || *p < price)
            .map(|(_, _, h)| *h)
            .find(|h| self.txs[h].sender != *submitter)
    }

    /// Brings `sender`'s future count and future tail up to date after its queue or account
    /// nonce changed, and forgets the sender when its queue is empty.
    fn resync(&mut self, sender: &Address) {
        let Some(q) = self.senders.get_mut(sender) else {
            return;
        };
        self.future_total -= q.future;
        if let Some(key) = q.future_tail.take() {
            self.future_tails.remove(&key);
        }
        // Entries below the account nonce are stale (the next block report removes them):
        // neither ready nor future.
        q.future = q.by_nonce.range(q.account_nonce..).count() - ready_run(q);
        if q.by_nonce.is_empty() {
            self.senders.remove(sender);
            return;
        }
        self.future_total += q.future;
        if q.future > 0
            && let Some((_, tail)) = q.by_nonce.last_key_value()
        {
            let key = self.txs[tail].tail_key();
            self.future_tails.insert(key);
            q.future_tail = Some(key);
        }
    }

    /// Drops a pending transaction (execution rejected it); whether it was pending.
    pub fn drop_tx(&mut self, hash: &Hash) -> bool {
        self.remove(hash).is_some()
    }

    fn remove(&mut self, hash: &Hash) -> Option<PoolTx> {
        let tx = self.txs.remove(hash)?;
        self.by_price.remove(&tx.tail_key());
        self.by_arrival.remove(&(tx.arrived_ms, *hash));
        self.bytes -= tx.bytes;
        let mut new_tail = None;
        if let Some(q) = self.senders.get_mut(&tx.sender) {
            let was_tail = q.by_nonce.last_key_value().map(|(_, h)| h) == Some(hash);
            q.by_nonce.remove(&tx.nonce());
            q.committed_cost = q.committed_cost.saturating_sub(tx.cost);
            if was_tail {
                new_tail = q.by_nonce.last_key_value().map(|(_, h)| *h);
            }
        }
        if self.tails.remove(&tx.tail_key())
            && let Some(h) = new_tail
        {
            let key = self.txs[&h].tail_key();
            self.tails.insert(key);
        }
        self.resync(&tx.sender);
        Some(tx)
    }

    /// The next nonce `sender` should use: after its account nonce and the pending
    /// transactions that follow it without a gap.
    pub fn next_nonce(&self, sender: &Address, account_nonce: u64) -> u64 {
        match self.senders.get(sender) {
            None => account_nonce,
            Some(q) => {
                let start = account_nonce.max(q.account_nonce);
                let run = (start..)
                    .zip(q.by_nonce.range(start..))
                    .take_while(|(expected, (nonce, _))| *expected == **nonce)
                    .count();
                start + run as u64
            }
        }
    }

    /// Ready transactions for a block: best gas price first, each sender's in nonce order,
    /// while their gas limits fit in `gas_limit` and at most `max_count`.
    pub fn ready(&self, gas_limit: u64, max_count: usize) -> Vec<Arc<SealedTransaction>> {
        self.ready_skipping(gas_limit, max_count, |_| false)
    }

    /// As [`Mempool::ready`], passing over the transactions `skip` names (those already in
    /// the pending blocks a new block builds on): they take no gas or count, and the sender's
    /// later transactions follow them.
    pub fn ready_skipping(
        &self,
        gas_limit: u64,
        max_count: usize,
        skip: impl Fn(&Hash) -> bool,
    ) -> Vec<Arc<SealedTransaction>> {
        let mut heap = BinaryHeap::new();
        for (sender, q) in &self.senders {
            if let Some(hash) = q.by_nonce.get(&q.account_nonce) {
                let tx = &self.txs[hash];
                heap.push((tx.price(), Reverse(tx.seq), *sender, q.account_nonce));
            }
        }
        let mut out = Vec::new();
        let mut gas_left = gas_limit;
        while let Some((_, _, sender, nonce)) = heap.pop() {
            if out.len() >= max_count {
                break;
            }
            let q = &self.senders[&sender];
            let hash = q.by_nonce[&nonce];
            let tx = &self.txs[&hash];
            let push_next = |heap: &mut BinaryHeap<_>| {
                if let Some(next) = q.by_nonce.get(&(nonce + 1)) {
                    let next_tx = &self.txs[next];
                    heap.push((next_tx.price(), Reverse(next_tx.seq), sender, nonce + 1));
                }
            };
            if skip(&hash) {
                push_next(&mut heap);
                continue;
            }
            if tx.tx.tx.gas_limit > gas_left {
                // This sender's chain stops here; others may still fit.
                continue;
            }
            gas_left -= tx.tx.tx.gas_limit;
            out.push(tx.tx.clone());
            push_next(&mut heap);
        }
        out
    }

    /// Updates the pool after a block: drops the included transactions and every pending one
    /// whose nonce the sender has now passed. `nonce_of` gives each affected sender's new
    /// account nonce.
    pub fn on_block(
        &mut self,
        included: impl IntoIterator<Item = (Hash, Address)>,
        nonce_of: impl Fn(&Address) -> u64,
    ) -> usize {
        let mut removed = 0;
        let mut touched = BTreeSet::new();
        for (hash, sender) in included {
            if self.remove(&hash).is_some() {
                removed += 1;
            }
            touched.insert(sender);
        }
        for sender in touched {
            let nonce = nonce_of(&sender);
            let stale: Vec<Hash> = match self.senders.get_mut(&sender) {
                None => continue,
                Some(q) => {
                    q.account_nonce = nonce;
                    q.by_nonce.range(..nonce).map(|(_, h)| *h).collect()
                }
            };
            for h in stale {
                self.remove(&h);
                removed += 1;
            }
            // The new account nonce may have closed a gap.
            self.resync(&sender);
        }
        removed
    }

    /// Drops transactions that arrived more than the expiry ago; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let cutoff = now_ms.saturating_sub(self.config.expiry_ms);
        let old: Vec<Hash> = self
            .by_arrival
            .range(..(cutoff, Hash([0; 32])))
            .map(|(_, h)| *h)
            .collect();
        for h in &old {
            self.remove(h);
        }
        old.len()
    }
}

/// How many transactions from the account's nonce on follow without a gap.
fn ready_run(q: &SenderQueue) -> usize {
    (q.account_nonce..)
        .zip(q.by_nonce.range(q.account_nonce..))
        .take_while(|(expected, (nonce, _))| *expected == **nonce)
        .count()
}

/// Most a transaction can cost its sender: the fee at its gas limit plus the value it moves.
fn cost_of(tx: &SignedTransaction) -> u128 {
    let fee = u128::from(tx.tx.gas_limit).saturating_mul(tx.tx.gas_price);
    let value = match &tx.tx.action {
        Action::Transfer { amount, .. } => *amount,
        Action::Instantiate { value, .. } | Action::Call { value, .. } => *value,
        _ => 0,
    };
    fee.saturating_add(value)
}

#[cfg(test)]
mod tests;
