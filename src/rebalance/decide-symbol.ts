import type { OrderSide } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { hasNotionalOrder, type OpenSide } from "./open-order-book.js";
import type { PlanAssetRules, PlanContext, RuleLimits } from "./plan-context.js";
import type { ConflictReason, LegReason, SkipReason } from "./rebalance-plan.js";
import { floorSteps, maxBig, roundHalfUpDiv, sameDecimal } from "./scaled.js";
import { type BuySize, sizeBuy } from "./size-buy.js";
import { type SellSize, sizeSell } from "./size-sell.js";
import type { SymbolRecord } from "./symbol-record.js";

/** Where a symbol should go: its target and the move from its projected holding (shares at scale Q). */
export interface Aim {
  /** The target in shares. */
  readonly target: bigint;
  /** The same as a decimal, when one is at hand (a zero or a quantity target). */
  readonly targetQty: Decimal | undefined;
  readonly reason: LegReason;
  /** The side of the move from what is held; undefined when nothing is to trade that way. */
  readonly side: OrderSide | undefined;
  /** Held plus the unfilled open orders on the side of the move. */
  readonly projected: bigint;
  /** target − projected. */
  readonly delta: bigint;
}

/** Nothing to trade and nothing to report (at the target, or unpriced and needing no trade). */
export interface NoTrade {
  readonly kind: "none";
  readonly deltaNotional: bigint;
}

/** The symbol gets no leg, for a reason the plan reports. */
export interface SkipDecision {
  readonly kind: "skip";
  readonly reason: SkipReason;
  readonly detail: string;
  /** The side it would have traded, when known. */
  readonly side: OrderSide | undefined;
  /** The shares it would have traded (scale Q), when known. */
  readonly delta: bigint | undefined;
  /** |target − projected| × price (scale M) once known, else zero: its part of the minimal turnover. */
  readonly deltaNotional: bigint;
}

/** A sell, sized. */
export interface SellDecision {
  readonly kind: "sell";
  readonly record: SymbolRecord;
  readonly aim: Aim;
  /** The reference price, scale P, and as given. */
  readonly price: bigint;
  readonly referencePrice: Decimal;
  readonly size: Exclude<SellSize, { kind: "none" }>;
  /** Whether the sell is a full exit (target zero, an untradeable remainder, or within `fullExitTolerance`). */
  readonly isExit: boolean;
  /** Whether the remainder the target asked to keep could not be sold on its own (hence the exit). */
  readonly untradeableRemainder: boolean;
  readonly deltaNotional: bigint;
  /** The order increment (scale Q). */
  readonly increment: bigint;
  /** Shares not held by open sells (scale Q). */
  readonly available: bigint;
}

/** A buy, sized in whole units before the cash is shared out. */
export interface BuyDecision {
  readonly kind: "buy";
  readonly record: SymbolRecord;
  readonly aim: Aim;
  /** The reference price, scale P, and as given. */
  readonly price: bigint;
  readonly referencePrice: Decimal;
  readonly size: BuySize;
  readonly deltaNotional: bigint;
}

/** What the plan does with one symbol. */
export type SymbolDecision = NoTrade | SkipDecision | SellDecision | BuyDecision;

const AT_TARGET: NoTrade = { kind: "none", deltaNotional: 0n };

/**
 * Decides one symbol: leave it (kept, short, at its target), skip it with a reason, or size
 * its one leg, a sell or a buy toward the target, never both.
 *
 * @param record - the symbol's record
 * @param ctx - the plan's context
 * @returns the decision
 * @throws ScaleTooSmall when a value does not fit the plan's scales
 * @example
 * ```ts
 * const d = decideSymbol(ctx.records[0]!, ctx);
 * if (d.kind === "skip") console.log(d.reason, d.detail);
 * ```
 */
export function decideSymbol(record: SymbolRecord, ctx: PlanContext): SymbolDecision {
  if (ctx.keep.has(record.symbol)) return skip("kept", "listed in options.keep");
  if (record.target === undefined && ctx.untargeted === "keep") {
    return skip("kept", "not in the targets and options.untargeted is keep");
  }
  if (record.held < 0n) return skip("short_position", "short positions are left alone");
  const target = targetShares(record, ctx);
  const { price, referencePrice } = record;
  if (target === undefined || price === undefined || referencePrice === undefined) {
    const mustTrade =
      target === undefined || target !== record.projectedWithOpen || hasNotionalOrder(record.open);
    return mustTrade ? skip("no_price", "the symbol must trade but has no price") : AT_TARGET;
  }
  const aim = aimAt(record, target, ctx);
  const { delta } = aim;
  if (delta === 0n) return AT_TARGET;
  const deltaNotional = (delta < 0n ? -delta : delta) * price;
  if (aim.side === undefined) {
    const side = delta < 0n ? "sell" : "buy";
    const detail = "open orders already reach or pass the target";
    return skip("covered_by_open_orders", detail, side, delta, deltaNotional);
  }
  return decideLeg(record, aim, aim.side, price, referencePrice, deltaNotional, ctx);
}

/**
 * The asset's rules, the no-trade band and `sides`; then the leg sized. The move's side,
 * price and notional come as arguments (one call per symbol: no object made for them).
 */
function decideLeg(
  record: SymbolRecord,
  aim: Aim,
  side: OrderSide,
  price: bigint,
  referencePrice: Decimal,
  deltaNotional: bigint,
  ctx: PlanContext,
): SymbolDecision {
  const { scales, limits, input } = ctx;
  const { delta } = aim;
  const rule = ctx.rules.get(record.symbol);
  if (rule === undefined) {
    return skip("no_asset_rules", "no asset rules were given for the symbol", side, delta, deltaNotional);
  }
  if (!rule.tradable) return skip("not_tradable", "the asset is not tradable", side, delta, deltaNotional);
  const fractional = rule.fractionable && input.capabilities.fractional;
  const { increment, ruleMin } = ruleLimits(rule, fractional, ctx);
  const minNotional = maxBig(ruleMin, limits.minOrderNotional);
  // A full exit when the target is zero, or when the holding nearest the target could never
  // be sold on its own (no whole increment, or under the minimum order): selling it later would
  // take a closePosition, and leaving it is dust. Otherwise only within the opt-in exit tolerance.
  const nearest = input.options.rounding === "nearest";
  const untradeable = isUntradeable(aim.target, increment, price, minNotional, nearest);
  // Within the full-exit tolerance: target ≤ held × tolerance (at the default tolerance of 0,
  // target ≤ 0, with no product to make).
  const tolerance = limits.fullExitTolerance;
  const isExit =
    side === "sell" &&
    (untradeable ||
      (tolerance === 0n ? aim.target <= 0n : aim.target * scales.oneF <= record.held * tolerance));
  if (!isExit && withinBand(deltaNotional, limits.bandWeightNotional, limits.bandNotional)) {
    return skip("within_band", "inside the no-trade band", side, delta, deltaNotional);
  }
  const { sides } = input.options;
  if (sides === (side === "sell" ? "buys" : "sells")) {
    return skip("side_excluded", `options.sides is ${sides}`, side, delta, deltaNotional);
  }
  if (side === "sell") {
    const available = record.position === undefined ? 0n : scales.toQ(record.position.qtyAvailable);
    const size = sizeSell({
      price,
      held: record.held,
      available,
      projected: aim.projected,
      target: aim.target,
      increment,
      minNotional,
      isExit,
      closePositionAllowed: input.capabilities.closePosition && record.open?.sell === undefined,
      nano: scales.nanoQ,
      nearest,
    });
    if (size.kind === "none") return skip("below_minimum", size.detail, side, delta, deltaNotional);
    return {
      kind: "sell",
      record,
      aim,
      price,
      referencePrice,
      size,
      isExit,
      untradeableRemainder: untradeable,
      deltaNotional,
      increment,
      available,
    };
  }
  const size = sizeBuy({
    symbol: record.symbol,
    notional: input.options.buyWith === "notional" && fractional && input.capabilities.notionalOrders,
    price,
    delta,
    deltaNotional,
    increment,
    minNotional,
    buyFactor: limits.buyFactor,
    scales,
    minCents: ctx.minCents,
    nearest,
  });
  // Under the minimum, unless one unit more (the nearer rounding) reaches it.
  if (size.needUnits < size.minUnits && (size.upGain === 0n || size.needUnits + 1n < size.minUnits)) {
    const detail = size.needUnits === 0n ? "less than one increment" : "below the minimum order notional";
    return skip("below_minimum", detail, side, delta, deltaNotional);
  }
  return { kind: "buy", record, aim, price, referencePrice, size, deltaNotional };
}

/**
 * The target in shares (scale Q): zero when untargeted or targeted at zero, the quantity
 * given, or a value over the price rounded half up to 15 decimals (far below any increment's
 * snap); undefined for a value target without a price.
 */
function targetShares(record: SymbolRecord, ctx: PlanContext): bigint | undefined {
  const { target, price } = record;
  if (target === undefined || target.isZero()) return 0n;
  if (ctx.targets.kind === "quantities") return record.targetScaled;
  if (price === undefined) return undefined;
  const unit = ctx.scales.targetUnit;
  const value = record.targetScaled;
  return unit === 1n ? roundHalfUpDiv(value, price) : roundHalfUpDiv(value, price * unit) * unit;
}

/**
 * The move toward the target. Its direction is read from what is held; the open orders on
 * that side count toward it, those on the other side are conflicts the leg cancels first.
 * ordersafe's own open orders are cancelled when they would take the holding past the target
 * by at least one order (a later run would trade the excess back), and when they move away
 * from the target; the move is then sized as if they will not fill.
 */
function aimAt(record: SymbolRecord, target: bigint, ctx: PlanContext): Aim {
  const { held, open } = record;
  const direction = target > held ? 1 : target < held ? -1 : 0;
  const buy = open?.buy;
  const sell = open?.sell;
  let cancelBuy: ConflictReason | undefined;
  let cancelSell: ConflictReason | undefined;
  let projected: bigint;
  if (direction > 0) {
    projected = buy === undefined ? held : held + buy.qty;
    if (buy !== undefined && buy.own.length > 0 && tradeable(projected - target, record, ctx)) {
      cancelBuy = "past_target";
      projected -= buy.ownQty;
    }
    if (sell !== undefined && sell.own.length > 0) cancelSell = "against_target";
  } else if (direction < 0) {
    projected = sell === undefined ? held : held - sell.qty;
    if (sell !== undefined && sell.own.length > 0 && tradeable(target - projected, record, ctx)) {
      cancelSell = "past_target";
      projected += sell.ownQty;
    }
    if (buy !== undefined && buy.own.length > 0) cancelBuy = "against_target";
  } else {
    if (buy !== undefined && buy.own.length > 0) cancelBuy = "past_target";
    if (sell !== undefined && sell.own.length > 0) cancelSell = "past_target";
    projected = held + keptQty(buy, cancelBuy) - keptQty(sell, cancelSell);
  }
  if (cancelBuy !== undefined || cancelSell !== undefined) {
    record.cancelOwn = { buy: cancelBuy, sell: cancelSell };
    // Until a leg says otherwise, the orders not cancelled are expected to fill.
    record.projected = held + keptQty(buy, cancelBuy) - keptQty(sell, cancelSell);
    record.projectedQty = record.projected === held ? record.heldQty : undefined;
  }
  const delta = target - projected;
  // Open orders that reach or pass the target leave nothing to trade in the held direction.
  const side =
    direction === 0 || (delta < 0n ? -1 : 1) !== direction ? undefined : direction > 0 ? "buy" : "sell";
  let reason: LegReason = "to_target";
  let targetQty: Decimal | undefined;
  if (record.target === undefined) {
    reason = "untargeted";
    targetQty = ZERO;
  } else if (record.target.isZero()) {
    reason = "target_zero";
    targetQty = ZERO;
  } else if (ctx.targets.kind === "quantities") targetQty = record.target;
  return { target, targetQty, reason, side, projected, delta };
}

/** Unfilled shares of one side's open orders that stay open. */
function keptQty(side: OpenSide | undefined, cancelOwn: ConflictReason | undefined): bigint {
  if (side === undefined) return 0n;
  return cancelOwn === undefined ? side.qty : side.qty - side.ownQty;
}

/**
 * Whether an excess of shares (scale Q) past the target could be an order of its own, which a
 * later run would place to trade it back: at least one increment and the minimum notional.
 */
function tradeable(excess: bigint, record: SymbolRecord, ctx: PlanContext): boolean {
  if (excess <= 0n) return false;
  const rule = ctx.rules.get(record.symbol);
  if (rule === undefined || record.price === undefined) return true;
  const fractional = rule.fractionable && ctx.input.capabilities.fractional;
  const { increment, ruleMin } = ruleLimits(rule, fractional, ctx);
  return excess >= increment && excess * record.price >= maxBig(ruleMin, ctx.limits.minOrderNotional);
}

/**
 * An asset's order increment and own minimum notional at the plan's scales. Most assets share
 * a few rules (an increment of 1e-9 or 1, a $1 minimum): the last few read are kept and reused
 * for the next asset whose rules are equal in value.
 */
function ruleLimits(rule: PlanAssetRules, fractional: boolean, ctx: PlanContext): RuleLimits {
  const recent = ctx.recentRules;
  const { qtyIncrement, minNotional } = rule;
  for (let i = 0; i < recent.length; i++) {
    const r = recent[i]!;
    if (
      r.fractional === fractional &&
      sameDecimal(r.qtyIncrement, qtyIncrement) &&
      (minNotional === undefined
        ? r.minNotional === undefined
        : r.minNotional !== undefined && sameDecimal(r.minNotional, minNotional))
    ) {
      return r;
    }
  }
  const read: RuleLimits = {
    qtyIncrement,
    fractional,
    minNotional,
    increment: ctx.scales.orderIncrement(qtyIncrement, fractional),
    ruleMin: minNotional === undefined ? 0n : ctx.scales.toM(minNotional),
  };
  // The newest first; the oldest of RECENT_RULES gives way.
  if (recent.length >= RECENT_RULES) recent.pop();
  recent.unshift(read);
  return read;
}

/** How many asset rules a plan keeps at hand. */
const RECENT_RULES = 4;

/**
 * Whether a nonzero target could not be held as an order could leave it: its rounding to the
 * increment is zero or under the minimum notional (rounding down: the target itself is).
 *
 * @remarks
 * Either rounding keeps more than target − increment, so a target with (target − increment)
 * × price at least the minimum is tradeable, and the steps are counted only near the minimum.
 */
export function isUntradeable(
  target: bigint,
  increment: bigint,
  price: bigint,
  minNotional: bigint,
  nearest: boolean,
): boolean {
  if (target <= 0n) return false;
  if ((target - increment) * price >= minNotional) return false;
  const kept = (nearest ? nearestSteps(target, increment) : floorSteps(target, increment)) * increment;
  return kept === 0n || (nearest ? kept : target) * price < minNotional || (!nearest && target < increment);
}

/** Whole increments nearest a quantity (half an increment rounds down). */
function nearestSteps(qty: bigint, increment: bigint): bigint {
  const steps = floorSteps(qty, increment);
  return 2n * (qty - steps * increment) > increment ? steps + 1n : steps;
}

function withinBand(deltaNotional: bigint, bandWeightNotional: bigint, bandNotional: bigint): boolean {
  if (bandNotional > 0n && deltaNotional <= bandNotional) return true;
  return bandWeightNotional > 0n && deltaNotional <= bandWeightNotional;
}

function skip(
  reason: SkipReason,
  detail: string,
  side?: OrderSide,
  delta?: bigint,
  deltaNotional = 0n,
): SkipDecision {
  return { kind: "skip", reason, detail, side, delta, deltaNotional };
}
