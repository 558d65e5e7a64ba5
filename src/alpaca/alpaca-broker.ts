import { marketData, trading } from "@alpacahq/alpaca-trade-api";
import { z } from "zod";
import type {
  AccountSnapshot,
  AssetRules,
  BrokerPort,
  CallOptions,
  MarketClock,
  OrderRequest,
  OrderSnapshot,
  OrderUpdateListener,
  PositionSnapshot,
  Subscription,
} from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { parseOrderRequest } from "../broker/schemas.js";
import { type Clock, systemClock, throwIfAborted } from "../core/clock.js";
import { mapBounded } from "../core/concurrency.js";
import { type Decimal, formatDecimal } from "../core/decimal.js";
import { BrokerError, OrdersafeError, ValidationError } from "../core/errors.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { parseInput } from "../core/validation.js";
import { type CallKind, toBrokerError } from "./alpaca-errors.js";
import {
  mapAlpacaAccount,
  mapAlpacaAsset,
  mapAlpacaClock,
  mapAlpacaLatestTrades,
  mapAlpacaOrder,
  mapAlpacaOrders,
  mapAlpacaPosition,
  mapAlpacaPositions,
} from "./alpaca-mapping.js";
import { AlpacaOrderStream, type AlpacaStreamSettings } from "./alpaca-order-stream.js";
import { createRedactor, type Redactor, redactingLogger } from "./redactor.js";
import { TokenBucket } from "./token-bucket.js";

/** Alpaca's paper trading host. */
export const ALPACA_PAPER_URL = "https://paper-api.alpaca.markets";
/** Alpaca's live trading host. */
export const ALPACA_LIVE_URL = "https://api.alpaca.markets";
/** Alpaca's market data host (paper and live). */
export const ALPACA_DATA_URL = "https://data.alpaca.markets";
/** Alpaca's paper trade-updates stream. */
export const ALPACA_PAPER_STREAM_URL = "wss://paper-api.alpaca.markets/stream";
/** Alpaca's live trade-updates stream. */
export const ALPACA_LIVE_STREAM_URL = "wss://api.alpaca.markets/stream";

const LIVE_HOSTS = new Set(["api.alpaca.markets"]);

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: "expected an http(s) URL" })
  .transform((u) => u.replace(/\/+$/, ""));
const wsUrl = z
  .string()
  .url()
  .refine((u) => /^wss?:\/\//i.test(u), { message: "expected a ws(s) URL" });

const LoggerSchema = z.custom<Logger>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    ["debug", "info", "warn", "error"].every((m) => typeof (v as Record<string, unknown>)[m] === "function"),
  { message: "expected a logger with debug, info, warn and error" },
);
const ClockSchema = z.custom<Clock>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as Clock).now === "function" &&
    typeof (v as Clock).sleep === "function",
  { message: "expected a Clock (now, sleep)" },
);

/** Schema of {@link AlpacaBrokerOptions} (credentials are checked apart, so they never appear in an error). */
export const AlpacaBrokerOptionsSchema = z
  .object({
    keyId: z.unknown().optional(),
    secret: z.unknown().optional(),
    paper: z.boolean().default(true),
    allowLive: z.boolean().default(false),
    baseUrl: httpUrl.optional(),
    dataBaseUrl: httpUrl.optional(),
    streamUrl: wsUrl.optional(),
    feed: z.enum(["iex", "sip", "delayed_sip", "boats", "overnight"]).default("iex"),
    logger: LoggerSchema.optional(),
    clock: ClockSchema.optional(),
    id: z.string().min(1).max(64).optional(),
    rateLimitPerMinute: z.number().int().min(1).max(100_000).default(200),
    timeoutMs: z.number().int().min(0).max(600_000).default(30_000),
    assetConcurrency: z.number().int().min(1).max(50).default(8),
    stream: z
      .object({
        initialReconnectMs: z.number().int().min(1).default(1_000),
        maxReconnectMs: z.number().int().min(1).default(30_000),
        maxReconnectAttempts: z.number().int().min(-1).default(-1),
        reconnectJitter: z.number().min(0).max(1).default(0.2),
        pingIntervalMs: z.number().int().min(0).default(10_000),
        pongWaitMs: z.number().int().min(1).default(5_000),
      })
      .strict()
      .default({
        initialReconnectMs: 1_000,
        maxReconnectMs: 30_000,
        maxReconnectAttempts: -1,
        reconnectJitter: 0.2,
        pingIntervalMs: 10_000,
        pongWaitMs: 5_000,
      }),
    env: z.record(z.string(), z.string().optional()).optional(),
  })
  .strict();

/** Options of {@link createAlpacaBroker}. */
export interface AlpacaBrokerOptions {
  /** API key id. @defaultValue `process.env.APCA_API_KEY_ID` */
  keyId?: string;
  /** API secret key. @defaultValue `process.env.APCA_API_SECRET_KEY` */
  secret?: string;
  /** Paper trading. @defaultValue true */
  paper?: boolean;
  /** Must be true to trade live (`paper: false`); a guard against trading real money by mistake. @defaultValue false */
  allowLive?: boolean;
  /** Trading REST base URL, no trailing slash. @defaultValue the paper or live host */
  baseUrl?: string;
  /** Market data base URL. @defaultValue `https://data.alpaca.markets` */
  dataBaseUrl?: string;
  /** Trade-updates WebSocket URL. @defaultValue the paper or live stream */
  streamUrl?: string;
  /** Market data feed for latest prices (free accounts: `iex`). @defaultValue "iex" */
  feed?: "iex" | "sip" | "delayed_sip" | "boats" | "overnight";
  /** Logger (credentials are redacted from everything logged). @defaultValue silent */
  logger?: Logger;
  /** Clock of the rate limiter. @defaultValue the system clock */
  clock?: Clock;
  /** The port's id. @defaultValue "alpaca-paper" or "alpaca-live" */
  id?: string;
  /** Client-side limit on REST requests per minute (Alpaca allows 200 per key). @defaultValue 200 */
  rateLimitPerMinute?: number;
  /** Per-request timeout in ms (0 = none); a write that times out is `ambiguous`. @defaultValue 30000 */
  timeoutMs?: number;
  /** Concurrent asset lookups in `getAssets`. @defaultValue 8 */
  assetConcurrency?: number;
  /** Trade-updates stream reconnect and keep-alive settings. */
  stream?: Partial<AlpacaStreamSettings>;
  /** Environment to read credentials from. @defaultValue `process.env` */
  env?: Record<string, string | undefined>;
}

const SECRET_LIKE = /key|secret|token|password/i;

function resolveCredentials(input: Record<string, unknown>, env: Record<string, string | undefined>) {
  const pick = (name: "keyId" | "secret", envName: string): string => {
    const given = input[name];
    const value = given === undefined ? env[envName] : given;
    if (typeof value !== "string" || value.trim() === "") {
      const issue = {
        path: `options.${name}`,
        message:
          given === undefined ? `missing: pass ${name} or set ${envName}` : "expected a non-empty string",
        value: "[redacted]",
      };
      if (given === undefined) {
        throw new OrdersafeError("config", `[ordersafe/alpaca] ${issue.path}: ${issue.message}`, {
          details: { path: issue.path },
        });
      }
      throw new ValidationError(`[ordersafe/alpaca] invalid options: ${issue.path}: ${issue.message}`, {
        issues: [issue],
      });
    }
    return value;
  };
  return { keyId: pick("keyId", "APCA_API_KEY_ID"), secret: pick("secret", "APCA_API_SECRET_KEY") };
}

/**
 * Creates a {@link BrokerPort} on Alpaca through the official SDK
 * (`@alpacahq/alpaca-trade-api` v4, an optional peer dependency).
 *
 * @param options - see {@link AlpacaBrokerOptions}
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
 * @example
 * ```ts
 * const broker = createAlpacaBroker({ paper: true }); // keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY
 * const account = await broker.getAccount();
 * ```
 */
export function createAlpacaBroker(options: AlpacaBrokerOptions = {}): BrokerPort {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("[ordersafe/alpaca] invalid options: expected an object", {
      issues: [{ path: "options", message: "expected an object", value: options }],
    });
  }
  const input = options as Record<string, unknown>;
  const rawEnv = input.env;
  const env =
    typeof rawEnv === "object" && rawEnv !== null
      ? (rawEnv as Record<string, string | undefined>)
      : typeof process === "undefined"
        ? {}
        : process.env;
  const { keyId, secret } = resolveCredentials(input, env);
  const redactor = createRedactor([keyId, secret]);
  // Redact every credential (and anything credential-named) before zod can echo it.
  const shown: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (k === "env") shown[k] = v;
    else if (typeof v === "string") shown[k] = SECRET_LIKE.test(k) ? "[redacted]" : redactor.text(v);
    else shown[k] = SECRET_LIKE.test(k) && v !== undefined ? "[redacted]" : v;
  }
  const opts = parseInput(AlpacaBrokerOptionsSchema, shown, "options");

  const baseUrl = opts.baseUrl ?? (opts.paper ? ALPACA_PAPER_URL : ALPACA_LIVE_URL);
  const live = !opts.paper || LIVE_HOSTS.has(new URL(baseUrl).hostname);
  if (live && !opts.allowLive) {
    throw new OrdersafeError(
      "config",
      "[ordersafe/alpaca] live trading refused: pass allowLive: true together with paper: false to trade real money",
      { details: { paper: opts.paper, baseUrl } },
    );
  }
  if (live && opts.paper) {
    throw new OrdersafeError("config", "[ordersafe/alpaca] paper: true but baseUrl is Alpaca's live host", {
      details: { baseUrl },
    });
  }

  const logger = redactingLogger(opts.logger ?? silentLogger, redactor);
  const clock = opts.clock ?? systemClock;
  const bucket = new TokenBucket({ limit: opts.rateLimitPerMinute, windowMs: 60_000, clock });

  const shared = { keyId, secret, timeoutMs: opts.timeoutMs };
  const tradingConfig = new trading.Configuration({ ...shared, basePath: baseUrl, paper: opts.paper });
  const dataConfig = new marketData.Configuration({
    ...shared,
    basePath: opts.dataBaseUrl ?? ALPACA_DATA_URL,
  });
  const orders = new trading.OrdersApi(tradingConfig);
  const accounts = new trading.AccountsApi(tradingConfig);
  const positions = new trading.PositionsApi(tradingConfig);
  const assets = new trading.AssetsApi(tradingConfig);
  const clockApi = new trading.ClockApi(tradingConfig);
  const stocks = new marketData.StockApi(dataConfig);

  const stream = new AlpacaOrderStream({
    url: opts.streamUrl ?? (opts.paper ? ALPACA_PAPER_STREAM_URL : ALPACA_LIVE_STREAM_URL),
    keyId,
    secret,
    settings: opts.stream,
    logger,
  });

  const call = <T>(
    operation: string,
    kind: CallKind,
    signal: AbortSignal | undefined,
    send: (init: RequestInit) => Promise<{ raw: Response }>,
    read: (raw: Response) => Promise<T>,
  ): Promise<T> => restCall({ operation, kind, signal, send, read, bucket, redactor, logger, clock });

  const json = (raw: Response): Promise<unknown> => raw.json() as Promise<unknown>;
  const nowDate = () => new Date(clock.now());

  const port: BrokerPort = {
    id: opts.id ?? (opts.paper ? "alpaca-paper" : "alpaca-live"),
    capabilities: { fractional: true, notionalOrders: true, closePosition: true, orderUpdates: true },

    async getAccount(o?: CallOptions): Promise<AccountSnapshot> {
      // asOf is taken before the request leaves: the reply reflects every order acknowledged
      // before that instant, so the ledger never counts an unreflected hold as reflected.
      const asOf = nowDate();
      const raw = await call("getAccount", "read", o?.signal, (init) => accounts.getAccountRaw(init), json);
      return mapAlpacaAccount(raw, asOf);
    },

    async getPositions(o?: CallOptions): Promise<PositionSnapshot[]> {
      const raw = await call(
        "getPositions",
        "read",
        o?.signal,
        (init) => positions.getAllOpenPositionsRaw(init),
        json,
      );
      return mapAlpacaPositions(raw);
    },

    async getPosition(symbol: string, o?: CallOptions): Promise<PositionSnapshot | null> {
      const s = checkSymbol(symbol);
      const raw = await nullOnNotFound(
        call(
          "getPosition",
          "read",
          o?.signal,
          (init) => positions.getOpenPositionRaw({ symbolOrAssetId: s }, init),
          json,
        ),
      );
      if (raw === null) return null;
      const p = mapAlpacaPosition(raw);
      return p.qty.isZero() ? null : p;
    },

    async getAssets(symbols: readonly string[], o?: CallOptions): Promise<AssetRules[]> {
      const list = [...new Set(checkSymbols(symbols))];
      throwIfAborted(o?.signal);
      const found = await mapBounded(list, opts.assetConcurrency, async (s) => {
        const raw = await nullOnNotFound(
          call(
            "getAssets",
            "read",
            o?.signal,
            (init) => assets.getV2AssetsSymbolOrAssetIdRaw({ symbolOrAssetId: s }, init),
            json,
          ),
        );
        return raw === null ? null : mapAlpacaAsset(raw);
      });
      return found.filter((a): a is AssetRules => a !== null);
    },

    async getLatestPrices(symbols: readonly string[], o?: CallOptions): Promise<Map<string, Decimal>> {
      const list = [...new Set(checkSymbols(symbols))];
      const out = new Map<string, Decimal>();
      throwIfAborted(o?.signal);
      for (let i = 0; i < list.length; i += 100) {
        const chunk = list.slice(i, i + 100);
        const raw = await call(
          "getLatestPrices",
          "read",
          o?.signal,
          (init) => stocks.stockLatestTradesRaw({ symbols: chunk.join(","), feed: opts.feed }, init),
          json,
        );
        for (const [s, p] of mapAlpacaLatestTrades(raw, chunk)) out.set(s, p);
      }
      return out;
    },

    async getClock(o?: CallOptions): Promise<MarketClock> {
      const raw = await call("getClock", "read", o?.signal, (init) => clockApi.legacyClockRaw(init), json);
      return mapAlpacaClock(raw, nowDate());
    },

    async submitOrder(request: OrderRequest, o?: CallOptions): Promise<OrderSnapshot> {
      const r = parseOrderRequest(request);
      const body = toPostOrderRequest(r);
      const raw = await call(
        "submitOrder",
        "write",
        o?.signal,
        (init) => orders.postOrderRaw({ postOrderRequest: body }, init),
        json,
      );
      return mapAlpacaOrder(raw);
    },

    async getOrder(orderId: string, o?: CallOptions): Promise<OrderSnapshot | null> {
      const id = checkId(orderId, "orderId");
      const raw = await nullOnNotFound(
        call(
          "getOrder",
          "read",
          o?.signal,
          (init) => orders.getOrderByOrderIDRaw({ orderId: id }, init),
          json,
        ),
        true,
      );
      return raw === null ? null : mapAlpacaOrder(raw);
    },

    async getOrderByClientOrderId(clientOrderId: string, o?: CallOptions): Promise<OrderSnapshot | null> {
      const id = checkId(clientOrderId, "clientOrderId");
      const raw = await nullOnNotFound(
        call(
          "getOrderByClientOrderId",
          "read",
          o?.signal,
          (init) => orders.getOrderByClientOrderIdRaw({ clientOrderId: id }, init),
          json,
        ),
        true,
      );
      return raw === null ? null : mapAlpacaOrder(raw);
    },

    async listOpenOrders(o?: CallOptions): Promise<OrderSnapshot[]> {
      const PAGE = 500;
      const byId = new Map<string, OrderSnapshot>();
      let before: string | undefined;
      for (let page = 0; page < 100; page++) {
        const raw = await call(
          "listOpenOrders",
          "read",
          o?.signal,
          (init) =>
            orders.getAllOrdersRaw(
              { status: "open", limit: PAGE, direction: "desc", nested: false, beforeOrderId: before },
              init,
            ),
          json,
        );
        const list = mapAlpacaOrders(raw);
        let added = 0;
        for (const order of list) {
          if (!byId.has(order.id)) added++;
          byId.set(order.id, order);
        }
        if (list.length < PAGE || added === 0) break;
        before = list[list.length - 1]?.id;
      }
      return [...byId.values()];
    },

    async cancelOrder(orderId: string, o?: CallOptions): Promise<void> {
      const id = checkId(orderId, "orderId");
      await call(
        "cancelOrder",
        "write",
        o?.signal,
        (init) => orders.deleteOrderByOrderIDRaw({ orderId: id }, init),
        async (raw) => {
          await raw.body?.cancel().catch(() => {});
        },
      );
    },

    async closePosition(symbol: string, o?: CallOptions): Promise<OrderSnapshot> {
      const s = checkSymbol(symbol);
      // DELETE /v2/positions/{symbol} with neither qty nor percentage: the whole position.
      const raw = await call(
        "closePosition",
        "write",
        o?.signal,
        (init) => positions.deleteOpenPositionRaw({ symbolOrAssetId: s }, init),
        json,
      );
      return mapAlpacaOrder(raw);
    },

    subscribeOrderUpdates(listener: OrderUpdateListener): Subscription {
      if (typeof listener !== "object" || listener === null || typeof listener.onUpdate !== "function") {
        throw new ValidationError("[ordersafe/alpaca] invalid listener: expected { onUpdate(update) }", {
          issues: [{ path: "listener.onUpdate", message: "expected a function", value: undefined }],
        });
      }
      return stream.subscribe(listener);
    },
  };

  logger.info(
    { id: port.id, baseUrl, paper: opts.paper, feed: opts.feed },
    "[ordersafe/alpaca] broker created",
  );
  return checkBroker(port, (error) =>
    logger.warn({ error }, "[ordersafe/alpaca] dropped an order update that failed its schema"),
  );
}

interface RestCall<T> {
  operation: string;
  kind: CallKind;
  signal: AbortSignal | undefined;
  send: (init: RequestInit) => Promise<{ raw: Response }>;
  read: (raw: Response) => Promise<T>;
  bucket: TokenBucket;
  redactor: Redactor;
  logger: Logger;
  clock: Clock;
}

async function restCall<T>(c: RestCall<T>): Promise<T> {
  throwIfAborted(c.signal);
  try {
    await c.bucket.take(c.signal);
  } catch (error) {
    // The contract treats a write aborted once the call began as in flight; nothing was sent,
    // so the lookup by client order id that `ambiguous` asks for simply finds nothing.
    throw toBrokerError(error, c.operation, c.kind, c.redactor, c.signal);
  }
  const started = c.clock.now();
  let response: { raw: Response };
  try {
    response = await c.send(c.signal ? { signal: c.signal } : {});
  } catch (error) {
    const mapped = toBrokerError(error, c.operation, c.kind, c.redactor, c.signal);
    c.logger.debug(
      { operation: c.operation, ms: c.clock.now() - started, error: mapped },
      "[ordersafe/alpaca] request failed",
    );
    throw mapped;
  }
  try {
    const value = await c.read(response.raw);
    c.logger.debug(
      { operation: c.operation, status: response.raw.status, ms: c.clock.now() - started },
      "[ordersafe/alpaca] request done",
    );
    return value;
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new BrokerError(
        "protocol",
        `[ordersafe/alpaca] ${c.operation}: malformed reply: ${c.redactor.text(error.message)}`,
        { details: { operation: c.operation, status: response.raw.status } },
      );
    }
    // The reply was lost while its body was read: the request itself did arrive.
    throw toBrokerError(
      Object.assign(new Error(error instanceof Error ? error.message : String(error)), {
        name: "FetchError",
        cause: error,
      }),
      c.operation,
      c.kind,
      c.redactor,
      c.signal,
    );
  }
}

async function nullOnNotFound(p: Promise<unknown>, orderLookup = false): Promise<unknown> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof BrokerError && error.code === "not_found") return null;
    // Alpaca answers an id that is not a UUID with 422 "order_id is missing" (40010001).
    if (
      orderLookup &&
      error instanceof BrokerError &&
      error.code === "invalid_order" &&
      /order_id|invalid order id|not a valid uuid/i.test(error.message)
    ) {
      return null;
    }
    throw error;
  }
}

const SymbolSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9./:_-]{0,31}$/, { message: "expected a ticker symbol" });

function checkSymbol(symbol: unknown): string {
  return parseInput(SymbolSchema, symbol, "symbol");
}

function checkSymbols(symbols: unknown): string[] {
  return parseInput(z.array(SymbolSchema).max(10_000), symbols, "symbols");
}

function checkId(id: unknown, name: string): string {
  return parseInput(z.string().min(1).max(128), id, name);
}

function decimalPlaces(d: Decimal): number {
  return d.decimalPlaces();
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
  if (r.notional !== undefined && decimalPlaces(r.notional) > 9)
    throw invalid(`notional ${r.notional.toFixed()} has more than 9 decimals`);
  if (r.qty !== undefined && decimalPlaces(r.qty) > 9)
    throw invalid(`qty ${r.qty.toFixed()} has more than 9 decimals`);
  if (r.extendedHours && (r.type !== "limit" || r.timeInForce !== "day"))
    throw invalid("extended hours needs a limit day order");
  if (r.limitPrice !== undefined) {
    const maxDp = r.limitPrice.gte(1) ? 2 : 4;
    if (decimalPlaces(r.limitPrice) > maxDp)
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
