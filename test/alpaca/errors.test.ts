import { Decimal, isBrokerError, type OrderRequest } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KEY, type Rig, SECRET, startRig, until } from "./fake-alpaca.js";

// One test per row of Alpaca's error table (facts section 5), through the real SDK over
// real HTTP: each refusal is produced by the simulated broker's rules where it can be, and
// by a scripted wire reply where only the wire shape differs.

let rig: Rig;
beforeEach(async () => {
  rig = await startRig({
    cash: 1_000,
    positions: { FNGU: "10" },
    prices: { FNGU: "33.05", SPY: 500, WHOLE: 20 },
    assets: { WHOLE: { fractionable: false }, HALT: { tradable: false } },
    latency: { fillMs: 50 },
  });
});
afterEach(() => rig.close());

let n = 0;
const order = (over: Partial<OrderRequest>): OrderRequest => ({
  clientOrderId: `t-${++n}`,
  symbol: "SPY",
  side: "buy",
  type: "market",
  timeInForce: "day",
  qty: new Decimal(1),
  ...over,
});

async function codeOf(
  p: Promise<unknown>,
): Promise<{ code: string; brokerCode?: string; retryAfterMs?: number }> {
  try {
    await p;
  } catch (e) {
    if (!isBrokerError(e)) throw e;
    return { code: e.code, brokerCode: e.brokerCode, retryAfterMs: e.retryAfterMs };
  }
  throw new Error("expected a BrokerError");
}

describe("403 40310000 rows", () => {
  it("insufficient buying power → insufficient_buying_power", async () => {
    const r = await codeOf(rig.broker.submitOrder(order({ qty: new Decimal(3) })));
    expect(r).toMatchObject({ code: "insufficient_buying_power", brokerCode: "40310000" });
  });

  it("selling more than available → insufficient_quantity", async () => {
    const r = await codeOf(
      rig.broker.submitOrder(order({ symbol: "FNGU", side: "sell", qty: new Decimal(11) })),
    );
    expect(r).toMatchObject({ code: "insufficient_quantity", brokerCode: "40310000" });
  });

  it("an opposite-side open order → wash_trade (403)", async () => {
    await rig.broker.submitOrder(
      order({
        symbol: "FNGU",
        side: "sell",
        type: "limit",
        limitPrice: new Decimal(99),
        qty: new Decimal(1),
      }),
    );
    const r = await codeOf(rig.broker.submitOrder(order({ symbol: "FNGU", qty: new Decimal(1) })));
    expect(r).toMatchObject({ code: "wash_trade", brokerCode: "40310000" });
  });

  it("the older 422 42210000 wash-trade reply → wash_trade", async () => {
    rig.server.script({
      kind: "reply",
      method: "POST",
      status: 422,
      body: { code: 42210000, message: "potential wash trade detected. use complex orders" },
    });
    expect((await codeOf(rig.broker.submitOrder(order({})))).code).toBe("wash_trade");
  });

  it("an order under $1 → min_notional", async () => {
    const r = await codeOf(rig.broker.submitOrder(order({ qty: undefined, notional: new Decimal("0.5") })));
    expect(r).toMatchObject({ code: "min_notional", brokerCode: "40310000" });
  });

  it("crypto's $10 minimum message → min_notional", async () => {
    rig.server.script({
      kind: "reply",
      status: 403,
      body: { code: 40310000, message: "cost basis must be >= minimal amount of order 10" },
    });
    expect((await codeOf(rig.broker.submitOrder(order({})))).code).toBe("min_notional");
  });

  it("pattern day trading protection (40310100) → rejected", async () => {
    rig.server.script({
      kind: "reply",
      status: 403,
      body: { code: 40310100, message: "trade denied due to pattern day trading protection" },
    });
    expect(await codeOf(rig.broker.submitOrder(order({})))).toMatchObject({
      code: "rejected",
      brokerCode: "40310100",
    });
  });

  it("another 403 without a known code → forbidden", async () => {
    rig.server.script({ kind: "reply", status: 403, body: { message: "forbidden" } });
    expect((await codeOf(rig.broker.getAccount())).code).toBe("forbidden");
  });
});

describe("422 rows", () => {
  it("sub-penny limit price (42210000) → invalid_order", async () => {
    rig.server.script({
      kind: "reply",
      status: 422,
      body: {
        code: 42210000,
        message: "invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria",
      },
    });
    const r = await codeOf(rig.broker.submitOrder(order({ type: "limit", limitPrice: new Decimal("1.5") })));
    expect(r).toMatchObject({ code: "invalid_order", brokerCode: "42210000" });
  });

  it("a sub-penny limit price is refused before sending", async () => {
    rig.server.resetRequests();
    const r = await codeOf(
      rig.broker.submitOrder(order({ type: "limit", limitPrice: new Decimal("290.123") })),
    );
    expect(r.code).toBe("invalid_order");
    expect(rig.server.requests()).toHaveLength(0);
  });

  it("duplicate client order id (40010001) → duplicate_client_order_id", async () => {
    const first = order({ qty: new Decimal("0.1") });
    await rig.broker.submitOrder(first);
    const r = await codeOf(rig.broker.submitOrder(first));
    expect(r).toMatchObject({ code: "duplicate_client_order_id", brokerCode: "40010001" });
  });

  it("a fraction of a whole-share asset → not_fractionable", async () => {
    const r = await codeOf(rig.broker.submitOrder(order({ symbol: "WHOLE", qty: new Decimal("1.5") })));
    expect(r.code).toBe("not_fractionable");
  });

  it("'qty must be integer' (40010001) → not_fractionable", async () => {
    rig.server.script({
      kind: "reply",
      status: 422,
      body: { code: 40010001, message: "qty must be integer" },
    });
    expect((await codeOf(rig.broker.submitOrder(order({})))).code).toBe("not_fractionable");
  });

  it("any other validation message (40010001) → invalid_order", async () => {
    rig.server.script({ kind: "reply", status: 422, body: { code: 40010001, message: "qty is required" } });
    expect((await codeOf(rig.broker.submitOrder(order({})))).code).toBe("invalid_order");
  });

  it("an untradable asset → rejected", async () => {
    expect((await codeOf(rig.broker.submitOrder(order({ symbol: "HALT" })))).code).toBe("rejected");
  });

  it("cancelling a filled order (42210000 not cancelable) → not_cancelable", async () => {
    const o = await rig.broker.submitOrder(order({ qty: new Decimal("0.1") }));
    await until(async () => (await rig.broker.getOrder(o.id))?.status === "filled");
    const r = await codeOf(rig.broker.cancelOrder(o.id));
    expect(r).toMatchObject({ code: "not_cancelable", brokerCode: "42210000" });
  });

  it("'order is not open' → not_cancelable", async () => {
    rig.server.script({
      kind: "reply",
      method: "DELETE",
      status: 422,
      body: { code: 42210000, message: "order is not open" },
    });
    expect((await codeOf(rig.broker.cancelOrder("x"))).code).toBe("not_cancelable");
  });
});

describe("404, 401 and 429", () => {
  it("unknown order or position: lookups null, cancel and close not_found", async () => {
    expect(await rig.broker.getOrder("00000000-0000-4000-8000-000000000000")).toBeNull();
    expect(await rig.broker.getOrderByClientOrderId("never-placed")).toBeNull();
    expect(await rig.broker.getPosition("SPY")).toBeNull();
    expect(await codeOf(rig.broker.cancelOrder("00000000-0000-4000-8000-000000000000"))).toMatchObject({
      code: "not_found",
      brokerCode: "40410000",
    });
    expect((await codeOf(rig.broker.closePosition("SPY"))).code).toBe("not_found");
  });

  it("an id Alpaca calls 'order_id is missing' (422) reads as null", async () => {
    rig.server.script({
      kind: "reply",
      status: 422,
      body: { code: 40010001, message: "order_id is missing" },
    });
    expect(await rig.broker.getOrder("not-a-uuid")).toBeNull();
  });

  it("bad keys (401 40110000) → unauthorized", async () => {
    const wrong = createAlpacaBroker({
      keyId: "WRONGKEY",
      secret: "wrong-secret",
      baseUrl: rig.server.baseUrl,
      dataBaseUrl: rig.server.dataBaseUrl,
    });
    expect(await codeOf(wrong.getAccount())).toMatchObject({ code: "unauthorized", brokerCode: "40110000" });
    expect((await codeOf(wrong.getLatestPrices(["SPY"]))).code).toBe("unauthorized");
  });

  it("429 → rate_limited with retryAfterMs from Retry-After", async () => {
    rig.server.script({ kind: "http_429", retryAfterMs: 250 });
    const r = await codeOf(rig.broker.getPositions());
    expect(r.code).toBe("rate_limited");
    expect(r.retryAfterMs).toBe(250);
  });

  it("a simulated rate_limited fault reaches the adapter as rate_limited", async () => {
    rig.server.broker.script({ kind: "rate_limited", method: "submitOrder", retryAfterMs: 1500 });
    const r = await codeOf(rig.broker.submitOrder(order({ qty: new Decimal("0.1") })));
    expect(r).toMatchObject({ code: "rate_limited", retryAfterMs: 1500 });
    expect(rig.server.broker.orders()).toHaveLength(0);
  });
});

describe("transport failures", () => {
  it("connection lost after a POST was applied → ambiguous, and the order exists", async () => {
    const req = order({ qty: new Decimal("0.1") });
    rig.server.script({ kind: "drop", apply: true, method: "POST" });
    expect((await codeOf(rig.broker.submitOrder(req))).code).toBe("ambiguous");
    expect((await rig.broker.getOrderByClientOrderId(req.clientOrderId))?.clientOrderId).toBe(
      req.clientOrderId,
    );
  });

  it("a simulated ambiguous fault (applied, then the connection drops) → ambiguous", async () => {
    const req = order({ qty: new Decimal("0.1") });
    rig.server.broker.script({ kind: "ambiguous", method: "submitOrder" });
    expect((await codeOf(rig.broker.submitOrder(req))).code).toBe("ambiguous");
    expect(rig.server.broker.findOrder(req.clientOrderId)).toBeDefined();
  });

  it("connection lost on a DELETE → ambiguous", async () => {
    rig.server.script({ kind: "drop", method: "DELETE" });
    expect((await codeOf(rig.broker.cancelOrder("x"))).code).toBe("ambiguous");
    rig.server.script({ kind: "drop", method: "DELETE" });
    expect((await codeOf(rig.broker.closePosition("FNGU"))).code).toBe("ambiguous");
  });

  it("connection lost on a GET → unavailable", async () => {
    rig.server.script({ kind: "drop", method: "GET" });
    expect((await codeOf(rig.broker.getAccount())).code).toBe("unavailable");
  });

  it("a refused connection → unavailable, even for a POST (nothing was sent)", async () => {
    const dead = createAlpacaBroker({ keyId: KEY, secret: SECRET, baseUrl: rig.server.baseUrl });
    await rig.close();
    expect((await codeOf(dead.submitOrder(order({})))).code).toBe("unavailable");
    rig = await startRig();
  });

  it("500 → unavailable (and a simulated unavailable fault too)", async () => {
    rig.server.script({ kind: "http_500" });
    expect((await codeOf(rig.broker.getClock())).code).toBe("unavailable");
    rig.server.broker.script({ kind: "unavailable", method: "submitOrder" });
    expect((await codeOf(rig.broker.submitOrder(order({ qty: new Decimal("0.1") })))).code).toBe(
      "unavailable",
    );
  });

  it("a reply slower than timeoutMs: POST → ambiguous, GET → unavailable", async () => {
    const impatient = createAlpacaBroker({
      keyId: KEY,
      secret: SECRET,
      baseUrl: rig.server.baseUrl,
      timeoutMs: 50,
    });
    rig.server.script({ kind: "slow", ms: 300, method: "POST" });
    expect((await codeOf(impatient.submitOrder(order({ qty: new Decimal("0.1") })))).code).toBe("ambiguous");
    rig.server.script({ kind: "slow", ms: 300, method: "GET" });
    expect((await codeOf(impatient.getAccount())).code).toBe("unavailable");
  });

  it("a malformed body → protocol", async () => {
    rig.server.script({ kind: "malformed", method: "GET" });
    expect((await codeOf(rig.broker.getAccount())).code).toBe("protocol");
    rig.server.script({
      kind: "reply",
      status: 200,
      body: [{ symbol: "SPY", qty: "NaN", qty_available: "1" }],
    });
    expect((await codeOf(rig.broker.getPositions())).code).toBe("protocol");
    rig.server.script({ kind: "reply", status: 200, body: { id: "1", status: "teleported" } });
    expect((await codeOf(rig.broker.getOrder("1"))).code).toBe("protocol");
  });

  it("abort: before the call nothing is sent; during a write → ambiguous; during a read → the reason", async () => {
    rig.server.resetRequests();
    const pre = new AbortController();
    const reason = new Error("stop");
    pre.abort(reason);
    await expect(rig.broker.submitOrder(order({}), { signal: pre.signal })).rejects.toBe(reason);
    expect(rig.server.requests()).toHaveLength(0);

    rig.server.script({ kind: "slow", ms: 300, method: "POST" });
    const w = new AbortController();
    const writing = codeOf(rig.broker.submitOrder(order({ qty: new Decimal("0.1") }), { signal: w.signal }));
    setTimeout(() => w.abort(reason), 30);
    expect((await writing).code).toBe("ambiguous");

    rig.server.script({ kind: "slow", ms: 300, method: "GET" });
    const r = new AbortController();
    const reading = rig.broker.getAccount({ signal: r.signal });
    setTimeout(() => r.abort(reason), 30);
    await expect(reading).rejects.toBe(reason);
  });
});
