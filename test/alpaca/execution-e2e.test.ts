import { Decimal, isFinalBrokerStatus, SmartRebalancer, systemClock } from "ordersafe";
import { createSimulatedBroker } from "ordersafe/testing";
import { afterEach, expect, it } from "vitest";
import { type Rig, startRig } from "./fake-alpaca.js";

// A rebalance whose legs go through execution policies, over real HTTP and WebSocket to the
// fake Alpaca server: latest quotes from the market-data API, limit orders, and replaces
// (PATCH /v2/orders/{id}) for the steps of a stepped limit.

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

function sim(spreadBps: number) {
  return createSimulatedBroker({
    clock: systemClock,
    cash: 5_000,
    prices: { TECL: "52.6", FNGU: "33.05" },
    positions: { FNGU: "300", TECL: "20" },
    latency: { restMs: 1, fillMs: 10, streamMs: 1 },
    quotes: { spreadBps, volatilityBps: 0, stepMs: 1_000, passiveFillProbability: 0 },
  });
}

it("marketable limits through the adapter: every order a limit, filled, with its arrival mid", async () => {
  rig = await startRig({ broker: sim(20) });
  const rebalancer = new SmartRebalancer({
    broker: rig.broker,
    finalTimeoutMs: 10_000,
    execution: "marketable",
  });
  const report = await rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } });
  expect(report.status).toBe("completed");
  const orders = rig.server.broker.orders();
  // One sell, one buy, and the second buy pass's order when the first buy left cash over.
  expect(orders.length).toBe(report.buyPass?.ran === true ? 3 : 2);
  expect(report.orders.length).toBe(orders.length);
  expect(orders.every((o) => o.type === "limit" && o.status === "filled")).toBe(true);
  for (const o of report.orders) {
    expect(o.execution?.arrivalMid?.gt(0)).toBe(true);
    expect(o.execution?.slippageBps).toBeGreaterThan(0);
  }
  expect(rig.server.requests().some((r) => r.path === "/v2/stocks/quotes/latest")).toBe(true);
});

it("a stepped limit replaces its order over PATCH until it fills; the chain is one leg, nothing placed twice", async () => {
  rig = await startRig({ broker: sim(60) });
  const stepped = {
    type: "stepped_limit",
    steps: 3,
    stepMs: 400,
    startAt: "mid",
    finalAction: "market",
  } as const;
  const rebalancer = new SmartRebalancer({ broker: rig.broker, finalTimeoutMs: 10_000, execution: stepped });
  const report = await rebalancer.rebalance({ quantities: { FNGU: 300, TECL: 30 } });
  expect(report.status).toBe("completed");
  const patches = rig.server.requests().filter((r) => r.method === "PATCH");
  expect(patches.length).toBeGreaterThanOrEqual(1);
  const tecl = rig.server.broker.orders().filter((o) => o.symbol === "TECL");
  const ids = tecl.map((o) => o.clientOrderId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(tecl.every((o) => isFinalBrokerStatus(o.status))).toBe(true);
  // The 10-share buy is a notional leg (TECL is fractionable): sized in shares at the highest
  // price the policy may pay, it never spends more than its dollars.
  const filled = tecl.reduce((s, o) => s.plus(o.filledQty), new Decimal(0));
  expect(filled.gt("9.9") && filled.lte(10)).toBe(true);
  const [outcome] = report.orders;
  expect(outcome?.execution?.orders.length).toBe(tecl.length);
  expect(outcome?.execution?.orders.some((o) => o.via === "replace")).toBe(true);
  expect(outcome?.filledQty.toFixed()).toBe(filled.toFixed());
});
