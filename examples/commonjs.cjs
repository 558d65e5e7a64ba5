// The same library from a CommonJS project: require() loads the package's CommonJS build
// (dist/*.cjs) and its types (dist/*.d.cts). A dry run, then the rebalance, on the simulated
// broker and a virtual clock.
// Run: node examples/commonjs.cjs
"use strict";

const { SmartRebalancer, reportToJSON, isOrdersafeError } = require("ordersafe");
const { createSimulatedBroker, VirtualClock } = require("ordersafe/testing");

async function main() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    positions: { SPY: 10 },
    prices: { SPY: 500, BIL: 91.5 },
    latency: { restMs: 50, fillMs: 200 },
  });
  const rebalancer = new SmartRebalancer({ broker, clock });
  rebalancer.on("order:final", ({ outcome }) => {
    console.log(`${outcome.side} ${outcome.symbol}: ${outcome.state} ${outcome.filledQty.toFixed(4)}`);
  });

  const targets = { weights: { SPY: 0.6, BIL: 0.4 } };
  const plan = await clock.run(rebalancer.plan(targets));
  console.log(`planned ${plan.legs.length} legs`);
  const report = await clock.run(rebalancer.rebalance(targets, { runId: "cjs-example" }));
  console.log("status:", reportToJSON(report).status);

  try {
    await clock.run(rebalancer.rebalance({ weights: { SPY: 2 } }));
  } catch (e) {
    if (isOrdersafeError(e)) console.log("refused:", e.code);
    else throw e;
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
