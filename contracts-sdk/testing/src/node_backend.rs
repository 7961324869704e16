//! The node backend of [`crate::TestEnv`] (feature `node`): the same test code against a
//! running `aether run --dev` over JSON-RPC. Transactions are signed with the dev keys of
//! [`crate::ALICE`], [`crate::BOB`] and [`crate::CHARLIE`] (`//alice`, `//bob`, `//charlie`,
//! funded by the dev genesis), submitted, and waited for; queries are dry runs at the head.

use std::time::{Duration, Instant};

use aether_engine::crypto::Keypair;
use aether_engine::types::{self as engine, Action, Status, Transaction};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use serde_json::{Value, json};

use crate::{Address, EmittedEvent, Outcome};

/// How long a transaction may take to reach a block.
const INCLUSION_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct NodeBackend {
    url: String,
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
    chain_id: u64,
    keys: Vec<Keypair>,
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn bytes(v: &Value, what: &str) -> Vec<u8> {
    v.as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_else(|| panic!("the node returned a {what} that is not 0x hex: {v}"))
}

fn bytes32(v: &Value, what: &str) -> [u8; 32] {
    bytes(v, what)
        .try_into()
        .unwrap_or_else(|_| panic!("the node returned a {what} that is not 32 bytes: {v}"))
}

fn status(s: &str) -> Status {
    match s {
        "success" => Status::Success,
        "revert" => Status::Revert,
        "out_of_gas" => Status::OutOfGas,
        "trap" => Status::Trap,
        "invalid_module" => Status::InvalidModule,
        "rejected" => Status::Rejected,
        other => panic!("the node returned an unknown status `{other}`"),
    }
}

/// A receipt as the node's JSON shows it.
fn outcome(r: &Value) -> Outcome {
    Outcome {
        status: status(r["status"].as_str().unwrap_or_default()),
        gas_used: r["gasUsed"].as_u64().unwrap_or_default(),
        return_data: bytes(&r["return"], "return value"),
        events: r["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| EmittedEvent {
                        contract: Address(bytes32(&e["contract"], "event contract")),
                        topics: e["topics"]
                            .as_array()
                            .map(|t| t.iter().map(|t| bytes32(t, "topic")).collect())
                            .unwrap_or_default(),
                        data: bytes(&e["data"], "event data"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        error: r["error"].as_str().map(str::to_string),
        created: r
            .get("created")
            .filter(|c| !c.is_null())
            .map(|c| Address(bytes32(c, "created"))),
    }
}

impl NodeBackend {
    /// Connects to the node at `url` and reads its chain id.
    pub(crate) fn connect(url: &str) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("a runtime for the RPC client: {e}"))?;
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(url)
            .map_err(|e| format!("{url}: {e}"))?;
        let mut backend = Self {
            url: url.to_string(),
            runtime,
            client,
            chain_id: 0,
            keys: ["alice", "bob", "charlie"]
                .iter()
                .map(|n| Keypair::dev(n, false))
                .collect(),
        };
        let info: Value = backend
            .try_request("system_info", vec![])
            .map_err(|e| format!("{url} does not answer as an Aether node: {e}"))?;
        backend.chain_id = info["chainId"]
            .as_u64()
            .ok_or_else(|| format!("{url}: system_info has no chainId"))?;
        Ok(backend)
    }

    fn try_request(&self, method: &str, params: Vec<Value>) -> Result<Value, String> {
        let mut p = jsonrpsee_core::params::ArrayParams::new();
        for v in params {
            p.insert(v).map_err(|e| e.to_string())?;
        }
        self.runtime
            .block_on(self.client.request::<Value, _>(method, p))
            .map_err(|e| format!("{method} at {}: {e}", self.url))
    }

    fn request(&self, method: &str, params: Vec<Value>) -> Value {
        self.try_request(method, params)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn key(&self, who: Address) -> &Keypair {
        self.keys
            .iter()
            .find(|k| k.address().0 == who.0)
            .unwrap_or_else(|| {
                panic!(
                    "{who} has no key here: on a node, transactions come from ALICE, BOB or CHARLIE"
                )
            })
    }

    /// Signs `action` as `from`, submits it and waits for its receipt.
    pub(crate) fn submit(&self, from: Address, action: Action, gas_limit: u64) -> Outcome {
        let key = self.key(from);
        // Tests run on several threads and share the dev accounts: from reading the next nonce
        // to the pool holding the transaction, no other one of this process may take it.
        static SUBMITTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let guard = SUBMITTING.lock().unwrap_or_else(|p| p.into_inner());
        let nonce = self
            .request("author_nextNonce", vec![json!(hex0x(&from.0))])
            .as_u64()
            .expect("author_nextNonce returns a number");
        let signed = key.sign_tx(Transaction {
            chain_id: self.chain_id,
            nonce,
            gas_limit,
            gas_price: 1,
            action,
        });
        let hash = match self.try_request(
            "author_submitTransaction",
            vec![json!(hex0x(&signed.encode()))],
        ) {
            Ok(h) => h,
            // Refused by the pool (as a block would have rejected it): nothing changed.
            Err(e) => {
                return Outcome {
                    status: Status::Rejected,
                    gas_used: 0,
                    return_data: Vec::new(),
                    events: Vec::new(),
                    error: Some(e),
                    created: None,
                };
            }
        };
        drop(guard);
        let deadline = Instant::now() + INCLUSION_TIMEOUT;
        loop {
            let r = self.request("chain_getReceipt", vec![hash.clone()]);
            if !r.is_null() {
                return outcome(&r);
            }
            assert!(
                Instant::now() < deadline,
                "transaction {hash} is not in a block after {INCLUSION_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Dry-runs `action` as `from` at the head.
    pub(crate) fn dry_run(&self, from: Address, action: Action, gas_limit: u64) -> Outcome {
        let r = self.request(
            "contract_dryRun",
            vec![
                json!(hex0x(&from.0)),
                json!(hex0x(&action.encode())),
                json!(gas_limit),
            ],
        );
        outcome(&r)
    }

    pub(crate) fn balance(&self, who: Address) -> u128 {
        let v = self.request("state_getBalance", vec![json!(hex0x(&who.0))]);
        v.as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("state_getBalance returned {v}"))
    }

    pub(crate) fn storage(&self, contract: Address, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.request(
            "state_getStorage",
            vec![json!(hex0x(&contract.0)), json!(hex0x(key))],
        );
        let value = &v["value"];
        (!value.is_null()).then(|| bytes(value, "storage value"))
    }

    /// Credits `amount` to `who` by a transfer from ALICE.
    pub(crate) fn fund(&self, who: Address, amount: u128) {
        let r = self.submit(
            crate::ALICE,
            Action::Transfer {
                to: engine::Address(who.0),
                amount,
            },
            100_000,
        );
        assert_eq!(r.status, Status::Success, "funding {who}: {r:?}");
    }
}
