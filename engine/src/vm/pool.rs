//! Instances kept between calls: a frame of a reusable module (see `reuse.rs`) runs in an
//! instance an earlier call left, reset to the state it had right after instantiation,
//! instead of in a new wasmi store with the host functions linked and the module instantiated
//! again. That was most of a small call's cost.
//!
//! Isolation: an idle instance's memory is copied back from the image taken right after its
//! instantiation and its mutable globals are set back to their initial values before it goes
//! back to the pool; an instance whose memory grew (wasmi cannot shrink it) or whose frame
//! faulted the engine is dropped. Only one frame uses an instance at a time (it is taken out
//! of the pool), so a reentrant call gets an instance of its own. Gas is the same as for a
//! new instance: the fuel and memory pages that instantiation charged are charged again.
//!
//! The pool is bounded in bytes (memory and image of every idle instance) and keeps at most
//! [`MAX_IDLE_PER_CODE`] instances of one code; the least recently used code goes first.

use std::sync::{Mutex, MutexGuard};

use lru::LruCache;
use wasmi::{Global, Instance, Memory, Store, TypedFunc, Val};

use super::host::HostState;
use super::reuse::ResetPlan;
use crate::types::Hash;

/// Bytes of idle instances kept by default (memory plus image of each).
pub const DEFAULT_INSTANCE_POOL_BYTES: usize = 64 << 20;

/// Idle instances kept per code: enough for a contract that calls itself a few levels deep.
pub const MAX_IDLE_PER_CODE: usize = 4;

/// What wasmi's store holds besides memory and image: a fixed estimate per idle instance.
const STORE_OVERHEAD: usize = 4 << 10;

/// An instance and what the frame needs to know of it.
pub(crate) struct Loaded {
    pub instance: Instance,
    pub memory: Option<Memory>,
    /// Fuel instantiation consumed, charged again when the instance is reused.
    pub setup_fuel: u64,
    /// Memory pages instantiation recorded, charged again when the instance is reused.
    pub setup_pages: u64,
    /// The state to reset to; `None` if the instance may not be reused.
    pub snapshot: Option<Snapshot>,
    /// Methods looked up so far (a reused instance is called by name again and again).
    pub methods: Vec<(Box<str>, TypedFunc<(), ()>)>,
}

impl Loaded {
    /// The method `name`, looked up once per instance.
    pub fn method(
        &mut self,
        store: &Store<HostState>,
        name: &str,
    ) -> Result<TypedFunc<(), ()>, wasmi::Error> {
        if let Some((_, f)) = self.methods.iter().find(|(n, _)| &**n == name) {
            return Ok(*f);
        }
        let f = self.instance.get_typed_func::<(), ()>(store, name)?;
        if self.snapshot.is_some() && self.methods.len() < MAX_CACHED_METHODS {
            self.methods.push((name.into(), f));
        }
        Ok(f)
    }
}

/// Methods remembered per idle instance.
const MAX_CACHED_METHODS: usize = 8;

/// An instance's memory and mutable globals right after instantiation. The memory is kept as
/// its size and its runs of non-zero chunks: most of a fresh memory is zero, and zeroing a
/// memory then copying the runs back costs about half of copying a whole image (measured; so
/// does checking chunks for zero before zeroing them).
pub(crate) struct Snapshot {
    memory_len: usize,
    runs: Vec<(usize, Box<[u8]>)>,
    globals: Vec<(Global, Val)>,
}

/// The granularity of the runs of a memory image.
const CHUNK: usize = 512;

/// The runs of `data` (offset, bytes) that cover its non-zero chunks.
fn non_zero_runs(data: &[u8]) -> Vec<(usize, Box<[u8]>)> {
    let mut runs = Vec::new();
    let mut start: Option<usize> = None;
    for (i, chunk) in data.chunks(CHUNK).enumerate() {
        let zero = chunk.iter().all(|b| *b == 0);
        match (zero, start) {
            (false, None) => start = Some(i * CHUNK),
            (true, Some(s)) => {
                runs.push((s, data[s..i * CHUNK].into()));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, data[s..].into()));
    }
    runs
}

impl Snapshot {
    /// The state of `instance` now; `None` if a global of the plan is missing.
    pub fn take(
        store: &Store<HostState>,
        instance: Instance,
        memory: Memory,
        plan: &ResetPlan,
    ) -> Option<Self> {
        let globals = plan
            .globals
            .iter()
            .map(|name| {
                let g = instance.get_global(store, name)?;
                Some((g, g.get(store)))
            })
            .collect::<Option<Vec<_>>>()?;
        let data = memory.data(store);
        Some(Self {
            memory_len: data.len(),
            runs: non_zero_runs(data),
            globals,
        })
    }

    /// Puts memory and globals back; `false` if that is not possible (the memory grew).
    fn restore(&self, store: &mut Store<HostState>, memory: Memory) -> bool {
        let data = memory.data_mut(&mut *store);
        if data.len() != self.memory_len {
            return false;
        }
        data.fill(0);
        for (offset, bytes) in &self.runs {
            data[*offset..*offset + bytes.len()].copy_from_slice(bytes);
        }
        self.globals
            .iter()
            .all(|(g, v)| g.set(&mut *store, v.clone()).is_ok())
    }

    fn bytes(&self) -> usize {
        self.memory_len + self.runs.iter().map(|(_, r)| r.len()).sum::<usize>() + STORE_OVERHEAD
    }
}

/// An idle instance in its store.
pub(crate) struct Idle {
    /// Boxed: a wasmi store is large, and it moves in and out of the pool on every call.
    pub store: Box<Store<HostState>>,
    pub loaded: Loaded,
}

impl Idle {
    fn bytes(&self) -> usize {
        self.loaded.snapshot.as_ref().map_or(0, Snapshot::bytes)
    }
}

/// The pool of idle instances, by code hash.
pub(crate) struct InstancePool {
    budget: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    idle: LruCache<Hash, Vec<Idle>>,
    bytes: usize,
}

impl InstancePool {
    /// A pool keeping at most `budget` bytes of idle instances (0: none).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Inner {
                idle: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// Whether instances are kept at all.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle instance of `code`, if there is one.
    pub fn take(&self, code: &Hash) -> Option<Idle> {
        if !self.enabled() {
            return None;
        }
        let mut inner = self.lock();
        let idle = inner.idle.get_mut(code)?.pop()?;
        inner.bytes -= idle.bytes();
        Some(idle)
    }

    /// Resets `store`'s instance and keeps it, unless it cannot be reset or does not fit.
    pub fn give_back(&self, code: Hash, mut store: Box<Store<HostState>>, loaded: Loaded) {
        let (Some(snapshot), Some(memory)) = (&loaded.snapshot, loaded.memory) else {
            return;
        };
        if !self.enabled() || !snapshot.restore(&mut store, memory) {
            return;
        }
        store.data_mut().clear();
        let idle = Idle { store, loaded };
        let bytes = idle.bytes();
        if bytes > self.budget {
            return;
        }
        let mut inner = self.lock();
        let mut dropped = Vec::new();
        match inner.idle.get_mut(&code) {
            Some(list) if list.len() >= MAX_IDLE_PER_CODE => return,
            Some(list) => list.push(idle),
            None => {
                inner.idle.push(code, vec![idle]);
            }
        }
        inner.bytes += bytes;
        while inner.bytes > self.budget {
            let Some((_, list)) = inner.idle.pop_lru() else {
                break;
            };
            inner.bytes -= list.iter().map(Idle::bytes).sum::<usize>();
            // Stores are dropped after the lock is released.
            dropped.push(list);
        }
        drop(inner);
        drop(dropped);
    }

    /// Idle instances and their bytes.
    pub fn stats(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.idle.iter().map(|(_, l)| l.len()).sum(), inner.bytes)
    }
}
