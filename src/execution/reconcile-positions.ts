import { settleReads } from "../account/settle.js";
import type { OrderSnapshot, PositionSnapshot } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { OrdersafeError } from "../core/errors.js";
import { detectPositionDrift, type PositionDrift } from "../reconcile/detect-position-drift.js";
import { PositionBook } from "../reconcile/position-book.js";
import {
  type CorrectiveOrderIntent,
  PositionCorrectionEngine,
} from "../reconcile/position-correction-engine.js";
import type { OrderOutcome } from "./order-outcome.js";
import { readOrders } from "./read-state.js";
import type { RebalanceRun } from "./rebalance-run.js";

/**
 * The reconcile phase: learns the final state of this run's orders that did not fill (a fill
 * may land after a cancel), re-reads positions and open orders until every position read
 * settles (it shows every fill the account's record knows, or is old enough to), compares each
 * settled read with what the record implies, and hands drift above tolerance to the
 * correction engine in the rebalancer's mode. A failure to read or compare is noted
 * (`reconcile_failed`), never thrown; a read that did not settle is noted `unsettled` and
 * judged neither drift nor in line.
 *
 * @param run - the run
 * @throws the abort reason when the signal aborts
 */
export async function reconcilePositions(run: RebalanceRun): Promise<void> {
  await learnLateFills(run);
  const after = await readAfter(run);
  if (after === undefined) return;
  run.record.positionsAfter = after.positions;
  for (const s of after.unsettled) {
    run.record.adjust(s, undefined, "unsettled", "its position read did not settle: drift not measured");
  }
  const unsettled = new Set(after.unsettled);
  const expected = new Map<string, Decimal>();
  for (const [symbol, qty] of after.expected) if (!unsettled.has(symbol)) expected.set(symbol, qty ?? ZERO);
  const drift = driftAgainst(run, expected, {
    positions: after.positions.filter((p) => !unsettled.has(p.symbol)),
    openOrders: after.openOrders,
  });
  if (drift === undefined) return;
  run.record.drift = drift;
  const above = drift.filter((d) => !d.withinTolerance);
  if (above.length > 0) await handleDrift(run, expected, above);
}

/**
 * Reads again each of this run's orders that ended without filling in full, once
 * `lateFillWindowMs` has passed since the last of them ended: a fill that landed after its
 * cancel (or after the run stopped following it) is learned by the account's record, so the
 * report and the expected positions count it.
 */
async function learnLateFills(run: RebalanceRun): Promise<void> {
  const { broker, signal, settings } = run;
  const unfilled = run.record.orders.filter(
    (o) =>
      o.orderId !== undefined &&
      o.state !== "filled" &&
      o.state !== "submit_failed" &&
      o.state !== "rejected",
  );
  if (unfilled.length === 0) return;
  // A fill reported after a cancel comes soon after it: give the last one its window.
  const until = Math.max(...unfilled.map((o) => o.finalAt)) + settings.lateFillWindowMs;
  const wait = until - settings.clock.now();
  if (wait > 0) await settings.clock.sleep(wait, signal);
  for (const id of unfilled.flatMap((o) => (o.orderId === undefined ? [] : [o.orderId]))) {
    try {
      await broker.getOrder(id, { signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      // Unknown for now: the settled positions read below still shows what happened.
    }
  }
}

/** Positions and open orders after the run, settled against the account's record. */
async function readAfter(run: RebalanceRun): Promise<
  | {
      positions: PositionSnapshot[];
      openOrders: OrderSnapshot[];
      unsettled: readonly string[];
      expected: ReadonlyMap<string, Decimal | undefined>;
    }
  | undefined
> {
  const { broker, signal } = run;
  let openOrders: OrderSnapshot[] = [];
  try {
    const settled = await settleReads({
      ...run.settings.settle,
      record: run.account.record,
      clock: run.settings.clock,
      signal,
      symbols: "all",
      account: false,
      read: async () => {
        const readAt = run.settings.clock.now();
        const [positions, orders] = await Promise.all([
          run.withRetries(() => broker.getPositions({ signal }), signal),
          readOrders(
            {
              broker,
              clock: run.settings.clock,
              attempts: run.settings.readAttempts,
              signal,
              record: run.account.record,
              recentOrdersMs: run.settings.recentOrdersMs,
            },
            readAt,
          ),
        ]);
        openOrders = orders.open;
        return { positions, readAt };
      },
    });
    return {
      positions: settled.positions,
      openOrders,
      unsettled: settled.unsettled,
      expected: settled.expected,
    };
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
  // Never correct a symbol while an order of ours on it is still working: its fills would
  // land on top of the correction.
  const working = above.filter((d) =>
    run.account.record.ordersOn(d.symbol).some((o) => o.origin === "own" && !o.final),
  );
  for (const d of working) {
    run.record.adjust(d.symbol, undefined, "correction_deferred", "an order of ours on it is not final yet");
  }
  const correctable = above.filter((d) => !working.includes(d));
  if (correctable.length === 0) return;
  const corrections = new PositionCorrectionEngine({
    mode: settings.correctionMode,
    book: new PositionBook(expected),
    clock: settings.clock,
    logger: settings.logger,
    placeOrder: (intent) => placeCorrection(run, intent),
    ...(settings.approve ? { approve: settings.approve } : {}),
    ...(settings.correctionLimits ? { limits: settings.correctionLimits } : {}),
  });
  try {
    run.record.corrections = await corrections.handleDrifts(correctable);
  } catch (e) {
    if (run.signal?.aborted) throw e;
    run.record.adjust("*", undefined, "correction_failed", String(e));
  }
}

/** A corrective market order, sized on the reconciliation's fresh reads: nothing is uncounted. */
async function placeCorrection(run: RebalanceRun, intent: CorrectiveOrderIntent): Promise<OrderOutcome> {
  const generation = run.generationFor(intent.symbol, intent.side);
  if (generation === undefined) {
    throw new OrdersafeError("invalid_state", `[ordersafe] no client order id left for ${intent.symbol}`);
  }
  return run.runOrder((onSubmitted) =>
    run.sellCoordinator.executeOrder(
      { symbol: intent.symbol, side: intent.side, qty: intent.qty, type: "market", timeInForce: "day" },
      { runId: run.id, generation, signal: run.signal, onSubmitted, onAccepted: run.onAccepted },
    ),
  );
}
