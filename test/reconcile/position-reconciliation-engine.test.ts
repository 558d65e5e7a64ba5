import { Decimal, type PositionDrift } from "ordersafe";
import { describe, expect, it } from "vitest";
import { setup, trade } from "./helpers.js";

describe("PositionReconciliationEngine on the simulated broker", () => {
  it("reconciles right after a fill: the book follows the fill and equals a fresh broker read", async () => {
    const s = setup();
    // The engine has read the position before (a scan): the read after the fill is then
    // trusted as soon as it shows the fill.
    await s.clock.run(s.engine.detectDrift());
    const sold = await trade(s, "FNGU", "sell", "711", "sell-1");
    expect(sold.status).toBe("filled");
    s.broker.resetCalls();
    const r = await s.clock.run(s.engine.reconcileAfterOrder(sold));
    expect(r.reconciled).toBe(true);
    expect(r.settled).toBe(true);
    expect(r.drift).toBeNull();
    expect(r.expectedQty.toString()).toBe("880.166892");
    expect(r.actualQty.toString()).toBe(s.broker.truth().positions.get("FNGU")?.toString());
    // one parallel wave: the position and the open orders (the asset rules are known)
    expect(r.roundTrips).toBe(2);
    expect(s.broker.calls.getPosition).toBe(1);
    expect(s.broker.calls.submitOrder).toBe(0);
    expect(r.durationMs).toBe(50);
    // a second reconciliation: the same two calls
    const again = await s.clock.run(s.engine.reconcileAfterOrder(sold));
    expect(again.roundTrips).toBe(2);
    expect(again.bookUpdate?.applied).toBe(false);
  });

  it("applies the order's fills when the stream delivered none (reconcileAfterOrder is the REST fallback)", async () => {
    const s = setup();
    s.broker.script({ kind: "stream_drop", times: 10 });
    const sold = await trade(s, "FNGU", "sell", "711", "sell-2");
    expect(s.book.position("FNGU").toString()).toBe("1591.166892");
    const r = await s.clock.run(s.engine.reconcileAfterOrder(sold));
    expect(r.bookUpdate?.applied).toBe(true);
    expect(r.reconciled).toBe(true);
    expect(s.book.position("FNGU").toString()).toBe("880.166892");
  });

  it("takes a tracker's final state too: its snapshot, with the larger filled quantity", async () => {
    const s = setup();
    s.broker.script({ kind: "stream_drop", times: 10 });
    const sold = await trade(s, "FNGU", "sell", "711", "sell-f");
    const stale = { ...sold, filledQty: new Decimal(0), status: "new" as const };
    const r = await s.clock.run(
      s.engine.reconcileAfterOrder({
        status: "filled",
        orderId: sold.id,
        filledQty: new Decimal(711),
        snapshot: stale,
        symbol: "FNGU",
      } as never),
    );
    expect(r.orderId).toBe(sold.id);
    expect(r.bookUpdate?.applied).toBe(true);
    expect(r.reconciled).toBe(true);
    // only a symbol: reconciled without applying fills
    const bare = await s.clock.run(s.engine.reconcileAfterOrder({ symbol: "FNGU", orderId: undefined }));
    expect(bare.bookUpdate).toBeNull();
    expect(bare.reconciled).toBe(true);
    await expect(s.engine.reconcileAfterOrder({ orderId: "x" })).rejects.toMatchObject({
      code: "validation",
    });
  });

  it("stale positions after a fill: the read is read again until it shows the fill, no false drift", async () => {
    // Even with no confirming re-read: a read that does not show a fill this process knows is
    // never compared with the book.
    for (const confirmReads of [1, 0]) {
      const s = setup({ confirmReads });
      await s.clock.run(s.engine.detectDrift());
      const sold = await trade(s, "FNGU", "sell", "711", `sell-${confirmReads}`);
      s.broker.script({ kind: "stale_reads", ms: 5_000, method: "getPosition" });
      const drifts: PositionDrift[] = [];
      s.engine.on("drift", (d) => drifts.push(d));
      const r = await s.clock.run(s.engine.reconcileAfterOrder(sold));
      expect(r.reads).toBe(2);
      expect(r.reconciled).toBe(true);
      expect(drifts).toEqual([]);
      expect(r.durationMs).toBe(50 + 250 + 50);
    }
  });

  it("with nothing read before, a read right after a fill is trusted only once settleMs passed", async () => {
    const s = setup({ settleMs: 2_000 });
    const sold = await trade(s, "FNGU", "sell", "711", "sell-cold");
    const r = await s.clock.run(s.engine.reconcileAfterOrder(sold));
    expect(r.reconciled).toBe(true);
    // Read at once, then 250, 500 and 1,000 ms later, then when the fill is 2 s old.
    expect(r.reads).toBe(5);
    expect(r.durationMs).toBeGreaterThanOrEqual(2_000);
    // A read that never settles is not compared: no drift, not reconciled.
    const t = setup({ settleMs: 60_000, settleTimeoutMs: 1_000 });
    const sold2 = await trade(t, "FNGU", "sell", "711", "sell-cold-2");
    const r2 = await t.clock.run(t.engine.reconcileAfterOrder(sold2));
    expect(r2.settled).toBe(false);
    expect(r2.reconciled).toBe(false);
    expect(r2.drift).toBeNull();
  });

  it("detects an outside trade as unknown, and dust as dust (without a drift event)", async () => {
    const s = setup();
    s.broker.outsideTrade("XYZ", 100);
    s.broker.outsideTrade("FNGU", "0.5");
    const events: PositionDrift[] = [];
    s.engine.on("drift", (d) => events.push(d));
    const scan = await s.clock.run(s.engine.detectDrift());
    expect(scan.positionsChecked).toBe(2);
    expect(scan.drifts.map((d) => [d.symbol, d.class, d.qtyDiff.toString()])).toEqual([
      ["FNGU", "dust", "0.5"],
      ["XYZ", "unknown", "100"],
    ]);
    expect(scan.drifts[1]?.notionalDiff?.toString()).toBe("2000");
    expect(events.map((d) => d.symbol)).toEqual(["XYZ"]);
  });

  it("detects a missed fill event: a known order filled at the broker, its update lost", async () => {
    const s = setup();
    s.broker.script({ kind: "stream_drop", times: 10 });
    await trade(s, "TECL", "buy", "30", "buy-1");
    expect(s.book.position("TECL").isZero()).toBe(true);
    const scan = await s.clock.run(s.engine.detectDrift());
    const d = scan.drifts.find((x) => x.symbol === "TECL");
    expect(d?.class).toBe("missed_fill");
    expect(d?.qtyDiff.toString()).toBe("30");
    expect(d?.orders[0]?.unappliedQty.toString()).toBe("30");
  });

  it("detects a phantom position the book holds and the broker does not", async () => {
    const s = setup({ book: { FNGU: "1591.166892", BIL: "50" } });
    const scan = await s.clock.run(s.engine.detectDrift());
    expect(scan.drifts.map((d) => [d.symbol, d.class])).toEqual([["BIL", "phantom"]]);
    expect(scan.drifts[0]?.notionalDiff?.toString()).toBe("-4575");
    expect(s.broker.calls.getLatestPrices).toBe(1);
  });

  it("labels a working order's partial position as in_flight", async () => {
    const s = setup();
    s.broker.setMarketOpen(false);
    const o = await s.clock.run(
      s.broker.submitOrder({
        clientOrderId: "queued",
        symbol: "TECL",
        side: "buy",
        type: "market",
        timeInForce: "day",
        qty: new Decimal(10),
      }),
    );
    s.engine.trackOrder(o);
    s.broker.outsideTrade("TECL", 4); // the broker shows shares the book has not seen yet
    const scan = await s.clock.run(s.engine.detectDrift());
    expect(scan.drifts.map((d) => [d.symbol, d.class])).toEqual([["TECL", "in_flight"]]);
  });

  it("emergencyFullReconciliation rebuilds the book from the broker and returns what changed", async () => {
    const s = setup({ book: { FNGU: "1000", BIL: "5" } });
    s.broker.outsideTrade("XYZ", 7);
    const r = await s.clock.run(s.engine.emergencyFullReconciliation());
    expect(
      r.changes.map((c) => [c.symbol, c.before.toString(), c.after.toString(), c.delta.toString()]),
    ).toEqual([
      ["BIL", "5", "0", "-5"],
      ["FNGU", "1000", "1591.166892", "591.166892"],
      ["XYZ", "0", "7", "7"],
    ]);
    expect(r.roundTrips).toBe(2);
    const scan = await s.clock.run(s.engine.detectDrift());
    expect(scan.drifts).toEqual([]);
  });

  it("marks known orders' fills applied on a rebuild, so a late update is not counted twice", async () => {
    const s = setup();
    s.broker.script({ kind: "stream_drop", times: 10 });
    const bought = await trade(s, "TECL", "buy", "30", "buy-2");
    await s.clock.run(s.engine.emergencyFullReconciliation());
    expect(s.book.position("TECL").toString()).toBe("30");
    s.engine.applyOrderUpdate({ event: "fill", order: bought, at: new Date(s.clock.now()) });
    expect(s.book.position("TECL").toString()).toBe("30");
  });

  it("runs periodically on the injected clock, and stop() clears its timer", async () => {
    const s = setup();
    const scans: number[] = [];
    s.engine.on("scan", (scan, source) => {
      expect(source).toBe("periodic");
      scans.push(scan.positionsChecked);
    });
    await s.clock.runUntilIdle();
    const before = s.clock.pendingTimers;
    s.engine.start(1_000);
    s.engine.start(1_000); // idempotent
    expect(s.engine.running).toBe(true);
    await s.clock.advance(3_500);
    expect(scans).toEqual([1, 1, 1]);
    s.engine.stop();
    await s.clock.flush();
    expect(s.engine.running).toBe(false);
    expect(s.clock.pendingTimers).toBe(before);
    await s.clock.advance(5_000);
    expect(scans).toHaveLength(3);
  });

  it("keeps running after a failed periodic scan and reports it as an error event", async () => {
    const s = setup();
    const errors: string[] = [];
    s.engine.on("error", (e) => errors.push((e as { code: string }).code));
    s.broker.script({ kind: "unavailable", method: "getPositions" });
    const scans: number[] = [];
    s.engine.on("scan", (x) => scans.push(x.roundTrips));
    s.engine.start(1_000);
    await s.clock.advance(2_500);
    s.engine.stop();
    expect(errors).toEqual(["unavailable"]);
    expect(scans).toHaveLength(1);
  });

  it("validates its options and inputs", () => {
    const s = setup();
    expect(() => s.engine.start(-1)).toThrowError(expect.objectContaining({ code: "validation" }));
    expect(() => s.engine.trackOrder({ id: "" } as never)).toThrowError(
      expect.objectContaining({ code: "validation" }),
    );
    expect(
      () =>
        new (s.engine.constructor as never as new (o: unknown) => unknown)({
          broker: s.broker,
          confirmReads: -1,
        }),
    ).toThrowError(expect.objectContaining({ code: "validation" }));
  });
});
