import { z } from "zod";
import type { BrokerPort, OrderSnapshot, OrderUpdate, Subscription } from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { zBrokerPort } from "../broker/schemas.js";
import { backoffDelay, retryAfterOf } from "../core/backoff.js";
import { abortReason, type Clock, systemClock, throwIfAborted } from "../core/clock.js";
import type { Decimal } from "../core/decimal.js";
import { isBrokerError, OrdersafeError } from "../core/errors.js";
import { IsolatedEmitter, isolateLogger } from "../core/isolation.js";
import type { Logger } from "../core/logger.js";
import { TimerScope } from "../core/timer-scope.js";
import { parseInput, zClock, zLogger } from "../core/validation.js";
import {
  createOrderState,
  type FinalOrderState,
  isFinalOrderStatus,
  type OrderEffect,
  type OrderEvent,
  type OrderState,
  type OrderStatus,
  toFinalOrderState,
  transition,
} from "./order-state-machine.js";
import {
  createStreamHealth,
  type StreamDownReason,
  type StreamHealthEffect,
  type StreamHealthFact,
  type StreamHealthState,
  transitionStreamHealth,
} from "./stream-health.js";

/** An acknowledged order's snapshot (checked later by the state machine), not an ambiguous submit's id. */
function isSnapshotInput(input: TrackInput): input is OrderSnapshot {
  return typeof input === "object" && input !== null && "id" in input;
}

/**
 * The defaults of {@link OrderTracker}'s options (see {@link OrderTrackerOptions}); `clock`
 * defaults to {@link systemClock} and `logger` to a silent one.
 *
 * @example
 * ```ts
 * new OrderTracker({ broker, pollIntervalMs: ORDER_TRACKER_DEFAULTS.pollIntervalMs / 2 });
 * ```
 */
export const ORDER_TRACKER_DEFAULTS = Object.freeze({
  quietAfterMs: 15_000,
  maxStatusChecks: 5,
  backoff: Object.freeze({ initialMs: 500, factor: 2, maxMs: 8_000 }),
  cancelOnTimeout: false,
  pollIntervalMs: 2_000,
  notFoundTolerance: 3,
  rememberFinished: 1_000,
  silenceMs: 5_000,
  defaultTimeoutMs: 60_000,
});

const D = ORDER_TRACKER_DEFAULTS;

const BackoffSchema = z
  .object({
    initialMs: z.number().int().min(0).default(D.backoff.initialMs),
    factor: z.number().min(1).max(10).default(D.backoff.factor),
    maxMs: z.number().int().min(0).default(D.backoff.maxMs),
  })
  .strict();

const OptionsSchema = z
  .object({
    broker: zBrokerPort,
    clock: zClock.optional(),
    logger: zLogger.optional(),
    quietAfterMs: z.number().int().positive().default(D.quietAfterMs),
    maxStatusChecks: z.number().int().min(1).max(100).default(D.maxStatusChecks),
    backoff: BackoffSchema.prefault({}),
    cancelOnTimeout: z.boolean().default(D.cancelOnTimeout),
    pollIntervalMs: z.number().int().positive().default(D.pollIntervalMs),
    notFoundTolerance: z.number().int().min(0).max(100).default(D.notFoundTolerance),
    rememberFinished: z.number().int().min(1).default(D.rememberFinished),
    silenceMs: z.number().int().positive().default(D.silenceMs),
    defaultTimeoutMs: z.number().int().positive().default(D.defaultTimeoutMs),
  })
  .strict();

/**
 * Options of {@link OrderTracker}. Every default is in {@link ORDER_TRACKER_DEFAULTS}.
 */
export interface OrderTrackerOptions {
  /** The broker (wrapped with `checkBroker`). */
  broker: BrokerPort;
  /** Time. @defaultValue systemClock */
  clock?: Clock;
  /** Where warnings go. @defaultValue silentLogger */
  logger?: Logger;
  /** An open order with no news for this long is read by REST. @defaultValue `ORDER_TRACKER_DEFAULTS.quietAfterMs` */
  quietAfterMs?: number;
  /** REST checks after a `waitForFinal` timeout (and again after a cancel). @defaultValue `ORDER_TRACKER_DEFAULTS.maxStatusChecks` */
  maxStatusChecks?: number;
  /** Delays between checks: initialMs × factor^n, at most maxMs. @defaultValue `ORDER_TRACKER_DEFAULTS.backoff` */
  backoff?: { initialMs?: number; factor?: number; maxMs?: number };
  /** On timeout, request a cancel and confirm it instead of answering `unresolved` at once. @defaultValue `ORDER_TRACKER_DEFAULTS.cancelOnTimeout` */
  cancelOnTimeout?: boolean;
  /** While the stream is down, open orders are read every this many ms. @defaultValue `ORDER_TRACKER_DEFAULTS.pollIntervalMs` */
  pollIntervalMs?: number;
  /** "Not found" answers tolerated for an ambiguous submit before `submit_failed`. @defaultValue `ORDER_TRACKER_DEFAULTS.notFoundTolerance` */
  notFoundTolerance?: number;
  /** Final orders remembered (for late events and `waitForFinal`); the oldest are forgotten. @defaultValue `ORDER_TRACKER_DEFAULTS.rememberFinished` */
  rememberFinished?: number;
  /** A change found by REST that the connected stream left undelivered for this long marks it silent. @defaultValue `ORDER_TRACKER_DEFAULTS.silenceMs` */
  silenceMs?: number;
  /** `waitForFinal`'s timeout when the call gives none. @defaultValue `ORDER_TRACKER_DEFAULTS.defaultTimeoutMs` */
  defaultTimeoutMs?: number;
}

export type { StreamDownReason } from "./stream-health.js";

/** Facts about an illegal transition the state machine reported. */
export interface IllegalTransitionInfo {
  /** The order. */
  clientOrderId: string;
  /** Its state. */
  from: OrderStatus;
  /** The state the event asked for (refused). */
  to: OrderStatus;
  /** The event type. */
  event: OrderEvent["type"];
}

/** One fill applied to a tracked order. */
export interface OrderFillInfo {
  /** The order. */
  clientOrderId: string;
  /** The broker's id. */
  orderId: string | undefined;
  /** Shares added by this fill. */
  qty: Decimal;
  /** Cumulative filled shares. */
  filledQty: Decimal;
  /** This fill's price, when known. */
  price: Decimal | undefined;
  /** The execution id, when known. */
  executionId: string | undefined;
}

/**
 * The events of {@link OrderTracker} (eventemitter3, argument tuples).
 * - `order:update`: a tracked order's state changed (state, effects).
 * - `order:fill`: a fill was applied (after a final state too: fills race cancels).
 * - `order:final`: an order reached a final state (again if a late event moved it on,
 *   e.g. `unresolved` → `filled`).
 * - `illegal_transition`: the state machine refused an event.
 * - `stream:down`: the stream stopped being healthy (hold new submissions).
 * - `stream:up`: healthy again, after open and tracked orders were re-read.
 * - `check:error`: a REST call failed (never read as "not found").
 */
export interface OrderTrackerEvents {
  "order:update": [state: OrderState, effects: readonly OrderEffect[]];
  "order:fill": [fill: OrderFillInfo];
  "order:final": [final: FinalOrderState];
  illegal_transition: [info: IllegalTransitionInfo];
  "stream:down": [info: { reason: StreamDownReason }];
  "stream:up": [info: { openOrders: readonly OrderSnapshot[] }];
  "check:error": [info: { clientOrderId: string | undefined; method: string; error: unknown }];
}

/** What the tracker has done, for reports and measurements. */
export interface OrderTrackerStats {
  /** Every REST call the tracker made (`getOrder`, `getOrderByClientOrderId`, `listOpenOrders`, `cancelOrder`). */
  restCalls: number;
  /** Of which `listOpenOrders` (shared by all orders). */
  listOpenOrdersCalls: number;
  /** REST calls made for each order, by client order id (`listOpenOrders` excluded). */
  restCallsByOrder: Readonly<Record<string, number>>;
  /** Orders tracked now (open and remembered final ones). */
  tracked: number;
  /** Of which not final. */
  open: number;
  /** How many times the stream went down. */
  streamDowns: number;
}

/** Options of {@link OrderTracker.waitForFinal}. */
export interface WaitForFinalOptions {
  /** After this long without a final state, recovery starts (bounded REST checks, maybe a cancel). */
  timeoutMs?: number;
  /** Stops waiting (the order stays tracked). */
  signal?: AbortSignal;
}

/** What {@link OrderTracker.track} takes: an acknowledged order, or the client order id of an ambiguous submit. */
export type TrackInput = OrderSnapshot | { clientOrderId: string };

const WaitSchema = z
  .object({
    timeoutMs: z.number().int().positive().optional(),
    signal: z
      .custom<AbortSignal>((v) => v instanceof AbortSignal, { message: "expected an AbortSignal" })
      .optional(),
  })
  .strict();
const IdSchema = z.string().min(1);
const AmbiguousSchema = z.object({ clientOrderId: z.string().min(1) }).strict();

interface Waiter {
  resolve(final: FinalOrderState): void;
  reject(error: unknown): void;
}

interface Entry {
  key: string;
  state: OrderState;
  restCalls: number;
  waiters: Set<Waiter>;
  cancelQuiet: (() => void) | undefined;
  checking: Promise<CheckResult> | undefined;
  settling: Promise<void> | undefined;
  recovering: Promise<void> | undefined;
}

type CheckResult = { kind: "found" } | { kind: "not_found" } | { kind: "error"; error: unknown };

const MAX_PENDING_IDS = 500;
const MAX_PENDING_PER_ID = 50;

/**
 * Follows orders to a definitive final state: feeds the {@link transition} state machine from
 * the broker's update stream, falls back to REST when the stream is quiet or down, and
 * recovers timeouts with bounded checks instead of calling them failures.
 *
 * @remarks
 * - Subscribes to `broker.subscribeOrderUpdates` on construction (a port without
 *   `capabilities.orderUpdates` is polled and always counts as healthy).
 * - An open order with no news for `quietAfterMs` is read by REST. A change found that way
 *   which the connected stream left undelivered for `silenceMs` marks the stream `silent`
 *   (down) until it delivers again or no tracked order is open.
 * - While the stream is down, open orders are read every `pollIntervalMs`. On reconnect,
 *   `listOpenOrders` and every tracked open order not in it are re-read before `stream:up`.
 * - Whether the stream is healthy, and when to poll or re-read, is decided by a pure state
 *   machine (`transitionStreamHealth` in `stream-health.ts`); the tracker runs its effects.
 * - A REST error is never read as "not found".
 * - All timing is on the injected clock, in one timer scope; `close()` clears every timer
 *   and the subscription.
 *
 * @example
 * ```ts
 * const tracker = new OrderTracker({ broker, clock });
 * const snapshot = await broker.submitOrder(request);
 * tracker.track(snapshot);
 * const final = await tracker.waitForFinal(snapshot.clientOrderId, { timeoutMs: 30_000 });
 * if (final.status === "unresolved") alert(final);
 * ```
 */
export class OrderTracker extends IsolatedEmitter<OrderTrackerEvents> {
  private readonly broker: BrokerPort;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly opts: z.output<typeof OptionsSchema>;
  private readonly entries = new Map<string, Entry>();
  private readonly byOrderId = new Map<string, string>();
  private readonly finishedOrder: string[] = [];
  private readonly pending = new Map<string, OrderUpdate[]>();
  /** Every timer, wait and REST call of the tracker: `close()` ends them all. */
  private readonly timers: TimerScope;
  private readonly subscription: Subscription | undefined;
  private readonly healthWaiters = new Set<() => void>();
  /** The stream-health machine's state (stream-health.ts); the tracker runs its effects. */
  private health: StreamHealthState;
  private cancelPoll: (() => void) | undefined;
  /** Tracked orders not final (kept by `apply`). */
  private openCount = 0;
  private restCalls = 0;
  private listOpenCalls = 0;

  /**
   * @param options - see {@link OrderTrackerOptions}
   * @throws ValidationError (`validation`) for an unknown or out-of-range option
   */
  constructor(options: OrderTrackerOptions) {
    super();
    this.opts = parseInput(OptionsSchema, options, "options");
    this.clock = this.opts.clock ?? systemClock;
    this.timers = new TimerScope(this.clock);
    this.logger = isolateLogger(this.opts.logger);
    this.setListenerLogger(this.logger);
    this.broker = checkBroker(this.opts.broker, (error) =>
      this.logger.warn({ error }, "[ordersafe] malformed order update dropped"),
    );
    const streamless = this.broker.capabilities.orderUpdates === false;
    this.health = createStreamHealth({ streamless, silenceMs: this.opts.silenceMs });
    this.subscription = streamless
      ? undefined
      : this.broker.subscribeOrderUpdates({
          onUpdate: (update) => this.onStreamUpdate(update),
          onStatus: (status) => this.sendHealth({ type: "status", status }),
        });
  }

  /**
   * Starts following an order: an acknowledged one (its snapshot), or an ambiguous submit
   * (`{ clientOrderId }`), which is settled by looking the client order id up.
   *
   * @param input - the snapshot `submitOrder` returned, or `{ clientOrderId }`
   * @returns the order's state now
   * @throws ValidationError (`validation`) for a malformed input; OrdersafeError
   *   (`invalid_state`) after `close()`
   * @remarks Idempotent: tracking a tracked order applies the snapshot (if any) and returns
   *   its state. Updates the stream delivered before `track` are kept (bounded) and applied.
   * @example
   * ```ts
   * try { tracker.track(await broker.submitOrder(req)); }
   * catch (e) { if (isBrokerError(e, "ambiguous")) tracker.track({ clientOrderId: req.clientOrderId }); }
   * ```
   */
  track(input: TrackInput): OrderState {
    this.assertOpen();
    const now = this.clock.now();
    const snapshot = isSnapshotInput(input) ? input : undefined;
    const clientOrderId =
      snapshot !== undefined
        ? snapshot.clientOrderId
        : parseInput(AmbiguousSchema, input, "order").clientOrderId;
    const existing = this.entries.get(clientOrderId);
    if (existing !== undefined) {
      if (snapshot !== undefined) this.apply(existing, { type: "snapshot", snapshot, at: now });
      return existing.state;
    }
    const initial = createOrderState({ clientOrderId, at: now });
    const first: OrderEvent =
      snapshot !== undefined
        ? { type: "submitted", snapshot, at: now }
        : { type: "submit_ambiguous", at: now };
    // Validates the snapshot: a malformed one throws before anything is recorded.
    transition(initial, first);
    const entry: Entry = {
      key: clientOrderId,
      state: initial,
      restCalls: 0,
      waiters: new Set(),
      cancelQuiet: undefined,
      checking: undefined,
      settling: undefined,
      recovering: undefined,
    };
    this.entries.set(clientOrderId, entry);
    this.openCount++;
    this.apply(entry, first);
    const early = this.pending.get(clientOrderId);
    this.pending.delete(clientOrderId);
    for (const update of early ?? []) this.apply(entry, { type: "update", update, at: now });
    if (entry.state.status === "submit_unconfirmed") this.startSettle(entry);
    this.sendHealth({ type: "orders_changed" });
    return entry.state;
  }

  /**
   * Resolves with the order's final state. On timeout it does not give up: it makes up to
   * `maxStatusChecks` REST checks with backoff; with `cancelOnTimeout` it then requests a
   * cancel and confirms it; otherwise (or if still open) the answer is `unresolved` with the
   * last known snapshot. Never "timeout".
   *
   * @param orderIdOrClientId - the broker's id or the client order id of a tracked order
   * @param options - `timeoutMs` (default `defaultTimeoutMs`), `signal`
   * @returns the final state
   * @throws ValidationError (`validation`) for bad options; OrdersafeError (`invalid_state`)
   *   for an order not tracked (or forgotten) or when the tracker closes; the signal's reason
   *   when aborted
   * @example
   * ```ts
   * const final = await tracker.waitForFinal("run1-TECL-buy-0", { timeoutMs: 30_000, signal });
   * ```
   */
  waitForFinal(orderIdOrClientId: string, options: WaitForFinalOptions = {}): Promise<FinalOrderState> {
    let entry: Entry;
    let opts: z.output<typeof WaitSchema>;
    try {
      parseInput(IdSchema, orderIdOrClientId, "orderIdOrClientId");
      opts = parseInput(WaitSchema, options, "options");
      this.assertOpen();
      entry = this.entryFor(orderIdOrClientId);
    } catch (error) {
      return Promise.reject(error);
    }
    if (isFinalOrderStatus(entry.state.status)) return Promise.resolve(toFinalOrderState(entry.state));
    if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal));
    const timeoutMs = opts.timeoutMs ?? this.opts.defaultTimeoutMs;
    return new Promise<FinalOrderState>((resolve, reject) => {
      const signal = opts.signal;
      let cancelTimer: () => void = () => {};
      // Listens only on a given signal.
      const onAbort = () => {
        done();
        if (signal !== undefined) reject(abortReason(signal));
      };
      const done = () => {
        entry.waiters.delete(waiter);
        cancelTimer();
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        resolve: (final) => {
          done();
          resolve(final);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      entry.waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      cancelTimer = this.timers.after(timeoutMs, () => {
        void this.recover(entry);
      });
    });
  }

  /**
   * Requests a cancel of a tracked order and waits for its final state (which may be
   * `filled`: fills race cancels). A cancel refused as `not_cancelable` means the order is
   * final already; it is read back.
   *
   * @param orderIdOrClientId - the broker's id or the client order id of a tracked order
   * @param options - `timeoutMs` for the confirmation (then the timeout recovery runs), `signal`
   * @returns the final state
   * @throws ValidationError (`validation`) for bad options; OrdersafeError (`invalid_state`)
   *   for an untracked order or a closed tracker; the signal's reason when aborted
   * @example
   * ```ts
   * const final = await tracker.cancel(conflicting.id, { timeoutMs: 10_000 });
   * if (final.status !== "unresolved") placeTheOtherSide();
   * ```
   */
  async cancel(orderIdOrClientId: string, options: WaitForFinalOptions = {}): Promise<FinalOrderState> {
    parseInput(IdSchema, orderIdOrClientId, "orderIdOrClientId");
    const opts = parseInput(WaitSchema, options, "options");
    this.assertOpen();
    const entry = this.entryFor(orderIdOrClientId);
    throwIfAborted(opts.signal);
    if (entry.settling !== undefined) await entry.settling;
    const orderId = entry.state.orderId;
    if (!isFinalOrderStatus(entry.state.status) && orderId !== undefined) {
      await this.requestCancel(entry, orderId);
    }
    return this.waitForFinal(orderIdOrClientId, options);
  }

  /**
   * Whether the update stream can be trusted now: connected, re-read after the last
   * reconnect, and not found silent. Hold new submissions while it is false.
   *
   * @returns true when healthy (always true for a port without a stream)
   * @example
   * ```ts
   * if (!tracker.isStreamHealthy()) await tracker.waitForHealthyStream({ timeoutMs: 30_000 });
   * ```
   */
  isStreamHealthy(): boolean {
    return this.health.healthy;
  }

  /**
   * Waits until the stream is healthy.
   *
   * @param options - `timeoutMs` (none: wait as long as it takes), `signal`
   * @returns true once healthy, false when `timeoutMs` passed first
   * @throws the signal's reason when aborted; OrdersafeError (`invalid_state`) when the tracker closes
   * @example
   * ```ts
   * if (!(await tracker.waitForHealthyStream({ timeoutMs: 60_000 }))) return holdAndReport();
   * ```
   */
  waitForHealthyStream(options: WaitForFinalOptions = {}): Promise<boolean> {
    let opts: z.output<typeof WaitSchema>;
    try {
      opts = parseInput(WaitSchema, options, "options");
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.health.healthy) return Promise.resolve(true);
    if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal));
    return new Promise<boolean>((resolve, reject) => {
      const signal = opts.signal;
      let cancelTimer: () => void = () => {};
      let stopOnClose: () => void = () => {};
      const cleanup = () => {
        this.healthWaiters.delete(onHealthy);
        stopOnClose();
        signal?.removeEventListener("abort", onAbort);
        cancelTimer();
      };
      const onHealthy = () => {
        cleanup();
        resolve(true);
      };
      // Listens only on a given signal.
      const onAbort = () => {
        cleanup();
        if (signal !== undefined) reject(abortReason(signal));
      };
      const onClose = () => {
        cleanup();
        reject(new OrdersafeError("invalid_state", "the order tracker was closed"));
      };
      this.healthWaiters.add(onHealthy);
      stopOnClose = this.timers.onClose(onClose);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        cancelTimer = this.timers.after(opts.timeoutMs, () => {
          cleanup();
          resolve(false);
        });
      }
    });
  }

  /**
   * The state of a tracked (or remembered) order.
   *
   * @param orderIdOrClientId - the broker's id or the client order id
   * @returns the state, or undefined when not tracked
   */
  getState(orderIdOrClientId: string): OrderState | undefined {
    const key = this.byOrderId.get(orderIdOrClientId) ?? orderIdOrClientId;
    return this.entries.get(key)?.state;
  }

  /**
   * REST calls the tracker made, in all and per order.
   *
   * @returns the counts now
   * @example
   * ```ts
   * tracker.stats().restCallsByOrder["run1-TECL-buy-0"]; // 0 on a healthy stream
   * ```
   */
  stats(): OrderTrackerStats {
    const restCallsByOrder: Record<string, number> = {};
    let open = 0;
    for (const e of this.entries.values()) {
      restCallsByOrder[e.key] = e.restCalls;
      if (!isFinalOrderStatus(e.state.status)) open++;
    }
    return {
      restCalls: this.restCalls,
      listOpenOrdersCalls: this.listOpenCalls,
      restCallsByOrder,
      tracked: this.entries.size,
      open,
      streamDowns: this.health.downs,
    };
  }

  /**
   * Stops everything: the subscription is closed, every timer cleared, pending
   * `waitForFinal` calls rejected with `invalid_state`. Idempotent.
   */
  close(): void {
    if (this.timers.closed) return;
    this.timers.close(new OrdersafeError("invalid_state", "the order tracker was closed"));
    this.subscription?.close();
    this.sendHealth({ type: "close" });
    for (const entry of this.entries.values()) {
      entry.cancelQuiet = undefined;
      for (const w of [...entry.waiters]) {
        w.reject(new OrdersafeError("invalid_state", "the order tracker was closed"));
      }
    }
  }

  // ---- stream health: the machine decides (stream-health.ts), the tracker acts --------

  private onStreamUpdate(update: OrderUpdate): void {
    if (this.closed) return;
    this.sendHealth({ type: "update", at: this.clock.now() });
    const key = this.byOrderId.get(update.order.id) ?? update.order.clientOrderId;
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.keepPending(update);
      return;
    }
    this.apply(entry, { type: "update", update, at: this.clock.now() });
  }

  /**
   * Feeds a fact to the stream-health machine and runs the effects it returns, in order. A
   * listener of an emitted event may feed another fact meanwhile: it sees the state already
   * moved on, and the timers already matching it.
   */
  private sendHealth(fact: StreamHealthFact): void {
    const { state, effects } = transitionStreamHealth(this.health, {
      ...fact,
      hasOpenOrders: this.openCount > 0,
    });
    this.health = state;
    for (const effect of effects) this.runHealthEffect(effect);
  }

  private runHealthEffect(effect: StreamHealthEffect): void {
    switch (effect.type) {
      case "start_polling":
        this.cancelPoll = this.timers.after(this.opts.pollIntervalMs, () => {
          this.cancelPoll = undefined;
          this.sendHealth({ type: "poll_due" });
        });
        return;
      case "stop_polling":
        this.cancelPoll?.();
        this.cancelPoll = undefined;
        return;
      case "poll":
        void this.pollOnce();
        return;
      case "stream_down":
        this.logger.warn(
          { reason: effect.reason },
          "[ordersafe] order update stream down: polling open orders",
        );
        this.emit("stream:down", { reason: effect.reason });
        return;
      case "stream_up":
        this.emit("stream:up", { openOrders: effect.openOrders });
        return;
      case "notify_health_waiters":
        for (const w of [...this.healthWaiters]) w();
        return;
      case "start_resync":
        void this.resync(effect.generation);
        return;
      case "schedule_resync_retry": {
        const generation = effect.generation;
        this.timers.after(this.opts.pollIntervalMs, () =>
          this.sendHealth({ type: "resync_retry", generation }),
        );
        return;
      }
    }
  }

  /** Re-reads open orders and every tracked open order, then tells the machine how it went. */
  private async resync(generation: number): Promise<void> {
    let ok = true;
    let open: OrderSnapshot[] = [];
    try {
      this.restCalls++;
      this.listOpenCalls++;
      open = await this.broker.listOpenOrders({ signal: this.timers.signal });
    } catch (error) {
      ok = false;
      this.reportError(undefined, "listOpenOrders", error);
    }
    if (this.closed || generation !== this.health.generation) return;
    const seen = new Set<string>();
    const now = this.clock.now();
    for (const snapshot of open) {
      const key = this.byOrderId.get(snapshot.id) ?? snapshot.clientOrderId;
      const entry = this.entries.get(key);
      if (entry === undefined) continue;
      seen.add(key);
      this.apply(entry, { type: "snapshot", snapshot, at: now });
    }
    const rest = ok ? this.openEntries().filter((e) => !seen.has(e.key)) : this.openEntries();
    const results = await Promise.all(rest.map((e) => this.check(e)));
    if (this.closed || generation !== this.health.generation) return;
    if (results.some((r) => r.kind === "error")) ok = false;
    this.sendHealth(
      ok
        ? { type: "resync_finished", generation, openOrders: Object.freeze([...open]) }
        : { type: "resync_failed", generation },
    );
  }

  private async pollOnce(): Promise<void> {
    const due = this.openEntries().filter((e) => e.settling === undefined && e.recovering === undefined);
    await Promise.all(due.map((e) => this.check(e)));
    this.sendHealth({ type: "poll_done" });
  }

  // ---- per order -----------------------------------------------------------------------

  private apply(entry: Entry, event: OrderEvent): void {
    const before = entry.state;
    const { state, effects } = transition(before, event);
    entry.state = state;
    const wasOpen = !isFinalOrderStatus(before.status);
    if (wasOpen !== !isFinalOrderStatus(state.status)) this.openCount += wasOpen ? -1 : 1;
    if (state.orderId !== undefined && before.orderId === undefined)
      this.byOrderId.set(state.orderId, entry.key);
    let final: FinalOrderState | undefined;
    for (const effect of effects) {
      if (effect.type === "illegal_transition") {
        this.logger.warn(
          { clientOrderId: entry.key, ...effect },
          "[ordersafe] illegal order transition refused",
        );
        this.emit("illegal_transition", {
          clientOrderId: entry.key,
          from: effect.from,
          to: effect.to,
          event: effect.event,
        });
      } else if (effect.type === "fill") {
        this.emit("order:fill", {
          clientOrderId: entry.key,
          orderId: state.orderId,
          qty: effect.qty,
          filledQty: effect.filledQty,
          price: effect.price,
          executionId: effect.executionId,
        });
      } else if (effect.type === "final") {
        final = effect.final;
      }
    }
    const changed =
      state.status !== before.status ||
      !state.filledQty.eq(before.filledQty) ||
      state.orderId !== before.orderId;
    if (changed) this.emit("order:update", state, effects);
    if (final !== undefined) this.finish(entry, final);
    else if (!isFinalOrderStatus(state.status) && changed) this.scheduleQuiet(entry);
  }

  private finish(entry: Entry, final: FinalOrderState): void {
    entry.cancelQuiet?.();
    entry.cancelQuiet = undefined;
    this.emit("order:final", final);
    for (const w of [...entry.waiters]) w.resolve(final);
    const i = this.finishedOrder.indexOf(entry.key);
    if (i >= 0) this.finishedOrder.splice(i, 1);
    this.finishedOrder.push(entry.key);
    while (this.finishedOrder.length > this.opts.rememberFinished) {
      const old = this.finishedOrder.shift();
      if (old === undefined) break;
      const e = this.entries.get(old);
      if (e !== undefined && isFinalOrderStatus(e.state.status)) {
        this.entries.delete(old);
        if (e.state.orderId !== undefined) this.byOrderId.delete(e.state.orderId);
      }
    }
    this.sendHealth({ type: "orders_changed" });
  }

  private scheduleQuiet(entry: Entry): void {
    entry.cancelQuiet?.();
    entry.cancelQuiet = this.timers.after(this.opts.quietAfterMs, () => {
      entry.cancelQuiet = undefined;
      if (isFinalOrderStatus(entry.state.status)) return;
      // While the stream is down the poll loop reads it; a settle or recovery reads it too.
      if (!this.health.healthy || entry.settling !== undefined || entry.recovering !== undefined) {
        this.scheduleQuiet(entry);
        return;
      }
      void this.check(entry).then(() => {
        if (!isFinalOrderStatus(entry.state.status) && entry.cancelQuiet === undefined)
          this.scheduleQuiet(entry);
      });
    });
  }

  /** One REST read of an order. At most one in flight per order. */
  private check(entry: Entry): Promise<CheckResult> {
    if (entry.checking !== undefined) return entry.checking;
    const run = async (): Promise<CheckResult> => {
      const orderId = entry.state.orderId;
      const method = orderId !== undefined ? "getOrder" : "getOrderByClientOrderId";
      entry.restCalls++;
      this.restCalls++;
      let snapshot: OrderSnapshot | null;
      try {
        snapshot =
          orderId !== undefined
            ? await this.broker.getOrder(orderId, { signal: this.timers.signal })
            : await this.broker.getOrderByClientOrderId(entry.key, { signal: this.timers.signal });
      } catch (error) {
        this.reportError(entry.key, method, error);
        return { kind: "error", error };
      }
      if (this.closed) return { kind: "error", error: abortReason(this.timers.signal) };
      if (snapshot === null) {
        this.apply(entry, { type: "lookup_not_found", at: this.clock.now() });
        return { kind: "not_found" };
      }
      const before = entry.state;
      this.apply(entry, { type: "snapshot", snapshot, at: this.clock.now() });
      this.noticeMissed(before, entry.state, snapshot);
      return { kind: "found" };
    };
    const p = run().finally(() => {
      entry.checking = undefined;
    });
    entry.checking = p;
    return p;
  }

  /** A change found by REST: the machine decides whether the stream should have delivered it. */
  private noticeMissed(before: OrderState, after: OrderState, snapshot: OrderSnapshot): void {
    const changed = before.status !== after.status || after.filledQty.gt(before.filledQty);
    if (!changed) return;
    this.sendHealth({ type: "missed_change", changedAt: snapshot.updatedAt.getTime(), at: this.clock.now() });
  }

  private startSettle(entry: Entry): void {
    entry.settling = this.settle(entry)
      .catch((error) => {
        if (!this.closed) this.logger.error({ error }, "[ordersafe] settling an ambiguous submit failed");
      })
      .finally(() => {
        entry.settling = undefined;
      });
  }

  /** Settles an ambiguous submit by client order id. */
  private async settle(entry: Entry): Promise<void> {
    let misses = 0;
    let errors = 0;
    for (let i = 0; !this.closed && entry.state.status === "submit_unconfirmed"; i++) {
      const r = await this.check(entry);
      if (entry.state.status !== "submit_unconfirmed") return;
      if (r.kind === "not_found") {
        misses++;
        if (misses > this.opts.notFoundTolerance) {
          this.apply(entry, {
            type: "submit_failed",
            at: this.clock.now(),
            reason: `not found by client order id after ${misses} lookups`,
          });
          return;
        }
      } else if (r.kind === "error") {
        errors++;
        if (errors >= this.opts.maxStatusChecks) {
          this.apply(entry, {
            type: "unresolved",
            at: this.clock.now(),
            reason: `the ambiguous submit could not be looked up: ${errors} failed lookups`,
          });
          return;
        }
      }
      await this.timers.sleep(this.backoffMs(i, r));
    }
  }

  /** After a timeout: bounded checks, maybe a confirmed cancel, else `unresolved`. */
  private recover(entry: Entry): Promise<void> {
    if (entry.recovering !== undefined) return entry.recovering;
    const p = this.runRecovery(entry)
      .catch((error) => {
        if (!this.closed) this.logger.error({ error }, "[ordersafe] order recovery failed");
      })
      .finally(() => {
        entry.recovering = undefined;
      });
    entry.recovering = p;
    return p;
  }

  private async runRecovery(entry: Entry): Promise<void> {
    const isDone = () => this.closed || isFinalOrderStatus(entry.state.status);
    if (entry.settling !== undefined) await entry.settling;
    if (isDone()) return;
    this.logger.warn({ clientOrderId: entry.key }, "[ordersafe] no final state in time: checking by REST");
    if (await this.checkRepeatedly(entry)) return;
    let canceled = false;
    const orderId = entry.state.orderId;
    if (this.opts.cancelOnTimeout && orderId !== undefined) {
      canceled = await this.requestCancel(entry, orderId);
      if (isDone()) return;
      if (await this.checkRepeatedly(entry, true)) return;
    }
    const last = entry.state.snapshot?.status ?? entry.state.status;
    this.apply(entry, {
      type: "unresolved",
      at: this.clock.now(),
      reason: `no final state after ${this.opts.maxStatusChecks} status checks${
        canceled ? " and a cancel request" : ""
      } (last known: ${last})`,
    });
  }

  /** Up to maxStatusChecks reads with backoff; true once final. */
  private async checkRepeatedly(entry: Entry, delayFirst = false): Promise<boolean> {
    let last: CheckResult | undefined;
    for (let i = 0; i < this.opts.maxStatusChecks; i++) {
      if (delayFirst || i > 0) await this.timers.sleep(this.backoffMs(i, last));
      if (this.closed) return true;
      if (isFinalOrderStatus(entry.state.status)) return true;
      last = await this.check(entry);
      if (isFinalOrderStatus(entry.state.status)) return true;
    }
    return this.closed;
  }

  private async requestCancel(entry: Entry, orderId: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      entry.restCalls++;
      this.restCalls++;
      try {
        await this.broker.cancelOrder(orderId, { signal: this.timers.signal });
        this.apply(entry, { type: "cancel_requested", at: this.clock.now() });
        return true;
      } catch (error) {
        this.reportError(entry.key, "cancelOrder", error);
        // Not cancelable: it is final already, read it back; ambiguous: the checks will tell.
        if (isBrokerError(error, "not_cancelable")) {
          await this.check(entry);
          return false;
        }
        if (isBrokerError(error, "ambiguous")) return false;
        if (!(isBrokerError(error) && error.retryable)) return false;
        await this.timers.sleep(this.backoffMs(attempt, { kind: "error", error }));
      }
    }
    return false;
  }

  // ---- helpers -------------------------------------------------------------------------

  /** The wait before attempt `attempt + 1`: the backoff, or longer when a rate limit asks for it. */
  private backoffMs(attempt: number, last: CheckResult | undefined): number {
    const retryAfter = last?.kind === "error" ? retryAfterOf(last.error) : undefined;
    return Math.max(backoffDelay(this.opts.backoff, attempt), retryAfter ?? 0);
  }

  private reportError(clientOrderId: string | undefined, method: string, error: unknown): void {
    if (this.closed) return;
    this.logger.warn(
      { clientOrderId, method, error },
      "[ordersafe] REST check failed (not read as not found)",
    );
    this.emit("check:error", { clientOrderId, method, error });
  }

  private openEntries(): Entry[] {
    return [...this.entries.values()].filter((e) => !isFinalOrderStatus(e.state.status));
  }

  private entryFor(id: string): Entry {
    const entry = this.entries.get(this.byOrderId.get(id) ?? id);
    if (entry === undefined) {
      throw new OrdersafeError("invalid_state", `order ${JSON.stringify(id)} is not tracked`, {
        details: { id },
      });
    }
    return entry;
  }

  private keepPending(update: OrderUpdate): void {
    const id = update.order.clientOrderId;
    const list = this.pending.get(id);
    if (list !== undefined) {
      if (list.length < MAX_PENDING_PER_ID) list.push(update);
      return;
    }
    if (this.pending.size >= MAX_PENDING_IDS) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.set(id, [update]);
  }

  private get closed(): boolean {
    return this.timers.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new OrdersafeError("invalid_state", "the order tracker was closed");
  }
}
