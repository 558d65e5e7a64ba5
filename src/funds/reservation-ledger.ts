import { z } from "zod";
import { type AccountSnapshot, isFinalBrokerStatus, type OrderSnapshot } from "../broker/broker-port.js";
import { AccountSnapshotSchema, OrderSnapshotSchema } from "../broker/schemas.js";
import { type Decimal, type DecimalLike, maxDecimal, toDecimal, ZERO } from "../core/decimal.js";
import { OrdersafeError } from "../core/errors.js";
import { parseInput, zDate, zNonNegativeDecimal, zPositiveDecimal, zSymbol } from "../core/validation.js";
import { DEFAULT_MARKET_BUY_BUFFER, requiredFunds } from "./required-funds.js";

/**
 * Which account figure buys are funded from.
 *
 * - `cash`: the cash balance, no leverage. The broker's cash never reflects the holds of
 *   open buys, only their fills, so every open reservation counts against it.
 * - `non_marginable_buying_power`: the broker's non-marginable buying power (holds of
 *   acknowledged orders already deducted by the broker). Falls back to `cash` when the
 *   snapshot does not carry it.
 * - `buying_power`: the broker's buying power (may be 2× equity on a margin account).
 */
export type FundingBasis = (typeof FUNDING_BASES)[number];

/** Every funding basis. */
export const FUNDING_BASES = ["cash", "non_marginable_buying_power", "buying_power"] as const;

/** One fill applied to a reservation. */
export interface ReservationFill {
  /** Dollars this fill spent. */
  readonly notional: Decimal;
  /** When it happened; absent means "unknown", treated as not yet reflected by any snapshot. */
  readonly at?: Date;
}

/** Money set aside for one open buy order. */
export interface Reservation {
  /** The key, normally the order's client order id. */
  readonly key: string;
  /** The symbol, when known. */
  readonly symbol?: string;
  /** The amount held when the order was placed. */
  readonly amount: Decimal;
  /** Dollars spent by the fills so far. */
  readonly filledNotional: Decimal;
  /** The hold still open: `amount − filledNotional`, never below zero. */
  readonly remaining: Decimal;
  /** When the reservation was made. */
  readonly reservedAt: Date;
  /** When the broker acknowledged the order; absent while the submit is in flight. */
  readonly acknowledgedAt?: Date;
  /** Each fill applied, in order. */
  readonly fills: readonly ReservationFill[];
}

/**
 * The defaults of {@link ReservationLedger}'s options (see {@link ReservationLedgerOptions}).
 *
 * @example
 * ```ts
 * const ledger = new ReservationLedger({ driftTolerance: RESERVATION_LEDGER_DEFAULTS.driftTolerance.times(5) });
 * ```
 */
export const RESERVATION_LEDGER_DEFAULTS = Object.freeze({
  fundingBasis: "cash",
  marketBuyBuffer: toDecimal(DEFAULT_MARKET_BUY_BUFFER),
  driftTolerance: toDecimal(1),
  pendingGraceMs: 60_000,
} satisfies Required<ReservationLedgerOptions>);

/** Options of {@link ReservationLedger}. Every default is in {@link RESERVATION_LEDGER_DEFAULTS}. */
export interface ReservationLedgerOptions {
  /**
   * Which account figure buys are funded from.
   * @defaultValue `RESERVATION_LEDGER_DEFAULTS.fundingBasis` ("cash")
   */
  fundingBasis?: FundingBasis;
  /**
   * The extra fraction held on a quantity market buy (the broker's hold).
   * @defaultValue `RESERVATION_LEDGER_DEFAULTS.marketBuyBuffer` ({@link DEFAULT_MARKET_BUY_BUFFER})
   */
  marketBuyBuffer?: DecimalLike;
  /**
   * A difference between the ledger and the broker's open orders, in dollars, above which
   * {@link ReservationLedger.recompute} reports ledger drift.
   * @defaultValue `RESERVATION_LEDGER_DEFAULTS.driftTolerance`
   */
  driftTolerance?: DecimalLike;
  /**
   * How long (ms) a reservation whose order was never acknowledged may be missing from the
   * broker's open orders before {@link ReservationLedger.recompute} drops it as leaked.
   * @defaultValue `RESERVATION_LEDGER_DEFAULTS.pendingGraceMs`
   */
  pendingGraceMs?: number;
}

const OptionsSchema = z
  .object({
    fundingBasis: z.enum(FUNDING_BASES).optional(),
    marketBuyBuffer: zNonNegativeDecimal.optional(),
    driftTolerance: zNonNegativeDecimal.optional(),
    pendingGraceMs: z.number().int().min(0).optional(),
  })
  .strict();

const KeySchema = z.string().min(1).max(256);

const ReserveArgsSchema = z.object({
  key: KeySchema,
  amount: zNonNegativeDecimal,
  at: zDate,
  options: z
    .object({
      symbol: zSymbol.optional(),
      acknowledgedAt: zDate.optional(),
      snapshot: AccountSnapshotSchema.optional(),
    })
    .strict()
    .optional(),
});

/** Options of {@link ReservationLedger.reserve}. */
export interface LedgerReserveOptions {
  /** The symbol of the order. */
  symbol?: string;
  /** When the broker acknowledged the order, if it already has. */
  acknowledgedAt?: Date | string;
  /** When given, the reservation is refused if it exceeds {@link ReservationLedger.available} for it. */
  snapshot?: AccountSnapshot;
}

/** The outcome of a reservation: made, or refused with the shortfall. */
export type LedgerReserveResult =
  | { ok: true; reservation: Reservation }
  | { ok: false; required: Decimal; available: Decimal; shortfall: Decimal };

/**
 * A difference between the ledger and the broker's open orders beyond the tolerance.
 *
 * @remarks `difference` is `brokerReserved − ledgerReserved`: positive when the broker
 *   holds more than the ledger knew (a missed reservation), negative when the ledger held
 *   money for orders no longer open (a missed release).
 */
export interface LedgerDrift {
  /** Always `"ledger_drift"`. */
  kind: "ledger_drift";
  /** What the ledger held for the orders the broker could know about. */
  ledgerReserved: Decimal;
  /** What the broker's open orders hold. */
  brokerReserved: Decimal;
  /** `brokerReserved − ledgerReserved`. */
  difference: Decimal;
  /** The tolerance that was exceeded. */
  tolerance: Decimal;
  /** Keys open at the broker that the ledger did not hold. */
  added: readonly string[];
  /** Keys the ledger held that are no longer open at the broker. */
  removed: readonly string[];
  /** Keys whose hold changed. */
  resized: readonly string[];
  /** Keys of open quantity market buys that could not be priced (no price given). */
  unpriced: readonly string[];
}

/** What {@link ReservationLedger.recompute} did. */
export interface LedgerRecomputeResult {
  /** The reservations after the recompute. */
  reservations: readonly Reservation[];
  /** Keys open at the broker that the ledger did not hold (now held). */
  added: readonly string[];
  /** Keys dropped because their orders are no longer open (missed releases). */
  removed: readonly string[];
  /** Keys whose hold was corrected. */
  resized: readonly string[];
  /** Keys of open quantity market buys with no price: kept as they were, or not held. */
  unpriced: readonly string[];
  /** What the ledger held, before, for the orders the broker could know about. */
  ledgerReserved: Decimal;
  /** What the broker's open buys hold. */
  brokerReserved: Decimal;
  /** Present when the difference exceeds the tolerance or an order could not be priced. */
  drift?: LedgerDrift;
}

interface Entry {
  key: string;
  symbol?: string;
  amount: Decimal;
  fills: ReservationFill[];
  reservedAt: Date;
  acknowledgedAt?: Date;
}

function filledOf(e: Entry): Decimal {
  return e.fills.reduce((s, f) => s.plus(f.notional), ZERO);
}

function view(e: Entry): Reservation {
  const filledNotional = filledOf(e);
  const left = e.amount.minus(filledNotional);
  return Object.freeze({
    key: e.key,
    ...(e.symbol === undefined ? {} : { symbol: e.symbol }),
    amount: e.amount,
    filledNotional,
    remaining: left.isNegative() ? ZERO : left,
    reservedAt: e.reservedAt,
    ...(e.acknowledgedAt === undefined ? {} : { acknowledgedAt: e.acknowledgedAt }),
    fills: Object.freeze([...e.fills]),
  });
}

/**
 * Pure accounting of the buying power set aside for open buy orders.
 *
 * @remarks
 * No clock, no I/O: every time is passed in. Reservations are not trusted to accumulate:
 * {@link ReservationLedger.available} subtracts only what a given account snapshot cannot
 * reflect yet, and {@link ReservationLedger.recompute} rebuilds the reservations from the
 * broker's open orders, so a missed release cannot leak. Invariants: `available` is never
 * below zero; `release` is idempotent; a reservation made with a snapshot never exceeds
 * what that snapshot leaves available.
 *
 * What a snapshot reflects depends on the funding basis. With `cash` the broker's cash
 * shows the fills that happened before `asOf` but never the holds of open orders, so every
 * open hold is subtracted, plus the fills after `asOf`. With `buying_power` and
 * `non_marginable_buying_power` the broker already deducts the hold of every order it
 * acknowledged before `asOf`; the ledger subtracts only the orders acknowledged at or after
 * `asOf` or not yet acknowledged (their full amount). Ties count against the caller: an
 * order acknowledged in the same millisecond as the read may be missing from it. Stamp
 * acknowledgments with the local clock when the submit returned, and take `asOf` when the
 * read was sent, so the comparison never mixes the broker's clock with ours.
 *
 * @example
 * ```ts
 * const ledger = new ReservationLedger({ fundingBasis: "cash" });
 * ledger.reserve("run1-TECL-buy-0", "515", new Date("2026-01-05T15:00:00Z"));
 * ledger.available(account); // account.cash − 515
 * ledger.release("run1-TECL-buy-0");
 * ```
 */
export class ReservationLedger {
  /** The funding basis in use. */
  readonly fundingBasis: FundingBasis;
  /** The market-buy hold fraction in use. */
  readonly marketBuyBuffer: Decimal;
  /** The drift tolerance in dollars. */
  readonly driftTolerance: Decimal;
  /** The grace for unacknowledged reservations missing at the broker, ms. */
  readonly pendingGraceMs: number;
  readonly #entries = new Map<string, Entry>();

  /**
   * @param options - funding basis, market-buy buffer, drift tolerance, pending grace
   * @throws ValidationError (`validation`) for an unknown option or a bad value
   */
  constructor(options: ReservationLedgerOptions = {}) {
    const o = parseInput(OptionsSchema, options, "options");
    this.fundingBasis = o.fundingBasis ?? RESERVATION_LEDGER_DEFAULTS.fundingBasis;
    this.marketBuyBuffer = o.marketBuyBuffer ?? RESERVATION_LEDGER_DEFAULTS.marketBuyBuffer;
    this.driftTolerance = o.driftTolerance ?? RESERVATION_LEDGER_DEFAULTS.driftTolerance;
    this.pendingGraceMs = o.pendingGraceMs ?? RESERVATION_LEDGER_DEFAULTS.pendingGraceMs;
  }

  /** How many reservations are held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A reservation by key.
   *
   * @param key - the reservation key
   * @returns the reservation, or undefined
   */
  get(key: string): Reservation | undefined {
    const e = this.#entries.get(key);
    return e === undefined ? undefined : view(e);
  }

  /**
   * Every reservation held, in the order they were made.
   *
   * @returns a frozen copy of each reservation
   */
  list(): Reservation[] {
    return [...this.#entries.values()].map(view);
  }

  /**
   * The sum of the open holds (`remaining`) of every reservation.
   *
   * @returns a decimal ≥ 0
   */
  totalReserved(): Decimal {
    return this.list().reduce((s, r) => s.plus(r.remaining), ZERO);
  }

  /**
   * A copy of this ledger with the same options and reservations.
   *
   * @returns an independent ledger
   */
  clone(): ReservationLedger {
    const copy = new ReservationLedger({
      fundingBasis: this.fundingBasis,
      marketBuyBuffer: this.marketBuyBuffer,
      driftTolerance: this.driftTolerance,
      pendingGraceMs: this.pendingGraceMs,
    });
    for (const [k, e] of this.#entries) copy.#entries.set(k, { ...e, fills: [...e.fills] });
    return copy;
  }

  /**
   * Sets money aside for an order.
   *
   * @param key - the reservation key (the order's client order id)
   * @param amount - the hold, ≥ 0 (see `requiredFunds`)
   * @param at - when the reservation is made (before the submit)
   * @param options - the symbol; `acknowledgedAt` when the broker already has the order;
   *   `snapshot` to refuse a reservation the snapshot cannot fund
   * @returns `{ ok: true, reservation }`, or `{ ok: false, required, available, shortfall }`
   *   when a snapshot was given and the amount exceeds what it leaves available
   * @throws ValidationError (`validation`) for a bad argument
   * @throws OrdersafeError (`invalid_state`) when the key is held with a different amount
   * @remarks Reserving a held key again with the same amount returns the held reservation.
   * @example
   * ```ts
   * const r = ledger.reserve("k1", "100", now, { snapshot: account });
   * if (!r.ok) console.log(`short by ${r.shortfall}`);
   * ```
   */
  reserve(
    key: string,
    amount: DecimalLike,
    at: Date | string,
    options?: LedgerReserveOptions,
  ): LedgerReserveResult {
    const a = parseInput(ReserveArgsSchema, { key, amount, at, options }, "reserve");
    const held = this.#entries.get(a.key);
    if (held !== undefined) {
      if (held.amount.eq(a.amount)) return { ok: true, reservation: view(held) };
      throw new OrdersafeError(
        "invalid_state",
        `reservation ${JSON.stringify(a.key)} is already held with amount ${held.amount.toString()}`,
        { details: { key: a.key, held: held.amount.toString(), requested: a.amount.toString() } },
      );
    }
    if (a.options?.snapshot !== undefined) {
      const available = this.#available(a.options.snapshot);
      if (a.amount.gt(available)) {
        return { ok: false, required: a.amount, available, shortfall: a.amount.minus(available) };
      }
    }
    const entry: Entry = {
      key: a.key,
      ...(a.options?.symbol === undefined ? {} : { symbol: a.options.symbol }),
      amount: a.amount,
      fills: [],
      reservedAt: a.at,
      ...(a.options?.acknowledgedAt === undefined ? {} : { acknowledgedAt: a.options.acknowledgedAt }),
    };
    this.#entries.set(a.key, entry);
    return { ok: true, reservation: view(entry) };
  }

  /**
   * Records that the broker acknowledged the order: snapshots of `buying_power` /
   * `non_marginable_buying_power` read strictly after `at` reflect its hold; one read in the
   * same millisecond does not (the hold is charged again, the safe side).
   *
   * @param key - the reservation key
   * @param at - when the submit returned, on the clock that stamps `asOf` (the local clock),
   *   not the broker's `createdAt`
   * @returns the reservation, or undefined when the key is not held
   * @throws ValidationError (`validation`) for a bad argument
   * @remarks Idempotent: the first acknowledgement time is kept.
   * @example
   * ```ts
   * const order = await broker.submitOrder(request);
   * ledger.acknowledge(order.clientOrderId, new Date(clock.now()));
   * ```
   */
  acknowledge(key: string, at: Date | string): Reservation | undefined {
    const a = parseInput(z.object({ key: KeySchema, at: zDate }), { key, at }, "acknowledge");
    const e = this.#entries.get(a.key);
    if (e === undefined) return undefined;
    if (e.acknowledgedAt === undefined) e.acknowledgedAt = a.at;
    return view(e);
  }

  /**
   * Applies a fill: its notional moves from held to spent (a partial fill releases its part).
   *
   * @param key - the reservation key
   * @param filledNotional - this fill's own dollars (qty × price), > 0
   * @param at - when it filled; a snapshot whose `asOf` is not strictly later does not
   *   count it as reflected; without it the fill counts as not yet reflected by any
   *   snapshot (the safe side) until the reservation is released or recomputed
   * @returns the reservation, or undefined when the key is not held (a late fill)
   * @throws ValidationError (`validation`) for a bad argument
   * @example
   * ```ts
   * ledger.applyFill("k1", update.fill.qty.times(update.fill.price), update.at);
   * ```
   */
  applyFill(key: string, filledNotional: DecimalLike, at?: Date | string): Reservation | undefined {
    const a = parseInput(
      z.object({ key: KeySchema, filledNotional: zPositiveDecimal, at: zDate.optional() }),
      { key, filledNotional, at },
      "applyFill",
    );
    const e = this.#entries.get(a.key);
    if (e === undefined) return undefined;
    e.fills.push(
      Object.freeze(
        a.at === undefined ? { notional: a.filledNotional } : { notional: a.filledNotional, at: a.at },
      ),
    );
    return view(e);
  }

  /**
   * Drops a reservation (its order is final).
   *
   * @param key - the reservation key
   * @returns the dropped reservation, or undefined when it was not held
   * @throws ValidationError (`validation`) for a bad key
   * @remarks Idempotent: releasing twice is releasing once.
   * @example
   * ```ts
   * ledger.release("k1");
   * ledger.release("k1"); // undefined, nothing changes
   * ```
   */
  release(key: string): Reservation | undefined {
    const k = parseInput(KeySchema, key, "key");
    const e = this.#entries.get(k);
    if (e === undefined) return undefined;
    this.#entries.delete(k);
    return view(e);
  }

  /**
   * The funding basis figure of a snapshot.
   *
   * @param snapshot - an account snapshot
   * @returns the cash, buying power or non-marginable buying power it carries
   * @throws ValidationError (`validation`) for a malformed snapshot
   */
  basisOf(snapshot: AccountSnapshot): Decimal {
    return this.#basis(parseInput(AccountSnapshotSchema, snapshot, "snapshot")).value;
  }

  /**
   * What the ledger must subtract from a snapshot's basis: the holds and spending the
   * snapshot cannot reflect.
   *
   * @param snapshot - an account snapshot
   * @returns a decimal ≥ 0
   * @throws ValidationError (`validation`) for a malformed snapshot
   */
  pendingCharges(snapshot: AccountSnapshot): Decimal {
    const s = parseInput(AccountSnapshotSchema, snapshot, "snapshot");
    return this.#charges(s, this.#basis(s).reflectsHolds);
  }

  /**
   * The money available for a new buy: the funding basis of the snapshot minus what the
   * snapshot cannot reflect yet.
   *
   * @param snapshot - an account snapshot, ideally fresh
   * @returns a decimal ≥ 0
   * @throws ValidationError (`validation`) for a malformed snapshot
   * @example
   * ```ts
   * const free = ledger.available(await broker.getAccount());
   * ```
   */
  available(snapshot: AccountSnapshot): Decimal {
    return this.#available(parseInput(AccountSnapshotSchema, snapshot, "snapshot"));
  }

  /**
   * Rebuilds the reservations from the broker's open orders, so a missed release or a
   * missed reservation cannot last, and reports the difference as ledger drift.
   *
   * @param openOrders - the broker's open orders, read at (or just after) `snapshot.asOf`
   * @param snapshot - the account snapshot the orders go with (its `asOf` matters)
   * @param prices - last prices, to hold open quantity market buys at price × (1 + buffer)
   * @returns what changed, the totals compared and the drift if beyond the tolerance
   * @throws ValidationError (`validation`) for malformed orders, snapshot or prices
   * @remarks
   * Each open buy is held at what it still holds at the broker (notional − spent, remaining
   * qty × limit, or remaining qty × price × (1 + buffer)). A held key missing from the
   * open orders is dropped when its order was acknowledged before `snapshot.asOf`, or was
   * never acknowledged and was reserved more than `pendingGraceMs` before it; a
   * reservation newer than the snapshot is kept untouched. A quantity market buy without a
   * price keeps its held amount, or is listed `unpriced` (and reported as drift).
   * @example
   * ```ts
   * const { drift } = ledger.recompute(await broker.listOpenOrders(), account, prices);
   * if (drift) logger.warn("ledger drift", drift);
   * ```
   */
  recompute(
    openOrders: readonly OrderSnapshot[],
    snapshot: AccountSnapshot,
    prices?: ReadonlyMap<string, DecimalLike> | Readonly<Record<string, DecimalLike>>,
  ): LedgerRecomputeResult {
    const orders = parseOrderSnapshots(openOrders);
    const snap = parseInput(AccountSnapshotSchema, snapshot, "snapshot");
    const priceMap = parsePrices(prices);
    const open = openBuysByKey(orders);
    const run: RecomputeRun = {
      added: [],
      removed: [],
      resized: [],
      unpriced: [],
      ledgerReserved: ZERO,
      brokerReserved: ZERO,
      next: new Map(),
    };
    this.#dropOrKeepMissing(run, open, snap.asOf.getTime());
    for (const [key, o] of open) this.#holdOpenBuy(run, key, o, priceMap.get(o.symbol));
    this.#entries.clear();
    for (const [k, e] of run.next) this.#entries.set(k, e);
    return this.#recomputeResult(run);
  }

  /**
   * The held keys missing from the broker's open buys: dropped (their holds counted as what
   * the ledger held) once the snapshot could know their orders, kept untouched otherwise.
   */
  #dropOrKeepMissing(run: RecomputeRun, open: ReadonlyMap<string, OrderSnapshot>, asOf: number): void {
    for (const [key, e] of this.#entries) {
      if (open.has(key)) continue;
      const knowable =
        e.acknowledgedAt !== undefined
          ? e.acknowledgedAt.getTime() < asOf
          : e.reservedAt.getTime() + this.pendingGraceMs < asOf;
      if (knowable) {
        run.ledgerReserved = run.ledgerReserved.plus(view(e).remaining);
        run.removed.push(key);
      } else {
        run.next.set(key, e);
      }
    }
  }

  /** Holds one open buy at what it still holds at the broker (an unpriced market buy keeps its hold). */
  #holdOpenBuy(run: RecomputeRun, key: string, o: OrderSnapshot, price: Decimal | undefined): void {
    const held = this.#entries.get(key);
    const isQtyMarket = o.notional === undefined && o.type === "market";
    if (held !== undefined) run.ledgerReserved = run.ledgerReserved.plus(view(held).remaining);
    if (isQtyMarket && price === undefined) {
      run.unpriced.push(key);
      if (held !== undefined) {
        run.next.set(key, held);
        run.brokerReserved = run.brokerReserved.plus(view(held).remaining);
      }
      return;
    }
    const unit = o.filledAvgPrice ?? o.limitPrice ?? price ?? ZERO;
    const spent = o.filledQty.times(unit);
    const hold = requiredFunds(o, price, this.marketBuyBuffer, o.filledQty, spent);
    run.brokerReserved = run.brokerReserved.plus(hold);
    const fills =
      held !== undefined && filledOf(held).eq(spent)
        ? held.fills
        : spent.gt(0)
          ? [Object.freeze({ notional: spent, at: o.updatedAt })]
          : [];
    const entry: Entry = {
      key,
      symbol: o.symbol,
      amount: hold.plus(spent),
      fills: [...fills],
      reservedAt: held?.reservedAt ?? o.createdAt ?? o.updatedAt,
      acknowledgedAt: held?.acknowledgedAt ?? o.createdAt ?? o.updatedAt,
    };
    if (held === undefined) run.added.push(key);
    else if (!view(held).remaining.eq(hold)) run.resized.push(key);
    run.next.set(key, entry);
  }

  /** What a recompute reports: the changes, the totals, and drift past the tolerance or unpriced. */
  #recomputeResult(run: RecomputeRun): LedgerRecomputeResult {
    const { added, removed, resized, unpriced, ledgerReserved, brokerReserved } = run;
    const difference = brokerReserved.minus(ledgerReserved);
    const result: LedgerRecomputeResult = {
      reservations: this.list(),
      added,
      removed,
      resized,
      unpriced,
      ledgerReserved,
      brokerReserved,
    };
    if (difference.abs().gt(this.driftTolerance) || unpriced.length > 0) {
      result.drift = {
        kind: "ledger_drift",
        ledgerReserved,
        brokerReserved,
        difference,
        tolerance: this.driftTolerance,
        added,
        removed,
        resized,
        unpriced,
      };
    }
    return result;
  }

  #basis(s: AccountSnapshot): { value: Decimal; reflectsHolds: boolean } {
    switch (this.fundingBasis) {
      case "cash":
        return { value: s.cash, reflectsHolds: false };
      case "buying_power":
        return { value: s.buyingPower, reflectsHolds: true };
      case "non_marginable_buying_power":
        return s.nonMarginableBuyingPower === undefined
          ? { value: s.cash, reflectsHolds: false }
          : { value: s.nonMarginableBuyingPower, reflectsHolds: true };
    }
  }

  #charges(s: AccountSnapshot, reflectsHolds: boolean): Decimal {
    const asOf = s.asOf.getTime();
    let total = ZERO;
    for (const e of this.#entries.values()) {
      const r = view(e);
      if (reflectsHolds) {
        // Strictly before: a snapshot read in the same millisecond as the acknowledgment may
        // have been taken before it, so the hold is counted again (the safe side).
        const reflected = e.acknowledgedAt !== undefined && e.acknowledgedAt.getTime() < asOf;
        if (!reflected) total = total.plus(maxDecimal(r.amount, r.filledNotional));
      } else {
        const unseenFills = e.fills
          .filter((f) => f.at === undefined || f.at.getTime() >= asOf)
          .reduce((sum, f) => sum.plus(f.notional), ZERO);
        total = total.plus(r.remaining).plus(unseenFills);
      }
    }
    return total;
  }

  #available(s: AccountSnapshot): Decimal {
    const basis = this.#basis(s);
    const left = basis.value.minus(this.#charges(s, basis.reflectsHolds));
    return left.isNegative() ? ZERO : left;
  }
}

/** The mutable record of one {@link ReservationLedger.recompute}. */
interface RecomputeRun {
  readonly added: string[];
  readonly removed: string[];
  readonly resized: string[];
  readonly unpriced: string[];
  /** What the ledger held for the orders the broker could know about. */
  ledgerReserved: Decimal;
  /** What the broker's open buys hold. */
  brokerReserved: Decimal;
  /** The reservations after the recompute. */
  readonly next: Map<string, Entry>;
}

/** The broker's open buy orders by client order id (the reservation key). */
function openBuysByKey(orders: readonly OrderSnapshot[]): Map<string, OrderSnapshot> {
  const open = new Map<string, OrderSnapshot>();
  for (const o of orders) {
    if (o.side === "buy" && !isFinalBrokerStatus(o.status)) open.set(o.clientOrderId, o);
  }
  return open;
}

/**
 * Checks the open orders. The cast bridges the order schema's output (it types the status
 * as a string) and {@link OrderSnapshot}.
 */
function parseOrderSnapshots(orders: unknown): OrderSnapshot[] {
  return parseInput(z.array(OrderSnapshotSchema), orders, "openOrders") as OrderSnapshot[];
}

function parsePrices(
  prices: ReadonlyMap<string, DecimalLike> | Readonly<Record<string, DecimalLike>> | undefined,
): Map<string, Decimal> {
  const out = new Map<string, Decimal>();
  if (prices === undefined) return out;
  const entries = prices instanceof Map ? [...prices.entries()] : Object.entries(prices);
  const schema = z.array(z.tuple([zSymbol, zPositiveDecimal]));
  for (const [s, p] of parseInput(schema, entries, "prices")) out.set(s, p);
  return out;
}
