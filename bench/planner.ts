// Benchmark of calculateRebalanceOrders: 100, 1,000, 10,000 and 100,000 symbols, beside a float64
// reference of the same arithmetic (bench-only code, never shipped: floats are what the
// planner must not use for money). Prints a table of medians and the decimal/float ratio,
// the samples of the three sides interleaved round by round.
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

const SIZES = [100, 1_000, 10_000, 100_000];
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
  const float: FloatInput = { symbols: [], equity: 0, cash: 0 };
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
    if (o.side === "buy") s.openBuy += Number(o.qty);
    else s.openSell += Number(o.qty);
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

// ---- float64 reference: the same steps on numbers ---------------------------------------

interface FloatSymbol {
  symbol: string;
  price: number;
  held: number;
  available: number;
  weight: number | undefined;
  increment: number;
  fractionable: boolean;
  openBuy: number;
  openSell: number;
}
interface FloatInput {
  symbols: FloatSymbol[];
  equity: number;
  cash: number;
}
interface FloatLeg {
  symbol: string;
  side: "buy" | "sell";
  action: "enter" | "add" | "trim" | "exit";
  qty?: number;
  notional?: number;
  closePosition: boolean;
  type: "market";
  timeInForce: "day";
  price: number;
  estimatedQty: number;
  estimatedNotional: number;
  cashRequired: number;
  reason: string;
  shrunk: boolean;
  heldQty: number;
  projectedQty: number;
  targetQty: number;
}
interface FloatSkip {
  symbol: string;
  reason: string;
  detail: string;
  deltaQty?: number;
}

const SNAP = 1e-6;
function floorSteps(v: number, step: number): number {
  if (v <= 0) return 0;
  const s = v / step;
  const up = Math.ceil(s);
  return up - s <= SNAP ? up : Math.floor(s);
}

/** The planner's steps on float64, producing the same shape of plan (bench-only). */
function floatPlan(input: FloatInput) {
  const equity = input.equity;
  const buyFactor = 1.03;
  const sells: FloatLeg[] = [];
  const skipped: FloatSkip[] = [];
  const projectedQuantities: Record<string, number> = {};
  const cands: {
    s: FloatSymbol;
    notional: boolean;
    unitValue: number;
    unitCost: number;
    need: number;
    min: number;
    projected: number;
    target: number;
  }[] = [];
  let holds = 0;
  let minimal = 0;
  let naive = 0;
  let naiveCount = 0;
  const symbols = [...input.symbols].sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  for (const s of symbols) holds += s.openBuy * s.price * buyFactor;
  for (const s of symbols) {
    projectedQuantities[s.symbol] = s.held + s.openBuy - s.openSell;
    if (s.held > 0) {
      naive += s.held * s.price;
      naiveCount++;
    }
    if (s.weight !== undefined && s.weight > 0) {
      naive += s.weight * equity;
      naiveCount++;
    }
    const target = s.weight === undefined ? 0 : (s.weight * equity) / s.price;
    const dir = Math.sign(target - s.held);
    const projected = dir > 0 ? s.held + s.openBuy : dir < 0 ? s.held - s.openSell : s.held;
    const delta = target - projected;
    const deltaNotional = Math.abs(delta) * s.price;
    minimal += deltaNotional;
    if (delta === 0) continue;
    if (dir === 0 || Math.sign(delta) !== dir) {
      skipped.push({ symbol: s.symbol, reason: "covered_by_open_orders", detail: "", deltaQty: delta });
      continue;
    }
    const inc = s.fractionable ? s.increment : Math.max(1, s.increment);
    if (dir < 0) {
      const isExit = target <= s.held * 0.02;
      const qty = isExit
        ? Math.min(projected, s.available)
        : Math.min(floorSteps(-delta, inc) * inc, floorSteps(s.available, inc) * inc);
      if (qty <= 0 || qty * s.price < 1) {
        skipped.push({ symbol: s.symbol, reason: "below_minimum", detail: "", deltaQty: delta });
        continue;
      }
      sells.push({
        symbol: s.symbol,
        side: "sell",
        action: isExit ? "exit" : "trim",
        qty,
        closePosition: false,
        type: "market",
        timeInForce: "day",
        price: s.price,
        estimatedQty: qty,
        estimatedNotional: qty * s.price,
        cashRequired: 0,
        reason: "to_target",
        shrunk: false,
        heldQty: s.held,
        projectedQty: projected,
        targetQty: target,
      });
      projectedQuantities[s.symbol] = projected - qty;
      continue;
    }
    const notional = s.fractionable;
    const unitValue = notional ? 0.01 : inc * s.price;
    const need = floorSteps(notional ? deltaNotional : delta, notional ? 0.01 : inc);
    const min = Math.max(1, Math.ceil(1 / unitValue));
    if (need < min) {
      skipped.push({ symbol: s.symbol, reason: "below_minimum", detail: "", deltaQty: delta });
      continue;
    }
    cands.push({
      s,
      notional,
      unitValue,
      unitCost: notional ? 0.01 : unitValue * buyFactor,
      need,
      min,
      projected,
      target,
    });
  }
  let proceeds = 0;
  for (const l of sells) proceeds += l.estimatedNotional;
  const buffer = equity * 0.0025;
  const available = Math.max(0, input.cash + proceeds - buffer - holds);
  // Water filling, as the planner does it.
  const alloc = new Map<(typeof cands)[number], number>();
  let total = 0;
  for (const c of cands) total += c.need * c.unitCost;
  if (total <= available) for (const c of cands) alloc.set(c, c.need);
  else {
    const items = cands
      .map((c) => ({ c, deficit: c.need * c.unitValue, factor: c.unitCost / c.unitValue }))
      .sort((a, b) => b.deficit - a.deficit || (a.c.s.symbol < b.c.s.symbol ? -1 : 1));
    let sumFD = 0;
    let sumF = 0;
    let level = 0;
    for (let k = 0; k < items.length; k++) {
      const it = items[k]!;
      sumFD += it.factor * it.deficit;
      sumF += it.factor;
      const next = items[k + 1];
      if (next === undefined || sumFD - available >= next.deficit * sumF) {
        level = Math.max(0, (sumFD - available) / sumF);
        break;
      }
    }
    let left = available;
    for (const it of items) {
      let u = it.deficit > level ? Math.min(it.c.need, Math.floor((it.deficit - level) / it.c.unitValue)) : 0;
      if (u < it.c.min) u = 0;
      alloc.set(it.c, u);
      left -= u * it.c.unitCost;
    }
    const rest = items
      .map((it) => ({ it, short: it.deficit - (alloc.get(it.c) ?? 0) * it.c.unitValue }))
      .filter((r) => r.short > 0)
      .sort((a, b) => b.short - a.short || (a.it.c.s.symbol < b.it.c.s.symbol ? -1 : 1));
    for (const { it } of rest) {
      if (left < it.c.unitCost) continue;
      const have = alloc.get(it.c) ?? 0;
      let add = Math.min(Math.floor(left / it.c.unitCost), it.c.need - have);
      if (have === 0 && add < it.c.min) add = 0;
      if (add <= 0) continue;
      alloc.set(it.c, have + add);
      left -= add * it.c.unitCost;
    }
  }
  const buys: FloatLeg[] = [];
  let allocated = 0;
  for (const c of cands) {
    const u = alloc.get(c) ?? 0;
    if (u === 0) {
      skipped.push({ symbol: c.s.symbol, reason: "insufficient_cash", detail: "" });
      continue;
    }
    const value = u * c.unitValue;
    const qty = c.notional ? Math.floor((value / c.s.price) * 1e9) / 1e9 : u * c.s.increment;
    const leg: FloatLeg = {
      symbol: c.s.symbol,
      side: "buy",
      action: c.projected <= 0 ? "enter" : "add",
      closePosition: false,
      type: "market",
      timeInForce: "day",
      price: c.s.price,
      estimatedQty: qty,
      estimatedNotional: value,
      cashRequired: u * c.unitCost,
      reason: "to_target",
      shrunk: u < c.need,
      heldQty: c.s.held,
      projectedQty: c.projected,
      targetQty: c.target,
    };
    if (c.notional) leg.notional = value;
    else leg.qty = qty;
    allocated += leg.cashRequired;
    buys.push(leg);
    projectedQuantities[c.s.symbol] = c.projected + qty;
  }
  const byNotional = (a: FloatLeg, b: FloatLeg) =>
    b.estimatedNotional - a.estimatedNotional || (a.symbol < b.symbol ? -1 : 1);
  sells.sort(byNotional);
  buys.sort(byNotional);
  skipped.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  let turnover = 0;
  let buyValue = 0;
  for (const l of sells) turnover += l.estimatedNotional;
  for (const l of buys) {
    turnover += l.estimatedNotional;
    buyValue += l.estimatedNotional;
  }
  const projectedCash = input.cash + proceeds - buyValue;
  let projectedEquity = projectedCash;
  const values = symbols.map((s) => {
    const v = (projectedQuantities[s.symbol] ?? 0) * s.price;
    projectedEquity += v;
    return v;
  });
  const projectedWeights: Record<string, number> = {};
  symbols.forEach((s, i) => {
    projectedWeights[s.symbol] = values[i]! / projectedEquity;
  });
  return {
    legs: [...sells, ...buys],
    sells,
    buys,
    skipped,
    conflicts: [],
    summary: {
      turnover,
      minimalTurnover: minimal,
      naiveTurnover: naive,
      orderCount: sells.length + buys.length,
      naiveOrderCount: naiveCount,
      budget: {
        cash: input.cash,
        sellProceeds: proceeds,
        buffer,
        available,
        allocated,
        left: available - allocated,
      },
      projectedCash,
      projectedEquity,
      projectedQuantities,
      projectedWeights,
    },
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
 * Medians of `runs` samples of each side, the samples interleaved (one of each side per round,
 * in a rotating order) so that a slow spell of a shared machine falls on every side alike,
 * and the median of each round's decimal/float ratios.
 */
function timeSides(sides: (() => unknown)[], runs: number, repeat: number, warmups: number) {
  // Warm-up: the same input, so every side runs optimised code.
  for (const fn of sides) for (let w = 0; w < warmups; w++) fn();
  const samples: number[][] = sides.map(() => []);
  const ratios: number[][] = sides.map(() => []);
  const last = sides.length - 1;
  for (let i = 0; i < runs; i++) {
    const round: number[] = new Array(sides.length);
    for (let k = 0; k < sides.length; k++) {
      const j = (i + k) % sides.length;
      round[j] = sample(sides[j]!, repeat);
    }
    round.forEach((ms, j) => {
      samples[j]!.push(ms);
      ratios[j]!.push(ms / round[last]!);
    });
  }
  return { medians: samples.map(median), ratios: ratios.map(median) };
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
  const { medians, ratios } = timeSides(
    [() => calculateRebalanceOrders(input), () => planRebalance(parsed), () => floatPlan(float)],
    runs,
    repeat,
    warmups,
  );
  const [full, planOnly, f] = medians as [number, number, number];
  rows.push([
    n.toLocaleString("en-US"),
    `${plan.legs.length} / ${ref.legs.length}`,
    full.toFixed(1),
    planOnly.toFixed(1),
    f.toFixed(2),
    `${ratios[0]!.toFixed(1)}×`,
    `${ratios[1]!.toFixed(1)}×`,
  ]);
}

const header = [
  "symbols",
  "legs dec / f64",
  "decimal ms",
  "of which planning",
  "float64 ms",
  "ratio",
  "ratio (planning)",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(" | ")} |`;
console.log(
  `calculateRebalanceOrders, median ms of ${RUNS} samples a side (5 at 100,000), a full GC before each,\n` +
    `the sides interleaved; ratio = median of the per-round ratios to float64 (Node ${process.version})\n`,
);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
