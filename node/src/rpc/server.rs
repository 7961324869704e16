//! The RPC server's front door: one port for HTTP and WebSocket, with budgets kept apart so
//! that one kind of client cannot lock out another.
//!
//! - WebSockets (long-lived) have their own budget, in all and per IP address; one that neither
//!   answers a ping nor sends anything for `ws_idle_timeout` is closed.
//! - HTTP requests have a budget of requests being served, which idle WebSockets never touch.
//! - One IP address holds at most `max_connections_per_ip` TCP connections of either kind.
//! - A browser page is served only from an origin `--rpc-cors` allows (CORS headers included);
//!   requests without an `Origin` header (curl, the CLI) are always served.
//! - `GET /health` answers the node's health as JSON, `GET /health/readiness` 200 or 503.
//!
//! Every refusal at a limit is answered with HTTP 429 and a reason, counted in
//! `aether_rpc_limit_hits` and logged (at most once per limit every 10 s, with the count since).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, StatusCode, header};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, HttpBody, HttpResponse, IdProvider, Methods, PingConfig, Server,
    ServerConfig, ServerHandle, serve_with_graceful_shutdown, stop_channel, ws,
};
use jsonrpsee::types::SubscriptionId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::Service;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::middleware::{Policy, Transport};
use super::{RpcAccess, RpcContext, RpcLimits, RpcMethods};
use crate::metrics::Metrics;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Longest an HTTP request's body may take to arrive, from its headers on: a request sent
/// slowly cannot hold its place for ever (the calls themselves are bounded: dry runs by their
/// gas cap, heavy reads by their gate).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The address limits count by: an IPv4 address, or an IPv6 /64 network (what one host is
/// usually given).
fn address_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
        },
        v4 => v4,
    }
}
type BoxFuture = std::pin::Pin<Box<dyn Future<Output = HttpResponse> + Send + 'static>>;

/// Starts the server on `addr`; it runs until the handle stops it.
pub async fn start(
    addr: SocketAddr,
    limits: RpcLimits,
    access: RpcAccess,
    ctx: RpcContext,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let allow_unsafe = match access.methods {
        RpcMethods::Auto => addr.ip().is_loopback(),
        RpcMethods::Safe => false,
        RpcMethods::Unsafe => true,
    };
    let methods: Methods = super::module(ctx.clone(), &limits).into();
    let submit_batch: super::middleware::SubmitBatch = {
        let ctx = ctx.clone();
        Arc::new(move |txs| Box::pin(super::methods::submit_batch(ctx.clone(), txs)))
    };
    let heavy = Arc::new(tokio::sync::Semaphore::new(
        super::middleware::HEAVY_AT_ONCE,
    ));
    let counting = Arc::new(super::middleware::Counting::new(ctx.metrics.clone()));
    let policy = |transport| PolicyLayer {
        transport,
        allow_unsafe,
        max_response_bytes: limits.max_response_bytes as usize,
        counting: counting.clone(),
        submit_batch: submit_batch.clone(),
        heavy: heavy.clone(),
    };
    // jsonrpsee's own connection caps stay above the door's: the door counts and explains.
    let config = |max: u32| {
        ServerConfig::builder()
            .max_request_body_size(limits.max_request_bytes)
            .max_response_body_size(limits.max_response_bytes)
            .max_subscriptions_per_connection(limits.max_subscriptions)
            .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
            .max_connections(max.saturating_mul(2).saturating_add(16))
    };
    let idle = limits
        .ws_idle_timeout
        .clamp(Duration::from_millis(300), Duration::from_secs(86_400));
    let ws_builder = Server::builder()
        .set_config(
            config(limits.max_connections)
                .ws_only()
                .set_id_provider(HexIds)
                .enable_ws_ping(
                    PingConfig::new()
                        .ping_interval(idle / 3)
                        .inactive_limit(idle * 2 / 3)
                        .max_failures(1),
                )
                .build(),
        )
        .set_rpc_middleware(RpcServiceBuilder::new().layer(policy(Transport::Ws)))
        .to_service_builder();
    let cors = access.cors.clone();
    // Requests with an `Origin` header (browsers) go through CORS; others skip its layer.
    let http_cors = Server::builder()
        .set_config(config(limits.max_http_requests).http_only().build())
        .set_http_middleware(
            tower::ServiceBuilder::new().layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                        origin.to_str().is_ok_and(|o| cors.allows(o))
                    }))
                    .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
                    .allow_headers([header::CONTENT_TYPE])
                    .max_age(Duration::from_secs(3600)),
            ),
        )
        .set_rpc_middleware(RpcServiceBuilder::new().layer(policy(Transport::Http)))
        .to_service_builder();
    let http_plain = Server::builder()
        .set_config(config(limits.max_http_requests).http_only().build())
        .set_rpc_middleware(RpcServiceBuilder::new().layer(policy(Transport::Http)))
        .to_service_builder();
    let (stop, handle) = stop_channel();
    let front = Arc::new(Front {
        door: Arc::new(Door::new(limits, ctx.metrics.clone())),
        ctx,
        access,
        ws: ws_builder,
        http_cors,
        methods,
        stop: stop.clone(),
    });
    // Refusals being answered at once, at most.
    let refusing = Arc::new(tokio::sync::Semaphore::new(64));
    tokio::spawn(async move {
        loop {
            let (socket, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors, say: back off instead of spinning.
                        tracing::debug!(error = %e, "RPC accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stop.clone().shutdown() => break,
            };
            let ip = address_group(remote.ip());
            let Some(tcp) = front.door.open_tcp(ip) else {
                let reason = front.door.refused(Limit::ConnectionsPerIp, ip);
                // A bounded number of refusals are explained; beyond, the socket just closes.
                if let Ok(turn) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse_connection(socket, reason).await;
                        drop(turn);
                    });
                }
                continue;
            };
            // One HTTP service per connection (as jsonrpsee's own server has), cloned per request.
            let plain = http_plain
                .clone()
                .build(front.methods.clone(), front.stop.clone());
            let front = front.clone();
            // The address's count of HTTP requests being served (no lock per request).
            let here = tcp.http_here.clone();
            let service =
                tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (front, plain, here) = (front.clone(), plain.clone(), here.clone());
                    let answer: BoxFuture = Box::pin(async move {
                        let door = &front.door;
                        let origin = request.headers().get(header::ORIGIN);
                        if let Some(origin) = origin
                            && !origin.to_str().is_ok_and(|o| front.access.cors.allows(o))
                        {
                            return text(
                                StatusCode::FORBIDDEN,
                                format!(
                                    "origin {origin:?} may not call this node: start it with \
                                     --rpc-cors naming the origin (or `all`)"
                                ),
                            );
                        }
                        if request.method() == Method::GET {
                            let readiness = match request.uri().path() {
                                "/health" => Some(false),
                                "/health/readiness" => Some(true),
                                _ => None,
                            };
                            if let Some(readiness) = readiness {
                                let mut answer = health(&front.ctx, readiness);
                                // An allowed page may read it (the origin was checked above).
                                if let Some(origin) = origin {
                                    answer.headers_mut().insert(
                                        header::ACCESS_CONTROL_ALLOW_ORIGIN,
                                        origin.clone(),
                                    );
                                    answer
                                        .headers_mut()
                                        .insert(header::VARY, HeaderValue::from_static("origin"));
                                }
                                return answer;
                            }
                        }
                        if ws::is_upgrade_request(&request) {
                            let slot = match door.open_ws(ip) {
                                Ok(slot) => slot,
                                Err(limit) => {
                                    let reason = door.refused(limit, ip);
                                    return text(StatusCode::TOO_MANY_REQUESTS, reason);
                                }
                            };
                            let mut service = front
                                .ws
                                .clone()
                                .build(front.methods.clone(), front.stop.clone());
                            let closed = service.on_session_closed();
                            tokio::spawn(async move {
                                closed.await;
                                drop(slot);
                            });
                            return internal(service.call(request).await);
                        }
                        let _serving = match door.open_http(&here) {
                            Ok(serving) => serving,
                            Err(limit) => {
                                let reason = door.refused(limit, ip);
                                return text(StatusCode::TOO_MANY_REQUESTS, reason);
                            }
                        };
                        let max_response = door.limits.max_response_bytes as usize;
                        if origin.is_some() {
                            let cors = front
                                .http_cors
                                .clone()
                                .build(front.methods.clone(), front.stop.clone());
                            serve_http(cors, request, REQUEST_TIMEOUT, max_response).await
                        } else {
                            serve_http(plain, request, REQUEST_TIMEOUT, max_response).await
                        }
                    });
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
            let stopped = stop.clone().shutdown();
            tokio::spawn(async move {
                let _ = serve_with_graceful_shutdown(socket, service, stopped).await;
                drop(tcp);
            });
        }
    });
    Ok((local, handle))
}

/// What every connection shares: the door, the methods and the ways to serve them.
struct Front<W, H> {
    door: Arc<Door>,
    ctx: RpcContext,
    access: RpcAccess,
    /// Builds a WebSocket connection's service.
    ws: W,
    /// Builds the HTTP service with CORS, for requests from browsers.
    http_cors: H,
    methods: Methods,
    stop: jsonrpsee::server::StopHandle,
}

/// A limit the door refuses at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Limit {
    ConnectionsPerIp,
    WsConnections,
    WsPerIp,
    HttpRequests,
    HttpPerIp,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::ConnectionsPerIp => "connections_per_ip",
            Limit::WsConnections => "ws_connections",
            Limit::WsPerIp => "ws_connections_per_ip",
            Limit::HttpRequests => "http_requests",
            Limit::HttpPerIp => "http_requests_per_ip",
        }
    }

    fn explain(self, limits: &RpcLimits) -> String {
        match self {
            Limit::ConnectionsPerIp => format!(
                "this address holds {} connections to the node, the most it allows \
                 (--rpc-max-connections-per-ip)",
                limits.max_connections_per_ip
            ),
            Limit::WsConnections => format!(
                "{} WebSockets are open, the most the node allows (--rpc-max-connections); \
                 HTTP is still served",
                limits.max_connections
            ),
            Limit::WsPerIp => format!(
                "this address holds {} WebSockets, the most the node allows one address \
                 (--rpc-max-ws-per-ip); HTTP is still served",
                limits.max_ws_per_ip
            ),
            Limit::HttpRequests => format!(
                "{} HTTP requests are being served, the most at once (--rpc-max-http-requests)",
                limits.max_http_requests
            ),
            Limit::HttpPerIp => format!(
                "this address has {} HTTP requests being served, the most the node serves one \
                 address at once (--rpc-max-http-per-ip)",
                limits.max_http_per_ip
            ),
        }
    }
}

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tcp,
    Ws,
}

/// Connections open from one address.
#[derive(Default)]
struct Open {
    tcp: u32,
    ws: u32,
    /// HTTP requests being served; each connection of the address holds it, so that a request
    /// is counted without the door's lock.
    http: Arc<AtomicU32>,
}

/// The counts behind the limits.
struct Door {
    limits: RpcLimits,
    metrics: Arc<Metrics>,
    open: Mutex<HashMap<IpAddr, Open>>,
    ws: AtomicU32,
    http: AtomicU32,
    /// `aether_rpc_connections{transport="ws"}` and `{transport="http"}`.
    ws_gauge: prometheus_client::metrics::gauge::Gauge,
    http_gauge: prometheus_client::metrics::gauge::Gauge,
    /// Per limit: when it was last logged, and the refusals since.
    logged: Mutex<HashMap<Limit, (Option<Instant>, u64)>>,
}

/// A place taken at the door, given back on drop.
struct Slot {
    door: Arc<Door>,
    ip: IpAddr,
    kind: Kind,
    /// The address's count of HTTP requests being served.
    http_here: Arc<AtomicU32>,
}

impl Door {
    fn new(limits: RpcLimits, metrics: Arc<Metrics>) -> Self {
        Self {
            limits,
            ws_gauge: metrics.rpc_connections("ws"),
            http_gauge: metrics.rpc_connections("http"),
            metrics,
            open: Mutex::new(HashMap::new()),
            ws: AtomicU32::new(0),
            http: AtomicU32::new(0),
            logged: Mutex::new(HashMap::new()),
        }
    }

    /// A TCP connection's place (per address).
    fn open_tcp(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let here = open.entry(ip).or_default();
        if here.tcp + here.ws >= self.limits.max_connections_per_ip {
            return None;
        }
        here.tcp += 1;
        Some(Slot {
            door: self.clone(),
            ip,
            kind: Kind::Tcp,
            http_here: here.http.clone(),
        })
    }

    /// An HTTP request's place, in all and for the address whose count is `http_here` (atomics
    /// only: this is on every request's path).
    fn open_http<'a>(&'a self, http_here: &'a AtomicU32) -> Result<Serving<'a>, Limit> {
        take(http_here, self.limits.max_http_per_ip).ok_or(Limit::HttpPerIp)?;
        if take(&self.http, self.limits.max_http_requests).is_none() {
            http_here.fetch_sub(1, Ordering::AcqRel);
            return Err(Limit::HttpRequests);
        }
        self.http_gauge.inc();
        Ok(Serving {
            door: self,
            http_here,
        })
    }

    /// A WebSocket's place, in all and for its address.
    fn open_ws(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Limit> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let here = open.entry(ip).or_default();
        if here.ws >= self.limits.max_ws_per_ip {
            return Err(Limit::WsPerIp);
        }
        take(&self.ws, self.limits.max_connections).ok_or(Limit::WsConnections)?;
        here.ws += 1;
        self.ws_gauge.inc();
        Ok(Slot {
            door: self.clone(),
            ip,
            kind: Kind::Ws,
            http_here: here.http.clone(),
        })
    }

    /// Counts and (rate-limited) logs a refusal at `limit`; the reason to answer.
    fn refused(&self, limit: Limit, ip: IpAddr) -> String {
        self.metrics.rpc_limit_hit(limit.name());
        let reason = limit.explain(&self.limits);
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let (last, since) = logged.entry(limit).or_insert((None, 0));
        *since += 1;
        if last.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(10)) {
            tracing::warn!(
                limit = limit.name(),
                %ip,
                refused = *since,
                "RPC limit reached: {reason}"
            );
            *last = Some(now);
            *since = 0;
        }
        reason
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let door = &self.door;
        if self.kind == Kind::Ws {
            door.ws.fetch_sub(1, Ordering::AcqRel);
            door.ws_gauge.dec();
        }
        let mut open = door.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(here) = open.get_mut(&self.ip) {
            match self.kind {
                Kind::Tcp => here.tcp = here.tcp.saturating_sub(1),
                Kind::Ws => here.ws = here.ws.saturating_sub(1),
            }
            // HTTP requests are served on TCP connections: none is left when none is.
            if here.tcp == 0 && here.ws == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// An HTTP request's place, given back on drop.
struct Serving<'a> {
    door: &'a Door,
    http_here: &'a AtomicU32,
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.http_here.fetch_sub(1, Ordering::AcqRel);
        self.door.http.fetch_sub(1, Ordering::AcqRel);
        self.door.http_gauge.dec();
    }
}

/// Takes one of `max` places counted by `count`, if one is free.
fn take(count: &AtomicU32, max: u32) -> Option<()> {
    count
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| ())
}

/// Answers a connection the door will not serve with 429 and closes it.
async fn refuse_connection(mut socket: TcpStream, reason: String) {
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{reason}\n",
        reason.len() + 1
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        socket.write_all(answer.as_bytes()).await?;
        socket.shutdown().await?;
        // Read what the client sent, so that closing does not reset the answer away.
        let mut sink = [0u8; 4096];
        while socket.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}

/// Serves an HTTP request whose body must arrive within `timeout` (else 408). The body's
/// chunks are kept (shared, not copied) as jsonrpsee reads them, so that a request whose id
/// jsonrpsee cannot hold (`1e999`, `2^200`, `1.5`, `[1]`), which it would answer as a
/// notification with a bare `null` (or, in a batch, leave out), gets the JSON-RPC answer
/// instead: `-32600` with id null (within `max_response` bytes for a batch's answer).
async fn serve_http<S, B>(
    mut service: S,
    request: http::Request<B>,
    timeout: Duration,
    max_response: usize,
) -> HttpResponse
where
    S: Service<http::Request<Recorded<B>>, Response = HttpResponse, Error = BoxError>,
    B: http_body::Body<Data = hyper::body::Bytes> + Unpin,
{
    use http_body_util::BodyExt;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let deadline = tokio::time::Instant::now() + timeout;
    let request = request.map(|body| Recorded {
        body,
        seen: seen.clone(),
        deadline,
        late: None,
    });
    let response = internal(service.call(request).await);
    if seen.lock().unwrap_or_else(PoisonError::into_inner).late {
        return text(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request's body did not arrive within {} s",
                timeout.as_secs_f64()
            ),
        );
    }
    let bytes = || -> Vec<u8> {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .chunks
            .iter()
            .flat_map(|chunk| chunk.iter().copied())
            .collect()
    };
    let notification = http_body::Body::size_hint(response.body()).exact() == Some(4);
    // A batch with other calls: jsonrpsee left its entries with such ids out of the answer.
    let left_out = if notification || response.status() != StatusCode::OK {
        Vec::new()
    } else {
        let bytes = bytes();
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
            return response;
        }
        let left_out = invalid_batch_entries(&bytes);
        if left_out.is_empty() {
            return response;
        }
        left_out
    };
    let (parts, body) = response.into_parts();
    let answer = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error: {e}"),
            );
        }
    };
    let body = if notification {
        match (&answer[..], invalid_ids(&bytes())) {
            (b"null", Some(errors)) => HttpBody::from(errors),
            _ => HttpBody::new(http_body_util::Full::new(answer)),
        }
    } else {
        HttpBody::from(with_left_out(&answer, &left_out, max_response))
    };
    let mut response = HttpResponse::from_parts(parts, body);
    response.headers_mut().remove(http::header::CONTENT_LENGTH);
    response
}

/// A batch's `answer` with the answers to the entries jsonrpsee `left_out` after its own (the
/// text spliced, not re-encoded); an answer that is not an array stays as it is. Over
/// `max_response` bytes, the batch is answered as jsonrpsee answers one whose answer is too
/// large.
fn with_left_out(answer: &[u8], left_out: &[serde_json::Value], max_response: usize) -> Vec<u8> {
    let (Some(open), Some(close)) = (
        answer.iter().position(|b| !b.is_ascii_whitespace()),
        answer.iter().rposition(|b| !b.is_ascii_whitespace()),
    ) else {
        return answer.to_vec();
    };
    if answer[open] != b'[' || answer[close] != b']' || close <= open {
        return answer.to_vec();
    }
    let mut empty = answer[open + 1..close].iter().all(u8::is_ascii_whitespace);
    let mut out = answer[..close].to_vec();
    for entry in left_out {
        if !empty {
            out.push(b',');
        }
        empty = false;
        out.extend_from_slice(entry.to_string().as_bytes());
    }
    out.push(b']');
    if out.len() > max_response {
        let error = jsonrpsee::types::error::reject_too_big_batch_response(max_response);
        return serde_json::json!({"jsonrpc": "2.0", "id": null, "error": error})
            .to_string()
            .into_bytes();
    }
    out
}

/// What a [`Recorded`] body saw.
#[derive(Default)]
struct Seen {
    /// The chunks it yielded (each a shared [`hyper::body::Bytes`]).
    chunks: Vec<hyper::body::Bytes>,
    /// Whether its deadline passed before it ended.
    late: bool,
}

/// A request body that keeps the chunks it yields and ends in an error if it has not arrived
/// by its deadline. The timer is made only when the body has to be waited for: a request that
/// arrived whole (the common case) costs no timer.
struct Recorded<B = hyper::body::Incoming> {
    body: B,
    seen: Arc<Mutex<Seen>>,
    deadline: tokio::time::Instant,
    late: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<B> http_body::Body for Recorded<B>
where
    B: http_body::Body<Data = hyper::body::Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = hyper::body::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Pending => {
                let deadline = this.deadline;
                let late = this
                    .late
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if late.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .late = true;
                Poll::Ready(Some(
                    Err("the request's body did not arrive in time".into()),
                ))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .chunks
                        .push(data.clone());
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Whether JSON-RPC can answer to `id`: a string, an integer this server holds (0 to 2^64-1)
/// or null.
fn valid_id(id: &serde_json::Value) -> bool {
    id.is_null() || id.is_string() || id.is_u64()
}

/// The `-32600` answer (id null) to a call whose id is not a [`valid_id`].
fn invalid_id_error(id: &dyn std::fmt::Display) -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32600,
            "message": format!(
                "invalid request: id {id} is not a string, an integer from 0 to 2^64-1, or null"
            ),
        },
    })
}

/// The answers to the entries of a batch jsonrpsee leaves out of the batch's answer: those it
/// cannot read as a call (whose id is not a [`valid_id`]) but can as a notification (its
/// `jsonrpc` and `method` are right), which it takes for one. Any other bad entry jsonrpsee
/// answers itself. Ids are read raw, so that one beyond any number (`1e999`) is seen too.
fn invalid_batch_entries(request: &[u8]) -> Vec<serde_json::Value> {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    let Ok(entries) = serde_json::from_slice::<Vec<&RawValue>>(request) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|entry| {
            serde_json::from_str::<jsonrpsee::types::Request>(entry.get()).is_err()
                && serde_json::from_str::<jsonrpsee::types::Notification<Option<&RawValue>>>(
                    entry.get(),
                )
                .is_ok()
        })
        .filter_map(|entry| serde_json::from_str::<Entry>(entry.get()).ok()?.id)
        .filter(|id| {
            !serde_json::from_str::<serde_json::Value>(id.get()).is_ok_and(|id| valid_id(&id))
        })
        .map(|id| invalid_id_error(&id.get()))
        .collect()
}

/// The answer to a request (or batch) whose ids are not ones JSON-RPC can answer to: a string,
/// an integer this server holds (0 to 2^64-1) or null. None if every id is one. Called only on
/// a request jsonrpsee answered as a notification: one that is not even a JSON value here
/// (`1e999` is beyond an f64) had such an id.
fn invalid_ids(request: &[u8]) -> Option<String> {
    let valid = valid_id;
    let error = |id: &serde_json::Value| invalid_id_error(id);
    let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(request) else {
        let unreadable = serde_json::Value::String("beyond any number".into());
        let one = error(&unreadable);
        let batch = request.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        return Some(if batch { serde_json::json!([one]) } else { one }.to_string());
    };
    match parsed {
        serde_json::Value::Object(call) => {
            let id = call.get("id")?;
            (!valid(id)).then(|| error(id).to_string())
        }
        serde_json::Value::Array(calls) => {
            let errors: Vec<serde_json::Value> = calls
                .iter()
                .filter_map(|c| c.get("id").filter(|id| !valid(id)).map(error))
                .collect();
            (!errors.is_empty()).then(|| serde_json::Value::Array(errors).to_string())
        }
        _ => None,
    }
}

/// The service's answer, or a 500 saying what failed inside it.
fn internal(answer: Result<HttpResponse, BoxError>) -> HttpResponse {
    answer.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "RPC request failed inside the server");
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    })
}

/// A plain-text refusal; the connection closes after it (a refused client holds no place).
fn text(status: StatusCode, body: String) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(format!("{body}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `GET /health` (always 200, the health as JSON) or `/health/readiness` (200 when the node is
/// not catching up and has peers if it should, else 503).
fn health(ctx: &RpcContext, readiness: bool) -> HttpResponse {
    let health = super::health(ctx);
    let status = if readiness && !health.ready() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = serde_json::to_string(&health).unwrap_or_default();
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Subscription ids as documented: `0x` and 32 random hex digits.
#[derive(Debug)]
struct HexIds;

impl IdProvider for HexIds {
    fn next_id(&self) -> SubscriptionId<'static> {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness: ids stay unique by a counter and the time.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            bytes[8..].copy_from_slice(&crate::chain::now_ms().to_le_bytes());
        }
        SubscriptionId::Str(format!("0x{}", hex::encode(bytes)).into())
    }
}

/// Builds a [`Policy`] around each connection's RPC service.
#[derive(Clone)]
struct PolicyLayer {
    transport: Transport,
    allow_unsafe: bool,
    max_response_bytes: usize,
    counting: Arc<super::middleware::Counting>,
    submit_batch: super::middleware::SubmitBatch,
    heavy: Arc<tokio::sync::Semaphore>,
}

impl<S> tower::Layer<S> for PolicyLayer {
    type Service = Policy<S>;

    fn layer(&self, inner: S) -> Policy<S> {
        Policy::new(
            inner,
            self.transport,
            self.allow_unsafe,
            self.max_response_bytes,
            self.counting.clone(),
            self.submit_batch.clone(),
            self.heavy.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door(limits: RpcLimits) -> Arc<Door> {
        Arc::new(Door::new(limits, Arc::new(Metrics::new())))
    }

    #[test]
    fn websockets_are_limited_in_all_and_per_address_and_give_their_places_back() {
        let door = door(RpcLimits {
            max_connections: 3,
            max_ws_per_ip: 2,
            ..RpcLimits::default()
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = door.open_ws(a).unwrap();
        let _a2 = door.open_ws(a).unwrap();
        assert_eq!(door.open_ws(a).err(), Some(Limit::WsPerIp));
        let _b1 = door.open_ws(b).unwrap();
        assert_eq!(door.open_ws(b).err(), Some(Limit::WsConnections));
        drop(a1);
        assert!(
            door.open_ws(b).is_ok(),
            "a closed WebSocket frees its place"
        );
    }

    #[test]
    fn an_address_holds_at_most_its_connections_websockets_included() {
        let door = door(RpcLimits {
            max_connections_per_ip: 3,
            ..RpcLimits::default()
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let _ws = door.open_ws(ip).unwrap();
        let t1 = door.open_tcp(ip).unwrap();
        let _t2 = door.open_tcp(ip).unwrap();
        assert!(door.open_tcp(ip).is_none());
        assert!(door.open_tcp("10.0.0.9".parse().unwrap()).is_some());
        drop(t1);
        assert!(door.open_tcp(ip).is_some());
    }

    #[test]
    fn limits_count_an_ipv6_host_by_its_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_group(a), address_group(b));
        assert_ne!(address_group(a), address_group(other));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_group(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn one_address_holds_at_most_its_share_of_http_requests() {
        let door = door(RpcLimits {
            max_http_per_ip: 2,
            ..RpcLimits::default()
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        // Two connections of one address share its count.
        let (a1, a2, b1) = (
            door.open_tcp(a).unwrap(),
            door.open_tcp(a).unwrap(),
            door.open_tcp(b).unwrap(),
        );
        let first = door.open_http(&a1.http_here).unwrap();
        let _second = door.open_http(&a2.http_here).unwrap();
        assert_eq!(
            door.open_http(&a1.http_here).err().map(|l| l.name()),
            Some("http_requests_per_ip")
        );
        assert!(
            door.open_http(&b1.http_here).is_ok(),
            "another address is served"
        );
        drop(first);
        assert!(door.open_http(&a2.http_here).is_ok());
    }

    #[test]
    fn http_requests_have_their_own_budget() {
        let door = door(RpcLimits {
            max_http_requests: 1,
            max_connections: 1,
            ..RpcLimits::default()
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let _ws = door.open_ws(ip).unwrap();
        let tcp = door.open_tcp(ip).unwrap();
        let h = door
            .open_http(&tcp.http_here)
            .expect("a full WebSocket budget leaves HTTP alone");
        assert_eq!(
            door.open_http(&tcp.http_here).err().map(|l| l.name()),
            Some("http_requests")
        );
        assert_eq!(
            tcp.http_here.load(Ordering::Acquire),
            1,
            "a refusal in all gives the address's place back"
        );
        drop(h);
        assert!(door.open_http(&tcp.http_here).is_ok());
        assert_eq!(
            door.http.load(Ordering::Acquire),
            0,
            "a request served gives its place back"
        );
    }

    /// A service that reads the whole body, then answers 200 with it.
    fn echo() -> impl Service<
        http::Request<Recorded<BoxBodyForTest>>,
        Response = HttpResponse,
        Error = BoxError,
        Future = futures_util::future::BoxFuture<'static, Result<HttpResponse, BoxError>>,
    > + Clone {
        tower::service_fn(|request: http::Request<Recorded<BoxBodyForTest>>| {
            Box::pin(async move {
                use http_body_util::BodyExt;
                let body = request.into_body().collect().await?.to_bytes();
                Ok(HttpResponse::new(HttpBody::from(body.to_vec())))
            }) as futures_util::future::BoxFuture<'static, _>
        })
    }

    type BoxBodyForTest = http_body_util::StreamBody<
        futures_util::stream::BoxStream<
            'static,
            Result<http_body::Frame<hyper::body::Bytes>, std::convert::Infallible>,
        >,
    >;

    fn body(chunks: &'static [&'static str], then_wait: bool) -> BoxBodyForTest {
        use futures_util::StreamExt;
        let sent = futures_util::stream::iter(chunks.iter().map(|c| {
            Ok(http_body::Frame::data(hyper::body::Bytes::from_static(
                c.as_bytes(),
            )))
        }));
        let stream = if then_wait {
            sent.chain(futures_util::stream::pending()).boxed()
        } else {
            sent.boxed()
        };
        http_body_util::StreamBody::new(stream)
    }

    #[tokio::test]
    async fn a_body_that_does_not_arrive_by_its_deadline_is_answered_408_and_one_that_does_is_served()
     {
        let timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let late = serve_http(
            echo(),
            http::Request::new(body(&["{\"jsonrpc\":"], true)),
            timeout,
            1 << 20,
        )
        .await;
        assert_eq!(late.status(), StatusCode::REQUEST_TIMEOUT);
        let waited = started.elapsed();
        assert!(
            waited >= timeout && waited < timeout * 10,
            "answered after {waited:?}"
        );
        let whole = serve_http(
            echo(),
            http::Request::new(body(&["{\"a\":", "1}"], false)),
            timeout,
            1 << 20,
        )
        .await;
        assert_eq!(whole.status(), StatusCode::OK);
        use http_body_util::BodyExt;
        let answer = whole.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&answer[..], b"{\"a\":1}");
    }

    #[test]
    fn ids_json_rpc_cannot_answer_to_are_found() {
        for bad in [
            r#"1e999"#,
            "1.5",
            "-1",
            "[1]",
            "{}",
            "true",
            &"9".repeat(30),
        ] {
            let call = format!(r#"{{"jsonrpc":"2.0","id":{bad},"method":"m"}}"#);
            let answer = invalid_ids(call.as_bytes()).unwrap_or_else(|| panic!("{bad}"));
            assert!(answer.contains("-32600"), "{answer}");
        }
        for good in [r#""a""#, "7", "null", "18446744073709551615"] {
            let call = format!(r#"{{"jsonrpc":"2.0","id":{good},"method":"m"}}"#);
            assert_eq!(invalid_ids(call.as_bytes()), None, "{good}");
        }
        assert_eq!(
            invalid_ids(br#"{"jsonrpc":"2.0","method":"m"}"#),
            None,
            "a notification"
        );
        let batch = br#"[{"id":-1,"method":"m"},{"id":1,"method":"m"},{"id":1.5,"method":"m"}]"#;
        let answer: serde_json::Value = serde_json::from_str(&invalid_ids(batch).unwrap()).unwrap();
        assert_eq!(answer.as_array().map(Vec::len), Some(2));
        // Only what jsonrpsee takes for a notification: the entries it answers itself (no
        // `jsonrpc`, no `method`) are not answered twice.
        let mixed = br#"[{"jsonrpc":"2.0","id":1e999,"method":"m"},{"jsonrpc":"2.0","id":1,"method":"m"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":"x","method":"m"},{"jsonrpc":"2.0","id":[2],"method":"m","params":[]},{"id":1.5,"method":"m"},{"jsonrpc":"2.0","id":[1]}]"#;
        let left_out = invalid_batch_entries(mixed);
        assert_eq!(left_out.len(), 2, "{left_out:?}");
        assert!(
            left_out
                .iter()
                .all(|e| e["error"]["code"] == -32600 && e["id"].is_null())
        );
        assert!(
            left_out[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1e999")
        );
        assert!(
            left_out[1]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("[2]")
        );
        assert!(
            invalid_batch_entries(
                br#"[{"jsonrpc":"2.0","id":1,"method":"m"},{"jsonrpc":"2.0","id":null,"method":"m"}]"#
            )
            .is_empty()
        );
        // Spliced after jsonrpsee's answers, within the response limit.
        let answer = br#"[{"jsonrpc":"2.0","id":1,"result":2}]"#;
        let spliced: serde_json::Value =
            serde_json::from_slice(&with_left_out(answer, &left_out, 1 << 20)).unwrap();
        assert_eq!(spliced.as_array().map(Vec::len), Some(3), "{spliced}");
        assert_eq!(spliced[0]["result"], 2);
        let empty: serde_json::Value =
            serde_json::from_slice(&with_left_out(b"[ ]", &left_out, 1 << 20)).unwrap();
        assert_eq!(empty.as_array().map(Vec::len), Some(2), "{empty}");
        let too_big: serde_json::Value =
            serde_json::from_slice(&with_left_out(answer, &left_out, 100)).unwrap();
        assert_eq!(too_big["error"]["code"], -32011, "{too_big}");
        let single = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32011}}"#;
        assert_eq!(with_left_out(single, &left_out, 1 << 20), single.to_vec());
        let beyond = br#" [{"id":1e999,"method":"m"}]"#;
        let answer: serde_json::Value =
            serde_json::from_str(&invalid_ids(beyond).unwrap()).unwrap();
        assert_eq!(answer[0]["error"]["code"], -32600);
    }

    #[test]
    fn subscription_ids_are_0x_hex_and_differ() {
        let (a, b) = (HexIds.next_id(), HexIds.next_id());
        let SubscriptionId::Str(text) = &a else {
            panic!("a string id: {a:?}")
        };
        assert!(text.starts_with("0x") && text.len() == 34, "{text}");
        assert_ne!(a, b);
    }
}
