import {
  BROKER_ORDER_STATUSES,
  Decimal,
  isBrokerError,
  isFinalBrokerStatus,
  isValidationError,
  parseAccountSnapshot,
  parseAssetRules,
  parseLatestPrices,
  parseListOrdersQuery,
  parseMarketClock,
  parseOrderRequest,
  parseOrderSnapshot,
  parseOrderUpdate,
  parsePositionSnapshot,
  parsePositionSnapshots,
} from "ordersafe";
import { describe, expect, it } from "vitest";

const at = new Date("2026-11-25T15:00:00Z");
const order = {
  id: "o1",
  clientOrderId: "c1",
  symbol: "TECL",
  side: "buy",
  type: "market",
  timeInForce: "day",
  qty: new Decimal(10),
  filledQty: new Decimal(0),
  status: "new",
  updatedAt: at,
};

function protocolField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (!isBrokerError(e, "protocol")) throw e;
    return e.message;
  }
  return undefined;
}

describe("parse helpers", () => {
  it("accept valid snapshots, converting strings and ISO dates", () => {
    const acct = parseAccountSnapshot({
      cash: "3432.62",
      buyingPower: "3432.62",
      equity: 60000,
      currency: "USD",
      tradingBlocked: false,
      asOf: "2026-11-25T15:00:00Z",
    });
    expect(acct.cash).toBeInstanceOf(Decimal);
    expect(acct.cash.toString()).toBe("3432.62");
    expect(acct.asOf).toBeInstanceOf(Date);
    expect(parseOrderSnapshot(order).qty?.toString()).toBe("10");
    expect(parseMarketClock({ isOpen: true, nextOpen: at, nextClose: at, asOf: at }).isOpen).toBe(true);
    expect(
      parseAssetRules([{ symbol: "BRK.B", tradable: true, fractionable: false, qtyIncrement: 1 }])[0]?.symbol,
    ).toBe("BRK.B");
    expect(
      parseLatestPrices(new Map([["SPY", new Decimal(500)]]))
        .get("SPY")
        ?.toString(),
    ).toBe("500");
  });

  it.each([
    ["a NaN string", { ...order, filledQty: "NaN" }, "filledQty"],
    ["a missing field", { ...order, status: undefined }, "status"],
    ["an unknown status", { ...order, status: "teleported" }, "status"],
    ["filled above ordered", { ...order, filledQty: new Decimal(11) }, "filledQty"],
    ["neither qty nor notional", { ...order, qty: undefined }, "qty"],
    ["a negative qty", { ...order, qty: "-1" }, "qty"],
    ["a bad date", { ...order, updatedAt: "yesterday" }, "updatedAt"],
  ])("refuse an order with %s, naming the field", (_n, raw, field) => {
    expect(protocolField(() => parseOrderSnapshot(raw))).toContain(field);
  });

  it("refuse positions with a negative or excessive qtyAvailable", () => {
    expect(protocolField(() => parsePositionSnapshot({ symbol: "X", qty: 10, qtyAvailable: -1 }))).toContain(
      "qtyAvailable",
    );
    expect(protocolField(() => parsePositionSnapshot({ symbol: "X", qty: 10, qtyAvailable: 11 }))).toContain(
      "qtyAvailable",
    );
    expect(parsePositionSnapshot({ symbol: "X", qty: 10, qtyAvailable: 4 }).qtyAvailable.toString()).toBe(
      "4",
    );
    expect(parsePositionSnapshot({ symbol: "X", qty: -5, qtyAvailable: -5 }).qty.toString()).toBe("-5");
    expect(
      protocolField(() => parsePositionSnapshot({ symbol: "X", qty: "abc", qtyAvailable: 0 })),
    ).toContain("qty");
  });

  it("refuse a symbol listed twice and a __proto__ key", () => {
    const p = { symbol: "X", qty: 1, qtyAvailable: 1 };
    expect(protocolField(() => parsePositionSnapshots([p, p]))).toContain("twice");
    const evil = JSON.parse('{"symbol":"X","qty":1,"qtyAvailable":1,"__proto__":{"polluted":true}}');
    expect(protocolField(() => parsePositionSnapshot(evil))).toContain("__proto__");
    const evilPrices = JSON.parse('{"__proto__": "1"}');
    expect(protocolField(() => parseLatestPrices(evilPrices))).toContain("__proto__");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuse non-positive prices and bad updates", () => {
    expect(protocolField(() => parseLatestPrices(new Map([["SPY", new Decimal(0)]])))).toContain("SPY");
    expect(
      protocolField(() => parseOrderUpdate({ event: "fill", order, at, fill: { qty: 0, price: 1 } })),
    ).toContain("fill.qty");
    expect(protocolField(() => parseOrderUpdate({ event: "exploded", order, at }))).toContain("event");
    expect(
      parseOrderUpdate({ event: "fill", order, at, fill: { qty: 1, price: 2, executionId: "e1" } }).fill
        ?.executionId,
    ).toBe("e1");
  });

  it("classify final statuses per the contract", () => {
    const finals = BROKER_ORDER_STATUSES.filter(isFinalBrokerStatus).sort();
    expect(finals).toEqual([
      "calculated",
      "canceled",
      "done_for_day",
      "expired",
      "filled",
      "rejected",
      "replaced",
    ]);
  });
});

describe("parseOrderRequest", () => {
  const req = {
    clientOrderId: "os-1",
    symbol: "TECL",
    side: "buy",
    type: "market",
    timeInForce: "day",
    qty: "1.5",
  };

  it("accepts a valid request", () => {
    expect(parseOrderRequest(req).qty?.toString()).toBe("1.5");
  });

  it.each([
    ["both qty and notional", { ...req, notional: 10 }],
    ["neither qty nor notional", { ...req, qty: undefined }],
    ["a limit order without a price", { ...req, type: "limit" }],
    ["a market order with a price", { ...req, limitPrice: 5 }],
    ["an unknown field", { ...req, leverage: 10 }],
    ["a bad side", { ...req, side: "short" }],
    ["a zero qty", { ...req, qty: 0 }],
  ])("refuses %s with a ValidationError", (_n, raw) => {
    let caught: unknown;
    try {
      parseOrderRequest(raw);
    } catch (e) {
      caught = e;
    }
    expect(isValidationError(caught)).toBe(true);
  });
});

describe("parseListOrdersQuery", () => {
  it("accepts the empty query (open orders) and every field", () => {
    expect(parseListOrdersQuery({})).toEqual({});
    expect(parseListOrdersQuery(undefined)).toEqual({});
    const q = parseListOrdersQuery({
      status: "closed",
      after: "2026-11-25T14:00:00Z",
      until: at,
      symbols: ["TECL", "BRK.B"],
      limit: 1000,
    });
    expect(q.after).toEqual(new Date("2026-11-25T14:00:00Z"));
    expect(q.until).toBe(at);
    expect(q.symbols).toEqual(["TECL", "BRK.B"]);
  });

  it.each([
    ["an unknown status", { status: "filled" }, "status"],
    ["an invalid date", { after: new Date(Number.NaN) }, "after"],
    ["a date that is not one", { until: "tomorrow" }, "until"],
    ["no symbols", { symbols: [] }, "symbols"],
    ["a malformed symbol", { symbols: ["tecl "] }, "symbols"],
    ["a zero limit", { limit: 0 }, "limit"],
    ["a fractional limit", { limit: 2.5 }, "limit"],
    ["an unknown key", { side: "buy" }, "side"],
  ])("refuses %s with a ValidationError naming the field", (_n, raw, field) => {
    let caught: unknown;
    try {
      parseListOrdersQuery(raw);
    } catch (e) {
      caught = e;
    }
    expect(isValidationError(caught)).toBe(true);
    expect(isValidationError(caught) && caught.message).toContain(field);
  });
});
