import fc from "fast-check";
import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import {
  COMMON_SCALE_DIGITS,
  createPlanScales,
  MINIMAL_SCALE_DIGITS,
  ScaleWidener,
} from "../../src/rebalance/plan-scales.js";
import { ScaleTooSmall } from "../../src/rebalance/scaled.js";

const d = (v: string) => new Decimal(v);

describe("createPlanScales", () => {
  const s = createPlanScales({ q: 15, p: 6, f: 10 });

  it("derives M = Q + P and C = M + F, and their constants", () => {
    expect([s.q, s.p, s.f, s.m, s.c]).toEqual([15, 6, 10, 21, 31]);
    expect(s.oneQ).toBe(10n ** 15n);
    expect(s.nanoQ).toBe(10n ** 6n);
    expect(s.oneF).toBe(10n ** 10n);
    expect(s.centM).toBe(10n ** 19n);
    expect(s.centC).toBe(10n ** 29n);
    expect(s.mToC).toBe(10n ** 10n);
    expect(s.fracMoneyToM).toBe(10n ** 5n);
    expect(s.targetUnit).toBe(1n);
    expect(createPlanScales({ q: 18, p: 2, f: 0 }).targetUnit).toBe(1000n);
  });

  it("makes the scales of given digits once, frozen, and the same for equal digits only", () => {
    expect(createPlanScales({ q: 15, p: 6, f: 10 })).toBe(s);
    expect(Object.isFrozen(s)).toBe(true);
    const other = createPlanScales({ q: 15, p: 6, f: 11 });
    expect(other).not.toBe(s);
    expect([other.f, other.c]).toEqual([11, 32]);
    // Many digits in a row: every scale still matches its digits (the cache is bounded).
    for (let q = 15; q < 25; q++) {
      for (let p = 0; p < 10; p++) {
        const made = createPlanScales({ q, p, f: 3 });
        expect([made.q, made.p, made.f, made.m, made.c]).toEqual([q, p, 3, q + p, q + p + 3]);
      }
    }
    expect(createPlanScales({ q: 15, p: 6, f: 10 }).c).toBe(31);
  });

  it("converts exactly, and refuses a value with more decimals than its scale", () => {
    expect(s.toQ(d("1.5"))).toBe(15n * 10n ** 14n);
    expect(s.toP(d("-0.01"))).toBe(-10_000n);
    expect(s.toF(d("0.0025"))).toBe(25_000_000n);
    expect(s.toM(d("2.25"))).toBe(225n * 10n ** 19n);
    expect(() => s.toP(d("0.0000001"))).toThrow(ScaleTooSmall);
    expect(s.fromM(s.toM(d("2.25"))).toString()).toBe("2.25");
    expect(s.fromC(s.toM(d("2.25")) * s.mToC).toString()).toBe("2.25");
  });

  it("property: a share quantity survives the round trip through scale Q", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (m) => {
        const x = s.fromQ(m);
        expect(s.toQ(x)).toBe(m);
        expect(x.eq(new Decimal(m.toString()).div(new Decimal(10).pow(15)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("orderIncrement: whole shares without fractional trading, 1e-9 at the finest, 9 decimals at most", () => {
    const inc = (v: string, fractional: boolean) => s.orderIncrement(d(v), fractional);
    expect(inc("1", false)).toBe(s.oneQ);
    expect(inc("0.5", false)).toBe(s.oneQ);
    expect(inc("0.0000000001", false)).toBe(s.oneQ);
    expect(inc("5", false)).toBe(5n * s.oneQ);
    expect(inc("0.0001", true)).toBe(s.oneQ / 10_000n);
    expect(inc("0.000000001", true)).toBe(s.nanoQ);
    expect(inc("0.0000000001", true)).toBe(s.nanoQ);
    // Beyond 9 decimals, rounded up to the next 1e-9.
    expect(inc("0.0000000015", true)).toBe(2n * s.nanoQ);
    expect(inc("0.00000000000000001", true)).toBe(s.nanoQ);
  });
});

describe("ScaleWidener", () => {
  it("starts from the digits given and grows each scale to fit what it is shown", () => {
    const w = new ScaleWidener(MINIMAL_SCALE_DIGITS);
    expect(w.digits()).toEqual(MINIMAL_SCALE_DIGITS);
    w.price(d("1.2345"));
    w.price(undefined);
    w.shares(d("0.0000000000000001"));
    w.fraction(d("0.001"));
    expect(w.digits()).toEqual({ q: 16, p: 4, f: 3 });
    w.price(d("1.5"));
    expect(w.digits().p).toBe(4);
  });

  it("keeps the share scale at least the fraction scale", () => {
    const w = new ScaleWidener(COMMON_SCALE_DIGITS);
    w.fraction(d("0.00000000000000000001"));
    expect(w.digits()).toEqual({ q: 20, p: 6, f: 20 });
  });

  it("widens for an increment only where orders use its digits", () => {
    const w = new ScaleWidener(MINIMAL_SCALE_DIGITS);
    // At most one share and past 9 decimals: orders round it to 9 decimals or a whole share.
    w.increment(d("0.00000000000000000001"));
    expect(w.digits().q).toBe(15);
    w.increment(d("1.00000000000000001"));
    expect(w.digits().q).toBe(17);
  });
});
