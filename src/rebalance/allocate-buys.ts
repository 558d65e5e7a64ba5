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
  if (total <= cash) return demands.map((d) => d.needUnits);
  const items = byDeficit(demands);
  let left = fillToLevel(items, waterLevel(items, cash), cash);
  left = giveBackUntilFits(items, left);
  handOutRest(items, left);
  const units: bigint[] = new Array(demands.length);
  for (const it of items) units[it.index] = it.units;
  return units;
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
