import { isBrokerError, type OrderUpdate, type StreamStatus } from "ordersafe";
import { createSimulatedBroker, type SimulatedBrokerOptions, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { codeOf, req } from "./helpers.js";

function setup(extra: SimulatedBrokerOptions = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    prices: { SPY: 100, TECL: 50 },
    positions: { TECL: 10 },
    ...extra,
  });
  const updates: OrderUpdate[] = [];
  const statuses: StreamStatus[] = [];
  broker.subscribeOrderUpdates({ onUpdate: (u) => updates.push(u), onStatus: (s) => statuses.push(s) });
  const events = () => updates.map((u) => u.event);
  return { clock, broker, updates, statuses, events };
}

describe("REST faults", () => {
  it("unavailable: the call throws and has no effect", async () => {
    const { broker } = setup();
    broker.script({ kind: "unavailable", method: "submitOrder" });
    const r = req("buy", "SPY", { qty: 1 });
    expect(await codeOf(broker.submitOrder(r))).toBe("unavailable");
    expect(await broker.getOrderByClientOrderId(r.clientOrderId)).toBeNull();
    expect(broker.orders()).toEqual([]);
    expect(broker.truth().cash.toString()).toBe("10000");
    // the fault was used up: the same request goes through now
    expect((await broker.submitOrder(r)).clientOrderId).toBe(r.clientOrderId);
  });

  it("unavailable without a method hits whatever call comes next", async () => {
    const { broker } = setup();
    broker.script({ kind: "unavailable", times: 2 });
    expect(await codeOf(broker.getAccount())).toBe("unavailable");
    expect(await codeOf(broker.listOpenOrders())).toBe("unavailable");
    expect(await codeOf(broker.getAccount())).toBeUndefined();
  });

  it("ambiguous: the effect happens, the reply is lost", async () => {
    const { clock, broker } = setup();
    broker.script({ kind: "ambiguous", method: "submitOrder" });
    const r = req("buy", "SPY", { qty: 1 });
    const error = await broker.submitOrder(r).catch((e) => e);
    expect(isBrokerError(error, "ambiguous")).toBe(true);
    const found = await broker.getOrderByClientOrderId(r.clientOrderId);
    expect(found?.clientOrderId).toBe(r.clientOrderId);
    await clock.runUntilIdle();
    expect(broker.truth().positions.get("SPY")?.toString()).toBe("1");
  });

  it("ambiguous cancel: the cancel is accepted even though the call failed", async () => {
    const { clock, broker } = setup();
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }));
    broker.script({ kind: "ambiguous", method: "cancelOrder" });
    expect(await codeOf(broker.cancelOrder(o.id))).toBe("ambiguous");
    await clock.runUntilIdle();
    expect((await broker.getOrder(o.id))?.status).toBe("canceled");
  });

  it("rate_limited: throws with retryAfterMs and no effect", async () => {
    const { broker } = setup();
    broker.script({ kind: "rate_limited", method: "submitOrder", retryAfterMs: 2500 });
    const error = await broker.submitOrder(req("buy", "SPY", { qty: 1 })).catch((e) => e);
    expect(error.code).toBe("rate_limited");
    expect(error.retryAfterMs).toBe(2500);
    expect(error.details.httpStatus).toBe(429);
    expect(broker.orders()).toEqual([]);
  });

  it("latency_spike: the call takes ms longer on the clock", async () => {
    const { clock, broker } = setup({ latency: { restMs: 10 } });
    broker.script({ kind: "latency_spike", method: "getAccount", ms: 500 });
    const t0 = clock.now();
    await clock.run(broker.getAccount());
    expect(clock.now() - t0).toBe(510);
    const t1 = clock.now();
    await clock.run(broker.getAccount());
    expect(clock.now() - t1).toBe(10);
  });

  it("not_found_lag: a new order is invisible to lookups for ms", async () => {
    const { clock, broker } = setup();
    broker.script({ kind: "not_found_lag", ms: 300 });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }));
    expect(await broker.getOrder(o.id)).toBeNull();
    expect(await broker.getOrderByClientOrderId(o.clientOrderId)).toBeNull();
    expect(await broker.listOpenOrders()).toEqual([]);
    await clock.advance(300);
    expect((await broker.getOrder(o.id))?.id).toBe(o.id);
    expect((await broker.listOpenOrders()).length).toBe(1);
  });

  it("seeded probabilities: every call faults at probability 1, none at 0", async () => {
    const always = setup({ faults: { unavailable: 1 } });
    expect(await codeOf(always.broker.getClock())).toBe("unavailable");
    expect(await codeOf(always.broker.getAssets(["SPY"]))).toBe("unavailable");
    const some = setup({ seed: 3, faults: { rate_limited: { probability: 0.5, method: "getAccount" } } });
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 40; i++) codes.push(await codeOf(some.broker.getAccount()));
    const limited = codes.filter((c) => c === "rate_limited").length;
    expect(limited).toBeGreaterThan(5);
    expect(limited).toBeLessThan(35);
    expect(await codeOf(some.broker.getPositions())).toBeUndefined();
  });
});

describe("stream faults", () => {
  it("stream_drop: the next update is not delivered", async () => {
    const { clock, broker, events } = setup();
    await clock.advance(0);
    broker.script({ kind: "stream_drop" });
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.runUntilIdle();
    expect(events()).toEqual(["fill"]);
  });

  it("stream_duplicate: the next update is delivered twice", async () => {
    const { clock, broker, events } = setup();
    await clock.advance(0);
    broker.script({ kind: "stream_duplicate" });
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.runUntilIdle();
    expect(events()).toEqual(["new", "new", "fill"]);
  });

  it("stream_reorder: the next two updates are swapped", async () => {
    const { clock, broker, events } = setup();
    await clock.advance(0);
    broker.script({ kind: "stream_reorder" });
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.runUntilIdle();
    expect(events()).toEqual(["fill", "new"]);
  });

  it("stream_reorder with no update following: the held one comes a second later", async () => {
    const { clock, broker, events } = setup();
    await clock.advance(0);
    broker.script({ kind: "stream_reorder" });
    await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }));
    await clock.advance(999);
    expect(events()).toEqual([]);
    await clock.advance(1);
    expect(events()).toEqual(["new"]);
  });

  it("stream_delay: the next update arrives ms late", async () => {
    const { clock, broker, updates, events } = setup({ latency: { fillMs: 50 } });
    await clock.advance(0);
    broker.script({ kind: "stream_delay", ms: 100 });
    const t0 = clock.now();
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.advance(60);
    expect(events()).toEqual(["fill"]);
    await clock.advance(40);
    expect(events()).toEqual(["fill", "new"]);
    expect(clock.now() - t0).toBe(100);
    expect(updates[1]?.order.status).toBe("new");
  });

  it("stream_disconnect: status callbacks, updates while down are lost, none replayed", async () => {
    const { clock, broker, events, statuses } = setup({ latency: { fillMs: 100 } });
    await clock.advance(0);
    broker.script({ kind: "stream_disconnect", downMs: 500 });
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.advance(200);
    expect(statuses).toEqual(["connecting", "connected", "disconnected", "reconnecting"]);
    await clock.advance(400);
    expect(statuses.at(-1)).toBe("connected");
    expect(events()).toEqual([]);
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.runUntilIdle();
    expect(events()).toEqual(["new", "fill"]);
  });

  it("disconnectStream drops the connection at once", async () => {
    const { clock, broker, statuses } = setup();
    await clock.advance(0);
    broker.disconnectStream(100);
    expect(statuses.slice(-2)).toEqual(["disconnected", "reconnecting"]);
    await clock.advance(100);
    expect(statuses.at(-1)).toBe("connected");
  });

  it("stream_silence: connected but nothing delivered for ms", async () => {
    const { clock, broker, events, statuses } = setup({ latency: { fillMs: 100 } });
    await clock.advance(0);
    broker.script({ kind: "stream_silence", ms: 1000 });
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.advance(500);
    expect(events()).toEqual([]);
    expect(statuses.at(-1)).toBe("connected");
    await clock.advance(600);
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.runUntilIdle();
    expect(events()).toEqual(["new", "fill"]);
  });

  it("closing a subscription stops delivery", async () => {
    const { clock, broker } = setup();
    const got: string[] = [];
    const sub = broker.subscribeOrderUpdates({ onUpdate: (u) => got.push(u.event) });
    await clock.advance(0);
    sub.close();
    sub.close();
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await clock.runUntilIdle();
    expect(got).toEqual([]);
  });
});

describe("state and order faults", () => {
  it("stale_reads: positions and account lag fills by ms", async () => {
    const { clock, broker } = setup();
    await clock.advance(1000);
    await broker.submitOrder(req("sell", "TECL", { qty: 10 }));
    await clock.runUntilIdle();
    broker.script({ kind: "stale_reads", ms: 500, times: 3 });
    const positions = await broker.getPositions();
    expect(positions.map((p) => p.symbol)).toEqual(["TECL"]);
    expect((await broker.getPosition("TECL"))?.qty.toString()).toBe("10");
    expect((await broker.getAccount()).cash.toString()).toBe("10000");
    // fresh again, and truth() was never stale
    expect(await broker.getPosition("TECL")).toBeNull();
    expect(broker.truth().positions.has("TECL")).toBe(false);
    expect(broker.truth().cash.toString()).toBe("10500");
  });

  it("fill_after_cancel: the order is canceled and a fill still arrives after it", async () => {
    const { clock, broker, events } = setup({ latency: { fillMs: 100 } });
    await clock.advance(0);
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 2, limit: 50 }));
    broker.script({ kind: "fill_after_cancel" });
    await broker.cancelOrder(o.id);
    await clock.runUntilIdle();
    expect(events()).toEqual(["new", "pending_cancel", "canceled", "fill"]);
    expect((await broker.getOrder(o.id))?.filledQty.toString()).toBe("2");
    expect(broker.truth().positions.get("SPY")?.toString()).toBe("2");
  });

  it("stuck_pending_cancel: the order stays pending_cancel until it fills", async () => {
    const { clock, broker } = setup();
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }));
    broker.script({ kind: "stuck_pending_cancel" });
    await broker.cancelOrder(o.id);
    await clock.advance(60_000);
    expect((await broker.getOrder(o.id))?.status).toBe("pending_cancel");
    expect((await broker.listOpenOrders()).map((x) => x.id)).toEqual([o.id]);
    broker.setPrice("SPY", 49);
    await clock.runUntilIdle();
    expect((await broker.getOrder(o.id))?.status).toBe("filled");
  });

  it("reject_after_accept: the order is acknowledged, then rejected with the reason", async () => {
    const { clock, broker, updates } = setup();
    await clock.advance(0);
    broker.script({ kind: "reject_after_accept", reason: "venue closed" });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 10 }));
    expect((await broker.getAccount()).buyingPower.toString()).toBe("8970");
    await clock.runUntilIdle();
    expect(updates.map((u) => u.event)).toEqual(["new", "rejected"]);
    const rejected = await broker.getOrder(o.id);
    expect(rejected?.status).toBe("rejected");
    expect(rejected?.rejectReason).toBe("venue closed");
    expect((await broker.getAccount()).buyingPower.toString()).toBe("10000");
  });

  it("outsideTrade changes a position with no order of ours", async () => {
    const { broker, updates } = setup();
    broker.outsideTrade("SPY", 3, 90);
    expect((await broker.getPosition("SPY"))?.qty.toString()).toBe("3");
    expect(broker.truth().cash.toString()).toBe("9730");
    expect(broker.orders()).toEqual([]);
    expect(updates).toEqual([]);
    expect(broker.eventLog().some((e) => e.type === "outside_trade")).toBe(true);
  });

  it("an outside trade under an open sell: what is left fills, the rest is canceled", async () => {
    const { clock, broker, events } = setup({ latency: { fillMs: 100 } });
    await clock.advance(0);
    const o = await broker.submitOrder(req("sell", "TECL", { qty: 10 }));
    broker.outsideTrade("TECL", -6);
    await clock.runUntilIdle();
    const done = await broker.getOrder(o.id);
    expect(done?.status).toBe("canceled");
    expect(done?.filledQty.toString()).toBe("4");
    expect(events()).toEqual(["new", "partial_fill", "canceled"]);
    expect(broker.truth().positions.has("TECL")).toBe(false);
  });

  it("refusals carry the broker code, the HTTP status and the facts a wire server needs", async () => {
    const { broker } = setup();
    const error = await broker.submitOrder(req("sell", "TECL", { qty: 11 })).catch((e) => e);
    expect(error.details).toMatchObject({
      httpStatus: 403,
      available: "10",
      existing_qty: "10",
      held_for_orders: "0",
      requested: "11",
      symbol: "TECL",
    });
    const dup = await broker.cancelOrder("missing").catch((e) => e);
    expect(dup.details.httpStatus).toBe(404);
    expect(dup.brokerCode).toBe("40410000");
  });

  it("script() validates its fault", () => {
    const { broker } = setup();
    expect(() => broker.script({ kind: "nope" } as never)).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => broker.script({ kind: "stream_delay", ms: -1 })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });
});

describe("market hours", () => {
  it("market closed queues orders as accepted; the open works them", async () => {
    const { clock, broker, events } = setup({ marketOpen: false });
    await clock.advance(0);
    expect((await broker.getClock()).isOpen).toBe(false);
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    expect(o.status).toBe("accepted");
    await clock.runUntilIdle();
    expect((await broker.getOrder(o.id))?.status).toBe("accepted");
    expect((await broker.getAccount()).buyingPower.toString()).toBe("9897");
    broker.setMarketOpen(true);
    await clock.runUntilIdle();
    expect((await broker.getOrder(o.id))?.status).toBe("filled");
    expect(events()).toEqual(["new", "fill"]);
    const mc = await broker.getClock();
    expect(mc.isOpen).toBe(true);
    expect(mc.nextClose.getTime()).toBeGreaterThan(clock.now());
    expect(mc.nextOpen.getTime()).toBeGreaterThan(mc.nextClose.getTime());
  });

  it("the close expires working day orders and keeps gtc ones", async () => {
    const { clock, broker } = setup();
    const day = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }));
    const gtc = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }, { timeInForce: "gtc" }));
    broker.setMarketOpen(false);
    await clock.runUntilIdle();
    expect((await broker.getOrder(day.id))?.status).toBe("expired");
    expect((await broker.getOrder(gtc.id))?.status).toBe("new");
  });

  it("an extended-hours limit day order works while the market is closed", async () => {
    const { clock, broker } = setup({ marketOpen: false });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 101 }, { extendedHours: true }));
    expect(o.status).toBe("new");
    await clock.runUntilIdle();
    expect((await broker.getOrder(o.id))?.status).toBe("filled");
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { qty: 1 }, { extendedHours: true })))).toBe(
      "invalid_order",
    );
  });

  it("ioc limit orders that cannot fill are canceled", async () => {
    const { clock, broker } = setup();
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }, { timeInForce: "ioc" }));
    await clock.runUntilIdle();
    expect((await broker.getOrder(o.id))?.status).toBe("canceled");
  });
});

describe("abort semantics", () => {
  it("aborted before the call: throws the reason and does nothing", async () => {
    const { broker } = setup();
    const reason = new Error("stop");
    const signal = AbortSignal.abort(reason);
    await expect(broker.submitOrder(req("buy", "SPY", { qty: 1 }), { signal })).rejects.toBe(reason);
    await expect(broker.getAccount({ signal })).rejects.toBe(reason);
    expect(broker.orders()).toEqual([]);
  });

  it("aborted while a write is in flight: ambiguous, and the order exists", async () => {
    const { clock, broker } = setup({ latency: { restMs: 100 } });
    const controller = new AbortController();
    const r = req("buy", "SPY", { qty: 1, limit: 50 });
    const p = broker.submitOrder(r, { signal: controller.signal });
    await clock.advance(50);
    controller.abort(new Error("user"));
    expect(await codeOf(p)).toBe("ambiguous");
    await clock.advance(100);
    expect((await clock.run(broker.getOrderByClientOrderId(r.clientOrderId)))?.clientOrderId).toBe(
      r.clientOrderId,
    );
  });

  it("aborted while a write that will fail is in flight: still ambiguous to the caller", async () => {
    const { clock, broker } = setup({ latency: { restMs: 100 } });
    broker.script({ kind: "unavailable", method: "submitOrder" });
    const controller = new AbortController();
    const p = broker.submitOrder(req("buy", "SPY", { qty: 1 }), { signal: controller.signal });
    await clock.advance(10);
    controller.abort();
    expect(await codeOf(p)).toBe("ambiguous");
    expect(broker.orders()).toEqual([]);
  });

  it("aborted while a read is in flight: the abort reason", async () => {
    const { clock, broker } = setup({ latency: { restMs: 100 } });
    const controller = new AbortController();
    const reason = new Error("read stop");
    const p = broker.getPositions({ signal: controller.signal });
    await clock.advance(10);
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
  });

  it("aborted right after a zero-latency write: ambiguous", async () => {
    const { broker } = setup();
    const controller = new AbortController();
    const p = broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }), { signal: controller.signal });
    controller.abort();
    expect(await codeOf(p)).toBe("ambiguous");
    expect(broker.orders().length).toBe(1);
  });
});
