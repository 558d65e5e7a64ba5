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

/**
 * A submit of an unfinished run that never reached the broker: no answer settled it, and its
 * client order id was absent from the broker's orders once `neverPlacedAfterMs` had passed
 * since it was sent. A `not_placed` entry now says so in the journal.
 */
export interface NotPlacedSend {
  readonly runId: string;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: OrderSide;
  /** When it was (last) sent (ms since the epoch, on the writer's clock). */
  readonly sentAt: number;
}

/** What taking over an account's unfinished runs found. */
export interface TakeOver {
  /** The unfinished runs (this run's own earlier attempt among them, when it has one). */
  readonly runs: readonly JournalRun[];
  /** Every order they sent that the broker knows, as read now. */
  readonly found: readonly OrderSnapshot[];
  /** Sends no read found within the bound. */
  readonly unresolved: readonly UnresolvedSend[];
  /** Submits that never reached the broker (journaled now as `not_placed`). */
  readonly notPlaced: readonly NotPlacedSend[];
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
  /**
   * How long after it was sent a submit no answer settled, and the broker's lookup by client
   * order id does not find, counts as never placed (ms); undefined: never decided (it stays
   * unresolved).
   */
  readonly neverPlacedAfterMs?: number | undefined;
  /** The run taking over (named in the `not_placed` entries it writes). */
  readonly by?: string | undefined;
}

/** A write the journal holds, with what it was about. */
interface Sent {
  readonly runId: string;
  readonly op: "submit" | "close";
  /** When it was first sent. */
  readonly at: number;
  /** When it was last sent (a resend under the same id), and that send's id. */
  readonly lastAt: number;
  readonly lastSendId: string;
  /** Whether an answer says the order exists (accepted, or refused as a duplicate). */
  readonly exists: boolean;
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
 * place), or — a submit no answer settled, absent from a lookup by its client order id made
 * `neverPlacedAfterMs` or more after it was sent — it never reached the broker: a `not_placed`
 * entry is written (durably) and it is reported in `notPlaced`. Sends the broker refused are
 * skipped: nothing was placed.
 *
 * @param s - the journal, the account, the port, the clock, the signal, the bounds
 * @returns the runs, the orders found, the sends unresolved and never placed, the journal's warnings
 * @throws the journal's errors (`journal_corrupt`, `journal_locked`, `journal_io`, `lease_lost`); the abort reason
 */
export async function takeOverUnfinished(s: TakeOverSettings): Promise<TakeOver> {
  const open = await s.journal.openRuns(s.account, { signal: s.signal });
  const warnings = open.warnings;
  const runs = s.only === undefined ? open.runs : open.runs.filter((r) => r.runId === s.only);
  const sends = runs.flatMap((r) => sentOrders(r.entries));
  if (sends.length === 0) return { runs, found: [], unresolved: [], notPlaced: [], warnings };
  const found = new Map<string, OrderSnapshot>();
  const gone: Sent[] = [];
  let pending = [...sends];
  const deadline = s.clock.now() + s.lookupMs;
  for (let attempt = 0; ; attempt++) {
    const readAt = s.clock.now();
    const round = await lookUp(s, pending, found);
    pending = [];
    for (const p of round.still) (neverPlaced(s, p, round.absent, readAt) ? gone : pending).push(p);
    if (pending.length === 0 || s.clock.now() >= deadline) break;
    const wait = Math.min(backoffDelay({ initialMs: 250 }, attempt), deadline - s.clock.now());
    await s.clock.sleep(Math.max(1, wait), s.signal);
  }
  const notPlaced = await recordNotPlaced(s, gone);
  const unresolved = pending.map((p) => ({
    runId: p.runId,
    clientOrderId: p.clientOrderId,
    symbol: p.symbol,
    side: p.side,
  }));
  return { runs, found: [...found.values()], unresolved, notPlaced, warnings };
}

/** Whether a send not found counts as never placed: see {@link takeOverUnfinished}. */
function neverPlaced(s: TakeOverSettings, p: Sent, absent: ReadonlySet<Sent>, readAt: number): boolean {
  const window = s.neverPlacedAfterMs;
  return (
    window !== undefined &&
    s.by !== undefined &&
    p.op === "submit" &&
    !p.exists &&
    p.orderId === undefined &&
    absent.has(p) &&
    readAt - p.lastAt >= window
  );
}

/** Writes a `not_placed` entry for each send, durably, before anything may be sent in its place. */
async function recordNotPlaced(s: TakeOverSettings, gone: readonly Sent[]): Promise<NotPlacedSend[]> {
  if (gone.length === 0 || s.by === undefined || s.neverPlacedAfterMs === undefined) return [];
  const by = s.by;
  const afterMs = s.neverPlacedAfterMs;
  // Only submits get here (neverPlaced): each has its client order id.
  const out = gone.flatMap((p) =>
    p.clientOrderId === undefined ? [] : [{ p, clientOrderId: p.clientOrderId }],
  );
  await s.journal.append(
    s.account,
    out.map(({ p, clientOrderId }) => ({
      type: "not_placed" as const,
      runId: p.runId,
      sendId: p.lastSendId,
      clientOrderId,
      by,
      afterMs,
    })),
    { durable: true, ...(s.signal ? { signal: s.signal } : {}) },
  );
  return out.map(({ p, clientOrderId }) => ({
    runId: p.runId,
    clientOrderId,
    symbol: p.symbol,
    side: p.side,
    sentAt: p.lastAt,
  }));
}

/**
 * The orders a run's journal says may have been placed: every submit and every replace's new
 * order (by client order id, resends under the same id counted once) and every close; a send
 * the broker refused is left out; a refusal as a duplicate means the order exists, and is kept.
 * A send a `not_placed` entry settled is left out too: it never reached the broker.
 */
export function sentOrders(entries: readonly JournalEntry[]): Sent[] {
  const answers = new Map<string, JournalEntry & { type: "answer" }>();
  const notPlaced = new Set<string>();
  for (const e of entries) {
    if (e.type === "answer") answers.set(e.sendId, e);
    else if (e.type === "not_placed") notPlaced.add(e.clientOrderId);
  }
  const submits = new Map<string, Sent & { maybePlaced: boolean }>();
  const closes: Sent[] = [];
  for (const e of entries) {
    if (e.type !== "send" || e.op === "cancel") continue;
    const a = answers.get(e.sendId);
    const orderId = a?.result === "accepted" ? a.order?.id : undefined;
    const duplicate = a?.result === "refused" && a.code === "duplicate_client_order_id";
    // No answer (a crash in flight), an ambiguous one, or a duplicate: it may be placed.
    const maybePlaced = a?.result !== "refused" || duplicate;
    const exists = a?.result === "accepted" || duplicate;
    if (e.op === "close") {
      if (maybePlaced)
        closes.push({
          runId: e.runId,
          op: "close",
          at: e.at,
          lastAt: e.at,
          lastSendId: e.sendId,
          exists,
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
    if (id === undefined || notPlaced.has(id)) continue;
    const known = submits.get(id);
    submits.set(id, {
      runId: e.runId,
      op: "submit",
      at: known?.at ?? e.at,
      lastAt: e.at,
      lastSendId: e.sendId,
      exists: (known?.exists ?? false) || exists,
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

/**
 * One round of reads; returns what is still not found, and which of those a lookup by client
 * order id answered as absent (a read that failed says nothing).
 */
async function lookUp(
  s: TakeOverSettings,
  pending: readonly Sent[],
  found: Map<string, OrderSnapshot>,
): Promise<{ still: Sent[]; absent: Set<Sent> }> {
  const { broker, signal } = s;
  const history = await readHistory(s, pending);
  const still: Sent[] = [];
  const absent = new Set<Sent>();
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
      if (order === null) absent.add(p);
    }
    if (order === null || order === undefined) still.push(p);
    else found.set(order.id, order);
  }
  return { still, absent };
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
