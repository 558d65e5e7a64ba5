import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// The layers of DESIGN.md, lowest first. A file may import its own layer or one below.
const RANK: Record<string, number> = {
  core: 0,
  broker: 1,
  journal: 2,
  account: 3,
  coordination: 3,
  rebalance: 4,
  orders: 4,
  funds: 4,
  reconcile: 4,
  execution: 5,
  alpaca: 6,
  testing: 6,
  redis: 6,
  format: 6,
  observability: 6,
  cli: 7,
};
const PURE_FILES = [
  "rebalance/",
  "orders/order-state-machine.ts",
  "orders/stream-health.ts",
  "funds/reservation-ledger.ts",
  "reconcile/detect-position-drift.ts",
  "account/execution-record.ts",
];

const root = join(__dirname, "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function imports(source: string): string[] {
  const out: string[] = [];
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const re = /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of code.matchAll(re)) out.push((m[1] ?? m[2]) as string);
  return out;
}

function layerOf(rel: string): string {
  return rel.includes("/") ? (rel.split("/")[0] as string) : "root";
}

const all = files(root).map((p) => {
  const rel = relative(root, p).replaceAll("\\", "/");
  return { rel, layer: layerOf(rel), imports: imports(readFileSync(p, "utf8")) };
});

function layerViolations(list: { rel: string; layer: string; imports: string[] }[]): string[] {
  const violations: string[] = [];
  for (const f of list) {
    if (f.layer === "root") continue;
    const rank = RANK[f.layer] ?? 99;
    for (const spec of f.imports) {
      if (!spec.startsWith(".")) continue;
      const target = join(f.rel, "..", spec).replaceAll("\\", "/");
      const tLayer = layerOf(target);
      if (tLayer === f.layer) continue;
      if (tLayer === "root") {
        if (f.layer !== "alpaca" && f.layer !== "testing")
          violations.push(`${f.rel} imports the barrel ${spec}`);
        continue;
      }
      const tRank = RANK[tLayer] ?? 99;
      // Siblings (orders, funds, …) stay apart; only the testing entry may use the alpaca one.
      const sibling = tRank === rank && !(f.layer === "testing" && tLayer === "alpaca");
      if (tRank > rank || sibling) violations.push(`${f.rel} (${f.layer}) imports ${spec} (${tLayer})`);
    }
  }
  return violations;
}

describe("architecture", () => {
  it("finds the source files", () => {
    expect(all.length).toBeGreaterThan(5);
  });

  it("imports point down the layers only", () => {
    expect(layerViolations(all)).toEqual([]);
  });

  it("the layer check catches upward and sideways imports", () => {
    const synthetic = [
      { rel: "core/decimal.ts", layer: "core", imports: ["../testing/virtual-clock.js"] },
      { rel: "broker/schemas.ts", layer: "broker", imports: ["../orders/order-tracker.js"] },
      {
        rel: "funds/ledger.ts",
        layer: "funds",
        imports: ["../orders/order-state-machine.js", "../core/decimal.js"],
      },
      { rel: "orders/x.ts", layer: "orders", imports: ["../index.js"] },
      { rel: "execution/y.ts", layer: "execution", imports: ["../funds/ledger.js", "../core/errors.js"] },
    ];
    expect(layerViolations(synthetic)).toEqual([
      "core/decimal.ts (core) imports ../testing/virtual-clock.js (testing)",
      "broker/schemas.ts (broker) imports ../orders/order-tracker.js (orders)",
      "funds/ledger.ts (funds) imports ../orders/order-state-machine.js (orders)",
      "orders/x.ts imports the barrel ../index.js",
    ]);
  });

  it("the core entry never reaches alpaca/ or testing/ (the command, an entry of its own, may)", () => {
    const bad = all
      .filter((f) => f.layer !== "alpaca" && f.layer !== "testing" && f.layer !== "cli")
      .flatMap((f) =>
        f.imports.filter((s) => /(^|\/)(alpaca|testing)\//.test(s)).map((s) => `${f.rel} -> ${s}`),
      );
    expect(bad).toEqual([]);
  });

  it("pure modules import no clock, emitter, port implementation or I/O", () => {
    const forbidden =
      /eventemitter3|node:(fs|net|http|https|timers)|\/clock\.js$|\/checked-broker\.js$|\/(testing|alpaca)\//;
    const bad = all
      .filter((f) => PURE_FILES.some((p) => f.rel.startsWith(p)))
      .flatMap((f) => f.imports.filter((s) => forbidden.test(s)).map((s) => `${f.rel} -> ${s}`));
    expect(bad).toEqual([]);
  });

  it("no direct time or randomness outside core/clock.ts and the testing entry", () => {
    const bad = all
      .filter((f) => f.rel !== "core/clock.ts" && f.layer !== "testing")
      .filter((f) => {
        const src = readFileSync(join(root, f.rel), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
        return /Date\.now\(|Math\.random\(|new Date\(\)|Decimal\.set\(/.test(src);
      })
      .map((f) => f.rel);
    expect(bad).toEqual([]);
  });

  it("the only runtime dependencies are decimal.js, zod and eventemitter3", () => {
    const pkg = JSON.parse(readFileSync(join(root, "..", "package.json"), "utf8"));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(["decimal.js", "eventemitter3", "zod"]);
    const external = new Set(
      all
        .filter((f) => f.layer !== "alpaca" && f.layer !== "testing")
        .flatMap((f) =>
          f.imports
            .filter((s) => !s.startsWith(".") && !s.startsWith("node:"))
            // The optional peer, loaded lazily by the metrics only.
            .filter((s) => !(f.layer === "observability" && s === "@opentelemetry/api")),
        ),
    );
    for (const e of external) expect(["decimal.js", "eventemitter3", "zod"]).toContain(e);
  });
});
