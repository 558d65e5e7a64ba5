import { BROKER_ERROR_CODES } from "ordersafe";
import { describe, expect, it } from "vitest";
import { readWireTime, wireErrorFor, wireTime } from "../../src/testing/fake-alpaca-server-wire.js";

describe("wireErrorFor: Alpaca's reply for each refusal", () => {
  const reply = (
    code: Parameters<typeof wireErrorFor>[0],
    details: Record<string, unknown> = {},
    op = "submitOrder",
  ) => wireErrorFor(code, details, op, undefined, 1_000);

  it("the account and risk refusals are 403 40310000 with Alpaca's text and extras", () => {
    expect(reply("insufficient_buying_power", { buying_power: "5", cost_basis: 9, other: 1 })).toEqual({
      status: 403,
      body: { code: 40310000, message: "insufficient buying power", buying_power: "5", cost_basis: "9" },
    });
    expect(
      reply("insufficient_quantity", { requested: 3, available: "1", symbol: "AAA", held_for_orders: "2" }),
    ).toEqual({
      status: 403,
      body: {
        code: 40310000,
        message: "insufficient qty available for order (requested: 3, available: 1)",
        available: "1",
        symbol: "AAA",
        held_for_orders: "2",
      },
    });
    expect(reply("insufficient_quantity").body.message).toBe("insufficient qty available for order");
    expect(reply("wash_trade", { existing_order_id: "o1" }).body).toEqual({
      code: 40310000,
      message: "potential wash trade detected. use complex orders",
      reject_reason: "opposite side market/stop order exists",
      existing_order_id: "o1",
    });
    expect(reply("min_notional").body.message).toBe("cost basis must be >= minimal amount of order 1");
  });

  it("request refusals are 422s; unknown orders and positions 404s", () => {
    expect(reply("not_fractionable")).toEqual({
      status: 422,
      body: { code: 42210000, message: "requested asset is not fractionable" },
    });
    expect(reply("duplicate_client_order_id").body).toEqual({
      code: 40010001,
      message: "client_order_id must be unique",
    });
    expect(reply("invalid_order", { reason: "qty must be integer" }).body.message).toBe(
      "qty must be integer",
    );
    expect(reply("not_cancelable").body).toEqual({ code: 42210000, message: "order is not cancelable" });
    expect(reply("rejected", { symbol: "NOT" }).body.message).toBe("asset NOT is not tradable");
    expect(reply("rejected").body.message).toBe("asset is not tradable");
    expect(reply("not_found", {}, "closePosition").body.message).toBe("position does not exist");
    expect(reply("not_found", {}, "cancelOrder")).toEqual({
      status: 404,
      body: { code: 40410000, message: "order not found" },
    });
  });

  it("429 carries Retry-After and the X-RateLimit headers", () => {
    expect(wireErrorFor("rate_limited", {}, "", 2500, 10_000)).toEqual({
      status: 429,
      body: { code: 42910000, message: "rate limit exceeded" },
      headers: {
        "Retry-After": "2.5",
        "X-RateLimit-Limit": "200",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "13",
      },
    });
    expect(reply("rate_limited").headers?.["Retry-After"]).toBe("1");
  });

  it("every error code has a reply; the ones a venue never sends are a 500", () => {
    for (const c of BROKER_ERROR_CODES) expect(reply(c).status).toBeGreaterThanOrEqual(400);
    expect(reply("unavailable")).toEqual({
      status: 500,
      body: { code: 50010000, message: "internal server error" },
    });
    expect(reply("protocol").status).toBe(500);
  });
});

describe("readWireTime: the times a client sends", () => {
  it("reads RFC 3339 with any fraction and offset, or a plain date", () => {
    const ms = Date.UTC(2026, 0, 5, 14, 30, 0, 123);
    expect(readWireTime("2026-01-05T14:30:00.123Z")).toEqual({ ms, insideMs: false });
    expect(readWireTime("2026-01-05T14:30:00.123000000Z")).toEqual({ ms, insideMs: false });
    expect(readWireTime("2026-01-05T14:30:00.123000001Z")).toEqual({ ms, insideMs: true });
    expect(readWireTime("2026-01-05T09:30:00.1234-05:00")).toEqual({ ms, insideMs: true });
    // A `+` left unencoded in a query string arrives as a space.
    expect(readWireTime("2026-01-05T16:30:00.123 02:00")).toEqual({ ms, insideMs: false });
    expect(readWireTime("2026-01-05T14:30:00Z")).toEqual({ ms: ms - 123, insideMs: false });
    expect(readWireTime("2026-01-05")).toEqual({ ms: Date.UTC(2026, 0, 5), insideMs: false });
    expect(readWireTime(wireTime(new Date(ms)) ?? "")).toEqual({ ms, insideMs: false });
  });

  it("refuses what is not a time", () => {
    for (const bad of ["", "yesterday", "2026-01-05T14:30", "2026-13-45T99:99:99Z", "1767623400123"]) {
      expect(readWireTime(bad), bad).toBeUndefined();
    }
  });
});
