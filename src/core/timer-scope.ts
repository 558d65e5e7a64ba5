import { setMaxListeners } from "node:events";
import type { Clock } from "./clock.js";

/**
 * Every timer and wait of one service, on the injected clock, ended together: `close()`
 * clears the pending timers, rejects the pending waits and aborts {@link TimerScope.signal}
 * (which the service passes to its port calls), so nothing it started outlives it.
 *
 * @example
 * ```ts
 * const timers = new TimerScope(clock);
 * const cancel = timers.after(5_000, () => checkQuietOrders());
 * await timers.sleep(500); // rejects with the close reason if the scope closes first
 * timers.close(new OrdersafeError("invalid_state", "closed")); // clears both
 * ```
 */
export class TimerScope {
  readonly #clock: Clock;
  readonly #closer = new AbortController();

  /** @param clock - the clock every timer of the scope runs on */
  constructor(clock: Clock) {
    this.#clock = clock;
    // Every pending timer and wait listens on this one signal; many at once are normal.
    setMaxListeners(0, this.#closer.signal);
  }

  /** Aborted (with the close reason) by {@link TimerScope.close}. */
  get signal(): AbortSignal {
    return this.#closer.signal;
  }

  /** Whether {@link TimerScope.close} was called. */
  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  /**
   * Runs `callback` once `ms` have passed on the clock, unless cancelled or closed first.
   *
   * @param ms - the delay
   * @param callback - what to run
   * @returns a canceller (idempotent); after `close()` the timer is never set
   */
  after(ms: number, callback: () => void): () => void {
    if (this.closed) return () => {};
    const controller = new AbortController();
    const onClose = () => controller.abort();
    this.#closer.signal.addEventListener("abort", onClose, { once: true });
    this.#clock.sleep(ms, controller.signal).then(
      () => {
        this.#closer.signal.removeEventListener("abort", onClose);
        if (!this.closed) callback();
      },
      () => {
        this.#closer.signal.removeEventListener("abort", onClose);
      },
    );
    return () => controller.abort();
  }

  /**
   * Waits `ms` on the clock.
   *
   * @param ms - how long
   * @returns a promise resolved after `ms`
   * @throws the close reason when the scope is (or gets) closed first
   */
  sleep(ms: number): Promise<void> {
    return this.#clock.sleep(ms, this.#closer.signal);
  }

  /**
   * Calls `listener` once when the scope closes (not at all if it is closed already).
   *
   * @param listener - what to run
   * @returns a function that removes the listener
   */
  onClose(listener: () => void): () => void {
    this.#closer.signal.addEventListener("abort", listener, { once: true });
    return () => this.#closer.signal.removeEventListener("abort", listener);
  }

  /**
   * Clears every pending timer and rejects every pending wait. Idempotent.
   *
   * @param reason - what pending waits reject with (and `signal.reason`)
   */
  close(reason?: unknown): void {
    if (this.closed) return;
    this.#closer.abort(reason);
  }
}
