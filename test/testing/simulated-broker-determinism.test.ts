import fc from "fast-check";
import { Decimal, FINAL_BROKER_STATUSES, type OrderUpdate } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { codeOf, req } from "./helpers.js";

async function scenario(seed: number): Promise<string> {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed,
    cash: 50_000,
    prices: { SPY: 500, TECL: 52.6, FNGU: 33.05 },
    positions: { FNGU: "1591.166892" },
    latency: { restMs: 20, fillMs: 200, streamMs: 5 },
    partialFills: { probability: 0.5, parts: 3 },
    slippage: { bps: 5 },
    faults: {
      unavailable: 0.1,
      ambiguous: 0.1,
      stream_drop: 0.1,
      stream_duplicate: 0.1,
      latency_spike: { probability: 0.2, ms: 300 },
    },
  });
  broker.subscribeOrderUpdates({ onUpdate: () => {} });
  broker.script({ kind: "stream_reorder" });
  broker.script({ kind: "not_found_lag", ms: 100 });
  broker.script({ kind: "stale_reads", ms: 250 });
  const work = async () => {
    for (let i = 0; i < 8; i++) {
      await codeOf(broker.submitOrder(req("sell", "FNGU", { qty: "100.5" }, { clientOrderId: `s-${i}` })));
      await codeOf(broker.submitOrder(req("buy", "TECL", { notional: 1000 }, { clientOrderId: `b-${i}` })));
      await codeOf(broker.getAccount());
      await codeOf(broker.getPositions());
      await clock.sleep(400);
    }
  };
  await clock.run(work);
  await clock.runUntilIdle();
  return JSON.stringify(broker.eventLog());
}

describe("determinism", () => {
  it("same seed and script give the same event log, byte for byte", async () => {
    const a = await scenario(7);
    const b = await scenario(7);
    expect(a.length).toBeGreaterThan(1000);
    expect(a).toBe(b);
    const c = await scenario(8);
    expect(c).not.toBe(a);
  });
});

describe("invariants (property)", () => {
  const action = fc.oneof(
    fc.record({
      kind: fc.constant("buy" as const),
      symbol: fc.constantFrom("SPY", "TECL"),
      qty: fc.integer({ min: 1, max: 4000 }).map((n) => new Decimal(n).div(100)),
      limit: fc.option(fc.integer({ min: 40, max: 120 }), { nil: undefined }),
    }),
    fc.record({
      kind: fc.constant("sell" as const),
      symbol: fc.constantFrom("SPY", "TECL"),
      qty: fc.integer({ min: 1, max: 4000 }).map((n) => new Decimal(n).div(100)),
      limit: fc.option(fc.integer({ min: 40, max: 120 }), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant("cancel" as const), index: fc.nat(20) }),
    fc.record({
      kind: fc.constant("price" as const),
      symbol: fc.constantFrom("SPY", "TECL"),
      price: fc.integer({ min: 40, max: 120 }),
    }),
    fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 300 }) }),
  );

  it("no leverage, no short, holds and fills stay consistent", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(action, { maxLength: 25 }),
        fc.integer({ min: 0, max: 1000 }),
        async (actions, seed) => {
          const clock = new VirtualClock();
          const broker = createSimulatedBroker({
            clock,
            seed,
            cash: 5_000,
            prices: { SPY: 100, TECL: 50 },
            positions: { TECL: 20 },
            latency: { fillMs: 100 },
            partialFills: { probability: 0.5, parts: 2 },
            marketBuyBuffer: 0.5,
          });
          const updates: OrderUpdate[] = [];
          broker.subscribeOrderUpdates({ onUpdate: (u) => updates.push(u) });
          for (const a of actions) {
            if (a.kind === "buy" || a.kind === "sell") {
              await codeOf(
                broker.submitOrder(req(a.kind, a.symbol, { qty: a.qty.toString(), limit: a.limit })),
              );
            } else if (a.kind === "cancel") {
              const o = broker.orders()[a.index];
              if (o) await codeOf(broker.cancelOrder(o.id));
            } else if (a.kind === "price") broker.setPrice(a.symbol, a.price);
            else await clock.advance(a.ms);
            const account = await broker.getAccount();
            expect(account.cash.gte(0)).toBe(true);
            expect(account.buyingPower.lte(account.cash)).toBe(true);
            for (const p of await broker.getPositions()) {
              expect(p.qty.gt(0)).toBe(true);
              expect(p.qtyAvailable.gte(0) && p.qtyAvailable.lte(p.qty)).toBe(true);
            }
          }
          await clock.runUntilIdle();
          for (const o of broker.orders()) {
            if (o.qty) expect(o.filledQty.lte(o.qty)).toBe(true);
            const fills = updates.filter((u) => u.order.id === o.id && u.fill);
            const sum = fills.reduce((s, u) => s.plus(u.fill?.qty ?? 0), new Decimal(0));
            expect(sum.toString()).toBe(o.filledQty.toString());
            if (o.status === "filled") expect(FINAL_BROKER_STATUSES.has(o.status)).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
