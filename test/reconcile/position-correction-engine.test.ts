import {
  type CorrectionAction,
  type CorrectionAlert,
  type CorrectiveOrderIntent,
  Decimal,
  detectPositionDrift,
  type OrderSnapshot,
  PositionBook,
  PositionCorrectionEngine,
} from "ordersafe";
import { describe, expect, it } from "vitest";
import { type Setup, setup, trade } from "./helpers.js";

/** Drifts on three symbols: a phantom BIL ($457.50), an outside XYZ trade ($2,000), an unexplained FNGU ($3,305). */
async function drifted(): Promise<Setup> {
  const s = setup({ book: { FNGU: "1591.166892", BIL: "5" } });
  s.broker.outsideTrade("XYZ", 100);
  s.broker.outsideTrade("FNGU", -100);
  return s;
}

function placer(s: Setup, placed: CorrectiveOrderIntent[]) {
  return async (intent: CorrectiveOrderIntent): Promise<OrderSnapshot> => {
    placed.push(intent);
    return s.broker.submitOrder({
      clientOrderId: `fix-${intent.actionId}`,
      symbol: intent.symbol,
      side: intent.side,
      type: "market",
      timeInForce: "day",
      qty: intent.qty,
    });
  };
}

function record(engine: PositionCorrectionEngine) {
  const events: string[] = [];
  const push = (kind: string) => (a: CorrectionAction) => {
    events.push(`${kind}:${a.symbol}`);
  };
  engine.on("correction:proposed", push("proposed"));
  engine.on("correction:approved", push("approved"));
  engine.on("correction:rejected", push("rejected"));
  engine.on("correction:applied", push("applied"));
  engine.on("correction:failed", push("failed"));
  const alerts: CorrectionAlert[] = [];
  engine.on("correction:alert", (a) => alerts.push(a));
  return { events, alerts };
}

describe("PositionCorrectionEngine", () => {
  it("report mode: proposes, never trades, never touches the book", async () => {
    const s = await drifted();
    const placed: CorrectiveOrderIntent[] = [];
    const engine = new PositionCorrectionEngine({
      mode: "report",
      reconciler: s.engine,
      placeOrder: placer(s, placed),
    });
    const { events } = record(engine);
    const before = JSON.stringify(s.book.toJSON());
    s.broker.resetCalls();
    const run = await s.clock.run(engine.run());
    expect(run.actions.map((a) => [a.symbol, a.kind, a.status])).toEqual([
      ["BIL", "adopt", "proposed"],
      ["FNGU", "order", "proposed"],
      ["XYZ", "adopt", "proposed"],
    ]);
    expect(events).toEqual(["proposed:BIL", "proposed:FNGU", "proposed:XYZ"]);
    expect(placed).toEqual([]);
    expect(s.broker.calls.submitOrder).toBe(0);
    expect(s.broker.calls.closePosition).toBe(0);
    expect(s.broker.calls.cancelOrder).toBe(0);
    expect(JSON.stringify(s.book.toJSON())).toBe(before);
  });

  it("approve mode: a no (or a throwing approver) never trades and never changes the book", async () => {
    for (const approve of [
      async () => false,
      async () => Promise.reject(new Error("down")),
      () => "yes" as never,
    ]) {
      const s = await drifted();
      const placed: CorrectiveOrderIntent[] = [];
      const asked: string[] = [];
      const engine = new PositionCorrectionEngine({
        mode: "approve",
        reconciler: s.engine,
        placeOrder: placer(s, placed),
        approve: (a) => {
          asked.push(a.symbol);
          return approve();
        },
      });
      const before = JSON.stringify(s.book.toJSON());
      s.broker.resetCalls();
      const run = await s.clock.run(engine.run());
      expect(asked).toEqual(["BIL", "FNGU", "XYZ"]);
      expect(run.actions.every((a) => a.status === "rejected")).toBe(true);
      expect(s.broker.calls.submitOrder).toBe(0);
      expect(placed).toEqual([]);
      expect(JSON.stringify(s.book.toJSON())).toBe(before);
    }
  });

  it("approve mode: a yes applies the action (adopt into the book; corrective order to the broker)", async () => {
    const s = await drifted();
    const placed: CorrectiveOrderIntent[] = [];
    const engine = new PositionCorrectionEngine({
      mode: "approve",
      reconciler: s.engine,
      placeOrder: placer(s, placed),
      approve: async (a) => a.symbol !== "XYZ",
    });
    const { events } = record(engine);
    s.broker.resetCalls();
    const run = await s.clock.run(engine.run());
    expect(run.actions.map((a) => [a.symbol, a.status])).toEqual([
      ["BIL", "applied"],
      ["FNGU", "applied"],
      ["XYZ", "rejected"],
    ]);
    expect(events).toContain("approved:FNGU");
    expect(events).toContain("rejected:XYZ");
    expect(s.broker.calls.submitOrder).toBe(1);
    expect(placed.map((p) => [p.symbol, p.side, p.qty.toString(), p.targetQty.toString()])).toEqual([
      ["FNGU", "buy", "100", "1591.166892"],
    ]);
    expect(s.book.position("BIL").isZero()).toBe(true);
    expect(s.book.position("XYZ").isZero()).toBe(true);
    // the book adopted the broker's figure; the corrective order's fills bring both back
    expect(s.book.position("FNGU").toString()).toBe("1491.166892");
    const order = s.broker.orders()[0] as OrderSnapshot;
    await s.clock.advance(500);
    const r = await s.clock.run(s.engine.reconcileAfterOrder(order));
    expect(r.reconciled).toBe(true);
    expect(s.book.position("FNGU").toString()).toBe("1591.166892");
    expect(s.broker.truth().positions.get("FNGU")?.toString()).toBe("1591.166892");
  });

  it("approve mode without a callback: actions wait until resolved by hand", async () => {
    const s = await drifted();
    const engine = new PositionCorrectionEngine({ mode: "approve", reconciler: s.engine });
    s.broker.resetCalls();
    const run = await s.clock.run(engine.handlePhantomPositions());
    expect(run.actions.map((a) => [a.symbol, a.status])).toEqual([["BIL", "awaiting_approval"]]);
    expect(engine.pending().map((a) => a.id)).toEqual([run.actions[0]?.id]);
    expect(s.book.position("BIL").toString()).toBe("5");
    expect(engine.createReconciliationReport().corrections.awaitingApproval).toHaveLength(1);
    const done = await engine.resolvePending(run.actions[0]?.id as string, true);
    expect(done.status).toBe("applied");
    expect(s.book.position("BIL").isZero()).toBe(true);
    expect(engine.pending()).toEqual([]);
    await expect(engine.resolvePending("c999", true)).rejects.toMatchObject({ code: "invalid_state" });
    expect(s.broker.calls.submitOrder).toBe(0);
  });

  it("auto mode: acts within maxAutoNotional and sends larger actions to an alert", async () => {
    const s = await drifted();
    const placed: CorrectiveOrderIntent[] = [];
    const engine = new PositionCorrectionEngine({
      mode: "auto",
      reconciler: s.engine,
      placeOrder: placer(s, placed),
      limits: { maxAutoNotional: 2_500, maxActionsPerRun: 10 },
      overLimit: "alert",
    });
    const { alerts } = record(engine);
    s.broker.resetCalls();
    const run = await s.clock.run(engine.run());
    expect(run.actions.map((a) => [a.symbol, a.status])).toEqual([
      ["BIL", "applied"],
      ["FNGU", "alerted"],
      ["XYZ", "applied"],
    ]);
    expect(alerts.map((a) => [a.reason, a.drift.symbol])).toEqual([["over_limit", "FNGU"]]);
    expect(s.broker.calls.submitOrder).toBe(0);
    expect(placed).toEqual([]);
    expect(s.book.position("XYZ").toString()).toBe("100");
    expect(s.book.position("FNGU").toString()).toBe("1591.166892");
  });

  it("auto mode: stops at maxActionsPerRun and asks for approval beyond it", async () => {
    const s = await drifted();
    const placed: CorrectiveOrderIntent[] = [];
    const asked: string[] = [];
    const engine = new PositionCorrectionEngine({
      mode: "auto",
      reconciler: s.engine,
      placeOrder: placer(s, placed),
      approve: (a) => {
        asked.push(a.symbol);
        return false;
      },
      limits: { maxAutoNotional: 10_000, maxActionsPerRun: 2 },
    });
    s.broker.resetCalls();
    const run = await s.clock.run(engine.run());
    expect(run.actions.map((a) => [a.symbol, a.status])).toEqual([
      ["BIL", "applied"],
      ["FNGU", "applied"],
      ["XYZ", "rejected"],
    ]);
    expect(asked).toEqual(["XYZ"]);
    expect(run.alerts.map((a) => a.reason)).toEqual(["over_limit"]);
    expect(s.broker.calls.submitOrder).toBe(1);
    // the count is per run: the next run may act again
    s.broker.outsideTrade("TECL", 3);
    const next = await s.clock.run(engine.run());
    expect(next.actions.filter((a) => a.status === "applied").map((a) => a.symbol)).toContain("TECL");
  });

  it("auto mode: a missed fill is adopted and its order marked applied, so a late event is not double counted", async () => {
    const s = setup();
    s.broker.script({ kind: "stream_drop", times: 10 });
    const bought = await trade(s, "TECL", "buy", "30", "buy-m");
    const engine = new PositionCorrectionEngine({
      mode: "auto",
      reconciler: s.engine,
      limits: { maxAutoNotional: 2_000 },
    });
    const run = await s.clock.run(engine.run());
    expect(run.actions.map((a) => [a.symbol, a.drift.class, a.status])).toEqual([
      ["TECL", "missed_fill", "applied"],
    ]);
    expect(s.book.position("TECL").toString()).toBe("30");
    s.engine.applyOrderUpdate({ event: "fill", order: bought, at: new Date(s.clock.now()) });
    expect(s.book.position("TECL").toString()).toBe("30");
  });

  it("a failing corrective order is reported as failed with an alert", async () => {
    const s = await drifted();
    const engine = new PositionCorrectionEngine({
      mode: "auto",
      reconciler: s.engine,
      placeOrder: async () => {
        throw new Error("no");
      },
      limits: { maxAutoNotional: 10_000 },
      policy: { phantom: "ignore", unknown: "ignore" },
    });
    const failed: string[] = [];
    engine.on("correction:failed", (a) => failed.push(a.symbol));
    const run = await s.clock.run(engine.run());
    expect(run.actions.map((a) => a.status)).toEqual(["failed"]);
    expect(failed).toEqual(["FNGU"]);
    expect(run.alerts.map((a) => a.reason)).toEqual(["failed"]);
  });

  it("does not apply a stale action when the book moved since the drift was measured", async () => {
    const book = new PositionBook({ A: 10 });
    const drifts = detectPositionDrift(book.positions(), { A: 0 }, { prices: { A: 100 } });
    book.applyFill({ orderId: "o", symbol: "A", side: "buy", cumulativeQty: 1 });
    const engine = new PositionCorrectionEngine({ mode: "auto", book });
    const run = await engine.handleDrifts(drifts);
    expect(run.actions[0]?.status).toBe("failed");
    expect(run.alerts[0]?.reason).toBe("stale");
    expect(book.position("A").toString()).toBe("11");
  });

  it("without placeOrder, a correction becomes an alert; corrections never flip a long short", async () => {
    const book = new PositionBook({ A: 10 });
    const engine = new PositionCorrectionEngine({ mode: "auto", book });
    const run = await engine.handleDrifts(
      detectPositionDrift(book.positions(), { A: 4 }, { prices: { A: 100 } }),
    );
    expect(run.actions).toEqual([]);
    expect(run.alerts.map((a) => a.reason)).toEqual(["no_order_function"]);

    const placed: CorrectiveOrderIntent[] = [];
    const short = new PositionBook({ B: -5, C: -5 });
    const e2 = new PositionCorrectionEngine({
      mode: "auto",
      book: short,
      placeOrder: async (i) => placed.push(i),
      limits: { maxAutoNotional: 10_000 },
    });
    const r2 = await e2.handleDrifts(
      detectPositionDrift(short.positions(), { B: -2, C: 3 }, { prices: { B: 100, C: 100 } }),
    );
    // B: deepening the short is never a correction; C: the sell stops at zero
    expect(r2.actions.map((a) => [a.symbol, a.status])).toEqual([
      ["B", "alerted"],
      ["C", "applied"],
    ]);
    expect(placed.map((p) => [p.symbol, p.side, p.qty.toString()])).toEqual([["C", "sell", "3"]]);
  });

  it("createReconciliationReport: JSON-serializable, with drifts by class and corrections taken or awaiting", async () => {
    const s = await drifted();
    s.broker.outsideTrade("TECL", "0.01"); // dust
    const engine = new PositionCorrectionEngine({
      mode: "auto",
      reconciler: s.engine,
      limits: { maxAutoNotional: 1_000 },
      clock: s.clock,
    });
    await s.clock.run(engine.run());
    const report = engine.createReconciliationReport({ reset: true });
    const json = JSON.parse(JSON.stringify(report));
    expect(json).toEqual(report);
    expect(report.positionsChecked).toBe(4);
    expect(report.scans).toBe(1);
    expect(report.driftsByClass).toEqual({
      in_flight: 0,
      missed_fill: 0,
      phantom: 1,
      unknown: 1,
      dust: 1,
      unexplained: 1,
    });
    expect(report.driftsAboveTolerance).toBe(3);
    expect(report.corrections.taken.map((a) => [a.symbol, a.kind])).toEqual([["BIL", "adopt"]]);
    // over the limit with no approver: waiting for a yes; no placeOrder: an alert
    expect(report.corrections.awaitingApproval.map((a) => a.symbol)).toEqual(["XYZ"]);
    expect(report.alerts.map((a) => [a.reason, a.symbol])).toEqual([
      ["no_order_function", "FNGU"],
      ["over_limit", "XYZ"],
    ]);
    expect(report.generatedAt).toBe(new Date(s.clock.now()).toISOString());
    // after a reset the counts start over but pending actions are still reported
    const next = engine.createReconciliationReport();
    expect(next.scans).toBe(0);
    expect(next.corrections.awaitingApproval).toHaveLength(1);
    expect(next.corrections.taken).toEqual([]);
  });

  it("validates its options", () => {
    const book = new PositionBook();
    expect(() => new PositionCorrectionEngine({ mode: "yolo" as never, book })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => new PositionCorrectionEngine({ mode: "auto" })).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(
      () =>
        new PositionCorrectionEngine({ mode: "auto", book, limits: { maxAutoNotional: new Decimal(-1) } }),
    ).toThrowError(expect.objectContaining({ code: "validation" }));
    expect(
      () => new PositionCorrectionEngine({ mode: "auto", book, policy: { dust: "sell" as never } }),
    ).toThrowError(expect.objectContaining({ code: "validation" }));
  });
});

describe("PositionCorrectionEngine input", () => {
  it("rejects malformed drifts before doing anything", async () => {
    const book = new PositionBook({ A: 1 });
    const engine = new PositionCorrectionEngine({ mode: "auto", book });
    const [d] = detectPositionDrift(book.positions(), {}, { prices: { A: 1000 } });
    await expect(engine.handleDrifts([{ ...d, class: "weird" } as never])).rejects.toMatchObject({
      code: "validation",
    });
    await expect(engine.handleDrifts([{ ...d, qtyDiff: Number.NaN } as never])).rejects.toMatchObject({
      code: "validation",
    });
    expect(book.position("A").toString()).toBe("1");
    await expect(engine.resolvePending("", true)).rejects.toMatchObject({ code: "validation" });
    await expect(engine.run()).rejects.toMatchObject({ code: "invalid_state" });
  });
});
