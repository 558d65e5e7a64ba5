import {
  BROKER_ORDER_STATUSES,
  type BrokerOrderStatus,
  FINAL_BROKER_STATUSES,
  isFinalBrokerStatus,
  ORDER_SIDES,
  ORDER_TYPES,
  ORDER_UPDATE_EVENTS,
  type OrderSide,
  OrderSnapshotSchema,
  type OrderType,
  type OrderUpdateEvent,
  OrderUpdateSchema,
  STREAM_STATUSES,
  type StreamStatus,
  TIMES_IN_FORCE,
  type TimeInForce,
} from "ordersafe";
import { describe, expect, expectTypeOf, it } from "vitest";

// The contract's vocabularies as DESIGN.md spells them: the arrays are the one source, and
// a change to one of them is a change to the contract.
type DesignStatus =
  | "pending_new"
  | "accepted"
  | "new"
  | "partially_filled"
  | "filled"
  | "done_for_day"
  | "canceled"
  | "expired"
  | "replaced"
  | "pending_cancel"
  | "pending_replace"
  | "rejected"
  | "suspended"
  | "stopped"
  | "calculated"
  | "held"
  | "accepted_for_bidding";

describe("contract vocabularies", () => {
  it("derive their types from the arrays", () => {
    expectTypeOf<OrderSide>().toEqualTypeOf<"buy" | "sell">();
    expectTypeOf<OrderType>().toEqualTypeOf<"market" | "limit">();
    expectTypeOf<TimeInForce>().toEqualTypeOf<"day" | "gtc" | "ioc" | "fok" | "opg" | "cls">();
    expectTypeOf<BrokerOrderStatus>().toEqualTypeOf<DesignStatus>();
    expectTypeOf<StreamStatus>().toEqualTypeOf<
      "connecting" | "connected" | "disconnected" | "reconnecting"
    >();
    expectTypeOf<OrderUpdateEvent>().toEqualTypeOf<(typeof ORDER_UPDATE_EVENTS)[number]>();
  });

  it("list each value once", () => {
    for (const list of [
      ORDER_SIDES,
      ORDER_TYPES,
      TIMES_IN_FORCE,
      BROKER_ORDER_STATUSES,
      ORDER_UPDATE_EVENTS,
      STREAM_STATUSES,
    ]) {
      expect(new Set<string>(list).size).toBe(list.length);
    }
  });

  it("the final statuses are the contract's seven, all of them broker statuses", () => {
    expect([...FINAL_BROKER_STATUSES].sort()).toEqual(
      ["calculated", "canceled", "done_for_day", "expired", "filled", "rejected", "replaced"].sort(),
    );
    expect(BROKER_ORDER_STATUSES.filter(isFinalBrokerStatus)).toHaveLength(FINAL_BROKER_STATUSES.size);
  });

  it("the schemas accept exactly the vocabulary", () => {
    const order = {
      id: "o1",
      clientOrderId: "c1",
      symbol: "X",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: 1,
      filledQty: 0,
      status: "new",
      updatedAt: new Date(0),
    };
    const accepted = (patch: object) => OrderSnapshotSchema.safeParse({ ...order, ...patch }).success;
    for (const side of ORDER_SIDES) expect(accepted({ side })).toBe(true);
    for (const type of ORDER_TYPES) expect(accepted({ type, limitPrice: 1 })).toBe(true);
    for (const timeInForce of TIMES_IN_FORCE) expect(accepted({ timeInForce })).toBe(true);
    for (const status of BROKER_ORDER_STATUSES) expect(accepted({ status })).toBe(true);
    for (const bad of [
      { side: "short" },
      { type: "stop" },
      { timeInForce: "gtd" },
      { status: "teleported" },
    ]) {
      expect(accepted(bad)).toBe(false);
    }
    for (const event of ORDER_UPDATE_EVENTS) {
      expect(OrderUpdateSchema.safeParse({ event, order, at: new Date(0) }).success).toBe(true);
    }
    expect(OrderUpdateSchema.safeParse({ event: "teleported", order, at: new Date(0) }).success).toBe(false);
  });
});
