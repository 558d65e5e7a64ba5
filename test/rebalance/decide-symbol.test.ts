import fc from "fast-check";
import { Decimal, type RebalanceInputInput } from "ordersafe";
import { describe, expect, it } from "vitest";
import { decideSymbol, isUntradeable, type SymbolDecision } from "../../src/rebalance/decide-symbol.js";
import { parseRebalanceInput } from "../../src/rebalance/parse-rebalance-input.js";
import { createPlanContext, type PlanContext } from "../../src/rebalance/plan-context.js";
import { baseInput, fractional, openOrder, position, wholeShares } from "./fixtures.js";

function contextOf(input: RebalanceInputInput): PlanContext {
  return createPlanContext(parseRebalanceInput(input), false);
}

function decide(input: RebalanceInputInput, symbol: string): { decision: SymbolDecision; ctx: PlanContext } {
  const ctx = contextOf(input);
  const record = ctx.records.find((r) => r.symbol === symbol);
  if (record === undefined) throw new Error(`no record for ${symbol}`);
  return { decision: decideSymbol(record, ctx), ctx };
}

function skipOf(input: RebalanceInputInput, symbol: string) {
  const { decision, ctx } = decide(input, symbol);
  if (decision.kind !== "skip") throw new Error(`expected a skip, got ${decision.kind}`);
  const { reason, detail, side } = decision;
  const delta = decision.delta === undefined ? undefined : ctx.scales.fromQ(decision.delta).toString();
  return { reason, detail, side, delta };
}

describe("decideSymbol: left alone", () => {
  it("keeps a symbol listed in options.keep, and an untargeted one under untargeted: keep", () => {
    expect(skipOf(baseInput({ options: { keep: ["AAA"] } }), "AAA")).toEqual({
      reason: "kept",
      detail: "listed in options.keep",
      side: undefined,
      delta: undefined,
    });
    const untargeted = baseInput({ targets: { weights: { BBB: 0.4 } }, options: { untargeted: "keep" } });
    expect(skipOf(untargeted, "AAA").detail).toBe("not in the targets and options.untargeted is keep");
  });

  it("leaves a short alone", () => {
    const input = baseInput({ positions: [position("AAA", "-5")] });
    expect(skipOf(input, "AAA").reason).toBe("short_position");
  });

  it("skips a symbol that must trade but has no price, and ignores one already at its target", () => {
    const unpriced = baseInput({ prices: { AAA: "10" } });
    expect(skipOf(unpriced, "BBB")).toMatchObject({ reason: "no_price", side: undefined });
    const atTarget = baseInput({
      targets: { quantities: { AAA: "100", BBB: "0" } },
      prices: { AAA: "10" },
    });
    expect(decide(atTarget, "BBB").decision).toEqual({ kind: "none", deltaNotional: 0n });
  });

  it("has nothing to do at the target", () => {
    const input = baseInput({ targets: { quantities: { AAA: "100" } } });
    expect(decide(input, "AAA").decision.kind).toBe("none");
  });

  it("skips a move open orders already cover", () => {
    const input = baseInput({
      targets: { quantities: { AAA: "120" } },
      openOrders: [openOrder("b", "AAA", "buy", "30")],
    });
    expect(skipOf(input, "AAA")).toEqual({
      reason: "covered_by_open_orders",
      detail: "open orders already reach or pass the target",
      side: "sell",
      delta: "-10",
    });
  });
});

describe("decideSymbol: the asset, the band and the sides", () => {
  it("skips a symbol without asset rules, or not tradable", () => {
    expect(skipOf(baseInput({ assets: [fractional("AAA")] }), "BBB")).toMatchObject({
      reason: "no_asset_rules",
      side: "buy",
      delta: "40",
    });
    const halted = { ...fractional("BBB"), tradable: false };
    expect(skipOf(baseInput({ assets: [fractional("AAA"), halted] }), "BBB").reason).toBe("not_tradable");
  });

  it("skips a move inside the no-trade band, but never a full exit", () => {
    const band = { noTradeBand: { notional: "100" } };
    const small = baseInput({ targets: { quantities: { AAA: "95" } }, options: band });
    expect(skipOf(small, "AAA")).toMatchObject({ reason: "within_band", side: "sell", delta: "-5" });
    const exit = baseInput({
      positions: [position("AAA", "5")],
      targets: { weights: { BBB: 0.4 } },
      options: band,
    });
    expect(decide(exit, "AAA").decision.kind).toBe("sell");
  });

  it("skips the side options.sides leaves out", () => {
    expect(skipOf(baseInput({ options: { sides: "sells" } }), "BBB")).toMatchObject({
      reason: "side_excluded",
      detail: "options.sides is sells",
      side: "buy",
    });
  });
});

describe("decideSymbol: legs", () => {
  it("sizes a sell toward the target and marks a full exit", () => {
    const trim = decide(baseInput({ targets: { weights: { AAA: 0.3 } } }), "AAA");
    expect(trim.decision.kind).toBe("sell");
    if (trim.decision.kind !== "sell") return;
    expect(trim.decision.size).toEqual({
      kind: "order",
      qty: trim.ctx.scales.toQ(new Decimal(40)),
      action: "trim",
    });
    expect(trim.decision.isExit).toBe(false);
    expect(trim.decision.aim.reason).toBe("to_target");
    const exit = decide(baseInput({ targets: { weights: { BBB: 0.4 } } }), "AAA").decision;
    expect(exit.kind === "sell" && exit.isExit && exit.aim.reason === "untargeted").toBe(true);
  });

  it("skips a sell below the minimum with the sizing's reason", () => {
    const input = baseInput({ targets: { quantities: { AAA: "99.95" } } });
    expect(skipOf(input, "AAA")).toMatchObject({
      reason: "below_minimum",
      detail: "below the minimum order notional",
    });
  });

  it("wants a buy in units, notional where it can be", () => {
    const { decision, ctx } = decide(baseInput(), "BBB");
    expect(decision.kind).toBe("buy");
    if (decision.kind !== "buy") return;
    expect(decision.size.notional).toBe(true);
    expect(decision.size.needUnits).toBe(80_000n); // $800 in cents
    expect(decision.deltaNotional).toBe(ctx.scales.toM(new Decimal(800)));
    const whole = decide(baseInput({ assets: [fractional("AAA"), wholeShares("BBB")] }), "BBB").decision;
    expect(whole.kind === "buy" && !whole.size.notional && whole.size.needUnits === 40n).toBe(true);
  });

  it("skips a buy under one increment or the minimum", () => {
    const input = baseInput({
      targets: { quantities: { AAA: "100", BBB: "0.5" } },
      assets: [fractional("AAA"), wholeShares("BBB")],
    });
    expect(skipOf(input, "BBB")).toMatchObject({
      reason: "below_minimum",
      detail: "less than one increment",
    });
    const small = baseInput({ targets: { notionals: { AAA: "1000", BBB: "0.5" } } });
    expect(skipOf(small, "BBB")).toMatchObject({
      reason: "below_minimum",
      detail: "below the minimum order notional",
    });
  });

  it("property: a leg goes the way of its delta, and its part of the minimal turnover is |delta| × price", () => {
    const arb = fc.record({
      held: fc.integer({ min: 0, max: 500 }),
      target: fc.integer({ min: 0, max: 500 }),
      openBuy: fc.integer({ min: 0, max: 50 }),
      openSell: fc.integer({ min: 0, max: 50 }),
      price: fc.integer({ min: 1, max: 5000 }),
      whole: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const openOrders = [];
        if (a.openBuy > 0) openOrders.push(openOrder("b", "AAA", "buy", String(a.openBuy)));
        if (a.openSell > 0 && a.held >= a.openSell)
          openOrders.push(openOrder("s", "AAA", "sell", String(a.openSell)));
        const sold = openOrders.some((o) => o.side === "sell") ? a.openSell : 0;
        const input = baseInput({
          positions: a.held > 0 ? [position("AAA", String(a.held), String(a.held - sold))] : [],
          openOrders,
          targets: { quantities: { AAA: String(a.target) } },
          prices: { AAA: (a.price / 100).toFixed(2) },
          assets: [a.whole ? wholeShares("AAA") : fractional("AAA")],
          account: { equity: "1000000", cash: "1000000" },
        });
        const { decision, ctx } = decide(input, "AAA");
        if (decision.kind === "sell" || decision.kind === "buy") {
          const { delta } = decision.aim;
          expect(decision.aim.side).toBe(decision.kind);
          expect(delta < 0n ? "sell" : "buy").toBe(decision.kind);
          expect(decision.deltaNotional).toBe(
            (delta < 0n ? -delta : delta) * ctx.scales.toP(new Decimal(a.price / 100)),
          );
        }
        if (decision.kind === "none") expect(decision.deltaNotional).toBe(0n);
      }),
      { numRuns: 300 },
    );
  });
});

describe("isUntradeable", () => {
  // The definition, with every step counted: the target's rounding to the increment (nearest:
  // half an increment or less rounds down; down: floored, a millionth of a step short counts
  // as the step) is zero or under the minimum (rounding down: the target itself is).
  function definition(
    target: bigint,
    increment: bigint,
    price: bigint,
    minNotional: bigint,
    nearest: boolean,
  ) {
    if (target <= 0n) return false;
    let steps = target / increment;
    const rest = target - steps * increment;
    if (rest > 0n && (increment - rest) * 1_000_000n <= increment) steps += 1n;
    else if (nearest && 2n * rest > increment) steps += 1n;
    const kept = steps * increment;
    return kept === 0n || (nearest ? kept : target) * price < minNotional || (!nearest && target < increment);
  }

  it("property: the shortcut for targets well above the minimum gives the definition's answer", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: -10n, max: 3_000n }), fc.bigInt({ min: 0n, max: 10n ** 24n })),
        fc.oneof(fc.constantFrom(1n, 1_000n, 10n ** 6n, 10n ** 15n), fc.bigInt({ min: 1n, max: 5_000n })),
        fc.bigInt({ min: 1n, max: 10n ** 8n }),
        fc.oneof(
          fc.constant(0n),
          fc.bigInt({ min: 0n, max: 10n ** 12n }),
          fc.bigInt({ min: 0n, max: 10n ** 30n }),
        ),
        fc.boolean(),
        (target, increment, price, minNotional, nearest) => {
          expect(isUntradeable(target, increment, price, minNotional, nearest)).toBe(
            definition(target, increment, price, minNotional, nearest),
          );
        },
      ),
      { numRuns: 5000 },
    );
    // Right at the shortcut's edge: (target − increment) × price = minNotional, either side.
    for (const nearest of [true, false]) {
      for (const target of [9n, 10n, 11n, 15n, 16n]) {
        for (const minNotional of [59n, 60n, 61n]) {
          expect(isUntradeable(target, 4n, 10n, minNotional, nearest)).toBe(
            definition(target, 4n, 10n, minNotional, nearest),
          );
        }
      }
    }
  });
});
