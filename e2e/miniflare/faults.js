// Test harness only: kvkit's Worker (worker/src/index.js) over a KV binding
// that fails the way the real binding does, for what Miniflare does not
// simulate (the 429 of a second write to a key within a second, a KV
// outage) and for a Worker deployed without its binding.
//
// /fault/<kind>/<key>/v1/... runs the Worker with every binding call
// failing with <kind> ("none" for no failure), or only the calls about
// <key> ("*" for every call); /fault/no-binding/*/v1/... runs it with no
// KV binding at all.
import worker from "../../worker/src/index.js";

// The binding's own messages: "KV <OP> failed: <status> <text>".
const failures = {
  "rate-limited": (op) => new Error(`KV ${op} failed: 429 Too Many Requests`),
  unavailable: (op) => new Error(`KV ${op} failed: 503 Service Unavailable`),
};

const ops = { get: "GET", getWithMetadata: "GET", put: "PUT", delete: "DELETE", list: "GET" };

function failing(kv, kind, key) {
  const fail = failures[kind];
  const out = {};
  for (const [name, op] of Object.entries(ops)) {
    out[name] = async (...args) => {
      const about = typeof args[0] === "string" ? args[0] : null;
      if (fail && (key === "*" || about === key)) throw fail(Array.isArray(args[0]) ? "GET_BULK" : op);
      return kv[name](...args);
    };
  }
  return out;
}

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    const m = /^\/fault\/([a-z-]+)\/([^/]+)(\/.*)$/.exec(url.pathname);
    if (!m) return Response.json({ code: "not_found", message: "no fault route" }, { status: 404 });
    const [, kind, rawKey, rest] = m;
    url.pathname = rest;
    const e = { ...env };
    if (kind === "no-binding") delete e.KV;
    else e.KV = failing(env.KV, kind, decodeURIComponent(rawKey));
    return worker.fetch(new Request(url, request), e, ctx);
  },
};
