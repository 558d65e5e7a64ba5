import type { OrderSide } from "../broker/broker-port.js";
import { type Decimal, ONE, ZERO } from "../core/decimal.js";
import { allocateBuys } from "./allocate-buys.js";
import {
  buildOpenOrderBook,
  conflictsOf,
  hasNotionalOrder,
  liveOrders,
  type OpenSide,
  widenForOrders,
} from "./open-order-book.js";
import { parseRebalanceInput } from "./parse-rebalance-input.js";
import { COMMON_SCALE_DIGITS, createPlanScales, MINIMAL_SCALE_DIGITS, ScaleWidener } from "./plan-scales.js";
import type { RebalanceInput, RebalanceInputInput } from "./rebalance-input.js";
import type {
  LegReason,
  OrderConflict,
  RebalanceLeg,
  RebalancePlan,
  SkippedSymbol,
  SkipReason,
} from "./rebalance-plan.js";
import {
  ceilDiv,
  decimalsOf,
  floorSteps,
  fromScaled,
  fromScaledSignificant,
  maxBig,
  roundHalfUpDiv,
  ScaleTooSmall,
  toScaled,
} from "./scaled.js";
import { sizeSell } from "./size-sell.js";

/** A buy the planner wants, in whole units (increments of shares, or cents for a notional buy). */
interface BuyCandidate {
  /** Index of the symbol in the planner's table. */
  index: number;
  symbol: string;
  /** Whether the buy is a notional order (units are cents). */
  notional: boolean;
  /** Dollars per unit at the reference price (scale M). */
  unitValue: bigint;
  /** Cash counted per unit, scale C: unitValue × (1 + marketBuyBuffer) for a quantity market buy. */
  unitCost: bigint;
  /** Cash counted per dollar bought, scale F: 1, or 1 + marketBuyBuffer. */
  costFactor: bigint;
  /** Units that reach the target. */
  needUnits: bigint;
  /** Units of the smallest allowed leg. */
  minUnits: bigint;
  /** Projected shares (held + kept open buys) and the target, scale Q. */
  projected: bigint;
  target: bigint;
  reason: LegReason;
  /** The symbol's open sells: conflicts to cancel once the buy is kept. */
  opposite: OpenSide | undefined;
  /** The share increment (scale Q). */
  increment: bigint;
  /** The target as a decimal, for the leg. */
  targetQty: Decimal;
}

interface Rules {
  tradable: boolean;
  fractionable: boolean;
  qtyIncrement: Decimal;
  minNotional?: Decimal | undefined;
}

/**
 * Turns positions and targets into the minimal orders: per symbol at most one leg of size
 * |target − projected|, rounded to the asset's increment toward the safe side.
 *
 * @param input - positions, open orders, targets, prices, asset rules, account, capabilities
 *   and options (see {@link RebalanceInputSchema} and `docs/rebalancing.md`)
 * @returns the plan: `legs` (sells, then buys), `skipped` with reasons, `conflicts` to cancel
 *   first, and a `summary` against the liquidate-and-rebuy alternative
 * @throws ValidationError (`validation`) naming the path of bad input (negative or NaN
 *   weights, weights summing above 1, a symbol listed twice, a price ≤ 0, an unknown option);
 *   nothing is planned then
 * @example
 * ```ts
 * const plan = calculateRebalanceOrders({
 *   positions: [{ symbol: "FNGU", qty: "1591.166892", qtyAvailable: "1591.166892" }],
 *   targets: { weights: { FNGU: 0.5, TECL: 0.45 } },
 *   prices: { FNGU: "69.15", TECL: "87.66" },
 *   assets: [
 *     { symbol: "FNGU", tradable: true, fractionable: true, qtyIncrement: "0.000000001" },
 *     { symbol: "TECL", tradable: true, fractionable: true, qtyIncrement: "0.000000001" },
 *   ],
 *   account: { equity: "113461.81", cash: "3432.62" },
 * });
 * plan.sells; // [{ symbol: "FNGU", side: "sell", action: "trim", qty: 770.763348977, … }]
 * plan.buys; // [{ symbol: "TECL", side: "buy", action: "enter", notional: 51057.81, … }]
 * ```
 * @remarks
 * Pure: no clock, no I/O; the same input gives the same plan. Invariants: no symbol is both
 * bought and sold; a sell never exceeds `qtyAvailable`; buys fit `budget.available`; every
 * leg is at least the minimum notional (except a `closePosition` exit of dust); projected =
 * held + unfilled same-side open orders, so planning again never orders twice. A symbol that
 * must trade without a price is skipped (`no_price`), never guessed.
 */
export function calculateRebalanceOrders(input: RebalanceInputInput): RebalancePlan {
  return planRebalance(parseRebalanceInput(input));
}

/**
 * The planning step of {@link calculateRebalanceOrders} on an input already parsed by
 * {@link RebalanceInputSchema}. Internal: not exported by the package (the benchmark uses it
 * to time planning apart from validation).
 *
 * @param input - a parsed input
 * @returns the plan
 */
export function planRebalance(input: RebalanceInput): RebalancePlan {
  // Common scales first (no pass over the input to find them); a value that does not fit
  // throws, and the plan is made again at scales read from the whole input.
  try {
    return plan(input, true);
  } catch (e) {
    if (e instanceof ScaleTooSmall) return plan(input, false);
    throw e;
  }
}

function plan(input: RebalanceInput, common: boolean): RebalancePlan {
  const { options, capabilities, account } = input;
  const keep = new Set(options.keep);
  const wantSells = options.sides !== "buys";
  const wantBuys = options.sides !== "sells";
  const { prices } = input;
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

  // ---- scales: every value of the input fits its scale exactly ------------------------------
  // Common scales, widened for the open orders; unless `common`, widened for every value.
  const widener = new ScaleWidener(common ? COMMON_SCALE_DIGITS : MINIMAL_SCALE_DIGITS);
  const live = liveOrders(input.openOrders, prices);
  widenForOrders(widener, live);
  if (!common) {
    for (const pos of input.positions) {
      widener.shares(pos.qty);
      widener.shares(pos.qtyAvailable);
    }
    for (const symbol of Object.keys(targetMap)) {
      const t = targetMap[symbol]!;
      if (targetKind === "weights") widener.fraction(t);
      else if (targetKind === "quantities") widener.shares(t);
      else widener.price(t);
    }
    for (const symbol of Object.keys(prices)) widener.price(prices[symbol]);
    for (const rule of rules.values()) {
      widener.increment(rule.qtyIncrement);
      widener.price(rule.minNotional);
    }
    widener.price(account.equity);
    widener.price(account.cash);
    widener.price(options.minOrderNotional);
    widener.price(options.noTradeBand.notional);
    widener.fraction(options.noTradeBand.weight);
    widener.fraction(options.cashBuffer);
    widener.fraction(options.fullExitTolerance);
    widener.fraction(options.marketBuyBuffer);
  }
  const scales = createPlanScales(widener.digits());
  const { q: sQ, m: sM, c: sC, oneF, centM, centC, nanoQ, mToC, fracMoneyToM, targetUnit } = scales;
  const { toQ, toP, toF, toM } = scales;

  const equityP = toP(account.equity);
  const equityM = equityP * fracMoneyToM; // a fraction times it is at scale M
  const tolerance = toF(options.fullExitTolerance);
  const bandWeightNotional = toF(options.noTradeBand.weight) * equityM;
  const bandNotional = toM(options.noTradeBand.notional);
  const minOrderNotional = toM(options.minOrderNotional);
  const buyFactor = oneF + toF(options.marketBuyBuffer);

  // ---- open orders ---------------------------------------------------------------------------
  const book = buildOpenOrderBook(live, scales, buyFactor);
  const holdsBySymbol = new Map<string, bigint>();
  for (const [symbol, open] of book) if (open.buy !== undefined) holdsBySymbol.set(symbol, open.buyHold);

  const universe = new Set<string>(Object.keys(targetMap));
  for (const pos of input.positions) if (!pos.qty.isZero()) universe.add(pos.symbol);
  for (const s of book.keys()) universe.add(s);
  const symbols = [...universe].sort(compareStrings);
  const count = symbols.length;

  const sells: KeyedLeg[] = [];
  const candidates: BuyCandidate[] = [];
  const skipped: SkippedSymbol[] = [];
  // Per symbol: projected shares (scale Q), and the same as a decimal when one is at hand.
  const heldDec: Decimal[] = new Array(count);
  const projQ: bigint[] = new Array(count);
  const projDec: (Decimal | undefined)[] = new Array(count);
  const priceP: (bigint | undefined)[] = new Array(count);
  let minimalTurnover = 0n;
  let sellProceeds = 0n;
  let naiveTurnover = 0n;
  let naiveOrderCount = 0;
  let keptOpenValue = 0n;
  // The minimum in cents of the last notional buy: the same for most symbols.
  let lastMinNotional = -1n;
  let lastMinCents = 1n;
  const skip = (symbol: string, reason: SkipReason, detail: string, side?: OrderSide, deltaQty?: bigint) => {
    const entry: SkippedSymbol = { symbol, reason, detail };
    if (side !== undefined) entry.side = side;
    if (deltaQty !== undefined) entry.deltaQty = fromScaled(deltaQty, sQ);
    skipped.push(entry);
  };

  for (let i = 0; i < count; i++) {
    const symbol = symbols[i]!;
    const position = positions.get(symbol);
    const heldD = position?.qty ?? ZERO;
    heldDec[i] = heldD;
    const held = position === undefined ? 0n : toQ(heldD);
    const priceD = prices[symbol];
    const price = priceD === undefined ? undefined : toP(priceD);
    priceP[i] = price;
    const open = book.get(symbol);
    const openBuy = open?.buy;
    const openSell = open?.sell;
    const openBuyQty = openBuy?.qty ?? 0n;
    const openSellQty = openSell?.qty ?? 0n;
    const anyOpen = openBuy !== undefined || openSell !== undefined;
    const allOpenProjected = anyOpen ? held + openBuyQty - openSellQty : held;
    // Unless a leg says otherwise, every open order is expected to fill.
    projQ[i] = allOpenProjected;
    projDec[i] = allOpenProjected === held ? heldD : undefined;
    if (price !== undefined && anyOpen) keptOpenValue += (openSellQty - openBuyQty) * price;

    const targetRaw = targetMap[symbol];
    const targeted = targetRaw !== undefined;
    if (price !== undefined && held > 0n) {
      naiveTurnover += held * price;
      naiveOrderCount++;
    }
    // The target's value (weights and notionals) at scale M.
    let targetValue = 0n;
    let targetRawQ = 0n;
    if (targeted) {
      if (targetKind === "weights") targetValue = toF(targetRaw) * equityM;
      else if (targetKind === "notionals") targetValue = toM(targetRaw);
      else targetRawQ = toQ(targetRaw);
      if (!targetRaw.isZero()) {
        naiveOrderCount++;
        if (targetKind !== "quantities") naiveTurnover += targetValue;
        else if (price !== undefined) naiveTurnover += targetRawQ * price;
      }
    }

    if (keep.has(symbol)) {
      skip(symbol, "kept", "listed in options.keep");
      continue;
    }
    if (!targeted && untargeted === "keep") {
      skip(symbol, "kept", "not in the targets and options.untargeted is keep");
      continue;
    }
    if (held < 0n) {
      skip(symbol, "short_position", "short positions are left alone");
      continue;
    }

    // The target in shares, when it can be known.
    let target: bigint | undefined;
    let targetD: Decimal | undefined;
    let reason: LegReason;
    if (!targeted) {
      target = 0n;
      targetD = ZERO;
      reason = "untargeted";
    } else if (targetRaw.isZero()) {
      target = 0n;
      targetD = ZERO;
      reason = "target_zero";
    } else {
      reason = "to_target";
      if (targetKind === "quantities") {
        target = targetRawQ;
        targetD = targetRaw;
      } else if (price !== undefined) {
        // value / price, rounded half up to 15 decimals (far below any increment's snap).
        target =
          targetUnit === 1n
            ? roundHalfUpDiv(targetValue, price)
            : roundHalfUpDiv(targetValue, price * targetUnit) * targetUnit;
      }
    }
    if (target === undefined || price === undefined || priceD === undefined) {
      const mustTrade = target === undefined || target !== allOpenProjected || hasNotionalOrder(open);
      if (mustTrade) skip(symbol, "no_price", "the symbol must trade but has no price");
      continue;
    }

    // Direction from what is held; orders on the other side are conflicts to cancel first.
    const direction = target > held ? 1 : target < held ? -1 : 0;
    let projected: bigint;
    if (direction > 0) projected = openBuy === undefined ? held : held + openBuyQty;
    else if (direction < 0) projected = openSell === undefined ? held : held - openSellQty;
    else projected = allOpenProjected;
    const delta = target - projected;
    const deltaNotional = (delta < 0n ? -delta : delta) * price;
    minimalTurnover += deltaNotional;
    if (delta === 0n) continue;
    if (direction === 0 || (delta < 0n ? -1 : 1) !== direction) {
      skip(
        symbol,
        "covered_by_open_orders",
        "open orders already reach or pass the target",
        delta < 0n ? "sell" : "buy",
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
    const increment = scales.orderIncrement(rule.qtyIncrement, fractional);
    const ruleMin = rule.minNotional === undefined ? 0n : toM(rule.minNotional);
    const minNotional = maxBig(ruleMin, minOrderNotional);

    const isExit = side === "sell" && target * oneF <= held * tolerance;
    if (!isExit && withinBand(deltaNotional, bandWeightNotional, bandNotional)) {
      skip(symbol, "within_band", "inside the no-trade band", side, delta);
      continue;
    }
    if (side === "sell" ? !wantSells : !wantBuys) {
      skip(symbol, "side_excluded", `options.sides is ${options.sides}`, side, delta);
      continue;
    }
    targetD ??= fromScaled(target, sQ);

    if (side === "sell") {
      const available = position === undefined ? 0n : toQ(position.qtyAvailable);
      const sell = sizeSell({
        price,
        held,
        available,
        projected,
        target,
        increment,
        minNotional,
        isExit,
        closePositionAllowed: capabilities.closePosition && openSell === undefined,
        nano: nanoQ,
      });
      if (sell.kind === "none") {
        skip(symbol, "below_minimum", sell.detail, side, delta);
        continue;
      }
      const action = sell.kind === "close" ? "exit" : sell.action;
      // The open buys it cancels hold no cash once cancelled.
      holdsBySymbol.delete(symbol);
      const notional = sell.qty * price;
      sellProceeds += notional;
      const exitReason: LegReason = isExit && reason === "to_target" ? "exit_tolerance" : reason;
      const qtyD = sell.qty === held ? heldD : fromScaled(sell.qty, sQ);
      sells.push({
        key: notional,
        conflicts: openBuy === undefined ? undefined : conflictsOf(symbol, openBuy, priceD),
        leg: {
          symbol,
          side: "sell",
          action,
          qty: qtyD,
          closePosition: sell.kind === "close",
          type: "market",
          timeInForce: "day",
          price: priceD,
          estimatedQty: qtyD,
          estimatedNotional: fromScaled(notional, sM),
          cashRequired: ZERO,
          reason: action === "exit" ? exitReason : "to_target",
          shrunk: false,
          heldQty: heldD,
          projectedQty: projected === held ? heldD : fromScaled(projected, sQ),
          targetQty: targetD,
        },
      });
      projQ[i] = projected - sell.qty;
      projDec[i] = undefined;
      // The open buys it cancels no longer cost cash.
      if (openBuy !== undefined) keptOpenValue += openBuy.qty * price;
      continue;
    }

    const notional = options.buyWith === "notional" && fractional && capabilities.notionalOrders;
    const unitValue = notional ? centM : increment * price;
    const needUnits = notional ? floorSteps(deltaNotional, centM) : floorSteps(delta, increment);
    let minUnits: bigint;
    if (notional && minNotional === lastMinNotional) minUnits = lastMinCents;
    else {
      minUnits = maxBig(1n, ceilDiv(minNotional, unitValue));
      if (notional) {
        lastMinNotional = minNotional;
        lastMinCents = minUnits;
      }
    }
    if (needUnits < minUnits) {
      skip(
        symbol,
        "below_minimum",
        needUnits === 0n ? "less than one increment" : "below the minimum order notional",
        side,
        delta,
      );
      continue;
    }
    candidates.push({
      index: i,
      symbol,
      notional,
      unitValue,
      unitCost: notional ? centC : unitValue * buyFactor,
      costFactor: notional ? oneF : buyFactor,
      needUnits,
      minUnits,
      projected,
      target,
      reason,
      opposite: openSell,
      increment,
      targetQty: targetD,
    });
  }

  // ---- cash and buys ---------------------------------------------------------------------------
  const buffer = toF(options.cashBuffer) * equityM;
  let openBuyHolds = 0n;
  for (const hold of holdsBySymbol.values()) openBuyHolds += hold;
  const holds = options.cashExcludesOpenBuys ? 0n : openBuyHolds;
  const cashM = toM(account.cash);
  const availableCash = maxBig(0n, (cashM + sellProceeds - buffer) * mToC - holds);
  const allocation = allocateBuys(candidates, availableCash);

  const buys: KeyedLeg[] = [];
  let allocated = 0n; // quantity buys, scale C
  let allocatedNotional = 0n; // notional buys, scale M
  let buyValue = 0n;
  for (let k = 0; k < candidates.length; k++) {
    const c = candidates[k]!;
    const units = allocation[k]!;
    if (units === 0n) {
      skip(c.symbol, "insufficient_cash", "the cash left cannot fund the minimum order", "buy");
      continue;
    }
    const i = c.index;
    const price = priceP[i]!;
    const priceD = prices[c.symbol]!;
    let qty: Decimal | undefined;
    let notional: Decimal | undefined;
    let estimatedQty: bigint;
    let estimatedNotional: bigint;
    let estimatedNotionalD: Decimal;
    let cashRequiredD: Decimal;
    if (c.notional) {
      estimatedNotional = units * centM;
      // notional / price in shares, rounded down to 9 decimals.
      estimatedQty = (estimatedNotional / (price * nanoQ)) * nanoQ;
      notional = fromScaled(estimatedNotional, sM);
      estimatedNotionalD = notional;
      cashRequiredD = notional;
      allocatedNotional += estimatedNotional;
    } else {
      estimatedQty = units * c.increment;
      estimatedNotional = estimatedQty * price;
      qty = fromScaled(estimatedQty, sQ);
      estimatedNotionalD = fromScaled(estimatedNotional, sM);
      const cashRequired = estimatedNotional * buyFactor;
      cashRequiredD = fromScaled(cashRequired, sC);
      allocated += cashRequired;
    }
    buyValue += estimatedNotional;
    const heldD = heldDec[i]!;
    const leg: RebalanceLeg = {
      symbol: c.symbol,
      side: "buy",
      action: c.projected > 0n ? "add" : "enter",
      closePosition: false,
      type: "market",
      timeInForce: "day",
      price: priceD,
      estimatedQty: qty ?? fromScaled(estimatedQty, sQ),
      estimatedNotional: estimatedNotionalD,
      cashRequired: cashRequiredD,
      reason: c.reason,
      shrunk: units < c.needUnits,
      heldQty: heldD,
      projectedQty:
        projDec[i] !== undefined && c.projected === projQ[i] ? projDec[i] : fromScaled(c.projected, sQ),
      targetQty: c.targetQty,
    };
    if (qty !== undefined) leg.qty = qty;
    if (notional !== undefined) leg.notional = notional;
    const conflicts = c.opposite === undefined ? undefined : conflictsOf(c.symbol, c.opposite, priceD);
    buys.push({ key: estimatedNotional, leg, conflicts });
    projQ[i] = c.projected + estimatedQty;
    projDec[i] = undefined;
    // The open sells it cancels no longer bring cash.
    if (c.opposite !== undefined) keptOpenValue -= c.opposite.qty * price;
  }

  allocated += allocatedNotional * mToC;
  const conflicts: OrderConflict[] = [];
  const sellLegs = sortByNotionalDesc(sells, conflicts);
  const buyLegs = sortByNotionalDesc(buys, conflicts);
  skipped.sort((a, b) => compareStrings(a.symbol, b.symbol));

  // ---- projection --------------------------------------------------------------------------------
  let openValue = keptOpenValue;
  if (options.cashExcludesOpenBuys) {
    for (const [symbol, open] of book) {
      const priceD = prices[symbol];
      if (open.buy !== undefined && priceD !== undefined) openValue += open.buy.qty * toP(priceD);
    }
  }
  const projectedCash = cashM + sellProceeds - buyValue + openValue;
  let projectedEquity = projectedCash;
  const values: (bigint | undefined)[] = new Array(count);
  const projectedQuantities: Record<string, Decimal> = {};
  for (let i = 0; i < count; i++) {
    const qtyQ = projQ[i]!;
    projectedQuantities[symbols[i]!] = projDec[i] ?? fromScaled(qtyQ, sQ);
    const price = priceP[i];
    if (price === undefined) continue;
    const value = qtyQ * price;
    values[i] = value;
    projectedEquity += value;
  }
  const projectedEquityD = fromScaled(projectedEquity, sM);
  const projectedWeights: Record<string, Decimal> = {};
  // 20 significant digits of 1 / equity are plenty for a reported weight; each weight is the
  // exact product rounded to 40 significant digits.
  const inverse = projectedEquity > 0n ? ONE.div(projectedEquityD).toSignificantDigits(20) : ZERO;
  const inverseScale = decimalsOf(inverse);
  const inverseI = toScaled(inverse, inverseScale);
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (value !== undefined) {
      projectedWeights[symbols[i]!] =
        value === 0n ? ZERO : fromScaledSignificant(value * inverseI, sM + inverseScale, 40);
    }
  }

  const turnover = sellProceeds + buyValue;
  const legs = sellLegs.concat(buyLegs);
  return {
    legs,
    sells: sellLegs,
    buys: buyLegs,
    skipped,
    conflicts,
    summary: {
      turnover: fromScaled(turnover, sM),
      minimalTurnover: fromScaled(minimalTurnover, sM),
      naiveTurnover: fromScaled(naiveTurnover, sM),
      orderCount: sellLegs.length + buyLegs.length,
      naiveOrderCount,
      sellCount: sellLegs.length,
      buyCount: buyLegs.length,
      budget: {
        cash: account.cash,
        sellProceeds: fromScaled(sellProceeds, sM),
        buffer: fromScaled(buffer, sM),
        openBuyHolds: fromScaled(holds, sC),
        available: fromScaled(availableCash, sC),
        allocated: fromScaled(allocated, sC),
        left: fromScaled(availableCash - allocated, sC),
      },
      projectedCash: fromScaled(projectedCash, sM),
      projectedEquity: projectedEquityD,
      projectedQuantities,
      projectedWeights,
    },
  };
}

interface KeyedLeg {
  /** The estimated notional, scale M. */
  key: bigint;
  leg: RebalanceLeg;
  /** The opposite-side open orders the leg cancels first. */
  conflicts: OrderConflict[] | undefined;
}

function rulesBySymbol(assets: RebalanceInput["assets"]): Map<string, Rules> {
  const map = new Map<string, Rules>();
  if (Array.isArray(assets)) for (const a of assets) map.set(a.symbol, a);
  else for (const [symbol, a] of Object.entries(assets)) map.set(symbol, a);
  return map;
}

function withinBand(deltaNotional: bigint, bandWeightNotional: bigint, bandNotional: bigint): boolean {
  if (bandNotional > 0n && deltaNotional <= bandNotional) return true;
  return bandWeightNotional > 0n && deltaNotional <= bandWeightNotional;
}

/** The legs by estimated notional, largest first, then by symbol; their conflicts appended in that order. */
function sortByNotionalDesc(keyed: KeyedLeg[], conflicts: OrderConflict[]): RebalanceLeg[] {
  keyed.sort((a, b) => (a.key > b.key ? -1 : a.key < b.key ? 1 : compareStrings(a.leg.symbol, b.leg.symbol)));
  const legs: RebalanceLeg[] = new Array(keyed.length);
  for (let i = 0; i < keyed.length; i++) {
    const k = keyed[i]!;
    legs[i] = k.leg;
    // In leg order: the conflicts of each leg, after those of the legs before it.
    if (k.conflicts !== undefined) for (const c of k.conflicts) conflicts.push(c);
  }
  return legs;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
