import type { BrokerPort } from "../broker/broker-port.js";
import { wrapBrokerPort } from "../broker/checked-broker.js";

/** A port that counts the REST calls made through it, and the count. */
export interface CountingBroker {
  /** The port to use: every REST method counts one call, then calls the wrapped port. */
  readonly broker: BrokerPort;
  /** REST calls made through `broker` so far (the update stream is not counted). */
  calls(): number;
}

/**
 * Wraps a port to count the REST calls of one rebalance (its report's `restCalls`). Every
 * member of the contract the port has is forwarded (optional ones included).
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
  const broker = wrapBrokerPort(port, {
    call: (_method, call) => {
      n += 1;
      return call();
    },
  });
  return { broker, calls: () => n };
}
