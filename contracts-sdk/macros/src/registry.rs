//! The ABI's type registry: each struct and enum of the `#[contract]` module that derives
//! `Encode` (not `#[error]` enums: the ABI's `errors` has them) is recorded with its fields or variants, their types
//! as the ABI spells types, their SCALE indices and doc comments, so tools encode and decode
//! its values as JSON. A type the registry cannot describe faithfully is left out (its values
//! show as hex): generic types, and types whose encoding a `#[codec(...)]` attribute changes
//! (other than a variant's `index`).

use quote::ToTokens;
use serde_json::{Value, json};
use syn::{Attribute, Expr, Fields, ItemEnum, ItemStruct, Lit};

use crate::type_name;

/// The doc comment of an item, its lines trimmed and joined.
fn docs(attrs: &[Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => Some(s.value().trim().to_string()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Adds `"docs"` to `v` if the attributes carry a doc comment (the ABI is part of the code a
/// call loads and pays for: nothing empty goes in).
fn with_docs(v: &mut Value, attrs: &[Attribute]) {
    let d = docs(attrs);
    if !d.is_empty() {
        v["docs"] = json!(d);
    }
}

/// Whether the item derives `Encode` (spelled in any path).
fn derives_encode(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            a.meta
                .to_token_stream()
                .into_iter()
                .any(|t| t.to_string().contains("Encode"))
        })
}

/// A `#[codec(...)]` attribute's text, if the attributes carry one.
fn codec_attr(attrs: &[Attribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.path().is_ident("codec"))
        .map(|a| a.meta.to_token_stream().to_string().replace(' ', ""))
}

/// The fields as the ABI records them; `None` if one has a `#[codec(...)]` attribute.
fn fields(f: &Fields) -> Option<Vec<Value>> {
    f.iter()
        .map(|field| {
            if codec_attr(&field.attrs).is_some() {
                return None;
            }
            let mut f = json!({ "type": type_name(&field.ty) });
            if let Some(name) = &field.ident {
                f["name"] = json!(name.to_string());
            }
            with_docs(&mut f, &field.attrs);
            Some(f)
        })
        .collect()
}

/// A struct of the module, if the registry describes it.
pub fn struct_def(s: &ItemStruct) -> Option<Value> {
    if !derives_encode(&s.attrs) || !s.generics.params.is_empty() {
        return None;
    }
    if codec_attr(&s.attrs).is_some_and(|c| !c.starts_with("codec(crate=")) {
        return None;
    }
    let mut def = json!({
        "name": s.ident.to_string(),
        "fields": fields(&s.fields)?,
    });
    with_docs(&mut def, &s.attrs);
    Some(def)
}

/// An enum of the module, if the registry describes it.
pub fn enum_def(e: &ItemEnum) -> Option<Value> {
    if !derives_encode(&e.attrs) || !e.generics.params.is_empty() {
        return None;
    }
    if codec_attr(&e.attrs).is_some_and(|c| !c.starts_with("codec(crate=")) {
        return None;
    }
    let mut variants = Vec::new();
    for (position, v) in e.variants.iter().enumerate() {
        // parity-scale-codec's index: `#[codec(index = N)]`, else an explicit discriminant,
        // else the position.
        let index = match (codec_attr(&v.attrs), &v.discriminant) {
            (Some(c), _) => c
                .strip_prefix("codec(index=")?
                .strip_suffix(')')?
                .parse::<u8>()
                .ok()?,
            (None, Some((_, Expr::Lit(l)))) => match &l.lit {
                Lit::Int(i) => i.base10_parse::<u8>().ok()?,
                _ => return None,
            },
            (None, Some(_)) => return None,
            (None, None) => u8::try_from(position).ok()?,
        };
        let mut variant = json!({ "name": v.ident.to_string(), "index": index });
        let f = fields(&v.fields)?;
        if !f.is_empty() {
            variant["fields"] = json!(f);
        }
        with_docs(&mut variant, &v.attrs);
        variants.push(variant);
    }
    let mut def = json!({ "name": e.ident.to_string(), "variants": variants });
    with_docs(&mut def, &e.attrs);
    Some(def)
}

/// The SDK's own types that contracts use in messages and errors, described as the SDK
/// defines them (`aether_contracts_sdk::access` and `collections`; a test holds them to the
/// SDK's encoding). Added to a contract's registry when its ABI names one and the module does
/// not define a type of that name.
fn sdk_types() -> Vec<Value> {
    let unit =
        |name: &str, index: u8, docs: &str| json!({"name": name, "index": index, "docs": docs});
    vec![
        json!({
            "name": "AccessError",
            "docs": "Why an access check failed (aether_contracts_sdk::access).",
            "variants": [
                unit("NotOwner", 0, "The caller is not the owner (or the contract has none)."),
                unit("NotProposedOwner", 1, "The caller is not the proposed owner (or no transfer is proposed)."),
                unit("MissingRole", 2, "The caller does not hold the role."),
                {"name": "WrongNonce", "index": 3, "docs": "The signed message's nonce is not the signer's next one.",
                 "fields": [{"name": "expected", "type": "u64", "docs": "The nonce the signer's next message must carry."}]},
                unit("BadSignature", 4, "The signature does not verify for this signer, chain, contract, nonce and payload."),
            ],
        }),
        json!({
            "name": "Scheme",
            "docs": "The signature scheme of a signer's key (aether_contracts_sdk::access).",
            "variants": [
                unit("Ed25519", 0, "ed25519 (strict verification)."),
                unit("Sr25519", 1, "sr25519 (signing context `b\"aether\"`)."),
            ],
        }),
        json!({
            "name": "OutOfBounds",
            "docs": "An index past the end of a StorageVec (aether_contracts_sdk::collections).",
            "fields": [
                {"name": "index", "type": "u32", "docs": "The index asked for."},
                {"name": "len", "type": "u32", "docs": "The vector's length."},
            ],
        }),
    ]
}

/// Adds to `types` each SDK type that `strings` (every type string of the ABI) name, that
/// `types` does not define, and that is the SDK's: imported from `aether_contracts_sdk` by one
/// of the module's `uses` (`AccessError` also by the prelude), or named by a path through it.
/// A type of the same name from elsewhere is left undescribed rather than misdescribed.
pub fn add_sdk_types(types: &mut Vec<Value>, strings: &[String], uses: &[String]) {
    let idents = |s: &str| {
        s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let named = |name: &str| strings.iter().any(|s| idents(s).iter().any(|i| i == name));
    let qualified = |name: &str| {
        strings
            .iter()
            .any(|s| s.contains("aether_contracts_sdk") && idents(s).iter().any(|i| i == name))
    };
    let imported = |name: &str| {
        uses.iter().any(|u| {
            u.contains("aether_contracts_sdk")
                && (idents(u).iter().any(|i| i == name)
                    || (name == "AccessError" && u.contains("prelude::*")))
        })
    };
    for def in sdk_types() {
        let name = def["name"].as_str().unwrap_or_default();
        if named(name)
            && (imported(name) || qualified(name))
            && !types.iter().any(|t| t["name"] == name)
        {
            types.push(def);
        }
    }
}
