import { minBig } from "./scaled.js";
import { compareStrings } from "./symbol-record.js";

// Exact integer arithmetic at the planner's scales (see plan-scales.ts): money at scale M
// (shares × dollars), cash counted at scale C = M + F, factors at scale F.

/** A buy the planner wants, in whole units (increments of shares, or cents for a notional buy). */
export interface BuyDemand {
  /** The symbol (ties are broken by it). */
  readonly symbol: string;
  /** Dollars per unit at the reference price (scale M). */
  readonly unitValue: bigint;
  /** Cash counted per unit, scale C: unitValue × (1 + marketBuyBuffer) for a quantity market buy. */
  readonly unitCost: bigint;
  /** Cash counted per dollar bought, scale F: 1, or 1 + marketBuyBuffer. */
  readonly costFactor: bigint;
  /** Units that reach the target. */
  readonly needUnits: bigint;
  /** Units of the smallest allowed leg. */
  readonly minUnits: bigint;
  /**
   * What one unit past `needUnits` gains in tracking error (scale M): (2r − 1) × unitValue when
   * a fraction r > ½ of a unit is left over, else zero (no rounding up).
   */
  readonly upGain: bigint;
}

/** One buy while the cash is shared out. */
export interface Allocation {
  readonly demand: BuyDemand;
  /** Its place among the demands. */
  readonly index: number;
  /** The shortfall in dollars, scale M: needUnits × unitValue. */
  readonly deficit: bigint;
  /** Units given so far. */
  units: bigint;
}

/** The water level as an exact fraction, scale M: num / den. */
export interface WaterLevel {
  readonly num: bigint;
  readonly den: bigint;
}

/**
 * Sizes buys to fit the cash: all of them when they fit; otherwise water filling (the most
 * underweight in dollars first, every buy brought down to a common remaining shortfall),
 * floored to whole units, then the cash left handed out unit by unit, largest shortfall first.
 * Exact: the water level is kept as a fraction, never rounded.
 *
 * @param demands - the buys wanted, each at least its minimum
 * @param cash - the cash buys may use, at least zero, scale C
 * @returns units per demand, in order (zero: no leg); Σ units × unitCost ≤ cash
 * @example
 * ```ts
 * allocateBuys([aaa, bbb], cash); // [units of aaa, units of bbb]
 * ```
 */
export function allocateBuys(demands: readonly BuyDemand[], cash: bigint): bigint[] {
  let total = 0n;
  for (const d of demands) total += d.needUnits * d.unitCost;
  if (total <= cash) {
    const units = demands.map((d) => d.needUnits);
    roundUp(demands, units, cash - total);
    return units;
  }
  const items = byDeficit(demands);
  let left = fillToLevel(items, waterLevel(items, cash), cash);
  left = giveBackUntilFits(items, left);
  left = handOutRest(items, left);
  const units: bigint[] = new Array(demands.length);
  for (const it of items) units[it.index] = it.units;
  roundUp(demands, units, left);
  return units;
}

/** Up to this many buys and sells with a rounding choice, every choice of theirs is tried. */
export const EXACT_CHOICE_LIMIT = 8;

/**
 * A sell that may round the other way to fund the buys: one increment more than its nearest
 * rounding, which costs tracking error and brings cash.
 */
export interface SellRounding {
  /** The extra tracking error of selling one increment more (scale M, ≥ 0). */
  readonly error: bigint;
  /** The cash it brings to the buys (scale C, > 0). */
  readonly cash: bigint;
}

/** Whether a buy has a rounding choice: it may round up, or was given less than its need. */
function hasChoice(d: BuyDemand, units: bigint): boolean {
  return d.upGain > 0n || units < d.needUnits;
}

/**
 * How many buys have a rounding choice ({@link refineRounding} tries every choice only when
 * these and the sells with one are at most {@link EXACT_CHOICE_LIMIT}).
 *
 * @param demands - the buys
 * @param units - their units so far
 * @returns the number of buys with a choice
 */
export function buysWithChoice(demands: readonly BuyDemand[], units: readonly bigint[]): number {
  let n = 0;
  for (let i = 0; i < demands.length; i++) if (hasChoice(demands[i]!, units[i]!)) n++;
  return n;
}

/**
 * The exact best rounding for a few buys and sells: each buy that may round up, or was given
 * less than its need, tries none, what it was given, its need rounded down and rounded up
 * (each at least its minimum); each sell in `sells` tries its nearest rounding and one
 * increment more (whose proceeds the buys may spend). The choice of least tracking error
 * within the cash wins when it is strictly better than the allocation (which then stands: the
 * most underweight first). Skipped when more than {@link EXACT_CHOICE_LIMIT} have a choice.
 *
 * @param demands - the buys
 * @param units - their units so far (replaced when a better choice exists)
 * @param cash - the cash, scale C
 * @param sells - sells that may sell one increment more
 * @returns the indexes of `sells` that sell one increment more
 * @example
 * ```ts
 * const more = refineRounding(demands, units, cash, []); // [] (no sells to round)
 * ```
 */
export function refineRounding(
  demands: readonly BuyDemand[],
  units: bigint[],
  cash: bigint,
  sells: readonly SellRounding[] = [],
): number[] {
  const open: number[] = [];
  for (let i = 0; i < demands.length; i++) if (hasChoice(demands[i]!, units[i]!)) open.push(i);
  if (open.length === 0 || open.length + sells.length > EXACT_CHOICE_LIMIT) return [];
  let fixedCost = 0n;
  for (let i = 0; i < demands.length; i++) {
    const d = demands[i]!;
    if (!hasChoice(d, units[i]!)) fixedCost += units[i]! * d.unitCost;
  }
  // Tracking error of each choice, less a constant per buy: (need − u) × unitValue up to the
  // need, −upGain one unit past it.
  const error = (d: BuyDemand, u: bigint) => (u <= d.needUnits ? (d.needUnits - u) * d.unitValue : -d.upGain);
  // Each item's choices as (cost, error): the buys first, then the sells (a negative cost).
  const items: { cost: bigint; error: bigint }[][] = open.map((i) => {
    const d = demands[i]!;
    const set = new Set([0n, units[i]!, d.needUnits]);
    if (d.upGain > 0n) set.add(d.needUnits + 1n);
    return [...set]
      .filter((u) => u === 0n || u >= d.minUnits)
      .map((u) => ({ cost: u * d.unitCost, error: error(d, u) }));
  });
  for (const s of sells)
    items.push([
      { cost: 0n, error: 0n },
      { cost: -s.cash, error: s.error },
    ]);
  const picked = bestChoice(
    items,
    cash - fixedCost,
    open.reduce((e, i) => e + error(demands[i]!, units[i]!), 0n),
  );
  if (picked === undefined) return [];
  const current = items.map((choices) => choices[0]!);
  open.forEach((i, k) => {
    const d = demands[i]!;
    const choice = items[k]![picked[k]!]!;
    current[k] = choice;
    // The units back from the cost.
    units[i] = d.unitCost === 0n ? units[i]! : choice.cost / d.unitCost;
  });
  const more: number[] = [];
  sells.forEach((_, j) => {
    if (picked[open.length + j] === 1) more.push(j);
  });
  return more;
}

/**
 * The choice per item of least total error with Σ cost ≤ room (a depth-first search, pruned by
 * the least error each item could still reach and, for the cost, by the most cash the sells
 * left could bring); undefined unless strictly below `start`.
 */
function bestChoice(
  items: readonly { cost: bigint; error: bigint }[][],
  room: bigint,
  start: bigint,
): number[] | undefined {
  const n = items.length;
  const leastError: bigint[] = new Array(n + 1).fill(0n);
  const mostCash: bigint[] = new Array(n + 1).fill(0n);
  for (let k = n - 1; k >= 0; k--) {
    let e: bigint | undefined;
    let c = 0n;
    for (const ch of items[k]!) {
      e = e === undefined || ch.error < e ? ch.error : e;
      if (ch.cost < c) c = ch.cost;
    }
    leastError[k] = leastError[k + 1]! + (e ?? 0n);
    mostCash[k] = mostCash[k + 1]! - c;
  }
  let best = start;
  let found: number[] | undefined;
  const pick: number[] = new Array(n).fill(0);
  const visit = (k: number, left: bigint, err: bigint): void => {
    if (err + leastError[k]! >= best) return;
    if (k === n) {
      if (left < 0n) return;
      best = err;
      found = pick.slice();
      return;
    }
    const choices = items[k]!;
    for (let c = 0; c < choices.length; c++) {
      const ch = choices[c]!;
      // The cash the sells after this one could still bring must cover what is spent.
      if (left - ch.cost + mostCash[k + 1]! < 0n) continue;
      pick[k] = c;
      visit(k + 1, left - ch.cost, err + ch.error);
    }
    pick[k] = 0;
  };
  visit(0, room, 0n);
  return found;
}

/** At most this many buys are rounded up by an exact search; more, greedily by gain per dollar. */
export const EXACT_ROUNDING_LIMIT = 16;

/** Taking a buy to one unit past its need: what it gains in tracking error and what it costs. */
interface RoundUp {
  readonly index: number;
  readonly symbol: string;
  /** Scale M. */
  readonly gain: bigint;
  /** Scale C. */
  readonly cost: bigint;
}

/**
 * The best rounding the cash left allows: each buy whose need leaves more than half a unit over
 * may go to one unit past it (from whatever it was given), when that reaches its minimum. The
 * set taken maximizes the tracking error saved within the cash left: exactly (a branch and
 * bound) for up to {@link EXACT_ROUNDING_LIMIT} candidates, greedily by gain per dollar beyond.
 *
 * @param demands - the buys
 * @param units - units per demand (raised in place)
 * @param left - the cash left, scale C
 * @returns the cash left after
 * @example
 * ```ts
 * const units = demands.map((d) => d.needUnits);
 * roundUp(demands, units, cashLeft);
 * ```
 */
export function roundUp(demands: readonly BuyDemand[], units: bigint[], left: bigint): bigint {
  const candidates: RoundUp[] = [];
  for (let i = 0; i < demands.length; i++) {
    const d = demands[i]!;
    const u = units[i]!;
    if (d.upGain <= 0n || u > d.needUnits || d.needUnits + 1n < d.minUnits) continue;
    const cost = (d.needUnits + 1n - u) * d.unitCost;
    if (cost <= left)
      candidates.push({ index: i, symbol: d.symbol, gain: (d.needUnits - u) * d.unitValue + d.upGain, cost });
  }
  if (candidates.length === 0) return left;
  // Best gain per dollar first, then by symbol.
  candidates.sort((a, b) => {
    const x = a.gain * b.cost;
    const y = b.gain * a.cost;
    return x > y ? -1 : x < y ? 1 : compareStrings(a.symbol, b.symbol);
  });
  const chosen =
    candidates.length <= EXACT_ROUNDING_LIMIT ? bestSubset(candidates, left) : greedy(candidates, left);
  for (const c of chosen) {
    units[c.index] = demands[c.index]!.needUnits + 1n;
    left -= c.cost;
  }
  return left;
}

function greedy(candidates: readonly RoundUp[], left: bigint): RoundUp[] {
  const chosen: RoundUp[] = [];
  for (const c of candidates) {
    if (c.cost > left) continue;
    chosen.push(c);
    left -= c.cost;
  }
  return chosen;
}

/**
 * The subset of largest total gain within `left` (0/1 knapsack), by depth-first search over the
 * candidates sorted by gain per dollar, pruned by the fractional bound. Ties keep the first found.
 */
function bestSubset(candidates: readonly RoundUp[], left: bigint): RoundUp[] {
  const n = candidates.length;
  let best: boolean[] = new Array(n).fill(false);
  let bestGain = -1n;
  const take: boolean[] = new Array(n).fill(false);
  // An upper bound on the gain of candidates k.. within `room`: whole ones by ratio, then a fraction.
  const bound = (k: number, room: bigint): { num: bigint; den: bigint } => {
    let whole = 0n;
    for (let i = k; i < n; i++) {
      const c = candidates[i]!;
      if (c.cost <= room) {
        whole += c.gain;
        room -= c.cost;
      } else return { num: whole * c.cost + c.gain * room, den: c.cost };
    }
    return { num: whole, den: 1n };
  };
  const visit = (k: number, room: bigint, gain: bigint): void => {
    if (gain > bestGain) {
      bestGain = gain;
      best = take.slice();
      for (let i = k; i < n; i++) best[i] = false;
    }
    if (k === n) return;
    const b = bound(k, room);
    if (gain * b.den + b.num <= bestGain * b.den) return;
    const c = candidates[k]!;
    if (c.cost <= room) {
      take[k] = true;
      visit(k + 1, room - c.cost, gain + c.gain);
      take[k] = false;
    }
    visit(k + 1, room, gain);
  };
  visit(0, left, 0n);
  return candidates.filter((_, i) => best[i]);
}

/**
 * The buys as allocations (no units yet), largest shortfall first, then by symbol.
 *
 * @param demands - the buys wanted
 * @returns one allocation per demand, sorted
 */
export function byDeficit(demands: readonly BuyDemand[]): Allocation[] {
  const items = demands.map((demand, index) => ({
    demand,
    index,
    deficit: demand.needUnits * demand.unitValue,
    units: 0n,
  }));
  items.sort((a, b) =>
    a.deficit > b.deficit ? -1 : a.deficit < b.deficit ? 1 : compareStrings(a.demand.symbol, b.demand.symbol),
  );
  return items;
}

/**
 * The water level L where Σ factor_i · max(0, D_i − L) = cash, D_i the shortfall in dollars and
 * factor_i the cash counted per dollar bought (zero when the cash covers every shortfall).
 *
 * @param items - the buys, largest shortfall first
 * @param cash - the cash, scale C
 * @returns L exactly, as a fraction at scale M
 */
export function waterLevel(items: readonly Allocation[], cash: bigint): WaterLevel {
  let sumFD = 0n;
  let sumF = 0n;
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    sumFD += it.demand.costFactor * it.deficit;
    sumF += it.demand.costFactor;
    const next = items[k + 1];
    // The level with the first k + 1 buys active, (ΣfD − cash) / Σf, is valid once it reaches
    // the next shortfall.
    if (next === undefined || sumFD - cash >= next.deficit * sumF) {
      const num = sumFD - cash;
      return { num: num < 0n ? 0n : num, den: sumF };
    }
  }
  return { num: 0n, den: 1n };
}

/**
 * Gives each buy the whole units that bring it down to the level (none under its minimum).
 *
 * @param items - the buys; their `units` are set
 * @param level - the water level
 * @param cash - the cash, scale C
 * @returns the cash left (negative only if flooring overspent, which an exact level never does)
 */
export function fillToLevel(items: readonly Allocation[], level: WaterLevel, cash: bigint): bigint {
  let left = cash;
  for (const it of items) {
    const d = it.demand;
    let units = 0n;
    // deficit > L, and the units that fit: ⌊(deficit − L) / unitValue⌋.
    const over = it.deficit * level.den - level.num;
    if (over > 0n) {
      units = minBig(over / (level.den * d.unitValue), d.needUnits);
      if (units < d.minUnits) units = 0n;
    }
    it.units = units;
    left -= units * d.unitCost;
  }
  return left;
}

/**
 * A guard: while the units cost more than the cash, takes single units back from the costliest
 * buy (all of them where one fewer would be under its minimum).
 *
 * @param items - the buys; their `units` may shrink
 * @param left - the cash left, scale C
 * @returns the cash left, ≥ 0 unless no units remain
 */
export function giveBackUntilFits(items: readonly Allocation[], left: bigint): bigint {
  while (left < 0n) {
    let largest: Allocation | undefined;
    let largestCost = 0n;
    for (const it of items) {
      if (it.units <= 0n) continue;
      const cost = it.units * it.demand.unitCost;
      if (largest === undefined || cost > largestCost) {
        largest = it;
        largestCost = cost;
      }
    }
    if (largest === undefined) break;
    const u = largest.units - 1n;
    const dropped = u < largest.demand.minUnits ? largest.units : 1n;
    largest.units = u < largest.demand.minUnits ? 0n : u;
    left += dropped * largest.demand.unitCost;
  }
  return left;
}

/**
 * Hands out what flooring left, largest remaining shortfall first: to each buy the units the
 * cash still pays for, up to what it needs (a buy with none gets at least its minimum or
 * nothing).
 *
 * @param items - the buys; their `units` may grow
 * @param left - the cash left, scale C
 * @returns the cash left after
 */
export function handOutRest(items: readonly Allocation[], left: bigint): bigint {
  const rest: { it: Allocation; short: bigint }[] = [];
  for (const it of items) {
    const short = it.deficit - it.units * it.demand.unitValue;
    if (short > 0n) rest.push({ it, short });
  }
  rest.sort((a, b) =>
    a.short > b.short ? -1 : a.short < b.short ? 1 : compareStrings(a.it.demand.symbol, b.it.demand.symbol),
  );
  for (const { it } of rest) {
    const d = it.demand;
    if (left < d.unitCost) continue;
    const have = it.units;
    let add = minBig(left / d.unitCost, d.needUnits - have);
    if (have === 0n && add < d.minUnits) add = 0n;
    if (add <= 0n) continue;
    it.units = have + add;
    left -= add * d.unitCost;
  }
  return left;
}
