// The eight invariants of a rebalance, checked after every scenario against the broker's
// orders, truth and event log and the RebalanceReport(s). Stale and lagging reads, lagged
// lookups and fills after a cancel are the normal condition: they excuse nothing. What a
// scenario may excuse is only what provably changed the account outside the library (an
// outside trade, as the event log shows it), a closed market, and REST faults that make an
// order's final state unknowable for the bounded checks (then `unresolved`, never silence).

import type { OrderSnapshot } from "ordersafe";
import { Decimal, type OrderOutcome, type RebalanceReport } from "ordersafe";
import type { SimEvent } from "ordersafe/testing";
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
  /** Shares bought and sold by outside trades, per symbol. */
  outsideBought: Map<string, Decimal>;
  outsideSold: Map<string, Decimal>;
  outsideBuy: Set<string>;
  outsideSell: Set<string>;
  marketEverClosed: boolean;
  crashed: boolean;
  /** Whether position or account reads lagged fills (a `read_lag` or `stale_reads` applied). */
  readLag: boolean;
}

export function injected(run: ScenarioRun): Injected {
  const kinds = new Set<string>();
  const kindMethods = new Set<string>();
  const outsideBought = new Map<string, Decimal>();
  const outsideSold = new Map<string, Decimal>();
  const standing = standingOrderIds(run);
  const add = (side: Map<string, Decimal>, sym: string, q: Decimal) =>
    side.set(sym, (side.get(sym) ?? ZERO).plus(q.abs()));
  for (const e of run.log.slice(0, run.atReturn.logLength)) {
    if (e.type === "fault") {
      kinds.add(String(e.kind));
      kindMethods.add(`${e.kind}:${e.method ?? "*"}`);
    } else if (e.type === "outside_trade") {
      const q = D(e.qtyDelta);
      add(q.gt(0) ? outsideBought : outsideSold, String(e.symbol), q);
    } else if (e.type === "fill" && standing.has(String(e.orderId))) {
      // Someone else's standing order filled (a fill after the library cancelled it): a
      // trade of another party, like an outside trade.
      add(e.side === "buy" ? outsideBought : outsideSold, String(e.symbol), D(e.qty));
    }
  }
  const m = run.scenario.market;
  return {
    kinds,
    kindMethods,
    restFaults: [...kinds].some((k) => REST_FAULTS.has(k)),
    outsideBought,
    outsideSold,
    outsideBuy: new Set(outsideBought.keys()),
    outsideSell: new Set(outsideSold.keys()),
    marketEverClosed: !m.open || m.flipAtMs !== null,
    crashed: run.crashed,
    readLag: kinds.has("read_lag") || kinds.has("stale_reads"),
  };
}

/** Orders of someone else standing before the run (not the rebalancer's). */
export const isStanding = (o: { clientOrderId: string }): boolean => o.clientOrderId.startsWith("pre-");

/** The broker ids of someone else's standing orders. */
function standingOrderIds(run: ScenarioRun): Set<string> {
  return new Set(run.afterIdle.orders.filter(isStanding).map((o) => o.id));
}

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
    .flatMap(([id, f]) => {
      const order = byId.get(id);
      return order === undefined ? [] : [{ order, from: f, to: to.get(id) ?? Number.POSITIVE_INFINITY }];
    })
    .filter((i) => !isStanding(i.order));
}

function allOutcomes(run: ScenarioRun): OrderOutcome[] {
  return run.reports.flatMap((r) => r.orders);
}

/** Per order: the outcome that knows the most (largest filled quantity), by broker id. */
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

/** The account replayed from the start through the log's first `n` events. */
function replay(run: ScenarioRun, n: number): { cash: Decimal; positions: Map<string, Decimal> } {
  const positions = new Map(run.start.positions);
  let cash = run.start.cash;
  for (const e of run.log.slice(0, n)) {
    const delta = qtyDelta(e);
    if (delta === undefined) continue;
    const sym = String(e.symbol);
    positions.set(sym, (positions.get(sym) ?? ZERO).plus(delta));
    cash = cash.minus(delta.times(D(e.price)));
  }
  return { cash, positions };
}

/** Shares a log event moved (a fill or an outside trade), else undefined. */
function qtyDelta(e: SimEvent): Decimal | undefined {
  if (e.type === "fill") return D(e.qty).times(e.side === "buy" ? 1 : -1);
  if (e.type === "outside_trade") return D(e.qtyDelta);
  return undefined;
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
  const inj = injected(run);

  if (run.thrown !== undefined) {
    const e = run.thrown as { code?: string; message?: string };
    fail(0, `the run threw ${e.code ?? ""} ${e.message ?? String(run.thrown)}`);
    return v;
  }
  for (const r of run.reports) {
    if (!STATUSES.has(r.status)) fail(5, `report status ${r.status}`);
  }
  noIntentTwice(run, inj, fail);
  neverShort(run, fail);
  noUninjectedRefusal(run, inj, fail);
  for (const l of run.ledgers) {
    if (l.size !== 0) fail(4, `a reservation ledger still holds ${l.size} reservation(s)`);
  }
  everyOrderFinal(run, inj, fail);
  reportAgrees(run, fail);
  driftWithinTolerance(run, inj, fail);
  resumeAdoptsAll(run, fail);
  return v;
}

type Fail = (invariant: number, message: string) => void;

/**
 * 1. No intent placed twice: client order ids unique among placed orders; at most one open
 * order per (symbol, side) at any moment; per symbol, nothing sold beyond (held − target)
 * and nothing bought beyond (target − held) by more than one increment, where held is the
 * broker's holding when the scenario started and target the weight of the equity at the
 * start of each run (a later run plans on the equity the earlier one's fills left), plus
 * what outside trades provably moved. The one sale past (held − target) that is right: a
 * full exit of a remainder too small to trade (under the minimum order or one increment).
 */
function noIntentTwice(run: ScenarioRun, inj: Injected, fail: Fail): void {
  const intervals = openIntervals(run);
  const ids = intervals.map((i) => i.order.clientOrderId);
  if (new Set(ids).size !== ids.length) fail(1, `a client order id was placed twice: ${ids.join(",")}`);
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const a = intervals[i] as Interval;
      const b = intervals[j] as Interval;
      if (a.order.symbol !== b.order.symbol || a.order.side !== b.order.side) continue;
      if (a.from < b.to && b.from < a.to) {
        fail(
          1,
          `two open ${a.order.side} orders on ${a.order.symbol} at once: ${a.order.clientOrderId} and ${b.order.clientOrderId}`,
        );
      }
    }
  }
  for (const bound of runBounds(run, inj)) {
    const { r, sym, held, minTarget, maxTarget, bought, sold, increment, price } = bound;
    // Another party's trade moves what is held, and a read may show it only after a while (a
    // lagging read can match what this process knows and still predate it): the bounds widen
    // by the shares others traded, in either direction, and by nothing else.
    const others = bound.outsideIn.plus(bound.outsideOut);
    const mayBuy = Decimal.max(ZERO, maxTarget.minus(held)).plus(others).plus(increment);
    if (bought.gt(mayBuy)) {
      fail(
        1,
        `run ${r + 1} bought ${bought.toFixed()} ${sym}: held ${held.toFixed()}, target ${maxTarget.toFixed(6)}`,
      );
    }
    // A full exit of a remainder that could not be traded (under $1, the minimum order, or one
    // increment) sells that remainder too: at most all that was held.
    const untradeable = minTarget.times(price).lt(1) || minTarget.lt(increment);
    const maySell = (untradeable ? held : Decimal.max(ZERO, held.minus(minTarget)).plus(increment)).plus(
      others,
    );
    if (sold.gt(maySell)) {
      fail(
        1,
        `run ${r + 1} sold ${sold.toFixed()} ${sym}: held ${held.toFixed()}, target ${minTarget.toFixed(6)}`,
      );
    }
  }
  // No round trip: within one run a symbol is never both bought and sold by its own orders.
  for (const r of run.reports) {
    const mine = r.orders.filter((o) => !o.adopted && o.filledQty.gt(0));
    const both = mine.filter(
      (o) => o.side === "buy" && mine.some((x) => x.side === "sell" && x.symbol === o.symbol),
    );
    if (
      both.length > 0 &&
      !inj.outsideBuy.has(both[0]?.symbol ?? "") &&
      !inj.outsideSell.has(both[0]?.symbol ?? "")
    )
      fail(1, `one run both bought and sold ${both[0]?.symbol}`);
  }
}

/** What one run may have traded on one symbol, and what it did. */
interface RunBound {
  r: number;
  sym: string;
  price: Decimal;
  increment: Decimal;
  /** Held when the run planned: at its start, its earlier attempt's orders counted as done. */
  held: Decimal;
  minTarget: Decimal;
  maxTarget: Decimal;
  /** Filled by the run's own orders. */
  bought: Decimal;
  sold: Decimal;
  /** Shares other parties bought and sold during the scenario. */
  outsideIn: Decimal;
  outsideOut: Decimal;
}

/**
 * Each run is judged from its own start: what it held then, its earlier attempt's orders
 * counted as done (a resume plans after they end), and the targets as weights of the equity
 * then (with or without the earlier attempt's fills, whose prices may differ). Another party's trade (an outside trade, someone else's order filling) moves the
 * equity and the holding: the targets of any moment after one also count, and the shares it
 * moved widen the bound by exactly that much.
 */
function runBounds(run: ScenarioRun, inj: Injected): RunBound[] {
  const s = run.scenario;
  const prices = run.start.prices;
  const weights = new Map(s.symbols.map((x) => [x.symbol, new Decimal(x.weightBps).div(10_000)]));
  const whole = new Set(s.symbols.filter((x) => !x.fractionable).map((x) => x.symbol));
  const standing = standingOrderIds(run);
  const starts = [0, ...(run.resumeLogLength === undefined ? [] : [run.resumeLogLength])];
  // Which run sent each order: the one whose span holds its submit.
  const runOf = new Map<string, number>();
  for (const e of run.log) {
    if (e.type !== "submit" || standing.has(String(e.orderId))) continue;
    runOf.set(String(e.orderId), starts.filter((st) => st <= e.seq).length - 1);
  }
  const out: RunBound[] = [];
  starts.forEach((start, r) => {
    // The state the run planned from: the log before its start, plus every later fill of an
    // earlier run's orders.
    const positions = new Map(run.start.positions);
    let cash = run.start.cash;
    const equities: Decimal[] = [];
    const apply = (e: SimEvent, delta: Decimal) => {
      const sym = String(e.symbol);
      positions.set(sym, (positions.get(sym) ?? ZERO).plus(delta));
      cash = cash.minus(delta.times(D(e.price)));
    };
    const atStart = replay(run, start);
    // A plan made before the earlier attempt's orders filled sees the equity of the start.
    equities.push(equity(atStart.cash, atStart.positions, prices));
    run.log.forEach((e, k) => {
      const delta = qtyDelta(e);
      if (delta === undefined) return;
      const own = e.type === "fill" && runOf.has(String(e.orderId));
      if (k < start || (own && (runOf.get(String(e.orderId)) ?? 0) < r)) apply(e, delta);
    });
    const held = new Map(positions);
    equities.push(equity(cash, positions, prices));
    // Other parties' trades after the start move the equity a later plan of the run sees.
    run.log.forEach((e, k) => {
      const delta = qtyDelta(e);
      if (delta === undefined || k < start) return;
      const others = e.type === "outside_trade" || (e.type === "fill" && standing.has(String(e.orderId)));
      if (!others) return;
      apply(e, delta);
      equities.push(equity(cash, positions, prices));
    });
    for (const [sym, price] of prices) {
      const targets = equities.map((q) => (weights.get(sym) ?? ZERO).times(q).div(price));
      const fills = run.log.filter(
        (e) => e.type === "fill" && e.symbol === sym && runOf.get(String(e.orderId)) === r,
      );
      const sum = (side: string) =>
        fills.filter((e) => e.side === side).reduce((a, e) => a.plus(D(e.qty)), ZERO);
      out.push({
        r,
        sym,
        price,
        increment: new Decimal(whole.has(sym) ? 1 : "0.000000001"),
        held: held.get(sym) ?? ZERO,
        minTarget: Decimal.min(...targets),
        maxTarget: Decimal.max(...targets),
        bought: sum("buy"),
        sold: sum("sell"),
        outsideIn: inj.outsideBought.get(sym) ?? ZERO,
        outsideOut: inj.outsideSold.get(sym) ?? ZERO,
      });
    }
  });
  return out;
}

/** 2. No accidental short: replaying the log, no position and no cash ever goes negative. */
function neverShort(run: ScenarioRun, fail: Fail): void {
  const pos = new Map(run.start.positions);
  let cash = run.start.cash;
  for (const e of run.log) {
    const delta = qtyDelta(e);
    if (delta === undefined) continue;
    const sym = String(e.symbol);
    pos.set(sym, (pos.get(sym) ?? ZERO).plus(delta));
    cash = cash.minus(delta.times(D(e.price)));
    if ((pos.get(sym) as Decimal).lt(0)) fail(2, `${sym} went short: ${(pos.get(sym) as Decimal).toFixed()}`);
    if (e.type === "fill" && cash.lt(-1e-6)) fail(2, `cash went negative: ${cash.toFixed(2)}`);
  }
}

/**
 * 3. No refusal unless an outside trade caused it: the broker refusing for buying power,
 * quantity, a minimum or a wash trade means the library acted on a view that was wrong. A
 * refusal as a duplicate is the idempotence of client order ids at work (the id was sent
 * before and its order is recovered), never a second order.
 */
function noUninjectedRefusal(run: ScenarioRun, inj: Injected, fail: Fail): void {
  // Ids the broker accepted an order under: a later refusal of the same id as a duplicate is
  // the idempotence of client order ids, not a second order.
  const live = new Set(run.log.filter((e) => e.type === "submit").map((e) => String(e.clientOrderId)));
  for (const e of run.log) {
    if (e.type !== "refused" || isStanding({ clientOrderId: String(e.clientOrderId) })) continue;
    const code = String(e.code);
    const sym = run.afterIdle.orders.find((o) => o.clientOrderId === e.clientOrderId)?.symbol ?? "";
    const outside = inj.outsideBuy.has(sym) || inj.outsideSell.has(sym);
    const excused =
      (code === "duplicate_client_order_id" && live.has(String(e.clientOrderId))) ||
      (code === "insufficient_buying_power" && inj.outsideBuy.size > 0) ||
      (code === "insufficient_quantity" && inj.outsideSell.has(sym)) ||
      ((code === "min_notional" || code === "not_fractionable") && outside);
    if (!excused) fail(3, `the broker refused ${e.clientOrderId}: ${code}`);
  }
  for (const o of openIntervals(run).map((i) => i.order)) {
    if (o.status === "rejected" && !inj.kinds.has("reject_after_accept")) {
      fail(3, `${o.clientOrderId} was rejected after acceptance with no such fault`);
    }
  }
}

/**
 * 5. Every order ends final: every outcome is a final state; every order of the library
 * still open at the broker when the run returned is reported `unresolved` (or named
 * `left_open` by a resume that met a closed market); `unresolved` only when the broker had
 * no final state itself or REST faults were injected.
 */
function everyOrderFinal(run: ScenarioRun, inj: Injected, fail: Fail): void {
  const final = run.final as RebalanceReport;
  const byOrderId = outcomesByOrderId(run);
  const byClientId = new Map(
    allOutcomes(run)
      .filter((o) => o.state !== "submit_failed")
      .map((o) => [o.clientOrderId, o]),
  );
  const atReturn = new Map(run.atReturn.orders.map((o) => [o.id, o]));
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
  for (const b of ownAtReturn(run)) {
    if (FINAL_BROKER.has(b.status)) continue;
    const o = byOrderId.get(b.id) ?? byClientId.get(b.clientOrderId);
    const named = final.adjustments.some(
      (a) => a.reason === "left_open" && a.detail.includes(b.clientOrderId),
    );
    if ((o === undefined || o.state !== "unresolved") && !named) {
      fail(5, `${b.clientOrderId} is ${b.status} at the broker but reported ${o?.state ?? "nowhere"}`);
    }
  }
}

/** The library's orders at the broker when the run returned (someone else's standing ones left out). */
function ownAtReturn(run: ScenarioRun): OrderSnapshot[] {
  const placed = new Set(run.log.filter((e) => e.type === "submit").map((e) => String(e.orderId)));
  return run.atReturn.orders.filter((o) => !isStanding(o) && placed.has(o.id));
}

/**
 * 6. The report agrees with the broker as it was when the run returned: each reported
 * order's state, fills and value; every order that filled anything is in a report;
 * `positionsAfter` shows every fill (the broker's holding at some moment after the symbol's
 * last fill); cash moved by exactly the reported fills.
 */
function reportAgrees(run: ScenarioRun, fail: Fail): void {
  const final = run.final as RebalanceReport;
  const byOrderId = outcomesByOrderId(run);
  const byClientId = new Map(
    allOutcomes(run)
      .filter((o) => o.state !== "submit_failed")
      .map((o) => [o.clientOrderId, o]),
  );
  const atReturn = new Map(run.atReturn.orders.map((o) => [o.id, o]));
  // An aborted run's partial report lists the orders it left working.
  const working = new Set(run.reports.flatMap((r) => r.working.map((w) => w.clientOrderId)));
  let unreported = false;
  for (const b of ownAtReturn(run)) {
    if (b.filledQty.isZero()) continue;
    if (byOrderId.has(b.id) || byClientId.has(b.clientOrderId)) continue;
    // Listed only as working: no outcome carries its value, so the cash is not summed below.
    unreported = true;
    if (!working.has(b.clientOrderId)) {
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
    if (o.state !== b.status) fail(6, `${o.clientOrderId} reported ${o.state}, the broker says ${b.status}`);
    if (!o.filledQty.eq(b.filledQty)) {
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
  positionsAfterShowFills(run, final, fail);
  const anyUnresolved = allOutcomes(run).some((o) => o.state === "unresolved");
  if (!unreported && !anyUnresolved) {
    let reportedCash = ZERO;
    for (const o of byOrderId.values()) {
      reportedCash = reportedCash.plus(o.side === "sell" ? o.filledNotional : o.filledNotional.negated());
    }
    // Cash moved by others: outside trades, and fills of someone else's standing orders.
    const standing = standingOrderIds(run);
    let outsideCash = ZERO;
    for (const e of run.log.slice(0, run.atReturn.logLength)) {
      const delta = qtyDelta(e);
      const others = e.type === "outside_trade" || (e.type === "fill" && standing.has(String(e.orderId)));
      if (delta !== undefined && others) outsideCash = outsideCash.minus(delta.times(D(e.price)));
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
}

/**
 * `positionsAfter` must be a holding the broker had at some moment between the symbol's last
 * fill and the run's return: a settled read shows every fill (an outside trade may move it
 * again afterwards, which is why any later moment counts).
 */
function positionsAfterShowFills(run: ScenarioRun, final: RebalanceReport, fail: Fail): void {
  // An empty list: the run ended before it read the positions again (or holds nothing, which
  // the broker's own log then shows as well).
  if (final.positionsAfter.length === 0) return;
  const reported = new Map(final.positionsAfter.map((p) => [p.symbol, p.qty]));
  const unsettled = new Set(final.adjustments.filter((a) => a.reason === "unsettled").map((a) => a.symbol));
  const end = run.atReturn.logLength;
  const held = new Map(run.start.positions);
  const lastFill = new Map<string, number>();
  run.log.slice(0, end).forEach((e, k) => {
    if (e.type === "fill") lastFill.set(String(e.symbol), k);
  });
  const seen = new Map<string, Decimal[]>();
  const note = (sym: string) => {
    const list = seen.get(sym) ?? [];
    list.push(held.get(sym) ?? ZERO);
    seen.set(sym, list);
  };
  for (const sym of new Set([...held.keys(), ...reported.keys(), ...lastFill.keys()])) {
    if ((lastFill.get(sym) ?? -1) < 0) note(sym);
  }
  run.log.slice(0, end).forEach((e, k) => {
    const delta = qtyDelta(e);
    if (delta === undefined) return;
    const sym = String(e.symbol);
    held.set(sym, (held.get(sym) ?? ZERO).plus(delta));
    if (k >= (lastFill.get(sym) ?? -1)) note(sym);
  });
  for (const sym of new Set([...reported.keys(), ...lastFill.keys()])) {
    if (unsettled.has(sym)) continue;
    const a = reported.get(sym) ?? ZERO;
    const values = seen.get(sym) ?? [ZERO];
    if (!values.some((b) => b.eq(a))) {
      fail(
        6,
        `positionsAfter ${sym} ${a.toFixed()}: the broker never held that after its last fill (${values.map((x) => x.toFixed()).join(", ")})`,
      );
    }
  }
}

/**
 * 7. With an open market and no outside trade, once every order filled, each symbol ends
 * within 1% of equity + 3.5% of its move + one share per whole-share symbol + $2 of its target.
 */
function driftWithinTolerance(run: ScenarioRun, inj: Injected, fail: Fail): void {
  const s = run.scenario;
  const final = run.final as RebalanceReport;
  const prices = run.start.prices;
  const clean =
    !inj.marketEverClosed &&
    inj.outsideBuy.size === 0 &&
    inj.outsideSell.size === 0 &&
    ownAtReturn(run).every((o) => FINAL_BROKER.has(o.status)) &&
    // Someone else's open order on the book is netted by the plan and never fills.
    !run.atReturn.orders.some((o) => isStanding(o) && !FINAL_BROKER.has(o.status)) &&
    (final.status === "completed" || final.status === "completed_adjusted") &&
    run.reports.every((r) => r.orders.every((o) => o.state === "filled"));
  if (!clean) return;
  const weights = new Map(s.symbols.map((x) => [x.symbol, new Decimal(x.weightBps).div(10_000)]));
  const whole = new Set(s.symbols.filter((x) => !x.fractionable).map((x) => x.symbol));
  const e1 = equity(run.atReturn.cash, run.atReturn.positions, prices);
  const wholeStep = [...whole].reduce((a, x) => a.plus(prices.get(x) ?? ZERO), ZERO);
  for (const [sym, price] of prices) {
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

/**
 * 8. A resume takes over every order of the crashed attempt still open when it started
 * (or names it `left_open` at a closed market); the bounds of 1 hold across both runs.
 */
function resumeAdoptsAll(run: ScenarioRun, fail: Fail): void {
  if (!run.crashed || run.resumedAtMs === undefined) return;
  const final = run.final as RebalanceReport;
  const resumedSeq = run.resumeLogLength ?? 0;
  for (const i of openIntervals(run)) {
    if (i.from >= resumedSeq || i.to < resumedSeq) continue;
    const o = final.orders.find((x) => x.orderId === i.order.id);
    const named = final.adjustments.some(
      (a) => a.reason === "left_open" && a.detail.includes(i.order.clientOrderId),
    );
    if (o === undefined && !named) {
      fail(8, `${i.order.clientOrderId} was open at the resume but the resumed run did not adopt it`);
    }
  }
}
