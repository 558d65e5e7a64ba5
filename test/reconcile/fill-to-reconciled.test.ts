import { Decimal, type OrderSnapshot } from "ordersafe";
import { describe, expect, it } from "vitest";
import { setup } from "./helpers.js";

/**
 * Time from a fill to a reconciled position, on the simulated broker with 50 ms REST latency
 * and 200 ms fills: REST calls made, sequential round trips, and virtual milliseconds.
 */
describe("fill → reconciled position", () => {
  async function measure(options: { stale?: boolean; streamDrop?: boolean; warm?: boolean }) {
    const s = setup();
    if (options.warm === true) await s.clock.run(s.engine.detectDrift()); // caches the asset rules
    if (options.streamDrop === true) s.broker.script({ kind: "stream_drop", times: 10 });
    const submitted = await s.clock.run(
      s.broker.submitOrder({
        clientOrderId: "m-1",
        symbol: "FNGU",
        side: "sell",
        type: "market",
        timeInForce: "day",
        qty: new Decimal(711),
      }),
    );
    s.engine.trackOrder(submitted);
    // wait for the fill at the broker
    const filled = await s.clock.run(async () => {
      for (;;) {
        const o = s.broker.findOrder(submitted.id) as OrderSnapshot;
        if (o.status === "filled") return o;
        await s.clock.sleep(1);
      }
    });
    const filledAt = s.clock.now();
    if (options.stale === true) s.broker.script({ kind: "stale_reads", ms: 5_000, method: "getPosition" });
    s.broker.resetCalls();
    const r = await s.clock.run(s.engine.reconcileAfterOrder(filled));
    return {
      r,
      calls: s.broker.totalCalls(),
      ms: s.clock.now() - filledAt,
      truth: s.broker.truth().positions.get("FNGU"),
      book: s.book.position("FNGU"),
    };
  }

  it("normal case: one parallel wave (position + open orders): 2 calls, 1 round trip, 50 ms", async () => {
    const m = await measure({ warm: true });
    expect(m.r.reconciled).toBe(true);
    expect(m.calls).toBe(2);
    expect(m.r.reads).toBe(1);
    expect(m.ms).toBe(50);
    expect(m.book.toString()).toBe(m.truth?.toString());
  });

  it("nothing read before the fill: trusted once settleMs (10 s) passed since the fill", async () => {
    const m = await measure({});
    expect(m.r.reconciled).toBe(true);
    // The asset rules in the first wave, then reads 250, 500, 1,000, 2,000, 4,000 ms apart
    // until the fill is 10 s old: the price of knowing nothing of the account before.
    expect(m.ms).toBeGreaterThanOrEqual(10_000);
    expect(m.ms).toBeLessThan(10_100);
    expect(m.book.toString()).toBe(m.truth?.toString());
  });

  it("the fill event was lost: the order's snapshot supplies the fill, same cost", async () => {
    const m = await measure({ warm: true, streamDrop: true });
    expect(m.r.bookUpdate?.applied).toBe(true);
    expect(m.calls).toBe(2);
    expect(m.ms).toBe(50);
    expect(m.book.toString()).toBe(m.truth?.toString());
  });

  it("a stale position read: read again 250 ms later: 4 calls, 2 round trips, 350 ms (under the 5 s target)", async () => {
    const m = await measure({ warm: true, stale: true });
    expect(m.r.reconciled).toBe(true);
    expect(m.calls).toBe(4);
    expect(m.r.reads).toBe(2);
    expect(m.ms).toBe(350);
    expect(m.ms).toBeLessThan(5_000);
  });
});
