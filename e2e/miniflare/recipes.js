// Test harness only: the TypeScript recipes of the @workkit/kv patterns,
// written in plain JavaScript the way those recipes write them, running as a
// second Worker bound to the same KV namespace as kvkit's Worker. The Go
// interop tests (kv/worker, -tags e2e) drive them over HTTP and check that
// Go and this code read each other's values, metadata and expirations, and
// decide every flag the same way.
//
// POST / with {"op": ..., ...} returns the recipe's result as JSON.

// ---- sessions: a JSON record with createdAt / expiresAt (ms since the
// epoch, like Date.now()), under "session:" + SHA-256 of the token
// (unpadded URL-safe base64), so that whoever lists the namespace learns no
// usable token.

const SESSION_PREFIX = "session:";

async function sessionKey(token) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  let bin = "";
  for (const b of digest) bin += String.fromCharCode(b);
  return SESSION_PREFIX + btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export async function createSession(kv, token, data, ttlSeconds) {
  const now = Date.now();
  const record = { data, createdAt: now, expiresAt: now + ttlSeconds * 1000 };
  await kv.put(await sessionKey(token), JSON.stringify(record), { expirationTtl: ttlSeconds });
  return record;
}

export async function getSession(kv, token) {
  const record = await kv.get(await sessionKey(token), { type: "json" });
  if (record === null || Date.now() >= record.expiresAt) return null;
  return record;
}

// ---- feature flags: {enabled, rolloutPercent, allowlist} under "flag:" +
// name; a user is in the rollout when the first 4 bytes of
// SHA-256(flag + ":" + userId), big-endian, / 0xffffffff * 100 is below
// rolloutPercent; the allowlist wins over the rollout.

const FLAG_PREFIX = "flag:";

export async function setFlag(kv, name, flag) {
  await kv.put(FLAG_PREFIX + name, JSON.stringify(flag));
}

export async function loadFlag(kv, name) {
  return kv.get(FLAG_PREFIX + name, { type: "json", cacheTtl: 30 });
}

export async function bucket(flag, userId) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(flag + ":" + userId));
  return new DataView(digest).getUint32(0) / 0xffffffff * 100;
}

export async function evaluate(def, flag, userId) {
  if (!def || !def.enabled) return false;
  if (Array.isArray(def.allowlist) && def.allowlist.includes(userId)) return true;
  return (await bucket(flag, userId)) < def.rolloutPercent;
}

export async function isEnabled(kv, flag, userId) {
  return evaluate(await loadFlag(kv, flag), flag, userId);
}

// ---- counters: decimal text under "count:" + name; read, add, write.

const COUNTER_PREFIX = "count:";

export async function increment(kv, name, delta = 1) {
  const key = COUNTER_PREFIX + name;
  const current = parseInt((await kv.get(key)) ?? "0", 10) || 0;
  const next = current + delta;
  await kv.put(key, String(next));
  return next;
}

export async function getCount(kv, name) {
  return parseInt((await kv.get(COUNTER_PREFIX + name)) ?? "0", 10) || 0;
}

// ---- a cached API response: JSON with an expiration TTL; a hit is served
// without calling the origin.

export async function cached(kv, key, ttlSeconds, fetcher) {
  const hit = await kv.get(key, { type: "json" });
  if (hit !== null) return { value: hit, hit: true };
  const value = await fetcher();
  await kv.put(key, JSON.stringify(value), { expirationTtl: ttlSeconds });
  return { value, hit: false };
}

// ---- metadata on a put, and reading it back with the key's expiration
// (which only the key's list entry carries).

export async function putWithMetadata(kv, key, value, metadata, ttlSeconds) {
  await kv.put(key, value, { metadata, expirationTtl: ttlSeconds });
}

export async function getWithMetadata(kv, key) {
  const [res, page] = await Promise.all([
    kv.getWithMetadata(key, { type: "text" }),
    kv.list({ prefix: key, limit: 1 }),
  ]);
  if (res.value === null) return null;
  const entry = page.keys.find((k) => k.name === key);
  return { value: res.value, metadata: res.metadata, expiration: entry?.expiration ?? null };
}

// ---- the harness

const origin = { calls: 0 };

const ops = {
  "session.create": (kv, a) => createSession(kv, a.token, a.data, a.ttl),
  "session.get": (kv, a) => getSession(kv, a.token),
  "flag.set": (kv, a) => setFlag(kv, a.name, a.flag).then(() => null),
  // Every flag is loaded once and decided for every user: one KV read per
  // flag, as a Worker deciding many users would do it (a read per decision
  // would pass Workers' 1,000 operations per invocation).
  "flag.decide": async (kv, a) => {
    const defs = await Promise.all(a.flags.map((f) => loadFlag(kv, f)));
    const out = {};
    for (const [i, f] of a.flags.entries()) {
      out[f] = [];
      for (const u of a.users) out[f].push(await evaluate(defs[i], f, u));
    }
    return out;
  },
  "flag.isEnabled": (kv, a) => isEnabled(kv, a.flag, a.user),
  "counter.increment": (kv, a) => increment(kv, a.name, a.delta ?? 1),
  "counter.get": (kv, a) => getCount(kv, a.name),
  "cache.get": (kv, a) => cached(kv, a.key, a.ttl, async () => {
    origin.calls++;
    return a.response;
  }),
  "cache.originCalls": () => origin.calls,
  "meta.put": (kv, a) => putWithMetadata(kv, a.key, a.value, a.metadata, a.ttl).then(() => null),
  "meta.get": (kv, a) => getWithMetadata(kv, a.key),
  "raw.get": (kv, a) => kv.get(a.key, { type: "text" }),
  "raw.list": (kv, a) => kv.list({ prefix: a.prefix }),
};

export default {
  async fetch(request, env) {
    let body;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: "body must be JSON" }, { status: 400 });
    }
    const op = ops[body.op];
    if (!op) return Response.json({ error: "unknown op " + body.op }, { status: 404 });
    try {
      return Response.json({ result: (await op(env.KV, body)) ?? null });
    } catch (e) {
      return Response.json({ error: String(e?.message ?? e) }, { status: 500 });
    }
  },
};
