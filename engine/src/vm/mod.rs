//! The contract VM: a deterministic wasmi engine, upload validation, a bounded cache of compiled
//! modules keyed by code hash, the host ABI, and call frames.

pub mod abi;
mod frame;
mod guard;
mod host;
pub mod limits;
mod pool;
pub mod profile;
mod reuse;
pub mod trace;
mod validate;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

pub use abi::{AbiType, HOST_FUNCTIONS, HostFn, call_status};
pub use limits::*;
pub use validate::{ModuleInfo, ValidationError, WASMI_VERSION, check_structure};

pub use frame::ENGINE_FAULT;
pub(crate) use frame::{Entry, FrameRequest, FrameResult, run_frame};
pub(crate) use host::TxContext;
pub use pool::{DEFAULT_INSTANCE_POOL_BYTES, MAX_IDLE_PER_CODE};

use crate::gas::GasSchedule;
use crate::ports::StoreError;
use crate::state::Overlay;
use crate::types::Hash;

/// Number of compiled modules kept by default.
pub const DEFAULT_CACHE_MODULES: usize = 256;

/// A validated, compiled module.
pub struct Compiled {
    /// The wasmi module, every function translated.
    pub module: wasmi::Module,
    /// What validation learned about it.
    pub info: ModuleInfo,
    /// The hash of its code (named in logs when it faults the engine).
    pub code_hash: Hash,
    /// How to reset an instance for the next call, if the module may be reused (`reuse.rs`).
    pub(crate) reset: Option<reuse::ResetPlan>,
}

/// Why code could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The code breaks a rule: every node refuses it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// wasmi faulted on this node only (a fresh engine compiles the code): a failure of the
    /// node, not of the code. The message is the panic's, for logs.
    #[error("engine fault while compiling: {0}")]
    Engine(String),
}

/// Why a contract's code could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("code {0} is not stored")]
    Missing(Hash),
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// The VM: engine, linker, gas schedule and module cache. One per node, shared by all executions.
pub struct Vm {
    engine: wasmi::Engine,
    /// The engine's configuration (a fresh engine tells a fault of the code from one of this
    /// engine).
    config: wasmi::Config,
    linker: wasmi::Linker<host::HostState>,
    schedule: GasSchedule,
    cache: Mutex<LruCache<Hash, Arc<Compiled>>>,
    /// Idle instances of reusable modules.
    pool: pool::InstancePool,
}

impl Vm {
    /// A VM with the given schedule and a cache of `cache_modules` compiled modules.
    pub fn new(schedule: GasSchedule, cache_modules: usize) -> Arc<Self> {
        Self::with_instance_pool(schedule, cache_modules, DEFAULT_INSTANCE_POOL_BYTES)
    }

    /// A VM keeping at most `pool_bytes` of idle instances for reuse by later calls (0: every
    /// call instantiates its module in a new store). Receipts, gas and state are the same
    /// either way; only the time differs.
    pub fn with_instance_pool(
        schedule: GasSchedule,
        cache_modules: usize,
        pool_bytes: usize,
    ) -> Arc<Self> {
        Self::with_config(schedule, cache_modules, &limits::wasmi_config(), pool_bytes)
    }

    /// A VM on another wasmi configuration: only for tests that need wasmi to behave as the
    /// consensus configuration does not let it (say, to fault in the middle of a call).
    fn with_config(
        schedule: GasSchedule,
        cache_modules: usize,
        config: &wasmi::Config,
        pool_bytes: usize,
    ) -> Arc<Self> {
        let engine = wasmi::Engine::new(config);
        let linker = host::linker(&engine);
        let config = config.clone();
        let cap = NonZeroUsize::new(cache_modules.max(1)).unwrap_or(NonZeroUsize::MIN);
        Arc::new(Self {
            engine,
            config,
            linker,
            schedule,
            cache: Mutex::new(LruCache::new(cap)),
            pool: pool::InstancePool::new(pool_bytes),
        })
    }

    /// The gas schedule.
    pub fn schedule(&self) -> &GasSchedule {
        &self.schedule
    }

    /// Validates `code` fully: structure, then wasmi validation and translation of every
    /// function, all under the panic guard. A panic that a fresh wasmi engine repeats is a
    /// property of the code (a fault of wasmi's compiler, issue 16): the module is refused as
    /// [`ValidationError::Translation`], as every node refuses it. A panic a fresh engine does
    /// not repeat depends on this node's history (wasmi's engine only grows), not on the code:
    /// it is [`CompileError::Engine`], a node failure, never a refusal other nodes would not
    /// make.
    pub fn compile(&self, code: &[u8]) -> Result<Compiled, CompileError> {
        self.compile_hashed(Hash::of(code), code)
    }

    fn compile_hashed(&self, code_hash: Hash, code: &[u8]) -> Result<Compiled, CompileError> {
        let reuse = self.pool.enabled();
        let compile = |engine: &wasmi::Engine| {
            let info = check_structure(code)?;
            let (module, reset) = compile_module(engine, code, reuse)?;
            Ok::<_, ValidationError>((info, module, reset))
        };
        let (info, module, reset) = match guard::catch(|| {
            #[cfg(test)]
            frame::fault_injection::before_compile();
            compile(&self.engine)
        }) {
            Ok(compiled) => compiled?,
            Err(fault) => {
                let fresh = wasmi::Engine::new(&self.config);
                return Err(match guard::catch(|| compile(&fresh)) {
                    Err(_) => {
                        tracing::error!(
                            %code_hash,
                            %fault,
                            "wasmi faulted compiling a module, on a fresh engine too; refused as `wasm-translation`"
                        );
                        CompileError::Invalid(ValidationError::Translation)
                    }
                    Ok(_) => {
                        tracing::error!(
                            %code_hash,
                            %fault,
                            "wasmi faulted compiling a module that a fresh engine compiles: a fault of this node's engine"
                        );
                        CompileError::Engine(fault)
                    }
                });
            }
        };
        Ok(Compiled {
            module,
            info,
            code_hash,
            reset,
        })
    }

    /// Validates and caches `code` under `hash`.
    pub fn compile_and_cache(
        &self,
        hash: Hash,
        code: &[u8],
    ) -> Result<Arc<Compiled>, CompileError> {
        if let Some(c) = self.cached(&hash) {
            return Ok(c);
        }
        let compiled = Arc::new(self.compile_hashed(hash, code)?);
        self.lock_cache().put(hash, compiled.clone());
        Ok(compiled)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, LruCache<Hash, Arc<Compiled>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, hash: &Hash) -> Option<Arc<Compiled>> {
        self.lock_cache().get(hash).cloned()
    }

    /// The compiled module for `hash`, from the cache or compiled from state.
    pub(crate) fn load(&self, hash: &Hash, state: &Overlay) -> Result<Arc<Compiled>, LoadError> {
        if let Some(c) = self.cached(hash) {
            return Ok(c);
        }
        let code = state.code(hash)?.ok_or(LoadError::Missing(*hash))?;
        Ok(self.compile_and_cache(*hash, &code)?)
    }

    /// Number of modules in the cache.
    pub fn cached_modules(&self) -> usize {
        self.lock_cache().len()
    }

    /// Idle instances kept for reuse, and their bytes (memory and reset image).
    pub fn idle_instances(&self) -> (usize, usize) {
        self.pool.stats()
    }
}

/// Compiles `code`: when instances may be reused and the module allows it, the module with its
/// mutable globals exported (see `reuse.rs`) and its reset plan. Errors are always those of
/// the uploaded bytes.
fn compile_module(
    engine: &wasmi::Engine,
    code: &[u8],
    reuse: bool,
) -> Result<(wasmi::Module, Option<reuse::ResetPlan>), ValidationError> {
    if let Some((rewritten, plan)) = reuse.then(|| reuse::plan(code)).flatten()
        && let Ok(module) = wasmi::Module::new(engine, &rewritten)
    {
        return Ok((module, Some(plan)));
    }
    let module =
        wasmi::Module::new(engine, code).map_err(|e| validate::classify_wasmi_error(&e))?;
    Ok((module, None))
}
