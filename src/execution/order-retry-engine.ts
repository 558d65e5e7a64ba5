import { z } from "zod";
import type { BrokerPort, OrderRequest, OrderSnapshot } from "../broker/broker-port.js";
import { isFinalBrokerStatus } from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { zBrokerPort } from "../broker/schemas.js";
import { type BackoffPolicy, backoffDelay } from "../core/backoff.js";
import { type Clock, systemClock, throwIfAborted } from "../core/clock.js";
import { type Decimal, floorToIncrement, minDecimal, ONE, ZERO } from "../core/decimal.js";
import {
  type BrokerErrorCode,
  isBrokerError,
  isOrdersafeError,
  type OrdersafeErrorCode,
} from "../core/errors.js";
import { clientOrderId, makeRunId } from "../core/ids.js";
import { IsolatedEmitter, isolateLogger } from "../core/isolation.js";
import type { Logger } from "../core/logger.js";
import { createRandom, type Random } from "../core/random.js";
import { parseInput, zClock, zLogger } from "../core/validation.js";
import type { OrderIntent } from "../funds/order-intent.js";

/**
 * What to do about a failed submit, decided from the error's code alone.
 * - `retry`: send the same request again under the same client order id (after `delayMs`).
 * - `lookup`: the submit may have taken effect: look the client order id up first and
 *   resend (same id) only when the broker certainly does not know it.
 * - `adopt`: the broker already has an order with this client order id: look it up and use it.
 * - `resize_buy`: re-read the buying power and shrink the buy (next generation's id).
 * - `cap_sell`: re-read the position and cap the sell at what is available (next generation's id).
 * - `cancel_conflicts`: cancel the opposite-side open orders on the symbol, confirm, retry.
 * - `fail`: nothing a retry can fix; the reason is reported.
 */
export type RetryAction =
  | "retry"
  | "lookup"
  | "adopt"
  | "resize_buy"
  | "cap_sell"
  | "cancel_conflicts"
  | "fail";

/** The decision of {@link OrderRetryEngine.classify}. */
export interface RetryDecision {
  /** What to do. */
  readonly action: RetryAction;
  /** The error code it was decided from (`unknown` for an error that is not an ordersafe error). */
  readonly code: OrdersafeErrorCode | "unknown";
  /** For `retry` and `lookup`: how long to wait first (ms). */
  readonly delayMs: number;
  /** A short human reason. */
  readonly reason: string;
}

/**
 * The defaults of {@link OrderRetryEngineOptions}, in one place: the constructor applies these.
 *
 * @example
 * ```ts
 * new OrderRetryEngine({ broker, maxRetries: ORDER_RETRY_ENGINE_DEFAULTS.maxRetries + 2 });
 * ```
 */
export const ORDER_RETRY_ENGINE_DEFAULTS = {
  seed: 1,
  maxRetries: 3,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  failureBudget: 5,
  marketBuyBuffer: 0.03,
  ambiguousLookups: 3,
  cancelConfirmChecks: 20,
  cancelConfirmIntervalMs: 250,
} as const satisfies Partial<OrderRetryEngineOptions>;

/** Options of {@link OrderRetryEngine}; defaults in {@link ORDER_RETRY_ENGINE_DEFAULTS}. */
export interface OrderRetryEngineOptions {
  /** The broker (wrapped by `checkBroker`). */
  broker: BrokerPort;
  /** The clock every wait runs on. @defaultValue systemClock */
  clock?: Clock;
  /** Where to log. @defaultValue silentLogger */
  logger?: Logger;
  /** Seed of the backoff jitter. @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.seed` (1) */
  seed?: number;
  /** Retries after the first attempt. @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.maxRetries` (3) */
  maxRetries?: number;
  /**
   * First backoff delay (ms), doubled per retry.
   * @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.baseDelayMs` (250)
   */
  baseDelayMs?: number;
  /** Longest backoff delay (ms). @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.maxDelayMs` (10000) */
  maxDelayMs?: number;
  /**
   * Consecutive failed orders that open the circuit breaker (halt new submissions).
   * @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.failureBudget` (5)
   */
  failureBudget?: number;
  /**
   * The hold on a market buy when resizing one (fraction of price).
   * @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.marketBuyBuffer` (0.03)
   */
  marketBuyBuffer?: number;
  /**
   * Lookups of an ambiguous submit's client order id before it counts as certainly absent.
   * @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.ambiguousLookups` (3)
   */
  ambiguousLookups?: number;
  /**
   * Status reads of a cancelled conflicting order before giving up on its confirmation.
   * @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.cancelConfirmChecks` (20)
   */
  cancelConfirmChecks?: number;
  /**
   * Delay between those reads (ms).
   * @defaultValue `ORDER_RETRY_ENGINE_DEFAULTS.cancelConfirmIntervalMs` (250)
   */
  cancelConfirmIntervalMs?: number;
  /**
   * Which open orders conflict cancels may touch (a strategy's own, with `cancelConflicts: "own"`).
   * An opposite-side order it does not own is never cancelled: the conflict stays unconfirmed.
   * @defaultValue every order
   */
  ownsOrder?: (order: OrderSnapshot) => boolean;
}

const OptionsSchema = z
  .object({
    broker: zBrokerPort,
    clock: zClock.optional(),
    logger: zLogger.optional(),
    seed: z.number().int().optional(),
    maxRetries: z.number().int().min(0).max(20).optional(),
    baseDelayMs: z.number().min(0).max(600_000).optional(),
    maxDelayMs: z.number().min(0).max(3_600_000).optional(),
    failureBudget: z.number().int().min(1).max(1000).optional(),
    marketBuyBuffer: z.number().min(0).max(1).optional(),
    ambiguousLookups: z.number().int().min(1).max(50).optional(),
    cancelConfirmChecks: z.number().int().min(1).max(1000).optional(),
    cancelConfirmIntervalMs: z.number().min(0).max(600_000).optional(),
    ownsOrder: z.custom<(o: OrderSnapshot) => boolean>((v) => typeof v === "function").optional(),
  })
  .strict();

/** Per-call options of {@link OrderRetryEngine.executeWithRetry}. */
export interface ExecuteWithRetryOptions {
  /**
   * The run the order belongs to: client order ids come from (runId, symbol, side, generation).
   * @defaultValue a fresh id from the clock and a per-engine counter
   */
  runId?: string;
  /** The first generation to use. @defaultValue 0 */
  generation?: number;
  /** Retries after the first attempt (overrides the engine's). */
  maxRetries?: number;
  /** Aborts the waits and calls. */
  signal?: AbortSignal;
  /** Called with each request just before it is sent (for events and accounting). */
  onSubmit?: (request: OrderRequest, attempt: number) => void;
  /**
   * Replaces the default buy resize (re-read account, price, asset; fit the buy in the buying
   * power). Return the smaller intent, or null when nothing can be bought.
   */
  resizeBuy?: (intent: OrderIntent, signal?: AbortSignal) => Promise<OrderIntent | null>;
}

/** The outcome of {@link OrderRetryEngine.executeWithRetry}: a result, never thrown for a refusal. */
export type SubmitResult =
  | {
      readonly ok: true;
      /** The broker's answer (or the order found by its client order id). */
      readonly order: OrderSnapshot;
      /** The intent as finally sent (smaller than asked after a resize or a cap). */
      readonly intent: OrderIntent;
      /** The client order id the order carries. */
      readonly clientOrderId: string;
      /** Its generation. */
      readonly generation: number;
      /** Submit calls made. */
      readonly attempts: number;
      /**
       * Whether the order was found at the broker by its client order id (after an ambiguous
       * submit, or a submit refused as a duplicate) rather than accepted by our call.
       */
      readonly recovered: boolean;
      /** Why the intent changed, when it did. */
      readonly adjustments: readonly string[];
    }
  | {
      readonly ok: false;
      /** Why: the last error's code, or `halted` when the circuit breaker is open. */
      readonly code: OrdersafeErrorCode | "unknown";
      /** The last error's message. */
      readonly message: string;
      /** The intent last tried. */
      readonly intent: OrderIntent;
      /** The client order id last used. */
      readonly clientOrderId: string;
      /** Its generation. */
      readonly generation: number;
      /** Submit calls made. */
      readonly attempts: number;
      /**
       * True when the order may exist at the broker (an ambiguous submit the lookups could not
       * settle): it must be tracked by client order id, not called a failure.
       */
      readonly unresolved: boolean;
      /** Why the intent changed, when it did. */
      readonly adjustments: readonly string[];
    };

/** Events of {@link OrderRetryEngine}. */
export interface OrderRetryEngineEvents {
  /** A submit is retried. */
  retry: (info: { clientOrderId: string; attempt: number; decision: RetryDecision }) => void;
  /**
   * A submit failed (before any retry, lookup or resize it leads to): every broker refusal
   * is told here, the ones a resized retry then got past included.
   */
  failure: (info: { clientOrderId: string; attempt: number; code: OrdersafeErrorCode | "unknown" }) => void;
  /** The circuit breaker opened: new submissions are refused until {@link OrderRetryEngine.reset}. */
  halted: (info: { consecutiveFailures: number; lastReason: string; at: number }) => void;
  /** The circuit breaker was closed again. */
  reset: () => void;
}

/**
 * The backoff's exponent stops growing here (core's `backoffDelay` stops at 30): past it the
 * delay is `maxDelayMs` anyway unless `baseDelayMs` is tiny, and then it stays as it was.
 */
const BACKOFF_MAX_EXPONENT = 20;

const DECISIONS: Readonly<Record<BrokerErrorCode, Omit<RetryDecision, "code" | "delayMs">>> = {
  unavailable: { action: "retry", reason: "the request did not take effect; resend under the same id" },
  ambiguous: { action: "lookup", reason: "the request may have taken effect; look the id up first" },
  rate_limited: { action: "retry", reason: "rate limited; wait and resend under the same id" },
  insufficient_buying_power: { action: "resize_buy", reason: "re-read the buying power and resize" },
  insufficient_quantity: { action: "cap_sell", reason: "re-read the position and cap the sell" },
  wash_trade: { action: "cancel_conflicts", reason: "cancel the opposite-side order, confirm, retry" },
  duplicate_client_order_id: { action: "adopt", reason: "the order exists: adopt it" },
  min_notional: { action: "fail", reason: "below the minimum notional" },
  not_fractionable: { action: "fail", reason: "the asset is not fractionable" },
  invalid_order: { action: "fail", reason: "the broker refused the order as invalid" },
  not_found: { action: "fail", reason: "not found" },
  not_cancelable: { action: "fail", reason: "not cancelable" },
  market_closed: { action: "fail", reason: "the market is closed" },
  unauthorized: { action: "fail", reason: "unauthorized" },
  forbidden: { action: "fail", reason: "forbidden" },
  // A submit the broker answered with something unreadable reached it: the order may exist.
  protocol: { action: "lookup", reason: "malformed reply to a submit; look the id up first" },
  rejected: { action: "fail", reason: "rejected by the broker" },
};

/**
 * Turns broker errors into retry decisions and submits orders with bounded, idempotent
 * retries, behind a circuit breaker.
 *
 * @remarks
 * - Idempotent: an unchanged retry keeps its client order id, so the broker can never hold
 *   two orders for one attempt; a resized retry (buying power, quantity) takes the next
 *   generation's id. An `ambiguous` submit is looked up by client order id before anything
 *   is resent, and resent only when the broker certainly does not know it.
 * - Every wait runs on the injected clock, with seeded jitter: a run replays identically.
 * - Circuit breaker: `failureBudget` consecutive failed orders set {@link halted}, emit
 *   `halted`, and make every later `executeWithRetry` return `{ ok: false, code: "halted" }`
 *   without calling the broker, until {@link reset}.
 *
 * @example
 * ```ts
 * const engine = new OrderRetryEngine({ broker, clock, seed: 7 });
 * const r = await engine.executeWithRetry(
 *   { symbol: "TECL", side: "buy", qty: new Decimal(10), type: "market", timeInForce: "day" },
 *   { runId: "2026-11-25" },
 * );
 * if (!r.ok) console.warn(r.code, r.message);
 * ```
 */
export class OrderRetryEngine extends IsolatedEmitter<OrderRetryEngineEvents> {
  private readonly broker: BrokerPort;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: Random;
  private readonly maxRetries: number;
  private readonly backoffPolicy: BackoffPolicy;
  private readonly failureBudget: number;
  private readonly marketBuyBuffer: Decimal;
  private readonly ambiguousLookups: number;
  private readonly cancelConfirmChecks: number;
  private readonly cancelConfirmIntervalMs: number;
  private readonly ownsOrder: ((order: OrderSnapshot) => boolean) | undefined;
  private readonly seed: number;
  private calls = 0;
  private consecutive = 0;
  private isHalted = false;

  /**
   * @param options - broker, clock, seed, limits
   * @throws ValidationError (`validation`) for a bad option
   */
  constructor(options: OrderRetryEngineOptions) {
    super();
    const o = parseInput(OptionsSchema, options, "options");
    this.broker = checkBroker(o.broker);
    this.clock = o.clock ?? systemClock;
    this.logger = isolateLogger(o.logger);
    this.setListenerLogger(this.logger);
    const d = ORDER_RETRY_ENGINE_DEFAULTS;
    this.seed = o.seed ?? d.seed;
    this.random = createRandom(this.seed);
    this.maxRetries = o.maxRetries ?? d.maxRetries;
    this.backoffPolicy = {
      initialMs: o.baseDelayMs ?? d.baseDelayMs,
      maxMs: o.maxDelayMs ?? d.maxDelayMs,
      // Equal jitter: half fixed, half seeded-random, so retries of many orders spread out.
      jitter: "equal",
    };
    this.failureBudget = o.failureBudget ?? d.failureBudget;
    this.marketBuyBuffer = ONE.times(o.marketBuyBuffer ?? d.marketBuyBuffer);
    this.ambiguousLookups = o.ambiguousLookups ?? d.ambiguousLookups;
    this.cancelConfirmChecks = o.cancelConfirmChecks ?? d.cancelConfirmChecks;
    this.cancelConfirmIntervalMs = o.cancelConfirmIntervalMs ?? d.cancelConfirmIntervalMs;
    this.ownsOrder = o.ownsOrder;
  }

  /** Whether the circuit breaker is open (new submissions refused). */
  get halted(): boolean {
    return this.isHalted;
  }

  /** Consecutive failed orders so far. */
  get consecutiveFailures(): number {
    return this.consecutive;
  }

  /**
   * Opens the circuit breaker at once (the run's lease passed to another process): every later
   * submission is refused without being sent.
   *
   * @param reason - why, reported with `halted`
   */
  halt(reason: string): void {
    this.consecutive = Math.max(this.consecutive, this.failureBudget - 1);
    this.recordFailure(reason);
  }

  /** Closes the circuit breaker and clears the failure count. */
  reset(): void {
    const was = this.isHalted;
    this.isHalted = false;
    this.consecutive = 0;
    if (was) this.emit("reset");
  }

  /**
   * Records an order that succeeded (clears the consecutive-failure count).
   */
  recordSuccess(): void {
    this.consecutive = 0;
  }

  /**
   * Records an order that failed after submission (rejected after acceptance, say): counts
   * toward the circuit breaker like a failed submit.
   *
   * @param reason - why, reported with `halted`
   */
  recordFailure(reason: string): void {
    this.consecutive += 1;
    if (!this.isHalted && this.consecutive >= this.failureBudget) {
      this.isHalted = true;
      this.logger.error(
        { consecutiveFailures: this.consecutive, reason },
        "[ordersafe] circuit breaker open",
      );
      this.emit("halted", {
        consecutiveFailures: this.consecutive,
        lastReason: reason,
        at: this.clock.now(),
      });
    }
  }

  /**
   * Decides what to do about an error thrown by a submit.
   *
   * @param error - anything a port threw
   * @param attempt - the retry number it would be (0 for the first retry): scales the backoff
   * @returns the decision; errors that are not ordersafe errors are `fail`
   * @example
   * ```ts
   * engine.classify(new BrokerError("rate_limited", "slow down", { retryAfterMs: 1000 })).delayMs; // 1000
   * ```
   */
  classify(error: unknown, attempt = 0): RetryDecision {
    if (isBrokerError(error)) {
      const d = DECISIONS[error.code];
      let delayMs = 0;
      if (error.code === "rate_limited") {
        delayMs =
          error.retryAfterMs !== undefined && error.retryAfterMs >= 0
            ? error.retryAfterMs
            : this.backoff(attempt);
      } else if (d.action === "retry" || d.action === "lookup") {
        delayMs = this.backoff(attempt);
      }
      return { action: d.action, code: error.code, delayMs, reason: d.reason };
    }
    if (isOrdersafeError(error)) {
      return { action: "fail", code: error.code, delayMs: 0, reason: error.message };
    }
    return {
      action: "fail",
      code: "unknown",
      delayMs: 0,
      reason: error instanceof Error ? error.message : String(error),
    };
  }

  /**
   * Submits an intent with bounded retries, each decided by {@link classify}.
   *
   * @param intent - the order (a parsed {@link OrderIntent})
   * @param options - runId (client order ids), first generation, retries, signal
   * @returns a {@link SubmitResult}: `ok` with the broker's order, or the reason it failed
   * @throws the abort reason when `options.signal` aborts
   * @example
   * ```ts
   * const r = await engine.executeWithRetry(intent, { runId, maxRetries: 3 });
   * ```
   */
  async executeWithRetry(intent: OrderIntent, options: ExecuteWithRetryOptions = {}): Promise<SubmitResult> {
    const runId = options.runId ?? makeRunId(this.clock.now(), `${this.seed}:${++this.calls}`);
    const maxRetries = options.maxRetries ?? this.maxRetries;
    const s = new SubmitState(runId, intent, options.generation ?? 0);
    if (this.isHalted) {
      return s.failure("halted", "[ordersafe] circuit breaker open: new submissions halted", false);
    }
    for (let retry = 0; ; retry++) {
      const sent = await this.submitOnce(s, options);
      if (sent.ok) return this.succeeded(s, sent.order, false);
      const decision = this.classify(sent.error, retry);
      this.emit("failure", { clientOrderId: s.id, attempt: s.attempts, code: decision.code });
      const message = sent.error instanceof Error ? sent.error.message : String(sent.error);
      this.logger.warn(
        { clientOrderId: s.id, code: decision.code, action: decision.action },
        "[ordersafe] submit failed",
      );
      const ended = await this.afterFailedSubmit(s, decision, message, retry >= maxRetries, options);
      if (ended !== undefined) return ended;
      this.emit("retry", { clientOrderId: s.id, attempt: retry + 1, decision });
      if (decision.delayMs > 0) await this.clock.sleep(decision.delayMs, options.signal);
    }
  }

  /** Sends the intent as it stands under its current client order id (one attempt). */
  private async submitOnce(
    s: SubmitState,
    options: ExecuteWithRetryOptions,
  ): Promise<{ ok: true; order: OrderSnapshot } | { ok: false; error: unknown }> {
    const signal = options.signal;
    throwIfAborted(signal);
    const request = toRequest(s.intent, s.id);
    s.attempts += 1;
    options.onSubmit?.(request, s.attempts);
    try {
      return { ok: true, order: await this.broker.submitOrder(request, { signal }) };
    } catch (e) {
      if (signal?.aborted) throw e;
      return { ok: false, error: e };
    }
  }

  /**
   * What follows a failed submit: the result when the call ends here, or undefined to retry
   * (the state then holds the intent and id of the next attempt).
   */
  private async afterFailedSubmit(
    s: SubmitState,
    decision: RetryDecision,
    message: string,
    outOfRetries: boolean,
    options: ExecuteWithRetryOptions,
  ): Promise<SubmitResult | undefined> {
    if (decision.action === "adopt" || decision.action === "lookup") {
      const settled = await this.settleByLookup(s, decision, message, options.signal);
      if (settled !== undefined) return settled;
    }
    if (decision.action === "fail" || outOfRetries) {
      // Out of retries after an ambiguous submit its lookups did not find: the order may
      // still exist (a fresh order can be invisible for a while), so it is unresolved.
      return this.failed(s, decision.code, message, decision.action === "lookup");
    }
    return this.prepareRetry(s, decision, message, options);
  }

  /**
   * Looks the client order id up after a submit that may have taken effect (`lookup`) or that
   * the broker says exists (`adopt`): the order found is the result; an order refused outright
   * under this id is not ours to adopt, so the next attempt takes the next id.
   */
  private async settleByLookup(
    s: SubmitState,
    decision: RetryDecision,
    message: string,
    signal: AbortSignal | undefined,
  ): Promise<SubmitResult | undefined> {
    const found = await this.lookup(s.id, decision.action === "adopt" ? 1 : this.ambiguousLookups, signal);
    if (found.kind === "found") {
      if (found.order.status !== "rejected" || !found.order.filledQty.isZero()) {
        return this.succeeded(s, found.order, true);
      }
      s.nextGeneration();
      s.adjustments.push(`client order id ${found.order.clientOrderId} was used by a rejected order`);
      return undefined;
    }
    if (found.kind === "unknown") return this.failed(s, "ambiguous", message, true);
    // The broker says the id exists but cannot show it: never resend blindly.
    if (decision.action === "adopt") return this.failed(s, decision.code, message, true);
    return undefined;
  }

  /**
   * Changes what the next attempt sends: a smaller buy or a capped sell under the next
   * generation's id, or the same request once the conflicting order is cancelled. The result
   * when that is impossible, else undefined.
   */
  private async prepareRetry(
    s: SubmitState,
    decision: RetryDecision,
    message: string,
    options: ExecuteWithRetryOptions,
  ): Promise<SubmitResult | undefined> {
    const signal = options.signal;
    if (decision.action === "resize_buy" || decision.action === "cap_sell") {
      const resized =
        decision.action === "resize_buy"
          ? await (options.resizeBuy ?? ((i, sig) => this.defaultResizeBuy(i, sig)))(s.intent, signal)
          : await this.capSell(s.intent, signal);
      if (resized === null) return this.failed(s, decision.code, message);
      s.adjustments.push(describeResize(s.intent, resized, decision.code));
      s.intent = resized;
      s.nextGeneration();
    } else if (decision.action === "cancel_conflicts") {
      const confirmed = await this.cancelConflicts(s.intent, signal);
      if (!confirmed)
        return this.failed(s, decision.code, `${message} (the conflicting order could not be cancelled)`);
      s.adjustments.push("cancelled a conflicting opposite-side order");
    }
    return undefined;
  }

  /** A failed result; it counts toward the circuit breaker unless the order may exist. */
  private failed(
    s: SubmitState,
    code: OrdersafeErrorCode | "unknown",
    message: string,
    unresolved = false,
  ): SubmitResult {
    if (!unresolved) this.recordFailure(`${s.intent.symbol} ${s.intent.side}: ${code}`);
    return s.failure(code, message, unresolved);
  }

  /** A successful result; it clears the consecutive failures. */
  private succeeded(s: SubmitState, order: OrderSnapshot, recovered: boolean): SubmitResult {
    this.recordSuccess();
    return {
      ok: true,
      order,
      intent: s.intent,
      clientOrderId: s.id,
      generation: s.generation,
      attempts: s.attempts,
      recovered,
      adjustments: s.adjustments,
    };
  }

  /**
   * Cancels every open order on the intent's symbol on the other side, and waits (bounded)
   * until each is final.
   *
   * @param intent - the order that conflicts
   * @param signal - aborts
   * @returns true when every conflicting order is confirmed final
   */
  async cancelConflicts(
    intent: Pick<OrderIntent, "symbol" | "side">,
    signal?: AbortSignal,
  ): Promise<boolean> {
    let open: OrderSnapshot[];
    try {
      open = await this.broker.listOpenOrders({ signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      return false;
    }
    const conflicts = open.filter((o) => o.symbol === intent.symbol && o.side !== intent.side);
    // Another strategy's order is never cancelled: the conflict cannot be confirmed.
    if (this.ownsOrder !== undefined && !conflicts.every(this.ownsOrder)) return false;
    for (const o of conflicts) {
      try {
        await this.broker.cancelOrder(o.id, { signal });
      } catch (e) {
        if (signal?.aborted) throw e;
        // An ambiguous cancel may have landed: the confirmation below settles it.
        if (isBrokerError(e, "ambiguous")) continue;
        if (!isBrokerError(e, "not_cancelable") && !isBrokerError(e, "not_found")) return false;
      }
    }
    for (const o of conflicts) {
      if (!(await this.confirmFinal(o.id, signal))) return false;
    }
    return true;
  }

  /**
   * Reads an order until it is final, at most `cancelConfirmChecks` times.
   *
   * @param orderId - the broker's id
   * @param signal - aborts
   * @returns true when it is final (or unknown to the broker)
   */
  async confirmFinal(orderId: string, signal?: AbortSignal): Promise<boolean> {
    for (let i = 0; i < this.cancelConfirmChecks; i++) {
      try {
        const o = await this.broker.getOrder(orderId, { signal });
        if (o === null || isFinalBrokerStatus(o.status)) return true;
      } catch (e) {
        if (signal?.aborted) throw e;
      }
      await this.clock.sleep(this.cancelConfirmIntervalMs, signal);
    }
    return false;
  }

  private backoff(attempt: number): number {
    return backoffDelay(this.backoffPolicy, Math.min(attempt, BACKOFF_MAX_EXPONENT), this.random);
  }

  private async lookup(
    id: string,
    tries: number,
    signal?: AbortSignal,
  ): Promise<{ kind: "found"; order: OrderSnapshot } | { kind: "absent" } | { kind: "unknown" }> {
    let errors = 0;
    for (let i = 0; i < tries; i++) {
      try {
        const o = await this.broker.getOrderByClientOrderId(id, { signal });
        if (o !== null) return { kind: "found", order: o };
      } catch (e) {
        if (signal?.aborted) throw e;
        // A failed lookup is never read as "not found".
        errors += 1;
      }
      if (i < tries - 1) await this.clock.sleep(this.backoff(i), signal);
    }
    return errors > 0 ? { kind: "unknown" } : { kind: "absent" };
  }

  private async defaultResizeBuy(intent: OrderIntent, signal?: AbortSignal): Promise<OrderIntent | null> {
    try {
      const [account, prices, assets] = await Promise.all([
        this.broker.getAccount({ signal }),
        this.broker.getLatestPrices([intent.symbol], { signal }),
        this.broker.getAssets([intent.symbol], { signal }),
      ]);
      const asset = assets.find((a) => a.symbol === intent.symbol);
      const price = intent.type === "limit" ? intent.limitPrice : prices.get(intent.symbol);
      if (asset === undefined || price === undefined) return null;
      const available = minDecimal(account.buyingPower, account.cash.gt(0) ? account.cash : ZERO);
      const min = asset.minNotional ?? ZERO;
      if (intent.notional !== undefined) {
        const notional = floorToIncrement(minDecimal(intent.notional, available), "0.01");
        if (notional.lte(0) || notional.lt(min) || notional.gte(intent.notional)) return null;
        return { ...intent, notional };
      }
      const perShare = intent.type === "limit" ? price : price.times(ONE.plus(this.marketBuyBuffer));
      const qty = floorToIncrement(available.div(perShare), asset.qtyIncrement);
      if (intent.qty === undefined || qty.lte(0) || qty.gte(intent.qty) || qty.times(price).lt(min))
        return null;
      return { ...intent, qty };
    } catch (e) {
      if (signal?.aborted) throw e;
      return null;
    }
  }

  private async capSell(intent: OrderIntent, signal?: AbortSignal): Promise<OrderIntent | null> {
    try {
      const position = await this.broker.getPosition(intent.symbol, { signal });
      if (position === null || position.qtyAvailable.lte(0) || intent.qty === undefined) return null;
      if (position.qtyAvailable.gte(intent.qty)) return null;
      return { ...intent, qty: position.qtyAvailable };
    } catch (e) {
      if (signal?.aborted) throw e;
      return null;
    }
  }
}

/** One `executeWithRetry` call as it goes: the intent as it stands, its id, the attempts made. */
class SubmitState {
  /** The client order id the next attempt is sent under. */
  id: string;
  attempts = 0;
  /** Why the intent or its id changed, in order. */
  readonly adjustments: string[] = [];

  constructor(
    private readonly runId: string,
    public intent: OrderIntent,
    public generation: number,
  ) {
    this.id = this.idOf(generation);
  }

  /** Moves to the next generation's client order id: a new order of the same intent. */
  nextGeneration(): void {
    this.generation += 1;
    this.id = this.idOf(this.generation);
  }

  /** A failed result of the intent and id as they stand. */
  failure(code: OrdersafeErrorCode | "unknown", message: string, unresolved: boolean): SubmitResult {
    return {
      ok: false,
      code,
      message,
      intent: this.intent,
      clientOrderId: this.id,
      generation: this.generation,
      attempts: this.attempts,
      unresolved,
      adjustments: this.adjustments,
    };
  }

  private idOf(generation: number): string {
    return clientOrderId({
      runId: this.runId,
      symbol: this.intent.symbol,
      side: this.intent.side,
      generation,
    });
  }
}

function describeResize(from: OrderIntent, to: OrderIntent, code: OrdersafeErrorCode | "unknown"): string {
  const a = from.qty !== undefined ? `qty ${from.qty.toString()}` : `notional ${from.notional?.toString()}`;
  const b = to.qty !== undefined ? `qty ${to.qty.toString()}` : `notional ${to.notional?.toString()}`;
  return `${code}: ${a} -> ${b}`;
}

/**
 * The broker request for an intent under a client order id.
 *
 * @param intent - the intent
 * @param id - the client order id
 * @returns the request
 */
export function toRequest(intent: OrderIntent, id: string): OrderRequest {
  const r: OrderRequest = {
    clientOrderId: id,
    symbol: intent.symbol,
    side: intent.side,
    type: intent.type,
    timeInForce: intent.timeInForce,
  };
  if (intent.qty !== undefined) r.qty = intent.qty;
  if (intent.notional !== undefined) r.notional = intent.notional;
  if (intent.limitPrice !== undefined) r.limitPrice = intent.limitPrice;
  if (intent.extendedHours !== undefined) r.extendedHours = intent.extendedHours;
  return r;
}
