import fc from "fast-check";
import { BuyingPowerManager, Decimal, ZERO } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

describe("BuyingPowerManager concurrency", () => {
  it("concurrent reserves never overspend", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5000 }),
        fc.array(
          fc.record({
            qty: fc.integer({ min: 1, max: 20 }),
            limit: fc.integer({ min: 1, max: 400 }),
            market: fc.boolean(),
          }),
          {
            minLength: 2,
            maxLength: 12,
          },
        ),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom("cash" as const, "buying_power" as const, "non_marginable_buying_power" as const),
        async (cash, orders, restMs, fundingBasis) => {
          const clock = new VirtualClock();
          // market closed: orders stay open and keep their holds at the broker
          const broker = createSimulatedBroker({
            clock,
            cash,
            prices: { TECL: 37 },
            marketOpen: false,
            latency: { restMs, fillMs: 0, streamMs: 0 },
          });
          const bp = new BuyingPowerManager({ broker, clock, fundingBasis });
          const results = await clock.run(
            Promise.all(
              orders.map(async (o, i) => {
                const intent = {
                  symbol: "TECL",
                  side: "buy" as const,
                  qty: new Decimal(o.qty),
                  type: o.market ? ("market" as const) : ("limit" as const),
                  ...(o.market ? {} : { limitPrice: new Decimal(o.limit) }),
                  timeInForce: "day" as const,
                  clientOrderId: `k${i}`,
                };
                const r = await bp.reserve(intent);
                if (r.ok) {
                  // the broker must accept every order the ledger funded
                  const placed = await broker.submitOrder({ ...intent, clientOrderId: intent.clientOrderId });
                  bp.acknowledge(placed.clientOrderId, placed.createdAt ?? placed.updatedAt);
                }
                return r;
              }),
            ),
          );
          const taken = results.reduce((s, r) => (r.ok ? s.plus(r.reservation.amount) : s), ZERO);
          expect(taken.lte(cash)).toBe(true);
          expect(bp.ledger.totalReserved().toString()).toBe(taken.toString());
          for (const r of results) if (!r.ok) expect(r.shortfall.gt(0)).toBe(true);
          expect((await clock.run(bp.getAvailableBuyingPower())).toString()).toBe(
            taken.neg().plus(cash).toString(),
          );
          const account = await clock.run(broker.getAccount());
          expect(account.buyingPower.gte(0)).toBe(true);
          expect(account.buyingPower.toString()).toBe(taken.neg().plus(cash).toString());
        },
      ),
      { numRuns: 150 },
    );
  });
});
