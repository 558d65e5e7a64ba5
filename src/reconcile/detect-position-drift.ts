import { z } from "zod";
import { isFinalBrokerStatus, type OrderSide, type OrderSnapshot } from "../broker/broker-port.js";
import { OrderSnapshotSchema } from "../broker/schemas.js";
import { Decimal, type DecimalLike, formatDecimal, ZERO } from "../core/decimal.js";
import { parseInput, zDecimal, zNonNegativeDecimal, zPositiveDecimal, zSymbol } from "../core/validation.js";
import { cmp, cmpAbs, exactSum } from "./drift-compare.js";
import { fastDriftOptions, fastPositions } from "./parse-drift-input.js";

/**
 * What a difference between the book and the broker is, in the order it is decided:
 * - `missed_fill`: fills the broker reports for known, finished orders that the book did not apply
 *   explain it (what is left is covered by open orders);
 * - `in_flight`: open orders on the symbol explain it (the book and the broker see an order at
 *   different moments);
 * - `dust`: within tolerance (under one quantity increment, or at most the notional tolerance);
 * - `phantom`: we think we hold it, the broker holds nothing;
 * - `unknown`: the broker holds it, we expected nothing (an outside trade);
 * - `unexplained`: none of the above.
 */
export type DriftClass = (typeof DRIFT_CLASSES)[number];

/** Every drift class, in the order {@link detectPositionDrift} decides them. */
export const DRIFT_CLASSES = [
  "missed_fill",
  "in_flight",
  "dust",
  "phantom",
  "unknown",
  "unexplained",
] as const;

/** An order that took part in explaining a drift. */
export interface DriftOrder {
  /** The broker's order id. */
  orderId: string;
  /** The client order id. */
  clientOrderId: string;
  /** Buy or sell. */
  side: OrderSide;
  /** The broker's status. */
  status: OrderSnapshot["status"];
  /** Whether the order is still open (its status is not final). */
  open: boolean;
  /** Shares the broker reports filled (cumulative). */
  filledQty: Decimal;
  /** Shares of this order the book has applied (cumulative). */
  appliedQty: Decimal;
  /** The effect on the position of the fills the book has not applied: signed, + for buys. */
  unappliedQty: Decimal;
}

/** One difference between the expected (book) and the actual (broker) position of a symbol. */
export interface PositionDrift {
  /** The symbol. */
  symbol: string;
  /** What the book holds. */
  expectedQty: Decimal;
  /** What the broker holds. */
  actualQty: Decimal;
  /** `actualQty − expectedQty`. */
  qtyDiff: Decimal;
  /** The price used for the notional, when one was known. */
  price?: Decimal;
  /** `qtyDiff × price`, when a price was known. */
  notionalDiff?: Decimal;
  /** What the difference is. */
  class: DriftClass;
  /**
   * Whether the difference is within tolerance (under one increment, or a notional of at most
   * the tolerance). Always true for `dust`; may be true for an explained class too.
   */
  withinTolerance: boolean;
  /** The orders on the symbol that were considered, with their unapplied fills. */
  orders: DriftOrder[];
  /** A short human explanation. */
  reason: string;
}

/** A map of symbol (or order id) to a decimal: a `Map` or a plain record. */
export type DecimalMapInput = ReadonlyMap<string, DecimalLike> | Readonly<Record<string, DecimalLike>>;

/** The tolerance under which a drift is dust. */
export interface DriftTolerance {
  /**
   * The largest absolute notional difference that is dust.
   * @defaultValue 100 (the alert line: a drift above $100 is never dust)
   */
  notional?: DecimalLike;
  /**
   * A quantity difference strictly under this is dust, for every symbol.
   * @defaultValue the symbol's increment from `increments`, else 0.000000001
   */
  qty?: DecimalLike;
}

/** Options of {@link detectPositionDrift}. */
export interface DetectPositionDriftOptions {
  /** Prices by symbol, for the notional difference. A symbol without a price has no notional. */
  prices?: DecimalMapInput;
  /** When a difference is dust. @defaultValue `{ notional: 100 }` and the asset's increment */
  tolerance?: DriftTolerance;
  /** Quantity increments by symbol (`AssetRules.qtyIncrement`). @defaultValue 0.000000001 */
  increments?: DecimalMapInput;
  /** The broker's open orders. @defaultValue none */
  openOrders?: readonly OrderSnapshot[];
  /**
   * Known recent orders as the broker reports them now (cumulative `filledQty`): orders placed
   * since the book's baseline, finished or not. Merged with `openOrders` by id (the snapshot
   * with more filled wins). @defaultValue none
   */
  recentOrders?: readonly OrderSnapshot[];
  /**
   * Shares the book has applied per order id (cumulative; `PositionBook.appliedFills()`).
   * An order missing here counts as nothing applied. @defaultValue none
   */
  applied?: DecimalMapInput;
}

/** The default notional tolerance: the plan's alert line, $100. */
export const DEFAULT_DRIFT_NOTIONAL_TOLERANCE: Decimal = new Decimal(100);
/** The quantity tolerance of a symbol whose increment is not known. */
export const DEFAULT_QTY_INCREMENT: Decimal = new Decimal("0.000000001");

const zDecimalMap = <K extends z.ZodType<string>, V extends z.ZodType>(key: K, value: V) =>
  z.union([z.map(key, value), z.record(key, value)]);

const OptionsSchema = z
  .object({
    prices: zDecimalMap(zSymbol, zPositiveDecimal).optional(),
    tolerance: z
      .object({ notional: zNonNegativeDecimal.optional(), qty: zPositiveDecimal.optional() })
      .strict()
      .optional(),
    increments: zDecimalMap(zSymbol, zPositiveDecimal).optional(),
    openOrders: z.array(OrderSnapshotSchema).optional(),
    recentOrders: z.array(OrderSnapshotSchema).optional(),
    applied: zDecimalMap(z.string().min(1), zNonNegativeDecimal).optional(),
  })
  .strict();

const PositionsSchema = zDecimalMap(zSymbol, zDecimal);

type DecimalMap<V> = ReadonlyMap<string, V> | Readonly<Record<string, V>>;

function isMap<V>(value: DecimalMap<V>): value is ReadonlyMap<string, V> {
  return value instanceof Map;
}

function toMap<V>(value: DecimalMap<V> | undefined): Map<string, V> {
  if (value === undefined) return new Map();
  if (isMap(value)) return new Map(value);
  return new Map(Object.entries(value));
}

function sign(side: OrderSide): number {
  return side === "buy" ? 1 : -1;
}

/** The options, checked, with their maps as `Map`s and the two order lists merged by id. */
export interface DriftInputs {
  readonly prices: ReadonlyMap<string, Decimal>;
  readonly increments: ReadonlyMap<string, Decimal>;
  readonly applied: ReadonlyMap<string, Decimal>;
  readonly notionalTolerance: Decimal;
  readonly qtyTolerance: Decimal | undefined;
  /** Each symbol's orders, in the order they were first listed. */
  readonly ordersBySymbol: Map<string, OrderSnapshot[]>;
}

/** The checked options. */
interface ParsedDriftOptions {
  prices?: DecimalMap<Decimal>;
  increments?: DecimalMap<Decimal>;
  applied?: DecimalMap<Decimal>;
  tolerance?: { notional?: Decimal; qty?: Decimal };
  openOrders?: OrderSnapshot[];
  recentOrders?: OrderSnapshot[];
}

/**
 * Checks the options. The cast bridges the order schema's output (it types the status as a
 * string) and {@link OrderSnapshot}.
 */
function parseDriftOptions(options: DetectPositionDriftOptions): ParsedDriftOptions {
  return parseInput(OptionsSchema, options, "options") as ParsedDriftOptions;
}

function driftInputs(options: DetectPositionDriftOptions): DriftInputs {
  const opts = parseDriftOptions(options);
  return {
    prices: toMap(opts.prices),
    increments: toMap(opts.increments),
    applied: toMap(opts.applied),
    notionalTolerance: opts.tolerance?.notional ?? DEFAULT_DRIFT_NOTIONAL_TOLERANCE,
    qtyTolerance: opts.tolerance?.qty,
    ordersBySymbol: groupOrders(opts.openOrders ?? [], opts.recentOrders ?? []),
  };
}

/** The positions and options as {@link detectPositionDrift} reads them. */
export interface ReadDriftInputs {
  readonly exp: ReadonlyMap<string, Decimal>;
  readonly act: ReadonlyMap<string, Decimal>;
  readonly inputs: DriftInputs;
}

/**
 * The positions and options, checked: by the fast path when it can, else by the schemas.
 * Internal: exported for the test that the two agree.
 *
 * @param expected - the book's positions
 * @param actual - the broker's positions
 * @param options - the options
 * @param fast - whether to try the fast path first
 * @returns the positions and options, read
 * @throws ValidationError (`validation`) for malformed input, from the schemas
 */
export function readDriftInputs(
  expected: DecimalMapInput,
  actual: DecimalMapInput,
  options: DetectPositionDriftOptions,
  fast = true,
): ReadDriftInputs {
  if (fast) {
    const read = fastInputs(expected, actual, options);
    if (read !== undefined) return read;
  }
  const exp = toMap(parseInput(PositionsSchema, expected, "expected"));
  const act = toMap(parseInput(PositionsSchema, actual, "actual"));
  return { exp, act, inputs: driftInputs(options) };
}

function fastInputs(
  expected: DecimalMapInput,
  actual: DecimalMapInput,
  options: DetectPositionDriftOptions,
): ReadDriftInputs | undefined {
  try {
    const exp = fastPositions(expected);
    const act = exp === undefined ? undefined : fastPositions(actual);
    const opts = act === undefined ? undefined : fastDriftOptions(options);
    if (exp !== undefined && act !== undefined && opts !== undefined) {
      const inputs: DriftInputs = {
        prices: opts.prices,
        increments: opts.increments,
        applied: opts.applied,
        notionalTolerance: opts.tolerance.notional ?? DEFAULT_DRIFT_NOTIONAL_TOLERANCE,
        qtyTolerance: opts.tolerance.qty,
        ordersBySymbol: groupOrders(opts.openOrders, opts.recentOrders),
      };
      return { exp, act, inputs };
    }
  } catch {
    // A getter or a proxy that throws: the schemas name where, as a ValidationError.
  }
  return undefined;
}

/**
 * The orders merged by id ({@link mergeOrders}) and grouped by symbol ({@link bySymbol}), in
 * one pass when no id is listed twice (the usual case): then nothing is merged.
 */
function groupOrders(
  open: readonly OrderSnapshot[],
  recent: readonly OrderSnapshot[],
): Map<string, OrderSnapshot[]> {
  const ids = new Set<string>();
  const out = new Map<string, OrderSnapshot[]>();
  for (const list of [open, recent]) {
    for (const o of list) {
      if (ids.has(o.id)) return bySymbol(mergeOrders(open, recent));
      ids.add(o.id);
      const group = out.get(o.symbol);
      if (group === undefined) out.set(o.symbol, [o]);
      else group.push(o);
    }
  }
  return out;
}

/**
 * One snapshot per order id: the one with the most filled, a final one on a tie. An order
 * keeps the place where it was first listed.
 */
function mergeOrders(
  open: readonly OrderSnapshot[],
  recent: readonly OrderSnapshot[],
): Map<string, OrderSnapshot> {
  const merged = new Map<string, OrderSnapshot>();
  for (const list of [open, recent]) {
    for (const o of list) {
      const seen = merged.get(o.id);
      const c = seen === undefined ? 1 : cmp(o.filledQty, seen.filledQty);
      if (c > 0 || (c === 0 && isFinalBrokerStatus(o.status))) merged.set(o.id, o);
    }
  }
  return merged;
}

/** The orders grouped by symbol, each group in the merged order (so a symbol reads only its own). */
function bySymbol(orders: Map<string, OrderSnapshot>): Map<string, OrderSnapshot[]> {
  const out = new Map<string, OrderSnapshot[]>();
  for (const o of orders.values()) {
    const list = out.get(o.symbol);
    if (list === undefined) out.set(o.symbol, [o]);
    else list.push(o);
  }
  return out;
}

/** What a symbol's orders say about its difference. */
interface OrderEvidence {
  /** Every order considered, with its unapplied fills. */
  readonly related: DriftOrder[];
  /** The sum of the finished orders' unapplied fills (signed). */
  readonly finalUnapplied: Decimal;
  /** Some finished order has unapplied fills. */
  readonly hasFinalUnapplied: boolean;
  /** The range the open orders can move the difference across. */
  readonly low: Decimal;
  readonly high: Decimal;
  /** The symbol has open orders. */
  readonly hasOpen: boolean;
}

function evidenceOf(orders: readonly OrderSnapshot[], applied: ReadonlyMap<string, Decimal>): OrderEvidence {
  // Sized once: a growing list would reserve room for 17 orders where a symbol has one.
  const related = new Array<DriftOrder>(orders.length);
  let n = 0;
  let finalUnapplied = ZERO;
  let hasFinalUnapplied = false;
  let low = ZERO;
  let high = ZERO;
  let hasOpen = false;
  for (const o of orders) {
    const s = sign(o.side);
    const appliedQty = applied.get(o.id) ?? ZERO;
    const unapplied = unappliedOf(o.filledQty, appliedQty, s);
    const open = !isFinalBrokerStatus(o.status);
    related[n++] = {
      orderId: o.id,
      clientOrderId: o.clientOrderId,
      side: o.side,
      status: o.status,
      open,
      filledQty: o.filledQty,
      appliedQty,
      unappliedQty: unapplied,
    };
    if (open) {
      hasOpen = true;
      const q = o.qty ?? new Decimal(Number.POSITIVE_INFINITY);
      // buy: [−A, Q − A]; sell: [A − Q, A]
      if (s > 0) {
        low = minus(low, appliedQty);
        high = plus(high, minus(q, appliedQty));
      } else {
        low = minus(low, minus(q, appliedQty));
        high = plus(high, appliedQty);
      }
    } else if (!unapplied.isZero()) {
      hasFinalUnapplied = true;
      finalUnapplied = finalUnapplied.plus(unapplied);
    }
  }
  return { related, finalUnapplied, hasFinalUnapplied, low, high, hasOpen };
}

// Most orders have nothing applied yet, and most sums start at zero: adding a zero is skipped
// where decimal.js would return the other value as it is. It rounds every result to its
// precision (40 digits), so a value is taken as it is only when it has at most 35 digits
// (5 words of 7): then the rounding changes nothing.

/** Whether decimal.js's rounding to 40 significant digits leaves a finite value as it is. */
function withinPrecision(x: Decimal): boolean {
  return x.d.length <= 5;
}

/** a − b, as decimal.js gives it. */
function minus(a: Decimal, b: Decimal): Decimal {
  if (b.isZero() && a === ZERO) return a; // only compared, never returned: its sign is no matter
  if (b.isZero() && a.isFinite() && !a.isZero() && withinPrecision(a)) return a;
  return a.minus(b);
}

/** a + b, as decimal.js gives it. */
function plus(a: Decimal, b: Decimal): Decimal {
  if (a.isZero() && !b.isZero() && b.isFinite() && withinPrecision(b)) return b;
  if (b.isZero() && !a.isZero() && a.isFinite() && withinPrecision(a)) return a;
  return a.plus(b);
}

/** (filled − applied) × sign, as decimal.js gives it: one operation when nothing is applied. */
function unappliedOf(filled: Decimal, applied: Decimal, s: number): Decimal {
  if (!applied.isZero() || filled.isZero() || !withinPrecision(filled)) return filled.minus(applied).times(s);
  return s > 0 ? filled : filled.neg();
}

/** |x| < y, without building |x|. */
function absLessThan(x: Decimal, y: Decimal): boolean {
  return cmpAbs(x, y) < 0;
}

/** |x| ≤ y, without building |x|. */
function absAtMost(x: Decimal, y: Decimal): boolean {
  const c = cmpAbs(x, y);
  return c < 0 || c === 0;
}

/**
 * x > low − inc, as decimal.js decides it (low − inc rounded to 40 digits). With inc > 0, x ≥ low
 * decides it without the subtraction when that subtraction is exact.
 */
function aboveLow(x: Decimal, low: Decimal, inc: Decimal): boolean {
  if (exactSum(low, inc) && cmp(x, low) >= 0 && inc.isPositive() && !inc.isZero()) return true;
  return cmp(x, low.minus(inc)) > 0;
}

/** x < high + inc, as decimal.js decides it: x ≤ high decides it when the sum is exact. */
function belowHigh(x: Decimal, high: Decimal, inc: Decimal): boolean {
  if (exactSum(high, inc) && cmp(x, high) <= 0 && inc.isPositive() && !inc.isZero()) return true;
  return cmp(x, high.plus(inc)) < 0;
}

/** x lies within the open orders' range widened by inc. */
function withinRange(x: Decimal, ev: OrderEvidence, inc: Decimal): boolean {
  return aboveLow(x, ev.low, inc) && belowHigh(x, ev.high, inc);
}

const IN_FLIGHT = { cls: "in_flight", reason: "open orders on the symbol explain the difference" } as const;
const DUST = { cls: "dust", reason: "the difference is within tolerance" } as const;
const PHANTOM = { cls: "phantom", reason: "the book holds a position the broker does not" } as const;
const UNKNOWN = {
  cls: "unknown",
  reason: "the broker holds a position the book did not expect (an outside trade)",
} as const;
const UNEXPLAINED = { cls: "unexplained", reason: "no known order explains the difference" } as const;

/** The first class that holds, in {@link DRIFT_CLASSES} order, and why. */
function classify(
  expected: Decimal,
  actual: Decimal,
  diff: Decimal,
  inc: Decimal,
  withinTolerance: boolean,
  ev: OrderEvidence,
): { readonly cls: DriftClass; readonly reason: string } {
  if (
    ev.hasFinalUnapplied &&
    !ev.finalUnapplied.isZero() &&
    withinRange(diff.minus(ev.finalUnapplied), ev, inc)
  ) {
    return {
      cls: "missed_fill",
      reason: `finished orders filled ${formatDecimal(ev.finalUnapplied)} shares the book did not apply`,
    };
  }
  if (ev.hasOpen && withinRange(diff, ev, inc)) return IN_FLIGHT;
  if (withinTolerance) return DUST;
  if (!expected.isZero() && actual.isZero()) return PHANTOM;
  if (expected.isZero() && !actual.isZero()) return UNKNOWN;
  return UNEXPLAINED;
}

const NO_ORDERS: readonly OrderSnapshot[] = [];

/** The drift of one symbol, or undefined when the book and the broker agree. */
function driftOf(
  symbol: string,
  expected: Decimal,
  actual: Decimal,
  inputs: DriftInputs,
): PositionDrift | undefined {
  const diff = actual.minus(expected);
  if (diff.isZero()) return undefined;
  const inc = inputs.qtyTolerance ?? inputs.increments.get(symbol) ?? DEFAULT_QTY_INCREMENT;
  const price = inputs.prices.get(symbol);
  const notional = price === undefined ? undefined : diff.times(price);
  const ev = evidenceOf(inputs.ordersBySymbol.get(symbol) ?? NO_ORDERS, inputs.applied);
  const withinTolerance =
    absLessThan(diff, inc) || (notional !== undefined && absAtMost(notional, inputs.notionalTolerance));
  const { cls, reason } = classify(expected, actual, diff, inc, withinTolerance, ev);
  if (price === undefined || notional === undefined) {
    return {
      symbol,
      expectedQty: expected,
      actualQty: actual,
      qtyDiff: diff,
      class: cls,
      withinTolerance,
      orders: ev.related,
      reason,
    };
  }
  // The same keys in the same order as without a price, then the price and the notional.
  return {
    symbol,
    expectedQty: expected,
    actualQty: actual,
    qtyDiff: diff,
    class: cls,
    withinTolerance,
    orders: ev.related,
    reason,
    price,
    notionalDiff: notional,
  };
}

/**
 * Compares the positions the book expects with the broker's, and labels each difference.
 *
 * @remarks
 * Pure: plain values in, plain values out. Only symbols whose quantities differ are returned,
 * sorted by symbol. With `d = actual − expected`, the increment `inc` (or `tolerance.qty`) and
 * each order's unapplied effect `u = ±(filledQty − applied)` (+ for buys), the class is the
 * first that holds:
 * 1. `missed_fill`: the finished orders of the symbol have unapplied fills `U ≠ 0`, and the
 *    residual `d − U` lies within the open orders' range (below), widened by `inc`. The
 *    broker reported those fills and the book never applied them (a dropped stream event).
 * 2. `in_flight`: the symbol has open orders and `d` lies within their range widened by `inc`.
 *    An open order with quantity `Q` (unbounded for a notional order) and `A` applied can move
 *    the difference anywhere in `[−A, Q − A]` for a buy (`[A − Q, A]` for a sell): the broker's
 *    position and the book may have seen it at different moments.
 * 3. `dust`: `|d| < inc`, or a price is known and `|d × price| ≤ tolerance.notional`.
 * 4. `phantom`: the book holds a quantity, the broker none.
 * 5. `unknown`: the broker holds a quantity, the book none (an outside trade).
 * 6. `unexplained`.
 *
 * So a missed fill is told from an unexplained drift by evidence: the broker's own report of
 * a known order's cumulative fills, minus what the book applied, must account for the
 * difference. A difference no known order accounts for is never called a missed fill. The
 * orders are grouped by symbol once, so each symbol reads only its own.
 *
 * @param expected - the book's positions (symbol → quantity, negative for a short)
 * @param actual - the broker's positions (symbol → quantity); a missing symbol holds zero
 * @param options - prices, tolerance, increments, open and recent orders, applied fills
 * @returns one drift per symbol whose quantities differ
 * @throws ValidationError (`validation`) for a malformed position, price, order or option
 * @example
 * ```ts
 * const drifts = detectPositionDrift({ FNGU: "711" }, { FNGU: "0" }, { prices: { FNGU: 33.05 } });
 * drifts[0]?.class; // "phantom"
 * ```
 */
export function detectPositionDrift(
  expected: DecimalMapInput,
  actual: DecimalMapInput,
  options: DetectPositionDriftOptions = {},
): PositionDrift[] {
  const { exp, act, inputs } = readDriftInputs(expected, actual, options);
  const symbols = [...exp.keys()];
  for (const symbol of act.keys()) if (!exp.has(symbol)) symbols.push(symbol);
  symbols.sort();
  const drifts: PositionDrift[] = [];
  for (const symbol of symbols) {
    const drift = driftOf(symbol, exp.get(symbol) ?? ZERO, act.get(symbol) ?? ZERO, inputs);
    if (drift !== undefined) drifts.push(drift);
  }
  return drifts;
}

/** A {@link PositionDrift} as JSON: decimals as strings. */
export interface PositionDriftJSON {
  symbol: string;
  expectedQty: string;
  actualQty: string;
  qtyDiff: string;
  price?: string;
  notionalDiff?: string;
  class: DriftClass;
  withinTolerance: boolean;
  orders: {
    orderId: string;
    clientOrderId: string;
    side: OrderSide;
    status: OrderSnapshot["status"];
    open: boolean;
    filledQty: string;
    appliedQty: string;
    unappliedQty: string;
  }[];
  reason: string;
}

/**
 * Turns a drift into plain JSON (decimals as strings), for reports and logs.
 *
 * @param drift - a drift from {@link detectPositionDrift}
 * @returns the same facts, JSON-serializable
 * @example
 * ```ts
 * JSON.stringify(detectPositionDrift(expected, actual).map(driftToJSON));
 * ```
 */
export function driftToJSON(drift: PositionDrift): PositionDriftJSON {
  const out: PositionDriftJSON = {
    symbol: drift.symbol,
    expectedQty: drift.expectedQty.toFixed(),
    actualQty: drift.actualQty.toFixed(),
    qtyDiff: drift.qtyDiff.toFixed(),
    class: drift.class,
    withinTolerance: drift.withinTolerance,
    orders: drift.orders.map((o) => ({
      orderId: o.orderId,
      clientOrderId: o.clientOrderId,
      side: o.side,
      status: o.status,
      open: o.open,
      filledQty: o.filledQty.toFixed(),
      appliedQty: o.appliedQty.toFixed(),
      unappliedQty: o.unappliedQty.toFixed(),
    })),
    reason: drift.reason,
  };
  if (drift.price !== undefined) out.price = drift.price.toFixed();
  if (drift.notionalDiff !== undefined) out.notionalDiff = drift.notionalDiff.toFixed();
  return out;
}
