/**
 * A first-come, first-served async lock: `run(fn)` starts `fn` only after every earlier
 * `run` has settled. It serializes reservations and the runs of one account.
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
