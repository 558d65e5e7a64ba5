import { Decimal, isBrokerError } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { afterEach, describe, expect, it } from "vitest";
import { mapAlpacaLatestQuotes, toPatchOrderRequest } from "../../src/alpaca/alpaca-quotes-replace.js";
import { type Rig, startRig } from "./fake-alpaca.js";

// Latest quotes and replace over real HTTP: the fake Alpaca server's
// GET /v2/stocks/quotes/latest and PATCH /v2/orders/{id}, and the adapter's members.

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function failure(p: Promise<unknown> | undefined): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

function farBuy(clientOrderId: string) {
  return {
    clientOrderId,
    symbol: "SPY",
    side: "buy" as const,
    type: "limit" as const,
    timeInForce: "day" as const,
    qty: new Decimal(3),
    limitPrice: new Decimal(400),
  };
}

describe("Alpaca adapter: getLatestQuotes", () => {
  it("reads bid and ask from the market data API, batched 100 symbols a request", async () => {
    const prices: Record<string, number> = {};
    for (let i = 0; i < 150; i++) prices[`S${i}`] = 10 + i;
    const sim = createSimulatedBroker({ clock: new VirtualClock(), prices, quotes: { spreadBps: 20 } });
    rig = await startRig({ broker: sim });
    expect(rig.broker.capabilities.quotes).toBe(true);
    const symbols = [...Object.keys(prices), "NOPE"];
    const quotes = await rig.broker.getLatestQuotes?.(symbols);
    expect(quotes?.size).toBe(150);
    const q = quotes?.get("S0");
    expect([q?.bid.toString(), q?.ask.toString()]).toEqual(["9.99", "10.01"]);
    expect(quotes?.has("NOPE")).toBe(false);
    const calls = rig.server.requests().filter((r) => r.path === "/v2/stocks/quotes/latest");
    expect(calls.length).toBe(2);
  });

  it("maps Alpaca's body and refuses a malformed one", () => {
    const m = mapAlpacaLatestQuotes(
      { quotes: { SPY: { bp: 499.9, ap: 500.1, bs: 3, as: 2, t: "2026-11-25T15:00:00.123456789Z" } } },
      ["SPY", "QQQ"],
    );
    expect(m.get("SPY")?.askSize?.toString()).toBe("2");
    expect(m.get("SPY")?.asOf.toISOString()).toBe("2026-11-25T15:00:00.123Z");
    expect(m.has("QQQ")).toBe(false);
    expect(mapAlpacaLatestQuotes({ quotes: null }, ["SPY"]).size).toBe(0);
    for (const bad of [
      null,
      { quotes: [] },
      { quotes: { SPY: { bp: 1, t: "x" } } },
      { quotes: { SPY: { bp: -1, ap: 2, t: "2026-11-25T15:00:00Z" } } },
    ]) {
      let error: unknown;
      try {
        mapAlpacaLatestQuotes(bad, ["SPY"]);
      } catch (e) {
        error = e;
      }
      expect(isBrokerError(error, "protocol"), JSON.stringify(bad)).toBe(true);
    }
  });
});

describe("Alpaca adapter: replaceOrder", () => {
  it("PATCHes the order with decimal strings and returns the new order; the old one is replaced", async () => {
    rig = await startRig({ quotes: { spreadBps: 10, passiveFillProbability: 0 } });
    expect(rig.broker.capabilities.replace).toBe(true);
    const old = await rig.broker.submitOrder(farBuy("rq-0"));
    const n = await rig.broker.replaceOrder?.(old.id, {
      limitPrice: new Decimal("401.5"),
      clientOrderId: "rq-1",
    });
    expect(n?.id).not.toBe(old.id);
    expect([n?.clientOrderId, n?.limitPrice?.toString(), n?.qty?.toString()]).toEqual(["rq-1", "401.5", "3"]);
    expect((await rig.broker.getOrder(old.id))?.status).toBe("replaced");
    const patch = rig.server.requests().find((r) => r.method === "PATCH");
    expect(patch?.path).toBe(`/v2/orders/${old.id}`);
    expect(patch?.body).toEqual({ limit_price: "401.5", client_order_id: "rq-1" });
  });

  it("a refused replace is a typed error; a dropped reply is ambiguous and the chain shows it", async () => {
    rig = await startRig({ quotes: { spreadBps: 10, passiveFillProbability: 0 } });
    const old = await rig.broker.submitOrder(farBuy("rq-2"));
    expect(
      isBrokerError(await failure(rig.broker.replaceOrder?.("nope", { qty: new Decimal(1) })), "not_found"),
    ).toBe(true);
    rig.server.script({ kind: "drop", apply: true, method: "PATCH" });
    const lost = await failure(
      rig.broker.replaceOrder?.(old.id, { limitPrice: new Decimal(402), clientOrderId: "rq-3" }),
    );
    expect(isBrokerError(lost, "ambiguous")).toBe(true);
    expect((await rig.broker.getOrder(old.id))?.status).toBe("replaced");
    expect((await rig.broker.getOrderByClientOrderId("rq-3"))?.limitPrice?.toString()).toBe("402");
    const again = await failure(rig.broker.replaceOrder?.(old.id, { limitPrice: new Decimal(403) }));
    expect(isBrokerError(again, "not_cancelable")).toBe(true);
  });

  it("formats the body: never exponent form, never a sub-penny price", () => {
    expect(toPatchOrderRequest({ qty: new Decimal("1e-7"), limitPrice: new Decimal("0.1234") })).toEqual({
      qty: "0.0000001",
      limitPrice: "0.1234",
    });
    let error: unknown;
    try {
      toPatchOrderRequest({ limitPrice: new Decimal("10.123") });
    } catch (e) {
      error = e;
    }
    expect(isBrokerError(error, "invalid_order")).toBe(true);
  });
});
