import fc from "fast-check";
import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import { cmp, cmpAbs, exactSum } from "../../src/reconcile/drift-compare.js";

// The drift comparisons decide exactly what decimal.js decides, on values of every size and
// sign, zeros and infinities included; exactSum is true only when decimal.js does not round.

const digits = fc.stringMatching(/^[0-9]{1,45}$/);
const decimal = fc.oneof(
  fc
    .tuple(fc.boolean(), digits, fc.integer({ min: -60, max: 60 }))
    .map(([neg, d, e]) => new Decimal(`${neg ? "-" : ""}${d}e${e}`)),
  fc.constantFrom(
    new Decimal(0),
    new Decimal(-0),
    new Decimal(Number.POSITIVE_INFINITY),
    new Decimal(Number.NEGATIVE_INFINITY),
    new Decimal("0.000000001"),
    new Decimal(100),
  ),
);

describe("drift comparisons", () => {
  it("cmp and cmpAbs equal decimal.js", () => {
    fc.assert(
      fc.property(decimal, decimal, (x, y) => {
        expect(cmp(x, y)).toBe(x.comparedTo(y));
        expect(cmpAbs(x, y)).toBe(x.abs().comparedTo(y));
        expect(cmp(x, x)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("exactSum holds only when decimal.js's sum and difference are exact", () => {
    const Exact = Decimal.clone({ precision: 400 });
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        if (!exactSum(a, b)) return;
        const ea = new Exact(a.toFixed());
        const eb = new Exact(b.toFixed());
        expect(a.plus(b).toFixed()).toBe(ea.plus(eb).toFixed());
        expect(a.minus(b).toFixed()).toBe(ea.minus(eb).toFixed());
      }),
      { numRuns: 2000 },
    );
    expect(exactSum(new Decimal(5), new Decimal("0.000000001"))).toBe(true);
    expect(exactSum(new Decimal("1e35"), new Decimal("0.000000001"))).toBe(false);
  });
});
