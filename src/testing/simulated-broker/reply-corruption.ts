import type { z } from "zod";
import type { OrderSnapshot } from "../../broker/broker-port.js";
import type { EventLog } from "./event-log.js";
import type { ReplyCorruption, ReplyCorruptionScriptSchema } from "./options.js";

type Script = z.output<typeof ReplyCorruptionScriptSchema>;
type CorruptedMethod = "submitOrder" | "closePosition";

/**
 * The replies `broker.corruptReplies()` will spoil: a queue, taken in order by the next
 * matching write. The order itself is placed as asked; only what the call returns changes,
 * as a buggy adapter or a changed API would. Each spoilt reply is logged as a `fault`.
 */
export class ReplyCorruptions {
  private readonly queue: { script: Script; left: number }[] = [];

  /** @param log - where each spoilt reply is logged */
  constructor(private readonly log: EventLog) {}

  /** Queues a (parsed) corruption for its next `times` matching replies. */
  add(script: Script): void {
    this.queue.push({ script, left: script.times ?? 1 });
  }

  /**
   * The reply a write returns: `order` as is, or spoilt by the first queued corruption that
   * applies to `method`.
   *
   * @param method - the write
   * @param order - the true snapshot
   * @returns what the call returns (a plain object, maybe not a valid snapshot)
   */
  reply(method: CorruptedMethod, order: OrderSnapshot): OrderSnapshot {
    const i = this.queue.findIndex((e) => e.script.method === undefined || e.script.method === method);
    const entry = this.queue[i];
    if (entry === undefined) return order;
    entry.left--;
    if (entry.left <= 0) this.queue.splice(i, 1);
    this.log.record("fault", {
      kind: "corrupt_reply",
      source: "script",
      method,
      change: entry.script.change,
    });
    return corrupt(order, entry.script.change);
  }
}

/** A copy of `order` spoilt as `change` says; fields are set with `Reflect.set` because the result breaks the type on purpose. */
function corrupt(order: OrderSnapshot, change: ReplyCorruption): OrderSnapshot {
  const copy: OrderSnapshot = { ...order };
  switch (change) {
    case "unknown_status":
      Reflect.set(copy, "status", "pending_review");
      break;
    case "nan_filled_qty":
      Reflect.set(copy, "filledQty", Number.NaN);
      break;
    case "invalid_date":
      Reflect.set(copy, "updatedAt", "not a date");
      break;
    case "size_x10":
      if (order.qty !== undefined) copy.qty = order.qty.times(10);
      if (order.notional !== undefined) copy.notional = order.notional.times(10);
      break;
    case "other_symbol":
      copy.symbol = order.symbol === "OTHER" ? "ANOTHER" : "OTHER";
      break;
    case "other_side":
      copy.side = order.side === "buy" ? "sell" : "buy";
      break;
    case "other_client_order_id":
      copy.clientOrderId = `${order.clientOrderId}-other`;
      break;
  }
  return copy;
}
