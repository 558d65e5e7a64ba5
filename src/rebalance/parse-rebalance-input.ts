import {
  BROKER_ORDER_STATUSES,
  type OrderSide,
  type OrderSnapshot,
  type OrderType,
  type PositionSnapshot,
  type TimeInForce,
} from "../broker/broker-port.js";
import { type Decimal, tryToDecimal } from "../core/decimal.js";
import { findForbiddenKey, parseInput } from "../core/validation.js";
import { type RebalanceInput, RebalanceInputRestSchema, RebalanceInputSchema } from "./rebalance-input.js";

// The validation fast path. Portfolios reach tens of thousands of positions, orders and
// assets; checking each through zod costs several times the planning. The arrays of plainly
// valid input are checked here by hand, to exactly the rules of their schemas, and produce the
// same parsed values. Anything unusual (a bad value, an unknown key, a string date, a record of
// assets, a duplicate) returns undefined and the input goes through the full schema, which
// names the offending path and value exactly as before. So the fast path never accepts what
// the schema refuses and never changes an error: it only skips work on valid input.

const SYMBOL = /^[A-Za-z0-9][A-Za-z0-9./:_-]{0,31}$/;
const TOP_KEYS = new Set([
  "positions",
  "openOrders",
  "targets",
  "prices",
  "assets",
  "account",
  "capabilities",
  "options",
]);
const POSITION_KEYS = new Set([
  "symbol",
  "qty",
  "qtyAvailable",
  "marketValue",
  "avgEntryPrice",
  "currentPrice",
]);
const ORDER_KEYS = new Set([
  "id",
  "clientOrderId",
  "symbol",
  "side",
  "type",
  "timeInForce",
  "qty",
  "notional",
  "filledQty",
  "filledAvgPrice",
  "limitPrice",
  "status",
  "createdAt",
  "updatedAt",
  "rejectReason",
]);
const ASSET_KEYS = new Set(["symbol", "tradable", "fractionable", "qtyIncrement", "minNotional"]);
const SIDES = vocabulary<OrderSide>(["buy", "sell"]);
const TYPES = vocabulary<OrderType>(["market", "limit"]);
const TIFS = vocabulary<TimeInForce>(["day", "gtc", "ioc", "fok", "opg", "cls"]);
const STATUSES = vocabulary(BROKER_ORDER_STATUSES);

type Raw = Record<string, unknown>;

/** A lookup from any string to the member of a vocabulary it names, so a hit comes out typed. */
function vocabulary<T extends string>(values: readonly T[]): ReadonlyMap<unknown, T> {
  return new Map(values.map((v) => [v, v]));
}
type Bound = "any" | "positive" | "nonNegative";

/**
 * Parses the planner's input: the fast path for plainly valid input, else the full schema.
 *
 * @param input - the caller's input
 * @returns the parsed input, equal to `RebalanceInputSchema.parse(input)`
 * @throws ValidationError (`validation`) naming each offending path and value
 */
export function parseRebalanceInput(input: unknown): RebalanceInput {
  try {
    if (findForbiddenKey(input, "rebalance") === undefined) {
      const fast = fastParse(input);
      if (fast !== undefined) return fast;
    }
  } catch {
    // A getter or a proxy that throws: the full parse names where, as a ValidationError.
  }
  return parseInput(RebalanceInputSchema, input, "rebalance");
}

function isPlain(v: unknown): v is Raw {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Only known keys, and no symbol keys. */
function keysWithin(raw: Raw, known: ReadonlySet<string>): boolean {
  for (const k of Object.keys(raw)) if (!known.has(k)) return false;
  return Object.getOwnPropertySymbols(raw).length === 0;
}

/** zDecimal (and its bounds) on one value; undefined where the schema would refuse it. */
function decimalOf(v: unknown, bound: Bound): Decimal | undefined {
  // toDecimal's rules, overflow included ("1e9999999999999999" reads as Infinity).
  const d = tryToDecimal(v);
  if (d === undefined) return undefined;
  // Signs read directly (d.gt(0) would build a decimal for the 0); −0 counts as 0.
  if (bound === "positive" ? d.isZero() || d.isNegative() : bound === "nonNegative" && isBelowZero(d)) {
    return undefined;
  }
  return d;
}

/**
 * `optional(zDecimal…)` on one key, written to `out`: a missing key stays missing, null or
 * undefined becomes undefined; false when the schema would refuse the value.
 */
function optionalDecimal<K extends string>(
  raw: Raw,
  key: K,
  bound: Bound,
  out: { [P in K]?: Decimal | undefined },
): boolean {
  if (!(key in raw)) return true;
  const v = raw[key];
  if (v === null || v === undefined) {
    out[key] = undefined;
    return true;
  }
  const d = decimalOf(v, bound);
  if (d === undefined) return false;
  out[key] = d;
  return true;
}

/** d < 0 (−0 is not). */
function isBelowZero(d: Decimal): boolean {
  return d.isNegative() && !d.isZero();
}

/** d > 0. */
function isAboveZero(d: Decimal): boolean {
  return !d.isNegative() && !d.isZero();
}

function isSymbol(v: unknown): v is string {
  return typeof v === "string" && SYMBOL.test(v);
}

function isValidDate(v: unknown): v is Date {
  return v instanceof Date && !Number.isNaN(v.getTime());
}

/**
 * The fast path alone (exported for its tests): plainly valid input checked by hand, or
 * undefined for anything the full schema must look at.
 *
 * @param input - the caller's input
 * @returns the parsed input, equal to `RebalanceInputSchema.parse(input)`; or undefined
 */
export function fastParse(input: unknown): RebalanceInput | undefined {
  if (!isPlain(input) || !keysWithin(input, TOP_KEYS)) return undefined;
  const positions = input.positions === undefined ? [] : fastPositions(input.positions);
  if (positions === undefined) return undefined;
  const openOrders = input.openOrders === undefined ? [] : fastOrders(input.openOrders);
  if (openOrders === undefined) return undefined;
  const assets = fastAssets(input.assets);
  if (assets === undefined) return undefined;
  const rest = RebalanceInputRestSchema.safeParse({
    targets: input.targets,
    prices: input.prices,
    account: input.account,
    capabilities: input.capabilities,
    options: input.options,
  });
  if (!rest.success) return undefined;
  const { targets, prices, account, capabilities, options } = rest.data;
  return { positions, openOrders, targets, prices, assets, account, capabilities, options };
}

function fastPositions(raw: unknown): PositionSnapshot[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: PositionSnapshot[] = new Array(raw.length);
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const p: unknown = raw[i];
    if (!isPlain(p) || !keysWithin(p, POSITION_KEYS)) return undefined;
    const { symbol } = p;
    if (!isSymbol(symbol) || seen.has(symbol)) return undefined;
    seen.add(symbol);
    const qty = decimalOf(p.qty, "any");
    const qtyAvailable = decimalOf(p.qtyAvailable, "any");
    if (qty === undefined || qtyAvailable === undefined) return undefined;
    const parsed: PositionSnapshot = { symbol, qty, qtyAvailable };
    if (
      !optionalDecimal(p, "marketValue", "any", parsed) ||
      !optionalDecimal(p, "avgEntryPrice", "nonNegative", parsed) ||
      !optionalDecimal(p, "currentPrice", "positive", parsed)
    ) {
      return undefined;
    }
    // PositionSnapshotSchema's refinement: a long's qtyAvailable in [0, qty], a short's in [qty, 0].
    if (
      !isBelowZero(qty)
        ? qtyAvailable.isNegative() || qtyAvailable.gt(qty)
        : isAboveZero(qtyAvailable) || qtyAvailable.lt(qty)
    ) {
      return undefined;
    }
    out[i] = parsed;
  }
  return out;
}

function fastOrders(raw: unknown): OrderSnapshot[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: OrderSnapshot[] = new Array(raw.length);
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const o: unknown = raw[i];
    if (!isPlain(o) || !keysWithin(o, ORDER_KEYS)) return undefined;
    const { id, clientOrderId, symbol, updatedAt } = o;
    if (typeof id !== "string" || id.length === 0 || seen.has(id)) return undefined;
    seen.add(id);
    if (typeof clientOrderId !== "string" || clientOrderId.length === 0 || !isSymbol(symbol))
      return undefined;
    const side = SIDES.get(o.side);
    const type = TYPES.get(o.type);
    const timeInForce = TIFS.get(o.timeInForce);
    const status = STATUSES.get(o.status);
    if (side === undefined || type === undefined || timeInForce === undefined) return undefined;
    if (status === undefined || !isValidDate(updatedAt)) return undefined;
    const filledQty = decimalOf(o.filledQty, "nonNegative");
    if (filledQty === undefined) return undefined;
    // The schema's keys, required ones first (the order of keys is all that differs).
    const parsed: OrderSnapshot = {
      id,
      clientOrderId,
      symbol,
      side,
      type,
      timeInForce,
      filledQty,
      status,
      updatedAt,
    };
    if (
      !optionalDecimal(o, "qty", "positive", parsed) ||
      !optionalDecimal(o, "notional", "positive", parsed) ||
      !optionalDecimal(o, "filledAvgPrice", "nonNegative", parsed) ||
      !optionalDecimal(o, "limitPrice", "positive", parsed)
    ) {
      return undefined;
    }
    if ("createdAt" in o) {
      const c = o.createdAt;
      if (c === null || c === undefined) parsed.createdAt = undefined;
      else if (isValidDate(c)) parsed.createdAt = c;
      else return undefined;
    }
    if ("rejectReason" in o) {
      const r = o.rejectReason;
      if (r === null || r === undefined) parsed.rejectReason = undefined;
      else if (typeof r === "string") parsed.rejectReason = r;
      else return undefined;
    }
    // OrderSnapshotSchema's refinement: qty or notional, and no more filled than ordered.
    const { qty } = parsed;
    if (qty === undefined && parsed.notional === undefined) return undefined;
    if (qty !== undefined && filledQty.gt(qty)) return undefined;
    out[i] = parsed;
  }
  return out;
}

/** One entry of the array form of `assets`, as parsed. */
type AssetEntry = Extract<RebalanceInput["assets"], readonly unknown[]>[number];

function fastAssets(raw: unknown): AssetEntry[] | undefined {
  // A record of assets is rarer and goes through the schema.
  if (!Array.isArray(raw)) return undefined;
  const out: AssetEntry[] = new Array(raw.length);
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const a: unknown = raw[i];
    if (!isPlain(a) || !keysWithin(a, ASSET_KEYS)) return undefined;
    const { symbol, tradable, fractionable } = a;
    if (!isSymbol(symbol) || seen.has(symbol)) return undefined;
    seen.add(symbol);
    if (typeof tradable !== "boolean" || typeof fractionable !== "boolean") return undefined;
    const qtyIncrement = decimalOf(a.qtyIncrement, "positive");
    if (qtyIncrement === undefined) return undefined;
    const parsed: AssetEntry = { symbol, tradable, fractionable, qtyIncrement };
    if (!optionalDecimal(a, "minNotional", "nonNegative", parsed)) return undefined;
    out[i] = parsed;
  }
  return out;
}
