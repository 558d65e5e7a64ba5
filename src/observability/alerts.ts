import { z } from "zod";
import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";
import { parseInput } from "../core/validation.js";
import {
  type AlertMonitor,
  type AlertSink,
  type AlertSource,
  watchRebalancerAlerts,
} from "../execution/alerts/rebalancer-alerts.js";

// The alert types and rules live with the rebalancer (`SmartRebalancer`'s `alerts` option);
// they are re-exported here, where they were first published.
export {
  ALERT_DEFAULTS,
  ALERT_KINDS,
  type Alert,
  type AlertKind,
  type AlertMonitor,
  type AlertMonitorOptions,
  type AlertSink,
  type AlertSource,
  type AlertThresholds,
  type RebalancerAlertsOptions,
  RebalancerAlertsOptionsSchema,
  watchRebalancerAlerts,
} from "../execution/alerts/rebalancer-alerts.js";

/** Options of {@link watchAlerts}. */
export interface AlertOptions {
  /** Where alerts go. */
  sinks: readonly AlertSink[];
  /** @defaultValue `ALERT_DEFAULTS.driftNotional` (100) */
  driftNotional?: number;
  /** @defaultValue `ALERT_DEFAULTS.consecutiveFailures` (3) */
  consecutiveFailures?: number;
  /** @defaultValue `ALERT_DEFAULTS.ledgerDriftNotional` (100) */
  ledgerDriftNotional?: number;
  /** @defaultValue `ALERT_DEFAULTS.sinkTimeoutMs` (60000) */
  sinkTimeoutMs?: number;
  /** Timestamps. @defaultValue systemClock */
  clock?: Clock;
  /** Where sink failures go. @defaultValue silent */
  logger?: Logger;
}

const FlatThresholdsSchema = z
  .object({
    driftNotional: z.number().min(0).optional(),
    consecutiveFailures: z.number().int().min(1).optional(),
    ledgerDriftNotional: z.number().min(0).optional(),
  })
  .passthrough();

/**
 * Raises alerts on a rebalancer's events with the plan's thresholds (see
 * `watchRebalancerAlerts`, which it calls; `new SmartRebalancer({ alerts })` does the same on
 * the rebalancer itself): drift above $100 on a position, `consecutiveFailures` failed orders
 * in a row, any buying-power refusal, any `unresolved` order, a halted run. Each alert goes to
 * every sink; a sink's failure or silence is logged and never reaches the run.
 *
 * @param rebalancer - the rebalancer to watch, or undefined to use `checkDrifts` alone
 * @param options - sinks and thresholds (defaults: `ALERT_DEFAULTS`)
 * @returns the monitor
 * @throws ValidationError (`validation`) for bad options
 * @example
 * ```ts
 * const alerts = watchAlerts(rebalancer, { sinks: [webhookSink({ url: process.env.ALERT_URL! })] });
 * await rebalancer.rebalance({ weights: { SPY: 1 } });
 * await alerts.flush();
 * ```
 */
export function watchAlerts(rebalancer: AlertSource | undefined, options: AlertOptions): AlertMonitor {
  const { driftNotional, consecutiveFailures, ...rest } = parseInput(
    FlatThresholdsSchema,
    options,
    "options",
  );
  const thresholds = {
    ...(driftNotional === undefined ? {} : { driftNotional }),
    ...(consecutiveFailures === undefined ? {} : { consecutiveFailures }),
  };
  return watchRebalancerAlerts(rebalancer, { ...rest, sinks: options.sinks, thresholds });
}
