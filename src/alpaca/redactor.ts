import {
  BrokerError,
  isBrokerError,
  isOrdersafeError,
  isValidationError,
  OrdersafeError,
  ValidationError,
} from "../core/errors.js";
import { isObject } from "../core/guards.js";
import type { Logger } from "../core/logger.js";

/** Replaces secrets in text and values before they reach an error or a log line. */
export interface Redactor {
  /** The text with every secret replaced by `[redacted]`. */
  text(value: string): string;
  /** A copy of a loggable value with every secret replaced (errors become plain objects). */
  value(value: unknown): unknown;
  /**
   * An ordersafe error as it may leave the adapter: the same error when nothing in it
   * (message, details, cause, broker code) holds a secret, else a copy of the same class and
   * code with every secret replaced. Anything else (a caller's abort reason) is returned as is.
   */
  error(error: unknown): unknown;
}

const MASK = "[redacted]";
const MAX_DEPTH = 6;
/**
 * Fields whose value is a credential whatever it is (request headers, a stream's
 * authenticate frame): masked even when the value is not one of the known secrets, e.g. a
 * token a server echoes back after it was rotated.
 */
const CREDENTIAL_FIELDS = new Set([
  "authorization",
  "apca-api-key-id",
  "apca-api-secret-key",
  "key_id",
  "secret_key",
  "oauth_token",
]);

/**
 * Makes a redactor for the given secrets (API key id and secret key, or OAuth token). In
 * values, the fields that carry a credential (`Authorization`, `APCA-API-KEY-ID`,
 * `APCA-API-SECRET-KEY`, `key_id`, `secret_key`, `oauth_token`) are masked whatever they hold.
 *
 * @param secrets - strings that must never be shown; empty ones are ignored
 * @returns the redactor
 * @example
 * ```ts
 * const r = createRedactor([keyId, secret]);
 * logger.warn(r.value({ error }), r.text(message));
 * ```
 */
export function createRedactor(secrets: readonly string[]): Redactor {
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  const text = (value: string): string => {
    let out = value;
    for (const s of list) out = out.split(s).join(MASK);
    return out;
  };
  const walk = (v: unknown, depth: number, seen: Set<unknown>): unknown => {
    if (typeof v === "string") return text(v);
    if (!isObject(v)) return v;
    if (seen.has(v) || depth > MAX_DEPTH) return "[…]";
    seen.add(v);
    if (v instanceof Error) {
      const e: Record<string, unknown> = { name: v.name, message: text(v.message) };
      const code = v.code;
      if (code !== undefined) e.code = walk(code, depth + 1, seen);
      if (v.cause !== undefined) e.cause = walk(v.cause, depth + 1, seen);
      return e;
    }
    if (v instanceof Date) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1, seen));
    if (typeof v.toFixed === "function") return String(v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = CREDENTIAL_FIELDS.has(k.toLowerCase()) ? MASK : walk(x, depth + 1, seen);
    }
    return out;
  };
  const value = (v: unknown): unknown => walk(v, 0, new Set());
  const leaks = (v: unknown): boolean => {
    const seen = new Set<unknown>();
    const has = (x: unknown, depth: number): boolean => {
      if (typeof x === "string") return list.some((s) => x.includes(s));
      if (!isObject(x) || seen.has(x) || depth > MAX_DEPTH) return false;
      seen.add(x);
      if (x instanceof Error && (has(x.message, depth + 1) || has(x.cause, depth + 1))) return true;
      return Object.values(x).some((y) => has(y, depth + 1));
    };
    return has(v, 0);
  };
  return { text, value, error: (e) => (isOrdersafeError(e) && leaks(e) ? redactedCopy(e, text, value) : e) };
}

/** A copy of an ordersafe error, of the same class and code, with every secret replaced. */
function redactedCopy(
  e: OrdersafeError,
  text: (s: string) => string,
  value: (v: unknown) => unknown,
): OrdersafeError {
  const cause = e.cause === undefined ? undefined : value(e.cause);
  if (isBrokerError(e)) {
    return new BrokerError(e.code, text(e.message), {
      retryAfterMs: e.retryAfterMs,
      brokerCode: e.brokerCode === undefined ? undefined : text(e.brokerCode),
      details: recordOf(value(e.details)),
      cause,
    });
  }
  if (isValidationError(e)) {
    const issues = e.issues.map((i) => ({
      path: text(i.path),
      message: text(i.message),
      value: value(i.value),
    }));
    return new ValidationError(text(e.message), { issues });
  }
  return new OrdersafeError(e.code, text(e.message), {
    details: recordOf(value(e.details)),
    cause,
    retryable: e.retryable,
  });
}

function recordOf(v: unknown): Record<string, unknown> {
  return isObject(v) ? { ...v } : {};
}

/**
 * Wraps a logger so that no argument it receives can carry a secret.
 *
 * @param logger - the caller's logger
 * @param redactor - the redactor of the secrets
 * @returns a logger with the same shape
 */
export function redactingLogger(logger: Logger, redactor: Redactor): Logger {
  const wrap =
    (fn: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      fn(...args.map((a) => redactor.value(a)));
    };
  return {
    debug: wrap(logger.debug.bind(logger)),
    info: wrap(logger.info.bind(logger)),
    warn: wrap(logger.warn.bind(logger)),
    error: wrap(logger.error.bind(logger)),
  };
}
