import { isOrdersafeError, OrdersafeError } from "../core/errors.js";
import { isObject } from "../core/guards.js";
import type { RebalanceReport } from "./rebalance-report.js";

/** The details of a {@link RebalanceAbortedError}. */
export interface RebalanceAbortedDetails {
  /** The aborted run. */
  readonly runId: string;
  /**
   * The partial report: every order of the run that ended (`orders`) and every order still
   * working at the broker (`working`), status `failed`, error `aborted`.
   */
  readonly report: RebalanceReport;
}

/**
 * What `SmartRebalancer.rebalance()` rejects with when its signal aborts: an
 * `OrdersafeError` with code `aborted` whose `details.report` (also `report`) is the
 * partial {@link RebalanceReport}.
 *
 * @remarks
 * Orders already sent stay at the broker: `report.working` lists the ones not final when the
 * run stopped (they may still fill; the next run on the account follows them). Use
 * {@link isRebalanceAbortedError} rather than `instanceof` (it holds across the ESM and CJS
 * copies of the package).
 *
 * @example
 * ```ts
 * try { await rebalancer.rebalance(targets, { signal }); }
 * catch (e) { if (isRebalanceAbortedError(e)) console.log(e.report.working); }
 * ```
 */
export class RebalanceAbortedError extends OrdersafeError {
  declare readonly code: "aborted";
  declare readonly details: Readonly<Record<string, unknown>> & RebalanceAbortedDetails;

  /**
   * @param details - the run id and its partial report
   * @param cause - what the abort interrupted (the abort reason)
   */
  constructor(details: RebalanceAbortedDetails, cause?: unknown) {
    super("aborted", `rebalance ${details.runId} aborted`, { cause, details: { ...details } });
    this.name = "RebalanceAbortedError";
  }

  /** The partial report (the same object as `details.report`). */
  get report(): RebalanceReport {
    return this.details.report;
  }
}

/**
 * Whether a value is the abort of a rebalance (any copy of the package): an ordersafe error
 * with code `aborted` carrying a partial report.
 *
 * @param value - anything
 * @returns true for a {@link RebalanceAbortedError}
 * @example
 * ```ts
 * if (isRebalanceAbortedError(e)) handle(e.details.report);
 * ```
 */
export function isRebalanceAbortedError(value: unknown): value is RebalanceAbortedError {
  if (!isOrdersafeError(value) || value.code !== "aborted") return false;
  const report = value.details.report;
  return isObject(report) && typeof report.runId === "string" && Array.isArray(report.orders);
}
