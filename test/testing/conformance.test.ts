import { createSimulatedBroker, runBrokerConformance, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// Zero latency: every call replies at once, fills and deliveries wait for the clock.
runBrokerConformance(
  "simulated",
  () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({ clock, cash: 10_000, prices: { SPY: 500, TECL: 52.6 } });
    return { broker, driver: { symbol: "TECL", wait: (ms) => clock.advance(ms) } };
  },
  { describe, it, expect },
);

// With latencies, partial fills and a lagging lookup: the driver drives each call on the clock.
runBrokerConformance(
  "simulated with latency",
  () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      seed: 42,
      cash: 10_000,
      prices: { SPY: 500, TECL: 52.6 },
      latency: { restMs: 30, fillMs: 250, streamMs: 10 },
      partialFills: { probability: 1, parts: 3 },
    });
    return {
      broker,
      driver: {
        symbol: "TECL",
        clientOrderIdPrefix: "lat",
        wait: (ms) => clock.advance(ms),
        run: (p) => clock.run(p),
      },
    };
  },
  { describe, it },
);

// Within the contract but awkward: fresh orders invisible for a while, reads that lag fills.
runBrokerConformance(
  "simulated with lookup lag and stale reads",
  () => {
    const clock = new VirtualClock();
    const broker = createSimulatedBroker({
      clock,
      seed: 9,
      cash: 10_000,
      prices: { TECL: 52.6 },
      latency: { restMs: 15, fillMs: 120, streamMs: 40 },
      faults: { not_found_lag: { probability: 1, ms: 300 }, stale_reads: { probability: 0.5, ms: 400 } },
    });
    return {
      broker,
      driver: { symbol: "TECL", wait: (ms) => clock.advance(ms), run: (p) => clock.run(p), pollMs: 50 },
    };
  },
  { describe, it },
);

// Position and account reads that lag every fill, and a seeded read_lag on top: the order
// reads (and so the order history) stay current.
runBrokerConformance(
  "simulated with reads that lag fills",
  () => {
    const clock = new VirtualClock();
    const lag = { minMs: 40, maxMs: 1_000 };
    const broker = createSimulatedBroker({
      clock,
      seed: 5,
      cash: 10_000,
      prices: { TECL: 52.6 },
      latency: { restMs: 10, fillMs: 80, streamMs: 5 },
      readLag: { getAccount: lag, getPositions: lag, getPosition: lag },
      faults: { read_lag: { probability: 0.3, minMs: 500, maxMs: 2_000 } },
    });
    return {
      broker,
      driver: { symbol: "TECL", wait: (ms) => clock.advance(ms), run: (p) => clock.run(p), pollMs: 50 },
    };
  },
  { describe, it },
);

// vitest imported by the suite itself.
await runBrokerConformance("simulated, vitest imported lazily", () => {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({ clock, prices: { SPY: 500 } });
  return { broker, driver: { symbol: "SPY", wait: (ms) => clock.advance(ms), buyNotional: 25 } };
});

describe("runBrokerConformance input", () => {
  it("refuses a bad name or options", async () => {
    await expect(runBrokerConformance("", () => ({}) as never, { describe, it })).rejects.toMatchObject({
      code: "validation",
    });
    await expect(
      runBrokerConformance("x", () => ({}) as never, { describe, it, bogus: 1 } as never),
    ).rejects.toMatchObject({ code: "validation" });
  });
});
