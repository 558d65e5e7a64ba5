// The `ledger:drift` event: a settled cash read that differs from what the ledger expected
// (the previous settled read, plus the sells' and minus the buys' fills since), the metric
// recorded from it (OpenTelemetry's in-memory exporter) and the alert on it.
import { metrics as otel } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { type Alert, instrumentRebalancer, LedgerCashView, METRICS, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { afterEach, describe, expect, it } from "vitest";

afterEach(() => {
  otel.disable();
});

/**
 * A run that sells AAA and buys BBB; `outside` dollars of FFF are bought outside the run
 * while its sells are placed (so after the first settled read, before the re-read).
 */
async function scenario(outside: number, thresholds: { ledgerDriftNotional?: number } = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 1_000,
    positions: { AAA: 100 },
    prices: { AAA: 50, BBB: 20, FFF: 4 },
    latency: { restMs: 10, fillMs: 40 },
  });
  const received: Alert[] = [];
  const rebalancer = new SmartRebalancer({
    broker,
    clock,
    seed: 7,
    alerts: { sinks: [{ send: (a) => void received.push(a) }], thresholds },
  });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  await instrumentRebalancer(rebalancer, { meter: provider.getMeter("test") });
  const events: { runId: string; difference: string; expected: string; settled: string; fills: number }[] =
    [];
  rebalancer.on("ledger:drift", (e) =>
    events.push({
      runId: e.runId,
      difference: e.drift.difference.toFixed(),
      expected: e.drift.expectedCash.toFixed(),
      settled: e.drift.settledCash.toFixed(),
      fills: e.drift.fills,
    }),
  );
  let moved = outside === 0;
  rebalancer.on("order:sending", (e) => {
    if (!moved && e.request.side === "sell") {
      moved = true;
      broker.outsideTrade("FFF", outside / 4, 4);
    }
  });
  const report = await clock.run(
    rebalancer.rebalance({ quantities: { AAA: 60, BBB: 50 } }, { runId: "l-1" }),
  );
  await clock.run(rebalancer.alerts?.flush() ?? Promise.resolve());
  await reader.forceFlush();
  const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
  const ledger = all.filter((m) => m.descriptor.name === METRICS.ledgerDrift.name).at(-1);
  return { report, events, received, ledger };
}

describe("ledger:drift", () => {
  it("is not emitted when every cash move is a fill of the run", async () => {
    const { report, events, received, ledger } = await scenario(0);
    expect(report.status).toBe("completed");
    expect(report.orders.map((o) => `${o.side} ${o.symbol} ${o.state}`)).toEqual([
      "sell AAA filled",
      "buy BBB filled",
    ]);
    expect(events).toEqual([]);
    expect(received).toEqual([]);
    expect(ledger?.dataPoints ?? []).toEqual([]);
  });

  it("is emitted at the re-read when money moved that no fill explains; the metric and the alert record it", async () => {
    const { report, events, received, ledger } = await scenario(400);
    expect(report.status).toBe("completed");
    // First settled read: 1000 cash. The sell of 40 AAA brought 2000; 400 left outside.
    expect(events).toEqual([
      { runId: "l-1", difference: "-400", expected: "3000", settled: "2600", fills: 1 },
    ]);
    const points = ledger?.dataPoints ?? [];
    expect(points.map((p) => p.attributes)).toEqual([{ source: "run" }]);
    expect((points[0]?.value as Histogram | undefined)?.sum).toBe(400);
    expect(received.map((a) => [a.kind, a.severity, a.details.difference])).toEqual([
      ["ledger_drift", "warning", "-400"],
    ]);
  });

  it("alerts only above its threshold; the event only above the ledger's tolerance", async () => {
    const above = await scenario(400, { ledgerDriftNotional: 399 });
    expect(above.received.map((a) => a.kind)).toEqual(["ledger_drift"]);
    const below = await scenario(400, { ledgerDriftNotional: 400 });
    expect(below.events).toHaveLength(1);
    expect(below.received).toEqual([]);
    const small = await scenario(0.8);
    expect(small.events).toEqual([]);
  });
});

describe("LedgerCashView", () => {
  it("compares each settled read with the last one plus the fills since, within the tolerance", () => {
    const view = new LedgerCashView();
    view.filled("buy", 50); // before a first read: nothing to count
    expect(view.settled(10_000)).toBeUndefined();
    view.filled("sell", 1_500);
    view.filled("buy", 499.5);
    expect(view.expected?.toFixed()).toBe("11000.5");
    expect(view.settled("11001.5")).toBeUndefined(); // $1: the tolerance
    const drift = view.settled(11_200);
    expect(drift).toMatchObject({ kind: "ledger_cash_drift", fills: 0 });
    expect(drift?.difference.toFixed()).toBe("198.5");
    // An order taken over: its fills may already be in the last read; the next read is not compared.
    view.unknownFills();
    view.filled("sell", 900);
    expect(view.settled(20_000)).toBeUndefined();
    view.filled("buy", 100);
    expect(view.settled(19_000)?.difference.toFixed()).toBe("-900");
    expect(() => new LedgerCashView({ tolerance: -1 })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });
});
