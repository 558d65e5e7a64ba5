import { abortReason, throwIfAborted } from "./clock.js";

/**
 * Maps over `items` with at most `limit` calls in flight, keeping the input order. After the
 * first failure no new item starts; the calls in flight finish, then the first error is thrown.
 *
 * @param items - the inputs
 * @param limit - the most calls in flight at once (at least 1)
 * @param f - the async work for one item
 * @returns the results, in the order of `items`
 * @throws the first error a call threw
 * @example
 * ```ts
 * const assets = await mapBounded(symbols, 4, (s) => readAsset(s));
 * ```
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  f: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  // One iterator shared by the workers: each takes the next item when it is free.
  const queue = items.entries();
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined) {
      const next = queue.next();
      if (next.done) return;
      const [i, item] = next.value;
      try {
        out[i] = await f(item, i);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return out;
}

/**
 * A counting semaphore: at most `permits` holders at once; waiters are served in arrival
 * order. A waiter whose signal aborts leaves the queue without a permit.
 *
 * @example
 * ```ts
 * const requests = new Semaphore(8);
 * const account = await requests.run(() => broker.getAccount());
 * ```
 */
export class Semaphore {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  /**
   * @param permits - the most holders at once (at least 1)
   * @throws RangeError when `permits` is not a positive integer
   */
  constructor(readonly permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new RangeError("permits must be a positive integer");
    this.free = permits;
  }

  /** The holders now. */
  get held(): number {
    return this.permits - this.free;
  }

  /**
   * Runs `f` while holding a permit (waiting for one first), and releases it when `f` settles.
   *
   * @param f - the work
   * @param signal - aborts the wait for a permit (not `f` itself)
   * @returns what `f` returns
   * @throws the abort reason when the signal aborts before a permit is free; whatever `f` throws
   * @example
   * ```ts
   * const orders = await semaphore.run(() => broker.listOpenOrders({ signal }), signal);
   * ```
   */
  async run<T>(f: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await f();
    } finally {
      release();
    }
  }

  /**
   * Waits for a permit and takes it.
   *
   * @param signal - aborts the wait (no permit is taken)
   * @returns the release of the permit (calling it again does nothing)
   * @throws the abort reason when the signal aborts before a permit is free
   * @example
   * ```ts
   * const release = await semaphore.acquire(signal);
   * try { await submit(); } finally { release(); }
   * ```
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    await this.take(signal);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.release();
    };
  }

  private take(signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        if (signal !== undefined) reject(abortReason(signal));
      };
      // The releaser hands its permit over directly: `free` stays as it is.
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiters.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.free++;
  }
}
