import type { OrderSide, Quote } from "../../broker/broker-port.js";
import { Decimal, Rounding } from "../../core/decimal.js";

// Pure pricing of limit policies: whether a quote is usable, the spread, each step's limit,
// the collar and the slippage cap, all on Alpaca's price ticks.

/** Why a quote cannot be used. */
export type QuoteProblem = "missing" | "one_sided" | "crossed" | "stale";

/**
 * Whether a quote can price a limit: both sides quoted, not crossed, not older than
 * `maxAgeMs`.
 *
 * @param quote - the quote, or undefined when there is none
 * @param now - the clock time (ms)
 * @param maxAgeMs - the oldest usable quote
 * @returns undefined when usable, else the problem
 * @example
 * ```ts
 * quoteProblem({ bid: new Decimal(10), ask: new Decimal(9), asOf: new Date(clock.now()) }, clock.now(), 60_000); // "crossed"
 * ```
 */
export function quoteProblem(
  quote: Quote | undefined,
  now: number,
  maxAgeMs: number,
): QuoteProblem | undefined {
  if (quote === undefined) return "missing";
  if (quote.bid.lte(0) || quote.ask.lte(0)) return "one_sided";
  if (quote.bid.gt(quote.ask)) return "crossed";
  if (now - quote.asOf.getTime() > maxAgeMs) return "stale";
  return undefined;
}

/**
 * @param quote - a usable quote
 * @returns its mid
 */
export function midOf(quote: Quote): Decimal {
  return quote.bid.plus(quote.ask).div(2);
}

/**
 * @param quote - a usable quote
 * @returns its spread in basis points of the mid
 */
export function spreadBpsOf(quote: Quote): number {
  const mid = midOf(quote);
  return mid.isZero() ? 0 : quote.ask.minus(quote.bid).div(mid).times(10_000).toNumber();
}

/**
 * A price on Alpaca's tick (2 decimals at $1 and above, 4 below), rounded toward the side
 * that keeps a buy from paying more and a sell from receiving less than asked for: a buy
 * limit down, a sell limit up.
 *
 * @param price - the price
 * @param side - the order's side
 * @returns the price on a tick
 */
export function toTick(price: Decimal, side: OrderSide): Decimal {
  const places = price.gte(1) ? 2 : 4;
  return price.toDecimalPlaces(places, side === "buy" ? Rounding.down : Rounding.up);
}

/**
 * The slippage cap as a limit: a buy never above `arrivalMid × (1 + cap)`, a sell never below
 * `arrivalMid × (1 − cap)`.
 *
 * @param arrivalMid - the mid when the leg started
 * @param side - the side
 * @param capBps - the cap in bps
 * @returns the worst limit allowed, on a tick
 */
export function slippageCapPrice(arrivalMid: Decimal, side: OrderSide, capBps: number): Decimal {
  const f = new Decimal(capBps).div(10_000);
  return toTick(
    side === "buy" ? arrivalMid.times(f.plus(1)) : arrivalMid.times(new Decimal(1).minus(f)),
    side,
  );
}

/**
 * A marketable limit: the far touch moved by the collar against the order (a buy at
 * `ask × (1 + collar)`), on a tick.
 *
 * @param quote - a usable quote
 * @param side - the side
 * @param collarBps - the collar in bps
 * @returns the limit
 */
export function marketableLimit(quote: Quote, side: OrderSide, collarBps: number): Decimal {
  const f = new Decimal(collarBps).div(10_000);
  return toTick(side === "buy" ? quote.ask.times(f.plus(1)) : quote.bid.times(new Decimal(1).minus(f)), side);
}

/**
 * The limit of step `k` of `steps` (from 0): from the start (the mid, or the near touch)
 * toward the far touch in equal parts, the last step at the far touch; on a tick.
 *
 * @param quote - a usable quote
 * @param side - the side
 * @param k - the step, 0 ≤ k < steps
 * @param steps - how many steps
 * @param startAt - `mid` or `near`
 * @returns the limit
 */
export function stepLimit(
  quote: Quote,
  side: OrderSide,
  k: number,
  steps: number,
  startAt: "mid" | "near",
): Decimal {
  const far = side === "buy" ? quote.ask : quote.bid;
  const start = startAt === "mid" ? midOf(quote) : side === "buy" ? quote.bid : quote.ask;
  if (steps <= 1) return toTick(far, side);
  const price = start.plus(
    far
      .minus(start)
      .times(k)
      .div(steps - 1),
  );
  return toTick(price, side);
}

/**
 * A limit held within the slippage cap: the worse of the two is replaced by the cap.
 *
 * @param limit - the policy's limit
 * @param cap - the cap's limit, if any
 * @param side - the side
 * @returns the limit to send
 */
export function withinCap(limit: Decimal, cap: Decimal | undefined, side: OrderSide): Decimal {
  if (cap === undefined) return limit;
  return side === "buy" ? Decimal.min(limit, cap) : Decimal.max(limit, cap);
}

/**
 * Slippage of a fill against the arrival mid, positive when it cost: bps of the notional, and
 * dollars.
 *
 * @param side - the side
 * @param arrivalMid - the mid when the leg started
 * @param avgPrice - the average fill price
 * @param qty - the shares filled
 * @returns bps and dollars (0 for no fill)
 */
export function slippageOf(
  side: OrderSide,
  arrivalMid: Decimal,
  avgPrice: Decimal | undefined,
  qty: Decimal,
): { bps: number; dollars: Decimal } {
  if (avgPrice === undefined || qty.isZero() || arrivalMid.isZero())
    return { bps: 0, dollars: new Decimal(0) };
  const perShare = side === "buy" ? avgPrice.minus(arrivalMid) : arrivalMid.minus(avgPrice);
  return { bps: perShare.div(arrivalMid).times(10_000).toNumber(), dollars: perShare.times(qty) };
}
