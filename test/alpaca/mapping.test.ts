import type { trading } from "@alpacahq/alpaca-trade-api";
import fc from "fast-check";
import { BROKER_ORDER_STATUSES, Decimal, isOrdersafeError, ORDER_UPDATE_EVENTS } from "ordersafe";
import {
  ALPACA_ORDER_STATUS,
  ALPACA_TRADE_EVENT,
  type AlpacaOrderStatus,
  createAlpacaBroker,
  mapAlpacaAccount,
  mapAlpacaAsset,
  mapAlpacaOrder,
  mapAlpacaTradeUpdate,
} from "ordersafe/alpaca";
import { VirtualClock } from "ordersafe/testing";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { KEY, type Rig, SECRET, startRig, until } from "./fake-alpaca.js";

const wireOrder = {
  id: "0b6f2e0a-0000-4000-8000-000000000001",
  client_order_id: "c-1",
  symbol: "AAPL",
  side: "buy",
  type: "market",
  time_in_force: "day",
  qty: null,
  notional: "100",
  filled_qty: "0.5",
  filled_avg_price: "190.25",
  limit_price: null,
  status: "partially_filled",
  created_at: "2024-01-02T15:00:00.123456789Z",
  updated_at: "2024-01-02T10:00:01.5-05:00",
};

describe("mapping tables", () => {
  it("every ordersafe status and event has an Alpaca source", () => {
    expect(new Set(Object.values(ALPACA_ORDER_STATUS))).toEqual(new Set(BROKER_ORDER_STATUSES));
    expect(new Set(Object.values(ALPACA_TRADE_EVENT))).toEqual(new Set(ORDER_UPDATE_EVENTS));
  });

  it("the status table covers exactly the SDK's OrderStatus", () => {
    expectTypeOf<AlpacaOrderStatus>().toEqualTypeOf<trading.OrderStatus>();
  });

  it("maps an order with nanosecond and offset timestamps; unknown values are protocol errors", () => {
    const o = mapAlpacaOrder(wireOrder);
    expect(o.notional?.toString()).toBe("100");
    expect(o.qty).toBeUndefined();
    expect(o.filledQty.toString()).toBe("0.5");
    expect(o.updatedAt.toISOString()).toBe("2024-01-02T15:00:01.500Z");
    for (const bad of [
      { status: "teleported" },
      { side: "short" },
      { type: "trailing_stop" },
      { filled_qty: "1e" },
    ]) {
      expect(() => mapAlpacaOrder({ ...wireOrder, ...bad })).toThrow(
        expect.objectContaining({ code: "protocol" }),
      );
    }
  });

  it("maps fills with this fill's own quantity, price and execution id", () => {
    const u = mapAlpacaTradeUpdate({
      event: "partial_fill",
      order: wireOrder,
      timestamp: "2024-01-02T15:00:01Z",
      qty: "0.25",
      price: "190.3",
      execution_id: "e-1",
    });
    expect(u.fill).toMatchObject({ executionId: "e-1" });
    expect(u.fill?.qty.toString()).toBe("0.25");
    expect(() => mapAlpacaTradeUpdate({ event: "fill", order: wireOrder })).toThrow(
      expect.objectContaining({ code: "protocol" }),
    );
  });

  it("assets: fractionable → 0.000000001, else 1; minNotional 1; inactive is not tradable", () => {
    const base = { symbol: "X", tradable: true, status: "active" };
    expect(mapAlpacaAsset({ ...base, fractionable: true }).qtyIncrement.toFixed()).toBe("0.000000001");
    expect(mapAlpacaAsset({ ...base, fractionable: false }).qtyIncrement.toFixed()).toBe("1");
    expect(mapAlpacaAsset({ ...base, fractionable: false }).minNotional?.toFixed()).toBe("1");
    expect(mapAlpacaAsset({ ...base, fractionable: true, status: "inactive" }).tradable).toBe(false);
  });

  it("account: any block or a non-ACTIVE status blocks trading; the removed PDT fields are optional", () => {
    const a = { status: "ACTIVE", cash: "10", buying_power: "20", equity: "30", currency: "USD" };
    const at = new Date(0);
    expect(mapAlpacaAccount(a, at).tradingBlocked).toBe(false);
    expect(mapAlpacaAccount({ ...a, trading_blocked: true }, at).tradingBlocked).toBe(true);
    expect(mapAlpacaAccount({ ...a, account_blocked: true }, at).tradingBlocked).toBe(true);
    expect(mapAlpacaAccount({ ...a, status: "ACCOUNT_UPDATED" }, at).tradingBlocked).toBe(true);
    expect(mapAlpacaAccount({ ...a, daytrade_count: 3, pattern_day_trader: false }, at).cash.toString()).toBe(
      "10",
    );
  });
});

describe("options", () => {
  it("refuses live trading unless allowLive, and a live host under paper", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isOrdersafeError(e) ? e.code : "other";
      }
      return "none";
    };
    expect(code(() => createAlpacaBroker({ keyId: KEY, secret: SECRET, paper: false }))).toBe("config");
    expect(
      code(() => createAlpacaBroker({ keyId: KEY, secret: SECRET, baseUrl: "https://api.alpaca.markets" })),
    ).toBe("config");
    expect(createAlpacaBroker({ keyId: KEY, secret: SECRET, paper: false, allowLive: true }).id).toBe(
      "alpaca-live",
    );
    expect(code(() => createAlpacaBroker({ keyId: KEY, secret: SECRET, feed: "nasdaq" as never }))).toBe(
      "validation",
    );
    expect(code(() => createAlpacaBroker({ keyId: KEY, secret: SECRET, bogus: 1 } as never))).toBe(
      "validation",
    );
  });

  it("reads credentials from APCA_API_KEY_ID / APCA_API_SECRET_KEY", () => {
    const b = createAlpacaBroker({ env: { APCA_API_KEY_ID: KEY, APCA_API_SECRET_KEY: SECRET } });
    expect(b.id).toBe("alpaca-paper");
  });
});

describe("on the wire", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ cash: "1000000000000000000000", prices: { SPY: 2_000_000_000 } });
  });
  afterAll(() => rig.close());

  it("quantities and notionals go out as fixed decimal strings, never exponent form", async () => {
    let i = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 ** 9 }),
        fc.integer({ min: 0, max: 9 }),
        fc.boolean(),
        async (units, scale, notional) => {
          const value = new Decimal(units).div(new Decimal(10).pow(scale));
          if (notional && value.lt(1)) return;
          rig.server.resetRequests();
          const o = await rig.broker.submitOrder({
            clientOrderId: `w-${++i}`,
            symbol: "SPY",
            side: "buy",
            type: "market",
            timeInForce: "day",
            ...(notional ? { notional: value } : { qty: value }),
          });
          const body = rig.server.requests()[0]?.body as Record<string, string>;
          const sent = body[notional ? "notional" : "qty"] as string;
          expect(sent).toMatch(/^\d+(\.\d+)?$/);
          expect(new Decimal(sent).eq(value)).toBe(true);
          expect((notional ? o.notional : o.qty)?.eq(value)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("closePosition is DELETE /v2/positions/{symbol} with no qty or percentage", async () => {
    await rig.broker.submitOrder({
      clientOrderId: "close-setup",
      symbol: "SPY",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(3),
    });
    await until(async () => (await rig.broker.getPosition("SPY")) !== null);
    rig.server.resetRequests();
    const o = await rig.broker.closePosition("SPY");
    expect(o.side).toBe("sell");
    expect(rig.server.requests().map((r) => `${r.method} ${r.path}${r.query}`)).toEqual([
      "DELETE /v2/positions/SPY",
    ]);
  });

  it("keeps to the rate limit on the injected clock", async () => {
    const clock = new VirtualClock();
    const slow = createAlpacaBroker({
      keyId: KEY,
      secret: SECRET,
      baseUrl: rig.server.baseUrl,
      clock,
      rateLimitPerMinute: 2,
    });
    rig.server.resetRequests();
    await slow.getClock();
    await slow.getClock();
    const third = slow.getClock();
    await new Promise((r) => setTimeout(r, 30));
    expect(rig.server.requests()).toHaveLength(2);
    clock.advance(30_000);
    await third;
    expect(rig.server.requests()).toHaveLength(3);
  });
});
