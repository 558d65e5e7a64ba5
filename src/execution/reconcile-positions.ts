import type { OrderSnapshot, PositionSnapshot } from "../broker/broker-port.js";
import type { Decimal } from "../core/decimal.js";
import { detectPositionDrift, type PositionDrift } from "../reconcile/detect-position-drift.js";
import { PositionBook } from "../reconcile/position-book.js";
import {
  type CorrectiveOrderIntent,
  PositionCorrectionEngine,
} from "../reconcile/position-correction-engine.js";
import type { OrderOutcome } from "./order-outcome.js";
import type { RebalanceRun } from "./rebalance-run.js";

/**
 * The reconcile phase: re-reads positions and open orders, compares them with what the fills
 * imply, and hands drift above tolerance to the correction engine in the rebalancer's mode.
 * A failure to read or compare is noted (`reconcile_failed`), never thrown.
 *
 * @param run - the run
 * @throws the abort reason when the signal aborts
 */
export async function reconcilePositions(run: RebalanceRun): Promise<void> {
  const after = await readAfter(run);
  if (after === undefined) return;
  run.record.positionsAfter = after.positions;
  const expected = run.record.expectedPositions();
  const drift = driftAgainst(run, expected, after);
  if (drift === undefined) return;
  run.record.drift = drift;
  const above = drift.filter((d) => !d.withinTolerance);
  if (above.length > 0) await handleDrift(run, expected, above);
}

async function readAfter(
  run: RebalanceRun,
): Promise<{ positions: PositionSnapshot[]; openOrders: OrderSnapshot[] } | undefined> {
  const { broker, signal } = run;
  try {
    const [positions, openOrders] = await Promise.all([
      run.withRetries(() => broker.getPositions({ signal }), signal),
      run.withRetries(() => broker.listOpenOrders({ signal }), signal),
    ]);
    return { positions, openOrders };
  } catch (e) {
    if (signal?.aborted) throw e;
    run.record.adjust("*", undefined, "reconcile_failed", String(e));
    return undefined;
  }
}

/**
 * The drift of every symbol, valued at the run's first prices; undefined (and noted) when it
 * cannot be measured.
 */
function driftAgainst(
  run: RebalanceRun,
  expected: ReadonlyMap<string, Decimal>,
  after: { positions: readonly PositionSnapshot[]; openOrders: readonly OrderSnapshot[] },
): PositionDrift[] | undefined {
  const actual = new Map(after.positions.map((p) => [p.symbol, p.qty]));
  const prices = new Map([...run.record.prices].filter(([s]) => expected.has(s) || actual.has(s)));
  try {
    return detectPositionDrift(expected, actual, {
      prices,
      openOrders: after.openOrders,
      tolerance: { notional: run.settings.driftToleranceNotional },
    });
  } catch (e) {
    run.record.adjust("*", undefined, "reconcile_failed", String(e));
    return undefined;
  }
}

/** Emits and notes drift above tolerance, then lets the correction engine act on it. */
async function handleDrift(
  run: RebalanceRun,
  expected: Map<string, Decimal>,
  above: readonly PositionDrift[],
): Promise<void> {
  const { settings } = run;
  run.emitDrift(above);
  for (const d of above) {
    run.record.adjust(
      d.symbol,
      undefined,
      `drift_${d.class}`,
      `${d.reason} (expected ${d.expectedQty.toFixed()}, broker ${d.actualQty.toFixed()})`,
    );
  }
  settings.logger.warn({ runId: run.id, drifts: above.length }, "[ordersafe] position drift after rebalance");
  const corrections = new PositionCorrectionEngine({
    mode: settings.correctionMode,
    book: new PositionBook(expected),
    clock: settings.clock,
    logger: settings.logger,
    placeOrder: async (intent) => {
      const outcome = await placeCorrection(run, intent);
      run.record.orders.push(outcome);
      return outcome;
    },
    ...(settings.approve ? { approve: settings.approve } : {}),
    ...(settings.correctionLimits ? { limits: settings.correctionLimits } : {}),
  });
  try {
    run.record.corrections = await corrections.handleDrifts(above);
  } catch (e) {
    if (run.signal?.aborted) throw e;
    run.record.adjust("*", undefined, "correction_failed", String(e));
  }
}

/** A corrective market order, sized on the reconciliation's fresh reads: nothing is uncounted. */
async function placeCorrection(run: RebalanceRun, intent: CorrectiveOrderIntent): Promise<OrderOutcome> {
  return run.sellCoordinator.executeOrder(
    { symbol: intent.symbol, side: intent.side, qty: intent.qty, type: "market", timeInForce: "day" },
    {
      runId: `${run.id}-fix`,
      generation: (await run.generationFor(intent.symbol, intent.side, undefined)) ?? 0,
      signal: run.signal,
      onSubmitted: run.onSubmitted,
    },
  );
}
