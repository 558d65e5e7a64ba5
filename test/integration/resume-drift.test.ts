import { SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

describe("resume and reconciliation", () => {
  it("an adopted order that fills during the resumed run is expected, not drift to correct", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      seed: 3,
      cash: 0,
      positions: { AAA: 100, BBB: 100 },
      prices: { AAA: 10, BBB: 10 },
      latency: { restMs: 50, fillMs: 5_000 },
    });
    const targets = { weights: { AAA: 0.25, BBB: 0.75 } };
    // The first run sells 50 AAA and crashes while that sell is still working.
    const ac = new AbortController();
    clock.schedule(1_000, () => ac.abort(new Error("crash")));
    await clock
      .run(new SmartRebalancer({ broker, clock }).rebalance(targets, { runId: "r1", signal: ac.signal }))
      .catch(() => undefined);
    expect(broker.orders().filter((o) => o.status !== "filled")).toHaveLength(1);

    // The resume adopts the working sell; it fills during the run. In auto mode a wrongly
    // expected position would be "corrected" by buying the shares back.
    const resumed = new SmartRebalancer({
      broker,
      clock,
      correctionMode: "auto",
      correctionLimits: { maxAutoNotional: 100_000, maxActionsPerRun: 10 },
    });
    const report = await clock.run(resumed.rebalance(targets, { runId: "r1" }));

    expect(report.orders.some((o) => o.adopted && o.symbol === "AAA" && o.state === "filled")).toBe(true);
    expect(report.drift.filter((d) => !d.withinTolerance)).toEqual([]);
    expect(broker.orders().filter((o) => o.symbol === "AAA" && o.side === "buy")).toHaveLength(0);
    expect(broker.truth().positions.get("AAA")?.toString()).toBe("50");
  });
});
