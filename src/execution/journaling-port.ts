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
  const { journal, account, runId, logger, signal, clock, sendWithinMs } = settings;
  const sendCount = new Map<string, number>();
  const ours = new Set<string>();
  /** The symbol and side of every order of the run seen, by the broker's id (a replace names only the id). */
  const pairs = new Map<string, { symbol: string; side: OrderSide }>();
  const finalWritten = new Set<string>();
  const sendIdFor = (key: string) => {
    const n = (sendCount.get(key) ?? 0) + 1;
    sendCount.set(key, n);
    return n === 1 ? key : `${key}#${n}`;
  };
  const write = async (entries: JournalEntryInput[], durable: boolean) =>
    journal.append(account, entries, durable ? { durable: true, ...(signal ? { signal } : {}) } : {});
  const note = (entries: JournalEntryInput[]) => {
    write(entries, false).catch((e: unknown) =>
      logger.warn({ runId, error: String(e) }, "[ordersafe] journal: an answer could not be written"),
    );
  };
  const finalOf = (order: OrderSnapshot) => {
    if (!ours.has(order.clientOrderId) || !isFinalBrokerStatus(order.status) || finalWritten.has(order.id)) {
      return;
    }
    finalWritten.add(order.id);
    note([{ type: "final", runId, order: orderJson(order) }]);
  };
  const learn = (reply: unknown) => {
    for (const o of Array.isArray(reply) ? reply : [reply]) {
      if (!isOrderSnapshot(o)) continue;
      if (ours.has(o.clientOrderId)) pairs.set(o.id, { symbol: o.symbol, side: o.side });
      finalOf(o);
    }
  };
  /** Writes the send durably, makes the call, writes its answer. */
  const journaled = async <T>(
    op: WriteOp,
    sendId: string,
    send: JournalEntryInput,
    call: () => Promise<T>,
  ): Promise<T> => {
    const writing = clock?.now();
    try {
      await write([send], true);
    } catch (e) {
      // The journal refused the writer (its lease passed to another process): stop, do not retry.
      if (isOrdersafeError(e) && e.code === "lease_lost") throw e;
      throw new BrokerError("unavailable", `[ordersafe] the journal could not record the ${op}: not sent`, {
        cause: e,
      });
    }
    const waited = writing === undefined || clock === undefined ? 0 : clock.now() - writing;
    if (sendWithinMs !== undefined && waited > sendWithinMs) {
      const message = `[ordersafe] the ${op} waited ${waited} ms after its journal write began (more than ${sendWithinMs}): not sent`;
      note([{ type: "answer", runId, sendId, result: "refused", code: "unavailable", message }]);
      throw new BrokerError("unavailable", message);
    }
    let reply: T;
    try {
      reply = await call();
    } catch (e) {
      const answer: JournalEntryInput =
        isBrokerError(e) && e.code !== "ambiguous"
          ? {
              type: "answer",
              runId,
              sendId,
              result: "refused",
              code: e.code,
              message: e.message,
              ...(e.brokerCode ? { brokerCode: e.brokerCode } : {}),
            }
          : {
              type: "answer",
              runId,
              sendId,
              result: "ambiguous",
              message: e instanceof Error ? e.message : String(e),
            };
      note([answer]);
      throw e;
    }
    const order = isOrderSnapshot(reply) ? reply : undefined;
    note([
      {
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
      },
    ]);
    if (order !== undefined) {
      ours.add(order.clientOrderId);
      pairs.set(order.id, { symbol: order.symbol, side: order.side });
      finalOf(order);
    }
    return reply;
  };
  return wrapBrokerPort(port, {
    call: async (method, call, args) => {
      const [first] = args;
      if (method === "submitOrder" && isRequest(first)) {
        const sendId = sendIdFor(first.clientOrderId);
        ours.add(first.clientOrderId);
        return journaled(
          "submit",
          sendId,
          { type: "send", runId, sendId, op: "submit", request: requestJson(first) },
          call,
        );
      }
      if (method === "cancelOrder" && typeof first === "string") {
        const sendId = sendIdFor(`cancel-${first}`);
        return journaled(
          "cancel",
          sendId,
          { type: "send", runId, sendId, op: "cancel", orderId: first },
          call,
        );
      }
      if (method === "replaceOrder" && typeof first === "string" && isChanges(args[1])) {
        const changes = args[1];
        const pair = pairs.get(first);
        if (pair === undefined) {
          // Its symbol and side are what a take-over needs to follow the new order: not sent.
          throw new BrokerError(
            "unavailable",
            "[ordersafe] the journal cannot record a replace of an order it never saw: not sent",
          );
        }
        if (changes.clientOrderId !== undefined) ours.add(changes.clientOrderId);
        const sendId = sendIdFor(`replace-${first}`);
        return journaled(
          "replace",
          sendId,
          {
            type: "send",
            runId,
            sendId,
            op: "replace",
            orderId: first,
            ...pair,
            changes: {
              ...(changes.qty !== undefined ? { qty: changes.qty } : {}),
              ...(changes.limitPrice !== undefined ? { limitPrice: changes.limitPrice } : {}),
              ...(changes.clientOrderId !== undefined ? { clientOrderId: changes.clientOrderId } : {}),
            },
          },
          call,
        );
      }
      if (method === "closePosition" && typeof first === "string") {
        const sendId = sendIdFor(`close-${first}`);
        return journaled("close", sendId, { type: "send", runId, sendId, op: "close", symbol: first }, call);
      }
      const reply = await call();
      learn(reply);
      return reply;
    },
    subscribe: (listener) =>
      port.subscribeOrderUpdates({
        onUpdate(update) {
          finalOf(update.order);
          listener.onUpdate(update);
        },
        onStatus: (status) => listener.onStatus?.(status),
      }),
  });
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
