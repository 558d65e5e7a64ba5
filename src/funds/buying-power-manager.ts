import { z } from "zod";
import { accountStateOf } from "../account/account-registry.js";
import type { ExecutionRecord } from "../account/execution-record.js";
import { observedPort } from "../account/observed-port.js";
import { SETTLE_DEFAULTS, type SettleSettings, settleReads } from "../account/settle.js";
import type { AccountSnapshot, BrokerPort, CallOptions } from "../broker/broker-port.js";
import { checkBroker } from "../broker/checked-broker.js";
import { zBrokerPort } from "../broker/schemas.js";
import { AsyncMutex } from "../core/async-mutex.js";
import { type Clock, systemClock, throwIfAborted } from "../core/clock.js";
import { type Decimal, type DecimalLike, floorToIncrement, ONE, ZERO } from "../core/decimal.js";
import { OrdersafeError, ValidationError } from "../core/errors.js";
import { isolateLogger } from "../core/isolation.js";
import type { Logger } from "../core/logger.js";
import {
  parseInput,
  zClock,
  zLogger,
  zNonNegativeDecimal,
  zPositiveDecimal,
  zSymbol,
} from "../core/validation.js";
import { type OrderIntentInput, parseOrderIntent } from "./order-intent.js";
import { requiredFunds } from "./required-funds.js";
import {
  FUNDING_BASES,
  type FundingBasis,
  type LedgerRecomputeResult,
  RESERVATION_LEDGER_DEFAULTS,
  type Reservation,
  ReservationLedger,
} from "./reservation-ledger.js";

/**
 * The defaults of {@link BuyingPowerManager}'s options (see {@link BuyingPowerManagerOptions}):
 * those of its {@link ReservationLedger}; `clock` defaults to {@link systemClock} and `logger`
 * to a silent one.
 *
 * @example
 * ```ts
 * BUYING_POWER_MANAGER_DEFAULTS.fundingBasis; // "cash"
 * ```
 */
export const BUYING_POWER_MANAGER_DEFAULTS = Object.freeze({
  fundingBasis: RESERVATION_LEDGER_DEFAULTS.fundingBasis,
  marketBuyBuffer: RESERVATION_LEDGER_DEFAULTS.marketBuyBuffer,
  driftTolerance: RESERVATION_LEDGER_DEFAULTS.driftTolerance,
  pendingGraceMs: RESERVATION_LEDGER_DEFAULTS.pendingGraceMs,
  settleMs: SETTLE_DEFAULTS.settleMs,
  settleTimeoutMs: SETTLE_DEFAULTS.settleTimeoutMs,
  settlePollMs: SETTLE_DEFAULTS.settlePollMs,
} satisfies Required<Omit<BuyingPowerManagerOptions, "broker" | "clock" | "logger">>);

/** Options of {@link BuyingPowerManager}. Every default is in {@link BUYING_POWER_MANAGER_DEFAULTS}. */
export interface BuyingPowerManagerOptions {
  /** The broker; wrapped with `checkBroker`. */
  broker: BrokerPort;
  /**
   * The clock that stamps reservations, fills and acknowledgements.
   * @defaultValue systemClock
   */
  clock?: Clock;
  /**
   * Which account figure buys are funded from.
   * @defaultValue `BUYING_POWER_MANAGER_DEFAULTS.fundingBasis`
   */
  fundingBasis?: FundingBasis;
  /**
   * The extra fraction held on a quantity market buy.
   * @defaultValue `BUYING_POWER_MANAGER_DEFAULTS.marketBuyBuffer`
   */
  marketBuyBuffer?: DecimalLike;
  /**
   * Ledger drift tolerance in dollars.
   * @defaultValue `BUYING_POWER_MANAGER_DEFAULTS.driftTolerance`
   */
  driftTolerance?: DecimalLike;
  /**
   * Grace (ms) before an unacknowledged reservation missing at the broker is dropped by a recompute.
   * @defaultValue `BUYING_POWER_MANAGER_DEFAULTS.pendingGraceMs`
   */
  pendingGraceMs?: number;
  /**
   * An account read taken this long after the last fill this process knows is trusted even
   * when its cash differs from what the fills imply (ms); one that matches is trusted at once.
   * See `docs/consistency.md`.
   * @defaultValue `BUYING_POWER_MANAGER_DEFAULTS.settleMs` (10000)
   */
  settleMs?: number;
  /**
   * The longest wait for an account read to settle (ms); then the read fails with `unsettled`.
   * @defaultValue `BUYING_POWER_MANAGER_DEFAULTS.settleTimeoutMs` (30000)
   */
  settleTimeoutMs?: number;
  /**
   * The first wait before an account read that does not match is read again (ms, doubling).
   * @defaultValue `BUYING_POWER_MANAGER_DEFAULTS.settlePollMs` (250)
   */
  settlePollMs?: number;
  /**
   * Where drift is reported.
   * @defaultValue silentLogger
   */
  logger?: Logger;
}

const OptionsSchema = z
  .object({
    broker: zBrokerPort,
    clock: zClock.optional(),
    fundingBasis: z.enum(FUNDING_BASES).optional(),
    marketBuyBuffer: zNonNegativeDecimal.optional(),
    driftTolerance: zNonNegativeDecimal.optional(),
    pendingGraceMs: z.number().int().min(0).optional(),
    settleMs: z.number().int().min(0).max(600_000).optional(),
    settleTimeoutMs: z.number().int().min(0).max(3_600_000).optional(),
    settlePollMs: z.number().int().min(1).max(600_000).optional(),
    logger: zLogger.optional(),
  })
  .strict();

/** Options of {@link BuyingPowerManager.getAvailableBuyingPower}. */
export interface AvailableBuyingPowerOptions extends CallOptions {
  /**
   * Read the account now; `false` reuses the last snapshot when there is one (and no fill or
   * release happened since).
   * @defaultValue true
   */
  refresh?: boolean;
}

/** Options of {@link BuyingPowerManager.reserve}. */
export interface ManagerReserveOptions extends CallOptions {
  /** The reservation key; defaults to the intent's `clientOrderId`. */
  key?: string;
  /** The price to hold a quantity market buy at; defaults to the broker's last price. */
  price?: DecimalLike;
}

/** The outcome of {@link BuyingPowerManager.reserve}. */
export type ReserveResult =
  | { ok: true; reservation: Reservation }
  | { ok: false; shortfall: Decimal; required: Decimal; available: Decimal };

/** The size of an order to check: shares or dollars. */
export type OrderSize = { qty: DecimalLike } | { notional: DecimalLike };

/** Options of {@link BuyingPowerManager.validateOrderAffordability}. */
export interface AffordabilityOptions extends CallOptions {
  /**
   * How the order would be held: `market` (price × (1 + buffer)) or `limit` (at `price`).
   * @defaultValue "limit" when a price is given, else "market"
   */
  type?: "market" | "limit";
  /**
   * Read the account now.
   * @defaultValue true
   */
  refresh?: boolean;
}

/** Whether a buy fits, and the largest one that does. */
export interface AffordabilityReport {
  /** `required ≤ available`. */
  affordable: boolean;
  /** What the order would hold. */
  required: Decimal;
  /** What is available through the ledger. */
  available: Decimal;
  /** `max(0, required − available)`. */
  shortfall: Decimal;
  /** The price used (given, or the broker's last price). */
  price: Decimal;
  /** What one share holds: the price, times (1 + buffer) for a market order. */
  unitCost: Decimal;
  /** The asset's quantity increment (1 for a non-fractionable asset). */
  qtyIncrement: Decimal;
  /** The largest quantity on the increment whose hold fits in `available`. */
  maxAffordableQty: Decimal;
}

/**
 * Buying power from fresh broker figures through a {@link ReservationLedger}: what a new
 * buy can use, reservations that two concurrent callers can never both take, and an
 * affordability check that sizes a buy to what is there.
 *
 * @remarks
 * `reserve` runs one at a time (an async mutex): each reads the account afresh and sees
 * every earlier reservation, so two reserves can never both take the last dollar. An
 * earlier order counts as reflected by the read only when it was acknowledged strictly
 * before the read's `asOf`: the read may be answered in the same millisecond as the submit
 * returns and still miss the hold. The
 * caller acknowledges a reservation once the broker accepted the order, applies fills,
 * and releases it when the order is final; `recompute` rebuilds the ledger from the
 * broker's open orders so a missed release cannot leak. Sells reserve nothing: they free
 * money only when filled.
 *
 * @example
 * ```ts
 * const bp = new BuyingPowerManager({ broker });
 * const r = await bp.reserve({ symbol: "TECL", side: "buy", qty: 10, type: "market",
 *   timeInForce: "day", clientOrderId: "run1-TECL-buy-0" });
 * if (!r.ok) console.log(`short by ${r.shortfall}`);
 * ```
 */
export class BuyingPowerManager {
  /** The ledger (read it; change it only through the manager). */
  readonly ledger: ReservationLedger;
  readonly #broker: BrokerPort;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #mutex = new AsyncMutex();
  readonly #record: ExecutionRecord;
  readonly #settle: SettleSettings;
  #snapshot: AccountSnapshot | undefined;

  /**
   * @param options - broker, clock, funding basis, market-buy buffer, drift tolerance, logger
   * @throws ValidationError (`validation`) for a missing broker, an unknown option or a bad value
   */
  constructor(options: BuyingPowerManagerOptions) {
    const o = parseInput(OptionsSchema, options, "options");
    this.#clock = o.clock ?? systemClock;
    this.#record = accountStateOf(o.broker).record;
    this.#broker = observedPort(checkBroker(o.broker), this.#record, this.#clock);
    this.#logger = isolateLogger(o.logger);
    const d = BUYING_POWER_MANAGER_DEFAULTS;
    this.#settle = {
      settleMs: o.settleMs ?? d.settleMs,
      settleTimeoutMs: o.settleTimeoutMs ?? d.settleTimeoutMs,
      settlePollMs: o.settlePollMs ?? d.settlePollMs,
    };
    this.ledger = new ReservationLedger({
      fundingBasis: o.fundingBasis ?? d.fundingBasis,
      marketBuyBuffer: o.marketBuyBuffer ?? d.marketBuyBuffer,
      driftTolerance: o.driftTolerance ?? d.driftTolerance,
      pendingGraceMs: o.pendingGraceMs ?? d.pendingGraceMs,
    });
  }

  /** The last account snapshot read, if any. */
  get lastSnapshot(): AccountSnapshot | undefined {
    return this.#snapshot;
  }

  /**
   * The money a new buy can use: the funding basis of the account minus what the account
   * cannot reflect yet of the reservations.
   *
   * @param options - `refresh` (default true) and `signal`
   * @returns a decimal ≥ 0
   * @throws BrokerError (any code) when the account cannot be read
   * @example
   * ```ts
   * const free = await bp.getAvailableBuyingPower({ refresh: true });
   * ```
   */
  async getAvailableBuyingPower(options: AvailableBuyingPowerOptions = {}): Promise<Decimal> {
    const o = parseInput(
      CallOptionsSchema.extend({ refresh: z.boolean().optional() }).strict(),
      options,
      "options",
    );
    const snapshot = await this.#account(o.refresh ?? true, o.signal);
    return this.ledger.available(snapshot);
  }

  /**
   * Reserves the money a buy will hold, if the account (read now) can fund it.
   *
   * @param intent - the order; a buy is held at its notional, qty × limit, or
   *   qty × price × (1 + buffer); a sell holds nothing and is always ok
   * @param options - `key` (default: the intent's client order id), `price` for a market
   *   buy (default: the broker's last price), `signal`
   * @returns `{ ok: true, reservation }` or `{ ok: false, shortfall, required, available }`
   * @throws ValidationError (`validation`) for a bad intent or no key
   * @throws OrdersafeError (`invalid_state`) when a market buy cannot be priced, or the key
   *   is held with a different amount
   * @throws BrokerError (any code) when the account or price cannot be read
   * @remarks Serialized: concurrent reserves run one after another.
   * @example
   * ```ts
   * const r = await bp.reserve(intent);
   * ```
   */
  async reserve(intent: OrderIntentInput, options: ManagerReserveOptions = {}): Promise<ReserveResult> {
    const i = parseOrderIntent(intent);
    const o = parseInput(
      CallOptionsSchema.extend({
        key: z.string().min(1).max(256).optional(),
        price: zPositiveDecimal.optional(),
      }).strict(),
      options,
      "options",
    );
    const key = o.key ?? i.clientOrderId;
    if (key === undefined) {
      throw new ValidationError(
        "intent.clientOrderId: expected a client order id or options.key to reserve under",
        {
          issues: [{ path: "intent.clientOrderId", message: "expected a reservation key", value: undefined }],
        },
      );
    }
    throwIfAborted(o.signal);
    const now = () => new Date(this.#clock.now());
    if (i.side === "sell") {
      return {
        ok: true,
        reservation: Object.freeze({
          key,
          symbol: i.symbol,
          amount: ZERO,
          filledNotional: ZERO,
          remaining: ZERO,
          reservedAt: now(),
          fills: [],
        }),
      };
    }
    return this.#mutex.run(async () => {
      throwIfAborted(o.signal);
      let price: Decimal | undefined = o.price;
      if (i.notional === undefined && i.type === "market" && price === undefined) {
        price = await this.#price(i.symbol, o.signal);
      }
      const required = requiredFunds(i, price, this.ledger.marketBuyBuffer);
      const snapshot = await this.#account(true, o.signal);
      const r = this.ledger.reserve(key, required, now(), { symbol: i.symbol, snapshot });
      if (r.ok) return { ok: true, reservation: r.reservation };
      return { ok: false, shortfall: r.shortfall, required: r.required, available: r.available };
    });
  }

  /**
   * Records that the broker accepted the order of a reservation.
   *
   * @param key - the reservation key
   * @param at - when the submit returned, on this manager's clock; defaults to the clock's
   *   now, which is right when called as soon as the submit returns
   * @returns the reservation, or undefined when not held
   * @throws ValidationError (`validation`) for a bad argument
   * @remarks Only an account read sent strictly after `at` is taken to reflect the order's
   *   hold; a read in the same millisecond may have reached the broker first, so the hold is
   *   charged again there (the safe side).
   * @example
   * ```ts
   * const order = await broker.submitOrder(request);
   * bp.acknowledge(order.clientOrderId);
   * ```
   */
  acknowledge(key: string, at?: Date | string): Reservation | undefined {
    return this.ledger.acknowledge(key, at ?? new Date(this.#clock.now()));
  }

  /**
   * Applies a fill to a reservation (its part of the hold becomes spent money).
   *
   * @param key - the reservation key
   * @param filledNotional - this fill's own qty × price
   * @param at - when it filled; defaults to the clock's now
   * @returns the reservation, or undefined when not held (a late fill)
   * @throws ValidationError (`validation`) for a bad argument
   * @example
   * ```ts
   * bp.applyFill(key, fill.qty.times(fill.price), update.at);
   * ```
   */
  applyFill(key: string, filledNotional: DecimalLike, at?: Date | string): Reservation | undefined {
    const r = this.ledger.applyFill(key, filledNotional, at ?? new Date(this.#clock.now()));
    if (r !== undefined) this.#snapshot = undefined;
    return r;
  }

  /**
   * Releases a reservation (its order is final). Idempotent.
   *
   * @param key - the reservation key
   * @returns the released reservation, or undefined when it was not held
   * @throws ValidationError (`validation`) for a bad key
   * @example
   * ```ts
   * bp.release(key);
   * ```
   */
  release(key: string): Reservation | undefined {
    const r = this.ledger.release(key);
    // the cached snapshot may predate the order's fills, which the ledger no longer counts
    if (r !== undefined) this.#snapshot = undefined;
    return r;
  }

  /**
   * Rebuilds the ledger from the broker's open orders (read now), repairing missed
   * releases; drift beyond the tolerance is returned and logged as a warning.
   *
   * @param options - `signal`
   * @returns what the recompute changed, and the drift if any
   * @throws BrokerError (any code) when the broker cannot be read
   * @example
   * ```ts
   * const { drift } = await bp.recompute();
   * ```
   */
  async recompute(options: CallOptions = {}): Promise<LedgerRecomputeResult> {
    const o = parseInput(CallOptionsSchema.strict(), options, "options");
    return this.#mutex.run(async () => {
      const snapshot = await this.#account(true, o.signal);
      const orders = await this.#broker.listOpenOrders(
        o.signal === undefined ? undefined : { signal: o.signal },
      );
      const symbols = [
        ...new Set(
          orders.filter((x) => x.side === "buy" && x.type === "market" && !x.notional).map((x) => x.symbol),
        ),
      ];
      const prices =
        symbols.length === 0
          ? new Map<string, Decimal>()
          : await this.#broker.getLatestPrices(
              symbols,
              o.signal === undefined ? undefined : { signal: o.signal },
            );
      const result = this.ledger.recompute(orders, snapshot, prices);
      if (result.drift !== undefined) {
        this.#logger.warn("[ordersafe] ledger drift", {
          difference: result.drift.difference.toString(),
          added: result.drift.added,
          removed: result.drift.removed,
          unpriced: result.drift.unpriced,
        });
      }
      return result;
    });
  }

  /**
   * Whether a buy of a given size fits in what is available, and the largest quantity on
   * the asset's increment that does.
   *
   * @param symbol - the ticker
   * @param size - `{ qty }` or `{ notional }`
   * @param price - the price to value it at; without it the broker's last price
   * @param options - `type` (default `limit` with a price, `market` without), `refresh`, `signal`
   * @returns required, available, shortfall, price, unit cost, increment and the largest affordable quantity
   * @throws ValidationError (`validation`) for a bad argument
   * @throws OrdersafeError (`invalid_state`) when the asset is unknown or cannot be priced
   * @throws BrokerError (any code) when the broker cannot be read
   * @example
   * ```ts
   * const a = await bp.validateOrderAffordability("TECL", { qty: 100 });
   * if (!a.affordable) console.log(`buy ${a.maxAffordableQty} instead`);
   * ```
   */
  async validateOrderAffordability(
    symbol: string,
    size: OrderSize,
    price?: DecimalLike,
    options: AffordabilityOptions = {},
  ): Promise<AffordabilityReport> {
    const a = parseInput(
      z.object({
        symbol: zSymbol,
        size: z.union([
          z.object({ qty: zPositiveDecimal }).strict(),
          z.object({ notional: zPositiveDecimal }).strict(),
        ]),
        price: zPositiveDecimal.optional(),
        options: CallOptionsSchema.extend({
          type: z.enum(["market", "limit"]).optional(),
          refresh: z.boolean().optional(),
        }).strict(),
      }),
      { symbol, size, price, options },
      "affordability",
    );
    const call = a.options.signal === undefined ? undefined : { signal: a.options.signal };
    const assets = await this.#broker.getAssets([a.symbol], call);
    const asset = assets.find((x) => x.symbol === a.symbol);
    if (asset === undefined) {
      throw new OrdersafeError("invalid_state", `unknown asset ${JSON.stringify(a.symbol)}`, {
        details: { symbol: a.symbol },
      });
    }
    const px = a.price ?? (await this.#price(a.symbol, a.options.signal));
    const type = a.options.type ?? (a.price === undefined ? "market" : "limit");
    const unitCost = type === "market" ? px.times(ONE.plus(this.ledger.marketBuyBuffer)) : px;
    const required = "notional" in a.size ? a.size.notional : a.size.qty.times(unitCost);
    const snapshot = await this.#account(a.options.refresh ?? true, a.options.signal);
    const available = this.ledger.available(snapshot);
    const increment = asset.fractionable ? asset.qtyIncrement : wholeShareIncrement(asset.qtyIncrement);
    let maxQty = floorToIncrement(available.div(unitCost), increment);
    // the snap in floorToIncrement may round up by a hair: never hand back a quantity that does not fit
    if (maxQty.times(unitCost).gt(available)) maxQty = maxQty.minus(increment);
    if (maxQty.isNegative()) maxQty = ZERO;
    const shortfall = required.minus(available);
    return {
      affordable: required.lte(available),
      required,
      available,
      shortfall: shortfall.isNegative() ? ZERO : shortfall,
      price: px,
      unitCost,
      qtyIncrement: increment,
      maxAffordableQty: maxQty,
    };
  }

  /**
   * The account, read until it shows every fill this process knows (it may lag them): a buy
   * is never sized from cash that does not yet show a fill.
   *
   * @throws OrdersafeError (`unsettled`) when no read settles within `settleTimeoutMs`
   */
  async #account(refresh: boolean, signal: AbortSignal | undefined): Promise<AccountSnapshot> {
    if (!refresh && this.#snapshot !== undefined) return this.#snapshot;
    const call = signal === undefined ? undefined : { signal };
    const settled = await settleReads({
      ...this.#settle,
      record: this.#record,
      clock: this.#clock,
      signal,
      symbols: [],
      account: true,
      read: async () => {
        const readAt = this.#clock.now();
        const account = await this.#broker.getAccount(call);
        return { positions: [], account, readAt };
      },
    });
    if (settled.account === undefined || settled.accountUnsettled) {
      throw new OrdersafeError(
        "unsettled",
        "[ordersafe] the account read did not show the fills known within the settle bound",
        { details: { settleTimeoutMs: this.#settle.settleTimeoutMs } },
      );
    }
    this.#snapshot = settled.account;
    return settled.account;
  }

  async #price(symbol: string, signal: AbortSignal | undefined): Promise<Decimal> {
    const prices = await this.#broker.getLatestPrices(
      [symbol],
      signal === undefined ? undefined : { signal },
    );
    const p = prices.get(symbol);
    if (p === undefined || p.lte(0)) {
      throw new OrdersafeError("invalid_state", `no last price for ${JSON.stringify(symbol)}`, {
        details: { symbol },
      });
    }
    return p;
  }
}

/** A non-fractionable asset trades whole shares: its increment is at least 1. */
function wholeShareIncrement(increment: Decimal): Decimal {
  return increment.lt(1) ? ONE : increment;
}

const CallOptionsSchema = z.object({
  signal: z
    .custom<AbortSignal>((v) => v instanceof AbortSignal, { message: "expected an AbortSignal" })
    .optional(),
});
