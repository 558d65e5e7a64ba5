import fc from "fast-check";
import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import { readDriftInputs } from "../../src/reconcile/detect-position-drift.js";

// detectPositionDrift reads plainly valid input by hand and anything else through its schemas:
// on random inputs with random defects, both readings give the same maps and orders, or the
// same error.

type Raw = Record<string, unknown>;

function order(id: string, symbol: string, extra: Raw = {}): Raw {
  return {
    id,
    clientOrderId: `c-${id}`,
    symbol,
    side: "buy",
    type: "market",
    timeInForce: "day",
    qty: new Decimal(5),
    filledQty: new Decimal(1),
    status: "partially_filled",
    updatedAt: new Date(0),
    ...extra,
  };
}

interface Case {
  expected: unknown;
  actual: unknown;
  options: Raw;
}

const defects: Record<string, (c: Case) => void> = {
  lowercase: (c) => Object.assign(c.expected as Raw, { aaa: "1" }),
  forbidden: (c) => Object.assign(c.actual as Raw, { constructor: "1" }),
  proto: (c) => Object.assign(c, { expected: JSON.parse('{"__proto__":{"A":1},"B":"2"}') }),
  hidden: (c) => Object.defineProperty(c.expected as object, "HID", { value: "1", enumerable: false }),
  symbolKey: (c) => Object.assign(c.actual as Raw, { [Symbol("s")]: "1" }),
  badValue: (c) => Object.assign(c.actual as Raw, { BBB: "abc" }),
  nan: (c) => Object.assign(c.expected as Raw, { BBB: Number.NaN }),
  overflow: (c) => Object.assign(c.expected as Raw, { BBB: "1e9999999999999999" }),
  asMap: (c) => Object.assign(c, { actual: new Map(Object.entries(c.actual as Raw)) }),
  subMap: (c) =>
    Object.assign(c, {
      actual: new (class extends Map<string, unknown> {})(Object.entries(c.actual as Raw)),
    }),
  mapBadKey: (c) => Object.assign(c, { expected: new Map<unknown, unknown>([[1, "1"]]) }),
  mapForbidden: (c) => Object.assign(c, { expected: new Map([["prototype", "1"]]) }),
  zeroPrice: (c) => Object.assign(c.options, { prices: { AAA: "0" } }),
  pricesMap: (c) => Object.assign(c.options, { prices: new Map([["AAA", new Decimal(3)]]) }),
  negativeIncrement: (c) => Object.assign(c.options, { increments: { AAA: "-1" } }),
  appliedEmptyKey: (c) => Object.assign(c.options, { applied: { "": "1" } }),
  appliedNegative: (c) => Object.assign(c.options, { applied: { o1: "-1" } }),
  appliedForbidden: (c) => Object.assign(c.options, { applied: JSON.parse('{"__proto__":"1"}') }),
  appliedLowercase: (c) => Object.assign(c.options, { applied: { "order-x": "2" } }),
  tolerance: (c) => Object.assign(c.options, { tolerance: { notional: "5", qty: "0.5" } }),
  badTolerance: (c) => Object.assign(c.options, { tolerance: { qty: "0" } }),
  toleranceExtra: (c) => Object.assign(c.options, { tolerance: { notional: "5", extra: 1 } }),
  unknownOption: (c) => Object.assign(c.options, { extra: true }),
  stringOrder: (c) =>
    Object.assign(c.options, { openOrders: [order("o9", "AAA", { qty: "5", filledQty: "1" })] }),
  nullOrderField: (c) => Object.assign(c.options, { openOrders: [order("o9", "AAA", { limitPrice: null })] }),
  stringDate: (c) =>
    Object.assign(c.options, { openOrders: [order("o9", "AAA", { updatedAt: "2026-01-01T00:00:00Z" })] }),
  overfilled: (c) =>
    Object.assign(c.options, { openOrders: [order("o9", "AAA", { filledQty: new Decimal(6) })] }),
  extraOrderKey: (c) =>
    Object.assign(c.options, { openOrders: [order("o9", "AAA", { note: { constructor: 1 } })] }),
  badStatus: (c) => Object.assign(c.options, { openOrders: [order("o9", "AAA", { status: "done" })] }),
  notional: (c) =>
    Object.assign(c.options, {
      openOrders: [order("o9", "AAA", { qty: undefined, notional: new Decimal(50) })],
    }),
  recent: (c) =>
    Object.assign(c.options, {
      recentOrders: [order("o1", "AAA", { filledQty: new Decimal(5), status: "filled" })],
    }),
  arrayProp: (c) => Object.assign(c.options.openOrders as object, { extra: 1 }),
  nullProto: (c) => Object.assign(c, { expected: Object.assign(Object.create(null), c.expected) }),
};
const names = Object.keys(defects);

function read(c: Case, fast: boolean) {
  try {
    const r = readDriftInputs(c.expected as never, c.actual as never, c.options as never, fast);
    return {
      ok: true,
      exp: [...r.exp],
      act: [...r.act],
      inputs: { ...r.inputs, prices: [...r.inputs.prices] },
    };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

describe("readDriftInputs", () => {
  it("property: the fast path reads what the schemas read, and refuses what they refuse", () => {
    fc.assert(
      fc.property(fc.subarray(names, { maxLength: 3 }), (picked) => {
        const c: Case = {
          expected: { AAA: new Decimal(10), BBB: "4" },
          actual: { AAA: new Decimal(12), CCC: 3 },
          options: {
            prices: { AAA: new Decimal(2), BBB: "3" },
            openOrders: [order("o1", "AAA"), order("o2", "BBB", { side: "sell" })],
            applied: new Map([["o1", new Decimal(1)]]),
          },
        };
        for (const name of picked) defects[name]!(c);
        const fast = read(c, true);
        expect(fast).toStrictEqual(read(c, false));
      }),
      { numRuns: 400 },
    );
  });
});
