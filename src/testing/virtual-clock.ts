import { abortReason, type Clock } from "../core/clock.js";
import { OrdersafeError } from "../core/errors.js";

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
}

/**
 * The defaults of {@link VirtualClock}: its start (2026-01-05T14:30:00Z, a Monday, 09:30 New
 * York), the bounds of `run()` (7 days of virtual time, a million timer firings) and of
 * `runUntilIdle()` (1 day, 100,000 firings).
 *
 * @example
 * ```ts
 * const clock = new VirtualClock({ start: VIRTUAL_CLOCK_DEFAULTS.start + 86_400_000 }); // a day later
 * ```
 */
export const VIRTUAL_CLOCK_DEFAULTS = {
  start: Date.UTC(2026, 0, 5, 14, 30, 0),
  run: { maxTimeMs: 7 * 24 * 3_600_000, maxSteps: 1_000_000 },
  runUntilIdle: { maxTimeMs: 24 * 3_600_000, maxSteps: 100_000 },
} as const;

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /**
   * The starting time (ms since the epoch, or a Date).
   * @defaultValue `VIRTUAL_CLOCK_DEFAULTS.start` (2026-01-05T14:30:00Z, a Monday, 09:30 New York)
   */
  start?: number | Date;
}

/** Options of {@link VirtualClock.run} and {@link VirtualClock.runUntilIdle}. */
export interface VirtualClockRunOptions {
  /**
   * Give up when virtual time passes this many ms after the start of the run.
   * @defaultValue `VIRTUAL_CLOCK_DEFAULTS.run.maxTimeMs` (7 days); for `runUntilIdle`, `.runUntilIdle.maxTimeMs` (1 day)
   */
  maxTimeMs?: number;
  /**
   * Give up after this many timer firings.
   * @defaultValue `VIRTUAL_CLOCK_DEFAULTS.run.maxSteps` (1,000,000); for `runUntilIdle`, `.runUntilIdle.maxSteps` (100,000)
   */
  maxSteps?: number;
}

/** How a promise settled. */
type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * A {@link Clock} whose time moves only when told: `advance()`, or `run()`, which jumps to
 * the next timer whenever every pending task is waiting on the clock. A rebalance with
 * 200 ms fills runs in milliseconds of real time, identically every time.
 *
 * @remarks
 * Timers due at the same instant fire in the order they were set. Between two firings the
 * clock lets pending promise callbacks and `setImmediate` tasks run, so code that awaits
 * in-process work settles before time moves on. It does not wait for real I/O: code that
 * talks to sockets belongs on the system clock.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const broker = createSimulatedBroker({ clock, latency: { restMs: 50, fillMs: 200 } });
 * const report = await clock.run(rebalancer.rebalance({ weights: { SPY: 1 } }));
 * ```
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: Timer[] = [];

  /** @param options - the start time */
  constructor(options: VirtualClockOptions = {}) {
    const start = options.start ?? VIRTUAL_CLOCK_DEFAULTS.start;
    this.current = start instanceof Date ? start.getTime() : start;
    if (!Number.isFinite(this.current)) {
      throw new OrdersafeError("validation", "VirtualClock: start must be a finite time");
    }
  }

  /** The virtual time in ms since the epoch. */
  now(): number {
    return this.current;
  }

  /**
   * Resolves when virtual time reaches now + ms.
   *
   * @param ms - the delay
   * @param signal - rejects with its reason when aborted, and removes the timer
   * @returns a promise resolved by the clock
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      if (signal === undefined) {
        this.schedule(ms, () => resolve());
        return;
      }
      const onAbort = () => {
        cancel();
        reject(abortReason(signal));
      };
      const cancel = this.schedule(ms, () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Calls `callback` when virtual time reaches now + delayMs.
   *
   * @param delayMs - the delay (negative counts as 0)
   * @param callback - what to run
   * @returns a function that cancels the timer
   */
  schedule(delayMs: number, callback: () => void): () => void {
    const timer: Timer = { at: this.current + Math.max(0, delayMs || 0), seq: this.seq++, fire: callback };
    this.insert(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }

  /** How many timers are waiting. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** When the next timer fires, or undefined when none waits. */
  nextTimerAt(): number | undefined {
    return this.timers[0]?.at;
  }

  /**
   * Lets pending promise callbacks and immediates run without moving time.
   *
   * @param rounds - how many macrotask turns to yield
   */
  async flush(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way, in order.
   *
   * @param ms - how far, at least 0
   */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + Math.max(0, ms));
  }

  /**
   * Moves time to `time`, firing every timer due on the way, in order.
   *
   * @param time - the target, in ms since the epoch (not before now)
   */
  async advanceTo(time: number): Promise<void> {
    await this.flush();
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.at > time) break;
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.fire();
      await this.flush();
    }
    this.current = Math.max(this.current, time);
    await this.flush();
  }

  /**
   * Drives time until `work` settles: whenever everything pending waits on the clock, jumps
   * to the next timer.
   *
   * @param work - a promise, or a function returning one (started on the next tick)
   * @param options - bounds on virtual time and steps
   * @returns what `work` resolves to
   * @throws what `work` rejects with; `OrdersafeError("invalid_state")` when nothing can
   *   make progress (no timer pending and the work unsettled) or a bound is passed
   */
  async run<T>(work: Promise<T> | (() => Promise<T>), options: VirtualClockRunOptions = {}): Promise<T> {
    const promise = typeof work === "function" ? work() : work;
    // Set by the promise's callbacks, read after each flush (a holder, so the read is not narrowed away).
    const result: { outcome?: Outcome<T> } = {};
    promise.then(
      (value) => {
        result.outcome = { ok: true, value };
      },
      (error: unknown) => {
        result.outcome = { ok: false, error };
      },
    );
    const maxSteps = options.maxSteps ?? VIRTUAL_CLOCK_DEFAULTS.run.maxSteps;
    const deadline = this.current + (options.maxTimeMs ?? VIRTUAL_CLOCK_DEFAULTS.run.maxTimeMs);
    let steps = 0;
    for (;;) {
      await this.flush();
      if (result.outcome !== undefined) break;
      const next = this.timers[0];
      if (next === undefined) {
        await this.flush(20);
        if (result.outcome !== undefined) break;
        if (this.timers.length > 0) continue;
        throw new OrdersafeError(
          "invalid_state",
          "VirtualClock.run: the work is waiting on something other than the clock (deadlock)",
        );
      }
      if (next.at > deadline || ++steps > maxSteps) {
        throw new OrdersafeError(
          "invalid_state",
          "VirtualClock.run: time or step bound passed before the work settled",
          {
            details: { now: this.current, steps },
          },
        );
      }
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.fire();
    }
    const outcome = result.outcome;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * Fires timers until none is left (or a bound is passed): for tests whose background work
   * must finish.
   *
   * @param options - bounds on virtual time and steps
   * @returns how many timers fired
   */
  async runUntilIdle(options: VirtualClockRunOptions = {}): Promise<number> {
    const maxSteps = options.maxSteps ?? VIRTUAL_CLOCK_DEFAULTS.runUntilIdle.maxSteps;
    const deadline = this.current + (options.maxTimeMs ?? VIRTUAL_CLOCK_DEFAULTS.runUntilIdle.maxTimeMs);
    let steps = 0;
    await this.flush();
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.at > deadline || steps >= maxSteps) break;
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.fire();
      steps++;
      await this.flush();
    }
    return steps;
  }

  private insert(timer: Timer): void {
    // Binary search on (at, seq): timers stay sorted, ties in insertion order.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.timers[mid];
      if (t !== undefined && (t.at < timer.at || (t.at === timer.at && t.seq < timer.seq))) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, timer);
  }
}

/**
 * Runs `callback` after `delayMs` on any clock: on a {@link VirtualClock} through its timer
 * queue, on another clock through `sleep`.
 *
 * @param clock - the clock
 * @param delayMs - the delay
 * @param callback - what to run
 * @returns a function that cancels it
 */
export function scheduleOn(clock: Clock, delayMs: number, callback: () => void): () => void {
  if (clock instanceof VirtualClock) return clock.schedule(delayMs, callback);
  const controller = new AbortController();
  clock.sleep(delayMs, controller.signal).then(callback, () => {});
  return () => controller.abort();
}
