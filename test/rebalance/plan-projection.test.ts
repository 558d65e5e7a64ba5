import { Decimal, type RebalanceInputInput } from "ordersafe";
import { describe, expect, it } from "vitest";
import { parseRebalanceInput } from "../../src/rebalance/parse-rebalance-input.js";
import { createPlanContext } from "../../src/rebalance/plan-context.js";
import {
  keptOpenValue,
  naiveAlternative,
  openBuysValue,
  projectHoldings,
} from "../../src/rebalance/plan-projection.js";
import { baseInput, openOrder, position } from "./fixtures.js";

const d = (v: string | number) => new Decimal(v);
const contextOf = (input: RebalanceInputInput) => createPlanContext(parseRebalanceInput(input), false);

// AAA: 100 held, an open sell of 10 and an open buy of 4 at $10; BBB: an open buy of 5 at $20;
// CCC: unpriced, an open buy of 1.
const input = baseInput({
  positions: [position("AAA", "100", "90")],
  openOrders: [
    openOrder("as", "AAA", "sell", "10"),
    openOrder("ab", "AAA", "buy", "4"),
    openOrder("bb", "BBB", "buy", "5"),
    openOrder("cb", "CCC", "buy", "1"),
  ],
});

describe("keptOpenValue and openBuysValue", () => {
  it("counts kept open sells less kept open buys, priced symbols only", () => {
    const ctx = contextOf(input);
    const m = (v: string) => ctx.scales.toM(d(v));
    // AAA (10 − 4) × $10, BBB −5 × $20.
    expect(keptOpenValue(ctx.records)).toBe(m("60") - m("100"));
    expect(openBuysValue(ctx.records)).toBe(m("40") + m("100"));
  });

  it("drops the open orders a leg cancels: a sell's open buys, a buy's open sells", () => {
    const ctx = contextOf(input);
    const m = (v: string) => ctx.scales.toM(d(v));
    const [aaa] = ctx.records;
    aaa!.legSide = "sell";
    expect(keptOpenValue(ctx.records)).toBe(m("100") - m("100"));
    aaa!.legSide = "buy";
    expect(keptOpenValue(ctx.records)).toBe(-m("40") - m("100"));
    // The value of every open buy, whatever the legs.
    expect(openBuysValue(ctx.records)).toBe(m("40") + m("100"));
  });
});

describe("naiveAlternative", () => {
  it("sells every priced holding and buys every non-zero target", () => {
    const ctx = contextOf(input);
    const naive = naiveAlternative(ctx.records, ctx.targets.kind);
    // Sell AAA ($1,000); buy AAA ($1,000) and BBB ($800).
    expect(ctx.scales.fromM(naive.turnover).toString()).toBe("2800");
    expect(naive.orderCount).toBe(3);
  });

  it("prices quantity targets, and skips an unpriced one's value", () => {
    const ctx = contextOf(
      baseInput({
        targets: { quantities: { AAA: "50", BBB: "10", CCC: "3", DDD: "0" } },
        prices: { AAA: "10", BBB: "20" },
      }),
    );
    const naive = naiveAlternative(ctx.records, ctx.targets.kind);
    expect(ctx.scales.fromM(naive.turnover).toString()).toBe(String(1000 + 500 + 200));
    expect(naive.orderCount).toBe(4);
  });
});

describe("projectHoldings", () => {
  it("projects shares for every symbol and weights for the priced ones", () => {
    const ctx = contextOf(input);
    const cash = ctx.scales.toM(d(1000));
    const p = projectHoldings(ctx.records, cash, ctx.scales);
    expect(Object.entries(p.projectedQuantities).map(([s, q]) => [s, q.toString()])).toEqual([
      ["AAA", "94"],
      ["BBB", "5"],
      ["CCC", "1"],
    ]);
    // $1,000 + 94 × $10 + 5 × $20.
    expect(p.projectedEquity.toString()).toBe("2040");
    expect(p.projectedCash.toString()).toBe("1000");
    expect(Object.keys(p.projectedWeights)).toEqual(["AAA", "BBB"]);
    expect(p.projectedWeights.AAA!.toDecimalPlaces(12).toString()).toBe(
      d(940).div(2040).toDecimalPlaces(12).toString(),
    );
  });

  it("gives a zero weight to a priced symbol projected at zero, and zero weights when equity is not positive", () => {
    const ctx = contextOf(baseInput({ positions: [position("AAA", "100")] }));
    for (const r of ctx.records) {
      r.projected = 0n;
      r.projectedQty = undefined;
    }
    const p = projectHoldings(ctx.records, 0n, ctx.scales);
    expect(Object.values(p.projectedWeights).map((w) => w.toString())).toEqual(["0", "0"]);
    expect(p.projectedQuantities.AAA!.toString()).toBe("0");
    expect(p.projectedEquity.toString()).toBe("0");
  });
});
