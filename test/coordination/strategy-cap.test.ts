import { type Coordination, inProcessCoordination, isOrdersafeError, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// strategyCap: the most buying power a strategy holds and spends in one run, enforced in the
// coordination's ledger with each reservation. Prices AAA 10, BBB 20, CCC 50: the buys reserve
// AAA 100 → $1,000, BBB 40 → $800, CCC 10 → $500.

const TARGETS = { quantities: { AAA: 100, BBB: 40, CCC: 10 } };

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 9,
    cash: 10_000,
    prices: { AAA: 10, BBB: 20, CCC: 50 },
    latency: { restMs: 5, fillMs: 20 },
  });
  const coordination = inProcessCoordination({ account: "PA-CAP", clock });
  const rebalancer = (strategyCap?: number, c: Coordination = coordination) =>
    new SmartRebalancer({
      broker,
      clock,
      coordination: c,
      strategyId: "alpha",
      scope: "sleeve",
      concurrency: 1,
      ...(strategyCap !== undefined ? { strategyCap } : {}),
    });
  return { clock, broker, coordination, rebalancer };
}

describe("strategyCap", () => {
  it("counts what the run's buys already spent: a buy past the cap is not sent, with a reason", async () => {
    const { clock, broker, rebalancer } = setup();
    const report = await clock.run(rebalancer(1_600).rebalance(TARGETS));
    const capped = report.orders.filter((o) => o.errorCode === "strategy_cap");
    // Whichever buy comes second of AAA and BBB does not fit beside the first: $1,800 > $1,600.
    expect(capped).toHaveLength(1);
    expect(capped[0]).toMatchObject({ side: "buy", state: "submit_failed", orderId: undefined });
    expect(["AAA", "BBB"]).toContain(capped[0]?.symbol);
    expect(report.adjustments).toContainEqual(
      expect.objectContaining({ symbol: capped[0]?.symbol, side: "buy", reason: "strategy_cap" }),
    );
    const filled = report.orders.filter((o) => o.state === "filled");
    expect(filled.map((o) => o.symbol).sort()).toEqual(
      ["AAA", "BBB", "CCC"].filter((s) => s !== capped[0]?.symbol),
    );
    const spent = filled.reduce((x, o) => x + o.filledNotional.toNumber(), 0);
    expect(spent).toBeLessThanOrEqual(1_600);
    expect(report.metrics.buyingPowerRejections).toBe(0);
    expect(report.orders.some((o) => o.errorCode === "insufficient_buying_power")).toBe(false);
    expect(broker.orders().filter((o) => o.symbol === capped[0]?.symbol)).toEqual([]);
  });

  it("the same run without a cap buys everything (the cash is not what limits it)", async () => {
    const { clock, rebalancer } = setup();
    const report = await clock.run(rebalancer().rebalance(TARGETS));
    expect(report.orders.filter((o) => o.state === "filled")).toHaveLength(3);
  });

  it("counts the strategy's holds in other processes: a cap already taken refuses every buy", async () => {
    const { clock, broker, coordination, rebalancer } = setup();
    // Another process of the same strategy holds $1,000 (reserved, not yet sent, for an hour).
    await coordination.ledger.reserve({
      key: "elsewhere",
      strategyId: "alpha",
      amount: 1_000_000_000,
      capacity: 10_000_000_000,
      ttlMs: 3_600_000,
    });
    const report = await clock.run(rebalancer(1_400).rebalance({ quantities: { AAA: 100, CCC: 10 } }));
    // $1,000 + $1,000 > $1,400; $1,000 + $500 > $1,400.
    expect(report.orders.map((o) => [o.symbol, o.errorCode]).sort()).toEqual([
      ["AAA", "strategy_cap"],
      ["CCC", "strategy_cap"],
    ]);
    expect(broker.orders()).toEqual([]);
  });

  it("is zod-checked, and needs a coordination", () => {
    const { broker } = setup();
    const bads: unknown[] = [-1, Number.NaN, Number.POSITIVE_INFINITY, "100"];
    for (const bad of bads) {
      try {
        new SmartRebalancer({
          broker,
          coordination: inProcessCoordination({ account: "X" }),
          // @ts-expect-error: bad on purpose (unknown)
          strategyCap: bad,
        });
        expect.unreachable();
      } catch (e) {
        expect(isOrdersafeError(e) && e.code).toBe("validation");
      }
    }
    try {
      new SmartRebalancer({ broker, strategyCap: 100 });
      expect.unreachable();
    } catch (e) {
      expect(isOrdersafeError(e) && e.code).toBe("validation");
      expect(String(e)).toContain("strategyCap");
    }
  });
});
