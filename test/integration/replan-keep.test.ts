import { SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

describe("SmartRebalancer buy re-plan", () => {
  it("never buys back a symbol it has just trimmed, even when its price falls before the re-read", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      seed: 5,
      cash: 1_000,
      positions: { FNGU: 1500 },
      prices: { FNGU: 33, TECL: 52 },
      latency: { restMs: 20, fillMs: 100 },
    });
    const rebalancer = new SmartRebalancer({ broker, clock });
    // Between the sells and the account re-read FNGU drops 5%: on the new prices FNGU sits
    // under its target weight, which a fresh buy plan would "fix" by buying some back.
    rebalancer.on("phase", (e) => {
      if (e.phase === "reread") broker.setPrice("FNGU", "31.35");
    });
    const report = await clock.run(rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }));

    const fnguOrders = broker.orders().filter((o) => o.symbol === "FNGU");
    expect(fnguOrders.map((o) => o.side)).toEqual(["sell"]);
    expect(report.orders.filter((o) => o.side === "buy").map((o) => o.symbol)).toEqual(["TECL"]);
    expect(report.metrics.roundTrips).toBe(0);
  });

  it("sizes whole-share buys on prices re-read after the sells, not on the ones read before", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      seed: 6,
      cash: 100,
      positions: { FNGU: 1000 },
      prices: { FNGU: 33, TECL: 50 },
      assets: { TECL: { fractionable: false, qtyIncrement: 1 } },
      latency: { restMs: 20, fillMs: 100 },
    });
    // The first buys' sizing is what this test is about: the second buy pass (which would
    // invest what the TECL buy's hold frees, test/integration/buy-pass.test.ts) is off.
    const rebalancer = new SmartRebalancer({ broker, clock, secondBuyPass: false });
    // TECL jumps 10% while the sells fill: a buy sized on $50 would not fit the cash at $55.
    rebalancer.on("phase", (e) => {
      if (e.phase === "reread") broker.setPrice("TECL", 55);
    });
    const report = await clock.run(rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }));

    const tecl = broker.orders().filter((o) => o.symbol === "TECL");
    expect(tecl).toHaveLength(1);
    expect(tecl[0]?.status).toBe("filled");
    expect(report.orders.every((o) => o.errorCode !== "insufficient_buying_power")).toBe(true);
    // It bought as many whole shares as the real cash allows at the new price.
    const cashAfterSells = broker.orders()[0]?.filledQty.times(33).plus(100);
    const affordable = cashAfterSells?.div("56.65").floor();
    expect(tecl[0]?.qty?.toNumber()).toBeLessThanOrEqual(affordable?.toNumber() ?? 0);
    expect(broker.truth().cash.gte(0)).toBe(true);
  });
});
