import type { OrderSide, PositionSnapshot } from "../broker/broker-port.js";
import { type Decimal, ZERO } from "../core/decimal.js";
import type { OpenOrderBook, SymbolOpenOrders } from "./open-order-book.js";
import type { PlanScales } from "./plan-scales.js";
import type { TargetKind } from "./rebalance-input.js";
import type { ConflictReason } from "./rebalance-plan.js";

/** The targets of a plan: how they are given, and the value per symbol. */
export interface PlanTargets {
  readonly kind: TargetKind;
  readonly bySymbol: Readonly<Record<string, Decimal>>;
}

/**
 * Everything the plan knows and decides about one symbol. The plan holds one per symbol it
 * may touch (targeted, held or with open orders), sorted by symbol.
 */
export interface SymbolRecord {
  readonly symbol: string;
  readonly position: PositionSnapshot | undefined;
  /** Held shares as given (zero without a position). */
  readonly heldQty: Decimal;
  /** Held shares, scale Q. */
  readonly held: bigint;
  /** The reference price as given, if any. */
  readonly referencePrice: Decimal | undefined;
  /** The reference price, scale P. */
  readonly price: bigint | undefined;
  /** The symbol's open orders, if any. */
  readonly open: SymbolOpenOrders | undefined;
  /** The target as given; undefined when the symbol is not targeted. */
  readonly target: Decimal | undefined;
  /**
   * The target at its scale: a value (scale M) for weight and notional targets, shares
   * (scale Q) for quantity targets; zero when not targeted.
   */
  readonly targetScaled: bigint;
  /** Held shares plus every open buy, less every open sell (scale Q). */
  readonly projectedWithOpen: bigint;
  /** The side of the leg planned for it, once there is one (its open orders on the other side are cancelled). */
  legSide: OrderSide | undefined;
  /**
   * Whether ordersafe's own open orders of each side are cancelled (past the target, or
   * against it), and why; set when the symbol's move is decided.
   */
  cancelOwn: { buy: ConflictReason | undefined; sell: ConflictReason | undefined } | undefined;
  /** Shares after the plan: held, kept open orders and the leg (scale Q). */
  projected: bigint;
  /** The same as a decimal, while one is at hand without building it. */
  projectedQty: Decimal | undefined;
}

/**
 * One record per symbol the plan may touch: the targeted ones, the held ones (non-zero) and
 * those with open orders, sorted by symbol.
 *
 * @param positions - the positions
 * @param prices - reference prices by symbol
 * @param targets - the targets
 * @param book - the open orders by symbol
 * @param scales - the plan's scales
 * @param equityM - equity at scale M − F (a weight times it is a value at scale M)
 * @returns the records, sorted by symbol
 * @throws ScaleTooSmall when a value does not fit its scale
 * @example
 * ```ts
 * const records = buildSymbolRecords(input.positions, input.prices, targets, book, scales, equityM);
 * records.map((r) => r.symbol); // sorted
 * ```
 */
export function buildSymbolRecords(
  positions: readonly PositionSnapshot[],
  prices: Readonly<Record<string, Decimal>>,
  targets: PlanTargets,
  book: OpenOrderBook,
  scales: PlanScales,
  equityM: bigint,
): SymbolRecord[] {
  const bySymbol = new Map<string, PositionSnapshot>();
  const universe = new Set<string>(Object.keys(targets.bySymbol));
  for (const p of positions) {
    bySymbol.set(p.symbol, p);
    if (!p.qty.isZero()) universe.add(p.symbol);
  }
  for (const symbol of book.keys()) universe.add(symbol);
  // The default order of an array of strings is code-unit order, that of compareStrings,
  // without a call per comparison.
  const symbols = [...universe].sort();
  const records: SymbolRecord[] = new Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    const symbol = symbols[i]!;
    const position = bySymbol.get(symbol);
    const heldQty = position?.qty ?? ZERO;
    const held = position === undefined ? 0n : scales.toQ(heldQty);
    const referencePrice = prices[symbol];
    const open = book.get(symbol);
    const projectedWithOpen =
      open === undefined ? held : held + (open.buy?.qty ?? 0n) - (open.sell?.qty ?? 0n);
    const target = targets.bySymbol[symbol];
    records[i] = {
      symbol,
      position,
      heldQty,
      held,
      referencePrice,
      price: referencePrice === undefined ? undefined : scales.toP(referencePrice),
      open,
      target,
      targetScaled: target === undefined ? 0n : scaleTarget(target, targets.kind, scales, equityM),
      projectedWithOpen,
      legSide: undefined,
      cancelOwn: undefined,
      // Unless a leg says otherwise, every open order is expected to fill.
      projected: projectedWithOpen,
      projectedQty: projectedWithOpen === held ? heldQty : undefined,
    };
  }
  return records;
}

function scaleTarget(target: Decimal, kind: TargetKind, scales: PlanScales, equityM: bigint): bigint {
  if (kind === "weights") return scales.toF(target) * equityM;
  if (kind === "notionals") return scales.toM(target);
  return scales.toQ(target);
}

/**
 * Strings in code-unit order (as `<` compares them), the order of symbols in a plan.
 *
 * @param a - a string
 * @param b - a string
 * @returns negative, zero or positive
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
