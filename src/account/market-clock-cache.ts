import type { MarketClock } from "../broker/broker-port.js";

/**
 * The defaults of the market clock cache: a clock read is reused for at most `ttlMs` (15
 * minutes), and never within `marginMs` (a minute) of the open or close it announced, where a
 * fresh read would say something else.
 *
 * @example
 * ```ts
 * MARKET_CLOCK_CACHE_DEFAULTS.ttlMs; // 900000
 * ```
 */
export const MARKET_CLOCK_CACHE_DEFAULTS = Object.freeze({
  /** How long a clock read is reused (ms); 0: never. */
  ttlMs: 900_000,
  /** How long before the next open or close a clock read is no longer reused (ms). */
  marginMs: 60_000,
});

/**
 * The last market clock read on one account (one per account, see `accountStateOf`).
 *
 * @remarks
 * A clock read tells whether the session is open and when it next opens and closes; until the
 * next of those it says the same, so it is reused until `marginMs` before it (and at most
 * `ttlMs`). A broker refusal because the market is closed drops it.
 *
 * @example
 * ```ts
 * const cache = new MarketClockCache();
 * cache.store(await broker.getClock(), clock.now());
 * cache.fresh(clock.now(), 900_000); // the read, until a minute before its next open or close
 * ```
 */
export class MarketClockCache {
  #last: { readonly value: MarketClock; readonly readAt: number } | undefined;
  #droppedAt = Number.NEGATIVE_INFINITY;

  /**
   * The clock read, when it was read less than `ttlMs` before `now` and its next open or
   * close is more than `marginMs` away.
   *
   * @param now - the local time (ms)
   * @param ttlMs - the oldest a read may be (ms); 0: none is
   * @param marginMs - how long before the next open or close a read stops being reused (ms)
   * @returns the clock read, or undefined
   * @example
   * ```ts
   * const cached = cache.fresh(clock.now(), MARKET_CLOCK_CACHE_DEFAULTS.ttlMs);
   * ```
   */
  fresh(
    now: number,
    ttlMs: number,
    marginMs: number = MARKET_CLOCK_CACHE_DEFAULTS.marginMs,
  ): MarketClock | undefined {
    const last = this.#last;
    if (last === undefined || ttlMs <= 0 || now - last.readAt >= ttlMs) return undefined;
    const next = last.value.isOpen ? last.value.nextClose : last.value.nextOpen;
    return now < next.getTime() - marginMs ? last.value : undefined;
  }

  /**
   * Keeps a clock read, unless the cache was dropped after the read was sent.
   *
   * @param value - the clock the broker returned
   * @param readAt - the local time the read was sent (ms)
   * @example
   * ```ts
   * cache.store(await broker.getClock(), readAt);
   * ```
   */
  store(value: MarketClock, readAt: number): void {
    if (readAt < this.#droppedAt) return;
    if (this.#last === undefined || this.#last.readAt <= readAt) this.#last = { value, readAt };
  }

  /**
   * Drops the clock read: the next use reads the broker's.
   *
   * @param now - the local time (ms): a read sent before it is not stored
   * @example
   * ```ts
   * cache.drop(clock.now());
   * ```
   */
  drop(now: number): void {
    this.#last = undefined;
    this.#droppedAt = now;
  }
}
