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
