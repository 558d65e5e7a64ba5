import type { RebalanceLeg, RebalancePlan } from "../rebalance/rebalance-plan.js";
import { formatMoney, formatPercent, formatQty } from "./money.js";
import { planHash } from "./plan-hash.js";
import { formatTable } from "./table.js";

/** What a leg asks for: shares, or dollars for a notional buy, or a full close. */
function legSize(leg: RebalanceLeg): { qty: string; notional: string } {
  if (leg.notional !== undefined) return { qty: "", notional: formatMoney(leg.notional) };
  const qty = leg.qty === undefined ? "" : formatQty(leg.qty);
  return { qty: leg.closePosition ? `${qty} (close)` : qty, notional: "" };
}

function legsTable(plan: RebalancePlan): string {
  const rows = plan.legs.map((l) => {
    const size = legSize(l);
    return [
      l.symbol,
      l.side,
      l.action,
      size.qty,
      size.notional,
      formatMoney(l.price),
      formatMoney(l.estimatedNotional),
      l.shrunk ? `${l.reason}, shrunk` : l.reason,
    ];
  });
  return formatTable(
    [
      { header: "symbol" },
      { header: "side" },
      { header: "action" },
      { header: "quantity", align: "right" },
      { header: "notional", align: "right" },
      { header: "price", align: "right" },
      { header: "est. value", align: "right" },
      { header: "reason" },
    ],
    rows,
  );
}

function skippedTable(plan: RebalancePlan): string {
  const rows = plan.skipped.map((s) => [
    s.symbol,
    s.reason,
    s.side ?? "",
    s.deltaQty === undefined ? "" : formatQty(s.deltaQty),
    s.detail,
  ]);
  return formatTable(
    [
      { header: "symbol" },
      { header: "reason" },
      { header: "side" },
      { header: "would trade", align: "right" },
      { header: "detail" },
    ],
    rows,
  );
}

function turnoverLines(plan: RebalancePlan): string[] {
  const s = plan.summary;
  const saved = s.naiveTurnover.minus(s.turnover);
  const share = s.naiveTurnover.isZero() ? "" : ` (${formatPercent(saved.div(s.naiveTurnover))})`;
  const b = s.budget;
  return [
    `turnover:            ${formatMoney(s.turnover)} in ${s.orderCount} order(s)`,
    `liquidate-and-rebuy: ${formatMoney(s.naiveTurnover)} in ${s.naiveOrderCount} order(s)`,
    `saved:               ${formatMoney(saved)}${share}`,
    `cash:                ${formatMoney(b.cash)}; for buys ${formatMoney(b.available)}, allocated ${formatMoney(b.allocated)}, left ${formatMoney(b.left)}`,
  ];
}

/**
 * Formats a plan for a person: the legs as a table (symbol, side, action, quantity or
 * notional, reference price, estimated value, reason), the skipped symbols with their reason,
 * the open orders to cancel first, the turnover beside liquidate-and-rebuy, the cash, and the
 * plan hash ({@link planHash}). Money is to the cent with thousands separators.
 *
 * @param plan - a plan from `calculateRebalanceOrders` or `SmartRebalancer.plan`
 * @returns the text, lines joined by `\n`
 * @example
 * ```ts
 * console.log(formatPlan(await rebalancer.plan({ weights: { SPY: 0.6, BIL: 0.4 } })));
 * ```
 */
export function formatPlan(plan: RebalancePlan): string {
  const s = plan.summary;
  const out = [`Plan ${planHash(plan)}: ${s.sellCount} sell(s), ${s.buyCount} buy(s)`, ""];
  out.push(plan.legs.length === 0 ? "No orders: the portfolio is on target." : legsTable(plan));
  if (plan.skipped.length > 0) out.push("", "Skipped:", skippedTable(plan));
  if (plan.conflicts.length > 0) {
    out.push("", "Open orders cancelled first:");
    for (const c of plan.conflicts)
      out.push(`  ${c.symbol} ${c.side} ${formatQty(c.unfilledQty)} unfilled (order ${c.orderId})`);
  }
  out.push("", ...turnoverLines(plan));
  return out.join("\n");
}
