//! Bad RPC input gets the documented errors: malformed JSON, wrong types, unknown methods,
//! oversized bodies, huge batches, invalid transactions; and a property test over request
//! bodies: whatever arrives, the server answers with a JSON-RPC response and keeps serving.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use aether_engine::crypto::Keypair;
use aether_engine::types::{Action, Address, Transaction};
use aether_node::chain::Chain;
use aether_node::genesis::Genesis;
use aether_node::rpc::{self, RpcContext, RpcLimits};
use aether_storage::{Store, StoreConfig};
use parity_scale_codec::Encode;
use proptest::prelude::*;
use serde_json::{Value, json};

/// The test server's cap on dry-run gas.
const DRY_RUN_GAS: u64 = 100_000;

struct Server {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let limits = RpcLimits {
        max_request_bytes: 64 * 1024,
        max_batch: 10,
        max_dry_run_gas: DRY_RUN_GAS,
        ..RpcLimits::default()
    };
    serve(limits, |pool| pool)
}

/// A dev chain with the pool's limits as `pool` sets them, served with `limits`.
fn serve(
    limits: RpcLimits,
    pool: impl FnOnce(aether_node::mempool::PoolConfig) -> aether_node::mempool::PoolConfig,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let chain = Arc::new(Chain::open_with_pool(store, Genesis::dev(), pool).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (addr, handle) = runtime
        .block_on(rpc::start(
            "127.0.0.1:0".parse().unwrap(),
            limits,
            Default::default(),
            context(chain),
        ))
        .unwrap();
    // The server runs as long as the runtime; the handle stops it when dropped otherwise.
    std::mem::forget(handle);
    Server {
        addr,
        _runtime: runtime,
        _dir: dir,
    }
}

fn context(chain: Arc<Chain>) -> RpcContext {
    RpcContext::single_node(chain)
}

/// POSTs `body` and returns the HTTP status and body.
fn post(addr: SocketAddr, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn call(addr: SocketAddr, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, text) = post(addr, body.to_string().as_bytes());
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn code(v: &Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error: {v}"))
}

#[test]
fn malformed_requests_get_the_standard_codes() {
    let s = server();
    let (_, body) = post(s.addr, b"{not json");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code(&v), -32700, "parse error");

    assert_eq!(code(&call(s.addr, "no_suchMethod", json!([]))), -32601);
    let wrong = call(s.addr, "chain_getBlockByHeight", json!(["seven"]));
    assert_eq!(code(&wrong), -32602);
    let bad_address = call(s.addr, "state_getBalance", json!(["0x12"]));
    assert_eq!(code(&bad_address), -32602);
    assert!(
        bad_address["error"]["message"]
            .as_str()
            .unwrap()
            .contains("address")
    );
    let missing = call(s.addr, "state_getAccount", json!([]));
    assert_eq!(code(&missing), -32602);
    let filter = call(s.addr, "chain_getLogs", json!([{"bogus": 1}]));
    assert!(
        filter["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bogus")
    );
    let limit = call(s.addr, "chain_getLogs", json!([{"limit": 1_000_000}]));
    assert_eq!(code(&limit), -32602);
}

#[test]
fn oversized_bodies_and_batches_are_refused() {
    let s = server();
    let huge =
        json!({"jsonrpc":"2.0","id":1,"method":"system_info","params":["x".repeat(100_000)]});
    let (status, _) = post(s.addr, huge.to_string().as_bytes());
    assert_eq!(status, 413, "body over the limit");

    let batch: Vec<Value> = (0..11)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"system_health","params":[]}))
        .collect();
    let (status, body) = post(s.addr, Value::Array(batch).to_string().as_bytes());
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["error"]["code"].as_i64(),
        Some(-32010),
        "batch over the limit, as documented: {v}"
    );

    let batch: Vec<Value> = (0..10)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"system_health","params":[]}))
        .collect();
    let (_, body) = post(s.addr, Value::Array(batch).to_string().as_bytes());
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(10),
        "a batch at the limit is served"
    );
}

#[test]
fn invalid_transactions_get_their_application_codes() {
    let s = server();
    let alice = Keypair::dev("alice", false);
    let tx = |t: Transaction| format!("0x{}", hex::encode(alice.sign_tx(t).encode()));
    let base = Transaction {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 50_000,
        gas_price: 1,
        action: Action::Transfer {
            to: Address([2; 32]),
            amount: 1,
        },
    };
    let submit = |hex: String| call(s.addr, "author_submitTransaction", json!([hex]));
    assert_eq!(code(&submit("0x0102".into())), -32026, "garbage");
    assert_eq!(code(&submit("nothex".into())), -32602);
    assert_eq!(
        code(&submit(tx(Transaction {
            chain_id: 1,
            ..base.clone()
        }))),
        -32012
    );
    let mut forged = alice.sign_tx(base.clone());
    forged.tx.nonce = 5;
    assert_eq!(
        code(&submit(format!("0x{}", hex::encode(forged.encode())))),
        -32013
    );
    assert_eq!(
        code(&submit(tx(Transaction {
            gas_limit: 10,
            ..base.clone()
        }))),
        -32019
    );
    let ok = submit(tx(base.clone()));
    assert!(ok["result"].as_str().is_some(), "{ok}");
    assert_eq!(code(&submit(tx(base.clone()))), -32016, "duplicate");
    let pending = call(s.addr, "author_pendingCount", json!([]));
    assert_eq!(pending["result"]["ready"], 1);
}

/// A server whose pool holds at most 6 transactions, 3 per sender, 2 behind a gap, and 2 KiB
/// per transaction: small enough to fill from a test.
fn small_pool_server() -> Server {
    serve(RpcLimits::default(), |pool| {
        aether_node::mempool::PoolConfig {
            max_txs: 6,
            max_per_sender: 3,
            max_future: 2,
            max_tx_bytes: 2048,
            ..pool
        }
    })
}

/// Every pool refusal the docs list is what a request gets (nonce too low, which needs a
/// committed block, is in `rpc_connections`; storage failures, engine faults and internal
/// errors, which no request to a healthy node can cause, are checked where they are mapped).
#[test]
fn every_pool_refusal_answers_its_documented_code() {
    let s = small_pool_server();
    let transfer = |key: &Keypair, nonce: u64, gas_price: u128, amount: u128| {
        let t = Transaction {
            chain_id: 1337,
            nonce,
            gas_limit: 50_000,
            gas_price,
            action: Action::Transfer {
                to: Address([2; 32]),
                amount,
            },
        };
        format!("0x{}", hex::encode(key.sign_tx(t).encode()))
    };
    let submit = |hex: String| call(s.addr, "author_submitTransaction", json!([hex]));
    let ok = |v: Value| assert!(v["result"].is_string(), "{v}");
    let alice = Keypair::dev("alice", false);
    let bob = Keypair::dev("bob", false);

    let big = alice.sign_tx(Transaction {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 1_000_000,
        gas_price: 1,
        action: Action::UploadCode {
            code: vec![0; 3000],
        },
    });
    let big = format!("0x{}", hex::encode(big.encode()));
    assert_eq!(code(&submit(big)), -32011, "over the pool's 2 KiB");
    assert_eq!(code(&submit(transfer(&alice, 0, 0, 1))), -32017, "price 0");
    let too_much_gas = alice.sign_tx(Transaction {
        chain_id: 1337,
        nonce: 0,
        gas_limit: Genesis::dev().block_gas_limit + 1,
        gas_price: 1,
        action: Action::Transfer {
            to: Address([2; 32]),
            amount: 1,
        },
    });
    assert_eq!(
        code(&submit(format!("0x{}", hex::encode(too_much_gas.encode())))),
        -32020
    );
    let pauper = Keypair::dev("nobody-funded-this", false);
    assert_eq!(code(&submit(transfer(&pauper, 0, 1, 1))), -32021);
    assert_eq!(
        code(&submit(transfer(&alice, 100, 1, 1))),
        -32015,
        "far ahead"
    );

    ok(submit(transfer(&alice, 0, 1, 1)));
    assert_eq!(
        code(&submit(transfer(&alice, 0, 1, 2))),
        -32018,
        "a replacement paying no more"
    );
    ok(submit(transfer(&alice, 1, 1, 1)));
    ok(submit(transfer(&alice, 2, 1, 1)));
    assert_eq!(
        code(&submit(transfer(&alice, 3, 1, 1))),
        -32022,
        "alice's 4th"
    );

    // Behind a gap: bob's nonces 5 and 6 wait; charlie's waiting one, paying no more, finds no
    // room among them.
    ok(submit(transfer(&bob, 5, 1, 1)));
    ok(submit(transfer(&bob, 6, 1, 1)));
    let charlie = Keypair::dev("charlie", false);
    assert_eq!(
        code(&submit(transfer(&charlie, 5, 1, 1))),
        -32024,
        "future full"
    );

    // A pool full of ready transactions: a newcomer paying no more replaces no one (a ready
    // newcomer would push out a waiting one, so this pool holds none).
    let full = small_pool_server();
    let submit_full = |hex: String| call(full.addr, "author_submitTransaction", json!([hex]));
    for (name, nonces) in [("alice", 0..3), ("eve", 0..2), ("ferdie", 0..1)] {
        let key = Keypair::dev(name, false);
        for nonce in nonces {
            ok(submit_full(transfer(&key, nonce, 1, 1)));
        }
    }
    let dave = Keypair::dev("dave", false);
    assert_eq!(
        code(&submit_full(transfer(&dave, 0, 1, 1))),
        -32023,
        "pool full"
    );

    let beyond = call(
        s.addr,
        "state_getAccount",
        json!([alice.address().to_string(), 1_000_000]),
    );
    assert_eq!(code(&beyond), -32030, "state of a height not committed");
}

/// Requests that could only fail or mislead are refused with a reason: a storage key longer
/// than any a contract can write, a log range that ends before it starts.
#[test]
fn storage_keys_and_log_ranges_are_validated() {
    let s = server();
    let long_key = format!("0x{}", "ab".repeat(aether_engine::vm::MAX_STORAGE_KEY + 1));
    let r = call(
        s.addr,
        "state_getStorage",
        json!([format!("0x{}", "01".repeat(32)), long_key]),
    );
    assert_eq!(code(&r), -32602, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 256")
    );
    let r = call(
        s.addr,
        "chain_getLogs",
        json!([{"fromHeight": 5, "toHeight": 2}]),
    );
    assert_eq!(code(&r), -32602, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("above filter.toHeight")
    );
}

#[test]
fn the_docs_document_exactly_the_interfaces_methods_and_each_is_served() {
    let docs = include_str!("../../docs/rpc.md");
    let documented: std::collections::BTreeSet<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(str::trim)
        .collect();
    // The methods the typed interface (AetherApi) registers, less the unsubscribe methods
    // (documented with their subscriptions).
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let chain = Arc::new(Chain::open(store, Genesis::dev()).unwrap());
    let module = rpc::module(context(chain), &RpcLimits::default());
    let unsubscribe: Vec<&str> = rpc::SUBSCRIPTIONS.iter().map(|(_, u)| *u).collect();
    let served: std::collections::BTreeSet<&str> = module
        .method_names()
        .filter(|m| !unsubscribe.contains(m))
        .collect();
    assert_eq!(
        documented, served,
        "docs/rpc.md and the AetherApi trait differ"
    );
    let listed: std::collections::BTreeSet<&str> = rpc::METHODS.iter().copied().collect();
    assert_eq!(
        listed, served,
        "rpc::METHODS and the AetherApi trait differ"
    );
    for (sub, unsub) in rpc::SUBSCRIPTIONS {
        assert!(
            docs.contains(unsub),
            "docs/rpc.md names {unsub} beside {sub}"
        );
    }
    let s = server();
    for m in served.iter().filter(|m| !m.contains("subscribe")) {
        let v = call(s.addr, m, json!([]));
        assert_ne!(v["error"]["code"], -32601, "{m} is not served: {v}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_request_body_gets_a_json_rpc_answer(
        method in prop_oneof![
            Just("state_getAccount".to_string()),
            Just("chain_getLogs".to_string()),
            Just("author_submitTransaction".to_string()),
            Just("contract_dryRun".to_string()),
            Just("state_getStorage".to_string()),
            Just("chain_getBlockByHash".to_string()),
            "[a-z_A-Z]{0,20}",
        ],
        params in proptest::collection::vec(
            prop_oneof![
                any::<i64>().prop_map(|n| json!(n)),
                "0x[0-9a-f]{0,80}".prop_map(|s| json!(s)),
                ".{0,30}".prop_map(|s| json!(s)),
                Just(json!(null)),
                Just(json!({"contract": "0x00", "topics": [1]})),
                Just(json!([[]])),
            ],
            0..4,
        ),
        garbage in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        thread_local! {
            static SERVER: Server = server();
        }
        SERVER.with(|s| {
            let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
            let (status, text) = post(s.addr, body.to_string().as_bytes());
            prop_assert_eq!(status, 200);
            let v: Value = serde_json::from_str(&text).unwrap();
            prop_assert!(v.get("result").is_some() || v["error"]["code"].is_i64(), "{}", v);
            let (status, _) = post(s.addr, &garbage);
            prop_assert!(status == 200 || (400..500).contains(&status), "status {}", status);
            // Still serving.
            let health = call(s.addr, "system_health", json!([]));
            prop_assert!(health["result"].is_object());
            Ok(())
        })?;
    }
}

/// Dry runs are free, so they are capped: a dry run asking for more gas than the node's cap
/// runs with the cap (and ends out of gas when it needs more), whatever it asks.
#[test]
fn a_dry_run_uses_at_most_the_nodes_gas_cap() {
    let s = server();
    let alice = Keypair::dev("alice", false);
    // An upload of 4 KiB costs about 260,000 gas, over the test server's cap of 100,000.
    let upload = Action::UploadCode {
        code: vec![0; 4096],
    };
    let action = format!("0x{}", hex::encode(upload.encode()));
    let r = call(
        s.addr,
        "contract_dryRun",
        json!([alice.address().to_string(), action, 50_000_000u64]),
    );
    assert_eq!(r["result"]["status"], "out_of_gas", "{r}");
    assert_eq!(r["result"]["gasUsed"], DRY_RUN_GAS);
    // Within the cap, a dry run is exact as before.
    let transfer = Action::Transfer {
        to: Address([2; 32]),
        amount: 1,
    };
    let action = format!("0x{}", hex::encode(transfer.encode()));
    let r = call(
        s.addr,
        "contract_dryRun",
        json!([alice.address().to_string(), action]),
    );
    assert_eq!(r["result"]["status"], "success", "{r}");
}

#[test]
fn ids_json_rpc_cannot_answer_to_and_subscriptions_over_http_get_their_codes() {
    let s = server();
    for id in [
        "1e999",
        "1606938044258990275541962092341162602522202993782792835301376",
        "1.5",
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"system_health","params":[]}}"#);
        let (status, answer) = post(s.addr, body.as_bytes());
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert_eq!(code(&v), -32600, "id {id}: {v}");
        assert!(v["id"].is_null(), "{v}");
    }
    // In a batch with other calls, each such entry gets its -32600 beside the others' answers.
    let (status, answer) = post(
        s.addr,
        br#"[{"jsonrpc":"2.0","id":1e999,"method":"system_health","params":[]},
             {"jsonrpc":"2.0","id":7,"method":"system_health","params":[]},
             {"jsonrpc":"2.0","id":1.5,"method":"system_health","params":[]}]"#,
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    let answers = v
        .as_array()
        .unwrap_or_else(|| panic!("a batch answer: {v}"));
    assert_eq!(answers.len(), 3, "{v}");
    assert_eq!(
        answers
            .iter()
            .filter(|a| a["id"] == 7 && a["result"].is_object())
            .count(),
        1,
        "{v}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|a| a["id"].is_null() && code(a) == -32600)
            .count(),
        2,
        "{v}"
    );
    // A notification (no id) is still answered with nothing to say.
    let (_, answer) = post(
        s.addr,
        br#"{"jsonrpc":"2.0","method":"system_health","params":[]}"#,
    );
    assert_eq!(answer, "null");
    let sub = call(s.addr, "chain_subscribeNewHeads", json!([]));
    assert_eq!(code(&sub), -32035, "{sub}");
    assert!(
        sub["error"]["message"]
            .as_str()
            .unwrap()
            .contains("WebSocket")
    );
}

#[test]
fn a_batch_of_submissions_answers_each_call_as_if_alone_and_in_order() {
    let s = server();
    let signed = |key: &Keypair, nonce: u64, chain_id: u64| {
        let t = Transaction {
            chain_id,
            nonce,
            gas_limit: 50_000,
            gas_price: 1,
            action: Action::Transfer {
                to: Address([2; 32]),
                amount: 1,
            },
        };
        format!("0x{}", hex::encode(key.sign_tx(t).encode()))
    };
    let (alice, bob) = (Keypair::dev("alice", false), Keypair::dev("bob", false));
    let txs = [
        signed(&alice, 0, 1337),
        signed(&alice, 1, 1337),
        "0x0102".to_string(),
        signed(&bob, 0, 7),
        signed(&alice, 2, 1337),
        signed(&alice, 0, 1337),
        "not hex".to_string(),
        signed(&bob, 0, 1337),
    ];
    let batch: Vec<Value> = txs
        .iter()
        .enumerate()
        .map(|(i, tx)| json!({"jsonrpc":"2.0","id":i,"method":"author_submitTransaction","params":[tx]}))
        .collect();
    let (status, body) = post(s.addr, Value::Array(batch).to_string().as_bytes());
    assert_eq!(status, 200);
    let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(answers.len(), txs.len(), "{body}");
    let outcome = |i: usize| {
        let a = answers
            .iter()
            .find(|a| a["id"] == i)
            .expect("an answer per id");
        a["error"]["code"].as_i64().unwrap_or(0)
    };
    // 0: admitted; 1 and 4 follow it; 2 malformed; 3 another chain; 5 a duplicate of 0; 6 not
    // hex; 7 admitted.
    let expected = [0, 0, -32026, -32012, 0, -32016, -32602, 0];
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(outcome(i), *want, "call {i}: {body}");
    }
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer["id"], i, "answers keep the batch's order: {body}");
    }
    let pending = call(s.addr, "author_pendingCount", json!([]));
    assert_eq!(pending["result"]["ready"], 4, "{pending}");
}
