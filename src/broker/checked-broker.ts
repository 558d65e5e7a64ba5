import { BrokerError, isBrokerError } from "../core/errors.js";
import type {
  BrokerCallArgs,
  BrokerCallReplies,
  BrokerCapabilities,
  BrokerMethod,
  BrokerPort,
  OrderUpdate,
  OrderUpdateListener,
  Subscription,
} from "./broker-port.js";
import {
  BROKER_METHOD_TABLE,
  BROKER_METHODS,
  type BrokerMethodSpec,
  parseOrderUpdate,
  zBrokerPort,
} from "./schemas.js";

const CHECKED = Symbol.for("ordersafe.checked-broker");

/**
 * The property every wrapper {@link wrapBrokerPort} builds (so every `checkBroker` port)
 * carries: the port it wraps, non-enumerable. Following it from wrapper to wrapped finds the
 * innermost port, the one object that stands for the account however many times it was
 * wrapped. A wrapper of your own can set it the same way.
 *
 * @example
 * ```ts
 * const checked = checkBroker(port);
 * Reflect.get(checked, WRAPPED_PORT) === port; // true
 * ```
 */
export const WRAPPED_PORT: unique symbol = Symbol.for("ordersafe.port.wrapped");

/**
 * What a wrapper does around one call of the port it wraps: `call` runs the port's method
 * (looked up when the call is made) with the caller's arguments, which `args` holds (to
 * read, not to change).
 */
export type BrokerCallWrapper = <M extends BrokerMethod>(
  method: M,
  call: () => Promise<BrokerCallReplies[M]>,
  args: Readonly<BrokerCallArgs[M]>,
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
 * it (when it is built). `id` and `capabilities` are read from `port` each time; a
 * capability that announces an optional member is claimed only when `port` declares it and
 * has the member. Arguments a row checks (a `listOrders` query) are checked before
 * `wrapping.call` runs: a bad one rejects with `ValidationError` and the port is not called.
 * The wrapper carries {@link WRAPPED_PORT} = `port`.
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
  const present = new Set<keyof BrokerCapabilities>();
  for (const method of BROKER_METHODS) {
    const capability = BROKER_METHOD_TABLE[method].capability;
    if (capability !== undefined) {
      if (calls[method] === undefined) continue;
      present.add(capability);
    }
    members[method] = forward(calls, method, wrapping.call);
  }
  const claim = claimCapabilities(present);
  const wrapped = Object.assign(
    {
      get id() {
        return port.id;
      },
      get capabilities() {
        return claim(port.capabilities);
      },
    },
    members,
    {
      subscribeOrderUpdates:
        wrapping.subscribe ?? ((l: OrderUpdateListener) => port.subscribeOrderUpdates(l)),
    },
  );
  Object.defineProperty(wrapped, WRAPPED_PORT, { value: port, enumerable: false });
  // Every required member was just set; the shape check lets the compiler see it.
  return zBrokerPort.parse(wrapped);
}

/**
 * What a wrapper claims the port can do: the port's own capabilities, with every capability
 * of an optional member the wrapper does not have (or the port does not declare `true`)
 * made `false`. The port's object is returned as is when it needs no correction.
 */
function claimCapabilities(
  present: ReadonlySet<keyof BrokerCapabilities>,
): (stated: BrokerCapabilities) => BrokerCapabilities {
  return (stated) => {
    let claimed = stated;
    for (const method of BROKER_METHODS) {
      const capability = BROKER_METHOD_TABLE[method].capability;
      if (capability === undefined) continue;
      const value: unknown = stated[capability];
      const holds = value === true && present.has(capability);
      if (holds || value === undefined || value === false) continue;
      claimed = { ...claimed, [capability]: false };
    }
    return claimed === stated ? stated : Object.freeze(claimed);
  };
}

function forward<M extends BrokerMethod>(
  calls: PortCalls,
  method: M,
  wrap: BrokerCallWrapper,
): (...args: BrokerCallArgs[M]) => Promise<BrokerCallReplies[M]> {
  const checkArgs = BROKER_METHOD_TABLE[method].args;
  // A required member the port lacks fails when called, as calling the port would.
  if (checkArgs === undefined) return (...args) => wrap(method, () => calls[method]!(...args), args);
  return (...args) => {
    let checked: BrokerCallArgs[M];
    try {
      checked = checkArgs(args);
    } catch (error) {
      return Promise.reject(error);
    }
    return wrap(method, () => calls[method]!(...checked), checked);
  };
}

/**
 * Checks each reply with its row's parse helper; a reply that carries nothing passes as is.
 * A write's reply that fails its schema or does not match the request is `ambiguous`.
 */
const checkReply: BrokerCallWrapper = (method, call, args) => {
  const spec = BROKER_METHOD_TABLE[method];
  const parse = spec.reply;
  if (parse === null) return call();
  if (spec.kind === "write") return checkWriteReply(method, spec, parse, call, args);
  return parseAfter(parse, call);
};

/**
 * A write's reply, checked. The write reached the broker (it answered), so a reply that is
 * malformed (an unknown status, a NaN quantity, an invalid date) or that answers another
 * request (symbol, side, quantity or client order id differing) says nothing certain: the
 * order may exist. Both are `BrokerError("ambiguous")`, which callers settle by looking the
 * client order id up, never `protocol` (read as "certainly not placed") and never the reply
 * taken as it is.
 */
async function checkWriteReply<M extends BrokerMethod>(
  method: M,
  spec: BrokerMethodSpec<M>,
  parse: (raw: unknown) => BrokerCallReplies[M],
  call: () => Promise<BrokerCallReplies[M]>,
  args: Readonly<BrokerCallArgs[M]>,
): Promise<BrokerCallReplies[M]> {
  let reply: BrokerCallReplies[M];
  try {
    // A port that could not read the answer to a write (an adapter's own `protocol`, such
    // as an unknown status it cannot map) says the same: the broker answered, the order
    // may exist.
    const raw = await call();
    reply = parse(raw);
  } catch (error) {
    if (!isBrokerError(error, "protocol")) throw error;
    throw new BrokerError(
      "ambiguous",
      `[ordersafe] the broker's reply to ${method} is malformed, so its effect is unknown: ${error.message}`,
      { details: { method, reply: "malformed", ...error.details }, cause: error },
    );
  }
  const mismatches = spec.mismatches?.(args, reply) ?? [];
  if (mismatches.length > 0) {
    throw new BrokerError(
      "ambiguous",
      `[ordersafe] the broker's reply to ${method} does not match the request (${mismatches.join("; ")}), so the order may exist`,
      { details: { method, reply: "mismatched", mismatches } },
    );
  }
  return reply;
}

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
