//! Opt-in execution traces: what a transaction's frames did, host call by host call. Off unless
//! the caller asks for one ([`crate::executor::Executor::apply_traced`]); then each host call
//! records its gas, its arguments and results (storage reads and writes with old and new
//! values, transfers, events, nested calls and instantiations as frames of their own) and each
//! frame its caller, callee, entry point, value, input, gas limit and use, and how it ended.
//!
//! Recording never touches gas, receipts or state: it reads what the host function has at hand
//! (or, for a write's old value, the overlay, which a read does not change). A trace is bounded
//! ([`MAX_TRACE_STEPS`] host calls and frames, [`MAX_TRACE_BYTES`] of recorded data); past
//! either bound the rest is not recorded and the trace says it was truncated.

use crate::types::{Address, Hash, Status};

/// Host calls and frames one trace records at most.
pub const MAX_TRACE_STEPS: usize = 100_000;
/// Bytes of recorded data (keys, values, inputs, event data) one trace holds at most: as hex
/// in JSON, with decoded forms, it stays within an RPC answer (16 MiB by default).
pub const MAX_TRACE_BYTES: usize = 4 << 20;

/// The trace of one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The outermost frame (a call, an instantiation or an upgrade's migration); `None` for
    /// an action without contract code (a transfer, an upload) or one refused before a frame
    /// started (no such contract or method, unpayable fee, …).
    pub frame: Option<Frame>,
    /// Whether the bounds cut the trace short (the receipt is whole either way).
    pub truncated: bool,
}

/// One contract execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Who called: the transaction's sender, or the calling contract.
    pub caller: Address,
    /// The contract running.
    pub contract: Address,
    /// Its code.
    pub code_hash: Hash,
    /// The method run; `None` for the constructor of an instantiation.
    pub method: Option<String>,
    /// Value sent with the call.
    pub value: u128,
    /// The call's input.
    pub input: Vec<u8>,
    /// Gas the frame could use.
    pub gas_limit: u64,
    /// Gas it used, its nested frames included.
    pub gas_used: u64,
    /// How it ended.
    pub status: Status,
    /// What it returned, or its revert payload.
    pub output: Vec<u8>,
    /// The engine's message for a failure (trap, out of gas, revert).
    pub error: Option<String>,
    /// Its host calls in order.
    pub steps: Vec<Step>,
}

/// One host call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The host function (`env` module name).
    pub host: &'static str,
    /// Gas it cost, a nested frame's included.
    pub gas: u64,
    /// What it did, when it did more than answer a number.
    pub op: Option<Op>,
    /// The number it answered (an `i32`/`i64` result), if any.
    pub result: Option<i64>,
    /// Why it stopped the frame (out of gas, a bad pointer, …), if it did; `return` and
    /// `revert` end the frame too, recorded as their [`Op`].
    pub trap: Option<String>,
}

/// What a host call did. Fields are named for what they hold (keys and values are the raw
/// bytes the contract passed or got).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `storage_read`: the value found, if any.
    StorageRead {
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    },
    /// `storage_has`.
    StorageHas { key: Vec<u8>, present: bool },
    /// `storage_write`: the value replaced, if any, and the new one.
    StorageWrite {
        key: Vec<u8>,
        old: Option<Vec<u8>>,
        new: Vec<u8>,
    },
    /// `storage_remove`: the value removed, if any.
    StorageRemove { key: Vec<u8>, old: Option<Vec<u8>> },
    /// `transfer`: whether the balance sufficed.
    Transfer { to: Address, amount: u128, ok: bool },
    /// `balance` and `balance_of`.
    Balance { of: Address, balance: u128 },
    /// `caller`, `address`: the address answered.
    Address(Address),
    /// `value`: the value answered.
    Value(u128),
    /// `input_read`, `return_data_read`: the bytes copied in.
    Read(Vec<u8>),
    /// `sha256`, `keccak256`.
    Digest { input_len: u64, digest: Hash },
    /// `ed25519_verify`, `sr25519_verify`.
    Verify { public_key: [u8; 32], valid: bool },
    /// `emit_event`.
    Event { topics: Vec<Hash>, data: Vec<u8> },
    /// `return`.
    Return(Vec<u8>),
    /// `revert`.
    Revert(Vec<u8>),
    /// `call`: the call status code answered ([`crate::vm::call_status`]) and the callee's
    /// frame, if one ran (none when the callee, its method or the caller's balance was
    /// missing, or the depth or reentrancy rule refused it).
    Call {
        callee: Address,
        method: String,
        value: u128,
        frame: Option<Box<Frame>>,
    },
    /// `instantiate`: the new contract's address and its constructor's frame, if one ran.
    Instantiate {
        code_hash: Hash,
        salt: Vec<u8>,
        value: u128,
        address: Address,
        frame: Option<Box<Frame>>,
    },
}

impl Op {
    /// Bytes of recorded data, for the trace's bound.
    fn bytes(&self) -> usize {
        match self {
            Op::StorageRead { key, value } => key.len() + value.as_ref().map_or(0, Vec::len),
            Op::StorageHas { key, .. } => key.len(),
            Op::StorageWrite { key, old, new } => {
                key.len() + old.as_ref().map_or(0, Vec::len) + new.len()
            }
            Op::StorageRemove { key, old } => key.len() + old.as_ref().map_or(0, Vec::len),
            Op::Read(d) | Op::Return(d) | Op::Revert(d) => d.len(),
            Op::Event { topics, data } => topics.len() * 32 + data.len(),
            Op::Call { method, .. } => method.len(),
            Op::Instantiate { salt, .. } => salt.len(),
            Op::Transfer { .. }
            | Op::Balance { .. }
            | Op::Address(_)
            | Op::Value(_)
            | Op::Digest { .. }
            | Op::Verify { .. } => 0,
        }
    }
}

/// What a frame's entry records.
pub(crate) struct Entered {
    pub caller: Address,
    pub contract: Address,
    pub code_hash: Hash,
    pub method: Option<String>,
    pub value: u128,
    pub input: Vec<u8>,
    pub gas_limit: u64,
}

/// Records a transaction's trace as its frames run. Lives in the transaction's context.
#[derive(Default)]
pub(crate) struct Recorder {
    /// Frames entered and not yet ended, outermost first; `None` for one entered past the
    /// bounds (its end is matched, nothing recorded).
    open: Vec<Option<Frame>>,
    /// The last frame ended, until the host call that ran it (or the executor) takes it.
    ended: Option<Frame>,
    /// What the running host call did, noted by it for [`Recorder::step`].
    op: Option<Op>,
    steps: usize,
    bytes: usize,
    truncated: bool,
}

impl Recorder {
    /// Whether `bytes` more (and one more step) fit; past the bounds, marks the trace
    /// truncated.
    fn room(&mut self, bytes: usize) -> bool {
        if self.truncated
            || self.steps >= MAX_TRACE_STEPS
            || self.bytes.saturating_add(bytes) > MAX_TRACE_BYTES
        {
            self.truncated = true;
            return false;
        }
        self.steps += 1;
        self.bytes += bytes;
        true
    }

    /// A frame starts.
    pub fn enter(&mut self, e: Entered) {
        let frame = self.room(e.input.len()).then(|| Frame {
            caller: e.caller,
            contract: e.contract,
            code_hash: e.code_hash,
            method: e.method,
            value: e.value,
            input: e.input,
            gas_limit: e.gas_limit,
            gas_used: 0,
            status: Status::Success,
            output: Vec::new(),
            error: None,
            steps: Vec::new(),
        });
        self.open.push(frame);
    }

    /// The running frame ends.
    pub fn end(&mut self, status: Status, gas_used: u64, output: &[u8], error: Option<&str>) {
        let Some(frame) = self.open.pop() else { return };
        self.ended = frame.map(|mut f| {
            f.status = status;
            f.gas_used = gas_used;
            if self.bytes.saturating_add(output.len()) <= MAX_TRACE_BYTES {
                self.bytes += output.len();
                f.output = output.to_vec();
            } else {
                self.truncated = true;
            }
            f.error = error.map(str::to_string);
            f
        });
    }

    /// Notes what the running host call did.
    pub fn note(&mut self, op: Op) {
        self.op = Some(op);
    }

    /// The frame that ended last, taken (by the host call that ran it).
    pub fn take_ended(&mut self) -> Option<Box<Frame>> {
        self.ended.take().map(Box::new)
    }

    /// The running host call `host` ended, having cost `gas`.
    pub fn step(
        &mut self,
        host: &'static str,
        gas: u64,
        result: Option<i64>,
        trap: Option<String>,
    ) {
        let op = self.op.take();
        let bytes = op.as_ref().map_or(0, Op::bytes);
        // A nested frame counted itself when it started.
        let nested = matches!(
            op,
            Some(Op::Call { frame: Some(_), .. } | Op::Instantiate { frame: Some(_), .. })
        );
        let fits = if nested {
            self.bytes = self.bytes.saturating_add(bytes);
            true
        } else {
            self.room(bytes)
        };
        if let (true, Some(Some(frame))) = (fits, self.open.last_mut()) {
            frame.steps.push(Step {
                host,
                gas,
                op,
                result,
                trap,
            });
        }
    }

    /// The finished trace (after the outermost frame ended, if one ran).
    pub fn finish(mut self) -> Trace {
        Trace {
            frame: self.ended.take(),
            truncated: self.truncated,
        }
    }
}
