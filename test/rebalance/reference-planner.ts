// The planner's former decimal.js implementation, kept for tests only: the exact scaled-integer
// planner must give the same legs (see planner-differential.test.ts).
import {
  Decimal,
  INCREMENT_SNAP,
  isFinalBrokerStatus,
  type LegAction,
  type LegReason,
  ONE,
  type OrderConflict,
  type OrderSide,
  type OrderSnapshot,
  type RebalanceInput,
  type RebalanceLeg,
  type RebalanceLegFields,
  type RebalancePlan,
  Rounding,
  type SkippedSymbol,
  type SkipReason,
  ZERO,
} from "ordersafe";

const NANO = new Decimal("0.000000001");
const CENT = new Decimal("0.01");
const BILLION = new Decimal(1_000_000_000);
const HUNDRED = new Decimal(100);
const MAX_QTY_DECIMALS = 9;
const TARGET_DECIMALS = 15;

interface Rules {
  tradable: boolean;
  fractionable: boolean;
  qtyIncrement: Decimal;
  minNotional?: Decimal | undefined;
}

/** Open orders of one side of one symbol. */
interface OpenSide {
  orders: OrderSnapshot[];
  /** Unfilled shares (at the reference price for notional orders). */
  qty: Decimal;
}

/**
 * The planner as it was written on decimal.js (40 significant digits), before its arithmetic
 * moved to exact scaled integers: the reference the differential property test compares
 * against. Same rules, step for step.
 *
 * @param input - an input parsed by RebalanceInputSchema
 * @returns the plan
 */
export function referencePlan(input: RebalanceInput): RebalancePlan {
  const { options, capabilities, account } = input;
  const equity = account.equity;
  const tolerance = options.fullExitTolerance;
  const bandWeight = options.noTradeBand.weight;
  const bandNotional = options.noTradeBand.notional;
  const bandWeightNotional = bandWeight.times(equity);
  const buyFactor = ONE.plus(options.marketBuyBuffer);
  const keep = new Set(options.keep);
  const wantSells = options.sides !== "buys";
  const wantBuys = options.sides !== "sells";

  const prices = input.prices as Record<string, Decimal>;
  const rules = rulesBySymbol(input.assets);
  const positions = new Map(input.positions.map((p) => [p.symbol, p]));

  let targetKind: "weights" | "quantities" | "notionals";
  let targetMap: Record<string, Decimal>;
  const { weights, quantities, notionals } = input.targets;
  if (weights !== undefined) {
    targetKind = "weights";
    targetMap = weights;
  } else if (quantities !== undefined) {
    targetKind = "quantities";
    targetMap = quantities;
  } else {
    targetKind = "notionals";
    targetMap = notionals ?? {};
  }
  const untargeted = options.untargeted ?? (targetKind === "weights" ? "liquidate" : "keep");

  const buysOpen = new Map<string, OpenSide>();
  const sellsOpen = new Map<string, OpenSide>();
  const holdsBySymbol = new Map<string, Decimal>();
  for (const order of input.openOrders as OrderSnapshot[]) {
    if (isFinalBrokerStatus(order.status)) continue;
    const price = prices[order.symbol];
    const unfilled = unfilledQty(order, price);
    const book = order.side === "buy" ? buysOpen : sellsOpen;
    const side = book.get(order.symbol);
    if (side === undefined) book.set(order.symbol, { orders: [order], qty: unfilled ?? ZERO });
    else {
      side.orders.push(order);
      side.qty = side.qty.plus(unfilled ?? ZERO);
    }
    if (order.side === "buy") {
      const hold = buyHold(order, price, buyFactor);
      holdsBySymbol.set(order.symbol, (holdsBySymbol.get(order.symbol) ?? ZERO).plus(hold));
    }
  }

  const universe = new Set<string>(Object.keys(targetMap));
  for (const p of input.positions) if (!p.qty.isZero()) universe.add(p.symbol);
  for (const s of buysOpen.keys()) universe.add(s);
  for (const s of sellsOpen.keys()) universe.add(s);
  const symbols = [...universe].sort(compareStrings);

  const sells: RebalanceLeg[] = [];
  const candidates: BuyCandidate[] = [];
  const skipped: SkippedSymbol[] = [];
  const conflicts: OrderConflict[] = [];
  const conflictsBySymbol = new Map<string, OrderConflict[]>();
  const projectedQuantities: Record<string, Decimal> = {};
  let minimalTurnover = ZERO;
  let naiveTurnover = ZERO;
  let naiveOrderCount = 0;
  let keptOpenValue = ZERO;
  const skip = (symbol: string, reason: SkipReason, detail: string, side?: OrderSide, deltaQty?: Decimal) => {
    const entry: SkippedSymbol = { symbol, reason, detail };
    if (side !== undefined) entry.side = side;
    if (deltaQty !== undefined) entry.deltaQty = deltaQty;
    skipped.push(entry);
  };

  for (const symbol of symbols) {
    const position = positions.get(symbol);
    const held = position?.qty ?? ZERO;
    const available = position?.qtyAvailable ?? ZERO;
    const price = prices[symbol];
    const openBuy = buysOpen.get(symbol);
    const openSell = sellsOpen.get(symbol);
    const openBuyQty = openBuy?.qty ?? ZERO;
    const openSellQty = openSell?.qty ?? ZERO;
    const allOpenProjected =
      openBuy === undefined && openSell === undefined ? held : held.plus(openBuyQty).minus(openSellQty);
    // Unless a leg says otherwise, every open order is expected to fill.
    projectedQuantities[symbol] = allOpenProjected;
    if (price !== undefined && (openBuy !== undefined || openSell !== undefined)) {
      keptOpenValue = keptOpenValue.plus(openSellQty.minus(openBuyQty).times(price));
    }

    const targetRaw = targetMap[symbol];
    const targeted = targetRaw !== undefined;
    if (price !== undefined && isPositive(held)) {
      naiveTurnover = naiveTurnover.plus(held.times(price));
      naiveOrderCount++;
    }
    const targetValue = targeted && targetKind === "weights" ? targetRaw.times(equity) : targetRaw;
    if (targeted && isPositive(targetRaw)) {
      naiveOrderCount++;
      if (targetKind === "weights") naiveTurnover = naiveTurnover.plus(targetValue as Decimal);
      else if (targetKind === "notionals") naiveTurnover = naiveTurnover.plus(targetRaw);
      else if (price !== undefined) naiveTurnover = naiveTurnover.plus(targetRaw.times(price));
    }

    if (keep.has(symbol)) {
      skip(symbol, "kept", "listed in options.keep");
      continue;
    }
    if (!targeted && untargeted === "keep") {
      skip(symbol, "kept", "not in the targets and options.untargeted is keep");
      continue;
    }
    if (held.isNegative()) {
      skip(symbol, "short_position", "short positions are left alone");
      continue;
    }

    // The target in shares, when it can be known.
    let target: Decimal | undefined;
    let reason: LegReason;
    if (!targeted) {
      target = ZERO;
      reason = "untargeted";
    } else if (targetRaw.isZero()) {
      target = ZERO;
      reason = "target_zero";
    } else {
      reason = "to_target";
      if (targetKind === "quantities") target = targetRaw;
      else if (price !== undefined) {
        // 15 decimals: far below any increment's snap (a millionth of 1e-9), and it keeps the
        // digits of everything computed from the target short.
        target = (targetValue as Decimal).div(price).toDecimalPlaces(TARGET_DECIMALS, Rounding.halfUp);
      }
    }
    if (target === undefined || price === undefined) {
      const mustTrade =
        target === undefined || !target.eq(allOpenProjected) || hasNotional(openBuy, openSell);
      if (mustTrade) skip(symbol, "no_price", "the symbol must trade but has no price");
      continue;
    }

    // Direction from what is held; orders on the other side are conflicts to cancel first.
    const direction = target.cmp(held);
    let projected: Decimal;
    if (direction > 0) projected = held.plus(openBuyQty);
    else if (direction < 0) projected = held.minus(openSellQty);
    else projected = allOpenProjected;
    const delta = target.minus(projected);
    const deltaNotional = delta.isZero() ? ZERO : delta.abs().times(price);
    minimalTurnover = minimalTurnover.plus(deltaNotional);
    if (delta.isZero()) continue;
    if (direction === 0 || (delta.isNegative() ? -1 : 1) !== direction) {
      skip(
        symbol,
        "covered_by_open_orders",
        "open orders already reach or pass the target",
        delta.isNegative() ? "sell" : "buy",
        delta,
      );
      continue;
    }
    const side: OrderSide = direction > 0 ? "buy" : "sell";

    const rule = rules.get(symbol);
    if (rule === undefined) {
      skip(symbol, "no_asset_rules", "no asset rules were given for the symbol", side, delta);
      continue;
    }
    if (!rule.tradable) {
      skip(symbol, "not_tradable", "the asset is not tradable", side, delta);
      continue;
    }
    const fractional = rule.fractionable && capabilities.fractional;
    const increment = effectiveIncrement(rule.qtyIncrement, fractional);
    const minNotional = maxOf(rule.minNotional ?? ZERO, options.minOrderNotional);

    // A remainder under the minimum order or one increment could never be sold on its own.
    const untradeable = target.gt(0) && (target.times(price).lt(minNotional) || target.lt(increment));
    const isExit = side === "sell" && (untradeable || target.lte(held.times(tolerance)));
    if (!isExit && withinBand(deltaNotional, bandWeightNotional, bandNotional)) {
      skip(symbol, "within_band", "inside the no-trade band", side, delta);
      continue;
    }
    if (side === "sell" ? !wantSells : !wantBuys) {
      skip(symbol, "side_excluded", `options.sides is ${options.sides}`, side, delta);
      continue;
    }

    const opposite = side === "buy" ? openSell : openBuy;

    if (side === "sell") {
      const leg = planSell({
        symbol,
        price,
        held,
        available,
        projected,
        target,
        increment,
        minNotional,
        isExit,
        reason:
          isExit && reason === "to_target" ? (untradeable ? "exit_remainder" : "exit_tolerance") : reason,
        closePositionAllowed: capabilities.closePosition && openSell === undefined,
      });
      if ("skip" in leg) {
        skip(symbol, "below_minimum", leg.skip, side, delta);
        continue;
      }
      if (opposite !== undefined) conflictsBySymbol.set(symbol, conflictsOf(symbol, opposite, price));
      // The open buys it cancels hold no cash once cancelled.
      holdsBySymbol.delete(symbol);
      sells.push(leg);
      projectedQuantities[symbol] = projected.minus(leg.estimatedQty);
      // The open buys it cancels no longer cost cash.
      if (opposite !== undefined) keptOpenValue = keptOpenValue.plus(opposite.qty.times(price));
      continue;
    }

    const notional = options.buyWith === "notional" && fractional && capabilities.notionalOrders;
    const unitValue = notional ? CENT : increment.times(price);
    const needUnits = floorSteps(notional ? deltaNotional : delta, notional ? CENT : increment);
    const minUnits = maxOf(ONE, (notional ? minNotional.times(HUNDRED) : minNotional.div(unitValue)).ceil());
    if (needUnits.lt(minUnits)) {
      skip(
        symbol,
        "below_minimum",
        needUnits.isZero() ? "less than one increment" : "below the minimum order notional",
        side,
        delta,
      );
      continue;
    }
    candidates.push({
      symbol,
      price,
      increment,
      notional,
      unitValue,
      unitCost: notional ? CENT : unitValue.times(buyFactor),
      costFactor: notional ? ONE : buyFactor,
      needUnits,
      minUnits,
      heldQty: held,
      projectedQty: projected,
      targetQty: target,
      reason,
      opposite,
    });
  }

  let sellProceeds = ZERO;
  for (const leg of sells) sellProceeds = sellProceeds.plus(leg.estimatedNotional);
  const buffer = equity.times(options.cashBuffer);
  let openBuyHolds = ZERO;
  for (const hold of holdsBySymbol.values()) openBuyHolds = openBuyHolds.plus(hold);
  const holds = options.cashExcludesOpenBuys ? ZERO : openBuyHolds;
  const availableCash = maxOf(ZERO, account.cash.plus(sellProceeds).minus(buffer).minus(holds));
  const allocation = allocateBuys(candidates, availableCash);

  const buys: RebalanceLeg[] = [];
  let allocated = ZERO;
  for (const c of candidates) {
    const units = allocation.get(c) ?? ZERO;
    if (units.isZero()) {
      skip(c.symbol, "insufficient_cash", "the cash left cannot fund the minimum order", "buy");
      continue;
    }
    const shrunk = units.lt(c.needUnits);
    const leg = buyLeg(c, units, buyFactor, shrunk);
    allocated = allocated.plus(leg.cashRequired);
    if (c.opposite !== undefined) conflictsBySymbol.set(c.symbol, conflictsOf(c.symbol, c.opposite, c.price));
    buys.push(leg);
    projectedQuantities[c.symbol] = c.projectedQty.plus(leg.estimatedQty);
    // The open sells it cancels no longer bring cash.
    if (c.opposite !== undefined) keptOpenValue = keptOpenValue.minus(c.opposite.qty.times(c.price));
  }

  sortByNotionalDesc(sells);
  sortByNotionalDesc(buys);
  for (const leg of [...sells, ...buys]) {
    for (const c of conflictsBySymbol.get(leg.symbol) ?? []) conflicts.push(c);
  }
  skipped.sort((a, b) => compareStrings(a.symbol, b.symbol));

  let turnover = ZERO;
  let buyValue = ZERO;
  for (const leg of sells) turnover = turnover.plus(leg.estimatedNotional);
  for (const leg of buys) {
    turnover = turnover.plus(leg.estimatedNotional);
    buyValue = buyValue.plus(leg.estimatedNotional);
  }
  const openValue = options.cashExcludesOpenBuys
    ? keptOpenValue.plus(openBuyValue(buysOpen, prices))
    : keptOpenValue;
  const projectedCash = account.cash.plus(sellProceeds).minus(buyValue).plus(openValue);
  let projectedEquity = projectedCash;
  const projectedValues: (Decimal | undefined)[] = symbols.map((symbol) => {
    const price = prices[symbol];
    const qty = projectedQuantities[symbol];
    if (price === undefined || qty === undefined) return undefined;
    const value = qty.isZero() ? ZERO : qty.times(price);
    projectedEquity = projectedEquity.plus(value);
    return value;
  });
  const projectedWeights: Record<string, Decimal> = {};
  // 20 significant digits of 1 / equity are plenty for a reported weight, and keep the products short.
  const inverseEquity = isPositive(projectedEquity) ? ONE.div(projectedEquity).toSignificantDigits(20) : ZERO;
  for (let i = 0; i < symbols.length; i++) {
    const value = projectedValues[i];
    if (value !== undefined) projectedWeights[symbols[i]!] = value.times(inverseEquity);
  }

  return {
    legs: [...sells, ...buys],
    sells,
    buys,
    skipped,
    conflicts,
    summary: {
      turnover,
      minimalTurnover,
      naiveTurnover,
      orderCount: sells.length + buys.length,
      naiveOrderCount,
      sellCount: sells.length,
      buyCount: buys.length,
      budget: {
        cash: account.cash,
        sellProceeds,
        buffer,
        openBuyHolds: holds,
        available: availableCash,
        allocated,
        left: availableCash.minus(allocated),
      },
      projectedCash,
      projectedEquity,
      projectedQuantities,
      projectedWeights,
    },
  };
}

interface SellArgs {
  symbol: string;
  price: Decimal;
  held: Decimal;
  available: Decimal;
  projected: Decimal;
  target: Decimal;
  increment: Decimal;
  minNotional: Decimal;
  isExit: boolean;
  reason: LegReason;
  closePositionAllowed: boolean;
}

function planSell(a: SellArgs): RebalanceLeg | { skip: string } {
  if (a.isExit) {
    // A full exit sells exactly what is not already held by open sells.
    const exitQty = minOf(a.projected, a.available);
    const notional = exitQty.times(a.price);
    const orderable =
      isPositive(exitQty) &&
      exitQty.decimalPlaces() <= MAX_QTY_DECIMALS &&
      exitQty.mod(a.increment).isZero() &&
      notional.gte(a.minNotional);
    if (orderable) return sellLeg(a, exitQty, "exit", false);
    if (a.closePositionAllowed && isPositive(exitQty) && exitQty.eq(a.held)) {
      return sellLeg(a, exitQty, "exit", true);
    }
    // Without closePosition, sell what can be an order and leave the dust.
    const part = minOf(floorSteps(exitQty, a.increment).times(a.increment), exitQty);
    if (isPositive(part) && part.times(a.price).gte(a.minNotional)) return sellLeg(a, part, "trim", false);
    return { skip: "the position is dust that cannot be an order and closePosition is unavailable" };
  }
  let qty = floorSteps(a.projected.minus(a.target), a.increment).times(a.increment);
  if (qty.gt(a.available)) {
    // Capped at the shares not held by open sells, on the increment and never above them.
    qty = minOf(floorSteps(a.available, a.increment).times(a.increment), a.available);
  }
  if (!isPositive(qty)) return { skip: "less than one increment" };
  const notional = qty.times(a.price);
  if (notional.lt(a.minNotional)) return { skip: "below the minimum order notional" };
  return sellLeg(a, qty, "trim", false, notional);
}

function sellLeg(
  a: SellArgs,
  qty: Decimal,
  action: LegAction,
  closePosition: boolean,
  notional?: Decimal,
): RebalanceLeg {
  const estimatedNotional = notional ?? qty.times(a.price);
  return {
    symbol: a.symbol,
    side: "sell",
    action,
    qty,
    closePosition,
    type: "market",
    timeInForce: "day",
    price: a.price,
    estimatedQty: qty,
    estimatedNotional,
    cashRequired: ZERO,
    reason: action === "exit" ? a.reason : "to_target",
    shrunk: false,
    heldQty: a.held,
    projectedQty: a.projected,
    targetQty: a.target,
  };
}

function buyLeg(c: BuyCandidate, units: Decimal, buyFactor: Decimal, shrunk: boolean): RebalanceLeg {
  const action: LegAction = !isPositive(c.projectedQty) ? "enter" : "add";
  let qty: Decimal | undefined;
  let notional: Decimal | undefined;
  let estimatedQty: Decimal;
  let estimatedNotional: Decimal;
  let cashRequired: Decimal;
  if (c.notional) {
    notional = units.times(CENT);
    estimatedQty = notional.div(c.price).toDecimalPlaces(MAX_QTY_DECIMALS, Rounding.down);
    estimatedNotional = notional;
    cashRequired = notional;
  } else {
    qty = units.times(c.increment);
    estimatedQty = qty;
    estimatedNotional = qty.times(c.price);
    cashRequired = estimatedNotional.times(buyFactor);
  }
  const fields: RebalanceLegFields = {
    symbol: c.symbol,
    side: "buy",
    action,
    closePosition: false,
    type: "market",
    timeInForce: "day",
    price: c.price,
    estimatedQty,
    estimatedNotional,
    cashRequired,
    reason: c.reason,
    shrunk,
    heldQty: c.heldQty,
    projectedQty: c.projectedQty,
    targetQty: c.targetQty,
  };
  return notional !== undefined ? { ...fields, notional } : { ...fields, qty: qty ?? estimatedQty };
}

// decimal.js's static min/max copy their arguments; these return one of them.
function maxOf(a: Decimal, b: Decimal): Decimal {
  return a.gte(b) ? a : b;
}
function minOf(a: Decimal, b: Decimal): Decimal {
  return a.lte(b) ? a : b;
}

function rulesBySymbol(assets: RebalanceInput["assets"]): Map<string, Rules> {
  const map = new Map<string, Rules>();
  if (Array.isArray(assets)) for (const a of assets) map.set(a.symbol, a);
  else for (const [symbol, a] of Object.entries(assets)) map.set(symbol, a);
  return map;
}

/** The increment orders use: at least one share without fractional trading, at least 1e-9 and at most 9 decimals. */
function effectiveIncrement(increment: Decimal, fractional: boolean): Decimal {
  // The common increments come back as shared constants, which floorSteps divides by cheaply.
  if (!fractional) return increment.lte(ONE) ? ONE : increment;
  if (increment.lte(NANO)) return NANO;
  if (increment.eq(ONE)) return ONE;
  return increment.decimalPlaces() > MAX_QTY_DECIMALS
    ? increment.toDecimalPlaces(MAX_QTY_DECIMALS, Rounding.up)
    : increment;
}

/** Whole steps in a value, rounded down, where a value within a millionth of a step of the next counts as that step. */
function floorSteps(value: Decimal, step: Decimal): Decimal {
  if (!isPositive(value)) return ZERO;
  // Dividing by a power of ten is exact as a multiplication, and far cheaper.
  const steps =
    step === ONE
      ? value
      : step === NANO
        ? value.times(BILLION)
        : step === CENT
          ? value.times(HUNDRED)
          : value.div(step);
  const up = steps.ceil();
  return up.minus(steps).lte(INCREMENT_SNAP) ? up : steps.floor();
}

function withinBand(deltaNotional: Decimal, bandWeightNotional: Decimal, bandNotional: Decimal): boolean {
  if (isPositive(bandNotional) && deltaNotional.lte(bandNotional)) return true;
  return isPositive(bandWeightNotional) && deltaNotional.lte(bandWeightNotional);
}

/** Unfilled shares of an open order; undefined for a notional order without a price. */
function unfilledQty(order: OrderSnapshot, price: Decimal | undefined): Decimal | undefined {
  if (order.qty !== undefined) return maxOf(ZERO, order.qty.minus(order.filledQty));
  if (order.notional === undefined || price === undefined) return undefined;
  const spent = order.filledQty.times(order.filledAvgPrice ?? price);
  return maxOf(ZERO, order.notional.minus(spent)).div(price);
}

/** What an open buy holds of the cash. */
function buyHold(order: OrderSnapshot, price: Decimal | undefined, buyFactor: Decimal): Decimal {
  if (order.qty === undefined) {
    const spent = order.filledQty.times(order.filledAvgPrice ?? price ?? ZERO);
    return maxOf(ZERO, (order.notional ?? ZERO).minus(spent));
  }
  const left = maxOf(ZERO, order.qty.minus(order.filledQty));
  if (order.limitPrice !== undefined) return left.times(order.limitPrice);
  const ref = price ?? order.filledAvgPrice;
  return ref === undefined ? ZERO : left.times(ref).times(buyFactor);
}

function openBuyValue(buysOpen: Map<string, OpenSide>, prices: Record<string, Decimal>): Decimal {
  let v = ZERO;
  for (const [symbol, side] of buysOpen) {
    const price = prices[symbol];
    if (price !== undefined) v = v.plus(side.qty.times(price));
  }
  return v;
}

function conflictsOf(symbol: string, opposite: OpenSide, price: Decimal): OrderConflict[] {
  return opposite.orders.map((o) => ({
    symbol,
    orderId: o.id,
    clientOrderId: o.clientOrderId,
    side: o.side,
    unfilledQty: unfilledQty(o, price) ?? ZERO,
    reason: "opposite_side" as const,
  }));
}

function hasNotional(...sides: (OpenSide | undefined)[]): boolean {
  return sides.some((s) => s?.orders.some((o) => o.qty === undefined) ?? false);
}

/** Sorts legs by estimated notional, largest first, then by symbol; number keys first, exact ties after. */
function sortByNotionalDesc(legs: RebalanceLeg[]): void {
  const keyed = legs.map((leg) => ({ leg, key: leg.estimatedNotional.toNumber() }));
  keyed.sort(
    (a, b) =>
      b.key - a.key ||
      b.leg.estimatedNotional.cmp(a.leg.estimatedNotional) ||
      compareStrings(a.leg.symbol, b.leg.symbol),
  );
  for (let i = 0; i < keyed.length; i++) legs[i] = keyed[i]!.leg;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A buy the planner wants, in whole units (increments of shares, or cents for a notional buy). */
interface BuyCandidate {
  symbol: string;
  price: Decimal;
  /** The share increment (qty buys). */
  increment: Decimal;
  /** Whether the buy is a notional order (units are cents). */
  notional: boolean;
  /** Dollars per unit at the reference price. */
  unitValue: Decimal;
  /** Cash counted per unit (unitValue × (1 + marketBuyBuffer) for a quantity market buy). */
  unitCost: Decimal;
  /** Cash counted per dollar bought: 1, or 1 + marketBuyBuffer. */
  costFactor: Decimal;
  /** Units that reach the target. */
  needUnits: Decimal;
  /** Units of the smallest allowed leg. */
  minUnits: Decimal;
  heldQty: Decimal;
  projectedQty: Decimal;
  targetQty: Decimal;
  reason: LegReason;
  /** The symbol's open sells: conflicts to cancel once the buy is kept. */
  opposite: OpenSide | undefined;
}

/**
 * Sizes buys to fit the cash: all of them when they fit; otherwise water filling (the most
 * underweight in dollars first, every buy brought down to a common remaining shortfall),
 * floored to whole units, then the cash left handed out unit by unit, largest shortfall first.
 *
 * @param candidates - the buys wanted, each at least its minimum
 * @param cash - the cash buys may use, at least zero
 * @returns units per candidate (zero or absent: no leg); Σ units × unitCost ≤ cash
 */
function allocateBuys(candidates: readonly BuyCandidate[], cash: Decimal): Map<BuyCandidate, Decimal> {
  const result = new Map<BuyCandidate, Decimal>();
  if (candidates.length === 0) return result;
  let total = ZERO;
  for (const c of candidates) total = total.plus(c.needUnits.times(c.unitCost));
  if (total.lte(cash)) {
    for (const c of candidates) result.set(c, c.needUnits);
    return result;
  }

  // Water level L: Σ factor_i · max(0, D_i − L) = cash, where D_i is the shortfall in dollars
  // and factor_i the cash counted per dollar bought.
  const items = candidates.map((c) => {
    const deficit = c.needUnits.times(c.unitValue);
    return { c, deficit, key: deficit.toNumber(), factor: c.costFactor };
  });
  items.sort(
    (a, b) =>
      b.key - a.key ||
      b.deficit.cmp(a.deficit) ||
      (a.c.symbol < b.c.symbol ? -1 : a.c.symbol > b.c.symbol ? 1 : 0),
  );
  let sumFD = ZERO;
  let sumF = ZERO;
  let level = ZERO;
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    sumFD = sumFD.plus(it.factor === ONE ? it.deficit : it.factor.times(it.deficit));
    sumF = sumF.plus(it.factor);
    const next = items[k + 1];
    // The level with the first k + 1 buys active, L = (ΣfD − cash) / Σf, is valid once it
    // reaches the next shortfall; compared without dividing.
    if (next === undefined || sumFD.minus(cash).gte(next.deficit.times(sumF))) {
      const candidate = sumFD.minus(cash).div(sumF);
      level = candidate.isNegative() ? ZERO : candidate;
      break;
    }
  }

  let left = cash;
  for (const it of items) {
    const c = it.c;
    let units = ZERO;
    if (it.deficit.gt(level)) {
      const over = it.deficit.minus(level);
      const fit = (c.notional ? over.times(HUNDRED) : over.div(c.unitValue)).floor();
      units = fit.lt(c.needUnits) ? fit : c.needUnits;
      if (units.lt(c.minUnits)) units = ZERO;
    }
    result.set(c, units);
    left = left.minus(units.times(c.unitCost));
  }
  // The level is a rounded quotient: give back single units until the total fits.
  while (left.isNegative()) {
    let largest: BuyCandidate | undefined;
    for (const it of items) {
      const u = result.get(it.c) ?? ZERO;
      if (
        isPositive(u) &&
        (largest === undefined || u.times(it.c.unitCost).gt(largestCost(result, largest)))
      ) {
        largest = it.c;
      }
    }
    if (largest === undefined) break;
    const u = (result.get(largest) ?? ZERO).minus(1);
    const dropped = u.lt(largest.minUnits) ? u.plus(1) : new Decimal(1);
    result.set(largest, u.lt(largest.minUnits) ? ZERO : u);
    left = left.plus(dropped.times(largest.unitCost));
  }

  // Hand out what flooring left, largest remaining shortfall first.
  const rest = [];
  for (const it of items) {
    const short = it.deficit.minus((result.get(it.c) ?? ZERO).times(it.c.unitValue));
    if (isPositive(short)) rest.push({ it, short, key: short.toNumber() });
  }
  rest.sort(
    (a, b) =>
      b.key - a.key ||
      b.short.cmp(a.short) ||
      (a.it.c.symbol < b.it.c.symbol ? -1 : a.it.c.symbol > b.it.c.symbol ? 1 : 0),
  );
  for (const { it } of rest) {
    const c = it.c;
    if (left.lt(c.unitCost)) continue;
    const have = result.get(c) ?? ZERO;
    const affordable = (c.notional ? left.times(HUNDRED) : left.div(c.unitCost)).floor();
    const room = c.needUnits.minus(have);
    let add = affordable.lt(room) ? affordable : room;
    if (have.isZero() && add.lt(c.minUnits)) add = ZERO;
    if (!isPositive(add)) continue;
    result.set(c, have.plus(add));
    left = left.minus(add.times(c.unitCost));
  }
  return result;
}

function largestCost(result: Map<BuyCandidate, Decimal>, c: BuyCandidate): Decimal {
  return (result.get(c) ?? ZERO).times(c.unitCost);
}

/**
 * Whether a finite decimal is above zero; `d.gt(0)` without building a decimal from the 0.
 *
 * @param d - a finite decimal
 * @returns true when d > 0
 */
function isPositive(d: Decimal): boolean {
  return !d.isZero() && !d.isNegative();
}
