import { SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

describe("resume against a positions read older than it looks", () => {
  it("never sells again what a crashed run's order sold after the state that read showed", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      seed: 9,
      cash: 0,
      positions: { AAA: 100, BBB: 100 },
      prices: { AAA: 10, BBB: 10 },
      latency: { restMs: 50, fillMs: 1_000 },
    });
    const targets = { weights: { AAA: 0.25, BBB: 0.75 } };

    // The first run places its AAA sell and crashes before it fills.
    const ac = new AbortController();
    clock.schedule(300, () => ac.abort(new Error("crash")));
    await clock
      .run(new SmartRebalancer({ broker, clock }).rebalance(targets, { runId: "lag", signal: ac.signal }))
      .catch(() => undefined);
    await clock.advance(1_500); // the crashed sell fills meanwhile
    expect(broker.orders().map((o) => o.status)).toEqual(["filled"]);

    // The resume's positions read lags: it still shows 100 AAA, while the open-order list no
    // longer has the sell. The resume learns the sell from the order history before it plans,
    // and its reads must show that fill before they are used.
    broker.script({ kind: "stale_reads", method: "getPositions", ms: 2_000, times: 1 });
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance(targets, { runId: "lag" }),
    );

    expect(broker.orders().filter((o) => o.symbol === "AAA" && o.side === "sell")).toHaveLength(1);
    expect(broker.truth().positions.get("AAA")?.toString()).toBe("50");
    expect(report.orders.find((o) => o.symbol === "AAA")?.adopted).toBe(true);
    expect(report.metrics.ordersSubmitted).toBeLessThanOrEqual(1); // only BBB's buy, if any
  });
});
