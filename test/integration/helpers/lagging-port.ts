// Another implementation of the BrokerPort contract's lag: a port whose position and account
// reads come from a cache refreshed at most every `refreshMs` (a read replica), while order
// reads stay current. Unlike the simulated broker's lag (each read shows the state of a moment
// ago), a cached read can be stale by up to the refresh interval and then jump. The library
// must settle its reads against either.

import type { AccountSnapshot, BrokerPort, Clock, PositionSnapshot } from "ordersafe";

export interface LaggingPort extends BrokerPort {
  /** Position and account reads answered from the cache (not refreshed) so far. */
  readonly cachedReads: number;
}

/**
 * A read replica of a current port: getAccount, getPositions and getPosition answer from a
 * snapshot of the inner port's state taken at most `refreshMs` before (refreshed when a read
 * finds it older). Every other call is the inner port's. The replica is the broker's: each
 * `port()` is a new port object (a new process, as far as the library can tell) reading the
 * same replica.
 */
export function laggingReplica(inner: BrokerPort, clock: Clock, refreshMs: number): { port(): LaggingPort } {
  let cache: { at: number; account: AccountSnapshot; positions: PositionSnapshot[] } | undefined;
  let cachedReads = 0;
  const snapshot = async () => {
    if (cache === undefined || clock.now() - cache.at >= refreshMs) {
      const at = clock.now();
      const [account, positions] = await Promise.all([inner.getAccount(), inner.getPositions()]);
      cache = { at, account, positions };
    } else {
      cachedReads++;
    }
    return cache;
  };
  const port = (): LaggingPort => {
    const p: LaggingPort = {
      get id() {
        return `${inner.id}-lagging`;
      },
      get capabilities() {
        return inner.capabilities;
      },
      get cachedReads() {
        return cachedReads;
      },
      getAccount: async () => ({ ...(await snapshot()).account, asOf: new Date(clock.now()) }),
      getPositions: async () => (await snapshot()).positions,
      getPosition: async (symbol) => (await snapshot()).positions.find((p) => p.symbol === symbol) ?? null,
      getAssets: (symbols, opts) => inner.getAssets(symbols, opts),
      getLatestPrices: (symbols, opts) => inner.getLatestPrices(symbols, opts),
      getClock: (opts) => inner.getClock(opts),
      submitOrder: (request, opts) => inner.submitOrder(request, opts),
      getOrder: (id, opts) => inner.getOrder(id, opts),
      getOrderByClientOrderId: (id, opts) => inner.getOrderByClientOrderId(id, opts),
      listOpenOrders: (opts) => inner.listOpenOrders(opts),
      cancelOrder: (id, opts) => inner.cancelOrder(id, opts),
      closePosition: (symbol, opts) => inner.closePosition(symbol, opts),
      subscribeOrderUpdates: (listener) => inner.subscribeOrderUpdates(listener),
    };
    const list = inner.listOrders;
    if (list !== undefined) p.listOrders = (query, opts) => list.call(inner, query, opts);
    return p;
  };
  return { port };
}
