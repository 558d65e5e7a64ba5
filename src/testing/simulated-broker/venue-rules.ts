/**
 * The simulated venue's rules: what Alpaca refuses and how it says so, in one place.
 *
 * Facts cited from `reference/alpaca-facts.md` (section numbers in brackets). Every refusal
 * below is thrown at submit as a `BrokerError` carrying Alpaca's `brokerCode` (the 8-digit
 * `code` of the reply body) and its message text; the fake Alpaca server turns it back into
 * the HTTP reply.
 *
 * Orders (`POST /v2/orders`), checked by {@link VENUE_RULES} in this order, the first
 * refusal wins (a request that fails the order schema is refused before any rule:
 * `invalid_order`, 40010001, the schema's message):
 * 1. {@link uniqueClientOrderId}: the client order id of an order the venue took is unique
 *    for the account forever, even after the order ended [2.5] (the id of a request refused
 *    at submit can be used again): `duplicate_client_order_id`, 40010001, "client_order_id
 *    must be unique".
 * 2. {@link knownAsset}: an unknown symbol is `invalid_order`, 42210000, "asset not found: SYM"
 *    (the simulator's text).
 * 3. {@link tradableAsset}: an untradable asset is `rejected`, 42210000, "asset SYM is not
 *    tradable" (the simulator's text; DESIGN's contract says `rejected`).
 * 4. {@link notionalIsMarket}: a notional order must be a market order: `invalid_order`,
 *    42210000, "notional orders must be market orders". Stricter than Alpaca today, which
 *    takes fractional limit orders [6.1]: the simulator keeps to the safe subset
 *    (market + day), as the contract lets a port refuse what it cannot carry out.
 * 5. {@link extendedHoursIsDayLimit}: extended hours only for DAY limit orders [2.5]:
 *    `invalid_order`, 42210000, "extended hours orders must be DAY limit orders".
 * 6. {@link atMostNineDecimals}: `qty` and `notional` take at most 9 decimals [6.2]:
 *    `invalid_order`, 40010001, "qty must have at most 9 decimal places".
 * 7. {@link fractionableAsset}: a fractional qty or a notional needs a fractionable asset
 *    [6.1]: `not_fractionable`, 40310000, "requested asset is not fractionable".
 * 8. {@link wholeIncrements}: a qty is a multiple of the asset's increment (whole shares for
 *    a non-fractionable asset [6.2], where Alpaca says "qty must be integer"):
 *    `invalid_order`, 40010001, "qty must be a multiple of INC".
 * 9. {@link fractionalIsDay}: fractional and notional orders are DAY orders [6.1]:
 *    `invalid_order`, 42210000, "fractional orders must be DAY orders".
 * 10. {@link limitPriceTick}: limit prices have 2 decimals at $1 and above, 4 below [2.5, 6.2]:
 *    `invalid_order`, 42210000, "invalid limit_price P. sub-penny increment does not fulfill
 *    minimum pricing criteria".
 * 11. {@link marketHasPrice}: a market order needs a price to fill at: `invalid_order`,
 *    42210000, "no market price for SYM" (the simulator's own rule).
 * 12. {@link minimumNotional}: a fractional or notional order costs at least the asset's
 *    minimum, $1 for equities [6.1, 5]: `min_notional`, 40310000, "cost basis must be >=
 *    minimal amount of order 1".
 * 13. {@link noWashTrade}: no order that could trade against the account's own open
 *    opposite-side order on the symbol: any pair with a market order, or limits where the buy
 *    limit ≥ the sell limit [6.3]: `wash_trade`, 40310000, "potential wash trade detected. use
 *    complex orders", with `existing_order_id` and `reject_reason` ("opposite side market/stop
 *    order exists" or "opposite side limit order exists. use complex/limit/stop_limit orders").
 * 14. {@link quantityAvailable}: a sell takes at most the position less what open sells hold
 *    (`qty_available`); more, or a sell with no position (a short), is refused [6.4, 5]:
 *    `insufficient_quantity`, 40310000, "insufficient qty available for order (requested: X,
 *    available: Y)", with `available`, `existing_qty`, `held_for_orders`, `requested`, `symbol`.
 * 15. {@link buyingPowerCovers}: a buy's hold must fit in the cash less what open buys hold;
 *    sells add cash only when they fill [6.5]: `insufficient_buying_power`, 40310000,
 *    "insufficient buying power", with `buying_power` and `cost_basis`. A market buy by
 *    quantity holds its price plus `marketBuyBuffer` (Alpaca collars market buys 2.5–4 % above
 *    the market for this check [6.5]); a limit buy its limit; a notional buy its notional.
 *
 * `closePosition(SYM)` (`DELETE /v2/positions/SYM` [2.4]) sells the whole position by market
 * order, dust and odd decimals included, so rules 6, 7, 8 and 12 do not apply to it. With no
 * position: `not_found`, 40410000, "position not found: SYM"; with shares held by open sells:
 * `insufficient_quantity` as in rule 14 (see {@link closeRefusal}).
 *
 * `cancelOrder(id)` (`DELETE /v2/orders/id` [2.7]): an unknown order is `not_found`, 40410000,
 * "order not found"; a final one `not_cancelable`, 42210000, "order is not cancelable". An
 * accepted cancel is not a cancel: the order goes `pending_cancel` first and may still fill.
 *
 * Market hours [6.7]: outside the regular session Alpaca queues an order that is not
 * extended-hours (status `accepted`, worked at the open) instead of refusing it, so this
 * venue never throws `market_closed` ({@link queuedUntilOpen}); at the close, working DAY
 * orders that are not extended-hours expire.
 */

import {
  type AssetRules,
  type BrokerOrderStatus,
  isFinalBrokerStatus,
  type OrderRequest,
  type OrderSide,
  type OrderType,
} from "../../broker/broker-port.js";
import { Decimal, floorToIncrement, formatDecimal, Rounding, ZERO } from "../../core/decimal.js";
import type { BrokerErrorCode } from "../../core/errors.js";

/** The finest quantity step: Alpaca takes `qty` and `notional` with at most 9 decimals [6.2]. */
export const QUANTITY_STEP = new Decimal("0.000000001");

/** Alpaca's reply codes (the `code` of the body) the venue sends [5]. */
export const ALPACA_CODES = {
  validation: "40010001",
  forbidden: "40310000",
  notFound: "40410000",
  unprocessable: "42210000",
  rateLimited: "42910000",
} as const;

/** Alpaca's message texts, the exact strings the real API sends (or the simulator's, where noted above). */
export const ALPACA_MESSAGES = {
  duplicateClientOrderId: "client_order_id must be unique",
  assetNotFound: (symbol: string) => `asset not found: ${symbol}`,
  notTradable: (symbol: string) => `asset ${symbol} is not tradable`,
  notionalNotMarket: "notional orders must be market orders",
  extendedHoursNotDayLimit: "extended hours orders must be DAY limit orders",
  tooManyDecimals: (field: "qty" | "notional") => `${field} must have at most 9 decimal places`,
  notFractionable: "requested asset is not fractionable",
  notAMultiple: (increment: Decimal) => `qty must be a multiple of ${increment.toString()}`,
  fractionalNotDay: "fractional orders must be DAY orders",
  subPenny: (limit: string) =>
    `invalid limit_price ${limit}. sub-penny increment does not fulfill minimum pricing criteria`,
  noMarketPrice: (symbol: string) => `no market price for ${symbol}`,
  minNotional: (minimum: string) => `cost basis must be >= minimal amount of order ${minimum}`,
  washTrade: "potential wash trade detected. use complex orders",
  washTradeMarket: "opposite side market/stop order exists",
  washTradeLimit: "opposite side limit order exists. use complex/limit/stop_limit orders",
  insufficientQty: "insufficient qty available for order",
  insufficientQtyOf: (requested: string, available: string) =>
    `insufficient qty available for order (requested: ${requested}, available: ${available})`,
  insufficientBuyingPower: "insufficient buying power",
  positionNotFound: (symbol: string) => `position not found: ${symbol}`,
  positionDoesNotExist: "position does not exist",
  orderNotFound: "order not found",
  notCancelable: "order is not cancelable",
  notReplaceable: "order is not replaceable",
  notionalNotReplaceable: "notional orders cannot be replaced",
} as const;

/** Why the venue refuses a request: the error code, Alpaca's code and text, and the facts Alpaca adds. */
export interface Refusal {
  readonly code: BrokerErrorCode;
  readonly brokerCode: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** An open order of the account, as the rules see it. */
export interface RestingOrder {
  readonly id: string;
  readonly symbol: string;
  readonly side: OrderSide;
  readonly type: OrderType;
  readonly limitPrice: Decimal | undefined;
}

/** A request for a new order and the account state the rules judge it against. */
export interface Admission {
  /** The request (already through the order schema: exactly one of qty and notional, a limit for limit orders only). */
  readonly request: OrderRequest;
  /** `closePosition` sells whatever is held, so the size rules spare it. */
  readonly via: "submitOrder" | "closePosition";
  /** Whether an order the venue took ever had this client order id. */
  readonly clientOrderIdUsed: boolean;
  /** The symbol's rules; undefined when the venue does not know it. */
  readonly asset: AssetRules | undefined;
  /** The symbol's last price; undefined when it has none. */
  readonly price: Decimal | undefined;
  /** The account's open orders, in submit order. */
  readonly openOrders: readonly RestingOrder[];
  /** Shares of the symbol held. */
  readonly position: Decimal;
  /** Shares of the symbol held by open sells. */
  readonly sellHeld: Decimal;
  /** Cash less what open buys hold (may be below 0 after a price move). */
  readonly buyingPower: Decimal;
  /** The extra fraction of the price a quantity market buy holds. */
  readonly marketBuyBuffer: Decimal;
}

/** One rule: a refusal, or nothing to say. Rules are total: one that needs what an earlier rule refused says nothing. */
export type AdmissionRule = (a: Admission) => Refusal | undefined;

/** Rule 1: a client order id the venue took is unique forever [2.5]. */
export function uniqueClientOrderId(a: Admission): Refusal | undefined {
  if (!a.clientOrderIdUsed) return undefined;
  return refusal(
    "duplicate_client_order_id",
    ALPACA_CODES.validation,
    ALPACA_MESSAGES.duplicateClientOrderId,
  );
}

/** Rule 2: the symbol is an asset the venue knows. */
export function knownAsset(a: Admission): Refusal | undefined {
  if (a.asset !== undefined) return undefined;
  return refusal(
    "invalid_order",
    ALPACA_CODES.unprocessable,
    ALPACA_MESSAGES.assetNotFound(a.request.symbol),
  );
}

/** Rule 3: the asset is tradable. */
export function tradableAsset(a: Admission): Refusal | undefined {
  if (a.asset === undefined || a.asset.tradable) return undefined;
  return refusal("rejected", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.notTradable(a.request.symbol));
}

/** Rule 4: a notional order is a market order. */
export function notionalIsMarket(a: Admission): Refusal | undefined {
  if (a.request.notional === undefined || a.request.type === "market") return undefined;
  return refusal("invalid_order", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.notionalNotMarket);
}

/** Rule 5: extended hours only for DAY limit orders [2.5]. */
export function extendedHoursIsDayLimit(a: Admission): Refusal | undefined {
  const r = a.request;
  if (r.extendedHours !== true || (r.type === "limit" && r.timeInForce === "day")) return undefined;
  return refusal("invalid_order", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.extendedHoursNotDayLimit);
}

/** Rule 6: qty or notional with at most 9 decimals [6.2]. */
export function atMostNineDecimals(a: Admission): Refusal | undefined {
  const r = a.request;
  const amount = r.qty ?? r.notional;
  if (a.via === "closePosition" || amount === undefined || amount.decimalPlaces() <= 9) return undefined;
  const field = r.qty !== undefined ? "qty" : "notional";
  return refusal("invalid_order", ALPACA_CODES.validation, ALPACA_MESSAGES.tooManyDecimals(field));
}

/** Rule 7: fractional and notional orders need a fractionable asset [6.1]. */
export function fractionableAsset(a: Admission): Refusal | undefined {
  if (
    a.via === "closePosition" ||
    !isFractional(a.request) ||
    a.asset === undefined ||
    a.asset.fractionable
  ) {
    return undefined;
  }
  return refusal("not_fractionable", ALPACA_CODES.forbidden, ALPACA_MESSAGES.notFractionable);
}

/** Rule 8: a qty is a whole number of the asset's increments [6.2]. */
export function wholeIncrements(a: Admission): Refusal | undefined {
  const qty = a.request.qty;
  if (a.via === "closePosition" || qty === undefined || a.asset === undefined) return undefined;
  if (qty.mod(a.asset.qtyIncrement).isZero()) return undefined;
  return refusal(
    "invalid_order",
    ALPACA_CODES.validation,
    ALPACA_MESSAGES.notAMultiple(a.asset.qtyIncrement),
  );
}

/** Rule 9: fractional and notional orders are DAY orders [6.1]. */
export function fractionalIsDay(a: Admission): Refusal | undefined {
  if (!isFractional(a.request) || a.request.timeInForce === "day") return undefined;
  return refusal("invalid_order", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.fractionalNotDay);
}

/** Rule 10: no sub-penny limit prices: 2 decimals at $1 and above, 4 below [2.5]. */
export function limitPriceTick(a: Admission): Refusal | undefined {
  const limit = a.request.limitPrice;
  if (limit === undefined || limit.decimalPlaces() <= (limit.gte(1) ? 2 : 4)) return undefined;
  return refusal("invalid_order", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.subPenny(limit.toString()));
}

/** Rule 11: a market order needs a price to fill at. */
export function marketHasPrice(a: Admission): Refusal | undefined {
  if (a.price !== undefined || a.request.type !== "market") return undefined;
  return refusal(
    "invalid_order",
    ALPACA_CODES.unprocessable,
    ALPACA_MESSAGES.noMarketPrice(a.request.symbol),
  );
}

/** Rule 12: a fractional or notional order costs at least the asset's minimum [6.1]. */
export function minimumNotional(a: Admission): Refusal | undefined {
  if (a.via === "closePosition" || !isFractional(a.request)) return undefined;
  const cost = costOf(a.request, a.price);
  const minimum = a.asset?.minNotional ?? ZERO;
  if (cost === undefined || !cost.lt(minimum)) return undefined;
  return refusal("min_notional", ALPACA_CODES.forbidden, ALPACA_MESSAGES.minNotional(minimum.toString()));
}

/** Rule 13: no order that could trade against the account's own open opposite-side order [6.3]. */
export function noWashTrade(a: Admission): Refusal | undefined {
  const r = a.request;
  for (const other of a.openOrders) {
    if (other.symbol !== r.symbol || other.side === r.side) continue;
    const anyMarket = other.type === "market" || r.type === "market";
    const buyLimit = r.side === "buy" ? r.limitPrice : other.limitPrice;
    const sellLimit = r.side === "sell" ? r.limitPrice : other.limitPrice;
    const crosses = buyLimit !== undefined && sellLimit !== undefined && buyLimit.gte(sellLimit);
    if (!anyMarket && !crosses) continue;
    return refusal("wash_trade", ALPACA_CODES.forbidden, ALPACA_MESSAGES.washTrade, {
      existing_order_id: other.id,
      reject_reason: anyMarket ? ALPACA_MESSAGES.washTradeMarket : ALPACA_MESSAGES.washTradeLimit,
    });
  }
  return undefined;
}

/** Rule 14: a sell takes at most the shares not held by open sells; no short sales [6.4]. */
export function quantityAvailable(a: Admission): Refusal | undefined {
  if (a.request.side !== "sell") return undefined;
  const requested = sellQuantity(a.request, a.price);
  const available = Decimal.max(ZERO, a.position.minus(a.sellHeld));
  if (requested === undefined || !requested.gt(available)) return undefined;
  return insufficientQuantity(a.request.symbol, a.position, available, a.sellHeld, requested);
}

/** Rule 15: a buy's hold fits in the buying power [6.5]. */
export function buyingPowerCovers(a: Admission): Refusal | undefined {
  const r = a.request;
  if (r.side !== "buy") return undefined;
  const hold =
    r.notional ?? (r.qty === undefined ? undefined : buyHold(r, r.qty, a.price, a.marketBuyBuffer));
  if (hold === undefined || !hold.gt(a.buyingPower)) return undefined;
  return refusal(
    "insufficient_buying_power",
    ALPACA_CODES.forbidden,
    ALPACA_MESSAGES.insufficientBuyingPower,
    {
      buying_power: formatDecimal(Decimal.max(ZERO, a.buyingPower), 2),
      cost_basis: formatDecimal(hold, 2, Rounding.up),
    },
  );
}

/** Every admission rule, in the order they are checked (the first refusal wins). */
export const VENUE_RULES = [
  uniqueClientOrderId,
  knownAsset,
  tradableAsset,
  notionalIsMarket,
  extendedHoursIsDayLimit,
  atMostNineDecimals,
  fractionableAsset,
  wholeIncrements,
  fractionalIsDay,
  limitPriceTick,
  marketHasPrice,
  minimumNotional,
  noWashTrade,
  quantityAvailable,
  buyingPowerCovers,
] as const satisfies readonly AdmissionRule[];

/**
 * Judges a new order by {@link VENUE_RULES}.
 *
 * @param a - the request and the account state
 * @returns the first refusal, or undefined when the venue takes the order
 */
export function admissionRefusal(a: Admission): Refusal | undefined {
  for (const rule of VENUE_RULES) {
    const refused = rule(a);
    if (refused !== undefined) return refused;
  }
  return undefined;
}

/**
 * Whether an order the venue takes waits for the open (status `accepted`) instead of working
 * now: outside the session, unless it is an extended-hours order [6.7].
 *
 * @param request - the order
 * @param marketOpen - whether the regular session is on
 * @returns true when it is queued
 */
export function queuedUntilOpen(request: Pick<OrderRequest, "extendedHours">, marketOpen: boolean): boolean {
  return !marketOpen && request.extendedHours !== true;
}

/**
 * Why `closePosition` is refused, if it is: no position, or shares held by open sells [2.4].
 *
 * @param symbol - the symbol
 * @param position - shares held (0 when none)
 * @param sellHeld - shares held by open sells
 * @returns the refusal, or undefined when the position can be closed
 */
export function closeRefusal(symbol: string, position: Decimal, sellHeld: Decimal): Refusal | undefined {
  if (position.isZero()) {
    return refusal("not_found", ALPACA_CODES.notFound, ALPACA_MESSAGES.positionNotFound(symbol), { symbol });
  }
  if (sellHeld.gt(0))
    return insufficientQuantity(symbol, position, position.minus(sellHeld), sellHeld, position);
  return undefined;
}

/**
 * Why `cancelOrder` is refused, if it is: an unknown order, or a final one [2.7].
 *
 * @param orderId - the id asked for
 * @param status - the order's status, or undefined when the venue does not know it
 * @returns the refusal, or undefined when the cancel is accepted
 */
export function cancelRefusal(orderId: string, status: BrokerOrderStatus | undefined): Refusal | undefined {
  if (status === undefined) {
    return refusal("not_found", ALPACA_CODES.notFound, ALPACA_MESSAGES.orderNotFound, { orderId });
  }
  if (!isFinalBrokerStatus(status)) return undefined;
  return refusal("not_cancelable", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.notCancelable, {
    orderId,
    status,
  });
}

/**
 * Why `replaceOrder` is refused, if it is: an unknown order, one that is not working (final,
 * or not yet acknowledged, or being cancelled), or a notional order [2.7].
 *
 * @param orderId - the id asked for
 * @param order - the order's status and notional, or undefined when the venue does not know it
 * @returns the refusal, or undefined when the replace may go ahead
 */
export function replaceRefusal(
  orderId: string,
  order: { readonly status: BrokerOrderStatus; readonly notional: Decimal | undefined } | undefined,
): Refusal | undefined {
  if (order === undefined) {
    return refusal("not_found", ALPACA_CODES.notFound, ALPACA_MESSAGES.orderNotFound, { orderId });
  }
  if (order.status !== "new" && order.status !== "partially_filled")
    return notReplaceable(orderId, order.status);
  if (order.notional !== undefined) {
    return refusal("invalid_order", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.notionalNotReplaceable, {
      orderId,
    });
  }
  return undefined;
}

/**
 * The refusal of a replace of an order that is not working.
 *
 * @param orderId - the order
 * @param status - its status
 * @returns the refusal (`not_cancelable`, Alpaca's 42210000)
 */
export function notReplaceable(orderId: string, status: BrokerOrderStatus): Refusal {
  return refusal("not_cancelable", ALPACA_CODES.unprocessable, ALPACA_MESSAGES.notReplaceable, {
    orderId,
    status,
  });
}

/**
 * The cash a buy of `qty` shares holds: at its limit for a limit order, at the price plus
 * the buffer for a market order [6.5].
 *
 * @param order - the order's type and limit
 * @param qty - the shares still to buy
 * @param price - the last price (a market order without one holds nothing)
 * @param marketBuyBuffer - the extra fraction a market buy holds
 * @returns the hold
 */
export function buyHold(
  order: { readonly type: OrderType; readonly limitPrice?: Decimal | undefined },
  qty: Decimal,
  price: Decimal | undefined,
  marketBuyBuffer: Decimal,
): Decimal {
  if (order.type === "limit" && order.limitPrice !== undefined) return qty.times(order.limitPrice);
  return qty.times(price ?? ZERO).times(marketBuyBuffer.plus(1));
}

/**
 * The shares a sell holds against the position: its qty, or for a notional sell the notional
 * at the price, down to {@link QUANTITY_STEP}.
 *
 * @param request - the sell
 * @param price - the last price
 * @returns the shares, or undefined for a notional sell without a price
 */
export function sellQuantity(request: OrderRequest, price: Decimal | undefined): Decimal | undefined {
  if (request.qty !== undefined) return request.qty;
  const refPrice = request.limitPrice ?? price;
  if (request.notional === undefined || refPrice === undefined) return undefined;
  return floorToIncrement(request.notional.div(refPrice), QUANTITY_STEP);
}

/** A fractional quantity, or any notional: what the fractional rules apply to [6.1]. */
function isFractional(r: OrderRequest): boolean {
  return r.notional !== undefined || (r.qty !== undefined && !r.qty.isInteger());
}

/** What an order costs: its notional, or its qty at the limit (else the price). */
function costOf(r: OrderRequest, price: Decimal | undefined): Decimal | undefined {
  if (r.notional !== undefined) return r.notional;
  const refPrice = r.limitPrice ?? price;
  return r.qty === undefined || refPrice === undefined ? undefined : r.qty.times(refPrice);
}

function insufficientQuantity(
  symbol: string,
  existing: Decimal,
  available: Decimal,
  held: Decimal,
  requested: Decimal,
): Refusal {
  return refusal(
    "insufficient_quantity",
    ALPACA_CODES.forbidden,
    ALPACA_MESSAGES.insufficientQtyOf(requested.toString(), available.toString()),
    {
      available: available.toString(),
      existing_qty: existing.toString(),
      held_for_orders: held.toString(),
      requested: requested.toString(),
      symbol,
    },
  );
}

function refusal(
  code: BrokerErrorCode,
  brokerCode: string,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): Refusal {
  return details === undefined ? { code, brokerCode, message } : { code, brokerCode, message, details };
}
