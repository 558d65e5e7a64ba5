import { domainToASCII } from "node:url";
import { z } from "zod";
import type { Clock } from "../core/clock.js";
import { OrdersafeError, ValidationError } from "../core/errors.js";
import { hasMethods, isObject, type UnknownRecord } from "../core/guards.js";
import type { Logger } from "../core/logger.js";
import { parseInput } from "../core/validation.js";
import type { AlpacaStreamSettings } from "./alpaca-order-stream.js";
import { createRedactor, type Redactor } from "./redactor.js";

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

/** Alpaca's hosts that trade no real money; every other host of `alpaca.markets` counts as live. */
const NOT_LIVE_HOSTS = new Set([
  "paper-api.alpaca.markets",
  "data.alpaca.markets",
  "stream.data.alpaca.markets",
]);

/**
 * A URL's host as DNS resolves it: parsed as a fetch parses it (percent-decoding, IDNA
 * mapping of Unicode full stops and fullwidth letters, lower case), then in ASCII, with the
 * root's trailing dots removed.
 *
 * @param url - an absolute URL
 * @returns the normalized host name, or undefined when the URL has none
 */
export function normalizedHostname(url: string): string | undefined {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined;
  }
  const ascii = domainToASCII(host) || host;
  return ascii.toLowerCase().replace(/\.+$/, "");
}

/**
 * Whether a URL points at Alpaca's live trading: any host of `alpaca.markets` (however it is
 * spelt) other than the paper and market data hosts and the sandboxes.
 *
 * @param url - a trading base URL
 * @returns true when trading through it could move real money
 * @example
 * ```ts
 * isAlpacaLiveUrl("https://api.alpaca.markets."); // true
 * isAlpacaLiveUrl("https://paper-api.alpaca.markets"); // false
 * ```
 */
export function isAlpacaLiveUrl(url: string): boolean {
  const host = normalizedHostname(url);
  if (host === undefined) return false;
  if (host !== "alpaca.markets" && !host.endsWith(".alpaca.markets")) return false;
  return !NOT_LIVE_HOSTS.has(host) && !host.endsWith(".sandbox.alpaca.markets");
}

/**
 * Every market data feed of Alpaca's latest-trades API (free accounts: `iex`).
 *
 * @example
 * ```ts
 * const feed: AlpacaFeed = ALPACA_FEEDS[0]; // "iex"
 * ```
 */
export const ALPACA_FEEDS = ["iex", "sip", "delayed_sip", "boats", "overnight"] as const;
/** A market data feed. */
export type AlpacaFeed = (typeof ALPACA_FEEDS)[number];

/**
 * The defaults of {@link AlpacaBrokerOptions}, in one place: the options schema takes them
 * from here. (The URLs and the id default by `paper`; the credentials come from the
 * environment.)
 *
 * @example
 * ```ts
 * createAlpacaBroker({ rateLimitPerMinute: ALPACA_BROKER_DEFAULTS.rateLimitPerMinute / 2 });
 * ```
 */
export const ALPACA_BROKER_DEFAULTS = Object.freeze({
  paper: true,
  allowLive: false,
  feed: "iex",
  /** Alpaca allows 200 REST requests per minute per key. */
  rateLimitPerMinute: 200,
  timeoutMs: 30_000,
  assetConcurrency: 8,
  stream: Object.freeze({
    initialReconnectMs: 1_000,
    maxReconnectMs: 30_000,
    maxReconnectAttempts: -1,
    reconnectJitter: 0.2,
    pingIntervalMs: 10_000,
    pongWaitMs: 5_000,
  }),
} as const);

const D = ALPACA_BROKER_DEFAULTS;

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: "expected an http(s) URL" })
  .transform((u) => u.replace(/\/+$/, ""));
const wsUrl = z
  .string()
  .url()
  .refine((u) => /^wss?:\/\//i.test(u), { message: "expected a ws(s) URL" });

const LoggerSchema = z.custom<Logger>((v) => hasMethods(v, ["debug", "info", "warn", "error"]), {
  message: "expected a logger with debug, info, warn and error",
});
const ClockSchema = z.custom<Clock>((v) => hasMethods(v, ["now", "sleep"]), {
  message: "expected a Clock (now, sleep)",
});

const StreamSettingsSchema = z
  .object({
    initialReconnectMs: z.number().int().min(1).default(D.stream.initialReconnectMs),
    maxReconnectMs: z.number().int().min(1).default(D.stream.maxReconnectMs),
    maxReconnectAttempts: z.number().int().min(-1).default(D.stream.maxReconnectAttempts),
    reconnectJitter: z.number().min(0).max(1).default(D.stream.reconnectJitter),
    pingIntervalMs: z.number().int().min(0).default(D.stream.pingIntervalMs),
    pongWaitMs: z.number().int().min(1).default(D.stream.pongWaitMs),
  })
  .strict()
  .default(D.stream);

/** Schema of {@link AlpacaBrokerOptions} (credentials are checked apart, so they never appear in an error). */
export const AlpacaBrokerOptionsSchema = z
  .object({
    keyId: z.unknown().optional(),
    secret: z.unknown().optional(),
    oauthToken: z.unknown().optional(),
    paper: z.boolean().default(D.paper),
    allowLive: z.boolean().default(D.allowLive),
    baseUrl: httpUrl.optional(),
    dataBaseUrl: httpUrl.optional(),
    streamUrl: wsUrl.optional(),
    feed: z.enum(ALPACA_FEEDS).default(D.feed),
    logger: LoggerSchema.optional(),
    clock: ClockSchema.optional(),
    id: z.string().min(1).max(64).optional(),
    rateLimitPerMinute: z.number().int().min(1).max(100_000).default(D.rateLimitPerMinute),
    timeoutMs: z.number().int().min(0).max(600_000).default(D.timeoutMs),
    assetConcurrency: z.number().int().min(1).max(50).default(D.assetConcurrency),
    stream: StreamSettingsSchema,
    env: z.record(z.string(), z.string().optional()).optional(),
  })
  .strict();

/** Options of `createAlpacaBroker`; every default is in {@link ALPACA_BROKER_DEFAULTS}. */
export interface AlpacaBrokerOptions {
  /** API key id. @defaultValue `process.env.APCA_API_KEY_ID` */
  keyId?: string | undefined;
  /** API secret key. @defaultValue `process.env.APCA_API_SECRET_KEY` */
  secret?: string | undefined;
  /**
   * An OAuth access token, instead of `keyId` and `secret` (passing both is a `config`
   * error): REST sends `Authorization: Bearer <token>`, the trade-updates stream
   * authenticates with `{"oauth_token": …}`.
   * @defaultValue `process.env.APCA_API_OAUTH_TOKEN` when neither `keyId` nor `secret` is
   *   passed and `APCA_API_KEY_ID` is not set
   */
  oauthToken?: string | undefined;
  /** Paper trading. @defaultValue `ALPACA_BROKER_DEFAULTS.paper` (true) */
  paper?: boolean | undefined;
  /**
   * Must be true to trade live (`paper: false`); a guard against trading real money by mistake.
   * @defaultValue `ALPACA_BROKER_DEFAULTS.allowLive` (false)
   */
  allowLive?: boolean | undefined;
  /** Trading REST base URL, no trailing slash. @defaultValue the paper or live host */
  baseUrl?: string | undefined;
  /** Market data base URL. @defaultValue `https://data.alpaca.markets` */
  dataBaseUrl?: string | undefined;
  /** Trade-updates WebSocket URL. @defaultValue the paper or live stream */
  streamUrl?: string | undefined;
  /** Market data feed for latest prices (free accounts: `iex`). @defaultValue `ALPACA_BROKER_DEFAULTS.feed` ("iex") */
  feed?: AlpacaFeed | undefined;
  /** Logger (credentials are redacted from everything logged). @defaultValue silent */
  logger?: Logger | undefined;
  /** Clock of the rate limiter. @defaultValue the system clock */
  clock?: Clock | undefined;
  /** The port's id. @defaultValue "alpaca-paper" or "alpaca-live" */
  id?: string | undefined;
  /**
   * Client-side limit on REST requests per minute (Alpaca allows 200 per key).
   * @defaultValue `ALPACA_BROKER_DEFAULTS.rateLimitPerMinute` (200)
   */
  rateLimitPerMinute?: number | undefined;
  /**
   * Per-request timeout in ms (0 = none); a write that times out is `ambiguous`.
   * @defaultValue `ALPACA_BROKER_DEFAULTS.timeoutMs` (30000)
   */
  timeoutMs?: number | undefined;
  /** Concurrent asset lookups in `getAssets`. @defaultValue `ALPACA_BROKER_DEFAULTS.assetConcurrency` (8) */
  assetConcurrency?: number | undefined;
  /**
   * Trade-updates stream reconnect and keep-alive settings.
   * @defaultValue `ALPACA_BROKER_DEFAULTS.stream`, per field
   */
  stream?: Partial<AlpacaStreamSettings> | undefined;
  /** Environment to read credentials from. @defaultValue `process.env` */
  env?: Record<string, string | undefined>;
}

/** The options once checked, every default filled in. */
export type ParsedAlpacaBrokerOptions = z.output<typeof AlpacaBrokerOptionsSchema>;

/**
 * How the adapter authenticates: an API key pair (`APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`
 * headers) or an OAuth access token (`Authorization: Bearer`).
 */
export type AlpacaCredentials =
  | { readonly kind: "keys"; readonly keyId: string; readonly secret: string }
  | { readonly kind: "oauth"; readonly token: string };

/** What a broker is built from: the checked options, the credentials and the endpoints. */
export interface AlpacaSettings {
  /** The checked options. */
  options: ParsedAlpacaBrokerOptions;
  /** The key pair or the OAuth token. */
  credentials: AlpacaCredentials;
  /** Removes every credential from any text or value. */
  redactor: Redactor;
  /** The port's id. */
  id: string;
  /** Trading REST base URL. */
  baseUrl: string;
  /** Market data base URL. */
  dataBaseUrl: string;
  /** Trade-updates stream URL. */
  streamUrl: string;
}

/**
 * Checks the options of `createAlpacaBroker`, reads the credentials (from the options or the
 * environment), and resolves the endpoints.
 *
 * @param options - what the caller passed
 * @returns the settings a broker is built from
 * @throws ValidationError (`validation`) for a bad option (credentials are never shown);
 *   OrdersafeError (`config`) for missing credentials, both a key pair and an OAuth token, or
 *   live trading without `allowLive`
 */
export function readAlpacaOptions(options: unknown): AlpacaSettings {
  if (!isObject(options)) {
    throw new ValidationError("[ordersafe/alpaca] invalid options: expected an object", {
      issues: [{ path: "options", message: "expected an object", value: options }],
    });
  }
  const env = isObject(options.env) ? options.env : typeof process === "undefined" ? {} : process.env;
  const credentials = readCredentials(options, env);
  const redactor = createRedactor(
    credentials.kind === "keys" ? [credentials.keyId, credentials.secret] : [credentials.token],
  );
  try {
    return resolveSettings(options, credentials, redactor);
  } catch (error) {
    // The real options are parsed (a redacted copy would change a short key's look-alikes in
    // every URL); only the text of an error is redacted.
    throw redactor.error(error);
  }
}

/** The settings from the real options, once the credentials are read. */
function resolveSettings(
  options: UnknownRecord,
  credentials: AlpacaCredentials,
  redactor: Redactor,
): AlpacaSettings {
  const parsed = parseInput(AlpacaBrokerOptionsSchema, options, "options");
  const baseUrl = parsed.baseUrl ?? (parsed.paper ? ALPACA_PAPER_URL : ALPACA_LIVE_URL);
  refuseUnintendedLive(parsed, baseUrl);
  return {
    options: parsed,
    credentials,
    redactor,
    id: parsed.id ?? (parsed.paper ? "alpaca-paper" : "alpaca-live"),
    baseUrl,
    dataBaseUrl: parsed.dataBaseUrl ?? ALPACA_DATA_URL,
    streamUrl: parsed.streamUrl ?? (parsed.paper ? ALPACA_PAPER_STREAM_URL : ALPACA_LIVE_STREAM_URL),
  };
}

/**
 * The credentials: an OAuth token passed as `oauthToken`, a key pair passed as `keyId` /
 * `secret` (a missing half from the environment), or else from the environment: the key
 * pair when `APCA_API_KEY_ID` is set, the OAuth token when only `APCA_API_OAUTH_TOKEN` is.
 */
function readCredentials(input: UnknownRecord, env: Readonly<Record<string, unknown>>): AlpacaCredentials {
  const keysGiven = input.keyId !== undefined || input.secret !== undefined;
  if (keysGiven && input.oauthToken !== undefined) {
    throw new OrdersafeError(
      "config",
      "[ordersafe/alpaca] options: pass either keyId and secret or oauthToken, not both",
      { details: { path: "options.oauthToken" } },
    );
  }
  const fromEnvToken = !keysGiven && input.oauthToken === undefined && !filled(env.APCA_API_KEY_ID);
  if (input.oauthToken !== undefined || (fromEnvToken && filled(env.APCA_API_OAUTH_TOKEN))) {
    return { kind: "oauth", token: credential(input, "oauthToken", env, "APCA_API_OAUTH_TOKEN") };
  }
  if (!keysGiven && !filled(env.APCA_API_KEY_ID) && !filled(env.APCA_API_SECRET_KEY)) {
    throw new OrdersafeError(
      "config",
      "[ordersafe/alpaca] options: missing credentials: pass keyId and secret or oauthToken, or set APCA_API_KEY_ID and APCA_API_SECRET_KEY or APCA_API_OAUTH_TOKEN",
      { details: { path: "options.keyId" } },
    );
  }
  return {
    kind: "keys",
    keyId: credential(input, "keyId", env, "APCA_API_KEY_ID"),
    secret: credential(input, "secret", env, "APCA_API_SECRET_KEY"),
  };
}

function filled(value: unknown): boolean {
  return typeof value === "string" && value.trim() !== "";
}

/** One credential, from the options or else the environment; never shown in an error. */
function credential(
  input: UnknownRecord,
  name: "keyId" | "secret" | "oauthToken",
  env: Readonly<Record<string, unknown>>,
  envName: string,
): string {
  const given = input[name];
  const value = given === undefined ? env[envName] : given;
  if (typeof value === "string" && value.trim() !== "") return value;
  const issue = {
    path: `options.${name}`,
    message: given === undefined ? `missing: pass ${name} or set ${envName}` : "expected a non-empty string",
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

/** Live trading only when asked for twice (`paper: false` and `allowLive: true`), and never by a paper config pointed at the live host. */
function refuseUnintendedLive(parsed: ParsedAlpacaBrokerOptions, baseUrl: string): void {
  const live = !parsed.paper || isAlpacaLiveUrl(baseUrl);
  if (live && !parsed.allowLive) {
    throw new OrdersafeError(
      "config",
      "[ordersafe/alpaca] live trading refused: pass allowLive: true together with paper: false to trade real money",
      { details: { paper: parsed.paper, baseUrl } },
    );
  }
  if (live && parsed.paper) {
    throw new OrdersafeError("config", "[ordersafe/alpaca] paper: true but baseUrl is Alpaca's live host", {
      details: { baseUrl },
    });
  }
}
