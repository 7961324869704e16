//! # aether-contract-build
//!
//! Builds a contract crate (a `cdylib` using `aether-contracts-sdk`) into `<name>.wasm` and
//! `<name>.abi.json`: installs the `wasm32v1-none` target when missing, compiles with a size
//! profile (opt-level `s`, measured smaller than `z` for contracts; fat LTO, one codegen unit,
//! `panic = "abort"`, symbols stripped), bulk-memory and sign-extension instructions and a
//! 32 KiB stack, runs `wasm-opt -Oz` when it is on the `PATH`, extracts the ABI from the
//! `aether:abi` custom section, and checks the result against the engine's upload validation,
//! so a module that builds is a module the chain accepts.
//!
//! Builds are reproducible: the same source, lock file and toolchain give the same bytes (the
//! same code hash) on any machine, in any directory and with any cargo home, as long as every
//! dependency comes from a registry, from git or from the contract's own workspace. Source
//! paths that panic messages carry are remapped (`--remap-path-prefix`: cargo's home to
//! `/cargo`, path dependencies outside the workspace to `/deps/<name>-<version>`), so no path
//! of the building machine ends up in the module. A path dependency outside the workspace still
//! changes the bytes with its location: cargo hashes its absolute path into symbol names, which
//! reorders functions (measured: same size, different order).
//!
//! Used by `aether contract build` and by `aether-contracts-testing`.

pub mod abi;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aether_engine::GasSchedule;
use aether_engine::vm::{CompileError, Vm};

/// The Wasm target contracts are built for: Wasm MVP plus mutable globals, all of which the
/// engine accepts.
pub const TARGET: &str = "wasm32v1-none";
/// The cargo profile used (defined on the command line, inheriting `release`).
pub const PROFILE: &str = "aether-contract";
/// Name of the custom section holding the ABI JSON.
pub const ABI_SECTION: &str = "aether:abi";
/// Wasm features enabled on top of the target's MVP: both are among those the engine accepts,
/// and `memory.copy`/`memory.fill` replace byte loops (measured 7% smaller for the token).
pub const TARGET_FEATURES: &str = "+bulk-memory,+sign-ext";
/// Shadow-stack size given to the linker, in bytes. Rust's default is 1 MiB, which makes every
/// instance start with 17 pages; contracts need far less.
pub const STACK_SIZE: u32 = 32 * 1024;

/// A build failure, naming what to do.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No `Cargo.toml` at the path.
    #[error("no Cargo.toml in {0}")]
    NoManifest(PathBuf),
    /// A tool could not be run.
    #[error("could not run `{tool}`: {reason}")]
    Tool {
        /// The command.
        tool: String,
        /// The OS error.
        reason: String,
    },
    /// The target is not installed and could not be installed.
    #[error(
        "the {TARGET} target is not installed and `rustup target add {TARGET}` failed: {0}\n\
         install it with: rustup target add {TARGET}"
    )]
    Target(String),
    /// `cargo metadata` output was not understood.
    #[error("cargo metadata: {0}")]
    Metadata(String),
    /// The crate is not a contract crate.
    #[error("{0}")]
    NotAContract(String),
    /// cargo failed; its output has been shown.
    #[error("cargo build failed for {0} (see the compiler output above)")]
    Cargo(String),
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The module built has no ABI section (the crate does not use `#[contract]`).
    #[error(
        "{0} has no `{ABI_SECTION}` section: does the crate use #[aether_contracts_sdk::contract]?"
    )]
    NoAbi(PathBuf),
    /// The ABI section is not valid JSON.
    #[error("the ABI section of {path} is not valid JSON: {reason}")]
    BadAbi {
        /// The module.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// The engine would reject the module at upload.
    #[error("the engine rejects {path}: {error}")]
    Invalid {
        /// The module.
        path: PathBuf,
        /// The rule broken.
        error: CompileError,
    },
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The contract crate's directory (holding `Cargo.toml`).
    pub crate_dir: PathBuf,
    /// Where to write `<name>.wasm` and `<name>.abi.json`; default `<target dir>/aether`.
    pub out_dir: Option<PathBuf>,
    /// Run `wasm-opt -Oz` when available.
    pub wasm_opt: bool,
    /// Silence cargo's progress output (errors are still shown).
    pub quiet: bool,
}

impl BuildOptions {
    /// Default options for the crate at `crate_dir`.
    pub fn new(crate_dir: impl Into<PathBuf>) -> Self {
        Self {
            crate_dir: crate_dir.into(),
            out_dir: None,
            wasm_opt: true,
            quiet: false,
        }
    }
}

/// A built contract.
#[derive(Clone, Debug)]
pub struct Built {
    /// The crate's name.
    pub name: String,
    /// The module.
    pub wasm: Vec<u8>,
    /// Where it was written.
    pub wasm_path: PathBuf,
    /// The ABI metadata.
    pub abi: serde_json::Value,
    /// Where it was written.
    pub abi_path: PathBuf,
    /// Whether `wasm-opt` ran.
    pub optimised: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |e| BuildError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn tool_err(tool: &str) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |e| BuildError::Tool {
        tool: tool.to_string(),
        reason: e.to_string(),
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Makes sure the wasm target is installed, installing it with rustup if needed.
pub fn ensure_target() -> Result<(), BuildError> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(tool_err("rustc --print sysroot"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .exists()
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| BuildError::Target(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Target(format!("rustup exited with {status}")))
    }
}

struct CrateInfo {
    name: String,
    lib_name: String,
    target_dir: PathBuf,
    /// Directories of path dependencies outside the workspace, with `name-version`.
    outside_path_deps: Vec<(PathBuf, String)>,
}

fn crate_info(manifest: &Path) -> Result<CrateInfo, BuildError> {
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(tool_err("cargo metadata"))?;
    if !out.status.success() {
        return Err(BuildError::Metadata(format!(
            "failed for {}",
            manifest.display()
        )));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| BuildError::Metadata(e.to_string()))?;
    let target_dir = meta["target_directory"]
        .as_str()
        .ok_or_else(|| BuildError::Metadata("no target_directory".into()))?;
    let manifest = manifest.canonicalize().map_err(io_err(manifest))?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .and_then(|m| Path::new(m).canonicalize().ok())
                .is_some_and(|m| m == manifest)
        })
        .ok_or_else(|| {
            BuildError::NotAContract(format!(
                "{} is a workspace manifest without a package; point at the contract crate",
                manifest.display()
            ))
        })?;
    let name = package["name"].as_str().unwrap_or_default().to_string();
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .ok_or_else(|| {
            BuildError::NotAContract(format!(
                "crate `{name}` has no cdylib target: add `[lib] crate-type = [\"cdylib\", \"rlib\"]` to its Cargo.toml"
            ))
        })?;
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str())
        .collect();
    let outside_path_deps = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["source"].is_null())
        .filter(|p| !p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .filter_map(|p| {
            let dir = Path::new(p["manifest_path"].as_str()?)
                .parent()?
                .to_path_buf();
            let label = format!("{}-{}", p["name"].as_str()?, p["version"].as_str()?);
            Some((dir, label))
        })
        .collect();
    Ok(CrateInfo {
        outside_path_deps,
        lib_name: lib["name"].as_str().unwrap_or(&name).replace('-', "_"),
        name,
        target_dir: PathBuf::from(target_dir),
    })
}

/// Where this machine keeps cargo's downloads (registry sources, git checkouts).
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
}

/// The path remappings that make a build independent of where it runs: panic locations name
/// source files, and without them a module would carry this machine's cargo home (registry
/// sources) and the absolute paths of path dependencies, so the same source would give a
/// different code hash on every machine. Workspace members are named relative to the workspace
/// already. Later flags win in rustc, so the most specific paths come last.
fn path_remaps(info: &CrateInfo) -> Vec<String> {
    let mut remaps: Vec<(PathBuf, String)> = Vec::new();
    if let Some(home) = cargo_home() {
        remaps.push((home, "/cargo".into()));
    }
    for (dir, label) in &info.outside_path_deps {
        remaps.push((dir.clone(), format!("/deps/{label}")));
    }
    remaps.sort_by_key(|(from, _)| from.as_os_str().len());
    remaps
        .into_iter()
        // With a trailing separator, `/x/foo` does not also rewrite `/x/foo-bar/…`.
        .map(|(from, to)| {
            let from = from.display().to_string();
            format!("--remap-path-prefix={}/={to}/", from.trim_end_matches('/'))
        })
        .collect()
}

/// The `--config` value setting the contract's rustflags: stack size, Wasm features and the
/// path remappings (TOML strings, escaped as JSON strings, which TOML accepts).
fn rustflags_config(info: &CrateInfo) -> String {
    let mut flags = vec![
        "-C".to_string(),
        format!("link-arg=-zstack-size={STACK_SIZE}"),
        "-C".to_string(),
        format!("target-feature={TARGET_FEATURES}"),
    ];
    flags.extend(path_remaps(info));
    let quoted: Vec<String> = flags
        .iter()
        .map(|f| serde_json::Value::from(f.as_str()).to_string())
        .collect();
    format!("target.{TARGET}.rustflags=[{}]", quoted.join(", "))
}

/// Builds the contract crate described by `opts`.
pub fn build(opts: &BuildOptions) -> Result<Built, BuildError> {
    let manifest = opts.crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NoManifest(opts.crate_dir.clone()));
    }
    ensure_target()?;
    let info = crate_info(&manifest)?;
    // A target directory of its own: no lock contention with an outer cargo (tests build
    // contracts while `cargo test` holds the main target directory).
    let build_dir = info.target_dir.join("aether-contracts");
    let profile = format!("profile.{PROFILE}");
    let mut cmd = Command::new(cargo());
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--lib", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&build_dir)
        .args(["--config", &format!("{profile}.inherits=\"release\"")])
        .args(["--config", &format!("{profile}.opt-level=\"s\"")])
        .args(["--config", &format!("{profile}.lto=true")])
        .args(["--config", &format!("{profile}.codegen-units=1")])
        .args(["--config", &format!("{profile}.panic=\"abort\"")])
        .args(["--config", &format!("{profile}.debug=false")])
        .args(["--config", &format!("{profile}.strip=true")])
        .args(["--config", &format!("{profile}.overflow-checks=true")])
        .args(["--config", &rustflags_config(&info)])
        // Flags meant for the outer build must not leak into the contract's.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    if opts.quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.status().map_err(tool_err("cargo build"))?;
    if !status.success() {
        return Err(BuildError::Cargo(info.name));
    }
    let built = build_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", info.lib_name));
    let mut wasm = std::fs::read(&built).map_err(io_err(&built))?;

    let out_dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| info.target_dir.join("aether"));
    std::fs::create_dir_all(&out_dir).map_err(io_err(&out_dir))?;
    let wasm_path = out_dir.join(format!("{}.wasm", info.name));
    let abi_path = out_dir.join(format!("{}.abi.json", info.name));

    let mut optimised = false;
    if opts.wasm_opt
        && let Some(smaller) = wasm_opt(&built, &out_dir.join(format!("{}.opt.wasm", info.name)))
    {
        wasm = smaller;
        optimised = true;
    }

    let abi_bytes =
        custom_section(&wasm, ABI_SECTION).ok_or_else(|| BuildError::NoAbi(built.clone()))?;
    let abi: serde_json::Value =
        serde_json::from_slice(&abi_bytes).map_err(|e| BuildError::BadAbi {
            path: built.clone(),
            reason: e.to_string(),
        })?;
    abi::Abi::parse(&abi_bytes).map_err(|e| BuildError::BadAbi {
        path: built.clone(),
        reason: e.to_string(),
    })?;
    Vm::new(GasSchedule::V1, 1)
        .compile(&wasm)
        .map_err(|error| BuildError::Invalid {
            path: built.clone(),
            error,
        })?;
    std::fs::write(&wasm_path, &wasm).map_err(io_err(&wasm_path))?;
    let pretty = serde_json::to_string_pretty(&abi).unwrap_or_default();
    std::fs::write(&abi_path, pretty + "\n").map_err(io_err(&abi_path))?;
    Ok(Built {
        name: info.name,
        wasm,
        wasm_path,
        abi,
        abi_path,
        optimised,
    })
}

/// Runs `wasm-opt -Oz` restricted to the features the build uses (the result is validated by
/// the engine afterwards); `None` if it is not
/// installed or fails (the unoptimised module is used then).
fn wasm_opt(input: &Path, output: &Path) -> Option<Vec<u8>> {
    let status = Command::new("wasm-opt")
        .arg(input)
        .args([
            "-Oz",
            "--mvp-features",
            "--enable-mutable-globals",
            "--enable-bulk-memory",
            "--enable-sign-ext",
            "-o",
        ])
        .arg(output)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let out = std::fs::read(output).ok();
    let _ = std::fs::remove_file(output);
    out
}

/// The contents of the first custom section named `name`.
pub fn custom_section(wasm: &[u8], name: &str) -> Option<Vec<u8>> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CustomSection(s)) = payload
            && s.name() == name
        {
            return Some(s.data().to_vec());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaps_name_cargo_home_and_outside_path_deps_most_specific_last() {
        let info = CrateInfo {
            name: "c".into(),
            lib_name: "c".into(),
            target_dir: PathBuf::from("/t"),
            outside_path_deps: vec![
                (PathBuf::from("/src/sdk/macros"), "m-0.1.0".into()),
                (PathBuf::from("/src/sdk"), "s-0.1.0".into()),
            ],
        };
        let remaps = path_remaps(&info);
        let home = cargo_home().unwrap().display().to_string();
        assert!(remaps.contains(&format!("--remap-path-prefix={home}/=/cargo/")));
        let sdk = remaps
            .iter()
            .position(|r| r == "--remap-path-prefix=/src/sdk/=/deps/s-0.1.0/")
            .unwrap();
        let macros = remaps
            .iter()
            .position(|r| r == "--remap-path-prefix=/src/sdk/macros/=/deps/m-0.1.0/")
            .unwrap();
        assert!(
            sdk < macros,
            "rustc applies the last match: the longer path comes later"
        );
        // The flags reach cargo as a TOML array of strings.
        let config = rustflags_config(&info);
        assert!(config.starts_with(&format!("target.{TARGET}.rustflags=[\"-C\"")));
        assert!(config.contains("\"--remap-path-prefix=/src/sdk/=/deps/s-0.1.0/\""));
    }
}
