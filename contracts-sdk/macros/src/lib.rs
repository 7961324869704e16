//! # aether-contracts-macros
//!
//! The `#[contract]` attribute of the Aether contract SDK (use it as
//! `aether_contracts_sdk::contract`). It turns an inline module into a contract:
//!
//! - one `#[storage]` struct whose named fields are storage handles (`Lazy`, `Mapping`), each
//!   placed at an 8-byte prefix: the first 8 bytes of SHA-256 of `"Struct::field"`;
//! - `#[event]` structs, with `#[topic]` on up to three fields;
//! - `#[error]` enums, returned as the `Err` of a message and reverted with;
//! - in `impl` blocks of the storage struct: at most one `#[constructor]` (exported as `init`)
//!   and any number of `#[message]`s (exported under their own names). `&self` makes a
//!   read-only message, `&mut self` a mutating one; `#[message(payable)]` accepts value, any
//!   other message reverts when value is sent. `#[migrate]` methods (`&mut self`) are exported
//!   as `__aether_migrate_<name>`: the engine runs them only as the migration of an upgrade.
//!
//! For each message it generates the `[] -> []` export that decodes the SCALE-encoded argument
//! tuple, runs the method and returns the SCALE-encoded result (`Err` values revert). It also
//! generates the ABI metadata as JSON: the constant `ABI_JSON` in the module, and the Wasm
//! custom section `aether:abi` (with the storage layout: each field's handle, prefix and types,
//! which `aether contract upgrade` checks); and `{Storage}Ref`, a typed client other contracts call it
//! through. A crate that declares the feature `as-dependency` leaves its exports and ABI
//! section out when the feature is on, so another contract can depend on it for the client.
//!
//! `contract_ref!(Name, "path.abi.json")` builds the same client from an ABI file.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use syn::spanned::Spanned;
use syn::{
    Attribute, Error, Fields, FnArg, ImplItem, Item, ItemEnum, ItemImpl, ItemMod, ItemStruct, Pat,
    ReturnType, Type, parse_macro_input,
};

/// ABI metadata format version.
const ABI_VERSION: u64 = 1;

mod client;
mod registry;

/// A typed client of another contract, from its ABI JSON: `contract_ref!(TokenRef,
/// "abi/token.abi.json")` defines `TokenRef` with `at(address)`, `instantiate(..)` and one
/// method per message, as `#[contract]` does for its own messages. The path is relative to the
/// crate's directory; types the ABI names that are not in the prelude (a contract's own
/// structs and enums) must be in scope where the macro is used.
#[proc_macro]
pub fn contract_ref(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    match client::from_abi(input.into()) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Turns an inline module into an Aether contract. See the crate documentation.
#[proc_macro_attribute]
pub fn contract(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    if !attr.is_empty() {
        return Error::new(Span::call_site(), "`#[contract]` takes no arguments")
            .to_compile_error()
            .into();
    }
    let module = parse_macro_input!(item as ItemMod);
    match expand(module) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn type_name(ty: &impl ToTokens) -> String {
    ty.to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The 8-byte storage prefix of field `field` of storage struct `storage`.
fn field_prefix(storage: &syn::Ident, field: &syn::Ident) -> [u8; 8] {
    let digest = sha256(format!("{storage}::{field}").as_bytes());
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&digest[..8]);
    prefix
}

/// The export name of migration `name` (`#[migrate]`): the engine runs a method of this prefix
/// only as the migration of an upgrade (`UpgradeCode`), never from a call.
const MIGRATION_PREFIX: &str = "__aether_migrate_";

/// The storage layout of the storage struct for the ABI: each field's name, handle kind and
/// type parameters (`key` and `value` of a map, `value` of a `Lazy` or `StorageVec`, `key` of
/// `Roles`), as written before the macro adds the key parameter. Its prefix is left out when it
/// is the derived one (SHA-256 of `"Struct::field"`, which readers recompute: the ABI is code
/// every call loads); a key the author pinned (`Lazy<u64, 0x…>`) is written out, and one that
/// is not a literal is recorded as `"pinned"`, which tools cannot check.
fn storage_layout(s: &ItemStruct) -> Vec<Value> {
    let Fields::Named(named) = &s.fields else {
        return Vec::new();
    };
    named
        .named
        .iter()
        .filter_map(|f| {
            let name = f.ident.as_ref()?;
            let mut entry = json!({"name": name.to_string()});
            let (kind, params, pinned) = match &f.ty {
                Type::Path(p) => {
                    let last = p.path.segments.last()?;
                    let mut params = Vec::new();
                    let mut pinned = None;
                    if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                        for g in &a.args {
                            match g {
                                syn::GenericArgument::Type(t) => params.push(type_name(t)),
                                syn::GenericArgument::Const(e) => pinned = Some(literal_key(e)),
                                _ => {}
                            }
                        }
                    }
                    (last.ident.to_string(), params, pinned)
                }
                other => (type_name(other), Vec::new(), None),
            };
            // A key pinned by a bare constant (`Lazy<u64, MY_KEY>`) parses as one more type
            // argument: it is a pinned key the macro cannot read.
            let wanted = match kind.as_str() {
                "Mapping" | "IterableMapping" => 2,
                "Lazy" | "StorageVec" | "Roles" => 1,
                "Ownable" | "SignedMessages" => 0,
                _ => usize::MAX,
            };
            let mut params = params;
            let mut pinned = pinned;
            if wanted != usize::MAX && params.len() == wanted + 1 {
                params.pop();
                pinned = Some(None);
            }
            let names: &[&str] = match (kind.as_str(), params.len()) {
                ("Mapping" | "IterableMapping", 2) => &["key", "value"],
                ("Lazy" | "StorageVec", 1) => &["value"],
                ("Roles", 1) => &["key"],
                _ => &[],
            };
            for (n, t) in names.iter().zip(&params) {
                entry[*n] = Value::from(t.clone());
            }
            entry["kind"] = Value::from(kind);
            match pinned {
                None => {}
                Some(Some(key)) => {
                    let hex: String = key
                        .to_le_bytes()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    entry["prefix"] = Value::from(format!("0x{hex}"));
                }
                Some(None) => entry["prefix"] = Value::from("pinned"),
            }
            Some(entry)
        })
        .collect()
}

/// The value of a pinned storage key written as an integer literal (`0x0807_0605`, `{ 42 }`).
fn literal_key(e: &syn::Expr) -> Option<u64> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse().ok(),
        syn::Expr::Block(b) => match b.block.stmts.as_slice() {
            [syn::Stmt::Expr(inner, None)] => literal_key(inner),
            _ => None,
        },
        _ => None,
    }
}

/// Gives each storage handle field of the storage struct (`Lazy<T>`, `Mapping<K, V>`,
/// `StorageVec<T>`, `IterableMapping<K, V>`, `Ownable`, `Roles<R>`, `SignedMessages`) its key
/// as the const parameter (`Lazy<T, KEY>`), so the handles are zero-sized and the keys
/// constants of the code. Fields that already name a key, and other types, are left as
/// written.
fn key_storage_handles(s: &mut ItemStruct) {
    let ident = s.ident.clone();
    let Fields::Named(named) = &mut s.fields else {
        return;
    };
    for f in named.named.iter_mut() {
        let Some(name) = f.ident.clone() else {
            continue;
        };
        let Type::Path(p) = &mut f.ty else { continue };
        let Some(last) = p.path.segments.last_mut() else {
            continue;
        };
        let wanted = match last.ident.to_string().as_str() {
            "Lazy" | "StorageVec" | "Roles" => 1,
            "Mapping" | "IterableMapping" => 2,
            "Ownable" | "SignedMessages" => 0,
            _ => continue,
        };
        let key = u64::from_le_bytes(field_prefix(&ident, &name));
        let key = proc_macro2::Literal::u64_suffixed(key);
        match &mut last.arguments {
            syn::PathArguments::None if wanted == 0 => {
                last.arguments = syn::PathArguments::AngleBracketed(syn::parse_quote!(<{ #key }>));
            }
            syn::PathArguments::AngleBracketed(args) if args.args.len() == wanted => {
                args.args.push(syn::parse_quote!({ #key }));
            }
            _ => {}
        }
    }
}

/// Removes the attribute named `name` from `attrs`; returns it if present.
fn take_attr(attrs: &mut Vec<Attribute>, name: &str) -> Option<Attribute> {
    let i = attrs.iter().position(|a| a.path().is_ident(name))?;
    Some(attrs.remove(i))
}

/// Whether a `#[message(...)]` / `#[constructor(...)]` attribute says `payable`.
fn payable(attr: &Attribute) -> syn::Result<bool> {
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return Ok(false);
    }
    let mut payable = false;
    attr.parse_nested_meta(|m| {
        if m.path.is_ident("payable") {
            payable = true;
            Ok(())
        } else {
            Err(m.error("unknown option; the only option is `payable`"))
        }
    })?;
    Ok(payable)
}

/// Adds `#[derive(Encode, Decode)]` with the SDK's codec path, plus `extra` derives.
fn add_codec_derives(attrs: &mut Vec<Attribute>, extra: TokenStream) {
    attrs.insert(
        0,
        syn::parse_quote!(#[derive(#extra ::aether_contracts_sdk::codec::Encode, ::aether_contracts_sdk::codec::Decode)]),
    );
    attrs.insert(
        1,
        syn::parse_quote!(#[codec(crate = ::aether_contracts_sdk::codec)]),
    );
}

struct Method {
    name: syn::Ident,
    args: Vec<(syn::Ident, Type)>,
    mutates: bool,
    payable: bool,
    /// `(ok, err)` for `Result<ok, err>`, else `(ty, None)`.
    returns: (String, Option<String>),
    /// What a successful call returns: the `ok` of `Result<ok, err>`, else the return type.
    ok: Type,
    is_result: bool,
}

fn expand(mut module: ItemMod) -> syn::Result<TokenStream> {
    let span = module.span();
    let Some((_, items)) = module.content.as_mut() else {
        return Err(Error::new(
            module.span(),
            "`#[contract]` needs an inline module: `mod name { ... }`",
        ));
    };

    let mut storage: Option<ItemStruct> = None;
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut extra = Vec::new();

    let mut types = Vec::new();
    let mut layout = Vec::new();
    for item in items.iter_mut() {
        match item {
            Item::Struct(s) => {
                if !s
                    .attrs
                    .iter()
                    .any(|a| a.path().is_ident("storage") || a.path().is_ident("event"))
                    && let Some(def) = registry::struct_def(s)
                {
                    types.push(def);
                }
                if take_attr(&mut s.attrs, "storage").is_some() {
                    if storage.is_some() {
                        return Err(Error::new(
                            s.span(),
                            "only one `#[storage]` struct is allowed",
                        ));
                    }
                    layout = storage_layout(s);
                    key_storage_handles(s);
                    storage = Some(s.clone());
                } else if take_attr(&mut s.attrs, "event").is_some() {
                    events.push(event(s, &mut extra)?);
                }
            }
            Item::Enum(e) if e.attrs.iter().any(|a| a.path().is_ident("error")) => {
                take_attr(&mut e.attrs, "error");
                errors.push(error_enum(e)?);
                add_codec_derives(&mut e.attrs, quote!(Clone, Debug, PartialEq, Eq,));
            }
            Item::Enum(e) => types.extend(registry::enum_def(e)),
            _ => {}
        }
    }

    let Some(storage) = storage else {
        return Err(Error::new(
            span,
            "a contract needs one `#[storage]` struct (it may have no fields)",
        ));
    };
    let storage_ident = storage.ident.clone();

    // Storage layout.
    let fields = match &storage.fields {
        Fields::Named(f) => f.named.iter().collect::<Vec<_>>(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(_) => {
            return Err(Error::new(
                storage.span(),
                "`#[storage]` fields must be named (each is a storage handle)",
            ));
        }
    };
    let inits = fields.iter().map(|f| {
        let name = f.ident.as_ref().expect("named field");
        let prefix = field_prefix(&storage_ident, name);
        quote!(#name: ::aether_contracts_sdk::__private::StorageField::at([#(#prefix),*]))
    });
    let body = if matches!(storage.fields, Fields::Unit) {
        quote!(#storage_ident)
    } else {
        quote!(#storage_ident { #(#inits),* })
    };
    let field_types: Vec<&Type> = fields.iter().map(|f| &f.ty).collect();
    extra.push(quote! {
        impl ::aether_contracts_sdk::__private::Storage for #storage_ident {
            fn load() -> Self {
                #body
            }
        }

        // Two handles on one key would read and write each other's data.
        const _: () = assert!(
            !::aether_contracts_sdk::__private::keys_repeat(&[
                #(<#field_types as ::aether_contracts_sdk::__private::StorageField>::KEY),*
            ]),
            "two fields of the #[storage] struct use the same storage key"
        );
    });

    // Constructor and messages.
    let mut constructor: Option<Method> = None;
    let mut messages: Vec<Method> = Vec::new();
    let mut migrations: Vec<Method> = Vec::new();
    for item in items.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        if !is_impl_of(imp, &storage_ident) {
            continue;
        }
        for ii in imp.items.iter_mut() {
            let ImplItem::Fn(f) = ii else { continue };
            let ctor = take_attr(&mut f.attrs, "constructor");
            let msg = take_attr(&mut f.attrs, "message");
            let migrate = take_attr(&mut f.attrs, "migrate");
            if let Some(a) = migrate {
                if ctor.is_some() || msg.is_some() {
                    return Err(Error::new(
                        f.sig.span(),
                        "a migration is neither a constructor nor a message",
                    ));
                }
                if !matches!(a.meta, syn::Meta::Path(_)) {
                    return Err(Error::new(a.span(), "`#[migrate]` takes no options"));
                }
                let m = method(f, false)?;
                if !m.mutates {
                    return Err(Error::new(f.sig.span(), "a migration takes `&mut self`"));
                }
                if migrations.iter().any(|o| o.name == m.name) {
                    return Err(Error::new(m.name.span(), "duplicate migration name"));
                }
                migrations.push(m);
                continue;
            }
            let (attr, is_ctor) = match (ctor, msg) {
                (Some(_), Some(_)) => {
                    return Err(Error::new(
                        f.sig.span(),
                        "a method is either a constructor or a message, not both",
                    ));
                }
                (Some(a), None) => (a, true),
                (None, Some(a)) => (a, false),
                (None, None) => continue,
            };
            let m = method(f, payable(&attr)?)?;
            if is_ctor {
                // Constructors are naturally called `new` but take `&mut self`.
                f.attrs
                    .push(syn::parse_quote!(#[allow(clippy::new_ret_no_self)]));
                if !m.mutates {
                    return Err(Error::new(f.sig.span(), "a constructor takes `&mut self`"));
                }
                if constructor.is_some() {
                    return Err(Error::new(
                        f.sig.span(),
                        "only one `#[constructor]` is allowed",
                    ));
                }
                constructor = Some(m);
            } else {
                let name = m.name.to_string();
                if name == "init" || name == "memory" || name.starts_with("__aether") {
                    return Err(Error::new(
                        m.name.span(),
                        format!("`{name}` is reserved and cannot name a message"),
                    ));
                }
                if messages.iter().any(|o| o.name == m.name) {
                    return Err(Error::new(m.name.span(), "duplicate message name"));
                }
                messages.push(m);
            }
        }
    }

    // Exports and the ABI section exist only in the contract's own Wasm: not on the host, and
    // not when another contract depends on this crate for its client type (with the
    // `as-dependency` feature, if the crate declares it).
    let wasm_only = if client::declares_as_dependency() {
        quote!(#[cfg(all(target_arch = "wasm32", not(feature = "as-dependency")))])
    } else {
        quote!(#[cfg(target_arch = "wasm32")])
    };
    for m in constructor.iter() {
        extra.push(export(&storage_ident, m, "init", &wasm_only));
    }
    for m in &messages {
        extra.push(export(&storage_ident, m, &m.name.to_string(), &wasm_only));
    }
    for m in &migrations {
        let name = format!("{MIGRATION_PREFIX}{}", m.name);
        extra.push(export(&storage_ident, m, &name, &wasm_only));
    }
    let client_method = |m: &Method| client::ClientMethod {
        name: m.name.to_string(),
        args: m.args.clone(),
        ok: m.ok.clone(),
    };
    extra.push(client::client(
        &format_ident!("{storage_ident}Ref"),
        &storage_ident.to_string(),
        constructor.as_ref().map(client_method).as_ref(),
        &messages.iter().map(client_method).collect::<Vec<_>>(),
    )?);

    // ABI metadata.
    // `error` and `payable` are left out when absent or false (readers default them): the ABI
    // is code every call loads and pays for by the byte.
    let method_json = |m: &Method| {
        let mut v = json!({
            "name": m.name.to_string(),
            "args": m.args.iter().map(|(n, t)| json!({"name": n.to_string(), "type": type_name(t)})).collect::<Vec<_>>(),
            "returns": m.returns.0,
            "mutates": m.mutates,
        });
        if let Some(e) = &m.returns.1 {
            v["error"] = Value::from(e.clone());
        }
        if m.payable {
            v["payable"] = Value::from(true);
        }
        v
    };
    // Every type string so far, to find the SDK types the ABI names.
    let mut strings = Vec::new();
    for m in constructor.iter().chain(&messages).chain(&migrations) {
        strings.extend(m.args.iter().map(|(_, t)| type_name(t)));
        strings.push(m.returns.0.clone());
        strings.extend(m.returns.1.clone());
    }
    for v in events.iter().chain(&errors).chain(&types) {
        collect_strings(v, &mut strings);
    }
    for entry in &layout {
        for k in ["key", "value"] {
            if let Some(t) = entry[k].as_str() {
                strings.push(t.to_string());
            }
        }
    }
    let uses: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            Item::Use(u) => Some(u.to_token_stream().to_string().replace(' ', "")),
            _ => None,
        })
        .collect();
    registry::add_sdk_types(&mut types, &strings, &uses);
    let abi = json!({
        "abi_version": ABI_VERSION,
        "contract": storage_ident.to_string(),
        "constructor": constructor.as_ref().map(|c| {
            let mut v = method_json(c);
            v["name"] = Value::from("init");
            v
        }),
        "methods": messages.iter().map(method_json).collect::<Vec<_>>(),
        "events": events,
        "errors": errors,
        "storage": layout,
    });
    // Absent when empty: the ABI is code a call loads and pays for.
    let mut abi = abi;
    if !types.is_empty() {
        abi["types"] = Value::Array(types);
    }
    if !migrations.is_empty() {
        abi["migrations"] = Value::Array(migrations.iter().map(method_json).collect());
    }
    let abi = serde_json::to_string(&abi).map_err(|e| Error::new(span, e.to_string()))?;
    let abi_len = abi.len();
    let abi_bytes = Literal::byte_string(abi.as_bytes());
    extra.push(quote! {
        /// The contract's ABI metadata (JSON, `abi_version` 1).
        pub const ABI_JSON: &str = #abi;

        #wasm_only
        #[unsafe(link_section = "aether:abi")]
        #[doc(hidden)]
        pub static __AETHER_ABI: [u8; #abi_len] = *#abi_bytes;
    });

    for ts in extra {
        items.push(Item::Verbatim(ts));
    }
    Ok(module.into_token_stream())
}

/// Every `"type"` string and every string of a `"fields"` list inside `v`.
fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("type", Value::String(s)) => out.push(s.clone()),
                    ("fields", Value::Array(items)) => {
                        for i in items {
                            match i {
                                Value::String(s) => out.push(s.clone()),
                                other => collect_strings(other, out),
                            }
                        }
                    }
                    _ => collect_strings(x, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

fn is_impl_of(imp: &ItemImpl, ident: &syn::Ident) -> bool {
    imp.trait_.is_none() && matches!(&*imp.self_ty, Type::Path(p) if p.path.is_ident(ident))
}

fn method(f: &syn::ImplItemFn, payable: bool) -> syn::Result<Method> {
    let sig = &f.sig;
    if !sig.generics.params.is_empty() || sig.asyncness.is_some() || sig.variadic.is_some() {
        return Err(Error::new(
            sig.span(),
            "contract methods cannot be generic, async or variadic",
        ));
    }
    let mut inputs = sig.inputs.iter();
    let mutates = match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() => r.mutability.is_some(),
        _ => {
            return Err(Error::new(
                sig.span(),
                "contract methods take `&self` (read-only) or `&mut self` (mutating)",
            ));
        }
    };
    let mut args = Vec::new();
    for (i, a) in inputs.enumerate() {
        let FnArg::Typed(pt) = a else {
            return Err(Error::new(a.span(), "unexpected receiver"));
        };
        if matches!(&*pt.ty, Type::Reference(_)) {
            return Err(Error::new(
                pt.ty.span(),
                "arguments are decoded from the input: take them by value",
            ));
        }
        let name = match &*pt.pat {
            Pat::Ident(p) => p.ident.clone(),
            _ => format_ident!("arg{i}"),
        };
        args.push((name, (*pt.ty).clone()));
    }
    let (returns, is_result, ok) = match &sig.output {
        ReturnType::Default => (("()".to_string(), None), false, syn::parse_quote!(())),
        ReturnType::Type(_, ty) => match result_types(ty) {
            Some((ok, err)) => ((type_name(ok), Some(type_name(err))), true, ok.clone()),
            None => ((type_name(ty), None), false, (**ty).clone()),
        },
    };
    Ok(Method {
        name: sig.ident.clone(),
        args,
        mutates,
        payable,
        returns,
        is_result,
        ok,
    })
}

/// `Some((T, E))` for a type spelled `Result<T, E>`.
fn result_types(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    Some((types.next()?, types.next()?))
}

fn export(storage: &syn::Ident, m: &Method, export_name: &str, cfg: &TokenStream) -> TokenStream {
    let method = &m.name;
    let method_name = m.name.to_string();
    let vars: Vec<_> = (0..m.args.len()).map(|i| format_ident!("__a{i}")).collect();
    let types: Vec<_> = m.args.iter().map(|(_, t)| t).collect();
    let value_check =
        (!m.payable).then(|| quote!(::aether_contracts_sdk::__private::non_payable(#method_name);));
    let finish = if m.is_result {
        quote!(::aether_contracts_sdk::__private::finish_result(&__result);)
    } else {
        quote!(::aether_contracts_sdk::__private::finish_value(&__result);)
    };
    let receiver = if m.mutates {
        quote!(&mut __storage)
    } else {
        quote!(&__storage)
    };
    let binding = if m.mutates {
        quote!(let mut __storage)
    } else {
        quote!(let __storage)
    };
    quote! {
        #cfg
        const _: () = {
            #[unsafe(export_name = #export_name)]
            extern "C" fn __aether_export() {
                #value_check
                let __input = ::aether_contracts_sdk::__private::Buf::input();
                let mut __rest = __input.as_slice();
                #(let #vars: #types = ::aether_contracts_sdk::__private::arg(&mut __rest, #method_name);)*
                ::aether_contracts_sdk::__private::input_end(__rest, #method_name);
                #binding = <#storage as ::aether_contracts_sdk::__private::Storage>::load();
                let __result = #storage::#method(#receiver, #(#vars),*);
                #finish
            }
        };
    }
}

fn event(s: &mut ItemStruct, extra: &mut Vec<TokenStream>) -> syn::Result<Value> {
    let ident = s.ident.clone();
    let Fields::Named(named) = &mut s.fields else {
        return Err(Error::new(s.span(), "`#[event]` structs need named fields"));
    };
    let mut topics = Vec::new();
    let mut fields_json = Vec::new();
    for f in named.named.iter_mut() {
        let topic = take_attr(&mut f.attrs, "topic").is_some();
        let name = f.ident.clone().expect("named field");
        if topic {
            topics.push(name.clone());
        }
        let mut field = json!({"name": name.to_string(), "type": type_name(&f.ty)});
        if topic {
            field["topic"] = Value::from(true);
        }
        fields_json.push(field);
    }
    if topics.len() > 3 {
        return Err(Error::new(
            s.span(),
            "an event has at most 3 `#[topic]` fields (the engine allows 4 topics, the first is the event's signature)",
        ));
    }
    add_codec_derives(&mut s.attrs, quote!(Clone, Debug, PartialEq, Eq,));
    let name = ident.to_string();
    let sig = sha256(name.as_bytes());
    extra.push(quote! {
        impl ::aether_contracts_sdk::Event for #ident {
            const NAME: &'static str = #name;
            const SIGNATURE_TOPIC: [u8; 32] = [#(#sig),*];
            fn write_topics(&self, out: &mut ::aether_contracts_sdk::__private::Buf) {
                ::aether_contracts_sdk::codec::Output::write(out, &Self::SIGNATURE_TOPIC);
                #(::aether_contracts_sdk::__private::write_topic(&self.#topics, out);)*
            }
        }
    });
    let sig_hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
    Ok(json!({"name": name, "signature_topic": format!("0x{sig_hex}"), "fields": fields_json}))
}

fn error_enum(e: &ItemEnum) -> syn::Result<Value> {
    let variants = e
        .variants
        .iter()
        .map(|v| {
            let fields: Vec<_> = v.fields.iter().map(|f| type_name(&f.ty)).collect();
            json!({"name": v.ident.to_string(), "fields": fields})
        })
        .collect::<Vec<_>>();
    if variants.len() > 256 {
        return Err(Error::new(
            e.span(),
            "an error enum has at most 256 variants",
        ));
    }
    Ok(json!({"name": e.ident.to_string(), "variants": variants}))
}
