// ---- Aether client runtime (generated with the bindings; no dependencies) ----------------
// SCALE encoding of the ABI's types, JSON-RPC over fetch, ed25519 signing with WebCrypto.
// Runs in Node.js >= 20 and in browsers with Ed25519 in WebCrypto.

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const utf8Lossy = new TextDecoder("utf-8");

/** Most values one decode produces, as the Rust codec (`MAX_DECODED_ITEMS`). */
const MAX_DECODED_ITEMS = 1 << 18;

/** Bytes from `0x` hex. */
export function hexToBytes(hex, what = "value") {
  if (typeof hex !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new TypeError(`${what}: expected 0x-prefixed hex, got ${String(hex)}`);
  }
  const out = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 + 2 * i, 2), 16);
  return out;
}

/** `0x` hex of bytes. */
export function bytesToHex(bytes) {
  let s = "0x";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Bytes could not be decoded as the type. */
export class DecodeError extends Error {}

class Writer {
  constructor() {
    this.out = [];
  }
  byte(b) {
    this.out.push(b);
  }
  bytes(b) {
    for (const x of b) this.out.push(x);
  }
  finish() {
    return Uint8Array.from(this.out);
  }
}

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.i = 0;
    this.budget = MAX_DECODED_ITEMS;
  }
  take(n) {
    if (this.i + n > this.b.length) throw new DecodeError("the data ends before the value does");
    const s = this.b.subarray(this.i, this.i + n);
    this.i += n;
    return s;
  }
}

function bigint(v, what) {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?[0-9]+$/.test(v)) return BigInt(v);
  throw new TypeError(`${what}: expected an integer, got ${String(v)}`);
}

function writeUint(w, v, n, what) {
  let x = bigint(v, what);
  if (x < 0n || x >= 1n << BigInt(8 * n)) throw new RangeError(`${what}: ${x} does not fit u${8 * n}`);
  for (let i = 0; i < n; i++) {
    w.byte(Number(x & 0xffn));
    x >>= 8n;
  }
}

function writeInt(w, v, n, what) {
  let x = bigint(v, what);
  const bits = BigInt(8 * n);
  if (x < -(1n << (bits - 1n)) || x >= 1n << (bits - 1n)) {
    throw new RangeError(`${what}: ${x} does not fit i${8 * n}`);
  }
  if (x < 0n) x += 1n << bits;
  writeUint(w, x, n, what);
}

function writeCompact(w, n) {
  const x = BigInt(n);
  if (x < 64n) w.byte(Number(x << 2n));
  else if (x < 1n << 14n) writeUint(w, (x << 2n) | 1n, 2, "length");
  else if (x < 1n << 30n) writeUint(w, (x << 2n) | 2n, 4, "length");
  else {
    const b = [];
    for (let y = x; y > 0n; y >>= 8n) b.push(Number(y & 0xffn));
    w.byte(((b.length - 4) << 2) | 3);
    w.bytes(b);
  }
}

function readUint(r, n) {
  const b = r.take(n);
  let x = 0n;
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  return x;
}

/** A compact length: canonical (the shortest form) and at most u32, as parity-scale-codec. */
function readCompact(r) {
  const first = r.take(1)[0];
  let x, min;
  switch (first & 3) {
    case 0:
      return BigInt(first >> 2);
    case 1:
      [x, min] = [(BigInt(first) | (readUint(r, 1) << 8n)) >> 2n, 1n << 6n];
      break;
    case 2:
      [x, min] = [(BigInt(first) | (readUint(r, 3) << 8n)) >> 2n, 1n << 14n];
      break;
    default:
      if (first >> 2 !== 0) throw new DecodeError("a length beyond u32");
      [x, min] = [readUint(r, 4), 1n << 30n];
  }
  if (x < min) throw new DecodeError("a length not in its shortest encoding");
  return x;
}

const small = (n) => n <= 4;
const out = (x, n) => (small(n) ? Number(x) : x);

/** Fields as JSON (serde's shapes): none → null, all named → object, one → value, else array. */
function shape(fields) {
  if (fields.length === 0) return "unit";
  if (fields.every(([name]) => name !== null)) return "named";
  return fields.length === 1 ? "newtype" : "tuple";
}

function encodeFields(fields, v, w, what) {
  switch (shape(fields)) {
    case "unit":
      if (v !== null && v !== undefined) throw new TypeError(`${what}: expected null`);
      return;
    case "newtype":
      return encode(fields[0][1], v, w, what);
    case "tuple":
      if (!Array.isArray(v) || v.length !== fields.length) {
        throw new TypeError(`${what}: expected an array of ${fields.length}`);
      }
      return fields.forEach(([, t], i) => encode(t, v[i], w, `${what}.${i}`));
    default: {
      if (v === null || typeof v !== "object" || Object.keys(v).length !== fields.length) {
        throw new TypeError(`${what}: expected an object with ${fields.map(([n]) => n).join(", ")}`);
      }
      for (const [name, t] of fields) {
        if (!(name in v)) throw new TypeError(`${what}: missing field ${name}`);
        encode(t, v[name], w, `${what}.${name}`);
      }
    }
  }
}

function decodeFields(fields, r) {
  const values = fields.map(([, t]) => decode(t, r));
  switch (shape(fields)) {
    case "unit":
      return null;
    case "newtype":
      return values[0];
    case "tuple":
      return values;
    default:
      return Object.fromEntries(fields.map(([name], i) => [name, values[i]]));
  }
}

const isBytes = (t) => t.u === 1;

/** Appends the SCALE encoding of `v` as type descriptor `t` to `w`. */
export function encode(t, v, w, what = "value") {
  if (t === "bool") {
    if (typeof v !== "boolean") throw new TypeError(`${what}: expected a boolean`);
    return w.byte(v ? 1 : 0);
  }
  if (t === "string") {
    if (typeof v !== "string") throw new TypeError(`${what}: expected a string`);
    const b = utf8.encode(v);
    writeCompact(w, b.length);
    return w.bytes(b);
  }
  if (t === "address" || t === "hash") {
    const b = hexToBytes(v, what);
    if (b.length !== 32) throw new TypeError(`${what}: expected 32 bytes`);
    return w.bytes(b);
  }
  if (t.u) return writeUint(w, v, t.u, what);
  if (t.i) return writeInt(w, v, t.i, what);
  if (t.vec) {
    if (isBytes(t.vec) && typeof v === "string") {
      const b = hexToBytes(v, what);
      writeCompact(w, b.length);
      return w.bytes(b);
    }
    if (!Array.isArray(v)) throw new TypeError(`${what}: expected an array`);
    writeCompact(w, v.length);
    return v.forEach((x, i) => encode(t.vec, x, w, `${what}[${i}]`));
  }
  if (t.option) {
    if (v === null || v === undefined) return w.byte(0);
    w.byte(1);
    return encode(t.option, v, w, what);
  }
  if (t.array) {
    const [inner, n] = t.array;
    if (isBytes(inner) && typeof v === "string") {
      const b = hexToBytes(v, what);
      if (b.length !== n) throw new TypeError(`${what}: expected ${n} bytes`);
      return w.bytes(b);
    }
    if (!Array.isArray(v) || v.length !== n) throw new TypeError(`${what}: expected an array of ${n}`);
    return v.forEach((x, i) => encode(inner, x, w, `${what}[${i}]`));
  }
  if (t.tuple) {
    if (t.tuple.length === 0 && (v === null || v === undefined)) return;
    if (!Array.isArray(v) || v.length !== t.tuple.length) {
      throw new TypeError(`${what}: expected an array of ${t.tuple.length}`);
    }
    return t.tuple.forEach((x, i) => encode(x, v[i], w, `${what}.${i}`));
  }
  if (t.struct) return encodeFields(t.fields, v, w, what);
  if (t.enum) {
    let name, payload;
    if (typeof v === "string") [name, payload] = [v, null];
    else if (v && typeof v === "object" && Object.keys(v).length === 1) [[name, payload]] = Object.entries(v);
    else throw new TypeError(`${what}: expected "Variant" or {Variant: fields} of ${t.enum}`);
    const variant = t.variants.find(([n]) => n === name);
    if (!variant) throw new TypeError(`${what}: ${t.enum} has no variant ${name}`);
    if (typeof v === "string" && variant[2].length > 0) {
      throw new TypeError(`${what}: ${t.enum}::${name} has fields: pass {${name}: ...}`);
    }
    w.byte(variant[1]);
    return encodeFields(variant[2], payload, w, `${what}.${name}`);
  }
  if (t.result) throw new TypeError(`${what}: a Result is not an argument`);
  throw new TypeError(`${what}: unknown type descriptor`);
}

/** Decodes one value of type descriptor `t` from reader `r`. */
export function decode(t, r) {
  if (--r.budget < 0) throw new DecodeError(`more than ${MAX_DECODED_ITEMS} values in one decode`);
  if (t === "bool") {
    const b = r.take(1)[0];
    if (b > 1) throw new DecodeError("not a valid bool");
    return b === 1;
  }
  if (t === "string") {
    const n = Number(readCompact(r));
    try {
      return utf8Strict.decode(r.take(n));
    } catch (e) {
      if (e instanceof DecodeError) throw e;
      throw new DecodeError("not valid UTF-8");
    }
  }
  if (t === "address" || t === "hash") return bytesToHex(r.take(32));
  if (t.u) return out(readUint(r, t.u), t.u);
  if (t.i) {
    const bits = BigInt(8 * t.i);
    let x = readUint(r, t.i);
    if (x >= 1n << (bits - 1n)) x -= 1n << bits;
    return out(x, t.i);
  }
  if (t.vec) {
    const n = readCompact(r);
    if (isBytes(t.vec)) return bytesToHex(r.take(Number(n)));
    if (n > BigInt(r.b.length - r.i)) throw new DecodeError("a sequence longer than the data");
    return Array.from({ length: Number(n) }, () => decode(t.vec, r));
  }
  if (t.option) {
    const tag = r.take(1)[0];
    if (tag > 1) throw new DecodeError("not a valid Option");
    return tag === 0 ? null : decode(t.option, r);
  }
  if (t.result) {
    const tag = r.take(1)[0];
    if (tag > 1) throw new DecodeError("not a valid Result");
    return tag === 0 ? { Ok: decode(t.result[0], r) } : { Err: decode(t.result[1], r) };
  }
  if (t.array) {
    const [inner, n] = t.array;
    if (isBytes(inner)) return bytesToHex(r.take(n));
    return Array.from({ length: n }, () => decode(inner, r));
  }
  if (t.tuple) return t.tuple.length === 0 ? null : t.tuple.map((x) => decode(x, r));
  if (t.struct) return decodeFields(t.fields, r);
  if (t.enum) {
    const index = r.take(1)[0];
    const variant = t.variants.find(([, i]) => i === index);
    if (!variant) throw new DecodeError(`no variant of ${t.enum} has index ${index}`);
    const [name, , fields] = variant;
    return fields.length === 0 ? name : { [name]: decodeFields(fields, r) };
  }
  throw new DecodeError("unknown type descriptor");
}

/** Encodes `values` as the argument tuple of `args` (`[[name, type], ...]`). */
export function encodeArgs(args, values) {
  if (values.length !== args.length) {
    throw new TypeError(`expected ${args.length} argument(s) (${args.map(([n]) => n).join(", ")})`);
  }
  const w = new Writer();
  args.forEach(([name, t], i) => encode(t, values[i], w, name));
  return w.finish();
}

/** Decodes `bytes` as exactly one `t`. */
export function decodeExact(t, bytes) {
  const r = new Reader(bytes);
  const v = decode(t, r);
  if (r.i !== bytes.length) throw new DecodeError(`${bytes.length - r.i} byte(s) left after the value`);
  return v;
}

// ---- JSON-RPC -------------------------------------------------------------------------

/** The node answered a JSON-RPC error. */
export class RpcError extends Error {
  constructor(code, message, data) {
    super(`${message} (${code})`);
    this.code = code;
    this.data = data;
  }
}

/** Calls `method` on the node at `url`. */
export async function rpc(url, method, params) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new RpcError(body.error.code, body.error.message, body.error.data);
  return body.result;
}

// ---- Keys and transactions -------------------------------------------------------------

function fromBase64Url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** An ed25519 signer from its 32-byte seed (`Uint8Array` or `0x` hex). */
export async function ed25519Signer(seed) {
  const s = typeof seed === "string" ? hexToBytes(seed, "seed") : seed;
  if (s.length !== 32) throw new TypeError("seed: expected 32 bytes");
  const pkcs8 = new Uint8Array([...hexToBytes("0x302e020100300506032b657004220420"), ...s]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const publicKey = fromBase64Url((await crypto.subtle.exportKey("jwk", key)).x);
  return {
    publicKey,
    address: bytesToHex(publicKey),
    sign: async (payload) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, payload)),
  };
}

/** The signer of a dev account (`//alice`): the seed is SHA-256 of the lower-cased name. */
export async function devSigner(name) {
  const n = name.replace(/^\/\//, "").toLowerCase();
  return ed25519Signer(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(n))));
}

const ZERO = bytesToHex(new Uint8Array(32));

function callAction(contract, method, input, value) {
  const w = new Writer();
  w.byte(3); // Action::Call
  encode("address", contract, w, "contract");
  encode("string", method, w, "method");
  writeCompact(w, input.length);
  w.bytes(input);
  writeUint(w, value ?? 0n, 16, "value");
  return w.finish();
}

function instantiateAction(codeHash, salt, value, input) {
  const w = new Writer();
  w.byte(2); // Action::Instantiate
  encode("hash", codeHash, w, "codeHash");
  writeCompact(w, salt.length);
  w.bytes(salt);
  writeUint(w, value ?? 0n, 16, "value");
  writeCompact(w, input.length);
  w.bytes(input);
  w.byte(0); // no admin
  return w.finish();
}

/** A call ended other than in success: its status, the decoded error or panic, the receipt. */
export class ContractError extends Error {
  constructor(receipt, decoded) {
    const what = decoded?.error
      ? decoded.error + (decoded.fields ? ` ${JSON.stringify(decoded.fields, jsonSafe)}` : "")
      : decoded?.panic ?? receipt.error ?? "no message";
    super(`${receipt.status}: ${what}`);
    this.status = receipt.status;
    this.error = decoded?.error;
    this.fields = decoded?.fields;
    this.panic = decoded?.panic;
    this.receipt = receipt;
  }
}

/** A JSON.stringify replacer that writes bigints as decimal strings. */
export function jsonSafe(_key, v) {
  return typeof v === "bigint" ? v.toString() : v;
}

async function dryRun(url, from, action, gasLimit) {
  const params = [from, bytesToHex(action)];
  if (gasLimit !== undefined) params.push(Number(gasLimit));
  return rpc(url, "contract_dryRun", params);
}

/** Signs and submits `action`, then waits for its receipt (`opts.timeoutMs`, default 60 s). */
export async function send(url, signer, action, opts = {}) {
  let gasLimit = opts.gasLimit;
  if (gasLimit === undefined) {
    const dry = await dryRun(url, signer.address, action);
    if (dry.status !== "success") return dry;
    gasLimit = dry.gasUsed + Math.floor(dry.gasUsed / 5) + 1000;
  }
  const { chainId } = await rpc(url, "system_info", []);
  const nonce = await rpc(url, "author_nextNonce", [signer.address]);
  const tx = new Writer();
  writeUint(tx, chainId, 8, "chainId");
  writeUint(tx, nonce, 8, "nonce");
  writeUint(tx, gasLimit, 8, "gasLimit");
  writeUint(tx, opts.gasPrice ?? 1n, 16, "gasPrice");
  tx.bytes(action);
  const body = tx.finish();
  const signature = await signer.sign(new Uint8Array([...utf8.encode("aether/tx/v1"), ...body]));
  const signed = new Uint8Array([...body, 0 /* ed25519 */, ...signer.publicKey, ...signature]);
  const hash = await rpc(url, "author_submitTransaction", [bytesToHex(signed)]);
  const deadline = Date.now() + (opts.timeoutMs ?? 60000);
  for (;;) {
    const receipt = await rpc(url, "chain_getReceipt", [hash]);
    if (receipt) return receipt;
    if (Date.now() > deadline) throw new Error(`transaction ${hash} is not in a block in time`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** What generated contract classes share: the ABI's descriptors and the calls. */
export class ContractBase {
  constructor(url, address, signer, meta) {
    // Members start with `$`: no message name (a Rust identifier) can take their place.
    this.$url = url;
    this.$address = address;
    this.$signer = signer;
    this.$meta = meta;
  }

  /** Decodes revert data of `method`: `{error, fields?}` or `{panic}`. */
  $decodeRevert(method, data) {
    const bytes = hexToBytes(data, "revert data");
    if (bytes[0] === 1) return { panic: utf8Lossy.decode(bytes.subarray(1)) };
    const errorType = this.$meta.methods[method]?.error;
    if (bytes[0] !== 0 || !errorType) throw new DecodeError("revert data");
    const r = new Reader(bytes.subarray(1));
    const index = r.take(1)[0];
    const variant = errorType.variants.find(([, i]) => i === index);
    if (!variant) throw new DecodeError(`no variant of ${errorType.enum} has index ${index}`);
    const [name, , fields] = variant;
    const values = fields.map(([, t]) => decode(t, r));
    if (r.i !== r.b.length) throw new DecodeError(`${r.b.length - r.i} byte(s) left after the error`);
    const error = `${errorType.enum}::${name}`;
    return values.length === 0 ? { error } : { error, fields: values };
  }

  /** Decodes an event this contract emitted: `{name, fields}`, or null if the ABI lacks it. */
  $decodeEvent(event) {
    const def = this.$meta.events[event.topics[0]];
    if (!def) return null;
    return { name: def.name, fields: decodeExact({ struct: def.name, fields: def.fields }, hexToBytes(event.data)) };
  }

  $failure(method, receipt) {
    let decoded;
    try {
      decoded = receipt.status === "revert" ? this.$decodeRevert(method, receipt.return) : undefined;
    } catch {
      decoded = undefined;
    }
    return new ContractError(receipt, decoded);
  }

  async $query(method, args, opts = {}) {
    const m = this.$meta.methods[method];
    const action = callAction(this.$address, method, encodeArgs(m.args, args), opts.value);
    const from = opts.from ?? this.$signer?.address ?? ZERO;
    const receipt = await dryRun(this.$url, from, action, opts.gasLimit);
    if (receipt.status !== "success") throw this.$failure(method, receipt);
    return decodeExact(m.returns, hexToBytes(receipt.return));
  }

  async $send(method, args, opts = {}) {
    if (!this.$signer) throw new Error(`${method} changes state: give the contract a signer`);
    const m = this.$meta.methods[method];
    const action = callAction(this.$address, method, encodeArgs(m.args, args), opts.value);
    const receipt = await send(this.$url, this.$signer, action, opts);
    if (receipt.status !== "success") throw this.$failure(method, receipt);
    // The transaction is in a block: nothing below may throw (a caller would send it again).
    const events = [];
    for (const e of receipt.events ?? []) {
      if ((e.contract ?? "").toLowerCase() !== this.$address.toLowerCase()) continue;
      try {
        const decoded = this.$decodeEvent(e);
        if (decoded !== null) events.push(decoded);
      } catch (err) {
        events.push({ name: null, error: String(err.message ?? err), event: e });
      }
    }
    try {
      return { value: decodeExact(m.returns, hexToBytes(receipt.return)), events, receipt };
    } catch (err) {
      return { value: undefined, valueError: String(err.message ?? err), events, receipt };
    }
  }

  static async $instantiate(Class, meta, url, signer, codeHash, args, opts = {}) {
    const input = encodeArgs(meta.constructor.args, args);
    const salt = opts.salt ? hexToBytes(opts.salt, "salt") : new Uint8Array();
    const receipt = await send(url, signer, instantiateAction(codeHash, salt, opts.value, input), opts);
    if (receipt.status !== "success") throw new ContractError(receipt, undefined);
    return new Class(url, receipt.created, signer);
  }
}
