import { Decimal, ZERO } from "../core/decimal.js";

// Exact fixed-point arithmetic for the planner: a value v at scale s is the integer v × 10^s,
// held as a bigint. Decimals are converted once at the boundary through their documented
// instance properties (`d`: base-1e7 digit words, `e`: decimal exponent, `s`: sign), and built
// back the same way; nothing is ever rounded here unless a function says so.

const WORD = 10_000_000n;
const POW10: bigint[] = [1n];
const POW10_NUMBER: number[] = [1];
for (let i = 1; i <= 22; i++) POW10_NUMBER.push(POW10_NUMBER[i - 1]! * 10);
/** 5^n for n ≤ 22, exact (5^22 < 2^53). */
const POW5_NUMBER: number[] = [1];
for (let i = 1; i <= 22; i++) POW5_NUMBER.push(POW5_NUMBER[i - 1]! * 5);

/**
 * 10^n as a bigint (cached).
 *
 * @param n - an exponent ≥ 0
 * @returns 10^n
 */
export function pow10(n: number): bigint {
  let p = POW10[n];
  if (p !== undefined) return p;
  for (let i = POW10.length; i <= n; i++) POW10.push(POW10[i - 1]! * 10n);
  p = POW10[n]!;
  return p;
}

/**
 * Decimal places of a finite decimal (0 for an integer), read from its digit words.
 *
 * @param x - a finite decimal
 * @returns the number of digits after the point, trailing zeros excluded
 */
export function decimalsOf(x: Decimal): number {
  const { d, e } = x;
  const n = d.length;
  let last = d[n - 1]!;
  if (last === 0) return 0;
  // Digits after the point: 7 per word below the units word, less the last word's trailing zeros.
  let places = 7 * (n - 1 - Math.floor(e / 7));
  while (last % 10 === 0) {
    last /= 10;
    places--;
  }
  return Math.max(places, 0);
}

/**
 * Whether two finite decimals are equal in value, read from their parts (no comparison is
 * built): decimal.js keeps a value in one normal form (no trailing zero word, one zero).
 *
 * @param a - a finite decimal
 * @param b - a finite decimal
 * @returns true when a = b
 */
export function sameDecimal(a: Decimal, b: Decimal): boolean {
  if (a === b) return true;
  const da = a.d;
  const db = b.d;
  if (da[0] === 0 || db[0] === 0) return da[0] === db[0];
  if (a.s !== b.s || a.e !== b.e || da.length !== db.length) return false;
  for (let i = 0; i < da.length; i++) if (da[i] !== db[i]) return false;
  return true;
}

/** A value has more decimal places than the scale it was converted at. */
export class ScaleTooSmall extends Error {
  /**
   * @param value - the value
   * @param scale - the scale it did not fit
   */
  constructor(value: Decimal, scale: number) {
    super(`[ordersafe] ${value.toString()} has more than ${scale} decimal places`);
    this.name = "ScaleTooSmall";
  }
}

/**
 * A decimal as an integer at a scale: x × 10^scale, exactly.
 *
 * @param x - a finite decimal with at most `scale` decimal places
 * @param scale - the scale, ≥ 0
 * @returns x × 10^scale
 * @throws ScaleTooSmall when x has more than `scale` decimal places
 */
export function toScaled(x: Decimal, scale: number): bigint {
  const { d, e, s } = x;
  const n = d.length;
  const d0 = d[0]!;
  if (d0 === 0) return 0n;
  // x = N × 10^(7(k − n + 1)) with N the words read as one integer.
  const shift = scale + 7 * (Math.floor(e / 7) - n + 1);
  if (n <= 2) {
    // N < 1e14: integer arithmetic on numbers is exact below 2^53.
    let v = n === 1 ? d0 : d0 * 1e7 + d[1]!;
    if (shift < 0) {
      if (shift < -22) throw new ScaleTooSmall(x, scale);
      const p = POW10_NUMBER[-shift]!;
      if (v % p !== 0) throw new ScaleTooSmall(x, scale);
      v /= p;
      return BigInt(s < 0 ? -v : v);
    }
    // v × 10^shift = (v × 5^shift) × 2^shift is a double exactly when v × 5^shift < 2^53: the
    // product of numbers is then exact, and one BigInt is made of it instead of two.
    if (shift <= 22 && v * POW5_NUMBER[shift]! <= Number.MAX_SAFE_INTEGER) {
      const w = v * POW10_NUMBER[shift]!;
      return BigInt(s < 0 ? -w : w);
    }
    const r = BigInt(v) * pow10(shift);
    return s < 0 ? -r : r;
  }
  let N = BigInt(d0);
  for (let i = 1; i < n; i++) N = N * WORD + BigInt(d[i]!);
  if (shift >= 0) N *= pow10(shift);
  else {
    const p = pow10(-shift);
    if (N % p !== 0n) throw new ScaleTooSmall(x, scale);
    N /= p;
  }
  return s < 0 ? -N : N;
}

/**
 * The decimal of an integer at a scale: m × 10^−scale, exactly (no rounding to a precision).
 *
 * @param m - the scaled integer
 * @param scale - its scale
 * @returns the decimal m / 10^scale
 */
export function fromScaled(m: bigint, scale: number): Decimal {
  if (m === 0n) return ZERO;
  let s = 1;
  if (m < 0n) {
    s = -1;
    m = -m;
  }
  return fromDigits(s, m.toString(), scale);
}

/**
 * The decimal of a digit string (no leading zeros) at a scale.
 *
 * @remarks
 * Parsing a string is the public way and costs about a third of the planner's time at 10,000
 * symbols, and decimal.js's constructor copying a decimal's parts costs four times building
 * the object. So the decimal is built from decimal.js's documented instance properties (`s`,
 * `e`, and `d`: base-1e7 words) on its prototype, with the same own properties in the same
 * order as its constructor gives an instance (`constructor`, through which its methods read
 * their precision, then `s`, `e`, `d`). Whether this copy of decimal.js really makes its
 * instances that way is checked once, on a set of values, against string parsing (the parts,
 * the keys, and arithmetic at its precision); if not, every decimal is parsed from its string.
 */
function fromDigits(s: number, str: string, scale: number): Decimal {
  return buildsFromParts() ? fromWords(s, str, scale) : fromString(s, str, scale);
}

function fromString(s: number, str: string, scale: number): Decimal {
  let text: string;
  if (scale <= 0) text = str + "0".repeat(-scale);
  else if (str.length > scale) text = `${str.slice(0, str.length - scale)}.${str.slice(str.length - scale)}`;
  else text = `0.${"0".repeat(scale - str.length)}${str}`;
  return new Decimal(s < 0 ? `-${text}` : text);
}

/** The base-1e7 words of a digit string at a scale (its decimal exponent is length − 1 − scale). */
function wordsOf(str: string, scale: number): number[] {
  // Word boundaries fall at multiples of 7 digits from the point: the string is read as if
  // followed by `pad` zeros. Digits are read by code, with no substring per word, and only up
  // to the word of the last nonzero digit: decimal.js keeps no trailing zero word, and money at
  // the planner's scales ends in a dozen zeros or more.
  const pad = ((-scale % 7) + 7) % 7;
  const len = str.length;
  let last = len - 1;
  while (last > 0 && str.charCodeAt(last) === 48) last--;
  let count = 0;
  let word = 0;
  let end = (len + pad) % 7 || 7;
  for (let i = 0; ; i++) {
    word = word * 10 + (i < len ? str.charCodeAt(i) - 48 : 0);
    if (i + 1 === end) {
      SCRATCH[count++] = word;
      if (i >= last) break;
      word = 0;
      end += 7;
    }
  }
  return exactWords(count);
}

/** Words gathered before the array of their exact length is made. */
const SCRATCH: number[] = [];

/**
 * The first `n` words of {@link SCRATCH} as an array of exactly that length. An array grown by
 * `push` keeps room for 17 elements or more: about 150 bytes more for each output decimal,
 * which live as long as the plan does (garbage collection is a good part of the planner's
 * time at thousands of symbols).
 */
function exactWords(n: number): number[] {
  const w = SCRATCH;
  switch (n) {
    case 1:
      return [w[0]!];
    case 2:
      return [w[0]!, w[1]!];
    case 3:
      return [w[0]!, w[1]!, w[2]!];
    case 4:
      return [w[0]!, w[1]!, w[2]!, w[3]!];
    case 5:
      return [w[0]!, w[1]!, w[2]!, w[3]!, w[4]!];
    case 6:
      return [w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!];
    default:
      return w.slice(0, n);
  }
}

const PROTOTYPE: object = Object.getPrototypeOf(ZERO) as object;

/** A decimal of these parts, made as decimal.js's constructor makes one (see {@link fromDigits}). */
function withParts(s: number, e: number, d: number[]): Decimal {
  const x = Object.create(PROTOTYPE) as { constructor: unknown; s: number; e: number; d: number[] };
  x.constructor = Decimal;
  x.s = s;
  x.e = e;
  x.d = d;
  return x as unknown as Decimal;
}

function fromWords(s: number, str: string, scale: number): Decimal {
  return withParts(s, str.length - 1 - scale, wordsOf(str, scale));
}

let agree: boolean | undefined;

/**
 * Whether output decimals are built from their parts (see {@link fromDigits}): checked once,
 * on a set of values, against string parsing. False means every decimal is parsed from its
 * string: correct, and several times slower.
 *
 * @returns true when this copy of decimal.js makes its instances as the fast path does
 */
export function buildsFromParts(): boolean {
  if (agree === undefined) {
    const keys = ["constructor", "s", "e", "d"];
    const own = (x: Decimal) => Object.getOwnPropertyNames(x);
    const cases: [number, string, number][] = [
      [1, "1", 0],
      [-1, "123456789", 4],
      [1, "5", 12],
      [1, "10000000", 7],
      [1, "1591166892", 6],
      [-1, "98765432109876543210987654321", 15],
      [1, "700", -3],
    ];
    agree = cases.every(([sign, digits, scale]) => {
      const parsed = fromString(sign, digits, scale);
      const built = fromWords(sign, digits, scale);
      return (
        own(parsed).join() === keys.join() &&
        own(built).join() === keys.join() &&
        parsed.constructor === Decimal &&
        built instanceof Decimal &&
        built.s === parsed.s &&
        built.e === parsed.e &&
        built.d.join() === parsed.d.join() &&
        built.toString() === parsed.toString() &&
        // Division rounds at the precision read through `constructor`.
        built.div(7).toString() === parsed.div(7).toString()
      );
    });
  }
  return agree;
}

/**
 * The decimal of an integer at a scale, rounded half up to a number of significant digits
 * (as a decimal.js operation at that precision rounds its result).
 *
 * @param m - the scaled integer
 * @param scale - its scale
 * @param digits - significant digits kept
 * @returns m / 10^scale to `digits` significant digits
 */
export function fromScaledSignificant(m: bigint, scale: number, digits: number): Decimal {
  if (m === 0n) return ZERO;
  const s = m < 0n ? -1 : 1;
  let str = (s < 0 ? -m : m).toString();
  if (str.length > digits) {
    // Half up, away from zero: the first dropped digit decides.
    scale -= str.length - digits;
    str = str.charCodeAt(digits) >= 53 ? incrementDigits(str, digits) : str.slice(0, digits);
  }
  return fromDigits(s, str, scale);
}

/**
 * The first `n` digits of a digit string plus one, as digits (a carry past the first digit
 * makes the string one longer: "999" gives "1000").
 */
function incrementDigits(str: string, n: number): string {
  let i = n - 1;
  while (i >= 0 && str.charCodeAt(i) === 57) i--;
  if (i < 0) return `1${"0".repeat(n)}`;
  return `${str.slice(0, i)}${String.fromCharCode(str.charCodeAt(i) + 1)}${"0".repeat(n - 1 - i)}`;
}

/**
 * ⌊a / b⌋ for b > 0, whatever the sign of a.
 *
 * @param a - the dividend
 * @param b - the divisor, > 0
 * @returns the largest integer not above a / b
 */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a < 0n && q * b !== a ? q - 1n : q;
}

/**
 * ⌈a / b⌉ for b > 0, whatever the sign of a.
 *
 * @param a - the dividend
 * @param b - the divisor, > 0
 * @returns the smallest integer not below a / b
 */
export function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a > 0n && q * b !== a ? q + 1n : q;
}

/**
 * a / b rounded half away from zero (decimal.js's ROUND_HALF_UP), for b > 0.
 *
 * @param a - the dividend
 * @param b - the divisor, > 0
 * @returns the nearest integer to a / b, halves away from zero
 */
export function roundHalfUpDiv(a: bigint, b: bigint): bigint {
  const neg = a < 0n;
  const abs = neg ? -a : a;
  const q = (abs * 2n + b) / (b * 2n);
  return neg ? -q : q;
}

/**
 * Whole steps in a value, rounded down, where a value within a millionth of a step of the next
 * counts as that step (the rule of `floorToIncrement`), exactly.
 *
 * @param value - the value, at the step's scale
 * @param step - the step, > 0, at the same scale
 * @returns the number of steps, ≥ 0 (0 for a value ≤ 0)
 */
export function floorSteps(value: bigint, step: bigint): bigint {
  if (value <= 0n) return 0n;
  const q = value / step;
  const r = value - q * step;
  if (r === 0n) return q;
  // up − steps = (step − r) / step ≤ 1e-6
  return (step - r) * 1_000_000n <= step ? q + 1n : q;
}

/**
 * The larger of two bigints.
 *
 * @param a - a value
 * @param b - a value
 * @returns the larger
 */
export function maxBig(a: bigint, b: bigint): bigint {
  return a >= b ? a : b;
}

/**
 * The smaller of two bigints.
 *
 * @param a - a value
 * @param b - a value
 * @returns the smaller
 */
export function minBig(a: bigint, b: bigint): bigint {
  return a <= b ? a : b;
}
