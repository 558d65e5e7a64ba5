import type { BrokerPort, OrderRequest } from "../broker/broker-port.js";
import { wrapBrokerPort } from "../broker/checked-broker.js";
import { type Coordination, leaseLostError } from "../coordination/coordination.js";
import type { Clock } from "../core/clock.js";
import { BrokerError, isOrdersafeError, type OrdersafeError } from "../core/errors.js";

/** What {@link coordinatedPort} checks, for one run. */
export interface CoordinatedSettings {
  readonly coordination: Coordination;
  /** The lease token the run holds. */
  readonly token: string;
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  /** The reservation a buy about to be sent is bound to (its key), if any. */
  readonly holdFor: (request: OrderRequest) => string | undefined;
  /** Called once when a write finds the lease gone. */
  readonly onLeaseLost: (error: OrdersafeError) => void;
}

const WRITES = new Set(["submitOrder", "cancelOrder", "closePosition", "replaceOrder"]);

/**
 * Wraps a run's port for several processes on one account: every call first takes its share
 * of the API key's budget (shared by every process), and every write first checks that the
 * run's lease still holds; a buy's reservation is bound to its client order id right before it
 * is sent (a hold that expired is not bound, and the buy is not sent).
 *
 * @remarks
 * A lost lease makes the write throw `OrdersafeError("lease_lost")` without calling the broker
 * (the run stops before its next write). A reservation that cannot be bound makes the submit
 * throw `BrokerError("unavailable")`: it certainly did not take effect.
 *
 * @param port - the run's port
 * @param settings - the coordination, the lease token, the clock, the signal, the hold lookup
 * @returns the coordinated port
 */
export function coordinatedPort(port: BrokerPort, settings: CoordinatedSettings): BrokerPort {
  const { coordination, token, clock, signal } = settings;
  let lost: OrdersafeError | undefined;
  const budget = async () => {
    for (;;) {
      const wait = await coordination.rateLimiter.take();
      if (wait === 0) return;
      await clock.sleep(wait, signal);
    }
  };
  const checkLease = async () => {
    if (lost === undefined) {
      // A lease that cannot be checked (the store unreachable) is not held: nothing is written.
      const held = await coordination.lease.holds(token).catch((e: unknown) => e);
      if (held !== true) {
        lost = isOrdersafeError(held) ? held : leaseLostError(coordination.account);
        settings.onLeaseLost(lost);
      }
    }
    if (lost !== undefined) throw lost;
  };
  return wrapBrokerPort(port, {
    call: async (method, call, args) => {
      if (WRITES.has(method)) await checkLease();
      await budget();
      const [first] = args;
      if (method === "submitOrder" && isBuy(first)) {
        const key = settings.holdFor(first);
        if (key !== undefined && !(await coordination.ledger.bind(key, first.clientOrderId))) {
          throw new BrokerError(
            "unavailable",
            `[ordersafe] the reservation of ${first.clientOrderId} expired: not sent`,
          );
        }
      }
      return call();
    },
  });
}

function isBuy(v: unknown): v is OrderRequest {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof Reflect.get(v, "clientOrderId") === "string" &&
    Reflect.get(v, "side") === "buy"
  );
}
