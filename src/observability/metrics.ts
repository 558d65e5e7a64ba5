import type { Decimal } from "../core/decimal.js";
import type { Logger } from "../core/logger.js";
import { silentLogger } from "../core/logger.js";
import type { OrderOutcome } from "../execution/order-outcome.js";
import type { RebalanceReport } from "../execution/rebalance-report.js";
import type { SmartRebalancer } from "../execution/smart-rebalancer.js";
import type { LedgerCashDrift } from "../funds/ledger-cash-view.js";
import type { LedgerDrift } from "../funds/reservation-ledger.js";
import type { RebalancePlan } from "../rebalance/rebalance-plan.js";

/** Attributes of a measurement. */
export type MetricAttributes = Record<string, string | number | boolean>;

/** The part of an OpenTelemetry `Meter` ordersafe uses (an OpenTelemetry `Meter` is one). */
export interface MeterLike {
  createCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    add(value: number, attributes?: MetricAttributes): void;
  };
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    record(value: number, attributes?: MetricAttributes): void;
  };
}

/**
 * Every instrument, its name, unit and meaning (also in docs/observability.md).
 *
 * @example
 * ```ts
 * const reader = exporter.getMetrics().find((m) => m.descriptor.name === METRICS.orders.name);
 * ```
 */
export const METRICS = {
  orders: {
    name: "ordersafe.orders",
    unit: "{order}",
    kind: "counter",
    description: "Orders that reached a final state, by `state` and `side`.",
  },
  timeToFinal: {
    name: "ordersafe.order.time_to_final",
    unit: "ms",
    kind: "histogram",
    description: "From the first submit to the final state, by `state`.",
  },
  unresolved: {
    name: "ordersafe.orders.unresolved",
    unit: "{order}",
    kind: "counter",
    description: "Orders the broker could not settle within the bounds (`unresolved`).",
  },
  refusals: {
    name: "ordersafe.refusals",
    unit: "{refusal}",
    kind: "counter",
    description: "Orders refused or failed, by error `code`.",
  },
  requests: {
    name: "ordersafe.requests",
    unit: "{request}",
    kind: "counter",
    description: "Broker REST calls made by runs.",
  },
  turnover: {
    name: "ordersafe.turnover",
    unit: "USD",
    kind: "counter",
    description: "Dollars traded (filled notional).",
  },
  savedTurnover: {
    name: "ordersafe.turnover.saved",
    unit: "USD",
    kind: "counter",
    description: "Liquidate-and-rebuy turnover minus the turnover traded.",
  },
  drift: {
    name: "ordersafe.position.drift",
    unit: "USD",
    kind: "histogram",
    description: "Absolute value of each position drift found after a run, by drift `class`.",
  },
  ledgerDrift: {
    name: "ordersafe.ledger.drift",
    unit: "USD",
    kind: "histogram",
    description:
      "Absolute difference between the reservation ledger's view and the broker: a run's `ledger:drift` (source `run`: the cash expected from the previous settled read and the fills, against the next settled read) or a ledger recompute passed to recordLedgerDrift (what the ledger held against what the broker's open orders hold).",
  },
  slippage: {
    name: "ordersafe.order.slippage",
    unit: "bp",
    kind: "histogram",
    description:
      "Fill price against the plan's reference price, in basis points, positive when worse, by `side`.",
  },
  runs: {
    name: "ordersafe.runs",
    unit: "{run}",
    kind: "counter",
    description: "Rebalances that ended, by `status`.",
  },
  runDuration: {
    name: "ordersafe.run.duration",
    unit: "ms",
    kind: "histogram",
    description: "Rebalance time on the rebalancer's clock, by `status`.",
  },
} as const;

/** Options of {@link instrumentRebalancer}. */
export interface MetricsOptions {
  /**
   * The meter to record with.
   * @defaultValue `metrics.getMeter("ordersafe")` from `@opentelemetry/api` when it is installed; else nothing is recorded
   */
  meter?: MeterLike;
  /** Where a failure to load `@opentelemetry/api` is logged (debug). @defaultValue silent */
  logger?: Logger;
}

/** What {@link instrumentRebalancer} returns. */
export interface RebalancerMetrics {
  /** Whether anything is recorded (false without a meter and without `@opentelemetry/api`). */
  readonly enabled: boolean;
  /**
   * Records a reservation ledger's drift from a `ReservationLedger` recompute the caller runs
   * (a run's own `ledger:drift` events are recorded without it, with `source: "run"`).
   */
  recordLedgerDrift(drift: LedgerDrift): void;
  /** Stops listening to the rebalancer. */
  close(): void;
}

const NOOP: RebalancerMetrics = { enabled: false, recordLedgerDrift() {}, close() {} };

function isMeterLike(v: unknown): v is MeterLike {
  return (
    typeof v === "object" &&
    v !== null &&
    "createCounter" in v &&
    typeof v.createCounter === "function" &&
    "createHistogram" in v &&
    typeof v.createHistogram === "function"
  );
}

/** The global meter of `@opentelemetry/api`, loaded on first use; undefined when it is not installed. */
async function globalMeter(logger: Logger): Promise<MeterLike | undefined> {
  try {
    const api: unknown = await import("@opentelemetry/api");
    const metrics = typeof api === "object" && api !== null && "metrics" in api ? api.metrics : undefined;
    const getMeter =
      typeof metrics === "object" && metrics !== null && "getMeter" in metrics ? metrics.getMeter : undefined;
    if (typeof getMeter !== "function") return undefined;
    const meter: unknown = getMeter.call(metrics, "ordersafe");
    return isMeterLike(meter) ? meter : undefined;
  } catch (e) {
    logger.debug("[ordersafe] @opentelemetry/api is not installed: no metrics", { error: String(e) });
    return undefined;
  }
}

const num = (d: Decimal): number => d.toNumber();

/**
 * Records a rebalancer's work as OpenTelemetry metrics ({@link METRICS}), by listening to its
 * events: orders by final state, time to final, unresolved orders, refusals by code, REST
 * requests, turnover and saved turnover, drift by class, slippage against the plan's prices,
 * runs by status and their duration, ledger drift from `ledger:drift`; `recordLedgerDrift`
 * for a reservation ledger's recompute.
 * `@opentelemetry/api` is an optional peer dependency, loaded here only when no `meter` is
 * given: without it nothing happens.
 *
 * @param rebalancer - the rebalancer to follow
 * @param options - `meter`, `logger`
 * @returns the handle (`enabled`, `recordLedgerDrift`, `close`)
 * @example
 * ```ts
 * const metrics = await instrumentRebalancer(rebalancer); // global MeterProvider
 * await rebalancer.rebalance({ weights: { SPY: 1 } });
 * metrics.close();
 * ```
 */
export async function instrumentRebalancer(
  rebalancer: SmartRebalancer,
  options: MetricsOptions = {},
): Promise<RebalancerMetrics> {
  const meter = options.meter ?? (await globalMeter(options.logger ?? silentLogger));
  if (meter === undefined) return NOOP;
  const counter = (m: { name: string; unit: string; description: string }) =>
    meter.createCounter(m.name, { unit: m.unit, description: m.description });
  const histogram = (m: { name: string; unit: string; description: string }) =>
    meter.createHistogram(m.name, { unit: m.unit, description: m.description });
  const i = {
    orders: counter(METRICS.orders),
    timeToFinal: histogram(METRICS.timeToFinal),
    unresolved: counter(METRICS.unresolved),
    refusals: counter(METRICS.refusals),
    requests: counter(METRICS.requests),
    turnover: counter(METRICS.turnover),
    savedTurnover: counter(METRICS.savedTurnover),
    drift: histogram(METRICS.drift),
    ledgerDrift: histogram(METRICS.ledgerDrift),
    slippage: histogram(METRICS.slippage),
    runs: counter(METRICS.runs),
    runDuration: histogram(METRICS.runDuration),
  };
  // Reference prices of the run's legs, by run and symbol:side, for slippage.
  const prices = new Map<string, Decimal>();
  const onPlan = (e: { runId: string; plan: RebalancePlan }) => {
    for (const l of e.plan.legs) prices.set(`${e.runId}|${l.symbol}:${l.side}`, l.price);
  };
  const onFinal = (e: { runId: string; outcome: OrderOutcome }) => {
    const o = e.outcome;
    i.orders.add(1, { state: o.state, side: o.side });
    if (o.submittedAt !== undefined)
      i.timeToFinal.record(Math.max(0, o.finalAt - o.submittedAt), { state: o.state });
    if (o.state === "unresolved") i.unresolved.add(1);
    if (o.errorCode !== undefined) i.refusals.add(1, { code: o.errorCode });
    const ref = prices.get(`${e.runId}|${o.symbol}:${o.side}`);
    if (ref !== undefined && o.avgPrice !== undefined && !o.filledQty.isZero() && !ref.isZero()) {
      const diff = o.side === "buy" ? o.avgPrice.minus(ref) : ref.minus(o.avgPrice);
      i.slippage.record(num(diff.div(ref).times(10_000)), { side: o.side });
    }
  };
  const onDone = (e: { runId: string; report: RebalanceReport }) => {
    const r = e.report;
    const m = r.metrics;
    i.requests.add(m.restCalls);
    i.turnover.add(num(m.turnover));
    if (m.savedTurnover.gt(0)) i.savedTurnover.add(num(m.savedTurnover));
    for (const d of r.drift) {
      if (d.notionalDiff !== undefined) i.drift.record(num(d.notionalDiff.abs()), { class: d.class });
    }
    i.runs.add(1, { status: r.status });
    i.runDuration.record(m.durationMs, { status: r.status });
    for (const key of [...prices.keys()]) if (key.startsWith(`${e.runId}|`)) prices.delete(key);
  };
  const onLedgerDrift = (e: { drift: LedgerCashDrift }) =>
    i.ledgerDrift.record(num(e.drift.difference.abs()), { source: "run" });
  rebalancer.on("plan", onPlan);
  rebalancer.on("order:final", onFinal);
  rebalancer.on("done", onDone);
  rebalancer.on("ledger:drift", onLedgerDrift);
  return {
    enabled: true,
    recordLedgerDrift(drift) {
      i.ledgerDrift.record(num(drift.difference.abs()));
    },
    close() {
      rebalancer.off("plan", onPlan);
      rebalancer.off("order:final", onFinal);
      rebalancer.off("done", onDone);
      rebalancer.off("ledger:drift", onLedgerDrift);
    },
  };
}
