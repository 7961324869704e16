//! What every RPC call passes through, batched or not: the method policy (unsafe methods where
//! they are not offered, subscriptions over HTTP), a count by method and outcome, and batches
//! whose calls run at once. A batch made only of `author_submitTransaction` calls goes to the
//! chain whole: its signatures are checked in parallel and the pool's lock is taken once.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::{Either, ready};
use jsonrpsee::ResponsePayload;
use jsonrpsee::server::BatchResponseBuilder;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, BatchEntryErr, MethodResponse, Notification, Request, RpcServiceT,
};
use jsonrpsee::types::ErrorObjectOwned;

use super::errors::{SUBSCRIPTION_OVER_HTTP, UNSAFE_METHOD};
use super::{METHODS, SUBSCRIPTIONS, UNSAFE_METHODS};
use crate::metrics::Metrics;

/// The transport a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One request (or batch) per HTTP request.
    Http,
    /// A WebSocket: calls and subscriptions.
    Ws,
}

/// Submits a batch of transactions (`0x`-hex) whole; an answer for each, in order.
pub type SubmitBatch = Arc<
    dyn Fn(
            Vec<String>,
        ) -> Pin<Box<dyn Future<Output = Vec<Result<String, ErrorObjectOwned>>> + Send>>
        + Send
        + Sync,
>;

/// The method a batch of submissions is made of.
const SUBMIT: &str = "author_submitTransaction";

/// Calls of one batch that run at once (beyond, they wait their turn).
const BATCH_CALLS_AT_ONCE: usize = 4;

/// Methods that read much (blocks, logs, proofs, code): at most [`HEAVY_AT_ONCE`] run at once
/// in the whole server, so that neither batches nor pipelined WebSocket calls can take every
/// blocking thread; beyond, calls wait their turn.
const HEAVY: &[&str] = &[
    "chain_getLogs",
    "chain_getBlockByHeight",
    "chain_getBlockByHash",
    "state_getStorage",
    "state_getCode",
];

/// Heavy calls running at once, at most.
pub const HEAVY_AT_ONCE: usize = 16;

/// The policy and counting around the server's methods.
#[derive(Clone)]
pub struct Policy<S> {
    inner: S,
    transport: Transport,
    allow_unsafe: bool,
    max_response_bytes: usize,
    counting: Arc<Counting>,
    submit_batch: SubmitBatch,
    heavy: Arc<tokio::sync::Semaphore>,
}

/// Counts calls by method and outcome. The counter of each method's successful calls is
/// resolved once, so that counting one (the common case) takes neither the metric family's
/// lock nor a hash of its labels.
pub struct Counting {
    metrics: Arc<Metrics>,
    /// By index of [`counted_name`]: the names of [`COUNTED`], then `unknown`.
    ok: Vec<prometheus_client::metrics::counter::Counter>,
}

impl Counting {
    /// The counters of every method the server offers.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let ok = COUNTED
            .iter()
            .copied()
            .chain(SUBSCRIPTIONS.iter().map(|(_, unsub)| *unsub))
            .chain(["unknown"])
            .map(|name| metrics.rpc_ok_counter(name))
            .collect();
        Self { metrics, ok }
    }

    /// Counts one call of the method `counted_name` found, answered with `error` (or not).
    fn count(&self, (index, name): (usize, &'static str), error: Option<i32>) {
        if error.is_none() {
            self.ok[index].inc();
        } else {
            self.metrics.rpc_request(name, error);
        }
    }
}

/// The methods counted by name (the rest of the names count as `unknown`).
const COUNTED: &[&str] = METHODS;

impl<S> Policy<S> {
    /// Wraps `inner`.
    pub fn new(
        inner: S,
        transport: Transport,
        allow_unsafe: bool,
        max_response_bytes: usize,
        counting: Arc<Counting>,
        submit_batch: SubmitBatch,
        heavy: Arc<tokio::sync::Semaphore>,
    ) -> Self {
        Self {
            inner,
            transport,
            allow_unsafe,
            max_response_bytes,
            counting,
            submit_batch,
            heavy,
        }
    }

    /// Why the call is refused before it runs, if it is.
    fn refusal(&self, method: &str) -> Option<ErrorObjectOwned> {
        let subscription = SUBSCRIPTIONS
            .iter()
            .any(|(sub, unsub)| method == *sub || method == *unsub);
        if subscription && self.transport == Transport::Http {
            return Some(ErrorObjectOwned::owned(
                SUBSCRIPTION_OVER_HTTP,
                format!("{method} is a subscription: it needs a WebSocket connection (ws://)"),
                None::<()>,
            ));
        }
        if !self.allow_unsafe && UNSAFE_METHODS.contains(&method) {
            return Some(ErrorObjectOwned::owned(
                UNSAFE_METHOD,
                format!(
                    "{method} is an operator's method: this node serves it only with \
                     --rpc-methods unsafe"
                ),
                None::<()>,
            ));
        }
        None
    }
}

impl<S> Policy<S> {
    /// Answers a batch of submissions (`entries`, whose transactions are `txs`) through the
    /// chain's whole-batch path.
    async fn submit_whole(
        &self,
        entries: Vec<Result<BatchEntry<'_>, BatchEntryErr<'_>>>,
        txs: Vec<String>,
    ) -> MethodResponse {
        let answers = (self.submit_batch)(txs).await;
        let mut batch = BatchResponseBuilder::new_with_limit(self.max_response_bytes);
        for (entry, answer) in entries.into_iter().zip(answers) {
            let Ok(BatchEntry::Call(request)) = entry else {
                continue;
            };
            let response = match answer {
                Ok(hash) => MethodResponse::response(
                    request.id,
                    ResponsePayload::success(hash),
                    self.max_response_bytes,
                ),
                Err(e) => MethodResponse::error(request.id, e),
            };
            self.counting
                .count(counted_name(SUBMIT), response.as_error_code());
            if let Err(too_big) = batch.append(response) {
                return too_big;
            }
        }
        MethodResponse::from_batch(batch.finish())
    }
}

/// The transactions of a batch made only of `author_submitTransaction` calls, each with one
/// string parameter (more than one call); none for any other batch, which then runs call by
/// call.
fn submissions(entries: &[Result<BatchEntry<'_>, BatchEntryErr<'_>>]) -> Option<Vec<String>> {
    if entries.len() < 2 {
        return None;
    }
    entries
        .iter()
        .map(|entry| match entry {
            Ok(BatchEntry::Call(request)) if request.method_name() == SUBMIT => {
                let params = request.params();
                let [tx]: [String; 1] = serde_json::from_str(params.as_str()?).ok()?;
                Some(tx)
            }
            _ => None,
        })
        .collect()
}

/// The name a metric counts a call under: a name the server offers, or `unknown` (a label per
/// name a client makes up would let clients grow the metrics without bound).
/// Its index among [`Counting`]'s counters comes with it.
fn counted_name(method: &str) -> (usize, &'static str) {
    let names = COUNTED
        .iter()
        .copied()
        .chain(SUBSCRIPTIONS.iter().map(|(_, unsub)| *unsub));
    let mut unknown = 0;
    for (index, name) in names.enumerate() {
        if name == method {
            return (index, name);
        }
        unknown = index + 1;
    }
    (unknown, "unknown")
}

impl<S> RpcServiceT for Policy<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let name = counted_name(request.method_name());
        let counting = self.counting.clone();
        let heavy = HEAVY
            .contains(&request.method_name())
            .then(|| self.heavy.clone());
        let work = match self.refusal(request.method_name()) {
            Some(why) => Either::Left(ready(MethodResponse::error(request.id, why))),
            None => Either::Right(self.inner.call(request)),
        };
        async move {
            // The semaphore is never closed: a permit always comes.
            let _turn = match &heavy {
                Some(h) => h.acquire().await.ok(),
                None => None,
            };
            let response = work.await;
            counting.count(name, response.as_error_code());
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let entries: Vec<_> = batch.into_iter().collect();
            if let Some(submissions) = submissions(&entries) {
                return this.submit_whole(entries, submissions).await;
            }
            // Submissions mixed with other calls run one after another, in the batch's order
            // (so that two of one sender land as they are listed); other batches run a few
            // calls at once.
            let submits = entries
                .iter()
                .any(|e| matches!(e, Ok(BatchEntry::Call(r)) if r.method_name() == SUBMIT));
            let at_once = if submits { 1 } else { BATCH_CALLS_AT_ONCE };
            let mut got_notification = false;
            let mut calls = Vec::new();
            for entry in entries {
                match entry {
                    Ok(BatchEntry::Call(request)) => calls.push(Either::Left(this.call(request))),
                    Ok(BatchEntry::Notification(n)) => {
                        got_notification = true;
                        this.inner.notification(n).await;
                    }
                    Err(err) => {
                        let (err, id) = err.into_parts();
                        calls.push(Either::Right(ready(MethodResponse::error(id, err))));
                    }
                }
            }
            // Their answers keep the batch's order.
            let responses: Vec<MethodResponse> = futures_util::stream::iter(calls)
                .buffered(at_once)
                .collect()
                .await;
            let mut answer = BatchResponseBuilder::new_with_limit(this.max_response_bytes);
            for response in responses {
                if let Err(too_big) = answer.append(response) {
                    return too_big;
                }
            }
            if answer.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(answer.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::{counted_name, submissions};
    use jsonrpsee::server::middleware::rpc::{BatchEntry, Request};
    use jsonrpsee::types::Id;

    fn call(
        method: &str,
        params: &str,
    ) -> Result<BatchEntry<'static>, super::BatchEntryErr<'static>> {
        let raw = serde_json::value::RawValue::from_string(params.to_string()).unwrap();
        Ok(BatchEntry::Call(Request::owned(
            method.to_string(),
            Some(raw),
            Id::Number(1),
        )))
    }

    #[test]
    fn only_a_batch_of_submissions_goes_to_the_chain_whole() {
        let submit = "author_submitTransaction";
        let two = [call(submit, r#"["0x01"]"#), call(submit, r#"["0x02"]"#)];
        assert_eq!(
            submissions(&two),
            Some(vec!["0x01".to_string(), "0x02".to_string()])
        );
        let mixed = [call(submit, r#"["0x01"]"#), call("system_health", "[]")];
        assert_eq!(submissions(&mixed), None, "another method: call by call");
        let odd = [call(submit, r#"["0x01"]"#), call(submit, r#"["0x02", 3]"#)];
        assert_eq!(
            submissions(&odd),
            None,
            "odd parameters get the call's own error"
        );
        assert_eq!(submissions(&two[..1]), None, "one call is a call");
    }

    #[test]
    fn metrics_count_made_up_method_names_as_unknown() {
        assert_eq!(counted_name("system_health").1, "system_health");
        assert_eq!(
            counted_name("chain_unsubscribeNewHeads").1,
            "chain_unsubscribeNewHeads"
        );
        assert_eq!(counted_name("x".repeat(40).as_str()).1, "unknown");
    }

    #[test]
    fn each_counted_name_has_its_own_counter_and_counts_in_its_family() {
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
        let counting = super::Counting::new(metrics.clone());
        let names = super::COUNTED
            .iter()
            .copied()
            .chain(super::SUBSCRIPTIONS.iter().map(|(_, unsub)| *unsub))
            .chain(["unknown"]);
        for (index, name) in names.enumerate() {
            assert_eq!(counted_name(name), (index, name));
        }
        assert_eq!(counting.ok.len(), counted_name("no such method").0 + 1);
        counting.count(counted_name("state_getBalance"), None);
        counting.count(counted_name("state_getBalance"), None);
        counting.count(counted_name("state_getBalance"), Some(-32602));
        counting.count(counted_name("made_up"), None);
        let text = metrics.render();
        for line in [
            "aether_rpc_requests_total{method=\"state_getBalance\",outcome=\"ok\"} 2",
            "aether_rpc_requests_total{method=\"state_getBalance\",outcome=\"-32602\"} 1",
            "aether_rpc_requests_total{method=\"unknown\",outcome=\"ok\"} 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
