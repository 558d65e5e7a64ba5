// A dry run: read fresh state, plan, report; nothing is sent to the broker.
// Run: npx tsx examples/dry-run.ts

import { reportToJSON, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";

async function main(): Promise<void> {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: "3432.62",
    positions: { FNGU: "1591.166892" },
    prices: { FNGU: "33.05", TECL: "52.60" },
    latency: { restMs: 50 },
  });
  const rebalancer = new SmartRebalancer({ broker, clock });
  const report = await clock.run(
    rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }, { dryRun: true }),
  );
  const json = reportToJSON(report);
  console.log("legs:");
  for (const l of json.plan?.legs ?? []) {
    console.log(
      `  ${l.side.padEnd(4)} ${l.symbol.padEnd(5)} ${l.action.padEnd(5)} ${l.qty ?? `$${l.notional}`} (~$${Number(l.estimatedNotional).toFixed(2)})`,
    );
  }
  console.log(
    `turnover $${Number(json.plan?.summary.turnover).toFixed(2)} vs liquidate-and-rebuy $${Number(json.plan?.summary.naiveTurnover).toFixed(2)}`,
  );
  console.log(`orders sent: ${broker.calls.submitOrder}; REST calls: ${json.metrics.restCalls}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
