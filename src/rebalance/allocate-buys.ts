import { Decimal, ONE, ZERO } from "../core/decimal.js";

const HUNDRED = new Decimal(100);

import type { OpenSide } from "./calculate-rebalance-orders.js";
import type { LegReason } from "./rebalance-plan.js";

/** A buy the planner wants, in whole units (increments of shares, or cents for a notional buy). */
export interface BuyCandidate {
  symbol: string;
  price: Decimal;
  /** The share increment (qty buys). */
  increment: Decimal;
  /** Whether the buy is a notional order (units are cents). */
  notional: boolean;
  /** Dollars per unit at the reference price. */
  unitValue: Decimal;
  /** Cash counted per unit (unitValue × (1 + marketBuyBuffer) for a quantity market buy). */
  unitCost: Decimal;
  /** Cash counted per dollar bought: 1, or 1 + marketBuyBuffer. */
  costFactor: Decimal;
  /** Units that reach the target. */
  needUnits: Decimal;
  /** Units of the smallest allowed leg. */
  minUnits: Decimal;
  heldQty: Decimal;
  projectedQty: Decimal;
  targetQty: Decimal;
  reason: LegReason;
  /** The symbol's open sells: conflicts to cancel once the buy is kept. */
  opposite: OpenSide | undefined;
}

/**
 * Sizes buys to fit the cash: all of them when they fit; otherwise water filling (the most
 * underweight in dollars first, every buy brought down to a common remaining shortfall),
 * floored to whole units, then the cash left handed out unit by unit, largest shortfall first.
 *
 * @param candidates - the buys wanted, each at least its minimum
 * @param cash - the cash buys may use, at least zero
 * @returns units per candidate (zero or absent: no leg); Σ units × unitCost ≤ cash
 */
export function allocateBuys(candidates: readonly BuyCandidate[], cash: Decimal): Map<BuyCandidate, Decimal> {
  const result = new Map<BuyCandidate, Decimal>();
  if (candidates.length === 0) return result;
  let total = ZERO;
  for (const c of candidates) total = total.plus(c.needUnits.times(c.unitCost));
  if (total.lte(cash)) {
    for (const c of candidates) result.set(c, c.needUnits);
    return result;
  }

  // Water level L: Σ factor_i · max(0, D_i − L) = cash, where D_i is the shortfall in dollars
  // and factor_i the cash counted per dollar bought.
  const items = candidates.map((c) => {
    const deficit = c.needUnits.times(c.unitValue);
    return { c, deficit, key: deficit.toNumber(), factor: c.costFactor };
  });
  items.sort(
    (a, b) =>
      b.key - a.key ||
      b.deficit.cmp(a.deficit) ||
      (a.c.symbol < b.c.symbol ? -1 : a.c.symbol > b.c.symbol ? 1 : 0),
  );
  let sumFD = ZERO;
  let sumF = ZERO;
  let level = ZERO;
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    sumFD = sumFD.plus(it.factor === ONE ? it.deficit : it.factor.times(it.deficit));
    sumF = sumF.plus(it.factor);
    const next = items[k + 1];
    // The level with the first k + 1 buys active, L = (ΣfD − cash) / Σf, is valid once it
    // reaches the next shortfall; compared without dividing.
    if (next === undefined || sumFD.minus(cash).gte(next.deficit.times(sumF))) {
      const candidate = sumFD.minus(cash).div(sumF);
      level = candidate.isNegative() ? ZERO : candidate;
      break;
    }
  }

  let left = cash;
  for (const it of items) {
    const c = it.c;
    let units = ZERO;
    if (it.deficit.gt(level)) {
      const over = it.deficit.minus(level);
      const fit = (c.notional ? over.times(HUNDRED) : over.div(c.unitValue)).floor();
      units = fit.lt(c.needUnits) ? fit : c.needUnits;
      if (units.lt(c.minUnits)) units = ZERO;
    }
    result.set(c, units);
    left = left.minus(units.times(c.unitCost));
  }
  // The level is a rounded quotient: give back single units until the total fits.
  while (left.isNegative()) {
    let largest: BuyCandidate | undefined;
    for (const it of items) {
      const u = result.get(it.c) ?? ZERO;
      if (
        isPositive(u) &&
        (largest === undefined || u.times(it.c.unitCost).gt(largestCost(result, largest)))
      ) {
        largest = it.c;
      }
    }
    if (largest === undefined) break;
    const u = (result.get(largest) ?? ZERO).minus(1);
    const dropped = u.lt(largest.minUnits) ? u.plus(1) : new Decimal(1);
    result.set(largest, u.lt(largest.minUnits) ? ZERO : u);
    left = left.plus(dropped.times(largest.unitCost));
  }

  // Hand out what flooring left, largest remaining shortfall first.
  const rest = [];
  for (const it of items) {
    const short = it.deficit.minus((result.get(it.c) ?? ZERO).times(it.c.unitValue));
    if (isPositive(short)) rest.push({ it, short, key: short.toNumber() });
  }
  rest.sort(
    (a, b) =>
      b.key - a.key ||
      b.short.cmp(a.short) ||
      (a.it.c.symbol < b.it.c.symbol ? -1 : a.it.c.symbol > b.it.c.symbol ? 1 : 0),
  );
  for (const { it } of rest) {
    const c = it.c;
    if (left.lt(c.unitCost)) continue;
    const have = result.get(c) ?? ZERO;
    const affordable = (c.notional ? left.times(HUNDRED) : left.div(c.unitCost)).floor();
    const room = c.needUnits.minus(have);
    let add = affordable.lt(room) ? affordable : room;
    if (have.isZero() && add.lt(c.minUnits)) add = ZERO;
    if (!isPositive(add)) continue;
    result.set(c, have.plus(add));
    left = left.minus(add.times(c.unitCost));
  }
  return result;
}

function largestCost(result: Map<BuyCandidate, Decimal>, c: BuyCandidate): Decimal {
  return (result.get(c) ?? ZERO).times(c.unitCost);
}

/**
 * Whether a finite decimal is above zero; `d.gt(0)` without building a decimal from the 0.
 *
 * @param d - a finite decimal
 * @returns true when d > 0
 */
export function isPositive(d: Decimal): boolean {
  return !d.isZero() && !d.isNegative();
}
