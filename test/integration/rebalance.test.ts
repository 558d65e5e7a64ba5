import fc from "fast-check";
import { Decimal, isOrdersafeError, type RebalanceReport, reportToJSON, SmartRebalancer } from "ordersafe";
import {
  createSimulatedBroker,
  SIM_FAULT_KINDS,
  type SimulatedBroker,
  VirtualClock,
} from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const FINAL = [
  "filled",
  "canceled",
  "expired",
  "rejected",
  "replaced",
  "done_for_day",
  "submit_failed",
  "unresolved",
];

function incident(extra: Parameters<typeof createSimulatedBroker>[0] = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 11,
    cash: "3432.62",
    positions: { FNGU: "1591.166892" },
    prices: { FNGU: "33.05", TECL: "52.60" },
    latency: { restMs: 50, fillMs: 200 },
    ...extra,
  });
  return { clock, broker };
}

function qtyOf(report: RebalanceReport, symbol: string): Decimal {
  return report.positionsAfter.find((p) => p.symbol === symbol)?.qty ?? new Decimal(0);
}

function rejectedFor(broker: SimulatedBroker, code: string): number {
  return broker.eventLog().filter((e) => JSON.stringify(e).includes(code)).length;
}

describe("SmartRebalancer on the simulated broker", () => {
  it("the incident: trims FNGU, buys TECL from the real cash, no buying-power rejection, the silent fill reported filled", async () => {
    const { clock, broker } = incident();
    // The FNGU fill never arrives on the stream: the old bot called this order "timeout".
    broker.script({ kind: "stream_drop", times: 2 });
    const rebalancer = new SmartRebalancer({ broker, clock, tracker: { quietAfterMs: 2_000 } });
    const report = await clock.run(rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }));

    expect(report.status).toBe("completed");
    const sells = report.orders.filter((o) => o.side === "sell");
    const buys = report.orders.filter((o) => o.side === "buy");
    expect(sells).toHaveLength(1);
    expect(sells[0]?.symbol).toBe("FNGU");
    expect(sells[0]?.state).toBe("filled");
    // trimmed, not liquidated
    expect(qtyOf(report, "FNGU").gt(700)).toBe(true);
    expect(qtyOf(report, "FNGU").lt("1591.166892")).toBe(true);
    expect(buys.map((o) => [o.symbol, o.state])).toEqual([["TECL", "filled"]]);
    expect(qtyOf(report, "TECL").gt(0)).toBe(true);
    for (const o of report.orders) expect(FINAL).toContain(o.state);
    expect(report.metrics.buyingPowerRejections).toBe(0);
    expect(rejectedFor(broker, "insufficient_buying_power")).toBe(0);
    expect(report.metrics.roundTrips).toBe(0);
    expect(report.metrics.savedTurnover.gt(report.metrics.turnover.times(0.9))).toBe(true);
    expect(broker.orders().every((o) => FINAL.includes(o.status))).toBe(true);
    expect(report.drift.every((d) => d.withinTolerance)).toBe(true);
    // JSON-serializable with decimals as strings
    const json = JSON.parse(JSON.stringify(reportToJSON(report)));
    expect(typeof json.metrics.turnover).toBe("string");
    expect(json.orders[0].state).toBe("filled");
  });

  it("is deterministic: the same seed gives the same report", async () => {
    const run = async () => {
      const { clock, broker } = incident({ faults: { stream_drop: 0.3, unavailable: 0.1 } });
      const r = await clock.run(
        new SmartRebalancer({ broker, clock, seed: 5 }).rebalance(
          { weights: { FNGU: 0.4, TECL: 0.6 } },
          { runId: "det" },
        ),
      );
      return JSON.stringify(reportToJSON(r));
    };
    expect(await run()).toBe(await run());
  });

  it("partial fills: every order still ends filled and the totals add up", async () => {
    const { clock, broker } = incident({ partialFills: { probability: 1, parts: 3 } });
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }),
    );
    expect(report.status).toBe("completed");
    for (const o of report.orders) expect(o.state).toBe("filled");
    const truth = broker.truth();
    expect(truth.positions.get("TECL")?.toString()).toBe(qtyOf(report, "TECL").toString());
    expect(report.drift.every((d) => d.withinTolerance)).toBe(true);
  });

  it("market closed: nothing is sent and the report says why", async () => {
    const { clock, broker } = incident({ marketOpen: false });
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }),
    );
    expect(report.status).toBe("failed");
    expect(report.error?.code).toBe("market_closed");
    expect(broker.calls.submitOrder).toBe(0);
    expect(report.adjustments.every((a) => a.reason === "market_closed")).toBe(true);
  });

  it("wash-trade conflicts: an opposite-side open order is cancelled and confirmed before the sell", async () => {
    const { clock, broker } = incident();
    await clock.run(
      broker.submitOrder({
        clientOrderId: "manual-buy-1",
        symbol: "FNGU",
        side: "buy",
        type: "limit",
        timeInForce: "day",
        qty: new Decimal(5),
        limitPrice: new Decimal(1),
      }),
    );
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }),
    );
    expect(broker.orders().find((o) => o.clientOrderId === "manual-buy-1")?.status).toBe("canceled");
    expect(rejectedFor(broker, "wash_trade")).toBe(0);
    expect(report.orders.filter((o) => o.state === "filled").map((o) => o.symbol)).toEqual(["FNGU", "TECL"]);
    expect(report.status).toBe("completed");
  });

  it("insufficient quantity after an outside sale: the sell is capped at what is there", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      cash: 1_000,
      positions: { AAA: 10, BBB: 10 },
      prices: { AAA: 100, BBB: 100 },
      latency: { restMs: 50, fillMs: 200 },
    });
    // After the fresh reads and before the sell: someone sells 4 AAA outside the bot.
    const rebalancer = new SmartRebalancer({ broker, clock });
    let traded = false;
    rebalancer.on("phase", (e) => {
      if (e.phase === "sells" && !traded) {
        traded = true;
        broker.outsideTrade("AAA", -4);
      }
    });
    const report = await clock.run(rebalancer.rebalance({ weights: { BBB: 0.5 } }, { runId: "outside" }));
    expect(traded).toBe(true);
    const aaa = report.orders.find((o) => o.symbol === "AAA");
    expect(aaa?.state).toBe("filled");
    expect(aaa?.filledQty.toString()).toBe("6");
    expect(aaa?.adjustments.join(" ")).toContain("insufficient_quantity");
    expect(broker.truth().positions.get("AAA")?.toString() ?? "0").toBe("0");
    expect(report.status).toBe("completed_adjusted");
  });

  it("a dry run sends nothing", async () => {
    const { clock, broker } = incident();
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance(
        { weights: { FNGU: 0.5, TECL: 0.5 } },
        { dryRun: true },
      ),
    );
    expect(report.dryRun).toBe(true);
    expect(report.plan?.legs.length).toBe(2);
    expect(report.orders).toHaveLength(0);
    expect(broker.calls.submitOrder + broker.calls.cancelOrder + broker.calls.closePosition).toBe(0);
    expect(broker.orders()).toHaveLength(0);
  });

  it("a crash mid-run and a resume with the same runId place no duplicate order", async () => {
    const { clock, broker } = incident({ latency: { restMs: 50, fillMs: 3_000 } });
    const ac = new AbortController();
    // Before its first order a named run reads the order history for an earlier attempt.
    clock.schedule(600, () => ac.abort(new Error("crash")));
    const first = new SmartRebalancer({ broker, clock });
    const err = await clock
      .run(first.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }, { runId: "crash-1", signal: ac.signal }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isOrdersafeError(err) && err.code).toBe("aborted");
    expect(broker.orders()).toHaveLength(1); // the FNGU sell was placed before the crash

    const second = new SmartRebalancer({ broker, clock });
    const report = await clock.run(
      second.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }, { runId: "crash-1" }),
    );
    const all = broker.orders();
    const ids = all.map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.filter((o) => o.symbol === "FNGU" && o.side === "sell")).toHaveLength(1);
    expect(all.filter((o) => o.symbol === "TECL" && o.side === "buy")).toHaveLength(1);
    expect(report.metrics.ordersAdopted).toBe(1);
    expect(report.orders.find((o) => o.adopted)?.state).toBe("filled");
    expect(report.status).toBe("completed_adjusted");
    expect(qtyOf(report, "TECL").gt(0)).toBe(true);

    // A third run with the same id finds everything done: no new order.
    const third = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance(
        { weights: { FNGU: 0.5, TECL: 0.5 } },
        { runId: "crash-1" },
      ),
    );
    expect(broker.orders()).toHaveLength(2);
    expect(third.metrics.ordersSubmitted).toBe(0);
  });

  it("the circuit breaker halts new submissions after consecutive failures", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      cash: 0,
      positions: { A: 10, B: 10, C: 10, D: 10 },
      prices: { A: 10, B: 10, C: 10, D: 10, E: 10 },
      latency: { restMs: 10, fillMs: 50 },
    });
    broker.script({ kind: "unavailable", method: "submitOrder", times: 1_000 });
    const rebalancer = new SmartRebalancer({
      broker,
      clock,
      concurrency: 1,
      failureBudget: 2,
      maxRetries: 1,
    });
    const halted: number[] = [];
    rebalancer.on("halted", (e) => halted.push(e.consecutiveFailures));
    const report = await clock.run(rebalancer.rebalance({ weights: { E: 0.9 } }));
    expect(report.status).toBe("halted");
    expect(report.error?.code).toBe("halted");
    expect(halted).toEqual([2]);
    expect(broker.calls.submitOrder).toBe(4); // two orders × (1 + 1 retry), then nothing
    expect(report.orders.filter((o) => o.errorCode === "halted")).toHaveLength(2);
    expect(report.orders.some((o) => o.side === "buy")).toBe(false);
    expect(report.positionsAfter.length).toBe(4); // the full reconciliation read
  });

  for (const mode of ["report", "approve", "auto"] as const) {
    it(`drift after an outside trade is reported; correction mode ${mode} trades only when allowed`, async () => {
      const clock = new VirtualClock();
      const broker = createSimulatedBroker({
        clock,
        cash: 1_000,
        positions: { A: 10, B: 10 },
        prices: { A: 100, B: 100, C: 100 },
        latency: { restMs: 50, fillMs: 200 },
      });
      const asked: string[] = [];
      const rebalancer = new SmartRebalancer({
        broker,
        clock,
        correctionMode: mode,
        approve: (a) => {
          asked.push(a.symbol);
          return false;
        },
        correctionLimits: { maxAutoNotional: 1_000 },
      });
      // Someone sells 3 B while the run buys: after its reads, before its reconciliation.
      rebalancer.on("phase", (e) => {
        if (e.phase === "buys") broker.outsideTrade("B", -3);
      });
      const drifts: string[] = [];
      rebalancer.on("drift", (e) => drifts.push(...e.drifts.map((d) => d.symbol)));
      const report = await clock.run(rebalancer.rebalance({ weights: { A: 0.3, B: 0.3, C: 0.3 } }));
      expect(drifts).toEqual(["B"]);
      expect(report.status).toBe("completed_adjusted");
      expect(report.adjustments.some((a) => a.symbol === "B" && a.reason.startsWith("drift_"))).toBe(true);
      const planned = report.plan?.legs.length ?? 0;
      if (mode === "auto") {
        expect(broker.calls.submitOrder).toBe(planned + 1);
        expect(report.corrections?.actions[0]?.status).toBe("applied");
      } else {
        expect(broker.calls.submitOrder).toBe(planned);
        expect(asked).toEqual(mode === "approve" ? ["B"] : []);
      }
    });
  }

  it("executeRebalance moves one symbol from the broker's quantity to the target", async () => {
    const { clock, broker } = incident();
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).executeRebalance("FNGU", "711", "800"),
    );
    expect(report.orders).toHaveLength(1);
    expect(report.orders[0]?.side).toBe("sell");
    expect(qtyOf(report, "FNGU").toString()).toBe("800");
    expect(report.adjustments.some((a) => a.reason === "stale_belief")).toBe(true);
  });

  it("emits typed events in phase order", async () => {
    const { clock, broker } = incident();
    const rebalancer = new SmartRebalancer({ broker, clock });
    const phases: string[] = [];
    const finals: string[] = [];
    let submitted = 0;
    let done = 0;
    rebalancer.on("phase", (e) => phases.push(e.phase));
    rebalancer.on("order:submitted", () => submitted++);
    rebalancer.on("order:final", (e) => finals.push(`${e.outcome.symbol}:${e.outcome.state}`));
    rebalancer.on("done", () => done++);
    await clock.run(rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }));
    expect(phases).toEqual(["read", "plan", "sells", "reread", "replan_buys", "buys", "reconcile", "done"]);
    expect(finals).toEqual(["FNGU:filled", "TECL:filled"]);
    expect(submitted).toBe(2);
    expect(done).toBe(1);
  });

  it("rejects bad targets and options before anything is sent", async () => {
    const { clock, broker } = incident();
    expect(() => new SmartRebalancer({ broker, clock, concurrency: 0 })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => new SmartRebalancer({ broker, clock, planner: { nope: 1 } as never })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    const rebalancer = new SmartRebalancer({ broker, clock });
    await expect(
      clock.run(rebalancer.rebalance({ weights: { FNGU: 0.7, TECL: 0.7 } })),
    ).rejects.toMatchObject({
      code: "validation",
    });
    expect(broker.totalCalls()).toBe(0);
  });

  it("never throws nor hangs under random mixed faults; every order ends final; no client order id twice", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.subarray([...SIM_FAULT_KINDS], { minLength: 1 }),
        fc.double({ min: 0, max: 0.25, noNaN: true }),
        async (seed, kinds, p) => {
          const clock = new VirtualClock();
          const broker = createSimulatedBroker({
            clock,
            seed,
            cash: 2_000,
            positions: { A: 10, B: 20, D: 3 },
            prices: { A: 100, B: 50, C: 25, D: 7 },
            assets: { D: { fractionable: false } },
            latency: { restMs: 20, fillMs: 100 },
            partialFills: { probability: 0.3, parts: 2 },
            faults: Object.fromEntries(kinds.map((k) => [k, p])),
          });
          const report = await clock.run(
            new SmartRebalancer({ broker, clock, seed }).rebalance(
              { weights: { A: 0.3, C: 0.4, D: 0.1 } },
              { runId: `fuzz${seed}` },
            ),
            { maxTimeMs: 6 * 3_600_000 },
          );
          expect(["completed", "completed_adjusted", "failed", "halted"]).toContain(report.status);
          for (const o of report.orders) expect(FINAL).toContain(o.state);
          const ids = broker.orders().map((o) => o.clientOrderId);
          expect(new Set(ids).size).toBe(ids.length);
          // No symbol both bought and sold.
          expect(report.metrics.roundTrips).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });
});
