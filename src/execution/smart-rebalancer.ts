import { EventEmitter } from "eventemitter3";
import { z } from "zod";
import type { BrokerPort, OrderRequest, OrderSnapshot, PositionSnapshot } from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { zBrokerPort } from "../broker/schemas.js";
import { type Clock, systemClock } from "../core/clock.js";
import { mapBounded } from "../core/concurrency.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { OrdersafeError } from "../core/errors.js";
import { makeRunId } from "../core/ids.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { parseInput, zClock, zDecimal, zLogger, zSymbol } from "../core/validation.js";
import type { OrderIntent } from "../funds/order-intent.js";
import { requiredFunds } from "../funds/required-funds.js";
import { ReservationLedger } from "../funds/reservation-ledger.js";
import { OrderTracker } from "../orders/order-tracker.js";
import {
  type RebalanceOptionsInput,
  RebalanceOptionsSchema,
  type RebalanceTargets,
  type RebalanceTargetsInput,
  RebalanceTargetsSchema,
} from "../rebalance/rebalance-input.js";
import type { RebalanceLeg, RebalancePlan } from "../rebalance/rebalance-plan.js";
import { detectPositionDrift, type PositionDrift } from "../reconcile/detect-position-drift.js";
import { PositionBook } from "../reconcile/position-book.js";
import {
  type CorrectionAction,
  type CorrectionMode,
  PositionCorrectionEngine,
} from "../reconcile/position-correction-engine.js";
import { buildRebalanceReport } from "./build-rebalance-report.js";
import { countingBroker } from "./counting-broker.js";
import { type FundsReservation, OrderExecutionCoordinator } from "./order-execution-coordinator.js";
import type { OrderOutcome } from "./order-outcome.js";
import { OrderRetryEngine } from "./order-retry-engine.js";
import { planFromState } from "./plan-from-state.js";
import { type FreshState, readFreshState, readWithRetries } from "./read-state.js";
import { errorOf, RebalanceRecord, type RunError } from "./rebalance-record.js";
import type { RebalancePhase, RebalanceReport, RebalanceStatus } from "./rebalance-report.js";
import { ownGeneration, ResumeGenerations } from "./resume-generations.js";

/** Options of {@link SmartRebalancer}. */
export interface SmartRebalancerOptions {
  /** The broker. */
  broker: BrokerPort;
  /** The clock every wait runs on. @defaultValue systemClock */
  clock?: Clock;
  /** Where to log. @defaultValue silentLogger */
  logger?: Logger;
  /** Seed of retry jitter and run ids. @defaultValue 1 */
  seed?: number;
  /** Orders in flight at once within a phase. @defaultValue 8 */
  concurrency?: number;
  /** Drift handling: `report` only emits `drift` and never trades. @defaultValue "report" */
  correctionMode?: CorrectionMode;
  /** Planner options (see `docs/rebalancing.md`); `sides` is managed by the rebalancer. */
  planner?: Omit<RebalanceOptionsInput, "sides">;
  /** Order tracker options. */
  tracker?: {
    /** A quiet order is read by REST after this long (ms). @defaultValue 15000 */
    quietAfterMs?: number;
    /** REST checks after a wait times out. @defaultValue 5 */
    maxStatusChecks?: number;
    /** Poll interval while the stream is down (ms). @defaultValue 2000 */
    pollIntervalMs?: number;
    /** Cancel (and confirm) an order still open when its wait times out. @defaultValue true */
    cancelOnTimeout?: boolean;
  };
  /** Longest wait for one order to become final (ms). @defaultValue 60000 */
  finalTimeoutMs?: number;
  /** Longest hold of new submissions while the stream is unhealthy (ms). @defaultValue 5000 */
  streamWaitMs?: number;
  /** Follow orders by REST polling instead of the update stream. @defaultValue false */
  polling?: boolean;
  /** Retries per order. @defaultValue 3 */
  maxRetries?: number;
  /** Consecutive failed orders that open the circuit breaker. @defaultValue 5 */
  failureBudget?: number;
  /** Attempts of each fresh read before the run fails (backoff 200 ms doubling). @defaultValue 5 */
  readAttempts?: number;
  /** Send orders while the market is closed (the broker queues them). @defaultValue false */
  queueWhenClosed?: boolean;
  /** Drift tolerance of the final reconciliation, in dollars. @defaultValue 100 */
  driftToleranceNotional?: number;
  /** For `correctionMode: "approve"` (and `auto` above its limits): decides each corrective action. */
  approve?: (action: CorrectionAction) => Promise<boolean> | boolean;
  /** For `correctionMode: "auto"`: the largest corrective action in dollars, and actions per run. */
  correctionLimits?: { maxAutoNotional?: number; maxActionsPerRun?: number };
}

const obj = (v: unknown) => typeof v === "object" && v !== null;
const OptionsSchema = z
  .object({
    broker: zBrokerPort,
    clock: zClock.optional(),
    logger: zLogger.optional(),
    seed: z.number().int().optional(),
    concurrency: z.number().int().min(1).max(64).optional(),
    correctionMode: z.enum(["report", "approve", "auto"]).optional(),
    planner: z.record(z.string(), z.unknown()).optional(),
    tracker: z
      .object({
        quietAfterMs: z.number().int().positive().optional(),
        maxStatusChecks: z.number().int().min(0).max(50).optional(),
        pollIntervalMs: z.number().int().positive().optional(),
        cancelOnTimeout: z.boolean().optional(),
      })
      .strict()
      .optional(),
    finalTimeoutMs: z.number().int().min(1).max(86_400_000).optional(),
    streamWaitMs: z.number().int().min(0).max(3_600_000).optional(),
    polling: z.boolean().optional(),
    maxRetries: z.number().int().min(0).max(20).optional(),
    failureBudget: z.number().int().min(1).max(1000).optional(),
    readAttempts: z.number().int().min(1).max(20).optional(),
    queueWhenClosed: z.boolean().optional(),
    driftToleranceNotional: z.number().min(0).optional(),
    approve: z.custom<(a: CorrectionAction) => boolean>((v) => typeof v === "function").optional(),
    correctionLimits: z
      .object({
        maxAutoNotional: z.number().min(0).optional(),
        maxActionsPerRun: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const RunOptionsSchema = z
  .object({
    dryRun: z.boolean().optional(),
    runId: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._:-]+$/, { message: "expected letters, digits and . _ : -" })
      .optional(),
    signal: z.custom<AbortSignal>((v) => obj(v) && "aborted" in (v as object)).optional(),
  })
  .strict();

/** Options of {@link SmartRebalancer.rebalance}. */
export interface RebalanceRunOptions {
  /** Plan and report without sending anything. @defaultValue false */
  dryRun?: boolean;
  /**
   * Names the run; client order ids derive from (runId, symbol, side, generation), so a new
   * rebalancer given the same runId after a crash adopts the orders already placed.
   * @defaultValue a fresh id from the clock and the seed
   */
  runId?: string;
  /** Aborts the run (it rejects with `OrdersafeError("aborted")`, its details holding the partial report). */
  signal?: AbortSignal;
}

/** Events of {@link SmartRebalancer}; listen with `rebalancer.on("order:final", ...)`. */
export interface RebalancerEvents {
  /** A plan was made (`stage: "initial"`) or the buys were re-planned on the real cash (`"buys"`). */
  plan: (e: { runId: string; stage: "initial" | "buys"; plan: RebalancePlan }) => void;
  /** A phase started. */
  phase: (e: { runId: string; phase: RebalancePhase; at: number }) => void;
  /** An order request was sent. */
  "order:submitted": (e: { runId: string; request: OrderRequest; attempt: number }) => void;
  /** An order reached its final state. */
  "order:final": (e: { runId: string; outcome: OrderOutcome }) => void;
  /** Drift was found by the final reconciliation (above tolerance only). */
  drift: (e: { runId: string; drifts: readonly PositionDrift[]; mode: CorrectionMode }) => void;
  /** The circuit breaker opened: new submissions stop, a full reconciliation follows. */
  halted: (e: { runId: string; consecutiveFailures: number; reason: string; at: number }) => void;
  /** The run ended (also after a failure; not after an abort). */
  done: (e: { runId: string; report: RebalanceReport }) => void;
}

/**
 * Rebalances a portfolio safely: the fewest trades, every order to a final state, buys sized
 * from the cash actually there after the sells, and positions checked against the broker.
 *
 * @remarks
 * Phases (each emitted as `phase`): fresh reads → (resume: adopt this run's orders) →
 * cancel conflicting orders and confirm → sells (bounded concurrency) → wait for all final →
 * re-read the account → re-plan the buys on the real cash → reserve and buy → reconcile →
 * report. Never throws for an expected outcome: partial success is a
 * {@link RebalanceReport} with `status` and reasons. Every wait is bounded on the injected
 * clock. Only bad input (`validation`) and the caller's abort (`aborted`) throw.
 *
 * @example
 * ```ts
 * import { SmartRebalancer } from "ordersafe";
 * const rebalancer = new SmartRebalancer({ broker });
 * rebalancer.on("order:final", ({ outcome }) => console.log(outcome.symbol, outcome.state));
 * const report = await rebalancer.rebalance({ weights: { TECL: 0.5, BIL: 0.5 } }, { runId: "2026-11-25" });
 * if (report.status !== "completed") console.warn(report.adjustments);
 * ```
 */
export class SmartRebalancer extends EventEmitter<RebalancerEvents> {
  private readonly port: BrokerPort;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly seed: number;
  private readonly concurrency: number;
  private readonly correctionMode: CorrectionMode;
  private readonly plannerOptions: Record<string, unknown>;
  private readonly trackerOptions: NonNullable<SmartRebalancerOptions["tracker"]>;
  private readonly finalTimeoutMs: number;
  private readonly streamWaitMs: number;
  private readonly polling: boolean;
  private readonly maxRetries: number;
  private readonly failureBudget: number;
  private readonly readAttempts: number;
  private readonly queueWhenClosed: boolean;
  private readonly driftTolerance: number;
  private readonly approve: SmartRebalancerOptions["approve"];
  private readonly correctionLimits: SmartRebalancerOptions["correctionLimits"];
  private runs = 0;

  /**
   * @param options - broker, clock, logger, seed, concurrency, correction mode, planner and
   *   tracker options (see {@link SmartRebalancerOptions})
   * @throws ValidationError (`validation`) for an unknown or out-of-range option
   */
  constructor(options: SmartRebalancerOptions) {
    super();
    const o = parseInput(OptionsSchema, options, "options");
    // Validate the planner options now, so a typo fails at construction, not mid-run.
    const planner = (o.planner ?? {}) as Record<string, unknown>;
    parseInput(RebalanceOptionsSchema.omit({ sides: true }).strict(), planner, "options.planner");
    this.port = checkBroker(o.broker);
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger ?? silentLogger;
    this.seed = o.seed ?? 1;
    this.concurrency = o.concurrency ?? 8;
    this.correctionMode = o.correctionMode ?? "report";
    this.plannerOptions = planner;
    this.trackerOptions = o.tracker ?? {};
    this.finalTimeoutMs = o.finalTimeoutMs ?? 60_000;
    this.streamWaitMs = o.streamWaitMs ?? 5_000;
    this.polling = o.polling ?? false;
    this.maxRetries = o.maxRetries ?? 3;
    this.failureBudget = o.failureBudget ?? 5;
    this.readAttempts = o.readAttempts ?? 5;
    this.queueWhenClosed = o.queueWhenClosed ?? false;
    this.driftTolerance = o.driftToleranceNotional ?? 100;
    this.approve = o.approve;
    this.correctionLimits = o.correctionLimits;
  }

  /**
   * Reads fresh state and plans, without trading.
   *
   * @param targets - `{ weights }`, `{ quantities }` or `{ notionals }`
   * @param options - `signal`
   * @returns the plan
   * @throws ValidationError (`validation`) for bad targets; BrokerError when the state cannot be read
   * @example
   * ```ts
   * const plan = await rebalancer.plan({ weights: { TECL: 0.5, BIL: 0.5 } });
   * plan.legs.map((l) => `${l.side} ${l.symbol}`);
   * ```
   */
  async plan(targets: RebalanceTargetsInput, options: { signal?: AbortSignal } = {}): Promise<RebalancePlan> {
    const t = parseInput(RebalanceTargetsSchema, targets, "targets");
    const state = await this.readState(this.port, t, options.signal);
    return this.makePlan(t, state, "both");
  }

  /**
   * Rebalances single symbol from the caller's belief of its quantity to a target quantity.
   * The broker's fresh position wins over `currentQty` (logged when they differ).
   *
   * @param symbol - the symbol
   * @param currentQty - what the caller thinks is held
   * @param targetQty - what should be held (≥ 0)
   * @param options - runId, dryRun, signal
   * @returns the report of a quantity rebalance of that symbol alone
   * @throws ValidationError (`validation`) for a bad symbol or quantity
   * @example
   * ```ts
   * await rebalancer.executeRebalance("FNGU", "1591.166892", "800");
   * ```
   */
  async executeRebalance(
    symbol: string,
    currentQty: Decimal | string | number,
    targetQty: Decimal | string | number,
    options: RebalanceRunOptions = {},
  ): Promise<RebalanceReport> {
    const a = parseInput(
      z
        .object({ symbol: zSymbol, currentQty: zDecimal, targetQty: zDecimal.refine((d) => d.gte(0)) })
        .strict(),
      { symbol, currentQty, targetQty },
      "executeRebalance",
    );
    return this.run({ quantities: { [a.symbol]: a.targetQty } }, options, { untargeted: "keep", belief: a });
  }

  /**
   * Rebalances to the targets: see the class remarks for the phases.
   *
   * @param targets - `{ weights }` (fractions of equity, at most 1 in total; the rest is cash),
   *   `{ quantities }` or `{ notionals }`
   * @param options - `dryRun`, `runId` (crash-safe resume), `signal`
   * @returns the {@link RebalanceReport}; partial success is a report, not an exception
   * @throws ValidationError (`validation`) for bad targets or options, before anything is
   *   sent; OrdersafeError (`aborted`) when the signal aborts (details hold the partial report)
   * @example
   * ```ts
   * const report = await rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }, { runId: "r1" });
   * ```
   */
  rebalance(targets: RebalanceTargetsInput, options: RebalanceRunOptions = {}): Promise<RebalanceReport> {
    return this.run(targets, options, {});
  }

  private async run(
    targetsInput: RebalanceTargetsInput,
    optionsInput: RebalanceRunOptions,
    extra: { untargeted?: "keep"; belief?: { symbol: string; currentQty: Decimal } },
  ): Promise<RebalanceReport> {
    const targets = parseInput(RebalanceTargetsSchema, targetsInput, "targets");
    const opts = parseInput(RunOptionsSchema, optionsInput, "options");
    const explicitRun = opts.runId !== undefined;
    this.runs += 1;
    const runId = opts.runId ?? makeRunId(this.clock.now(), `${this.seed}:${this.runs}`);
    const signal = opts.signal;
    const dryRun = opts.dryRun ?? false;
    const counted = countingBroker(this.port);
    const broker = counted.broker;
    const startedAt = this.clock.now();
    const r = new RebalanceRecord(runId, dryRun, startedAt);
    const plannerExtra = extra.untargeted ? { untargeted: extra.untargeted } : {};

    const retry = new OrderRetryEngine({
      broker,
      clock: this.clock,
      logger: this.logger,
      seed: this.seed + this.runs,
      maxRetries: this.maxRetries,
      failureBudget: this.failureBudget,
    });
    retry.on("halted", (info) => {
      r.halted = { code: "halted", message: `[ordersafe] circuit breaker open: ${info.lastReason}` };
      this.emit("halted", {
        runId,
        consecutiveFailures: info.consecutiveFailures,
        reason: info.lastReason,
        at: info.at,
      });
    });
    let tracker: OrderTracker | undefined;
    const phase = (p: RebalancePhase) => this.emit("phase", { runId, phase: p, at: this.clock.now() });
    try {
      phase("read");
      let state: FreshState;
      try {
        state = await this.readState(broker, targets, signal, extra.belief?.symbol);
      } catch (e) {
        if (signal?.aborted) throw e;
        return this.finish(r, broker, counted.calls, "failed", errorOf(e));
      }
      r.positionsBefore = state.positions;
      r.filledAtStart = new Map(state.openOrders.map((o) => [o.id, o.filledQty]));
      r.prices = state.prices;
      if (extra.belief !== undefined) {
        const held = state.positions.find((p) => p.symbol === extra.belief?.symbol)?.qty ?? ZERO;
        if (!held.eq(extra.belief.currentQty)) {
          this.logger.warn(
            {
              symbol: extra.belief.symbol,
              believed: extra.belief.currentQty.toFixed(),
              held: held.toFixed(),
            },
            "[ordersafe] the broker's position differs from the caller's; using the broker's",
          );
          r.adjust(
            extra.belief.symbol,
            undefined,
            "stale_belief",
            `caller believed ${extra.belief.currentQty.toFixed()}, broker holds ${held.toFixed()}`,
          );
        }
      }
      phase("plan");
      let plan: RebalancePlan;
      try {
        plan = this.makePlan(targets, state, "both", plannerExtra);
      } catch (e) {
        return this.finish(r, broker, counted.calls, "failed", errorOf(e));
      }
      r.plan = plan;
      this.emit("plan", { runId, stage: "initial", plan });
      for (const s of plan.skipped) {
        if (s.reason !== "within_band" && s.reason !== "covered_by_open_orders") {
          r.adjust(s.symbol, s.side, s.reason, s.detail);
        }
      }
      if (dryRun) return this.finish(r, broker, counted.calls, undefined, undefined);
      if (state.clock !== undefined && !state.clock.isOpen && !this.queueWhenClosed && plan.legs.length > 0) {
        for (const l of plan.legs)
          r.adjust(l.symbol, l.side, "market_closed", "the market is closed; nothing sent");
        // A resumed run does not adopt here: name the orders an earlier attempt left open.
        for (const o of explicitRun ? state.openOrders : []) {
          if (ownGeneration(runId, o) !== undefined)
            r.adjust(o.symbol, o.side, "left_open", `${o.clientOrderId} is still ${o.status}`);
        }
        return this.finish(r, broker, counted.calls, "failed", {
          code: "market_closed",
          message: `[ordersafe] the market is closed (next open ${state.clock.nextOpen.toISOString()})`,
        });
      }

      tracker = new OrderTracker({
        broker,
        clock: this.clock,
        logger: this.logger,
        cancelOnTimeout: this.trackerOptions.cancelOnTimeout ?? true,
        ...(this.trackerOptions.quietAfterMs !== undefined
          ? { quietAfterMs: this.trackerOptions.quietAfterMs }
          : {}),
        ...(this.trackerOptions.maxStatusChecks !== undefined
          ? { maxStatusChecks: this.trackerOptions.maxStatusChecks }
          : {}),
        ...(this.trackerOptions.pollIntervalMs !== undefined
          ? { pollIntervalMs: this.trackerOptions.pollIntervalMs }
          : {}),
      });
      const coordinatorFor = (funds?: FundsReservation) =>
        new OrderExecutionCoordinator({
          broker,
          retry,
          tracker: tracker as OrderTracker,
          clock: this.clock,
          logger: this.logger,
          finalTimeoutMs: this.finalTimeoutMs,
          streamWaitMs: this.streamWaitMs,
          polling: this.polling,
          ...(funds ? { funds } : {}),
        });
      const sellCoordinator = coordinatorFor();
      const record = (o: OrderOutcome) => {
        r.orders.push(o);
        this.emit("order:final", { runId, outcome: o });
        r.noteOutcome(o);
        if (o.state === "unresolved") {
          this.logger.error(
            { clientOrderId: o.clientOrderId, symbol: o.symbol },
            "[ordersafe] order unresolved",
          );
        }
      };
      const onSubmitted = (request: OrderRequest, attempt: number) => {
        r.submitted += 1;
        this.emit("order:submitted", { runId, request, attempt });
      };

      // Resume: adopt this run's orders still open (matched among the open orders just read,
      // no call). The generations already used are looked up later, per (symbol, side), only
      // before this run sends an order on it.
      const resume = new ResumeGenerations({
        runId,
        broker,
        signal,
        adopt: async (found) => {
          const outcomes = await Promise.all(found.map((o) => sellCoordinator.adopt(o, signal)));
          for (const o of outcomes) record(o);
        },
      });
      /** The generation of a new order on (symbol, side); undefined when it must not be sent. */
      const generationFor = async (
        symbol: string,
        side: "buy" | "sell",
        plannedFrom: FreshState | undefined,
      ): Promise<number | undefined> => {
        if (!explicitRun) return 0;
        const next = await resume.next(symbol, side, plannedFrom);
        if (next.kind === "blocked") {
          r.adjust(
            symbol,
            side,
            "resumed_order",
            `${next.uncounted} of an earlier attempt was not in the plan; nothing sent on top of it`,
          );
          return undefined;
        }
        return next.generation;
      };
      if (explicitRun) {
        phase("adopt");
        const open = state.openOrders.filter((o) => ownGeneration(runId, o) !== undefined);
        for (const o of open) resume.markAdopted(o.clientOrderId);
        const adopted = await Promise.all(open.map((o) => sellCoordinator.adopt(o, signal)));
        for (const o of adopted) record(o);
        if (adopted.length > 0) {
          // What the adopted orders did is now in the positions: plan again from fresh state.
          state = await this.readStateOrFail(broker, targets, signal, r);
          plan = this.makePlan(targets, state, "both", plannerExtra);
          r.plan = plan;
          this.emit("plan", { runId, stage: "initial", plan });
        }
      }

      const unconfirmed = new Set<string>();
      if (plan.conflicts.length > 0) {
        phase("cancel_conflicts");
        for (const c of plan.conflicts) {
          const ok = await retry.cancelConflicts(
            { symbol: c.symbol, side: c.side === "buy" ? "sell" : "buy" },
            signal,
          );
          if (!ok) unconfirmed.add(c.symbol);
        }
        state = await this.readStateOrFail(broker, targets, signal, r);
        plan = this.makePlan(targets, state, "both", plannerExtra);
        r.plan = plan;
        for (const s of unconfirmed)
          r.adjust(s, undefined, "conflict_not_cancelled", "an opposite-side order could not be cancelled");
        plan = {
          ...plan,
          sells: plan.sells.filter((l) => !unconfirmed.has(l.symbol)),
          buys: plan.buys.filter((l) => !unconfirmed.has(l.symbol)),
        };
      }

      phase("sells");
      const sellState = state;
      const sellOutcomes = await mapBounded(plan.sells, this.concurrency, async (leg) => {
        const g = await generationFor(leg.symbol, "sell", sellState);
        if (g === undefined) return undefined;
        return this.execLeg(sellCoordinator, leg, runId, g, signal, onSubmitted, retry);
      });
      for (const o of sellOutcomes) if (o !== undefined) record(o);

      if (plan.buys.length > 0 && !retry.halted) {
        phase("reread");
        const after = await this.readStateOrFail(broker, targets, signal, r, state);
        phase("replan_buys");
        let buyPlan: RebalancePlan;
        try {
          // Symbols just sold are kept out of the buy re-plan: a sell filled a little under its
          // reference price shrinks equity, and the re-plan must not buy a sliver back.
          const sold = plan.sells.map((l) => l.symbol);
          const kept = (this.plannerOptions.keep as readonly string[] | undefined) ?? [];
          // So are symbols whose opposite-side order could not be cancelled (a wash trade).
          const keep = [...new Set([...kept, ...sold, ...unconfirmed])];
          buyPlan = this.makePlan(targets, after, "buys", { ...plannerExtra, keep });
        } catch (e) {
          return this.finish(r, broker, counted.calls, "failed", errorOf(e));
        }
        // A buy the first plan could not fund has had no conflict cancelled: cancel and confirm now.
        for (const c of buyPlan.conflicts) {
          if (unconfirmed.has(c.symbol)) continue;
          if (await retry.cancelConflicts({ symbol: c.symbol, side: "buy" }, signal)) continue;
          unconfirmed.add(c.symbol);
          r.adjust(
            c.symbol,
            "buy",
            "conflict_not_cancelled",
            "an opposite-side order could not be cancelled",
          );
        }
        buyPlan = { ...buyPlan, buys: buyPlan.buys.filter((l) => !unconfirmed.has(l.symbol)) };
        r.buyPlan = buyPlan;
        this.emit("plan", { runId, stage: "buys", plan: buyPlan });
        for (const s of buyPlan.skipped) {
          if (s.reason === "insufficient_cash") r.adjust(s.symbol, "buy", s.reason, s.detail);
        }
        for (const l of buyPlan.buys) {
          const first = plan.buys.find((b) => b.symbol === l.symbol);
          // Shrunk against the first plan by more than rounding: the real cash was short.
          if (first !== undefined && l.estimatedNotional.lt(first.estimatedNotional.times(0.99))) {
            r.adjust(
              l.symbol,
              "buy",
              "shrunk",
              `buy shrunk to fit the real cash: ${l.estimatedNotional.toFixed(2)} instead of ${first.estimatedNotional.toFixed(2)}`,
            );
          }
        }
        const ledger = new ReservationLedger();
        const funds: FundsReservation = {
          reserve: async (intent) => {
            const key = intent.clientOrderId ?? `${intent.symbol}:${intent.side}`;
            const required = requiredFunds(intent, after.prices.get(intent.symbol));
            const res = ledger.reserve(key, required, new Date(this.clock.now()), {
              symbol: intent.symbol,
              snapshot: after.account,
            });
            return res.ok ? { ok: true } : { ok: false, shortfall: res.shortfall };
          },
          release: (key) => ledger.release(key),
        };
        phase("buys");
        const buyCoordinator = coordinatorFor(funds);
        const buyOutcomes = await mapBounded(buyPlan.buys, this.concurrency, async (leg) => {
          const g = await generationFor(leg.symbol, "buy", after);
          if (g === undefined) return undefined;
          return this.execLeg(buyCoordinator, leg, runId, g, signal, onSubmitted, retry);
        });
        for (const o of buyOutcomes) if (o !== undefined) record(o);
      } else if (plan.buys.length > 0) {
        for (const l of plan.buys)
          r.adjust(l.symbol, "buy", "halted", "the circuit breaker opened before the buys");
      }

      phase("reconcile");
      // Corrective orders are sized on the reconciliation's fresh reads: nothing is uncounted.
      await this.reconcile(r, broker, signal, async (intent) =>
        sellCoordinator.executeOrder(
          { symbol: intent.symbol, side: intent.side, qty: intent.qty, type: "market", timeInForce: "day" },
          {
            runId: `${runId}-fix`,
            generation: (await generationFor(intent.symbol, intent.side, undefined)) ?? 0,
            signal,
            onSubmitted,
          },
        ),
      );
      return this.finish(r, broker, counted.calls, undefined, undefined);
    } catch (e) {
      if (signal?.aborted) {
        const partial = buildRebalanceReport(r, {
          forced: "failed",
          error: { code: "aborted", message: "[ordersafe] rebalance aborted" },
          endedAt: this.clock.now(),
          restCalls: counted.calls(),
        });
        throw new OrdersafeError("aborted", `rebalance ${runId} aborted`, {
          cause: e,
          details: { runId, report: partial },
        });
      }
      // Bad input was refused before the try; anything here came from the broker mid-run.
      this.logger.error({ runId, error: String(e) }, "[ordersafe] rebalance stopped early");
      const didSomething = r.orders.some((o) => o.filledQty.gt(0));
      r.adjust("*", undefined, "stopped_early", String(e));
      return this.finish(
        r,
        broker,
        counted.calls,
        didSomething ? "completed_adjusted" : "failed",
        errorOf(e),
      );
    } finally {
      tracker?.close();
      retry.removeAllListeners();
    }
  }

  private async execLeg(
    coordinator: OrderExecutionCoordinator,
    leg: RebalanceLeg,
    runId: string,
    generation: number,
    signal: AbortSignal | undefined,
    onSubmitted: (request: OrderRequest, attempt: number) => void,
    retry: OrderRetryEngine,
  ): Promise<OrderOutcome | undefined> {
    const intent: OrderIntent = {
      symbol: leg.symbol,
      side: leg.side,
      type: "market",
      timeInForce: "day",
      ...(leg.qty !== undefined ? { qty: leg.qty } : {}),
      ...(leg.notional !== undefined ? { notional: leg.notional } : {}),
    };
    if (intent.qty === undefined && intent.notional === undefined) intent.qty = leg.estimatedQty;
    if (retry.halted) {
      return coordinator.executeOrder(intent, { runId, generation, signal });
    }
    return coordinator.executeOrder(intent, {
      runId,
      generation,
      signal,
      closePosition: leg.closePosition,
      onSubmitted,
    });
  }

  private async reconcile(
    r: RebalanceRecord,
    broker: BrokerPort,
    signal: AbortSignal | undefined,
    placeOrder: (intent: { symbol: string; side: "buy" | "sell"; qty: Decimal }) => Promise<OrderOutcome>,
  ): Promise<void> {
    let positions: PositionSnapshot[];
    let openOrders: OrderSnapshot[];
    try {
      [positions, openOrders] = await Promise.all([
        this.withRetries(() => broker.getPositions({ signal }), signal),
        this.withRetries(() => broker.listOpenOrders({ signal }), signal),
      ]);
    } catch (e) {
      if (signal?.aborted) throw e;
      r.adjust("*", undefined, "reconcile_failed", String(e));
      return;
    }
    r.positionsAfter = positions;
    const expected = r.expectedPositions();
    const actual = new Map(positions.map((p) => [p.symbol, p.qty]));
    const prices = new Map([...r.prices].filter(([s]) => expected.has(s) || actual.has(s)));
    try {
      r.drift = detectPositionDrift(expected, actual, {
        prices,
        openOrders,
        tolerance: { notional: this.driftTolerance },
      });
    } catch (e) {
      r.adjust("*", undefined, "reconcile_failed", String(e));
      return;
    }
    const above = r.drift.filter((d) => !d.withinTolerance);
    if (above.length > 0) {
      this.emit("drift", { runId: r.runId, drifts: above, mode: this.correctionMode });
      for (const d of above) {
        r.adjust(
          d.symbol,
          undefined,
          `drift_${d.class}`,
          `${d.reason} (expected ${d.expectedQty.toFixed()}, broker ${d.actualQty.toFixed()})`,
        );
      }
      this.logger.warn(
        { runId: r.runId, drifts: above.length },
        "[ordersafe] position drift after rebalance",
      );
      const corrections = new PositionCorrectionEngine({
        mode: this.correctionMode,
        book: new PositionBook(expected),
        clock: this.clock,
        logger: this.logger,
        placeOrder: async (intent) => {
          const outcome = await placeOrder(intent);
          r.orders.push(outcome);
          return outcome;
        },
        ...(this.approve ? { approve: this.approve } : {}),
        ...(this.correctionLimits ? { limits: this.correctionLimits } : {}),
      });
      try {
        r.corrections = await corrections.handleDrifts(above);
      } catch (e) {
        if (signal?.aborted) throw e;
        r.adjust("*", undefined, "correction_failed", String(e));
      }
    }
  }

  private async readStateOrFail(
    broker: BrokerPort,
    targets: RebalanceTargets,
    signal: AbortSignal | undefined,
    r: RebalanceRecord,
    previous?: FreshState,
  ): Promise<FreshState> {
    try {
      return await this.readState(broker, targets, signal, undefined, previous);
    } catch (e) {
      if (signal?.aborted) throw e;
      r.adjust("*", undefined, "read_failed", String(e));
      throw e;
    }
  }

  private withRetries<T>(f: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return readWithRetries(f, { clock: this.clock, attempts: this.readAttempts, signal });
  }

  /** Fresh state (see {@link readFreshState}). */
  private readState(
    broker: BrokerPort,
    targets: RebalanceTargets,
    signal?: AbortSignal,
    extraSymbol?: string,
    previous?: FreshState,
  ): Promise<FreshState> {
    return readFreshState({ broker, clock: this.clock, attempts: this.readAttempts, signal }, targets, {
      extraSymbol,
      previous,
    });
  }

  private makePlan(
    targets: RebalanceTargets,
    state: FreshState,
    sides: "both" | "buys",
    extra: Record<string, unknown> = {},
  ): RebalancePlan {
    return planFromState(state, {
      targets,
      capabilities: this.port.capabilities,
      options: { ...this.plannerOptions, ...extra },
      sides,
    });
  }

  private async finish(
    r: RebalanceRecord,
    broker: BrokerPort,
    calls: () => number,
    forced: RebalanceStatus | undefined,
    error: RunError | undefined,
  ): Promise<RebalanceReport> {
    if (r.halted !== undefined && forced === undefined) {
      // Stop digging: a full reconciliation of every position after the breaker opened.
      if (r.positionsAfter.length === 0) {
        try {
          r.positionsAfter = await this.withRetries(() => broker.getPositions());
        } catch {
          // reported through the adjustments below
          r.adjust("*", undefined, "reconcile_failed", "positions could not be read after the halt");
        }
      }
    }
    const report = buildRebalanceReport(r, { forced, error, endedAt: this.clock.now(), restCalls: calls() });
    this.emit("phase", { runId: r.runId, phase: "done", at: this.clock.now() });
    this.emit("done", { runId: r.runId, report });
    return report;
  }
}
