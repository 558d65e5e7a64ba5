// Hostile values (numbers that overflow, proxies whose traps throw, throwing getters, objects
// that only look like the real thing) fed to the public entries: each ends in a typed error
// (isOrdersafeError) and the broker sees no submit, cancel or close.

import fc from "fast-check";
import {
  BuyingPowerManager,
  calculateRebalanceOrders,
  isOrdersafeError,
  OrderTracker,
  PositionReconciliationEngine,
  PreOrderValidator,
  SmartRebalancer,
  toDecimal,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { baseInput } from "../rebalance/fixtures.js";

/** A proxy whose every trap throws. */
function throwingProxy(): never {
  const boom = () => {
    throw new Error("trap");
  };
  return new Proxy<never>({} as never, {
    get: boom,
    has: boom,
    ownKeys: boom,
    getPrototypeOf: boom,
    getOwnPropertyDescriptor: boom,
  });
}

/** An object whose `key` getter throws. */
function throwingGetter(key: string): Record<string, unknown> {
  return Object.defineProperty({}, key, {
    enumerable: true,
    get() {
      throw new Error(`getter ${key}`);
    },
  });
}

/** A hostile value, made fresh for each run (fast-check must not touch a trapping proxy). */
interface Hostile {
  readonly label: string;
  readonly make: () => unknown;
}

const plain = (v: unknown): Hostile => ({ label: String(JSON.stringify(v) ?? v), make: () => v });

const hostile: fc.Arbitrary<Hostile> = fc.constantFrom<Hostile>(
  plain("1e9999999999999999"),
  plain("-1e9999999999999999"),
  plain("1e9000000000000000"),
  plain(Number.NaN),
  plain(Number.POSITIVE_INFINITY),
  plain({ aborted: false }),
  { label: "AbortSignal look-alike with methods", make: () => ({ aborted: false, addEventListener() {} }) },
  // biome-ignore lint/suspicious/noThenProperty: a thenable where a plain value is expected is the attack
  { label: "thenable", make: () => ({ then() {} }) },
  { label: "proxy whose traps throw", make: throwingProxy },
  ...["AAA", "weights", "signal", "broker", "qty"].map((k) => ({
    label: `throwing getter ${k}`,
    make: () => throwingGetter(k),
  })),
);

function world() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 2_000,
    positions: { AAA: 5 },
    prices: { AAA: 10, BBB: 20 },
  });
  return { clock, broker };
}

type World = ReturnType<typeof world>;

/** Each public entry, fed `bad` where the caller's value goes. */
const ENTRIES: Record<string, (w: World, bad: unknown) => unknown> = {
  "SmartRebalancer options": (w, bad) =>
    new SmartRebalancer({ broker: w.broker, clock: w.clock, seed: bad as never }),
  "SmartRebalancer whole options": (_w, bad) => new SmartRebalancer(bad as never),
  "rebalance targets": (w, bad) =>
    new SmartRebalancer({ broker: w.broker, clock: w.clock }).rebalance(bad as never),
  "rebalance weight": (w, bad) =>
    new SmartRebalancer({ broker: w.broker, clock: w.clock }).rebalance({ weights: { AAA: bad as never } }),
  "rebalance options": (w, bad) =>
    new SmartRebalancer({ broker: w.broker, clock: w.clock }).rebalance(
      { weights: { AAA: 0 } },
      bad as never,
    ),
  "rebalance signal": (w, bad) =>
    new SmartRebalancer({ broker: w.broker, clock: w.clock }).rebalance(
      { weights: { AAA: 0 } },
      { signal: bad as never },
    ),
  "plan targets": (w, bad) => new SmartRebalancer({ broker: w.broker, clock: w.clock }).plan(bad as never),
  calculateRebalanceOrders: (_w, bad) => calculateRebalanceOrders(bad as never),
  "calculateRebalanceOrders weight": (_w, bad) =>
    calculateRebalanceOrders(baseInput({ targets: { weights: { AAA: bad as never } } })),
  "calculateRebalanceOrders price": (_w, bad) =>
    calculateRebalanceOrders(baseInput({ prices: { AAA: bad as never, BBB: "20" } })),
  "OrderTracker options": (_w, bad) => new OrderTracker(bad as never),
  "BuyingPowerManager options": (_w, bad) => new BuyingPowerManager(bad as never),
  "PreOrderValidator options": (_w, bad) => new PreOrderValidator(bad as never),
  "PreOrderValidator intent": (w, bad) => new PreOrderValidator({ broker: w.broker }).validate(bad as never),
  "PreOrderValidator qty": (w, bad) =>
    new PreOrderValidator({ broker: w.broker }).validate({
      symbol: "AAA",
      side: "sell",
      qty: bad as never,
      type: "market",
      timeInForce: "day",
    }),
  "PositionReconciliationEngine options": (_w, bad) => new PositionReconciliationEngine(bad as never),
  createSimulatedBroker: (_w, bad) => createSimulatedBroker(bad as never),
  "createSimulatedBroker cash": (_w, bad) => createSimulatedBroker({ cash: bad as never }),
  toDecimal: (_w, bad) => toDecimal(bad),
};

/** What an entry did: the error it threw or rejected with, or "returned". */
async function outcome(w: World, run: () => unknown): Promise<unknown> {
  try {
    const r = run();
    if (r instanceof Promise) await w.clock.run(r);
    return "returned";
  } catch (e) {
    return e;
  }
}

describe("attacks on the public entries", () => {
  it.each(Object.keys(ENTRIES))("%s: a typed error, no broker write", async (name) => {
    const entry = ENTRIES[name]!;
    await fc.assert(
      fc.asyncProperty(hostile, async ({ make }) => {
        const w = world();
        const result = await outcome(w, () => entry(w, make()));
        expect(isOrdersafeError(result)).toBe(true);
        expect(w.broker.calls.submitOrder + w.broker.calls.cancelOrder + w.broker.calls.closePosition).toBe(
          0,
        );
      }),
      { numRuns: 40, seed: 14 },
    );
  });
});
