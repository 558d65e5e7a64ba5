import type {
  BrokerCallArgs,
  BrokerCallReplies,
  BrokerMethod,
  BrokerPort,
  OrderUpdate,
  OrderUpdateListener,
  Subscription,
} from "./broker-port.js";
import { BROKER_METHOD_TABLE, BROKER_METHODS, parseOrderUpdate, zBrokerPort } from "./schemas.js";

const CHECKED = Symbol.for("ordersafe.checked-broker");

/**
 * What a wrapper does around one call of the port it wraps: `call` runs the port's method
 * (looked up when the call is made) with the caller's arguments.
 */
export type BrokerCallWrapper = <M extends BrokerMethod>(
  method: M,
  call: () => Promise<BrokerCallReplies[M]>,
) => Promise<BrokerCallReplies[M]>;

/** How {@link wrapBrokerPort} wraps a port. */
export interface BrokerPortWrapping {
  /** Runs around every call of a {@link BrokerMethod}. */
  call: BrokerCallWrapper;
  /** Replaces `subscribeOrderUpdates`; by default the port's own is called. */
  subscribe?: (listener: OrderUpdateListener) => Subscription;
}

/** The port's calls as optional members, so each is read with its own signature. */
type PortCalls = { [M in BrokerMethod]?: (...args: BrokerCallArgs[M]) => Promise<BrokerCallReplies[M]> };

/**
 * Builds a port that forwards to `port` through `wrapping`, one member per row of
 * `BROKER_METHOD_TABLE`: every required member, and an optional member only when `port` has
 * it. `id` and `capabilities` are read from `port` each time.
 *
 * @param port - the port to wrap
 * @param wrapping - what runs around each call, and optionally the subscription
 * @returns the wrapping port
 * @example
 * ```ts
 * let calls = 0;
 * const counted = wrapBrokerPort(port, {
 *   call: (_method, call) => {
 *     calls += 1;
 *     return call();
 *   },
 * });
 * ```
 */
export function wrapBrokerPort(port: BrokerPort, wrapping: BrokerPortWrapping): BrokerPort {
  const calls: PortCalls = port;
  const members: Partial<Record<BrokerMethod, unknown>> = {};
  for (const method of BROKER_METHODS) {
    const optional = BROKER_METHOD_TABLE[method].capability !== undefined;
    if (!optional || calls[method] !== undefined) members[method] = forward(calls, method, wrapping.call);
  }
  const wrapped = Object.assign(
    {
      get id() {
        return port.id;
      },
      get capabilities() {
        return port.capabilities;
      },
    },
    members,
    {
      subscribeOrderUpdates:
        wrapping.subscribe ?? ((l: OrderUpdateListener) => port.subscribeOrderUpdates(l)),
    },
  );
  // Every required member was just set; the shape check lets the compiler see it.
  return zBrokerPort.parse(wrapped);
}

function forward<M extends BrokerMethod>(
  calls: PortCalls,
  method: M,
  wrap: BrokerCallWrapper,
): (...args: BrokerCallArgs[M]) => Promise<BrokerCallReplies[M]> {
  // A required member the port lacks fails when called, as calling the port would.
  return (...args) => wrap(method, () => calls[method]!(...args));
}

/** Checks each reply with its row's parse helper; a reply that carries nothing passes as is. */
const checkReply: BrokerCallWrapper = (method, call) => {
  const parse = BROKER_METHOD_TABLE[method].reply;
  return parse === null ? call() : parseAfter(parse, call);
};

async function parseAfter<T>(parse: (raw: unknown) => T, call: () => Promise<unknown>): Promise<T> {
  return parse(await call());
}

/**
 * Wraps a port so that every value it returns or pushes is checked by the schemas: a
 * malformed reply becomes `BrokerError("protocol")` naming the field, never a NaN in a
 * ledger. Every ordersafe service wraps the port it is given; wrapping twice is a no-op.
 *
 * @param port - any `BrokerPort`
 * @param onInvalidUpdate - told of each pushed update that failed its schema
 * @returns a port with the same behaviour whose replies are checked
 * @remarks A malformed pushed update is dropped (and reported to `onInvalidUpdate`): the
 *   tracker's REST checks recover the order's true state.
 * @example
 * ```ts
 * const safe = checkBroker(myPort);
 * ```
 */
export function checkBroker(
  port: BrokerPort,
  onInvalidUpdate: (error: unknown) => void = () => {},
): BrokerPort {
  const seen: BrokerPort & { readonly [CHECKED]?: true } = port;
  if (seen[CHECKED] === true) return port;
  const checked = wrapBrokerPort(port, {
    call: checkReply,
    subscribe: (listener) =>
      port.subscribeOrderUpdates({
        onUpdate(raw) {
          let update: OrderUpdate;
          try {
            update = parseOrderUpdate(raw);
          } catch (error) {
            onInvalidUpdate(error);
            return;
          }
          listener.onUpdate(update);
        },
        onStatus: (status) => listener.onStatus?.(status),
      }),
  });
  Object.defineProperty(checked, CHECKED, { value: true });
  return checked;
}
