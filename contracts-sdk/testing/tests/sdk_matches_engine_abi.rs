//! Every host function the SDK imports exists in the engine with the same signature, and the
//! SDK imports every function the engine provides.

use aether_engine::vm::{AbiType, HOST_FUNCTIONS};

fn engine_signature(name: &str) -> Option<String> {
    let f = HOST_FUNCTIONS.iter().find(|f| f.name == name)?;
    let ty = |t: &AbiType| match t {
        AbiType::I32 => "i32",
        AbiType::I64 => "i64",
    };
    let mut sig: String = f.params.iter().map(|t| format!("{} ", ty(t))).collect();
    sig.push_str("->");
    for r in f.results {
        sig.push(' ');
        sig.push_str(ty(r));
    }
    Some(sig)
}

#[test]
fn every_sdk_import_exists_in_the_engine_with_the_same_signature() {
    for (name, sdk_sig) in aether_contracts_sdk::sys::IMPORTS {
        let engine = engine_signature(name).unwrap_or_else(|| {
            panic!("the SDK imports `{name}`, which the engine does not define")
        });
        // `-> !` (return, revert) is a function without results that does not come back.
        let sdk = sdk_sig.strip_suffix(" !").unwrap_or(sdk_sig);
        assert_eq!(sdk, engine, "signature of `{name}`");
    }
}

#[test]
fn the_sdk_imports_every_engine_host_function() {
    for f in HOST_FUNCTIONS {
        assert!(
            aether_contracts_sdk::sys::IMPORTS
                .iter()
                .any(|(n, _)| *n == f.name),
            "the SDK lacks a binding for `{}`",
            f.name
        );
    }
}
