import { FINAL_BROKER_STATUSES } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { CLIENT_ORDER_ID_PREFIX } from "../core/ids.js";
import type { PlanScales, ScaleWidener } from "./plan-scales.js";
import type { RebalanceInput } from "./rebalance-input.js";
import type { ConflictReason, OrderConflict } from "./rebalance-plan.js";
import { maxBig } from "./scaled.js";

/** An open order as the planner reads it: one of the parsed input's `openOrders`. */
export type PlanOrder = RebalanceInput["openOrders"][number];

// The parsed status is checked against the contract's vocabulary, so any string is looked up.
const FINAL_STATUSES: ReadonlySet<string> = new Set<string>(FINAL_BROKER_STATUSES);

/** An open order, with its symbol's reference price and, for a notional order, its unfilled shares. */
export interface LiveOrder {
  readonly order: PlanOrder;
  readonly price: Decimal | undefined;
  /** A notional order's unfilled shares at the reference price (a quotient, as decimal.js gives it). */
  readonly notionalUnfilled: Decimal | undefined;
}

/** The open orders of one side of one symbol. */
export interface OpenSide {
  /** The orders, in the order given. */
  readonly orders: PlanOrder[];
  /** Their unfilled shares (scale Q; a notional order's at the reference price). */
  qty: bigint;
  /** The orders among them that are ordersafe's own (an ordersafe client order id), in order. */
  readonly own: PlanOrder[];
  /** Their unfilled shares, scale Q. */
  ownQty: bigint;
}

/** What the open orders of one symbol net to. */
export interface SymbolOpenOrders {
  /** The open buys, if any. */
  buy: OpenSide | undefined;
  /** The open sells, if any. */
  sell: OpenSide | undefined;
  /** What the open buys hold of the cash (scale C). */
  buyHold: bigint;
  /** What ordersafe's own open buys hold of it (scale C). */
  ownBuyHold: bigint;
}

/** The open orders by symbol. */
export type OpenOrderBook = ReadonlyMap<string, SymbolOpenOrders>;

/**
 * The orders still open (final statuses dropped), each with its reference price; a notional
 * order's unfilled shares are worked out as a decimal, since their digits decide the share
 * scale.
 *
 * @param orders - the open orders given
 * @param prices - reference prices by symbol
 * @returns the orders that are not final, in order
 * @example
 * ```ts
 * liveOrders(input.openOrders, input.prices).length; // orders not yet final
 * ```
 */
export function liveOrders(
  orders: readonly PlanOrder[],
  prices: Readonly<Record<string, Decimal>>,
): LiveOrder[] {
  const live: LiveOrder[] = [];
  for (const order of orders) {
    if (FINAL_STATUSES.has(order.status)) continue;
    const price = prices[order.symbol];
    const notionalUnfilled =
      order.qty === undefined && price !== undefined ? unfilledQty(order, price) : undefined;
    live.push({ order, price, notionalUnfilled });
  }
  return live;
}

/**
 * Widens the scales to fit every figure of the open orders.
 *
 * @param widener - the scales being read
 * @param live - the open orders
 */
export function widenForOrders(widener: ScaleWidener, live: readonly LiveOrder[]): void {
  for (const { order, notionalUnfilled } of live) {
    widener.shares(order.qty);
    widener.shares(order.filledQty);
    widener.price(order.notional);
    widener.price(order.filledAvgPrice);
    widener.price(order.limitPrice);
    widener.shares(notionalUnfilled);
  }
}

/**
 * Nets the open orders per symbol and side: their unfilled shares, and what the buys hold of
 * the cash.
 *
 * @param live - the open orders
 * @param scales - the plan's scales
 * @param buyFactor - 1 + `marketBuyBuffer` (scale F)
 * @returns the book, by symbol (symbols with open orders only)
 * @example
 * ```ts
 * const book = buildOpenOrderBook(liveOrders(orders, prices), scales, buyFactor);
 * book.get("AAA")?.sell?.qty; // unfilled shares of AAA's open sells, scale Q
 * ```
 */
export function buildOpenOrderBook(
  live: readonly LiveOrder[],
  scales: PlanScales,
  buyFactor: bigint,
): Map<string, SymbolOpenOrders> {
  const book = new Map<string, SymbolOpenOrders>();
  for (const { order, price, notionalUnfilled } of live) {
    const { toQ } = scales;
    let unfilled: bigint;
    if (order.qty !== undefined) unfilled = maxBig(0n, toQ(order.qty) - toQ(order.filledQty));
    else unfilled = notionalUnfilled === undefined ? 0n : toQ(notionalUnfilled);
    let entry = book.get(order.symbol);
    if (entry === undefined) {
      entry = { buy: undefined, sell: undefined, buyHold: 0n, ownBuyHold: 0n };
      book.set(order.symbol, entry);
    }
    let side = order.side === "buy" ? entry.buy : entry.sell;
    if (side === undefined) {
      side = { orders: [], qty: 0n, own: [], ownQty: 0n };
      if (order.side === "buy") entry.buy = side;
      else entry.sell = side;
    }
    side.orders.push(order);
    side.qty += unfilled;
    const own = isOwnOrder(order);
    if (own) {
      side.own.push(order);
      side.ownQty += unfilled;
    }
    if (order.side === "buy") {
      const hold = openBuyHold(order, unfilled, price, scales, buyFactor);
      entry.buyHold += hold;
      if (own) entry.ownBuyHold += hold;
    }
  }
  return book;
}

/**
 * What an open buy holds of the cash (scale C): a notional buy its notional not yet spent; a
 * limit buy its unfilled shares × the limit; a market buy its unfilled shares × the price ×
 * (1 + `marketBuyBuffer`). Unknown (no price to count it at): zero.
 *
 * @param order - an open buy
 * @param unfilled - its unfilled shares (scale Q)
 * @param price - the symbol's reference price
 * @param scales - the plan's scales
 * @param buyFactor - 1 + `marketBuyBuffer` (scale F)
 * @returns the hold, ≥ 0
 * @example
 * ```ts
 * openBuyHold(order, scales.toQ(new Decimal(3)), new Decimal(10), scales, buyFactor); // 3 × 10 × 1.03
 * ```
 */
export function openBuyHold(
  order: PlanOrder,
  unfilled: bigint,
  price: Decimal | undefined,
  scales: PlanScales,
  buyFactor: bigint,
): bigint {
  const { toP } = scales;
  const priceP = price === undefined ? undefined : toP(price);
  const avgP = order.filledAvgPrice === undefined ? undefined : toP(order.filledAvgPrice);
  if (order.qty === undefined) {
    if (order.notional === undefined) return 0n;
    // Spent so far: the filled shares at their average price (else the reference price).
    const ref = avgP ?? priceP;
    const spent = ref === undefined ? 0n : scales.toQ(order.filledQty) * ref;
    return maxBig(0n, scales.toM(order.notional) - spent) * scales.mToC;
  }
  if (order.limitPrice !== undefined) return unfilled * toP(order.limitPrice) * scales.mToC;
  const ref = priceP ?? avgP;
  return ref === undefined ? 0n : unfilled * ref * buyFactor;
}

/**
 * Unfilled shares of an open order, as a decimal: a notional order's at the price.
 *
 * @param order - an open order
 * @param price - the reference price
 * @returns the shares, ≥ 0; undefined for a notional order without a price
 * @example
 * ```ts
 * unfilledQty({ ...order, qty: new Decimal(10), filledQty: new Decimal(4) }, undefined); // 6
 * ```
 */
export function unfilledQty(order: PlanOrder, price: Decimal | undefined): Decimal | undefined {
  if (order.qty !== undefined) return maxOf(ZERO, order.qty.minus(order.filledQty));
  if (order.notional === undefined || price === undefined) return undefined;
  const spent = order.filledQty.times(order.filledAvgPrice ?? price);
  return maxOf(ZERO, order.notional.minus(spent)).div(price);
}

function maxOf(a: Decimal, b: Decimal): Decimal {
  return a.gte(b) ? a : b;
}

/**
 * Whether an open order is ordersafe's own: its client order id is one ordersafe makes
 * (`os-…`). Only those are cancelled for being past the target or against it; any order on
 * the other side of a leg is cancelled (the broker would refuse the leg as a wash trade).
 *
 * @param order - an open order
 * @returns true for an ordersafe client order id
 * @example
 * ```ts
 * isOwnOrder({ clientOrderId: "os-r2026-AAA-b0-…" }); // true
 * ```
 */
export function isOwnOrder(order: Pick<PlanOrder, "clientOrderId">): boolean {
  return order.clientOrderId.startsWith(CLIENT_ORDER_ID_PREFIX);
}

/**
 * Open orders to cancel (and see cancelled) before trading their symbol.
 *
 * @param symbol - the symbol
 * @param orders - the orders
 * @param price - the reference price
 * @param reason - why they are cancelled
 * @returns one conflict per order, in order
 * @example
 * ```ts
 * conflictsOf("AAA", book.get("AAA")!.sell!.orders, price, "opposite_side"); // [{ symbol: "AAA", orderId, … }]
 * ```
 */
export function conflictsOf(
  symbol: string,
  orders: readonly PlanOrder[],
  price: Decimal,
  reason: ConflictReason,
): OrderConflict[] {
  return orders.map((o) => ({
    symbol,
    orderId: o.id,
    clientOrderId: o.clientOrderId,
    side: o.side,
    unfilledQty: unfilledQty(o, price) ?? ZERO,
    reason,
  }));
}

/**
 * Whether any open order of a symbol is sized by notional (its shares depend on a price).
 *
 * @param open - the symbol's open orders
 * @returns true when one of them has no quantity
 */
export function hasNotionalOrder(open: SymbolOpenOrders | undefined): boolean {
  if (open === undefined) return false;
  return [open.buy, open.sell].some((s) => s?.orders.some((o) => o.qty === undefined) ?? false);
}
