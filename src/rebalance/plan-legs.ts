import type { OrderSide } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import { allocateBuys, type SellRounding } from "./allocate-buys.js";
import type { BuyDecision, SellDecision } from "./decide-symbol.js";
import { conflictsOf } from "./open-order-book.js";
import type { PlanContext } from "./plan-context.js";
import type { PlanScales } from "./plan-scales.js";
import type { LegReason, OrderConflict, RebalanceLeg, RebalanceLegFields } from "./rebalance-plan.js";
import { maxBig, minBig } from "./scaled.js";
import { compareStrings, type SymbolRecord } from "./symbol-record.js";

/** A leg with its sort key and the open orders it cancels first. */
export interface KeyedLeg {
  /** The estimated notional, scale M. */
  readonly key: bigint;
  /**
   * The key as a number, compared first when sorting: converting is monotonic, so a larger
   * rank means a larger key; equal ranks are decided by the keys themselves.
   */
  readonly rank: number;
  readonly leg: RebalanceLeg;
  /** The opposite-side open orders the leg cancels first. */
  readonly conflicts: OrderConflict[] | undefined;
}

/** The cash the buys may use, and where it comes from. */
export interface CashBudget {
  /** `account.cash`, scale M. */
  readonly cash: bigint;
  /** Estimated proceeds of the planned sells, scale M. */
  readonly sellProceeds: bigint;
  /** `cashBuffer` × equity, scale M. */
  readonly buffer: bigint;
  /** What the open buys the plan keeps hold of the cash (zero when `cashExcludesOpenBuys`), scale C. */
  readonly holds: bigint;
  /** max(0, cash + sellProceeds − buffer − holds), scale C. */
  readonly available: bigint;
}

/** The buys the cash funds. */
export interface PlacedBuys {
  readonly legs: KeyedLeg[];
  /** Symbols whose buy the cash could not fund at its minimum size. */
  readonly unfunded: string[];
  /** Cash the buys count (Σ cashRequired), scale C. */
  readonly allocated: bigint;
  /** Their estimated notional, scale M. */
  readonly value: bigint;
}

/**
 * The sell leg of a decision; its symbol's record then projects the sell (and no open buy,
 * which the sell cancels first).
 *
 * @param d - a sell decision
 * @param scales - the plan's scales
 * @returns the leg, keyed by its estimated notional
 * @example
 * ```ts
 * const { leg } = sellLeg(decision, ctx.scales);
 * leg.qty; // the shares to sell
 * ```
 */
export function sellLeg(d: SellDecision, scales: PlanScales): KeyedLeg {
  const { record, aim, size, price, referencePrice } = d;
  const { symbol, held, heldQty } = record;
  const { qty } = size;
  const action = size.kind === "close" ? "exit" : size.action;
  const notional = qty * price;
  const exitReason: LegReason =
    d.isExit && aim.reason === "to_target"
      ? d.untradeableRemainder
        ? "exit_remainder"
        : "exit_tolerance"
      : aim.reason;
  const qtyD = qty === held ? heldQty : scales.fromQ(qty);
  const leg: RebalanceLeg = {
    symbol,
    side: "sell",
    action,
    qty: qtyD,
    closePosition: size.kind === "close",
    type: "market",
    timeInForce: "day",
    price: referencePrice,
    estimatedQty: qtyD,
    estimatedNotional: scales.fromM(notional),
    cashRequired: ZERO,
    reason: action === "exit" ? exitReason : "to_target",
    shrunk: false,
    heldQty,
    projectedQty: aim.projected === held ? heldQty : scales.fromQ(aim.projected),
    targetQty: aim.targetQty ?? scales.fromQ(aim.target),
  };
  settle(record, "sell", aim.projected - qty);
  return {
    key: notional,
    rank: Number(notional),
    leg,
    conflicts: legConflicts(record, "sell", referencePrice),
  };
}

/**
 * What a leg cancels first: every open order on its other side, then ordersafe's own orders on
 * its side when they are past the target.
 */
function legConflicts(record: SymbolRecord, side: OrderSide, price: Decimal): OrderConflict[] | undefined {
  const { open, symbol } = record;
  if (open === undefined) return undefined;
  const opposite = side === "buy" ? open.sell : open.buy;
  const same = side === "buy" ? open.buy : open.sell;
  const conflicts =
    opposite === undefined ? [] : conflictsOf(symbol, opposite.orders, price, "opposite_side");
  const reason = record.cancelOwn?.[side];
  if (same !== undefined && reason !== undefined)
    conflicts.push(...conflictsOf(symbol, same.own, price, reason));
  return conflicts.length > 0 ? conflicts : undefined;
}

/**
 * A trim that could sell one increment more than its nearest rounding (within the shares
 * available), to fund the buys: what that costs in tracking error and brings in cash.
 *
 * @param d - a sell decision
 * @param scales - the plan's scales
 * @returns the rounding, or undefined when the sell cannot or need not go further
 * @example
 * ```ts
 * sellRounding(decision, ctx.scales)?.cash; // one increment × price, scale C
 * ```
 */
export function sellRounding(d: SellDecision, scales: PlanScales): SellRounding | undefined {
  const { size, increment, price } = d;
  if (d.isExit || size.kind !== "order" || size.action !== "trim") return undefined;
  const left = d.aim.projected - d.aim.target - size.qty;
  if (left < 0n || size.qty + increment > d.available) return undefined;
  return { error: (increment - 2n * left) * price, cash: increment * price * scales.mToC };
}

/**
 * The decision of a trim that sells one increment more.
 *
 * @param d - a trim decision (see {@link sellRounding})
 * @returns the same decision, one increment larger
 */
export function sellOneMore(d: SellDecision): SellDecision {
  if (d.size.kind !== "order") return d;
  return { ...d, size: { ...d.size, qty: d.size.qty + d.increment } };
}

/**
 * The conflicts of symbols that get no leg: ordersafe's own open orders past the target or
 * against it, by symbol.
 *
 * @param records - the records, their legs recorded (sorted by symbol)
 * @returns the conflicts, in symbol order
 * @example
 * ```ts
 * idleConflicts(ctx.records); // own orders to cancel on symbols without a leg
 * ```
 */
export function idleConflicts(records: readonly SymbolRecord[]): OrderConflict[] {
  const conflicts: OrderConflict[] = [];
  for (const r of records) {
    const cancel = r.cancelOwn;
    if (cancel === undefined || r.legSide !== undefined || r.open === undefined) continue;
    const price = r.referencePrice;
    if (price === undefined) continue;
    const { buy, sell } = r.open;
    if (buy !== undefined && cancel.buy !== undefined)
      conflicts.push(...conflictsOf(r.symbol, buy.own, price, cancel.buy));
    if (sell !== undefined && cancel.sell !== undefined)
      conflicts.push(...conflictsOf(r.symbol, sell.own, price, cancel.sell));
  }
  return conflicts;
}

/**
 * The cash buys may use once the sells are planned: the cash, plus the sells' proceeds, less
 * the buffer and what the open buys still hold (those a sell cancels hold nothing).
 *
 * @param ctx - the plan's context, its sells recorded
 * @param sellProceeds - Σ estimated notional of the sells, scale M
 * @returns the budget
 * @example
 * ```ts
 * cashBudget(ctx, 0n).available; // scale C
 * ```
 */
export function cashBudget(ctx: PlanContext, sellProceeds: bigint): CashBudget {
  const { scales, input } = ctx;
  let openBuyHolds = 0n;
  for (const r of ctx.records)
    if (r.open !== undefined && r.legSide !== "sell")
      openBuyHolds += r.cancelOwn?.buy === undefined ? r.open.buyHold : r.open.buyHold - r.open.ownBuyHold;
  const holds = input.options.cashExcludesOpenBuys ? 0n : openBuyHolds;
  const cash = scales.toM(input.account.cash);
  const buffer = ctx.limits.cashBuffer;
  let available = maxBig(0n, (cash + sellProceeds - buffer) * scales.mToC - holds);
  // The broker's buying power nets the holds itself; a read that lags may not show them yet,
  // so the plan counts on the lesser of the two views.
  const bp = input.account.buyingPower;
  if (bp !== undefined)
    available = minBig(available, maxBig(0n, (scales.toM(bp) + sellProceeds - buffer) * scales.mToC));
  return { cash, sellProceeds, buffer, holds, available };
}

/**
 * Shares the cash out among the buys wanted ({@link allocateBuys}) and makes the legs of
 * those it funds; their records then project the buys (and no open sell, which a buy cancels
 * first).
 *
 * @param wanted - the buys wanted, each at least its minimum
 * @param cash - what buys may use, scale C
 * @param scales - the plan's scales
 * @param given - the units per buy, when already allocated
 * @returns the legs, the symbols left unfunded and the totals
 * @example
 * ```ts
 * const buys = placeBuys(wanted, budget.available, ctx.scales);
 * buys.legs.length + buys.unfunded.length === wanted.length; // true
 * ```
 */
export function placeBuys(
  wanted: readonly BuyDecision[],
  cash: bigint,
  scales: PlanScales,
  given?: readonly bigint[],
): PlacedBuys {
  const units =
    given ??
    allocateBuys(
      wanted.map((w) => w.size),
      cash,
    );
  const legs: KeyedLeg[] = [];
  const unfunded: string[] = [];
  let allocated = 0n; // quantity buys, scale C
  let allocatedNotional = 0n; // notional buys, scale M
  let value = 0n;
  for (let k = 0; k < wanted.length; k++) {
    const d = wanted[k]!;
    const u = units[k]!;
    if (u === 0n) {
      unfunded.push(d.record.symbol);
      continue;
    }
    const buy = buyLeg(d, u, scales);
    legs.push(buy);
    value += buy.key;
    if (d.size.notional) allocatedNotional += buy.key;
    else allocated += buy.key * d.size.costFactor;
  }
  return { legs, unfunded, allocated: allocated + allocatedNotional * scales.mToC, value };
}

/** The leg of a buy given `units`; records the buy on its symbol. */
function buyLeg(d: BuyDecision, units: bigint, scales: PlanScales): KeyedLeg {
  const { record, aim, size, price, referencePrice } = d;
  let qty: Decimal | undefined;
  let notional: Decimal | undefined;
  let estimatedQty: bigint;
  let estimatedNotional: bigint;
  let cashRequired: Decimal;
  if (size.notional) {
    estimatedNotional = units * scales.centM;
    // notional / price in shares, rounded down to 9 decimals.
    estimatedQty = (estimatedNotional / (price * scales.nanoQ)) * scales.nanoQ;
    notional = scales.fromM(estimatedNotional);
    cashRequired = notional;
  } else {
    estimatedQty = units * size.increment;
    estimatedNotional = estimatedQty * price;
    qty = scales.fromQ(estimatedQty);
    cashRequired = scales.fromC(estimatedNotional * size.costFactor);
  }
  const fields: RebalanceLegFields = {
    symbol: record.symbol,
    side: "buy",
    action: aim.projected > 0n ? "add" : "enter",
    closePosition: false,
    type: "market",
    timeInForce: "day",
    price: referencePrice,
    estimatedQty: qty ?? scales.fromQ(estimatedQty),
    estimatedNotional: notional ?? scales.fromM(estimatedNotional),
    cashRequired,
    reason: aim.reason,
    shrunk: units < size.needUnits,
    heldQty: record.heldQty,
    projectedQty:
      record.projectedQty !== undefined && aim.projected === record.projected
        ? record.projectedQty
        : scales.fromQ(aim.projected),
    targetQty: aim.targetQty ?? scales.fromQ(aim.target),
  };
  // The size goes last, as a key added to the fields (a spread would copy every field).
  const leg: RebalanceLeg =
    notional !== undefined
      ? Object.assign(fields, { notional })
      : Object.assign(fields, { qty: qty ?? scales.fromQ(estimatedQty) });
  settle(record, "buy", aim.projected + estimatedQty);
  return {
    key: estimatedNotional,
    rank: Number(estimatedNotional),
    leg,
    conflicts: legConflicts(record, "buy", referencePrice),
  };
}

/** Records a symbol's leg: its side, and the shares it projects. */
function settle(record: SymbolRecord, side: OrderSide, projected: bigint): void {
  record.legSide = side;
  record.projected = projected;
  record.projectedQty = undefined;
}

/**
 * The legs by estimated notional, largest first, then by symbol; their conflicts appended to
 * `conflicts` in that order.
 *
 * @param keyed - the legs (sorted in place)
 * @param conflicts - where the conflicts go
 * @returns the legs, sorted
 * @example
 * ```ts
 * const conflicts: OrderConflict[] = [];
 * const sells = sortByNotionalDesc(keyedSells, conflicts);
 * ```
 */
export function sortByNotionalDesc(keyed: KeyedLeg[], conflicts: OrderConflict[]): RebalanceLeg[] {
  // Numbers compare faster than bigints; only equal ranks need the exact keys.
  keyed.sort((a, b) =>
    a.rank > b.rank
      ? -1
      : a.rank < b.rank
        ? 1
        : a.key > b.key
          ? -1
          : a.key < b.key
            ? 1
            : compareStrings(a.leg.symbol, b.leg.symbol),
  );
  const legs: RebalanceLeg[] = new Array(keyed.length);
  for (let i = 0; i < keyed.length; i++) {
    const k = keyed[i]!;
    legs[i] = k.leg;
    // In leg order: the conflicts of each leg, after those of the legs before it.
    if (k.conflicts !== undefined) for (const c of k.conflicts) conflicts.push(c);
  }
  return legs;
}
