//! The codec between JSON and the SCALE encoding of the ABI's types. The decoder reads what a
//! contract returned, reverted with or emitted, so its work is bounded by what it is given:
//! every element of a sequence but a zero-sized one takes input bytes, a run of zero-sized
//! elements is at most [`MAX_ZERO_SIZED_RUN`] long, and one decode produces at most
//! [`MAX_DECODED_ITEMS`] values. Recursion follows the type, whose depth the parser bounds.

use parity_scale_codec::{Compact, Decode, Encode};
use serde_json::{Value, json};

use super::AbiError;
use super::ty::{Fields, Ty};

/// Longest sequence of zero-sized elements (`Vec<()>`, `[(); N]`) one decode accepts.
pub const MAX_ZERO_SIZED_RUN: usize = 1024;

/// Most values (elements, fields, items) one decode produces.
pub const MAX_DECODED_ITEMS: usize = 1 << 18;

/// Why bytes do not decode as a type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end before the value does.
    #[error("the data ends before the value does")]
    Truncated,
    /// Bytes are left after the value.
    #[error("{0} byte(s) left after the value")]
    Trailing(usize),
    /// A tag, boolean or string that is not a valid encoding.
    #[error("not a valid encoding of {0}")]
    Invalid(String),
    /// A sequence claims more elements than the data can hold.
    #[error("a sequence claims {claimed} elements of {ty}, more than {available} bytes can hold")]
    TooLong {
        /// Elements claimed.
        claimed: u64,
        /// Their type.
        ty: String,
        /// Bytes left.
        available: usize,
    },
    /// A sequence of zero-sized elements longer than [`MAX_ZERO_SIZED_RUN`].
    #[error(
        "a sequence of {claimed} zero-sized elements ({ty}); at most {MAX_ZERO_SIZED_RUN} are decoded"
    )]
    ZeroSizedRun {
        /// Elements claimed.
        claimed: u64,
        /// Their type.
        ty: String,
    },
    /// More than [`MAX_DECODED_ITEMS`] values.
    #[error("more than {MAX_DECODED_ITEMS} values in one decode")]
    TooManyItems,
    /// The type is not described by the ABI (shown as hex instead).
    #[error("the type is not described by the ABI")]
    NotDescribed,
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
        Ty::Address => {
            let dev = v
                .as_str()
                .and_then(|s| s.strip_prefix("//"))
                .filter(|name| !name.is_empty())
                .map(|name| {
                    aether_engine::crypto::Keypair::dev(&name.to_lowercase(), false)
                        .address()
                        .0
                        .to_vec()
                });
            let b = dev
                .or_else(|| hex_bytes(v))
                .filter(|b| b.len() == 32)
                .ok_or_else(err)?;
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
        Ty::Struct { fields, .. } => encode_fields(fields, v, arg, out).ok_or_else(err)??,
        Ty::Enum { variants, .. } => {
            // `"Name"` for a unit variant, `{"Name": payload}` for the others.
            let (name, payload) = match v {
                Value::String(name) => (name, &Value::Null),
                Value::Object(m) if m.len() == 1 => m.iter().next().ok_or_else(err)?,
                _ => return Err(err()),
            };
            let variant = variants.iter().find(|x| &x.name == name).ok_or_else(err)?;
            if v.is_string() && !variant.fields.is_empty() {
                return Err(err());
            }
            out.push(variant.index);
            encode_fields(&variant.fields, payload, &format!("{arg}.{name}"), out)
                .ok_or_else(err)??;
        }
    }
    Ok(())
}

/// How fields look in JSON (serde's conventions): none → `null`, all named → an object,
/// one positional → the value itself, several positional → an array.
enum Shape {
    Unit,
    Named,
    Newtype,
    Tuple,
}

fn shape(fields: &Fields) -> Shape {
    match fields.as_slice() {
        [] => Shape::Unit,
        f if f.iter().all(|(n, _)| n.is_some()) => Shape::Named,
        [_] => Shape::Newtype,
        _ => Shape::Tuple,
    }
}

/// Encodes `v` as `fields` in order; `None` if `v` has the wrong shape (a missing, extra or
/// misnamed field), `Some(Err)` if a field's value does not fit its type.
fn encode_fields(
    fields: &Fields,
    v: &Value,
    arg: &str,
    out: &mut Vec<u8>,
) -> Option<Result<(), AbiError>> {
    let values: Vec<(&Ty, &Value, String)> = match shape(fields) {
        Shape::Unit => {
            return v.is_null().then_some(Ok(()));
        }
        Shape::Newtype => vec![(&fields[0].1, v, arg.to_string())],
        Shape::Tuple => {
            let items = v.as_array().filter(|a| a.len() == fields.len())?;
            fields
                .iter()
                .zip(items)
                .enumerate()
                .map(|(i, ((_, t), item))| (t, item, format!("{arg}.{i}")))
                .collect()
        }
        Shape::Named => {
            let map = v.as_object().filter(|m| m.len() == fields.len())?;
            fields
                .iter()
                .map(|(n, t)| {
                    let n = n.as_deref().unwrap_or_default();
                    Some((t, map.get(n)?, format!("{arg}.{n}")))
                })
                .collect::<Option<_>>()?
        }
    };
    Some(
        values
            .into_iter()
            .try_for_each(|(t, item, path)| encode(t, item, &path, out)),
    )
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

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if input.len() < n {
        return Err(DecodeError::Truncated);
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// Decodes one value of `ty` from the front of `input`.
pub fn decode(ty: &Ty, input: &mut &[u8]) -> Result<Value, DecodeError> {
    let mut budget = MAX_DECODED_ITEMS;
    decode_bounded(ty, input, &mut budget)
}

/// Decodes `data` as exactly one `ty`.
pub fn decode_exact(ty: &Ty, mut data: &[u8]) -> Result<Value, DecodeError> {
    let v = decode(ty, &mut data)?;
    if data.is_empty() {
        Ok(v)
    } else {
        Err(DecodeError::Trailing(data.len()))
    }
}

/// Decodes values of several types in a row from `input`, sharing one item budget.
pub fn decode_all<'t>(
    types: impl IntoIterator<Item = &'t Ty>,
    input: &mut &[u8],
) -> Result<Vec<Value>, DecodeError> {
    let mut budget = MAX_DECODED_ITEMS;
    types
        .into_iter()
        .map(|t| decode_bounded(t, input, &mut budget))
        .collect()
}

/// Checks that `count` elements of `inner` can come from `input` before decoding any.
fn check_run(inner: &Ty, count: u64, input: &[u8]) -> Result<(), DecodeError> {
    if count == 0 {
        return Ok(());
    }
    let min = inner.min_encoded_len() as u64;
    if min == 0 {
        if count > MAX_ZERO_SIZED_RUN as u64 {
            return Err(DecodeError::ZeroSizedRun {
                claimed: count,
                ty: inner.to_string(),
            });
        }
    } else if count.saturating_mul(min) > input.len() as u64 {
        return Err(DecodeError::TooLong {
            claimed: count,
            ty: inner.to_string(),
            available: input.len(),
        });
    }
    Ok(())
}

fn decode_bounded(ty: &Ty, input: &mut &[u8], budget: &mut usize) -> Result<Value, DecodeError> {
    *budget = budget.checked_sub(1).ok_or(DecodeError::TooManyItems)?;
    let invalid = || DecodeError::Invalid(ty.to_string());
    Ok(match ty {
        Ty::Bool => json!(bool::decode(input).map_err(|_| invalid())?),
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
        Ty::Bytes32 | Ty::Address => json!(format!("0x{}", hex::encode(take(input, 32)?))),
        Ty::String => {
            let len = Compact::<u32>::decode(input).map_err(|_| invalid())?.0;
            check_run(&Ty::Uint(1), u64::from(len), input)?;
            let bytes = take(input, len as usize)?;
            json!(std::str::from_utf8(bytes).map_err(|_| invalid())?)
        }
        Ty::Vec(inner) => {
            let len = Compact::<u32>::decode(input).map_err(|_| invalid())?.0;
            check_run(inner, u64::from(len), input)?;
            if **inner == Ty::Uint(1) {
                json!(format!("0x{}", hex::encode(take(input, len as usize)?)))
            } else {
                let mut items = Vec::with_capacity((len as usize).min(*budget));
                for _ in 0..len {
                    items.push(decode_bounded(inner, input, budget)?);
                }
                Value::Array(items)
            }
        }
        Ty::Option(inner) => match take(input, 1)?[0] {
            0 => Value::Null,
            1 => decode_bounded(inner, input, budget)?,
            _ => return Err(invalid()),
        },
        Ty::Result(ok, err) => match take(input, 1)?[0] {
            0 => json!({"Ok": decode_bounded(ok, input, budget)?}),
            1 => json!({"Err": decode_bounded(err, input, budget)?}),
            _ => return Err(invalid()),
        },
        Ty::Array(inner, n) => {
            check_run(inner, *n as u64, input)?;
            if **inner == Ty::Uint(1) {
                json!(format!("0x{}", hex::encode(take(input, *n)?)))
            } else {
                let mut items = Vec::with_capacity((*n).min(*budget));
                for _ in 0..*n {
                    items.push(decode_bounded(inner, input, budget)?);
                }
                Value::Array(items)
            }
        }
        Ty::Struct { fields, .. } => decode_fields(fields, input, budget)?,
        Ty::Enum { variants, .. } => {
            let index = take(input, 1)?[0];
            let variant = variants
                .iter()
                .find(|v| v.index == index)
                .ok_or_else(invalid)?;
            match shape(&variant.fields) {
                Shape::Unit => json!(variant.name),
                _ => {
                    json!({ variant.name.clone(): decode_fields(&variant.fields, input, budget)? })
                }
            }
        }
        Ty::Tuple(types) if types.is_empty() => Value::Null,
        Ty::Tuple(types) => {
            let mut items = Vec::with_capacity(types.len());
            for t in types {
                items.push(decode_bounded(t, input, budget)?);
            }
            Value::Array(items)
        }
    })
}

fn decode_fields(
    fields: &Fields,
    input: &mut &[u8],
    budget: &mut usize,
) -> Result<Value, DecodeError> {
    let mut values = Vec::with_capacity(fields.len());
    for (_, t) in fields {
        values.push(decode_bounded(t, input, budget)?);
    }
    Ok(match shape(fields) {
        Shape::Unit => Value::Null,
        Shape::Newtype => values.pop().unwrap_or(Value::Null),
        Shape::Tuple => Value::Array(values),
        Shape::Named => Value::Object(
            fields
                .iter()
                .map(|(n, _)| n.clone().unwrap_or_default())
                .zip(values)
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::ty::Ty;

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
            assert_eq!(decode_exact(&t, &out), Ok(v.clone()), "{ty}");
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
    fn an_address_argument_takes_a_dev_name_as_the_cli_does() {
        let t = Ty::parse("Address").unwrap();
        let mut out = Vec::new();
        encode(&t, &json!("//Bob"), "to", &mut out).unwrap();
        let bob = aether_engine::crypto::Keypair::dev("bob", false).address();
        assert_eq!(out, bob.0.to_vec());
    }

    #[test]
    fn values_out_of_range_or_of_the_wrong_shape_are_rejected() {
        for (ty, v) in [
            ("u8", json!(256)),
            ("i8", json!(-129)),
            ("u64", json!(-1)),
            ("Address", json!("0x01")),
            ("Address", json!("//")),
            ("Hash", json!("//alice")),
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
        assert_eq!(decode_exact(&t, &[1, 2, 3]), Err(DecodeError::Truncated));
        assert_eq!(
            decode_exact(&t, &[1, 2, 3, 4, 5]),
            Err(DecodeError::Trailing(1))
        );
        let v = Ty::parse("Vec<u64>").unwrap();
        // Claims a million elements, holds none: refused before any is decoded.
        assert!(matches!(
            decode_exact(&v, &Compact(1_000_000u32).encode()),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn zero_sized_runs_and_item_counts_are_bounded() {
        // Issue 18: a truthful `Vec<()>` whose contract returned 03 ff ff ff ff claimed
        // 1,073,741,823 elements that read no input, and allocated without bound.
        let unit_vec = Ty::parse("Vec<()>").unwrap();
        assert!(matches!(
            decode_exact(&unit_vec, &[0x03, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::ZeroSizedRun {
                claimed: 4_294_967_295,
                ..
            })
        ));
        let ok = Compact(MAX_ZERO_SIZED_RUN as u32).encode();
        assert_eq!(
            decode_exact(&unit_vec, &ok).map(|v| v.as_array().map(Vec::len)),
            Ok(Some(MAX_ZERO_SIZED_RUN))
        );
        // A Result of huge arrays inside a Vec: refused, no overflow (review).
        let huge = "[u8;18446744073709551615]";
        let t = Ty::parse(&format!("Vec<Result<{huge},{huge}>>")).unwrap();
        assert!(decode_exact(&t, &[0x04, 0, 0]).is_err());
        // `[(); 100000000000]` in an ABI: refused by count.
        let huge = Ty::parse("[();100000000000]").unwrap();
        assert!(matches!(
            decode_exact(&huge, &[]),
            Err(DecodeError::ZeroSizedRun { .. })
        ));
        // Nested runs under the limit each still count against the item budget: 256 runs of
        // 1024 units and their arrays are 262,401 values, just over it.
        let square = Ty::parse("[[();1024];256]").unwrap();
        assert_eq!(decode_exact(&square, &[]), Err(DecodeError::TooManyItems));
        let under = Ty::parse("[[();1024];255]").unwrap();
        assert!(decode_exact(&under, &[]).is_ok());
    }
}
