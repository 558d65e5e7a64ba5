// The contract's vocabularies, each written once: an `as const` array, and its type derived
// from it. The schemas check against these arrays; `broker-port.ts` re-exports them.

/**
 * Every order side.
 *
 * @example
 * ```ts
 * ORDER_SIDES.includes("buy"); // true
 * ```
 */
export const ORDER_SIDES = ["buy", "sell"] as const;
/** An order side. */
export type OrderSide = (typeof ORDER_SIDES)[number];

/**
 * Every order type ordersafe places: market and limit.
 *
 * @example
 * ```ts
 * const type: OrderType = ORDER_TYPES[0]; // "market"
 * ```
 */
export const ORDER_TYPES = ["market", "limit"] as const;
/** An order type. ordersafe places market and limit orders. */
export type OrderType = (typeof ORDER_TYPES)[number];

/**
 * Every time in force: how long an order works.
 *
 * @example
 * ```ts
 * TIMES_IN_FORCE.includes("gtc"); // true
 * ```
 */
export const TIMES_IN_FORCE = ["day", "gtc", "ioc", "fok", "opg", "cls"] as const;
/** How long an order works. */
export type TimeInForce = (typeof TIMES_IN_FORCE)[number];

/**
 * Every broker order status.
 *
 * @example
 * ```ts
 * const open = BROKER_ORDER_STATUSES.filter((s) => !isFinalBrokerStatus(s));
 * ```
 */
export const BROKER_ORDER_STATUSES = [
  "pending_new",
  "accepted",
  "new",
  "partially_filled",
  "filled",
  "done_for_day",
  "canceled",
  "expired",
  "replaced",
  "pending_cancel",
  "pending_replace",
  "rejected",
  "suspended",
  "stopped",
  "calculated",
  "held",
  "accepted_for_bidding",
] as const;
/** An order's status at the broker. */
export type BrokerOrderStatus = (typeof BROKER_ORDER_STATUSES)[number];

/**
 * The statuses after which an order never works again.
 *
 * @example
 * ```ts
 * FINAL_BROKER_STATUSES.has("filled"); // true
 * ```
 */
export const FINAL_BROKER_STATUSES: ReadonlySet<BrokerOrderStatus> = new Set<BrokerOrderStatus>([
  "filled",
  "canceled",
  "expired",
  "replaced",
  "rejected",
  "done_for_day",
  "calculated",
]);

/**
 * Whether a broker status is final (the order will not work again).
 *
 * @param status - a broker status
 * @returns true for `filled`, `canceled`, `expired`, `replaced`, `rejected`, `done_for_day`, `calculated`
 * @example
 * ```ts
 * isFinalBrokerStatus("pending_cancel"); // false: the order may still fill
 * ```
 */
export function isFinalBrokerStatus(status: BrokerOrderStatus): boolean {
  return FINAL_BROKER_STATUSES.has(status);
}

/**
 * Every order update event.
 *
 * @example
 * ```ts
 * ORDER_UPDATE_EVENTS.includes("partial_fill"); // true
 * ```
 */
export const ORDER_UPDATE_EVENTS = [
  "pending_new",
  "new",
  "accepted",
  "fill",
  "partial_fill",
  "canceled",
  "expired",
  "done_for_day",
  "replaced",
  "rejected",
  "pending_cancel",
  "pending_replace",
  "stopped",
  "suspended",
  "calculated",
  "held",
  "order_cancel_rejected",
  "order_replace_rejected",
  "restated",
] as const;
/** The kind of an order update. */
export type OrderUpdateEvent = (typeof ORDER_UPDATE_EVENTS)[number];

/**
 * Every connection state of an order update stream.
 *
 * @example
 * ```ts
 * STREAM_STATUSES.includes("reconnecting"); // true
 * ```
 */
export const STREAM_STATUSES = ["connecting", "connected", "disconnected", "reconnecting"] as const;
/** The stream's connection state. */
export type StreamStatus = (typeof STREAM_STATUSES)[number];

/**
 * Every kind of port call: a `read` only looks; a `write` may change state at the broker, so
 * a write whose answer is lost may have taken effect (`ambiguous`).
 *
 * @example
 * ```ts
 * const kind: BrokerCallKind = BROKER_METHOD_TABLE.submitOrder.kind; // "write"
 * ```
 */
export const BROKER_CALL_KINDS = ["read", "write"] as const;
/** Whether a port call only reads or may change state at the broker. */
export type BrokerCallKind = (typeof BROKER_CALL_KINDS)[number];

/**
 * Which orders `listOrders` lists: the open ones (its default, as Alpaca's), the final ones,
 * or both.
 *
 * @example
 * ```ts
 * const status: OrderListStatus = ORDER_LIST_STATUSES[2]; // "all"
 * ```
 */
export const ORDER_LIST_STATUSES = ["open", "closed", "all"] as const;
/** Which orders `listOrders` lists. */
export type OrderListStatus = (typeof ORDER_LIST_STATUSES)[number];
