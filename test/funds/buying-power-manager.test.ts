import { BuyingPowerManager, Decimal } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

function setup(cash = 10_000, extra: Parameters<typeof createSimulatedBroker>[0] = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash,
    prices: { TECL: 50, BIL: 100, XYZ: 30 },
    assets: { XYZ: { fractionable: false, qtyIncrement: 1 } },
    ...extra,
  });
  const bp = new BuyingPowerManager({ broker, clock });
  return { clock, broker, bp };
}

const buy = (key: string, qty: number, more: object = {}) => ({
  symbol: "TECL",
  side: "buy" as const,
  qty,
  type: "market" as const,
  timeInForce: "day" as const,
  clientOrderId: key,
  ...more,
});

describe("BuyingPowerManager", () => {
  it("reads fresh cash and subtracts reservations", async () => {
    const { bp } = setup();
    expect((await bp.getAvailableBuyingPower()).toString()).toBe("10000");
    const r = await bp.reserve(buy("k1", 10));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.reservation.amount.toString()).toBe("515");
    expect((await bp.getAvailableBuyingPower({ refresh: true })).toString()).toBe("9485");
  });

  it("holds limit buys at the limit and notional buys at the notional; sells hold nothing", async () => {
    const { bp } = setup();
    const lim = await bp.reserve(buy("l", 4, { type: "limit", limitPrice: 45 }));
    const not = await bp.reserve({ ...buy("n", 1), qty: undefined, notional: 250 });
    const sell = await bp.reserve({ ...buy("s", 3), side: "sell" });
    expect(lim.ok && lim.reservation.amount.toString()).toBe("180");
    expect(not.ok && not.reservation.amount.toString()).toBe("250");
    expect(sell.ok && sell.reservation.amount.toString()).toBe("0");
    expect(bp.ledger.get("s")).toBeUndefined();
    expect((await bp.getAvailableBuyingPower()).toString()).toBe("9570");
  });

  it("refuses what it cannot fund, with the shortfall", async () => {
    const { bp } = setup(1000);
    const r = await bp.reserve(buy("k1", 20));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.required.toString()).toBe("1030");
      expect(r.available.toString()).toBe("1000");
      expect(r.shortfall.toString()).toBe("30");
    }
    expect(bp.ledger.size).toBe(0);
  });

  it("agrees with the broker's own buying power once the order is placed, and after it fills", async () => {
    const { bp, broker, clock } = setup(10_000, { latency: { restMs: 0, fillMs: 1000, streamMs: 0 } });
    const intent = buy("k1", 10);
    expect((await bp.reserve(intent)).ok).toBe(true);
    const placed = await broker.submitOrder({ ...intent, qty: new Decimal(10) });
    bp.acknowledge("k1", placed.createdAt ?? placed.updatedAt);
    const acct = await broker.getAccount();
    expect((await bp.getAvailableBuyingPower()).toString()).toBe(acct.buyingPower.toString());
    await clock.advance(1500);
    const done = await broker.getOrder(placed.id);
    expect(done?.status).toBe("filled");
    bp.applyFill("k1", (done?.filledQty ?? new Decimal(0)).times(done?.filledAvgPrice ?? 0), done?.updatedAt);
    bp.release("k1");
    expect((await bp.getAvailableBuyingPower()).toString()).toBe(broker.truth().cash.toString());
    expect((await bp.getAvailableBuyingPower()).toString()).toBe("9500");
  });

  it("serializes concurrent reserves: two can never both take the last dollar", async () => {
    const { bp, clock } = setup(1000, { latency: { restMs: 5, fillMs: 0, streamMs: 0 } });
    const results = await clock.run(
      Promise.all([
        bp.reserve(buy("a", 1, { type: "limit", limitPrice: 600 })),
        bp.reserve(buy("b", 1, { type: "limit", limitPrice: 600 })),
      ]),
    );
    expect(results.map((r) => r.ok).sort()).toEqual([false, true]);
    expect(bp.ledger.totalReserved().toString()).toBe("600");
  });

  it("recompute repairs a missed release against the broker's open orders", async () => {
    const { bp, broker, clock } = setup(10_000, { marketOpen: false });
    const intent = buy("k1", 2, { type: "limit", limitPrice: 40 });
    await bp.reserve(intent);
    const placed = await broker.submitOrder({ ...intent, qty: new Decimal(2), limitPrice: new Decimal(40) });
    bp.acknowledge("k1", placed.updatedAt);
    await broker.cancelOrder(placed.id);
    await clock.advance(10);
    // the release was missed; the ledger still holds 80
    expect((await bp.getAvailableBuyingPower()).toString()).toBe("9920");
    const r = await bp.recompute();
    expect(r.removed).toEqual(["k1"]);
    expect(r.drift?.difference.toString()).toBe("-80");
    expect((await bp.getAvailableBuyingPower()).toString()).toBe("10000");
  });

  it("recompute adopts an open buy the ledger never saw", async () => {
    const { bp, broker } = setup(10_000, { marketOpen: false });
    await broker.submitOrder({
      clientOrderId: "elsewhere",
      symbol: "TECL",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(10),
    });
    const r = await bp.recompute();
    expect(r.added).toEqual(["elsewhere"]);
    expect(bp.ledger.get("elsewhere")?.remaining.toString()).toBe("515");
    expect((await bp.getAvailableBuyingPower()).toString()).toBe("9485");
  });

  it("reports affordability and the largest affordable quantity on the increment", async () => {
    const { bp } = setup(1000);
    const whole = await bp.validateOrderAffordability("XYZ", { qty: 40 });
    expect(whole.affordable).toBe(false);
    expect(whole.unitCost.toString()).toBe("30.9");
    expect(whole.required.toString()).toBe("1236");
    expect(whole.shortfall.toString()).toBe("236");
    expect(whole.qtyIncrement.toString()).toBe("1");
    expect(whole.maxAffordableQty.toString()).toBe("32");
    const frac = await bp.validateOrderAffordability("TECL", { notional: 500 }, 40);
    expect(frac.affordable).toBe(true);
    expect(frac.shortfall.toString()).toBe("0");
    expect(frac.maxAffordableQty.toString()).toBe("25");
    expect(frac.maxAffordableQty.times(frac.unitCost).lte(frac.available)).toBe(true);
  });

  it("validates options and intents", async () => {
    const { broker, bp } = setup();
    expect(() => new BuyingPowerManager({} as never)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => new BuyingPowerManager({ broker, fundingBasis: "x" as "cash" })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    await expect(bp.reserve({ ...buy("k", 1), qty: -1 })).rejects.toMatchObject({ code: "validation" });
    await expect(bp.reserve({ ...buy("k", 1), clientOrderId: undefined })).rejects.toMatchObject({
      code: "validation",
    });
    await expect(bp.reserve(buy("k", 1, { symbol: "NOPE" }))).rejects.toMatchObject({
      code: "invalid_state",
    });
    await expect(bp.validateOrderAffordability("NOPE", { qty: 1 })).rejects.toMatchObject({
      code: "invalid_state",
    });
  });
});
