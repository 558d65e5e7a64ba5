import type {
  BrokerCallArgs,
  BrokerCallReplies,
  BrokerMethod,
  BrokerPort,
  BrokerRequestInfo,
} from "../broker/broker-port.js";
import { type BrokerCallWrapper, wrapBrokerPort } from "../broker/checked-broker.js";
import { isObject } from "../core/guards.js";

/** A port that counts the requests made through it, and the count. */
export interface CountingBroker {
  /** The port to use: every call is counted, then made on the wrapped port. */
  readonly broker: BrokerPort;
  /**
   * Requests made through `broker` so far (the update stream is not counted): the HTTP
   * requests the port reports through `onRequest` when it declares
   * `capabilities.requestReports`, else one per call.
   */
  calls(): number;
}

/** Where each call takes its {@link CallOptions}: after its positional arguments. */
const CALL_OPTIONS_INDEX: { readonly [M in BrokerMethod]: number } = {
  getAccount: 0,
  getPositions: 0,
  getPosition: 1,
  getAssets: 1,
  getLatestPrices: 1,
  getClock: 0,
  submitOrder: 1,
  getOrder: 1,
  getOrderByClientOrderId: 1,
  listOpenOrders: 0,
  cancelOrder: 1,
  closePosition: 1,
  listOrders: 1,
  getLatestQuotes: 1,
  replaceOrder: 2,
};

/**
 * Wraps a port to count the requests of one rebalance (its report's `restCalls`). Every
 * member of the contract the port has is forwarded (optional ones included).
 *
 * @param port - the port to count
 * @returns the counting port and its count
 * @remarks A port that declares `capabilities.requestReports` is counted by the requests it
 *   reports through `CallOptions.onRequest` (a `getAssets` of 20 symbols through Alpaca is
 *   20 requests; a retry inside the port counts too); any other port counts one per call.
 *   A caller's own `onRequest` is still called.
 * @example
 * ```ts
 * const counted = countingBroker(port);
 * await counted.broker.getAccount();
 * counted.calls(); // 1
 * ```
 */
export function countingBroker(port: BrokerPort): CountingBroker {
  let n = 0;
  const onRequest = (): void => {
    n += 1;
  };
  const count: BrokerCallWrapper = <M extends BrokerMethod>(
    method: M,
    call: () => Promise<BrokerCallReplies[M]>,
    args: Readonly<BrokerCallArgs[M]>,
  ): Promise<BrokerCallReplies[M]> => {
    if (port.capabilities.requestReports !== true) {
      n += 1;
      return call();
    }
    return invoke<BrokerCallReplies[M]>(port, method, withOnRequest(method, args, onRequest));
  };
  return { broker: wrapBrokerPort(port, { call: count }), calls: () => n };
}

/** Calls a port's method with the given arguments (what `call` would do, with other arguments). */
function invoke<T>(port: BrokerPort, method: BrokerMethod, args: readonly unknown[]): Promise<T> {
  const fn: unknown = Reflect.get(port, method);
  if (typeof fn !== "function") return Promise.reject(new TypeError(`the port has no ${method}`));
  const reply: Promise<T> = Reflect.apply(fn, port, args);
  return reply;
}

/** The call's arguments with `onRequest` added to its call options (the caller's kept). */
function withOnRequest<M extends BrokerMethod>(
  method: M,
  args: Readonly<BrokerCallArgs[M]>,
  count: (info: BrokerRequestInfo) => void,
): unknown[] {
  const at = CALL_OPTIONS_INDEX[method];
  const out: unknown[] = [...args];
  while (out.length < at) out.push(undefined);
  const given = out[at];
  const theirs = isObject(given) ? given.onRequest : undefined;
  const onRequest =
    typeof theirs === "function"
      ? (info: BrokerRequestInfo) => {
          count(info);
          theirs(info);
        }
      : count;
  out[at] = isObject(given) ? { ...given, onRequest } : { onRequest };
  return out;
}
