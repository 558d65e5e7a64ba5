import fc from "fast-check";
import {
  calculateRebalanceOrders,
  Decimal,
  LEG_ACTIONS,
  LEG_REASONS,
  REBALANCE_DEFAULTS,
  RebalanceCapabilitiesSchema,
  RebalanceInputSchema,
  RebalanceOptionsSchema,
  SKIP_REASONS,
} from "ordersafe";
import { describe, expect, it } from "vitest";
import { fastParse, parseRebalanceInput } from "../../src/rebalance/parse-rebalance-input.js";
import { baseInput, fractional, openOrder, position, wholeShares } from "./fixtures.js";

describe("REBALANCE_DEFAULTS", () => {
  it("is what the schemas fill in", () => {
    const { untargeted, capabilities, ...options } = REBALANCE_DEFAULTS;
    expect(RebalanceOptionsSchema.parse({})).toStrictEqual(options);
    expect(RebalanceCapabilitiesSchema.parse({})).toStrictEqual(capabilities);
    expect(RebalanceInputSchema.parse(baseInput()).capabilities).toStrictEqual(capabilities);
    // untargeted depends on the targets: left unset by the schema, settled by the planner.
    expect(RebalanceOptionsSchema.parse({}).untargeted).toBeUndefined();
    expect(untargeted).toEqual({ weights: "liquidate", quantities: "keep", notionals: "keep" });
  });

  it("hands each parse its own keep list", () => {
    const a = RebalanceOptionsSchema.parse({});
    a.keep.push("AAA");
    expect(RebalanceOptionsSchema.parse({}).keep).toEqual([]);
    expect(REBALANCE_DEFAULTS.keep).toEqual([]);
  });
});

describe("plan vocabularies", () => {
  it("name every action, leg reason and skip reason a plan gives", () => {
    const plan = calculateRebalanceOrders(
      baseInput({
        positions: [position("AAA", "100"), position("SHORT", "-1"), position("DUST", "0.4")],
        targets: { weights: { AAA: 0.3, BBB: 0.2, CCC: 0.1, NOPE: 0.1, TINY: 0.0000001 } },
        prices: { AAA: "10", BBB: "20", SHORT: "5", DUST: "1", TINY: "3", NOPE: "2" },
        assets: [fractional("AAA"), fractional("BBB"), wholeShares("DUST"), fractional("TINY")],
        options: { keep: ["CCC"] },
        capabilities: { closePosition: false },
      }),
    );
    for (const leg of plan.legs) {
      expect(LEG_ACTIONS).toContain(leg.action);
      expect(LEG_REASONS).toContain(leg.reason);
    }
    const reasons = plan.skipped.map((s) => s.reason);
    for (const r of reasons) expect(SKIP_REASONS).toContain(r);
    expect(new Set(reasons).size).toBeGreaterThanOrEqual(4);
  });
});

// The fast path of parseRebalanceInput must give what the schema gives: the same values,
// the same keys present (undefined included).
describe("parseRebalanceInput", () => {
  const optionalDecimal = fc.constantFrom(undefined, null, "1.5", "0", "17");
  const orderArb = fc.record({
    side: fc.constantFrom("buy", "sell"),
    size: fc.constantFrom("qty", "notional"),
    filled: fc.constantFrom("0", "1"),
    filledAvgPrice: optionalDecimal,
    limitPrice: fc.constantFrom(undefined, null, "9.5"),
    createdAt: fc.constantFrom(undefined, null, new Date(1)),
    rejectReason: fc.constantFrom(undefined, null, "no"),
    status: fc.constantFrom("new", "partially_filled", "filled", "pending_cancel"),
    omit: fc.boolean(),
  });
  const arb = fc.record({
    orders: fc.array(orderArb, { maxLength: 4 }),
    marketValue: optionalDecimal,
    currentPrice: fc.constantFrom(undefined, null, "3"),
    minNotional: fc.constantFrom(undefined, null, "1"),
  });

  it("property: the fast path equals the schema on valid input", () => {
    fc.assert(
      fc.property(arb, (a) => {
        const openOrders = a.orders.map((o, i) => {
          const base = openOrder(`o${i}`, "AAA", o.side, o.size === "qty" ? "5" : "0", {
            filledQty: o.filled,
            status: o.status,
          });
          const { qty, ...rest } = base;
          const sized: Record<string, unknown> = o.size === "qty" ? { ...base } : { ...rest, notional: "50" };
          // Keys given as undefined or null, or left out.
          for (const key of ["filledAvgPrice", "limitPrice", "createdAt", "rejectReason"] as const) {
            if (!(o.omit && o[key] === undefined)) sized[key] = o[key];
          }
          return sized;
        });
        const input = {
          ...baseInput(),
          positions: [{ ...position("AAA", "10"), marketValue: a.marketValue, currentPrice: a.currentPrice }],
          openOrders,
          assets: [{ ...fractional("AAA"), minNotional: a.minNotional }, wholeShares("BBB")],
        };
        const fast = fastParse(input);
        expect(fast).toBeDefined();
        expect(fast).toStrictEqual(RebalanceInputSchema.parse(input));
        expect(parseRebalanceInput(input)).toStrictEqual(fast);
      }),
      { numRuns: 300 },
    );
  });

  it("names the offending path of bad input, as the schema does", () => {
    const bad = { ...baseInput(), openOrders: [{ ...openOrder("o", "AAA", "buy", "1"), side: "hold" }] };
    expect(fastParse(bad)).toBeUndefined();
    expect(() => parseRebalanceInput(bad)).toThrowError(/openOrders/);
    const neg = baseInput({ positions: [position("AAA", "10", "11")] });
    expect(() => parseRebalanceInput(neg)).toThrowError(/positions/);
    expect(() => parseRebalanceInput(baseInput({ prices: { AAA: new Decimal(-1) } }))).toThrowError(/prices/);
  });
});
