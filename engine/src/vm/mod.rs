//! The contract VM: a deterministic wasmi engine, upload validation, a bounded cache of compiled
//! modules keyed by code hash, the host ABI, and call frames.

pub mod abi;
mod frame;
mod guard;
mod host;
pub mod limits;
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
}

/// Why a contract's code could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("code {0} is not stored")]
    Missing(Hash),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// The VM: engine, linker, gas schedule and module cache. One per node, shared by all executions.
pub struct Vm {
    engine: wasmi::Engine,
    linker: wasmi::Linker<host::HostState>,
    schedule: GasSchedule,
    cache: Mutex<LruCache<Hash, Arc<Compiled>>>,
}

impl Vm {
    /// A VM with the given schedule and a cache of `cache_modules` compiled modules.
    pub fn new(schedule: GasSchedule, cache_modules: usize) -> Arc<Self> {
        Self::with_config(schedule, cache_modules, &limits::wasmi_config())
    }

    /// A VM on another wasmi configuration: only for tests that need wasmi to behave as the
    /// consensus configuration does not let it (say, to fault in the middle of a call).
    fn with_config(
        schedule: GasSchedule,
        cache_modules: usize,
        config: &wasmi::Config,
    ) -> Arc<Self> {
        let engine = wasmi::Engine::new(config);
        let linker = host::linker(&engine);
        let cap = NonZeroUsize::new(cache_modules.max(1)).unwrap_or(NonZeroUsize::MIN);
        Arc::new(Self {
            engine,
            linker,
            schedule,
            cache: Mutex::new(LruCache::new(cap)),
        })
    }

    /// The gas schedule.
    pub fn schedule(&self) -> &GasSchedule {
        &self.schedule
    }

    /// Validates `code` fully: structure, then wasmi validation and translation of every
    /// function. A panic inside wasmi (a fault of its compiler, issue 16) refuses the module as
    /// [`ValidationError::Translation`] instead of reaching the caller.
    pub fn compile(&self, code: &[u8]) -> Result<Compiled, ValidationError> {
        self.compile_hashed(Hash::of(code), code)
    }

    fn compile_hashed(&self, code_hash: Hash, code: &[u8]) -> Result<Compiled, ValidationError> {
        let info = check_structure(code)?;
        let module = guard::catch(|| wasmi::Module::new(&self.engine, code))
            .map_err(|fault| {
                tracing::error!(
                    code_hash = %code_hash,
                    fault = %fault,
                    "wasmi faulted while compiling a module; refused as `wasm-translation`"
                );
                ValidationError::Translation
            })?
            .map_err(|e| validate::classify_wasmi_error(&e))?;
        Ok(Compiled {
            module,
            info,
            code_hash,
        })
    }

    /// Validates and caches `code` under `hash`.
    pub fn compile_and_cache(
        &self,
        hash: Hash,
        code: &[u8],
    ) -> Result<Arc<Compiled>, ValidationError> {
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
}
