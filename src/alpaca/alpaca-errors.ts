import type { BrokerCallKind } from "../broker/broker-port.js";
import { abortReason } from "../core/clock.js";
import { BrokerError, type BrokerErrorCode, isBrokerError } from "../core/errors.js";
import { isObject, propertyOf } from "../core/guards.js";
import type { Redactor } from "./redactor.js";

/** One row of the error table: an HTTP status, an optional message pattern, a code. */
export interface AlpacaErrorRule {
  /** HTTP statuses the rule applies to. */
  status: readonly number[];
  /** A pattern the message must match (case-insensitive); absent = any message. */
  message?: RegExp;
  /** The Alpaca code the body must carry; absent = any code. */
  brokerCode?: readonly string[];
  /** The operations the rule applies to; absent = all. */
  operations?: readonly string[];
  /** The ordersafe code. */
  code: BrokerErrorCode;
}

/**
 * How Alpaca's refusals map to {@link BrokerErrorCode}s, first match wins. Alpaca overloads
 * 40310000, so the message decides (facts: HTTP 403 = the account or risk layer refuses a
 * well-formed request, 422 = the request itself is invalid).
 */
export const ALPACA_ERROR_RULES: readonly AlpacaErrorRule[] = [
  { status: [401], code: "unauthorized" },
  { status: [403, 422], message: /insufficient buying power/i, code: "insufficient_buying_power" },
  { status: [403, 422], message: /insufficient (qty|quantity)/i, code: "insufficient_quantity" },
  { status: [403, 422], message: /wash trade/i, code: "wash_trade" },
  { status: [403, 422], message: /cost basis must be >=|minimal amount of order/i, code: "min_notional" },
  { status: [403, 422], message: /not fractionable|qty must be integer/i, code: "not_fractionable" },
  {
    status: [400, 422],
    message: /client_order_id must be unique|duplicate client order id/i,
    code: "duplicate_client_order_id",
  },
  { status: [422], message: /not cancelable|order is not open/i, code: "not_cancelable" },
  { status: [403, 422], message: /market (is )?closed/i, code: "market_closed" },
  { status: [403, 422], message: /not tradable|not active|pattern day trad/i, code: "rejected" },
  { status: [404], code: "not_found" },
  { status: [403], brokerCode: ["40310000", "40310001", "40310100"], code: "rejected" },
  { status: [403], code: "forbidden" },
  { status: [400, 422], code: "invalid_order" },
];

const DEFAULT_RETRY_AFTER_MS = 1_000;

interface ApiErrorLike {
  status: number;
  code?: unknown;
  message: string;
  retryAfterMs?: unknown;
  requestId?: unknown;
}

function isApiErrorLike(e: unknown): e is ApiErrorLike {
  return e instanceof Error && isObject(e) && typeof e.status === "number" && typeof e.response === "object";
}

function isFetchErrorLike(e: unknown): e is Error & { cause?: unknown } {
  return e instanceof Error && e.name === "FetchError";
}

/** Errno codes that prove the request never reached the server. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** The first string `code` down a chain of causes (an errno such as `ECONNREFUSED`). */
function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur !== undefined && cur !== null; i++) {
    const code = propertyOf(cur, "code");
    if (typeof code === "string") return code;
    cur = propertyOf(cur, "cause");
  }
  return undefined;
}

function causeName(e: unknown): unknown {
  const cause = propertyOf(e, "cause");
  return isObject(cause) ? cause.name : undefined;
}

/**
 * Classifies an HTTP refusal by (status, Alpaca code, message).
 *
 * @param status - the HTTP status
 * @param brokerCode - Alpaca's code, as a string
 * @param message - Alpaca's message
 * @param operation - the port method (`"cancelOrder"`, ...)
 * @returns the ordersafe code; 429 → `rate_limited`, 5xx → `unavailable`, anything unknown → `rejected`
 */
export function classifyAlpacaRefusal(
  status: number,
  brokerCode: string | undefined,
  message: string,
  operation: string,
): BrokerErrorCode {
  if (status === 429) return "rate_limited";
  if (status >= 500) return "unavailable";
  for (const rule of ALPACA_ERROR_RULES) {
    if (!rule.status.includes(status)) continue;
    if (rule.message && !rule.message.test(message)) continue;
    if (rule.brokerCode && (brokerCode === undefined || !rule.brokerCode.includes(brokerCode))) continue;
    if (rule.operations && !rule.operations.includes(operation)) continue;
    return rule.code;
  }
  return "rejected";
}

/**
 * Turns whatever an SDK call threw into a {@link BrokerError} with the right code, or
 * rethrows the caller's abort reason for an aborted read.
 *
 * @param error - what the SDK threw
 * @param operation - the port method
 * @param kind - `write` for POST/DELETE (a lost reply is `ambiguous`), `read` for GET
 *   (a lost reply is `unavailable`)
 * @param redactor - removes the credentials from every text kept
 * @param signal - the caller's signal
 * @returns the error to throw (never containing a credential)
 */
export function toBrokerError(
  error: unknown,
  operation: string,
  kind: BrokerCallKind,
  redactor: Redactor,
  signal?: AbortSignal,
): unknown {
  if (isBrokerError(error)) return error;
  const call: FailedCall = { where: `[ordersafe/alpaca] ${operation}`, operation, kind, redactor };
  if (signal?.aborted) return kind === "read" ? abortReason(signal) : abortedInFlight(error, call);
  if (isApiErrorLike(error)) return refused(error, call);
  if (isFetchErrorLike(error)) return networkFailure(error, call);
  // A body that is not JSON, or anything else the transport could not make sense of.
  const message = error instanceof Error ? error.message : String(error);
  return new BrokerError("protocol", `${call.where}: malformed reply: ${redactor.text(message)}`, {
    cause: redactor.value(error),
    details: { operation },
  });
}

/** The call whose failure {@link toBrokerError} maps. */
interface FailedCall {
  /** `[ordersafe/alpaca] <operation>`, the start of every message. */
  where: string;
  operation: string;
  kind: BrokerCallKind;
  redactor: Redactor;
}

/** A write aborted by the caller while its request was in flight: it may have taken effect. */
function abortedInFlight(error: unknown, call: FailedCall): BrokerError {
  return new BrokerError(
    "ambiguous",
    `${call.where}: aborted while the request was in flight; it may have taken effect`,
    {
      cause: call.redactor.value(error),
      details: { operation: call.operation, aborted: true },
    },
  );
}

/** An HTTP refusal, classified by {@link ALPACA_ERROR_RULES}. */
function refused(error: ApiErrorLike, call: FailedCall): BrokerError {
  const { operation, kind } = call;
  // Whatever the server echoes (its code, its request id, its message) may hold a credential.
  const brokerCode =
    error.code === undefined || error.code === null ? undefined : call.redactor.text(String(error.code));
  const message = call.redactor.text(error.message);
  let code = classifyAlpacaRefusal(error.status, brokerCode, message, operation);
  // A gateway timeout on a write may hide an order that was placed.
  if (kind === "write" && (error.status === 502 || error.status === 504 || error.status === 408))
    code = "ambiguous";
  if (kind === "read" && error.status === 408) code = "unavailable";
  const retryAfterMs =
    code === "rate_limited"
      ? typeof error.retryAfterMs === "number" && Number.isFinite(error.retryAfterMs)
        ? Math.max(0, Math.round(error.retryAfterMs))
        : DEFAULT_RETRY_AFTER_MS
      : undefined;
  return new BrokerError(
    code,
    `${call.where}: HTTP ${error.status}${brokerCode ? ` ${brokerCode}` : ""}: ${message}`,
    {
      brokerCode,
      retryAfterMs,
      details: {
        operation,
        status: error.status,
        ...(typeof error.requestId === "string" ? { requestId: call.redactor.text(error.requestId) } : {}),
      },
    },
  );
}

/** No reply: `unavailable` when the request certainly never left (or was a read), else `ambiguous`. */
function networkFailure(error: Error & { cause?: unknown }, call: FailedCall): BrokerError {
  const net = networkCode(error.cause);
  const timedOut = causeName(error) === "TimeoutError";
  const neverSent = net !== undefined && NEVER_SENT.has(net);
  const code: BrokerErrorCode = call.kind === "write" && !neverSent ? "ambiguous" : "unavailable";
  const why = timedOut ? "timed out" : `network failure${net ? ` (${net})` : ""}`;
  return new BrokerError(
    code,
    `${call.where}: ${why}${code === "ambiguous" ? "; the request may have taken effect" : ""}`,
    {
      cause: call.redactor.value(error),
      details: { operation: call.operation, ...(net ? { network: net } : {}), timedOut },
    },
  );
}
