import { Decimal as UserDecimal } from "decimal.js";
import fc from "fast-check";
import {
  ceilToIncrement,
  Decimal,
  floorToIncrement,
  formatDecimal,
  isMultipleOf,
  isValidationError,
  splitLargestRemainder,
  toDecimal,
} from "ordersafe";
import { describe, expect, it } from "vitest";
import { compareFinite } from "../../src/core/decimal.js";

const increments = fc.constantFrom("1", "0.1", "0.01", "0.000000001", "0.5", "5", "0.0001");
const values = fc
  .tuple(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.integer({ min: 0, max: 12 }))
  .map(([n, scale]) => new Decimal(n.toString()).div(new Decimal(10).pow(scale)));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isValidationError(e) ? e.code : "other";
  }
  return undefined;
}

describe("toDecimal", () => {
  it("accepts decimals, numeric strings and finite numbers", () => {
    expect(toDecimal("12.5").toString()).toBe("12.5");
    expect(toDecimal(" 3 ").toString()).toBe("3");
    expect(toDecimal("1e-3").toString()).toBe("0.001");
    expect(toDecimal(0.1).plus(toDecimal(0.2)).toString()).toBe("0.3");
    expect(toDecimal(new UserDecimal("7.25")).toString()).toBe("7.25");
    expect(toDecimal(new UserDecimal("7.25"))).toBeInstanceOf(Decimal);
  });

  it.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["empty string", ""],
    ["blank string", "   "],
    ["non-numeric string", "12abc"],
    ["NaN string", "NaN"],
    ["Infinity string", "Infinity"],
    ["hex string", "0x10"],
    ["null", null],
    ["undefined", undefined],
    ["object", {}],
    ["NaN decimal", new UserDecimal(Number.NaN)],
  ])("rejects %s with a ValidationError", (_name, value) => {
    expect(code(() => toDecimal(value))).toBe("validation");
  });

  it("names the path in the error", () => {
    try {
      toDecimal("x", "targets.weights.TECL");
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]?.path).toBe("targets.weights.TECL");
    }
  });
});

describe("floorToIncrement / ceilToIncrement", () => {
  it("rounds to the step", () => {
    expect(floorToIncrement("10.7", 1).toString()).toBe("10");
    expect(floorToIncrement("-10.2", 1).toString()).toBe("-11");
    expect(ceilToIncrement("10.2", 1).toString()).toBe("11");
    expect(floorToIncrement("1591.166892", "0.000000001").toString()).toBe("1591.166892");
    expect(floorToIncrement("0.123456789123", "0.000000001").toString()).toBe("0.123456789");
  });

  it("treats a value within a millionth of an increment of the next step as that step", () => {
    expect(floorToIncrement("0.9999999999", 1).toString()).toBe("1");
    expect(floorToIncrement("0.999998", 1).toString()).toBe("0");
    expect(ceilToIncrement("5.0000000001", 1).toString()).toBe("5");
    expect(ceilToIncrement("5.000002", 1).toString()).toBe("6");
  });

  it("rejects a non-positive increment", () => {
    expect(code(() => floorToIncrement(1, 0))).toBe("validation");
    expect(code(() => ceilToIncrement(1, -1))).toBe("validation");
  });

  it("property: floor is a multiple of the step, never more than the snap above the input, less than a step below", () => {
    fc.assert(
      fc.property(values, increments, (v, incS) => {
        const inc = new Decimal(incS);
        const f = floorToIncrement(v, inc);
        expect(isMultipleOf(f, inc)).toBe(true);
        expect(f.lte(v.plus(inc.times("0.000001")))).toBe(true);
        expect(f.gt(v.minus(inc))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("property: an exact multiple stays put (so flooring never moves a value above the input)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), increments, (n, incS) => {
        const v = new Decimal(n.toString()).times(incS);
        expect(floorToIncrement(v, incS).eq(v)).toBe(true);
        expect(ceilToIncrement(v, incS).eq(v)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("property: floor and ceil are idempotent and bracket the input", () => {
    fc.assert(
      fc.property(values, increments, (v, incS) => {
        const f = floorToIncrement(v, incS);
        const c = ceilToIncrement(v, incS);
        expect(floorToIncrement(f, incS).eq(f)).toBe(true);
        expect(ceilToIncrement(c, incS).eq(c)).toBe(true);
        expect(f.lte(c)).toBe(true);
        expect(c.minus(f).lte(incS)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("formatDecimal", () => {
  it("never uses exponent notation and caps decimals toward zero", () => {
    expect(formatDecimal(new Decimal("1e-9"))).toBe("0.000000001");
    expect(formatDecimal(new Decimal("1e21"))).toBe("1000000000000000000000");
    expect(formatDecimal("0.1234567899")).toBe("0.123456789");
    expect(formatDecimal("-0.0000000001")).toBe("0");
    expect(formatDecimal("2.50")).toBe("2.5");
    expect(formatDecimal("2.555", 2)).toBe("2.55");
  });

  it("property: plain digits only, at most the asked decimals, never above the input's magnitude", () => {
    fc.assert(
      fc.property(values, fc.integer({ min: 0, max: 12 }), (v, dp) => {
        const s = formatDecimal(v, dp);
        expect(s).toMatch(/^-?\d+(\.\d+)?$/);
        const decimals = s.split(".")[1]?.length ?? 0;
        expect(decimals).toBeLessThanOrEqual(dp);
        expect(new Decimal(s).abs().lte(v.abs())).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("formatDecimal rounding", () => {
  it("takes every decimal.js rounding mode, and refuses any other as decimal.js does", () => {
    for (let mode = 0; mode <= 8; mode++) {
      expect(formatDecimal("-2.345", 2, mode)).toBe(
        new UserDecimal("-2.345").toDecimalPlaces(2, mode as UserDecimal.Rounding).toFixed(),
      );
    }
    for (const bad of [9, -1, 1.5, Number.NaN]) {
      let theirs: unknown;
      try {
        new UserDecimal(1).toDecimalPlaces(2, bad as UserDecimal.Rounding);
      } catch (e) {
        theirs = e;
      }
      expect(theirs).toBeInstanceOf(Error);
      expect(() => formatDecimal(1, 2, bad)).toThrow((theirs as Error).message);
    }
  });
});

describe("splitLargestRemainder", () => {
  it("splits so the parts sum to the total", () => {
    expect(splitLargestRemainder(100, [1, 1, 1], "0.01").map(String)).toEqual(["33.34", "33.33", "33.33"]);
  });

  it("property: parts sum to the floored total and each is within a step of its exact share", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc
          .array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 })
          .filter((w) => w.some((x) => x > 0)),
        (cents, weights) => {
          const total = new Decimal(cents).div(100);
          const parts = splitLargestRemainder(total, weights, "0.01");
          const sum = parts.reduce((a, b) => a.plus(b), new Decimal(0));
          expect(sum.eq(total)).toBe(true);
          const wsum = weights.reduce((a, b) => a + b, 0);
          parts.forEach((p, i) => {
            const exact = total.times(weights[i] as number).div(wsum);
            expect(p.minus(exact).abs().lt("0.01")).toBe(true);
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it("property: the left-over steps go one each to the largest remainders, ties to the first", () => {
    // The allocation written out step by step, as the reference.
    const reference = (total: Decimal, weights: number[], step: Decimal): string[] => {
      const units = total.div(step).floor();
      const sum = weights.reduce((a, b) => a + b, 0);
      const exact = weights.map((w) => units.times(w).div(sum));
      const parts = exact.map((x) => x.floor());
      let left = units.minus(parts.reduce((a, b) => a.plus(b), new Decimal(0))).toNumber();
      const byRemainder = exact
        .map((x, i) => ({ i, r: x.minus(x.floor()) }))
        .sort((a, b) => b.r.comparedTo(a.r) || a.i - b.i);
      for (const { i } of byRemainder) {
        if (left <= 0) break;
        parts[i] = parts[i]!.plus(1);
        left -= 1;
      }
      return parts.map((p) => p.times(step).toString());
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc
          .array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 12 })
          .filter((w) => w.some((x) => x > 0)),
        fc.constantFrom("1", "0.01", "0.5"),
        (units, weights, step) => {
          const total = new Decimal(units).times(step);
          expect(splitLargestRemainder(total, weights, step).map(String)).toEqual(
            reference(total, weights, new Decimal(step)),
          );
        },
      ),
      { numRuns: 500 },
    );
    expect(splitLargestRemainder(2, [1, 1, 1], "1").map(String)).toEqual(["1", "1", "0"]);
  });

  it("rejects negative weights and an all-zero split", () => {
    expect(code(() => splitLargestRemainder(10, [1, -1], "1"))).toBe("validation");
    expect(code(() => splitLargestRemainder(10, [0, 0], "1"))).toBe("validation");
  });
});

describe("compareFinite", () => {
  // Decimals across signs, zeros (−0 too), word boundaries and exponents far apart.
  const decimal = fc.oneof(
    fc
      .bigInt({ min: -(10n ** 30n), max: 10n ** 30n })
      .chain((m) => fc.integer({ min: -40, max: 40 }).map((exp) => new Decimal(`${m.toString()}e${exp}`))),
    fc.constantFrom("0", "-0", "1", "-1", "9999999", "10000000", "0.0000001", "1e-30", "-1e30"),
  );
  const toDecimalOf = (v: Decimal | string) => (typeof v === "string" ? new Decimal(v) : v);

  it("property: the sign of decimal.js's comparison, without building a decimal", () => {
    fc.assert(
      fc.property(decimal, decimal, fc.boolean(), (x, y, same) => {
        const a = toDecimalOf(x);
        // Equal values half the time: the same value as another instance, or a value one word
        // longer or shorter.
        const b = same ? new Decimal(a.toString()) : toDecimalOf(y);
        expect(compareFinite(a, b)).toBe(a.cmp(b));
        expect(compareFinite(b, a)).toBe(b.cmp(a));
        // A value with one more word than a (the constructor keeps every digit it is given).
        const text = a.toFixed();
        const longer = new Decimal(`${text}${text.includes(".") ? "" : "."}00000001`);
        expect(compareFinite(a, longer)).toBe(a.cmp(longer));
        expect(compareFinite(longer, a)).toBe(longer.cmp(a));
      }),
      { numRuns: 3000 },
    );
  });
});
