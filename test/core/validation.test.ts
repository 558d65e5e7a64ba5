import { isValidationError } from "ordersafe";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseInput, zDecimal, zSymbol } from "../../src/core/validation.js";

// parseInput is internal (every public entry uses it); it is tested here directly.
describe("parseInput", () => {
  const schema = z.strictObject({ weights: z.record(zSymbol, zDecimal), band: zDecimal.optional() });

  function issues(input: unknown) {
    try {
      parseInput(schema, input, "targets");
    } catch (e) {
      if (!isValidationError(e)) throw e;
      return { message: e.message, issues: e.issues };
    }
    return undefined;
  }

  it("returns parsed values", () => {
    const out = parseInput(schema, { weights: { SPY: "0.5" } }, "targets");
    expect(out.weights.SPY?.toString()).toBe("0.5");
  });

  it("names the path and the offending value", () => {
    const r = issues({ weights: { SPY: "abc" } });
    expect(r?.issues[0]?.path).toBe("targets.weights.SPY");
    expect(r?.issues[0]?.value).toBe("abc");
    expect(r?.message).toContain("targets.weights.SPY");
    expect(r?.message).toContain('"abc"');
  });

  it("refuses unknown keys and prototype-polluting keys", () => {
    expect(issues({ weights: {}, leverage: 2 })?.message).toContain("leverage");
    const evil = JSON.parse('{"weights":{"__proto__":{"x":1}}}');
    expect(issues(evil)?.issues[0]?.path).toBe("targets.weights.__proto__");
    expect(issues({ weights: { "bad symbol": 1 } })?.issues[0]?.path).toContain("weights");
  });
});

describe("injected objects", () => {
  it("services refuse a port, clock or logger missing a method, naming it", async () => {
    const { BuyingPowerManager, OrderTracker, SmartRebalancer, systemClock } = await import("ordersafe");
    const { createSimulatedBroker } = await import("ordersafe/testing");
    const broker = createSimulatedBroker();
    const { submitOrder: _omit, ...partial } = broker as unknown as Record<string, unknown>;
    const attempts: (() => unknown)[] = [
      () => new SmartRebalancer({ broker: partial as never }),
      () => new OrderTracker({ broker: partial as never }),
      () => new BuyingPowerManager({ broker, clock: { now: () => 0 } as never }),
      () => new SmartRebalancer({ broker, clock: systemClock, logger: { warn() {} } as never }),
    ];
    for (const make of attempts) {
      let caught: unknown;
      try {
        make();
      } catch (e) {
        caught = e;
      }
      expect(isValidationError(caught)).toBe(true);
    }
    // console satisfies the Logger shape; the simulated broker the BrokerPort one.
    expect(() => new SmartRebalancer({ broker, logger: console })).not.toThrow();
  });
});
