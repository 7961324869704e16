//! Golden traces: a fixed corpus of blocks (the examples' calls, reverts, out-of-gas, traps,
//! refused transactions, cross-contract calls, events) executed from genesis and committed to
//! a real store, recorded as one JSON document: every receipt (status, gas, return data,
//! events, error), each block's gas, receipts root and state root. The committed copy is
//! `tests/golden/trace.json`; `tests/tests/golden.rs` runs the corpus and diffs it, in debug
//! and in release builds (`scripts/test.sh`).
//!
//! The inputs are frozen: the Rust examples are the Wasm files in `tests/golden/contracts`
//! (built once by `aether contract build`, so that a compiler update cannot change the
//! corpus), the WAT examples are the repository's, and every key is derived from a name
//! (ed25519, whose signatures are deterministic).

use std::path::Path;
use std::sync::Arc;

use aether_engine::crypto::Keypair;
use aether_engine::ports::ExecutedBlock;
use aether_engine::state::ChangeSet;
use aether_engine::types::{
    Account, Action, Address, Block, BlockEnv, BlockHeader, Hash, Receipt, SignedTransaction,
    Transaction, contract_address, list_root,
};
use aether_engine::{Executor, GasSchedule, Vm};
use aether_storage::{Store, StoreConfig};
use parity_scale_codec::Encode;
use serde_json::{Value, json};

/// Chain id of the corpus.
const CHAIN_ID: u64 = 7;

/// The WAT token example.
const WAT_TOKEN: &str = include_str!("../../examples/wat/token.wat");
/// The WAT counter example.
const WAT_COUNTER: &str = include_str!("../../examples/wat/counter.wat");
/// The SDK examples, built once (see the module doc).
const SDK_TOKEN: &[u8] = include_bytes!("../golden/contracts/token.wasm");
const SDK_COUNTER: &[u8] = include_bytes!("../golden/contracts/counter.wasm");
const SDK_ESCROW: &[u8] = include_bytes!("../golden/contracts/escrow.wasm");

/// Gas limit of the corpus' transactions unless a case needs another.
const GAS: u64 = 5_000_000;

/// The accounts of the corpus, with their nonces.
struct Accounts {
    keys: Vec<(&'static str, Keypair, u64)>,
}

impl Accounts {
    fn new(names: &[&'static str]) -> Self {
        Self {
            keys: names
                .iter()
                .map(|n| (*n, Keypair::dev(n, false), 0))
                .collect(),
        }
    }

    fn address(&self, name: &str) -> Address {
        self.entry(name).1.address()
    }

    fn entry(&self, name: &str) -> &(&'static str, Keypair, u64) {
        self.keys
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("no account {name}"))
    }

    /// Signs `action` from `name` with its next nonce.
    fn sign(&mut self, name: &str, action: Action, gas_limit: u64) -> SignedTransaction {
        let entry = self
            .keys
            .iter_mut()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("no account {name}"));
        let tx = Transaction {
            chain_id: CHAIN_ID,
            nonce: entry.2,
            gas_limit,
            gas_price: 1,
            action,
        };
        entry.2 += 1;
        entry.1.sign_tx(tx)
    }

    /// Signs `tx` as given (for transactions that must be refused), without using a nonce.
    fn sign_raw(&self, name: &str, tx: Transaction) -> SignedTransaction {
        self.entry(name).1.sign_tx(tx)
    }

    fn nonce(&self, name: &str) -> u64 {
        self.entry(name).2
    }
}

fn call(contract: Address, method: &str, input: impl Encode) -> Action {
    Action::Call {
        contract,
        method: method.into(),
        input: input.encode(),
        value: 0,
    }
}

/// A raw call (the WAT contracts take their input unencoded).
fn call_raw(contract: Address, method: &str, input: Vec<u8>) -> Action {
    Action::Call {
        contract,
        method: method.into(),
        input,
        value: 0,
    }
}

fn upload(code: &[u8]) -> Action {
    Action::UploadCode {
        code: code.to_vec(),
    }
}

fn instantiate(code: &[u8], input: Vec<u8>, admin: Option<Address>) -> Action {
    Action::Instantiate {
        code_hash: Hash::of(code),
        salt: Vec::new(),
        value: 0,
        input,
        admin,
    }
}

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("example WAT compiles")
}

/// A WAT transfer input: recipient then amount (u128 LE).
fn wat_transfer(to: Address, amount: u128) -> Vec<u8> {
    let mut v = to.0.to_vec();
    v.extend_from_slice(&amount.to_le_bytes());
    v
}

/// The corpus: genesis balances and the blocks after it.
pub struct Corpus {
    /// Accounts funded at genesis.
    pub genesis: Vec<(Address, u128)>,
    /// The names of the corpus' accounts and contracts, for the trace.
    pub names: Vec<(Address, &'static str)>,
    /// The blocks, in order.
    pub blocks: Vec<(BlockEnv, Vec<SignedTransaction>)>,
}

fn env(height: u64) -> BlockEnv {
    BlockEnv {
        chain_id: CHAIN_ID,
        height,
        timestamp_ms: 1_750_000_000_000 + height * 1_000,
        proposer: Address([0x50; 32]),
        gas_limit: 1_000_000_000,
    }
}

/// Builds the corpus. Every case is named in a comment; the trace shows its outcome.
pub fn corpus() -> Corpus {
    let mut a = Accounts::new(&["alice", "bob", "carol"]);
    let (alice, bob, carol) = (a.address("alice"), a.address("bob"), a.address("carol"));
    let genesis = vec![
        (alice, 1u128 << 90),
        (bob, 1u128 << 90),
        (carol, 1u128 << 90),
    ];
    let wat_token_code = wat(WAT_TOKEN);
    let wat_counter_code = wat(WAT_COUNTER);
    let at = |code: &[u8], deployer: Address| contract_address(&deployer, &Hash::of(code), &[]);
    let wat_token = at(&wat_token_code, alice);
    let wat_counter = at(&wat_counter_code, alice);
    let sdk_token = at(SDK_TOKEN, alice);
    let sdk_counter = at(SDK_COUNTER, alice);
    let escrow = at(SDK_ESCROW, bob);

    // Block 1: uploads and deployments.
    let b1 = vec![
        a.sign("alice", upload(&wat_token_code), GAS),
        a.sign(
            "alice",
            instantiate(&wat_token_code, 1_000_000u128.to_le_bytes().to_vec(), None),
            GAS,
        ),
        a.sign("alice", upload(&wat_counter_code), GAS),
        a.sign(
            "alice",
            instantiate(&wat_counter_code, Vec::new(), Some(alice)),
            GAS,
        ),
        a.sign("alice", upload(SDK_TOKEN), 50_000_000),
        a.sign(
            "alice",
            instantiate(SDK_TOKEN, 1_000_000u128.encode(), Some(alice)),
            GAS,
        ),
        a.sign("alice", upload(SDK_COUNTER), 50_000_000),
        a.sign("alice", instantiate(SDK_COUNTER, 5u64.encode(), None), GAS),
        a.sign("bob", upload(SDK_ESCROW), 50_000_000),
        // Bob buys 300 tokens from Carol, Alice arbitrates.
        a.sign(
            "bob",
            instantiate(
                SDK_ESCROW,
                (sdk_token, carol, alice, 300u128).encode(),
                None,
            ),
            GAS,
        ),
        // Not Wasm: refused at upload.
        a.sign("carol", upload(b"\0asm\x01\0\0\0garbage"), GAS),
        // Code that is already stored: the upload succeeds again and is charged again.
        a.sign("carol", upload(&wat_counter_code), GAS),
        a.sign(
            "alice",
            Action::Transfer {
                to: carol,
                amount: 12_345,
            },
            GAS,
        ),
    ];

    // Block 2: calls, every kind of outcome.
    let mut b2 = vec![
        // WAT token: a transfer with its event, an overdraft (revert), a malformed input
        // (trap), too little gas (out of gas), a method that does not exist.
        a.sign(
            "alice",
            call_raw(wat_token, "transfer", wat_transfer(bob, 500)),
            GAS,
        ),
        a.sign(
            "bob",
            call_raw(wat_token, "transfer", wat_transfer(alice, 1 << 60)),
            GAS,
        ),
        a.sign("alice", call_raw(wat_token, "transfer", vec![1, 2, 3]), GAS),
        a.sign(
            "alice",
            call_raw(wat_token, "transfer", wat_transfer(carol, 1)),
            12_000,
        ),
        a.sign("alice", call_raw(wat_token, "mint", Vec::new()), GAS),
        a.sign(
            "alice",
            call_raw(wat_token, "balance_of", bob.0.to_vec()),
            GAS,
        ),
        // A call to an account without code.
        a.sign("alice", call_raw(carol, "transfer", Vec::new()), GAS),
        // WAT counter.
        a.sign("carol", call_raw(wat_counter, "increment", Vec::new()), GAS),
        a.sign("carol", call_raw(wat_counter, "increment", Vec::new()), GAS),
        a.sign("carol", call_raw(wat_counter, "get", Vec::new()), GAS),
        // SDK token: transfer, approve, a transfer_from without allowance (revert).
        a.sign("alice", call(sdk_token, "transfer", (bob, 1_000u128)), GAS),
        a.sign("bob", call(sdk_token, "approve", (escrow, 300u128)), GAS),
        a.sign(
            "carol",
            call(sdk_token, "transfer_from", (alice, carol, 5u128)),
            GAS,
        ),
        // Escrow: deposit pulls the tokens through the token (a cross-contract call); Carol
        // may not release (revert with the contract's error); Alice releases (another
        // cross-contract call).
        a.sign("bob", call(escrow, "deposit", ()), GAS),
        a.sign("carol", call(escrow, "release", ()), GAS),
        a.sign("alice", call(escrow, "release", ()), GAS),
        a.sign("alice", call(escrow, "state", ()), GAS),
        a.sign("carol", call(sdk_token, "balance_of", (carol,)), GAS),
        // SDK counter: an increment with its event, an overflow (the contract's error).
        a.sign("bob", call(sdk_counter, "increment", (3u64,)), GAS),
        a.sign("bob", call(sdk_counter, "increment", (u64::MAX,)), GAS),
    ];
    // Refused transactions: a nonce from the future, another chain, a bad signature, a fee the
    // sender cannot pay.
    let next = a.nonce("carol");
    b2.push(a.sign_raw(
        "carol",
        Transaction {
            chain_id: CHAIN_ID,
            nonce: next + 3,
            gas_limit: GAS,
            gas_price: 1,
            action: Action::Transfer { to: bob, amount: 1 },
        },
    ));
    b2.push(a.sign_raw(
        "carol",
        Transaction {
            chain_id: CHAIN_ID + 1,
            nonce: next,
            gas_limit: GAS,
            gas_price: 1,
            action: Action::Transfer { to: bob, amount: 1 },
        },
    ));
    let mut forged = a.sign_raw(
        "carol",
        Transaction {
            chain_id: CHAIN_ID,
            nonce: next,
            gas_limit: GAS,
            gas_price: 1,
            action: Action::Transfer { to: bob, amount: 1 },
        },
    );
    forged.signature.0[0] ^= 1;
    b2.push(forged);
    b2.push(a.sign_raw(
        "carol",
        Transaction {
            chain_id: CHAIN_ID,
            nonce: next,
            gas_limit: 1_000_000,
            gas_price: 1 << 80,
            action: Action::Transfer { to: bob, amount: 1 },
        },
    ));
    // A native transfer larger than the balance.
    b2.push(a.sign(
        "carol",
        Action::Transfer {
            to: bob,
            amount: 1 << 100,
        },
        GAS,
    ));

    // Block 3: after the escrow closed, a refund is refused; the counters go on; an empty
    // transfer.
    let b3 = vec![
        a.sign("carol", call(escrow, "refund", ()), GAS),
        a.sign("alice", call(sdk_counter, "get", ()), GAS),
        a.sign("alice", call_raw(wat_counter, "increment", Vec::new()), GAS),
        a.sign("bob", Action::Transfer { to: bob, amount: 0 }, GAS),
    ];
    let names = vec![
        (alice, "alice"),
        (bob, "bob"),
        (carol, "carol"),
        (wat_token, "wat_token"),
        (wat_counter, "wat_counter"),
        (sdk_token, "sdk_token"),
        (sdk_counter, "sdk_counter"),
        (escrow, "escrow"),
    ];
    Corpus {
        genesis,
        names,
        blocks: vec![(env(1), b1), (env(2), b2), (env(3), b3)],
    }
}

/// What a transaction does, in words: `alice: call sdk_token.transfer`.
fn describe(names: &[(Address, &str)], tx: &SignedTransaction) -> (String, Option<String>) {
    let name = |a: &Address| {
        names
            .iter()
            .find(|(x, _)| x == a)
            .map_or_else(|| hex::encode(a.0), |(_, n)| (*n).to_string())
    };
    let (what, callee) = match &tx.tx.action {
        Action::Call {
            contract, method, ..
        } => (
            format!("call {}.{method}", name(contract)),
            Some(hex::encode(contract.0)),
        ),
        Action::Instantiate { code_hash, .. } => (format!("instantiate code {code_hash}"), None),
        Action::UploadCode { code } => (format!("upload {} bytes", code.len()), None),
        Action::Transfer { to, amount } => (format!("transfer {amount} to {}", name(to)), None),
        other => (format!("{other:?}"), None),
    };
    (format!("{}: {what}", name(&tx.sender())), callee)
}

fn receipt_json(names: &[(Address, &str)], tx: &SignedTransaction, r: &Receipt) -> Value {
    let (action, callee) = describe(names, tx);
    json!({
        "action": action,
        "callee": callee,
        "tx_hash": hex::encode(r.tx_hash.0),
        "status": format!("{:?}", r.status),
        "gas_used": r.gas_used,
        "return_data": hex::encode(&r.return_data),
        "error": r.error,
        "created": r.created.map(hex::encode),
        "events": r.events.iter().map(|e| json!({
            "contract": hex::encode(e.contract.0),
            "topics": e.topics.iter().map(|t| hex::encode(t.0)).collect::<Vec<_>>(),
            "data": hex::encode(&e.data),
        })).collect::<Vec<_>>(),
    })
}

/// Runs the corpus from genesis on a new store in `dir` and returns the trace (pretty JSON,
/// ending in a newline).
pub fn trace(dir: &Path) -> String {
    let corpus = corpus();
    let store = Store::open(dir, StoreConfig::default()).expect("open the store");
    let exec = Executor::new(Vm::new(GasSchedule::V1, 64));
    let mut genesis = ChangeSet::default();
    for (who, balance) in &corpus.genesis {
        genesis
            .accounts
            .insert(*who, Account::with_balance(*balance));
    }
    let genesis_root = commit(&store, &env(0), Vec::new(), Vec::new(), genesis, 0);
    let mut blocks = Vec::new();
    for (env, txs) in corpus.blocks {
        let state = Arc::new(store.state());
        let out = exec
            .execute_block(state, &env, &txs)
            .expect("the corpus runs on a healthy store");
        let receipts_root = list_root(&out.receipts);
        let receipts: Vec<Value> = txs
            .iter()
            .zip(&out.receipts)
            .map(|(tx, r)| receipt_json(&corpus.names, tx, r))
            .collect();
        let root = commit(&store, &env, txs, out.receipts, out.changes, out.gas_used);
        blocks.push(json!({
            "height": env.height,
            "gas_used": out.gas_used,
            "receipts_root": hex::encode(receipts_root.0),
            "state_root": hex::encode(root.0),
            "receipts": receipts,
        }));
    }
    let doc = json!({
        "about": "Golden trace of the corpus in tests/src/golden.rs; see docs/gas.md, \"Golden traces\".",
        "genesis_state_root": hex::encode(genesis_root.0),
        "blocks": blocks,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON");
    text.push('\n');
    text
}

/// Commits a block on `store` and returns its state root.
fn commit(
    store: &Store,
    env: &BlockEnv,
    transactions: Vec<SignedTransaction>,
    receipts: Vec<Receipt>,
    changes: ChangeSet,
    gas_used: u64,
) -> Hash {
    let state_root = store.root_after(&changes).expect("state root");
    let parent_hash = store.head().map_or(Hash::default(), |h| h.hash());
    let header = BlockHeader {
        height: env.height,
        timestamp_ms: env.timestamp_ms,
        parent_hash,
        proposer: env.proposer,
        state_root,
        receipts_root: list_root(&receipts),
        gas_used,
        gas_limit: env.gas_limit,
        ..BlockHeader::default()
    };
    store
        .commit(&ExecutedBlock {
            block: Block {
                header,
                transactions,
            },
            receipts,
            changes,
        })
        .expect("commit");
    state_root
}
