// A listener or a logger that throws never changes what is traded or reported: each is
// isolated (caught, logged, the run goes on).

import { type Logger, type RebalanceReport, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const targets = { weights: { AAA: 0.2, BBB: 0.5, CCC: 0.3 } };

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 11,
    cash: 2_000,
    positions: { AAA: 100 },
    prices: { AAA: 10, BBB: 20, CCC: 5 },
    latency: { restMs: 20, fillMs: 100 },
  });
  return { clock, broker };
}

/** What a run did, without its timing-free identity fields. */
function essence(report: RebalanceReport) {
  return {
    status: report.status,
    orders: report.orders.map((o) => `${o.symbol}:${o.side}:${o.state}:${o.filledQty}`).sort(),
    drifts: report.drift?.length ?? 0,
  };
}

async function baseline() {
  const { clock, broker } = setup();
  const report = await clock.run(new SmartRebalancer({ broker, clock, seed: 1 }).rebalance(targets));
  return { report, truth: broker.truth() };
}

const THROWING_EVENTS = ["order:sending", "order:submitted", "order:final", "phase", "plan", "done"] as const;

describe("listener isolation", () => {
  it.each(THROWING_EVENTS)(
    "a throwing %s listener changes neither the trades nor the report",
    async (event) => {
      const expected = await baseline();
      const { clock, broker } = setup();
      const errors: unknown[][] = [];
      const logger: Logger = { debug() {}, info() {}, warn() {}, error: (...a) => errors.push(a) };
      const rebalancer = new SmartRebalancer({ broker, clock, seed: 1, logger });
      let calls = 0;
      rebalancer.on(event, () => {
        calls++;
        throw new Error(`listener for ${event} failed`);
      });
      const finals: string[] = [];
      rebalancer.on("order:final", (e) => finals.push(e.outcome.symbol));
      const report = await clock.run(rebalancer.rebalance(targets));
      expect(calls).toBeGreaterThan(0);
      expect(essence(report)).toEqual(essence(expected.report));
      expect(report.orders.length).toBeGreaterThan(0);
      expect(finals.sort()).toEqual(report.orders.map((o) => o.symbol).sort());
      expect(broker.truth().positions).toEqual(expected.truth.positions);
      expect(errors.length).toBe(calls);
      expect(JSON.stringify(errors)).toContain(`listener for ${event} failed`);
    },
  );

  it("order:submitted fires once the broker holds the order, order:sending before each attempt", async () => {
    const { clock, broker } = setup();
    const rebalancer = new SmartRebalancer({ broker, clock, seed: 1 });
    const seen: string[] = [];
    rebalancer.on("order:sending", (e) => {
      seen.push(`sending ${e.request.symbol}`);
      expect(broker.orders().some((o) => o.clientOrderId === e.request.clientOrderId)).toBe(false);
    });
    rebalancer.on("order:submitted", (e) => {
      seen.push(`submitted ${e.order.symbol}`);
      expect(broker.orders().some((o) => o.id === e.order.id)).toBe(true);
    });
    const report = await clock.run(rebalancer.rebalance(targets));
    const symbols = report.orders.map((o) => o.symbol);
    for (const s of symbols) {
      expect(seen.indexOf(`sending ${s}`)).toBeLessThan(seen.indexOf(`submitted ${s}`));
    }
    expect(seen.filter((x) => x.startsWith("submitted"))).toHaveLength(symbols.length);
  });
});

describe("logger isolation", () => {
  it("a logger whose every method throws changes neither the trades nor the report", async () => {
    const expected = await baseline();
    const { clock, broker } = setup();
    const boom = () => {
      throw new Error("log sink down");
    };
    const logger: Logger = { debug: boom, info: boom, warn: boom, error: boom };
    const report = await clock.run(
      new SmartRebalancer({ broker, clock, seed: 1, logger }).rebalance(targets),
    );
    expect(essence(report)).toEqual(essence(expected.report));
    expect(broker.truth().positions).toEqual(expected.truth.positions);
  });
});
