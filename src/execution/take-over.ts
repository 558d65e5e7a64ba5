import type { BrokerPort, OrderSide, OrderSnapshot } from "../broker/broker-port.js";
import { backoffDelay } from "../core/backoff.js";
import type { Clock } from "../core/clock.js";
import { CLIENT_ORDER_ID_PREFIX } from "../core/ids.js";
import type { JournalEntry } from "../journal/journal-entry.js";
import type { JournalRun, JournalStore, JournalWarning } from "../journal/journal-store.js";

/** An order an unfinished run sent that no read could find within the bound: it may be live. */
export interface UnresolvedSend {
  readonly runId: string;
  readonly clientOrderId: string | undefined;
  readonly symbol: string;
  readonly side: OrderSide;
}

/** What taking over an account's unfinished runs found. */
export interface TakeOver {
  /** The unfinished runs (this run's own earlier attempt among them, when it has one). */
  readonly runs: readonly JournalRun[];
  /** Every order they sent that the broker knows, as read now. */
  readonly found: readonly OrderSnapshot[];
  /** Sends no read found within the bound. */
  readonly unresolved: readonly UnresolvedSend[];
  /** What the journal reported (a torn line, a stale lock). */
  readonly warnings: readonly JournalWarning[];
}

/** What {@link takeOverUnfinished} reads with. */
export interface TakeOverSettings {
  readonly journal: JournalStore;
  readonly account: string;
  readonly broker: BrokerPort;
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  /** How long a sent order the broker does not show yet is looked for (ms). */
  readonly lookupMs: number;
  /** Only these runs (an explicit resume or abandon); every unfinished run when left out. */
  readonly only?: string | undefined;
}

/** A write the journal holds, with what it was about. */
interface Sent {
  readonly runId: string;
  readonly op: "submit" | "close";
  readonly at: number;
  readonly clientOrderId: string | undefined;
  readonly orderId: string | undefined;
  readonly symbol: string;
  readonly side: OrderSide;
}

/**
 * Finds every unfinished run of the account in the journal and every order they sent: by its
 * id when the broker's answer named it, else by client order id (or, for a close, in the
 * order history), read again until found or `lookupMs` passes. An order sent is never
 * forgotten: it is found, or reported unresolved (it may be live; nothing is sent in its
 * place). Sends the broker refused are skipped: nothing was placed.
 *
 * @param s - the journal, the account, the port, the clock, the signal and the bound
 * @returns the runs, the orders found, the sends unresolved, the journal's warnings
 * @throws the journal's errors (`journal_corrupt`, `journal_locked`, `journal_io`); the abort reason
 */
export async function takeOverUnfinished(s: TakeOverSettings): Promise<TakeOver> {
  const open = await s.journal.openRuns(s.account, { signal: s.signal });
  const warnings = open.warnings;
  const runs = s.only === undefined ? open.runs : open.runs.filter((r) => r.runId === s.only);
  const sends = runs.flatMap((r) => sentOrders(r.entries));
  if (sends.length === 0) return { runs, found: [], unresolved: [], warnings };
  const found = new Map<string, OrderSnapshot>();
  let pending = [...sends];
  const deadline = s.clock.now() + s.lookupMs;
  for (let attempt = 0; ; attempt++) {
    pending = await lookUp(s, pending, found);
    if (pending.length === 0 || s.clock.now() >= deadline) break;
    const wait = Math.min(backoffDelay({ initialMs: 250 }, attempt), deadline - s.clock.now());
    await s.clock.sleep(Math.max(1, wait), s.signal);
  }
  const unresolved = pending.map((p) => ({
    runId: p.runId,
    clientOrderId: p.clientOrderId,
    symbol: p.symbol,
    side: p.side,
  }));
  return { runs, found: [...found.values()], unresolved, warnings };
}

/**
 * The orders a run's journal says may have been placed: every submit and every replace's new
 * order (by client order id, resends under the same id counted once) and every close; a send
 * the broker refused is left out; a refusal as a duplicate means the order exists, and is kept.
 */
export function sentOrders(entries: readonly JournalEntry[]): Sent[] {
  const answers = new Map<string, JournalEntry & { type: "answer" }>();
  for (const e of entries) if (e.type === "answer") answers.set(e.sendId, e);
  const submits = new Map<string, Sent & { maybePlaced: boolean }>();
  const closes: Sent[] = [];
  for (const e of entries) {
    if (e.type !== "send" || e.op === "cancel") continue;
    const a = answers.get(e.sendId);
    const orderId = a?.result === "accepted" ? a.order?.id : undefined;
    // No answer (a crash in flight), an ambiguous one, or a duplicate: it may be placed.
    const maybePlaced = a?.result !== "refused" || a.code === "duplicate_client_order_id";
    if (e.op === "close") {
      if (maybePlaced)
        closes.push({
          runId: e.runId,
          op: "close",
          at: e.at,
          clientOrderId: undefined,
          orderId,
          symbol: e.symbol,
          side: "sell",
        });
      continue;
    }
    // A replace places a new order under its new client order id: followed like a submit.
    const order = e.op === "submit" ? e.request : { ...e.changes, symbol: e.symbol, side: e.side };
    const id = order.clientOrderId;
    if (id === undefined) continue;
    const known = submits.get(id);
    submits.set(id, {
      runId: e.runId,
      op: "submit",
      at: known?.at ?? e.at,
      clientOrderId: id,
      orderId: known?.orderId ?? orderId,
      symbol: order.symbol,
      side: order.side,
      maybePlaced: (known?.maybePlaced ?? false) || maybePlaced,
    });
  }
  const placed = [...submits.values()].filter((p) => p.maybePlaced).map(({ maybePlaced: _, ...p }) => p);
  return [...placed, ...closes];
}

/** One round of reads; returns what is still not found. */
async function lookUp(
  s: TakeOverSettings,
  pending: readonly Sent[],
  found: Map<string, OrderSnapshot>,
): Promise<Sent[]> {
  const { broker, signal } = s;
  const history = await readHistory(s, pending);
  const still: Sent[] = [];
  for (const p of pending) {
    let order: OrderSnapshot | null | undefined;
    if (p.op === "close") {
      order =
        p.orderId !== undefined
          ? await safely(() => broker.getOrder(p.orderId as string, { signal }), signal)
          : closeIn(history, p);
    } else {
      order =
        history?.find((o) => o.clientOrderId === p.clientOrderId) ??
        (p.orderId !== undefined
          ? await safely(() => broker.getOrder(p.orderId as string, { signal }), signal)
          : await safely(
              () => broker.getOrderByClientOrderId(p.clientOrderId as string, { signal }),
              signal,
            ));
    }
    if (order === null || order === undefined) still.push(p);
    else found.set(order.id, order);
  }
  return still;
}

/** The account's orders since the earliest pending send, when the port keeps a history. */
async function readHistory(
  s: TakeOverSettings,
  pending: readonly Sent[],
): Promise<OrderSnapshot[] | undefined> {
  const list = s.broker.listOrders;
  if (list === undefined || s.broker.capabilities.orderHistory !== true) return undefined;
  const since = Math.min(...pending.map((p) => p.at));
  const after = new Date(since - HISTORY_MARGIN_MS);
  return safely(() => list.call(s.broker, { status: "all", after }, { signal: s.signal }), s.signal);
}

/** How far before a send its order may be stamped (clock skew between us and the broker). */
const HISTORY_MARGIN_MS = 60_000;

/** The one sell of the symbol since the close was sent that is not one of ordersafe's orders. */
function closeIn(history: readonly OrderSnapshot[] | undefined, p: Sent): OrderSnapshot | undefined {
  const closes = (history ?? []).filter(
    (o) =>
      o.symbol === p.symbol &&
      o.side === "sell" &&
      !o.clientOrderId.startsWith(CLIENT_ORDER_ID_PREFIX) &&
      (o.createdAt?.getTime() ?? o.updatedAt.getTime()) >= p.at - HISTORY_MARGIN_MS,
  );
  return closes.length === 1 ? closes[0] : undefined;
}

/** A read that may fail: the failure means "not known yet" (looked for again), never "absent". */
async function safely<T>(read: () => Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (signal?.aborted) throw e;
    return undefined;
  }
}
