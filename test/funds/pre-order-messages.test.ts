// Every pre-order check's verdict and message over a matrix of orders, accounts, assets and
// limits, held to a snapshot: the checks are a table of named functions, and what they report
// (reports and logs show these messages) must not drift when one of them changes.

import {
  Decimal,
  type OrderIntentInput,
  type OrderSnapshot,
  type PreOrderContext,
  PreOrderValidator,
  type PreOrderValidatorOptions,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const T0 = Date.UTC(2026, 0, 5, 15, 0);

function world(opts: Omit<PreOrderValidatorOptions, "broker"> = {}) {
  const clock = new VirtualClock({ start: T0 });
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    positions: { FNGU: 100 },
    prices: { FNGU: 30, TECL: 50, XYZ: 20, BAD: 5, GME: 20 },
    assets: { XYZ: { fractionable: false, qtyIncrement: 1 }, BAD: { tradable: false } },
  });
  return { clock, validator: new PreOrderValidator({ broker, ...opts }) };
}

const openSell: OrderSnapshot = {
  id: "o-1",
  clientOrderId: "other-sell",
  symbol: "TECL",
  side: "sell",
  type: "limit",
  timeInForce: "day",
  qty: new Decimal(5),
  limitPrice: new Decimal(55),
  filledQty: new Decimal(0),
  status: "new",
  updatedAt: new Date(T0),
};

const validators: Record<string, Omit<PreOrderValidatorOptions, "broker">> = {
  plain: {},
  limited: {
    riskLimits: {
      maxOrderNotional: 400,
      maxOrderPctOfEquity: 0.02,
      maxPositionWeight: 0.25,
      denyList: ["gme"],
    },
    allowQueueing: true,
    limitPriceBand: "0.05",
  },
};

const intents: Record<string, OrderIntentInput> = {
  "buy 10 TECL": { symbol: "TECL", side: "buy", qty: 10, type: "market", timeInForce: "day" },
  "buy 2.5 TECL gtc": { symbol: "TECL", side: "buy", qty: "2.5", type: "market", timeInForce: "gtc" },
  "buy $0.5 TECL": { symbol: "TECL", side: "buy", notional: "0.5", type: "market", timeInForce: "day" },
  "buy $300 XYZ": { symbol: "XYZ", side: "buy", notional: 300, type: "market", timeInForce: "day" },
  "buy 2.5 XYZ": { symbol: "XYZ", side: "buy", qty: "2.5", type: "market", timeInForce: "day" },
  "buy 1 BAD": { symbol: "BAD", side: "buy", qty: 1, type: "market", timeInForce: "day" },
  "buy 1 NOPE limit": {
    symbol: "NOPE",
    side: "buy",
    qty: 1,
    type: "limit",
    limitPrice: 10,
    timeInForce: "day",
  },
  "buy 1 GME": { symbol: "GME", side: "buy", qty: 1, type: "market", timeInForce: "day" },
  "buy 300 TECL limit 52": {
    symbol: "TECL",
    side: "buy",
    qty: 300,
    type: "limit",
    limitPrice: 52,
    timeInForce: "gtc",
  },
  "buy 10 TECL limit 60": {
    symbol: "TECL",
    side: "buy",
    qty: 10,
    type: "limit",
    limitPrice: 60,
    timeInForce: "day",
  },
  "sell 40 FNGU": { symbol: "FNGU", side: "sell", qty: 40, type: "market", timeInForce: "day" },
  "sell 101 FNGU": { symbol: "FNGU", side: "sell", qty: 101, type: "market", timeInForce: "day" },
  "sell $600 FNGU": { symbol: "FNGU", side: "sell", notional: 600, type: "market", timeInForce: "day" },
  "buy 1 NOPE": { symbol: "NOPE", side: "buy", qty: 1, type: "market", timeInForce: "day" },
  "sell $100 NOPE": { symbol: "NOPE", side: "sell", notional: 100, type: "market", timeInForce: "day" },
  "sell 1 TECL limit 45": {
    symbol: "TECL",
    side: "sell",
    qty: 1,
    type: "limit",
    limitPrice: 45,
    timeInForce: "day",
  },
};

async function contexts(v: { clock: VirtualClock }): Promise<Record<string, PreOrderContext>> {
  const closed = {
    isOpen: false,
    nextOpen: new Date(T0 + 3_600_000),
    nextClose: new Date(T0),
    asOf: new Date(T0),
  };
  return {
    fresh: {},
    "blocked, closed, an open sell": {
      account: {
        cash: new Decimal(500),
        buyingPower: new Decimal(500),
        equity: new Decimal(3_500),
        currency: "USD",
        tradingBlocked: true,
        asOf: new Date(v.clock.now()),
      },
      clock: closed,
      openOrders: [openSell],
    },
    "250 available": { available: 250 },
    "TECL rules without a minimum": {
      asset: { symbol: "TECL", tradable: true, fractionable: true, qtyIncrement: new Decimal("0.000000001") },
    },
  };
}

describe("pre-order check messages", () => {
  it("stay as they were for every check", async () => {
    const lines: string[] = [];
    for (const [vName, opts] of Object.entries(validators)) {
      const w = world(opts);
      for (const [cName, context] of Object.entries(await contexts(w))) {
        for (const [iName, intent] of Object.entries(intents)) {
          const report = await w.clock.run(w.validator.validate(intent, context));
          for (const c of report.checks) {
            lines.push(`${vName} | ${cName} | ${iName} | ${c.name} ${c.ok ? "ok" : "FAIL"}: ${c.message}`);
          }
        }
      }
    }
    expect(lines.length).toBeGreaterThan(500);
    expect(lines.join("\n")).toMatchSnapshot();
  });
});
