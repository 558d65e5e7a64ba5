import type { Decimal } from "../core/decimal.js";
import {
  allocateBuys,
  buysWithChoice,
  EXACT_CHOICE_LIMIT,
  refineRounding,
  type SellRounding,
} from "./allocate-buys.js";
import { type BuyDecision, decideSymbol, type SellDecision, type SkipDecision } from "./decide-symbol.js";
import { parseRebalanceInput } from "./parse-rebalance-input.js";
import { createPlanContext, type PlanContext } from "./plan-context.js";
import {
  type CashBudget,
  cashBudget,
  idleConflicts,
  type KeyedLeg,
  type PlacedBuys,
  placeBuys,
  sellLeg,
  sellOneMore,
  sellRounding,
  sortByNotionalDesc,
} from "./plan-legs.js";
import { keptOpenValue, naiveAlternative, openBuysValue, projectHoldings } from "./plan-projection.js";
import type { PlanScales } from "./plan-scales.js";
import type { RebalanceInput, RebalanceInputInput } from "./rebalance-input.js";
import type { OrderConflict, RebalanceBudget, RebalancePlan, SkippedSymbol } from "./rebalance-plan.js";
import { ScaleTooSmall } from "./scaled.js";
import { compareStrings } from "./symbol-record.js";

// The planner's flow: read the input into one record per symbol (plan-context.ts), decide
// each symbol (decide-symbol.ts: a sell sized, a buy wanted, or a skip with its reason),
// share the cash out among the buys (plan-legs.ts, allocate-buys.ts), then project the
// holdings and total the plan (plan-projection.ts). All of it on exact scaled integers
// (plan-scales.ts).

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
    return plan(createPlanContext(input, true));
  } catch (e) {
    if (e instanceof ScaleTooSmall) return plan(createPlanContext(input, false));
    throw e;
  }
}

/** What the per-symbol decisions add up to before the cash is shared out among the buys. */
interface Decided {
  readonly sells: KeyedLeg[];
  /** The decision of each sell, in the order of `sells`. */
  readonly sellDecisions: SellDecision[];
  readonly wanted: BuyDecision[];
  readonly skipped: SkippedSymbol[];
  /** Σ |target − projected| × price over the symbols that should trade and can be priced, scale M. */
  readonly minimalTurnover: bigint;
  /** Σ estimated notional of the sells, scale M. */
  sellProceeds: bigint;
}

/** A buy the cash left cannot fund at its minimum size. */
const UNFUNDED = {
  reason: "insufficient_cash",
  detail: "the cash left cannot fund the minimum order",
  side: "buy",
  delta: undefined,
} as const satisfies Pick<SkipDecision, "reason" | "detail" | "side" | "delta">;

function plan(ctx: PlanContext): RebalancePlan {
  const decided = decideSymbols(ctx);
  let budget = cashBudget(ctx, decided.sellProceeds);
  const units = roundBest(ctx, decided, budget.available);
  // A sell that rounded further to fund the buys brought more proceeds.
  if (units.resold) budget = cashBudget(ctx, decided.sellProceeds);
  const buys = placeBuys(decided.wanted, budget.available, ctx.scales, units.units);
  for (const symbol of buys.unfunded) decided.skipped.push(skippedSymbol(symbol, UNFUNDED, ctx.scales));
  return assemblePlan(ctx, decided, buys, budget);
}

/**
 * The buys' units: shared out by {@link allocateBuys}, then, for a few buys and sells with a
 * rounding choice, the exact best choice within the cash ({@link refineRounding}); a trim
 * chosen to sell one increment more is made again (its leg, the proceeds).
 */
function roundBest(
  ctx: PlanContext,
  decided: Decided,
  available: bigint,
): { units: bigint[]; resold: boolean } {
  const sizes = decided.wanted.map((w) => w.size);
  const units = allocateBuys(sizes, available);
  if (ctx.input.options.rounding !== "nearest") return { units, resold: false };
  // refineRounding tries every choice only for a few buys and sells with one; with no buy to
  // choose for, or more choices than that, it changes nothing, and the sells' choices are not
  // worked out past the limit.
  const buys = buysWithChoice(sizes, units);
  if (buys === 0) return { units, resold: false };
  const roundings: SellRounding[] = [];
  const which: number[] = [];
  const { sellDecisions } = decided;
  for (let i = 0; i < sellDecisions.length && buys + roundings.length <= EXACT_CHOICE_LIMIT; i++) {
    const r = sellRounding(sellDecisions[i]!, ctx.scales);
    if (r !== undefined) {
      roundings.push(r);
      which.push(i);
    }
  }
  if (buys + roundings.length > EXACT_CHOICE_LIMIT) return { units, resold: false };
  const more = refineRounding(sizes, units, available, roundings);
  for (const j of more) {
    const i = which[j]!;
    const before = decided.sells[i]!;
    const d = sellOneMore(decided.sellDecisions[i]!);
    decided.sellDecisions[i] = d;
    const after = sellLeg(d, ctx.scales);
    decided.sells[i] = after;
    decided.sellProceeds += after.key - before.key;
  }
  return { units, resold: more.length > 0 };
}

/** Decides every symbol: sells become legs, buys wait for the cash, skips are reported. */
function decideSymbols(ctx: PlanContext): Decided {
  const sells: KeyedLeg[] = [];
  const sellDecisions: SellDecision[] = [];
  const wanted: BuyDecision[] = [];
  const skipped: SkippedSymbol[] = [];
  let minimalTurnover = 0n;
  let sellProceeds = 0n;
  for (const record of ctx.records) {
    const decision = decideSymbol(record, ctx);
    minimalTurnover += decision.deltaNotional;
    switch (decision.kind) {
      case "skip":
        skipped.push(skippedSymbol(record.symbol, decision, ctx.scales));
        break;
      case "sell": {
        const sell = sellLeg(decision, ctx.scales);
        sellProceeds += sell.key;
        sells.push(sell);
        sellDecisions.push(decision);
        break;
      }
      case "buy":
        wanted.push(decision);
        break;
      case "none":
        break;
    }
  }
  return { sells, sellDecisions, wanted, skipped, minimalTurnover, sellProceeds };
}

function skippedSymbol(
  symbol: string,
  skip: Pick<SkipDecision, "reason" | "detail" | "side" | "delta">,
  scales: PlanScales,
): SkippedSymbol {
  const entry: SkippedSymbol = { symbol, reason: skip.reason, detail: skip.detail };
  if (skip.side !== undefined) entry.side = skip.side;
  if (skip.delta !== undefined) entry.deltaQty = scales.fromQ(skip.delta);
  return entry;
}

/** The legs in order, their conflicts, the skips by symbol, and the totals and projection. */
function assemblePlan(
  ctx: PlanContext,
  decided: Decided,
  buys: PlacedBuys,
  budget: CashBudget,
): RebalancePlan {
  const { scales, records, input } = ctx;
  const conflicts: OrderConflict[] = [];
  const sells = sortByNotionalDesc(decided.sells, conflicts);
  const buyLegs = sortByNotionalDesc(buys.legs, conflicts);
  for (const c of idleConflicts(records)) conflicts.push(c);
  const skipped = decided.skipped.sort((a, b) => compareStrings(a.symbol, b.symbol));
  let openValue = keptOpenValue(records);
  if (input.options.cashExcludesOpenBuys) openValue += openBuysValue(records);
  const projected = projectHoldings(
    records,
    budget.cash + budget.sellProceeds - buys.value + openValue,
    scales,
  );
  const naive = naiveAlternative(records, ctx.targets.kind);
  return {
    legs: sells.concat(buyLegs),
    sells,
    buys: buyLegs,
    skipped,
    conflicts,
    summary: {
      turnover: scales.fromM(budget.sellProceeds + buys.value),
      minimalTurnover: scales.fromM(decided.minimalTurnover),
      naiveTurnover: scales.fromM(naive.turnover),
      orderCount: sells.length + buyLegs.length,
      naiveOrderCount: naive.orderCount,
      sellCount: sells.length,
      buyCount: buyLegs.length,
      budget: budgetOf(input.account.cash, budget, buys.allocated, scales),
      projectedCash: projected.projectedCash,
      projectedEquity: projected.projectedEquity,
      projectedQuantities: projected.projectedQuantities,
      projectedWeights: projected.projectedWeights,
    },
  };
}

function budgetOf(cash: Decimal, budget: CashBudget, allocated: bigint, scales: PlanScales): RebalanceBudget {
  return {
    cash,
    sellProceeds: scales.fromM(budget.sellProceeds),
    buffer: scales.fromM(budget.buffer),
    openBuyHolds: scales.fromC(budget.holds),
    available: scales.fromC(budget.available),
    allocated: scales.fromC(allocated),
    left: scales.fromC(budget.available - allocated),
  };
}
