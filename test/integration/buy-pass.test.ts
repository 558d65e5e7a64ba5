// The second buy pass: when cash limits the buys, a quantity market buy holds
// `marketBuyBuffer` more than it spends until it fills; one bounded pass invests what the
// holds freed, on a settled re-read, and leaves nothing for the next run to buy.

import { type BrokerPort, type RebalanceReport, SmartRebalancer } from "ordersafe";
import { createSimulatedBroker, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

const TARGETS = { weights: { AAA: 0.2, BBB: 0.4, CCC: 0.4 } };

function setup(options: { fractionable?: boolean; cash?: number } = {}) {
  const clock = new VirtualClock();
  const whole = options.fractionable === true ? {} : { fractionable: false };
  const sim = createSimulatedBroker({
    clock,
    seed: 4,
    cash: options.cash ?? 10_000,
    positions: { AAA: 20 },
    prices: { AAA: 100, BBB: "37.3", CCC: "12.9" },
    assets: { AAA: whole, BBB: whole, CCC: whole },
    latency: { restMs: 20, fillMs: 100 },
  });
  return { clock, sim };
}

async function run(clock: VirtualClock, broker: BrokerPort, secondBuyPass?: boolean, targets = TARGETS) {
  const rebalancer = new SmartRebalancer({
    broker,
    clock,
    ...(secondBuyPass === undefined ? {} : { secondBuyPass }),
  });
  const phases: string[] = [];
  rebalancer.on("phase", (e) => phases.push(e.phase));
  const report = await clock.run(rebalancer.rebalance(targets));
  return { rebalancer, report, phases };
}

const cashOf = (sim: ReturnType<typeof createSimulatedBroker>) => sim.truth().cash;
const buys = (r: RebalanceReport) => r.orders.filter((o) => o.side === "buy");

describe("the second buy pass", () => {
  it("invests what the market-buy holds freed, never over-reserving, and a second run plans nothing", async () => {
    const off = setup();
    const without = await run(off.clock, off.sim, false);
    expect(without.report.buyPass).toMatchObject({ ran: false, reason: "off" });
    expect(without.phases).not.toContain("buy_pass");
    const idle = cashOf(off.sim);

    const { clock, sim } = setup();
    const { rebalancer, report, phases } = await run(clock, sim);
    expect(report.status).toBe("completed");
    const pass = report.buyPass;
    expect(pass?.ran).toBe(true);
    expect(pass?.reason).toBe("ran");
    expect(pass?.orders).toBeGreaterThan(0);
    expect(pass?.filledNotional.gt(0)).toBe(true);
    expect(pass?.filledNotional.lte(pass.freed)).toBe(true);
    expect(phases.slice(phases.indexOf("buys"))).toEqual(["buys", "buy_pass", "reconcile", "done"]);
    // It bought with the freed cash: less idle than without the pass, and the pass's orders are
    // the report's last buys (a second generation of client order ids).
    expect(cashOf(sim).lt(idle)).toBe(true);
    expect(idle.minus(cashOf(sim)).toFixed(2)).toBe(pass?.filledNotional.toFixed(2));
    expect(
      buys(report)
        .slice(-(pass?.orders ?? 0))
        .every((o) => o.clientOrderId.includes("-b1-")),
    ).toBe(true);
    // Never over-reserved: nothing refused for buying power, every order filled, no negative cash.
    expect(report.metrics.buyingPowerRejections).toBe(0);
    expect(report.orders.every((o) => o.state === "filled")).toBe(true);
    expect(cashOf(sim).gte(0)).toBe(true);
    // No round trip: the next run plans nothing.
    const again = await clock.run(rebalancer.rebalance(TARGETS));
    expect(again.metrics.ordersSubmitted).toBe(0);
    expect(again.plan?.legs).toEqual([]);
    // Without the pass the next run buys what the holds left idle.
    const catchUp = await off.clock.run(without.rebalancer.rebalance(TARGETS));
    expect(catchUp.metrics.ordersSubmitted).toBeGreaterThan(0);
  });

  it("does not run, nor read again, when the buys were not short for cash", async () => {
    // Half the equity in the targets: cash to spare.
    const half = { weights: { AAA: 0.1, BBB: 0.2, CCC: 0.2 } };
    const { clock, sim } = setup();
    const r = await run(clock, sim, true, half);
    expect(buys(r.report).length).toBeGreaterThan(0);
    expect(r.report.buyPass).toMatchObject({ ran: false, reason: "not_short", orders: 0 });
    expect(r.phases).not.toContain("buy_pass");
    const other = setup();
    await run(other.clock, other.sim, false, half);
    expect(sim.calls.getAccount).toBe(other.sim.calls.getAccount);
  });

  it("does not run when the buys reserved what they spent (notional buys hold no extra)", async () => {
    const { clock, sim } = setup({ fractionable: true });
    const r = await run(clock, sim);
    expect(buys(r.report).every((o) => o.requestedNotional !== undefined)).toBe(true);
    expect(r.report.buyPass?.ran).toBe(false);
    expect(r.report.buyPass?.reason).toBe("nothing_freed");
    expect(r.phases).not.toContain("buy_pass");
  });

  it("is absent from a run without buys", async () => {
    const { clock, sim } = setup();
    const rebalancer = new SmartRebalancer({ broker: sim, clock });
    const report = await clock.run(rebalancer.rebalance({ weights: { AAA: 0.1 } }));
    expect(buys(report)).toEqual([]);
    expect(report.buyPass).toBeUndefined();
  });
});
