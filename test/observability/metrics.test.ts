import { metrics as otel } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { Decimal, instrumentRebalancer, METRICS, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { afterEach, describe, expect, it } from "vitest";

function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // A long interval: the test collects by hand with forceFlush.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const collect = async () => {
    await reader.forceFlush();
    const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    return (name: string) => all.filter((m) => m.descriptor.name === name).at(-1);
  };
  return { provider, collect };
}

function setup(extra: { slippageBps?: number } = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    positions: { AAA: 100 },
    prices: { AAA: 50, BBB: 20 },
    latency: { restMs: 10, fillMs: 40 },
    slippage: { bps: extra.slippageBps ?? 0 },
  });
  return { clock, broker, rebalancer: new SmartRebalancer({ broker, clock, seed: 3 }) };
}

const points = (m: { dataPoints: DataPoint<unknown>[] } | undefined) =>
  (m?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));

afterEach(() => {
  otel.disable();
});

describe("instrumentRebalancer", () => {
  it("records orders by final state, time to final, requests, turnover, slippage and the run", async () => {
    const { provider, collect } = sdk();
    const { clock, broker, rebalancer } = setup({ slippageBps: 10 });
    const handle = await instrumentRebalancer(rebalancer, { meter: provider.getMeter("test") });
    expect(handle.enabled).toBe(true);
    const report = await clock.run(
      rebalancer.rebalance({ weights: { AAA: 0.25, BBB: 0.5 } }, { runId: "m-1" }),
    );
    expect(report.status).toBe("completed");
    const get = await collect();

    expect(get(METRICS.orders.name)?.descriptor.unit).toBe("{order}");
    expect(points(get(METRICS.orders.name))).toEqual(
      expect.arrayContaining([
        { attributes: { state: "filled", side: "sell" }, value: 1 },
        { attributes: { state: "filled", side: "buy" }, value: 1 },
      ]),
    );
    const ttf = get(METRICS.timeToFinal.name);
    expect(ttf?.descriptor.unit).toBe("ms");
    const ttfPoint = ttf?.dataPoints[0]?.value as Histogram;
    expect(ttfPoint.count).toBe(2);
    expect(ttfPoint.min).toBeGreaterThanOrEqual(40); // fills come 40 ms after acceptance
    expect(points(get(METRICS.requests.name))).toEqual([{ attributes: {}, value: report.metrics.restCalls }]);
    expect(points(get(METRICS.requests.name))[0]?.value).toBe(broker.totalCalls());
    expect(points(get(METRICS.turnover.name))).toEqual([
      { attributes: {}, value: report.metrics.turnover.toNumber() },
    ]);
    expect(get(METRICS.turnover.name)?.descriptor.unit).toBe("USD");
    expect(points(get(METRICS.savedTurnover.name))[0]?.value).toBeCloseTo(
      report.metrics.savedTurnover.toNumber(),
      6,
    );
    const slip = get(METRICS.slippage.name);
    for (const p of slip?.dataPoints ?? []) {
      const h = p.value as Histogram;
      expect(h.min).toBeCloseTo(10, 6); // 10 bp worse, for the buy and the sell
      expect(h.max).toBeCloseTo(10, 6);
    }
    expect((slip?.dataPoints ?? []).map((p) => p.attributes.side).sort()).toEqual(["buy", "sell"]);
    expect(points(get(METRICS.runs.name))).toEqual([{ attributes: { status: "completed" }, value: 1 }]);
    expect(get(METRICS.unresolved.name)).toBeUndefined();
    handle.close();
  });

  it("counts refusals by code and unresolved orders", async () => {
    const { provider, collect } = sdk();
    const { clock, broker, rebalancer } = setup();
    broker.script({ kind: "reject_after_accept", times: 1 });
    await instrumentRebalancer(rebalancer, { meter: provider.getMeter("test") });
    const report = await clock.run(
      rebalancer.rebalance({ quantities: { AAA: 100, BBB: 10 } }, { runId: "m-2" }),
    );
    const rejected = report.orders.filter((o) => o.state === "rejected");
    expect(rejected).toHaveLength(1);
    const get = await collect();
    expect(points(get(METRICS.refusals.name))).toEqual([
      { attributes: { code: rejected[0]?.errorCode ?? "" }, value: 1 },
    ]);
    expect(points(get(METRICS.orders.name))).toEqual(
      expect.arrayContaining([{ attributes: { state: "rejected", side: "buy" }, value: 1 }]),
    );
  });

  it("records drift by class and a ledger's drift", async () => {
    const { provider, collect } = sdk();
    const { clock, broker, rebalancer } = setup();
    const handle = await instrumentRebalancer(rebalancer, { meter: provider.getMeter("test") });
    // A trade made elsewhere while the run's buy is in flight: the final reconciliation finds it.
    rebalancer.on("order:final", () => {
      if (broker.truth().positions.get("BBB") !== undefined) broker.outsideTrade("AAA", 7);
    });
    const report = await clock.run(
      rebalancer.rebalance({ quantities: { AAA: 100, BBB: 10 } }, { runId: "m-3" }),
    );
    const drifted = report.drift.filter((d) => d.notionalDiff !== undefined);
    expect(drifted.length).toBeGreaterThan(0);
    handle.recordLedgerDrift({
      kind: "ledger_drift",
      ledgerReserved: new Decimal(1000),
      brokerReserved: new Decimal(875),
      difference: new Decimal(-125),
      tolerance: new Decimal(1),
      added: [],
      removed: ["k1"],
      resized: [],
      unpriced: [],
    });
    const get = await collect();
    const drift = get(METRICS.drift.name);
    expect(drift?.descriptor.unit).toBe("USD");
    expect((drift?.dataPoints ?? []).map((p) => [p.attributes.class, (p.value as Histogram).sum])).toEqual(
      drifted.map((d) => [d.class, d.notionalDiff?.abs().toNumber()]),
    );
    const ledger = get(METRICS.ledgerDrift.name)?.dataPoints[0]?.value as Histogram | undefined;
    expect(ledger?.sum).toBe(125);
  });

  it("without a meter it uses @opentelemetry/api's global provider, loaded lazily", async () => {
    const { provider, collect } = sdk();
    otel.setGlobalMeterProvider(provider);
    const { clock, rebalancer } = setup();
    const handle = await instrumentRebalancer(rebalancer);
    expect(handle.enabled).toBe(true);
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 90 } }, { runId: "m-4" }));
    const get = await collect();
    expect(points(get(METRICS.runs.name))).toEqual([{ attributes: { status: "completed" }, value: 1 }]);
  });

  it("close() stops recording", async () => {
    const { provider, collect } = sdk();
    const { clock, rebalancer } = setup();
    const handle = await instrumentRebalancer(rebalancer, { meter: provider.getMeter("test") });
    handle.close();
    await clock.run(rebalancer.rebalance({ quantities: { AAA: 90 } }, { runId: "m-5" }));
    const get = await collect();
    expect(get(METRICS.runs.name)).toBeUndefined();
  });
});
