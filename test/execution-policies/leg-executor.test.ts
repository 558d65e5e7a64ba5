import {
  type BrokerPort,
  checkBroker,
  Decimal,
  executeLeg,
  isValidationError,
  type LegFunds,
  parseExecutionPolicy,
} from "ordersafe";
import { createSimulatedBroker, type SimulatedBrokerOptions, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";

// executeLeg on the simulated broker's quote model: each policy, the spread gate, no quote,
// a lost replace reply, a broker without replace, and the holds that follow each step.

function setup(extra: SimulatedBrokerOptions = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 1_000_000,
    prices: { SPY: 100 },
    positions: { SPY: 100 },
    quotes: { spreadBps: 20, passiveFillProbability: 0.5 },
    ...extra,
  });
  return { clock, broker };
}

/** A ledger of holds: what is held now, and the largest total ever held. */
function ledger(): LegFunds & { held: Map<string, Decimal>; peak: Decimal } {
  const held = new Map<string, Decimal>();
  const funds = {
    held,
    peak: new Decimal(0),
    reserve(key: string, amount: Decimal) {
      held.set(key, amount);
      const total = [...held.values()].reduce((s, x) => s.plus(x), new Decimal(0));
      if (total.gt(funds.peak)) funds.peak = total;
      return true;
    },
    release(key: string) {
      held.delete(key);
    },
  };
  return funds;
}

const buy = (qty: number) => ({ symbol: "SPY", side: "buy" as const, qty: new Decimal(qty) });

describe("executeLeg", () => {
  it("market: fills at the ask, half the spread of slippage, holds price × 1.03 while it works", async () => {
    const { clock, broker } = setup();
    const funds = ledger();
    const r = await clock.run(executeLeg(buy(10), { type: "market" }, { broker, clock, runId: "r1", funds }));
    expect(r.state).toBe("filled");
    expect(r.avgPrice?.toString()).toBe("100.1");
    expect(r.arrivalMid?.toString()).toBe("100");
    expect(r.slippageBps).toBeCloseTo(10, 6);
    expect(r.slippageDollars.toString()).toBe("1");
    expect(r.orders.map((o) => o.type)).toEqual(["market"]);
    expect(funds.peak.toString()).toBe("1031.03");
    expect(funds.held.size).toBe(0);
  });

  it("marketable_limit: a limit at the ask plus the collar, filled at the ask", async () => {
    const { clock, broker } = setup();
    const funds = ledger();
    const r = await clock.run(
      executeLeg(buy(10), { type: "marketable_limit", collarBps: 10 }, { broker, clock, runId: "r2", funds }),
    );
    expect(r.state).toBe("filled");
    expect(r.orders[0]?.limitPrice?.toString()).toBe("100.2");
    expect(r.avgPrice?.toString()).toBe("100.1");
    // The hold is limit × qty, not the 3% market hold.
    expect(funds.peak.toString()).toBe("1002");
    expect(funds.held.size).toBe(0);
  });

  it("stepped_limit: starts at the mid and steps by replace, each order a new generation", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 20, passiveFillProbability: 0 } });
    const r = await clock.run(
      executeLeg(
        buy(10),
        { type: "stepped_limit", steps: 3, stepMs: 2_000, finalAction: "cancel" },
        { broker, clock, runId: "r3", generation: 4 },
      ),
    );
    // Mid 100, ask 100.1: 100, 100.05, then the ask fills.
    expect(r.orders.map((o) => o.limitPrice?.toString())).toEqual(["100", "100.05", "100.1"]);
    expect(r.orders.map((o) => o.status)).toEqual(["replaced", "replaced", "filled"]);
    expect(r.orders.map((o) => o.via)).toEqual(["submit", "replace", "replace"]);
    expect(r.orders.map((o) => o.clientOrderId.match(/-b(\w+)-/)?.[1])).toEqual(["4", "5", "6"]);
    expect([r.state, r.steps, r.filledQty.toString()]).toEqual(["filled", 3, "10"]);
  });

  it("stepped_limit with passive fills: better than the far touch on average", async () => {
    let slippage = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const { clock, broker } = setup({
        seed,
        quotes: { spreadBps: 20, volatilityBps: 2, passiveFillProbability: 0.5 },
      });
      const r = await clock.run(executeLeg(buy(5), "patient", { broker, clock, runId: `p${seed}` }));
      expect(r.state).toBe("filled");
      slippage += r.slippageBps;
    }
    expect(slippage / 10).toBeLessThan(8);
  });

  it("finalAction hold leaves the last limit working (held, its hold kept); cancel ends it canceled", async () => {
    const quiet = { quotes: { spreadBps: 20, passiveFillProbability: 0 } };
    const a = setup(quiet);
    const funds = ledger();
    const far = {
      type: "stepped_limit",
      steps: 2,
      stepMs: 1_000,
      startAt: "near",
      maxSlippageBps: 1,
      finalAction: "hold",
    };
    const held = await a.clock.run(
      executeLeg(buy(3), far, { broker: a.broker, clock: a.clock, runId: "h", funds }),
    );
    expect(held.state).toBe("held");
    expect((await a.broker.listOpenOrders()).length).toBe(1);
    expect(funds.held.size).toBe(1);
    const b = setup(quiet);
    const canceled = await b.clock.run(
      executeLeg(buy(3), { ...far, finalAction: "cancel" }, { broker: b.broker, clock: b.clock, runId: "c" }),
    );
    expect([canceled.state, canceled.filledQty.toString()]).toEqual(["canceled", "0"]);
    expect((await b.broker.listOpenOrders()).length).toBe(0);
  });

  it("the slippage cap: no limit beyond arrival mid ± cap, a market fallback becomes a limit at the cap", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 40, passiveFillProbability: 0 } });
    const r = await clock.run(
      executeLeg(
        buy(2),
        { type: "stepped_limit", steps: 2, stepMs: 1_000, maxSlippageBps: 5, finalAction: "market" },
        {
          broker,
          clock,
          runId: "cap",
        },
      ),
    );
    // Mid 100, cap 100.05: never above it; the ask (100.2) is out of reach, so nothing fills.
    expect(r.orders.every((o) => o.limitPrice?.lte("100.05") === true)).toBe(true);
    expect(r.orders.at(-1)?.type).toBe("limit");
    expect(r.filledQty.toString()).toBe("0");
  });

  it("without a usable quote: skip, wait then skip, or a market order, each reported", async () => {
    const none = { quotes: { missingProbability: 1 } };
    const s = setup(none);
    const skipped = await s.clock.run(
      executeLeg(
        buy(1),
        { type: "marketable_limit", onNoQuote: "skip" },
        { broker: s.broker, clock: s.clock, runId: "q1" },
      ),
    );
    expect([skipped.state, skipped.orders.length]).toEqual(["skipped", 0]);
    expect(skipped.notes.join()).toMatch(/no usable quote \(missing\): skipped/);
    const w = setup(none);
    const t0 = w.clock.now();
    const waited = await w.clock.run(
      executeLeg(
        buy(1),
        { type: "marketable_limit", quoteWaitMs: 3_000 },
        { broker: w.broker, clock: w.clock, runId: "q2" },
      ),
    );
    expect(waited.state).toBe("skipped");
    expect(w.clock.now() - t0).toBeGreaterThanOrEqual(3_000);
    const m = setup(none);
    const market = await m.clock.run(
      executeLeg(
        buy(1),
        { type: "stepped_limit", onNoQuote: "market" },
        { broker: m.broker, clock: m.clock, runId: "q3" },
      ),
    );
    expect([market.state, market.orders[0]?.type]).toEqual(["filled", "market"]);
    expect(market.notes.join()).toMatch(/sent as a market order/);
    const crossed = setup({ quotes: { crossedProbability: 1 } });
    const c = await crossed.clock.run(
      executeLeg(
        buy(1),
        { type: "marketable_limit", onNoQuote: "skip" },
        {
          broker: crossed.broker,
          clock: crossed.clock,
          runId: "q4",
        },
      ),
    );
    expect(c.notes.join()).toMatch(/crossed/);
  });

  it("the spread gate: skip above maxSpreadBps", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 80 } });
    const r = await clock.run(
      executeLeg(
        buy(1),
        { type: "marketable_limit", maxSpreadBps: 50, spreadAction: "skip" },
        { broker, clock, runId: "g" },
      ),
    );
    expect([r.state, r.orders.length]).toEqual(["skipped", 0]);
    expect(r.notes.join()).toMatch(/spread above 50 bps/);
  });

  it("a replace whose reply is lost is settled from the chain: one new order, no duplicate", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 20, passiveFillProbability: 0 } });
    broker.script({ kind: "ambiguous", method: "replaceOrder" });
    const r = await clock.run(
      executeLeg(
        buy(4),
        { type: "stepped_limit", steps: 3, stepMs: 1_000, finalAction: "cancel" },
        {
          broker,
          clock,
          runId: "amb",
        },
      ),
    );
    expect(r.state).toBe("filled");
    expect(r.orders.map((o) => o.status)).toEqual(["replaced", "replaced", "filled"]);
    expect(broker.truth().positions.get("SPY")?.toString()).toBe("104");
    expect(broker.orders().filter((o) => o.status !== "replaced" && o.status !== "filled")).toEqual([]);
  });

  it("a fill racing the replace: the replace is refused, the fill counts, nothing more is sent", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 20, passiveFillProbability: 0 } });
    broker.script({ kind: "fill_before_replace" });
    const r = await clock.run(
      executeLeg(
        buy(4),
        { type: "stepped_limit", steps: 3, stepMs: 1_000 },
        { broker, clock, runId: "race" },
      ),
    );
    expect([r.state, r.filledQty.toString(), r.orders.length]).toEqual(["filled", "4", 1]);
  });

  it("a broker without replace: cancel, confirm, then the rest under the next generation", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 20, passiveFillProbability: 0 } });
    const checked = checkBroker(broker);
    const noReplace: BrokerPort = Object.assign({}, checked, {
      capabilities: { ...broker.capabilities, replace: false },
    });
    Reflect.deleteProperty(noReplace, "replaceOrder");
    const r = await clock.run(
      executeLeg(
        buy(4),
        { type: "stepped_limit", steps: 3, stepMs: 2_000 },
        { broker: noReplace, clock, runId: "nr" },
      ),
    );
    expect(r.orders.map((o) => [o.status, o.via])).toEqual([
      ["canceled", "submit"],
      ["canceled", "submit"],
      ["filled", "submit"],
    ]);
    expect(broker.calls.replaceOrder).toBe(0);
    expect(r.state).toBe("filled");
  });

  it("skips a leg while an opposite-side order is open (the wash-trade guard)", async () => {
    const { clock, broker } = setup({ quotes: { spreadBps: 20, passiveFillProbability: 0 } });
    await broker.submitOrder({
      clientOrderId: "other-sell",
      symbol: "SPY",
      side: "sell",
      type: "limit",
      timeInForce: "day",
      qty: new Decimal(1),
      limitPrice: new Decimal(200),
    });
    const r = await clock.run(executeLeg(buy(1), "marketable", { broker, clock, runId: "w" }));
    expect([r.state, r.orders.length]).toEqual(["skipped", 0]);
    expect(r.notes.join()).toMatch(/wash trade/);
  });

  it("refuses bad policies and market orders in extended hours", () => {
    for (const bad of [
      { type: "twap" },
      { type: "stepped_limit", steps: 0 },
      { type: "marketable_limit", collarBps: -1 },
      { type: "market", extendedHours: true },
      { type: "stepped_limit", extendedHours: true },
      { type: "stepped_limit", extendedHours: true, finalAction: "cancel", onNoQuote: "market" },
      "aggressive",
    ]) {
      let error: unknown;
      try {
        parseExecutionPolicy(bad);
      } catch (e) {
        error = e;
      }
      expect(isValidationError(error), JSON.stringify(bad)).toBe(true);
    }
    expect(
      parseExecutionPolicy({
        type: "stepped_limit",
        extendedHours: true,
        finalAction: "hold",
        onNoQuote: "skip",
      }).type,
    ).toBe("stepped_limit");
  });
});
