import fc from "fast-check";
import { Decimal, detectPositionDrift, PositionBook } from "ordersafe";
import { describe, expect, it } from "vitest";

// A few orders, each with fills of positive size; every fill knows its execution id and the
// order's cumulative quantity after it.
const ordersArb = fc.array(
  fc.record({
    symbol: fc.constantFrom("A", "B", "C"),
    side: fc.constantFrom("buy" as const, "sell" as const),
    fills: fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 5 }),
  }),
  { minLength: 1, maxLength: 5 },
);

type Fill = {
  orderId: string;
  symbol: string;
  side: "buy" | "sell";
  qty: Decimal;
  cum: Decimal;
  exec: string;
};

function flatten(orders: { symbol: string; side: "buy" | "sell"; fills: number[] }[]): Fill[] {
  const out: Fill[] = [];
  orders.forEach((o, i) => {
    let cum = new Decimal(0);
    o.fills.forEach((f, j) => {
      const qty = new Decimal(f).div(1000);
      cum = cum.plus(qty);
      out.push({ orderId: `o${i}`, symbol: o.symbol, side: o.side, qty, cum, exec: `o${i}-e${j}` });
    });
  });
  return out;
}

function expectedPositions(fills: Fill[]): Record<string, string> {
  const m = new Map<string, Decimal>();
  for (const f of fills)
    m.set(f.symbol, (m.get(f.symbol) ?? new Decimal(0)).plus(f.side === "buy" ? f.qty : f.qty.neg()));
  const out: Record<string, string> = {};
  for (const [s, q] of [...m].sort()) if (!q.isZero()) out[s] = q.toFixed();
  return out;
}

describe("PositionBook properties", () => {
  it("duplicated and reordered fills (by cumulative quantity) give the same positions as each fill once", () => {
    fc.assert(
      fc.property(
        ordersArb,
        fc.array(fc.nat(), { minLength: 0, maxLength: 30 }),
        fc.boolean(),
        (orders, dupIdx, withExec) => {
          const fills = flatten(orders);
          const delivered = [...fills, ...dupIdx.map((i) => fills[i % fills.length] as Fill)];
          // deterministic shuffle driven by the generated indexes
          const shuffled = delivered
            .map((f, i) => ({ f, k: ((dupIdx[i % Math.max(1, dupIdx.length)] ?? i) * 7919 + i) % 1009 }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.f);
          const book = new PositionBook();
          for (const f of shuffled) {
            book.applyFill({
              orderId: f.orderId,
              symbol: f.symbol,
              side: f.side,
              cumulativeQty: f.cum,
              ...(withExec ? { executionId: f.exec } : {}),
            });
          }
          expect(book.toJSON().positions).toEqual(expectedPositions(fills));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("duplicated fills by execution id alone give the same positions as each fill once", () => {
    fc.assert(
      fc.property(ordersArb, fc.array(fc.nat(), { maxLength: 30 }), (orders, dupIdx) => {
        const fills = flatten(orders);
        const delivered = [...fills, ...dupIdx.map((i) => fills[i % fills.length] as Fill)].reverse();
        const book = new PositionBook();
        for (const f of delivered) {
          book.applyFill({
            orderId: f.orderId,
            symbol: f.symbol,
            side: f.side,
            qty: f.qty,
            executionId: f.exec,
          });
        }
        expect(book.toJSON().positions).toEqual(expectedPositions(fills));
      }),
      { numRuns: 300 },
    );
  });

  it("a saved and restored book behaves like the original for any further fills", () => {
    fc.assert(
      fc.property(ordersArb, fc.nat(), (orders, cut) => {
        const fills = flatten(orders);
        const k = cut % (fills.length + 1);
        const a = new PositionBook();
        for (const f of fills.slice(0, k))
          a.applyFill({
            orderId: f.orderId,
            symbol: f.symbol,
            side: f.side,
            cumulativeQty: f.cum,
            executionId: f.exec,
          });
        const b = PositionBook.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
        // replay everything (the first k again) into both
        for (const f of fills) {
          const fill = {
            orderId: f.orderId,
            symbol: f.symbol,
            side: f.side,
            cumulativeQty: f.cum,
            executionId: f.exec,
          };
          a.applyFill(fill);
          b.applyFill(fill);
        }
        expect(b.toJSON()).toEqual(a.toJSON());
        expect(a.toJSON().positions).toEqual(expectedPositions(fills));
      }),
      { numRuns: 200 },
    );
  });

  it("a book that applied every fill shows no drift against the true positions", () => {
    fc.assert(
      fc.property(ordersArb, (orders) => {
        const fills = flatten(orders);
        const book = new PositionBook();
        for (const f of fills)
          book.applyFill({ orderId: f.orderId, symbol: f.symbol, side: f.side, cumulativeQty: f.cum });
        expect(detectPositionDrift(book.positions(), expectedPositions(fills))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
