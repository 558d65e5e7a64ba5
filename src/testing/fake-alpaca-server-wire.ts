import { createHash } from "node:crypto";
import type {
  AccountSnapshot,
  AssetRules,
  MarketClock,
  OrderSnapshot,
  OrderUpdate,
  PositionSnapshot,
} from "../broker/broker-port.js";
import { type Decimal, formatDecimal } from "../core/decimal.js";
import type { BrokerErrorCode } from "../core/errors.js";
import { ALPACA_CODES, ALPACA_MESSAGES } from "./simulated-broker/venue-rules.js";

// Alpaca's JSON shapes (facts sections 2-5): every decimal a string, timestamps RFC 3339
// with nanoseconds, ids UUID-like.

type Json = Record<string, unknown>;

const dec = (d: Decimal | undefined): string | null => (d === undefined ? null : formatDecimal(d, 9));

/** An RFC 3339 time with nanoseconds, as Alpaca sends them. */
export function wireTime(d: Date | undefined): string | null {
  if (d === undefined) return null;
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.(\d+))?(?:Z|[+-]\d{2}:\d{2}))?$/i;

/**
 * Reads a time a client sent (`after`, `until`): RFC 3339, any number of fraction digits, or
 * a plain date (midnight UTC).
 *
 * @param text - the query value (a `+` offset decoded to a space is read back as `+`)
 * @returns the whole ms at or before the time, and whether the time lies strictly inside
 *   that ms (digits past the ms that are not all zero); undefined when it is not a time
 */
export function readWireTime(text: string): { ms: number; insideMs: boolean } | undefined {
  const t = text.replace(/ (\d{2}:\d{2})$/, "+$1");
  const m = RFC3339.exec(t);
  if (m === null) return undefined;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) return undefined;
  return { ms, insideMs: /[1-9]/.test((m[1] ?? "").slice(3)) };
}

/** A stable UUID-shaped id derived from a name (an asset id for a symbol). */
export function uuidFor(name: string): string {
  const h = createHash("sha1").update(name).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `GET /v2/account`. */
export function accountJson(a: AccountSnapshot, accountId: string, longMarketValue: Decimal): Json {
  const cash = formatDecimal(a.cash, 9);
  return {
    id: accountId,
    account_number: "PA3FAKE00000",
    status: "ACTIVE",
    crypto_status: "ACTIVE",
    currency: a.currency,
    cash,
    buying_power: formatDecimal(a.buyingPower, 9),
    regt_buying_power: formatDecimal(a.buyingPower, 9),
    non_marginable_buying_power: formatDecimal(a.nonMarginableBuyingPower ?? a.buyingPower, 9),
    options_buying_power: formatDecimal(a.buyingPower, 9),
    effective_buying_power: formatDecimal(a.buyingPower, 9),
    equity: formatDecimal(a.equity, 9),
    last_equity: formatDecimal(a.equity, 9),
    portfolio_value: formatDecimal(a.equity, 9),
    long_market_value: formatDecimal(longMarketValue, 9),
    short_market_value: "0",
    position_market_value: formatDecimal(longMarketValue, 9),
    initial_margin: "0",
    maintenance_margin: "0",
    last_maintenance_margin: "0",
    sma: "0",
    multiplier: "1",
    accrued_fees: "0",
    intraday_adjustments: "0",
    pending_reg_taf_fees: "0",
    pending_transfer_in: "0",
    pending_transfer_out: "0",
    balance_asof: a.asOf.toISOString().slice(0, 10),
    created_at: "2024-01-02T15:00:00.000000000Z",
    options_approved_level: 0,
    options_trading_level: 0,
    crypto_tier: 0,
    shorting_enabled: false,
    trading_blocked: a.tradingBlocked,
    transfers_blocked: false,
    account_blocked: false,
    trade_suspended_by_user: false,
  };
}

/** One entry of `GET /v2/positions`. */
export function positionJson(p: PositionSnapshot): Json {
  const price = p.currentPrice;
  const avg = p.avgEntryPrice ?? price;
  const mv = p.marketValue ?? (price ? p.qty.times(price) : undefined);
  const cost = avg ? p.qty.times(avg) : undefined;
  const pl = mv && cost ? mv.minus(cost) : undefined;
  return {
    asset_id: uuidFor(p.symbol),
    symbol: p.symbol,
    exchange: "NASDAQ",
    asset_class: "us_equity",
    asset_marginable: true,
    qty: formatDecimal(p.qty, 9),
    qty_available: formatDecimal(p.qtyAvailable, 9),
    avg_entry_price: dec(avg),
    side: p.qty.isNegative() ? "short" : "long",
    market_value: dec(mv),
    cost_basis: dec(cost),
    unrealized_pl: dec(pl),
    unrealized_plpc: pl && cost && !cost.isZero() ? formatDecimal(pl.div(cost), 9) : "0",
    unrealized_intraday_pl: dec(pl),
    unrealized_intraday_plpc: pl && cost && !cost.isZero() ? formatDecimal(pl.div(cost), 9) : "0",
    current_price: dec(price),
    lastday_price: dec(price),
    change_today: "0",
  };
}

/** `GET /v2/assets/{symbol}`. */
export function assetJson(a: AssetRules): Json {
  return {
    id: uuidFor(a.symbol),
    class: "us_equity",
    exchange: "NASDAQ",
    symbol: a.symbol,
    name: `${a.symbol} (simulated)`,
    status: "active",
    tradable: a.tradable,
    marginable: true,
    shortable: false,
    easy_to_borrow: false,
    fractionable: a.fractionable,
    maintenance_margin_requirement: 30,
    margin_requirement_long: "30",
    margin_requirement_short: "100",
    attributes: a.fractionable ? ["fractional_eh_enabled"] : [],
  };
}

/** `GET /v2/clock`. */
export function clockJson(c: MarketClock): Json {
  return {
    timestamp: c.asOf.toISOString(),
    is_open: c.isOpen,
    next_open: c.nextOpen.toISOString(),
    next_close: c.nextClose.toISOString(),
  };
}

/** The Alpaca order object (REST replies and `trade_updates` frames). */
export function orderJson(o: OrderSnapshot): Json {
  const final = (s: string) => (o.status === s ? wireTime(o.updatedAt) : null);
  return {
    id: o.id,
    client_order_id: o.clientOrderId,
    created_at: wireTime(o.createdAt ?? o.updatedAt),
    updated_at: wireTime(o.updatedAt),
    submitted_at: wireTime(o.createdAt ?? o.updatedAt),
    filled_at: final("filled"),
    expired_at: final("expired"),
    expires_at: null,
    canceled_at: final("canceled"),
    failed_at: final("rejected"),
    replaced_at: null,
    replaced_by: null,
    replaces: null,
    asset_id: uuidFor(o.symbol),
    symbol: o.symbol,
    asset_class: "us_equity",
    notional: dec(o.notional),
    qty: dec(o.qty),
    filled_qty: formatDecimal(o.filledQty, 9),
    filled_avg_price: dec(o.filledAvgPrice),
    order_class: "",
    order_type: o.type,
    type: o.type,
    side: o.side,
    position_intent: o.side === "buy" ? "buy_to_open" : "sell_to_close",
    time_in_force: o.timeInForce,
    limit_price: dec(o.limitPrice),
    stop_price: null,
    status: o.status,
    extended_hours: false,
    legs: null,
    trail_percent: null,
    trail_price: null,
    hwm: null,
    subtag: null,
    source: null,
    ...(o.rejectReason !== undefined ? { reject_reason: o.rejectReason } : {}),
  };
}

/** The `data` of a `trade_updates` frame. */
export function tradeUpdateJson(u: OrderUpdate, positionQty: Decimal | undefined): Json {
  return {
    event: u.event,
    timestamp: wireTime(u.at),
    order: orderJson(u.order),
    ...(u.fill
      ? {
          price: formatDecimal(u.fill.price, 9),
          qty: formatDecimal(u.fill.qty, 9),
          ...(u.fill.executionId !== undefined ? { execution_id: u.fill.executionId } : {}),
          ...(positionQty !== undefined ? { position_qty: formatDecimal(positionQty, 9) } : {}),
        }
      : {}),
  };
}

/** An HTTP error reply: status, body, headers. */
export interface WireError {
  status: number;
  body: Json;
  headers?: Record<string, string>;
}

/** What a refusal's reply is made from. */
interface WireFacts {
  /** Facts from the error (symbol, available quantity, ...). */
  readonly details: Record<string, unknown>;
  /** The port method that failed. */
  readonly operation: string;
  readonly retryAfterMs: number | undefined;
  readonly nowMs: number;
}

const M = ALPACA_MESSAGES;
const code = (c: string) => Number(c);

/** The facts named, as strings, when the error has them. */
function pick(f: WireFacts, ...keys: string[]): Json {
  const out: Json = {};
  for (const k of keys) if (f.details[k] !== undefined) out[k] = String(f.details[k]);
  return out;
}

/** `insufficient qty available for order (requested: X, available: Y)`, the tail only when both are known. */
function insufficientQty(f: WireFacts): WireError {
  const requested = f.details.requested ?? f.details.qty;
  const available = f.details.available;
  const message =
    requested !== undefined && available !== undefined
      ? M.insufficientQtyOf(String(requested), String(available))
      : M.insufficientQty;
  return {
    status: 403,
    body: {
      code: code(ALPACA_CODES.forbidden),
      message,
      ...pick(f, "available", "symbol", "held_for_orders", "existing_qty"),
    },
  };
}

function rateLimited(f: WireFacts): WireError {
  const ms = f.retryAfterMs ?? 1000;
  return {
    status: 429,
    body: { code: code(ALPACA_CODES.rateLimited), message: "rate limit exceeded" },
    headers: {
      "Retry-After": String(ms / 1000),
      "X-RateLimit-Limit": "200",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": String(Math.ceil((f.nowMs + ms) / 1000)),
    },
  };
}

const internalError = (): WireError => ({
  status: 500,
  body: { code: 50010000, message: "internal server error" },
});

/**
 * Alpaca's reply for each refusal (facts section 5; the texts are the venue's, see
 * `simulated-broker/venue-rules.ts`). A few are fixed where the venue's own would differ: the
 * minimum is always $1, a wash trade always names the market/stop reason, `not_fractionable`
 * is a 422, `invalid_order` a 40010001.
 */
const WIRE_ERRORS: Record<BrokerErrorCode, (f: WireFacts) => WireError> = {
  insufficient_buying_power: (f) => ({
    status: 403,
    body: {
      code: code(ALPACA_CODES.forbidden),
      message: M.insufficientBuyingPower,
      ...pick(f, "buying_power", "cost_basis"),
    },
  }),
  insufficient_quantity: insufficientQty,
  wash_trade: (f) => ({
    status: 403,
    body: {
      code: code(ALPACA_CODES.forbidden),
      message: M.washTrade,
      reject_reason: M.washTradeMarket,
      ...pick(f, "existing_order_id"),
    },
  }),
  min_notional: () => ({
    status: 403,
    body: { code: code(ALPACA_CODES.forbidden), message: M.minNotional("1") },
  }),
  not_fractionable: () => ({
    status: 422,
    body: { code: code(ALPACA_CODES.unprocessable), message: M.notFractionable },
  }),
  duplicate_client_order_id: () => ({
    status: 422,
    body: { code: code(ALPACA_CODES.validation), message: M.duplicateClientOrderId },
  }),
  invalid_order: (f) => ({
    status: 422,
    body: {
      code: code(ALPACA_CODES.validation),
      message: String(f.details.reason ?? "invalid order request"),
    },
  }),
  not_found: (f) => ({
    status: 404,
    body: {
      code: code(ALPACA_CODES.notFound),
      message:
        f.operation === "closePosition" || f.operation === "getPosition"
          ? M.positionDoesNotExist
          : M.orderNotFound,
    },
  }),
  not_cancelable: () => ({
    status: 422,
    body: { code: code(ALPACA_CODES.unprocessable), message: M.notCancelable },
  }),
  market_closed: () => ({
    status: 403,
    body: { code: code(ALPACA_CODES.forbidden), message: "market is closed" },
  }),
  rate_limited: rateLimited,
  unauthorized: () => ({ status: 401, body: { code: 40110000, message: "request is not authorized" } }),
  forbidden: () => ({ status: 403, body: { message: "forbidden" } }),
  rejected: (f) => ({
    status: 422,
    body: {
      code: code(ALPACA_CODES.unprocessable),
      message: M.notTradable(String(f.details.symbol ?? "")).replace("  ", " "),
    },
  }),
  // Never a refusal the venue sends: a server error (`ambiguous` never gets here, the connection is dropped).
  unavailable: internalError,
  ambiguous: internalError,
  protocol: internalError,
};

/**
 * Alpaca's reply for a refusal (facts section 5): the status, the 8-digit code and the exact
 * message texts the real API sends.
 *
 * @param errorCode - the simulated broker's error code
 * @param details - facts from the error (symbol, available quantity, ...)
 * @param operation - the port method that failed
 * @param retryAfterMs - for `rate_limited`: when to retry (default 1 s)
 * @param nowMs - the clock now (for `X-RateLimit-Reset`)
 * @returns the wire error; `ambiguous` never reaches here (the connection is dropped)
 */
export function wireErrorFor(
  errorCode: BrokerErrorCode,
  details: Record<string, unknown>,
  operation: string,
  retryAfterMs: number | undefined,
  nowMs: number,
): WireError {
  return WIRE_ERRORS[errorCode]({ details, operation, retryAfterMs, nowMs });
}
