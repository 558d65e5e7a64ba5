import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { z } from "zod";
import type { OrderRequest, OrderSnapshot, Subscription } from "../broker/broker-port.js";
import { isFinalBrokerStatus } from "../broker/broker-port.js";
import { type Clock, systemClock } from "../core/clock.js";
import { type Decimal, toDecimal, ZERO } from "../core/decimal.js";
import { isBrokerError, ValidationError } from "../core/errors.js";
import { parseInput } from "../core/validation.js";
import {
  accountJson,
  assetJson,
  clockJson,
  orderJson,
  positionJson,
  tradeUpdateJson,
  type WireError,
  wireErrorFor,
} from "./fake-alpaca-server-wire.js";
import type { SimulatedBrokerOptions } from "./simulated-broker/options.js";
import { createSimulatedBroker, type SimulatedBroker } from "./simulated-broker/simulated-broker.js";

/** Which requests a scripted wire fault applies to. */
export interface FakeAlpacaMatch {
  /** HTTP method. */
  method?: "GET" | "POST" | "DELETE";
  /** Path (without the query): exact string or pattern. */
  path?: string | RegExp;
}

/**
 * A fault on the wire, applied to the next `times` (default 1) matching requests.
 *
 * - `http_429`: 429 with `Retry-After` and `X-RateLimit-*`, nothing applied.
 * - `http_500`: 500, nothing applied.
 * - `slow`: the reply is sent `ms` late (applied normally).
 * - `drop`: the connection is destroyed without a reply; with `apply: true` the request is
 *   applied first (an ambiguous outcome), else it never reaches the broker.
 * - `malformed`: a 200 whose body is not JSON; with `apply: true` the request is applied first.
 * - `reply`: this exact status, body and headers, nothing applied.
 */
export type FakeAlpacaFault = FakeAlpacaMatch & { times?: number } & (
    | { kind: "http_429"; retryAfterMs?: number }
    | { kind: "http_500" }
    | { kind: "slow"; ms: number }
    | { kind: "drop"; apply?: boolean }
    | { kind: "malformed"; apply?: boolean }
    | { kind: "reply"; status: number; body: unknown; headers?: Record<string, string> }
  );

/** One request the fake server received. */
export interface FakeAlpacaRequest {
  method: string;
  path: string;
  query: string;
  status: number | "dropped";
  /** The JSON body of a POST, as received. */
  body?: unknown;
}

/** Options of {@link startFakeAlpacaServer}: the server's own, plus every simulated-broker option. */
export interface FakeAlpacaServerOptions extends SimulatedBrokerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** The API key id clients must send. */
  keyId: string;
  /** The secret key clients must send. */
  secret: string;
  /**
   * The broker behind the server; when given, the simulated-broker options are ignored.
   * @defaultValue a simulated broker made from the other options (`cash`, `positions`,
   *   `prices`, `assets`, `latency`, `partialFills`, `faults`, ...) on the system clock
   */
  broker?: SimulatedBroker;
  /** Extra delay before every HTTP reply, ms. @defaultValue 0 */
  replyDelayMs?: number;
}

/** A running fake Alpaca server. */
export interface FakeAlpacaServer {
  /** Trading REST base URL (`http://127.0.0.1:PORT`). */
  readonly baseUrl: string;
  /** Market data base URL (the same server). */
  readonly dataBaseUrl: string;
  /** Trade-updates stream URL (`ws://127.0.0.1:PORT/stream`). */
  readonly streamUrl: string;
  /** The broker behind it. */
  readonly broker: SimulatedBroker;
  /** Queues a wire fault. */
  script(fault: FakeAlpacaFault): void;
  /** Closes every trade-updates connection now (clients reconnect). */
  dropStream(): void;
  /** Sends a raw frame (any JSON value) to every listening trade-updates connection. */
  sendStreamFrame(frame: unknown): void;
  /** How many trade-updates connections are open and listening. */
  streamClients(): number;
  /** Every request received, in order. */
  requests(): readonly FakeAlpacaRequest[];
  /** Forgets the recorded requests. */
  resetRequests(): void;
  /** Stops the server and closes every connection. */
  close(): Promise<void>;
}

const BaseOptionsSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(0),
    keyId: z.string().min(1),
    secret: z.string().min(1),
    replyDelayMs: z.number().min(0).max(60_000).default(0),
  })
  .strict();

class HttpReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    readonly raw = false,
  ) {}
}

class DropConnection {}

/**
 * Starts a fake Alpaca server on 127.0.0.1: real HTTP (trading and market data paths) and a
 * real WebSocket trade-updates stream at `/stream`, speaking Alpaca's wire protocol, backed
 * by a broker (by default the simulated broker).
 *
 * @param options - credentials, port, the broker or simulated-broker options
 * @returns the running server; `close()` it when done
 * @throws ValidationError (`validation`) for bad options
 * @remarks
 * - Auth: both `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` must match, else 401
 *   `{"code":40110000}`; on the stream, `authenticate` is answered `authorized` or
 *   `unauthorized`, every `listen` is acknowledged, nothing is replayed.
 * - Refusals of the broker become Alpaca's (status, code, message) replies; a simulated
 *   `ambiguous` fault drops the connection after the effect, `unavailable` is a 500,
 *   `rate_limited` a 429 with `Retry-After`, `latency_spike` a slow reply, and a simulated
 *   stream disconnect closes every stream connection.
 * - `ws` is imported lazily, so the rest of `ordersafe/testing` works without it.
 * @example
 * ```ts
 * const server = await startFakeAlpacaServer({ keyId: "k", secret: "s", cash: 10_000, prices: { SPY: 500 } });
 * const broker = createAlpacaBroker({ keyId: "k", secret: "s", baseUrl: server.baseUrl,
 *   dataBaseUrl: server.dataBaseUrl, streamUrl: server.streamUrl });
 * await server.close();
 * ```
 */
export async function startFakeAlpacaServer(options: FakeAlpacaServerOptions): Promise<FakeAlpacaServer> {
  const base = parseInput(
    BaseOptionsSchema,
    { port: options.port, keyId: options.keyId, secret: options.secret, replyDelayMs: options.replyDelayMs },
    "options",
  );
  const { port, keyId, secret, replyDelayMs } = base;
  const { port: _p, keyId: _k, secret: _s, replyDelayMs: _d, broker: given, ...simOptions } = options;
  // Real sockets run on real time: the default broker uses the system clock.
  const broker: SimulatedBroker = given ?? createSimulatedBroker({ clock: systemClock, ...simOptions });
  const clock: Clock = broker.clock;

  const { WebSocketServer } = await import("ws");
  const accountId = randomUUID();
  const faults: FakeAlpacaFault[] = [];
  const log: FakeAlpacaRequest[] = [];
  const sockets = new Set<Socket>();

  const takeFault = (method: string, path: string): FakeAlpacaFault | undefined => {
    const i = faults.findIndex(
      (f) =>
        (f.method === undefined || f.method === method) &&
        (f.path === undefined || (typeof f.path === "string" ? f.path === path : f.path.test(path))),
    );
    if (i < 0) return undefined;
    const f = faults[i] as FakeAlpacaFault;
    const left = (f.times ?? 1) - 1;
    if (left <= 0) faults.splice(i, 1);
    else faults[i] = { ...f, times: left };
    return f;
  };

  const authorized = (req: IncomingMessage): boolean =>
    same(req.headers["apca-api-key-id"], keyId) && same(req.headers["apca-api-secret-key"], secret);

  const fail = (e: unknown, operation: string): HttpReply | DropConnection => {
    if (isBrokerError(e)) {
      if (e.code === "ambiguous") return new DropConnection();
      const w: WireError = wireErrorFor(
        e.code,
        { ...(e.details ?? {}) },
        operation,
        e.retryAfterMs,
        clock.now(),
      );
      return new HttpReply(w.status, w.body, w.headers);
    }
    if (e instanceof ValidationError) {
      return new HttpReply(422, { code: 40010001, message: e.message.replace(/^\[ordersafe[^\]]*\] /, "") });
    }
    return new HttpReply(500, { code: 50010000, message: "internal server error" });
  };

  const route = async (
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): Promise<HttpReply> => {
    const ok = (v: unknown) => new HttpReply(200, v);
    const positionPath = path.match(/^\/v2\/positions\/([^/]+)$/);
    const assetPath = path.match(/^\/v2\/assets\/([^/]+)$/);
    const orderPath = path.match(/^\/v2\/orders\/([^/]+)$/);
    if (method === "GET" && path === "/v2/account") {
      const [a, positions] = await Promise.all([broker.getAccount(), broker.getPositions()]);
      const lmv = positions.reduce((s, p) => s.plus(p.marketValue ?? ZERO), ZERO);
      return ok(accountJson(a, accountId, lmv));
    }
    if (method === "GET" && path === "/v2/positions")
      return ok((await broker.getPositions()).map(positionJson));
    if (positionPath) {
      const symbol = decodeURIComponent(positionPath[1] as string);
      if (method === "GET") {
        const p = await broker.getPosition(symbol);
        return p === null
          ? new HttpReply(404, { code: 40410000, message: "position does not exist" })
          : ok(positionJson(p));
      }
      if (method === "DELETE") {
        if (query.has("qty") || query.has("percentage")) {
          return new HttpReply(422, {
            code: 42210000,
            message: "qty and percentage are not supported by this server",
          });
        }
        return ok(orderJson(await broker.closePosition(symbol)));
      }
    }
    if (method === "GET" && assetPath) {
      const symbol = decodeURIComponent(assetPath[1] as string);
      const [asset] = await broker.getAssets([symbol]);
      return asset
        ? ok(assetJson(asset))
        : new HttpReply(404, { code: 40410000, message: "asset not found" });
    }
    if (method === "GET" && path === "/v2/clock") return ok(clockJson(await broker.getClock()));
    if (method === "GET" && path === "/v2/orders:by_client_order_id") {
      const id = query.get("client_order_id");
      if (!id) return new HttpReply(422, { code: 40010001, message: "client_order_id is missing" });
      const o = await broker.getOrderByClientOrderId(id);
      return o ? ok(orderJson(o)) : new HttpReply(404, { code: 40410000, message: "order not found" });
    }
    if (method === "GET" && path === "/v2/orders") return ok(await listOrders(broker, query));
    if (method === "POST" && path === "/v2/orders") {
      const request = toOrderRequest(body);
      if (request instanceof HttpReply) return request;
      return ok(orderJson(await broker.submitOrder(request)));
    }
    if (orderPath) {
      const id = decodeURIComponent(orderPath[1] as string);
      if (method === "GET") {
        const o = await broker.getOrder(id);
        return o ? ok(orderJson(o)) : new HttpReply(404, { code: 40410000, message: "order not found" });
      }
      if (method === "DELETE") {
        await broker.cancelOrder(id);
        return new HttpReply(204, undefined);
      }
    }
    if (method === "GET" && path === "/v2/stocks/trades/latest") {
      const symbols = (query.get("symbols") ?? "").split(",").filter((s) => s !== "");
      if (symbols.length === 0) return new HttpReply(400, { message: "missing symbols" });
      const prices = await broker.getLatestPrices(symbols);
      const trades: Record<string, unknown> = {};
      for (const [s, p] of prices) {
        trades[s] = {
          t: new Date(clock.now()).toISOString(),
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
    return new HttpReply(404, { message: "endpoint not found" });
  };

  const operationOf = (method: string, path: string): string => {
    if (path.startsWith("/v2/positions/")) return method === "DELETE" ? "closePosition" : "getPosition";
    if (path === "/v2/orders" && method === "POST") return "submitOrder";
    if (path.startsWith("/v2/orders/") && method === "DELETE") return "cancelOrder";
    return "getOrder";
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = (req.method ?? "GET").toUpperCase();
    const path = url.pathname;
    const raw = await readBody(req);
    const entry: FakeAlpacaRequest = { method, path, query: url.search, status: 0 };
    log.push(entry);
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
        entry.body = body;
      } catch {
        return send(
          res,
          entry,
          new HttpReply(400, { code: 40010000, message: "request body format is invalid" }),
        );
      }
    }
    if (!authorized(req)) {
      return send(res, entry, new HttpReply(401, { code: 40110000, message: "request is not authorized" }));
    }
    const fault = takeFault(method, path);
    if (replyDelayMs > 0) await clock.sleep(replyDelayMs);
    if (fault?.kind === "slow") await clock.sleep(fault.ms);
    if (fault?.kind === "http_429") {
      const w = wireErrorFor("rate_limited", {}, "", fault.retryAfterMs, clock.now());
      return send(res, entry, new HttpReply(w.status, w.body, w.headers));
    }
    if (fault?.kind === "http_500") {
      return send(res, entry, new HttpReply(500, { code: 50010000, message: "internal server error" }));
    }
    if (fault?.kind === "reply")
      return send(res, entry, new HttpReply(fault.status, fault.body, fault.headers));
    if ((fault?.kind === "drop" || fault?.kind === "malformed") && !fault.apply) {
      return fault.kind === "drop"
        ? drop(req, entry)
        : send(res, entry, new HttpReply(200, '{"id": "', {}, true));
    }
    let reply: HttpReply | DropConnection;
    try {
      reply = await route(method, path, url.searchParams, body);
    } catch (e) {
      reply = fail(e, operationOf(method, path));
    }
    if (fault?.kind === "drop" || reply instanceof DropConnection) return drop(req, entry);
    if (fault?.kind === "malformed") return send(res, entry, new HttpReply(200, '{"id": "', {}, true));
    return send(res, entry, reply);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ code: 50010000, message: "internal server error" }));
      }
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  // ---- trade updates stream -------------------------------------------------------------
  type Client = { ws: import("ws").WebSocket; authed: boolean; listening: boolean };
  const clients = new Set<Client>();
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/stream") {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = { ws, authed: false, listening: false };
      clients.add(client);
      ws.on("close", () => clients.delete(client));
      ws.on("error", () => clients.delete(client));
      ws.on("message", (data) => {
        let msg: { action?: unknown; data?: Record<string, unknown> };
        try {
          msg = JSON.parse(String(data));
        } catch {
          ws.send(JSON.stringify({ action: "error", data: { error_message: "invalid syntax" } }));
          return;
        }
        if (msg.action === "authenticate") {
          const ok = same(msg.data?.key_id, keyId) && same(msg.data?.secret_key, secret);
          client.authed = ok;
          ws.send(
            JSON.stringify({
              stream: "authorization",
              data: ok
                ? { status: "authorized", action: "authenticate" }
                : {
                    status: "unauthorized",
                    action: "authenticate",
                    message: "access key verification failed",
                  },
            }),
          );
        } else if (msg.action === "listen") {
          if (!client.authed) {
            ws.send(
              JSON.stringify({ stream: "authorization", data: { status: "unauthorized", action: "listen" } }),
            );
            return;
          }
          const streams = Array.isArray(msg.data?.streams) ? (msg.data?.streams as unknown[]) : [];
          client.listening = streams.includes("trade_updates");
          ws.send(
            JSON.stringify({
              stream: "listening",
              data: { streams: client.listening ? ["trade_updates"] : [] },
            }),
          );
        } else {
          ws.send(JSON.stringify({ action: "error", data: { error_message: "unknown action" } }));
        }
      });
    });
  });

  const dropStream = () => {
    for (const c of [...clients]) {
      clients.delete(c);
      c.ws.terminate();
    }
  };

  const subscription: Subscription = broker.subscribeOrderUpdates({
    onUpdate(update) {
      const positionQty = update.fill
        ? (broker.truth().positions.get(update.order.symbol) ?? ZERO)
        : undefined;
      // Real paper streams send binary frames holding JSON text.
      const frame = Buffer.from(
        JSON.stringify({ stream: "trade_updates", data: tradeUpdateJson(update, positionQty) }),
      );
      for (const c of clients) if (c.authed && c.listening) c.ws.send(frame);
    },
    onStatus(status) {
      if (status === "disconnected") dropStream();
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${address.port}`;

  let closed = false;
  return {
    baseUrl: origin,
    dataBaseUrl: origin,
    streamUrl: `ws://127.0.0.1:${address.port}/stream`,
    broker,
    script(fault) {
      faults.push(fault);
    },
    dropStream,
    sendStreamFrame(frame) {
      const data = JSON.stringify(frame);
      for (const c of clients) if (c.authed && c.listening) c.ws.send(data);
    },
    streamClients: () => [...clients].filter((c) => c.authed && c.listening).length,
    requests: () => [...log],
    resetRequests() {
      log.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      subscription.close();
      dropStream();
      wss.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  function send(res: ServerResponse, entry: FakeAlpacaRequest, reply: HttpReply): void {
    entry.status = reply.status;
    const headers: Record<string, string> = { "X-Request-ID": randomUUID(), ...reply.headers };
    if (reply.status === 204) {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    headers["Content-Type"] = "application/json; charset=utf-8";
    res.writeHead(reply.status, headers);
    res.end(reply.raw ? String(reply.body) : JSON.stringify(reply.body));
  }

  function drop(req: IncomingMessage, entry: FakeAlpacaRequest): void {
    entry.status = "dropped";
    req.socket.destroy();
  }
}

function same(given: unknown, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const PLAIN_DECIMAL = /^\d+(\.\d+)?$/;

function toOrderRequest(body: unknown): OrderRequest | HttpReply {
  const bad = (message: string) => new HttpReply(422, { code: 40010001, message });
  if (typeof body !== "object" || body === null) return bad("request body is required");
  const b = body as Record<string, unknown>;
  const decimal = (field: string): Decimal | undefined | HttpReply => {
    const v = b[field];
    if (v === undefined || v === null) return undefined;
    // Alpaca documents decimals as strings; exponent form is refused here so a client
    // that sends it is caught.
    if (typeof v !== "string" || !PLAIN_DECIMAL.test(v)) return bad(`invalid ${field}`);
    return toDecimal(v);
  };
  const qty = decimal("qty");
  const notional = decimal("notional");
  const limitPrice = decimal("limit_price");
  for (const d of [qty, notional, limitPrice]) if (d instanceof HttpReply) return d;
  if (typeof b.symbol !== "string" || b.symbol === "") return bad("symbol is required");
  if (b.side !== "buy" && b.side !== "sell") return bad("invalid side");
  if (b.type !== "market" && b.type !== "limit") return bad(`invalid order type: ${String(b.type)}`);
  const tif = b.time_in_force;
  if (tif !== "day" && tif !== "gtc" && tif !== "ioc" && tif !== "fok" && tif !== "opg" && tif !== "cls") {
    return bad("invalid time_in_force");
  }
  if (qty === undefined && notional === undefined) return bad("qty or notional is required");
  if (qty !== undefined && notional !== undefined) return bad("only one of qty or notional may be set");
  if (b.type === "limit" && limitPrice === undefined) return bad("limit_price is required for limit orders");
  const q = qty as Decimal | undefined;
  const n = notional as Decimal | undefined;
  const lp = limitPrice as Decimal | undefined;
  if ((q !== undefined && (q.decimalPlaces() > 9 || q.isZero())) || n?.isZero()) {
    return bad("invalid qty or notional");
  }
  if (lp !== undefined && lp.decimalPlaces() > (lp.gte(1) ? 2 : 4)) {
    return new HttpReply(422, {
      code: 42210000,
      message: `invalid limit_price ${lp.toFixed()}. sub-penny increment does not fulfill minimum pricing criteria`,
    });
  }
  if ((n !== undefined || (q !== undefined && !q.isInteger())) && tif !== "day") {
    return new HttpReply(422, { code: 42210000, message: "fractional orders must be DAY orders" });
  }
  const cid =
    typeof b.client_order_id === "string" && b.client_order_id !== "" ? b.client_order_id : randomUUID();
  if (cid.length > 128) return bad("client_order_id must be no more than 128 characters");
  return {
    clientOrderId: cid,
    symbol: b.symbol,
    side: b.side,
    type: b.type,
    timeInForce: tif,
    ...(q !== undefined ? { qty: q } : {}),
    ...(n !== undefined ? { notional: n } : {}),
    ...(lp !== undefined ? { limitPrice: lp } : {}),
    ...(typeof b.extended_hours === "boolean" ? { extendedHours: b.extended_hours } : {}),
  };
}

async function listOrders(broker: SimulatedBroker, query: URLSearchParams): Promise<unknown[]> {
  const status = query.get("status") ?? "open";
  const limit = Math.min(500, Math.max(1, Number(query.get("limit") ?? 50) || 50));
  const direction = query.get("direction") === "asc" ? "asc" : "desc";
  let list: OrderSnapshot[];
  if (status === "open") list = await broker.listOpenOrders();
  else {
    const all = broker.orders();
    list = status === "closed" ? all.filter((o) => isFinalBrokerStatus(o.status)) : all;
  }
  const symbols = query.get("symbols");
  if (symbols) {
    const set = new Set(symbols.split(","));
    list = list.filter((o) => set.has(o.symbol));
  }
  const time = (o: OrderSnapshot) => (o.createdAt ?? o.updatedAt).getTime();
  // Stable order: by time, then by position in the broker's list.
  const indexed = list.map((o, i) => ({ o, i }));
  indexed.sort((a, b) => time(a.o) - time(b.o) || a.i - b.i);
  if (direction === "desc") indexed.reverse();
  let sorted = indexed.map((x) => x.o);
  const before = query.get("before_order_id");
  if (before) {
    const at = sorted.findIndex((o) => o.id === before);
    sorted = at >= 0 ? sorted.slice(at + 1) : sorted;
  }
  const after = query.get("after_order_id");
  if (after) {
    const at = sorted.findIndex((o) => o.id === after);
    sorted = at >= 0 ? sorted.slice(0, at) : sorted;
  }
  return sorted.slice(0, limit).map(orderJson);
}
