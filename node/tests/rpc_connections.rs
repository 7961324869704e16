//! The RPC server's front door against a real node process: idle WebSockets lock out neither
//! HTTP clients nor, after the idle timeout, new WebSocket clients; WebSockets and HTTP have
//! budgets of their own; every refusal is answered, counted and logged; `/health`, CORS and the
//! method policy (`--rpc-methods`) behave as documented.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Node, http_get, rpc};
use jsonrpsee_core::client::{ClientT, SubscriptionClientT};
use jsonrpsee_core::rpc_params;
use serde_json::Value;

/// Opens a WebSocket by hand and never reads from it again; the HTTP status of the handshake
/// (101 when it opened) and the stream (to keep it open).
fn raw_websocket(addr: &str) -> (u16, String, TcpStream) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    // The answer's head (and, for a refusal, its short body).
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
        answer.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&answer).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut body = String::new();
    if status != 101 {
        let _ = s.read_to_string(&mut body);
    }
    (status, body, s)
}

/// A metric's value from the node's metrics endpoint (0 when absent).
fn metric(node: &Node, series: &str) -> f64 {
    let text = http_get(node.metrics.as_ref().expect("metrics on"), "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn host(node: &Node) -> String {
    node.rpc.trim_start_matches("http://").to_string()
}

#[test]
fn idle_websockets_lock_out_neither_http_nor_a_new_websocket_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let idle = Duration::from_secs(3);
    let node = Node::start_with(&[
        "--dev",
        "--base-path",
        dir.path().to_str().unwrap(),
        "--rpc-ws-idle-timeout",
        "3",
    ]);
    let addr = host(&node);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ws_url = node.rpc.replace("http://", "ws://");

    // A well-behaved subscriber (its client answers pings) outlives the idle timeout.
    let (subscriber, mut heads) = runtime.block_on(async {
        let ws = jsonrpsee_ws_client::WsClientBuilder::default()
            .build(&ws_url)
            .await
            .expect("websocket");
        let sub = ws
            .subscribe::<Value, _>(
                "chain_subscribeNewHeads",
                rpc_params![],
                "chain_unsubscribeNewHeads",
            )
            .await
            .expect("subscribe");
        (ws, sub)
    });

    // 100 WebSockets opened and never read: one address gets 31 more (32 with the subscriber's),
    // the rest are refused with a reason.
    let started = Instant::now();
    let mut idle_sockets = Vec::new();
    let (mut opened, mut refused) = (0, 0);
    for _ in 0..100 {
        let (status, body, stream) = raw_websocket(&addr);
        match status {
            101 => {
                opened += 1;
                idle_sockets.push(stream);
            }
            429 => {
                refused += 1;
                assert!(body.contains("--rpc-max-ws-per-ip"), "{body}");
            }
            other => panic!("handshake answered {other}: {body}"),
        }
    }
    assert_eq!(
        (opened, refused),
        (31, 69),
        "the per-address WebSocket budget"
    );

    // HTTP is served at once, and so is a WebSocket from another client's budget... which on
    // one loopback address is this one: refused while the idle ones hold it.
    let health = rpc(&node.rpc, "system_health", vec![]);
    assert!(health["bestHeight"].is_u64(), "{health}");
    assert!(
        started.elapsed() < idle,
        "HTTP answered within the idle timeout"
    );
    let (status, _, _) = raw_websocket(&addr);
    assert_eq!(status, 429, "the address's WebSockets are all taken");

    // Within the idle timeout (plus one ping period of slack) the idle ones are closed and a new
    // WebSocket client is served.
    let deadline = started + idle + Duration::from_secs(3);
    let newcomer = loop {
        let attempt = runtime.block_on(
            jsonrpsee_ws_client::WsClientBuilder::default()
                .connection_timeout(Duration::from_secs(5))
                .build(&ws_url),
        );
        if let Ok(ws) = attempt {
            break ws;
        }
        assert!(
            Instant::now() < deadline,
            "no new WebSocket was served {:?} after the idle ones opened: {}",
            started.elapsed(),
            node.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let info: Value = runtime
        .block_on(newcomer.request("system_info", rpc_params![]))
        .expect("the newcomer is served");
    assert_eq!(info["name"], "aether");
    // The idle sockets were closed by the node: reading one ends.
    let mut idle_one = idle_sockets.pop().unwrap();
    idle_one
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut sink = Vec::new();
    let _ = idle_one.read_to_end(&mut sink);

    // The subscriber is still served, after more than the idle timeout.
    assert!(subscriber.is_connected(), "the pinged subscriber stays");
    runtime.block_on(async {
        let head = tokio::time::timeout(Duration::from_secs(5), heads.next())
            .await
            .expect("a head within 5 s")
            .expect("the subscription is open")
            .expect("a head");
        assert!(head["height"].is_u64(), "{head}");
    });

    // Every refusal was counted and logged.
    let hits = metric(
        &node,
        "aether_rpc_limit_hits_total{limit=\"ws_connections_per_ip\"}",
    );
    assert!(hits >= 70.0, "refusals counted: {hits}");
    assert!(
        node.wait_for_log("RPC limit reached", 5).is_some(),
        "the refusal is logged"
    );
    drop(idle_sockets);
    node.stop();
}

#[test]
fn websockets_filling_their_budget_leave_http_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(&[
        "--dev",
        "--base-path",
        dir.path().to_str().unwrap(),
        "--rpc-max-connections",
        "5",
    ]);
    let addr = host(&node);
    let held: Vec<TcpStream> = (0..5)
        .map(|i| {
            let (status, body, s) = raw_websocket(&addr);
            assert_eq!(status, 101, "WebSocket {i}: {body}");
            s
        })
        .collect();
    let (status, body, _) = raw_websocket(&addr);
    assert_eq!(status, 429);
    assert!(body.contains("--rpc-max-connections"), "{body}");
    // HTTP is served, many requests at once included, beyond the WebSocket budget.
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let url = node.rpc.clone();
            std::thread::spawn(move || rpc(&url, "chain_getHead", vec![]))
        })
        .collect();
    for c in callers {
        assert!(c.join().unwrap()["height"].is_u64());
    }
    assert_eq!(
        metric(&node, "aether_rpc_connections{transport=\"ws\"}"),
        5.0
    );
    assert!(
        metric(
            &node,
            "aether_rpc_limit_hits_total{limit=\"ws_connections\"}"
        ) >= 1.0
    );
    drop(held);
    node.stop();
}

#[test]
fn health_endpoints_cors_and_the_method_policy_are_served_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(&[
        "--dev",
        "--base-path",
        dir.path().to_str().unwrap(),
        "--rpc-cors",
        "http://localhost:*,https://app.example",
        "--rpc-methods",
        "safe",
    ]);
    let addr = host(&node);

    let health = http_get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body: Value = serde_json::from_str(health.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["isSyncing"], false, "{body}");
    let ready = http_get(&addr, "/health/readiness");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    // A browser's preflight from an allowed origin gets CORS headers; a foreign origin is
    // refused outright.
    let preflight = request(
        &addr,
        "OPTIONS / HTTP/1.1\r\nOrigin: http://localhost:5173\r\n\
         Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n",
        "",
    );
    assert!(preflight.starts_with("HTTP/1.1 200"), "{preflight}");
    assert!(
        preflight
            .to_lowercase()
            .contains("access-control-allow-origin: http://localhost:5173"),
        "{preflight}"
    );
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"chain_getFinalizedHeight","params":[]}"#;
    let allowed = request(
        &addr,
        "POST / HTTP/1.1\r\nOrigin: https://app.example\r\nContent-Type: application/json\r\n",
        call,
    );
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    assert!(
        allowed
            .to_lowercase()
            .contains("access-control-allow-origin: https://app.example"),
        "{allowed}"
    );
    let foreign = request(
        &addr,
        "POST / HTTP/1.1\r\nOrigin: https://evil.example\r\nContent-Type: application/json\r\n",
        call,
    );
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    assert!(foreign.contains("--rpc-cors"), "{foreign}");

    // `--rpc-methods safe`: the operator's methods are refused with their code, the CLI says
    // how to get them, and the refusal is counted by method and outcome.
    let peers = post_json(&addr, r#"{"jsonrpc":"2.0","id":1,"method":"system_peers"}"#);
    assert_eq!(peers["error"]["code"], -32034, "{peers}");
    let out = common::aether(&["peers", "--rpc", &node.rpc]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--rpc-methods unsafe"), "{stderr}");
    assert!(
        metric(
            &node,
            "aether_rpc_requests_total{method=\"system_peers\",outcome=\"-32034\"}"
        ) >= 2.0
    );
    assert!(
        metric(
            &node,
            "aether_rpc_requests_total{method=\"chain_getFinalizedHeight\",outcome=\"ok\"}"
        ) >= 1.0
    );
    assert!(metric(&node, "aether_process_resident_memory_bytes") > 1e6);
    node.stop();
}

/// Sends a raw HTTP request (`head` without its final blank line) and returns the whole answer.
fn request(addr: &str, head: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{head}Host: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn post_json(addr: &str, body: &str) -> Value {
    let answer = request(
        addr,
        "POST / HTTP/1.1\r\nContent-Type: application/json\r\n",
        body,
    );
    serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"))
}

#[test]
fn a_flood_of_max_gas_dry_runs_leaves_blocks_and_health_answering() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(&[
        "--dev",
        "--base-path",
        dir.path().to_str().unwrap(),
        "--rpc-max-dry-run-gas",
        "3000000",
    ]);
    // A contract whose method spins until its gas runs out.
    let wat = dir.path().join("spin.wat");
    std::fs::write(
        &wat,
        r#"(module (memory (export "memory") 1) (func (export "spin") (loop $l (br $l))))"#,
    )
    .unwrap();
    let deployed = common::json_of(&common::aether(&[
        "contract",
        "deploy",
        "--wasm",
        wat.to_str().unwrap(),
        "--from",
        "//alice",
        "--rpc",
        &node.rpc,
        "--json",
    ]));
    let contract = deployed["contract"].as_str().unwrap().to_string();
    // Alice's deploy used her nonces 0 and 1: a transaction with nonce 0 is too low.
    let stale = aether_engine::crypto::Keypair::dev("alice", false).sign_tx(
        aether_engine::types::Transaction {
            chain_id: 1337,
            nonce: 0,
            gas_limit: 50_000,
            gas_price: 1,
            action: aether_engine::types::Action::Transfer {
                to: aether_engine::types::Address([2; 32]),
                amount: 1,
            },
        },
    );
    let stale = post_json(
        &host(&node),
        &format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"author_submitTransaction","params":["0x{}"]}}"#,
            hex::encode(parity_scale_codec::Encode::encode(&stale))
        ),
    );
    assert_eq!(stale["error"]["code"], -32014, "{stale}");
    let action = aether_engine::types::Action::Call {
        contract: contract.parse().unwrap(),
        method: "spin".into(),
        input: vec![],
        value: 0,
    };
    let action = format!(
        "0x{}",
        hex::encode(parity_scale_codec::Encode::encode(&action))
    );
    let alice = aether_engine::crypto::Keypair::dev("alice", false)
        .address()
        .to_string();
    let height = |url: &str| {
        rpc(url, "chain_getHead", vec![])["height"]
            .as_u64()
            .unwrap()
    };

    // 8 clients ask for max-gas dry runs as fast as they are answered, for 4 seconds.
    let flood_for = Duration::from_secs(4);
    let started = Instant::now();
    let before = height(&node.rpc);
    let flooders: Vec<_> = (0..8)
        .map(|_| {
            let (addr, action, alice) = (host(&node), action.clone(), alice.clone());
            std::thread::spawn(move || {
                let (mut ran, mut busy) = (0, 0);
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"contract_dryRun","params":["{alice}","{action}",30000000]}}"#
                );
                while started.elapsed() < flood_for {
                    let answer = post_json(&addr, &body);
                    match answer["error"]["code"].as_i64() {
                        None => {
                            assert_eq!(answer["result"]["status"], "out_of_gas", "{answer}");
                            assert_eq!(answer["result"]["gasUsed"], 3_000_000, "{answer}");
                            ran += 1;
                        }
                        Some(-32033) => busy += 1,
                        Some(other) => panic!("dry run answered {other}: {answer}"),
                    }
                }
                (ran, busy)
            })
        })
        .collect();
    // Meanwhile, health answers promptly.
    let mut slowest = Duration::ZERO;
    while started.elapsed() < flood_for {
        let asked = Instant::now();
        let health = rpc(&node.rpc, "system_health", vec![]);
        assert!(health["bestHeight"].is_u64());
        slowest = slowest.max(asked.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (mut ran, mut busy) = (0, 0);
    for f in flooders {
        let (r, b) = f.join().unwrap();
        ran += r;
        busy += b;
    }
    let sealed = height(&node.rpc) - before;
    let elapsed = started.elapsed();
    eprintln!(
        "flood: {ran} dry runs ran, {busy} refused busy; {sealed} blocks in {elapsed:.1?}; slowest health {slowest:?}"
    );
    assert!(ran > 0 && busy > 0, "the flood ran and hit the limit");
    assert!(
        slowest < Duration::from_secs(1),
        "system_health took {slowest:?} under the flood"
    );
    // Blocks every 100 ms: at least a quarter of them are sealed under the flood.
    assert!(
        sealed as f64 >= elapsed.as_secs_f64() * 10.0 / 4.0,
        "{sealed} blocks in {elapsed:?}"
    );
    node.stop();
}
