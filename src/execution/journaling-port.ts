import { isOrderSnapshot } from "../account/observed-port.js";
import type {
  BrokerPort,
  OrderRequest,
  OrderSide,
  OrderSnapshot,
  ReplaceOrderChanges,
} from "../broker/broker-port.js";
import { isFinalBrokerStatus } from "../broker/broker-port.js";
import { wrapBrokerPort } from "../broker/checked-broker.js";
import type { Clock } from "../core/clock.js";
import { BrokerError, isBrokerError, isOrdersafeError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { JournalEntryInput } from "../journal/journal-entry.js";
import type { JournalStore } from "../journal/journal-store.js";

/** What {@link journalingPort} writes to, and for which run. */
export interface JournalingSettings {
  readonly journal: JournalStore;
  readonly account: string;
  readonly runId: string;
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
  /**
   * With `sendWithinMs`: a send whose journal write took longer than that (a paused or
   * starved process) is not made. A take-over counts a journaled send absent from the broker
   * for `neverPlacedAfterMs` as never placed, so the request must leave well inside it.
   */
  readonly clock?: Clock | undefined;
  /** The longest a send may wait between the start of its journal write and its call (ms). */
  readonly sendWithinMs?: number | undefined;
}

/** The write calls of the contract, as the journal names them. */
type WriteOp = "submit" | "cancel" | "close" | "replace";

/**
 * Wraps a run's port so that every broker write it makes (a submit, a cancel, a close) is
 * written to the journal, durably, before the call leaves, and its answer after; every order
 * of the run seen final afterwards is written once as `final`.
 *
 * @remarks
 * A send that cannot be written is not made: the call fails with `BrokerError("unavailable")`
 * (it certainly did not take effect), so nothing reaches the broker that a crash could leave
 * unknown. Never positions or anything else the library derives: only what was asked and what
 * the broker answered (see `docs/journal.md`).
 *
 * @param port - the run's port
 * @param settings - the journal, the account, the run, the logger
 * @returns the journaling port
 */
export function journalingPort(port: BrokerPort, settings: JournalingSettings): BrokerPort {
  const writer = new RunJournalWriter(settings);
  return wrapBrokerPort(port, {
    call: async (method, call, args) => {
      const send = writer.sendOf(method, args);
      if (send !== undefined) return writer.journaled(send, call);
      const reply = await call();
      writer.learn(reply);
      return reply;
    },
    subscribe: (listener) =>
      port.subscribeOrderUpdates({
        onUpdate(update) {
          writer.finalOf(update.order);
          listener.onUpdate(update);
        },
        onStatus: (status) => listener.onStatus?.(status),
      }),
  });
}

/** One write call to journal: its op, its id in the run, and the entry written before it. */
interface Send {
  readonly op: WriteOp;
  readonly sendId: string;
  readonly entry: JournalEntryInput;
}

/** What {@link journalingPort} writes for one run, and what it remembers of the run's orders. */
class RunJournalWriter {
  private readonly sendCount = new Map<string, number>();
  /** The client order ids of the run's orders: their final states are written. */
  private readonly ours = new Set<string>();
  /** The symbol and side of every order of the run seen, by the broker's id (a replace names only the id). */
  private readonly pairs = new Map<string, { symbol: string; side: OrderSide }>();
  private readonly finalWritten = new Set<string>();

  constructor(private readonly s: JournalingSettings) {}

  /** The send a call makes, when it is a write call; undefined for a read. */
  sendOf(method: string, args: readonly unknown[]): Send | undefined {
    const [first] = args;
    const runId = this.s.runId;
    if (method === "submitOrder" && isRequest(first)) {
      const sendId = this.sendIdFor(first.clientOrderId);
      this.ours.add(first.clientOrderId);
      return {
        op: "submit",
        sendId,
        entry: { type: "send", runId, sendId, op: "submit", request: requestJson(first) },
      };
    }
    if (typeof first !== "string") return undefined;
    if (method === "cancelOrder") {
      const sendId = this.sendIdFor(`cancel-${first}`);
      return { op: "cancel", sendId, entry: { type: "send", runId, sendId, op: "cancel", orderId: first } };
    }
    if (method === "replaceOrder" && isChanges(args[1])) return this.replaceOf(first, args[1]);
    if (method === "closePosition") {
      const sendId = this.sendIdFor(`close-${first}`);
      return { op: "close", sendId, entry: { type: "send", runId, sendId, op: "close", symbol: first } };
    }
    return undefined;
  }

  /** A replace's send: the order's symbol and side (learned from the run's replies) and the changes. */
  private replaceOf(orderId: string, changes: ReplaceOrderChanges): Send {
    const pair = this.pairs.get(orderId);
    if (pair === undefined) {
      // Its symbol and side are what a take-over needs to follow the new order: not sent.
      throw new BrokerError(
        "unavailable",
        "[ordersafe] the journal cannot record a replace of an order it never saw: not sent",
      );
    }
    if (changes.clientOrderId !== undefined) this.ours.add(changes.clientOrderId);
    const sendId = this.sendIdFor(`replace-${orderId}`);
    const entry: JournalEntryInput = {
      type: "send",
      runId: this.s.runId,
      sendId,
      op: "replace",
      orderId,
      ...pair,
      changes: {
        ...(changes.qty !== undefined ? { qty: changes.qty } : {}),
        ...(changes.limitPrice !== undefined ? { limitPrice: changes.limitPrice } : {}),
        ...(changes.clientOrderId !== undefined ? { clientOrderId: changes.clientOrderId } : {}),
      },
    };
    return { op: "replace", sendId, entry };
  }

  /** Writes the send durably, makes the call (unless the write took too long), writes its answer. */
  async journaled<T>(send: Send, call: () => Promise<T>): Promise<T> {
    await this.writeSend(send);
    let reply: T;
    try {
      reply = await call();
    } catch (e) {
      this.note([this.failedAnswer(send.sendId, e)]);
      throw e;
    }
    const order = isOrderSnapshot(reply) ? reply : undefined;
    this.note([acceptedAnswer(this.s.runId, send.sendId, order)]);
    if (order !== undefined) {
      this.ours.add(order.clientOrderId);
      this.pairs.set(order.id, { symbol: order.symbol, side: order.side });
      this.finalOf(order);
    }
    return reply;
  }

  /** The durable write of a send; throws (nothing sent) when it fails or took too long. */
  private async writeSend(send: Send): Promise<void> {
    const { clock, sendWithinMs, runId } = this.s;
    const writing = clock?.now();
    try {
      await this.write([send.entry], true);
    } catch (e) {
      // The journal refused the writer (its lease passed to another process): stop, do not retry.
      if (isOrdersafeError(e) && e.code === "lease_lost") throw e;
      throw new BrokerError(
        "unavailable",
        `[ordersafe] the journal could not record the ${send.op}: not sent`,
        {
          cause: e,
        },
      );
    }
    const waited = writing === undefined || clock === undefined ? 0 : clock.now() - writing;
    if (sendWithinMs !== undefined && waited > sendWithinMs) {
      const message = `[ordersafe] the ${send.op} waited ${waited} ms after its journal write began (more than ${sendWithinMs}): not sent`;
      this.note([
        { type: "answer", runId, sendId: send.sendId, result: "refused", code: "unavailable", message },
      ]);
      throw new BrokerError("unavailable", message);
    }
  }

  /** A failed call's answer: refused when the broker certainly did not act, else ambiguous. */
  private failedAnswer(sendId: string, e: unknown): JournalEntryInput {
    const runId = this.s.runId;
    if (isBrokerError(e) && e.code !== "ambiguous") {
      return {
        type: "answer",
        runId,
        sendId,
        result: "refused",
        code: e.code,
        message: e.message,
        ...(e.brokerCode ? { brokerCode: e.brokerCode } : {}),
      };
    }
    return {
      type: "answer",
      runId,
      sendId,
      result: "ambiguous",
      message: e instanceof Error ? e.message : String(e),
    };
  }

  /** Learns the run's orders from a read's reply: their symbols and sides, their final states. */
  learn(reply: unknown): void {
    for (const o of Array.isArray(reply) ? reply : [reply]) {
      if (!isOrderSnapshot(o)) continue;
      if (this.ours.has(o.clientOrderId)) this.pairs.set(o.id, { symbol: o.symbol, side: o.side });
      this.finalOf(o);
    }
  }

  /** Writes a final order of the run once. */
  finalOf(order: OrderSnapshot): void {
    if (
      !this.ours.has(order.clientOrderId) ||
      !isFinalBrokerStatus(order.status) ||
      this.finalWritten.has(order.id)
    ) {
      return;
    }
    this.finalWritten.add(order.id);
    this.note([{ type: "final", runId: this.s.runId, order: orderJson(order) }]);
  }

  private sendIdFor(key: string): string {
    const n = (this.sendCount.get(key) ?? 0) + 1;
    this.sendCount.set(key, n);
    return n === 1 ? key : `${key}#${n}`;
  }

  private write(entries: JournalEntryInput[], durable: boolean): Promise<unknown> {
    const { journal, account, signal } = this.s;
    return journal.append(account, entries, durable ? { durable: true, ...(signal ? { signal } : {}) } : {});
  }

  /** Writes answers and finals without waiting (not durable); a failure is logged. */
  private note(entries: JournalEntryInput[]): void {
    this.write(entries, false).catch((e: unknown) =>
      this.s.logger.warn(
        { runId: this.s.runId, error: String(e) },
        "[ordersafe] journal: an answer could not be written",
      ),
    );
  }
}

/** A call's answer when the broker accepted it, with the order it names. */
function acceptedAnswer(runId: string, sendId: string, order: OrderSnapshot | undefined): JournalEntryInput {
  return {
    type: "answer",
    runId,
    sendId,
    result: "accepted",
    ...(order
      ? {
          order: {
            id: order.id,
            clientOrderId: order.clientOrderId,
            status: order.status,
            filledQty: order.filledQty.toFixed(),
          },
        }
      : {}),
  };
}

function isChanges(v: unknown): v is ReplaceOrderChanges {
  return typeof v === "object" && v !== null;
}

function isRequest(v: unknown): v is OrderRequest {
  return typeof v === "object" && v !== null && typeof Reflect.get(v, "clientOrderId") === "string";
}

/** An order request as a journal entry holds it (only the request's own fields). */
function requestJson(r: OrderRequest) {
  return {
    clientOrderId: r.clientOrderId,
    symbol: r.symbol,
    side: r.side,
    type: r.type,
    timeInForce: r.timeInForce,
    ...(r.qty !== undefined ? { qty: r.qty } : {}),
    ...(r.notional !== undefined ? { notional: r.notional } : {}),
    ...(r.limitPrice !== undefined ? { limitPrice: r.limitPrice } : {}),
    ...(r.extendedHours !== undefined ? { extendedHours: r.extendedHours } : {}),
  };
}

/** A final order as a journal entry holds it. */
function orderJson(o: OrderSnapshot) {
  return {
    id: o.id,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    timeInForce: o.timeInForce,
    filledQty: o.filledQty,
    status: o.status,
    updatedAt: o.updatedAt,
    ...(o.qty !== undefined ? { qty: o.qty } : {}),
    ...(o.notional !== undefined ? { notional: o.notional } : {}),
    ...(o.filledAvgPrice !== undefined ? { filledAvgPrice: o.filledAvgPrice } : {}),
    ...(o.limitPrice !== undefined ? { limitPrice: o.limitPrice } : {}),
    ...(o.createdAt !== undefined ? { createdAt: o.createdAt } : {}),
    ...(o.rejectReason !== undefined ? { rejectReason: o.rejectReason } : {}),
  };
}
