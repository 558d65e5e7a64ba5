import { type Clock, throwIfAborted } from "../core/clock.js";

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Requests allowed per window (and the burst size). */
  limit: number;
  /** The window, in milliseconds. */
  windowMs: number;
  /** The clock that refills the bucket. */
  clock: Clock;
}

/**
 * A token bucket on an injected clock: `limit` requests per `windowMs`, refilled
 * continuously, bursts up to `limit`. Waiters are served in arrival order.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ limit: 200, windowMs: 60_000, clock: systemClock });
 * await bucket.take(signal);
 * ```
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();
  private readonly ratePerMs: number;

  /** @param options - limit, window and clock */
  constructor(private readonly options: TokenBucketOptions) {
    this.tokens = options.limit;
    this.last = options.clock.now();
    this.ratePerMs = options.limit / options.windowMs;
  }

  /**
   * Waits for a token and takes it.
   *
   * @param signal - aborts the wait (no token is taken)
   * @throws the abort reason when the signal aborts
   */
  take(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const run = this.queue.then(() => this.acquire(signal));
    this.queue = run.catch(() => {});
    return run;
  }

  private async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      throwIfAborted(signal);
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const waitMs = Math.ceil((1 - this.tokens) / this.ratePerMs);
      await this.options.clock.sleep(waitMs, signal);
    }
  }

  private refill(): void {
    const now = this.options.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.options.limit, this.tokens + elapsed * this.ratePerMs);
  }
}
