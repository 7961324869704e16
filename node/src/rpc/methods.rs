//! The node's side of [`AetherApiServer`]: each method against the chain.

use std::str::FromStr;

use aether_contract_build::abi::Abi;
use aether_engine::types::{Action, Address, Hash, SignedTransaction};
use aether_storage::{EventFilter, StateKey};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use parity_scale_codec::{Decode, Encode};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::api::AetherApiServer;
use super::types::{
    Health, Info, PeerSummary, PendingCount, RpcAccount, RpcBlock, RpcEventRecord, RpcHeader,
    RpcReceipt, RpcStorageProof, from_hex0x, hex0x,
};
use super::{Gate, MAX_LOG_RANGE, MAX_LOGS, RpcContext, errors};
use crate::chain::ChainEvent;

/// The server: the chain and what the methods share.
pub struct RpcServer {
    pub(super) ctx: RpcContext,
    pub(super) dry_runs: Gate,
    pub(super) max_dry_run_gas: u64,
}

#[jsonrpsee::core::async_trait]
impl AetherApiServer for RpcServer {
    fn submit_transaction(&self, transaction: String) -> RpcResult<String> {
        let ctx = &self.ctx;
        let (bytes, tx) = decode_transaction(&transaction)?;
        let admitted = ctx
            .chain
            .submit(tx, now_ms())
            .map_err(|why| refused(ctx, why))?;
        (ctx.gossip_tx)(bytes);
        Ok(admitted.hash.to_string())
    }

    fn pending_count(&self) -> RpcResult<PendingCount> {
        let (ready, future) = self.ctx.chain.pool_counts();
        Ok(PendingCount { ready, future })
    }

    fn next_nonce(&self, address: String) -> RpcResult<u64> {
        let address: Address = parsed(&address, "address")?;
        self.ctx.chain.next_nonce(&address).map_err(errors::chain)
    }

    fn account(&self, address: String, height: Option<u64>) -> RpcResult<Option<RpcAccount>> {
        let address: Address = parsed(&address, "address")?;
        let view = self.ctx.chain.state_at(height).map_err(errors::chain)?;
        let account = aether_engine::ports::StateReader::account(&view, &address)
            .map_err(|e| errors::chain(e.into()))?;
        Ok(account.as_ref().map(RpcAccount::from))
    }

    fn code(&self, address: String, height: Option<u64>) -> RpcResult<Option<String>> {
        use aether_engine::ports::StateReader;
        let address: Address = parsed(&address, "address")?;
        let view = self.ctx.chain.state_at(height).map_err(errors::chain)?;
        let account = view
            .account(&address)
            .map_err(|e| errors::chain(e.into()))?;
        let Some(code_hash) = account.and_then(|a| a.code_hash) else {
            return Ok(None);
        };
        let code = view.code(&code_hash).map_err(|e| errors::chain(e.into()))?;
        Ok(code.map(|c| hex0x(&c)))
    }

    fn balance(&self, address: String) -> RpcResult<String> {
        let address: Address = parsed(&address, "address")?;
        let account = self.ctx.chain.account(&address).map_err(errors::chain)?;
        Ok(account.map_or(0, |a| a.balance).to_string())
    }

    fn nonce(&self, address: String) -> RpcResult<u64> {
        let address: Address = parsed(&address, "address")?;
        let account = self.ctx.chain.account(&address).map_err(errors::chain)?;
        Ok(account.map_or(0, |a| a.nonce))
    }

    fn storage(
        &self,
        contract: String,
        key: String,
        height: Option<u64>,
    ) -> RpcResult<RpcStorageProof> {
        let chain = &self.ctx.chain;
        let contract: Address = parsed(&contract, "contract")?;
        let key = hex(&key, "key")?;
        if key.len() > aether_engine::vm::MAX_STORAGE_KEY {
            return Err(errors::invalid_params(format!(
                "key: {} bytes, a storage key has at most {}",
                key.len(),
                aether_engine::vm::MAX_STORAGE_KEY
            )));
        }
        let height = height.unwrap_or_else(|| chain.head().height);
        let proof = chain
            .prove(&StateKey::Storage(contract, key), height)
            .map_err(errors::chain)?;
        let state_root = chain
            .header_at(height)
            .map_err(errors::chain)?
            .map(|h| h.state_root.to_string());
        Ok(RpcStorageProof {
            height,
            state_root,
            value: proof.value.as_deref().map(hex0x),
            proof: hex0x(&proof.encode()),
        })
    }

    fn head(&self) -> RpcResult<RpcHeader> {
        Ok(RpcHeader::from(&self.ctx.chain.head()))
    }

    fn finalized_height(&self) -> RpcResult<u64> {
        Ok(self.ctx.chain.finalized_height())
    }

    fn block_by_height(&self, height: u64, full: Option<bool>) -> RpcResult<Option<RpcBlock>> {
        let block = self
            .ctx
            .chain
            .block_by_height(height)
            .map_err(errors::chain)?;
        Ok(block.map(|b| RpcBlock::new(&b, full.unwrap_or(false))))
    }

    fn block_by_hash(&self, hash: String, full: Option<bool>) -> RpcResult<Option<RpcBlock>> {
        let hash: Hash = parsed(&hash, "block hash")?;
        let block = self.ctx.chain.block_by_hash(&hash).map_err(errors::chain)?;
        Ok(block.map(|b| RpcBlock::new(&b, full.unwrap_or(false))))
    }

    fn receipt(&self, hash: String) -> RpcResult<Option<RpcReceipt>> {
        let hash: Hash = parsed(&hash, "transaction hash")?;
        let found = self.ctx.chain.receipt(&hash).map_err(errors::chain)?;
        Ok(found.map(|(height, r)| RpcReceipt::new(&r, Some(height))))
    }

    fn logs(&self, filter: Value) -> RpcResult<Vec<RpcEventRecord>> {
        let chain = &self.ctx.chain;
        let (filter, limit, abi) =
            log_filter(&filter, chain.head().height, |c| contract_abi(chain, c))?;
        if filter.to_height.saturating_sub(filter.from_height) >= MAX_LOG_RANGE {
            return Err(errors::invalid_params(format!(
                "filter spans more than {MAX_LOG_RANGE} heights: narrow fromHeight..toHeight"
            )));
        }
        let records = chain.events(&filter, limit).map_err(errors::chain)?;
        Ok(records.iter().map(|r| record(r, abi.as_ref())).collect())
    }

    fn dry_run(
        &self,
        from: String,
        action: String,
        gas_limit: Option<u64>,
    ) -> RpcResult<RpcReceipt> {
        let chain = &self.ctx.chain;
        let from: Address = parsed(&from, "from")?;
        let action = parsed_action(&action)?;
        let _running = self.dry_runs.enter().ok_or_else(|| self.busy())?;
        let gas = gas_limit
            .unwrap_or(chain.genesis().block_gas_limit)
            .min(self.max_dry_run_gas);
        let receipt = chain
            .dry_run(from, action, Some(gas))
            .map_err(errors::chain)?;
        Ok(RpcReceipt::new(&receipt, None))
    }

    fn trace_transaction(&self, hash: String) -> RpcResult<Option<Value>> {
        let hash: Hash = parsed(&hash, "transaction hash")?;
        let _running = self.dry_runs.enter().ok_or_else(|| self.busy())?;
        let chain = &self.ctx.chain;
        let Some(t) = chain.trace_transaction(&hash).map_err(errors::chain)? else {
            return Ok(None);
        };
        let trace = trace_json(chain, &t.trace);
        Ok(Some(serde_json::json!({
            "height": t.height,
            "receipt": RpcReceipt::new(&t.receipt, Some(t.height)),
            "trace": trace,
        })))
    }

    fn trace_call(&self, from: String, action: String, gas_limit: Option<u64>) -> RpcResult<Value> {
        let chain = &self.ctx.chain;
        let from: Address = parsed(&from, "from")?;
        let action = parsed_action(&action)?;
        let _running = self.dry_runs.enter().ok_or_else(|| self.busy())?;
        let gas = gas_limit
            .unwrap_or(chain.genesis().block_gas_limit)
            .min(self.max_dry_run_gas);
        let (receipt, trace) = chain
            .trace_call(from, action, Some(gas))
            .map_err(errors::chain)?;
        Ok(serde_json::json!({
            "receipt": RpcReceipt::new(&receipt, None),
            "trace": trace_json(chain, &trace),
        }))
    }

    fn health(&self) -> RpcResult<Health> {
        Ok(super::health(&self.ctx))
    }

    fn info(&self) -> RpcResult<Info> {
        let chain = &self.ctx.chain;
        Ok(Info {
            name: "aether".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            chain_id: chain.chain_id(),
            genesis_hash: chain.genesis_hash().to_string(),
            consensus: self.ctx.consensus.into(),
            execution_version: aether_engine::types::EXECUTION_VERSION,
        })
    }

    fn peers(&self) -> RpcResult<Vec<PeerSummary>> {
        Ok((self.ctx.peers)())
    }

    async fn subscribe_new_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        forward(pending, &self.ctx, |e| match e {
            ChainEvent::NewHead(h) => vec![RpcHeader::from(h)],
            _ => Vec::new(),
        })
        .await
    }

    async fn subscribe_finalized_heads(
        &self,
        pending: PendingSubscriptionSink,
    ) -> SubscriptionResult {
        forward(pending, &self.ctx, |e| match e {
            ChainEvent::Finalized(h) => vec![RpcHeader::from(h)],
            _ => Vec::new(),
        })
        .await
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        filter: Option<Value>,
    ) -> SubscriptionResult {
        let raw = filter.unwrap_or_else(|| serde_json::json!({}));
        let chain = self.ctx.chain.clone();
        let (filter, abi) = match log_filter(&raw, u64::MAX, |c| contract_abi(&chain, c)) {
            Ok((f, _, abi)) => (f, abi),
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        forward(pending, &self.ctx, move |e| match e {
            ChainEvent::Events(records) => records
                .iter()
                .filter(|r| {
                    r.height >= filter.from_height
                        && r.height <= filter.to_height
                        && filter.contract.is_none_or(|c| c == r.event.contract)
                        && filter
                            .topics
                            .iter()
                            .enumerate()
                            .all(|(i, t)| t.is_none_or(|t| r.event.topics.get(i) == Some(&t)))
                })
                .map(|r| record(r, abi.as_ref()))
                .collect(),
            _ => Vec::new(),
        })
        .await
    }
}

impl RpcServer {
    /// The answer when every dry-run slot is taken.
    fn busy(&self) -> ErrorObjectOwned {
        errors::busy(format!(
            "{} dry runs are running, the most at once: retry",
            self.dry_runs.max()
        ))
    }
}

/// A SCALE-encoded action given as `0x`-hex.
fn parsed_action(text: &str) -> Result<Action, ErrorObjectOwned> {
    let bytes = hex(text, "action")?;
    Action::decode(&mut &bytes[..])
        .map_err(|e| errors::invalid_params(format!("action: not a SCALE-encoded action: {e}")))
}

/// A trace as JSON, decoded through the ABI of each frame's code where it carries one.
fn trace_json(chain: &crate::chain::Chain, trace: &aether_engine::vm::trace::Trace) -> Value {
    let state = chain.state_at(None).ok();
    let mut abis = crate::trace_view::Abis::new(|code_hash: &Hash| {
        let code = aether_engine::ports::StateReader::code(state.as_ref()?, code_hash).ok()??;
        crate::trace_view::abi_of_code(&code)
    });
    crate::trace_view::to_json(trace, &mut abis)
}

/// A submitted transaction's bytes, decoded.
fn decode_transaction(text: &str) -> Result<(Vec<u8>, SignedTransaction), ErrorObjectOwned> {
    let bytes = hex(text, "transaction")?;
    let malformed =
        |why: &str| errors::rejected(crate::mempool::Rejection::Malformed(why.to_string()));
    let tx = SignedTransaction::decode(&mut &bytes[..])
        .map_err(|_| malformed("not a SCALE-encoded signed transaction"))?;
    if tx.encoded_size() != bytes.len() {
        return Err(malformed("trailing bytes after the transaction"));
    }
    Ok((bytes, tx))
}

/// The pool's refusal, counted.
fn refused(ctx: &RpcContext, why: crate::mempool::Rejection) -> ErrorObjectOwned {
    ctx.metrics.pool_rejection(why.name());
    errors::rejected(why)
}

/// A batch of `author_submitTransaction` calls (`0x`-hex transactions): decoded and checked
/// (signatures included) in two halves at once on the blocking pool, then admitted in order
/// under one take of the pool's lock. Each answer is what the call alone would have got.
pub(super) async fn submit_batch(ctx: RpcContext, txs: Vec<String>) -> Vec<RpcResult<String>> {
    type Checked = Result<(Vec<u8>, crate::mempool::Prechecked), ErrorObjectOwned>;
    let check = |part: Vec<String>| {
        let ctx = ctx.clone();
        let len = part.len();
        async move {
            let work = tokio::task::spawn_blocking(move || {
                part.iter()
                    .map(|text| -> Checked {
                        let (bytes, tx) = decode_transaction(text)?;
                        let checked = ctx.chain.precheck(tx).map_err(|why| refused(&ctx, why))?;
                        Ok((bytes, checked))
                    })
                    .collect::<Vec<Checked>>()
            });
            work.await.unwrap_or_else(|e| {
                (0..len)
                    .map(|_| Err(errors::internal(format!("checking failed: {e}"))))
                    .collect()
            })
        }
    };
    let mut second = txs;
    let first: Vec<String> = second.drain(..second.len().div_ceil(2)).collect();
    let (mut checked, rest) = tokio::join!(check(first), check(second));
    checked.extend(rest);
    // The checked ones are admitted in order under one lock; the others keep their refusal.
    let mut answers: Vec<Option<RpcResult<String>>> = Vec::with_capacity(checked.len());
    let (mut bytes, mut admissible) = (Vec::new(), Vec::new());
    for c in checked {
        match c {
            Ok((b, prechecked)) => {
                bytes.push(b);
                admissible.push(prechecked);
                answers.push(None);
            }
            Err(e) => answers.push(Some(Err(e))),
        }
    }
    let admit = {
        let chain = ctx.chain.clone();
        tokio::task::spawn_blocking(move || chain.admit_all(admissible, now_ms()))
    };
    let admitted = match admit.await {
        Ok(admitted) => admitted,
        Err(e) => {
            let why = format!("admission failed: {e}");
            return answers
                .into_iter()
                .map(|a| a.unwrap_or_else(|| Err(errors::internal(why.clone()))))
                .collect();
        }
    };
    let mut admitted = admitted.into_iter().zip(bytes);
    answers
        .into_iter()
        .map(|answer| match answer {
            Some(refusal) => refusal,
            None => match admitted.next() {
                Some((Ok(a), bytes)) => {
                    (ctx.gossip_tx)(bytes);
                    Ok(a.hash.to_string())
                }
                Some((Err(why), _)) => Err(refused(&ctx, why)),
                None => Err(errors::internal("admission lost a transaction")),
            },
        })
        .collect()
}

/// Accepts a subscription and forwards the chain events `select` turns into notifications
/// until the client goes away.
async fn forward<T: serde::Serialize>(
    pending: PendingSubscriptionSink,
    ctx: &RpcContext,
    select: impl Fn(&ChainEvent) -> Vec<T> + Send + 'static,
) -> SubscriptionResult {
    let mut events = ctx.chain.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            event = events.recv() => match event {
                Ok(event) => {
                    for item in select(&event) {
                        let msg = SubscriptionMessage::from(
                            serde_json::value::to_raw_value(&item)
                                .map_err(|e| jsonrpsee::core::SubscriptionError::from(e.to_string()))?,
                        );
                        if sink.send(msg).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    return Err(format!("subscriber fell {n} notifications behind; resubscribe").into());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// A parameter parsed from its text, refused with a message naming it.
fn parsed<T: FromStr>(text: &str, what: &str) -> Result<T, ErrorObjectOwned>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| errors::invalid_params(format!("{what}: {e}")))
}

/// A `0x`-hex parameter, refused with a message naming it.
fn hex(text: &str, what: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    from_hex0x(text).map_err(|e| errors::invalid_params(format!("{what}: {e}")))
}

/// The ABI the code of `contract` carries, if any.
fn contract_abi(chain: &crate::chain::Chain, contract: &Address) -> Option<Abi> {
    let state = chain.state_at(None).ok()?;
    let code_hash = aether_engine::ports::StateReader::account(&state, contract)
        .ok()??
        .code_hash?;
    let code = aether_engine::ports::StateReader::code(&state, &code_hash).ok()??;
    crate::trace_view::abi_of_code(&code)
}

/// An event record for an answer, decoded through `abi` when the filter named its event.
fn record(r: &aether_storage::EventRecord, abi: Option<&Abi>) -> RpcEventRecord {
    let mut out = RpcEventRecord::from(r);
    if let (Some(abi), Some(t)) = (abi, r.event.topics.first()) {
        out.decoded = abi.decode_event(&t.0, &r.event.data).ok();
    }
    out
}

/// Parses a log filter: `{contract?, topics?: [hash | null], event?, where?, fromHeight?,
/// toHeight?, limit?}`. `event` (a name from the ABI the contract's code carries; needs
/// `contract`, excludes `topics`) and `where` (indexed field → value) become topics; the ABI
/// comes back to decode the records.
fn log_filter(
    v: &Value,
    head: u64,
    abi_of: impl Fn(&Address) -> Option<Abi>,
) -> Result<(EventFilter, usize, Option<Abi>), ErrorObjectOwned> {
    let obj = v
        .as_object()
        .ok_or_else(|| errors::invalid_params("filter must be an object"))?;
    for key in obj.keys() {
        if ![
            "contract",
            "topics",
            "event",
            "where",
            "fromHeight",
            "toHeight",
            "limit",
        ]
        .contains(&key.as_str())
        {
            return Err(errors::invalid_params(format!(
                "filter: unknown field `{key}`"
            )));
        }
    }
    let contract = match obj.get("contract") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<Address>()
                .map_err(|e| errors::invalid_params(format!("filter.contract: {e}")))?,
        ),
        Some(_) => return Err(errors::invalid_params("filter.contract must be a string")),
    };
    let topics = match obj.get("topics") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > aether_engine::vm::MAX_EVENT_TOPICS {
                return Err(errors::invalid_params("filter.topics: at most 4 positions"));
            }
            items
                .iter()
                .map(|t| match t {
                    Value::Null => Ok(None),
                    Value::String(s) => s
                        .parse::<Hash>()
                        .map(Some)
                        .map_err(|e| errors::invalid_params(format!("filter.topics: {e}"))),
                    _ => Err(errors::invalid_params(
                        "filter.topics: each entry is a hash or null",
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => return Err(errors::invalid_params("filter.topics must be an array")),
    };
    let (topics, abi) = match (obj.get("event"), obj.get("where")) {
        (None | Some(Value::Null), None | Some(Value::Null)) => (topics, None),
        (None | Some(Value::Null), Some(_)) => {
            return Err(errors::invalid_params("filter.where needs filter.event"));
        }
        (Some(Value::String(name)), values) => {
            let Some(contract) = contract else {
                return Err(errors::invalid_params(
                    "filter.event needs filter.contract (its ABI names the event)",
                ));
            };
            if !topics.is_empty() {
                return Err(errors::invalid_params(
                    "filter: give filter.event or filter.topics, not both",
                ));
            }
            let values = match values {
                None | Some(Value::Null) => serde_json::Map::new(),
                Some(Value::Object(m)) => m.clone(),
                Some(_) => {
                    return Err(errors::invalid_params(
                        "filter.where must be an object of indexed field values",
                    ));
                }
            };
            let abi = abi_of(&contract).ok_or_else(|| {
                errors::invalid_params(format!(
                    "filter.event: the code of {contract} carries no ABI: filter by topics"
                ))
            })?;
            let topics = abi
                .event_topics(name, &values)
                .map_err(|e| errors::invalid_params(format!("filter.event: {e}")))?
                .into_iter()
                .map(|t| t.map(Hash))
                .collect();
            (topics, Some(abi))
        }
        (Some(_), _) => {
            return Err(errors::invalid_params("filter.event must be an event name"));
        }
    };
    let number = |key: &str, default: u64| -> Result<u64, ErrorObjectOwned> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_u64().ok_or_else(|| {
                errors::invalid_params(format!("filter.{key} must be a non-negative integer"))
            }),
        }
    };
    let filter = EventFilter {
        contract,
        topics,
        from_height: number("fromHeight", 0)?,
        to_height: number("toHeight", head)?,
    };
    if filter.from_height > filter.to_height {
        return Err(errors::invalid_params(format!(
            "filter.fromHeight {} is above filter.toHeight {}",
            filter.from_height, filter.to_height
        )));
    }
    let limit = number("limit", 1_000)?;
    if limit > MAX_LOGS as u64 {
        return Err(errors::invalid_params(format!(
            "filter.limit is at most {MAX_LOGS}"
        )));
    }
    Ok((filter, limit as usize, abi))
}

fn now_ms() -> u64 {
    crate::chain::now_ms()
}
