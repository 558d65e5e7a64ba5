import fc from "fast-check";
import {
  Decimal,
  formatReport,
  inProcessCoordination,
  isFinalBrokerStatus,
  isOrdersafeError,
  memoryJournal,
  reportToJSON,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { policyArb as limitPolicyArb } from "./arbitraries.js";

// SmartRebalancer sending its legs through execution policies (the `execution` option), on the
// simulated broker's quote model: limits at the broker, the report's slippage, the journal's
// replaces, what a rebalance refuses, and properties under random quote paths and faults.

const PRICES = { AAA: 20, BBB: 50, CCC: 125, DDD: 8 };

function setup(
  o: {
    seed?: number;
    cash?: number;
    positions?: Record<string, number>;
    spreadBps?: number;
    volatilityBps?: number;
    passive?: number;
    faults?: NonNullable<Parameters<typeof createSimulatedBroker>[0]>["faults"];
    partial?: boolean;
  } = {},
) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: o.seed ?? 5,
    cash: o.cash ?? 20_000,
    prices: PRICES,
    positions: o.positions ?? { AAA: 200, BBB: 40 },
    latency: { restMs: 10, fillMs: 40, streamMs: 5 },
    partialFills: o.partial === true ? { probability: 0.5, parts: 3 } : false,
    quotes: {
      spreadBps: o.spreadBps ?? 20,
      volatilityBps: o.volatilityBps ?? 2,
      stepMs: 500,
      passiveFillProbability: o.passive ?? 0.3,
    },
    ...(o.faults !== undefined ? { faults: o.faults } : {}),
  });
  return { clock, broker };
}

const ZERO = new Decimal(0);

describe("SmartRebalancer with execution policies", () => {
  it("sends every leg as a marketable limit and reports arrival mid, slippage and steps per order and in total", async () => {
    const { clock, broker } = setup();
    const rebalancer = new SmartRebalancer({ broker, clock, seed: 1, execution: "marketable" });
    const report = await clock.run(
      rebalancer.rebalance({ weights: { AAA: 0.1, BBB: 0.2, CCC: 0.3, DDD: 0.2 } }),
    );
    expect(report.status).toBe("completed");
    expect(report.orders.length).toBeGreaterThanOrEqual(3);
    // Every order at the broker is a limit: nothing went as a market order.
    const sent = broker.orders();
    expect(sent.length).toBeGreaterThanOrEqual(report.orders.length);
    expect(sent.every((x) => x.type === "limit")).toBe(true);
    let dollars = ZERO;
    let notional = ZERO;
    for (const o of report.orders) {
      const e = o.execution;
      expect(e?.policy).toBe("marketable_limit");
      expect(e?.arrivalMid?.gt(0)).toBe(true);
      expect(e?.steps).toBeGreaterThanOrEqual(1);
      expect(o.state).toBe("filled");
      // Slippage in dollars is (average price − arrival mid) × shares, signed by the side.
      const mid = e?.arrivalMid ?? ZERO;
      const perShare = o.side === "buy" ? (o.avgPrice ?? ZERO).minus(mid) : mid.minus(o.avgPrice ?? ZERO);
      expect(e?.slippageDollars.minus(perShare.times(o.filledQty)).abs().lt("0.000001")).toBe(true);
      dollars = dollars.plus(e?.slippageDollars ?? ZERO);
      notional = notional.plus(o.filledNotional);
    }
    expect(report.execution?.legs).toBe(report.orders.length);
    expect(report.execution?.slippageDollars.toFixed(6)).toBe(dollars.toFixed(6));
    expect(report.execution?.filledNotional.toFixed(6)).toBe(notional.toFixed(6));
    expect(report.execution?.slippageBps).toBeCloseTo(dollars.div(notional).times(10_000).toNumber(), 9);
    // The printed report shows each policy leg and the run's total.
    const text = formatReport(report);
    expect(text).toContain(`execution: ${report.orders.length} legs`);
    for (const o of report.orders)
      expect(text).toMatch(new RegExp(`${o.symbol}\\s+${o.side}\\s+marketable_limit`));
    expect(
      formatReport(
        await clock.run(new SmartRebalancer({ broker, clock }).rebalance({ weights: {} }, { dryRun: true })),
      ),
    ).not.toContain("Execution");
    const json = reportToJSON(report);
    expect(json.execution?.legs).toBe(report.orders.length);
    expect(json.orders[0]?.execution?.arrivalMid).toBe(report.orders[0]?.execution?.arrivalMid?.toFixed());
  });

  it("picks the policy per leg: by symbol, then side, then default; a leg none names is a market order with no execution field", async () => {
    const { clock, broker } = setup({ positions: { AAA: 200, BBB: 40, DDD: 100 } });
    const rebalancer = new SmartRebalancer({ broker, clock, seed: 1 });
    const report = await clock.run(
      rebalancer.rebalance(
        { quantities: { AAA: 100, BBB: 60, CCC: 10, DDD: 100 } },
        {
          execution: {
            sell: "marketable",
            symbols: { CCC: { type: "stepped_limit", steps: 2, stepMs: 1_000, finalAction: "market" } },
          },
        },
      ),
    );
    expect(report.status).toBe("completed");
    const by = new Map(report.orders.map((o) => [`${o.symbol}:${o.side}`, o]));
    expect(by.get("AAA:sell")?.execution?.policy).toBe("marketable_limit");
    expect(by.get("CCC:buy")?.execution?.policy).toBe("stepped_limit");
    expect(by.get("BBB:buy")?.execution).toBeUndefined();
    const bbb = broker.orders().filter((x) => x.symbol === "BBB");
    expect(bbb.map((x) => x.type)).toEqual(["market"]);
    // Without the option on the rebalancer and the run, no report carries execution totals.
    const plain = await clock.run(rebalancer.rebalance({ quantities: { AAA: 90 } }));
    expect(plain.execution).toBeUndefined();
    expect(plain.orders.every((o) => o.execution === undefined)).toBe(true);
  });

  it("refuses what a rebalance cannot do before anything is sent", async () => {
    const { clock, broker } = setup();
    const hold = { type: "stepped_limit", steps: 2, finalAction: "hold" } as const;
    expect(() => new SmartRebalancer({ broker, clock, execution: hold })).toThrow(/hold/);
    expect(
      () => new SmartRebalancer({ broker, clock, execution: { type: "stepped_limit", steps: 16 } }),
    ).toThrow(/client order ids/);
    // @ts-expect-error an unknown preset's name is refused at run time too
    expect(() => new SmartRebalancer({ broker, clock, execution: "no-such-preset" })).toThrow(
      /no-such-preset|preset|type/,
    );
    const rebalancer = new SmartRebalancer({ broker, clock });
    const before = broker.orders().length;
    const refused = await clock
      .run(rebalancer.rebalance({ weights: { AAA: 0.5 } }, { execution: { buy: hold } }))
      .catch((e: unknown) => e);
    expect(isOrdersafeError(refused) && refused.code === "validation").toBe(true);
    expect(broker.orders().length).toBe(before);
  });

  it("outside regular hours trades only when every leg has an extended-hours limit policy", async () => {
    const closed = () => {
      const clock = new VirtualClock();
      const broker = createSimulatedBroker({
        clock,
        cash: 10_000,
        prices: PRICES,
        marketOpen: false,
        latency: { restMs: 10, fillMs: 40 },
        quotes: { spreadBps: 20, volatilityBps: 0, stepMs: 500 },
      });
      return { clock, broker };
    };
    const a = closed();
    const market = await a.clock.run(
      new SmartRebalancer({ broker: a.broker, clock: a.clock }).rebalance({ quantities: { AAA: 10 } }),
    );
    expect(market.error?.code).toBe("market_closed");
    expect(a.broker.orders()).toEqual([]);
    const b = closed();
    const extended = { type: "marketable_limit", collarBps: 10, extendedHours: true } as const;
    const report = await b.clock.run(
      new SmartRebalancer({ broker: b.broker, clock: b.clock, execution: extended }).rebalance({
        quantities: { AAA: 10 },
      }),
    );
    expect(report.error?.code).not.toBe("market_closed");
    const sent = b.broker.orders();
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((x) => x.type === "limit")).toBe(true);
    expect(report.orders[0]?.execution?.policy).toBe("marketable_limit");
    // A market policy cannot be marked for extended hours at all.
    expect(
      () =>
        new SmartRebalancer({
          broker: b.broker,
          clock: b.clock,
          execution: { type: "market", extendedHours: true },
        }),
    ).toThrow(/extended/);
  });

  it("journals every replace: a run killed mid-step is taken over and the replaced order followed, never placed twice", async () => {
    const { clock, broker } = setup({ passive: 0, spreadBps: 40, volatilityBps: 0, positions: {} });
    const journal = memoryJournal();
    const patient = { type: "stepped_limit", steps: 6, stepMs: 2_000, finalAction: "market" } as const;
    const first = new SmartRebalancer({ broker, clock, seed: 1, journal, account: "A", execution: patient });
    const abort = new AbortController();
    const running = first.rebalance({ quantities: { CCC: 20 } }, { runId: "r1", signal: abort.signal });
    const failed = running.catch((e: unknown) => e);
    // Let it step twice (a submit and a replace), then stop the process's run.
    await clock.advance(5_000);
    abort.abort();
    await clock.run(failed);
    const { runs } = await journal.openRuns("A");
    const replaces = runs.flatMap((r) => r.entries).filter((e) => e.type === "send" && e.op === "replace");
    expect(replaces.length).toBeGreaterThanOrEqual(1);
    const second = new SmartRebalancer({ broker, clock, seed: 2, journal, account: "A", execution: patient });
    const report = await clock.run(second.resume("r1"));
    await clock.advance(10_000);
    // The taken-over chain: the first order and the one its replace placed, both adopted and final.
    const adopted = report.orders.filter((o) => o.adopted && o.symbol === "CCC");
    expect(adopted.length).toBeGreaterThanOrEqual(2);
    expect(adopted.filter((o) => o.state === "replaced").length).toBeGreaterThanOrEqual(1);
    const check = () => {
      const ccc = broker.orders().filter((x) => x.symbol === "CCC");
      const ids = ccc.map((x) => x.clientOrderId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ccc.every((x) => isFinalBrokerStatus(x.status))).toBe(true);
      const filled = ccc.reduce((s, x) => s.plus(x.filledQty), ZERO);
      expect(broker.truth().positions.get("CCC")?.toFixed() ?? "0").toBe(filled.toFixed());
      return filled;
    };
    check();
    // Every order of the taken-over run is final: the journal no longer holds it open.
    expect((await journal.openRuns("A")).runs).toEqual([]);
    // The next run buys what the chain did not, and nothing beyond the target.
    const next = await clock.run(second.rebalance({ quantities: { CCC: 20 } }, { execution: "marketable" }));
    expect(["completed", "completed_adjusted"]).toContain(next.status);
    const filled = check();
    expect(filled.gt(19) && filled.lte(20)).toBe(true);
  });
});

// A rebalance refuses "hold"; presets by name too.
const policyArb = fc.oneof(
  fc.constantFrom("market", "marketable", "patient"),
  limitPolicyArb(["market", "cancel"], 6, 5),
);

const scenarioArb = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  positions: fc.record({ AAA: fc.nat(300), BBB: fc.nat(80), CCC: fc.nat(20) }),
  cash: fc.integer({ min: 0, max: 20_000 }),
  weights: fc.record({
    AAA: fc.integer({ min: 0, max: 30 }),
    BBB: fc.integer({ min: 0, max: 30 }),
    CCC: fc.integer({ min: 0, max: 30 }),
    DDD: fc.integer({ min: 0, max: 10 }),
  }),
  spreadBps: fc.integer({ min: 0, max: 60 }),
  volatilityBps: fc.integer({ min: 0, max: 15 }),
  passive: fc.constantFrom(0, 0.2, 0.5),
  partial: fc.boolean(),
  faults: fc.record({
    ambiguousReplace: fc.constantFrom(0, 0.3, 1),
    fillBeforeReplace: fc.constantFrom(0, 0.3),
    fillAfterCancel: fc.constantFrom(0, 0.5),
    streamDrop: fc.constantFrom(0, 0.3),
  }),
  buy: policyArb,
  sell: policyArb,
});

describe("SmartRebalancer with execution policies under faults (properties)", () => {
  it("never places an intent twice, never fills a leg beyond its plan, leaves no hold, ends every order", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const { clock, broker } = setup({
          seed: s.seed,
          cash: s.cash,
          positions: s.positions,
          spreadBps: s.spreadBps,
          volatilityBps: s.volatilityBps,
          passive: s.passive,
          partial: s.partial,
          faults: {
            ambiguous: { probability: s.faults.ambiguousReplace, method: "replaceOrder" },
            fill_before_replace: s.faults.fillBeforeReplace,
            fill_after_cancel: s.faults.fillAfterCancel,
            stream_drop: s.faults.streamDrop,
          },
        });
        const coordination = inProcessCoordination({ account: "P", clock });
        const rebalancer = new SmartRebalancer({
          broker,
          clock,
          seed: 1,
          coordination,
          execution: { buy: s.buy, sell: s.sell },
        });
        const w = s.weights;
        const weights = { AAA: w.AAA / 100, BBB: w.BBB / 100, CCC: w.CCC / 100, DDD: w.DDD / 100 };
        const report = await clock.run(rebalancer.rebalance({ weights }));
        await clock.advance(60_000);
        const orders = broker.orders();
        // No intent placed twice: every client order id is one order at the broker.
        const ids = orders.map((o) => o.clientOrderId);
        expect(new Set(ids).size).toBe(ids.length);
        // Every order at the broker is final: nothing left working after the run.
        expect(orders.filter((o) => !isFinalBrokerStatus(o.status))).toEqual([]);
        // No (symbol, side) filled beyond what its plan asked, across its whole chain.
        for (const leg of [...(report.plan?.legs ?? []), ...(report.buyPlan?.legs ?? [])]) {
          if (leg.qty === undefined) continue;
          const chain = orders.filter((o) => o.symbol === leg.symbol && o.side === leg.side);
          const filled = chain.reduce((sum, o) => sum.plus(o.filledQty), ZERO);
          const asked = [...(report.plan?.legs ?? []), ...(report.buyPlan?.legs ?? [])]
            .filter((l) => l.symbol === leg.symbol && l.side === leg.side)
            .reduce((sum, l) => sum.plus(l.qty ?? ZERO), ZERO);
          expect(filled.lte(asked), `${leg.symbol} ${leg.side} filled ${filled} of ${asked}`).toBe(true);
        }
        // No reservation left on the shared ledger.
        const held = (await coordination.ledger.holds()).filter((h) => h.state !== "released");
        expect(held).toEqual([]);
        // Every order of the report is in a definitive final state, and its fills are the chain's.
        for (const o of report.orders) {
          expect([
            "filled",
            "canceled",
            "expired",
            "rejected",
            "submit_failed",
            "unresolved",
            "done_for_day",
          ]).toContain(o.state);
          if (o.execution === undefined) continue;
          const chain = o.execution.orders.reduce((sum, x) => sum.plus(x.filledQty), ZERO);
          expect(chain.toFixed()).toBe(o.filledQty.toFixed());
        }
        // The broker's positions are the fills: cash never went negative.
        expect(broker.truth().cash.gte(0)).toBe(true);
      }),
      { numRuns: 60, seed: 29, endOnFailure: true },
    );
  }, 240_000);
});
