import type { BrokerPort } from "../broker/broker-port.js";

/** A port that counts the REST calls made through it, and the count. */
export interface CountingBroker {
  /** The port to use: every REST method counts one call, then calls the wrapped port. */
  readonly broker: BrokerPort;
  /** REST calls made through `broker` so far (the update stream is not counted). */
  calls(): number;
}

/**
 * Wraps a port to count the REST calls of one rebalance (its report's `restCalls`).
 *
 * @remarks
 * Each method is written out, so a member the contract gains later is forwarded on purpose
 * rather than by a loop over names. The wrapper adds no checks of its own: whoever uses it
 * wraps it with `checkBroker` as usual.
 *
 * @param port - the port to count
 * @returns the counting port and its count
 * @example
 * ```ts
 * const counted = countingBroker(port);
 * await counted.broker.getAccount();
 * counted.calls(); // 1
 * ```
 */
export function countingBroker(port: BrokerPort): CountingBroker {
  let n = 0;
  const counted =
    <A extends unknown[], R>(call: (...args: A) => R) =>
    (...args: A): R => {
      n += 1;
      return call(...args);
    };
  const broker: BrokerPort = {
    get id() {
      return port.id;
    },
    get capabilities() {
      return port.capabilities;
    },
    getAccount: counted((...a) => port.getAccount(...a)),
    getPositions: counted((...a) => port.getPositions(...a)),
    getPosition: counted((...a) => port.getPosition(...a)),
    getAssets: counted((...a) => port.getAssets(...a)),
    getLatestPrices: counted((...a) => port.getLatestPrices(...a)),
    getClock: counted((...a) => port.getClock(...a)),
    submitOrder: counted((...a) => port.submitOrder(...a)),
    getOrder: counted((...a) => port.getOrder(...a)),
    getOrderByClientOrderId: counted((...a) => port.getOrderByClientOrderId(...a)),
    listOpenOrders: counted((...a) => port.listOpenOrders(...a)),
    cancelOrder: counted((...a) => port.cancelOrder(...a)),
    closePosition: counted((...a) => port.closePosition(...a)),
    subscribeOrderUpdates: (listener) => port.subscribeOrderUpdates(listener),
  };
  return { broker, calls: () => n };
}
