import { type Alert, SmartRebalancer, watchAlerts } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

function setup(cash = 10_000) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash,
    positions: { AAA: 100 },
    prices: { AAA: 50, BBB: 20, CCC: 10, DDD: 5, EEE: 8, FFF: 4 },
    latency: { restMs: 10, fillMs: 40 },
  });
  const rebalancer = new SmartRebalancer({ broker, clock, seed: 5 });
  const received: Alert[] = [];
  const monitor = watchAlerts(rebalancer, { sinks: [{ send: (a) => void received.push(a) }], clock });
  return { clock, broker, rebalancer, received, monitor };
}

describe("watchAlerts", () => {
  it("is silent on a clean run", async () => {
    const { clock, rebalancer, received, monitor } = setup();
    const report = await clock.run(
      rebalancer.rebalance({ quantities: { AAA: 90, BBB: 10 } }, { runId: "a-0" }),
    );
    expect(report.status).toBe("completed");
    await monitor.flush();
    expect(received).toEqual([]);
  });

  it("alerts on a buying-power refusal", async () => {
    const { clock, broker, rebalancer, received, monitor } = setup(1_000);
    // The cash goes elsewhere between the plan and the buy: the broker refuses it.
    let drained = false;
    rebalancer.on("order:sending", (e) => {
      if (e.request.side === "buy" && !drained) {
        drained = true;
        broker.outsideTrade("FFF", 240, 4);
      }
    });
    const report = await clock.run(
      rebalancer.rebalance({ quantities: { AAA: 100, BBB: 40 } }, { runId: "a-1" }),
    );
    // The broker refused the buy; the run resized it to the cash left and retried.
    const refused = report.orders.filter((o) =>
      o.adjustments.some((a) => a.startsWith("insufficient_buying_power")),
    );
    expect(refused.map((o) => o.symbol)).toEqual(["BBB"]);
    await monitor.flush();
    const bp = received.filter((a) => a.kind === "buying_power");
    expect(bp.map((a) => [a.runId, a.symbol, a.severity])).toEqual(
      refused.map((o) => ["a-1", o.symbol, "warning"]),
    );
  });

  it("alerts once per streak of consecutive failures, and when the run halts", async () => {
    const { clock, broker, rebalancer, received, monitor } = setup(100_000);
    broker.script({ kind: "reject_after_accept", times: 20 });
    const report = await clock.run(
      rebalancer.rebalance(
        { quantities: { AAA: 100, BBB: 10, CCC: 10, DDD: 10, EEE: 10, FFF: 10 } },
        { runId: "a-2" },
      ),
    );
    const failed = report.orders.filter((o) => o.state === "rejected");
    expect(failed.length).toBeGreaterThanOrEqual(3);
    await monitor.flush();
    const streaks = received.filter((a) => a.kind === "consecutive_failures");
    expect(streaks).toHaveLength(1);
    expect(streaks[0]?.details.failures).toBe(3);
    // Five failures in a row (the default failure budget) open the circuit breaker.
    expect(report.status).toBe("halted");
    const halted = received.filter((a) => a.kind === "halted");
    expect(halted.map((a) => [a.runId, a.severity])).toEqual([["a-2", "critical"]]);
  });

  it("alerts on drift above $100 found by the run's reconciliation, not below", async () => {
    const { clock, broker, rebalancer, received, monitor } = setup();
    let traded = false;
    rebalancer.on("phase", (e) => {
      if (e.phase === "reconcile" && !traded) {
        traded = true;
        broker.outsideTrade("AAA", 3); // $150
        broker.outsideTrade("BBB", 1); // $20: under the line
      }
    });
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 90, BBB: 10 } }, { runId: "a-3" }));
    await monitor.flush();
    const drift = received.filter((a) => a.kind === "drift");
    expect(drift.map((a) => [a.symbol, a.details.notionalDiff])).toEqual([["AAA", "150"]]);
  });

  it("checkDrifts applies the threshold to drifts found elsewhere; a failing sink is logged, the others still get the alert", async () => {
    const { clock, broker, rebalancer } = setup();
    const errors: unknown[] = [];
    const got: Alert[] = [];
    const monitor = watchAlerts(undefined, {
      sinks: [
        {
          send: () => {
            throw new Error("sink down");
          },
        },
        { send: async (a) => void got.push(a) },
      ],
      driftNotional: 40,
      clock,
      logger: { debug() {}, info() {}, warn() {}, error: (...a) => void errors.push(a) },
    });
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 100 } }, { runId: "a-4" }));
    broker.outsideTrade("AAA", 1);
    const { detectPositionDrift } = await import("ordersafe");
    const drifts = detectPositionDrift({ AAA: 100 }, { AAA: 101 }, { prices: { AAA: 50 } });
    monitor.checkDrifts("reconcile", drifts);
    await monitor.flush();
    expect(got.map((a) => [a.kind, a.runId, a.symbol])).toEqual([["drift", "reconcile", "AAA"]]);
    expect(JSON.stringify(errors)).toContain("sink down");
  });
});

describe("watchAlerts on an unresolved order", () => {
  it("raises a critical alert when the broker cannot tell an order's final state", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      cash: 10_000,
      prices: { BBB: 20 },
      latency: { restMs: 10, fillMs: 40 },
    });
    // The fill never reaches the stream and every order read fails (the order history too:
    // every settled read lists it, and it would tell the fill).
    broker.script({ kind: "stream_drop", times: 50 });
    broker.script({ kind: "unavailable", method: "getOrder", times: 1000 });
    broker.script({ kind: "unavailable", method: "getOrderByClientOrderId", times: 1000 });
    broker.script({ kind: "unavailable", method: "listOrders", times: 1000 });
    const rebalancer = new SmartRebalancer({
      broker,
      clock,
      seed: 5,
      finalTimeoutMs: 2_000,
      tracker: { quietAfterMs: 500, maxStatusChecks: 2 },
    });
    const received: Alert[] = [];
    const monitor = watchAlerts(rebalancer, { sinks: [{ send: (a) => void received.push(a) }], clock });
    const report = await clock.run(rebalancer.rebalance({ quantities: { BBB: 10 } }, { runId: "a-6" }));
    expect(report.orders.map((o) => o.state)).toEqual(["unresolved"]);
    await monitor.flush();
    expect(received.filter((a) => a.kind === "unresolved_order").map((a) => [a.symbol, a.severity])).toEqual([
      ["BBB", "critical"],
    ]);
  });
});
