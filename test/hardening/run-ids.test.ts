// Default run ids never collide: two rebalancers made in the same millisecond (same clock
// reading, same default seed) get distinct run ids, so run B never adopts run A's orders.
// A seeded run stays deterministic, and two seeded rebalancers on one account differ too.

import { SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 3,
    cash: 10_000,
    prices: { AAA: 10, BBB: 20 },
    // No latency: a whole run takes no time on the virtual clock, so the second run on the
    // account (queued behind the first) starts in the same millisecond.
    latency: { restMs: 0, fillMs: 0, streamMs: 0 },
  });
  return { clock, broker };
}

describe("default run ids", () => {
  it("two unseeded rebalancers on two port objects of one account: distinct ids, nothing adopted", async () => {
    const { clock, broker } = setup();
    // A second object for the same account (as a second adapter on the same keys would be).
    const other = Object.create(broker);
    const a = new SmartRebalancer({ broker, clock });
    const b = new SmartRebalancer({ broker: other, clock });
    const [ra, rb] = await clock.run(
      Promise.all([a.rebalance({ notionals: { AAA: 1_000 } }), b.rebalance({ notionals: { AAA: 1_000 } })]),
    );
    expect(ra.startedAt).toBe(rb.startedAt);
    expect(ra.runId).not.toBe(rb.runId);
    expect([...ra.orders, ...rb.orders].some((o) => o.adopted)).toBe(false);
  });

  // A guard (it holds before and after the change): seeded ids stay reproducible.
  it("seeded: the same ids again in a fresh account state, distinct ids for two rebalancers on one account", async () => {
    const ids = async () => {
      const { clock, broker } = setup();
      const a = new SmartRebalancer({ broker, clock, seed: 7 });
      const b = new SmartRebalancer({ broker, clock, seed: 7 });
      const [ra, rb] = await clock.run(
        Promise.all([a.rebalance({ notionals: { AAA: 100 } }), b.rebalance({ notionals: { BBB: 100 } })]),
      );
      return [ra.runId, rb.runId];
    };
    const first = await ids();
    expect(first[0]).not.toBe(first[1]);
    expect(await ids()).toEqual(first);
  });
});
