import { Decimal as DecimalJs } from "decimal.js";
import { ValidationError } from "./errors.js";

/**
 * The decimal type ordersafe uses for every quantity, price, notional and weight.
 *
 * @remarks
 * A private clone of decimal.js: ordersafe never calls `Decimal.set`, so the caller's own
 * decimal.js configuration is left untouched. Instances of any decimal.js copy are accepted
 * wherever a {@link DecimalLike} is.
 *
 * @example
 * ```ts
 * import { Decimal } from "ordersafe";
 * const qty = new Decimal("1591.166892");
 * ```
 */
export const Decimal = DecimalJs.clone({
  precision: 40,
  rounding: DecimalJs.ROUND_HALF_UP,
  toExpNeg: -40,
  toExpPos: 40,
});
/** An ordersafe decimal value. */
export type Decimal = DecimalJs;

/** Anything ordersafe accepts as a decimal: a decimal.js instance, a numeric string or a finite number. */
export type DecimalLike = DecimalJs | string | number;

/** Decimal.js rounding modes under readable names. */
export const Rounding = {
  down: DecimalJs.ROUND_DOWN,
  up: DecimalJs.ROUND_UP,
  floor: DecimalJs.ROUND_FLOOR,
  ceil: DecimalJs.ROUND_CEIL,
  halfUp: DecimalJs.ROUND_HALF_UP,
  halfEven: DecimalJs.ROUND_HALF_EVEN,
} as const;

const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** A zero, shared (decimals are immutable). */
export const ZERO: Decimal = new Decimal(0);
/** A one, shared. */
export const ONE: Decimal = new Decimal(1);

/**
 * Whether a value is a decimal.js instance (of any copy of the library).
 *
 * @param value - anything
 * @returns true for a decimal.js instance
 */
export function isDecimal(value: unknown): value is Decimal {
  return DecimalJs.isDecimal(value);
}

/**
 * Converts a {@link DecimalLike} to an ordersafe {@link Decimal}.
 *
 * @param value - a decimal, a numeric string (`"12.5"`, `"1e-3"`) or a finite number
 * @param path - where the value came from, named in the error (`"targets.weights.TECL"`)
 * @returns the value as a finite decimal
 * @throws ValidationError (`validation`) for NaN, ±Infinity, an empty or non-numeric string,
 *   a value that overflows (`"1e9999999999999999"`, or an exponent past
 *   {@link MAX_DECIMAL_EXPONENT}), or any other type
 * @example
 * ```ts
 * toDecimal("0.1").plus(toDecimal(0.2)).toString(); // "0.3"
 * ```
 */
export function toDecimal(value: unknown, path = "value"): Decimal {
  const d = readDecimal(value);
  if (typeof d === "string") throw invalid(path, value, d);
  return d;
}

/**
 * Reads a {@link DecimalLike} as {@link toDecimal} does, without throwing.
 *
 * @param value - anything
 * @returns the value as a finite decimal (within {@link MAX_DECIMAL_EXPONENT}), or undefined
 *   where `toDecimal` would throw
 * @example
 * ```ts
 * tryToDecimal("12.5")?.toString(); // "12.5"
 * tryToDecimal("1e9999999999999999"); // undefined: overflows to Infinity
 * ```
 */
export function tryToDecimal(value: unknown): Decimal | undefined {
  const d = readDecimal(value);
  return typeof d === "string" ? undefined : d;
}

/**
 * The largest decimal exponent a value may have (and the smallest, negated): ordersafe
 * refuses a value past it, such as `"1e9999999999999999"` (Infinity once read) or
 * `"1e9000000000000000"` (finite, but Infinity once multiplied), so no arithmetic on
 * accepted values can overflow to a non-finite result.
 *
 * @example
 * ```ts
 * MAX_DECIMAL_EXPONENT; // 1_000_000_000
 * ```
 */
export const MAX_DECIMAL_EXPONENT = 1_000_000_000;

/** {@link isDecimal}, false for an object that throws when looked at (a proxy, a getter). */
function isDecimalSafely(value: unknown): value is Decimal {
  try {
    return isDecimal(value);
  } catch {
    return false;
  }
}

/** Whether a value is a decimal of this copy of decimal.js; false for one that throws when looked at. */
function isOwnDecimal(value: unknown): value is Decimal {
  try {
    return value instanceof Decimal;
  } catch {
    return false;
  }
}

/** The value as a finite decimal in range, or what was expected instead. */
function readDecimal(value: unknown): Decimal | string {
  // Most values are already decimals of this copy of decimal.js: read from their parts.
  if (isOwnDecimal(value)) {
    const { d, e } = value;
    if (!d) return "a finite decimal";
    return d[0] !== 0 && Math.abs(e) > MAX_DECIMAL_EXPONENT ? "a finite decimal (this one overflows)" : value;
  }
  let d: Decimal;
  if (isDecimalSafely(value)) {
    if (!value.isFinite()) return "a finite decimal";
    // Not ours: a decimal of another decimal.js copy (the types cannot tell the copies
    // apart), re-read from its digits.
    d = value instanceof Decimal ? value : new Decimal(String(value));
  } else if (typeof value === "number") {
    if (!Number.isFinite(value)) return "a finite number";
    d = new Decimal(value);
  } else if (typeof value === "string") {
    const s = value.trim();
    if (s === "" || !NUMERIC.test(s)) return "a numeric string";
    d = new Decimal(s);
  } else {
    return "a decimal, a numeric string or a finite number";
  }
  // A string such as "1e9999999999999999" matches the grammar and reads as Infinity.
  if (!d.isFinite() || (!d.isZero() && Math.abs(d.e) > MAX_DECIMAL_EXPONENT)) {
    return "a finite decimal (this one overflows)";
  }
  return d;
}

function invalid(path: string, value: unknown, expected: string): ValidationError {
  return new ValidationError(`${path}: expected ${expected}`, {
    issues: [{ path, message: `expected ${expected}`, value }],
  });
}

/**
 * Compares two finite decimals of ordersafe's decimal.js from their parts (`s`, `e`, and the
 * base-1e7 words `d`, in decimal.js's normal form: no trailing zero word, a zero's first
 * word 0), with no decimal built: `a.cmp(b)` makes a decimal of `b` first.
 *
 * @param a - a finite decimal
 * @param b - a finite decimal
 * @returns −1, 0 or 1 as a <, = or > b (−0 equals 0)
 */
export function compareFinite(a: Decimal, b: Decimal): number {
  const ad = a.d;
  const bd = b.d;
  const as = ad[0] === 0 ? 0 : a.s;
  const bs = bd[0] === 0 ? 0 : b.s;
  if (as !== bs) return as > bs ? 1 : -1;
  if (as === 0) return 0;
  // Same sign, both nonzero: the larger exponent, else the first word that differs, else the
  // longer (its extra words are not zero) is the larger in magnitude.
  let c = 0;
  if (a.e !== b.e) c = a.e > b.e ? 1 : -1;
  else {
    const n = Math.min(ad.length, bd.length);
    for (let i = 0; i < n && c === 0; i++) if (ad[i] !== bd[i]) c = ad[i]! > bd[i]! ? 1 : -1;
    if (c === 0 && ad.length !== bd.length) c = ad.length > bd.length ? 1 : -1;
  }
  if (c === 0) return 0;
  return as < 0 ? -c : c;
}

/** How close (as a fraction of one increment) a value must be to the next step to count as that step. */
export const INCREMENT_SNAP = new Decimal("0.000001");

function checkIncrement(increment: Decimal): void {
  if (!increment.isFinite() || increment.lte(0)) {
    throw new ValidationError(`increment: expected a positive decimal`, {
      issues: [{ path: "increment", message: "expected a positive decimal", value: increment.toString() }],
    });
  }
}

/**
 * Rounds down to a whole number of increments (toward −∞).
 *
 * @remarks
 * A value within one millionth of an increment below the next step counts as that step:
 * `0.9999999999` shares with increment 1 is float noise for 1, not a reason to drop a
 * whole share. Callers that must never exceed a cap (a sell and `qtyAvailable`) still cap.
 *
 * @param value - the value to round
 * @param increment - the step, greater than zero (1 for whole shares, 0.000000001 for fractional)
 * @returns the largest multiple of `increment` not above `value` (with the snap above)
 * @throws ValidationError (`validation`) when the increment is not positive
 * @example
 * ```ts
 * floorToIncrement("10.7", 1).toString(); // "10"
 * floorToIncrement("1.99999999999", "0.01").toString(); // "2"
 * ```
 */
export function floorToIncrement(value: DecimalLike, increment: DecimalLike): Decimal {
  const v = toDecimal(value);
  const inc = toDecimal(increment, "increment");
  checkIncrement(inc);
  const steps = v.div(inc);
  const up = steps.ceil();
  const n = up.minus(steps).lte(INCREMENT_SNAP) ? up : steps.floor();
  return n.times(inc);
}

/**
 * Rounds up to a whole number of increments (toward +∞).
 *
 * @remarks
 * A value within one millionth of an increment above a step counts as that step.
 *
 * @param value - the value to round
 * @param increment - the step, greater than zero
 * @returns the smallest multiple of `increment` not below `value` (with the snap above)
 * @throws ValidationError (`validation`) when the increment is not positive
 * @example
 * ```ts
 * ceilToIncrement("10.2", 1).toString(); // "11"
 * ```
 */
export function ceilToIncrement(value: DecimalLike, increment: DecimalLike): Decimal {
  const v = toDecimal(value);
  const inc = toDecimal(increment, "increment");
  checkIncrement(inc);
  const steps = v.div(inc);
  const down = steps.floor();
  const n = steps.minus(down).lte(INCREMENT_SNAP) ? down : steps.ceil();
  return n.times(inc);
}

/**
 * Whether a value is a whole number of increments.
 *
 * @param value - the value
 * @param increment - the step, greater than zero
 * @returns true when `value / increment` is an integer
 */
export function isMultipleOf(value: DecimalLike, increment: DecimalLike): boolean {
  const inc = toDecimal(increment, "increment");
  checkIncrement(inc);
  return toDecimal(value).mod(inc).isZero();
}

/**
 * Formats a decimal for a broker: plain notation (never exponent form), at most
 * `maxDecimals` places, no trailing zeros.
 *
 * @param value - the value
 * @param maxDecimals - decimal places kept
 * @param rounding - how extra places are dropped; toward zero unless told
 * @returns a string such as `"0.000000001"` or `"1591.166892"`
 * @defaultValue maxDecimals 9, rounding `Rounding.down`
 * @example
 * ```ts
 * formatDecimal(new Decimal("1e-9")); // "0.000000001"
 * ```
 */
export function formatDecimal(value: DecimalLike, maxDecimals = 9, rounding: number = Rounding.down): string {
  const d = toDecimal(value).toDecimalPlaces(maxDecimals, roundingMode(rounding));
  const s = d.toFixed();
  return s === "-0" ? "0" : s;
}

/** A decimal.js rounding mode (an integer 0 to 8); anything else throws as decimal.js does. */
function roundingMode(rounding: number): DecimalJs.Rounding {
  switch (rounding) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
      return rounding;
    default:
      throw new Error(`[DecimalError] Invalid argument: ${rounding}`);
  }
}

/**
 * The smaller of two decimals.
 *
 * @param a - a value
 * @param b - a value
 * @returns the smaller one
 */
export function minDecimal(a: Decimal, b: Decimal): Decimal {
  return a.lte(b) ? a : b;
}

/**
 * The larger of two decimals.
 *
 * @param a - a value
 * @param b - a value
 * @returns the larger one
 */
export function maxDecimal(a: Decimal, b: Decimal): Decimal {
  return a.gte(b) ? a : b;
}

/**
 * Splits a total into parts proportional to weights by the largest-remainder method, on a
 * step, so the parts sum to the total (floored to the step) exactly.
 *
 * @param total - the amount to split, at least zero
 * @param weights - non-negative weights, at least one positive
 * @param step - the smallest unit of a part (0.01 for cents)
 * @returns one part per weight, in order
 * @throws ValidationError (`validation`) for negative weights, a zero weight sum or a negative total
 * @example
 * ```ts
 * splitLargestRemainder(100, [1, 1, 1], "0.01").map(String); // ["33.34", "33.33", "33.33"]
 * ```
 */
export function splitLargestRemainder(
  total: DecimalLike,
  weights: readonly DecimalLike[],
  step: DecimalLike,
): Decimal[] {
  const t = toDecimal(total, "total");
  const s = toDecimal(step, "step");
  checkIncrement(s);
  const w = weights.map((x, i) => toDecimal(x, `weights[${i}]`));
  const sum = w.reduce((a, b) => a.plus(b), ZERO);
  if (t.isNegative() || w.some((x) => x.isNegative()) || sum.lte(0)) {
    throw new ValidationError(
      "split: expected a non-negative total and non-negative weights with a positive sum",
      {
        issues: [{ path: "weights", message: "invalid split", value: weights.map(String) }],
      },
    );
  }
  const units = t.div(s).floor();
  const exact = w.map((x) => units.times(x).div(sum));
  const parts = exact.map((x) => x.floor());
  const left = units.minus(parts.reduce((a, b) => a.plus(b), ZERO)).toNumber();
  // The units the floors left over go one each to the largest remainders (ties: first).
  const extra = new Set(
    exact
      .map((x, i) => ({ i, r: x.minus(x.floor()) }))
      .sort((a, b) => b.r.comparedTo(a.r) || a.i - b.i)
      .slice(0, Math.max(0, left))
      .map(({ i }) => i),
  );
  return parts.map((p, i) => (extra.has(i) ? p.plus(1) : p).times(s));
}
