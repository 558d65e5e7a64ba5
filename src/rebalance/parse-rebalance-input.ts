import type { PositionSnapshot } from "../broker/broker-port.js";
import { fastOrderSnapshots, optionalDecimal } from "../broker/fast-order-snapshots.js";
import { compareFinite, type Decimal, ZERO } from "../core/decimal.js";
import {
  fastDecimal,
  findForbiddenKey,
  hasOnlyKeys,
  isParsedAlready,
  isPlainArray,
  isPlainRecord,
  isSymbolKey,
  parseInput,
  visitFastDecimals,
} from "../core/validation.js";
import {
  type RebalanceInput,
  RebalanceInputRestSchema,
  RebalanceInputSchema,
  type RebalanceTargets,
  WEIGHT_SUM_TOLERANCE,
} from "./rebalance-input.js";

// The validation fast path. Portfolios reach tens of thousands of positions, orders, assets,
// prices and targets; checking each through zod costs several times the planning. The arrays
// and maps of plainly valid input are checked here by hand (core/validation.ts), to exactly
// the rules of their schemas and of the forbidden-key walk, and produce the same parsed
// values. Anything unusual (a bad value, an unknown key, a string date, a record of assets, a
// duplicate, a lowercase symbol) returns undefined and the input goes through the full
// schema, which names the offending path and value exactly as before. So the fast path never
// accepts what the schema refuses and never changes an error: it only skips work on valid input.

const TOP_KEYS: ReadonlySet<string> = new Set([
  "positions",
  "openOrders",
  "targets",
  "prices",
  "assets",
  "account",
  "capabilities",
  "options",
]);
const POSITION_KEYS: ReadonlySet<string> = new Set([
  "symbol",
  "qty",
  "qtyAvailable",
  "marketValue",
  "avgEntryPrice",
  "currentPrice",
]);
const ASSET_KEYS: ReadonlySet<string> = new Set([
  "symbol",
  "tradable",
  "fractionable",
  "qtyIncrement",
  "minNotional",
]);
const TARGET_KEYS: ReadonlySet<string> = new Set(["weights", "quantities", "notionals"]);

/**
 * Parses the planner's input: the fast path for plainly valid input, else the full schema.
 *
 * @param input - the caller's input
 * @returns the parsed input, equal to `RebalanceInputSchema.parse(input)`
 * @throws ValidationError (`validation`) naming each offending path and value
 */
export function parseRebalanceInput(input: unknown): RebalanceInput {
  try {
    const fast = fastParse(input);
    if (fast !== undefined) return fast;
  } catch {
    // A getter or a proxy that throws: the full parse names where, as a ValidationError.
  }
  return parseInput(RebalanceInputSchema, input, "rebalance");
}

/**
 * The fast path alone (exported for its tests): plainly valid input checked by hand, or
 * undefined for anything the full schema must look at.
 *
 * @param input - the caller's input
 * @returns the parsed input, equal to `RebalanceInputSchema.parse(input)`; or undefined
 */
export function fastParse(input: unknown): RebalanceInput | undefined {
  if (!isPlainRecord(input) || !hasOnlyKeys(input, TOP_KEYS)) return undefined;
  const positions = input.positions === undefined ? [] : fastPositions(input.positions);
  if (positions === undefined) return undefined;
  const openOrders = input.openOrders === undefined ? [] : fastOrderSnapshots(input.openOrders, true);
  if (openOrders === undefined) return undefined;
  const assets = fastAssets(input.assets);
  if (assets === undefined) return undefined;
  const prices = fastMap(input.prices, "positive");
  const targets = fastTargets(input.targets);
  if (prices === undefined || targets === undefined) return undefined;
  // The small rest by its schema, after the forbidden-key walk the full parse does first.
  const small = { account: input.account, capabilities: input.capabilities, options: input.options };
  if (findForbiddenKey(small) !== undefined) return undefined;
  const rest = RebalanceInputRestSchema.safeParse(small);
  if (!rest.success) return undefined;
  const { account, capabilities, options } = rest.data;
  return { positions, openOrders, targets, prices, assets, account, capabilities, options };
}

/**
 * The schema's map or record of symbol → decimal (`mapOrRecord`), as a record; a zero is
 * {@link ZERO}. A plain record that already holds exactly those decimals is used as it is
 * (nothing is copied: building a record of thousands of keys costs more than reading it);
 * else a copy is made from the first value that differs.
 */
function fastMap(raw: unknown, bound: "positive" | "nonNegative"): Record<string, Decimal> | undefined {
  let out: Record<string, Decimal> | undefined =
    isPlainRecord(raw) && Object.getPrototypeOf(raw) === Object.prototype ? undefined : {};
  const ok = visitFastDecimals(raw, bound, "upperSymbol", (k, d, same) => {
    const value = d.isZero() ? ZERO : d;
    if (out === undefined) {
      if (same && value === d) return;
      out = copyUntil(raw as Record<string, Decimal>, k);
    }
    out[k] = value;
  });
  if (!ok) return undefined;
  return out ?? (raw as Record<string, Decimal>);
}

/** The entries of a plain record before a key, in their order (that of its own keys). */
function copyUntil(raw: Record<string, Decimal>, stop: string): Record<string, Decimal> {
  const out: Record<string, Decimal> = {};
  for (const k in raw) {
    if (k === stop) break;
    out[k] = raw[k]!;
  }
  return out;
}

/** `RebalanceTargetsSchema`: exactly one kind of target; weights each ≤ 1, summing to at most 1. */
function fastTargets(raw: unknown): RebalanceTargets | undefined {
  if (!isPlainRecord(raw) || !hasOnlyKeys(raw, TARGET_KEYS)) return undefined;
  const given = [raw.weights, raw.quantities, raw.notionals].filter((x) => x !== undefined);
  if (given.length !== 1) return undefined;
  const values = fastMap(given[0], "nonNegative");
  if (values === undefined) return undefined;
  if (raw.quantities !== undefined) return { quantities: values };
  if (raw.notionals !== undefined) return { notionals: values };
  // WeightsSchema's refinement: each weight at most 1, and their sum at most 1 + the tolerance,
  // summed as the schema sums (decimal.js, 40 digits). The sum is first read as a float from
  // each weight's digit words, with a bound on its error; only a float sum within that bound
  // of the limit is summed again as the schema sums, so the answer is always the schema's.
  let approx = 0;
  let count = 0;
  let words = 0;
  for (const symbol in values) {
    const w = values[symbol]!;
    if (!isAtMostOne(w)) return undefined;
    approx += floatOf(w);
    count++;
    words = Math.max(words, w.d.length);
  }
  // Each word and power of ten, each product and each addition rounds by at most one unit in
  // the last place; eight per weight and word is a wide margin (decimal.js's own rounding of
  // its sum at 40 digits is far below it).
  const bound = 8 * (count + words + 2) * Number.EPSILON * Math.max(approx, 1);
  const limit = 1 + WEIGHT_SUM_LIMIT_EXCESS;
  if (approx > limit + bound) return undefined;
  if (approx < limit - bound) return { weights: values };
  let sum = ZERO;
  for (const symbol in values) sum = sum.plus(values[symbol]!);
  return sum.minus(1).gt(WEIGHT_SUM_TOLERANCE) ? undefined : { weights: values };
}

/** WEIGHT_SUM_TOLERANCE as a number (1e-9). */
const WEIGHT_SUM_LIMIT_EXCESS = WEIGHT_SUM_TOLERANCE.toNumber();

/** w ≤ 1 for a finite w ≥ 0, read from its parts (decimal.js's normal form: `d[0]` is the leading word). */
function isAtMostOne(w: Decimal): boolean {
  const { d, e } = w;
  return d[0] === 0 || e < 0 || (e === 0 && d[0] === 1 && d.length === 1);
}

/** A finite decimal's value as a float, from its base-1e7 words (a few units in the last place off). */
function floatOf(w: Decimal): number {
  const { d, e } = w;
  const top = Math.floor(e / 7);
  let x = 0;
  for (let i = 0; i < d.length; i++) x += d[i]! * wordPower(top - i);
  return w.s < 0 ? -x : x;
}

/** 10^(7k) as a float, from a table for |k| ≤ 50. */
const WORD_POWERS: number[] = Array.from({ length: 101 }, (_, i) => 10 ** (7 * (i - 50)));

function wordPower(k: number): number {
  return k >= -50 && k <= 50 ? WORD_POWERS[k + 50]! : 10 ** (7 * k);
}

function fastPositions(raw: unknown): PositionSnapshot[] | undefined {
  if (!isPlainArray(raw)) return undefined;
  const out: PositionSnapshot[] = new Array(raw.length);
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const p: unknown = raw[i];
    if (!isPlainRecord(p) || !hasOnlyKeys(p, POSITION_KEYS)) return undefined;
    const { symbol } = p;
    if (!isSymbolKey(symbol) || seen.has(symbol)) return undefined;
    seen.add(symbol);
    const qty = fastDecimal(p.qty, "any");
    const qtyAvailable = fastDecimal(p.qtyAvailable, "any");
    if (qty === undefined || qtyAvailable === undefined || !availableInRange(qty, qtyAvailable)) {
      return undefined;
    }
    // The common case, the decimals given and no optional field: the object given is its parsed
    // form (what isParsedAlready would find), so none is built to compare with.
    if (
      qty === p.qty &&
      qtyAvailable === p.qtyAvailable &&
      !("marketValue" in p) &&
      !("avgEntryPrice" in p) &&
      !("currentPrice" in p)
    ) {
      out[i] = p as unknown as PositionSnapshot;
      continue;
    }
    const parsed: PositionSnapshot = { symbol, qty, qtyAvailable };
    if (
      !optionalDecimal(p, "marketValue", "any", parsed) ||
      !optionalDecimal(p, "avgEntryPrice", "nonNegative", parsed) ||
      !optionalDecimal(p, "currentPrice", "positive", parsed)
    ) {
      return undefined;
    }
    out[i] = isParsedAlready(p, parsed) ? (p as unknown as PositionSnapshot) : parsed;
  }
  return out;
}

/** PositionSnapshotSchema's refinement: a long's qtyAvailable in [0, qty], a short's in [qty, 0]. */
function availableInRange(qty: Decimal, qtyAvailable: Decimal): boolean {
  if (!isBelowZero(qty)) return !(qtyAvailable.isNegative() || compareFinite(qtyAvailable, qty) > 0);
  return !(isAboveZero(qtyAvailable) || compareFinite(qtyAvailable, qty) < 0);
}

/** d < 0 (−0 is not). */
function isBelowZero(d: Decimal): boolean {
  return d.isNegative() && !d.isZero();
}

/** d > 0. */
function isAboveZero(d: Decimal): boolean {
  return !d.isNegative() && !d.isZero();
}

/** Whether an optional decimal field is absent, or holds a decimal the schema reads as itself. */
function isGivenDecimal(raw: Record<string, unknown>, key: string, bound: "nonNegative"): boolean {
  if (!(key in raw)) return true;
  const v = raw[key];
  return v !== null && v !== undefined && fastDecimal(v, bound) === v;
}

/** One entry of the array form of `assets`, as parsed. */
type AssetEntry = Extract<RebalanceInput["assets"], readonly unknown[]>[number];

function fastAssets(raw: unknown): AssetEntry[] | undefined {
  // A record of assets is rarer and goes through the schema.
  if (!isPlainArray(raw)) return undefined;
  const out: AssetEntry[] = new Array(raw.length);
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const a: unknown = raw[i];
    if (!isPlainRecord(a) || !hasOnlyKeys(a, ASSET_KEYS)) return undefined;
    const { symbol, tradable, fractionable } = a;
    if (!isSymbolKey(symbol) || seen.has(symbol)) return undefined;
    seen.add(symbol);
    if (typeof tradable !== "boolean" || typeof fractionable !== "boolean") return undefined;
    const qtyIncrement = fastDecimal(a.qtyIncrement, "positive");
    if (qtyIncrement === undefined) return undefined;
    // The decimals given: the object given is its parsed form (see fastPositions).
    if (qtyIncrement === a.qtyIncrement && isGivenDecimal(a, "minNotional", "nonNegative")) {
      out[i] = a as unknown as AssetEntry;
      continue;
    }
    const parsed: AssetEntry = { symbol, tradable, fractionable, qtyIncrement };
    if (!optionalDecimal(a, "minNotional", "nonNegative", parsed)) return undefined;
    out[i] = isParsedAlready(a, parsed) ? (a as unknown as AssetEntry) : parsed;
  }
  return out;
}
