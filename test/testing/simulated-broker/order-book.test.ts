import { Decimal, type OrderRequest } from "ordersafe";
import { describe, expect, it } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import { Holdings } from "../../../src/testing/simulated-broker/holdings.js";
import { assetWith, defaultAsset, marketClockAt } from "../../../src/testing/simulated-broker/market.js";
import { IdSource, OrderBook, sizeOf, snapshotOf } from "../../../src/testing/simulated-broker/order-book.js";

const d = (v: string | number) => new Decimal(v);

function request(r: Partial<OrderRequest> = {}): OrderRequest {
  return {
    clientOrderId: "c1",
    symbol: "AAA",
    side: "buy",
    type: "market",
    timeInForce: "day",
    qty: d(2),
    ...r,
  };
}

describe("OrderBook", () => {
  it("ids are UUID-shaped and replay from the seed", () => {
    const a = new IdSource(createRandom(5));
    const b = new IdSource(createRandom(5));
    const id = a.next();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.next()).toBe(id);
  });

  it("a refused order is listed but found by no lookup, and its client order id stays free", () => {
    const book = new OrderBook(new IdSource(createRandom(1)));
    const o = book.create(request(), "rejected", false, 0);
    book.keepRefused(o);
    expect(book.list()).toEqual([o]);
    expect(book.get(o.id)).toBeUndefined();
    expect(book.isUsed("c1")).toBe(false);
    expect(book.openOrders()).toEqual([]);
  });

  it("a taken order is open and found until it ends; its client order id is used forever", () => {
    const book = new OrderBook(new IdSource(createRandom(1)));
    const o = book.create(request(), "new", true, 0);
    book.add(o);
    expect(book.get(o.id)).toBe(o);
    expect(book.getByClientOrderId("c1")).toBe(o);
    expect(book.openOrders()).toEqual([o]);
    o.status = "filled";
    book.ended(o);
    expect(book.openOrders()).toEqual([]);
    expect(book.get(o.id)).toBe(o);
    expect(book.isUsed("c1")).toBe(true);
  });

  it("holds: open sells hold their unfilled shares, open buys their unfilled cost", () => {
    const book = new OrderBook(new IdSource(createRandom(1)));
    const sell = book.create(request({ clientOrderId: "s", side: "sell", qty: d(5) }), "new", true, 0);
    sell.sellReserve = d(5);
    sell.filledQty = d(2);
    const market = book.create(request({ clientOrderId: "m", qty: d(2) }), "new", true, 0);
    const limit = book.create(
      request({ clientOrderId: "l", type: "limit", limitPrice: d(8), qty: d(3) }),
      "new",
      true,
      0,
    );
    const notional = book.create(
      request({ clientOrderId: "n", qty: undefined, notional: d(50) }),
      "new",
      true,
      0,
    );
    notional.filledValue = d(20);
    for (const o of [sell, market, limit, notional]) book.add(o);
    expect(book.sellHeld("AAA").toString()).toBe("3");
    expect(book.sellHeld("BBB").toString()).toBe("0");
    // 2 × 10 × 1.03 + 3 × 8 + (50 − 20)
    expect(book.buyHold(() => d(10), d("0.03")).toString()).toBe("74.6");
  });

  it("closing client order ids skip the ones in use", () => {
    const book = new OrderBook(new IdSource(createRandom(1)));
    book.add(book.create(request({ clientOrderId: "sim-close-7-1" }), "new", true, 0));
    expect(book.closeClientOrderId(7)).toBe("sim-close-7-2");
    expect(book.closeClientOrderId(7)).toBe("sim-close-7-3");
  });

  it("a snapshot carries the size given, and the average fill price once filled", () => {
    const book = new OrderBook(new IdSource(createRandom(1)));
    const o = book.create(request({ qty: undefined, notional: d(10) }), "new", true, 1000);
    expect(snapshotOf(o)).toMatchObject({ notional: d(10), filledQty: d(0), createdAt: new Date(1000) });
    expect(snapshotOf(o).qty).toBeUndefined();
    expect(snapshotOf(o).filledAvgPrice).toBeUndefined();
    o.filledQty = d(3);
    o.filledValue = d(10);
    expect(snapshotOf(o).filledAvgPrice?.toString()).toBe("3.333333333");
  });

  it("sizeOf: qty or notional, never neither", () => {
    expect(sizeOf({ qty: d(1) })).toEqual({ qty: d(1), notional: undefined });
    expect(sizeOf({ notional: d(1) })).toEqual({ qty: undefined, notional: d(1) });
    expect(() => sizeOf({})).toThrow();
  });
});

describe("Holdings", () => {
  it("a buy averages into the entry price; a sell keeps it; zero removes the position", () => {
    const h = new Holdings(d(1000), [
      ["AAA", { qty: d(2), avgEntryPrice: d(10) }],
      ["ZERO", { qty: d(0), avgEntryPrice: d(1) }],
    ]);
    expect([...h.entries()].map(([s]) => s)).toEqual(["AAA"]);
    h.apply("AAA", d(2), d(20));
    expect(h.qty("AAA").toString()).toBe("4");
    expect([...h.entries()][0]?.[1].avgEntryPrice.toString()).toBe("15");
    h.apply("AAA", d(-1), d(30));
    expect([...h.entries()][0]?.[1].avgEntryPrice.toString()).toBe("15");
    h.apply("AAA", d(-3), d(30));
    expect(h.qty("AAA").toString()).toBe("0");
    expect([...h.entries()]).toEqual([]);
    expect(h.cash.toString()).toBe(String(1000 - 40 + 30 + 90));
  });
});

describe("market", () => {
  it("asset defaults: fractionable in 1e-9 steps; whole shares when not fractionable", () => {
    expect(defaultAsset("AAA")).toEqual({
      symbol: "AAA",
      tradable: true,
      fractionable: true,
      qtyIncrement: d("0.000000001"),
      minNotional: d(1),
    });
    expect(assetWith("WHL", { fractionable: false }).qtyIncrement).toEqual(d(1));
    expect(assetWith("WHL", { fractionable: false, qtyIncrement: d("0.5") }).qtyIncrement).toEqual(d("0.5"));
  });

  it("the market clock: weekdays 14:30–21:00 UTC; while open the next open follows the next close", () => {
    const monNoon = Date.UTC(2026, 10, 30, 12, 0);
    expect(marketClockAt(monNoon, false)).toEqual({
      isOpen: false,
      nextOpen: new Date(Date.UTC(2026, 10, 30, 14, 30)),
      nextClose: new Date(Date.UTC(2026, 10, 30, 21, 0)),
      asOf: new Date(monNoon),
    });
    expect(marketClockAt(monNoon, true).nextOpen).toEqual(new Date(Date.UTC(2026, 11, 1, 14, 30)));
    const friEvening = Date.UTC(2026, 11, 4, 22, 0);
    expect(marketClockAt(friEvening, false).nextOpen).toEqual(new Date(Date.UTC(2026, 11, 7, 14, 30)));
  });
});
