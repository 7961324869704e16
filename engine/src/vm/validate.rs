//! Upload validation: structural rules checked with wasmparser (each failure names its rule),
//! then full validation and eager compilation by wasmi.

use std::collections::BTreeSet;

use wasmparser::{ExternalKind, Parser, Payload, TypeRef, ValType};

use super::abi::{self, AbiType, CONSTRUCTOR, REENTRANT_EXPORT};
use super::limits::*;

/// A validation rule a module can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The module is larger than [`MAX_CODE_SIZE`].
    #[error("rule `code-size`: module is {size} bytes, the limit is {MAX_CODE_SIZE}")]
    CodeSize {
        /// Size of the module.
        size: usize,
    },
    /// The bytes are not a well-formed Wasm module (garbage, truncated, or invalid).
    #[error("rule `wasm-format`: {0}")]
    Format(String),
    /// The module uses floating point.
    #[error("rule `no-floats`: floating-point types and instructions are not allowed ({0})")]
    Floats(String),
    /// The module uses a Wasm proposal the engine does not allow.
    #[error(
        "rule `wasm-proposal`: {0} (allowed: MVP + mutable-global, sign-extension, multi-value, bulk-memory)"
    )]
    Proposal(String),
    /// The module has a start function.
    #[error("rule `no-start-function`: modules may not have a start function")]
    StartFunction,
    /// An import is not a known host function.
    #[error("rule `known-imports`: unknown import `{module}.{name}`")]
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A host function is imported with the wrong signature.
    #[error(
        "rule `import-signature`: `env.{name}` is imported as {found}, the host defines {expected}"
    )]
    ImportSignature {
        /// Import name.
        name: String,
        /// Signature in the module.
        found: String,
        /// Signature of the host function.
        expected: String,
    },
    /// The module imports something other than a function.
    #[error("rule `import-kind`: only functions may be imported, `{module}.{name}` is a {kind}")]
    ImportKind {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// What it is.
        kind: &'static str,
    },
    /// Too many functions.
    #[error("rule `max-functions`: {count} functions, the limit is {MAX_FUNCTIONS}")]
    TooManyFunctions {
        /// Number of functions.
        count: u64,
    },
    /// Too many locals in one function.
    #[error("rule `max-locals`: function {func} has {count} locals, the limit is {MAX_LOCALS}")]
    TooManyLocals {
        /// Function index.
        func: u32,
        /// Its locals (with parameters).
        count: u64,
    },
    /// Too many globals.
    #[error("rule `max-globals`: {count} globals, the limit is {MAX_GLOBALS}")]
    TooManyGlobals {
        /// Number of globals.
        count: u32,
    },
    /// Too many data segments.
    #[error("rule `max-data-segments`: {count} data segments, the limit is {MAX_DATA_SEGMENTS}")]
    TooManyDataSegments {
        /// Number of segments.
        count: u32,
    },
    /// The memory rules are broken.
    #[error("rule `memory`: {0}")]
    Memory(String),
    /// The table rules are broken.
    #[error("rule `table`: {0}")]
    Table(String),
    /// An exported function does not have type `[] -> []`.
    #[error("rule `method-signature`: export `{name}` must have type [] -> [], found {found}")]
    MethodSignature {
        /// Export name.
        name: String,
        /// Its type.
        found: String,
    },
    /// wasmi rejected the module (a limit of its strict preset or a validation error).
    #[error("rule `wasm-validation`: {0}")]
    Wasmi(String),
    /// wasmi failed (panicked) while validating or translating the module: a fault of the
    /// engine's compiler, not a rule of the Wasm specification. Such a module would fault on
    /// every node alike, so it is refused at upload rather than run. The message is fixed (it is
    /// consensus data); the fault itself is logged.
    #[error(
        "rule `wasm-translation`: the engine's compiler (wasmi {WASMI_VERSION}) cannot translate this code"
    )]
    Translation,
}

/// The wasmi release the engine runs: part of consensus (see docs/architecture.md).
pub const WASMI_VERSION: &str = "2.0.0";

/// What the engine needs to know about a validated module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Exported functions that may be called as methods.
    pub methods: BTreeSet<String>,
    /// Whether the module exports the constructor `init`.
    pub has_constructor: bool,
    /// Whether the module opted into reentrant calls.
    pub reentrant: bool,
    /// Initial memory pages.
    pub initial_pages: u32,
    /// Size of the code in bytes.
    pub code_len: usize,
}

fn fmt_sig(params: &[ValType], results: &[ValType]) -> String {
    let f = |v: &[ValType]| {
        v.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("[{}] -> [{}]", f(params), f(results))
}

fn abi_sig(params: &[AbiType], results: &[AbiType]) -> String {
    let f = |v: &[AbiType]| {
        v.iter()
            .map(|t| match t {
                AbiType::I32 => "i32",
                AbiType::I64 => "i64",
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("[{}] -> [{}]", f(params), f(results))
}

fn same_types(wasm: &[ValType], abi: &[AbiType]) -> bool {
    wasm.len() == abi.len()
        && wasm.iter().zip(abi).all(|(w, a)| {
            matches!(
                (w, a),
                (ValType::I32, AbiType::I32) | (ValType::I64, AbiType::I64)
            )
        })
}

fn is_float(t: &ValType) -> bool {
    matches!(t, ValType::F32 | ValType::F64)
}

fn fmt_err(e: wasmparser::BinaryReaderError) -> ValidationError {
    ValidationError::Format(e.to_string())
}

/// Checks the structural rules. Full instruction validation happens in wasmi afterwards.
pub fn check_structure(code: &[u8]) -> Result<ModuleInfo, ValidationError> {
    if code.len() > MAX_CODE_SIZE {
        return Err(ValidationError::CodeSize { size: code.len() });
    }
    let mut info = ModuleInfo {
        code_len: code.len(),
        ..ModuleInfo::default()
    };
    let mut types: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new(); // type index of every function, imports first
    let mut imported_funcs = 0u32;
    let mut memories = 0u32;
    let mut memory_exported = false;
    let mut func_exports: Vec<(String, u32)> = Vec::new();
    let mut code_index = 0u32;
    let mut saw_header = false;

    for payload in Parser::new(0).parse_all(code) {
        match payload.map_err(fmt_err)? {
            Payload::Version { encoding, .. } => {
                saw_header = true;
                if encoding != wasmparser::Encoding::Module {
                    return Err(ValidationError::Format(
                        "components are not supported".into(),
                    ));
                }
            }
            Payload::TypeSection(reader) => {
                for rec in reader {
                    for sub in rec.map_err(fmt_err)?.into_types() {
                        match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                if f.params().iter().chain(f.results()).any(is_float) {
                                    return Err(ValidationError::Floats(format!(
                                        "type {} is {}",
                                        types.len(),
                                        fmt_sig(f.params(), f.results())
                                    )));
                                }
                                types.push((f.params().to_vec(), f.results().to_vec()));
                            }
                            _ => {
                                return Err(ValidationError::Proposal(
                                    "only function types are allowed (gc proposal)".into(),
                                ));
                            }
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(fmt_err)?;
                    let kind = match import.ty {
                        TypeRef::Func(t) => {
                            let Some(host) = (import.module == "env")
                                .then(|| abi::host_fn(import.name))
                                .flatten()
                            else {
                                return Err(ValidationError::UnknownImport {
                                    module: import.module.into(),
                                    name: import.name.into(),
                                });
                            };
                            let Some((p, r)) = types.get(t as usize) else {
                                return Err(ValidationError::Format(format!(
                                    "type index {t} out of range"
                                )));
                            };
                            if !same_types(p, host.params) || !same_types(r, host.results) {
                                return Err(ValidationError::ImportSignature {
                                    name: import.name.into(),
                                    found: fmt_sig(p, r),
                                    expected: abi_sig(host.params, host.results),
                                });
                            }
                            func_types.push(t);
                            imported_funcs += 1;
                            continue;
                        }
                        TypeRef::Memory(_) => "memory",
                        TypeRef::Table(_) => "table",
                        TypeRef::Global(_) => "global",
                        TypeRef::Tag(_) => "tag",
                    };
                    return Err(ValidationError::ImportKind {
                        module: import.module.into(),
                        name: import.name.into(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                let count = u64::from(reader.count()) + u64::from(imported_funcs);
                if count > u64::from(MAX_FUNCTIONS) {
                    return Err(ValidationError::TooManyFunctions { count });
                }
                for t in reader {
                    func_types.push(t.map_err(fmt_err)?);
                }
            }
            Payload::TableSection(reader) => {
                if reader.count() > 1 {
                    return Err(ValidationError::Table(format!(
                        "{} tables, at most 1 is allowed",
                        reader.count()
                    )));
                }
                for t in reader {
                    let t = t.map_err(fmt_err)?;
                    if t.ty.initial > MAX_TABLE_ELEMENTS {
                        return Err(ValidationError::Table(format!(
                            "initial size {} exceeds the limit of {MAX_TABLE_ELEMENTS} elements",
                            t.ty.initial
                        )));
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.map_err(fmt_err)?;
                    memories += 1;
                    if m.memory64 || m.shared {
                        return Err(ValidationError::Proposal(
                            "memory64 and shared memories are not allowed".into(),
                        ));
                    }
                    if m.initial > u64::from(MAX_MEMORY_PAGES) {
                        return Err(ValidationError::Memory(format!(
                            "initial size {} pages exceeds the limit of {MAX_MEMORY_PAGES} pages",
                            m.initial
                        )));
                    }
                    info.initial_pages = m.initial as u32;
                }
            }
            Payload::GlobalSection(reader) => {
                if reader.count() > MAX_GLOBALS {
                    return Err(ValidationError::TooManyGlobals {
                        count: reader.count(),
                    });
                }
                for g in reader {
                    if is_float(&g.map_err(fmt_err)?.ty.content_type) {
                        return Err(ValidationError::Floats("a global has a float type".into()));
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(fmt_err)?;
                    match e.kind {
                        ExternalKind::Func => func_exports.push((e.name.to_string(), e.index)),
                        ExternalKind::Memory if e.name == "memory" => memory_exported = true,
                        _ => {}
                    }
                }
            }
            Payload::StartSection { .. } => return Err(ValidationError::StartFunction),
            Payload::DataSection(reader) if reader.count() > MAX_DATA_SEGMENTS => {
                return Err(ValidationError::TooManyDataSegments {
                    count: reader.count(),
                });
            }
            Payload::CodeSectionEntry(body) => {
                let func = imported_funcs + code_index;
                code_index += 1;
                let params = func_types
                    .get(func as usize)
                    .and_then(|t| types.get(*t as usize))
                    .map_or(0, |(p, _)| p.len() as u64);
                let mut count = params;
                for local in body.get_locals_reader().map_err(fmt_err)? {
                    let (n, ty) = local.map_err(fmt_err)?;
                    if is_float(&ty) {
                        return Err(ValidationError::Floats(format!(
                            "function {func} has a float local"
                        )));
                    }
                    count += u64::from(n);
                    if count > u64::from(MAX_LOCALS) {
                        return Err(ValidationError::TooManyLocals { func, count });
                    }
                }
            }
            _ => {}
        }
    }
    if !saw_header {
        return Err(ValidationError::Format("empty module".into()));
    }
    if memories != 1 {
        return Err(ValidationError::Memory(format!(
            "the module must define exactly one memory, it defines {memories}"
        )));
    }
    if !memory_exported {
        return Err(ValidationError::Memory(
            "the memory must be exported as `memory`".into(),
        ));
    }
    for (name, index) in func_exports {
        let sig = func_types
            .get(index as usize)
            .and_then(|t| types.get(*t as usize))
            .ok_or_else(|| ValidationError::Format(format!("export `{name}` names no function")))?;
        if !sig.0.is_empty() || !sig.1.is_empty() {
            return Err(ValidationError::MethodSignature {
                found: fmt_sig(&sig.0, &sig.1),
                name,
            });
        }
        if name == REENTRANT_EXPORT {
            info.reentrant = true;
        } else if name == CONSTRUCTOR {
            info.has_constructor = true;
        } else {
            info.methods.insert(name);
        }
    }
    Ok(info)
}

/// Maps a wasmi compile error to the rule it breaks.
pub(crate) fn classify_wasmi_error(e: &wasmi::Error) -> ValidationError {
    let msg = e.to_string();
    let lower = msg.to_lowercase();
    if lower.contains("float") {
        ValidationError::Floats(msg)
    } else if lower.contains("proposal") || lower.contains("support") {
        ValidationError::Proposal(msg)
    } else {
        ValidationError::Wasmi(msg)
    }
}
