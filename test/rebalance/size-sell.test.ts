import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SellSizing, sizeSell } from "../../src/rebalance/size-sell.js";

// Shares at scale Q = 9 (1n is 1e-9 share), prices at P = 2, dollars at M = 11.
const SHARE = 1_000_000_000n;
const NANO = 1n;
const DOLLAR_M = 100_000_000_000n;

function sizing(over: Partial<SellSizing> = {}): SellSizing {
  return {
    price: 1000n, // $10
    held: 100n * SHARE,
    available: 100n * SHARE,
    projected: 100n * SHARE,
    target: 60n * SHARE,
    increment: SHARE,
    minNotional: DOLLAR_M,
    isExit: false,
    closePositionAllowed: true,
    nano: NANO,
    ...over,
  };
}

describe("sizeSell", () => {
  it("trims by the delta, on the increment", () => {
    expect(sizeSell(sizing())).toEqual({ kind: "order", qty: 40n * SHARE, action: "trim" });
    expect(sizeSell(sizing({ target: 60n * SHARE + SHARE / 2n }))).toEqual({
      kind: "order",
      qty: 39n * SHARE,
      action: "trim",
    });
  });

  it("caps a trim at the shares available, rounded down to the increment", () => {
    const capped = sizeSell(sizing({ available: 30n * SHARE + SHARE / 2n }));
    expect(capped).toEqual({ kind: "order", qty: 30n * SHARE, action: "trim" });
  });

  it("says why there is no trim (a quantity within a millionth of an increment counts as one)", () => {
    expect(sizeSell(sizing({ target: 99n * SHARE + 1n }))).toEqual({
      kind: "order",
      qty: SHARE,
      action: "trim",
    });
    expect(sizeSell(sizing({ target: 99n * SHARE + SHARE / 2n }))).toEqual({
      kind: "none",
      detail: "less than one increment",
    });
    expect(sizeSell(sizing({ price: 1n }))).toEqual({
      kind: "none",
      detail: "below the minimum order notional",
    });
  });

  it("exits with exactly what is not held by open sells", () => {
    const exit = sizeSell(
      sizing({ isExit: true, target: 0n, projected: 80n * SHARE, available: 80n * SHARE }),
    );
    expect(exit).toEqual({ kind: "order", qty: 80n * SHARE, action: "exit" });
  });

  it("closes a position whose quantity cannot be an order, when closePosition is allowed", () => {
    // 0.5 share of a whole-share asset: not an order, but closePosition sells it.
    const dust = { isExit: true, target: 0n, held: SHARE / 2n, available: SHARE / 2n, projected: SHARE / 2n };
    expect(sizeSell(sizing(dust))).toEqual({ kind: "close", qty: SHARE / 2n });
    expect(sizeSell(sizing({ ...dust, closePositionAllowed: false }))).toEqual({
      kind: "none",
      detail: "the position is dust that cannot be an order and closePosition is unavailable",
    });
  });

  it("without closePosition, sells the part that can be an order and leaves the dust", () => {
    const held = 10n * SHARE + SHARE / 2n;
    const s = sizing({
      isExit: true,
      target: 0n,
      held,
      available: held,
      projected: held,
      closePositionAllowed: false,
    });
    expect(sizeSell(s)).toEqual({ kind: "order", qty: 10n * SHARE, action: "trim" });
  });

  it("property: a sell is positive, within the available shares and at least the minimum; a close is the whole holding", () => {
    const arb = fc.record({
      held: fc.bigInt({ min: 1n, max: 1000n * SHARE }),
      availableShare: fc.integer({ min: 0, max: 10 }),
      openSellShare: fc.integer({ min: 0, max: 10 }),
      targetShare: fc.integer({ min: 0, max: 12 }),
      increment: fc.constantFrom(NANO, 1000n, SHARE, 5n * SHARE),
      price: fc.bigInt({ min: 1n, max: 1_000_000n }),
      minNotional: fc.constantFrom(0n, DOLLAR_M, 5n * DOLLAR_M),
      isExit: fc.boolean(),
      closePositionAllowed: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const available = (a.held * BigInt(a.availableShare)) / 10n;
        const projected = a.held - (a.held * BigInt(a.openSellShare)) / 10n;
        const target = a.isExit ? 0n : (a.held * BigInt(a.targetShare)) / 10n;
        const s = sizing({ ...a, available, projected, target });
        const size = sizeSell(s);
        if (size.kind === "none") return;
        expect(size.qty).toBeGreaterThan(0n);
        if (size.kind === "close") {
          expect(s.closePositionAllowed && s.isExit && size.qty === s.held).toBe(true);
          return;
        }
        expect(size.qty).toBeLessThanOrEqual(available);
        expect(size.qty * s.price).toBeGreaterThanOrEqual(s.minNotional);
        // On the increment, unless capped at what there is (never rounded above it).
        const whole = projected < available ? projected : available;
        expect(size.qty % s.increment === 0n || size.qty === available || size.qty === whole).toBe(true);
        // A trim is rounded to the nearest increment: it passes the target by at most half of one
        // (and by nothing when less than half of one is left over).
        if (!s.isExit) expect((size.qty - (projected - target)) * 2n).toBeLessThanOrEqual(s.increment);
      }),
      { numRuns: 1000 },
    );
  });
});
