import fc from "fast-check";
import { Decimal } from "ordersafe";
import { describe, expect, it } from "vitest";
import {
  accountIn,
  positionIn,
  positionsIn,
  StateHistory,
  type StateRecord,
} from "../../../src/testing/simulated-broker/state-history.js";

function state(at: number, over: Partial<StateRecord> = {}): StateRecord {
  return {
    at,
    cash: new Decimal(1000),
    positions: new Map(),
    sellHeld: new Map(),
    buyHold: new Decimal(0),
    prices: new Map(),
    ...over,
  };
}

describe("StateHistory", () => {
  it("answers as of a time: the newest record at or before it, else the oldest kept", () => {
    const h = new StateHistory(state(100));
    h.capture(state(200));
    h.capture(state(300));
    expect(h.asOf(250).at).toBe(200);
    expect(h.asOf(300).at).toBe(300);
    expect(h.asOf(50).at).toBe(100);
    expect(h.latest().at).toBe(300);
  });

  it("keeps one record per ms: the later", () => {
    const h = new StateHistory(state(100));
    const later = state(100, { cash: new Decimal(5) });
    h.capture(later);
    expect(h.latest()).toBe(later);
    expect(h.asOf(100)).toBe(later);
  });

  it("drops the oldest half past 10,000 records", () => {
    const h = new StateHistory(state(0));
    for (let t = 1; t <= 10_000; t++) h.capture(state(t));
    // 10,001 records made it drop 0..4999
    expect(h.asOf(-1).at).toBe(5000);
    expect(h.latest().at).toBe(10_000);
  });

  it("asOf agrees with a plain search (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 }),
        fc.integer({ min: -10, max: 2000 }),
        (steps, cutoff) => {
          let t = 0;
          const all = [state(0)];
          const h = new StateHistory(all[0] as StateRecord);
          for (const d of steps) {
            t += d;
            const r = state(t);
            h.capture(r);
            if (all[all.length - 1]?.at === t) all[all.length - 1] = r;
            else all.push(r);
          }
          const atOrBefore = all.filter((r) => r.at <= cutoff);
          expect(h.asOf(cutoff)).toBe(atOrBefore[atOrBefore.length - 1] ?? all[0]);
        },
      ),
    );
  });
});

describe("reads from a state record", () => {
  const s = state(0, {
    cash: new Decimal(500),
    buyHold: new Decimal(800),
    positions: new Map([
      ["BBB", { qty: new Decimal(3), avgEntryPrice: new Decimal(10) }],
      ["AAA", { qty: new Decimal(2), avgEntryPrice: new Decimal(20) }],
    ]),
    sellHeld: new Map([["BBB", new Decimal(5)]]),
    prices: new Map([["BBB", new Decimal(12)]]),
  });

  it("account: buying power is cash less buy holds, never below 0; equity prices positions (at cost unpriced)", () => {
    const a = accountIn(s, new Date(7));
    expect(a.buyingPower.toString()).toBe("0");
    expect(a.nonMarginableBuyingPower?.toString()).toBe("0");
    expect(a.equity.toString()).toBe(String(500 + 3 * 12 + 2 * 20));
    expect(a.asOf.getTime()).toBe(7);
  });

  it("positions: sorted, qtyAvailable never below 0 nor above qty, prices only where known", () => {
    const [aaa, bbb] = positionsIn(s);
    expect(aaa?.symbol).toBe("AAA");
    expect(aaa?.qtyAvailable.toString()).toBe("2");
    expect(aaa?.currentPrice).toBeUndefined();
    expect(bbb?.qtyAvailable.toString()).toBe("0");
    expect(bbb?.marketValue?.toString()).toBe("36");
    expect(positionIn(s, "CCC")).toBeNull();
  });
});
