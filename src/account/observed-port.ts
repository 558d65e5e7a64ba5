import type { BrokerPort, OrderSnapshot } from "../broker/broker-port.js";
import type { Clock } from "../core/clock.js";
import { markWrapper } from "./account-registry.js";
import type { ExecutionRecord, RecordedOrigin } from "./execution-record.js";

/**
 * Wraps a port so that every order snapshot passing through it (replies to submits and
 * closes, order reads, open-order and history lists, pushed updates) is learned by the
 * account's execution record, stamped with the local time it arrived.
 *
 * @remarks
 * This is how the record knows every fill the process has seen, whichever call or stream
 * brought it: the rule that a position or account read must show them (see
 * `docs/consistency.md`) then holds for every decision, not for a list of known cases.
 * Orders this process places or reads by id are `own`; orders seen only in lists and the
 * stream are `other` until this process places or reads them.
 *
 * @param port - the port (checked)
 * @param record - the account's execution record
 * @param clock - the clock that stamps what was learned
 * @returns a port with the same behaviour
 * @example
 * ```ts
 * const port = observedPort(checkBroker(broker), accountStateOf(broker).record, clock);
 * ```
 */
export function observedPort(port: BrokerPort, record: ExecutionRecord, clock: Clock): BrokerPort {
  const learn = (order: OrderSnapshot, origin: RecordedOrigin) => {
    record.observe(order, clock.now(), origin);
    return order;
  };
  const learnAll = (orders: OrderSnapshot[], origin: RecordedOrigin) => {
    for (const o of orders) learn(o, origin);
    return orders;
  };
  const learnOne = (order: OrderSnapshot | null) => (order === null ? null : learn(order, "own"));
  const observed: BrokerPort = {
    get id() {
      return port.id;
    },
    get capabilities() {
      return port.capabilities;
    },
    getAccount: (opts) => port.getAccount(opts),
    getPositions: (opts) => port.getPositions(opts),
    getPosition: (symbol, opts) => port.getPosition(symbol, opts),
    getAssets: (symbols, opts) => port.getAssets(symbols, opts),
    getLatestPrices: (symbols, opts) => port.getLatestPrices(symbols, opts),
    getClock: (opts) => port.getClock(opts),
    submitOrder: async (request, opts) => learn(await port.submitOrder(request, opts), "own"),
    getOrder: async (orderId, opts) => learnOne(await port.getOrder(orderId, opts)),
    getOrderByClientOrderId: async (id, opts) => learnOne(await port.getOrderByClientOrderId(id, opts)),
    listOpenOrders: async (opts) => learnAll(await port.listOpenOrders(opts), "other"),
    cancelOrder: (orderId, opts) => port.cancelOrder(orderId, opts),
    closePosition: async (symbol, opts) => learn(await port.closePosition(symbol, opts), "own"),
    subscribeOrderUpdates: (listener) =>
      port.subscribeOrderUpdates({
        onUpdate(update) {
          learn(update.order, "other");
          listener.onUpdate(update);
        },
        onStatus: (status) => listener.onStatus?.(status),
      }),
  };
  markWrapper(observed, port);
  return observed;
}
