//! Host functions of module `env` and the per-frame host state. See `docs/host-abi.md`.
//!
//! Every pointer/length pair is checked against the frame's memory before use: a bad one traps
//! the contract with a message, never the host. Every function charges its gas before doing
//! its work.

use std::sync::Arc;

use wasmi::{Caller, Engine, Error, Linker, Memory};
use wasmi_core::LimiterError;

use super::abi::call_status as cs;
use super::frame::{self, Entry, FrameRequest};
use super::limits::*;
use super::profile::{Span, Timer};
use super::trace::{Op, Recorder};
use super::{CompileError, LoadError, Vm};
use crate::crypto;
use crate::gas::{GasSchedule, mul};
use crate::ports::{StateReader, StoreError};
use crate::state::Overlay;
use crate::types::{Account, Address, BlockEnv, Event, Hash, Status};

/// State shared by all frames of one transaction. Moved into the running frame's store.
pub(crate) struct TxContext {
    pub overlay: Overlay,
    pub env: BlockEnv,
    pub vm: Arc<Vm>,
    /// Contracts currently executing, outermost first.
    pub stack: Vec<Address>,
    /// An empty stand-in, not the transaction's context (see [`TxContext::hollow`]).
    pub hollow: bool,
    /// The trace being recorded, when one was asked for (`trace.rs`).
    pub trace: Option<Box<Recorder>>,
}

impl TxContext {
    /// A context for `overlay`.
    pub fn new(overlay: Overlay, env: BlockEnv, vm: Arc<Vm>) -> Box<Self> {
        Box::new(TxContext {
            overlay,
            env,
            vm,
            stack: Vec::new(),
            hollow: false,
            trace: None,
        })
    }

    /// An empty stand-in: left in a frame's store while a nested frame holds the real
    /// context, and returned by a frame that lost it. Never committed: a frame that finds one
    /// where its context should be fails with a backend error.
    pub fn hollow(&self) -> Hollow {
        Hollow {
            backend: self.overlay.backend().clone(),
            env: self.env,
            vm: self.vm.clone(),
        }
    }

    /// Whether this is such a stand-in.
    pub fn is_hollow(&self) -> bool {
        self.hollow
    }
}

/// What a stand-in context is made of, kept by a frame in case it loses the real one.
pub(crate) struct Hollow {
    backend: Arc<dyn StateReader>,
    env: BlockEnv,
    vm: Arc<Vm>,
}

impl Hollow {
    /// The stand-in context.
    pub fn build(self) -> Box<TxContext> {
        Box::new(TxContext {
            overlay: Overlay::new(self.backend),
            env: self.env,
            vm: self.vm,
            stack: Vec::new(),
            hollow: true,
            trace: None,
        })
    }
}

/// How a frame ended through the ABI.
pub(crate) enum Exit {
    Return(Vec<u8>),
    Revert(Vec<u8>),
}

/// Errors raised by host functions.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostTrap {
    /// `return` or `revert` was called; the payload is in [`HostState::exit`].
    #[error("contract exited")]
    Exit,
    #[error("out of gas")]
    OutOfGas,
    #[error("{0}")]
    Abort(String),
    /// The state backend failed: not the contract's fault, aborts block execution.
    #[error(transparent)]
    Store(StoreError),
}

impl wasmi::errors::HostError for HostTrap {}

/// Bounds memory and table growth and records pages to charge.
#[derive(Default)]
pub(crate) struct Limiter {
    pub pending_pages: u64,
}

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> Result<bool, LimiterError> {
        if desired as u64 > u64::from(MAX_MEMORY_PAGES) * PAGE_SIZE {
            return Ok(false);
        }
        self.pending_pages += (desired.saturating_sub(current) as u64).div_ceil(PAGE_SIZE);
        Ok(true)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> Result<bool, LimiterError> {
        Ok(desired as u64 <= MAX_TABLE_ELEMENTS)
    }
    fn instances(&self) -> usize {
        1
    }
    fn tables(&self) -> usize {
        1
    }
    fn memories(&self) -> usize {
        1
    }
}

/// Data of a wasmi store: the running frame's, or empty while the store is idle in the pool.
pub(crate) struct HostState {
    /// The transaction's context: `None` while a nested frame holds it or the store is idle.
    pub tx: Option<Box<TxContext>>,
    pub memory: Option<Memory>,
    pub contract: Address,
    pub caller: Address,
    pub value: u128,
    pub input: Vec<u8>,
    pub exit: Option<Exit>,
    /// Return data of the last nested call or instantiation.
    pub return_data: Vec<u8>,
    pub limiter: Limiter,
    pub schedule: GasSchedule,
}

impl HostState {
    /// The state of a frame of `contract` running for `caller`.
    pub fn frame(
        tx: Box<TxContext>,
        contract: Address,
        caller: Address,
        value: u128,
        input: Vec<u8>,
        schedule: GasSchedule,
    ) -> Self {
        Self {
            tx: Some(tx),
            memory: None,
            contract,
            caller,
            value,
            input,
            exit: None,
            return_data: Vec::new(),
            limiter: Limiter::default(),
            schedule,
        }
    }

    /// Forgets the last frame (the store goes idle).
    pub fn clear(&mut self) {
        self.tx = None;
        self.input = Vec::new();
        self.exit = None;
        self.return_data = Vec::new();
        self.limiter = Limiter::default();
    }

    fn tx(&self) -> Result<&TxContext, Error> {
        self.tx.as_deref().ok_or_else(lost_context)
    }

    fn tx_mut(&mut self) -> Result<&mut TxContext, Error> {
        self.tx.as_deref_mut().ok_or_else(lost_context)
    }
}

/// A host function found no transaction context in its store: only an engine fault can cause
/// that, and the frame fails with a backend error (see `frame::run_frame`).
fn lost_context() -> Error {
    store_err(StoreError::Backend(
        "engine fault: a frame lost its transaction's state".into(),
    ))
}

type C<'a> = Caller<'a, HostState>;

pub(crate) fn abort(msg: impl Into<String>) -> Error {
    Error::host(HostTrap::Abort(msg.into()))
}

fn store_err(e: StoreError) -> Error {
    Error::host(HostTrap::Store(e))
}

/// Whether this frame's transaction is traced.
fn tracing(c: &C) -> bool {
    c.data().tx.as_ref().is_some_and(|t| t.trace.is_some())
}

/// The trace's recorder, when the transaction is traced.
fn recorder<'a>(c: &'a mut C) -> Option<&'a mut Recorder> {
    c.data_mut().tx.as_mut()?.trace.as_deref_mut()
}

/// Notes what the running host call did, when the transaction is traced (`op` is built only
/// then).
fn note(c: &mut C, op: impl FnOnce() -> Op) {
    if let Some(t) = recorder(c) {
        t.note(op());
    }
}

/// A host function's answer, as a trace records it.
trait Answer {
    fn number(&self) -> Option<i64>;
    fn trap(&self) -> Option<String>;
}

macro_rules! answer {
    ($($t:ty => $n:expr),*) => {$(
        impl Answer for Result<$t, Error> {
            fn number(&self) -> Option<i64> {
                #[allow(clippy::redundant_closure_call)]
                self.as_ref().ok().and_then(|v| ($n)(*v))
            }
            fn trap(&self) -> Option<String> {
                trap_of(self.as_ref().err())
            }
        }
    )*};
}

answer!(() => |_| None, i32 => |v: i32| Some(i64::from(v)), i64 => Some);

/// The trap a host call ended its frame with; `return` and `revert` are recorded as ops.
fn trap_of(e: Option<&Error>) -> Option<String> {
    let e = e?;
    match e.downcast_ref::<HostTrap>() {
        Some(HostTrap::Exit) => None,
        _ => Some(e.to_string()),
    }
}

/// Records the host call `name` that started with `before` gas left and answered `r`.
fn record_step(c: &mut C, name: &'static str, before: u64, r: &impl Answer) {
    let gas = before.saturating_sub(c.get_fuel().unwrap_or(0));
    if let Some(t) = recorder(c) {
        t.step(name, gas, r.number(), r.trap());
    }
}

/// Charges `gas` plus any memory growth not yet paid.
pub(crate) fn charge(c: &mut C, gas: u64) -> Result<(), Error> {
    let pages = std::mem::take(&mut c.data_mut().limiter.pending_pages);
    let total = gas.saturating_add(mul(pages, c.data().schedule.memory_per_page));
    let fuel = c.get_fuel()?;
    if fuel < total {
        c.set_fuel(0)?;
        return Err(Error::host(HostTrap::OutOfGas));
    }
    c.set_fuel(fuel - total)
}

/// Charges the base cost of a host call plus `bytes` copied.
fn charge_io(c: &mut C, extra: u64, bytes: u64) -> Result<(), Error> {
    let s = c.data().schedule;
    charge(
        c,
        s.host_call_base
            .saturating_add(extra)
            .saturating_add(mul(bytes, s.host_per_byte)),
    )
}

fn memory(c: &C) -> Result<Memory, Error> {
    c.data()
        .memory
        .ok_or_else(|| abort("contract memory is not available"))
}

fn range(ptr: i32, len: u64, mem_len: usize, what: &str) -> Result<std::ops::Range<usize>, Error> {
    let start = ptr as u32 as u64;
    let end = start.saturating_add(len);
    if end > mem_len as u64 {
        return Err(abort(format!(
            "{what}: range {start}..{end} is outside memory of {mem_len} bytes"
        )));
    }
    Ok(start as usize..end as usize)
}

fn len_arg(len: i32, max: usize, what: &str) -> Result<u64, Error> {
    let len = len as u32 as u64;
    if len > max as u64 {
        return Err(abort(format!(
            "{what}: length {len} exceeds the limit of {max}"
        )));
    }
    Ok(len)
}

fn read(c: &C, ptr: i32, len: u64, what: &str) -> Result<Vec<u8>, Error> {
    let mem = memory(c)?.data(c);
    Ok(mem[range(ptr, len, mem.len(), what)?].to_vec())
}

fn read_array<const N: usize>(c: &C, ptr: i32, what: &str) -> Result<[u8; N], Error> {
    let mem = memory(c)?.data(c);
    let mut out = [0u8; N];
    out.copy_from_slice(&mem[range(ptr, N as u64, mem.len(), what)?]);
    Ok(out)
}

fn write(c: &mut C, ptr: i32, data: &[u8], what: &str) -> Result<(), Error> {
    let m = memory(c)?;
    let mem = m.data_mut(c);
    let r = range(ptr, data.len() as u64, mem.len(), what)?;
    mem[r].copy_from_slice(data);
    Ok(())
}

fn check(c: &C, ptr: i32, len: u64, what: &str) -> Result<(), Error> {
    let n = memory(c)?.data(c).len();
    range(ptr, len, n, what).map(|_| ())
}

fn read_u128(c: &C, ptr: i32, what: &str) -> Result<u128, Error> {
    Ok(u128::from_le_bytes(read_array::<16>(c, ptr, what)?))
}

fn exit(c: &mut C, ptr: i32, len: i32, revert: bool) -> Result<(), Error> {
    let what = if revert { "revert" } else { "return" };
    let len = len_arg(len, MAX_RETURN_DATA, what)?;
    charge_io(c, 0, len)?;
    let data = read(c, ptr, len, what)?;
    note(c, || {
        if revert {
            Op::Revert(data.clone())
        } else {
            Op::Return(data.clone())
        }
    });
    c.data_mut().exit = Some(if revert {
        Exit::Revert(data)
    } else {
        Exit::Return(data)
    });
    Err(Error::host(HostTrap::Exit))
}

/// Whether `key` of `contract` holds a value, and (only when the transaction is traced, for
/// the trace) that value: what a write or removal replaces. Untraced, only its length is read.
fn replaced(c: &C, contract: &Address, key: &[u8]) -> Result<(bool, Option<Vec<u8>>), Error> {
    let overlay = &c.data().tx()?.overlay;
    if tracing(c) {
        let old = overlay.storage(contract, key).map_err(store_err)?;
        return Ok((old.is_some(), old));
    }
    let exists = overlay
        .storage_len(contract, key)
        .map_err(store_err)?
        .is_some();
    Ok((exists, None))
}

fn storage_key(c: &mut C, ptr: i32, len: i32, extra: u64) -> Result<Vec<u8>, Error> {
    let len = len_arg(len, MAX_STORAGE_KEY, "storage key")?;
    charge_io(c, extra, len)?;
    read(c, ptr, len, "storage key")
}

fn hash_fn(c: &mut C, ptr: i32, len: i32, dst: i32, keccak: bool) -> Result<(), Error> {
    let s = c.data().schedule;
    let len = len as u32 as u64;
    let (base, per) = if keccak {
        (s.keccak256_base, s.keccak256_per_byte)
    } else {
        (s.sha256_base, s.sha256_per_byte)
    };
    // Bounds first: a bad pointer traps rather than running the contract out of gas.
    check(c, ptr, len, "hash input")?;
    check(c, dst, 32, "hash output")?;
    charge_io(c, base.saturating_add(mul(per, len)), len + 32)?;
    let m = memory(c)?;
    let mem = m.data_mut(&mut *c);
    let r = range(ptr, len, mem.len(), "hash input")?;
    let digest = if keccak {
        crypto::keccak256(&mem[r])
    } else {
        crypto::sha256(&mem[r])
    };
    let d = range(dst, 32, mem.len(), "hash output")?;
    mem[d].copy_from_slice(&digest);
    note(c, || Op::Digest {
        input_len: len,
        digest: Hash(digest),
    });
    Ok(())
}

fn verify_fn(c: &mut C, pk: i32, msg: i32, msg_len: i32, sig: i32, sr: bool) -> Result<i32, Error> {
    let s = c.data().schedule;
    let len = msg_len as u32 as u64;
    let base = if sr {
        s.sr25519_verify
    } else {
        s.ed25519_verify
    };
    check(c, msg, len, "message")?;
    charge_io(
        c,
        base.saturating_add(mul(s.verify_per_byte, len)),
        len + 96,
    )?;
    let pk = read_array::<32>(c, pk, "public key")?;
    let sig = read_array::<64>(c, sig, "signature")?;
    let mem = memory(c)?.data(&*c);
    let msg = &mem[range(msg, len, mem.len(), "message")?];
    let ok = if sr {
        crypto::sr25519_verify(&pk, msg, &sig)
    } else {
        crypto::ed25519_verify(&pk, msg, &sig)
    };
    note(c, || Op::Verify {
        public_key: pk,
        valid: ok,
    });
    Ok(ok as i32)
}

fn status_code(status: Status) -> i32 {
    match status {
        Status::Success => cs::SUCCESS,
        Status::Revert => cs::REVERTED,
        Status::OutOfGas => cs::OUT_OF_GAS,
        Status::Trap | Status::InvalidModule | Status::Rejected => cs::TRAPPED,
    }
}

/// Runs a nested frame with the transaction context moved out of this frame's store.
fn nested(c: &mut C, req: FrameRequest, gas_arg: i64) -> Result<(Status, Vec<u8>), Error> {
    let fuel = c.get_fuel()?;
    let limit = if gas_arg <= 0 {
        fuel
    } else {
        (gas_arg as u64).min(fuel)
    };
    let tx = c.data_mut().tx.take().ok_or_else(lost_context)?;
    let (tx, result) = frame::run_frame(
        tx,
        FrameRequest {
            gas_limit: limit,
            ..req
        },
    );
    c.data_mut().tx = Some(tx);
    let result = result.map_err(store_err)?;
    c.set_fuel(fuel.saturating_sub(result.gas_used))?;
    Ok((result.status, result.data))
}

#[allow(clippy::too_many_arguments)]
fn host_call(
    c: &mut C,
    addr: i32,
    method: i32,
    method_len: i32,
    input: i32,
    input_len: i32,
    value: i32,
    gas: i64,
) -> Result<i32, Error> {
    let method_len = len_arg(method_len, MAX_METHOD_NAME, "method name")?;
    let input_len = input_len as u32 as u64;
    check(c, input, input_len, "call input")?;
    let s = c.data().schedule;
    charge_io(c, s.call_base, 32 + 16 + method_len + input_len)?;
    let target = Address(read_array(c, addr, "callee address")?);
    let method = String::from_utf8(read(c, method, method_len, "method name")?)
        .map_err(|_| abort("method name is not UTF-8"))?;
    let input = read(c, input, input_len, "call input")?;
    let value = read_u128(c, value, "call value")?;
    c.data_mut().return_data.clear();
    let traced = tracing(c).then(|| (target, method.clone()));
    let code = call_target(c, target, method, input, value, gas);
    if let Some((callee, method)) = traced {
        let frame = recorder(c).and_then(Recorder::take_ended);
        note(c, || Op::Call {
            callee,
            method,
            value,
            frame,
        });
    }
    code
}

/// The part of `call` after its arguments are read: checks, then the callee's frame.
fn call_target(
    c: &mut C,
    target: Address,
    method: String,
    input: Vec<u8>,
    value: u128,
    gas: i64,
) -> Result<i32, Error> {
    let me = c.data().contract;
    let tx = c.data().tx()?;
    if tx.stack.len() >= MAX_CALL_DEPTH {
        return Ok(cs::DEPTH_EXCEEDED);
    }
    let Some(code_hash) = tx
        .overlay
        .account(&target)
        .map_err(store_err)?
        .and_then(|a| a.code_hash)
    else {
        return Ok(cs::NOT_FOUND);
    };
    let compiled = match tx.vm.load(&code_hash, &tx.overlay) {
        Ok(c) => c,
        Err(LoadError::Store(e)) => return Err(store_err(e)),
        // This node's engine failed, not the code: the block cannot be executed here.
        Err(LoadError::Compile(e @ CompileError::Engine(_))) => {
            return Err(store_err(StoreError::Backend(e.to_string())));
        }
        Err(_) => return Ok(cs::NOT_FOUND),
    };
    // A migration runs only in an upgrade (`MIGRATION_PREFIX`).
    if !compiled.info.methods.contains(&method) || method.starts_with(super::abi::MIGRATION_PREFIX)
    {
        return Ok(cs::NOT_FOUND);
    }
    if tx.stack.contains(&target) && !compiled.info.reentrant {
        return Ok(cs::REENTRANCY_REFUSED);
    }
    if tx.overlay.balance(&me).map_err(store_err)? < value {
        return Ok(cs::INSUFFICIENT_BALANCE);
    }
    let req = FrameRequest {
        contract: target,
        caller: me,
        value,
        input,
        entry: Entry::Method(method),
        gas_limit: 0,
        compiled,
    };
    let (status, data) = nested(c, req, gas)?;
    c.data_mut().return_data = data;
    Ok(status_code(status))
}

#[allow(clippy::too_many_arguments)]
fn host_instantiate(
    c: &mut C,
    code_hash: i32,
    salt: i32,
    salt_len: i32,
    input: i32,
    input_len: i32,
    value: i32,
    gas: i64,
    addr_out: i32,
) -> Result<i32, Error> {
    let salt_len = len_arg(salt_len, MAX_SALT, "salt")?;
    let input_len = input_len as u32 as u64;
    check(c, input, input_len, "constructor input")?;
    let s = c.data().schedule;
    // `instantiate_base` is charged by the new frame, as for an `Instantiate` transaction.
    charge_io(c, s.call_base, 32 + 16 + 32 + salt_len + input_len)?;
    let code_hash = Hash(read_array(c, code_hash, "code hash")?);
    let salt = read(c, salt, salt_len, "salt")?;
    let input = read(c, input, input_len, "constructor input")?;
    let value = read_u128(c, value, "value")?;
    check(c, addr_out, 32, "address output")?;
    c.data_mut().return_data.clear();
    let me = c.data().contract;
    let address = crate::types::contract_address(&me, &code_hash, &salt);
    let traced = tracing(c).then(|| salt.clone());
    let code = instantiate_at(c, code_hash, address, input, value, gas, addr_out);
    if let Some(salt) = traced {
        let frame = recorder(c).and_then(Recorder::take_ended);
        note(c, || Op::Instantiate {
            code_hash,
            salt,
            value,
            address,
            frame,
        });
    }
    code
}

/// The part of `instantiate` after its arguments are read: checks, then the constructor's
/// frame.
fn instantiate_at(
    c: &mut C,
    code_hash: Hash,
    address: Address,
    input: Vec<u8>,
    value: u128,
    gas: i64,
    addr_out: i32,
) -> Result<i32, Error> {
    let me = c.data().contract;
    let tx = c.data().tx()?;
    if tx.stack.len() >= MAX_CALL_DEPTH {
        return Ok(cs::DEPTH_EXCEEDED);
    }
    let existing = tx.overlay.account(&address).map_err(store_err)?;
    if existing.as_ref().is_some_and(Account::is_contract) {
        return Ok(cs::NOT_FOUND);
    }
    let compiled = match tx.vm.load(&code_hash, &tx.overlay) {
        Ok(c) => c,
        Err(LoadError::Store(e)) => return Err(store_err(e)),
        // This node's engine failed, not the code: the block cannot be executed here.
        Err(LoadError::Compile(e @ CompileError::Engine(_))) => {
            return Err(store_err(StoreError::Backend(e.to_string())));
        }
        Err(_) => return Ok(cs::NOT_FOUND),
    };
    if tx.overlay.balance(&me).map_err(store_err)? < value {
        return Ok(cs::INSUFFICIENT_BALANCE);
    }
    let cp = c.data().tx()?.overlay.checkpoint();
    let mut account = existing.unwrap_or_default();
    account.code_hash = Some(code_hash);
    c.data_mut().tx_mut()?.overlay.set_account(address, account);
    let req = FrameRequest {
        contract: address,
        caller: me,
        value,
        input,
        entry: Entry::Constructor,
        gas_limit: 0,
        compiled,
    };
    let (status, data) = nested(c, req, gas)?;
    c.data_mut().return_data = data;
    if status == Status::Success {
        write(c, addr_out, address.as_bytes(), "address output")?;
    } else {
        c.data_mut().tx_mut()?.overlay.revert_to(cp);
    }
    Ok(status_code(status))
}

/// Builds the linker holding every host function of [`super::abi::HOST_FUNCTIONS`].
pub(crate) fn linker(engine: &Engine) -> Linker<HostState> {
    let mut l = Linker::new(engine);
    macro_rules! def {
        ($name:literal, |mut $c:ident: C $(, $p:ident: $t:ty)* $(,)?| -> $r:ty $body:block) => {
            let f = |mut $c: C $(, $p: $t)*| -> $r {
                let _timer = Timer::start(Span::Host($name));
                let before = tracing(&$c).then(|| $c.get_fuel().unwrap_or(0));
                #[allow(clippy::redundant_closure_call)]
                let r: $r = (|| $body)();
                if let Some(before) = before {
                    record_step(&mut $c, $name, before, &r);
                }
                r
            };
            def!($name, f);
        };
        ($name:literal, $f:expr) => {
            if let Err(e) = l.func_wrap("env", $name, $f) {
                // Only reachable if a name is defined twice, which the ABI table test rules out.
                debug_assert!(false, "duplicate host function {}: {e}", $name);
            }
        };
    }

    def!("input_len", |mut c: C| -> Result<i32, Error> {
        charge_io(&mut c, 0, 0)?;
        Ok(c.data().input.len() as i32)
    });
    def!("input_read", |mut c: C, dst: i32| -> Result<(), Error> {
        let len = c.data().input.len() as u64;
        charge_io(&mut c, 0, len)?;
        let m = memory(&c)?;
        let (mem, st) = m.data_and_store_mut(&mut c);
        let r = range(dst, len, mem.len(), "input destination")?;
        mem[r].copy_from_slice(&st.input);
        if tracing(&c) {
            let input = c.data().input.clone();
            note(&mut c, || Op::Read(input));
        }
        Ok(())
    });
    def!("return", |mut c: C, p: i32, l: i32| -> Result<(), Error> {
        exit(&mut c, p, l, false)
    });
    def!("revert", |mut c: C, p: i32, l: i32| -> Result<(), Error> {
        exit(&mut c, p, l, true)
    });
    def!("storage_read", |mut c: C,
                          kp: i32,
                          kl: i32,
                          dst: i32,
                          cap: i32|
     -> Result<i32, Error> {
        let s = c.data().schedule;
        let key = storage_key(&mut c, kp, kl, s.storage_read)?;
        let cap = cap as u32 as u64;
        check(&c, dst, cap, "storage read destination")?;
        let me = c.data().contract;
        let Some(value) = c
            .data()
            .tx()?
            .overlay
            .storage(&me, &key)
            .map_err(store_err)?
        else {
            note(&mut c, || Op::StorageRead { key, value: None });
            return Ok(-1);
        };
        charge(&mut c, mul(value.len() as u64, s.host_per_byte))?;
        if value.len() as u64 <= cap {
            write(&mut c, dst, &value, "storage read destination")?;
        }
        let len = value.len() as i32;
        note(&mut c, || Op::StorageRead {
            key,
            value: Some(value),
        });
        Ok(len)
    });
    def!("storage_write", |mut c: C,
                           kp: i32,
                           kl: i32,
                           vp: i32,
                           vl: i32|
     -> Result<(), Error> {
        let s = c.data().schedule;
        let vlen = len_arg(vl, MAX_STORAGE_VALUE, "storage value")?;
        let klen = kl as u32 as u64;
        let key = storage_key(
            &mut c,
            kp,
            kl,
            mul(s.storage_write_per_byte, klen + vlen).saturating_add(mul(s.host_per_byte, vlen)),
        )?;
        let value = read(&c, vp, vlen, "storage value")?;
        let me = c.data().contract;
        let (exists, old) = replaced(&c, &me, &key)?;
        charge(
            &mut c,
            if exists {
                s.storage_write_overwrite
            } else {
                s.storage_write_new
            },
        )?;
        note(&mut c, || Op::StorageWrite {
            key: key.clone(),
            old,
            new: value.clone(),
        });
        c.data_mut()
            .tx_mut()?
            .overlay
            .set_storage(me, key, Some(value));
        Ok(())
    });
    def!("storage_remove", |mut c: C,
                            kp: i32,
                            kl: i32|
     -> Result<i32, Error> {
        let s = c.data().schedule;
        let key = storage_key(&mut c, kp, kl, s.storage_remove)?;
        let me = c.data().contract;
        let (exists, old) = replaced(&c, &me, &key)?;
        note(&mut c, || Op::StorageRemove {
            key: key.clone(),
            old,
        });
        if exists {
            c.data_mut().tx_mut()?.overlay.set_storage(me, key, None);
        }
        Ok(exists as i32)
    });
    def!("storage_has", |mut c: C,
                         kp: i32,
                         kl: i32|
     -> Result<i32, Error> {
        let s = c.data().schedule;
        let key = storage_key(&mut c, kp, kl, s.storage_read)?;
        let me = c.data().contract;
        let present = c
            .data()
            .tx()?
            .overlay
            .storage_len(&me, &key)
            .map_err(store_err)?
            .is_some();
        note(&mut c, || Op::StorageHas { key, present });
        Ok(present as i32)
    });
    def!("caller", |mut c: C, dst: i32| -> Result<(), Error> {
        charge_io(&mut c, 0, 32)?;
        let a = c.data().caller;
        note(&mut c, || Op::Address(a));
        write(&mut c, dst, a.as_bytes(), "caller destination")
    });
    def!("address", |mut c: C, dst: i32| -> Result<(), Error> {
        charge_io(&mut c, 0, 32)?;
        let a = c.data().contract;
        note(&mut c, || Op::Address(a));
        write(&mut c, dst, a.as_bytes(), "address destination")
    });
    def!("value", |mut c: C, dst: i32| -> Result<(), Error> {
        charge_io(&mut c, 0, 16)?;
        let v = c.data().value;
        note(&mut c, || Op::Value(v));
        write(&mut c, dst, &v.to_le_bytes(), "value destination")
    });
    def!("balance", |mut c: C, dst: i32| -> Result<(), Error> {
        let s = c.data().schedule;
        charge_io(&mut c, s.balance_read, 16)?;
        let me = c.data().contract;
        let b = c.data().tx()?.overlay.balance(&me).map_err(store_err)?;
        note(&mut c, || Op::Balance { of: me, balance: b });
        write(&mut c, dst, &b.to_le_bytes(), "balance destination")
    });
    def!("balance_of", |mut c: C,
                        addr: i32,
                        dst: i32|
     -> Result<(), Error> {
        let s = c.data().schedule;
        charge_io(&mut c, s.balance_read, 48)?;
        let who = Address(read_array(&c, addr, "account address")?);
        check(&c, dst, 16, "balance destination")?;
        let b = c.data().tx()?.overlay.balance(&who).map_err(store_err)?;
        note(&mut c, || Op::Balance {
            of: who,
            balance: b,
        });
        write(&mut c, dst, &b.to_le_bytes(), "balance destination")
    });
    def!("transfer", |mut c: C,
                      to: i32,
                      amount: i32|
     -> Result<i32, Error> {
        let s = c.data().schedule;
        charge_io(&mut c, s.transfer, 48)?;
        let to = Address(read_array(&c, to, "recipient address")?);
        let amount = read_u128(&c, amount, "amount")?;
        let me = c.data().contract;
        let ok = c
            .data_mut()
            .tx_mut()?
            .overlay
            .transfer(&me, &to, amount)
            .map_err(store_err)?;
        note(&mut c, || Op::Transfer { to, amount, ok });
        Ok(if ok { 0 } else { 1 })
    });
    def!("block_height", |mut c: C| -> Result<i64, Error> {
        charge_io(&mut c, 0, 0)?;
        Ok(c.data().tx()?.env.height as i64)
    });
    def!("block_timestamp", |mut c: C| -> Result<i64, Error> {
        charge_io(&mut c, 0, 0)?;
        Ok(c.data().tx()?.env.timestamp_ms as i64)
    });
    def!("chain_id", |mut c: C| -> Result<i64, Error> {
        charge_io(&mut c, 0, 0)?;
        Ok(c.data().tx()?.env.chain_id as i64)
    });
    def!("gas_left", |mut c: C| -> Result<i64, Error> {
        charge_io(&mut c, 0, 0)?;
        Ok(c.get_fuel()? as i64)
    });
    def!("sha256", |mut c: C,
                    p: i32,
                    l: i32,
                    d: i32|
     -> Result<(), Error> {
        hash_fn(&mut c, p, l, d, false)
    });
    def!("keccak256", |mut c: C,
                       p: i32,
                       l: i32,
                       d: i32|
     -> Result<(), Error> {
        hash_fn(&mut c, p, l, d, true)
    });
    def!("ed25519_verify", |mut c: C,
                            pk: i32,
                            m: i32,
                            ml: i32,
                            sig: i32|
     -> Result<i32, Error> {
        verify_fn(&mut c, pk, m, ml, sig, false)
    });
    def!("sr25519_verify", |mut c: C,
                            pk: i32,
                            m: i32,
                            ml: i32,
                            sig: i32|
     -> Result<i32, Error> {
        verify_fn(&mut c, pk, m, ml, sig, true)
    });
    def!("emit_event", |mut c: C,
                        tp: i32,
                        tn: i32,
                        dp: i32,
                        dl: i32|
     -> Result<(), Error> {
        let s = c.data().schedule;
        let n = len_arg(tn, MAX_EVENT_TOPICS, "event topics")?;
        let dl = len_arg(dl, MAX_EVENT_DATA, "event data")?;
        let extra = s
            .event_base
            .saturating_add(mul(n, s.event_per_topic))
            .saturating_add(mul(dl, s.event_per_byte));
        charge_io(&mut c, extra, n * 32 + dl)?;
        let raw = read(&c, tp, n * 32, "event topics")?;
        let data = read(&c, dp, dl, "event data")?;
        let topics: Vec<Hash> = raw
            .chunks_exact(32)
            .map(|t| {
                let mut h = [0u8; 32];
                h.copy_from_slice(t);
                Hash(h)
            })
            .collect();
        let contract = c.data().contract;
        note(&mut c, || Op::Event {
            topics: topics.clone(),
            data: data.clone(),
        });
        c.data_mut().tx_mut()?.overlay.emit(Event {
            contract,
            topics,
            data,
        });
        Ok(())
    });
    def!("call", |mut c: C,
                  addr: i32,
                  method: i32,
                  method_len: i32,
                  input: i32,
                  input_len: i32,
                  value: i32,
                  gas: i64|
     -> Result<i32, Error> {
        host_call(
            &mut c, addr, method, method_len, input, input_len, value, gas,
        )
    });
    def!("instantiate", |mut c: C,
                         code_hash: i32,
                         salt: i32,
                         salt_len: i32,
                         input: i32,
                         input_len: i32,
                         value: i32,
                         gas: i64,
                         addr_out: i32|
     -> Result<i32, Error> {
        host_instantiate(
            &mut c, code_hash, salt, salt_len, input, input_len, value, gas, addr_out,
        )
    });
    def!("return_data_len", |mut c: C| -> Result<i32, Error> {
        charge_io(&mut c, 0, 0)?;
        Ok(c.data().return_data.len() as i32)
    });
    def!("return_data_read", |mut c: C,
                              dst: i32|
     -> Result<(), Error> {
        let len = c.data().return_data.len() as u64;
        charge_io(&mut c, 0, len)?;
        let m = memory(&c)?;
        let (mem, st) = m.data_and_store_mut(&mut c);
        let r = range(dst, len, mem.len(), "return data destination")?;
        mem[r].copy_from_slice(&st.return_data);
        if tracing(&c) {
            let data = c.data().return_data.clone();
            note(&mut c, || Op::Read(data));
        }
        Ok(())
    });
    l
}
