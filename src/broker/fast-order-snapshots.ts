import { compareFinite } from "../core/decimal.js";
import {
  type DecimalBound,
  fastDecimal,
  hasOnlyKeys,
  isParsedAlready,
  isPlainArray,
  isPlainRecord,
  isSymbolKey,
  isValidDate,
  type RawRecord,
} from "../core/validation.js";
import type { OrderSide, OrderSnapshot, OrderType, TimeInForce } from "./broker-port.js";
import { BROKER_ORDER_STATUSES, ORDER_SIDES, ORDER_TYPES, TIMES_IN_FORCE } from "./vocabulary.js";

// The validation fast path of a list of order snapshots (core/validation.ts says how fast paths
// work): plainly valid orders checked by hand to exactly the rules of OrderSnapshotSchema, and
// read as it reads them. Anything unusual (an unknown key, a string date, a bad value) returns
// undefined and the list goes through the schema, which names the offending path and value.

const ORDER_KEYS: ReadonlySet<string> = new Set([
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
const SIDES = vocabulary<OrderSide>(ORDER_SIDES);
const TYPES = vocabulary<OrderType>(ORDER_TYPES);
const TIFS = vocabulary<TimeInForce>(TIMES_IN_FORCE);
const STATUSES = vocabulary(BROKER_ORDER_STATUSES);

/** A lookup from any value to the member of a vocabulary it names, so a hit comes out typed. */
function vocabulary<T extends string>(values: readonly T[]): ReadonlyMap<unknown, T> {
  return new Map(values.map((v) => [v, v]));
}

/**
 * `z.array(OrderSnapshotSchema)` on plainly valid input, by hand.
 *
 * @param raw - anything
 * @param unique - also refuse (leave to the schema) a list with an order id twice
 * @returns the parsed orders, equal to the schema's; undefined for anything the schema must look at
 */
export function fastOrderSnapshots(raw: unknown, unique: boolean): OrderSnapshot[] | undefined {
  if (!isPlainArray(raw)) return undefined;
  const out: OrderSnapshot[] = new Array(raw.length);
  const seen = unique ? new Set<string>() : undefined;
  for (let i = 0; i < raw.length; i++) {
    const o: unknown = raw[i];
    if (!isPlainRecord(o) || !hasOnlyKeys(o, ORDER_KEYS)) return undefined;
    const parsed = requiredFields(o);
    if (parsed === undefined || !optionalFields(o, parsed)) return undefined;
    if (seen !== undefined) {
      if (seen.has(parsed.id)) return undefined;
      seen.add(parsed.id);
    }
    // OrderSnapshotSchema's refinement: qty or notional, and no more filled than ordered.
    const { qty } = parsed;
    if (qty === undefined && parsed.notional === undefined) return undefined;
    if (qty !== undefined && compareFinite(parsed.filledQty, qty) > 0) return undefined;
    // An order given exactly as parsed (decimals of this copy of decimal.js, no nulls) is used
    // as it is: the same keys and values, one object less.
    out[i] = isParsedAlready(o, parsed) ? (o as unknown as OrderSnapshot) : parsed;
  }
  return out;
}

/** The required fields, checked; the schema's keys, required ones first (only their order differs). */
function requiredFields(o: RawRecord): OrderSnapshot | undefined {
  const { id, clientOrderId, symbol, updatedAt } = o;
  if (typeof id !== "string" || id.length === 0) return undefined;
  if (typeof clientOrderId !== "string" || clientOrderId.length === 0 || !isSymbolKey(symbol))
    return undefined;
  const side = SIDES.get(o.side);
  const type = TYPES.get(o.type);
  const timeInForce = TIFS.get(o.timeInForce);
  const status = STATUSES.get(o.status);
  if (side === undefined || type === undefined || timeInForce === undefined) return undefined;
  if (status === undefined || !isValidDate(updatedAt)) return undefined;
  const filledQty = fastDecimal(o.filledQty, "nonNegative");
  if (filledQty === undefined) return undefined;
  return { id, clientOrderId, symbol, side, type, timeInForce, filledQty, status, updatedAt };
}

/** The optional fields, written to `parsed`; false when the schema would refuse one. */
function optionalFields(o: RawRecord, parsed: OrderSnapshot): boolean {
  if (
    !optionalDecimal(o, "qty", "positive", parsed) ||
    !optionalDecimal(o, "notional", "positive", parsed) ||
    !optionalDecimal(o, "filledAvgPrice", "nonNegative", parsed) ||
    !optionalDecimal(o, "limitPrice", "positive", parsed)
  ) {
    return false;
  }
  if ("createdAt" in o) {
    const c = o.createdAt;
    if (c === null || c === undefined) parsed.createdAt = undefined;
    else if (isValidDate(c)) parsed.createdAt = c;
    else return false;
  }
  if ("rejectReason" in o) {
    const r = o.rejectReason;
    if (r === null || r === undefined) parsed.rejectReason = undefined;
    else if (typeof r === "string") parsed.rejectReason = r;
    else return false;
  }
  return true;
}

/**
 * `optional(zDecimal…)` on one key, written to `out`: a missing key stays missing, null or
 * undefined becomes undefined; false when the schema would refuse the value.
 *
 * @param raw - the object read
 * @param key - the key
 * @param bound - the value's bound
 * @param out - the parsed object
 * @returns whether the schema would accept the value
 */
export function optionalDecimal<K extends string>(
  raw: RawRecord,
  key: K,
  bound: DecimalBound,
  out: { [P in K]?: unknown },
): boolean {
  if (!(key in raw)) return true;
  const v = raw[key];
  if (v === null || v === undefined) {
    out[key] = undefined;
    return true;
  }
  const d = fastDecimal(v, bound);
  if (d === undefined) return false;
  out[key] = d;
  return true;
}
