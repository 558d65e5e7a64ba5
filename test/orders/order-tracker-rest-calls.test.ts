import { Decimal, type OrderRequest, OrderTracker, type OrderTrackerOptions } from "ordersafe";
import { createSimulatedBroker, type SimulatedBrokerOptions, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

/** REST calls the tracker makes per tracked order (beyond the submit), in measured scenarios. */
async function measure(
  n: number,
  sim: SimulatedBrokerOptions,
  opts: Partial<OrderTrackerOptions>,
  before: (b: ReturnType<typeof createSimulatedBroker>) => void,
  order: (i: number) => Partial<OrderRequest> = () => ({}),
  during?: (b: ReturnType<typeof createSimulatedBroker>, clock: VirtualClock) => Promise<void>,
) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000_000,
    prices: { TECL: 50 },
    latency: { restMs: 20, fillMs: 300, streamMs: 10 },
    partialFills: { probability: 0.5, parts: 3 },
    ...sim,
  });
  const tracker = new OrderTracker({ broker, clock, ...opts });
  await clock.run(tracker.waitForHealthyStream());
  before(broker);
  broker.resetCalls();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `m-${i}`;
    const req: OrderRequest = {
      clientOrderId: id,
      symbol: "TECL",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(3),
      ...order(i),
    };
    tracker.track(await clock.run(broker.submitOrder(req)));
    ids.push(id);
  }
  const waiting = Promise.all(ids.map((id) => tracker.waitForFinal(id, { timeoutMs: 600_000 })));
  if (during) await during(broker, clock);
  const finals = await clock.run(waiting);
  await clock.advance(120_000);
  const s = tracker.stats();
  tracker.close();
  const perOrder = Object.values(s.restCallsByOrder);
  return {
    statuses: new Set(finals.map((f) => f.status)),
    submits: broker.calls.submitOrder,
    perOrderMax: Math.max(...perOrder),
    perOrderTotal: perOrder.reduce((a, b) => a + b, 0),
    listOpenOrders: s.listOpenOrdersCalls,
    brokerReads: broker.calls.getOrder + broker.calls.getOrderByClientOrderId + broker.calls.listOpenOrders,
  };
}

describe("REST calls per tracked order", () => {
  it("healthy stream: none beyond the submit", async () => {
    const m = await measure(50, {}, {}, () => {});
    expect(m.statuses).toEqual(new Set(["filled"]));
    expect(m.submits).toBe(50);
    expect(m.perOrderMax).toBe(0);
    expect(m.brokerReads).toBe(0);
  });

  it("stream down for the orders' whole life: one read per order per poll while open, plus one open-orders list on reconnect", async () => {
    const m = await measure(50, {}, { pollIntervalMs: 2_000 }, (b) => b.disconnectStream(60_000));
    expect(m.statuses).toEqual(new Set(["filled"]));
    // Market orders fill within the first poll interval: one getOrder each.
    expect(m.perOrderMax).toBe(1);
    expect(m.perOrderTotal).toBe(50);
    expect(m.listOpenOrders).toBe(1);
    expect(m.brokerReads).toBe(51);
  });

  it("stream down while limit orders rest for 30 s: a read every pollIntervalMs per open order", async () => {
    const m = await measure(
      10,
      {},
      { pollIntervalMs: 2_000 },
      (b) => b.disconnectStream(120_000),
      () => ({ type: "limit", limitPrice: new Decimal(45) }),
      async (b, clock) => {
        await clock.advance(30_000);
        b.setPrice("TECL", 44);
      },
    );
    expect(m.statuses).toEqual(new Set(["filled"]));
    expect(m.perOrderMax).toBe(16);
    expect(m.perOrderTotal).toBe(160);
  });

  it("connected but silent stream: one quiet check per order", async () => {
    const m = await measure(20, {}, { quietAfterMs: 15_000 }, (b) =>
      b.script({ kind: "stream_silence", ms: 600_000 }),
    );
    expect(m.statuses).toEqual(new Set(["filled"]));
    expect(m.perOrderMax).toBe(1);
    expect(m.brokerReads).toBe(20);
  });
});
