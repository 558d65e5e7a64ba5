import fc from "fast-check";
import {
  createOrderState,
  Decimal,
  isFinalOrderStatus,
  type OrderEvent,
  type OrderSnapshot,
  type OrderState,
  type OrderUpdate,
  transition,
} from "ordersafe";
import { describe, expect, it } from "vitest";

const T0 = Date.UTC(2026, 0, 5, 14, 30);

type Ending =
  | "filled"
  | "canceled"
  | "late_fill_canceled"
  | "late_fill_filled"
  | "expired"
  | "rejected"
  | "open";

interface Lifecycle {
  qty: number;
  fills: { qty: number; price: number }[];
  ending: Ending;
}

/** The updates a broker would send for one order, in the order it sent them. */
function brokerUpdates(l: Lifecycle): OrderEvent[] {
  const out: OrderEvent[] = [];
  let t = 0;
  let cum = new Decimal(0);
  let notional = new Decimal(0);
  let exec = 0;
  const push = (
    event: OrderUpdate["event"],
    status: OrderSnapshot["status"],
    fill?: { qty: number; price: number },
  ) => {
    t += 1;
    const order: OrderSnapshot = {
      id: "o-1",
      clientOrderId: "c-1",
      symbol: "TECL",
      side: "sell",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(l.qty),
      filledQty: cum,
      status,
      updatedAt: new Date(T0 + t * 10),
    };
    if (cum.gt(0)) order.filledAvgPrice = notional.div(cum);
    const update: OrderUpdate = { event, order, at: order.updatedAt };
    if (fill)
      update.fill = { qty: new Decimal(fill.qty), price: new Decimal(fill.price), executionId: `x${++exec}` };
    out.push({ type: "update", update, at: T0 + t * 10 });
  };
  const fill = (
    f: { qty: number; price: number },
    status: OrderSnapshot["status"],
    event: OrderUpdate["event"],
  ) => {
    cum = cum.plus(f.qty);
    notional = notional.plus(new Decimal(f.qty).times(f.price));
    push(event, status, f);
  };
  push("new", "new");
  if (l.ending === "rejected") {
    push("rejected", "rejected");
    return out;
  }
  const fills = l.fills.slice(0, Math.max(0, l.qty - 1));
  const used = fills.reduce((a, f) => a + f.qty, 0);
  const early =
    l.ending === "late_fill_canceled" || l.ending === "late_fill_filled" ? fills.slice(0, -1) : fills;
  for (const f of early) fill(f, "partially_filled", "partial_fill");
  switch (l.ending) {
    case "filled":
      fill({ qty: l.qty - used, price: 50 }, "filled", "fill");
      break;
    case "canceled":
      push("pending_cancel", "pending_cancel");
      push("canceled", "canceled");
      break;
    case "expired":
      push("expired", "expired");
      break;
    case "late_fill_canceled": {
      push("canceled", "canceled");
      const last = fills.at(-1);
      if (last) fill(last, "canceled", "partial_fill");
      break;
    }
    case "late_fill_filled": {
      push("canceled", "canceled");
      const rest = l.qty - cum.toNumber();
      fill({ qty: rest, price: 49 }, "filled", "fill");
      break;
    }
    case "open":
      break;
  }
  return out;
}

function replay(events: readonly OrderEvent[]): OrderState {
  let s = createOrderState({ clientOrderId: "c-1", at: T0 });
  for (const e of events) s = transition(s, e).state;
  return s;
}

const lifecycle = fc.record({
  qty: fc.integer({ min: 2, max: 12 }),
  fills: fc.array(fc.record({ qty: fc.constant(1), price: fc.integer({ min: 40, max: 60 }) }), {
    minLength: 0,
    maxLength: 6,
  }),
  ending: fc.constantFrom<Ending>(
    "filled",
    "canceled",
    "late_fill_canceled",
    "late_fill_filled",
    "expired",
    "rejected",
    "open",
  ),
});

/** The same updates, some duplicated, some also read by REST, in any order. */
const interleaving = lifecycle.chain((l) => {
  const events = brokerUpdates(l);
  return fc
    .tuple(
      fc.array(fc.nat({ max: events.length - 1 }), { maxLength: 4 }),
      fc.array(fc.nat({ max: events.length - 1 }), { maxLength: 3 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
        minLength: events.length + 7,
        maxLength: events.length + 7,
      }),
    )
    .map(([dups, rest, keys]) => {
      const extra: OrderEvent[] = dups.map((i) => events[i] as OrderEvent);
      for (const i of rest) {
        const e = events[i] as Extract<OrderEvent, { type: "update" }>;
        extra.push({ type: "snapshot", snapshot: e.update.order, at: e.at });
      }
      const all = [...events, ...extra];
      const shuffled = all
        .map((e, i) => ({ e, k: keys[i] ?? 0, i }))
        .sort((a, b) => a.k - b.k || a.i - b.i)
        .map((x) => x.e);
      return { events, shuffled };
    });
});

describe("order state machine (property)", () => {
  it("any interleaving of the same broker updates ends in the same state", () => {
    fc.assert(
      fc.property(interleaving, ({ events, shuffled }) => {
        const inOrder = replay(events);
        const any = replay(shuffled);
        expect(any.status).toBe(inOrder.status);
        expect(any.filledQty.toString()).toBe(inOrder.filledQty.toString());
        expect(any.filledAvgPrice?.toString()).toBe(inOrder.filledAvgPrice?.toString());
        expect(any.filledNotional.toString()).toBe(inOrder.filledNotional.toString());
      }),
      { numRuns: 500, seed: 5 },
    );
  });

  it("the filled quantity never decreases and equals the largest cumulative quantity seen", () => {
    fc.assert(
      fc.property(interleaving, ({ shuffled }) => {
        let s = createOrderState({ clientOrderId: "c-1", at: T0 });
        let max = new Decimal(0);
        for (const e of shuffled) {
          const next = transition(s, e).state;
          expect(next.filledQty.gte(s.filledQty)).toBe(true);
          const snapshot =
            e.type === "update" ? e.update.order : e.type === "snapshot" ? e.snapshot : undefined;
          if (snapshot?.filledQty.gt(max)) max = snapshot.filledQty;
          s = next;
        }
        expect(s.filledQty.toString()).toBe(max.toString());
        if (isFinalOrderStatus(s.status)) expect(s.history.some((h) => h.to === s.status)).toBe(true);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
