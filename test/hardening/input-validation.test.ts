// Bad input gets a ValidationError naming the path, before anything is sent: an object that
// only looks like an AbortSignal, a throwing getter, a proxy whose traps throw, two symbols
// differing only by case. Weight -0 is a zero; weights of 1/n that sum to a hair above 1 are
// accepted; a symbol the broker does not know is reported `unknown_symbol`.

import { calculateRebalanceOrders, isValidationError, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { baseInput, fractional } from "../rebalance/fixtures.js";

function world() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 3,
    cash: 2_000,
    positions: { AAA: 100 },
    prices: { AAA: 10, BBB: 20 },
    latency: { restMs: 20, fillMs: 100 },
  });
  return { clock, broker, rebalancer: new SmartRebalancer({ broker, clock, seed: 1 }) };
}

/** The paths of the ValidationError `run` rejects with (fails on anything else). */
async function rejectedPaths(clock: VirtualClock, run: () => Promise<unknown>): Promise<string[]> {
  let error: unknown;
  try {
    await clock.run(run());
  } catch (e) {
    error = e;
  }
  expect(isValidationError(error)).toBe(true);
  return (error as { issues: { path: string }[] }).issues.map((i) => i.path);
}

const writes = (broker: ReturnType<typeof world>["broker"]) =>
  broker.calls.submitOrder + broker.calls.cancelOrder + broker.calls.closePosition;

describe("input validation", () => {
  it("an AbortSignal look-alike ({ aborted: false }) is refused with its path, nothing sent", async () => {
    const { clock, broker, rebalancer } = world();
    const signal = { aborted: false } as unknown as AbortSignal;
    expect(
      await rejectedPaths(clock, () => rebalancer.rebalance({ weights: { BBB: 0.5 } }, { signal })),
    ).toContain("options.signal");
    expect(
      await rejectedPaths(clock, () => rebalancer.plan({ weights: { BBB: 0.5 } }, { signal })),
    ).toContain("options.signal");
    expect(writes(broker)).toBe(0);
  });

  it("a throwing getter in the targets is a ValidationError naming it, nothing sent", async () => {
    const { clock, broker, rebalancer } = world();
    const weights = {
      AAA: 0.2,
      get BBB(): number {
        throw new Error("getter exploded");
      },
    };
    expect(await rejectedPaths(clock, () => rebalancer.rebalance({ weights }))).toContain(
      "targets.weights.BBB",
    );
    expect(writes(broker)).toBe(0);
  });

  it("a proxy whose traps throw, as targets or as options, is a ValidationError, nothing sent", async () => {
    const { clock, broker, rebalancer } = world();
    // Typed as anything at all: these reach the library from JavaScript.
    const hostile: never = new Proxy<never>({} as never, {
      get() {
        throw new Error("trap");
      },
      ownKeys() {
        throw new Error("trap");
      },
      getPrototypeOf() {
        throw new Error("trap");
      },
    });
    expect(await rejectedPaths(clock, () => rebalancer.rebalance({ weights: hostile }))).toContain(
      "targets.weights",
    );
    expect(await rejectedPaths(clock, () => rebalancer.rebalance(hostile))).toContain("targets");
    expect(
      await rejectedPaths(clock, () => rebalancer.rebalance({ weights: { AAA: 1 } }, hostile)),
    ).toContain("options");
    expect(() => new SmartRebalancer(hostile)).toThrow(expect.objectContaining({ code: "validation" }));
    expect(() => calculateRebalanceOrders(hostile)).toThrow(expect.objectContaining({ code: "validation" }));
    expect(writes(broker)).toBe(0);
  });

  it("weight -0 is a valid zero weight: the position is sold, like weight 0", () => {
    const zero = calculateRebalanceOrders(baseInput({ targets: { weights: { AAA: 0, BBB: 0.4 } } }));
    const minusZero = calculateRebalanceOrders(baseInput({ targets: { weights: { AAA: -0, BBB: 0.4 } } }));
    expect(minusZero.sells.map((l) => [l.symbol, l.qty?.toFixed()])).toEqual([["AAA", "100"]]);
    expect(minusZero.sells.map((l) => l.qty?.toFixed())).toEqual(zero.sells.map((l) => l.qty?.toFixed()));
    expect(minusZero.buys.map((l) => l.notional?.toFixed())).toEqual(
      zero.buys.map((l) => l.notional?.toFixed()),
    );
  });

  it.each([11, 13, 15, 22])("weights of 1/%i summing to a hair above 1 are accepted", (n) => {
    const symbols = Array.from({ length: n }, (_, i) => `S${i}`);
    const weights = Object.fromEntries(symbols.map((s) => [s, 1 / n]));
    expect(symbols.reduce((a, s) => a + weights[s]!, 0)).not.toBe(1);
    const plan = calculateRebalanceOrders(
      baseInput({
        positions: [],
        targets: { weights },
        prices: Object.fromEntries(symbols.map((s) => [s, "10"])),
        assets: symbols.map(fractional),
        account: { equity: "10000", cash: "10000" },
      }),
    );
    expect(plan.buys.length).toBe(n);
  });

  it("weights summing past 1 by more than 1e-9 are still refused", () => {
    expect(() =>
      calculateRebalanceOrders(baseInput({ targets: { weights: { AAA: 0.5, BBB: "0.500000002" } } })),
    ).toThrow(expect.objectContaining({ code: "validation" }));
  });

  it("two target symbols differing only by case are refused, naming the second", async () => {
    const { clock, broker, rebalancer } = world();
    const paths = await rejectedPaths(clock, () => rebalancer.rebalance({ weights: { BBB: 0.3, bbb: 0.3 } }));
    expect(paths).toContain("targets.weights.bbb");
    expect(writes(broker)).toBe(0);
  });

  it("a target symbol the broker does not know is reported unknown_symbol, and the status says so", async () => {
    const { clock, rebalancer } = world();
    const report = await clock.run(rebalancer.rebalance({ weights: { AAA: 0.5, ZZZZ: 0.3 } }));
    const adjustment = report.adjustments.find((a) => a.symbol === "ZZZZ");
    expect(adjustment?.reason).toBe("unknown_symbol");
    expect(report.status).toBe("completed_adjusted");
  });
});
