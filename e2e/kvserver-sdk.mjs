// Drives the official Cloudflare TypeScript SDK (npm "cloudflare", pinned in
// package.json) against `kvkit serve`: every KV operation, cursor paging over
// 2,500 keys, and keys that need escaping or are not ASCII. Run by
// cmd/kvkit's TestTypeScriptSDK (go test -tags e2e), which starts the server
// and passes CLOUDFLARE_BASE_URL, CLOUDFLARE_API_TOKEN and
// CLOUDFLARE_ACCOUNT_ID. Prints one JSON line: the operations and HTTP
// requests it made. Any failed check throws, and node exits non-zero.
import Cloudflare from "cloudflare";
import assert from "node:assert/strict";

let requests = 0;
const client = new Cloudflare({
  baseURL: process.env.CLOUDFLARE_BASE_URL,
  apiToken: process.env.CLOUDFLARE_API_TOKEN,
  maxRetries: 0,
  fetch: (url, init) => {
    requests++;
    return fetch(url, init);
  },
});
const account_id = process.env.CLOUDFLARE_ACCOUNT_ID;
const kv = client.kv.namespaces;

let ops = 0;
// op runs one SDK call (a call that auto-pages counts once).
async function op(name, f) {
  ops++;
  try {
    return await f();
  } catch (e) {
    e.message = `${name}: ${e.message}`;
    throw e;
  }
}
// fails runs an SDK call that must fail with this status and error code.
async function fails(name, status, code, f) {
  ops++;
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof Cloudflare.APIError, `${name}: ${e}`);
    assert.equal(e.status, status, `${name}: status`);
    if (code) assert.equal(e.errors?.[0]?.code, code, `${name}: code in ${JSON.stringify(e.errors)}`);
    return e;
  }
  assert.fail(`${name}: succeeded`);
}

// Namespaces.
const ns = await op("create", () => kv.create({ account_id, title: "sdk-ns" }));
assert.match(ns.id, /^[0-9a-f]{32}$/);
assert.equal(ns.title, "sdk-ns");
const namespace_id = ns.id;
await fails("create a taken title", 400, 10014, () => kv.create({ account_id, title: "sdk-ns" }));
assert.equal((await op("get", () => kv.get(namespace_id, { account_id }))).title, "sdk-ns");
assert.equal((await op("rename", () => kv.update(namespace_id, { account_id, title: "sdk-renamed" }))).title, "sdk-renamed");

// Auto-paging one namespace per page ends on the empty page past the end.
const paged = await op("list, auto-paging", async () => {
  const titles = [];
  for await (const n of kv.list({ account_id, per_page: 1 })) titles.push(n.title);
  return titles;
});
assert.deepEqual(paged, ["kvkit", "sdk-renamed"]);
const page = await op("list by id, descending", () => kv.list({ account_id, order: "id", direction: "desc", per_page: 5 }));
const ids = page.result.map((n) => n.id);
assert.deepEqual(ids, [...ids].sort().reverse());
assert.deepEqual(page.result_info, { page: 1, per_page: 5, count: 2, total_count: 2, total_pages: 1 });
await fails("list with per_page 0", 400, 10001, () => kv.list({ account_id, per_page: 0 }));

// Values: escaping, non-ASCII, binary, TTL, expiration, metadata (as JSON
// text: an object would be flattened into metadata[...] form fields).
const odd = "a/b?c#d %";
const intl = "ünï/😀 ключ";
await op("put with TTL and metadata", () =>
  kv.values.update(odd, { account_id, namespace_id, value: "hello", expiration_ttl: 120, metadata: JSON.stringify({ m: 1 }) }),
);
const res = await op("get", () => kv.values.get(odd, { account_id, namespace_id }));
assert.equal(await res.text(), "hello");
const ttlExpiration = Number(res.headers.get("expiration"));
assert.ok(ttlExpiration > Date.now() / 1000 + 100, "expiration header from the TTL");
assert.deepEqual(await op("metadata", () => kv.metadata.get(odd, { account_id, namespace_id })), { m: 1 });

const bytes = new Uint8Array([0, 1, 0xff, 0xfe, 0x80, 0x7f]);
const expiration = Math.floor(Date.now() / 1000) + 3600;
await op("put binary with expiration", () =>
  kv.values.update("bin", { account_id, namespace_id, value: new File([bytes], "bin"), expiration }),
);
const bin = await op("get binary", () => kv.values.get("bin", { account_id, namespace_id }));
assert.deepEqual(new Uint8Array(await bin.arrayBuffer()), bytes);
assert.equal(Number(bin.headers.get("expiration")), expiration);

await op("put non-ASCII", () => kv.values.update(intl, { account_id, namespace_id, value: "grüße, мир" }));
assert.equal(await (await op("get non-ASCII", () => kv.values.get(intl, { account_id, namespace_id }))).text(), "grüße, мир");

const listed = await op("list keys", () => kv.keys.list(namespace_id, { account_id }));
assert.deepEqual(
  listed.result.map((k) => k.name),
  [odd, "bin", intl],
  "UTF-8 byte order",
);
assert.deepEqual(listed.result[0], { name: odd, expiration: ttlExpiration, metadata: { m: 1 } });
assert.deepEqual(listed.result[1], { name: "bin", expiration });
assert.equal(listed.result_info.cursor, "");

// 2,500 keys: one bulk write, cursor paging, bulk reads in request order.
const body = [];
for (let i = 0; i < 2500; i++) body.push({ key: `p:${String(i).padStart(5, "0")}`, value: `v${i}` });
const wrote = await op("bulk write 2,500", () => kv.bulkUpdate(namespace_id, { account_id, body }));
assert.equal(wrote.successful_key_count, 2500);
assert.deepEqual(wrote.unsuccessful_keys, []);

const before = requests;
const seen = await op("list 2,500, auto-paging on the cursor", async () => {
  const names = [];
  for await (const k of kv.keys.list(namespace_id, { account_id, prefix: "p:", limit: 1000 })) names.push(k.name);
  return names;
});
assert.equal(seen.length, 2500);
assert.deepEqual(seen, body.map((e) => e.key));
assert.equal(requests - before, 3, "pages of 1,000, 1,000 and 500");
const small = await op("list with limit 10", () => kv.keys.list(namespace_id, { account_id, prefix: "p:", limit: 10 }));
assert.equal(small.result.length, 10);
const next = await op("resume from its cursor", () =>
  kv.keys.list(namespace_id, { account_id, prefix: "p:", limit: 10, cursor: small.result_info.cursor }),
);
assert.equal(next.result[0].name, "p:00010");
await fails("limit under 10", 400, 10001, () => kv.keys.list(namespace_id, { account_id, limit: 5 }));
await fails("a cursor the server never issued", 400, 10001, () => kv.keys.list(namespace_id, { account_id, cursor: "bm90LWlzc3VlZA" }));
await fails("a prefix over 512 bytes", 414, 10001, () => kv.keys.list(namespace_id, { account_id, prefix: "p".repeat(513) }));

const order = ["p:02000", odd, "p:00007", "missing", intl];
const got = await op("bulk get", () => kv.bulkGet(namespace_id, { account_id, keys: order }));
assert.deepEqual(Object.keys(got.values), order, "values in the order asked");
assert.deepEqual(got.values, { "p:02000": "v2000", [odd]: "hello", "p:00007": "v7", missing: null, [intl]: "grüße, мир" });
const withMeta = await op("bulk get with metadata", () => kv.bulkGet(namespace_id, { account_id, keys: [odd, "p:00001"], withMetadata: true }));
assert.deepEqual(withMeta.values, {
  [odd]: { value: "hello", metadata: { m: 1 }, expiration: ttlExpiration },
  "p:00001": { value: "v1", metadata: null },
});

const deleted = await op("bulk delete 2,500", () => kv.bulkDelete(namespace_id, { account_id, body: body.map((e) => e.key) }));
assert.equal(deleted.successful_key_count, 2500);
assert.equal((await op("list after", () => kv.keys.list(namespace_id, { account_id, prefix: "p:" }))).result.length, 0);

await op("delete", () => kv.values.delete(odd, { account_id, namespace_id }));
await fails("get a deleted key", 404, 10009, () => kv.values.get(odd, { account_id, namespace_id }));

// A deleted namespace is gone everywhere.
await op("delete the namespace", () => kv.delete(namespace_id, { account_id }));
await fails("get the deleted namespace", 404, 10013, () => kv.get(namespace_id, { account_id }));
await fails("read from it", 404, 10013, () => kv.values.get(intl, { account_id, namespace_id }));
await fails("write to it", 404, 10013, () => kv.values.update("k", { account_id, namespace_id, value: "v" }));
await fails("list it", 404, 10013, () => kv.keys.list(namespace_id, { account_id }));

console.log(JSON.stringify({ ops, requests }));
