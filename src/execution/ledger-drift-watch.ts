import type { Clock } from "../core/clock.js";
import type { IsolatedEmitter } from "../core/isolation.js";
import { LedgerCashView } from "../funds/ledger-cash-view.js";
import type { RebalancerEvents } from "./rebalancer-events.js";

/** Runs followed at once at most (a run that never reaches `done`, an abort, is forgotten after this many newer ones). */
const MAX_RUNS = 16;

/**
 * Follows the cash the ledger expects through each run of a rebalancer, and emits
 * `ledger:drift` when a settled read the run plans from disagrees with it: every `plan`
 * event is a settled read (its budget's cash), every `order:final` a fill to count (an
 * order taken over from an earlier attempt makes the next read uncompared: its fills may
 * predate the run's reads). It only listens and emits: nothing in a run changes.
 *
 * @param events - the rebalancer
 * @param clock - the clock of the event's `at`
 * @returns a function that stops following
 * @example
 * ```ts
 * const stop = watchLedgerCash(rebalancer, clock);
 * ```
 */
export function watchLedgerCash(events: IsolatedEmitter<RebalancerEvents>, clock: Clock): () => void {
  const views = new Map<string, LedgerCashView>();
  const onPlan: RebalancerEvents["plan"] = (e) => {
    let view = views.get(e.runId);
    if (view === undefined) {
      view = new LedgerCashView();
      views.set(e.runId, view);
      const oldest = views.keys().next().value;
      if (views.size > MAX_RUNS && oldest !== undefined) views.delete(oldest);
    }
    const drift = view.settled(e.plan.summary.budget.cash);
    if (drift !== undefined) events.emit("ledger:drift", { runId: e.runId, drift, at: clock.now() });
  };
  const onFinal: RebalancerEvents["order:final"] = (e) => {
    const view = views.get(e.runId);
    // A taken-over order may have filled before the run's first read: its fills cannot be placed.
    if (e.outcome.adopted) view?.unknownFills();
    else view?.filled(e.outcome.side, e.outcome.filledNotional);
  };
  const onDone: RebalancerEvents["done"] = (e) => {
    views.delete(e.report.runId);
  };
  events.on("plan", onPlan);
  events.on("order:final", onFinal);
  events.on("done", onDone);
  return () => {
    events.off("plan", onPlan);
    events.off("order:final", onFinal);
    events.off("done", onDone);
  };
}
