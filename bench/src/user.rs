//! `aether bench call`: a user's own contract measured the way the standard suite measures
//! the token, with a breakdown of an iteration's time (the engine's transaction handling,
//! instantiation or instance reset, Wasm execution, storage host calls, other host calls) and
//! gas per µs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use aether_engine::memory::MemoryState;
use aether_engine::sandbox::Sandbox;
use aether_engine::state::Overlay;
use aether_engine::types::{Action, Address, Hash, Status, Transaction};
use aether_engine::vm::profile::{Profile, profile};
use aether_engine::{Checked, Executor, GasSchedule, Vm};

use crate::report::Share;
use crate::sample::timed;
use crate::workloads::{Prepared, Workload};

/// The account that deploys and calls the contract.
pub const CALLER: Address = Address([0x01; 32]);

/// What to measure.
pub struct UserCall {
    /// The module.
    pub code: Vec<u8>,
    /// Constructor input.
    pub init_input: Vec<u8>,
    /// The method.
    pub method: String,
    /// Its input.
    pub input: Vec<u8>,
    /// Value sent with each call.
    pub value: u128,
    /// Gas limit of each call.
    pub gas_limit: u64,
}

/// Profiled iterations for the breakdown.
const PROFILED: u32 = 200;

/// The workload `call/<method>` for `call`: deploys the contract in an in-memory state, checks
/// that the call succeeds, then measures it as the standard call workloads are measured (a
/// fresh overlay over the same state each iteration).
pub fn workload(call: UserCall) -> Workload {
    let name = format!("user/{}", call.method);
    let description = format!(
        "`{}` of the given contract through Executor::apply ({} bytes of input)",
        call.method,
        call.input.len()
    );
    Workload::new(name, description, move |_| prepare(call))
}

fn prepare(call: UserCall) -> Result<Prepared, String> {
    let vm = Vm::new(GasSchedule::V1, aether_engine::vm::DEFAULT_CACHE_MODULES);
    let mut sb = Sandbox::with_vm(MemoryState::with_balances([(CALLER, 1 << 100)]), vm.clone());
    let contract = sb.deploy(CALLER, call.code, call.init_input).map_err(|r| {
        format!(
            "the contract does not deploy: {:?} {}",
            r.status,
            r.error.unwrap_or_default()
        )
    })?;
    let env = aether_engine::types::BlockEnv {
        gas_limit: u64::MAX,
        ..*sb.env_mut()
    };
    let state = Arc::new(sb.into_state());
    let exec = Executor::new(vm);
    let tx = Transaction {
        chain_id: env.chain_id,
        nonce: state.accounts.get(&CALLER).map_or(0, |a| a.nonce),
        gas_limit: call.gas_limit,
        gas_price: 1,
        action: Action::Call {
            contract,
            method: call.method.clone(),
            input: call.input,
            value: call.value,
        },
    };
    let apply = move |exec: &Executor, state: &Arc<MemoryState>, tx: &Transaction| {
        let checked = Checked {
            sender: CALLER,
            tx,
            hash: Hash::default(),
            encoded_len: 200,
        };
        let mut overlay = Overlay::new(state.clone());
        exec.apply(&mut overlay, &env, &checked, u64::MAX)
            .map_err(|e| e.to_string())
    };
    let first = apply(&exec, &state, &tx)?;
    if first.status != Status::Success {
        return Err(format!(
            "`{}` does not succeed: {:?} {}",
            call.method,
            first.status,
            first.error.unwrap_or_default()
        ));
    }
    let gas = first.gas_used;
    let (exec2, state2, tx2) = (exec.clone(), state.clone(), tx.clone());
    Ok(Prepared {
        routine: Box::new(move |iters| {
            timed(iters, || {
                apply(&exec, &state, &tx).map(|r| drop(black_box(r)))
            })
        }),
        gas: Some(gas),
        elements: None,
        breakdown: Some(Box::new(move || {
            let start = Instant::now();
            let (result, p) = profile(|| {
                for _ in 0..PROFILED {
                    apply(&exec2, &state2, &tx2)?;
                }
                Ok::<_, String>(())
            });
            result?;
            Ok(shares(&p, start.elapsed().as_nanos() as f64, PROFILED))
        })),
    })
}

/// An iteration's time by part, from a profile of `n` iterations that took `total_ns`.
pub fn shares(p: &Profile, total_ns: f64, n: u32) -> Vec<Share> {
    let per = |ns: u64| ns as f64 / f64::from(n);
    let count = |c: u64| Some(c / u64::from(n));
    let (mut storage, mut storage_calls, mut other, mut other_calls) = (0, 0, 0, 0);
    for (name, h) in &p.host {
        if name.starts_with("storage_") {
            storage += h.ns;
            storage_calls += h.count;
        } else {
            other += h.ns;
            other_calls += h.count;
        }
    }
    let instance = p.instantiate_ns + p.reset_ns;
    let execution = p.frame_ns.saturating_sub(instance + storage + other);
    let engine = (total_ns - p.frame_ns as f64).max(0.0);
    vec![
        Share {
            part: "transaction handling (admission, fee, overlay, receipt)".into(),
            ns: engine / f64::from(n),
            calls: None,
        },
        Share {
            part: format!(
                "instance ({} created, {} reused and reset)",
                p.instantiations / u64::from(n),
                p.reuses / u64::from(n)
            ),
            ns: per(instance),
            calls: None,
        },
        Share {
            part: "Wasm execution".into(),
            ns: per(execution),
            calls: None,
        },
        Share {
            part: "storage host calls".into(),
            ns: per(storage),
            calls: count(storage_calls),
        },
        Share {
            part: "other host calls".into(),
            ns: per(other),
            calls: count(other_calls),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::WAT_TOKEN;

    #[test]
    fn a_token_transfer_is_measured_with_its_breakdown() {
        let mut input = [0xB0; 32].to_vec();
        input.extend_from_slice(&5u128.to_le_bytes());
        let w = workload(UserCall {
            code: wat::parse_str(WAT_TOKEN).unwrap(),
            init_input: 1_000_000u128.to_le_bytes().to_vec(),
            method: "transfer".into(),
            input,
            value: 0,
            gas_limit: 1_000_000,
        });
        let mut report = crate::run(vec![w], None, crate::workloads::Size::Quick, &mut |_| {})
            .expect("measured");
        let m = report.results.remove(0);
        assert_eq!(m.name, "user/transfer");
        assert!(m.gas.unwrap() > 10_000);
        let parts: Vec<&str> = m.breakdown.iter().map(|s| s.part.as_str()).collect();
        assert_eq!(parts.len(), 5, "{parts:?}");
        let storage = &m.breakdown[3];
        assert_eq!(storage.calls, Some(4), "2 reads and 2 writes per transfer");
        assert_eq!(
            m.breakdown[4].calls,
            Some(4),
            "input_len, input_read, caller, emit_event"
        );
        assert!(m.breakdown.iter().all(|s| s.ns >= 0.0));
    }

    #[test]
    fn a_call_that_fails_is_refused_before_measuring() {
        let w = workload(UserCall {
            code: wat::parse_str(WAT_TOKEN).unwrap(),
            init_input: 1_000_000u128.to_le_bytes().to_vec(),
            method: "transfer".into(),
            input: vec![1, 2, 3],
            value: 0,
            gas_limit: 1_000_000,
        });
        let err =
            crate::run(vec![w], None, crate::workloads::Size::Quick, &mut |_| {}).unwrap_err();
        assert!(err.contains("does not succeed"), "{err}");
    }
}
