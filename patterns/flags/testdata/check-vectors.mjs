// Recomputes every vector of rollout-vectors.json with the TypeScript
// recipe's arithmetic, in JavaScript, through WebCrypto (crypto.subtle, as a
// Worker computes it): sha256(flag + ":" + userId), bytes 0..3 as a
// big-endian uint32, / 0xffffffff * 100, enabled when < rolloutPercent.
// Exits 1 on the first mismatch. Run by TestVectorsAgainstWebCrypto
// (go test -tags e2e ./patterns/flags/), which needs Node.
import { readFileSync } from "node:fs";

const file = JSON.parse(readFileSync(new URL("./rollout-vectors.json", import.meta.url)));
let checked = 0;
for (const v of file.vectors) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${v.flag}:${v.userId}`));
  const n = new DataView(digest).getUint32(0, false);
  const bucket = (n / 0xffffffff) * 100;
  const enabled = bucket < v.rolloutPercent;
  if (!Object.is(bucket, v.bucket) || enabled !== v.enabled) {
    console.error(`mismatch for ${JSON.stringify(v)}: bucket ${bucket}, enabled ${enabled}`);
    process.exit(1);
  }
  checked++;
}
console.log(`${checked} vectors match`);
