import { type DecimalLike, Rounding, toDecimal } from "../core/decimal.js";

/** Puts a comma between each group of three digits of an unsigned integer string. */
function group(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Formats dollars to the cent with thousands separators (`$12,345.68`, `-$0.50`), rounding
 * half away from zero.
 *
 * @param value - the amount
 * @returns the text
 * @throws ValidationError (`validation`) for a value that is not a finite decimal
 * @example
 * ```ts
 * formatMoney("1234567.891"); // "$1,234,567.89"
 * ```
 */
export function formatMoney(value: DecimalLike): string {
  const d = toDecimal(value).toDecimalPlaces(2, Rounding.halfUp);
  const [int, frac] = d.abs().toFixed(2).split(".");
  const sign = d.isNegative() && !d.isZero() ? "-" : "";
  return `${sign}$${group(int ?? "0")}.${frac ?? "00"}`;
}

/**
 * Formats a quantity of shares: plain notation, at most 9 decimals, no trailing zeros, and
 * thousands separators on the whole part (`1,591.166892`).
 *
 * @param value - the quantity
 * @returns the text
 * @throws ValidationError (`validation`) for a value that is not a finite decimal
 * @example
 * ```ts
 * formatQty("1591.166892"); // "1,591.166892"
 * ```
 */
export function formatQty(value: DecimalLike): string {
  const d = toDecimal(value).toDecimalPlaces(9, Rounding.down);
  const [int, frac] = d.abs().toFixed().split(".");
  const sign = d.isNegative() && !d.isZero() ? "-" : "";
  return `${sign}${group(int ?? "0")}${frac === undefined ? "" : `.${frac}`}`;
}

/**
 * Formats a fraction as a percentage with one decimal (`0.4567` → `45.7%`).
 *
 * @param value - the fraction
 * @returns the text
 * @throws ValidationError (`validation`) for a value that is not a finite decimal
 * @example
 * ```ts
 * formatPercent(0.5); // "50.0%"
 * ```
 */
export function formatPercent(value: DecimalLike): string {
  return `${toDecimal(value).times(100).toDecimalPlaces(1, Rounding.halfUp).toFixed(1)}%`;
}
