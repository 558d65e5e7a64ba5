import fc from "fast-check";
import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import {
  buildsFromParts,
  fromScaled,
  fromScaledSignificant,
  ScaleTooSmall,
  sameDecimal,
  toScaled,
} from "../../src/rebalance/scaled.js";

// The planner builds its output decimals from scaled integers without parsing strings; this
// checks that fast path against decimal.js's own exact division by a power of ten.
describe("fromScaled", () => {
  it("builds decimals from their parts with the decimal.js ordersafe ships with", () => {
    // The fast path's once-only check agrees with parsing: the properties below then test the
    // fast path itself, not the string fallback (which would hide a wrong word split).
    expect(buildsFromParts()).toBe(true);
  });

  it("property: m × 10^−scale exactly, for any sign, size and scale", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
        fc.integer({ min: -6, max: 30 }),
        (m, scale) => {
          const expected = new Decimal(m.toString()).div(new Decimal(10).pow(scale));
          const got = fromScaled(m, scale);
          expect(got.eq(expected)).toBe(true);
          expect(got.toFixed()).toBe(expected.toFixed());
          // Arithmetic on the result behaves like on any decimal, at ordersafe's precision.
          expect(got.plus(1).minus(1).eq(expected.plus(1).minus(1))).toBe(true);
          expect(got.div(7).toString()).toBe(expected.div(7).toString());
          expect(got.toSignificantDigits(3).toString()).toBe(expected.toSignificantDigits(3).toString());
          // Made as the constructor makes a decimal: the same own properties in the same order.
          expect(got).toBeInstanceOf(Decimal);
          expect(Object.getOwnPropertyNames(got)).toEqual(Object.getOwnPropertyNames(expected));
          expect(got.constructor).toBe(expected.constructor);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("property: up to 2^53, the same sign, exponent and digit words as parsing", () => {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: -max, max }), fc.bigInt({ min: -99_999_999n, max: 99_999_999n })),
        fc.integer({ min: -8, max: 30 }),
        (m, scale) => {
          const expected = new Decimal(`${m.toString()}e${-scale}`);
          const got = fromScaled(m, scale);
          expect(got.toFixed()).toBe(expected.toFixed());
          expect([got.s, got.e, got.d]).toEqual([expected.s, expected.e, expected.d]);
        },
      ),
      { numRuns: 3000 },
    );
    expect(fromScaled(BigInt(Number.MAX_SAFE_INTEGER), 3).toFixed()).toBe("9007199254740.991");
  });

  it("property: trailing zeros (money at the planner's scales) give the parsed digit words", () => {
    // Digits are read only up to the word of the last nonzero one: a value ending in zeros,
    // short or long, inside or across words, must still give decimal.js's normal form.
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: -8, max: 40 }),
        (base, zeros, scale) => {
          const m = base * 10n ** BigInt(zeros);
          const expected = new Decimal(`${m.toString()}e${-scale}`);
          const got = fromScaled(m, scale);
          expect(got.toFixed()).toBe(expected.toFixed());
          expect([got.s, got.e, got.d]).toEqual([expected.s, expected.e, expected.d]);
        },
      ),
      { numRuns: 3000 },
    );
    for (const [m, scale] of [
      [10_000_000n, 0],
      [10_000_000n, 7],
      [1_000_000_000_000_000_000_000n, 21],
      [12_345_670_000_000_000_000_000_000n, 21],
      [5n, 12],
      [-70_000_000_000_000n, 15],
      // One to nine words: every length an array of exactly that many words is made for.
      ...Array.from(
        { length: 9 },
        (_, k) => [10n ** BigInt(7 * k) + 1234567n * 10n ** BigInt(3 * k), k] as const,
      ),
      [10n ** 62n + 1n, 0],
    ] as const) {
      const expected = new Decimal(`${m.toString()}e${-scale}`);
      expect([fromScaled(m, scale).e, fromScaled(m, scale).d]).toEqual([expected.e, expected.d]);
    }
  });

  it("handles zero and word boundaries", () => {
    expect(fromScaled(0n, 9).toString()).toBe("0");
    expect(fromScaled(10_000_000n, 7).toString()).toBe("1");
    expect(fromScaled(1_591_166_892n, 6).toFixed()).toBe("1591.166892");
    expect(fromScaled(-1n, 15).toFixed()).toBe("-0.000000000000001");
  });
});

describe("sameDecimal", () => {
  const value = fc.oneof(
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((m) => m.toString()),
    fc.constantFrom("0", "-0", "1", "1.0", "1e-9", "0.000000001", "10000000", "1e7", "-1"),
  );
  const scaled = fc
    .tuple(value, fc.integer({ min: -10, max: 20 }))
    .map(([m, e]) => new Decimal(m).times(new Decimal(10).pow(-e)));

  it("property: equal in value exactly when decimal.js says so", () => {
    fc.assert(
      fc.property(scaled, scaled, (a, b) => {
        expect(sameDecimal(a, b)).toBe(a.eq(b));
        expect(sameDecimal(a, new Decimal(a.toString()))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("fromScaledSignificant", () => {
  // Digit strings rich in nines, so that rounding carries through several digits and past the first.
  const nines = fc
    .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 60 }))
    .map(([n, d, tail]) => BigInt(`${"9".repeat(n)}${d}${"5".repeat(tail % 3)}${"0".repeat(tail)}`));
  const magnitude = fc.oneof(
    fc.bigInt({ min: -(10n ** 50n), max: 10n ** 50n }),
    nines,
    nines.map((m) => -m),
  );

  it("property: m × 10^−scale rounded half up to n significant digits, as decimal.js rounds", () => {
    fc.assert(
      fc.property(
        magnitude,
        fc.integer({ min: -6, max: 45 }),
        fc.integer({ min: 1, max: 40 }),
        (m, scale, n) => {
          // Parsed, not divided: a division rounds to 40 digits first, and rounding that again
          // to n digits can differ from rounding the exact value once.
          const exact = new Decimal(`${m.toString()}e${-scale}`);
          const expected = exact.toSignificantDigits(n, Decimal.ROUND_HALF_UP);
          const got = fromScaledSignificant(m, scale, n);
          expect(got.toFixed()).toBe(expected.toFixed());
          expect([got.s, got.e, got.d]).toEqual([expected.s, expected.e, expected.d]);
        },
      ),
      { numRuns: 3000 },
    );
    expect(fromScaledSignificant(9995n, 0, 3).toFixed()).toBe("10000");
    expect(fromScaledSignificant(-99_949n, 2, 3).toFixed()).toBe("-999");
    // The 40th digit is a 4: rounded down once, whatever follows it.
    const m = 98_636_196_815_464_876_247_279_241_294_453_068_517_045_000_000_000n;
    expect(fromScaledSignificant(m, 0, 39).toFixed()).toBe(
      `${"986361968154648762472792412944530685170"}${"0".repeat(11)}`,
    );
  });
});

describe("toScaled", () => {
  it("property: a decimal with k places at a scale s ≥ k is its digits × 10^(s − k), exactly", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
          fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n }),
          fc.bigInt({ min: -99_999n, max: 99_999n }),
        ),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 30 }),
        (m, k, extra) => {
          const x = new Decimal(`${m.toString()}e-${k}`);
          // The decimal's own places (trailing zeros of m drop out), then a scale at least that.
          const places = x.decimalPlaces();
          const scale = places + extra;
          const expected = BigInt(x.times(new Decimal(10).pow(scale)).toFixed());
          expect(toScaled(x, scale)).toBe(expected);
          if (places > 0) expect(() => toScaled(x, places - 1)).toThrow(ScaleTooSmall);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("is exact on both sides of 2^53 for every power of ten a double can carry", () => {
    // v × 10^shift is made as one double when v × 5^shift < 2^53: the values just inside and
    // just outside that bound, one and two words long.
    for (let shift = 0; shift <= 22; shift++) {
      const edge = BigInt(Number.MAX_SAFE_INTEGER) / 5n ** BigInt(shift);
      for (const v of [edge - 1n, edge, edge + 1n, edge + 2n]) {
        if (v <= 0n || v >= 10n ** 14n) continue;
        for (const sign of [1n, -1n]) {
          const x = new Decimal((sign * v).toString());
          expect(toScaled(x, shift)).toBe(sign * v * 10n ** BigInt(shift));
        }
      }
    }
  });
});
