// The CommonJS side of the smoke test: every entry loads with require() alone.
const assert = require("node:assert/strict");
const pkg = require("../package.json");

for (const entry of Object.keys(pkg.exports)) {
  if (entry === "./package.json") continue;
  const spec = entry === "." ? pkg.name : `${pkg.name}/${entry.slice(2)}`;
  const mod = require(spec);
  assert.ok(Object.keys(mod).length > 0, `${spec}: CJS entry exports nothing`);
}
console.log("smoke (cjs): every entry loads with require()");
