import { EventEmitter } from "eventemitter3";
import {
  Decimal,
  isOrdersafeError,
  type OrderOutcome,
  type RebalancerEvents,
  RebalanceTargetsSchema,
  SMART_REBALANCER_DEFAULTS,
  silentLogger,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { accountStateOf } from "../../src/account/account-registry.js";
import { rebalanceFlow } from "../../src/execution/rebalance-flow.js";
import { RebalanceRun, type RebalancerSettings } from "../../src/execution/rebalance-run.js";

function setup(run: { runId?: string; dryRun?: boolean; signal?: AbortSignal } = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 1_000,
    prices: { AAA: 100, BBB: 50 },
    positions: { AAA: 5 },
    latency: { restMs: 10, fillMs: 20 },
  });
  const settings: RebalancerSettings = {
    ...SMART_REBALANCER_DEFAULTS,
    clock,
    logger: silentLogger,
    plannerOptions: {},
    plannerKeep: [],
    approve: undefined,
    correctionLimits: undefined,
    journal: undefined,
    coordination: undefined,
    execution: undefined,
    account: undefined,
    settle: {
      settleMs: SMART_REBALANCER_DEFAULTS.settleMs,
      settleTimeoutMs: SMART_REBALANCER_DEFAULTS.settleTimeoutMs,
      settlePollMs: SMART_REBALANCER_DEFAULTS.settlePollMs,
    },
  };
  const events = new EventEmitter<RebalancerEvents>();
  const seen: string[] = [];
  events.on("phase", (e) => seen.push(`phase ${e.phase} @${e.at - clock.now()}`));
  events.on("plan", (e) => seen.push(`plan ${e.stage}`));
  events.on("order:final", (e) => seen.push(`final ${e.outcome.symbol} ${e.outcome.state}`));
  events.on("halted", (e) => seen.push(`halted ${e.consecutiveFailures}`));
  events.on("done", (e) => seen.push(`done ${e.report.status}`));
  const r = new RebalanceRun({
    port: broker,
    account: accountStateOf(broker),
    settings,
    events,
    targets: RebalanceTargetsSchema.parse({ weights: { AAA: 0.2, BBB: 0.3 } }),
    runId: run.runId,
    runNumber: 1,
    runIdEntropy: "1:1",
    dryRun: run.dryRun ?? false,
    signal: run.signal,
  });
  return { clock, broker, run: r, seen };
}

const outcome = (o: Partial<OrderOutcome>): OrderOutcome => ({
  symbol: "AAA",
  side: "sell",
  clientOrderId: "x",
  orderId: "1",
  requestedQty: new Decimal(1),
  requestedNotional: undefined,
  filledQty: new Decimal(0),
  avgPrice: undefined,
  filledNotional: new Decimal(0),
  state: "canceled",
  attempts: 1,
  adopted: false,
  recovered: false,
  errorCode: undefined,
  errorMessage: undefined,
  adjustments: [],
  submittedAt: 0,
  finalAt: 1,
  ...o,
});

describe("RebalanceRun", () => {
  it("phase emits the phase event, then runs the step and returns what it returns", () => {
    const { run, seen } = setup();
    const value = run.phase("sells", () => {
      seen.push("step");
      return 42;
    });
    expect(value).toBe(42);
    expect(seen).toEqual(["phase sells @0", "step"]);
  });

  it("a run without a runId gets a fresh id, is not resumable, and takes generation 0 without a call", () => {
    const { broker, run } = setup();
    expect(run.resumable).toBe(false);
    expect(run.id.length).toBeGreaterThan(0);
    expect(run.generationFor("AAA", "sell")).toBe(0);
    expect(run.generationFor("AAA", "sell")).toBe(1);
    expect(broker.totalCalls()).toBe(0);
  });

  it("a named run learns the orders of its earlier attempt before it plans", async () => {
    const { clock, broker, run } = setup({ runId: "named-1" });
    expect(run.resumable).toBe(true);
    expect(run.id).toBe("named-1");
    await clock.run(rebalanceFlow(run));
    // From the order history: one read with each settled read (the first, the re-read before
    // the buys, the reconcile); the first reaches back over the resume's lookback and serves
    // the earlier attempt too.
    expect(broker.calls.listOrders).toBe(3);
    expect(broker.calls.getOrderByClientOrderId).toBe(0);
    run.close();
  });

  it("has no coordinator before tracking starts, and counts every broker call it makes", async () => {
    const { clock, run } = setup();
    expect(() => run.sellCoordinator).toThrowError(expect.objectContaining({ code: "invalid_state" }));
    // Every write is journaled: the run's start goes first.
    await run.startJournal(await clock.run(run.read()));
    run.startTracking();
    const leg = { symbol: "AAA", side: "sell" as const, qty: new Decimal(1) };
    const o = await clock.run(
      run.sellCoordinator.executeOrder({ ...leg, type: "market", timeInForce: "day" }, { runId: run.id }),
    );
    expect(o.state).toBe("filled");
    run.close();
    const report = await clock.run(run.finish({}));
    expect(report.metrics.restCalls).toBeGreaterThan(0);
  });

  it("records an outcome: in the record, as order:final, and as an adjustment when it did not fill", () => {
    const { run, seen } = setup();
    run.recordOutcome(outcome({ errorCode: "rejected", errorMessage: "no", state: "rejected" }));
    expect(run.record.orders).toHaveLength(1);
    expect(seen).toEqual(["final AAA rejected"]);
    expect(run.record.adjustments).toEqual([
      { symbol: "AAA", side: "sell", reason: "rejected", detail: "no" },
    ]);
  });

  it("marks the run halted when the breaker opens, and finishes with a full read of the positions", async () => {
    const { clock, broker, run, seen } = setup();
    for (let i = 0; i < SMART_REBALANCER_DEFAULTS.failureBudget; i++) run.retry.recordFailure("boom");
    expect(run.record.halted?.code).toBe("halted");
    const report = await clock.run(run.finish({}));
    expect(report.status).toBe("halted");
    expect(broker.calls.getPositions).toBe(1);
    expect(report.positionsAfter.map((p) => p.symbol)).toEqual(["AAA"]);
    expect(seen).toEqual([
      `halted ${SMART_REBALANCER_DEFAULTS.failureBudget}`,
      "phase done @0",
      "done halted",
    ]);
  });

  it("stop: an abort throws `aborted` with the partial report; another error finishes stopped early", async () => {
    const controller = new AbortController();
    const aborted = setup({ signal: controller.signal });
    controller.abort(new Error("stop"));
    let thrown: unknown;
    try {
      await aborted.run.stop(new Error("stop"));
    } catch (e) {
      thrown = e;
    }
    expect(isOrdersafeError(thrown) && thrown.code).toBe("aborted");
    expect(aborted.seen).toEqual([]);

    const { clock, run, seen } = setup();
    const report = await clock.run(run.stop(new Error("socket hang up")));
    expect(report.status).toBe("failed");
    expect(report.error).toEqual({ code: "unknown", message: "socket hang up" });
    expect(report.adjustments).toEqual([
      { symbol: "*", side: undefined, reason: "stopped_early", detail: "Error: socket hang up" },
    ]);
    expect(seen).toEqual(["phase done @0", "done failed"]);
  });
});

describe("rebalanceFlow", () => {
  it("a dry run reads and plans, then ends without tracking or sending anything", async () => {
    const { clock, broker, run, seen } = setup({ dryRun: true });
    const ending = await clock.run(rebalanceFlow(run));
    expect(ending).toEqual({});
    expect(seen).toEqual(["phase read @0", "phase plan @0", "plan initial"]);
    expect(broker.calls.submitOrder).toBe(0);
    expect(broker.eventLog().some((e) => e.type === "stream_status")).toBe(false);
    expect(run.record.plan?.legs.map((l) => `${l.side} ${l.symbol}`)).toEqual(["sell AAA", "buy BBB"]);
  });

  it("a closed market ends the run failed before anything is sent", async () => {
    const { clock, broker, run } = setup();
    broker.setMarketOpen(false);
    const ending = await clock.run(rebalanceFlow(run));
    expect(ending).toMatchObject({ forced: "failed", error: { code: "market_closed" } });
    expect(run.record.adjustments.map((a) => `${a.symbol} ${a.reason}`)).toEqual([
      "AAA market_closed",
      "BBB market_closed",
    ]);
    expect(broker.calls.submitOrder).toBe(0);
  });

  it("goes through the phases in order: sells, re-read, re-plan, buys, reconcile", async () => {
    const { clock, run, seen } = setup();
    const ending = await clock.run(rebalanceFlow(run));
    run.close();
    expect(ending).toEqual({});
    expect(seen.filter((l) => l.startsWith("phase")).map((l) => l.split(" ")[1])).toEqual([
      "read",
      "plan",
      "sells",
      "reread",
      "replan_buys",
      "buys",
      "reconcile",
    ]);
    expect(run.record.orders.map((o) => `${o.side} ${o.symbol} ${o.state}`)).toEqual([
      "sell AAA filled",
      "buy BBB filled",
    ]);
  });
});
