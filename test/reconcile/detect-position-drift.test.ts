import { Decimal, detectPositionDrift, driftToJSON, type OrderSnapshot } from "ordersafe";
import { describe, expect, it } from "vitest";

const at = new Date("2026-01-05T14:30:00Z");

function order(p: Partial<OrderSnapshot> & Pick<OrderSnapshot, "id" | "symbol" | "side">): OrderSnapshot {
  return {
    clientOrderId: `c-${p.id}`,
    type: "market",
    timeInForce: "day",
    qty: new Decimal(10),
    filledQty: new Decimal(0),
    status: "new",
    updatedAt: at,
    ...p,
  };
}

describe("detectPositionDrift", () => {
  it("returns nothing when the book equals the broker", () => {
    expect(
      detectPositionDrift(
        { A: 5, B: "1.5" },
        new Map<string, string | number>([
          ["A", "5"],
          ["B", 1.5],
        ]),
      ),
    ).toEqual([]);
  });

  it("computes quantity and notional differences (actual − expected)", () => {
    const [d] = detectPositionDrift({ A: 10 }, { A: 4 }, { prices: { A: 50 } });
    expect(d?.qtyDiff.toString()).toBe("-6");
    expect(d?.notionalDiff?.toString()).toBe("-300");
    expect(d?.class).toBe("unexplained");
    expect(d?.withinTolerance).toBe(false);
  });

  it("labels a position the broker does not hold as phantom", () => {
    const [d] = detectPositionDrift({ FNGU: "711" }, {}, { prices: { FNGU: 33.05 } });
    expect(d?.class).toBe("phantom");
    expect(d?.actualQty.isZero()).toBe(true);
  });

  it("labels a position the book did not expect as unknown (outside trade)", () => {
    const [d] = detectPositionDrift({}, { XYZ: 20 }, { prices: { XYZ: 10 } });
    expect(d?.class).toBe("unknown");
  });

  it("labels differences within tolerance as dust: under $100, or under the increment", () => {
    const ds = detectPositionDrift(
      { A: 10, B: 10, C: "10" },
      { A: 11, B: 13, C: "10.0000000005" },
      { prices: { A: 100, B: 100 } },
    );
    expect(ds.map((d) => [d.symbol, d.class])).toEqual([
      ["A", "dust"],
      ["B", "unexplained"],
      ["C", "dust"],
    ]);
  });

  it("uses the asset's increment and the notional tolerance when given", () => {
    const ds = detectPositionDrift(
      { A: 10, B: 10 },
      { A: "10.5", B: 11 },
      { prices: { A: 1000, B: 50 }, increments: { A: 1 }, tolerance: { notional: 10 } },
    );
    expect(ds.map((d) => [d.symbol, d.class])).toEqual([
      ["A", "dust"],
      ["B", "unexplained"],
    ]);
  });

  it("without a price, only a sub-increment difference is dust", () => {
    const [d] = detectPositionDrift({ A: 10 }, { A: 11 });
    expect(d?.notionalDiff).toBeUndefined();
    expect(d?.class).toBe("unexplained");
  });

  it("labels a difference covered by an open order as in_flight", () => {
    const open = [
      order({
        id: "o1",
        symbol: "A",
        side: "buy",
        qty: new Decimal(10),
        filledQty: new Decimal(4),
        status: "partially_filled",
      }),
    ];
    const [d] = detectPositionDrift({ A: 0 }, { A: 4 }, { prices: { A: 100 }, openOrders: open });
    expect(d?.class).toBe("in_flight");
    expect(d?.orders[0]?.unappliedQty.toString()).toBe("4");
    // beyond the order's size it is not explained
    const [e] = detectPositionDrift({ A: 0 }, { A: 14 }, { prices: { A: 100 }, openOrders: open });
    expect(e?.class).toBe("unknown");
    // an open sell explains a lower broker position, not a higher one
    const sell = [order({ id: "s1", symbol: "A", side: "sell", qty: new Decimal(5) })];
    expect(detectPositionDrift({ A: 10 }, { A: 7 }, { prices: { A: 100 }, openOrders: sell })[0]?.class).toBe(
      "in_flight",
    );
    expect(
      detectPositionDrift({ A: 10 }, { A: 13 }, { prices: { A: 100 }, openOrders: sell })[0]?.class,
    ).toBe("unexplained");
  });

  it("labels a difference matching unapplied fills of finished known orders as missed_fill", () => {
    const filled = order({
      id: "o1",
      symbol: "A",
      side: "sell",
      qty: new Decimal(10),
      filledQty: new Decimal(10),
      status: "filled",
    });
    const [d] = detectPositionDrift(
      { A: 30 },
      { A: 20 },
      { prices: { A: 100 }, recentOrders: [filled], applied: { o1: 0 } },
    );
    expect(d?.class).toBe("missed_fill");
    expect(d?.orders.map((o) => o.orderId)).toEqual(["o1"]);
    // part applied already: only the rest explains the difference
    const [p] = detectPositionDrift(
      { A: 26 },
      { A: 20 },
      { prices: { A: 100 }, recentOrders: [filled], applied: new Map([["o1", 4]]) },
    );
    expect(p?.class).toBe("missed_fill");
    expect(p?.orders[0]?.unappliedQty.toString()).toBe("-6");
  });

  it("never calls a difference a missed fill when the known fills do not account for it", () => {
    const filled = order({
      id: "o1",
      symbol: "A",
      side: "sell",
      filledQty: new Decimal(10),
      status: "filled",
    });
    // fully applied: no evidence
    expect(
      detectPositionDrift(
        { A: 30 },
        { A: 20 },
        { prices: { A: 100 }, recentOrders: [filled], applied: { o1: 10 } },
      )[0]?.class,
    ).toBe("unexplained");
    // the unapplied fill is 10, the difference 25
    expect(
      detectPositionDrift(
        { A: 45 },
        { A: 20 },
        { prices: { A: 100 }, recentOrders: [filled], applied: { o1: 0 } },
      )[0]?.class,
    ).toBe("unexplained");
    // a buy cannot explain a lower position
    const buy = order({ id: "b1", symbol: "A", side: "buy", filledQty: new Decimal(10), status: "filled" });
    expect(
      detectPositionDrift({ A: 30 }, { A: 20 }, { prices: { A: 100 }, recentOrders: [buy] })[0]?.class,
    ).toBe("unexplained");
  });

  it("a missed fill plus an open order's movement is still a missed fill", () => {
    const filled = order({
      id: "o1",
      symbol: "A",
      side: "buy",
      qty: new Decimal(10),
      filledQty: new Decimal(10),
      status: "filled",
    });
    const open = order({
      id: "o2",
      symbol: "A",
      side: "buy",
      qty: new Decimal(5),
      filledQty: new Decimal(2),
      status: "partially_filled",
    });
    const [d] = detectPositionDrift(
      { A: 0 },
      { A: 12 },
      { prices: { A: 100 }, recentOrders: [filled], openOrders: [open] },
    );
    expect(d?.class).toBe("missed_fill");
  });

  it("merges open and recent snapshots of one order by id, keeping the most filled", () => {
    const stale = order({ id: "o1", symbol: "A", side: "buy", filledQty: new Decimal(0), status: "new" });
    const fresh = order({ id: "o1", symbol: "A", side: "buy", filledQty: new Decimal(10), status: "filled" });
    const [d] = detectPositionDrift(
      {},
      { A: 10 },
      { prices: { A: 100 }, openOrders: [stale], recentOrders: [fresh] },
    );
    expect(d?.class).toBe("missed_fill");
    expect(d?.orders).toHaveLength(1);
  });

  it("serializes drifts to JSON with decimals as strings", () => {
    const [d] = detectPositionDrift({ A: "0.1" }, { A: "0.3" }, { prices: { A: 1000 } });
    const json = JSON.parse(JSON.stringify(driftToJSON(d!)));
    expect(json).toMatchObject({ symbol: "A", qtyDiff: "0.2", notionalDiff: "200", class: "unexplained" });
  });

  it("rejects malformed input with a validation error naming the path", () => {
    expect(() => detectPositionDrift({ A: Number.NaN }, {})).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => detectPositionDrift({}, { A: "x" })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => detectPositionDrift({}, {}, { prices: { A: -1 } })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => detectPositionDrift({}, {}, { tolerance: { notional: 1, extra: 1 } } as never)).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    try {
      detectPositionDrift({ A: 1 }, {}, { prices: { A: 0 } });
      expect.unreachable();
    } catch (e) {
      expect((e as { issues: { path: string }[] }).issues[0]?.path).toBe("options.prices.A");
    }
  });
});
