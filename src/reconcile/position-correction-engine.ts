import { z } from "zod";
import type { OrderSide } from "../broker/broker-port.js";
import { type Clock, systemClock } from "../core/clock.js";
import { Decimal, type DecimalLike, minDecimal } from "../core/decimal.js";
import { OrdersafeError, ValidationError } from "../core/errors.js";
import { IsolatedEmitter, isolateLogger } from "../core/isolation.js";
import type { Logger } from "../core/logger.js";
import { parseInput, zClock, zDecimal, zLogger, zPositiveDecimal, zSymbol } from "../core/validation.js";
import {
  DRIFT_CLASSES,
  type DriftClass,
  driftToJSON,
  type PositionDrift,
  type PositionDriftJSON,
} from "./detect-position-drift.js";
import { PositionBook } from "./position-book.js";
import type { DriftScan, PositionReconciliationEngine } from "./position-reconciliation-engine.js";

/** Every correction mode. */
export const CORRECTION_MODES = ["report", "approve", "auto"] as const;

/** How the correction engine acts: `report` never acts, `approve` acts on a yes, `auto` acts within limits. */
export type CorrectionMode = (typeof CORRECTION_MODES)[number];

const POLICY_VALUES = ["ignore", "wait", "adopt", "correct", "alert"] as const;

/**
 * What a drift class leads to: `ignore` (nothing), `wait` (in flight: the next reconciliation
 * sees it settle), `adopt` (take the broker's quantity into the book), `correct` (adopt, then
 * place an order back to the book's former quantity), `alert` (tell a human, change nothing).
 */
export type CorrectionPolicyAction = (typeof POLICY_VALUES)[number];

/** The default policy: adopt what the broker reports, correct only the unexplained. */
export const DEFAULT_CORRECTION_POLICY: Readonly<Record<DriftClass, CorrectionPolicyAction>> = {
  in_flight: "wait",
  dust: "ignore",
  missed_fill: "adopt",
  unknown: "adopt",
  phantom: "adopt",
  unexplained: "correct",
};

/** An order the correction engine asks the execution layer to place. */
export interface CorrectiveOrderIntent {
  /** The action it belongs to (use it to derive a client order id). */
  actionId: string;
  /** The symbol. */
  symbol: string;
  /** Buy or sell. */
  side: OrderSide;
  /**
   * Shares: the exact difference (capped so a long is never flipped short, nor a short long).
   * The execution layer rounds it to the asset's increment.
   */
  qty: Decimal;
  /** The quantity the position should have after the order (the book's former figure). */
  targetQty: Decimal;
  /** Why. */
  reason: string;
}

/** The state of a correction action. */
export type CorrectionStatus =
  | "proposed"
  | "awaiting_approval"
  | "approved"
  | "rejected"
  | "applied"
  | "failed"
  | "alerted";

/** A correction the engine proposes for one drift. */
export interface CorrectionAction {
  /** A unique id within this engine (`"c1"`, `"c2"`, …). */
  id: string;
  /** `adopt`: the book takes the broker's quantity. `order`: adopt, then place `order`. */
  kind: "adopt" | "order";
  /** The symbol. */
  symbol: string;
  /** The drift it answers. */
  drift: PositionDrift;
  /** The book's quantity the action expects to find (the drift's `expectedQty`). */
  fromQty: Decimal;
  /** The quantity the book takes (the broker's). */
  toQty: Decimal;
  /** For `order`: the corrective order. */
  order?: CorrectiveOrderIntent;
  /** `|notionalDiff|`, when a price was known: what the limits compare. */
  notional?: Decimal;
  /** Where the action is. */
  status: CorrectionStatus;
  /** Why it was rejected, failed or alerted. */
  reason?: string;
  /** When it was proposed (ms on the engine's clock). */
  proposedAt: number;
}

/** Why an alert was raised. */
export type CorrectionAlertReason = "over_limit" | "policy" | "no_order_function" | "failed" | "stale";

/** An alert: something a human should look at. */
export interface CorrectionAlert {
  /** Why. */
  reason: CorrectionAlertReason;
  /** The drift. */
  drift: PositionDrift;
  /** The action concerned, when there is one. */
  action?: CorrectionAction;
  /** A short explanation. */
  message: string;
  /** When (ms on the engine's clock). */
  at: number;
}

/** The outcome of one correction run. */
export interface CorrectionRun {
  /** Every action proposed in this run, with its final status. */
  actions: CorrectionAction[];
  /** Alerts raised in this run. */
  alerts: CorrectionAlert[];
  /** Drifts handed in. */
  drifts: number;
}

/**
 * The defaults of {@link PositionCorrectionEngine}'s options (see
 * {@link PositionCorrectionEngineOptions}); `clock` defaults to {@link systemClock} and
 * `logger` to a silent one.
 *
 * @example
 * ```ts
 * POSITION_CORRECTION_DEFAULTS.limits.maxAutoNotional.toString(); // "1000"
 * ```
 */
export const POSITION_CORRECTION_DEFAULTS = Object.freeze({
  limits: Object.freeze({ maxAutoNotional: new Decimal(1000), maxActionsPerRun: 5 }),
  overLimit: "approve",
  policy: DEFAULT_CORRECTION_POLICY,
} satisfies Required<Pick<PositionCorrectionEngineOptions, "limits" | "overLimit" | "policy">>);

/** Options of {@link PositionCorrectionEngine}. Every default is in {@link POSITION_CORRECTION_DEFAULTS}. */
export interface PositionCorrectionEngineOptions {
  /** `report`, `approve` or `auto`. */
  mode: CorrectionMode;
  /** The reconciliation engine: its book is corrected, and `run()` scans through it. */
  reconciler?: PositionReconciliationEngine;
  /** The book to correct. @defaultValue the reconciler's book (one of the two is required) */
  book?: PositionBook;
  /**
   * Places a corrective order (the execution layer). Without it, `correct` actions become
   * alerts. Its fills must reach the book like any order's (e.g. `reconcileAfterOrder`).
   */
  placeOrder?: (intent: CorrectiveOrderIntent) => Promise<unknown>;
  /**
   * Decides an action in `approve` mode (and over-limit actions in `auto` mode): only `true`
   * lets it happen; a throw is a no. Without it, actions wait in `pending()` for
   * `resolvePending()`.
   */
  approve?: (action: CorrectionAction) => Promise<boolean> | boolean;
  /** Limits in `auto` mode. */
  limits?: {
    /** The largest `|notional|` an action may have to run without approval. @defaultValue `POSITION_CORRECTION_DEFAULTS.limits.maxAutoNotional` */
    maxAutoNotional?: DecimalLike;
    /** Automatic actions per run; later ones need approval. @defaultValue `POSITION_CORRECTION_DEFAULTS.limits.maxActionsPerRun` */
    maxActionsPerRun?: number;
  };
  /** Where an over-limit `auto` action goes: to approval, or only to an alert. @defaultValue `POSITION_CORRECTION_DEFAULTS.overLimit` */
  overLimit?: "approve" | "alert";
  /** The action per drift class. @defaultValue `POSITION_CORRECTION_DEFAULTS.policy` ({@link DEFAULT_CORRECTION_POLICY}) */
  policy?: Partial<Record<DriftClass, CorrectionPolicyAction>>;
  /** The clock for timestamps. @defaultValue `systemClock` */
  clock?: Clock;
  /** Where to log. @defaultValue `silentLogger` */
  logger?: Logger;
}

/** Events of {@link PositionCorrectionEngine}. */
export interface PositionCorrectionEvents {
  /** A drift above tolerance was handed in. */
  drift: (drift: PositionDrift) => void;
  /** An action was proposed. */
  "correction:proposed": (action: CorrectionAction) => void;
  /** An action was approved (`auto`: within limits; `callback`; `manual`: `resolvePending`). */
  "correction:approved": (action: CorrectionAction, by: "auto" | "callback" | "manual") => void;
  /** An action was refused. */
  "correction:rejected": (action: CorrectionAction) => void;
  /** An action took effect. */
  "correction:applied": (action: CorrectionAction, result: unknown) => void;
  /** An action failed to take effect. */
  "correction:failed": (action: CorrectionAction, error: unknown) => void;
  /** Something for a human. */
  "correction:alert": (alert: CorrectionAlert) => void;
}

/** A {@link CorrectionAction} as JSON. */
export interface CorrectionActionJSON {
  id: string;
  kind: "adopt" | "order";
  symbol: string;
  driftClass: DriftClass;
  fromQty: string;
  toQty: string;
  order?: { side: OrderSide; qty: string; targetQty: string };
  notional?: string;
  status: CorrectionStatus;
  reason?: string;
  proposedAt: string;
}

/** The daily report of {@link PositionCorrectionEngine.createReconciliationReport}: plain JSON. */
export interface ReconciliationReport {
  /** When it was made (ISO). */
  generatedAt: string;
  /** The start of the period it covers (ISO). */
  periodStart: string;
  /** The engine's mode. */
  mode: CorrectionMode;
  /** The limits in force. */
  limits: { maxAutoNotional: string; maxActionsPerRun: number };
  /** Scans handed in (`handleDrifts` with a `DriftScan`, or `run()`). */
  scans: number;
  /** Positions checked by those scans. */
  positionsChecked: number;
  /** Drifts handed in, by class. */
  driftsByClass: Record<DriftClass, number>;
  /** Drifts above tolerance. */
  driftsAboveTolerance: number;
  /** The drifts above tolerance (the last 200). */
  drifts: PositionDriftJSON[];
  /** Corrections. */
  corrections: {
    /** Applied. */
    taken: CorrectionActionJSON[];
    /** Waiting for a yes (still pending now). */
    awaitingApproval: CorrectionActionJSON[];
    /** Proposed only (report mode) or alerted instead of acted on. */
    notTaken: CorrectionActionJSON[];
    /** Refused. */
    rejected: CorrectionActionJSON[];
    /** Failed. */
    failed: CorrectionActionJSON[];
  };
  /** Alerts raised. */
  alerts: { reason: CorrectionAlertReason; symbol: string; message: string; at: string }[];
}

const OptionsSchema = z
  .object({
    mode: z.enum(CORRECTION_MODES),
    reconciler: z
      .custom<PositionReconciliationEngine>(
        (v) => typeof v === "object" && v !== null && Reflect.get(v, "book") instanceof PositionBook,
        { message: "expected a PositionReconciliationEngine" },
      )
      .optional(),
    book: z.instanceof(PositionBook).optional(),
    placeOrder: z
      .custom<(intent: CorrectiveOrderIntent) => Promise<unknown>>((v) => typeof v === "function")
      .optional(),
    approve: z
      .custom<(action: CorrectionAction) => Promise<boolean> | boolean>((v) => typeof v === "function")
      .optional(),
    limits: z
      .object({
        maxAutoNotional: zPositiveDecimal.optional(),
        maxActionsPerRun: z.number().int().min(0).max(10_000).optional(),
      })
      .strict()
      .optional(),
    overLimit: z.enum(["approve", "alert"]).optional(),
    policy: z.partialRecord(z.enum(DRIFT_CLASSES), z.enum(POLICY_VALUES)).optional(),
    clock: zClock.optional(),
    logger: zLogger.optional(),
  })
  .strict()
  .refine((o) => o.book !== undefined || o.reconciler !== undefined, {
    message: "expected a book or a reconciler",
    path: ["book"],
  });

const MAX_REPORTED_DRIFTS = 200;

const DriftSchema = z.looseObject({
  symbol: zSymbol,
  expectedQty: zDecimal,
  actualQty: zDecimal,
  qtyDiff: zDecimal,
  notionalDiff: zDecimal.optional(),
  class: z.enum(DRIFT_CLASSES),
  withinTolerance: z.boolean(),
  orders: z.array(
    z.looseObject({ orderId: z.string().min(1), side: z.enum(["buy", "sell"]), filledQty: zDecimal }),
  ),
});
const DriftInputSchema = z.union([
  z.array(DriftSchema),
  z.looseObject({ positionsChecked: z.number().int().min(0), drifts: z.array(DriftSchema) }),
]);

/**
 * Acts on drifts under a mode: `report` (events only: never trades, never touches the book),
 * `approve` (an `approve(action)` callback, or a manual `resolvePending`, must say yes to each
 * action), `auto` (acts within `maxAutoNotional` per action and `maxActionsPerRun`; beyond them
 * the action goes to approval or only to an alert).
 *
 * @remarks
 * Each drift class maps to a policy action ({@link DEFAULT_CORRECTION_POLICY}). An `adopt`
 * sets the book to the broker's quantity and marks the drift's orders' reported fills applied
 * (so a late event for a missed fill is not counted twice). A `correct` adopts first, then hands
 * a {@link CorrectiveOrderIntent} back to the book's former quantity to `placeOrder`: the book
 * then follows the corrective order's fills like any other order's. An action is stale, and is
 * not applied, when the book's quantity changed since the drift was measured. This module never
 * reaches the broker itself: orders go only through the injected `placeOrder`.
 *
 * @example
 * ```ts
 * const corrections = new PositionCorrectionEngine({
 *   mode: "auto",
 *   reconciler,
 *   placeOrder: (intent) => coordinator.execute({ symbol: intent.symbol, side: intent.side, qty: intent.qty }),
 *   limits: { maxAutoNotional: 500, maxActionsPerRun: 3 },
 * });
 * corrections.on("correction:alert", (a) => pager.send(a.message));
 * await corrections.run();
 * ```
 */
export class PositionCorrectionEngine extends IsolatedEmitter<PositionCorrectionEvents> {
  /** The mode. */
  readonly mode: CorrectionMode;
  private readonly book: PositionBook;
  private readonly reconciler: PositionReconciliationEngine | undefined;
  private readonly placeOrder: ((intent: CorrectiveOrderIntent) => Promise<unknown>) | undefined;
  private readonly approveFn: ((action: CorrectionAction) => Promise<boolean> | boolean) | undefined;
  private readonly maxAutoNotional: Decimal;
  private readonly maxActionsPerRun: number;
  private readonly overLimit: "approve" | "alert";
  private readonly policy: Record<DriftClass, CorrectionPolicyAction>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private seq = 0;
  private readonly waiting = new Map<string, CorrectionAction>();
  private periodStart: number;
  private scans = 0;
  private positionsChecked = 0;
  private driftCounts = emptyCounts();
  private aboveTolerance: PositionDrift[] = [];
  private aboveToleranceCount = 0;
  private actionsLog: CorrectionAction[] = [];
  private alertsLog: CorrectionAlert[] = [];

  /**
   * @param options - mode, book or reconciler, placeOrder, approve, limits, policy, clock
   * @throws ValidationError (`validation`) for a bad option, or neither a book nor a reconciler
   */
  constructor(options: PositionCorrectionEngineOptions) {
    super();
    const o = parseInput(OptionsSchema, options, "options");
    this.mode = o.mode;
    this.reconciler = o.reconciler;
    this.book = bookOf(o);
    this.placeOrder = o.placeOrder;
    this.approveFn = o.approve;
    const d = POSITION_CORRECTION_DEFAULTS;
    this.maxAutoNotional = o.limits?.maxAutoNotional ?? d.limits.maxAutoNotional;
    this.maxActionsPerRun = o.limits?.maxActionsPerRun ?? d.limits.maxActionsPerRun;
    this.overLimit = o.overLimit ?? d.overLimit;
    this.policy = { ...d.policy, ...(o.policy ?? {}) };
    this.clock = o.clock ?? systemClock;
    this.logger = isolateLogger(o.logger);
    this.setListenerLogger(this.logger);
    this.periodStart = this.clock.now();
  }

  /**
   * Actions waiting for a yes.
   *
   * @returns the pending actions, oldest first
   */
  pending(): CorrectionAction[] {
    return [...this.waiting.values()];
  }

  /**
   * Scans through the reconciler and handles every drift.
   *
   * @returns the run's actions and alerts
   * @throws OrdersafeError (`invalid_state`) without a reconciler; BrokerError from the scan
   * @example
   * ```ts
   * const run = await corrections.run();
   * ```
   */
  async run(): Promise<CorrectionRun> {
    return this.handleDrifts(await this.requireReconciler().detectDrift());
  }

  /**
   * Handles only the phantom positions (the book holds what the broker does not): by default
   * the book adopts the broker's zero, under the mode and limits.
   *
   * @param drifts - drifts or a scan; when omitted, a fresh scan through the reconciler
   * @returns the run's actions and alerts
   * @throws OrdersafeError (`invalid_state`) without drifts and without a reconciler;
   *   ValidationError (`validation`) for malformed drifts
   * @example
   * ```ts
   * await corrections.handlePhantomPositions();
   * ```
   */
  async handlePhantomPositions(drifts?: DriftScan | readonly PositionDrift[]): Promise<CorrectionRun> {
    if (drifts !== undefined) parseInput(DriftInputSchema, drifts, "drifts");
    const input = drifts ?? (await this.requireReconciler().detectDrift());
    const list = isScan(input) ? input.drifts : input;
    return this.handleDrifts(list.filter((d) => d.class === "phantom"));
  }

  /**
   * Handles drifts (from `detectDrift()`, `reconcileAfterOrder()` or `detectPositionDrift()`)
   * under the engine's mode. Runs one at a time in order; `maxActionsPerRun` counts within a call.
   *
   * @param input - a scan (its positions checked are counted for the report) or a list of drifts
   * @returns the actions proposed and the alerts raised
   * @throws ValidationError (`validation`) for a malformed drift (nothing is done)
   * @remarks `placeOrder` failures are results (`failed` actions and alerts), never thrown.
   * @example
   * ```ts
   * const scan = await reconciler.detectDrift();
   * const run = await corrections.handleDrifts(scan);
   * ```
   */
  async handleDrifts(input: DriftScan | readonly PositionDrift[]): Promise<CorrectionRun> {
    parseInput(DriftInputSchema, input, "drifts");
    const drifts = isScan(input) ? input.drifts : input;
    if (isScan(input)) {
      this.scans++;
      this.positionsChecked += input.positionsChecked;
    }
    const run: CorrectionRun = { actions: [], alerts: [], drifts: drifts.length };
    const auto = { actions: 0 };
    for (const drift of drifts) await this.handleDrift(drift, run, auto);
    return run;
  }

  /**
   * Decides a pending action by hand.
   *
   * @param actionId - the action's id
   * @param approved - true to apply it, false to reject it
   * @returns the action after the decision
   * @throws OrdersafeError (`invalid_state`) when no such action is pending; ValidationError
   *   (`validation`) for a bad argument
   * @example
   * ```ts
   * for (const a of corrections.pending()) await corrections.resolvePending(a.id, true);
   * ```
   */
  async resolvePending(actionId: string, approved: boolean): Promise<CorrectionAction> {
    parseInput(
      z.object({ actionId: z.string().min(1), approved: z.boolean() }),
      { actionId, approved },
      "resolvePending",
    );
    const action = this.waiting.get(actionId);
    if (action === undefined) {
      throw new OrdersafeError("invalid_state", `no pending correction ${actionId}`, {
        details: { actionId },
      });
    }
    this.waiting.delete(actionId);
    const run: CorrectionRun = { actions: [action], alerts: [], drifts: 0 };
    if (approved) {
      action.status = "approved";
      this.emit("correction:approved", action, "manual");
      await this.apply(action, run);
    } else {
      this.reject(action, "rejected by hand");
    }
    return action;
  }

  /**
   * The reconciliation report since the engine started (or since the last report made with
   * `reset: true`): JSON-serializable, decimals as strings.
   *
   * @param options - `reset: true` starts a new period after this report
   * @returns the report
   * @example
   * ```ts
   * const daily = corrections.createReconciliationReport({ reset: true });
   * await fs.writeFile(`recon-${daily.generatedAt}.json`, JSON.stringify(daily));
   * ```
   */
  createReconciliationReport(options: { reset?: boolean } = {}): ReconciliationReport {
    const reset = parseInput(z.object({ reset: z.boolean().optional() }).strict(), options, "options").reset;
    const now = this.clock.now();
    const pick = (s: CorrectionStatus[]) =>
      this.actionsLog.filter((a) => s.includes(a.status)).map(actionToJSON);
    const report: ReconciliationReport = {
      generatedAt: new Date(now).toISOString(),
      periodStart: new Date(this.periodStart).toISOString(),
      mode: this.mode,
      limits: { maxAutoNotional: this.maxAutoNotional.toFixed(), maxActionsPerRun: this.maxActionsPerRun },
      scans: this.scans,
      positionsChecked: this.positionsChecked,
      driftsByClass: { ...this.driftCounts },
      driftsAboveTolerance: this.aboveToleranceCount,
      drifts: this.aboveTolerance.map(driftToJSON),
      corrections: {
        taken: pick(["applied"]),
        awaitingApproval: this.pending().map(actionToJSON),
        notTaken: pick(["proposed", "alerted"]),
        rejected: pick(["rejected"]),
        failed: pick(["failed"]),
      },
      alerts: this.alertsLog.map((a) => ({
        reason: a.reason,
        symbol: a.drift.symbol,
        message: a.message,
        at: new Date(a.at).toISOString(),
      })),
    };
    if (reset === true) {
      this.periodStart = now;
      this.scans = 0;
      this.positionsChecked = 0;
      this.driftCounts = emptyCounts();
      this.aboveTolerance = [];
      this.aboveToleranceCount = 0;
      // pending actions stay pending (and stay in the next report)
      this.actionsLog = this.actionsLog.filter((a) => this.waiting.has(a.id));
      this.alertsLog = [];
    }
    return report;
  }

  /** One drift: counted, then acted on by its class's policy under the mode. */
  private async handleDrift(
    drift: PositionDrift,
    run: CorrectionRun,
    auto: { actions: number },
  ): Promise<void> {
    this.driftCounts[drift.class]++;
    if (drift.withinTolerance) return;
    this.aboveToleranceCount++;
    this.aboveTolerance.push(drift);
    if (this.aboveTolerance.length > MAX_REPORTED_DRIFTS) this.aboveTolerance.shift();
    this.emit("drift", drift);
    const policy = this.policy[drift.class];
    if (policy === "ignore" || policy === "wait") return;
    if (policy === "alert") {
      this.alert(run, "policy", drift, undefined, `${drift.class} drift on ${drift.symbol}: ${drift.reason}`);
      return;
    }
    if (policy === "correct" && this.placeOrder === undefined) {
      this.alert(run, "no_order_function", drift, undefined, `no placeOrder to correct ${drift.symbol}`);
      return;
    }
    const action = this.propose(drift, policy);
    run.actions.push(action);
    if (action.kind === "order" && action.order === undefined) {
      action.status = "alerted";
      action.reason = "nothing to order (a long would flip short or a short long)";
      this.alert(run, "policy", drift, action, action.reason);
      return;
    }
    if (this.mode === "report") return;
    if (this.mode === "approve") {
      await this.askApproval(action, run);
      return;
    }
    await this.decideAuto(action, run, auto);
  }

  /** `auto` mode: within the limits the action is applied; beyond them, approval or an alert. */
  private async decideAuto(
    action: CorrectionAction,
    run: CorrectionRun,
    auto: { actions: number },
  ): Promise<void> {
    const overNotional = action.notional === undefined || action.notional.gt(this.maxAutoNotional);
    const overCount = auto.actions >= this.maxActionsPerRun;
    if (!overNotional && !overCount) {
      auto.actions++;
      action.status = "approved";
      this.emit("correction:approved", action, "auto");
      await this.apply(action, run);
      return;
    }
    const why = overNotional
      ? action.notional === undefined
        ? "no price: the notional is unknown"
        : `notional ${action.notional.toFixed(2)} above maxAutoNotional ${this.maxAutoNotional.toFixed()}`
      : `maxActionsPerRun ${this.maxActionsPerRun} reached`;
    if (this.overLimit === "alert") {
      action.status = "alerted";
      action.reason = why;
      this.alert(run, "over_limit", action.drift, action, `${action.symbol}: ${why}`);
    } else {
      this.alert(run, "over_limit", action.drift, action, `${action.symbol}: ${why}; approval needed`);
      await this.askApproval(action, run);
    }
  }

  private requireReconciler(): PositionReconciliationEngine {
    if (this.reconciler === undefined) {
      throw new OrdersafeError("invalid_state", "a reconciler is needed to scan; pass drifts instead");
    }
    return this.reconciler;
  }

  private propose(drift: PositionDrift, policy: "adopt" | "correct"): CorrectionAction {
    const action: CorrectionAction = {
      id: `c${++this.seq}`,
      kind: policy === "adopt" ? "adopt" : "order",
      symbol: drift.symbol,
      drift,
      fromQty: drift.expectedQty,
      toQty: drift.actualQty,
      status: this.mode === "report" ? "proposed" : "awaiting_approval",
      proposedAt: this.clock.now(),
    };
    if (drift.notionalDiff !== undefined) action.notional = drift.notionalDiff.abs();
    if (policy === "correct") {
      const order = correctiveOrder(action.id, drift);
      if (order !== undefined) action.order = order;
    }
    this.actionsLog.push(action);
    this.emit("correction:proposed", action);
    return action;
  }

  private async askApproval(action: CorrectionAction, run: CorrectionRun): Promise<void> {
    action.status = "awaiting_approval";
    if (this.approveFn === undefined) {
      this.waiting.set(action.id, action);
      return;
    }
    let yes = false;
    try {
      yes = (await this.approveFn(action)) === true;
    } catch (error) {
      this.logger.warn({ error, action: action.id }, "approve callback threw; taken as a no");
    }
    if (!yes) {
      this.reject(action, "not approved");
      return;
    }
    action.status = "approved";
    this.emit("correction:approved", action, "callback");
    await this.apply(action, run);
  }

  private reject(action: CorrectionAction, reason: string): void {
    action.status = "rejected";
    action.reason = reason;
    this.emit("correction:rejected", action);
  }

  private async apply(action: CorrectionAction, run: CorrectionRun): Promise<void> {
    if (!this.book.position(action.symbol).eq(action.fromQty)) {
      action.status = "failed";
      action.reason = "stale: the book changed since the drift was measured";
      this.emit("correction:failed", action, new OrdersafeError("invalid_state", action.reason));
      this.alert(run, "stale", action.drift, action, `${action.symbol}: ${action.reason}`);
      return;
    }
    this.book.setPosition(action.symbol, action.toQty);
    for (const o of action.drift.orders) {
      this.book.markApplied({
        orderId: o.orderId,
        symbol: action.symbol,
        side: o.side,
        cumulativeQty: o.filledQty,
      });
    }
    // An order action exists only with a placeOrder (handleDrift alerts instead).
    const place = this.placeOrder;
    if (action.kind === "adopt" || action.order === undefined || place === undefined) {
      action.status = "applied";
      this.emit("correction:applied", action, undefined);
      return;
    }
    try {
      const result = await place(action.order);
      action.status = "applied";
      this.emit("correction:applied", action, result);
    } catch (error) {
      action.status = "failed";
      action.reason = error instanceof Error ? error.message : String(error);
      this.emit("correction:failed", action, error);
      this.alert(run, "failed", action.drift, action, `${action.symbol}: corrective order failed`);
    }
  }

  private alert(
    run: CorrectionRun,
    reason: CorrectionAlertReason,
    drift: PositionDrift,
    action: CorrectionAction | undefined,
    message: string,
  ): void {
    const alert: CorrectionAlert = { reason, drift, message, at: this.clock.now() };
    if (action !== undefined) alert.action = action;
    run.alerts.push(alert);
    this.alertsLog.push(alert);
    this.logger.warn({ reason, symbol: drift.symbol }, message);
    this.emit("correction:alert", alert);
  }
}

/** The book to correct: the one given, else the reconciler's (the options schema requires one). */
function bookOf(o: {
  book?: PositionBook | undefined;
  reconciler?: PositionReconciliationEngine | undefined;
}): PositionBook {
  const book = o.book ?? o.reconciler?.book;
  if (book === undefined) {
    throw new ValidationError("options.book: expected a book or a reconciler", {
      issues: [{ path: "options.book", message: "expected a book or a reconciler", value: undefined }],
    });
  }
  return book;
}

function emptyCounts(): Record<DriftClass, number> {
  return { in_flight: 0, missed_fill: 0, phantom: 0, unknown: 0, dust: 0, unexplained: 0 };
}

function isScan(input: DriftScan | readonly PositionDrift[]): input is DriftScan {
  return !Array.isArray(input);
}

/**
 * The order that moves the broker's position back to the book's former figure. A sell stops at
 * zero from a long, a buy stops at zero from a short; a correction never opens or deepens a short.
 */
function correctiveOrder(actionId: string, drift: PositionDrift): CorrectiveOrderIntent | undefined {
  const target = drift.expectedQty;
  const actual = drift.actualQty;
  const diff = target.minus(actual);
  if (diff.isZero()) return undefined;
  const side: OrderSide = diff.gt(0) ? "buy" : "sell";
  let qty = diff.abs();
  if (side === "sell") {
    if (actual.lte(0)) return undefined;
    qty = minDecimal(qty, actual);
  } else if (actual.lt(0)) {
    qty = minDecimal(qty, actual.abs());
  }
  return {
    actionId,
    symbol: drift.symbol,
    side,
    qty,
    targetQty: target,
    reason: `${drift.class}: broker ${actual.toFixed()} vs book ${target.toFixed()}`,
  };
}

function actionToJSON(a: CorrectionAction): CorrectionActionJSON {
  const out: CorrectionActionJSON = {
    id: a.id,
    kind: a.kind,
    symbol: a.symbol,
    driftClass: a.drift.class,
    fromQty: a.fromQty.toFixed(),
    toQty: a.toQty.toFixed(),
    status: a.status,
    proposedAt: new Date(a.proposedAt).toISOString(),
  };
  if (a.order !== undefined) {
    out.order = { side: a.order.side, qty: a.order.qty.toFixed(), targetQty: a.order.targetQty.toFixed() };
  }
  if (a.notional !== undefined) out.notional = a.notional.toFixed();
  if (a.reason !== undefined) out.reason = a.reason;
  return out;
}
