import { type Decimal, ONE } from "../core/decimal.js";
import { ceilDiv, decimalsOf, fromScaled, pow10, toScaled } from "./scaled.js";

// The planner's exact arithmetic: every value of the input is held as an integer at a scale
// that fits it exactly (see scaled.ts). Three scales come from the input (Q shares, P prices
// and money, F fractions); two are derived: M = Q + P (shares × dollars: every dollar figure
// of the plan) and C = M + F (cash counted with a buy buffer). Products of values at known
// scales land at known scales, so the plan never rounds except where a rule says so.

/** Decimal places of the three scales read from the input. */
export interface ScaleDigits {
  /** Shares (Q), at least the 15 decimals a share target is rounded to, and at least F. */
  readonly q: number;
  /** Prices and money of the input (P). */
  readonly p: number;
  /** Fractions: weights, buffers, tolerances (F). */
  readonly f: number;
}

/** A share target derived from a value is rounded to this many decimals. */
export const TARGET_DECIMALS = 15;
/** Orders carry at most this many decimals of shares (the broker's limit). */
export const MAX_QTY_DECIMALS = 9;

/** Shares with 15 decimals, prices and money with 6, fractions with 10: most inputs fit. */
export const COMMON_SCALE_DIGITS: ScaleDigits = { q: TARGET_DECIMALS, p: 6, f: 10 };
/** Where scales read from the whole input start. */
export const MINIMAL_SCALE_DIGITS: ScaleDigits = { q: TARGET_DECIMALS, p: 2, f: 0 };

/**
 * The scales of one plan and the conversions between decimals and scaled integers: the
 * calculator every step of the planner computes with.
 */
export interface PlanScales {
  /** Decimal places of scales Q, P, F, M = Q + P and C = M + F. */
  readonly q: number;
  readonly p: number;
  readonly f: number;
  readonly m: number;
  readonly c: number;
  /** One share (scale Q). */
  readonly oneQ: bigint;
  /** 1e-9 share, the finest step an order may have (scale Q). */
  readonly nanoQ: bigint;
  /** One (scale F). */
  readonly oneF: bigint;
  /** A cent at scale M. */
  readonly centM: bigint;
  /** A cent at scale C. */
  readonly centC: bigint;
  /** Scale M to scale C: × 10^F. */
  readonly mToC: bigint;
  /** Input money (P) to scale M − F, where a fraction (F) times it is at scale M: × 10^(Q−F). */
  readonly fracMoneyToM: bigint;
  /** The step a share target is rounded to: 10^(Q−15) at scale Q. */
  readonly targetUnit: bigint;
  /** Shares to scale Q. @throws ScaleTooSmall when the value has more decimals than Q */
  toQ(d: Decimal): bigint;
  /** A price or input money to scale P. @throws ScaleTooSmall */
  toP(d: Decimal): bigint;
  /** A fraction to scale F. @throws ScaleTooSmall */
  toF(d: Decimal): bigint;
  /** Input money to scale M. @throws ScaleTooSmall */
  toM(d: Decimal): bigint;
  /** The decimal of shares at scale Q. */
  fromQ(v: bigint): Decimal;
  /** The decimal of dollars at scale M. */
  fromM(v: bigint): Decimal;
  /** The decimal of dollars at scale C. */
  fromC(v: bigint): Decimal;
  /**
   * The increment orders use (scale Q): at least one share without fractional trading, at
   * least 1e-9 and at most 9 decimals (rounded up) with it.
   */
  orderIncrement(increment: Decimal, fractional: boolean): bigint;
}

/**
 * The calculator at given scales.
 *
 * @param digits - decimal places of Q, P and F (Q ≥ F and Q ≥ 9)
 * @returns the scales, their constants and conversions
 * @example
 * ```ts
 * const s = createPlanScales(COMMON_SCALE_DIGITS);
 * s.toQ(new Decimal("1.5")); // 1_500_000_000_000_000n
 * s.fromM(s.toM(new Decimal("2.25"))).toString(); // "2.25"
 * ```
 */
export function createPlanScales(digits: ScaleDigits): PlanScales {
  // A plan's scales depend on the digits alone and never change: made once per digits (most
  // plans use the common ones), not as nine new functions per plan.
  const key = `${digits.q},${digits.p},${digits.f}`;
  let scales = SCALES.get(key);
  if (scales === undefined) {
    if (SCALES.size >= MAX_CACHED_SCALES) SCALES.clear();
    scales = makePlanScales(digits);
    SCALES.set(key, scales);
  }
  return scales;
}

/** Scales made so far, by digits (a few at most in practice; cleared past the bound). */
const SCALES = new Map<string, PlanScales>();
const MAX_CACHED_SCALES = 64;

function makePlanScales(digits: ScaleDigits): PlanScales {
  const { q, p, f } = digits;
  const m = q + p;
  const c = m + f;
  const moneyToM = pow10(q);
  const oneQ = pow10(q);
  const nanoQ = pow10(q - MAX_QTY_DECIMALS);
  const scales: PlanScales = {
    q,
    p,
    f,
    m,
    c,
    oneQ,
    nanoQ,
    oneF: pow10(f),
    centM: pow10(m - 2),
    centC: pow10(c - 2),
    mToC: pow10(f),
    fracMoneyToM: pow10(q - f),
    targetUnit: pow10(q - TARGET_DECIMALS),
    toQ: (d) => toScaled(d, q),
    toP: (d) => toScaled(d, p),
    toF: (d) => toScaled(d, f),
    toM: (d) => toScaled(d, p) * moneyToM,
    fromQ: (v) => fromScaled(v, q),
    fromM: (v) => fromScaled(v, m),
    fromC: (v) => fromScaled(v, c),
    orderIncrement: (increment, fractional) => orderIncrement(increment, fractional, q, oneQ, nanoQ),
  };
  return Object.freeze(scales);
}

function orderIncrement(increment: Decimal, fractional: boolean, q: number, oneQ: bigint, nanoQ: bigint) {
  const places = decimalsOf(increment);
  if (places > MAX_QTY_DECIMALS) {
    // Beyond 9 decimals: at most one share (fractional: rounded up to 9 decimals).
    if (!fractional) return increment.lte(ONE) ? oneQ : toScaled(increment, q);
    const nanos = toScaled(increment, places);
    const perNano = pow10(places - MAX_QTY_DECIMALS);
    return nanos <= perNano ? nanoQ : ceilDiv(nanos, perNano) * nanoQ;
  }
  const inc = toScaled(increment, q);
  if (!fractional) return inc <= oneQ ? oneQ : inc;
  return inc <= nanoQ ? nanoQ : inc;
}

/**
 * Scale digits that grow to fit every value offered (each scale at least its start).
 *
 * @example
 * ```ts
 * const w = new ScaleWidener(MINIMAL_SCALE_DIGITS);
 * w.price(new Decimal("0.0001"));
 * w.digits().p; // 4
 * ```
 */
export class ScaleWidener {
  #q: number;
  #p: number;
  #f: number;

  /** @param start - the digits to start from */
  constructor(start: ScaleDigits) {
    this.#q = start.q;
    this.#p = start.p;
    this.#f = start.f;
  }

  /** Shares. @param d - a value, or undefined (ignored) */
  shares(d: Decimal | undefined): void {
    if (d !== undefined) this.#q = Math.max(this.#q, decimalsOf(d));
  }

  /** A price or money. @param d - a value, or undefined (ignored) */
  price(d: Decimal | undefined): void {
    if (d !== undefined) this.#p = Math.max(this.#p, decimalsOf(d));
  }

  /** A fraction. @param d - a value */
  fraction(d: Decimal): void {
    this.#f = Math.max(this.#f, decimalsOf(d));
  }

  /**
   * An asset's increment: one of at most a share is used at no more than 9 decimals, so only
   * a larger one widens the share scale past 9.
   *
   * @param increment - the asset's increment
   */
  increment(increment: Decimal): void {
    const n = decimalsOf(increment);
    if (!(n > MAX_QTY_DECIMALS && increment.lte(ONE))) this.#q = Math.max(this.#q, n);
  }

  /** @returns the digits, with Q at least F (fractions of shares stay exact) */
  digits(): ScaleDigits {
    return { q: Math.max(this.#q, this.#f), p: this.#p, f: this.#f };
  }
}
