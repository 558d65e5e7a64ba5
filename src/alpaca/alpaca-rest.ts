import { marketData, trading } from "@alpacahq/alpaca-trade-api";
import type { BrokerCallKind, BrokerMethod, CallOptions } from "../broker/broker-port.js";
import { BROKER_METHOD_TABLE } from "../broker/schemas.js";
import { type Clock, throwIfAborted } from "../core/clock.js";
import { BrokerError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { toBrokerError } from "./alpaca-errors.js";
import type { AlpacaSettings } from "./alpaca-options.js";
import type { Redactor } from "./redactor.js";
import { TokenBucket } from "./token-bucket.js";

/** The SDK's generated REST APIs a broker uses. */
export interface AlpacaApis {
  /** `/v2/orders`. */
  orders: trading.OrdersApi;
  /** `/v2/account`. */
  accounts: trading.AccountsApi;
  /** `/v2/positions`. */
  positions: trading.PositionsApi;
  /** `/v2/assets`. */
  assets: trading.AssetsApi;
  /** `/v2/clock`. */
  clock: trading.ClockApi;
  /** The market data API's stocks. */
  stocks: marketData.StockApi;
}

/** Sends one request with the fetch options (the caller's signal) it is given. */
export type AlpacaSend = (init: RequestInit) => Promise<{ raw: Response }>;

/** The REST side of one broker: the SDK's APIs behind one rate limiter and one error mapping. */
export interface AlpacaRest {
  /** The SDK's APIs. */
  readonly api: AlpacaApis;
  /**
   * Sends one request of a port call and reads its JSON body: waits for the rate limiter,
   * maps any failure to a `BrokerError` (a lost reply to a write is `ambiguous`, as
   * `BROKER_METHOD_TABLE` marks the call) and logs the outcome. The call's `onRequest` is
   * told of the request as it leaves.
   */
  json(operation: BrokerMethod, opts: CallOptions | undefined, send: AlpacaSend): Promise<unknown>;
  /** As {@link AlpacaRest.json}, with the body read by `read`. */
  request<T>(
    operation: BrokerMethod,
    opts: CallOptions | undefined,
    send: AlpacaSend,
    read: (raw: Response) => Promise<T>,
  ): Promise<T>;
  /** The clock's time, as a date. */
  now(): Date;
}

/**
 * Builds the REST side of a broker: the SDK configured with the credentials and hosts (its
 * own retries and rate limiter off: ordersafe's retry engine owns retries), and a token
 * bucket on `clock` that keeps to `rateLimitPerMinute`.
 *
 * @param settings - the checked options, credentials and endpoints
 * @param logger - a redacting logger
 * @param clock - the rate limiter's clock
 * @returns the REST side
 */
export function createAlpacaRest(settings: AlpacaSettings, logger: Logger, clock: Clock): AlpacaRest {
  const { options, redactor } = settings;
  const bucket = new TokenBucket({ limit: options.rateLimitPerMinute, windowMs: 60_000, clock });
  const api = createApis(settings);
  const request = <T>(
    operation: BrokerMethod,
    opts: CallOptions | undefined,
    send: AlpacaSend,
    read: (raw: Response) => Promise<T>,
  ): Promise<T> =>
    restCall({ operation, signal: opts?.signal, opts, send, read, bucket, redactor, logger, clock });
  return {
    api,
    json: (operation, opts, send) => request(operation, opts, send, readJson),
    request,
    now: () => new Date(clock.now()),
  };
}

function readJson(raw: Response): Promise<unknown> {
  return raw.json();
}

function createApis({ credentials, options, baseUrl, dataBaseUrl }: AlpacaSettings): AlpacaApis {
  // An OAuth token is sent as `Authorization: Bearer <token>` instead of the key headers.
  const auth =
    credentials.kind === "keys"
      ? { keyId: credentials.keyId, secret: credentials.secret }
      : { accessToken: credentials.token };
  const shared = { ...auth, timeoutMs: options.timeoutMs };
  const tradingConfig = new trading.Configuration({ ...shared, basePath: baseUrl, paper: options.paper });
  const dataConfig = new marketData.Configuration({ ...shared, basePath: dataBaseUrl });
  return {
    orders: new trading.OrdersApi(tradingConfig),
    accounts: new trading.AccountsApi(tradingConfig),
    positions: new trading.PositionsApi(tradingConfig),
    assets: new trading.AssetsApi(tradingConfig),
    clock: new trading.ClockApi(tradingConfig),
    stocks: new marketData.StockApi(dataConfig),
  };
}

interface RestCall<T> {
  operation: BrokerMethod;
  signal: AbortSignal | undefined;
  opts: CallOptions | undefined;
  send: AlpacaSend;
  read: (raw: Response) => Promise<T>;
  bucket: TokenBucket;
  redactor: Redactor;
  logger: Logger;
  clock: Clock;
}

async function restCall<T>(c: RestCall<T>): Promise<T> {
  const kind = BROKER_METHOD_TABLE[c.operation].kind;
  throwIfAborted(c.signal);
  try {
    await c.bucket.take(c.signal);
  } catch (error) {
    // The contract treats a write aborted once the call began as in flight; nothing was sent,
    // so the lookup by client order id that `ambiguous` asks for simply finds nothing.
    throw toBrokerError(error, c.operation, kind, c.redactor, c.signal);
  }
  const started = c.clock.now();
  tellRequest(c);
  let response: { raw: Response };
  try {
    response = await c.send(c.signal ? { signal: c.signal } : {});
  } catch (error) {
    const mapped = toBrokerError(error, c.operation, kind, c.redactor, c.signal);
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
    throw readFailure(error, c, kind, response.raw.status);
  }
}

/** Tells the call's `onRequest` that one HTTP request leaves; a callback that throws changes nothing. */
function tellRequest(c: RestCall<unknown>): void {
  const onRequest = c.opts?.onRequest;
  if (onRequest === undefined) return;
  try {
    onRequest({ method: c.operation });
  } catch (error) {
    c.logger.warn({ operation: c.operation, error }, "[ordersafe/alpaca] onRequest threw; ignored");
  }
}

/** A body that is not JSON is a `protocol` error; a reply lost while its body was read is a lost reply. */
function readFailure(error: unknown, c: RestCall<unknown>, kind: BrokerCallKind, status: number): unknown {
  if (error instanceof SyntaxError) {
    return new BrokerError(
      "protocol",
      `[ordersafe/alpaca] ${c.operation}: malformed reply: ${c.redactor.text(error.message)}`,
      { details: { operation: c.operation, status } },
    );
  }
  // The request itself did arrive: for a write, its effect is unknown.
  const lost = Object.assign(new Error(error instanceof Error ? error.message : String(error)), {
    name: "FetchError",
    cause: error,
  });
  return toBrokerError(lost, c.operation, kind, c.redactor, c.signal);
}

/**
 * Resolves to null when the request answered "not found" (the contract's null for an
 * unknown order, position or asset).
 *
 * @param p - the request
 * @param orderLookup - also null for Alpaca's answer to an order id that is not a UUID
 * @returns the reply, or null
 * @throws whatever else the request threw
 */
export async function nullOnNotFound(p: Promise<unknown>, orderLookup = false): Promise<unknown> {
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
