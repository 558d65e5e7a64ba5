import {
  type BrokerPort,
  ORDER_EXECUTION_COORDINATOR_DEFAULTS,
  OrderExecutionCoordinator,
  OrderRetryEngine,
  OrderTracker,
  outcomeToJSON,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

function setup(polling = false, sim: Parameters<typeof createSimulatedBroker>[0] = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 1_000,
    prices: { AAA: 100 },
    positions: { AAA: 5 },
    latency: { restMs: 20, fillMs: 100 },
    ...sim,
  });
  const retry = new OrderRetryEngine({ broker, clock, seed: 1 });
  const tracker = polling ? undefined : new OrderTracker({ broker, clock, quietAfterMs: 1_000 });
  const released: string[] = [];
  const reserved: string[] = [];
  const coordinator = new OrderExecutionCoordinator({
    broker,
    retry,
    clock,
    ...(tracker ? { tracker } : {}),
    funds: {
      reserve: async (intent) => {
        reserved.push(intent.clientOrderId ?? "?");
        return intent.notional?.gt(900) ? { ok: false } : { ok: true };
      },
      release: (key) => released.push(key),
    },
  });
  return { clock, broker, coordinator, tracker, reserved, released, retry };
}

describe("OrderExecutionCoordinator", () => {
  for (const polling of [false, true]) {
    it(`executes a buy to filled and releases its reservation (${polling ? "polling" : "stream"})`, async () => {
      const { clock, coordinator, reserved, released, tracker } = setup(polling);
      const outcome = await clock.run(
        coordinator.executeOrder(
          { symbol: "AAA", side: "buy", notional: 500, type: "market", timeInForce: "day" },
          { runId: "c1" },
        ),
      );
      tracker?.close();
      expect(outcome.state).toBe("filled");
      expect(outcome.filledNotional.toFixed(2)).toBe("500.00");
      expect(outcome.attempts).toBe(1);
      expect(reserved).toEqual([outcome.clientOrderId]);
      expect(released).toEqual([outcome.clientOrderId]);
      expect(JSON.parse(JSON.stringify(outcomeToJSON(outcome))).filledQty).toBe(outcome.filledQty.toFixed());
    });
  }

  it("holds the first submission until the stream connects, and not a poll interval longer", async () => {
    // The stream connects 30 ms after the tracker subscribes: the submission goes then.
    const { clock, broker, coordinator, tracker } = setup(false, {
      latency: { restMs: 20, fillMs: 100, streamMs: 30 },
    });
    const start = clock.now();
    let sentAt: number | undefined;
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 1, type: "market", timeInForce: "day" },
        { runId: "c-stream", onSubmitted: () => (sentAt ??= clock.now()) },
      ),
    );
    tracker?.close();
    expect(outcome.state).toBe("filled");
    expect(broker.calls.submitOrder).toBe(1);
    expect((sentAt ?? Number.NaN) - start).toBe(30);
  });

  it("refuses a buy it cannot reserve, without calling the broker", async () => {
    const { clock, broker, coordinator, tracker } = setup();
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "buy", notional: 950, type: "market", timeInForce: "day" },
        { runId: "c2" },
      ),
    );
    tracker?.close();
    expect(outcome).toMatchObject({
      state: "submit_failed",
      errorCode: "insufficient_buying_power",
      attempts: 0,
    });
    expect(broker.calls.submitOrder).toBe(0);
  });

  it("reports an order rejected after acceptance as rejected, never as filled", async () => {
    const { clock, broker, coordinator, tracker } = setup();
    broker.script({ kind: "reject_after_accept", reason: "risk check" });
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 2, type: "market", timeInForce: "day" },
        { runId: "c3" },
      ),
    );
    tracker?.close();
    expect(outcome.state).toBe("rejected");
    expect(outcome.filledQty.isZero()).toBe(true);
  });

  it("follows an order whose fill event is lost to filled through REST", async () => {
    const { clock, broker, coordinator, tracker } = setup();
    broker.script({ kind: "stream_drop", times: 3 });
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 5, type: "market", timeInForce: "day" },
        { runId: "c4" },
      ),
    );
    tracker?.close();
    expect(outcome.state).toBe("filled");
    expect(outcome.filledQty.toString()).toBe("5");
  });

  it("throws validation for a malformed intent before anything is sent", async () => {
    const { clock, broker, coordinator, tracker } = setup();
    await expect(
      clock.run(
        coordinator.executeOrder(
          { symbol: "AAA", side: "buy", qty: -1, type: "market", timeInForce: "day" },
          { runId: "c5" },
        ),
      ),
    ).rejects.toMatchObject({ code: "validation" });
    tracker?.close();
    expect(broker.totalCalls()).toBe(0);
  });

  it("returns halted outcomes while the circuit breaker is open", async () => {
    const { clock, broker, coordinator, retry, tracker } = setup();
    for (let i = 0; i < 5; i++) retry.recordFailure("test");
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 1, type: "market", timeInForce: "day" },
        { runId: "c6" },
      ),
    );
    tracker?.close();
    expect(outcome).toMatchObject({ state: "submit_failed", errorCode: "halted" });
    expect(broker.calls.submitOrder).toBe(0);
  });

  it("a close whose reply was lost and that is still working is found among the open orders and followed", async () => {
    const { clock, broker, coordinator, tracker } = setup(false, { latency: { restMs: 20, fillMs: 500 } });
    broker.script({ kind: "ambiguous", method: "closePosition" });
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 5, type: "market", timeInForce: "day" },
        { runId: "close1", closePosition: true },
      ),
    );
    tracker?.close();
    expect(outcome.state).toBe("filled");
    expect(outcome.recovered).toBe(true);
    expect(outcome.adopted).toBe(false);
    expect(outcome.filledQty.toString()).toBe("5");
    // One close placed, never two.
    expect(broker.orders().filter((o) => o.symbol === "AAA")).toHaveLength(1);
    expect(broker.truth().positions.get("AAA")?.toString() ?? "0").toBe("0");
  });

  it("a close whose reply was lost and that already emptied the position is named from the order history", async () => {
    const { clock, broker, coordinator, tracker } = setup(false, { latency: { restMs: 20, fillMs: 0 } });
    broker.script({ kind: "ambiguous", method: "closePosition" });
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 5, type: "market", timeInForce: "day" },
        { runId: "close2", closePosition: true },
      ),
    );
    tracker?.close();
    const close = broker.orders().filter((o) => o.symbol === "AAA");
    expect(close).toHaveLength(1);
    expect(outcome.state).toBe("filled");
    expect(outcome.recovered).toBe(true);
    expect(outcome.orderId).toBe(close[0]?.id);
    expect(outcome.filledQty.toFixed()).toBe("5");
    expect(broker.truth().positions.get("AAA")?.toString() ?? "0").toBe("0");
  });

  it("without an order history, such a close is unresolved, not a failure", async () => {
    const clock = new VirtualClock();
    const sim = createSimulatedBroker({
      clock,
      cash: 1_000,
      prices: { AAA: 100 },
      positions: { AAA: 5 },
      latency: { restMs: 20, fillMs: 0 },
    });
    // The same broker, its order history hidden.
    const broker: BrokerPort = Object.create(sim, {
      capabilities: { value: { ...sim.capabilities, orderHistory: false } },
      listOrders: { value: undefined },
    });
    sim.script({ kind: "ambiguous", method: "closePosition" });
    const coordinator = new OrderExecutionCoordinator({
      broker,
      retry: new OrderRetryEngine({ broker, clock, seed: 1 }),
      clock,
      polling: true,
    });
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 5, type: "market", timeInForce: "day" },
        { runId: "close3", closePosition: true },
      ),
    );
    expect(outcome.state).toBe("unresolved");
    expect(outcome.errorCode).toBe("ambiguous");
    expect(sim.orders().filter((o) => o.symbol === "AAA")).toHaveLength(1);
    expect(sim.truth().positions.get("AAA")?.toString() ?? "0").toBe("0");
  });
});

describe("OrderExecutionCoordinator steps", () => {
  const sellIntent = { symbol: "AAA", side: "sell", qty: 2, type: "market", timeInForce: "day" } as const;

  it("refuses an intent its validator rejects, naming the failed checks, without calling the broker", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock, cash: 1_000, prices: { AAA: 100 }, positions: { AAA: 5 } });
    const coordinator = new OrderExecutionCoordinator({
      broker,
      retry: new OrderRetryEngine({ broker, clock }),
      clock,
      validator: {
        validate: async () => ({
          ok: false,
          checks: [
            { name: "tradable", ok: true },
            { name: "quantity", ok: false, message: "too many" },
            { name: "market_open", ok: false },
          ],
        }),
      },
    });
    const outcome = await clock.run(coordinator.executeOrder(sellIntent, { runId: "v1" }));
    expect(outcome).toMatchObject({
      state: "submit_failed",
      errorCode: "rejected",
      errorMessage: "[ordersafe] pre-order checks failed: quantity (too many), market_open",
      attempts: 0,
      submittedAt: undefined,
    });
    expect(broker.calls.submitOrder).toBe(0);
  });

  it("reconciles the position after a fill, and only logs a reconciliation that fails", async () => {
    const { clock, broker, retry } = setup(true);
    const reconciled: string[] = [];
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_: unknown, message: string) => warnings.push(message),
      error() {},
    };
    let fail = false;
    const coordinator = new OrderExecutionCoordinator({
      broker,
      retry,
      clock,
      logger,
      reconciler: {
        reconcileAfterOrder: async (order) => {
          reconciled.push(`${order.symbol} ${order.status} ${order.filledQty.toFixed()}`);
          if (fail) throw new Error("position read failed");
        },
      },
    });
    const first = await clock.run(coordinator.executeOrder(sellIntent, { runId: "rc1" }));
    expect(first.state).toBe("filled");
    fail = true;
    const second = await clock.run(coordinator.executeOrder(sellIntent, { runId: "rc2" }));
    expect(second.state).toBe("filled");
    expect(reconciled).toEqual(["AAA filled 2", "AAA filled 2"]);
    expect(warnings).toEqual(["[ordersafe] reconcile after order failed"]);
  });

  it("releases a reservation when the submit is refused", async () => {
    const { clock, broker, coordinator, reserved, released, tracker } = setup();
    broker.script({ kind: "unavailable", method: "submitOrder", times: 10 });
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "buy", notional: 100, type: "market", timeInForce: "day" },
        { runId: "rel1" },
      ),
    );
    tracker?.close();
    expect(outcome.state).toBe("submit_failed");
    expect(outcome.errorCode).toBe("unavailable");
    expect(released).toEqual(reserved);
    expect(released).toHaveLength(1);
  });

  it("applies ORDER_EXECUTION_COORDINATOR_DEFAULTS.finalTimeoutMs to an order that never ends", async () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock, cash: 1_000, prices: { AAA: 100 }, positions: { AAA: 5 } });
    const coordinator = new OrderExecutionCoordinator({
      broker,
      retry: new OrderRetryEngine({ broker, clock }),
      clock,
    });
    const start = clock.now();
    // A limit far above the price never fills; polled without a tracker until the bound.
    const outcome = await clock.run(
      coordinator.executeOrder(
        { symbol: "AAA", side: "sell", qty: 1, type: "limit", limitPrice: 1_000, timeInForce: "day" },
        { runId: "t1" },
      ),
    );
    expect(outcome.state).toBe("unresolved");
    expect(outcome.finalAt - start).toBeGreaterThanOrEqual(
      ORDER_EXECUTION_COORDINATOR_DEFAULTS.finalTimeoutMs,
    );
    expect(outcome.finalAt - start).toBeLessThan(
      ORDER_EXECUTION_COORDINATOR_DEFAULTS.finalTimeoutMs +
        2 * ORDER_EXECUTION_COORDINATOR_DEFAULTS.pollIntervalMs,
    );
  });
});
