import { checkBroker, isValidationError, type OrderSnapshot } from "ordersafe";
import { createSimulatedBroker, type SimulatedBrokerOptions, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { codeOf, req } from "./helpers.js";

// The simulated broker's order history (listOrders): live orders only, newest first by
// submission time, status open by default, after / until exclusive, symbols, limit.

function setup(extra: SimulatedBrokerOptions = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    prices: { SPY: 100, TECL: 50, QQQ: 40 },
    positions: { TECL: 10 },
    ...extra,
  });
  return { clock, broker };
}

const ids = (list: readonly OrderSnapshot[]) => list.map((o) => o.clientOrderId);

/** Five orders 10 ms apart: a filled buy, an open far limit, a refused buy, a filled sell, an open limit. */
async function history() {
  const s = setup();
  const { clock, broker } = s;
  const placed: Record<string, OrderSnapshot> = {};
  const t0 = clock.now();
  placed.filledBuy = await broker.submitOrder(
    req("buy", "SPY", { qty: 2 }, { clientOrderId: "h-filled-buy" }),
  );
  await clock.advance(10);
  placed.openSpy = await broker.submitOrder(
    req("buy", "SPY", { qty: 1, limit: 50 }, { clientOrderId: "h-open-spy" }),
  );
  await clock.advance(10);
  expect(
    await codeOf(broker.submitOrder(req("buy", "QQQ", { qty: 10_000 }, { clientOrderId: "h-refused" }))),
  ).toBe("insufficient_buying_power");
  await clock.advance(10);
  placed.filledSell = await broker.submitOrder(
    req("sell", "TECL", { qty: 4 }, { clientOrderId: "h-filled-sell" }),
  );
  await clock.advance(10);
  placed.openTecl = await broker.submitOrder(
    req("sell", "TECL", { qty: 1, limit: 500 }, { clientOrderId: "h-open-tecl" }),
  );
  await clock.runUntilIdle();
  return { ...s, placed, t0 };
}

describe("simulated broker: listOrders", () => {
  it("declares orderHistory, and checkBroker claims it", () => {
    const { broker } = setup();
    expect(broker.capabilities.orderHistory).toBe(true);
    expect(checkBroker(broker).capabilities.orderHistory).toBe(true);
  });

  it("lists open orders by default, closed or all on request, newest first; never a refused order", async () => {
    const { broker } = await history();
    expect(ids(await broker.listOrders({}))).toEqual(["h-open-tecl", "h-open-spy"]);
    expect(ids(await broker.listOrders({ status: "open" }))).toEqual(["h-open-tecl", "h-open-spy"]);
    expect(ids(await broker.listOrders({ status: "closed" }))).toEqual(["h-filled-sell", "h-filled-buy"]);
    expect(ids(await broker.listOrders({ status: "all" }))).toEqual([
      "h-open-tecl",
      "h-filled-sell",
      "h-open-spy",
      "h-filled-buy",
    ]);
    // The refused order is kept for inspection, but the broker never made it.
    expect(broker.orders().map((o) => o.clientOrderId)).toContain("h-refused");
    const all = await broker.listOrders({ status: "all" });
    expect(all.find((o) => o.clientOrderId === "h-filled-sell")?.status).toBe("filled");
    expect(all.every((o, i) => i === 0 || (all[i - 1]?.createdAt ?? 0) >= (o.createdAt ?? 0))).toBe(true);
  });

  it("after and until compare submission times, exclusive", async () => {
    const { broker, t0 } = await history();
    const at = (ms: number) => new Date(t0 + ms);
    expect(ids(await broker.listOrders({ status: "all", after: at(10) }))).toEqual([
      "h-open-tecl",
      "h-filled-sell",
    ]);
    expect(ids(await broker.listOrders({ status: "all", after: at(9) }))).toEqual([
      "h-open-tecl",
      "h-filled-sell",
      "h-open-spy",
    ]);
    expect(ids(await broker.listOrders({ status: "all", until: at(30) }))).toEqual([
      "h-open-spy",
      "h-filled-buy",
    ]);
    expect(ids(await broker.listOrders({ status: "all", after: at(0), until: at(40) }))).toEqual([
      "h-filled-sell",
      "h-open-spy",
    ]);
    expect(await broker.listOrders({ status: "all", after: at(40) })).toEqual([]);
  });

  it("symbols filter; limit keeps the newest matches", async () => {
    const { broker } = await history();
    expect(ids(await broker.listOrders({ status: "all", symbols: ["TECL"] }))).toEqual([
      "h-open-tecl",
      "h-filled-sell",
    ]);
    expect(ids(await broker.listOrders({ status: "all", symbols: ["QQQ"] }))).toEqual([]);
    expect(ids(await broker.listOrders({ status: "all", limit: 3 }))).toEqual([
      "h-open-tecl",
      "h-filled-sell",
      "h-open-spy",
    ]);
    expect(ids(await broker.listOrders({ status: "closed", symbols: ["SPY", "TECL"], limit: 1 }))).toEqual([
      "h-filled-sell",
    ]);
  });

  it("orders submitted in the same ms: the later first", async () => {
    const { broker } = setup();
    for (const id of ["same-1", "same-2", "same-3"])
      await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 10 }, { clientOrderId: id }));
    expect(ids(await broker.listOrders({}))).toEqual(["same-3", "same-2", "same-1"]);
  });

  it("a fresh order hidden by not_found_lag is missing here too, like from the other order reads", async () => {
    const { clock, broker } = setup();
    broker.script({ kind: "not_found_lag", ms: 300 });
    const o = await broker.submitOrder(req("buy", "SPY", { qty: 1, limit: 10 }));
    expect(await broker.listOrders({ status: "all" })).toEqual([]);
    expect(await broker.getOrder(o.id)).toBeNull();
    await clock.advance(300);
    expect(ids(await broker.listOrders({ status: "all" }))).toEqual([o.clientOrderId]);
  });

  it("is counted and faulted like every REST call", async () => {
    const { clock, broker } = setup({ latency: { restMs: 20 } });
    await clock.run(broker.listOrders({}));
    expect(broker.calls.listOrders).toBe(1);
    broker.script({ kind: "unavailable", method: "listOrders" });
    expect(await codeOf(clock.run(broker.listOrders({ status: "all" })))).toBe("unavailable");
    broker.script({ kind: "latency_spike", method: "listOrders", ms: 500 });
    const started = clock.now();
    await clock.run(broker.listOrders({}));
    expect(clock.now() - started).toBe(520);
    expect(broker.calls.listOrders).toBe(3);
    expect(broker.eventLog().filter((e) => e.type === "call" && e.method === "listOrders")).toHaveLength(3);
    const reason = new Error("stop");
    await expect(broker.listOrders({}, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it("refuses a bad query with a ValidationError", async () => {
    const { clock, broker } = setup();
    for (const bad of [{ status: "filled" }, { limit: 0 }, { symbols: [] }, { side: "buy" }]) {
      const error = await clock.run(broker.listOrders(bad as never)).catch((e: unknown) => e);
      expect(isValidationError(error), JSON.stringify(bad)).toBe(true);
    }
  });
});

describe("trades made elsewhere", () => {
  it("appear in the order history and lookups as another app's filled orders, not in orders()", async () => {
    const { clock, broker } = setup();
    await clock.advance(5);
    broker.outsideTrade("SPY", 3, 101);
    await clock.advance(5);
    broker.outsideTrade("TECL", -4);
    const all = await broker.listOrders({ status: "all" });
    expect(all.map((o) => `${o.clientOrderId}:${o.symbol}:${o.side}:${o.status}:${o.filledQty}`)).toEqual([
      "elsewhere-2:TECL:sell:filled:4",
      "elsewhere-1:SPY:buy:filled:3",
    ]);
    expect(all[1]?.filledAvgPrice?.toString()).toBe("101");
    expect(await broker.listOrders({ status: "open" })).toEqual([]);
    expect(await broker.listOpenOrders()).toEqual([]);
    expect((await broker.getOrderByClientOrderId("elsewhere-1"))?.symbol).toBe("SPY");
    expect(broker.orders()).toEqual([]);
    expect(broker.truth().positions.get("TECL")?.toString()).toBe("6");
  });
});
