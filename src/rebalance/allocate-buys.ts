import type { OrderSnapshot } from "../broker/broker-port.js";
import type { Decimal } from "../core/decimal.js";
import type { LegReason } from "./rebalance-plan.js";
import { minBig } from "./scaled.js";

// Exact integer arithmetic at the planner's scales (see scaled.ts): money at scale M (shares ×
// dollars), cash counted at scale C = M + F, factors at scale F.

/** Open orders of one side of one symbol. */
export interface OpenSide {
  orders: OrderSnapshot[];
  /** Unfilled shares at the quantity scale (at the reference price for notional orders). */
  qty: bigint;
}

/** A buy the planner wants, in whole units (increments of shares, or cents for a notional buy). */
export interface BuyCandidate {
  /** Index of the symbol in the planner's table. */
  index: number;
  symbol: string;
  /** Whether the buy is a notional order (units are cents). */
  notional: boolean;
  /** Dollars per unit at the reference price (scale M). */
  unitValue: bigint;
  /** Cash counted per unit, scale C: unitValue × (1 + marketBuyBuffer) for a quantity market buy. */
  unitCost: bigint;
  /** Cash counted per dollar bought, scale F: 1, or 1 + marketBuyBuffer. */
  costFactor: bigint;
  /** Units that reach the target. */
  needUnits: bigint;
  /** Units of the smallest allowed leg. */
  minUnits: bigint;
  /** Projected shares (held + kept open buys) and the target, scale Q. */
  projected: bigint;
  target: bigint;
  reason: LegReason;
  /** The symbol's open sells: conflicts to cancel once the buy is kept. */
  opposite: OpenSide | undefined;
  /** The share increment (scale Q). */
  increment: bigint;
  /** The target as a decimal, for the leg. */
  targetQty: Decimal;
}

interface Item {
  c: BuyCandidate;
  /** The shortfall in dollars, scale M. */
  deficit: bigint;
  units: bigint;
}

const bySymbol = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Sizes buys to fit the cash: all of them when they fit; otherwise water filling (the most
 * underweight in dollars first, every buy brought down to a common remaining shortfall),
 * floored to whole units, then the cash left handed out unit by unit, largest shortfall first.
 * Exact: the water level is kept as a fraction, never rounded.
 *
 * @param candidates - the buys wanted, each at least its minimum
 * @param cash - the cash buys may use, at least zero, scale C
 * @returns units per candidate, in order (zero: no leg); Σ units × unitCost ≤ cash
 */
export function allocateBuys(candidates: readonly BuyCandidate[], cash: bigint): bigint[] {
  const n = candidates.length;
  let total = 0n;
  for (const c of candidates) total += c.needUnits * c.unitCost;
  if (total <= cash) return candidates.map((c) => c.needUnits);

  // Water level L: Σ factor_i · max(0, D_i − L) = cash, where D_i is the shortfall in dollars
  // and factor_i the cash counted per dollar bought. L = levelNum / levelDen exactly.
  const items: Item[] = candidates.map((c) => ({ c, deficit: c.needUnits * c.unitValue, units: 0n }));
  items.sort((a, b) =>
    a.deficit > b.deficit ? -1 : a.deficit < b.deficit ? 1 : bySymbol(a.c.symbol, b.c.symbol),
  );
  let sumFD = 0n;
  let sumF = 0n;
  let levelNum = 0n;
  let levelDen = 1n;
  for (let k = 0; k < n; k++) {
    const it = items[k]!;
    sumFD += it.c.costFactor * it.deficit;
    sumF += it.c.costFactor;
    const next = items[k + 1];
    // The level with the first k + 1 buys active, (ΣfD − cash) / Σf, is valid once it reaches
    // the next shortfall.
    if (next === undefined || sumFD - cash >= next.deficit * sumF) {
      const num = sumFD - cash;
      levelNum = num < 0n ? 0n : num;
      levelDen = sumF;
      break;
    }
  }

  let left = cash;
  for (const it of items) {
    const c = it.c;
    let units = 0n;
    // deficit > L, and the units that fit: ⌊(deficit − L) / unitValue⌋.
    const over = it.deficit * levelDen - levelNum;
    if (over > 0n) {
      const fit = over / (levelDen * c.unitValue);
      units = minBig(fit, c.needUnits);
      if (units < c.minUnits) units = 0n;
    }
    it.units = units;
    left -= units * c.unitCost;
  }
  // Flooring never overspends an exact level; kept as a guard: give back single units until
  // the total fits.
  while (left < 0n) {
    let largest: Item | undefined;
    let largestCost = 0n;
    for (const it of items) {
      if (it.units <= 0n) continue;
      const cost = it.units * it.c.unitCost;
      if (largest === undefined || cost > largestCost) {
        largest = it;
        largestCost = cost;
      }
    }
    if (largest === undefined) break;
    const u = largest.units - 1n;
    const dropped = u < largest.c.minUnits ? largest.units : 1n;
    largest.units = u < largest.c.minUnits ? 0n : u;
    left += dropped * largest.c.unitCost;
  }

  // Hand out what flooring left, largest remaining shortfall first.
  const rest: { it: Item; short: bigint }[] = [];
  for (const it of items) {
    const short = it.deficit - it.units * it.c.unitValue;
    if (short > 0n) rest.push({ it, short });
  }
  rest.sort((a, b) =>
    a.short > b.short ? -1 : a.short < b.short ? 1 : bySymbol(a.it.c.symbol, b.it.c.symbol),
  );
  for (const { it } of rest) {
    const c = it.c;
    if (left < c.unitCost) continue;
    const have = it.units;
    const affordable = left / c.unitCost;
    const room = c.needUnits - have;
    let add = minBig(affordable, room);
    if (have === 0n && add < c.minUnits) add = 0n;
    if (add <= 0n) continue;
    it.units = have + add;
    left -= add * c.unitCost;
  }
  const units = new Map<BuyCandidate, bigint>();
  for (const it of items) units.set(it.c, it.units);
  return candidates.map((c) => units.get(c) ?? 0n);
}
