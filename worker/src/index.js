// kvkit's Worker: one KV namespace, bound as KV, served over HTTP to Go
// services (package kv/worker). Plain JavaScript modules, no build step.
// The protocol is in worker/README.md; keep the two in step.
//
// Every request must carry "Authorization: Bearer <secret>", the secret
// being KVKIT_SECRET (or, while rotating, KVKIT_SECRET_NEXT). Anything else
// is answered 401 before the binding is touched. Then the Worker checks every
// rule of KV that does not depend on the clock (key bytes, TTL, metadata,
// value size, list limit, batch sizes) itself, so bad input costs no KV
// operation and is refused the same way whoever sent it; what is left
// (absolute expirations, cacheTtl's minimum, rate limits) the binding
// decides, and its errors are mapped to the same codes with its message kept.
//
// Values stream out of KV to the client. Into KV, a value is held until it
// has arrived whole (see readValue): a put of a stream that fails midway
// stores what it got.

const MAX_KEY_BYTES = 512;
const MAX_VALUE_BYTES = 25 * 1024 * 1024;
const MAX_METADATA_BYTES = 1024;
const MIN_TTL_SECONDS = 60;
const MAX_LIST_LIMIT = 1000;
const MAX_BULK_GET = 100;
// Workers allow 1,000 KV operations per invocation: a bulk write is at most
// that many puts or deletes (the Go side splits larger batches).
const MAX_BULK_WRITE = 1000;
const MAX_EXPIRATION = 2147483647;
// Request bodies the Worker parses as JSON (bulk calls) are read into memory:
// Workers have 128 MB. Larger values go through PUT /v1/value.
const MAX_JSON_BODY = 16 * 1024 * 1024;
// Parallel binding calls in one bulk write.
const BULK_CONCURRENCY = 16;
// List cursors the Worker issues carry this tag; a cursor without it was not
// issued here and starts the listing over rather than skipping keys.
const CURSOR_TAG = "w1.";
const MIN_SECRET_LENGTH = 16;

const encoder = new TextEncoder();
const utf8 = (s) => encoder.encode(s).byteLength;

class KVError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const bad = (code, message) => new KVError(400, code, message);

export default {
  async fetch(request, env, ctx) {
    const ops = { n: 0 };
    let res;
    try {
      res = await handle(request, env, ctx, ops);
    } catch (e) {
      res = errorResponse(e instanceof KVError ? e : fromBinding(e));
    }
    res.headers.set("KV-Operations", String(ops.n));
    return res;
  },
};

async function handle(request, env, ctx, ops) {
  if (!(await authorized(request, env))) {
    const configured = secrets(env).length > 0;
    return errorResponse(
      new KVError(401, "unauthorized", configured
        ? "missing or wrong secret"
        : `the Worker has no secret: set KVKIT_SECRET (at least ${MIN_SECRET_LENGTH} characters) with wrangler secret put`),
      { "WWW-Authenticate": 'Bearer realm="kvkit"' },
    );
  }
  if (!env.KV || typeof env.KV.get !== "function") {
    throw new KVError(404, "not_found", "no KV namespace is bound as KV (see wrangler.toml)");
  }
  const kv = counted(env.KV, ops);
  const url = new URL(request.url);
  const route = /\/v1\/([a-z/]+)$/.exec(url.pathname)?.[1];
  const q = parseQuery(url.search);
  const m = request.method;
  switch (route) {
    case "value":
      if (m === "GET") return getValue(kv, q);
      if (m === "PUT") return putValue(kv, q, request, ctx);
      if (m === "DELETE") return deleteValue(kv, q);
      break;
    case "list":
      if (m === "GET") return list(kv, q);
      break;
    case "bulk/get":
      if (m === "POST") return bulkGet(kv, await readJSON(request));
      break;
    case "bulk/put":
      if (m === "POST") return bulkPut(kv, await readJSON(request));
      break;
    case "bulk/delete":
      if (m === "POST") return bulkDelete(kv, await readJSON(request));
      break;
    default:
      throw new KVError(404, "not_found", `no route ${url.pathname}`);
  }
  throw new KVError(405, "method_not_allowed", `${m} is not allowed on /v1/${route}`);
}

// ---- auth

function secrets(env) {
  return [env.KVKIT_SECRET, env.KVKIT_SECRET_NEXT].filter(
    (s) => typeof s === "string" && s.length >= MIN_SECRET_LENGTH,
  );
}

async function sha256(s) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s)));
}

// authorized compares the bearer token with each configured secret in
// constant time: both sides are hashed first, so neither their contents nor
// their lengths show in the time taken, and every secret is compared.
async function authorized(request, env) {
  const accepted = secrets(env);
  if (accepted.length === 0) return false;
  const header = request.headers.get("Authorization") ?? "";
  const given = await sha256(header.startsWith("Bearer ") ? header.slice(7) : "");
  let ok = false;
  for (const s of accepted) {
    if (crypto.subtle.timingSafeEqual(given, await sha256(s))) ok = true;
  }
  return ok;
}

// ---- the binding, counted

function counted(ns, ops) {
  const call = (name) => (...args) => {
    ops.n++;
    return ns[name](...args);
  };
  return {
    get: call("get"),
    getWithMetadata: call("getWithMetadata"),
    put: call("put"),
    delete: call("delete"),
    list: call("list"),
  };
}

// ---- validation (the rules that do not need KV's clock)

// parseQuery decodes the query string strictly: a malformed escape or bytes
// that are not UTF-8 are an error rather than U+FFFD silently in a key.
function parseQuery(search) {
  const q = new Map();
  for (const part of search.replace(/^\?/, "").split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    let name, value;
    try {
      name = decodeURIComponent(rawName.replaceAll("+", " "));
      value = decodeURIComponent(rawValue.replaceAll("+", " "));
    } catch {
      throw bad(rawName === "key" || rawName === "prefix" ? "invalid_key" : "invalid_request",
        `query parameter ${rawName} is not percent-encoded UTF-8`);
    }
    q.set(name, value);
  }
  return q;
}

function validateKey(key) {
  if (typeof key !== "string") throw bad("invalid_key", "key must be a string");
  if (key === "") throw bad("invalid_key", "empty key");
  if (key === "." || key === "..") throw bad("invalid_key", `"." and ".." are not allowed`);
  if (/[\uD800-\uDFFF]/u.test(key)) throw bad("invalid_key", "key is not valid UTF-8 (lone surrogate)");
  const n = utf8(key);
  if (n > MAX_KEY_BYTES) throw new KVError(400, "invalid_key", `key is ${n} bytes, limit is ${MAX_KEY_BYTES}`);
  return key;
}

function requireKey(q) {
  if (!q.has("key")) throw bad("invalid_key", "missing key parameter");
  return validateKey(q.get("key"));
}

// wholeNumber parses a parameter that must be a decimal integer of seconds.
function wholeNumber(raw, code, what) {
  if (typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw === "string" && /^[0-9]{1,16}$/.test(raw)) return Number(raw);
  throw bad(code, `${what} ${JSON.stringify(raw)} is not a whole number of seconds`);
}

function cacheTtlOf(raw) {
  if (raw === undefined || raw === null) return undefined;
  // The minimum (30 s today) is the binding's to enforce: it is passed on
  // as given, and the binding's own error says what it accepts.
  return wholeNumber(raw, "invalid_ttl", "cacheTtl");
}

// putOptions validates a write's expiration and metadata (JSON text, from
// a header, or a value already parsed, from a bulk body). As in KV, an
// expirationTtl wins over an expiration, which is then not even validated.
// Whether an expiration is far enough in the future is KV's call: its clock
// is the authority, not the Worker's.
function putOptions(expirationTtl, expiration, metadata, metadataIsText) {
  const opts = {};
  if (expirationTtl !== undefined && expirationTtl !== null) {
    const ttl = wholeNumber(expirationTtl, "invalid_ttl", "expirationTtl");
    if (ttl < MIN_TTL_SECONDS) throw bad("invalid_ttl", `expirationTtl ${ttl} must be at least ${MIN_TTL_SECONDS}`);
    opts.expirationTtl = ttl;
  } else if (expiration !== undefined && expiration !== null) {
    const exp = wholeNumber(expiration, "invalid_expiration", "expiration");
    if (exp > MAX_EXPIRATION) throw bad("invalid_expiration", `expiration ${exp} is after ${MAX_EXPIRATION}`);
    if (exp === 0) throw bad("invalid_expiration", "expiration 0 is not in the future");
    opts.expiration = exp;
  }
  if (metadata !== undefined && metadata !== null) {
    let meta = metadata;
    if (metadataIsText) {
      try {
        meta = JSON.parse(metadata);
      } catch {
        throw bad("invalid_metadata", "metadata is not valid JSON");
      }
    }
    if (meta !== null) {
      // KV measures the metadata as the binding serialises it.
      const n = utf8(JSON.stringify(meta));
      if (n > MAX_METADATA_BYTES) {
        throw new KVError(413, "metadata_too_large", `metadata is ${n} bytes, limit is ${MAX_METADATA_BYTES}`);
      }
      opts.metadata = meta;
    }
  }
  return opts;
}

function tooLarge(n) {
  return new KVError(413, "value_too_large", `value is ${n} bytes, limit is ${MAX_VALUE_BYTES}`);
}

// ---- single keys

async function getValue(kv, q) {
  const key = requireKey(q);
  const opts = { type: "stream" };
  const cacheTtl = cacheTtlOf(q.get("cacheTtl"));
  if (cacheTtl !== undefined) opts.cacheTtl = cacheTtl;
  const headers = new Headers({ "Content-Type": "application/octet-stream" });
  if (q.get("metadata") !== "1") {
    const value = await kv.get(key, opts);
    if (value === null) throw keyNotFound(key);
    return new Response(value, { headers });
  }
  // The binding's get does not return the expiration; the key's list entry
  // has it. Both are asked at once.
  const [res, exp] = await Promise.all([kv.getWithMetadata(key, opts), expirationOf(kv, key)]);
  if (res.value === null) throw keyNotFound(key);
  if (res.metadata !== null && res.metadata !== undefined) {
    headers.set("KV-Metadata", encodeURIComponent(JSON.stringify(res.metadata)));
  }
  if (exp) headers.set("KV-Expiration", String(exp));
  if (res.cacheStatus) headers.set("KV-Cache-Status", String(res.cacheStatus));
  return new Response(res.value, { headers });
}

function keyNotFound(key) {
  return new KVError(404, "key_not_found", `no key ${JSON.stringify(key)}`);
}

async function expirationOf(kv, key) {
  const page = await kv.list({ prefix: key, limit: 1 });
  const first = page.keys[0];
  return first && first.name === key ? first.expiration : undefined;
}

async function putValue(kv, q, request, ctx) {
  const key = requireKey(q);
  const rawMeta = request.headers.get("KV-Metadata");
  let metaJSON;
  if (rawMeta !== null) {
    try {
      metaJSON = decodeURIComponent(rawMeta);
    } catch {
      throw bad("invalid_metadata", "KV-Metadata is not percent-encoded UTF-8");
    }
  }
  const opts = putOptions(q.get("expirationTtl"), q.get("expiration"), metaJSON, true);
  const rawLength = request.headers.get("Content-Length");
  const length = rawLength === null ? null : Number(rawLength);
  if (length !== null && length > MAX_VALUE_BYTES) throw tooLarge(length);
  const value = await readValue(request, length);
  // Once the value is whole, the write finishes even if the client goes
  // away meanwhile: a write cut halfway is what readValue exists to avoid.
  const put = kv.put(key, value, opts);
  ctx?.waitUntil?.(put.catch(() => {}));
  await put;
  return new Response(null, { status: 204 });
}

// readValue reads a value up to MAX_VALUE_BYTES and returns it as a stream
// over the bytes read. It holds the value (never more than the limit: an
// oversized body is refused as soon as it passes it) because the binding
// stores what a stream gave it when the stream fails midway: in workerd, a
// put of the request body whose client hung up stored the truncated value.
// A body that fails or ends before its Content-Length is refused here,
// before KV is asked for anything.
async function readValue(request, length) {
  const chunks = [];
  let n = 0;
  if (request.body !== null) {
    try {
      for await (const chunk of request.body) {
        n += chunk.byteLength;
        if (n > MAX_VALUE_BYTES) throw tooLarge(n);
        chunks.push(chunk);
      }
    } catch (e) {
      if (e instanceof KVError) throw e;
      throw bad("invalid_request", `the upload failed after ${n} bytes (${e?.message ?? e}): nothing was stored`);
    }
  }
  if (length !== null && n !== length) {
    throw bad("invalid_request", `the upload ended after ${n} of ${length} bytes: nothing was stored`);
  }
  if (chunks.length <= 1) return chunks[0] ?? "";
  return new ReadableStream({
    pull(controller) {
      if (chunks.length === 0) controller.close();
      else controller.enqueue(chunks.shift());
    },
  });
}

async function deleteValue(kv, q) {
  const key = requireKey(q);
  await kv.delete(key);
  return new Response(null, { status: 204 });
}

// ---- list

async function list(kv, q) {
  const opts = {};
  if (q.has("prefix") && q.get("prefix") !== "") {
    const prefix = q.get("prefix");
    if (/[\uD800-\uDFFF]/u.test(prefix)) throw bad("invalid_key", "prefix is not valid UTF-8");
    const n = utf8(prefix);
    if (n > MAX_KEY_BYTES) throw bad("invalid_key", `prefix is ${n} bytes, limit is ${MAX_KEY_BYTES}`);
    opts.prefix = prefix;
  }
  if (q.has("limit")) {
    const raw = q.get("limit");
    const limit = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : NaN;
    if (!(limit >= 0 && limit <= MAX_LIST_LIMIT)) {
      throw bad("invalid_limit", `limit ${JSON.stringify(raw)} must be 0 to ${MAX_LIST_LIMIT}`);
    }
    if (limit > 0) opts.limit = limit;
  }
  const cursor = q.get("cursor");
  if (cursor && cursor.startsWith(CURSOR_TAG) && cursor.length > CURSOR_TAG.length) {
    opts.cursor = cursor.slice(CURSOR_TAG.length);
  }
  const page = await kv.list(opts);
  const out = {
    keys: page.keys.map((k) => {
      const e = { name: k.name };
      if (k.expiration) e.expiration = k.expiration;
      if (k.metadata !== undefined && k.metadata !== null) e.metadata = k.metadata;
      return e;
    }),
    complete: page.list_complete,
  };
  if (!page.list_complete && page.cursor) out.cursor = CURSOR_TAG + page.cursor;
  return Response.json(out);
}

// ---- bulk

async function readJSON(request) {
  const length = request.headers.get("Content-Length");
  if (length !== null && Number(length) > MAX_JSON_BODY) {
    throw new KVError(413, "request_too_large", `body is ${length} bytes, limit is ${MAX_JSON_BODY}`);
  }
  const chunks = [];
  let n = 0;
  if (request.body !== null) {
    for await (const chunk of request.body) {
      n += chunk.byteLength;
      if (n > MAX_JSON_BODY) {
        throw new KVError(413, "request_too_large", `body is over ${MAX_JSON_BODY} bytes`);
      }
      chunks.push(chunk);
    }
  }
  const buf = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf));
  } catch {
    throw bad("invalid_request", "body is not UTF-8 JSON");
  }
}

function batch(items, max, what) {
  if (!Array.isArray(items)) throw bad("invalid_request", `${what} must be an array`);
  if (items.length < 1 || items.length > max) {
    throw bad("invalid_batch", `${items.length} ${what}, must be 1 to ${max}`);
  }
  return items;
}

function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(s) {
  let bin;
  try {
    bin = atob(s);
  } catch {
    throw bad("invalid_request", "value is not valid base64");
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// bulkGet reads up to 100 keys with one binding call. The binding's bulk
// read is text only: a value that is not UTF-8 would come back with U+FFFD
// in place of its bad bytes, so any value containing U+FFFD is read again
// as bytes and sent base64-encoded.
async function bulkGet(kv, body) {
  if (body === null || typeof body !== "object") throw bad("invalid_request", "body must be a JSON object");
  const keys = [...new Set(batch(body.keys, MAX_BULK_GET, "keys").map(validateKey))];
  const withMeta = body.metadata === true;
  const opts = { type: "text" };
  const cacheTtl = cacheTtlOf(body.cacheTtl);
  if (cacheTtl !== undefined) opts.cacheTtl = cacheTtl;
  const got = withMeta ? await kv.getWithMetadata(keys, opts) : await kv.get(keys, opts);
  const entries = await Promise.all(keys.map(async (key) => {
    const r = got.get(key);
    if (r === null || r === undefined) return null;
    const e = { key };
    let value = withMeta ? r.value : r;
    if (value === null) return null;
    let meta = withMeta ? r.metadata : null;
    const exp = withMeta ? expirationOf(kv, key) : undefined;
    if (value.includes("\uFFFD")) {
      const again = await kv.getWithMetadata(key, { ...opts, type: "arrayBuffer" });
      if (again.value === null) return null; // deleted in between
      e.base64 = true;
      value = toBase64(new Uint8Array(again.value));
      meta = again.metadata;
    }
    e.value = value;
    if (withMeta && meta !== null && meta !== undefined) e.metadata = meta;
    if (withMeta) {
      const x = await exp;
      if (x) e.expiration = x;
    }
    return e;
  }));
  return Response.json({ entries: entries.filter((e) => e !== null) });
}

// each runs fn over items, BULK_CONCURRENCY at a time, and returns the
// failures as {key, code, message}.
async function each(items, keyOf, fn) {
  const failed = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        const err = e instanceof KVError ? e : fromBinding(e);
        failed.push({ key: keyOf(item), code: err.code, message: err.message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, items.length) }, worker));
  return failed;
}

// bulkPut validates every pair, then writes them one by one: the binding
// has no bulk write. One invalid pair rejects the call before any write.
async function bulkPut(kv, body) {
  const pairs = batch(body, MAX_BULK_WRITE, "pairs").map((p, i) => {
    if (p === null || typeof p !== "object") throw bad("invalid_request", `pair ${i} is not an object`);
    const key = validateKey(p.key);
    if (typeof p.value !== "string") throw bad("invalid_request", `pair ${i} (${JSON.stringify(key)}): value must be a string`);
    const value = p.base64 === true ? fromBase64(p.value) : p.value;
    const n = typeof value === "string" ? utf8(value) : value.byteLength;
    if (n > MAX_VALUE_BYTES) throw tooLarge(n);
    const opts = putOptions(p.expirationTtl, p.expiration, p.metadata, false);
    return { key, value, opts };
  });
  const failed = await each(pairs, (p) => p.key, (p) => kv.put(p.key, p.value, p.opts));
  return Response.json({ failed });
}

async function bulkDelete(kv, body) {
  const keys = batch(body, MAX_BULK_WRITE, "keys").map(validateKey);
  const failed = await each(keys, (k) => k, (k) => kv.delete(k));
  return Response.json({ failed });
}

// ---- errors

function errorResponse(err, extra = {}) {
  const headers = { ...extra };
  if (err.status === 429) headers["Retry-After"] = "1";
  return Response.json({ code: err.code, message: err.message }, { status: err.status, headers });
}

// fromBinding maps an error thrown by the KV binding to the Worker's codes,
// keeping the binding's message. The binding reports failures as
// "KV <OP> failed: <status> <text>" (TypeError for keys it refuses itself).
function fromBinding(e) {
  const msg = String(e?.message ?? e);
  const status = Number(/failed: (\d{3})/.exec(msg)?.[1] ?? 0);
  const is = (re) => re.test(msg);
  if (e instanceof TypeError && is(/key/i)) return bad("invalid_key", msg);
  if (status === 429 || is(/too many requests/i)) return new KVError(429, "rate_limited", msg);
  if (is(/cache_ttl|cacheTtl/)) return bad("invalid_ttl", msg);
  if (is(/expiration_ttl|expirationTtl/)) return bad("invalid_ttl", msg);
  if (is(/expiration/i)) return bad("invalid_expiration", msg);
  if (is(/metadata/i)) return status === 413 ? new KVError(413, "metadata_too_large", msg) : bad("invalid_metadata", msg);
  if (status === 413) return new KVError(413, "value_too_large", msg);
  if (is(/key_count_limit|limit/i) && status === 400) return bad("invalid_limit", msg);
  if (is(/maximum of \d+ keys|minimum of \d+ key/i)) return bad("invalid_batch", msg);
  if (status === 414 || (status === 400 && is(/key/i))) return bad("invalid_key", msg);
  if (status >= 400 && status < 500) return new KVError(400, "kv_error", msg);
  return new KVError(503, "unavailable", msg);
}
