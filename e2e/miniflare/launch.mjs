// Test harness only: starts workerd through Miniflare with
//
//   - kvkit's Worker (worker/src/index.js) bound to the namespace "shared",
//   - the TypeScript recipes (recipes.js) bound to the same namespace,
//   - kvkit's Worker again over N more namespaces (namespaces.js), one per
//     conformance case,
//   - kvkit's Worker over a binding that fails on demand (faults.js),
//
// and a small control server that sets the clock of a namespace's KV
// simulator (Miniflare's fake timers), so Go tests can move KV's time.
//
// Usage: node launch.mjs '{"secret": "...", "secretNext": "...", "namespaces": 30}'
// It prints one JSON line with the URLs, then runs until stdin closes (the
// Go test holds the pipe; when the test process ends, so does this one).

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare, _enableControlEndpoints } from "miniflare";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const config = JSON.parse(process.argv[2] ?? "{}");
const count = config.namespaces ?? 0;

// The Worker runs with the compatibility date it is deployed with.
const toml = fs.readFileSync(path.join(root, "worker/wrangler.toml"), "utf8");
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
if (!compatibilityDate) throw new Error("worker/wrangler.toml has no compatibility_date");

const secrets = { KVKIT_SECRET: config.secret ?? "" };
if (config.secretNext) secrets.KVKIT_SECRET_NEXT = config.secretNext;

const conformanceKV = {};
for (let i = 0; i < count; i++) conformanceKV["KV_" + i] = "conformance-" + i;

// Control ops (fake timers) are how Miniflare's own tests move a
// simulator's clock; they must be enabled before Miniflare starts.
_enableControlEndpoints();

const socket = [{ host: "127.0.0.1", port: 0 }];
// As wrangler does for a modules Worker: .js files are ES modules.
const modulesRules = [{ type: "ESModule", include: ["**/*.js"] }];
const mf = new Miniflare({
  workers: [
    {
      name: "kvkit",
      modules: true,
      modulesRules,
      modulesRoot: root,
      scriptPath: path.join(root, "worker/src/index.js"),
      compatibilityDate,
      kvNamespaces: { KV: "shared" },
      bindings: secrets,
      unsafeDirectSockets: socket,
    },
    {
      name: "recipes",
      modules: true,
      modulesRules,
      modulesRoot: root,
      scriptPath: path.join(here, "recipes.js"),
      compatibilityDate,
      kvNamespaces: { KV: "shared" },
      unsafeDirectSockets: socket,
    },
    {
      name: "conformance",
      modules: true,
      modulesRules,
      modulesRoot: root,
      scriptPath: path.join(here, "namespaces.js"),
      compatibilityDate,
      kvNamespaces: conformanceKV,
      bindings: secrets,
      unsafeDirectSockets: socket,
    },
    {
      name: "faults",
      modules: true,
      modulesRules,
      modulesRoot: root,
      scriptPath: path.join(here, "faults.js"),
      compatibilityDate,
      kvNamespaces: { KV: "faults" },
      bindings: secrets,
      unsafeDirectSockets: socket,
    },
  ],
});

async function clock(namespace, ms) {
  const objects = await mf._getInternalDurableObjectNamespace("kv", "kv:ns", "KVNamespaceObject");
  const stub = objects.get(objects.idFromName(namespace));
  const res = await stub.fetch("http://control/", {
    cf: { miniflare: { controlOp: { name: "enableFakeTimers", args: [ms] } } },
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`enableFakeTimers: HTTP ${res.status}`);
}

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://control");
  try {
    if (req.method !== "POST" || url.pathname !== "/clock") throw new Error("POST /clock?namespace=&ms=");
    const ms = Number(url.searchParams.get("ms"));
    if (!Number.isFinite(ms)) throw new Error("ms must be a number");
    await clock(url.searchParams.get("namespace"), ms);
    res.writeHead(204).end();
  } catch (e) {
    res.writeHead(400, { "Content-Type": "text/plain" }).end(String(e?.message ?? e));
  }
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  control.close();
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.stdin.on("end", () => stop(0));
process.stdin.on("close", () => stop(0));
process.stdin.resume();
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));

try {
  await mf.ready;
  await new Promise((resolve) => control.listen(0, "127.0.0.1", resolve));
  const out = {
    kvkit: (await mf.unsafeGetDirectURL("kvkit")).href.replace(/\/$/, ""),
    recipes: (await mf.unsafeGetDirectURL("recipes")).href.replace(/\/$/, ""),
    conformance: (await mf.unsafeGetDirectURL("conformance")).href.replace(/\/$/, ""),
    faults: (await mf.unsafeGetDirectURL("faults")).href.replace(/\/$/, ""),
    control: `http://127.0.0.1:${control.address().port}`,
    namespaces: count,
    conformancePrefix: "conformance-",
  };
  process.stdout.write(JSON.stringify(out) + "\n");
} catch (e) {
  process.stderr.write("launch: " + (e?.stack ?? e) + "\n");
  await stop(1);
}
