import { Decimal, RebalanceTargetsSchema } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { ExecutionRecord } from "../../src/account/execution-record.js";
import { SETTLE_DEFAULTS } from "../../src/account/settle.js";
import { planFromState } from "../../src/execution/plan-from-state.js";
import { type FreshState, readFreshState } from "../../src/execution/read-state.js";

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 5_000,
    prices: { AAA: 100, BBB: 50, CCC: 20, DDD: 10 },
    positions: { BBB: 10 },
    latency: { restMs: 10, fillMs: 20 },
  });
  const reader = {
    broker,
    clock,
    attempts: 3,
    signal: undefined,
    record: new ExecutionRecord(),
    settle: SETTLE_DEFAULTS,
  };
  return { clock, broker, reader };
}

const targets = RebalanceTargetsSchema.parse({ weights: { AAA: 0.5 } });

describe("readFreshState", () => {
  it("reads account, positions, orders and clock, then prices and rules of each symbol", async () => {
    const { clock, broker, reader } = setup();
    // An open order on a symbol neither held nor targeted.
    await clock.run(
      broker.submitOrder({
        clientOrderId: "other-1",
        symbol: "CCC",
        side: "buy",
        type: "limit",
        timeInForce: "day",
        qty: new Decimal(1),
        limitPrice: new Decimal(5),
      }),
    );
    broker.resetCalls();
    const readAt = clock.now();
    const state = await clock.run(readFreshState(reader, targets, { extraSymbol: "DDD" }));
    expect(state.readAt).toBe(readAt);
    expect([...state.prices.keys()]).toEqual(["AAA", "BBB", "CCC", "DDD"]);
    expect(state.assets.map((a) => a.symbol)).toEqual(["AAA", "BBB", "CCC", "DDD"]);
    expect(state.positions.map((p) => p.symbol)).toEqual(["BBB"]);
    expect(state.openOrders.map((o) => o.clientOrderId)).toEqual(["other-1"]);
    expect(state.clock?.isOpen).toBe(true);
    expect(broker.calls).toMatchObject({
      getAccount: 1,
      getPositions: 1,
      listOpenOrders: 1,
      getClock: 1,
      getLatestPrices: 1,
      getAssets: 1,
    });
  });

  it("a re-read reuses clock and rules and refreshes the prices it knows in the first wave", async () => {
    const { clock, broker, reader } = setup();
    const first = await clock.run(readFreshState(reader, targets));
    broker.resetCalls();
    broker.setPrice("AAA", 110);
    const again = await clock.run(readFreshState(reader, targets, { previous: first }));
    expect(again.clock).toBe(first.clock);
    expect(again.assets).toBe(first.assets);
    expect(again.prices.get("AAA")?.toFixed()).toBe("110");
    expect(broker.calls).toMatchObject({ getClock: 0, getAssets: 0, getLatestPrices: 1 });
  });

  it("retries a read that fails, then throws when every attempt failed", async () => {
    const { clock, broker, reader } = setup();
    broker.script({ kind: "unavailable", method: "getAccount", times: 2 });
    const state = await clock.run(readFreshState(reader, targets));
    expect(state.account.cash.toFixed()).toBe("5000");
    expect(broker.calls.getAccount).toBe(3);
    broker.script({ kind: "unavailable", method: "getPositions", times: 3 });
    await expect(clock.run(readFreshState(reader, targets))).rejects.toMatchObject({ code: "unavailable" });
  });
});

describe("planFromState", () => {
  const state = (cash: number, buyingPower: number): FreshState => ({
    account: {
      cash: new Decimal(cash),
      buyingPower: new Decimal(buyingPower),
      equity: new Decimal(cash + 500),
      currency: "USD",
      tradingBlocked: false,
      asOf: new Date(0),
    },
    positions: [{ symbol: "BBB", qty: new Decimal(10), qtyAvailable: new Decimal(10) }],
    openOrders: [],
    unsettled: [],
    accountUnsettled: false,
    clock: undefined,
    prices: new Map([
      ["AAA", new Decimal(100)],
      ["BBB", new Decimal(50)],
    ]),
    assets: ["AAA", "BBB"].map((symbol) => ({
      symbol,
      tradable: true,
      fractionable: true,
      qtyIncrement: new Decimal("0.000000001"),
    })),
    readAt: 0,
  });
  const capabilities = { fractional: true, notionalOrders: true, closePosition: true, orderUpdates: true };
  const input = { targets, capabilities, options: { cashBuffer: 0 }, sides: "both" as const };

  it("counts the cash, or the buying power when it is less", () => {
    const available = (cash: number, bp: number) => {
      const b = planFromState(state(cash, bp), input).summary.budget;
      // What the buys may use, less what the plan's own sells bring and the buffer keeps.
      return b.available.minus(b.sellProceeds).plus(b.buffer).toFixed();
    };
    expect(available(1_000, 5_000)).toBe("1000");
    expect(available(1_000, 400)).toBe("400");
  });

  it("plans only the side asked for, with the options given", () => {
    const both = planFromState(state(1_000, 1_000), input);
    expect(both.legs.map((l) => `${l.side} ${l.symbol}`)).toEqual(["sell BBB", "buy AAA"]);
    const buys = planFromState(state(1_000, 1_000), { ...input, sides: "buys" });
    expect(buys.legs.map((l) => `${l.side} ${l.symbol}`)).toEqual(["buy AAA"]);
    const kept = planFromState(state(1_000, 1_000), { ...input, options: { keep: ["BBB"] } });
    expect(kept.sells).toEqual([]);
  });
});
