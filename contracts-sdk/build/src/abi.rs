//! Contract ABI metadata (the JSON the `#[contract]` macro emits) and a codec between its types
//! and JSON, so tools take arguments as JSON (`["0x…", 100]`) and show return values, errors
//! and events decoded.
//!
//! Types are the Rust spellings the macro records: `bool`, `u8`…`u128`, `i8`…`i128`,
//! `Address`, `Hash`, `String`, `Vec<T>`, `Option<T>`, `Result<T,E>`, tuples `(A,B)`, arrays
//! `[T;N]` and `()`. In JSON, integers are numbers (or decimal strings, for values beyond 2^53),
//! addresses, hashes and byte vectors/arrays are `0x` hex, tuples and arrays are JSON arrays,
//! `None` is `null`. Other types (a contract's own structs and enums) are not described by the
//! ABI and are shown as hex.

use parity_scale_codec::{Compact, Decode, Encode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// ABI metadata, version 1.
#[derive(Clone, Debug, Deserialize)]
pub struct Abi {
    /// Format version (1).
    pub abi_version: u64,
    /// The storage struct's name.
    pub contract: String,
    /// The constructor (export `init`), if any.
    pub constructor: Option<Method>,
    /// The messages.
    pub methods: Vec<Method>,
    /// The events.
    pub events: Vec<EventDef>,
    /// The error enums.
    pub errors: Vec<ErrorDef>,
}

/// A message or the constructor.
#[derive(Clone, Debug, Deserialize)]
pub struct Method {
    /// Export name.
    pub name: String,
    /// Arguments, in order (encoded as a tuple).
    pub args: Vec<Field>,
    /// The success type.
    pub returns: String,
    /// The error type, for messages returning `Result`.
    pub error: Option<String>,
    /// Whether it may change state.
    pub mutates: bool,
    /// Whether it accepts value.
    pub payable: bool,
}

/// A named, typed field or argument.
#[derive(Clone, Debug, Deserialize)]
pub struct Field {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// For event fields: whether it is a topic.
    #[serde(default)]
    pub topic: bool,
}

/// An event.
#[derive(Clone, Debug, Deserialize)]
pub struct EventDef {
    /// Name.
    pub name: String,
    /// `0x` hex SHA-256 of the name: the event's first topic.
    pub signature_topic: String,
    /// Fields in order (the data is their SCALE encoding).
    pub fields: Vec<Field>,
}

/// An error enum.
#[derive(Clone, Debug, Deserialize)]
pub struct ErrorDef {
    /// Name.
    pub name: String,
    /// Variants in order (SCALE index = position).
    pub variants: Vec<Variant>,
}

/// An error variant.
#[derive(Clone, Debug, Deserialize)]
pub struct Variant {
    /// Name.
    pub name: String,
    /// Field types.
    pub fields: Vec<String>,
}

/// An argument or value that does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    /// The ABI JSON is malformed.
    #[error("ABI metadata is not valid: {0}")]
    Metadata(String),
    /// No such method.
    #[error("the ABI has no method `{0}`")]
    NoMethod(String),
    /// The arguments are not a JSON array of the right length.
    #[error("`{method}` takes {expected} argument(s) ({types}); got {got}")]
    Arity {
        /// Method.
        method: String,
        /// Arguments expected.
        expected: usize,
        /// Their types.
        types: String,
        /// What was given.
        got: String,
    },
    /// A value does not fit its type.
    #[error("argument `{arg}`: expected {ty}, got {value}")]
    Value {
        /// Argument (path).
        arg: String,
        /// Type expected.
        ty: String,
        /// Value given.
        value: String,
    },
    /// The type is not described by the ABI.
    #[error("argument `{arg}` has type `{ty}`, which the ABI does not describe: pass raw 0x hex")]
    Unsupported {
        /// Argument.
        arg: String,
        /// Type.
        ty: String,
    },
}

impl Abi {
    /// Parses ABI JSON.
    pub fn parse(json: &[u8]) -> Result<Abi, AbiError> {
        let abi: Abi =
            serde_json::from_slice(json).map_err(|e| AbiError::Metadata(e.to_string()))?;
        if abi.abi_version != 1 {
            return Err(AbiError::Metadata(format!(
                "abi_version {} is not supported (expected 1)",
                abi.abi_version
            )));
        }
        Ok(abi)
    }

    /// The method named `name` (`init` is the constructor).
    pub fn method(&self, name: &str) -> Option<&Method> {
        if name == "init" {
            return self.constructor.as_ref();
        }
        self.methods.iter().find(|m| m.name == name)
    }

    /// Encodes JSON `args` (an array) as the input of `method`.
    pub fn encode_args(&self, method: &str, args: &Value) -> Result<Vec<u8>, AbiError> {
        let m = self
            .method(method)
            .ok_or_else(|| AbiError::NoMethod(method.to_string()))?;
        let types = m
            .args
            .iter()
            .map(|a| format!("{}: {}", a.name, a.ty))
            .collect::<Vec<_>>()
            .join(", ");
        let arity = |got: String| AbiError::Arity {
            method: method.to_string(),
            expected: m.args.len(),
            types: types.clone(),
            got,
        };
        let Value::Array(values) = args else {
            return Err(arity(format!("{args} (not a JSON array)")));
        };
        if values.len() != m.args.len() {
            return Err(arity(format!("{} value(s)", values.len())));
        }
        let mut out = Vec::new();
        for (a, v) in m.args.iter().zip(values) {
            let ty = Ty::parse(&a.ty).ok_or_else(|| AbiError::Unsupported {
                arg: a.name.clone(),
                ty: a.ty.clone(),
            })?;
            encode(&ty, v, &a.name, &mut out)?;
        }
        Ok(out)
    }

    /// Decodes what `method` returned (`Some` if the type is described).
    pub fn decode_return(&self, method: &str, data: &[u8]) -> Option<Value> {
        let m = self.method(method)?;
        decode_exact(&Ty::parse(&m.returns)?, data)
    }

    /// Decodes revert data of `method`: the contract error, or the panic message.
    pub fn decode_revert(&self, method: &str, data: &[u8]) -> Option<Value> {
        let (tag, rest) = data.split_first()?;
        match tag {
            0 => {
                let name = self.method(method)?.error.as_ref()?;
                let def = self.errors.iter().find(|e| &e.name == name)?;
                let (idx, mut fields) = rest.split_first()?;
                let variant = def.variants.get(*idx as usize)?;
                let mut values = Vec::new();
                for f in &variant.fields {
                    values.push(decode(&Ty::parse(f)?, &mut fields)?);
                }
                if !fields.is_empty() {
                    return None;
                }
                Some(if values.is_empty() {
                    json!({"error": format!("{}::{}", def.name, variant.name)})
                } else {
                    json!({"error": format!("{}::{}", def.name, variant.name), "fields": values})
                })
            }
            1 => Some(json!({"panic": String::from_utf8_lossy(rest)})),
            _ => None,
        }
    }

    /// Decodes an event by its first topic: `{"name": …, "fields": {…}}`.
    pub fn decode_event(&self, topic0: &[u8; 32], data: &[u8]) -> Option<Value> {
        let hex0 = format!("0x{}", hex::encode(topic0));
        let def = self.events.iter().find(|e| e.signature_topic == hex0)?;
        let mut rest = data;
        let mut fields = Map::new();
        for f in &def.fields {
            let value = match Ty::parse(&f.ty) {
                Some(ty) => decode(&ty, &mut rest)?,
                // Undescribed types end decoding: show the rest as hex.
                None => {
                    fields.insert(f.name.clone(), json!(format!("0x{}", hex::encode(rest))));
                    rest = &[];
                    break;
                }
            };
            fields.insert(f.name.clone(), value);
        }
        rest.is_empty()
            .then(|| json!({"name": def.name, "fields": Value::Object(fields)}))
    }
}

/// A type the codec understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// Unsigned integer of this many bytes.
    Uint(usize),
    /// Signed integer of this many bytes.
    Int(usize),
    /// `Address` or `Hash`: 32 bytes.
    Bytes32,
    /// `String`.
    String,
    /// `Vec<T>`.
    Vec(Box<Ty>),
    /// `Option<T>`.
    Option(Box<Ty>),
    /// `Result<T, E>`.
    Result(Box<Ty>, Box<Ty>),
    /// `[T; N]`.
    Array(Box<Ty>, usize),
    /// A tuple (`()` is the empty one).
    Tuple(Vec<Ty>),
}

impl Ty {
    /// Parses a type as the macro spells it (no whitespace); `None` if not described.
    pub fn parse(s: &str) -> Option<Ty> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let (ty, rest) = parse_ty(&s)?;
        rest.is_empty().then_some(ty)
    }
}

fn parse_ty(s: &str) -> Option<(Ty, &str)> {
    if let Some(rest) = s.strip_prefix('(') {
        let (items, rest) = parse_list(rest, ')')?;
        return Some((Ty::Tuple(items), rest));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, rest) = parse_ty(rest)?;
        let rest = rest.strip_prefix(';')?;
        let end = rest.find(']')?;
        let n = rest[..end].parse().ok()?;
        return Some((Ty::Array(Box::new(inner), n), &rest[end + 1..]));
    }
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let (path, rest) = s.split_at(end);
    let name = path.rsplit("::").next()?;
    if let Some(rest) = rest.strip_prefix('<') {
        let (args, rest) = parse_list(rest, '>')?;
        let ty = match (name, args.as_slice()) {
            ("Vec", [t]) => Ty::Vec(Box::new(t.clone())),
            ("Option", [t]) => Ty::Option(Box::new(t.clone())),
            ("Result", [t, e]) => Ty::Result(Box::new(t.clone()), Box::new(e.clone())),
            _ => return None,
        };
        return Some((ty, rest));
    }
    let ty = match name {
        "bool" => Ty::Bool,
        "u8" => Ty::Uint(1),
        "u16" => Ty::Uint(2),
        "u32" => Ty::Uint(4),
        "u64" => Ty::Uint(8),
        "u128" => Ty::Uint(16),
        "i8" => Ty::Int(1),
        "i16" => Ty::Int(2),
        "i32" => Ty::Int(4),
        "i64" => Ty::Int(8),
        "i128" => Ty::Int(16),
        "Address" | "Hash" => Ty::Bytes32,
        "String" => Ty::String,
        _ => return None,
    };
    Some((ty, rest))
}

fn parse_list(mut s: &str, close: char) -> Option<(Vec<Ty>, &str)> {
    let mut items = Vec::new();
    loop {
        if let Some(rest) = s.strip_prefix(close) {
            return Some((items, rest));
        }
        let (t, rest) = parse_ty(s)?;
        items.push(t);
        s = rest.strip_prefix(',').unwrap_or(rest);
        if !rest.starts_with(',') && !rest.starts_with(close) {
            return None;
        }
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::Uint(n) => write!(f, "u{}", n * 8),
            Ty::Int(n) => write!(f, "i{}", n * 8),
            Ty::Bytes32 => f.write_str("32 bytes as 0x hex"),
            Ty::String => f.write_str("String"),
            Ty::Vec(t) if **t == Ty::Uint(1) => f.write_str("bytes as 0x hex"),
            Ty::Vec(t) => write!(f, "Vec<{t}>"),
            Ty::Option(t) => write!(f, "Option<{t}>"),
            Ty::Result(t, e) => write!(f, "Result<{t}, {e}>"),
            Ty::Array(t, n) => write!(f, "[{t}; {n}]"),
            Ty::Tuple(ts) => {
                f.write_str("(")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(")")
            }
        }
    }
}

fn value_err(arg: &str, ty: &Ty, v: &Value) -> AbiError {
    AbiError::Value {
        arg: arg.to_string(),
        ty: ty.to_string(),
        value: v.to_string(),
    }
}

fn integer(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn unsigned(v: &Value) -> Option<u128> {
    match v {
        Value::Number(n) => n.as_u64().map(u128::from),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn hex_bytes(v: &Value) -> Option<Vec<u8>> {
    hex::decode(v.as_str()?.strip_prefix("0x")?).ok()
}

/// Encodes JSON `v` as `ty`, appending to `out`.
pub fn encode(ty: &Ty, v: &Value, arg: &str, out: &mut Vec<u8>) -> Result<(), AbiError> {
    let err = || value_err(arg, ty, v);
    match ty {
        Ty::Bool => v.as_bool().ok_or_else(err)?.encode_to(out),
        Ty::Uint(n) => {
            let x = unsigned(v).ok_or_else(err)?;
            if *n < 16 && x >> (n * 8) != 0 {
                return Err(err());
            }
            out.extend_from_slice(&x.to_le_bytes()[..*n]);
        }
        Ty::Int(n) => {
            let x = integer(v).ok_or_else(err)?;
            let bits = n * 8;
            if *n < 16 && (x < -(1i128 << (bits - 1)) || x >= (1i128 << (bits - 1))) {
                return Err(err());
            }
            out.extend_from_slice(&x.to_le_bytes()[..*n]);
        }
        Ty::Bytes32 => {
            let b = hex_bytes(v).filter(|b| b.len() == 32).ok_or_else(err)?;
            out.extend_from_slice(&b);
        }
        Ty::String => v.as_str().ok_or_else(err)?.encode_to(out),
        Ty::Vec(inner) if **inner == Ty::Uint(1) && v.is_string() => {
            hex_bytes(v).ok_or_else(err)?.encode_to(out)
        }
        Ty::Vec(inner) => {
            let items = v.as_array().ok_or_else(err)?;
            Compact(items.len() as u32).encode_to(out);
            for (i, item) in items.iter().enumerate() {
                encode(inner, item, &format!("{arg}[{i}]"), out)?;
            }
        }
        Ty::Option(inner) => {
            if v.is_null() {
                out.push(0);
            } else {
                out.push(1);
                encode(inner, v, arg, out)?;
            }
        }
        Ty::Result(_, _) => return Err(err()),
        Ty::Array(inner, n) if **inner == Ty::Uint(1) && v.is_string() => {
            let b = hex_bytes(v).filter(|b| b.len() == *n).ok_or_else(err)?;
            out.extend_from_slice(&b);
        }
        Ty::Array(inner, n) => {
            let items = v.as_array().filter(|a| a.len() == *n).ok_or_else(err)?;
            for (i, item) in items.iter().enumerate() {
                encode(inner, item, &format!("{arg}[{i}]"), out)?;
            }
        }
        Ty::Tuple(types) => {
            if types.is_empty() && v.is_null() {
                return Ok(());
            }
            let items = v
                .as_array()
                .filter(|a| a.len() == types.len())
                .ok_or_else(err)?;
            for (i, (t, item)) in types.iter().zip(items).enumerate() {
                encode(t, item, &format!("{arg}.{i}"), out)?;
            }
        }
    }
    Ok(())
}

fn number_json(x: i128) -> Value {
    if let Ok(small) = i64::try_from(x) {
        json!(small)
    } else {
        json!(x.to_string())
    }
}

fn unsigned_json(x: u128) -> Value {
    if let Ok(small) = u64::try_from(x) {
        json!(small)
    } else {
        json!(x.to_string())
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

/// Decodes one value of `ty` from the front of `input`.
pub fn decode(ty: &Ty, input: &mut &[u8]) -> Option<Value> {
    Some(match ty {
        Ty::Bool => json!(bool::decode(input).ok()?),
        Ty::Uint(n) => {
            let mut b = [0u8; 16];
            b[..*n].copy_from_slice(take(input, *n)?);
            unsigned_json(u128::from_le_bytes(b))
        }
        Ty::Int(n) => {
            let raw = take(input, *n)?;
            let fill = if raw[n - 1] & 0x80 != 0 { 0xFF } else { 0 };
            let mut b = [fill; 16];
            b[..*n].copy_from_slice(raw);
            number_json(i128::from_le_bytes(b))
        }
        Ty::Bytes32 => json!(format!("0x{}", hex::encode(take(input, 32)?))),
        Ty::String => json!(String::decode(input).ok()?),
        Ty::Vec(inner) => {
            let len = Compact::<u32>::decode(input).ok()?.0 as usize;
            if **inner == Ty::Uint(1) {
                json!(format!("0x{}", hex::encode(take(input, len)?)))
            } else {
                // Each element takes at least a byte unless it is a unit tuple: cap by input.
                let mut items = Vec::with_capacity(len.min(input.len()));
                for _ in 0..len {
                    items.push(decode(inner, input)?);
                }
                Value::Array(items)
            }
        }
        Ty::Option(inner) => match take(input, 1)?[0] {
            0 => Value::Null,
            1 => decode(inner, input)?,
            _ => return None,
        },
        Ty::Result(ok, err) => match take(input, 1)?[0] {
            0 => json!({"Ok": decode(ok, input)?}),
            1 => json!({"Err": decode(err, input)?}),
            _ => return None,
        },
        Ty::Array(inner, n) => {
            if **inner == Ty::Uint(1) {
                json!(format!("0x{}", hex::encode(take(input, *n)?)))
            } else {
                let mut items = Vec::new();
                for _ in 0..*n {
                    items.push(decode(inner, input)?);
                }
                Value::Array(items)
            }
        }
        Ty::Tuple(types) if types.is_empty() => Value::Null,
        Ty::Tuple(types) => {
            let mut items = Vec::new();
            for t in types {
                items.push(decode(t, input)?);
            }
            Value::Array(items)
        }
    })
}

/// Decodes `data` as exactly one `ty`.
pub fn decode_exact(ty: &Ty, mut data: &[u8]) -> Option<Value> {
    let v = decode(ty, &mut data)?;
    data.is_empty().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_types() {
        assert_eq!(
            Ty::parse("(Address, Vec<Option<u128>>)"),
            Some(Ty::Tuple(vec![
                Ty::Bytes32,
                Ty::Vec(Box::new(Ty::Option(Box::new(Ty::Uint(16)))))
            ]))
        );
        assert_eq!(
            Ty::parse("[u8;4]"),
            Some(Ty::Array(Box::new(Ty::Uint(1)), 4))
        );
        assert_eq!(Ty::parse("()"), Some(Ty::Tuple(vec![])));
        assert_eq!(Ty::parse("Deal"), None);
        assert_eq!(Ty::parse("Vec<u8"), None);
    }

    #[test]
    fn json_round_trips_through_scale() {
        let cases = [
            ("u128", json!("340282366920938463463374607431768211455")),
            ("i32", json!(-5)),
            ("bool", json!(true)),
            ("String", json!("héllo")),
            ("Vec<u8>", json!("0x0102ff")),
            ("Option<u64>", Value::Null),
            ("(u8,Vec<u16>)", json!([7, [1, 65535]])),
            ("[u8;2]", json!("0xabcd")),
            (
                "Address",
                json!("0x0101010101010101010101010101010101010101010101010101010101010101"),
            ),
        ];
        for (ty, v) in cases {
            let t = Ty::parse(ty).unwrap();
            let mut out = Vec::new();
            encode(&t, &v, "x", &mut out).unwrap();
            assert_eq!(decode_exact(&t, &out), Some(v.clone()), "{ty}");
        }
    }

    #[test]
    fn integers_match_the_rust_encoding() {
        let mut out = Vec::new();
        encode(&Ty::Uint(16), &json!(7), "x", &mut out).unwrap();
        assert_eq!(out, 7u128.encode());
        let mut out = Vec::new();
        encode(&Ty::Int(2), &json!(-2), "x", &mut out).unwrap();
        assert_eq!(out, (-2i16).encode());
        let mut out = Vec::new();
        encode(
            &Ty::Vec(Box::new(Ty::Uint(4))),
            &json!([1, 2]),
            "x",
            &mut out,
        )
        .unwrap();
        assert_eq!(out, vec![1u32, 2].encode());
    }

    #[test]
    fn values_out_of_range_or_of_the_wrong_shape_are_rejected() {
        for (ty, v) in [
            ("u8", json!(256)),
            ("i8", json!(-129)),
            ("u64", json!(-1)),
            ("Address", json!("0x01")),
            ("bool", json!(1)),
            ("(u8,u8)", json!([1])),
        ] {
            let t = Ty::parse(ty).unwrap();
            assert!(encode(&t, &v, "x", &mut Vec::new()).is_err(), "{ty} {v}");
        }
    }

    #[test]
    fn truncated_or_trailing_data_does_not_decode() {
        let t = Ty::parse("u32").unwrap();
        assert_eq!(decode_exact(&t, &[1, 2, 3]), None);
        assert_eq!(decode_exact(&t, &[1, 2, 3, 4, 5]), None);
        let v = Ty::parse("Vec<u64>").unwrap();
        // Claims a million elements, holds none.
        assert_eq!(decode_exact(&v, &Compact(1_000_000u32).encode()), None);
    }
}
