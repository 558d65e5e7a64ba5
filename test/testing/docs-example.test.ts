import { type BrokerPort, type Clock, Decimal } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { expect, it } from "vitest";

// The example of docs/testing.md, kept running.

async function buyDip(broker: BrokerPort, clock: Clock, symbol: string, dollars: number) {
  const order = await broker.submitOrder({
    clientOrderId: `dip-${symbol}-${dollars}-${clock.now()}`,
    symbol,
    side: "buy",
    type: "market",
    timeInForce: "day",
    notional: new Decimal(dollars),
  });
  for (;;) {
    const now = await broker.getOrder(order.id);
    if (now && ["filled", "canceled", "expired", "rejected"].includes(now.status)) return now;
    await clock.sleep(100);
  }
}

it("buys the dip (docs/testing.md)", async () => {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 1_000,
    prices: { TECL: 52.6 },
    latency: { restMs: 40, fillMs: 250, streamMs: 10 },
  });
  const order = await clock.run(buyDip(broker, clock, "TECL", 500));
  expect(order.status).toBe("filled");
  expect(broker.truth().positions.get("TECL")?.toString()).toBe("9.505703422");
  expect(broker.calls.submitOrder).toBe(1);
});

it("replays a faulty run byte for byte (docs/testing.md)", async () => {
  const run = async (seed: number) => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock, seed, prices: { TECL: 52.6 }, faults: { ambiguous: 0.2 } });
    for (let i = 0; i < 10; i++) {
      await clock
        .run(buyDip(broker, clock, "TECL", 10 + i))
        .catch((e: { code?: string }) => expect(e.code).toBe("ambiguous"));
    }
    return JSON.stringify(broker.eventLog());
  };
  expect(await run(7)).toBe(await run(7));
});

it("no stream callback runs before subscribeOrderUpdates returns", async () => {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({ clock, latency: { streamMs: 20 } });
  const statuses: string[] = [];
  broker.subscribeOrderUpdates({ onUpdate: () => {}, onStatus: (s) => statuses.push(s) });
  expect(statuses).toEqual([]);
  await clock.advance(0);
  expect(statuses).toEqual(["connecting"]);
  await clock.advance(20);
  expect(statuses).toEqual(["connecting", "connected"]);
});
