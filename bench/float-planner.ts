// float64 references of the planner (bench-only code, never shipped: floats are what the
// planner must not use for money). `floatPlan` takes the planner's steps at its default
// options; `floorOnlyPlan` is the reference as first written, when the planner still floored
// every leg. Both are given their symbols already joined (price, holding, weight and rules in
// one row each), which the planner does itself inside the call.

export interface FloatOrder {
  id: string;
  clientOrderId: string;
  symbol: string;
  side: "buy" | "sell";
  /** Unfilled shares. */
  unfilled: number;
}
export interface FloatSymbol {
  symbol: string;
  price: number;
  held: number;
  available: number;
  weight: number | undefined;
  increment: number;
  fractionable: boolean;
  /** Unfilled shares of its open buys and sells, summed ahead (read by `floorOnlyPlan` only). */
  openBuy: number;
  openSell: number;
}
export interface FloatInput {
  symbols: FloatSymbol[];
  /** The open orders, as the planner is given them (read by `floatPlan`). */
  orders: FloatOrder[];
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
  side?: "buy" | "sell";
  deltaQty?: number;
}
interface FloatConflict {
  symbol: string;
  orderId: string;
  clientOrderId: string;
  side: "buy" | "sell";
  unfilledQty: number;
  reason: string;
}

const SNAP = 1e-6;
function floorSteps(v: number, step: number): number {
  if (v <= 0) return 0;
  const s = v / step;
  const up = Math.ceil(s);
  return up - s <= SNAP ? up : Math.floor(s);
}

/** The water level of the buys sorted by shortfall: every buy brought down to it spends the cash. */
function waterLevel(items: readonly { deficit: number; factor: number }[], cash: number): number {
  let sumFD = 0;
  let sumF = 0;
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    sumFD += it.factor * it.deficit;
    sumF += it.factor;
    const next = items[k + 1];
    if (next === undefined || sumFD - cash >= next.deficit * sumF) return Math.max(0, (sumFD - cash) / sumF);
  }
  return 0;
}

/** The projected equity, and each symbol's weight of it. */
function projectWeights(
  symbols: readonly FloatSymbol[],
  projectedQuantities: Record<string, number>,
  projectedCash: number,
): { projectedEquity: number; projectedWeights: Record<string, number> } {
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
  return { projectedEquity, projectedWeights };
}

// ---- the planner's steps at its default options ------------------------------------------

const BUY_FACTOR = 1.03; // 1 + marketBuyBuffer
const MIN_NOTIONAL = 1; // the larger of the asset's minimum and minOrderNotional
const CASH_BUFFER = 0.0025;
const CENT = 0.01;
const NANO = 1e-9;
/** The planner's EXACT_CHOICE_LIMIT and EXACT_ROUNDING_LIMIT. */
const CHOICE_LIMIT = 8;
const ROUNDING_LIMIT = 16;

/** Whole steps nearest a value (half a step rounds down), as the planner's nearestSteps. */
function nearestSteps(v: number, step: number): number {
  const steps = floorSteps(v, step);
  return 2 * (v - steps * step) > step ? steps + 1 : steps;
}

/** Whether a value is a whole number of steps (within float error, which grows with the count). */
function onStep(v: number, step: number): boolean {
  const s = v / step;
  return Math.abs(s - Math.round(s)) <= Math.max(SNAP, s * 1e-12);
}

function bySymbol(a: { symbol: string }, b: { symbol: string }): number {
  return a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0;
}

interface FloatBook {
  buys: FloatOrder[];
  sells: FloatOrder[];
  buyQty: number;
  sellQty: number;
  /** Whether the symbol has a sell leg (its open buys are cancelled, and hold no cash). */
  sold: boolean;
}

interface KeyedFloatLeg {
  key: number;
  leg: FloatLeg;
  conflicts: FloatConflict[] | undefined;
}

/** A buy wanted (the planner's BuyDemand and BuyDecision). */
interface Candidate {
  s: FloatSymbol;
  book: FloatBook | undefined;
  notional: boolean;
  increment: number;
  unitValue: number;
  unitCost: number;
  need: number;
  min: number;
  upGain: number;
  projected: number;
  target: number;
  reason: string;
}

/** A trim that could sell one increment more (the planner's SellRounding). */
interface SellChoice {
  index: number;
  increment: number;
  error: number;
  cash: number;
}

function conflictsOf(symbol: string, orders: FloatOrder[]): FloatConflict[] | undefined {
  if (orders.length === 0) return undefined;
  return orders.map((o) => ({
    symbol,
    orderId: o.id,
    clientOrderId: o.clientOrderId,
    side: o.side,
    unfilledQty: o.unfilled,
    reason: "opposite_side",
  }));
}

/** The reasons of the planner's aim: untargeted, a zero target, or a target to reach. */
function aimReason(s: FloatSymbol): string {
  return s.weight === undefined ? "untargeted" : s.weight === 0 ? "target_zero" : "to_target";
}

/**
 * The planner's steps on float64 at its default options, producing the same shape of plan:
 * the open orders gathered by symbol, the exit rule (a target of zero, or a remainder that
 * could not be traded), trims and quantity buys to the nearest increment, water filling and
 * its rounding up within the cash, the exact best rounding for a few buys and sells, the
 * conflicts of each leg, and the projection.
 *
 * @param input - the portfolio as numbers
 * @returns the plan as numbers
 */
export function floatPlan(input: FloatInput) {
  const { equity } = input;
  const books = new Map<string, FloatBook>();
  for (const o of input.orders) {
    let b = books.get(o.symbol);
    if (b === undefined) {
      b = { buys: [], sells: [], buyQty: 0, sellQty: 0, sold: false };
      books.set(o.symbol, b);
    }
    if (o.side === "buy") {
      b.buys.push(o);
      b.buyQty += o.unfilled;
    } else {
      b.sells.push(o);
      b.sellQty += o.unfilled;
    }
  }
  const symbols = [...input.symbols].sort(bySymbol);
  const sells: KeyedFloatLeg[] = [];
  const choices: SellChoice[] = [];
  const cands: Candidate[] = [];
  const skipped: FloatSkip[] = [];
  const projectedQuantities: Record<string, number> = {};
  let holds = 0;
  let minimal = 0;
  let naive = 0;
  let naiveCount = 0;
  let proceeds = 0;
  for (const s of symbols) {
    const book = books.get(s.symbol);
    const openBuy = book?.buyQty ?? 0;
    const openSell = book?.sellQty ?? 0;
    projectedQuantities[s.symbol] = s.held + openBuy - openSell;
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
    const projected = dir > 0 ? s.held + openBuy : dir < 0 ? s.held - openSell : s.held + openBuy - openSell;
    const delta = target - projected;
    const deltaNotional = Math.abs(delta) * s.price;
    minimal += deltaNotional;
    if (delta === 0) continue;
    const side = delta < 0 ? "sell" : "buy";
    if (dir === 0 || Math.sign(delta) !== dir) {
      const detail = "open orders already reach or pass the target";
      skipped.push({ symbol: s.symbol, reason: "covered_by_open_orders", detail, side, deltaQty: delta });
      continue;
    }
    const increment = s.fractionable ? Math.max(NANO, s.increment) : Math.max(1, s.increment);
    const kept = nearestSteps(target, increment) * increment;
    const untradeable = target > 0 && (kept === 0 || kept * s.price < MIN_NOTIONAL);
    const reason = aimReason(s);
    if (dir < 0) {
      const isExit = untradeable || target <= 0;
      const size = isExit
        ? sizeExit(s, projected, increment, book === undefined || book.sells.length === 0)
        : sizeTrim(s, projected, target, increment);
      if (typeof size === "string") {
        skipped.push({ symbol: s.symbol, reason: "below_minimum", detail: size, side, deltaQty: delta });
        continue;
      }
      const exitReason =
        isExit && reason === "to_target" ? (untradeable ? "exit_remainder" : "exit_tolerance") : reason;
      const notional = size.qty * s.price;
      proceeds += notional;
      if (book !== undefined) book.sold = true;
      const index = sells.length;
      sells.push({
        key: notional,
        leg: {
          symbol: s.symbol,
          side: "sell",
          action: size.action,
          qty: size.qty,
          closePosition: size.close,
          type: "market",
          timeInForce: "day",
          price: s.price,
          estimatedQty: size.qty,
          estimatedNotional: notional,
          cashRequired: 0,
          reason: size.action === "exit" ? exitReason : "to_target",
          shrunk: false,
          heldQty: s.held,
          projectedQty: projected,
          targetQty: target,
        },
        conflicts: book === undefined ? undefined : conflictsOf(s.symbol, book.buys),
      });
      projectedQuantities[s.symbol] = projected - size.qty;
      const left = projected - target - size.qty;
      if (!isExit && size.action === "trim" && left >= 0 && size.qty + increment <= s.available) {
        choices.push({
          index,
          increment,
          error: (increment - 2 * left) * s.price,
          cash: increment * s.price,
        });
      }
      continue;
    }
    const notional = s.fractionable;
    const unitValue = notional ? CENT : increment * s.price;
    const need = notional ? floorSteps(deltaNotional, CENT) : floorSteps(delta, increment);
    const min = Math.max(1, Math.ceil(MIN_NOTIONAL / unitValue));
    let upGain = 0;
    if (!notional) {
      const rest = delta - need * increment;
      if (2 * rest > increment) upGain = (2 * rest - increment) * s.price;
    }
    if (need < min && (upGain === 0 || need + 1 < min)) {
      const detail = need === 0 ? "less than one increment" : "below the minimum order notional";
      skipped.push({ symbol: s.symbol, reason: "below_minimum", detail, side, deltaQty: delta });
      continue;
    }
    const unitCost = notional ? CENT : unitValue * BUY_FACTOR;
    cands.push({
      s,
      book,
      notional,
      increment,
      unitValue,
      unitCost,
      need,
      min,
      upGain,
      projected,
      target,
      reason,
    });
  }
  for (const s of symbols) {
    const book = books.get(s.symbol);
    if (book !== undefined && !book.sold) holds += book.buyQty * s.price * BUY_FACTOR;
  }
  const buffer = equity * CASH_BUFFER;
  let available = Math.max(0, input.cash + proceeds - buffer - holds);
  const units = allocate(cands, available);
  for (const j of refine(cands, units, available, choices)) {
    // One increment more for a trim: its leg and the proceeds.
    const c = choices[j]!;
    const keyed = sells[c.index]!;
    const qty = keyed.leg.qty! + c.increment;
    const notional = qty * keyed.leg.price;
    proceeds += notional - keyed.key;
    keyed.key = notional;
    keyed.leg = { ...keyed.leg, qty, estimatedQty: qty, estimatedNotional: notional };
    projectedQuantities[keyed.leg.symbol] = keyed.leg.projectedQty - qty;
  }
  available = Math.max(0, input.cash + proceeds - buffer - holds);
  const buys: KeyedFloatLeg[] = [];
  let allocated = 0;
  let buyValue = 0;
  for (let k = 0; k < cands.length; k++) {
    const c = cands[k]!;
    const u = units[k]!;
    if (u === 0) {
      skipped.push({
        symbol: c.s.symbol,
        reason: "insufficient_cash",
        detail: "the cash left cannot fund the minimum order",
        side: "buy",
      });
      continue;
    }
    const value = c.notional ? u * CENT : u * c.increment * c.s.price;
    const qty = c.notional ? Math.floor(value / (c.s.price * NANO)) * NANO : u * c.increment;
    const leg: FloatLeg = {
      symbol: c.s.symbol,
      side: "buy",
      action: c.projected > 0 ? "add" : "enter",
      closePosition: false,
      type: "market",
      timeInForce: "day",
      price: c.s.price,
      estimatedQty: qty,
      estimatedNotional: value,
      cashRequired: c.notional ? value : value * BUY_FACTOR,
      reason: c.reason,
      shrunk: u < c.need,
      heldQty: c.s.held,
      projectedQty: c.projected,
      targetQty: c.target,
    };
    if (c.notional) leg.notional = value;
    else leg.qty = qty;
    allocated += leg.cashRequired;
    buyValue += value;
    buys.push({
      key: value,
      leg,
      conflicts: c.book === undefined ? undefined : conflictsOf(c.s.symbol, c.book.sells),
    });
    projectedQuantities[c.s.symbol] = c.projected + qty;
  }
  const conflicts: FloatConflict[] = [];
  const sellLegs = byNotionalDesc(sells, conflicts);
  const buyLegs = byNotionalDesc(buys, conflicts);
  skipped.sort(bySymbol);
  const projectedCash = input.cash + proceeds - buyValue;
  const { projectedEquity, projectedWeights } = projectWeights(symbols, projectedQuantities, projectedCash);
  return {
    legs: sellLegs.concat(buyLegs),
    sells: sellLegs,
    buys: buyLegs,
    skipped,
    conflicts,
    summary: {
      turnover: proceeds + buyValue,
      minimalTurnover: minimal,
      naiveTurnover: naive,
      orderCount: sellLegs.length + buyLegs.length,
      naiveOrderCount: naiveCount,
      sellCount: sellLegs.length,
      buyCount: buyLegs.length,
      budget: {
        cash: input.cash,
        sellProceeds: proceeds,
        buffer,
        openBuyHolds: holds,
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

type SellSize = { qty: number; action: "trim" | "exit"; close: boolean } | string;

/** A full exit: what open sells do not already hold; an order, a closePosition, or the part that can be an order. */
function sizeExit(s: FloatSymbol, projected: number, increment: number, closeAllowed: boolean): SellSize {
  const qty = Math.min(projected, s.available);
  if (qty > 0 && onStep(qty, NANO) && onStep(qty, increment) && qty * s.price >= MIN_NOTIONAL) {
    return { qty, action: "exit", close: false };
  }
  if (closeAllowed && qty > 0 && qty === s.held) return { qty, action: "exit", close: true };
  const part = Math.min(floorSteps(qty, increment) * increment, qty);
  if (part > 0 && part * s.price >= MIN_NOTIONAL) return { qty: part, action: "trim", close: false };
  return "the position is dust that cannot be an order and closePosition is unavailable";
}

/** A trim to the nearest increment, capped at the shares available. */
function sizeTrim(s: FloatSymbol, projected: number, target: number, increment: number): SellSize {
  const excess = projected - target;
  let steps = floorSteps(excess, increment);
  if (2 * (excess - steps * increment) > increment) steps += 1;
  let qty = steps * increment;
  if (qty > s.available) qty = Math.min(floorSteps(s.available, increment) * increment, s.available);
  if (qty <= 0) return "less than one increment";
  if (qty * s.price < MIN_NOTIONAL) return "below the minimum order notional";
  return { qty, action: "trim", close: false };
}

function byNotionalDesc(keyed: KeyedFloatLeg[], conflicts: FloatConflict[]): FloatLeg[] {
  keyed.sort((a, b) => b.key - a.key || bySymbol(a.leg, b.leg));
  return keyed.map((k) => {
    if (k.conflicts !== undefined) for (const c of k.conflicts) conflicts.push(c);
    return k.leg;
  });
}

/** The planner's allocateBuys: all when they fit, else water filling; then rounding up. */
function allocate(cands: readonly Candidate[], cash: number): number[] {
  let total = 0;
  for (const c of cands) total += c.need * c.unitCost;
  if (total <= cash) {
    const units = cands.map((c) => c.need);
    roundUp(cands, units, cash - total);
    return units;
  }
  const items = cands
    .map((c, index) => ({
      c,
      index,
      deficit: c.need * c.unitValue,
      factor: c.unitCost / c.unitValue,
      units: 0,
    }))
    .sort((a, b) => b.deficit - a.deficit || bySymbol(a.c.s, b.c.s));
  const level = waterLevel(items, cash);
  let left = cash;
  for (const it of items) {
    let u = it.deficit > level ? Math.min(it.c.need, Math.floor((it.deficit - level) / it.c.unitValue)) : 0;
    if (u < it.c.min) u = 0;
    it.units = u;
    left -= u * it.c.unitCost;
  }
  // Give back, largest first, until the units fit.
  while (left < 0) {
    let largest: (typeof items)[number] | undefined;
    for (const it of items) {
      if (
        it.units > 0 &&
        (largest === undefined || it.units * it.c.unitCost > largest.units * largest.c.unitCost)
      ) {
        largest = it;
      }
    }
    if (largest === undefined) break;
    const u = largest.units - 1;
    const dropped = u < largest.c.min ? largest.units : 1;
    largest.units = u < largest.c.min ? 0 : u;
    left += dropped * largest.c.unitCost;
  }
  const rest = items
    .map((it) => ({ it, short: it.deficit - it.units * it.c.unitValue }))
    .filter((r) => r.short > 0)
    .sort((a, b) => b.short - a.short || bySymbol(a.it.c.s, b.it.c.s));
  for (const { it } of rest) {
    if (left < it.c.unitCost) continue;
    let add = Math.min(Math.floor(left / it.c.unitCost), it.c.need - it.units);
    if (it.units === 0 && add < it.c.min) add = 0;
    if (add <= 0) continue;
    it.units += add;
    left -= add * it.c.unitCost;
  }
  const units: number[] = new Array(cands.length);
  for (const it of items) units[it.index] = it.units;
  roundUp(cands, units, left);
  return units;
}

/** The planner's roundUp: one unit past the need where it gains most per dollar, within the cash. */
function roundUp(cands: readonly Candidate[], units: number[], left: number): void {
  const ups: { index: number; symbol: string; gain: number; cost: number }[] = [];
  for (let i = 0; i < cands.length; i++) {
    const d = cands[i]!;
    const u = units[i]!;
    if (d.upGain <= 0 || u > d.need || d.need + 1 < d.min) continue;
    const cost = (d.need + 1 - u) * d.unitCost;
    if (cost <= left)
      ups.push({ index: i, symbol: d.s.symbol, gain: (d.need - u) * d.unitValue + d.upGain, cost });
  }
  if (ups.length === 0) return;
  ups.sort((a, b) => b.gain * a.cost - a.gain * b.cost || bySymbol(a, b));
  const chosen = ups.length <= ROUNDING_LIMIT ? bestSubset(ups, left) : ups;
  for (const c of chosen) {
    if (c.cost > left) continue;
    units[c.index] = cands[c.index]!.need + 1;
    left -= c.cost;
  }
}

/** The subset of round-ups of most gain within the cash (branch and bound). */
function bestSubset<T extends { gain: number; cost: number }>(items: readonly T[], room: number): T[] {
  const n = items.length;
  let best: boolean[] = new Array(n).fill(false);
  let bestGain = -1;
  const take: boolean[] = new Array(n).fill(false);
  const bound = (k: number, r: number): number => {
    let whole = 0;
    for (let i = k; i < n; i++) {
      const c = items[i]!;
      if (c.cost <= r) {
        whole += c.gain;
        r -= c.cost;
      } else return whole + (c.gain * r) / c.cost;
    }
    return whole;
  };
  const visit = (k: number, r: number, gain: number): void => {
    if (gain > bestGain) {
      bestGain = gain;
      best = take.slice();
      for (let i = k; i < n; i++) best[i] = false;
    }
    if (k === n || gain + bound(k, r) <= bestGain) return;
    const c = items[k]!;
    if (c.cost <= r) {
      take[k] = true;
      visit(k + 1, r - c.cost, gain + c.gain);
      take[k] = false;
    }
    visit(k + 1, r, gain);
  };
  visit(0, room, 0);
  return items.filter((_, i) => best[i]);
}

/**
 * The planner's refineRounding: for a few buys and trims with a rounding choice, the choice of
 * least tracking error within the cash, tried exhaustively; returns the trims to sell one
 * increment more.
 */
function refine(
  cands: readonly Candidate[],
  units: number[],
  cash: number,
  sells: readonly SellChoice[],
): number[] {
  const open: number[] = [];
  let fixedCost = 0;
  for (let i = 0; i < cands.length; i++) {
    const d = cands[i]!;
    if (d.upGain > 0 || units[i]! < d.need) open.push(i);
    else fixedCost += units[i]! * d.unitCost;
  }
  if (open.length === 0 || open.length + sells.length > CHOICE_LIMIT) return [];
  const error = (d: Candidate, u: number) => (u <= d.need ? (d.need - u) * d.unitValue : -d.upGain);
  const items: { cost: number; error: number }[][] = open.map((i) => {
    const d = cands[i]!;
    const set = new Set([0, units[i]!, d.need]);
    if (d.upGain > 0) set.add(d.need + 1);
    return [...set]
      .filter((u) => u === 0 || u >= d.min)
      .map((u) => ({ cost: u * d.unitCost, error: error(d, u) }));
  });
  for (const s of sells)
    items.push([
      { cost: 0, error: 0 },
      { cost: -s.cash, error: s.error },
    ]);
  const n = items.length;
  const leastError: number[] = new Array(n + 1).fill(0);
  const mostCash: number[] = new Array(n + 1).fill(0);
  for (let k = n - 1; k >= 0; k--) {
    let e = Number.POSITIVE_INFINITY;
    let c = 0;
    for (const ch of items[k]!) {
      e = Math.min(e, ch.error);
      c = Math.min(c, ch.cost);
    }
    leastError[k] = leastError[k + 1]! + (Number.isFinite(e) ? e : 0);
    mostCash[k] = mostCash[k + 1]! - c;
  }
  let best = open.reduce((e, i) => e + error(cands[i]!, units[i]!), 0);
  let found: number[] | undefined;
  const pick: number[] = new Array(n).fill(0);
  const visit = (k: number, left: number, err: number): void => {
    if (err + leastError[k]! >= best) return;
    if (k === n) {
      if (left < 0) return;
      best = err;
      found = pick.slice();
      return;
    }
    const choices = items[k]!;
    for (let c = 0; c < choices.length; c++) {
      const ch = choices[c]!;
      if (left - ch.cost + mostCash[k + 1]! < 0) continue;
      pick[k] = c;
      visit(k + 1, left - ch.cost, err + ch.error);
    }
    pick[k] = 0;
  };
  visit(0, cash - fixedCost, 0);
  if (found === undefined) return [];
  const picked = found;
  open.forEach((i, k) => {
    const d = cands[i]!;
    units[i] = d.unitCost === 0 ? units[i]! : Math.round(items[k]![picked[k]!]!.cost / d.unitCost);
  });
  const more: number[] = [];
  sells.forEach((_, j) => {
    if (picked[open.length + j] === 1) more.push(j);
  });
  return more;
}

/**
 * The reference as first written, when the planner floored every leg and exited a holding
 * whose target was within 2% of it: kept so that its figures stay comparable with earlier runs.
 */
export function floorOnlyPlan(input: FloatInput) {
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
    const level = waterLevel(items, available);
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
  const { projectedEquity, projectedWeights } = projectWeights(symbols, projectedQuantities, projectedCash);
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
