// Scenarios the reliability suite once failed, kept as they were shrunk (the seed and path
// they were found with are noted; the scenario JSON is what replays them, whatever the
// generator becomes). Each must now keep every invariant.

import { describe, expect, it } from "vitest";
import type { Scenario } from "./scenario/scenario.js";
import { checkScenario } from "./scenario/suite.js";

interface Regression {
  /** What broke, and the fix. */
  name: string;
  /** Where it was found: `npm run soak -- --seed S` (the path is in the commit that fixed it). */
  seed: number;
  scenario: Scenario;
}

const REGRESSIONS: Regression[] = [
  {
    name: "resume adopts an open order of a later generation after a generation refused at submit",
    seed: 1,
    scenario: {
      seed: 1,
      cash: "0",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: false, queueWhenClosed: true, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [],
      standingOrders: [],
      outsideTrades: [{ atMs: 0, symbol: "DDD", fraction: -0.01 }],
      crash: { atMs: 101 },
      symbols: [{ symbol: "DDD", price: "1.00", qty: "1.515907", fractionable: true, weightBps: 0 }],
    },
  },
  {
    name: "a resume stopped by a closed market names the crashed run's order left open (left_open)",
    seed: 1,
    scenario: {
      seed: 1,
      cash: "2",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: 0 },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [],
      standingOrders: [],
      outsideTrades: [],
      crash: { atMs: 101 },
      symbols: [
        { symbol: "AAA", price: "1.00", qty: "0", fractionable: false, weightBps: 0 },
        { symbol: "BBB", price: "1.00", qty: "0", fractionable: false, weightBps: 0 },
        { symbol: "CCC", price: "1.00", qty: "0", fractionable: false, weightBps: 10000 },
        { symbol: "DDD", price: "1.00", qty: "1", fractionable: false, weightBps: 0 },
      ],
    },
  },
  {
    name: "no buy is re-planned on a symbol whose opposite-side order could not be cancelled (wash trade)",
    seed: 1,
    scenario: {
      seed: 1,
      cash: "0",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: true, flipAtMs: 0 },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [{ atMs: 0, fault: { kind: "stuck_pending_cancel", times: 1 } }],
      standingOrders: [],
      outsideTrades: [{ atMs: 0, symbol: "CCC", fraction: -0.6 }],
      crash: { atMs: 101 },
      symbols: [
        { symbol: "AAA", price: "1.00", qty: "0", fractionable: false, weightBps: 0 },
        { symbol: "BBB", price: "1.00", qty: "0", fractionable: false, weightBps: 0 },
        { symbol: "CCC", price: "1.00", qty: "5", fractionable: false, weightBps: 6666 },
        { symbol: "DDD", price: "1.00", qty: "0", fractionable: false, weightBps: 3333 },
      ],
    },
  },
  {
    name: "a buy the first plan could not fund cancels its opposite-side order before it is sent",
    seed: 1,
    scenario: {
      seed: 1,
      cash: "1",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [],
      standingOrders: [
        { symbol: "AAA", side: "buy", qty: 2 },
        { symbol: "DDD", side: "sell", qty: 1 },
      ],
      outsideTrades: [],
      crash: null,
      symbols: [
        { symbol: "AAA", price: "1.00", qty: "1", fractionable: false, weightBps: 0 },
        { symbol: "DDD", price: "1.00", qty: "1", fractionable: false, weightBps: 10000 },
      ],
    },
  },
  {
    name: "an ambiguous submit its lookups never found is unresolved and followed, never submit_failed",
    seed: 1,
    scenario: {
      seed: 1,
      cash: "0",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [
        { atMs: 0, fault: { kind: "not_found_lag", ms: 1155, times: 1 } },
        { atMs: 0, fault: { kind: "ambiguous", method: "submitOrder", times: 2 } },
      ],
      standingOrders: [],
      outsideTrades: [],
      crash: { atMs: 0 },
      symbols: [{ symbol: "AAA", price: "1.00", qty: "1", fractionable: false, weightBps: 0 }],
    },
  },
  {
    name: "an ambiguous cancel of a conflicting order is confirmed, not taken as a failure",
    seed: 1,
    scenario: {
      seed: 1,
      cash: "0",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [{ atMs: 0, fault: { kind: "ambiguous", method: "cancelOrder", times: 1 } }],
      standingOrders: [{ symbol: "CCC", side: "sell", qty: 1 }],
      outsideTrades: [],
      crash: null,
      symbols: [
        { symbol: "CCC", price: "1.00", qty: "1", fractionable: false, weightBps: 10000 },
        { symbol: "DDD", price: "1.00", qty: "5", fractionable: false, weightBps: 0 },
      ],
    },
  },
  {
    name: "a lookup error in the resume walk reuses the id instead of leaving a gap a later resume stops at (sold twice)",
    seed: 20261125,
    scenario: {
      seed: 1,
      cash: "0",
      latency: { restMs: 1, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 2,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [
        { atMs: 0, fault: { kind: "not_found_lag", ms: 2, times: 2 } },
        {
          atMs: 0,
          fault: { kind: "rate_limited", method: "getOrderByClientOrderId", retryAfterMs: 0, times: 3 },
        },
      ],
      outsideTrades: [],
      standingOrders: [],
      crash: { atMs: 5 },
      symbols: [
        { symbol: "BBB", price: "1.00", qty: "1", fractionable: false, weightBps: 0 },
        { symbol: "DDD", price: "1.00", qty: "5", fractionable: false, weightBps: 5000 },
      ],
    },
  },
  {
    name: "a run whose re-read before the buys failed after its sells filled said completed_adjusted; it stopped early: failed",
    seed: 20261125,
    scenario: {
      seed: 1,
      cash: "0",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [
        { atMs: 1, fault: { kind: "rate_limited", method: "getPositions", retryAfterMs: 0, times: 3 } },
        { atMs: 1, fault: { kind: "ambiguous", method: "getPositions", times: 2 } },
      ],
      outsideTrades: [],
      standingOrders: [],
      crash: null,
      readLag: null,
      symbols: [
        { symbol: "AAA", price: "1.00", qty: "0", fractionable: false, weightBps: 10000 },
        { symbol: "DDD", price: "1.00", qty: "5", fractionable: false, weightBps: 0 },
      ],
    },
  },
  {
    name: "a lagging reconcile read matching the run's own fills only through another party's equal trade is not trusted",
    seed: 20261125,
    scenario: {
      seed: 1,
      cash: "0",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: true,
        explicitRunId: false,
      },
      faults: [],
      outsideTrades: [{ atMs: 2140, symbol: "DDD", fraction: 0.34 }],
      standingOrders: [],
      crash: { atMs: 501 },
      readLag: { minMs: 440, maxMs: 2080 },
      symbols: [
        { symbol: "AAA", price: "1.00", qty: "4", fractionable: false, weightBps: 0 },
        { symbol: "CCC", price: "1.00", qty: "0", fractionable: false, weightBps: 4000 },
        { symbol: "DDD", price: "1.00", qty: "0", fractionable: false, weightBps: 4000 },
      ],
    },
  },
  {
    name: "a conflict that only the re-plan after the cancels brought (a holding that changed meanwhile) is cancelled before its leg is sent",
    seed: 20261125,
    scenario: {
      seed: 1,
      cash: "11",
      latency: { restMs: 0, fillMs: 0, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [],
      outsideTrades: [{ atMs: 1, symbol: "BBB", fraction: 0.01 }],
      standingOrders: [
        { symbol: "CCC", side: "buy", qty: 1 },
        { symbol: "BBB", side: "buy", qty: 1 },
      ],
      crash: null,
      readLag: null,
      symbols: [{ symbol: "CCC", price: "1.00", qty: "1", fractionable: false, weightBps: 0 }],
    },
  },
  {
    name: "a resume whose first read fails still follows the orders it took over from the crashed attempt",
    seed: 20261125,
    scenario: {
      seed: 1,
      cash: "2",
      latency: { restMs: 0, fillMs: 1, streamMs: 0 },
      partialFills: { probability: 0, parts: 2 },
      slippageBps: 0,
      market: { open: true, queueWhenClosed: false, flipAtMs: null },
      rebalancer: {
        concurrency: 1,
        maxRetries: 1,
        quietAfterMs: 200,
        finalTimeoutMs: 5000,
        polling: false,
        explicitRunId: false,
      },
      faults: [
        { atMs: 102, fault: { kind: "rate_limited", retryAfterMs: 0, times: 2 } },
        { atMs: 1, fault: { kind: "ambiguous", method: "listOpenOrders", times: 3 } },
      ],
      outsideTrades: [],
      standingOrders: [],
      crash: { atMs: 101 },
      readLag: null,
      symbols: [
        { symbol: "AAA", price: "1.00", qty: "0", fractionable: false, weightBps: 0 },
        { symbol: "BBB", price: "1.00", qty: "0", fractionable: false, weightBps: 0 },
        { symbol: "CCC", price: "1.00", qty: "0", fractionable: false, weightBps: 0 },
        { symbol: "DDD", price: "1.00", qty: "0", fractionable: false, weightBps: 10000 },
      ],
    },
  },
];

describe("reliability regressions", () => {
  for (const r of REGRESSIONS) {
    it(`${r.name} (seed ${r.seed})`, async () => {
      const { violations } = await checkScenario(r.scenario);
      expect(violations).toEqual([]);
    });
  }
});
