import type { OrderOutcome } from "../execution/order-outcome.js";
import type { RebalanceReport } from "../execution/rebalance-report.js";
import type { PositionDrift } from "../reconcile/detect-position-drift.js";
import { formatMoney, formatPercent, formatQty } from "./money.js";
import { formatTable } from "./table.js";

function ordersTable(orders: readonly OrderOutcome[]): string {
  const rows = orders.map((o) => [
    o.symbol,
    o.side,
    o.requestedNotional !== undefined
      ? formatMoney(o.requestedNotional)
      : o.requestedQty === undefined
        ? ""
        : formatQty(o.requestedQty),
    formatQty(o.filledQty),
    o.avgPrice === undefined ? "" : formatMoney(o.avgPrice),
    formatMoney(o.filledNotional),
    o.adopted ? `${o.state} (adopted)` : o.state,
    String(o.attempts),
    o.errorCode === undefined ? "" : `${o.errorCode}: ${o.errorMessage ?? ""}`.trim(),
  ]);
  return formatTable(
    [
      { header: "symbol" },
      { header: "side" },
      { header: "requested", align: "right" },
      { header: "filled", align: "right" },
      { header: "avg price", align: "right" },
      { header: "value", align: "right" },
      { header: "state" },
      { header: "attempts", align: "right" },
      { header: "error" },
    ],
    rows,
  );
}

/**
 * Formats drifts as a table: symbol, book and broker quantities, difference, its value, class,
 * whether it is within tolerance, and why.
 *
 * @param drifts - drifts from a reconciliation
 * @returns the table (no final newline)
 * @example
 * ```ts
 * console.log(formatDrifts(report.drift));
 * ```
 */
export function formatDrifts(drifts: readonly PositionDrift[]): string {
  const rows = drifts.map((d) => [
    d.symbol,
    formatQty(d.expectedQty),
    formatQty(d.actualQty),
    formatQty(d.qtyDiff),
    d.notionalDiff === undefined ? "" : formatMoney(d.notionalDiff),
    d.class,
    d.withinTolerance ? "yes" : "no",
    d.reason,
  ]);
  return formatTable(
    [
      { header: "symbol" },
      { header: "book", align: "right" },
      { header: "broker", align: "right" },
      { header: "difference", align: "right" },
      { header: "value", align: "right" },
      { header: "class" },
      { header: "tolerated" },
      { header: "reason" },
    ],
    rows,
  );
}

function metricLines(report: RebalanceReport): string[] {
  const m = report.metrics;
  const share = m.naiveTurnover.isZero() ? "" : ` (${formatPercent(m.savedTurnover.div(m.naiveTurnover))})`;
  return [
    `turnover:            ${formatMoney(m.turnover)}`,
    `liquidate-and-rebuy: ${formatMoney(m.naiveTurnover)}`,
    `saved:               ${formatMoney(m.savedTurnover)}${share}`,
    `orders:              ${m.ordersSubmitted} sent, ${m.ordersFilled} filled, ${m.ordersAdopted} adopted, ${m.ordersUnresolved} unresolved; success ${formatPercent(m.successRate)}`,
    `buying-power refusals: ${m.buyingPowerRejections}; round trips: ${m.roundTrips}; REST calls: ${m.restCalls}; time: ${(m.durationMs / 1000).toFixed(2)} s`,
    ...executionLines(report),
  ];
}

/** The execution policies' legs: each one's arrival mid, slippage and steps, and the run's total. */
function executionLines(report: RebalanceReport): string[] {
  const e = report.execution;
  if (e === undefined) return [];
  const rows = report.orders.flatMap((o) =>
    o.execution === undefined
      ? []
      : [
          [
            o.symbol,
            o.side,
            o.execution.policy,
            o.execution.arrivalMid === undefined ? "no quote" : formatMoney(o.execution.arrivalMid),
            o.avgPrice === undefined ? "" : formatMoney(o.avgPrice),
            o.execution.arrivalMid === undefined ? "" : `${o.execution.slippageBps.toFixed(1)} bps`,
            o.execution.arrivalMid === undefined ? "" : formatMoney(o.execution.slippageDollars),
            String(o.execution.steps),
          ],
        ],
  );
  const unknown = e.withoutArrivalMid > 0 ? `; ${e.withoutArrivalMid} without an arrival quote` : "";
  return [
    "",
    "Execution (slippage against the arrival mid; positive: it cost):",
    formatTable(
      [
        { header: "symbol" },
        { header: "side" },
        { header: "policy" },
        { header: "arrival mid", align: "right" },
        { header: "avg price", align: "right" },
        { header: "slippage", align: "right" },
        { header: "dollars", align: "right" },
        { header: "steps", align: "right" },
      ],
      rows,
    ),
    `execution: ${e.legs} legs, ${e.steps} orders, slippage ${formatMoney(e.slippageDollars)} (${e.slippageBps.toFixed(1)} bps of ${formatMoney(e.filledNotional)})${unknown}`,
  ];
}

/**
 * Formats a rebalance report for a person: the status line, every order's outcome as a table
 * (requested, filled, average price, value, final state, attempts, error), the adjustments,
 * the drift and corrections, and the metrics (turnover beside liquidate-and-rebuy, orders,
 * success rate, REST calls, time). Money is to the cent with thousands separators.
 *
 * @param report - a report from `SmartRebalancer.rebalance`
 * @returns the text, lines joined by `\n`
 * @example
 * ```ts
 * console.log(formatReport(await rebalancer.rebalance({ weights: { SPY: 1 } })));
 * ```
 */
export function formatReport(report: RebalanceReport): string {
  const out = [
    `Rebalance ${report.runId}: ${report.status}${report.dryRun ? " (dry run, nothing sent)" : ""}`,
  ];
  if (report.error !== undefined) out.push(`error: ${report.error.code}: ${report.error.message}`);
  out.push("", report.orders.length === 0 ? "No orders." : ordersTable(report.orders));
  if (report.working.length > 0) {
    out.push("", "Still working:");
    for (const w of report.working)
      out.push(`  ${w.symbol} ${w.side} ${w.clientOrderId} ${w.status}, filled ${formatQty(w.filledQty)}`);
  }
  if (report.adjustments.length > 0) {
    out.push("", "Adjustments:");
    out.push(
      formatTable(
        [{ header: "symbol" }, { header: "side" }, { header: "reason" }, { header: "detail" }],
        report.adjustments.map((a) => [a.symbol, a.side ?? "", a.reason, a.detail]),
      ),
    );
  }
  const drift = report.drift.filter((d) => !d.withinTolerance);
  if (drift.length > 0) out.push("", "Drift above tolerance:", formatDrifts(drift));
  if (report.corrections !== undefined && report.corrections.actions.length > 0) {
    out.push("", "Corrections:");
    for (const a of report.corrections.actions)
      out.push(`  ${a.symbol} ${a.kind} ${formatQty(a.fromQty)} -> ${formatQty(a.toQty)}: ${a.status}`);
  }
  out.push("", ...metricLines(report));
  return out.join("\n");
}
