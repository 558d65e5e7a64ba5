import type { BuyDemand } from "./allocate-buys.js";
import type { PlanScales } from "./plan-scales.js";
import { ceilDiv, floorSteps, maxBig } from "./scaled.js";

/** What a buy is sized from (shares at scale Q, dollars at scale M, the price at scale P). */
export interface BuySizing {
  readonly symbol: string;
  /** Whether the buy is a notional order (in cents) rather than a quantity (in increments). */
  readonly notional: boolean;
  /** The reference price. */
  readonly price: bigint;
  /** Shares to buy: target − projected (> 0). */
  readonly delta: bigint;
  /** Their value, delta × price. */
  readonly deltaNotional: bigint;
  /** The order increment. */
  readonly increment: bigint;
  /** The smallest order, in dollars. */
  readonly minNotional: bigint;
  /** 1 + `marketBuyBuffer` (scale F). */
  readonly buyFactor: bigint;
  readonly scales: PlanScales;
  /**
   * The last minimum of a notional buy and its cents, shared by the buys of one plan (most
   * symbols have the same minimum: the division is done once).
   */
  readonly minCents: { notional: bigint; cents: bigint };
  /** Whether a quantity buy may round up to the nearest unit (else it is rounded down). */
  readonly nearest?: boolean | undefined;
}

/** A buy in whole units: increments of shares, or cents for a notional buy. */
export interface BuySize extends BuyDemand {
  /** Whether the units are cents of a notional order. */
  readonly notional: boolean;
  /** The share increment (scale Q). */
  readonly increment: bigint;
}

/**
 * Sizes the buy that reaches the target, in whole units rounded down (a value within a
 * millionth of a unit of the next counts as it), what one unit more would gain when more than
 * half a unit is left over, and the smallest buy allowed: at least one unit and the minimum
 * notional.
 *
 * @param s - what the buy is sized from
 * @returns the units wanted and their cost; `needUnits < minUnits` means no buy can be made
 * @example
 * ```ts
 * const size = sizeBuy({ symbol: "AAA", notional: true, price, delta, deltaNotional, increment,
 *   minNotional, buyFactor, scales, minCents: { notional: -1n, cents: 1n } });
 * size.needUnits; // cents of the notional order
 * ```
 */
export function sizeBuy(s: BuySizing): BuySize {
  const { notional, scales, increment } = s;
  const unitValue = notional ? scales.centM : increment * s.price;
  const needUnits = notional ? floorSteps(s.deltaNotional, scales.centM) : floorSteps(s.delta, increment);
  let minUnits: bigint;
  if (!notional) minUnits = maxBig(1n, ceilDiv(s.minNotional, unitValue));
  else if (s.minNotional === s.minCents.notional) minUnits = s.minCents.cents;
  else {
    minUnits = maxBig(1n, ceilDiv(s.minNotional, unitValue));
    s.minCents.notional = s.minNotional;
    s.minCents.cents = minUnits;
  }
  // A quantity buy's fraction of a unit past its whole units: more than half makes one unit
  // more the better rounding (what it gains in tracking error, scale M).
  let upGain = 0n;
  if (!notional && s.nearest === true) {
    const rest = s.delta - needUnits * increment;
    if (2n * rest > increment) upGain = (2n * rest - increment) * s.price;
  }
  return {
    symbol: s.symbol,
    notional,
    upGain,
    unitValue,
    unitCost: notional ? scales.centC : unitValue * s.buyFactor,
    costFactor: notional ? scales.oneF : s.buyFactor,
    needUnits,
    minUnits,
    increment,
  };
}
