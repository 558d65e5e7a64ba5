// A weights rebalance with every event logged, on the simulated broker with a few faults.
// Run: npx tsx examples/weights-rebalance.ts

import { reportToJSON, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";

async function main(): Promise<void> {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 42,
    cash: 5_000,
    positions: { SPY: 40, QQQ: 30, TLT: 50 },
    prices: { SPY: 500, QQQ: 430, TLT: 90, BIL: 91.5, GLD: 215 },
    assets: { GLD: { fractionable: false } },
    latency: { restMs: 40, fillMs: 150 },
    partialFills: { probability: 0.3, parts: 2 },
    faults: { unavailable: 0.05, stream_drop: 0.1 },
  });
  const rebalancer = new SmartRebalancer({ broker, clock, concurrency: 4 });
  const t = (at: number) => `+${String(at - start).padStart(5)} ms`;
  rebalancer.on("phase", (e) => console.log(`${t(e.at)} phase ${e.phase}`));
  rebalancer.on("plan", (e) =>
    console.log(
      `${t(clock.now())} plan (${e.stage}): ${e.plan.legs.map((l) => `${l.side} ${l.symbol} ${l.qty !== undefined ? l.qty.toFixed(4) : `$${l.notional.toFixed(2)}`}`).join(", ") || "nothing to do"}`,
    ),
  );
  rebalancer.on("order:submitted", (e) =>
    console.log(`${t(clock.now())} submitted ${e.request.side} ${e.request.symbol} (attempt ${e.attempt})`),
  );
  rebalancer.on("order:final", ({ outcome: o }) =>
    console.log(`${t(clock.now())} final ${o.side} ${o.symbol}: ${o.state} ${o.filledQty.toFixed(4)} sh`),
  );
  rebalancer.on("drift", (e) =>
    console.log(`${t(clock.now())} drift on ${e.drifts.map((d) => d.symbol).join(", ")}`),
  );
  rebalancer.on("halted", (e) => console.log(`${t(e.at)} HALTED after ${e.consecutiveFailures} failures`));

  const start = clock.now();
  const report = await clock.run(
    rebalancer.rebalance(
      { weights: { SPY: 0.35, QQQ: 0.25, BIL: 0.2, GLD: 0.15 } },
      { runId: "weights-example" },
    ),
  );
  const json = reportToJSON(report);
  console.log("\nstatus:", json.status);
  console.log("metrics:", json.metrics);
  console.log("adjustments:", json.adjustments);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
