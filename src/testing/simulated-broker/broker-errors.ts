import { BrokerError, type BrokerErrorCode } from "../../core/errors.js";
import type { Refusal } from "./venue-rules.js";

/** The HTTP status a broker error stands for (`details.httpStatus`), as Alpaca's replies [facts 5]. */
const HTTP_STATUS: Record<BrokerErrorCode, number> = {
  insufficient_buying_power: 403,
  insufficient_quantity: 403,
  wash_trade: 403,
  min_notional: 403,
  not_fractionable: 403,
  duplicate_client_order_id: 422,
  invalid_order: 422,
  not_found: 404,
  not_cancelable: 422,
  market_closed: 403,
  rate_limited: 429,
  unavailable: 503,
  ambiguous: 504,
  unauthorized: 401,
  forbidden: 403,
  protocol: 502,
  rejected: 422,
};

/**
 * A `BrokerError` as the simulated broker throws it: with Alpaca's `brokerCode` and the facts
 * a wire server needs in `details` (`httpStatus`, `reason` = the message, and the extras).
 *
 * @param code - the error code
 * @param message - the message (Alpaca's text)
 * @param brokerCode - Alpaca's code, when it sends one
 * @param details - the extras (`symbol`, `available`, ...)
 * @param extra - `retryAfterMs`, `cause`
 * @returns the error
 */
export function brokerError(
  code: BrokerErrorCode,
  message: string,
  brokerCode: string | undefined,
  details: Readonly<Record<string, unknown>> = {},
  extra: { retryAfterMs?: number; cause?: unknown } = {},
): BrokerError {
  return new BrokerError(code, message, {
    ...(brokerCode === undefined ? {} : { brokerCode }),
    ...(extra.retryAfterMs === undefined ? {} : { retryAfterMs: extra.retryAfterMs }),
    ...(extra.cause === undefined ? {} : { cause: extra.cause }),
    details: { httpStatus: HTTP_STATUS[code], reason: message, ...details },
  });
}

/**
 * The error for a venue refusal.
 *
 * @param refusal - what the rules said
 * @param more - details to add after the refusal's own
 * @returns the error
 */
export function refusalError(refusal: Refusal, more: Readonly<Record<string, unknown>> = {}): BrokerError {
  return brokerError(refusal.code, refusal.message, refusal.brokerCode, { ...refusal.details, ...more });
}
