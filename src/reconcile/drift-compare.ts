import { type Decimal, MAX_DECIMAL_EXPONENT } from "../core/decimal.js";

// Comparisons for detectPositionDrift that decide exactly what decimal.js decides, without
// the copy of the right-hand side `comparedTo` makes on every call (a decimal and a digit
// array each time). Values past the exponent ordersafe accepts go to decimal.js itself.

/** decimal.js's `comparedTo` on the parts of two values: −1, 0, 1, or NaN. */
function compareParts(
  xs: number,
  xd: readonly number[] | null,
  xe: number,
  ys: number,
  yd: readonly number[] | null,
  ye: number,
): number {
  // Either NaN or ±Infinity?
  if (!xd || !yd) {
    if (!xs || !ys) return Number.NaN;
    if (xs !== ys) return xs;
    if (xd === yd) return 0;
    return !xd !== xs < 0 ? 1 : -1;
  }
  const x0 = xd[0] ?? 0;
  const y0 = yd[0] ?? 0;
  if (!x0 || !y0) return x0 ? xs : y0 ? -ys : 0;
  if (xs !== ys) return xs;
  if (xe !== ye) return xe > ye !== xs < 0 ? 1 : -1;
  const n = Math.min(xd.length, yd.length);
  for (let i = 0; i < n; i++) {
    const a = xd[i] ?? 0;
    const b = yd[i] ?? 0;
    if (a !== b) return a > b !== xs < 0 ? 1 : -1;
  }
  if (xd.length === yd.length) return 0;
  return xd.length > yd.length !== xs < 0 ? 1 : -1;
}

/** Whether decimal.js would copy `y` as it is (a finite value within range, or ±Infinity/NaN). */
function inRange(y: Decimal): boolean {
  return y.d === null || (y.e <= MAX_DECIMAL_EXPONENT && y.e >= -MAX_DECIMAL_EXPONENT);
}

/**
 * `x.comparedTo(y)`, without building a copy of `y`.
 *
 * @param x - a decimal
 * @param y - a decimal
 * @returns −1, 0 or 1 as decimal.js returns them (NaN when either is NaN)
 */
export function cmp(x: Decimal, y: Decimal): number {
  if (!inRange(y)) return x.comparedTo(y);
  return compareParts(x.s, x.d, x.e, y.s, y.d, y.e);
}

/**
 * `x.abs().comparedTo(y)`, without building `|x|` nor a copy of `y`.
 *
 * @param x - a decimal
 * @param y - a decimal
 * @returns −1, 0 or 1 as decimal.js returns them (NaN when either is NaN)
 */
export function cmpAbs(x: Decimal, y: Decimal): number {
  if (!inRange(y)) return x.abs().comparedTo(y);
  return compareParts(x.s < 0 ? 1 : x.s, x.d, x.e, y.s, y.d, y.e);
}

/** The lowest and the highest digit positions (powers of ten) of a finite decimal. */
function lowestDigit(x: Decimal): number {
  return (Math.floor(x.e / 7) - x.d.length + 1) * 7;
}

/**
 * Whether decimal.js computes `a + b` and `a − b` exactly: both finite, and every digit of
 * the exact result fits in the 40 significant digits it rounds to.
 *
 * @param a - a decimal
 * @param b - a decimal
 * @returns true when neither sum nor difference is rounded
 */
export function exactSum(a: Decimal, b: Decimal): boolean {
  if (!a.isFinite() || !b.isFinite() || !inRange(a) || !inRange(b)) return false;
  const high = Math.max(a.e, b.e) + 1;
  const lowA = lowestDigit(a);
  const lowB = lowestDigit(b);
  return high - Math.min(lowA, lowB) + 1 <= 40;
}
