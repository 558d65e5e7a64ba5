import { Decimal, type OrderSnapshot, type OrderUpdate } from "ordersafe";
import { createSimulatedBroker, type SimulatedBrokerOptions, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { codeOf, req } from "./helpers.js";

// The simulated broker's quote model (option quotes), limit fills against it, and replaceOrder.

function setup(extra: SimulatedBrokerOptions = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({ clock, cash: 100_000, prices: { SPY: 100, ABC: 50 }, ...extra });
  const updates: OrderUpdate[] = [];
  broker.subscribeOrderUpdates({ onUpdate: (u) => updates.push(u) });
  return { clock, broker, updates };
}

const str = (d: Decimal | undefined) => d?.toString();

describe("quotes without a quote model", () => {
  it("answer the last price as bid and ask, and orders fill at it as before", async () => {
    const { clock, broker } = setup();
    const q = (await broker.getLatestQuotes(["SPY", "NOPE"])).get("SPY");
    expect([str(q?.bid), str(q?.ask)]).toEqual(["100", "100"]);
    expect((await broker.getLatestQuotes(["NOPE"])).size).toBe(0);
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 2 }));
    await clock.runUntilIdle();
    expect(str(broker.findOrder(o.id)?.filledAvgPrice)).toBe("100");
  });
});

describe("the quote model", () => {
  it("quotes a spread around the mid on a price tick; market orders fill at the far touch", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 20 } });
    const q = (await broker.getLatestQuotes(["SPY"])).get("SPY");
    expect([str(q?.bid), str(q?.ask)]).toEqual(["99.9", "100.1"]);
    expect(str((await broker.getLatestPrices(["SPY"])).get("SPY"))).toBe("100");
    const buy = await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    const sell = await broker.submitOrder(req("buy", "ABC", { qty: 1 }));
    await clock.run(async () => clock.sleep(10));
    expect(str(broker.findOrder(buy.id)?.filledAvgPrice)).toBe("100.1");
    expect(str(broker.findOrder(sell.id)?.filledAvgPrice)).toBe("50.05");
  });

  it("walks the mid in seeded steps: the same seed gives the same path, another seed another", async () => {
    const path = async (seed: number) => {
      const { clock, broker } = setup({ seed, quotes: { spreadBps: 10, volatilityBps: 20, stepMs: 1000 } });
      const mids: string[] = [];
      for (let i = 0; i < 20; i++) {
        mids.push(str((await broker.getLatestPrices(["SPY"])).get("SPY")) ?? "");
        await clock.advance(1000);
      }
      return mids;
    };
    const a = await path(3);
    expect(await path(3)).toEqual(a);
    expect(await path(4)).not.toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(10);
    // Within a step the mid holds.
    const { clock, broker } = setup({ quotes: { volatilityBps: 20, stepMs: 1000 } });
    const first = str((await broker.getLatestPrices(["SPY"])).get("SPY"));
    await clock.advance(999);
    expect(str((await broker.getLatestPrices(["SPY"])).get("SPY"))).toBe(first);
  });

  it("reads can be stale, crossed or missing by seeded draws; fills see the true quote", async () => {
    const { clock, broker } = setup({
      quotes: {
        spreadBps: 10,
        volatilityBps: 50,
        crossedProbability: 0.3,
        missingProbability: 0.3,
        staleProbability: 0.3,
      },
    });
    let crossed = 0;
    let missing = 0;
    let stale = 0;
    for (let i = 0; i < 200; i++) {
      await clock.advance(1000);
      const q = (await broker.getLatestQuotes(["SPY"])).get("SPY");
      if (q === undefined) missing++;
      else if (q.bid.gt(q.ask)) crossed++;
      if (q !== undefined && q.asOf.getTime() < clock.now() - 1000) stale++;
    }
    expect(missing).toBeGreaterThan(30);
    expect(crossed).toBeGreaterThan(20);
    expect(stale).toBeGreaterThan(20);
  });

  it("a resting buy limit fills when the ask comes down to it, never above its limit", async () => {
    const { clock, broker } = setup({
      seed: 11,
      quotes: { spreadBps: 10, volatilityBps: 30, stepMs: 1000, passiveFillProbability: 0 },
    });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 3, limit: "99.5" }));
    await clock.advance(500);
    expect(broker.findOrder(o.id)?.status).toBe("new");
    const final = await clock.run(async () => {
      for (;;) {
        const s = broker.findOrder(o.id);
        if (s?.status === "filled") return s;
        await clock.sleep(1000);
      }
    });
    expect(final.filledQty.toString()).toBe("3");
    expect(final.filledAvgPrice?.lte("99.5")).toBe(true);
  });

  it("a resting limit inside the spread fills at its limit by passive-fill draws", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 40, passiveFillProbability: 1 } });
    // Bid 99.8, ask 100.2: a buy at 100.1 sits 3/4 toward the ask: a 75% chance each step.
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 2, limit: "100.1" }));
    const final = await clock.run(async () => {
      for (;;) {
        const s = broker.findOrder(o.id);
        if (s?.status === "filled") return s;
        await clock.sleep(1000);
      }
    });
    expect(str(final.filledAvgPrice)).toBe("100.1");
  });

  it("with partial fills a limit fills in parts", async () => {
    const { clock, broker, updates } = setup({ quotes: { spreadBps: 10 }, partialFills: { parts: 3 } });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 9, limit: 101 }));
    await clock.run(async () => clock.sleep(10));
    const fills = updates.filter((u) => u.order.id === o.id && u.fill !== undefined);
    expect(fills.map((u) => str(u.fill?.qty))).toEqual(["3", "3", "3"]);
    expect(fills.map((u) => str(u.fill?.price))).toEqual(["100.05", "100.05", "100.05"]);
  });
});

describe("replaceOrder", () => {
  async function resting() {
    const s = setup({ quotes: { spreadBps: 10, passiveFillProbability: 0 } });
    const o = await s.broker.submitOrder(req("buy", "SPY", { qty: 5, limit: 90 }, { clientOrderId: "r-0" }));
    return { ...s, o };
  }

  it("makes a new order with the changes and ends the old one replaced", async () => {
    const { clock, broker, updates, o } = await resting();
    const n: OrderSnapshot = await broker.replaceOrder(o.id, {
      limitPrice: new Decimal("95.5"),
      clientOrderId: "r-1",
    });
    expect(n.id).not.toBe(o.id);
    expect([n.clientOrderId, str(n.qty), str(n.limitPrice)]).toEqual(["r-1", "5", "95.5"]);
    expect(broker.findOrder(o.id)?.status).toBe("replaced");
    await clock.advance(0);
    expect(updates.some((u) => u.order.id === o.id && u.event === "replaced")).toBe(true);
    // Marketable now: the new order fills at the ask, under its limit.
    const filled = await broker.replaceOrder(n.id, { limitPrice: new Decimal(101), clientOrderId: "r-2" });
    await clock.run(async () => clock.sleep(10));
    expect(broker.findOrder(filled.id)?.status).toBe("filled");
    expect(str(broker.findOrder(filled.id)?.filledAvgPrice)).toBe("100.05");
    expect(broker.truth().positions.get("SPY")?.toString()).toBe("5");
    // A venue-made client order id when none is given.
    const { broker: b2, o: o2 } = await resting();
    expect((await b2.replaceOrder(o2.id, { qty: new Decimal(2) })).clientOrderId).toMatch(/^sim-replace-/);
  });

  it("a partly filled order: its fills stay with it, the new order takes the rest", async () => {
    const { clock, broker } = setup({
      quotes: { spreadBps: 10 },
      partialFills: { parts: 2 },
      latency: { fillMs: 100 },
    });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 4, limit: 101 }));
    await clock.advance(100);
    expect(broker.findOrder(o.id)?.filledQty.toString()).toBe("2");
    const n = await broker.replaceOrder(o.id, { limitPrice: new Decimal(102) });
    expect(str(n.qty)).toBe("2");
    await clock.run(async () => clock.sleep(500));
    expect(broker.findOrder(o.id)?.status).toBe("replaced");
    expect(broker.findOrder(o.id)?.filledQty.toString()).toBe("2");
    expect(broker.findOrder(n.id)?.filledQty.toString()).toBe("2");
    expect(broker.truth().positions.get("SPY")?.toString()).toBe("4");
  });

  it("refuses unknown, final and notional orders, bad changes and reused ids: nothing changes", async () => {
    const { clock, broker, o } = await resting();
    expect(await codeOf(broker.replaceOrder("nope", { qty: new Decimal(1) }))).toBe("not_found");
    expect(await codeOf(broker.replaceOrder(o.id, {} as never))).toBe("invalid_order");
    expect(await codeOf(broker.replaceOrder(o.id, { clientOrderId: "r-0" }))).toBe(
      "duplicate_client_order_id",
    );
    expect(await codeOf(broker.replaceOrder(o.id, { limitPrice: new Decimal("95.555") }))).toBe(
      "invalid_order",
    );
    expect(broker.findOrder(o.id)?.status).toBe("new");
    await broker.cancelOrder(o.id);
    await clock.runUntilIdle();
    expect(await codeOf(broker.replaceOrder(o.id, { qty: new Decimal(1) }))).toBe("not_cancelable");
    const notional = await broker.submitOrder(req("buy", "ABC", { notional: 10 }));
    // (It fills at once; a notional order is never replaceable anyway.)
    expect(await codeOf(broker.replaceOrder(notional.id, { qty: new Decimal(1) }))).toMatch(
      /not_cancelable|invalid_order/,
    );
  });

  it("judges the new order by the venue rules without the old one's hold", async () => {
    const { broker } = setup({ cash: 1000, quotes: { spreadBps: 10, passiveFillProbability: 0 } });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 9, limit: 90 }));
    // 9 × 90 = 810 held; 9 × 99 = 891 fits the 1000 once the old hold is gone.
    const n = await broker.replaceOrder(o.id, { limitPrice: new Decimal(99) });
    expect(str(n.limitPrice)).toBe("99");
    expect(
      await codeOf(broker.replaceOrder(n.id, { limitPrice: new Decimal(99), qty: new Decimal(11) })),
    ).toBe("insufficient_buying_power");
    expect(broker.findOrder(n.id)?.status).toBe("new");
  });

  it("fill_before_replace: the rest fills first and the replace is refused", async () => {
    const { broker, o } = await resting();
    broker.script({ kind: "fill_before_replace" });
    expect(await codeOf(broker.replaceOrder(o.id, { limitPrice: new Decimal(95) }))).toBe("not_cancelable");
    const old = broker.findOrder(o.id);
    expect([old?.status, old?.filledQty.toString()]).toEqual(["filled", "5"]);
    expect(old?.filledAvgPrice?.lte(90)).toBe(true);
  });

  it("an ambiguous replace took effect: the reply is lost, the chain shows it", async () => {
    const { broker, o } = await resting();
    broker.script({ kind: "ambiguous", method: "replaceOrder" });
    expect(
      await codeOf(broker.replaceOrder(o.id, { limitPrice: new Decimal(95), clientOrderId: "r-9" })),
    ).toBe("ambiguous");
    expect(broker.findOrder(o.id)?.status).toBe("replaced");
    expect(str((await broker.getOrderByClientOrderId("r-9"))?.limitPrice)).toBe("95");
    expect(broker.calls.replaceOrder).toBe(1);
  });
});
