// A write's reply that fails the schema or does not match the request means the order may
// exist: BrokerError("ambiguous"), settled by client order id. Never `submit_failed`
// ("certainly never placed"), never the reply taken as it is.

import {
  checkBroker,
  Decimal,
  isBrokerError,
  OrderRetryEngine,
  type RebalanceReport,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, REPLY_CORRUPTIONS, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const request = {
  clientOrderId: "os-test-aaa-buy-0",
  symbol: "AAA",
  side: "buy",
  type: "market",
  timeInForce: "day",
  qty: new Decimal(3),
} as const;

function world() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 5,
    cash: 2_000,
    positions: { AAA: 100 },
    prices: { AAA: 10, BBB: 20, CCC: 5 },
    latency: { restMs: 20, fillMs: 100 },
  });
  return { clock, broker };
}

function essence(report: RebalanceReport) {
  return {
    status: report.status,
    orders: report.orders
      .map((o) => `${o.symbol}:${o.side}:${o.state}:${o.filledQty.toFixed()}:${o.requestedQty?.toFixed()}`)
      .sort(),
  };
}

const targets = { weights: { AAA: 0.2, BBB: 0.5, CCC: 0.3 } };

async function baseline() {
  const { clock, broker } = world();
  const report = await clock.run(new SmartRebalancer({ broker, clock, seed: 1 }).rebalance(targets));
  return { report, positions: broker.truth().positions };
}

describe("write replies", () => {
  it.each(REPLY_CORRUPTIONS)(
    "a checked port turns a %s submit reply into ambiguous, and the order exists",
    async (change) => {
      const { clock, broker } = world();
      broker.corruptReplies({ method: "submitOrder", change });
      const error = await clock.run(
        checkBroker(broker)
          .submitOrder(request)
          .catch((e: unknown) => e),
      );
      expect(isBrokerError(error, "ambiguous")).toBe(true);
      expect(broker.findOrder(request.clientOrderId)?.qty?.toFixed()).toBe("3");
    },
  );

  it.each(["unknown_status", "other_symbol", "nan_filled_qty"] as const)(
    "a checked port turns a %s closePosition reply into ambiguous",
    async (change) => {
      const { clock, broker } = world();
      broker.corruptReplies({ method: "closePosition", change });
      const error = await clock.run(
        checkBroker(broker)
          .closePosition("AAA")
          .catch((e: unknown) => e),
      );
      expect(isBrokerError(error, "ambiguous")).toBe(true);
    },
  );

  it("a reply that matches the request passes the checked port unchanged", async () => {
    const { clock, broker } = world();
    const order = await clock.run(checkBroker(broker).submitOrder(request));
    expect(order.clientOrderId).toBe(request.clientOrderId);
    expect(order.qty?.toFixed()).toBe("3");
  });

  it.each(REPLY_CORRUPTIONS)(
    "the retry engine settles a %s submit reply by client order id and adopts the true order",
    async (change) => {
      const { clock, broker } = world();
      broker.corruptReplies({ method: "submitOrder", change });
      const engine = new OrderRetryEngine({ broker, clock, seed: 3 });
      const r = await clock.run(
        engine.executeWithRetry(
          { symbol: "AAA", side: "buy", qty: new Decimal(3), type: "market", timeInForce: "day" },
          { runId: "hardening" },
        ),
      );
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.recovered).toBe(true);
      expect(r.order.qty?.toFixed()).toBe("3");
      expect(r.order.symbol).toBe("AAA");
      expect(r.order.side).toBe("buy");
      expect(r.order.clientOrderId).toBe(r.clientOrderId);
      expect(broker.calls.submitOrder).toBe(1);
      expect(broker.calls.getOrderByClientOrderId).toBeGreaterThan(0);
    },
  );

  it("a malformed submit reply whose lookups fail ends unresolved, never submit_failed", async () => {
    const { clock, broker } = world();
    broker.corruptReplies({ method: "submitOrder", change: "unknown_status" });
    broker.script({ kind: "unavailable", method: "getOrderByClientOrderId", times: 3 });
    const engine = new OrderRetryEngine({ broker, clock, seed: 3 });
    const r = await clock.run(
      engine.executeWithRetry(
        { symbol: "AAA", side: "buy", qty: new Decimal(3), type: "market", timeInForce: "day" },
        { runId: "hardening" },
      ),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.unresolved).toBe(true);
    expect(r.code).toBe("ambiguous");
    expect(broker.calls.submitOrder).toBe(1);
  });

  it.each(REPLY_CORRUPTIONS)(
    "a rebalance whose first submit reply is %s trades and reports exactly what a clean run does",
    async (change) => {
      const expected = await baseline();
      const { clock, broker } = world();
      broker.corruptReplies({ method: "submitOrder", change });
      const report = await clock.run(new SmartRebalancer({ broker, clock, seed: 1 }).rebalance(targets));
      expect(report.orders.some((o) => o.state === "submit_failed")).toBe(false);
      expect(essence(report)).toEqual(essence(expected.report));
      expect(broker.truth().positions).toEqual(expected.positions);
      // The spoilt reply was never taken as it is: one order per leg, none sent twice.
      expect(new Set(broker.orders().map((o) => o.clientOrderId)).size).toBe(broker.orders().length);
      expect(broker.orders().length).toBe(expected.report.orders.length);
    },
  );
});
