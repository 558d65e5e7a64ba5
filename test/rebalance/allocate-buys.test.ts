import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocateBuys,
  type BuyDemand,
  byDeficit,
  fillToLevel,
  giveBackUntilFits,
  handOutRest,
  waterLevel,
} from "../../src/rebalance/allocate-buys.js";

// Scales as in the planner, kept small here: money M with 2 decimals (a unit value of 1000n
// is $10), factors F with 2 decimals (100n = 1), cash C = M + F.
const ONE_F = 100n;

function demand(
  symbol: string,
  unitValue: bigint,
  needUnits: bigint,
  minUnits = 1n,
  costFactor = ONE_F,
): BuyDemand {
  return { symbol, unitValue, unitCost: unitValue * costFactor, costFactor, needUnits, minUnits, upGain: 0n };
}

const cost = (ds: readonly BuyDemand[], units: readonly bigint[]) =>
  ds.reduce((s, d, i) => s + units[i]! * d.unitCost, 0n);

const demandArb = fc
  .record({
    unitValue: fc.bigInt({ min: 1n, max: 100_000n }),
    costFactor: fc.constantFrom(100n, 100n, 103n, 101n),
    needUnits: fc.bigInt({ min: 1n, max: 500n }),
    minShare: fc.integer({ min: 0, max: 100 }),
  })
  .map(({ unitValue, costFactor, needUnits, minShare }) => {
    const minUnits = 1n + ((needUnits - 1n) * BigInt(minShare)) / 100n;
    return { unitValue, costFactor, needUnits, minUnits };
  });

const demandsArb = fc
  .array(demandArb, { minLength: 1, maxLength: 8 })
  .map((list) => list.map((d, i) => demand(`S${i}`, d.unitValue, d.needUnits, d.minUnits, d.costFactor)));

describe("allocateBuys", () => {
  it("gives every buy what it needs when the cash covers them all", () => {
    const ds = [demand("AAA", 1000n, 5n), demand("BBB", 500n, 3n)];
    expect(allocateBuys(ds, cost(ds, [5n, 3n]))).toEqual([5n, 3n]);
  });

  it("fills the most underweight first, down to a common shortfall", () => {
    // Shortfalls $60 and $20 with $40 of cash: the level is $20, so AAA gets $40 and BBB none.
    const ds = [demand("AAA", 100n, 60n), demand("BBB", 100n, 20n)];
    expect(allocateBuys(ds, 4000n * ONE_F)).toEqual([40n, 0n]);
    // With $60, the level is $10: AAA gets $50, BBB $10.
    expect(allocateBuys(ds, 6000n * ONE_F)).toEqual([50n, 10n]);
  });

  it("hands out what flooring leaves, largest remaining shortfall first, ties by symbol", () => {
    // Two equal shortfalls of 3 units with the cash for 3: the level leaves 1.5 units each,
    // floored to 1 each; the last unit goes to the first symbol.
    const ds = [demand("BBB", 100n, 3n), demand("AAA", 100n, 3n)];
    expect(allocateBuys(ds, 300n * ONE_F)).toEqual([1n, 2n]);
  });

  it("never gives a buy fewer units than its minimum", () => {
    const ds = [demand("AAA", 100n, 10n, 8n), demand("BBB", 100n, 10n, 8n)];
    const units = allocateBuys(ds, 1000n * ONE_F);
    expect(units.every((u, i) => u === 0n || u >= ds[i]!.minUnits)).toBe(true);
    expect(cost(ds, units)).toBeLessThanOrEqual(1000n * ONE_F);
  });

  it("property: within the cash, within each need, no leg under its minimum, nothing affordable left out", () => {
    fc.assert(
      fc.property(demandsArb, fc.bigInt({ min: 0n, max: 10n ** 10n }), (ds, cash) => {
        const units = allocateBuys(ds, cash);
        const spent = cost(ds, units);
        expect(spent).toBeLessThanOrEqual(cash);
        const left = cash - spent;
        ds.forEach((d, i) => {
          const u = units[i]!;
          expect(u >= 0n && u <= d.needUnits).toBe(true);
          expect(u === 0n || u >= d.minUnits).toBe(true);
          // A buy short of its need could not have taken one more unit (or its minimum).
          if (u < d.needUnits) expect(left).toBeLessThan(d.unitCost * (u === 0n ? d.minUnits : 1n));
        });
      }),
      { numRuns: 500 },
    );
  });
});

describe("allocateBuys steps", () => {
  it("byDeficit sorts by shortfall in dollars, then by symbol, keeping each demand's index", () => {
    const ds = [demand("CCC", 100n, 1n), demand("BBB", 50n, 4n), demand("AAA", 200n, 1n)];
    const items = byDeficit(ds);
    expect(items.map((it) => [it.demand.symbol, it.index, it.deficit])).toEqual([
      ["AAA", 2, 200n],
      ["BBB", 1, 200n],
      ["CCC", 0, 100n],
    ]);
  });

  it("property: waterLevel spends exactly the cash when the cash is short", () => {
    fc.assert(
      fc.property(demandsArb, fc.bigInt({ min: 0n, max: 10n ** 9n }), (ds, cash) => {
        const items = byDeficit(ds);
        const total = items.reduce((s, it) => s + it.demand.costFactor * it.deficit, 0n);
        fc.pre(cash < total);
        const { num, den } = waterLevel(items, cash);
        // Σ factor × max(0, deficit − num / den) = cash, multiplied through by den.
        const spent = items.reduce((s, it) => {
          const over = it.deficit * den - num;
          return s + it.demand.costFactor * (over > 0n ? over : 0n);
        }, 0n);
        expect(spent).toBe(cash * den);
      }),
      { numRuns: 500 },
    );
  });

  it("property: fillToLevel floors each buy at the level and never spends more than the cash", () => {
    fc.assert(
      fc.property(demandsArb, fc.bigInt({ min: 0n, max: 10n ** 9n }), (ds, cash) => {
        const items = byDeficit(ds);
        const left = fillToLevel(items, waterLevel(items, cash), cash);
        expect(left).toBe(cash - items.reduce((s, it) => s + it.units * it.demand.unitCost, 0n));
        expect(left).toBeGreaterThanOrEqual(0n);
        for (const it of items) {
          expect(it.units <= it.demand.needUnits).toBe(true);
          expect(it.units === 0n || it.units >= it.demand.minUnits).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("giveBackUntilFits takes units back from the costliest buy until the cash fits", () => {
    const items = byDeficit([demand("AAA", 100n, 10n, 1n), demand("BBB", 300n, 10n, 5n)]);
    // BBB (5 units, 1500 × 100 cost) is the costliest; one unit less would be under its minimum.
    items.find((it) => it.demand.symbol === "AAA")!.units = 5n;
    items.find((it) => it.demand.symbol === "BBB")!.units = 5n;
    const left = giveBackUntilFits(items, -1n);
    expect(items.map((it) => [it.demand.symbol, it.units])).toEqual([
      ["BBB", 0n],
      ["AAA", 5n],
    ]);
    expect(left).toBe(-1n + 1500n * ONE_F);
    // Nothing to give back: the cash left stays as it is.
    expect(giveBackUntilFits(byDeficit([demand("AAA", 100n, 1n)]), -5n)).toBe(-5n);
  });

  it("handOutRest gives the rest to the largest remaining shortfall first", () => {
    const items = byDeficit([demand("AAA", 100n, 4n), demand("BBB", 100n, 10n, 3n)]);
    // 3 units of cash: BBB (shortfall 10) takes its minimum of 3; AAA gets none.
    const left = handOutRest(items, 300n * ONE_F);
    expect(left).toBe(0n);
    expect(items.map((it) => [it.demand.symbol, it.units])).toEqual([
      ["BBB", 3n],
      ["AAA", 0n],
    ]);
  });
});
