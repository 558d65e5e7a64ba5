import { Decimal } from "../core/decimal.js";
import { OrdersafeError, ValidationError } from "../core/errors.js";
import { zWithMethods } from "../core/validation.js";
import type { JournalStore } from "../journal/journal-store.js";

/**
 * The defaults of the coordination port, in one place.
 *
 * @example
 * ```ts
 * lease.acquire("bot-1", COORDINATION_DEFAULTS.leaseTtlMs);
 * ```
 */
export const COORDINATION_DEFAULTS = {
  /** How long an account lease lives without a renewal (ms). */
  leaseTtlMs: 15_000,
  /** How long an unbound reservation lives before it expires (ms). */
  reservationTtlMs: 30_000,
  /**
   * How long a released hold is still counted (ms): the fill that ended its order may not be in
   * an account read another process is about to reserve against.
   */
  releaseLingerMs: 30_000,
  /** A bound hold whose orders are absent from the broker's open orders for this long is released (ms). */
  reconcileGraceMs: 60_000,
  /** One API key's request budget per minute (Alpaca's: 200). */
  requestsPerMinute: 200,
} as const;

/** The states of a hold, in order of its life. */
export const HOLD_STATES = ["reserved", "bound", "released"] as const;
/** A hold's state: one of {@link HOLD_STATES}. */
export type HoldState = (typeof HOLD_STATES)[number];

/** What a reservation holds, as the ledger reports it. */
export interface Hold {
  /** The reservation's key (the first client order id of the buy). */
  readonly key: string;
  /** The strategy that reserved it. */
  readonly strategyId: string;
  /** The amount held, in micro-dollars (an integer). */
  readonly amount: number;
  /** `reserved` (expires at `expiresAt`), `bound` (never expires by a timer), `released` (lingers until `expiresAt`). */
  readonly state: HoldState;
  /** The client order ids bound to it (every order sent for it). */
  readonly clientOrderIds: readonly string[];
  /** When it was reserved, bound or released (ms, the store's clock). */
  readonly at: number;
  /** When it expires (ms, the store's clock); undefined while bound. */
  readonly expiresAt: number | undefined;
}

/** A reservation request: amounts in micro-dollars (integers). */
export interface HoldRequest {
  /** The reservation's key: unique for the account (the buy's first client order id). */
  readonly key: string;
  /** The strategy reserving. */
  readonly strategyId: string;
  /** The amount to hold, in micro-dollars. */
  readonly amount: number;
  /**
   * The account's funding basis (cash or buying power) as just read, in micro-dollars: the
   * holds of every process together never exceed it.
   */
  readonly capacity: number;
  /** How long the hold lives unbound (ms). @defaultValue `COORDINATION_DEFAULTS.reservationTtlMs` */
  readonly ttlMs?: number;
  /**
   * A cap of this request's own (a run's `strategyCap`), in micro-dollars, beside the one
   * {@link CoordinationLedger.setCap} stores: the strategy's live holds (reserved and bound,
   * every process's) plus `spent` plus `amount` must not pass it.
   */
  readonly strategyCap?: number;
  /**
   * What the requester already spent under `strategyCap` (its released holds), in
   * micro-dollars. @defaultValue 0
   */
  readonly spent?: number;
}

/** The answer to a reservation: refused ones say why and what was left. */
export type HoldResult =
  | { readonly ok: true; readonly reserved: number; readonly strategyReserved: number }
  | {
      readonly ok: false;
      /**
       * `insufficient`: the account's capacity; `strategy_cap`: the strategy's cap (stored, or
       * the request's `strategyCap`); `exists`: the key is taken.
       */
      readonly reason: "insufficient" | "strategy_cap" | "exists";
      /** What was left under the limit that refused it (micro-dollars). */
      readonly available: number;
    };

/**
 * The shared reservation ledger: every process on an account reserves here before it sends a
 * buy, so two processes can never both spend the same dollar.
 *
 * @remarks
 * Integers in micro-dollars. A hold is `reserved` (expires after its TTL, so a process that
 * dies before sending leaks nothing), then `bound` to the client order id right before the
 * order is sent (a bound hold never expires by a timer: the order may be live), then
 * `released` at the order's final state, or by {@link CoordinationLedger.reconcile} when the
 * broker's open orders show none of its orders. A released hold is still counted for
 * `releaseLingerMs` (the fill that ended it may not be in the next account read yet).
 */
export interface CoordinationLedger {
  /**
   * Reserves an amount when it fits the account's capacity (less every hold), the strategy's
   * stored cap (less the strategy's holds) and the request's own `strategyCap` (less the
   * strategy's live holds and what the requester `spent`), all checked and taken at once.
   *
   * @param request - key, strategy, amount, capacity, ttl
   * @returns ok with the totals, or the reason and what was left
   * @throws OrdersafeError (`coordination_unavailable`) when the store cannot be reached
   */
  reserve(request: HoldRequest): Promise<HoldResult>;
  /**
   * Binds a hold to a client order id about to be sent: it stops expiring.
   *
   * @returns false when the hold is gone (expired or released): the order must not be sent
   * @throws OrdersafeError (`coordination_unavailable`)
   */
  bind(key: string, clientOrderId: string): Promise<boolean>;
  /**
   * Releases a hold at its order's final state (idempotent); it lingers `releaseLingerMs`.
   *
   * @returns false when there was no live hold under the key
   * @throws OrdersafeError (`coordination_unavailable`)
   */
  release(key: string): Promise<boolean>;
  /**
   * Releases the bound holds none of whose client order ids is among the broker's open orders,
   * bound more than `graceMs` ago (a fresh order may be invisible for a moment).
   *
   * @param openClientOrderIds - the client order ids of the broker's open orders, just read
   * @param graceMs - how long a bound hold is left alone @defaultValue `COORDINATION_DEFAULTS.reconcileGraceMs`
   * @returns the keys released
   * @throws OrdersafeError (`coordination_unavailable`)
   */
  reconcile(openClientOrderIds: readonly string[], graceMs?: number): Promise<string[]>;
  /**
   * Sets (or, with null, removes) a strategy's cap in micro-dollars, for every process.
   *
   * @throws OrdersafeError (`coordination_unavailable`)
   */
  setCap(strategyId: string, amount: number | null): Promise<void>;
  /**
   * Every hold counted now (reserved, bound, and released but lingering).
   *
   * @throws OrdersafeError (`coordination_unavailable`)
   */
  holds(): Promise<Hold[]>;
}

/** What {@link CoordinationLease.acquire} answers. */
export type LeaseGrant =
  | { readonly ok: true; readonly token: string }
  | { readonly ok: false; readonly heldBy: string | undefined; readonly retryInMs: number };

/**
 * One run per account at a time, across processes: a lease with a token and a TTL.
 *
 * @remarks
 * The holder renews it while its run works and checks {@link CoordinationLease.holds} before
 * every write; a process whose lease lapsed (paused, partitioned) finds it gone and stops.
 */
export interface CoordinationLease {
  /**
   * Takes the lease when it is free (or lapsed).
   *
   * @param holder - a readable name of the taker (host:pid)
   * @param ttlMs - how long it lives without a renewal
   * @returns the token, or who holds it and when to try again
   * @throws OrdersafeError (`coordination_unavailable`)
   */
  acquire(holder: string, ttlMs: number): Promise<LeaseGrant>;
  /** Extends the lease; false when the token no longer holds it. @throws OrdersafeError (`coordination_unavailable`) */
  renew(token: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up; false when the token no longer held it. @throws OrdersafeError (`coordination_unavailable`) */
  release(token: string): Promise<boolean>;
  /** Whether the token holds the lease now. @throws OrdersafeError (`coordination_unavailable`) */
  holds(token: string): Promise<boolean>;
}

/**
 * One API key's request budget, shared by every process that uses the key.
 *
 * @remarks A token bucket of `requestsPerMinute`, refilled continuously.
 */
export interface RateLimiter {
  /**
   * Takes `cost` requests from the budget when they are there.
   *
   * @param cost - requests @defaultValue 1
   * @returns 0 when taken; otherwise how long to wait before asking again (ms)
   * @throws OrdersafeError (`coordination_unavailable`)
   */
  take(cost?: number): Promise<number>;
}

/**
 * What processes on one account share: the lease, the reservation ledger, the journal and
 * the rate budget. Pass one to `SmartRebalancer` as `coordination`.
 *
 * @remarks
 * {@link inProcessCoordination} shares them between rebalancers of one process;
 * `createRedisCoordination()` (entry `ordersafe/redis`) between processes and machines.
 */
export interface Coordination {
  /** What the coordination is (`"in-process"`, `"redis:ordersafe:"`). */
  readonly id: string;
  /** The account it coordinates. */
  readonly account: string;
  readonly lease: CoordinationLease;
  readonly ledger: CoordinationLedger;
  /** The journal every process on the account writes (a fenced one: appends check the lease). */
  readonly journal: JournalStore;
  readonly rateLimiter: RateLimiter;
  /**
   * Tells the journal which lease token this process holds, so that every append checks the
   * lease still holds (undefined: no check). The rebalancer calls it when it takes the lease.
   */
  fence(token: string | undefined): void;
}

/** An injected {@link Coordination}, checked by shape. */
export const zCoordination = zWithMethods<Coordination>("a Coordination", ["fence"]);

const MICROS = 1_000_000;

/**
 * Dollars as integer micro-dollars, rounded up (a hold never under-counts).
 *
 * @param dollars - an amount ≥ 0
 * @returns the micro-dollars, a safe integer
 * @throws ValidationError (`validation`) for a negative amount or one past 2^53 micro-dollars
 * @example
 * ```ts
 * toMicros(new Decimal("12.3456789")); // 12345679
 * ```
 */
export function toMicros(dollars: Decimal, rounding: "up" | "down" = "up"): number {
  const m = dollars
    .times(MICROS)
    .toDecimalPlaces(0, rounding === "up" ? Decimal.ROUND_UP : Decimal.ROUND_DOWN);
  if (m.isNeg() || !m.lte(Number.MAX_SAFE_INTEGER)) {
    throw new ValidationError(`amount ${dollars.toFixed()} is out of range`, {
      issues: [
        { path: "amount", message: "expected 0 ≤ amount < 2^53 micro-dollars", value: dollars.toFixed() },
      ],
    });
  }
  return m.toNumber();
}

/**
 * Micro-dollars as dollars.
 *
 * @param micros - an integer
 * @returns the dollars, exact
 * @example
 * ```ts
 * fromMicros(12345679).toFixed(); // "12.345679"
 * ```
 */
export function fromMicros(micros: number): Decimal {
  return new Decimal(micros).div(MICROS);
}

/**
 * Checks the optional cap of a reservation request and what was spent under it.
 *
 * @param request - the request
 * @returns the cap (undefined when none) and the amount spent (0 when not given)
 * @throws ValidationError (`validation`) unless each given is a safe integer ≥ 0
 */
export function requestCap(request: HoldRequest): { cap: number | undefined; spent: number } {
  return {
    cap: request.strategyCap === undefined ? undefined : checkMicros("strategyCap", request.strategyCap),
    spent: request.spent === undefined ? 0 : checkMicros("spent", request.spent),
  };
}

/**
 * Checks an amount in micro-dollars.
 *
 * @throws ValidationError (`validation`) unless a safe integer ≥ 0
 */
export function checkMicros(path: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${path}: expected an integer ≥ 0 (micro-dollars)`, {
      issues: [{ path, message: "expected an integer ≥ 0 (micro-dollars)", value }],
    });
  }
  return value;
}

/**
 * The error for a lease that no longer holds.
 *
 * @param account - the account
 * @returns an `OrdersafeError("lease_lost")`
 */
export function leaseLostError(account: string): OrdersafeError {
  return new OrdersafeError(
    "lease_lost",
    `the lease on account ${account} passed to another process: nothing more is written`,
    { details: { account }, retryable: false },
  );
}
