import fc from "fast-check";
import { Decimal, detectPositionDrift, type OrderSnapshot, PositionBook } from "ordersafe";
import { describe, expect, it } from "vitest";

const at = new Date("2026-01-05T14:30:00Z");
const SYMBOLS = ["A", "B", "C", "D"] as const;

const orderArb = fc.record({
  symbol: fc.constantFrom(...SYMBOLS),
  side: fc.constantFrom("buy" as const, "sell" as const),
  qty: fc.integer({ min: 1, max: 500 }),
  appliedPart: fc.constantFrom("all", "none", "some"),
});

describe("detectPositionDrift properties", () => {
  it("reports exactly the symbols that differ, with qtyDiff = actual − expected, sorted", () => {
    const pos = fc.dictionary(fc.constantFrom(...SYMBOLS), fc.integer({ min: -1000, max: 1000 }));
    fc.assert(
      fc.property(pos, pos, (expected, actual) => {
        const drifts = detectPositionDrift(expected, actual, { prices: { A: 1, B: 10, C: 100, D: 1000 } });
        const differ = SYMBOLS.filter((s) => (expected[s] ?? 0) !== (actual[s] ?? 0));
        expect(drifts.map((d) => d.symbol)).toEqual(differ);
        for (const d of drifts) {
          expect(d.qtyDiff.toNumber()).toBe((actual[d.symbol] ?? 0) - (expected[d.symbol] ?? 0));
          expect(d.class === "dust").toBe(d.withinTolerance);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("a book that missed some fills of finished orders shows missed_fill on exactly those symbols", () => {
    fc.assert(
      fc.property(fc.array(orderArb, { minLength: 1, maxLength: 8 }), (orders) => {
        const book = new PositionBook();
        const truth = new Map<string, Decimal>();
        const snapshots: OrderSnapshot[] = [];
        const missed = new Map<string, Decimal>();
        orders.forEach((o, i) => {
          const qty = new Decimal(o.qty);
          const sign = o.side === "buy" ? 1 : -1;
          truth.set(o.symbol, (truth.get(o.symbol) ?? new Decimal(0)).plus(qty.times(sign)));
          const applied =
            o.appliedPart === "all" ? qty : o.appliedPart === "none" ? new Decimal(0) : qty.div(2).floor();
          if (applied.gt(0))
            book.applyFill({ orderId: `o${i}`, symbol: o.symbol, side: o.side, cumulativeQty: applied });
          missed.set(o.symbol, (missed.get(o.symbol) ?? new Decimal(0)).plus(qty.minus(applied).times(sign)));
          snapshots.push({
            id: `o${i}`,
            clientOrderId: `c${i}`,
            symbol: o.symbol,
            side: o.side,
            type: "market",
            timeInForce: "day",
            qty,
            filledQty: qty,
            status: "filled",
            updatedAt: at,
          });
        });
        const drifts = detectPositionDrift(book.positions(), truth, {
          prices: { A: 1000, B: 1000, C: 1000, D: 1000 },
          increments: { A: 1, B: 1, C: 1, D: 1 },
          recentOrders: snapshots,
          applied: book.appliedFills(),
        });
        const expectedMissed = [...missed]
          .filter(([, q]) => !q.isZero())
          .map(([s]) => s)
          .sort();
        expect(drifts.map((d) => d.symbol)).toEqual(expectedMissed);
        for (const d of drifts) expect(d.class).toBe("missed_fill");
      }),
      { numRuns: 500 },
    );
  });

  it("an extra difference beyond the known fills is never called a missed fill", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(1, -1),
        (filled, extra, dir) => {
          const order: OrderSnapshot = {
            id: "o",
            clientOrderId: "c",
            symbol: "A",
            side: "buy",
            type: "market",
            timeInForce: "day",
            qty: new Decimal(filled),
            filledQty: new Decimal(filled),
            status: "filled",
            updatedAt: at,
          };
          const [d] = detectPositionDrift(
            { A: 1000 },
            { A: 1000 + filled + dir * extra },
            { prices: { A: 1000 }, increments: { A: 1 }, recentOrders: [order] },
          );
          expect(d?.class).not.toBe("missed_fill");
        },
      ),
      { numRuns: 500 },
    );
  });
});
