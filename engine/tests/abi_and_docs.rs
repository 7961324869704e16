//! The host ABI table, the linker and the published documents agree.

mod common;

use aether_engine::GasSchedule;
use aether_engine::types::Status;
use aether_engine::vm::{AbiType, HOST_FUNCTIONS};
use common::*;

fn sig(types: &[AbiType]) -> String {
    types
        .iter()
        .map(|t| match t {
            AbiType::I32 => "i32",
            AbiType::I64 => "i64",
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn import_line(f: &aether_engine::vm::HostFn) -> String {
    let params = if f.params.is_empty() {
        String::new()
    } else {
        format!(" (param {})", sig(f.params))
    };
    let results = if f.results.is_empty() {
        String::new()
    } else {
        format!(" (result {})", sig(f.results))
    };
    format!(r#"(import "env" "{}" (func{params}{results}))"#, f.name)
}

#[test]
fn linker_defines_every_abi_function_with_its_signature() {
    let mut sb = sandbox();
    for f in HOST_FUNCTIONS {
        let wat = format!(
            r#"(module {} (memory (export "memory") 1) (func (export "run")))"#,
            import_line(f)
        );
        let c = sb
            .deploy(ALICE, wasm(&wat), vec![])
            .unwrap_or_else(|r| panic!("{}: {:?}", f.name, r.error));
        let r = sb.call(ALICE, c, "run", vec![], 0, 1_000_000).unwrap();
        assert_eq!(r.status, Status::Success, "{} links: {:?}", f.name, r.error);
    }
}

#[test]
fn abi_names_are_unique() {
    let mut names: Vec<_> = HOST_FUNCTIONS.iter().map(|f| f.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), HOST_FUNCTIONS.len());
}

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn host_abi_doc_documents_every_function() {
    let text = doc("host-abi.md");
    for f in HOST_FUNCTIONS {
        let import = format!("(import \"env\" \"{}\"", f.name);
        assert!(
            text.contains(&import),
            "docs/host-abi.md lacks the import line of `{}`",
            f.name
        );
        assert!(
            text.contains(&format!("`{}`", f.name)),
            "docs/host-abi.md never names `{}`",
            f.name
        );
    }
}

#[test]
fn gas_doc_table_matches_the_schedule() {
    let text = doc("gas.md");
    let mut documented = Vec::new();
    for line in text.lines() {
        let cells: Vec<_> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let (Some(name), Ok(value)) = (
            cells[1].strip_prefix('`').and_then(|n| n.strip_suffix('`')),
            cells[2].parse::<u64>(),
        ) else {
            continue;
        };
        documented.push((name.to_string(), value));
    }
    let schedule: Vec<_> = GasSchedule::V1
        .fields()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let mut a = documented.clone();
    let mut b = schedule.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "docs/gas.md table differs from GasSchedule::V1");
}

/// The wasmi release the engine names in refusals and docs is the one `Cargo.toml` pins.
#[test]
fn the_named_wasmi_version_is_the_pinned_one() {
    let manifest = include_str!("../../Cargo.toml");
    let line = manifest
        .lines()
        .find(|l| l.starts_with("wasmi = "))
        .expect("the workspace pins wasmi");
    let pin = format!("version = \"={}\"", aether_engine::vm::WASMI_VERSION);
    assert!(line.contains(&pin), "{line} does not contain {pin}");
    let lock = include_str!("../../Cargo.lock");
    let locked = format!(
        "name = \"wasmi\"\nversion = \"{}\"",
        aether_engine::vm::WASMI_VERSION
    );
    assert!(lock.contains(&locked), "Cargo.lock has another wasmi");
}
