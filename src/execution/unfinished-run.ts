import type { BrokerOrderStatus, OrderSide } from "../broker/broker-port.js";
import { Decimal } from "../core/decimal.js";
import type { JournalEntry, RunStartEntry } from "../journal/journal-entry.js";
import type { JournalRun } from "../journal/journal-store.js";

/**
 * The last state the journal knows of an order an unfinished run sent: a broker status (from
 * the broker's answer or a `final` entry), `sent` (the send is on disk and no answer is: the
 * process died with the call in flight), `ambiguous` (the call failed in a way that may have
 * placed it), `refused` (the broker certainly did not place it), or `not_placed` (a run that
 * took it over found it absent from the broker once the never-placed window had passed).
 */
export type UnfinishedOrderState = BrokerOrderStatus | "sent" | "ambiguous" | "refused" | "not_placed";

/** One order an unfinished run sent, as its journal knows it (never read from the broker). */
export interface UnfinishedOrder {
  /** `submit` (under `clientOrderId`) or `close` (a `closePosition`: the broker names the order). */
  readonly op: "submit" | "close";
  /** The client order id it was sent under; undefined for a close. */
  readonly clientOrderId: string | undefined;
  /** The broker's id, when an answer or a final entry named it. */
  readonly orderId: string | undefined;
  readonly symbol: string;
  readonly side: OrderSide;
  /** The last state the journal knows. */
  readonly state: UnfinishedOrderState;
  /** Shares filled as far as the journal knows (0 when no answer said). */
  readonly filledQty: Decimal;
  /** When the send was written (ms since the epoch, on the writer's clock). */
  readonly sentAt: number;
}

/** A run that started and did not finish, as its journal holds it: see `SmartRebalancer.unfinishedRuns`. */
export interface UnfinishedRun {
  /** The run's id. */
  readonly runId: string;
  /** When it started (ms since the epoch, on the writer's clock). */
  readonly startedAt: number;
  /** The strategy it traded for, when one was named. */
  readonly strategyId: string | undefined;
  /** Its targets as given (decimals as strings): exactly one of weights, quantities, notionals. */
  readonly targets: RunStartEntry["targets"];
  /** Every order it sent (one per client order id; one per close), in the order first sent. */
  readonly orders: readonly UnfinishedOrder[];
}

/**
 * What the journal says of an unfinished run: its start and the last known state of every
 * order it sent (pure: no broker read).
 *
 * @param run - the run, as `JournalStore.openRuns` returns it
 * @returns its summary
 */
export function unfinishedRunOf(run: JournalRun): UnfinishedRun {
  const orders = new Map<string, UnfinishedOrder>();
  const bySend = new Map<string, string>();
  for (const e of run.entries) {
    const key = keyOf(e);
    if (key !== undefined && e.type === "send") {
      bySend.set(e.sendId, key);
      const known = orders.get(key);
      if (known === undefined) orders.set(key, sentOrder(e as SubmitOrClose));
      // A resend under the same id: in flight again until answered.
      else if (known.state === "refused" || known.state === "ambiguous")
        orders.set(key, { ...known, state: "sent" });
    } else if (e.type === "answer") {
      const k = bySend.get(e.sendId);
      const known = k === undefined ? undefined : orders.get(k);
      if (k !== undefined && known !== undefined) orders.set(k, answered(known, e));
    } else if (e.type === "not_placed") {
      const known = orders.get(e.clientOrderId);
      if (known !== undefined) orders.set(e.clientOrderId, { ...known, state: "not_placed" });
    } else if (e.type === "final") {
      const k = [...orders].find(
        ([, o]) => o.orderId === e.order.id || o.clientOrderId === e.order.clientOrderId,
      )?.[0];
      const known = k === undefined ? undefined : orders.get(k);
      if (k !== undefined && known !== undefined)
        orders.set(k, {
          ...known,
          orderId: e.order.id,
          state: e.order.status,
          filledQty: new Decimal(e.order.filledQty),
        });
    }
  }
  return {
    runId: run.runId,
    startedAt: run.start.at,
    strategyId: run.start.strategyId,
    targets: run.start.targets,
    orders: [...orders.values()],
  };
}

type SubmitOrClose = Extract<JournalEntry, { type: "send"; op: "submit" | "close" | "replace" }>;

/** The order a send is about: a submit's client order id, or `close:<sendId>` (each close its own). */
function keyOf(e: JournalEntry): string | undefined {
  if (e.type !== "send") return undefined;
  if (e.op === "submit") return e.request.clientOrderId;
  if (e.op === "close") return `close:${e.sendId}`;
  // A replace places a new order under its new client order id.
  if (e.op === "replace") return e.changes.clientOrderId;
  return undefined;
}

function sentOrder(e: SubmitOrClose): UnfinishedOrder {
  const base = { orderId: undefined, state: "sent" as const, filledQty: new Decimal(0), sentAt: e.at };
  if (e.op === "close")
    return { ...base, op: "close", clientOrderId: undefined, symbol: e.symbol, side: "sell" };
  const order = e.op === "submit" ? e.request : { ...e.changes, symbol: e.symbol, side: e.side };
  return {
    ...base,
    op: "submit",
    clientOrderId: order.clientOrderId,
    symbol: order.symbol,
    side: order.side,
  };
}

function answered(o: UnfinishedOrder, a: Extract<JournalEntry, { type: "answer" }>): UnfinishedOrder {
  // A final state already known is never overwritten by an earlier answer.
  if (o.state !== "sent" && o.state !== "ambiguous" && o.state !== "refused") return o;
  if (a.result === "accepted") {
    return a.order === undefined
      ? o
      : { ...o, orderId: a.order.id, state: a.order.status, filledQty: new Decimal(a.order.filledQty) };
  }
  if (a.result === "refused" && a.code !== "duplicate_client_order_id") return { ...o, state: "refused" };
  // A duplicate refusal means an order exists under the id; an ambiguous answer, that it may.
  return { ...o, state: "ambiguous" };
}
