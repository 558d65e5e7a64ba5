import { z } from "zod";
import { type Clock, systemClock } from "../core/clock.js";
import type { Decimal } from "../core/decimal.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { parseInput } from "../core/validation.js";
import type { OrderOutcome } from "../execution/order-outcome.js";
import type { SmartRebalancer } from "../execution/smart-rebalancer.js";
import type { PositionDrift } from "../reconcile/detect-position-drift.js";

/**
 * What an alert is about: `drift` (a position differs from the book by more than
 * `driftNotional`, or by an amount no price values), `consecutive_failures` (that many orders
 * in a row ended rejected, unplaced or unresolved), `buying_power` (an order refused for
 * buying power), `unresolved_order` (an order the broker could not settle), `halted` (the
 * circuit breaker stopped a run).
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

/** Where alerts go: a webhook, a logger, a pager. A sink that throws or rejects is logged, never retried here. */
export interface AlertSink {
  send(alert: Alert): void | Promise<void>;
}

/**
 * The thresholds of the original plan.
 *
 * @example
 * ```ts
 * watchAlerts(rebalancer, { sinks, consecutiveFailures: ALERT_DEFAULTS.consecutiveFailures + 2 });
 * ```
 */
export const ALERT_DEFAULTS = Object.freeze({
  /** Dollars of drift on one position above which it alerts. */
  driftNotional: 100,
  /** Orders failing in a row before it alerts. */
  consecutiveFailures: 3,
});

/** Options of {@link watchAlerts}. */
export interface AlertOptions {
  /** Where alerts go. */
  sinks: readonly AlertSink[];
  /** @defaultValue `ALERT_DEFAULTS.driftNotional` (100) */
  driftNotional?: number;
  /** @defaultValue `ALERT_DEFAULTS.consecutiveFailures` (3) */
  consecutiveFailures?: number;
  /** Timestamps. @defaultValue systemClock */
  clock?: Clock;
  /** Where sink failures go. @defaultValue silent */
  logger?: Logger;
}

/** What {@link watchAlerts} returns. */
export interface AlertMonitor {
  /** Checks drifts found elsewhere (a `PositionReconciliationEngine` scan, the command's reconcile). */
  checkDrifts(source: string, drifts: readonly PositionDrift[]): void;
  /** Resolves once every alert raised so far has been handed to every sink (and each send settled). */
  flush(): Promise<void>;
  /** Stops listening. */
  close(): void;
}

const OptionsSchema = z
  .object({
    sinks: z.array(z.custom<AlertSink>((v) => typeof v === "object" && v !== null && "send" in v)),
    driftNotional: z.number().min(0).optional(),
    consecutiveFailures: z.number().int().min(1).optional(),
    clock: z.custom<Clock>((v) => typeof v === "object" && v !== null && "now" in v).optional(),
    logger: z.custom<Logger>((v) => typeof v === "object" && v !== null && "error" in v).optional(),
  })
  .strict();

const FAILED_STATES = new Set(["rejected", "submit_failed", "unresolved"]);

const str = (d: Decimal | undefined): string | null => (d === undefined ? null : d.toFixed());

/**
 * Raises alerts on a rebalancer's events with the plan's thresholds: drift above $100 on a
 * position (`drift`), `consecutiveFailures` failed orders in a row (`consecutive_failures`,
 * once per streak), any buying-power refusal (`buying_power`), any `unresolved` order
 * (`unresolved_order`), a halted run (`halted`). Each alert goes to every sink; a sink's
 * failure is logged and never reaches the run.
 *
 * @param rebalancer - the rebalancer to watch, or undefined to use `checkDrifts` alone
 * @param options - sinks and thresholds (defaults: {@link ALERT_DEFAULTS})
 * @returns the monitor
 * @throws ValidationError (`validation`) for bad options
 * @example
 * ```ts
 * const alerts = watchAlerts(rebalancer, { sinks: [webhookSink({ url: process.env.ALERT_URL! })] });
 * await rebalancer.rebalance({ weights: { SPY: 1 } });
 * await alerts.flush();
 * ```
 */
export function watchAlerts(rebalancer: SmartRebalancer | undefined, options: AlertOptions): AlertMonitor {
  const o = parseInput(OptionsSchema, options, "options");
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? silentLogger;
  const driftLimit = o.driftNotional ?? ALERT_DEFAULTS.driftNotional;
  const failureLimit = o.consecutiveFailures ?? ALERT_DEFAULTS.consecutiveFailures;
  const pending = new Set<Promise<void>>();
  let failures = 0;

  const raise = (alert: Omit<Alert, "at" | "severity">) => {
    const severity = alert.kind === "halted" || alert.kind === "unresolved_order" ? "critical" : "warning";
    const full: Alert = { ...alert, severity, at: new Date(clock.now()).toISOString() };
    for (const sink of o.sinks) {
      const p = Promise.resolve()
        .then(() => sink.send(full))
        .catch((e: unknown) =>
          logger.error("[ordersafe] alert sink failed", { kind: full.kind, error: String(e) }),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    }
  };

  const checkDrifts = (source: string, drifts: readonly PositionDrift[]) => {
    for (const d of drifts) {
      if (d.qtyDiff.isZero()) continue;
      const over = d.notionalDiff === undefined ? !d.withinTolerance : d.notionalDiff.abs().gt(driftLimit);
      if (!over) continue;
      raise({
        kind: "drift",
        runId: source,
        symbol: d.symbol,
        message: `${d.symbol}: the broker holds ${d.actualQty.toFixed()}, the book ${d.expectedQty.toFixed()} (${d.class})`,
        details: {
          class: d.class,
          expectedQty: d.expectedQty.toFixed(),
          actualQty: d.actualQty.toFixed(),
          notionalDiff: str(d.notionalDiff),
          threshold: driftLimit,
        },
      });
    }
  };

  const onFinal = (e: { runId: string; outcome: OrderOutcome }) => {
    const out = e.outcome;
    const details = {
      side: out.side,
      state: out.state,
      clientOrderId: out.clientOrderId,
      errorCode: out.errorCode ?? null,
    };
    // A refusal the run resized and retried is in the outcome's adjustments.
    const refused =
      out.errorCode === "insufficient_buying_power" ||
      out.adjustments.some((a) => a.startsWith("insufficient_buying_power"));
    if (refused) {
      raise({
        kind: "buying_power",
        runId: e.runId,
        symbol: out.symbol,
        message: `${out.side} ${out.symbol} refused for buying power`,
        details,
      });
    }
    if (out.state === "unresolved") {
      raise({
        kind: "unresolved_order",
        runId: e.runId,
        symbol: out.symbol,
        message: `${out.side} ${out.symbol}: the broker could not tell its final state`,
        details,
      });
    }
    if (!FAILED_STATES.has(out.state)) {
      if (out.state === "filled") failures = 0;
      return;
    }
    failures++;
    if (failures === failureLimit) {
      raise({
        kind: "consecutive_failures",
        runId: e.runId,
        symbol: out.symbol,
        message: `${failures} orders failed in a row`,
        details: { ...details, failures },
      });
    }
  };
  const onDrift = (e: { runId: string; drifts: readonly PositionDrift[] }) => checkDrifts(e.runId, e.drifts);
  const onHalted = (e: { runId: string; consecutiveFailures: number; reason: string }) =>
    raise({
      kind: "halted",
      runId: e.runId,
      message: `run halted: ${e.reason}`,
      details: { consecutiveFailures: e.consecutiveFailures },
    });

  rebalancer?.on("order:final", onFinal);
  rebalancer?.on("drift", onDrift);
  rebalancer?.on("halted", onHalted);
  return {
    checkDrifts,
    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    close() {
      rebalancer?.off("order:final", onFinal);
      rebalancer?.off("drift", onDrift);
      rebalancer?.off("halted", onHalted);
    },
  };
}
