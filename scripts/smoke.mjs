// Imports every built entry as ESM and requires it as CJS, and checks that an error made by
// one copy passes the other copy's guards (the brand works across module systems).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const entries = Object.keys(pkg.exports).filter((k) => k !== "./package.json");
const name = pkg.name;

let checked = 0;
for (const entry of entries) {
  const spec = entry === "." ? name : `${name}/${entry.slice(2)}`;
  const esm = await import(spec);
  const cjs = require(spec);
  assert.ok(Object.keys(esm).length > 0, `${spec}: ESM entry exports nothing`);
  assert.deepEqual(
    Object.keys(esm).sort(),
    Object.keys(cjs).sort(),
    `${spec}: ESM and CJS export different names`,
  );
  checked++;
}

const esm = await import(name);
const cjs = require(name);
const fromEsm = new esm.BrokerError("ambiguous", "lost reply");
const fromCjs = new cjs.ValidationError("bad", { issues: [] });
assert.equal(cjs.isOrdersafeError(fromEsm), true, "CJS guard refuses an ESM error");
assert.equal(cjs.isBrokerError(fromEsm, "ambiguous"), true, "CJS broker guard refuses an ESM broker error");
assert.equal(esm.isOrdersafeError(fromCjs), true, "ESM guard refuses a CJS error");
assert.equal(esm.isBrokerError(fromCjs), false, "a validation error passed the broker guard");
assert.equal(esm.toDecimal("1.5").plus(cjs.toDecimal("1.5")).toString(), "3");
console.log(`smoke: ${checked} entries imported and required; errors recognised across ESM and CJS`);
