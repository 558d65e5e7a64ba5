import { calculateRebalanceOrders, Decimal, type RebalanceInputInput } from "ordersafe";
import { describe, expect, it } from "vitest";
import { fractional, position } from "./fixtures.js";

// From the incident log: the bot meant to sell 711 of its 1591.166892 FNGU shares
// ("Reducing sell quantity for FNGU: 1591.166892 -> 711.0") and buy TECL with a cost basis
// of 52596 (600 shares at 87.66), but liquidated FNGU and sized the TECL buy from a stale
// buying power of 3432.62 (rejected, code 40310000). FNGU's price is chosen so the 711
// shares fund the TECL buy: 711 × 69.15 + 3432.62 = 52598.27 ≥ 52596.
const FNGU_HELD = "1591.166892";
const FNGU_PRICE = "69.15";
const TECL_PRICE = "87.66";
const STALE_BUYING_POWER = "3432.62";
const equity = new Decimal(FNGU_HELD).times(FNGU_PRICE).plus(STALE_BUYING_POWER);

const before: RebalanceInputInput = {
  positions: [position("FNGU", FNGU_HELD)],
  targets: { quantities: { FNGU: new Decimal(FNGU_HELD).minus(711), TECL: 600 } },
  prices: { FNGU: FNGU_PRICE, TECL: TECL_PRICE },
  assets: [fractional("FNGU"), fractional("TECL")],
  account: { equity, cash: STALE_BUYING_POWER },
};

describe("the incident of the trading day", () => {
  it("trims FNGU by 711 shares instead of liquidating 1591.166892, and buys TECL from the cash", () => {
    const plan = calculateRebalanceOrders(before);

    expect(plan.sells).toHaveLength(1);
    const fngu = plan.sells[0]!;
    expect(fngu).toMatchObject({ symbol: "FNGU", side: "sell", action: "trim", closePosition: false });
    expect(fngu.qty!.toString()).toBe("711");
    expect(fngu.qty!.lt(FNGU_HELD)).toBe(true);
    expect(plan.summary.projectedQuantities.FNGU!.toString()).toBe("880.166892");

    // TECL's 52596 cannot all fit once the 0.25% buffer is kept: the buy shrinks to the cash
    // instead of being refused for buying power.
    expect(plan.buys).toHaveLength(1);
    const tecl = plan.buys[0]!;
    expect(tecl).toMatchObject({ symbol: "TECL", side: "buy", action: "enter", shrunk: true });
    const available = new Decimal(STALE_BUYING_POWER)
      .plus(new Decimal(711).times(FNGU_PRICE))
      .minus(equity.times("0.0025"));
    expect(tecl.cashRequired.lte(available)).toBe(true);
    expect(available.minus(tecl.cashRequired).lt("0.01")).toBe(true);

    // Zero round trips: no symbol both sold and bought; far less turnover than liquidate-and-rebuy.
    const sold = new Set(plan.sells.map((l) => l.symbol));
    expect(plan.buys.filter((l) => sold.has(l.symbol))).toEqual([]);
    expect(plan.summary.orderCount).toBe(2);
    expect(plan.summary.naiveOrderCount).toBe(3);
    expect(plan.summary.turnover.lt(plan.summary.naiveTurnover.div(2))).toBe(true);
    // The naive plan would have sold all 110,029 of FNGU and bought 60,864 back: over $1,000 of
    // needless cost at a 1% round-trip cost alone.
    const needless = plan.summary.naiveTurnover.minus(plan.summary.turnover);
    expect(needless.times("0.01").gt(1000)).toBe(true);
  });

  it("re-plans the TECL buy on the real cash after the FNGU sale is final", () => {
    const first = calculateRebalanceOrders(before);
    const sold = first.sells[0]!.qty!;
    // The sale filled a little below the reference price; the account is re-read.
    const fillPrice = new Decimal("69.12");
    const realCash = new Decimal(STALE_BUYING_POWER).plus(sold.times(fillPrice));
    const heldAfter = new Decimal(FNGU_HELD).minus(sold);
    const replan = calculateRebalanceOrders({
      ...before,
      positions: [position("FNGU", heldAfter.toString())],
      account: { equity: realCash.plus(heldAfter.times(FNGU_PRICE)), cash: realCash },
      options: { sides: "buys", keep: ["FNGU"] },
    });
    expect(replan.sells).toEqual([]);
    expect(replan.buys.map((l) => l.symbol)).toEqual(["TECL"]);
    const tecl = replan.buys[0]!;
    const budget = realCash.minus(replan.summary.budget.buffer);
    expect(replan.summary.budget.sellProceeds.isZero()).toBe(true);
    expect(tecl.cashRequired.lte(budget)).toBe(true);
    expect(tecl.cashRequired.lt(first.buys[0]!.cashRequired)).toBe(true);
    expect(replan.skipped).toEqual([expect.objectContaining({ symbol: "FNGU", reason: "kept" })]);
  });

  it("would never have needed the stale figure: sells-only first leaves TECL for the re-plan", () => {
    const sellsOnly = calculateRebalanceOrders({ ...before, options: { sides: "sells" } });
    expect(sellsOnly.legs.map((l) => [l.symbol, l.side, l.qty?.toString()])).toEqual([
      ["FNGU", "sell", "711"],
    ]);
    expect(sellsOnly.skipped).toEqual([expect.objectContaining({ symbol: "TECL", reason: "side_excluded" })]);
  });
});
