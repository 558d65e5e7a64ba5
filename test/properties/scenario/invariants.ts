// The eight invariants of a rebalance, checked after every scenario against the broker's
// orders, truth and event log and the RebalanceReport(s). "Unless the scenario injected the
// cause" is decided from the faults the broker actually applied (its event log), the outside
// trades, the market and the crash.

import type { OrderSnapshot } from "ordersafe";
import { Decimal, type OrderOutcome, type RebalanceReport } from "ordersafe";
import type { ScenarioRun } from "./run-scenario.js";

/** One broken invariant. */
export interface Violation {
  /** 1..8 as in docs/reliability.md; 0: the run threw or hung. */
  invariant: number;
  message: string;
}

const FINAL_OUTCOMES = new Set([
  "filled",
  "canceled",
  "expired",
  "rejected",
  "replaced",
  "done_for_day",
  "submit_failed",
  "unresolved",
]);
const FINAL_BROKER = new Set([
  "filled",
  "canceled",
  "expired",
  "replaced",
  "rejected",
  "done_for_day",
  "calculated",
]);
const STATUSES = new Set(["completed", "completed_adjusted", "failed", "halted"]);
/** Faults that make a REST answer missing, late or wrong for a while. */
const REST_FAULTS = new Set(["unavailable", "ambiguous", "rate_limited", "latency_spike", "not_found_lag"]);

const ZERO = new Decimal(0);
const D = (v: string | number | boolean | null | undefined): Decimal =>
  typeof v === "string" || typeof v === "number" ? new Decimal(v) : ZERO;

/** What the scenario injected, as far as the broker applied it. */
export interface Injected {
  /** Fault kinds applied (from the event log). */
  kinds: Set<string>;
  /** `kind:method` of applied REST faults (`kind:*` without a method). */
  kindMethods: Set<string>;
  restFaults: boolean;
  staleReads: boolean;
  outsideBuy: Set<string>;
  outsideSell: Set<string>;
  marketEverClosed: boolean;
  crashed: boolean;
}

export function injected(run: ScenarioRun): Injected {
  const kinds = new Set<string>();
  const kindMethods = new Set<string>();
  const outsideBuy = new Set<string>();
  const outsideSell = new Set<string>();
  for (const e of run.log.slice(0, run.atReturn.logLength)) {
    if (e.type === "fault") {
      kinds.add(String(e.kind));
      kindMethods.add(`${e.kind}:${e.method ?? "*"}`);
    } else if (e.type === "outside_trade") {
      (D(e.qtyDelta).gt(0) ? outsideBuy : outsideSell).add(String(e.symbol));
    }
  }
  const m = run.scenario.market;
  return {
    kinds,
    kindMethods,
    restFaults: [...kinds].some((k) => REST_FAULTS.has(k)),
    staleReads: kinds.has("stale_reads"),
    outsideBuy,
    outsideSell,
    marketEverClosed: !m.open || m.flipAtMs !== null,
    crashed: run.crashed,
  };
}

/** Orders of someone else standing before the run (not the rebalancer's). */
export const isStanding = (o: { clientOrderId: string }): boolean => o.clientOrderId.startsWith("pre-");

interface Interval {
  order: OrderSnapshot;
  from: number;
  to: number;
}

/** Each live order's open interval (submit → first final update), from the event log. */
function openIntervals(run: ScenarioRun): Interval[] {
  const byId = new Map(run.afterIdle.orders.map((o) => [o.id, o]));
  const from = new Map<string, number>();
  const to = new Map<string, number>();
  for (const e of run.log) {
    if (e.type === "submit") from.set(String(e.orderId), e.seq);
    else if (e.type === "update" && FINAL_BROKER.has(String(e.status)) && !to.has(String(e.orderId))) {
      to.set(String(e.orderId), e.seq);
    }
  }
  return [...from]
    .map(([id, f]) => ({
      order: byId.get(id) as OrderSnapshot,
      from: f,
      to: to.get(id) ?? Number.POSITIVE_INFINITY,
    }))
    .filter((i) => !isStanding(i.order));
}

function allOutcomes(run: ScenarioRun): OrderOutcome[] {
  return run.reports.flatMap((r) => r.orders);
}

/** Per-order: the outcome that knows the most (largest filled quantity), by broker id. */
function outcomesByOrderId(run: ScenarioRun): Map<string, OrderOutcome> {
  const m = new Map<string, OrderOutcome>();
  for (const o of allOutcomes(run)) {
    if (o.orderId === undefined) continue;
    const prev = m.get(o.orderId);
    if (prev === undefined || o.filledQty.gt(prev.filledQty)) m.set(o.orderId, o);
  }
  return m;
}

function equity(cash: Decimal, positions: Map<string, Decimal>, prices: Map<string, Decimal>): Decimal {
  let e = cash;
  for (const [s, q] of positions) e = e.plus(q.times(prices.get(s) ?? ZERO));
  return e;
}

/**
 * Checks the eight invariants.
 *
 * @param run - a finished scenario run
 * @returns the violations (empty when every invariant holds)
 */
export function checkInvariants(run: ScenarioRun): Violation[] {
  const v: Violation[] = [];
  const fail = (invariant: number, message: string) => v.push({ invariant, message });
  const s = run.scenario;
  const inj = injected(run);

  if (run.thrown !== undefined) {
    const e = run.thrown as { code?: string; message?: string };
    fail(0, `the run threw ${e.code ?? ""} ${e.message ?? String(run.thrown)}`);
    return v;
  }
  const final = run.final as RebalanceReport;
  // A closePosition whose reply was lost and that filled before it could be found: its
  // broker-made id is unknowable, so the report carries an unresolved close instead (a close
  // still working when looked for is adopted and reported like any order).
  const lostClose = (o: { clientOrderId: string; symbol: string }) =>
    o.clientOrderId.startsWith("sim-close-") &&
    (inj.kindMethods.has("ambiguous:closePosition") || inj.kindMethods.has("ambiguous:*")) &&
    run.reports.some((r) =>
      r.orders.some((x) => x.symbol === o.symbol && x.side === "sell" && x.state === "unresolved"),
    );
  for (const r of run.reports) {
    if (!STATUSES.has(r.status)) fail(5, `report status ${r.status}`);
  }

  const weights = new Map(s.symbols.map((x) => [x.symbol, new Decimal(x.weightBps).div(10_000)]));
  const prices = run.start.prices;
  const e0 = equity(run.start.cash, run.start.positions, prices);
  const whole = new Set(s.symbols.filter((x) => !x.fractionable).map((x) => x.symbol));
  const intervals = openIntervals(run);
  const live = intervals.map((i) => i.order);
  const fills = run.log.filter((e) => e.type === "fill");
  const filledBy = (symbol: string, side: "buy" | "sell") =>
    fills
      .filter((e) => e.symbol === symbol && e.side === side)
      .reduce((a, e) => ({ qty: a.qty.plus(D(e.qty)), value: a.value.plus(D(e.qty).times(D(e.price))) }), {
        qty: ZERO,
        value: ZERO,
      });
  const symbols = new Set([...prices.keys()]);
  // A fill after a confirmed cancel (injected) trades beyond what any plan asked.
  const lateFills = fills.some((e) => e.late === true);

  // 1. No intent placed twice: client order ids unique among placed orders; at most one open
  //    order per (symbol, side) at any moment; never more bought than the target asks.
  const ids = live.map((o) => o.clientOrderId);
  if (new Set(ids).size !== ids.length) fail(1, `a client order id was placed twice: ${ids.join(",")}`);
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const a = intervals[i] as Interval;
      const b = intervals[j] as Interval;
      if (a.order.symbol !== b.order.symbol || a.order.side !== b.order.side) continue;
      // A resumed run plans against the crashed run's open orders (their unfilled part is
      // netted out), so only orders of one run must never overlap; the fill bounds below
      // catch any double placement across the two.
      const resume = run.resumeLogLength;
      const crossRun = resume !== undefined && a.from < resume !== b.from < resume;
      if (a.from < b.to && b.from < a.to && !crossRun) {
        fail(
          1,
          `two open ${a.order.side} orders on ${a.order.symbol} at once: ${a.order.clientOrderId} and ${b.order.clientOrderId}`,
        );
      }
    }
  }
  for (const sym of symbols) {
    const price = prices.get(sym) as Decimal;
    const held0 = run.start.positions.get(sym) ?? ZERO;
    const targetValue = (weights.get(sym) ?? ZERO).times(e0);
    const bought = filledBy(sym, "buy");
    const sold = filledBy(sym, "sell");
    const needBuy = Decimal.max(ZERO, targetValue.minus(held0.times(price)));
    const slack = e0
      .times(0.02)
      .plus(whole.has(sym) ? price : ZERO)
      .plus(2);
    if (
      !inj.outsideSell.has(sym) &&
      !inj.staleReads &&
      !lateFills &&
      bought.value.gt(needBuy.times(1.01).plus(slack))
    ) {
      fail(1, `bought ${bought.value.toFixed(2)} of ${sym}, the target asked for ${needBuy.toFixed(2)}`);
    }
    // 2 (part). No oversell: never sold more than held0 − target (plus the full-exit rule).
    const targetQty = targetValue.div(price);
    const had = held0.plus(bought.qty);
    const canSell = Decimal.max(ZERO, had.minus(targetQty.times(0.99)))
      .plus(had.times(0.021))
      .plus(whole.has(sym) ? 1 : 0)
      .plus(1e-6);
    if (!inj.outsideBuy.has(sym) && !inj.staleReads && !lateFills && sold.qty.gt(canSell)) {
      fail(2, `sold ${sold.qty.toFixed()} ${sym}: held ${held0.toFixed()}, target ${targetQty.toFixed(4)}`);
    }
    // 1. No round trip: within one run a symbol is never both bought and sold (a later run of
    //    the same runId may trim what slippage left off target; the bounds above still hold).
    if (
      s.crash === null &&
      bought.qty.gt(0) &&
      sold.qty.gt(0) &&
      !lateFills &&
      !inj.outsideBuy.has(sym) &&
      !inj.outsideSell.has(sym)
    ) {
      fail(1, `${sym} was both bought and sold`);
    }
  }
  for (const r of run.reports) {
    const mine = r.orders.filter((o) => !o.adopted && o.filledQty.gt(0));
    const both = mine.filter(
      (o) => o.side === "buy" && mine.some((x) => x.side === "sell" && x.symbol === o.symbol),
    );
    if (both.length > 0 && !lateFills)
      fail(s.crash === null ? 1 : 8, `one run both bought and sold ${both[0]?.symbol}`);
  }

  // 2. No accidental short: replaying the log, no position and no cash ever goes negative.
  {
    const pos = new Map(run.start.positions);
    let cash = run.start.cash;
    for (const e of run.log) {
      if (e.type === "fill") {
        const q = D(e.qty).times(e.side === "buy" ? 1 : -1);
        const sym = String(e.symbol);
        pos.set(sym, (pos.get(sym) ?? ZERO).plus(q));
        cash = cash.minus(q.times(D(e.price)));
        if ((pos.get(sym) as Decimal).lt(0))
          fail(2, `${sym} went short: ${(pos.get(sym) as Decimal).toFixed()}`);
        if (cash.lt(-1e-6) && !lateFills) fail(2, `cash went negative: ${cash.toFixed(2)}`);
      } else if (e.type === "outside_trade") {
        const sym = String(e.symbol);
        pos.set(sym, (pos.get(sym) ?? ZERO).plus(D(e.qtyDelta)));
        cash = cash.minus(D(e.qtyDelta).times(D(e.price)));
      }
    }
  }

  // 3. No refusal for buying power or quantity (nor any other rule) unless injected.
  for (const e of run.log) {
    if (e.type !== "refused" || String(e.clientOrderId).startsWith("pre-")) continue;
    const code = String(e.code);
    const submitAmbiguous =
      inj.kindMethods.has("ambiguous:submitOrder") ||
      inj.kindMethods.has("ambiguous:*") ||
      // A second run of the runId whose lookups were faulted (or lagged) may reuse an id:
      // the refusal is the designed safety net (the order is adopted, never placed twice).
      (s.crash !== null && inj.restFaults);
    const excused =
      (code === "insufficient_buying_power" && (inj.staleReads || inj.outsideBuy.size > 0 || lateFills)) ||
      (code === "insufficient_quantity" && (inj.staleReads || inj.outsideSell.size > 0 || lateFills)) ||
      (code === "duplicate_client_order_id" && submitAmbiguous) ||
      // The crashed run's open order hidden from the resume's reads (lag, faults) is a
      // conflict no plan could see: the retry cancels it and goes on.
      (code === "wash_trade" && inj.crashed && inj.restFaults) ||
      // An outside trade between the plans can turn a standing order into a new conflict.
      (code === "wash_trade" && inj.outsideBuy.size + inj.outsideSell.size > 0) ||
      // A sell capped to what an outside sale left (or a buy resized) may fall under the
      // minimum: a follow-on of the injected cause.
      ((code === "min_notional" || code === "not_fractionable") &&
        (inj.staleReads || inj.outsideBuy.size + inj.outsideSell.size > 0));
    if (!excused) fail(3, `the broker refused ${e.clientOrderId}: ${code}`);
  }
  for (const o of live) {
    if (o.status === "rejected" && !inj.kinds.has("reject_after_accept")) {
      fail(3, `${o.clientOrderId} was rejected after acceptance with no such fault`);
    }
  }

  // 4. No reservation left at the end.
  for (const l of run.ledgers) {
    if (l.size !== 0) fail(4, `a reservation ledger still holds ${l.size} reservation(s)`);
  }

  // 5. Every order ends final; `unresolved` only when the faults made the outcome unknowable.
  const byOrderId = outcomesByOrderId(run);
  // (a submit_failed outcome names the id it tried, not an order: it reports none)
  const byClientId = new Map(
    allOutcomes(run)
      .filter((o) => o.state !== "submit_failed")
      .map((o) => [o.clientOrderId, o]),
  );
  const atReturn = new Map(run.atReturn.orders.map((o) => [o.id, o]));
  const ownAtReturn = run.atReturn.orders.filter((o) => !isStanding(o));
  for (const o of allOutcomes(run)) {
    if (!FINAL_OUTCOMES.has(o.state)) fail(5, `${o.clientOrderId} ended ${o.state}`);
  }
  for (const o of final.orders) {
    if (o.state !== "unresolved") continue;
    const b = o.orderId !== undefined ? atReturn.get(o.orderId) : undefined;
    const brokerStillOpen = b !== undefined && !FINAL_BROKER.has(b.status);
    if (!brokerStillOpen && !inj.restFaults && !inj.marketEverClosed) {
      fail(
        5,
        `${o.clientOrderId} unresolved, yet the broker had it ${b?.status ?? "absent"} and REST answered`,
      );
    }
  }
  for (const b of ownAtReturn) {
    if (FINAL_BROKER.has(b.status)) continue;
    const o = byOrderId.get(b.id) ?? byClientId.get(b.clientOrderId);
    // A resumed run that stops at a closed market names what the crashed run left open.
    const named = final.adjustments.some(
      (a) => a.reason === "left_open" && a.detail.includes(b.clientOrderId),
    );
    // A crashed run's order hidden from the resume's lookups (lag, faults) cannot be adopted.
    const hidden = o === undefined && inj.crashed && inj.restFaults;
    if ((o === undefined || o.state !== "unresolved") && !named && !hidden && !lostClose(b)) {
      fail(5, `${b.clientOrderId} is ${b.status} at the broker but reported ${o?.state ?? "nowhere"}`);
    }
  }

  // 6. The report agrees with the broker: each order's state and fills, every filled order
  //    reported, positions, and cash moved by exactly the reported fills.
  let unreported = false;
  for (const b of ownAtReturn) {
    if (b.filledQty.isZero()) continue;
    if (!byOrderId.has(b.id) && !byClientId.has(b.clientOrderId)) {
      unreported = true;
      if (!inj.crashed && !lostClose(b))
        fail(6, `${b.clientOrderId} filled ${b.filledQty.toFixed()} but no report has it`);
    }
  }
  for (const o of byOrderId.values()) {
    const b = atReturn.get(o.orderId as string);
    if (b === undefined) {
      fail(6, `${o.clientOrderId} reported with an order id the broker does not know`);
      continue;
    }
    if (b.symbol !== o.symbol || b.side !== o.side) fail(6, `${o.clientOrderId} symbol/side differ`);
    if (o.state === "unresolved") {
      if (o.filledQty.gt(b.filledQty)) fail(6, `${o.clientOrderId} reports more filled than the broker`);
      continue;
    }
    // A fill after the cancel (injected) may land after the report: more filled, even `filled`.
    const lateFill = inj.kinds.has("fill_after_cancel") && o.filledQty.lt(b.filledQty);
    if (o.state !== b.status && !lateFill) {
      fail(6, `${o.clientOrderId} reported ${o.state}, the broker says ${b.status}`);
    }
    if (!o.filledQty.eq(b.filledQty) && !lateFill) {
      fail(
        6,
        `${o.clientOrderId} reported ${o.filledQty.toFixed()} filled, the broker ${b.filledQty.toFixed()}`,
      );
    }
    if (o.filledQty.gt(0) && b.filledAvgPrice !== undefined && o.filledQty.eq(b.filledQty)) {
      const value = b.filledQty.times(b.filledAvgPrice);
      if (o.filledNotional.minus(value).abs().gt(0.01)) {
        fail(6, `${o.clientOrderId} notional ${o.filledNotional.toFixed(4)} vs broker ${value.toFixed(4)}`);
      }
    }
  }
  const anyUnresolved = allOutcomes(run).some((o) => o.state === "unresolved");
  const allFinal = ownAtReturn.every((o) => FINAL_BROKER.has(o.status));
  // positionsAfter is what the broker held when the final run read it: the start, replayed
  // through every fill and outside trade logged before its last getPositions call.
  if (final.positionsAfter.length > 0 && !inj.staleReads) {
    let lastRead = -1;
    for (let k = 0; k < run.atReturn.logLength; k++) {
      const e = run.log[k];
      if (e?.type === "call" && e.method === "getPositions") lastRead = k;
    }
    const held = new Map(run.start.positions);
    for (const e of run.log.slice(0, Math.max(0, lastRead))) {
      const delta =
        e.type === "fill"
          ? D(e.qty).times(e.side === "buy" ? 1 : -1)
          : e.type === "outside_trade"
            ? D(e.qtyDelta)
            : undefined;
      if (delta !== undefined) held.set(String(e.symbol), (held.get(String(e.symbol)) ?? ZERO).plus(delta));
    }
    const reported = new Map(final.positionsAfter.map((p) => [p.symbol, p.qty]));
    for (const sym of new Set([...reported.keys(), ...held.keys()])) {
      const a = reported.get(sym) ?? ZERO;
      const b = held.get(sym) ?? ZERO;
      if (!a.eq(b)) fail(6, `positionsAfter ${sym} ${a.toFixed()} but the broker held ${b.toFixed()} then`);
    }
  }
  if (!unreported && !anyUnresolved && !inj.kinds.has("fill_after_cancel")) {
    let reportedCash = ZERO;
    for (const o of byOrderId.values()) {
      reportedCash = reportedCash.plus(o.side === "sell" ? o.filledNotional : o.filledNotional.negated());
    }
    let outsideCash = ZERO;
    for (const e of run.log.slice(0, run.atReturn.logLength)) {
      if (e.type === "outside_trade") outsideCash = outsideCash.minus(D(e.qtyDelta).times(D(e.price)));
    }
    const moved = run.atReturn.cash.minus(run.start.cash).minus(outsideCash);
    if (
      moved
        .minus(reportedCash)
        .abs()
        .gt(0.01 * Math.max(1, byOrderId.size))
    ) {
      fail(6, `cash moved ${moved.toFixed(4)}, the reported fills ${reportedCash.toFixed(4)}`);
    }
  }

  // 7. With open markets and no outside trades, the final drift is within tolerance.
  const clean =
    !inj.marketEverClosed &&
    inj.outsideBuy.size === 0 &&
    inj.outsideSell.size === 0 &&
    !inj.staleReads &&
    !lateFills &&
    // A crashed run's order hidden from the resume (lagged or faulted reads) skews its plan.
    !(inj.crashed && inj.restFaults) &&
    // An order still working when the run returned (hidden from a resume by lagged reads)
    // has not moved the positions yet.
    allFinal &&
    // Someone else's open order on the book is netted by the plan and never fills.
    !run.atReturn.orders.some((o) => isStanding(o) && !FINAL_BROKER.has(o.status)) &&
    (final.status === "completed" || final.status === "completed_adjusted") &&
    run.reports.every((r) => r.orders.every((o) => o.state === "filled"));
  if (clean) {
    const e1 = equity(run.atReturn.cash, run.atReturn.positions, prices);
    // Each whole-share symbol's rounding can strand up to one share's value.
    const wholeStep = [...whole].reduce((a, x) => a.plus(prices.get(x) ?? ZERO), ZERO);
    for (const sym of symbols) {
      const price = prices.get(sym) as Decimal;
      const held0 = run.start.positions.get(sym) ?? ZERO;
      const target = (weights.get(sym) ?? ZERO).times(e1);
      const value = (run.atReturn.positions.get(sym) ?? ZERO).times(price);
      const move = target.minus(held0.times(price)).abs();
      // Rounding whole-share legs strands up to a share's value each, in that symbol or (as
      // cash that cannot fund a buy) in any other; market buys hold 3% more than they cost.
      const tol = e1.times(0.01).plus(move.times(0.035)).plus(wholeStep).plus(2);
      if (value.minus(target).abs().gt(tol)) {
        fail(
          7,
          `${sym} ends at ${value.toFixed(2)}, target ${target.toFixed(2)} (tolerance ${tol.toFixed(2)})`,
        );
      }
    }
  }

  // 8. Resume after a crash places nothing twice: every order the crashed run left open is
  //    adopted by the resumed run, none is placed again (ids, open intervals and the buy/sell
  //    bounds above cover the rest).
  if (run.crashed && run.resumedAtMs !== undefined) {
    const resumedSeq = run.resumeLogLength ?? 0;
    for (const i of intervals) {
      if (i.from >= resumedSeq) continue;
      if (i.to < resumedSeq || i.order.clientOrderId.startsWith("sim-close-")) continue;
      const o = final.orders.find((x) => x.orderId === i.order.id);
      const named = final.adjustments.some(
        (a) => a.reason === "left_open" && a.detail.includes(i.order.clientOrderId),
      );
      if (o === undefined && !named && !inj.restFaults) {
        fail(8, `${i.order.clientOrderId} was open at the resume but the resumed run did not adopt it`);
      }
    }
  }
  return v;
}
