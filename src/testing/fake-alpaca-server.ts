import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { z } from "zod";
import type { Subscription } from "../broker/broker-port.js";
import { type Clock, systemClock } from "../core/clock.js";
import { ZERO } from "../core/decimal.js";
import { isBrokerError, ValidationError } from "../core/errors.js";
import { parseInput } from "../core/validation.js";
import { findRoute, HttpReply, type RouteContext } from "./fake-alpaca-server-routes.js";
import { attachTradeStream, type TradeStream } from "./fake-alpaca-server-stream.js";
import { tradeUpdateJson, wireErrorFor } from "./fake-alpaca-server-wire.js";
import type { SimulatedBrokerOptions } from "./simulated-broker/options.js";
import { createSimulatedBroker, type SimulatedBroker } from "./simulated-broker/simulated-broker.js";

/** Which requests a scripted wire fault applies to. */
export interface FakeAlpacaMatch {
  /** HTTP method. */
  method?: "GET" | "POST" | "PATCH" | "DELETE";
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
  /** How the request authenticated: the key headers, an OAuth bearer token, or not at all. */
  auth: "keys" | "oauth" | "none";
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
   * An OAuth access token the server also accepts, instead of the key pair: as
   * `Authorization: Bearer <token>` on REST and `{"oauth_token": …}` on the stream.
   * @defaultValue none (only the key pair is accepted)
   */
  oauthToken?: string;
  /**
   * The broker behind the server; when given, the simulated-broker options are ignored.
   * @defaultValue a simulated broker made from the other options (`cash`, `positions`,
   *   `prices`, `assets`, `latency`, `partialFills`, `faults`, `readLag`, ...) on the system clock
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

/**
 * The defaults of the server's own options ({@link FakeAlpacaServerOptions}).
 *
 * @example
 * ```ts
 * const server = await startFakeAlpacaServer({ keyId: "k", secret: "s", port: FAKE_ALPACA_SERVER_DEFAULTS.port });
 * ```
 */
export const FAKE_ALPACA_SERVER_DEFAULTS = { port: 0, replyDelayMs: 0 } as const;

const BaseOptionsSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(FAKE_ALPACA_SERVER_DEFAULTS.port),
    keyId: z.string().min(1),
    secret: z.string().min(1),
    oauthToken: z.string().min(1).optional(),
    replyDelayMs: z.number().min(0).max(60_000).default(FAKE_ALPACA_SERVER_DEFAULTS.replyDelayMs),
  })
  .strict();

/** The connection is destroyed without a reply. */
class DropConnection {}

const BAD_BODY = new HttpReply(400, { code: 40010000, message: "request body format is invalid" });
const UNAUTHORIZED = new HttpReply(401, { code: 40110000, message: "request is not authorized" });
const INTERNAL_ERROR = new HttpReply(500, { code: 50010000, message: "internal server error" });
const NO_ROUTE = new HttpReply(404, { message: "endpoint not found" });
/** What a `malformed` fault sends: a 200 whose body is cut off. */
const MALFORMED = new HttpReply(200, '{"id": "', {}, true);

/** A running server's state: the broker, the credentials, the wire faults, the request log, the open sockets. */
interface ServerState extends RouteContext {
  readonly keyId: string;
  readonly secret: string;
  readonly oauthToken: string | undefined;
  readonly replyDelayMs: number;
  readonly faults: FakeAlpacaFault[];
  readonly log: FakeAlpacaRequest[];
  readonly sockets: Set<Socket>;
}

/**
 * Starts a fake Alpaca server on 127.0.0.1: real HTTP (trading and market data paths) and a
 * real WebSocket trade-updates stream at `/stream`, speaking Alpaca's wire protocol, backed
 * by a broker (by default the simulated broker).
 *
 * @param options - credentials, port, the broker or simulated-broker options
 * @returns the running server; `close()` it when done
 * @throws ValidationError (`validation`) for bad options
 * @remarks
 * - Auth: both `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` must match (or, with
 *   `oauthToken`, `Authorization: Bearer <token>`), else 401 `{"code":40110000}`; on the
 *   stream, `authenticate` (`key_id` and `secret_key`, or `oauth_token`) is answered
 *   `authorized` or `unauthorized`, every `listen` is acknowledged, nothing is replayed.
 * - Refusals of the broker become Alpaca's (status, code, message) replies; a simulated
 *   `ambiguous` fault drops the connection after the effect, `unavailable` is a 500,
 *   `rate_limited` a 429 with `Retry-After`, `latency_spike` a slow reply, and a simulated
 *   stream disconnect closes every stream connection.
 * - `ws` is imported lazily, so the rest of `ordersafe/testing` works without it.
 * - Defaults: {@link FAKE_ALPACA_SERVER_DEFAULTS}.
 * @example
 * ```ts
 * const server = await startFakeAlpacaServer({ keyId: "k", secret: "s", cash: 10_000, prices: { SPY: 500 } });
 * const broker = createAlpacaBroker({ keyId: "k", secret: "s", baseUrl: server.baseUrl,
 *   dataBaseUrl: server.dataBaseUrl, streamUrl: server.streamUrl });
 * await server.close();
 * ```
 */
export async function startFakeAlpacaServer(options: FakeAlpacaServerOptions): Promise<FakeAlpacaServer> {
  const state = serverState(options);
  const { WebSocketServer } = await import("ws");
  const http = createServer((req, res) => {
    handleRequest(state, req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ code: 50010000, message: "internal server error" }));
      }
    });
  });
  http.on("connection", (s) => {
    state.sockets.add(s);
    s.on("close", () => state.sockets.delete(s));
  });
  const stream = attachTradeStream(http, new WebSocketServer({ noServer: true }), (data) =>
    streamAuthValid(state, data),
  );
  const subscription = forwardUpdates(state.broker, stream);
  const port = await listen(http, options.port ?? FAKE_ALPACA_SERVER_DEFAULTS.port);
  return serverHandle(state, http, stream, subscription, port);
}

/** Parses the options; the broker is the one given or a simulated broker on the system clock. */
function serverState(options: FakeAlpacaServerOptions): ServerState {
  const base = parseInput(
    BaseOptionsSchema,
    {
      port: options.port,
      keyId: options.keyId,
      secret: options.secret,
      oauthToken: options.oauthToken,
      replyDelayMs: options.replyDelayMs,
    },
    "options",
  );
  const {
    port: _p,
    keyId: _k,
    secret: _s,
    oauthToken: _t,
    replyDelayMs: _d,
    broker: given,
    ...simOptions
  } = options;
  // Real sockets run on real time: the default broker uses the system clock.
  const broker: SimulatedBroker = given ?? createSimulatedBroker({ clock: systemClock, ...simOptions });
  const clock: Clock = broker.clock;
  return {
    broker,
    clock,
    accountId: randomUUID(),
    keyId: base.keyId,
    secret: base.secret,
    oauthToken: base.oauthToken,
    replyDelayMs: base.replyDelayMs,
    faults: [],
    log: [],
    sockets: new Set(),
  };
}

/**
 * One HTTP request: logged, its body parsed, authenticated, then through the wire fault it
 * meets (if any) and the route.
 */
async function handleRequest(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const method = (req.method ?? "GET").toUpperCase();
  const path = url.pathname;
  const raw = await readBody(req);
  const entry: FakeAlpacaRequest = { method, path, query: url.search, status: 0, auth: authOf(state, req) };
  state.log.push(entry);
  let body: unknown;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw);
      entry.body = body;
    } catch {
      return send(res, entry, BAD_BODY);
    }
  }
  if (entry.auth === "none") return send(res, entry, UNAUTHORIZED);
  const fault = takeWireFault(state.faults, method, path);
  if (state.replyDelayMs > 0) await state.clock.sleep(state.replyDelayMs);
  if (fault?.kind === "slow") await state.clock.sleep(fault.ms);
  const early = fault === undefined ? undefined : replyBeforeEffect(state, fault);
  if (early instanceof DropConnection) return drop(req, entry);
  if (early !== undefined) return send(res, entry, early);
  const reply = await routeOrFail(state, method, path, url.searchParams, body);
  if (fault?.kind === "drop" || reply instanceof DropConnection) return drop(req, entry);
  if (fault?.kind === "malformed") return send(res, entry, MALFORMED);
  return send(res, entry, reply);
}

/** The reply of a fault that answers instead of the broker (nothing applied); undefined for the others. */
function replyBeforeEffect(
  state: ServerState,
  fault: FakeAlpacaFault,
): HttpReply | DropConnection | undefined {
  switch (fault.kind) {
    case "http_429": {
      const w = wireErrorFor("rate_limited", {}, "", fault.retryAfterMs, state.clock.now());
      return new HttpReply(w.status, w.body, w.headers);
    }
    case "http_500":
      return INTERNAL_ERROR;
    case "reply":
      return new HttpReply(fault.status, fault.body, fault.headers);
    case "drop":
      return fault.apply ? undefined : new DropConnection();
    case "malformed":
      return fault.apply ? undefined : MALFORMED;
    default:
      return undefined;
  }
}

/** The route's reply, or the reply for what it threw. */
async function routeOrFail(
  state: ServerState,
  method: string,
  path: string,
  query: URLSearchParams,
  body: unknown,
): Promise<HttpReply | DropConnection> {
  const found = findRoute(method, path);
  if (found === undefined) return NO_ROUTE;
  try {
    return await found.route.handle(state, { param: decodeURIComponent(found.param), query, body });
  } catch (e) {
    return failure(state, e, found.route.operation);
  }
}

/**
 * Alpaca's reply for what the broker threw: its refusal (status, code, message), a dropped
 * connection for `ambiguous`, a 422 for bad input, else a 500.
 */
function failure(state: ServerState, e: unknown, operation: string): HttpReply | DropConnection {
  if (isBrokerError(e)) {
    if (e.code === "ambiguous") return new DropConnection();
    const w = wireErrorFor(e.code, { ...(e.details ?? {}) }, operation, e.retryAfterMs, state.clock.now());
    return new HttpReply(w.status, w.body, w.headers);
  }
  if (e instanceof ValidationError) {
    return new HttpReply(422, { code: 40010001, message: e.message.replace(/^\[ordersafe[^\]]*\] /, "") });
  }
  return INTERNAL_ERROR;
}

/** Takes the first queued fault matching the request (a `times` fault stays until used up). */
function takeWireFault(faults: FakeAlpacaFault[], method: string, path: string): FakeAlpacaFault | undefined {
  const i = faults.findIndex(
    (f) =>
      (f.method === undefined || f.method === method) &&
      (f.path === undefined || (typeof f.path === "string" ? f.path === path : f.path.test(path))),
  );
  const f = faults[i];
  if (f === undefined) return undefined;
  const left = (f.times ?? 1) - 1;
  if (left <= 0) faults.splice(i, 1);
  else faults[i] = { ...f, times: left };
  return f;
}

/** How a request authenticates: valid key headers, a valid bearer token, or neither. */
function authOf(state: ServerState, req: IncomingMessage): FakeAlpacaRequest["auth"] {
  if (validKey(state, req.headers["apca-api-key-id"], req.headers["apca-api-secret-key"])) return "keys";
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  return bearer !== null && validToken(state, bearer[1]) ? "oauth" : "none";
}

/** A stream `authenticate` message's data: the key pair, or the OAuth token. */
function streamAuthValid(state: ServerState, data: { [key: string]: unknown } | null | undefined): boolean {
  if (data?.oauth_token !== undefined) return validToken(state, data.oauth_token);
  return validKey(state, data?.key_id, data?.secret_key);
}

function validToken(state: ServerState, token: unknown): boolean {
  return state.oauthToken !== undefined && same(token, state.oauthToken);
}

function validKey(state: ServerState, keyId: unknown, secret: unknown): boolean {
  return same(keyId, state.keyId) && same(secret, state.secret);
}

/** Sends every order update of the broker to the stream (binary frames, as real paper streams); a broker disconnection drops the stream. */
function forwardUpdates(broker: SimulatedBroker, stream: TradeStream): Subscription {
  return broker.subscribeOrderUpdates({
    onUpdate(update) {
      const positionQty = update.fill
        ? (broker.truth().positions.get(update.order.symbol) ?? ZERO)
        : undefined;
      stream.broadcast(
        Buffer.from(JSON.stringify({ stream: "trade_updates", data: tradeUpdateJson(update, positionQty) })),
      );
    },
    onStatus(status) {
      if (status === "disconnected") stream.dropAll();
    },
  });
}

/** Listens on 127.0.0.1; resolves with the port. */
async function listen(http: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, "127.0.0.1", () => resolve());
  });
  const address = http.address();
  if (address === null || typeof address === "string")
    throw new Error("[ordersafe] fake Alpaca server: no TCP address");
  return address.port;
}

function serverHandle(
  state: ServerState,
  http: Server,
  stream: TradeStream,
  subscription: Subscription,
  port: number,
): FakeAlpacaServer {
  const origin = `http://127.0.0.1:${port}`;
  let closed = false;
  return {
    baseUrl: origin,
    dataBaseUrl: origin,
    streamUrl: `ws://127.0.0.1:${port}/stream`,
    broker: state.broker,
    script(fault) {
      state.faults.push(fault);
    },
    dropStream: () => stream.dropAll(),
    sendStreamFrame(frame) {
      stream.broadcast(JSON.stringify(frame));
    },
    streamClients: () => stream.listeners(),
    requests: () => [...state.log],
    resetRequests() {
      state.log.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      subscription.close();
      stream.close();
      for (const s of state.sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

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
