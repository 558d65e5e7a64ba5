// A long-running bot: rebalances every interval, reconciles its positions with the broker
// between rebalances, and shuts down gracefully on SIGINT / SIGTERM (the run in flight is
// aborted through its signal, every timer is cleared, the stream is closed, the process exits
// on its own). It runs on the simulated broker with the real clock and short intervals, so it
// can be tried without an account; swap `createSimulatedBroker(...)` for
// `createAlpacaBroker({ paper: true })` to run it against a paper account.
//
// Run: npx tsx examples/long-running-bot.ts [--cycles N] [--interval-ms MS]
//   --cycles N       stop after N rebalances (default: run until SIGINT / SIGTERM)
//   --interval-ms MS time between rebalances (default 2000)

import {
  type Clock,
  PositionBook,
  PositionReconciliationEngine,
  type RebalanceReport,
  SmartRebalancer,
  systemClock,
} from "ordersafe";
import { createSimulatedBroker } from "ordersafe/testing";

const TARGETS = { weights: { SPY: 0.5, TLT: 0.3, GLD: 0.15 } }; // 5% stays cash

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (Number.isNaN(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return clock.sleep(ms, signal).catch(() => undefined);
}

async function main(): Promise<void> {
  const cycles = flag("--cycles", Number.POSITIVE_INFINITY);
  const intervalMs = flag("--interval-ms", 2_000);
  const clock = systemClock;
  const broker = createSimulatedBroker({
    clock,
    seed: 11,
    cash: 50_000,
    prices: { SPY: 500, TLT: 90, GLD: 215 },
    latency: { restMs: 5, fillMs: 20, streamMs: 2 },
  });

  const rebalancer = new SmartRebalancer({ broker, clock });
  rebalancer.on("order:final", ({ outcome }) =>
    console.log(`  ${outcome.side} ${outcome.symbol} ${outcome.filledQty.toFixed(4)}: ${outcome.state}`),
  );

  // The bot's own book of positions, kept by the fills it hears about and checked against the broker.
  const book = new PositionBook();
  const reconciler = new PositionReconciliationEngine({ broker, book, clock });
  const stream = broker.subscribeOrderUpdates({ onUpdate: (u) => reconciler.applyOrderUpdate(u) });
  reconciler.on("drift", (d) => console.warn(`  drift ${d.symbol}: ${d.class} (${d.qtyDiff.toFixed()})`));

  // ordersafe's real-clock timers never keep the process alive on their own; the bot does,
  // until it stops.
  const keepAlive = setInterval(() => undefined, 60_000);
  const stop = new AbortController();
  const onSignal = (name: string) => () => {
    console.log(`${name}: finishing the run in flight, then exiting`);
    stop.abort(new Error(name));
  };
  process.once("SIGINT", onSignal("SIGINT"));
  process.once("SIGTERM", onSignal("SIGTERM"));

  for (let n = 1; n <= cycles && !stop.signal.aborted; n++) {
    // Markets move between rebalances.
    broker.setPrice("SPY", 500 + 10 * Math.sin(n));
    broker.setPrice("TLT", 90 - 3 * Math.cos(n));
    let report: RebalanceReport;
    try {
      report = await rebalancer.rebalance(TARGETS, { runId: `bot-cycle-${n}`, signal: stop.signal });
    } catch (e) {
      if (stop.signal.aborted) break; // the signal ended the run: nothing half-done is retried here
      throw e;
    }
    console.log(`cycle ${n}: ${report.status}, ${report.orders.length} orders`);
    // Someone trades the account outside the bot: the next reconcile reports it.
    if (n === 2) broker.outsideTrade("GLD", -3);
    const scan = await reconciler.detectDrift({ signal: stop.signal }).catch((e: unknown) => {
      if (stop.signal.aborted) return null;
      throw e;
    });
    if (scan === null) break;
    console.log(`  reconciled: ${scan.drifts.length} drift(s)`);
    // Adopt the broker's quantity (PositionCorrectionEngine can instead ask, or trade it back).
    for (const d of scan.drifts) if (!d.withinTolerance) book.setPosition(d.symbol, d.actualQty);
    if (n < cycles) await pause(clock, intervalMs, stop.signal);
  }

  stream.close();
  clearInterval(keepAlive);
  console.log("stopped cleanly");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
