//! Views of an execution trace (`aether_engine::vm::trace`): JSON for tools (what
//! `debug_traceTransaction`, `debug_traceCall` and `--trace --json` give) and an indented tree
//! for people, drawn from that JSON so that the CLI draws what the node sent. Where a frame's
//! code carries an ABI, its input, return value, revert error and events are decoded too.

use std::collections::HashMap;

use aether_contract_build::abi::{Abi, DecodeError, Ty, decode_exact};
use aether_engine::types::Hash;
use aether_engine::vm::trace::{Frame, Op, Step, Trace};
use serde_json::{Map, Value, json};

/// The ABI in `code`'s `aether:abi` section, if it has a valid one.
pub fn abi_of_code(code: &[u8]) -> Option<Abi> {
    let bytes = aether_contract_build::custom_section(code, aether_contract_build::ABI_SECTION)?;
    Abi::parse(&bytes).ok()
}

/// ABIs by code hash, each looked up once.
pub struct Abis<F: FnMut(&Hash) -> Option<Abi>> {
    lookup: F,
    seen: HashMap<Hash, Option<Abi>>,
}

impl<F: FnMut(&Hash) -> Option<Abi>> Abis<F> {
    /// ABIs found by `lookup` (for example: the code at that hash, through [`abi_of_code`]).
    pub fn new(lookup: F) -> Self {
        Self {
            lookup,
            seen: HashMap::new(),
        }
    }

    fn get(&mut self, code_hash: &Hash) -> Option<&Abi> {
        let lookup = &mut self.lookup;
        self.seen
            .entry(*code_hash)
            .or_insert_with(|| lookup(code_hash))
            .as_ref()
    }
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A decoded value, a `decodeError`, or nothing where the ABI does not describe it.
fn put(out: &mut Map<String, Value>, key: &str, decoded: Result<Value, DecodeError>) {
    match decoded {
        Ok(v) => {
            out.insert(key.into(), v);
        }
        Err(DecodeError::NotDescribed) => {}
        Err(e) => {
            out.insert(format!("{key}DecodeError"), json!(e.to_string()));
        }
    }
}

/// The trace as JSON.
pub fn to_json<F: FnMut(&Hash) -> Option<Abi>>(trace: &Trace, abis: &mut Abis<F>) -> Value {
    json!({
        "truncated": trace.truncated,
        "frame": trace.frame.as_ref().map(|f| frame_json(f, abis)),
    })
}

fn frame_json<F: FnMut(&Hash) -> Option<Abi>>(f: &Frame, abis: &mut Abis<F>) -> Value {
    let method = f
        .method
        .as_deref()
        .unwrap_or(aether_engine::vm::abi::CONSTRUCTOR);
    let mut o = Map::new();
    o.insert("caller".into(), json!(f.caller.to_hex()));
    o.insert("contract".into(), json!(f.contract.to_hex()));
    o.insert("codeHash".into(), json!(f.code_hash.to_hex()));
    o.insert("method".into(), json!(method));
    o.insert("value".into(), json!(f.value.to_string()));
    o.insert("input".into(), json!(hex(&f.input)));
    o.insert("gasLimit".into(), json!(f.gas_limit));
    o.insert("gasUsed".into(), json!(f.gas_used));
    o.insert("status".into(), json!(f.status.as_str()));
    o.insert("output".into(), json!(hex(&f.output)));
    if let Some(e) = &f.error {
        o.insert("error".into(), json!(e));
    }
    if let Some(abi) = abis.get(&f.code_hash) {
        put(&mut o, "args", abi.decode_args(method, &f.input));
        match f.status {
            aether_engine::types::Status::Success => {
                put(&mut o, "returned", abi.decode_return(method, &f.output))
            }
            aether_engine::types::Status::Revert => {
                put(&mut o, "reverted", abi.decode_revert(method, &f.output))
            }
            _ => {}
        }
    }
    let steps: Vec<Value> = f
        .steps
        .iter()
        .map(|s| step_json(s, f.code_hash, abis))
        .collect();
    o.insert("steps".into(), Value::Array(steps));
    Value::Object(o)
}

fn step_json<F: FnMut(&Hash) -> Option<Abi>>(
    s: &Step,
    code_hash: Hash,
    abis: &mut Abis<F>,
) -> Value {
    let mut o = Map::new();
    o.insert("host".into(), json!(s.host));
    o.insert("gas".into(), json!(s.gas));
    if let Some(r) = s.result {
        o.insert("result".into(), json!(r));
    }
    if let Some(t) = &s.trap {
        o.insert("trap".into(), json!(t));
    }
    let opt = |v: &Option<Vec<u8>>| v.as_deref().map(hex);
    // A storage key named through the layout in the frame's ABI (`balances["0x…"]`), and its
    // values decoded where the layout gives their type.
    let mut slot = |o: &mut Map<String, Value>, key: &[u8], values: &[(&str, Option<&Vec<u8>>)]| {
        let Some((name, ty)) = abis.get(&code_hash).and_then(|abi| storage_slot(abi, key)) else {
            return;
        };
        o.insert("slot".into(), json!(name));
        if let Some(ty) = ty {
            for (field, v) in values {
                if let Some(Ok(d)) = v.map(|v| decode_exact(&ty, v)) {
                    o.insert(format!("{field}Decoded"), d);
                }
            }
        }
    };
    match &s.op {
        None => {}
        Some(Op::StorageRead { key, value }) => {
            o.insert("key".into(), json!(hex(key)));
            o.insert("value".into(), json!(opt(value)));
            slot(&mut o, key, &[("value", value.as_ref())]);
        }
        Some(Op::StorageHas { key, present }) => {
            o.insert("key".into(), json!(hex(key)));
            o.insert("present".into(), json!(present));
            slot(&mut o, key, &[]);
        }
        Some(Op::StorageWrite { key, old, new }) => {
            o.insert("key".into(), json!(hex(key)));
            o.insert("old".into(), json!(opt(old)));
            o.insert("new".into(), json!(hex(new)));
            slot(&mut o, key, &[("old", old.as_ref()), ("new", Some(new))]);
        }
        Some(Op::StorageRemove { key, old }) => {
            o.insert("key".into(), json!(hex(key)));
            o.insert("old".into(), json!(opt(old)));
            slot(&mut o, key, &[("old", old.as_ref())]);
        }
        Some(Op::Transfer { to, amount, ok }) => {
            o.insert("to".into(), json!(to.to_hex()));
            o.insert("amount".into(), json!(amount.to_string()));
            o.insert("ok".into(), json!(ok));
        }
        Some(Op::Balance { of, balance }) => {
            o.insert("of".into(), json!(of.to_hex()));
            o.insert("balance".into(), json!(balance.to_string()));
        }
        Some(Op::Address(a)) => {
            o.insert("address".into(), json!(a.to_hex()));
        }
        Some(Op::Value(v)) => {
            o.insert("value".into(), json!(v.to_string()));
        }
        Some(Op::Read(d)) => {
            o.insert("data".into(), json!(hex(d)));
        }
        Some(Op::Digest { input_len, digest }) => {
            o.insert("inputLen".into(), json!(input_len));
            o.insert("digest".into(), json!(digest.to_hex()));
        }
        Some(Op::Verify { public_key, valid }) => {
            o.insert("publicKey".into(), json!(hex(public_key)));
            o.insert("valid".into(), json!(valid));
        }
        Some(Op::Event { topics, data }) => {
            o.insert(
                "topics".into(),
                json!(topics.iter().map(Hash::to_hex).collect::<Vec<_>>()),
            );
            o.insert("data".into(), json!(hex(data)));
            if let (Some(t), Some(abi)) = (topics.first(), abis.get(&code_hash)) {
                put(&mut o, "event", abi.decode_event(&t.0, data));
            }
        }
        Some(Op::Return(d)) | Some(Op::Revert(d)) => {
            o.insert("data".into(), json!(hex(d)));
        }
        Some(Op::Call {
            callee,
            method,
            value,
            frame,
        }) => {
            o.insert("callee".into(), json!(callee.to_hex()));
            o.insert("method".into(), json!(method));
            o.insert("value".into(), json!(value.to_string()));
            o.insert(
                "frame".into(),
                frame.as_ref().map_or(Value::Null, |f| frame_json(f, abis)),
            );
        }
        Some(Op::Instantiate {
            code_hash,
            salt,
            value,
            address,
            frame,
        }) => {
            o.insert("codeHash".into(), json!(code_hash.to_hex()));
            o.insert("salt".into(), json!(hex(salt)));
            o.insert("value".into(), json!(value.to_string()));
            o.insert("address".into(), json!(address.to_hex()));
            o.insert(
                "frame".into(),
                frame.as_ref().map_or(Value::Null, |f| frame_json(f, abis)),
            );
        }
    }
    Value::Object(o)
}

/// The storage field a key of a contract belongs to, by the layout in its ABI: its name with
/// the map key or vector index (`balances["0x…"]`, `list[3]`, `list.len`), and the type of the
/// value stored there when the layout gives it (as the SDK lays storage out: a map entry at
/// prefix ‖ 0x00 ‖ SCALE(key), or ‖ 0x01 ‖ hash; a vector's length at the prefix, element `i`
/// at prefix ‖ i as u32 LE).
fn storage_slot(abi: &Abi, key: &[u8]) -> Option<(String, Option<Ty>)> {
    let (prefix, rest) = key.split_at_checked(8)?;
    let e = abi
        .storage
        .as_ref()?
        .iter()
        .find(|e| e.prefix_bytes(&abi.contract).is_some_and(|p| p == prefix))?;
    let value_ty = || e.value.as_deref().and_then(|t| abi.ty(t));
    let name = &e.name;
    Some(match (e.kind.as_str(), rest) {
        ("Lazy", []) => (name.clone(), value_ty()),
        ("StorageVec", []) => (format!("{name}.len"), Some(Ty::Uint(4))),
        ("StorageVec", i) if i.len() == 4 => {
            let index = u32::from_le_bytes(i.try_into().ok()?);
            (format!("{name}[{index}]"), value_ty())
        }
        ("IterableMapping", []) => (format!("{name}.header"), None),
        ("Mapping" | "IterableMapping", [0, k @ ..]) => {
            let shown = e
                .key
                .as_deref()
                .and_then(|t| abi.ty(t))
                .and_then(|t| decode_exact(&t, k).ok())
                .map_or_else(|| hex(k), |v| compact(&v));
            // An iterable map's entry is (slot, value): not the value type alone.
            let ty = (e.kind == "Mapping").then(value_ty).flatten();
            (format!("{name}[{shown}]"), ty)
        }
        ("Mapping" | "IterableMapping", [1, h @ ..]) => {
            let ty = (e.kind == "Mapping").then(value_ty).flatten();
            (format!("{name}[#{}]", hex(h)), ty)
        }
        (_, []) => (name.clone(), None),
        (_, more) => (format!("{name}[{}]", hex(more)), None),
    })
}

/// An address shortened for the tree: `0x1234…cdef`.
fn short(s: &str) -> String {
    match (s.get(..6), s.get(s.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) if s.len() > 16 && s.starts_with("0x") => {
            format!("{head}…{tail}")
        }
        _ => s.to_string(),
    }
}

/// A byte string for the tree: whole up to 40 bytes, else its start and length.
fn bytes(v: &Value) -> String {
    match v.as_str() {
        None => "∅".into(),
        Some(s) if s.len() <= 2 + 80 => s.to_string(),
        Some(s) => match s.get(..2 + 32) {
            Some(head) => format!("{head}… ({} bytes)", (s.len() - 2) / 2),
            None => s.to_string(),
        },
    }
}

/// A storage step's key: its field (`slot`) when the layout named it, else the raw key.
fn slot(st: &Value) -> String {
    st["slot"]
        .as_str()
        .map_or_else(|| bytes(&st["key"]), str::to_string)
}

/// A storage step's value `field`: decoded when the layout gave its type, else raw.
fn shown(st: &Value, field: &str) -> String {
    match st.get(format!("{field}Decoded")) {
        Some(v) => compact(v),
        None => bytes(&st[field]),
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The trace JSON of [`to_json`] as an indented tree.
pub fn tree(trace: &Value) -> String {
    let mut out = String::new();
    match trace.get("frame") {
        Some(f) if f.is_object() => frame_tree(f, 0, &mut out),
        _ => out.push_str("(no contract frame ran)\n"),
    }
    if trace["truncated"].as_bool() == Some(true) {
        out.push_str("… the trace was cut at its bounds; the receipt is whole\n");
    }
    out
}

fn frame_tree(f: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
    let args = match f.get("args") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}", compact(v)))
            .collect::<Vec<_>>()
            .join(", "),
        _ => bytes(&f["input"]),
    };
    out.push_str(&format!(
        "{pad}{} → {} {}({args})",
        short(&s("caller")),
        short(&s("contract")),
        s("method"),
    ));
    if s("value") != "0" {
        out.push_str(&format!(" value {}", s("value")));
    }
    out.push_str(&format!(
        "  gas {}/{}\n",
        f["gasUsed"].as_u64().unwrap_or(0),
        f["gasLimit"].as_u64().unwrap_or(0)
    ));
    for st in f["steps"].as_array().into_iter().flatten() {
        step_tree(st, depth + 1, out);
    }
    let mut end = format!("{pad}← {}", s("status"));
    if let Some(v) = f.get("returned").filter(|v| !v.is_null()) {
        end.push_str(&format!(" {}", compact(v)));
    } else if let Some(v) = f.get("reverted") {
        end.push_str(&format!(" {}", compact(v)));
    } else if f["output"].as_str().is_some_and(|o| o != "0x") {
        end.push_str(&format!(" {}", bytes(&f["output"])));
    }
    if let Some(e) = f["error"].as_str() {
        end.push_str(&format!(" ({e})"));
    }
    out.push_str(&end);
    out.push('\n');
}

/// A decoded event: `Name {field: value, …}`.
fn event_line(e: &Value) -> String {
    let fields = match &e["fields"] {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}", compact(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => compact(other),
    };
    format!("{} {{{fields}}}", e["name"].as_str().unwrap_or("?"))
}

/// A `call` or `instantiate` status code by name (`docs/host-abi.md`).
fn call_status(code: &Value) -> String {
    use aether_engine::vm::call_status as cs;
    let name = match code.as_i64().map(|c| c as i32) {
        Some(cs::SUCCESS) => "success",
        Some(cs::REVERTED) => "reverted",
        Some(cs::TRAPPED) => "trapped",
        Some(cs::OUT_OF_GAS) => "out of gas",
        Some(cs::NOT_FOUND) => "not found",
        Some(cs::REENTRANCY_REFUSED) => "reentrancy refused",
        Some(cs::DEPTH_EXCEEDED) => "depth exceeded",
        Some(cs::INSUFFICIENT_BALANCE) => "insufficient balance",
        _ => return format!("status {code}"),
    };
    name.to_string()
}

fn step_tree(st: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let host = st["host"].as_str().unwrap_or("");
    let detail = match host {
        "storage_read" => format!("{} = {}", slot(st), shown(st, "value")),
        "storage_has" => format!("{} present {}", slot(st), st["present"]),
        "storage_write" => format!("{}: {} → {}", slot(st), shown(st, "old"), shown(st, "new")),
        "storage_remove" => format!("{} (was {})", slot(st), shown(st, "old")),
        "transfer" => format!(
            "{} to {}{}",
            st["amount"].as_str().unwrap_or(""),
            short(st["to"].as_str().unwrap_or("")),
            if st["ok"] == false {
                " (insufficient balance)"
            } else {
                ""
            }
        ),
        "emit_event" => match st.get("event") {
            Some(e) => event_line(e),
            None => format!(
                "topics {} data {}",
                compact(&st["topics"]),
                bytes(&st["data"])
            ),
        },
        "call" | "instantiate" => {
            let to = st["callee"]
                .as_str()
                .or(st["address"].as_str())
                .unwrap_or("");
            let what = st["method"].as_str().unwrap_or("init");
            format!("{} {what} → {}", short(to), call_status(&st["result"]))
        }
        "return" | "revert" | "input_read" | "return_data_read" => bytes(&st["data"]),
        "balance" | "balance_of" => format!(
            "{} = {}",
            short(st["of"].as_str().unwrap_or("")),
            st["balance"].as_str().unwrap_or("")
        ),
        _ => match (st.get("result"), st.get("address"), st.get("value")) {
            (Some(r), _, _) => format!("= {r}"),
            (_, Some(a), _) => short(a.as_str().unwrap_or("")),
            (_, _, Some(v)) => v.as_str().unwrap_or("").to_string(),
            _ => String::new(),
        },
    };
    let trap = st["trap"]
        .as_str()
        .map(|t| format!("  ✗ {t}"))
        .unwrap_or_default();
    out.push_str(&format!(
        "{pad}{host} {detail}  [gas {}]{trap}\n",
        st["gas"].as_u64().unwrap_or(0)
    ));
    if let Some(f) = st.get("frame").filter(|f| f.is_object()) {
        frame_tree(f, depth + 1, out);
    }
}
