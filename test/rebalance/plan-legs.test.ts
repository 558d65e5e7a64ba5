import fc from "fast-check";
import { Decimal, type OrderConflict, type RebalanceInputInput } from "ordersafe";
import { describe, expect, it } from "vitest";
import { type BuyDecision, decideSymbol, type SellDecision } from "../../src/rebalance/decide-symbol.js";
import { parseRebalanceInput } from "../../src/rebalance/parse-rebalance-input.js";
import { createPlanContext } from "../../src/rebalance/plan-context.js";
import {
  cashBudget,
  type KeyedLeg,
  placeBuys,
  sellLeg,
  sortByNotionalDesc,
} from "../../src/rebalance/plan-legs.js";
import { baseInput, fractional, openOrder, position, wholeShares } from "./fixtures.js";

const d = (v: string | number) => new Decimal(v);

function decided(input: RebalanceInputInput) {
  const ctx = createPlanContext(parseRebalanceInput(input), false);
  const decisions = ctx.records.map((r) => decideSymbol(r, ctx));
  const sells = decisions.filter((x): x is SellDecision => x.kind === "sell");
  const buys = decisions.filter((x): x is BuyDecision => x.kind === "buy");
  return { ctx, sells, buys };
}

const text = (v: Decimal | undefined) => v?.toString();

describe("sellLeg", () => {
  it("makes the sell leg and records it on its symbol", () => {
    const { ctx, sells } = decided(
      baseInput({
        targets: { weights: { AAA: 0.3 } },
        openOrders: [openOrder("b", "AAA", "buy", "2")],
      }),
    );
    const keyed = sellLeg(sells[0]!, ctx.scales);
    const { leg } = keyed;
    expect([leg.side, leg.action, text(leg.qty), text(leg.estimatedNotional), leg.reason]).toEqual([
      "sell",
      "trim",
      "40",
      "400",
      "to_target",
    ]);
    expect([text(leg.heldQty), text(leg.projectedQty), text(leg.targetQty), leg.closePosition]).toEqual([
      "100",
      "100",
      "60",
      false,
    ]);
    expect(keyed.key).toBe(ctx.scales.toM(d(400)));
    // The open buy is a conflict to cancel first; the symbol now projects 60 shares.
    expect(keyed.conflicts?.map((c) => c.orderId)).toEqual(["b"]);
    const record = ctx.records[0]!;
    expect([record.legSide, record.projected, record.projectedQty]).toEqual([
      "sell",
      ctx.scales.toQ(d(60)),
      undefined,
    ]);
  });

  it("names a full exit within the tolerance, of an untradeable remainder, and a closePosition exit", () => {
    const near = decided(
      baseInput({ targets: { quantities: { AAA: "1" } }, options: { fullExitTolerance: "0.02" } }),
    );
    expect(sellLeg(near.sells[0]!, near.ctx.scales).leg).toMatchObject({
      action: "exit",
      reason: "exit_tolerance",
    });
    // $0.50 left would be under the $1 minimum order: it goes too.
    const remainder = decided(baseInput({ targets: { notionals: { AAA: "0.5" } } }));
    expect(sellLeg(remainder.sells[0]!, remainder.ctx.scales).leg).toMatchObject({
      action: "exit",
      reason: "exit_remainder",
    });
    const dust = decided(
      baseInput({
        positions: [position("AAA", "0.5")],
        targets: { weights: { BBB: 0.4 } },
        assets: [wholeShares("AAA"), fractional("BBB")],
      }),
    );
    expect(sellLeg(dust.sells[0]!, dust.ctx.scales).leg).toMatchObject({
      action: "exit",
      closePosition: true,
      reason: "untargeted",
    });
  });
});

describe("cashBudget and placeBuys", () => {
  it("counts cash, sells' proceeds, the buffer and the holds of open buys the plan keeps", () => {
    const input = baseInput({
      openOrders: [openOrder("b", "BBB", "buy", "5")],
      targets: { weights: { BBB: 0.4 } },
    });
    const { ctx, sells } = decided(input);
    const m = (v: string) => ctx.scales.toM(d(v));
    const c = (v: string) => m(v) * ctx.scales.mToC;
    const proceeds = sellLeg(sells[0]!, ctx.scales).key;
    const budget = cashBudget(ctx, proceeds);
    // 5 × $20 × 1.03 held by the open buy; $5 buffer (0.25% of $2,000).
    expect(budget).toEqual({
      cash: m("1000"),
      sellProceeds: m("1000"),
      buffer: m("5"),
      holds: c("103"),
      available: c("1892"),
    });
    const excluded = decided(baseInput({ ...input, options: { cashExcludesOpenBuys: true } }));
    expect(cashBudget(excluded.ctx, 0n).holds).toBe(0n);
  });

  it("never counts on more than the broker's buying power, nor than cash less the holds", () => {
    const open = [openOrder("b", "BBB", "buy", "5")];
    const targets = { weights: { BBB: 0.4 } };
    const budgetWith = (buyingPower: string) => {
      const { ctx } = decided(
        baseInput({ openOrders: open, targets, account: { equity: "2000", cash: "1000", buyingPower } }),
      );
      return { ctx, budget: cashBudget(ctx, 0n) };
    };
    // A buying power read that lags the open buy's hold: cash less the hold still bounds it.
    const stale = budgetWith("1000");
    const c = (v: string) => stale.ctx.scales.toM(d(v)) * stale.ctx.scales.mToC;
    expect(stale.budget.available).toBe(c("892")); // 1000 − 5 − 103
    // A buying power below that (margin rules, other holds) bounds it instead.
    expect(budgetWith("500").budget.available).toBe(c("495")); // 500 − 5
    // Many decimals still plan (the scales widen to fit it).
    expect(budgetWith("512.123456789012").budget.available).toBeGreaterThan(0n);
  });

  it("drops the hold of an open buy that a sell cancels", () => {
    const { ctx, sells } = decided(
      baseInput({ targets: { weights: { AAA: 0.3 } }, openOrders: [openOrder("b", "AAA", "buy", "2")] }),
    );
    expect(cashBudget(ctx, 0n).holds).toBeGreaterThan(0n);
    sellLeg(sells[0]!, ctx.scales);
    expect(cashBudget(ctx, 0n).holds).toBe(0n);
  });

  it("funds what the cash covers and reports the rest as unfunded", () => {
    const { ctx, buys } = decided(
      baseInput({
        positions: [],
        targets: { weights: { AAA: 0.5, BBB: 0.4 } },
        assets: [wholeShares("AAA"), wholeShares("BBB")],
        account: { equity: "2000", cash: "2000" },
        options: { minOrderNotional: "500" },
      }),
    );
    // $1,000 of cash for $1,854 of buys: AAA (the larger shortfall) gets 97 shares; what is
    // left cannot buy BBB's minimum of 25 shares.
    const placed = placeBuys(buys, ctx.scales.toM(d("1000")) * ctx.scales.mToC, ctx.scales);
    expect(placed.unfunded).toEqual(["BBB"]);
    expect(placed.legs.map((k) => [k.leg.symbol, text(k.leg.qty), k.leg.shrunk, k.leg.action])).toEqual([
      ["AAA", "97", true, "enter"],
    ]);
    expect(ctx.scales.fromC(placed.allocated).toString()).toBe("999.1"); // 97 × $10 × 1.03
    expect(ctx.scales.fromM(placed.value).toString()).toBe("970");
    const aaa = ctx.records.find((r) => r.symbol === "AAA")!;
    expect([aaa.legSide, ctx.scales.fromQ(aaa.projected).toString()]).toEqual(["buy", "97"]);
    expect(ctx.records.find((r) => r.symbol === "BBB")!.legSide).toBeUndefined();
  });

  it("makes a notional buy's leg in dollars, its shares estimated at 9 decimals", () => {
    const { ctx, buys } = decided(baseInput({ prices: { AAA: "10", BBB: "30" } }));
    const placed = placeBuys(buys, ctx.scales.toM(d("10000")) * ctx.scales.mToC, ctx.scales);
    const { leg } = placed.legs[0]!;
    expect([text(leg.notional), leg.qty, text(leg.estimatedQty), text(leg.cashRequired)]).toEqual([
      "800",
      undefined,
      "26.666666666",
      "800",
    ]);
  });
});

describe("sortByNotionalDesc", () => {
  it("orders legs by estimated notional, then symbol, and lists their conflicts in that order", () => {
    const conflict = (symbol: string): OrderConflict => ({
      symbol,
      orderId: symbol,
      clientOrderId: symbol,
      side: "buy",
      unfilledQty: d(1),
      reason: "opposite_side",
    });
    const keyed = (symbol: string, key: bigint, withConflict: boolean): KeyedLeg => ({
      key,
      rank: Number(key),
      ...leg(symbol),
      conflicts: withConflict ? [conflict(symbol)] : undefined,
    });
    const conflicts: OrderConflict[] = [conflict("FIRST")];
    const legs = sortByNotionalDesc(
      [keyed("CCC", 5n, true), keyed("BBB", 9n, false), keyed("AAA", 5n, true)],
      conflicts,
    );
    expect(legs.map((l) => l.symbol)).toEqual(["BBB", "AAA", "CCC"]);
    expect(conflicts.map((c) => c.symbol)).toEqual(["FIRST", "AAA", "CCC"]);
  });

  it("property: the exact order of the bigint keys, where many share one number", () => {
    // Keys past 2^53 that differ by a few units convert to the same number: the rank only
    // orders what it tells apart, the keys decide the rest.
    const big = 10n ** 27n;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            symbol: fc.constantFrom("AAA", "BBB", "CCC", "DDD", "EEE"),
            key: fc.oneof(
              fc.bigInt({ min: big - 5n, max: big + 5n }),
              fc.bigInt({ min: 0n, max: 20n }),
              fc.bigInt({ min: 0n, max: 10n ** 30n }),
            ),
          }),
          { maxLength: 30 },
        ),
        (entries) => {
          const legs = entries.map((e, i) => ({ ...leg(`${e.symbol}${i % 3}`), key: e.key }));
          const exact = [...legs].sort((a, b) =>
            a.key > b.key
              ? -1
              : a.key < b.key
                ? 1
                : a.leg.symbol < b.leg.symbol
                  ? -1
                  : a.leg.symbol > b.leg.symbol
                    ? 1
                    : 0,
          );
          const keyed: KeyedLeg[] = legs.map((l) => ({
            key: l.key,
            rank: Number(l.key),
            leg: l.leg,
            conflicts: undefined,
          }));
          const sorted = sortByNotionalDesc(keyed, []);
          expect(sorted).toEqual(exact.map((l) => l.leg));
          expect(keyed.map((k) => k.key)).toEqual(exact.map((l) => l.key));
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** A buy leg of one share at $1 for a symbol (its size does not matter to the sort). */
function leg(symbol: string): { leg: KeyedLeg["leg"] } {
  return {
    leg: {
      symbol,
      side: "buy",
      action: "enter",
      qty: d(1),
      closePosition: false,
      type: "market",
      timeInForce: "day",
      price: d(1),
      estimatedQty: d(1),
      estimatedNotional: d(1),
      cashRequired: d(1),
      reason: "to_target",
      shrunk: false,
      heldQty: d(0),
      projectedQty: d(0),
      targetQty: d(1),
    },
  };
}
