// Benchmark of calculateRebalanceOrders: 100, 1,000, 10,000 and 100,000 symbols, beside a float64
// reference of the same steps (bench/float-planner.ts: bench-only code, never shipped, since
// floats are what the planner must not use for money). Prints a table of medians and the
// decimal/float ratio, the samples of the four sides (whole call, planning step, reference,
// and the floor-only reference as first written) interleaved round by round.
//
//   npm run bench:planner            (BENCH_RUNS=21 to change the samples per size; at least 11)
//
// At 100,000 symbols one call takes seconds: 5 samples after 1 warm-up call, for both sides.

import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  calculateRebalanceOrders,
  createRandom,
  Decimal,
  type RebalanceInputInput,
  RebalanceInputSchema,
} from "ordersafe";
// The planning step alone, after validation (internal: not exported by the package).
import { planRebalance } from "../src/rebalance/calculate-rebalance-orders.js";
import { type FloatInput, floatPlan, floorOnlyPlan } from "./float-planner.js";

const SIZES = (process.env.BENCH_SIZES ?? "100,1000,10000,100000").split(",").map(Number);
const RUNS = Math.max(11, Number(process.env.BENCH_RUNS ?? 11));

interface Portfolio {
  input: RebalanceInputInput;
  float: FloatInput;
}

/** A portfolio of n symbols: mixed fractional and whole-share assets, some open orders. */
function makePortfolio(n: number, seed: number): Portfolio {
  const rand = createRandom(seed);
  const positions: { symbol: string; qty: Decimal; qtyAvailable: Decimal }[] = [];
  const openOrders: RebalanceInputInput["openOrders"] = [];
  const prices: Record<string, Decimal> = {};
  const assets: {
    symbol: string;
    tradable: boolean;
    fractionable: boolean;
    qtyIncrement: Decimal;
    minNotional: Decimal;
  }[] = [];
  const weights: Record<string, Decimal> = {};
  const float: FloatInput = { symbols: [], orders: [], equity: 0, cash: 0 };
  const equityTarget = 1_000_000 * n;
  let cash = equityTarget * 0.05;
  let equity = cash;
  for (let i = 0; i < n; i++) {
    const symbol = `S${i}`;
    const cents = 100 + Math.floor(rand() * 50_000);
    const price = new Decimal(cents).div(100);
    const fractionable = rand() < 0.7;
    const inc = fractionable ? new Decimal("0.000000001") : new Decimal(1);
    const heldValue = rand() < 0.8 ? (equityTarget / n) * (0.5 + rand()) : 0;
    const held = new Decimal(heldValue).div(price).toDecimalPlaces(fractionable ? 6 : 0, Decimal.ROUND_DOWN);
    let openSell = new Decimal(0);
    if (held.gt(10) && rand() < 0.1) {
      openSell = held.div(10).floor();
      openOrders.push(order(`${symbol}-s`, symbol, "sell", openSell));
    }
    if (rand() < 0.05) openOrders.push(order(`${symbol}-b`, symbol, "buy", new Decimal(3)));
    if (held.gt(0)) positions.push({ symbol, qty: held, qtyAvailable: held.minus(openSell) });
    equity += held.toNumber() * price.toNumber();
    prices[symbol] = price;
    assets.push({ symbol, tradable: true, fractionable, qtyIncrement: inc, minNotional: new Decimal(1) });
    if (rand() < 0.9) weights[symbol] = new Decimal(Math.floor((0.95 / n) * (0.5 + rand()) * 1e8)).div(1e8);
  }
  // Scale the weights to sum below 1.
  let sum = new Decimal(0);
  for (const w of Object.values(weights)) sum = sum.plus(w);
  if (sum.gt("0.97")) {
    for (const k of Object.keys(weights)) {
      weights[k] = weights[k]!.times("0.97").div(sum).toDecimalPlaces(8, Decimal.ROUND_DOWN);
    }
  }
  cash = Math.round(cash * 100) / 100;
  const equityD = new Decimal(equity.toFixed(2));
  const input: RebalanceInputInput = {
    positions,
    openOrders,
    targets: { weights },
    prices,
    assets,
    account: { equity: equityD, cash: new Decimal(cash) },
  };
  float.equity = equityD.toNumber();
  float.cash = cash;
  const held = new Map(positions.map((p) => [p.symbol, p]));
  for (const a of assets) {
    const p = held.get(a.symbol);
    float.symbols.push({
      symbol: a.symbol,
      price: prices[a.symbol]!.toNumber(),
      held: p?.qty.toNumber() ?? 0,
      available: p?.qtyAvailable.toNumber() ?? 0,
      weight: weights[a.symbol]?.toNumber(),
      increment: a.qtyIncrement.toNumber(),
      fractionable: a.fractionable,
      openBuy: 0,
      openSell: 0,
    });
  }
  const bySymbol = new Map(float.symbols.map((s) => [s.symbol, s]));
  for (const o of openOrders ?? []) {
    const s = bySymbol.get(o.symbol)!;
    const unfilled = Number(o.qty);
    if (o.side === "buy") s.openBuy += unfilled;
    else s.openSell += unfilled;
    float.orders.push({ id: o.id, clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, unfilled });
  }
  return { input, float };
}

function order(id: string, symbol: string, side: "buy" | "sell", qty: Decimal) {
  return {
    id,
    clientOrderId: `c-${id}`,
    symbol,
    side,
    type: "market" as const,
    timeInForce: "day" as const,
    qty,
    filledQty: new Decimal(0),
    status: "new" as const,
    updatedAt: new Date(0),
  };
}

// ---- timing -----------------------------------------------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// A full collection before each sample, so one sample's garbage is not billed to the next.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** Milliseconds per call of fn over one sample of `repeat` calls, after a full collection. */
function sample(fn: () => unknown, repeat: number): number {
  collect();
  const t0 = performance.now();
  for (let r = 0; r < repeat; r++) fn();
  return (performance.now() - t0) / repeat;
}

/**
 * `runs` samples of each side, interleaved (one of each side per round, in a rotating order)
 * so that a slow spell of a shared machine falls on every side alike.
 *
 * @returns the samples of each round, by side
 */
function timeSides(sides: (() => unknown)[], runs: number, repeat: number, warmups: number): number[][] {
  // Warm-up: the same input, so every side runs optimised code.
  for (const fn of sides) for (let w = 0; w < warmups; w++) fn();
  const rounds: number[][] = [];
  for (let i = 0; i < runs; i++) {
    const round: number[] = new Array(sides.length);
    for (let k = 0; k < sides.length; k++) {
      const j = (i + k) % sides.length;
      round[j] = sample(sides[j]!, repeat);
    }
    rounds.push(round);
  }
  return rounds;
}

/** The median of each round's ratio of side `a` to side `b`. */
function ratioOf(rounds: number[][], a: number, b: number): string {
  return `${median(rounds.map((r) => r[a]! / r[b]!)).toFixed(1)}×`;
}

/** Legs of the reference that match the planner's: symbol, side, action, and size within 1e-6. */
function matchingLegs(
  plan: ReturnType<typeof calculateRebalanceOrders>,
  ref: ReturnType<typeof floatPlan>,
): number {
  const bySymbol = new Map(ref.legs.map((l) => [l.symbol, l]));
  let same = 0;
  for (const leg of plan.legs) {
    const r = bySymbol.get(leg.symbol);
    if (r === undefined || r.side !== leg.side || r.action !== leg.action) continue;
    const size = (leg.qty ?? leg.notional)!.toNumber();
    const rs = (r.qty ?? r.notional)!;
    if (Math.abs(size - rs) <= 1e-6 * Math.max(1, Math.abs(size))) same++;
  }
  return same;
}

const rows: string[][] = [];
for (const n of SIZES) {
  const { input, float } = makePortfolio(n, 42 + n);
  const plan = calculateRebalanceOrders(input);
  const ref = floatPlan(float);
  const runs = n >= 100_000 ? 5 : RUNS;
  const warmups = n >= 100_000 ? 1 : 3;
  // Every side is timed alike: the same calls per sample (one sample of a single call right
  // after a full collection times the collection's aftermath more than the call).
  const repeat = Math.max(1, Math.round(20_000 / n));
  const parsed = RebalanceInputSchema.parse(input);
  const rounds = timeSides(
    [
      () => calculateRebalanceOrders(input),
      () => planRebalance(parsed),
      () => floatPlan(float),
      () => floorOnlyPlan(float),
    ],
    runs,
    repeat,
    warmups,
  );
  const [full, planOnly, f, floorOnly] = [0, 1, 2, 3].map((j) => median(rounds.map((r) => r[j]!))) as [
    number,
    number,
    number,
    number,
  ];
  rows.push([
    n.toLocaleString("en-US"),
    `${plan.legs.length} / ${ref.legs.length} / ${matchingLegs(plan, ref)}`,
    `${plan.conflicts.length} / ${ref.conflicts.length}`,
    full.toFixed(1),
    planOnly.toFixed(1),
    f.toFixed(2),
    ratioOf(rounds, 0, 2),
    ratioOf(rounds, 1, 2),
    `${floorOnly.toFixed(2)} / ${ratioOf(rounds, 0, 3)}`,
  ]);
}

const header = [
  "symbols",
  "legs dec / f64 / same",
  "conflicts",
  "decimal ms",
  "of which planning",
  "float64 ms",
  "ratio",
  "ratio (planning)",
  "floor-only f64 ms / ratio",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(" | ")} |`;
console.log(
  `calculateRebalanceOrders, median ms of ${RUNS} samples a side (5 at 100,000), a full GC before each,\n` +
    `the sides interleaved; ratio = median of the per-round ratios to float64 (Node ${process.version}).\n` +
    `float64: the planner's steps at its default options; floor-only: the reference as first written\n` +
    `(every leg floored, the 2% exit rule), kept for comparison with earlier runs.\n`,
);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
