import { Decimal } from "ordersafe";
import { SIMULATED_BROKER_DEFAULTS, VirtualClock } from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { simSettings } from "../../../src/testing/simulated-broker/options.js";

describe("simSettings", () => {
  it("fills every default from SIMULATED_BROKER_DEFAULTS", () => {
    const s = simSettings({});
    const D = SIMULATED_BROKER_DEFAULTS;
    expect(s).toMatchObject({
      id: D.id,
      seed: D.seed,
      restMs: D.latency.restMs,
      fillMs: D.latency.fillMs,
      streamMs: D.latency.streamMs,
      partialProbability: 0,
      partialParts: D.partialFills.parts,
      slippageBps: D.slippageBps,
      marketOpen: D.marketOpen,
      prices: [],
      assets: [],
      positions: [],
      faults: undefined,
      readLag: {},
    });
    expect(s.cash.eq(D.cash)).toBe(true);
    expect(s.marketBuyBuffer.eq(D.marketBuyBuffer)).toBe(true);
    expect(s.clock).toBeInstanceOf(VirtualClock);
  });

  it("partial fills: true is the default probability and parts; an object fills in what it leaves out", () => {
    expect(simSettings({ partialFills: true })).toMatchObject({ partialProbability: 1, partialParts: 2 });
    expect(simSettings({ partialFills: { parts: 4 } })).toMatchObject({
      partialProbability: 1,
      partialParts: 4,
    });
    expect(simSettings({ partialFills: { probability: 0.25 } })).toMatchObject({
      partialProbability: 0.25,
      partialParts: 2,
    });
    expect(simSettings({ partialFills: false })).toMatchObject({ partialProbability: 0 });
  });

  it("keeps what is given, in the order given", () => {
    const clock = new VirtualClock();
    const s = simSettings({
      clock,
      id: "x",
      cash: "12.5",
      prices: { BBB: 2, AAA: "1.5" },
      positions: { BBB: 3 },
      latency: { fillMs: 7 },
      marketBuyBuffer: 0.05,
    });
    expect(s.clock).toBe(clock);
    expect(s.prices.map(([k, v]) => [k, v.toString()])).toEqual([
      ["BBB", "2"],
      ["AAA", "1.5"],
    ]);
    expect(s.positions).toEqual([["BBB", new Decimal(3)]]);
    expect(s).toMatchObject({ id: "x", restMs: 0, fillMs: 7 });
    expect(s.cash.toString()).toBe("12.5");
    expect(s.marketBuyBuffer.toString()).toBe("0.05");
  });

  it("refuses bad options with ValidationError", () => {
    expect(() => simSettings({ positions: { AAA: 1 } })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => simSettings({ clock: {} as never })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
    expect(() => simSettings({ faults: { unavailable: 2 } })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });
});
