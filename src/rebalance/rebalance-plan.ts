import type { OrderSide } from "../broker/broker-port.js";
import type { Decimal } from "../core/decimal.js";

/**
 * What a leg can do to a position: open it (`enter`), grow it (`add`), shrink it (`trim`), or
 * close it (`exit`).
 *
 * @example
 * ```ts
 * LEG_ACTIONS.includes(leg.action); // true
 * ```
 */
export const LEG_ACTIONS = ["enter", "add", "trim", "exit"] as const;
/** What a leg does to a position: one of {@link LEG_ACTIONS}. */
export type LegAction = (typeof LEG_ACTIONS)[number];

/**
 * Why a leg can exist: `to_target` (toward its target), `target_zero` (the target is zero),
 * `untargeted` (held but absent from the targets, liquidated), `exit_tolerance` (a sell
 * within `fullExitTolerance` of the position, turned into a full exit), `exit_remainder` (a
 * sell whose remainder could not be sold on its own, under the minimum order or one
 * increment, turned into a full exit).
 *
 * @example
 * ```ts
 * for (const reason of LEG_REASONS) console.log(reason, plan.legs.filter((l) => l.reason === reason).length);
 * ```
 */
export const LEG_REASONS = [
  "to_target",
  "target_zero",
  "untargeted",
  "exit_tolerance",
  "exit_remainder",
] as const;
/** Why a leg exists: one of {@link LEG_REASONS}. */
export type LegReason = (typeof LEG_REASONS)[number];

/**
 * One order the plan recommends: a {@link QuantityLeg} (shares) or a {@link NotionalLeg}
 * (dollars, a notional buy). Exactly one of `qty` and `notional` is set, so checking one
 * narrows the other.
 *
 * @example
 * ```ts
 * const size = leg.qty !== undefined ? `${leg.qty} sh` : `$${leg.notional}`; // notional: Decimal here
 * ```
 */
export type RebalanceLeg = QuantityLeg | NotionalLeg;

/** A leg sized in shares. */
export interface QuantityLeg extends RebalanceLegFields {
  /** Shares, on the asset's increment and at most 9 decimals. */
  qty: Decimal;
  /** Absent: the leg is sized in shares. */
  notional?: undefined;
}

/** A notional buy: a leg sized in dollars. */
export interface NotionalLeg extends RebalanceLegFields {
  /** Absent: the leg is sized in dollars. */
  qty?: undefined;
  /** Dollars (cents). */
  notional: Decimal;
}

/** What every {@link RebalanceLeg} has, whichever way it is sized. */
export interface RebalanceLegFields {
  /** The symbol. */
  symbol: string;
  /** Buy or sell. */
  side: OrderSide;
  /** What the leg does to the position. */
  action: LegAction;
  /**
   * Sell the whole position with the broker's `closePosition` (only for a full exit whose
   * quantity cannot be an order: dust under the minimum or off the increment). `qty` is then
   * the quantity expected to be sold.
   */
  closePosition: boolean;
  /** The recommended order type. */
  type: "market";
  /** The recommended time in force. */
  timeInForce: "day";
  /** The reference price used. */
  price: Decimal;
  /** Shares expected to trade (qty, or notional / price for a notional buy). */
  estimatedQty: Decimal;
  /** Dollars expected to trade at the reference price. */
  estimatedNotional: Decimal;
  /**
   * For a buy, the cash the plan counts for it: the notional, or qty × price × (1 +
   * `marketBuyBuffer`) for a quantity market buy. For a sell, zero.
   */
  cashRequired: Decimal;
  /** Why the leg exists. */
  reason: LegReason;
  /** Whether the buy was shrunk to fit the cash. */
  shrunk: boolean;
  /** Held shares before the plan. */
  heldQty: Decimal;
  /** Held shares plus the unfilled part of open orders kept (same side), before this leg. */
  projectedQty: Decimal;
  /** The target in shares. */
  targetQty: Decimal;
}

/**
 * Why a symbol can get no leg: `within_band` (inside the no-trade band), `below_minimum`
 * (under the minimum notional or one increment), `not_tradable`, `no_price` (must trade but
 * has no price: never guessed), `no_asset_rules`, `kept` (in `keep`, or untargeted with
 * `untargeted: "keep"`), `short_position` (shorts are left alone), `covered_by_open_orders`
 * (open orders already reach or pass the target), `insufficient_cash` (a buy the cash could
 * not fund at the minimum size), `side_excluded` (a leg of the side `sides` leaves out).
 *
 * @example
 * ```ts
 * const counts = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0]));
 * for (const s of plan.skipped) counts[s.reason]++;
 * ```
 */
export const SKIP_REASONS = [
  "within_band",
  "below_minimum",
  "not_tradable",
  "no_price",
  "no_asset_rules",
  "kept",
  "short_position",
  "covered_by_open_orders",
  "insufficient_cash",
  "side_excluded",
] as const;
/** Why a symbol got no leg: one of {@link SKIP_REASONS}. */
export type SkipReason = (typeof SKIP_REASONS)[number];

/** A symbol the plan leaves alone, and why. */
export interface SkippedSymbol {
  /** The symbol. */
  symbol: string;
  /** Why. */
  reason: SkipReason;
  /** The side it would have traded, when known. */
  side?: OrderSide;
  /** The shares it would have traded (target − projected), when known. */
  deltaQty?: Decimal;
  /** Details for people. */
  detail: string;
}

/**
 * Why an open order must be cancelled (and the cancel confirmed) before its symbol trades:
 * `opposite_side` (any open order on the other side of a leg: the broker would refuse the leg
 * as a wash trade, and the leg is sized as if it will not fill), `past_target` (one of
 * ordersafe's own orders on the side of the move that would take the holding past the target
 * by at least one order: a later run would trade the excess back), `against_target` (one of
 * ordersafe's own orders moving away from the target on a symbol that gets no leg).
 *
 * @example
 * ```ts
 * plan.conflicts.filter((c) => c.reason === "past_target");
 * ```
 */
export const CONFLICT_REASONS = ["opposite_side", "past_target", "against_target"] as const;
/** One of {@link CONFLICT_REASONS}. */
export type ConflictReason = (typeof CONFLICT_REASONS)[number];

/**
 * An open order to cancel (and confirm cancelled) before trading its symbol: on the other side
 * of a leg, or one of ordersafe's own orders past the target or against it.
 */
export interface OrderConflict {
  /** The symbol. */
  symbol: string;
  /** The open order's broker id. */
  orderId: string;
  /** The open order's client id. */
  clientOrderId: string;
  /** The open order's side. */
  side: OrderSide;
  /** Its unfilled shares at the reference price. */
  unfilledQty: Decimal;
  /** Why it is cancelled. */
  reason: ConflictReason;
}

/** The cash side of the plan. */
export interface RebalanceBudget {
  /** `account.cash`. */
  cash: Decimal;
  /** Estimated proceeds of the planned sells (zero when `sides` is `buys`). */
  sellProceeds: Decimal;
  /** `cashBuffer` × equity. */
  buffer: Decimal;
  /**
   * What open buys hold, except those a planned sell cancels (zero when
   * `cashExcludesOpenBuys`): a notional buy its unfilled notional, a limit buy qty × limit,
   * a quantity market buy qty × price × (1 + `marketBuyBuffer`).
   */
  openBuyHolds: Decimal;
  /** What buys may use: max(0, cash + sellProceeds − buffer − openBuyHolds). */
  available: Decimal;
  /** The cash the planned buys count (Σ `cashRequired`), never above `available`. */
  allocated: Decimal;
  /** `available − allocated`. */
  left: Decimal;
}

/** Totals of a plan, against the liquidate-and-rebuy alternative. */
export interface RebalanceSummary {
  /** Σ estimated notional of the legs. */
  turnover: Decimal;
  /** Σ |target − projected| × price over the symbols that should trade and can be priced. */
  minimalTurnover: Decimal;
  /** Liquidating every priced holding and buying every target from scratch. */
  naiveTurnover: Decimal;
  /** Number of legs. */
  orderCount: number;
  /** Orders of the naive alternative: one sell per holding, one buy per non-zero target. */
  naiveOrderCount: number;
  /** Sells in the plan. */
  sellCount: number;
  /** Buys in the plan. */
  buyCount: number;
  /** The cash side. */
  budget: RebalanceBudget;
  /** Cash after every leg and open order fills at the reference prices (conflicts cancelled). */
  projectedCash: Decimal;
  /** Projected cash plus the projected holdings at the reference prices. */
  projectedEquity: Decimal;
  /** Shares per symbol after every leg and kept open order fills (priced or not). */
  projectedQuantities: Record<string, Decimal>;
  /** Weight per priced symbol after the plan (projected value / projected equity). */
  projectedWeights: Record<string, Decimal>;
}

/** The output of {@link calculateRebalanceOrders}. */
export interface RebalancePlan {
  /** Every leg: the sells, then the buys. */
  legs: RebalanceLeg[];
  /** The sells, largest estimated notional first. */
  sells: RebalanceLeg[];
  /** The buys, largest estimated notional first. */
  buys: RebalanceLeg[];
  /** Symbols left alone, with a reason each, sorted by symbol. */
  skipped: SkippedSymbol[];
  /** Open orders to cancel (and confirm cancelled) before trading their symbol. */
  conflicts: OrderConflict[];
  /** Totals. */
  summary: RebalanceSummary;
}
