import fc from "fast-check";
import { Decimal, OrderTracker } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const faults = fc.record({
  stream_drop: fc.double({ min: 0, max: 0.4, noNaN: true }),
  stream_duplicate: fc.double({ min: 0, max: 0.4, noNaN: true }),
  stream_reorder: fc.double({ min: 0, max: 0.4, noNaN: true }),
  stream_delay: fc.double({ min: 0, max: 0.3, noNaN: true }),
  stream_disconnect: fc.double({ min: 0, max: 0.05, noNaN: true }),
});

describe("order tracker (property)", () => {
  it("whatever the stream drops, duplicates, reorders or delays, each order ends as the broker has it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        faults,
        fc.array(fc.constantFrom("market", "limit-fills", "limit-cancel"), { minLength: 1, maxLength: 5 }),
        async (seed, probabilities, kinds) => {
          const clock = new VirtualClock();
          const broker = createSimulatedBroker({
            clock,
            seed,
            cash: 1_000_000,
            prices: { TECL: 50 },
            latency: { restMs: 10, fillMs: 150, streamMs: 5 },
            partialFills: { probability: 0.5, parts: 3 },
            faults: probabilities,
          });
          const tracker = new OrderTracker({ broker, clock, quietAfterMs: 5_000 });
          try {
            await clock.run(tracker.waitForHealthyStream());
            const ids: string[] = [];
            for (const [i, kind] of kinds.entries()) {
              const id = `p-${i}`;
              const limit = kind === "market" ? undefined : new Decimal(kind === "limit-fills" ? 49 : 30);
              const snap = await clock.run(
                broker.submitOrder({
                  clientOrderId: id,
                  symbol: "TECL",
                  side: "buy",
                  type: limit ? "limit" : "market",
                  timeInForce: "day",
                  qty: new Decimal(9),
                  ...(limit ? { limitPrice: limit } : {}),
                }),
              );
              tracker.track(snap);
              ids.push(id);
              if (kind === "limit-cancel") await clock.run(broker.cancelOrder(snap.id));
            }
            broker.setPrice("TECL", 48);
            const finals = await clock.run(
              Promise.all(ids.map((id) => tracker.waitForFinal(id, { timeoutMs: 120_000 }))),
            );
            // Late events (a held reordered update, a delayed one) may still arrive: let them.
            await clock.advance(30_000);
            for (const [i, f] of finals.entries()) {
              const truth = broker.findOrder(f.clientOrderId);
              const state = tracker.getState(f.clientOrderId);
              expect(f.status).toBe(truth?.status);
              expect(f.filledQty.toString()).toBe(truth?.filledQty.toString());
              expect(state?.status).toBe(truth?.status);
              expect(kinds[i] === "limit-cancel" ? "canceled" : "filled").toBe(f.status);
            }
          } finally {
            tracker.close();
          }
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });
});
