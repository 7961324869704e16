// Drives the generated client of the `sdk-library` fixture against a dev node; prints one JSON
// line per step for `bindings_ts.rs` to check. Usage: node library.mjs CLIENT_DIR URL CONTRACT CODE_HASH
const [dir, url, address, codeHash] = process.argv.slice(2);
const { Library, ContractError, devSigner, jsonSafe } = await import(`${dir}/index.js`);

const show = (step, value) => console.log(JSON.stringify({ step, value }, jsonSafe));
const failure = (e) => {
  if (!(e instanceof ContractError)) throw e;
  return { status: e.status, error: e.error ?? null, fields: e.fields ?? null, panic: e.panic ?? null };
};

const alice = await devSigner("//alice");
const bob = await devSigner("//bob");
const lib = new Library(url, address, alice);

show("owner", await lib.owner());
// A transaction with the contract's own enum as argument; its event decoded.
const granted = await lib.grant("Writer", bob.address);
show("grant", { value: granted.value, events: granted.events, status: granted.receipt.status });
// A query with the enum.
show("has_role", await lib.has_role("Writer", bob.address));
// Bob is no owner: the contract's error, with the SDK's AccessError inside.
show("grant_by_bob", await new Library(url, address, bob).grant("Admin", bob.address).catch(failure));
// Bob writes (he holds Writer); u64 values come back as bigints.
await new Library(url, address, bob).write(41n);
await lib.vec_push(1);
show("vec_all", await lib.vec_all());
// Out of bounds: a struct inside the error.
show("vec_set", await lib.vec_set(9, 1).catch(failure));
// Byte strings as hex; Option<u64>.
await lib.map_insert("0x0102", 7);
show("map_get", await lib.map_get("0x0102"));
show("map_entries", await lib.map_entries());
// An argument that does not fit its type is refused before anything is sent.
show("bad_argument", await lib.vec_push(-1).then(() => "sent", (e) => e.constructor.name + ": " + e.message));
// Another instance from the uploaded code.
const second = await Library.instantiate(url, alice, codeHash, [], { salt: "0x02" });
show("instantiate", { owner: await second.owner(), differs: second.$address !== address });
