import { randomUUID } from "node:crypto";
import { z } from "zod";
import { type AccountState, accountStateOf } from "../account/account-registry.js";
import { ASSET_RULES_CACHE_DEFAULTS } from "../account/asset-rules-cache.js";
import { cachedReadsPort } from "../account/cached-reads-port.js";
import { MARKET_CLOCK_CACHE_DEFAULTS } from "../account/market-clock-cache.js";
import { observedPort } from "../account/observed-port.js";
import { SETTLE_DEFAULTS } from "../account/settle.js";
import type { BrokerPort } from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { zBrokerPort } from "../broker/schemas.js";
import { COORDINATION_DEFAULTS, type Coordination, zCoordination } from "../coordination/coordination.js";
import { type Clock, systemClock } from "../core/clock.js";
import type { Decimal } from "../core/decimal.js";
import { OrdersafeError } from "../core/errors.js";
import { DEFAULT_STRATEGY_ID, STRATEGY_ID_PATTERN } from "../core/ids.js";
import { IsolatedEmitter, isolateLogger } from "../core/isolation.js";
import type { Logger } from "../core/logger.js";
import { parseInput, zAbortSignal, zClock, zDecimal, zLogger, zSymbol } from "../core/validation.js";
import { type JournalStore, zJournalStore } from "../journal/journal-store.js";
import {
  type RebalanceOptionsInput,
  RebalanceOptionsSchema,
  type RebalanceTargets,
  type RebalanceTargetsInput,
  RebalanceTargetsSchema,
} from "../rebalance/rebalance-input.js";
import type { RebalancePlan } from "../rebalance/rebalance-plan.js";
import {
  CORRECTION_MODES,
  type CorrectionAction,
  type CorrectionMode,
} from "../reconcile/position-correction-engine.js";
import { type AbandonReport, abandonFlow, abandonReportOf } from "./abandon-flow.js";
import {
  type AlertMonitor,
  type RebalancerAlertsOptions,
  RebalancerAlertsOptionsSchema,
  watchRebalancerAlerts,
} from "./alerts/rebalancer-alerts.js";
import type { RunEnding } from "./build-rebalance-report.js";
import { watchLedgerCash } from "./ledger-drift-watch.js";
import { planFromState } from "./plan-from-state.js";
import { type ExecutionChoiceInput, parseExecutionChoice } from "./policies/execution-choice.js";
import { readFreshState } from "./read-state.js";
import { rebalanceFlow } from "./rebalance-flow.js";
import type { RebalanceReport } from "./rebalance-report.js";
import { type HeldBelief, RebalanceRun, type RebalancerSettings } from "./rebalance-run.js";
import type { RebalancerEvents } from "./rebalancer-events.js";
import { withLease } from "./run-lease.js";
import { type UnfinishedRun, unfinishedRunOf } from "./unfinished-run.js";

export type { RebalancerEvents } from "./rebalancer-events.js";

/**
 * The defaults of {@link SmartRebalancerOptions}, in one place: the constructor applies these.
 * Tracker options not listed here default to the `OrderTracker`'s own.
 *
 * @example
 * ```ts
 * new SmartRebalancer({ broker, concurrency: SMART_REBALANCER_DEFAULTS.concurrency * 2 });
 * ```
 */
export const SMART_REBALANCER_DEFAULTS = {
  seed: 1,
  concurrency: 32,
  correctionMode: "report",
  tracker: { cancelOnTimeout: true },
  finalTimeoutMs: 60_000,
  streamWaitMs: 5_000,
  polling: false,
  maxRetries: 3,
  failureBudget: 5,
  readAttempts: 5,
  queueWhenClosed: false,
  secondBuyPass: true,
  driftToleranceNotional: 100,
  settleMs: SETTLE_DEFAULTS.settleMs,
  settleTimeoutMs: SETTLE_DEFAULTS.settleTimeoutMs,
  settlePollMs: SETTLE_DEFAULTS.settlePollMs,
  resumeLookbackMs: 86_400_000,
  recentOrdersMs: 900_000,
  assetRulesTtlMs: ASSET_RULES_CACHE_DEFAULTS.ttlMs,
  clockTtlMs: MARKET_CLOCK_CACHE_DEFAULTS.ttlMs,
  journalLookupMs: 10_000,
  neverPlacedAfterMs: 120_000,
  lateFillWindowMs: 2_000,
  strategyId: DEFAULT_STRATEGY_ID,
  cancelConflicts: "own",
  scope: "account",
  leaseTtlMs: COORDINATION_DEFAULTS.leaseTtlMs,
  leaseWaitMs: 60_000,
} as const satisfies Partial<SmartRebalancerOptions>;

/** What conflict cancels may touch: the strategy's own orders, every order, or none. */
export const CANCEL_CONFLICTS_MODES = ["own", "all", "none"] as const;
/** One of {@link CANCEL_CONFLICTS_MODES}. */
export type CancelConflictsMode = (typeof CANCEL_CONFLICTS_MODES)[number];
/** What a strategy's targets describe: the whole account, or its own sleeve of it. */
export const REBALANCE_SCOPES = ["account", "sleeve"] as const;
/** One of {@link REBALANCE_SCOPES}. */
export type RebalanceScope = (typeof REBALANCE_SCOPES)[number];

/** Options of {@link SmartRebalancer}; defaults in {@link SMART_REBALANCER_DEFAULTS}. */
export interface SmartRebalancerOptions {
  /** The broker. */
  broker: BrokerPort;
  /** The clock every wait runs on. @defaultValue systemClock */
  clock?: Clock | undefined;
  /** Where to log. @defaultValue silentLogger */
  logger?: Logger | undefined;
  /**
   * Seed of retry jitter and of default run ids. Given: default run ids are deterministic
   * (the clock, the seed and the account's run number). Not given: retry jitter uses
   * `SMART_REBALANCER_DEFAULTS.seed` and default run ids use random bytes.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.seed` (1)
   */
  seed?: number | undefined;
  /**
   * Broker requests in flight at once, whoever sends them (submits, reads, status checks). Legs
   * are not bounded: a leg that waits for its fill holds no request. The broker's rate limit
   * (the adapter's token bucket, a coordination's budget) still applies to each request.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.concurrency` (32)
   */
  concurrency?: number | undefined;
  /**
   * Drift handling: `report` only emits `drift` and never trades.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.correctionMode` ("report")
   */
  correctionMode?: CorrectionMode | undefined;
  /** Planner options (see `docs/rebalancing.md`); `sides` is managed by the rebalancer. */
  planner?: Omit<RebalanceOptionsInput, "sides"> | undefined;
  /** Order tracker options. */
  tracker?:
    | {
        /** A quiet order is read by REST after this long (ms). @defaultValue the `OrderTracker`'s (15000) */
        quietAfterMs?: number | undefined;
        /** REST checks after a wait times out. @defaultValue the `OrderTracker`'s (5) */
        maxStatusChecks?: number | undefined;
        /** Poll interval while the stream is down (ms). @defaultValue the `OrderTracker`'s (2000) */
        pollIntervalMs?: number | undefined;
        /**
         * Cancel (and confirm) an order still open when its wait times out.
         * @defaultValue `SMART_REBALANCER_DEFAULTS.tracker.cancelOnTimeout` (true)
         */
        cancelOnTimeout?: boolean | undefined;
      }
    | undefined;
  /**
   * Longest wait for one order to become final (ms).
   * @defaultValue `SMART_REBALANCER_DEFAULTS.finalTimeoutMs` (60000)
   */
  finalTimeoutMs?: number | undefined;
  /**
   * Longest hold of new submissions while the stream is unhealthy (ms).
   * @defaultValue `SMART_REBALANCER_DEFAULTS.streamWaitMs` (5000)
   */
  streamWaitMs?: number | undefined;
  /**
   * Follow orders by REST polling instead of the update stream.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.polling` (false)
   */
  polling?: boolean | undefined;
  /** Retries per order. @defaultValue `SMART_REBALANCER_DEFAULTS.maxRetries` (3) */
  maxRetries?: number | undefined;
  /**
   * Consecutive failed orders that open the circuit breaker.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.failureBudget` (5)
   */
  failureBudget?: number | undefined;
  /**
   * Attempts of each fresh read before the run fails (backoff 200 ms doubling).
   * @defaultValue `SMART_REBALANCER_DEFAULTS.readAttempts` (5)
   */
  readAttempts?: number | undefined;
  /**
   * Send orders while the market is closed (the broker queues them).
   * @defaultValue `SMART_REBALANCER_DEFAULTS.queueWhenClosed` (false)
   */
  queueWhenClosed?: boolean | undefined;
  /**
   * One more buy pass once the first buys are final, when they were short for cash and their
   * holds (a quantity market buy holds `marketBuyBuffer` more than it spends) freed at least
   * the minimum order: the account is read again (settled) and the buys still under target
   * are planned on it and sent. Reported in `report.buyPass`.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.secondBuyPass` (true)
   */
  secondBuyPass?: boolean | undefined;
  /**
   * Drift tolerance of the final reconciliation, in dollars.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.driftToleranceNotional` (100)
   */
  driftToleranceNotional?: number | undefined;
  /** For `correctionMode: "approve"` (and `auto` above its limits): decides each corrective action. */
  approve?: ((action: CorrectionAction) => Promise<boolean> | boolean) | undefined;
  /** For `correctionMode: "auto"`: the largest corrective action in dollars, and actions per run. */
  correctionLimits?: { maxAutoNotional?: number; maxActionsPerRun?: number } | undefined;
  /**
   * A position or account read taken this long after the last fill this process knows on it
   * is trusted even when it differs from what the fills imply (ms); a read that matches them is
   * trusted at once. Position and account reads lag the order book: Alpaca's have been seen
   * to lag by up to ~10 s. See `docs/consistency.md`.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.settleMs` (10000)
   */
  settleMs?: number | undefined;
  /**
   * The longest wait for a read to settle (ms); what has not settled by then is reported
   * `unsettled` and nothing is sized from it.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.settleTimeoutMs` (30000)
   */
  settleTimeoutMs?: number | undefined;
  /**
   * The first wait before a read that does not show the known fills is read again (ms); each
   * later wait doubles, none past `settleMs`.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.settlePollMs` (250)
   */
  settlePollMs?: number | undefined;
  /**
   * How far back a run given a `runId` looks in the account's order history for orders its
   * earlier attempts placed (ms). Ports without an order history look each (symbol, side) up
   * by client order id instead.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.resumeLookbackMs` (86400000: a day)
   */
  resumeLookbackMs?: number | undefined;
  /**
   * A run's first read (and `plan()`) also lists the orders submitted on the account this long
   * before it, when the port keeps an order history: what other processes and people filled
   * is then known, and position and account reads must show it before they are used (ms).
   * 0: not listed.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.recentOrdersMs` (900000: 15 minutes)
   */
  recentOrdersMs?: number | undefined;
  /**
   * How long asset rules read on the account are reused by later reads in this process (ms);
   * 0: read every time. A broker refusal for an asset reason (not tradable, not fractionable,
   * off the increment, under the minimum) drops the symbol's rules at once.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.assetRulesTtlMs` (3600000: an hour)
   */
  assetRulesTtlMs?: number | undefined;
  /**
   * How long a market clock read on the account is reused by later reads in this process
   * (ms), never within a minute of the open or close it announced; 0: read every time. A
   * broker refusal because the market is closed drops it.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.clockTtlMs` (900000: 15 minutes)
   */
  clockTtlMs?: number | undefined;
  /**
   * Where each run writes its intents and, durably before each broker write, its sends (see
   * `docs/journal.md`). `fileJournal(dir)` survives a crash: the next run on the account, in
   * any process, finds what an unfinished run sent and takes it over.
   * @defaultValue a `memoryJournal()` per account, for the life of the process
   */
  journal?: JournalStore | undefined;
  /**
   * The account's name in the journal.
   * @defaultValue the port's `id`
   */
  account?: string | undefined;
  /**
   * How long an order an unfinished run sent, and the broker does not show yet, is looked for
   * before it is reported `unresolved` (and nothing is sent on its symbol) (ms).
   * @defaultValue `SMART_REBALANCER_DEFAULTS.journalLookupMs` (10000)
   */
  journalLookupMs?: number | undefined;
  /**
   * A process can die between the journal's write of a send and the request. A submit of an
   * unfinished run that no answer settled, and that a lookup by its client order id made this
   * long after it was sent (on the rebalancer's clock) does not find, never reached the broker:
   * the run taking it over writes so to the journal (`not_placed`), notes it `never_placed`,
   * may plan its leg again under the next client order id, and can close. Before then it is
   * `unresolved` and its run stays open. It must be longer than any request can take to land:
   * the port's request timeout (Alpaca: `timeoutMs`, 30 s), plus the broker's lag before a new
   * order shows in lookups, plus the clock skew between machines (ms).
   * @defaultValue `SMART_REBALANCER_DEFAULTS.neverPlacedAfterMs` (120000: 2 minutes)
   */
  neverPlacedAfterMs?: number | undefined;
  /**
   * The most buying power the strategy may hold and spend in one run, in dollars: its holds
   * in the coordination's ledger (every process's, reserved or bound) plus what the run's
   * buys already held and released, plus the next buy's reservation. Checked and taken
   * atomically in the ledger with each reservation; a buy that would pass it is not sent
   * (`submit_failed` with the code `strategy_cap`, and a `strategy_cap` adjustment). A
   * released hold counts in full (its reserved amount, filled or not). Needs `coordination`
   * (`inProcessCoordination()` for one process).
   * @defaultValue none: only the account's buying power limits the buys
   */
  strategyCap?: number | undefined;
  /**
   * Fills race cancels: a broker may report a fill after it reported the order cancelled.
   * Before it reconciles, a run that has an order which ended without filling in full waits
   * until this long after the last such order ended, then reads those orders again, so a late
   * fill is in its report (ms).
   * @defaultValue `SMART_REBALANCER_DEFAULTS.lateFillWindowMs` (2000)
   */
  lateFillWindowMs?: number | undefined;
  /**
   * What processes on the account share: the lease (one run at a time on the account, checked
   * before every write), the reservation ledger, the journal and the API key's budget.
   * `createRedisCoordination()` (`ordersafe/redis`) shares them across processes and machines;
   * `inProcessCoordination()` between rebalancers of one process. Not with `journal`: the
   * coordination's journal is used.
   * @defaultValue none: this process's run queue, a ledger per run and `journal`
   */
  coordination?: Coordination | undefined;
  /**
   * The strategy this rebalancer trades for: 1 to 12 letters and digits, carried in every
   * client order id (`os-<strategy>_…`). The default strategy's ids are unchanged, and it owns
   * every order no named strategy made.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.strategyId` ("default")
   */
  strategyId?: string | undefined;
  /**
   * Which opposite-side open orders a leg may cancel: the strategy's own (a leg that meets
   * another strategy's is skipped as `foreign_conflict`), every order, or none.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.cancelConflicts` ("own")
   */
  cancelConflicts?: CancelConflictsMode | undefined;
  /**
   * `account`: the targets describe the whole account (untargeted holdings are sold under
   * weights). `sleeve`: the strategy's positions are the net fills of its own orders (from the
   * broker's order history; the port must keep one), its targets apply to them, and other
   * holdings and orders are never touched. Weights stay fractions of the account's equity.
   * @defaultValue `SMART_REBALANCER_DEFAULTS.scope` ("account")
   */
  scope?: RebalanceScope | undefined;
  /**
   * How each leg is sent: one execution policy (or preset name) for every leg, or
   * `{ default?, buy?, sell?, symbols? }` (by symbol first, then side, then default). A leg
   * sent by a policy reports its arrival mid, slippage and steps (`outcome.execution`), and the
   * report totals them (`report.execution`). A run's own `execution` replaces this one. See
   * `docs/execution.md`.
   * @defaultValue none: every leg is a market order
   */
  execution?: ExecutionChoiceInput | undefined;
  /** How long the account lease lives without a renewal (ms). @defaultValue `SMART_REBALANCER_DEFAULTS.leaseTtlMs` (15000) */
  leaseTtlMs?: number | undefined;
  /**
   * How long a run waits for the account lease another process holds before it throws
   * `lease_held` (ms). @defaultValue `SMART_REBALANCER_DEFAULTS.leaseWaitMs` (60000)
   */
  leaseWaitMs?: number | undefined;
  /**
   * Alerts on this rebalancer's runs, to the given sinks: drift above `driftNotional` ($100),
   * `consecutiveFailures` (3) failed orders in a row, any buying-power refusal, any
   * `unresolved` order, a halted run (see `docs/observability.md`). A sink that throws,
   * rejects or hangs is logged and never reaches nor slows a run; `rebalancer.alerts.flush()`
   * waits for the deliveries.
   * @defaultValue none
   */
  alerts?: RebalancerAlertsOptions | undefined;
}

const OptionsSchema = z
  .object({
    broker: zBrokerPort,
    clock: zClock.optional(),
    logger: zLogger.optional(),
    seed: z.number().int().optional(),
    concurrency: z.number().int().min(1).max(64).optional(),
    correctionMode: z.enum(CORRECTION_MODES).optional(),
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
    secondBuyPass: z.boolean().optional(),
    driftToleranceNotional: z.number().min(0).optional(),
    approve: z.custom<(a: CorrectionAction) => boolean>((v) => typeof v === "function").optional(),
    correctionLimits: z
      .object({
        maxAutoNotional: z.number().min(0).optional(),
        maxActionsPerRun: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
    settleMs: z.number().int().min(0).max(600_000).optional(),
    settleTimeoutMs: z.number().int().min(0).max(3_600_000).optional(),
    settlePollMs: z.number().int().min(1).max(600_000).optional(),
    resumeLookbackMs: z
      .number()
      .int()
      .min(0)
      .max(90 * 86_400_000)
      .optional(),
    recentOrdersMs: z.number().int().min(0).max(86_400_000).optional(),
    assetRulesTtlMs: z.number().int().min(0).max(86_400_000).optional(),
    clockTtlMs: z.number().int().min(0).max(86_400_000).optional(),
    journal: zJournalStore.optional(),
    account: z.string().min(1).max(128).optional(),
    journalLookupMs: z.number().int().min(0).max(3_600_000).optional(),
    neverPlacedAfterMs: z.number().int().min(1).max(86_400_000).optional(),
    strategyCap: z.number().finite().min(0).max(1e15).optional(),
    lateFillWindowMs: z.number().int().min(0).max(600_000).optional(),
    coordination: zCoordination.optional(),
    strategyId: z
      .string()
      .regex(STRATEGY_ID_PATTERN, { message: "expected 1 to 12 letters and digits" })
      .optional(),
    cancelConflicts: z.enum(CANCEL_CONFLICTS_MODES).optional(),
    scope: z.enum(REBALANCE_SCOPES).optional(),
    leaseTtlMs: z.number().int().min(100).max(600_000).optional(),
    leaseWaitMs: z.number().int().min(0).max(3_600_000).optional(),
    execution: z.unknown().optional(),
    alerts: RebalancerAlertsOptionsSchema.optional(),
  })
  .strict()
  .refine((o) => o.strategyCap === undefined || o.coordination !== undefined, {
    message: "strategyCap needs a coordination (inProcessCoordination() for one process)",
    path: ["strategyCap"],
  })
  .refine((o) => o.coordination === undefined || o.journal === undefined, {
    message: "give coordination or journal, not both: the coordination's journal is used",
    path: ["journal"],
  })
  .refine(
    (o) =>
      o.scope !== "sleeve" ||
      (o.broker.capabilities.orderHistory === true && typeof o.broker.listOrders === "function"),
    { message: "scope sleeve needs a port with an order history (listOrders)", path: ["scope"] },
  );

const RunOptionsSchema = z
  .object({
    dryRun: z.boolean().optional(),
    runId: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._:-]+$/, { message: "expected letters, digits and . _ : -" })
      .optional(),
    signal: zAbortSignal.optional(),
    execution: z.unknown().optional(),
  })
  .strict();

const SignalOnlySchema = z.object({ signal: zAbortSignal.optional() }).strict();

const PlanOptionsSchema = SignalOnlySchema;

/** A run id as the journal holds it. */
const zRunId = z
  .string()
  .min(1)
  .max(128)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .regex(/^[^\u0000-\u001f\u007f]+$/, { message: "expected no control characters" });

/** Options of {@link SmartRebalancer.rebalance}. */
export interface RebalanceRunOptions {
  /** Plan and report without sending anything. @defaultValue false */
  dryRun?: boolean | undefined;
  /**
   * Names the run; client order ids derive from (runId, symbol, side, generation), so a new
   * rebalancer given the same runId after a crash adopts the orders already placed.
   * @defaultValue a fresh id from the clock and random bytes, unique even for rebalancers that
   *   start runs in the same ms; with a `seed`, from the clock, the seed and the account's run
   *   number in this process (deterministic)
   */
  runId?: string | undefined;
  /** Aborts the run (it rejects with `OrdersafeError("aborted")`, its details holding the partial report). */
  signal?: AbortSignal | undefined;
  /** How this run's legs are sent, in place of the rebalancer's `execution` option. */
  execution?: ExecutionChoiceInput | undefined;
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
export class SmartRebalancer extends IsolatedEmitter<RebalancerEvents> {
  private readonly port: BrokerPort;
  private readonly account: AccountState;
  private readonly settings: RebalancerSettings;
  private runs = 0;
  /** Whether the caller gave a seed: default run ids are then deterministic. */
  private readonly seeded: boolean;
  /** The alert rules of the `alerts` option (`flush()` waits for the deliveries); undefined without it. */
  readonly alerts: AlertMonitor | undefined;

  /**
   * @param options - broker, clock, logger, seed, concurrency, correction mode, planner and
   *   tracker options (see {@link SmartRebalancerOptions})
   * @throws ValidationError (`validation`) for an unknown or out-of-range option
   */
  constructor(options: SmartRebalancerOptions) {
    super();
    const o = parseInput(OptionsSchema, options, "options");
    // Validate the planner options now, so a typo fails at construction, not mid-run.
    const planner = o.planner ?? {};
    const parsedPlanner = parseInput(
      RebalanceOptionsSchema.omit({ sides: true }).strict(),
      planner,
      "options.planner",
    );
    this.port = checkBroker(o.broker);
    this.account = accountStateOf(o.broker);
    this.seeded = o.seed !== undefined;
    const d = SMART_REBALANCER_DEFAULTS;
    this.settings = {
      clock: o.clock ?? systemClock,
      logger: isolateLogger(o.logger),
      seed: o.seed ?? d.seed,
      concurrency: o.concurrency ?? d.concurrency,
      correctionMode: o.correctionMode ?? d.correctionMode,
      plannerOptions: planner,
      plannerKeep: parsedPlanner.keep,
      tracker: { ...o.tracker, cancelOnTimeout: o.tracker?.cancelOnTimeout ?? d.tracker.cancelOnTimeout },
      finalTimeoutMs: o.finalTimeoutMs ?? d.finalTimeoutMs,
      streamWaitMs: o.streamWaitMs ?? d.streamWaitMs,
      polling: o.polling ?? d.polling,
      maxRetries: o.maxRetries ?? d.maxRetries,
      failureBudget: o.failureBudget ?? d.failureBudget,
      readAttempts: o.readAttempts ?? d.readAttempts,
      queueWhenClosed: o.queueWhenClosed ?? d.queueWhenClosed,
      secondBuyPass: o.secondBuyPass ?? d.secondBuyPass,
      driftToleranceNotional: o.driftToleranceNotional ?? d.driftToleranceNotional,
      approve: o.approve,
      correctionLimits: o.correctionLimits,
      settle: {
        settleMs: o.settleMs ?? d.settleMs,
        settleTimeoutMs: o.settleTimeoutMs ?? d.settleTimeoutMs,
        settlePollMs: o.settlePollMs ?? d.settlePollMs,
      },
      resumeLookbackMs: o.resumeLookbackMs ?? d.resumeLookbackMs,
      recentOrdersMs: o.recentOrdersMs ?? d.recentOrdersMs,
      assetRulesTtlMs: o.assetRulesTtlMs ?? d.assetRulesTtlMs,
      clockTtlMs: o.clockTtlMs ?? d.clockTtlMs,
      journal: o.journal,
      account: o.account,
      journalLookupMs: o.journalLookupMs ?? d.journalLookupMs,
      neverPlacedAfterMs: o.neverPlacedAfterMs ?? d.neverPlacedAfterMs,
      strategyCap: o.strategyCap,
      lateFillWindowMs: o.lateFillWindowMs ?? d.lateFillWindowMs,
      coordination: o.coordination,
      strategyId: o.strategyId ?? d.strategyId,
      cancelConflicts: o.cancelConflicts ?? d.cancelConflicts,
      scope: o.scope ?? d.scope,
      leaseTtlMs: o.leaseTtlMs ?? d.leaseTtlMs,
      leaseWaitMs: o.leaseWaitMs ?? d.leaseWaitMs,
      execution:
        o.execution === undefined ? undefined : parseExecutionChoice(o.execution, "options.execution"),
    };
    this.setListenerLogger(this.settings.logger);
    watchLedgerCash(this, this.settings.clock);
    this.alerts =
      o.alerts === undefined
        ? undefined
        : watchRebalancerAlerts(this, {
            ...o.alerts,
            clock: this.settings.clock,
            logger: this.settings.logger,
          });
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
    const { signal } = parseInput(PlanOptionsSchema, options, "options");
    const { clock, readAttempts, plannerOptions, settle } = this.settings;
    const { record } = this.account;
    const broker = cachedReadsPort(observedPort(this.port, record, clock), {
      assets: this.account.assets,
      marketClock: this.account.marketClock,
      clock,
      assetRulesTtlMs: this.settings.assetRulesTtlMs,
      clockTtlMs: this.settings.clockTtlMs,
    });
    const state = await readFreshState(
      {
        broker,
        clock,
        attempts: readAttempts,
        signal,
        record,
        settle,
        recentOrdersMs: this.settings.recentOrdersMs,
      },
      t,
    );
    return planFromState(state, {
      targets: t,
      capabilities: this.port.capabilities,
      options: plannerOptions,
      sides: "both",
    });
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

  /** One run: the flow of phases in a {@link RebalanceRun}, then its report. */
  private async run(
    targetsInput: RebalanceTargetsInput,
    optionsInput: RebalanceRunOptions,
    extra: { untargeted?: "keep"; belief?: HeldBelief },
  ): Promise<RebalanceReport> {
    const targets = parseInput(RebalanceTargetsSchema, targetsInput, "targets");
    const opts = parseInput(RunOptionsSchema, optionsInput, "options");
    // Checked now: a bad policy fails before the run queues, with nothing sent.
    if (opts.execution !== undefined) parseExecutionChoice(opts.execution, "options.execution");
    this.runs += 1;
    const runNumber = this.runs;
    // One run at a time on an account within the process: a second waits for the first; with a
    // coordination, one at a time across processes too (the lease).
    return this.account.runs.run(() =>
      withLease(this.settings, opts.signal, (leaseToken) =>
        this.runAlone(targets, opts, extra, runNumber, leaseToken),
      ),
    );
  }

  /**
   * The account's unfinished runs, as the journal holds them: runs that started and did not
   * finish (a process killed mid-run, an aborted run, a run with an order still unresolved),
   * each with its targets and every order it sent with the last state the journal knows. Reads
   * only the journal (no broker call); waits for a run in progress on the account in this
   * process to end first.
   *
   * @param options - `signal`
   * @returns the unfinished runs, in the order they started (empty when there are none)
   * @throws OrdersafeError (`journal_corrupt`) / (`journal_locked`) / (`journal_io`) from the
   *   journal; the abort reason
   * @example
   * ```ts
   * for (const run of await rebalancer.unfinishedRuns()) {
   *   console.log(run.runId, run.orders.map((o) => `${o.clientOrderId}: ${o.state}`));
   * }
   * ```
   */
  async unfinishedRuns(options: { signal?: AbortSignal } = {}): Promise<UnfinishedRun[]> {
    const { signal } = parseInput(SignalOnlySchema, options, "options");
    return this.account.runs.run(async () => {
      const { runs, warnings } = await this.journal.openRuns(this.accountKey, { signal });
      for (const w of warnings)
        this.settings.logger.warn({ warning: w }, `[ordersafe] journal: ${w.message}`);
      return runs.map(unfinishedRunOf);
    });
  }

  /**
   * Finishes an unfinished run (see {@link unfinishedRuns}) under its own id: every order it
   * sent is looked up (by id, client order id, or the order history) until found or
   * `journalLookupMs` passes, and followed to its final state, or reported `unresolved` with
   * nothing more traded on its symbol; then the run plans afresh, on settled reads, toward the
   * targets it was started with, and trades what is still missing. The other unfinished runs
   * of the account are taken over as by any rebalance (`superseded`).
   *
   * @param runId - the unfinished run
   * @param options - `signal`
   * @returns its report: `takenOver` names it (`how: "resumed"`), its orders are `adopted`
   * @throws ValidationError (`validation`) for a malformed runId; OrdersafeError (`not_found`)
   *   when the account has no unfinished run with that id (never started, already finished);
   *   the journal's errors; OrdersafeError (`aborted`) when the signal aborts
   * @example
   * ```ts
   * const [crashed] = await rebalancer.unfinishedRuns();
   * if (crashed) {
   *   const report = await rebalancer.resume(crashed.runId);
   *   console.log(report.takenOver, report.metrics.ordersAdopted);
   * }
   * ```
   */
  async resume(runId: string, options: { signal?: AbortSignal } = {}): Promise<RebalanceReport> {
    const id = parseInput(zRunId, runId, "runId");
    const { signal } = parseInput(SignalOnlySchema, options, "options");
    this.runs += 1;
    const runNumber = this.runs;
    return this.account.runs.run(() =>
      withLease(this.settings, signal, async (leaseToken) => {
        const { targets, untargeted } = await this.unfinished(id, signal);
        return this.runAlone(
          targets,
          { runId: id, ...(signal ? { signal } : {}) },
          untargeted ? { untargeted } : {},
          runNumber,
          leaseToken,
        );
      }),
    );
  }

  /**
   * Gives up an unfinished run (see {@link unfinishedRuns}) without trading anything more:
   * every order it sent is looked up until found or `journalLookupMs` passes; each one still
   * open is cancelled, and each is followed to its final state (a fill that beats the cancel
   * is kept and reported). The run is then marked `abandoned` in the journal. An order never
   * found may be live: it is reported `unresolved`, and the run stays unfinished (`finished:
   * false`) so that it is never forgotten: the next run on the account, or another
   * `abandon`, looks for it again. No position is read, nothing is planned or bought, and
   * the account's other unfinished runs are left as they are.
   *
   * @param runId - the unfinished run
   * @param options - `signal`
   * @returns what became of each of its orders, and whether the run is now finished
   * @throws ValidationError (`validation`) for a malformed runId; OrdersafeError (`not_found`)
   *   when the account has no unfinished run with that id; the journal's errors;
   *   OrdersafeError (`aborted`) when the signal aborts (the run stays unfinished)
   * @example
   * ```ts
   * const result = await rebalancer.abandon("2026-11-25");
   * if (!result.finished) console.error("orders still unknown", result.orders.filter((o) => o.state === "unresolved"));
   * ```
   */
  async abandon(runId: string, options: { signal?: AbortSignal } = {}): Promise<AbandonReport> {
    const id = parseInput(zRunId, runId, "runId");
    const { signal } = parseInput(SignalOnlySchema, options, "options");
    this.runs += 1;
    const runNumber = this.runs;
    return this.account.runs.run(() =>
      withLease(this.settings, signal, async (leaseToken) => {
        const { targets } = await this.unfinished(id, signal);
        const run = this.newRun(
          targets,
          { runId: id, ...(signal ? { signal } : {}) },
          { mode: "abandon" },
          runNumber,
          leaseToken,
        );
        return abandonReportOf(await this.finishRun(run, abandonFlow));
      }),
    );
  }

  /** The journal's unfinished run of that id, with the targets and scope it was started with. */
  private async unfinished(
    runId: string,
    signal: AbortSignal | undefined,
  ): Promise<{ targets: RebalanceTargets; untargeted: "keep" | undefined }> {
    const { runs } = await this.journal.openRuns(this.accountKey, { signal });
    const run = runs.find((r) => r.runId === runId);
    if (run === undefined) {
      throw new OrdersafeError(
        "not_found",
        `[ordersafe] no unfinished run ${runId} on account ${this.accountKey}`,
        {
          details: { runId, account: this.accountKey },
        },
      );
    }
    return {
      targets: parseInput(RebalanceTargetsSchema, run.start.targets, "journal.targets"),
      untargeted: run.start.options.untargeted === "keep" ? "keep" : undefined,
    };
  }

  /** The journal runs are written to (the account's process journal by default). */
  private get journal(): JournalStore {
    return this.settings.journal ?? this.account.journal;
  }

  /** The account's name in the journal. */
  private get accountKey(): string {
    return this.settings.account ?? this.port.id;
  }

  private runAlone(
    targets: RebalanceTargets,
    opts: z.output<typeof RunOptionsSchema>,
    extra: { untargeted?: "keep"; belief?: HeldBelief },
    runNumber: number,
    leaseToken: string | undefined,
  ): Promise<RebalanceReport> {
    return this.finishRun(this.newRun(targets, opts, extra, runNumber, leaseToken), rebalanceFlow);
  }

  private newRun(
    targets: RebalanceTargets,
    opts: z.output<typeof RunOptionsSchema>,
    extra: { untargeted?: "keep"; belief?: HeldBelief; mode?: "abandon" },
    runNumber: number,
    leaseToken: string | undefined,
  ): RebalanceRun {
    // Numbered per account (not per rebalancer), once the queue lets the run start.
    const accountRun = this.account.nextRunNumber();
    const runIdEntropy = this.seeded ? `${this.settings.seed}:${accountRun}` : randomUUID();
    return new RebalanceRun({
      leaseToken,
      port: this.port,
      account: this.account,
      settings: this.settings,
      events: this,
      targets,
      runId: opts.runId,
      runNumber,
      runIdEntropy,
      dryRun: opts.dryRun ?? false,
      signal: opts.signal,
      execution:
        opts.execution === undefined
          ? this.settings.execution
          : parseExecutionChoice(opts.execution, "options.execution"),
      untargeted: extra.untargeted,
      belief: extra.belief,
      mode: extra.mode,
    });
  }

  /** Runs a flow over a run, then builds its report (which also closes it in the journal). */
  private async finishRun(
    run: RebalanceRun,
    flow: (run: RebalanceRun) => Promise<RunEnding>,
  ): Promise<RebalanceReport> {
    // `finish` is returned, not awaited: its rejection (a throwing `done` listener) reaches the
    // caller rather than being taken for a failure of the run, and the cleanup below runs as
    // soon as the report's own reads (after a halt) have started.
    let report: RebalanceReport;
    try {
      report = await run.finish(await flow(run));
    } catch (e) {
      try {
        // An abort rethrows here with the partial report: its run stays open in the journal.
        report = await run.stop(e);
      } finally {
        run.close();
      }
      return report;
    }
    run.close();
    return report;
  }
}
