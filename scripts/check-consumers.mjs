// Consumer projects: the packed tarball installed into fresh projects, compiled with the
// resolution settings bot authors use, and run where the output is JavaScript to run.
//
//   node10-cjs   moduleResolution node10 + module commonjs (finds subpaths by typesVersions)
//   node16-cjs   a CommonJS package ("type": "commonjs") with module node16
//   nodenext-esm an ES module package with module nodenext and exactOptionalPropertyTypes
//
// Usage: node scripts/check-consumers.mjs   (after npm run build)

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** Uses the package the way a bot does: all three entries, events, a rebalance on the simulated broker. */
const BOT = `
import {
  type Decimal,
  isOrdersafeError,
  REBALANCE_ADJUSTMENT_REASONS,
  type RebalanceAdjustmentReason,
  type RebalanceReport,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";

async function main(): Promise<void> {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({ clock, cash: 10_000, prices: { SPY: 500, BIL: 91.5 } });
  const rebalancer = new SmartRebalancer({ broker, clock });
  const finals: string[] = [];
  rebalancer.on("order:final", ({ outcome }) => finals.push(outcome.symbol));
  const report: RebalanceReport = await clock.run(rebalancer.rebalance({ weights: { SPY: 0.6, BIL: 0.4 } }));
  for (const leg of report.plan?.legs ?? []) {
    // A leg is a quantity leg or a notional leg: checking one narrows the other, no "!".
    const size: Decimal = leg.qty !== undefined ? leg.qty : leg.notional;
    if (size.lte(0)) throw new Error("a leg without a size");
  }
  const own: readonly RebalanceAdjustmentReason[] = REBALANCE_ADJUSTMENT_REASONS;
  const reasons: RebalanceAdjustmentReason[] = report.adjustments.map((a) => a.reason);
  if (reasons.some((r) => r === "halted") || !own.includes("shrunk")) throw new Error("unexpected reasons");
  if (report.status !== "completed" || finals.length !== 2) throw new Error(\`unexpected: \${report.status}\`);
  console.log("consumer ok:", report.status, finals.sort().join(","), isOrdersafeError(new Error("x")));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
`;

/** Compiled, not run (running it needs @alpacahq/alpaca-trade-api, an optional peer). */
const ALPACA = `
import { createAlpacaBroker } from "ordersafe/alpaca";

export function alpaca() {
  // Optional options accept undefined, also under exactOptionalPropertyTypes.
  return createAlpacaBroker({
    keyId: process.env.APCA_API_KEY_ID,
    secret: process.env.APCA_API_SECRET_KEY,
    paper: process.env.APCA_PAPER !== "false",
  });
}
`;

const BASE = {
  target: "ES2022",
  lib: ["ES2022"],
  strict: true,
  skipLibCheck: true,
  outDir: "out",
  types: ["node"],
  typeRoots: [join(ROOT, "node_modules", "@types")],
};

const CONSUMERS = [
  {
    name: "node10-cjs",
    type: "commonjs",
    compilerOptions: { module: "commonjs", moduleResolution: "node10", esModuleInterop: true },
    run: true,
  },
  {
    name: "node16-cjs",
    type: "commonjs",
    compilerOptions: { module: "node16", moduleResolution: "node16" },
    run: true,
  },
  {
    name: "nodenext-esm",
    type: "module",
    compilerOptions: { module: "nodenext", moduleResolution: "nodenext", exactOptionalPropertyTypes: true },
    run: true,
  },
];

function sh(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const work = mkdtempSync(join(tmpdir(), "ordersafe-consumers-"));
let failed = 0;
try {
  sh(npm, ["pack", "--silent", "--pack-destination", work], ROOT);
  const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
  if (tgz === undefined) throw new Error("npm pack made no tarball");
  for (const c of CONSUMERS) {
    const dir = join(work, c.name);
    mkdirSync(join(dir, "src"), { recursive: true });
    const pkg = {
      name: `consumer-${c.name}`,
      private: true,
      type: c.type,
      dependencies: { ordersafe: `file:../${tgz}` },
    };
    writeFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2));
    const tsconfig = { compilerOptions: { ...BASE, ...c.compilerOptions }, include: ["src"] };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    writeFileSync(join(dir, "src", "index.ts"), BOT);
    writeFileSync(join(dir, "src", "alpaca.ts"), ALPACA);
    try {
      sh(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], dir);
      sh(process.execPath, [TSC, "-p", "tsconfig.json"], dir);
      const out = c.run ? sh(process.execPath, [join("out", "index.js")], dir).trim() : "compiled";
      console.log(`consumer ${c.name}: ${out}`);
    } catch (e) {
      failed++;
      console.error(`consumer ${c.name}: FAILED\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failed > 0) process.exit(1);
