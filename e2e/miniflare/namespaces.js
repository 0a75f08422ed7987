// Test harness only: kvkit's Worker (worker/src/index.js) over many KV
// namespaces at once, one per conformance case, so that cases running in
// parallel each get an empty namespace. A request to /ns/<i>/v1/... runs the
// Worker with env.KV = env.KV_<i>; nothing else differs.
import worker from "../../worker/src/index.js";

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    const m = /^\/ns\/(\d+)(\/.*)$/.exec(url.pathname);
    if (!m || !env["KV_" + m[1]]) {
      return Response.json({ code: "not_found", message: "no namespace " + url.pathname }, { status: 404 });
    }
    url.pathname = m[2];
    return worker.fetch(new Request(url, request), { ...env, KV: env["KV_" + m[1]] }, ctx);
  },
};
