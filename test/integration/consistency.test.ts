// Orders are the truth: position and account reads that lag the order book (here a port
// whose reads come from a cache refreshed every second, another implementation of lag than the
// simulated broker's) never decide a sale, a buy, a resume or a correction before they show
// every fill the library knows. docs/consistency.md.

import { type BrokerPort, type RebalanceReport, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, type SimulatedBrokerOptions, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { laggingReplica } from "./helpers/lagging-port.js";

function setup(options: SimulatedBrokerOptions = {}, refreshMs = 1_000) {
  const clock = new VirtualClock();
  const sim = createSimulatedBroker({
    clock,
    seed: 3,
    cash: 0,
    positions: { AAA: 100 },
    prices: { AAA: 10, BBB: 10 },
    latency: { restMs: 20, fillMs: 100 },
    ...options,
  });
  const replica = laggingReplica(sim, clock, refreshMs);
  /** A port as a new process would make it (nothing known to the library), on the same replica. */
  const newPort = (): BrokerPort => replica.port();
  return { clock, sim, port: newPort(), newPort };
}

const held = (sim: { truth(): { positions: Map<string, { toString(): string }> } }, s: string) =>
  sim.truth().positions.get(s)?.toString() ?? "0";

const sells = (sim: ReturnType<typeof createSimulatedBroker>, symbol: string) =>
  sim.orders().filter((o) => o.symbol === symbol && o.side === "sell" && o.status !== "rejected");

describe("orders are the truth", () => {
  it("a resume after the sell filled sells nothing more while the positions read lags", async () => {
    const { clock, sim, port, newPort } = setup();
    const targets = { weights: { AAA: 0.5 } };
    const ac = new AbortController();
    // The sell fills about 350 ms in; the crash comes while the run reconciles.
    clock.schedule(700, () => ac.abort(new Error("crash")));
    await clock
      .run(
        new SmartRebalancer({ broker: port, clock }).rebalance(targets, { runId: "r1", signal: ac.signal }),
      )
      .catch(() => undefined);
    expect(sells(sim, "AAA").map((o) => o.status)).toEqual(["filled"]);
    // A new process resumes: its positions read still shows 100 AAA for up to a second.
    const report = await clock.run(
      new SmartRebalancer({ broker: newPort(), clock }).rebalance(targets, { runId: "r1" }),
    );
    expect(sells(sim, "AAA")).toHaveLength(1);
    expect(held(sim, "AAA")).toBe("50");
    expect(report.metrics.ordersSubmitted).toBe(0);
  });

  it("a second rebalance right after a completed one sends nothing, in the same process", async () => {
    const { clock, sim, port } = setup({ cash: 1_000 });
    const targets = { weights: { AAA: 0.3, BBB: 0.6 } };
    const rebalancer = new SmartRebalancer({ broker: port, clock });
    const first = await clock.run(rebalancer.rebalance(targets));
    expect(first.metrics.ordersFilled).toBe(2);
    const placed = sim.orders().length;
    const second = await clock.run(rebalancer.rebalance(targets));
    expect(sim.orders()).toHaveLength(placed);
    expect(second.metrics.ordersSubmitted).toBe(0);
    // A new instance on the same port is the same process: the same record.
    const third = await clock.run(new SmartRebalancer({ broker: port, clock }).rebalance(targets));
    expect(sim.orders()).toHaveLength(placed);
    expect(third.metrics.ordersSubmitted).toBe(0);
  });

  it("a second rebalance right after the first one's orders filled sends nothing, in a new process", async () => {
    const { clock, sim, port, newPort } = setup({ cash: 1_000 });
    const targets = { weights: { AAA: 0.3, BBB: 0.6 } };
    // The first process is stopped once its orders filled, while its reads still lag them.
    const ac = new AbortController();
    const first = new SmartRebalancer({ broker: port, clock });
    first.on("phase", (e) => {
      if (e.phase === "reconcile") ac.abort(new Error("stopped"));
    });
    await clock.run(first.rebalance(targets, { signal: ac.signal })).catch(() => undefined);
    const placed = sim.orders().length;
    expect(sim.orders().map((o) => o.status)).toEqual(["filled", "filled"]);
    const again = await clock.run(new SmartRebalancer({ broker: newPort(), clock }).rebalance(targets));
    expect(sim.orders()).toHaveLength(placed);
    expect(again.metrics.ordersSubmitted).toBe(0);
  });

  it("auto correction trades nothing when only the reads lag", async () => {
    const { clock, sim, port } = setup();
    const report = await clock.run(
      new SmartRebalancer({ broker: port, clock, correctionMode: "auto" }).rebalance({
        weights: { AAA: 0.5 },
      }),
    );
    expect(sells(sim, "AAA")).toHaveLength(1);
    expect(held(sim, "AAA")).toBe("50");
    expect(report.drift.filter((d) => !d.withinTolerance)).toEqual([]);
    expect(report.corrections).toBeUndefined();
  });

  it("sizes the buys from the sells' proceeds while the account read lags", async () => {
    const { clock, sim, port } = setup();
    const report = await clock.run(
      new SmartRebalancer({ broker: port, clock }).rebalance({ weights: { AAA: 0.5, BBB: 0.4 } }),
    );
    // $1,000 of equity: $500 of AAA sold, $400 of BBB bought from it (less the 0.25% buffer).
    const bbb = report.orders.find((o) => o.symbol === "BBB");
    expect(bbb?.state).toBe("filled");
    expect(bbb?.filledNotional.toNumber()).toBeGreaterThan(395);
    expect(held(sim, "AAA")).toBe("50");
    expect(
      report.adjustments.filter((a) => a.reason === "insufficient_cash" || a.reason === "shrunk"),
    ).toEqual([]);
  });
  it("a lagging read that matches the run's own fills only because another app traded the same shares is not trusted", async () => {
    // Our buy of 50 AAA fills at about 2 s; another app buys 50 AAA at 0.5 s. A read cached
    // at 1.5 s shows the other app's 50 and not ours: by the run's own fills alone it looks
    // settled. The order history tells the two apart.
    const { clock, sim, port } = setup({
      cash: 1_000,
      positions: {},
      latency: { restMs: 20, fillMs: 2_000 },
    });
    clock.schedule(500, () => sim.outsideTrade("AAA", 50));
    // Someone reads the replica at 1.5 s: it caches the state of then for a second.
    clock.schedule(1_500, () => void port.getPositions());
    const report = await clock.run(
      new SmartRebalancer({ broker: port, clock }).rebalance({ weights: { AAA: 0.5 } }),
    );
    expect(report.orders.map((o) => `${o.symbol}:${o.side}:${o.state}:${o.filledQty}`)).toEqual([
      "AAA:buy:filled:50",
    ]);
    expect(held(sim, "AAA")).toBe("100");
    expect(report.positionsAfter.find((p) => p.symbol === "AAA")?.qty.toString()).toBe("100");
  });
});

describe("orders of this run are this run's", () => {
  it("an order found by its client order id after an ambiguous submit counts like any other", async () => {
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({
      clock,
      seed: 4,
      cash: 0,
      positions: { AAA: 100 },
      prices: { AAA: 10, BBB: 10 },
      latency: { restMs: 20, fillMs: 100 },
    });
    sim.script({ kind: "ambiguous", method: "submitOrder" });
    const report: RebalanceReport = await clock.run(
      new SmartRebalancer({ broker: sim, clock }).rebalance({ weights: { AAA: 0.5, BBB: 0.4 } }),
    );
    const aaa = report.orders.find((o) => o.symbol === "AAA");
    expect(aaa?.state).toBe("filled");
    expect(aaa?.recovered).toBe(true);
    expect(aaa?.adopted).toBe(false);
    expect(report.metrics.ordersRecovered).toBe(1);
    expect(report.metrics.turnover.toNumber()).toBeGreaterThan(500 + 390);
    expect(report.drift.filter((d) => !d.withinTolerance)).toEqual([]);
    expect(report.adjustments.filter((a) => a.reason.startsWith("drift_"))).toEqual([]);
    expect(report.status).toBe("completed");
  });

  it("a fill that lands after a cancel while the run goes on is reported, counted and expected", async () => {
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({
      clock,
      seed: 5,
      cash: 500,
      positions: { AAA: 100 },
      prices: { AAA: 10, BBB: 10 },
      // Every order fills in three parts a second apart: each outlives the 1.5 s wait and is
      // cancelled with part of it filled; the first cancel is followed by a late fill, which
      // lands while the buy is still working.
      latency: { restMs: 20, fillMs: 1_000 },
      partialFills: { probability: 1, parts: 3 },
    });
    sim.script({ kind: "fill_after_cancel" });
    const report = await clock.run(
      new SmartRebalancer({
        broker: sim,
        clock,
        finalTimeoutMs: 1_500,
        tracker: { maxStatusChecks: 1 },
      }).rebalance({
        weights: { AAA: 0.5, BBB: 0.45 },
      }),
    );
    const atReturn = new Map(sim.orders().map((o) => [o.id, o]));
    const late = sim.eventLog().filter((e) => e.type === "fill" && e.late === true);
    expect(late).toHaveLength(1);
    for (const o of report.orders) {
      const b = atReturn.get(o.orderId ?? "");
      expect(o.filledQty.toFixed(), o.clientOrderId).toBe(b?.filledQty.toFixed());
      expect(o.state, o.clientOrderId).toBe(b?.status);
    }
    const lateOrder = report.orders.find((o) => o.orderId === late[0]?.orderId);
    expect(lateOrder?.state).toBe("filled");
    expect(report.drift.filter((d) => !d.withinTolerance)).toEqual([]);
  });
});
