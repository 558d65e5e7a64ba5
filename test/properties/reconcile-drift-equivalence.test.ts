// detectPositionDrift groups the orders by symbol instead of scanning every order for every
// differing symbol. This holds its results equal to the scan it replaced (kept below, as it
// was, as the reference) on random books, broker positions and order lists, including an
// order listed twice (open and recent) and orders on symbols that do not differ.

import fc from "fast-check";
import {
  DEFAULT_DRIFT_NOTIONAL_TOLERANCE,
  DEFAULT_QTY_INCREMENT,
  Decimal,
  type DriftClass,
  type DriftOrder,
  detectPositionDrift,
  driftToJSON,
  formatDecimal,
  isFinalBrokerStatus,
  type OrderSide,
  type OrderSnapshot,
  type PositionDrift,
} from "ordersafe";
import { describe, expect, it } from "vitest";

const at = new Date("2026-01-05T14:30:00Z");
const SYMBOLS = ["A", "B", "C", "D", "E"] as const;
const STATUSES = ["new", "partially_filled", "pending_cancel", "filled", "canceled", "calculated"] as const;

interface ReferenceOptions {
  prices: Map<string, Decimal>;
  increments: Map<string, Decimal>;
  applied: Map<string, Decimal>;
  tolerance: { notional?: Decimal; qty?: Decimal };
  openOrders: OrderSnapshot[];
  recentOrders: OrderSnapshot[];
}

/** The body of detectPositionDrift before the orders were grouped by symbol, over parsed inputs. */
function referenceDrift(
  exp: Map<string, Decimal>,
  act: Map<string, Decimal>,
  opts: ReferenceOptions,
): PositionDrift[] {
  const sign = (side: OrderSide) => (side === "buy" ? 1 : -1);
  const { prices, increments, applied } = opts;
  const notionalTol = opts.tolerance.notional ?? DEFAULT_DRIFT_NOTIONAL_TOLERANCE;

  const orders = new Map<string, OrderSnapshot>();
  for (const o of [...opts.openOrders, ...opts.recentOrders]) {
    const seen = orders.get(o.id);
    if (seen === undefined || o.filledQty.gt(seen.filledQty)) orders.set(o.id, o);
    else if (o.filledQty.eq(seen.filledQty) && isFinalBrokerStatus(o.status)) orders.set(o.id, o);
  }

  const symbols = [...new Set([...exp.keys(), ...act.keys()])].sort();
  const drifts: PositionDrift[] = [];
  for (const symbol of symbols) {
    const e = exp.get(symbol) ?? new Decimal(0);
    const a = act.get(symbol) ?? new Decimal(0);
    const d = a.minus(e);
    if (d.isZero()) continue;
    const inc = opts.tolerance.qty ?? increments.get(symbol) ?? DEFAULT_QTY_INCREMENT;
    const price = prices.get(symbol);
    const notional = price === undefined ? undefined : d.times(price);

    const related: DriftOrder[] = [];
    let finalUnapplied = new Decimal(0);
    let hasFinalUnapplied = false;
    let low = new Decimal(0);
    let high = new Decimal(0);
    let hasOpen = false;
    for (const o of orders.values()) {
      if (o.symbol !== symbol) continue;
      const s = sign(o.side);
      const appliedQty = applied.get(o.id) ?? new Decimal(0);
      const unapplied = o.filledQty.minus(appliedQty).times(s);
      const open = !isFinalBrokerStatus(o.status);
      related.push({
        orderId: o.id,
        clientOrderId: o.clientOrderId,
        side: o.side,
        status: o.status,
        open,
        filledQty: o.filledQty,
        appliedQty,
        unappliedQty: unapplied,
      });
      if (open) {
        hasOpen = true;
        const q = o.qty ?? new Decimal(Number.POSITIVE_INFINITY);
        if (s > 0) {
          low = low.minus(appliedQty);
          high = high.plus(q.minus(appliedQty));
        } else {
          low = low.minus(q.minus(appliedQty));
          high = high.plus(appliedQty);
        }
      } else if (!unapplied.isZero()) {
        hasFinalUnapplied = true;
        finalUnapplied = finalUnapplied.plus(unapplied);
      }
    }
    const within = (x: Decimal) => x.gt(low.minus(inc)) && x.lt(high.plus(inc));
    const withinTolerance = d.abs().lt(inc) || notional?.abs().lte(notionalTol) === true;

    let cls: DriftClass;
    let reason: string;
    if (hasFinalUnapplied && !finalUnapplied.isZero() && within(d.minus(finalUnapplied))) {
      cls = "missed_fill";
      reason = `finished orders filled ${formatDecimal(finalUnapplied)} shares the book did not apply`;
    } else if (hasOpen && within(d)) {
      cls = "in_flight";
      reason = "open orders on the symbol explain the difference";
    } else if (withinTolerance) {
      cls = "dust";
      reason = "the difference is within tolerance";
    } else if (!e.isZero() && a.isZero()) {
      cls = "phantom";
      reason = "the book holds a position the broker does not";
    } else if (e.isZero() && !a.isZero()) {
      cls = "unknown";
      reason = "the broker holds a position the book did not expect (an outside trade)";
    } else {
      cls = "unexplained";
      reason = "no known order explains the difference";
    }
    const drift: PositionDrift = {
      symbol,
      expectedQty: e,
      actualQty: a,
      qtyDiff: d,
      class: cls,
      withinTolerance,
      orders: related,
      reason,
    };
    if (price !== undefined) drift.price = price;
    if (notional !== undefined) drift.notionalDiff = notional;
    drifts.push(drift);
  }
  return drifts;
}

const qtyArb = fc.oneof(
  fc.integer({ min: -60, max: 60 }).map((n) => new Decimal(n)),
  fc.integer({ min: -6_000, max: 6_000 }).map((n) => new Decimal(n).div(100)),
  // Past 40 significant digits, where decimal.js's rounding to 40 digits can matter.
  fc.integer({ min: 0, max: 60 }).map((n) => new Decimal(`${n}.${"0".repeat(44)}1`)),
);
const positionsArb = fc
  .dictionary(fc.constantFrom(...SYMBOLS), qtyArb)
  .map((d) => new Map(Object.entries(d)));

const orderArb = fc
  .record({
    id: fc.integer({ min: 0, max: 9 }),
    symbol: fc.constantFrom(...SYMBOLS),
    side: fc.constantFrom<OrderSide>("buy", "sell"),
    qty: fc.integer({ min: 1, max: 40 }),
    notional: fc.boolean(),
    filledPart: fc.integer({ min: 0, max: 4 }),
    status: fc.constantFrom(...STATUSES),
    open: fc.boolean(),
    recent: fc.boolean(),
    long: fc.boolean(),
  })
  .map((o) => {
    const qty = new Decimal(o.qty);
    const filled = qty.times(o.filledPart).div(4);
    const snapshot: OrderSnapshot = {
      id: `o${o.id}`,
      clientOrderId: `c${o.id}`,
      symbol: o.symbol,
      side: o.side,
      type: "market",
      timeInForce: "day",
      // A fill past 40 significant digits now and then.
      filledQty: o.long && o.filledPart < 4 ? new Decimal(`${filled.toFixed(44)}1`) : filled,
      status: o.status,
      updatedAt: at,
    };
    if (o.notional) snapshot.notional = qty.times(10);
    else snapshot.qty = qty;
    return { snapshot, open: o.open, recent: o.recent || !o.open };
  });

const mapArb = (values: fc.Arbitrary<Decimal>) =>
  fc.dictionary(fc.constantFrom(...SYMBOLS), values).map((d) => new Map(Object.entries(d)));

const inputArb = fc.record({
  expected: positionsArb,
  actual: positionsArb,
  orders: fc.array(orderArb, { maxLength: 14 }),
  prices: mapArb(fc.integer({ min: 1, max: 500 }).map((n) => new Decimal(n))),
  increments: mapArb(fc.constantFrom("1", "0.01", "0.000000001").map((s) => new Decimal(s))),
  applied: fc.dictionary(
    fc.integer({ min: 0, max: 9 }).map((i) => `o${i}`),
    fc.integer({ min: 0, max: 40 }).map((n) => new Decimal(n)),
  ),
  tolerance: fc.record(
    {
      notional: fc.integer({ min: 0, max: 300 }).map((n) => new Decimal(n)),
      qty: fc.constantFrom("1", "0.5").map((s) => new Decimal(s)),
    },
    { requiredKeys: [] },
  ),
});

describe("detectPositionDrift grouped by symbol", () => {
  it("gives exactly the results of the scan over every order", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const openOrders = input.orders.filter((o) => o.open).map((o) => o.snapshot);
        const recentOrders = input.orders.filter((o) => o.recent).map((o) => o.snapshot);
        const applied = new Map(Object.entries(input.applied));
        const got = detectPositionDrift(input.expected, input.actual, {
          prices: input.prices,
          increments: input.increments,
          applied,
          tolerance: input.tolerance,
          openOrders,
          recentOrders,
        });
        const want = referenceDrift(input.expected, input.actual, {
          prices: input.prices,
          increments: input.increments,
          applied,
          tolerance: input.tolerance,
          openOrders,
          recentOrders,
        });
        expect(JSON.stringify(got.map(driftToJSON))).toBe(JSON.stringify(want.map(driftToJSON)));
        expect(got).toEqual(want);
      }),
      { numRuns: 800 },
    );
  });

  it("the generated inputs reach every class", () => {
    const seen = new Set<DriftClass>();
    fc.assert(
      fc.property(inputArb, (input) => {
        const drifts = detectPositionDrift(input.expected, input.actual, {
          prices: input.prices,
          increments: input.increments,
          applied: new Map(Object.entries(input.applied)),
          tolerance: input.tolerance,
          openOrders: input.orders.filter((o) => o.open).map((o) => o.snapshot),
          recentOrders: input.orders.filter((o) => o.recent).map((o) => o.snapshot),
        });
        for (const d of drifts) seen.add(d.class);
      }),
      { numRuns: 1_500, seed: 21 },
    );
    expect([...seen].sort()).toEqual([
      "dust",
      "in_flight",
      "missed_fill",
      "phantom",
      "unexplained",
      "unknown",
    ]);
  });
});
