import type { trading } from "@alpacahq/alpaca-trade-api";
import { z } from "zod";
import type {
  AssetRules,
  BrokerPort,
  CallOptions,
  ListOrdersQuery,
  OrderRequest,
  OrderSnapshot,
  OrderUpdateListener,
  Subscription,
} from "../broker/broker-port.js";
import { checkBroker, wrapBrokerPort } from "../broker/checked-broker.js";
import { parseListOrdersQuery, parseOrderRequest } from "../broker/schemas.js";
import { systemClock, throwIfAborted } from "../core/clock.js";
import { mapBounded } from "../core/concurrency.js";
import { type Decimal, formatDecimal } from "../core/decimal.js";
import { BrokerError, ValidationError } from "../core/errors.js";
import { isolateLogger } from "../core/isolation.js";
import { parseInput, zSymbol } from "../core/validation.js";
import {
  mapAlpacaAccount,
  mapAlpacaAsset,
  mapAlpacaClock,
  mapAlpacaLatestTrades,
  mapAlpacaOrder,
  mapAlpacaOrderHistoryPage,
  mapAlpacaOrders,
  mapAlpacaPosition,
  mapAlpacaPositions,
} from "./alpaca-mapping.js";
import { type AlpacaBrokerOptions, type AlpacaFeed, readAlpacaOptions } from "./alpaca-options.js";
import { AlpacaOrderStream } from "./alpaca-order-stream.js";
import { quoteAndReplaceCalls } from "./alpaca-quotes-replace.js";
import { type AlpacaRest, createAlpacaRest, nullOnNotFound } from "./alpaca-rest.js";
import { type Redactor, redactingLogger } from "./redactor.js";

/** Symbols per latest-trades request. */
const LATEST_TRADES_CHUNK = 100;
/** Orders per page of the open-orders list. */
const OPEN_ORDERS_PAGE = 500;
/** The most pages of open orders read. */
const MAX_OPEN_ORDER_PAGES = 100;
/** Orders per page of an order-history read: Alpaca's most. */
const HISTORY_PAGE = 500;

/**
 * Creates a {@link BrokerPort} on Alpaca through the official SDK
 * (`@alpacahq/alpaca-trade-api` v4, an optional peer dependency).
 *
 * @param options - see {@link AlpacaBrokerOptions}; the defaults are `ALPACA_BROKER_DEFAULTS`
 * @returns the port; every reply is checked by the schemas (a bad payload is
 *   `BrokerError("protocol")`)
 * @throws ValidationError (`validation`) for a bad option (credentials are never shown);
 *   OrdersafeError (`config`) for missing credentials or live trading without `allowLive`
 * @remarks
 * - REST goes through the SDK's generated APIs (`trading.Configuration({ basePath })`) with
 *   the SDK's retries and rate limiter off: ordersafe's retry engine owns retries, and a
 *   token bucket on `clock` keeps to `rateLimitPerMinute`.
 * - Quantities and money are sent as fixed decimal strings (at most 9 decimals; limit prices
 *   2 decimals at or above $1, 4 below), never in exponent form.
 * - A lost reply to a POST or DELETE is `ambiguous` (look the order up by client order id);
 *   to a GET, `unavailable`. A refused connection is `unavailable` for every call.
 * - Latest prices come from the market data API's latest trades, with `feed`.
 * - Order updates come from the SDK's `TradingStream` (one shared connection).
 * - `getLatestQuotes` (capability `quotes`) reads the market data API's latest quotes, 100
 *   symbols a request, with `feed`; `replaceOrder` (capability `replace`) is
 *   `PATCH /v2/orders/{id}` (a lost reply is `ambiguous`).
 * - `listOrders` (capability `orderHistory`) reads `GET /v2/orders` newest first, 500 a
 *   page, each next page ending where the last one's oldest order was submitted, until a
 *   short page or the query's `limit`: ⌈n / 500⌉ requests for n orders (one more when n is
 *   a multiple of 500 and no `limit` stops it); the orders that share the ms where two
 *   pages meet are read twice, so a page may bring a few less than 500 new ones.
 * @example
 * ```ts
 * const broker = createAlpacaBroker({ paper: true }); // keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY
 * const account = await broker.getAccount();
 * ```
 */
export function createAlpacaBroker(options: AlpacaBrokerOptions = {}): BrokerPort {
  const settings = readAlpacaOptions(options);
  const { options: opts } = settings;
  const logger = redactingLogger(isolateLogger(opts.logger), settings.redactor);
  const rest = createAlpacaRest(settings, logger, opts.clock ?? systemClock);
  const stream = new AlpacaOrderStream({
    url: settings.streamUrl,
    credentials: settings.credentials,
    settings: opts.stream,
    logger,
  });
  const port: BrokerPort = {
    id: settings.id,
    capabilities: {
      fractional: true,
      notionalOrders: true,
      closePosition: true,
      orderUpdates: true,
      orderHistory: true,
      requestReports: true,
      quotes: true,
      replace: true,
    },
    ...accountReads(rest),
    ...marketReads(rest, opts.assetConcurrency, opts.feed),
    ...orderCalls(rest),
    ...quoteAndReplaceCalls(rest, opts.feed),
    subscribeOrderUpdates: (listener) => subscribe(stream, listener),
  };
  logger.info(
    { id: port.id, baseUrl: settings.baseUrl, paper: opts.paper, feed: opts.feed },
    "[ordersafe/alpaca] broker created",
  );
  const checked = checkBroker(port, (error) =>
    logger.warn({ error }, "[ordersafe/alpaca] dropped an order update that failed its schema"),
  );
  return redactingPort(checked, settings.redactor);
}

/**
 * The checked port with every error it throws redacted: a reply that fails its schema names
 * the offending field's value, and a server may echo a credential in any field. The wrapper
 * is marked as checked (its replies are), so services do not check them a second time.
 */
function redactingPort(checked: BrokerPort, redactor: Redactor): BrokerPort {
  const port = wrapBrokerPort(checked, {
    call: (_method, call) =>
      call().catch((error: unknown) => {
        throw redactor.error(error);
      }),
  });
  Object.defineProperty(port, CHECKED_PORT, { value: true });
  return port;
}

/** The mark `checkBroker` leaves on a port whose replies are checked. */
const CHECKED_PORT = Symbol.for("ordersafe.checked-broker");

/** The account and its positions. */
function accountReads(rest: AlpacaRest): Pick<BrokerPort, "getAccount" | "getPositions" | "getPosition"> {
  const { accounts, positions } = rest.api;
  return {
    async getAccount(o) {
      // asOf is taken before the request leaves: the reply reflects every order acknowledged
      // before that instant, so the ledger never counts an unreflected hold as reflected.
      const asOf = rest.now();
      const raw = await rest.json("getAccount", o, (init) => accounts.getAccountRaw(init));
      return mapAlpacaAccount(raw, asOf);
    },

    async getPositions(o) {
      const raw = await rest.json("getPositions", o, (init) => positions.getAllOpenPositionsRaw(init));
      return mapAlpacaPositions(raw);
    },

    async getPosition(symbol, o) {
      const s = checkSymbol(symbol);
      const raw = await nullOnNotFound(
        rest.json("getPosition", o, (init) => positions.getOpenPositionRaw({ symbolOrAssetId: s }, init)),
      );
      if (raw === null) return null;
      const p = mapAlpacaPosition(raw);
      return p.qty.isZero() ? null : p;
    },
  };
}

/** Trading rules, latest prices and the market clock. */
function marketReads(
  rest: AlpacaRest,
  assetConcurrency: number,
  feed: AlpacaFeed,
): Pick<BrokerPort, "getAssets" | "getLatestPrices" | "getClock"> {
  const { assets, stocks, clock } = rest.api;
  return {
    async getAssets(symbols, o) {
      const list = [...new Set(checkSymbols(symbols))];
      throwIfAborted(o?.signal);
      const found = await mapBounded(list, assetConcurrency, async (s) => {
        const raw = await nullOnNotFound(
          rest.json("getAssets", o, (init) =>
            assets.getV2AssetsSymbolOrAssetIdRaw({ symbolOrAssetId: s }, init),
          ),
        );
        return raw === null ? null : mapAlpacaAsset(raw);
      });
      return found.filter((a): a is AssetRules => a !== null);
    },

    async getLatestPrices(symbols, o) {
      const list = [...new Set(checkSymbols(symbols))];
      const out = new Map<string, Decimal>();
      throwIfAborted(o?.signal);
      for (let i = 0; i < list.length; i += LATEST_TRADES_CHUNK) {
        const chunk = list.slice(i, i + LATEST_TRADES_CHUNK);
        const raw = await rest.json("getLatestPrices", o, (init) =>
          stocks.stockLatestTradesRaw({ symbols: chunk.join(","), feed }, init),
        );
        for (const [s, p] of mapAlpacaLatestTrades(raw, chunk)) out.set(s, p);
      }
      return out;
    },

    async getClock(o) {
      const raw = await rest.json("getClock", o, (init) => clock.legacyClockRaw(init));
      return mapAlpacaClock(raw, rest.now());
    },
  };
}

type OrderCalls = Pick<
  BrokerPort,
  "submitOrder" | "getOrder" | "getOrderByClientOrderId" | "listOpenOrders" | "cancelOrder" | "closePosition"
> &
  Required<Pick<BrokerPort, "listOrders">>;

/** Orders: place, look up, list, cancel, and close a position. */
function orderCalls(rest: AlpacaRest): OrderCalls {
  const { orders, positions } = rest.api;
  return {
    async submitOrder(request, o) {
      const body = toPostOrderRequest(parseOrderRequest(request));
      const raw = await rest.json("submitOrder", o, (init) =>
        orders.postOrderRaw({ postOrderRequest: body }, init),
      );
      return mapAlpacaOrder(raw);
    },

    async getOrder(orderId, o) {
      const id = checkId(orderId, "orderId");
      const raw = await nullOnNotFound(
        rest.json("getOrder", o, (init) => orders.getOrderByOrderIDRaw({ orderId: id }, init)),
        true,
      );
      return raw === null ? null : mapAlpacaOrder(raw);
    },

    async getOrderByClientOrderId(clientOrderId, o) {
      const id = checkId(clientOrderId, "clientOrderId");
      const raw = await nullOnNotFound(
        rest.json("getOrderByClientOrderId", o, (init) =>
          orders.getOrderByClientOrderIdRaw({ clientOrderId: id }, init),
        ),
        true,
      );
      return raw === null ? null : mapAlpacaOrder(raw);
    },

    listOpenOrders: (o) => listAllOpenOrders(rest, o),

    listOrders: (query, o) => listOrderHistory(rest, query, o),

    async cancelOrder(orderId, o) {
      const id = checkId(orderId, "orderId");
      await rest.request(
        "cancelOrder",
        o,
        (init) => orders.deleteOrderByOrderIDRaw({ orderId: id }, init),
        async (raw) => {
          await raw.body?.cancel().catch(() => {});
        },
      );
    },

    async closePosition(symbol, o) {
      const s = checkSymbol(symbol);
      // DELETE /v2/positions/{symbol} with neither qty nor percentage: the whole position.
      const raw = await rest.json("closePosition", o, (init) =>
        positions.deleteOpenPositionRaw({ symbolOrAssetId: s }, init),
      );
      return mapAlpacaOrder(raw);
    },
  };
}

/** Every open order, newest first, page by page (an order seen twice across pages counts once). */
async function listAllOpenOrders(rest: AlpacaRest, opts: CallOptions | undefined): Promise<OrderSnapshot[]> {
  const byId = new Map<string, OrderSnapshot>();
  let before: string | undefined;
  for (let page = 0; page < MAX_OPEN_ORDER_PAGES; page++) {
    const raw = await rest.json("listOpenOrders", opts, (init) =>
      rest.api.orders.getAllOrdersRaw(
        { status: "open", limit: OPEN_ORDERS_PAGE, direction: "desc", nested: false, beforeOrderId: before },
        init,
      ),
    );
    const list = mapAlpacaOrders(raw);
    let added = 0;
    for (const order of list) {
      if (!byId.has(order.id)) added++;
      byId.set(order.id, order);
    }
    if (list.length < OPEN_ORDERS_PAGE || added === 0) break;
    before = list[list.length - 1]?.id;
  }
  return [...byId.values()];
}

/**
 * The order history a query asks for, page by page: `GET /v2/orders` newest first, 500 a
 * page (fewer when the query's `limit` is smaller), `after` at the end of its ms (the
 * times the port reports are whole ms), each next page `until` just past the ms
 * in which the last page's oldest order was submitted, so the orders that share that ms
 * and did not fit are read too (the ones already read are dropped by id). Stops at a short
 * page or once `limit` orders are in.
 *
 * @throws BrokerError (`protocol`) when a whole page repeats orders already read: more
 *   orders than a page share one ms, and Alpaca's time bounds cannot page past them
 */
async function listOrderHistory(
  rest: AlpacaRest,
  raw: ListOrdersQuery,
  opts: CallOptions | undefined,
): Promise<OrderSnapshot[]> {
  const query = parseListOrdersQuery(raw);
  const want = query.limit ?? Number.POSITIVE_INFINITY;
  const pageSize = Math.min(HISTORY_PAGE, want);
  const out: OrderSnapshot[] = [];
  const seen = new Set<string>();
  let until = query.until;
  for (;;) {
    const page = mapAlpacaOrderHistoryPage(
      await rest.json("listOrders", opts, (init) =>
        rest.api.orders.getAllOrdersRaw(
          {
            status: query.status ?? "open",
            limit: pageSize,
            direction: "desc",
            nested: false,
            after: query.after === undefined ? undefined : endOfMs(query.after),
            until: until?.toISOString(),
            symbols: query.symbols?.join(","),
          },
          init,
        ),
      ),
    );
    let added = 0;
    for (const { order } of page) {
      if (seen.has(order.id)) continue;
      seen.add(order.id);
      out.push(order);
      added++;
    }
    if (out.length >= want || page.length < pageSize) break;
    if (added === 0) {
      throw new BrokerError(
        "protocol",
        `[ordersafe/alpaca] listOrders: more than ${pageSize} orders submitted in the ms before ${until?.toISOString()}: cannot page past them`,
        { details: { until: until?.toISOString(), pageSize } },
      );
    }
    const oldest = Math.min(...page.map((p) => p.submittedAt.getTime()));
    until = new Date(Math.min(oldest + 1, query.until?.getTime() ?? Number.POSITIVE_INFINITY));
  }
  return out.length > want ? out.slice(0, want) : out;
}

/**
 * The last instant of a date's ms, in RFC 3339 with nanoseconds. Alpaca compares `after`
 * with its nanosecond times, and the port reports times to the ms: an order whose
 * `createdAt` is `after` itself was submitted inside that ms and must stay out.
 */
function endOfMs(d: Date): string {
  return d.toISOString().replace(/Z$/, "999999Z");
}

function subscribe(stream: AlpacaOrderStream, listener: OrderUpdateListener): Subscription {
  if (typeof listener !== "object" || listener === null || typeof listener.onUpdate !== "function") {
    throw new ValidationError("[ordersafe/alpaca] invalid listener: expected { onUpdate(update) }", {
      issues: [{ path: "listener.onUpdate", message: "expected a function", value: undefined }],
    });
  }
  return stream.subscribe(listener);
}

function checkSymbol(symbol: unknown): string {
  return parseInput(zSymbol, symbol, "symbol");
}

function checkSymbols(symbols: unknown): string[] {
  return parseInput(z.array(zSymbol).max(10_000), symbols, "symbols");
}

function checkId(id: unknown, name: string): string {
  return parseInput(z.string().min(1).max(128), id, name);
}

/**
 * Builds the SDK's `PostOrderRequest` with every decimal as a fixed string.
 *
 * @throws BrokerError (`invalid_order`) for what Alpaca cannot carry out: a notional that is
 *   not a market day order, more than 9 decimals, a sub-penny limit price
 */
function toPostOrderRequest(r: OrderRequest): trading.PostOrderRequest {
  const invalid = (why: string) =>
    new BrokerError("invalid_order", `[ordersafe/alpaca] ${r.clientOrderId}: ${why}`, {
      details: { clientOrderId: r.clientOrderId, symbol: r.symbol },
    });
  if (r.notional !== undefined && r.type !== "market")
    throw invalid("a notional order must be a market order");
  if (r.notional !== undefined && r.timeInForce !== "day")
    throw invalid("a notional order must be a day order");
  if (r.notional !== undefined && r.notional.decimalPlaces() > 9)
    throw invalid(`notional ${r.notional.toFixed()} has more than 9 decimals`);
  if (r.qty !== undefined && r.qty.decimalPlaces() > 9)
    throw invalid(`qty ${r.qty.toFixed()} has more than 9 decimals`);
  if (r.extendedHours && (r.type !== "limit" || r.timeInForce !== "day"))
    throw invalid("extended hours needs a limit day order");
  if (r.limitPrice !== undefined) {
    const maxDp = r.limitPrice.gte(1) ? 2 : 4;
    if (r.limitPrice.decimalPlaces() > maxDp)
      throw invalid(`limit price ${r.limitPrice.toFixed()} is a sub-penny increment`);
  }
  return {
    symbol: r.symbol,
    side: r.side,
    type: r.type,
    timeInForce: r.timeInForce,
    clientOrderId: r.clientOrderId,
    ...(r.qty !== undefined ? { qty: formatDecimal(r.qty, 9) } : {}),
    ...(r.notional !== undefined ? { notional: formatDecimal(r.notional, 9) } : {}),
    ...(r.limitPrice !== undefined ? { limitPrice: formatDecimal(r.limitPrice, 4) } : {}),
    ...(r.extendedHours !== undefined ? { extendedHours: r.extendedHours } : {}),
  };
}
