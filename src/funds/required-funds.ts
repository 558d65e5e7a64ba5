import { type Decimal, type DecimalLike, ONE, toDecimal, ZERO } from "../core/decimal.js";
import { ValidationError } from "../core/errors.js";

/** The default hold on a market buy, as a fraction of the price: 3%. */
export const DEFAULT_MARKET_BUY_BUFFER = "0.03";

/** The shape of an order {@link requiredFunds} prices: an intent, a request or a snapshot. */
export interface FundedOrder {
  /** Buy or sell. */
  side: "buy" | "sell";
  /** Market or limit. */
  type: "market" | "limit";
  /** Shares ordered. */
  qty?: Decimal;
  /** Dollars ordered. */
  notional?: Decimal;
  /** The limit price of a limit order. */
  limitPrice?: Decimal;
}

/**
 * The buying power an order holds while open, as the broker holds it.
 *
 * @param order - the order (intent, request or snapshot); sells hold nothing
 * @param price - the last price; needed only for a quantity market buy
 * @param marketBuyBuffer - the extra fraction held on a market buy
 * @param filledQty - shares already filled (their hold is released); 0 unless told
 * @param filledNotional - dollars already spent on a notional order; 0 unless told
 * @returns the hold: a notional buy holds its notional, a limit buy qty × limit, a
 *   market buy qty × price × (1 + buffer); never below zero
 * @throws ValidationError (`validation`) when a quantity market buy has no price
 * @defaultValue marketBuyBuffer 0.03
 * @example
 * ```ts
 * requiredFunds({ side: "buy", type: "market", qty: new Decimal(10) }, 50).toString(); // "515"
 * ```
 * @remarks Sells free money only when they fill, so they never count here.
 */
export function requiredFunds(
  order: FundedOrder,
  price?: DecimalLike,
  marketBuyBuffer: DecimalLike = DEFAULT_MARKET_BUY_BUFFER,
  filledQty: DecimalLike = 0,
  filledNotional: DecimalLike = 0,
): Decimal {
  if (order.side !== "buy") return ZERO;
  if (order.notional !== undefined) {
    const left = order.notional.minus(toDecimal(filledNotional, "filledNotional"));
    return left.isNegative() ? ZERO : left;
  }
  const qty = (order.qty ?? ZERO).minus(toDecimal(filledQty, "filledQty"));
  if (qty.lte(0)) return ZERO;
  if (order.type === "limit" && order.limitPrice !== undefined) return qty.times(order.limitPrice);
  if (price === undefined) {
    throw new ValidationError("price: expected the last price to reserve a market buy", {
      issues: [{ path: "price", message: "expected the last price to reserve a market buy", value: price }],
    });
  }
  const buffer = toDecimal(marketBuyBuffer, "marketBuyBuffer");
  return qty.times(toDecimal(price, "price")).times(ONE.plus(buffer));
}
