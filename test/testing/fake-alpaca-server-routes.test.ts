import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import { findRoute, HttpReply, ROUTES, toOrderRequest } from "../../src/testing/fake-alpaca-server-routes.js";

describe("the fake Alpaca server's route table", () => {
  it("maps each Alpaca path to one route and its port method", () => {
    const cases: [string, string, string, string][] = [
      ["GET", "/v2/account", "getAccount", ""],
      ["GET", "/v2/positions", "getPositions", ""],
      ["GET", "/v2/positions/SPY", "getPosition", "SPY"],
      ["DELETE", "/v2/positions/BTC%2FUSD", "closePosition", "BTC%2FUSD"],
      ["GET", "/v2/assets/SPY", "getAssets", "SPY"],
      ["GET", "/v2/clock", "getClock", ""],
      ["GET", "/v2/orders:by_client_order_id", "getOrderByClientOrderId", ""],
      ["GET", "/v2/orders", "listOrders", ""],
      ["POST", "/v2/orders", "submitOrder", ""],
      ["GET", "/v2/orders/abc", "getOrder", "abc"],
      ["DELETE", "/v2/orders/abc", "cancelOrder", "abc"],
      ["GET", "/v2/stocks/trades/latest", "getLatestPrices", ""],
    ];
    for (const [method, path, operation, param] of cases) {
      const found = findRoute(method, path);
      expect(found?.route.operation, `${method} ${path}`).toBe(operation);
      expect(found?.param).toBe(param);
    }
    expect(new Set(ROUTES.map((r) => `${r.method} ${String(r.path)}`)).size).toBe(ROUTES.length);
  });

  it("finds nothing for other methods or paths", () => {
    for (const [method, path] of [
      ["POST", "/v2/account"],
      ["PUT", "/v2/orders"],
      ["POST", "/v2/positions/SPY"],
      ["GET", "/v2/positions/SPY/extra"],
      ["GET", "/v2/orders/"],
      ["DELETE", "/v2/orders"],
      ["GET", "/v1/account"],
    ] as const) {
      expect(findRoute(method, path), `${method} ${path}`).toBeUndefined();
    }
  });
});

describe("toOrderRequest", () => {
  const good = {
    symbol: "SPY",
    side: "buy",
    type: "market",
    time_in_force: "day",
    qty: "1.5",
    client_order_id: "c1",
  };
  const refusal = (body: unknown) => {
    const r = toOrderRequest(body);
    return r instanceof HttpReply ? [r.status, r.body] : r;
  };

  it("reads a body into a request: decimal strings, the optional fields, a random id when none", () => {
    expect(toOrderRequest({ ...good, extended_hours: true, type: "limit", limit_price: "10.5" })).toEqual({
      clientOrderId: "c1",
      symbol: "SPY",
      side: "buy",
      type: "limit",
      timeInForce: "day",
      qty: new Decimal("1.5"),
      limitPrice: new Decimal("10.5"),
      extendedHours: true,
    });
    const noId = toOrderRequest({ ...good, client_order_id: undefined, qty: null, notional: "20" });
    expect(noId).toMatchObject({ notional: new Decimal(20) });
    expect(noId instanceof HttpReply ? "" : noId.clientOrderId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses what Alpaca refuses, with its status, code and message", () => {
    expect(refusal(null)).toEqual([422, { code: 40010001, message: "request body is required" }]);
    expect(refusal({ ...good, qty: 1.5 })).toEqual([422, { code: 40010001, message: "invalid qty" }]);
    expect(refusal({ ...good, qty: "1e-7" })).toEqual([422, { code: 40010001, message: "invalid qty" }]);
    expect(refusal({ ...good, limit_price: "-1" })).toEqual([
      422,
      { code: 40010001, message: "invalid limit_price" },
    ]);
    expect(refusal({ ...good, symbol: "" })).toEqual([
      422,
      { code: 40010001, message: "symbol is required" },
    ]);
    expect(refusal({ ...good, side: "short" })).toEqual([422, { code: 40010001, message: "invalid side" }]);
    expect(refusal({ ...good, type: "stop" })).toEqual([
      422,
      { code: 40010001, message: "invalid order type: stop" },
    ]);
    expect(refusal({ ...good, time_in_force: "week" })).toEqual([
      422,
      { code: 40010001, message: "invalid time_in_force" },
    ]);
    expect(refusal({ ...good, qty: undefined })).toEqual([
      422,
      { code: 40010001, message: "qty or notional is required" },
    ]);
    expect(refusal({ ...good, notional: "5" })).toEqual([
      422,
      { code: 40010001, message: "only one of qty or notional may be set" },
    ]);
    expect(refusal({ ...good, type: "limit" })).toEqual([
      422,
      { code: 40010001, message: "limit_price is required for limit orders" },
    ]);
    expect(refusal({ ...good, qty: "0" })).toEqual([
      422,
      { code: 40010001, message: "invalid qty or notional" },
    ]);
    expect(refusal({ ...good, qty: "0.0000000001" })).toEqual([
      422,
      { code: 40010001, message: "invalid qty or notional" },
    ]);
    expect(refusal({ ...good, type: "limit", limit_price: "10.001" })).toEqual([
      422,
      {
        code: 42210000,
        message: "invalid limit_price 10.001. sub-penny increment does not fulfill minimum pricing criteria",
      },
    ]);
    expect(refusal({ ...good, time_in_force: "gtc" })).toEqual([
      422,
      { code: 42210000, message: "fractional orders must be DAY orders" },
    ]);
    expect(refusal({ ...good, client_order_id: "x".repeat(129) })).toEqual([
      422,
      { code: 40010001, message: "client_order_id must be no more than 128 characters" },
    ]);
  });

  it("checks the decimals first, in order qty, notional, limit_price", () => {
    expect(refusal({ qty: "x", notional: "y", limit_price: "z" })).toEqual([
      422,
      { code: 40010001, message: "invalid qty" },
    ]);
    expect(refusal({ notional: "y", limit_price: "z" })).toEqual([
      422,
      { code: 40010001, message: "invalid notional" },
    ]);
  });
});
