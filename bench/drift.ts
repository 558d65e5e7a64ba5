// npx tsx bench/drift.ts — detectPositionDrift at 1,000, 10,000 and 100,000 positions, every
// position differing and one order on each symbol, beside a float64 reference of the same
// steps (bench-only code: floats are what the library must not use for quantities). Prints
// the medians, the ratio, and the growth exponent between sizes (1 is linear).
//
//   npx tsx bench/drift.ts        (BENCH_RUNS=11 to change the samples per size; at least 5)

import { performance } from "node:perf_hooks";
import { Decimal, detectPositionDrift, type OrderSnapshot } from "../src/index.js";

const SIZES = [1_000, 10_000, 100_000];
const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 7));

interface Case {
  expected: Map<string, Decimal>;
  actual: Map<string, Decimal>;
  prices: Map<string, Decimal>;
  openOrders: OrderSnapshot[];
  applied: Map<string, Decimal>;
  float: { symbols: string[]; expected: number[]; actual: number[]; price: number[]; orders: FloatOrder[] };
}

interface FloatOrder {
  id: string;
  symbol: string;
  sign: number;
  qty: number;
  filled: number;
}

function makeCase(n: number): Case {
  const expected = new Map<string, Decimal>();
  const actual = new Map<string, Decimal>();
  const prices = new Map<string, Decimal>();
  const applied = new Map<string, Decimal>();
  const openOrders: OrderSnapshot[] = [];
  const float: Case["float"] = { symbols: [], expected: [], actual: [], price: [], orders: [] };
  for (let i = 0; i < n; i++) {
    const symbol = `S${i}`;
    const e = 100 + (i % 50);
    const a = e + 1 + (i % 3);
    const p = 10 + (i % 90);
    expected.set(symbol, new Decimal(e));
    actual.set(symbol, new Decimal(a));
    prices.set(symbol, new Decimal(p));
    openOrders.push({
      id: `o${i}`,
      clientOrderId: `c${i}`,
      symbol,
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(5),
      filledQty: new Decimal(1),
      status: "partially_filled",
      updatedAt: new Date(0),
    });
    applied.set(`o${i}`, new Decimal(0));
    float.symbols.push(symbol);
    float.expected.push(e);
    float.actual.push(a);
    float.price.push(p);
    float.orders.push({ id: `o${i}`, symbol, sign: 1, qty: 5, filled: 1 });
  }
  return { expected, actual, prices, openOrders, applied, float };
}

/** The same steps on float64: orders by symbol, then per differing symbol the open range and a class. */
function floatDrift(c: Case["float"]): number {
  const bySymbol = new Map<string, FloatOrder[]>();
  for (const o of c.orders) {
    const list = bySymbol.get(o.symbol);
    if (list === undefined) bySymbol.set(o.symbol, [o]);
    else list.push(o);
  }
  const order = c.symbols.map((s, i) => [s, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const out: { symbol: string; diff: number; notional: number; cls: string; orders: number }[] = [];
  for (const [symbol, i] of order) {
    const diff = (c.actual[i] as number) - (c.expected[i] as number);
    if (diff === 0) continue;
    let low = 0;
    let high = 0;
    const related = bySymbol.get(symbol) ?? [];
    for (const o of related) {
      if (o.sign > 0) high += o.qty;
      else low -= o.qty;
    }
    const cls = diff > low - 1e-9 && diff < high + 1e-9 ? "in_flight" : "unexplained";
    out.push({ symbol, diff, notional: diff * (c.price[i] as number), cls, orders: related.length });
  }
  return out.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function time(f: () => number): number {
  // Warm-up calls first, for both sides alike: the first calls would time the compiler.
  for (let w = 0; w < 2; w++) f();
  const samples: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    f();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

function main(): void {
  const rows: { n: number; lib: number; ref: number }[] = [];
  for (const n of SIZES) {
    const c = makeCase(n);
    const opts = { prices: c.prices, openOrders: c.openOrders, applied: c.applied };
    const count = detectPositionDrift(c.expected, c.actual, opts).length;
    if (count !== n || floatDrift(c.float) !== n) throw new Error("every position should differ");
    const lib = time(() => detectPositionDrift(c.expected, c.actual, opts).length);
    const ref = time(() => floatDrift(c.float));
    rows.push({ n, lib, ref });
  }
  console.log(
    `detectPositionDrift: every position differs, one open order per symbol; medians of ${RUNS}.\n`,
  );
  console.log("positions   library     float64 ref   ratio   growth exponent (library / ref)");
  rows.forEach((r, i) => {
    const prev = rows[i - 1];
    const exp = (a: number, b: number) =>
      (Math.log(a / b) / Math.log(r.n / (prev as { n: number }).n)).toFixed(2);
    const growth = prev === undefined ? "" : `${exp(r.lib, prev.lib)} / ${exp(r.ref, prev.ref)}`;
    console.log(
      `${String(r.n).padStart(9)}   ${r.lib.toFixed(1).padStart(7)} ms   ${r.ref.toFixed(1).padStart(8)} ms   ${(r.lib / r.ref).toFixed(1).padStart(4)}x   ${growth}`,
    );
  });
}

main();
