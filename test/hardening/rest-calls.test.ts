// The report counts what the broker was sent: `metrics.restCalls` is the number of HTTP
// requests (a getAssets of N symbols through Alpaca is N requests), and
// `metrics.buyingPowerRejections` counts every refusal, the ones a resized retry got past
// included. Against the fake Alpaca server, over real HTTP.

import { SmartRebalancer } from "ordersafe";
import { describe, expect, it } from "vitest";
import { startRig } from "../alpaca/fake-alpaca.js";

describe("restCalls counts HTTP requests", () => {
  it("equals the requests the server received during the run", async () => {
    const syms = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"];
    const rig = await startRig(
      {
        cash: "1000",
        prices: Object.fromEntries(syms.map((s) => [s, 50])),
        positions: { AAA: 40, BBB: 40, CCC: 20 },
        latency: { restMs: 1, fillMs: 5, streamMs: 1 },
      },
      {},
    );
    try {
      const rebalancer = new SmartRebalancer({ broker: rig.broker, finalTimeoutMs: 10_000 });
      const weights = Object.fromEntries(syms.map((s) => [s, 0.16]));
      rig.server.resetRequests();
      const report = await rebalancer.rebalance({ weights }, { runId: "count" });
      const sent = rig.server.requests();
      expect(report.status).toBe("completed");
      // Six symbols: at least six asset requests, so more requests than port calls.
      expect(sent.filter((r) => r.path.startsWith("/v2/assets/")).length).toBeGreaterThanOrEqual(6);
      expect(report.metrics.restCalls).toBe(sent.length);
    } finally {
      await rig.close();
    }
  });

  it("a caller's own onRequest is told of each request; retries of the run count", async () => {
    const rig = await startRig({ cash: "1000", prices: { AAA: 50, BBB: 20 } }, {});
    try {
      const told: string[] = [];
      await rig.broker.getAssets(["AAA", "BBB", "ZZZ"], { onRequest: (i) => told.push(i.method) });
      expect(told).toEqual(["getAssets", "getAssets", "getAssets"]);
      expect(rig.broker.capabilities.requestReports).toBe(true);

      // Two 500s on the account read: the run retries, and each request counts.
      const rebalancer = new SmartRebalancer({ broker: rig.broker, finalTimeoutMs: 10_000 });
      rig.server.script({ kind: "http_500", method: "GET", path: "/v2/account", times: 2 });
      rig.server.resetRequests();
      const report = await rebalancer.rebalance({ weights: { AAA: 0.5 } }, { runId: "retries" });
      expect(rig.server.requests().filter((r) => r.status === 500)).toHaveLength(2);
      expect(report.metrics.restCalls).toBe(rig.server.requests().length);
    } finally {
      await rig.close();
    }
  });
});

describe("buyingPowerRejections counts resized refusals", () => {
  it("a buy refused for buying power, resized and then filled, counts one rejection", async () => {
    const rig = await startRig({ cash: "1000", prices: { AAA: 50, BBB: 50 }, latency: { fillMs: 5 } }, {});
    try {
      const rebalancer = new SmartRebalancer({ broker: rig.broker, finalTimeoutMs: 10_000 });
      // Cash spent elsewhere as the buy leaves: the broker refuses it for buying power, and
      // the retry engine resizes it to the cash left.
      let spent = false;
      rebalancer.on("order:sending", () => {
        if (spent) return;
        spent = true;
        rig.server.broker.outsideTrade("BBB", 10, 50);
      });
      const report = await rebalancer.rebalance({ weights: { AAA: 0.9 } }, { runId: "bp" });
      const buy = report.orders.find((o) => o.symbol === "AAA");
      expect(buy?.state).toBe("filled");
      expect(buy?.attempts).toBe(2);
      expect(report.metrics.buyingPowerRejections).toBe(1);
    } finally {
      await rig.close();
    }
  });
});
