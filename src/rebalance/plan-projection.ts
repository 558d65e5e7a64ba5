import { type Decimal, ONE, ZERO } from "../core/decimal.js";
import type { OpenSide } from "./open-order-book.js";
import type { PlanScales } from "./plan-scales.js";
import type { TargetKind } from "./rebalance-input.js";
import type { RebalanceSummary } from "./rebalance-plan.js";
import { decimalsOf, fromScaledSignificant, toScaled } from "./scaled.js";
import type { SymbolRecord } from "./symbol-record.js";

/** The holdings once every leg and every kept open order fills at the reference prices. */
export type Projection = Pick<
  RebalanceSummary,
  "projectedCash" | "projectedEquity" | "projectedQuantities" | "projectedWeights"
>;

/** The liquidate-and-rebuy alternative: one sell per priced holding, one buy per non-zero target. */
export interface NaiveAlternative {
  /** Its turnover, scale M. */
  readonly turnover: bigint;
  readonly orderCount: number;
}

/**
 * What the open orders the plan keeps bring to the cash once filled (scale M): open sells
 * their value, less open buys' value. A leg cancels the open orders on its other side; only
 * priced symbols count.
 *
 * @param records - the records, their legs recorded
 * @returns the net value, scale M
 * @example
 * ```ts
 * keptOpenValue(ctx.records); // > 0 when kept open sells outweigh kept open buys
 * ```
 */
export function keptOpenValue(records: readonly SymbolRecord[]): bigint {
  let value = 0n;
  for (const r of records) {
    const { open, price } = r;
    if (open === undefined || price === undefined) continue;
    const sells = r.legSide === "buy" ? 0n : keptQty(open.sell, r.cancelOwn?.sell !== undefined);
    const buys = r.legSide === "sell" ? 0n : keptQty(open.buy, r.cancelOwn?.buy !== undefined);
    value += (sells - buys) * price;
  }
  return value;
}

/** The unfilled shares of one side's open orders that stay open: all, or all but ordersafe's own. */
function keptQty(side: OpenSide | undefined, ownCancelled: boolean): bigint {
  if (side === undefined) return 0n;
  return ownCancelled ? side.qty - side.ownQty : side.qty;
}

/**
 * The value of every priced open buy, cancelled or kept (scale M). Added back to the cash when
 * it already excludes what open buys hold: a kept buy's value is then counted once, and a
 * cancelled buy's hold comes back.
 *
 * @param records - the records
 * @returns the value, scale M
 */
export function openBuysValue(records: readonly SymbolRecord[]): bigint {
  let value = 0n;
  for (const r of records) {
    const buy = r.open?.buy;
    if (buy !== undefined && r.price !== undefined) value += buy.qty * r.price;
  }
  return value;
}

/**
 * The liquidate-and-rebuy alternative the plan is compared with.
 *
 * @param records - the records
 * @param kind - how the targets are given
 * @returns its turnover and order count
 * @example
 * ```ts
 * naiveAlternative(ctx.records, "weights").orderCount;
 * ```
 */
export function naiveAlternative(records: readonly SymbolRecord[], kind: TargetKind): NaiveAlternative {
  let turnover = 0n;
  let orderCount = 0;
  for (const r of records) {
    const { price } = r;
    if (price !== undefined && r.held > 0n) {
      turnover += r.held * price;
      orderCount++;
    }
    if (r.target !== undefined && !r.target.isZero()) {
      orderCount++;
      if (kind !== "quantities") turnover += r.targetScaled;
      else if (price !== undefined) turnover += r.targetScaled * price;
    }
  }
  return { turnover, orderCount };
}

/**
 * The projected holdings: shares per symbol (priced or not), cash, equity, and the weight of
 * each priced symbol.
 *
 * @param records - the records, their legs recorded
 * @param projectedCash - cash after every leg and kept open order fills, scale M
 * @param scales - the plan's scales
 * @returns the projection
 * @example
 * ```ts
 * projectHoldings(ctx.records, cashAfter, ctx.scales).projectedWeights.AAA;
 * ```
 */
export function projectHoldings(
  records: readonly SymbolRecord[],
  projectedCash: bigint,
  scales: PlanScales,
): Projection {
  let equity = projectedCash;
  const projectedQuantities: Record<string, Decimal> = {};
  // Each priced symbol's projected value (scale M), by the index of its record.
  const values: (bigint | undefined)[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    projectedQuantities[r.symbol] = r.projectedQty ?? scales.fromQ(r.projected);
    if (r.price === undefined) continue;
    const value = r.projected * r.price;
    values[i] = value;
    equity += value;
  }
  const projectedEquity = scales.fromM(equity);
  const projectedWeights: Record<string, Decimal> = {};
  // 20 significant digits of 1 / equity are plenty for a reported weight; each weight is the
  // exact product rounded to 40 significant digits.
  const inverse = equity > 0n ? ONE.div(projectedEquity).toSignificantDigits(20) : ZERO;
  const inverseScale = decimalsOf(inverse);
  const inverseI = toScaled(inverse, inverseScale);
  for (let i = 0; i < records.length; i++) {
    const value = values[i];
    if (value === undefined) continue;
    projectedWeights[records[i]!.symbol] =
      value === 0n ? ZERO : fromScaledSignificant(value * inverseI, scales.m + inverseScale, 40);
  }
  return {
    projectedCash: scales.fromM(projectedCash),
    projectedEquity,
    projectedQuantities,
    projectedWeights,
  };
}
