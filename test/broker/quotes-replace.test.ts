import {
  type BrokerPort,
  checkBroker,
  Decimal,
  isBrokerError,
  isValidationError,
  type OrderUpdateListener,
  parseLatestQuotes,
  parseReplaceOrderChanges,
  type Quote,
  type ReplaceOrderChanges,
} from "ordersafe";
import { describe, expect, it } from "vitest";

const at = new Date("2026-11-25T15:00:00Z");
const newOrder = {
  id: "o2",
  clientOrderId: "c1-1",
  symbol: "TECL",
  side: "buy",
  type: "limit",
  timeInForce: "day",
  qty: new Decimal(3),
  limitPrice: new Decimal("10.05"),
  filledQty: new Decimal(0),
  status: "new",
  updatedAt: at,
};

/** A port with both optional members, answering what the test sets, declaring the capabilities given. */
function portWith(
  declared: { quotes?: unknown; replace?: unknown },
  replies: { quotes?: unknown; replace?: unknown },
  members: { quotes: boolean; replace: boolean } = { quotes: true, replace: true },
): { port: BrokerPort; seen: unknown[][] } {
  const seen: unknown[][] = [];
  const reply = async () => undefined;
  const port = {
    id: "third-party",
    capabilities: {
      fractional: true,
      notionalOrders: true,
      closePosition: true,
      orderUpdates: true,
      ...declared,
    },
    getAccount: reply,
    getPositions: reply,
    getPosition: reply,
    getAssets: reply,
    getLatestPrices: reply,
    getClock: reply,
    submitOrder: reply,
    getOrder: reply,
    getOrderByClientOrderId: reply,
    listOpenOrders: reply,
    cancelOrder: reply,
    closePosition: reply,
    subscribeOrderUpdates(l: OrderUpdateListener) {
      l.onStatus?.("connected");
      return { close() {} };
    },
  };
  const extra: Record<string, unknown> = {};
  if (members.quotes)
    extra.getLatestQuotes = async (...args: unknown[]) => {
      seen.push(["getLatestQuotes", ...args]);
      return replies.quotes;
    };
  if (members.replace)
    extra.replaceOrder = async (...args: unknown[]) => {
      seen.push(["replaceOrder", ...args]);
      return replies.replace;
    };
  return { port: Object.assign(port, extra) as unknown as BrokerPort, seen };
}

async function failure(p: Promise<unknown> | undefined): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("quote schema", () => {
  it("accepts a quote with decimals as strings, a missing side at 0, and a crossed quote", () => {
    const quotes = parseLatestQuotes(
      new Map<string, unknown>([
        ["SPY", { bid: "499.98", ask: "500.02", bidSize: "3", askSize: 2, asOf: "2026-11-25T15:00:00Z" }],
        ["ABC", { bid: 0, ask: "10", asOf: at }],
        ["XYZ", { bid: "10.02", ask: "10.01", asOf: at }],
      ]),
    );
    const spy: Quote | undefined = quotes.get("SPY");
    expect(spy?.ask).toEqual(new Decimal("500.02"));
    expect(spy?.bidSize).toEqual(new Decimal(3));
    expect(spy?.asOf).toEqual(at);
    expect(quotes.get("ABC")?.bid.isZero()).toBe(true);
    expect(quotes.get("XYZ")?.bid.gt(quotes.get("XYZ")?.ask ?? 0)).toBe(true);
  });

  it("refuses a negative or NaN side, a missing asOf, a bad symbol: protocol errors", () => {
    for (const bad of [
      { SPY: { bid: "-1", ask: "2", asOf: at } },
      { SPY: { bid: "NaN", ask: "2", asOf: at } },
      { SPY: { bid: "1", ask: "2" } },
      { "not a symbol": { bid: "1", ask: "2", asOf: at } },
      [],
    ]) {
      let error: unknown;
      try {
        parseLatestQuotes(bad);
      } catch (e) {
        error = e;
      }
      expect(isBrokerError(error, "protocol"), JSON.stringify(bad)).toBe(true);
    }
  });
});

describe("replace changes schema", () => {
  it("accepts any non-empty subset of qty, limitPrice and clientOrderId", () => {
    const c: ReplaceOrderChanges = parseReplaceOrderChanges({ qty: "2", limitPrice: "10.05" });
    expect(c.qty).toEqual(new Decimal(2));
    expect(c.limitPrice).toEqual(new Decimal("10.05"));
    expect(parseReplaceOrderChanges({ clientOrderId: "os-r-1" }).clientOrderId).toBe("os-r-1");
  });

  it("refuses no change at all, an unknown key, a price ≤ 0, a malformed client order id", () => {
    for (const bad of [
      {},
      { notional: "5" },
      { limitPrice: 0 },
      { qty: "-1" },
      { clientOrderId: "a b" },
      null,
    ]) {
      let error: unknown;
      try {
        parseReplaceOrderChanges(bad);
      } catch (e) {
        error = e;
      }
      expect(isValidationError(error), JSON.stringify(bad)).toBe(true);
    }
  });
});

describe("checkBroker: getLatestQuotes and replaceOrder", () => {
  it("forwards both members and claims their capabilities when the port declares and has them", async () => {
    const quote = { bid: "9.99", ask: "10.01", asOf: at };
    const { port, seen } = portWith(
      { quotes: true, replace: true },
      { quotes: new Map([["TECL", quote]]), replace: newOrder },
    );
    const safe = checkBroker(port);
    expect(safe.capabilities.quotes).toBe(true);
    expect(safe.capabilities.replace).toBe(true);
    const quotes = await safe.getLatestQuotes?.(["TECL"]);
    expect(quotes?.get("TECL")?.bid).toEqual(new Decimal("9.99"));
    const replaced = await safe.replaceOrder?.("o1", { limitPrice: new Decimal("10.05") });
    expect(replaced?.id).toBe("o2");
    expect(replaced?.limitPrice).toEqual(new Decimal("10.05"));
    expect(seen.map((s) => s[0])).toEqual(["getLatestQuotes", "replaceOrder"]);
  });

  it("does not claim a capability whose member is missing, and leaves undeclared ones alone", () => {
    const missing = checkBroker(
      portWith({ quotes: true, replace: true }, {}, { quotes: false, replace: false }).port,
    );
    expect(missing.getLatestQuotes).toBeUndefined();
    expect(missing.replaceOrder).toBeUndefined();
    expect(missing.capabilities.quotes).toBe(false);
    expect(missing.capabilities.replace).toBe(false);
    const undeclared = checkBroker(portWith({}, {}).port);
    expect(undeclared.capabilities.quotes).toBeUndefined();
    expect(undeclared.capabilities.replace).toBeUndefined();
    const odd = checkBroker(portWith({ quotes: "yes", replace: 1 }, {}).port);
    expect(odd.capabilities.quotes).toBe(false);
    expect(odd.capabilities.replace).toBe(false);
  });

  it("turns a malformed quote map into a protocol error, and a malformed replace reply (a write: the new order may exist) into ambiguous", async () => {
    const bad = checkBroker(
      portWith(
        { quotes: true, replace: true },
        {
          quotes: new Map([["TECL", { bid: "x", ask: "1", asOf: at }]]),
          replace: { ...newOrder, status: "moved" },
        },
      ).port,
    );
    expect(isBrokerError(await failure(bad.getLatestQuotes?.(["TECL"])), "protocol")).toBe(true);
    expect(isBrokerError(await failure(bad.replaceOrder?.("o1", { qty: new Decimal(1) })), "ambiguous")).toBe(
      true,
    );
  });

  it("checks the changes before the call: a bad one is a ValidationError and the port is not called", async () => {
    const { port, seen } = portWith({ replace: true }, { replace: newOrder });
    const safe = checkBroker(port);
    for (const bad of [{}, { limitPrice: -1 }, { side: "sell" }]) {
      expect(isValidationError(await failure(safe.replaceOrder?.("o1", bad as never)))).toBe(true);
    }
    expect(seen).toEqual([]);
    await safe.replaceOrder?.("o1", { limitPrice: "10.05" as never });
    expect(seen[0]?.[2]).toEqual({ limitPrice: new Decimal("10.05") });
  });
});
