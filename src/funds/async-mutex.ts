/**
 * A first-come, first-served async lock: `run(fn)` starts `fn` only after every earlier
 * `run` has settled. Private to funds/: it serializes reservations.
 */
export class AsyncMutex {
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Runs `fn` alone.
   *
   * @param fn - the critical section
   * @returns what `fn` returns; a rejection of `fn` is passed on and does not block later runs
   */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
