import type { OrderRequest, OrderSnapshot } from "../broker/broker-port.js";
import type { LedgerCashDrift } from "../funds/ledger-cash-view.js";
import type { RebalancePlan } from "../rebalance/rebalance-plan.js";
import type { PositionDrift } from "../reconcile/detect-position-drift.js";
import type { CorrectionMode } from "../reconcile/position-correction-engine.js";
import type { OrderOutcome } from "./order-outcome.js";
import type { RebalancePhase, RebalanceReport } from "./rebalance-report.js";

/** Events of `SmartRebalancer`; listen with `rebalancer.on("order:final", ...)`. */
export interface RebalancerEvents {
  /** A plan was made (`stage: "initial"`) or the buys were re-planned on the real cash (`"buys"`). */
  plan: (e: { runId: string; stage: "initial" | "buys"; plan: RebalancePlan }) => void;
  /** A phase started. */
  phase: (e: { runId: string; phase: RebalancePhase; at: number }) => void;
  /** An order request is about to be sent (each attempt). */
  "order:sending": (e: { runId: string; request: OrderRequest; attempt: number }) => void;
  /**
   * The broker holds the order: it accepted the request (or the order was found by its client
   * order id after an ambiguous submit). `request` is the last request sent for it.
   */
  "order:submitted": (e: {
    runId: string;
    request: OrderRequest;
    attempt: number;
    order: OrderSnapshot;
  }) => void;
  /** An order reached its final state. */
  "order:final": (e: { runId: string; outcome: OrderOutcome }) => void;
  /** Drift was found by the final reconciliation (above tolerance only). */
  drift: (e: { runId: string; drifts: readonly PositionDrift[]; mode: CorrectionMode }) => void;
  /**
   * A settled account read the run planned from shows a cash that differs from what the
   * ledger expected (the run's previous settled read, plus the sells' and minus the buys'
   * filled notional since) by more than `LEDGER_CASH_VIEW_DEFAULTS.tolerance` ($1): money
   * moved that the run's fills do not explain.
   */
  "ledger:drift": (e: { runId: string; drift: LedgerCashDrift; at: number }) => void;
  /** The circuit breaker opened: new submissions stop, a full reconciliation follows. */
  halted: (e: { runId: string; consecutiveFailures: number; reason: string; at: number }) => void;
  /** The run ended (also after a failure; not after an abort). */
  done: (e: { runId: string; report: RebalanceReport }) => void;
}
