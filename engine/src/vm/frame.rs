//! Call frames: one contract execution in its own wasmi store, inside a checkpoint of the
//! transaction's overlay. A failed frame reverts its own changes; its caller goes on.

use std::sync::Arc;

use wasmi::{Store, TrapCode};

use super::host::{Exit, HostState, HostTrap, Limiter, TxContext};
use super::{Compiled, guard};
use crate::gas::mul;
use crate::ports::StoreError;
use crate::types::{Address, Status};

/// The receipt message of a frame ended by a fault of the engine (a panic caught inside wasmi
/// or a host function). Fixed, so that every node writes the same receipt.
pub const ENGINE_FAULT: &str = "engine fault";

/// Which export a frame runs.
pub(crate) enum Entry {
    /// A method (an exported `[] -> []` function).
    Method(String),
    /// The constructor `init`, if the module has one (instantiation).
    Constructor,
}

/// Everything a frame needs.
pub(crate) struct FrameRequest {
    pub contract: Address,
    pub caller: Address,
    pub value: u128,
    pub input: Vec<u8>,
    pub entry: Entry,
    pub gas_limit: u64,
    pub compiled: Arc<Compiled>,
}

/// How a frame ended.
#[derive(Debug)]
pub(crate) struct FrameResult {
    pub status: Status,
    pub gas_used: u64,
    pub data: Vec<u8>,
    pub error: Option<String>,
}

impl FrameResult {
    fn failed(status: Status, gas_used: u64, error: impl Into<String>) -> Self {
        Self {
            status,
            gas_used,
            data: Vec::new(),
            error: Some(error.into()),
        }
    }
}

/// Runs a frame. The context always comes back, whatever happened; a backend failure is the
/// only error.
pub(crate) fn run_frame(
    mut tx: Box<TxContext>,
    req: FrameRequest,
) -> (Box<TxContext>, Result<FrameResult, StoreError>) {
    let cp = tx.overlay.checkpoint();
    tx.stack.push(req.contract);
    let (mut tx, result) = execute(tx, req);
    tx.stack.pop();
    match &result {
        Ok(r) if r.status == Status::Success => {}
        _ => tx.overlay.revert_to(cp),
    }
    (tx, result)
}

fn execute(
    mut tx: Box<TxContext>,
    req: FrameRequest,
) -> (Box<TxContext>, Result<FrameResult, StoreError>) {
    let vm = tx.vm.clone();
    let s = *vm.schedule();
    let limit = req.gas_limit;
    let load_cost = mul(req.compiled.info.code_len as u64, s.code_load_per_byte)
        .saturating_add(if matches!(req.entry, Entry::Constructor) {
            s.instantiate_base
        } else {
            0
        })
        .saturating_add(if req.value > 0 { s.transfer } else { 0 });
    if load_cost > limit {
        return (
            tx,
            Ok(FrameResult::failed(
                Status::OutOfGas,
                limit,
                "out of gas loading the contract",
            )),
        );
    }
    match tx.overlay.transfer(&req.caller, &req.contract, req.value) {
        Ok(true) => {}
        Ok(false) => {
            return (
                tx,
                Ok(FrameResult::failed(
                    Status::Revert,
                    load_cost,
                    format!("caller {} cannot pay value {}", req.caller, req.value),
                )),
            );
        }
        Err(e) => return (tx, Err(e)),
    }
    let method = match &req.entry {
        Entry::Method(m) => Some(m.as_str()),
        Entry::Constructor => req
            .compiled
            .info
            .has_constructor
            .then_some(super::abi::CONSTRUCTOR),
    };
    let mut store = Store::new(
        &vm.engine,
        HostState {
            tx,
            memory: None,
            contract: req.contract,
            caller: req.caller,
            value: req.value,
            input: req.input,
            exit: None,
            return_data: Vec::new(),
            limiter: Limiter::default(),
            schedule: s,
        },
    );
    store.limiter(|st| &mut st.limiter);
    let outcome =
        guard::catch(|| run_in_store(&mut store, &vm, &req.compiled, method, limit - load_cost));
    let remaining = store.get_fuel().unwrap_or(0);
    let mut state = store.into_data();
    let used = limit - remaining.min(limit);
    let result = match outcome {
        Err(fault) => {
            // A panic inside wasmi or a host function: a fault of the engine, not of the
            // contract. It ends this frame alone (its changes are reverted by `run_frame`) with
            // a fixed message and its whole gas limit, the same on every node.
            tracing::error!(
                contract = %req.contract,
                code_hash = %req.compiled.code_hash,
                fault = %fault,
                "the engine faulted while running a contract; the frame ends as a trap"
            );
            Ok(FrameResult::failed(Status::Trap, limit, ENGINE_FAULT))
        }
        Ok(Ok(())) => {
            let data = match state.exit.take() {
                Some(Exit::Return(d)) => d,
                _ => Vec::new(),
            };
            Ok(FrameResult {
                status: Status::Success,
                gas_used: used,
                data,
                error: None,
            })
        }
        Ok(Err(e)) => classify(e, &mut state, used, limit),
    };
    (state.tx, result)
}

fn run_in_store(
    store: &mut Store<HostState>,
    vm: &super::Vm,
    compiled: &Compiled,
    method: Option<&str>,
    fuel: u64,
) -> Result<(), wasmi::Error> {
    store.set_fuel(fuel)?;
    let instance = vm
        .linker
        .instantiate_and_start(&mut *store, &compiled.module)?;
    store.data_mut().memory = instance.get_memory(&*store, "memory");
    settle_pages(store)?;
    if let Some(name) = method {
        let f = instance
            .get_typed_func::<(), ()>(&*store, name)
            .map_err(|_| super::host::abort(format!("contract has no method `{name}`")))?;
        let r = f.call(&mut *store, ());
        // Memory grown before an exit is still paid for.
        settle_pages(store)?;
        r?;
    }
    Ok(())
}

/// Charges memory pages recorded by the limiter.
fn settle_pages(store: &mut Store<HostState>) -> Result<(), wasmi::Error> {
    let pages = std::mem::take(&mut store.data_mut().limiter.pending_pages);
    let cost = mul(pages, store.data().schedule.memory_per_page);
    let fuel = store.get_fuel()?;
    if fuel < cost {
        store.set_fuel(0)?;
        return Err(wasmi::Error::host(HostTrap::OutOfGas));
    }
    store.set_fuel(fuel - cost)
}

/// The receipt message of a wasmi trap. Receipts are consensus data, so the message must not
/// depend on anything but the contract and its input: some wasmi errors print store-internal
/// handles (`Table(Stored { store: StoreId(..) })`) that differ between runs.
fn trap_message(e: &wasmi::Error) -> String {
    use wasmi::errors::{ErrorKind, InstantiationError};
    if let Some(code) = e.as_trap_code() {
        return format!("trap: {code}");
    }
    match e.kind() {
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit {
            table_index,
            len,
            ..
        }) => format!(
            "trap: an element segment of {len} entries at index {table_index} does not fit the table"
        ),
        _ => {
            let msg = e.to_string();
            if msg.contains("Stored") || msg.contains("StoreId") {
                "trap: instantiation failed".into()
            } else {
                format!("trap: {msg}")
            }
        }
    }
}

fn classify(
    e: wasmi::Error,
    state: &mut HostState,
    used: u64,
    limit: u64,
) -> Result<FrameResult, StoreError> {
    if e.as_trap_code() == Some(TrapCode::OutOfFuel) {
        return Ok(FrameResult::failed(Status::OutOfGas, limit, "out of gas"));
    }
    if e.downcast_ref::<HostTrap>().is_none() {
        return Ok(FrameResult::failed(Status::Trap, used, trap_message(&e)));
    }
    match e.downcast::<HostTrap>() {
        Some(HostTrap::Exit) => match state.exit.take() {
            Some(Exit::Revert(data)) => Ok(FrameResult {
                status: Status::Revert,
                gas_used: used,
                data,
                error: Some("contract reverted".into()),
            }),
            Some(Exit::Return(data)) => Ok(FrameResult {
                status: Status::Success,
                gas_used: used,
                data,
                error: None,
            }),
            None => Ok(FrameResult::failed(
                Status::Trap,
                used,
                "exit without payload",
            )),
        },
        Some(HostTrap::OutOfGas) => Ok(FrameResult::failed(Status::OutOfGas, limit, "out of gas")),
        Some(HostTrap::Abort(msg)) => Ok(FrameResult::failed(Status::Trap, used, msg)),
        Some(HostTrap::Store(e)) => Err(e),
        None => Ok(FrameResult::failed(Status::Trap, used, "trap")),
    }
}
