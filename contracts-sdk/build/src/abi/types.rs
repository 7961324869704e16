//! The ABI's type registry: the structs and enums a contract defines in its `#[contract]`
//! module, as the macro records them (`"types"` in the ABI JSON). Field types are type strings
//! of the same language as everywhere else, so they may name other registered types.

use serde::Deserialize;

/// Most types one ABI registers.
pub const MAX_TYPE_DEFS: usize = 1024;

/// A struct or enum of the contract.
#[derive(Clone, Debug, Deserialize)]
pub struct TypeDef {
    /// Its name (as the ABI's type strings spell it).
    pub name: String,
    /// Its doc comment.
    #[serde(default)]
    pub docs: String,
    /// A struct's fields in order (`None` for an enum).
    #[serde(default)]
    pub fields: Option<Vec<TypeField>>,
    /// An enum's variants in order (`None` for a struct).
    #[serde(default)]
    pub variants: Option<Vec<TypeVariant>>,
}

/// A field of a struct or of an enum variant.
#[derive(Clone, Debug, Deserialize)]
pub struct TypeField {
    /// Its name; `None` for a tuple struct's or tuple variant's field.
    #[serde(default)]
    pub name: Option<String>,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its doc comment.
    #[serde(default)]
    pub docs: String,
}

/// A variant of an enum.
#[derive(Clone, Debug, Deserialize)]
pub struct TypeVariant {
    /// Its name.
    pub name: String,
    /// Its SCALE index (the byte that tags it).
    pub index: u8,
    /// Its fields (empty for a unit variant).
    #[serde(default)]
    pub fields: Vec<TypeField>,
    /// Its doc comment.
    #[serde(default)]
    pub docs: String,
}

/// Why a registry is malformed.
pub fn check(types: &[TypeDef]) -> Result<(), String> {
    if types.len() > MAX_TYPE_DEFS {
        return Err(format!(
            "{} types registered, the limit is {MAX_TYPE_DEFS}",
            types.len()
        ));
    }
    for (i, t) in types.iter().enumerate() {
        if types[..i].iter().any(|o| o.name == t.name) {
            return Err(format!("type `{}` is registered twice", t.name));
        }
        match (&t.fields, &t.variants) {
            (Some(_), None) => {}
            (None, Some(variants)) => {
                for (j, v) in variants.iter().enumerate() {
                    if variants[..j]
                        .iter()
                        .any(|o| o.index == v.index || o.name == v.name)
                    {
                        return Err(format!(
                            "enum `{}` repeats the variant name or index of `{}`",
                            t.name, v.name
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "type `{}` must have either `fields` (a struct) or `variants` (an enum)",
                    t.name
                ));
            }
        }
    }
    Ok(())
}
