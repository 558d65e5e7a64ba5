import { Decimal, type OrderSnapshot } from "ordersafe";
import { describe, expect, it } from "vitest";
import { ExecutionRecord } from "../../src/account/execution-record.js";

const T0 = Date.UTC(2026, 0, 5, 15);

function order(
  o: Partial<Omit<OrderSnapshot, "filledQty">> & { filledQty: number; at: number },
): OrderSnapshot {
  const { filledQty, at, ...rest } = o;
  return {
    id: "o1",
    clientOrderId: "c1",
    symbol: "AAA",
    side: "sell",
    type: "market",
    timeInForce: "day",
    qty: new Decimal(10),
    status: filledQty >= 10 ? "filled" : filledQty > 0 ? "partially_filled" : "new",
    updatedAt: new Date(at),
    ...(filledQty > 0 ? { filledAvgPrice: new Decimal(20) } : {}),
    ...rest,
    filledQty: new Decimal(filledQty),
  };
}

describe("ExecutionRecord", () => {
  it("records a fill each time the cumulative filled quantity grows, once", () => {
    const r = new ExecutionRecord();
    expect(r.observe(order({ filledQty: 0, at: T0 }), T0)).toBeUndefined();
    const f1 = r.observe(order({ filledQty: 4, at: T0 + 100 }), T0 + 150);
    expect(f1?.qty.toNumber()).toBe(-4);
    expect(f1?.cash.toNumber()).toBe(80);
    // The same state again (a duplicate update, a REST read): nothing new.
    expect(r.observe(order({ filledQty: 4, at: T0 + 100 }), T0 + 300)).toBeUndefined();
    // An older state after a newer one (a reordered update): nothing goes back.
    expect(r.observe(order({ filledQty: 2, at: T0 + 50 }), T0 + 310)).toBeUndefined();
    const f2 = r.observe(order({ filledQty: 10, at: T0 + 400 }), T0 + 420);
    expect(f2?.qty.toNumber()).toBe(-6);
    expect(r.seq).toBe(2);
    expect(r.netShares("AAA", 0).toNumber()).toBe(-10);
    expect(r.netCash(0).toNumber()).toBe(200);
    expect(r.order("o1")?.final).toBe(true);
  });

  it("dates a fill by the earlier of when it was learned and the broker's time plus the skew", () => {
    const r = new ExecutionRecord({ clockSkewMs: 1_000 });
    // Learned long after it happened (found in the order history): the broker's time bounds it.
    r.observe(order({ filledQty: 10, at: T0 }), T0 + 60_000, "other");
    expect(r.lastFillBy("AAA")).toBe(T0 + 1_000);
    // Learned at once (the stream): when we learned it bounds it.
    r.observe(order({ id: "o2", symbol: "BBB", filledQty: 10, at: T0 + 5_000 }), T0 + 5_010);
    expect(r.lastFillBy("BBB")).toBe(T0 + 5_010);
    expect(r.lastFillBy()).toBe(T0 + 5_010);
    expect(r.lastFillBy("CCC")).toBe(Number.NEGATIVE_INFINITY);
  });

  it("keeps an order own once it was own", () => {
    const r = new ExecutionRecord();
    r.observe(order({ filledQty: 0, at: T0 }), T0, "own");
    r.observe(order({ filledQty: 5, at: T0 + 1 }), T0 + 2, "other");
    expect(r.order("o1")?.origin).toBe("own");
  });

  it("expects a baseline plus the fills learned after it", () => {
    const r = new ExecutionRecord();
    expect(r.expectedQty("AAA")).toBeUndefined();
    expect(r.expectedCash()).toBeUndefined();
    r.trustPosition("AAA", new Decimal(100));
    r.trustCash(new Decimal(1_000));
    r.observe(order({ filledQty: 10, at: T0 }), T0);
    expect(r.expectedQty("AAA")?.toNumber()).toBe(90);
    expect(r.expectedCash()?.toNumber()).toBe(1_200);
    expect(r.fillsSinceCashBaseline()).toBe(1);
    r.trustPosition("AAA", new Decimal(90));
    expect(r.expectedQty("AAA")?.toNumber()).toBe(90);
  });
});
