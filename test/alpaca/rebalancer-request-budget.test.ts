// The request budget of a 20-order rebalance through SmartRebalancer and the Alpaca adapter,
// counted by the fake Alpaca server (real SDK, HTTP and WebSocket): 10 sells, then 10 buys,
// with a runId. A bot rebalances the same account again and again, so the budget is pinned on
// a run that follows an earlier one within the caches' TTLs: at most 1.5 requests per order,
// reads included (20 submits and 10 reads). Before asset rules and the clock were reused and
// the open orders came from the history call, the same run made 55 requests (2.75 per order:
// 20 asset reads, a clock read, an open-order read and a second history read for the resume).
// The first run on the account still reads every asset's rules: its budget is pinned too.

import { SmartRebalancer } from "ordersafe";
import { expect, it } from "vitest";
import { startRig } from "./fake-alpaca.js";

const SELLS = Array.from({ length: 10 }, (_, i) => `S${i}`);
const BUYS = Array.from({ length: 10 }, (_, i) => `B${i}`);
const quantities = (sell: number, buy: number) =>
  Object.fromEntries([...SELLS.map((s) => [s, sell]), ...BUYS.map((s) => [s, buy])]);

it("a 20-order rebalance after an earlier one on the account costs at most 1.5 requests per order", async () => {
  const rig = await startRig(
    {
      cash: 1_000,
      prices: Object.fromEntries([...SELLS, ...BUYS].map((s) => [s, 50])),
      positions: Object.fromEntries(SELLS.map((s) => [s, 20])),
      latency: { fillMs: 5 },
    },
    {},
  );
  try {
    const rebalancer = new SmartRebalancer({ broker: rig.broker, seed: 1, finalTimeoutMs: 10_000 });
    rig.server.resetRequests();
    const first = await rebalancer.rebalance({ quantities: quantities(10, 10) }, { runId: "budget-1" });
    expect(first.status).toBe("completed");
    expect(first.orders).toHaveLength(20);
    const cold = rig.server.requests();
    expect(first.metrics.restCalls).toBe(cold.length);
    // 20 asset reads (one per symbol), 20 submits, 12 other reads.
    expect(cold.filter((r) => r.path.startsWith("/v2/assets/"))).toHaveLength(20);
    expect(cold.length).toBeLessThanOrEqual(52);

    rig.server.resetRequests();
    const next = await rebalancer.rebalance({ quantities: quantities(5, 15) }, { runId: "budget-2" });
    const sent = rig.server.requests();
    expect(next.status).toBe("completed");
    expect(next.orders).toHaveLength(20);
    expect(next.orders.every((o) => o.state === "filled")).toBe(true);
    expect(next.metrics.restCalls).toBe(sent.length);
    const count = (method: string, path: string) =>
      sent.filter((r) => r.method === method && r.path.startsWith(path)).length;
    expect(count("POST", "/v2/orders")).toBe(20);
    expect(count("GET", "/v2/assets")).toBe(0);
    expect(count("GET", "/v2/clock")).toBe(0);
    expect(sent.length / next.orders.length).toBeLessThanOrEqual(1.5);
  } finally {
    await rig.close();
  }
});
