// npm run stats: the longest functions in src/ and the count of type casts (`x as T`, not
// `as const`), to keep the orchestrators readable. `--top N` lists N functions (default 15).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import ts from "typescript";

const { values } = parseArgs({
  options: { top: { type: "string", default: "15" }, json: { type: "boolean" } },
});
const root = join(import.meta.dirname, "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

interface Fn {
  file: string;
  name: string;
  lines: number;
}

const fns: Fn[] = [];
let casts = 0;
const castsByFile = new Map<string, number>();

for (const file of files(root)) {
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const rel = relative(join(root, ".."), file);
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line;
  const nameOf = (node: ts.Node): string => {
    const n = (node as { name?: ts.Node }).name;
    if (n !== undefined && (ts.isIdentifier(n) || ts.isPrivateIdentifier(n) || ts.isStringLiteral(n)))
      return n.text;
    if (ts.isConstructorDeclaration(node)) return "constructor";
    const p = node.parent;
    if (p !== undefined && ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return p.name.text;
    if (p !== undefined && ts.isPropertyAssignment(p) && ts.isIdentifier(p.name)) return p.name.text;
    return "(anonymous)";
  };
  const visit = (node: ts.Node, owner: string | undefined) => {
    let nextOwner = owner;
    if (ts.isClassDeclaration(node) && node.name) nextOwner = node.name.text;
    if (
      (ts.isFunctionDeclaration(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isConstructorDeclaration(node) ||
        ts.isGetAccessor(node) ||
        ts.isArrowFunction(node) ||
        ts.isFunctionExpression(node)) &&
      node.body !== undefined
    ) {
      const lines = lineOf(node.body.getEnd()) - lineOf(node.body.getStart(sf)) + 1;
      const name = nameOf(node);
      fns.push({ file: rel, name: owner && !ts.isArrowFunction(node) ? `${owner}.${name}` : name, lines });
    }
    if (
      (ts.isAsExpression(node) &&
        !(ts.isTypeReferenceNode(node.type) && node.type.typeName.getText(sf) === "const")) ||
      ts.isTypeAssertionExpression(node)
    ) {
      casts++;
      castsByFile.set(rel, (castsByFile.get(rel) ?? 0) + 1);
    }
    ts.forEachChild(node, (c) => visit(c, nextOwner));
  };
  visit(sf, undefined);
}

fns.sort((a, b) => b.lines - a.lines);
const top = fns.slice(0, Number(values.top));
const sorted = [...fns].map((f) => f.lines).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
const over100 = fns.filter((f) => f.lines > 100).length;
if (values.json) {
  console.log(JSON.stringify({ functions: fns.length, median, over100, casts, top }, null, 2));
} else {
  console.log(
    `functions: ${fns.length}, median ${median} lines, over 100 lines: ${over100}, casts: ${casts}`,
  );
  for (const f of top) console.log(`${String(f.lines).padStart(5)}  ${f.file}  ${f.name}`);
  console.log("casts by file:");
  for (const [f, n] of [...castsByFile].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`${String(n).padStart(5)}  ${f}`);
}
