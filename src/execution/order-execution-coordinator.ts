import { z } from "zod";
import type { BrokerPort, OrderRequest, OrderSnapshot } from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { zBrokerPort } from "../broker/schemas.js";
import { type Clock, systemClock, throwIfAborted } from "../core/clock.js";
import { ZERO } from "../core/decimal.js";
import { isBrokerError, type OrdersafeErrorCode } from "../core/errors.js";
import { CLIENT_ORDER_ID_PREFIX, clientOrderId } from "../core/ids.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { parseInput, zClock, zLogger } from "../core/validation.js";
import { type OrderIntent, type OrderIntentInput, parseOrderIntent } from "../funds/order-intent.js";
import {
  createOrderState,
  FINAL_ORDER_STATUSES,
  type FinalOrderState,
  isFinalOrderStatus,
  type OrderState,
  toFinalOrderState,
  transition,
} from "../orders/order-state-machine.js";
import type { OrderOutcome } from "./order-outcome.js";
import type { OrderRetryEngine, SubmitResult } from "./order-retry-engine.js";
import type { ExecutionPolicy } from "./policies/execution-policy.js";
import {
  executeLeg,
  type HeldOrder,
  type LegFunds,
  type LegReport,
  type PolicyLeg,
} from "./policies/leg-executor.js";

/**
 * What the coordinator needs from an order tracker: `OrderTracker` from `ordersafe`
 * satisfies it.
 */
export interface OrderTracking {
  /** Starts following an order the broker accepted, or an ambiguous submit by client order id. */
  track(order: OrderSnapshot | { clientOrderId: string }): unknown;
  /** Resolves with the order's final state, bounded by `timeoutMs` (then bounded REST checks). */
  waitForFinal(id: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<FinalOrderState>;
  /** Whether the order-update stream is delivering. */
  isStreamHealthy(): boolean;
  /**
   * Resolves once the stream is healthy (true), or false when `timeoutMs` passed first. A
   * tracker without it is asked `isStreamHealthy()` every 100 ms instead.
   */
  waitForHealthyStream?(options: { timeoutMs?: number; signal?: AbortSignal }): Promise<boolean>;
}

/** What the coordinator needs from a buying-power manager: `BuyingPowerManager` satisfies it. */
export interface FundsReservation {
  /** Reserves the buying power of a buy; a shortfall is a result. */
  reserve(intent: OrderIntent): Promise<{ ok: true } | { ok: false; shortfall?: unknown; reason?: unknown }>;
  /** Releases a reservation (idempotent). */
  release(key: string): unknown;
}

/** What the coordinator needs to check an intent first: `PreOrderValidator` satisfies it. */
export interface IntentValidation {
  /** Checks an intent over fresh data. */
  validate(
    intent: OrderIntent,
  ): Promise<{ ok: boolean; checks: readonly { name: string; ok: boolean; message?: string }[] }>;
}

/** What the coordinator needs to reconcile after an order: `PositionReconciliationEngine` satisfies it. */
export interface PositionReconciliation {
  /** Reads the broker's position for the order's symbol and updates the book. */
  reconcileAfterOrder(order: FinalOrderState & { symbol?: string }): Promise<unknown>;
}

/**
 * The defaults of {@link OrderExecutionCoordinatorOptions}, in one place: the constructor
 * applies these.
 *
 * @example
 * ```ts
 * const finalTimeoutMs = 2 * ORDER_EXECUTION_COORDINATOR_DEFAULTS.finalTimeoutMs;
 * new OrderExecutionCoordinator({ broker, retry, finalTimeoutMs });
 * ```
 */
export const ORDER_EXECUTION_COORDINATOR_DEFAULTS = {
  finalTimeoutMs: 60_000,
  streamWaitMs: 5_000,
  polling: false,
  pollIntervalMs: 500,
} as const satisfies Partial<OrderExecutionCoordinatorOptions>;

/**
 * Options of {@link OrderExecutionCoordinator}; defaults in
 * {@link ORDER_EXECUTION_COORDINATOR_DEFAULTS}.
 */
export interface OrderExecutionCoordinatorOptions {
  /** The broker (wrapped by `checkBroker`). */
  broker: BrokerPort;
  /** The retry engine (its circuit breaker is shared by every order of the coordinator). */
  retry: OrderRetryEngine;
  /** The tracker; without one, orders are followed by REST polling. */
  tracker?: OrderTracking;
  /** Reserves buys; without one, nothing is reserved. */
  funds?: FundsReservation;
  /** Checks each intent before submitting; without one, only the intent's shape is checked. */
  validator?: IntentValidation;
  /** Reconciles the position after each order; without one, nothing is reconciled per order. */
  reconciler?: PositionReconciliation;
  /** The clock every wait runs on. @defaultValue systemClock */
  clock?: Clock;
  /** Where to log. @defaultValue silentLogger */
  logger?: Logger;
  /**
   * Longest wait for an order to become final (ms) before it is `unresolved`.
   * @defaultValue `ORDER_EXECUTION_COORDINATOR_DEFAULTS.finalTimeoutMs` (60000)
   */
  finalTimeoutMs?: number;
  /**
   * Longest hold of a new submission while the stream is unhealthy (ms).
   * @defaultValue `ORDER_EXECUTION_COORDINATOR_DEFAULTS.streamWaitMs` (5000)
   */
  streamWaitMs?: number;
  /**
   * Follow orders by REST polling even when a tracker is given.
   * @defaultValue `ORDER_EXECUTION_COORDINATOR_DEFAULTS.polling` (false)
   */
  polling?: boolean;
  /**
   * Interval of REST polling (ms).
   * @defaultValue `ORDER_EXECUTION_COORDINATOR_DEFAULTS.pollIntervalMs` (500)
   */
  pollIntervalMs?: number;
}

const fn = (v: unknown) => typeof v === "object" && v !== null;
const OptionsSchema = z
  .object({
    broker: zBrokerPort,
    retry: z.custom<OrderRetryEngine>(fn, { message: "expected an OrderRetryEngine" }),
    tracker: z.custom<OrderTracking>(fn).optional(),
    funds: z.custom<FundsReservation>(fn).optional(),
    validator: z.custom<IntentValidation>(fn).optional(),
    reconciler: z.custom<PositionReconciliation>(fn).optional(),
    clock: zClock.optional(),
    logger: zLogger.optional(),
    finalTimeoutMs: z.number().int().min(1).max(86_400_000).optional(),
    streamWaitMs: z.number().int().min(0).max(3_600_000).optional(),
    polling: z.boolean().optional(),
    pollIntervalMs: z.number().int().min(1).max(600_000).optional(),
  })
  .strict();

/**
 * A leg's state as an order's final state: a leg left `held` is refused before it can run (a
 * rebalance follows every order to a final state), so it never reaches here as working.
 */
const LEG_TO_ORDER_STATE = {
  filled: "filled",
  canceled: "canceled",
  held: "unresolved",
  skipped: "submit_failed",
  rejected: "rejected",
  unresolved: "unresolved",
} as const satisfies Record<LegReport["state"], FinalOrderState["status"]>;

/** How far before a lost close call its order may be stamped (the broker's clock may differ from ours). */
const CLOSE_SKEW_MS = 2_000;

/** How many times a close whose reply was lost is asked again. */
const CLOSE_ATTEMPTS = 4;

/** Per-order options of {@link OrderExecutionCoordinator.executeOrder}. */
export interface ExecuteOrderOptions {
  /** The run: client order ids come from (runId, symbol, side, generation). */
  runId: string;
  /** The first generation. @defaultValue 0 */
  generation?: number;
  /** Aborts waits and calls (the abort reason is thrown). */
  signal?: AbortSignal;
  /** Exit the whole position with `closePosition` (dust that cannot be an order). */
  closePosition?: boolean;
  /** Called with each request as it is sent. */
  onSubmitted?: (request: OrderRequest, attempt: number) => void;
  /**
   * Called once the broker holds the order: its reply accepted it, or the order was found by
   * its client order id after an ambiguous submit.
   */
  onAccepted?: (order: OrderSnapshot, attempts: number) => void;
  /** Replaces the retry engine's default buy resize. */
  resizeBuy?: (intent: OrderIntent, signal?: AbortSignal) => Promise<OrderIntent | null>;
}

/**
 * Runs one order's full lifecycle: validate → reserve → submit (with retries) → track to a
 * final state → reconcile the position → release → {@link OrderOutcome}.
 *
 * @remarks
 * - Never throws for an expected outcome: a refusal, a shortfall, the circuit breaker or an
 *   order the broker could not settle is an outcome (`submit_failed`, `rejected`,
 *   `unresolved`...). Only bad input (`validation`) and the caller's abort throw.
 * - New submissions wait (at most `streamWaitMs`) while the tracker's stream is unhealthy;
 *   the tracker polls in the meantime.
 * - Every wait is bounded on the injected clock.
 *
 * @example
 * ```ts
 * const coordinator = new OrderExecutionCoordinator({ broker, retry: new OrderRetryEngine({ broker, clock }), clock });
 * const outcome = await coordinator.executeOrder(
 *   { symbol: "TECL", side: "buy", notional: 1000, type: "market", timeInForce: "day" },
 *   { runId: "2026-11-25" },
 * );
 * outcome.state; // "filled"
 * ```
 */
export class OrderExecutionCoordinator {
  private readonly broker: BrokerPort;
  private readonly retry: OrderRetryEngine;
  private readonly tracker: OrderTracking | undefined;
  private readonly funds: FundsReservation | undefined;
  private readonly validator: IntentValidation | undefined;
  private readonly reconciler: PositionReconciliation | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly finalTimeoutMs: number;
  private readonly streamWaitMs: number;
  private readonly polling: boolean;
  private readonly pollIntervalMs: number;

  /**
   * @param options - broker, retry engine, tracker, funds, validator, reconciler, clock
   * @throws ValidationError (`validation`) for a bad option
   */
  constructor(options: OrderExecutionCoordinatorOptions) {
    const o = parseInput(OptionsSchema, options, "options");
    this.broker = checkBroker(o.broker);
    this.retry = o.retry;
    this.tracker = o.tracker;
    this.funds = o.funds;
    this.validator = o.validator;
    this.reconciler = o.reconciler;
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger ?? silentLogger;
    const d = ORDER_EXECUTION_COORDINATOR_DEFAULTS;
    this.finalTimeoutMs = o.finalTimeoutMs ?? d.finalTimeoutMs;
    this.streamWaitMs = o.streamWaitMs ?? d.streamWaitMs;
    this.polling = o.polling ?? d.polling;
    this.pollIntervalMs = o.pollIntervalMs ?? d.pollIntervalMs;
  }

  /**
   * Executes one order to a final state.
   *
   * @param input - the intent (validated with zod)
   * @param options - runId, generation, signal
   * @returns the order's {@link OrderOutcome}
   * @throws ValidationError (`validation`) for a malformed intent (nothing is sent); the abort
   *   reason when `options.signal` aborts
   * @example
   * ```ts
   * const o = await coordinator.executeOrder({ symbol: "FNGU", side: "sell", qty: 700, type: "market", timeInForce: "day" }, { runId });
   * ```
   */
  async executeOrder(
    input: OrderIntentInput | OrderIntent,
    options: ExecuteOrderOptions,
  ): Promise<OrderOutcome> {
    const { intent, generation, firstId, refusal } = await this.begin(input, options);
    if (refusal !== undefined) return refusal;
    const reserved = await this.reserve(intent, firstId);
    if (!reserved.ok) return reserved.refusal;
    try {
      await this.waitForHealthyStream(options.signal);
      const submittedAt = this.clock.now();
      const sent = await this.send(intent, firstId, generation, options);
      if ("outcome" in sent) return sent.outcome;
      if (sent.ok) options.onAccepted?.(sent.order, sent.attempts);
      return await this.settle(intent, sent, submittedAt, options.signal);
    } finally {
      if (reserved.key !== undefined) this.funds?.release(reserved.key);
    }
  }

  /** Checks the intent, names its first client order id, and refuses it when the breaker or a check says so. */
  private async begin(input: OrderIntentInput | OrderIntent, options: ExecuteOrderOptions) {
    const intent = parseOrderIntent(input);
    throwIfAborted(options.signal);
    const generation = options.generation ?? 0;
    const firstId = clientOrderId({
      runId: options.runId,
      symbol: intent.symbol,
      side: intent.side,
      generation,
    });
    const refusal = await this.refusalBeforeSend(intent, firstId);
    return { intent, generation, firstId, refusal };
  }

  /** The outcome of an order refused before anything is sent: the breaker is open, or a check failed. */
  private async refusalBeforeSend(intent: OrderIntent, id: string): Promise<OrderOutcome | undefined> {
    if (this.retry.halted) {
      return this.refused(intent, id, "halted", "[ordersafe] circuit breaker open: new submissions halted");
    }
    if (this.validator === undefined) return undefined;
    const v = await this.validator.validate(intent);
    if (v.ok) return undefined;
    const failed = v.checks
      .filter((c) => !c.ok)
      .map((c) => `${c.name}${c.message ? ` (${c.message})` : ""}`)
      .join(", ");
    return this.refused(intent, id, "rejected", `[ordersafe] pre-order checks failed: ${failed}`);
  }

  /** Reserves a buy's funds under its first client order id; a shortfall refuses the order. */
  private async reserve(
    intent: OrderIntent,
    id: string,
  ): Promise<{ ok: true; key: string | undefined } | { ok: false; refusal: OrderOutcome }> {
    if (intent.side !== "buy" || this.funds === undefined) return { ok: true, key: undefined };
    const r = await this.funds.reserve({ ...intent, clientOrderId: id });
    if (r.ok) return { ok: true, key: id };
    if (r.reason === "strategy_cap") {
      const message = "[ordersafe] the buy would take the strategy past its strategyCap: not sent";
      return { ok: false, refusal: this.refused(intent, id, "strategy_cap", message) };
    }
    return {
      ok: false,
      refusal: this.refused(
        intent,
        id,
        "insufficient_buying_power",
        "[ordersafe] not enough buying power to reserve",
      ),
    };
  }

  /** Sends the order: a close of the whole position, or a submit with retries. */
  private send(
    intent: OrderIntent,
    firstId: string,
    generation: number,
    options: ExecuteOrderOptions,
  ): Promise<SubmitResult | { outcome: OrderOutcome }> {
    if (options.closePosition === true && intent.side === "sell") {
      return this.closePosition(intent, firstId, options.signal);
    }
    return this.retry.executeWithRetry(intent, {
      runId: options.runId,
      generation,
      signal: options.signal,
      ...(options.onSubmitted ? { onSubmit: options.onSubmitted } : {}),
      ...(options.resizeBuy ? { resizeBuy: options.resizeBuy } : {}),
    });
  }

  /**
   * Follows a sent order to its final state. A submit that may have taken effect is followed
   * by client order id rather than called failed; a rejected or unresolved order counts toward
   * the circuit breaker; a fill is reconciled.
   */
  private async settle(
    intent: OrderIntent,
    result: SubmitResult,
    submittedAt: number,
    signal: AbortSignal | undefined,
  ): Promise<OrderOutcome> {
    if (!result.ok) {
      if (result.unresolved) {
        const final = await this.follow(result.clientOrderId, undefined, signal);
        return this.finalOutcome(final, { ...result, adopted: false, recovered: false, submittedAt });
      }
      return this.submitFailed(result.intent, result.clientOrderId, submittedAt, result);
    }
    const final = await this.follow(result.clientOrderId, result.order, signal);
    const outcome = this.finalOutcome(final, { ...result, adopted: false, submittedAt });
    if (outcome.state === "rejected" || outcome.state === "unresolved") {
      this.retry.recordFailure(`${outcome.symbol} ${outcome.side}: ${outcome.state}`);
    }
    if (this.reconciler !== undefined && outcome.filledQty.gt(0)) {
      await this.reconcileAfter(this.reconciler, intent.symbol, final, signal);
    }
    return outcome;
  }

  /** Reconciles the position after a fill; a failure is logged, never thrown (but the abort). */
  private async reconcileAfter(
    reconciler: PositionReconciliation,
    symbol: string,
    final: FinalOrderState,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    try {
      await reconciler.reconcileAfterOrder({ ...final, symbol });
    } catch (e) {
      if (signal?.aborted) throw e;
      this.logger.warn({ symbol, error: String(e) }, "[ordersafe] reconcile after order failed");
    }
  }

  /**
   * Closes a position. `closePosition` orders carry a broker-made id that cannot be looked
   * up, so a lost reply (`ambiguous`) is settled through the call's own idempotence: asked
   * again, the broker answers `not_found` when the first close already emptied the
   * position, `insufficient_quantity` while the first close is still working (it is then
   * found among the open orders and followed), or places the close the first call never did.
   */
  private async closePosition(
    intent: OrderIntent,
    id: string,
    signal?: AbortSignal,
  ): Promise<SubmitResult | { outcome: OrderOutcome }> {
    const adjustments: readonly string[] = [];
    const base = { intent, clientOrderId: id, generation: 0, adjustments };
    let ambiguous = false;
    let attempts = 0;
    const firstAt = this.clock.now();
    for (;;) {
      attempts++;
      try {
        const order = await this.broker.closePosition(intent.symbol, { signal });
        return { ok: true, order, recovered: false, ...base, attempts, clientOrderId: order.clientOrderId };
      } catch (e) {
        if (signal?.aborted) throw e;
        const code = isBrokerError(e) ? e.code : "unknown";
        const message = e instanceof Error ? e.message : String(e);
        if (code === "ambiguous" && attempts < CLOSE_ATTEMPTS) {
          ambiguous = true;
          continue;
        }
        if (ambiguous && code === "insufficient_quantity") {
          const working = await this.findWorkingClose(intent.symbol, signal);
          if (working !== undefined) {
            return {
              ok: true,
              order: working,
              recovered: true,
              ...base,
              attempts,
              clientOrderId: working.clientOrderId,
            };
          }
          // It filled between the two reads: ask again, and `not_found` will say so.
          if (attempts < CLOSE_ATTEMPTS) continue;
        }
        if (ambiguous && code === "not_found") {
          // The lost close emptied the position: the order history names it, when there is one.
          const closed = await this.findFinishedClose(intent.symbol, firstAt, signal);
          if (closed !== undefined) {
            return {
              ok: true,
              order: closed,
              recovered: true,
              ...base,
              attempts,
              clientOrderId: closed.clientOrderId,
            };
          }
          return { outcome: this.lostClose(intent, id, attempts) };
        }
        return { ok: false, code, message, unresolved: false, ...base, attempts };
      }
    }
  }

  /**
   * A close whose lost reply emptied the position: its order cannot be named, so its fill
   * cannot be read. Unresolved, loudly, never a failure or a silent success.
   */
  private lostClose(intent: OrderIntent, id: string, attempts: number): OrderOutcome {
    return {
      ...this.submitFailed(intent, id, this.clock.now(), {
        attempts,
        code: "ambiguous",
        message:
          "[ordersafe] the position was closed by a close whose reply was lost; its order id and fill price are unknown",
      }),
      state: "unresolved",
    };
  }

  /**
   * The close a lost reply placed, from the account's order history: the one sell of the
   * symbol submitted since the first close call (a little before, for clock skew) that is not
   * one of ordersafe's own orders (whose client order ids start with `os-`). Undefined without
   * an order history, when the history cannot be read, or when it does not name exactly one.
   */
  private async findFinishedClose(
    symbol: string,
    since: number,
    signal?: AbortSignal,
  ): Promise<OrderSnapshot | undefined> {
    const list = this.broker.listOrders;
    if (list === undefined || this.broker.capabilities.orderHistory !== true) return undefined;
    try {
      const after = new Date(since - CLOSE_SKEW_MS);
      const orders = await list.call(this.broker, { status: "all", after, symbols: [symbol] }, { signal });
      const closes = orders.filter(
        (o) =>
          o.symbol === symbol && o.side === "sell" && !o.clientOrderId.startsWith(CLIENT_ORDER_ID_PREFIX),
      );
      return closes.length === 1 ? closes[0] : undefined;
    } catch (e) {
      if (signal?.aborted) throw e;
      return undefined;
    }
  }

  private async findWorkingClose(symbol: string, signal?: AbortSignal): Promise<OrderSnapshot | undefined> {
    try {
      const open = await this.broker.listOpenOrders({ signal });
      return open.find((o) => o.symbol === symbol && o.side === "sell");
    } catch (e) {
      if (signal?.aborted) throw e;
      return undefined;
    }
  }

  /**
   * Holds a new submission (at most `streamWaitMs`) while the stream is unhealthy: on the
   * tracker's health transition when it offers one (no poll interval lost), else polling.
   */
  private async waitForHealthyStream(signal?: AbortSignal): Promise<void> {
    const tracker = this.tracker;
    if (tracker === undefined || this.polling || this.streamWaitMs <= 0 || tracker.isStreamHealthy()) return;
    if (tracker.waitForHealthyStream !== undefined) {
      try {
        await tracker.waitForHealthyStream({ timeoutMs: this.streamWaitMs, ...(signal ? { signal } : {}) });
      } catch (e) {
        // A tracker closed meanwhile: the submission goes on as after the timeout.
        if (signal?.aborted) throw e;
      }
      return;
    }
    const until = this.clock.now() + this.streamWaitMs;
    while (!tracker.isStreamHealthy() && this.clock.now() < until) {
      await this.clock.sleep(Math.min(100, until - this.clock.now()), signal);
    }
  }

  /** Follows an order to a final state: through the tracker, or by bounded REST polling. */
  private async follow(
    id: string,
    order: OrderSnapshot | undefined,
    signal?: AbortSignal,
  ): Promise<FinalOrderState> {
    if (this.tracker !== undefined && !this.polling) {
      try {
        this.tracker.track(order ?? { clientOrderId: id });
        return await this.tracker.waitForFinal(order?.clientOrderId ?? id, {
          timeoutMs: this.finalTimeoutMs,
          signal,
        });
      } catch (e) {
        if (signal?.aborted) throw e;
        this.logger.warn(
          { clientOrderId: id, error: String(e) },
          "[ordersafe] tracker failed; polling instead",
        );
      }
    }
    return this.poll(id, order, signal);
  }

  private async poll(
    id: string,
    order: OrderSnapshot | undefined,
    signal?: AbortSignal,
  ): Promise<FinalOrderState> {
    let state: OrderState = createOrderState({
      clientOrderId: order?.clientOrderId ?? id,
      status: order === undefined ? "submit_unconfirmed" : "pending_submit",
      at: this.clock.now(),
    });
    if (order !== undefined)
      state = transition(state, { type: "submitted", snapshot: order, at: this.clock.now() }).state;
    const deadline = this.clock.now() + this.finalTimeoutMs;
    let misses = 0;
    while (!isFinalOrderStatus(state.status)) {
      if (this.clock.now() >= deadline) {
        state = transition(state, {
          type: "unresolved",
          at: this.clock.now(),
          reason: "no final state within the bound",
        }).state;
        break;
      }
      await this.clock.sleep(this.pollIntervalMs, signal);
      try {
        const snap =
          state.orderId !== undefined
            ? await this.broker.getOrder(state.orderId, { signal })
            : await this.broker.getOrderByClientOrderId(state.clientOrderId, { signal });
        if (snap !== null) {
          misses = 0;
          state = transition(state, { type: "snapshot", snapshot: snap, at: this.clock.now() }).state;
        } else if (state.orderId === undefined && ++misses >= 5) {
          state = transition(state, {
            type: "submit_failed",
            at: this.clock.now(),
            reason: "not found at the broker",
          }).state;
        }
      } catch (e) {
        if (signal?.aborted) throw e;
        // A failed read is never "not found": keep polling until the bound.
      }
    }
    return toFinalOrderState(state);
  }

  /** The outcome of an order that reached a final state. */
  private finalOutcome(
    final: FinalOrderState,
    sent: {
      intent: OrderIntent;
      attempts: number;
      adopted: boolean;
      recovered: boolean;
      adjustments: readonly string[];
      submittedAt: number;
    },
  ): OrderOutcome {
    const { intent } = sent;
    const failed =
      final.status === "rejected" || final.status === "submit_failed" || final.status === "unresolved";
    return {
      symbol: intent.symbol,
      side: intent.side,
      clientOrderId: final.clientOrderId,
      orderId: final.orderId,
      requestedQty: intent.qty,
      requestedNotional: intent.notional,
      filledQty: final.filledQty,
      avgPrice: final.filledAvgPrice,
      filledNotional: final.filledNotional,
      state: final.status,
      attempts: sent.attempts,
      adopted: sent.adopted,
      recovered: sent.recovered,
      errorCode: failed ? (final.status === "unresolved" ? "ambiguous" : "rejected") : undefined,
      errorMessage: failed ? (final.reason ?? final.snapshot?.rejectReason) : undefined,
      adjustments: sent.adjustments,
      submittedAt: sent.submittedAt,
      finalAt: final.at,
    };
  }

  /** The outcome of an order refused before anything was sent. */
  private refused(intent: OrderIntent, id: string, code: OrdersafeErrorCode | "unknown", message: string) {
    return this.submitFailed(intent, id, undefined, { attempts: 0, code, message });
  }

  /** The outcome of an order certainly never placed (`submit_failed`). */
  private submitFailed(
    intent: OrderIntent,
    id: string,
    submittedAt: number | undefined,
    f: {
      attempts: number;
      code: OrdersafeErrorCode | "unknown";
      message: string;
      adjustments?: readonly string[];
    },
  ): OrderOutcome {
    return {
      symbol: intent.symbol,
      side: intent.side,
      clientOrderId: id,
      orderId: undefined,
      requestedQty: intent.qty,
      requestedNotional: intent.notional,
      filledQty: ZERO,
      avgPrice: undefined,
      filledNotional: ZERO,
      state: "submit_failed",
      attempts: f.attempts,
      adopted: false,
      recovered: false,
      errorCode: f.code,
      errorMessage: f.message,
      adjustments: f.adjustments ?? [],
      submittedAt,
      finalAt: this.clock.now(),
    };
  }

  /**
   * Executes one order by an execution policy (a marketable or stepped limit, a spread gate, a
   * slippage cap): the same checks before it as {@link executeOrder} (the circuit breaker, the
   * validator), then {@link executeLeg} with each order of the chain reserved under its own
   * client order id (a limit buy holds limit × shares), then the position reconciled.
   *
   * @param input - the intent (validated with zod; its type and limit price are the policy's)
   * @param policy - the checked policy
   * @param options - runId, generation, signal, `onSubmitted` and `onAccepted` for each order of the chain
   * @param generationLimit - the first generation the chain may not use
   * @returns the leg's {@link OrderOutcome}: its last order, the fills of the whole chain, and
   *   `execution` (arrival mid, slippage, steps, the chain); `submit_failed` when nothing was
   *   sent (skipped by the spread gate or without a quote: the reason is in `errorMessage`)
   * @throws ValidationError (`validation`) for a malformed intent; the abort reason
   */
  async executeWithPolicy(
    input: OrderIntentInput | OrderIntent,
    policy: ExecutionPolicy,
    options: ExecuteOrderOptions,
    generationLimit?: number,
  ): Promise<OrderOutcome> {
    const { intent, generation, firstId, refusal } = await this.begin(input, options);
    if (refusal !== undefined) return refusal;
    const leg: PolicyLeg =
      intent.qty !== undefined
        ? { symbol: intent.symbol, side: intent.side, qty: intent.qty }
        : { symbol: intent.symbol, side: intent.side, notional: intent.notional ?? ZERO };
    let attempt = 0;
    const report = await executeLeg(leg, policy, {
      broker: this.broker,
      clock: this.clock,
      runId: options.runId,
      generation,
      ...(generationLimit !== undefined ? { generationLimit } : {}),
      ...(this.funds !== undefined ? { funds: this.legFunds(intent, this.funds) } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      onSend: (request) => options.onSubmitted?.(request, ++attempt),
      onAccepted: (order) => options.onAccepted?.(order, attempt),
    });
    const outcome = this.legOutcome(intent, policy, report, firstId);
    if (outcome.state === "rejected" || outcome.state === "unresolved") {
      this.retry.recordFailure(`${outcome.symbol} ${outcome.side}: ${outcome.state}`);
    }
    await this.reconcileChain(report, intent.symbol, options.signal);
    return outcome;
  }

  /** The run's reservations, as a leg holds them: each order of the chain under its client order id. */
  private legFunds(intent: OrderIntent, funds: FundsReservation): LegFunds {
    return {
      reserve: async (key: string, _amount, order: HeldOrder) => {
        const r = await funds.reserve({
          symbol: intent.symbol,
          side: intent.side,
          type: order.type,
          timeInForce: intent.timeInForce,
          clientOrderId: key,
          ...(order.qty !== undefined ? { qty: order.qty } : {}),
          ...(order.notional !== undefined ? { notional: order.notional } : {}),
          ...(order.limitPrice !== undefined ? { limitPrice: order.limitPrice } : {}),
        });
        return r.ok;
      },
      release: (key: string) => {
        funds.release(key);
      },
    };
  }

  /** Reconciles the position after every order of a chain that filled. */
  private async reconcileChain(report: LegReport, symbol: string, signal?: AbortSignal): Promise<void> {
    const reconciler = this.reconciler;
    if (reconciler === undefined || report.filledQty.isZero()) return;
    for (const o of report.orders) {
      if (o.filledQty.isZero()) continue;
      try {
        const x = o.snapshot;
        await reconciler.reconcileAfterOrder({
          status: FINAL_ORDER_STATUSES.find((f) => f === x.status) ?? "unresolved",
          clientOrderId: x.clientOrderId,
          orderId: x.id,
          filledQty: x.filledQty,
          filledAvgPrice: x.filledAvgPrice,
          filledNotional: x.filledAvgPrice === undefined ? ZERO : x.filledAvgPrice.times(x.filledQty),
          snapshot: x,
          reason: undefined,
          at: this.clock.now(),
          symbol,
        });
      } catch (e) {
        if (signal?.aborted) throw e;
        this.logger.warn({ symbol, error: String(e) }, "[ordersafe] reconcile after order failed");
      }
    }
  }

  /** A leg's report as one {@link OrderOutcome}: the chain's last order and the fills of all of it. */
  private legOutcome(
    intent: OrderIntent,
    policy: ExecutionPolicy,
    r: LegReport,
    firstId: string,
  ): OrderOutcome {
    const last = r.orders.at(-1);
    const filledNotional = r.avgPrice === undefined ? ZERO : r.avgPrice.times(r.filledQty);
    const state = LEG_TO_ORDER_STATE[r.state];
    const why = r.notes.join("; ");
    const failed = state === "submit_failed" || state === "rejected" || state === "unresolved";
    return {
      symbol: intent.symbol,
      side: intent.side,
      clientOrderId: last?.clientOrderId ?? firstId,
      orderId: last?.id,
      requestedQty: r.requestedQty,
      requestedNotional: r.requestedNotional,
      filledQty: r.filledQty,
      avgPrice: r.avgPrice,
      filledNotional,
      state,
      attempts: r.orders.length,
      adopted: false,
      recovered: false,
      errorCode: failed
        ? state === "unresolved"
          ? "ambiguous"
          : state === "rejected"
            ? "rejected"
            : "unknown"
        : undefined,
      errorMessage: failed ? why || undefined : undefined,
      adjustments: [],
      submittedAt: r.orders.length > 0 ? r.startedAt : undefined,
      finalAt: r.endedAt,
      execution: {
        policy: policy.type,
        arrivalMid: r.arrivalMid,
        slippageBps: r.slippageBps,
        slippageDollars: r.slippageDollars,
        steps: r.steps,
        orders: r.orders.map((o) => ({
          clientOrderId: o.clientOrderId,
          orderId: o.id,
          type: o.type,
          limitPrice: o.limitPrice,
          status: o.status,
          filledQty: o.filledQty,
          via: o.via,
        })),
        notes: r.notes,
      },
    };
  }

  /**
   * Follows an order already at the broker (found on resume) to its final state.
   *
   * @param order - the broker's snapshot
   * @param signal - aborts
   * @returns its outcome, marked `adopted`
   */
  async adopt(order: OrderSnapshot, signal?: AbortSignal): Promise<OrderOutcome> {
    const final = await this.follow(order.clientOrderId, order, signal);
    const intent: OrderIntent = {
      symbol: order.symbol,
      side: order.side,
      type: order.type,
      timeInForce: order.timeInForce,
      ...(order.qty !== undefined ? { qty: order.qty } : {}),
      ...(order.notional !== undefined ? { notional: order.notional } : {}),
    };
    return this.finalOutcome(final, {
      intent,
      attempts: 0,
      adopted: true,
      recovered: false,
      adjustments: ["adopted from an earlier attempt of this run"],
      submittedAt: order.createdAt?.getTime() ?? this.clock.now(),
    });
  }
}
