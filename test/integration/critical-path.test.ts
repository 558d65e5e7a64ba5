// Near the critical path: the requests in flight are bounded, not the legs (a leg that waits
// for its fill holds no place), while the phase order and the circuit breaker stay as they are.

import { type BrokerPort, Decimal, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { wrapBrokerPort } from "../../src/broker/checked-broker.js";
import { Semaphore } from "../../src/core/concurrency.js";
import { requestLimitedPort } from "../../src/execution/rebalance-run.js";

const HELD = ["A", "B", "C", "D", "E", "F"];

function setup() {
  const clock = new VirtualClock();
  const sim = createSimulatedBroker({
    clock,
    seed: 5,
    cash: 0,
    positions: Object.fromEntries(HELD.map((s) => [s, 10])),
    prices: { ...Object.fromEntries(HELD.map((s) => [s, 10])), G: 10 },
    latency: { restMs: 10, fillMs: 200 },
  });
  let inFlight = 0;
  let most = 0;
  const port: BrokerPort = wrapBrokerPort(sim, {
    call: async (_method, call) => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        return await call();
      } finally {
        inFlight--;
      }
    },
  });
  return { clock, sim, port, most: () => most };
}

describe("the critical path", () => {
  it("sends every leg of a phase while the first ones wait for their fills, within the request bound", async () => {
    const { clock, sim, port, most } = setup();
    const rebalancer = new SmartRebalancer({ broker: port, clock, concurrency: 2 });
    const sent: Array<{ symbol: string; side: string; at: number }> = [];
    const finals: Array<{ symbol: string; side: string; at: number }> = [];
    rebalancer.on("order:submitted", (e) =>
      sent.push({ symbol: e.request.symbol, side: e.request.side, at: clock.now() }),
    );
    rebalancer.on("order:final", (e) =>
      finals.push({ symbol: e.outcome.symbol, side: e.outcome.side, at: clock.now() }),
    );
    // Half of each holding sold, G bought with what the sells bring.
    const weights = { ...Object.fromEntries(HELD.map((s) => [s, 0.08])), G: 0.5 };
    const report = await clock.run(rebalancer.rebalance({ weights }));
    expect(report.status).toBe("completed");
    const sells = sent.filter((s) => s.side === "sell");
    expect(sells).toHaveLength(6);
    const firstFill = Math.min(...finals.map((f) => f.at));
    // Six submits two at a time (10 ms each) are all accepted before the first fill (200 ms).
    expect(Math.max(...sells.map((s) => s.at))).toBeLessThan(firstFill);
    expect(most()).toBeLessThanOrEqual(2);
    // Sells are final before the first buy goes.
    const lastSellFinal = Math.max(...finals.filter((f) => f.side === "sell").map((f) => f.at));
    const buys = sent.filter((s) => s.side === "buy");
    expect(buys.map((b) => b.symbol)).toEqual(["G"]);
    expect(Math.min(...buys.map((b) => b.at))).toBeGreaterThan(lastSellFinal);
    expect(sim.orders().every((o) => o.status === "filled")).toBe(true);
  });

  it("one leg at a time still stops at the circuit breaker", async () => {
    const { clock, sim, port } = setup();
    sim.script({ kind: "unavailable", method: "submitOrder", times: 1_000 });
    const rebalancer = new SmartRebalancer({
      broker: port,
      clock,
      concurrency: 1,
      failureBudget: 2,
      maxRetries: 0,
    });
    const report = await clock.run(rebalancer.rebalance({ weights: { G: 0.9 } }));
    expect(report.status).toBe("halted");
    expect(sim.calls.submitOrder).toBe(2);
  });

  it("a request waiting for a permit when the run aborts is never sent", async () => {
    const { clock, sim } = setup();
    const ac = new AbortController();
    const port = requestLimitedPort(sim, new Semaphore(1), ac.signal);
    const first = port.getAccount();
    const waiting = port.submitOrder({
      clientOrderId: "wait-1",
      symbol: "A",
      side: "sell",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(1),
    });
    ac.abort(new Error("stop"));
    await expect(clock.run(waiting)).rejects.toThrow("stop");
    await clock.run(first);
    expect(sim.calls.submitOrder).toBe(0);
    expect(sim.orders()).toEqual([]);
  });
});
