import { inProcessCoordination, isOrdersafeError, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// SmartRebalancer with a coordination, strategies and scopes, on the simulated broker.

function setup(cash = 10_000, positions: Record<string, number> = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 3,
    cash,
    positions,
    prices: { AAA: 10, BBB: 20, CCC: 50 },
    latency: { restMs: 5, fillMs: 20 },
  });
  const coordination = inProcessCoordination({ account: "PA-1", clock });
  return { clock, broker, coordination };
}

describe("SmartRebalancer with strategies", () => {
  it("carries the strategy in every client order id; sleeves see only their own holdings", async () => {
    const { clock, broker, coordination } = setup(10_000, { CCC: 10 });
    const a = new SmartRebalancer({ broker, clock, coordination, strategyId: "alpha", scope: "sleeve" });
    const b = new SmartRebalancer({ broker, clock, coordination, strategyId: "beta", scope: "sleeve" });
    const ra = await clock.run(a.rebalance({ quantities: { AAA: 100 } }));
    const rb = await clock.run(b.rebalance({ quantities: { AAA: 50, BBB: 10 } }));
    expect(ra.status).toBe("completed");
    expect(rb.status).toBe("completed");
    expect(ra.orders.map((o) => o.clientOrderId.startsWith("os-alpha_"))).toEqual([true]);
    expect(rb.orders.every((o) => o.clientOrderId.startsWith("os-beta_"))).toBe(true);
    // beta's sleeve held no AAA: it bought its own 50, beside alpha's 100.
    expect(broker.truth().positions.get("AAA")?.toFixed()).toBe("150");
    // alpha goes flat in its sleeve: it sells its 100 only; beta's AAA and the CCC nobody's
    // strategy bought are never touched.
    const flat = await clock.run(a.rebalance({ weights: {} }));
    expect(flat.orders.map((o) => [o.symbol, o.side, o.filledQty.toFixed()])).toEqual([
      ["AAA", "sell", "100"],
    ]);
    expect(broker.truth().positions.get("AAA")?.toFixed()).toBe("50");
    expect(broker.truth().positions.get("CCC")?.toFixed()).toBe("10");
    expect(broker.truth().positions.get("BBB")?.toFixed()).toBe("10");
  });

  it("a leg that meets another strategy's opposite order is skipped as foreign_conflict, never cancelled", async () => {
    const { clock, broker, coordination } = setup(10_000, { AAA: 100 });
    // Another strategy's open sell of AAA, far from the market (it stays open).
    await clock.run(
      broker.submitOrder({
        clientOrderId: "os-beta_x-AAA-s0-0000000000000000",
        symbol: "AAA",
        side: "sell",
        type: "limit",
        timeInForce: "day",
        qty: (await import("ordersafe")).toDecimal(10),
        limitPrice: (await import("ordersafe")).toDecimal(1000),
      }),
    );
    const a = new SmartRebalancer({ broker, clock, coordination, strategyId: "alpha", scope: "sleeve" });
    const report = await clock.run(a.rebalance({ quantities: { AAA: 10, BBB: 5 } }));
    const beta = broker.orders().find((o) => o.clientOrderId.startsWith("os-beta_"));
    expect(beta?.status).toBe("new");
    expect(report.adjustments.some((x) => x.symbol === "AAA" && x.reason === "foreign_conflict")).toBe(true);
    expect(report.orders.map((o) => o.symbol)).toEqual(["BBB"]);
    // With cancelConflicts "all", the same conflict is cancelled and the leg traded.
    const all = new SmartRebalancer({
      broker,
      clock,
      coordination,
      strategyId: "alpha",
      scope: "sleeve",
      cancelConflicts: "all",
    });
    const r2 = await clock.run(all.rebalance({ quantities: { AAA: 10, BBB: 5 } }));
    expect(broker.orders().find((o) => o.clientOrderId.startsWith("os-beta_"))?.status).toBe("canceled");
    expect(r2.orders.map((o) => o.symbol)).toEqual(["AAA"]);
  });

  it("buys reserve in the shared ledger, bound before the send and released at the final state", async () => {
    const { clock, broker, coordination } = setup(1_000);
    const seen: string[] = [];
    const a = new SmartRebalancer({ broker, clock, coordination, strategyId: "alpha", scope: "sleeve" });
    a.on("order:sending", async () => {
      for (const h of await coordination.ledger.holds()) seen.push(`${h.state}:${h.clientOrderIds.length}`);
    });
    await coordination.ledger.reserve({
      key: "other",
      strategyId: "beta",
      amount: 900_000_000,
      capacity: 1_000_000_000,
    });
    const r = await clock.run(a.rebalance({ notionals: { AAA: 500 } }));
    // Only $100 of the $1,000 was left beside beta's hold: the buy shrank or was refused.
    expect(r.orders.every((o) => o.filledNotional.lte(100))).toBe(true);
    expect(broker.truth().cash.gte(0)).toBe(true);
    await coordination.ledger.release("other");
    await clock.advance(30_001); // a released hold lingers releaseLingerMs
    const r2 = await clock.run(a.rebalance({ notionals: { AAA: 500 } }, { runId: "second" }));
    expect(r2.orders.some((o) => o.state === "filled")).toBe(true);
    expect(seen).toContain("reserved:0");
    const holds = await coordination.ledger.holds();
    expect(holds.filter((h) => h.strategyId === "alpha").every((h) => h.state === "released")).toBe(true);
  });

  it("a run whose lease passed to another process stops before its next write", async () => {
    const { clock, broker, coordination } = setup(10_000, { CCC: 10 });
    const a = new SmartRebalancer({ broker, clock, coordination, strategyId: "alpha" });
    // Between the sells and the buys the lease lapses and another process takes it.
    a.on("phase", (e) => {
      if (e.phase === "replan_buys") coordinationSteal(coordination);
    });
    const attempts: number[] = [];
    a.on("order:sending", (e) => attempts.push(e.attempt));
    const r = await clock.run(a.rebalance({ quantities: { CCC: 5, AAA: 10, BBB: 10 } }));
    // The sell went out under the lease; no buy reached the broker, and none was retried (the
    // two buys start together: each is tried once and refused before the broker).
    expect(broker.orders().map((o) => [o.symbol, o.side])).toEqual([["CCC", "sell"]]);
    expect(attempts).toEqual([1, 1, 1]);
    expect(r.adjustments.some((x) => x.reason === "lease_lost")).toBe(true);
    expect(r.orders.filter((o) => o.side === "buy").every((o) => o.state === "submit_failed")).toBe(true);
  });

  it("another run waits for the lease, and throws lease_held past leaseWaitMs", async () => {
    const { clock, broker, coordination } = setup(10_000);
    const held = await coordination.lease.acquire("elsewhere", 60_000);
    expect(held.ok).toBe(true);
    const a = new SmartRebalancer({ broker, clock, coordination, strategyId: "alpha", leaseWaitMs: 5_000 });
    const e = await clock.run(a.rebalance({ quantities: { AAA: 1 } })).catch((x: unknown) => x);
    expect(isOrdersafeError(e) && e.code).toBe("lease_held");
    expect(broker.orders()).toHaveLength(0);
  });

  it("refuses a bad strategy id, journal beside coordination, and sleeve on a port without history", () => {
    const { clock, broker, coordination } = setup();
    const bad = [
      { strategyId: "has space" },
      { strategyId: "waytoolongstrategy" },
      { coordination, journal: coordination.journal },
      { cancelConflicts: "some" },
    ];
    for (const extra of bad) {
      try {
        // @ts-expect-error: bad on purpose
        new SmartRebalancer({ broker, clock, ...extra });
        expect.unreachable();
      } catch (e) {
        expect(isOrdersafeError(e) && e.code).toBe("validation");
      }
    }
  });
});

/** Takes the lease from whoever holds it: as if it lapsed and another process took it. */
function coordinationSteal(c: ReturnType<typeof inProcessCoordination>): void {
  const lease = c.lease as unknown as { current?: { expiresAt: number } };
  if (lease.current) lease.current.expiresAt = 0;
  void c.lease.acquire("thief", 60_000);
}
