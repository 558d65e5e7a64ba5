import fc from "fast-check";
import {
  Decimal,
  formatMoney,
  formatPlan,
  formatQty,
  formatReport,
  formatTable,
  planHash,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

function setup() {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: "3432.62",
    positions: { FNGU: "1591.166892", OLD: 3 },
    prices: { FNGU: "33.05", TECL: "52.60", OLD: "1234.5", BIL: "91.5" },
    latency: { restMs: 10, fillMs: 20 },
  });
  const rebalancer = new SmartRebalancer({ broker, clock, planner: { keep: ["OLD"] } });
  return { clock, broker, rebalancer };
}

describe("formatMoney / formatQty", () => {
  it("rounds to the cent with thousands separators", () => {
    expect(formatMoney("1234567.891")).toBe("$1,234,567.89");
    expect(formatMoney("0.005")).toBe("$0.01");
    expect(formatMoney("-1234.5")).toBe("-$1,234.50");
    expect(formatMoney("-0.001")).toBe("$0.00");
    expect(formatMoney(999)).toBe("$999.00");
    expect(formatQty("1591.166892")).toBe("1,591.166892");
    expect(formatQty("1e-9")).toBe("0.000000001");
    expect(formatQty("-1000")).toBe("-1,000");
  });

  it("reads back to the amount rounded to the cent (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), fc.integer({ min: 0, max: 999 }), (whole, milli) => {
        const d = new Decimal(whole).plus(new Decimal(milli).div(1000).times(Math.sign(whole) || 1));
        const text = formatMoney(d);
        expect(text).toMatch(/^-?\$\d{1,3}(,\d{3})*\.\d{2}$/);
        const back = new Decimal(text.replace(/[$,]/g, ""));
        expect(back.minus(d).abs().lte("0.005")).toBe(true);
      }),
    );
  });
});

describe("formatTable", () => {
  it("aligns columns under a rule", () => {
    const t = formatTable(
      [{ header: "symbol" }, { header: "value", align: "right" }],
      [
        ["SPY", "$1,000.00"],
        ["BIL", "$5.00"],
      ],
    );
    expect(t.split("\n")).toEqual([
      "symbol      value",
      "------  ---------",
      "SPY     $1,000.00",
      "BIL         $5.00",
    ]);
  });
});

describe("formatPlan", () => {
  it("shows the legs, skipped symbols, turnover beside liquidate-and-rebuy and the hash", async () => {
    const { clock, rebalancer } = setup();
    const plan = await clock.run(rebalancer.plan({ weights: { FNGU: 0.5, TECL: 0.5 } }));
    const text = formatPlan(plan);
    const hash = planHash(plan);
    expect(hash).toMatch(/^[0-9a-f]{12}$/);
    expect(text.split("\n")[0]).toBe(`Plan ${hash}: 1 sell(s), 1 buy(s)`);
    const sell = text.split("\n").find((l) => l.startsWith("FNGU"));
    expect(sell).toMatch(/^FNGU\s+sell\s+trim\s+[\d,.]+\s+\$33\.05\s+\$[\d,]+\.\d\d\s+to_target$/);
    expect(text).toMatch(/^TECL\s+buy\s+enter\s/m);
    expect(text).toMatch(/^OLD\s+kept\s/m);
    expect(text).toContain(`liquidate-and-rebuy: ${formatMoney(plan.summary.naiveTurnover)}`);
    expect(text).toContain(`turnover:            ${formatMoney(plan.summary.turnover)}`);
    expect(plan.summary.naiveTurnover.gt(plan.summary.turnover)).toBe(true);
  });

  it("the hash changes with what would be sent and not with anything else", async () => {
    const { clock, rebalancer, broker } = setup();
    const a = await clock.run(rebalancer.plan({ weights: { FNGU: 0.5, TECL: 0.5 } }));
    const b = await clock.run(rebalancer.plan({ weights: { FNGU: 0.5, TECL: 0.5 } }));
    expect(planHash(b)).toBe(planHash(a));
    const c = await clock.run(rebalancer.plan({ weights: { FNGU: 0.4, TECL: 0.6 } }));
    expect(planHash(c)).not.toBe(planHash(a));
    broker.setPrice("FNGU", "40");
    const d = await clock.run(rebalancer.plan({ weights: { FNGU: 0.5, TECL: 0.5 } }));
    expect(planHash(d)).not.toBe(planHash(a));
  });

  it("says when there is nothing to do", async () => {
    const { clock, rebalancer } = setup();
    const plan = await clock.run(rebalancer.plan({ quantities: { FNGU: "1591.166892" } }));
    expect(formatPlan(plan)).toContain("No orders: the portfolio is on target.");
  });
});

describe("formatReport", () => {
  it("shows every order, the status and the metrics", async () => {
    const { clock, rebalancer } = setup();
    const report = await clock.run(
      rebalancer.rebalance({ weights: { FNGU: 0.5, TECL: 0.5 } }, { runId: "fmt-1" }),
    );
    const text = formatReport(report);
    expect(text.split("\n")[0]).toBe(`Rebalance fmt-1: ${report.status}`);
    for (const o of report.orders) {
      expect(text).toMatch(new RegExp(`^${o.symbol}\\s+${o.side}\\s.*\\s${o.state}\\s+${o.attempts}$`, "m"));
      expect(text).toContain(formatMoney(o.filledNotional));
    }
    expect(text).toContain(`turnover:            ${formatMoney(report.metrics.turnover)}`);
    expect(text).toContain(`saved:               ${formatMoney(report.metrics.savedTurnover)}`);
    expect(text).toContain(`REST calls: ${report.metrics.restCalls}`);
  });

  it("names the error of a failed run", async () => {
    const { clock, rebalancer, broker } = setup();
    broker.setMarketOpen(false);
    const report = await clock.run(rebalancer.rebalance({ weights: { TECL: 1 } }, { runId: "fmt-2" }));
    expect(report.status).toBe("failed");
    const text = formatReport(report);
    expect(text).toContain("Rebalance fmt-2: failed");
    expect(text).toContain("error: market_closed: ");
    expect(text).toContain("No orders.");
  });
});
