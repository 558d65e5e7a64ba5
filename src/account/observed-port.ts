import type { BrokerMethod, BrokerPort, OrderSnapshot } from "../broker/broker-port.js";
import { wrapBrokerPort } from "../broker/checked-broker.js";
import type { Clock } from "../core/clock.js";
import { isDecimal } from "../core/decimal.js";
import type { ExecutionRecord, RecordedOrigin } from "./execution-record.js";

/**
 * Who placed the orders a call's reply holds, as far as the call tells: the replies to our
 * writes and to reads of one order by its id are ours; lists hold anyone's.
 */
const ORIGIN: Partial<Record<BrokerMethod, RecordedOrigin>> = {
  submitOrder: "own",
  closePosition: "own",
  getOrder: "own",
  getOrderByClientOrderId: "own",
  listOpenOrders: "other",
  listOrders: "other",
  replaceOrder: "own",
};

/**
 * Whether a (checked) reply is an order snapshot: a cheap structural test for replies that
 * already passed the contract's schemas.
 *
 * @param v - a reply
 * @returns true for an order snapshot
 */
export function isOrderSnapshot(v: unknown): v is OrderSnapshot {
  if (typeof v !== "object" || v === null) return false;
  return (
    typeof Reflect.get(v, "id") === "string" &&
    typeof Reflect.get(v, "symbol") === "string" &&
    isDecimal(Reflect.get(v, "filledQty")) &&
    Reflect.get(v, "updatedAt") instanceof Date
  );
}

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
  const learn = (reply: unknown, origin: RecordedOrigin) => {
    const now = clock.now();
    if (Array.isArray(reply)) {
      for (const o of reply) if (isOrderSnapshot(o)) record.observe(o, now, origin);
    } else if (isOrderSnapshot(reply)) {
      record.observe(reply, now, origin);
    }
  };
  const observed = wrapBrokerPort(port, {
    call: async (method, call) => {
      const reply = await call();
      const origin = ORIGIN[method];
      if (origin !== undefined) learn(reply, origin);
      return reply;
    },
    subscribe: (listener) =>
      port.subscribeOrderUpdates({
        onUpdate(update) {
          learn(update.order, "other");
          listener.onUpdate(update);
        },
        onStatus: (status) => listener.onStatus?.(status),
      }),
  });
  return observed;
}
