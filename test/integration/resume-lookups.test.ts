import { type BrokerPort, clientOrderId, isOrdersafeError, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { MAX_GENERATIONS } from "../../src/execution/resume-generations.js";

const SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ"];

function tenSymbols(extra: Parameters<typeof createSimulatedBroker>[0] = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 5,
    cash: "0",
    positions: Object.fromEntries(SYMBOLS.map((s) => [s, "100"])),
    prices: Object.fromEntries(SYMBOLS.map((s) => [s, "10.00"])),
    latency: { restMs: 50, fillMs: 200 },
    ...extra,
  });
  return { clock, broker };
}

/** Equal weights but AAA and BBB trimmed, CCC and DDD grown: four legs out of ten symbols. */
const TARGETS = {
  weights: Object.fromEntries(
    SYMBOLS.map((s) => [s, s === "AAA" || s === "BBB" ? 0.05 : s === "CCC" || s === "DDD" ? 0.15 : 0.1]),
  ),
};

const refusals = (broker: { eventLog(): readonly { type: string }[] }) =>
  broker.eventLog().filter((e) => e.type === "refused").length;

/** The same port without its order history (a port that does not offer one). */
function withoutHistory(port: BrokerPort): BrokerPort {
  return {
    id: port.id,
    capabilities: { ...port.capabilities, orderHistory: false },
    getAccount: port.getAccount.bind(port),
    getPositions: port.getPositions.bind(port),
    getPosition: port.getPosition.bind(port),
    getAssets: port.getAssets.bind(port),
    getLatestPrices: port.getLatestPrices.bind(port),
    getClock: port.getClock.bind(port),
    submitOrder: port.submitOrder.bind(port),
    getOrder: port.getOrder.bind(port),
    getOrderByClientOrderId: port.getOrderByClientOrderId.bind(port),
    listOpenOrders: port.listOpenOrders.bind(port),
    cancelOrder: port.cancelOrder.bind(port),
    closePosition: port.closePosition.bind(port),
    subscribeOrderUpdates: port.subscribeOrderUpdates.bind(port),
  };
}

describe("resume: the earlier attempt's orders are learned before the plan", () => {
  it("a runId rebalance learns them from one order-history read, with no lookup per pair", async () => {
    const { clock, broker } = tenSymbols();
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance(TARGETS, { runId: "few" }),
    );
    const legs = (report.plan?.sells.length ?? 0) + (report.buyPlan?.buys.length ?? 0);
    expect(legs).toBe(4);
    expect(report.status).toBe("completed");
    expect(broker.calls.getOrderByClientOrderId).toBe(0);
    // One read of the order history with each settled read (the first, the re-read before the
    // buys, the reconcile); the first reaches back over the resume's lookback, so the earlier
    // attempt is learned from it with no list of its own.
    expect(broker.calls.listOrders).toBe(3);
  });

  it("without an order history, every generation of every pair it may touch is looked up", async () => {
    const { clock, broker } = tenSymbols();
    const report = await clock.run(
      new SmartRebalancer({ broker: withoutHistory(broker), clock }).rebalance(TARGETS, { runId: "few" }),
    );
    expect(report.status).toBe("completed");
    expect(broker.calls.listOrders).toBe(0);
    // 10 symbols × 2 sides × every generation of a pair.
    expect(broker.calls.getOrderByClientOrderId).toBe(10 * 2 * MAX_GENERATIONS);
  });

  it("a run without a runId looks nothing up", async () => {
    const { clock, broker } = tenSymbols();
    const report = await clock.run(new SmartRebalancer({ broker, clock }).rebalance(TARGETS));
    expect(report.metrics.ordersSubmitted).toBe(4);
    expect(broker.calls.getOrderByClientOrderId).toBe(0);
  });

  it("a crashed run's orders are adopted and followed before the plan, without a lookup", async () => {
    const { clock, broker } = tenSymbols({ latency: { restMs: 50, fillMs: 5_000 } });
    const ac = new AbortController();
    clock.schedule(1_000, () => ac.abort(new Error("crash")));
    const err = await clock
      .run(new SmartRebalancer({ broker, clock }).rebalance(TARGETS, { runId: "crash-2", signal: ac.signal }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isOrdersafeError(err) && err.code).toBe("aborted");
    const left = broker.orders().filter((o) => o.status !== "filled");
    expect(left.map((o) => `${o.side} ${o.symbol}`).sort()).toEqual(["sell AAA", "sell BBB"]);

    const lookupsBefore = broker.calls.getOrderByClientOrderId;
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance(TARGETS, { runId: "crash-2" }),
    );
    const adopted = report.orders.filter((o) => o.adopted);
    expect(adopted.map((o) => o.symbol).sort()).toEqual(["AAA", "BBB"]);
    expect(adopted.every((o) => o.state === "filled")).toBe(true);
    // Learned from the order history: no lookup by client order id.
    expect(broker.calls.getOrderByClientOrderId - lookupsBefore).toBe(0);
    const ids = broker.orders().map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(broker.orders().filter((o) => o.side === "sell")).toHaveLength(2);
    expect(broker.orders().filter((o) => o.side === "buy")).toHaveLength(2);
    expect(refusals(broker)).toBe(0);
  });

  it("a new order on a pair an earlier attempt traded takes the next generation", async () => {
    const { clock, broker } = tenSymbols();
    await clock.run(new SmartRebalancer({ broker, clock }).rebalance(TARGETS, { runId: "again" }));
    // Someone sells CCC outside: the same run, asked again, buys it back at generation 1.
    broker.outsideTrade("CCC", "-40");
    const report = await clock.run(
      new SmartRebalancer({ broker, clock }).rebalance(TARGETS, { runId: "again" }),
    );
    const buy = report.orders.find((o) => o.symbol === "CCC" && !o.adopted);
    expect(buy?.state).toBe("filled");
    expect(buy?.clientOrderId).toBe(
      clientOrderId({ runId: "again", symbol: "CCC", side: "buy", generation: 1 }),
    );
    expect(refusals(broker)).toBe(0);
    const ids = broker.orders().map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
