import type { EventEmitter } from "eventemitter3";
import type { AccountState } from "../account/account-registry.js";
import { cachedReadsPort } from "../account/cached-reads-port.js";
import { observedPort } from "../account/observed-port.js";
import type { SettleSettings } from "../account/settle.js";
import type { BrokerPort, OrderRequest, OrderSide, OrderSnapshot } from "../broker/broker-port.js";
import { wrapBrokerPort } from "../broker/checked-broker.js";
import type { Coordination } from "../coordination/coordination.js";
import type { Clock } from "../core/clock.js";
import { Semaphore } from "../core/concurrency.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { OrdersafeError } from "../core/errors.js";
import { DEFAULT_STRATEGY_ID, makeRunId, strategyOfClientOrderId, strategyRunId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { OrderIntent } from "../funds/order-intent.js";
import type { RunOutcome } from "../journal/journal-entry.js";
import type { FinishRunOptions, JournalRun, JournalStore } from "../journal/journal-store.js";
import { OrderTracker } from "../orders/order-tracker.js";
import type { RebalanceTargets } from "../rebalance/rebalance-input.js";
import type { RebalanceLeg, RebalancePlan } from "../rebalance/rebalance-plan.js";
import type { PositionDrift } from "../reconcile/detect-position-drift.js";
import type { CorrectionAction, CorrectionMode } from "../reconcile/position-correction-engine.js";
import { buildRebalanceReport, type RunEnding } from "./build-rebalance-report.js";
import { coordinatedPort } from "./coordinated-port.js";
import { type CountingBroker, countingBroker } from "./counting-broker.js";
import { journalingPort } from "./journaling-port.js";
import { type FundsReservation, OrderExecutionCoordinator } from "./order-execution-coordinator.js";
import type { OrderOutcome } from "./order-outcome.js";
import { OrderRetryEngine } from "./order-retry-engine.js";
import { outcomeFromRecord } from "./outcome-from-record.js";
import { planFromState } from "./plan-from-state.js";
import { type ExecutionChoice, policyFor } from "./policies/execution-choice.js";
import { type FreshState, readFreshState, readWithRetries } from "./read-state.js";
import { RebalanceAbortedError } from "./rebalance-aborted-error.js";
import { errorOf, RebalanceRecord } from "./rebalance-record.js";
import type { RebalancePhase, RebalanceReport, TakeOverKind, WorkingOrder } from "./rebalance-report.js";
import type { RebalancerEvents } from "./rebalancer-events.js";
import { MAX_GENERATIONS, ResumeGenerations } from "./resume-generations.js";
import { sleeveOf, withoutForeignConflicts } from "./sleeve.js";
import type { UnresolvedSend } from "./take-over.js";

/** A `SmartRebalancer`'s options with their defaults applied: what each of its runs works with. */
export interface RebalancerSettings {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly seed: number;
  readonly concurrency: number;
  readonly correctionMode: CorrectionMode;
  /** The planner options as given (the planner parses them on each plan). */
  readonly plannerOptions: Readonly<Record<string, unknown>>;
  /** The planner's `keep`, parsed. */
  readonly plannerKeep: readonly string[];
  readonly tracker: {
    readonly quietAfterMs?: number | undefined;
    readonly maxStatusChecks?: number | undefined;
    readonly pollIntervalMs?: number | undefined;
    readonly cancelOnTimeout: boolean;
  };
  readonly finalTimeoutMs: number;
  readonly streamWaitMs: number;
  readonly polling: boolean;
  readonly maxRetries: number;
  readonly failureBudget: number;
  readonly readAttempts: number;
  readonly queueWhenClosed: boolean;
  /** Whether a second buy pass may invest what the first buys' holds freed. */
  readonly secondBuyPass: boolean;
  readonly driftToleranceNotional: number;
  readonly approve: ((action: CorrectionAction) => Promise<boolean> | boolean) | undefined;
  readonly correctionLimits: { maxAutoNotional?: number; maxActionsPerRun?: number } | undefined;
  /** How long position and account reads may take to settle. */
  readonly settle: SettleSettings;
  /** How far back a resumed run looks for its earlier attempt's orders in the order history (ms). */
  readonly resumeLookbackMs: number;
  /** How far back a run's first read lists the account's orders to learn recent fills (ms). */
  readonly recentOrdersMs: number;
  /** How long asset rules read on the account are reused (ms); 0: never. */
  readonly assetRulesTtlMs: number;
  /** How long a market clock read on the account is reused (ms); 0: never. */
  readonly clockTtlMs: number;
  /** Where the run writes its intents and sends (the account's process journal by default). */
  readonly journal: JournalStore | undefined;
  /** The account's name in the journal (the port's id by default). */
  readonly account: string | undefined;
  /** How long an order an unfinished run sent, and the broker does not show, is looked for (ms). */
  readonly journalLookupMs: number;
  /** How long after its send a submit the broker does not know counts as never placed (ms). */
  readonly neverPlacedAfterMs: number;
  /** The strategy's cap of buying power held and spent in a run (dollars), if any. */
  readonly strategyCap?: number | undefined;
  /** How long after an order ended without filling in full the run still looks for a late fill (ms). */
  readonly lateFillWindowMs: number;
  /** What processes on the account share (lease, ledger, journal, rate budget), if anything. */
  readonly coordination: Coordination | undefined;
  /** The strategy the run trades for. */
  readonly strategyId: string;
  /** Which opposite-side orders conflict cancels may touch. */
  readonly cancelConflicts: "own" | "all" | "none";
  /** Whether the targets describe the account or the strategy's sleeve. */
  readonly scope: "account" | "sleeve";
  /** The account lease's TTL (ms). */
  readonly leaseTtlMs: number;
  /** How long a run waits for the lease (ms). */
  readonly leaseWaitMs: number;
  /** The rebalancer's execution policies (undefined: every leg is a market order). */
  readonly execution: ExecutionChoice | undefined;
}

/** What the caller believes it holds of one symbol (`executeRebalance`). */
export interface HeldBelief {
  readonly symbol: string;
  readonly currentQty: Decimal;
}

/** What starts one run: the rebalancer's port, settings and events, and the run's own input. */
export interface RebalanceRunInput {
  /** The rebalancer's port (checked); the run counts its calls. */
  readonly port: BrokerPort;
  /** What this process knows of the port's account (its execution record). */
  readonly account: AccountState;
  readonly settings: RebalancerSettings;
  /** Where the run's events go (the rebalancer). */
  readonly events: EventEmitter<RebalancerEvents>;
  readonly targets: RebalanceTargets;
  /** The caller's run id (a resumable run), or undefined for a fresh id. */
  readonly runId: string | undefined;
  /** The rebalancer's count of runs, this one included (seeds the retry jitter). */
  readonly runNumber: number;
  /**
   * What a fresh run id is drawn from besides the clock: the seed and the account's run number
   * when the rebalancer was seeded (deterministic), else random bytes (unique across
   * rebalancers, port objects and processes that start a run in the same ms).
   */
  readonly runIdEntropy: string;
  readonly dryRun: boolean;
  readonly signal: AbortSignal | undefined;
  /** How the run's legs are sent (undefined: every leg is a market order). */
  readonly execution?: ExecutionChoice | undefined;
  /** `keep` for a one-symbol rebalance: the other holdings are left alone. */
  readonly untargeted?: "keep" | undefined;
  readonly belief?: HeldBelief | undefined;
  /**
   * `abandon`: the run is an unfinished run being abandoned (`SmartRebalancer.abandon`): it
   * takes over only its own orders, and its journal end is `abandoned`.
   * @defaultValue "rebalance"
   */
  readonly mode?: "rebalance" | "abandon" | undefined;
  /** The account lease the run holds (with a coordination): every write checks it first. */
  readonly leaseToken?: string | undefined;
}

/**
 * One rebalance in progress: its ids and signal, the counted broker, the retry engine, the
 * tracker and coordinators, the resume generations, and the record of everything it did. Each
 * phase is a function of this context (see `rebalance-flow.ts`); the report is built from
 * the record.
 *
 * @remarks
 * The tracker and the coordinators exist from {@link startTracking} (after the market gate)
 * until {@link close}. Everything a phase changes lives here, so a phase is a plain function.
 */
export class RebalanceRun {
  /** The run id: client order ids derive from it. */
  readonly id: string;
  /** Whether the caller named the run: then it may be a resume, and its generations are walked. */
  readonly resumable: boolean;
  readonly dryRun: boolean;
  readonly signal: AbortSignal | undefined;
  /** How the run's legs are sent (undefined: every leg is a market order). */
  readonly execution: ExecutionChoice | undefined;
  readonly targets: RebalanceTargets;
  readonly belief: HeldBelief | undefined;
  readonly settings: RebalancerSettings;
  /** The port every call of the run goes through (counted; every order seen is learned by the account's record). */
  readonly broker: BrokerPort;
  /** What this process knows of the account: reads must settle against its record. */
  readonly account: AccountState;
  /** The run's retry engine: its circuit breaker is shared by every order of the run. */
  readonly retry: OrderRetryEngine;
  /** What the run did: the report is built from it. */
  readonly record: RebalanceRecord;
  /** The client order id generations of the run (past those of its earlier attempts). */
  readonly resume: ResumeGenerations;
  /** Orders of an earlier attempt of the run, learned before the first plan (a resume). */
  earlier: readonly OrderSnapshot[] = [];
  /** Where the run's intents and sends are written. */
  readonly journal: JournalStore;
  /** The account's name in the journal. */
  readonly accountKey: string;
  /** The unfinished runs this run took over from the journal (its own earlier attempt among them). */
  takenOver: readonly JournalRun[] = [];
  /** Symbols this run must not trade: an order an unfinished run sent there may be live. */
  readonly blocked = new Set<string>();
  /** Whether this run's own start is in the journal (from now, or from an earlier attempt). */
  private journalStarted = false;
  /** Whether the orders taken over (or of an earlier attempt) have all been followed to their end. */
  earlierFollowed = false;
  /** `abandon`: the run gives up an unfinished run of its own id (see {@link RebalanceRunInput.mode}). */
  readonly mode: "rebalance" | "abandon";
  /** Symbols whose opposite-side order could not be cancelled: never traded by this run. */
  readonly unconfirmedConflicts = new Set<string>();
  /** The last request sent under each client order id. */
  private readonly lastRequest = new Map<string, OrderRequest>();
  /** Client order ids sent (or taken over) whose order has not ended yet, with what they are. */
  private readonly sent = new Map<string, { symbol: string; side: OrderSide; adopted: boolean }>();
  private readonly port: BrokerPort;
  private readonly counted: CountingBroker;
  /** Submits the broker refused for buying power (resized retries included). */
  private buyingPowerRefusals = 0;
  private readonly events: EventEmitter<RebalancerEvents>;
  private readonly plannerExtra: Readonly<Record<string, unknown>>;
  private tracking: { tracker: OrderTracker; sells: OrderExecutionCoordinator } | undefined;
  /** The shared reservation of each buy about to be sent, by symbol (one buy per symbol). */
  readonly buyHolds = new Map<string, string>();
  /** Symbols noted `foreign_conflict`. */
  private readonly foreignNoted = new Set<string>();
  /** Set when a write found the lease passed to another process: the run stops there. */
  leaseLost: OrdersafeError | undefined;

  /** @param input - the rebalancer's port, settings and events, and the run's input */
  constructor(input: RebalanceRunInput) {
    const { settings } = input;
    this.settings = settings;
    this.port = input.port;
    this.events = input.events;
    this.targets = input.targets;
    this.resumable = input.runId !== undefined;
    this.id = strategyRunId(
      settings.strategyId,
      input.runId ?? makeRunId(settings.clock.now(), input.runIdEntropy),
    );
    this.signal = input.signal;
    this.dryRun = input.dryRun;
    this.execution = input.execution;
    this.belief = input.belief;
    this.mode = input.mode ?? "rebalance";
    this.plannerExtra = input.untargeted ? { untargeted: input.untargeted } : {};
    this.account = input.account;
    const c = settings.coordination;
    this.journal = c?.journal ?? settings.journal ?? this.account.journal;
    this.accountKey = c?.account ?? settings.account ?? this.port.id;
    const observed = observedPort(this.port, this.account.record, settings.clock);
    const journaled = journalingPort(observed, {
      journal: this.journal,
      account: this.accountKey,
      runId: this.id,
      logger: settings.logger,
      signal: this.signal,
      clock: settings.clock,
      // Inside the window after which a take-over counts a send absent from the broker as never placed.
      sendWithinMs: Math.floor(settings.neverPlacedAfterMs / 2),
    });
    // At most `concurrency` requests in flight; a leg that waits for its fill holds no permit.
    // Around the journal, so that a send waiting for a permit (and aborted there) is not
    // journaled; under the coordination, so that a wait for the rate budget holds no permit.
    const limited = requestLimitedPort(journaled, new Semaphore(settings.concurrency), this.signal);
    // Outermost: the lease is checked (and a buy's hold bound) before the send is journaled.
    const coordinated =
      c !== undefined && input.leaseToken !== undefined
        ? coordinatedPort(limited, {
            coordination: c,
            token: input.leaseToken,
            clock: settings.clock,
            signal: this.signal,
            holdFor: (request) => this.buyHolds.get(request.symbol),
            onLeaseLost: (e) => this.onLeaseLost(e),
          })
        : limited;
    this.counted = countingBroker(coordinated);
    // Outside the count: asset rules and a clock read the account's caches hold are not requested at all.
    this.broker = cachedReadsPort(this.counted.broker, {
      assets: this.account.assets,
      marketClock: this.account.marketClock,
      clock: settings.clock,
      assetRulesTtlMs: settings.assetRulesTtlMs,
      clockTtlMs: settings.clockTtlMs,
    });
    this.record = new RebalanceRecord(this.id, this.dryRun, settings.clock.now());
    this.retry = new OrderRetryEngine({
      broker: this.broker,
      clock: settings.clock,
      logger: settings.logger,
      seed: settings.seed + input.runNumber,
      maxRetries: settings.maxRetries,
      failureBudget: settings.failureBudget,
      ...(settings.cancelConflicts === "own"
        ? {
            ownsOrder: (o: OrderSnapshot) => strategyOfClientOrderId(o.clientOrderId) === settings.strategyId,
          }
        : {}),
    });
    this.retry.on("halted", (info) => this.onHalted(info));
    this.retry.on("failure", ({ code }) => {
      if (code === "insufficient_buying_power") this.buyingPowerRefusals += 1;
    });
    this.resume = new ResumeGenerations({ runId: this.id, broker: this.broker, signal: this.signal });
  }

  /**
   * Emits the `phase` event, then runs the phase's step.
   *
   * @param name - the phase
   * @param step - its work
   * @returns what the step returns
   */
  phase<T>(name: RebalancePhase, step: () => T): T {
    this.events.emit("phase", { runId: this.id, phase: name, at: this.settings.clock.now() });
    return step();
  }

  /**
   * Records a plan (the first, or a re-plan of it from fresh state) and emits it.
   *
   * @param plan - the plan
   */
  recordPlan(plan: RebalancePlan): void {
    this.record.plan = plan;
    this.events.emit("plan", { runId: this.id, stage: "initial", plan });
  }

  /**
   * Records the buys re-planned on the real cash and emits them.
   *
   * @param plan - the buy plan
   */
  recordBuyPlan(plan: RebalancePlan): void {
    this.record.buyPlan = plan;
    this.events.emit("plan", { runId: this.id, stage: "buys", plan });
  }

  /**
   * Emits drift above tolerance.
   *
   * @param drifts - the differences above tolerance
   */
  emitDrift(drifts: readonly PositionDrift[]): void {
    this.events.emit("drift", { runId: this.id, drifts, mode: this.settings.correctionMode });
  }

  /**
   * Reads fresh state through the run's port.
   *
   * @param options - a symbol to read as well; the read this one refreshes; how far back the
   *   order history is listed at least (a resumed run's lookback)
   * @returns the state
   * @throws the read's error, or the abort reason
   */
  read(
    options: {
      extraSymbol?: string | undefined;
      previous?: FreshState | undefined;
      historyMs?: number | undefined;
    } = {},
  ): Promise<FreshState> {
    const reader = {
      broker: this.broker,
      clock: this.settings.clock,
      attempts: this.settings.readAttempts,
      signal: this.signal,
      record: this.account.record,
      settle: this.settings.settle,
      recentOrdersMs: this.settings.recentOrdersMs,
    };
    if (this.settings.scope === "account") return readFreshState(reader, this.targets, options);
    return readFreshState(reader, this.targets, options).then((state) =>
      sleeveOf(
        state,
        this.broker,
        this.settings.strategyId,
        (read) => this.withRetries(read, this.signal),
        this.signal,
      ),
    );
  }

  /**
   * Reads fresh state in the middle of the run; a failure is noted (`read_failed`) and thrown
   * on, which stops the run early.
   *
   * @param previous - the read this one refreshes, if any
   * @returns the state
   * @throws the read's error, or the abort reason
   */
  async readOrFail(previous?: FreshState): Promise<FreshState> {
    try {
      return await this.read({ previous });
    } catch (e) {
      if (this.signal?.aborted) throw e;
      this.record.adjust("*", undefined, "read_failed", String(e));
      throw e;
    }
  }

  /**
   * Runs a read with the bounded retries of fresh reads.
   *
   * @param read - the read
   * @param signal - aborts it
   * @returns its value
   */
  withRetries<T>(read: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return readWithRetries(read, {
      clock: this.settings.clock,
      attempts: this.settings.readAttempts,
      signal,
    });
  }

  /**
   * Plans from a fresh read with the rebalancer's planner options.
   *
   * @param state - the read
   * @param sides - `both`, or `buys` for the re-plan after the sells
   * @param more - planner options of this plan (`keep`)
   * @returns the plan
   * @throws ValidationError (`validation`) for planner input the planner refuses
   */
  plan(
    state: FreshState,
    sides: "both" | "buys",
    more: { readonly keep?: readonly string[] } = {},
  ): RebalancePlan {
    // Never traded: the planner's own `keep`, what the caller asks here, symbols whose read did
    // not settle, and symbols blocked for this run (an order there may still fill).
    const keep = [
      ...new Set([...this.settings.plannerKeep, ...(more.keep ?? []), ...state.unsettled, ...this.blocked]),
    ];
    const plan = planFromState(state, {
      targets: this.targets,
      capabilities: this.port.capabilities,
      options: {
        ...this.settings.plannerOptions,
        ...this.plannerExtra,
        ...(keep.length > 0 ? { keep } : {}),
      },
      sides,
    });
    // With cancelConflicts "all" such a leg goes out; a wash-trade refusal cancels the order and resends.
    if (state.foreignOpenOrders === undefined || this.settings.cancelConflicts === "all") return plan;
    return withoutForeignConflicts(plan, state.foreignOpenOrders, (leg, order) =>
      this.noteForeign(leg, order),
    );
  }

  /** Notes (once per symbol) a leg dropped because it meets another strategy's open order. */
  private noteForeign(leg: RebalanceLeg, order: OrderSnapshot): void {
    if (this.foreignNoted.has(leg.symbol)) return;
    this.foreignNoted.add(leg.symbol);
    this.record.adjust(
      leg.symbol,
      leg.side,
      "foreign_conflict",
      `${order.clientOrderId} belongs to strategy ${strategyOfClientOrderId(order.clientOrderId)}: not cancelled, not traded`,
    );
  }

  /** Starts following orders: the tracker subscribes to the broker's updates now. */
  startTracking(): void {
    const { clock, logger, tracker } = this.settings;
    const t = new OrderTracker({
      broker: this.broker,
      clock,
      logger,
      cancelOnTimeout: tracker.cancelOnTimeout,
      ...(tracker.quietAfterMs !== undefined ? { quietAfterMs: tracker.quietAfterMs } : {}),
      ...(tracker.maxStatusChecks !== undefined ? { maxStatusChecks: tracker.maxStatusChecks } : {}),
      ...(tracker.pollIntervalMs !== undefined ? { pollIntervalMs: tracker.pollIntervalMs } : {}),
    });
    this.tracking = { tracker: t, sells: this.coordinatorWith(t) };
  }

  /**
   * The coordinator of sells, adoptions and corrections (no reservations).
   *
   * @throws OrdersafeError (`invalid_state`) before {@link startTracking}
   */
  get sellCoordinator(): OrderExecutionCoordinator {
    return this.startedTracking().sells;
  }

  /**
   * A coordinator that reserves through `funds` (the buys).
   *
   * @param funds - the reservations of the buys
   * @returns the coordinator
   * @throws OrdersafeError (`invalid_state`) before {@link startTracking}
   */
  coordinatorFor(funds: FundsReservation): OrderExecutionCoordinator {
    return this.coordinatorWith(this.startedTracking().tracker, funds);
  }

  /**
   * Records an order's outcome: in the record, as `order:final`, and as an adjustment when it
   * did not fill as asked.
   *
   * @param o - the outcome
   */
  recordOutcome(o: OrderOutcome): void {
    this.record.orders.push(o);
    this.resume.noteUsed(o);
    // Fills race cancels: an order that ended without filling in full (cancelled, expired, or
    // unknown) may still fill. Nothing more is sent on its symbol in this run. A replaced
    // order cannot: what it did not fill is its replacement's, followed and recorded itself.
    if (
      o.orderId !== undefined &&
      o.state !== "filled" &&
      o.state !== "rejected" &&
      o.state !== "replaced" &&
      !this.blocked.has(o.symbol)
    ) {
      this.blocked.add(o.symbol);
      this.record.adjust(
        o.symbol,
        o.side,
        "may_still_fill",
        `${o.clientOrderId} ended ${o.state} and may still fill: nothing more is sent on ${o.symbol} in this run`,
      );
    }
    this.events.emit("order:final", { runId: this.id, outcome: o });
    this.record.noteOutcome(o);
    if (o.state === "unresolved") {
      this.settings.logger.error(
        { clientOrderId: o.clientOrderId, symbol: o.symbol },
        "[ordersafe] order unresolved",
      );
    }
  }

  /** Counts a request about to be sent, notes it working, and emits `order:sending`. */
  readonly onSubmitted = (request: OrderRequest, attempt: number): void => {
    this.record.submitted += 1;
    // A leg sent by a policy may take several generations (steps): the next order goes past them.
    this.resume.noteUsed(request);
    this.sent.set(request.clientOrderId, { symbol: request.symbol, side: request.side, adopted: false });
    this.lastRequest.set(request.clientOrderId, request);
    this.events.emit("order:sending", { runId: this.id, request, attempt });
  };

  /** Emits `order:submitted` once the broker holds the order. */
  readonly onAccepted = (order: OrderSnapshot, attempt: number): void => {
    // A close has no request of ours: its order stands for it.
    const request = this.lastRequest.get(order.clientOrderId) ?? {
      clientOrderId: order.clientOrderId,
      symbol: order.symbol,
      side: order.side,
      type: order.type,
      timeInForce: order.timeInForce,
      ...(order.qty !== undefined ? { qty: order.qty } : {}),
      ...(order.notional !== undefined ? { notional: order.notional } : {}),
    };
    this.events.emit("order:submitted", { runId: this.id, request, attempt, order });
  };

  /**
   * Runs one order of the run (a leg, a correction, an adoption) to its final state: the
   * client order ids it sends are working until it ends, and its outcome is recorded the
   * moment it ends (so a run stopped midway reports every order that ended, and every order
   * still working).
   *
   * @param order - starts the order and resolves with its outcome
   * @param adopting - for an adoption: the order taken over (working from the start)
   * @returns the outcome
   */
  async runOrder(
    order: (onSubmitted: (request: OrderRequest, attempt: number) => void) => Promise<OrderOutcome>,
    adopting?: OrderSnapshot,
  ): Promise<OrderOutcome> {
    const ids = new Set<string>();
    if (adopting !== undefined) {
      ids.add(adopting.clientOrderId);
      this.sent.set(adopting.clientOrderId, { symbol: adopting.symbol, side: adopting.side, adopted: true });
    }
    // When `order` throws (an abort), its ids stay in `sent`: the partial report lists them.
    const outcome = await order((request, attempt) => {
      ids.add(request.clientOrderId);
      this.onSubmitted(request, attempt);
    });
    for (const id of ids) this.sent.delete(id);
    this.recordOutcome(outcome);
    return outcome;
  }

  /**
   * The generation of a new order on (symbol, side): past every order of the run so far, and
   * of its earlier attempts. Undefined (and noted) when the pair has used every generation.
   *
   * @param symbol - the symbol
   * @param side - the side
   * @returns the generation, or undefined
   */
  generationFor(symbol: string, side: OrderSide): number | undefined {
    const g = this.resume.take(symbol, side);
    if (g === undefined) {
      this.record.adjust(symbol, side, "generations_exhausted", "every client order id of the pair is used");
    }
    return g;
  }

  /**
   * Executes one leg of a plan as a market order to its final state.
   *
   * @param coordinator - the sells' or the buys' coordinator
   * @param leg - the leg
   * @param generation - its client order id generation
   * @param onSent - called once the broker holds the order (before its fill is awaited)
   * @returns the outcome
   */
  executeLeg(
    coordinator: OrderExecutionCoordinator,
    leg: RebalanceLeg,
    generation: number,
    onSent?: () => void,
  ): Promise<OrderOutcome> {
    return this.runOrder((onSubmitted) => this.sendLeg(coordinator, leg, generation, onSubmitted, onSent));
  }

  private sendLeg(
    coordinator: OrderExecutionCoordinator,
    leg: RebalanceLeg,
    generation: number,
    onSubmitted: (request: OrderRequest, attempt: number) => void,
    onSent: (() => void) | undefined,
  ): Promise<OrderOutcome> {
    const intent: OrderIntent = {
      symbol: leg.symbol,
      side: leg.side,
      type: "market",
      timeInForce: "day",
      ...(leg.qty !== undefined ? { qty: leg.qty } : {}),
      ...(leg.notional !== undefined ? { notional: leg.notional } : {}),
    };
    const base = { runId: this.id, generation, signal: this.signal };
    // Once the breaker is open the coordinator refuses the order without sending anything.
    if (this.retry.halted) return coordinator.executeOrder(intent, base);
    const policy = leg.closePosition === true ? undefined : policyFor(this.execution, leg.symbol, leg.side);
    if (policy !== undefined) {
      return coordinator.executeWithPolicy(
        intent,
        policy,
        { ...base, onSubmitted, onAccepted: this.onAccepted },
        MAX_GENERATIONS,
      );
    }
    return coordinator.executeOrder(intent, {
      ...base,
      closePosition: leg.closePosition,
      onSubmitted,
      onAccepted: (order: OrderSnapshot, attempt: number) => {
        this.onAccepted(order, attempt);
        onSent?.();
      },
    });
  }

  /**
   * Takes over an earlier attempt's order and follows it to its final state (recorded
   * `adopted`).
   *
   * @param order - the broker's snapshot of it
   * @returns its outcome
   */
  adopt(order: OrderSnapshot): Promise<OrderOutcome> {
    return this.runOrder(() => this.sellCoordinator.adopt(order, this.signal), order);
  }

  /** The only unfinished run this run takes over (an abandon: its own), or undefined for every one. */
  get takeOverOnly(): string | undefined {
    return this.mode === "abandon" ? this.id : undefined;
  }

  /**
   * How this run takes over an unfinished run of the journal.
   *
   * @param runId - the unfinished run
   * @returns `abandoned` (an abandon), `resumed` (its own id), or `superseded`
   */
  takeOverKind(runId: string): TakeOverKind {
    if (this.mode === "abandon") return "abandoned";
    return runId === this.id ? "resumed" : "superseded";
  }

  /**
   * Ends the run: after the circuit breaker opened, reads every position (a full
   * reconciliation) when the run did not; then builds the report and emits `done`.
   *
   * @param ending - the forced status and error, if any
   * @returns the report
   */
  async finish(ending: RunEnding): Promise<RebalanceReport> {
    if (
      this.record.halted !== undefined &&
      ending.forced === undefined &&
      this.record.positionsAfter.length === 0
    ) {
      try {
        // Stop digging: every position is read (without the run's signal) after the breaker opened.
        this.record.positionsAfter = await this.withRetries(() => this.broker.getPositions(), undefined);
      } catch {
        this.record.adjust("*", undefined, "reconcile_failed", "positions could not be read after the halt");
      }
    }
    const built = this.buildReport(ending);
    // The journal is closed before `done`: the report says which runs it marked finished.
    const closed = await this.closeJournal(built);
    const report: RebalanceReport =
      closed.size === 0
        ? built
        : {
            ...built,
            takenOver: built.takenOver.map((t) => (closed.has(t.runId) ? { ...t, finished: true } : t)),
          };
    this.phase("done", () => this.events.emit("done", { runId: this.id, report }));
    return report;
  }

  /**
   * Ends a run that threw: an abort rethrows as `OrdersafeError("aborted")` carrying the
   * partial report; anything else (a broker failure mid-run) is noted `stopped_early` and the
   * run finishes `failed`, listing what filled before it stopped.
   *
   * @param error - what was thrown
   * @returns the report
   * @throws RebalanceAbortedError (`aborted`) when the signal aborted
   */
  stop(error: unknown): Promise<RebalanceReport> {
    if (this.signal?.aborted) {
      const partial = this.buildReport({
        forced: "failed",
        error: { code: "aborted", message: "[ordersafe] rebalance aborted" },
      });
      throw new RebalanceAbortedError({ runId: this.id, report: partial }, error);
    }
    // Bad input was refused before the run started; anything here came from the broker mid-run.
    this.settings.logger.error(
      { runId: this.id, error: String(error) },
      "[ordersafe] rebalance stopped early",
    );
    // The run did not finish its plan (what filled is in `orders`): never "completed".
    this.record.adjust("*", undefined, "stopped_early", String(error));
    return this.finish({ forced: "failed", error: errorOf(error) });
  }

  /**
   * Writes the run's start to the journal (before its first write call): the targets, the
   * options that shape its orders, and the account and positions it planned from, as read. A
   * run resuming its own earlier attempt goes on with that attempt's entries.
   *
   * @param state - the read the run plans from
   * @throws the journal's errors (nothing has been sent yet)
   */
  async startJournal(state: FreshState): Promise<void> {
    if (this.dryRun || this.journalStarted) return;
    this.journalStarted = true;
    if (this.takenOver.some((r) => r.runId === this.id)) return;
    await this.journal.append(
      this.accountKey,
      [
        {
          type: "run_start",
          runId: this.id,
          ...(this.settings.strategyId !== DEFAULT_STRATEGY_ID
            ? { strategyId: this.settings.strategyId }
            : {}),
          targets: targetsJson(this.targets),
          // As JSON: decimals as strings.
          options: JSON.parse(JSON.stringify({ ...this.settings.plannerOptions, ...this.plannerExtra })),
          account: state.account,
          positions: state.positions,
        },
      ],
      { durable: false },
    );
  }

  /**
   * Writes a leg the run means to trade (not durable: the send that follows is).
   *
   * @param leg - the leg
   */
  async journalIntent(leg: RebalanceLeg): Promise<void> {
    if (!this.journalStarted) return;
    try {
      await this.journal.append(this.accountKey, [
        {
          type: "intent",
          runId: this.id,
          symbol: leg.symbol,
          side: leg.side,
          ...(leg.qty !== undefined ? { qty: leg.qty } : { notional: leg.notional }),
          orderType: "market",
          reason: leg.reason,
        },
      ]);
    } catch (e) {
      this.settings.logger.warn(
        { runId: this.id, error: String(e) },
        "[ordersafe] journal: an intent could not be written",
      );
    }
  }

  /**
   * Closes the run in the journal once nothing it (or a run it took over) sent can still be
   * live: every order final, none unresolved, and every order taken over followed to its end.
   * Then the runs it took over are superseded (or, for an abandon, its own run is marked
   * `abandoned`). A run with an order still unknown stays open: the next run on the account
   * looks that order up again. Finished runs are compacted away by the next run's start
   * ({@link compactJournal}), not here: until then the journal still holds what this run sent,
   * so a process killed after this and before its caller got the report loses no order.
   *
   * @param report - the run's report
   * @returns the runs this call marked finished (none when the journal could not be written)
   */
  async closeJournal(report: RebalanceReport): Promise<ReadonlySet<string>> {
    const closed = new Set<string>();
    if (this.dryRun || (!this.journalStarted && this.takenOver.length === 0)) return closed;
    const open =
      report.working.length > 0 ||
      report.orders.some((o) => o.state === "unresolved") ||
      (this.earlier.length > 0 && !this.earlierFollowed);
    if (open) return closed;
    const finish = async (runId: string, outcome: RunOutcome, options: FinishRunOptions = {}) => {
      // `false`: it was not open (finished by someone else meanwhile): finished all the same.
      await this.journal.finishRun(this.accountKey, runId, outcome, options);
      closed.add(runId);
    };
    try {
      if (this.journalStarted && this.mode === "rebalance") await finish(this.id, "completed");
      for (const r of this.takenOver) {
        if (this.mode === "abandon") await finish(r.runId, "abandoned", { note: "abandoned by the caller" });
        // Its own earlier attempt: finished above, or now when the run stopped before its start.
        else if (r.runId === this.id) {
          if (!closed.has(r.runId)) await finish(r.runId, "completed");
        } else await finish(r.runId, "superseded", { by: this.id });
      }
    } catch (e) {
      this.settings.logger.warn(
        { runId: this.id, error: String(e) },
        "[ordersafe] journal: the run could not be closed",
      );
    }
    return closed;
  }

  /**
   * Drops the account's finished runs from the journal, before the run takes over the
   * unfinished ones (not in a dry run). A failure is logged: the run goes on, and the read
   * that follows reports a journal it cannot read.
   */
  async compactJournal(): Promise<void> {
    if (this.dryRun) return;
    try {
      await this.journal.compact(this.accountKey, { signal: this.signal });
    } catch (e) {
      if (this.signal?.aborted) throw e;
      this.settings.logger.warn(
        { runId: this.id, error: String(e) },
        "[ordersafe] journal: finished runs could not be compacted",
      );
    }
  }

  /**
   * The outcome of an order an unfinished run sent that no read found within the bound: it
   * may be live, so it is `unresolved` (never re-sent under a new id).
   *
   * @param u - the send
   * @returns its outcome
   */
  unresolvedSend(u: UnresolvedSend): OrderOutcome {
    return {
      symbol: u.symbol,
      side: u.side,
      clientOrderId: u.clientOrderId ?? `close ${u.symbol}`,
      orderId: undefined,
      requestedQty: undefined,
      requestedNotional: undefined,
      filledQty: ZERO,
      avgPrice: undefined,
      filledNotional: ZERO,
      state: "unresolved",
      attempts: 0,
      adopted: true,
      recovered: false,
      errorCode: "ambiguous",
      errorMessage: `[ordersafe] sent by run ${u.runId} and not found within ${this.settings.journalLookupMs} ms: it may be live; nothing traded on ${u.symbol}`,
      adjustments: [],
      submittedAt: undefined,
      finalAt: this.settings.clock.now(),
    };
  }

  /** Stops following orders and drops the listeners (the report may still be finishing). */
  close(): void {
    this.tracking?.tracker.close();
    this.retry.removeAllListeners();
  }

  /** A write found the lease gone (or could not check it): no write follows; the breaker opens. */
  private onLeaseLost(e: OrdersafeError): void {
    if (this.leaseLost !== undefined) return;
    this.leaseLost = e;
    this.settings.logger.error(
      { runId: this.id, code: e.code },
      "[ordersafe] the account lease is lost: stopping",
    );
    this.record.adjust("*", undefined, e.code, e.message);
    this.retry.halt(e.message);
  }

  /**
   * Whether an order belongs to this run's strategy.
   *
   * @param clientOrderId - the order's client order id
   * @returns true when the strategy owns it
   */
  owns(clientOrderId: string): boolean {
    return strategyOfClientOrderId(clientOrderId) === this.settings.strategyId;
  }

  /** The circuit breaker opened: the run is halted (its report says so) and `halted` is emitted. */
  private onHalted(info: { consecutiveFailures: number; lastReason: string; at: number }): void {
    this.record.halted = { code: "halted", message: `[ordersafe] circuit breaker open: ${info.lastReason}` };
    this.events.emit("halted", {
      runId: this.id,
      consecutiveFailures: info.consecutiveFailures,
      reason: info.lastReason,
      at: info.at,
    });
  }

  private buildReport(ending: RunEnding): RebalanceReport {
    // Each outcome as the account's record knows it now: late fills count.
    const record = this.account.record;
    const orders = this.record.orders.map((o) => outcomeFromRecord(o, record));
    const working = [...this.sent].map(([clientOrderId, o]): WorkingOrder => {
      const known = record.orderByClientId(clientOrderId);
      return {
        clientOrderId,
        orderId: known?.orderId,
        symbol: o.symbol,
        side: o.side,
        status: known?.status ?? "sent",
        filledQty: known?.filledQty ?? ZERO,
        adopted: o.adopted,
      };
    });
    return buildRebalanceReport(
      { ...this.record, orders, working },
      {
        ...ending,
        endedAt: this.settings.clock.now(),
        restCalls: this.counted.calls(),
        buyingPowerRejections: this.buyingPowerRefusals,
      },
    );
  }

  private startedTracking(): { tracker: OrderTracker; sells: OrderExecutionCoordinator } {
    if (this.tracking === undefined) {
      throw new OrdersafeError("invalid_state", "[ordersafe] the run has not started tracking orders");
    }
    return this.tracking;
  }

  private coordinatorWith(tracker: OrderTracker, funds?: FundsReservation): OrderExecutionCoordinator {
    const { clock, logger, finalTimeoutMs, streamWaitMs, polling } = this.settings;
    return new OrderExecutionCoordinator({
      broker: this.broker,
      retry: this.retry,
      tracker,
      clock,
      logger,
      finalTimeoutMs,
      streamWaitMs,
      polling,
      ...(funds ? { funds } : {}),
    });
  }
}

/**
 * A port whose requests wait for a permit of `requests`: at most its permits in flight at
 * once, whoever sends them (legs, reads, the tracker's checks). A request still waiting when
 * `signal` aborts is never sent (it rejects with the abort reason). The update stream is not
 * a request and is not bounded.
 *
 * @param port - the port
 * @param requests - the run's request permits
 * @param signal - aborts a wait for a permit
 * @returns the bounded port
 */
export function requestLimitedPort(
  port: BrokerPort,
  requests: Semaphore,
  signal: AbortSignal | undefined,
): BrokerPort {
  return wrapBrokerPort(port, { call: (_method, call) => requests.run(call, signal) });
}

/** Targets as the journal holds them (decimals as strings). */
function targetsJson(t: RebalanceTargets) {
  const map = (m: Readonly<Record<string, Decimal>>) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.toFixed()]));
  if ("weights" in t && t.weights !== undefined) return { weights: map(t.weights) };
  if ("quantities" in t && t.quantities !== undefined) return { quantities: map(t.quantities) };
  return { notionals: map("notionals" in t && t.notionals !== undefined ? t.notionals : {}) };
}
