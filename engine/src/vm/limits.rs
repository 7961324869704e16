//! The execution limits and the wasmi configuration that enforces them. Part of consensus.

use wasmi::{CompilationMode, Config, CustomFuelCosts, EnforcedLimits};

/// Largest module accepted at upload, in bytes.
pub const MAX_CODE_SIZE: usize = 128 * 1024;
/// Most 64 KiB pages a contract's memory may have (initial or grown): 2 MiB.
pub const MAX_MEMORY_PAGES: u32 = 32;
/// Most elements in the (single) table, initial or grown.
pub const MAX_TABLE_ELEMENTS: u64 = 1024;
/// Most functions (imported and defined) in a module.
pub const MAX_FUNCTIONS: u32 = 4096;
/// Most locals (including parameters) in one function.
pub const MAX_LOCALS: u32 = 512;
/// Most globals in a module.
pub const MAX_GLOBALS: u32 = 256;
/// Most data segments in a module.
pub const MAX_DATA_SEGMENTS: u32 = 256;
/// Most nested Wasm calls inside one contract frame (wasmi's own stack, not the native one).
pub const MAX_RECURSION_DEPTH: usize = 1024;
/// Most nested contract frames in one transaction (the transaction's own frame counts as 1).
pub const MAX_CALL_DEPTH: usize = 16;
/// Most topics on one event.
pub const MAX_EVENT_TOPICS: usize = 4;
/// Largest event payload, in bytes.
pub const MAX_EVENT_DATA: usize = 16 * 1024;
/// Largest storage key, in bytes.
pub const MAX_STORAGE_KEY: usize = 256;
/// Largest storage value, in bytes.
pub const MAX_STORAGE_VALUE: usize = 64 * 1024;
/// Largest return or revert payload, in bytes.
pub const MAX_RETURN_DATA: usize = 64 * 1024;
/// Longest method name, in bytes.
pub const MAX_METHOD_NAME: usize = 128;
/// Largest instantiation salt, in bytes.
pub const MAX_SALT: usize = 64;
/// Size of one Wasm page.
pub const PAGE_SIZE: u64 = 64 * 1024;

/// Wasm proposals the engine accepts, on top of the MVP. Every other proposal is switched off
/// in [`wasmi_config`].
pub const ALLOWED_PROPOSALS: &[&str] = &[
    "mutable-global",
    "sign-extension",
    "multi-value",
    "bulk-memory",
];

/// The deterministic wasmi configuration.
pub fn wasmi_config() -> Config {
    let mut c = Config::default();
    c.consume_fuel(true)
        // Validation and translation to wasmi IR are both eager: every function of a module is
        // translated when the module is compiled (at upload, and again on a cache miss), under
        // the panic guard of `Vm::compile`, so that no wasmi translator fault can surface in the
        // middle of a call. Translation is a pure function of the code and is priced at zero
        // fuel, so gas never depends on what a node's module cache holds: loading is paid per
        // code byte on every call (`code_load_per_byte`), compiling at upload
        // (`upload_per_byte`). (`CompilationMode::Lazy`, lazy validation, is not deterministic;
        // `LazyTranslation` let a translator panic reach a running call: issue 16.)
        .compilation_mode(CompilationMode::Eager)
        .fuel_cost(CustomFuelCosts {
            bytes_copied_per_fuel: 64,
            fuel_per_bytes_translated: 0,
            fuel_per_bytes_validated: 0,
        })
        .floats(false)
        .allow_start_fn(false)
        .set_max_recursion_depth(MAX_RECURSION_DEPTH)
        .enforced_limits(EnforcedLimits::strict())
        .ignore_custom_sections(true)
        // Allowed.
        .wasm_mutable_global(true)
        .wasm_sign_extension(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        // Everything else, off explicitly.
        .wasm_saturating_float_to_int(false)
        .wasm_reference_types(false)
        .wasm_multi_memory(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false);
    // memory64, simd and relaxed-simd are not compiled in: wasmi's `memory64` and `simd`
    // features are off in this build, so no module can use them.
    c
}
