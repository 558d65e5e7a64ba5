import type { OrderSnapshot } from "../broker/broker-port.js";
import { fastOrderSnapshots } from "../broker/fast-order-snapshots.js";
import type { Decimal } from "../core/decimal.js";
import {
  type DecimalBound,
  type FastKeyKind,
  fastDecimal,
  fastDecimalMap,
  hasOnlyKeys,
  isPlainRecord,
  type RawRecord,
} from "../core/validation.js";

// The validation fast path of detectPositionDrift (core/validation.ts says how fast paths
// work): plainly valid positions and options checked by hand, to exactly the rules of their
// schemas, and read as the schemas read them. Anything unusual returns undefined and the
// input goes through the schemas, which name the offending path and value.

const OPTION_KEYS: ReadonlySet<string> = new Set([
  "prices",
  "tolerance",
  "increments",
  "openOrders",
  "recentOrders",
  "applied",
]);
const TOLERANCE_KEYS: ReadonlySet<string> = new Set(["notional", "qty"]);

/** The options of detectPositionDrift as its schema parses them, the maps as `Map`s. */
export interface FastDriftOptions {
  readonly prices: ReadonlyMap<string, Decimal>;
  readonly increments: ReadonlyMap<string, Decimal>;
  readonly applied: ReadonlyMap<string, Decimal>;
  readonly tolerance: { readonly notional?: Decimal | undefined; readonly qty?: Decimal | undefined };
  readonly openOrders: readonly OrderSnapshot[];
  readonly recentOrders: readonly OrderSnapshot[];
}

/**
 * The positions (`PositionsSchema`: a map or record of symbol → decimal) as a `Map`.
 *
 * @param raw - the caller's positions
 * @returns the positions, equal to the schema's; undefined for anything the schema must look at
 */
export function fastPositions(raw: unknown): ReadonlyMap<string, Decimal> | undefined {
  return fastDecimalMap(raw, "any", "symbol");
}

/**
 * The options (`OptionsSchema`), checked by hand.
 *
 * @param raw - the caller's options
 * @returns the options, equal to the schema's; undefined for anything the schema must look at
 */
export function fastDriftOptions(raw: unknown): FastDriftOptions | undefined {
  if (!isPlainRecord(raw) || !hasOnlyKeys(raw, OPTION_KEYS)) return undefined;
  const prices = optionalMap(raw.prices, "positive", "symbol");
  const increments = optionalMap(raw.increments, "positive", "symbol");
  const applied = optionalMap(raw.applied, "nonNegative", "id");
  const tolerance = fastTolerance(raw.tolerance);
  if (prices === undefined || increments === undefined || applied === undefined) return undefined;
  const openOrders = optionalOrders(raw.openOrders);
  const recentOrders = optionalOrders(raw.recentOrders);
  if (tolerance === undefined || openOrders === undefined || recentOrders === undefined) return undefined;
  return { prices, increments, applied, tolerance, openOrders, recentOrders };
}

function optionalMap(
  raw: unknown,
  bound: DecimalBound,
  key: FastKeyKind,
): ReadonlyMap<string, Decimal> | undefined {
  return raw === undefined ? new Map() : fastDecimalMap(raw, bound, key);
}

function optionalOrders(raw: unknown): readonly OrderSnapshot[] | undefined {
  return raw === undefined ? [] : fastOrderSnapshots(raw, false);
}

/** The strict `{ notional?: ≥ 0, qty?: > 0 }`. */
function fastTolerance(raw: unknown): FastDriftOptions["tolerance"] | undefined {
  if (raw === undefined) return {};
  if (!isPlainRecord(raw) || !hasOnlyKeys(raw, TOLERANCE_KEYS)) return undefined;
  const notional = optionalValue(raw, "notional", "nonNegative");
  const qty = optionalValue(raw, "qty", "positive");
  if (notional === null || qty === null) return undefined;
  return { notional, qty };
}

/** An optional decimal: undefined when absent, null when the schema would refuse it. */
function optionalValue(raw: RawRecord, key: string, bound: DecimalBound): Decimal | undefined | null {
  const v = raw[key];
  if (v === undefined) return undefined;
  return fastDecimal(v, bound) ?? null;
}
