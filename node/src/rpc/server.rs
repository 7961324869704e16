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

/// Longest an HTTP request may take, from its headers to its answer (a body sent slowly, a
/// call that does not finish).
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
    let policy = |transport| PolicyLayer {
        transport,
        allow_unsafe,
        max_response_bytes: limits.max_response_bytes as usize,
        metrics: ctx.metrics.clone(),
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
            let Some(tcp) = front.door.open(Kind::Tcp, ip) else {
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
            let service =
                tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (front, plain) = (front.clone(), plain.clone());
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
                        let Some(_serving) = door.open(Kind::Http, ip) else {
                            let limit = if door.http_here(ip) >= door.limits.max_http_per_ip {
                                Limit::HttpPerIp
                            } else {
                                Limit::HttpRequests
                            };
                            let reason = door.refused(limit, ip);
                            return text(StatusCode::TOO_MANY_REQUESTS, reason);
                        };
                        // A request (its body included) is served within REQUEST_TIMEOUT, so
                        // that one sent slowly cannot hold its place for ever.
                        let served = if origin.is_some() {
                            let cors = front
                                .http_cors
                                .clone()
                                .build(front.methods.clone(), front.stop.clone());
                            tokio::time::timeout(REQUEST_TIMEOUT, serve_http(cors, request)).await
                        } else {
                            tokio::time::timeout(REQUEST_TIMEOUT, serve_http(plain, request)).await
                        };
                        served.unwrap_or_else(|_| {
                            text(
                                StatusCode::REQUEST_TIMEOUT,
                                format!(
                                    "the request was not received and answered within {} s",
                                    REQUEST_TIMEOUT.as_secs()
                                ),
                            )
                        })
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
    Http,
}

/// Connections open from one address.
#[derive(Default)]
struct Open {
    tcp: u32,
    ws: u32,
    http: u32,
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

    /// A TCP connection's place (per address) or an HTTP request's (in all).
    fn open(self: &Arc<Self>, kind: Kind, ip: IpAddr) -> Option<Slot> {
        match kind {
            Kind::Tcp => {
                let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
                let here = open.entry(ip).or_default();
                if here.tcp + here.ws >= self.limits.max_connections_per_ip {
                    return None;
                }
                here.tcp += 1;
            }
            Kind::Http => {
                let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
                let here = open.entry(ip).or_default();
                if here.http >= self.limits.max_http_per_ip {
                    return None;
                }
                take(&self.http, self.limits.max_http_requests)?;
                here.http += 1;
                self.http_gauge.inc();
            }
            Kind::Ws => unreachable!("WebSockets open through open_ws"),
        }
        Some(Slot {
            door: self.clone(),
            ip,
            kind,
        })
    }

    /// HTTP requests of `ip` being served.
    fn http_here(&self, ip: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&ip).map_or(0, |o| o.http)
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
        match self.kind {
            Kind::Http => {
                door.http.fetch_sub(1, Ordering::AcqRel);
                door.http_gauge.dec();
            }
            Kind::Ws => {
                door.ws.fetch_sub(1, Ordering::AcqRel);
                door.ws_gauge.dec();
            }
            Kind::Tcp => {}
        }
        let mut open = door.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(here) = open.get_mut(&self.ip) {
            match self.kind {
                Kind::Tcp => here.tcp = here.tcp.saturating_sub(1),
                Kind::Ws => here.ws = here.ws.saturating_sub(1),
                Kind::Http => here.http = here.http.saturating_sub(1),
            }
            if here.tcp == 0 && here.ws == 0 && here.http == 0 {
                open.remove(&self.ip);
            }
        }
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

/// Serves an HTTP request. The body's chunks are kept (shared, not copied) as jsonrpsee reads
/// them, so that a request whose id jsonrpsee cannot hold (`1e999`, `2^200`, `1.5`, `[1]`),
/// which it would answer as a notification with a bare `null`, gets the JSON-RPC answer
/// instead: `-32600` with id null.
async fn serve_http<S>(
    mut service: S,
    request: http::Request<hyper::body::Incoming>,
) -> HttpResponse
where
    S: Service<http::Request<Recorded>, Response = HttpResponse, Error = BoxError>,
{
    use http_body_util::BodyExt;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let request = request.map(|body| Recorded {
        body,
        seen: seen.clone(),
    });
    let response = internal(service.call(request).await);
    if http_body::Body::size_hint(response.body()).exact() != Some(4) {
        return response;
    }
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
    let bytes: Vec<u8> = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .flat_map(|chunk| chunk.iter().copied())
        .collect();
    let body = match (&answer[..], invalid_ids(&bytes)) {
        (b"null", Some(errors)) => HttpBody::from(errors),
        _ => HttpBody::new(http_body_util::Full::new(answer)),
    };
    HttpResponse::from_parts(parts, body)
}

/// A request body that keeps the chunks it yields (each a shared [`hyper::body::Bytes`]).
struct Recorded {
    body: hyper::body::Incoming,
    seen: Arc<Mutex<Vec<hyper::body::Bytes>>>,
}

impl http_body::Body for Recorded {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(data.clone());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The answer to a request (or batch) whose ids are not ones JSON-RPC can answer to: a string,
/// an integer this server holds (0 to 2^64-1) or null. None if every id is one. Called only on
/// a request jsonrpsee answered as a notification: one that is not even a JSON value here
/// (`1e999` is beyond an f64) had such an id.
fn invalid_ids(request: &[u8]) -> Option<String> {
    let valid = |id: &serde_json::Value| id.is_null() || id.is_string() || id.is_u64();
    let error = |id: &serde_json::Value| {
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
    };
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
    metrics: Arc<Metrics>,
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
            self.metrics.clone(),
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
        let t1 = door.open(Kind::Tcp, ip).unwrap();
        let _t2 = door.open(Kind::Tcp, ip).unwrap();
        assert!(door.open(Kind::Tcp, ip).is_none());
        assert!(door.open(Kind::Tcp, "10.0.0.9".parse().unwrap()).is_some());
        drop(t1);
        assert!(door.open(Kind::Tcp, ip).is_some());
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
        let first = door.open(Kind::Http, a).unwrap();
        let _second = door.open(Kind::Http, a).unwrap();
        assert!(door.open(Kind::Http, a).is_none());
        assert_eq!(door.http_here(a), 2);
        assert!(
            door.open(Kind::Http, b).is_some(),
            "another address is served"
        );
        drop(first);
        assert!(door.open(Kind::Http, a).is_some());
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
        let h = door
            .open(Kind::Http, ip)
            .expect("a full WebSocket budget leaves HTTP alone");
        assert!(door.open(Kind::Http, ip).is_none());
        drop(h);
        assert!(door.open(Kind::Http, ip).is_some());
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
