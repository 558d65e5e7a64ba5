import fc from "fast-check";
import { Decimal, type OrderOutcome, type RebalanceAdjustment, type RebalancePlan } from "ordersafe";
import { describe, expect, it } from "vitest";
import { buildRebalanceReport, reportStatus } from "../../src/execution/build-rebalance-report.js";
import { RebalanceRecord, type RecordedRun } from "../../src/execution/rebalance-record.js";

const outcome = (o: Partial<OrderOutcome> & Pick<OrderOutcome, "symbol" | "side">): OrderOutcome => ({
  clientOrderId: `${o.symbol}-${o.side}`,
  orderId: "1",
  requestedQty: new Decimal(1),
  requestedNotional: undefined,
  filledQty: new Decimal(1),
  avgPrice: new Decimal(100),
  filledNotional: new Decimal(100),
  state: "filled",
  attempts: 1,
  adopted: false,
  recovered: false,
  errorCode: undefined,
  errorMessage: undefined,
  adjustments: [],
  submittedAt: 0,
  finalAt: 10,
  ...o,
});

const unfilled = { filledQty: new Decimal(0), filledNotional: new Decimal(0), avgPrice: undefined };

function run(over: Partial<RecordedRun> = {}): RecordedRun {
  return {
    runId: "r",
    dryRun: false,
    startedAt: 1_000,
    positionsBefore: [],
    positionsAfter: [],
    plan: undefined,
    buyPlan: undefined,
    orders: [],
    working: [],
    takenOver: [],
    drift: [],
    corrections: undefined,
    adjustments: [],
    submitted: 0,
    halted: undefined,
    ...over,
  };
}

// buyingPowerRejections is counted by the run from the retry engine's failures (resized refusals too).
const close = { endedAt: 1_250, restCalls: 7, buyingPowerRejections: 1 };
const adjustment: RebalanceAdjustment = { symbol: "AAA", side: "buy", reason: "shrunk", detail: "x" };

describe("buildRebalanceReport: status", () => {
  it("is completed when every order filled and nothing was adjusted (or nothing was to do)", () => {
    expect(buildRebalanceReport(run(), close).status).toBe("completed");
    const r = buildRebalanceReport(run({ orders: [outcome({ symbol: "AAA", side: "buy" })] }), close);
    expect(r.status).toBe("completed");
    expect(r.error).toBeUndefined();
  });

  it("is completed_adjusted with an adjustment, or an order that did not end filled", () => {
    const filled = outcome({ symbol: "AAA", side: "buy" });
    expect(buildRebalanceReport(run({ orders: [filled], adjustments: [adjustment] }), close).status).toBe(
      "completed_adjusted",
    );
    const canceled = outcome({ symbol: "BBB", side: "sell", state: "canceled", ...unfilled });
    expect(buildRebalanceReport(run({ orders: [filled, canceled] }), close).status).toBe(
      "completed_adjusted",
    );
    const partial = outcome({ symbol: "BBB", side: "sell", state: "canceled" });
    expect(buildRebalanceReport(run({ orders: [partial] }), close).status).toBe("completed_adjusted");
  });

  it("is failed when orders were placed and none filled anything, with that as the error", () => {
    const rejected = outcome({ symbol: "AAA", side: "buy", state: "rejected", ...unfilled });
    const r = buildRebalanceReport(run({ orders: [rejected] }), close);
    expect(r.status).toBe("failed");
    expect(r.error).toEqual({ code: "rejected", message: "[ordersafe] no order filled" });
  });

  it("is halted when the circuit breaker opened, with its reason", () => {
    const halted = { code: "halted" as const, message: "[ordersafe] circuit breaker open: x" };
    const rejected = outcome({ symbol: "AAA", side: "buy", state: "rejected", ...unfilled });
    const r = buildRebalanceReport(run({ halted, orders: [rejected] }), close);
    expect(r.status).toBe("halted");
    expect(r.error).toEqual(halted);
  });

  it("takes a forced status and error over everything else", () => {
    const halted = { code: "halted" as const, message: "halted" };
    const error = { code: "market_closed" as const, message: "closed" };
    const r = buildRebalanceReport(run({ halted, orders: [outcome({ symbol: "AAA", side: "buy" })] }), {
      ...close,
      forced: "failed",
      error,
    });
    expect(r.status).toBe("failed");
    expect(r.error).toEqual(error);
    // A forced status without an error keeps the breaker's reason.
    const h = buildRebalanceReport(run({ halted }), { ...close, forced: "completed_adjusted" });
    expect(h).toMatchObject({ status: "completed_adjusted", error: halted });
  });
});

describe("buildRebalanceReport: metrics", () => {
  const plan = { summary: { naiveTurnover: new Decimal(1_000) } } as unknown as RebalancePlan;

  it("leaves adopted orders out of the turnover and counts the rest", () => {
    const orders = [
      outcome({ symbol: "AAA", side: "sell", filledNotional: new Decimal(300) }),
      outcome({ symbol: "BBB", side: "buy", filledNotional: new Decimal(200), adopted: true, attempts: 0 }),
      outcome({ symbol: "CCC", side: "buy", state: "unresolved", ...unfilled, errorCode: "ambiguous" }),
      outcome({
        symbol: "DDD",
        side: "buy",
        state: "submit_failed",
        ...unfilled,
        errorCode: "insufficient_buying_power",
      }),
      // Refused before anything was sent (a reservation shortfall): not a broker rejection.
      outcome({
        symbol: "EEE",
        side: "buy",
        state: "submit_failed",
        ...unfilled,
        attempts: 0,
        errorCode: "insufficient_buying_power",
      }),
    ];
    const m = buildRebalanceReport(run({ plan, orders, submitted: 4 }), close).metrics;
    expect(m.turnover.toFixed()).toBe("300");
    expect(m.naiveTurnover.toFixed()).toBe("1000");
    expect(m.savedTurnover.toFixed()).toBe("700");
    expect(m).toMatchObject({
      ordersSubmitted: 4,
      ordersFilled: 2,
      ordersAdopted: 1,
      ordersUnresolved: 1,
      buyingPowerRejections: 1,
      successRate: 2 / 5,
      roundTrips: 0,
      durationMs: 250,
      restCalls: 7,
    });
  });

  it("counts a round trip only for a symbol both bought and sold with fills", () => {
    const orders = [
      outcome({ symbol: "AAA", side: "sell" }),
      outcome({ symbol: "AAA", side: "buy" }),
      outcome({ symbol: "BBB", side: "sell" }),
      outcome({ symbol: "BBB", side: "buy", state: "canceled", ...unfilled }),
    ];
    expect(buildRebalanceReport(run({ orders }), close).metrics.roundTrips).toBe(1);
  });

  it("has success rate 1 and no turnover when there were no orders", () => {
    const m = buildRebalanceReport(run(), close).metrics;
    expect(m.successRate).toBe(1);
    expect(m.turnover.toFixed()).toBe("0");
    expect(m.naiveTurnover.toFixed()).toBe("0");
  });

  it("copies the lists, so the record may go on after the report", () => {
    const record = new RebalanceRecord("r", false, 0);
    record.orders.push(outcome({ symbol: "AAA", side: "buy" }));
    const report = buildRebalanceReport(record, close);
    record.orders.push(outcome({ symbol: "BBB", side: "buy" }));
    record.adjust("BBB", "buy", "partial_fill", "after the report");
    expect(report.orders).toHaveLength(1);
    expect(report.adjustments).toHaveLength(0);
  });
});

describe("buildRebalanceReport: properties", () => {
  const outcomeArb = fc
    .record({
      symbol: fc.constantFrom("AAA", "BBB", "CCC"),
      side: fc.constantFrom("buy" as const, "sell" as const),
      state: fc.constantFrom(
        "filled" as const,
        "canceled" as const,
        "rejected" as const,
        "unresolved" as const,
        "submit_failed" as const,
      ),
      filled: fc.integer({ min: 0, max: 1_000 }),
      adopted: fc.boolean(),
    })
    .map((o) =>
      outcome({
        symbol: o.symbol,
        side: o.side,
        state: o.state,
        adopted: o.adopted,
        filledQty: new Decimal(o.filled),
        filledNotional: new Decimal(o.filled).times(10),
      }),
    );
  const runArb = fc.record({
    orders: fc.array(outcomeArb, { maxLength: 8 }),
    adjusted: fc.boolean(),
    halted: fc.boolean(),
  });

  it("status, turnover and success rate agree with the orders", () => {
    fc.assert(
      fc.property(runArb, ({ orders, adjusted, halted }) => {
        const r = run({
          orders,
          adjustments: adjusted ? [adjustment] : [],
          halted: halted ? { code: "halted", message: "h" } : undefined,
        });
        const report = buildRebalanceReport(r, close);
        const m = report.metrics;
        expect(report.status).toBe(reportStatus(r, undefined));
        if (report.status === "completed") {
          expect(adjusted || halted).toBe(false);
          expect(orders.every((o) => o.state === "filled")).toBe(true);
        }
        if (report.status === "failed") expect(orders.every((o) => o.filledQty.isZero())).toBe(true);
        expect(report.status === "halted").toBe(halted);
        expect(m.successRate).toBeGreaterThanOrEqual(0);
        expect(m.successRate).toBeLessThanOrEqual(1);
        const all = orders.reduce((a, o) => a.plus(o.filledNotional), new Decimal(0));
        expect(m.turnover.lte(all)).toBe(true);
        expect(m.turnover.plus(m.savedTurnover).eq(m.naiveTurnover)).toBe(true);
        expect(m.ordersFilled + m.ordersUnresolved).toBeLessThanOrEqual(orders.length);
      }),
    );
  });
});

describe("RebalanceRecord", () => {
  it("notes what an outcome says about its leg", () => {
    const r = new RebalanceRecord("r", false, 0);
    r.noteOutcome(outcome({ symbol: "AAA", side: "buy" }));
    r.noteOutcome(
      outcome({ symbol: "AAA", side: "buy", adjustments: ["insufficient_buying_power: a -> b"] }),
    );
    r.noteOutcome(outcome({ symbol: "BBB", side: "buy", adopted: true, adjustments: ["adopted"] }));
    r.noteOutcome(outcome({ symbol: "CCC", side: "sell", state: "canceled", filledQty: new Decimal("0.5") }));
    r.noteOutcome(
      outcome({
        symbol: "DDD",
        side: "sell",
        state: "rejected",
        ...unfilled,
        errorCode: "rejected",
        errorMessage: "no",
      }),
    );
    r.noteOutcome(outcome({ symbol: "EEE", side: "sell", state: "expired", ...unfilled }));
    expect(r.adjustments.map((a) => `${a.symbol} ${a.reason}: ${a.detail}`)).toEqual([
      "AAA resized: insufficient_buying_power: a -> b",
      "CCC partial_fill: canceled with 0.5 filled",
      "DDD rejected: no",
      "EEE expired: expired",
    ]);
  });
});
