import { Decimal, RebalanceTargetsSchema } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { ExecutionRecord } from "../../src/account/execution-record.js";
import { observedPort } from "../../src/account/observed-port.js";
import { SETTLE_DEFAULTS } from "../../src/account/settle.js";
import { planFromState } from "../../src/execution/plan-from-state.js";
import { type FreshState, readFreshState, readOrders } from "../../src/execution/read-state.js";

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
    // The targeted symbols (and the named one) in the first wave; the symbols only the
    // positions and open orders name (BBB, CCC) once those arrive: one wave later.
    expect(broker.calls).toMatchObject({
      getAccount: 1,
      getPositions: 1,
      listOpenOrders: 1,
      getClock: 1,
      getLatestPrices: 2,
      getAssets: 2,
    });
    expect(clock.now() - readAt).toBe(20);
  });

  it("reads everything in one wave when the targets name every symbol involved", async () => {
    const { clock, broker, reader } = setup();
    const both = RebalanceTargetsSchema.parse({ weights: { AAA: 0.5, BBB: 0.2 } });
    const readAt = clock.now();
    const state = await clock.run(readFreshState(reader, both));
    expect([...state.prices.keys()]).toEqual(["AAA", "BBB"]);
    expect(state.assets.map((a) => a.symbol)).toEqual(["AAA", "BBB"]);
    expect(state.positions.map((p) => p.symbol)).toEqual(["BBB"]);
    expect(state.accountUnsettled).toBe(false);
    // One REST latency (10 ms) for every read: account, positions, orders, clock, prices, rules.
    expect(clock.now() - readAt).toBe(10);
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

describe("readOrders", () => {
  const WINDOW = 900_000;
  const limitBuy = (id: string, symbol = "CCC") => ({
    clientOrderId: id,
    symbol,
    side: "buy" as const,
    type: "limit" as const,
    timeInForce: "gtc" as const,
    qty: new Decimal(1),
    limitPrice: new Decimal(5),
  });
  const ids = (orders: readonly { clientOrderId: string }[]) => orders.map((o) => o.clientOrderId).sort();

  /** The reader as a run makes it: every order read is learned by the account's record. */
  const observed = (w: ReturnType<typeof setup>) => ({
    ...w.reader,
    broker: observedPort(w.broker, w.reader.record, w.clock),
    recentOrdersMs: WINDOW,
  });

  it("after one complete list of the open orders, one history call gives exactly the open orders", async () => {
    const w = setup();
    const { clock, broker } = w;
    const r = observed(w);
    await clock.run(broker.submitOrder(limitBuy("old-1")));
    await clock.advance(60_000);
    broker.resetCalls();
    // Never listed: the open orders and the recent history, two calls.
    const at = clock.now();
    const first = await clock.run(readOrders(r, at));
    expect(broker.calls).toMatchObject({ listOpenOrders: 1, listOrders: 1 });
    expect(ids(first.open)).toEqual(["old-1"]);
    expect(first.history?.after).toBe(at - WINDOW);

    // Meanwhile: a new order, and the old one cancelled.
    await clock.run(broker.submitOrder(limitBuy("new-1", "DDD")));
    const old = broker.findOrder("old-1");
    if (old === undefined) throw new Error("old-1 is not listed");
    await clock.run(broker.cancelOrder(old.id));
    await clock.advance(30_000);
    broker.resetCalls();
    const second = await clock.run(readOrders(r, clock.now()));
    expect(broker.calls).toMatchObject({ listOpenOrders: 0, listOrders: 1 });
    expect(ids(second.open)).toEqual(ids(await clock.run(broker.listOpenOrders())));
    expect(ids(second.open)).toEqual(["new-1"]);
    expect(second.history?.orders.map((o) => o.clientOrderId)).toContain("old-1");
  });

  it("an order that may be open and was submitted before twice the window: the open orders are read on their own", async () => {
    const w = setup();
    const { clock, broker } = w;
    const r = observed(w);
    await clock.run(broker.submitOrder(limitBuy("resting-1")));
    await clock.advance(2 * WINDOW);
    // Listed just now, but the resting order is older than twice the window.
    await clock.run(readOrders(r, clock.now()));
    broker.resetCalls();
    const later = await clock.run(readOrders(r, clock.now()));
    expect(broker.calls).toMatchObject({ listOpenOrders: 1, listOrders: 1 });
    expect(ids(later.open)).toEqual(["resting-1"]);
  });

  it("without an order history (or with recentOrdersMs 0) the open orders are one call and nothing else", async () => {
    const { clock, broker, reader } = setup();
    await clock.run(readOrders(reader, clock.now()));
    broker.resetCalls();
    const again = await clock.run(readOrders(reader, clock.now()));
    expect(broker.calls).toMatchObject({ listOpenOrders: 1, listOrders: 0 });
    expect(again.history).toBeUndefined();
  });

  it("a history call that fails falls back to the open orders", async () => {
    const w = setup();
    const { clock, broker } = w;
    const r = { ...observed(w), attempts: 1 };
    await clock.run(broker.submitOrder(limitBuy("o-1")));
    await clock.run(readOrders(r, clock.now()));
    broker.resetCalls();
    broker.script({ kind: "unavailable", method: "listOrders", times: 2 });
    const out = await clock.run(readOrders(r, clock.now()));
    expect(broker.calls.listOpenOrders).toBe(1);
    expect(ids(out.open)).toEqual(["o-1"]);
    expect(out.history).toBeUndefined();
  });
});
