//! Typed clients of contracts: the `{Contract}Ref` type `#[contract]` emits for its own
//! messages, and the one `contract_ref!` builds from another contract's ABI JSON. Both are the
//! same code: a handle on an address whose methods encode the arguments, call through
//! `aether_contracts_sdk::call::Call` and decode the return value.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;
use syn::{Error, Ident, LitStr, Token, Type};

/// A message (or the constructor) as the client calls it.
pub struct ClientMethod {
    /// Export name.
    pub name: String,
    /// Arguments in order.
    pub args: Vec<(Ident, Type)>,
    /// What a successful call returns (the `T` of `Result<T, E>`).
    pub ok: Type,
}

/// The client's own methods: a message with one of these names gets no client method (it is
/// still called with `Call`).
const RESERVED: [&str; 5] = [
    "at",
    "contract_address",
    "with_value",
    "with_gas",
    "instantiate",
];

/// The `ident` client type of contract `contract`.
pub fn client(
    ident: &Ident,
    contract: &str,
    constructor: Option<&ClientMethod>,
    messages: &[ClientMethod],
) -> syn::Result<TokenStream> {
    let sdk = quote!(::aether_contracts_sdk);
    let mut methods = Vec::new();
    for m in messages {
        // The export name of a raw identifier (`r#type`) is `type`.
        let bare = m.name.strip_prefix("r#").unwrap_or(&m.name);
        if RESERVED.contains(&bare) {
            continue;
        }
        let fn_name = if m.name.starts_with("r#") {
            Ident::new_raw(bare, Span::call_site())
        } else {
            Ident::new(bare, Span::call_site())
        };
        // Called by its export name, which is the method's name as written.
        let export = m.name.as_str();
        let (names, types): (Vec<_>, Vec<_>) = m.args.iter().cloned().unzip();
        let ok = &m.ok;
        let doc = format!("Calls `{export}` of the contract.");
        methods.push(quote! {
            #[doc = #doc]
            #[inline]
            pub fn #fn_name(&self, #(#names: #types),*) -> ::core::result::Result<#ok, #sdk::call::CallError> {
                #sdk::call::Call::new(&self.address, #export)
                    .value(self.value)
                    .gas(self.gas)
                    .invoke::<_, #ok>(&(#(#names,)*))
            }
        });
    }
    let instantiate = constructor.map(|c| {
        let (names, types): (Vec<_>, Vec<_>) = c.args.iter().cloned().unzip();
        quote! {
            /// Creates a contract from the uploaded code `code_hash` (the address derives from
            /// the caller, the code and `salt`), running its constructor with these arguments
            /// and sending it `value`; returns its client.
            pub fn instantiate(
                __code_hash: &#sdk::Hash,
                __salt: &[u8],
                __value: u128,
                #(#names: #types),*
            ) -> ::core::result::Result<Self, #sdk::call::CallError> {
                #sdk::call::instantiate(__code_hash, __salt, &(#(#names,)*), __value).map(Self::at)
            }
        }
    });
    let doc = format!(
        "A typed client of a deployed `{contract}` contract: each message is a method that \
         calls it (`{ident}::at(address).method(args)`), returning what \
         `Call::invoke` returns. A message returning `Result<T, E>` gives `T`; its `E` arrives \
         as `CallError::Reverted`, decoded by `CallError::contract_error::<E>()`. Value and gas \
         apply to every call made through the handle."
    );
    Ok(quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct #ident {
            address: #sdk::Address,
            value: u128,
            gas: u64,
        }

        #[allow(clippy::too_many_arguments)]
        impl #ident {
            /// The contract at `address` (no value, all the gas left per call).
            pub const fn at(address: #sdk::Address) -> Self {
                Self { address, value: 0, gas: 0 }
            }

            /// Its address.
            pub const fn contract_address(&self) -> #sdk::Address {
                self.address
            }

            /// Sends `value` with each call (only payable messages accept it).
            pub const fn with_value(self, value: u128) -> Self {
                Self { value, ..self }
            }

            /// Gives each call at most `gas` (0: all the gas left).
            pub const fn with_gas(self, gas: u64) -> Self {
                Self { gas, ..self }
            }

            #instantiate

            #(#methods)*
        }
    })
}

/// Whether the crate being compiled declares the `as-dependency` feature: then its exports and
/// ABI section are left out when that feature is on (another contract depends on it for its
/// client type), and only then, so crates without the feature see no unknown-`cfg` warning.
pub fn declares_as_dependency() -> bool {
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return false;
    };
    let Ok(manifest) = std::fs::read_to_string(PathBuf::from(dir).join("Cargo.toml")) else {
        return false;
    };
    let mut in_features = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
        } else if in_features
            && let Some((key, _)) = line.split_once('=')
            && key.trim().trim_matches('"') == "as-dependency"
        {
            return true;
        }
    }
    false
}

/// `contract_ref!(Name, "path/to/contract.abi.json")`: the client type `Name` of the contract
/// that ABI describes (the path is relative to the calling crate's directory).
pub fn from_abi(input: TokenStream) -> syn::Result<TokenStream> {
    struct Args {
        ident: Ident,
        path: LitStr,
    }
    impl syn::parse::Parse for Args {
        fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
            let ident = input.parse()?;
            input.parse::<Token![,]>()?;
            let path = input.parse()?;
            let _ = input.parse::<Option<Token![,]>>()?;
            Ok(Args { ident, path })
        }
    }
    let Args { ident, path } = syn::parse2(input)?;
    let base = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let file = base.join(path.value());
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Error::new(
            path.span(),
            format!("cannot read the ABI {}: {e}", file.display()),
        )
    })?;
    let abi: Value = serde_json::from_str(&text)
        .map_err(|e| Error::new(path.span(), format!("the ABI is not JSON: {e}")))?;
    let bad = |what: &str| Error::new(path.span(), format!("the ABI has no valid {what}"));
    let contract = abi["contract"].as_str().ok_or_else(|| bad("`contract`"))?;
    let method = |m: &Value| -> syn::Result<ClientMethod> {
        let name = m["name"].as_str().ok_or_else(|| bad("method name"))?;
        if syn::parse_str::<Ident>(name).is_err() {
            return Err(bad(&format!("method name (`{name}`)")));
        }
        // A type string becomes code of the calling contract: only the ABI's type language
        // (paths, generics, tuples, arrays with literal lengths) is accepted, never a block,
        // macro or attribute an author could hide items in.
        let ty = |s: &str| {
            let plain = s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:<>,;[]() ".contains(c));
            plain
                .then(|| syn::parse_str::<Type>(s).ok())
                .flatten()
                .ok_or_else(|| bad(&format!("type (`{s}`, in `{name}`)")))
        };
        let mut args = Vec::new();
        for (i, a) in m["args"]
            .as_array()
            .ok_or_else(|| bad("args"))?
            .iter()
            .enumerate()
        {
            let t = a["type"].as_str().ok_or_else(|| bad("argument type"))?;
            // The ABI's argument name where it is a plain identifier, else a positional one.
            let arg = a["name"]
                .as_str()
                .and_then(|n| syn::parse_str::<Ident>(n).ok())
                .filter(|n| n != "self")
                .unwrap_or_else(|| format_ident!("arg{i}"));
            args.push((arg, ty(t)?));
        }
        let ok = ty(m["returns"].as_str().ok_or_else(|| bad("return type"))?)?;
        Ok(ClientMethod {
            name: name.to_string(),
            args,
            ok,
        })
    };
    let constructor = match &abi["constructor"] {
        Value::Null => None,
        c => Some(method(c)?),
    };
    let messages = abi["methods"]
        .as_array()
        .ok_or_else(|| bad("`methods`"))?
        .iter()
        .map(method)
        .collect::<syn::Result<Vec<_>>>()?;
    let client = client(&ident, contract, constructor.as_ref(), &messages)?;
    // Rebuild when the ABI changes.
    let file = file.display().to_string();
    Ok(quote! {
        const _: &[u8] = include_bytes!(#file);
        #client
    })
}
