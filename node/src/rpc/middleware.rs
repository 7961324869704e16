//! What every RPC call passes through, batched or not: the method policy (unsafe methods where
//! they are not offered, subscriptions over HTTP), a count by method and outcome, and batches
//! whose calls run at once (a batch of submissions checks its signatures in parallel on the
//! blocking pool instead of one after another).

use std::sync::Arc;

use futures_util::future::{Either, join_all, ready};
use jsonrpsee::server::BatchResponseBuilder;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, MethodResponse, Notification, Request, RpcServiceT,
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

/// The policy and counting around the server's methods.
#[derive(Clone)]
pub struct Policy<S> {
    inner: S,
    transport: Transport,
    allow_unsafe: bool,
    max_response_bytes: usize,
    metrics: Arc<Metrics>,
}

impl<S> Policy<S> {
    /// Wraps `inner`.
    pub fn new(
        inner: S,
        transport: Transport,
        allow_unsafe: bool,
        max_response_bytes: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner,
            transport,
            allow_unsafe,
            max_response_bytes,
            metrics,
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

/// The name a metric counts a call under: a name the server offers, or `unknown` (a label per
/// name a client makes up would let clients grow the metrics without bound).
fn counted_name(method: &str) -> &'static str {
    METHODS
        .iter()
        .copied()
        .chain(SUBSCRIPTIONS.iter().map(|(_, unsub)| *unsub))
        .find(|m| *m == method)
        .unwrap_or("unknown")
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
        let metrics = self.metrics.clone();
        let work = match self.refusal(request.method_name()) {
            Some(why) => Either::Left(ready(MethodResponse::error(request.id, why))),
            None => Either::Right(self.inner.call(request)),
        };
        async move {
            let response = work.await;
            metrics.rpc_request(name, response.as_error_code());
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let mut got_notification = false;
            let mut calls = Vec::new();
            for entry in batch {
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
            // The calls run at once; their answers keep the batch's order.
            let mut answer = BatchResponseBuilder::new_with_limit(this.max_response_bytes);
            for response in join_all(calls).await {
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
    use super::counted_name;

    #[test]
    fn metrics_count_made_up_method_names_as_unknown() {
        assert_eq!(counted_name("system_health"), "system_health");
        assert_eq!(
            counted_name("chain_unsubscribeNewHeads"),
            "chain_unsubscribeNewHeads"
        );
        assert_eq!(counted_name("x".repeat(40).as_str()), "unknown");
    }
}
