/**
 * Time, injected: every service takes a `Clock` so tests and simulations run on a virtual
 * one, in milliseconds and identically every time.
 *
 * @example
 * ```ts
 * const started = clock.now();
 * await clock.sleep(250, signal);
 * ```
 */
export interface Clock {
  /** The current time, in milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds.
   *
   * @param ms - how long, at least 0
   * @param signal - aborts the wait: the promise rejects with the signal's reason
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The real clock: `Date.now()` and timers cleared on abort.
 *
 * @remarks
 * A pending sleep keeps the process alive, as any awaited timer does: a rebalance, a tracker
 * or a reconciliation loop waiting on the clock (a fill on an in-memory port, a polling
 * interval, a backoff after a 429 or a 5xx) holds the event loop until its wait ends, so
 * Node never exits in the middle with code 0 (or 13 under top-level await) and no report.
 * Every service clears its timers when its work is done (its `TimerScope` closes, a
 * loop's `stop()`), so a process whose work is all done exits on its own.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      if (signal === undefined) {
        startTimer(ms, resolve);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal));
      };
      const timer = startTimer(ms, () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
      signal.addEventListener("abort", onAbort, { once: true });
    });
  },
};

/** A timer that holds the event loop until it fires or is cleared. */
function startTimer(ms: number, done: () => void): ReturnType<typeof setTimeout> {
  return setTimeout(done, Math.max(0, ms));
}

/**
 * The reason an aborted signal carries, or a standard `AbortError` when it has none.
 *
 * @param signal - an aborted signal
 * @returns what a call aborted by it should reject with
 */
export function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const e = new Error("The operation was aborted");
  e.name = "AbortError";
  return e;
}

/**
 * Throws the signal's reason when it is aborted.
 *
 * @param signal - an optional signal
 * @throws the abort reason
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}
