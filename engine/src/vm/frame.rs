//! Call frames: one contract execution in a wasmi store of its own (new, or an idle instance's
//! from the pool, see `pool.rs`), inside a checkpoint of the transaction's overlay. A failed
//! frame reverts its own changes; its caller goes on.

use std::sync::Arc;

use wasmi::{Store, TrapCode};

use super::host::{Exit, HostState, HostTrap, TxContext};
use super::pool::{Loaded, Snapshot};
use super::profile::{Span, Timer};
use super::trace::Entered;
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
///
/// The whole frame runs under the panic guard, with the transaction context in a slot that
/// outlives the guard: outside wasmi the context stays in the slot, and inside wasmi it lives
/// in the frame's store, which its own guard (in [`execute`]) keeps alive. So a panic anywhere
/// in the frame (wasmi, a host function, this code, a nested frame's) ends this frame as an
/// engine fault with its changes reverted, and the transaction goes on. Should the context
/// ever be lost all the same, the frame answers a backend error, which aborts the block rather
/// than letting it commit a state without the transaction's earlier writes.
pub(crate) fn run_frame(
    mut tx: Box<TxContext>,
    req: FrameRequest,
) -> (Box<TxContext>, Result<FrameResult, StoreError>) {
    let cp = tx.overlay.checkpoint();
    let depth = tx.stack.len();
    let _timer = (depth == 0).then(|| Timer::start(Span::Frame));
    tx.stack.push(req.contract);
    let (contract, code_hash, limit) = (req.contract, req.compiled.code_hash, req.gas_limit);
    if let Some(t) = tx.trace.as_mut() {
        t.enter(Entered {
            caller: req.caller,
            contract,
            code_hash,
            method: match &req.entry {
                Entry::Method(m) => Some(m.clone()),
                Entry::Constructor => None,
            },
            value: req.value,
            input: req.input.clone(),
            gas_limit: limit,
        });
    }
    let spare = tx.hollow();
    let mut slot = Some(tx);
    let outcome = guard::catch(|| execute(&mut slot, req));
    let Some(mut tx) = slot.filter(|tx| !tx.is_hollow()) else {
        tracing::error!(%contract, %code_hash, "the engine faulted and lost a transaction's state");
        return (
            spare.build(),
            Err(StoreError::Backend(
                "engine fault: a frame lost its transaction's state".into(),
            )),
        );
    };
    tx.stack.truncate(depth);
    let result = outcome.unwrap_or_else(|fault| {
        // A panic inside wasmi, a host function or the engine: a fault of the engine, not of
        // the contract. It ends this frame alone with a fixed message and its whole gas limit,
        // the same on every node.
        tracing::error!(
            %contract,
            %code_hash,
            %fault,
            "the engine faulted while running a contract; the frame ends as a trap"
        );
        Ok(FrameResult::failed(Status::Trap, limit, ENGINE_FAULT))
    });
    match &result {
        Ok(r) if r.status == Status::Success => {}
        _ => tx.overlay.revert_to(cp),
    }
    if let Some(t) = tx.trace.as_mut() {
        match &result {
            Ok(r) => t.end(r.status, r.gas_used, &r.data, r.error.as_deref()),
            Err(e) => t.end(Status::Trap, limit, &[], Some(&e.to_string())),
        }
    }
    (tx, result)
}

/// Runs the frame with the context in `slot`: it is taken into the wasmi store only while the
/// frame runs there, and put back as soon as it stops, also after a panic inside it (the
/// store of a panicked frame is then dropped, never reused).
fn execute(
    slot: &mut Option<Box<TxContext>>,
    req: FrameRequest,
) -> Result<FrameResult, StoreError> {
    let lost = || StoreError::Backend("engine fault: a frame lost its transaction's state".into());
    let tx = slot.as_mut().ok_or_else(lost)?;
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
        return Ok(FrameResult::failed(
            Status::OutOfGas,
            limit,
            "out of gas loading the contract",
        ));
    }
    if !tx.overlay.transfer(&req.caller, &req.contract, req.value)? {
        return Ok(FrameResult::failed(
            Status::Revert,
            load_cost,
            format!("caller {} cannot pay value {}", req.caller, req.value),
        ));
    }
    let method = match &req.entry {
        Entry::Method(m) => Some(m.as_str()),
        Entry::Constructor => req
            .compiled
            .info
            .has_constructor
            .then_some(super::abi::CONSTRUCTOR),
    };
    #[cfg(test)]
    fault_injection::before_store();
    let tx = slot.take().ok_or_else(lost)?;
    let code = req.compiled.code_hash;
    let host = HostState::frame(tx, req.contract, req.caller, req.value, req.input, s);
    let (mut store, source) = match vm.pool.take(&code) {
        Some(idle) => {
            let mut store = idle.store;
            *store.data_mut() = host;
            (store, Source::Idle(idle.loaded))
        }
        None => {
            let timer = Timer::start(Span::Instantiate);
            let mut store = Box::new(Store::new(&vm.engine, host));
            store.limiter(|st| &mut st.limiter);
            (store, Source::New(timer))
        }
    };
    let mut loaded = None;
    let outcome = guard::catch(|| {
        run_in_store(
            &mut store,
            &vm,
            &req.compiled,
            method,
            limit - load_cost,
            source,
            &mut loaded,
        )
    });
    let remaining = store.get_fuel().unwrap_or(0);
    let used = limit - remaining.min(limit);
    let state = store.data_mut();
    *slot = state.tx.take();
    let result = match outcome {
        // Caught here so that the store, which holds the context, outlives the panic;
        // `run_frame` turns it into the frame's engine fault. The store is not reused.
        Err(fault) => std::panic::resume_unwind(Box::new(fault)),
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
        Ok(Err(e)) => classify(e, state, used, limit),
    };
    if let Some(loaded) = loaded {
        let _timer = Timer::start(Span::Reset);
        vm.pool.give_back(code, store, loaded);
    }
    result
}

/// Where a frame's instance comes from.
enum Source {
    /// An idle instance an earlier call left (already in the store).
    Idle(Loaded),
    /// A new one, instantiated in the new store; the timer profiles its creation.
    New(Timer),
}

/// Instantiates the module in `store` (or takes the idle instance there) and runs `method`.
/// The instance is put in `loaded` as soon as it exists.
fn run_in_store(
    store: &mut Store<HostState>,
    vm: &super::Vm,
    compiled: &Compiled,
    method: Option<&str>,
    fuel: u64,
    source: Source,
    loaded: &mut Option<Loaded>,
) -> Result<(), wasmi::Error> {
    store.set_fuel(fuel)?;
    let l = match source {
        Source::Idle(l) => {
            // What instantiating it again would have charged.
            let setup_fuel = l.setup_fuel;
            store.data_mut().memory = l.memory;
            store.data_mut().limiter.pending_pages = l.setup_pages;
            let l = loaded.insert(l);
            if fuel < setup_fuel {
                store.set_fuel(0)?;
                return Err(TrapCode::OutOfFuel.into());
            }
            store.set_fuel(fuel - setup_fuel)?;
            l
        }
        Source::New(timer) => {
            let instance = vm
                .linker
                .instantiate_and_start(&mut *store, &compiled.module)?;
            let memory = instance.get_memory(&*store, "memory");
            store.data_mut().memory = memory;
            let snapshot = match (&compiled.reset, memory) {
                (Some(plan), Some(memory)) if vm.pool.enabled() => {
                    Snapshot::take(store, instance, memory, plan)
                }
                _ => None,
            };
            let setup_fuel = fuel - store.get_fuel()?;
            drop(timer);
            loaded.insert(Loaded {
                instance,
                memory,
                setup_fuel,
                setup_pages: store.data().limiter.pending_pages,
                snapshot,
                methods: Vec::new(),
            })
        }
    };
    settle_pages(store)?;
    if let Some(name) = method {
        let f = l
            .method(store, name)
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

/// Test-only fault injection: makes the `n`th frame entered on this thread panic in the
/// engine's own code, outside wasmi (where the context is in the slot, not in a store).
#[cfg(test)]
pub(crate) mod fault_injection {
    use std::cell::Cell;

    thread_local! {
        static COUNTDOWN: Cell<u32> = const { Cell::new(0) };
    }

    thread_local! {
        static FAULT_NEXT_COMPILE: Cell<bool> = const { Cell::new(false) };
    }

    /// The next compile on a VM's own engine panics (a fresh engine does not).
    pub fn fault_next_compile() {
        FAULT_NEXT_COMPILE.with(|c| c.set(true));
    }

    pub(in crate::vm) fn before_compile() {
        if FAULT_NEXT_COMPILE.with(|c| c.replace(false)) {
            panic!("injected engine fault while compiling");
        }
    }

    /// The `n`th frame from now (1 = the next) panics before its store is created.
    pub fn panic_at_frame(n: u32) {
        COUNTDOWN.with(|c| c.set(n));
    }

    pub(super) fn before_store() {
        let hit = COUNTDOWN.with(|c| match c.get() {
            0 => false,
            1 => {
                c.set(0);
                true
            }
            n => {
                c.set(n - 1);
                false
            }
        });
        if hit {
            panic!("injected engine fault");
        }
    }
}
