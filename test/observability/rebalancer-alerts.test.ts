// The `alerts` option of SmartRebalancer on the simulated broker: each rule fires at its
// threshold and not below, and a sink that throws or hangs changes nothing in the run.
import { type Alert, type AlertSink, type RebalancerAlertsOptions, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

function setup(cash: number, alerts: Partial<RebalancerAlertsOptions> = {}, extra = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash,
    positions: { AAA: 100 },
    prices: { AAA: 50, BBB: 20, CCC: 10, DDD: 5, EEE: 8, FFF: 4 },
    latency: { restMs: 10, fillMs: 40 },
  });
  const received: Alert[] = [];
  const sink: AlertSink = { send: (a) => void received.push(a) };
  const rebalancer = new SmartRebalancer({
    broker,
    clock,
    seed: 5,
    alerts: { sinks: [sink], ...alerts },
    ...extra,
  });
  const flush = () => clock.run(rebalancer.alerts?.flush() ?? Promise.resolve());
  return { clock, broker, rebalancer, received, flush };
}

const kinds = (alerts: readonly Alert[]) => alerts.map((a) => a.kind);

describe("SmartRebalancer alerts option", () => {
  it("is silent on a clean run", async () => {
    const { clock, rebalancer, received, flush } = setup(10_000);
    const report = await clock.run(
      rebalancer.rebalance({ quantities: { AAA: 90, BBB: 10 } }, { runId: "r-0" }),
    );
    expect(report.status).toBe("completed");
    await flush();
    expect(received).toEqual([]);
  });

  it("buying_power: fires on a refusal the run resized, not on a run with the cash", async () => {
    for (const [cash, drain, expected] of [
      [1_000, true, ["BBB"]],
      [1_000, false, []],
    ] as const) {
      const { clock, broker, rebalancer, received, flush } = setup(cash);
      let drained = !drain;
      rebalancer.on("order:sending", (e) => {
        if (e.request.side === "buy" && !drained) {
          drained = true;
          broker.outsideTrade("FFF", 240, 4); // the cash goes elsewhere before the buy lands
        }
      });
      await clock.run(rebalancer.rebalance({ quantities: { AAA: 100, BBB: 40 } }, { runId: "r-1" }));
      await flush();
      const bp = received.filter((a) => a.kind === "buying_power");
      expect(bp.map((a) => a.symbol)).toEqual(expected);
      expect(bp.every((a) => a.severity === "warning" && a.runId === "r-1")).toBe(true);
    }
  });

  it("consecutive_failures fires once at its threshold and not when the streak stays below it; halted fires", async () => {
    const run = async (consecutiveFailures: number) => {
      const { clock, broker, rebalancer, received, flush } = setup(100_000, {
        thresholds: { consecutiveFailures },
      });
      broker.script({ kind: "reject_after_accept", times: 20 });
      const report = await clock.run(
        rebalancer.rebalance(
          { quantities: { AAA: 100, BBB: 10, CCC: 10, DDD: 10, EEE: 10, FFF: 10 } },
          { runId: "r-2" },
        ),
      );
      await flush();
      return { report, received };
    };
    const at4 = await run(4);
    // Five failures in a row (the default failure budget) open the circuit breaker.
    expect(at4.report.status).toBe("halted");
    expect(at4.report.orders.filter((o) => o.state === "rejected")).toHaveLength(5);
    const streak = at4.received.filter((a) => a.kind === "consecutive_failures");
    expect(streak.map((a) => a.details.failures)).toEqual([4]);
    expect(at4.received.filter((a) => a.kind === "halted").map((a) => a.severity)).toEqual(["critical"]);

    const at6 = await run(6);
    expect(kinds(at6.received)).not.toContain("consecutive_failures");
    expect(kinds(at6.received)).toContain("halted");
  });

  it("drift fires above the threshold only", async () => {
    const run = async (driftNotional: number) => {
      const { clock, broker, rebalancer, received, flush } = setup(10_000, { thresholds: { driftNotional } });
      let traded = false;
      rebalancer.on("phase", (e) => {
        if (e.phase === "reconcile" && !traded) {
          traded = true;
          broker.outsideTrade("AAA", 3); // $150
          broker.outsideTrade("BBB", 6); // $120
        }
      });
      await clock.run(rebalancer.rebalance({ quantities: { AAA: 90, BBB: 10 } }, { runId: "r-3" }));
      await flush();
      return received.filter((a) => a.kind === "drift").map((a) => [a.symbol, a.details.notionalDiff]);
    };
    expect(await run(100)).toEqual([
      ["AAA", "150"],
      ["BBB", "120"],
    ]);
    expect(await run(130)).toEqual([["AAA", "150"]]);
    expect(await run(150)).toEqual([]);
  });

  it("unresolved_order fires critical when the broker cannot tell an order's final state", async () => {
    const { clock, broker, rebalancer, received, flush } = setup(
      10_000,
      {},
      { finalTimeoutMs: 2_000, tracker: { quietAfterMs: 500, maxStatusChecks: 2 } },
    );
    broker.script({ kind: "stream_drop", times: 50 });
    for (const method of ["getOrder", "getOrderByClientOrderId", "listOrders"] as const) {
      broker.script({ kind: "unavailable", method, times: 1000 });
    }
    const report = await clock.run(
      rebalancer.rebalance({ quantities: { AAA: 100, BBB: 10 } }, { runId: "r-5" }),
    );
    expect(report.orders.map((o) => o.state)).toEqual(["unresolved"]);
    await flush();
    expect(received.filter((a) => a.kind === "unresolved_order").map((a) => [a.symbol, a.severity])).toEqual([
      ["BBB", "critical"],
    ]);
  });

  it("a sink that throws, rejects or never answers changes nothing in the run; flush gives up on it after sinkTimeoutMs", async () => {
    const scenario = async (sinks: AlertSink[] | undefined) => {
      const clock = new VirtualClock();
      const broker = createSimulatedBroker({
        clock,
        cash: 100_000,
        positions: { AAA: 100 },
        prices: { AAA: 50, BBB: 20, CCC: 10, DDD: 5 },
        latency: { restMs: 10, fillMs: 40 },
      });
      broker.script({ kind: "reject_after_accept", times: 3 });
      const errors: unknown[] = [];
      const logger = { debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => void errors.push(a) };
      const rebalancer = new SmartRebalancer({
        broker,
        clock,
        seed: 5,
        logger,
        ...(sinks === undefined ? {} : { alerts: { sinks, sinkTimeoutMs: 5_000 } }),
      });
      const report = await clock.run(
        rebalancer.rebalance({ quantities: { AAA: 100, BBB: 10, CCC: 10, DDD: 10 } }, { runId: "r-6" }),
      );
      return { clock, report, endedAt: clock.now(), rebalancer, errors };
    };
    const plain = await scenario(undefined);
    const got: Alert[] = [];
    const noisy = await scenario([
      {
        send: () => {
          throw new Error("sink down");
        },
      },
      { send: () => Promise.reject(new Error("sink refused")) },
      { send: () => new Promise<void>(() => {}) },
      { send: (a) => void got.push(a) },
    ]);
    // The same run, to the millisecond of the virtual clock, with the same report.
    expect(noisy.endedAt).toBe(plain.endedAt);
    expect(JSON.stringify(noisy.report)).toBe(JSON.stringify(plain.report));
    expect(kinds(got)).toEqual(["consecutive_failures"]);

    const before = noisy.clock.now();
    await noisy.clock.run(noisy.rebalancer.alerts?.flush() ?? Promise.reject(new Error("no alerts")));
    expect(noisy.clock.now() - before).toBeLessThanOrEqual(5_000);
    const logged = JSON.stringify(noisy.errors);
    expect(logged).toContain("sink down");
    expect(logged).toContain("sink refused");
    expect(logged).toContain("did not answer in time");
  });

  it("bad alerts options are a validation error at construction", () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock, cash: 1 });
    for (const alerts of [
      { sinks: [{}] },
      { sinks: [], thresholds: { driftNotional: -1 } },
      { sinks: [], thresholds: { consecutiveFailures: 0 } },
      { sinks: [], thresholds: { unknown: 1 } },
    ]) {
      expect(() => new SmartRebalancer({ broker, clock, alerts: alerts as never })).toThrow(
        expect.objectContaining({ code: "validation" }),
      );
    }
  });
});
