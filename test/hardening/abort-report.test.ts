// Aborting a rebalance while sells are in flight: the error is typed (its report is a
// RebalanceReport), and the partial report lists every order that ended and every order
// still working: nothing the broker holds is missing.

import { isRebalanceAbortedError, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

describe("abort while sells are in flight", () => {
  it("rejects with a typed error whose partial report lists every ended and working order", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      seed: 5,
      cash: 0,
      positions: { AAA: 100, BBB: 100, CCC: 100 },
      prices: { AAA: 10, BBB: 10, CCC: 10 },
      latency: { restMs: 5, fillMs: 50 },
    });
    // One sell's submit takes 10 s: it is still in flight when the run is aborted.
    broker.script({ kind: "latency_spike", method: "submitOrder", ms: 10_000 });
    const ac = new AbortController();
    clock.schedule(2_000, () => ac.abort());
    const rebalancer = new SmartRebalancer({ broker, clock, seed: 1 });
    let caught: unknown;
    try {
      await clock.run(
        rebalancer.rebalance({ weights: { AAA: 0.1, BBB: 0.1, CCC: 0.1 } }, { signal: ac.signal }),
      );
    } catch (e) {
      caught = e;
    }
    expect(isRebalanceAbortedError(caught)).toBe(true);
    if (!isRebalanceAbortedError(caught)) return;
    expect(caught.code).toBe("aborted");
    const report = caught.report;
    expect(caught.details.report).toBe(report);
    expect(report.runId).toBe(caught.details.runId);
    expect(report.status).toBe("failed");

    const ended = report.orders.filter((o) => o.state === "filled");
    expect(ended.length).toBeGreaterThanOrEqual(1);
    expect(report.working.length).toBeGreaterThanOrEqual(1);
    // Every order the broker holds for the run is listed, ended or working, exactly once.
    const listed = [
      ...report.orders.map((o) => o.clientOrderId),
      ...report.working.map((w) => w.clientOrderId),
    ];
    expect(new Set(listed).size).toBe(listed.length);
    await clock.advance(20_000);
    for (const o of broker.orders()) expect(listed).toContain(o.clientOrderId);
    expect(listed).toHaveLength(3);
  });
});
