import {
  Decimal,
  isBrokerError,
  type OrderUpdate,
  parseAccountSnapshot,
  parseOrderSnapshot,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { codeOf, req } from "./helpers.js";

function setup(extra: Parameters<typeof createSimulatedBroker>[0] = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    prices: { SPY: 100, TECL: 50 },
    positions: { TECL: 10 },
    ...extra,
  });
  const updates: OrderUpdate[] = [];
  broker.subscribeOrderUpdates({ onUpdate: (u) => updates.push(u) });
  return { clock, broker, updates };
}

describe("createSimulatedBroker options", () => {
  it("refuses bad options with ValidationError", () => {
    for (const bad of [
      { cash: -1 },
      { prices: { SPY: 0 } },
      { positions: { SPY: 1 } },
      { unknownKey: 1 },
      { faults: { unavailable: 2 } },
      { latency: { restMs: -5 } },
      { seed: 1.5 },
      { assets: { X: { qtyIncrement: 0 } } },
    ]) {
      expect(() => createSimulatedBroker(bad as never), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: "validation" }),
      );
    }
  });

  it("starts from the given cash and positions", async () => {
    const { broker } = setup();
    const account = parseAccountSnapshot(await broker.getAccount());
    expect(account.cash.toString()).toBe("10000");
    expect(account.buyingPower.toString()).toBe("10000");
    expect(account.equity.toString()).toBe("10500");
    const positions = await broker.getPositions();
    expect(positions.map((p) => [p.symbol, p.qty.toString(), p.qtyAvailable.toString()])).toEqual([
      ["TECL", "10", "10"],
    ]);
    expect(broker.capabilities).toEqual({
      fractional: true,
      notionalOrders: true,
      closePosition: true,
      orderUpdates: true,
      orderHistory: true,
      quotes: true,
      replace: true,
    });
    expect(broker.id).toBe("simulated");
  });
});

describe("order lifecycle", () => {
  it("acks, fills on the clock at the price, and pushes updates in order", async () => {
    const { clock, broker, updates } = setup({ latency: { restMs: 10, fillMs: 200, streamMs: 5 } });
    const order = await clock.run(broker.submitOrder(req("buy", "SPY", { qty: 3 })));
    expect(order.status).toBe("new");
    await clock.advance(1000);
    const done = await clock.run(broker.getOrder(order.id));
    expect(done?.status).toBe("filled");
    expect(done?.filledQty.toString()).toBe("3");
    expect(done?.filledAvgPrice?.toString()).toBe("100");
    expect(updates.map((u) => u.event)).toEqual(["new", "fill"]);
    const fill = updates[1]?.fill;
    expect(fill?.qty.toString()).toBe("3");
    expect(fill?.executionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(broker.truth().cash.toString()).toBe("9700");
    expect(broker.truth().positions.get("SPY")?.toString()).toBe("3");
  });

  it("fills in parts with partialFills, each part its own update and execution id", async () => {
    const { clock, broker, updates } = setup({ partialFills: { probability: 1, parts: 3 } });
    const order = await broker.submitOrder(req("buy", "SPY", { qty: "1.5" }));
    await clock.runUntilIdle();
    const events = updates.filter((u) => u.order.id === order.id);
    expect(events.map((u) => u.event)).toEqual(["new", "partial_fill", "partial_fill", "fill"]);
    const sum = events.reduce((s, u) => s.plus(u.fill?.qty ?? 0), new Decimal(0));
    expect(sum.toString()).toBe("1.5");
    const ids = new Set(events.filter((u) => u.fill).map((u) => u.fill?.executionId));
    expect(ids.size).toBe(3);
    expect(events[1]?.order.status).toBe("partially_filled");
  });

  it("notional orders fill by dollars, qty stays absent and filledQty counts shares", async () => {
    const { clock, broker } = setup();
    const order = await broker.submitOrder(req("buy", "SPY", { notional: 250 }));
    await clock.runUntilIdle();
    const done = await broker.getOrder(order.id);
    expect(done?.qty).toBeUndefined();
    expect(done?.status).toBe("filled");
    expect(done?.filledQty.toString()).toBe("2.5");
  });

  it("limit orders fill only once marketable", async () => {
    const { clock, broker } = setup();
    const order = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 90 }));
    await clock.runUntilIdle();
    expect((await broker.getOrder(order.id))?.status).toBe("new");
    broker.setPrice("SPY", 89);
    await clock.runUntilIdle();
    const done = await broker.getOrder(order.id);
    expect(done?.status).toBe("filled");
    expect(done?.filledAvgPrice?.toString()).toBe("89");
  });

  it("applies slippage against the order", async () => {
    const { clock, broker } = setup({ slippage: { bps: 100 } });
    const buy = await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    const sell = await broker.submitOrder(req("sell", "TECL", { qty: 1 }));
    await clock.runUntilIdle();
    expect((await broker.getOrder(buy.id))?.filledAvgPrice?.toString()).toBe("101");
    expect((await broker.getOrder(sell.id))?.filledAvgPrice?.toString()).toBe("49.5");
  });

  it("cancel goes pending_cancel then canceled; a final order is not_cancelable; unknown is not_found", async () => {
    const { clock, broker, updates } = setup({ latency: { restMs: 20 } });
    const order = await clock.run(broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 })));
    await clock.run(broker.cancelOrder(order.id));
    expect((await clock.run(broker.getOrder(order.id)))?.status).toBe("pending_cancel");
    await clock.runUntilIdle();
    expect((await clock.run(broker.getOrder(order.id)))?.status).toBe("canceled");
    expect(updates.map((u) => u.event)).toEqual(["new", "pending_cancel", "canceled"]);
    expect(await codeOf(clock.run(broker.cancelOrder(order.id)))).toBe("not_cancelable");
    expect(await codeOf(clock.run(broker.cancelOrder("nope")))).toBe("not_found");
  });

  it("records every order, refused ones too, in submit order", async () => {
    const { broker } = setup();
    await broker.submitOrder(req("buy", "SPY", { qty: 1 }));
    await codeOf(broker.submitOrder(req("buy", "SPY", { qty: 1000 })));
    const all = broker.orders();
    expect(all.map((o) => o.status)).toEqual(["new", "rejected"]);
    expect(all[1]?.rejectReason).toBe("insufficient buying power");
    for (const o of all) parseOrderSnapshot(o);
    expect(broker.findOrder(all[0]?.clientOrderId ?? "")?.id).toBe(all[0]?.id);
    expect(await broker.getOrder(all[1]?.id ?? "")).toBeNull();
  });

  it("counts calls per method", async () => {
    const { broker } = setup();
    await broker.getAccount();
    await broker.getAccount();
    await broker.getPositions();
    expect(broker.calls.getAccount).toBe(2);
    expect(broker.calls.getPositions).toBe(1);
    expect(broker.totalCalls()).toBe(3);
    broker.resetCalls();
    expect(broker.totalCalls()).toBe(0);
  });

  it("lookups by id and by client order id; unknown ones are null", async () => {
    const { broker } = setup();
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 50 }));
    expect((await broker.getOrderByClientOrderId(o.clientOrderId))?.id).toBe(o.id);
    expect(await broker.getOrderByClientOrderId("missing")).toBeNull();
    expect(await broker.getOrder("missing")).toBeNull();
    expect((await broker.listOpenOrders()).map((x) => x.id)).toEqual([o.id]);
  });
});

describe("broker rules", () => {
  it("buying power = cash minus open buy holds (market buys with the buffer)", async () => {
    const { broker } = setup({ marketOpen: false });
    await broker.submitOrder(req("buy", "SPY", { qty: 10 }));
    await broker.submitOrder(req("buy", "SPY", { qty: 10, limit: 90 }));
    await broker.submitOrder(req("buy", "TECL", { notional: 100 }));
    const account = await broker.getAccount();
    // 10 × 100 × 1.03 + 10 × 90 + 100
    expect(account.buyingPower.toString()).toBe(String(10_000 - 1030 - 900 - 100));
    expect(account.cash.toString()).toBe("10000");
  });

  it("insufficient buying power is refused with Alpaca's code", async () => {
    const { broker } = setup();
    const error = await broker.submitOrder(req("buy", "SPY", { qty: 98 })).catch((e) => e);
    expect(isBrokerError(error, "insufficient_buying_power")).toBe(true);
    expect(error.brokerCode).toBe("40310000");
    expect(error.message).toContain("insufficient buying power");
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { qty: 97 })))).toBeUndefined();
  });

  it("sells add cash only when they fill", async () => {
    const { clock, broker } = setup({ latency: { fillMs: 100 } });
    await broker.submitOrder(req("sell", "TECL", { qty: 10 }));
    expect((await broker.getAccount()).buyingPower.toString()).toBe("10000");
    await clock.runUntilIdle();
    expect((await broker.getAccount()).buyingPower.toString()).toBe("10500");
  });

  it("qtyAvailable = qty minus open sells; over-selling and flipping short are refused", async () => {
    const { broker } = setup();
    await broker.submitOrder(req("sell", "TECL", { qty: 4, limit: 60 }));
    const p = await broker.getPosition("TECL");
    expect(p?.qty.toString()).toBe("10");
    expect(p?.qtyAvailable.toString()).toBe("6");
    const error = await broker.submitOrder(req("sell", "TECL", { qty: 7, limit: 60 })).catch((e) => e);
    expect(error.code).toBe("insufficient_quantity");
    expect(error.brokerCode).toBe("40310000");
    expect(error.message).toContain("insufficient qty available for order");
    expect(await codeOf(broker.submitOrder(req("sell", "SPY", { qty: 1 })))).toBe("insufficient_quantity");
  });

  it("refuses an order opposite an open order on the symbol as a potential wash trade", async () => {
    const { broker } = setup();
    await broker.submitOrder(req("buy", "TECL", { qty: 1, limit: 40 }));
    const error = await broker.submitOrder(req("sell", "TECL", { qty: 1 })).catch((e) => e);
    expect(error.code).toBe("wash_trade");
    expect(error.message).toContain("potential wash trade detected");
    // limit vs limit only when the buy limit reaches the sell limit
    expect(await codeOf(broker.submitOrder(req("sell", "TECL", { qty: 1, limit: 45 })))).toBeUndefined();
    expect(await codeOf(broker.submitOrder(req("sell", "TECL", { qty: 1, limit: 40 })))).toBe("wash_trade");
  });

  it("fractional rules: fractionable asset, day only, at least $1, at most 9 decimals", async () => {
    const { broker } = setup({
      prices: { SPY: 100, TECL: 50, XYZ: 10 },
      assets: { XYZ: { fractionable: false } },
    });
    expect(await codeOf(broker.submitOrder(req("buy", "XYZ", { qty: "1.5" })))).toBe("not_fractionable");
    expect(await codeOf(broker.submitOrder(req("buy", "XYZ", { notional: 20 })))).toBe("not_fractionable");
    expect(await codeOf(broker.submitOrder(req("buy", "XYZ", { qty: 2 })))).toBeUndefined();
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { qty: "0.5" }, { timeInForce: "gtc" })))).toBe(
      "invalid_order",
    );
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { notional: "0.5" })))).toBe("min_notional");
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { qty: "0.001" })))).toBe("min_notional");
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { qty: "0.0000000001" })))).toBe(
      "invalid_order",
    );
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { notional: 5, limit: 90 })))).toBe(
      "invalid_order",
    );
  });

  it("limit prices: two decimals at $1 and above, four below", async () => {
    const { broker } = setup({ prices: { SPY: 100, TECL: 50, PNY: "0.5" } });
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { qty: 1, limit: "90.123" })))).toBe(
      "invalid_order",
    );
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", { qty: 1, limit: "90.12" })))).toBeUndefined();
    expect(await codeOf(broker.submitOrder(req("buy", "PNY", { qty: 10, limit: "0.4512" })))).toBeUndefined();
    expect(await codeOf(broker.submitOrder(req("buy", "PNY", { qty: 10, limit: "0.45123" })))).toBe(
      "invalid_order",
    );
  });

  it("partialFills: true fills every order in two parts", async () => {
    const { clock, broker, updates } = setup({ partialFills: true });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 4 }));
    await clock.runUntilIdle();
    const fills = updates.filter((u) => u.order.id === o.id && u.fill).map((u) => u.fill?.qty.toString());
    expect(fills).toEqual(["2", "2"]);
  });

  it("client order ids are unique forever, even after the first order ended", async () => {
    const { clock, broker } = setup();
    const first = await broker.submitOrder(req("buy", "SPY", { qty: 1 }, { clientOrderId: "same" }));
    await clock.runUntilIdle();
    expect((await broker.getOrder(first.id))?.status).toBe("filled");
    const error = await broker
      .submitOrder(req("buy", "SPY", { qty: 1 }, { clientOrderId: "same" }))
      .catch((e) => e);
    expect(error.code).toBe("duplicate_client_order_id");
  });

  it("unknown symbol is invalid_order, untradable is rejected, a malformed request is invalid_order", async () => {
    const { broker } = setup({ assets: { HALT: { tradable: false } } });
    expect(await codeOf(broker.submitOrder(req("buy", "NOPE", { qty: 1 })))).toBe("invalid_order");
    expect(await codeOf(broker.submitOrder(req("buy", "HALT", { qty: 1, limit: 5 })))).toBe("rejected");
    expect(await codeOf(broker.submitOrder(req("buy", "SPY", {})))).toBe("invalid_order");
  });

  it("reads omit unknown symbols", async () => {
    const { broker } = setup();
    expect((await broker.getAssets(["SPY", "NOPE"])).map((a) => a.symbol)).toEqual(["SPY"]);
    expect([...(await broker.getLatestPrices(["SPY", "NOPE"])).keys()]).toEqual(["SPY"]);
    expect(await broker.getPosition("NOPE")).toBeNull();
  });

  it("closePosition sells exactly the held quantity; not_found when flat; insufficient_quantity when held by sells", async () => {
    const { clock, broker } = setup({ positions: { TECL: "10.123456789" } });
    const close = await broker.closePosition("TECL");
    expect(close.qty?.toString()).toBe("10.123456789");
    expect(close.side).toBe("sell");
    expect(await codeOf(broker.closePosition("TECL"))).toBe("insufficient_quantity");
    await clock.runUntilIdle();
    expect(await broker.getPosition("TECL")).toBeNull();
    expect(await codeOf(broker.closePosition("TECL"))).toBe("not_found");
  });

  it("closePosition sells dust under the minimum and odd decimals, which an order could not", async () => {
    const { clock, broker } = setup({
      prices: { SPY: 100, TECL: 50, XYZ: 10 },
      positions: { TECL: "0.0012345678912", XYZ: "0.5" },
      assets: { XYZ: { fractionable: false } },
    });
    expect(await codeOf(broker.submitOrder(req("sell", "TECL", { qty: "0.001234567" })))).toBe(
      "min_notional",
    );
    const dust = await broker.closePosition("TECL");
    expect(dust.qty?.toString()).toBe("0.0012345678912");
    const odd = await broker.closePosition("XYZ");
    expect(odd.qty?.toString()).toBe("0.5");
    await clock.runUntilIdle();
    expect(await broker.getPositions()).toEqual([]);
  });

  it("setPrice and outsideTrade move the state; truth() is the real state", async () => {
    const { broker } = setup();
    broker.setPrice("NEW", 5);
    expect((await broker.getLatestPrices(["NEW"])).get("NEW")?.toString()).toBe("5");
    broker.outsideTrade("TECL", -4);
    expect(broker.truth().positions.get("TECL")?.toString()).toBe("6");
    expect(broker.truth().cash.toString()).toBe("10200");
    expect(() => broker.outsideTrade("TECL", -100)).toThrow(expect.objectContaining({ code: "validation" }));
    expect(() => broker.setPrice("SPY", -1)).toThrow(expect.objectContaining({ code: "validation" }));
  });
});
