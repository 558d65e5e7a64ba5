import {
  type AccountSnapshot,
  type AssetRules,
  type BrokerOrderStatus,
  type MarketClock,
  ORDER_SIDES,
  ORDER_TYPES,
  type OrderSnapshot,
  type OrderType,
  type OrderUpdate,
  type OrderUpdateEvent,
  type PositionSnapshot,
  TIMES_IN_FORCE,
} from "../broker/broker-port.js";
import {
  parseAccountSnapshot,
  parseAssetRules,
  parseLatestPrices,
  parseMarketClock,
  parseOrderSnapshot,
  parseOrderUpdate,
  parsePositionSnapshot,
} from "../broker/schemas.js";
import type { Decimal } from "../core/decimal.js";
import { BrokerError } from "../core/errors.js";
import { isKeyOf, isObject, isOneOf, type UnknownRecord } from "../core/guards.js";

/**
 * Alpaca order status → ordersafe status, for every status Alpaca sends (the SDK's
 * `OrderStatus`, held equal by a type test). An unknown status is a `protocol` error.
 *
 * @example
 * ```ts
 * ALPACA_ORDER_STATUS.pending_new; // "pending_new"
 * ```
 */
export const ALPACA_ORDER_STATUS = {
  new: "new",
  partially_filled: "partially_filled",
  filled: "filled",
  done_for_day: "done_for_day",
  canceled: "canceled",
  expired: "expired",
  replaced: "replaced",
  pending_cancel: "pending_cancel",
  pending_replace: "pending_replace",
  accepted: "accepted",
  pending_new: "pending_new",
  accepted_for_bidding: "accepted_for_bidding",
  stopped: "stopped",
  rejected: "rejected",
  suspended: "suspended",
  calculated: "calculated",
  held: "held",
} as const satisfies Readonly<Record<string, BrokerOrderStatus>>;

/** Every order status Alpaca sends: the keys of {@link ALPACA_ORDER_STATUS}. */
export type AlpacaOrderStatus = keyof typeof ALPACA_ORDER_STATUS;

/**
 * Alpaca trade event → ordersafe update event, for every `trade_updates` event Alpaca
 * documents (plus `accepted`, `restated` and `held`). An unknown event is a `protocol` error.
 *
 * @example
 * ```ts
 * ALPACA_TRADE_EVENT.partial_fill; // "partial_fill"
 * ```
 */
export const ALPACA_TRADE_EVENT = {
  new: "new",
  fill: "fill",
  partial_fill: "partial_fill",
  canceled: "canceled",
  expired: "expired",
  done_for_day: "done_for_day",
  replaced: "replaced",
  rejected: "rejected",
  pending_new: "pending_new",
  stopped: "stopped",
  pending_cancel: "pending_cancel",
  pending_replace: "pending_replace",
  calculated: "calculated",
  suspended: "suspended",
  order_replace_rejected: "order_replace_rejected",
  order_cancel_rejected: "order_cancel_rejected",
  accepted: "accepted",
  restated: "restated",
  held: "held",
} as const satisfies Readonly<Record<string, OrderUpdateEvent>>;

/** Every `trade_updates` event ordersafe reads: the keys of {@link ALPACA_TRADE_EVENT}. */
export type AlpacaTradeEvent = keyof typeof ALPACA_TRADE_EVENT;

/**
 * Alpaca order types ordersafe reads: its own {@link ORDER_TYPES}. Stop, stop-limit and
 * trailing-stop orders are not placed by ordersafe, so reading one is a `protocol` error.
 */
export type AlpacaOrderType = OrderType;

/** The increment of a fractionable Alpaca equity: 9 decimals. */
export const FRACTIONAL_INCREMENT = "0.000000001";
/** Alpaca's minimum order cost basis for equities, in dollars. */
export const ALPACA_MIN_NOTIONAL = "1";

type Raw = UnknownRecord;

function protocol(what: string, detail: string): BrokerError {
  return new BrokerError("protocol", `[ordersafe/alpaca] malformed ${what} from Alpaca: ${detail}`, {
    details: { what },
  });
}

function asRecord(raw: unknown, what: string): Raw {
  if (!isObject(raw) || Array.isArray(raw)) {
    throw protocol(what, `expected an object, got ${raw === null ? "null" : typeof raw}`);
  }
  return raw;
}

function unknownValue(what: string, field: string, value: unknown): BrokerError {
  return protocol(what, `${field}: unknown value ${JSON.stringify(value) ?? String(value)}`);
}

/** The entry of a mapping table for a wire value; an unknown value is a `protocol` error. */
function lookup<T extends object>(
  table: T,
  value: unknown,
  what: string,
  field: string,
): T[keyof T & string] {
  if (isKeyOf(table, value)) return table[value];
  throw unknownValue(what, field, value);
}

/** A wire value that must be one of a vocabulary's values; any other is a `protocol` error. */
function member<T>(values: readonly T[], value: unknown, what: string, field: string): T {
  if (isOneOf(values, value)) return value;
  throw unknownValue(what, field, value);
}

/** A nullable wire value as undefined (Alpaca sends `null` for absent decimals and dates). */
function opt(value: unknown): unknown {
  return value === null ? undefined : value;
}

/**
 * Maps an Alpaca order (wire JSON, or the SDK's `Order` which keeps every snake_case key)
 * to a checked {@link OrderSnapshot}.
 *
 * @param raw - the order object
 * @returns the snapshot
 * @throws BrokerError (`protocol`) for an unknown status, side, type or time in force, or a
 *   malformed decimal or date
 */
export function mapAlpacaOrder(raw: unknown): OrderSnapshot {
  const o = asRecord(raw, "order");
  const rejectReason = opt(o.reject_reason) ?? (o.status === "rejected" ? opt(o.failed_reason) : undefined);
  return parseOrderSnapshot({
    id: o.id,
    clientOrderId: o.client_order_id,
    symbol: o.symbol,
    side: member(ORDER_SIDES, o.side, "order", "side"),
    type: member(ORDER_TYPES, o.type ?? o.order_type, "order", "type"),
    timeInForce: member(TIMES_IN_FORCE, o.time_in_force, "order", "time_in_force"),
    qty: opt(o.qty),
    notional: opt(o.notional),
    filledQty: o.filled_qty,
    filledAvgPrice: opt(o.filled_avg_price),
    limitPrice: opt(o.limit_price),
    status: lookup(ALPACA_ORDER_STATUS, o.status, "order", "status"),
    createdAt: opt(o.created_at),
    updatedAt: opt(o.updated_at) ?? opt(o.submitted_at) ?? opt(o.created_at),
    rejectReason: typeof rejectReason === "string" ? rejectReason : undefined,
  });
}

/**
 * Maps a list of Alpaca orders.
 *
 * @param raw - the JSON array
 * @returns the snapshots
 * @throws BrokerError (`protocol`)
 */
export function mapAlpacaOrders(raw: unknown): OrderSnapshot[] {
  if (!Array.isArray(raw)) throw protocol("orders", "expected an array");
  return raw.map(mapAlpacaOrder);
}

/** One order of an order-history page, with the submission time its paging runs on. */
export interface AlpacaHistoryOrder {
  /** The order. */
  readonly order: OrderSnapshot;
  /** Its `submitted_at` (else `created_at`), to the ms at or before it. */
  readonly submittedAt: Date;
}

/**
 * Maps one page of `GET /v2/orders` for an order-history read: each order, and its
 * submission time (what `after`, `until` and the page order compare).
 *
 * @param raw - the JSON array
 * @returns the orders with their submission times, in the page's order
 * @throws BrokerError (`protocol`) for a malformed order, or one with neither a valid
 *   `submitted_at` nor a valid `created_at`
 */
export function mapAlpacaOrderHistoryPage(raw: unknown): AlpacaHistoryOrder[] {
  if (!Array.isArray(raw)) throw protocol("orders", "expected an array");
  return raw.map((item: unknown) => {
    const o = asRecord(item, "order");
    const at = opt(o.submitted_at) ?? opt(o.created_at);
    const ms = typeof at === "string" ? Date.parse(at) : Number.NaN;
    if (Number.isNaN(ms)) {
      throw protocol("order", `submitted_at: expected a time, got ${JSON.stringify(at) ?? String(at)}`);
    }
    return { order: mapAlpacaOrder(o), submittedAt: new Date(ms) };
  });
}

/**
 * Maps `GET /v2/account`.
 *
 * @param raw - the account JSON
 * @param asOf - when it was read
 * @returns the snapshot; `tradingBlocked` is true when trading, the account or trading by
 *   the user is blocked, or the account is not `ACTIVE`
 * @throws BrokerError (`protocol`)
 */
export function mapAlpacaAccount(raw: unknown, asOf: Date): AccountSnapshot {
  const a = asRecord(raw, "account");
  const flag = (v: unknown, field: string): boolean => {
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") throw protocol("account", `${field}: expected a boolean`);
    return v;
  };
  if (typeof a.status !== "string") throw protocol("account", "status: expected a string");
  const blocked =
    flag(a.trading_blocked, "trading_blocked") ||
    flag(a.account_blocked, "account_blocked") ||
    flag(a.trade_suspended_by_user, "trade_suspended_by_user") ||
    a.status !== "ACTIVE";
  return parseAccountSnapshot({
    cash: a.cash,
    buyingPower: a.buying_power,
    nonMarginableBuyingPower: opt(a.non_marginable_buying_power),
    equity: a.equity ?? a.portfolio_value,
    currency: a.currency ?? "USD",
    tradingBlocked: blocked,
    asOf,
  });
}

/**
 * Maps one Alpaca position.
 *
 * @param raw - the position JSON
 * @returns the snapshot (`qty_available` missing means every share is available)
 * @throws BrokerError (`protocol`)
 */
export function mapAlpacaPosition(raw: unknown): PositionSnapshot {
  const p = asRecord(raw, "position");
  return parsePositionSnapshot({
    symbol: p.symbol,
    qty: p.qty,
    qtyAvailable: opt(p.qty_available) ?? p.qty,
    marketValue: opt(p.market_value),
    avgEntryPrice: opt(p.avg_entry_price),
    currentPrice: opt(p.current_price),
  });
}

/**
 * Maps `GET /v2/positions`, dropping zero positions.
 *
 * @param raw - the JSON array
 * @returns the non-zero positions
 * @throws BrokerError (`protocol`), also for a symbol listed twice
 */
export function mapAlpacaPositions(raw: unknown): PositionSnapshot[] {
  if (!Array.isArray(raw)) throw protocol("positions", "expected an array");
  const list = raw.map(mapAlpacaPosition).filter((p) => !p.qty.isZero());
  const seen = new Set<string>();
  for (const p of list) {
    if (seen.has(p.symbol)) throw protocol("positions", `${p.symbol} listed twice`);
    seen.add(p.symbol);
  }
  return list;
}

/**
 * Maps one Alpaca asset to trading rules: fractionable → increment 0.000000001, else 1;
 * minimum notional 1 (Alpaca's minimum cost basis); tradable only when `active`.
 *
 * @param raw - the asset JSON
 * @returns the rules
 * @throws BrokerError (`protocol`)
 */
export function mapAlpacaAsset(raw: unknown): AssetRules {
  const a = asRecord(raw, "asset");
  if (typeof a.tradable !== "boolean") throw protocol("asset", "tradable: expected a boolean");
  if (typeof a.fractionable !== "boolean") throw protocol("asset", "fractionable: expected a boolean");
  const [rules] = parseAssetRules([
    {
      symbol: a.symbol,
      tradable: a.tradable && (a.status === undefined || a.status === "active"),
      fractionable: a.fractionable,
      qtyIncrement: a.fractionable ? FRACTIONAL_INCREMENT : "1",
      minNotional: ALPACA_MIN_NOTIONAL,
    },
  ]);
  // One asset in, one out (parseAssetRules throws rather than drop an element).
  if (rules === undefined) throw protocol("asset", "no rules");
  return rules;
}

/**
 * Maps `GET /v2/clock`.
 *
 * @param raw - the clock JSON
 * @param asOf - when it was read
 * @returns the clock
 * @throws BrokerError (`protocol`)
 */
export function mapAlpacaClock(raw: unknown, asOf: Date): MarketClock {
  const c = asRecord(raw, "clock");
  return parseMarketClock({ isOpen: c.is_open, nextOpen: c.next_open, nextClose: c.next_close, asOf });
}

/**
 * Maps the latest-trades reply of the market data API (`{ trades: { SYM: { p } } }`),
 * omitting symbols without a trade.
 *
 * @param raw - the reply
 * @param symbols - the symbols asked for (others in the reply are ignored)
 * @returns symbol → price
 * @throws BrokerError (`protocol`) for a missing `trades` object or a price that is not > 0
 */
export function mapAlpacaLatestTrades(raw: unknown, symbols: readonly string[]): Map<string, Decimal> {
  const body = asRecord(raw, "latest trades");
  const trades =
    body.trades === null || body.trades === undefined ? {} : asRecord(body.trades, "latest trades");
  const prices: Record<string, unknown> = {};
  for (const symbol of symbols) {
    const trade = trades[symbol];
    if (trade === undefined || trade === null) continue;
    const p = asRecord(trade, "latest trade").p;
    if (typeof p !== "number" && typeof p !== "string")
      throw protocol("latest trade", `${symbol}.p: expected a number`);
    prices[symbol] = typeof p === "number" ? String(p) : p;
  }
  return parseLatestPrices(prices);
}

/** The `data` of a `trade_updates` frame, as the SDK hands it over. */
export interface AlpacaTradeUpdateLike {
  event: unknown;
  order: unknown;
  timestamp?: unknown;
  price?: unknown;
  qty?: unknown;
  executionId?: unknown;
  execution_id?: unknown;
}

/**
 * Maps a `trade_updates` message to an {@link OrderUpdate}: the order, the event, and for
 * `fill` / `partial_fill` this fill's own quantity, price and execution id.
 *
 * @param raw - the SDK's `TradeUpdate` (or the frame's `data`): the fields of
 *   {@link AlpacaTradeUpdateLike}, each checked here
 * @returns the checked update
 * @throws BrokerError (`protocol`) for an unknown event or a malformed order or fill
 */
export function mapAlpacaTradeUpdate(raw: unknown): OrderUpdate {
  const u = asRecord(raw, "trade update");
  const event = lookup(ALPACA_TRADE_EVENT, u.event, "trade update", "event");
  const order = mapAlpacaOrder(u.order);
  const at = u.timestamp instanceof Date || typeof u.timestamp === "string" ? u.timestamp : order.updatedAt;
  const executionId = opt(u.executionId) ?? opt(u.execution_id);
  const isFill = event === "fill" || event === "partial_fill";
  if (isFill && (u.qty === undefined || u.qty === null || u.price === undefined || u.price === null)) {
    throw protocol("trade update", `${event} without qty or price`);
  }
  return parseOrderUpdate({
    event,
    order,
    at,
    fill: isFill ? { qty: u.qty, price: u.price, executionId } : undefined,
  });
}
