import type { OrderSide, PositionSnapshot } from "../broker/broker-port.js";
import type { Decimal } from "../core/decimal.js";
import { isOrdersafeError, type OrdersafeErrorCode } from "../core/errors.js";
import type { RebalancePlan } from "../rebalance/rebalance-plan.js";
import type { PositionDrift } from "../reconcile/detect-position-drift.js";
import type { CorrectionRun } from "../reconcile/position-correction-engine.js";
import type { OrderOutcome } from "./order-outcome.js";
import type {
  BuyPassReport,
  RebalanceAdjustment,
  RebalanceAdjustmentReason,
  TakenOverRun,
  WorkingOrder,
} from "./rebalance-report.js";

/** The main reason a run failed or halted, as its report carries it. */
export interface RunError {
  readonly code: OrdersafeErrorCode | "unknown";
  readonly message: string;
}

/**
 * The {@link RunError} of anything thrown.
 *
 * @param e - anything thrown
 * @returns its code (`unknown` when it is not an ordersafe error) and message
 */
export function errorOf(e: unknown): RunError {
  if (isOrdersafeError(e)) return { code: e.code, message: e.message };
  return { code: "unknown", message: e instanceof Error ? e.message : String(e) };
}

/** What a rebalance did, read-only: what its report is built from. */
export interface RecordedRun {
  readonly runId: string;
  readonly dryRun: boolean;
  /** When the run started (ms, on the injected clock). */
  readonly startedAt: number;
  readonly positionsBefore: readonly PositionSnapshot[];
  readonly positionsAfter: readonly PositionSnapshot[];
  readonly plan: RebalancePlan | undefined;
  readonly buyPlan: RebalancePlan | undefined;
  /** The second buy pass, when there was a buy phase. */
  readonly buyPass?: BuyPassReport | undefined;
  /** Every order's outcome, in the order each ended: adopted, sells, buys, corrections. */
  readonly orders: readonly OrderOutcome[];
  /** Orders still working (sent or followed, not final yet). */
  readonly working: readonly WorkingOrder[];
  /** The unfinished runs taken over from the journal. */
  readonly takenOver: readonly TakenOverRun[];
  readonly drift: readonly PositionDrift[];
  readonly corrections: CorrectionRun | undefined;
  readonly adjustments: readonly RebalanceAdjustment[];
  /** Order requests sent (each attempt counts). */
  readonly submitted: number;
  /** Set when the circuit breaker opened. */
  readonly halted: RunError | undefined;
}

/**
 * The record of one rebalance as it goes: what was read at the start, the plans, each order's
 * outcome, every adjustment, and the end state. The report is built from it.
 */
export class RebalanceRecord implements RecordedRun {
  positionsBefore: PositionSnapshot[] = [];
  positionsAfter: PositionSnapshot[] = [];
  /** The prices of the first read (drift is valued at them). */
  prices = new Map<string, Decimal>();
  plan: RebalancePlan | undefined;
  buyPlan: RebalancePlan | undefined;
  buyPass: BuyPassReport | undefined;
  orders: OrderOutcome[] = [];
  working: WorkingOrder[] = [];
  takenOver: TakenOverRun[] = [];
  drift: PositionDrift[] = [];
  corrections: CorrectionRun | undefined;
  adjustments: RebalanceAdjustment[] = [];
  submitted = 0;
  halted: RunError | undefined;

  /**
   * @param runId - the run
   * @param dryRun - whether nothing is sent
   * @param startedAt - when it started (ms)
   */
  constructor(
    readonly runId: string,
    readonly dryRun: boolean,
    readonly startedAt: number,
  ) {}

  /**
   * Notes why a leg was skipped, shrunk or failed.
   *
   * @param symbol - the symbol (`*` for the whole run)
   * @param side - the side, when a leg was involved
   * @param reason - the machine-readable reason
   * @param detail - for people
   */
  adjust(
    symbol: string,
    side: OrderSide | undefined,
    reason: RebalanceAdjustmentReason,
    detail: string,
  ): void {
    this.adjustments.push({ symbol, side, reason, detail });
  }

  /**
   * Notes what an order's outcome says about its leg: resized, partly filled, or failed.
   *
   * @param o - the outcome (already in `orders`)
   */
  noteOutcome(o: OrderOutcome): void {
    if (o.state === "filled") {
      if (o.adjustments.length > 0 && !o.adopted)
        this.adjust(o.symbol, o.side, "resized", o.adjustments.join("; "));
      return;
    }
    if (o.filledQty.gt(0)) {
      this.adjust(o.symbol, o.side, "partial_fill", `${o.state} with ${o.filledQty.toFixed()} filled`);
    } else {
      this.adjust(o.symbol, o.side, o.errorCode ?? o.state, o.errorMessage ?? o.state);
    }
  }
}
