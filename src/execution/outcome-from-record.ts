import type { ExecutionRecord } from "../account/execution-record.js";
import type { BrokerOrderStatus } from "../broker/broker-port.js";
import type { FinalOrderStatus } from "../orders/order-state-machine.js";
import type { OrderOutcome } from "./order-outcome.js";

/** The outcome state a final broker status reads as (`calculated` is a done-for-day order). */
const FINAL_STATE: Partial<Record<BrokerOrderStatus, FinalOrderStatus>> = {
  filled: "filled",
  canceled: "canceled",
  expired: "expired",
  replaced: "replaced",
  rejected: "rejected",
  done_for_day: "done_for_day",
  calculated: "done_for_day",
};

/**
 * An order's outcome brought up to what the account's record knows now: a fill that landed
 * after the order was reported final (a fill after a cancel) is counted, and its state
 * follows the broker's (a `canceled` order that filled in full is `filled`).
 *
 * @param outcome - the outcome as recorded when the order ended
 * @param record - the account's execution record
 * @returns the outcome itself when the record knows nothing more, else an updated copy
 */
export function outcomeFromRecord(outcome: OrderOutcome, record: ExecutionRecord): OrderOutcome {
  if (outcome.orderId === undefined) return outcome;
  const known = record.order(outcome.orderId);
  if (known === undefined || !known.filledQty.gt(outcome.filledQty)) return outcome;
  const state = (known.final ? FINAL_STATE[known.status] : undefined) ?? outcome.state;
  const failed = state === "rejected" || state === "unresolved";
  return {
    ...outcome,
    filledQty: known.filledQty,
    filledNotional: known.filledValue,
    avgPrice: known.filledQty.isZero() ? outcome.avgPrice : known.filledValue.div(known.filledQty),
    state,
    errorCode: failed ? outcome.errorCode : undefined,
    errorMessage: failed ? outcome.errorMessage : undefined,
  };
}
