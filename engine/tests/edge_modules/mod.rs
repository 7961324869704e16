//! A generator of small modules whose immediates sit at their limits: memory offsets at and
//! beyond 65,536 up to `u32::MAX`, constants at the edges of their types, shifts by the width,
//! divisions by -1 and 0, `memory.grow`/`fill`/`copy` with extreme lengths, and the operand
//! sources that place values in wasmi's register or its slots (`memory.size`, a call result, a
//! global, one local read twice, a local just set or teed from a fresh result). wasm-smith draws immediates uniformly, so it
//! reached the store fault of issue 16 about once in 300,000 modules; this reaches it in tens.
//!
//! Every snippet is stack-neutral, so any sequence of them is a valid function body.
#![allow(dead_code)]

use proptest::prelude::*;

const I32_EDGES: &[i64] = &[
    0,
    1,
    -1,
    2,
    31,
    32,
    63,
    64,
    65_535,
    65_536,
    65_537,
    131_072,
    1 << 20,
    i32::MAX as i64,
    i32::MIN as i64,
    0xFFFF,
    0x7FFF,
    -65_536,
];
const I64_EDGES: &[i64] = &[
    0,
    1,
    -1,
    63,
    64,
    65_536,
    u32::MAX as i64,
    1 << 32,
    i64::MAX,
    i64::MIN,
    i32::MIN as i64,
];
const OFFSETS: &[u64] = &[
    0,
    1,
    8,
    65_535,
    65_536,
    65_537,
    131_072,
    1 << 20,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX as u64,
];

/// An i32 operand.
#[derive(Clone, Debug)]
pub enum Src32 {
    Local(u8),
    Const(i64),
    MemorySize,
    Call,
    Global,
}

/// An i64 operand.
#[derive(Clone, Debug)]
pub enum Src64 {
    Local(u8),
    Const(i64),
    Extend(Src32),
    Call,
}

/// A stack-neutral piece of a function body.
#[derive(Clone, Debug)]
pub enum Snippet {
    Store32(&'static str, Src32, Src32, u64),
    Store64(&'static str, Src32, Src64, u64),
    Load32(&'static str, Src32, u64, u8),
    Load64(&'static str, Src32, u64, u8),
    Bin32(&'static str, Src32, Src32, u8),
    Bin64(&'static str, Src64, Src64, u8),
    Unary32(&'static str, Src32, u8),
    Set32(u8, Src32),
    Tee32(u8, Src32, u8),
    SetGlobal(Src32),
    Grow(Src32, u8),
    Fill(Src32, Src32, Src32),
    Copy(Src32, Src32, Src32),
    Select(Src32, Src32, Src32, u8),
    If(Src32, Vec<Snippet>),
    Loop(Vec<Snippet>),
}

fn src32() -> impl Strategy<Value = Src32> {
    prop_oneof![
        3 => (0u8..2).prop_map(Src32::Local),
        3 => prop::sample::select(I32_EDGES).prop_map(Src32::Const),
        2 => Just(Src32::MemorySize),
        1 => Just(Src32::Call),
        1 => Just(Src32::Global),
    ]
}

fn src64() -> impl Strategy<Value = Src64> {
    prop_oneof![
        3 => (2u8..4).prop_map(Src64::Local),
        3 => prop::sample::select(I64_EDGES).prop_map(Src64::Const),
        2 => src32().prop_map(Src64::Extend),
        1 => Just(Src64::Call),
    ]
}

fn offset() -> impl Strategy<Value = u64> {
    prop::sample::select(OFFSETS)
}

fn leaf() -> impl Strategy<Value = Snippet> {
    let store32 = prop::sample::select(&["i32.store", "i32.store8", "i32.store16"][..]);
    let store64 =
        prop::sample::select(&["i64.store", "i64.store8", "i64.store16", "i64.store32"][..]);
    let load32 = prop::sample::select(
        &[
            "i32.load",
            "i32.load8_s",
            "i32.load8_u",
            "i32.load16_s",
            "i32.load16_u",
        ][..],
    );
    let load64 = prop::sample::select(
        &[
            "i64.load",
            "i64.load8_s",
            "i64.load8_u",
            "i64.load16_s",
            "i64.load16_u",
            "i64.load32_s",
            "i64.load32_u",
        ][..],
    );
    let bin32 = prop::sample::select(
        &[
            "i32.add",
            "i32.sub",
            "i32.mul",
            "i32.div_s",
            "i32.div_u",
            "i32.rem_s",
            "i32.rem_u",
            "i32.and",
            "i32.or",
            "i32.xor",
            "i32.shl",
            "i32.shr_s",
            "i32.shr_u",
            "i32.rotl",
            "i32.rotr",
            "i32.eq",
            "i32.ne",
            "i32.lt_s",
            "i32.lt_u",
            "i32.ge_s",
            "i32.ge_u",
        ][..],
    );
    let bin64 = prop::sample::select(
        &[
            "i64.add",
            "i64.sub",
            "i64.mul",
            "i64.div_s",
            "i64.div_u",
            "i64.rem_s",
            "i64.rem_u",
            "i64.and",
            "i64.or",
            "i64.xor",
            "i64.shl",
            "i64.shr_s",
            "i64.shr_u",
            "i64.rotl",
            "i64.rotr",
        ][..],
    );
    let unary32 = prop::sample::select(
        &[
            "i32.clz",
            "i32.ctz",
            "i32.popcnt",
            "i32.eqz",
            "i32.extend8_s",
            "i32.extend16_s",
        ][..],
    );
    prop_oneof![
        4 => (store32, src32(), src32(), offset()).prop_map(|(o, a, v, off)| Snippet::Store32(o, a, v, off)),
        4 => (store64, src32(), src64(), offset()).prop_map(|(o, a, v, off)| Snippet::Store64(o, a, v, off)),
        3 => (load32, src32(), offset(), 0u8..3).prop_map(|(o, a, off, d)| Snippet::Load32(o, a, off, d)),
        3 => (load64, src32(), offset(), 0u8..3).prop_map(|(o, a, off, d)| Snippet::Load64(o, a, off, d)),
        3 => (bin32, src32(), src32(), 0u8..3).prop_map(|(o, l, r, d)| Snippet::Bin32(o, l, r, d)),
        2 => (bin64, src64(), src64(), 0u8..3).prop_map(|(o, l, r, d)| Snippet::Bin64(o, l, r, d)),
        1 => (unary32, src32(), 0u8..3).prop_map(|(o, a, d)| Snippet::Unary32(o, a, d)),
        3 => (0u8..2, src32()).prop_map(|(l, s)| Snippet::Set32(l, s)),
        2 => (0u8..2, src32(), 0u8..3).prop_map(|(l, s, d)| Snippet::Tee32(l, s, d)),
        1 => src32().prop_map(Snippet::SetGlobal),
        1 => (src32(), 0u8..3).prop_map(|(s, d)| Snippet::Grow(s, d)),
        1 => (src32(), src32(), src32()).prop_map(|(a, b, c)| Snippet::Fill(a, b, c)),
        1 => (src32(), src32(), src32()).prop_map(|(a, b, c)| Snippet::Copy(a, b, c)),
        1 => (src32(), src32(), src32(), 0u8..3).prop_map(|(a, b, c, d)| Snippet::Select(a, b, c, d)),
    ]
}

fn snippet() -> impl Strategy<Value = Snippet> {
    leaf().prop_recursive(2, 24, 6, |inner| {
        prop_oneof![
            4 => inner.clone(),
            1 => (src32(), prop::collection::vec(inner.clone(), 1..6))
                .prop_map(|(c, body)| Snippet::If(c, body)),
            // A loop body runs once: it ends without branching back.
            1 => prop::collection::vec(inner, 1..6).prop_map(Snippet::Loop),
        ]
    })
}

/// A function body of 1..24 snippets.
pub fn body() -> impl Strategy<Value = Vec<Snippet>> {
    prop::collection::vec(snippet(), 1..24)
}

fn w32(s: &Src32, out: &mut String) {
    match s {
        Src32::Local(l) => out.push_str(&format!(" local.get {l}")),
        Src32::Const(c) => out.push_str(&format!(" i32.const {}", *c as i32)),
        Src32::MemorySize => out.push_str(" memory.size"),
        Src32::Call => out.push_str(" call $one"),
        Src32::Global => out.push_str(" global.get $g"),
    }
}

fn w64(s: &Src64, out: &mut String) {
    match s {
        Src64::Local(l) => out.push_str(&format!(" local.get {l}")),
        Src64::Const(c) => out.push_str(&format!(" i64.const {c}")),
        Src64::Extend(s) => {
            w32(s, out);
            out.push_str(" i64.extend_i32_u");
        }
        Src64::Call => out.push_str(" call $wide"),
    }
}

/// Consumes the i32 on the stack: drop it, or set local 0 or 1.
fn sink32(d: u8, out: &mut String) {
    match d {
        0 => out.push_str(" drop"),
        d => out.push_str(&format!(" local.set {}", d - 1)),
    }
}

fn sink64(d: u8, out: &mut String) {
    match d {
        0 => out.push_str(" drop"),
        d => out.push_str(&format!(" local.set {}", d + 1)),
    }
}

fn write(s: &Snippet, out: &mut String) {
    match s {
        Snippet::Store32(op, a, v, off) => {
            w32(a, out);
            w32(v, out);
            out.push_str(&format!(" {op} offset={off}"));
        }
        Snippet::Store64(op, a, v, off) => {
            w32(a, out);
            w64(v, out);
            out.push_str(&format!(" {op} offset={off}"));
        }
        Snippet::Load32(op, a, off, d) => {
            w32(a, out);
            out.push_str(&format!(" {op} offset={off}"));
            sink32(*d, out);
        }
        Snippet::Load64(op, a, off, d) => {
            w32(a, out);
            out.push_str(&format!(" {op} offset={off}"));
            sink64(*d, out);
        }
        Snippet::Bin32(op, l, r, d) => {
            w32(l, out);
            w32(r, out);
            out.push_str(&format!(" {op}"));
            sink32(*d, out);
        }
        Snippet::Bin64(op, l, r, d) => {
            w64(l, out);
            w64(r, out);
            out.push_str(&format!(" {op}"));
            sink64(*d, out);
        }
        Snippet::Unary32(op, a, d) => {
            w32(a, out);
            out.push_str(&format!(" {op}"));
            sink32(*d, out);
        }
        Snippet::Set32(l, s) => {
            w32(s, out);
            out.push_str(&format!(" local.set {l}"));
        }
        Snippet::Tee32(l, s, d) => {
            w32(s, out);
            out.push_str(&format!(" local.tee {l}"));
            sink32(*d, out);
        }
        Snippet::SetGlobal(s) => {
            w32(s, out);
            out.push_str(" global.set $g");
        }
        Snippet::Grow(s, d) => {
            w32(s, out);
            out.push_str(" memory.grow");
            sink32(*d, out);
        }
        Snippet::Fill(a, b, c) => {
            w32(a, out);
            w32(b, out);
            w32(c, out);
            out.push_str(" memory.fill");
        }
        Snippet::Copy(a, b, c) => {
            w32(a, out);
            w32(b, out);
            w32(c, out);
            out.push_str(" memory.copy");
        }
        Snippet::Select(a, b, c, d) => {
            w32(a, out);
            w32(b, out);
            w32(c, out);
            out.push_str(" select");
            sink32(*d, out);
        }
        Snippet::If(c, body) => {
            w32(c, out);
            out.push_str(" (if (then");
            for s in body {
                write(s, out);
            }
            out.push_str("))");
        }
        Snippet::Loop(body) => {
            out.push_str(" (loop");
            for s in body {
                write(s, out);
            }
            out.push(')');
        }
    }
}

/// The module: methods `a` and `b` run the two bodies; `init` is empty.
pub fn module(a: &[Snippet], b: &[Snippet]) -> Vec<u8> {
    let func = |name: &str, body: &[Snippet]| {
        let mut text = format!("(func (export \"{name}\") (local i32 i32 i64 i64)");
        for s in body {
            write(s, &mut text);
        }
        text.push(')');
        text
    };
    let wat = format!(
        r#"(module
  (memory (export "memory") 1 4)
  (global $g (mut i32) (i32.const 65536))
  (func $one (result i32) i32.const 1)
  (func $wide (result i64) i64.const -1)
  (func (export "init"))
  {}
  {})"#,
        func("a", a),
        func("b", b)
    );
    wat::parse_str(&wat).unwrap_or_else(|e| panic!("the generator wrote invalid text: {e}\n{wat}"))
}
