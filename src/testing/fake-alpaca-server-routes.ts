import { randomUUID } from "node:crypto";
import type { ListOrdersQuery, OrderRequest } from "../broker/broker-port.js";
import { ORDER_LIST_STATUSES } from "../broker/broker-port.js";
import type { Clock } from "../core/clock.js";
import { type Decimal, toDecimal, ZERO } from "../core/decimal.js";
import {
  accountJson,
  assetJson,
  clockJson,
  orderJson,
  positionJson,
  readWireTime,
} from "./fake-alpaca-server-wire.js";
import type { SimulatedBroker } from "./simulated-broker/simulated-broker.js";
import { ALPACA_MESSAGES } from "./simulated-broker/venue-rules.js";

// The REST routes of the fake Alpaca server (facts section 2): one handler per route, over the
// broker behind the server.

/** An HTTP reply: status, JSON body (or raw text), headers. */
export class HttpReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    readonly raw = false,
  ) {}
}

/** What a route handler works with. */
export interface RouteContext {
  readonly broker: SimulatedBroker;
  readonly clock: Clock;
  readonly accountId: string;
}

/** One request, as a route handler sees it. */
export interface RouteRequest {
  /** The path's one parameter (a symbol or an order id), decoded; "" for fixed paths. */
  readonly param: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

/** A route: method, path (exact, or a pattern with one capture group), the port method it serves, its handler. */
export interface Route {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  readonly path: string | RegExp;
  readonly operation: string;
  readonly handle: (ctx: RouteContext, request: RouteRequest) => Promise<HttpReply>;
}

/** `GET /v2/orders` pages: 50 by default, at most 500 (facts 2.7). */
const ORDERS_PAGE = { default: 50, max: 500 } as const;

const ok = (body: unknown) => new HttpReply(200, body);
const notFound = (message: string) => new HttpReply(404, { code: 40410000, message });
const invalid = (message: string) => new HttpReply(422, { code: 40010001, message });
const unprocessable = (message: string) => new HttpReply(422, { code: 42210000, message });

/** Every route the server answers; a request no route matches is a 404. */
export const ROUTES: readonly Route[] = [
  { method: "GET", path: "/v2/account", operation: "getAccount", handle: getAccount },
  { method: "GET", path: "/v2/positions", operation: "getPositions", handle: getPositions },
  { method: "GET", path: /^\/v2\/positions\/([^/]+)$/, operation: "getPosition", handle: getPosition },
  { method: "DELETE", path: /^\/v2\/positions\/([^/]+)$/, operation: "closePosition", handle: closePosition },
  { method: "GET", path: /^\/v2\/assets\/([^/]+)$/, operation: "getAssets", handle: getAsset },
  { method: "GET", path: "/v2/clock", operation: "getClock", handle: getClock },
  {
    method: "GET",
    path: "/v2/orders:by_client_order_id",
    operation: "getOrderByClientOrderId",
    handle: getOrderByClientOrderId,
  },
  { method: "GET", path: "/v2/orders", operation: "listOrders", handle: listOrders },
  { method: "POST", path: "/v2/orders", operation: "submitOrder", handle: submitOrder },
  { method: "GET", path: /^\/v2\/orders\/([^/]+)$/, operation: "getOrder", handle: getOrder },
  { method: "DELETE", path: /^\/v2\/orders\/([^/]+)$/, operation: "cancelOrder", handle: cancelOrder },
  { method: "PATCH", path: /^\/v2\/orders\/([^/]+)$/, operation: "replaceOrder", handle: replaceOrder },
  { method: "GET", path: "/v2/stocks/trades/latest", operation: "getLatestPrices", handle: latestTrades },
  { method: "GET", path: "/v2/stocks/quotes/latest", operation: "getLatestQuotes", handle: latestQuotes },
];

/**
 * The route for a request, and its path parameter (still encoded).
 *
 * @param method - the HTTP method
 * @param path - the path, without the query
 * @returns the route and parameter, or undefined when none matches
 */
export function findRoute(method: string, path: string): { route: Route; param: string } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    if (typeof route.path === "string") {
      if (route.path === path) return { route, param: "" };
      continue;
    }
    const match = route.path.exec(path);
    if (match !== null) return { route, param: match[1] ?? "" };
  }
  return undefined;
}

async function getAccount(ctx: RouteContext): Promise<HttpReply> {
  const [a, positions] = await Promise.all([ctx.broker.getAccount(), ctx.broker.getPositions()]);
  const longMarketValue = positions.reduce((s, p) => s.plus(p.marketValue ?? ZERO), ZERO);
  return ok(accountJson(a, ctx.accountId, longMarketValue));
}

async function getPositions(ctx: RouteContext): Promise<HttpReply> {
  return ok((await ctx.broker.getPositions()).map(positionJson));
}

async function getPosition(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const p = await ctx.broker.getPosition(r.param);
  return p === null ? notFound(ALPACA_MESSAGES.positionDoesNotExist) : ok(positionJson(p));
}

async function closePosition(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  if (r.query.has("qty") || r.query.has("percentage")) {
    return unprocessable("qty and percentage are not supported by this server");
  }
  return ok(orderJson(await ctx.broker.closePosition(r.param)));
}

async function getAsset(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const [asset] = await ctx.broker.getAssets([r.param]);
  return asset ? ok(assetJson(asset)) : notFound("asset not found");
}

async function getClock(ctx: RouteContext): Promise<HttpReply> {
  return ok(clockJson(await ctx.broker.getClock()));
}

async function getOrderByClientOrderId(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const id = r.query.get("client_order_id");
  if (!id) return invalid("client_order_id is missing");
  const o = await ctx.broker.getOrderByClientOrderId(id);
  return o ? ok(orderJson(o)) : notFound(ALPACA_MESSAGES.orderNotFound);
}

async function submitOrder(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const request = toOrderRequest(r.body);
  if (request instanceof HttpReply) return request;
  return ok(orderJson(await ctx.broker.submitOrder(request)));
}

async function getOrder(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const o = await ctx.broker.getOrder(r.param);
  return o ? ok(orderJson(o)) : notFound(ALPACA_MESSAGES.orderNotFound);
}

async function cancelOrder(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  await ctx.broker.cancelOrder(r.param);
  return new HttpReply(204, undefined);
}

/** `GET /v2/stocks/trades/latest` (facts 8): the last price as a trade, `p` a JSON number. */
async function latestTrades(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const symbols = (r.query.get("symbols") ?? "").split(",").filter((s) => s !== "");
  if (symbols.length === 0) return new HttpReply(400, { message: "missing symbols" });
  const prices = await ctx.broker.getLatestPrices(symbols);
  const trades: Record<string, unknown> = {};
  for (const [s, p] of prices) {
    trades[s] = {
      t: new Date(ctx.clock.now()).toISOString(),
      x: "V",
      p: Number(p.toString()),
      s: 100,
      c: ["@"],
      i: 1,
      z: "C",
    };
  }
  return ok({ trades, currency: "USD" });
}

/**
 * `PATCH /v2/orders/{id}` (facts 2.7): replaces a working order; the body's `qty`,
 * `limit_price` (plain decimal strings) and `client_order_id`; the reply is the new order.
 */
async function replaceOrder(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  if (!isRecord(r.body)) return invalid("request body is required");
  const qty = decimalField(r.body, "qty");
  if (qty instanceof HttpReply) return qty;
  const limitPrice = decimalField(r.body, "limit_price");
  if (limitPrice instanceof HttpReply) return limitPrice;
  const cid = r.body.client_order_id;
  if (cid !== undefined && cid !== null && (typeof cid !== "string" || cid === "" || cid.length > 128)) {
    return invalid("invalid client_order_id");
  }
  if (limitPrice !== undefined && limitPrice.decimalPlaces() > (limitPrice.gte(1) ? 2 : 4)) {
    return unprocessable(
      `invalid limit_price ${limitPrice.toFixed()}. sub-penny increment does not fulfill minimum pricing criteria`,
    );
  }
  const changes = {
    ...(qty !== undefined ? { qty } : {}),
    ...(limitPrice !== undefined ? { limitPrice } : {}),
    ...(typeof cid === "string" ? { clientOrderId: cid } : {}),
  };
  return ok(orderJson(await ctx.broker.replaceOrder(r.param, changes)));
}

/**
 * `GET /v2/stocks/quotes/latest` (facts 8): each symbol's latest quote, `bp` / `ap` and sizes
 * as JSON numbers, `t` the quote's time; symbols without a quote are absent.
 */
async function latestQuotes(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const symbols = (r.query.get("symbols") ?? "").split(",").filter((s) => s !== "");
  if (symbols.length === 0) return new HttpReply(400, { message: "missing symbols" });
  const quotes: Record<string, unknown> = {};
  for (const [s, q] of await ctx.broker.getLatestQuotes(symbols)) {
    quotes[s] = {
      t: q.asOf.toISOString(),
      bx: "V",
      bp: Number(q.bid.toString()),
      bs: Number((q.bidSize ?? ZERO).toString()),
      ax: "V",
      ap: Number(q.ask.toString()),
      as: Number((q.askSize ?? ZERO).toString()),
      c: ["R"],
      z: "C",
    };
  }
  return ok({ quotes });
}

/**
 * `GET /v2/orders` (facts 2.7), answered from the broker's order history (`listOrders`), so
 * an order refused at submit is never listed: Alpaca makes no order for a refused POST.
 * Query: `status` open (default) | closed | all; `after` / `until` (RFC 3339, exclusive, on
 * the submission time); `direction` desc (default) | asc; `limit` (default 50, at most
 * 500); `symbols` (comma-separated); the `before_order_id` / `after_order_id` cursors;
 * `nested` is accepted and changes nothing (there are no multi-leg orders). A value it
 * cannot read is a 422.
 */
async function listOrders(ctx: RouteContext, r: RouteRequest): Promise<HttpReply> {
  const query = readListQuery(r.query);
  if (query instanceof HttpReply) return query;
  const newestFirst = await ctx.broker.listOrders(query.history);
  let sorted = query.direction === "asc" ? [...newestFirst].reverse() : newestFirst;
  const before = r.query.get("before_order_id");
  if (before) {
    const at = sorted.findIndex((o) => o.id === before);
    sorted = at >= 0 ? sorted.slice(at + 1) : sorted;
  }
  const after = r.query.get("after_order_id");
  if (after) {
    const at = sorted.findIndex((o) => o.id === after);
    sorted = at >= 0 ? sorted.slice(0, at) : sorted;
  }
  return ok(sorted.slice(0, query.limit).map(orderJson));
}

/** What `GET /v2/orders` asks for: the history query, the direction, the page size; or the 422 for a value it cannot read. */
function readListQuery(
  q: URLSearchParams,
): { history: ListOrdersQuery; direction: "asc" | "desc"; limit: number } | HttpReply {
  const status = q.get("status") ?? "open";
  const listStatus = ORDER_LIST_STATUSES.find((s) => s === status);
  if (listStatus === undefined) return invalid(`invalid status: ${status}`);
  const direction = q.get("direction") ?? "desc";
  if (direction !== "asc" && direction !== "desc") return invalid(`invalid direction: ${direction}`);
  const limitText = q.get("limit");
  const limit = limitText === null ? ORDERS_PAGE.default : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1) return invalid(`invalid limit: ${limitText}`);
  const history: ListOrdersQuery = { status: listStatus };
  for (const bound of ["after", "until"] as const) {
    const text = q.get(bound);
    if (text === null || text === "") continue;
    const t = readWireTime(text);
    if (t === undefined) return invalid(`invalid ${bound}: ${text}`);
    // Orders carry whole ms: a bound inside a ms excludes what an `until` at its end would.
    history[bound] = new Date(bound === "until" && t.insideMs ? t.ms + 1 : t.ms);
  }
  const symbols = (q.get("symbols") ?? "").split(",").filter((s) => s !== "");
  if (symbols.length > 0) history.symbols = symbols;
  return { history, direction, limit: Math.min(ORDERS_PAGE.max, limit) };
}

// ---------------------------------------------------------------- POST /v2/orders body

const PLAIN_DECIMAL = /^\d+(\.\d+)?$/;
const TIME_IN_FORCE = ["day", "gtc", "ioc", "fok", "opg", "cls"] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function isTimeInForce(v: unknown): v is OrderRequest["timeInForce"] {
  return TIME_IN_FORCE.some((t) => t === v);
}

/** A decimal field: absent, or a plain decimal string (exponent form is refused, so a client that sends it is caught). */
function decimalField(b: Record<string, unknown>, field: string): Decimal | undefined | HttpReply {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || !PLAIN_DECIMAL.test(v)) return invalid(`invalid ${field}`);
  return toDecimal(v);
}

/**
 * Reads an order request from a `POST /v2/orders` body (facts 2.5), with Alpaca's refusals
 * for a malformed one; a missing client order id gets a random one, as Alpaca does.
 *
 * @param body - the parsed JSON body
 * @returns the request, or the error reply
 */
export function toOrderRequest(body: unknown): OrderRequest | HttpReply {
  if (!isRecord(body)) return invalid("request body is required");
  const qty = decimalField(body, "qty");
  if (qty instanceof HttpReply) return qty;
  const notional = decimalField(body, "notional");
  if (notional instanceof HttpReply) return notional;
  const limitPrice = decimalField(body, "limit_price");
  if (limitPrice instanceof HttpReply) return limitPrice;
  const { symbol, side, type, time_in_force: tif } = body;
  if (typeof symbol !== "string" || symbol === "") return invalid("symbol is required");
  if (side !== "buy" && side !== "sell") return invalid("invalid side");
  if (type !== "market" && type !== "limit") return invalid(`invalid order type: ${String(type)}`);
  if (!isTimeInForce(tif)) return invalid("invalid time_in_force");
  const refused = sizeRefusal(type, tif, qty, notional, limitPrice);
  if (refused !== undefined) return refused;
  const cid =
    typeof body.client_order_id === "string" && body.client_order_id !== ""
      ? body.client_order_id
      : randomUUID();
  if (cid.length > 128) return invalid("client_order_id must be no more than 128 characters");
  return {
    clientOrderId: cid,
    symbol,
    side,
    type,
    timeInForce: tif,
    ...(qty !== undefined ? { qty } : {}),
    ...(notional !== undefined ? { notional } : {}),
    ...(limitPrice !== undefined ? { limitPrice } : {}),
    ...(typeof body.extended_hours === "boolean" ? { extendedHours: body.extended_hours } : {}),
  };
}

/** Alpaca's refusals of a body's size and price: one of qty and notional, a limit for limit orders, sub-penny prices, fractional DAY orders. */
function sizeRefusal(
  type: OrderRequest["type"],
  tif: OrderRequest["timeInForce"],
  qty: Decimal | undefined,
  notional: Decimal | undefined,
  limitPrice: Decimal | undefined,
): HttpReply | undefined {
  if (qty === undefined && notional === undefined) return invalid("qty or notional is required");
  if (qty !== undefined && notional !== undefined) return invalid("only one of qty or notional may be set");
  if (type === "limit" && limitPrice === undefined)
    return invalid("limit_price is required for limit orders");
  if ((qty !== undefined && (qty.decimalPlaces() > 9 || qty.isZero())) || notional?.isZero()) {
    return invalid("invalid qty or notional");
  }
  if (limitPrice !== undefined && limitPrice.decimalPlaces() > (limitPrice.gte(1) ? 2 : 4)) {
    return unprocessable(
      `invalid limit_price ${limitPrice.toFixed()}. sub-penny increment does not fulfill minimum pricing criteria`,
    );
  }
  if ((notional !== undefined || (qty !== undefined && !qty.isInteger())) && tif !== "day") {
    return unprocessable("fractional orders must be DAY orders");
  }
  return undefined;
}
