import type { OrderSide, PositionSnapshot } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { isOrdersafeError, type OrdersafeErrorCode } from "../core/errors.js";
import type { RebalancePlan } from "../rebalance/rebalance-plan.js";
import type { PositionDrift } from "../reconcile/detect-position-drift.js";
import type { CorrectionRun } from "../reconcile/position-correction-engine.js";
import type { OrderOutcome } from "./order-outcome.js";
import type { RebalanceAdjustment } from "./rebalance-report.js";

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
  /** Every order's outcome, in the order recorded: adopted, sells, buys, corrections. */
  readonly orders: readonly OrderOutcome[];
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
  /** Filled quantity of each order open when `positionsBefore` was read, by order id. */
  filledAtStart = new Map<string, Decimal>();
  positionsAfter: PositionSnapshot[] = [];
  /** The prices of the first read (drift is valued at them). */
  prices = new Map<string, Decimal>();
  plan: RebalancePlan | undefined;
  buyPlan: RebalancePlan | undefined;
  orders: OrderOutcome[] = [];
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
  adjust(symbol: string, side: OrderSide | undefined, reason: string, detail: string): void {
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

  /**
   * The positions the fills imply: the first read plus every recorded order's fills. An
   * adopted order's fills before the first read are in that read already; only what it
   * filled since (while this run followed it) counts.
   *
   * @returns shares per symbol
   */
  expectedPositions(): Map<string, Decimal> {
    const expected = new Map<string, Decimal>();
    for (const p of this.positionsBefore) expected.set(p.symbol, p.qty);
    for (const o of this.orders) {
      let filled = o.filledQty;
      if (o.adopted) {
        const atStart = o.orderId === undefined ? undefined : this.filledAtStart.get(o.orderId);
        if (atStart === undefined) continue;
        filled = filled.minus(atStart);
      }
      const sign = o.side === "buy" ? 1 : -1;
      expected.set(o.symbol, (expected.get(o.symbol) ?? ZERO).plus(filled.times(sign)));
    }
    return expected;
  }
}
