//! Opt-in timing of where a call's time goes, for `aether bench call`: the top-level frame,
//! instantiation (or the reuse and reset of an idle instance) and each host function. Off
//! unless [`profile`] runs on this thread; then each host call costs two clock reads more.
//! Timing never touches gas, receipts or state.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static DATA: RefCell<Profile> = RefCell::new(Profile::default());
}

/// Calls and time of one host function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCalls {
    /// Calls.
    pub count: u64,
    /// Nanoseconds inside it.
    pub ns: u64,
}

/// What a profiled run spent, summed over its frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Outermost frames run (one per call or instantiation transaction).
    pub frames: u64,
    /// Nanoseconds in outermost frames (nested frames are inside them).
    pub frame_ns: u64,
    /// Instances created (a new store, the host functions linked, the module instantiated).
    pub instantiations: u64,
    /// Nanoseconds creating them.
    pub instantiate_ns: u64,
    /// Frames that ran in an idle instance.
    pub reuses: u64,
    /// Nanoseconds resetting instances for reuse.
    pub reset_ns: u64,
    /// Host functions by name (`call` and `instantiate` are frames, not counted here).
    pub host: BTreeMap<&'static str, HostCalls>,
}

/// Runs `f` with profiling on for this thread and returns what it spent.
pub fn profile<R>(f: impl FnOnce() -> R) -> (R, Profile) {
    DATA.with(|d| *d.borrow_mut() = Profile::default());
    let was = ACTIVE.with(|a| a.replace(true));
    let r = f();
    ACTIVE.with(|a| a.set(was));
    (r, DATA.with(|d| std::mem::take(&mut *d.borrow_mut())))
}

fn active() -> bool {
    ACTIVE.with(Cell::get)
}

fn record(f: impl FnOnce(&mut Profile)) {
    DATA.with(|d| f(&mut d.borrow_mut()));
}

/// Times a span while profiling; records it when dropped.
pub(crate) struct Timer {
    start: Option<Instant>,
    what: Span,
}

#[derive(Clone, Copy)]
pub(crate) enum Span {
    Host(&'static str),
    Frame,
    Instantiate,
    Reset,
}

impl Timer {
    /// Starts timing `what` (nothing happens unless profiling is on).
    pub fn start(what: Span) -> Self {
        Self {
            start: active().then(Instant::now),
            what,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let Some(start) = self.start else {
            return;
        };
        let ns = start.elapsed().as_nanos() as u64;
        record(|p| match self.what {
            Span::Host(name) => {
                let h = p.host.entry(name).or_default();
                h.count += 1;
                h.ns += ns;
            }
            Span::Frame => {
                p.frames += 1;
                p.frame_ns += ns;
            }
            Span::Instantiate => {
                p.instantiations += 1;
                p.instantiate_ns += ns;
            }
            Span::Reset => {
                p.reuses += 1;
                p.reset_ns += ns;
            }
        });
    }
}
