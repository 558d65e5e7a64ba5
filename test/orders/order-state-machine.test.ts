import {
  BROKER_ORDER_STATUSES,
  type BrokerOrderStatus,
  createOrderState,
  Decimal,
  FINAL_BROKER_STATUSES,
  FINAL_ORDER_STATUSES,
  type FinalOrderStatus,
  isAllowedTransition,
  isFinalOrderStatus,
  ORDER_TRANSITIONS,
  type OrderEffect,
  type OrderEvent,
  type OrderSnapshot,
  type OrderState,
  type OrderUpdate,
  transition,
  WORKING_ORDER_STATUSES,
  type WorkingOrderStatus,
} from "ordersafe";
import { describe, expect, expectTypeOf, it } from "vitest";

const T0 = Date.UTC(2026, 0, 5, 14, 30);

function snap(over: Partial<OrderSnapshot> & { at?: number } = {}): OrderSnapshot {
  const { at, ...rest } = over;
  return {
    id: "o-1",
    clientOrderId: "c-1",
    symbol: "TECL",
    side: "buy",
    type: "market",
    timeInForce: "day",
    qty: new Decimal(10),
    filledQty: new Decimal(0),
    status: "new",
    updatedAt: new Date(at ?? T0),
    ...rest,
  };
}

function upd(
  event: OrderUpdate["event"],
  over: Partial<OrderSnapshot> & { at?: number } = {},
  fill?: { qty: number; price: number; executionId?: string },
): OrderEvent {
  const order = snap(over);
  const update: OrderUpdate = { event, order, at: order.updatedAt };
  if (fill) {
    update.fill = { qty: new Decimal(fill.qty), price: new Decimal(fill.price) };
    if (fill.executionId) update.fill.executionId = fill.executionId;
  }
  return { type: "update", update, at: order.updatedAt.getTime() };
}

function run(events: OrderEvent[], start?: OrderState): { state: OrderState; effects: OrderEffect[] } {
  let state = start ?? createOrderState({ clientOrderId: "c-1", at: T0 });
  const effects: OrderEffect[] = [];
  for (const e of events) {
    const r = transition(state, e);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

const partial = (cum: number, t: number, id: string, price = 50) =>
  upd(
    "partial_fill",
    {
      status: "partially_filled",
      filledQty: new Decimal(cum),
      filledAvgPrice: new Decimal(price),
      at: T0 + t,
    },
    { qty: 1, price, executionId: id },
  );

describe("transition table", () => {
  it("has an entry for every state and keeps filled, rejected, replaced and submit_failed absorbing", () => {
    for (const s of ["filled", "rejected", "replaced", "submit_failed"] as const) {
      expect(ORDER_TRANSITIONS[s]).toEqual([]);
    }
    expect(isAllowedTransition("canceled", "filled")).toBe(true);
    expect(isAllowedTransition("filled", "canceled")).toBe(false);
    expect(isAllowedTransition("new", "submit_failed")).toBe(false);
    expect(isAllowedTransition("unresolved", "filled")).toBe(true);
    expect(FINAL_ORDER_STATUSES.every(isFinalOrderStatus)).toBe(true);
    expect(isFinalOrderStatus("pending_cancel")).toBe(false);
    expect(FINAL_ORDER_STATUSES).not.toContain("timeout");
  });
});

describe("status vocabularies", () => {
  const LOCAL_FINALS: readonly string[] = ["submit_failed", "unresolved"];
  const brokerFinal = new Set<string>(FINAL_BROKER_STATUSES);

  it("the working statuses are exactly the broker's non-final statuses", () => {
    const nonFinal = BROKER_ORDER_STATUSES.filter((s) => !brokerFinal.has(s));
    expect([...WORKING_ORDER_STATUSES].sort()).toEqual([...nonFinal].sort());
    expectTypeOf<WorkingOrderStatus>().toEqualTypeOf<
      Exclude<
        BrokerOrderStatus,
        "filled" | "canceled" | "expired" | "replaced" | "rejected" | "done_for_day" | "calculated"
      >
    >();
  });

  it("the final states are the broker's final statuses but calculated, plus submit_failed and unresolved", () => {
    const fromBroker = FINAL_ORDER_STATUSES.filter((s) => !LOCAL_FINALS.includes(s));
    expect([...fromBroker].sort()).toEqual([...brokerFinal].filter((s) => s !== "calculated").sort());
    expect(FINAL_ORDER_STATUSES.filter((s) => LOCAL_FINALS.includes(s))).toEqual(LOCAL_FINALS);
    expect(new Set(FINAL_ORDER_STATUSES).size).toBe(FINAL_ORDER_STATUSES.length);
    expectTypeOf<FinalOrderStatus>().toEqualTypeOf<
      Exclude<BrokerOrderStatus, WorkingOrderStatus | "calculated"> | "submit_failed" | "unresolved"
    >();
  });

  it("every state has a row in the transition table, and every target is a state", () => {
    const states = new Set<string>([
      "pending_submit",
      "submit_unconfirmed",
      ...WORKING_ORDER_STATUSES,
      ...FINAL_ORDER_STATUSES,
    ]);
    expect(new Set(Object.keys(ORDER_TRANSITIONS))).toEqual(states);
    for (const targets of Object.values(ORDER_TRANSITIONS)) {
      for (const t of targets) expect(states.has(t)).toBe(true);
    }
  });
});

describe("transition", () => {
  it("follows submit, ack, partial fill, fill to filled with the average price", () => {
    const { state, effects } = run([
      { type: "submitted", snapshot: snap({ status: "accepted" }), at: T0 },
      upd("new", { at: T0 + 1 }),
      partial(4, 2, "x1"),
      upd(
        "fill",
        { status: "filled", filledQty: new Decimal(10), filledAvgPrice: new Decimal("50.5"), at: T0 + 3 },
        { qty: 6, price: 51, executionId: "x2" },
      ),
    ]);
    expect(state.status).toBe("filled");
    expect(state.orderId).toBe("o-1");
    expect(state.filledQty.toString()).toBe("10");
    expect(state.filledAvgPrice?.toString()).toBe("50.5");
    expect(state.filledNotional.toString()).toBe("505");
    expect(state.history.map((h) => h.to)).toEqual(["accepted", "new", "partially_filled", "filled"]);
    const fills = effects.filter((e) => e.type === "fill");
    expect(fills.map((f) => (f.type === "fill" ? f.qty.toString() : ""))).toEqual(["4", "6"]);
    expect(effects.filter((e) => e.type === "final")).toHaveLength(1);
  });

  it("ignores a duplicate execution id and a fill that does not raise the cumulative quantity", () => {
    const first = run([upd("new"), partial(4, 1, "x1")]);
    const dupId = transition(first.state, partial(4, 1, "x1"));
    expect(dupId.state).toBe(first.state);
    expect(dupId.effects).toEqual([{ type: "ignored", reason: "duplicate_execution", event: "update" }]);
    const sameCum = transition(first.state, partial(4, 1, "x1-bis"));
    expect(sameCum.effects.some((e) => e.type === "fill")).toBe(false);
    expect(sameCum.state.filledQty.toString()).toBe("4");
  });

  it("ignores a stale working update that arrives after a newer one", () => {
    const { state, effects } = run([partial(4, 5, "x1"), upd("new", { at: T0 + 1 })]);
    expect(state.status).toBe("partially_filled");
    expect(effects.at(-1)).toEqual({ type: "ignored", reason: "stale", event: "update" });
  });

  it("keeps a partial fill through a cancel", () => {
    const { state } = run([
      upd("new"),
      partial(4, 1, "x1"),
      upd("pending_cancel", { status: "pending_cancel", filledQty: new Decimal(4), at: T0 + 2 }),
      upd("canceled", {
        status: "canceled",
        filledQty: new Decimal(4),
        filledAvgPrice: new Decimal(50),
        at: T0 + 3,
      }),
    ]);
    expect(state.status).toBe("canceled");
    expect(state.filledQty.toString()).toBe("4");
    expect(state.filledNotional.toString()).toBe("200");
  });

  it("applies a fill that arrives after canceled and stays canceled with the larger quantity", () => {
    const canceled = run([upd("new"), upd("canceled", { status: "canceled", at: T0 + 2 })]);
    const late = transition(canceled.state, partial(3, 3, "x9", 40));
    expect(late.state.status).toBe("canceled");
    expect(late.state.filledQty.toString()).toBe("3");
    expect(late.state.snapshot?.status).toBe("canceled");
    expect(late.effects.map((e) => e.type)).toEqual(["fill", "final_amended"]);
  });

  it("moves canceled to filled when the broker says the order filled", () => {
    const canceled = run([upd("canceled", { status: "canceled", at: T0 + 2 })]);
    const r = transition(
      canceled.state,
      upd("fill", { status: "filled", filledQty: new Decimal(10), at: T0 + 3 }, { qty: 10, price: 5 }),
    );
    expect(r.state.status).toBe("filled");
    expect(r.state.filledAvgPrice?.toString()).toBe("5");
    expect(r.effects.some((e) => e.type === "final")).toBe(true);
  });

  it("reports an illegal transition as an effect and keeps the state", () => {
    const filled = run([upd("fill", { status: "filled", filledQty: new Decimal(10), at: T0 + 1 })]);
    const r = transition(
      filled.state,
      upd("canceled", { status: "canceled", filledQty: new Decimal(10), at: T0 + 9 }),
    );
    expect(r.state.status).toBe("filled");
    expect(r.effects).toEqual([
      { type: "illegal_transition", from: "filled", to: "canceled", event: "update" },
    ]);
    const r2 = transition(filled.state, { type: "submit_failed", at: T0, reason: "x" });
    expect(r2.effects[0]?.type).toBe("illegal_transition");
  });

  it("settles an ambiguous submit: not found counts, then submit_failed; or the snapshot", () => {
    const amb = run([{ type: "submit_ambiguous", at: T0, reason: "timeout" }]);
    expect(amb.state.status).toBe("submit_unconfirmed");
    const miss = run(
      [
        { type: "lookup_not_found", at: T0 + 1 },
        { type: "lookup_not_found", at: T0 + 2 },
      ],
      amb.state,
    );
    expect(miss.state.notFoundCount).toBe(2);
    const failed = transition(miss.state, { type: "submit_failed", at: T0 + 3, reason: "not found" });
    expect(failed.state.status).toBe("submit_failed");
    expect(failed.effects.map((e) => e.type)).toEqual(["status_changed", "final"]);
    const found = transition(miss.state, {
      type: "snapshot",
      snapshot: snap({ status: "filled", filledQty: new Decimal(10) }),
      at: T0 + 3,
    });
    expect(found.state.status).toBe("filled");
    expect(found.state.notFoundCount).toBe(0);
  });

  it("marks unresolved with the last snapshot, and a later broker report resolves it", () => {
    const pc = run([upd("pending_cancel", { status: "pending_cancel", at: T0 + 1 })]);
    const un = transition(pc.state, { type: "unresolved", at: T0 + 5, reason: "no answer" });
    expect(un.state.status).toBe("unresolved");
    expect(un.effects.find((e) => e.type === "final")).toMatchObject({
      final: { status: "unresolved", reason: "no answer", snapshot: { status: "pending_cancel" } },
    });
    const later = transition(
      un.state,
      upd("fill", { status: "filled", filledQty: new Decimal(10), at: T0 + 9 }),
    );
    expect(later.state.status).toBe("filled");
  });

  it("ignores an update of another order and keeps rejected reasons", () => {
    const other = transition(
      createOrderState({ clientOrderId: "c-1", at: T0 }),
      upd("new", { clientOrderId: "c-2" }),
    );
    expect(other.effects).toEqual([{ type: "ignored", reason: "other_order", event: "update" }]);
    const rej = run([upd("rejected", { status: "rejected", rejectReason: "insufficient buying power" })]);
    expect(rej.state.status).toBe("rejected");
    expect(rej.state.reason).toBe("insufficient buying power");
  });

  it("maps calculated to filled or done_for_day", () => {
    expect(run([upd("calculated", { status: "calculated", filledQty: new Decimal(10) })]).state.status).toBe(
      "filled",
    );
    expect(run([upd("calculated", { status: "calculated", filledQty: new Decimal(2) })]).state.status).toBe(
      "done_for_day",
    );
  });

  it("rejects a malformed event with a validation error", () => {
    const s = createOrderState({ clientOrderId: "c-1", at: T0 });
    expect(() => transition(s, { type: "bogus", at: 1 } as unknown as OrderEvent)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => createOrderState({ clientOrderId: "", at: T0 })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });

  it("never mutates the input state", () => {
    const s = run([upd("new")]).state;
    const copy = { ...s };
    transition(s, partial(4, 1, "x1"));
    expect(s).toEqual(copy);
    expect(Object.isFrozen(s)).toBe(true);
  });
});
