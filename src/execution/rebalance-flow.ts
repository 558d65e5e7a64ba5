// The phases of a rebalance, one function each, over the run's context (RebalanceRun). The
// flow that strings them together is `rebalanceFlow`; DESIGN.md, "How a rebalance flows",
// describes the same steps.

import { isFinalBrokerStatus, type OrderSide, type OrderSnapshot } from "../broker/broker-port.js";
import { type CoordinationLedger, fromMicros, toMicros } from "../coordination/coordination.js";
import type { Clock } from "../core/clock.js";
import { mapBounded, Semaphore } from "../core/concurrency.js";
import { Decimal, ZERO } from "../core/decimal.js";
import { isBrokerError } from "../core/errors.js";
import { strategyOfClientOrderId } from "../core/ids.js";
import { requiredFunds } from "../funds/required-funds.js";
import { ReservationLedger } from "../funds/reservation-ledger.js";
import { REBALANCE_DEFAULTS } from "../rebalance/rebalance-input.js";
import type { OrderConflict, RebalanceLeg, RebalancePlan } from "../rebalance/rebalance-plan.js";
import type { RunEnding } from "./build-rebalance-report.js";
import type { FundsReservation, OrderExecutionCoordinator } from "./order-execution-coordinator.js";
import type { OrderOutcome } from "./order-outcome.js";
import { policyFor } from "./policies/execution-choice.js";
import { type FreshState, symbolsInvolved } from "./read-state.js";
import { errorOf } from "./rebalance-record.js";
import type { BuyPassReason } from "./rebalance-report.js";
import type { RebalanceRun } from "./rebalance-run.js";
import { reconcilePositions } from "./reconcile-positions.js";
import { sentOrders, takeOverUnfinished } from "./take-over.js";

/** The ending of a run that went to the end: the report decides its status. */
const TO_THE_END: RunEnding = {};

/** A phase's result: its value, or how the run ends right there. */
export type Step<T> = { readonly value: T } | { readonly end: RunEnding };

/** The state a plan was made from, and the plan (trimmed of symbols the run must not trade). */
export interface Planned {
  readonly state: FreshState;
  readonly plan: RebalancePlan;
}

/**
 * A whole rebalance, phase by phase: fresh reads → plan → (market gate) → adopt a resumed
 * run's open orders → cancel conflicting orders → sells → re-read and re-plan the buys on the
 * real cash → buys → reconcile. Each phase is emitted as `phase` as it starts.
 *
 * @param run - the run
 * @returns how the run ended (the caller builds the report from the run's record)
 * @throws whatever a phase throws (a read failing mid-run, the abort reason)
 */
export async function rebalanceFlow(run: RebalanceRun): Promise<RunEnding> {
  // 1. Fresh state.
  const read = await run.phase("read", () => readInitialState(run));
  if ("end" in read) return read.end;
  // 2. Plan (pure).
  const first = run.phase("plan", () => planInitial(run, read.value));
  if ("end" in first) return first.end;
  if (run.dryRun) return TO_THE_END;
  const closed = marketGate(run, read.value, first.value);
  if (closed !== undefined) return closed;

  await run.startJournal(read.value);
  run.startTracking();
  const fresh: Planned = { state: read.value, plan: first.value };
  const adopted = run.earlier.length > 0 ? await run.phase("adopt", () => adoptOwnOrders(run, fresh)) : fresh;
  const planned =
    adopted.plan.conflicts.length > 0
      ? await run.phase("cancel_conflicts", () => cancelConflicts(run, adopted.plan))
      : adopted;
  // 3. Sells first.
  await run.phase("sells", () => placeLegs(run, run.sellCoordinator, planned.plan.sells));
  // 4. Re-read, then buys.
  if (planned.plan.buys.length > 0 && !run.retry.halted) {
    const after = await run.phase("reread", () => run.readOrFail(planned.state));
    const buys = await run.phase("replan_buys", () => replanBuys(run, planned.plan, after));
    if ("end" in buys) return buys.end;
    const firstBuysFrom = run.record.orders.length;
    await run.phase("buys", () => placeBuys(run, buys.value, after));
    const firstBuys = run.record.orders.slice(firstBuysFrom).filter((o) => o.side === "buy");
    await buyPass(run, { sold: planned.plan.sells, buyPlan: buys.value, after, firstBuys });
  } else {
    for (const l of planned.plan.buys)
      run.record.adjust(l.symbol, "buy", "halted", "the circuit breaker opened before the buys");
  }
  // 5. Reconcile. (6. The report is the caller's: see RebalanceRun.finish.)
  await run.phase("reconcile", () => reconcilePositions(run));
  return TO_THE_END;
}

/**
 * Reads the fresh state the run starts from, and checks the caller's belief against it. A
 * resumed run first learns what its earlier attempt placed: what those orders filled is then
 * in the account's record, so the reads the plan uses must show it (they are read again).
 */
async function readInitialState(run: RebalanceRun): Promise<Step<FreshState>> {
  let state: FreshState;
  try {
    await takeOver(run);
    // A resumed run's first read lists the history over its lookback: the resume needs no list of its own.
    const historyMs =
      run.resumable && run.settings.recentOrdersMs > 0 ? run.settings.resumeLookbackMs : undefined;
    state = await run.read({ extraSymbol: run.belief?.symbol, historyMs });
    if (run.resumable) await learnEarlierAttempt(run, state);
    // What the earlier orders filled is in the record now: the reads must show it.
    if (run.earlier.length > 0) state = await run.read({ extraSymbol: run.belief?.symbol, previous: state });
  } catch (e) {
    if (run.signal?.aborted) throw e;
    await followTakenOver(run);
    return { end: { forced: "failed", error: errorOf(e) } };
  }
  run.record.positionsBefore = state.positions;
  run.record.prices = state.prices;
  checkBelief(run, state);
  return { value: state };
}

/**
 * A run that cannot read the account still follows the orders it took over to their final
 * state (reported `adopted`): an order sent before a crash is never left unfollowed because a
 * later read failed.
 */
async function followTakenOver(run: RebalanceRun): Promise<void> {
  if (run.earlier.length === 0 || run.dryRun) return;
  run.startTracking();
  try {
    await Promise.all(run.earlier.map((o) => run.adopt(o)));
    run.earlierFollowed = true;
  } catch (e) {
    if (run.signal?.aborted) throw e;
  }
}

/**
 * The orders an earlier attempt of this run placed: among the open orders just read, and
 * looked up by client order id on every symbol the run may touch.
 *
 * @returns the earlier attempt's orders (also kept on the run, to be adopted)
 */
async function learnEarlierAttempt(run: RebalanceRun, state: FreshState): Promise<readonly OrderSnapshot[]> {
  const open = run.resume.learnFound(state.openOrders);
  // What this process saw of an earlier attempt (an abort, a crash caught in the process) is
  // known even when the broker's lists do not show a fresh order yet.
  const seen = run.resume.learnFound(run.account.record.ordersOn().map((o) => o.snapshot));
  const lookback = run.settings.resumeLookbackMs;
  const listed = state.history;
  const history =
    listed !== undefined && listed.after <= listed.sentAt - lookback
      ? listed.orders
      : await readHistory(run, lookback);
  let found: readonly OrderSnapshot[];
  if (history !== undefined) {
    found = run.resume.learnFound(history);
  } else {
    const symbols = symbolsInvolved(run.targets, state.positions, state.openOrders, run.belief?.symbol);
    found = await run.resume.learnEarlier(symbols, run.settings.concurrency);
  }
  const byId = new Map([...run.earlier, ...seen, ...open, ...found].map((o) => [o.id, o]));
  run.earlier = [...byId.values()];
  return run.earlier;
}

/**
 * Takes over the account's unfinished runs from the journal (a crashed run, this run's own
 * earlier attempt): every order they sent is found (to be adopted) or, not found within the
 * bound, reported `unresolved`, and its symbol is not traded by this run (the order may be
 * live: nothing is sent in its place) — unless it never reached the broker (absent
 * `neverPlacedAfterMs` after it was sent): then it is noted `never_placed` and its leg may be
 * planned again under the next client order id.
 */
export async function takeOver(run: RebalanceRun): Promise<void> {
  const { settings } = run;
  await run.compactJournal();
  const t = await takeOverUnfinished({
    journal: run.journal,
    account: run.accountKey,
    broker: run.broker,
    clock: settings.clock,
    signal: run.signal,
    lookupMs: settings.journalLookupMs,
    only: run.takeOverOnly,
    neverPlacedAfterMs: settings.neverPlacedAfterMs,
    by: run.id,
  });
  run.takenOver = t.runs;
  run.record.takenOver = t.runs.map((r) => ({
    runId: r.runId,
    how: run.takeOverKind(r.runId),
    orders: sentOrders(r.entries).length,
    unresolved: t.unresolved.filter((u) => u.runId === r.runId).length,
    finished: false,
  }));
  for (const w of t.warnings) {
    settings.logger.warn({ runId: run.id, warning: w }, `[ordersafe] journal: ${w.message}`);
    run.record.adjust("*", undefined, `journal_${w.kind}`, w.message);
  }
  run.earlier = t.found;
  run.resume.learnFound(t.found);
  for (const u of t.unresolved) {
    run.blocked.add(u.symbol);
    if (u.clientOrderId !== undefined) {
      run.resume.noteUsed({ clientOrderId: u.clientOrderId, symbol: u.symbol, side: u.side });
    }
    run.recordOutcome(run.unresolvedSend(u));
  }
  // Never placed: its leg may be planned again, under the next client order id (never this one).
  for (const n of t.notPlaced) {
    run.resume.noteUsed(n);
    run.record.adjust(
      n.symbol,
      n.side,
      "never_placed",
      `${n.clientOrderId}, sent by run ${n.runId}, never reached the broker: absent ${settings.neverPlacedAfterMs} ms after it was sent`,
    );
  }
}

/**
 * Every order submitted on the account in the last `lookbackMs`, when the port keeps an
 * order history (one call, paged by the port); undefined without one, or when it fails.
 */
async function readHistory(run: RebalanceRun, lookbackMs: number): Promise<OrderSnapshot[] | undefined> {
  const { broker, signal } = run;
  const list = broker.listOrders;
  if (list === undefined || broker.capabilities.orderHistory !== true) return undefined;
  const after = new Date(run.settings.clock.now() - lookbackMs);
  try {
    return await run.withRetries(() => list.call(broker, { status: "all", after }, { signal }), signal);
  } catch (e) {
    if (signal?.aborted) throw e;
    return undefined; // the walk by client order id learns the same, more slowly
  }
}

/** The broker's position wins over the caller's belief; a difference is logged and noted. */
function checkBelief(run: RebalanceRun, state: FreshState): void {
  const belief = run.belief;
  if (belief === undefined) return;
  const held = state.positions.find((p) => p.symbol === belief.symbol)?.qty ?? ZERO;
  if (held.eq(belief.currentQty)) return;
  run.settings.logger.warn(
    { symbol: belief.symbol, believed: belief.currentQty.toFixed(), held: held.toFixed() },
    "[ordersafe] the broker's position differs from the caller's; using the broker's",
  );
  run.record.adjust(
    belief.symbol,
    undefined,
    "stale_belief",
    `caller believed ${belief.currentQty.toFixed()}, broker holds ${held.toFixed()}`,
  );
}

/**
 * The first plan; what it skipped for a reason worth reporting is noted. Symbols whose
 * position read did not settle are kept out of it; when the account read did not settle,
 * nothing can be sized from its cash, and with weight targets not from its equity either.
 */
function planInitial(run: RebalanceRun, state: FreshState): Step<RebalancePlan> {
  noteUnsettled(run, state);
  if (state.accountUnsettled && "weights" in run.targets) {
    return {
      end: {
        forced: "failed",
        error: {
          code: "unsettled",
          message: "[ordersafe] the account read did not settle: weights cannot be sized from its equity",
        },
      },
    };
  }
  let plan: RebalancePlan;
  try {
    plan = run.plan(state, "both");
  } catch (e) {
    return { end: { forced: "failed", error: errorOf(e) } };
  }
  if (state.accountUnsettled) plan = withoutBuys(run, plan, "the account read did not settle");
  run.recordPlan(plan);
  const known = new Set(state.assets.map((a) => a.symbol));
  for (const s of plan.skipped) {
    if (s.reason === "within_band" || s.reason === "covered_by_open_orders") continue;
    if ((s.reason === "no_price" || s.reason === "no_asset_rules") && !known.has(s.symbol)) {
      // The broker lists no such asset: say so, rather than "no price" for a typo.
      run.record.adjust(s.symbol, s.side, "unknown_symbol", "the broker does not know this symbol");
    } else run.record.adjust(s.symbol, s.side, s.reason, s.detail);
  }
  return { value: plan };
}

/**
 * Notes each read that did not settle: nothing is sized from it.
 *
 * @returns the symbols whose position read did not settle
 */
function noteUnsettled(run: RebalanceRun, state: FreshState): void {
  const ms = run.settings.settle.settleTimeoutMs;
  for (const s of state.unsettled) {
    run.record.adjust(
      s,
      undefined,
      "unsettled",
      `its position read did not show the fills known on it within ${ms} ms; nothing traded on it`,
    );
  }
  if (state.accountUnsettled) {
    run.record.adjust(
      "*",
      "buy",
      "unsettled",
      `the account read did not show the fills known within ${ms} ms; no buy sized from it`,
    );
  }
}

/** A plan with its buys dropped (noted per leg). */
function withoutBuys(run: RebalanceRun, plan: RebalancePlan, why: string): RebalancePlan {
  for (const l of plan.buys) run.record.adjust(l.symbol, "buy", "unsettled", `${why}; not bought`);
  const buys = new Set(plan.buys);
  return { ...plan, buys: [], legs: plan.legs.filter((l) => !buys.has(l)) };
}

/**
 * While the market is closed (and the rebalancer does not queue), nothing is sent: every leg
 * is noted, and so is every order of an earlier attempt still open (a resumed run does not
 * adopt here).
 *
 * @returns the run's ending when the market is closed, else undefined
 */
function marketGate(run: RebalanceRun, state: FreshState, plan: RebalancePlan): RunEnding | undefined {
  const clock = state.clock;
  if (clock === undefined || clock.isOpen || run.settings.queueWhenClosed || plan.legs.length === 0) {
    return undefined;
  }
  // Outside regular hours only limit orders marked for extended hours may trade.
  if (
    plan.legs.every(
      (l) => l.closePosition !== true && policyFor(run.execution, l.symbol, l.side)?.extendedHours === true,
    )
  )
    return undefined;
  for (const l of plan.legs)
    run.record.adjust(l.symbol, l.side, "market_closed", "the market is closed; nothing sent");
  for (const o of run.earlier) {
    if (!isFinalBrokerStatus(o.status))
      run.record.adjust(o.symbol, o.side, "left_open", `${o.clientOrderId} is still ${o.status}`);
  }
  return {
    forced: "failed",
    error: {
      code: "market_closed",
      message: `[ordersafe] the market is closed (next open ${clock.nextOpen.toISOString()})`,
    },
  };
}

/**
 * Resume: takes over the orders the earlier attempt placed, following each still open to its
 * final state (they are reported `adopted`); when any was still open, plans again from fresh
 * state, since what they did is now in the positions.
 */
async function adoptOwnOrders(run: RebalanceRun, planned: Planned): Promise<Planned> {
  const earlier = run.earlier;
  await Promise.all(earlier.map((o) => run.adopt(o)));
  run.earlierFollowed = true;
  if (!earlier.some((o) => !isFinalBrokerStatus(o.status))) return planned;
  const state = await run.readOrFail(planned.state);
  const plan = run.plan(state, "both");
  run.recordPlan(plan);
  return { state, plan };
}

/**
 * Cancels the open orders the plan lists, one at a time, and confirms each cancel: those on
 * the other side of a leg (every open order there, listed afresh), and ordersafe's own orders
 * past the target or against it (by id). Then plans again from fresh state. A symbol whose
 * conflict could not be cancelled is not traded (the broker would refuse a wash trade, or the
 * order may still fill).
 */
async function cancelConflicts(run: RebalanceRun, plan: RebalancePlan): Promise<Planned> {
  const unconfirmed = run.unconfirmedConflicts;
  const kept = new Set<string>();
  const handled = new Set<string>();
  let conflicts = plan.conflicts;
  // The re-plan on the reads after the cancels may bring a new leg (a holding that changed
  // meanwhile) with a conflict of its own: those are cancelled too, in a bounded number of
  // rounds; a leg whose conflict is still standing after them is not sent.
  for (let round = 0; ; round++) {
    for (const s of conflictsKept(run, { ...plan, conflicts })) kept.add(s);
    for (const c of conflicts) {
      handled.add(c.orderId);
      if (kept.has(c.symbol)) continue;
      if (!(await cancelConflict(run, c))) unconfirmed.add(c.symbol);
    }
    const state = await run.readOrFail();
    const replanned = run.plan(state, "both");
    conflicts = replanned.conflicts.filter((c) => !handled.has(c.orderId));
    if (conflicts.length > 0 && round < CONFLICT_ROUNDS - 1) continue;
    for (const c of conflicts) unconfirmed.add(c.symbol);
    return settleConflicts(run, state, replanned, kept);
  }
}

/** The most rounds of cancelling conflicts and planning again before the sells. */
const CONFLICT_ROUNDS = 3;

/** Notes the conflicts that stand, and keeps their symbols' legs out of the plan. */
function settleConflicts(
  run: RebalanceRun,
  state: FreshState,
  replanned: RebalancePlan,
  kept: ReadonlySet<string>,
): Planned {
  const unconfirmed = run.unconfirmedConflicts;
  for (const s of kept) unconfirmed.add(s);
  run.record.plan = replanned;
  for (const s of unconfirmed) {
    if (kept.has(s)) continue;
    run.record.adjust(
      s,
      undefined,
      "conflict_not_cancelled",
      "an opposite-side order could not be cancelled",
    );
  }
  return {
    state,
    plan: {
      ...replanned,
      sells: replanned.sells.filter((l) => !unconfirmed.has(l.symbol)),
      buys: replanned.buys.filter((l) => !unconfirmed.has(l.symbol)),
    },
  };
}

/** Cancels one conflict of a plan and confirms it final; false when that could not be done. */
async function cancelConflict(run: RebalanceRun, c: OrderConflict): Promise<boolean> {
  // On the other side of a leg: every open order there (one may have come since the read).
  if (c.reason === "opposite_side") {
    return run.retry.cancelConflicts({ symbol: c.symbol, side: opposite(c.side) }, run.signal);
  }
  try {
    await run.broker.cancelOrder(c.orderId, { signal: run.signal });
  } catch (e) {
    if (run.signal?.aborted) throw e;
    // Already final, or a cancel that may have landed: the confirmation settles it.
    if (
      !isBrokerError(e, "ambiguous") &&
      !isBrokerError(e, "not_cancelable") &&
      !isBrokerError(e, "not_found")
    )
      return false;
  }
  return run.retry.confirmFinal(c.orderId, run.signal);
}

/**
 * The symbols whose conflicts are not to be cancelled, each noted: another strategy's
 * opposite-side order (`foreign_conflict`, with `cancelConflicts: "own"`; the broker would refuse
 * a wash trade), or any conflict with `cancelConflicts: "none"`.
 */
function conflictsKept(run: RebalanceRun, plan: RebalancePlan): Set<string> {
  const mode = run.settings.cancelConflicts;
  const kept = new Set<string>();
  for (const c of plan.conflicts) {
    if (kept.has(c.symbol)) continue;
    if (mode === "none") {
      kept.add(c.symbol);
      run.record.adjust(c.symbol, undefined, "conflict_not_cancelled", "cancelConflicts is none");
    } else if (mode === "own" && !run.owns(c.clientOrderId)) {
      kept.add(c.symbol);
      run.record.adjust(
        c.symbol,
        opposite(c.side),
        "foreign_conflict",
        `${c.clientOrderId} belongs to strategy ${strategyOfClientOrderId(c.clientOrderId)}: not cancelled, not traded`,
      );
    }
  }
  return kept;
}

/**
 * Executes legs, each to its final state, recording each outcome as its order ends. At most
 * `concurrency` legs are being sent at once (the circuit breaker is checked as each starts); a
 * leg whose order the broker holds gives its place up while it waits for the fill, so every leg
 * of a phase can be working at once. The run's port bounds the requests in flight too.
 */
async function placeLegs(
  run: RebalanceRun,
  coordinator: OrderExecutionCoordinator,
  legs: readonly RebalanceLeg[],
): Promise<void> {
  const sending = new Semaphore(run.settings.concurrency);
  // Each outcome is recorded as its order ends (see RebalanceRun.runOrder).
  await mapBounded(legs, legs.length, async (leg) => {
    const release = await sending.acquire(run.signal);
    try {
      const generation = run.generationFor(leg.symbol, leg.side);
      if (generation === undefined) return;
      await run.journalIntent(leg);
      await run.executeLeg(coordinator, leg, generation, release);
    } finally {
      release();
    }
  });
}

/**
 * Re-plans the buys on the cash actually there after the sells. Symbols just sold, kept, or
 * with an unconfirmed conflict stay out; a conflict the first plan did not meet is cancelled
 * and confirmed now; what the real cash could not fund is noted.
 *
 * @param first - the plan the sells came from
 * @param after - the re-read after the sells
 */
async function replanBuys(
  run: RebalanceRun,
  first: RebalancePlan,
  after: FreshState,
): Promise<Step<RebalancePlan>> {
  const unconfirmed = run.unconfirmedConflicts;
  let buyPlan: RebalancePlan;
  try {
    // Symbols just sold are kept out of the buy re-plan: a sell filled a little under its
    // reference price shrinks equity, and the re-plan must not buy a sliver back. So are
    // symbols whose opposite-side order could not be cancelled (a wash trade).
    const sold = first.sells.map((l) => l.symbol);
    noteUnsettled(run, after);
    buyPlan = run.plan(after, "buys", { keep: [...sold, ...unconfirmed] });
    if (after.accountUnsettled) buyPlan = withoutBuys(run, buyPlan, "the account read did not settle");
  } catch (e) {
    return { end: { forced: "failed", error: errorOf(e) } };
  }
  // A buy the first plan could not fund has had no conflict cancelled: cancel and confirm now.
  for (const c of buyPlan.conflicts) {
    if (unconfirmed.has(c.symbol)) continue;
    if (await cancelConflict(run, c)) continue;
    unconfirmed.add(c.symbol);
    run.record.adjust(
      c.symbol,
      "buy",
      "conflict_not_cancelled",
      "an opposite-side order could not be cancelled",
    );
  }
  buyPlan = { ...buyPlan, buys: buyPlan.buys.filter((l) => !unconfirmed.has(l.symbol)) };
  run.recordBuyPlan(buyPlan);
  noteShortCash(run, first, buyPlan);
  return { value: buyPlan };
}

/** Notes buys the real cash could not fund, and buys it shrank by more than rounding. */
function noteShortCash(run: RebalanceRun, first: RebalancePlan, buyPlan: RebalancePlan): void {
  for (const s of buyPlan.skipped) {
    if (s.reason === "insufficient_cash") run.record.adjust(s.symbol, "buy", s.reason, s.detail);
  }
  for (const l of buyPlan.buys) {
    const planned = first.buys.find((b) => b.symbol === l.symbol);
    if (planned !== undefined && l.estimatedNotional.lt(planned.estimatedNotional.times(0.99))) {
      run.record.adjust(
        l.symbol,
        "buy",
        "shrunk",
        `buy shrunk to fit the real cash: ${l.estimatedNotional.toFixed(2)} ` +
          `instead of ${planned.estimatedNotional.toFixed(2)}`,
      );
    }
  }
}

/** What the second buy pass starts from: the first buys, their plan and the read it was made on. */
interface FirstBuys {
  /** The sells of the plan: their symbols stay out of the buys. */
  readonly sold: readonly RebalanceLeg[];
  readonly buyPlan: RebalancePlan;
  readonly after: FreshState;
  /** The outcomes of the first buys. */
  readonly firstBuys: readonly OrderOutcome[];
}

/**
 * The second buy pass: when the first buys were short for cash and what they counted but did
 * not spend (a quantity market buy counts `marketBuyBuffer` more than it fills at, a buy that
 * did not fill frees all of it) reaches the minimum order, the account is read again (settled,
 * like every read a buy is sized from), the buys still under target are planned on it and sent.
 * One pass, never more; a symbol with an open conflict is left alone. Reported in `buyPass`.
 */
async function buyPass(run: RebalanceRun, first: FirstBuys): Promise<void> {
  const { reason, freed } = buyPassReason(run, first);
  const none = { ran: false, reason, freed, orders: 0, filledNotional: ZERO, symbols: [] };
  if (reason !== "ran") {
    run.record.buyPass = none;
    return;
  }
  await run.phase("buy_pass", async () => {
    const state = await run.readOrFail(first.after);
    const keep = [...first.sold.map((l) => l.symbol), ...run.unconfirmedConflicts];
    let plan = run.plan(state, "buys", { keep });
    if (state.accountUnsettled) plan = withoutBuys(run, plan, "the account read did not settle");
    const conflicted = new Set(plan.conflicts.map((c) => c.symbol));
    const legs = plan.buys.filter((l) => !conflicted.has(l.symbol));
    const from = run.record.orders.length;
    await placeBuys(run, { ...plan, buys: legs }, state);
    const sent = run.record.orders.slice(from).filter((o) => o.side === "buy");
    run.record.buyPass = {
      ...none,
      ran: true,
      orders: sent.filter((o) => o.orderId !== undefined).length,
      filledNotional: sent.reduce((a, o) => a.plus(o.filledNotional), ZERO),
      symbols: legs.map((l) => l.symbol),
    };
  });
}

/**
 * Whether the second buy pass runs, and what the first buys could have freed. It runs only when
 * the first buys were short for cash (a buy the cash could not fund, or less cash left than one
 * more increment of a buy) and could have freed at least the minimum order: a policy whose buys
 * reserve what they spend frees nothing, and so never pays for the pass's read.
 */
function buyPassReason(run: RebalanceRun, first: FirstBuys): { reason: BuyPassReason; freed: Decimal } {
  const { buyPlan, firstBuys } = first;
  const budget = buyPlan.summary.budget;
  let freed = budget.left;
  for (const leg of buyPlan.buys) {
    const spent = firstBuys
      .filter((o) => o.symbol === leg.symbol)
      .reduce((a, o) => a.plus(o.filledNotional), ZERO);
    freed = freed.plus(Decimal.max(ZERO, leg.cashRequired.minus(spent)));
  }
  if (!run.settings.secondBuyPass) return { reason: "off", freed };
  if (run.retry.halted) return { reason: "halted", freed };
  const minimum = minOrderNotional(run);
  const oneMore = buyPlan.buys.map((l) => (l.qty?.gt(0) ? l.cashRequired.div(l.qty) : minimum));
  const short =
    buyPlan.skipped.some((x) => x.reason === "insufficient_cash") ||
    (oneMore.length > 0 && budget.left.lt(Decimal.min(...oneMore)));
  if (!short) return { reason: "not_short", freed };
  if (freed.lt(Decimal.max(minimum, ONE_CENT))) return { reason: "nothing_freed", freed };
  return { reason: "ran", freed };
}

const ONE_CENT = new Decimal("0.01");

/** The planner's minimum order notional, as the rebalancer was given it. */
function minOrderNotional(run: RebalanceRun): Decimal {
  const given = run.settings.plannerOptions.minOrderNotional;
  if (typeof given === "number" || typeof given === "string") return new Decimal(given);
  if (given instanceof Decimal) return given;
  return REBALANCE_DEFAULTS.minOrderNotional;
}

/**
 * The buys: each reserves its funds against the re-read account before it is sent (in the
 * coordination's shared ledger when there is one, after releasing the holds its open orders
 * show gone).
 */
async function placeBuys(run: RebalanceRun, buyPlan: RebalancePlan, after: FreshState): Promise<void> {
  const ledger = run.settings.coordination?.ledger;
  let funds: FundsReservation;
  if (ledger === undefined) funds = reservationsAgainst(after, run.settings.clock);
  else {
    await ledger.reconcile(after.openOrders.map((o) => o.clientOrderId));
    funds = sharedReservations(run, ledger, after);
  }
  return placeLegs(run, run.coordinatorFor(funds), buyPlan.buys);
}

/**
 * Reservations of the buys in the shared ledger: the capacity is the re-read account's funding
 * basis, every process's holds count against it, and the strategy's cap too. A hold is bound to
 * its client order id right before the buy is sent (the run's port does it) and released at
 * the order's final state.
 */
function sharedReservations(
  run: RebalanceRun,
  ledger: CoordinationLedger,
  after: FreshState,
): FundsReservation {
  const capacity = toMicros(new ReservationLedger().available(after.account), "down");
  const { strategyId, logger, strategyCap } = run.settings;
  const cap = strategyCap === undefined ? undefined : toMicros(new Decimal(strategyCap), "down");
  // What the run's released holds held: spent under the strategy's cap, for the whole run.
  const held = new Map<string, number>();
  let spent = 0;
  return {
    reserve: async (intent) => {
      const key = intent.clientOrderId ?? `${run.id}:${intent.symbol}`;
      const amount = toMicros(requiredFunds(intent, after.prices.get(intent.symbol)));
      const own = cap === undefined ? {} : { strategyCap: cap, spent };
      const r = await ledger.reserve({ key, strategyId, amount, capacity, ...own });
      if (!r.ok) return { ok: false, shortfall: fromMicros(amount - r.available), reason: r.reason };
      held.set(key, amount);
      run.buyHolds.set(intent.symbol, key);
      return { ok: true };
    },
    release: (key) => {
      spent += held.get(key) ?? 0;
      held.delete(key);
      ledger
        .release(key)
        .catch((e: unknown) =>
          logger.warn(
            { key, error: String(e) },
            "[ordersafe] a hold could not be released: the next reconcile frees it",
          ),
        );
    },
  };
}

/** Reservations of the buys in a ledger over the re-read account and prices. */
function reservationsAgainst(after: FreshState, clock: Clock): FundsReservation {
  const ledger = new ReservationLedger();
  return {
    reserve: async (intent) => {
      const key = intent.clientOrderId ?? `${intent.symbol}:${intent.side}`;
      const required = requiredFunds(intent, after.prices.get(intent.symbol));
      const res = ledger.reserve(key, required, new Date(clock.now()), {
        symbol: intent.symbol,
        snapshot: after.account,
      });
      return res.ok ? { ok: true } : { ok: false, shortfall: res.shortfall };
    },
    release: (key) => ledger.release(key),
  };
}

const opposite = (side: OrderSide): OrderSide => (side === "buy" ? "sell" : "buy");
