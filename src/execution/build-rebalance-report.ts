import { ZERO } from "../core/decimal.js";
import type { OrderOutcome } from "./order-outcome.js";
import type { RecordedRun, RunError } from "./rebalance-record.js";
import type {
  ExecutionTotals,
  RebalanceMetrics,
  RebalanceReport,
  RebalanceStatus,
} from "./rebalance-report.js";

/** How a run ended, as far as its report's status and error go. */
export interface RunEnding {
  /** A status decided by how the run ended (a failed read, a closed market, an abort), if any. */
  readonly forced?: RebalanceStatus | undefined;
  /** The main reason, when the run ended on an error. */
  readonly error?: RunError | undefined;
}

/** The facts of the end that are not in the record: when, and how many REST calls. */
export interface ReportClose extends RunEnding {
  /** When the run ended (ms, on the injected clock). */
  readonly endedAt: number;
  /** Broker requests the run made. */
  readonly restCalls: number;
  /** Submits the broker refused for buying power (resized retries included). */
  readonly buyingPowerRejections: number;
}

/**
 * Builds a run's report from its record (pure).
 *
 * @remarks
 * The status is the forced one when given; otherwise `halted` when the circuit breaker
 * opened, `failed` when orders were placed and none filled anything, `completed_adjusted`
 * when any adjustment was noted or any order did not end filled, else `completed`.
 *
 * @param run - the record of the run
 * @param close - the forced status and error, the end time and the REST calls
 * @returns the report (the lists are copied; the snapshots are shared)
 */
export function buildRebalanceReport(run: RecordedRun, close: ReportClose): RebalanceReport {
  const status = reportStatus(run, close.forced);
  return {
    runId: run.runId,
    status,
    dryRun: run.dryRun,
    plan: run.plan,
    buyPlan: run.buyPlan,
    ...(run.buyPass === undefined ? {} : { buyPass: run.buyPass }),
    orders: [...run.orders],
    working: [...run.working],
    takenOver: [...run.takenOver],
    positionsBefore: run.positionsBefore,
    positionsAfter: run.positionsAfter,
    drift: run.drift,
    corrections: run.corrections,
    adjustments: [...run.adjustments],
    metrics: reportMetrics(run, close),
    error: reportError(run, status, close.error),
    ...executionOf(run.orders),
    startedAt: run.startedAt,
    endedAt: close.endedAt,
  };
}

/**
 * The totals of the legs sent by execution policies: slippage summed in dollars over the legs
 * with an arrival mid, and in bps of what those legs filled. Nothing when no leg was.
 */
export function executionTotals(orders: readonly OrderOutcome[]): ExecutionTotals | undefined {
  const sent = orders.filter((o) => o.execution !== undefined);
  if (sent.length === 0) return undefined;
  let steps = 0;
  let filledNotional = ZERO;
  let slippageDollars = ZERO;
  let withoutArrivalMid = 0;
  for (const o of sent) {
    const e = o.execution;
    if (e === undefined) continue;
    steps += e.steps;
    if (e.arrivalMid === undefined) {
      withoutArrivalMid += 1;
      continue;
    }
    filledNotional = filledNotional.plus(o.filledNotional);
    slippageDollars = slippageDollars.plus(e.slippageDollars);
  }
  const slippageBps = filledNotional.isZero()
    ? 0
    : slippageDollars.div(filledNotional).times(10_000).toNumber();
  return { legs: sent.length, steps, filledNotional, slippageDollars, slippageBps, withoutArrivalMid };
}

function executionOf(orders: readonly OrderOutcome[]): { execution?: ExecutionTotals } {
  const execution = executionTotals(orders);
  return execution === undefined ? {} : { execution };
}

/**
 * How a run ended (see {@link buildRebalanceReport}).
 *
 * @param run - the record
 * @param forced - the status decided by how the run ended, if any
 * @returns the status
 */
export function reportStatus(run: RecordedRun, forced: RebalanceStatus | undefined): RebalanceStatus {
  if (forced !== undefined) return forced;
  if (run.halted !== undefined) return "halted";
  if (run.orders.length > 0 && run.orders.every((o) => o.filledQty.isZero())) return "failed";
  const filled = run.orders.filter((o) => o.state === "filled").length;
  if (run.adjustments.length > 0 || filled < run.orders.length) return "completed_adjusted";
  return "completed";
}

/** The main reason: the run's error, else the breaker's, else "no order filled" for a failure. */
function reportError(run: RecordedRun, status: RebalanceStatus, error: RunError | undefined) {
  return (
    error ??
    run.halted ??
    (status === "failed" ? { code: "rejected" as const, message: "[ordersafe] no order filled" } : undefined)
  );
}

/**
 * The numbers of a run.
 *
 * @param run - the record
 * @param close - the end time and the REST calls
 * @returns turnover (adopted orders left out: an earlier attempt traded them), orders by
 *   outcome, success rate, round trips, duration and REST calls
 */
export function reportMetrics(
  run: RecordedRun,
  close: Pick<ReportClose, "endedAt" | "restCalls" | "buyingPowerRejections">,
): RebalanceMetrics {
  const orders = run.orders;
  const turnover = orders.filter((o) => !o.adopted).reduce((a, o) => a.plus(o.filledNotional), ZERO);
  const naiveTurnover = run.plan?.summary.naiveTurnover ?? ZERO;
  const filled = orders.filter((o) => o.state === "filled").length;
  const bought = new Set(orders.filter((o) => o.side === "buy" && o.filledQty.gt(0)).map((o) => o.symbol));
  const sold = new Set(orders.filter((o) => o.side === "sell" && o.filledQty.gt(0)).map((o) => o.symbol));
  return {
    turnover,
    naiveTurnover,
    savedTurnover: naiveTurnover.minus(turnover),
    ordersSubmitted: run.submitted,
    ordersFilled: filled,
    ordersAdopted: orders.filter((o) => o.adopted).length,
    ordersRecovered: orders.filter((o) => o.recovered).length,
    ordersUnresolved: orders.filter((o) => o.state === "unresolved").length,
    buyingPowerRejections: close.buyingPowerRejections,
    successRate: orders.length === 0 ? 1 : filled / orders.length,
    roundTrips: [...bought].filter((s) => sold.has(s)).length,
    durationMs: close.endedAt - run.startedAt,
    restCalls: close.restCalls,
  };
}
