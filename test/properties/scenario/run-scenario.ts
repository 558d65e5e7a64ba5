// Runs one scenario: SmartRebalancer on the simulated broker and a VirtualClock, with the
// scenario's faults scripted at their times, its outside trades and market flips scheduled,
// and a crash (abort, then a new SmartRebalancer resuming the same runId) when it has one.
// Returns everything the invariants need: the reports, the broker's orders and truth when the
// run returned and after the clock went idle, the event log and the reservation ledgers.

import {
  Decimal,
  isOrdersafeError,
  type OrderSnapshot,
  type RebalanceReport,
  ReservationLedger,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, type SimEvent, type SimulatedBroker, VirtualClock } from "ordersafe/testing";
import type { Scenario } from "./scenario.js";

/** What a scenario run left behind, for the invariants. */
export interface ScenarioRun {
  scenario: Scenario;
  runId: string | undefined;
  /** Reports in order: the crashed run's partial report (when there is one), then the last run's. */
  reports: RebalanceReport[];
  /** The report of the run that ran to the end (the resumed one after a crash). */
  final: RebalanceReport | undefined;
  /** Whether the crash hit a run in flight. */
  crashed: boolean;
  /** Virtual time (ms since the start) when the resumed run started. */
  resumedAtMs: number | undefined;
  /** The event log's length when the resumed run started. */
  resumeLogLength: number | undefined;
  /** Anything thrown other than the crash's abort (a hang, a bug). */
  thrown: unknown;
  start: { cash: Decimal; positions: Map<string, Decimal>; prices: Map<string, Decimal> };
  /** When the (last) run returned. */
  atReturn: {
    orders: OrderSnapshot[];
    cash: Decimal;
    positions: Map<string, Decimal>;
    atMs: number;
    /** The event log's length then. */
    logLength: number;
  };
  /** After the clock went idle (late fills, cancels landing). */
  afterIdle: { orders: OrderSnapshot[]; cash: Decimal; positions: Map<string, Decimal> };
  log: readonly SimEvent[];
  submitCalls: number;
  /** Reservation ledgers the runs made. */
  ledgers: ReservationLedger[];
  broker: SimulatedBroker;
  /** Virtual time the run started at (ms since the epoch). */
  t0: number;
}

// Instrumentation: remember every reservation ledger created while a scenario runs, so the
// invariants can check that none holds a reservation at the end. Observes; changes nothing.
let collecting: ReservationLedger[] | undefined;
const WRAPPED = Symbol.for("ordersafe.test.scenario.ledgerSpy");
const proto = ReservationLedger.prototype as unknown as Record<string | symbol, unknown>;
if (proto[WRAPPED] !== true) {
  const original = proto.reserve as (this: ReservationLedger, ...args: unknown[]) => unknown;
  proto.reserve = function (this: ReservationLedger, ...args: unknown[]) {
    if (collecting !== undefined && !collecting.includes(this)) collecting.push(this);
    return original.apply(this, args);
  };
  proto[WRAPPED] = true;
}

const FINAL = new Set([
  "filled",
  "canceled",
  "expired",
  "replaced",
  "rejected",
  "done_for_day",
  "calculated",
]);

/** Bounds of one run on the virtual clock: a run that passes them is a hang. */
const RUN_BOUNDS = { maxTimeMs: 6 * 3_600_000, maxSteps: 200_000 };

/** The weights a scenario targets (every symbol, zero weights included). */
export function targetsOf(s: Scenario): { weights: Record<string, string> } {
  return {
    weights: Object.fromEntries(s.symbols.map((x) => [x.symbol, (x.weightBps / 10_000).toFixed(4)])),
  };
}

/**
 * Runs one scenario.
 *
 * @param s - the scenario
 * @param observe - called with each SmartRebalancer the run makes, before it runs (listeners)
 * @returns what the run left behind
 */
export async function runScenario(
  s: Scenario,
  observe?: (rebalancer: SmartRebalancer) => void,
): Promise<ScenarioRun> {
  const clock = new VirtualClock();
  const t0 = clock.now();
  const positions: Record<string, string> = {};
  const prices: Record<string, string> = {};
  const assets: Record<string, { fractionable: boolean }> = {};
  for (const x of s.symbols) {
    prices[x.symbol] = x.price;
    if (x.qty !== "0") positions[x.symbol] = x.qty;
    if (!x.fractionable) assets[x.symbol] = { fractionable: false };
  }
  // An outside trade may touch a symbol outside the portfolio: give it a price.
  for (const t of s.outsideTrades) prices[t.symbol] ??= "10.00";
  const broker = createSimulatedBroker({
    clock,
    seed: s.seed,
    cash: s.cash,
    positions,
    prices,
    assets,
    latency: s.latency,
    partialFills: s.partialFills,
    slippage: { bps: s.slippageBps },
    marketOpen: s.market.open,
    ...(s.readLag
      ? { readLag: { getAccount: s.readLag, getPositions: s.readLag, getPosition: s.readLag } }
      : {}),
  });
  const truth0 = broker.truth();
  const start = {
    cash: truth0.cash,
    positions: truth0.positions,
    prices: new Map(Object.entries(prices).map(([k, v]) => [k, new Decimal(v)])),
  };

  // Someone else's open limit orders, far from the price (they never fill by themselves).
  for (const o of s.standingOrders) {
    const price = start.prices.get(o.symbol);
    if (price === undefined) continue;
    const limit = (o.side === "buy" ? price.times(0.5) : price.times(2)).toDecimalPlaces(
      2,
      Decimal.ROUND_DOWN,
    );
    if (limit.lte(0)) continue;
    await clock
      .run(
        broker.submitOrder({
          clientOrderId: `pre-${o.symbol}-${o.side}-${s.standingOrders.indexOf(o)}`,
          symbol: o.symbol,
          side: o.side,
          type: "limit",
          timeInForce: "day",
          qty: new Decimal(o.qty),
          limitPrice: limit,
        }),
      )
      .catch(() => undefined); // refused (no cash, no shares, a wash with the other): none placed
  }
  broker.resetCalls();

  for (const f of s.faults) {
    if (f.atMs === 0) broker.script(f.fault);
    else clock.schedule(f.atMs, () => broker.script(f.fault));
  }
  for (const t of s.outsideTrades) {
    clock.schedule(t.atMs, () => {
      const truth = broker.truth();
      const price = start.prices.get(t.symbol) as Decimal;
      const whole = s.symbols.find((x) => x.symbol === t.symbol)?.fractionable === false;
      let delta: Decimal;
      if (t.fraction < 0) {
        delta = (truth.positions.get(t.symbol) ?? new Decimal(0)).times(t.fraction);
      } else {
        // A purchase of that fraction of the free cash: cash less what open buys hold (a
        // purchase made elsewhere in the same account cannot spend held cash either).
        let free = truth.cash;
        for (const o of broker.orders()) {
          if (o.side !== "buy" || FINAL.has(o.status) || o.status === "rejected") continue;
          const p = start.prices.get(o.symbol) ?? new Decimal(0);
          free = free.minus(o.notional ?? (o.qty ?? new Decimal(0)).minus(o.filledQty).times(p).times(1.03));
        }
        delta = Decimal.max(0, free).times(t.fraction).div(price);
      }
      delta = delta.toDecimalPlaces(whole ? 0 : 6, Decimal.ROUND_DOWN);
      if (!delta.isZero()) broker.outsideTrade(t.symbol, delta);
    });
  }
  if (s.market.flipAtMs !== null) {
    const flipAt = s.market.flipAtMs;
    clock.schedule(flipAt, () => broker.setMarketOpen(!s.market.open));
  }

  const runId = s.rebalancer.explicitRunId || s.crash !== null ? `sc${s.seed.toString(36)}` : undefined;
  const make = (seed: number) => {
    const rebalancer = new SmartRebalancer({
      broker,
      clock,
      seed,
      concurrency: s.rebalancer.concurrency,
      maxRetries: s.rebalancer.maxRetries,
      tracker: { quietAfterMs: s.rebalancer.quietAfterMs },
      finalTimeoutMs: s.rebalancer.finalTimeoutMs,
      polling: s.rebalancer.polling,
      queueWhenClosed: s.market.queueWhenClosed,
    });
    observe?.(rebalancer);
    return rebalancer;
  };
  const targets = targetsOf(s);
  const reports: RebalanceReport[] = [];
  let final: RebalanceReport | undefined;
  let crashed = false;
  let resumedAtMs: number | undefined;
  let resumeLogLength: number | undefined;
  let thrown: unknown;
  const ledgers: ReservationLedger[] = [];
  collecting = ledgers;
  try {
    if (s.crash === null) {
      final = await clock.run(
        make(s.seed).rebalance(targets, runId === undefined ? {} : { runId }),
        RUN_BOUNDS,
      );
      reports.push(final);
    } else {
      const ac = new AbortController();
      const cancelCrash = clock.schedule(s.crash.atMs, () => ac.abort(new Error("crash")));
      try {
        const first = await clock.run(
          make(s.seed).rebalance(targets, { runId, signal: ac.signal }),
          RUN_BOUNDS,
        );
        reports.push(first);
      } catch (e) {
        if (!(ac.signal.aborted && isOrdersafeError(e) && e.code === "aborted")) throw e;
        crashed = true;
        const partial = (e.details as { report?: RebalanceReport } | undefined)?.report;
        if (partial !== undefined) reports.push(partial);
      }
      cancelCrash();
      resumedAtMs = clock.now() - t0;
      resumeLogLength = broker.eventLog().length;
      final = await clock.run(make(s.seed + 1).rebalance(targets, { runId }), RUN_BOUNDS);
      reports.push(final);
    }
  } catch (e) {
    thrown = e;
  } finally {
    collecting = undefined;
  }
  const returned = broker.truth();
  const atReturn = {
    orders: broker.orders(),
    cash: returned.cash,
    positions: returned.positions,
    atMs: clock.now() - t0,
    logLength: broker.eventLog().length,
  };
  await clock.runUntilIdle({ maxTimeMs: 3_600_000, maxSteps: 20_000 });
  const idle = broker.truth();
  return {
    scenario: s,
    runId,
    reports,
    final,
    crashed,
    resumedAtMs,
    resumeLogLength,
    thrown,
    start,
    atReturn,
    afterIdle: { orders: broker.orders(), cash: idle.cash, positions: idle.positions },
    log: broker.eventLog(),
    submitCalls: broker.calls.submitOrder,
    ledgers,
    broker,
    t0,
  };
}
