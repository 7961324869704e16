//! # aether-tests
//!
//! End-to-end tests of Aether. This library holds deterministic workloads shared by the tests
//! and the `aether-determinism` tool, which executes a workload block and prints the hashes of
//! its receipts and change set (so two processes can be compared), and the deterministic
//! consensus simulator ([`sim`]), and the golden-trace corpus ([`golden`]).

pub mod crash_load;
pub mod golden;
pub mod kill;
pub mod sim;

use std::sync::Arc;

use aether_engine::crypto::Keypair;
use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::types::{
    Action, Address, BlockEnv, Hash, SignedTransaction, Transaction, list_root,
};
use aether_engine::{Executor, GasSchedule, Vm};
use parity_scale_codec::Encode;

/// Chain id of the workloads.
pub const CHAIN_ID: u64 = 42;

/// The example token contract.
pub const TOKEN_WAT: &str = include_str!("../../examples/wat/token.wat");

/// A prepared state and a block to run on it.
pub struct Workload {
    /// State before the block: funded accounts and a deployed token.
    pub state: Arc<MemoryState>,
    /// The block environment.
    pub env: BlockEnv,
    /// The block's transactions.
    pub txs: Vec<SignedTransaction>,
}

/// Hashes identifying an execution result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultHashes {
    /// Root over the receipts.
    pub receipts: Hash,
    /// Hash of the change set.
    pub changes: Hash,
    /// Total gas.
    pub gas_used: u64,
}

impl std::fmt::Display for ResultHashes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "receipts={} changes={} gas={}",
            self.receipts, self.changes, self.gas_used
        )
    }
}

/// A mixed block of `n` transactions from `senders` accounts (half ed25519, half sr25519):
/// balance transfers, token transfers (some failing), bad signatures and stale nonces.
pub fn mixed_block(n: usize, senders: usize) -> Workload {
    let keys: Vec<Keypair> = (0..senders)
        .map(|i| Keypair::dev(&format!("user{i}"), i % 2 == 1))
        .collect();
    let deployer = Keypair::dev("deployer", false);
    let mut sb = Sandbox::new(MemoryState::with_balances(
        keys.iter()
            .map(|k| (k.address(), 1u128 << 90))
            .chain([(deployer.address(), 1u128 << 90)]),
    ));
    sb.env_mut().chain_id = CHAIN_ID;
    let token = sb
        .deploy(
            deployer.address(),
            wat::parse_str(TOKEN_WAT).expect("token WAT"),
            (1u128 << 100).to_le_bytes().to_vec(),
        )
        .expect("token deploys");
    // Give every sender tokens.
    for k in &keys {
        let mut input = k.address().0.to_vec();
        input.extend_from_slice(&(1u128 << 40).to_le_bytes());
        sb.call(deployer.address(), token, "transfer", input, 0, 1_000_000)
            .expect("funding");
    }
    let mut nonces = vec![0u64; senders];
    let mut txs = Vec::with_capacity(n);
    for i in 0..n {
        let s = i % senders;
        let to = keys[(i * 7 + 3) % senders].address();
        let action = match i % 5 {
            0 | 1 => Action::Transfer {
                to,
                amount: (i as u128 % 1000) + 1,
            },
            2 | 3 => {
                // Every 10th token transfer asks for more than the sender has: a revert.
                let amount = if i % 10 == 3 {
                    1u128 << 60
                } else {
                    (i as u128 % 500) + 1
                };
                let mut input = to.0.to_vec();
                input.extend_from_slice(&amount.to_le_bytes());
                Action::Call {
                    contract: token,
                    method: "transfer".into(),
                    input,
                    value: 0,
                }
            }
            _ => Action::Call {
                contract: token,
                method: "balance_of".into(),
                input: to.0.to_vec(),
                value: 0,
            },
        };
        let stale = i % 97 == 5;
        let tx = Transaction {
            chain_id: CHAIN_ID,
            nonce: if stale { nonces[s] + 5 } else { nonces[s] },
            gas_limit: 400_000,
            gas_price: 1,
            action,
        };
        if !stale {
            nonces[s] += 1;
        }
        let mut stx = keys[s].sign_tx(tx);
        if i % 89 == 7 {
            stx.signature.0[10] ^= 1;
            nonces[s] -= 1;
        }
        txs.push(stx);
    }
    Workload {
        state: Arc::new(sb.into_state()),
        env: BlockEnv {
            chain_id: CHAIN_ID,
            height: 2,
            timestamp_ms: 1_700_000_001_000,
            proposer: Address([0x99; 32]),
            gas_limit: u64::MAX,
        },
        txs,
    }
}

impl Workload {
    /// SCALE encoding of state, environment and transactions.
    pub fn encode(&self) -> Vec<u8> {
        (&*self.state, &self.env, &self.txs).encode()
    }

    /// Decodes [`Workload::encode`]'s output.
    pub fn decode(mut bytes: &[u8]) -> Result<Self, parity_scale_codec::Error> {
        use parity_scale_codec::Decode;
        let state = MemoryState::decode(&mut bytes)?;
        let env = BlockEnv::decode(&mut bytes)?;
        let txs = Vec::<SignedTransaction>::decode(&mut bytes)?;
        // Re-read through decode_all so the code cache is rebuilt.
        let state = MemoryState::decode_all(&state.encode())
            .map_err(|_| parity_scale_codec::Error::from("state"))?;
        Ok(Self {
            state: Arc::new(state),
            env,
            txs,
        })
    }
}

/// Executes a workload's block with a fresh VM and returns the result hashes.
pub fn run(w: &Workload) -> ResultHashes {
    let exec = Executor::new(Vm::new(GasSchedule::V1, 64));
    let out = exec
        .execute_block(w.state.clone(), &w.env, &w.txs)
        .expect("in-memory state cannot fail");
    ResultHashes {
        receipts: list_root(&out.receipts),
        changes: Hash::of(&out.changes.encode()),
        gas_used: out.gas_used,
    }
}
