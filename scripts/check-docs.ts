// npm run docs:check — every ```ts block of README.md and docs/*.md, and every example, checked
// against the BUILT package (run `npm run build` first), the way a bot author would meet them:
//
//   1. each block is written to .doc-check/blocks/ (inside this package, so `ordersafe`,
//      `ordersafe/alpaca` and `ordersafe/testing` resolve through the package's own exports to
//      dist/), and tsc type-checks the blocks and examples/ together under strict settings with
//      exactOptionalPropertyTypes on;
//   2. blocks marked ```ts run, and the examples listed in RUNS, are run (offline: simulated
//      broker or fake Alpaca server) with tsx, or node for .cjs.
//
// Info string: ```ts (type-checked), ```ts run (type-checked and run), ```ts fragment (a
// fragment by design: neither). Every failure is printed as file:line of the block.
//
// Usage: tsx scripts/check-docs.ts [--no-run]

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, ".doc-check");
const BLOCKS = join(OUT, "blocks");
const RUN_TIMEOUT_MS = 120_000;

interface ExampleRun {
  /** Path under examples/. */
  file: string;
  args: readonly string[];
  /** Send this signal once the output contains `after`; the run must still exit 0. */
  signal?: { name: NodeJS.Signals; after: string };
  /** Text the output must contain. */
  expect?: string;
  /** Text the output must not contain. */
  forbid?: string;
}

/** Examples run by the check. */
const RUNS: readonly ExampleRun[] = [
  // The old way's refusals come from the broker, not from ordersafe: no [ordersafe] prefix.
  { file: "demo.ts", args: [], expect: "less turnover than the old way", forbid: "[ordersafe]" },
  { file: "dry-run.ts", args: [] },
  { file: "weights-rebalance.ts", args: [] },
  { file: "reconciliation.ts", args: [] },
  { file: "commonjs.cjs", args: [], expect: "status: completed" },
  { file: "long-running-bot.ts", args: ["--cycles", "3", "--interval-ms", "50"], expect: "stopped cleanly" },
  {
    file: "long-running-bot.ts",
    args: ["--interval-ms", "50"],
    signal: { name: "SIGTERM", after: "cycle 1:" },
    expect: "stopped cleanly",
  },
];

export const BLOCK_MARKERS = ["check", "run", "fragment"] as const;
export type BlockMarker = (typeof BLOCK_MARKERS)[number];

export interface DocBlock {
  /** The markdown file, relative to the package root. */
  source: string;
  /** 1-based line of the block's first code line in `source`. */
  line: number;
  marker: BlockMarker;
  code: string;
  /** The file the block is written to, relative to the package root. */
  file: string;
}

/** The ```ts blocks of one markdown text, with their markers. */
export function extractBlocks(source: string, text: string): DocBlock[] {
  const lines = text.split("\n");
  const blocks: DocBlock[] = [];
  let open: { start: number; marker: BlockMarker; body: string[] } | null = null;
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? "";
    if (open !== null) {
      if (/^```\s*$/.test(l)) {
        const slug = source.replace(/[^A-Za-z0-9]+/g, "_");
        blocks.push({
          source,
          line: open.start,
          marker: open.marker,
          code: `${open.body.join("\n")}\n`,
          file: join(".doc-check", "blocks", `${slug}_L${open.start}.ts`),
        });
        open = null;
      } else open.body.push(l);
      continue;
    }
    if (fenced) {
      if (/^```\s*$/.test(l)) fenced = false;
      continue;
    }
    const m = /^```(\S*)\s*(.*)$/.exec(l);
    if (m === null) continue;
    const lang = m[1] ?? "";
    if (lang === "ts" || lang === "typescript") {
      const words = (m[2] ?? "").split(/\s+/).filter((w) => w !== "");
      const marker: BlockMarker = words.includes("fragment")
        ? "fragment"
        : words.includes("run")
          ? "run"
          : "check";
      open = { start: i + 2, marker, body: [] };
    } else fenced = true;
  }
  if (open !== null) throw new Error(`${source}:${open.start - 1}: unterminated code block`);
  return blocks;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    allowJs: true,
    checkJs: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["blocks/**/*", "../examples/**/*"],
};

function writeProject(blocks: readonly DocBlock[]): void {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(BLOCKS, { recursive: true });
  writeFileSync(join(OUT, "tsconfig.json"), `${JSON.stringify(TSCONFIG, null, 2)}\n`);
  // Every block is a module of its own (top-level await, no shared names).
  for (const b of blocks.filter((x) => x.marker !== "fragment"))
    writeFileSync(join(ROOT, b.file), `${b.code}export {};\n`);
}

/** tsc's `file(line,col): error …` mapped back to the markdown line it came from. */
function mapLocation(blocks: readonly DocBlock[], text: string): string {
  return text.replace(
    /(?:\S*[\\/])?(\.doc-check[\\/]blocks[\\/][^\s(:]+\.ts)[(:](\d+)[,:](\d+)\)?/g,
    (all, f: string, ln: string) => {
      const b = blocks.find((x) => resolve(ROOT, x.file) === resolve(ROOT, f));
      return b === undefined ? all : `${b.source}:${b.line + Number(ln) - 1}`;
    },
  );
}

function typecheck(blocks: readonly DocBlock[]): boolean {
  const tsc = join(ROOT, "node_modules", ".bin", "tsc");
  const r = spawnSync(tsc, ["-p", join(OUT, "tsconfig.json"), "--pretty", "false"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status === 0) return true;
  const out = `${r.stdout}${r.stderr}`.trim();
  for (const line of out.split("\n")) console.error(mapLocation(blocks, line));
  return false;
}

interface Job {
  label: string;
  command: string;
  args: string[];
  signal?: ExampleRun["signal"];
  expect?: string;
  forbid?: string;
}

/** Runs one job; true when it exits 0 (and prints what it must). */
function runJob(job: Job, blocks: readonly DocBlock[]): Promise<boolean> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(job.command, job.args, { cwd: ROOT, env: { ...process.env, NODE_ENV: "test" } });
    let out = "";
    let signalled = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8");
      if (job.signal !== undefined && !signalled && out.includes(job.signal.after)) {
        signalled = true;
        child.kill(job.signal.name);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      const problems: string[] = [];
      if (code !== 0) problems.push(`exit ${code ?? signal}`);
      if (job.signal !== undefined && !signalled) problems.push(`never printed "${job.signal.after}"`);
      if (job.expect !== undefined && !out.includes(job.expect))
        problems.push(`no "${job.expect}" in the output`);
      if (job.forbid !== undefined && out.includes(job.forbid))
        problems.push(`"${job.forbid}" in the output`);
      if (problems.length === 0) {
        console.log(`  ran ${job.label} (${ms} ms)`);
        return done(true);
      }
      console.error(`${job.label}: failed (${problems.join("; ")})`);
      console.error(mapLocation(blocks, out.trim()));
      done(false);
    });
  });
}

function jobs(blocks: readonly DocBlock[]): Job[] {
  const tsxBin = join(ROOT, "node_modules", ".bin", "tsx");
  // tsx resolves `ordersafe` by the package's exports (dist), not the repository's paths.
  const tsx = (file: string, args: readonly string[]): Job => ({
    label: [file, ...args].join(" "),
    command: tsxBin,
    args: ["--tsconfig", join(OUT, "tsconfig.json"), file, ...args],
  });
  const fromBlocks = blocks
    .filter((b) => b.marker === "run")
    .map((b) => ({ ...tsx(b.file, []), label: `${b.source}:${b.line}` }));
  const fromExamples = RUNS.map((e): Job => {
    const file = join("examples", e.file);
    if (!existsSync(join(ROOT, file))) throw new Error(`${file}: listed in RUNS but missing`);
    const job = e.file.endsWith(".cjs")
      ? { label: file, command: process.execPath, args: [file, ...e.args] }
      : tsx(file, e.args);
    if (e.signal !== undefined) job.label += ` (${e.signal.name} after "${e.signal.after}")`;
    return {
      ...job,
      ...(e.signal === undefined ? {} : { signal: e.signal }),
      ...(e.expect === undefined ? {} : { expect: e.expect }),
      ...(e.forbid === undefined ? {} : { forbid: e.forbid }),
    };
  });
  return [...fromBlocks, ...fromExamples];
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist", "index.d.ts"))) {
    console.error("docs:check: dist/ is missing; run `npm run build` first");
    process.exitCode = 1;
    return;
  }
  const blocks = markdownFiles().flatMap((f) => extractBlocks(f, readFileSync(join(ROOT, f), "utf8")));
  writeProject(blocks);
  const count = (m: BlockMarker) => blocks.filter((b) => b.marker === m).length;
  console.log(
    `docs:check: ${blocks.length} blocks (${count("run")} run, ${count("check")} type-checked only, ${count("fragment")} fragments)`,
  );
  let ok = typecheck(blocks);
  console.log(ok ? "  type-check: blocks and examples compile against dist" : "  type-check failed");
  if (!process.argv.includes("--no-run")) {
    for (const job of jobs(blocks)) ok = (await runJob(job, blocks)) && ok;
  }
  if (!ok) {
    process.exitCode = 1;
    return;
  }
  console.log(`docs:check: all passed (${relative(ROOT, OUT)}/ holds the extracted blocks)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
