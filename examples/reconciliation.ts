// Reconciliation: the bot's book of positions against the broker's, every difference
// classified before anything acts on it, then corrected under a mode.
//
//   1. the bot restores its book from the last run, and it is wrong in three ways: a phantom
//      BIL the broker does not hold, an XYZ position someone bought outside the bot, and an
//      FNGU sale the bot never heard about;
//   2. "report" mode: every drift is reported, nothing changes;
//   3. "auto" mode within limits: small drifts are adopted or traded back automatically,
//      larger ones wait for approval, which the operator gives or refuses.
//
// Run: npx tsx examples/reconciliation.ts

import {
  type CorrectiveOrderIntent,
  OrderExecutionCoordinator,
  OrderRetryEngine,
  PositionBook,
  PositionCorrectionEngine,
  PositionReconciliationEngine,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";

async function main(): Promise<void> {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 100_000,
    positions: { FNGU: "1591.166892" },
    prices: { FNGU: 33.05, BIL: 91.5, XYZ: 20 },
    latency: { restMs: 50, fillMs: 200, streamMs: 10 },
  });
  broker.outsideTrade("XYZ", 100); // bought in the broker's web app
  broker.outsideTrade("FNGU", -100); // a sale the bot never heard about

  // What the bot saved at the end of its last run (book.toJSON()).
  const saved = { version: 1, positions: { FNGU: "1591.166892", BIL: "5" }, orders: {} };
  const book = PositionBook.fromJSON(saved);
  const reconciler = new PositionReconciliationEngine({ broker, book, clock });
  broker.subscribeOrderUpdates({ onUpdate: (u) => reconciler.applyOrderUpdate(u) });

  // Corrective orders go through the execution layer like any other order.
  const coordinator = new OrderExecutionCoordinator({
    broker,
    clock,
    retry: new OrderRetryEngine({ broker, clock }),
    reconciler,
  });
  const placeOrder = (intent: CorrectiveOrderIntent) =>
    coordinator.executeOrder(
      { symbol: intent.symbol, side: intent.side, qty: intent.qty, type: "market", timeInForce: "day" },
      { runId: `fix-${intent.actionId}` },
    );

  console.log("1. the drifts, classified:");
  const scan = await clock.run(reconciler.detectDrift());
  for (const d of scan.drifts)
    console.log(
      `   ${d.symbol.padEnd(4)} ${d.class.padEnd(11)} book ${d.expectedQty.toFixed()} broker ${d.actualQty.toFixed()} ($${d.notionalDiff?.abs().toFixed(2) ?? "?"})`,
    );

  console.log("2. report mode:");
  const reporter = new PositionCorrectionEngine({ mode: "report", reconciler, placeOrder });
  const reported = await clock.run(reporter.run());
  for (const a of reported.actions) console.log(`   would ${a.kind} ${a.symbol}: ${a.status}`);
  console.log(`   book unchanged: ${JSON.stringify(book.toJSON().positions)}`);

  console.log("3. auto mode, at most $2,500 without approval:");
  const corrections = new PositionCorrectionEngine({
    mode: "auto",
    reconciler,
    placeOrder,
    limits: { maxAutoNotional: 2_500 },
    // The operator: yes to trading FNGU back, no to anything else over the limit.
    approve: (action) => action.symbol === "FNGU",
  });
  corrections.on("correction:applied", (a) =>
    console.log(`   applied ${a.kind} ${a.symbol}: ${a.fromQty.toFixed()} → ${a.toQty.toFixed()}`),
  );
  corrections.on("correction:rejected", (a) => console.log(`   rejected ${a.kind} ${a.symbol}`));
  await clock.run(corrections.run());
  await clock.advance(2_000); // let the corrective order's fills reach the book

  const report = corrections.createReconciliationReport();
  console.log(`book now:   ${JSON.stringify(book.toJSON().positions)}`);
  console.log(
    `broker now: ${JSON.stringify(Object.fromEntries([...broker.truth().positions].map(([s, q]) => [s, q.toFixed()])))}`,
  );
  const counts = Object.entries(report.corrections).map(([k, v]) => `${v.length} ${k}`);
  console.log(`report: ${report.drifts.length} drifts; corrections: ${counts.join(", ")}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
