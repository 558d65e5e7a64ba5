import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import { COMMON_SCALE_DIGITS, createPlanScales } from "../../src/rebalance/plan-scales.js";
import { type BuySizing, sizeBuy } from "../../src/rebalance/size-buy.js";

const scales = createPlanScales(COMMON_SCALE_DIGITS);
const d = (v: string) => new Decimal(v);
const share = scales.oneQ;
const dollars = (n: bigint) => n * scales.centM * 100n;

function sizing(over: Partial<BuySizing> = {}): BuySizing {
  const price = scales.toP(d("10"));
  const delta = 25n * share + share / 2n; // 25.5 shares
  return {
    symbol: "AAA",
    notional: false,
    price,
    delta,
    deltaNotional: delta * price,
    increment: share,
    minNotional: dollars(1n),
    buyFactor: scales.oneF + scales.toF(d("0.03")),
    scales,
    minCents: { notional: -1n, cents: 1n },
    ...over,
  };
}

describe("sizeBuy", () => {
  it("sizes a quantity buy in whole increments, counting the market-buy buffer", () => {
    const s = sizing();
    const size = sizeBuy(s);
    expect(size.notional).toBe(false);
    expect(size.needUnits).toBe(25n);
    expect(size.minUnits).toBe(1n);
    expect(size.unitValue).toBe(share * s.price);
    expect(size.unitCost).toBe(size.unitValue * s.buyFactor);
    expect(size.costFactor).toBe(s.buyFactor);
    expect(size.increment).toBe(share);
  });

  it("counts a quantity within a millionth of the next increment as that increment", () => {
    const delta = 26n * share - share / 10_000_000n;
    expect(sizeBuy(sizing({ delta })).needUnits).toBe(26n);
  });

  it("sizes a notional buy in cents, at no buffer", () => {
    const size = sizeBuy(sizing({ notional: true }));
    expect(size.needUnits).toBe(25_500n); // $255.00
    expect(size.unitValue).toBe(scales.centM);
    expect(size.unitCost).toBe(scales.centC);
    expect(size.costFactor).toBe(scales.oneF);
  });

  it("sets the minimum from the minimum notional, at least one unit", () => {
    expect(sizeBuy(sizing({ minNotional: dollars(25n) })).minUnits).toBe(3n); // 3 × $10 ≥ $25
    expect(sizeBuy(sizing({ minNotional: 0n })).minUnits).toBe(1n);
    expect(sizeBuy(sizing({ notional: true, minNotional: dollars(5n) })).minUnits).toBe(500n);
  });

  it("keeps the last notional minimum in cents, and works it out again when it changes", () => {
    const minCents = { notional: -1n, cents: 1n };
    expect(sizeBuy(sizing({ notional: true, minNotional: dollars(2n), minCents })).minUnits).toBe(200n);
    expect(minCents).toEqual({ notional: dollars(2n), cents: 200n });
    expect(sizeBuy(sizing({ notional: true, minNotional: dollars(2n), minCents })).minUnits).toBe(200n);
    expect(sizeBuy(sizing({ notional: true, minNotional: dollars(3n), minCents })).minUnits).toBe(300n);
    // A quantity buy neither reads nor changes it.
    expect(sizeBuy(sizing({ minNotional: dollars(2n), minCents })).minUnits).toBe(1n);
    expect(minCents).toEqual({ notional: dollars(3n), cents: 300n });
  });
});
