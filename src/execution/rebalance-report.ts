import type { BrokerOrderStatus, PositionSnapshot } from "../broker/broker-port.js";
import type { Decimal } from "../core/decimal.js";
import type { OrdersafeErrorCode } from "../core/errors.js";
import type { JournalWarning } from "../journal/journal-store.js";
import type { FinalOrderStatus } from "../orders/order-state-machine.js";
import type { RebalancePlan, SkipReason } from "../rebalance/rebalance-plan.js";
import {
  type DriftClass,
  driftToJSON,
  type PositionDrift,
  type PositionDriftJSON,
} from "../reconcile/detect-position-drift.js";
import type { CorrectionAction, CorrectionRun } from "../reconcile/position-correction-engine.js";
import { type OrderOutcome, type OrderOutcomeJSON, outcomeToJSON } from "./order-outcome.js";

/**
 * How a rebalance ended.
 * - `completed`: every leg filled as planned.
 * - `completed_adjusted`: something was done, but some legs were skipped, shrunk, partly
 *   filled or failed (each with its reason in `adjustments`).
 * - `failed`: nothing could be done (fresh state unreadable, market closed, every leg failed).
 * - `halted`: the circuit breaker opened during the run; a full reconciliation was run.
 */
export type RebalanceStatus = "completed" | "completed_adjusted" | "failed" | "halted";

/** The phases of a rebalance, in order. */
export type RebalancePhase =
  | "read"
  | "plan"
  | "adopt"
  | "cancel_conflicts"
  | "sells"
  | "reread"
  | "replan_buys"
  | "buys"
  | "buy_pass"
  | "reconcile"
  | "done";

/**
 * The reasons of an adjustment that the rebalancer itself gives:
 * - `halted`: the circuit breaker opened before the leg was sent;
 * - `stale_belief`: what the bot believed about a symbol did not match the fresh read;
 * - `unsettled`: a read did not show the fills the run knows of in time; nothing was decided on it;
 * - `market_closed`: the market is closed and `queueWhenClosed` is off; nothing was sent;
 * - `left_open`: an order was still open at the end of the run;
 * - `conflict_not_cancelled`: an opposite-side order could not be cancelled, so the leg was not sent;
 * - `shrunk`: a buy was made smaller to fit the cash really there;
 * - `insufficient_cash`: a buy could not be funded;
 * - `resized`: the retry engine resized an order (its detail says how);
 * - `partial_fill`: an order ended with part of its quantity filled;
 * - `read_failed`: the fresh state could not be read;
 * - `reconcile_failed`: the final reconciliation could not run;
 * - `correction_deferred`: a drift was not corrected because an order on the symbol is not final;
 * - `correction_failed`: a correction threw;
 * - `generations_exhausted`: every client order id of the (symbol, side) pair is used;
 * - `may_still_fill`: an order ended without a definitive fill count; nothing more is sent on the symbol;
 * - `stopped_early`: the run stopped on an error (its detail says which); the status is `failed`;
 * - `unknown_symbol`: a target symbol the broker does not list; its weight stays cash;
 * - `foreign_conflict`: another strategy's opposite-side order stands on the symbol, so the leg was not sent;
 * - `never_placed`: an order a crashed run sent never reached the broker (absent `neverPlacedAfterMs`
 *   after it was sent); its leg may be planned again, under the next client order id.
 *
 * @example
 * ```ts
 * REBALANCE_ADJUSTMENT_REASONS.includes("shrunk"); // true
 * ```
 */
export const REBALANCE_ADJUSTMENT_REASONS = [
  "halted",
  "stale_belief",
  "unsettled",
  "market_closed",
  "left_open",
  "conflict_not_cancelled",
  "shrunk",
  "insufficient_cash",
  "resized",
  "partial_fill",
  "read_failed",
  "reconcile_failed",
  "correction_deferred",
  "correction_failed",
  "generations_exhausted",
  "may_still_fill",
  "stopped_early",
  "unknown_symbol",
  "foreign_conflict",
  "never_placed",
] as const;

/**
 * Why a leg was skipped, shrunk or failed: one of {@link REBALANCE_ADJUSTMENT_REASONS}; a
 * planner {@link SkipReason} (`within_band`, `below_minimum`, …); the final state of an order
 * that did not fill (`canceled`, `rejected`, `unresolved`, …) or its error code
 * ({@link OrdersafeErrorCode}, or `unknown`); `drift_<class>` for a drift the final
 * reconciliation found ({@link DriftClass}); `journal_<kind>` for a journal warning
 * (`journal_torn_tail`, `journal_stale_lock`).
 */
export type RebalanceAdjustmentReason =
  | (typeof REBALANCE_ADJUSTMENT_REASONS)[number]
  | SkipReason
  | FinalOrderStatus
  | OrdersafeErrorCode
  | "unknown"
  | `drift_${DriftClass}`
  | `journal_${JournalWarning["kind"]}`;

/** Why a leg was skipped, shrunk or failed. */
export interface RebalanceAdjustment {
  /** The symbol. */
  readonly symbol: string;
  /** The side, when a leg was involved. */
  readonly side: "buy" | "sell" | undefined;
  /** A machine-readable reason: see {@link RebalanceAdjustmentReason}. */
  readonly reason: RebalanceAdjustmentReason;
  /** A human detail. */
  readonly detail: string;
}

/** The numbers of a rebalance. */
export interface RebalanceMetrics {
  /** Dollars traded: Σ filled notional. */
  readonly turnover: Decimal;
  /** Dollars a liquidate-and-rebuy would have traded. */
  readonly naiveTurnover: Decimal;
  /** `naiveTurnover − turnover`. */
  readonly savedTurnover: Decimal;
  /** Orders sent (adopted ones not counted). */
  readonly ordersSubmitted: number;
  /** Orders that ended filled (adopted ones included). */
  readonly ordersFilled: number;
  /** Orders adopted from an earlier attempt of the run. */
  readonly ordersAdopted: number;
  /**
   * Orders of this run found by client order id after an ambiguous submit (or a duplicate
   * refusal) rather than confirmed by the submit's reply; counted like any other.
   */
  readonly ordersRecovered: number;
  /** Orders the broker could not settle within the bounds. */
  readonly ordersUnresolved: number;
  /**
   * Submits the broker refused for buying power: each refusal counts, the ones the retry
   * engine got past by resizing the buy included.
   */
  readonly buyingPowerRejections: number;
  /** Filled orders / orders with an outcome (1 when there were none). */
  readonly successRate: number;
  /** Symbols both sold and bought in this run (a round trip; 0 by construction). */
  readonly roundTrips: number;
  /** Run time on the injected clock (ms). */
  readonly durationMs: number;
  /**
   * Requests this run sent to the broker: the HTTP requests of a port that reports them
   * (`capabilities.requestReports`, as the Alpaca adapter does: a `getAssets` of 20 symbols
   * is 20), else one per port call.
   */
  readonly restCalls: number;
}

/**
 * An order of the run that had not reached a final state when the report was made: only in
 * the partial report of an aborted run (the broker may still fill it; the next run on the
 * account learns it from the order book).
 */
export interface WorkingOrder {
  /** The client order id it was sent under. */
  readonly clientOrderId: string;
  /** The broker's id, when its reply (or a read) named it. */
  readonly orderId: string | undefined;
  readonly symbol: string;
  readonly side: "buy" | "sell";
  /** The broker's last known status, or `sent` when no reply named the order yet. */
  readonly status: BrokerOrderStatus | "sent";
  /** Shares filled as far as known. */
  readonly filledQty: Decimal;
  /** Whether it is an earlier attempt's order this run was following. */
  readonly adopted: boolean;
}

/**
 * How a run took over an unfinished run of the account found in the journal:
 * `resumed` (the same runId: a `resume(runId)`, or a `rebalance` given that runId),
 * `superseded` (a later run, with another id, took over its orders), `abandoned` (by
 * `abandon(runId)`: its orders were cancelled and followed, nothing more traded).
 */
export const TAKE_OVER_KINDS = ["resumed", "superseded", "abandoned"] as const;
/** One of {@link TAKE_OVER_KINDS}. */
export type TakeOverKind = (typeof TAKE_OVER_KINDS)[number];

/**
 * An unfinished run (a crashed or aborted one) that this run took over from the journal.
 *
 * @remarks
 * Every order it sent was looked up: the ones found are in `orders` (marked `adopted`, each
 * followed to its final state), the others are in `orders` as `unresolved`. The run is marked
 * finished in the journal only once none of its orders can still be live (`finished`);
 * otherwise it stays open and the next run on the account looks its orders up again.
 */
export interface TakenOverRun {
  /** The unfinished run's id. */
  readonly runId: string;
  /** How it was taken over. */
  readonly how: TakeOverKind;
  /** Orders it sent that may have been placed (refused sends left out): each looked up. */
  readonly orders: number;
  /** Of those, how many no read found within `journalLookupMs` (reported `unresolved`). */
  readonly unresolved: number;
  /**
   * Whether the journal now marks the run finished (`completed` when resumed, `superseded`,
   * `abandoned`). False when an order of it (or of this run) is unresolved or still working,
   * when the run was aborted, or when the journal could not be written.
   */
  readonly finished: boolean;
}

/**
 * Why the second buy pass ran or not:
 * - `ran`: the first buys were short for cash and their holds freed at least the minimum order;
 * - `off`: `secondBuyPass` is false;
 * - `not_short`: the first buys were not short for cash (or there were none);
 * - `nothing_freed`: the first buys could free less than the minimum order (their plan counted
 *   about what they spent: no hold to release);
 * - `halted`: the circuit breaker opened.
 */
export const BUY_PASS_REASONS = ["ran", "off", "not_short", "nothing_freed", "halted"] as const;

/** One of {@link BUY_PASS_REASONS}. */
export type BuyPassReason = (typeof BUY_PASS_REASONS)[number];

/** The second buy pass of a run (see `SmartRebalancerOptions.secondBuyPass`). */
export interface BuyPassReport {
  /** Whether it ran: the account was read again and the buys under target planned on it. */
  readonly ran: boolean;
  /** Why it ran or not. */
  readonly reason: BuyPassReason;
  /** What the first buys could have freed: the cash they counted less what they spent, plus the plan's cash left. */
  readonly freed: Decimal;
  /** Orders it sent (each also in the report's `orders`). */
  readonly orders: number;
  /** What its orders filled. */
  readonly filledNotional: Decimal;
  /** The symbols it bought. */
  readonly symbols: readonly string[];
}

/** What {@link SmartRebalancer.rebalance} returns: partial success is a result, not an exception. */
export interface RebalanceReport {
  /** The run id (client order ids derive from it). */
  readonly runId: string;
  /** How it ended. */
  readonly status: RebalanceStatus;
  /** Whether it was a dry run (nothing sent). */
  readonly dryRun: boolean;
  /** The plan made from the fresh state (the buys as first planned; see `buyPlan`). */
  readonly plan: RebalancePlan | undefined;
  /** The buys re-planned on the real cash after the sells, when there was a buy phase. */
  readonly buyPlan: RebalancePlan | undefined;
  /** The second buy pass, when there was a buy phase (its plan, when it ran, is not kept). */
  readonly buyPass?: BuyPassReport | undefined;
  /** Every order's outcome, as each ended: adopted, sells, then buys. */
  readonly orders: readonly OrderOutcome[];
  /**
   * Orders still working when the report was made: empty unless the run was aborted (an
   * aborted run's partial report lists every order that ended in `orders` and every order
   * still working here).
   */
  readonly working: readonly WorkingOrder[];
  /**
   * The unfinished runs of the account this run took over from the journal (a crashed or
   * aborted run, this run's own earlier attempt), in the order they started; empty when there
   * were none. Their orders are in `orders`, marked `adopted`.
   */
  readonly takenOver: readonly TakenOverRun[];
  /** Positions read at the start. */
  readonly positionsBefore: readonly PositionSnapshot[];
  /** Positions read at the end. */
  readonly positionsAfter: readonly PositionSnapshot[];
  /** Differences between what the fills imply and what the broker holds. */
  readonly drift: readonly PositionDrift[];
  /** What the correction engine did about drift above tolerance (per the correction mode). */
  readonly corrections: CorrectionRun | undefined;
  /** Legs skipped, shrunk or failed, with reasons. */
  readonly adjustments: readonly RebalanceAdjustment[];
  /** Turnover, orders, success rate, time, REST calls. */
  readonly metrics: RebalanceMetrics;
  /** For `failed` and `halted`: the main reason. */
  readonly error: { readonly code: OrdersafeErrorCode | "unknown"; readonly message: string } | undefined;
  /** The totals of the legs sent by execution policies; absent when no leg was. */
  readonly execution?: ExecutionTotals | undefined;
  /** When it started and ended (ms, on the injected clock). */
  readonly startedAt: number;
  /** When it ended. */
  readonly endedAt: number;
}

/** The totals of a run's legs sent by execution policies (`outcome.execution`). */
export interface ExecutionTotals {
  /** Legs sent by a policy. */
  readonly legs: number;
  /** Orders they sent (each submit, replace or resubmit is a step). */
  readonly steps: number;
  /** What they filled, in dollars, among the legs that had an arrival mid. */
  readonly filledNotional: Decimal;
  /** Their slippage against the arrival mid, in dollars (positive: it cost). */
  readonly slippageDollars: Decimal;
  /** `slippageDollars` in bps of `filledNotional` (0 when nothing filled). */
  readonly slippageBps: number;
  /** Legs without a usable arrival quote (their slippage is unknown and not counted). */
  readonly withoutArrivalMid: number;
}

/** A position as JSON. */
export interface PositionJSON {
  symbol: string;
  qty: string;
  qtyAvailable: string;
}

/** A {@link RebalanceReport} as JSON: decimals as strings. */
export interface RebalanceReportJSON {
  runId: string;
  status: RebalanceStatus;
  dryRun: boolean;
  plan: PlanJSON | null;
  buyPlan: PlanJSON | null;
  /** Present when the run had a buy phase. */
  buyPass?: {
    ran: boolean;
    reason: BuyPassReason;
    freed: string;
    orders: number;
    filledNotional: string;
    symbols: string[];
  };
  orders: OrderOutcomeJSON[];
  working: {
    clientOrderId: string;
    orderId: string | null;
    symbol: string;
    side: "buy" | "sell";
    status: string;
    filledQty: string;
    adopted: boolean;
  }[];
  takenOver: TakenOverRun[];
  positionsBefore: PositionJSON[];
  positionsAfter: PositionJSON[];
  drift: PositionDriftJSON[];
  corrections: {
    actions: {
      id: string;
      kind: string;
      symbol: string;
      status: string;
      fromQty: string;
      toQty: string;
      reason: string | null;
    }[];
    alerts: { reason: string; symbol: string; message: string }[];
  } | null;
  adjustments: RebalanceAdjustment[];
  metrics: Omit<RebalanceMetrics, "turnover" | "naiveTurnover" | "savedTurnover"> & {
    turnover: string;
    naiveTurnover: string;
    savedTurnover: string;
  };
  error: { code: string; message: string } | null;
  /** Present only when a leg was sent by an execution policy. */
  execution?: {
    legs: number;
    steps: number;
    filledNotional: string;
    slippageDollars: string;
    slippageBps: number;
    withoutArrivalMid: number;
  };
  startedAt: number;
  endedAt: number;
}

/** A plan's legs and summary as JSON. */
export interface PlanJSON {
  legs: {
    symbol: string;
    side: "buy" | "sell";
    action: string;
    qty: string | null;
    notional: string | null;
    estimatedNotional: string;
    closePosition: boolean;
  }[];
  skipped: { symbol: string; reason: string; detail: string }[];
  conflicts: { symbol: string; orderId: string; side: "buy" | "sell" }[];
  summary: {
    turnover: string;
    minimalTurnover: string;
    naiveTurnover: string;
    orderCount: number;
    naiveOrderCount: number;
  };
}

function planToJSON(plan: RebalancePlan | undefined): PlanJSON | null {
  if (plan === undefined) return null;
  return {
    legs: plan.legs.map((l) => ({
      symbol: l.symbol,
      side: l.side,
      action: l.action,
      qty: l.qty?.toFixed() ?? null,
      notional: l.notional?.toFixed() ?? null,
      estimatedNotional: l.estimatedNotional.toFixed(),
      closePosition: l.closePosition,
    })),
    skipped: plan.skipped.map((s) => ({ symbol: s.symbol, reason: s.reason, detail: s.detail })),
    conflicts: plan.conflicts.map((c) => ({ symbol: c.symbol, orderId: c.orderId, side: c.side })),
    summary: {
      turnover: plan.summary.turnover.toFixed(),
      minimalTurnover: plan.summary.minimalTurnover.toFixed(),
      naiveTurnover: plan.summary.naiveTurnover.toFixed(),
      orderCount: plan.summary.orderCount,
      naiveOrderCount: plan.summary.naiveOrderCount,
    },
  };
}

const actionToJSON = (a: CorrectionAction) => ({
  id: a.id,
  kind: a.kind,
  symbol: a.symbol,
  status: a.status,
  fromQty: a.fromQty.toFixed(),
  toQty: a.toQty.toFixed(),
  reason: a.reason ?? null,
});

const positionToJSON = (p: PositionSnapshot): PositionJSON => ({
  symbol: p.symbol,
  qty: p.qty.toFixed(),
  qtyAvailable: p.qtyAvailable.toFixed(),
});

/**
 * Converts a report to plain JSON (decimals as strings), for logs, files and dashboards.
 *
 * @param report - the report
 * @returns a JSON-serializable object
 * @example
 * ```ts
 * await fs.writeFile(`rebalance-${report.runId}.json`, JSON.stringify(reportToJSON(report), null, 2));
 * ```
 */
export function reportToJSON(report: RebalanceReport): RebalanceReportJSON {
  const m = report.metrics;
  return {
    runId: report.runId,
    status: report.status,
    dryRun: report.dryRun,
    plan: planToJSON(report.plan),
    buyPlan: planToJSON(report.buyPlan),
    ...(report.buyPass === undefined
      ? {}
      : {
          buyPass: {
            ...report.buyPass,
            freed: report.buyPass.freed.toFixed(),
            filledNotional: report.buyPass.filledNotional.toFixed(),
            symbols: [...report.buyPass.symbols],
          },
        }),
    orders: report.orders.map(outcomeToJSON),
    working: report.working.map((w) => ({
      ...w,
      orderId: w.orderId ?? null,
      filledQty: w.filledQty.toFixed(),
    })),
    takenOver: report.takenOver.map((t) => ({ ...t })),
    positionsBefore: report.positionsBefore.map(positionToJSON),
    positionsAfter: report.positionsAfter.map(positionToJSON),
    drift: report.drift.map(driftToJSON),
    corrections:
      report.corrections === undefined
        ? null
        : {
            actions: report.corrections.actions.map(actionToJSON),
            alerts: report.corrections.alerts.map((a) => ({
              reason: a.reason,
              symbol: a.drift.symbol,
              message: a.message,
            })),
          },
    adjustments: report.adjustments.map((a) => ({ ...a })),
    metrics: {
      ...m,
      turnover: m.turnover.toFixed(),
      naiveTurnover: m.naiveTurnover.toFixed(),
      savedTurnover: m.savedTurnover.toFixed(),
    },
    error: report.error === undefined ? null : { ...report.error },
    ...(report.execution !== undefined
      ? {
          execution: {
            ...report.execution,
            filledNotional: report.execution.filledNotional.toFixed(),
            slippageDollars: report.execution.slippageDollars.toFixed(),
          },
        }
      : {}),
    startedAt: report.startedAt,
    endedAt: report.endedAt,
  };
}
