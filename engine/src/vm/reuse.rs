//! Which modules may run a call in an instance left by an earlier call, and the small rewrite
//! that lets the engine reset such an instance.
//!
//! An instance's state is its memory, its globals, its table and its data and element
//! segments. The engine resets memory (copied back from the image taken right after
//! instantiation) and mutable globals (set back to their initial values); it cannot reset
//! the rest, so a module may be reused only if no instruction can change it: no `table.copy`,
//! `table.init`, `elem.drop` or `data.drop` (the rest of the table-changing instructions need
//! reference types, which the engine refuses). Start functions are refused at upload, so
//! instantiation has no effect outside the instance.
//!
//! wasmi reaches globals only through exports, so the module the engine compiles for such a
//! contract exports each mutable global under a name no contract can call (a global is not a
//! method). The contract's code, its hash and its gas are those of the uploaded bytes; the
//! extra exports change nothing a contract can observe.

use wasmparser::{Operator, Parser, Payload};

/// The prefix of the export names the rewrite adds. A module that already has an export with
/// this prefix is not reused.
const RESET_EXPORT_PREFIX: &str = "\0aether.reset.global.";

/// How to reset an instance of a reusable module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResetPlan {
    /// The export names of the module's mutable globals, in the rewritten module.
    pub globals: Vec<String>,
}

/// The rewritten code and the reset plan of a module that may be reused, or `None`.
///
/// `code` has passed the structural check; should it still not parse, the answer is `None`
/// and the module is compiled as uploaded (validation then reports the problem).
pub(crate) fn plan(code: &[u8]) -> Option<(Vec<u8>, ResetPlan)> {
    let mut mutable = Vec::new();
    let mut has_table = false;
    let mut has_data_count = false;
    let mut export_names_clash = false;
    for payload in Parser::new(0).parse_all(code) {
        match payload.ok()? {
            Payload::ImportSection(reader) => {
                // Only functions may be imported (checked at upload); a global or table import
                // would be state the engine does not own.
                for import in reader {
                    if !matches!(import.ok()?.ty, wasmparser::TypeRef::Func(_)) {
                        return None;
                    }
                }
            }
            Payload::TableSection(reader) => has_table |= reader.count() > 0,
            Payload::GlobalSection(reader) => {
                for (index, global) in reader.into_iter().enumerate() {
                    if global.ok()?.ty.mutable {
                        mutable.push(index as u32);
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    export_names_clash |= export.ok()?.name.starts_with(RESET_EXPORT_PREFIX);
                }
            }
            Payload::DataCountSection { .. } => has_data_count = true,
            Payload::CodeSectionEntry(body) if has_table || has_data_count => {
                let mut ops = body.get_operators_reader().ok()?;
                while !ops.eof() {
                    if changes_segments_or_table(&ops.read().ok()?) {
                        return None;
                    }
                }
            }
            _ => {}
        }
    }
    // `data.drop` needs the data count section and every table instruction a table: the code
    // of a module with neither is not scanned.
    if export_names_clash {
        return None;
    }
    let globals: Vec<String> = mutable
        .iter()
        .map(|i| format!("{RESET_EXPORT_PREFIX}{i}"))
        .collect();
    let exports: Vec<(&str, u32)> = globals
        .iter()
        .map(String::as_str)
        .zip(mutable.iter().copied())
        .collect();
    let rewritten = add_global_exports(code, &exports)?;
    Some((rewritten, ResetPlan { globals }))
}

fn changes_segments_or_table(op: &Operator) -> bool {
    matches!(
        op,
        Operator::TableCopy { .. }
            | Operator::TableInit { .. }
            | Operator::ElemDrop { .. }
            | Operator::DataDrop { .. }
            | Operator::TableSet { .. }
            | Operator::TableGrow { .. }
            | Operator::TableFill { .. }
    )
}

/// The id of the export section.
const EXPORT_SECTION: u8 = 7;
/// The global export kind.
const GLOBAL_KIND: u8 = 3;

/// `code` with `exports` (name, global index) appended to its export section. Every other
/// byte is kept. `None` if the module has no export section (every contract has one: its
/// memory is exported) or its sections do not parse.
fn add_global_exports(code: &[u8], exports: &[(&str, u32)]) -> Option<Vec<u8>> {
    if exports.is_empty() {
        return Some(code.to_vec());
    }
    let mut pos = 8; // magic and version
    while pos < code.len() {
        let start = pos;
        let id = *code.get(pos)?;
        let (size, n) = read_leb_u32(code.get(pos + 1..)?)?;
        let content = pos + 1 + n;
        let end = content.checked_add(size as usize)?;
        if end > code.len() {
            return None;
        }
        if id == EXPORT_SECTION {
            let (count, m) = read_leb_u32(&code[content..end])?;
            let mut body = Vec::with_capacity(end - content + exports.len() * 32);
            write_leb_u32(&mut body, count.checked_add(exports.len() as u32)?);
            body.extend_from_slice(&code[content + m..end]);
            for (name, index) in exports {
                write_leb_u32(&mut body, name.len() as u32);
                body.extend_from_slice(name.as_bytes());
                body.push(GLOBAL_KIND);
                write_leb_u32(&mut body, *index);
            }
            let mut out = Vec::with_capacity(code.len() + body.len());
            out.extend_from_slice(&code[..start]);
            out.push(EXPORT_SECTION);
            write_leb_u32(&mut out, u32::try_from(body.len()).ok()?);
            out.extend_from_slice(&body);
            out.extend_from_slice(&code[end..]);
            return Some(out);
        }
        pos = end;
    }
    None
}

/// An unsigned LEB128 u32 (at most 5 bytes, padded forms included) and its length.
fn read_leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((u32::try_from(value).ok()?, i + 1));
        }
    }
    None
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::ExternalKind;

    fn wasm(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn mutable_globals_are_exported_and_nothing_else_changes() {
        let code = wasm(
            r#"(module
              (memory (export "memory") 1)
              (global $a (mut i32) (i32.const 7))
              (global $b i64 (i64.const 1))
              (global $c (mut i64) (i64.const 9))
              (func (export "run") (global.set $a (i32.const 1))))"#,
        );
        let (rewritten, plan) = plan(&code).expect("reusable");
        assert_eq!(plan.globals.len(), 2);
        let mut names = Vec::new();
        for p in Parser::new(0).parse_all(&rewritten) {
            if let Payload::ExportSection(r) = p.unwrap() {
                for e in r {
                    let e = e.unwrap();
                    names.push((e.name.to_string(), e.kind, e.index));
                }
            }
        }
        assert_eq!(
            names,
            vec![
                ("memory".to_string(), ExternalKind::Memory, 0),
                ("run".to_string(), ExternalKind::Func, 0),
                (plan.globals[0].clone(), ExternalKind::Global, 0),
                (plan.globals[1].clone(), ExternalKind::Global, 2),
            ]
        );
        wasmparser::Validator::new()
            .validate_all(&rewritten)
            .expect("the rewritten module is valid");
        // The code section is byte for byte the uploaded one.
        let code_of = |m: &[u8]| {
            Parser::new(0)
                .parse_all(m)
                .find_map(|p| match p.unwrap() {
                    Payload::CodeSectionStart { range, .. } => Some(m[range].to_vec()),
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!(code_of(&code), code_of(&rewritten));
    }

    #[test]
    fn a_module_that_can_change_its_table_or_segments_is_not_reused() {
        for body in [
            "(table.copy (i32.const 0) (i32.const 1) (i32.const 1))",
            "(table.init 0 (i32.const 0) (i32.const 0) (i32.const 1))",
            "(elem.drop 0)",
        ] {
            let code = wasm(&format!(
                r#"(module
                  (memory (export "memory") 1)
                  (table 2 funcref)
                  (elem func $f)
                  (func $f)
                  (func (export "run") {body}))"#
            ));
            assert!(plan(&code).is_none(), "{body}");
        }
        let code = wasm(
            r#"(module
              (memory (export "memory") 1)
              (data "abc")
              (func (export "run") (data.drop 0)))"#,
        );
        assert!(plan(&code).is_none());
    }

    #[test]
    fn a_table_that_no_instruction_changes_does_not_prevent_reuse() {
        let code = wasm(
            r#"(module
              (type $t (func))
              (memory (export "memory") 1)
              (table 1 funcref)
              (elem (i32.const 0) $f)
              (func $f)
              (func (export "run") (call_indirect (type $t) (i32.const 0))))"#,
        );
        assert!(plan(&code).is_some());
    }

    #[test]
    fn an_export_named_like_the_reset_exports_prevents_reuse() {
        let code = wasm(
            r#"(module
              (memory (export "memory") 1)
              (global (export "\00aether.reset.global.0") (mut i32) (i32.const 0)))"#,
        );
        assert!(plan(&code).is_none());
    }

    #[test]
    fn leb_round_trips_including_padded_forms() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_leb_u32(&mut out, v);
            assert_eq!(read_leb_u32(&out), Some((v, out.len())));
        }
        assert_eq!(read_leb_u32(&[0x85, 0x80, 0x80, 0x00]), Some((5, 4)));
        assert_eq!(read_leb_u32(&[0x80, 0x80, 0x80, 0x80, 0x80]), None);
        assert_eq!(read_leb_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f]), None);
    }
}
