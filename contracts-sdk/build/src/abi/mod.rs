//! Contract ABI metadata (the JSON the `#[contract]` macro emits) and a codec between its types
//! and JSON, so tools take arguments as JSON (`["0x…", 100]`) and show return values, errors
//! and events decoded.
//!
//! Types are the Rust spellings the macro records: `bool`, `u8`…`u128`, `i8`…`i128`,
//! `Address`, `Hash`, `String`, `Vec<T>`, `Option<T>`, `Result<T,E>`, tuples `(A,B)`, arrays
//! `[T;N]` and `()`. In JSON, integers are numbers (or decimal strings, for values beyond 2^53),
//! addresses, hashes and byte vectors/arrays are `0x` hex, tuples and arrays are JSON arrays,
//! `None` is `null`. A contract's own structs and enums (defined in its `#[contract]` module)
//! are in the ABI's type registry (`types`): a struct is a JSON object of its fields (an
//! array for a tuple struct, the value itself for a one-field tuple struct, `null` for a unit
//! struct), an enum variant is `"Name"` when it has no fields and `{"Name": fields}`
//! otherwise (serde's conventions). Types the ABI does not describe (generic or foreign
//! structs, recursive types) are shown as hex.
//!
//! The ABI and the data come from a contract's author, so nothing here trusts them: a type
//! string is at most [`MAX_TYPE_LEN`] bytes and [`MAX_TYPE_DEPTH`] levels deep (an ABI with
//! a longer or deeper one is refused when parsed), and decoding is bounded by the data
//! ([`MAX_ZERO_SIZED_RUN`], [`MAX_DECODED_ITEMS`]).

mod codec;
pub mod layout;
mod ty;
mod types;

pub use codec::{
    DecodeError, MAX_DECODED_ITEMS, MAX_ZERO_SIZED_RUN, decode, decode_all, decode_exact, encode,
};
pub use ty::{
    EnumVariant, Fields, MAX_EXPANDED_NODES, MAX_TYPE_DEPTH, MAX_TYPE_LEN, Ty, TypeError,
};
pub use types::{MAX_TYPE_DEFS, TypeDef, TypeField, TypeVariant};

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
    /// The contract's own structs and enums that the types above may name (absent from ABIs
    /// of older builds).
    #[serde(default)]
    pub types: Vec<TypeDef>,
    /// Migrations (`#[migrate]`): messages exported as `__aether_migrate_<name>`, run only as
    /// the migration of an upgrade (absent from ABIs of older builds).
    #[serde(default)]
    pub migrations: Vec<Method>,
    /// The storage layout: the storage struct's fields (`None` in ABIs of older builds, whose
    /// upgrades cannot be checked).
    #[serde(default)]
    pub storage: Option<Vec<StorageEntry>>,
}

/// One field of the storage struct.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct StorageEntry {
    /// The field's name.
    pub name: String,
    /// Its handle: `Lazy`, `Mapping`, `StorageVec`, `IterableMapping`, `Ownable`, `Roles`,
    /// `SignedMessages` (or the type written, for another field type).
    pub kind: String,
    /// `0x` hex of its 8-byte storage prefix when the author pinned it, `"pinned"` when
    /// pinned to a key the macro could not read; absent for the derived prefix (the first 8
    /// bytes of SHA-256 of `"Struct::field"`, see [`StorageEntry::prefix_bytes`]).
    #[serde(default)]
    pub prefix: Option<String>,
    /// The key type of a map (`Mapping`, `IterableMapping`) or of `Roles`.
    #[serde(default)]
    pub key: Option<String>,
    /// The value type of a map, a `Lazy` or a `StorageVec`.
    #[serde(default)]
    pub value: Option<String>,
}

impl StorageEntry {
    /// The field's 8-byte storage prefix in the contract whose storage struct is `contract`
    /// (the ABI's `contract`); `None` if pinned to a key the ABI does not give.
    pub fn prefix_bytes(&self, contract: &str) -> Option<[u8; 8]> {
        match &self.prefix {
            None => {
                let digest =
                    aether_engine::crypto::sha256(format!("{contract}::{}", self.name).as_bytes());
                digest[..8].try_into().ok()
            }
            Some(hex) => hex::decode(hex.trim_start_matches("0x"))
                .ok()
                .and_then(|b| b.try_into().ok()),
        }
    }
}

/// The export name of migration `name`.
pub fn migration_export(name: &str) -> String {
    format!("{}{name}", aether_engine::vm::abi::MIGRATION_PREFIX)
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
    /// The error type, for messages returning `Result` (absent otherwise).
    #[serde(default)]
    pub error: Option<String>,
    /// Whether it may change state.
    pub mutates: bool,
    /// Whether it accepts value (absent: it does not).
    #[serde(default)]
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
    /// No such event.
    #[error("the ABI has no event `{name}` (it has: {known})")]
    NoEvent {
        /// Event asked for.
        name: String,
        /// The events it has.
        known: String,
    },
    /// A filter names a field the event has not, or one that is not indexed.
    #[error("event `{event}`: {problem}")]
    NotIndexed {
        /// Event.
        event: String,
        /// What is wrong, naming the indexed fields.
        problem: String,
    },
}

impl Abi {
    /// Parses ABI JSON. Every type string in it must be within [`MAX_TYPE_LEN`] and
    /// [`MAX_TYPE_DEPTH`] (types it does not describe are fine: their values show as hex).
    pub fn parse(json: &[u8]) -> Result<Abi, AbiError> {
        let abi: Abi =
            serde_json::from_slice(json).map_err(|e| AbiError::Metadata(e.to_string()))?;
        if abi.abi_version != 1 {
            return Err(AbiError::Metadata(format!(
                "abi_version {} is not supported (expected 1)",
                abi.abi_version
            )));
        }
        types::check(&abi.types).map_err(AbiError::Metadata)?;
        for (place, ty) in abi.type_strings() {
            match Ty::parse_checked(ty) {
                Ok(_) | Err(TypeError::NotDescribed) => {}
                Err(e) => return Err(AbiError::Metadata(format!("{place}: {e}"))),
            }
        }
        Ok(abi)
    }

    /// The type `s` names, expanded through the ABI's registry.
    pub fn ty(&self, s: &str) -> Option<Ty> {
        Ty::parse_with(s, &self.types).ok()
    }

    /// The type `s` names, if the ABI describes it.
    fn described(&self, s: &str) -> Result<Ty, DecodeError> {
        self.ty(s).ok_or(DecodeError::NotDescribed)
    }

    /// Every type string of the ABI, with where it is.
    fn type_strings(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for t in &self.types {
            let variants = t.variants.iter().flatten();
            let fields = t.fields.iter().flatten().map(|f| (None, f));
            for (v, f) in fields
                .chain(variants.flat_map(|v| v.fields.iter().map(move |f| (Some(&v.name), f))))
            {
                let name = f.name.as_deref().unwrap_or("(positional)");
                let place = match v {
                    Some(v) => format!("type `{}::{v}` field `{name}`", t.name),
                    None => format!("type `{}` field `{name}`", t.name),
                };
                out.push((place, &*f.ty));
            }
        }
        for e in self.storage.iter().flatten() {
            for t in e.key.iter().chain(&e.value) {
                out.push((format!("storage field `{}`", e.name), &**t));
            }
        }
        for m in self
            .constructor
            .iter()
            .chain(&self.methods)
            .chain(&self.migrations)
        {
            for a in &m.args {
                out.push((format!("method `{}` argument `{}`", m.name, a.name), &*a.ty));
            }
            out.push((format!("method `{}` return type", m.name), &*m.returns));
            if let Some(e) = &m.error {
                out.push((format!("method `{}` error type", m.name), &**e));
            }
        }
        for e in &self.events {
            for f in &e.fields {
                out.push((format!("event `{}` field `{}`", e.name, f.name), &*f.ty));
            }
        }
        for e in &self.errors {
            for v in &e.variants {
                for (i, f) in v.fields.iter().enumerate() {
                    out.push((format!("error `{}::{}` field {i}", e.name, v.name), &**f));
                }
            }
        }
        out
    }

    /// The method named `name` (`init` is the constructor, `__aether_migrate_<m>` the
    /// migration `m`).
    pub fn method(&self, name: &str) -> Option<&Method> {
        if name == "init" {
            return self.constructor.as_ref();
        }
        if let Some(m) = name.strip_prefix(aether_engine::vm::abi::MIGRATION_PREFIX) {
            return self.migrations.iter().find(|x| x.name == m);
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
            let ty = self.ty(&a.ty).ok_or_else(|| AbiError::Unsupported {
                arg: a.name.clone(),
                ty: a.ty.clone(),
            })?;
            encode(&ty, v, &a.name, &mut out)?;
        }
        Ok(out)
    }

    /// Decodes the input of `method` as an object of its arguments by name.
    pub fn decode_args(&self, method: &str, data: &[u8]) -> Result<Value, DecodeError> {
        let m = self.method(method).ok_or(DecodeError::NotDescribed)?;
        let types = m
            .args
            .iter()
            .map(|a| self.described(&a.ty))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rest = data;
        let values = decode_all(&types, &mut rest)?;
        if !rest.is_empty() {
            return Err(DecodeError::Trailing(rest.len()));
        }
        Ok(Value::Object(
            m.args.iter().map(|a| a.name.clone()).zip(values).collect(),
        ))
    }

    /// Decodes what `method` returned.
    pub fn decode_return(&self, method: &str, data: &[u8]) -> Result<Value, DecodeError> {
        let m = self.method(method).ok_or(DecodeError::NotDescribed)?;
        decode_exact(&self.described(&m.returns)?, data)
    }

    /// Decodes revert data of `method`: the contract error, or the panic message.
    pub fn decode_revert(&self, method: &str, data: &[u8]) -> Result<Value, DecodeError> {
        let (tag, rest) = data.split_first().ok_or(DecodeError::Truncated)?;
        match tag {
            0 => {
                let name = self
                    .method(method)
                    .and_then(|m| m.error.as_ref())
                    .ok_or(DecodeError::NotDescribed)?;
                let def = self
                    .errors
                    .iter()
                    .find(|e| &e.name == name)
                    .ok_or(DecodeError::NotDescribed)?;
                let (idx, mut fields) = rest.split_first().ok_or(DecodeError::Truncated)?;
                let variant = def
                    .variants
                    .get(*idx as usize)
                    .ok_or_else(|| DecodeError::Invalid(format!("an error of {}", def.name)))?;
                let types = variant
                    .fields
                    .iter()
                    .map(|f| self.described(f))
                    .collect::<Result<Vec<_>, _>>()?;
                let values = decode_all(&types, &mut fields)?;
                if !fields.is_empty() {
                    return Err(DecodeError::Trailing(fields.len()));
                }
                Ok(if values.is_empty() {
                    json!({"error": format!("{}::{}", def.name, variant.name)})
                } else {
                    json!({"error": format!("{}::{}", def.name, variant.name), "fields": values})
                })
            }
            1 => Ok(json!({"panic": String::from_utf8_lossy(rest)})),
            _ => Err(DecodeError::Invalid("revert data".into())),
        }
    }

    /// The topics that select events `name` whose indexed (`#[topic]`) fields equal `values`
    /// (field name → JSON value, encoded through the ABI as `contract_dryRun` arguments are):
    /// the signature topic first, then one per indexed field in order, `None` for a field left
    /// open; trailing open positions are dropped. A value's topic is its SCALE encoding,
    /// zero-padded to 32 bytes, or the SHA-256 of a longer encoding (as the SDK emits it).
    pub fn event_topics(
        &self,
        name: &str,
        values: &Map<String, Value>,
    ) -> Result<Vec<Option<[u8; 32]>>, AbiError> {
        let def = self
            .events
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| AbiError::NoEvent {
                name: name.to_string(),
                known: self
                    .events
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let indexed: Vec<&Field> = def.fields.iter().filter(|f| f.topic).collect();
        let names = || {
            if indexed.is_empty() {
                "it has no indexed field".to_string()
            } else {
                let n: Vec<&str> = indexed.iter().map(|f| f.name.as_str()).collect();
                format!("its indexed fields are {}", n.join(", "))
            }
        };
        for key in values.keys() {
            let problem = match def.fields.iter().find(|f| &f.name == key) {
                None => format!("no field `{key}`; {}", names()),
                Some(f) if !f.topic => {
                    format!("field `{key}` is not indexed (#[topic]); {}", names())
                }
                Some(_) => continue,
            };
            return Err(AbiError::NotIndexed {
                event: name.to_string(),
                problem,
            });
        }
        let signature = hex::decode(def.signature_topic.trim_start_matches("0x"))
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                AbiError::Metadata(format!("event `{name}` has no 32-byte signature topic"))
            })?;
        let mut topics = vec![Some(signature)];
        for f in indexed {
            topics.push(match values.get(&f.name) {
                None => None,
                Some(v) => {
                    let ty = self.ty(&f.ty).ok_or_else(|| AbiError::Unsupported {
                        arg: f.name.clone(),
                        ty: f.ty.clone(),
                    })?;
                    let mut out = Vec::new();
                    encode(&ty, v, &f.name, &mut out)?;
                    Some(topic_of_encoding(&out))
                }
            });
        }
        while topics.last() == Some(&None) {
            topics.pop();
        }
        Ok(topics)
    }

    /// Decodes an event by its first topic: `{"name": …, "fields": {…}}`. An event the ABI
    /// does not list is [`DecodeError::NotDescribed`].
    pub fn decode_event(&self, topic0: &[u8; 32], data: &[u8]) -> Result<Value, DecodeError> {
        let hex0 = format!("0x{}", hex::encode(topic0));
        let def = self
            .events
            .iter()
            .find(|e| e.signature_topic == hex0)
            .ok_or(DecodeError::NotDescribed)?;
        let mut rest = data;
        let mut fields = Map::new();
        let mut described_fields = Vec::new();
        for f in &def.fields {
            match self.ty(&f.ty) {
                Some(ty) => described_fields.push((f, ty)),
                None => break,
            }
        }
        let values = decode_all(described_fields.iter().map(|(_, t)| t), &mut rest)?;
        for ((f, _), v) in described_fields.iter().zip(values) {
            fields.insert(f.name.clone(), v);
        }
        // Undescribed types end decoding: the first one shows the rest as hex.
        if let Some(f) = def.fields.get(described_fields.len()) {
            fields.insert(f.name.clone(), json!(format!("0x{}", hex::encode(rest))));
            rest = &[];
        }
        if !rest.is_empty() {
            return Err(DecodeError::Trailing(rest.len()));
        }
        Ok(json!({"name": def.name, "fields": Value::Object(fields)}))
    }
}

/// The topic of a SCALE-encoded value: the encoding zero-padded to 32 bytes, or its SHA-256 if
/// longer (as `aether_contracts_sdk::event::write_topic` makes it).
pub fn topic_of_encoding(encoded: &[u8]) -> [u8; 32] {
    if encoded.len() <= 32 {
        let mut t = [0u8; 32];
        t[..encoded.len()].copy_from_slice(encoded);
        t
    } else {
        aether_engine::crypto::sha256(encoded)
    }
}
