import { isFinalBrokerStatus, type OrderSnapshot } from "../broker/broker-port.js";
import type { RunEnding } from "./build-rebalance-report.js";
import type { OrderOutcome } from "./order-outcome.js";
import { takeOver } from "./rebalance-flow.js";
import type { RebalanceReport, TakenOverRun } from "./rebalance-report.js";
import type { RebalanceRun } from "./rebalance-run.js";

/** What {@link SmartRebalancer.abandon} returns. */
export interface AbandonReport {
  /** The abandoned run. */
  readonly runId: string;
  /**
   * Whether the journal now marks the run `abandoned`. False when an order it sent could not
   * be found within `journalLookupMs` (it is `unresolved` in `orders`: it may be live) or
   * could not be followed to its end: the run stays open, and the next run on the account (or
   * another `abandon`) looks for that order again.
   */
  readonly finished: boolean;
  /**
   * Every order the run sent that may have been placed: each ended (cancelled, filled before
   * the cancel landed, ...) or `unresolved`. Marked `adopted`.
   */
  readonly orders: readonly OrderOutcome[];
  /** The run as taken over (`how: "abandoned"`), as a rebalance report lists it. */
  readonly takenOver: TakenOverRun;
  /** What was noted on the way (an unresolved order, a torn journal line, ...). */
  readonly adjustments: RebalanceReport["adjustments"];
  /** Broker REST calls made. */
  readonly restCalls: number;
}

/**
 * Abandons an unfinished run: takes over its orders alone (each looked up until found or the
 * bound passes), cancels each one still open, and follows each to its final state. Nothing
 * else is traded: no read of positions, no plan.
 *
 * @param run - a run in `abandon` mode, under the abandoned run's id
 * @returns how it ended (the report's status means little here: see {@link abandonReportOf})
 * @throws the journal's errors; the abort reason
 */
export async function abandonFlow(run: RebalanceRun): Promise<RunEnding> {
  await run.phase("read", () => takeOver(run));
  run.startTracking();
  await run.phase("adopt", () => Promise.all(run.earlier.map((o) => cancelAndFollow(run, o))));
  run.earlierFollowed = true;
  return {};
}

/** Cancels an order still open (a refusal means it is ending anyway), then follows it to its end. */
async function cancelAndFollow(run: RebalanceRun, order: OrderSnapshot): Promise<OrderOutcome> {
  if (!isFinalBrokerStatus(order.status)) {
    try {
      await run.broker.cancelOrder(order.id, { signal: run.signal });
    } catch (e) {
      if (run.signal?.aborted) throw e;
      // `not_cancelable` / `not_found`: it is final or about to be; `ambiguous`: the cancel may
      // have landed; anything else: the tracker cancels it again when its wait times out.
      run.settings.logger.warn(
        { clientOrderId: order.clientOrderId, error: String(e) },
        "[ordersafe] abandon: the cancel was not accepted; following the order",
      );
    }
  }
  return run.adopt(order);
}

/**
 * The abandon's result from the run's report.
 *
 * @param report - the report of a run in `abandon` mode
 * @returns the {@link AbandonReport}
 */
export function abandonReportOf(report: RebalanceReport): AbandonReport {
  const takenOver = report.takenOver[0] ?? {
    runId: report.runId,
    how: "abandoned" as const,
    orders: 0,
    unresolved: 0,
    finished: false,
  };
  return {
    runId: report.runId,
    finished: takenOver.finished,
    orders: report.orders,
    takenOver,
    adjustments: report.adjustments,
    restCalls: report.metrics.restCalls,
  };
}
