import { BROKER_METHODS, type BrokerPort, Decimal } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { countingBroker } from "../../src/execution/counting-broker.js";

describe("countingBroker", () => {
  it("counts each REST call and returns the port's answer", async () => {
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({ clock, cash: 1_000, prices: { AAA: 10 }, positions: { AAA: 3 } });
    const counted = countingBroker(sim);
    expect(counted.calls()).toBe(0);
    const account = await clock.run(counted.broker.getAccount());
    expect(account.cash.toFixed()).toBe("1000");
    const position = await clock.run(counted.broker.getPosition("AAA"));
    expect(position?.qty.toFixed()).toBe("3");
    expect(counted.calls()).toBe(2);
    expect(sim.calls.getAccount).toBe(1);
    expect(sim.calls.getPosition).toBe(1);
    expect(counted.broker.id).toBe(sim.id);
    expect(counted.broker.capabilities).toEqual(sim.capabilities);
  });

  it("forwards every REST method with its arguments, counting one call each", async () => {
    const seen: string[] = [];
    const fake = Object.fromEntries(
      BROKER_METHODS.map((m) => [
        m,
        async (...args: unknown[]) => {
          seen.push(`${m}:${args.length}`);
          return null;
        },
      ]),
    );
    const port = {
      id: "fake",
      capabilities: { fractional: true, notionalOrders: true, closePosition: true, orderUpdates: false },
      ...fake,
      subscribeOrderUpdates: () => ({ close() {} }),
    };
    // The fake answers null to everything (not a valid port): enough to check forwarding.
    const counted = countingBroker(port as unknown as BrokerPort);
    const b = counted.broker;
    const signal = new AbortController().signal;
    await b.getAccount({ signal });
    await b.getPositions();
    await b.getPosition("AAA", { signal });
    await b.getAssets(["AAA"]);
    await b.getLatestPrices(["AAA"], { signal });
    await b.getClock();
    await b.submitOrder({
      clientOrderId: "x",
      symbol: "AAA",
      side: "buy",
      type: "market",
      timeInForce: "day",
    });
    await b.getOrder("1");
    await b.getOrderByClientOrderId("x", { signal });
    await b.listOpenOrders();
    await b.cancelOrder("1", { signal });
    await b.closePosition("AAA");
    await b.listOrders?.({ status: "all" }, { signal });
    await b.getLatestQuotes?.(["AAA"], { signal });
    await b.replaceOrder?.("1", { qty: new Decimal(1) }, { signal });
    b.subscribeOrderUpdates({ onUpdate() {} }).close();
    expect(counted.calls()).toBe(BROKER_METHODS.length);
    expect(seen).toEqual([
      "getAccount:1",
      "getPositions:0",
      "getPosition:2",
      "getAssets:1",
      "getLatestPrices:2",
      "getClock:0",
      "submitOrder:1",
      "getOrder:1",
      "getOrderByClientOrderId:2",
      "listOpenOrders:0",
      "cancelOrder:2",
      "closePosition:1",
      "listOrders:2",
      "getLatestQuotes:2",
      "replaceOrder:3",
    ]);
  });

  it("forwards an optional member only when the port has it", () => {
    const sim = createSimulatedBroker();
    const { listOrders: _, ...withoutHistory } = Object.fromEntries(
      BROKER_METHODS.map((m) => [m, () => Promise.resolve(null)]),
    );
    const port = {
      id: "fake",
      capabilities: sim.capabilities,
      ...withoutHistory,
      subscribeOrderUpdates: () => ({ close() {} }),
    };
    expect(countingBroker(port as unknown as BrokerPort).broker.listOrders).toBeUndefined();
  });
});
