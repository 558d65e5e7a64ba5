// typesVersions from package.json's exports, so `moduleResolution: node10` (which ignores
// exports) finds the types of every subpath entry (`ordersafe/alpaca`, `ordersafe/testing`, …).
// Each subpath maps to its CommonJS declarations (node10 resolves as require() does).
//
//   node scripts/types-versions.mjs          writes package.json's typesVersions
//   node scripts/types-versions.mjs --check  fails when it differs from what would be written

import { readFileSync, writeFileSync } from "node:fs";

const url = new URL("../package.json", import.meta.url);
const text = readFileSync(url, "utf8");
const pkg = JSON.parse(text);

/** The typesVersions that package.json's exports imply. */
export function typesVersionsFor(exports) {
  const map = {};
  for (const [key, target] of Object.entries(exports)) {
    if (key === "." || typeof target !== "object" || target === null) continue;
    const types = target.require?.types ?? target.types ?? target.import?.types;
    if (typeof types !== "string") throw new Error(`exports["${key}"] has no types condition`);
    map[key.replace(/^\.\//, "")] = [types];
  }
  return { "*": map };
}

const wanted = typesVersionsFor(pkg.exports);
if (process.argv.includes("--check")) {
  if (JSON.stringify(pkg.typesVersions) !== JSON.stringify(wanted)) {
    console.error("package.json typesVersions does not match exports; run `node scripts/types-versions.mjs`");
    console.error(`wanted: ${JSON.stringify(wanted)}\nfound:  ${JSON.stringify(pkg.typesVersions)}`);
    process.exit(1);
  }
  console.log(`typesVersions: ${Object.keys(wanted["*"]).length} subpaths match exports`);
} else {
  // Insert after "types", keep every other key where it is.
  const out = {};
  for (const [k, v] of Object.entries(pkg)) {
    if (k === "typesVersions") continue;
    out[k] = v;
    if (k === "types") out.typesVersions = wanted;
  }
  if (!("typesVersions" in out)) out.typesVersions = wanted;
  writeFileSync(url, `${JSON.stringify(out, null, 2)}\n`);
  console.log("package.json typesVersions written from exports");
}
