import type { RebalancePlan } from "../rebalance/rebalance-plan.js";

/** A plan as the `--json` output of `plan` and `rebalance` gives it (decimals as strings). */
export interface PlanOutput {
  legs: {
    symbol: string;
    side: "buy" | "sell";
    action: string;
    qty: string | null;
    notional: string | null;
    closePosition: boolean;
    price: string;
    estimatedNotional: string;
    reason: string;
    shrunk: boolean;
  }[];
  skipped: { symbol: string; reason: string; detail: string }[];
  conflicts: { symbol: string; orderId: string; side: "buy" | "sell"; unfilledQty: string }[];
  summary: {
    turnover: string;
    naiveTurnover: string;
    savedTurnover: string;
    orderCount: number;
    naiveOrderCount: number;
    cash: string;
    availableForBuys: string;
  };
}

/**
 * A plan as plain JSON.
 *
 * @param plan - the plan
 * @returns decimals as strings
 */
export function planOutput(plan: RebalancePlan): PlanOutput {
  const s = plan.summary;
  return {
    legs: plan.legs.map((l) => ({
      symbol: l.symbol,
      side: l.side,
      action: l.action,
      qty: l.qty?.toFixed() ?? null,
      notional: l.notional?.toFixed() ?? null,
      closePosition: l.closePosition,
      price: l.price.toFixed(),
      estimatedNotional: l.estimatedNotional.toFixed(),
      reason: l.reason,
      shrunk: l.shrunk,
    })),
    skipped: plan.skipped.map((k) => ({ symbol: k.symbol, reason: k.reason, detail: k.detail })),
    conflicts: plan.conflicts.map((c) => ({
      symbol: c.symbol,
      orderId: c.orderId,
      side: c.side,
      unfilledQty: c.unfilledQty.toFixed(),
    })),
    summary: {
      turnover: s.turnover.toFixed(),
      naiveTurnover: s.naiveTurnover.toFixed(),
      savedTurnover: s.naiveTurnover.minus(s.turnover).toFixed(),
      orderCount: s.orderCount,
      naiveOrderCount: s.naiveOrderCount,
      cash: s.budget.cash.toFixed(),
      availableForBuys: s.budget.available.toFixed(),
    },
  };
}
