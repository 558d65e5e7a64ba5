import { Decimal, REBALANCE_DEFAULTS, type RebalanceInputInput } from "ordersafe";
import { describe, expect, it } from "vitest";
import { parseRebalanceInput } from "../../src/rebalance/parse-rebalance-input.js";
import { createPlanContext } from "../../src/rebalance/plan-context.js";
import { COMMON_SCALE_DIGITS } from "../../src/rebalance/plan-scales.js";
import { ScaleTooSmall } from "../../src/rebalance/scaled.js";
import { compareStrings } from "../../src/rebalance/symbol-record.js";
import { baseInput, fractional, openOrder, position } from "./fixtures.js";

const d = (v: string | number) => new Decimal(v);
const contextOf = (input: RebalanceInputInput, common = true) =>
  createPlanContext(parseRebalanceInput(input), common);

describe("createPlanContext: scales", () => {
  it("uses the common scales unless an open order needs more", () => {
    expect(contextOf(baseInput()).scales).toMatchObject(COMMON_SCALE_DIGITS);
    const limit = openOrder("l", "AAA", "buy", "1", { type: "limit", limitPrice: "9.12345678" });
    expect(contextOf(baseInput({ openOrders: [limit] })).scales.p).toBe(8);
  });

  it("throws ScaleTooSmall on the common scales when the input needs more, and reads them from the input otherwise", () => {
    const fine = baseInput({ prices: { AAA: "10.1234567", BBB: "20" } });
    expect(() => contextOf(fine)).toThrow(ScaleTooSmall);
    const ctx = contextOf(fine, false);
    expect(ctx.scales.p).toBe(7);
    expect(ctx.scales.q).toBe(15);
    expect(ctx.scales.f).toBe(4); // the default cash buffer, 0.0025
  });

  it("holds the options at the plan's scales", () => {
    const { limits, scales } = contextOf(
      baseInput({
        options: {
          noTradeBand: { weight: "0.01", notional: "5" },
          minOrderNotional: "2",
          fullExitTolerance: "0.02",
        },
      }),
    );
    const m = (v: string) => scales.toM(d(v));
    expect(limits.equityM * scales.oneF).toBe(m("2000"));
    expect(limits.bandWeightNotional).toBe(m("20"));
    expect(limits.bandNotional).toBe(m("5"));
    expect(limits.minOrderNotional).toBe(m("2"));
    expect(limits.cashBuffer).toBe(m("5")); // 0.25% of $2,000
    expect(limits.buyFactor).toBe(scales.toF(d("1.03")));
    expect(limits.fullExitTolerance).toBe(scales.toF(d("0.02")));
  });
});

describe("createPlanContext: targets and records", () => {
  it("liquidates untargeted holdings for weight targets and keeps them otherwise, unless told", () => {
    expect(contextOf(baseInput()).untargeted).toBe(REBALANCE_DEFAULTS.untargeted.weights);
    expect(contextOf(baseInput({ targets: { quantities: { AAA: "1" } } })).untargeted).toBe("keep");
    expect(contextOf(baseInput({ targets: { notionals: { AAA: "1" } } })).untargeted).toBe("keep");
    const told = baseInput({ targets: { notionals: { AAA: "1" } }, options: { untargeted: "liquidate" } });
    expect(contextOf(told).untargeted).toBe("liquidate");
  });

  it("holds one record per targeted, held or ordered symbol, sorted", () => {
    const ctx = contextOf(
      baseInput({
        positions: [position("ZZZ", "5"), position("AAA", "100"), position("NUL", "0")],
        openOrders: [openOrder("o", "MMM", "buy", "2")],
        prices: { AAA: "10", BBB: "20", ZZZ: "1" },
        assets: [fractional("AAA"), fractional("BBB")],
      }),
    );
    expect(ctx.records.map((r) => r.symbol)).toEqual(["AAA", "BBB", "MMM", "ZZZ"]);
    expect([...ctx.records.map((r) => r.symbol)].sort(compareStrings)).toEqual(
      ctx.records.map((r) => r.symbol),
    );
  });

  it("records held, open and projected shares, and the target at its scale", () => {
    const ctx = contextOf(
      baseInput({
        positions: [position("AAA", "100", "90")],
        openOrders: [openOrder("s", "AAA", "sell", "10"), openOrder("b", "AAA", "buy", "4")],
      }),
    );
    const [aaa, bbb] = ctx.records;
    const { scales } = ctx;
    expect(aaa!.held).toBe(scales.toQ(d(100)));
    expect(aaa!.price).toBe(scales.toP(d(10)));
    expect(aaa!.projectedWithOpen).toBe(scales.toQ(d(94)));
    expect(aaa!.projected).toBe(aaa!.projectedWithOpen);
    expect(aaa!.projectedQty).toBeUndefined();
    // A weight target is a value: 0.5 of $2,000.
    expect(aaa!.targetScaled).toBe(scales.toM(d(1000)));
    expect(aaa!.legSide).toBeUndefined();
    expect(bbb!.projectedQty).toBe(bbb!.heldQty);
    expect(bbb!.heldQty.isZero()).toBe(true);
  });

  it("records a quantity target in shares", () => {
    const ctx = contextOf(baseInput({ targets: { quantities: { AAA: "12.5" } } }));
    expect(ctx.records[0]!.targetScaled).toBe(ctx.scales.toQ(d("12.5")));
    expect(ctx.targets.kind).toBe("quantities");
  });
});
