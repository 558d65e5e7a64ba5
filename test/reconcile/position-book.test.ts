import { Decimal, type OrderUpdate, PositionBook } from "ordersafe";
import { describe, expect, it } from "vitest";

const at = new Date("2026-01-05T14:30:00Z");

function update(
  filledQty: string,
  executionId?: string,
  event: OrderUpdate["event"] = "partial_fill",
): OrderUpdate {
  return {
    event,
    at,
    order: {
      id: "o1",
      clientOrderId: "c1",
      symbol: "FNGU",
      side: "sell",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(711),
      filledQty: new Decimal(filledQty),
      status: filledQty === "711" ? "filled" : "partially_filled",
      updatedAt: at,
    },
    ...(executionId === undefined
      ? {}
      : { fill: { qty: new Decimal(1), price: new Decimal(33), executionId } }),
  };
}

describe("PositionBook", () => {
  it("applies fills once by cumulative quantity", () => {
    const book = new PositionBook({ FNGU: "1591.166892" });
    const r1 = book.applyFill({ orderId: "o1", symbol: "FNGU", side: "sell", cumulativeQty: "300" });
    expect(r1.applied).toBe(true);
    expect(r1.delta.toString()).toBe("-300");
    expect(
      book.applyFill({ orderId: "o1", symbol: "FNGU", side: "sell", cumulativeQty: "300" }).applied,
    ).toBe(false);
    // an older (lower) cumulative arriving late changes nothing
    expect(
      book.applyFill({ orderId: "o1", symbol: "FNGU", side: "sell", cumulativeQty: "200" }).applied,
    ).toBe(false);
    book.applyFill({ orderId: "o1", symbol: "FNGU", side: "sell", cumulativeQty: "711" });
    expect(book.position("FNGU").toString()).toBe("880.166892");
    expect(book.appliedQty("o1").toString()).toBe("711");
  });

  it("applies fills once by execution id when no cumulative quantity is given", () => {
    const book = new PositionBook();
    book.applyFill({ orderId: "b1", symbol: "TECL", side: "buy", qty: "5", executionId: "e1" });
    book.applyFill({ orderId: "b1", symbol: "TECL", side: "buy", qty: "5", executionId: "e1" });
    book.applyFill({ orderId: "b1", symbol: "TECL", side: "buy", qty: "2", executionId: "e2" });
    expect(book.position("TECL").toString()).toBe("7");
    expect(book.order("b1")?.executionIds).toEqual(["e1", "e2"]);
  });

  it("applies stream updates and REST snapshots of the same fills once", () => {
    const book = new PositionBook({ FNGU: "1591.166892" });
    book.applyOrderUpdate(update("300", "x1"));
    book.applyOrderUpdate(update("300", "x1"));
    book.applyOrderSnapshot(update("711").order);
    book.applyOrderUpdate(update("711", "x2", "fill"));
    expect(book.position("FNGU").toString()).toBe("880.166892");
  });

  it("drops zero positions and supports shorts", () => {
    const book = new PositionBook({ A: 2 });
    book.applyFill({ orderId: "s", symbol: "A", side: "sell", cumulativeQty: 2 });
    expect(book.positions().has("A")).toBe(false);
    book.applyFill({ orderId: "s2", symbol: "A", side: "sell", cumulativeQty: 3 });
    expect(book.position("A").toString()).toBe("-3");
  });

  it("markApplied records fills already in the positions without changing them", () => {
    const book = new PositionBook({ A: 10 });
    book.markApplied({ orderId: "o", symbol: "A", side: "buy", cumulativeQty: 10 });
    expect(book.applyFill({ orderId: "o", symbol: "A", side: "buy", cumulativeQty: 10 }).applied).toBe(false);
    expect(book.position("A").toString()).toBe("10");
  });

  it("replacePositions returns what changed", () => {
    const book = new PositionBook({ A: 1, B: 2 });
    const changes = book.replacePositions({ B: 2, C: 3 });
    expect(changes.map((c) => [c.symbol, c.before.toString(), c.after.toString()])).toEqual([
      ["A", "1", "0"],
      ["C", "0", "3"],
    ]);
    expect([...book.positions().keys()]).toEqual(["B", "C"]);
  });

  it("round-trips through JSON, keeping deduplication state", () => {
    const book = new PositionBook({ A: "1.5" });
    book.applyFill({ orderId: "o", symbol: "B", side: "buy", qty: "3", executionId: "e" });
    const restored = PositionBook.fromJSON(JSON.parse(JSON.stringify(book)));
    expect(restored.toJSON()).toEqual(book.toJSON());
    expect(
      restored.applyFill({ orderId: "o", symbol: "B", side: "buy", qty: "3", executionId: "e" }).applied,
    ).toBe(false);
  });

  it("rejects a malformed saved book, a malformed fill, and a conflicting order", () => {
    expect(() => PositionBook.fromJSON({ version: 1, positions: { A: "NaN?" }, orders: {} })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => PositionBook.fromJSON({ version: 2, positions: {}, orders: {} })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    const book = new PositionBook();
    expect(() => book.applyFill({ orderId: "o", symbol: "A", side: "buy" })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    book.applyFill({ orderId: "o", symbol: "A", side: "buy", qty: 1 });
    expect(() => book.applyFill({ orderId: "o", symbol: "B", side: "buy", qty: 1 })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(book.position("B").isZero()).toBe(true);
  });
});
