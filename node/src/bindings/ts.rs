//! The TypeScript client: `index.js` (runtime, type descriptors, the contract's class) and
//! `index.d.ts` (declarations).

use std::fmt::Write as _;

use aether_contract_build::abi::{Abi, Fields, Method, Ty};

/// Top-level names of the runtime and the generated module (a class or type of the contract
/// with one of them gets a `_` suffix or is declared `unknown`).
const RUNTIME_NAMES: [&str; 39] = [
    "T",
    "E",
    "META",
    "utf8",
    "utf8Strict",
    "hexToBytes",
    "bytesToHex",
    "DecodeError",
    "Writer",
    "Reader",
    "bigint",
    "writeUint",
    "writeInt",
    "writeCompact",
    "readUint",
    "readCompact",
    "small",
    "out",
    "shape",
    "encodeFields",
    "decodeFields",
    "isBytes",
    "encode",
    "decode",
    "encodeArgs",
    "decodeExact",
    "RpcError",
    "rpc",
    "fromBase64Url",
    "ed25519Signer",
    "devSigner",
    "ZERO",
    "callAction",
    "instantiateAction",
    "ContractError",
    "jsonSafe",
    "dryRun",
    "send",
    "ContractBase",
];

/// Names `index.d.ts` declares itself.
const DTS_NAMES: [&str; 13] = [
    "Hex",
    "Signer",
    "Receipt",
    "QueryOptions",
    "SendOptions",
    "DecodedEvent",
    "Sent",
    "ContractError",
    "RpcError",
    "DecodeError",
    "ContractBase",
    "Record",
    "Array",
];

/// The runtime every generated client carries (SCALE, JSON-RPC, signing, the base class).
const RUNTIME: &str = include_str!("runtime.js");

/// Declarations of the runtime's exports.
const RUNTIME_DTS: &str = r#"/** `0x`-prefixed hex. */
export type Hex = `0x${string}`;
/** Signs transactions: an ed25519 key (its address is its public key). */
export interface Signer {
  publicKey: Uint8Array;
  address: Hex;
  sign(payload: Uint8Array): Promise<Uint8Array>;
}
/** A receipt as the node's `chain_getReceipt` returns it. */
export interface Receipt {
  txHash: Hex;
  status: "success" | "revert" | "out_of_gas" | "trap" | "invalid_module" | "rejected";
  gasUsed: number;
  return: Hex;
  events: { contract: Hex; topics: Hex[]; data: Hex }[];
  error?: string;
  created?: Hex;
  height?: number;
}
/** Options of a query (a dry run at the head). */
export interface QueryOptions {
  /** The caller (default: the signer's address, else the zero address). */
  from?: Hex;
  value?: bigint | number | string;
  gasLimit?: number;
}
/** Options of a transaction. */
export interface SendOptions {
  value?: bigint | number | string;
  /** Default: what a dry run uses, plus 20%. */
  gasLimit?: number;
  gasPrice?: bigint | number | string;
  /** How long to wait for the receipt (default 60,000 ms). */
  timeoutMs?: number;
  /** For `instantiate`: the salt (`0x` hex). */
  salt?: Hex;
}
/** A decoded event. */
export interface DecodedEvent {
  name: string;
  fields: Record<string, unknown>;
}
/** What a transaction gave: the message's return value, its decoded events, the receipt.
 * The transaction succeeded even if something in it does not decode (a contract upgraded
 * since the client was generated): then `value` is undefined and `valueError` says why, and
 * such an event has `name: null`, `error` and the raw `event`. */
export interface Sent<T> {
  value: T;
  valueError?: string;
  events: (DecodedEvent | { name: null; error: string; event: Receipt["events"][number] })[];
  receipt: Receipt;
}
/** A call ended other than in success. */
export declare class ContractError extends Error {
  status: Receipt["status"];
  /** `Enum::Variant` of the contract's error, when it reverted with one. */
  error?: string;
  fields?: unknown[];
  /** The panic message, when it panicked. */
  panic?: string;
  receipt: Receipt;
}
export declare class RpcError extends Error {
  code: number;
  data?: unknown;
}
export declare class DecodeError extends Error {}
export declare function rpc(url: string, method: string, params: unknown[]): Promise<any>;
export declare function ed25519Signer(seed: Uint8Array | Hex): Promise<Signer>;
/** A dev account's signer (`//alice`): the seed is SHA-256 of the lower-cased name. */
export declare function devSigner(name: string): Promise<Signer>;
export declare function hexToBytes(hex: string, what?: string): Uint8Array;
export declare function bytesToHex(bytes: Uint8Array): Hex;
/** A `JSON.stringify` replacer that writes bigints as decimal strings. */
export declare function jsonSafe(key: string, value: unknown): unknown;
export declare class ContractBase {
  /** Decodes an event of this contract, or null if the ABI does not list it. */
  $decodeEvent(event: { topics: Hex[]; data: Hex }): DecodedEvent | null;
  $decodeRevert(method: string, data: Hex): { error?: string; fields?: unknown[]; panic?: string };
}
"#;

/// The files of the client: `index.js` and `index.d.ts`.
pub fn generate(abi: &Abi) -> Vec<(&'static str, String)> {
    let mut g = Gen::default();
    // The class must not take the name of one of the runtime's top-level items.
    let class = match ident(&abi.contract) {
        c if RUNTIME_NAMES.contains(&c.as_str()) => format!("{c}_"),
        c => c,
    };
    let mut methods = Vec::new();
    let mut skipped = Vec::new();
    for m in abi.constructor.iter().chain(&abi.methods) {
        // `then` would make an instance awaitable (`await` would call it and wait forever).
        if matches!(m.name.as_str(), "constructor" | "then") || !super::is_ident(&m.name) {
            skipped.push(format!(
                "{} (not a name a JavaScript class method can have)",
                super::comment(&m.name)
            ));
            continue;
        }
        match g.method(abi, m) {
            Some(desc) => methods.push((m, desc)),
            None => skipped.push(format!(
                "{} (a type the ABI does not describe)",
                super::comment(&m.name)
            )),
        }
    }
    let mut events = Vec::new();
    for e in &abi.events {
        let fields: Option<Vec<String>> = e
            .fields
            .iter()
            .map(|f| {
                Some(format!(
                    "[{}, {}]",
                    js_str(&f.name),
                    g.desc(&abi.ty(&f.ty)?)
                ))
            })
            .collect();
        if let Some(fields) = fields {
            events.push(format!(
                "    {}: {{ name: {}, fields: [{}] }},",
                js_str(&e.signature_topic),
                js_str(&e.name),
                fields.join(", ")
            ));
        }
    }

    let mut js = String::new();
    let _ = writeln!(
        js,
        "// The client of the `{}` contract, generated by `aether contract bindings --lang ts`\n\
         // from its ABI. Do not edit: generate it again when the contract changes.\n",
        super::comment(&abi.contract)
    );
    js.push_str(RUNTIME);
    js.push_str(
        "\n// ---- The contract's types -----------------------------------------------------\n\n",
    );
    js.push_str("const T = {};\n");
    for (name, def) in &g.defs {
        let _ = writeln!(js, "T[{}] = {def};", js_str(name));
    }
    js.push_str("const E = {};\n");
    for (name, def) in &g.errors {
        let _ = writeln!(js, "E[{}] = {def};", js_str(name));
    }
    js.push_str("\nconst META = {\n  methods: {\n");
    for (m, desc) in &methods {
        let _ = writeln!(js, "    {}: {desc},", js_str(&m.name));
    }
    js.push_str("  },\n  events: {\n");
    for e in &events {
        js.push_str(e);
        js.push('\n');
    }
    let ctor = methods.iter().find(|(m, _)| m.name == "init");
    if let Some((_, desc)) = ctor {
        let _ = writeln!(js, "  }},\n  constructor: {desc},\n}};\n");
    } else {
        js.push_str("  },\n};\n\n");
    }
    let _ = writeln!(
        js,
        "/** The `{}` contract at `address` on the node at `url` (a signer is needed for \
         transactions). */\nexport class {class} extends ContractBase {{\n  constructor(url, \
         address, signer) {{\n    super(url, address, signer, META);\n  }}\n",
        super::comment(&abi.contract)
    );
    if ctor.is_some() {
        let _ = writeln!(
            js,
            "  static instantiate(url, signer, codeHash, args, opts) {{\n    return \
             ContractBase.$instantiate({class}, META, url, signer, codeHash, args, opts);\n  }}\n"
        );
    }
    for (m, _) in methods.iter().filter(|(m, _)| m.name != "init") {
        let params: Vec<String> = (0..m.args.len()).map(|i| format!("a{i}")).collect();
        let call = if m.mutates { "$send" } else { "$query" };
        let _ = writeln!(
            js,
            "  {}({}opts) {{\n    return this.{call}({}, [{}], opts);\n  }}\n",
            m.name,
            params.iter().map(|p| format!("{p}, ")).collect::<String>(),
            js_str(&m.name),
            params.join(", ")
        );
    }
    js.push_str("}\n");
    if !skipped.is_empty() {
        let _ = writeln!(js, "\n// Not generated: {}.", skipped.join("; "));
    }

    let mut dts = String::new();
    let _ = writeln!(
        dts,
        "// Declarations of the `{}` contract's client, generated by `aether contract bindings \
         --lang ts`. Do not edit.\n",
        super::comment(&abi.contract)
    );
    dts.push_str(RUNTIME_DTS);
    dts.push('\n');
    for def in &abi.types {
        let Some(ty) = abi.ty(&def.name).filter(|_| declarable(&def.name)) else {
            continue;
        };
        if !def.docs.is_empty() {
            let _ = writeln!(dts, "{}", doc(&def.docs, ""));
        }
        let _ = writeln!(dts, "{}", declaration(&def.name, &ty));
    }
    let _ = writeln!(
        dts,
        "\n/** The `{}` contract. */\nexport declare class {class} extends ContractBase {{\n  \
         constructor(url: string, address: Hex, signer?: Signer);",
        super::comment(&abi.contract)
    );
    if let Some((m, _)) = ctor {
        let args: Vec<String> = m
            .args
            .iter()
            .map(|a| format!("{}: {}", ident(&a.name), ts(&abi.ty(&a.ty), true)))
            .collect();
        let _ = writeln!(
            dts,
            "  /** Creates a contract from uploaded code, running its constructor. */\n  static \
             instantiate(url: string, signer: Signer, codeHash: Hex, args: [{}], opts?: \
             SendOptions): Promise<{class}>;",
            args.join(", ")
        );
    }
    for (m, _) in methods.iter().filter(|(m, _)| m.name != "init") {
        let args: String = m
            .args
            .iter()
            .map(|a| format!("{}: {}, ", ident(&a.name), ts(&abi.ty(&a.ty), true)))
            .collect();
        let ret = ts(&abi.ty(&m.returns), false);
        let (opts, result, what) = if m.mutates {
            (
                "SendOptions",
                format!("Sent<{ret}>"),
                "Sends a transaction calling",
            )
        } else {
            ("QueryOptions", ret, "Dry-runs (queries)")
        };
        let error = m
            .error
            .as_ref()
            .map(|e| {
                format!(
                    " Reverts with `{}` as a `ContractError`.",
                    super::comment(e)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            dts,
            "  /** {what} `{}`.{error} */\n  {}({args}opts?: {opts}): Promise<{result}>;",
            m.name, m.name
        );
    }
    dts.push_str("}\n");
    vec![("index.js", js), ("index.d.ts", dts)]
}

/// Builds the type descriptors, each registered struct and enum once (`T.Name`), in an order
/// where every one is defined before it is used.
#[derive(Default)]
struct Gen {
    defs: Vec<(String, String)>,
    /// The error enums' descriptors (`E.Name`).
    errors: Vec<(String, String)>,
}

impl Gen {
    fn desc(&mut self, ty: &Ty) -> String {
        match ty {
            Ty::Bool => "\"bool\"".into(),
            Ty::Uint(n) => format!("{{ u: {n} }}"),
            Ty::Int(n) => format!("{{ i: {n} }}"),
            Ty::Bytes32 => "\"hash\"".into(),
            Ty::Address => "\"address\"".into(),
            Ty::String => "\"string\"".into(),
            Ty::Vec(t) => format!("{{ vec: {} }}", self.desc(t)),
            Ty::Option(t) => format!("{{ option: {} }}", self.desc(t)),
            Ty::Result(t, e) => format!("{{ result: [{}, {}] }}", self.desc(t), self.desc(e)),
            Ty::Array(t, n) => format!("{{ array: [{}, {n}] }}", self.desc(t)),
            Ty::Tuple(ts) => format!(
                "{{ tuple: [{}] }}",
                ts.iter()
                    .map(|t| self.desc(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Struct { name, fields } => {
                if !self.defs.iter().any(|(n, _)| n == name) {
                    let fields = self.fields(fields);
                    let def = format!("{{ struct: {}, fields: {fields} }}", js_str(name));
                    self.defs.push((name.clone(), def));
                }
                format!("T[{}]", js_str(name))
            }
            Ty::Enum { name, variants } => {
                if !self.defs.iter().any(|(n, _)| n == name) {
                    let variants: Vec<String> = variants
                        .iter()
                        .map(|v| {
                            format!(
                                "[{}, {}, {}]",
                                js_str(&v.name),
                                v.index,
                                self.fields(&v.fields)
                            )
                        })
                        .collect();
                    let def = format!(
                        "{{ enum: {}, variants: [{}] }}",
                        js_str(name),
                        variants.join(", ")
                    );
                    self.defs.push((name.clone(), def));
                }
                format!("T[{}]", js_str(name))
            }
        }
    }

    fn fields(&mut self, fields: &Fields) -> String {
        let items: Vec<String> = fields
            .iter()
            .map(|(n, t)| {
                let name = n.as_deref().map_or("null".to_string(), js_str);
                format!("[{name}, {}]", self.desc(t))
            })
            .collect();
        format!("[{}]", items.join(", "))
    }

    /// The descriptor of a method: `{ args, returns, error }`, if every type is described.
    fn method(&mut self, abi: &Abi, m: &Method) -> Option<String> {
        let args: Vec<String> = m
            .args
            .iter()
            .map(|a| {
                Some(format!(
                    "[{}, {}]",
                    js_str(&a.name),
                    self.desc(&abi.ty(&a.ty)?)
                ))
            })
            .collect::<Option<_>>()?;
        let returns = self.desc(&abi.ty(&m.returns)?);
        // The error enum, if its fields are described (else reverts show undecoded).
        let error = m
            .error
            .as_ref()
            .and_then(|name| abi.errors.iter().find(|e| &e.name == name))
            .and_then(|e| self.error(abi, e))
            .unwrap_or_else(|| "null".into());
        Some(format!(
            "{{ args: [{}], returns: {returns}, error: {error} }}",
            args.join(", ")
        ))
    }

    /// `E.Name`, the descriptor of an error enum, defined once.
    fn error(&mut self, abi: &Abi, e: &aether_contract_build::abi::ErrorDef) -> Option<String> {
        if !self.errors.iter().any(|(n, _)| n == &e.name) {
            let def = Some(e).and_then(|e| {
                let variants: Vec<String> = e
                    .variants
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let fields: Vec<String> = v
                            .fields
                            .iter()
                            .map(|f| Some(format!("[null, {}]", self.desc(&abi.ty(f)?))))
                            .collect::<Option<_>>()?;
                        Some(format!(
                            "[{}, {i}, [{}]]",
                            js_str(&v.name),
                            fields.join(", ")
                        ))
                    })
                    .collect::<Option<_>>()?;
                Some(format!(
                    "{{ enum: {}, variants: [{}] }}",
                    js_str(&e.name),
                    variants.join(", ")
                ))
            })?;
            self.errors.push((e.name.clone(), def));
        }
        Some(format!("E[{}]", js_str(&e.name)))
    }
}

/// The TypeScript type of values of `ty` (`input`: what an argument accepts).
fn ts(ty: &Option<Ty>, input: bool) -> String {
    match ty {
        Some(t) => ts_of(t, input),
        None => "unknown".into(),
    }
}

fn ts_of(ty: &Ty, input: bool) -> String {
    let big = if input {
        "bigint | number | string"
    } else {
        "bigint"
    };
    match ty {
        Ty::Bool => "boolean".into(),
        Ty::Uint(n) | Ty::Int(n) if *n <= 4 => "number".into(),
        Ty::Uint(_) | Ty::Int(_) => format!("({big})"),
        Ty::Bytes32 | Ty::Address => "Hex".into(),
        Ty::String => "string".into(),
        Ty::Vec(t) if **t == Ty::Uint(1) => "Hex".into(),
        Ty::Array(t, _) if **t == Ty::Uint(1) => "Hex".into(),
        Ty::Vec(t) | Ty::Array(t, _) => format!("Array<{}>", ts_of(t, input)),
        Ty::Option(t) => format!("{} | null", ts_of(t, input)),
        Ty::Result(t, e) => format!(
            "{{ Ok: {} }} | {{ Err: {} }}",
            ts_of(t, input),
            ts_of(e, input)
        ),
        Ty::Tuple(ts) if ts.is_empty() => "null".into(),
        Ty::Tuple(ts) => format!(
            "[{}]",
            ts.iter()
                .map(|t| ts_of(t, input))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Ty::Struct { name, .. } | Ty::Enum { name, .. } if declarable(name) => name.clone(),
        Ty::Struct { .. } | Ty::Enum { .. } => "unknown".into(),
    }
}

/// How fields look as TypeScript (serde's shapes, as the runtime encodes them).
fn fields_ts(fields: &Fields) -> String {
    match fields.as_slice() {
        [] => "null".into(),
        f if f.iter().all(|(n, _)| n.is_some()) => format!(
            "{{ {} }}",
            f.iter()
                .map(|(n, t)| format!(
                    "{}: {};",
                    js_str(n.as_deref().unwrap_or_default()),
                    ts_of(t, false)
                ))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        [(_, t)] => ts_of(t, false),
        f => format!(
            "[{}]",
            f.iter()
                .map(|(_, t)| ts_of(t, false))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The declaration of a registered struct or enum.
fn declaration(name: &str, ty: &Ty) -> String {
    match ty {
        Ty::Struct { fields, .. } => format!("export type {name} = {};", fields_ts(fields)),
        Ty::Enum { variants, .. } => {
            let arms: Vec<String> = variants
                .iter()
                .map(|v| {
                    if v.fields.is_empty() {
                        js_str(&v.name)
                    } else {
                        format!("{{ {}: {} }}", js_str(&v.name), fields_ts(&v.fields))
                    }
                })
                .collect();
            format!(
                "export type {name} = {};",
                if arms.is_empty() {
                    "never".into()
                } else {
                    arms.join(" | ")
                }
            )
        }
        other => format!("export type {name} = {};", ts_of(other, false)),
    }
}

fn doc(text: &str, indent: &str) -> String {
    let mut s = format!("{indent}/**");
    for line in text.lines() {
        let _ = write!(s, "\n{indent} * {}", line.replace("*/", "* /"));
    }
    let _ = write!(s, "\n{indent} */");
    s
}

/// Whether a registered type can be declared under its own name in `index.d.ts`.
fn declarable(name: &str) -> bool {
    super::is_ident(name) && !DTS_NAMES.contains(&name) && !reserved(name)
}

/// A JSON string literal (valid JavaScript).
fn js_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `s` if it is an identifier JavaScript accepts, else `_`-prefixed.
fn ident(s: &str) -> String {
    let ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok && !reserved(s) && s != "opts" {
        s.to_string()
    } else {
        format!(
            "_{}",
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
        )
    }
}

/// Names a generated class cannot use for a method, or a declaration for a parameter.
fn reserved(s: &str) -> bool {
    matches!(
        s,
        "constructor"
            | "prototype"
            | "arguments"
            | "eval"
            | "break"
            | "case"
            | "catch"
            | "class"
            | "const"
            | "continue"
            | "debugger"
            | "default"
            | "delete"
            | "do"
            | "else"
            | "enum"
            | "export"
            | "extends"
            | "false"
            | "finally"
            | "for"
            | "function"
            | "if"
            | "import"
            | "in"
            | "instanceof"
            | "new"
            | "null"
            | "return"
            | "super"
            | "switch"
            | "this"
            | "throw"
            | "true"
            | "try"
            | "typeof"
            | "var"
            | "void"
            | "while"
            | "with"
            | "yield"
            | "let"
            | "static"
            | "implements"
            | "interface"
            | "package"
            | "private"
            | "protected"
            | "public"
            | "await"
    )
}
