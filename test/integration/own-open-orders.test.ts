import { Decimal, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// Orders an earlier run left working (ordersafe client order ids, resting limits that have
// not filled yet): one past the target, one against it on a symbol that needs no leg. Left
// to fill, each would make the next run trade its symbol back.

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 3,
    cash: 10_000,
    positions: { AAA: 100, BBB: 50 },
    prices: { AAA: 100, BBB: 100 },
    assets: { AAA: { fractionable: false, qtyIncrement: 1 }, BBB: { fractionable: false, qtyIncrement: 1 } },
    latency: { restMs: 20, fillMs: 100 },
  });
  return { clock, broker };
}

const limit = (clientOrderId: string, symbol: string, side: "buy" | "sell", qty: number, price: number) => ({
  clientOrderId,
  symbol,
  side,
  type: "limit" as const,
  timeInForce: "day" as const,
  qty: new Decimal(qty),
  limitPrice: new Decimal(price),
});

describe("our own open orders from an earlier run", () => {
  it("are cancelled and confirmed before planning when past the target or against it", async () => {
    const { clock, broker } = setup();
    // Target: AAA 120 shares, BBB 50 (held). An earlier run's buy of 60 AAA would end at 160;
    // its sell of 10 BBB would leave 40.
    await clock.run(broker.submitOrder(limit("os-earlier-AAA-b0-aaaaaaaaaaaaaaaa", "AAA", "buy", 60, 1)));
    await clock.run(
      broker.submitOrder(limit("os-earlier-BBB-s0-bbbbbbbbbbbbbbbb", "BBB", "sell", 10, 1_000)),
    );
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance({ quantities: { AAA: 120, BBB: 50 } }),
    );
    const status = (id: string) => broker.orders().find((o) => o.clientOrderId === id)?.status;
    expect(status("os-earlier-AAA-b0-aaaaaaaaaaaaaaaa")).toBe("canceled");
    expect(status("os-earlier-BBB-s0-bbbbbbbbbbbbbbbb")).toBe("canceled");
    // AAA is bought from what is held (20), not left to the earlier buy.
    const aaa = report.orders.filter((o) => o.symbol === "AAA");
    expect(aaa.map((o) => [o.side, o.filledQty.toFixed()])).toEqual([["buy", "20"]]);
    expect(report.orders.some((o) => o.symbol === "BBB")).toBe(false);
    const held = broker.truth().positions;
    expect(held.get("AAA")?.toFixed()).toBe("120");
    expect(held.get("BBB")?.toFixed()).toBe("50");
  });

  it("leaves someone else's resting orders alone unless a leg trades against them", async () => {
    const { clock, broker } = setup();
    await clock.run(broker.submitOrder(limit("manual-take-profit", "BBB", "sell", 10, 1_000)));
    await clock.run(new SmartRebalancer({ broker, clock }).rebalance({ quantities: { AAA: 120, BBB: 50 } }));
    expect(broker.orders().find((o) => o.clientOrderId === "manual-take-profit")?.status).toBe("new");
  });
});
