import { z } from "zod";
import { type Clock, systemClock } from "../../core/clock.js";
import type { Decimal } from "../../core/decimal.js";
import { type IsolatedEmitter, isolateLogger } from "../../core/isolation.js";
import type { Logger } from "../../core/logger.js";
import { parseInput, zClock, zLogger } from "../../core/validation.js";
import type { PositionDrift } from "../../reconcile/detect-position-drift.js";
import type { OrderOutcome } from "../order-outcome.js";
import type { RebalancerEvents } from "../rebalancer-events.js";

/**
 * What an alert is about: `drift` (a position differs from the book by more than
 * `driftNotional`, or by an amount no price values), `consecutive_failures` (that many orders
 * in a row ended rejected, unplaced or unresolved), `buying_power` (an order refused for
 * buying power), `unresolved_order` (an order the broker could not settle), `halted` (the
 * circuit breaker stopped a run), `ledger_drift` (a settled cash read differs from what the
 * ledger expected by more than `ledgerDriftNotional`).
 *
 * @example
 * ```ts
 * const critical = ALERT_KINDS.filter((k) => k !== "drift");
 * ```
 */
export const ALERT_KINDS = [
  "drift",
  "consecutive_failures",
  "buying_power",
  "unresolved_order",
  "halted",
  "ledger_drift",
] as const;
/** One of {@link ALERT_KINDS}. */
export type AlertKind = (typeof ALERT_KINDS)[number];

/** An alert, as sinks receive it (JSON-serializable). */
export interface Alert {
  /** What it is about. */
  kind: AlertKind;
  /** `critical` for `halted` and `unresolved_order`, else `warning`. */
  severity: "warning" | "critical";
  /** The run (or the source, such as `reconcile`) it comes from. */
  runId: string;
  /** The symbol, when one is concerned. */
  symbol?: string;
  /** For people. */
  message: string;
  /** Facts (decimals as strings). */
  details: Record<string, string | number | boolean | null>;
  /** When (ISO, on the monitor's clock). */
  at: string;
}

/**
 * Where alerts go: a webhook, a logger, a pager. A sink that throws, rejects or never settles
 * is logged, never retried here, and never reaches the run.
 */
export interface AlertSink {
  /** Delivers one alert. */
  send(alert: Alert): void | Promise<void>;
}

/** The thresholds of the alert rules (the buying-power, unresolved and halted rules have none: any one alerts). */
export interface AlertThresholds {
  /** Dollars of drift on one position above which it alerts. */
  driftNotional: number;
  /** Orders failing in a row before it alerts. */
  consecutiveFailures: number;
  /** Dollars of ledger drift (a run's `ledger:drift`) above which it alerts. */
  ledgerDriftNotional: number;
}

/**
 * The thresholds of the original plan, and how long a sink's delivery is waited for.
 *
 * @example
 * ```ts
 * const thresholds = { consecutiveFailures: ALERT_DEFAULTS.consecutiveFailures + 2 };
 * ```
 */
export const ALERT_DEFAULTS = Object.freeze({
  /** Dollars of drift on one position above which it alerts. */
  driftNotional: 100,
  /** Orders failing in a row before it alerts. */
  consecutiveFailures: 3,
  /** Dollars of ledger drift above which it alerts. */
  ledgerDriftNotional: 100,
  /**
   * How long `flush()` waits for one sink's delivery (ms) before it logs it as timed out and
   * stops waiting (the sink is not cancelled). A webhook sink with its retries fits in it.
   */
  sinkTimeoutMs: 60_000,
});

/** The `alerts` option of `SmartRebalancer`: where alerts go, and the thresholds. */
export interface RebalancerAlertsOptions {
  /** Where alerts go. */
  sinks: readonly AlertSink[];
  /** Thresholds, each defaulting to {@link ALERT_DEFAULTS}. */
  thresholds?: { [K in keyof AlertThresholds]?: AlertThresholds[K] | undefined } | undefined;
  /** @defaultValue `ALERT_DEFAULTS.sinkTimeoutMs` (60000) */
  sinkTimeoutMs?: number | undefined;
}

/** Options of {@link watchRebalancerAlerts}: the alerts option plus the clock and the logger. */
export interface AlertMonitorOptions extends RebalancerAlertsOptions {
  /** Timestamps and the sink timeout. @defaultValue systemClock */
  clock?: Clock | undefined;
  /** Where sink failures go. @defaultValue silent */
  logger?: Logger | undefined;
}

/** A running set of alert rules. */
export interface AlertMonitor {
  /** Checks drifts found elsewhere (a `PositionReconciliationEngine` scan, the command's reconcile). */
  checkDrifts(source: string, drifts: readonly PositionDrift[]): void;
  /**
   * Resolves once every alert raised so far has been handed to every sink and each delivery
   * settled or timed out (`sinkTimeoutMs`).
   */
  flush(): Promise<void>;
  /** Stops listening. */
  close(): void;
}

/** What the rules listen to: a rebalancer's events (`SmartRebalancer` is one). */
export type AlertSource = Pick<IsolatedEmitter<RebalancerEvents>, "on" | "off">;

const zSink = z.custom<AlertSink>(
  (v) => typeof v === "object" && v !== null && typeof Reflect.get(v, "send") === "function",
  { message: "expected a sink with send(alert)" },
);

/** Schema of {@link RebalancerAlertsOptions}. */
export const RebalancerAlertsOptionsSchema = z
  .object({
    sinks: z.array(zSink),
    thresholds: z
      .object({
        driftNotional: z.number().min(0).optional(),
        consecutiveFailures: z.number().int().min(1).optional(),
        ledgerDriftNotional: z.number().min(0).optional(),
      })
      .strict()
      .optional(),
    sinkTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict();

const MonitorOptionsSchema = RebalancerAlertsOptionsSchema.extend({
  clock: zClock.optional(),
  logger: zLogger.optional(),
}).strict();

const FAILED_STATES = new Set(["rejected", "submit_failed", "unresolved"]);

const str = (d: Decimal | undefined): string | null => (d === undefined ? null : d.toFixed());

type Raise = (alert: Omit<Alert, "at" | "severity">) => void;

/**
 * Raises alerts on a rebalancer's events with the plan's thresholds: drift above $100 on a
 * position (`drift`), `consecutiveFailures` failed orders in a row (`consecutive_failures`,
 * once per streak), any buying-power refusal (`buying_power`), any `unresolved` order
 * (`unresolved_order`), a halted run (`halted`), ledger drift above $100 (`ledger_drift`).
 * Each alert goes to every sink after the event returns: a sink that throws, rejects or hangs
 * is logged and never reaches nor slows the run. `SmartRebalancer`'s `alerts` option runs
 * these rules on itself.
 *
 * @param source - the rebalancer to watch, or undefined to use `checkDrifts` alone
 * @param options - sinks, thresholds (defaults: {@link ALERT_DEFAULTS}), clock, logger
 * @returns the monitor
 * @throws ValidationError (`validation`) for bad options
 * @example
 * ```ts
 * const alerts = watchRebalancerAlerts(rebalancer, { sinks: [{ send: (a) => console.log(a.message) }] });
 * await rebalancer.rebalance({ weights: { SPY: 1 } });
 * await alerts.flush();
 * ```
 */
export function watchRebalancerAlerts(
  source: AlertSource | undefined,
  options: AlertMonitorOptions,
): AlertMonitor {
  const o = parseInput(MonitorOptionsSchema, options, "options");
  const clock = o.clock ?? systemClock;
  const logger = isolateLogger(o.logger);
  const driftLimit = o.thresholds?.driftNotional ?? ALERT_DEFAULTS.driftNotional;
  const failureLimit = o.thresholds?.consecutiveFailures ?? ALERT_DEFAULTS.consecutiveFailures;
  const ledgerLimit = o.thresholds?.ledgerDriftNotional ?? ALERT_DEFAULTS.ledgerDriftNotional;
  const timeoutMs = o.sinkTimeoutMs ?? ALERT_DEFAULTS.sinkTimeoutMs;
  const pending = new Set<Promise<void>>();

  const raise: Raise = (alert) => {
    const severity = alert.kind === "halted" || alert.kind === "unresolved_order" ? "critical" : "warning";
    const full: Alert = { ...alert, severity, at: new Date(clock.now()).toISOString() };
    for (const sink of o.sinks) {
      const p = deliver(sink, full, clock, timeoutMs, logger).finally(() => pending.delete(p));
      pending.add(p);
    }
  };
  const checkDrifts = (runId: string, drifts: readonly PositionDrift[]) =>
    driftAlerts(runId, drifts, driftLimit, raise);
  const onFinal = orderRules(raise, failureLimit);
  const onDrift: RebalancerEvents["drift"] = (e) => checkDrifts(e.runId, e.drifts);
  const onHalted: RebalancerEvents["halted"] = (e) =>
    raise({
      kind: "halted",
      runId: e.runId,
      message: `run halted: ${e.reason}`,
      details: { consecutiveFailures: e.consecutiveFailures },
    });

  const onLedgerDrift = ledgerRule(raise, ledgerLimit);
  source?.on("order:final", onFinal);
  source?.on("drift", onDrift);
  source?.on("halted", onHalted);
  source?.on("ledger:drift", onLedgerDrift);
  return {
    checkDrifts,
    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    close() {
      source?.off("order:final", onFinal);
      source?.off("drift", onDrift);
      source?.off("halted", onHalted);
      source?.off("ledger:drift", onLedgerDrift);
    },
  };
}

/**
 * One delivery, after the current event returns: a throw or a rejection is logged; one that
 * has not settled after `timeoutMs` is logged and no longer waited for.
 */
function deliver(
  sink: AlertSink,
  alert: Alert,
  clock: Clock,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  const timer = new AbortController();
  const sent = Promise.resolve()
    .then(() => sink.send(alert))
    .then(
      () => "sent" as const,
      (e: unknown) => {
        logger.error({ kind: alert.kind, error: String(e) }, "[ordersafe] alert sink failed");
        return "failed" as const;
      },
    );
  const timedOut = clock.sleep(timeoutMs, timer.signal).then(
    () => "timeout" as const,
    () => "cancelled" as const,
  );
  return Promise.race([sent, timedOut]).then((how) => {
    timer.abort();
    if (how === "timeout") {
      logger.error({ kind: alert.kind, timeoutMs }, "[ordersafe] alert sink did not answer in time");
    }
  });
}

/** The drift rule: above the threshold in dollars, or unpriced and outside tolerance. */
function driftAlerts(runId: string, drifts: readonly PositionDrift[], limit: number, raise: Raise): void {
  for (const d of drifts) {
    if (d.qtyDiff.isZero()) continue;
    const over = d.notionalDiff === undefined ? !d.withinTolerance : d.notionalDiff.abs().gt(limit);
    if (!over) continue;
    raise({
      kind: "drift",
      runId,
      symbol: d.symbol,
      message: `${d.symbol}: the broker holds ${d.actualQty.toFixed()}, the book ${d.expectedQty.toFixed()} (${d.class})`,
      details: {
        class: d.class,
        expectedQty: d.expectedQty.toFixed(),
        actualQty: d.actualQty.toFixed(),
        notionalDiff: str(d.notionalDiff),
        threshold: limit,
      },
    });
  }
}

/** The rules on each final order: buying power, unresolved, consecutive failures (once per streak). */
function orderRules(raise: Raise, failureLimit: number): RebalancerEvents["order:final"] {
  let failures = 0;
  return (e: { runId: string; outcome: OrderOutcome }) => {
    const out = e.outcome;
    const details = {
      side: out.side,
      state: out.state,
      clientOrderId: out.clientOrderId,
      errorCode: out.errorCode ?? null,
    };
    const base = { runId: e.runId, symbol: out.symbol, details };
    // A refusal the run resized and retried is in the outcome's adjustments.
    const refused =
      out.errorCode === "insufficient_buying_power" ||
      out.adjustments.some((a) => a.startsWith("insufficient_buying_power"));
    if (refused) {
      raise({ ...base, kind: "buying_power", message: `${out.side} ${out.symbol} refused for buying power` });
    }
    if (out.state === "unresolved") {
      const message = `${out.side} ${out.symbol}: the broker could not tell its final state`;
      raise({ ...base, kind: "unresolved_order", message });
    }
    if (!FAILED_STATES.has(out.state)) {
      if (out.state === "filled") failures = 0;
      return;
    }
    failures++;
    if (failures === failureLimit) {
      raise({
        ...base,
        kind: "consecutive_failures",
        message: `${failures} orders failed in a row`,
        details: { ...details, failures },
      });
    }
  };
}

/** The ledger drift rule: a run's `ledger:drift` above the threshold in dollars. */
function ledgerRule(raise: Raise, limit: number): RebalancerEvents["ledger:drift"] {
  return (e) => {
    const d = e.drift;
    if (d.difference.abs().lte(limit)) return;
    raise({
      kind: "ledger_drift",
      runId: e.runId,
      message: `the settled cash (${d.settledCash.toFixed(2)}) differs from what the ledger expected (${d.expectedCash.toFixed(2)})`,
      details: {
        expectedCash: d.expectedCash.toFixed(),
        settledCash: d.settledCash.toFixed(),
        difference: d.difference.toFixed(),
        threshold: limit,
      },
    });
  };
}
