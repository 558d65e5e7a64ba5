import type { Clock } from "./clock.js";
import { isBrokerError } from "./errors.js";

/**
 * How waits grow between attempts: `initialMs × factor^attempt`, capped at `maxMs`, with
 * optional equal jitter (half fixed, half random) so many retries spread out.
 */
export interface BackoffPolicy {
  /** The first wait (ms). */
  readonly initialMs: number;
  /** The growth per attempt. @defaultValue 2 */
  readonly factor?: number;
  /** The longest wait (ms). @defaultValue Infinity */
  readonly maxMs?: number;
  /** `"equal"`: half the wait fixed, half drawn from `random`. @defaultValue "none" */
  readonly jitter?: "none" | "equal";
}

/**
 * The wait before attempt `attempt + 1`.
 *
 * @param policy - the backoff policy
 * @param attempt - attempts made so far, from 0
 * @param random - a seeded source in [0, 1), used by equal jitter
 * @returns milliseconds, an integer when jittered
 * @example
 * ```ts
 * backoffDelay({ initialMs: 200 }, 2); // 800
 * ```
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random?: () => number): number {
  const exp = Math.min(
    policy.maxMs ?? Number.POSITIVE_INFINITY,
    policy.initialMs * (policy.factor ?? 2) ** Math.min(attempt, 30),
  );
  if (policy.jitter !== "equal" || random === undefined) return exp;
  return Math.round(exp / 2 + (exp / 2) * random());
}

/**
 * The `Retry-After` a `rate_limited` error asks for, else undefined.
 *
 * @param error - anything thrown
 * @returns milliseconds, or undefined
 */
export function retryAfterOf(error: unknown): number | undefined {
  return isBrokerError(error, "rate_limited") ? error.retryAfterMs : undefined;
}

/** Options of {@link retryRead}. */
export interface RetryReadOptions {
  /** The clock the waits run on. */
  readonly clock: Clock;
  /** Attempts in all (at least 1). */
  readonly attempts: number;
  /** The waits between attempts. */
  readonly backoff: BackoffPolicy;
  /** Aborts the waits and stops retrying (the abort reason is thrown). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Whether an error is worth another attempt. @defaultValue a `BrokerError` that is
   * `retryable`, or anything that is not a `BrokerError` (a network fault)
   */
  readonly retryable?: (error: unknown) => boolean;
}

const defaultRetryable = (e: unknown) => !isBrokerError(e) || e.retryable;

/**
 * Runs a read until it succeeds, an error is not retryable, or the attempts run out; waits
 * between attempts on the injected clock, honouring a `rate_limited` error's `retryAfterMs`
 * in place of the backoff.
 *
 * @param read - the read (called once per attempt)
 * @param options - clock, attempts, backoff, signal, retryable
 * @returns the read's value
 * @throws the last error, or the abort reason when the signal aborts
 * @example
 * ```ts
 * const account = await retryRead(() => broker.getAccount({ signal }), { clock, attempts: 5, backoff: { initialMs: 200 }, signal });
 * ```
 */
export async function retryRead<T>(read: () => Promise<T>, options: RetryReadOptions): Promise<T> {
  const retryable = options.retryable ?? defaultRetryable;
  let last: unknown;
  for (let i = 0; i < options.attempts; i++) {
    try {
      return await read();
    } catch (e) {
      if (options.signal?.aborted) throw e;
      last = e;
      if (!retryable(e)) throw e;
      if (i < options.attempts - 1) {
        await options.clock.sleep(retryAfterOf(e) ?? backoffDelay(options.backoff, i), options.signal);
      }
    }
  }
  throw last;
}
