import { z } from "zod";
import { accountStateOf } from "../account/account-registry.js";
import type { ExecutionRecord } from "../account/execution-record.js";
import { observedPort } from "../account/observed-port.js";
import { SETTLE_DEFAULTS, type SettleSettings, settleReads } from "../account/settle.js";
import {
  type BrokerPort,
  isFinalBrokerStatus,
  type OrderSnapshot,
  type OrderUpdate,
  type PositionSnapshot,
} from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { OrderSnapshotSchema, OrderUpdateSchema, zBrokerPort } from "../broker/schemas.js";
import { type Clock, systemClock, throwIfAborted } from "../core/clock.js";
import { type Decimal, type DecimalLike, ZERO } from "../core/decimal.js";
import { OrdersafeError, ValidationError } from "../core/errors.js";
import { IsolatedEmitter, isolateLogger } from "../core/isolation.js";
import type { Logger } from "../core/logger.js";
import { TimerScope } from "../core/timer-scope.js";
import {
  parseInput,
  zClock,
  zLogger,
  zNonNegativeDecimal,
  zPositiveDecimal,
  zSymbol,
} from "../core/validation.js";
import { type DriftTolerance, detectPositionDrift, type PositionDrift } from "./detect-position-drift.js";
import { type BookFillResult, PositionBook } from "./position-book.js";

/** What started a reconciliation. */
export type ReconcileSource = "after_order" | "scan" | "periodic" | "full";

/**
 * The defaults of {@link PositionReconciliationEngine}'s options (see
 * {@link PositionReconciliationEngineOptions}); `book` defaults to a new, empty book, `clock`
 * to {@link systemClock}, `logger` to a silent one, and `tolerance` to
 * {@link detectPositionDrift}'s.
 *
 * @example
 * ```ts
 * new PositionReconciliationEngine({ broker, confirmReads: POSITION_RECONCILIATION_DEFAULTS.confirmReads + 1 });
 * ```
 */
export const POSITION_RECONCILIATION_DEFAULTS = Object.freeze({
  confirmReads: 1,
  confirmDelayMs: 500,
  intervalMs: 60_000,
  rememberFinalOrdersMs: 3_600_000,
  settleMs: SETTLE_DEFAULTS.settleMs,
  settleTimeoutMs: SETTLE_DEFAULTS.settleTimeoutMs,
  settlePollMs: SETTLE_DEFAULTS.settlePollMs,
} satisfies Required<
  Omit<PositionReconciliationEngineOptions, "broker" | "book" | "clock" | "logger" | "tolerance">
>);

/** Options of {@link PositionReconciliationEngine}. Every default is in {@link POSITION_RECONCILIATION_DEFAULTS}. */
export interface PositionReconciliationEngineOptions {
  /** The broker; wrapped with `checkBroker`. */
  broker: BrokerPort;
  /** The book of expected positions. @defaultValue a new, empty `PositionBook` */
  book?: PositionBook;
  /** The clock for durations, confirmation waits and periodic runs. @defaultValue `systemClock` */
  clock?: Clock;
  /** Where to log. @defaultValue `silentLogger` */
  logger?: Logger;
  /** When a drift is dust. @defaultValue `{ notional: 100 }` and each asset's increment */
  tolerance?: DriftTolerance;
  /**
   * Re-reads before a drift above tolerance (and not in flight) is reported: a broker's position
   * endpoint may lag its own fills for a moment. @defaultValue `POSITION_RECONCILIATION_DEFAULTS.confirmReads`
   */
  confirmReads?: number;
  /** The wait before each confirming re-read, in ms. @defaultValue `POSITION_RECONCILIATION_DEFAULTS.confirmDelayMs` */
  confirmDelayMs?: number;
  /** The interval of periodic reconciliation (`start()`), in ms. @defaultValue `POSITION_RECONCILIATION_DEFAULTS.intervalMs` */
  intervalMs?: number;
  /**
   * How long a finished order whose fills are all applied is remembered (for late events and
   * missed-fill evidence), in ms. @defaultValue `POSITION_RECONCILIATION_DEFAULTS.rememberFinalOrdersMs` (one hour)
   */
  rememberFinalOrdersMs?: number;
  /**
   * A position read taken this long after the last fill this process knows on the symbol is
   * trusted even when it differs from what the fills imply (ms); one that matches is trusted at
   * once; one that does neither within `settleTimeoutMs` is reported unsettled, and no drift is
   * measured on it. See `docs/consistency.md`.
   * @defaultValue `POSITION_RECONCILIATION_DEFAULTS.settleMs` (10000)
   */
  settleMs?: number;
  /** @defaultValue `POSITION_RECONCILIATION_DEFAULTS.settleTimeoutMs` (30000) */
  settleTimeoutMs?: number;
  /** The first wait before a read is read again (ms, doubling). @defaultValue `POSITION_RECONCILIATION_DEFAULTS.settlePollMs` (250) */
  settlePollMs?: number;
}

/**
 * What {@link PositionReconciliationEngine.reconcileAfterOrder} takes: a broker order snapshot,
 * or a tracker's final state (`{ snapshot?, orderId?, symbol?, filledQty? }`, other fields
 * ignored). With a snapshot, the order's cumulative fills (the larger of the snapshot's and
 * `filledQty`) are applied to the book; with only a symbol, the symbol is reconciled without
 * applying fills.
 */
export type ReconcileOrderInput =
  | OrderSnapshot
  | {
      snapshot?: OrderSnapshot | undefined;
      orderId?: string | undefined;
      symbol?: string | undefined;
      filledQty?: DecimalLike | undefined;
    };

/** Per-call options. */
export interface ReconcileCallOptions {
  /** Aborts the reconciliation (the abort reason is thrown). */
  signal?: AbortSignal;
}

/** The outcome of {@link PositionReconciliationEngine.reconcileAfterOrder}. */
export interface AfterOrderReconciliation {
  /** The symbol. */
  symbol: string;
  /** The order reconciled, when known. */
  orderId: string | undefined;
  /** What applying the order's cumulative fills to the book did; null when no snapshot was given. */
  bookUpdate: BookFillResult | null;
  /** The book's position after the update. */
  expectedQty: Decimal;
  /** The broker's position, read fresh. */
  actualQty: Decimal;
  /** The difference, when there is one (any class, dust included); null when not settled. */
  drift: PositionDrift | null;
  /**
   * Whether the position read showed every fill this process knows on the symbol (within the
   * settle bound); when false, no drift is measured.
   */
  settled: boolean;
  /** True when the read settled and there is no difference, or it is dust or in flight. */
  reconciled: boolean;
  /** Position reads made (1 + confirming re-reads). */
  reads: number;
  /** REST calls made to the broker. */
  roundTrips: number;
  /** Elapsed time on the engine's clock, in ms. */
  durationMs: number;
  /** When it started. */
  at: Date;
}

/** The outcome of a drift scan over every position. */
export interface DriftScan {
  /** When it started. */
  at: Date;
  /** Symbols compared (held by the book, the broker, or both). */
  positionsChecked: number;
  /** Every difference, sorted by symbol (dust included). */
  drifts: PositionDrift[];
  /**
   * Symbols whose position read never showed the fills this process knows within the settle
   * bound: not compared (no drift is measured from a read that may lag).
   */
  unsettled: string[];
  /** Position reads made (1 + confirming re-reads). */
  reads: number;
  /** REST calls made to the broker. */
  roundTrips: number;
  /** Elapsed time on the engine's clock, in ms. */
  durationMs: number;
}

/** One position changed by a full reconciliation. */
export interface PositionChange {
  /** The symbol. */
  symbol: string;
  /** The book's quantity before. */
  before: Decimal;
  /** The broker's quantity, now in the book. */
  after: Decimal;
  /** `after − before`. */
  delta: Decimal;
}

/** The outcome of {@link PositionReconciliationEngine.emergencyFullReconciliation}. */
export interface FullReconciliation {
  /** When it started. */
  at: Date;
  /** Each position that changed. */
  changes: PositionChange[];
  /** Positions now in the book. */
  positions: number;
  /** Open orders at the broker when it ran (their later fills reach the book as usual). */
  openOrders: number;
  /** REST calls made. */
  roundTrips: number;
  /** Elapsed time on the engine's clock, in ms. */
  durationMs: number;
}

/** Events of {@link PositionReconciliationEngine}. */
export interface PositionReconciliationEvents {
  /** A difference above tolerance that is not in flight, after the confirming re-reads. */
  drift: (drift: PositionDrift, source: ReconcileSource) => void;
  /** A `reconcileAfterOrder` finished. */
  reconciled: (result: AfterOrderReconciliation) => void;
  /** A scan (`detectDrift`, periodic) finished. */
  scan: (scan: DriftScan, source: ReconcileSource) => void;
  /** The book was rebuilt from the broker. */
  rebuilt: (result: FullReconciliation) => void;
  /** A periodic run failed (it keeps running). */
  error: (error: unknown, source: ReconcileSource) => void;
}

const FinalStateSchema = z.looseObject({
  snapshot: z.preprocess((v) => (v === null ? undefined : v), OrderSnapshotSchema.optional()),
  orderId: z.preprocess((v) => (v === null ? undefined : v), z.string().min(1).optional()),
  symbol: z.preprocess((v) => (v === null ? undefined : v), zSymbol.optional()),
  filledQty: z.preprocess((v) => (v === null ? undefined : v), zNonNegativeDecimal.optional()),
});

function isSnapshotLike(v: unknown): boolean {
  return typeof v === "object" && v !== null && "id" in v && "side" in v && "clientOrderId" in v;
}

/**
 * Checks an order snapshot. The cast bridges the order schema's output (it types the status
 * as a string) and {@link OrderSnapshot}.
 */
function parseOrder(order: unknown): OrderSnapshot {
  return parseInput(OrderSnapshotSchema, order, "order") as OrderSnapshot;
}

/** Checks an order update (the same bridge as {@link parseOrder}). */
function parseUpdate(update: unknown): OrderUpdate {
  return parseInput(OrderUpdateSchema, update, "update") as OrderUpdate;
}

/** A tracker's final state as {@link FinalStateSchema} checks it (the same bridge as {@link parseOrder}). */
interface FinalStateInput {
  snapshot?: OrderSnapshot | undefined;
  orderId?: string | undefined;
  symbol?: string | undefined;
  filledQty?: Decimal | undefined;
}

function parseFinalState(order: unknown): FinalStateInput {
  return parseInput(FinalStateSchema, order, "order") as FinalStateInput;
}

/**
 * What `reconcileAfterOrder` reconciles: the order's snapshot (its filled quantity raised to a
 * final state's when that is larger), its symbol and id.
 */
function orderToReconcile(order: ReconcileOrderInput): {
  snapshot: OrderSnapshot | undefined;
  symbol: string;
  orderId: string | undefined;
} {
  if (isSnapshotLike(order)) {
    const snapshot = parseOrder(order);
    return { snapshot, symbol: snapshot.symbol, orderId: snapshot.id };
  }
  const f = parseFinalState(order);
  let snapshot = f.snapshot;
  const filled = f.filledQty;
  if (snapshot !== undefined && filled?.gt(snapshot.filledQty)) snapshot = { ...snapshot, filledQty: filled };
  const symbol = snapshot?.symbol ?? f.symbol;
  if (symbol === undefined) {
    throw new ValidationError("order: expected an order snapshot, or a final state with a symbol", {
      issues: [{ path: "order.symbol", message: "expected a symbol or a snapshot", value: undefined }],
    });
  }
  return { snapshot, symbol, orderId: snapshot?.id ?? f.orderId };
}

const OptionsSchema = z
  .object({
    broker: zBrokerPort,
    book: z.instanceof(PositionBook).optional(),
    clock: zClock.optional(),
    logger: zLogger.optional(),
    tolerance: z
      .object({ notional: zNonNegativeDecimal.optional(), qty: zPositiveDecimal.optional() })
      .strict()
      .optional(),
    confirmReads: z.number().int().min(0).max(10).optional(),
    confirmDelayMs: z.number().min(0).max(600_000).optional(),
    settleMs: z.number().int().min(0).max(600_000).optional(),
    settleTimeoutMs: z.number().int().min(0).max(3_600_000).optional(),
    settlePollMs: z.number().int().min(1).max(600_000).optional(),
    intervalMs: z.number().min(1).max(86_400_000).optional(),
    rememberFinalOrdersMs: z.number().min(0).optional(),
  })
  .strict();

interface Known {
  order: OrderSnapshot;
  finalAt?: number;
}

/** Counts REST calls of one operation. */
class Calls {
  n = 0;
  constructor(private readonly signal: AbortSignal | undefined) {}
  async do<T>(fn: (opts: { signal?: AbortSignal }) => Promise<T>): Promise<T> {
    throwIfAborted(this.signal);
    this.n++;
    return fn(this.signal === undefined ? {} : { signal: this.signal });
  }
}

interface BrokerView {
  positions: Map<string, PositionSnapshot>;
  openOrders: OrderSnapshot[];
}

/**
 * Keeps the {@link PositionBook} equal to the broker: reconciles a symbol right after each
 * order, scans every position, rebuilds the book from the broker in an emergency, and can run
 * the scan periodically.
 *
 * @remarks
 * Every decision reads the broker fresh (no cached positions). A drift above tolerance that is
 * not explained by open orders is re-read `confirmReads` times, `confirmDelayMs` apart, before
 * it is reported, because a broker's position endpoint can lag its own fills. The engine only
 * applies facts to the book (the cumulative fills of orders it is given); adopting the broker's
 * figure or correcting is the `PositionCorrectionEngine`'s decision. Asset increments are read
 * once per symbol and cached; prices come from the position snapshots, the order's average
 * price, or one `getLatestPrices` call for symbols without either.
 *
 * @example
 * ```ts
 * const engine = new PositionReconciliationEngine({ broker, clock });
 * engine.on("drift", (d) => console.warn(d.symbol, d.class, d.qtyDiff.toString()));
 * const result = await engine.reconcileAfterOrder(finalOrder);
 * ```
 */
export class PositionReconciliationEngine extends IsolatedEmitter<PositionReconciliationEvents> {
  /** The book of expected positions this engine keeps. */
  readonly book: PositionBook;
  private readonly broker: BrokerPort;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly tolerance: DriftTolerance;
  private readonly confirmReads: number;
  private readonly confirmDelayMs: number;
  private readonly intervalMs: number;
  private readonly rememberMs: number;
  private readonly record: ExecutionRecord;
  private readonly settle: SettleSettings;
  private readonly known = new Map<string, Known>();
  private readonly increments = new Map<string, Decimal>();
  private readonly lastPrices = new Map<string, Decimal>();
  /** The timers of the periodic reconciliation while it runs; `stop()` closes them. */
  private periodic: TimerScope | undefined;

  /**
   * @param options - broker, book, clock, tolerance, confirmation and periodic settings
   * @throws ValidationError (`validation`) for a bad option
   */
  constructor(options: PositionReconciliationEngineOptions) {
    super();
    const o = parseInput(OptionsSchema, options, "options");
    this.book = o.book ?? new PositionBook();
    this.clock = o.clock ?? systemClock;
    this.record = accountStateOf(o.broker).record;
    this.broker = observedPort(checkBroker(o.broker), this.record, this.clock);
    this.logger = isolateLogger(o.logger);
    this.setListenerLogger(this.logger);
    this.tolerance = o.tolerance ?? {};
    const d = POSITION_RECONCILIATION_DEFAULTS;
    this.confirmReads = o.confirmReads ?? d.confirmReads;
    this.confirmDelayMs = o.confirmDelayMs ?? d.confirmDelayMs;
    this.intervalMs = o.intervalMs ?? d.intervalMs;
    this.rememberMs = o.rememberFinalOrdersMs ?? d.rememberFinalOrdersMs;
    this.settle = {
      settleMs: o.settleMs ?? d.settleMs,
      settleTimeoutMs: o.settleTimeoutMs ?? d.settleTimeoutMs,
      settlePollMs: o.settlePollMs ?? d.settlePollMs,
    };
  }

  /** Whether periodic reconciliation is running. */
  get running(): boolean {
    return this.periodic !== undefined;
  }

  /**
   * Registers an order the bot placed (at submit), so its fills count as evidence for a
   * missed fill even if no update for it ever arrives. Fills are not applied.
   *
   * @param order - the order as the broker returned it
   * @throws ValidationError (`validation`) for a malformed snapshot
   * @example
   * ```ts
   * engine.trackOrder(await broker.submitOrder(request));
   * ```
   */
  trackOrder(order: OrderSnapshot): void {
    this.remember(parseOrder(order));
  }

  /**
   * Applies a streamed order update to the book (idempotently) and remembers the order.
   *
   * @param update - an update from `subscribeOrderUpdates`
   * @returns what applying it did
   * @throws ValidationError (`validation`) for a malformed update
   * @example
   * ```ts
   * broker.subscribeOrderUpdates({ onUpdate: (u) => engine.applyOrderUpdate(u) });
   * ```
   */
  applyOrderUpdate(update: OrderUpdate): BookFillResult {
    const u = parseUpdate(update);
    const result = this.book.applyOrderUpdate(u);
    this.remember(u.order);
    return result;
  }

  /**
   * Reconciles one symbol right after an order: applies the order's cumulative fills to the
   * book, reads the broker's position (and open orders) fresh, and reports the difference.
   *
   * @param order - the order as last seen (ideally final): a broker snapshot, or a tracker's
   *   final state (see {@link ReconcileOrderInput})
   * @param options - an abort signal
   * @returns the book's and the broker's quantities, the drift, reads, REST calls and duration
   * @throws ValidationError (`validation`) for a malformed order; BrokerError from the broker;
   *   the abort reason
   * @example
   * ```ts
   * const r = await engine.reconcileAfterOrder(final);
   * if (!r.reconciled) console.warn(r.drift?.class);
   * ```
   */
  async reconcileAfterOrder(
    order: ReconcileOrderInput,
    options: ReconcileCallOptions = {},
  ): Promise<AfterOrderReconciliation> {
    const started = this.clock.now();
    const calls = new Calls(options.signal);
    const { snapshot, symbol, orderId } = orderToReconcile(order);
    let bookUpdate: BookFillResult | null = null;
    if (snapshot !== undefined) {
      this.remember(snapshot);
      bookUpdate = this.book.applyOrderSnapshot(snapshot);
      if (snapshot.filledAvgPrice?.gt(0)) this.lastPrices.set(symbol, snapshot.filledAvgPrice);
    }
    const { drift, actual, reads, settled } = await this.readSymbolConfirmed(symbol, calls, options.signal);
    const result: AfterOrderReconciliation = {
      symbol,
      orderId,
      bookUpdate,
      expectedQty: this.book.position(symbol),
      actualQty: actual,
      drift,
      settled,
      reconciled: settled && !this.needsConfirm(drift),
      reads,
      roundTrips: calls.n,
      durationMs: this.clock.now() - started,
      at: new Date(started),
    };
    if (drift !== null && this.needsConfirm(drift)) this.emit("drift", drift, "after_order");
    this.logger.debug(
      { symbol, reconciled: result.reconciled, roundTrips: calls.n },
      "reconciled after order",
    );
    this.emit("reconciled", result);
    return result;
  }

  /**
   * Reads one symbol's position (and the open orders) and compares it with the book; a drift
   * that needs confirming is read again, `confirmReads` times at most, `confirmDelayMs` apart.
   */
  private async readSymbolConfirmed(
    symbol: string,
    calls: Calls,
    signal: AbortSignal | undefined,
  ): Promise<{ drift: PositionDrift | null; actual: Decimal; reads: number; settled: boolean }> {
    let reads = 0;
    await this.ensureIncrements([symbol], calls);
    for (;;) {
      const { view, unsettled, rounds } = await this.settledView(calls, signal, [symbol], async () => {
        const position = await calls.do((opts) => this.broker.getPosition(symbol, opts));
        return position === null ? [] : [position];
      });
      reads += rounds;
      await this.refreshKnown(view, calls, symbol);
      const actual = view.positions.get(symbol)?.qty ?? ZERO;
      // A read that never showed the fills this process knows tells nothing about drift.
      if (unsettled.length > 0) return { drift: null, actual, reads, settled: false };
      await this.ensurePrices([symbol], view, calls);
      const drift = this.compute(view, [symbol])[0] ?? null;
      if (!this.needsConfirm(drift) || reads > this.confirmReads)
        return { drift, actual, reads, settled: true };
      await this.clock.sleep(this.confirmDelayMs, signal);
    }
  }

  /**
   * Compares every position of the book with the broker's, read fresh.
   *
   * @param options - an abort signal
   * @returns the scan: positions checked, every drift, reads, REST calls, duration
   * @throws BrokerError from the broker; the abort reason
   * @example
   * ```ts
   * const scan = await engine.detectDrift();
   * scan.drifts.filter((d) => !d.withinTolerance);
   * ```
   */
  detectDrift(options: ReconcileCallOptions = {}): Promise<DriftScan> {
    return this.scan("scan", options.signal);
  }

  /**
   * Rebuilds the book from the broker: every position becomes the broker's, and every known
   * order's reported fills are marked applied (so their late events are not counted again).
   *
   * @param options - an abort signal
   * @returns what changed, with REST calls and duration
   * @throws BrokerError from the broker, OrdersafeError (`unsettled`) when the positions read
   *   never showed the fills this process knows (the book is left unchanged either way); the
   *   abort reason
   * @remarks Positions and orders are read together; fills landing between those reads can
   *   still show up as a drift on the next scan. Best run while no order of ours is working.
   * @example
   * ```ts
   * const { changes } = await engine.emergencyFullReconciliation();
   * ```
   */
  async emergencyFullReconciliation(options: ReconcileCallOptions = {}): Promise<FullReconciliation> {
    const started = this.clock.now();
    const calls = new Calls(options.signal);
    const { view, unsettled } = await this.settledView(calls, options.signal, "all", () =>
      calls.do((opts) => this.broker.getPositions(opts)),
    );
    // The book is never rebuilt from a read that may not show a fill this process knows.
    if (unsettled.length > 0) {
      throw new OrdersafeError(
        "unsettled",
        `[ordersafe] the positions read did not settle for ${unsettled.join(", ")}: the book is left unchanged`,
        { details: { unsettled } },
      );
    }
    await this.refreshKnown(view, calls);
    throwIfAborted(options.signal);
    const next = new Map<string, Decimal>();
    for (const [symbol, p] of view.positions) next.set(symbol, p.qty);
    const changes = this.book.replacePositions(next).map((c) => ({ ...c, delta: c.after.minus(c.before) }));
    for (const [id, k] of this.known) {
      const o = k.order;
      this.book.markApplied({ orderId: id, symbol: o.symbol, side: o.side, cumulativeQty: o.filledQty });
    }
    const result: FullReconciliation = {
      at: new Date(started),
      changes,
      positions: next.size,
      openOrders: view.openOrders.length,
      roundTrips: calls.n,
      durationMs: this.clock.now() - started,
    };
    this.logger.warn({ changes: changes.length }, "book rebuilt from the broker");
    this.emit("rebuilt", result);
    return result;
  }

  /**
   * Starts periodic reconciliation on the engine's clock: a scan every `intervalMs`. Errors are
   * emitted as `error` and the schedule goes on. Calling it while running does nothing.
   *
   * @param intervalMs - the interval; the constructor's `intervalMs` when omitted
   * @throws ValidationError (`validation`) for an interval that is not a positive number
   * @example
   * ```ts
   * engine.start(60_000);
   * // later
   * engine.stop();
   * ```
   */
  start(intervalMs?: number): void {
    const ms = parseInput(z.number().min(1).max(86_400_000).optional(), intervalMs, "intervalMs");
    if (this.periodic !== undefined) return;
    const timers = new TimerScope(this.clock);
    this.periodic = timers;
    void this.loop(ms ?? this.intervalMs, timers);
  }

  /**
   * Stops periodic reconciliation and clears its timer (a scan in progress is aborted).
   * Calling it when stopped does nothing.
   *
   * @example
   * ```ts
   * process.once("SIGTERM", () => engine.stop());
   * ```
   */
  stop(): void {
    this.periodic?.close();
    this.periodic = undefined;
  }

  private async loop(ms: number, timers: TimerScope): Promise<void> {
    while (!timers.closed) {
      try {
        await timers.sleep(ms);
      } catch {
        return;
      }
      try {
        await this.scan("periodic", timers.signal);
      } catch (error) {
        if (timers.closed) return;
        this.logger.error({ error }, "periodic reconciliation failed");
        this.emit("error", error, "periodic");
      }
    }
  }

  private async scan(source: ReconcileSource, signal: AbortSignal | undefined): Promise<DriftScan> {
    const started = this.clock.now();
    const calls = new Calls(signal);
    let reads = 0;
    let drifts: PositionDrift[];
    let symbols: string[];
    let unsettled: string[];
    for (;;) {
      const settled = await this.settledView(calls, signal, "all", () =>
        calls.do((opts) => this.broker.getPositions(opts)),
      );
      const view = settled.view;
      reads += settled.rounds;
      unsettled = settled.unsettled;
      await this.refreshKnown(view, calls);
      const skip = new Set(unsettled);
      symbols = [...new Set([...this.book.positions().keys(), ...view.positions.keys()])]
        .filter((x) => !skip.has(x))
        .sort();
      await Promise.all([this.ensureIncrements(symbols, calls), this.ensurePrices(symbols, view, calls)]);
      drifts = this.compute(view, symbols);
      if (!drifts.some((d) => this.needsConfirm(d)) || reads > this.confirmReads) break;
      await this.clock.sleep(this.confirmDelayMs, signal);
    }
    this.prune();
    const scan: DriftScan = {
      at: new Date(started),
      positionsChecked: symbols.length,
      drifts,
      unsettled,
      reads,
      roundTrips: calls.n,
      durationMs: this.clock.now() - started,
    };
    for (const d of drifts) if (this.needsConfirm(d)) this.emit("drift", d, source);
    this.emit("scan", scan, source);
    return scan;
  }

  private needsConfirm(drift: PositionDrift | null | undefined): boolean {
    return drift != null && !drift.withinTolerance && drift.class !== "in_flight";
  }

  /**
   * Positions (read by `readPositions`) and open orders, read again until the position reads of
   * `symbols` show every fill this process knows (see `docs/consistency.md`).
   */
  private async settledView(
    calls: Calls,
    signal: AbortSignal | undefined,
    symbols: readonly string[] | "all",
    readPositions: () => Promise<PositionSnapshot[]>,
  ): Promise<{ view: BrokerView; unsettled: string[]; rounds: number }> {
    let openOrders: OrderSnapshot[] = [];
    const settled = await settleReads({
      ...this.settle,
      record: this.record,
      clock: this.clock,
      signal,
      symbols,
      account: false,
      read: async () => {
        const readAt = this.clock.now();
        const [positions, open] = await Promise.all([
          readPositions(),
          calls.do((opts) => this.broker.listOpenOrders(opts)),
        ]);
        openOrders = open;
        return { positions, readAt };
      },
    });
    const view = { positions: new Map(settled.positions.map((p) => [p.symbol, p])), openOrders };
    return { view, unsettled: settled.unsettled, rounds: settled.rounds };
  }

  /** Brings remembered orders up to date: from the open list, else one `getOrder` each. */
  private async refreshKnown(view: BrokerView, calls: Calls, symbol?: string): Promise<void> {
    const open = new Map(view.openOrders.map((o) => [o.id, o]));
    for (const o of view.openOrders) if (this.known.has(o.id)) this.remember(o);
    const stale = [...this.known.values()].filter(
      (k) =>
        (symbol === undefined || k.order.symbol === symbol) &&
        !isFinalBrokerStatus(k.order.status) &&
        !open.has(k.order.id),
    );
    const fresh = await Promise.all(
      stale.map((k) => calls.do((opts) => this.broker.getOrder(k.order.id, opts))),
    );
    for (const o of fresh) if (o !== null) this.remember(o);
  }

  private async ensureIncrements(symbols: readonly string[], calls: Calls): Promise<void> {
    const missing = symbols.filter((s) => !this.increments.has(s));
    if (missing.length === 0) return;
    const rules = await calls.do((opts) => this.broker.getAssets(missing, opts));
    for (const r of rules) this.increments.set(r.symbol, r.qtyIncrement);
  }

  private async ensurePrices(symbols: readonly string[], view: BrokerView, calls: Calls): Promise<void> {
    for (const p of view.positions.values()) {
      if (p.currentPrice !== undefined) this.lastPrices.set(p.symbol, p.currentPrice);
      else if (p.marketValue !== undefined && !p.qty.isZero()) {
        this.lastPrices.set(p.symbol, p.marketValue.div(p.qty).abs());
      }
    }
    // A symbol the broker does not hold (a phantom) has no position price: ask once.
    const missing = symbols.filter((s) => !view.positions.has(s) && !this.lastPrices.has(s));
    if (missing.length === 0) return;
    const prices = await calls.do((opts) => this.broker.getLatestPrices(missing, opts));
    for (const [s, p] of prices) this.lastPrices.set(s, p);
  }

  private compute(view: BrokerView, symbols: readonly string[]): PositionDrift[] {
    const wanted = new Set(symbols);
    const expected = new Map<string, Decimal>();
    const actual = new Map<string, Decimal>();
    const prices = new Map<string, Decimal>();
    const increments = new Map<string, Decimal>();
    for (const s of wanted) {
      expected.set(s, this.book.position(s));
      actual.set(s, view.positions.get(s)?.qty ?? ZERO);
      const price = this.lastPrices.get(s);
      if (price?.gt(0)) prices.set(s, price);
      const inc = this.increments.get(s);
      if (inc !== undefined) increments.set(s, inc);
    }
    const recent = [...this.known.values()].map((k) => k.order).filter((o) => wanted.has(o.symbol));
    const applied = new Map<string, Decimal>();
    for (const o of recent) applied.set(o.id, this.book.appliedQty(o.id));
    return detectPositionDrift(expected, actual, {
      prices,
      increments,
      tolerance: this.tolerance,
      openOrders: view.openOrders.filter((o) => wanted.has(o.symbol)),
      recentOrders: recent,
      applied,
    });
  }

  private remember(order: OrderSnapshot): void {
    this.record.observe(order, this.clock.now(), "own");
    const k = this.known.get(order.id);
    if (k?.order.filledQty.gt(order.filledQty)) return;
    if (k !== undefined && isFinalBrokerStatus(k.order.status) && !isFinalBrokerStatus(order.status)) {
      if (k.order.filledQty.eq(order.filledQty)) return;
    }
    const finalAt = isFinalBrokerStatus(order.status) ? (k?.finalAt ?? this.clock.now()) : undefined;
    this.known.set(order.id, finalAt === undefined ? { order } : { order, finalAt });
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [id, k] of this.known) {
      if (k.finalAt === undefined || now - k.finalAt < this.rememberMs) continue;
      if (this.book.appliedQty(id).gte(k.order.filledQty)) this.known.delete(id);
    }
  }
}
