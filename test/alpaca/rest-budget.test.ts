import { Decimal, type OrderUpdate } from "ordersafe";
import { expect, it } from "vitest";
import { startRig, until } from "./fake-alpaca.js";

// A 20-order rebalance driven directly on the port: fresh reads, 10 sells, a re-read of the
// account, 10 buys, fills confirmed by the stream, one reconcile read. Counts the REST
// requests the fake server received per order.
it("a 20-order flow costs a bounded number of REST calls per order", async () => {
  const sellSyms = Array.from({ length: 10 }, (_, i) => `S${i}`);
  const buySyms = Array.from({ length: 10 }, (_, i) => `B${i}`);
  const prices = Object.fromEntries([...sellSyms, ...buySyms].map((s) => [s, 50]));
  const rig = await startRig(
    {
      cash: 1_000,
      prices,
      positions: Object.fromEntries(sellSyms.map((s) => [s, 20])),
      latency: { fillMs: 5 },
    },
    {},
  );
  const fills = new Set<string>();
  const sub = rig.broker.subscribeOrderUpdates({
    onUpdate: (u: OrderUpdate) => {
      if (u.event === "fill") fills.add(u.order.clientOrderId);
    },
  });
  await until(() => rig.server.streamClients() === 1);
  rig.server.resetRequests();

  const all = [...sellSyms, ...buySyms];
  await Promise.all([
    rig.broker.getAccount(),
    rig.broker.getPositions(),
    rig.broker.listOpenOrders(),
    rig.broker.getLatestPrices(all),
    rig.broker.getAssets(all),
    rig.broker.getClock(),
  ]);
  const sells = await Promise.all(
    sellSyms.map((s) =>
      rig.broker.submitOrder({
        clientOrderId: `r-sell-${s}`,
        symbol: s,
        side: "sell",
        type: "market",
        timeInForce: "day",
        qty: new Decimal(10),
      }),
    ),
  );
  await until(() => sells.every((o) => fills.has(o.clientOrderId)));
  await rig.broker.getAccount();
  const buys = await Promise.all(
    buySyms.map((s) =>
      rig.broker.submitOrder({
        clientOrderId: `r-buy-${s}`,
        symbol: s,
        side: "buy",
        type: "market",
        timeInForce: "day",
        notional: new Decimal(500),
      }),
    ),
  );
  await until(() => buys.every((o) => fills.has(o.clientOrderId)));
  await rig.broker.getPositions();
  sub.close();

  const requests = rig.server.requests();
  const perOrder = requests.length / 20;
  // 20 asset reads + 5 other fresh reads (one latest-trades call for all 20) + 20 submits + 2 re-reads = 47.
  expect(requests.filter((r) => r.method === "POST")).toHaveLength(20);
  expect(requests).toHaveLength(47);
  expect(perOrder).toBeLessThanOrEqual(2.5);
  await rig.close();
});
