import type { OrderSide } from "../broker/broker-port.js";
import type { Decimal } from "../core/decimal.js";
import type { OrdersafeErrorCode } from "../core/errors.js";
import type { FinalOrderStatus } from "../orders/order-state-machine.js";

/** How an order sent by an execution policy went: its chain, its price against the arrival mid. */
export interface OrderExecution {
  /** The policy's type (`market`, `marketable_limit`, `stepped_limit`). */
  readonly policy: string;
  /** The mid when the leg started; undefined without a usable quote. */
  readonly arrivalMid: Decimal | undefined;
  /** Slippage against the arrival mid, bps of the filled notional (positive: it cost). */
  readonly slippageBps: number;
  /** Slippage against the arrival mid, in dollars (positive: it cost). */
  readonly slippageDollars: Decimal;
  /** Orders sent: each submit, replace or resubmit is a step. */
  readonly steps: number;
  /** Every order of the leg's chain, oldest first: client order id, status and fills. */
  readonly orders: readonly {
    readonly clientOrderId: string;
    readonly orderId: string;
    readonly type: "market" | "limit";
    readonly limitPrice: Decimal | undefined;
    readonly status: string;
    readonly filledQty: Decimal;
    readonly via: "submit" | "replace";
  }[];
  /** What happened on the way, reported (no quote, spread gate, steps cut short). */
  readonly notes: readonly string[];
}

/** An {@link OrderExecution} as JSON: decimals as strings. */
export interface OrderExecutionJSON {
  policy: string;
  arrivalMid: string | null;
  slippageBps: number;
  slippageDollars: string;
  steps: number;
  orders: {
    clientOrderId: string;
    orderId: string;
    type: "market" | "limit";
    limitPrice: string | null;
    status: string;
    filledQty: string;
    via: "submit" | "replace";
  }[];
  notes: string[];
}

/**
 * What one order ended as, after validate → reserve → submit → track → reconcile → release.
 *
 * @remarks
 * `state` is always a definitive final state: `submit_failed` means the order was certainly
 * never placed (a validation, reservation or broker refusal, or the circuit breaker);
 * `unresolved` means the broker could not tell us after the bounded checks (surfaced loudly,
 * never silently called a failure). There is no "timeout".
 */
export interface OrderOutcome {
  /** The symbol. */
  readonly symbol: string;
  /** Buy or sell. */
  readonly side: OrderSide;
  /** The client order id the order carries (the last one tried, for a failed submit). */
  readonly clientOrderId: string;
  /** The broker's id, when the order was placed. */
  readonly orderId: string | undefined;
  /** Shares asked for (the final size, after any resize), when sized in shares. */
  readonly requestedQty: Decimal | undefined;
  /** Dollars asked for, when sized by notional. */
  readonly requestedNotional: Decimal | undefined;
  /** Shares filled (kept for every final state). */
  readonly filledQty: Decimal;
  /** Average fill price, when anything filled. */
  readonly avgPrice: Decimal | undefined;
  /** Filled quantity × average price. */
  readonly filledNotional: Decimal;
  /** The final state. */
  readonly state: FinalOrderStatus;
  /** Submit calls made (1 for a first-time success, 0 when nothing was sent). */
  readonly attempts: number;
  /**
   * Whether the order is an earlier attempt's, taken over by this run on resume (its fills
   * before the resume belong to that attempt's turnover).
   */
  readonly adopted: boolean;
  /**
   * Whether this run's order was found at the broker by its client order id (after an
   * ambiguous submit, or a submit refused as a duplicate) rather than confirmed by the submit's
   * reply. It counts like any order of the run.
   */
  readonly recovered: boolean;
  /** The error code, when the order failed or was refused. */
  readonly errorCode: OrdersafeErrorCode | "unknown" | undefined;
  /** The error message or the broker's reject reason. */
  readonly errorMessage: string | undefined;
  /** Why the order differs from what was first asked (resized, capped, conflict cancelled). */
  readonly adjustments: readonly string[];
  /** When it was first submitted (ms), when anything was sent. */
  readonly submittedAt: number | undefined;
  /** When it became final (ms). */
  readonly finalAt: number;
  /** How an execution policy sent it (only for a leg sent through the `execution` option). */
  readonly execution?: OrderExecution | undefined;
}

/** An {@link OrderOutcome} as JSON: decimals as strings. */
export interface OrderOutcomeJSON {
  symbol: string;
  side: OrderSide;
  clientOrderId: string;
  orderId: string | null;
  requestedQty: string | null;
  requestedNotional: string | null;
  filledQty: string;
  avgPrice: string | null;
  filledNotional: string;
  state: FinalOrderStatus;
  attempts: number;
  adopted: boolean;
  recovered: boolean;
  errorCode: string | null;
  errorMessage: string | null;
  adjustments: string[];
  submittedAt: number | null;
  finalAt: number;
  /** Present only for a leg sent through an execution policy. */
  execution?: OrderExecutionJSON;
}

const str = (d: Decimal | undefined): string | null => (d === undefined ? null : d.toFixed());

/**
 * Converts an outcome to plain JSON (decimals as strings, absent values as null).
 *
 * @param outcome - the outcome
 * @returns a JSON-serializable object
 * @example
 * ```ts
 * JSON.stringify(outcomeToJSON(outcome));
 * ```
 */
export function outcomeToJSON(outcome: OrderOutcome): OrderOutcomeJSON {
  return {
    symbol: outcome.symbol,
    side: outcome.side,
    clientOrderId: outcome.clientOrderId,
    orderId: outcome.orderId ?? null,
    requestedQty: str(outcome.requestedQty),
    requestedNotional: str(outcome.requestedNotional),
    filledQty: outcome.filledQty.toFixed(),
    avgPrice: str(outcome.avgPrice),
    filledNotional: outcome.filledNotional.toFixed(),
    state: outcome.state,
    attempts: outcome.attempts,
    adopted: outcome.adopted,
    recovered: outcome.recovered,
    errorCode: outcome.errorCode ?? null,
    errorMessage: outcome.errorMessage ?? null,
    adjustments: [...outcome.adjustments],
    submittedAt: outcome.submittedAt ?? null,
    finalAt: outcome.finalAt,
    ...(outcome.execution !== undefined ? { execution: executionToJSON(outcome.execution) } : {}),
  };
}

function executionToJSON(e: OrderExecution): OrderExecutionJSON {
  return {
    policy: e.policy,
    arrivalMid: str(e.arrivalMid),
    slippageBps: e.slippageBps,
    slippageDollars: e.slippageDollars.toFixed(),
    steps: e.steps,
    orders: e.orders.map((o) => ({
      clientOrderId: o.clientOrderId,
      orderId: o.orderId,
      type: o.type,
      limitPrice: str(o.limitPrice),
      status: o.status,
      filledQty: o.filledQty.toFixed(),
      via: o.via,
    })),
    notes: [...e.notes],
  };
}
