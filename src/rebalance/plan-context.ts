import type { Decimal } from "../core/decimal.js";
import { buildOpenOrderBook, liveOrders, type OpenOrderBook, widenForOrders } from "./open-order-book.js";
import {
  COMMON_SCALE_DIGITS,
  createPlanScales,
  MINIMAL_SCALE_DIGITS,
  type PlanScales,
  ScaleWidener,
} from "./plan-scales.js";
import {
  REBALANCE_DEFAULTS,
  type RebalanceInput,
  type RebalanceTargets,
  type UntargetedMode,
} from "./rebalance-input.js";
import { buildSymbolRecords, type PlanTargets, type SymbolRecord } from "./symbol-record.js";

/** An asset's rules, as far as the plan reads them. */
export interface PlanAssetRules {
  readonly tradable: boolean;
  readonly fractionable: boolean;
  readonly qtyIncrement: Decimal;
  readonly minNotional?: Decimal | undefined;
}

/** The options of a plan as integers at the plan's scales. */
export interface PlanLimits {
  /** Equity at scale M − F: a fraction (scale F) times it is a value at scale M. */
  readonly equityM: bigint;
  /** `fullExitTolerance`, scale F. */
  readonly fullExitTolerance: bigint;
  /** `noTradeBand.weight` × equity, scale M. */
  readonly bandWeightNotional: bigint;
  /** `noTradeBand.notional`, scale M. */
  readonly bandNotional: bigint;
  /** `minOrderNotional`, scale M. */
  readonly minOrderNotional: bigint;
  /** 1 + `marketBuyBuffer`, scale F: cash counted per dollar of a quantity market buy. */
  readonly buyFactor: bigint;
  /** `cashBuffer` × equity, scale M. */
  readonly cashBuffer: bigint;
}

/** What every step of one plan reads: the input, its scales, its limits and the records. */
export interface PlanContext {
  readonly input: RebalanceInput;
  readonly scales: PlanScales;
  readonly limits: PlanLimits;
  readonly targets: PlanTargets;
  /** What happens to a held symbol absent from the targets. */
  readonly untargeted: UntargetedMode;
  readonly keep: ReadonlySet<string>;
  readonly rules: ReadonlyMap<string, PlanAssetRules>;
  readonly book: OpenOrderBook;
  /** One per symbol, sorted by symbol. */
  readonly records: readonly SymbolRecord[];
  /** The minimum notional of a notional buy in cents (the same for most symbols: the last one is kept). */
  readonly minCents: { notional: bigint; cents: bigint };
  /** The last few asset rules read at the plan's scales (most assets share them: see `ruleLimits`). */
  readonly recentRules: RuleLimits[];
}

/** An asset's rules at the plan's scales, and the values they were read from. */
export interface RuleLimits {
  readonly qtyIncrement: Decimal;
  readonly fractional: boolean;
  readonly minNotional: Decimal | undefined;
  /** The order increment, scale Q. */
  readonly increment: bigint;
  /** The asset's own minimum notional (zero without one), scale M. */
  readonly ruleMin: bigint;
}

/**
 * Reads a parsed input into the context of one plan: the open orders, the scales that fit
 * them (and, unless `common`, every value of the input), the limits and one record per
 * symbol.
 *
 * @param input - a parsed input
 * @param common - start from the common scales without reading the whole input (a value that
 *   does not fit then throws, and the caller plans again with `common` false)
 * @returns the context
 * @throws ScaleTooSmall when `common` and a value does not fit the common scales
 * @example
 * ```ts
 * const ctx = createPlanContext(parseRebalanceInput(raw), true);
 * ctx.records.length; // symbols the plan may touch
 * ```
 */
export function createPlanContext(input: RebalanceInput, common: boolean): PlanContext {
  const { options } = input;
  const targets = targetsOf(input.targets);
  const rules = rulesBySymbol(input.assets);
  const live = liveOrders(input.openOrders, input.prices);
  const widener = new ScaleWidener(common ? COMMON_SCALE_DIGITS : MINIMAL_SCALE_DIGITS);
  widenForOrders(widener, live);
  if (!common) widenForInput(widener, input, targets, rules);
  const scales = createPlanScales(widener.digits());
  const limits = limitsOf(input, scales);
  const book = buildOpenOrderBook(live, scales, limits.buyFactor);
  return {
    input,
    scales,
    limits,
    targets,
    untargeted: options.untargeted ?? REBALANCE_DEFAULTS.untargeted[targets.kind],
    keep: new Set(options.keep),
    rules,
    book,
    records: buildSymbolRecords(input.positions, input.prices, targets, book, scales, limits.equityM),
    minCents: { notional: -1n, cents: 1n },
    recentRules: [],
  };
}

function targetsOf(targets: RebalanceTargets): PlanTargets {
  const { weights, quantities, notionals } = targets;
  if (weights !== undefined) return { kind: "weights", bySymbol: weights };
  if (quantities !== undefined) return { kind: "quantities", bySymbol: quantities };
  return { kind: "notionals", bySymbol: notionals ?? {} };
}

function rulesBySymbol(assets: RebalanceInput["assets"]): Map<string, PlanAssetRules> {
  const map = new Map<string, PlanAssetRules>();
  if (Array.isArray(assets)) for (const a of assets) map.set(a.symbol, a);
  else for (const [symbol, a] of Object.entries(assets)) map.set(symbol, a);
  return map;
}

/** Widens the scales to fit every value of the input besides the open orders. */
function widenForInput(
  widener: ScaleWidener,
  input: RebalanceInput,
  targets: PlanTargets,
  rules: ReadonlyMap<string, PlanAssetRules>,
): void {
  const { account, options, prices } = input;
  for (const pos of input.positions) {
    widener.shares(pos.qty);
    widener.shares(pos.qtyAvailable);
  }
  for (const symbol of Object.keys(targets.bySymbol)) {
    const t = targets.bySymbol[symbol]!;
    if (targets.kind === "weights") widener.fraction(t);
    else if (targets.kind === "quantities") widener.shares(t);
    else widener.price(t);
  }
  for (const symbol of Object.keys(prices)) widener.price(prices[symbol]);
  for (const rule of rules.values()) {
    widener.increment(rule.qtyIncrement);
    widener.price(rule.minNotional);
  }
  widener.price(account.equity);
  widener.price(account.cash);
  if (account.buyingPower !== undefined) widener.price(account.buyingPower);
  widener.price(options.minOrderNotional);
  widener.price(options.noTradeBand.notional);
  widener.fraction(options.noTradeBand.weight);
  widener.fraction(options.cashBuffer);
  widener.fraction(options.fullExitTolerance);
  widener.fraction(options.marketBuyBuffer);
}

function limitsOf(input: RebalanceInput, scales: PlanScales): PlanLimits {
  const { options } = input;
  const { toF, toM } = scales;
  const equityM = scales.toP(input.account.equity) * scales.fracMoneyToM;
  return {
    equityM,
    fullExitTolerance: toF(options.fullExitTolerance),
    bandWeightNotional: toF(options.noTradeBand.weight) * equityM,
    bandNotional: toM(options.noTradeBand.notional),
    minOrderNotional: toM(options.minOrderNotional),
    buyFactor: scales.oneF + toF(options.marketBuyBuffer),
    cashBuffer: toF(options.cashBuffer) * equityM,
  };
}
