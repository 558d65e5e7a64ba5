import { Decimal, SmartRebalancer } from "ordersafe";
import { expect, it } from "vitest";
import { startRig } from "./fake-alpaca.js";

// The incident (reference/incident.md) end to end through the Alpaca adapter: the real SDK
// over HTTP and WebSocket to the fake server. The bot wanted to trim FNGU and grow TECL;
// it must sell only the difference, wait for the sell, re-read cash, then buy — and the
// trade-updates stream drops mid-rebalance, so the tracker must catch up by REST.
it("trims FNGU and grows TECL through the adapter, surviving a stream drop mid-rebalance", async () => {
  const rig = await startRig(
    {
      cash: "3432.62",
      positions: { FNGU: "1591.166892", TECL: "200" },
      prices: { FNGU: "33.05", TECL: "52.6" },
      latency: { restMs: 2, fillMs: 40, streamMs: 1 },
    },
    {},
  );
  const rebalancer = new SmartRebalancer({
    broker: rig.broker,
    tracker: { quietAfterMs: 300, pollIntervalMs: 50 },
    streamWaitMs: 2_000,
    finalTimeoutMs: 10_000,
  });
  // Drop the stream as soon as the first order is sent.
  let dropped = false;
  const watcher = setInterval(() => {
    if (!dropped && rig.server.requests().some((r) => r.method === "POST")) {
      dropped = true;
      rig.server.dropStream();
    }
  }, 1);
  rig.server.resetRequests();
  const report = await rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }, { runId: "incident" });
  clearInterval(watcher);

  expect(dropped).toBe(true);
  expect(report.status).toBe("completed");
  const orders = rig.server.broker.orders();
  const fngu = orders.filter((o) => o.symbol === "FNGU");
  const tecl = orders.filter((o) => o.symbol === "TECL");
  // A delta, not a liquidation and rebuy: one FNGU sell smaller than the holding, TECL buys only.
  expect(fngu.every((o) => o.side === "sell")).toBe(true);
  expect(tecl.every((o) => o.side === "buy")).toBe(true);
  const sold = fngu.reduce((s, o) => s.plus(o.filledQty), new Decimal(0));
  expect(sold.gt(0) && sold.lt("1591.166892")).toBe(true);
  expect(orders.every((o) => o.status === "filled")).toBe(true);
  for (const o of report.orders) expect(o.state).toBe("filled");

  const truth = rig.server.broker.truth();
  const equity = truth.cash
    .plus((truth.positions.get("FNGU") ?? new Decimal(0)).times("33.05"))
    .plus((truth.positions.get("TECL") ?? new Decimal(0)).times("52.6"));
  const fnguWeight = (truth.positions.get("FNGU") ?? new Decimal(0)).times("33.05").div(equity);
  expect(fnguWeight.minus(0.5).abs().lt(0.02)).toBe(true);

  const perOrder = rig.server.requests().length / orders.length;
  console.info(
    `incident rebalance: ${orders.length} orders, ${rig.server.requests().length} REST calls, ${perOrder.toFixed(1)} per order`,
  );
  await rig.close();
});

it("a 20-order rebalance through SmartRebalancer and the adapter: REST calls per order", async () => {
  const syms = Array.from({ length: 20 }, (_, i) => `A${String.fromCharCode(65 + i)}`);
  const rig = await startRig(
    {
      cash: "1000",
      prices: Object.fromEntries(syms.map((s) => [s, 50])),
      positions: Object.fromEntries(syms.map((s) => [s, 100])),
      latency: { restMs: 1, fillMs: 10, streamMs: 1 },
    },
    {},
  );
  const rebalancer = new SmartRebalancer({ broker: rig.broker, finalTimeoutMs: 10_000 });
  // First ten shrink to 3%, last ten grow to 7%: 10 sells, then 10 buys.
  const weights = Object.fromEntries(syms.map((s, i) => [s, i < 10 ? 0.03 : 0.0695]));
  rig.server.resetRequests();
  const report = await rebalancer.rebalance({ weights }, { runId: "twenty" });
  expect(report.status).toBe("completed");
  const orders = rig.server.broker.orders();
  expect(orders).toHaveLength(20);
  const calls = rig.server.requests().length;
  console.info(`20-order rebalance: ${calls} REST calls, ${(calls / 20).toFixed(2)} per order`);
  expect(calls / 20).toBeLessThan(6);
  await rig.close();
});
