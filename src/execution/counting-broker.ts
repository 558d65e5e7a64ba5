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
  const count = () => {
    n += 1;
  };
  const broker: BrokerPort = {
    get id() {
      return port.id;
    },
    get capabilities() {
      return port.capabilities;
    },
    getAccount: (...a: Parameters<BrokerPort["getAccount"]>) => {
      count();
      return port.getAccount(...a);
    },
    getPositions: (...a: Parameters<BrokerPort["getPositions"]>) => {
      count();
      return port.getPositions(...a);
    },
    getPosition: (...a: Parameters<BrokerPort["getPosition"]>) => {
      count();
      return port.getPosition(...a);
    },
    getAssets: (...a: Parameters<BrokerPort["getAssets"]>) => {
      count();
      return port.getAssets(...a);
    },
    getLatestPrices: (...a: Parameters<BrokerPort["getLatestPrices"]>) => {
      count();
      return port.getLatestPrices(...a);
    },
    getClock: (...a: Parameters<BrokerPort["getClock"]>) => {
      count();
      return port.getClock(...a);
    },
    submitOrder: (...a: Parameters<BrokerPort["submitOrder"]>) => {
      count();
      return port.submitOrder(...a);
    },
    getOrder: (...a: Parameters<BrokerPort["getOrder"]>) => {
      count();
      return port.getOrder(...a);
    },
    getOrderByClientOrderId: (...a: Parameters<BrokerPort["getOrderByClientOrderId"]>) => {
      count();
      return port.getOrderByClientOrderId(...a);
    },
    listOpenOrders: (...a: Parameters<BrokerPort["listOpenOrders"]>) => {
      count();
      return port.listOpenOrders(...a);
    },
    cancelOrder: (...a: Parameters<BrokerPort["cancelOrder"]>) => {
      count();
      return port.cancelOrder(...a);
    },
    closePosition: (...a: Parameters<BrokerPort["closePosition"]>) => {
      count();
      return port.closePosition(...a);
    },
    subscribeOrderUpdates: (listener) => port.subscribeOrderUpdates(listener),
  };
  return { broker, calls: () => n };
}
